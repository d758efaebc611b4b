// The SVG graph stays readable at 50 nodes, measured on the drawing (docs/cli.md, "politburo graph"): it fits a
// desktop screen, wide layers are wrapped, fan-ins enter their node at one point with one arrowhead, labels collide
// with nothing, few lines cross; on the 50-node regions fixture, on environments shaped like descriptions and on
// seeded random DAGs. Every promise of check-layout.ts holds on each.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { loadDescription } from '../../../../schema/load-description.js';
import type { LifecycleState } from '../../../../kernel/types.js';
import { buildEnvironmentGraph, type EnvironmentGraph } from '../../../../render/graph/environment-graph.js';
import { FIT, layoutGraph, renderSvg } from '../../../../render/graph/render-svg.js';
import type { Layout } from '../../../../render/graph/layered-layout.js';
import { checkLayout } from './check-layout.js';
import { randomEnvironment, randomGraph } from './random-graph.js';
import { parseXml } from './xml-well-formed.js';

const ROOT = path.resolve(import.meta.dirname, '../../../..');

async function regions(coloured: boolean): Promise<EnvironmentGraph> {
  const r = await loadDescription({ dir: path.join(ROOT, 'test/fixtures/graph/regions') });
  assert.ok(r.ok);
  const env = r.description.environments.get('big')!;
  const states = new Map<string, LifecycleState>(
    env.nodes.map((n, i) => [n.path, (['ready', 'failed', 'configuring', 'defined'] as const)[i % 4]]),
  );
  return buildEnvironmentGraph(env, coloured ? { states } : {});
}

/** The whole drawing's size (legend included), as the SVG says. */
function drawingSize(graph: EnvironmentGraph): { width: number; height: number } {
  const doc = parseXml(renderSvg(graph));
  return { width: Number(doc.attrs.width), height: Number(doc.attrs.height) };
}

/** Columns the boxes stand in (their left edges). */
const columnsOf = (layout: Layout, paths: string[]) => new Set(paths.map((p) => Math.round(layout.nodes.get(p)!.x)));

for (const coloured of [false, true])
  test(`regions fixture, states ${coloured ? 'known' : 'unknown'} (50 nodes, 262 edges): one screen, bundled, few crossings`, async () => {
    const graph = await regions(coloured);
    assert.equal(graph.nodes.length, 50);
    assert.equal(graph.edges.length, 262);
    const layout = layoutGraph(graph);
    const { crossings } = checkLayout(graph, layout);
    assert.equal(crossings, layout.crossings);
    // It fits the screen a drawing should fit (it was 789×2714 drawn as one column per layer, 6,281 crossings).
    assert.ok(layout.width <= FIT.width && layout.height <= FIT.height, `${layout.width}×${layout.height}`);
    const size = drawingSize(graph);
    assert.ok(size.width <= FIT.width && size.height <= FIT.height + 100, `drawing ${size.width}×${size.height}`);
    assert.ok(crossings <= 70, `${crossings} crossings`);
    // The 21 web nodes of a region are wrapped over several columns, inside their region's box.
    for (const region of ['region-eu', 'region-us']) {
      const webs = graph.nodes.filter((n) => n.cluster === region && n.label.startsWith('web-')).map((n) => n.path);
      assert.equal(webs.length, 21);
      assert.ok(columnsOf(layout, webs).size >= 3, `${region}'s web nodes in ${columnsOf(layout, webs).size} columns`);
    }
    // 42 edges into lb and 48 into monitoring: one bundle each, one arrowhead each (checkLayout: at one point).
    for (const [to, count] of [
      ['lb', 42],
      ['monitoring', 48],
    ] as const) {
      const into = layout.bundles.filter((b) => b.to.includes(to));
      assert.equal(into.length, 1, `one bundle into ${to}`);
      assert.equal(into[0].from.length, count);
      assert.deepEqual(into[0].to, [to]);
      assert.equal(into[0].arrows.length, 1);
    }
    // Waiting for provisioning only: one label for monitoring's 48 edges.
    assert.equal(layout.bundles.filter((b) => b.label).length, 1);
    // 262 edges drawn as a handful of bundles.
    assert.ok(layout.bundles.length <= 6, `${layout.bundles.length} bundles`);
  });

test('environments shaped like descriptions (50 nodes, 10 seeds): at most two screens, never a strip', () => {
  for (let seed = 1; seed <= 10; seed++) {
    const graph = randomEnvironment(50, seed);
    const layout = layoutGraph(graph);
    const { crossings } = checkLayout(graph, layout);
    assert.equal(crossings, layout.crossings);
    const { width, height } = drawingSize(graph);
    const name = `seed ${seed}: ${width}×${height}, ${crossings} crossings`;
    assert.ok(width * height <= 2 * FIT.width * FIT.height, `${name}: within two screens`);
    assert.ok(width <= 2 * height && height <= 2 * width, `${name}: aspect ratio within 2:1`);
    assert.ok(crossings <= 40, name);
  }
});

for (const [seed, most] of [
  [3, 260],
  [4, 215],
] as const)
  test(`random DAG of 50 nodes (seed ${seed}): within 2800×1600, aspect ratio within 2:1, at most ${most} crossings`, () => {
    const graph = randomGraph(50, seed);
    const layout = layoutGraph(graph);
    const { crossings } = checkLayout(graph, layout);
    const { width, height } = drawingSize(graph);
    assert.ok(width <= 2800 && height <= 1600, `${width}×${height}`);
    assert.ok(width <= 2 * height && height <= 2 * width, `${width}×${height}`);
    assert.ok(crossings <= most, `${crossings} crossings`);
  });

test('the drawing is deterministic: the same graph gives the same SVG', async () => {
  for (const graph of [await regions(true), randomGraph(50, 3), randomEnvironment(50, 7)])
    assert.equal(renderSvg(graph), renderSvg(structuredClone(graph)));
});
