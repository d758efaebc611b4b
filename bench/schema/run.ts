/**
 * Description benchmark: how long `loadDescription` takes to resolve 10,000 node instances, and to refuse hostile
 * descriptions by their limits (a huge count, every node depending on every other, a big param in many nodes).
 * Usage: node --import tsx bench/schema/run.ts [--runs N]
 * Prints best and median wall time of N runs (default 5) after one warm-up, and the load average; targets as in
 * bench/README.md. Exit status 1 when a median misses its target.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { formatValidationError, loadDescription } from '../../schema/load-description.js';

const args = process.argv.slice(2);
const runs = Number(args[args.indexOf('--runs') + 1] || 5) || 5;

// The same 10,000-instance description the tests resolve (test/unit/schema/performance.test.ts).
const TEN_THOUSAND = readFileSync(
  new URL('../../test/fixtures/scale/ten-thousand/politburo.yml', import.meta.url),
  'utf8',
);

const hostile = (resources: string, params = '') =>
  `politburo: 1\nblueprints:\n  b:\n${params}    resources:\n      ${resources}\nenvironments:\n  prod: { blueprint: b, hosts: { web: local } }\n`;

interface Case {
  name: string;
  yml: string;
  /** What the result must be, so a figure is never of a run that did something else. */
  expect: (r: Awaited<ReturnType<typeof loadDescription>>) => string | null;
  targetMs: number;
}

const refusedWith = (text: string) => (r: Awaited<ReturnType<typeof loadDescription>>) =>
  !r.ok && r.errors.map(formatValidationError).some((e) => e.includes(text))
    ? null
    : `expected an error containing '${text}'`;

const CASES: Case[] = [
  {
    name: '10,000 instances load, validate and resolve',
    yml: TEN_THOUSAND,
    expect: (r) =>
      r.ok && r.description.environments.get('bench')!.nodes.length === 10_002 ? null : 'expected 10,002 nodes',
    targetMs: 800,
  },
  {
    name: 'count: 1000000000 refused',
    yml: hostile('web: { count: 1000000000, tasks: [ { babushka: x } ] }'),
    expect: refusedWith('resource instances (the limit)'),
    targetMs: 1000,
  },
  {
    name: 'every node depending on every other (count 50000, depends_on itself) refused',
    yml: hostile('web: { count: 50000, depends_on: [web], tasks: [ { babushka: x } ] }'),
    expect: refusedWith('dependencies between nodes (the limit)'),
    targetMs: 5000,
  },
  {
    name: 'a 100,000-character param in 5,000 nodes refused',
    yml: hostile(
      "web: { count: 5000, tasks: [ { babushka: x, args: { a: '${params.big}${params.big}' } } ] }",
      `    params: { big: ${'x'.repeat(100_000)} }\n`,
    ),
    expect: refusedWith('characters of task arguments and commands (the limit)'),
    targetMs: 5000,
  },
];

async function timeCase(c: Case): Promise<{ best: number; median: number }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pb-bench-schema-'));
  try {
    writeFileSync(path.join(dir, 'politburo.yml'), c.yml);
    const times: number[] = [];
    for (let i = 0; i <= runs; i++) {
      const start = performance.now();
      const r = await loadDescription({ dir });
      const ms = performance.now() - start;
      const wrong = c.expect(r);
      if (wrong) throw new Error(`${c.name}: ${wrong}`);
      if (i > 0) times.push(ms); // the first run warms module loading and the JIT
    }
    times.sort((a, b) => a - b);
    return { best: times[0], median: times[Math.floor(times.length / 2)] };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

let ok = true;
for (const c of CASES) {
  const { best, median } = await timeCase(c);
  const pass = median < c.targetMs;
  ok &&= pass;
  console.log(
    `${c.name}: best ${best.toFixed(0)} ms, median ${median.toFixed(0)} ms of ${runs} (target < ${c.targetMs} ms) ${pass ? 'PASS' : 'FAIL'}`,
  );
}
console.log(
  `load average: ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')} on ${os.cpus().length} cores`,
);
process.exitCode = ok ? 0 : 1;
