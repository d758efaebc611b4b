// What the plan check and the sticky comment say changes: planner output (reconciler/plan-environment.ts) as rendered.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderPlanComment } from '../../../../controller/github/render-plan-comment.js';
import { renderPlanCheck } from '../../../../controller/github/render-plan-check.js';
import { CHANGES_PER_NODE, renderChangesCell } from '../../../../controller/github/render-plan-changes.js';
import { planEnvironment } from '../../../../reconciler/plan-environment.js';
import type { PlanForRender } from '../../../../controller/ports.js';
import type { RecordedNode, ResolvedEnvironment, ResolvedNode, TaskSpec } from '../../../../kernel/types.js';

const pos = { file: 'politburo.yml', line: 1, column: 1 };

function shell(version: string): TaskSpec {
  return {
    kind: 'shell',
    name: 'app installed',
    met: `test "$(cat /opt/app/VERSION)" = ${version}`,
    meet: `curl -fsSL -H "Authorization: \${secret.dl_token}" https://example.com/app_${version}.tgz | tar xz; echo ${version} > /opt/app/VERSION`,
    source: pos,
  };
}

function planFor(before: TaskSpec[], after: TaskSpec[]): PlanForRender {
  const node: ResolvedNode = {
    path: 'web-1',
    name: 'web-1',
    host: { kind: 'static', address: '203.0.113.21', source: pos },
    tasks: after,
    dependsOn: [],
    source: pos,
    specHash: 'new',
  };
  const recorded: RecordedNode = {
    path: 'web-1',
    host: '203.0.113.21',
    specHash: 'old',
    tasks: before,
    state: 'ready',
    lastAppliedCommit: 'abc',
    lastRunId: '1',
  };
  const env: ResolvedEnvironment = {
    name: 'production',
    defaults: { ssh: {}, concurrency: 1, timeoutMs: 1000 },
    params: {},
    nodes: [node],
    groups: [],
    drift: { schedule: '0 * * * *', heal: false },
    depsDir: 'babushka-deps',
    source: pos,
  };
  return { environment: 'production', errors: [], plan: planEnvironment(env, [recorded], 'c0ffee') };
}

const expectedCell =
  "task 'app installed': met: 1.4.3 → 1.4.4<br>task 'app installed': meet: app\\_1.4.3.tgz → app\\_1.4.4.tgz<br>task 'app installed': meet: 1.4.3 → 1.4.4";

test('the check and the comment show the values that differ, a line each, never the secret', () => {
  const p = planFor([shell('1.4.3')], [shell('1.4.4')]);
  const check = renderPlanCheck(p);
  const comment = renderPlanComment([p], { headSha: 'c0ffee' });
  for (const text of [check.summary, comment]) {
    assert.ok(text.includes(`| \`web-1\` | 203.0.113.21 | update | ${expectedCell} |`), text);
    assert.doesNotMatch(text, /dl_token|Authorization/);
  }
});

test('a changed secret reference is shown by name only, escaped for markdown', () => {
  const task = (name: string): TaskSpec => ({
    kind: 'babushka',
    name: 'db',
    dep: 'db',
    args: { password: `\${secret.${name}}` },
    source: pos,
  });
  const check = renderPlanCheck(planFor([task('db_old')], [task('db_new')]));
  assert.ok(check.summary.includes("task 'db': password: ${secret.db\\_old} → ${secret.db\\_new}"), check.summary);
});

test('a changes cell keeps pipes, markdown and HTML of values from breaking the table, and caps the lines', () => {
  assert.equal(
    renderChangesCell(["task 'x': meet: a | b → `c` *d* <e>"]),
    "task 'x': meet: a \\| b → \\`c\\` \\*d\\* &lt;e>",
  );
  const many = Array.from({ length: CHANGES_PER_NODE + 3 }, (_, i) => `+ task 't${i}'`);
  const cell = renderChangesCell(many);
  assert.equal(cell.split('<br>').length, CHANGES_PER_NODE + 1);
  assert.match(cell, /<br>… and 3 more$/);
  assert.equal(renderChangesCell([]), '');
});
