/**
 * The SSH connector as OpenSSH users know it, against real sshd: a bastion that is the only way to hosts in a private
 * network, keys in a real ssh-agent, an ssh_config with wildcard Host patterns and a ProxyJump chain, the language's
 * jump hosts, retries of transient failures.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHostConnector, type HostConnectorOptions } from '../../../hosts/ssh-connector.js';
import { generateKeyPair, wrongKnownHostsLine } from '../../helpers/sshd.js';
import { startAgent, startFleet, type Fleet } from '../../helpers/ssh-fleet.js';
import { rejectsWith } from '../../helpers/rejects-with.js';

let fleet: Fleet;
let agent: { socket: string; stop(): Promise<void> };
before(async () => {
  fleet = await startFleet({ inner: 4, deferred: [3] });
  agent = await startAgent(fleet.dir, [fleet.privateKeyPath]);
});
after(async () => {
  await agent?.stop();
  await fleet?.stop();
});

/** Wildcard Host for the fleet, negation for a host that must not jump, a two-jump ProxyJump chain. */
function sshConfig(): string {
  const [a, b, c, d] = fleet.inner;
  return [
    'Host bastion',
    `  HostName ${fleet.bastion.address}`,
    `  Port ${fleet.bastion.port}`,
    'Host inner-* !inner-direct',
    '  ProxyJump bastion',
    'Host inner-0 inner-direct',
    `  HostName ${a.address}`,
    'Host inner-1',
    `  HostName ${b.address}`,
    `  Port ${b.port}`,
    'Host inner-3',
    `  HostName ${d.address}`,
    `  Port ${d.port}`,
    // Through two jumps: the bastion, then inner-0.
    'Host deep',
    `  HostName ${c.address}`,
    `  Port ${c.port}`,
    '  ProxyJump bastion,inner-0',
    'Host *',
    `  User ${fleet.user}`,
    '  ConnectTimeout 10',
    '  ServerAliveInterval 5',
    '',
  ].join('\n');
}

function connector(opts: Partial<HostConnectorOptions> = {}) {
  return createHostConnector({
    agent: agent.socket,
    knownHosts: [fleet.knownHosts],
    sshConfig: [{ text: sshConfig(), where: 'test/ssh_config' }],
    ...opts,
  });
}

/** `SSH_CONNECTION`'s server address and port: which sshd ran the command. */
async function serverOf(c: ReturnType<typeof connector>, address: string, extra: object = {}): Promise<string> {
  const conn = await c.connect({ kind: 'ssh', address, ...extra });
  const r = await conn.exec('echo "$(whoami) $SSH_CONNECTION"');
  assert.equal(r.code, 0, r.stderr);
  const [user, , , server, port] = r.stdout.trim().split(' ');
  assert.equal(user, fleet.user);
  return `${server}:${port}`;
}

const at = (i: number) => `${fleet.inner[i].address}:${fleet.inner[i].port}`;

