// Live updates against a real PostgreSQL over real HTTP: what another connection records reaches the event streams
// (node states, running tasks, task rows, log pieces), markup stays inert JSON text, Last-Event-ID resumes with a fresh
// snapshot, heartbeats, clean-up on disconnect, access rules, the stream cap, and a LISTEN connection that is killed.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../../../helpers/db.js';
import { waitFor } from '../../../helpers/wait-for.js';
import { createPgStore, type PgStateStore } from '../../../../store/pg-store.js';
import { recordTaskStarted } from '../../../../store/task-started.js';
import { recordPendingRelease } from '../../../../controller/store/releases.js';
import { STATUS_POLL_MS } from '../../../../controller/dashboard/live-hub.js';
import { liveLog } from '../../../../reconciler/live-log.js';
import { dashboardAuth } from '../../../../controller/dashboard/auth.js';
import { createLiveRouter, LIVE_SCRIPT_URL, type LiveRouter } from '../../../../controller/dashboard/live.js';

const TOKEN = 'live-test-token';
const REPO = 'acme/<img src=x onerror=alert(1)>';
const OTHER = 'secret/repo';
const ENV = 'prod<script>';
const NODE = 'web/<b>1</b>';

interface SseEvent {
  id?: string;
  event: string;
  data: unknown;
}

/** A server-sent events client on node:http: every event parsed, comment lines counted, the raw text kept. */
class SseClient {
  readonly events: SseEvent[] = [];
  raw = '';
  comments = 0;
  status = 0;
  private req: http.ClientRequest;
  private buffer = '';
  ended = false;

  constructor(url: string, headers: Record<string, string> = {}) {
    this.req = http.get(url, { headers: { Accept: 'text/event-stream', ...headers } }, (res) => {
      this.status = res.statusCode ?? 0;
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        this.raw += chunk;
        this.buffer += chunk;
        let cut: number;
        while ((cut = this.buffer.indexOf('\n\n')) >= 0) {
          const block = this.buffer.slice(0, cut);
          this.buffer = this.buffer.slice(cut + 2);
          this.parse(block);
        }
      });
      res.on('end', () => (this.ended = true));
      res.on('error', () => (this.ended = true));
    });
    this.req.on('error', () => (this.ended = true));
  }

  private parse(block: string): void {
    let event = 'message';
    let id: string | undefined;
    const data: string[] = [];
    let fields = 0;
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) {
        this.comments++;
        continue;
      }
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      fields++;
      if (field === 'event') event = value;
      else if (field === 'id') id = value;
      else if (field === 'data') data.push(value);
    }
    if (fields && data.length) this.events.push({ id, event, data: JSON.parse(data.join('\n')) });
  }

  of<T = Record<string, unknown>>(event: string): T[] {
    return this.events.filter((e) => e.event === event).map((e) => e.data as T);
  }

  get lastId(): string | undefined {
    return this.events.at(-1)?.id;
  }

  close(): void {
    this.req.destroy();
  }
}

