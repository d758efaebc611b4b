/** `/politburo plan [ENV] [--live]` comments (docs/configuration.md): what is a command, and its arguments. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCommand } from '../../../webhooks/comment-command.js';

describe('/politburo plan commands', () => {
  test('parses the first line only: plain, --live, an environment, in any order', () => {
    assert.deepEqual(parseCommand('/politburo plan'), { live: false });
    assert.deepEqual(parseCommand('  /politburo plan production  \nplease'), {
      live: false,
      environment: 'production',
    });
    assert.deepEqual(parseCommand('/politburo plan --live'), { live: true });
    assert.deepEqual(parseCommand('/politburo plan --live staging'), { live: true, environment: 'staging' });
    assert.deepEqual(parseCommand('/politburo plan staging --live'), { live: true, environment: 'staging' });
  });

  test('anything else is not a command', () => {
    for (const body of [
      '',
      'lgtm',
      'please /politburo plan',
      '/politburo apply',
      '/politburo plan a b',
      '/politburo plan --force',
      '/politburo plan $(rm -rf /)',
      '/politburoplan',
    ]) {
      assert.equal(parseCommand(body), null, body);
    }
  });
});
