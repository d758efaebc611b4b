/**
 * The dashboard's JSON API for actions (docs/dashboard.md, "The JSON API"), over real HTTP against a real PostgreSQL,
 * the job queue, the GitHub fake and an sshd host: a person's own GitHub token (whose it is asked of GitHub once, then
 * cached) and a signed-in session with its CSRF token in a header both act, as that person and recorded under their
 * login; the shared token, nobody, a reader, a non-collaborator and a token GitHub refuses are refused with a reason;
 * blocked actions answer 409. A drift check that heals, cancelled through the API while its dry run runs on the host:
 * the running check gets its grace, nothing new starts (no heal), the run ends cancelled.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { access, rm, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Writable } from 'node:stream';
import express from 'express';
import request from 'supertest';
import { createDashboardRouter, type DashboardRouter } from '../../../../controller/dashboard/router.js';
import { cachedPermissions } from '../../../../controller/dashboard/permissions.js';
import { runApplyEnvironment } from '../../../../controller/jobs/apply-environment.js';
import { runDriftEnvironment } from '../../../../controller/jobs/drift-environment.js';
import { queueApplies } from '../../../../controller/jobs/queue-applies.js';
import { createLogger } from '../../../../controller/logger.js';
import { createRunCancellations } from '../../../../controller/run-cancellation.js';
import type { GitHubRepository } from '../../../../kernel/repository.js';
import { GitRepo } from '../../../helpers/git-repo.js';
import { startSshHosts, type SshHosts } from '../../../helpers/sshd.js';
import { waitFor } from '../../../helpers/wait-for.js';
import { startJobsHarness, type JobsHarness } from '../jobs/jobs-harness.js';

const REPO = 'acme/infra';
const ENV_API = `/api/environments/${encodeURIComponent(REPO)}/prod`;
const SHARED_TOKEN = 'shared-dashboard-token';

/** One node on the sshd host; its check first marks ~/checking, then waits while ~/hold exists. */
function description(ssh: SshHosts): string {
  const h = ssh.hosts[0];
  return `politburo: 1
environments:
  prod:
    resources:
      box:
        tasks:
          - name: marker
            met: 'touch ~/checking; while [ -f ~/hold ]; do sleep 0.1; done; test -f ~/state/v1'
            meet: 'mkdir -p ~/state && touch ~/state/v1'
    hosts: { box: { address: '${h.address}', port: ${h.port}, user: ${h.user} } }
`;
}

const cookieOf = (res: { headers: Record<string, unknown> }, name: string): string | undefined =>
  ([] as string[])
    .concat((res.headers['set-cookie'] as string[] | undefined) ?? [])
    .find((c) => c.startsWith(`${name}=`))
    ?.split(';')[0];

