/**
 * The controller with POLITBURO_SSH_PERSIST (docs/configuration.md): the connector each job builds (connectorFor)
 * reaches its hosts through the connection keeper, so the next job finds the connection the last one opened. Real
 * configuration parsing, real sshd, the real keeper.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { readConfig, ConfigError } from '../../../../controller/config.js';
import { connectorFor } from '../../../../controller/jobs/host-connector.js';
import { createLogger } from '../../../../controller/logger.js';
import { keptConnections } from '../../../../hosts/keeper-client.js';
import { createHostConnector, type PolitburoHostConnector } from '../../../../hosts/ssh-connector.js';
import type { ResolvedEnvironment } from '../../../../kernel/types.js';
import { startSshHosts, type SshHosts } from '../../../helpers/sshd.js';

let ssh: SshHosts;
let dir: string;
let checkout: string;

before(async () => {
  ssh = await startSshHosts(1);
  dir = await mkdtemp(path.join(os.tmpdir(), 'politburo-controller-keep-'));
  checkout = await mkdtemp(path.join(os.tmpdir(), 'politburo-controller-checkout-'));
  await writeFile(path.join(dir, 'known_hosts'), ssh.knownHosts);
});
after(async () => {
  await keptConnections(path.join(dir, 'keeper'), { close: true }).catch(() => null);
  await ssh?.stop();
  await rm(dir, { recursive: true, force: true });
  await rm(checkout, { recursive: true, force: true });
});

const configWith = (env: Record<string, string>) =>
  readConfig({
    DATABASE_URL: 'postgres://unused',
    GITHUB_TOKEN: 'test-token',
    POLITBURO_SSH_KEY: ssh.privateKeyPath,
    POLITBURO_KNOWN_HOSTS: path.join(dir, 'known_hosts'),
    ...env,
  });

test('with POLITBURO_SSH_PERSIST the next job uses the connection the last job opened', async () => {
  const config = configWith({ POLITBURO_SSH_PERSIST: '10m', POLITBURO_SSH_PERSIST_DIR: path.join(dir, 'keeper') });
  assert.deepEqual(config.ssh.persist, { dir: path.join(dir, 'keeper'), ms: 600_000 });
  const deps = { config, logger: createLogger({ level: 'silent' }), connector: createHostConnector };
  const env = { name: 'prod' } as ResolvedEnvironment;
  const h = ssh.hosts[0];
  const target = { kind: 'ssh' as const, address: h.address, port: h.port, user: h.user };
  const job = async () => {
    const { connector } = await connectorFor(deps, checkout, env);
    const conn = await connector.connect(target);
    const seen = (await conn.exec('echo "$SSH_CONNECTION" | cut -d" " -f1,2')).stdout.trim();
    const stats = (connector as PolitburoHostConnector).stats();
    await connector.close();
    return { seen, stats };
  };
  const first = await job();
  const second = await job();
  assert.deepEqual(first.stats.connections, { [h.address]: 1 });
  assert.deepEqual(second.stats.connections, {});
  assert.deepEqual(second.stats.reused, { [h.address]: 1 });
  assert.equal(second.seen, first.seen, 'the same TCP connection');
  const kept = await keptConnections(path.join(dir, 'keeper'));
  assert.equal(kept?.length, 1);
});

test('without it only what ssh_config says is kept, with `no` nothing; a bad value stops the controller at start-up, saying what it takes', () => {
  assert.deepEqual(configWith({ POLITBURO_SSH_PERSIST_DIR: '/k' }).ssh.persist, { dir: '/k' }, "ssh_config's say");
  assert.equal(configWith({ POLITBURO_SSH_PERSIST: 'no' }).ssh.persist, undefined);
  assert.throws(
    () => configWith({ POLITBURO_SSH_PERSIST: 'a while' }),
    (err: unknown) =>
      err instanceof ConfigError &&
      /POLITBURO_SSH_PERSIST: 'a while' is not a time to keep connections: use a duration such as '60s'/.test(
        err.message,
      ),
  );
});
