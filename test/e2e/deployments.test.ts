/**
 * GitHub Deployments end to end (docs/controller.md, "Deployments on GitHub"): a real controller, PostgreSQL, sshd
 * hosts and git, against the GitHub fake that validates every request with GitHub's OpenAPI description. Each apply is
 * a deployment whose statuses appear in order with links to the dashboard; a manual environment shows a waiting
 * deployment and opens no SSH session until released; the release moves the same deployment on. Every push costs at
 * most six GitHub writes per environment, its check and deployment together.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { JOB_APPLY } from '../../controller/ports.js';
import { countJobs } from '../../controller/store/graphile-queue.js';
import {
  commitCommentPayload,
  description,
  ENV,
  FULL_NAME,
  pushPayload,
  startHarness,
  type Harness,
} from './harness.js';
import { waitFor } from '../helpers/wait-for.js';
import { countSshSessions } from '../helpers/ssh-sessions.js';
import type { RecordedRequest } from '../helpers/fake-github/index.js';

const PUBLIC_URL = 'http://politburo.example';
const SLEEP = 4;
/**
 * The harness declares a process dead after 2 s without a heartbeat (for the crash tests); on a busy machine that
 * re-runs a healthy apply, and its retry writes more. These tests count the writes of one normal apply.
 */
const CALM = { POLITBURO_WORKER_STALE_AFTER: '60s' };
const ENV_PAGE = `${PUBLIC_URL}/environments/${encodeURIComponent(FULL_NAME)}/${ENV}`;

/** The deployments of a commit, each with its statuses' states in order. */
const deploymentsOf = (h: Harness, sha: string) => h.github.state.deployments.filter((d) => d.sha === sha);
const states = (h: Harness, sha: string) => deploymentsOf(h, sha).map((d) => d.statuses.map((s) => s.state));

/** Waits until the write queue has sent everything (no unsent row in github_writes). */
const settled = (h: Harness) =>
  waitFor(
    'every GitHub write sent',
    async () =>
      (await h.pool.query('SELECT count(*)::int AS n FROM github_writes WHERE failed_at IS NULL')).rows[0].n === 0,
    60_000,
  );

/** Writes of one push for the environment: its check runs and its deployment with statuses. */
function writesFor(h: Harness, sha: string, from: number): RecordedRequest[] {
  const checkIds = new Set(h.github.state.checkRuns.filter((r) => r.head_sha === sha).map((r) => String(r.id)));
  const deploymentIds = new Set(deploymentsOf(h, sha).map((d) => String(d.id)));
  return h.github
    .writes()
    .slice(from)
    .filter((r) => {
      if (r.route === 'POST /repos/{owner}/{repo}/check-runs') return r.body?.head_sha === sha;
      if (r.route === 'PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}')
        return checkIds.has(r.path.split('/').at(-1)!.split('?')[0]);
      if (r.route === 'POST /repos/{owner}/{repo}/deployments') return r.body?.ref === sha;
      if (r.route === 'POST /repos/{owner}/{repo}/deployments/{deployment_id}/statuses')
        return deploymentIds.has(r.path.split('/').at(-2)!);
      return false;
    });
}

