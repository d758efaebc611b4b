/**
 * The `plan-pull-request` job: a static plan (no host contacted, no provider run) of every environment the pull
 * request changes, one `politburo plan ENV` check per environment and ONE sticky comment. Live plans (dry-runs on
 * hosts) only when the job says so, which the delivery handler sets only after the trust checks of
 * docs/configuration.md. A merge group of GitHub's merge queue is planned the same way, checks only (no pull request,
 * no comment), and every environment that follows its base branch gets a check even when unchanged, so a required
 * `politburo plan ENV` check never leaves the queue waiting (docs/controller.md "Merge queues").
 * The head is checked out and loaded once; the base (or the fork point) at most once, whatever asks for it.
 */
import { unknownEnvironmentMessage } from '../../kernel/did-you-mean.js';
import { planCheckName, renderPlanCheck } from '../github/render-plan-check.js';
import { PLAN_COMMENT_MARKER, renderPlanComment } from '../github/render-plan-comment.js';
import { runLogger, type Logger } from '../logger.js';
import type { CheckUpdate, PlanForRender, PlanPullRequestJob, Reporter } from '../ports.js';
import { runLivePlan } from '../../reconciler/drift-environment.js';
import { planEnvironment } from '../../reconciler/plan-environment.js';
import type { Description, ResolvedEnvironment } from '../../kernel/types.js';
import { affectedEnvironments, touchesDescription } from './affected-environments.js';
import { connectorFor } from './host-connector.js';
import { reporterFor, runUrl, safely, type JobDeps } from './job-deps.js';
import { withCommit, type LoadedCommit } from './load-commit.js';
import type { Repository } from '../../kernel/repository.js';
import { parsePlanPullRequestJob } from './payloads.js';
import { planHash } from './plan-hash.js';
import { repositoryKey } from '../../kernel/repository.js';

/** Handles one plan job (see module comment). */
export async function runPlanPullRequest(deps: JobDeps, payload: unknown): Promise<void> {
  const job = parsePlanPullRequestJob(payload);
  const reporter = reporterFor(deps, job.repo);
  const log = runLogger(deps.logger, { repo: repositoryKey(job.repo), sha: job.headSha }).child(
    job.mergeGroup ? { mergeGroup: job.mergeGroup.headRef } : { pull: job.pullNumber },
  );
  const described = describedAt(deps, job.repo);
  const plans = await withCommit(deps.git, job.repo, job.headSha, (head) => planHead(deps, job, head, described, log));
  if (!plans) {
    log.info('no politburo.yml at the head: nothing to plan');
    return;
  }
  if (!plans.length && !job.commentId && !job.notice) {
    log.info('the pull request changes no environment');
    return;
  }
  // report: one check per environment, then the one comment; older heads' plan checks end as superseded.
  for (const p of plans) {
    const url = p.live ? runUrl(deps.config, p.live.runId) : undefined;
    await safely(log, `plan check ${p.environment}`, () =>
      reporter.check(
        { repo: job.repo, sha: job.headSha, name: planCheckName(p.environment) },
        renderPlanCheck(p, url ? { detailsUrl: url } : {}),
      ),
    );
  }
  if (job.pullNumber === undefined) {
    log.info(
      { environments: plans.map((p) => p.environment) },
      `planned merge group ${job.mergeGroup?.headRef ?? ''} at ${job.headSha.slice(0, 7)}`,
    );
    return;
  }
  const pullNumber = job.pullNumber;
  await supersedeOlderPlans(deps, { ...job, pullNumber }, plans, reporter, log);
  let body = renderPlanComment(plans, { headSha: job.headSha });
  if (job.notice)
    body = body.replace(PLAN_COMMENT_MARKER, `${PLAN_COMMENT_MARKER}\n> ${job.notice.replace(/\n/g, ' ')}\n`);
  await safely(log, 'plan comment', () => reporter.stickyComment(job.repo, pullNumber, body));
  log.info(
    { environments: plans.map((p) => p.environment), live: job.live },
    `planned #${job.pullNumber} at ${job.headSha.slice(0, 7)}`,
  );
}

/** fetch → resolve (head and, when needed, base) → pick environments → plan each. Null: no description at head. */
async function planHead(
  deps: JobDeps,
  job: PlanPullRequestJob,
  head: LoadedCommit,
  described: DescribedAt,
  log: Logger,
): Promise<PlanForRender[] | null> {
  if (head.kind === 'none') return null;
  if (head.kind === 'invalid') {
    const names = job.environment ? [job.environment] : await baseEnvironmentNames(job, described);
    return names.map((environment) => ({ environment, plan: null, errors: head.errors }));
  }
  const names = job.environment ? [job.environment] : await changedEnvironments(deps, job, head.description, described);
  const plans: PlanForRender[] = [];
  for (const name of names) {
    const env = head.description.environments.get(name) ?? (await removedEnvironment(job, name, described));
    if (!env) {
      plans.push({
        environment: name,
        plan: null,
        errors: [
          {
            file: head.description.files[0] ?? 'politburo.yml',
            line: 1,
            column: 1,
            message: unknownEnvironmentMessage(name, head.description.environments.keys()),
          },
        ],
      });
      continue;
    }
    if (job.live && head.description.environments.has(name)) plans.push(await livePlan(deps, job, head, env, log));
    else {
      const recorded = await deps.store.recordedNodes(repositoryKey(job.repo), name);
      plans.push({ environment: name, plan: planEnvironment(env, recorded, job.headSha), errors: [] });
    }
  }
  return plans;
}

