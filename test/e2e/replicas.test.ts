/**
 * Three controller processes on one database and a burst of 50 pushes to one environment: never two runs of it at
 * once, the last commit applied, every commit's check final, and at most 3 GitHub writes per push.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { description, ENV, FULL_NAME, pushPayload, startHarness, type Harness } from './harness.js';
import { spawnController, type ControllerProcess } from './spawn-controller.js';
import { waitFor } from '../helpers/wait-for.js';

const PUSHES = 50;

describe('e2e: three replicas, a burst of pushes', () => {
  let h: Harness;
  const procs: ControllerProcess[] = [];
  before(async () => {
    h = await startHarness({ controllers: 0 });
    procs.push(
      ...(await Promise.all(
        ['a', 'b', 'c'].map((n) =>
          spawnController({
            ...h.env,
            POLITBURO_DATA_DIR: `${h.env.POLITBURO_DATA_DIR}/${n}`,
            POLITBURO_CONCURRENCY: '3',
          }),
        ),
      )),
    );
  });
  after(async () => {
    await Promise.all(procs.map((p) => p.kill()));
    await h?.stop();
  });

  test('serialised applies, the last commit wins, every check final, ≤ 3 writes per push', async () => {
    const shas: string[] = [];
    let before = '0'.repeat(40);
    const sends: Promise<Response>[] = [];
    for (let i = 0; i < PUSHES; i++) {
      const sha =
        i === 0
          ? await h.repo.head()
          : await h.repo.commit({ 'politburo.yml': description(h.ssh.hosts, { version: `v${i}` }) }, `v${i}`);
      shas.push(sha);
      sends.push(h.send('push', pushPayload(h.repo, { before, after: sha }), procs[i % procs.length].url));
      before = sha;
    }
    for (const r of await Promise.all(sends)) assert.equal(r.status, 202);
    const last = shas[shas.length - 1];
    await waitFor(
      'every check final',
      () => shas.every((s) => h.checks(s).get(`politburo/${ENV}`)?.status === 'completed'),
      120_000,
    );

    assert.equal(h.checks(last).get(`politburo/${ENV}`)!.conclusion, 'success', 'the last commit applied');
    const { rows: nodes } = await h.pool.query<{ state: string; last_applied_commit: string }>(
      `SELECT n.state, n.last_applied_commit FROM nodes n JOIN environments e ON e.id = n.environment_id JOIN repositories r ON r.id = e.repository_id
        WHERE r.key = $1 AND e.name = $2`,
      [FULL_NAME, ENV],
    );
    assert.deepEqual(
      nodes.map((n) => [n.state, n.last_applied_commit]),
      [
        ['ready', last],
        ['ready', last],
      ],
    );
    for (const s of shas.slice(0, -1)) {
      assert.ok(
        ['success', 'skipped', 'cancelled'].includes(h.checks(s).get(`politburo/${ENV}`)!.conclusion ?? ''),
        `check of ${s} is final`,
      );
    }

    // Never two runs of the environment at once.
    const { rows: runs } = await h.pool.query<{ started_at: Date; finished_at: Date | null }>(
      `SELECT started_at, finished_at FROM runs WHERE kind = 'apply' ORDER BY started_at`,
    );
    assert.ok(runs.length >= 1);
    for (let i = 1; i < runs.length; i++) {
      assert.ok(
        runs[i - 1].finished_at && runs[i - 1].finished_at! <= runs[i].started_at,
        `run ${i - 1} ended before run ${i} started`,
      );
    }

    // GitHub writes: per push and environment at most 6, the check's 3 (create, in progress, final) and the
    // deployment's 3 (create, in progress, final; docs/controller.md "Deployments on GitHub").
    const shaOf = new Map(h.github.state.checkRuns.map((r) => [r.id, r.head_sha]));
    const deploymentSha = new Map(h.github.state.deployments.map((d) => [d.id, d.sha]));
    const perSha = new Map<string, number>();
    for (const w of h.github.writes()) {
      const sha =
        w.body?.head_sha ??
        (w.route === 'POST /repos/{owner}/{repo}/deployments' ? w.body?.ref : undefined) ??
        shaOf.get(Number(/check-runs\/(\d+)/.exec(w.path)?.[1])) ??
        deploymentSha.get(Number(/deployments\/(\d+)\/statuses/.exec(w.path)?.[1]));
      if (sha) perSha.set(sha, (perSha.get(sha) ?? 0) + 1);
    }
    for (const s of shas) assert.ok((perSha.get(s) ?? 0) <= 6, `${perSha.get(s)} writes for ${s}`);
    assert.ok(h.github.writes().length <= 6 * PUSHES);
    assert.deepEqual(h.github.violations, []);
  });
});
