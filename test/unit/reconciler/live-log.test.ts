// liveLog writes a running node's output and task while it runs, at most once per interval, in order; a node that
// finishes within one interval costs one write, as before.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { liveLog } from '../../../reconciler/live-log.js';
import { createInMemoryStateStore } from '../../helpers/in-memory-state-store.js';
import { waitFor } from '../../helpers/wait-for.js';

async function runningStore() {
  const store = createInMemoryStateStore();
  const run = await store.startRun({ repository: 'r', environment: 'e', commit: null, kind: 'apply', trigger: 't' });
  const calls: string[] = [];
  const port = {
    appendLog: async (id: string, path: string, text: string) => {
      calls.push(`log ${JSON.stringify(text)}`);
      await store.appendLog(id, path, text);
    },
    taskStarted: async (_id: string, _path: string, task: string) => void calls.push(`task ${task}`),
  };
  const log = async () => (await store.nodeRuns(run.id)).find((n) => n.path === 'n')?.log ?? '';
  return { runId: run.id, port, calls, log };
}

test('a node that finishes within one interval is written once, at the end, with no running task', async () => {
  const { runId, port, calls, log } = await runningStore();
  const live = liveLog(port, runId, 'n', { intervalMs: 60_000 });
  live.taskStarted('a');
  live.write('one\n');
  live.taskFinished();
  live.taskStarted('b');
  live.write('two\n');
  live.taskFinished();
  await live.finish();
  assert.deepEqual(calls, ['log "one\\ntwo\\n"']);
  assert.equal(await log(), 'one\ntwo\n');
});

test('a longer node has its output and running task written while it runs, in order, and the rest at the end', async () => {
  const { runId, port, calls, log } = await runningStore();
  const live = liveLog(port, runId, 'n', { intervalMs: 20 });
  live.taskStarted('compile');
  live.write('one\n');
  await waitFor('the first line written while the task runs', async () => (await log()) === 'one\n');
  await waitFor('the running task written', () => calls.includes('task compile'));
  live.write('two\n');
  live.write('three\n');
  await live.finish();
  assert.equal(await log(), 'one\ntwo\nthree\n');
  assert.equal(calls.filter((c) => c === 'task compile').length, 1, 'a task start is written once');
});

test('a failing write is reported and does not stop later ones', async () => {
  const { runId, port, log } = await runningStore();
  const errors: string[] = [];
  let fail = true;
  const flaky = {
    ...port,
    appendLog: async (id: string, path: string, text: string) => {
      if (fail) {
        fail = false;
        throw new Error('database away');
      }
      await port.appendLog(id, path, text);
    },
  };
  const live = liveLog(flaky, runId, 'n', { intervalMs: 10, onError: (e) => errors.push(e.message) });
  live.write('lost\n');
  await waitFor('the failure reported', () => errors.length === 1);
  live.write('kept\n');
  await live.finish();
  assert.deepEqual(errors, ['database away']);
  assert.equal(await log(), 'kept\n');
});
