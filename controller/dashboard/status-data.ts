/**
 * What the dashboard says about an environment at a glance (docs/controller.md, "The dashboard"): whether it is at
 * its branch head, its last drift check, its apply policy, what waits for release, who released what, and its
 * deployments on GitHub. Read-only queries over the controller's tables.
 *
 * The branch head is the newest commit the controller has seen on the branch the environment follows: the last push
 * delivered for `refs/heads/BRANCH`, or the poll head of a polled repository, whichever is newer. The branch is the
 * environment's `branch` as described at its last applied commit when the page knows it, else the repository's
 * default branch (recorded with the environment's drift schedule at each push).
 */
import type { Queryable } from '../../store/in-transaction.js';

export type SyncState =
  /** The last applied commit is the branch head, or the head was handled and changes nothing here. */
  | 'in-sync'
  /** The branch head is newer than what is applied and nothing is under way. */
  | 'out-of-sync'
  /** An apply of the head is queued or running. */
  | 'applying'
  /** A manual environment: the head waits for `/politburo apply ENV`. */
  | 'waiting-release'
  /** Suspended: the head is not applied until the suspension is lifted. */
  | 'suspended'
  /** Described at a pushed head but never applied. */
  | 'never-applied'
  /** No branch head is known (no push or poll recorded yet). */
  | 'unknown';

export interface DriftCheck {
  runId: string;
  at: string;
  status: 'running' | 'succeeded' | 'failed' | 'cancelled';
  /** Nodes found drifted (after healing), and healed. */
  drifted: number;
  healed: number;
}

export interface EnvironmentStatus {
  repository: string;
  environment: string;
  branch: string | null;
  head: { sha: string; seenAt: string; source: 'push' | 'poll' } | null;
  applied: string | null;
  sync: SyncState;
  /** Known from a push handled at a commit (its drift schedule), even if never applied. */
  described: boolean;
  lastDrift: DriftCheck | null;
  policy: { apply: 'auto' | 'manual'; suspend: boolean; commit: string } | null;
  /** Commits waiting for release, oldest first. */
  waiting: { commit: string; since: string; planSummary: string }[];
  /** Recent releases: who released which commit, when. */
  released: { commit: string; by: string; at: string }[];
  /** The environment's deployments on GitHub (null: none recorded). */
  deployment: { url: string; state: string | null; commit: string } | null;
}

export interface StatusReader {
  /** Every environment recorded or described (at a handled push), with its status. */
  overview(): Promise<EnvironmentStatus[]>;
  /** One environment; `branch`: the branch it follows as described (undefined: the repository's default). */
  environment(repository: string, environment: string, branch?: string): Promise<EnvironmentStatus>;
  /** The environment's status signature (statusSignature). */
  signature(repository: string, environment: string): Promise<string>;
  /** The front page's (overviewSignature). */
  overviewSignature(): Promise<string>;
}

interface Known {
  repository: string;
  environment: string;
  applied: string | null;
  described: boolean;
  defaultBranch: string | null;
}

const GITHUB_KEY = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/;

async function tableExists(db: Queryable, name: string): Promise<boolean> {
  const { rows } = await db.query<{ ok: boolean }>('SELECT to_regclass($1) IS NOT NULL AS ok', [name]);
  return rows[0].ok;
}

async function knownEnvironments(db: Queryable, repository?: string, environment?: string): Promise<Known[]> {
  const { rows } = await db.query<{
    repository: string;
    environment: string;
    applied: string | null;
    described: boolean;
    default_branch: string | null;
  }>(
    `WITH known AS (
       SELECT r.key AS repository, e.name AS environment, e.last_applied_commit AS applied
         FROM environments e JOIN repositories r ON r.id = e.repository_id)
     SELECT coalesce(k.repository, d.repository) AS repository, coalesce(k.environment, d.environment) AS environment,
            k.applied, d.repository IS NOT NULL AS described, d.repo->>'defaultBranch' AS default_branch
       FROM known k FULL JOIN drift_schedules d ON d.repository = k.repository AND d.environment = k.environment
      WHERE ($1::text IS NULL OR coalesce(k.repository, d.repository) = $1)
        AND ($2::text IS NULL OR coalesce(k.environment, d.environment) = $2)
      ORDER BY 1, 2`,
    [repository ?? null, environment ?? null],
  );
  return rows.map((r) => ({
    repository: r.repository,
    environment: r.environment,
    applied: r.applied,
    described: r.described,
    defaultBranch: r.default_branch,
  }));
}

