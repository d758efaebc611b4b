/**
 * ssh_config's ProxyCommand against real sshd: inner hosts that accept their user only from the bastion's address,
 * reached through OpenSSH's own client as the ProxyCommand (`ssh -W %h:%p` to the bastion); a ProxyCommand that fails;
 * a repository's ProxyCommand, never run.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createHostConnector, type HostConnectorOptions } from '../../../hosts/ssh-connector.js';
import { liveProcesses, wrongKnownHostsLine } from '../../helpers/sshd.js';
import { startFleet, type Fleet } from '../../helpers/ssh-fleet.js';
import { waitFor } from '../../helpers/wait-for.js';
import { rejectsWith } from '../../helpers/rejects-with.js';

let fleet: Fleet;
/** The bastion's known_hosts for the ProxyCommand's ssh: a name no other test's processes have. */
let bastionKnownHosts: string;
before(async () => {
  fleet = await startFleet({ inner: 2 });
  bastionKnownHosts = path.join(fleet.dir, `bastion-known-hosts-${process.pid}`);
  await writeFile(bastionKnownHosts, fleet.bastion.knownHostsLine + '\n');
});
after(async () => {
  await fleet?.stop();
});

/** The classic form: OpenSSH's client to the bastion, `-W` to the host's resolved HostName and port. */
function viaBastion(): string {
  const b = fleet.bastion;
  return (
    `ssh -F /dev/null -i ${fleet.privateKeyPath} -o IdentitiesOnly=yes -o BatchMode=yes ` +
    `-o UserKnownHostsFile=${bastionKnownHosts} -o StrictHostKeyChecking=yes -W %h:%p ${fleet.user}@${b.address} -p ${b.port}`
  );
}

function hosts(proxyCommand: string): string {
  const [a, b] = fleet.inner;
  return [
    `Host inner-*`,
    `  ProxyCommand ${proxyCommand}`,
    'Host inner-0',
    `  HostName ${a.address}`,
    'Host inner-1',
    `  HostName ${b.address}`,
    `  Port ${b.port}`,
    'Host *',
    `  User ${fleet.user}`,
    '',
  ].join('\n');
}

function connector(text: string, opts: Partial<HostConnectorOptions> = {}) {
  return createHostConnector({
    privateKey: fleet.privateKey,
    knownHosts: [fleet.knownHosts],
    sshConfig: [{ text, where: '~/.ssh/config' }],
    retryDelaysMs: [],
    ...opts,
  });
}

/** `SSH_CONNECTION`: the client's address as the host saw it, and the server's address and port. */
async function connectionOf(c: ReturnType<typeof connector>, address: string) {
  const conn = await c.connect({ kind: 'ssh', address });
  const r = await conn.exec('echo "$(whoami) $SSH_CONNECTION"');
  assert.equal(r.code, 0, r.stderr);
  const [user, client, , server, port] = r.stdout.trim().split(' ');
  assert.equal(user, fleet.user);
  return { client, server: `${server}:${port}` };
}

/** The ProxyCommand processes of this file still running. */
const proxies = () => liveProcesses(new RegExp(`^ssh .*${bastionKnownHosts.replace(/[.]/g, '\\.')}`));

const at = (i: number) => `${fleet.inner[i].address}:${fleet.inner[i].port}`;

