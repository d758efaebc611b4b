/**
 * The apply job's decisions over in-memory ports: an already applied commit runs nothing, a completed check is left
 * alone, a removed environment's nodes are terminated (and its drift schedule forgotten), an older commit gives way to
 * the branch head, a bad commit fails its check. Each job checks its commit out once.
 */
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { runApplyEnvironment } from '../../../../controller/jobs/apply-environment.js';
import type { ApplyEnvironmentJob } from '../../../../controller/ports.js';
import { inMemoryJobs, type InMemoryJobs } from '../../../helpers/in-memory-controller.js';
import { appliedNodes, repo, yaml } from './fixtures.js';

describe('apply-environment job', () => {
  let m: InMemoryJobs;
  beforeEach(() => {
    m = inMemoryJobs();
  });
  afterEach(async () => {
    await m.close();
  });
  const attempt = { job: { attempts: 1, max_attempts: 3 } as any };
  const apply = (sha: string, extra: Partial<ApplyEnvironmentJob> = {}) =>
    runApplyEnvironment(m.deps, { repo, environment: 'prod', sha, trigger: 'push', ...extra }, attempt);
  const runs = async () => (await m.state.listRuns({ repository: 'acme/infra' })).map((r) => [r.environment, r.status]);

  test('a commit already applied runs nothing; its check is finished only when it is not already', async () => {
    const files = { 'politburo.yml': yaml({ prod: {} }) };
    const sha = m.git.commit(files);
    m.state.seed('acme/infra', 'prod', await appliedNodes(files, 'prod', sha));
    await apply(sha);
    assert.deepEqual(await runs(), []);
    assert.equal(m.reporter.latest(sha, 'politburo/prod')?.conclusion, 'success', 'a pending check is finished');
    assert.equal(m.git.checkouts, 1);
    // Completed already: the duplicate reports nothing at all.
    const reports = m.reporter.history(sha, 'politburo/prod').length;
    await apply(sha);
    assert.equal(m.reporter.history(sha, 'politburo/prod').length, reports);
    assert.deepEqual(await runs(), []);
  });

  test('asked again from GitHub (check rerequested), an applied commit runs again', async () => {
    const files = { 'politburo.yml': yaml({ prod: {} }) };
    const sha = m.git.commit(files);
    m.state.seed('acme/infra', 'prod', await appliedNodes(files, 'prod', sha));
    await apply(sha, { trigger: 'check rerequested (x)' });
    assert.deepEqual(await runs(), [['prod', 'succeeded']]);
    const statuses = m.reporter.history(sha, 'politburo/prod').map((u) => u.status);
    assert.deepEqual(statuses, ['in_progress', 'completed']);
    assert.equal(m.reporter.latest(sha, 'politburo/prod')?.conclusion, 'success');
  });

  test('a removed environment: every recorded node is terminated from the commit that described it', async () => {
    const files = { 'politburo.yml': yaml({ prod: {}, extra: {} }) };
    const first = m.git.commit(files);
    m.state.seed('acme/infra', 'extra', await appliedNodes(files, 'extra', first));
    await m.controllerStore.recordDriftSchedules([{ repo, environment: 'extra', schedule: '0 * * * *', heal: false }]);
    const removal = m.git.commit({ 'politburo.yml': yaml({ prod: {} }) });
    await apply(removal, { environment: 'extra', describedAt: first });
    assert.deepEqual(await m.state.recordedNodes('acme/infra', 'extra'), []);
    const [run] = await m.state.listRuns({ repository: 'acme/infra', environment: 'extra' });
    assert.deepEqual([run.kind, run.status, run.commit], ['apply', 'succeeded', removal]);
    assert.deepEqual(
      (await m.state.nodeRuns(run.id)).map((n) => [n.path, n.state]),
      [['box', 'terminated']],
    );
    assert.equal(m.reporter.latest(removal, 'politburo/extra')?.conclusion, 'success');
    assert.equal(m.controllerStore.schedules().has('acme/infra extra'), false, 'its drift schedule is forgotten');
    // Only the commit that described it was checked out: the removal commit itself was read by queueApplies.
    assert.equal(m.git.checkouts, 1);
  });

  test('a removal whose environment a later head describes again gives way to that head', async () => {
    const files = { 'politburo.yml': yaml({ prod: {}, extra: {} }) };
    const first = m.git.commit(files);
    m.state.seed('acme/infra', 'extra', await appliedNodes(files, 'extra', first));
    const removal = m.git.commit({ 'politburo.yml': yaml({ prod: {} }) });
    const back = m.git.commit({ 'politburo.yml': yaml({ prod: {}, extra: { version: 'v2' } }) });
    await apply(removal, { environment: 'extra', describedAt: first });
    assert.deepEqual(await runs(), []);
    assert.equal((await m.state.recordedNodes('acme/infra', 'extra')).length, 1, 'nothing terminated');
    const check = m.reporter.latest(removal, 'politburo/extra')!;
    assert.deepEqual([check.conclusion, check.title], ['skipped', `Superseded by ${back.slice(0, 7)}`]);
  });

  test('a job for a commit that is no longer the branch head applies the head; the older commits end superseded', async () => {
    const older = m.git.commit({ 'politburo.yml': yaml({ prod: { version: 'v1' } }) });
    const old = m.git.commit({ 'politburo.yml': yaml({ prod: { version: 'v2' } }) });
    const head = m.git.commit({ 'politburo.yml': yaml({ prod: { version: 'v3' } }) });
    await apply(old, { supersedes: [older] });
    assert.equal(m.reporter.latest(old, 'politburo/prod')?.conclusion, 'skipped');
    assert.equal(m.reporter.latest(older, 'politburo/prod')?.conclusion, 'skipped');
    assert.equal(m.reporter.latest(head, 'politburo/prod')?.conclusion, 'success');
    const [run] = await m.state.listRuns({ repository: 'acme/infra' });
    assert.equal(run.commit, head);
    assert.equal(m.git.checkouts, 2, "the job's commit, then the head it applies instead");
  });

  test('an invalid description fails the check with annotations and runs nothing', async () => {
    const bad = m.git.commit({ 'politburo.yml': yaml({ prod: {} }, { broken: true }) });
    await apply(bad);
    const check = m.reporter.latest(bad, 'politburo/prod')!;
    assert.equal(check.conclusion, 'failure');
    assert.ok(check.annotations?.length);
    assert.deepEqual(await runs(), []);
  });

  test('an environment the commit does not describe, or a branch that is gone, fails the check', async () => {
    const sha = m.git.commit({ 'politburo.yml': yaml({ staging: {} }) });
    await apply(sha);
    assert.match(m.reporter.latest(sha, 'politburo/prod')!.summary, /environment prod is not described at/);
    const other = m.git.commit({ 'politburo.yml': yaml({ prod: { branch: 'release' } }) });
    await apply(other);
    assert.match(m.reporter.latest(other, 'politburo/prod')!.summary, /branch release of prod does not exist any more/);
    assert.deepEqual(await runs(), []);
  });

  test('a commit that cannot be read leaves the check queued for the retry, and fails it at the last attempt', async () => {
    const missing = 'f'.repeat(40);
    await assert.rejects(apply(missing));
    assert.equal(m.reporter.latest(missing, 'politburo/prod')?.status, 'queued');
    await assert.rejects(
      runApplyEnvironment(
        m.deps,
        { repo, environment: 'prod', sha: missing, trigger: 'push' },
        {
          job: { attempts: 3, max_attempts: 3 } as any,
        },
      ),
    );
    assert.equal(m.reporter.latest(missing, 'politburo/prod')?.conclusion, 'failure');
  });
});
