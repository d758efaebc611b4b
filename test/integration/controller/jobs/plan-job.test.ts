/**
 * The plan-pull-request job: which environments are planned, the one comment, superseded heads, removed environments.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { runPlanPullRequest } from '../../../../controller/jobs/plan-pull-request.js';
import type { Repository } from '../../../../kernel/repository.js';
import type { PlanPullRequestJob } from '../../../../controller/ports.js';

import { startJobsHarness, type JobsHarness } from './jobs-harness.js';
import { GitRepo } from '../../../helpers/git-repo.js';

function yaml(o: { prod?: string; stage?: string; qa?: boolean } = {}): string {
  const env = (name: string, v: string) =>
    `  ${name}:\n    blueprint: app\n    params: { v: '${v}' }\n    hosts: { box: local }\n`;
  return `politburo: 1
blueprints:
  app:
    params: { v: '1' }
    resources:
      box:
        tasks:
          - { name: t, met: 'test -f /tmp/never-\${params.v}', meet: 'true' }
environments:
${env('prod', o.prod ?? '1')}${env('stage', o.stage ?? '1')}${o.qa ? env('qa', '1') : ''}`;
}

describe('plan-pull-request job', () => {
  let h: JobsHarness;
  let repo: GitRepo;
  let ref: Repository;
  const job = (o: Partial<PlanPullRequestJob> & { headSha: string; baseSha: string }): PlanPullRequestJob => ({
    repo: ref,
    pullNumber: 3,
    live: false,
    trigger: 'test',
    ...o,
  });
  const statuses = (sha: string) => h.github.state.statuses.filter((s) => s.sha === sha);
  const planned = async (sha: string) => {
    await h.reporter.flush({ timeoutMs: 60_000 });
    return [...new Set(statuses(sha).map((s) => s.context))].sort();
  };

  before(async () => {
    h = await startJobsHarness();
    repo = await GitRepo.create({ 'politburo.yml': yaml({ qa: true }) });
    ref = { kind: 'github', owner: 'acme', name: 'infra', cloneUrl: repo.dir, defaultBranch: 'main' };
    // qa was applied once: removing it from the description must plan its node's termination.
    await h.deps.store.updateNode('acme/infra', 'qa', 'box', {
      state: 'ready',
      host: 'local',
      applied: { specHash: 'old', tasks: [], commit: null },
    });
  });
  after(async () => {
    await h?.stop();
  });

  test('only the environments the PR changes, against the fork point; later changes on main are not the PR’s', async () => {
    await repo.git('checkout', '-q', '-b', 'pr');
    const head = await repo.commit({ 'politburo.yml': yaml({ stage: '2', qa: true }) }, 'stage 2');
    await repo.git('checkout', '-q', 'main');
    const mainMoved = await repo.commit({ 'politburo.yml': yaml({ prod: '9', qa: true }) }, 'prod on main');
    await runPlanPullRequest(h.deps, job({ headSha: head, baseSha: mainMoved }));
    assert.deepEqual(await planned(head), ['politburo plan stage']);
    const comments = h.github.state.comments.filter((c) => c.issue_number === 3);
    assert.equal(comments.length, 1);
    assert.match(comments[0].body, /stage/);
    assert.doesNotMatch(comments[0].body, /`prod`/);
  });

  test('a newer head re-plans: the same comment edited, the older head’s check superseded; a removed environment plans terminations', async () => {
    const base = await repo.head('main');
    await repo.git('checkout', '-q', 'pr');
    const head2 = await repo.commit({ 'politburo.yml': yaml({ stage: '3' }) }, 'stage 3, qa removed');
    await repo.git('checkout', '-q', 'main');
    const head1 = (await repo.git('rev-parse', 'pr~1')).trim();
    await runPlanPullRequest(h.deps, job({ headSha: head2, baseSha: base }));
    assert.deepEqual(await planned(head2), ['politburo plan qa', 'politburo plan stage']);
    const comments = h.github.state.comments.filter((c) => c.issue_number === 3);
    assert.equal(comments.length, 1, 'edited in place');
    assert.match(comments[0].body, /terminate/);
    const old = (
      await h.pool.query(
        `SELECT status, conclusion FROM github_checks WHERE sha = $1 AND name = 'politburo plan stage'`,
        [head1],
      )
    ).rows[0];
    assert.deepEqual(old, { status: 'completed', conclusion: 'skipped' });
  });

  test('a PR that changes no description file writes nothing', async () => {
    const base = await repo.head('main');
    await repo.git('checkout', '-q', '-b', 'docs', 'main');
    const head = await repo.commit({ 'README.md': 'docs only' }, 'docs');
    await repo.git('checkout', '-q', 'main');
    await h.reporter.flush({ timeoutMs: 60_000 });
    const writes = h.github.writes().length;
    await runPlanPullRequest(h.deps, job({ pullNumber: 4, headSha: head, baseSha: base }));
    await h.reporter.flush({ timeoutMs: 60_000 });
    assert.equal(h.github.writes().length, writes);
  });

  test('`/politburo plan ENV` plans that environment even when unchanged, with the notice on top of the comment', async () => {
    const head = await repo.head('docs');
    const base = await repo.head('main');
    await runPlanPullRequest(
      h.deps,
      job({ pullNumber: 4, headSha: head, baseSha: base, environment: 'prod', commentId: 1, notice: 'a notice' }),
    );
    assert.deepEqual(await planned(head), ['politburo plan prod']);
    const body = h.github.state.comments.find((c) => c.issue_number === 4)!.body;
    assert.match(body, /^<!-- politburo:plan -->\n> a notice/);
  });
});
