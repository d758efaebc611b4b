/** ssh_config as OpenSSH computes it, the routes through jump hosts, and which connect failures are retried. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { SshConfigSet, localUserName, parseJumpList, parseJumpSpec } from '../../../hosts/ssh-config.js';
import { endpointLabel, resolveRoute } from '../../../hosts/jump-hosts.js';
import { operatorSshOptions } from '../../../hosts/operator-ssh.js';
import { isTransientConnectError, retryDelays, type Verdict } from '../../../hosts/ssh-connector.js';
import { PolitburoError } from '../../../kernel/types.js';

const set = (text: string, extra: { fromRepository?: boolean } = {}) =>
  new SshConfigSet([{ text, where: 'ssh_config', ...extra }]);

const CONFIG = `
# The first obtained value of each keyword wins, as in OpenSSH.
Host web-* !web-legacy
  User deploy
  ProxyJump bastion
  IdentityFile ~/.ssh/deploy_%r

Host web-1
  HostName 10.0.0.11
  User not-this-one
  Port 2222

Host bastion
  HostName bastion.example.com
  User jump

Host *.internal
  HostName %h.example.net

Host *
  User everyone
  ConnectTimeout 7
  ServerAliveInterval 11
  IdentityFile ~/.ssh/id_ed25519
`;

test('first obtained value wins; wildcards; negation; tokens; IdentityFile accumulates', () => {
  const c = set(CONFIG);
  const web1 = c.lookup('web-1', 'alice');
  assert.equal(web1.hostName, '10.0.0.11');
  assert.equal(web1.user, 'deploy', 'the first User seen (web-*) wins over the later web-1 block');
  assert.equal(web1.port, 2222);
  assert.equal(web1.proxyJump, 'bastion');
  assert.equal(web1.connectTimeoutMs, 7000);
  assert.equal(web1.serverAliveIntervalMs, 11_000);
  assert.deepEqual(web1.identityFiles, [
    path.join(os.homedir(), '.ssh/deploy_deploy'),
    path.join(os.homedir(), '.ssh/id_ed25519'),
  ]);
  const legacy = c.lookup('web-legacy', 'alice');
  assert.equal(legacy.user, 'everyone', 'a negated pattern excludes the host from the block');
  assert.equal(legacy.proxyJump, undefined);
  assert.equal(legacy.hostName, undefined);
  assert.equal(c.lookup('db.internal').hostName, 'db.internal.example.net');
});

test('several files: the first file that sets a keyword wins', () => {
  const c = new SshConfigSet([
    { text: 'Host web-1\n  Port 2200\n', where: 'a' },
    { text: CONFIG, where: 'b' },
  ]);
  assert.equal(c.lookup('web-1').port, 2200);
  assert.equal(c.lookup('web-1').hostName, '10.0.0.11');
});

test("a repository's file cannot name the controller's keys; ProxyJump none; bad values name file and host", () => {
  const c = set('Host *\n  IdentityFile /root/.ssh/id_rsa\n  ProxyJump none\n', { fromRepository: true });
  const s = c.lookup('x');
  assert.deepEqual(s.identityFiles, []);
  assert.equal(s.proxyJump, undefined);
  assert.deepEqual(c.warnings, ["ssh_config ssh_config: IdentityFile is ignored in a repository's file"]);
  assert.throws(
    () => set('Host x\n  Port http\n').lookup('x'),
    (e: PolitburoError) =>
      e.reason === 'InvalidSpec' && /ssh_config: Host x: Port 'http' is not a port/.test(e.message),
  );
  assert.throws(() => set('Host x\n  ConnectTimeout soon\n').lookup('x'), /ConnectTimeout 'soon'/);
});

test('Match exec is never run', () => {
  const c = set('Match exec "exit 0"\n  User matched\nHost *\n  User plain\n');
  assert.equal(c.lookup('x').user, 'plain');
});

test('jump host specs', () => {
  assert.deepEqual(parseJumpSpec('bastion', 'w'), { host: 'bastion', user: undefined, port: undefined });
  assert.deepEqual(parseJumpSpec('ops@bastion:2222', 'w'), { host: 'bastion', user: 'ops', port: 2222 });
  assert.deepEqual(parseJumpSpec('ssh://ops@[::1]:22', 'w'), { host: '::1', user: 'ops', port: 22 });
  assert.deepEqual(
    parseJumpList(['a', 'b@c:1'], 'w').map((j) => j.host),
    ['a', 'c'],
  );
  assert.deepEqual(
    parseJumpList('a,b', 'w').map((j) => j.host),
    ['a', 'b'],
  );
  assert.throws(
    () => parseJumpSpec('ops@bastion:99999', 'hosts.web'),
    /hosts\.web: jump host 'ops@bastion:99999' has port/,
  );
  assert.throws(() => parseJumpSpec('@bastion', 'w'), /empty user/);
  assert.throws(() => parseJumpSpec('', 'w'), /is not \[user@\]host\[:port\]/);
});

test("routes: ProxyJump resolved through ssh_config; the first jump's own ProxyJump extends the chain", () => {
  const c = set(`
Host app
  ProxyJump inner-bastion,gate:2022
Host inner-bastion
  ProxyJump edge
  User ops
Host edge
  HostName edge.example.com
  Port 2200
Host gate
  ProxyJump ignored
Host *
  User fallback
`);
  const r = resolveRoute({ address: 'app' }, c, 'local');
  assert.deepEqual(r.jumps.map(endpointLabel), [
    'edge (fallback@edge.example.com:2200)',
    'ops@inner-bastion:22',
    'fallback@gate:2022',
  ]);
  assert.equal(endpointLabel(r.target), 'fallback@app:22');
  // The language's jump wins over ProxyJump; explicit user and port win over ssh_config.
  const own = resolveRoute({ address: 'app', port: 2201, user: 'me', jump: ['x@edge:1'] }, c, 'local');
  assert.deepEqual(own.jumps.map(endpointLabel), ['edge (x@edge.example.com:1)']);
  assert.equal(endpointLabel(own.target), 'me@app:2201');
  assert.throws(
    () => resolveRoute({ address: 'loop' }, set('Host loop a\n  ProxyJump a\n'), 'local'),
    /more than 10 jump hosts/,
  );
});

test('the default user is the local user, as OpenSSH chooses it; never root unless that is who runs it', () => {
  const r = resolveRoute({ address: '10.0.0.1' }, new SshConfigSet([]));
  assert.equal(r.target.user, os.userInfo().username);
  assert.equal(localUserName(), os.userInfo().username);
  assert.equal(r.target.port, 22);
  assert.deepEqual(r.jumps, []);
});

test('transient connect failures are retried; authentication and host key failures never', () => {
  const err = (message: string, extra: { code?: string; level?: string } = {}) =>
    Object.assign(new Error(message), extra);
  const ok: Verdict = { result: 'ok', keyType: 'ssh-ed25519', fingerprint: 'SHA256:x', line: 'l' };
  assert.equal(isTransientConnectError(err('connect ECONNREFUSED', { code: 'ECONNREFUSED' }), null), true);
  assert.equal(isTransientConnectError(err('read ECONNRESET', { code: 'ECONNRESET' }), ok), true);
  assert.equal(isTransientConnectError(err('Connection lost before handshake', { level: 'protocol' }), null), true);
  assert.equal(isTransientConnectError(err('getaddrinfo EAI_AGAIN x', { code: 'EAI_AGAIN' }), null), true);
  assert.equal(isTransientConnectError(err('(SSH) Channel open failure: Connection refused'), null), true);
  assert.equal(isTransientConnectError(err('(SSH) Channel open failure: administratively prohibited'), null), false);
  assert.equal(
    isTransientConnectError(
      err('All configured authentication methods failed', { level: 'client-authentication' }),
      ok,
    ),
    false,
  );
  for (const result of ['unknown', 'mismatch'] as const)
    assert.equal(isTransientConnectError(err('read ECONNRESET', { code: 'ECONNRESET' }), { ...ok, result }), false);
  assert.equal(
    isTransientConnectError(err('Timed out while waiting for handshake', { level: 'client-timeout' }), null),
    false,
  );
  assert.equal(isTransientConnectError(err('getaddrinfo ENOTFOUND x', { code: 'ENOTFOUND' }), null), false);
});

test('host names match lower-cased; an Include left in a file is reported, not silently dropped', () => {
  const c = set('Host web-1\n  Include ~/.ssh/web.conf\n  User w\n');
  assert.equal(c.lookup('WEB-1').user, 'w');
  assert.deepEqual(c.warnings, [
    'ssh_config ssh_config: Include inside a Host or Match block is not followed (move it before the first Host)',
  ]);
  const repo = set('Include ~/.ssh/config.d/*\nHost web-1\n  User w\n', { fromRepository: true });
  assert.equal(repo.lookup('web-1').user, 'w');
  assert.deepEqual(repo.warnings, [
    "ssh_config ssh_config: Include is not followed in a repository's file (put the lines in this file)",
  ]);
});

test("Include before the first Host is followed, as OpenSSH does: globs under ~/.ssh, ~, files' own Includes", async () => {
  const home = await mkdtemp(path.join(os.tmpdir(), 'politburo-ssh-include-'));
  try {
    await mkdir(path.join(home, '.ssh', 'config.d'), { recursive: true });
    const put = (file: string, text: string) => writeFile(path.join(home, file), text);
    await put(
      '.ssh/config',
      [
        '# the lines OrbStack, Colima and the like add on top',
        'Include config.d/*',
        'Include "~/other ssh.conf" ~/none-*.conf',
        'User fallback',
        'Host web-1',
        '  Include never.conf',
        '  Port 2200',
        '',
      ].join('\n'),
    );
    await put('.ssh/config.d/20-db', 'Host db\n  HostName 10.0.0.5\n');
    await put('.ssh/config.d/10-web', 'Include=nested.conf\nHost web-*\n  User webuser\n  ProxyJump bastion\n');
    await put('.ssh/nested.conf', 'ServerAliveInterval 30\n');
    await put('other ssh.conf', 'ConnectTimeout 7\n');
    const options = await operatorSshOptions({ home });
    const c = new SshConfigSet(options.sshConfig);
    // config.d in lexical order (10-web first), nested.conf through 10-web's own Include, then other ssh.conf; the
    // lines after an included file's Host blocks apply to every host again.
    assert.deepEqual(
      [c.lookup('web-1').user, c.lookup('web-1').proxyJump, c.lookup('web-1').port, c.lookup('web-1').connectTimeoutMs],
      ['webuser', 'bastion', 2200, 7000],
    );
    assert.deepEqual(
      [c.lookup('db').hostName, c.lookup('db').user, c.lookup('db').serverAliveIntervalMs, c.lookup('db').proxyJump],
      ['10.0.0.5', 'fallback', 30_000, undefined],
    );
    assert.equal(c.lookup('anything').user, 'fallback');
    assert.deepEqual(c.warnings, [
      'ssh_config ~/.ssh/config: Include inside a Host or Match block is not followed (move it before the first Host)',
    ]);
    // A file that includes itself: an error naming the file and line, not a hang.
    await put('.ssh/config', 'Include config\n');
    await assert.rejects(
      operatorSshOptions({ home }),
      (e: Error) => e instanceof PolitburoError && /config:1: Include nested more than 16 deep/.test(e.message),
    );
  } finally {
    await rm(home, { recursive: true, force: true });
  }
});

test('ConnectionAttempts: per host, first value wins; a bad count is an error naming the file, host and value', () => {
  const config = set('Host flaky\n  ConnectionAttempts 6\nHost *\n  ConnectionAttempts 2\n');
  assert.equal(config.lookup('flaky').connectionAttempts, 6);
  assert.equal(config.lookup('other').connectionAttempts, 2);
  assert.equal(set('Host *\n  User u\n').lookup('x').connectionAttempts, undefined);
  assert.equal(resolveRoute({ address: 'flaky' }, config, 'me').target.connectionAttempts, 6);
  assert.throws(
    () => set('Host x\n  ConnectionAttempts 0\n').lookup('x'),
    /ssh_config ssh_config: Host x: ConnectionAttempts '0' is not a count of attempts \(1-100\)/,
  );
  assert.throws(() => set('Host x\n  ConnectionAttempts many\n').lookup('x'), /ConnectionAttempts 'many'/);
});

test('retry waits: 0.5 s doubled per retry, at most 8 s; none for 0 retries', () => {
  assert.deepEqual(retryDelays(3), [500, 1000, 2000]);
  assert.deepEqual(retryDelays(0), []);
  assert.deepEqual(retryDelays(7), [500, 1000, 2000, 4000, 8000, 8000, 8000]);
});
