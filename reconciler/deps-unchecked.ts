/**
 * Read-only dry runs (an `apply --all` check, `drift`, `plan --live`) do not look for the deps directory first
 * (ensureDeps runs a command of its own; docs/architecture.md, "apply --all: nodes checked in parallel", **Deps**): where
 * the connection says where the deps would be (`depsDirFor`), the dry run's Babushka command `cd`s there directly; only
 * when that `cd` fails (a new host, or deps changed since they were shipped) are they shipped, as a run ships them, and
 * the node dry-run again. Tasks with `become` and connections that cannot say (the local machine) ship the deps first,
 * as a run does; a real run always does.
 */
import { connectNode, depsHashOf, type EngineRun, type HostInfo } from './run-engine.js';
import type { HostConnection, ResolvedNode } from '../kernel/types.js';

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
  if (babushka.length === 0 || babushka.some((t) => t.become)) return connectNode(run, node, host);
  const conn = await host.connector.connect(host.target);
  const dir = conn.depsDirFor?.(await depsHashOf(run));
  return dir ? { conn, remoteDepsDir: dir, unchecked: dir } : connectNode(run, node, host);
}

/** Whether a failed task's output is its shell refusing to `cd` into the deps directory `dir` (bash, dash). */
export function depsMissing(message: string | undefined, dir: string): boolean {
  return (message ?? '').split('\n').some((l) => /\bcd\b/.test(l) && l.includes(dir));
}

/** The log line of a dry run that found the deps missing at `dir`, shipped them and ran again. */
export function depsShippedNote(dir: string): string {
  return `--- the deps were not on the host (${dir}): shipped, then checked\n`;
}
