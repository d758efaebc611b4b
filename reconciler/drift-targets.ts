/**
 * What a drift check looks at: every recorded node, as described at the commit it was last applied from (so its
 * recorded spec, that commit's deps and addresses), and the recorded nodes it cannot look at, each with the reason.
 */
import { closeExtraConnectors, createEngineRun, hostOf, type EngineRun } from './run-engine.js';
import type { Description, RecordedNode, ResolvedNode, UncheckedNode } from '../kernel/types.js';

/** The description of the environment's repository at a commit; rejects with a message saying why it cannot be had. */
export type DescriptionAt = (commit: string) => Promise<Description>;

/** A node to dry-run, with the run state of the commit it was applied from. */
export interface DriftTarget {
  path: string;
  /** Host label (`local` or the address). */
  host: string;
  node: ResolvedNode;
  recorded: RecordedNode;
  /** The run at the node's commit: shares the run id and the results of the drift run. */
  run: EngineRun;
}

export interface DriftTargets {
  targets: DriftTarget[];
  unchecked: UncheckedNode[];
  /** Closes what the per-commit runs opened. */
  close(): Promise<void>;
}

/** Resolves every recorded node of the run to the description it was applied from (see module comment). */
export async function driftTargets(run: EngineRun, descriptionAt?: DescriptionAt): Promise<DriftTargets> {
  const runs = new Map<string, Promise<EngineRun | string>>();
  const targets: DriftTarget[] = [];
  const unchecked: UncheckedNode[] = [];
  for (const rec of sortedRecorded(run)) {
    const found = await targetOf(
      run,
      rec,
      (commit) => {
        if (!runs.has(commit)) runs.set(commit, runAt(run, commit, descriptionAt!));
        return runs.get(commit)!;
      },
      !!descriptionAt,
    );
    if ('reason' in found) unchecked.push(found);
    else targets.push(found);
  }
  return {
    targets,
    unchecked,
    async close() {
      for (const r of await Promise.all(runs.values())) if (typeof r !== 'string') await closeExtraConnectors(r);
    },
  };
}

/** Recorded nodes in the order the run's environment describes them, then the others by path. */
function sortedRecorded(run: EngineRun): RecordedNode[] {
  const order = new Map(run.env.nodes.map((n, i) => [n.path, i]));
  const rank = (p: string) => order.get(p) ?? Number.MAX_SAFE_INTEGER;
  return [...run.recorded.values()].sort((a, b) => rank(a.path) - rank(b.path) || a.path.localeCompare(b.path));
}

async function targetOf(
  run: EngineRun,
  rec: RecordedNode,
  at: (commit: string) => Promise<EngineRun | string>,
  canLoad: boolean,
): Promise<DriftTarget | UncheckedNode> {
  const skip = (reason: string): UncheckedNode => ({ path: rec.path, host: rec.host, reason });
  if (!rec.specHash) return skip(`never applied (recorded ${rec.state}${rec.reason ? `: ${rec.reason}` : ''})`);
  const commit = rec.lastAppliedCommit;
  const own = commit === null || commit === run.input.commit;
  // Without a way to read other commits, the run's own description stands in when it describes exactly the same spec.
  const source = own || !canLoad ? run : await at(commit);
  if (typeof source === 'string') return skip(source);
  const where = source.input.commit ? `at ${short(source.input.commit)}` : 'in the description';
  const node = nodesOf(source).get(rec.path);
  if (!node)
    return skip(
      own || canLoad
        ? `not described ${where}, the commit it was applied from`
        : `applied from ${short(commit!)}, which cannot be read here, and not described ${where}`,
    );
  if (node.specHash !== rec.specHash) {
    if (!own && !canLoad)
      return skip(
        `applied from ${short(commit!)}, which cannot be read here; the description ${where} differs from what was applied`,
      );
    return skip(`the description ${where} differs from what was recorded as applied to it`);
  }
  const host = hostOf(source, node);
  if (!host) return skip('no host recorded (it was never provisioned)');
  return { path: rec.path, host: host.label, node, recorded: rec, run: source };
}

const byPath = new WeakMap<EngineRun, Map<string, ResolvedNode>>();

/** The run's described nodes by path (built once per run: environments have up to tens of thousands of nodes). */
function nodesOf(run: EngineRun): Map<string, ResolvedNode> {
  let nodes = byPath.get(run);
  if (!nodes) byPath.set(run, (nodes = new Map(run.env.nodes.map((n) => [n.path, n]))));
  return nodes;
}

/** A run state for the environment as described at `commit`, sharing the drift run's id, results and events. */
async function runAt(run: EngineRun, commit: string, descriptionAt: DescriptionAt): Promise<EngineRun | string> {
  let description: Description;
  try {
    description = await descriptionAt(commit);
  } catch (err) {
    return `applied from ${short(commit)}, whose description cannot be loaded: ${err instanceof Error ? err.message : String(err)}`;
  }
  const env = description.environments.get(run.env.name);
  if (!env) return `applied from ${short(commit)}, which does not describe ${run.env.name}`;
  const sub = createEngineRun({ ...run.input, description, commit }, env, run.runId, [...run.recorded.values()]);
  sub.results = run.results;
  sub.emit = run.emit;
  return sub;
}

function short(sha: string): string {
  return sha.slice(0, 7);
}
