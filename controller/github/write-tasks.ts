/**
 * graphile-worker task for the GitHub write path, for the composition root to register: `github-write` drains every
 * write queue (`gh:<installation>`) with due writes; its payload is ignored. The
 * reporter's own worker already drains in-process; the job is a durable nudge (e.g. a cron every minute) so writes
 * left by a dead replica go out even when no process reports anything.
 */
import type { Task } from 'graphile-worker';
import { JOB_GITHUB_WRITE } from '../ports.js';
import type { GitHubReporter } from './reporter.js';

/** The `github-write` task handler. */
export function githubWriteTasks(deps: { reporter: GitHubReporter }): Record<string, Task> {
  return {
    [JOB_GITHUB_WRITE]: async () => {
      await deps.reporter.writes.drainAll();
    },
  };
}
