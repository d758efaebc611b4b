/**
 * The writes that finish a node (its last task's record, its log, its final state) go to the store together rather
 * than one after the other: a store whose log write only completes once the node's `ready` state has been written
 * still gets every write, and the node is recorded ready with its log (bench/README.md, "Apply").
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { applyEnvironment } from '../../../reconciler/apply-environment.js';
import { createHostConnector } from '../../../hosts/ssh-connector.js';
import { loadDescription } from '../../../schema/load-description.js';
import { createInMemoryStateStore } from '../../helpers/in-memory-state-store.js';

test('a node is finished with its task record, log and ready state written together', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'politburo-run-node-writes-'));
  try {
    await writeFile(
      path.join(dir, 'politburo.yml'),
      [
        'politburo: 1',
        'environments:',
        '  dev:',
        '    resources:',
        `      app: { tasks: [{ name: greeting, met: 'test -f ${dir}/greeted', meet: 'echo hello from the task; touch ${dir}/greeted' }] }`,
        '      web: { tasks: [{ name: noop, met: "true", meet: "true" }], depends_on: [app] }',
        '    hosts: { app: local, web: local }',
        '',
      ].join('\n'),
    );
    const loaded = await loadDescription({ dir });
    assert.ok(loaded.ok, JSON.stringify(!loaded.ok && loaded.errors));
    const inner = createInMemoryStateStore();
    let readyWritten: () => void = () => {};
    const ready = new Promise<void>((resolve) => (readyWritten = resolve));
    const store: typeof inner = {
      ...inner,
      async updateNode(repository, environment, p, update) {
        await inner.updateNode(repository, environment, p, update);
        if (p === 'app' && update.state === 'ready') readyWritten();
      },
      async appendLog(runId, p, text) {
        if (p === 'app') {
          // Written one after the other, the log would wait here for a state written only after it.
          let timer: NodeJS.Timeout | undefined;
          const waited = new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error('the ready state was not written alongside the log')), 30_000);
          });
          await Promise.race([ready, waited]).finally(() => clearTimeout(timer));
        }
        await inner.appendLog(runId, p, text);
      },
    };
    const logged: string[] = [];
    const connector = createHostConnector({ knownHosts: [] });
    const result = await applyEnvironment({
      description: loaded.description,
      environment: 'dev',
      repository: dir,
      commit: null,
      store,
      connector,
      secrets: {},
      trigger: 'test',
      log: (line) => logged.push(line),
    });
    await connector.close();
    assert.equal(result.status, 'succeeded', JSON.stringify(result.nodes));
    assert.deepEqual(
      result.nodes.map((n) => [n.path, n.state]),
      [
        ['app', 'ready'],
        ['web', 'ready'],
      ],
    );
    assert.ok(result.runId);
    const runs = await store.nodeRuns(result.runId);
    const app = runs.find((r) => r.path === 'app')!;
    assert.match(app.log, /hello from the task/);
    assert.deepEqual(
      app.tasks.map((t) => [t.name, t.outcome]),
      [['greeting', 'met']],
    );
    assert.deepEqual(
      logged.filter((l) => /failed/.test(l)),
      [],
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
