// The demo environment's tasks really run on this machine (a `local` host) and only write under $HOME/.politburo-demo:
// met after meet, already met the second time, nothing to do in a dry run.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadDescription } from '../../../schema/load-description.js';
import { createLocalConnection } from '../../../hosts/local-connection.js';
import { runNodeTasks } from '../../../reconciler/tasks/run-node-tasks.js';
import type { ResolvedEnvironment } from '../../../kernel/types.js';

const EXAMPLE = path.resolve(import.meta.dirname, '../../../examples/lamp');
let home: string;
let demo: ResolvedEnvironment;

before(async () => {
  // This test file runs in its own process: the shell tasks see this HOME, so nothing touches the real one.
  home = mkdtempSync(path.join(os.tmpdir(), 'pb-demo-home-'));
  process.env.HOME = home;
  const loaded = await loadDescription({ dir: EXAMPLE });
  assert.ok(loaded.ok);
  demo = loaded.description.environments.get('demo')!;
});
after(() => rmSync(home, { recursive: true, force: true }));

async function runAll(dryRun: boolean): Promise<Record<string, string[]>> {
  const conn = createLocalConnection({ depsRoot: path.join(home, 'deps') });
  const entries = await Promise.all(
    demo.nodes.map(async (n) => {
      const results = await runNodeTasks(conn, n, { dryRun, remoteDepsDir: null, timeoutMs: 30_000, secrets: {} });
      return [
        n.path,
        results.map((r) => `${r.name}: ${r.outcome}${r.outcome === 'failed' ? ` ${r.message}` : ''}`),
      ] as const;
    }),
  );
  return Object.fromEntries(entries);
}

test('demo tasks: met, then already met, and a dry run finds nothing to do', async () => {
  const first = await runAll(false);
  for (const [node, outcomes] of Object.entries(first))
    assert.ok(
      outcomes.every((o) => o.endsWith(': met')),
      `${node}: ${outcomes.join('; ')}`,
    );
  const root = path.join(home, '.politburo-demo');
  assert.deepEqual(readdirSync(root).sort(), ['database', 'lb', 'web-1', 'web-2']);
  assert.equal(readFileSync(path.join(root, 'web-2/var/release'), 'utf8'), 'ref=v1.4.2 db=127.0.0.1\n');
  assert.equal(readFileSync(path.join(root, 'lb/etc/haproxy.cfg'), 'utf8'), 'backends=127.0.0.1,127.0.0.1\n');
  assert.equal(
    readFileSync(path.join(root, 'database/replica-1/etc/postgresql.conf'), 'utf8'),
    'role=replica master=127.0.0.1\n',
  );
  const second = await runAll(false);
  for (const [node, outcomes] of Object.entries(second))
    assert.ok(
      outcomes.every((o) => o.endsWith(': already met')),
      `${node}: ${outcomes.join('; ')}`,
    );
  const dry = await runAll(true);
  for (const outcomes of Object.values(dry)) assert.ok(outcomes.every((o) => o.endsWith(': already met')));
});
