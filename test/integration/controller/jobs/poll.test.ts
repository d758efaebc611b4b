/**
 * pollOnce: a moved branch head is handled once (across replicas), an unchanged one is not, a broken entry is reported.
 */
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readConfig } from '../../../../controller/config.js';
import { pollOnce, polledRepositoryOf } from '../../../../controller/jobs/poll.js';
import { JOB_APPLY } from '../../../../controller/ports.js';

import { startJobsHarness, type JobsHarness } from './jobs-harness.js';
import { GitRepo } from '../../../helpers/git-repo.js';

const YAML = (v: string) => `politburo: 1
blueprints:
  app:
    resources:
      box:
        tasks:
          - { name: t, met: 'test -f /nonexistent/${v}', meet: 'true' }
environments:
  dev:
    blueprint: app
    hosts: { box: local }
`;

describe('pollOnce', () => {
  let h: JobsHarness;
  let repo: GitRepo;
  before(async () => {
    h = await startJobsHarness();
    repo = await GitRepo.create({ 'politburo.yml': YAML('v1') });
  });
  after(async () => {
    await h?.stop();
  });

  const deps = (repos: string) => ({
    ...h.deps,
    config: readConfig({ DATABASE_URL: h.db.url, POLITBURO_REPOS: repos, POLITBURO_DATA_DIR: h.deps.config.dataDir }),
  });

  test('a new head queues an apply; the same head again does nothing; the next commit does', async () => {
    const d = deps(repo.dir); // no branch: the remote's default branch
    const first = await pollOnce(d);
    assert.deepEqual(
      first.map((r) => [r.branch, r.sha, r.outcome]),
      [['main', await repo.head(), 'queued']],
    );
    assert.equal((await pollOnce(d))[0].outcome, 'unchanged');
    const next = await repo.commit({ 'politburo.yml': YAML('v2') }, 'v2');
    const third = await pollOnce(d);
    assert.equal(third[0].outcome, 'queued');
    const jobs = await h.jobs(JOB_APPLY);
    assert.equal(jobs.length, 1, 'the newer commit replaced the queued apply');
    assert.equal(jobs[0].payload.sha, next);
    assert.equal(jobs[0].payload.repo.kind, 'polled', 'poll-mode repositories report to the log');
    assert.deepEqual(jobs[0].payload.supersedes, [first[0].sha]);
  });

  test('replicas polling at once handle a move once', async () => {
    await repo.commit({ 'politburo.yml': YAML('v3') }, 'v3');
    const d = deps(`${repo.dir}#main`);
    const results = (await Promise.all([pollOnce(d), pollOnce(d), pollOnce(d)])).flat();
    assert.equal(results.filter((r) => r.outcome === 'queued').length, 1);
  });

  test('a missing repository or branch is reported, not thrown, and the others are still polled', async () => {
    const d = deps(`${path.join(repo.dir, 'nope')}#main,${repo.dir}#no-such-branch,${repo.dir}#main`);
    const results = await pollOnce(d);
    assert.match(results[0].outcome, /^error: /);
    assert.match(results[1].outcome, /^error: branch no-such-branch does not exist/);
    assert.equal(results[2].outcome, 'unchanged');
  });

  test('poll repositories are keyed by their absolute path', () => {
    assert.equal(polledRepositoryOf({ url: 'relative/dir' }).location, path.resolve('relative/dir'));
    assert.equal(
      polledRepositoryOf({ url: 'https://git.example/x.git', branch: 'prod' }).location,
      'https://git.example/x.git',
    );
    assert.equal(polledRepositoryOf({ url: 'https://git.example/x.git', branch: 'prod' }).defaultBranch, 'prod');
  });
});
