// Status at a glance read from a real PostgreSQL: branch heads from pushes and polls, drift checks, policies,
// releases waiting and released, GitHub deployments, and environments described at a push but never applied.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../../../helpers/db.js';
import { createPgStore, type PgStateStore } from '../../../../store/pg-store.js';
import { createStatusReader } from '../../../../controller/dashboard/status-data.js';

const REPO = 'acme/infra';
let db: TestDatabase;
let store: PgStateStore;

before(async () => {
  db = await createTestDatabase();
  store = createPgStore(new pg.Pool({ connectionString: db.url }));
  const q = (sql: string, ...v: unknown[]) => store.pool.query(sql, v);
  const repo = { kind: 'github', owner: 'acme', name: 'infra', cloneUrl: 'https://x', defaultBranch: 'main' };
  for (const env of ['production', 'staging', 'qa'])
    await q(
      `INSERT INTO drift_schedules (repository, environment, schedule, heal, repo) VALUES ($1, $2, '0 * * * *', false, $3)`,
      REPO,
      env,
      JSON.stringify(repo),
    );
  // production: applied at f2aa138, head 9a3400f waits for release; staging: applied at the head; qa: never applied.
  const applyAt = async (repository: string, environment: string, commit: string) => {
    const r = await store.startRun({ repository, environment, commit, kind: 'apply', trigger: 'push' });
    await store.updateNode(repository, environment, 'web-1', {
      state: 'ready',
      runId: r.id,
      applied: { specHash: 'h', tasks: [], commit },
    });
    await store.finishRun(r.id, 'succeeded', { ready: 1 });
  };
  await applyAt(REPO, 'production', 'f2aa138');
  await applyAt(REPO, 'staging', '9a3400f');
  const push = (id: string, ref: string, after: string, outcome: string, at: string) =>
    q(
      `INSERT INTO webhook_deliveries (delivery_id, event, repository, payload, received_at, processed_at, outcome)
       VALUES ($1, 'push', $2, $3, $4, $4, $5)`,
      id,
      REPO,
      JSON.stringify({ ref, after, deleted: false, repository: { full_name: REPO } }),
      at,
      outcome,
    );
  await push('d1', 'refs/heads/main', 'f2aa138', 'queued: production, staging', '2026-01-01T00:00:00Z');
  await push(
    'd2',
    'refs/heads/main',
    '9a3400f',
    'queued: staging; production waits for release',
    '2026-01-02T00:00:00Z',
  );
  await push('d3', 'refs/heads/other', '0000001', 'unchanged', '2026-01-03T00:00:00Z');
  await q(
    `INSERT INTO releases (repository, environment, commit, repo, plan_summary, created_at, released_by, released_at)
     VALUES ($1, 'production', 'f2aa138', '{}', '1 to create', '2026-01-01T00:00:01Z', 'alice', '2026-01-01T01:00:00Z'),
            ($1, 'production', '9a3400f', '{}', '1 to update', '2026-01-02T00:00:01Z', NULL, NULL)`,
    REPO,
  );
  await q(
    `INSERT INTO applied_policies (repository, environment, commit, apply, suspend) VALUES ($1, 'production', 'f2aa138', 'manual', false)`,
    REPO,
  );
  const drift = await store.startRun({
    repository: REPO,
    environment: 'production',
    commit: 'f2aa138',
    kind: 'drift',
    trigger: 'schedule',
  });
  await store.finishRun(drift.id, 'succeeded', { ready: 0, drifted: 1, failed: 0, blocked: 0 });
  const hasDeployments = (await q(`SELECT to_regclass('github_deployments') IS NOT NULL AS ok`)).rows[0].ok;
  if (hasDeployments)
    await q(
      `INSERT INTO github_deployments (repository, environment, commit, deployment_id, state) VALUES ($1, 'staging', '9a3400f', 42, 'success')`,
      REPO,
    );
  // A polled repository: its head comes from poll_heads.
  await applyAt('/srv/ops', 'lab', 'aaaaaaa');
  await q(
    `INSERT INTO drift_schedules (repository, environment, schedule, heal, repo) VALUES ('/srv/ops', 'lab', '0 * * * *', false, $1)`,
    JSON.stringify({ kind: 'polled', location: '/srv/ops', cloneUrl: '/srv/ops', defaultBranch: 'trunk' }),
  );
  await q(`INSERT INTO poll_heads (repository, branch, sha) VALUES ('/srv/ops', 'trunk', 'bbbbbbb')`);
});

after(async () => {
  await store.close();
  await db.drop();
});

test('overview: sync with the branch head, drift, policy, releases, never-applied environments', async () => {
  const reader = createStatusReader(store.pool);
  const all = await reader.overview();
  const by = new Map(all.map((s) => [`${s.repository}:${s.environment}`, s]));
  const production = by.get(`${REPO}:production`)!;
  assert.equal(production.sync, 'waiting-release');
  assert.deepEqual(production.head && { sha: production.head.sha, source: production.head.source }, {
    sha: '9a3400f',
    source: 'push',
  });
  assert.equal(production.applied, 'f2aa138');
  assert.deepEqual(
    production.waiting.map((w) => [w.commit, w.planSummary]),
    [['9a3400f', '1 to update']],
  );
  assert.deepEqual(
    production.released.map((r) => [r.commit, r.by]),
    [['f2aa138', 'alice']],
  );
  assert.deepEqual(production.policy, { apply: 'manual', suspend: false, commit: 'f2aa138' });
  assert.equal(production.lastDrift?.drifted, 1);
  assert.equal(production.lastDrift?.status, 'succeeded');
  const staging = by.get(`${REPO}:staging`)!;
  assert.equal(staging.sync, 'in-sync');
  assert.equal(staging.lastDrift, null);
  const hasDeployments = (await store.pool.query(`SELECT to_regclass('github_deployments') IS NOT NULL AS ok`)).rows[0]
    .ok;
  if (hasDeployments) assert.equal(staging.deployment?.url, 'https://github.com/acme/infra/deployments/staging');
  else assert.equal(staging.deployment, null);
  const qa = by.get(`${REPO}:qa`)!;
  assert.equal(qa.sync, 'never-applied');
  assert.equal(qa.described, true);
  assert.equal(qa.applied, null);
  const lab = by.get('/srv/ops:lab')!;
  assert.deepEqual(
    [lab.branch, lab.head?.sha, lab.head?.source, lab.sync],
    ['trunk', 'bbbbbbb', 'poll', 'out-of-sync'],
  );
});

test('one environment: the branch it follows as described decides which head counts', async () => {
  const reader = createStatusReader(store.pool);
  const other = await reader.environment(REPO, 'staging', 'other');
  assert.equal(other.branch, 'other');
  assert.equal(other.head?.sha, '0000001');
  // That head's push changed nothing for staging: it is in sync with it.
  assert.equal(other.sync, 'in-sync');
  const unknown = await reader.environment(REPO, 'nope');
  assert.equal(unknown.described, false);
  assert.equal(unknown.sync, 'never-applied');
});