describe('e2e: each apply is a GitHub deployment', () => {
  let h: Harness;
  before(async () => {
    // Each task's met command sleeps: the apply stays in progress long enough for its in_progress status to be sent
    // before the outcome (a write not sent yet is merged into the next one: docs/controller.md).
    h = await startHarness({
      hosts: 1,
      files: (hosts) => ({ 'politburo.yml': description(hosts, { sleep: SLEEP }) }),
      env: CALM,
    });
  });
  after(async () => {
    await h?.stop();
  });

  test('a successful apply: queued deployment, in_progress, success, linking to the run; at most 6 writes', async (t) => {
    const sha = await h.repo.head();
    const from = h.github.writes().length;
    await h.send('push', pushPayload(h.repo, { before: '0'.repeat(40), after: sha }));
    await waitFor('the deployment in progress', () => states(h, sha)[0]?.at(-1) === 'in_progress', 60_000);
    await waitFor('applied', () => h.checks(sha).get(`politburo/${ENV}`)?.conclusion === 'success', 120_000);
    await waitFor('the final deployment status', () => states(h, sha)[0]?.at(-1) === 'success', 60_000);
    await settled(h);
    assert.deepEqual(states(h, sha), [['in_progress', 'success']]);
    const [d] = deploymentsOf(h, sha);
    assert.equal(d.environment, ENV);
    assert.equal(d.production_environment, false);
    const payload = d.payload as { politburo: { environment: string; trigger: string } };
    assert.equal(payload.politburo.environment, ENV);
    assert.match(payload.politburo.trigger, new RegExp(`^push ${sha.slice(0, 7)} to main by `));
    const run = await h.pool.query(
      "SELECT id::text FROM runs WHERE kind = 'apply' AND commit = $1 ORDER BY id DESC LIMIT 1",
      [sha],
    );
    assert.deepEqual(
      d.statuses.map((s) => [s.log_url, s.environment_url]),
      [
        [ENV_PAGE, ENV_PAGE],
        [`${PUBLIC_URL}/runs/${run.rows[0].id}`, ENV_PAGE],
      ],
    );
    assert.match(d.statuses[1].description, new RegExp(`^Applied ${ENV}: `));
    const writes = writesFor(h, sha, from);
    t.diagnostic(`GitHub writes for the push: ${writes.length}`);
    assert.ok(writes.length <= 6, `${writes.length} writes for one push: ${writes.map((w) => w.route).join(', ')}`);
    assert.deepEqual(
      writes.filter((w) => w.route?.includes('/deployments')).map((w) => w.route),
      [
        'POST /repos/{owner}/{repo}/deployments',
        'POST /repos/{owner}/{repo}/deployments/{deployment_id}/statuses',
        'POST /repos/{owner}/{repo}/deployments/{deployment_id}/statuses',
      ],
    );
    // Created while Politburo's own check on the commit was pending: required_contexts [] keeps GitHub from a 409.
    const created = writes.find((w) => w.route === 'POST /repos/{owner}/{repo}/deployments')!;
    assert.equal(created.status, 201);
    assert.deepEqual(created.body.required_contexts, []);
    assert.equal(created.body.auto_merge, false);
    assert.deepEqual(h.github.violations, []);
  });

  test('a failed apply: its own deployment ends failure; the earlier one is left as it was', async () => {
    const first = await h.repo.head();
    const sha = await h.repo.commit(
      { 'politburo.yml': description(h.ssh.hosts, { version: 'v2', failing: ['db'], sleep: SLEEP }) },
      'v2 (db fails)',
    );
    const from = h.github.writes().length;
    await h.send('push', pushPayload(h.repo, { before: first, after: sha }));
    await waitFor('the deployment in progress', () => states(h, sha)[0]?.at(-1) === 'in_progress', 60_000);
    await waitFor('the failed check', () => h.checks(sha).get(`politburo/${ENV}`)?.conclusion === 'failure', 120_000);
    await waitFor('the final deployment status', () => states(h, sha)[0]?.at(-1) === 'failure', 60_000);
    await settled(h);
    assert.deepEqual(states(h, sha), [['in_progress', 'failure']]);
    assert.match(deploymentsOf(h, sha)[0].statuses[1].description, new RegExp(`^Apply of ${ENV} failed: .*failed`));
    assert.deepEqual(states(h, first), [['in_progress', 'success']]);
    const writes = writesFor(h, sha, from);
    assert.ok(writes.length <= 6, `${writes.length} writes for one push`);
    assert.deepEqual(h.github.violations, []);
  });
});

