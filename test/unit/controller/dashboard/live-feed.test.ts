// The change feed accepts only what migration 097's triggers send: a known kind with decimal ids.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseChange } from '../../../../controller/dashboard/live-feed.js';
import { inertJson } from '../../../../controller/dashboard/live.js';

test('payloads of the triggers are parsed; anything else on the channel is ignored', () => {
  assert.deepEqual(parseChange('{"k":"run","run":"12","env":"3"}'), { kind: 'run', run: '12', env: '3' });
  assert.deepEqual(parseChange('{"k":"run","run":"0x1","env":"1; drop"}'), { kind: 'run' });
  for (const junk of [undefined, '', 'not json', '[]', 'null', '{"k":"node","run":"1"}', '{"run":"1"}'])
    assert.equal(parseChange(junk), null, String(junk));
});

test('event data is JSON without markup characters, and parses back to the same value', () => {
  const value = { text: '<script>alert(1)</script> & \u2028 "quoted"', n: 1 };
  const s = inertJson(value);
  assert.ok(!/[<>&\u2028\u2029\n]/.test(s));
  assert.deepEqual(JSON.parse(s), value);
});
