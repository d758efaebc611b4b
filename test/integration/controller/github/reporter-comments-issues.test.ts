// Sticky PR comment, drift issue, reactions and permission lookups against the fake GitHub and a real database.
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createWorld, type World } from './setup.js';
import { renderPlanComment, PLAN_COMMENT_MARKER } from '../../../../controller/github/render-plan-comment.js';
import { DRIFT_LABEL } from '../../../../controller/github/render-drift-issue.js';
import type { DriftReport } from '../../../../controller/ports.js';

let w: World;
before(async () => {
  w = await createWorld();
});
after(() => w.close());
// GitHub would have refused any request that broke its OpenAPI description or documented limits.
afterEach(() => assert.deepEqual(w.violations(), []));

const plan = (sha: string) =>
  renderPlanComment(
    [
      {
        environment: 'production',
        errors: [],
        plan: {
          environment: 'production',
          commit: sha,
          nodes: [],
          summary: { create: 0, update: 0, unchanged: 3, terminate: 0 },
        },
      },
    ],
    { headSha: sha },
  );

test('the sticky comment is created once and edited in place on every new push', async () => {
  const fake = await w.newFake();
  const reporter = w.reporter(fake);
  const repo = w.repo();
  await reporter.stickyComment(repo, 7, plan('1111111'));
  await reporter.flush({ timeoutMs: 60_000 });
  await reporter.stickyComment(repo, 7, plan('2222222'));
  await reporter.flush({ timeoutMs: 60_000 });
  await reporter.stickyComment(repo, 7, plan('3333333'));
  await reporter.flush({ timeoutMs: 60_000 });
  const comments = fake.state.comments.filter((c) => c.issue_number === 7);
  assert.equal(comments.length, 1);
  assert.match(comments[0].body, /3333333/);
  assert.ok(comments[0].body.startsWith(PLAN_COMMENT_MARKER));
  assert.deepEqual(
    fake.writes().map((r) => r.route),
    [
      'POST /repos/{owner}/{repo}/issues/{issue_number}/comments',
      'PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}',
      'PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}',
    ],
  );
  assert.deepEqual(fake.violations, []);
});

test('an unchanged plan costs no write: the comment is edited only when its text changes', async () => {
  const fake = await w.newFake();
  const reporter = w.reporter(fake);
  const repo = w.repo();
  for (const sha of ['1111111', '1111111', '1111111', '2222222', '2222222']) {
    await reporter.stickyComment(repo, 8, plan(sha));
    await reporter.flush({ timeoutMs: 60_000 });
  }
  assert.deepEqual(
    fake.writes().map((r) => r.route),
    [
      'POST /repos/{owner}/{repo}/issues/{issue_number}/comments',
      'PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}',
    ],
  );
  assert.match(fake.state.comments.find((c) => c.issue_number === 8)!.body, /2222222/);
});

test('with its database row lost, the comment is found again by its marker (among many) instead of duplicated', async () => {
  const fake = await w.newFake();
  const reporter = w.reporter(fake);
  const repo = w.repo();
  // 150 human comments first: the marker search pages through all of them.
  for (let i = 0; i < 150; i++)
    fake.state.comments.push({
      id: 1 + i,
      repo: `acme/${repo.name}`,
      issue_number: 9,
      body: `lgtm ${i}`,
      user: 'alice',
      reactions: [],
    });
  await reporter.stickyComment(repo, 9, plan('1111111'));
  await reporter.flush({ timeoutMs: 60_000 });
  await w.pool.query('DELETE FROM pr_comments WHERE repository = $1', [`acme/${repo.name}`]);
  await reporter.stickyComment(repo, 9, plan('2222222'));
  await reporter.flush({ timeoutMs: 60_000 });
  const ours = fake.state.comments.filter((c) => c.body.includes(PLAN_COMMENT_MARKER));
  assert.equal(ours.length, 1);
  assert.match(ours[0].body, /2222222/);
  assert.ok(
    fake.requests.filter((r) => r.route === 'GET /repos/{owner}/{repo}/issues/{issue_number}/comments').length >= 2,
    'paged through the comments',
  );
  const { rows } = await w.pool.query('SELECT comment_id::int AS id FROM pr_comments WHERE repository = $1', [
    `acme/${repo.name}`,
  ]);
  assert.deepEqual(rows, [{ id: ours[0].id }], 'the row is remembered again');
  assert.deepEqual(fake.violations, []);
});

test('a deleted comment is posted again', async () => {
  const fake = await w.newFake();
  const reporter = w.reporter(fake);
  const repo = w.repo();
  await reporter.stickyComment(repo, 3, plan('1111111'));
  await reporter.flush({ timeoutMs: 60_000 });
  fake.state.comments.length = 0;
  await reporter.stickyComment(repo, 3, plan('2222222'));
  await reporter.flush({ timeoutMs: 60_000 });
  assert.equal(fake.state.comments.length, 1);
  assert.match(fake.state.comments[0].body, /2222222/);
  assert.deepEqual(fake.violations, []);
});

test('a body without the marker gets it, so it can be found again', async () => {
  const fake = await w.newFake();
  const reporter = w.reporter(fake);
  await reporter.stickyComment(w.repo(), 4, 'hello');
  await reporter.flush({ timeoutMs: 60_000 });
  assert.equal(fake.state.comments[0].body, `${PLAN_COMMENT_MARKER}\nhello`);
});

