import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Redactor } from '../../../../reconciler/tasks/redactor.js';
import { resolveTaskValue, TaskValueError } from '../../../../reconciler/tasks/resolve-task-value.js';

test('secrets and addresses are substituted', () => {
  const ctx = {
    secrets: { db_password: 'pw1', TOKEN: 't0k' },
    addresses: { 'database/master': '10.0.0.5', web: '10.0.0.1,10.0.0.2' },
  };
  assert.equal(
    resolveTaskValue('postgres://u:${secret.db_password}@${address(database/master)}', ctx),
    'postgres://u:pw1@10.0.0.5',
  );
  assert.equal(resolveTaskValue('${secret.token} ${addresses(web)}', ctx), 't0k 10.0.0.1,10.0.0.2');
  assert.equal(resolveTaskValue('${params.x} stays', ctx), '${params.x} stays');
});

test('a missing secret names the environment variable to set', () => {
  assert.throws(
    () => resolveTaskValue('${secret.db_password}', { secrets: {} }),
    (e: unknown) => {
      assert.ok(e instanceof TaskValueError);
      assert.match(e.message, /POLITBURO_SECRET_DB_PASSWORD/);
      return true;
    },
  );
  assert.throws(() => resolveTaskValue('${address(db)}', { secrets: {} }), /db must be provisioned/);
});

test('Redactor hides every secret value, longest first', () => {
  const r = new Redactor(['abc', 'abcdef', '']);
  assert.equal(r.redact('x abcdef y abc z'), 'x *** y *** z');
  assert.equal(r.redact('nothing'), 'nothing');
});

test('Redactor knows when a secret spans lines', () => {
  assert.equal(new Redactor(['one line']).multiline, false);
  const r = new Redactor(['-----BEGIN KEY-----\nabc\n-----END KEY-----']);
  assert.equal(r.multiline, true);
  assert.equal(r.redact('key: -----BEGIN KEY-----\nabc\n-----END KEY-----\n'), 'key: ***\n');
});
