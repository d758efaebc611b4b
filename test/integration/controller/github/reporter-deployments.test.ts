// GitHub Deployments (docs/controller.md, "Deployments on GitHub") through the durable write queue, against the fake
// GitHub (validated against GitHub's OpenAPI description) and a real database.
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createWorld, logs, type World } from './setup.js';
import { finishStaleChecks } from '../../../../controller/github/finish-stale-checks.js';
import { renderApplyCheck } from '../../../../controller/github/render-apply-check.js';
import type { DeploymentUpdate } from '../../../../controller/ports.js';

let w: World;
before(async () => {
  w = await createWorld();
});
after(() => w.close());
afterEach(() => assert.deepEqual(w.violations(), []));

const SHA = 'd'.repeat(40);
const RUN = 'https://p.example/runs/7';
const ENV_PAGE = 'https://p.example/environments/acme%2Finfra/production';

const queued: DeploymentUpdate = { state: 'queued', description: 'Waiting to apply production', trigger: 'push' };
const inProgress: DeploymentUpdate = {
  state: 'in_progress',
  description: 'Applying production',
  logUrl: ENV_PAGE,
  environmentUrl: ENV_PAGE,
};
const succeeded: DeploymentUpdate = {
  state: 'success',
  description: 'Applied production: 2 ready',
  logUrl: RUN,
  environmentUrl: ENV_PAGE,
  runId: '7',
};

const DEPLOYMENTS = 'POST /repos/{owner}/{repo}/deployments';
const STATUSES = 'POST /repos/{owner}/{repo}/deployments/{deployment_id}/statuses';

test('an apply is one deployment: created queued (no status), then in_progress, then success', async () => {
  const fake = await w.newFake();
  const reporter = w.reporter(fake);
  const repo = w.repo();
  const ref = { repo, environment: 'production', sha: SHA };
  // Politburo's own check is pending on the commit: GitHub would answer 409 without `required_contexts: []`.
  await reporter.check({ repo, sha: SHA, name: 'politburo/production' }, renderApplyCheck(null, { environment: 'x' }));
  for (const update of [queued, inProgress, succeeded]) {
    await reporter.deployment!(ref, update);
    assert.equal(await reporter.flush({ timeoutMs: 60_000 }), 0);
  }
  const writes = fake.writes().filter((r) => r.route !== 'POST /repos/{owner}/{repo}/check-runs');
  assert.deepEqual(
    writes.map((r) => [r.route, r.status]),
    [
      [DEPLOYMENTS, 201],
      [STATUSES, 201],
      [STATUSES, 201],
    ],
  );
  assert.deepEqual(writes[0].body, {
    ref: SHA,
    environment: 'production',
    description: 'Waiting to apply production',
    required_contexts: [],
    auto_merge: false,
    transient_environment: false,
    production_environment: true,
    payload: { politburo: { environment: 'production', trigger: 'push' } },
  });
  assert.equal(fake.state.deployments.length, 1);
  const [d] = fake.state.deployments;
  assert.equal(d.environment, 'production');
  assert.equal(d.sha, SHA);
  assert.deepEqual(
    d.statuses.map((s) => [s.state, s.description, s.log_url, s.environment_url]),
    [
      ['in_progress', 'Applying production', ENV_PAGE, ENV_PAGE],
      ['success', 'Applied production: 2 ready', RUN, ENV_PAGE],
    ],
  );
  const { rows } = await w.pool.query(
    'SELECT deployment_id::int AS id, state, log_url, refused FROM github_deployments WHERE commit = $1',
    [SHA],
  );
  assert.deepEqual(rows, [{ id: d.id, state: 'success', log_url: RUN, refused: null }]);
});

test('writes not yet sent are coalesced: the deployment is created and given its latest state only', async () => {
  const fake = await w.newFake();
  const reporter = w.reporter(fake);
  const repo = w.repo();
  const ref = { repo, environment: 'staging', sha: SHA };
  // The installation's queue is held (as a rate limit holds it) while the three are reported.
  const queue = `gh:${repo.installationId}`;
  await w.pool.query("INSERT INTO github_write_queues (queue, not_before) VALUES ($1, now() + interval '1 hour')", [
    queue,
  ]);
  for (const update of [queued, inProgress, { ...succeeded, state: 'failure' as const }])
    await reporter.deployment!(ref, update);
  await w.pool.query('UPDATE github_write_queues SET not_before = now() WHERE queue = $1', [queue]);
  assert.equal(await reporter.flush({ timeoutMs: 60_000 }), 0);
  assert.deepEqual(
    fake.writes().map((r) => r.route),
    [DEPLOYMENTS, STATUSES],
  );
  const [d] = fake.state.deployments;
  assert.equal(d.production_environment, false);
  assert.deepEqual(
    d.statuses.map((s) => s.state),
    ['failure'],
  );
});

