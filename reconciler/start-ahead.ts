/**
 * Babushka started ahead (docs/babushka.md, "Started ahead"; docs/architecture.md). Once every dependency of a node in
 * the run is under way (past its own Babushka's start-up) or settled, the node's first Babushka process is started on its host and held before it loads a
 * dep (the connection's `hold`); when the scheduler runs the node, its task's exec of the same command releases that
 * process instead of starting one, so Ruby's and Babushka's start-up is off the critical path. A node that settles
 * without running (blocked, interrupted) has its held process ended; so has one whose command changed meanwhile.
 */
import type { HostConnection, ResolvedNode } from '../kernel/types.js';
import { hostOf, warmNode, type EngineRun } from './run-engine.js';
import { firstBabushkaCommand, mayHoldFirst } from './tasks/run-node-tasks.js';

export interface AheadNode {
  path: string;
  node: ResolvedNode;
  /** Whether the node may be started ahead at all (it is configured in dependency order, on a host it has now). */
  eligible: boolean;
}

export interface StartAhead {
  /**
   * The node is under way (its Babushka printed its first output, or it runs no Babushka), or it settled: its
   * dependents may be started ahead. Called again for the same node, it does nothing.
   */
  started(path: string): void;
  /** The node settled: a process held for it and not released is ended. */
  settled(path: string): void;
  /**
   * Resolves once the node's process started ahead, if any, is on its way (its connection's `hold` called), so the
   * node's own first exec finds it. Its dependencies have all started by then, so whatever was to be held is known.
   */
  placed(path: string): Promise<void>;
}

/** Holds placed at once (each may connect to its host and ship the deps first, as prewarming does a few at a time). */
const PARALLEL = 8;

export function startAhead(run: EngineRun, nodes: AheadNode[]): StartAhead {
  const inRun = new Set(nodes.map((n) => n.path));
  const dependents = new Map<string, AheadNode[]>();
  const waiting = new Map<string, number>();
  for (const n of nodes) {
    const deps = new Set(n.node.dependsOn.map((d) => d.path).filter((p) => inRun.has(p)));
    // A node with nothing to wait for starts at once: nothing to win. Only Babushka as the SSH user or root is held.
    if (!n.eligible || deps.size === 0 || !mayHoldFirst(n.node)) continue;
    waiting.set(n.path, deps.size);
    for (const d of deps) {
      const list = dependents.get(d);
      if (list) list.push(n);
      else dependents.set(d, [n]);
    }
  }
  const seen = new Set<string>();
  const held = new Map<string, Promise<{ conn: HostConnection; command: string } | null>>();
  /** Nodes that run or settled: not to be held any more. */
  const over = new Set<string>();
  const queue: AheadNode[] = [];
  let next = 0; // queue[next] is the first not taken yet
  let inFlight = 0;

  const hold = async (n: AheadNode) => {
    const host = hostOf(run, n.node);
    if (!host || run.input.signal?.aborted) return null;
    const { conn, remoteDepsDir } = await warmNode(run, n.node, host);
    if (!conn.hold || over.has(n.path)) return null;
    const command = firstBabushkaCommand(n.node, {
      dryRun: false,
      remoteDepsDir,
      timeoutMs: run.env.defaults.timeoutMs,
      secrets: run.input.secrets,
      addresses: run.addresses,
    });
    // Only a process this node started is this node's to end (another node's run may release one of the same command).
    return command !== null && conn.hold(command) ? { conn, command } : null;
  };
  const pump = () => {
    while (inFlight < PARALLEL && next < queue.length) {
      const n = queue[next++];
      if (over.has(n.path)) continue;
      inFlight++;
      const h = hold(n)
        .catch(() => null) // errors surface when the node itself runs
        .finally(() => {
          inFlight--;
          pump();
        });
      held.set(n.path, h);
    }
  };

  const started = (path: string) => {
    if (seen.has(path)) return;
    seen.add(path);
    for (const n of dependents.get(path) ?? []) {
      const left = waiting.get(n.path)! - 1;
      waiting.set(n.path, left);
      if (left === 0 && !over.has(n.path)) queue.push(n);
    }
    pump();
  };
  return {
    started,
    placed: async (path) => {
      const h = held.get(path);
      if (h) await h;
      else over.add(path); // still queued: it runs now, unheld
    },
    settled(path) {
      started(path);
      over.add(path);
      void held.get(path)?.then((h) => h?.conn.discard?.(h.command));
      held.delete(path);
    },
  };
}
