/**
 * Who is looking at the dashboard (docs/controller.md, "The dashboard"), in this order:
 * - someone signed in with GitHub (a session cookie, controller/dashboard/sessions.ts): sees the repositories they may
 *   read and acts where they may write (controller/dashboard/permissions.ts);
 * - whoever presents the shared token (`Authorization: Bearer TOKEN`, or `?token=TOKEN` once, which sets a cookie and
 *   redirects without it): reads everything, acts never;
 * - anyone, when the dashboard is public (POLITBURO_DASHBOARD_PUBLIC=true): reads everything, acts never.
 * Anybody else gets the sign-in page.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Queryable } from '../../store/in-transaction.js';
import { html, page } from './html.js';
import { addCookie, cookieAttributes, currentSession, readCookie, sameSecret, type Session } from './sessions.js';

const TOKEN_COOKIE = 'politburo_dashboard';

export type Viewer = { kind: 'public' } | { kind: 'token' } | { kind: 'user'; login: string; session: Session };

export interface AuthOptions {
  publicRead: boolean;
  token?: string;
  /** Sign-in with GitHub is configured: sessions are read from `db`. */
  sessions?: Queryable;
}

/** The viewer the middleware found (every dashboard route runs behind it). */
export function viewerOf(res: Response): Viewer {
  return (res.locals.viewer as Viewer | undefined) ?? { kind: 'public' };
}

function bearer(req: Request): string | undefined {
  const m = /^Bearer\s+(\S+)$/i.exec(req.get('authorization') ?? '');
  return m?.[1];
}

function deny(req: Request, res: Response, message: string, opts: AuthOptions): void {
  res.set('Cache-Control', 'no-store');
  // A POST (an action) from nobody is forbidden, not a question of signing in first.
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.status(403).type('text/plain').send(`Refused: ${message}`);
    return;
  }
  res.status(401).set('WWW-Authenticate', 'Bearer realm="politburo"');
  if (req.path.startsWith('/api/')) {
    res.json({ error: message });
    return;
  }
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
    if (opts.token && sameSecret(bearer(req) ?? readCookie(req.get('cookie'), TOKEN_COOKIE), opts.token)) {
      res.locals.viewer = { kind: 'token' } satisfies Viewer;
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
