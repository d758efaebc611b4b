/**
 * `/politburo apply ENV` on an OPEN pull request: applies the pull request's head before merge (docs/controller.md,
 * "Applying a pull request before merge"), only when every requirement holds, checked in this order:
 *
 * 1. the commenter has write permission (checked by the caller, controller/jobs/handlers/release.ts);
 * 2. the pull request is open, not a draft, and its head is in the same repository (never a fork);
 * 3. the environment follows the pull request's base branch and allows it: `apply_from_pull_request: true` in the
 *    policy of its LAST APPLIED commit (docs/language.md, "Apply from a pull request"), so a pull request cannot allow
 *    it for itself; a suspended environment is never applied;
 * 4. the pull request is approved: each reviewer's latest review that is not a comment counts (a dismissed one counts
 *    as none), at least one is APPROVED and none is CHANGES_REQUESTED (what GitHub's `reviewDecision` says when
 *    reviews are not required);
 * 5. it is mergeable per branch protection: GitHub's `mergeable_state` is `clean`, `has_hooks` or `unstable`
 *    (non-required checks failing); `blocked`, `behind`, `dirty`, `draft` are refused; null or `unknown` (GitHub is
 *    still computing) is answered with "comment again";
 * 6. no other apply of the environment waits in its queue (this one would take its place) or runs;
 * 7. the plan the commenter saw is still the plan: the sticky comment's plan of ENV (pr_plans) was made at the current
 *    head and the current base branch head, and planning the head again against the recorded state gives the same
 *    plan (same hash). Otherwise nothing is applied: the answer gives the new plan, and the comment is planned again.
 *
 * Every refusal is answered in the thread with its reason. When all hold, the release is recorded (releases: the head
 * commit, who, when, "pull request #N"), the check `politburo/ENV` on the head turns queued and the apply of exactly
 * the head is queued (the job's `pullRequest` says the commit is no branch head; trigger `/politburo apply ENV by
 * USER from pull request #N`).
 */
import type { ReleaseComment } from '../../../webhooks/commands.js';
import { applyCheckName, renderApplyCheck } from '../../github/render-apply-check.js';
import { pullRequestReadsOf, type PullRequestReview, type PullRequestState } from '../../pull-request-state.js';
import type { ApplyEnvironmentJob, Reporter } from '../../ports.js';
import { planEnvironment } from '../../../reconciler/plan-environment.js';
import { repositoryKey, type Repository } from '../../../kernel/repository.js';
import type { ApplyPolicy, Plan } from '../../../kernel/types.js';
import type { Logger } from '../../logger.js';
import { safely, type JobDeps } from '../job-deps.js';
import { withCommit } from '../load-commit.js';
import { planHash } from '../plan-hash.js';
import { summarizePlan } from '../queue-applies.js';
import type { DeliveryContext } from './context.js';

/** How the caller answers: `refuse` reacts -1 and answers "refused: REASON"; `answer` only answers. */
export interface Answering {
  refuse(reason: string): Promise<string>;
  answer(body: string): Promise<void>;
  react(content: 'rocket' | '-1'): Promise<void>;
}

/** Mergeable states that let a pull request be applied (module comment, 5). */
const MERGEABLE = new Set(['clean', 'has_hooks', 'unstable']);

const WHY_NOT_MERGEABLE: Record<string, string> = {
  blocked: 'its branch protection blocks the merge (required reviews or required checks missing)',
  behind: 'its head is behind the base branch (update the branch first)',
  dirty: 'it has merge conflicts',
  draft: 'it is a draft',
};

