// The dashboard's run page says where a rollout stopped (docs/language.md, "Rolling batches").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rolloutStops, runPage } from '../../../../controller/dashboard/run-page.js';
import type { NodeRunRecord, RunRecord } from '../../../../kernel/types.js';

const run: RunRecord = {
  id: '7',
  repository: 'acme/infra',
  environment: 'production',
  commit: 'abc',
  kind: 'apply',
  status: 'failed',
  trigger: 'push',
  startedAt: '2026-01-01T00:00:00Z',
  finishedAt: '2026-01-01T00:01:00Z',
  summary: { ready: 2, failed: 1, blocked: 2 },
};
const reason = 'rollout of web stopped after batch 2 of 3: 1 failure exceeds max_failures 0';
const nodeRun = (path: string, state: NodeRunRecord['state'], why: string | null = null): NodeRunRecord => ({
  runId: '7',
  path,
  host: null,
  state,
  reason: why,
  startedAt: null,
  finishedAt: null,
  tasks: [],
  log: '',
});

test('run page: a stopped rollout is named with the batch and why; other runs show no rollout row', () => {
  const nodes = [
    nodeRun('web-1', 'ready'),
    nodeRun('web-3', 'failed', 'TaskFailed: boom'),
    nodeRun('web-5', 'blocked', reason),
    nodeRun('web-6', 'blocked', reason),
    nodeRun('lb', 'blocked', `depends on web-5, which is blocked (${reason})`),
  ];
  assert.deepEqual(rolloutStops(nodes), [{ reason, blocked: 2 }]);
  const html = runPage(run, nodes);
  assert.ok(html.includes(`<tr><th>Rollout</th><td class="rollout-stopped">${reason} (2 not started)</td></tr>`), html);
  assert.ok(!runPage(run, [nodeRun('web-1', 'ready')]).includes('<th>Rollout</th>'));
});
