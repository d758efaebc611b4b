/**
 * `/politburo apply ENV` on an open pull request (controller/jobs/handlers/apply-pull-request.ts) over in-memory ports:
 * each requirement refuses with its reason and queues nothing, a moved plan is answered with the new plan, and when
 * all hold the pull request's head is queued for apply with who released it. Also: a release of a commit older than
 * the branch head is refused naming the head.
 */
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { planMoved, reviewDecision } from '../../../../controller/jobs/handlers/apply-pull-request.js';
import { releaseComment } from '../../../../controller/jobs/handlers/release.js';
import { runPlanPullRequest } from '../../../../controller/jobs/plan-pull-request.js';
import { queueApplies } from '../../../../controller/jobs/queue-applies.js';
import { JOB_APPLY, JOB_PLAN_PR } from '../../../../controller/ports.js';
import type { PullRequestReview, PullRequestState } from '../../../../controller/pull-request-state.js';
import type { ReleaseComment } from '../../../../webhooks/commands.js';
import { inMemoryJobs, type InMemoryJobs } from '../../../helpers/in-memory-controller.js';
import { appliedNodes, repo, yaml } from './fixtures.js';

/** fixtures.ts's description of `prod` at a version, with extra keys under the environment. */
const described = (version: string, extra: string[] = []) =>
  yaml({ prod: { version } }).replace(
    '    blueprint: app_prod\n',
    `    blueprint: app_prod\n${extra.map((l) => `    ${l}\n`).join('')}`,
  );
const ALLOWED = ['apply_from_pull_request: true'];

