/** The `--json` document of `politburo plan` (docs/cli.md): one object, stable field order. */
import type { LifecycleState, Plan, PlanAction, PlanChange, PlannedNode, TaskSpec } from '../../kernel/types.js';
import { planRollouts } from '../../reconciler/rollout.js';

export interface PlanJsonTask {
  name: string;
  kind: TaskSpec['kind'];
}

export interface PlanJsonNode {
  path: string;
  host: string | null;
  action: PlanAction;
  /** The recorded lifecycle state, or `defined` for a node never applied. */
  state: LifecycleState;
  /** Why the node is failed / blocked / drifted, when it is. */
  reason: string | null;
  /** For updates: which tasks, arguments or host fields changed. */
  changes: string[];
  /** For an update of the spec: the same differences, structured (absent otherwise). */
  diff?: PlanChange[];
  tasks: PlanJsonTask[];
}

export interface PlanJson {
  environment: string;
  commit: string | null;
  repository?: string;
  nodes: PlanJsonNode[];
  /** Plan actions (create, update, unchanged, terminate) and recorded states (ready, drifted, failed, blocked, …). */
  summary: Record<string, number>;
  /** Rolling batches an apply would release, per rollout group (absent when no node to apply has a rollout). */
  rollouts?: PlanJsonRollout[];
}

export interface PlanJsonRollout {
  group: string;
  batch: number;
  maxFailures: number;
  /** Node paths of each batch, in release order. */
  batches: string[][];
}

/** The state shown for a planned node: what was recorded, else `defined`. */
export function plannedState(n: PlannedNode): LifecycleState {
  return n.recorded?.state ?? 'defined';
}

function jsonNode(n: PlannedNode): PlanJsonNode {
  const tasks = n.node?.tasks ?? n.recorded?.tasks ?? [];
  return {
    path: n.path,
    host: n.host,
    action: n.action,
    state: plannedState(n),
    reason: n.recorded?.reason ?? null,
    changes: n.changes,
    ...(n.diff ? { diff: n.diff } : {}),
    tasks: tasks.map((t) => ({ name: t.name, kind: t.kind })),
  };
}

/** Counts of plan actions, then of recorded states (ready, drifted, failed and blocked always present). */
function planSummary(plan: Plan): Record<string, number> {
  const summary: Record<string, number> = { ...plan.summary, ready: 0, drifted: 0, failed: 0, blocked: 0 };
  for (const n of plan.nodes) {
    const state = plannedState(n);
    summary[state] = (summary[state] ?? 0) + 1;
  }
  return summary;
}

/** Turns a plan into the document `plan --json` prints. */
export function planToJson(plan: Plan, extra: { repository?: string } = {}): PlanJson {
  const rollouts = planRollouts(plan).map((g): PlanJsonRollout => ({
    group: g.group,
    batch: g.batch,
    maxFailures: g.maxFailures,
    batches: g.batches,
  }));
  return {
    environment: plan.environment,
    commit: plan.commit,
    ...(extra.repository !== undefined ? { repository: extra.repository } : {}),
    nodes: plan.nodes.map(jsonNode),
    summary: planSummary(plan),
    ...(rollouts.length ? { rollouts } : {}),
  };
}
