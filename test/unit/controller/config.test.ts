import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, parseRepoList, readConfig } from '../../../controller/config.js';

test('defaults: port 8080, api.github.com, embedded database, webhooks off, frozen', () => {
  const c = readConfig({ HOME: '/home/u' });
  assert.equal(c.port, 8080);
  assert.equal(c.host, '0.0.0.0');
  assert.equal(c.databaseUrl, undefined);
  assert.equal(c.github.apiUrl, 'https://api.github.com');
  assert.deepEqual(c.github.webhookSecrets, []);
  assert.equal(c.concurrency, 4);
  assert.equal(c.queue.staleAfterMs, 30_000);
  assert.equal(c.poll.intervalMs, 60_000);
  assert.ok(Object.isFrozen(c) && Object.isFrozen(c.github) && Object.isFrozen(c.github.webhookSecrets));
});

test('every variable is read and converted', () => {
  const c = readConfig({
    DATABASE_URL: 'postgres://u:p@db/politburo',
    PORT: '9000',
    HOST: '127.0.0.1',
    GITHUB_APP_ID: '1234',
    GITHUB_PRIVATE_KEY: '-----BEGIN RSA PRIVATE KEY-----\\nabc\\n-----END RSA PRIVATE KEY-----',
    GITHUB_WEBHOOK_SECRET: 'new',
    GITHUB_WEBHOOK_SECRETS_OLD: 'old1, old2',
    GITHUB_API_URL: 'https://ghe.example.com/api/v3/',
    POLITBURO_PUBLIC_URL: 'https://politburo.example.com/',
    POLITBURO_CONCURRENCY: '8',
    POLITBURO_REPOS: '/srv/infra#main, https://git.example.com/a.git\nfile:///x/y.git#prod',
    POLITBURO_POLL_INTERVAL: '30s',
    POLITBURO_DASHBOARD_PUBLIC: 'true',
    POLITBURO_DATA_DIR: '/var/lib/pb',
    LOG_LEVEL: 'DEBUG',
    POLITBURO_SECRET_DB_PASSWORD: 'hunter2',
  });
  assert.equal(c.port, 9000);
  assert.equal(c.github.appId, 1234);
  assert.match(c.github.privateKey!, /^-----BEGIN RSA PRIVATE KEY-----\nabc\n/);
  assert.deepEqual(c.github.webhookSecrets, ['new', 'old1', 'old2']);
  assert.equal(c.github.apiUrl, 'https://ghe.example.com/api/v3');
  assert.equal(c.publicUrl, 'https://politburo.example.com');
  assert.equal(c.concurrency, 8);
  assert.deepEqual(c.poll.repos, [
    { url: '/srv/infra', branch: 'main' },
    { url: 'https://git.example.com/a.git' },
    { url: 'file:///x/y.git', branch: 'prod' },
  ]);
  assert.equal(c.poll.intervalMs, 30_000);
  assert.equal(c.dashboard.public, true);
  assert.equal(c.dataDir, '/var/lib/pb');
  assert.equal(c.embeddedPostgresDir, '/var/lib/pb/postgres');
  assert.equal(c.logLevel, 'debug');
  assert.deepEqual(c.secrets, { DB_PASSWORD: 'hunter2' });
});

test('errors name the variable and say what to do, all at once', () => {
  assert.throws(
    () =>
      readConfig({
        PORT: 'eighty',
        POLITBURO_POLL_INTERVAL: 'soon',
        POLITBURO_CONCURRENCY: '0',
        DATABASE_URL: 'not a url',
        LOG_LEVEL: 'loud',
        POLITBURO_DASHBOARD_PUBLIC: 'maybe',
      }),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      const text = err.message;
      for (const frag of [
        /PORT="eighty" must be a whole number/,
        /POLITBURO_POLL_INTERVAL="soon" is not a duration.*30s/,
        /POLITBURO_CONCURRENCY="0"/,
        /DATABASE_URL must be an absolute URL/,
        /LOG_LEVEL must be one of/,
        /POLITBURO_DASHBOARD_PUBLIC="maybe" must be true or false/,
      ]) {
        assert.match(text, frag);
      }
      return true;
    },
  );
  assert.throws(
    () => readConfig({ GITHUB_APP_ID: '12' }),
    /GITHUB_APP_ID is set but no private key: set GITHUB_PRIVATE_KEY/,
  );
  assert.throws(() => readConfig({ GITHUB_APP_ID: 'abc' }), /GITHUB_APP_ID must be the numeric App id/);
  assert.throws(
    () => readConfig({ GITHUB_APP_ID: '1', GITHUB_PRIVATE_KEY_PATH: '/nonexistent/key.pem' }),
    /GITHUB_PRIVATE_KEY_PATH=\/nonexistent\/key.pem cannot be read/,
  );
  assert.throws(() => readConfig({ GITHUB_PRIVATE_KEY: '-----BEGIN RSA PRIVATE KEY-----x' }), /GITHUB_APP_ID is not/);
});

test('repository lists: commas and newlines, blanks ignored, # splits the branch', () => {
  assert.deepEqual(parseRepoList(' a , ,\n\nb#dev \n'), [{ url: 'a' }, { url: 'b', branch: 'dev' }]);
  assert.deepEqual(parseRepoList(undefined), []);
});

test('database timeouts: connect 10 s and no query limit by default; durations or seconds; bad values named', () => {
  assert.deepEqual(readConfig({ HOME: '/home/u' }).database, { connectTimeoutMs: 10_000, queryTimeoutMs: 0 });
  assert.deepEqual(
    readConfig({ HOME: '/home/u', POLITBURO_DB_CONNECT_TIMEOUT: '2s', POLITBURO_DB_QUERY_TIMEOUT: '90' }).database,
    {
      connectTimeoutMs: 2000,
      queryTimeoutMs: 90_000,
    },
  );
  assert.throws(
    () => readConfig({ HOME: '/home/u', POLITBURO_DB_CONNECT_TIMEOUT: 'soon' }),
    (err: unknown) =>
      err instanceof ConfigError && err.problems.some((p) => p.startsWith('POLITBURO_DB_CONNECT_TIMEOUT="soon"')),
  );
});

test('run heartbeat and lease: checked at start-up, named when wrong', () => {
  assert.doesNotThrow(() => readConfig({ HOME: '/home/u', POLITBURO_RUN_HEARTBEAT: '2s', POLITBURO_RUN_LEASE: '10s' }));
  assert.throws(
    () => readConfig({ HOME: '/home/u', POLITBURO_RUN_LEASE: 'soon' }),
    (err: unknown) => err instanceof ConfigError && err.problems.some((p) => p.startsWith('POLITBURO_RUN_LEASE')),
  );
  assert.throws(
    () => readConfig({ HOME: '/home/u', POLITBURO_RUN_HEARTBEAT: '10s', POLITBURO_RUN_LEASE: '20s' }),
    (err: unknown) =>
      err instanceof ConfigError && err.problems.some((p) => /at least three times POLITBURO_RUN_HEARTBEAT/.test(p)),
  );
});