describe('through a bastion, with ssh_config and ssh-agent', () => {
  test('the inner hosts cannot be reached directly', async () => {
    const c = createHostConnector({ privateKey: fleet.privateKey, knownHosts: [fleet.knownHosts], retryDelaysMs: [] });
    try {
      await rejectsWith(
        c.connect({ kind: 'ssh', address: fleet.inner[0].address, user: fleet.user }),
        'HostUnreachable',
        /refused/,
      );
    } finally {
      await c.close();
    }
  });

  test('keys from the agent only; hosts by alias, a wildcard Host with ProxyJump; one connection to the bastion for all', async () => {
    const before = fleet.bastionConnections();
    const c = connector();
    try {
      const reached = await Promise.all([
        serverOf(c, 'inner-0'),
        serverOf(c, 'inner-1'),
        serverOf(c, 'inner-0'),
        serverOf(c, 'deep'),
      ]);
      assert.deepEqual(reached, [at(0), at(1), at(0), at(2)]);
      // deep's chain is bastion, inner-0: the same bastion connection, and inner-0's shared too.
      assert.equal(fleet.bastionConnections() - before, 1, 'one connection to the bastion (counted by its relay)');
      const stats = c.stats();
      assert.equal(stats.connections.bastion, 1);
      assert.equal(stats.connections['inner-0'], 1, 'inner-0 as a host and as a jump host: one connection');
      assert.equal(stats.connections['inner-1'], 1);
      assert.equal(stats.connections.deep, 1);
    } finally {
      await c.close();
    }
  });

  test("the language's jump hosts (user@host:port, a chain) win over ssh_config's ProxyJump", async () => {
    const b = fleet.bastion;
    const c = createHostConnector({ agent: agent.socket, knownHosts: [fleet.knownHosts], localUser: fleet.user });
    try {
      const chain = [
        `${fleet.user}@${b.address}:${b.port}`,
        `${fleet.user}@${fleet.inner[1].address}:${fleet.inner[1].port}`,
      ];
      assert.equal(await serverOf(c, fleet.inner[2].address, { port: fleet.inner[2].port, jump: chain }), at(2));
      // No user anywhere: the local user (here the fleet's, standing in for os.userInfo()).
      assert.equal(await serverOf(c, fleet.inner[0].address, { jump: [`${b.address}:${b.port}`] }), at(0));
      assert.equal(c.stats().connections[b.address], 1);
    } finally {
      await c.close();
    }
  });

  test('a wrong host key of a hop fails naming that hop; nothing is retried', async () => {
    for (const [i, name] of [
      [-1, 'jump host bastion'],
      [0, 'jump host inner-0'],
    ] as const) {
      const h = i < 0 ? fleet.bastion : fleet.inner[i];
      const wrong = await wrongKnownHostsLine(h.address, h.port);
      const line = h.port === 22 ? wrong.replace(`[${h.address}]:22`, h.address) : wrong;
      const knownHosts = fleet.knownHosts
        .split('\n')
        .map((l) => (l === h.knownHostsLine ? line : l))
        .join('\n');
      const c = connector({ knownHosts: [knownHosts] });
      try {
        const err = await rejectsWith(c.connect({ kind: 'ssh', address: 'deep' }), 'HostKeyMismatch', /does NOT match/);
        assert.ok(err.message.includes(`${name} (`), err.message);
        assert.ok(err.message.startsWith('deep ('), err.message);
        assert.deepEqual(c.stats().retries, {});
      } finally {
        await c.close();
      }
    }
  });

  test('a host key known only for the bastion: an inner host is HostKeyUnknown, looked up by its HostName', async () => {
    const c = connector({ knownHosts: [fleet.bastion.knownHostsLine] });
    try {
      const err = await rejectsWith(
        c.connect({ kind: 'ssh', address: 'inner-0' }),
        'HostKeyUnknown',
        /not in known_hosts/,
      );
      // Port 22: the line OpenSSH would look up is the bare address.
      assert.ok(err.message.includes(`add this line to known_hosts: ${fleet.inner[0].knownHostsLine} `), err.message);
    } finally {
      await c.close();
    }
  });

  test('a host not running yet is retried (the bastion refuses to forward), then reached', async () => {
    const retries: string[] = [];
    const c = connector({
      retryDelaysMs: [200, 400, 800, 1600],
      onRetry: async (r) => {
        retries.push(`${r.attempt} ${r.error.reason}`);
        if (r.attempt === 1) await fleet.startInner(3);
      },
    });
    try {
      assert.equal(await serverOf(c, 'inner-3'), at(3));
      assert.deepEqual(retries, ['1 HostUnreachable']);
      assert.equal(c.stats().retries['inner-3'], 1);
    } finally {
      await c.close();
    }
  });

  test("IdentityFile of ssh_config, with the key's passphrase; without any key configured, a clear error", async () => {
    const key = await generateKeyPair(fleet.dir, 'ed25519', 'id pass');
    await fleet.authorize(key.publicKey);
    const c = createHostConnector({
      knownHosts: [fleet.knownHosts],
      passphrase: 'id pass',
      sshConfig: [{ text: `Host *\n  IdentityFile ${key.privateKeyPath}\n` + sshConfig(), where: 'test/ssh_config' }],
    });
    try {
      assert.equal(await serverOf(c, 'deep'), at(2));
    } finally {
      await c.close();
    }
    const none = createHostConnector({
      knownHosts: [fleet.knownHosts],
      sshConfig: [{ text: sshConfig(), where: 't' }],
    });
    try {
      await rejectsWith(
        none.connect({ kind: 'ssh', address: 'inner-0' }),
        'AuthenticationFailed',
        /no SSH key to offer/,
      );
    } finally {
      await none.close();
    }
  });

  test('an authentication failure is not retried', async () => {
    const stranger = await generateKeyPair(fleet.dir, 'ed25519');
    const before = fleet.bastionConnections();
    const c = createHostConnector({
      privateKey: stranger.privateKey,
      knownHosts: [fleet.knownHosts],
      sshConfig: [{ text: sshConfig(), where: 'test/ssh_config' }],
      onRetry: () => assert.fail('retried'),
    });
    try {
      const err = await rejectsWith(
        c.connect({ kind: 'ssh', address: 'inner-1' }),
        'AuthenticationFailed',
        /did not accept/,
      );
      assert.match(err.message, /jump host bastion/);
      assert.equal(fleet.bastionConnections() - before, 1);
      assert.deepEqual(c.stats().retries, {});
    } finally {
      await c.close();
    }
  });

  test('@cert-authority for a bastion that presents no certificate: HostKeyUnknown with its plain key line', async () => {
    // Host certificates on a jump host hop: test/integration/hosts/host-certificates.test.ts.
    const ca = await generateKeyPair(fleet.dir, 'ed25519');
    const c = connector({
      knownHosts: [`@cert-authority [${fleet.bastion.address}]:${fleet.bastion.port} ${ca.publicKey}`],
    });
    try {
      const err = await rejectsWith(
        c.connect({ kind: 'ssh', address: 'inner-0' }),
        'HostKeyUnknown',
        /jump host bastion \(.*\): known_hosts trusts host certificates for this host \(@cert-authority, known_hosts#1:1\), but the host presented no certificate/,
      );
      assert.ok(err.message.includes(`add this line to known_hosts: ${fleet.bastion.knownHostsLine}`), err.message);
      assert.deepEqual(c.stats().retries, {});
    } finally {
      await c.close();
    }
  });
});
