/**
 * The notification event (docs/controller.md, "Notifications"): its fields, its `text`, its signature, and the
 * POLITBURO_ALERT_* configuration.
 */
import { createHmac } from 'node:crypto';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, readConfig } from '../../../../controller/config.js';
import {
  MAX_NODES,
  applyNotification,
  buildEvent,
  signBody,
  verifySignature,
} from '../../../../controller/notify/event.js';
import type { RunResult } from '../../../../kernel/types.js';

const SHA = '0123456789abcdef0123456789abcdef01234567';

function result(over: Partial<RunResult> = {}): RunResult {
  return {
    runId: '42',
    kind: 'apply',
    environment: 'production',
    commit: SHA,
    status: 'failed',
    nodes: [
      {
        path: 'db',
        host: '10.0.0.1',
        action: 'update',
        state: 'failed',
        reason: 'task migrate failed',
        tasks: [
          { name: 'packages', outcome: 'already met' },
          { name: 'migrate', outcome: 'failed', message: 'boom' },
        ],
      },
      { path: 'web', host: '10.0.0.2', action: 'update', state: 'blocked', reason: 'db failed', tasks: [] },
    ],
    summary: { ready: 0, failed: 1, blocked: 1, drifted: 0 },
    durationMs: 1234,
    ...over,
  };
}

describe('notification event', () => {
  test('an apply result becomes a version 1 event with its run link, counts and affected nodes', () => {
    const n = applyNotification(result(), { repository: 'acme/infra', commit: SHA, trigger: 'push' });
    const e = buildEvent(n, {
      publicUrl: 'https://pb.example.com',
      now: new Date('2026-01-02T03:04:05Z'),
      id: '00000000-0000-4000-8000-000000000001',
    });
    assert.deepEqual(e, {
      version: 1,
      id: '00000000-0000-4000-8000-000000000001',
      kind: 'apply-failed',
      timestamp: '2026-01-02T03:04:05.000Z',
      repository: 'acme/infra',
      environment: 'production',
      commit: SHA,
      run_id: '42',
      run_url: 'https://pb.example.com/runs/42',
      status: 'failed',
      reason: null,
      counts: { ready: 0, failed: 1, blocked: 1, drifted: 0 },
      nodes: [
        {
          path: 'db',
          host: '10.0.0.1',
          state: 'failed',
          action: 'update',
          reason: 'task migrate failed',
          tasks: ['migrate'],
        },
        { path: 'web', host: '10.0.0.2', state: 'blocked', action: 'update', reason: 'db failed' },
      ],
      nodes_omitted: 0,
      trigger: 'push',
      text: 'Politburo: apply of production (acme/infra) at 0123456 failed: 1 failed, 1 blocked (db, web) — https://pb.example.com/runs/42',
    });
  });

  test('succeeded and cancelled runs, and each kind has its text', () => {
    const ok = buildEvent(
      applyNotification(result({ status: 'succeeded' }), { repository: 'acme/infra', commit: SHA }),
    );
    assert.equal(ok.kind, 'apply-succeeded');
    assert.equal(ok.run_url, null, 'no public URL: no link');
    assert.equal(ok.text, 'Politburo: applied production (acme/infra) at 0123456: 2 nodes changed');
    const cancelled = buildEvent(
      applyNotification(result({ status: 'cancelled' }), { repository: 'acme/infra', commit: SHA }),
    );
    assert.equal(cancelled.kind, 'apply-cancelled');
    assert.match(cancelled.text, /apply of production \(acme\/infra\) at 0123456 was cancelled/);
    const waiting = buildEvent({
      kind: 'release-waiting',
      repository: 'acme/infra',
      environment: 'production',
      commit: SHA,
      reason: 'comment `/politburo apply production` to release it',
    });
    assert.equal(waiting.status, 'waiting');
    assert.equal(
      waiting.text,
      'Politburo: production (acme/infra) at 0123456 is waiting for a release: comment `/politburo apply production` to release it',
    );
    const blocked = buildEvent({
      kind: 'apply-blocked',
      repository: 'acme/infra',
      environment: 'production',
      commit: SHA,
      reason: 'x'.repeat(2000),
    });
    assert.equal(blocked.status, 'blocked');
    assert.equal(blocked.reason!.length, 500, 'a long reason is clipped');
  });

  test('at most MAX_NODES nodes are listed; the rest are counted', () => {
    const nodes = Array.from({ length: MAX_NODES + 7 }, (_, i) => ({ path: `n${i}`, host: null, state: 'drifted' }));
    const e = buildEvent({ kind: 'drift-found', repository: 'r', environment: 'e', commit: null, nodes });
    assert.equal(e.nodes.length, MAX_NODES);
    assert.equal(e.nodes_omitted, 7);
    assert.match(
      e.text,
      new RegExp(`^Politburo: ${MAX_NODES + 7} nodes of e \\(r\\) drifted: n0, .*, n9, … ${MAX_NODES - 3} more$`),
    );
  });

  test('the signature is HMAC-SHA256 of the raw body, as sha256=<hex>', () => {
    const body = JSON.stringify({ a: 1 });
    const hex = createHmac('sha256', 'k').update(body).digest('hex');
    assert.equal(signBody('k', body), `sha256=${hex}`);
    assert.ok(verifySignature('k', body, `sha256=${hex}`));
    assert.equal(verifySignature('k', `${body} `, `sha256=${hex}`), false);
    assert.equal(verifySignature('other', body, `sha256=${hex}`), false);
    assert.equal(verifySignature('k', body, undefined), false);
  });
});

describe('POLITBURO_ALERT_* configuration', () => {
  test('comma-separated webhooks, a secret, and the retry settings with their defaults', () => {
    const c = readConfig({
      POLITBURO_ALERT_WEBHOOK: ' https://hooks.slack.com/services/T/B/x , http://127.0.0.1:9000/hook,',
      POLITBURO_ALERT_SECRET: 's',
    });
    assert.deepEqual(c.alerts, {
      webhooks: ['https://hooks.slack.com/services/T/B/x', 'http://127.0.0.1:9000/hook'],
      secret: 's',
      attempts: 10,
      timeoutMs: 10_000,
      backoffMs: 5_000,
    });
    assert.deepEqual(readConfig({}).alerts.webhooks, []);
    const tuned = readConfig({
      POLITBURO_ALERT_ATTEMPTS: '3',
      POLITBURO_ALERT_TIMEOUT: '2s',
      POLITBURO_ALERT_BACKOFF: '1m',
    }).alerts;
    assert.deepEqual([tuned.attempts, tuned.timeoutMs, tuned.backoffMs], [3, 2000, 60_000]);
  });

  test('a bad entry is named with its position', () => {
    assert.throws(
      () => readConfig({ POLITBURO_ALERT_WEBHOOK: 'https://ok.example/hook, ftp://files.example/x' }),
      (err: unknown) =>
        err instanceof ConfigError &&
        /POLITBURO_ALERT_WEBHOOK: entry 2 \("ftp:\/\/files\.example\/x"\) is not an http\(s\) URL/.test(err.message),
    );
    assert.throws(
      () => readConfig({ POLITBURO_ALERT_ATTEMPTS: '0' }),
      /POLITBURO_ALERT_ATTEMPTS="0" must be a whole number from 1 to 100/,
    );
  });
});
