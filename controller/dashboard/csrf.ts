/**
 * Cross-site request forgery protection of every dashboard POST (docs/controller.md, "The dashboard"): the request must
 * come from the dashboard's own pages (its `Origin`, else its `Referer`, names the dashboard's host or
 * POLITBURO_PUBLIC_URL) and carry the session's synchroniser token in the form field `_csrf`. Session cookies are also
 * SameSite=Lax, so browsers do not send them with cross-site POSTs at all.
 */
import type { Request } from 'express';
import { html, type Html } from './html.js';
import { sameSecret, type Session } from './sessions.js';

/** The hidden form field carrying the session's token. */
export function csrfField(session: Session): Html {
  return html`<input type="hidden" name="_csrf" value="${session.csrf}">`;
}

function originOf(value: string | undefined): URL | null {
  if (!value || value === 'null' || !URL.canParse(value)) return null;
  return new URL(value);
}

/** Why a POST is refused as a possible forgery (null: it is not). */
export function forgeryRefusal(req: Request, session: Session | null, publicUrl?: string): string | null {
  const from = originOf(req.get('origin')) ?? originOf(req.get('referer'));
  if (!from) return 'the request does not say which page it comes from (no Origin or Referer header)';
  const own = publicUrl && URL.canParse(publicUrl) ? new URL(publicUrl).origin : null;
  if (from.origin !== own && from.host !== req.get('host'))
    return `the request comes from ${from.origin}, not from this dashboard`;
  if (!session) return 'you are not signed in (or your session expired): sign in with GitHub to act';
  const body = req.body as Record<string, unknown> | undefined;
  const token = typeof body?._csrf === 'string' ? body._csrf : undefined;
  if (!sameSecret(token, session.csrf))
    return 'the form is missing its CSRF token or carries a wrong one: reload the page';
  return null;
}
