/**
 * The `apply-environment` job: one environment at one commit of its branch. Outer layer: parse, classify errors,
 * always finish the commit's check (and the checks of the commits it superseded). Inner layer: the steps in order.
 *
 * The commit is checked out and loaded ONCE and that description is passed down to every step (the branch check, the
 * "already applied" decision, the engine, the scripts read from the checkout). A second commit is loaded only when the
 * job's commit is no longer the branch head (the head is applied instead) or, for a removed environment, when the head
 * moved on and may describe it again. A removal job loads the commit that still described the environment instead of
 * the job's own commit: queueApplies (controller/jobs/queue-applies.ts) already saw that the latter does not.
 *
 * Drift schedules are not recorded here: queueApplies records them, once per push and environment, for every
 * environment that follows the branch, including those whose nodes did not change and get no apply job at all. This
 * job only forgets the schedule of an environment whose nodes it terminated because it is not described any more.
 */
import { DEFAULT_POLICY } from './queue-applies.js';
import { summaryLine } from '../../reconciler/run-result.js';
import type { JobHelpers } from 'graphile-worker';
import { applyCheckName, renderApplyCheck, renderInvalidDescriptionCheck } from '../github/render-apply-check.js';
import { runLogger, type Logger } from '../logger.js';
import { runDuration, taskOutcomes } from '../metrics.js';
import type { ApplyEnvironmentJob, CheckRef, CheckUpdate, Reporter } from '../ports.js';
import { isTerminal } from '../queue/terminal-error.js';
import { applyEnvironment } from '../../reconciler/apply-environment.js';
import { planEnvironment } from '../../reconciler/plan-environment.js';
import type { Description, ResolvedEnvironment, RunResult } from '../../kernel/types.js';
import { closeOrphanedRuns } from './close-orphaned-runs.js';
import { connectorFor } from './host-connector.js';
import { reporterFor, runUrl, safely, type JobDeps } from './job-deps.js';
import { withCommit, type LoadedCommit } from './load-commit.js';
import { parseApplyEnvironmentJob } from './payloads.js';
import { repositoryKey } from '../../kernel/repository.js';
import { applyNotification, type Notification } from '../notify/event.js';
import { reportApplyDeployment } from './report-deployment.js';

/** Handles one apply job (see module comment). */
export async function runApplyEnvironment(
  deps: JobDeps,
  payload: unknown,
  helpers: Pick<JobHelpers, 'job'>,
): Promise<void> {
  const job = parseApplyEnvironmentJob(payload);
  const reporter = reporterFor(deps, job.repo);
  const log = runLogger(deps.logger, { repo: repositoryKey(job.repo), env: job.environment, sha: job.sha });
  const name = applyCheckName(job.environment);
  // Applies only ever from the branch head. A job for an older commit applies the head instead (deliveries reach
  // replicas out of order), and the commits it stands for end as superseded by it, never pending.
  let target = job.sha;
  let final: CheckUpdate | null = null;
  // The GitHub Deployment of each commit follows its check (docs/controller.md, "Deployments on GitHub").
  const seen: { runId?: string } = {};
  const deployment = (sha: string, check: CheckUpdate) =>
    reportApplyDeployment(deps, reporter, log, { repo: job.repo, environment: job.environment, sha }, check, {
      trigger: job.trigger,
      ...seen,
    });
  const supersede = async (by: string) => {
    target = by;
    for (const old of new Set([...(job.supersedes ?? []), job.sha])) {
      if (old === by) continue;
      const check = renderApplyCheck(null, { environment: job.environment, supersededBy: by });
      await safely(log, `superseded check of ${old}`, () => reporter.check({ repo: job.repo, sha: old, name }, check));
      await deployment(old, check);
    }
  };
  try {
    final = await withCommit(deps.git, job.repo, job.describedAt ?? job.sha, async (loaded) => {
      // A release (`/politburo apply ENV`, controller/jobs/handlers/release.ts) applies its own commit, never a
      // newer head nobody released: that one is superseded instead.
      const decision = await decide(deps, job, loaded, !job.trigger.startsWith('/politburo apply '));
      if (decision.kind !== 'apply-head') {
        await supersede(job.sha);
        return carryOut(deps, job, decision, reporter, log, seen);
      }
      // Not the head any more: the head is applied instead (its own checkout), and this job's commits end superseded.
      await supersede(decision.head);
      const atHead: ApplyEnvironmentJob = { ...job, sha: decision.head };
      return withCommit(deps.git, job.repo, decision.head, async (head) =>
        carryOut(deps, atHead, await decide(deps, atHead, head, false), reporter, log, seen),
      );
    });
  } catch (err) {
    const lastAttempt = helpers.job.attempts >= helpers.job.max_attempts;
    if (isTerminal(err) || lastAttempt) {
      final = failedCheck(job.environment, err, lastAttempt && !isTerminal(err));
      await notify(deps, log, {
        kind: 'apply-failed',
        repository: repositoryKey(job.repo),
        environment: job.environment,
        commit: target,
        reason: final.summary,
        trigger: job.trigger,
      });
    } else {
      // A retry follows: the check says so instead of staying in progress.
      final = {
        status: 'queued',
        title: `Retrying the apply of ${job.environment}`,
        summary: `The last attempt failed: ${message(err)}. It will be retried.`,
      };
    }
    throw err;
  } finally {
    if (final) {
      await safely(log, 'apply check', () => reporter.check({ repo: job.repo, sha: target, name }, final!));
      await deployment(target, final);
    }
  }
}

