/**
 * Host certificates against real sshd: host keys signed by a test CA with `ssh-keygen -s CA -h -I ID -n PRINCIPALS -V
 * VALIDITY` and presented with sshd's HostCertificate, trusted through known_hosts' `@cert-authority` lines, on a
 * target and on a jump host hop. Refusals say what and where, and are never retried.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  createHostConnector,
  HOST_CERTIFICATES_SUPPORTED,
  type HostConnectorOptions,
} from '../../../hosts/ssh-connector.js';
import { PolitburoError } from '../../../kernel/types.js';
import { generateKeyPair, startSshHosts, type SshHost, type SshHosts } from '../../helpers/sshd.js';

let dir: string;
let ca: { privateKeyPath: string; publicKey: string };
let otherCa: { privateKeyPath: string; publicKey: string };
/** Two hosts presenting only certificates by `ca`, for their address and `web.internal`. */
let certOnly: SshHosts;
/** A host presenting its plain key and a certificate by `ca`. */
let both: SshHosts;
/** A host whose certificate by `ca` expired on 2020-01-02. */
let expired: SshHosts;
/** Hosts with an ECDSA and an RSA host key certified by `ca`, presenting only the certificate. */
let ecdsa: SshHosts;
let rsa: SshHosts;
/** sshd.ts's `hostCertificateOnly`: a certificate by a CA of its own, without principals. */
let noPrincipals: SshHosts;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'pb-hostcerts-'));
  [ca, otherCa] = await Promise.all([
    generateKeyPair(dir, 'ed25519', '', 'ca'),
    generateKeyPair(dir, 'ed25519', '', 'other_ca'),
  ]);
  const signed = { caKeyPath: ca.privateKeyPath, principals: (a: string) => [a, 'web.internal'], only: true };
  [certOnly, both, expired, ecdsa, rsa, noPrincipals] = await Promise.all([
    startSshHosts(2, { hostCertificate: signed }),
    startSshHosts(1, { hostCertificate: { ...signed, only: false } }),
    startSshHosts(1, { hostCertificate: { ...signed, validity: '20200101:20200102' } }),
    startSshHosts(1, { hostKeyTypes: ['ecdsa'], hostCertificate: signed }),
    startSshHosts(1, { hostKeyTypes: ['rsa'], hostCertificate: signed }),
    startSshHosts(1, { hostCertificateOnly: true }),
  ]);
  // One key for all: certOnly's.
  const publicKey = (await readFile(certOnly.privateKeyPath + '.pub', 'utf8')).trim();
  await Promise.all([both, expired, ecdsa, rsa, noPrincipals].map((s) => s.authorize(publicKey)));
});
after(async () => {
  await Promise.all([certOnly, both, expired, ecdsa, rsa, noPrincipals].map((s) => s?.stop()));
  if (dir) await rm(dir, { recursive: true, force: true });
});

const target = (h: SshHost, extra: object = {}) => ({
  kind: 'ssh' as const,
  address: h.address,
  port: h.port,
  user: h.user,
  ...extra,
});
const name = (h: SshHost) => `[${h.address}]:${h.port}`;

function connector(knownHosts: string[], opts: Partial<HostConnectorOptions> = {}) {
  return createHostConnector({
    privateKey: certOnly.privateKey,
    knownHosts: [knownHosts.join('\n') + '\n'],
    connectTimeoutMs: 10_000,
    onRetry: (r) => assert.fail(`retried ${r.host}: ${r.error.message}`),
    ...opts,
  });
}

/** Runs `whoami` on `h` through a connector trusting `knownHosts`; the user. */
async function reach(
  h: SshHost,
  knownHosts: string[],
  extra: object = {},
  opts: Partial<HostConnectorOptions> = {},
): Promise<string> {
  const c = connector(knownHosts, opts);
  try {
    const r = await (await c.connect(target(h, extra))).exec('whoami');
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim();
  } finally {
    await c.close();
  }
}

async function refused(
  h: SshHost,
  knownHosts: string[],
  reason: string,
  message: RegExp,
  extra: object = {},
  opts: Partial<HostConnectorOptions> = {},
) {
  const c = connector(knownHosts, opts);
  try {
    await c.connect(target(h, extra));
  } catch (err) {
    assert.ok(err instanceof PolitburoError, `expected a PolitburoError, got ${String(err)}`);
    assert.equal(err.reason, reason, err.message);
    assert.match(err.message, message);
    assert.deepEqual(c.stats().retries, {}, 'host-key failures are not retried');
    return err;
  } finally {
    await c.close();
  }
  assert.fail(`expected ${reason}`);
}

