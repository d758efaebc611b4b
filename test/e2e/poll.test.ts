/**
 * Poll mode without GitHub: POLITBURO_REPOS names a local repository; new commits are applied, results in the store and
 * the log.
 */
import { mkdtemp, rm, access } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readConfig } from '../../controller/config.js';
import { createLogger } from '../../controller/logger.js';
import { startController, type RunningController } from '../../controller/main.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

import { waitFor } from '../helpers/wait-for.js';
import { GitRepo } from '../helpers/git-repo.js';

function localDescription(stateDir: string, version: string): string {
  return [
    'politburo: 1',
    'blueprints:',
    '  app:',
    '    resources:',
    '      box:',
    '        tasks:',
    `          - name: marker`,
    `            met: 'test -f ${stateDir}/${version}'`,
    `            meet: 'mkdir -p ${stateDir} && touch ${stateDir}/${version}'`,
    '      follower:',
    '        depends_on: [box]',
    '        tasks:',
    `          - name: follower marker`,
    `            met: 'test -f ${stateDir}/follower'`,
    `            meet: 'mkdir -p ${stateDir} && touch ${stateDir}/follower'`,
    'environments:',
    '  dev:',
    '    blueprint: app',
    '    hosts: { box: local, follower: local }',
    '',
  ].join('\n');
}

describe('e2e: poll mode', () => {
  let db: TestDatabase;
  let repo: GitRepo;
  let tmp: string;
  let controller: RunningController;
  const lines: string[] = [];
  before(async () => {
    db = await createTestDatabase();
    tmp = await mkdtemp(path.join(os.tmpdir(), 'politburo-poll-'));
    repo = await GitRepo.create({ 'politburo.yml': localDescription(path.join(tmp, 'state'), 'v1') });
    const config = readConfig({
      DATABASE_URL: db.url,
      PORT: '0',
      HOST: '127.0.0.1',
      POLITBURO_REPOS: `${repo.dir}#main`,
      POLITBURO_POLL_INTERVAL: '1s',
      POLITBURO_DATA_DIR: path.join(tmp, 'data'),
      POLITBURO_SHUTDOWN_GRACE: '1s',
      LOG_LEVEL: 'info',
      POLITBURO_DASHBOARD_PUBLIC: 'true',
    });
    const sink = new Writable({
      write(chunk, _enc, cb) {
        lines.push(...chunk.toString().split('\n').filter(Boolean));
        cb();
      },
    });
    controller = await startController(config, { logger: createLogger({ level: 'info', destination: sink }) });
  });
  after(async () => {
    await controller?.stop();
    await db?.drop();
    await rm(tmp, { recursive: true, force: true });
    if (repo) await rm(repo.dir, { recursive: true, force: true });
  });

  test('the head is applied, then each new commit; results in the store and the log', async () => {
    const store = controller.context.store;
    const first = await repo.head();
    await waitFor(
      'first commit applied',
      async () =>
        (await store.recordedNodes(repo.dir, 'dev')).find((n) => n.state === 'ready' && n.lastAppliedCommit === first),
      60_000,
    );
    await access(path.join(tmp, 'state', 'v1'));
    const second = await repo.commit({ 'politburo.yml': localDescription(path.join(tmp, 'state'), 'v2') }, 'v2');
    await waitFor(
      'second commit applied',
      async () =>
        (await store.recordedNodes(repo.dir, 'dev')).find((n) => n.lastAppliedCommit === second && n.state === 'ready'),
      60_000,
    );
    await access(path.join(tmp, 'state', 'v2'));
    // A node is recorded ready before its run is closed: wait for the run too.
    await waitFor('both applies recorded as succeeded', async () => {
      const runs = await store.listRuns({ repository: repo.dir, environment: 'dev' });
      return runs.filter((r) => r.kind === 'apply' && r.status === 'succeeded').length === 2;
    });
    // The dashboard draws the environment as described at its last applied commit: with its dependency edge.
    const svg = await (
      await fetch(`${controller.url}/environments/${encodeURIComponent(repo.dir)}/dev/graph.svg`)
    ).text();
    assert.match(svg, /class="edge" data-from="box" data-to="follower"/);
    // The check is reported (here: logged) right after the run is recorded.
    await waitFor('the check result logged', () =>
      lines
        .map((l) => JSON.parse(l))
        .some((l) => /^politburo\/dev: /.test(l.msg ?? '') && l.conclusion === 'success' && l.sha === second),
    );
  });
});
