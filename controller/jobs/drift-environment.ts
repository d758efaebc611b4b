/**
 * The `drift-environment` job: dry-run every recorded node of an environment at the commit it was last applied from
 * (heal per `drift.heal`), then the drift issue (opened/updated while drift lasts, closed only when every node was
 * checked and none drifted), the drift gauge and the drift notifications (found, resolved). The settings commit is checked
 * out
 * and loaded once; the engine asks for each other commit nodes were applied from once (reconciler/drift-targets.ts).
 */
import { runLogger, type Logger } from '../logger.js';
import { driftedNodes, runDuration } from '../metrics.js';
import type { DriftEnvironmentJob, Reporter } from '../ports.js';
import { driftEnvironment, type DescriptionAt } from '../../reconciler/drift-environment.js';
import type { RunResult } from '../../kernel/types.js';
import { closeOrphanedRuns } from './close-orphaned-runs.js';
import { connectorFor } from './host-connector.js';
import { reporterFor, runUrl, safely, type JobDeps } from './job-deps.js';
import { loadCommit, withCommit } from './load-commit.js';
import { parseDriftEnvironmentJob } from './payloads.js';
import { repositoryKey } from '../../kernel/repository.js';
import { nodeOf, type Notification } from '../notify/event.js';

/** Handles one drift job (see module comment). */
export async function runDriftEnvironment(deps: JobDeps, payload: unknown): Promise<void> {
  const job = parseDriftEnvironmentJob(payload);
  const repository = repositoryKey(job.repo);
  const reporter = reporterFor(deps, job.repo);
  // fetch: the last applied commit (else the branch head) gives the environment's settings; each node is then checked
  // at the commit it was itself applied from.
  const recorded = (await deps.store.environments(repository)).find((e) => e.environment === job.environment);
  const sha = await settingsCommit(deps, job, recorded?.lastCommit ?? null);
  const log = runLogger(deps.logger, { repo: repository, env: job.environment, sha: sha ?? undefined });
  if (!sha) {
    log.warn('nothing applied and no branch head: no drift check');
    return;
  }
  let heal = job.heal;
  const result = await withCommit(deps.git, job.repo, sha, async (commit) => {
    if (commit.kind !== 'ok' || !commit.description.environments.has(job.environment)) {
      log.warn(`the description at ${sha} has no valid environment ${job.environment}: no drift check`);
      return null;
    }
    const env = commit.description.environments.get(job.environment)!;
    // A suspended environment is checked and reported, never healed (docs/language.md, "Apply policy").
    if (job.heal && env.policy?.suspend) {
      log.info(`${job.environment} is suspended: drift is checked, not healed`);
      heal = false;
    }
    const { connector } = await connectorFor(deps, commit.dir, env);
    const commits = commitReader(deps, job);
    // The dashboard's Cancel reaches the run through this signal (controller/run-cancellation.ts).
    const cancel = deps.cancellations?.watch(repository, job.environment);
    try {
      // dry-run (and heal when asked): the engine records the run and the drifted nodes.
      return await driftEnvironment({
        description: commit.description,
        environment: job.environment,
        repository,
        commit: sha,
        store: deps.store,
        connector,
        heal,
        descriptionAt: commits.descriptionAt,
        secrets: { ...deps.config.secrets },
        trigger: job.trigger,
        log: (line) => log.debug(line),
        signal: cancel?.signal,
      });
    } finally {
      cancel?.stop();
      await connector.close().catch(() => undefined);
      await commits.close();
    }
  });
  if (result)
    await closeOrphanedRuns(deps.store, repository, job.environment, result.runId, log).catch((err) =>
      log.warn({ err }, 'could not close orphaned runs'),
    );
  if (result) await reportDrift(deps, { ...job, heal }, sha, result, reporter, log);
}

/**
 * The last applied commit, else the branch head: when the repository lost the former (a force-push, a re-created
 * repository), the check still runs from the head, and the nodes applied from the lost commit are named unchecked.
 */
async function settingsCommit(
  deps: JobDeps,
  job: DriftEnvironmentJob,
  lastCommit: string | null,
): Promise<string | null> {
  if (lastCommit) {
    try {
      await deps.git.ensureCommit(job.repo, lastCommit);
      return lastCommit;
    } catch (err) {
      deps.logger.warn(
        {
          repo: repositoryKey(job.repo),
          env: job.environment,
          err: err instanceof Error ? err.message : String(err),
        },
        `the last applied commit ${lastCommit.slice(0, 7)} cannot be read: checking drift from the branch head`,
      );
    }
  }
  return deps.git.branchHead(job.repo, job.repo.defaultBranch);
}

/** Descriptions at the commits nodes were applied from, checked out from the mirror until the drift check ends. */
function commitReader(
  deps: JobDeps,
  job: DriftEnvironmentJob,
): { descriptionAt: DescriptionAt; close(): Promise<void> } {
  const cleanups: (() => Promise<void>)[] = [];
  const descriptionAt: DescriptionAt = async (sha) => {
    const commit = await loadCommit(deps.git, job.repo, sha);
    cleanups.push(commit.cleanup);
    if (commit.kind === 'none') throw new Error('politburo.yml is not in it');
    if (commit.kind === 'invalid')
      throw new Error(`it is invalid (${commit.errors.length} error${commit.errors.length === 1 ? '' : 's'})`);
    return commit.description;
  };
  return {
    descriptionAt,
    close: async () => void (await Promise.all(cleanups.map((c) => c().catch(() => undefined)))),
  };
}

