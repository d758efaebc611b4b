/** The apply-environment job on a local host: the check is always finished, superseded commits too, branch heads only. */
import { mkdtemp, rm, access } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { runApplyJob } from '../../../controller/jobs/apply-job.js';
import type { ApplyJob, RepoRef } from '../../../controller/ports.js';
import { TestRepo } from '../../e2e/harness.js';
import { startJobsHarness, type JobsHarness } from './jobs-harness.js';

function yaml(stateDir: string, version: string, broken = false): string {
  return `politburo: 1
blueprints:
  app:
    resources:
      box:
        tasks:
          - { name: marker, met: 'test -f ${stateDir}/${version}', meet: 'mkdir -p ${stateDir} && touch ${stateDir}/${version}' }
environments:
  prod:
    blueprint: ${broken ? 'missing' : 'app'}
    hosts: { box: local }
`;
}

describe('apply-environment job', () => {
  let h: JobsHarness;
  let repo: TestRepo;
  let ref: RepoRef;
  let tmp: string;
  const attempt = (n = 1, max = 3) => ({ job: { attempts: n, max_attempts: max } as any });
  const check = async (sha: string) =>
    (await h.pool.query<{ status: string; conclusion: string | null }>(`SELECT status, conclusion FROM github_checks WHERE sha = $1 AND name = 'politburo/prod'`, [sha])).rows[0];
  const job = (sha: string, extra: Partial<ApplyJob> = {}): ApplyJob => ({ repo: ref, environment: 'prod', sha, trigger: 'test', ...extra });

  before(async () => {
    h = await startJobsHarness();
    tmp = await mkdtemp(path.join(os.tmpdir(), 'politburo-apply-job-'));
    repo = await TestRepo.create({ 'politburo.yml': yaml(path.join(tmp, 'state'), 'v1') });
    ref = { owner: 'acme', name: 'infra', cloneUrl: repo.dir, defaultBranch: 'main' };
  });
  after(async () => {
    await h?.stop();
    await rm(tmp, { recursive: true, force: true });
  });

  test('applies the branch head: success with a link to the run; the commits it replaced end as superseded', async () => {
    const older = await repo.head();
    const head = await repo.commit({ 'politburo.yml': yaml(path.join(tmp, 'state'), 'v2') }, 'v2');
    await runApplyJob(h.deps, job(head, { supersedes: [older] }), attempt());
    await access(path.join(tmp, 'state', 'v2'));
    assert.deepEqual(await check(head), { status: 'completed', conclusion: 'success' });
    assert.deepEqual(await check(older), { status: 'completed', conclusion: 'skipped' });
    await h.reporter.flush();
    const status = h.github.state.statuses.filter((s) => s.sha === head).at(-1)!;
    assert.match(status.target_url ?? '', /^http:\/\/pb\.example\/runs\/\d+$/);
    const nodes = await h.deps.store.recordedNodes('acme/infra', 'prod');
    assert.deepEqual(nodes.map((n) => [n.path, n.state, n.lastAppliedCommit]), [['box', 'ready', head]]);
  });

  test('a duplicate apply of an applied commit (a redelivered push) runs nothing and leaves the check alone', async () => {
    const head = await repo.head();
    const runs = (await h.deps.store.listRuns({ repository: 'acme/infra' })).length;
    const before = (await h.pool.query(`SELECT updated_at FROM github_checks WHERE sha = $1 AND name = 'politburo/prod'`, [head])).rows[0].updated_at;
    await runApplyJob(h.deps, job(head), attempt());
    assert.equal((await h.deps.store.listRuns({ repository: 'acme/infra' })).length, runs);
    const after = (await h.pool.query(`SELECT updated_at FROM github_checks WHERE sha = $1 AND name = 'politburo/prod'`, [head])).rows[0].updated_at;
    assert.deepEqual(after, before);
    // A duplicate whose "queued" report raced past the first run's final one still finishes the check.
    await h.deps.reporter.check({ repo: ref, sha: head, name: 'politburo/prod' }, { status: 'queued', title: 'Waiting', summary: '' });
    await runApplyJob(h.deps, job(head), attempt());
    assert.deepEqual(await check(head), { status: 'completed', conclusion: 'success' });
    assert.equal((await h.deps.store.listRuns({ repository: 'acme/infra' })).length, runs, 'still no run');
    // Asked for explicitly (re-run from GitHub), it runs again.
    await runApplyJob(h.deps, job(head, { trigger: 'check rerequested (x)' }), attempt());
    assert.equal((await h.deps.store.listRuns({ repository: 'acme/infra' })).length, runs + 1);
    assert.deepEqual(await check(head), { status: 'completed', conclusion: 'success' });
  });

  test('a job for a commit that is no longer the branch head applies the head; the older commit ends superseded', async () => {
    const old = await repo.head();
    const head = await repo.commit({ 'politburo.yml': yaml(path.join(tmp, 'state'), 'v5') }, 'v5');
    await runApplyJob(h.deps, job(old), attempt());
    assert.deepEqual(await check(old), { status: 'completed', conclusion: 'skipped' });
    assert.deepEqual(await check(head), { status: 'completed', conclusion: 'success' });
    await access(path.join(tmp, 'state', 'v5'));
    const nodes = await h.deps.store.recordedNodes('acme/infra', 'prod');
    assert.equal(nodes[0].lastAppliedCommit, head);
  });

  test('an invalid description at the commit fails the check with annotations and is not retried', async () => {
    const bad = await repo.commit({ 'politburo.yml': yaml(path.join(tmp, 'state'), 'v3', true) }, 'broken');
    await runApplyJob(h.deps, job(bad), attempt());
    assert.deepEqual(await check(bad), { status: 'completed', conclusion: 'failure' });
  });

  test('a transient failure leaves the check queued for the retry; the last attempt finishes it as failed', async () => {
    const sha = await repo.head();
    const unreachable: RepoRef = { ...ref, name: 'gone', cloneUrl: path.join(tmp, 'no-such-repo') };
    await assert.rejects(runApplyJob(h.deps, { ...job(sha), repo: unreachable }, attempt(1, 3)));
    const row = async () => (await h.pool.query(`SELECT status, conclusion FROM github_checks WHERE repository = 'acme/gone' AND sha = $1`, [sha])).rows[0];
    assert.deepEqual(await row(), { status: 'queued', conclusion: null });
    await assert.rejects(runApplyJob(h.deps, { ...job(sha), repo: unreachable }, attempt(3, 3)));
    assert.deepEqual(await row(), { status: 'completed', conclusion: 'failure' });
  });
});
