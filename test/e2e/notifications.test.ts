/**
 * Notifications through the running controller (docs/controller.md, "Notifications"): a push is applied over SSH, and
 * real receivers on 127.0.0.1 get the signed outcome — one answers, one answers 500 then 200, one never answers. The
 * apply's check completes while the silent receiver still holds its request; a failed apply is notified too.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { verifySignature } from '../../controller/notify/event.js';
import { startAlertReceiver, type AlertReceiver, type ReceivedAlert } from '../helpers/alert-receiver.js';
import { waitFor } from '../helpers/wait-for.js';
import { description, ENV, FULL_NAME, pushPayload, startHarness, type Harness } from './harness.js';

const SECRET = 'e2e-notification-secret';

describe('e2e: notifications', () => {
  let h: Harness;
  let ok: AlertReceiver;
  let flaky: AlertReceiver;
  let silent: AlertReceiver;
  const of = (r: AlertReceiver, kind: string, commit: string): ReceivedAlert[] =>
    r.received.filter((a) => a.body?.kind === kind && a.body.commit === commit);
  const signed = (a: ReceivedAlert) =>
    verifySignature(SECRET, a.raw, a.headers['x-politburo-signature-256'] as string | undefined);

  before(async () => {
    ok = await startAlertReceiver();
    flaky = await startAlertReceiver((n) => (n === 0 ? 500 : 200));
    silent = await startAlertReceiver(() => 'hold');
    h = await startHarness({
      env: {
        POLITBURO_ALERT_WEBHOOK: [ok.url, flaky.url, silent.url].join(','),
        POLITBURO_ALERT_SECRET: SECRET,
        // Long enough that the silent receiver's first attempt is still open when the apply ends.
        POLITBURO_ALERT_TIMEOUT: '120s',
        POLITBURO_ALERT_BACKOFF: '100ms',
      },
    });
  });
  after(async () => {
    await h?.stop();
    silent?.answerHeld(200);
    await Promise.all([ok?.close(), flaky?.close(), silent?.close()]);
  });

  test('a push applied: signed events at every receiver; the apply completes while a receiver has not answered', async () => {
    const first = await h.repo.head();
    await h.send('push', pushPayload(h.repo, { before: '0'.repeat(40), after: first }));
    await waitFor('applied', () => h.checks(first).get(`politburo/${ENV}`)?.conclusion === 'success');
    const event = await waitFor('the event', () => of(ok, 'apply-succeeded', first)[0]);
    assert.ok(signed(event));
    assert.equal(event.body.version, 1);
    assert.equal(event.body.repository, FULL_NAME);
    assert.equal(event.body.environment, ENV);
    assert.equal(event.body.status, 'succeeded');
    assert.deepEqual(event.body.nodes.map((n: { path: string }) => n.path).sort(), ['db', 'web']);
    assert.match(event.body.text, /^Politburo: applied /);
    await waitFor('the retry after a 500', () => of(flaky, 'apply-succeeded', first).length === 2);
    assert.ok(of(flaky, 'apply-succeeded', first).every(signed));
    // The silent receiver got the event and has not answered; the apply was done regardless.
    const held = await waitFor('the silent receiver reached', () => of(silent, 'apply-succeeded', first)[0]);
    assert.equal(held.answered, undefined);
    assert.ok(signed(held));
    assert.equal(h.checks(first).get(`politburo/${ENV}`)?.conclusion, 'success');
  });

  test('a failed apply is notified with the failed node, also while the silent receiver holds its requests', async () => {
    const before = await h.repo.head();
    const failing = await h.repo.commit(
      { 'politburo.yml': description(h.ssh.hosts, { version: 'v2', failing: ['db'] }) },
      'db fails',
    );
    await h.send('push', pushPayload(h.repo, { before, after: failing }));
    await waitFor('apply failed', () => h.checks(failing).get(`politburo/${ENV}`)?.conclusion === 'failure');
    assert.ok(silent.received.every((r) => r.answered === undefined));
    const event = await waitFor('the failure event', () => of(ok, 'apply-failed', failing)[0]);
    assert.ok(signed(event));
    const db = event.body.nodes.find((n: { path: string }) => n.path === 'db');
    assert.equal(db.state, 'failed');
    assert.ok(db.tasks.length > 0);
    assert.ok(event.body.counts.failed >= 1);
    assert.match(event.body.run_url ?? '', /\/runs\/\d+$/);
  });
});
