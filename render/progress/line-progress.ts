/** Progress for logs and non-interactive stderr: one line per event that matters, never redrawn. */
import type { RunEvent } from '../../kernel/types.js';
import { ProgressModel, formatElapsed } from './progress-model.js';

/** Returns an event handler writing one line per event to `write`. */
export function createLineProgress(write: (line: string) => void, now: () => number = Date.now): (e: RunEvent) => void {
  const model = new ProgressModel(now);
  const t0 = now();
  const stamp = () => `[${formatElapsed(now() - t0).padStart(6)}]`;
  return (e) => {
    const n = model.apply(e);
    switch (e.type) {
      case 'node-waiting':
        write(`${stamp()} ${e.path}: waiting for ${e.waitingFor.join(', ')}`);
        break;
      case 'node-started':
        write(`${stamp()} ${e.path}: started${e.host ? ` on ${e.host}` : ''}`);
        break;
      case 'node-state':
        if (e.state === 'provisioning' || e.state === 'provisioned' || e.state === 'terminating')
          write(`${stamp()} ${e.path}: ${e.state}`);
        break;
      case 'task-started':
        write(`${stamp()} ${e.path}: task '${e.task}' started`);
        break;
      case 'task-finished':
        write(`${stamp()} ${e.path}: task '${e.result.name}' ${e.result.outcome}`);
        break;
      case 'node-finished': {
        const took = n.startedAt !== undefined ? ` in ${formatElapsed((n.finishedAt ?? now()) - n.startedAt)}` : '';
        write(`${stamp()} ${e.path}: ${e.state}${took}${e.reason ? ` (${e.reason.split('\n')[0]})` : ''}`);
        break;
      }
    }
  };
}
