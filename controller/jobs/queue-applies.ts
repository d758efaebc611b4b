/**
 * A commit landed on a branch (a push, or a poll that saw the head move): plan every environment that follows the
 * branch against its recorded state, and for each whose desired state changed create its check (queued) and queue
 * its apply. A newer commit replaces a queued older apply (the queue port's `enqueueApply`).
 *
 * An environment the commit removed from the description (it followed the branch at the previous head, `before`) is
 * applied too while it has nodes on record: the apply terminates them, as the pull request's plan showed
 * (docs/language.md
 * Removal). Without a previous head (a new branch, a first poll) nothing is terminated. The previous head is checked
 * out
 * only when an environment with nodes on record is not described any more: usually the commit is the one checkout.
 *
 * The commit is checked out and loaded once, and each following environment planned once. This is also where drift
 * schedules are recorded, once per push and environment: every environment that follows the branch passes here,
 * including those whose nodes did not change and get no apply job, so a new `drift.schedule` takes effect at once
 * (the apply job only forgets the schedule of an environment it terminated).
 *
 * The apply policy (docs/language.md, "Apply policy") may hold a changed environment back: a manual one gets a
 * pending release and a neutral "waiting for release" check, a suspended one a neutral "suspended" check; neither gets
 * an apply job. The governing policy is the one at the environment's last applied commit (`governingPolicy`).
 *
 * Each queued apply, and each commit waiting for a release, is also a GitHub Deployment of the environment
 * (docs/controller.md, "Deployments on GitHub"): created here with the check, moved on by the apply job.
 */
import { applyCheckName, renderApplyCheck, renderInvalidDescriptionCheck } from '../github/render-apply-check.js';
import type { Logger } from '../logger.js';
import type { ApplyPolicy, Description, PlanAction, ResolvedEnvironment } from '../../kernel/types.js';
import type { CheckUpdate } from '../ports.js';
import { planEnvironment } from '../../reconciler/plan-environment.js';
import { recordDriftSchedules } from './drift-schedule.js';
import { reporterFor, safely, type JobDeps } from './job-deps.js';
import { withCommit } from './load-commit.js';
import { repositoryKey, type Repository } from '../../kernel/repository.js';
import { releaseWaitingNotification } from '../notify/event.js';
import { waitingDeployment } from '../github/apply-deployment.js';
import { deploymentLinks, reportApplyDeployment, reportDeployment } from './report-deployment.js';

export interface QueuedApplies {
  outcome: 'no-description' | 'invalid' | 'no-environment' | 'unchanged' | 'queued' | 'held';
  /** Environments whose apply was queued. */
  environments: string[];
  /** Environments whose change the apply policy holds back (manual: waiting for release; suspended). */
  held?: HeldEnvironment[];
}

