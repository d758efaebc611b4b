// Resolution of test/fixtures/language/valid/features: every feature in one description with an include.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadDescription } from '../../../schema/load-description.js';
import { depList, hostOf, node, taskList } from './helpers.js';

const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/language/valid/features');

test('features: production mixes listed hosts and provider hosts; symbolic addresses and secrets', async () => {
  const r = await loadDescription({ dir });
  assert.ok(r.ok, r.ok ? '' : JSON.stringify(r.errors));
  assert.deepEqual(r.description.files, ['politburo.yml', 'roles/monitoring.yml']);
  const prod = r.description.environments.get('production')!;
  assert.deepEqual(prod.groups, ['database', 'region-eu', 'region-us']);
  assert.equal(hostOf(node(prod, 'database/replica-1')), 'ubuntu@db2.example.com:2222');
  assert.equal(hostOf(node(prod, 'region-eu/cache')), 'deploy@10.0.1.3:22');
  assert.equal(hostOf(node(prod, 'region-us/web-1')), 'provider(provision/create.sh) deploy:22');
  assert.deepEqual(taskList(node(prod, 'lb')), [
    'haproxy configured {"backends":"10.0.1.1,10.0.1.2,${address(region-us/web-1)},${address(region-us/web-2)}"}',
  ]);
  const web = node(prod, 'region-us/web-2');
  assert.deepEqual(taskList(web).slice(0, 3), [
    'base system {"hostname":"web-2.production"}',
    'node exporter {"port":"9100"}',
    'app deployed {"cache":"10.0.1.3,${address(region-us/cache)}","db":"db1.example.com","index":"2","password":"${secret.db_password}","region":"us"}',
  ]);
  assert.deepEqual(depList(web), [
    'database/master#ready (inherited)',
    'database/replica-1#ready (inherited)',
    'region-eu/cache#provisioned (implicit)',
    'region-us/cache#provisioned (implicit)',
  ]);
  const motd = web.tasks[3];
  assert.ok(motd.kind === 'shell');
  assert.equal(motd.met, 'grep -q "${HOSTNAME}" /etc/motd');
  assert.equal(motd.meet, 'echo region-us/web-2 > /etc/motd');
  assert.deepEqual(prod.drift, { schedule: '*/30 * * * *', heal: true });
  assert.equal(prod.provider?.destroy, 'provision/destroy.sh');
});

test('features: staging and dev extend with removes, overrides, defaults and their own hosts', async () => {
  const r = await loadDescription({ dir });
  assert.ok(r.ok);
  const staging = r.description.environments.get('staging')!;
  assert.deepEqual(
    staging.nodes.map((n) => n.path),
    ['database/master', 'region-eu/web-1', 'region-eu/cache', 'lb', 'tools'],
  );
  assert.equal(staging.defaults.concurrency, 2);
  assert.equal(hostOf(node(staging, 'database/master')), 'deploy@10.9.0.1:22');
  assert.equal(hostOf(node(staging, 'lb')), 'provider(provision/create.sh) deploy:22');
  assert.deepEqual(taskList(node(staging, 'lb')), [
    'haproxy configured {"backends":"${address(region-eu/web-1)}","debug":"true"}',
  ]);
  const dev = r.description.environments.get('dev')!;
  assert.ok(dev.nodes.every((n) => n.host.kind === 'local'));
  assert.deepEqual(taskList(node(dev, 'lb')), ['haproxy configured {"backends":"127.0.0.1","debug":"true"}']);
  assert.notEqual(node(dev, 'lb').specHash, node(staging, 'lb').specHash);
});
