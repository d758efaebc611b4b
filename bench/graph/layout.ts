/**
 * The SVG graph's layout: drawing size, crossings, bundles and layout time on the regions fixture (50 nodes), the lamp
 * example and seeded random graphs of 10 to 200 nodes. Prints figures, asserts nothing (see bench/graph/README.md).
 *
 *   node --import tsx bench/graph/layout.ts [--runs N]
 */
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadDescription } from '../../schema/load-description.js';
import { buildEnvironmentGraph, type EnvironmentGraph } from '../../render/graph/environment-graph.js';
import { layoutGraph, renderSvg } from '../../render/graph/render-svg.js';
import { randomGraph } from '../../test/unit/render/graph/random-graph.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const runsArg = process.argv.indexOf('--runs');
const RUNS = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 9;

async function described(dir: string, env: string, coloured: boolean): Promise<EnvironmentGraph> {
  const r = await loadDescription({ dir: path.join(ROOT, dir) });
  if (!r.ok) throw new Error(`${dir}: ${JSON.stringify(r.errors)}`);
  return buildEnvironmentGraph(r.description.environments.get(env)!, coloured ? { states: new Map() } : {});
}

function measure(name: string, graph: EnvironmentGraph): void {
  const times: number[] = [];
  let layout = layoutGraph(graph); // warm-up
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    layout = layoutGraph(graph);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  const svg = renderSvg(graph);
  const [, w, h] = /width="([\d.]+)" height="([\d.]+)"/.exec(svg)!;
  const labels = layout.bundles.filter((b) => b.label).length;
  const joined = layout.bundles.filter((b) => b.from.length * b.to.length > 1).length;
  console.log(
    [
      name.padEnd(28),
      `${graph.nodes.length} nodes`.padStart(10),
      `${graph.edges.length} edges`.padStart(10),
      `${layout.bundles.length} bundles (${joined} of 2+)`.padStart(22),
      `drawing ${w}×${h}`.padEnd(20),
      `${layout.crossings} crossings`.padStart(15),
      `${labels} labels`.padStart(10),
      `layout ${times[Math.floor(times.length / 2)].toFixed(1)} ms (max ${times.at(-1)!.toFixed(1)})`,
      `svg ${(svg.length / 1024).toFixed(0)} KB`,
    ].join('  '),
  );
}

console.log(
  `load average ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')} on ${os.cpus().length} cores; ${RUNS} runs`,
);
measure('regions (states unknown)', await described('test/fixtures/graph/regions', 'big', false));
measure('regions (coloured)', await described('test/fixtures/graph/regions', 'big', true));
measure('lamp production (coloured)', await described('examples/lamp', 'production', true));
for (const [n, seed] of [
  [10, 1],
  [10, 2],
  [50, 3],
  [50, 4],
  [200, 5],
] as const)
  measure(`random ${n} (seed ${seed})`, randomGraph(n, seed));