test('a waiting deployment (pending) moves on when released; the same state is not sent twice', async () => {
  const fake = await w.newFake();
  const reporter = w.reporter(fake);
  const ref = { repo: w.repo(), environment: 'production', sha: SHA };
  const waiting: DeploymentUpdate = { state: 'pending', description: 'Waiting for release', logUrl: ENV_PAGE };
  await reporter.deployment!(ref, waiting);
  await reporter.flush({ timeoutMs: 60_000 });
  await reporter.deployment!(ref, waiting); // a redelivered push
  await reporter.flush({ timeoutMs: 60_000 });
  // Another process (another reporter, same database) sends the release's statuses to the same deployment.
  const other = w.reporter(fake);
  await other.deployment!(ref, inProgress);
  await other.flush({ timeoutMs: 60_000 });
  await other.deployment!(ref, succeeded);
  await other.flush({ timeoutMs: 60_000 });
  assert.equal(fake.state.deployments.length, 1);
  assert.deepEqual(
    fake.state.deployments[0].statuses.map((s) => s.state),
    ['pending', 'in_progress', 'success'],
  );
  assert.equal(fake.writes().length, 4);
});

test('a deployment created but not recorded (the process died) is found again, not created twice', async () => {
  const fake = await w.newFake();
  const reporter = w.reporter(fake);
  const repo = w.repo();
  const ref = { repo, environment: 'production', sha: SHA };
  await reporter.deployment!(ref, queued);
  await reporter.flush({ timeoutMs: 60_000 });
  await w.pool.query('DELETE FROM github_deployments WHERE repository = $1', [`${repo.owner}/${repo.name}`]);
  await reporter.deployment!(ref, inProgress);
  await reporter.flush({ timeoutMs: 60_000 });
  assert.equal(fake.state.deployments.length, 1);
  assert.deepEqual(
    fake.state.deployments[0].statuses.map((s) => s.state),
    ['in_progress'],
  );
  assert.ok(fake.requests.some((r) => r.route === 'GET /repos/{owner}/{repo}/deployments' && r.status === 200));
});

test('a superseded commit whose deployment was never created gets none: inactive sends nothing', async () => {
  const fake = await w.newFake();
  const reporter = w.reporter(fake);
  await reporter.deployment!(
    { repo: w.repo(), environment: 'production', sha: SHA },
    {
      state: 'inactive',
      description: 'Superseded by 1234567',
    },
  );
  assert.equal(await reporter.flush({ timeoutMs: 60_000 }), 0);
  assert.deepEqual(fake.writes(), []);
});

for (const [status, message] of [
  [409, 'Conflict: Commit status checks failed for main.'],
  [422, 'Validation Failed'],
  [403, 'Resource not accessible by integration'],
] as const)
  test(`GitHub answering ${status} to the deployment is logged and recorded; its statuses are not sent`, async () => {
    const fake = await w.newFake();
    const reporter = w.reporter(fake);
    const repo = w.repo();
    const ref = { repo, environment: 'production', sha: SHA };
    fake.failNext({ method: 'POST', route: '/repos/{owner}/{repo}/deployments', status, message });
    logs.length = 0;
    await reporter.deployment!(ref, queued);
    assert.equal(await reporter.flush({ timeoutMs: 60_000 }), 0);
    await reporter.deployment!(ref, inProgress);
    await reporter.deployment!(ref, succeeded);
    assert.equal(await reporter.flush({ timeoutMs: 60_000 }), 0, 'nothing left in the queue');
    assert.deepEqual(
      fake.writes().map((r) => [r.route, r.status]),
      [[DEPLOYMENTS, status]],
    );
    const warning = logs.find((l) => l.level === 'warn' && /GitHub refused the deployment/.test(l.msg ?? ''));
    assert.ok(warning, 'a warning says so');
    assert.match(JSON.stringify(warning.obj), new RegExp(`GitHub answered ${status}`));
    if (status === 403) assert.match(JSON.stringify(warning.obj), /Deployments permission/);
    const { rows } = await w.pool.query('SELECT deployment_id, refused FROM github_deployments WHERE repository = $1', [
      `${repo.owner}/${repo.name}`,
    ]);
    assert.equal(rows[0].deployment_id, null);
    assert.match(rows[0].refused, new RegExp(String(status)));
    const failed = await w.pool.query("SELECT count(*)::int AS n FROM github_writes WHERE kind = 'deployment'");
    assert.equal(failed.rows[0].n, 0, 'no write is left failed: the refusal is an outcome');
  });

