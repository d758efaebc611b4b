/**
 * Outcome notifications through the real apply and drift jobs (docs/controller.md, "Notifications"): real
 * PostgreSQL, a local host, and real HTTP receivers on 127.0.0.1 — one that answers, one that fails once, one that
 * never answers. Every event is signed; failures are retried by the delivery worker, never by (or in) the apply.
 */
import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { runApplyEnvironment } from '../../../../controller/jobs/apply-environment.js';
import { runDriftEnvironment } from '../../../../controller/jobs/drift-environment.js';
import { queueApplies } from '../../../../controller/jobs/queue-applies.js';
import type { JobDeps } from '../../../../controller/jobs/job-deps.js';
import type { GitHubRepository } from '../../../../kernel/repository.js';
import { createAlertDeliveryWorker, type AlertDeliveryWorker } from '../../../../controller/notify/delivery-worker.js';
import { createPgNotifier } from '../../../../controller/notify/notifier.js';
import { NOTIFICATION_KINDS, verifySignature } from '../../../../controller/notify/event.js';
import { startJobsHarness, type JobsHarness } from '../jobs/jobs-harness.js';
import { startAlertReceiver, type AlertReceiver, type ReceivedAlert } from '../../../helpers/alert-receiver.js';
import { waitFor } from '../../../helpers/wait-for.js';
import { GitRepo } from '../../../helpers/git-repo.js';

const SECRET = 'notification-test-secret';

function yaml(stateDir: string, version: string, opts: { failing?: boolean; broken?: boolean } = {}): string {
  const meet = opts.failing ? 'echo cannot >&2; false' : `mkdir -p ${stateDir} && touch ${stateDir}/${version}`;
  return `politburo: 1
blueprints:
  app:
    resources:
      box:
        tasks:
          - { name: marker, met: 'test -f ${stateDir}/${version}', meet: '${meet}' }
environments:
  prod:
    blueprint: ${opts.broken ? 'missing' : 'app'}
    hosts: { box: local }
`;
}

