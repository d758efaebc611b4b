import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BabushkaOutputParser,
  depOutcome,
  parseBabushkaOutput,
  unmetDeps,
} from '../../../../reconciler/tasks/parse-babushka-output.js';
import { loadTranscripts, substitute } from '../../../helpers/babushka/transcripts.js';

const transcripts = loadTranscripts();
const out = (i: number) => substitute(transcripts[i].output, '/home/deploy', '/usr/local/babushka');

describe('parseBabushkaOutput on the transcripts of docs/babushka.md', () => {
  test('there are nine transcripts', () => {
    assert.equal(transcripts.length, 9);
  });

  test('dry run with an unmet requirement: unmet, with the unmet deps named', () => {
    const p = parseBabushkaOutput(out(0));
    assert.equal(p.roots.length, 1);
    assert.equal(p.roots[0].name, 'app deployed');
    assert.equal(depOutcome(p.roots[0]), 'unmet');
    assert.deepEqual(unmetDeps(p.roots[0]), ['base', 'app deployed']);
    assert.equal(p.logPath, '/home/deploy/.babushka/logs/app deployed');
  });

  test('meet blocks make it met', () => {
    const p = parseBabushkaOutput(out(1));
    assert.equal(depOutcome(p.roots[0]), 'met');
    assert.equal(p.roots[0].children.length, 1, 'meet blocks are not deps');
    assert.equal(p.roots[0].children[0].name, 'base');
    assert.equal(depOutcome(p.roots[0].children[0]), 'met');
  });

  test('no meet block: already met', () => {
    assert.equal(depOutcome(parseBabushkaOutput(out(2)).roots[0]), 'already met');
  });

  test('drift: met requirement, unmet dep', () => {
    const root = parseBabushkaOutput(out(3)).roots[0];
    assert.equal(depOutcome(root), 'unmet');
    assert.deepEqual(unmetDeps(root), ['app deployed']);
  });

  test('(cached) lines are children already met', () => {
    const root = parseBabushkaOutput(out(4)).roots[0];
    assert.equal(depOutcome(root), 'already met');
    assert.deepEqual(
      root.children.map((c) => [c.name, c.cached, depOutcome(c)]),
      [
        ['app deployed', false, 'already met'],
        ['base', true, 'already met'],
      ],
    );
  });

  test('an exception leaves blocks open: failed', () => {
    for (const i of [5, 6]) {
      const p = parseBabushkaOutput(out(i));
      assert.equal(p.roots[0].status, 'open');
      assert.equal(depOutcome(p.roots[0]), 'failed');
      assert.match(p.logPath!, /\.babushka\/logs\//);
    }
  });

  test('✗ is failed', () => {
    const root = parseBabushkaOutput(out(7)).roots[0];
    assert.equal(root.name, 'unmeetable');
    assert.equal(depOutcome(root), 'failed');
  });

  test("isn't defined is failed", () => {
    const root = parseBabushkaOutput(out(8)).roots[0];
    assert.equal(root.name, 'nope');
    assert.equal(root.undefinedDep, true);
    assert.equal(depOutcome(root), 'failed');
  });
});

describe('parseBabushkaOutput on other shapes', () => {
  test('a generated dep requiring several tasks: children in order', () => {
    const text = [
      'politburo node abc {',
      '  a {',
      '    meet {',
      '      doing a {',
      '      still logging',
      '    }',
      '  } ✓ a',
      '  ✓ b (cached)',
      "  c <- this dep isn't defined!",
      '} ✗ politburo node abc',
      '',
    ].join('\n');
    const root = parseBabushkaOutput(text).roots[0];
    assert.deepEqual(
      root.children.map((c) => [c.name, depOutcome(c)]),
      [
        ['a', 'met'],
        ['b', 'already met'],
        ['c', 'failed'],
      ],
    );
  });

  test('an exception in a required dep (stdout and stderr together): the deps enclosing it close where it left the indentation, and stay failed', () => {
    const text = [
      'politburo node abc {',
      '  base {',
      '  } \u2713 base',
      '  always fails {',
      '    meet {',
      "      /deps/babushka-deps/web.rb:14:in `block (2 levels) in <top (required)>': boom: disk on fire",
      '      Check /deps/babushka-deps/web.rb:14.',
      '    } \u2717 politburo node abc',
      "    You can view a more detailed log at '/home/deploy/.babushka/logs/politburo node abc'.",
      '',
    ].join('\n');
    const p = parseBabushkaOutput(text);
    assert.equal(p.roots.length, 1);
    assert.equal(depOutcome(p.roots[0]), 'failed');
    assert.deepEqual(
      p.roots[0].children.map((c) => [c.name, c.status, depOutcome(c)]),
      [
        ['base', 'met', 'already met'],
        ['always fails', 'open', 'failed'],
      ],
    );
    assert.equal(p.logPath, '/home/deploy/.babushka/logs/politburo node abc');
  });

  test('a dry run goes on after an exception, inside the block it left open: the dep that raised is failed', () => {
    const text = [
      'politburo node abc {',
      '  raises {',
      "    /deps/babushka-deps/x.rb:11:in `block (2 levels) in <top (required)>': in met",
      '    Check /deps/babushka-deps/x.rb:11.',
      '    base {',
      '    } ~ base',
      "    nope <- this dep isn't defined!",
      '  } ~ politburo node abc',
      "  You can view a more detailed log at '/home/deploy/.babushka/logs/politburo node abc'.",
      '',
    ].join('\n');
    const root = parseBabushkaOutput(text).roots[0];
    assert.deepEqual(
      root.children.map((c) => [c.name, depOutcome(c)]),
      [['raises', 'failed']],
    );
    assert.equal(depOutcome(root), 'failed');
  });

  test('log lines that look like blocks do not become deps', () => {
    const text = 'x {\n  meet {\n    config {\n    } nothing\n  }\n} ✓ x\n';
    const root = parseBabushkaOutput(text).roots[0];
    assert.equal(depOutcome(root), 'met');
    assert.deepEqual(root.children, []);
  });

  test('empty output and CRLF are handled', () => {
    assert.deepEqual(parseBabushkaOutput('').roots, []);
    assert.equal(depOutcome(parseBabushkaOutput('a {\r\n} \u2713 a\r\n').roots[0]), 'already met');
  });
});

test('fed in pieces, the streaming parser gives the same result as a whole parse', () => {
  for (let i = 0; i < transcripts.length; i++) {
    const text = out(i);
    for (const size of [1, 3, 17]) {
      const parser = new BabushkaOutputParser();
      for (let k = 0; k < text.length; k += size) parser.push(text.slice(k, k + size));
      assert.deepEqual(parser.end(), parseBabushkaOutput(text), `transcript ${i}, pieces of ${size}`);
    }
  }
});

test('the streaming parser shows deps as soon as their lines are complete', () => {
  const parser = new BabushkaOutputParser();
  parser.push('node {\n  a {\n');
  assert.equal(parser.roots[0].children[0].status, 'open');
  parser.push('  } \u2713 a');
  assert.equal(parser.roots[0].children[0].status, 'open', 'the close line is not complete yet');
  parser.push('\n');
  assert.equal(parser.roots[0].children[0].status, 'met');
});
