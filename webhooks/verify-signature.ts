/** Verifies GitHub's `X-Hub-Signature-256` against the current webhook secret and every old one still accepted. */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { Webhooks } from '@octokit/webhooks';

export type SignatureCheck =
  | { ok: true; secretIndex: number }
  | { ok: false; reason: 'disabled' | 'missing' | 'sha1-only' | 'malformed' | 'mismatch'; message: string };

const SHA256 = /^sha256=[0-9a-f]{64}$/;

/** One @octokit/webhooks verifier per secret, made once. */
const verifiers = new Map<string, Webhooks>();
function verifier(secret: string): Webhooks {
  let v = verifiers.get(secret);
  if (!v) verifiers.set(secret, (v = new Webhooks({ secret })));
  return v;
}

/**
 * Checks a delivery's signature (@octokit/webhooks: constant-time comparison, per secret); says what to fix when it
 * fails. `body` is the delivery's body decoded as UTF-8, which is what GitHub signs; it must not be empty.
 */
export async function verifySignature(
  secrets: readonly string[],
  body: string,
  signature256: string | undefined,
  signatureSha1?: string,
): Promise<SignatureCheck> {
  if (!secrets.length) {
    return {
      ok: false,
      reason: 'disabled',
      message: "webhooks are disabled: set GITHUB_WEBHOOK_SECRET on the controller to the App's webhook secret",
    };
  }
  if (!signature256) {
    return signatureSha1
      ? {
          ok: false,
          reason: 'sha1-only',
          message:
            'only an X-Hub-Signature (SHA-1) header was sent; X-Hub-Signature-256 is required: configure a webhook secret on GitHub',
        }
      : {
          ok: false,
          reason: 'missing',
          message: 'missing X-Hub-Signature-256: configure the webhook secret on GitHub to match GITHUB_WEBHOOK_SECRET',
        };
  }
  if (!SHA256.test(signature256)) {
    return { ok: false, reason: 'malformed', message: 'X-Hub-Signature-256 is not of the form sha256=<64 hex digits>' };
  }
  for (let i = 0; i < secrets.length; i++) {
    if (await verifier(secrets[i]).verify(body, signature256)) return { ok: true, secretIndex: i };
  }
  return {
    ok: false,
    reason: 'mismatch',
    message: "signature mismatch: check that GITHUB_WEBHOOK_SECRET matches the App's webhook secret",
  };
}

/**
 * True when a secret signed exactly these bytes. GitHub signs the bytes it sends; for a body that is not UTF-8 the
 * text verifySignature checks is no longer those bytes, so this tells an authentic but malformed body (a 400) from a
 * forged one (a 401). `signature256` must be of the form verifySignature accepted.
 */
export function signsBytes(secrets: readonly string[], bytes: Buffer, signature256: string): boolean {
  const given = Buffer.from(signature256.slice('sha256='.length), 'hex');
  return secrets.some((secret) => {
    const expected = createHmac('sha256', secret).update(bytes).digest();
    return expected.length === given.length && timingSafeEqual(expected, given);
  });
}