describe('host certificates (@cert-authority)', () => {
  test('accepted through @cert-authority only: no plain key line, for a host name, a wildcard, HostKeyAlias', async () => {
    const [h] = certOnly.hosts;
    assert.equal(await reach(h, [`@cert-authority ${name(h)} ${ca.publicKey}`]), h.user);
    assert.equal(await reach(h, [`@cert-authority * ${ca.publicKey}`]), h.user);
    // HostKeyAlias: looked up and matched against the principals under the alias.
    const alias = { hostKeyAlias: 'web.internal' };
    assert.equal(await reach(h, [`@cert-authority web.internal ${ca.publicKey}`], alias), h.user);
  });

  test('ECDSA and RSA (rsa-sha2-*) host certificates', async () => {
    for (const h of [ecdsa.hosts[0], rsa.hosts[0]])
      assert.equal(await reach(h, [`@cert-authority * ${ca.publicKey}`]), h.user, Object.keys(h.hostPublicKeys)[0]);
  });

  test('a host offering its plain key too: the certificate is preferred; without a CA line the plain key as before', async () => {
    const [h] = both.hosts;
    // Only the CA is known: had the plain key been negotiated, it would be unknown.
    assert.equal(await reach(h, [`@cert-authority * ${ca.publicKey}`]), h.user);
    // Only the plain key is known: no certificate algorithm is offered, the plain key is verified as always.
    assert.equal(await reach(h, [h.knownHostsLine]), h.user);
    await refused(h, [`[${h.address}]:${h.port} ${otherCa.publicKey}`], 'HostKeyMismatch', /does NOT match/);
  });

  test('a certificate by another CA: its key is checked as a plain key (OpenSSH), unknown here', async () => {
    const [h] = certOnly.hosts;
    const err = await refused(
      h,
      [`@cert-authority * ${otherCa.publicKey}`],
      'HostKeyUnknown',
      /host certificate ssh-ed25519-cert-v01@openssh\.com \(ID "test-host", serial 0\) is signed by CA ssh-ed25519 SHA256:\S+, which no @cert-authority line for this host names \(known_hosts#1:1 trusts ssh-ed25519 SHA256:\S+\), and its key ssh-ed25519 SHA256:\S+ is not in known_hosts either/,
    );
    assert.ok(err.message.includes(`add this line to known_hosts: ${h.knownHostsLine}`), err.message);
    // With that plain key in known_hosts, the host is reached.
    assert.equal(await reach(h, [`@cert-authority * ${otherCa.publicKey}`, h.knownHostsLine]), h.user);
  });

  test('a principal mismatch: the name looked up (HostKeyAlias) is not among the principals', async () => {
    const [h] = certOnly.hosts;
    await refused(
      h,
      [`@cert-authority db1.internal ${ca.publicKey}`],
      'HostKeyUnknown',
      new RegExp(
        `\\(@cert-authority, known_hosts#1:1\\) is not valid for 'db1\\.internal': its principals are '${h.address.replace(/\./g, '\\.')}', 'web\\.internal'`,
      ),
      { hostKeyAlias: 'db1.internal' },
    );
  });

  test('an expired certificate: refused saying when it expired', async () => {
    const [h] = expired.hosts;
    await refused(h, [`@cert-authority * ${ca.publicKey}`], 'HostKeyUnknown', /expired at 2020-01-0[12]T\d\d:00:00Z/);
  });

  test('the CA @revoked, or the certified host key @revoked: HostKeyMismatch naming the line', async () => {
    const [h] = certOnly.hosts;
    await refused(
      h,
      [`@cert-authority * ${ca.publicKey}`, `@revoked * ${ca.publicKey}`],
      'HostKeyMismatch',
      /is signed by CA ssh-ed25519 SHA256:\S+, which is @revoked \(known_hosts#1:2\)/,
    );
    await refused(
      h,
      [`@revoked ${name(h)} ${h.hostPublicKey}`, `@cert-authority * ${ca.publicKey}`],
      'HostKeyMismatch',
      /certifies the key ssh-ed25519 SHA256:\S+, which is @revoked \(known_hosts#1:1\)/,
    );
  });

  test('no principals in the certificate: refused as OpenSSH does', async () => {
    const [h] = noPrincipals.hosts;
    await refused(
      h,
      [`@cert-authority ${name(h)} ${h.certificateAuthority}`],
      'HostKeyUnknown',
      /lists no principals: refused, as OpenSSH does/,
    );
  });

  test('a host offering only certificates and no @cert-authority line for it: HostKeyUnknown saying what to add', async () => {
    const [h] = certOnly.hosts;
    await refused(
      h,
      [`@cert-authority other.example.com ${ca.publicKey}`, `${name(h)} ${otherCa.publicKey}`],
      'HostKeyUnknown',
      /presents only host certificates \(ssh-ed25519-cert-v01@openssh\.com\), and no @cert-authority line of known_hosts names this host/,
    );
  });

  test('a certificate on a jump host hop: each hop verified the same way', async () => {
    const [jump, inner] = certOnly.hosts;
    const via = { jump: [`${jump.user}@${jump.address}:${jump.port}`] };
    const c = connector([`@cert-authority * ${ca.publicKey}`]);
    try {
      const r = await (await c.connect(target(inner, via))).exec('whoami');
      assert.equal(r.stdout.trim(), inner.user);
      assert.equal(c.stats().connections[jump.address], 1, 'through the jump host');
    } finally {
      await c.close();
    }
    // The jump host's certificate expired: the error names that hop.
    const old = expired.hosts[0];
    const err = await refused(
      inner,
      [`@cert-authority * ${ca.publicKey}`],
      'HostKeyUnknown',
      /: jump host \S+: host certificate .* expired at 2020-01-0[12]T/,
      { jump: [`${old.user}@${old.address}:${old.port}`] },
    );
    assert.ok(err.message.startsWith(`${inner.user}@${inner.address}:${inner.port} via `), err.message);
  });
});

describe('an ssh2 that cannot negotiate host certificates (an installed npm package: ssh2 not patched)', () => {
  /** What the connector knows of the installation, injected: as where Politburo is installed as an npm package. */
  const unpatched: Partial<HostConnectorOptions> = { hostCertificates: false };
  const patch = /patches\/ssh2\+1\.17\.0\.patch\), which an installed npm package cannot apply to its dependency/;

  test("this checkout's ssh2 is patched (npm ci applies patches/): the real detection says so, and certificates are used", async () => {
    assert.equal(HOST_CERTIFICATES_SUPPORTED, true);
    const [h] = both.hosts;
    // Only the CA is known: reached through the certificate, as no plain key line would let it in.
    assert.equal(await reach(h, [`@cert-authority * ${ca.publicKey}`]), h.user);
  });

  test('a host known only through @cert-authority: refused, naming the host, why, and the plain key line to add', async () => {
    const [h] = both.hosts;
    const err = await refused(h, [`@cert-authority * ${ca.publicKey}`], 'HostKeyUnknown', patch, {}, unpatched);
    assert.ok(
      err.message.startsWith(
        `${h.user}@${h.address}:${h.port}: known_hosts trusts host certificates for this host (@cert-authority, ` +
          `known_hosts#1:1), but this installation cannot verify host certificates (its SSH library (ssh2) has no ` +
          `host-certificate algorithms without the patch`,
      ),
      err.message,
    );
    assert.match(err.message, /and the host's plain key ssh-ed25519 SHA256:\S+ is not in known_hosts/);
    assert.ok(err.message.endsWith(`add this line to known_hosts: ${h.knownHostsLine}`), err.message);
    // With the line it printed, the host is reached through its plain key, the @cert-authority line still there.
    assert.equal(await reach(h, [`@cert-authority * ${ca.publicKey}`, h.knownHostsLine], {}, unpatched), h.user);
  });

  test('plain known_hosts keys work as always', async () => {
    const [h] = both.hosts;
    assert.equal(await reach(h, [h.knownHostsLine], {}, unpatched), h.user);
  });

  test('a host presenting only certificates: refused, saying to let sshd offer its plain key too', async () => {
    const [h] = certOnly.hosts;
    const err = await refused(
      h,
      [`@cert-authority * ${ca.publicKey}`],
      'HostKeyUnknown',
      /presents only host certificates \(ssh-ed25519-cert-v01@openssh\.com\), which this installation cannot verify: /,
      {},
      unpatched,
    );
    assert.match(err.message, patch);
    assert.ok(err.message.startsWith(`${h.user}@${h.address}:${h.port}: `), err.message);
    assert.match(
      err.message,
      /Let sshd offer its plain host key too \(do not limit HostKeyAlgorithms to certificates\)/,
    );
  });
});
