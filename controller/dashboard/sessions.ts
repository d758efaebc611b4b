/**
 * Dashboard sessions of people signed in with GitHub (docs/controller.md, "The dashboard"). The session id is 32 random
 * bytes in an HttpOnly cookie; the database keeps only its SHA-256 (controller/store/dashboard.ts), so a copy of the
 * table opens no session. The CSRF token of a session is derived from its id (an HMAC), so it is never stored either.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Request, Response } from 'express';
import type { Queryable } from '../../store/in-transaction.js';
import { createSession, deleteSession, findSession } from '../store/dashboard.js';

export const SESSION_COOKIE = 'politburo_session';

export interface Session {
  login: string;
  /** The synchroniser token every POST of this session must carry (`_csrf`). */
  csrf: string;
  idHash: Buffer;
}

function hashId(id: string): Buffer {
  return createHash('sha256').update(id).digest();
}

function csrfOf(id: string): string {
  return createHmac('sha256', id).update('politburo dashboard csrf').digest('base64url');
}

/** Constant-time comparison of two strings (hashing first makes the lengths equal). */
export function sameSecret(a: string | undefined, b: string): boolean {
  return a !== undefined && timingSafeEqual(hashId(a), hashId(b));
}

/** A cookie's value from the Cookie header. */
export function readCookie(header: string | undefined, name: string): string | undefined {
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

/**
 * Whether cookies get `Secure`: always, except over plain http to a loopback address (a local demo on
 * http://localhost, where browsers would drop a Secure cookie sent over http from anything but localhost).
 */
export function secureCookies(req: Request): boolean {
  if (req.secure) return true;
  const host = (req.hostname ?? '').replace(/^\[|\]$/g, '');
  return !(host === 'localhost' || host === '127.0.0.1' || host === '::1');
}

/** `Set-Cookie` attributes shared by the dashboard's cookies. */
export function cookieAttributes(req: Request, opts: { maxAgeSeconds: number; path?: string }): string {
  return `Path=${opts.path ?? '/'}; HttpOnly; SameSite=Lax; Max-Age=${opts.maxAgeSeconds}${secureCookies(req) ? '; Secure' : ''}`;
}

/** Appends a Set-Cookie header (keeping those already set). */
export function addCookie(res: Response, cookie: string): void {
  const prev = res.getHeader('Set-Cookie');
  const list = prev === undefined ? [] : Array.isArray(prev) ? prev : [String(prev)];
  res.setHeader('Set-Cookie', [...list, cookie]);
}

/** Starts a session for `login`: stores it and sets its cookie. */
export async function startSession(
  db: Queryable,
  req: Request,
  res: Response,
  login: string,
  ttlMs: number,
): Promise<void> {
  const id = randomBytes(32).toString('base64url');
  await createSession(db, hashId(id), login, ttlMs);
  addCookie(res, `${SESSION_COOKIE}=${id}; ${cookieAttributes(req, { maxAgeSeconds: Math.floor(ttlMs / 1000) })}`);
}

/** The session of the request's cookie, unless unknown, signed out or expired. */
export async function currentSession(db: Queryable, req: Request): Promise<Session | null> {
  const id = readCookie(req.get('cookie'), SESSION_COOKIE);
  if (!id || id.length > 100) return null;
  const row = await findSession(db, hashId(id));
  return row ? { login: row.login, csrf: csrfOf(id), idHash: hashId(id) } : null;
}

/** Signs out: deletes the session's row and clears its cookie. */
export async function endSession(db: Queryable, req: Request, res: Response, session: Session): Promise<void> {
  await deleteSession(db, session.idHash);
  addCookie(res, `${SESSION_COOKIE}=; ${cookieAttributes(req, { maxAgeSeconds: 0 })}`);
}
