/**
 * State store benchmark: `bulkRecordNodes` of 10,000 nodes (three tasks each) and `recordedNodes` reading them back.
 * Usage: DATABASE_URL=postgres://… node --import tsx bench/store/run.ts [--runs N]
 * Without DATABASE_URL the embedded PostgreSQL starts first (not measured). Uses a database of its own, dropped at the
 * end. Prints the seed time and the best and median of N reads (default 5); targets as in bench/README.md.
 */
import os from 'node:os';
import pg from 'pg';
import { openStore } from '../../store/open-store.js';
import { createPgStore } from '../../store/pg-store.js';
import { migrate } from '../../store/migrate.js';
import { sampleRecordedNode } from '../../test/helpers/recorded-nodes.js';

const args = process.argv.slice(2);
const runs = Number(args[args.indexOf('--runs') + 1] || 5) || 5;
async function main(): Promise<void> {
  const server = await openStore({ databaseUrl: process.env.DATABASE_URL, log: (m) => process.stderr.write(`${m}\n`) });
  const name = `pb_bench_store_${process.pid}`;
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(server.url);
  url.pathname = `/${name}`;
  const pool = new pg.Pool({ connectionString: url.toString() });
  pool.on('error', () => undefined); // idle connections are cut when the database is dropped
  const store = createPgStore(pool);
  try {
    await migrate(url.toString());
    const nodes = Array.from({ length: 10_000 }, (_, i) => sampleRecordedNode(i));
    const t0 = performance.now();
    await store.bulkRecordNodes('acme/infra', 'big', nodes);
    const seedMs = performance.now() - t0;
    const reads: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t = performance.now();
      const read = await store.recordedNodes('acme/infra', 'big');
      reads.push(performance.now() - t);
      if (read.length !== nodes.length) throw new Error(`read ${read.length} nodes, expected ${nodes.length}`);
    }
    reads.sort((a, b) => a - b);
    const median = reads[Math.floor(reads.length / 2)];
    console.log(`bulkRecordNodes of 10,000 nodes: ${seedMs.toFixed(0)} ms (target < 10000 ms)`);
    console.log(
      `recordedNodes of 10,000 nodes: best ${reads[0].toFixed(0)} ms, median ${median.toFixed(0)} ms of ${runs} (target < 300 ms)`,
    );
    console.log(
      `load average: ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')} on ${os.cpus().length} cores`,
    );
    const ok = seedMs < 10_000 && median < 300;
    console.log(ok ? 'PASS' : 'FAIL');
    process.exitCode = ok ? 0 : 1;
  } finally {
    await store.close();
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
    await server.close();
  }
}

await main();
