/**
 * `/politburo apply ENV` (controller/jobs/handlers/release.ts) over in-memory ports: who may release, which commit a
 * comment releases, and what is answered in the thread; plus the comment parser and the routes of both comment events.
 */
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { helpComment, releaseComment } from '../../../../controller/jobs/handlers/release.js';
import { rerunApplyCheck } from '../../../../controller/jobs/handlers/rerun-check.js';
import { queueApplies } from '../../../../controller/jobs/queue-applies.js';
import { JOB_APPLY } from '../../../../controller/ports.js';
import type { ReleaseComment } from '../../../../webhooks/commands.js';
import { parseComment } from '../../../../webhooks/comment-command.js';
import { routeEvent } from '../../../../webhooks/route-event.js';
import { parseEvent } from '../../../../webhooks/parse-event.js';
import { inMemoryJobs, type InMemoryJobs } from '../../../helpers/in-memory-controller.js';
import { repo, yaml } from './fixtures.js';

const manual = (version: string) =>
  yaml({ production: { version } }).replace(
    '    blueprint: app_production\n',
    '    blueprint: app_production\n    apply: manual\n',
  );

describe('release by comment', () => {
  let m: InMemoryJobs;
  let sha: string;
  beforeEach(async () => {
    m = inMemoryJobs();
    m.reporter.permission = async (_repo, user) =>
      (({ boss: 'admin', dev: 'write', reader: 'read' }) as const)[user as 'boss'] ?? 'none';
    sha = m.git.commit({ 'politburo.yml': manual('v1') });
    await queueApplies(m.deps, repo, 'main', sha, 'push', m.deps.logger);
    assert.equal(m.reporter.latest(sha, 'politburo/production')?.title, 'Waiting for release of production');
  });
  afterEach(async () => {
    await m.close();
  });
  const ctx = () => ({ deliveryId: 'd-1', log: m.deps.logger });
  const onCommit = (commenter: string, at = sha, environment = 'production'): ReleaseComment => ({
    kind: 'release-comment',
    repo,
    thread: { kind: 'commit', sha: at },
    commentId: 7,
    commenter,
    environment,
  });

  test('a reader is refused with the reason, in the thread; nothing is queued or released', async () => {
    const outcome = await releaseComment(m.deps, onCommit('reader'), ctx());
    assert.match(outcome, /^refused: @reader has read permission/);
    assert.deepEqual(m.queue.jobs(), []);
    assert.equal(m.reporter.replies.length, 1);
    assert.deepEqual(m.reporter.replies[0].thread, { sha });
    assert.match(
      m.reporter.replies[0].body,
      /`\/politburo apply production` refused: @reader has read permission on the repository; releasing needs write/,
    );
    assert.equal((await m.controllerStore.release(repo, 'production', sha))?.releasedAt, null);
  });

  test('a writer on the commit releases it: the apply of that commit is queued, who and when recorded', async () => {
    const outcome = await releaseComment(m.deps, onCommit('dev'), ctx());
    assert.equal(outcome, `released production@${sha.slice(0, 7)} by dev`);
    const jobs = m.queue.jobs(JOB_APPLY);
    assert.deepEqual(
      jobs.map((j) => [j.payload.environment, j.payload.sha]),
      [['production', sha]],
    );
    assert.match(jobs[0].payload.trigger, /^\/politburo apply production by dev/);
    const release = await m.controllerStore.release(repo, 'production', sha);
    assert.equal(release?.releasedBy, 'dev');
    assert.ok(release?.releasedAt);
    assert.equal(m.reporter.latest(sha, 'politburo/production')?.status, 'queued');
    assert.match(m.reporter.replies.at(-1)!.body, /^Released `production` at .* \(1 to create\), by @dev/);
    // Once released, a second release says so and queues nothing more.
    assert.match(await releaseComment(m.deps, onCommit('boss'), ctx()), /already released by dev/);
  });

  test('on a pull request, the merge commit is released; an unmerged pull request is refused', async () => {
    const onPull: ReleaseComment = { ...onCommit('boss'), thread: { kind: 'pull-request', pullNumber: 5 } };
    assert.match(await releaseComment(m.deps, onPull, ctx()), /refused: pull request #5 is not merged/);
    assert.deepEqual(m.reporter.reactions, [{ commentId: 7, content: '-1' }]);
    m.reporter.merges.set(5, sha);
    assert.match(await releaseComment(m.deps, onPull, ctx()), /^released production/);
    assert.deepEqual(m.reporter.replies.at(-1)!.thread, { pullNumber: 5 });
    assert.equal(m.reporter.reactions.at(-1)?.content, 'rocket');
  });

  test('nothing waiting, or a commit that is not the head any more, is refused with the reason', async () => {
    assert.match(
      await releaseComment(m.deps, onCommit('boss', sha, 'staging'), ctx()),
      /refused: nothing of `staging` waits for release/,
    );
    const newer = m.git.commit({ 'politburo.yml': manual('v2') });
    await queueApplies(m.deps, repo, 'main', newer, 'push', m.deps.logger, sha);
    assert.match(
      await releaseComment(m.deps, onCommit('boss'), ctx()),
      new RegExp(`refused: ${sha.slice(0, 7)} is superseded by ${newer.slice(0, 7)}, which waits for release`),
    );
    const older = m.reporter.latest(sha, 'politburo/production')!;
    assert.deepEqual([older.conclusion, older.title], ['skipped', `Superseded by ${newer.slice(0, 7)}`]);
    assert.deepEqual(m.queue.jobs(), []);
    assert.match(await releaseComment(m.deps, onCommit('boss', newer), ctx()), /^released/);
  });

  test('a re-run of the waiting check applies nothing until released; a suspended environment never', async () => {
    const rerun = (at: string) =>
      rerunApplyCheck(m.deps, { kind: 'rerun-apply-check', repo, environment: 'production', sha: at }, ctx());
    assert.match(await rerun(sha), /^refused: production waits for release at/);
    assert.deepEqual(m.queue.jobs(), []);
    await releaseComment(m.deps, onCommit('dev'), ctx());
    assert.equal(await rerun(sha), 'apply of production queued');
    const suspended = m.git.commit({
      'politburo.yml': manual('v2').replace('    apply: manual\n', '    suspend: true\n'),
    });
    assert.match(await rerun(suspended), /^refused: production is suspended/);
  });

  test('/politburo help, and a line that is no command, are answered with the commands', async () => {
    await helpComment(m.deps, { kind: 'help-comment', repo, thread: { kind: 'commit', sha }, commentId: 8 }, ctx());
    await helpComment(
      m.deps,
      {
        kind: 'help-comment',
        repo,
        thread: { kind: 'pull-request', pullNumber: 2 },
        commentId: 9,
        unknown: '/politburo deploy',
      },
      ctx(),
    );
    assert.match(m.reporter.replies[0].body, /\/politburo apply ENV/);
    assert.match(m.reporter.replies[1].body, /^Not a Politburo command: `\/politburo deploy`/);
  });
});

describe('comment commands', () => {
  test('parseComment', () => {
    assert.deepEqual(parseComment('/politburo apply production\nthanks'), {
      command: 'apply',
      environment: 'production',
    });
    assert.deepEqual(parseComment('/politburo help'), { command: 'help' });
    assert.deepEqual(parseComment('/politburo'), { command: 'help' });
    assert.deepEqual(parseComment('/politburo plan --live staging'), {
      command: 'plan',
      live: true,
      environment: 'staging',
    });
    assert.deepEqual(parseComment('/politburo apply'), { command: 'unknown', line: '/politburo apply' });
    assert.deepEqual(parseComment('/politburo apply a b'), { command: 'unknown', line: '/politburo apply a b' });
    assert.equal(parseComment('please /politburo apply production'), null);
    assert.equal(parseComment('/politburoapply x'), null);
  });

  const repository = { name: 'infra', owner: { login: 'acme' } };
  const sha = 'a'.repeat(40);
  test('a commit comment routes to a release of that commit; a pull request comment to a release of the PR', () => {
    const commit = parseEvent({
      id: '1',
      event: 'commit_comment',
      payload: {
        action: 'created',
        comment: { id: 3, body: '/politburo apply prod', commit_id: sha, user: { login: 'dev' } },
        repository,
      },
    });
    assert.ok(commit.ok);
    assert.deepEqual(routeEvent(commit.event), {
      kind: 'release-comment',
      repo: {
        kind: 'github',
        owner: 'acme',
        name: 'infra',
        cloneUrl: 'https://github.com/acme/infra.git',
        defaultBranch: 'main',
      },
      thread: { kind: 'commit', sha },
      commentId: 3,
      commenter: 'dev',
      environment: 'prod',
    });
    const pull = parseEvent({
      id: '2',
      event: 'issue_comment',
      payload: {
        action: 'created',
        issue: { number: 4, pull_request: {} },
        comment: { id: 5, body: '/politburo help', user: { login: 'dev' } },
        repository,
      },
    });
    assert.ok(pull.ok);
    const routed = routeEvent(pull.event);
    assert.equal(routed.kind, 'help-comment');
    assert.deepEqual(routed.kind === 'help-comment' && routed.thread, { kind: 'pull-request', pullNumber: 4 });
  });
});
