/**
 * Verifies GitHub's `X-Hub-Signature-256` against the current webhook secret and every old one still accepted.
 *
 * The HMAC is taken over the body's bytes as received (GitHub signs bytes), not over a string decoded from them:
 * @octokit/webhooks-methods' verify() takes only a string, which would re-encode a body that is not valid UTF-8 and
 * so report a signature mismatch instead of the body's real fault.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export type SignatureCheck =
  | { ok: true; secretIndex: number }
  | { ok: false; reason: 'disabled' | 'missing' | 'sha1-only' | 'malformed' | 'mismatch'; message: string };

const SHA256 = /^sha256=[0-9a-f]{64}$/;

/** Checks a delivery's signature (constant-time comparison per secret); says what to fix when it fails. */
export async function verifySignature(
  secrets: readonly string[],
  body: string | Uint8Array,
  signature256: string | undefined,
  signatureSha1?: string,
): Promise<SignatureCheck> {
  if (!secrets.length) {
    return { ok: false, reason: 'disabled', message: 'webhooks are disabled: set GITHUB_WEBHOOK_SECRET on the controller to the App\'s webhook secret' };
  }
  if (!signature256) {
    return signatureSha1
      ? { ok: false, reason: 'sha1-only', message: 'only an X-Hub-Signature (SHA-1) header was sent; X-Hub-Signature-256 is required: configure a webhook secret on GitHub' }
      : { ok: false, reason: 'missing', message: 'missing X-Hub-Signature-256: configure the webhook secret on GitHub to match GITHUB_WEBHOOK_SECRET' };
  }
  if (!SHA256.test(signature256)) {
    return { ok: false, reason: 'malformed', message: 'X-Hub-Signature-256 is not of the form sha256=<64 hex digits>' };
  }
  const expected = Buffer.from(signature256.slice('sha256='.length), 'hex');
  for (let i = 0; i < secrets.length; i++) {
    const actual = createHmac('sha256', secrets[i]).update(body).digest();
    if (timingSafeEqual(actual, expected)) return { ok: true, secretIndex: i };
  }
  return { ok: false, reason: 'mismatch', message: 'signature mismatch: check that GITHUB_WEBHOOK_SECRET matches the App\'s webhook secret' };
}