describe('outcome notifications', () => {
  let h: JobsHarness;
  let deps: JobDeps;
  let worker: AlertDeliveryWorker;
  let repo: GitRepo;
  let ref: GitHubRepository;
  let tmp: string;
  let ok: AlertReceiver;
  let flaky: AlertReceiver;
  let hang: AlertReceiver;
  const state = () => path.join(tmp, 'state');
  const attempt = { job: { attempts: 1, max_attempts: 3 } as any };
  const job = (sha: string) => ({ repo: ref, environment: 'prod', sha, trigger: 'push test' });
  const conclusion = async (sha: string) =>
    (
      await h.pool.query<{ conclusion: string | null }>(
        `SELECT conclusion FROM github_checks WHERE sha = $1 AND name = 'politburo/prod'`,
        [sha],
      )
    ).rows[0]?.conclusion;
  /** The events of `kind` a receiver got (every attempt), checking each one's signature. */
  const eventsOf = (r: AlertReceiver, kind: string, commit?: string): ReceivedAlert[] =>
    r.received.filter((a) => a.body?.kind === kind && (!commit || a.body.commit === commit));
  const rows = async (kind: string) =>
    (
      await h.pool.query<{
        url: string;
        attempts: number;
        delivered_at: Date | null;
        failed_at: Date | null;
        last_error: string | null;
      }>(
        `SELECT url, attempts, delivered_at, failed_at, last_error FROM alert_deliveries WHERE kind = $1 ORDER BY id`,
        [kind],
      )
    ).rows;

  before(async () => {
    ok = await startAlertReceiver();
    flaky = await startAlertReceiver((n) => (n === 0 ? 500 : 200));
    hang = await startAlertReceiver(() => 'hold');
    h = await startJobsHarness({
      POLITBURO_ALERT_WEBHOOK: [ok.url, flaky.url, hang.url].join(','),
      POLITBURO_ALERT_SECRET: SECRET,
      POLITBURO_ALERT_ATTEMPTS: '3',
      POLITBURO_ALERT_TIMEOUT: '1s',
      POLITBURO_ALERT_BACKOFF: '50ms',
    });
    const alerts = h.deps.config.alerts;
    worker = createAlertDeliveryWorker({
      pool: h.pool,
      fetch: globalThis.fetch,
      logger: h.deps.logger,
      secret: alerts.secret,
      attempts: alerts.attempts,
      timeoutMs: alerts.timeoutMs,
      backoffMs: alerts.backoffMs,
      pollIntervalMs: 200,
    });
    worker.start();
    deps = {
      ...h.deps,
      notifier: createPgNotifier({
        pool: h.pool,
        urls: alerts.webhooks,
        publicUrl: h.deps.config.publicUrl,
        onQueued: () => worker.kick(),
      }),
    };
    tmp = await mkdtemp(path.join(os.tmpdir(), 'politburo-notify-'));
    repo = await GitRepo.create({ 'politburo.yml': yaml(state(), 'v1') });
    ref = { kind: 'github', owner: 'acme', name: 'infra', cloneUrl: repo.dir, defaultBranch: 'main' };
  });
  after(async () => {
    await worker?.stop();
    hang?.answerHeld(200);
    await Promise.all([ok?.close(), flaky?.close(), hang?.close()]);
    await h?.stop();
    await rm(tmp, { recursive: true, force: true });
  });

  test('an apply that succeeded: every receiver gets the signed event; a 500 and a receiver that never answers are retried, outside the apply', async () => {
    const sha = await repo.head();
    await runApplyEnvironment(deps, job(sha), attempt);
    // The apply is done and succeeded while the receiver that never answers has answered nothing.
    assert.equal(await conclusion(sha), 'success');
    const runs = await deps.store.listRuns({ repository: 'acme/infra', environment: 'prod' });
    assert.equal(runs[0].status, 'succeeded');
    assert.ok(hang.received.every((r) => r.answered === undefined));

    const event = await waitFor('the event at the answering receiver', () => eventsOf(ok, 'apply-succeeded', sha)[0]);
    assert.ok(verifySignature(SECRET, event.raw, event.headers['x-politburo-signature-256'] as string));
    assert.equal(
      verifySignature('another secret', event.raw, event.headers['x-politburo-signature-256'] as string),
      false,
    );
    assert.equal(event.headers['content-type'], 'application/json');
    assert.equal(event.headers['x-politburo-event'], 'apply-succeeded');
    assert.equal(event.headers['x-politburo-delivery'], event.body.id);
    const body = event.body;
    assert.deepEqual(
      { ...body, id: typeof body.id, timestamp: typeof body.timestamp },
      {
        version: 1,
        id: 'string',
        kind: 'apply-succeeded',
        timestamp: 'string',
        repository: 'acme/infra',
        environment: 'prod',
        commit: sha,
        run_id: runs[0].id,
        run_url: `http://pb.example/runs/${runs[0].id}`,
        status: 'succeeded',
        reason: null,
        counts: body.counts,
        nodes: [{ path: 'box', host: 'local', state: 'ready', action: 'create' }],
        nodes_omitted: 0,
        trigger: 'push test',
        text: `Politburo: applied prod (acme/infra) at ${sha.slice(0, 7)}: 1 node changed — http://pb.example/runs/${runs[0].id}`,
      },
    );
    assert.equal(body.counts.ready, 1);
    assert.ok(!Number.isNaN(Date.parse(body.timestamp)));

    // 500 then 200: the same bytes, the same signature, the same event id.
    await waitFor('the retry after a 500', () => eventsOf(flaky, 'apply-succeeded', sha).length >= 2);
    const retried = eventsOf(flaky, 'apply-succeeded', sha);
    assert.equal(retried[0].raw, event.raw);
    assert.equal(retried[1].raw, event.raw);
    assert.ok(verifySignature(SECRET, retried[1].raw, retried[1].headers['x-politburo-signature-256'] as string));

    // Never answered: tried again after each timeout, and given up after the third attempt.
    const given = await waitFor('the silent receiver given up', async () => {
      const row = (await rows('apply-succeeded')).find((r) => r.url === hang.url);
      return row?.failed_at ? row : null;
    });
    assert.equal(given.attempts, 3);
    assert.match(given.last_error ?? '', /gave up after 3 attempts: no answer within 1000 ms/);
    assert.equal(eventsOf(hang, 'apply-succeeded', sha).length, 3);
    assert.ok(hang.received.every((r) => r.answered === undefined));
    const states = await rows('apply-succeeded');
    assert.deepEqual(
      states.map((r) => [r.url, r.attempts, r.delivered_at !== null, r.failed_at !== null]),
      [
        [ok.url, 1, true, false],
        [flaky.url, 2, true, false],
        [hang.url, 3, false, true],
      ],
    );
  });

  test('an apply that failed names the failed nodes and tasks, and still never waits for a silent receiver', async () => {
    const sha = await repo.commit({ 'politburo.yml': yaml(state(), 'v2', { failing: true }) }, 'v2 fails');
    const heldBefore = hang.received.length;
    await runApplyEnvironment(deps, job(sha), attempt);
    assert.equal(await conclusion(sha), 'failure');
    assert.equal(hang.received.slice(heldBefore).filter((r) => r.answered !== undefined).length, 0);
    const event = await waitFor('the failure event', () => eventsOf(ok, 'apply-failed', sha)[0]);
    assert.ok(verifySignature(SECRET, event.raw, event.headers['x-politburo-signature-256'] as string));
    assert.equal(event.body.status, 'failed');
    assert.equal(event.body.counts.failed, 1);
    assert.deepEqual(
      event.body.nodes.map((n: any) => [n.path, n.state, n.tasks]),
      [['box', 'failed', ['marker']]],
    );
    assert.match(event.body.text, /^Politburo: apply of prod \(acme\/infra\) at [0-9a-f]{7} failed: 1 failed \(box\)/);
    await waitFor('the failure event after the 500', () => eventsOf(flaky, 'apply-failed', sha).length >= 1);
  });

  test('an invalid description is not applied: blocked, with the reason', async () => {
    const sha = await repo.commit({ 'politburo.yml': yaml(state(), 'v3', { broken: true }) }, 'broken');
    await runApplyEnvironment(deps, job(sha), attempt);
    assert.equal(await conclusion(sha), 'failure');
    const event = await waitFor('the blocked event', () => eventsOf(ok, 'apply-blocked', sha)[0]);
    assert.equal(event.body.status, 'blocked');
    assert.equal(event.body.run_id, null);
    assert.ok(event.body.reason.length > 0);
    assert.match(event.body.text, /was not applied: /);
  });

  test('drift found once per change, then resolved', async () => {
    hang.answer = () => 200; // the rest is about drift, not the silent receiver
    const sha = await repo.commit({ 'politburo.yml': yaml(state(), 'v4') }, 'v4');
    await runApplyEnvironment(deps, job(sha), attempt);
    assert.equal(await conclusion(sha), 'success');
    const drift = () => runDriftEnvironment(deps, { repo: ref, environment: 'prod', heal: false, trigger: 'schedule' });

    await unlink(path.join(state(), 'v4'));
    await drift();
    const found = await waitFor('drift found', () => eventsOf(ok, 'drift-found')[0]);
    assert.ok(verifySignature(SECRET, found.raw, found.headers['x-politburo-signature-256'] as string));
    assert.equal(found.body.commit, sha);
    assert.equal(found.body.status, 'drifted');
    assert.deepEqual(found.body.nodes, [
      { path: 'box', host: 'local', state: 'drifted', reason: 'unmet: marker', tasks: ['marker'] },
    ]);
    assert.match(found.body.text, /1 node of prod \(acme\/infra\) drifted: box/);
    assert.match(found.body.run_url, /^http:\/\/pb\.example\/runs\/\d+$/);

    await drift(); // the same drift again: nothing new to say
    await writeFile(path.join(state(), 'v4'), '');
    await drift();
    const resolved = await waitFor('drift resolved', () => eventsOf(ok, 'drift-resolved')[0]);
    assert.ok(verifySignature(SECRET, resolved.raw, resolved.headers['x-politburo-signature-256'] as string));
    assert.equal(resolved.body.status, 'resolved');
    assert.match(
      resolved.body.text,
      /^Politburo: drift of prod \(acme\/infra\) resolved — http:\/\/pb\.example\/runs\/\d+$/,
    );
    assert.equal((await rows('drift-found')).length, 3, 'one event (three receivers) for one drift');
    assert.equal(await worker.flush({ timeoutMs: 60_000 }), 0);
    for (const r of ok.received) assert.ok(NOTIFICATION_KINDS.includes(r.body.kind));
  });

  test('a manual environment waiting for a release is notified once per pending release', async () => {
    const manual = await GitRepo.create({
      'politburo.yml': yaml(state(), 'm1').replace(
        '    hosts: { box: local }',
        '    apply: manual\n    hosts: { box: local }',
      ),
    });
    const gated: GitHubRepository = {
      kind: 'github',
      owner: 'acme',
      name: 'gated',
      cloneUrl: manual.dir,
      defaultBranch: 'main',
    };
    const sha = await manual.head();
    const queued = await queueApplies(deps, gated, 'main', sha, 'push test', h.deps.logger);
    assert.equal(queued.outcome, 'held');
    const event = await waitFor('the release-waiting event', () => eventsOf(ok, 'release-waiting', sha)[0]);
    assert.ok(verifySignature(SECRET, event.raw, event.headers['x-politburo-signature-256'] as string));
    assert.equal(event.body.repository, 'acme/gated');
    assert.equal(event.body.status, 'waiting');
    assert.deepEqual(event.body.counts, { create: 1, update: 0, terminate: 0 });
    assert.deepEqual(event.body.nodes, [{ path: 'box', host: 'local', state: 'planned', action: 'create' }]);
    assert.match(
      event.body.text,
      /prod \(acme\/gated\) at [0-9a-f]{7} is waiting for a release: comment "\/politburo apply prod"/,
    );
    // The same push delivered again: the release is already pending, nothing new to say.
    await queueApplies(deps, gated, 'main', sha, 'push test', h.deps.logger);
    assert.equal(await worker.flush({ timeoutMs: 60_000 }), 0);
    assert.equal((await rows('release-waiting')).length, 3, 'one event, to three receivers');
    await rm(manual.dir, { recursive: true, force: true });
  });
});
