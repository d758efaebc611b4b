/** The Postgres implementation of the state store (docs/cli.md): recorded nodes, runs, node runs, task results. */
import type pg from 'pg';
import type {
  EnvironmentLocks,
  LifecycleState,
  NodeUpdate,
  RecordedNode,
  RunKind,
  RunStatus,
  StateStore,
  TaskOutcome,
  TaskResult,
} from '../kernel/types.js';
import { createPgLocks } from './pg-locks.js';
import {
  iso,
  RUN_COLUMNS,
  toNodeRunRecord,
  toRecordedNodes,
  toRunRecord,
  type RecordedNodeTuple,
  type NodeRunRow,
  type RunRow,
} from './rows.js';
import * as SQL from './sql.js';
import { inTransaction } from './in-transaction.js';
import { createNodeWriter } from './node-writes.js';
import { recordTaskStarted } from './task-started.js';

const STATES: readonly LifecycleState[] = [
  'defined',
  'provisioning',
  'provisioned',
  'configuring',
  'ready',
  'failed',
  'blocked',
  'drifted',
  'terminating',
  'terminated',
];
const OUTCOMES: readonly TaskOutcome[] = ['already met', 'met', 'failed', 'unmet', 'skipped'];
const KINDS: readonly RunKind[] = ['apply', 'drift', 'plan-live'];
const FINAL_STATUSES: readonly RunStatus[] = ['succeeded', 'failed', 'cancelled'];

/** The state store plus what benchmarks and tools need beyond the StateStore port. */
export interface PgStateStore extends StateStore {
  /** Records many nodes in a few statements (seeding benchmarks, imports). Terminated nodes are removed. */
  bulkRecordNodes(repository: string, environment: string, nodes: RecordedNode[]): Promise<void>;
  readonly pool: pg.Pool;
  readonly locks: EnvironmentLocks;
  /** Statements sent for updateNode so far (writes of a wave share one; see store/node-writes.ts). */
  nodeWriteStatements(): number;
}

interface EnvIds {
  id: string;
  repositoryId: string;
}

function check<T extends string>(what: string, value: T, allowed: readonly T[]): void {
  if (!allowed.includes(value))
    throw new Error(`state store: unknown ${what} ${JSON.stringify(value)} (expected one of ${allowed.join(', ')})`);
}

/** Run ids are decimal bigserials; anything else cannot name a run. */
function runIdOk(runId: string): boolean {
  return /^[1-9]\d{0,18}$/.test(runId);
}

function requireRunId(where: string, runId: string): void {
  if (!runIdOk(runId)) throw new Error(`state store: ${where}: invalid run id ${JSON.stringify(runId)}`);
}

/** Finds or creates the repository and environment rows (created on first use), cached per store. */
function environmentIds(pool: pg.Pool): (repository: string, environment: string) => Promise<EnvIds> {
  const cache = new Map<string, Promise<EnvIds>>();
  const lookup = async (repository: string, environment: string): Promise<EnvIds> => {
    if (!repository || !environment) throw new Error('state store: repository and environment must be non-empty');
    const find = async () =>
      (await pool.query<{ id: string; repository_id: string }>(SQL.FIND_ENVIRONMENT, [repository, environment]))
        .rows[0];
    let row = await find();
    if (!row) {
      await pool.query(SQL.INSERT_REPOSITORY, [repository]);
      await pool.query(SQL.INSERT_ENVIRONMENT, [repository, environment]);
      row = await find();
    }
    if (!row) throw new Error(`state store: could not record environment ${environment} of ${repository}`);
    return { id: row.id, repositoryId: row.repository_id };
  };
  return (repository, environment) => {
    const key = JSON.stringify([repository, environment]);
    let ids = cache.get(key);
    if (!ids) {
      ids = lookup(repository, environment);
      cache.set(key, ids);
      ids.catch(() => cache.delete(key));
    }
    return ids;
  };
}