/** What an apply works from: the description (with its environment), and the checkout its scripts are read from. */
interface ApplySource {
  description: Description;
  dir: string;
  env: ResolvedEnvironment;
  /** The environment is not described any more: its nodes are being terminated. */
  removed: boolean;
}

/** What the job does with its loaded commit: report a final check, apply, or apply the branch head instead. */
type Decision =
  | { kind: 'report'; check: CheckUpdate }
  | { kind: 'apply'; source: ApplySource }
  | { kind: 'apply-head'; head: string };

/**
 * resolve → check the branch. `loaded` is the job's commit, or for a removal the commit that still described the
 * environment. `mayMove`: a job whose commit is not the branch head applies the head instead (else it is superseded).
 */
async function decide(
  deps: JobDeps,
  job: ApplyEnvironmentJob,
  loaded: LoadedCommit,
  mayMove: boolean,
): Promise<Decision> {
  // An invalid or missing description is terminal and reported on the check; the job itself ends normally.
  if (job.describedAt) {
    const was = loaded.kind === 'ok' ? loaded.description.environments.get(job.environment) : undefined;
    if (loaded.kind !== 'ok' || !was)
      return failure(
        `Not applied: environment ${job.environment} is not described at ${job.sha}, nor at ${job.describedAt}.`,
      );
    return decideRemoval(deps, job, loaded, was);
  }
  if (loaded.kind === 'none') return failure(`Not applied: politburo.yml is not in ${job.sha}.`);
  if (loaded.kind === 'invalid')
    return { kind: 'report', check: renderInvalidDescriptionCheck(job.environment, loaded.errors) };
  const env = loaded.description.environments.get(job.environment);
  if (!env) return failure(`Not applied: environment ${job.environment} is not described at ${job.sha}.`);
  const branch = env.branch ?? job.repo.defaultBranch;
  const head = await deps.git.branchHead(job.repo, branch);
  if (!head) return failure(`Not applied: branch ${branch} of ${job.environment} does not exist any more.`);
  // A pull request's head (`/politburo apply ENV` before merge) is never its branch's head: applied as is.
  if (head !== job.sha && !job.pullRequest) {
    if (mayMove) return { kind: 'apply-head', head };
    // The head moved again since the job started: the newer head's own apply follows.
    return { kind: 'report', check: renderApplyCheck(null, { environment: job.environment, supersededBy: head }) };
  }
  return { kind: 'apply', source: { description: loaded.description, dir: loaded.dir, env, removed: false } };
}