describe('apply from an open pull request', () => {
  let m: InMemoryJobs;
  let base: string;
  let head: string;
  let pr: PullRequestState;
  let reviews: PullRequestReview[];
  const PULL = 9;

  /** Main applied at `base` (described with `mainExtra`), a pull request at `head` (v2, `headExtra`) planned. */
  async function setUp(mainExtra: string[], headExtra: string[], applied = true) {
    const files = { 'politburo.yml': described('v1', mainExtra) };
    base = m.git.commit(files);
    if (applied) m.state.seed('acme/infra', 'prod', await appliedNodes(files, 'prod', base));
    m.git.setBranch('feature', base);
    head = m.git.commit({ 'politburo.yml': described('v2', headExtra) }, { branch: 'feature' });
    pr = {
      number: PULL,
      state: 'open',
      merged: false,
      mergeCommitSha: null,
      headSha: head,
      headRepository: 'acme/infra',
      baseSha: base,
      baseRef: 'main',
      mergeableState: 'clean',
      draft: false,
    };
    reviews = [{ reviewer: 'alice', state: 'APPROVED', commitId: head }];
    await runPlanPullRequest(m.deps, {
      repo,
      pullNumber: PULL,
      headSha: head,
      baseSha: base,
      live: false,
      trigger: 't',
    });
  }

  beforeEach(() => {
    m = inMemoryJobs();
    m.reporter.permission = async (_repo, user) =>
      (({ boss: 'admin', dev: 'write', reader: 'read' }) as const)[user as 'boss'] ?? 'none';
    Object.assign(m.reporter, { pullRequest: async () => pr, reviews: async () => reviews });
  });
  afterEach(async () => {
    await m.close();
  });
  const ctx = () => ({ deliveryId: 'd-1', log: m.deps.logger });
  const comment = (commenter: string): ReleaseComment => ({
    kind: 'release-comment',
    repo,
    thread: { kind: 'pull-request', pullNumber: PULL },
    commentId: 11,
    commenter,
    environment: 'prod',
  });
  const applies = () => m.queue.jobs(JOB_APPLY);
  const lastReply = () => m.reporter.replies.at(-1)?.body ?? '';

  test('all requirements met: the head is queued for apply, who released it recorded, a second comment applies nothing more', async () => {
    await setUp(ALLOWED, ALLOWED);
    const outcome = await releaseComment(m.deps, comment('dev'), ctx());
    assert.equal(outcome, `applied prod@${head.slice(0, 7)} from #${PULL} by dev`);
    assert.deepEqual(
      applies().map((j) => [j.payload.sha, j.payload.pullRequest]),
      [[head, { number: PULL }]],
    );
    assert.match(applies()[0].payload.trigger, new RegExp(`^/politburo apply prod by dev from pull request #${PULL}`));
    const release = await m.controllerStore.release(repo, 'prod', head);
    assert.equal(release?.releasedBy, 'dev');
    assert.equal(release?.planSummary, `pull request #${PULL}: 1 to update`);
    assert.equal(m.reporter.latest(head, 'politburo/prod')?.status, 'queued');
    assert.match(lastReply(), /^Applying `prod` at .*, the head of pull request #9 \(1 to update\), by @dev/);
    assert.equal(m.reporter.reactions.at(-1)?.content, 'rocket');
    assert.match(await releaseComment(m.deps, comment('boss'), ctx()), /already applied/);
    assert.equal(applies().length, 1);
  });

  test('a reader is refused; nothing queued', async () => {
    await setUp(ALLOWED, ALLOWED);
    assert.match(await releaseComment(m.deps, comment('reader'), ctx()), /refused: @reader has read permission/);
    assert.deepEqual(applies(), []);
  });

  test("a fork's pull request is refused, whoever asks", async () => {
    await setUp(ALLOWED, ALLOWED);
    pr.headRepository = null;
    assert.match(await releaseComment(m.deps, comment('boss'), ctx()), /a repository GitHub no longer knows/);
    pr.headRepository = 'mallory/infra';
    assert.match(await releaseComment(m.deps, comment('boss'), ctx()), /refused: the head .* fork mallory\/infra/);
    assert.match(lastReply(), /a fork's pull request is never applied/);
    assert.deepEqual(applies(), []);
  });

  test('not approved, or changes requested (latest verdict per reviewer), is refused', async () => {
    await setUp(ALLOWED, ALLOWED);
    reviews = [{ reviewer: 'alice', state: 'COMMENTED', commitId: head }];
    assert.match(await releaseComment(m.deps, comment('boss'), ctx()), /refused: pull request #9 is not approved/);
    reviews = [
      { reviewer: 'alice', state: 'APPROVED', commitId: head },
      { reviewer: 'bob', state: 'CHANGES_REQUESTED', commitId: head },
    ];
    assert.match(await releaseComment(m.deps, comment('boss'), ctx()), /has changes requested \(@bob\)/);
    assert.deepEqual(applies(), []);
  });

  test('not mergeable per branch protection is refused; not known yet asks to comment again', async () => {
    await setUp(ALLOWED, ALLOWED);
    pr.mergeableState = 'blocked';
    assert.match(
      await releaseComment(m.deps, comment('boss'), ctx()),
      /refused: .* branch protection blocks the merge/,
    );
    pr.mergeableState = 'dirty';
    assert.match(await releaseComment(m.deps, comment('boss'), ctx()), /merge conflicts/);
    pr.mergeableState = null;
    assert.match(await releaseComment(m.deps, comment('boss'), ctx()), /mergeable state not known yet/);
    assert.match(lastReply(), /still working out .* Comment `\/politburo apply prod` again/);
    assert.deepEqual(applies(), []);
  });

  test('an apply of the environment waiting in its queue is not replaced: refused until it has run', async () => {
    await setUp(ALLOWED, ALLOWED);
    await m.queue.enqueueApply({ repo, environment: 'prod', sha: base, trigger: 'push' });
    assert.match(
      await releaseComment(m.deps, comment('boss'), ctx()),
      new RegExp(`refused: the apply of \`prod\` at ${base.slice(0, 7)} is waiting in its queue`),
    );
    assert.deepEqual(
      applies().map((j) => j.payload.sha),
      [base],
    );
    m.queue.take(JOB_APPLY);
    assert.match(await releaseComment(m.deps, comment('boss'), ctx()), /^applied prod/);
  });

  test('a moved head is answered with the new plan and planned again; nothing applied', async () => {
    await setUp(ALLOWED, ALLOWED);
    const newer = m.git.commit({ 'politburo.yml': described('v3', ALLOWED) }, { branch: 'feature' });
    pr.headSha = newer;
    assert.match(await releaseComment(m.deps, comment('boss'), ctx()), /refused: the head moved/);
    assert.match(lastReply(), /did not apply anything: the head moved from .* to .* since the plan/);
    assert.match(lastReply(), /The new plan of `prod` at .*: 1 to update/);
    assert.deepEqual(applies(), []);
    const plans = m.queue.jobs(JOB_PLAN_PR);
    assert.deepEqual(
      plans.map((j) => [j.payload.headSha, j.payload.environment]),
      [[newer, 'prod']],
    );
    // Once that plan is shown, the same comment applies it.
    await runPlanPullRequest(m.deps, plans[0].payload);
    assert.match(await releaseComment(m.deps, comment('boss'), ctx()), /^applied prod/);
    assert.deepEqual(
      applies().map((j) => j.payload.sha),
      [newer],
    );
  });

  test('a moved base branch is answered with the new plan; nothing applied', async () => {
    await setUp(ALLOWED, ALLOWED);
    m.git.commit({ README: 'moved on' });
    assert.match(await releaseComment(m.deps, comment('boss'), ctx()), /refused: the base branch moved/);
    assert.deepEqual(applies(), []);
  });

  test('the pull request cannot allow it for itself: the policy of the last applied commit decides', async () => {
    await setUp([], ALLOWED);
    assert.match(
      await releaseComment(m.deps, comment('boss'), ctx()),
      /refused: `prod` does not allow applying a pull request before merge/,
    );
    assert.deepEqual(applies(), []);
  });

  test('an environment never applied is refused (no applied policy allows it)', async () => {
    await setUp(ALLOWED, ALLOWED, false);
    assert.match(await releaseComment(m.deps, comment('boss'), ctx()), /refused: `prod` has never been applied/);
    assert.deepEqual(applies(), []);
  });

  test('reviewDecision and planMoved', () => {
    const r = (reviewer: string, state: string): PullRequestReview => ({ reviewer, state, commitId: null });
    assert.equal(reviewDecision([]), 'none');
    assert.equal(reviewDecision([r('a', 'CHANGES_REQUESTED'), r('a', 'APPROVED')]), 'approved');
    assert.equal(reviewDecision([r('a', 'APPROVED'), r('a', 'COMMENTED')]), 'approved');
    assert.equal(reviewDecision([r('a', 'APPROVED'), r('a', 'DISMISSED')]), 'none');
    assert.equal(reviewDecision([r('a', 'APPROVED'), r('b', 'CHANGES_REQUESTED')]), 'changes-requested');
    const seen = { baseSha: 'b'.repeat(40), headSha: 'h'.repeat(40), planHash: 'x' };
    assert.equal(planMoved(seen, seen), null);
    assert.match(planMoved(seen, { ...seen, planHash: 'y' }) ?? '', /recorded on the hosts changed/);
    assert.match(planMoved(null, seen) ?? '', /no plan of it/);
  });
});

describe('release of a merged commit: only the branch head', () => {
  test('a waiting commit older than the branch head is refused with the head named', async () => {
    const m = inMemoryJobs();
    try {
      m.reporter.permission = async () => 'admin';
      const waiting = m.git.commit({ 'politburo.yml': described('v1', ['apply: manual']) });
      await queueApplies(m.deps, repo, 'main', waiting, 'push', m.deps.logger);
      // A newer commit that does not change prod: nothing newer waits, but the head moved on.
      const newer = m.git.commit({ README: 'docs' });
      const outcome = await releaseComment(
        m.deps,
        {
          kind: 'release-comment',
          repo,
          thread: { kind: 'commit', sha: waiting },
          commentId: 3,
          commenter: 'boss',
          environment: 'prod',
        },
        { deliveryId: 'd', log: m.deps.logger },
      );
      assert.match(
        outcome,
        new RegExp(`refused: ${waiting.slice(0, 7)} is not the head of main any more: ${newer.slice(0, 7)} is newer`),
      );
      assert.deepEqual(m.queue.jobs(JOB_APPLY), []);
    } finally {
      await m.close();
    }
  });
});
