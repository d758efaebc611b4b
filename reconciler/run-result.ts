/** The result of a run as the CLI prints it and the controller reports it: nodes, summary, status. */
import type { LifecycleState, NodeResult, RolloutStop, RunKind, RunResult, RunStatus } from '../kernel/types.js';

/** Nodes by lifecycle state; ready, drifted, failed and blocked are always present. */
function summarise(nodes: { state: LifecycleState }[]): Record<string, number> {
  const summary: Record<string, number> = { ready: 0, drifted: 0, failed: 0, blocked: 0 };
  for (const n of nodes) summary[n.state] = (summary[n.state] ?? 0) + 1;
  return summary;
}

/** succeeded unless a node failed or was blocked (failed) or the run was interrupted (cancelled). */
function runStatus(nodes: NodeResult[], interrupted: boolean): RunStatus {
  if (interrupted) return 'cancelled';
  return nodes.some((n) => n.state === 'failed' || n.state === 'blocked') ? 'failed' : 'succeeded';
}

/** Builds the RunResult of a finished run. */
export function buildResult(input: {
  runId: string | null;
  kind: RunKind;
  environment: string;
  commit: string | null;
  nodes: NodeResult[];
  interrupted: boolean;
  startedMs: number;
  /** Rollouts that stopped (docs/language.md, "Rolling batches"). */
  rollouts?: RolloutStop[];
}): RunResult {
  const summary = summarise(input.nodes);
  if (input.interrupted) summary.interrupted = input.nodes.filter((n) => n.reason?.startsWith('Interrupted')).length;
  return {
    runId: input.runId,
    kind: input.kind,
    environment: input.environment,
    commit: input.commit,
    status: runStatus(input.nodes, input.interrupted),
    nodes: input.nodes,
    summary,
    durationMs: Date.now() - input.startedMs,
    ...(input.rollouts?.length ? { rollouts: input.rollouts } : {}),
  };
}

/**
 * One line per run: "applied production@1a2b3c4: 12 ready, 1 failed, 2 blocked in 41s", followed by where each stopped
 * rollout stopped: "; rollout of web stopped after batch 2 of 3: 1 failure exceeds max_failures 0".
 */
export function summaryLine(verb: string, r: RunResult): string {
  const parts = Object.entries(r.summary)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `${n} ${s}`);
  const at = r.commit ? `@${r.commit.slice(0, 7)}` : '';
  const stops = (r.rollouts ?? []).map((s) => `; ${s.reason}`).join('');
  return `${verb} ${r.environment}${at}: ${parts.length ? parts.join(', ') : 'nothing to do'} in ${(r.durationMs / 1000).toFixed(1)}s${stops}`;
}
