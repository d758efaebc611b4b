/**
 * Cross-site request forgery protection of every dashboard POST (docs/controller.md, "The dashboard"): the request must
 * come from the dashboard's own pages (its `Origin`, else its `Referer`, names the dashboard's host or
 * POLITBURO_PUBLIC_URL) and carry the session's synchroniser token in the form field `_csrf` (on the JSON API: in the
 * X-CSRF-Token header). Session cookies are also
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

/** The header carrying the session's token on the JSON API (docs/dashboard.md, "The JSON API"). */
export const CSRF_HEADER = 'X-CSRF-Token';

/** Why the page a request says it comes from is not this dashboard (null: it is, or `required` is false and none). */
function originRefusal(req: Request, publicUrl: string | undefined, required: boolean): string | null {
  const from = originOf(req.get('origin')) ?? originOf(req.get('referer'));
  if (!from) return required ? 'the request does not say which page it comes from (no Origin or Referer header)' : null;
  const own = publicUrl && URL.canParse(publicUrl) ? new URL(publicUrl).origin : null;
  if (from.origin !== own && from.host !== req.get('host'))
    return `the request comes from ${from.origin}, not from this dashboard`;
  return null;
}

/** Why a POST is refused as a possible forgery (null: it is not). */
export function forgeryRefusal(req: Request, session: Session | null, publicUrl?: string): string | null {
  const foreign = originRefusal(req, publicUrl, true);
  if (foreign) return foreign;
  if (!session) return 'you are not signed in (or your session expired): sign in with GitHub to act';
  const body = req.body as Record<string, unknown> | undefined;
  const token = typeof body?._csrf === 'string' ? body._csrf : undefined;
  if (!sameSecret(token, session.csrf))
    return 'the form is missing its CSRF token or carries a wrong one: reload the page';
  return null;
}

/**
 * The same for the JSON API with a session: the token travels in the X-CSRF-Token header, which a page of another
 * site cannot set without this dashboard's consent (it answers no CORS preflight); an Origin or Referer, when sent,
 * must still be this dashboard's.
 */
export function headerForgeryRefusal(req: Request, session: Session, publicUrl?: string): string | null {
  const foreign = originRefusal(req, publicUrl, false);
  if (foreign) return foreign;
  if (!sameSecret(req.get(CSRF_HEADER), session.csrf))
    return `a signed-in session acts on the JSON API with its CSRF token in the ${CSRF_HEADER} header (GET /api/session gives it); it is missing or wrong`;
  return null;
}