/** The branch head (see the module comment) and, for a push, how its delivery was handled. */
async function branchHead(
  db: Queryable,
  repository: string,
  branch: string,
): Promise<{ sha: string; seenAt: string; source: 'push' | 'poll'; outcome: string | null } | null> {
  const [push, poll] = await Promise.all([
    db.query<{ sha: string; at: Date; outcome: string | null }>(
      `SELECT payload->>'after' AS sha, received_at AS at, outcome FROM (
         SELECT payload, received_at, outcome FROM webhook_deliveries
          WHERE repository = $1 AND event = 'push' ORDER BY received_at DESC LIMIT 200) recent
        WHERE payload->>'ref' = 'refs/heads/' || $2 AND coalesce(payload->>'deleted', 'false') <> 'true'
        ORDER BY received_at DESC LIMIT 1`,
      [repository, branch],
    ),
    db.query<{ sha: string; at: Date }>(
      'SELECT sha, updated_at AS at FROM poll_heads WHERE repository = $1 AND branch = $2',
      [repository, branch],
    ),
  ]);
  const p = push.rows[0];
  const q = poll.rows[0];
  if (p && (!q || p.at >= q.at)) return { sha: p.sha, seenAt: p.at.toISOString(), source: 'push', outcome: p.outcome };
  if (q) return { sha: q.sha, seenAt: q.at.toISOString(), source: 'poll', outcome: null };
  return null;
}

/** Whether a handled push's outcome (controller/jobs/handlers/apply-branch-head.ts) names the environment. */
export function outcomeFor(outcome: string, environment: string): 'queued' | 'waiting' | 'suspended' | 'none' {
  for (const part of outcome.split('; ')) {
    if (part.startsWith('queued: ') && part.slice('queued: '.length).split(', ').includes(environment)) return 'queued';
    if (part === `${environment} waits for release`) return 'waiting';
    if (part === `${environment} is suspended`) return 'suspended';
  }
  return 'none';
}

type Heads = Map<string, ReturnType<typeof branchHead>>;

async function statusOf(db: Queryable, k: Known, branchGiven: string | undefined, deployments: boolean, heads: Heads) {
  const branch = branchGiven ?? k.defaultBranch;
  // One read per repository and branch, however many environments follow it.
  const headOf = (b: string) => {
    const key = `${k.repository}\0${b}`;
    let h = heads.get(key);
    if (!h) heads.set(key, (h = branchHead(db, k.repository, b)));
    return h;
  };
  const [head, drift, policy, releases, running, deployment] = await Promise.all([
    branch ? headOf(branch) : Promise.resolve(null),
    db.query<{ id: string; status: DriftCheck['status']; summary: Record<string, number> | null; at: Date }>(
      `SELECT ru.id::text AS id, ru.status, ru.summary, ru.started_at AS at
         FROM runs ru JOIN environments e ON e.id = ru.environment_id JOIN repositories r ON r.id = e.repository_id
        WHERE r.key = $1 AND e.name = $2 AND ru.kind = 'drift' ORDER BY ru.id DESC LIMIT 1`,
      [k.repository, k.environment],
    ),
    db.query<{ commit: string; apply: 'auto' | 'manual'; suspend: boolean }>(
      'SELECT commit, apply, suspend FROM applied_policies WHERE repository = $1 AND environment = $2',
      [k.repository, k.environment],
    ),
    db.query<{
      commit: string;
      created_at: Date;
      plan_summary: string;
      released_by: string | null;
      released_at: Date | null;
      superseded_by: string | null;
    }>(
      `SELECT commit, created_at, plan_summary, released_by, released_at, superseded_by FROM releases
        WHERE repository = $1 AND environment = $2 ORDER BY created_at DESC LIMIT 50`,
      [k.repository, k.environment],
    ),
    db.query<{ commit: string | null }>(
      `SELECT ru.commit FROM runs ru JOIN environments e ON e.id = ru.environment_id JOIN repositories r ON r.id = e.repository_id
        WHERE r.key = $1 AND e.name = $2 AND ru.kind = 'apply' AND ru.status = 'running'`,
      [k.repository, k.environment],
    ),
    deployments && GITHUB_KEY.test(k.repository)
      ? db.query<{ commit: string; state: string | null }>(
          `SELECT commit, state FROM github_deployments
            WHERE repository = $1 AND environment = $2 AND deployment_id IS NOT NULL ORDER BY created_at DESC LIMIT 1`,
          [k.repository, k.environment],
        )
      : Promise.resolve({ rows: [] as { commit: string; state: string | null }[] }),
  ]);
  const d = drift.rows[0];
  const p = policy.rows[0];
  const waiting = releases.rows
    .filter((r) => r.released_at === null && r.superseded_by === null)
    .reverse()
    .map((r) => ({ commit: r.commit, since: r.created_at.toISOString(), planSummary: r.plan_summary }));
  const released = releases.rows
    .filter((r) => r.released_at !== null && r.released_by !== null)
    .slice(0, 10)
    .map((r) => ({ commit: r.commit, by: r.released_by!, at: r.released_at!.toISOString() }));
  const dep = deployment.rows[0];
  const sync = syncState({
    applied: k.applied,
    head,
    environment: k.environment,
    waiting: waiting.map((w) => w.commit),
    running: running.rows.map((r) => r.commit),
    suspended: p?.suspend ?? false,
  });
  const status: EnvironmentStatus = {
    repository: k.repository,
    environment: k.environment,
    branch: branch ?? null,
    head: head ? { sha: head.sha, seenAt: head.seenAt, source: head.source } : null,
    applied: k.applied,
    sync,
    described: k.described,
    lastDrift: d
      ? {
          runId: d.id,
          at: d.at.toISOString(),
          status: d.status,
          drifted: d.summary?.drifted ?? 0,
          healed: d.summary?.healed ?? 0,
        }
      : null,
    policy: p ? { apply: p.apply, suspend: p.suspend, commit: p.commit } : null,
    waiting,
    released,
    deployment: dep
      ? {
          url: `https://github.com/${k.repository}/deployments/${encodeURIComponent(k.environment)}`,
          state: dep.state,
          commit: dep.commit,
        }
      : null,
  };
  return status;
}

