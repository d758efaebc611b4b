// Check runs (App) and commit statuses (token) against the fake GitHub and a real database.
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createWorld, type World } from './setup.js';
import { renderApplyCheck } from '../../../../controller/github/render-apply-check.js';
import { renderPlanCheck } from '../../../../controller/github/render-plan-check.js';

let w: World;
before(async () => {
  w = await createWorld();
});
after(() => w.close());
// GitHub would have refused any request that broke its OpenAPI description or documented limits.
afterEach(() => assert.deepEqual(w.violations(), []));

const SHA = 'a'.repeat(40);

test('a check run is created once, then updated: a push costs two writes', async () => {
  const fake = await w.newFake();
  const reporter = w.reporter(fake);
  const repo = w.repo();
  const ref = { repo, sha: SHA, name: 'politburo/production' };
  await reporter.check(ref, renderApplyCheck(null, { environment: 'production', runUrl: 'https://p.example/runs/1' }));
  assert.equal(await reporter.flush({ timeoutMs: 60_000 }), 0);
  await reporter.check(
    ref,
    renderApplyCheck(
      {
        runId: '1',
        kind: 'apply',
        environment: 'production',
        commit: SHA,
        status: 'succeeded',
        nodes: [{ path: 'web', host: 'h', state: 'ready', tasks: [] }],
        summary: { ready: 1 },
        durationMs: 1000,
      },
      { environment: 'production', runUrl: 'https://p.example/runs/1' },
    ),
  );
  assert.equal(await reporter.flush({ timeoutMs: 60_000 }), 0);
  assert.deepEqual(
    fake.writes().map((r) => r.route),
    ['POST /repos/{owner}/{repo}/check-runs', 'PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}'],
  );
  assert.equal(fake.state.checkRuns.length, 1);
  const run = fake.state.checkRuns[0];
  assert.equal(run.status, 'completed');
  assert.equal(run.conclusion, 'success');
  assert.equal(run.details_url, 'https://p.example/runs/1');
  assert.equal(run.head_sha, SHA);
  // Authenticated with an installation token minted from a verified App JWT.
  assert.ok(
    fake.requests.some(
      (r) =>
        r.route === 'POST /app/installations/{installation_id}/access_tokens' && r.auth === 'app' && r.status === 201,
    ),
  );
  assert.ok(fake.writes().every((r) => r.auth === 'installation' && r.installationId === repo.installationId));
  const { rows } = await w.pool.query(
    'SELECT check_run_id::int AS id, status, conclusion FROM github_checks WHERE repository = $1',
    [`acme/${repo.name}`],
  );
  assert.deepEqual(rows, [{ id: run.id, status: 'completed', conclusion: 'success' }]);
  assert.deepEqual(fake.violations, []);
});

test('pending, in progress and completed reported at once coalesce into one create', async () => {
  const fake = await w.newFake();
  const reporter = w.reporter(fake);
  const ref = { repo: w.repo(), sha: SHA, name: 'politburo/staging' };
  // The queue is held back (not drained) while three updates arrive, as when GitHub is slow.
  await w.pool.query(`INSERT INTO github_write_queues (queue, not_before) VALUES ($1, now() + interval '1 hour')`, [
    `gh:${ref.repo.installationId}`,
  ]);
  await reporter.check(ref, renderApplyCheck(null, { environment: 'staging' }));
  await reporter.check(ref, renderApplyCheck(null, { environment: 'staging', state: 'in_progress' }));
  await reporter.check(ref, { status: 'completed', conclusion: 'failure', title: '1 failed', summary: 'web failed' });
  await w.pool.query('UPDATE github_write_queues SET not_before = now() WHERE queue = $1', [
    `gh:${ref.repo.installationId}`,
  ]);
  assert.equal(await reporter.flush({ timeoutMs: 60_000 }), 0);
  assert.deepEqual(
    fake.writes().map((r) => r.route),
    ['POST /repos/{owner}/{repo}/check-runs'],
  );
  assert.equal(fake.state.checkRuns[0].conclusion, 'failure');
  assert.deepEqual(fake.violations, []);
});

