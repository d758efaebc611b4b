// Golden tests of the plan comment's dependency graph (UPDATE_GOLDEN=1 rewrites test/fixtures/github/ after review).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GRAPH_OPEN_BOXES, renderPlanComment } from '../../../../controller/github/render-plan-comment.js';
import { COMMENT_LIMIT } from '../../../../controller/github/markdown.js';
import { assertGolden } from './golden.js';
import { HEAD, productionPlan, stagingUnchanged } from './sample-data.js';
import { depPlan, smallGraphPlan, zonedPlan, type NodeSpec } from './plan-graph-data.js';

const urls = {
  headSha: HEAD,
  runUrl: 'https://politburo.example/runs/42',
  fullPlanUrl: 'https://politburo.example/plans/7',
};

/** The Mermaid blocks of a comment, each checked to be closed by its own fence. */
function mermaidBlocks(body: string): string[] {
  const blocks: string[] = [];
  const lines = body.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^(`{3,})mermaid$/.exec(lines[i]);
    if (!open) continue;
    const close = lines.indexOf(open[1], i + 1);
    assert.ok(close > i, `the mermaid block at line ${i + 1} is closed`);
    blocks.push(lines.slice(i + 1, close).join('\n'));
    i = close;
  }
  return blocks;
}

function assertWellFormed(body: string): void {
  assert.ok(body.length <= COMMENT_LIMIT, `comment is ${body.length} characters`);
  assert.equal(body.split('<details>').length, body.split('</details>').length, '<details> are closed');
  assert.match(body.trimEnd().split('\n').at(-1)!, /^<sub>Planned at/, 'the footer is the last line');
  for (const b of mermaidBlocks(body)) assert.match(b, /^flowchart LR\n/);
}

/** A plan whose update rows carry long change lines, to fill the comment. */
function wordyZonedPlan(environment: string, zones: number, perZone: number) {
  const p = zonedPlan(environment, zones, perZone);
  for (const n of p.plan!.nodes)
    if (n.action === 'update') n.changes = [`task 'app' arguments: release ${'v1.4.3-build.0001 '.repeat(6)}`];
  return p;
}

test('plan comment graph, small: open above the table, coloured and labelled by action', () => {
  const body = renderPlanComment([smallGraphPlan, stagingUnchanged], urls);
  assertWellFormed(body);
  const [block, ...more] = mermaidBlocks(body);
  assert.equal(more.length, 0, 'no graph for an environment without changes');
  assert.ok(!body.includes('<details>'));
  assert.ok(body.indexOf('```mermaid') < body.indexOf('| Node | Host | Action |'), 'the picture comes first');
  assert.match(block, /classDef create /);
  assert.match(block, /classDef terminate /);
  assert.match(body, /\*\*Dependency graph\*\* of the 7 nodes affected\. The 4 changed nodes, what they wait for/);
  assertGolden('plan-comment-graph-small.md', body);
});

test('plan comment graph: none when the changed nodes have no dependency to show', () => {
  const body = renderPlanComment([productionPlan], urls);
  assert.equal(mermaidBlocks(body).length, 0);
  assert.ok(!body.includes('Dependency graph'));
});

test('plan comment graph, large: collapsed in <details> above the open size', () => {
  const body = renderPlanComment([zonedPlan('production', 3, 8)], urls);
  assertWellFormed(body);
  assert.match(
    body,
    /<details>\n<summary>Dependency graph of the 28 nodes affected \(24 changed\)<\/summary>\n\n.*\n\n```mermaid\n/,
  );
  const [block] = mermaidBlocks(body);
  assert.ok(block.split('\n').filter((l) => /^\s+n\d+\[/.test(l)).length > GRAPH_OPEN_BOXES);
  assertGolden('plan-comment-graph-large.md', body);
});

test('plan comment graph, larger still: one box per group of nodes, counted per action', () => {
  const body = renderPlanComment([zonedPlan('fleet', 4, 50)], urls);
  assertWellFormed(body);
  assert.match(body, /Too many to draw one by one: a box stands for the nodes under a path of 2 segments/);
  assert.match(body, /\["zone-4\/app\/…<br\/>50 nodes<br\/>50 update"\]/);
  assertGolden('plan-comment-graph-grouped.md', body);
});

test('plan comment graph at the size limit: the first graph takes at most half, a later one is counted as not shown', () => {
  const body = renderPlanComment([wordyZonedPlan('fleet', 30, 100), smallGraphPlan], urls);
  assertWellFormed(body);
  assert.ok(body.length > COMMENT_LIMIT - 6_000, 'the budget is used');
  const blocks = mermaidBlocks(body);
  assert.equal(blocks.length, 1);
  assert.match(blocks[0], /\["zone-17\/app\/…<br\/>100 nodes<br\/>100 update"\]/);
  assert.match(body, /more lines of `fleet` not shown/);
  assert.match(
    body,
    /#### `production`: 2 to create, 1 to update, 5 unchanged, 1 to terminate\n\n\| Node \| Host \| Action \| What changes \|\n\| --- \| --- \| --- \| --- \|\n\n_… 5 more lines of `production` not shown/,
    'the graph line and the four rows are counted',
  );
  assertGolden('plan-comment-graph-limit.md', body);
});

function flatPlan(hosts: number) {
  const specs: NodeSpec[] = [{ path: 'dns', action: 'update' }];
  for (let i = 1; i <= hosts; i++) specs.push({ path: `host-${i}`, action: 'unchanged', deps: ['dns'] });
  return depPlan('flat', specs);
}

test('plan comment graph: thousands of ungroupable top-level nodes fall back to one line', () => {
  const body = renderPlanComment([flatPlan(2_000)], urls);
  assertWellFormed(body);
  assert.equal(mermaidBlocks(body).length, 0);
  assert.match(body, /_Dependency graph of the 2001 nodes affected not drawn: it would not fit in the comment\./);
});

test('plan comment graph: whatever the sizes, the comment stays under the limit with whole Mermaid blocks', () => {
  const seen = new Set<string>();
  for (const [zones, perZone] of [
    [2, 3],
    [3, 20],
    [8, 60],
    [30, 20],
    [60, 300],
  ]) {
    for (const second of [[], [smallGraphPlan], [wordyZonedPlan('staging', zones, perZone)], [flatPlan(100)]]) {
      const body = renderPlanComment([wordyZonedPlan('fleet', zones, perZone), ...second], urls);
      assertWellFormed(body);
      for (const b of mermaidBlocks(body)) seen.add(b.includes('/…<br/>') ? 'grouped' : 'nodes');
      if (body.includes('not drawn')) seen.add('not drawn');
    }
  }
  assert.deepEqual([...seen].sort(), ['grouped', 'nodes', 'not drawn']);
});
