/** GitHub's webhook signature: `sha256=` and the hex HMAC-SHA256 of the raw body with the webhook secret. */
import { createHmac } from 'node:crypto';

export function signWebhook(secret: string, body: string | Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}
