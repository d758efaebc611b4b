/** Drift: a host changed by hand → the scheduled check opens the drift issue (and alerts) → heal → the issue closes. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { rm, access } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { claimDriftTick } from '../../controller/jobs/drift-schedule.js';
import { createPgControllerStore } from '../../controller/store/controller-store.js';
import { createPgJobQueue } from '../../controller/store/job-queue.js';
import { registry } from '../../controller/metrics.js';
import { countJobs } from '../../controller/store/graphile-queue.js';
import { JOB_DRIFT } from '../../controller/ports.js';
import { description, ENV, FULL_NAME, pushPayload, startHarness, type Harness } from './harness.js';
import { waitFor } from '../helpers/wait-for.js';

describe('e2e: drift', () => {
  let h: Harness;
  let alerts: any[];
  let alertServer: http.Server;
  before(async () => {
    alerts = [];
    alertServer = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        // Applies are notified to the same webhook too (docs/controller.md, "Notifications"): drift's are counted here.
        const event = JSON.parse(body);
        if (String(event.kind).startsWith('drift-')) alerts.push(event);
        res.end('ok');
      });
    });
    await new Promise<void>((r) => alertServer.listen(0, '127.0.0.1', r));
    const port = (alertServer.address() as AddressInfo).port;
    h = await startHarness({
      env: { POLITBURO_ALERT_WEBHOOK: `http://127.0.0.1:${port}/hook` },
      files: (hosts) => ({
        'politburo.yml': description(hosts, { extra: "    drift: { schedule: '*/5 * * * *', heal: false }" }),
      }),
    });
  });
  after(async () => {
    await h?.stop();
    alertServer?.close();
  });

  const ports = () => ({ controllerStore: createPgControllerStore(h.pool), queue: createPgJobQueue(h.pool) });
  const tick = async () => {
    // What the cron does at a tick: claim it (one replica wins) and queue the drift job.
    assert.equal(await claimDriftTick(ports(), FULL_NAME, ENV, new Date()), true);
  };

  test('drift opens one labelled issue and alerts; healing closes it', async () => {
    const first = await h.repo.head();
    await h.send('push', pushPayload(h.repo, { before: '0'.repeat(40), after: first }));
    await waitFor('applied', () => h.checks(first).get(`politburo/${ENV}`)?.conclusion === 'success');
    await waitFor(
      'drift schedule recorded',
      async () =>
        (
          await h.pool.query(`SELECT schedule FROM drift_schedules WHERE repository = $1 AND environment = $2`, [
            FULL_NAME,
            ENV,
          ])
        ).rows[0]?.schedule === '*/5 * * * *',
    );

    // Someone removes what the task made on web's host.
    const web = h.ssh.hosts[0];
    await rm(path.join(web.home, 'state'), { recursive: true, force: true });
    await tick();
    const issue = await waitFor('drift issue opened', () =>
      h.github.state.issues.find((i) => i.labels.includes('politburo:drift') && i.state === 'open'),
    );
    assert.match(issue.body, /web/);
    await waitFor('alert sent', () => alerts.length > 0);
    assert.equal(alerts[0].environment, ENV);
    assert.deepEqual(
      alerts[0].nodes.map((n: any) => n.path),
      ['web'],
    );
    assert.match(alerts[0].text, /drifted/);
    assert.match(await registry.getSingleMetricAsString('politburo_drifted_nodes'), /environment="test"[^\n]*\} 1/);
    await assert.rejects(access(path.join(web.home, 'state')), 'not healed: heal is off');

    // The same drift at the next tick: the issue is updated, but no second alert (one alert per change).
    const runsBefore = (await h.pool.query(`SELECT count(*)::int AS n FROM runs WHERE kind = 'drift'`)).rows[0].n;
    await tick();
    await waitFor(
      'second drift check done',
      async () =>
        (await h.pool.query(`SELECT count(*)::int AS n FROM runs WHERE kind = 'drift' AND status <> 'running'`)).rows[0]
          .n > runsBefore,
    );
    await waitFor('drift job finished', async () => (await countJobs(h.pool, { task: JOB_DRIFT })) === 0);
    assert.equal(alerts.length, 1, 'unchanged drift is not alerted again');

    // A new commit turns healing on: the next tick meets the drifted task again and the issue closes.
    const healing = await h.repo.commit(
      { 'politburo.yml': description(h.ssh.hosts, { extra: "    drift: { schedule: '*/5 * * * *', heal: true }" }) },
      'heal',
    );
    await h.send('push', pushPayload(h.repo, { before: first, after: healing }));
    await waitFor(
      'heal recorded',
      async () => (await h.pool.query('SELECT heal FROM drift_schedules')).rows[0]?.heal === true,
    );
    await tick();
    await waitFor(
      'drift issue closed',
      () => h.github.state.issues.find((i) => i.number === issue.number)?.state === 'closed',
    );
    await access(path.join(web.home, 'state', 'v1'));
    await waitFor('resolved alert sent', () => alerts.length === 2);
    assert.equal(alerts[1].kind, 'drift-resolved');
    assert.match(alerts[1].text, /drift of test .* resolved/);
    assert.equal(
      h.github.state.issues.filter((i) => i.labels.includes('politburo:drift')).length,
      1,
      'one issue per environment',
    );
    assert.deepEqual(h.github.violations, []);
  });

  test('a schedule changed by a push takes effect at once in the running controller, not at its next re-read', async () => {
    const drifts = async () =>
      (await h.pool.query(`SELECT count(*)::int AS n FROM runs WHERE kind = 'drift' AND trigger LIKE 'schedule%'`))
        .rows[0].n as number;
    const before = await drifts();
    const previous = await h.repo.head();
    // Every second (croner's six-field form): the controller re-reads its schedules only every minute on its own.
    const every = await h.repo.commit(
      { 'politburo.yml': description(h.ssh.hosts, { extra: "    drift: { schedule: '* * * * * *', heal: true }" }) },
      'every second',
    );
    await h.send('push', pushPayload(h.repo, { before: previous, after: every }));
    await waitFor(
      'a scheduled drift check run by the controller itself',
      async () => (await drifts()) > before,
      30_000,
    );
    // Back to a quiet schedule, so nothing keeps ticking.
    const quiet = await h.repo.commit(
      { 'politburo.yml': description(h.ssh.hosts, { extra: "    drift: { schedule: '0 0 1 1 *', heal: true }" }) },
      'quiet',
    );
    await h.send('push', pushPayload(h.repo, { before: every, after: quiet }));
    await waitFor(
      'quiet schedule recorded',
      async () => (await h.pool.query('SELECT schedule FROM drift_schedules')).rows[0]?.schedule === '0 0 1 1 *',
    );
  });

  test('a tick is claimed once across replicas', async () => {
    const at = new Date(Date.now() + 60_000);
    const claims = await Promise.all([1, 2, 3].map(() => claimDriftTick(ports(), FULL_NAME, ENV, at)));
    assert.deepEqual(claims.filter(Boolean).length, 1);
  });
});
