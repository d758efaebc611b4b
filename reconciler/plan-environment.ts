/**
 * The planner: desired environment + recorded state → what an apply would do. Pure: no I/O, no clock.
 */
import type {
  HostBinding,
  Plan,
  PlanAction,
  PlannedNode,
  RecordedNode,
  ResolvedEnvironment,
  ResolvedNode,
  TaskSpec,
} from '../kernel/types.js';

/** The address a binding shows in plans: the address, `local`, or null for a host not provisioned yet. */
export function hostLabel(binding: HostBinding, recorded?: RecordedNode): string | null {
  if (binding.kind === 'static') return binding.address;
  if (binding.kind === 'local') return 'local';
  return recorded?.host ?? null;
}

/** States after which a node with an unchanged spec still needs work on the next apply. */
const UNSETTLED = new Set([
  'defined',
  'provisioning',
  'provisioned',
  'configuring',
  'failed',
  'blocked',
  'terminating',
]);

/**
 * Plans one environment against its recorded nodes (docs/cli.md): create, update (with reasons), unchanged, terminate.
 */
export function planEnvironment(
  env: ResolvedEnvironment,
  recorded: RecordedNode[],
  commit: string | null = null,
): Plan {
  const byPath = new Map(recorded.map((r) => [r.path, r]));
  const nodes: PlannedNode[] = [];
  for (const node of env.nodes) {
    nodes.push(planNode(node, byPath.get(node.path)));
    byPath.delete(node.path);
  }
  for (const rec of [...byPath.values()].sort((a, b) => a.path.localeCompare(b.path))) {
    if (rec.state === 'terminated') continue;
    nodes.push({
      path: rec.path,
      host: rec.host,
      action: 'terminate',
      changes: ['no longer described'],
      recorded: rec,
    });
  }
  const summary: Record<PlanAction, number> = { create: 0, update: 0, unchanged: 0, terminate: 0 };
  for (const n of nodes) summary[n.action]++;
  return { environment: env.name, commit, nodes, summary };
}

function planNode(node: ResolvedNode, rec: RecordedNode | undefined): PlannedNode {
  const host = hostLabel(node.host, rec);
  // A recorded node that never reached ready through an apply has no applied spec hash: still a create.
  if (!rec || !rec.specHash) {
    return { path: node.path, host, action: 'create', changes: [], node, recorded: rec };
  }
  if (rec.specHash !== node.specHash) {
    const changes = describeChanges(node, rec);
    return {
      path: node.path,
      host,
      action: 'update',
      changes: changes.length ? changes : ['configuration changed'],
      node,
      recorded: rec,
    };
  }
  if (UNSETTLED.has(rec.state)) {
    return {
      path: node.path,
      host,
      action: 'update',
      changes: [`last run left it ${rec.state}${rec.reason ? ` (${rec.reason})` : ''}: will be retried`],
      node,
      recorded: rec,
    };
  }
  return { path: node.path, host, action: 'unchanged', changes: [], node, recorded: rec };
}

/** Human-readable differences between the recorded (last applied) spec of a node and its desired one. */
function describeChanges(node: ResolvedNode, rec: RecordedNode): string[] {
  const changes: string[] = [];
  const desiredHost = hostLabel(node.host, rec);
  if (node.host.kind !== 'provider' && rec.host !== null && desiredHost !== rec.host)
    changes.push(`host ${rec.host} -> ${desiredHost}`);
  if (node.host.kind === 'static' && rec.host === node.host.address) {
    const port = node.host.port ?? 22; // absent: ssh_config's Port, else 22 (docs/language.md)
    if (rec.port != null && rec.port !== port) changes.push(`port ${rec.port} -> ${port}`);
    if (rec.user != null && rec.user !== node.host.user)
      changes.push(`user ${rec.user} -> ${node.host.user ?? "ssh_config's User or the local user"}`);
  }
  const before = new Map(rec.tasks.map((t) => [taskKey(t), t]));
  const after = new Map(node.tasks.map((t) => [taskKey(t), t]));
  for (const [key, task] of after) {
    const old = before.get(key);
    if (!old) changes.push(`+ task '${task.name}'`);
    else changes.push(...taskDifferences(old, task));
  }
  for (const [key, task] of before) if (!after.has(key)) changes.push(`- task '${task.name}'`);
  const commonBefore = rec.tasks.map(taskKey).filter((k) => after.has(k));
  const commonAfter = node.tasks.map(taskKey).filter((k) => before.has(k));
  if (commonBefore.join('\0') !== commonAfter.join('\0')) changes.push('task order changed');
  return changes;
}

function taskKey(t: TaskSpec): string {
  return t.kind === 'babushka' ? `b:${t.dep}` : `s:${t.name}`;
}

function taskDifferences(old: TaskSpec, now: TaskSpec): string[] {
  if (old.kind === 'shell' && now.kind === 'shell') {
    const out: string[] = [];
    if (old.met !== now.met) out.push(`task '${now.name}': met command changed`);
    if (old.meet !== now.meet) out.push(`task '${now.name}': meet command changed`);
    return out;
  }
  if (old.kind === 'babushka' && now.kind === 'babushka') {
    const out: string[] = [];
    const keys = [...new Set([...Object.keys(old.args), ...Object.keys(now.args)])].sort();
    for (const k of keys) {
      const a = old.args[k];
      const b = now.args[k];
      if (a === b) continue;
      if (a === undefined) out.push(`task '${now.name}': argument ${k} added (${b})`);
      else if (b === undefined) out.push(`task '${now.name}': argument ${k} removed`);
      else out.push(`task '${now.name}': ${k} ${a} -> ${b}`);
    }
    return out;
  }
  return [`task '${now.name}' changed kind`];
}
