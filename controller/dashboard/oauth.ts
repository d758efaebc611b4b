/**
 * Sign in with GitHub (docs/controller.md, "The dashboard"): GitHub's web application flow with the App's OAuth client.
 *
 * 1. `GET /auth/github/login?return_to=/path` sets a pre-session cookie holding a random `state` (and where to return)
 *    and redirects to `{GITHUB_URL}/login/oauth/authorize?client_id&redirect_uri&state`.
 * 2. GitHub sends the browser back to `GET /auth/github/callback?code&state`; the state must equal the cookie's.
 * 3. The code is exchanged at `{GITHUB_URL}/login/oauth/access_token` for a user token, which is used once for
 *    `GET {GITHUB_API_URL}/user` (the login) and then dropped: nothing of it is stored.
 * 4. A session is started (controller/dashboard/sessions.ts) and the browser returns where it was.
 *
 * `POST /auth/sign-out` (with the session's CSRF token) deletes the session.
 */
import { randomBytes } from 'node:crypto';
import express, { type Request, type Response } from 'express';
import type { Queryable } from '../../store/in-transaction.js';
import type { Logger } from '../logger.js';
import { forgeryRefusal } from './csrf.js';
import { html, page } from './html.js';
import {
  addCookie,
  cookieAttributes,
  currentSession,
  endSession,
  readCookie,
  sameSecret,
  startSession,
} from './sessions.js';

export interface SignInSettings {
  clientId: string;
  clientSecret: string;
  /** GITHUB_URL: where people sign in (authorize) and codes are exchanged. */
  webUrl: string;
  /** GITHUB_API_URL: where `GET /user` is asked. */
  apiUrl: string;
  sessionTtlMs: number;
  /** POLITBURO_PUBLIC_URL: the callback's origin (else the request's own). */
  publicUrl?: string;
}

const STATE_COOKIE = 'politburo_oauth';
const STATE_PATH = '/auth/github';
/** How long the round trip through GitHub may take. */
const STATE_MAX_AGE_SECONDS = 600;

/** A path on this dashboard to return to (never another site: `//host` and `/\host` are refused). */
export function safeReturnPath(value: unknown): string {
  return typeof value === 'string' && /^\/(?![/\\])/.test(value) && value.length < 2000 ? value : '/';
}

function callbackUrl(req: Request, settings: SignInSettings): string {
  const origin = settings.publicUrl ?? `${req.protocol}://${req.get('host')}`;
  return `${origin}/auth/github/callback`;
}

function problem(res: Response, status: number, title: string, message: string): void {
  res
    .status(status)
    .set('Cache-Control', 'no-store')
    .type('html')
    .send(
      page(
        title,
        html`<h1>${title}</h1><p class="refused" data-outcome="refused">${message}</p><p><a href="/auth/github/login">Sign in with GitHub again</a></p>`,
      ),
    );
}

