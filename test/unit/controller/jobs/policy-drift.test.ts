/**
 * A suspended environment's drift (docs/language.md, "Apply policy"): the drift job checks and reports it, and does not
 * heal it even with `drift.heal: true`; the same environment not suspended is healed. In-memory ports, a local host.
 */
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runDriftEnvironment } from '../../../../controller/jobs/drift-environment.js';
import { inMemoryJobs, type InMemoryJobs } from '../../../helpers/in-memory-controller.js';
import { appliedNodes, repo } from './fixtures.js';

/** One local node whose task writes `marker` in `dir`; drift.heal on. */
const description = (dir: string, suspend: boolean) =>
  [
    'politburo: 1',
    'environments:',
    '  prod:',
    '    resources:',
    '      box:',
    '        tasks:',
    `          - { name: marker, met: "test -f '${dir}/marker'", meet: "touch '${dir}/marker'" }`,
    '    hosts: { box: local }',
    `    suspend: ${suspend}`,
    "    drift: { schedule: '0 * * * *', heal: true }",
    '',
  ].join('\n');

describe('drift of a suspended environment', () => {
  let m: InMemoryJobs;
  let dir: string;
  beforeEach(async () => {
    m = inMemoryJobs();
    dir = await mkdtemp(path.join(os.tmpdir(), 'politburo-policy-drift-'));
  });
  afterEach(async () => {
    await m.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** Records the node as applied (its marker is not there: drift), then runs one drift job with heal asked. */
  const driftOnce = async (suspend: boolean) => {
    const files = { 'politburo.yml': description(dir, suspend) };
    const sha = m.git.commit(files);
    m.state.seed('acme/infra', 'prod', await appliedNodes(files, 'prod', sha));
    await runDriftEnvironment(m.deps, { repo, environment: 'prod', heal: true, trigger: 'schedule test' });
  };
  const healed = () =>
    readFile(path.join(dir, 'marker')).then(
      () => true,
      () => false,
    );

  test('is checked and reported, not healed', async () => {
    await driftOnce(true);
    assert.equal(await healed(), false, 'the drifted task was not met');
    const [issue] = m.reporter.driftIssues;
    assert.equal(issue?.environment, 'prod');
    assert.deepEqual(
      issue?.drift?.result.nodes.map((n) => [n.path, n.state]),
      [['box', 'drifted']],
    );
    const runs = await m.state.listRuns({ repository: 'acme/infra', environment: 'prod' });
    assert.deepEqual(
      runs.map((r) => r.kind),
      ['drift'],
    );
  });

  test('the same environment not suspended is healed', async () => {
    await driftOnce(false);
    assert.equal(await healed(), true);
  });
});