/** Applies an open pull request's head (module comment); returns the delivery's outcome. */
export async function applyPullRequest(
  deps: JobDeps,
  reporter: Reporter,
  c: ReleaseComment & { commenter: string },
  pullNumber: number,
  pr: PullRequestState,
  say: Answering,
  ctx: DeliveryContext,
): Promise<string> {
  const env = c.environment;
  const repo = c.repo;
  const command = `\`/politburo apply ${env}\``;
  const short = pr.headSha.slice(0, 7);
  if (pr.state !== 'open') return say.refuse(`pull request #${pullNumber} is closed without being merged.`);
  // 2. Never a fork's head, whoever asks: checked before anything of the head is read.
  const here = repositoryKey(repo);
  // GitHub names are case-insensitive; an unknown head repository (deleted fork) is never this one.
  if (pr.headRepository?.toLowerCase() !== here.toLowerCase())
    return say.refuse(
      `the head of pull request #${pullNumber} is in ${pr.headRepository ? `the fork ${pr.headRepository}` : 'a repository GitHub no longer knows'}, not in ${here}: a fork's pull request is never applied. Merge it, then release the merge commit.`,
    );
  if (pr.draft) return say.refuse(`pull request #${pullNumber} is a draft.`);

  // 3. The policy in force: the one of the environment's last applied commit.
  const allowed = await allowedByAppliedPolicy(deps, repo, env, ctx.log);
  if (allowed.refusal) return say.refuse(allowed.refusal);
  if (allowed.branch !== pr.baseRef)
    return say.refuse(
      `\`${env}\` follows the branch ${allowed.branch}; pull request #${pullNumber} merges into ${pr.baseRef}.`,
    );

  // 4. Approved.
  const reads = pullRequestReadsOf(reporter);
  const reviews = reads.reviews ? await reads.reviews(repo, pullNumber) : null;
  if (!reviews) return say.refuse(`GitHub did not answer with the reviews of pull request #${pullNumber}.`);
  const approval = reviewDecision(reviews);
  if (approval !== 'approved')
    return say.refuse(
      approval === 'changes-requested'
        ? `pull request #${pullNumber} has changes requested (${requested(reviews).join(', ')}); applying before merge needs an approval and no changes requested.`
        : `pull request #${pullNumber} is not approved; applying before merge needs an approval and no changes requested.`,
    );

  // 5. Mergeable per branch protection.
  if (pr.mergeableState === null || pr.mergeableState === 'unknown') {
    await say.react('-1');
    await say.answer(
      `${command} did not apply anything: GitHub is still working out whether pull request #${pullNumber} can be merged. Comment ${command} again in a moment.`,
    );
    return 'refused: mergeable state not known yet';
  }
  if (!MERGEABLE.has(pr.mergeableState))
    return say.refuse(
      `pull request #${pullNumber} cannot be merged as it is: ${WHY_NOT_MERGEABLE[pr.mergeableState] ?? `GitHub says its merge state is \`${pr.mergeableState}\``}.`,
    );

  // An apply of the environment waiting (it would be replaced) or running (it changes what the plan is against).
  const busy = await busyWith(deps, repo, env, pr.headSha);
  if (busy)
    return say.refuse(
      `${busy}; an apply of the pull request now would ${busy.includes('waiting') ? 'take its place' : 'plan against what it leaves'}. Comment ${command} again once it has finished.`,
    );

  // 6. The plan the commenter saw is still the plan.
  const base = (await deps.git.branchHead(repo, pr.baseRef)) ?? pr.baseSha;
  const current = await withCommit(deps.git, repo, pr.headSha, async (loaded) => {
    if (loaded.kind !== 'ok') return null;
    const resolved = loaded.description.environments.get(env);
    if (!resolved) return null;
    return planEnvironment(resolved, await deps.store.recordedNodes(here, env), pr.headSha);
  });
  if (!current) return say.refuse(`\`${env}\` is not validly described at ${short}, the head of #${pullNumber}.`);
  const seen = await deps.controllerStore.plannedHead(repo, pullNumber, env);
  const moved = planMoved(seen, { baseSha: base, headSha: pr.headSha, planHash: planHash(current) });
  if (moved) {
    await deps.controllerStore.rememberPullRequest(repo, pullNumber, {
      headSha: pr.headSha,
      baseSha: base,
      headRepository: pr.headRepository,
    });
    await deps.queue.enqueuePlan({
      repo,
      pullNumber,
      headSha: pr.headSha,
      baseSha: base,
      environment: env,
      live: false,
      trigger: `/politburo apply ${env} by ${c.commenter}: the plan changed (${ctx.deliveryId})`,
    });
    await say.react('-1');
    await say.answer(
      [
        `${command} did not apply anything: ${moved}, so the plan shown is not the plan any more.`,
        '',
        `The new plan of \`${env}\` at ${short}: ${summarizePlan(current.summary)}.`,
        ...changedLines(current),
        '',
        `The plan comment is being updated with it. Review it, then comment ${command} again to apply it.`,
      ].join('\n'),
    );
    return `refused: ${moved}; new plan answered`;
  }
  const counts = summarizePlan(current.summary);
  if (counts === 'no changes') {
    await say.answer(
      `\`${env}\` is already as pull request #${pullNumber} describes it at ${short}: nothing to apply.`,
    );
    return 'nothing to apply';
  }

  // Recorded (who, when, which commit) before anything runs; one apply per head, however many comments.
  await deps.controllerStore.recordPendingRelease({
    repo,
    environment: env,
    sha: pr.headSha,
    planSummary: `pull request #${pullNumber}: ${counts}`,
  });
  if (!(await deps.controllerStore.markReleased(repo, env, pr.headSha, c.commenter))) {
    const release = await deps.controllerStore.release(repo, env, pr.headSha);
    await say.answer(
      `\`${env}\` at ${short} (the head of #${pullNumber}) was applied already${release?.releasedBy ? `, by @${release.releasedBy} at ${release.releasedAt}` : ''}.`,
    );
    return 'already applied from the pull request';
  }
  await safely(ctx.log, 'queued check', () =>
    reporter.check({ repo, sha: pr.headSha, name: applyCheckName(env) }, renderApplyCheck(null, { environment: env })),
  );
  const job: ApplyEnvironmentJob & { pullRequest: { number: number } } = {
    repo,
    environment: env,
    sha: pr.headSha,
    trigger: `/politburo apply ${env} by ${c.commenter} from pull request #${pullNumber} (${ctx.deliveryId})`,
    pullRequest: { number: pullNumber },
  };
  const queued = await deps.queue.enqueueApply(job);
  ctx.log.info(
    { env, job: queued.id, pull: pullNumber },
    `${env}@${short} (pull request #${pullNumber}) applied by ${c.commenter} before merge`,
  );
  await say.react('rocket');
  await say.answer(
    `Applying \`${env}\` at ${short}, the head of pull request #${pullNumber} (${counts}), by @${c.commenter}: the apply is queued; its check \`${applyCheckName(env)}\` on ${short} follows it. Until this pull request is merged, a push to ${pr.baseRef} applies ${pr.baseRef} as it is.`,
  );
  return `applied ${env}@${short} from #${pullNumber} by ${c.commenter}`;
}

