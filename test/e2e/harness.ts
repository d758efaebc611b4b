/**
 * The whole controller for end-to-end tests: a real test database, real sshd hosts, a real git repository reached by
 * path, a loopback fake GitHub (App mode: check runs), webhooks built from @octokit/webhooks-examples and signed.
 */
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import examples from '@octokit/webhooks-examples';
import pg from 'pg';
import { readConfig, type ControllerConfig } from '../../controller/config.js';
import { createLogger } from '../../controller/logger.js';
import { startController, type RunningController } from '../../controller/main.js';
import { countJobs } from '../../controller/store/graphile-queue.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { startFakeGitHub, type FakeGitHub } from '../helpers/fake-github/index.js';
import { startSshHosts, type SshHost, type SshHosts } from '../helpers/sshd.js';
import { signWebhook } from '../helpers/webhook-signature.js';
import { waitFor } from '../helpers/wait-for.js';
import { GitRepo } from '../helpers/git-repo.js';
import { withQuietDrift } from '../helpers/quiet-drift.js';

export const OWNER = 'acme';
export const NAME = 'infra';
export const FULL_NAME = `${OWNER}/${NAME}`;
export const INSTALLATION = 4242;
export const WEBHOOK_SECRET = 'e2e-webhook-secret';
export const ENV = 'test';

/**
 * politburo.yml for `db`, then `web` after it (one per sshd host). With `waitFile`, db's task waits for that file in its
 * host's home: an apply caught mid-run, released when the test writes the file. `say` is echoed first (output while a
 * task runs) and `label` is appended to the task's name.
 */
export function waitingApp(
  hosts: SshHost[],
  o: { version: string; waitFile?: string; say?: string; label?: string; extra?: string },
): string {
  const node = (p: string, wait: boolean) => [
    `      ${p}:`,
    ...(p === 'web' ? ['        depends_on: [db]'] : []),
    '        tasks:',
    `          - name: ${JSON.stringify(`marker ${o.version}${o.label ? ` ${o.label}` : ''}`)}`,
    `            met: 'test -f ~/state/${o.version}'`,
    `            meet: '${o.say ? `echo "${o.say}"; ` : ''}${wait ? `while [ ! -f ~/${o.waitFile} ]; do sleep 0.2; done; ` : ''}mkdir -p ~/state && touch ~/state/${o.version}'`,
  ];
  const host = (h: SshHost) => `{ address: '${h.address}', port: ${h.port}, user: ${h.user} }`;
  return [
    'politburo: 1',
    'defaults: { timeout: 5m }',
    'blueprints:',
    '  app:',
    '    resources:',
    ...node('db', o.waitFile !== undefined),
    ...node('web', false),
    'environments:',
    `  ${ENV}:`,
    '    blueprint: app',
    `    hosts: { db: ${host(hosts[0])}, web: ${host(hosts[1])} }`,
    '    known_hosts: known_hosts',
    withQuietDrift(o.extra),
    '',
  ].join('\n');
}

export interface DescriptionOptions {
  version?: string;
  /** Paths of nodes whose task fails. */
  failing?: string[];
  /** Extra YAML under the environment (4-space indented). */
  extra?: string;
  /** The task's met command may sleep this long (seconds), to catch an apply mid-run. */
  sleep?: number;
}

/** politburo.yml for two nodes `web` and `db`, one per sshd host; each marks `~/contacted` whenever its task runs. */
export function description(hosts: SshHost[], o: DescriptionOptions = {}): string {
  const version = o.version ?? 'v1';
  const node = (p: string) => {
    const meet = o.failing?.includes(p)
      ? 'echo "disk on fire" >&2; exit 1'
      : `mkdir -p ~/state && touch ~/state/${version}`;
    return [
      `      ${p}:`,
      `        tasks:`,
      `          - name: marker ${version}`,
      `            met: 'touch ~/contacted; ${o.sleep ? `sleep ${o.sleep}; ` : ''}test -f ~/state/${version}'`,
      `            meet: '${meet}'`,
    ].join('\n');
  };
  const host = (h: SshHost) => `{ address: '${h.address}', port: ${h.port}, user: ${h.user} }`;
  return [
    'politburo: 1',
    'defaults: { timeout: 30s }',
    'blueprints:',
    '  app:',
    '    resources:',
    node('web'),
    node('db'),
    'environments:',
    `  ${ENV}:`,
    '    blueprint: app',
    `    hosts: { web: ${host(hosts[0])}, db: ${host(hosts[1] ?? hosts[0])} }`,
    '    known_hosts: known_hosts',
    withQuietDrift(o.extra),
    '',
  ].join('\n');
}

