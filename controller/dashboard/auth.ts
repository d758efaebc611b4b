/**
 * Who may read the dashboard: anyone when it is public (POLITBURO_DASHBOARD_PUBLIC=true), else whoever presents the
 * token (`Authorization: Bearer TOKEN`, or `?token=TOKEN` once, which sets a cookie and redirects without it).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { html, page } from './html.js';

const TOKEN_COOKIE = 'politburo_dashboard';

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** Constant-time comparison (hashing first makes lengths equal). */
function tokenMatches(given: string | undefined, token: string): boolean {
  return given !== undefined && timingSafeEqual(digest(given), digest(token));
}

/** A cookie's value from the Cookie header. */
function readCookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

function bearer(req: Request): string | undefined {
  const m = /^Bearer\s+(\S+)$/i.exec(req.get('authorization') ?? '');
  return m?.[1];
}

function deny(req: Request, res: Response, message: string): void {
  res.status(401).set('WWW-Authenticate', 'Bearer realm="politburo"').set('Cache-Control', 'no-store');
  if (req.path.startsWith('/api/')) {
    res.json({ error: message });
    return;
  }
  res.type('html').send(
    page(
      'Sign in',
      html`<h1>Sign in</h1><p>${message}</p>
<form method="get"><label>Dashboard token <input type="password" name="token" autocomplete="current-password"></label> <button>Open</button></form>`,
    ),
  );
}

/** The middleware guarding every dashboard route. */
export function dashboardAuth(opts: { publicRead: boolean; token?: string }): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    if (opts.publicRead) return next();
    if (!opts.token)
      return deny(
        req,
        res,
        'The dashboard is private and no token is configured: set POLITBURO_DASHBOARD_TOKEN, or POLITBURO_DASHBOARD_PUBLIC=true for read-only public access.',
      );
    const query = typeof req.query.token === 'string' ? req.query.token : undefined;
    if (query !== undefined) {
      if (!tokenMatches(query, opts.token)) return deny(req, res, 'That token is not valid.');
      // Remember the token in a cookie and drop it from the address bar (and from logs of later requests).
      const secure = req.secure ? '; Secure' : '';
      res.setHeader(
        'Set-Cookie',
        `${TOKEN_COOKIE}=${encodeURIComponent(query)}; Path=/; HttpOnly; SameSite=Lax; Max-Age=2592000${secure}`,
      );
      const params = new URLSearchParams(req.originalUrl.split('?')[1] ?? '');
      params.delete('token');
      const rest = params.toString();
      return res.redirect(303, `${req.originalUrl.split('?')[0]}${rest ? `?${rest}` : ''}`);
    }
    if (tokenMatches(bearer(req) ?? readCookie(req.get('cookie'), TOKEN_COOKIE), opts.token)) return next();
    deny(req, res, 'This dashboard needs a token.');
  };
}