describe('ProxyCommand', () => {
  test('without it the inner hosts cannot be reached', async () => {
    const c = connector(hosts('none'));
    try {
      await rejectsWith(c.connect({ kind: 'ssh', address: 'inner-0' }), 'HostUnreachable', /refused/);
    } finally {
      await c.close();
    }
  });

  test("through `ssh -W %h:%p` to the bastion: the host sees the bastion's address; ended with the connection", async () => {
    const before = fleet.bastionConnections();
    const c = connector(hosts(viaBastion()));
    try {
      const [first, second, again] = await Promise.all([
        connectionOf(c, 'inner-0'),
        connectionOf(c, 'inner-1'),
        connectionOf(c, 'inner-0'),
      ]);
      assert.deepEqual(
        [first.server, second.server, again.server],
        [at(0), at(1), at(0)],
        '%h and %p: the resolved HostName and Port',
      );
      // The inner hosts let the user in only from 127.0.0.1 of the private network: the bastion's side.
      assert.equal(first.client, '127.0.0.1');
      assert.equal(fleet.bastionConnections() - before, 2, 'one ProxyCommand per host, shared by its connects');
      assert.equal(proxies().length, 2, proxies().join('\n'));
      assert.deepEqual(c.stats().retries, {});
    } finally {
      await c.close();
    }
    await waitFor('the ProxyCommands to end with their connections', () => proxies().length === 0);
  });

  test('host keys are still verified, by HostName: a wrong key fails naming the ProxyCommand', async () => {
    const h = fleet.inner[1];
    const wrong = await wrongKnownHostsLine(h.address, h.port);
    const knownHosts = fleet.knownHosts.replace(h.knownHostsLine, wrong);
    const c = connector(hosts(viaBastion()), { knownHosts: [knownHosts] });
    try {
      const err = await rejectsWith(
        c.connect({ kind: 'ssh', address: 'inner-1' }),
        'HostKeyMismatch',
        /does NOT match known_hosts/,
      );
      assert.ok(err.message.startsWith(`inner-1 (${fleet.user}@${h.address}:${h.port}): `), err.message);
      assert.ok(err.message.includes('(through ProxyCommand `ssh -F /dev/null '), err.message);
    } finally {
      await c.close();
    }
    await waitFor('the ProxyCommand to be ended after the failure', () => proxies().length === 0);
  });

  test('a ProxyCommand that fails: its exit status and standard error, naming the host and the command', async () => {
    const c = connector(hosts(`sh -c 'echo "no route to %h:%p" >&2; echo second line >&2; exit 1'`));
    try {
      const err = await rejectsWith(
        c.connect({ kind: 'ssh', address: 'inner-1' }),
        'HostUnreachable',
        /exited with status 1/,
      );
      const h = fleet.inner[1];
      assert.equal(
        err.message,
        `inner-1 (${fleet.user}@${h.address}:${h.port}): ProxyCommand \`sh -c 'echo "no route to ${h.address}:${h.port}" ` +
          `>&2; echo second line >&2; exit 1'\` exited with status 1: no route to ${h.address}:${h.port} | second line`,
      );
      assert.deepEqual(c.stats().retries, {}, 'not retried: OpenSSH runs it once too');
    } finally {
      await c.close();
    }
    const missing = connector(hosts('/nonexistent/proxy %h %p'));
    try {
      await rejectsWith(
        missing.connect({ kind: 'ssh', address: 'inner-0' }),
        'HostUnreachable',
        /ProxyCommand `\/nonexistent\/proxy .*` exited with status 127: .*\/nonexistent\/proxy: not found/,
      );
    } finally {
      await missing.close();
    }
  });

  test("a repository's ProxyCommand is never run: a warning names it, the operator's ssh_config applies", async () => {
    const marker = path.join(fleet.dir, 'repository-proxy-ran');
    const repository = {
      text: `Host inner-*\n  ProxyCommand touch ${marker}; ${viaBastion()}\n`,
      where: 'ssh/config',
      fromRepository: true,
    };
    const warnings: string[] = [];
    const onWarning = (m: string) => warnings.push(m);
    // The environment's ssh_config is read before the operator's, as run-context and the controller do.
    const withOperator = (operator: string) =>
      createHostConnector({
        privateKey: fleet.privateKey,
        knownHosts: [fleet.knownHosts],
        sshConfig: [repository, { text: operator, where: '~/.ssh/config' }],
        retryDelaysMs: [],
        onWarning,
      });
    const alone = withOperator(hosts('none'));
    try {
      await rejectsWith(alone.connect({ kind: 'ssh', address: 'inner-0' }), 'HostUnreachable', /refused/);
    } finally {
      await alone.close();
    }
    const both = withOperator(hosts(viaBastion()));
    try {
      assert.equal((await connectionOf(both, 'inner-1')).server, at(1));
    } finally {
      await both.close();
    }
    assert.equal(existsSync(marker), false, "the repository's command never ran");
    const warning = (host: string) =>
      `ssh_config ssh/config: Host ${host}: ProxyCommand is ignored in a repository's file (it would run a command ` +
      `on the controller); set it in the operator's ssh_config (~/.ssh/config, --ssh-config, POLITBURO_SSH_CONFIG), ` +
      `or use ProxyJump`;
    assert.deepEqual([...new Set(warnings)], [warning('inner-0'), warning('inner-1')]);
  });
});
