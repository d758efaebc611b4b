/**
 * The dashboard with sign-in and actions, on the real controller (docs/controller.md, "The dashboard"): GitHub's web
 * sign-in flow through the fake over real HTTP, sessions (cookie attributes, sign-out, expiry), what readers and
 * writers see and may do, forged POSTs, every action recorded, and Cancel stopping an apply that runs on sshd hosts.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { access, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import request from 'supertest';
import { readConfig } from '../../controller/config.js';
import { createLogger } from '../../controller/logger.js';
import { startController, type RunningController } from '../../controller/main.js';
import { createFlows } from '../../controller/wiring.js';
import { createPgStore } from '../../store/pg-store.js';
import type { SshHost } from '../helpers/sshd.js';
import { spawnController, type ControllerProcess } from './spawn-controller.js';
import { ENV, FULL_NAME, pushPayload, signInEnv, startHarness, waitingApp, type Harness } from './harness.js';
import { waitFor } from '../helpers/wait-for.js';

/** `db`, then `web` after it; with `wait`, db's task waits for `~/go` on its host (an apply caught mid-run). */
function description(hosts: SshHost[], o: { version: string; wait?: boolean; extra?: string }): string {
  return waitingApp(hosts, { version: o.version, waitFile: o.wait ? 'go' : undefined, extra: o.extra });
}

const setCookies = (res: request.Response): string[] => ([] as string[]).concat(res.headers['set-cookie'] ?? []);

/** The `name=value` part of a cookie the response sets. */
const cookieOf = (res: request.Response, name: string): string | undefined =>
  setCookies(res)
    .find((c) => c.startsWith(`${name}=`))
    ?.split(';')[0];

const csrfIn = (page: string): string => {
  const m = /name="_csrf" value="([^"]+)"/.exec(page);
  assert.ok(m, 'the page carries a CSRF token');
  return m[1];
};

