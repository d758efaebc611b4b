/**
 * The controller's configuration, read once from the environment (`readConfig`). Nothing else in the controller reads
 * process.env: every part gets what it needs from the frozen object returned here.
 */
import { defaultKeeperDir, parsePersist, persistOption } from '../hosts/keeper-socket.js';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import ms from 'ms';
import { z } from 'zod';
import { defaultDataDir } from '../store/embedded.js';
import { leaseSettings } from '../reconciler/run-lock.js';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/** One repository watched in poll mode: a path or git URL, and the branch to follow (undefined: the default branch). */
export interface PollRepo {
  url: string;
  branch?: string;
}

export interface ControllerConfig {
  /** PostgreSQL URL; undefined means the embedded server. */
  databaseUrl?: string;
  /** How long to wait for a database connection, and for one query (0: no limit). */
  database: { connectTimeoutMs: number; queryTimeoutMs: number };
  port: number;
  host: string;
  /** Limits on slow clients (slow-loris): see controller/server.ts createHttpServer. */
  http: HttpTimeouts;
  github: {
    apiUrl: string;
    /** GitHub's web root (sign-in pages): GITHUB_URL, e.g. https://github.example.com for GitHub Enterprise Server. */
    webUrl: string;
    /** The App's OAuth client, for signing in to the dashboard (GITHUB_CLIENT_ID, GITHUB_CLIENT_SECRET). */
    oauth?: { clientId: string; clientSecret: string };
    appId?: number;
    privateKey?: string;
    token?: string;
    /**
     * The current webhook secret first, then the old ones still accepted during a rotation. Empty: webhooks refused.
     */
    webhookSecrets: readonly string[];
  };
  publicUrl?: string;
  /** `configFile`: POLITBURO_SSH_CONFIG (instead of ~/.ssh/config); `agentSocket`: SSH_AUTH_SOCK. */
  ssh: {
    keyPath?: string;
    passphrase?: string;
    knownHosts?: string;
    configFile?: string;
    agentSocket?: string;
    /**
     * POLITBURO_SSH_PERSIST and POLITBURO_SSH_PERSIST_DIR: connections kept between jobs, for every host (`ms`) or as
     * ssh_config's ControlPersist says (docs/configuration.md); unset with POLITBURO_SSH_PERSIST=no.
     */
    persist?: { dir: string; ms?: number | null };
  };
  /** Jobs run at once by this process. */
  concurrency: number;
  poll: { repos: readonly PollRepo[]; intervalMs: number };
  /** Outcome notifications (docs/controller.md, "Notifications"). */
  alerts: AlertConfig;
  /** POLITBURO_DASHBOARD_*: who may read, and how long a GitHub sign-in lasts (docs/controller.md, "The dashboard"). */
  dashboard: { public: boolean; token?: string; sessionTtlMs: number };
  /** Mirrors and work directories. */
  dataDir: string;
  /** Set only when POLITBURO_DATA_DIR is given: the embedded PostgreSQL then lives under it. */
  embeddedPostgresDir?: string;
  logLevel: LogLevel;
  /** Deliveries are stored and acknowledged but not acted on (benchmarks, maintenance): POLITBURO_INGEST_ONLY. */
  ingestOnly: boolean;
  /** POLITBURO_SECRET_<NAME> values by NAME. */
  secrets: Readonly<Record<string, string>>;
  queue: {
    heartbeatIntervalMs: number;
    /** A process whose heartbeat is older than this is dead: its jobs are unlocked for others. */
    staleAfterMs: number;
    /** How long a shutdown waits for running jobs before releasing them back to the queue. */
    shutdownGraceMs: number;
    /** Test seam: every job waits this long before its handler runs (POLITBURO_TEST_JOB_DELAY). */
    testJobDelayMs: number;
  };
}

