// Resolution of the lamp example (test/fixtures/language/valid/lamp).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadDescription } from '../../../schema/load-description.js';
import { depList, hostOf, node, taskList } from './helpers.js';

const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/language/valid/lamp');

test('lamp: production resolves every node, host, task and dependency', async () => {
  const r = await loadDescription({ dir });
  assert.ok(r.ok, r.ok ? '' : JSON.stringify(r.errors));
  const { description } = r;
  assert.deepEqual(description.files, ['politburo.yml']);
  assert.equal(description.depsDir, 'babushka-deps');
  assert.equal(description.root, dir);
  const prod = description.environments.get('production')!;
  assert.deepEqual(
    prod.nodes.map((n) => n.path),
    ['database/master', 'database/replica-1', 'web-1', 'web-2', 'web-3', 'lb'],
  );
  assert.deepEqual(prod.groups, ['database']);
  assert.deepEqual(prod.defaults, { ssh: { user: 'deploy', port: 22 }, concurrency: 20, timeoutMs: 900_000 });
  assert.deepEqual(prod.drift, { schedule: '*/30 * * * *', heal: false });
  assert.equal(prod.knownHosts, 'known_hosts');
  assert.equal(prod.branch, 'main');
  assert.deepEqual(prod.params, { web_count: 3, replica_count: 1, app_ref: 'v1.4.2' });
  assert.equal(hostOf(node(prod, 'database/replica-1')), 'ubuntu@203.0.113.11:22');
  assert.equal(hostOf(node(prod, 'web-3')), 'deploy@203.0.113.23:22');
  assert.deepEqual(taskList(node(prod, 'web-2')), [
    'lamp base {}',
    'app deployed {"db":"db1.example.com","ref":"v1.4.2"}',
    'shell:swappiness tuned',
  ]);
  assert.equal(node(prod, 'web-2').index, 2);
  assert.equal(node(prod, 'lb').index, undefined);
  assert.deepEqual(taskList(node(prod, 'lb')), [
    'haproxy configured {"backends":"203.0.113.21,203.0.113.22,203.0.113.23"}',
  ]);
  assert.deepEqual(depList(node(prod, 'lb')), [
    'web-1#ready (explicit)',
    'web-2#ready (explicit)',
    'web-3#ready (explicit)',
  ]);
  assert.deepEqual(depList(node(prod, 'database/replica-1')), ['database/master#ready (explicit)']);
  const shell = node(prod, 'web-1').tasks[2];
  assert.equal(shell.kind, 'shell');
  if (shell.kind === 'shell') assert.equal(shell.met, 'test "$(sysctl -n vm.swappiness)" = 10');
  assert.deepEqual(node(prod, 'web-1').source, { file: 'politburo.yml', line: 51, column: 9 });
  assert.deepEqual(node(prod, 'web-1').tasks[0].source, { file: 'politburo.yml', line: 12, column: 9 });
  assert.match(node(prod, 'web-1').specHash, /^[0-9a-f]{64}$/);
});

test('lamp: staging extends production with its own params, hosts and override', async () => {
  const r = await loadDescription({ dir });
  assert.ok(r.ok);
  const staging = r.description.environments.get('staging')!;
  assert.deepEqual(
    staging.nodes.map((n) => n.path),
    ['database/master', 'web-1', 'lb'],
  );
  assert.deepEqual(staging.params, { web_count: 1, replica_count: 0, app_ref: 'v1.4.2' });
  assert.equal(hostOf(node(staging, 'database/master')), 'deploy@198.51.100.10:22');
  assert.deepEqual(taskList(node(staging, 'lb')), [
    'haproxy configured {"backends":"198.51.100.21"}',
    'debug tools {}',
  ]);
  assert.deepEqual(taskList(node(staging, 'web-1'))[1], 'app deployed {"db":"198.51.100.10","ref":"v1.4.2"}');
  assert.deepEqual(staging.drift, { schedule: '*/30 * * * *', heal: false });
});
