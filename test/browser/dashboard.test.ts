/**
 * The dashboard in real Chromium (docs/controller.md, "The dashboard"), on the real controller with sshd hosts, the
 * GitHub fake and PostgreSQL: sign-in through GitHub's web flow, what a reader and a writer see, forged POSTs refused,
 * every page at 1400×1000 and 390×844 (no console error, no sideways scrolling, screenshots within tolerance of their
 * baselines, taken while the environment is at rest after its first apply), markup from a repository, a push and a
 * task's output shown as text on every page and in the event stream, a run page (states, output, the timeline's lanes)
 * and an environment page (the graph's node states, the health counts, the task rates) updated live while an apply
 * runs, Cancel from the browser, a node the next apply terminates taken off an open environment page (table and
 * graph), and nodes a newer commit adds put on it, then one of them terminated without leaving a shared line behind.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { SshHost } from '../helpers/sshd.js';
import { ENV, FULL_NAME, pushPayload, signInEnv, startHarness, waitingApp, type Harness } from '../e2e/harness.js';
import { STATE_COLOURS } from '../../render/graph/state-colours.js';
import { waitFor } from '../helpers/wait-for.js';
import {
  compareScreenshot,
  DESKTOP,
  launchBrowser,
  overflowsSideways,
  PHONE,
  watchedPage,
  type WatchedPage,
} from '../helpers/browser.js';

/** Markup a repository's author or a task's output controls; it must show as text, never become elements. */
const XSS_NAME = `<img src=x id=xss-name>`;
const XSS_OUTPUT = `<b id=xss-output>loud</b>`;
const XSS_PUSHER = `<i id=xss-pusher>`;

/** The app of the e2e tests; with `wait`, db's task prints a line with markup and waits for `~/go-VERSION`. */
function description(hosts: SshHost[], o: { version: string; wait?: boolean }): string {
  return waitingApp(hosts, {
    version: o.version,
    label: XSS_NAME,
    say: `${XSS_OUTPUT} working on ${o.version}`,
    waitFile: o.wait ? `go-${o.version}` : undefined,
  });
}

/** The same app without `web`: applying it terminates web. */
function withoutWeb(yaml: string): string {
  const lines = yaml.split('\n');
  const start = lines.indexOf('      web:');
  assert.ok(start > 0, 'the app has web');
  let end = start + 1;
  while (end < lines.length && lines[end].startsWith('        ')) end++;
  lines.splice(start, end - start);
  const out = lines.join('\n').replace(/, web: \{[^}]*\}/, '');
  assert.doesNotMatch(out, /\bweb\b/);
  return out;
}

/**
 * The app with more nodes like web, on web's host: `[path, what it depends on]` each. With two nodes depending on db
 * and one on both, the drawing bundles their arrows (one line from db splitting to both, one joining into the third).
 */
function withNodes(nodes: [string, string[]][]): (yaml: string) => string {
  return (yaml) => {
    const lines = yaml.split('\n');
    const start = lines.indexOf('      web:');
    assert.ok(start > 0, 'the app has web');
    let end = start + 1;
    while (end < lines.length && lines[end].startsWith('        ')) end++;
    const body = lines.slice(start + 1, end).filter((l) => !l.startsWith('        depends_on:'));
    lines.splice(
      end,
      0,
      ...nodes.flatMap(([p, deps]) => [`      ${p}:`, `        depends_on: [${deps.join(', ')}]`, ...body]),
    );
    const out = lines.join('\n').replace(/, web: (\{[^}]*\})/, (all, host: string) => {
      return all + nodes.map(([p]) => `, ${p}: ${host}`).join('');
    });
    assert.equal(out.split('\n').filter((l) => /^ {6}\S/.test(l)).length, 2 + nodes.length);
    return out;
  };
}

/** Gives times and durations one fixed text each (run in the page before a screenshot). */
const FREEZE_TIMES = `
  for (const el of document.querySelectorAll('time')) el.textContent = '2026-01-01 00:00:00Z';
  for (const el of document.querySelectorAll('[data-run-took]')) el.textContent = '1.0s';
  for (const el of document.querySelectorAll('[data-run-finished]')) el.textContent = '2026-01-01 00:00:00Z (1.0s)';
`;

const ENV_PATH = `/environments/${encodeURIComponent(FULL_NAME)}/${ENV}`;

