/**
 * The `apply-environment` job: one environment at one commit of its branch. Outer layer: parse, classify errors,
 * always finish the commit's check (and the checks of the commits it superseded). Inner layer: the steps in order.
 */
import type { JobHelpers } from 'graphile-worker';
import { applyCheckName, renderApplyCheck } from '../github/render-apply-check.js';
import { formatError } from '../github/render-plan-comment.js';
import { runLogger, type Logger } from '../logger.js';
import { runDuration, taskOutcomes } from '../metrics.js';
import type { ApplyJob, CheckRef, CheckUpdate, Reporter } from '../ports.js';
import { isTerminal } from '../queue/terminal-error.js';
import { applyEnvironment } from '../../reconciler/apply-environment.js';
import { createHostConnector } from '../../hosts/ssh-connector.js';
import { planEnvironment } from '../../reconciler/plan-environment.js';
import type { Description, ResolvedEnvironment, RunResult } from '../../kernel/types.js';
import { closeOrphanedRuns } from './close-orphaned-runs.js';
import { connectorFor } from './host-connector.js';
import { reporterFor, runUrl, safely, type JobDeps } from './job-deps.js';
import { notifyDriftSchedules, recordDriftSchedules } from './drift-schedule.js';
import { withCommit } from './load-commit.js';
import { parseApplyJob } from './payloads.js';
import { repositoryKey } from '../../kernel/repository.js';

