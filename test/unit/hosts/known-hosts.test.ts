import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  fingerprint,
  keyTypeOf,
  knownKeyTypes,
  parseKnownHosts,
  readRepositoryKnownHosts,
  verifyHostKey,
} from '../../../hosts/known-hosts.js';

function blob(type: string, body = randomBytes(32)): Buffer {
  const t = Buffer.from(type);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(t.length);
  const bl = Buffer.alloc(4);
  bl.writeUInt32BE(body.length);
  return Buffer.concat([len, t, bl, body]);
}
const b64 = (b: Buffer) => b.toString('base64');
function hashed(name: string): string {
  const salt = randomBytes(20);
  return `|1|${b64(salt)}|${b64(createHmac('sha1', salt).update(name).digest())}`;
}

const key1 = blob('ssh-ed25519');
const key2 = blob('ssh-ed25519');
const rsa = blob('ssh-rsa');

describe('parseKnownHosts', () => {
  test('reads plain, hashed, bracketed, marker and comment lines; reports bad lines with FILE:LINE', () => {
    const content = [
      '# a comment',
      '',
      `db1.example.com,10.0.0.1 ssh-ed25519 ${b64(key1)} comment here`,
      `${hashed('web1')} ssh-ed25519 ${b64(key1)}`,
      `[10.0.0.2]:2222 ssh-rsa ${b64(rsa)}`,
      `@revoked * ssh-ed25519 ${b64(key2)}`,
      `@cert-authority *.example.com ssh-ed25519 ${b64(key2)}`,
      'garbage',
      `host ssh-rsa ${b64(key1)}`,
      `@weird host ssh-ed25519 ${b64(key1)}`,
    ].join('\n');
    const { entries, errors } = parseKnownHosts(content, 'repo/known_hosts');
    assert.equal(entries.length, 5);
    assert.deepEqual(entries[0].patterns, ['db1.example.com', '10.0.0.1']);
    assert.ok(entries[1].hashed);
    assert.equal(entries[3].marker, 'revoked');
    assert.equal(entries[4].marker, 'cert-authority');
    assert.equal(errors.length, 3);
    assert.match(errors[0], /^repo\/known_hosts:8: /);
    assert.match(errors[1], /^repo\/known_hosts:9: .*ssh-ed25519.*ssh-rsa/);
    assert.match(errors[2], /unknown marker @weird/);
  });
});

