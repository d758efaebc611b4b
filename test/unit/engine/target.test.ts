import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTarget, pathsUnder } from '../../../reconciler/target.js';

test('parseTarget: ENV[:PATH][#STATE]', () => {
  assert.deepEqual(parseTarget('production'), { environment: 'production', path: undefined, state: 'ready' });
  assert.deepEqual(parseTarget('production:database/master#ready'), { environment: 'production', path: 'database/master', state: 'ready' });
  assert.deepEqual(parseTarget('staging:web#provisioned'), { environment: 'staging', path: 'web', state: 'provisioned' });
  assert.deepEqual(parseTarget('staging#terminated'), { environment: 'staging', path: undefined, state: 'terminated' });
});

test('parseTarget: bad targets say what is wrong', () => {
  assert.throws(() => parseTarget(''), /missing or invalid environment name/);
  assert.throws(() => parseTarget(':web'), /missing or invalid environment name/);
  assert.throws(() => parseTarget('prod#done'), /unknown state 'done'/);
  assert.throws(() => parseTarget('prod:'), /invalid path ''/);
  assert.throws(() => parseTarget('prod:web//x'), /invalid path/);
  assert.throws(() => parseTarget('prod:web#ready#x'), /unknown state 'ready#x'/);
});

test('pathsUnder: nodes, groups and every instance of a definition', () => {
  const paths = ['database/master', 'database/replica-1', 'database/replica-2', 'web-1', 'web-2', 'webhook', 'region-eu/web-1', 'region-us/web-1', 'lb'];
  assert.deepEqual(pathsUnder('database', paths), ['database/master', 'database/replica-1', 'database/replica-2']);
  assert.deepEqual(pathsUnder('database/replica', paths), ['database/replica-1', 'database/replica-2']);
  assert.deepEqual(pathsUnder('web', paths), ['web-1', 'web-2']);
  assert.deepEqual(pathsUnder('web-2', paths), ['web-2']);
  assert.deepEqual(pathsUnder('region/web', paths), ['region-eu/web-1', 'region-us/web-1']);
  assert.deepEqual(pathsUnder('nosuch', paths), []);
});