/**
 * Whether the policy of the environment's last applied commit allows applying a pull request, and the branch the
 * environment follows there. Never applied: refused (there is no applied policy, and the pull request's own
 * description must not decide).
 */
async function allowedByAppliedPolicy(
  deps: JobDeps,
  repo: Repository,
  env: string,
  log: Logger,
): Promise<{ refusal: string; branch?: undefined } | { refusal: null; branch: string }> {
  const last = (await deps.store.environments(repositoryKey(repo))).find((e) => e.environment === env)?.lastCommit;
  if (!last)
    return {
      refusal: `\`${env}\` has never been applied, so no applied description allows applying a pull request to it (\`apply_from_pull_request: true\` counts from the environment's last applied commit).`,
    };
  const described = await withCommit(deps.git, repo, last, async (c) =>
    c.kind === 'ok' ? (c.description.environments.get(env) ?? null) : null,
  ).catch((err: unknown) => {
    log.warn({ err, env, last }, `could not read the last applied commit ${last.slice(0, 7)}`);
    return null;
  });
  if (!described)
    return { refusal: `the description of \`${env}\` at its last applied commit ${last.slice(0, 7)} cannot be read.` };
  const recorded = await deps.controllerStore.appliedPolicy(repo, env);
  const policy: ApplyPolicy =
    recorded?.sha === last && recorded.policy.applyFromPullRequest !== undefined
      ? recorded.policy
      : (described.policy ?? { apply: 'auto', suspend: false });
  if (policy.suspend) return { refusal: `\`${env}\` is suspended (\`suspend: true\`): nothing is applied.` };
  if (!policy.applyFromPullRequest)
    return {
      refusal: `\`${env}\` does not allow applying a pull request before merge: \`apply_from_pull_request: true\` is not set at its last applied commit ${last.slice(0, 7)} (a pull request that sets it counts once it is applied). Merge it, then release the merge commit.`,
    };
  return { refusal: null, branch: described.branch ?? repo.defaultBranch };
}