describe('dashboard: the JSON API for actions', () => {
  let ssh: SshHosts;
  let h: JobsHarness;
  let repo: GitRepo;
  let ref: GitHubRepository;
  let dashboard: DashboardRouter;
  let server: Server;
  let url: string;
  let applyRun: string;
  const logLines: string[] = [];
  const logger = createLogger({
    level: 'info',
    destination: new Writable({
      write(chunk, _enc, done) {
        logLines.push(String(chunk));
        done();
      },
    }),
  });
  const cancellations = () => createRunCancellations({ pool: h.pool, logger, pollMs: 100 });
  const home = () => ssh.hosts[0].home;
  const actions = async () =>
    (
      await h.pool.query(
        `SELECT login, action, outcome, message, run_id::text AS run FROM dashboard_actions ORDER BY id`,
      )
    ).rows;
  const userCalls = () => h.github.requests.filter((r) => r.route === 'GET /user').length;

  before(async () => {
    ssh = await startSshHosts(1);
    h = await startJobsHarness({ POLITBURO_SSH_KEY: ssh.privateKeyPath, POLITBURO_KNOWN_HOSTS: ssh.knownHosts });
    repo = await GitRepo.create({ 'politburo.yml': description(ssh) });
    ref = { kind: 'github', owner: 'acme', name: 'infra', cloneUrl: repo.dir, defaultBranch: 'main' };
    const sha = await repo.head();
    // The push's handling (drift schedule recorded, apply queued), then the apply itself on the host.
    await queueApplies(h.deps, ref, 'main', sha, 'push', h.deps.logger);
    await runApplyEnvironment(
      h.deps,
      { repo: ref, environment: 'prod', sha, trigger: 'push' },
      { job: { attempts: 1, max_attempts: 3 } as never },
    );
    await access(path.join(home(), 'state', 'v1'));
    applyRun = (await h.deps.store.listRuns({ repository: REPO }))[0].id;
    for (const [login, permission] of [
      ['alice', 'write'],
      ['bob', 'read'],
      ['mallory', 'none'],
    ] as const)
      h.github.state.permissions.set(`${REPO}:${login}`, permission);
    dashboard = createDashboardRouter({
      store: h.deps.store,
      publicRead: false,
      token: SHARED_TOKEN,
      db: h.pool,
      signIn: {
        clientId: h.github.oauth.clientId,
        clientSecret: h.github.oauth.clientSecret,
        webUrl: h.github.url,
        apiUrl: h.github.url,
        sessionTtlMs: 3_600_000,
      },
      // As the controller does (controller/main.ts): the collaborator permission, asked with the controller's token.
      permission: cachedPermissions((r, login) =>
        h.reporter.permission({ kind: 'github', ...r, cloneUrl: '', defaultBranch: '' }, login),
      ),
      jobs: h.deps,
      logger,
    });
    const app = express();
    app.use('/', dashboard);
    server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await writeFile(path.join(home(), 'go'), '').catch(() => undefined);
    await rm(path.join(home(), 'hold'), { force: true }).catch(() => undefined);
    await dashboard?.close();
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r));
    await h?.stop();
    await ssh?.stop();
    if (repo) await rm(repo.dir, { recursive: true, force: true });
  });

  /** GitHub's web sign-in as a browser walks it; returns the session cookie. */
  async function signIn(login: string): Promise<string> {
    h.github.oauth.signInAs(login);
    const start = await request(url).get('/auth/github/login');
    const consent = await fetch(start.headers.location, { redirect: 'manual' });
    const callback = new URL(consent.headers.get('location')!);
    const done = await request(url)
      .get(callback.pathname + callback.search)
      .set('Cookie', cookieOf(start, 'politburo_oauth')!);
    assert.equal(done.status, 303, done.text);
    return cookieOf(done, 'politburo_session')!;
  }

  test("a person's GitHub token acts and reads as them: recorded under their login, GitHub asked once", async () => {
    const token = h.github.oauth.issueToken('alice');
    const asked = userCalls();
    const res = await request(url).post(`${ENV_API}/check-drift`).set('Authorization', `Bearer ${token}`);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.action, 'check-drift');
    assert.equal(res.body.outcome, 'done');
    assert.match(res.body.message, /^drift check of prod queued \(job \d+\)$/);
    assert.match(res.body.job, /^\d+$/);
    assert.equal(res.body.reason, undefined);
    assert.equal(res.headers['cache-control'], 'private, no-store');
    const queued = await h.jobs('drift-environment');
    assert.equal(queued.length, 1);
    assert.equal(queued[0].payload.trigger, 'dashboard: drift check by alice');
    assert.deepEqual(
      (await actions()).map((a) => [a.login, a.action, a.outcome]),
      [['alice', 'check-drift', 'done']],
    );
    // Reads with the same token: the person's view; GitHub was asked whose the token is once.
    const session = await request(url).get('/api/session').set('Authorization', `Bearer ${token}`);
    assert.deepEqual(session.body, { viewer: 'github-token', login: 'alice' });
    const runs = await request(url).get('/api/runs').set('Authorization', `Bearer ${token}`);
    assert.deepEqual(
      runs.body.runs.map((r: { id: string }) => r.id),
      [applyRun],
    );
    assert.equal(userCalls() - asked, 1, 'GET /user once for three calls');
    // The token is kept nowhere: no session, nothing recorded with it.
    assert.equal((await h.pool.query('SELECT count(*)::int AS n FROM dashboard_sessions')).rows[0].n, 0);
    const { rows } = await h.pool.query(`SELECT count(*)::int AS n FROM dashboard_actions WHERE message LIKE $1`, [
      `%${token}%`,
    ]);
    assert.equal(rows[0].n, 0);
  });

  test('refused: the shared token and nobody, a reader (recorded), a non-collaborator and unknown targets (404), a token GitHub refuses', async () => {
    const before = (await actions()).length;
    const post = (pathname: string, auth?: string) => {
      const r = request(url).post(pathname);
      return auth ? r.set('Authorization', `Bearer ${auth}`) : r;
    };
    const shared = await post(`/api/runs/${applyRun}/rerun`, SHARED_TOKEN);
    assert.equal(shared.status, 403);
    assert.equal(shared.body.outcome, 'refused');
    assert.match(shared.body.reason, /the shared dashboard token is read-only/);
    // Even with the token's cookie and a made-up CSRF header.
    const cookie = await request(url).get(`/api/runs?token=${SHARED_TOKEN}`);
    const viaCookie = await request(url)
      .post(`/api/runs/${applyRun}/rerun`)
      .set('Cookie', cookieOf(cookie, 'politburo_dashboard')!)
      .set('X-CSRF-Token', 'anything');
    assert.equal(viaCookie.status, 403);
    const nobody = await post(`${ENV_API}/check-drift`);
    assert.equal(nobody.status, 401);
    assert.equal(nobody.body.outcome, 'refused');
    const revoked = await post(`${ENV_API}/check-drift`, 'ghu_0123456789revokedtoken');
    assert.equal(revoked.status, 401);
    assert.match(revoked.body.reason, /GitHub does not accept this token as a person's \(GET \/user answered 401\)/);
    const garbage = await post(`${ENV_API}/check-drift`, 'x');
    assert.equal(garbage.status, 401);
    assert.equal(garbage.body.reason, 'this is not a GitHub token');

    const bob = h.github.oauth.issueToken('bob');
    const reader = await post(`/api/runs/${applyRun}/rerun`, bob);
    assert.equal(reader.status, 403);
    assert.equal(reader.body.reason, 'bob has read permission on acme/infra; Re-run apply needs write');
    assert.deepEqual(reader.body.run, { id: applyRun, url: `/runs/${applyRun}`, kind: 'apply', status: 'succeeded' });
    const mallory = h.github.oauth.issueToken('mallory');
    assert.equal((await post(`${ENV_API}/check-drift`, mallory)).status, 404, 'not a collaborator: not found');
    assert.deepEqual((await request(url).get('/api/runs').set('Authorization', `Bearer ${mallory}`)).body.runs, []);
    const alice = h.github.oauth.issueToken('alice');
    assert.equal((await post('/api/runs/999999/cancel', alice)).status, 404);
    assert.equal((await post('/api/runs/x/cancel', alice)).status, 404);
    assert.equal((await post(`/api/environments/${encodeURIComponent(REPO)}/nope/heal`, alice)).status, 404);

    // Allowed but blocked: 409 with the reason.
    const heal = await post(`${ENV_API}/heal`, alice);
    assert.equal(heal.status, 409);
    assert.deepEqual(
      [heal.body.outcome, heal.body.reason],
      ['refused', 'no node of prod is drifted: nothing to heal (Check drift now looks again)'],
    );
    const cancel = await post(`/api/runs/${applyRun}/cancel`, alice);
    assert.equal(cancel.status, 409);
    assert.match(cancel.body.reason, /is not running \(it ended succeeded\)/);
    const release = await request(url)
      .post(`${ENV_API}/release`)
      .set('Authorization', `Bearer ${alice}`)
      .send({ sha: 'not a sha' });
    assert.equal(release.status, 409);
    assert.equal(release.body.reason, 'no commit to release was named');
    const broken = await request(url)
      .post(`${ENV_API}/release`)
      .set('Authorization', `Bearer ${alice}`)
      .set('Content-Type', 'application/json')
      .send('{"sha":');
    assert.equal(broken.status, 400);
    assert.equal(broken.body.outcome, 'refused');

    assert.deepEqual(
      (await actions()).slice(before).map((a) => [a.login, a.action, a.outcome]),
      [
        ['bob', 'rerun', 'refused'],
        ['alice', 'heal', 'refused'],
        ['alice', 'cancel', 'refused'],
        ['alice', 'release', 'refused'],
      ],
    );
  });

  test('a signed-in session acts with its CSRF token in X-CSRF-Token; without it, or from another site, refused', async () => {
    const alice = await signIn('alice');
    const who = await request(url).get('/api/session').set('Cookie', alice);
    assert.equal(who.body.viewer, 'session');
    assert.equal(who.body.login, 'alice');
    const csrf = who.body.csrfToken as string;
    assert.match(csrf, /^[\w-]{40,}$/);
    const rerun = () => request(url).post(`/api/runs/${applyRun}/rerun`).set('Cookie', alice);
    const before = (await actions()).length;
    const none = await rerun();
    assert.equal(none.status, 403);
    assert.match(none.body.reason, /X-CSRF-Token header/);
    assert.equal((await rerun().set('X-CSRF-Token', 'x'.repeat(43))).status, 403);
    const elsewhere = await rerun().set('X-CSRF-Token', csrf).set('Origin', 'https://evil.example');
    assert.equal(elsewhere.status, 403);
    assert.match(elsewhere.body.reason, /comes from https:\/\/evil\.example, not from this dashboard/);
    assert.equal((await actions()).length, before, 'forgeries are not recorded as actions');

    const ok = await rerun().set('X-CSRF-Token', csrf).set('Origin', url);
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.body.outcome, 'done');
    assert.match(ok.body.message, /^apply of prod at [0-9a-f]{7} queued again \(job \d+\)$/);
    assert.equal(ok.body.run.id, applyRun);
    const applies = await h.jobs('apply-environment');
    assert.ok(applies.some((j) => j.payload.trigger === `dashboard: re-run of run #${applyRun} by alice`));
    assert.deepEqual((await actions()).at(-1)?.login, 'alice');
  });

  test('a drift check that heals, cancelled through the API while it checks: grace, no heal, ends cancelled, recorded', async () => {
    const alice = h.github.oauth.issueToken('alice');
    // Someone removed what the task made: the check will find drift, and the heal would make it again.
    await rm(path.join(home(), 'state'), { recursive: true, force: true });
    await rm(path.join(home(), 'checking'), { force: true });
    await writeFile(path.join(home(), 'hold'), '');
    const watcher = cancellations();
    const drifting = runDriftEnvironment(
      { ...h.deps, cancellations: watcher },
      { repo: ref, environment: 'prod', heal: true, trigger: 'schedule' },
    );
    try {
      await waitFor('the dry run checking the host', () =>
        access(path.join(home(), 'checking')).then(
          () => true,
          () => false,
        ),
      );
      const { rows } = await h.pool.query(
        `SELECT id::text AS id FROM runs WHERE kind = 'drift' AND status = 'running'`,
      );
      const run = rows[0].id as string;
      // The run's page offers Cancel to a writer, as for applies.
      const page = await request(url)
        .get(`/runs/${run}`)
        .set('Cookie', await signIn('alice'));
      assert.match(page.text, /data-action="cancel"/);
      assert.doesNotMatch(page.text, /data-action="rerun"/);

      const cancel = await request(url).post(`/api/runs/${run}/cancel`).set('Authorization', `Bearer ${alice}`);
      assert.equal(cancel.status, 200, cancel.text);
      assert.equal(cancel.body.outcome, 'done');
      assert.match(cancel.body.message, /running tasks get their grace period/);
      assert.deepEqual(cancel.body.run, { id: run, url: `/runs/${run}`, kind: 'drift', status: 'running' });
      const again = await request(url).post(`/api/runs/${run}/cancel`).set('Authorization', `Bearer ${alice}`);
      assert.equal(again.status, 409);
      assert.match(again.body.reason, /a cancel of run #\d+ was asked for already, by alice at /);
      // The process running the check stops it: the running check goes on in its grace period, and ends.
      await waitFor('the watcher to stop the run', () =>
        logLines.some((l) => l.includes(`run ${run} cancelled by alice`)),
      );
      await rm(path.join(home(), 'hold'), { force: true });
      await drifting;
      const ended = await h.pool.query(`SELECT status, cancel_requested_by FROM runs WHERE id = $1`, [run]);
      assert.deepEqual(ended.rows[0], { status: 'cancelled', cancel_requested_by: 'alice' });
      // Nothing new started: the drift found was not healed.
      await assert.rejects(access(path.join(home(), 'state', 'v1')));
      const node = await h.pool.query(`SELECT state FROM node_runs WHERE run_id = $1 AND path = 'box'`, [run]);
      assert.notEqual(node.rows[0]?.state, 'ready');
      const done = (await actions()).filter((a) => a.action === 'cancel' && a.outcome === 'done');
      assert.deepEqual(done, [{ login: 'alice', action: 'cancel', outcome: 'done', message: done[0]?.message, run }]);
      // A cancelled check did not check everything: it opens or closes no drift issue.
      await h.reporter.flush({ timeoutMs: 30_000 });
      assert.deepEqual(h.github.state.issues, []);
    } finally {
      watcher.close();
      await rm(path.join(home(), 'hold'), { force: true });
      await drifting.catch(() => undefined);
    }
  });
});
