// Rolling batches in what GitHub shows (docs/language.md, "Rolling batches"): a plan lists the batches an apply would
// release, an apply check says where a rollout stopped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderPlanComment } from '../../../../controller/github/render-plan-comment.js';
import { renderPlanCheck } from '../../../../controller/github/render-plan-check.js';
import { renderApplyCheck } from '../../../../controller/github/render-apply-check.js';
import type { PlanForRender } from '../../../../controller/ports.js';
import type { PlannedNode, ResolvedNode, RolloutStop } from '../../../../kernel/types.js';
import * as d from './sample-data.js';

const src = { file: 'politburo.yml', line: 3, column: 5 };
const rollout = { group: 'web', batch: 2, maxFailures: 0, size: 5, source: src };
const web = (i: number): PlannedNode => ({
  path: `web-${i}`,
  host: `203.0.113.2${i}`,
  action: 'create',
  changes: [],
  node: {
    path: `web-${i}`,
    name: `web-${i}`,
    host: { kind: 'local', source: src },
    tasks: [],
    dependsOn: [],
    source: src,
    specHash: 'h',
    rollout,
  } satisfies ResolvedNode,
});
const rolled: PlanForRender = {
  environment: 'production',
  errors: [],
  plan: d.plan('production', [1, 2, 3, 4, 5].map(web) as never),
};
const line = 'web: rollout in 3 batches of 2 (max_failures 0): web-1 web-2 \\| web-3 web-4 \\| web-5';

test('plan check and plan comment list the batches an apply would release', () => {
  const check = renderPlanCheck(rolled);
  assert.ok(check.summary?.includes(`**Rolling batches:**\n- ${line}`), check.summary);
  const comment = renderPlanComment([rolled], { headSha: d.HEAD });
  assert.ok(comment.includes(`**Rolling batches:**\n- ${line}`), comment);
  assert.doesNotMatch(renderPlanCheck(d.productionPlan).summary ?? '', /Rolling batches/);
});

test('apply check says which rollout stopped, after which batch, why, and what did not start', () => {
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
  const result = {
    ...d.run('apply', 'failed', [
      { path: 'web-1', host: 'a', state: 'ready', tasks: [] },
      { path: 'web-3', host: 'c', state: 'failed', tasks: [], reason: 'TaskFailed: boom' },
      { path: 'web-5', host: 'e', state: 'blocked', tasks: [], reason },
    ]),
    rollouts: [stop],
  };
  const check = renderApplyCheck(result, { environment: 'production' });
  assert.equal(check.conclusion, 'failure');
  assert.ok(
    check.summary?.includes(`**Rollout stopped:** ${reason} (failed: \`web-3\`; 1 node of \`web\` not started).`),
    check.summary,
  );
  assert.ok(check.summary?.includes(`- \`web-5\`: ${reason}`), 'the blocked node carries the reason');
  const without = renderApplyCheck(d.failedApply, { environment: 'production' });
  assert.doesNotMatch(without.summary ?? '', /Rollout stopped/);
});