/** Checks a node update before it is written (alone or with its wave). */
function checkUpdate(path: string, u: NodeUpdate & { runId?: string }): void {
  check('lifecycle state', u.state, STATES);
  if (!path) throw new Error('state store: updateNode: empty node path');
  if (u.runId !== undefined && u.runId !== null) requireRunId('updateNode', u.runId);
}

/** One node's update in its own statement. */
async function updateNode(
  pool: pg.Pool,
  envId: string,
  path: string,
  u: NodeUpdate & { runId?: string },
): Promise<void> {
  const runId = u.runId ?? null;
  if (u.state === 'terminated') {
    await pool.query(SQL.TERMINATE_NODE, [envId, path, u.host ?? null, u.reason ?? null, runId]);
    return;
  }
  const applied = u.applied ?? null;
  await pool.query(SQL.UPDATE_NODE, [
    envId,
    path,
    u.host ?? null,
    u.port ?? null,
    u.user ?? null,
    u.host !== undefined,
    u.port !== undefined,
    u.user !== undefined,
    u.state,
    u.reason ?? null,
    applied !== null,
    applied?.specHash ?? '',
    JSON.stringify(applied?.tasks ?? []),
    applied?.commit ?? null,
    runId,
    u.hostKey ?? null,
    u.hostKey !== undefined,
  ]);
}

async function recordTask(
  pool: pg.Pool,
  runId: string,
  path: string,
  r: TaskResult & { startedAt?: string },
): Promise<void> {
  requireRunId('recordTask', runId);
  check('task outcome', r.outcome, OUTCOMES);
  const duration = r.durationMs === undefined ? null : Math.max(0, Math.round(r.durationMs));
  await pool.query(SQL.RECORD_TASK, [runId, path, r.name, r.outcome, r.message ?? null, duration, r.startedAt ?? null]);
}

async function finishRun(
  pool: pg.Pool,
  runId: string,
  status: RunStatus,
  summary: Record<string, number>,
): Promise<void> {
  requireRunId('finishRun', runId);
  check('final run status', status, FINAL_STATUSES);
  const res = await pool.query(SQL.FINISH_RUN, [runId, status, JSON.stringify(summary)]);
  if (res.rowCount !== 0) return;
  // Not running any more: closed as interrupted by another process (which found this run's owner dead), or unknown.
  const { rows } = await pool.query<RunRow>(SQL.GET_RUN(RUN_COLUMNS), [runId]);
  if (!rows[0]) throw new Error(`state store: finishRun: no run ${runId}`);
}

/** Bulk upserts in chunks inside one transaction: a few statements for ten thousand nodes. */
async function bulkRecordNodes(pool: pg.Pool, envId: string, nodes: RecordedNode[]): Promise<void> {
  const byPath = new Map<string, RecordedNode>();
  for (const n of nodes) {
    check('lifecycle state', n.state, STATES);
    byPath.set(n.path, n); // the last record of a path wins, as it would with one update per node
  }
  const live = [...byPath.values()].filter((n) => n.state !== 'terminated');
  const gone = [...byPath.values()].filter((n) => n.state === 'terminated').map((n) => n.path);
  await inTransaction(pool, async (client) => {
    for (let i = 0; i < live.length; i += 5000) {
      const rows = live.slice(i, i + 5000).map((n) => ({
        path: n.path,
        host: n.host,
        port: n.port ?? null,
        user: n.user ?? null,
        spec_hash: n.specHash,
        tasks: n.tasks,
        state: n.state,
        reason: n.reason ?? null,
        last_applied_commit: n.lastAppliedCommit,
        last_run_id: n.lastRunId,
        host_key: n.hostKey ?? null,
      }));
      await client.query(SQL.BULK_RECORD_NODES, [envId, JSON.stringify(rows)]);
    }
    if (gone.length) await client.query(SQL.DELETE_NODES, [envId, gone]);
  });
}