/**
 * report: gauge, issue and alert. Drift → issue open/updated. Nodes that failed or could not be checked → an open
 * issue is updated to say so, never closed. Only every node checked and none drifted closes the issue. A cancelled
 * check reports nothing but its log line.
 */
async function reportDrift(
  deps: JobDeps,
  job: DriftEnvironmentJob,
  sha: string,
  result: RunResult,
  reporter: Reporter,
  log: Logger,
): Promise<void> {
  const drifted = result.nodes.filter((n) => n.state === 'drifted');
  const failed = result.nodes.filter((n) => n.state === 'failed' || n.state === 'blocked');
  const unchecked = result.unchecked ?? [];
  const healed = job.heal && result.nodes.some((n) => n.tasks.some((t) => t.outcome === 'met'));
  runDuration.observe({ kind: 'drift', environment: job.environment, status: result.status }, result.durationMs / 1000);
  // A cancelled check (the dashboard's Cancel) did not look at everything: the issue, the gauge and the alerts are
  // left as the last complete check set them.
  if (result.status === 'cancelled') {
    log.info(
      { run: result.runId },
      `drift check of ${job.environment}@${sha.slice(0, 7)} cancelled: ${drifted.length} drifted among the nodes checked before it stopped; the drift issue is left as it was`,
    );
    return;
  }
  driftedNodes.set({ repository: repositoryKey(job.repo), environment: job.environment }, drifted.length);
  // The first few are named in the line; the drift issue lists every one.
  const named =
    unchecked
      .slice(0, 10)
      .map((u) => `${u.path}: ${u.reason}`)
      .join('; ') + (unchecked.length > 10 ? `; … ${unchecked.length - 10} more` : '');
  const notChecked = unchecked.length ? `, ${unchecked.length} not checked (${named})` : '';
  const line = `drift of ${job.environment}@${sha.slice(0, 7)}: ${result.nodes.length} checked, ${drifted.length} drifted, ${failed.length} failed${notChecked}${healed ? ', healed' : ''}`;
  if (unchecked.length || failed.length) log.warn({ run: result.runId }, line);
  else log.info({ run: result.runId }, line);
  const url = runUrl(deps.config, result.runId);
  const report = { environment: job.environment, sha, result, healed: false, ...(url ? { runUrl: url } : {}) };
  if (drifted.length) {
    await safely(log, 'drift issue', () => reporter.driftIssue(job.repo, job.environment, report));
    await alert(deps, job, sha, result, log);
  } else if (failed.length || unchecked.length) {
    await safely(log, 'drift issue', () => reporter.driftIssue(job.repo, job.environment, report));
  } else {
    await safely(log, 'drift issue close', () => reporter.driftIssue(job.repo, job.environment, null));
    await alertResolved(deps, job, sha, result, log);
  }
}

/**
 * Queues a notification (docs/controller.md, "Notifications") unless the environment's last one had the same
 * fingerprint (one per change, not per tick; null: resolved). Nothing is recorded while no webhook is configured.
 */
async function notifyOnChange(
  deps: JobDeps,
  job: DriftEnvironmentJob,
  fingerprint: string | null,
  notification: Notification,
  log: Logger,
): Promise<void> {
  const notifier = deps.notifier;
  if (!notifier?.enabled) return;
  await safely(log, 'drift notification', async () => {
    if (await deps.controllerStore.driftAlertChanged(job.repo, job.environment, fingerprint))
      await notifier.notify(notification);
  });
}

/** Drift that was notified is gone: say so once. */
async function alertResolved(
  deps: JobDeps,
  job: DriftEnvironmentJob,
  sha: string,
  result: RunResult,
  log: Logger,
): Promise<void> {
  await notifyOnChange(
    deps,
    job,
    null,
    {
      kind: 'drift-resolved',
      repository: repositoryKey(job.repo),
      environment: job.environment,
      commit: sha,
      runId: result.runId,
      counts: { ...result.summary },
      trigger: job.trigger,
    },
    log,
  );
}

/** Drift found, or changed since the last notification. */
async function alert(
  deps: JobDeps,
  job: DriftEnvironmentJob,
  sha: string,
  result: RunResult,
  log: Logger,
): Promise<void> {
  const nodes = result.nodes.filter((n) => n.state === 'drifted').map((n) => nodeOf(n, 'unmet'));
  const fingerprint = JSON.stringify(nodes.map((n) => [n.path, n.tasks ?? []]));
  await notifyOnChange(
    deps,
    job,
    fingerprint,
    {
      kind: 'drift-found',
      repository: repositoryKey(job.repo),
      environment: job.environment,
      commit: sha,
      runId: result.runId,
      counts: { ...result.summary },
      nodes,
      trigger: job.trigger,
    },
    log,
  );
}
