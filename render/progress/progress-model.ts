/**
 * What a person watching a run wants to see per node, folded from RunEvents: waiting on what, running which task, done.
 */
import type { LifecycleState, RunEvent } from '../../kernel/types.js';

export type NodeActivity = 'waiting' | 'provisioning' | 'running' | 'done';

export interface NodeProgress {
  path: string;
  host: string | null;
  activity: NodeActivity;
  state?: LifecycleState;
  reason?: string;
  task?: string;
  waitingFor: string[];
  tasksDone: number;
  startedAt?: number;
  finishedAt?: number;
}

/** Folds events into per-node progress, in the order nodes first appear. */
export class ProgressModel {
  readonly nodes = new Map<string, NodeProgress>();
  readonly startedAt = Date.now();

  constructor(private readonly now: () => number = Date.now) {}

  apply(e: RunEvent): NodeProgress {
    const n = this.node(e.path);
    switch (e.type) {
      case 'node-waiting':
        n.activity = 'waiting';
        n.waitingFor = e.waitingFor;
        break;
      case 'node-started':
        n.activity = 'running';
        n.host = e.host ?? n.host;
        n.waitingFor = [];
        n.startedAt ??= this.now();
        break;
      case 'node-state':
        n.state = e.state;
        if (e.state === 'provisioning') {
          n.activity = 'provisioning';
          n.startedAt ??= this.now();
        }
        break;
      case 'task-started':
        n.task = e.task;
        break;
      case 'task-finished':
        n.tasksDone++;
        if (n.task === e.result.name) n.task = undefined;
        break;
      case 'node-finished':
        n.activity = 'done';
        n.state = e.state;
        n.reason = e.reason;
        n.task = undefined;
        n.finishedAt = this.now();
        break;
    }
    return n;
  }

  private node(path: string): NodeProgress {
    let n = this.nodes.get(path);
    if (!n) {
      n = { path, host: null, activity: 'waiting', waitingFor: [], tasksDone: 0 };
      this.nodes.set(path, n);
    }
    return n;
  }
}

/** `12.3s`, `2m05s`. */
export function formatElapsed(ms: number): string {
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  return `${m}m${String(Math.floor(s % 60)).padStart(2, '0')}s`;
}

/** One line describing a node's progress (no colour). */
export function describeNode(n: NodeProgress, now: number): string {
  const elapsed = n.startedAt !== undefined ? formatElapsed((n.finishedAt ?? now) - n.startedAt) : '';
  switch (n.activity) {
    case 'waiting':
      return `waiting   ${n.path}${n.waitingFor.length ? ` for ${n.waitingFor.join(', ')}` : ''}`;
    case 'provisioning':
      return `provision ${n.path}  ${elapsed}`;
    case 'running':
      return `running   ${n.path}${n.host ? ` (${n.host})` : ''}${n.task ? `: ${n.task}` : ''}  ${elapsed}`;
    case 'done': {
      const reason = n.reason ? `: ${n.reason.split('\n')[0].slice(0, 160)}` : '';
      return `${(n.state ?? 'done').padEnd(9)} ${n.path}${elapsed ? `  ${elapsed}` : ''}${reason}`;
    }
  }
}