/** POLITBURO_ALERT_*: where outcome notifications go and how they are retried. */
export interface AlertConfig {
  /** POLITBURO_ALERT_WEBHOOK, comma-separated; empty: no notifications. */
  webhooks: readonly string[];
  /** POLITBURO_ALERT_SECRET: HMAC-SHA256 key of X-Politburo-Signature-256; undefined: unsigned. */
  secret?: string;
  /** Attempts per delivery, the first included (POLITBURO_ALERT_ATTEMPTS). */
  attempts: number;
  /** One attempt's limit (POLITBURO_ALERT_TIMEOUT). */
  timeoutMs: number;
  /** The first retry's delay, doubled per attempt up to 10 minutes (POLITBURO_ALERT_BACKOFF). */
  backoffMs: number;
}

/**
 * How long a client may take: to send its request headers, its whole request, and between requests on one connection.
 */
export interface HttpTimeouts {
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
}

/** A configuration problem: names the variable and says what to do. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const optional = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

/** A duration like `30s`, `5m`, `1h`, or a bare number of seconds. */
function duration(name: string, fallback: string, min = 0) {
  return z
    .string()
    .optional()
    .transform((v, ctx) => {
      const text = v?.trim() || fallback;
      const value = /^\d+(\.\d+)?$/.test(text) ? Number(text) * 1000 : ms(text as ms.StringValue);
      if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
        ctx.addIssue({
          code: 'custom',
          message: `${name}=${JSON.stringify(v)} is not a duration of at least ${min} ms: write e.g. 30s, 5m or 1h`,
        });
        return z.NEVER;
      }
      return value;
    });
}

function integer(name: string, fallback: number, min: number, max: number) {
  return z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === '') return fallback;
      const n = Number(v.trim());
      if (!Number.isInteger(n) || n < min || n > max) {
        ctx.addIssue({
          code: 'custom',
          message: `${name}=${JSON.stringify(v)} must be a whole number from ${min} to ${max}`,
        });
        return z.NEVER;
      }
      return n;
    });
}

function boolean(name: string) {
  return z
    .string()
    .optional()
    .transform((v, ctx) => {
      const t = (v ?? '').trim().toLowerCase();
      if (['', 'false', '0', 'no', 'off'].includes(t)) return false;
      if (['true', '1', 'yes', 'on'].includes(t)) return true;
      ctx.addIssue({ code: 'custom', message: `${name}=${JSON.stringify(v)} must be true or false` });
      return z.NEVER;
    });
}

/** Comma-separated http(s) URLs. */
function urlList(name: string) {
  return optional.transform((v, ctx) => {
    const urls = (v ?? '')
      .split(',')
      .map((u) => u.trim())
      .filter(Boolean);
    for (const [i, u] of urls.entries()) {
      const parsed = URL.canParse(u) ? new URL(u) : null;
      if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
        ctx.addIssue({
          code: 'custom',
          message: `${name}: entry ${i + 1} (${JSON.stringify(u.length > 60 ? `${u.slice(0, 60)}…` : u)}) is not an http(s) URL: write e.g. https://hooks.slack.com/services/..., separated by commas`,
        });
        return z.NEVER;
      }
    }
    return urls;
  });
}

function url(name: string) {
  return optional.refine((v) => v === undefined || URL.canParse(v), {
    message: `${name} must be an absolute URL (e.g. https://...)`,
  });
}

