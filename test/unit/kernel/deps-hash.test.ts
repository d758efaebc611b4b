import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { tarDirectory } from '../../../hosts/deps-upload.js';
import { checkDepsDir, hashDepsDir } from '../../../kernel/deps-hash.js';

test('the hash follows paths, contents and the executable bit, and is stable', async () => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'deps-hash-'));
  try {
    const a = path.join(root, 'a');
    const b = path.join(root, 'b');
    for (const d of [a, b]) {
      await mkdir(path.join(d, 'sub'), { recursive: true });
      await writeFile(path.join(d, 'web.rb'), "dep 'x' do end\n");
      await writeFile(path.join(d, 'sub', 'files.txt'), 'data');
    }
    const h = await hashDepsDir(a);
    assert.match(h, /^[0-9a-f]{64}$/);
    assert.equal(await hashDepsDir(b), h);
    await writeFile(path.join(b, 'sub', 'files.txt'), 'data2');
    assert.notEqual(await hashDepsDir(b), h);
    await writeFile(path.join(b, 'sub', 'files.txt'), 'data');
    await chmod(path.join(b, 'web.rb'), 0o755);
    assert.notEqual(await hashDepsDir(b), h);
    await chmod(path.join(b, 'web.rb'), 0o644);
    assert.equal(await hashDepsDir(b), h);
    await writeFile(path.join(b, 'other.rb'), '');
    assert.notEqual(await hashDepsDir(b), h);
    await assert.rejects(hashDepsDir(path.join(root, 'missing')), /does not exist/);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

const MARKER = 'OUTSIDE-DEPS-MARKER-7f3a';

/** A repository with a deps directory and a secret file next to it (outside the deps directory). */
async function repoWithDeps(): Promise<{ root: string; deps: string }> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'deps-links-'));
  await mkdir(path.join(root, 'babushka-deps', 'sub'), { recursive: true });
  await writeFile(path.join(root, 'babushka-deps', 'web.rb'), "dep 'web' do end\n");
  await writeFile(path.join(root, 'secret.txt'), MARKER);
  await mkdir(path.join(root, 'outside-dir'));
  await writeFile(path.join(root, 'outside-dir', 'x.rb'), MARKER);
  return { root, deps: path.join(root, 'babushka-deps') };
}

for (const [what, link, target] of [
  ['an absolute symlink to a file outside', 'passwd.rb', '/etc/passwd'],
  ['a relative symlink to a file outside the deps directory', 'secret.rb', '../secret.txt'],
  ['a nested relative symlink climbing out', 'sub/up.rb', '../../secret.txt'],
  ['a symlink to a directory outside', 'lib', '../outside-dir'],
  ['a symlink to the root of the machine', 'sub/root', '/'],
  ['a symlink that leads nowhere', 'gone.rb', 'missing.rb'],
] as const) {
  test(`deps: ${what} is refused by hashing, checking and uploading, naming the link`, async () => {
    const { root, deps } = await repoWithDeps();
    try {
      await symlink(target, path.join(deps, link));
      const named = (err: Error) => {
        assert.ok(err.message.includes(`the symlink '${link}'`), err.message);
        assert.ok(!err.message.includes(MARKER));
        return true;
      };
      await assert.rejects(hashDepsDir(deps), named);
      await assert.rejects(checkDepsDir(deps), named);
      await assert.rejects(tarDirectory(deps), named);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
}

test('deps: relative symlinks inside the deps directory are kept and hashed by their text', async () => {
  const { root, deps } = await repoWithDeps();
  try {
    await symlink('../web.rb', path.join(deps, 'sub', 'alias.rb'));
    await symlink('sub', path.join(deps, 'sublink'));
    const h = await hashDepsDir(deps);
    assert.match(h, /^[0-9a-f]{64}$/);
    const tar = await tarDirectory(deps);
    assert.ok(!tar.includes(MARKER));
    assert.ok(tar.includes('sub/alias.rb'));
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
