// The write path under failure: 5xx, rate limits, GitHub down, crashes (stale checks), several processes.
import { waitFor } from '../../../helpers/wait-for.js';
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { createWorld, logs, type World } from './setup.js';
import { renderApplyCheck } from '../../../../controller/github/render-apply-check.js';
import { finishStaleChecks, INTERRUPTED_SUMMARY } from '../../../../controller/github/finish-stale-checks.js';
import { addJob } from '../../../../controller/store/graphile-queue.js';

let w: World;
before(async () => {
  w = await createWorld();
});
after(() => w.close());
// GitHub would have refused any request that broke its OpenAPI description or documented limits.
afterEach(() => assert.deepEqual(w.violations(), []));

const SHA = 'e'.repeat(40);
const done = { status: 'completed' as const, conclusion: 'success' as const, title: '2 ready', summary: 'ok' };

test('a 5xx is retried by octokit and the check is still created once', async () => {
  const fake = await w.newFake();
  const reporter = w.reporter(fake);
  fake.failNext({ method: 'POST', route: '/repos/{owner}/{repo}/check-runs', status: 502, message: 'Bad Gateway' });
  await reporter.check(
    { repo: w.repo(), sha: SHA, name: 'politburo/production' },
    renderApplyCheck(null, { environment: 'production' }),
  );
  assert.equal(await reporter.flush({ timeoutMs: 60_000 }), 0);
  assert.deepEqual(
    fake.writes().map((r) => r.status),
    [502, 201],
  );
  assert.equal(fake.state.checkRuns.length, 1);
  assert.deepEqual(fake.violations, []);
});

test('GitHub down: reporting never throws, the write is kept and sent once GitHub is back', async () => {
  const fake = await w.newFake();
  const reporter = w.reporter(fake);
  const repo = w.repo();
  fake.failNext({ route: /check-runs/, status: 503, times: 6 });
  await reporter.check({ repo, sha: SHA, name: 'politburo/production' }, done);
  assert.equal(await reporter.flush({ timeoutMs: 150 }), 1, 'still queued after octokit gave up');
  const { rows } = await w.pool.query(`SELECT attempts, last_error FROM github_writes WHERE key LIKE $1`, [
    `check:acme/${repo.name}:%`,
  ]);
  assert.ok(rows[0].attempts >= 1);
  assert.ok(logs.some((l) => l.level === 'warn' && /will retry/.test(l.msg ?? '')));
  assert.equal(await reporter.flush({ timeoutMs: 60_000 }), 0, 'sent after backoff');
  assert.equal(fake.state.checkRuns.length, 1);
  assert.equal(fake.state.checkRuns[0].conclusion, 'success');
  assert.deepEqual(fake.violations, []);
});

test('a write GitHub refuses for good (4xx) is logged, kept as failed and does not block the queue', async () => {
  const fake = await w.newFake();
  const reporter = w.reporter(fake);
  const repo = w.repo();
  fake.failNext({
    route: '/repos/{owner}/{repo}/issues/{issue_number}/comments',
    method: 'POST',
    status: 410,
    message: 'Gone',
  });
  await reporter.stickyComment(repo, 5, 'plan');
  await reporter.check({ repo, sha: SHA, name: 'politburo/production' }, done);
  assert.equal(await reporter.flush({ timeoutMs: 60_000 }), 0);
  assert.equal(fake.state.checkRuns.length, 1, 'the next write went out');
  const { rows } = await w.pool.query(
    `SELECT kind, last_error FROM github_writes WHERE failed_at IS NOT NULL AND key LIKE $1`,
    [`%acme/${repo.name}%`],
  );
  assert.deepEqual(
    rows.map((r) => r.kind),
    ['comment'],
  );
  assert.ok(logs.some((l) => l.level === 'error' && /refused/.test(l.msg ?? '')));
});

test('the database unreachable: reporting never throws, it logs', async () => {
  const fake = await w.newFake();
  const { createGitHubReporter } = await import('../../../../controller/github/reporter.js');
  const pg = (await import('pg')).default;
  const pool = new pg.Pool({ connectionString: 'postgres://nobody@127.0.0.1:1/none', connectionTimeoutMillis: 500 });
  const errors: string[] = [];
  const reporter = createGitHubReporter({
    pool,
    auth: { token: 't' },
    baseUrl: fake.url,
    start: false,
    logger: { info() {}, warn() {}, error: (_o, msg) => errors.push(msg ?? '') },
  });
  await reporter.check({ repo: w.repo(), sha: SHA, name: 'politburo/production' }, done);
  await reporter.stickyComment(w.repo(), 1, 'x');
  assert.equal(errors.length, 2);
  assert.match(errors[0], /could not queue the GitHub check/);
  await reporter.close();
  await pool.end();
});