const schema = z.object({
  DATABASE_URL: url('DATABASE_URL'),
  PORT: integer('PORT', 8080, 0, 65535),
  HOST: optional,
  GITHUB_APP_ID: optional
    .refine((v) => v === undefined || /^\d+$/.test(v), {
      message: 'GITHUB_APP_ID must be the numeric App id (App settings page)',
    })
    .transform((v) => (v === undefined ? undefined : Number(v))),
  GITHUB_PRIVATE_KEY: optional,
  GITHUB_PRIVATE_KEY_PATH: optional,
  GITHUB_WEBHOOK_SECRET: optional,
  GITHUB_WEBHOOK_SECRETS_OLD: optional,
  GITHUB_TOKEN: optional,
  GITHUB_API_URL: url('GITHUB_API_URL'),
  GITHUB_URL: url('GITHUB_URL'),
  GITHUB_CLIENT_ID: optional,
  GITHUB_CLIENT_SECRET: optional,
  POLITBURO_PUBLIC_URL: url('POLITBURO_PUBLIC_URL'),
  POLITBURO_SSH_KEY: optional,
  POLITBURO_SSH_KEY_PASSPHRASE: optional,
  POLITBURO_KNOWN_HOSTS: optional,
  POLITBURO_SSH_CONFIG: optional,
  POLITBURO_SSH_PERSIST: z
    .string()
    .optional()
    .transform((v, ctx) => {
      try {
        return parsePersist(v);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: `POLITBURO_SSH_PERSIST: ${(err as Error).message}` });
        return z.NEVER;
      }
    }),
  POLITBURO_SSH_PERSIST_DIR: optional,
  SSH_AUTH_SOCK: optional,
  POLITBURO_CONCURRENCY: integer('POLITBURO_CONCURRENCY', 4, 1, 256),
  POLITBURO_REPOS: optional,
  POLITBURO_POLL_INTERVAL: duration('POLITBURO_POLL_INTERVAL', '60s', 1000),
  POLITBURO_ALERT_WEBHOOK: urlList('POLITBURO_ALERT_WEBHOOK'),
  POLITBURO_ALERT_SECRET: optional,
  POLITBURO_ALERT_ATTEMPTS: integer('POLITBURO_ALERT_ATTEMPTS', 10, 1, 100),
  POLITBURO_ALERT_TIMEOUT: duration('POLITBURO_ALERT_TIMEOUT', '10s', 100),
  POLITBURO_ALERT_BACKOFF: duration('POLITBURO_ALERT_BACKOFF', '5s', 10),
  POLITBURO_DASHBOARD_PUBLIC: boolean('POLITBURO_DASHBOARD_PUBLIC'),
  POLITBURO_DASHBOARD_TOKEN: optional,
  POLITBURO_DASHBOARD_SESSION_TTL: duration('POLITBURO_DASHBOARD_SESSION_TTL', '12h', 60_000),
  POLITBURO_DATA_DIR: optional,
  LOG_LEVEL: optional.refine((v) => v === undefined || (LEVELS as readonly string[]).includes(v.toLowerCase()), {
    message: `LOG_LEVEL must be one of ${LEVELS.join(', ')}`,
  }),
  POLITBURO_WORKER_HEARTBEAT: duration('POLITBURO_WORKER_HEARTBEAT', '5s', 100),
  POLITBURO_WORKER_STALE_AFTER: duration('POLITBURO_WORKER_STALE_AFTER', '30s', 500),
  POLITBURO_SHUTDOWN_GRACE: duration('POLITBURO_SHUTDOWN_GRACE', '20s', 0),
  POLITBURO_INGEST_ONLY: boolean('POLITBURO_INGEST_ONLY'),
  POLITBURO_TEST_JOB_DELAY: duration('POLITBURO_TEST_JOB_DELAY', '0', 0),
  POLITBURO_HTTP_HEADERS_TIMEOUT: duration('POLITBURO_HTTP_HEADERS_TIMEOUT', '10s', 100),
  POLITBURO_HTTP_REQUEST_TIMEOUT: duration('POLITBURO_HTTP_REQUEST_TIMEOUT', '60s', 100),
  POLITBURO_HTTP_KEEP_ALIVE_TIMEOUT: duration('POLITBURO_HTTP_KEEP_ALIVE_TIMEOUT', '65s', 0),
  POLITBURO_DB_CONNECT_TIMEOUT: duration('POLITBURO_DB_CONNECT_TIMEOUT', '10s', 0),
  POLITBURO_DB_QUERY_TIMEOUT: duration('POLITBURO_DB_QUERY_TIMEOUT', '0', 0),
});

/** Splits `PATH_OR_URL[#BRANCH]` entries separated by commas or newlines. */
export function parseRepoList(text: string | undefined): PollRepo[] {
  if (!text) return [];
  return text
    .split(/[,\n]/)
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => {
      const hash = entry.lastIndexOf('#');
      if (hash <= 0) return { url: entry };
      const branch = entry.slice(hash + 1).trim();
      return branch ? { url: entry.slice(0, hash), branch } : { url: entry.slice(0, hash) };
    });
}

