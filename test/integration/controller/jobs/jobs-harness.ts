/** Job handlers against a real database, real git repositories and a fake GitHub, without the HTTP server. */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { readConfig } from '../../../../controller/config.js';
import { createGitReader } from '../../../../controller/git/mirror.js';
import { createGitHubReporter, type GitHubReporter } from '../../../../controller/github/reporter.js';
import type { JobDeps } from '../../../../controller/jobs/job-deps.js';
import { createHostConnector } from '../../../../hosts/ssh-connector.js';
import { createPgControllerStore } from '../../../../controller/store/controller-store.js';
import { createPgJobQueue } from '../../../../controller/store/job-queue.js';
import { createPgDeliveryRecords } from '../../../../controller/store/deliveries.js';
import { createLogger } from '../../../../controller/logger.js';
import { ensureQueueSchema } from '../../../../controller/queue/queue-worker.js';
import { listJobs } from '../../../../controller/store/graphile-queue.js';
import { createPgStore } from '../../../../store/pg-store.js';
import { storeDelivery } from '../../../../controller/store/ingest-deliveries.js';
import { createTestDatabase, type TestDatabase } from '../../../helpers/db.js';
import { startFakeGitHub, type FakeGitHub } from '../../../helpers/fake-github/index.js';

export interface JobsHarness {
  db: TestDatabase;
  pool: pg.Pool;
  github: FakeGitHub;
  reporter: GitHubReporter;
  /** The job ports over the test database. */
  deps: JobDeps;
  /** Stores a delivery as the webhook endpoint would; returns its id. */
  deliver(event: string, payload: any): Promise<string>;
  delivery(id: string): Promise<{ outcome: string | null; processed_at: Date | null }>;
  jobs(task?: string): Promise<{ task_identifier: string; payload: any; key: string | null }[]>;
  stop(): Promise<void>;
}

export async function startJobsHarness(env: Record<string, string> = {}): Promise<JobsHarness> {
  const db = await createTestDatabase();
  const pool = new pg.Pool({ connectionString: db.url, max: 5 });
  pool.on('error', () => {}); // idle connections are cut when the test database is dropped
  const logger = createLogger({ level: 'silent' });
  await ensureQueueSchema(pool, logger);
  const github = await startFakeGitHub();
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'politburo-jobs-'));
  const reporter = createGitHubReporter({
    pool,
    auth: { token: 'test-token' },
    baseUrl: github.url,
    throttle: false,
    start: false,
    retry: { retries: 0 },
  });
  const config = readConfig({
    DATABASE_URL: db.url,
    GITHUB_TOKEN: 'test-token',
    GITHUB_API_URL: github.url,
    POLITBURO_DATA_DIR: dataDir,
    POLITBURO_PUBLIC_URL: 'http://pb.example',
    ...env,
  });
  const deps: JobDeps = {
    store: createPgStore(pool),
    controllerStore: createPgControllerStore(pool),
    queue: createPgJobQueue(pool),
    deliveries: createPgDeliveryRecords(pool),
    reporter,
    git: createGitReader({ dataDir }),
    config,
    logger,
    connector: createHostConnector,
  };
  return {
    db,
    pool,
    github,
    reporter,
    deps,
    async deliver(event, payload) {
      const id = randomUUID();
      const stored = await storeDelivery(pool, { id, event, body: Buffer.from(JSON.stringify(payload)) });
      assert.equal(stored.status, 'accepted');
      return id;
    },
    async delivery(id) {
      return (await pool.query('SELECT outcome, processed_at FROM webhook_deliveries WHERE delivery_id = $1', [id]))
        .rows[0];
    },
    async jobs(task) {
      return (await listJobs(pool, { task })).map((j) => ({ task_identifier: j.task, payload: j.payload, key: j.key }));
    },
    async stop() {
      await reporter.close().catch(() => undefined);
      await pool.end();
      await github.close();
      await db.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
