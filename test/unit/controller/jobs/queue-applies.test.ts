/**
 * queueApplies' decisions over in-memory ports: which environments a commit affects, superseding of a waiting apply,
 * environments a commit removed, invalid descriptions, and the one checkout of the pushed commit.
 */
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { queueApplies } from '../../../../controller/jobs/queue-applies.js';
import { JOB_APPLY } from '../../../../controller/ports.js';
import { inMemoryJobs, type InMemoryJobs } from '../../../helpers/in-memory-controller.js';
import { appliedNodes, repo, yaml } from './fixtures.js';

describe('queueApplies', () => {
  let m: InMemoryJobs;
  beforeEach(() => {
    m = inMemoryJobs();
  });
  afterEach(async () => {
    await m.close();
  });
  const push = (sha: string, before?: string, branch = 'main') =>
    queueApplies(m.deps, repo, branch, sha, `push ${sha.slice(0, 7)}`, m.deps.logger, before);

  test('only the environments following the pushed branch are planned; their checks are queued first', async () => {
    m.git.commit({ 'politburo.yml': yaml({ prod: {}, staging: { branch: 'develop' } }) });
    const sha = m.git.commit({ 'politburo.yml': yaml({ prod: { version: 'v2' }, staging: { branch: 'develop' } }) });
    const result = await push(sha);
    assert.deepEqual(result, { outcome: 'queued', environments: ['prod'] });
    assert.deepEqual(
      m.queue.jobs(JOB_APPLY).map((j) => [j.payload.environment, j.payload.sha]),
      [['prod', sha]],
    );
    assert.equal(m.reporter.latest(sha, 'politburo/prod')?.status, 'queued');
    assert.deepEqual(m.reporter.names(sha), ['politburo/prod']);
    // One checkout: the pushed commit (nothing recorded is missing from it, so the previous head is not read).
    assert.equal(m.git.checkouts, 1);
  });

  test('an environment whose nodes are applied as described is left alone, but its drift schedule is recorded', async () => {
    const files = { 'politburo.yml': yaml({ prod: { schedule: '0 * * * *' } }) };
    const first = m.git.commit(files);
    m.state.seed('acme/infra', 'prod', await appliedNodes(files, 'prod', first));
    const second = m.git.commit({ 'politburo.yml': yaml({ prod: { schedule: '*/10 * * * *', heal: true } }) });
    assert.deepEqual(await push(second, first), { outcome: 'unchanged', environments: [] });
    assert.deepEqual(m.queue.jobs(), []);
    assert.deepEqual(m.reporter.names(second), []);
    const schedule = m.controllerStore.schedules().get('acme/infra prod');
    assert.deepEqual([schedule?.schedule, schedule?.heal], ['*/10 * * * *', true]);
  });

  test('a newer commit replaces the waiting apply of an older one, which it supersedes', async () => {
    const c1 = m.git.commit({ 'politburo.yml': yaml({ prod: { version: 'v1' } }) });
    await push(c1);
    const c2 = m.git.commit({ 'politburo.yml': yaml({ prod: { version: 'v2' } }) });
    await push(c2, c1);
    const c3 = m.git.commit({ 'politburo.yml': yaml({ prod: { version: 'v3' } }) });
    await push(c3, c2);
    const jobs = m.queue.jobs(JOB_APPLY);
    assert.equal(jobs.length, 1);
    assert.equal(jobs[0].payload.sha, c3);
    assert.deepEqual([...jobs[0].payload.supersedes].sort(), [c1, c2].sort());
    // A redelivered push of the same commit does not supersede itself.
    await push(c3, c2);
    assert.deepEqual([...m.queue.jobs(JOB_APPLY)[0].payload.supersedes].sort(), [c1, c2].sort());
  });

  test('an environment the commit removed is queued for termination while it has nodes on record', async () => {
    const files = { 'politburo.yml': yaml({ prod: {}, extra: {} }) };
    const first = m.git.commit(files);
    m.state.seed('acme/infra', 'prod', await appliedNodes(files, 'prod', first));
    m.state.seed('acme/infra', 'extra', await appliedNodes(files, 'extra', first));
    const removal = m.git.commit({ 'politburo.yml': yaml({ prod: {} }) });
    assert.deepEqual(await push(removal, first), { outcome: 'queued', environments: ['extra'] });
    const [job] = m.queue.jobs(JOB_APPLY);
    assert.deepEqual([job.payload.environment, job.payload.sha, job.payload.describedAt], ['extra', removal, first]);
    assert.equal(m.reporter.latest(removal, 'politburo/extra')?.status, 'queued');
    // The pushed commit, and the previous head to see which branch the removed environment followed.
    assert.equal(m.git.checkouts, 2);
  });

  test('without a previous head, or once its nodes are gone, a removed environment is not terminated', async () => {
    const files = { 'politburo.yml': yaml({ prod: {}, extra: {} }) };
    const first = m.git.commit(files);
    m.state.seed('acme/infra', 'prod', await appliedNodes(files, 'prod', first));
    m.state.seed('acme/infra', 'extra', await appliedNodes(files, 'extra', first));
    const removal = m.git.commit({ 'politburo.yml': yaml({ prod: {} }) });
    assert.deepEqual(await push(removal), { outcome: 'unchanged', environments: [] });
    await m.state.updateNode('acme/infra', 'extra', 'box', { state: 'terminated' });
    assert.deepEqual(await push(removal, first), { outcome: 'unchanged', environments: [] });
    assert.deepEqual(m.queue.jobs(), []);
  });

  test('an environment removed from another branch is not this push’s business', async () => {
    const files = { 'politburo.yml': yaml({ prod: {}, extra: { branch: 'develop' } }) };
    const first = m.git.commit(files);
    m.state.seed('acme/infra', 'prod', await appliedNodes(files, 'prod', first));
    m.state.seed('acme/infra', 'extra', await appliedNodes(files, 'extra', first));
    const removal = m.git.commit({ 'politburo.yml': yaml({ prod: {} }) });
    assert.deepEqual(await push(removal, first), { outcome: 'unchanged', environments: [] });
  });

  test('an invalid description fails the checks of the recorded environments, with annotations; nothing is queued', async () => {
    const files = { 'politburo.yml': yaml({ prod: {} }) };
    const first = m.git.commit(files);
    m.state.seed('acme/infra', 'prod', await appliedNodes(files, 'prod', first));
    const bad = m.git.commit({ 'politburo.yml': yaml({ prod: {} }, { broken: true }) });
    assert.deepEqual(await push(bad, first), { outcome: 'invalid', environments: ['prod'] });
    const check = m.reporter.latest(bad, 'politburo/prod')!;
    assert.equal(check.conclusion, 'failure');
    assert.match(check.title, /^Invalid description: \d+ errors?$/);
    assert.ok(check.annotations?.length && check.annotations[0].path === 'politburo.yml');
    assert.deepEqual(m.queue.jobs(), []);
  });

  test('an invalid description in a repository without recorded environments fails one `politburo` check', async () => {
    const bad = m.git.commit({ 'politburo.yml': yaml({ prod: {} }, { broken: true }) });
    assert.deepEqual(await push(bad), { outcome: 'invalid', environments: [] });
    assert.deepEqual(m.reporter.names(bad), ['politburo']);
    assert.equal(m.reporter.latest(bad, 'politburo')?.conclusion, 'failure');
  });

  test('a repository without politburo.yml, or without an environment on the branch, is not queued', async () => {
    const none = m.git.commit({ 'README.md': 'hello' });
    assert.deepEqual(await push(none), { outcome: 'no-description', environments: [] });
    const other = m.git.commit({ 'politburo.yml': yaml({ staging: { branch: 'develop' } }) });
    assert.deepEqual(await push(other), { outcome: 'no-environment', environments: [] });
    assert.deepEqual(m.queue.jobs(), []);
  });

  test('a redelivered push while its commit is being applied leaves the in-progress check alone', async () => {
    const sha = m.git.commit({ 'politburo.yml': yaml({ prod: {} }) });
    await m.reporter.check(
      { repo, sha, name: 'politburo/prod' },
      { status: 'in_progress', title: 'Applying prod', summary: '' },
    );
    await m.state.startRun({ repository: 'acme/infra', environment: 'prod', commit: sha, kind: 'apply', trigger: 'x' });
    await push(sha);
    assert.equal(m.reporter.latest(sha, 'politburo/prod')?.status, 'in_progress');
    assert.equal(m.queue.jobs(JOB_APPLY).length, 1, 'the apply is still queued (it finds the commit applied)');
  });
});
