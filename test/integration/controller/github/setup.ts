/** A real test database, the fake GitHub and a reporter wired to both, for the reporter's integration tests. */
import { generateKeyPairSync } from 'node:crypto';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../../../helpers/db.js';
import { startFakeGitHub, type FakeGitHub } from '../../../helpers/fake-github/index.js';
import {
  createGitHubReporter,
  type GitHubReporter,
  type GitHubReporterOptions,
} from '../../../../controller/github/reporter.js';
import type { GitHubRepository } from '../../../../kernel/repository.js';

export const APP_ID = 4242;
const keys = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
});

export interface World {
  db: TestDatabase;
  pool: pg.Pool;
  newFake(): Promise<FakeGitHub>;
  /** A reporter on the fake: App auth unless `token` is given. Fast retries and backoff, no periodic sweep. */
  reporter(fake: FakeGitHub, opts?: Partial<GitHubReporterOptions> & { token?: string }): GitHubReporter;
  /** A repository of its own (and installation of its own) per call, so tests never share a queue. */
  repo(): GitHubRepository;
  /** Every OpenAPI / documented-limit violation any fake of this world recorded (tests assert none after each). */
  violations(): { method: string; path: string; errors: string[] }[];
  close(): Promise<void>;
}

export const logs: { level: string; msg?: string; obj: object }[] = [];
const logger = {
  debug: () => {},
  info: (obj: object, msg?: string) => logs.push({ level: 'info', obj, msg }),
  warn: (obj: object, msg?: string) => logs.push({ level: 'warn', obj, msg }),
  error: (obj: object, msg?: string) => logs.push({ level: 'error', obj, msg }),
};

export async function createWorld(): Promise<World> {
  const db = await createTestDatabase();
  const pool = new pg.Pool({ connectionString: db.url, max: 8 });
  pool.on('error', () => {}); // idle connections are cut when the database is dropped at the end
  const fakes: FakeGitHub[] = [];
  const reporters: GitHubReporter[] = [];
  let n = 0;
  return {
    db,
    pool,
    async newFake() {
      const fake = await startFakeGitHub({ appPublicKey: keys.publicKey, appId: APP_ID });
      fakes.push(fake);
      return fake;
    },
    reporter(fake, opts = {}) {
      const { token, ...rest } = opts;
      const r = createGitHubReporter({
        pool,
        auth: token ? { token } : { appId: APP_ID, privateKey: keys.privateKey },
        baseUrl: fake.url,
        logger,
        retry: { retries: 2, baseMs: 5 },
        throttle: false,
        backoffBaseMs: 50,
        start: false,
        ...rest,
      });
      reporters.push(r);
      return r;
    },
    repo() {
      n++;
      return {
        kind: 'github',
        owner: 'acme',
        name: `infra-${process.pid}-${n}`,
        installationId: 100 + n,
        cloneUrl: 'https://github.com/acme/infra.git',
        defaultBranch: 'main',
      };
    },
    violations: () => fakes.flatMap((f) => f.violations),
    async close() {
      await Promise.all(reporters.map((r) => r.close()));
      await Promise.all(fakes.map((f) => f.close()));
      await pool.end();
      await db.drop();
    },
  };
}
