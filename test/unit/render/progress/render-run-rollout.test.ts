// A finished run's table and --json say where a rollout stopped (docs/cli.md, apply; docs/language.md, "Rolling
// batches").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderRunTable, runToJson } from '../../../../render/progress/render-run.js';
import type { RolloutStop, RunResult } from '../../../../kernel/types.js';

const reason = 'rollout of web stopped after batch 2 of 3: 1 failure exceeds max_failures 0';
const stop: RolloutStop = {
  group: 'web',
  batch: 2,
  batches: 3,
  failures: 1,
  maxFailures: 0,
  failed: ['web-3'],
  blocked: ['web-5'],
  reason,
};
const result: RunResult = {
  runId: '9',
  kind: 'apply',
  environment: 'test',
  commit: null,
  status: 'failed',
  nodes: [
    { path: 'web-3', host: 'h3', action: 'create', state: 'failed', reason: 'TaskFailed: boom', tasks: [] },
    { path: 'web-5', host: 'h5', action: 'create', state: 'blocked', reason, tasks: [] },
  ],
  summary: { ready: 0, drifted: 0, failed: 1, blocked: 1 },
  durationMs: 1200,
  rollouts: [stop],
};

test('run table: the line after the summary says where the rollout stopped and how many nodes did not start', () => {
  const text = renderRunTable(result);
  assert.match(text, /\napply test failed: 1 failed, 1 blocked in 1\.2s \(run 9\)\n/);
  assert.ok(text.endsWith(`\n${reason}; 1 not started\n`), text);
  const { rollouts, ...plain } = result;
  assert.equal(rollouts?.length, 1);
  assert.ok(renderRunTable(plain).endsWith('(run 9)\n'), 'no rollout: the table is as before');
});

test('run JSON: rollouts as recorded, absent when no rollout stopped', () => {
  assert.deepEqual((runToJson(result) as { rollouts: unknown }).rollouts, [stop]);
  const { rollouts: _, ...plain } = result;
  assert.equal('rollouts' in runToJson(plain), false);
});
