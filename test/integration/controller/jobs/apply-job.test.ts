/**
 * The apply-environment job on a local host: the check is always finished, superseded commits too, branch heads only.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, access, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { runApplyEnvironment } from '../../../../controller/jobs/apply-environment.js';
import { queueApplies } from '../../../../controller/jobs/queue-applies.js';
import type { GitHubRepository } from '../../../../kernel/repository.js';
import type { ApplyEnvironmentJob } from '../../../../controller/ports.js';
import { createGitHubReporter } from '../../../../controller/github/reporter.js';
import { startFakeGitHub } from '../../../helpers/fake-github/index.js';

import { startJobsHarness, type JobsHarness } from './jobs-harness.js';
import { waitFor } from '../../../helpers/wait-for.js';
import { GitRepo } from '../../../helpers/git-repo.js';

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
  let repo: GitRepo;
  let ref: GitHubRepository;
  let tmp: string;
  const attempt = (n = 1, max = 3) => ({ job: { attempts: n, max_attempts: max } as any });
  const check = async (sha: string) =>
    (
      await h.pool.query<{ status: string; conclusion: string | null }>(
        `SELECT status, conclusion FROM github_checks WHERE sha = $1 AND name = 'politburo/prod'`,
        [sha],
      )
    ).rows[0];
  const job = (sha: string, extra: Partial<ApplyEnvironmentJob> = {}): ApplyEnvironmentJob => ({
    repo: ref,
    environment: 'prod',
    sha,
    trigger: 'test',
    ...extra,
  });

  before(async () => {
    h = await startJobsHarness();
    tmp = await mkdtemp(path.join(os.tmpdir(), 'politburo-apply-job-'));
    repo = await GitRepo.create({ 'politburo.yml': yaml(path.join(tmp, 'state'), 'v1') });
    ref = { kind: 'github', owner: 'acme', name: 'infra', cloneUrl: repo.dir, defaultBranch: 'main' };
  });
  after(async () => {
    await h?.stop();
    await rm(tmp, { recursive: true, force: true });
  });

  test('applies the branch head: success with a link to the run; the commits it replaced end as superseded', async () => {
    const older = await repo.head();
    const head = await repo.commit({ 'politburo.yml': yaml(path.join(tmp, 'state'), 'v2') }, 'v2');
    await runApplyEnvironment(h.deps, job(head, { supersedes: [older] }), attempt());
    await access(path.join(tmp, 'state', 'v2'));
    assert.deepEqual(await check(head), { status: 'completed', conclusion: 'success' });
    assert.deepEqual(await check(older), { status: 'completed', conclusion: 'skipped' });
    await h.reporter.flush({ timeoutMs: 60_000 });
    const status = h.github.state.statuses.filter((s) => s.sha === head).at(-1)!;
    assert.match(status.target_url ?? '', /^http:\/\/pb\.example\/runs\/\d+$/);
    const nodes = await h.deps.store.recordedNodes('acme/infra', 'prod');
    assert.deepEqual(
      nodes.map((n) => [n.path, n.state, n.lastAppliedCommit]),
      [['box', 'ready', head]],
    );
  });

  test('a duplicate apply of an applied commit (a redelivered push) runs nothing and leaves the check alone', async () => {
    const head = await repo.head();
    const runs = (await h.deps.store.listRuns({ repository: 'acme/infra' })).length;
    const before = (
      await h.pool.query(`SELECT updated_at FROM github_checks WHERE sha = $1 AND name = 'politburo/prod'`, [head])
    ).rows[0].updated_at;
    await runApplyEnvironment(h.deps, job(head), attempt());
    assert.equal((await h.deps.store.listRuns({ repository: 'acme/infra' })).length, runs);
    const after = (
      await h.pool.query(`SELECT updated_at FROM github_checks WHERE sha = $1 AND name = 'politburo/prod'`, [head])
    ).rows[0].updated_at;
    assert.deepEqual(after, before);
    // A duplicate whose "queued" report raced past the first run's final one still finishes the check.
    await h.deps.reporter.check(
      { repo: ref, sha: head, name: 'politburo/prod' },
      { status: 'queued', title: 'Waiting', summary: '' },
    );
    await runApplyEnvironment(h.deps, job(head), attempt());
    assert.deepEqual(await check(head), { status: 'completed', conclusion: 'success' });
    assert.equal((await h.deps.store.listRuns({ repository: 'acme/infra' })).length, runs, 'still no run');
    // Asked for explicitly (re-run from GitHub), it runs again.
    await runApplyEnvironment(h.deps, job(head, { trigger: 'check rerequested (x)' }), attempt());
    assert.equal((await h.deps.store.listRuns({ repository: 'acme/infra' })).length, runs + 1);
    assert.deepEqual(await check(head), { status: 'completed', conclusion: 'success' });
  });

  test('a job for a commit that is no longer the branch head applies the head; the older commit ends superseded', async () => {
    const old = await repo.head();
    const head = await repo.commit({ 'politburo.yml': yaml(path.join(tmp, 'state'), 'v5') }, 'v5');
    await runApplyEnvironment(h.deps, job(old), attempt());
    assert.deepEqual(await check(old), { status: 'completed', conclusion: 'skipped' });
    assert.deepEqual(await check(head), { status: 'completed', conclusion: 'success' });
    await access(path.join(tmp, 'state', 'v5'));
    const nodes = await h.deps.store.recordedNodes('acme/infra', 'prod');
    assert.equal(nodes[0].lastAppliedCommit, head);
  });

  test('an invalid description at the commit fails the check with annotations and is not retried', async () => {
    const bad = await repo.commit({ 'politburo.yml': yaml(path.join(tmp, 'state'), 'v3', true) }, 'broken');
    await runApplyEnvironment(h.deps, job(bad), attempt());
    assert.deepEqual(await check(bad), { status: 'completed', conclusion: 'failure' });
  });

  test('a transient failure leaves the check queued for the retry; the last attempt finishes it as failed', async () => {
    const sha = await repo.head();
    const unreachable: GitHubRepository = { ...ref, name: 'gone', cloneUrl: path.join(tmp, 'no-such-repo') };
    await assert.rejects(runApplyEnvironment(h.deps, { ...job(sha), repo: unreachable }, attempt(1, 3)));
    const row = async () =>
      (
        await h.pool.query(`SELECT status, conclusion FROM github_checks WHERE repository = 'acme/gone' AND sha = $1`, [
          sha,
        ])
      ).rows[0];
    assert.deepEqual(await row(), { status: 'queued', conclusion: null });
    await assert.rejects(runApplyEnvironment(h.deps, { ...job(sha), repo: unreachable }, attempt(3, 3)));
    assert.deepEqual(await row(), { status: 'completed', conclusion: 'failure' });
  });

  test('while the apply runs, its check run is in_progress and says so (GitHub App checks)', async () => {
    const keys = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    });
    const github = await startFakeGitHub({ appPublicKey: keys.publicKey, appId: 77 });
    const reporter = createGitHubReporter({
      pool: h.pool,
      auth: { appId: 77, privateKey: keys.privateKey },
      baseUrl: github.url,
      throttle: false,
      start: false,
      retry: { retries: 0 },
    });
    const go = path.join(tmp, 'go');
    // The task waits for the test to let it finish, so the apply is seen in progress.
    const slow = yaml(path.join(tmp, 'state'), 'v6').replace(
      "meet: 'mkdir",
      `meet: 'while [ ! -e ${go} ]; do sleep 0.1; done; mkdir`,
    );
    const head = await repo.commit({ 'politburo.yml': slow }, 'slow');
    const app: GitHubRepository = { ...ref, installationId: 7 };
    try {
      const applying = runApplyEnvironment({ ...h.deps, reporter }, job(head, { repo: app }), attempt());
      const run = await waitFor('the check run created', async () => {
        await reporter.flush({ timeoutMs: 60_000 });
        return github.state.checkRuns.find((r) => r.head_sha === head && r.name === 'politburo/prod');
      });
      assert.equal(run.status, 'in_progress');
      assert.equal(run.conclusion, null);
      assert.equal(run.output.title, 'Applying prod');
      assert.match(run.output.summary ?? '', /in progress/);
      assert.doesNotMatch(`${run.output.title} ${run.output.summary}`, /queued|waiting/i);
      // A redelivered push of the same commit while it is being applied does not turn its check back to queued.
      await queueApplies({ ...h.deps, reporter }, app, 'main', head, 'redelivered push', h.deps.logger);
      await reporter.flush({ timeoutMs: 60_000 });
      assert.equal(github.state.checkRuns.find((r) => r.id === run.id)!.status, 'in_progress');
      assert.match(github.state.checkRuns.find((r) => r.id === run.id)!.output.summary ?? '', /in progress/);
      await writeFile(go, '');
      await applying;
      await reporter.flush({ timeoutMs: 60_000 });
      const done = github.state.checkRuns.find((r) => r.id === run.id)!;
      assert.deepEqual([done.status, done.conclusion], ['completed', 'success']);
      assert.deepEqual(github.violations, []);
    } finally {
      await reporter.close();
      await github.close();
    }
  });
});