/**
 * Removed from the description: applied as described last, with no nodes, so every recorded node is terminated (run
 * from that commit's checkout, where its provider's destroy script is). A removal stands while later commits do not
 * describe the environment again (their pushes see nothing to remove).
 */
async function decideRemoval(
  deps: JobDeps,
  job: ApplyEnvironmentJob,
  old: LoadedCommit & { kind: 'ok' },
  was: ResolvedEnvironment,
): Promise<Decision> {
  const branch = was.branch ?? job.repo.defaultBranch;
  const head = await deps.git.branchHead(job.repo, branch);
  if (!head) return failure(`Not applied: branch ${branch} of ${job.environment} does not exist any more.`);
  if (head !== job.sha && (await mayDescribe(deps, job, head)))
    return { kind: 'report', check: renderApplyCheck(null, { environment: job.environment, supersededBy: head }) };
  const emptied: ResolvedEnvironment = { ...was, nodes: [], groups: [] };
  const description = {
    ...old.description,
    environments: new Map(old.description.environments).set(job.environment, emptied),
  };
  return { kind: 'apply', source: { description, dir: old.dir, env: emptied, removed: true } };
}

/** apply → forget the schedule of a removed environment → report. */
async function carryOut(
  deps: JobDeps,
  job: ApplyEnvironmentJob,
  decision: Decision,
  reporter: Reporter,
  log: Logger,
  seen: { runId?: string },
): Promise<CheckUpdate | null> {
  if (decision.kind === 'report') {
    // Not applied (invalid description, environment or branch gone): nothing touched a host.
    if (decision.check.conclusion === 'failure')
      await notify(deps, log, {
        kind: 'apply-blocked',
        repository: repositoryKey(job.repo),
        environment: job.environment,
        commit: job.sha,
        reason: decision.check.summary || decision.check.title,
        trigger: job.trigger,
      });
    return decision.check;
  }
  if (decision.kind === 'apply-head') throw new Error('internal: the branch head is applied from its own checkout');
  const src = decision.source;
  const ref: CheckRef = { repo: job.repo, sha: job.sha, name: applyCheckName(job.environment) };
  // A duplicate of an apply that already ran (a redelivered push) leaves that apply's final check alone.
  if (!job.trigger.startsWith('check rerequested') && (await alreadyApplied(deps, job, src.env))) {
    log.info(`${job.environment}@${job.sha.slice(0, 7)} is already applied: nothing to do`);
    return (await reporter.checkCompleted(ref)) ? null : await appliedBefore(deps, job);
  }
  const applying = renderApplyCheck(null, { environment: job.environment, state: 'in_progress' });
  await safely(log, 'in-progress check', () => reporter.check(ref, applying));
  await reportApplyDeployment(
    deps,
    reporter,
    log,
    { repo: job.repo, environment: job.environment, sha: job.sha },
    applying,
    {
      trigger: job.trigger,
    },
  );
  // apply: the engine plans against the recorded state and works through the changes.
  const { connector, options } = await connectorFor(deps, src.dir, src.env);
  // The dashboard's Cancel reaches the run through this signal (controller/run-cancellation.ts).
  const cancel = deps.cancellations?.watch(repositoryKey(job.repo), job.environment);
  let result: RunResult;
  try {
    result = await applyEnvironment({
      description: src.description,
      environment: job.environment,
      repository: repositoryKey(job.repo),
      commit: job.sha,
      store: deps.store,
      connector,
      connectorWithKnownHosts: (lines) => deps.connector({ ...options, knownHosts: [...options.knownHosts, ...lines] }),
      secrets: { ...deps.config.secrets },
      trigger: job.trigger,
      log: (line) => log.debug(line),
      signal: cancel?.signal,
    });
  } finally {
    cancel?.stop();
    await connector.close().catch(() => undefined);
  }
  // record: metrics, the summary line; a removed environment is not checked for drift any more.
  seen.runId = result.runId ?? undefined;
  observe(result);
  log.info({ run: result.runId }, summaryLine('applied', { ...result, commit: job.sha }));
  await closeOrphanedRuns(deps.store, repositoryKey(job.repo), job.environment, result.runId, log).catch((err) =>
    log.warn({ err }, 'could not close orphaned runs'),
  );
  if (src.removed)
    await deps.controllerStore
      .forgetDriftSchedule(job.repo, job.environment)
      .catch((err) => log.warn({ err }, 'could not remove the drift schedule'));
  // The policy described at this commit governs the next push (docs/language.md, "Apply policy"): kept so that push
  // need not check this commit out again. Without it the next push reads the commit itself.
  else
    await deps.controllerStore
      .recordAppliedPolicy(job.repo, job.environment, job.sha, src.env.policy ?? DEFAULT_POLICY)
      .catch((err) => log.warn({ err }, 'could not record the applied policy'));
  // report: the notification is only queued (docs/controller.md, "Notifications"); the delivery worker sends it.
  await notify(
    deps,
    log,
    applyNotification(result, { repository: repositoryKey(job.repo), commit: job.sha, trigger: job.trigger }),
  );
  return renderApplyCheck(result, { environment: job.environment, runUrl: runUrl(deps.config, result.runId) });
}

