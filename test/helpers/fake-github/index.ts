/**
 * A fake GitHub REST API on loopback for tests: keeps state in memory like GitHub, validates every request against
 * GitHub's OpenAPI description plus the documented limits the schema leaves out, and can inject failures.
 */
import http from 'node:http';
import { createPublicKey, verify } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { findOperation, validateBody, type Operation } from './openapi.js';
import { emptyState, type FakeState } from './state.js';
import { handlers, type Reply } from './routes.js';
import { createFakeOAuth, handleOAuthWeb, userJson, type FakeOAuth } from './oauth.js';

export type { FakeState, Permission } from './state.js';
export type { FakeOAuth } from './oauth.js';

export interface RecordedRequest {
  method: string;
  path: string;
  /** `METHOD template`, e.g. `PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}`, or null if undocumented. */
  route: string | null;
  body: any;
  status: number;
  at: number;
  auth: 'app' | 'installation' | 'token' | 'user' | 'none';
  installationId?: number;
}

export interface Violation {
  method: string;
  path: string;
  errors: string[];
}

/** A failure to inject: the next `times` requests matching method/route answer with it instead. */
export interface InjectedFailure {
  method?: string;
  /** Matches the documented template or the concrete path. */
  route?: string | RegExp;
  status: number;
  message?: string;
  headers?: Record<string, string>;
  times?: number;
}

export interface FakeGitHubOptions {
  /** PEM public key of the App: when set, App JWTs are verified (RS256, iss = appId). */
  appPublicKey?: string;
  appId?: number | string;
  /** The only personal access token accepted (any non-installation token is accepted when unset). */
  token?: string;
  /** The App's OAuth client for sign-in (defaults: `Iv1.fakeclientid`, `fake-client-secret`, any callback). */
  oauth?: { clientId?: string; clientSecret?: string; callbackUrl?: string };
}

export interface FakeGitHub {
  url: string;
  state: FakeState;
  requests: RecordedRequest[];
  violations: Violation[];
  /** Requests that changed something on GitHub (POST/PATCH/PUT/DELETE), except installation token requests. */
  writes(): RecordedRequest[];
  failNext(failure: InjectedFailure): void;
  /** What successful responses say in x-ratelimit-remaining / x-ratelimit-reset (epoch seconds). */
  rateLimit: { remaining: number; reset?: number };
  /** Sign-in with GitHub (test/helpers/fake-github/oauth.ts): pick who signs in with `oauth.signInAs(login)`. */
  oauth: FakeOAuth;
  close(): Promise<void>;
}

const WRITE_METHODS = new Set(['POST', 'PATCH', 'PUT', 'DELETE']);