test('retry-after is honoured: nothing is sent to the installation before it passes', async () => {
  const fake = await w.newFake();
  const reporter = w.reporter(fake);
  const repo = w.repo();
  fake.failNext({
    route: /check-runs/,
    status: 403,
    message: 'You have exceeded a secondary rate limit',
    headers: { 'retry-after': '1' },
  });
  await reporter.check({ repo, sha: SHA, name: 'politburo/production' }, done);
  await reporter.check({ repo, sha: 'f'.repeat(40), name: 'politburo/production' }, done);
  assert.equal(await reporter.flush({ timeoutMs: 60_000 }), 0);
  const writes = fake.writes();
  assert.deepEqual(
    writes.map((r) => r.status),
    [403, 201, 201],
  );
  assert.ok(writes[1].at - writes[0].at >= 950, `waited ${writes[1].at - writes[0].at} ms`);
  assert.deepEqual(fake.violations, []);
});

test('x-ratelimit-remaining: 0 pauses the queue until x-ratelimit-reset', async () => {
  const fake = await w.newFake();
  const reporter = w.reporter(fake);
  const repo = w.repo();
  const reset = Math.ceil(Date.now() / 1000) + 1;
  fake.failNext({
    route: /check-runs/,
    status: 403,
    message: 'API rate limit exceeded',
    headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(reset) },
  });
  await reporter.check({ repo, sha: SHA, name: 'politburo/production' }, done);
  assert.equal(await reporter.flush({ timeoutMs: 60_000 }), 0);
  const writes = fake.writes();
  assert.deepEqual(
    writes.map((r) => r.status),
    [403, 201],
  );
  assert.ok(writes[1].at >= reset * 1000, 'not before the reset');
});

test('the rate limit is shared: another process does not send while the queue waits', async () => {
  const fake = await w.newFake();
  const one = w.reporter(fake);
  const two = w.reporter(fake);
  const repo = w.repo();
  fake.failNext({ route: /check-runs/, status: 429, message: 'Too many requests', headers: { 'retry-after': '1' } });
  await one.check({ repo, sha: SHA, name: 'politburo/production' }, done);
  await one.flush({ timeoutMs: 100 });
  const started = Date.now();
  await two.check({ repo, sha: 'f'.repeat(40), name: 'politburo/production' }, done);
  await two.writes.drainAll();
  assert.equal(fake.writes().length, 1, 'the second process waited too');
  assert.equal(await two.flush({ timeoutMs: 60_000 }), 0);
  assert.ok(Date.now() - started >= 800);
  assert.deepEqual(
    fake.writes().map((r) => r.status),
    [429, 201, 201],
  );
});

test('several processes reporting at once: every check created exactly once', async () => {
  const fake = await w.newFake();
  const reporters = [w.reporter(fake), w.reporter(fake), w.reporter(fake)];
  const repo = w.repo();
  await Promise.all(
    reporters.flatMap((r, i) =>
      [0, 1, 2, 3].map((j) => r.check({ repo, sha: SHA, name: `politburo/env-${j}` }, { ...done, title: `from ${i}` })),
    ),
  );
  await Promise.all(reporters.map((r) => r.flush({ timeoutMs: 60_000 })));
  assert.equal(fake.state.checkRuns.length, 4);
  assert.ok(fake.writes().length <= 12);
  assert.deepEqual(fake.violations, []);
});

test('a push costs at most 3 writes per environment: create pending, progress, final', async () => {
  const fake = await w.newFake();
  const reporter = w.reporter(fake);
  const repo = w.repo();
  for (const env of ['production', 'staging']) {
    const ref = { repo, sha: SHA, name: `politburo/${env}` };
    await reporter.check(ref, renderApplyCheck(null, { environment: env }));
    await reporter.flush({ timeoutMs: 60_000 });
    await reporter.check(ref, renderApplyCheck(null, { environment: env, state: 'in_progress' }));
    await reporter.check(ref, { ...done, title: `${env} done` });
    await reporter.flush({ timeoutMs: 60_000 });
  }
  assert.equal(fake.state.checkRuns.length, 2);
  for (const c of fake.state.checkRuns) {
    const writes = fake
      .writes()
      .filter((r) => r.path.endsWith(`/check-runs/${c.id}`) || (r.method === 'POST' && r.body?.name === c.name));
    assert.ok(writes.length >= 2 && writes.length <= 3, `${c.name}: ${writes.length} writes`);
    assert.equal(writes[0].method, 'POST');
  }
  assert.ok(fake.state.checkRuns.every((c) => c.status === 'completed'));
});