function readPrivateKey(raw: z.infer<typeof schema>, problems: string[]): string | undefined {
  if (raw.GITHUB_PRIVATE_KEY) return raw.GITHUB_PRIVATE_KEY.replace(/\\n/g, '\n');
  if (!raw.GITHUB_PRIVATE_KEY_PATH) return undefined;
  try {
    return readFileSync(raw.GITHUB_PRIVATE_KEY_PATH, 'utf8');
  } catch (err) {
    problems.push(
      `GITHUB_PRIVATE_KEY_PATH=${raw.GITHUB_PRIVATE_KEY_PATH} cannot be read (${(err as Error).message}): point it at the App's .pem file`,
    );
    return undefined;
  }
}

function crossChecks(raw: z.infer<typeof schema>, privateKey: string | undefined, problems: string[]): void {
  if (raw.GITHUB_APP_ID !== undefined && !privateKey && !problems.some((p) => p.startsWith('GITHUB_PRIVATE_KEY'))) {
    problems.push(
      'GITHUB_APP_ID is set but no private key: set GITHUB_PRIVATE_KEY (PEM text) or GITHUB_PRIVATE_KEY_PATH',
    );
  }
  if (privateKey && raw.GITHUB_APP_ID === undefined) {
    problems.push(
      'a GitHub App private key is set but GITHUB_APP_ID is not: set the App id (shown on the App settings page)',
    );
  }
  if (privateKey && !/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(privateKey)) {
    problems.push('the GitHub App private key is not a PEM key: it must start with -----BEGIN RSA PRIVATE KEY-----');
  }
  if (raw.GITHUB_CLIENT_ID && !raw.GITHUB_CLIENT_SECRET)
    problems.push("GITHUB_CLIENT_ID is set but GITHUB_CLIENT_SECRET is not: set the App's client secret too");
  if (raw.GITHUB_CLIENT_SECRET && !raw.GITHUB_CLIENT_ID)
    problems.push("GITHUB_CLIENT_SECRET is set but GITHUB_CLIENT_ID is not: set the App's client id too");
  if (raw.GITHUB_CLIENT_ID && raw.GITHUB_APP_ID === undefined && !raw.GITHUB_TOKEN)
    problems.push(
      'GITHUB_CLIENT_ID is set but there are no GitHub credentials to look up who may do what: set GITHUB_APP_ID and its private key (or GITHUB_TOKEN)',
    );
  if (raw.POLITBURO_SSH_KEY_PASSPHRASE && !raw.POLITBURO_SSH_KEY) {
    problems.push('POLITBURO_SSH_KEY_PASSPHRASE is set but POLITBURO_SSH_KEY is not: set the key path too');
  }
}

/**
 * POLITBURO_RUN_HEARTBEAT / POLITBURO_RUN_LEASE are read by each run; a bad value is refused at start-up, not per run.
 */
function leaseChecks(env: NodeJS.ProcessEnv, problems: string[]): void {
  try {
    leaseSettings(env);
  } catch (err) {
    problems.push((err as Error).message);
  }
}

function secretsOf(env: NodeJS.ProcessEnv): Record<string, string> {
  const secrets: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (key.startsWith('POLITBURO_SECRET_') && key.length > 'POLITBURO_SECRET_'.length && value !== undefined) {
      secrets[key.slice('POLITBURO_SECRET_'.length)] = value;
    }
  }
  return Object.freeze(secrets);
}

/**
 * Validates the environment and returns the controller's frozen configuration; throws ConfigError listing every
 * problem.
 */
