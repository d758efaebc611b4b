/**
 * The fake's GitHub sign-in (the web application flow of a GitHub App's or OAuth App's client, as GitHub documents it
 * under "Authorizing OAuth apps" / "Generating a user access token for a GitHub App"):
 * - `GET /login/oauth/authorize?client_id&redirect_uri&state` stands for the user's consent page: it redirects at once
 *   to `redirect_uri?code&state` as the user the test picked (`signInAs`), or with `error=access_denied` when the test
 *   picked nobody (the user pressed Cancel);
 * - `POST /login/oauth/access_token` (form or JSON body: client_id, client_secret, code, redirect_uri) answers
 *   `{access_token, token_type, scope}` with `Accept: application/json`, else the form-encoded equivalent; errors are
 *   answered 200 with `error`, `error_description`, `error_uri` as GitHub does (`incorrect_client_credentials`,
 *   `redirect_uri_mismatch`, `bad_verification_code`);
 * - `GET /user` with the user token answers the user.
 * `issueToken(login)` stands for a token the person made themselves (a personal access token, which GitHub prefixes
 * `ghp_`), for scripts: `GET /user` with it answers that person too.
 */
import { randomBytes } from 'node:crypto';
import type http from 'node:http';

export interface FakeOAuthUser {
  id: number;
  login: string;
}

export interface FakeOAuth {
  clientId: string;
  clientSecret: string;
  /** The user who consents at the next authorize requests (null: the user cancels). Default `octocat`. */
  signInAs(login: string | null): void;
  /** Who `signInAs` picked. */
  readonly current: string | null;
  /** When set, `redirect_uri` must start with it (GitHub compares it with the registered callback URL). */
  callbackUrl?: string;
  /** Codes issued and not yet exchanged (code → who and for which redirect). */
  readonly codes: Map<string, { login: string; redirectUri: string | null; expiresAt: number }>;
  /** User tokens issued: token → login. */
  readonly tokens: Map<string, string>;
  /** Users by login (ids are stable per login). */
  readonly users: Map<string, FakeOAuthUser>;
  /** A new personal access token of `login` (see module comment); delete it from `tokens` to revoke it. */
  issueToken(login: string): string;
}

const CODE_LIFETIME_MS = 10 * 60_000;
const ERROR_URI =
  'https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors';

export function createFakeOAuth(
  opts: { clientId?: string; clientSecret?: string; callbackUrl?: string } = {},
): FakeOAuth {
  let current: string | null = 'octocat';
  return {
    clientId: opts.clientId ?? 'Iv1.fakeclientid',
    clientSecret: opts.clientSecret ?? 'fake-client-secret',
    callbackUrl: opts.callbackUrl,
    signInAs(login) {
      current = login;
    },
    get current() {
      return current;
    },
    codes: new Map(),
    tokens: new Map(),
    users: new Map(),
    issueToken(login) {
      const token = `ghp_${randomBytes(18).toString('base64url')}`;
      this.tokens.set(token, login);
      userOf(this, login);
      return token;
    },
  };
}

function userOf(oauth: FakeOAuth, login: string): FakeOAuthUser {
  let user = oauth.users.get(login);
  if (!user) {
    user = { id: 1000 + oauth.users.size, login };
    oauth.users.set(login, user);
  }
  return user;
}

/** `GET /user` for a user token. */
export function userJson(oauth: FakeOAuth, login: string, baseUrl: string): Record<string, unknown> {
  const user = userOf(oauth, login);
  return {
    login: user.login,
    id: user.id,
    node_id: `U_${user.id}`,
    type: 'User',
    site_admin: false,
    url: `${baseUrl}/users/${user.login}`,
    html_url: `${baseUrl}/${user.login}`,
  };
}

function send(res: http.ServerResponse, status: number, headers: Record<string, string>, body: string): void {
  res.writeHead(status, headers);
  res.end(body);
}

