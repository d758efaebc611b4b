/**
 * The github-delivery job end to end on a real database: a stored delivery is parsed, routed, handled, and marked
 * processed with its outcome (the routing of every payload shape is in test/unit/webhooks/route-event.test.ts).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { runGitHubDelivery } from '../../../../controller/jobs/github-delivery.js';
import { JOB_APPLY, JOB_DELIVERY, JOB_PLAN_PR } from '../../../../controller/ports.js';
import { TerminalError } from '../../../../controller/queue/terminal-error.js';

import { startJobsHarness, type JobsHarness } from './jobs-harness.js';
import { GitRepo } from '../../../helpers/git-repo.js';

const VALID = `politburo: 1
blueprints:
  app:
    resources:
      box:
        tasks:
          - { name: t, met: 'true', meet: 'true' }
environments:
  prod:
    blueprint: app
    hosts: { box: local }
  stage:
    blueprint: app
    branch: staging
    hosts: { box: local }
`;

function repository(repo: GitRepo, name = 'infra') {
  return { name, full_name: `acme/${name}`, owner: { login: 'acme' }, clone_url: repo.dir, default_branch: 'main' };
}

describe('github-delivery routing', () => {
  let h: JobsHarness;
  let repo: GitRepo;
  let empty: GitRepo;
  before(async () => {
    h = await startJobsHarness();
    repo = await GitRepo.create({ 'politburo.yml': VALID });
    empty = await GitRepo.create({ 'README.md': 'no politburo here' });
  });
  after(async () => {
    await h?.stop();
  });

  const run = async (event: string, payload: object) => {
    const id = await h.deliver(event, payload);
    await runGitHubDelivery(h.deps, { deliveryId: id });
    return (await h.delivery(id)).outcome ?? '';
  };

  test('a push to the default branch queues an apply of each changed environment following it, with a pending status', async () => {
    const sha = await repo.head();
    const outcome = await run('push', {
      ref: 'refs/heads/main',
      after: sha,
      before: '0'.repeat(40),
      repository: repository(repo),
      pusher: { name: 'ann' },
    });
    assert.equal(outcome, 'queued: prod');
    const jobs = await h.jobs(JOB_APPLY);
    assert.equal(jobs.length, 1);
    assert.equal(jobs[0].payload.environment, 'prod');
    assert.equal(jobs[0].payload.sha, sha);
    assert.equal(jobs[0].key, 'apply:acme/infra:prod');
    await h.reporter.flush({ timeoutMs: 60_000 });
    const status = h.github.state.statuses.find((s) => s.sha === sha && s.context === 'politburo/prod');
    assert.equal(status?.state, 'pending');
  });

  test('a push to a branch no environment follows, a deleted branch, a tag: nothing queued', async () => {
    const sha = await repo.head();
    assert.equal(
      await run('push', { ref: 'refs/heads/other', after: sha, repository: repository(repo) }),
      'no-environment',
    );
    assert.equal(
      await run('push', { ref: 'refs/heads/main', after: '0'.repeat(40), deleted: true, repository: repository(repo) }),
      'ignored: branch deleted',
    );
    assert.equal(
      await run('push', { ref: 'refs/tags/v1', after: sha, repository: repository(repo) }),
      'ignored: not a branch push',
    );
    assert.equal((await h.jobs(JOB_APPLY)).length, 1);
  });

  test('a repository without politburo.yml is acknowledged and ignored', async () => {
    const sha = await empty.head();
    assert.equal(
      await run('push', { ref: 'refs/heads/main', after: sha, repository: repository(empty, 'website') }),
      'no-description',
    );
    await h.reporter.flush({ timeoutMs: 60_000 });
    assert.equal(h.github.state.statuses.filter((s) => s.sha === sha).length, 0);
  });

  test('an invalid description fails the push with the errors, nothing queued', async () => {
    const bad = await GitRepo.create({
      'politburo.yml': 'politburo: 1\nenvironments:\n  prod: { blueprint: nope }\n',
    });
    const sha = await bad.head();
    assert.equal(
      await run('push', { ref: 'refs/heads/main', after: sha, repository: repository(bad, 'broken') }),
      'invalid',
    );
    await h.reporter.flush({ timeoutMs: 60_000 });
    const status = h.github.state.statuses.find((s) => s.sha === sha);
    assert.equal(status?.state, 'failure');
    assert.equal((await h.jobs(JOB_APPLY)).filter((j) => j.payload.repo.name === 'broken').length, 0);
  });

  test('pull_request opened queues a static plan keyed by the pull request; closed is ignored', async () => {
    const base = await repo.head();
    const head = await repo.commit({ 'politburo.yml': VALID.replace("meet: 'true'", "meet: 'echo new'") }, 'pr');
    const pr = { number: 5, head: { sha: head, repo: { full_name: 'acme/infra' } }, base: { sha: base } };
    assert.equal(
      await run('pull_request', { action: 'opened', pull_request: pr, repository: repository(repo) }),
      'plan queued for #5',
    );
    assert.equal(
      await run('pull_request', { action: 'closed', pull_request: pr, repository: repository(repo) }),
      'ignored: pull_request closed',
    );
    const plans = await h.jobs(JOB_PLAN_PR);
    assert.equal(plans.length, 1);
    assert.equal(plans[0].payload.live, false);
    assert.equal(plans[0].payload.headSha, head);
  });

  test('comments: not a command is ignored; a command on an unknown pull request gets a confused reaction', async () => {
    assert.equal(
      await run('issue_comment', {
        action: 'created',
        issue: { number: 5, pull_request: {} },
        comment: { id: 1, body: 'looks good', user: { login: 'x' } },
        repository: repository(repo),
      }),
      'ignored: not a politburo command',
    );
    assert.equal(
      await run('issue_comment', {
        action: 'created',
        issue: { number: 5 },
        comment: { id: 1, body: '/politburo plan', user: { login: 'x' } },
        repository: repository(repo),
      }),
      'ignored: comment on an issue, not a pull request',
    );
    h.github.state.comments.push({
      id: 77,
      repo: 'acme/infra',
      issue_number: 99,
      body: '/politburo plan',
      user: 'x',
      reactions: [],
    });
    assert.equal(
      await run('issue_comment', {
        action: 'created',
        issue: { number: 99, pull_request: {} },
        comment: { id: 77, body: '/politburo plan', user: { login: 'x' } },
        repository: repository(repo),
      }),
      'refused: pull request #99 not seen yet',
    );
    await h.reporter.flush({ timeoutMs: 60_000 });
    assert.deepEqual(h.github.state.comments.find((c) => c.id === 77)?.reactions, ['confused']);
  });

  test('installation events register the repositories; unknown events are marked processed and ignored', async () => {
    assert.equal(
      await run('installation', {
        action: 'created',
        installation: { id: 9 },
        repositories: [{ full_name: 'acme/a' }, { full_name: 'acme/b' }],
      }),
      'registered 2 repositories',
    );
    assert.equal(
      await run('installation_repositories', {
        action: 'added',
        installation: { id: 9 },
        repositories_added: [{ full_name: 'acme/c' }],
      }),
      'registered 1 repositories',
    );
    const { rows } = await h.pool.query(`SELECT key FROM repositories WHERE key LIKE 'acme/_' ORDER BY key`);
    assert.deepEqual(
      rows.map((r) => r.key),
      ['acme/a', 'acme/b', 'acme/c'],
    );
    assert.equal(
      await run('installation_repositories', {
        action: 'removed',
        installation: { id: 9 },
        repositories_removed: [{ full_name: 'acme/c' }],
      }),
      'removed from the installation: 1 repositories (records kept)',
    );
    const kept = await h.pool.query(`SELECT key FROM repositories WHERE key = 'acme/c'`);
    assert.equal(kept.rowCount, 1);
    const id = await h.deliver('star', { action: 'created' });
    await runGitHubDelivery(h.deps, { deliveryId: id });
    const d = await h.delivery(id);
    assert.equal(d.outcome, 'ignored: event star');
    assert.ok(d.processed_at);
  });

  test('a malformed payload is marked processed, its outcome saying what is wrong; nothing is queued', async () => {
    const queued = async () => (await h.jobs()).filter((j) => j.task_identifier !== JOB_DELIVERY).length;
    const before = await queued();
    assert.equal(
      await run('push', { ref: 'refs/heads/main', after: await repo.head(), repository: { name: 'infra' } }),
      'ignored: malformed push payload: repository.owner: Invalid input: expected object, received undefined',
    );
    assert.equal(await run('invented', { action: 'x' }), 'ignored: unknown event "invented"');
    assert.equal(await queued(), before);
  });

  test('a re-run apply check queues the apply of its environment at its commit', async () => {
    const sha = await repo.head();
    assert.equal(
      await run('check_run', {
        action: 'rerequested',
        check_run: { name: 'politburo/stage', head_sha: sha, pull_requests: [] },
        repository: repository(repo),
      }),
      'apply of stage queued',
    );
    const applies = (await h.jobs(JOB_APPLY)).filter((j) => j.payload.environment === 'stage');
    assert.equal(applies.length, 1);
    assert.equal(applies[0].payload.sha, sha);
  });

  test('a delivery already processed is not handled again (a retried job)', async () => {
    const id = await h.deliver('star', { action: 'created' });
    await runGitHubDelivery(h.deps, { deliveryId: id });
    await h.pool.query(`UPDATE webhook_deliveries SET outcome = 'first' WHERE delivery_id = $1`, [id]);
    await runGitHubDelivery(h.deps, { deliveryId: id });
    assert.equal((await h.delivery(id)).outcome, 'first');
  });

  test('bad job payloads are terminal errors; a missing delivery is not an error', async () => {
    await assert.rejects(
      runGitHubDelivery(h.deps, { nope: 1 }),
      (e: unknown) => e instanceof TerminalError && /deliveryId/.test(e.message),
    );
    await runGitHubDelivery(h.deps, { deliveryId: 'does-not-exist' });
  });
});