function drift(nodes: string[]): DriftReport {
  return {
    environment: 'production',
    sha: 'd'.repeat(40),
    healed: false,
    result: {
      runId: '5',
      kind: 'drift',
      environment: 'production',
      commit: 'd'.repeat(40),
      status: 'succeeded',
      durationMs: 1,
      nodes: nodes.map((path) => ({
        path,
        host: '10.0.0.1',
        state: 'drifted' as const,
        tasks: [{ name: 'nginx', outcome: 'unmet' as const }],
      })),
      summary: { drifted: nodes.length },
    },
  };
}

test('drift issue: opened with its label (created), updated in place, then closed with a comment', async () => {
  const fake = await w.newFake();
  const reporter = w.reporter(fake);
  const repo = w.repo();
  await reporter.driftIssue(repo, 'production', drift(['web-1']));
  await reporter.flush({ timeoutMs: 60_000 });
  assert.equal(fake.state.issues.length, 1);
  const issue = fake.state.issues[0];
  assert.equal(issue.title, 'Drift in production');
  assert.deepEqual(issue.labels, [DRIFT_LABEL]);
  assert.ok(fake.requests.some((r) => r.route === 'POST /repos/{owner}/{repo}/labels' && r.status === 201));
  await reporter.driftIssue(repo, 'production', drift(['web-1', 'web-2']));
  await reporter.flush({ timeoutMs: 60_000 });
  assert.equal(fake.state.issues.length, 1);
  assert.match(issue.body, /web-2/);
  // The same drift again: read, compared, no write.
  const before = fake.writes().length;
  await reporter.driftIssue(repo, 'production', drift(['web-1', 'web-2']));
  await reporter.flush({ timeoutMs: 60_000 });
  assert.equal(fake.writes().length, before);
  await reporter.driftIssue(repo, 'production', null);
  await reporter.flush({ timeoutMs: 60_000 });
  assert.equal(issue.state, 'closed');
  assert.match(fake.state.comments.at(-1)!.body, /No drift in `production` any more/);
  const { rows } = await w.pool.query('SELECT issue_number, open FROM drift_issues WHERE repository = $1', [
    `acme/${repo.name}`,
  ]);
  assert.deepEqual(rows, [{ issue_number: issue.number, open: false }]);
  // Drift again later: a new issue, and the label is not created twice.
  await reporter.driftIssue(repo, 'production', drift(['db']));
  await reporter.flush({ timeoutMs: 60_000 });
  assert.equal(fake.state.issues.filter((i) => i.state === 'open').length, 1);
  assert.equal(fake.requests.filter((r) => r.route === 'POST /repos/{owner}/{repo}/labels').length, 1);
  assert.deepEqual(fake.violations, []);
});

test('drift issue found again by label and marker when its row is lost; no drift and no issue costs nothing', async () => {
  const fake = await w.newFake();
  const reporter = w.reporter(fake);
  const repo = w.repo();
  await reporter.driftIssue(repo, 'staging', null);
  await reporter.flush({ timeoutMs: 60_000 });
  assert.equal(fake.writes().length, 0);
  await reporter.driftIssue(repo, 'staging', { ...drift(['a']), environment: 'staging' });
  await reporter.flush({ timeoutMs: 60_000 });
  await w.pool.query('DELETE FROM drift_issues WHERE repository = $1', [`acme/${repo.name}`]);
  await reporter.driftIssue(repo, 'staging', { ...drift(['a', 'b']), environment: 'staging' });
  await reporter.flush({ timeoutMs: 60_000 });
  assert.equal(fake.state.issues.length, 1);
  assert.match(fake.state.issues[0].body, /`b`/);
  assert.deepEqual(fake.violations, []);
});

test('reactions on issue comments', async () => {
  const fake = await w.newFake();
  const reporter = w.reporter(fake);
  const repo = w.repo();
  fake.state.comments.push({
    id: 77,
    repo: `acme/${repo.name}`,
    issue_number: 1,
    body: '/politburo plan',
    user: 'bob',
    reactions: [],
  });
  await reporter.reaction(repo, 77, 'eyes');
  await reporter.reaction(repo, 77, 'rocket');
  await reporter.flush({ timeoutMs: 60_000 });
  assert.deepEqual(fake.state.comments[0].reactions, ['eyes', 'rocket']);
  assert.deepEqual(fake.violations, []);
});

test('permission lookups: role names, unknown users, and errors answer none', async () => {
  const fake = await w.newFake();
  const reporter = w.reporter(fake);
  const repo = w.repo();
  fake.state.permissions.set(`acme/${repo.name}:alice`, 'admin');
  fake.state.permissions.set(`acme/${repo.name}:bob`, 'maintain');
  fake.state.permissions.set(`acme/${repo.name}:carol`, 'triage');
  assert.equal(await reporter.permission(repo, 'alice'), 'admin');
  assert.equal(await reporter.permission(repo, 'bob'), 'maintain');
  assert.equal(await reporter.permission(repo, 'carol'), 'triage');
  assert.equal(await reporter.permission(repo, 'mallory'), 'read');
  fake.failNext({
    route: '/repos/{owner}/{repo}/collaborators/{username}/permission',
    status: 404,
    message: 'Not Found',
  });
  assert.equal(await reporter.permission(repo, 'ghost'), 'none');
  fake.failNext({ route: '/repos/{owner}/{repo}/collaborators/{username}/permission', status: 503, times: 10 });
  assert.equal(await reporter.permission(repo, 'alice'), 'none', 'GitHub down: no --live');
  assert.deepEqual(fake.violations, []);
});
