/**
 * What the job handlers need from the composition root (controller/main.ts), and small helpers they share.
 */
import type pg from 'pg';
import type { ControllerConfig } from '../config.js';
import type { Logger } from '../logger.js';
import type { GitReader, Reporter, RepoRef } from '../ports.js';
import type { HostConnector, StateStore } from '../../kernel/types.js';
import type { HostConnectorOptions } from '../../hosts/ssh-connector.js';
import { createLogReporter } from './log-reporter.js';

export interface JobDeps {
  pool: pg.Pool;
  store: StateStore;
  /** GitHub reporting; poll-mode repositories (no owner) always report to the log instead. */
  reporter: Reporter;
  /** The git port, plus what the mirror reader offers beyond it (optional, for other implementations). */
  git: GitReader & {
    remoteDefaultBranch?(repo: RepoRef): Promise<string | null>;
    mergeBase?(repo: RepoRef, a: string, b: string): Promise<string | null>;
  };
  config: ControllerConfig;
  logger: Logger;
  /** Host connector factory (default: the SSH connector). */
  connector?: (opts: HostConnectorOptions) => HostConnector;
  /** POST for drift alerts (default: global fetch). */
  fetch?: typeof fetch;
}

/** The repository key runs and nodes are recorded under: `owner/name` on GitHub, the path or URL in poll mode. */
export function stateRepository(repo: RepoRef): string {
  return repo.owner ? `${repo.owner}/${repo.name}` : repo.name;
}

/** The reporter for a repository: GitHub for GitHub repositories, the log for poll-mode ones. */
export function reporterFor(deps: JobDeps, repo: RepoRef): Reporter {
  if (repo.owner) return deps.reporter;
  logReporters.set(deps.logger, logReporters.get(deps.logger) ?? createLogReporter(deps.logger));
  return logReporters.get(deps.logger)!;
}
const logReporters = new WeakMap<Logger, Reporter>();

/** The dashboard page of a run, for check details links. */
export function runUrl(config: ControllerConfig, runId: string | null | undefined): string | undefined {
  if (!runId || !config.publicUrl) return undefined;
  return `${config.publicUrl}/runs/${encodeURIComponent(runId)}`;
}

/** Reports never fail a reconcile: failures are logged; the durable write path retries them. */
export async function safely(log: Logger, what: string, work: () => Promise<unknown>): Promise<void> {
  try {
    await work();
  } catch (err) {
    log.warn({ err }, `reporting failed: ${what}`);
  }
}

/** A RepoRef from a webhook payload's `repository` (and `installation`). */
export function repoFromPayload(payload: any): RepoRef | null {
  const r = payload?.repository;
  if (!r || typeof r.name !== 'string' || typeof r.owner?.login !== 'string') return null;
  const ref: RepoRef = {
    owner: r.owner.login,
    name: r.name,
    cloneUrl: typeof r.clone_url === 'string' ? r.clone_url : `https://github.com/${r.owner.login}/${r.name}.git`,
    defaultBranch: typeof r.default_branch === 'string' ? r.default_branch : 'main',
  };
  if (typeof payload.installation?.id === 'number') ref.installationId = payload.installation.id;
  return ref;
}