/** A StateStore on a pg pool; close() ends the pool. */
export function createPgStore(pool: pg.Pool): PgStateStore {
  // A connection the server ends (a failover, pg_terminate_backend) can make its client emit 'error' when no listener of
  // ours or the pool's is attached (between a transaction's end and the pool taking the client back). pg hands the
  // error to a running query anyway, and the pool still drops the client: this listener only keeps a late one from
  // ending the process.
  pool.on('connect', (client) => client.on('error', () => undefined));
  const envIds = environmentIds(pool);
  let single = 0;
  const writer = createNodeWriter(pool, (envId, path, u) => updateNode(pool, envId, path, u));
  return {
    pool,
    locks: createPgLocks(pool, envIds),
    async recordedNodes(repository, environment) {
      const { rows } = await pool.query<RecordedNodeTuple>({
        text: SQL.RECORDED_NODES,
        values: [repository, environment],
        rowMode: 'array',
      });
      return toRecordedNodes(rows);
    },
    async environments(repository) {
      const { rows } = await pool.query<{
        repository: string;
        environment: string;
        last_applied_commit: string | null;
        updated_at: Date;
      }>(SQL.ENVIRONMENTS, [repository ?? null]);
      return rows.map((r) => ({
        repository: r.repository,
        environment: r.environment,
        lastCommit: r.last_applied_commit,
        updatedAt: iso(r.updated_at),
      }));
    },
    async startRun(input) {
      check('run kind', input.kind, KINDS);
      const ids = await envIds(input.repository, input.environment);
      const { rows } = await pool.query<RunRow>(SQL.START_RUN, [
        ids.repositoryId,
        ids.id,
        input.commit,
        input.kind,
        input.trigger,
      ]);
      return toRunRecord({ ...rows[0], repository: input.repository, environment: input.environment });
    },
    async updateNode(repository, environment, path, update) {
      checkUpdate(path, update);
      const envId = (await envIds(repository, environment)).id;
      if (update.state !== 'terminated') return writer.write(envId, path, update);
      single++;
      await updateNode(pool, envId, path, update);
    },
    nodeWriteStatements: () => single + writer.statements(),
    recordTask: (runId, path, result) => recordTask(pool, runId, path, result),
    taskStarted: (runId, path, task) => recordTaskStarted(pool, runId, path, task),
    async appendLog(runId, path, text) {
      requireRunId('appendLog', runId);
      if (text) await pool.query(SQL.APPEND_LOG, [runId, path, text]);
    },
    finishRun: (runId, status, summary) => finishRun(pool, runId, status, summary),
    async getRun(runId) {
      if (!runIdOk(runId)) return null;
      const { rows } = await pool.query<RunRow>(SQL.GET_RUN(RUN_COLUMNS), [runId]);
      return rows[0] ? toRunRecord(rows[0]) : null;
    },
    async listRuns(filter) {
      const limit = Math.max(1, Math.min(filter.limit ?? 100, 10_000));
      const { rows } = await pool.query<RunRow>(SQL.LIST_RUNS(RUN_COLUMNS), [
        filter.repository ?? null,
        filter.environment ?? null,
        limit,
      ]);
      return rows.map(toRunRecord);
    },
    async nodeRuns(runId) {
      if (!runIdOk(runId)) return [];
      const { rows } = await pool.query<NodeRunRow>(SQL.NODE_RUNS, [runId]);
      return rows.map((r) => toNodeRunRecord(runId, r));
    },
    async taskSuccessRates(repository, environment) {
      const { rows } = await pool.query<{ task: string; runs: number; succeeded: number }>(SQL.TASK_SUCCESS_RATES, [
        repository,
        environment,
      ]);
      return rows;
    },
    async bulkRecordNodes(repository, environment, nodes) {
      await bulkRecordNodes(pool, (await envIds(repository, environment)).id, nodes);
    },
    async close() {
      if (!pool.ended) await pool.end();
    },
  };
}