/**
 * What the status at a glance depends on beyond runs and recorded nodes, in one short text that changes when any of it
 * does: the repository's newest push delivery (and how it was handled) and poll head, the environment's releases
 * (waiting, released, superseded) and its applied policy. Runs are announced by the change feed; these are not, so the
 * live updates read this every few seconds while a page shows the environment (docs/controller.md, "Live updates").
 */
export async function statusSignature(db: Queryable, repository: string, environment: string): Promise<string> {
  const { rows } = await db.query<{ sig: string }>(
    `SELECT concat_ws('|',
       (SELECT concat(received_at, ':', outcome) FROM webhook_deliveries
         WHERE repository = $1 AND event = 'push' ORDER BY received_at DESC LIMIT 1),
       (SELECT max(updated_at)::text FROM poll_heads WHERE repository = $1),
       (SELECT concat(count(*), ':', max(created_at), ':', max(released_at), ':', count(superseded_by)) FROM releases
         WHERE repository = $1 AND environment = $2),
       (SELECT concat(commit, ':', apply, ':', suspend) FROM applied_policies
         WHERE repository = $1 AND environment = $2)) AS sig`,
    [repository, environment],
  );
  return rows[0].sig;
}

/**
 * The same for the front page, over every environment, as an opaque hash (a viewer may not read every repository): each
 * repository's newest push delivery and when it was handled, the poll heads, the releases and the applied policies.
 * Each part is read through an index or from a small table.
 */
export async function overviewSignature(db: Queryable): Promise<string> {
  const { rows } = await db.query<{ sig: string }>(
    `SELECT md5(concat_ws('|',
       (SELECT string_agg(concat(r.key, '@', w.received_at, ':', w.processed_at), ',' ORDER BY r.key)
          FROM (SELECT key FROM repositories UNION SELECT repository FROM drift_schedules) r
          CROSS JOIN LATERAL (SELECT received_at, processed_at FROM webhook_deliveries d
                               WHERE d.repository = r.key AND d.event = 'push' ORDER BY received_at DESC LIMIT 1) w),
       (SELECT max(updated_at)::text FROM poll_heads),
       (SELECT concat(count(*), ':', max(created_at), ':', max(released_at), ':', count(superseded_by)) FROM releases),
       (SELECT concat(count(*), ':', max(recorded_at)) FROM applied_policies))) AS sig`,
  );
  return rows[0].sig;
}

/** The sync rule (see SyncState), pure. */
export function syncState(s: {
  applied: string | null;
  head: { sha: string; outcome: string | null } | null;
  environment: string;
  waiting: string[];
  running: (string | null)[];
  suspended: boolean;
}): SyncState {
  if (s.applied === null) return s.waiting.length ? 'waiting-release' : 'never-applied';
  if (!s.head) return 'unknown';
  if (s.applied === s.head.sha) return 'in-sync';
  if (s.waiting.includes(s.head.sha)) return 'waiting-release';
  if (s.running.includes(s.head.sha)) return 'applying';
  const handled = s.head.outcome === null ? 'none' : outcomeFor(s.head.outcome, s.environment);
  if (handled === 'queued') return 'applying';
  if (handled === 'waiting') return 'waiting-release';
  if (handled === 'suspended' || s.suspended) return 'suspended';
  // A handled push that queued nothing for this environment changed nothing in it: its nodes are as described there.
  if (s.head.outcome !== null && !s.head.outcome.startsWith('ignored') && s.head.outcome !== 'invalid')
    return 'in-sync';
  return 'out-of-sync';
}

/** Creates the reader over the controller's database. */
export function createStatusReader(db: Queryable): StatusReader {
  return {
    async overview() {
      const [known, deployments] = await Promise.all([knownEnvironments(db), tableExists(db, 'github_deployments')]);
      const heads: Heads = new Map();
      return Promise.all(known.map((k) => statusOf(db, k, undefined, deployments, heads)));
    },
    async environment(repository, environment, branch) {
      const [known, deployments] = await Promise.all([
        knownEnvironments(db, repository, environment),
        tableExists(db, 'github_deployments'),
      ]);
      const k = known[0] ?? { repository, environment, applied: null, described: false, defaultBranch: null };
      return statusOf(db, k, branch, deployments, new Map());
    },
    signature: (repository, environment) => statusSignature(db, repository, environment),
    overviewSignature: () => overviewSignature(db),
  };
}