/** A git repository in a temp dir. */

// -------------------------------------------------------------------------------------------------------------
// Webhook payloads: GitHub's own examples, pointed at the test repository.

type Example = { name: string; examples: any[] };
const all = ((examples as unknown as { default?: Example[] }).default ??
  (examples as unknown as Example[])) as Example[];

function example(event: string, action?: string): any {
  const e = all.find((x) => x.name === event)!.examples.find((x) => (action ? x.action === action : true));
  return structuredClone(e);
}

function repository(repo: GitRepo): any {
  const r = example('push').repository;
  return {
    ...r,
    name: NAME,
    full_name: FULL_NAME,
    owner: { ...r.owner, login: OWNER, name: OWNER },
    clone_url: repo.dir,
    default_branch: 'main',
    fork: false,
  };
}

export function pushPayload(repo: GitRepo, o: { branch?: string; before: string; after: string }): any {
  const p = example('push');
  return {
    ...p,
    ref: `refs/heads/${o.branch ?? 'main'}`,
    before: o.before,
    after: o.after,
    created: false,
    deleted: false,
    forced: false,
    base_ref: null,
    repository: repository(repo),
    installation: { id: INSTALLATION, node_id: 'x' },
  };
}

export function pullRequestPayload(
  repo: GitRepo,
  o: { action: 'opened' | 'synchronize' | 'reopened'; number: number; head: string; base: string; headRepo?: string },
): any {
  const p = example('pull_request', 'opened');
  const repoJson = repository(repo);
  const headRepo = o.headRepo
    ? {
        ...repoJson,
        full_name: o.headRepo,
        name: o.headRepo.split('/')[1],
        owner: { ...repoJson.owner, login: o.headRepo.split('/')[0] },
        fork: true,
      }
    : repoJson;
  p.action = o.action;
  p.number = o.number;
  p.pull_request = {
    ...p.pull_request,
    number: o.number,
    head: { ...p.pull_request.head, sha: o.head, ref: 'feature', repo: headRepo },
    base: { ...p.pull_request.base, sha: o.base, ref: 'main', repo: repoJson },
  };
  p.repository = repoJson;
  p.installation = { id: INSTALLATION, node_id: 'x' };
  return p;
}

export function commentPayload(repo: GitRepo, o: { number: number; body: string; user: string; id: number }): any {
  const p = example('issue_comment', 'created');
  p.issue = {
    ...p.issue,
    number: o.number,
    pull_request: { url: `https://api.github.com/repos/${FULL_NAME}/pulls/${o.number}` },
  };
  p.comment = { ...p.comment, id: o.id, body: o.body, user: { ...p.comment.user, login: o.user } };
  p.repository = repository(repo);
  p.installation = { id: INSTALLATION, node_id: 'x' };
  return p;
}

/** GitHub's commit_comment example: a comment on a commit of the test repository. */
export function commitCommentPayload(repo: GitRepo, o: { sha: string; body: string; user: string; id: number }): any {
  const p = example('commit_comment');
  p.comment = { ...p.comment, id: o.id, body: o.body, commit_id: o.sha, user: { ...p.comment.user, login: o.user } };
  p.repository = repository(repo);
  p.installation = { id: INSTALLATION, node_id: 'x' };
  return p;
}

/** The controller settings that turn on the dashboard's sign-in with the fake GitHub's OAuth client. */
export function signInEnv(github: FakeGitHub): Record<string, string> {
  return {
    GITHUB_CLIENT_ID: github.oauth.clientId,
    GITHUB_CLIENT_SECRET: github.oauth.clientSecret,
    GITHUB_URL: github.url,
    POLITBURO_PUBLIC_URL: '',
    POLITBURO_DASHBOARD_SESSION_TTL: '1h',
  };
}

// -------------------------------------------------------------------------------------------------------------

