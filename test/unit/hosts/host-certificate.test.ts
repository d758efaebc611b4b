// Host certificate checks on certificates made by ssh-keygen (`ssh-keygen -s CA -h -I ID -n PRINCIPALS -V VALIDITY`),
// as OpenSSH's ssh checks them against known_hosts' @cert-authority and @revoked lines.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  checkHostCertificate,
  HOST_CERTIFICATE_ALGORITHMS,
  parseHostCertificate,
  type CertificateCheck,
} from '../../../hosts/host-certificate.js';
import { certAuthorities, parseKnownHosts, revokedEntry, type KnownHostEntry } from '../../../hosts/known-hosts.js';
import { HOST_CERTIFICATES_SUPPORTED, hostKeyAlgorithms } from '../../../hosts/ssh-connector.js';

const run = promisify(execFile);
let dir: string;

/** A key pair made by ssh-keygen: its file and its public blob. */
async function keyPair(name: string, type: 'ed25519' | 'ecdsa' | 'rsa'): Promise<{ file: string; blob: Buffer }> {
  const file = path.join(dir, name);
  await run('ssh-keygen', [
    '-q',
    '-t',
    type,
    ...(type === 'rsa' ? ['-b', '2048'] : []),
    '-N',
    '',
    '-C',
    '',
    '-f',
    file,
  ]);
  return { file, blob: Buffer.from((await readFile(file + '.pub', 'utf8')).split(' ')[1], 'base64') };
}

let n = 0;
/** Signs `hostKey` with `ca`; returns the certificate blob. */
async function sign(ca: string, hostKey: string, args: string[], principals = ['web1.example.com']): Promise<Buffer> {
  const copy = path.join(dir, `cert-${n++}`);
  await run('cp', [hostKey + '.pub', copy + '.pub']);
  const p = principals.length ? ['-n', principals.join(',')] : [];
  await run('ssh-keygen', ['-q', '-s', ca, '-I', 'web1', '-z', '7', ...p, ...args, copy + '.pub']);
  return Buffer.from((await readFile(copy + '-cert.pub', 'utf8')).split(' ')[1], 'base64');
}

let ca: { file: string; blob: Buffer };
let otherCa: { file: string; blob: Buffer };
let rsaCa: { file: string; blob: Buffer };
let host: { file: string; blob: Buffer };
let good: Buffer;
const NOW = Date.now();

function knownHosts(...lines: string[]): KnownHostEntry[] {
  const parsed = parseKnownHosts(lines.join('\n'), 'known_hosts');
  assert.deepEqual(parsed.errors, []);
  return parsed.entries;
}
/** A known_hosts line `MARKER HOSTS TYPE BASE64` for a key. */
const line = (marker: string, hosts: string, key: { blob: Buffer }) =>
  `${marker} ${hosts} ${keyTypeName(key.blob)} ${key.blob.toString('base64')}`;
const keyTypeName = (blob: Buffer) => blob.subarray(4, 4 + blob.readUInt32BE(0)).toString();

/** Checks `cert` for `host` (port 22) against `entries`, at `now`. */
function check(cert: Buffer, entries: KnownHostEntry[], name = 'web1.example.com', now = NOW): CertificateCheck {
  return checkHostCertificate(
    cert,
    {
      host: name,
      port: 22,
      authorities: certAuthorities(entries, name, 22),
      revoked: (blob) => revokedEntry(entries, name, 22, blob),
    },
    now,
  );
}

const show = (c: CertificateCheck) => (c.result === 'trusted' ? 'trusted' : `${c.result}: ${c.message}`);

function refused(c: CertificateCheck, reason: string, message: RegExp): void {
  assert.equal(c.result, 'refused', show(c));
  if (c.result !== 'refused') return;
  assert.equal(c.reason, reason, c.message);
  assert.match(c.message, message);
}

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'pb-hostcert-'));
  [ca, otherCa, rsaCa, host] = await Promise.all([
    keyPair('ca', 'ed25519'),
    keyPair('other_ca', 'ed25519'),
    keyPair('rsa_ca', 'rsa'),
    keyPair('host', 'ed25519'),
  ]);
  good = await sign(ca.file, host.file, ['-h', '-V', '-5m:+1h']);
});
after(() => rm(dir, { recursive: true, force: true }));