test('finishStaleChecks completes checks left pending by a crash as cancelled ("interrupted")', async () => {
  const fake = await w.newFake();
  const crashed = w.reporter(fake);
  const repo = w.repo();
  await crashed.check(
    { repo, sha: SHA, name: 'politburo/production' },
    renderApplyCheck(null, { environment: 'production', runUrl: 'https://p.example/runs/3' }),
  );
  await crashed.check(
    { repo, sha: SHA, name: 'politburo/staging' },
    renderApplyCheck(null, { environment: 'staging' }),
  );
  await crashed.check({ repo, sha: SHA, name: 'politburo/qa' }, done);
  await crashed.flush({ timeoutMs: 60_000 });
  await crashed.close();
  // Back-date instead of waiting: the checks are old, and their jobs are gone.
  await w.pool.query(`UPDATE github_checks SET updated_at = now() - interval '10 minutes' WHERE repository = $1`, [
    `acme/${repo.name}`,
  ]);
  const restarted = w.reporter(fake);
  const finished = await finishStaleChecks(w.pool, restarted, { isActive: (c) => c.name === 'politburo/staging' });
  assert.equal(finished, 1);
  await restarted.flush({ timeoutMs: 60_000 });
  const prod = fake.state.checkRuns.find((c) => c.name === 'politburo/production')!;
  assert.equal(prod.conclusion, 'cancelled');
  assert.equal(prod.output.summary, INTERRUPTED_SUMMARY);
  assert.equal(prod.details_url, 'https://p.example/runs/3');
  assert.equal(
    fake.state.checkRuns.find((c) => c.name === 'politburo/staging')!.status,
    'queued',
    'an active job keeps its check',
  );
  assert.equal(fake.state.checkRuns.length, 3, 'updated, not created again');
  // Without graphile-worker jobs, the default treats every old pending check as gone.
  assert.equal(await finishStaleChecks(w.pool, restarted), 1);
  assert.equal(await finishStaleChecks(w.pool, restarted), 0);
  assert.deepEqual(fake.violations, []);
});

test('the sweep sends writes another process left behind', async () => {
  const fake = await w.newFake();
  const dead = w.reporter(fake);
  const repo = w.repo();
  await w.pool.query(
    // The queue waits (as after a rate limit) long enough that the reporting process stops before it could send.
    `INSERT INTO github_write_queues (queue, not_before) VALUES ($1, now() + interval '3 seconds')`,
    [`gh:${repo.installationId}`],
  );
  await dead.check({ repo, sha: SHA, name: 'politburo/production' }, done);
  await dead.close();
  assert.equal(fake.state.checkRuns.length, 0, 'the process that reported stopped before sending');
  const other = w.reporter(fake);
  await waitFor('the other reporter to send the write left behind', async () => {
    await other.writes.drainAll();
    return fake.state.checkRuns.length === 1;
  });
  await other.close();
});

test('with octokit throttling on (production setting) and a GitHub Enterprise /api/v3 base URL, writes still go out', async () => {
  const fake = await w.newFake();
  const reporter = w.reporter(fake, { throttle: true, baseUrl: `${fake.url}/api/v3` });
  const repo = w.repo();
  await reporter.check(
    { repo, sha: SHA, name: 'politburo/production' },
    renderApplyCheck(null, { environment: 'production' }),
  );
  await reporter.check({ repo, sha: SHA, name: 'politburo/production' }, done);
  assert.equal(await reporter.flush({ timeoutMs: 60_000 }), 0);
  assert.equal(fake.state.checkRuns[0].conclusion, 'success');
  assert.ok(fake.requests.every((r) => r.status < 400));
});