export interface Harness {
  db: TestDatabase;
  pool: pg.Pool;
  ssh: SshHosts;
  github: FakeGitHub;
  repo: GitRepo;
  /** Environment of the controller (for spawned processes too). */
  env: Record<string, string>;
  config: ControllerConfig;
  controllers: RunningController[];
  /** Starts one more in-process controller on the same database. */
  startController(extra?: Record<string, string>): Promise<RunningController>;
  send(event: string, payload: unknown, url?: string): Promise<Response>;
  /** Every check run on a commit, by name. */
  checks(
    sha: string,
  ): Map<string, { status: string; conclusion: string | null; title: string | null; summary: string | null }>;
  stop(): Promise<void>;
}

/** Starts database, hosts, fake GitHub and one controller. */
export async function startHarness(
  opts: {
    hosts?: number;
    files?: (hosts: SshHost[]) => Record<string, string>;
    controllers?: number;
    env?: Record<string, string>;
  } = {},
): Promise<Harness> {
  const db = await createTestDatabase();
  const ssh = await startSshHosts(opts.hosts ?? 2);
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const github = await startFakeGitHub({ appPublicKey: publicKey, appId: 77 });
  const files = opts.files?.(ssh.hosts) ?? { 'politburo.yml': description(ssh.hosts) };
  const repo = await GitRepo.create({ known_hosts: ssh.knownHosts, ...files });
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'politburo-e2e-data-'));
  const env: Record<string, string> = {
    DATABASE_URL: db.url,
    PORT: '0',
    HOST: '127.0.0.1',
    GITHUB_APP_ID: '77',
    GITHUB_PRIVATE_KEY: privateKey,
    GITHUB_API_URL: github.url,
    GITHUB_WEBHOOK_SECRET: WEBHOOK_SECRET,
    POLITBURO_PUBLIC_URL: 'http://politburo.example',
    POLITBURO_SSH_KEY: ssh.privateKeyPath,
    POLITBURO_DATA_DIR: dataDir,
    POLITBURO_CONCURRENCY: '4',
    POLITBURO_WORKER_HEARTBEAT: '200ms',
    POLITBURO_WORKER_STALE_AFTER: '2s',
    POLITBURO_SHUTDOWN_GRACE: '1s',
    LOG_LEVEL: process.env.E2E_LOG_LEVEL ?? 'silent',
    ...opts.env,
  };
  const pool = new pg.Pool({ connectionString: db.url, max: 4 });
  pool.on('error', () => {}); // idle connections are cut when the test database is dropped
  const controllers: RunningController[] = [];
  let n = 0;
  const harness: Harness = {
    db,
    pool,
    ssh,
    github,
    repo,
    env,
    config: readConfig(env),
    controllers,
    async startController(extra = {}) {
      // Each replica has its own data directory (its own git mirrors), as separate pods would.
      const config = readConfig({ ...env, POLITBURO_DATA_DIR: path.join(dataDir, `replica-${n++}`), ...extra });
      // The real composition root: controller/wiring.ts with the job handlers of controller/jobs.
      const c = await startController(config, { logger: createLogger({ level: config.logLevel }) });
      controllers.push(c);
      return c;
    },
    async send(event, payload, url = controllers[0].url) {
      const body = JSON.stringify(payload);
      const signature = signWebhook(WEBHOOK_SECRET, body);
      return fetch(`${url}/webhooks/github`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-github-event': event,
          'x-github-delivery': randomUUID(),
          'x-hub-signature-256': signature,
        },
        body,
      });
    },
    checks(sha) {
      return new Map(
        github.state.checkRuns
          .filter((r) => r.head_sha === sha)
          .map((r) => [
            r.name,
            { status: r.status, conclusion: r.conclusion, title: r.output.title, summary: r.output.summary },
          ]),
      );
    },
    async stop() {
      // Let queued and running jobs finish first: a job cut off by the shutdown would use a closed pool.
      await waitFor('the queue to drain', async () => (await countJobs(pool)) === 0, 30_000).catch(() => undefined);
      await Promise.all(controllers.map((c) => c.stop('test over').catch(() => undefined)));
      await pool.end().catch(() => undefined);
      await github.close().catch(() => undefined);
      await ssh.stop().catch(() => undefined);
      await db.drop().catch(() => undefined);
      await rm(repo.dir, { recursive: true, force: true });
      await rm(dataDir, { recursive: true, force: true });
    },
  };
  try {
    for (let i = 0; i < (opts.controllers ?? 1); i++) await harness.startController();
  } catch (err) {
    await harness.stop();
    throw err;
  }
  return harness;
}
