// The affected part of a plan's dependency graph as Mermaid: which nodes, which edges, safe labels, grouping.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { affectedPlanGraph, renderPlanMermaid } from '../../../../render/graph/plan-mermaid.js';
import { depPlan, smallGraphPlan, zonedPlan } from '../../controller/github/plan-graph-data.js';

const LIMITS = { maxBoxes: 80, maxEdges: 400, maxChars: 30_000 };

const STYLE_LINES = [
  /^ {2}classDef (create|update|terminate|unchanged|mixed) fill:#[0-9a-f]{6},stroke:#[0-9a-f]{6},/,
  /^ {2}class [nb]\d+(,[nb]\d+)* (create|update|terminate|unchanged|mixed)$/,
];

/**
 * A structural check of the flowchart: every line is one of the statements the renderer writes, every id is one of
 * its generated ids, and every label is quoted with nothing inside that Mermaid or GitHub's markdown could read as
 * syntax (quotes, `%%` comments and directives, backticks, colons, line breaks, HTML other than `<br/>`).
 */
function assertSafeFlowchart(text: string): { boxes: string[]; edges: number } {
  const lines = text.split('\n');
  assert.equal(lines[0], 'flowchart LR');
  const boxes: string[] = [];
  let edges = 0;
  let depth = 0;
  const label = String.raw`"((?:[^"%\x60:\r\n<>]|<br/>)*)"`;
  for (const line of lines.slice(1)) {
    const box = new RegExp(String.raw`^\s+([nb]\d+)\[${label}\]$`).exec(line);
    const sub = new RegExp(String.raw`^\s+subgraph g\d+\[${label}\]$`).exec(line);
    if (box) boxes.push(box[1]);
    else if (sub) depth++;
    else if (/^\s+end$/.test(line)) depth--;
    else if (/^ {2}[nb]\d+ (-->|-\. provisioned \.->) [nb]\d+$/.test(line)) edges++;
    else if (!STYLE_LINES.some((re) => re.test(line)))
      assert.fail(`unexpected flowchart line: ${JSON.stringify(line)}`);
    assert.ok(depth >= 0, 'subgraphs are balanced');
  }
  assert.equal(depth, 0, 'every subgraph is closed');
  assert.equal(new Set(boxes).size, boxes.length, 'box ids are unique');
  return { boxes, edges };
}

test('the affected part: changed nodes, their direct dependencies and dependents, nothing further', () => {
  const pg = affectedPlanGraph(smallGraphPlan.plan!);
  assert.deepEqual(pg.graph.nodes.map((n) => n.path).sort(), [
    'cache',
    'database/master',
    'database/replica-1',
    'lb',
    'legacy/cron',
    'web/web-1',
    'web/web-2',
  ]);
  assert.equal(pg.changed, 4);
  assert.equal(pg.actions.get('legacy/cron'), 'terminate');
  assert.ok(
    pg.graph.edges.some(
      (e) => e.from === 'database/master' && e.to === 'database/replica-1' && e.state === 'provisioned',
    ),
  );
  assert.ok(!pg.graph.edges.some((e) => e.to === 'backup' || e.from === 'backup'), 'two steps away is left out');
  assert.deepEqual(
    pg.graph.clusters.map((c) => c.path),
    ['database', 'legacy', 'web'],
  );
});

test('node by node: every box says its action in text, redundant ready edges are reduced', () => {
  const drawn = renderPlanMermaid(affectedPlanGraph(smallGraphPlan.plan!), LIMITS)!;
  assert.equal(drawn.groupedAt, null);
  assert.equal(drawn.boxes, 7);
  assert.equal(drawn.reducedEdges, 1, 'lb waits for the master through the web nodes already');
  const { boxes, edges } = assertSafeFlowchart(drawn.text);
  assert.equal(boxes.length, 7);
  assert.equal(edges, 7);
  assert.match(drawn.text, /\["master<br\/>203\.0\.113\.10<br\/>update"\]/);
  assert.match(drawn.text, /\["web-2<br\/>to be provisioned<br\/>create"\]/);
  assert.match(drawn.text, /\["cron<br\/>203\.0\.113\.5<br\/>terminate"\]/);
  assert.match(drawn.text, /\["lb<br\/>203\.0\.113\.2<br\/>unchanged"\]/);
  assert.match(drawn.text, / -\. provisioned \.-> /);
  assert.match(drawn.text, /classDef unchanged .*stroke-dasharray/);
});

