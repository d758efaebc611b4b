/**
 * Apply policies (docs/language.md, "Apply policy") in queueApplies, over in-memory ports: a manual environment waits
 * for release with its plan summary, a suspended one is not applied, and the policy at the last applied commit
 * governs a push (a commit cannot loosen its own environment's gate).
 */
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { queueApplies } from '../../../../controller/jobs/queue-applies.js';
import { JOB_APPLY } from '../../../../controller/ports.js';
import { inMemoryJobs, type InMemoryJobs } from '../../../helpers/in-memory-controller.js';
import { loadDescription } from '../../../../schema/load-description.js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { appliedNodes, repo, yaml, type EnvOptions } from './fixtures.js';

type Policy = { apply?: 'auto' | 'manual'; suspend?: boolean };

/** politburo.yml of fixtures.ts with each environment's `apply` and `suspend` keys added. */
function described(envs: Record<string, EnvOptions & Policy>): string {
  let out = yaml(envs);
  for (const [name, o] of Object.entries(envs)) {
    const lines = [
      ...(o.apply ? [`    apply: ${o.apply}`] : []),
      ...(o.suspend !== undefined ? [`    suspend: ${o.suspend}`] : []),
    ];
    out = out.replace(
      `    blueprint: app_${name}\n`,
      `    blueprint: app_${name}\n${lines.map((l) => `${l}\n`).join('')}`,
    );
  }
  return out;
}

describe('apply policy', () => {
  let m: InMemoryJobs;
  beforeEach(() => {
    m = inMemoryJobs();
  });
  afterEach(async () => {
    await m.close();
  });
  const push = (sha: string, before?: string) =>
    queueApplies(m.deps, repo, 'main', sha, `push ${sha.slice(0, 7)}`, m.deps.logger, before);

  test('production needs a release, staging applies on merge', async () => {
    const sha = m.git.commit({
      'politburo.yml': described({ production: { apply: 'manual' }, staging: {} }),
    });
    const result = await push(sha);
    assert.deepEqual(result, {
      outcome: 'queued',
      environments: ['staging'],
      held: [{ environment: 'production', state: 'waiting' }],
    });
    assert.deepEqual(
      m.queue.jobs(JOB_APPLY).map((j) => j.payload.environment),
      ['staging'],
    );
    const check = m.reporter.latest(sha, 'politburo/production')!;
    assert.deepEqual(
      [check.status, check.conclusion, check.title],
      ['completed', 'neutral', 'Waiting for release of production'],
    );
    assert.match(check.summary, /1 to create/);
    assert.match(check.summary, /\/politburo apply production/);
    const release = await m.controllerStore.release(repo, 'production', sha);
    assert.deepEqual([release?.planSummary, release?.releasedBy, release?.releasedAt], ['1 to create', null, null]);
  });

  test('a suspended environment is not applied and waits for no release', async () => {
    const sha = m.git.commit({ 'politburo.yml': described({ prod: { suspend: true, apply: 'manual' } }) });
    assert.deepEqual(await push(sha), {
      outcome: 'held',
      environments: [],
      held: [{ environment: 'prod', state: 'suspended' }],
    });
    assert.deepEqual(m.queue.jobs(), []);
    const check = m.reporter.latest(sha, 'politburo/prod')!;
    assert.deepEqual([check.conclusion, check.title], ['neutral', 'prod is suspended: not applied']);
    assert.equal(await m.controllerStore.release(repo, 'prod', sha), null);
  });

  test('a commit that loosens its own gate is still gated: the last applied policy governs', async () => {
    const files = { 'politburo.yml': described({ prod: { apply: 'manual' } }) };
    const applied = m.git.commit(files);
    m.state.seed('acme/infra', 'prod', await appliedNodes(files, 'prod', applied));
    const loosen = m.git.commit({ 'politburo.yml': described({ prod: { apply: 'auto', version: 'v2' } }) });
    assert.deepEqual(await push(loosen, applied), {
      outcome: 'held',
      environments: [],
      held: [{ environment: 'prod', state: 'waiting' }],
    });
    assert.deepEqual(m.queue.jobs(), []);
    // Lifting a suspension is gated the same way.
    const suspended = { 'politburo.yml': described({ prod: { suspend: true } }) };
    const s1 = m.git.commit(suspended);
    m.state.seed('acme/infra', 'prod', await appliedNodes(suspended, 'prod', s1));
    const lift = m.git.commit({ 'politburo.yml': described({ prod: { suspend: false, version: 'v3' } }) });
    assert.equal((await push(lift, s1)).held?.[0]?.state, 'suspended');
  });

  test('a commit that tightens the gate is applied under the policy it replaces, then gates the next', async () => {
    const files = { 'politburo.yml': described({ prod: {} }) };
    const first = m.git.commit(files);
    m.state.seed('acme/infra', 'prod', await appliedNodes(files, 'prod', first));
    const tighten = { 'politburo.yml': described({ prod: { apply: 'manual', version: 'v2' } }) };
    const second = m.git.commit(tighten);
    assert.deepEqual(await push(second, first), { outcome: 'queued', environments: ['prod'] });
    m.state.seed('acme/infra', 'prod', await appliedNodes(tighten, 'prod', second));
    const third = m.git.commit({ 'politburo.yml': described({ prod: { apply: 'manual', version: 'v3' } }) });
    assert.equal((await push(third, second)).outcome, 'held');
    assert.deepEqual(
      m.queue.jobs(JOB_APPLY).map((j) => j.payload.sha),
      [second],
    );
  });

  test('the policy recorded by the last apply governs without checking that commit out again', async () => {
    const files = { 'politburo.yml': described({ prod: { apply: 'manual' } }) };
    const applied = m.git.commit(files);
    m.state.seed('acme/infra', 'prod', await appliedNodes(files, 'prod', applied));
    await m.deps.controllerStore.recordAppliedPolicy(repo, 'prod', applied, { apply: 'manual', suspend: false });
    const loosen = m.git.commit({ 'politburo.yml': described({ prod: { apply: 'auto', version: 'v2' } }) });
    const before = m.git.checkouts;
    assert.equal((await push(loosen, applied)).outcome, 'held');
    assert.equal(m.git.checkouts - before, 1, 'only the pushed commit is checked out');
    // A record of an older commit does not count: the last applied commit is read.
    await m.deps.controllerStore.recordAppliedPolicy(repo, 'prod', loosen, { apply: 'auto', suspend: false });
    const again = m.git.checkouts;
    assert.equal(
      (await push(m.git.commit({ 'politburo.yml': described({ prod: { version: 'v3' } }) }), applied)).outcome,
      'held',
    );
    assert.equal(m.git.checkouts - again, 2, 'the pushed commit and the last applied one');
  });

  test('a redelivered push of a waiting commit keeps one pending release', async () => {
    const sha = m.git.commit({ 'politburo.yml': described({ prod: { apply: 'manual' } }) });
    await push(sha);
    const first = await m.controllerStore.release(repo, 'prod', sha);
    await push(sha);
    assert.deepEqual(await m.controllerStore.release(repo, 'prod', sha), first);
  });
});