test('finishStaleChecks by default keeps checks whose graphile-worker apply or plan job still exists', async () => {
  const { runMigrations } = await import('graphile-worker');
  await runMigrations({ pgPool: w.pool });
  const fake = await w.newFake();
  const reporter = w.reporter(fake);
  const repo = w.repo();
  const queued = '01'.repeat(20);
  await reporter.check(
    { repo, sha: queued, name: 'politburo/production' },
    renderApplyCheck(null, { environment: 'production' }),
  );
  await reporter.check(
    { repo, sha: queued, name: 'politburo plan production' },
    { status: 'in_progress', title: 'Planning', summary: '' },
  );
  await reporter.check(
    { repo, sha: SHA, name: 'politburo/production' },
    renderApplyCheck(null, { environment: 'production' }),
  );
  await reporter.flush({ timeoutMs: 60_000 });
  await w.pool.query(`UPDATE github_checks SET updated_at = now() - interval '10 minutes' WHERE repository = $1`, [
    `acme/${repo.name}`,
  ]);
  await addJob(w.pool, 'apply-environment', { repo, environment: 'production', sha: queued, trigger: 'push' });
  assert.equal(await finishStaleChecks(w.pool, reporter), 1);
  await reporter.flush({ timeoutMs: 60_000 });
  assert.deepEqual(
    fake.state.checkRuns.map((c) => [c.head_sha === SHA ? 'gone' : 'queued', c.name, c.conclusion]).sort(),
    [
      ['gone', 'politburo/production', 'cancelled'],
      ['queued', 'politburo plan production', null],
      ['queued', 'politburo/production', null],
    ],
  );
});

test('a successful response saying the rate limit is used up pauses the queue until the reset', async () => {
  const fake = await w.newFake();
  const reporter = w.reporter(fake);
  const repo = w.repo();
  const reset = Math.ceil(Date.now() / 1000) + 1;
  fake.rateLimit = { remaining: 0, reset };
  await reporter.check({ repo, sha: SHA, name: 'politburo/production' }, done);
  await reporter.writes.drainAll();
  fake.rateLimit = { remaining: 4000 };
  await reporter.check({ repo, sha: 'f'.repeat(40), name: 'politburo/production' }, done);
  await reporter.writes.drainAll();
  assert.equal(fake.writes().length, 1, 'the second write waits for the reset');
  assert.equal(await reporter.flush({ timeoutMs: 60_000 }), 0);
  const writes = fake.writes();
  assert.equal(writes.length, 2);
  assert.ok(writes[1].at >= reset * 1000, 'sent after the reset');
});

test('many installations draining at once on a small pool: each drain uses one connection, no deadlock', async () => {
  const pg = (await import('pg')).default;
  const small = new pg.Pool({ connectionString: w.db.url, max: 2 });
  const fake = await w.newFake();
  const reporter = w.reporter(fake, { pool: small });
  const repos = Array.from({ length: 6 }, () => w.repo());
  await Promise.all(repos.map((repo) => reporter.check({ repo, sha: SHA, name: 'politburo/production' }, done)));
  await Promise.all(repos.map((repo) => reporter.stickyComment(repo, 1, 'plan')));
  assert.equal(await reporter.flush({ timeoutMs: 60_000 }), 0);
  assert.equal(fake.state.checkRuns.length, 6);
  assert.equal(fake.state.comments.length, 6);
  await reporter.close();
  await small.end();
});

test('the database away while a check is reported: storing the write is tried again, and the check is sent once', async () => {
  const fake = await w.newFake();
  const reporter = w.reporter(fake);
  const repo = w.repo();
  const name = new URL(w.db.url).pathname.slice(1);
  const admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
  await admin.connect();
  try {
    await admin.query(`ALTER DATABASE ${pg.escapeIdentifier(name)} ALLOW_CONNECTIONS false`);
    await admin.query(
      'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
      [name],
    );
    const reported = reporter.check({ repo, sha: SHA, name: 'politburo/production' }, done);
    const waiting = () =>
      logs.some(
        (l) =>
          l.level === 'warn' &&
          /could not queue the GitHub check yet/.test(l.msg ?? '') &&
          (l.obj as { repo?: string }).repo === `acme/${repo.name}`,
      );
    for (let i = 0; i < 600 && !waiting(); i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(waiting(), 'the first attempt failed while the database refused connections');
    await admin.query(`ALTER DATABASE ${pg.escapeIdentifier(name)} ALLOW_CONNECTIONS true`);
    await reported;
  } finally {
    await admin.query(`ALTER DATABASE ${pg.escapeIdentifier(name)} ALLOW_CONNECTIONS true`);
    await admin.end();
  }
  assert.equal(await reporter.flush({ timeoutMs: 30_000 }), 0);
  assert.equal(fake.state.checkRuns.length, 1);
  assert.equal(fake.state.checkRuns[0].conclusion, 'success');
  assert.ok(
    !logs.some((l) => l.level === 'error' && /could not queue the GitHub check; it will not be sent/.test(l.msg ?? '')),
  );
});
