import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLineProgress } from '../../../../render/progress/line-progress.js';
import { ProgressModel, describeNode } from '../../../../render/progress/progress-model.js';
import { renderRunTable, runToJson } from '../../../../render/progress/render-run.js';
import type { RunEvent, RunResult } from '../../../../kernel/types.js';

const events: RunEvent[] = [
  { type: 'node-waiting', path: 'lb', waitingFor: ['web-1', 'web-2'] },
  { type: 'node-started', path: 'web-1', host: '10.0.0.1' },
  { type: 'task-started', path: 'web-1', task: 'app deployed' },
  { type: 'task-finished', path: 'web-1', result: { name: 'app deployed', outcome: 'failed', message: 'boom' } },
  { type: 'node-finished', path: 'web-1', state: 'failed', reason: "TaskFailed: task 'app deployed' failed: boom" },
  { type: 'node-finished', path: 'lb', state: 'blocked', reason: 'depends on web-1, which failed' },
];

test('the model says what runs (and its task), waits (on what) and how it ended, with elapsed time', () => {
  let now = 1000;
  const m = new ProgressModel(() => now);
  m.apply(events[0]);
  assert.equal(describeNode(m.nodes.get('lb')!, now), 'waiting   lb for web-1, web-2');
  m.apply(events[1]);
  m.apply(events[2]);
  now = 3500;
  assert.equal(describeNode(m.nodes.get('web-1')!, now), 'running   web-1 (10.0.0.1): app deployed  2.5s');
  m.apply(events[3]);
  m.apply(events[4]);
  assert.equal(
    describeNode(m.nodes.get('web-1')!, now + 1000),
    "failed    web-1  2.5s: TaskFailed: task 'app deployed' failed: boom",
  );
});

test('line progress: one line per event', () => {
  const lines: string[] = [];
  const on = createLineProgress(
    (l) => lines.push(l),
    () => 0,
  );
  events.forEach(on);
  assert.deepEqual(lines, [
    '[  0.0s] lb: waiting for web-1, web-2',
    '[  0.0s] web-1: started on 10.0.0.1',
    "[  0.0s] web-1: task 'app deployed' started",
    "[  0.0s] web-1: task 'app deployed' failed",
    "[  0.0s] web-1: failed in 0.0s (TaskFailed: task 'app deployed' failed: boom)",
    '[  0.0s] lb: blocked (depends on web-1, which failed)',
  ]);
});

const result: RunResult = {
  runId: '7',
  kind: 'apply',
  environment: 'production',
  commit: '1a2b3c4d5e6f',
  status: 'failed',
  nodes: [
    {
      path: 'web-1',
      host: '10.0.0.1',
      action: 'update',
      state: 'failed',
      reason: 'TaskFailed: boom\nmore',
      tasks: [{ name: 'app deployed', outcome: 'failed', message: 'boom' }],
      startedAt: '2026-01-01T00:00:00.000Z',
      finishedAt: '2026-01-01T00:00:02.500Z',
    },
    {
      path: 'lb',
      host: '10.0.0.9',
      action: 'create',
      state: 'blocked',
      reason: 'depends on web-1, which failed',
      tasks: [],
    },
  ],
  summary: { ready: 0, drifted: 0, failed: 1, blocked: 1 },
  durationMs: 2600,
};

test('the summary table and the --json document (docs/cli.md shape)', () => {
  assert.equal(
    renderRunTable(result),
    [
      'PATH   HOST      ACTION  STATE    TASKS     TIME  REASON',
      'web-1  10.0.0.1  update  failed   1 failed  2.5s  TaskFailed: boom',
      'lb     10.0.0.9  create  blocked  -         -     depends on web-1, which failed',
      'apply production@1a2b3c4 failed: 1 failed, 1 blocked in 2.6s (run 7)',
      '',
    ].join('\n'),
  );
  const doc = runToJson(result) as { nodes: object[]; summary: object; environment: string; commit: string };
  assert.equal(doc.environment, 'production');
  assert.deepEqual(doc.nodes[1], {
    path: 'lb',
    host: '10.0.0.9',
    action: 'create',
    state: 'blocked',
    reason: 'depends on web-1, which failed',
    tasks: [],
    startedAt: null,
    finishedAt: null,
  });
  assert.deepEqual(doc.summary, { ready: 0, drifted: 0, failed: 1, blocked: 1 });
});

test('terminal progress redraws in place: cursor back up over the previous frame, one line per node', async () => {
  const { PassThrough } = await import('node:stream');
  type Stream = InstanceType<typeof PassThrough>;
  const { createTtyProgress } = await import('../../../../render/progress/tty-progress.js');
  const stream = Object.assign(new PassThrough(), { columns: 80, rows: 24 }) as unknown as NodeJS.WriteStream;
  let out = '';
  (stream as unknown as Stream).on('data', (d: Buffer) => (out += d.toString()));
  const p = createTtyProgress(stream, { title: 'apply production', intervalMs: 10 });
  p.onEvent(events[0]);
  p.onEvent(events[1]);
  p.onEvent(events[2]);
  await new Promise((r) => setTimeout(r, 40));
  events.slice(3).forEach((e) => p.onEvent(e));
  p.stop();
  const frames = out.split('apply production').length - 1;
  assert.ok(frames >= 2, `redrawn ${frames} times`);
  assert.ok(out.includes(`${String.fromCharCode(27)}[3F`), 'moves the cursor up over the last frame (title + 2 nodes)');
  assert.match(out, /running {3}web-1 \(10\.0\.0\.1\): app deployed/);
  const last = out.slice(out.lastIndexOf('apply production'));
  assert.match(last, /1 blocked, 1 failed/);
  assert.match(last, /blocked {3}lb: depends on web-1, which failed/);
});
