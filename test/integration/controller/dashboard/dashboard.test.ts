// The dashboard against a real PostgreSQL with seeded runs: pages, JSON endpoints, escaping and access control.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import express from 'express';
import request from 'supertest';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../../../helpers/db.js';
import { createPgStore, type PgStateStore } from '../../../../store/pg-store.js';
import { loadDescription } from '../../../../schema/load-description.js';
import type { ResolvedEnvironment } from '../../../../kernel/types.js';
import { createDashboardRouter, type DashboardDeps } from '../../../../controller/dashboard/router.js';
import { timelineLanes } from '../../../../controller/dashboard/timeline.js';

const REPO = 'acme/infra';
const EXAMPLE = path.resolve(import.meta.dirname, '../../../../examples/lamp');

function app(deps: Partial<DashboardDeps> & { store: PgStateStore }): express.Express {
  const a = express();
  a.use('/', createDashboardRouter({ publicRead: true, ...deps }));
  a.get('/healthz', (_req, res) => void res.send('ok'));
  return a;
}

describe('dashboard', () => {
  let db: TestDatabase;
  let store: PgStateStore;
  let production: ResolvedEnvironment;
  let applyId: string;
  let driftId: string;

  before(async () => {
    db = await createTestDatabase();
    store = createPgStore(new pg.Pool({ connectionString: db.url }));
    const loaded = await loadDescription({ dir: EXAMPLE });
    assert.ok(loaded.ok);
    production = loaded.description.environments.get('production')!;
    const apply = await store.startRun({
      repository: REPO,
      environment: 'production',
      commit: '1a2b3c4d5e6f',
      kind: 'apply',
      trigger: 'push by <script>alert(1)</script>',
    });
    applyId = apply.id;
    const applied = { specHash: 'h', tasks: [], commit: '1a2b3c4d5e6f' };
    for (const p of ['database/master', 'database/replica-1', 'web-1']) {
      await store.updateNode(REPO, 'production', p, {
        state: 'configuring',
        host: p === 'web-1' ? '203.0.113.21' : 'db1.example.com',
        runId: applyId,
      });
      await store.recordTask(applyId, p, { name: 'lamp base', outcome: 'met', durationMs: 1200 });
      await store.updateNode(REPO, 'production', p, { state: 'ready', runId: applyId, applied });
    }
    await store.updateNode(REPO, 'production', 'web-2', { state: 'configuring', host: '203.0.113.22', runId: applyId });
    await store.recordTask(applyId, 'web-2', { name: 'lamp base', outcome: 'already met' });
    await store.recordTask(applyId, 'web-2', {
      name: 'app deployed',
      outcome: 'failed',
      message: 'boom: <b>disk</b> on fire',
    });
    await store.appendLog(applyId, 'web-2', 'app deployed {\n  meet {\n    boom: <b>disk</b> on fire\n');
    await store.updateNode(REPO, 'production', 'web-2', {
      state: 'failed',
      reason: 'TaskFailed: app deployed',
      runId: applyId,
    });
    await store.updateNode(REPO, 'production', 'lb', { state: 'blocked', reason: 'web-2 failed', runId: applyId });
    await store.finishRun(applyId, 'failed', { ready: 3, failed: 1, blocked: 1 });
    // Deterministic times for the timeline: the run spans 100 s; two nodes share a host.
    const q = (sql: string, ...v: unknown[]) => store.pool.query(sql, v);
    await q(
      `UPDATE runs SET started_at = '2026-01-01T10:00:00Z', finished_at = '2026-01-01T10:01:40Z' WHERE id = $1`,
      applyId,
    );
    const times: [string, string, string][] = [
      ['database/master', '10:00:00', '10:00:20'],
      ['database/replica-1', '10:00:20', '10:00:50'],
      ['web-1', '10:00:20', '10:01:00'],
      ['web-2', '10:00:30', '10:01:40'],
    ];
    for (const [p, s, e] of times)
      await q(
        `UPDATE node_runs SET started_at = $3, finished_at = $4 WHERE run_id = $1 AND path = $2`,
        applyId,
        p,
        `2026-01-01T${s}Z`,
        `2026-01-01T${e}Z`,
      );
    const drift = await store.startRun({
      repository: REPO,
      environment: 'production',
      commit: '1a2b3c4d5e6f',
      kind: 'drift',
      trigger: 'schedule',
    });
    driftId = drift.id;
    await store.recordTask(driftId, 'web-1', { name: 'lamp base', outcome: 'already met' });
    await store.updateNode(REPO, 'production', 'web-1', { state: 'ready', runId: driftId });
    await store.finishRun(driftId, 'succeeded', { ready: 1 });
    await store.updateNode('/srv/other', 'qa', 'box', { state: 'ready', host: 'local' });
  });
  after(async () => {
    await store.close();
    await db.drop();
  });

  test('front page: environments with their state counts and the latest runs', async () => {
    const res = await request(app({ store })).get('/').expect(200).expect('content-type', /html/);
    assert.match(res.text, /<a href="\/environments\/acme%2Finfra\/production"><strong>production<\/strong><\/a>/);
    assert.match(res.text, /state-ready[^>]*>ready<\/span> 3/);
    assert.match(res.text, /state-failed[^>]*>failed<\/span> 1/);
    assert.match(res.text, /state-blocked[^>]*>blocked<\/span> 1/);
    assert.match(res.text, /<strong>qa<\/strong>/);
    assert.match(res.text, new RegExp(`href="/runs/${applyId}">#${applyId}<`));
    assert.ok(!res.text.includes('<script>'), 'user-controlled text is escaped');
    assert.ok(res.text.includes('push by &lt;script&gt;alert(1)&lt;/script&gt;'));
    assert.match(String(res.headers['content-security-policy']), /default-src 'none'/);
  });

  test('environment page: graph coloured by state, nodes table, task success rates, runs', async () => {
    const loadEnvironment = async (repo: string, env: string) =>
      repo === REPO && env === 'production' ? production : null;
    const res = await request(app({ store, loadEnvironment })).get('/environments/acme%2Finfra/production').expect(200);
    assert.match(res.text, /<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    assert.match(res.text, /<g class="node state-failed" data-path="web-2">/);
    assert.match(
      res.text,
      /<g class="node state-defined" data-path="web-3">/,
      'described nodes never applied are defined',
    );
    assert.match(res.text, /<path class="edge" data-from="database\/master" data-to="web-1"/);
    assert.match(
      res.text,
      /<tr id="node-web-2" data-node-row="web-2" data-node-recorded><td>web-2<\/td><td class="mono">203.0.113.22<\/td>/,
    );
    assert.match(
      res.text,
      /<tr id="node-web-3" data-node-row="web-3"><td>web-3<\/td><td class="mono">203.0.113.23<\/td><td><span class="state state-defined"/,
    );
    // lamp base: met in the apply and already met in the drift run (2 of 2); app deployed failed its only run.
    assert.match(
      res.text,
      /<td>app deployed<\/td><td><span class="rate-bg" aria-hidden="true"><span class="rate" style="width:0%"><\/span><\/span>0%<\/td><td>0 of 1<\/td>/,
    );
    assert.match(res.text, /<td>lamp base<\/td><td>.*100%<\/td><td>2 of 2<\/td>/);
    assert.match(res.text, new RegExp(`href="/runs/${driftId}"`));
    const svg = await request(app({ store, loadEnvironment }))
      .get('/environments/acme%2Finfra/production/graph.svg')
      .expect(200)
      .expect('content-type', /image\/svg\+xml/);
    assert.match(svg.body.toString(), /^<svg xmlns/);
  });

  test('the page of a running run names its live stream (no meta refresh)', async () => {
    const running = await store.startRun({
      repository: REPO,
      environment: 'production',
      commit: null,
      kind: 'apply',
      trigger: 'cli',
    });
    const live = await request(app({ store })).get(`/runs/${running.id}`).expect(200);
    assert.match(live.text, new RegExp(`<main id="main" tabindex="-1" data-live="/events/runs/${running.id}">`));
    assert.match(live.text, /<script src="\/assets\/live\.js\?v=[^"]+" defer><\/script>/);
    assert.match(live.text, /No node has started in this run\./);
    await store.finishRun(running.id, 'cancelled', {});
    const done = await request(app({ store })).get(`/runs/${applyId}`).expect(200);
    assert.doesNotMatch(done.text, /http-equiv="refresh"/);
  });

  test('environment page without the description: graph of the recorded nodes, and 404 for an unknown one', async () => {
    const res = await request(app({ store })).get('/environments/acme%2Finfra/production').expect(200);
    assert.match(res.text, /without dependencies/);
    assert.match(res.text, /<g class="cluster" data-path="database">/);
    assert.doesNotMatch(res.text, /class="edge"/);
    await request(app({ store })).get('/environments/acme%2Finfra/nope').expect(404);
  });

  test('run page: a timeline lane per node under its host, and every node with its tasks and log', async () => {
    const res = await request(app({ store })).get(`/runs/${applyId}`).expect(200);
    assert.match(res.text, /Run #\d+: apply of <a href="\/environments\/acme%2Finfra\/production">production<\/a>/);
    assert.match(res.text, /<div class="host-label mono" title="db1.example.com">db1.example.com<\/div>/);
    // Two nodes of one host: two lanes in its group, not one lane with a bar hidden under another.
    const group =
      /aria-label="host db1.example.com" data-timeline-host="db1.example.com">(.*?)<\/div><\/div><\/div><\/div>/s.exec(
        res.text,
      )?.[0] ?? '';
    assert.match(
      res.text,
      /<div class="lane" role="listitem" data-lane="database\/master"><div class="node mono" title="database\/master">/,
    );
    assert.match(
      res.text,
      /<div class="lane" role="listitem" data-lane="database\/replica-1"><div class="node mono" title="database\/replica-1">/,
    );
    assert.ok(group.includes('database/master'), group);
    assert.match(res.text, /<a class="bar" href="#node-database_replica-1" style="left:20.00%;width:30.00%;/);
    assert.match(res.text, /<a class="bar" href="#node-web-2" style="left:30.00%;width:70.00%;/);
    assert.match(res.text, /<pre>boom: &lt;b&gt;disk&lt;\/b&gt; on fire<\/pre>/);
    assert.match(
      res.text,
      /<summary>Log \(4 lines\)<\/summary><pre data-log="web-2" data-log-length="\d+">app deployed \{\n {2}meet \{/,
    );
    assert.match(res.text, /TaskFailed: app deployed/);
    assert.match(res.text, /1m 40s/);
    await request(app({ store })).get('/runs/999999').expect(404);
    await request(app({ store })).get('/runs/not-a-number').expect(404);
  });

  test('timeline: hosts in order of first start, one lane per node in order of start', async () => {
    const run = (await store.getRun(applyId))!;
    const { hosts, spanMs } = timelineLanes(run, await store.nodeRuns(applyId));
    assert.equal(spanMs, 100_000);
    assert.deepEqual(
      hosts.map((h) => [h.host, h.lanes.map((b) => `${b.path}@${b.left.toFixed(0)}+${b.width.toFixed(0)}`)]),
      [
        ['db1.example.com', ['database/master@0+20', 'database/replica-1@20+30']],
        ['203.0.113.21', ['web-1@20+40']],
        ['203.0.113.22', ['web-2@30+70']],
      ],
    );
  });

  test('runs list and JSON endpoints', async () => {
    const list = await request(app({ store })).get('/runs?environment=production').expect(200);
    assert.match(list.text, /Runs of production/);
    assert.match(list.text, new RegExp(`#${driftId}<`));
    const envs = await request(app({ store })).get('/api/environments').expect(200).expect('content-type', /json/);
    const prod = envs.body.environments.find((e: { environment: string }) => e.environment === 'production');
    assert.deepEqual(prod.states, { ready: 3, failed: 1, blocked: 1 });
    assert.equal(prod.repository, REPO);
    const run = await request(app({ store })).get(`/api/runs/${applyId}`).expect(200);
    assert.equal(run.body.run.status, 'failed');
    assert.deepEqual(run.body.nodes.map((n: { path: string; state: string }) => `${n.path}:${n.state}`).sort(), [
      'database/master:ready',
      'database/replica-1:ready',
      'lb:blocked',
      'web-1:ready',
      'web-2:failed',
    ]);
    await request(app({ store })).get('/api/runs/424242').expect(404).expect('content-type', /json/);
    const runs = await request(app({ store })).get('/api/runs').expect(200);
    assert.ok(runs.body.runs.length >= 2);
  });

  test('private dashboard: 401 without the token; Bearer, ?token= (sets a cookie) and the cookie open it', async () => {
    const a = app({ store, publicRead: false, token: 's3cret-token' });
    const denied = await request(a).get('/').expect(401);
    assert.match(denied.text, /needs a token/);
    assert.ok(!denied.text.includes('production'));
    await request(a).get('/api/environments').expect(401).expect('content-type', /json/);
    await request(a).get('/api/environments').set('Authorization', 'Bearer wrong').expect(401);
    await request(a).get('/api/environments').set('Authorization', 'Bearer s3cret-token').expect(200);
    await request(a).get('/?token=wrong').expect(401);
    const login = await request(a).get('/runs?environment=production&token=s3cret-token').expect(303);
    assert.equal(login.headers.location, '/runs?environment=production');
    const cookie = String(login.headers['set-cookie']);
    assert.match(cookie, /politburo_dashboard=s3cret-token; Path=\/; HttpOnly; SameSite=Lax/);
    await request(a).get('/runs').set('Cookie', cookie.split(';')[0]).expect(200);
    await request(a).get('/healthz').expect(200, 'ok');
    const noToken = app({ store, publicRead: false });
    const r = await request(noToken).get('/').expect(401);
    assert.match(r.text, /POLITBURO_DASHBOARD_TOKEN/);
  });

  test('a node a running apply terminated shows terminated, not defined, until the run ends', async () => {
    const loadEnvironment = async (repo: string, env: string) =>
      repo === REPO && env === 'production' ? production : null;
    const page = async () =>
      (
        await request(app({ store, loadEnvironment, db: store.pool }))
          .get('/environments/acme%2Finfra/production')
          .expect(200)
      ).text;
    await store.updateNode(REPO, 'production', 'web-3', { state: 'ready', host: '203.0.113.23', runId: applyId });
    const run = await store.startRun({
      repository: REPO,
      environment: 'production',
      commit: 'f00dfeed',
      kind: 'apply',
      trigger: 'push',
    });
    // Terminated by the running apply: its record leaves; the last applied commit still describes it.
    await store.updateNode(REPO, 'production', 'web-3', { state: 'terminated', runId: run.id });
    const during = await page();
    assert.match(during, /<g class="node state-terminated" data-path="web-3">/);
    assert.doesNotMatch(during, /data-node-row="web-3"/, 'no row: it is neither recorded nor waiting to be applied');
    await store.finishRun(run.id, 'succeeded', { ready: 0 });
    // The run ended without changing the last applied commit (here): web-3 is described there and never applied again.
    assert.match(await page(), /<g class="node state-defined" data-path="web-3">/);
  });

  test('a failing store is a 500 page saying so, not a crash', async () => {
    const broken = createPgStore(
      new pg.Pool({ connectionString: 'postgres://nobody@127.0.0.1:1/none', connectionTimeoutMillis: 2000 }),
    );
    try {
      const res = await request(app({ store: broken }))
        .get('/')
        .expect(500);
      assert.match(res.text, /could not read the state store/);
    } finally {
      await broken.close();
    }
  });
});