/** GitHub's answer to a code exchange: a token, or an error (GitHub answers errors with 200 too). */
async function exchangeCode(
  settings: SignInSettings,
  code: string,
  redirectUri: string,
): Promise<{ token: string } | { error: string }> {
  const res = await fetch(`${settings.webUrl}/login/oauth/access_token`, {
    method: 'POST',
    headers: { accept: 'application/json', 'content-type': 'application/json', 'user-agent': 'politburo' },
    body: JSON.stringify({
      client_id: settings.clientId,
      client_secret: settings.clientSecret,
      code,
      redirect_uri: redirectUri,
    }),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  let body: { access_token?: unknown; error?: unknown; error_description?: unknown } = {};
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    return { error: `GitHub answered ${res.status} with something that is not JSON` };
  }
  if (typeof body.access_token === 'string' && body.access_token) return { token: body.access_token };
  const why = typeof body.error_description === 'string' ? body.error_description : `HTTP ${res.status}`;
  return { error: typeof body.error === 'string' ? `${body.error}: ${why}` : why };
}

/** GitHub's `GET /user` with a person's token (sign-in, and the JSON API's bearer tokens). */
export function fetchGitHubUser(apiUrl: string, token: string, timeoutMs = 15_000): Promise<globalThis.Response> {
  return fetch(`${apiUrl}/user`, {
    headers: {
      accept: 'application/vnd.github+json',
      authorization: `Bearer ${token}`,
      'user-agent': 'politburo',
      'x-github-api-version': '2022-11-28',
    },
    signal: AbortSignal.timeout(timeoutMs),
  });
}

async function userLogin(settings: SignInSettings, token: string): Promise<string> {
  const res = await fetchGitHubUser(settings.apiUrl, token);
  if (!res.ok) throw new Error(`GET /user answered ${res.status}`);
  const body = (await res.json()) as { login?: unknown };
  if (typeof body.login !== 'string' || !body.login) throw new Error('GET /user did not name a login');
  return body.login;
}

/** Adds the sign-in and sign-out routes to the dashboard's router. */
export function addSignInRoutes(
  router: express.Router,
  deps: { db: Queryable; settings: SignInSettings; logger?: Logger },
): void {
  const { db, settings } = deps;

  router.get('/auth/github/login', (req, res) => {
    const state = randomBytes(24).toString('base64url');
    const back = Buffer.from(safeReturnPath(req.query.return_to)).toString('base64url');
    addCookie(
      res,
      `${STATE_COOKIE}=${state}.${back}; ${cookieAttributes(req, { maxAgeSeconds: STATE_MAX_AGE_SECONDS, path: STATE_PATH })}`,
    );
    const query = new URLSearchParams({
      client_id: settings.clientId,
      redirect_uri: callbackUrl(req, settings),
      state,
    });
    res.set('Cache-Control', 'no-store').redirect(302, `${settings.webUrl}/login/oauth/authorize?${query}`);
  });

  router.get('/auth/github/callback', async (req, res) => {
    const [expected, back] = (readCookie(req.get('cookie'), STATE_COOKIE) ?? '').split('.');
    // The state cookie is used once, whatever happens next.
    addCookie(res, `${STATE_COOKIE}=; ${cookieAttributes(req, { maxAgeSeconds: 0, path: STATE_PATH })}`);
    const state = typeof req.query.state === 'string' ? req.query.state : undefined;
    if (!expected || !sameSecret(state, expected))
      return problem(
        res,
        403,
        'Sign-in refused',
        'The sign-in state does not match this browser (the link was not started here, or it is older than 10 minutes).',
      );
    if (typeof req.query.error === 'string')
      return problem(
        res,
        403,
        'Sign-in cancelled',
        `GitHub did not sign you in: ${typeof req.query.error_description === 'string' ? req.query.error_description : req.query.error}.`,
      );
    const code = typeof req.query.code === 'string' ? req.query.code : '';
    if (!code) return problem(res, 400, 'Sign-in failed', 'GitHub sent no code back.');
    let login: string;
    try {
      const exchanged = await exchangeCode(settings, code, callbackUrl(req, settings));
      if ('error' in exchanged)
        return problem(res, 403, 'Sign-in failed', `GitHub refused the sign-in code (${exchanged.error}).`);
      login = await userLogin(settings, exchanged.token);
    } catch (err) {
      deps.logger?.warn({ err }, 'dashboard sign-in: GitHub could not be asked');
      return problem(
        res,
        502,
        'Sign-in failed',
        `GitHub could not be reached to finish the sign-in: ${err instanceof Error ? err.message : String(err)}.`,
      );
    }
    await startSession(db, req, res, login, settings.sessionTtlMs);
    deps.logger?.info({ login }, 'dashboard: signed in with GitHub');
    let to = '/';
    try {
      to = safeReturnPath(Buffer.from(back ?? '', 'base64url').toString('utf8'));
    } catch {
      to = '/';
    }
    res.set('Cache-Control', 'no-store').redirect(303, to);
  });

  router.post('/auth/sign-out', express.urlencoded({ extended: false, limit: '8kb' }), async (req, res) => {
    const session = await currentSession(db, req);
    const refusal = forgeryRefusal(req, session, settings.publicUrl);
    if (refusal || !session) return problem(res, 403, 'Sign-out refused', refusal ?? 'not signed in');
    await endSession(db, req, res, session);
    res.set('Cache-Control', 'no-store').redirect(303, '/');
  });
}
