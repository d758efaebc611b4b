/** The flows' wiring: the reporter and clone token chosen from the configuration, the task list registered. */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { readConfig } from '../../../controller/config.js';
import { cloneToken, createFlows, githubAuth } from '../../../controller/jobs/flows.js';
import { createLogger } from '../../../controller/logger.js';
import { JOB_APPLY, JOB_DELIVERY, JOB_DRIFT, JOB_GITHUB_WRITE, JOB_PLAN_PR, JOB_POLL } from '../../../controller/ports.js';
import { createPgStore } from '../../../reconciler/store/pg-store.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.js';
import { startFakeGitHub, type FakeGitHub } from '../../helpers/fake-github/index.js';

describe('createFlows', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  let github: FakeGitHub;
  let tmp: string;
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
  before(async () => {
    db = await createTestDatabase();
    pool = new pg.Pool({ connectionString: db.url, max: 3 });
    github = await startFakeGitHub({ appPublicKey: publicKey, appId: 5 });
    tmp = await mkdtemp(path.join(os.tmpdir(), 'politburo-flows-'));
  });
  after(async () => {
    await pool.end();
    await github.close();
    await db.drop();
    await rm(tmp, { recursive: true, force: true });
  });

  const context = (env: Record<string, string>) => {
    const config = readConfig({ DATABASE_URL: db.url, POLITBURO_DATA_DIR: tmp, ...env });
    return { config, pool, store: createPgStore(pool), logger: createLogger({ level: 'silent' }) };
  };

  test('without GitHub credentials: every flow task, reports to the log', async () => {
    const flows = createFlows();
    const tasks = flows.createTaskList(context({}));
    assert.deepEqual(Object.keys(tasks).sort(), [JOB_APPLY, JOB_DELIVERY, JOB_DRIFT, JOB_PLAN_PR, JOB_POLL].sort());
    assert.equal(await flows.deps()!.reporter.permission({ owner: 'a', name: 'b', cloneUrl: '', defaultBranch: 'main' }, 'x'), 'none');
    await flows.stop();
  });

  test('as a GitHub App: the write task too, and clones with an installation token', async () => {
    const ctx = context({ GITHUB_APP_ID: '5', GITHUB_PRIVATE_KEY: privateKey, GITHUB_API_URL: github.url });
    const flows = createFlows();
    const tasks = flows.createTaskList(ctx);
    assert.ok(JOB_GITHUB_WRITE in tasks);
    await flows.stop();
    const token = await cloneToken(githubAuth(ctx.config)!, ctx)({ owner: 'acme', name: 'infra', installationId: 12, cloneUrl: 'https://github.com/acme/infra.git', defaultBranch: 'main' });
    assert.match(token ?? '', /^ghs_fake12x/);
    assert.equal(github.state.tokens.get(token!), 12);
  });

  test('with a token: the token clones', async () => {
    const ctx = context({ GITHUB_TOKEN: 'pat-123', GITHUB_API_URL: github.url });
    assert.equal(await cloneToken(githubAuth(ctx.config)!, ctx)({ owner: 'a', name: 'b', cloneUrl: 'https://x/a/b.git', defaultBranch: 'main' }), 'pat-123');
  });
});