test('a 5xx or a rate limit on the deployment is retried by the queue, not recorded as refused', async () => {
  const fake = await w.newFake();
  const reporter = w.reporter(fake);
  const ref = { repo: w.repo(), environment: 'production', sha: SHA };
  fake.failNext({ method: 'POST', route: '/repos/{owner}/{repo}/deployments', status: 502, times: 3 });
  fake.failNext({
    method: 'POST',
    route: '/repos/{owner}/{repo}/deployments',
    status: 403,
    message: 'You have exceeded a secondary rate limit',
    headers: { 'retry-after': '1' },
  });
  await reporter.deployment!(ref, queued);
  assert.equal(await reporter.flush({ timeoutMs: 60_000 }), 0);
  assert.equal(fake.state.deployments.length, 1);
});

test('the description is cut to the 140 characters GitHub accepts', async () => {
  const fake = await w.newFake();
  const reporter = w.reporter(fake);
  const ref = { repo: w.repo(), environment: 'production', sha: SHA };
  await reporter.deployment!(ref, { ...succeeded, description: `Applied production: ${'x'.repeat(300)}` });
  assert.equal(await reporter.flush({ timeoutMs: 60_000 }), 0);
  const status = fake.state.deployments[0].statuses[0];
  assert.equal(status.description.length, 140);
  assert.ok(status.description.endsWith('…'));
});

test('GitHub marks an earlier successful deployment of a non-production environment inactive (auto_inactive)', async () => {
  const fake = await w.newFake();
  const reporter = w.reporter(fake);
  const repo = w.repo();
  for (const sha of ['1'.repeat(40), '2'.repeat(40)]) {
    await reporter.deployment!({ repo, environment: 'staging', sha }, succeeded);
    await reporter.flush({ timeoutMs: 60_000 });
  }
  assert.deepEqual(
    fake.state.deployments.map((d) => d.statuses.map((s) => s.state)),
    [['success', 'inactive'], ['success']],
  );
});

test('an apply check left pending by a crash is finished, and its deployment ends error', async () => {
  const fake = await w.newFake();
  const crashed = w.reporter(fake);
  const repo = w.repo();
  await crashed.check(
    { repo, sha: SHA, name: 'politburo/production' },
    renderApplyCheck(null, { environment: 'production', state: 'in_progress' }),
  );
  await crashed.deployment!({ repo, environment: 'production', sha: SHA }, inProgress);
  await crashed.flush({ timeoutMs: 60_000 });
  await crashed.close();
  // Back-date instead of waiting: the check is old, and its job is gone.
  await w.pool.query(`UPDATE github_checks SET updated_at = now() - interval '10 minutes' WHERE repository = $1`, [
    `acme/${repo.name}`,
  ]);
  const restarted = w.reporter(fake);
  assert.equal(await finishStaleChecks(w.pool, restarted, { isActive: () => false }), 1);
  assert.equal(await restarted.flush({ timeoutMs: 60_000 }), 0);
  assert.equal(fake.state.deployments.length, 1);
  const [d] = fake.state.deployments;
  assert.deepEqual(
    d.statuses.map((s) => s.state),
    ['in_progress', 'error'],
  );
  assert.equal(d.statuses[1].description, 'Apply of production did not finish: Interrupted');
});

test('with a token instead of an App, deployments are the same', async () => {
  const fake = await w.newFake();
  const reporter = w.reporter(fake, { token: 'ghp_deployments' });
  const ref = { repo: w.repo(), environment: 'production', sha: SHA };
  for (const update of [queued, inProgress, succeeded]) {
    await reporter.deployment!(ref, update);
    assert.equal(await reporter.flush({ timeoutMs: 60_000 }), 0);
  }
  assert.ok(fake.writes().every((r) => r.auth === 'token'));
  assert.deepEqual(
    fake.state.deployments.map((d) => d.statuses.map((s) => s.state)),
    [['in_progress', 'success']],
  );
});

test('the fake, like GitHub, refuses (409) a deployment of a commit with a pending check unless required_contexts says', async () => {
  const fake = await w.newFake();
  const reporter = w.reporter(fake);
  const repo = w.repo();
  await reporter.check({ repo, sha: SHA, name: 'politburo/production' }, renderApplyCheck(null, { environment: 'x' }));
  await reporter.flush({ timeoutMs: 60_000 });
  const create = (body: object) =>
    fetch(`${fake.url}/repos/${repo.owner}/${repo.name}/deployments`, {
      method: 'POST',
      headers: { authorization: 'token ghp_any', 'content-type': 'application/json' },
      body: JSON.stringify({ ref: SHA, environment: 'production', ...body }),
    });
  assert.equal((await create({})).status, 409);
  assert.equal((await create({ required_contexts: ['politburo/production'] })).status, 409);
  assert.equal((await create({ required_contexts: [] })).status, 201);
});