test('more than 50 annotations are paged over several updates, 50 at most per request', async () => {
  const fake = await w.newFake();
  const reporter = w.reporter(fake);
  const errors = Array.from({ length: 120 }, (_, i) => ({
    file: 'politburo.yml',
    line: i + 1,
    column: 2,
    message: `problem ${i + 1}`,
  }));
  const ref = { repo: w.repo(), sha: SHA, name: 'politburo plan production' };
  await reporter.check(ref, renderPlanCheck({ environment: 'production', plan: null, errors }));
  assert.equal(await reporter.flush({ timeoutMs: 60_000 }), 0);
  const writes = fake.writes();
  assert.deepEqual(
    writes.map((r) => [r.method, r.body.output.annotations.length]),
    [
      ['POST', 50],
      ['PATCH', 50],
      ['PATCH', 20],
    ],
  );
  const run = fake.state.checkRuns[0];
  assert.equal(run.annotations.length, 120);
  assert.deepEqual(
    run.annotations.map((a) => a.start_line),
    errors.map((e) => e.line),
  );
  assert.equal(run.annotations[0].annotation_level, 'failure');
  assert.equal(run.conclusion, 'failure');
  assert.deepEqual(fake.violations, []);
});

test('token mode posts commit statuses: pending then success, description within 140 characters', async () => {
  const fake = await w.newFake();
  const reporter = w.reporter(fake, { token: 'ghp_test' });
  assert.equal(reporter.mode, 'token');
  const ref = { repo: { ...w.repo(), installationId: undefined }, sha: SHA, name: 'politburo/production' };
  await reporter.check(ref, renderApplyCheck(null, { environment: 'production', runUrl: 'https://p.example/runs/9' }));
  await reporter.flush({ timeoutMs: 60_000 });
  await reporter.check(ref, {
    status: 'completed',
    conclusion: 'success',
    title: `${'x'.repeat(300)}`,
    summary: 's',
    detailsUrl: 'https://p.example/runs/9',
  });
  await reporter.flush({ timeoutMs: 60_000 });
  assert.deepEqual(
    fake.state.statuses.map((s) => [s.context, s.state, s.target_url]),
    [
      ['politburo/production', 'pending', 'https://p.example/runs/9'],
      ['politburo/production', 'success', 'https://p.example/runs/9'],
    ],
  );
  assert.ok(fake.state.statuses.every((s) => (s.description ?? '').length <= 140));
  assert.ok(fake.writes().every((r) => r.auth === 'token'));
  assert.deepEqual(fake.violations, []);
});

test('superseded and failed applies map to error and failure statuses in token mode', async () => {
  const fake = await w.newFake();
  const reporter = w.reporter(fake, { token: 'ghp_test' });
  const repo = { ...w.repo(), installationId: undefined };
  await reporter.check(
    { repo, sha: SHA, name: 'politburo/production' },
    renderApplyCheck(null, { environment: 'production', supersededBy: 'b'.repeat(40) }),
  );
  await reporter.check(
    { repo, sha: 'c'.repeat(40), name: 'politburo/production' },
    { status: 'completed', conclusion: 'failure', title: '1 failed', summary: '' },
  );
  await reporter.flush({ timeoutMs: 60_000 });
  assert.deepEqual(
    fake.state.statuses.map((s) => [s.sha[0], s.state, s.description]),
    [
      ['a', 'error', 'Superseded by bbbbbbb'],
      ['c', 'failure', '1 failed'],
    ],
  );
  assert.deepEqual(fake.violations, []);
});

