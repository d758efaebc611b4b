import { mkdtemp, readFile, rm, stat, writeFile, mkdir, chmod, readdir } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createGitReader, GitAccessError } from '../../../../controller/git/mirror.js';
import type { Repository } from '../../../../kernel/repository.js';
import { GitRepo } from '../../../helpers/git-repo.js';

const at = (dir: string) => new GitRepo(dir);
const commitFile = (dir: string, file: string, content: string, message = `edit ${file}`) =>
  at(dir).commit({ [file]: content }, message);

describe('createGitReader (cached mirrors)', () => {
  let tmp: string;
  let origin: string;
  let repo: Repository;
  let first: string;

  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'pb-git-'));
    origin = path.join(tmp, 'origin');
    await mkdir(origin);
    await GitRepo.init(origin);
    await mkdir(path.join(origin, 'provision'));
    await writeFile(path.join(origin, 'provision', 'create.sh'), '#!/bin/sh\necho {}\n');
    await chmod(path.join(origin, 'provision', 'create.sh'), 0o755);
    first = await commitFile(origin, 'politburo.yml', 'politburo: 1\n', 'first');
    repo = { kind: 'github', owner: 'acme', name: 'infra', cloneUrl: origin, defaultBranch: 'main' };
  });
  after(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  test('checks out the files of an exact commit, executable bits kept, into a fresh directory', async () => {
    const reader = createGitReader({ dataDir: path.join(tmp, 'data1') });
    const second = await commitFile(origin, 'politburo.yml', 'politburo: 1\n# two\n');
    const a = await reader.checkout(repo, first);
    const b = await reader.checkout(repo, second);
    try {
      assert.equal(await readFile(path.join(a.dir, 'politburo.yml'), 'utf8'), 'politburo: 1\n');
      assert.equal(await readFile(path.join(b.dir, 'politburo.yml'), 'utf8'), 'politburo: 1\n# two\n');
      assert.ok(((await stat(path.join(a.dir, 'provision', 'create.sh'))).mode & 0o111) !== 0, 'exec bit kept');
      assert.deepEqual((await readdir(a.dir)).sort(), ['politburo.yml', 'provision'], 'no .git in the checkout');
    } finally {
      await a.cleanup();
      await b.cleanup();
    }
    await assert.rejects(stat(a.dir));
  });

  test('fetches only for unknown commits and for branch heads', async () => {
    const dataDir = path.join(tmp, 'data2');
    const reader = createGitReader({ dataDir });
    const head = await at(origin).git('rev-parse', 'HEAD');
    assert.equal(await reader.branchHead(repo, 'main'), head);
    const mirror = reader.mirrorDir(repo);
    const fetchHead = () => stat(path.join(mirror, 'FETCH_HEAD')).then((s) => s.mtimeMs);
    const before = await fetchHead();
    await new Promise((r) => setTimeout(r, 20));
    await reader.ensureCommit(repo, head); // known: no fetch
    assert.equal(await fetchHead(), before);
    const next = await commitFile(origin, 'x.txt', 'x');
    await reader.ensureCommit(repo, next); // unknown: fetched
    assert.ok((await fetchHead()) > before);
    assert.equal(await reader.branchHead(repo, 'main'), next);
    assert.equal(await reader.branchHead(repo, 'no-such-branch'), null);
    await assert.rejects(reader.branchHead(repo, '../evil'), GitAccessError);
  });

  test('changed files between a base and a head, as the pull request shows them', async () => {
    const reader = createGitReader({ dataDir: path.join(tmp, 'data3') });
    const base = await at(origin).git('rev-parse', 'HEAD');
    await at(origin).git('checkout', '-q', '-b', 'feature');
    await commitFile(origin, 'environments/prod.yml', 'a: 1\n');
    const head = await commitFile(origin, 'babushka-deps/web.rb', 'dep "x"\n');
    await at(origin).git('checkout', '-q', 'main');
    await commitFile(origin, 'unrelated-on-main.txt', 'm');
    const mainHead = await at(origin).git('rev-parse', 'HEAD');
    assert.deepEqual((await reader.changedFiles(repo, mainHead, head)).sort(), [
      'babushka-deps/web.rb',
      'environments/prod.yml',
    ]);
    assert.deepEqual(await reader.changedFiles(repo, base, base), []);
    assert.equal(await reader.mergeBase(repo, mainHead, head), base, 'the fork point of the branch');
  });

  test("a fork's pull request head is reached through refs/pull/N/head", async () => {
    const fork = path.join(tmp, 'fork');
    await at(tmp).git('clone', '-q', origin, fork);
    const forkHead = await commitFile(fork, 'politburo.yml', 'politburo: 1\n# fork\n');
    // GitHub exposes a fork's PR head in the base repository as refs/pull/N/head.
    await at(origin).git('fetch', '-q', fork, `+HEAD:refs/pull/7/head`);
    const reader = createGitReader({ dataDir: path.join(tmp, 'data4') });
    const co = await reader.checkout(repo, forkHead);
    try {
      assert.match(await readFile(path.join(co.dir, 'politburo.yml'), 'utf8'), /# fork/);
    } finally {
      await co.cleanup();
    }
  });

  test('an unknown commit is a transient GitAccessError; a malformed one is terminal', async () => {
    const reader = createGitReader({ dataDir: path.join(tmp, 'data5') });
    await assert.rejects(
      reader.ensureCommit(repo, 'f'.repeat(40)),
      (e: unknown) => e instanceof GitAccessError && e.transient && /not in the repository/.test(e.message),
    );
    await assert.rejects(
      reader.ensureCommit(repo, 'HEAD; rm -rf /'),
      (e: unknown) => e instanceof GitAccessError && !e.transient,
    );
  });

  test('concurrent use of one mirror is serialised and every call succeeds', async () => {
    const reader = createGitReader({ dataDir: path.join(tmp, 'data6') });
    const head = await at(origin).git('rev-parse', 'main');
    const results = await Promise.all([
      ...Array.from({ length: 6 }, () => reader.checkout(repo, head)),
      ...Array.from({ length: 4 }, () => reader.branchHead(repo, 'main').then(() => null)),
    ]);
    for (const r of results) if (r) await r.cleanup();
    assert.equal(results.filter(Boolean).length, 6);
  });

  test('the remote default branch, for poll mode repositories listed without a branch', async () => {
    const reader = createGitReader({ dataDir: path.join(tmp, 'data7') });
    assert.equal(await reader.remoteDefaultBranch({ ...repo, cloneUrl: `file://${origin}` }), 'main');
  });

  test('https: the token goes in a per-command header, never into the mirror config or error messages', async () => {
    const seen: (string | undefined)[] = [];
    const server = http.createServer((req, res) => {
      seen.push(req.headers.authorization);
      res.statusCode = 503;
      res.end('unavailable');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const token = 'ghs_supersecrettoken123';
    try {
      const dataDir = path.join(tmp, 'data8');
      const reader = createGitReader({ dataDir, token: async () => token });
      const httpRepo: Repository = {
        kind: 'github',
        owner: 'acme',
        name: 'infra',
        cloneUrl: `http://127.0.0.1:${port}/acme/infra.git`,
        defaultBranch: 'main',
      };
      const err = await reader.branchHead(httpRepo, 'main').then(
        () => null,
        (e: unknown) => e,
      );
      assert.ok(err instanceof GitAccessError && err.transient, 'remote failure is transient');
      assert.ok(!err.message.includes(token));
      assert.ok(
        seen.includes(`Basic ${Buffer.from(`x-access-token:${token}`).toString('base64')}`),
        'token sent as a header',
      );
      const config = await readFile(path.join(reader.mirrorDir(httpRepo), 'config'), 'utf8');
      assert.ok(!config.includes(token) && !config.includes('extraHeader'));
    } finally {
      server.close();
    }
  });
});