describe('e2e: a manual environment shows a waiting deployment until released', () => {
  let h: Harness;
  /** SSH sessions opened on the hosts so far (test/helpers/ssh-sessions.ts). */
  let sessions: () => Promise<number>;
  let sha: string;
  before(async () => {
    h = await startHarness({
      hosts: 1,
      files: (hosts) => ({ 'politburo.yml': description(hosts, { extra: '    apply: manual', sleep: SLEEP }) }),
      env: CALM,
    });
    sessions = await countSshSessions(h.ssh.hosts);
    sha = await h.repo.head();
    h.github.state.permissions.set(`${FULL_NAME}:boss`, 'admin');
  });
  after(async () => {
    await h?.stop();
  });

  test('a push creates the deployment waiting (pending) and opens no SSH session', async (t) => {
    const from = h.github.writes().length;
    await h.send('push', pushPayload(h.repo, { before: '0'.repeat(40), after: sha }));
    await waitFor('the waiting deployment', () => states(h, sha)[0]?.at(-1) === 'pending', 60_000);
    await settled(h);
    assert.equal(h.checks(sha).get(`politburo/${ENV}`)?.conclusion, 'neutral');
    assert.deepEqual(states(h, sha), [['pending']]);
    const [d] = deploymentsOf(h, sha);
    assert.match(
      d.statuses[0].description,
      new RegExp(`^Waiting for release \\(2 to create\\): comment /politburo apply ${ENV}`),
    );
    assert.equal(d.statuses[0].environment_url, ENV_PAGE);
    assert.equal(await countJobs(h.pool, { task: JOB_APPLY }), 0);
    assert.equal(await sessions(), 0, 'no SSH session opened');
    const writes = writesFor(h, sha, from);
    t.diagnostic(`GitHub writes for the push: ${writes.length}`);
    assert.ok(writes.length <= 6, `${writes.length} writes for one push`);
  });

  test('the release moves the same deployment on: in_progress, then success', async () => {
    const id = 80_001;
    const body = `/politburo apply ${ENV}`;
    h.github.state.commitComments.push({ id, repo: FULL_NAME, commit_id: sha, body, user: 'boss' });
    await h.send('commit_comment', commitCommentPayload(h.repo, { sha, body, user: 'boss', id }));
    await waitFor('the deployment in progress', () => states(h, sha)[0]?.at(-1) === 'in_progress', 60_000);
    await waitFor('applied', () => h.checks(sha).get(`politburo/${ENV}`)?.conclusion === 'success', 120_000);
    await waitFor('the final deployment status', () => states(h, sha)[0]?.at(-1) === 'success', 60_000);
    await settled(h);
    assert.deepEqual(states(h, sha), [['pending', 'in_progress', 'success']]);
    assert.ok((await sessions()) > 0, 'the release reached the host');
    const run = await h.pool.query(
      "SELECT id::text FROM runs WHERE kind = 'apply' AND commit = $1 ORDER BY id DESC LIMIT 1",
      [sha],
    );
    assert.equal(deploymentsOf(h, sha)[0].statuses[2].log_url, `${PUBLIC_URL}/runs/${run.rows[0].id}`);
    assert.deepEqual(h.github.violations, []);
  });

  test('a newer waiting commit supersedes an older one: its deployment turns inactive, the newer one waits', async () => {
    const older = await h.repo.commit(
      { 'politburo.yml': description(h.ssh.hosts, { version: 'v2', extra: '    apply: manual' }) },
      'v2',
    );
    await h.send('push', pushPayload(h.repo, { before: sha, after: older }));
    await waitFor('the older commit waits', () => states(h, older)[0]?.at(-1) === 'pending', 60_000);
    const newer = await h.repo.commit(
      { 'politburo.yml': description(h.ssh.hosts, { version: 'v3', extra: '    apply: manual' }) },
      'v3',
    );
    await h.send('push', pushPayload(h.repo, { before: older, after: newer }));
    await waitFor('the newer commit waits', () => states(h, newer)[0]?.at(-1) === 'pending', 60_000);
    await waitFor('the older deployment inactive', () => states(h, older)[0]?.at(-1) === 'inactive', 60_000);
    await settled(h);
    assert.deepEqual(states(h, older), [['pending', 'inactive']]);
    assert.equal(deploymentsOf(h, older)[0].statuses[1].description, `Superseded by ${newer.slice(0, 7)}`);
    assert.deepEqual(states(h, newer), [['pending']]);
    assert.deepEqual(
      states(h, sha),
      [['pending', 'in_progress', 'success']],
      'the applied deployment is left as it was',
    );
    assert.deepEqual(h.github.violations, []);
  });
});