test('hostile node names stay labels: quotes, brackets, keywords, %% directives, backticks, markup', () => {
  const names = [
    'a"b',
    'x]y',
    'click',
    'end',
    '%%',
    'g%%{init: {"theme":"dark"}}%%/n',
    'subgraph/end/style:x#1;',
    'q`**bold**`/<script>alert(1)</script>',
    'graph TD;A-->B',
    'n0',
    'line\nbreak',
    'classDef create fill:#f00',
  ];
  const plan = depPlan('prod"; click', [
    { path: names[0], action: 'update', host: 'h"1' },
    ...names.slice(1).map((path, i) => ({ path, action: 'create' as const, deps: [names[i]], host: 'fe80::1%eth0' })),
  ]);
  const drawn = renderPlanMermaid(affectedPlanGraph(plan.plan!), LIMITS)!;
  const { boxes, edges } = assertSafeFlowchart(drawn.text);
  assert.equal(boxes.length, names.length);
  assert.equal(edges, names.length - 1);
  assert.ok(!drawn.text.includes('%%'));
  assert.match(drawn.text, /\["a#34;b<br\/>h#34;1<br\/>update"\]/);
  assert.match(drawn.text, /\["x\]y<br\/>fe80#58;#58;1#37;eth0<br\/>create"\]/);
  assert.match(drawn.text, /\["end<br\/>/);
  assert.match(drawn.text, /subgraph g\d+\["g#37;#37;\{init#58; \{#34;theme#34;#58;#34;dark#34;\}\}#37;#37;"\]/);
  assert.match(drawn.text, /\["line#10;break<br\/>/);
  assert.match(drawn.text, /#60;script#62;alert\(1\)#60;/);
  // Grouped, the same names are just as safe.
  const grouped = renderPlanMermaid(affectedPlanGraph(plan.plan!), { ...LIMITS, maxBoxes: 11 });
  assert.equal(grouped, null, 'no grouping brings 12 root-level and single-node boxes under 11');
  const moreUnder = depPlan('prod', [
    ...plan.plan!.nodes.map((n) => ({
      path: n.path,
      action: n.action,
      host: n.host,
      deps: n.node!.dependsOn.map((d) => d.path),
    })),
    { path: 'subgraph/end/a', action: 'create', deps: ['end'] },
    { path: 'subgraph/end/b', action: 'update', deps: ['end'] },
  ]);
  const g = renderPlanMermaid(affectedPlanGraph(moreUnder.plan!), { ...LIMITS, maxBoxes: 12 })!;
  assert.equal(g.groupedAt, 2);
  assertSafeFlowchart(g.text);
  assert.match(g.text, /\["subgraph\/end\/…<br\/>3 nodes<br\/>2 create, 1 update"\]/);
  assert.match(g.text, /classDef mixed /);
});

test('too many boxes: grouped by the longest path prefix that fits, with counts per action', () => {
  const pg = affectedPlanGraph(zonedPlan('fleet', 4, 50).plan!);
  assert.equal(pg.graph.nodes.length, 205);
  const drawn = renderPlanMermaid(pg, LIMITS)!;
  assert.equal(drawn.groupedAt, 2);
  assert.equal(drawn.boxes, 9);
  const { boxes, edges } = assertSafeFlowchart(drawn.text);
  assert.equal(boxes.length, 9);
  assert.equal(edges, 8, 'app groups wait for their zone database; dns → app is implied through it');
  assert.match(drawn.text, /\["zone-3\/app\/…<br\/>50 nodes<br\/>50 update"\]/);
  assert.match(drawn.text, /\["zone-3\/db<br\/>10\.0\.0\.\d+<br\/>unchanged"\]/);
  // Fewer boxes allowed: one level up.
  const coarser = renderPlanMermaid(pg, { ...LIMITS, maxBoxes: 5 })!;
  assert.equal(coarser.groupedAt, 1);
  assert.match(coarser.text, /\["zone-1\/…<br\/>51 nodes<br\/>50 update, 1 unchanged"\]/);
  assertSafeFlowchart(coarser.text);
});

test('grouping also when the text or the edges would be too many; null when nothing fits', () => {
  const pg = affectedPlanGraph(zonedPlan('fleet', 3, 8).plan!);
  const full = renderPlanMermaid(pg, LIMITS)!;
  assert.equal(full.groupedAt, null);
  const byChars = renderPlanMermaid(pg, { ...LIMITS, maxChars: full.text.length - 1 })!;
  assert.notEqual(byChars.groupedAt, null);
  assert.ok(byChars.text.length < full.text.length);
  const byEdges = renderPlanMermaid(pg, { ...LIMITS, maxEdges: 10 })!;
  assert.notEqual(byEdges.groupedAt, null);
  assert.ok(assertSafeFlowchart(byEdges.text).edges <= 10);
  assert.equal(renderPlanMermaid(pg, { ...LIMITS, maxChars: 50 }), null);
});