/** Plans the environments following `branch` at `sha` and queues the applies of those that changed. */
export async function queueApplies(
  deps: JobDeps,
  repo: Repository,
  branch: string,
  sha: string,
  trigger: string,
  log: Logger,
  before?: string,
): Promise<QueuedApplies> {
  const reporter = reporterFor(deps, repo);
  return withCommit(deps.git, repo, sha, async (commit) => {
    if (commit.kind === 'none') return { outcome: 'no-description', environments: [] };
    if (commit.kind === 'invalid') {
      // Which environments follow this branch is unknown: the recorded ones get a failed check saying why.
      const recorded = (await deps.store.environments(repositoryKey(repo))).map((e) => e.environment);
      for (const env of recorded.length ? recorded : ['politburo']) {
        await safely(log, 'invalid description check', () =>
          reporter.check(
            { repo, sha, name: env === 'politburo' ? 'politburo' : applyCheckName(env) },
            renderInvalidDescriptionCheck(env === 'politburo' ? null : env, commit.errors),
          ),
        );
      }
      return { outcome: 'invalid', environments: recorded };
    }
    const following = [...commit.description.environments.values()].filter(
      (env) => (env.branch ?? repo.defaultBranch) === branch,
    );
    const removed =
      before && before !== sha ? await removedEnvironments(deps, repo, branch, before, commit.description, log) : [];
    if (!following.length && !removed.length) return { outcome: 'no-environment', environments: [] };
    // A new commit may change drift schedules even when no node changes. A failure fails the push's handling, which
    // is retried as a whole (every step here can be repeated).
    await recordDriftSchedules(
      deps.controllerStore,
      repo,
      commit.description,
      following.map((e) => e.name),
    );
    const changed: string[] = [];
    const held: HeldEnvironment[] = [];
    for (const env of following) {
      const plan = planEnvironment(env, await deps.store.recordedNodes(repositoryKey(repo), env.name), sha);
      if (plan.summary.create + plan.summary.update + plan.summary.terminate === 0) continue;
      // The check first, so the commit shows it pending before anything runs (a redelivered push while this very
      // commit is being applied leaves its in-progress check alone).
      const ref = { repo, sha, name: applyCheckName(env.name) };
      const policy = await governingPolicy(deps, repo, env, sha, log);
      if (policy.suspend || policy.apply === 'manual') {
        const planSummary = summarizePlan(plan.summary);
        const state = policy.suspend ? 'suspended' : 'waiting';
        if (state === 'waiting') {
          const known = await deps.controllerStore.release(repo, env.name, sha);
          await deps.controllerStore.recordPendingRelease({ repo, environment: env.name, sha, planSummary });
          // Older waiting commits are carried by this one: their checks end superseded (never released).
          for (const older of await deps.controllerStore.supersedePendingReleases(repo, env.name, sha)) {
            const check = renderApplyCheck(null, { environment: env.name, supersededBy: sha });
            await safely(log, 'superseded check', () =>
              reporter.check({ repo, sha: older, name: applyCheckName(env.name) }, check),
            );
            await reportApplyDeployment(deps, reporter, log, { repo, environment: env.name, sha: older }, check);
          }
          // Notified once per pending release (docs/controller.md, "Notifications"), not per redelivered push.
          const notifier = deps.notifier;
          if (!known && notifier?.enabled)
            await safely(log, 'release-waiting notification', () =>
              notifier.notify(
                releaseWaitingNotification(plan, { repository: repositoryKey(repo), commit: sha, trigger }),
              ),
            );
        }
        if (!(await applying(deps, repo, env.name, sha))) {
          await safely(log, `${state} check`, () =>
            reporter.check(ref, renderHeldCheck(env.name, sha, state, planSummary)),
          );
          // A suspended environment deploys nothing; a manual one shows a waiting deployment until released.
          if (state === 'waiting')
            await reportDeployment(
              reporter,
              log,
              { repo, environment: env.name, sha },
              waitingDeployment(deploymentLinks(deps, { repo, environment: env.name }, { trigger }), planSummary),
            );
        }
        held.push({ environment: env.name, state });
        log.info(
          { env: env.name },
          `${env.name}@${sha.slice(0, 7)} ${state === 'suspended' ? 'is suspended: not applied' : 'waits for release'} (${planSummary})`,
        );
        continue;
      }
      changed.push(env.name);
      if (!(await applying(deps, repo, env.name, sha))) {
        const check = renderApplyCheck(null, { environment: env.name });
        await safely(log, 'queued check', () => reporter.check(ref, check));
        await reportApplyDeployment(deps, reporter, log, { repo, environment: env.name, sha }, check, { trigger });
      }
      const queued = await deps.queue.enqueueApply({ repo, environment: env.name, sha, trigger });
      log.info(
        { env: env.name, job: queued.id, supersedes: queued.supersedes },
        `apply of ${env.name}@${sha.slice(0, 7)} queued`,
      );
    }
    for (const name of removed) {
      changed.push(name);
      const check = renderApplyCheck(null, { environment: name });
      await safely(log, 'queued check', () => reporter.check({ repo, sha, name: applyCheckName(name) }, check));
      await reportApplyDeployment(deps, reporter, log, { repo, environment: name, sha }, check, { trigger });
      const queued = await deps.queue.enqueueApply({ repo, environment: name, sha, trigger, describedAt: before });
      log.info(
        { env: name, job: queued.id },
        `${name} is not described at ${sha.slice(0, 7)} any more: termination of its nodes queued`,
      );
    }
    const outcome = changed.length ? 'queued' : held.length ? 'held' : 'unchanged';
    return held.length ? { outcome, environments: changed, held } : { outcome, environments: changed };
  });
}

/**
 * The policy that governs a push (docs/language.md, "Apply policy"): the one described at the environment's last
 * applied commit, so a commit that loosens its own environment's gate is itself gated. An environment never applied
 * (or whose last applied commit cannot be read or did not describe it) is governed by the pushed description.
 */
