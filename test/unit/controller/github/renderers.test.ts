// Golden-file tests of the pure renderers (UPDATE_GOLDEN=1 rewrites test/fixtures/github/ after review).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderPlanComment, PLAN_COMMENT_MARKER } from '../../../../controller/github/render-plan-comment.js';
import { renderPlanCheck } from '../../../../controller/github/render-plan-check.js';
import { renderApplyCheck } from '../../../../controller/github/render-apply-check.js';
import { renderDriftIssue } from '../../../../controller/github/render-drift-issue.js';
import { COMMENT_LIMIT, CHECK_TEXT_LIMIT } from '../../../../controller/github/markdown.js';
import { assertGolden } from './golden.js';
import * as d from './sample-data.js';

const urls = {
  headSha: d.HEAD,
  runUrl: 'https://politburo.example/runs/42',
  fullPlanUrl: 'https://politburo.example/plans/7',
};

test('plan comment: changes, no changes and validation errors', () => {
  const body = renderPlanComment([d.productionPlan, d.stagingUnchanged, d.invalidPlan], urls);
  assert.ok(body.startsWith(PLAN_COMMENT_MARKER));
  assertGolden('plan-comment.md', body);
});

test('plan comment: live drift results', () => {
  assertGolden('plan-comment-live.md', renderPlanComment([d.livePlan], { headSha: d.HEAD }));
});

test('plan comment: no environment affected', () => {
  assertGolden('plan-comment-empty.md', renderPlanComment([], { headSha: d.HEAD }));
});

test('plan comment: a 10,000-node plan is truncated under 65,536 characters with a link to the full plan', () => {
  const body = renderPlanComment([d.hugePlan(10_000), d.productionPlan], urls);
  assert.ok(body.length <= COMMENT_LIMIT, `comment is ${body.length} characters`);
  assert.ok(body.length > COMMENT_LIMIT - 10_000, 'the budget is used, not wasted');
  assert.match(
    body,
    /more lines? of `fleet` not shown: the comment would exceed GitHub's 65,536-character limit\. See the \[full plan\]\(https:\/\/politburo\.example\/plans\/7\)/,
  );
  assert.match(
    body,
    /#### `production`: 3 to create, 1 to update, 1 unchanged, 1 to terminate/,
    'later environments keep their counts',
  );
  assert.match(body, /\[Full plan\]\(https:\/\/politburo\.example\/plans\/7\)<?/);
  const withoutUrl = renderPlanComment([d.hugePlan(10_000)], { headSha: d.HEAD });
  assert.match(withoutUrl, /Run `politburo plan fleet` to see all of it/);
  // Only the table rows are dropped: the table is still well-formed and the last line is the footer.
  assert.match(body.trimEnd().split('\n').at(-1)!, /^<sub>Planned at/);
});

test('plan check: changes are neutral with counts in the title', () => {
  const check = renderPlanCheck(d.productionPlan, { detailsUrl: 'https://politburo.example/plans/7' });
  assert.equal(check.conclusion, 'neutral');
  assert.equal(check.title, '3 to create, 1 to update, 1 to terminate');
  assertGolden('plan-check-changes.json', check);
});

test('plan check: no changes is success', () => {
  const check = renderPlanCheck(d.stagingUnchanged);
  assert.equal(check.conclusion, 'success');
  assert.equal(check.title, 'No changes');
  assertGolden('plan-check-unchanged.json', check);
});

test('plan check: invalid is failure with an annotation on every error line', () => {
  const check = renderPlanCheck(d.invalidPlan);
  assert.equal(check.conclusion, 'failure');
  assert.deepEqual(
    check.annotations?.map((a) => [a.path, a.startLine, a.endLine, a.startColumn, a.level]),
    [
      ['politburo.yml', 12, 12, 7, 'failure'],
      ['environments/qa.yml', 3, 3, 1, 'failure'],
    ],
  );
  assertGolden('plan-check-invalid.json', check);
});