test('annotations are never sent twice: not on a retry in the middle of paging, not on a re-plan of the same commit', async () => {
  const fake = await w.newFake();
  const reporter = w.reporter(fake, { retry: { retries: 0 } });
  const errors = Array.from({ length: 75 }, (_, i) => ({
    file: 'politburo.yml',
    line: i + 1,
    column: 1,
    message: `problem ${i + 1}`,
  }));
  const ref = { repo: w.repo(), sha: SHA, name: 'politburo plan qa' };
  // The second page fails once: the retry sends only what the check run does not have yet.
  fake.failNext({ method: 'PATCH', route: /check-runs/, status: 500 });
  await reporter.check(ref, renderPlanCheck({ environment: 'qa', plan: null, errors }));
  assert.equal(await reporter.flush({ timeoutMs: 60_000 }), 0);
  await reporter.check(ref, renderPlanCheck({ environment: 'qa', plan: null, errors }));
  assert.equal(await reporter.flush({ timeoutMs: 60_000 }), 0);
  const run = fake.state.checkRuns[0];
  assert.equal(fake.state.checkRuns.length, 1);
  assert.equal(run.annotations.length, 75);
  assert.deepEqual(
    fake.writes().map((r) => [r.method, r.status, r.body.output.annotations?.length ?? 0]),
    [
      ['POST', 201, 50],
      ['PATCH', 500, 25],
      ['PATCH', 200, 25],
      ['PATCH', 200, 0],
    ],
  );
  assert.deepEqual(fake.violations, []);
});

test('writes of one installation go out in the order they were reported', async () => {
  const fake = await w.newFake();
  const reporter = w.reporter(fake);
  const repo = w.repo();
  const queue = `gh:${repo.installationId}`;
  await w.pool.query(`INSERT INTO github_write_queues (queue, not_before) VALUES ($1, now() + interval '1 hour')`, [
    queue,
  ]);
  // Enough writes that ids cross 9 → 10 and 99 → 100 (which sort wrongly as text).
  for (let i = 1; i <= 25; i++) await reporter.stickyComment(repo, i, `plan ${i}`);
  await w.pool.query('UPDATE github_write_queues SET not_before = now() WHERE queue = $1', [queue]);
  assert.equal(await reporter.flush({ timeoutMs: 60_000 }), 0);
  assert.deepEqual(
    fake.state.comments.map((c) => c.issue_number),
    Array.from({ length: 25 }, (_, i) => i + 1),
  );
});

test('App mode without a known installation id looks the installation up', async () => {
  const fake = await w.newFake();
  const reporter = w.reporter(fake);
  const repo = { ...w.repo(), installationId: undefined };
  await reporter.check(
    { repo, sha: SHA, name: 'politburo/production' },
    renderApplyCheck(null, { environment: 'production' }),
  );
  assert.equal(await reporter.flush({ timeoutMs: 60_000 }), 0);
  assert.ok(
    fake.requests.some(
      (r) => r.route === 'GET /repos/{owner}/{repo}/installation' && r.auth === 'app' && r.status === 200,
    ),
  );
  assert.equal(fake.state.checkRuns.length, 1);
  assert.equal(fake.writes()[0].auth, 'installation');
});

test('checkCompleted answers from the check as last reported, before GitHub has it', async () => {
  const fake = await w.newFake();
  const reporter = w.reporter(fake);
  const repo = w.repo();
  const ref = { repo, sha: SHA, name: 'politburo/production' };
  const other = { repo, sha: SHA, name: 'politburo/staging' };
  assert.equal(await reporter.checkCompleted(ref), false, 'never reported');
  await reporter.check(ref, renderApplyCheck(null, { environment: 'production' }));
  assert.equal(await reporter.checkCompleted(ref), false, 'queued');
  await reporter.check(ref, { status: 'completed', conclusion: 'cancelled', title: 'Superseded', summary: 'by b' });
  assert.equal(await reporter.checkCompleted(ref), true, 'completed, whatever the conclusion and whether sent yet');
  assert.equal(await reporter.checkCompleted(other), false, 'another check of the same commit');
  assert.equal(await reporter.flush({ timeoutMs: 60_000 }), 0);
  assert.equal(fake.state.checkRuns[0].conclusion, 'cancelled');
});