describe('e2e: dashboard sign-in and actions', () => {
  let h: Harness;
  let url: string;
  let applyRun: string;

  before(async () => {
    h = await startHarness({
      controllers: 0,
      files: (hosts) => ({ 'politburo.yml': description(hosts, { version: 'v1' }) }),
    });
    const c = await h.startController({ ...signInEnv(h.github), POLITBURO_DASHBOARD_TOKEN: 'script-token' });
    url = c.url;
    h.github.state.permissions.set(`${FULL_NAME}:alice`, 'write');
    h.github.state.permissions.set(`${FULL_NAME}:bob`, 'read');
    h.github.state.permissions.set(`${FULL_NAME}:mallory`, 'none');
    const first = await h.repo.head();
    await h.send('push', pushPayload(h.repo, { before: '0'.repeat(40), after: first }), url);
    await waitFor('applied', () => h.checks(first).get(`politburo/${ENV}`)?.conclusion === 'success');
    const { rows } = await h.pool.query(`SELECT id FROM runs WHERE kind = 'apply' AND status = 'succeeded'`);
    applyRun = String(rows[0].id);
  });
  after(async () => {
    for (const host of h?.ssh.hosts ?? []) await writeFile(path.join(host.home, 'go'), '').catch(() => undefined);
    await h?.stop();
  });

  /** GitHub's web flow as a browser walks it: our login route, GitHub's authorize page, our callback. */
  async function signIn(login: string, returnTo = '/runs'): Promise<string> {
    h.github.oauth.signInAs(login);
    const start = await request(url).get(`/auth/github/login?return_to=${encodeURIComponent(returnTo)}`);
    assert.equal(start.status, 302);
    const authorize = new URL(start.headers.location);
    assert.equal(authorize.origin + authorize.pathname, `${h.github.url}/login/oauth/authorize`);
    assert.equal(authorize.searchParams.get('client_id'), h.github.oauth.clientId);
    assert.equal(authorize.searchParams.get('redirect_uri'), `${url}/auth/github/callback`);
    const stateCookie = cookieOf(start, 'politburo_oauth');
    assert.ok(stateCookie);
    const consent = await fetch(authorize, { redirect: 'manual' });
    assert.equal(consent.status, 302);
    const callback = new URL(consent.headers.get('location')!);
    assert.equal(callback.searchParams.get('state'), authorize.searchParams.get('state'));
    const done = await request(url)
      .get(callback.pathname + callback.search)
      .set('Cookie', stateCookie);
    assert.equal(done.status, 303, done.text);
    assert.equal(done.headers.location, returnTo);
    const session = cookieOf(done, 'politburo_session');
    assert.ok(session, 'a session cookie is set');
    return session;
  }

  test('sign in with GitHub: state bound to the browser, code exchanged once, HttpOnly SameSite=Lax session', async () => {
    const start = await request(url).get('/auth/github/login');
    const stateCookie = setCookies(start)[0] ?? '';
    assert.match(stateCookie, /HttpOnly/);
    assert.match(stateCookie, /SameSite=Lax/);
    assert.doesNotMatch(stateCookie, /Secure/, 'plain http on a loopback address: no Secure (a local demo)');
    const elsewhere = await request(url).get('/auth/github/login').set('Host', 'politburo.example.com');
    assert.match(setCookies(elsewhere)[0] ?? '', /; Secure/, 'any other host: Secure');

    h.github.oauth.signInAs('alice');
    const consent = await fetch(start.headers.location, { redirect: 'manual' });
    const callback = new URL(consent.headers.get('location')!);
    // Another browser's state (or none) is refused, and the code is not exchanged.
    const wrongState = new URL(callback);
    wrongState.searchParams.set('state', 'forged');
    const forged = await request(url)
      .get(wrongState.pathname + wrongState.search)
      .set('Cookie', cookieOf(start, 'politburo_oauth')!);
    assert.equal(forged.status, 403);
    assert.match(forged.text, /sign-in state does not match/);
    assert.match(forged.headers['content-security-policy'] ?? '', /default-src 'none'/);
    const noCookie = await request(url).get(callback.pathname + callback.search);
    assert.equal(noCookie.status, 403);
    assert.equal(cookieOf(noCookie, 'politburo_session'), undefined);
    // The real one signs in; the same code a second time is refused by GitHub (bad_verification_code).
    const ok = await request(url)
      .get(callback.pathname + callback.search)
      .set('Cookie', cookieOf(start, 'politburo_oauth')!);
    assert.equal(ok.status, 303);
    const sessionCookie = setCookies(ok).find((c) => c.startsWith('politburo_session='));
    assert.match(sessionCookie ?? '', /HttpOnly/);
    assert.match(sessionCookie ?? '', /SameSite=Lax/);
    assert.match(sessionCookie ?? '', /Max-Age=3600/);
    const again = await request(url)
      .get(callback.pathname + callback.search)
      .set('Cookie', cookieOf(start, 'politburo_oauth')!);
    assert.equal(again.status, 403);
    assert.match(again.text, /bad_verification_code/);
    const exchanges = h.github.requests.filter((r) => r.path.startsWith('/login/oauth/access_token'));
    assert.deepEqual(
      exchanges.map((r) => (r.body as { error?: string }).error ?? 'token'),
      ['token', 'bad_verification_code'],
    );
    // Only the hash of the session id is stored, with the login; no GitHub token.
    const id = cookieOf(ok, 'politburo_session')!.split('=')[1];
    const { rows } = await h.pool.query(`SELECT * FROM dashboard_sessions WHERE login = 'alice'`);
    assert.ok(rows.some((r) => Buffer.compare(r.id_hash, createHash('sha256').update(id).digest()) === 0));
    assert.deepEqual(Object.keys(rows[0]).sort(), ['created_at', 'expires_at', 'id_hash', 'login']);
    const page = await request(url).get('/').set('Cookie', cookieOf(ok, 'politburo_session')!);
    assert.equal(page.status, 200);
    assert.match(page.text, /Signed in as <b>alice<\/b>/);
    assert.equal(page.headers['cache-control'], 'private, no-store');
  });

  test('a user who cancels on GitHub is told so; without a session the dashboard asks to sign in', async () => {
    h.github.oauth.signInAs(null);
    const start = await request(url).get('/auth/github/login');
    const consent = await fetch(start.headers.location, { redirect: 'manual' });
    const callback = new URL(consent.headers.get('location')!);
    const res = await request(url)
      .get(callback.pathname + callback.search)
      .set('Cookie', cookieOf(start, 'politburo_oauth')!);
    assert.equal(res.status, 403);
    assert.match(res.text, /denied your application access/);
    const anonymous = await request(url).get('/');
    assert.equal(anonymous.status, 401);
    assert.match(anonymous.text, /Sign in with GitHub/);
  });

  test('sign-out deletes the session; an expired session is not accepted', async () => {
    const session = await signIn('alice');
    const page = await request(url).get('/').set('Cookie', session);
    const out = await request(url)
      .post('/auth/sign-out')
      .set('Cookie', session)
      .set('Origin', url)
      .type('form')
      .send({ _csrf: csrfIn(page.text) });
    assert.equal(out.status, 303);
    assert.match(cookieOf(out, 'politburo_session') ?? '', /^politburo_session=$/);
    assert.equal((await request(url).get('/').set('Cookie', session)).status, 401);

    const other = await signIn('alice');
    assert.equal((await request(url).get('/').set('Cookie', other)).status, 200);
    await h.pool.query(`UPDATE dashboard_sessions SET expires_at = now() - interval '1 second'`);
    assert.equal((await request(url).get('/').set('Cookie', other)).status, 401);
  });

  test('readers see no buttons and are refused with the reason; non-collaborators see nothing', async () => {
    const alice = await signIn('alice');
    const bob = await signIn('bob');
    const mallory = await signIn('mallory');
    const writerPage = await request(url).get(`/runs/${applyRun}`).set('Cookie', alice);
    assert.match(
      writerPage.text,
      /<form method="post" action="\/runs\/\d+\/rerun" class="action" data-action="rerun">/,
    );
    const readerPage = await request(url).get(`/runs/${applyRun}`).set('Cookie', bob);
    assert.equal(readerPage.status, 200);
    assert.doesNotMatch(readerPage.text, /data-action="(rerun|cancel|check-drift|heal|release)"/);
    const envPath = `/environments/${encodeURIComponent(FULL_NAME)}/${ENV}`;
    assert.match((await request(url).get(envPath).set('Cookie', alice)).text, /data-action="check-drift"/);
    assert.doesNotMatch(
      (await request(url).get(envPath).set('Cookie', bob)).text,
      /data-action="(rerun|cancel|check-drift|heal|release)"/,
    );

    const refused = await request(url)
      .post(`/runs/${applyRun}/rerun`)
      .set('Cookie', bob)
      .set('Origin', url)
      .type('form')
      .send({ _csrf: csrfIn(readerPage.text) });
    assert.equal(refused.status, 403);
    assert.match(refused.text, /bob has read permission on acme\/infra; Re-run apply needs write/);
    const { rows } = await h.pool.query(
      `SELECT login, action, outcome, message FROM dashboard_actions WHERE login = 'bob'`,
    );
    assert.deepEqual(
      rows.map((r) => [r.action, r.outcome]),
      [['rerun', 'refused']],
    );

    assert.equal((await request(url).get(`/runs/${applyRun}`).set('Cookie', mallory)).status, 404);
    const list = await request(url).get('/api/runs').set('Cookie', mallory);
    assert.deepEqual(list.body.runs, []);
    assert.doesNotMatch((await request(url).get('/').set('Cookie', mallory)).text, /acme\/infra/);
    // The live updates' stream leaves out what the person may not read, too.
    const snapshot = async (cookie: string) => {
      const stop = new AbortController();
      const res = await fetch(`${url}/events`, { headers: { cookie }, signal: stop.signal });
      assert.equal(res.status, 200);
      const reader = res.body!.getReader();
      let text = '';
      while (!/event: snapshot\ndata: [^\n]*\n\n/.test(text)) {
        const { value, done } = await reader.read();
        if (done) break;
        text += Buffer.from(value).toString('utf8');
      }
      stop.abort();
      return /event: snapshot\ndata: ([^\n]*)/.exec(text)![1];
    };
    assert.match(await snapshot(alice), /acme\/infra/);
    assert.doesNotMatch(await snapshot(mallory), /acme\/infra/);
    // The shared token still reads everything, and acts never.
    const script = await request(url).get('/api/runs').set('Authorization', 'Bearer script-token');
    assert.ok(script.body.runs.length > 0);
    assert.doesNotMatch(
      (await request(url).get(`/runs/${applyRun}`).set('Authorization', 'Bearer script-token')).text,
      /data-action="rerun"/,
    );
  });

  test('forged POSTs are refused with 403 and nothing is done', async () => {
    const alice = await signIn('alice');
    const token = csrfIn((await request(url).get(`/runs/${applyRun}`).set('Cookie', alice)).text);
    const before = (await h.pool.query('SELECT count(*)::int AS n FROM dashboard_actions')).rows[0].n;
    const post = () => request(url).post(`/runs/${applyRun}/rerun`).type('form');
    const cases: [string, request.Test, RegExp][] = [
      ['no session', post().set('Origin', url).send({ _csrf: token }), /.+/],
      ['no CSRF token', post().set('Cookie', alice).set('Origin', url).send({}), /CSRF token/],
      [
        'a wrong CSRF token',
        post()
          .set('Cookie', alice)
          .set('Origin', url)
          .send({ _csrf: 'x'.repeat(43) }),
        /CSRF token/,
      ],
      [
        'another site',
        post().set('Cookie', alice).set('Origin', 'https://evil.example').send({ _csrf: token }),
        /not from this dashboard/,
      ],
      ['no Origin nor Referer', post().set('Cookie', alice).send({ _csrf: token }), /Origin or Referer/],
      [
        'the shared token',
        post().set('Authorization', 'Bearer script-token').set('Origin', url).send({}),
        /token is read-only/,
      ],
    ];
    for (const [what, req, reason] of cases) {
      const res = await req;
      assert.equal(res.status, 403, what);
      assert.match(res.text, reason, what);
    }
    assert.equal((await h.pool.query('SELECT count(*)::int AS n FROM dashboard_actions')).rows[0].n, before);
  });

  test('a writer re-runs, checks drift, is refused heal and release with reasons: each recorded and shown', async () => {
    const alice = await signIn('alice');
    const envPath = `/environments/${encodeURIComponent(FULL_NAME)}/${ENV}`;
    const act = async (pathname: string, extra: Record<string, string> = {}) => {
      const page = await request(url)
        .get(pathname.replace(/\/[^/]+$/, ''))
        .set('Cookie', alice);
      return request(url)
        .post(pathname)
        .set('Cookie', alice)
        .set('Origin', url)
        .type('form')
        .send({ _csrf: csrfIn(page.text), ...extra });
    };
    const rerun = await act(`/runs/${applyRun}/rerun`);
    assert.equal(rerun.status, 303, rerun.text);
    assert.equal(rerun.headers.location, `/runs/${applyRun}#actions`);
    const drift = await act(`${envPath}/check-drift`);
    assert.equal(drift.status, 303, drift.text);
    await waitFor(
      'the drift check ran',
      async () =>
        (await h.pool.query(`SELECT 1 FROM runs WHERE kind = 'drift' AND status <> 'running'`)).rowCount === 1,
    );
    const heal = await act(`${envPath}/heal`);
    assert.equal(heal.status, 409);
    assert.match(heal.text, /no node of test is drifted: nothing to heal/);
    const release = await act(`${envPath}/release`, { sha: (await h.repo.head()).slice(0, 12) });
    assert.equal(release.status, 409);
    assert.match(release.text, /nothing of test waits for release/);
    const cancel = await act(`/runs/${applyRun}/cancel`);
    assert.equal(cancel.status, 409);
    assert.match(cancel.text, /is not running \(it ended succeeded\)/);

    const { rows } = await h.pool.query(
      `SELECT login, action, outcome, message, at FROM dashboard_actions WHERE login = 'alice' ORDER BY id`,
    );
    assert.deepEqual(
      rows.map((r) => [r.action, r.outcome]),
      [
        ['rerun', 'done'],
        ['check-drift', 'done'],
        ['heal', 'refused'],
        ['release', 'refused'],
        ['cancel', 'refused'],
      ],
    );
    assert.ok(rows.every((r) => r.at instanceof Date));
    const envPage = await request(url).get(envPath).set('Cookie', alice);
    assert.match(envPage.text, /<tr data-outcome="done"><td>[^<]+<\/td><td>alice<\/td><td>Check drift now<\/td>/);
    assert.match(envPage.text, /<tr data-outcome="refused">.*no node of test is drifted/);
    const jobs = await h.pool.query(`SELECT count(*)::int AS n FROM runs WHERE kind = 'drift'`);
    assert.equal(jobs.rows[0].n, 1);
  });

  test('a writer heals drift found by Check drift now: the heal is recorded and the node is ready again', async () => {
    const alice = await signIn('alice');
    const envPath = `/environments/${encodeURIComponent(FULL_NAME)}/${ENV}`;
    const post = async (action: string) => {
      const page = await request(url).get(envPath).set('Cookie', alice);
      return request(url)
        .post(`${envPath}/${action}`)
        .set('Cookie', alice)
        .set('Origin', url)
        .type('form')
        .send({ _csrf: csrfIn(page.text) });
    };
    // Someone removes what db's task made.
    await rm(path.join(h.ssh.hosts[0].home, 'state'), { recursive: true, force: true });
    assert.equal((await post('check-drift')).status, 303);
    await waitFor('db drifted', async () => {
      const { rows } = await h.pool.query(
        `SELECT n.state FROM nodes n JOIN environments e ON e.id = n.environment_id WHERE e.name = $1 AND n.path = 'db'`,
        [ENV],
      );
      return rows[0]?.state === 'drifted';
    });
    const page = await request(url).get(envPath).set('Cookie', alice);
    assert.match(page.text, /data-action="heal"/);
    assert.equal((await post('heal')).status, 303);
    await waitFor('db healed', async () => {
      const { rows } = await h.pool.query(
        `SELECT n.state FROM nodes n JOIN environments e ON e.id = n.environment_id WHERE e.name = $1 AND n.path = 'db'`,
        [ENV],
      );
      return rows[0]?.state === 'ready';
    });
    await access(path.join(h.ssh.hosts[0].home, 'state', 'v1'));
    const { rows } = await h.pool.query(
      `SELECT action, outcome, message FROM dashboard_actions WHERE action = 'heal' AND outcome = 'done'`,
    );
    assert.equal(rows.length, 1);
    assert.match(rows[0].message, /heal of test queued \(1 drifted node; job \d+\)/);
    const trigger = await h.pool.query(`SELECT trigger FROM runs WHERE kind = 'drift' ORDER BY id DESC LIMIT 1`);
    assert.equal(trigger.rows[0].trigger, 'dashboard: heal by alice');
  });

  test('Cancel stops a running apply as Ctrl-C does: nothing new starts, the run ends cancelled, recorded', async () => {
    const alice = await signIn('alice');
    const before = await h.repo.head();
    const next = await h.repo.commit({ 'politburo.yml': description(h.ssh.hosts, { version: 'v2', wait: true }) });
    await h.send('push', pushPayload(h.repo, { before, after: next }), url);
    // db's task is running (it waits for ~/go); web waits for db.
    const run = await waitFor('the apply of v2 running db', async () => {
      const { rows } = await h.pool.query(
        `SELECT r.id FROM runs r JOIN node_runs n ON n.run_id = r.id
          WHERE r.commit = $1 AND r.status = 'running' AND n.path = 'db'`,
        [next],
      );
      return rows[0] ? String(rows[0].id) : null;
    });
    const page = await request(url).get(`/runs/${run}`).set('Cookie', alice);
    assert.match(page.text, /data-action="cancel"/);
    assert.doesNotMatch(page.text, /data-action="rerun"/, 'a running run is not re-run');
    const cancel = await request(url)
      .post(`/runs/${run}/cancel`)
      .set('Cookie', alice)
      .set('Origin', url)
      .type('form')
      .send({ _csrf: csrfIn(page.text) });
    assert.equal(cancel.status, 303, cancel.text);
    // Running tasks have their grace period (10 s): meanwhile the page says the cancel was asked for, with no button.
    const meanwhile = await request(url).get(`/runs/${run}`).set('Cookie', alice);
    assert.match(meanwhile.text, /data-cancel-requested="\d+">Cancel asked for by alice at /);
    assert.doesNotMatch(meanwhile.text, /data-action="cancel"/);
    // The process running it stops it: db's task gets its grace and is then stopped; web never starts.
    const ended = await waitFor('the run to end', async () => {
      const { rows } = await h.pool.query(
        `SELECT status, cancel_requested_by FROM runs WHERE id = $1 AND status <> 'running'`,
        [run],
      );
      return rows[0];
    });
    assert.deepEqual(ended, { status: 'cancelled', cancel_requested_by: 'alice' });
    const nodes = await h.pool.query(`SELECT path, state, reason FROM node_runs WHERE run_id = $1 ORDER BY path`, [
      run,
    ]);
    const web = nodes.rows.find((n) => n.path === 'web');
    assert.ok(!web || /Interrupted/.test(web.reason), `web never ran: ${JSON.stringify(web)}`);
    const db = nodes.rows.find((n) => n.path === 'db');
    assert.match(db.reason ?? '', /Interrupted/);
    const { rows } = await h.pool.query(
      `SELECT action, outcome, run_id::text AS run FROM dashboard_actions WHERE action = 'cancel' AND outcome = 'done'`,
    );
    assert.deepEqual(rows, [{ action: 'cancel', outcome: 'done', run }]);
    await waitFor('the check says cancelled', () => h.checks(next).get(`politburo/${ENV}`)?.status === 'completed');
    const again = await request(url).get(`/runs/${run}`).set('Cookie', alice);
    assert.match(again.text, /cancel of run #\d+ requested/);
    assert.doesNotMatch(again.text, /data-action="cancel"/);
  });
});

describe('e2e: releasing a manual environment from the dashboard', () => {
  let h: Harness;
  let url: string;
  before(async () => {
    h = await startHarness({
      controllers: 0,
      files: (hosts) => ({ 'politburo.yml': description(hosts, { version: 'v1', extra: '    apply: manual' }) }),
    });
    url = (
      await h.startController({
        GITHUB_CLIENT_ID: h.github.oauth.clientId,
        GITHUB_CLIENT_SECRET: h.github.oauth.clientSecret,
        GITHUB_URL: h.github.url,
        POLITBURO_PUBLIC_URL: '',
      })
    ).url;
    h.github.state.permissions.set(`${FULL_NAME}:boss`, 'admin');
  });
  after(async () => {
    await h?.stop();
  });

  test('a waiting commit gets a Release button; releasing applies exactly it, recorded as LOGIN via dashboard', async () => {
    const sha = await h.repo.head();
    await h.send('push', pushPayload(h.repo, { before: '0'.repeat(40), after: sha }), url);
    await waitFor('the waiting check', () => h.checks(sha).get(`politburo/${ENV}`)?.conclusion === 'neutral');
    h.github.oauth.signInAs('boss');
    const start = await request(url).get('/auth/github/login');
    const consent = await fetch(start.headers.location, { redirect: 'manual' });
    const callback = new URL(consent.headers.get('location')!);
    const signedIn = await request(url)
      .get(callback.pathname + callback.search)
      .set('Cookie', cookieOf(start, 'politburo_oauth')!);
    const boss = cookieOf(signedIn, 'politburo_session')!;
    const envPath = `/environments/${encodeURIComponent(FULL_NAME)}/${ENV}`;
    const page = await request(url).get(envPath).set('Cookie', boss);
    assert.equal(page.status, 200, 'a described environment never applied has its page');
    assert.match(
      page.text,
      new RegExp(
        `data-action="release"><input type="hidden" name="_csrf" value="[^"]+"><input type="hidden" name="sha" value="${sha}">`,
      ),
    );
    const released = await request(url)
      .post(`${envPath}/release`)
      .set('Cookie', boss)
      .set('Origin', url)
      .type('form')
      .send({ _csrf: csrfIn(page.text), sha });
    assert.equal(released.status, 303, released.text);
    await waitFor('applied', () => h.checks(sha).get(`politburo/${ENV}`)?.conclusion === 'success');
    const { rows } = await h.pool.query('SELECT released_by FROM releases WHERE commit = $1', [sha]);
    assert.deepEqual(rows, [{ released_by: 'boss via dashboard' }]);
    const run = await h.pool.query(`SELECT commit, trigger FROM runs WHERE kind = 'apply'`);
    assert.deepEqual(run.rows, [{ commit: sha, trigger: `/politburo apply ${ENV} by boss via dashboard` }]);
    const again = await request(url)
      .post(`${envPath}/release`)
      .set('Cookie', boss)
      .set('Origin', url)
      .type('form')
      .send({ _csrf: csrfIn(page.text), sha });
    assert.equal(again.status, 409);
    assert.match(again.text, /was released already, by boss via dashboard/);
    const actions = await h.pool.query(`SELECT login, action, outcome FROM dashboard_actions ORDER BY id`);
    assert.deepEqual(actions.rows, [
      { login: 'boss', action: 'release', outcome: 'done' },
      { login: 'boss', action: 'release', outcome: 'refused' },
    ]);

    // An apply someone runs with the CLI against the same database is stopped where it runs, with Ctrl-C.
    const store = createPgStore(h.pool);
    const cli = await store.startRun({
      repository: FULL_NAME,
      environment: 'laptop',
      commit: sha,
      kind: 'apply',
      trigger: 'cli:apply',
    });
    const cliPage = await request(url).get(`/runs/${cli.id}`).set('Cookie', boss);
    assert.doesNotMatch(cliPage.text, /data-action="cancel"/);
    const refused = await request(url)
      .post(`/runs/${cli.id}/cancel`)
      .set('Cookie', boss)
      .set('Origin', url)
      .type('form')
      .send({ _csrf: csrfIn(cliPage.text) });
    assert.equal(refused.status, 409);
    assert.match(refused.text, /was started by politburo on the command line.*: stop it there with Ctrl-C/);
    await store.finishRun(cli.id, 'succeeded', {});
  });
});

describe('e2e: Cancel reaches the process that runs the apply', () => {
  let h: Harness;
  let runner: ControllerProcess | undefined;
  let dashboard: RunningController | undefined;
  before(async () => {
    h = await startHarness({
      controllers: 0,
      files: (hosts) => ({ 'politburo.yml': description(hosts, { version: 'v1', wait: true }) }),
    });
    h.github.state.permissions.set(`${FULL_NAME}:alice`, 'write');
    // One process runs the jobs; the dashboard is served by another that runs none of them.
    runner = await spawnController({ ...h.env, POLITBURO_DATA_DIR: `${h.env.POLITBURO_DATA_DIR}/runner` });
    const config = readConfig({
      ...h.env,
      POLITBURO_DATA_DIR: `${h.env.POLITBURO_DATA_DIR}/dashboard`,
      GITHUB_CLIENT_ID: h.github.oauth.clientId,
      GITHUB_CLIENT_SECRET: h.github.oauth.clientSecret,
      GITHUB_URL: h.github.url,
      POLITBURO_PUBLIC_URL: '',
    });
    dashboard = await startController(config, {
      logger: createLogger({ level: config.logLevel }),
      createFlows: (ctx) => ({ ...createFlows(ctx), taskList: { 'not-a-job-of-ours': async () => undefined } }),
    });
  });
  after(async () => {
    for (const host of h?.ssh.hosts ?? []) await writeFile(path.join(host.home, 'go'), '').catch(() => undefined);
    await dashboard?.stop('test over');
    await runner?.kill();
    await h?.stop();
  });

  test('the run started by another process ends cancelled; a second cancel is refused naming who asked', async () => {
    const sha = await h.repo.head();
    await h.send('push', pushPayload(h.repo, { before: '0'.repeat(40), after: sha }), runner!.url);
    const run = await waitFor('db running in the runner process', async () => {
      const { rows } = await h.pool.query(
        `SELECT r.id, r.owner_pid FROM runs r JOIN node_runs n ON n.run_id = r.id
          WHERE r.status = 'running' AND n.path = 'db'`,
      );
      return rows[0] as { id: string; owner_pid: number } | undefined;
    });
    assert.equal(run.owner_pid, runner!.child.pid, 'the apply runs in the other process');
    const url = dashboard!.url;
    h.github.oauth.signInAs('alice');
    const start = await request(url).get('/auth/github/login');
    const consent = await fetch(start.headers.location, { redirect: 'manual' });
    const callback = new URL(consent.headers.get('location')!);
    const signedIn = await request(url)
      .get(callback.pathname + callback.search)
      .set('Cookie', cookieOf(start, 'politburo_oauth')!);
    const alice = cookieOf(signedIn, 'politburo_session')!;
    const page = await request(url).get(`/runs/${run.id}`).set('Cookie', alice);
    const cancel = () =>
      request(url)
        .post(`/runs/${run.id}/cancel`)
        .set('Cookie', alice)
        .set('Origin', url)
        .type('form')
        .send({ _csrf: csrfIn(page.text) });
    assert.equal((await cancel()).status, 303);
    const second = await cancel();
    assert.equal(second.status, 409, second.text);
    assert.match(second.text, /a cancel of run #\d+ was asked for already, by alice at /);
    await waitFor('the run cancelled by its owner', async () => {
      const { rows } = await h.pool.query('SELECT status FROM runs WHERE id = $1', [run.id]);
      return rows[0].status === 'cancelled';
    });
    await waitFor('the check completed', () => h.checks(sha).get(`politburo/${ENV}`)?.status === 'completed');
  });
});
