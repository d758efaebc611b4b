/**
 * Read-only dry runs (an `apply --all` check, `drift`, `plan --live`) do not look for the deps directory first
 * (ensureDeps runs a command of its own; docs/architecture.md, "apply --all: nodes checked in parallel", **Deps**): where
 * the connection says where the deps would be (`depsDirFor`), the dry run's Babushka command `cd`s there directly; only
 * when that `cd` fails (a new host, or deps changed since they were shipped) are they shipped, as a run ships them, and
 * the node dry-run again. Tasks with `become` and connections that cannot say (the local machine) ship the deps first,
 * as a run does; a real run always does.
 */
import { connectAhead, connectNode, depsHashOf, type EngineRun, type HostInfo } from './run-engine.js';
import type { HostConnection, ResolvedNode, TaskResult } from '../kernel/types.js';

/**
 * A dry run's connection and deps directory: like a run's (connectNode), except that the deps are not looked for first
 * when the connection says where they would be (`unchecked`: that path).
 */
export async function connectDepsUnchecked(
  run: EngineRun,
  node: ResolvedNode,
  host: HostInfo,
): Promise<{ conn: HostConnection; remoteDepsDir: string | null; unchecked?: string }> {
  const babushka = node.tasks.filter((t) => t.kind === 'babushka');
  const connect = () => connectAhead(run, host);
  if (babushka.length === 0 || babushka.some((t) => t.become)) return connectNode(run, node, host, connect);
  const conn = await connect();
  const dir = conn.depsDirFor?.(await depsHashOf(run));
  return dir ? { conn, remoteDepsDir: dir, unchecked: dir } : connectNode(run, node, host, connect);
}

/** Whether a failed task's output is its shell refusing to `cd` into the deps directory `dir` (bash, dash). */
export function depsMissing(message: string | undefined, dir: string): boolean {
  return (message ?? '').split('\n').some((l) => /\bcd\b/.test(l) && l.includes(dir));
}

/** The log line of a dry run that found the deps missing at `dir`, shipped them and ran again. */
export function depsShippedNote(dir: string): string {
  return `--- the deps were not on the host (${dir}): shipped, then checked\n`;
}

/** What runNodeTasks reports as it goes. */
export interface TaskCallbacks {
  onTaskStart(name: string): void;
  onTaskFinished(r: TaskResult): void;
  onLog(text: string): void;
}

/**
 * Passes a dry run's progress on to `live` once it is known that the deps were found at `dir`, holding it back until
 * then: until the first Babushka step (one task, or a batch in one process) writes output other than its `cd` failing,
 * or one of its tasks finishes any other way. When its first task fails because the `cd` failed (`missing`), what was
 * held and everything after is dropped: that attempt leaves no trace, and the caller ships the deps and runs again.
 * Shell tasks before that step are held with it (their output and records would otherwise outlive a dropped attempt).
 * `release` passes on what is held; call it when the attempt ends (it does nothing once `missing`).
 */
export function holdUntilDepsFound(
  node: ResolvedNode,
  dir: string,
  live: TaskCallbacks,
): TaskCallbacks & { readonly missing: boolean; release(): void } {
  // The first Babushka step starts once the (shell) tasks before it have finished.
  const before = node.tasks.findIndex((t) => t.kind === 'babushka');
  let finished = 0;
  let state: 'held' | 'live' | 'missing' = before < 0 ? 'live' : 'held';
  let held: (() => void)[] = [];
  const release = () => {
    if (state !== 'held') return;
    state = 'live';
    for (const f of held) f();
    held = [];
  };
  const pass = (f: () => void) => {
    if (state === 'live') f();
    else if (state === 'held') held.push(f);
  };
  return {
    get missing() {
      return state === 'missing';
    },
    release,
    onTaskStart: (name) => pass(() => live.onTaskStart(name)),
    onLog: (text) => {
      // Babushka's output reaches us only once the `cd` succeeded; the shell's refusal comes on its own.
      if (state === 'held' && finished >= before && !depsMissing(text, dir)) release();
      pass(() => live.onLog(text));
    },
    onTaskFinished: (r) => {
      if (state === 'held' && finished >= before) {
        if (r.outcome === 'failed' && depsMissing(r.message, dir)) {
          state = 'missing';
          held = [];
        } else release();
      }
      finished++;
      pass(() => live.onTaskFinished(r));
    },
  };
}