describe('live updates', () => {
  let db: TestDatabase;
  let readPool: pg.Pool;
  let writePool: pg.Pool;
  let writer: PgStateStore;
  let live: LiveRouter;
  let server: http.Server;
  let base: string;
  const clients: SseClient[] = [];
  const open = (path: string, headers: Record<string, string> = {}) => {
    const c = new SseClient(`${base}${path}`, { Authorization: `Bearer ${TOKEN}`, ...headers });
    clients.push(c);
    return c;
  };

  before(async () => {
    db = await createTestDatabase();
    readPool = new pg.Pool({ connectionString: db.url });
    // Another connection pool stands for another process (a CLI apply, another replica) recording a run.
    writePool = new pg.Pool({ connectionString: db.url });
    writer = createPgStore(writePool);
    live = createLiveRouter({
      pool: readPool,
      auth: dashboardAuth({ publicRead: false, token: TOKEN }),
      canRead: (req, repository) => repository !== OTHER || req.get('x-test-reader') === 'all',
      heartbeatMs: 300,
    });
    const app = express();
    app.use(live);
    server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    for (const c of clients) c.close();
    await live.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await readPool.end();
    await writer.close();
    await db.drop();
  });

  test('a run stream gets node states, the running task, task rows and log pieces as another connection records them', async () => {
    const run = await writer.startRun({
      repository: REPO,
      environment: ENV,
      commit: 'abc1234',
      kind: 'apply',
      trigger: 'push',
    });
    const c = open(`/events/runs/${run.id}`);
    await waitFor('the snapshot', () => c.of('snapshot').length === 1);
    assert.equal(c.status, 200);
    const snap = c.of<{ run: { id: string; status: string; repository: string }; nodes: unknown[] }>('snapshot')[0];
    assert.equal(snap.run.id, run.id);
    assert.equal(snap.run.repository, REPO);
    assert.deepEqual(snap.nodes, []);

    await writer.updateNode(REPO, ENV, NODE, { state: 'configuring', host: 'h<i>1', runId: run.id });
    await waitFor('the node configuring', () =>
      c
        .of<{ path: string; state: string; host: string }>('node')
        .find((n) => n.path === NODE && n.state === 'configuring'),
    );
    await recordTaskStarted(writePool, run.id, NODE, 'install <nginx>');
    await waitFor('the running task', () =>
      c.of<{ path: string; task: string | null }>('node').find((n) => n.task === 'install <nginx>'),
    );
    const chunks = ['--- install <nginx>: met\n', '<script>alert("out")</script>\n', 'done & dusted\n'];
    for (const text of chunks) {
      await writer.appendLog(run.id, NODE, text);
      await waitFor(`the log piece ${JSON.stringify(text)}`, () =>
        c.of<{ path: string; text?: string }>('log').some((l) => l.path === NODE && l.text?.includes(text)),
      );
    }
    await writer.recordTask(run.id, NODE, {
      name: 'install <nginx>',
      outcome: 'met',
      message: '<b>ok</b>',
      durationMs: 5,
    });
    await waitFor('the task row', () => c.of<{ name: string }>('task').find((t) => t.name === 'install <nginx>'));
    await waitFor(
      'the running task cleared',
      () => c.of<{ path: string; task: string | null }>('node').findLast((n) => n.path === NODE)?.task === null,
    );
    await writer.updateNode(REPO, ENV, NODE, { state: 'ready', runId: run.id });
    await writer.finishRun(run.id, 'succeeded', { ready: 1 });
    await waitFor('the run succeeded', () => c.of<{ status: string }>('run').find((r) => r.status === 'succeeded'));
    assert.equal(c.of<{ state: string }>('node').at(-1)?.state, 'ready');
    // What the page's timeline places a node's bar with: its start and end, and the database's time of the read.
    type Timed = { startedAt: string | null; finishedAt: string | null; now: string };
    const first = c.of<Timed>('node')[0];
    assert.ok(first.startedAt && first.finishedAt === null && Date.parse(first.now) >= Date.parse(first.startedAt));
    const last = c.of<Timed>('node').at(-1)!;
    assert.equal(last.startedAt, first.startedAt);
    assert.ok(last.finishedAt && Date.parse(last.finishedAt) >= Date.parse(first.startedAt));
    const ended = c.of<{ startedAt: string; finishedAt: string | null }>('run').at(-1)!;
    assert.ok(Date.parse(ended.startedAt) <= Date.parse(first.startedAt) && ended.finishedAt);

    // The log pieces, put together by their offsets as the page script does, are the stored log exactly.
    let shown = '';
    for (const l of c.of<{ path: string; from: number; text: string }>('log')) {
      assert.ok(l.from <= shown.length, 'no gap between log pieces');
      shown += l.text.slice(shown.length - l.from);
    }
    assert.equal(shown, chunks.join(''));
    const task = c.of<{ name: string; outcome: string; message: string }>('task')[0];
    assert.deepEqual([task.name, task.outcome, task.message], ['install <nginx>', 'met', '<b>ok</b>']);
    // Markup from repository names, node paths and output travels as JSON text, with no markup in the stream itself.
    assert.ok(!/[<>]/.test(c.raw), 'no < or > in the raw stream');
    assert.ok(c.raw.includes('\\u003cscript\\u003e'));
  });

  test('Last-Event-ID: a reconnecting client gets a fresh snapshot with what changed while it was away', async () => {
    const run = await writer.startRun({
      repository: REPO,
      environment: ENV,
      commit: null,
      kind: 'apply',
      trigger: 'x',
    });
    const c = open(`/events/runs/${run.id}`);
    await waitFor('the snapshot', () => c.of('snapshot').length === 1);
    await writer.updateNode(REPO, ENV, 'db', { state: 'configuring', runId: run.id });
    await waitFor('the node event', () => c.of('node').length > 0);
    const lastId = c.lastId!;
    c.close();
    await writer.appendLog(run.id, 'db', 'while away\n');
    await writer.recordTask(run.id, 'db', { name: 'schema', outcome: 'failed', message: 'boom' });
    await writer.updateNode(REPO, ENV, 'db', { state: 'failed', reason: 'TaskFailed', runId: run.id });
    const again = open(`/events/runs/${run.id}`, { 'Last-Event-ID': lastId });
    await waitFor('the resumed snapshot', () => again.of('snapshot').length === 1);
    const snap = again.of<{
      resumed: boolean;
      nodes: { path: string; state: string; reason: string; log: { from: number; text: string } }[];
      tasks: { name: string; outcome: string }[];
    }>('snapshot')[0];
    assert.equal(snap.resumed, true);
    assert.equal(snap.nodes[0].state, 'failed');
    assert.equal(snap.nodes[0].reason, 'TaskFailed');
    assert.deepEqual(snap.nodes[0].log, { path: 'db', from: 0, text: 'while away\n', length: 11 });
    assert.deepEqual(
      snap.tasks.map((t) => [t.name, t.outcome]),
      [['schema', 'failed']],
    );
    assert.ok(Number(again.events[0].id) > Number(lastId), 'event ids keep increasing');
  });

  test('heartbeats keep an idle stream open, and a closed client leaves no stream or subscription behind', async () => {
    const before = live.openStreams;
    const c = open('/events');
    await waitFor('the snapshot', () => c.of('snapshot').length === 1);
    assert.match(c.raw, /^retry: \d+\n\n/);
    await waitFor('two heartbeats', () => c.comments >= 2);
    assert.equal(live.openStreams, before + 1);
    c.close();
    await waitFor('the stream gone', () => live.openStreams === before && live.hub.streams === before);
  });

  test('list streams: runs and environment summaries update, repositories the viewer may not read are left out', async () => {
    const c = open('/events');
    const all = open('/events', { 'x-test-reader': 'all' });
    await waitFor('the snapshots', () => c.of('snapshot').length === 1 && all.of('snapshot').length === 1);
    const hidden = await writer.startRun({
      repository: OTHER,
      environment: 'e',
      commit: null,
      kind: 'drift',
      trigger: 't',
    });
    const shown = await writer.startRun({
      repository: REPO,
      environment: 'staging',
      commit: null,
      kind: 'apply',
      trigger: 't',
    });
    await writer.updateNode(REPO, 'staging', 'n1', { state: 'ready', runId: shown.id });
    await writer.finishRun(shown.id, 'succeeded', { ready: 1 });
    await waitFor('the finished run', () =>
      c.of<{ id: string; status: string }>('run').find((r) => r.id === shown.id && r.status === 'succeeded'),
    );
    await waitFor('the staging summary', () =>
      c
        .of<{ environment: string; nodes: number }>('environment')
        .find((e) => e.environment === 'staging' && e.nodes === 1),
    );
    await waitFor('the hidden run, for a reader of both', () =>
      all.of<{ id: string }>('run').find((r) => r.id === hidden.id),
    );
    assert.ok(!c.of<{ id: string }>('run').some((r) => r.id === hidden.id));
    assert.ok(!c.of<{ repository: string }>('environment').some((e) => e.repository === OTHER));
    assert.ok(!c.raw.includes('secret/repo'));
    c.close();
    all.close();
  });

  test('an environment stream sends its recorded nodes and runs', async () => {
    const run = await writer.startRun({
      repository: REPO,
      environment: ENV,
      commit: 'c0ffee1',
      kind: 'apply',
      trigger: 't',
    });
    const c = open(`/events/environments/${encodeURIComponent(REPO)}/${encodeURIComponent(ENV)}`);
    await waitFor('the snapshot', () => c.of('snapshot').length === 1);
    await writer.updateNode(REPO, ENV, 'cache', { state: 'blocked', reason: 'waits for <db>', runId: run.id });
    await waitFor('the recorded node', () =>
      c
        .of<{ nodes: { path: string; state: string; reason: string }[] }>('nodes')
        .some((e) => e.nodes.some((n) => n.path === 'cache' && n.state === 'blocked' && n.reason === 'waits for <db>')),
    );
    // A node the run terminates leaves the records: the stream says it is gone (the page takes it off).
    await writer.updateNode(REPO, ENV, 'old <box>', { state: 'ready', runId: run.id });
    await waitFor('the node recorded', () =>
      c.of<{ nodes: { path: string }[] }>('nodes').some((e) => e.nodes.some((n) => n.path === 'old <box>')),
    );
    await writer.updateNode(REPO, ENV, 'old <box>', { state: 'terminated', runId: run.id });
    await waitFor('the node removed', () =>
      c.of<{ paths: string[] }>('removed').some((e) => e.paths.includes('old <box>')),
    );
    assert.ok(!c.raw.includes('old <box>'), 'paths travel as inert JSON text');
    await writer.finishRun(run.id, 'failed', { blocked: 1 });
    await waitFor('the run failed', () =>
      c.of<{ id: string; status: string }>('run').find((r) => r.id === run.id && r.status === 'failed'),
    );
    // A page opened after the node went: its snapshot lists every recorded node, and says the list is complete.
    const later = open(`/events/environments/${encodeURIComponent(REPO)}/${encodeURIComponent(ENV)}`);
    await waitFor('the second snapshot', () => later.of('snapshot').length === 1);
    const snap = later.of<{ complete: boolean; nodes: { path: string }[] }>('snapshot')[0];
    assert.equal(snap.complete, true);
    assert.ok(!snap.nodes.some((n) => n.path === 'old <box>'));
    assert.equal(
      c.of<{ paths: string[] }>('removed').filter((e) => e.paths.includes('old <box>')).length,
      1,
      'said once',
    );
    c.close();
    later.close();
  });

  test('an environment stream says when a push, a release or the policy changed what the status at a glance shows, without a run', async () => {
    const c = open(`/events/environments/${encodeURIComponent(REPO)}/${encodeURIComponent(ENV)}`);
    await waitFor('the snapshot', () => c.of('snapshot').length === 1);
    const first = c.of<{ environment: { status: string } }>('snapshot')[0].environment.status;
    assert.equal(typeof first, 'string');
    const waitingRelease = (commit: string, planSummary: string) =>
      recordPendingRelease(writePool, {
        repository: REPO,
        environment: ENV,
        commit,
        repo: { kind: 'local', path: '/nowhere' },
        planSummary,
      });
    // A manual environment's commit waits for release: no run starts, nothing the change feed announces.
    await waitingRelease('feed5eed', '1 to update');
    await waitFor('an environment event with a new status signature', () =>
      c.of<{ status?: string }>('environment').some((e) => typeof e.status === 'string' && e.status !== first),
    );
    const afterFirst = c
      .of<{ status?: string }>('environment')
      .find((e) => e.status !== undefined && e.status !== first)!.status;
    // The front page's stream (all environments) says so too, as an opaque signature.
    const list = open('/events');
    await waitFor('the list snapshot', () => list.of('snapshot').length === 1);
    const before = list.of<{ status: string }>('snapshot')[0].status;
    assert.match(before, /^[0-9a-f]{32}$/);
    await waitingRelease('feed5eed2', '2 to update');
    await waitFor('a status event on the list stream', () =>
      list.of<{ status: string }>('status').some((e) => e.status !== before),
    );
    list.close();
    await waitFor('the environment stream to see the second release', () =>
      c
        .of<{ status?: string }>('environment')
        .some((e) => e.status !== undefined && ![first, afterFirst].includes(e.status)),
    );
    const events = c.of<{ status?: string }>('environment').length;
    // Nothing else changed: the next reads send nothing more.
    await new Promise((r) => setTimeout(r, 2 * STATUS_POLL_MS + 500));
    assert.equal(c.of('environment').length, events, 'said once');
    assert.ok(!c.raw.includes('<script>'), 'names travel as inert JSON text');
    c.close();
  });

  test('access: no token is refused, an unreadable run or an unknown one is not found', async () => {
    const hidden = await writer.startRun({
      repository: OTHER,
      environment: 'e',
      commit: null,
      kind: 'apply',
      trigger: 't',
    });
    const anonymous = new SseClient(`${base}/events`);
    clients.push(anonymous);
    await waitFor('the answer', () => anonymous.ended);
    assert.equal(anonymous.status, 401);
    const unreadable = open(`/events/runs/${hidden.id}`);
    const unknown = open('/events/runs/999999');
    const garbage = open(`/events/runs/${encodeURIComponent('1; DROP TABLE runs')}`);
    await waitFor('the answers', () => unreadable.ended && unknown.ended && garbage.ended);
    assert.deepEqual([unreadable.status, unknown.status, garbage.status], [404, 404, 404]);
  });

  test('the listener survives its LISTEN connection being terminated: it reconnects and streams get a fresh snapshot', async () => {
    const run = await writer.startRun({
      repository: REPO,
      environment: ENV,
      commit: null,
      kind: 'apply',
      trigger: 't',
    });
    const c = open(`/events/runs/${run.id}`);
    await waitFor('the snapshot', () => c.of('snapshot').length === 1);
    const feed = live.feed!;
    const pid = feed.pid!;
    const { rows } = await writePool.query<{ ok: boolean }>('SELECT pg_terminate_backend($1) AS ok', [pid]);
    assert.equal(rows[0].ok, true);
    await waitFor('a new LISTEN connection', () => feed.listening && feed.pid !== null && feed.pid !== pid);
    await waitFor('a fresh snapshot after the feed was down', () => c.of('snapshot').length === 2);
    await writer.updateNode(REPO, ENV, 'after', { state: 'configuring', runId: run.id });
    await waitFor('a change after the reconnect', () => c.of<{ path: string }>('node').find((n) => n.path === 'after'));
    assert.equal(c.ended, false);
  });

  test('the engine writes a running node output while it runs (liveLog), and the stream shows it before the node finishes', async () => {
    const run = await writer.startRun({
      repository: REPO,
      environment: ENV,
      commit: null,
      kind: 'apply',
      trigger: 't',
    });
    await writer.updateNode(REPO, ENV, 'slow', { state: 'configuring', runId: run.id });
    const c = open(`/events/runs/${run.id}`);
    await waitFor('the snapshot', () => c.of('snapshot').length === 1);
    // The store's two writes liveLog uses, as the engine's PostgreSQL store makes them.
    const port = {
      appendLog: (id: string, path: string, text: string) => writer.appendLog(id, path, text),
      taskStarted: (id: string, path: string, task: string) => recordTaskStarted(writePool, id, path, task),
    };
    const output = liveLog(port, run.id, 'slow', { intervalMs: 50 });
    output.taskStarted('compile');
    output.write('step 1 of 2\n');
    await waitFor('the first line while the task runs', () =>
      c.of<{ text?: string }>('log').some((l) => l.text?.includes('step 1 of 2')),
    );
    await waitFor('the running task', () => c.of<{ task: string | null }>('node').some((n) => n.task === 'compile'));
    output.write('step 2 of 2\n');
    output.taskFinished();
    await output.finish();
    const stored = (await writer.nodeRuns(run.id)).find((n) => n.path === 'slow')!;
    assert.equal(stored.log, 'step 1 of 2\nstep 2 of 2\n');
    await waitFor('the second line', () => c.of<{ text?: string }>('log').some((l) => l.text?.includes('step 2 of 2')));
  });

  test('a database that cannot be read ends the stream (the browser reconnects) and leaves nothing behind', async () => {
    const logs: string[] = [];
    const url = new URL(db.url);
    url.pathname = '/pb_live_no_such_database';
    const pool = new pg.Pool({ connectionString: url.toString() });
    const broken = createLiveRouter({ pool, auth: (_req, _res, next) => next(), log: (m) => logs.push(m) });
    const app = express();
    app.use(broken);
    const s = app.listen(0, '127.0.0.1');
    await new Promise((r) => s.once('listening', r));
    try {
      const c = new SseClient(`http://127.0.0.1:${(s.address() as AddressInfo).port}/events`);
      clients.push(c);
      await waitFor('the stream to end', () => c.ended);
      assert.equal(c.of('snapshot').length, 0);
      assert.equal(broken.openStreams, 0);
      assert.equal(broken.hub.streams, 0);
      await waitFor('the feed to say it reconnects', () => logs.some((l) => /reconnecting in \d+ ms/.test(l)));
    } finally {
      await broken.close();
      await pool.end();
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
  });

  test('a stream ends after its lifetime, so the access check runs again when the browser reconnects', async () => {
    const short = createLiveRouter({
      pool: readPool,
      auth: dashboardAuth({ publicRead: false, token: TOKEN }),
      maxStreamMs: 300,
    });
    const app = express();
    app.use(short);
    const s = app.listen(0, '127.0.0.1');
    await new Promise((r) => s.once('listening', r));
    try {
      const c = new SseClient(`http://127.0.0.1:${(s.address() as AddressInfo).port}/events`, {
        Authorization: `Bearer ${TOKEN}`,
      });
      clients.push(c);
      await waitFor('the snapshot', () => c.of('snapshot').length === 1);
      await waitFor('the stream to end', () => c.ended);
      assert.equal(short.openStreams, 0);
    } finally {
      await short.close();
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
  });

  test('the stream cap refuses more streams with 503; the script is served cacheable with an ETag', async () => {
    const capped = createLiveRouter({ pool: readPool, auth: (_req, _res, next) => next(), maxStreams: 1 });
    const app = express();
    app.use(capped);
    const s = app.listen(0, '127.0.0.1');
    await new Promise((r) => s.once('listening', r));
    const url = `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
    try {
      const one = new SseClient(`${url}/events`);
      clients.push(one);
      await waitFor('the first stream', () => one.of('snapshot').length === 1);
      const two = new SseClient(`${url}/events`);
      clients.push(two);
      await waitFor('the refusal', () => two.ended);
      assert.equal(two.status, 503);
      one.close();

      const script = await fetch(`${url}${LIVE_SCRIPT_URL}`);
      assert.equal(script.status, 200);
      assert.match(script.headers.get('content-type') ?? '', /^text\/javascript/);
      assert.match(script.headers.get('cache-control') ?? '', /immutable/);
      const body = await script.text();
      assert.ok(body.includes('EventSource'));
      assert.ok(
        !/innerHTML|outerHTML|insertAdjacentHTML|document\.write/.test(body),
        "the script builds no markup (it reads only the server's own page, with DOMParser)",
      );
      const again = await fetch(`${url}/assets/live.js`, { headers: { 'If-None-Match': script.headers.get('etag')! } });
      assert.equal(again.status, 304);
    } finally {
      await capped.close();
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
  });
});