function answer(res: http.ServerResponse, json: boolean, body: Record<string, string>): void {
  if (json) send(res, 200, { 'content-type': 'application/json; charset=utf-8' }, JSON.stringify(body));
  else
    send(
      res,
      200,
      { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
      String(new URLSearchParams(body)),
    );
}

/** Handles `/login/oauth/*`; false for any other path. */
export function handleOAuthWeb(
  oauth: FakeOAuth,
  req: http.IncomingMessage,
  raw: string,
  res: http.ServerResponse,
  record: (status: number, body: unknown) => void,
): boolean {
  const u = new URL(req.url ?? '/', 'http://fake');
  if (u.pathname === '/login/oauth/authorize' && req.method === 'GET') {
    const q = u.searchParams;
    if (q.get('client_id') !== oauth.clientId) {
      record(404, 'unknown client_id');
      send(res, 404, { 'content-type': 'text/html' }, '<h1>404</h1><p>No application with this client_id.</p>');
      return true;
    }
    const redirect = q.get('redirect_uri');
    if (!redirect || !URL.canParse(redirect) || (oauth.callbackUrl && !redirect.startsWith(oauth.callbackUrl))) {
      record(400, 'redirect_uri mismatch');
      send(
        res,
        400,
        { 'content-type': 'text/html' },
        '<h1>Redirect URI mismatch</h1><p>The redirect_uri is not associated with this application.</p>',
      );
      return true;
    }
    const back = new URL(redirect);
    const state = q.get('state');
    const login = oauth.current;
    if (login === null) {
      back.searchParams.set('error', 'access_denied');
      back.searchParams.set('error_description', 'The user has denied your application access.');
      back.searchParams.set('error_uri', ERROR_URI);
    } else {
      const code = randomBytes(10).toString('hex');
      oauth.codes.set(code, { login, redirectUri: redirect, expiresAt: Date.now() + CODE_LIFETIME_MS });
      back.searchParams.set('code', code);
    }
    if (state !== null) back.searchParams.set('state', state);
    record(302, { location: String(back) });
    send(res, 302, { location: String(back) }, '');
    return true;
  }
  if (u.pathname === '/login/oauth/access_token' && req.method === 'POST') {
    const type = req.headers['content-type'] ?? '';
    let params: Record<string, string> = {};
    if (type.includes('json')) {
      try {
        params = JSON.parse(raw || '{}') as Record<string, string>;
      } catch {
        params = {};
      }
    } else params = Object.fromEntries(new URLSearchParams(raw || u.search));
    const json = (req.headers.accept ?? '').includes('application/json');
    const fail = (error: string, description: string) => {
      record(200, { error });
      answer(res, json, { error, error_description: description, error_uri: ERROR_URI });
    };
    if (params.client_id !== oauth.clientId || params.client_secret !== oauth.clientSecret) {
      fail('incorrect_client_credentials', 'The client_id and/or client_secret passed are incorrect.');
      return true;
    }
    const code = oauth.codes.get(String(params.code ?? ''));
    if (!code || code.expiresAt < Date.now()) {
      fail('bad_verification_code', 'The code passed is incorrect or expired.');
      return true;
    }
    if (params.redirect_uri && code.redirectUri && params.redirect_uri !== code.redirectUri) {
      fail('redirect_uri_mismatch', 'The redirect_uri MUST match the registered callback URL for this application.');
      return true;
    }
    oauth.codes.delete(String(params.code)); // a code is used once
    const token = `ghu_${randomBytes(18).toString('base64url')}`;
    oauth.tokens.set(token, code.login);
    userOf(oauth, code.login);
    record(200, { token_type: 'bearer' });
    answer(res, json, { access_token: token, token_type: 'bearer', scope: '' });
    return true;
  }
  if (u.pathname.startsWith('/login/oauth/')) {
    record(404, 'not found');
    send(res, 404, { 'content-type': 'text/html' }, '<h1>404</h1>');
    return true;
  }
  return false;
}
