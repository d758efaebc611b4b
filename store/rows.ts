/** Mapping of database rows to the store's records. */
import type {
  LifecycleState,
  NodeRunRecord,
  RecordedNode,
  RunKind,
  RunRecord,
  RunStatus,
  TaskOutcome,
  TaskSpec,
} from '../kernel/types.js';

/** Timestamps leave the store as ISO 8601 strings. */
export function iso(value: Date | string): string;
export function iso(value: Date | string | null): string | null;
export function iso(value: Date | string | null): string | null {
  if (value === null) return null;
  return value instanceof Date ? value.toISOString() : new Date(value).toISOString();
}

/** A row of RECORDED_NODES in array mode. */
export type RecordedNodeTuple = [
  path: string,
  host: string | null,
  port: number | null,
  user: string | null,
  specHash: string,
  tasks: string,
  state: LifecycleState,
  reason: string | null,
  lastAppliedCommit: string | null,
  lastRunId: string | null,
  updatedAt: string,
  hostKey: string | null,
];

/**
 * Converts RECORDED_NODES rows, sorted by path. Nodes of the same roles have identical task lists: each distinct list
 * is parsed once and shared between those nodes (recorded state is read-only to its users).
 */
export function toRecordedNodes(rows: RecordedNodeTuple[]): RecordedNode[] {
  const parsed = new Map<string, TaskSpec[]>();
  const nodes = rows.map(
    ([
      path,
      host,
      port,
      user,
      specHash,
      tasksText,
      state,
      reason,
      lastAppliedCommit,
      lastRunId,
      updatedAt,
      hostKey,
    ]) => {
      let tasks = parsed.get(tasksText);
      if (!tasks) {
        tasks = JSON.parse(tasksText) as TaskSpec[];
        parsed.set(tasksText, tasks);
      }
      const node: RecordedNode = {
        path,
        host,
        port,
        user,
        specHash,
        tasks,
        state,
        reason,
        lastAppliedCommit,
        lastRunId,
        updatedAt,
      };
      // Only hosts with a provided key carry one: records of every other node look as they always did.
      if (hostKey !== null) node.hostKey = hostKey;
      return node;
    },
  );
  return nodes.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

export interface RunRow {
  id: string;
  repository: string;
  environment: string;
  commit: string | null;
  kind: RunKind;
  status: RunStatus;
  trigger: string;
  started_at: Date;
  finished_at: Date | null;
  summary: Record<string, number> | null;
}

/** Columns of a RunRow, for `FROM runs r JOIN repositories p ... JOIN environments e ...`. */
export const RUN_COLUMNS = `r.id::text AS id, p.key AS repository, e.name AS environment, r.commit, r.kind, r.status,
  r.trigger, r.started_at, r.finished_at, r.summary`;

export function toRunRecord(r: RunRow): RunRecord {
  return {
    id: r.id,
    repository: r.repository,
    environment: r.environment,
    commit: r.commit,
    kind: r.kind,
    status: r.status,
    trigger: r.trigger,
    startedAt: iso(r.started_at),
    finishedAt: iso(r.finished_at),
    summary: r.summary,
  };
}

export interface NodeRunRow {
  path: string;
  host: string | null;
  state: LifecycleState;
  reason: string | null;
  started_at: Date | null;
  finished_at: Date | null;
  log: string;
  tasks: {
    name: string;
    outcome: TaskOutcome;
    message: string | null;
    duration_ms: number | null;
    started_at: string | null;
  }[];
}

export function toNodeRunRecord(runId: string, r: NodeRunRow): NodeRunRecord {
  return {
    runId,
    path: r.path,
    host: r.host,
    state: r.state,
    reason: r.reason,
    startedAt: iso(r.started_at),
    finishedAt: iso(r.finished_at),
    log: r.log,
    tasks: r.tasks.map((t) => ({
      name: t.name,
      outcome: t.outcome,
      ...(t.message !== null ? { message: t.message } : {}),
      ...(t.duration_ms !== null ? { durationMs: t.duration_ms } : {}),
      ...(t.started_at !== null ? { startedAt: iso(t.started_at) } : {}),
    })),
  };
}