describe('verifyHostKey', () => {
  const { entries } = parseKnownHosts(
    [
      `db1.example.com,10.0.0.1 ssh-ed25519 ${b64(key1)}`,
      `${hashed('[10.0.0.9]:2222')} ssh-ed25519 ${b64(key1)}`,
      `[10.0.0.2]:2222 ssh-rsa ${b64(rsa)}`,
      `*.web.example.com,!bad.web.example.com ssh-ed25519 ${b64(key1)}`,
      `@revoked revoked.example.com ssh-ed25519 ${b64(key1)}`,
      `revoked.example.com ssh-ed25519 ${b64(key1)}`,
      `@cert-authority ca.example.com ssh-ed25519 ${b64(key2)}`,
    ].join('\n'),
  );

  test('plain names and comma lists', () => {
    assert.equal(verifyHostKey(entries, 'db1.example.com', 22, 'ssh-ed25519', key1), 'ok');
    assert.equal(verifyHostKey(entries, '10.0.0.1', 22, 'ssh-ed25519', key1), 'ok');
    assert.equal(verifyHostKey(entries, 'DB1.example.com', 22, 'ssh-ed25519', key1), 'ok');
  });

  test('a changed key of the same type is a mismatch; another type or host is unknown', () => {
    assert.equal(verifyHostKey(entries, 'db1.example.com', 22, 'ssh-ed25519', key2), 'mismatch');
    assert.equal(verifyHostKey(entries, 'db1.example.com', 22, 'ssh-rsa', rsa), 'unknown');
    assert.equal(verifyHostKey(entries, 'db2.example.com', 22, 'ssh-ed25519', key1), 'unknown');
  });

  test('non-standard ports need the [host]:port form', () => {
    assert.equal(verifyHostKey(entries, '10.0.0.2', 2222, 'ssh-rsa', rsa), 'ok');
    assert.equal(verifyHostKey(entries, '10.0.0.2', 22, 'ssh-rsa', rsa), 'unknown');
    assert.equal(verifyHostKey(entries, 'db1.example.com', 2200, 'ssh-ed25519', key1), 'unknown');
  });

  test('hashed entries', () => {
    assert.equal(verifyHostKey(entries, '10.0.0.9', 2222, 'ssh-ed25519', key1), 'ok');
    assert.equal(verifyHostKey(entries, '10.0.0.9', 2222, 'ssh-ed25519', key2), 'mismatch');
    assert.equal(verifyHostKey(entries, '10.0.0.9', 22, 'ssh-ed25519', key1), 'unknown');
  });

  test('wildcards and negation', () => {
    assert.equal(verifyHostKey(entries, 'a.web.example.com', 22, 'ssh-ed25519', key1), 'ok');
    assert.equal(verifyHostKey(entries, 'bad.web.example.com', 22, 'ssh-ed25519', key1), 'unknown');
  });

  test('@revoked refuses the key even when also listed; @cert-authority is not a host key', () => {
    assert.equal(verifyHostKey(entries, 'revoked.example.com', 22, 'ssh-ed25519', key1), 'mismatch');
    assert.equal(verifyHostKey(entries, 'ca.example.com', 22, 'ssh-ed25519', key2), 'unknown');
  });

  test('a line appended later (accept-new) is found, among thousands of lines', () => {
    const many = parseKnownHosts(
      Array.from({ length: 3000 }, (_, i) => `h${i}.example.com ssh-ed25519 ${b64(key1)}`).join('\n'),
    ).entries;
    assert.equal(verifyHostKey(many, 'h2999.example.com', 22, 'ssh-ed25519', key1), 'ok');
    assert.equal(verifyHostKey(many, 'new.example.com', 22, 'ssh-ed25519', key2), 'unknown');
    many.push(...parseKnownHosts(`new.example.com ssh-ed25519 ${b64(key2)}`).entries);
    assert.equal(verifyHostKey(many, 'new.example.com', 22, 'ssh-ed25519', key2), 'ok');
    assert.equal(verifyHostKey(many, 'h7.example.com', 22, 'ssh-ed25519', key2), 'mismatch');
  });

  test('knownKeyTypes, keyTypeOf and fingerprint', () => {
    assert.deepEqual(knownKeyTypes(entries, '10.0.0.2', 2222), ['ssh-rsa']);
    assert.equal(keyTypeOf(rsa), 'ssh-rsa');
    assert.equal(keyTypeOf(Buffer.from([0, 0])), null);
    assert.match(fingerprint(key1), /^SHA256:[A-Za-z0-9+/]{43}$/);
  });
});

describe('readRepositoryKnownHosts', () => {
  test('reads a file of the repository, through a symlink that stays inside; refuses one leading outside unread', async () => {
    const base = await mkdtemp(path.join(os.tmpdir(), 'pb-known-hosts-'));
    try {
      const repo = path.join(base, 'repo');
      await mkdir(path.join(repo, 'ssh'), { recursive: true });
      await writeFile(path.join(repo, 'ssh', 'known_hosts'), 'inside\n');
      await writeFile(path.join(base, 'outside_known_hosts'), 'OUTSIDE-KNOWN-HOSTS-MARKER\n');
      await symlink('ssh/known_hosts', path.join(repo, 'known_hosts'));
      await symlink(path.join(base, 'outside_known_hosts'), path.join(repo, 'evil'));
      await symlink('..', path.join(repo, 'up'));
      assert.equal(await readRepositoryKnownHosts(repo, 'known_hosts'), 'inside\n');
      assert.equal(await readRepositoryKnownHosts(repo, 'ssh/known_hosts'), 'inside\n');
      const refused = (name: string, why: RegExp) =>
        assert.rejects(readRepositoryKnownHosts(repo, name), (err: Error & { reason?: string }) => {
          assert.equal(err.reason, 'InvalidSpec');
          assert.match(err.message, why);
          assert.ok(!err.message.includes('MARKER'));
          return true;
        });
      await refused('evil', /known_hosts file 'evil' leads outside the repository through the symlink 'evil'/);
      await refused('up/outside_known_hosts', /through the symlink 'up'/);
      await refused('../outside_known_hosts', /must not contain '\.\.'/);
      await refused(path.join(base, 'outside_known_hosts'), /is an absolute path/);
      await refused('missing', /does not exist in the repository/);
      await refused('ssh', /is not a regular file/);
    } finally {
      await rm(base, { recursive: true, force: true });
    }
  });
});