export async function governingPolicy(
  deps: Pick<JobDeps, 'store' | 'git' | 'controllerStore'>,
  repo: Repository,
  env: ResolvedEnvironment,
  sha: string,
  log: Logger,
): Promise<ApplyPolicy> {
  const described = env.policy ?? DEFAULT_POLICY;
  const last = (await deps.store.environments(repositoryKey(repo))).find((e) => e.environment === env.name)?.lastCommit;
  if (!last || last === sha) return described;
  // Recorded by the apply job that ran `last` (no checkout); environments applied before it recorded one are read.
  const recorded = await deps.controllerStore.appliedPolicy(repo, env.name);
  if (recorded?.sha === last) return recorded.policy;
  try {
    const applied = await withCommit(deps.git, repo, last, async (c) =>
      c.kind === 'ok' ? c.description.environments.get(env.name)?.policy : undefined,
    );
    return applied ?? described;
  } catch (err) {
    log.warn(
      { err, env: env.name, last },
      `could not read the last applied commit ${last.slice(0, 7)}: the pushed description's apply policy governs`,
    );
    return described;
  }
}

export const DEFAULT_POLICY: ApplyPolicy = { apply: 'auto', suspend: false };

/** `2 to create, 1 to update` — what a held commit would change. */
export function summarizePlan(summary: Record<PlanAction, number>): string {
  const parts = (['create', 'update', 'terminate'] as const)
    .filter((a) => summary[a] > 0)
    .map((a) => `${summary[a]} to ${a}`);
  return parts.length ? parts.join(', ') : 'no changes';
}

/** The apply check of a commit a policy holds back: waiting for release, or suspended. Pure. */
export function renderHeldCheck(
  environment: string,
  sha: string,
  state: 'waiting' | 'suspended',
  planSummary: string,
): CheckUpdate {
  if (state === 'suspended')
    return {
      status: 'completed',
      conclusion: 'neutral',
      title: `${environment} is suspended: not applied`,
      summary: `\`${environment}\` is suspended (\`suspend: true\`): ${sha.slice(0, 7)} is not applied (${planSummary}). Drift is still checked and reported, never healed.`,
    };
  return {
    status: 'completed',
    conclusion: 'neutral',
    title: `Waiting for release of ${environment}`,
    summary: [
      `\`${environment}\` is applied on release (\`apply: manual\`). The plan of ${sha.slice(0, 7)}: ${planSummary}. No host has been contacted.`,
      '',
      `To apply it, comment \`/politburo apply ${environment}\` on the merged pull request or on the commit (write permission needed).`,
    ].join('\n'),
  };
}

/** An environment whose change a policy holds back. */
export interface HeldEnvironment {
  environment: string;
  state: 'waiting' | 'suspended';
}

/** Whether this very commit of the environment is being applied (its check is in progress then: leave it alone). */
async function applying(deps: JobDeps, repo: Repository, environment: string, sha: string): Promise<boolean> {
  const runs = await deps.store.listRuns({ repository: repositoryKey(repo), environment, limit: 5 });
  return runs.some((r) => r.kind === 'apply' && r.status === 'running' && r.commit === sha);
}

/** Environments that followed `branch` at `before`, are not described now, and still have nodes on record. */
async function removedEnvironments(
  deps: JobDeps,
  repo: Repository,
  branch: string,
  before: string,
  now: Description,
  log: Logger,
): Promise<string[]> {
  // recordedNodes leaves terminated nodes out: an environment already terminated has none.
  const repository = repositoryKey(repo);
  const candidates: string[] = [];
  for (const { environment } of await deps.store.environments(repository))
    if (!now.environments.has(environment) && (await deps.store.recordedNodes(repository, environment)).length)
      candidates.push(environment);
  if (!candidates.length) return [];
  try {
    return await withCommit(deps.git, repo, before, async (c) =>
      c.kind === 'ok'
        ? candidates.filter((name) => {
            const was = c.description.environments.get(name);
            return !!was && (was.branch ?? repo.defaultBranch) === branch;
          })
        : [],
    );
  } catch (err) {
    // The previous head may be gone (a force-push on GitHub, then garbage collection): nothing to compare with.
    log.warn(
      { err, before },
      `could not read the previous head ${before.slice(0, 7)}: environments it removed are not terminated`,
    );
    return [];
  }
}
