/**
 * The planner: desired environment + recorded state → what an apply would do. Pure: no I/O, no clock.
 */
import type {
  HostBinding,
  Plan,
  PlanAction,
  PlanChange,
  PlannedNode,
  RecordedNode,
  ResolvedEnvironment,
  ResolvedNode,
  TaskSpec,
} from '../kernel/types.js';
import {
  describeValueChange,
  differenceLines,
  HUNK_LIMIT,
  showValue,
  valueDifferences,
  type ValueDifference,
} from './plan-diff.js';

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
    const { changes, diff } = describeChanges(node, rec);
    return {
      path: node.path,
      host,
      action: 'update',
      changes: changes.length ? changes : ['configuration changed'],
      diff,
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

/**
 * What differs between the recorded (last applied) spec of a node and its desired one, one line per difference
 * (docs/cli.md, "plan"): `host: 10.0.0.1 → 10.0.0.9`, `+ task 'pg backups'`, `task 'app deployed': ref: v1.4.3 →
 * v1.4.4`, `task 'swappiness': meet: 10 → 5`, `task 'db': runs as: postgres (sudo) → root (sudo)`. Values are shown as
 * recorded and described, where secrets stay symbolic (`${secret.NAME}`), so no secret value can appear.
 */
function describeChanges(node: ResolvedNode, rec: RecordedNode): { changes: string[]; diff: PlanChange[] } {
  const changes: string[] = [];
  const diff: PlanChange[] = [];
  const desiredHost = hostLabel(node.host, rec);
  if (node.host.kind !== 'provider' && rec.host !== null && desiredHost !== rec.host) {
    changes.push(`host: ${rec.host} → ${desiredHost}`);
    diff.push({ subject: 'host', change: 'changed', before: rec.host, after: desiredHost });
  }
  if (node.host.kind === 'static' && rec.host === node.host.address) {
    const port = node.host.port ?? 22; // absent: ssh_config's Port, else 22 (docs/language.md)
    if (rec.port != null && rec.port !== port) {
      changes.push(`port: ${rec.port} → ${port}`);
      diff.push({ subject: 'port', change: 'changed', before: String(rec.port), after: String(port) });
    }
    if (rec.user != null && rec.user !== node.host.user) {
      changes.push(`user: ${rec.user} → ${node.host.user ?? "ssh_config's User or the local user"}`);
      diff.push({ subject: 'user', change: 'changed', before: rec.user, after: node.host.user ?? null });
    }
  }
  // A record without a readable task list (damaged, or written by hand) can only say that the tasks changed.
  if (!Array.isArray(rec.tasks)) {
    changes.push('tasks changed');
    diff.push({ subject: 'tasks', change: 'changed' });
    return { changes, diff };
  }
  const recordedTasks = rec.tasks.filter(isTask);
  const before = new Map(recordedTasks.map((t) => [taskKey(t), t]));
  const after = new Map(node.tasks.map((t) => [taskKey(t), t]));
  for (const [key, task] of after) {
    const old = before.get(key);
    if (!old) {
      changes.push(`+ task '${task.name}'${addedArgs(task)}`);
      diff.push({ subject: 'task', change: 'added', task: task.name });
    } else {
      const d = taskDifferences(old, task);
      changes.push(...d.changes);
      diff.push(...d.diff);
    }
  }
  for (const [key, task] of before)
    if (!after.has(key)) {
      changes.push(`- task '${task.name}'`);
      diff.push({ subject: 'task', change: 'removed', task: task.name });
    }
  const commonBefore = recordedTasks.map(taskKey).filter((k) => after.has(k));
  const commonAfter = node.tasks.map(taskKey).filter((k) => before.has(k));
  if (commonBefore.join('\0') !== commonAfter.join('\0')) {
    changes.push('task order changed');
    diff.push({ subject: 'task order', change: 'changed' });
  }
  return { changes, diff };
}

function isTask(t: unknown): t is TaskSpec {
  if (typeof t !== 'object' || t === null) return false;
  const o = t as { kind?: unknown; name?: unknown; dep?: unknown };
  return typeof o.name === 'string' && (o.kind === 'shell' || (o.kind === 'babushka' && typeof o.dep === 'string'));
}

function taskKey(t: TaskSpec): string {
  return t.kind === 'babushka' ? `b:${t.dep}` : `s:${t.name}`;
}

/** ` (ref: v1.4.4, user: app)` for a new dep's arguments (each value shortened), or nothing. */
function addedArgs(t: TaskSpec): string {
  if (t.kind !== 'babushka') return '';
  const keys = Object.keys(t.args).sort();
  if (keys.length === 0) return '';
  const shown = keys.slice(0, HUNK_LIMIT).map((k) => `${k}: ${showValue(t.args[k])}`);
  if (keys.length > HUNK_LIMIT) shown.push(`${keys.length - HUNK_LIMIT} more`);
  return ` (${shown.join(', ')})`;
}

/** Who a task runs as: `root (sudo)`, or the SSH user when it does not escalate. */
function runsAs(t: TaskSpec): string {
  return t.become ? `${t.become.user} (${t.become.method})` : 'the SSH user';
}

function taskDifferences(old: TaskSpec, now: TaskSpec): { changes: string[]; diff: PlanChange[] } {
  const prefix = `task '${now.name}': `;
  const changes: string[] = [];
  const diff: PlanChange[] = [];
  const changed = (field: string, values?: ValueDifference): PlanChange => ({
    subject: 'task',
    change: 'changed',
    task: now.name,
    field,
    ...(values
      ? {
          before: values.before,
          after: values.after,
          ...(values.count > 1 ? { places: values.count } : {}),
        }
      : {}),
  });
  const compare = (field: string, a: unknown, b: string | undefined, whole: boolean): void => {
    if (a === b) return;
    // A recorded value that is not a string (a damaged record): only that it changed. An argument may be unset.
    const readable = typeof a === 'string' || (whole && a === undefined);
    if (!readable) {
      changes.push(`${prefix}${whole ? `argument ${field}` : `${field} command`} changed`);
      diff.push(changed(field));
      return;
    }
    const was = a as string | undefined;
    const values = whole ? describeValueChange(was, b) : valueDifferences(was ?? '', b ?? '');
    changes.push(...differenceLines(values).map((d) => `${prefix}${field}: ${d}`));
    diff.push(
      ...values.map((v) => ({
        ...changed(field, v),
        ...(a === undefined ? { before: null } : {}),
        ...(b === undefined ? { after: null } : {}),
      })),
    );
  };
  if (old.kind === 'shell' && now.kind === 'shell') {
    compare('met', old.met, now.met, false);
    compare('meet', old.meet, now.meet, false);
  } else if (old.kind === 'babushka' && now.kind === 'babushka') {
    const oldArgs: Record<string, unknown> = typeof old.args === 'object' && old.args !== null ? old.args : {};
    const keys = [...new Set([...Object.keys(oldArgs), ...Object.keys(now.args)])].sort();
    for (const k of keys) compare(k, oldArgs[k], now.args[k], true);
  } else {
    return { changes: [`${prefix}changed kind`], diff: [changed('kind')] };
  }
  const wasAs = runsAs(old);
  const nowAs = runsAs(now);
  if (wasAs !== nowAs) {
    changes.push(`${prefix}runs as: ${wasAs} → ${nowAs}`);
    diff.push({ ...changed('become'), before: old.become?.user ?? null, after: now.become?.user ?? null });
  }
  return { changes, diff };
}