export function readConfig(env: NodeJS.ProcessEnv = process.env): ControllerConfig {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) =>
        i.message.includes(String(i.path[0])) ? i.message : `${String(i.path[0])}: ${i.message}`,
      ),
    );
  }
  const raw = parsed.data;
  const problems: string[] = [];
  const privateKey = readPrivateKey(raw, problems);
  crossChecks(raw, privateKey, problems);
  leaseChecks(env, problems);
  if (problems.length) throw new ConfigError(problems);
  const oldSecrets = (raw.GITHUB_WEBHOOK_SECRETS_OLD ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const dataDir = raw.POLITBURO_DATA_DIR ? path.resolve(raw.POLITBURO_DATA_DIR) : path.dirname(defaultDataDir(env));
  const config: ControllerConfig = {
    databaseUrl: raw.DATABASE_URL,
    database: { connectTimeoutMs: raw.POLITBURO_DB_CONNECT_TIMEOUT, queryTimeoutMs: raw.POLITBURO_DB_QUERY_TIMEOUT },
    port: raw.PORT,
    host: raw.HOST ?? '0.0.0.0',
    http: {
      headersTimeoutMs: raw.POLITBURO_HTTP_HEADERS_TIMEOUT,
      // Node requires the request timeout to be at least the headers timeout.
      requestTimeoutMs: Math.max(raw.POLITBURO_HTTP_REQUEST_TIMEOUT, raw.POLITBURO_HTTP_HEADERS_TIMEOUT),
      keepAliveTimeoutMs: raw.POLITBURO_HTTP_KEEP_ALIVE_TIMEOUT,
    },
    github: {
      apiUrl: (raw.GITHUB_API_URL ?? 'https://api.github.com').replace(/\/+$/, ''),
      webUrl: (raw.GITHUB_URL ?? 'https://github.com').replace(/\/+$/, ''),
      ...(raw.GITHUB_CLIENT_ID && raw.GITHUB_CLIENT_SECRET
        ? { oauth: { clientId: raw.GITHUB_CLIENT_ID, clientSecret: raw.GITHUB_CLIENT_SECRET } }
        : {}),
      appId: raw.GITHUB_APP_ID,
      privateKey,
      token: raw.GITHUB_TOKEN,
      webhookSecrets: Object.freeze([...(raw.GITHUB_WEBHOOK_SECRET ? [raw.GITHUB_WEBHOOK_SECRET] : []), ...oldSecrets]),
    },
    publicUrl: raw.POLITBURO_PUBLIC_URL?.replace(/\/+$/, ''),
    ssh: {
      keyPath: raw.POLITBURO_SSH_KEY,
      passphrase: raw.POLITBURO_SSH_KEY_PASSPHRASE,
      knownHosts: raw.POLITBURO_KNOWN_HOSTS,
      configFile: raw.POLITBURO_SSH_CONFIG,
      agentSocket: raw.SSH_AUTH_SOCK,
      persist: persistOption(raw.POLITBURO_SSH_PERSIST, raw.POLITBURO_SSH_PERSIST_DIR ?? defaultKeeperDir()),
    },
    concurrency: raw.POLITBURO_CONCURRENCY,
    poll: { repos: Object.freeze(parseRepoList(raw.POLITBURO_REPOS)), intervalMs: raw.POLITBURO_POLL_INTERVAL },
    alerts: {
      webhooks: raw.POLITBURO_ALERT_WEBHOOK,
      secret: raw.POLITBURO_ALERT_SECRET,
      attempts: raw.POLITBURO_ALERT_ATTEMPTS,
      timeoutMs: raw.POLITBURO_ALERT_TIMEOUT,
      backoffMs: raw.POLITBURO_ALERT_BACKOFF,
    },
    dashboard: {
      public: raw.POLITBURO_DASHBOARD_PUBLIC,
      token: raw.POLITBURO_DASHBOARD_TOKEN,
      sessionTtlMs: raw.POLITBURO_DASHBOARD_SESSION_TTL,
    },
    dataDir,
    embeddedPostgresDir: raw.POLITBURO_DATA_DIR ? path.join(dataDir, 'postgres') : undefined,
    logLevel: (raw.LOG_LEVEL?.toLowerCase() ?? 'info') as LogLevel,
    ingestOnly: raw.POLITBURO_INGEST_ONLY,
    secrets: secretsOf(env),
    queue: {
      heartbeatIntervalMs: raw.POLITBURO_WORKER_HEARTBEAT,
      staleAfterMs: raw.POLITBURO_WORKER_STALE_AFTER,
      shutdownGraceMs: raw.POLITBURO_SHUTDOWN_GRACE,
      testJobDelayMs: raw.POLITBURO_TEST_JOB_DELAY,
    },
  };
  return deepFreeze(config);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
