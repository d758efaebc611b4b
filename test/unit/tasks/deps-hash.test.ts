import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { hashDepsDir } from '../../../reconciler/tasks/deps-hash.js';

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
