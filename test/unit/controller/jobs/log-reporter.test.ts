// Poll mode's log-only reporter: a drift check that could not look at every node says so in its one line.
import { polledRepository } from '../../../../kernel/repository.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger } from '../../../../controller/logger.js';
import { createLogReporter } from '../../../../controller/jobs/log-reporter.js';
import type { RunResult } from '../../../../kernel/types.js';

function capture() {
  const lines: { msg: string; level: number; unchecked?: string[] }[] = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { lines, reporter: createLogReporter(createLogger({ destination })) };
}

const result = (over: Partial<RunResult>): RunResult => ({
  runId: '7',
  kind: 'drift',
  environment: 'demo',
  commit: 'a'.repeat(40),
  status: 'failed',
  nodes: [{ path: 'web-1', host: 'local', action: 'unchanged', state: 'ready', tasks: [] }],
  summary: {},
  durationMs: 1,
  ...over,
});

test('a drift check with nodes it could not check names them, never "none"', async () => {
  const { lines, reporter } = capture();
  const unchecked = [{ path: 'web-2', host: null, reason: 'never applied (recorded failed)' }];
  const repo = polledRepository('/srv/infra', 'main');
  await reporter.driftIssue(repo, 'demo', {
    environment: 'demo',
    sha: null,
    result: result({ unchecked }),
    healed: false,
  });
  await new Promise((r) => setImmediate(r));
  assert.equal(lines.length, 1);
  assert.equal(
    lines[0].msg,
    'drift of demo: 0 node(s) drifted, 1 not checked: web-2 (never applied (recorded failed))',
  );
  assert.deepEqual(lines[0].unchecked, ['web-2 (never applied (recorded failed))']);
});