/**
 * Why the environment is busy with another apply (waiting in its queue, or running), or null. The apply of `head`
 * itself waiting is no reason: a second comment is answered that it was applied already.
 */
async function busyWith(deps: JobDeps, repo: Repository, env: string, head: string): Promise<string | null> {
  const waiting = await deps.queue.waitingApply?.(repo, env);
  if (waiting && waiting.sha !== head)
    return `the apply of \`${env}\` at ${waiting.sha.slice(0, 7)} is waiting in its queue`;
  const runs = await deps.store.listRuns({ repository: repositoryKey(repo), environment: env, limit: 5 });
  const running = runs.find((r) => r.kind === 'apply' && r.status === 'running');
  return running ? `an apply of \`${env}\` is running (run ${running.id})` : null;
}

/**
 * GitHub's review decision from the reviews, oldest first: each reviewer's latest APPROVED, CHANGES_REQUESTED or
 * DISMISSED review counts (comments and pending reviews change nothing; dismissed means no verdict). Pure.
 */
export function reviewDecision(reviews: PullRequestReview[]): 'approved' | 'changes-requested' | 'none' {
  const latest = latestVerdicts(reviews);
  const verdicts = [...latest.values()];
  if (verdicts.includes('CHANGES_REQUESTED')) return 'changes-requested';
  return verdicts.includes('APPROVED') ? 'approved' : 'none';
}

function latestVerdicts(reviews: PullRequestReview[]): Map<string, string> {
  const latest = new Map<string, string>();
  for (const r of reviews)
    if (r.reviewer && ['APPROVED', 'CHANGES_REQUESTED', 'DISMISSED'].includes(r.state)) latest.set(r.reviewer, r.state);
  return latest;
}

function requested(reviews: PullRequestReview[]): string[] {
  return [...latestVerdicts(reviews)].filter(([, s]) => s === 'CHANGES_REQUESTED').map(([who]) => `@${who}`);
}

/** Why the plan shown is not the current one (null: it is). Pure. */
export function planMoved(
  seen: { baseSha: string; headSha: string; planHash: string | null } | null,
  now: { baseSha: string; headSha: string; planHash: string },
): string | null {
  if (!seen) return 'there is no plan of it on this pull request yet';
  if (seen.headSha !== now.headSha)
    return `the head moved from ${seen.headSha.slice(0, 7)} to ${now.headSha.slice(0, 7)} since the plan`;
  if (seen.baseSha !== now.baseSha)
    return `the base branch moved from ${seen.baseSha.slice(0, 7)} to ${now.baseSha.slice(0, 7)} since the plan`;
  if (seen.planHash !== now.planHash) return 'what is recorded on the hosts changed since the plan';
  return null;
}

/** Up to 20 lines `- path (host): action — changes` of what a plan changes. */
function changedLines(plan: Plan): string[] {
  const changed = plan.nodes.filter((n) => n.action !== 'unchanged');
  const lines = changed
    .slice(0, 20)
    .map(
      (n) =>
        `- \`${n.path}\`${n.host ? ` (${n.host})` : ''}: ${n.action}${n.changes.length ? ` — ${n.changes.join('; ').slice(0, 300)}` : ''}`,
    );
  if (changed.length > 20) lines.push(`- … and ${changed.length - 20} more`);
  return lines.length ? ['', ...lines] : [];
}
