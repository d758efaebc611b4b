// NO_COLOR (docs/cli.md): set to anything non-empty, the live progress on a terminal has no colour codes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useColour } from '../../../cli/common.js';
import { progressFor } from '../../../cli/run-context.js';

const COLOUR = /\x1b\[\d+(;\d+)*m/; // eslint-disable-line no-control-regex

/** A terminal stream that keeps what is written to it. */
function fakeTerminal(): { stream: NodeJS.WriteStream; text: () => string } {
  let text = '';
  const stream = {
    isTTY: true,
    columns: 120,
    rows: 40,
    write(chunk: string) {
      text += chunk;
      return true;
    },
  } as unknown as NodeJS.WriteStream;
  return { stream, text: () => text };
}

/** Progress of one node that becomes ready and one that fails, as `apply` shows it. */
function drawRun(env: NodeJS.ProcessEnv): string {
  const terminal = fakeTerminal();
  const progress = progressFor('apply demo', false, terminal.stream, env);
  progress.onEvent({ type: 'node-started', path: 'web-1', host: '10.0.0.1' });
  progress.onEvent({ type: 'node-finished', path: 'web-1', state: 'ready' });
  progress.onEvent({ type: 'node-started', path: 'web-2', host: '10.0.0.2' });
  progress.onEvent({ type: 'node-finished', path: 'web-2', state: 'failed', reason: 'TaskFailed: x' });
  progress.stop();
  return terminal.text();
}

test('useColour: a terminal without NO_COLOR, never with NO_COLOR set to any non-empty value', () => {
  assert.equal(useColour({ isTTY: true }, {}), true);
  assert.equal(useColour({ isTTY: false }, {}), false);
  assert.equal(useColour({ isTTY: true }, { NO_COLOR: '1' }), false);
  assert.equal(useColour({ isTTY: true }, { NO_COLOR: 'false' }), false, 'any value, even "false"');
  assert.equal(useColour({ isTTY: true }, { NO_COLOR: '' }), true, 'an empty NO_COLOR does not count');
});

test('the terminal progress is coloured by default and has no colour codes with NO_COLOR', () => {
  const coloured = drawRun({});
  assert.match(coloured, COLOUR);
  assert.match(coloured, /web-2/);
  const plain = drawRun({ NO_COLOR: '1' });
  assert.doesNotMatch(plain, COLOUR);
  assert.match(plain, /web-1/);
  assert.match(plain, /web-2/);
});
