import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkTargetPath, parseTarget, pathsUnder, targetNames } from '../../../reconciler/target.js';

test('parseTarget: ENV[:PATH][#STATE]', () => {
  assert.deepEqual(parseTarget('production'), { environment: 'production', path: undefined, state: 'ready' });
  assert.deepEqual(parseTarget('production:database/master#ready'), {
    environment: 'production',
    path: 'database/master',
    state: 'ready',
  });
  assert.deepEqual(parseTarget('staging:web#provisioned'), {
    environment: 'staging',
    path: 'web',
    state: 'provisioned',
  });
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
  const paths = [
    'database/master',
    'database/replica-1',
    'database/replica-2',
    'web-1',
    'web-2',
    'webhook',
    'region-eu/web-1',
    'region-us/web-1',
    'lb',
  ];
  assert.deepEqual(pathsUnder('database', paths), ['database/master', 'database/replica-1', 'database/replica-2']);
  assert.deepEqual(pathsUnder('database/replica', paths), ['database/replica-1', 'database/replica-2']);
  assert.deepEqual(pathsUnder('web', paths), ['web-1', 'web-2']);
  assert.deepEqual(pathsUnder('web-2', paths), ['web-2']);
  assert.deepEqual(pathsUnder('region/web', paths), ['region-eu/web-1', 'region-us/web-1']);
  assert.deepEqual(pathsUnder('nosuch', paths), []);
});

test('targetNames: nodes, the groups above them, and definitions of instances', () => {
  assert.deepEqual(targetNames(['database/master', 'database/replica-1', 'web-1', 'web-2', 'lb']).sort(), [
    'database',
    'database/master',
    'database/replica',
    'database/replica-1',
    'lb',
    'web',
    'web-1',
    'web-2',
  ]);
});

test('checkTargetPath: a path naming no node is refused with a "did you mean"', () => {
  const paths = ['database/master', 'database/replica-1', 'web-1', 'web-2', 'lb'];
  assert.doesNotThrow(() => checkTargetPath(parseTarget('production'), paths));
  assert.doesNotThrow(() => checkTargetPath(parseTarget('production:web'), paths));
  assert.doesNotThrow(() => checkTargetPath(parseTarget('production:database#terminated'), paths));
  assert.throws(() => checkTargetPath(parseTarget('production:wbe'), paths), {
    name: 'PolitburoError',
    message: "target path 'wbe' names no node of environment 'production' (did you mean 'web'?)",
  });
  assert.throws(
    () => checkTargetPath(parseTarget('production:database/replca'), paths),
    /\(did you mean 'database\/replica'\?\)$/,
  );
  assert.throws(
    () => checkTargetPath(parseTarget('production:zzzzzz'), paths),
    /: target path 'zzzzzz' names no node of environment 'production'$/,
  );
});