/** Handles one apply job (see module comment). */
export async function runApplyJob(deps: JobDeps, payload: unknown, helpers: Pick<JobHelpers, 'job'>): Promise<void> {
  const job = parseApplyJob(payload);
  const reporter = reporterFor(deps, job.repo);
  const log = runLogger(deps.logger, { repo: repositoryKey(job.repo), env: job.environment, sha: job.sha });
  const name = applyCheckName(job.environment);
  // Applies only ever from the branch head. A job for an older commit applies the head instead (deliveries reach
  // replicas out of order), and the commits it stands for end as superseded by it, never pending.
  let target = job.sha;
  let final: CheckUpdate | null = null;
  try {
    target = (await branchHeadOf(deps, job)) ?? job.sha;
    for (const old of new Set([...(job.supersedes ?? []), job.sha])) {
      if (old === target) continue;
      await safely(log, `superseded check of ${old}`, () =>
        reporter.check(
          { repo: job.repo, sha: old, name },
          renderApplyCheck(null, { environment: job.environment, supersededBy: target }),
        ),
      );
    }
    final = await applyCommit(deps, { ...job, sha: target }, reporter, { repo: job.repo, sha: target, name }, log);
  } catch (err) {
    const lastAttempt = helpers.job.attempts >= helpers.job.max_attempts;
    if (isTerminal(err) || lastAttempt) {
      final = failedCheck(job.environment, err, lastAttempt && !isTerminal(err));
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
    if (final) await safely(log, 'apply check', () => reporter.check({ repo: job.repo, sha: target, name }, final!));
  }
}

/** The head of the branch the environment follows (as described at the job's commit); null when that cannot be told. */
async function branchHeadOf(deps: JobDeps, job: ApplyJob): Promise<string | null> {
  const branch = await withCommit(deps.git, job.repo, job.sha, async (c) =>
    c.kind === 'ok' && c.description.environments.has(job.environment)
      ? (c.description.environments.get(job.environment)!.branch ?? job.repo.defaultBranch)
      : null,
  );
  return branch ? deps.git.branchHead(job.repo, branch) : null;
}

/** fetch → resolve → check the branch → apply → record schedules → report. */
async function applyCommit(
  deps: JobDeps,
  job: ApplyJob,
  reporter: Reporter,
  ref: CheckRef,
  log: Logger,
): Promise<CheckUpdate | null> {
  return withCommit(deps.git, job.repo, job.sha, async (commit) => {
    // resolve: the description at the commit; invalid or missing is terminal and reported on the check.
    // A terminal outcome is reported on the check and not retried: the job itself ends normally.
    if (commit.kind === 'none') return failure(`Not applied: politburo.yml is not in ${job.sha}.`);
    if (commit.kind === 'invalid') {
      log.warn({ errors: commit.errors.length }, `not applied: the description at ${job.sha} is invalid`);
      return invalidCheck(job.environment, commit.errors);
    }
    const env = commit.description.environments.get(job.environment);
    if (env)
      return applyAt(
        deps,
        job,
        { description: commit.description, dir: commit.dir, env, removed: false },
        reporter,
        ref,
        log,
      );
    if (!job.describedAt) return failure(`Not applied: environment ${job.environment} is not described at ${job.sha}.`);
    // Removed from the description: applied as described last, with no nodes, so every recorded node is terminated
    // (run from that commit's checkout, where its provider's destroy script is).
    return withCommit(deps.git, job.repo, job.describedAt, async (old) => {
      const was = old.kind === 'ok' ? old.description.environments.get(job.environment) : undefined;
      if (old.kind !== 'ok' || !was)
        return failure(
          `Not applied: environment ${job.environment} is not described at ${job.sha}, nor at ${job.describedAt}.`,
        );
      const emptied: ResolvedEnvironment = { ...was, nodes: [], groups: [] };
      const description = {
        ...old.description,
        environments: new Map(old.description.environments).set(job.environment, emptied),
      };
      return applyAt(deps, job, { description, dir: old.dir, env: emptied, removed: true }, reporter, ref, log);
    });
  });
}

/** What an apply works from: the description (with its environment), and the checkout its scripts are read from. */
interface ApplySource {
  description: Description;
  dir: string;
  env: ResolvedEnvironment;
  /** The environment is not described any more: its nodes are being terminated. */
  removed: boolean;
}

/** check the branch → apply → record schedules → report. */
async function applyAt(
  deps: JobDeps,
  job: ApplyJob,
  src: ApplySource,
  reporter: Reporter,
  ref: CheckRef,
  log: Logger,
): Promise<CheckUpdate | null> {
  const { env } = src;
  // The head may have moved again since the job started: the newer head's own apply follows.
  const branch = env.branch ?? job.repo.defaultBranch;
  const head = await deps.git.branchHead(job.repo, branch);
  // A removal stands while later commits do not describe the environment again (their pushes see nothing to remove).
  const stillRemoved = src.removed && head !== null && head !== job.sha && !(await mayDescribe(deps, job, head));
  if (head !== job.sha && !stillRemoved) {
    if (head) return renderApplyCheck(null, { environment: job.environment, supersededBy: head });
    return failure(`Not applied: branch ${branch} of ${job.environment} does not exist any more.`);
  }
  // A duplicate of an apply that already ran (a redelivered push) leaves that apply's final check alone.
  if (!job.trigger.startsWith('check rerequested') && (await alreadyApplied(deps, job, env))) {
    log.info(`${job.environment}@${job.sha.slice(0, 7)} is already applied: nothing to do`);
    return (await checkCompleted(deps, ref)) ? null : await appliedBefore(deps, job);
  }
  await safely(log, 'in-progress check', () =>
    reporter.check(ref, renderApplyCheck(null, { environment: job.environment, state: 'in_progress' })),
  );
  // apply: the engine plans against the recorded state and works through the changes.
  const { connector, options } = await connectorFor(deps, src.dir, env);
  const make = deps.connector ?? createHostConnector;
  let result: RunResult;
  try {
    result = await applyEnvironment({
      description: src.description,
      environment: job.environment,
      repository: repositoryKey(job.repo),
      commit: job.sha,
      store: deps.store,
      connector,
      connectorWithKnownHosts: (lines) => make({ ...options, knownHosts: [...options.knownHosts, ...lines] }),
      secrets: { ...deps.config.secrets },
      trigger: job.trigger,
      log: (line) => log.debug(line),
    });
  } finally {
    await connector.close().catch(() => undefined);
  }
  // record: metrics, the summary line, and the drift schedule of what is now applied.
  observe(result);
  log.info(
    { run: result.runId },
    `applied ${job.environment}@${job.sha.slice(0, 7)}: ${summaryLine(result)} in ${Math.round(result.durationMs / 1000)}s`,
  );
  await closeOrphanedRuns(deps.store, repositoryKey(job.repo), job.environment, result.runId, log).catch((err) =>
    log.warn({ err }, 'could not close orphaned runs'),
  );
  if (src.removed)
    await forgetDriftSchedule(deps, job).catch((err) => log.warn({ err }, 'could not remove the drift schedule'));
  else
    await recordDriftSchedules(deps.pool, job.repo, src.description, [job.environment]).catch((err) =>
      log.warn({ err }, 'could not record the drift schedule'),
    );
  // report
  return renderApplyCheck(result, { environment: job.environment, runUrl: runUrl(deps.config, result.runId) });
}

/** Whether the environment may be described at `sha` (an invalid or missing description cannot tell: yes). */
async function mayDescribe(deps: JobDeps, job: ApplyJob, sha: string): Promise<boolean> {
  return withCommit(
    deps.git,
    job.repo,
    sha,
    async (c) => c.kind !== 'ok' || c.description.environments.has(job.environment),
  );
}

/** A removed environment is not checked for drift any more. */
async function forgetDriftSchedule(deps: JobDeps, job: ApplyJob): Promise<void> {
  await deps.pool.query('DELETE FROM drift_schedules WHERE repository = $1 AND environment = $2', [
    repositoryKey(job.repo),
    job.environment,
  ]);
  await notifyDriftSchedules(deps.pool);
}

/** True when the plan is empty and every node was last applied at this very commit. */
async function alreadyApplied(deps: JobDeps, job: ApplyJob, env: ResolvedEnvironment): Promise<boolean> {
  const recorded = await deps.store.recordedNodes(repositoryKey(job.repo), job.environment);
  const plan = planEnvironment(env, recorded, job.sha);
  const changes = plan.summary.create + plan.summary.update + plan.summary.terminate;
  return changes === 0 && recorded.length > 0 && recorded.every((r) => r.lastAppliedCommit === job.sha);
}

/** Whether the check is already final (as last reported; github_checks is written by the GitHub reporter). */
async function checkCompleted(deps: JobDeps, ref: CheckRef): Promise<boolean> {
  const { rows } = await deps.pool.query<{ status: string }>(
    'SELECT status FROM github_checks WHERE repository = $1 AND sha = $2 AND name = $3',
    [repositoryKey(ref.repo), ref.sha, ref.name],
  );
  return rows[0]?.status === 'completed';
}

/** The check of a commit applied by an earlier run, when a duplicate's "queued" raced past that run's final report. */
async function appliedBefore(deps: JobDeps, job: ApplyJob): Promise<CheckUpdate> {
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

function observe(result: RunResult): void {
  runDuration.observe(
    { kind: result.kind, environment: result.environment, status: result.status },
    result.durationMs / 1000,
  );
  for (const n of result.nodes)
    for (const t of n.tasks) taskOutcomes.inc({ environment: result.environment, outcome: t.outcome });
}

/** "12 ready, 1 failed, 2 blocked". */
export function summaryLine(result: RunResult): string {
  const counts = new Map<string, number>();
  for (const n of result.nodes) counts.set(n.state, (counts.get(n.state) ?? 0) + 1);
  return counts.size ? [...counts].map(([s, n]) => `${n} ${s}`).join(', ') : 'nothing to do';
}

function invalidCheck(
  environment: string,
  errors: { file: string; line: number; column: number; message: string }[],
): CheckUpdate {
  return {
    status: 'completed',
    conclusion: 'failure',
    title: `Invalid description: ${errors.length} error${errors.length === 1 ? '' : 's'}`,
    summary:
      `${environment} was not applied: the description is invalid. Fix these and push again.\n\n\`\`\`\n${errors.slice(0, 200).map(formatError).join('\n')}\n\`\`\``.slice(
        0,
        60_000,
      ),
    annotations: errors.map((e) => ({
      path: e.file,
      startLine: e.line,
      endLine: e.line,
      startColumn: e.column,
      level: 'failure' as const,
      message: e.message,
    })),
  };
}

function failure(summary: string): CheckUpdate {
  return { status: 'completed', conclusion: 'failure', title: summary.split(':')[0], summary };
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
