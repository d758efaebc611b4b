// A real apply through the engine on a local host, streamed: the running task and its output reach the run's event
// stream while the task is still running (it waits for a file the test writes only after seeing the output).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import express from 'express';
import pg from 'pg';
import { createTestDatabase } from '../../../helpers/db.js';
import { waitFor } from '../../../helpers/wait-for.js';
import { createPgStore } from '../../../../store/pg-store.js';
import { applyEnvironment } from '../../../../reconciler/apply-environment.js';
import { createHostConnector } from '../../../../hosts/ssh-connector.js';
import { loadDescription } from '../../../../schema/load-description.js';
import { createLiveRouter } from '../../../../controller/dashboard/live.js';

interface Event {
  event: string;
  data: Record<string, unknown>;
}

function stream(url: string): { events: Event[]; close(): void } {
  const events: Event[] = [];
  let buffer = '';
  const req = http.get(url, (res) => {
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      buffer += chunk;
      let cut: number;
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event && data) events.push({ event, data: JSON.parse(data) as Record<string, unknown> });
      }
    });
  });
  req.on('error', () => {});
  return { events, close: () => req.destroy() };
}

test('a running task and its output are streamed while the task runs', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'politburo-live-apply-'));
  const db = await createTestDatabase();
  const readPool = new pg.Pool({ connectionString: db.url });
  const store = createPgStore(new pg.Pool({ connectionString: db.url }));
  const live = createLiveRouter({ pool: readPool, auth: (_req, _res, next) => next() });
  const app = express();
  app.use(live);
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const connector = createHostConnector({ knownHosts: [] });
  let events: ReturnType<typeof stream> | null = null;
  try {
    const meet = `echo 'working on <b>v2</b>'; while [ ! -f ${dir}/go ]; do sleep 0.1; done; echo finished; touch ${dir}/done`;
    await writeFile(
      path.join(dir, 'politburo.yml'),
      [
        'politburo: 1',
        'environments:',
        '  dev:',
        '    resources:',
        `      app: { tasks: [{ name: deploy, met: 'test -f ${dir}/done', meet: ${JSON.stringify(meet)} }] }`,
        '    hosts: { app: local }',
        '',
      ].join('\n'),
    );
    const loaded = await loadDescription({ dir });
    assert.ok(loaded.ok, JSON.stringify(!loaded.ok && loaded.errors));
    const applying = applyEnvironment({
      description: loaded.description,
      environment: 'dev',
      repository: dir,
      commit: null,
      store,
      connector,
      secrets: {},
      trigger: 'test',
    });
    const run = await waitFor('the run to start', async () => (await store.listRuns({ repository: dir }))[0]);
    events = stream(`${base}/events/runs/${run.id}`);
    const seen = events.events;
    const logText = () =>
      seen
        .flatMap((e) =>
          e.event === 'log'
            ? [e.data.text as string]
            : e.event === 'snapshot'
              ? (e.data.nodes as { log?: { text?: string } }[]).map((n) => n.log?.text ?? '')
              : [],
        )
        .join('');
    await waitFor('the task output while it runs', () => logText().includes('working on <b>v2</b>'));
    await waitFor('the running task', () =>
      seen.some(
        (e) =>
          (e.event === 'node' && e.data.task === 'deploy') ||
          (e.event === 'snapshot' && (e.data.nodes as { task?: string }[]).some((n) => n.task === 'deploy')),
      ),
    );
    assert.ok(!logText().includes('finished'), 'the task is still waiting for the file');
    assert.ok(!seen.some((e) => e.event === 'node' && e.data.state === 'ready'));
    await writeFile(path.join(dir, 'go'), '');
    const result = await applying;
    assert.equal(result.status, 'succeeded', JSON.stringify(result.nodes));
    await waitFor('the run succeeded on the stream', () =>
      seen.some((e) => e.event === 'run' && e.data.status === 'succeeded'),
    );
    await waitFor('the rest of the output', () => logText().includes('finished'));
    const stored = (await store.nodeRuns(result.runId!)).find((n) => n.path === 'app')!;
    assert.ok(stored.log.includes('working on <b>v2</b>') && stored.log.includes('finished'));
  } finally {
    events?.close();
    await connector.close();
    await live.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await readPool.end();
    await store.close();
    await db.drop();
    await rm(dir, { recursive: true, force: true });
  }
});
