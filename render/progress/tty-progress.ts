/**
 * Live progress for an interactive terminal: one line per node (running with its task, waiting and on what, done,
 * failed, blocked) with elapsed times, redrawn in place a few times a second.
 */
import type { RunEvent } from '../../kernel/types.js';
import { ProgressModel, describeNode, formatElapsed, type NodeProgress } from './progress-model.js';

export interface TtyProgress {
  onEvent(e: RunEvent): void;
  /** Draws the final frame and stops redrawing. */
  stop(): void;
}

const COLOURS: Record<string, string> = {
  ready: '32',
  failed: '31',
  blocked: '33',
  drifted: '35',
  running: '36',
  provision: '36',
  terminated: '90',
};

/** Redraws on `stream` (a TTY) every `intervalMs`; at most `maxLines` node lines, the busiest first. */
export function createTtyProgress(
  stream: NodeJS.WriteStream,
  opts: {
    title: string;
    intervalMs?: number;
    /** false: no colour codes (NO_COLOR, docs/cli.md); the lines are still redrawn in place. */
    colour?: boolean;
  } = { title: '' },
): TtyProgress {
  const model = new ProgressModel();
  let drawn = 0;
  let dirty = true;
  const draw = () => {
    if (!dirty && model.nodes.size === 0) return;
    dirty = false;
    const now = Date.now();
    const rows = Math.max(5, (stream.rows ?? 30) - 3);
    const cols = Math.max(40, stream.columns ?? 100);
    const nodes = [...model.nodes.values()].sort((a, b) => rank(a) - rank(b));
    const shown = nodes.slice(0, rows - 1);
    const counts = countBy(nodes);
    const head = `${opts.title}  ${formatElapsed(now - model.startedAt)}  ${counts}`;
    const lines = [
      head,
      ...shown.map((n) => (opts.colour === false ? describeNode(n, now) : colour(describeNode(n, now), n))),
    ];
    if (nodes.length > shown.length) lines.push(`… ${nodes.length - shown.length} more`);
    let out = drawn ? `\x1b[${drawn}F` : '';
    for (const l of lines) out += `\x1b[2K${truncate(l, cols)}\n`;
    for (let i = lines.length; i < drawn; i++) out += '\x1b[2K\n';
    if (drawn > lines.length) out += `\x1b[${drawn - lines.length}F`;
    stream.write(out);
    drawn = lines.length;
  };
  const timer = setInterval(draw, opts.intervalMs ?? 200);
  timer.unref();
  return {
    onEvent(e) {
      model.apply(e);
      dirty = true;
    },
    stop() {
      clearInterval(timer);
      dirty = true;
      draw();
    },
  };
}

const ANSI_COLOUR = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');

function rank(n: NodeProgress): number {
  return (
    { running: 0, provisioning: 0, waiting: 1, done: 2 }[n.activity] +
    (n.state === 'failed' || n.state === 'blocked' ? -0.5 : 0)
  );
}

function countBy(nodes: NodeProgress[]): string {
  const c: Record<string, number> = {};
  for (const n of nodes) {
    const key = n.activity === 'done' ? (n.state ?? 'done') : n.activity;
    c[key] = (c[key] ?? 0) + 1;
  }
  return Object.entries(c)
    .map(([k, v]) => `${v} ${k}`)
    .join(', ');
}

function colour(line: string, n: NodeProgress): string {
  const key = n.activity === 'done' ? (n.state ?? '') : n.activity === 'provisioning' ? 'provision' : n.activity;
  const code = COLOURS[key];
  return code ? `\x1b[${code}m${line}\x1b[0m` : line;
}

/** Cuts a line to the terminal width, ignoring colour codes when counting. */
function truncate(line: string, cols: number): string {
  const visible = line.replace(ANSI_COLOUR, '');
  if (visible.length <= cols) return line;
  return `${visible.slice(0, cols - 1)}…`;
}
