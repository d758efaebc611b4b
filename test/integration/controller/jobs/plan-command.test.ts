/** The trust rules for live plans (permission read through the fake GitHub). */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { trustLive } from '../../../../controller/jobs/plan-command.js';
import type { Repository } from '../../../../kernel/repository.js';

import { startJobsHarness, type JobsHarness } from './jobs-harness.js';

describe('trust rules for --live', () => {
  let h: JobsHarness;
  const repo: Repository = {
    kind: 'github',
    owner: 'acme',
    name: 'infra',
    cloneUrl: '/nowhere',
    defaultBranch: 'main',
  };
  before(async () => {
    h = await startJobsHarness();
    h.github.state.permissions.set('acme/infra:wanda', 'write');
    h.github.state.permissions.set('acme/infra:maia', 'maintain');
    h.github.state.permissions.set('acme/infra:ada', 'admin');
    h.github.state.permissions.set('acme/infra:tom', 'triage');
  });
  after(async () => {
    await h?.stop();
  });

  test('writers, maintainers and admins on a same-repository head are trusted', async () => {
    for (const user of ['wanda', 'maia', 'ada'])
      assert.equal(await trustLive(h.reporter, repo, user, 'acme/infra'), null, user);
  });

  test('readers, triagers and strangers are refused, saying why', async () => {
    assert.match((await trustLive(h.reporter, repo, 'tom', 'acme/infra'))!, /@tom has triage permission/);
    assert.match((await trustLive(h.reporter, repo, 'nobody', 'acme/infra'))!, /@nobody has read permission/);
    assert.match((await trustLive(h.reporter, repo, undefined, 'acme/infra'))!, /unknown/);
  });

  test('a fork head is refused whoever asks, without asking GitHub', async () => {
    const before = h.github.requests.length;
    assert.match((await trustLive(h.reporter, repo, 'ada', 'mallory/infra'))!, /fork/);
    assert.match((await trustLive(h.reporter, repo, 'ada', null))!, /fork/);
    assert.equal(h.github.requests.length, before);
  });
});
