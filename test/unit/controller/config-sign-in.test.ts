// Sign-in with GitHub and the dashboard's sessions (docs/configuration.md): GITHUB_CLIENT_ID/SECRET, GITHUB_URL,
// POLITBURO_DASHBOARD_SESSION_TTL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, readConfig } from '../../../controller/config.js';

const APP = {
  GITHUB_APP_ID: '1234',
  GITHUB_PRIVATE_KEY: '-----BEGIN RSA PRIVATE KEY-----\\nabc\\n-----END RSA PRIVATE KEY-----',
};

function problems(env: Record<string, string>): string[] {
  try {
    readConfig({ HOME: '/home/u', ...env });
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.problems;
  }
  return [];
}

test('defaults: no sign-in, github.com, 12 hour sessions', () => {
  const c = readConfig({ HOME: '/home/u' });
  assert.equal(c.github.oauth, undefined);
  assert.equal(c.github.webUrl, 'https://github.com');
  assert.equal(c.dashboard.sessionTtlMs, 12 * 3600_000);
});

test('the OAuth client, GitHub Enterprise web root and session lifetime are read', () => {
  const c = readConfig({
    HOME: '/home/u',
    ...APP,
    GITHUB_CLIENT_ID: 'Iv1.abc',
    GITHUB_CLIENT_SECRET: 's3cret',
    GITHUB_URL: 'https://ghe.example.com/',
    POLITBURO_DASHBOARD_SESSION_TTL: '30m',
  });
  assert.deepEqual(c.github.oauth, { clientId: 'Iv1.abc', clientSecret: 's3cret' });
  assert.equal(c.github.webUrl, 'https://ghe.example.com');
  assert.equal(c.dashboard.sessionTtlMs, 30 * 60_000);
  assert.ok(Object.isFrozen(c.github.oauth));
});

test('half a client, a client without GitHub credentials, a bad URL or lifetime are named', () => {
  assert.deepEqual(problems({ ...APP, GITHUB_CLIENT_ID: 'Iv1.abc' }), [
    "GITHUB_CLIENT_ID is set but GITHUB_CLIENT_SECRET is not: set the App's client secret too",
  ]);
  assert.deepEqual(problems({ ...APP, GITHUB_CLIENT_SECRET: 'x' }), [
    "GITHUB_CLIENT_SECRET is set but GITHUB_CLIENT_ID is not: set the App's client id too",
  ]);
  assert.match(problems({ GITHUB_CLIENT_ID: 'a', GITHUB_CLIENT_SECRET: 'b' })[0], /no GitHub credentials/);
  assert.deepEqual(problems({ GITHUB_CLIENT_ID: 'a', GITHUB_CLIENT_SECRET: 'b', GITHUB_TOKEN: 't' }), []);
  assert.match(problems({ GITHUB_URL: 'github.com' })[0], /GITHUB_URL must be an absolute URL/);
  assert.match(
    problems({ POLITBURO_DASHBOARD_SESSION_TTL: '10s' })[0],
    /POLITBURO_DASHBOARD_SESSION_TTL="10s" is not a duration of at least 60000 ms/,
  );
});