describe('parseHostCertificate', () => {
  test("reads ssh-keygen's fields: the certified key as a plain key, principals, validity, CA, signature", () => {
    const c = parseHostCertificate(good);
    assert.equal(c.type, 'ssh-ed25519-cert-v01@openssh.com');
    assert.equal(c.keyType, 'ssh-ed25519');
    assert.ok(c.key.equals(host.blob), 'the certified key is the host key, as its .pub has it');
    assert.equal(c.certType, 2);
    assert.equal(c.keyId, 'web1');
    assert.equal(c.serial, 7n);
    assert.deepEqual(c.principals, ['web1.example.com']);
    assert.ok(c.validBefore - c.validAfter === 3900n, `${c.validAfter}..${c.validBefore}`);
    assert.ok(c.caKey.equals(ca.blob));
    assert.equal(c.signatureAlgorithm, 'ssh-ed25519');
    assert.deepEqual(c.criticalOptions, []);
  });

  test('a truncated certificate, trailing bytes or a plain key are malformed', () => {
    assert.throws(() => parseHostCertificate(good.subarray(0, good.length - 10)), /truncated/);
    assert.throws(() => parseHostCertificate(Buffer.concat([good, Buffer.from([0])])), /trailing bytes/);
    assert.throws(() => parseHostCertificate(host.blob), /not a certificate type/);
  });
});

