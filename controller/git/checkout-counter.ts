/**
 * Counts the checkouts made through a git port, as `politburo_git_checkouts_total` on `GET /metrics` (the metrics of
 * docs/configuration.md). A push costs one checkout in queueApplies and one per apply job of an environment it changed;
 * the
 * count shows when a change makes jobs load their commits again.
 */
import client from 'prom-client';
import { registry } from '../metrics.js';
import type { GitReader } from '../ports.js';

/** Checkouts of commits (each one a fresh directory written from the mirror). */
const gitCheckouts = new client.Counter({
  name: 'politburo_git_checkouts_total',
  help: 'Commits checked out from the git mirrors (each job loads its commit once)',
  registers: [registry],
});

/** The same git port, every checkout counted. */
export function countCheckouts<G extends GitReader>(git: G): G {
  return {
    ...git,
    checkout: async (repo, sha) => {
      const done = await git.checkout(repo, sha);
      gitCheckouts.inc();
      return done;
    },
  };
}
