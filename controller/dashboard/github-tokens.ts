/**
 * A person's GitHub token as a credential of the dashboard's JSON API (docs/dashboard.md, "The JSON API"): scripts send
 * `Authorization: Bearer TOKEN`; GitHub's `GET /user` with that token says whose it is. What the person may see and do
 * then follows their permission on each repository, as for people signed in (controller/dashboard/permissions.ts).
 *
 * The token itself is never stored, logged or kept: only the SHA-256 of it, with the login GitHub named, in memory for
 * `ttlMs` (a minute by default), so a script's burst of calls asks GitHub once. A token GitHub refuses is remembered as
 * refused for a few seconds; an unreachable GitHub is not remembered at all (the next call asks again).
 */
import { createHash } from 'node:crypto';
import { fetchGitHubUser } from './oauth.js';

export type TokenCheck = { login: string } | { refused: string };

export interface GitHubTokens {
  /** Whose token it is, or why it is not accepted. Throws only when GitHub cannot be asked. */
  verify(token: string): Promise<TokenCheck>;
}

const TOKEN_SHAPE = /^[A-Za-z0-9_-]{20,255}$/;

/** How long GitHub's refusal of a token is remembered. */
const REFUSED_TTL_MS = 10_000;

export function githubTokens(opts: {
  /** GITHUB_API_URL: where `GET /user` is asked. */
  apiUrl: string;
  ttlMs?: number;
  max?: number;
  timeoutMs?: number;
}): GitHubTokens {
  const ttlMs = opts.ttlMs ?? 60_000;
  const max = opts.max ?? 1000;
  const cache = new Map<string, { until: number; value: Promise<TokenCheck> }>();

  const ask = async (token: string): Promise<TokenCheck> => {
    const res = await fetchGitHubUser(opts.apiUrl, token, opts.timeoutMs);
    // 401: not a token GitHub knows (revoked, expired, mistyped); 403: not a person's token (an App's or an
    // installation's: "Resource not accessible by integration").
    if (res.status === 401 || res.status === 403)
      return {
        refused: `GitHub does not accept this token as a person's (GET /user answered ${res.status}): give a token of your own GitHub account`,
      };
    if (!res.ok) throw new Error(`GitHub's GET /user answered ${res.status}`);
    const body = (await res.json()) as { login?: unknown };
    if (typeof body.login !== 'string' || !body.login) throw new Error("GitHub's GET /user did not name a login");
    return { login: body.login };
  };

  return {
    async verify(token) {
      // Only what looks like a token is sent to GitHub (GitHub's tokens are letters, digits and `_`).
      if (!TOKEN_SHAPE.test(token)) return { refused: 'this is not a GitHub token' };
      const key = createHash('sha256').update(token).digest('base64url');
      const now = Date.now();
      const hit = cache.get(key);
      if (hit && hit.until > now) return hit.value;
      const value = ask(token);
      const entry = { until: now + ttlMs, value };
      cache.set(key, entry);
      if (cache.size > max) cache.delete(cache.keys().next().value!);
      value.then(
        (check) => {
          if ('refused' in check) entry.until = Math.min(entry.until, Date.now() + REFUSED_TTL_MS);
        },
        () => {
          if (cache.get(key) === entry) cache.delete(key);
        },
      );
      return value;
    },
  };
}