describe('checkHostCertificate', () => {
  test('trusted: signed by the CA of a matching @cert-authority line, host type, valid now, principal listed', () => {
    const entries = knownHosts(line('@cert-authority', '*.example.com', ca));
    const c = check(good, entries);
    assert.equal(c.result, 'trusted');
    if (c.result === 'trusted') assert.equal(c.authority.where, 'known_hosts:1');
  });

  test('every certified key type and CA type: ECDSA, RSA (rsa-sha2-512/256), by ed25519, RSA and ECDSA CAs', async () => {
    const ecCa = await keyPair('ec_ca', 'ecdsa');
    for (const [keyType, caKey, args] of [
      ['ecdsa', ca, []],
      ['rsa', rsaCa, []],
      ['rsa', rsaCa, ['-t', 'rsa-sha2-256']],
      ['ed25519', ecCa, []],
    ] as const) {
      const k = await keyPair(`host_${n++}`, keyType);
      const cert = await sign(caKey.file, k.file, ['-h', ...args]);
      const c = check(cert, knownHosts(line('@cert-authority', 'web1.example.com', caKey)));
      assert.equal(c.result, 'trusted', `${keyType} by ${keyTypeName(caKey.blob)} ${args.join(' ')}: ${show(c)}`);
      assert.ok(parseHostCertificate(cert).key.equals(k.blob));
    }
  });

  test('valid "forever" (the default without -V) is valid', async () => {
    const cert = await sign(ca.file, host.file, ['-h']);
    assert.equal(check(cert, knownHosts(line('@cert-authority', '*', ca))).result, 'trusted');
  });

  test('another CA: untrusted-ca, saying which CA signed it and which lines trust which', () => {
    const c = check(good, knownHosts(line('@cert-authority', '*.example.com', otherCa)));
    assert.equal(c.result, 'untrusted-ca');
    if (c.result !== 'untrusted-ca') return;
    assert.match(
      c.message,
      /is signed by CA ssh-ed25519 SHA256:\S+, which no @cert-authority line for this host names/,
    );
    assert.match(c.message, /known_hosts:1 trusts ssh-ed25519 SHA256:/);
    assert.ok(c.cert.key.equals(host.blob), 'the certified key, to check as a plain host key');
  });

  test('a @cert-authority line for another host does not count', () => {
    assert.equal(check(good, knownHosts(line('@cert-authority', 'db1.example.com', ca))).result, 'untrusted-ca');
  });

  test('a forged signature or a changed field: refused, HostKeyMismatch', () => {
    const entries = knownHosts(line('@cert-authority', '*', ca));
    const badSig = Buffer.from(good);
    badSig[badSig.length - 3] ^= 1;
    refused(check(badSig, entries), 'HostKeyMismatch', /does not verify with the key of CA .*forged or corrupted/);
    // The principals: the same length, another name.
    const i = good.indexOf('web1.example.com');
    const renamed = Buffer.from(good);
    renamed.write('webX', i);
    refused(check(renamed, entries, 'webX.example.com'), 'HostKeyMismatch', /does not verify/);
  });

  test('a user certificate (no -h): refused, HostKeyMismatch', async () => {
    const cert = await sign(ca.file, host.file, ['-V', '-5m:+1h']);
    refused(
      check(cert, knownHosts(line('@cert-authority', '*', ca))),
      'HostKeyMismatch',
      /is a user certificate, not a host certificate/,
    );
  });

  test('expired and not yet valid: refused with the dates', () => {
    const entries = knownHosts(line('@cert-authority', '*', ca));
    const c = parseHostCertificate(good);
    const expired = check(good, entries, 'web1.example.com', Number(c.validBefore) * 1000);
    refused(expired, 'HostKeyUnknown', /\(@cert-authority, known_hosts:1\) expired at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/);
    const early = check(good, entries, 'web1.example.com', Number(c.validAfter) * 1000 - 1000);
    refused(early, 'HostKeyUnknown', /is not valid yet: valid from \d{4}-/);
    assert.equal(check(good, entries, 'web1.example.com', Number(c.validAfter) * 1000).result, 'trusted');
  });

  test('the name looked up must be a principal: another name, or none listed, is refused', async () => {
    const entries = knownHosts(line('@cert-authority', '*', ca));
    refused(
      check(good, entries, 'db1.example.com'),
      'HostKeyUnknown',
      /is not valid for 'db1\.example\.com': its principals are 'web1\.example\.com'/,
    );
    const none = await sign(ca.file, host.file, ['-h'], []);
    refused(check(none, entries), 'HostKeyUnknown', /lists no principals: refused, as OpenSSH does/);
  });

  test('the CA key or the certified key @revoked: refused naming the line', () => {
    refused(
      check(good, knownHosts(line('@cert-authority', '*', ca), line('@revoked', '*', ca))),
      'HostKeyMismatch',
      /is signed by CA ssh-ed25519 SHA256:\S+, which is @revoked \(known_hosts:2\)/,
    );
    refused(
      check(good, knownHosts(line('@revoked', '*.example.com', host), line('@cert-authority', '*', ca))),
      'HostKeyMismatch',
      /certifies the key ssh-ed25519 SHA256:\S+, which is @revoked \(known_hosts:1\)/,
    );
  });

  test('a CA signature with ssh-rsa (SHA-1) and critical options are refused, as OpenSSH does by default', async () => {
    const entries = knownHosts(line('@cert-authority', '*', rsaCa), line('@cert-authority', '*', ca));
    const sha1 = await sign(rsaCa.file, host.file, ['-h', '-t', 'ssh-rsa']);
    refused(check(sha1, entries), 'HostKeyUnknown', /with ssh-rsa, which OpenSSH refuses by default/);
    const critical = await sign(ca.file, host.file, ['-h', '-O', 'critical:x-test=1']);
    refused(check(critical, entries), 'HostKeyUnknown', /has critical options \(x-test\)/);
  });

  test('garbage: refused as malformed', () => {
    refused(check(good.subarray(0, 60), knownHosts()), 'HostKeyMismatch', /malformed host certificate: truncated/);
  });
});

describe('host key algorithms offered', () => {
  test('certificates first only when a @cert-authority line names the host; otherwise the list is unchanged', () => {
    assert.ok(HOST_CERTIFICATES_SUPPORTED, "this checkout's ssh2 has the patch of patches/ applied (npm ci)");
    const plain = hostKeyAlgorithms(['ssh-rsa'], false);
    assert.deepEqual(plain, [
      'rsa-sha2-512',
      'rsa-sha2-256',
      'ssh-rsa',
      'ssh-ed25519',
      'ecdsa-sha2-nistp256',
      'ecdsa-sha2-nistp384',
      'ecdsa-sha2-nistp521',
    ]);
    assert.deepEqual(hostKeyAlgorithms(['ssh-rsa'], true), [...HOST_CERTIFICATE_ALGORITHMS, ...plain]);
  });
});