/** Whether the environment may be described at `sha` (an invalid or missing description cannot tell: yes). */
async function mayDescribe(deps: JobDeps, job: ApplyEnvironmentJob, sha: string): Promise<boolean> {
  return withCommit(
    deps.git,
    job.repo,
    sha,
    async (c) => c.kind !== 'ok' || c.description.environments.has(job.environment),
  );
}

/**
 * True when every node was last applied at this very commit and the plan is empty. The plan is computed only when the
 * recorded nodes say so: a first apply of a commit leaves planning to the engine, which plans under the lock anyway.
 */
async function alreadyApplied(deps: JobDeps, job: ApplyEnvironmentJob, env: ResolvedEnvironment): Promise<boolean> {
  const recorded = await deps.store.recordedNodes(repositoryKey(job.repo), job.environment);
  if (!recorded.length || !recorded.every((r) => r.lastAppliedCommit === job.sha)) return false;
  const plan = planEnvironment(env, recorded, job.sha);
  return plan.summary.create + plan.summary.update + plan.summary.terminate === 0;
}

/** The check of a commit applied by an earlier run, when a duplicate's "queued" raced past that run's final report. */
async function appliedBefore(deps: JobDeps, job: ApplyEnvironmentJob): Promise<CheckUpdate> {
  const runs = await deps.store.listRuns({
    repository: repositoryKey(job.repo),
    environment: job.environment,
    limit: 20,
  });
  const last = runs.find((r) => r.kind === 'apply' && r.commit === job.sha && r.status !== 'running');
  const url = runUrl(deps.config, last?.id);
  return {
    status: 'completed',
    conclusion: 'success',
    title: `Applied`,
    summary: `${job.environment} is applied at ${job.sha}${last ? ` (run ${last.id})` : ''}.`,
    ...(url ? { detailsUrl: url } : {}),
  };
}

/** Queues an outcome notification; a failure to queue is logged, never fails the apply. */
async function notify(deps: JobDeps, log: Logger, notification: Notification): Promise<void> {
  const notifier = deps.notifier;
  if (notifier?.enabled) await safely(log, `${notification.kind} notification`, () => notifier.notify(notification));
}

function observe(result: RunResult): void {
  runDuration.observe(
    { kind: result.kind, environment: result.environment, status: result.status },
    result.durationMs / 1000,
  );
  for (const n of result.nodes)
    for (const t of n.tasks) taskOutcomes.inc({ environment: result.environment, outcome: t.outcome });
}

function failure(summary: string): Decision {
  return {
    kind: 'report',
    check: { status: 'completed', conclusion: 'failure', title: summary.split(':')[0], summary },
  };
}

function failedCheck(environment: string, err: unknown, gaveUp: boolean): CheckUpdate {
  return {
    status: 'completed',
    conclusion: 'failure',
    title: `Apply of ${environment} failed`,
    summary: `${gaveUp ? 'Gave up after the last attempt: ' : ''}${message(err)}`,
  };
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