/** Starts the fake on 127.0.0.1 on a free port. */
export async function startFakeGitHub(opts: FakeGitHubOptions = {}): Promise<FakeGitHub> {
  const state = emptyState();
  const requests: RecordedRequest[] = [];
  const violations: Violation[] = [];
  const failures: (InjectedFailure & { left: number })[] = [];
  const publicKey = opts.appPublicKey ? createPublicKey(opts.appPublicKey) : null;
  const oauth = createFakeOAuth(opts.oauth);
  let baseUrl = '';

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const reply = (r: Reply, rec: Omit<RecordedRequest, 'status' | 'at'>) => {
        requests.push({ ...rec, status: r.status, at: Date.now() });
        const limit = fake.rateLimit;
        const headers = {
          'content-type': 'application/json; charset=utf-8',
          'x-ratelimit-limit': '5000',
          'x-ratelimit-remaining': String(limit.remaining),
          'x-ratelimit-reset': String(limit.reset ?? Math.ceil(Date.now() / 1000) + 3600),
          ...(r.headers ?? {}),
        };
        res.writeHead(r.status, headers);
        res.end(r.body === undefined ? '' : JSON.stringify(r.body));
      };
      try {
        // GitHub's web sign-in (not part of the REST API): answered by oauth.ts.
        const recordWeb = (status: number, body: unknown) =>
          requests.push({
            method: req.method ?? '',
            path: req.url ?? '',
            route: `${req.method} ${new URL(req.url ?? '/', 'http://fake').pathname}`,
            body,
            status,
            at: Date.now(),
            auth: 'none',
          });
        if (handleOAuthWeb(oauth, req, raw, res, recordWeb)) return;
        handle(req.method ?? 'GET', req.url ?? '/', req.headers.authorization, raw, reply);
      } catch (err) {
        reply(
          { status: 500, body: { message: `fake GitHub crashed: ${(err as Error).stack}` } },
          { method: req.method ?? '', path: req.url ?? '', route: null, body: raw, auth: 'none' },
        );
      }
    });
  });

  function handle(
    method: string,
    url: string,
    authorization: string | undefined,
    raw: string,
    reply: (r: Reply, rec: Omit<RecordedRequest, 'status' | 'at'>) => void,
  ): void {
    const u = new URL(url, 'http://fake');
    // GitHub Enterprise serves the API under /api/v3.
    const pathname = u.pathname.replace(/^\/api\/v3(?=\/)/, '');
    const op = findOperation(method, pathname);
    let body: any;
    const rec: Omit<RecordedRequest, 'status' | 'at'> = {
      method,
      path: pathname + u.search,
      route: op ? `${method} ${op.template}` : null,
      body: undefined,
      auth: 'none',
    };
    const violation = (status: number, errors: string[], message = 'Validation Failed') => {
      violations.push({ method, path: pathname, errors });
      reply(
        {
          status,
          body: {
            message,
            errors: errors.map((e) => ({ message: e })),
            documentation_url: 'https://docs.github.com/rest',
          },
        },
        rec,
      );
    };
    if (!op) return violation(404, [`${method} ${pathname} is not an operation of GitHub's REST API`], 'Not Found');
    if (raw) {
      try {
        body = JSON.parse(raw);
      } catch {
        return violation(400, ['request body is not JSON'], 'Problems parsing JSON');
      }
    }
    rec.body = body;
    const who = authenticate(op, authorization);
    rec.auth = who.auth;
    rec.installationId = who.installationId;
    if (who.error) return violation(401, [who.error], 'Bad credentials');
    const errors = [...validateBody(op, body), ...documentedLimits(op, body)];
    if (errors.length) return violation(422, errors);
    if (method === 'GET' && op.template === '/user') {
      if (who.auth !== 'user' || !who.login)
        return reply({ status: 403, body: { message: 'Resource not accessible by integration' } }, rec);
      return reply({ status: 200, body: userJson(oauth, who.login, baseUrl) }, rec);
    }
    const injected = failures.find(
      (f) => f.left > 0 && (!f.method || f.method === method) && matches(f.route, op, pathname),
    );
    if (injected) {
      injected.left--;
      return reply(
        { status: injected.status, body: { message: injected.message ?? 'Server Error' }, headers: injected.headers },
        rec,
      );
    }
    const handler = handlers[`${method} ${op.template}`];
    if (!handler)
      return reply({ status: 501, body: { message: `the fake does not implement ${method} ${op.template}` } }, rec);
    const repo = op.params.owner && op.params.repo ? `${op.params.owner}/${op.params.repo}` : '';
    reply(
      handler(state, {
        params: op.params,
        query: u.searchParams,
        body: body ?? {},
        repo,
        baseUrl,
        installationId: who.installationId,
      }),
      rec,
    );
  }

  function authenticate(
    op: Operation,
    authorization: string | undefined,
  ): { auth: RecordedRequest['auth']; installationId?: number; login?: string; error?: string } {
    const m = /^(?:token|bearer) (\S+)$/i.exec(authorization ?? '');
    if (!m) return { auth: 'none', error: 'Authorization header missing: every request must be authenticated' };
    const credential = m[1];
    const user = oauth.tokens.get(credential);
    if (user !== undefined) return { auth: 'user', login: user };
    if (credential.startsWith('ghu_')) return { auth: 'user', error: 'unknown or revoked user token' };
    const appOnly = op.template.startsWith('/app/') || op.template === '/repos/{owner}/{repo}/installation';
    const isJwt = credential.split('.').length === 3;
    if (appOnly) {
      if (!isJwt) return { auth: 'token', error: `${op.template} needs the App's JWT` };
      const error = publicKey ? verifyJwt(credential) : undefined;
      return { auth: 'app', error };
    }
    if (isJwt) return { auth: 'app', error: 'an App JWT cannot be used here: use an installation token' };
    const installationId = state.tokens.get(credential);
    if (installationId !== undefined) return { auth: 'installation', installationId };
    if (credential.startsWith('ghs_')) return { auth: 'installation', error: 'unknown or expired installation token' };
    if (opts.token && credential !== opts.token) return { auth: 'token', error: 'wrong token' };
    return { auth: 'token' };
  }

  function verifyJwt(jwt: string): string | undefined {
    const [header, payload, signature] = jwt.split('.');
    const ok = verify(
      'RSA-SHA256',
      Buffer.from(`${header}.${payload}`),
      publicKey!,
      Buffer.from(signature, 'base64url'),
    );
    if (!ok) return 'App JWT signature does not verify with the App public key';
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    if (opts.appId !== undefined && String(claims.iss) !== String(opts.appId))
      return `App JWT iss ${claims.iss} is not the App id ${opts.appId}`;
    if (claims.exp * 1000 < Date.now()) return 'App JWT expired';
    return undefined;
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const fake: FakeGitHub = {
    url: baseUrl,
    state,
    requests,
    violations,
    writes: () => requests.filter((r) => WRITE_METHODS.has(r.method) && !r.path.startsWith('/app/')),
    failNext: (f) => failures.push({ ...f, left: f.times ?? 1 }),
    rateLimit: { remaining: 4999 },
    oauth,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  return fake;
}

function matches(route: string | RegExp | undefined, op: Operation, pathname: string): boolean {
  if (!route) return true;
  if (typeof route === 'string') return route === op.template || route === pathname;
  return route.test(op.template) || route.test(pathname);
}

/** GitHub's documented limits that its OpenAPI schema does not express. */
function documentedLimits(op: Operation, body: any): string[] {
  const errors: string[] = [];
  if (!body || typeof body !== 'object') return errors;
  const t = op.template;
  if (
    (t.endsWith('/comments') ||
      t.endsWith('/comments/{comment_id}') ||
      t === '/repos/{owner}/{repo}/issues' ||
      t === '/repos/{owner}/{repo}/issues/{issue_number}') &&
    typeof body.body === 'string' &&
    body.body.length > 65_536
  ) {
    errors.push(`body is too long (maximum is 65536 characters, got ${body.body.length})`);
  }
  if (t.includes('/check-runs')) {
    for (const key of ['summary', 'text'] as const) {
      const v = body.output?.[key];
      if (typeof v === 'string' && v.length > 65_535)
        errors.push(`output.${key} is too long (maximum is 65535 characters)`);
    }
    if ((body.output?.annotations?.length ?? 0) > 50)
      errors.push('output.annotations: at most 50 annotations per request');
    if (body.output && (body.output.title === undefined || body.output.summary === undefined))
      errors.push('output needs title and summary');
    if (body.status === 'completed' && !body.conclusion) errors.push('conclusion is required when status is completed');
    for (const a of body.output?.annotations ?? []) {
      if ((a.start_column !== undefined || a.end_column !== undefined) && a.start_line !== a.end_line)
        errors.push('annotation columns are only allowed on a single line');
    }
  }
  if (
    t === '/repos/{owner}/{repo}/statuses/{sha}' &&
    typeof body.description === 'string' &&
    body.description.length > 140
  ) {
    errors.push(`description is too long (maximum is 140 characters, got ${body.description.length})`);
  }
  return errors;
}