/** The Health card of an environment page's status at a glance, as it reads (`Health ready 2`). */
async function healthOf(page: Page): Promise<string> {
  const card = page.locator('.glance .card').filter({ has: page.locator('h2', { hasText: 'Health' }) });
  // Its title is upper case on screen: read as written.
  return ((await card.textContent()) ?? '')
    .replace(/^\s*Health/, 'Health ')
    .replace(/\s+/g, ' ')
    .trim();
}

describe('browser: the dashboard in Chromium', () => {
  let h: Harness;
  let browser: Browser;
  let url: string;
  let firstRun: string;
  const contexts: BrowserContext[] = [];

  /** Pushes a new commit with the given description (`edit`: changed first) and returns it. */
  async function push(version: string, wait = false, edit: (yaml: string) => string = (y) => y): Promise<string> {
    const before = await h.repo.head();
    const after = await h.repo.commit(
      { 'politburo.yml': edit(description(h.ssh.hosts, { version, wait })) },
      `${version} ${XSS_NAME}`,
    );
    const payload = pushPayload(h.repo, { before, after });
    payload.pusher = { name: XSS_PUSHER, email: 'x@example.com' };
    await h.send('push', payload, url);
    return after;
  }

  /** The id of the apply of a commit, once it has started. */
  async function runOf(sha: string): Promise<string> {
    let id = '';
    await waitFor(`the apply of ${sha.slice(0, 7)} to start`, async () => {
      const { rows } = await h.pool.query(`SELECT id FROM runs WHERE kind = 'apply' AND commit = $1`, [sha]);
      id = rows[0] ? String(rows[0].id) : '';
      return id !== '';
    });
    return id;
  }

  const runStatus = async (id: string) =>
    String((await h.pool.query(`SELECT status FROM runs WHERE id = $1`, [id])).rows[0]?.status);

  /** A browser page signed in as `login` through GitHub's web flow, as a person would: the link, consent, back. */
  async function signedIn(login: string, viewport: { width: number; height: number } = DESKTOP): Promise<WatchedPage> {
    const w = await watchedPage(browser, viewport);
    contexts.push(w.context);
    h.github.oauth.signInAs(login);
    await w.page.goto(`${url}/runs`);
    await w.page.getByRole('link', { name: 'Sign in with GitHub' }).click();
    await w.page.waitForURL(`${url}/runs`);
    assert.match((await w.page.locator('header').textContent()) ?? '', new RegExp(`Signed in as ${login}`));
    return w;
  }

  /** Asserts no element was made of injected markup, and that the markup shows as text where it appears. */
  async function assertInert(page: Page): Promise<void> {
    assert.equal(await page.locator('[id^="xss-"]').count(), 0, `no injected element on ${page.url()}`);
  }

  before(async () => {
    h = await startHarness({
      controllers: 0,
      files: (hosts) => ({ 'politburo.yml': description(hosts, { version: 'v1' }) }),
    });
    const c = await h.startController({ ...signInEnv(h.github) });
    url = c.url;
    h.github.state.permissions.set(`${FULL_NAME}:alice`, 'write');
    h.github.state.permissions.set(`${FULL_NAME}:bob`, 'read');
    browser = await launchBrowser();
    const first = await h.repo.head();
    const payload = pushPayload(h.repo, { before: '0'.repeat(40), after: first });
    payload.pusher = { name: XSS_PUSHER, email: 'x@example.com' };
    await h.send('push', payload, url);
    await waitFor('the first apply', () => h.checks(first).get(`politburo/${ENV}`)?.conclusion === 'success', 120_000);
    firstRun = await runOf(first);
  });
  after(async () => {
    for (const host of h?.ssh.hosts ?? [])
      for (const v of ['v2', 'v3']) await writeFile(path.join(host.home, `go-${v}`), '').catch(() => undefined);
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close().catch(() => undefined);
    await h?.stop();
  });

  test('sign in with GitHub from the page a person was refused, and land back on it', async () => {
    const w = await watchedPage(browser);
    contexts.push(w.context);
    const refused = await w.page.goto(`${url}${ENV_PATH}`);
    assert.equal(refused?.status(), 401);
    h.github.oauth.signInAs('alice');
    await w.page.getByRole('link', { name: 'Sign in with GitHub' }).click();
    await w.page.waitForURL(`${url}${ENV_PATH}`);
    assert.match((await w.page.locator('header').textContent()) ?? '', /Signed in as alice/);
    assert.match((await w.page.locator('h1').first().textContent()) ?? '', new RegExp(ENV));
    await w.page.getByRole('button', { name: 'Sign out' }).click();
    await w.page.waitForLoadState();
    assert.equal((await w.page.goto(`${url}${ENV_PATH}`))?.status(), 401);
    assert.deepEqual(w.problems, []);
  });

  test('a reader sees no button a writer sees; forged POSTs are refused', async () => {
    const alice = await signedIn('alice');
    const bob = await signedIn('bob');
    const actions = (p: Page) =>
      p
        .locator('form[data-action]:not([data-action="sign-out"])')
        .evaluateAll((forms) => forms.map((f) => f.getAttribute('data-action')));
    for (const where of [ENV_PATH, `/runs/${firstRun}`]) {
      await alice.page.goto(`${url}${where}`);
      await bob.page.goto(`${url}${where}`);
      assert.ok((await actions(alice.page)).length > 0, `a writer has actions on ${where}`);
      assert.deepEqual(await actions(bob.page), [], `a reader has none on ${where}`);
    }
    await alice.page.goto(`${url}${ENV_PATH}`);
    assert.ok((await actions(alice.page)).includes('check-drift'));
    // The writer's own browser, without the form's CSRF token: refused, nothing recorded as done.
    const forged = await alice.page.evaluate(async (target) => {
      const r = await fetch(target, { method: 'POST', body: new URLSearchParams({}), redirect: 'manual' });
      return r.status;
    }, `${url}${ENV_PATH}/check-drift`);
    assert.equal(forged, 403);
    // A browser with no session at all.
    const anonymous = await watchedPage(browser);
    contexts.push(anonymous.context);
    await anonymous.page.goto(`${url}/healthz`);
    const noSession = await anonymous.page.evaluate(async (target) => {
      const r = await fetch(target, { method: 'POST', body: new URLSearchParams({ _csrf: 'guess' }) });
      return r.status;
    }, `${url}${ENV_PATH}/check-drift`);
    assert.ok(noSession === 401 || noSession === 403, `refused without a session (got ${noSession})`);
    const { rows } = await h.pool.query(
      `SELECT count(*)::int AS n FROM dashboard_actions WHERE action = 'check-drift' AND outcome = 'done'`,
    );
    assert.equal(rows[0].n, 0);
  });

  test('every page at desktop and phone sizes: no error, no sideways scrolling, as in its screenshot', async () => {
    const pages: [string, string][] = [
      ['environments', '/'],
      ['runs', '/runs'],
      ['environment', ENV_PATH],
      ['run', `/runs/${firstRun}`],
    ];
    for (const [size, viewport] of [
      ['desktop', DESKTOP],
      ['phone', PHONE],
    ] as const) {
      const w = await signedIn('bob', viewport);
      for (const [name, where] of pages) {
        const res = await w.page.goto(`${url}${where}`);
        assert.equal(res?.status(), 200, `${name} answers 200`);
        await w.page.waitForLoadState('networkidle').catch(() => undefined);
        assert.equal(await overflowsSideways(w.page), false, `${name} at ${size} does not scroll sideways`);
        await assertInert(w.page);
        // What changes from run to run (times, durations, commits, ports, ids) is masked; times and durations are
        // first given one fixed text each, so that their length (a slower run's duration) cannot move the layout.
        await w.page.evaluate(FREEZE_TIMES);
        const mask = [w.page.locator('time, .mono, .timeline, .muted, [data-run-took], [data-run-finished], svg text')];
        await compareScreenshot(w.page, `${name}-${size}`, mask);
      }
      assert.deepEqual(w.problems, [], `no console errors or failed requests at ${size}`);
    }
  });

  test('markup from the repository, the push and the task output shows as text on every page', async () => {
    const w = await signedIn('alice');
    for (const where of ['/', '/runs', ENV_PATH, `/runs/${firstRun}`]) {
      await w.page.goto(`${url}${where}`);
      await assertInert(w.page);
    }
    await w.page.goto(`${url}/runs/${firstRun}`);
    const text = (await w.page.locator('main').textContent()) ?? '';
    assert.ok(text.includes(XSS_NAME), 'the task name shows with its markup as text');
    assert.ok(text.includes(XSS_PUSHER) || text.includes('push'), 'the trigger shows');
    await w.page.locator('[data-log-details="db"] summary').click();
    assert.ok(((await w.page.locator('[data-log="db"]').textContent()) ?? '').includes(XSS_OUTPUT));
    assert.deepEqual(w.problems, []);
  });
  test('a run page and an environment page are updated live while the apply runs: states, output, timeline, graph', async () => {
    const alice = await signedIn('alice');
    const sha = await push('v2', true);
    const run = await runOf(sha);
    await alice.page.goto(`${url}/runs/${run}`);
    // A mark on the document: a reload would lose it.
    await alice.page.evaluate(`document.documentElement.setAttribute('data-stayed', 'yes')`);
    const db = alice.page.locator('[data-node-state="db"]');
    const log = alice.page.locator('[data-log="db"]');
    // The running task's output arrives while it runs (the task waits for ~/go-v2).
    await waitFor('db to be configuring on the page', async () => (await db.textContent()) === 'configuring');
    await waitFor('the running output on the page', async () => /working on v2/.test((await log.textContent()) ?? ''));
    assert.equal(await runStatus(run), 'running');
    assert.match((await log.textContent()) ?? '', /<b id=xss-output>loud<\/b> working on v2/);
    await assertInert(alice.page);
    // The timeline: db has its lane, growing while it runs; web, waiting for db, has none yet.
    const dbBar = alice.page.locator('[data-lane="db"] .bar');
    const webLane = alice.page.locator('[data-lane="web"]');
    await waitFor('db in the timeline', async () => /^configuring · /.test((await dbBar.textContent()) ?? ''));
    const growing = await dbBar.textContent();
    await waitFor("db's bar to grow", async () => (await dbBar.textContent()) !== growing);
    assert.equal(await webLane.count(), 0);

    // The environment's page, open meanwhile: its graph shows db configuring.
    const envPage = await alice.context.newPage();
    await envPage.goto(`${url}${ENV_PATH}`);
    await envPage.evaluate(`document.documentElement.setAttribute('data-stayed', 'yes')`);
    const dbBox = envPage.locator('g.node[data-path="db"]');
    const envErrors: string[] = [];
    envPage.on('pageerror', (e) => envErrors.push(e.message));
    const boxState = async () => ({
      states: ((await dbBox.getAttribute('class')) ?? '').split(' ').filter((c) => c.startsWith('state-')),
      text: await dbBox.locator('.node-state').textContent(),
      fill: await dbBox.locator('rect').first().getAttribute('fill'),
    });
    assert.deepEqual(await boxState(), {
      states: ['state-configuring'],
      text: 'configuring',
      fill: STATE_COLOURS.configuring.fill,
    });
    await waitFor(
      'the environment stream open',
      async () => (await envPage.locator('main').getAttribute('data-live-state')) === 'open',
    );
    // Health, in the status at a glance: db is counted configuring while the apply runs.
    assert.match(await healthOf(envPage), /^Health .*configuring 1/);
    // The run's buttons while it runs: Cancel, no Rerun.
    const buttons = async () =>
      Promise.all(['cancel', 'rerun'].map((a) => alice.page.locator(`form[data-action="${a}"]`).count()));
    assert.deepEqual(await buttons(), [1, 0]);

    await writeFile(path.join(h.ssh.hosts[0].home, 'go-v2'), '');
    await waitFor('db ready on the page', async () => (await db.textContent()) === 'ready');
    await waitFor(
      'web ready on the page',
      async () => (await alice.page.locator('[data-node-state="web"]').textContent()) === 'ready',
    );
    await waitFor(
      'the run succeeded on the page',
      async () => (await alice.page.locator(`[data-run-status="${run}"]`).first().textContent()) === 'succeeded',
    );
    // The buttons follow the run, without a reload: it ended, so Rerun and no Cancel.
    await waitFor('Rerun instead of Cancel on the run page', async () => (await buttons()).join() === '0,1');
    // The timeline gained web's lane once it started, under its own host, and both bars say how they ended.
    await waitFor('web in the timeline', async () =>
      /^ready · /.test((await webLane.locator('.bar').textContent()) ?? ''),
    );
    assert.match((await dbBar.textContent()) ?? '', /^ready · /);
    assert.equal(
      await webLane.evaluate((l) => l.closest('[data-timeline-host]')?.getAttribute('data-timeline-host')),
      await alice.page.locator('[data-node-host="web"]').textContent(),
    );
    assert.equal(await alice.page.locator('[data-timeline-empty]').count(), 0);
    assert.equal(await alice.page.locator('html').getAttribute('data-stayed'), 'yes', 'the page was not reloaded');
    await assertInert(alice.page);
    assert.deepEqual(alice.problems, []);

    // The graph turned db ready: class, colour and the state in words, with the table, without a reload.
    await waitFor('db ready in the graph', async () => (await boxState()).text === 'ready');
    assert.deepEqual(await boxState(), { states: ['state-ready'], text: 'ready', fill: STATE_COLOURS.ready.fill });
    assert.match((await dbBox.locator('title').textContent()) ?? '', /: ready$/);
    assert.equal(await envPage.locator('[data-node-row="db"] [data-node-state="db"]').textContent(), 'ready');
    assert.equal(
      await envPage.locator('html').getAttribute('data-stayed'),
      'yes',
      'the environment page was not reloaded',
    );
    // The status at a glance and the task rates follow too: health counts both ready, the rates name v2's task.
    await waitFor('health: both nodes ready', async () => (await healthOf(envPage)) === 'Health ready 2');
    const rates = envPage.locator('[data-live-region="tasks"]');
    await waitFor('the v2 task in the rates', async () =>
      ((await rates.textContent()) ?? '').includes(`marker v2 ${XSS_NAME}`),
    );
    assert.equal(
      await envPage.locator('html').getAttribute('data-stayed'),
      'yes',
      'the environment page was not reloaded',
    );
    // What the server rendered again is put in as it rendered it: the markup in the task's name is still text.
    await assertInert(envPage);
    assert.deepEqual(envErrors, []);
    await envPage.close();
  });

  test('Cancel from the browser stops the run, and the action is recorded', async () => {
    const alice = await signedIn('alice');
    const sha = await push('v3', true);
    const run = await runOf(sha);
    await alice.page.goto(`${url}/runs/${run}`);
    await waitFor(
      'db configuring',
      async () => (await alice.page.locator('[data-node-state="db"]').textContent()) === 'configuring',
    );
    await alice.page.locator('form[data-action="cancel"] button').click();
    await alice.page.waitForLoadState();
    await waitFor('the run to end cancelled', async () => (await runStatus(run)) === 'cancelled', 120_000);
    // Nothing new started: web, after db, never ran.
    const { rows: web } = await h.pool.query(`SELECT state FROM node_runs WHERE run_id = $1 AND path = 'web'`, [run]);
    assert.notEqual(web[0]?.state, 'ready');
    const { rows } = await h.pool.query(
      `SELECT login, action, outcome FROM dashboard_actions WHERE action = 'cancel' AND outcome = 'done'`,
    );
    assert.deepEqual(
      rows.map((r) => r.login),
      ['alice'],
    );
    await alice.page.goto(`${url}/runs/${run}`);
    assert.equal(await alice.page.locator(`[data-run-status="${run}"]`).first().textContent(), 'cancelled');
    for (const host of h.ssh.hosts) await writeFile(path.join(host.home, 'go-v3'), '');
  });

  test('a node the next apply terminates disappears from an open environment page: its row and its box', async () => {
    const alice = await signedIn('alice');
    await alice.page.goto(`${url}${ENV_PATH}`);
    await alice.page.evaluate(`document.documentElement.setAttribute('data-stayed', 'yes')`);
    const rows = alice.page.locator('[data-node-row]');
    const boxes = alice.page.locator('g.node[data-path]');
    const paths = (l: typeof rows, attr: string) => l.evaluateAll((es, a) => es.map((e) => e.getAttribute(a)), attr);
    assert.deepEqual((await paths(rows, 'data-node-row')).sort(), ['db', 'web']);
    assert.deepEqual((await paths(boxes, 'data-path')).sort(), ['db', 'web']);
    await waitFor(
      'the environment stream open',
      async () => (await alice.page.locator('main').getAttribute('data-live-state')) === 'open',
    );
    const sha = await push('v4', false, withoutWeb);
    await waitFor('the apply of v4', () => h.checks(sha).get(`politburo/${ENV}`)?.conclusion === 'success', 120_000);
    const { rows: web } = await h.pool.query(`SELECT state FROM node_runs WHERE run_id = $1 AND path = 'web'`, [
      await runOf(sha),
    ]);
    assert.equal(web[0]?.state, 'terminated');
    await waitFor('web gone from the table', async () => (await paths(rows, 'data-node-row')).join() === 'db');
    await waitFor('web gone from the graph', async () => (await paths(boxes, 'data-path')).join() === 'db');
    // No arrow is left pointing at it.
    const toWeb = await alice.page
      .locator('svg [data-to]')
      .evaluateAll((es) => es.filter((e) => (e.getAttribute('data-to') ?? '').split(' ').includes('web')).length);
    assert.equal(toWeb, 0);
    assert.equal(await alice.page.locator('html').getAttribute('data-stayed'), 'yes', 'the page was not reloaded');
    assert.deepEqual(alice.problems, []);
  });

  test('nodes a newer commit adds appear on an open environment page, and one terminated leaves no shared line', async () => {
    const alice = await signedIn('alice');
    await alice.page.goto(`${url}${ENV_PATH}`);
    await alice.page.evaluate(`document.documentElement.setAttribute('data-stayed', 'yes')`);
    const page = alice.page;
    const rows = page.locator('[data-node-row]');
    const boxes = page.locator('g.node[data-path]');
    const paths = async (l: typeof rows, attr: string) =>
      (await l.evaluateAll((es, a) => es.map((e) => e.getAttribute(a)), attr)).sort().join(' ');
    // The page shows db alone (the last apply terminated web).
    assert.equal(await paths(rows, 'data-node-row'), 'db');
    assert.equal(await paths(boxes, 'data-path'), 'db');
    await waitFor(
      'the environment stream open',
      async () => (await page.locator('main').getAttribute('data-live-state')) === 'open',
    );
    // The reader's choice of size, and focus on it, outlive the graph being put in again.
    await page.locator('label[for="zoom-100"]').click();
    assert.equal(await page.evaluate(`document.activeElement && document.activeElement.id`), 'zoom-100');

    // A commit that adds web back, web2 beside it, and lb behind both: their rows and boxes appear once it is applied.
    const added = await push(
      'v5',
      false,
      withNodes([
        ['web2', ['db']],
        ['lb', ['web', 'web2']],
      ]),
    );
    await waitFor('the apply of v5', () => h.checks(added).get(`politburo/${ENV}`)?.conclusion === 'success', 120_000);
    await waitFor('the new rows', async () => (await paths(rows, 'data-node-row')) === 'db lb web web2');
    await waitFor('the new boxes', async () => (await paths(boxes, 'data-path')) === 'db lb web web2');
    await waitFor('their states', async () =>
      (await boxes.locator('.node-state').allTextContents()).every((t) => t === 'ready'),
    );
    /** What the drawing on the page bundles and draws, and the same of the drawing as the server renders it now. */
    const bundles = async () =>
      (await page.evaluate(`(async () => {
        const read = (root) =>
          [...root.querySelectorAll('g.bundle')]
            .map((b) => [b.getAttribute('data-from'), b.getAttribute('data-to'),
              b.querySelector('path.bundle-line')?.getAttribute('d')].join(' | '))
            .sort();
        const fresh = await (await fetch(${JSON.stringify(`${url}${ENV_PATH}/graph.svg`)}, { credentials: 'same-origin' })).text();
        return { page: read(document), server: read(new DOMParser().parseFromString(fresh, 'image/svg+xml')) };
      })()`)) as { page: string[]; server: string[] };
    // db's arrows to web and web2 are one bundle, and so are theirs to lb.
    const named = (list: string[], path: string) =>
      list.filter((b) =>
        b
          .split(' | ')
          .slice(0, 2)
          .some((side) => side.split(' ').includes(path)),
      );
    await waitFor('the drawing as the server draws it', async () => {
      const b = await bundles();
      return b.page.join() === b.server.join();
    });
    assert.deepEqual(
      named((await bundles()).page, 'web2').map((b) => b.split(' | ').slice(0, 2).join(' | ')),
      ['db | web web2', 'web web2 | lb'],
    );
    await assertInert(page);

    // The next commit drops web2: its row and box go, and so do the parts of the shared lines that led to it.
    const dropped = await push('v6', false, withNodes([['lb', ['web']]]));
    await waitFor(
      'the apply of v6',
      () => h.checks(dropped).get(`politburo/${ENV}`)?.conclusion === 'success',
      120_000,
    );
    const { rows: web2 } = await h.pool.query(`SELECT state FROM node_runs WHERE run_id = $1 AND path = 'web2'`, [
      await runOf(dropped),
    ]);
    assert.equal(web2[0]?.state, 'terminated');
    await waitFor('web2 gone from the table', async () => (await paths(rows, 'data-node-row')) === 'db lb web');
    await waitFor('web2 gone from the graph', async () => (await paths(boxes, 'data-path')) === 'db lb web');
    await waitFor('no bundle names web2', async () => named((await bundles()).page, 'web2').length === 0);
    await waitFor('the drawing as the server draws it', async () => {
      const b = await bundles();
      return b.page.join() === b.server.join();
    });
    const edges = await page
      .locator('svg [data-from], svg [data-to]')
      .evaluateAll(
        (es) =>
          es.filter((e) => ['data-from', 'data-to'].some((a) => (e.getAttribute(a) ?? '').split(' ').includes('web2')))
            .length,
      );
    assert.equal(edges, 0);
    // Health counts three nodes; the size chosen and the focus stayed; nothing reloaded the page.
    await waitFor('health: three ready', async () => (await healthOf(page)) === 'Health ready 3');
    assert.equal(await page.locator('#zoom-100').isChecked(), true);
    assert.equal(await page.evaluate(`document.activeElement && document.activeElement.id`), 'zoom-100');
    assert.ok(Number(await page.locator('main').getAttribute('data-live-refreshes')) > 0, 'the page read itself again');
    assert.equal(await page.locator('html').getAttribute('data-stayed'), 'yes', 'the page was not reloaded');
    await assertInert(page);
    assert.deepEqual(alice.problems, []);
  });

  test('a commit waiting for release shows on an open environment page with its Release button, without a reload', async () => {
    const manual = (yaml: string) => yaml.replace('    blueprint: app\n', '    blueprint: app\n    apply: manual\n');
    // The commit that makes the environment manual is applied under the policy before it (docs/language.md).
    const gate = await push('v7', false, manual);
    await waitFor('the apply of v7', () => h.checks(gate).get(`politburo/${ENV}`)?.conclusion === 'success', 120_000);
    const alice = await signedIn('alice');
    const page = alice.page;
    await page.goto(`${url}${ENV_PATH}`);
    await page.evaluate(`document.documentElement.setAttribute('data-stayed', 'yes')`);
    await waitFor(
      'the environment stream open',
      async () => (await page.locator('main').getAttribute('data-live-state')) === 'open',
    );
    const release = page.locator('form[data-action="release"]');
    const card = (title: string) =>
      page.locator('.glance .card').filter({ has: page.locator('h2', { hasText: title }) });
    assert.equal(await release.count(), 0);
    assert.match((await card('Waiting for release').textContent()) ?? '', /nothing waiting/);

    // The front page, open meanwhile: its row for the environment says nothing waits.
    const front = await alice.context.newPage();
    await front.goto(`${url}/`);
    await front.evaluate(`document.documentElement.setAttribute('data-stayed', 'yes')`);
    await waitFor(
      'the front page stream open',
      async () => (await front.locator('main').getAttribute('data-live-state')) === 'open',
    );
    const frontRow = front.locator(`tr[data-env-name="${ENV}"]`);
    assert.doesNotMatch((await frontRow.textContent()) ?? '', /waiting/i);

    // The next commit waits: no run starts, and the page shows it waiting, with the button to release it.
    const waiting = await push('v8', false, manual);
    await waitFor('the Release button', async () => (await release.count()) === 1);
    assert.equal(await release.locator('input[name="sha"]').getAttribute('value'), waiting);
    assert.match((await card('Waiting for release').textContent()) ?? '', new RegExp(waiting.slice(0, 7)));
    assert.match((await card('Sync').textContent()) ?? '', /waiting/i);
    const { rows } = await h.pool.query(`SELECT count(*)::int AS n FROM runs WHERE commit = $1`, [waiting]);
    assert.equal(rows[0].n, 0, 'nothing ran');
    assert.equal(await page.locator('html').getAttribute('data-stayed'), 'yes', 'the page was not reloaded');
    // The front page too: its row says the environment waits for release, one commit since when.
    await waitFor('the front page row waiting for release', async () =>
      /waiting for release.*1 since/i.test(((await frontRow.textContent()) ?? '').replace(/\s+/g, ' ')),
    );
    assert.equal(await front.locator('html').getAttribute('data-stayed'), 'yes', 'the front page was not reloaded');
    await assertInert(front);
    await assertInert(page);
    assert.deepEqual(alice.problems, []);
  });
});