test('plan check: live drift makes it neutral', () => {
  const check = renderPlanCheck({ ...d.livePlan, plan: d.stagingUnchanged.plan });
  assert.equal(check.conclusion, 'neutral');
  assert.equal(check.title, 'No changes, 2 drifted');
  assertGolden('plan-check-live.json', check);
});

test('plan check: thousands of errors keep the summary under the limit and annotate them all', () => {
  const errors = Array.from({ length: 3000 }, (_, i) => ({
    file: 'politburo.yml',
    line: i + 1,
    column: 3,
    message: `unknown key 'x${i}' ${'y'.repeat(40)}`,
  }));
  const check = renderPlanCheck({ environment: 'big', plan: null, errors });
  assert.ok(check.summary.length <= CHECK_TEXT_LIMIT);
  assert.equal(check.annotations?.length, 3000);
  assert.match(check.summary, /and \d+ more \(every one is annotated on its line\)/);
});

test('apply check: queued, in progress, superseded', () => {
  assertGolden(
    'apply-check-queued.json',
    renderApplyCheck(null, { environment: 'production', runUrl: 'https://politburo.example/runs/42' }),
  );
  const progress = renderApplyCheck(null, {
    environment: 'production',
    state: 'in_progress',
    runUrl: 'https://politburo.example/runs/42',
  });
  assert.equal(progress.status, 'in_progress');
  assert.doesNotMatch(
    `${progress.title} ${progress.summary}`,
    /queued|waiting/i,
    'an apply in progress is not said to be queued',
  );
  assertGolden('apply-check-in-progress.json', progress);
  const superseded = renderApplyCheck(null, {
    environment: 'production',
    supersededBy: 'ffeeddccbbaa99887766554433221100ffeeddcc',
  });
  assert.equal(superseded.conclusion, 'skipped');
  assert.match(superseded.summary, /superseded by ffeeddccbbaa99887766554433221100ffeeddcc/);
  assertGolden('apply-check-superseded.json', superseded);
});

test('apply check: failed and blocked nodes are named with their task and output tail', () => {
  const check = renderApplyCheck(d.failedApply, {
    environment: 'production',
    runUrl: 'https://politburo.example/runs/42',
  });
  assert.equal(check.conclusion, 'failure');
  assert.equal(check.title, '1 failed, 1 blocked, 2 ready');
  assert.equal(check.detailsUrl, 'https://politburo.example/runs/42');
  assertGolden('apply-check-failed.json', check);
});

test('apply check: success', () => {
  const check = renderApplyCheck(d.succeededApply, { environment: 'production' });
  assert.equal(check.conclusion, 'success');
  assertGolden('apply-check-succeeded.json', check);
});

test('apply check: a running result is in progress', () => {
  const check = renderApplyCheck({ ...d.succeededApply, status: 'running' }, { environment: 'production' });
  assert.equal(check.status, 'in_progress');
  assert.equal(check.conclusion, undefined);
});

test('drift issue: title and table of drifted nodes and unmet tasks', () => {
  const issue = renderDriftIssue(d.driftReport);
  assert.equal(issue.title, 'Drift in production');
  assertGolden('drift-issue.md', issue.body);
  assert.match(renderDriftIssue({ ...d.driftReport, healed: true }).body, /They were healed/);
});

test('drift issue: the nodes that could not be checked are listed with why', () => {
  const unchecked = [
    { path: 'web-3', host: null, reason: 'never applied (recorded failed: TaskFailed: task app failed)' },
    {
      path: 'web-1',
      host: '203.0.113.21',
      reason: 'applied from 0f1e2d3, whose description cannot be loaded: it is invalid (2 errors)',
    },
  ];
  const issue = renderDriftIssue({ ...d.driftReport, result: { ...d.driftReport.result, unchecked } });
  assertGolden('drift-issue-unchecked.md', issue.body);
  assert.match(issue.body, /found 1 node no longer as described, and could not check 2 nodes\./);
  const none = renderDriftIssue({ ...d.driftReport, result: { ...d.driftReport.result, nodes: [], unchecked } });
  assert.match(none.body, /found 0 nodes no longer as described, and could not check 2 nodes/);
  assert.doesNotMatch(none.body, /Tasks not met/);
});