/** A dry-run on the hosts (authorised live plans only). */
async function livePlan(
  deps: JobDeps,
  job: PlanPullRequestJob,
  head: LoadedCommit & { kind: 'ok' },
  env: ResolvedEnvironment,
  log: Logger,
): Promise<PlanForRender> {
  const { connector } = await connectorFor(deps, head.dir, env);
  try {
    const { plan, result } = await runLivePlan({
      description: head.description,
      environment: env.name,
      repository: repositoryKey(job.repo),
      commit: job.headSha,
      store: deps.store,
      connector,
      secrets: { ...deps.config.secrets },
      trigger: job.trigger,
      log: (line) => log.debug(line),
    });
    return { environment: env.name, plan, errors: [], live: result };
  } finally {
    await connector.close().catch(() => undefined);
  }
}

/** The description at a commit (null: none, or invalid), each commit checked out and loaded at most once. */
type DescribedAt = (sha: string) => Promise<Description | null>;

function describedAt(deps: JobDeps, repo: Repository): DescribedAt {
  const loaded = new Map<string, Promise<Description | null>>();
  return (sha) => {
    if (!loaded.has(sha))
      loaded.set(
        sha,
        withCommit(deps.git, repo, sha, async (c) => (c.kind === 'ok' ? c.description : null)),
      );
    return loaded.get(sha)!;
  };
}

async function changedEnvironments(
  deps: JobDeps,
  job: PlanPullRequestJob,
  head: Description,
  described: DescribedAt,
): Promise<string[]> {
  const changed = await deps.git.changedFiles(job.repo, job.baseSha, job.headSha);
  const following = job.mergeGroup ? followingBranch(head, job.repo, job.mergeGroup.baseBranch) : [];
  if (!touchesDescription(head, changed)) return following;
  // Compared with what the pull request forked from, so later changes on the base branch are not counted as its own.
  const forkPoint = (await deps.git.mergeBase?.(job.repo, job.baseSha, job.headSha)) ?? job.baseSha;
  const affected = affectedEnvironments(head, await described(forkPoint), changed);
  return [...following, ...affected.filter((name) => !following.includes(name))];
}

/** The environments a merge into `branch` applies (docs/language.md `branch`), in the description's order. */
function followingBranch(head: Description, repo: Repository, branch: string): string[] {
  return [...head.environments.values()]
    .filter((env) => (env.branch ?? repo.defaultBranch) === branch)
    .map((env) => env.name);
}

async function baseEnvironmentNames(job: PlanPullRequestJob, described: DescribedAt): Promise<string[]> {
  const names = [...((await described(job.baseSha))?.environments.keys() ?? [])];
  return names.length ? names : ['politburo'];
}

/** An environment the pull request removes: planned as empty, so every recorded node shows as terminate. */
async function removedEnvironment(
  job: PlanPullRequestJob,
  name: string,
  described: DescribedAt,
): Promise<ResolvedEnvironment | null> {
  const env = (await described(job.baseSha))?.environments.get(name);
  return env ? { ...env, nodes: [], groups: [] } : null;
}

/**
 * Plans are keyed by (environment, base, head): this head's plans are recorded with their hashes, and older heads'
 * checks superseded.
 */
async function supersedeOlderPlans(
  deps: JobDeps,
  job: PlanPullRequestJob & { pullNumber: number },
  plans: PlanForRender[],
  reporter: Reporter,
  log: Logger,
): Promise<void> {
  // Each plan's hash is kept with it: `/politburo apply ENV` on the pull request applies only this plan.
  const planHashes = Object.fromEntries(plans.flatMap((p) => (p.plan ? [[p.environment, planHash(p.plan)]] : [])));
  const superseded = await deps.controllerStore.recordPlannedHead({
    repo: job.repo,
    pullNumber: job.pullNumber,
    baseSha: job.baseSha,
    headSha: job.headSha,
    environments: plans.map((p) => p.environment),
    planHashes,
  });
  for (const row of superseded) {
    const update: CheckUpdate = {
      status: 'completed',
      conclusion: 'skipped',
      title: `Superseded by ${job.headSha.slice(0, 7)}`,
      summary: `This plan of \`${row.environment}\` is out of date: the pull request was planned again at ${job.headSha}.`,
    };
    await safely(log, 'superseded plan check', () =>
      reporter.check({ repo: job.repo, sha: row.headSha, name: planCheckName(row.environment) }, update),
    );
  }
}