describe('apply policy in the language', () => {
  const load = async (text: string) => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'politburo-policy-'));
    try {
      await writeFile(path.join(dir, 'politburo.yml'), text);
      return await loadDescription({ dir });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };

  test('apply and suspend resolve per environment, default auto, and are inherited through extends', async () => {
    const loaded = await load(
      [
        'politburo: 1',
        'environments:',
        '  staging:',
        '    resources: { box: { tasks: [{ name: t, met: "true", meet: "true" }] } }',
        '    hosts: { box: local }',
        '  production:',
        '    extends: staging',
        '    apply: manual',
        '    hosts: { box: local }',
        '  frozen:',
        '    extends: production',
        '    suspend: true',
        '    hosts: { box: local }',
        '',
      ].join('\n'),
    );
    assert.ok(loaded.ok, JSON.stringify(!loaded.ok && loaded.errors));
    const policy = (name: string) => loaded.description.environments.get(name)?.policy;
    assert.deepEqual(policy('staging'), { apply: 'auto', suspend: false });
    assert.deepEqual(policy('production'), { apply: 'manual', suspend: false });
    assert.deepEqual(policy('frozen'), { apply: 'manual', suspend: true });
  });

  test('an unknown apply policy is an error naming the key and the allowed values', async () => {
    const loaded = await load(
      [
        'politburo: 1',
        'environments:',
        '  prod:',
        '    resources: { box: {} }',
        '    hosts: { box: local }',
        '    apply: sometimes',
        '',
      ].join('\n'),
    );
    assert.equal(loaded.ok, false);
    const messages = !loaded.ok ? loaded.errors.map((e) => `${e.line}: ${e.message}`).join('\n') : '';
    assert.match(messages, /6: .*apply.*(auto|manual)/s);
  });
});
