/**
 * Who is looking at the dashboard (docs/controller.md, "The dashboard"), in this order:
 * - someone signed in with GitHub (a session cookie, controller/dashboard/sessions.ts): sees the repositories they may
 *   read and acts where they may write (controller/dashboard/permissions.ts);
 * - on the JSON API (`/api/…`) only, someone who gives their own GitHub token (`Authorization: Bearer TOKEN`, whose
 *   it is asked of GitHub: controller/dashboard/github-tokens.ts): the same as signed in, without a session;
 * - whoever presents the shared token (`Authorization: Bearer TOKEN`, or `?token=TOKEN` once, which sets a cookie and
 *   redirects without it): reads everything, acts never;
 * - anyone, when the dashboard is public (POLITBURO_DASHBOARD_PUBLIC=true): reads everything, acts never.
 * Anybody else gets the sign-in page.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Queryable } from '../../store/in-transaction.js';
import type { GitHubTokens } from './github-tokens.js';
import { html, page } from './html.js';
import { addCookie, cookieAttributes, currentSession, readCookie, sameSecret, type Session } from './sessions.js';

const TOKEN_COOKIE = 'politburo_dashboard';

export type Viewer =
  | { kind: 'public' }
  | { kind: 'token' }
  | { kind: 'user'; login: string; session: Session }
  /** A person identified by their GitHub token (the JSON API only). */
  | { kind: 'github'; login: string };

/** A person (signed in, or by their GitHub token): what they see and do follows their permission. */
export const isPerson = (v: Viewer): v is Extract<Viewer, { login: string }> =>
  v.kind === 'user' || v.kind === 'github';

export interface AuthOptions {
  publicRead: boolean;
  token?: string;
  /** Sign-in with GitHub is configured: sessions are read from `db`. */
  sessions?: Queryable;
  /** People's GitHub tokens are accepted on the JSON API (needs sign-in with GitHub configured). */
  githubTokens?: GitHubTokens;
}

/** The viewer the middleware found (every dashboard route runs behind it). */
export function viewerOf(res: Response): Viewer {
  return (res.locals.viewer as Viewer | undefined) ?? { kind: 'public' };
}

function bearer(req: Request): string | undefined {
  const m = /^Bearer\s+(\S+)$/i.exec(req.get('authorization') ?? '');
  return m?.[1];
}

function deny(req: Request, res: Response, message: string, opts: AuthOptions, status?: number): void {
  res.set('Cache-Control', 'no-store');
  const isPost = req.method !== 'GET' && req.method !== 'HEAD';
  // The JSON API answers JSON: 401 without valid credentials; an action says it was refused, and why.
  if (req.path.startsWith('/api/')) {
    res
      .status(status ?? 401)
      .set('WWW-Authenticate', 'Bearer realm="politburo"')
      .json(isPost ? { outcome: 'refused', reason: message } : { error: message });
    return;
  }
  // A POST (an action) from nobody is forbidden, not a question of signing in first.
  if (isPost) {
    res.status(403).type('text/plain').send(`Refused: ${message}`);
    return;
  }
  res.status(401).set('WWW-Authenticate', 'Bearer realm="politburo"');
  const back = new URLSearchParams({ return_to: req.originalUrl });
  res.type('html').send(
    page(
      'Sign in',
      html`<h1>Sign in</h1><p>${message}</p>
${opts.sessions ? html`<p><a class="sign-in" href="${`/auth/github/login?${back}`}">Sign in with GitHub</a></p>` : ''}
${opts.token ? html`<form method="get"><label>Dashboard token <input type="password" name="token" autocomplete="current-password"></label> <button>Open</button></form>` : ''}`,
    ),
  );
}

/** The middleware guarding every dashboard route: finds the viewer (module comment) or answers 401. */
export function dashboardAuth(opts: AuthOptions): RequestHandler {
  return async (req: Request, res: Response, next: NextFunction) => {
    try {
      const session = opts.sessions ? await currentSession(opts.sessions, req) : null;
      if (session) {
        res.locals.viewer = { kind: 'user', login: session.login, session } satisfies Viewer;
        return next();
      }
    } catch (err) {
      return next(err);
    }
    const query = typeof req.query.token === 'string' ? req.query.token : undefined;
    if (opts.token && query !== undefined) {
      if (!sameSecret(query, opts.token)) return deny(req, res, 'That token is not valid.', opts);
      // Remember the token in a cookie and drop it from the address bar (and from logs of later requests).
      addCookie(
        res,
        `${TOKEN_COOKIE}=${encodeURIComponent(query)}; ${cookieAttributes(req, { maxAgeSeconds: 2592000 })}`,
      );
      const params = new URLSearchParams(req.originalUrl.split('?')[1] ?? '');
      params.delete('token');
      const rest = params.toString();
      return res.redirect(303, `${req.originalUrl.split('?')[0]}${rest ? `?${rest}` : ''}`);
    }
    const given = bearer(req);
    if (opts.token && sameSecret(given ?? readCookie(req.get('cookie'), TOKEN_COOKIE), opts.token)) {
      res.locals.viewer = { kind: 'token' } satisfies Viewer;
      return next();
    }
    if (given !== undefined && opts.githubTokens && req.path.startsWith('/api/')) {
      let check;
      try {
        check = await opts.githubTokens.verify(given);
      } catch (err) {
        const why = err instanceof Error ? err.message : String(err);
        return deny(req, res, `GitHub could not be asked whose token this is (${why}): try again`, opts, 503);
      }
      if ('refused' in check) return deny(req, res, check.refused, opts);
      res.locals.viewer = { kind: 'github', login: check.login } satisfies Viewer;
      return next();
    }
    if (opts.publicRead) {
      res.locals.viewer = { kind: 'public' } satisfies Viewer;
      return next();
    }
    if (!opts.token && !opts.sessions)
      return deny(
        req,
        res,
        'The dashboard is private and no way in is configured: set GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET (sign in with GitHub), POLITBURO_DASHBOARD_TOKEN, or POLITBURO_DASHBOARD_PUBLIC=true for read-only public access.',
        opts,
      );
    if (query !== undefined) return deny(req, res, 'That token is not valid.', opts);
    deny(
      req,
      res,
      opts.sessions ? 'Sign in with GitHub to see this dashboard.' : 'This dashboard needs a token.',
      opts,
    );
  };
}
