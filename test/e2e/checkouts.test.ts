/**
 * A push loads its commit once per job (docs/architecture.md): queueApplies checks the pushed commit out once, and the
 * apply job of the one environment it changed checks it out once more; nothing else does. Counted by the controller
 * itself (`politburo_git_checkouts_total` on /metrics). The harness's descriptions schedule no drift check (which would
 * check a commit out) while the test runs.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { countJobs } from '../../controller/store/graphile-queue.js';
import { description, ENV, pushPayload, startHarness, type Harness } from './harness.js';
import { waitFor } from '../helpers/wait-for.js';

describe('e2e: checkouts per push', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ files: (hosts) => ({ 'politburo.yml': description(hosts) }) });
  });
  after(async () => h?.stop());

  const checkouts = async () => {
    const text = await (await fetch(`${h.controllers[0].url}/metrics`)).text();
    const m = /^politburo_git_checkouts_total (\d+)$/m.exec(text);
    assert.ok(m, 'politburo_git_checkouts_total is exposed');
    return Number(m[1]);
  };
  const applied = async (sha: string) => {
    await waitFor('applied', () => h.checks(sha).get(`politburo/${ENV}`)?.conclusion === 'success');
    await waitFor('the queue drained', async () => (await countJobs(h.pool)) === 0);
  };

  test('a push that changes one environment checks its commit out twice: queueApplies and the apply job', async () => {
    const first = await h.repo.head();
    const start = await checkouts();
    await h.send('push', pushPayload(h.repo, { before: '0'.repeat(40), after: first }));
    await applied(first);
    assert.equal((await checkouts()) - start, 2, 'first push: one checkout to queue, one to apply');

    const second = await h.repo.commit({ 'politburo.yml': description(h.ssh.hosts, { version: 'v2' }) }, 'v2');
    const before2 = await checkouts();
    await h.send('push', pushPayload(h.repo, { before: first, after: second }));
    await applied(second);
    assert.equal((await checkouts()) - before2, 2, 'next push: one checkout to queue, one to apply');
  });
});
