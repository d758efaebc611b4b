/**
 * Shell tasks that log when each of their processes starts and ends (a TERM logs its end too), so tests can tell from
 * the intervals whether two runs ever ran a task at the same time, without asserting any duration.
 */
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { GitRepo } from '../helpers/git-repo.js';
import { withQuietDrift } from '../helpers/quiet-drift.js';

/**
 * `task.sh LABEL SECONDS`: reads how long to sleep (SECONDS, or what the file LABEL.seconds says) before it logs
 * `LABEL PID start NS` (so a test that saw the start may change the file for the next run), sleeps, logs
 * `LABEL PID end NS` (`... killed` when a signal stops it: TERM, or PIPE once its reader is gone).
 */
const TASK_SCRIPT = `#!/bin/sh
log="$(dirname "$0")/intervals.log"
seconds="$2"
[ -f "$(dirname "$0")/$1.seconds" ] && seconds="$(cat "$(dirname "$0")/$1.seconds")"
echo "$1 $$ start $(date +%s%N)" >> "$log"
trap 'echo "$1 $$ end $(date +%s%N) killed" >> "$log"; exit 143' TERM HUP PIPE
sleep "$seconds" & wait $!
echo "$1 $$ end $(date +%s%N)" >> "$log"
`;

export interface TaskDir {
  dir: string;
  /** met/meet of a task on node `node` whose meet takes `seconds` (its met, a fifth of a second). */
  task(node: string, seconds: number): { met: string; meet: string };
  intervals(): Promise<Interval[]>;
}

export interface Interval {
  label: string;
  pid: number;
  start: bigint;
  /** null while the process runs (or if it was killed without a chance to log). */
  end: bigint | null;
  killed: boolean;
}

/** A world-writable directory (sshd test users write there too) with the task script and its log. */
export async function makeTaskDir(): Promise<TaskDir> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'politburo-fault-tasks-'));
  await writeFile(path.join(dir, 'task.sh'), TASK_SCRIPT);
  await writeFile(path.join(dir, 'intervals.log'), '');
  await chmod(dir, 0o777);
  await chmod(path.join(dir, 'intervals.log'), 0o666);
  await chmod(path.join(dir, 'task.sh'), 0o755);
  return {
    dir,
    task: (node, seconds) => ({
      met: `sh ${dir}/task.sh met-${node} 0.2 && test -f ${dir}/${node}.done`,
      meet: `sh ${dir}/task.sh meet-${node} ${seconds} && touch ${dir}/${node}.done && chmod 666 ${dir}/${node}.done`,
    }),
    intervals: () => readIntervals(path.join(dir, 'intervals.log')),
  };
}

async function readIntervals(file: string): Promise<Interval[]> {
  const byPid = new Map<string, Interval>();
  for (const line of (await readFile(file, 'utf8')).split('\n')) {
    const m = /^(\S+) (\d+) (start|end) (\d+)( killed)?$/.exec(line.trim());
    if (!m) continue;
    const key = `${m[1]} ${m[2]}`;
    if (m[3] === 'start')
      byPid.set(key, { label: m[1], pid: Number(m[2]), start: BigInt(m[4]), end: null, killed: false });
    else {
      const i = byPid.get(key);
      if (i) Object.assign(i, { end: BigInt(m[4]), killed: !!m[5] });
    }
  }
  return [...byPid.values()].sort((a, b) => (a.start < b.start ? -1 : 1));
}

/** No two logged task processes ran at the same time (every interval must have ended). */
export function assertNoOverlap(intervals: Interval[]): void {
  for (const i of intervals)
    assert.notEqual(i.end, null, `${i.label} (pid ${i.pid}) never logged its end: ${show(intervals)}`);
  for (let k = 1; k < intervals.length; k++) {
    const [a, b] = [intervals[k - 1], intervals[k]];
    assert.ok(
      b.start >= a.end!,
      `${a.label} (pid ${a.pid}) and ${b.label} (pid ${b.pid}) ran at the same time: ${show(intervals)}`,
    );
  }
}

function show(intervals: Interval[]): string {
  const t0 = intervals[0]?.start ?? 0n;
  return intervals
    .map(
      (i) =>
        `${i.label}/${i.pid} ${(i.start - t0) / 1_000_000n}..${i.end === null ? '?' : (i.end - t0) / 1_000_000n}ms${i.killed ? ' killed' : ''}`,
    )
    .join(', ');
}

/** True while a process with this pid exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A git repository holding `politburo.yml` (and any other files); returns its directory. */
export async function gitRepo(files: Record<string, string>): Promise<string> {
  return (await GitRepo.create(files, 'politburo-fault-repo-')).dir;
}

/** politburo.yml of environment `p`: a chain of nodes (each depends on the one before), each with one logged task. */
export function chainDescription(
  tasks: TaskDir,
  nodes: { name: string; seconds: number; host: string }[],
  extra = '',
): string {
  const lines = ['politburo: 1', 'defaults: { timeout: 120s }', 'blueprints:', '  app:', '    resources:'];
  nodes.forEach((n, i) => {
    const t = tasks.task(n.name, n.seconds);
    lines.push(`      ${n.name}:`);
    if (i > 0) lines.push(`        depends_on: [${nodes[i - 1].name}]`);
    lines.push(
      '        tasks:',
      `          - name: ${n.name} task`,
      `            met: '${t.met}'`,
      `            meet: '${t.meet}'`,
    );
  });
  lines.push(
    'environments:',
    '  p:',
    '    blueprint: app',
    `    hosts: { ${nodes.map((n) => `${n.name}: ${n.host}`).join(', ')} }`,
    withQuietDrift(extra),
    '',
  );
  return lines.join('\n');
}
