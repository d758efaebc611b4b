/**
 * Merge queues over in-memory ports (docs/controller.md "Merge queues"): a `merge_group` delivery, routed and handled,
 * queues a plan of the group's head; the plan job reports a `politburo plan ENV` check for every environment that
 * follows the base branch (changed or not: a required check must never leave the queue waiting) and for any other
 * environment the group changes, on the group's head, and writes no comment.
 */
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { handleCommand } from '../../../../controller/jobs/handlers/index.js';
import { parsePlanPullRequestJob } from '../../../../controller/jobs/payloads.js';
import { runPlanPullRequest } from '../../../../controller/jobs/plan-pull-request.js';
import { JOB_PLAN_PR } from '../../../../controller/ports.js';
import { parseEvent } from '../../../../webhooks/parse-event.js';
import { routeEvent } from '../../../../webhooks/route-event.js';
import { inMemoryJobs, type InMemoryJobs } from '../../../helpers/in-memory-controller.js';
import { repo, yaml } from './fixtures.js';

const sets = createRequire(import.meta.url)('@octokit/webhooks-examples/api.github.com/index.json') as {
  name: string;
  examples: any[];
}[];

/** GitHub's merge_group example, about the fixtures' repository, with the group's commits and refs given. */
function mergeGroupPayload(o: { head: string; base: string; baseBranch?: string; pr?: number }): any {
  const p = structuredClone(sets.find((s) => s.name === 'merge_group')!.examples[0]);
  const branch = o.baseBranch ?? 'main';
  p.merge_group = {
    ...p.merge_group,
    head_sha: o.head,
    base_sha: o.base,
    head_ref: `refs/heads/gh-readonly-queue/${branch}/pr-${o.pr ?? 5}-${o.base}`,
    base_ref: `refs/heads/${branch}`,
  };
  p.repository = {
    ...p.repository,
    name: repo.name,
    full_name: `${repo.owner}/${repo.name}`,
    owner: { ...p.repository.owner, login: repo.owner },
    clone_url: repo.cloneUrl,
    default_branch: repo.defaultBranch,
  };
  return p;
}

describe('merge groups', () => {
  let m: InMemoryJobs;
  beforeEach(() => {
    m = inMemoryJobs();
  });
  afterEach(async () => {
    await m.close();
  });

  /** Routes and handles a merge_group delivery; returns the delivery's outcome. */
  const deliver = async (payload: unknown) => {
    const parsed = parseEvent({ id: 'delivery-mg', event: 'merge_group', payload });
    assert.ok(parsed.ok, parsed.ok ? '' : parsed.problem);
    return handleCommand(m.deps, routeEvent(parsed.event), { deliveryId: 'delivery-mg', log: m.deps.logger });
  };

  test("checks_requested queues a plan of the group's head; the job checks every environment following the base branch, and what the group changes, with no comment", async () => {
    const base = m.git.commit({
      'politburo.yml': yaml({ prod: {}, qa: {}, staging: { branch: 'develop' }, preview: { branch: 'develop' } }),
    });
    m.git.setBranch('gh-readonly-queue/main/pr-5', base);
    // The group changes prod and the develop-following preview; qa and staging are unchanged.
    const head = m.git.commit(
      {
        'politburo.yml': yaml({
          prod: { version: 'v2' },
          qa: {},
          staging: { branch: 'develop' },
          preview: { branch: 'develop', version: 'v2' },
        }),
      },
      { branch: 'gh-readonly-queue/main/pr-5' },
    );
    const outcome = await deliver(mergeGroupPayload({ head, base }));
    assert.equal(outcome, `plan queued for merge group refs/heads/gh-readonly-queue/main/pr-5-${base}`);

    const jobs = m.queue.jobs(JOB_PLAN_PR);
    assert.equal(jobs.length, 1);
    const job = parsePlanPullRequestJob(jobs[0].payload);
    assert.equal(job.pullNumber, undefined);
    assert.deepEqual(job.mergeGroup, { headRef: `refs/heads/gh-readonly-queue/main/pr-5-${base}`, baseBranch: 'main' });
    assert.deepEqual([job.headSha, job.baseSha, job.live], [head, base, false]);

    await runPlanPullRequest(m.deps, m.queue.take(JOB_PLAN_PR)!.payload);
    assert.deepEqual(m.reporter.names(head).sort(), [
      'politburo plan preview',
      'politburo plan prod',
      'politburo plan qa',
    ]);
    for (const env of ['prod', 'qa', 'preview']) {
      const check = m.reporter.latest(head, `politburo plan ${env}`);
      assert.equal(check?.status, 'completed', env);
      assert.notEqual(check?.conclusion, 'failure', `${env}: ${check?.summary ?? ''}`);
    }
    assert.match(m.reporter.latest(head, 'politburo plan prod')?.summary ?? '', /to create|to update/);
    assert.deepEqual(m.reporter.names(base), [], 'nothing reported on the base');
    assert.deepEqual(m.reporter.comments, [], 'a merge group has no comment');
  });

  test('a group that changes no description still gets the checks of the environments of its base branch', async () => {
    const base = m.git.commit({ 'politburo.yml': yaml({ prod: {}, staging: { branch: 'develop' } }) });
    const head = m.git.commit({ 'README.md': 'docs only\n' });
    await deliver(mergeGroupPayload({ head, base }));
    await runPlanPullRequest(m.deps, m.queue.take(JOB_PLAN_PR)!.payload);
    assert.deepEqual(m.reporter.names(head), ['politburo plan prod']);
    assert.equal(m.reporter.latest(head, 'politburo plan prod')?.status, 'completed');

    // A queue on develop checks the environments that follow develop.
    const onDevelop = m.git.commit({ 'README.md': 'docs again\n' });
    await deliver(mergeGroupPayload({ head: onDevelop, base: head, baseBranch: 'develop' }));
    await runPlanPullRequest(m.deps, m.queue.take(JOB_PLAN_PR)!.payload);
    assert.deepEqual(m.reporter.names(onDevelop), ['politburo plan staging']);
    assert.deepEqual(m.reporter.comments, []);
  });

  test('an invalid description at the head fails the checks; no politburo.yml at the head reports nothing', async () => {
    const base = m.git.commit({ 'politburo.yml': yaml({ prod: {} }) });
    const broken = m.git.commit({ 'politburo.yml': yaml({ prod: {} }, { broken: true }) });
    await deliver(mergeGroupPayload({ head: broken, base }));
    await runPlanPullRequest(m.deps, m.queue.take(JOB_PLAN_PR)!.payload);
    assert.equal(m.reporter.latest(broken, 'politburo plan prod')?.conclusion, 'failure');

    const gone = m.git.commit({ 'politburo.yml': null, 'README.md': 'moved away\n' });
    await deliver(mergeGroupPayload({ head: gone, base: broken, pr: 6 }));
    await runPlanPullRequest(m.deps, m.queue.take(JOB_PLAN_PR)!.payload);
    assert.deepEqual(m.reporter.names(gone), []);
    assert.deepEqual(m.reporter.comments, []);
  });

  test('each merge group is its own plan job; a newer request for the same group replaces the waiting one', async () => {
    const base = m.git.commit({ 'politburo.yml': yaml({ prod: {} }) });
    const a = m.git.commit({ 'politburo.yml': yaml({ prod: { version: 'v2' } }) });
    const b = m.git.commit({ 'politburo.yml': yaml({ prod: { version: 'v3' } }) });
    await deliver(mergeGroupPayload({ head: a, base, pr: 5 }));
    await deliver(mergeGroupPayload({ head: b, base, pr: 6 }));
    await deliver(mergeGroupPayload({ head: b, base, pr: 6 }));
    assert.deepEqual(
      m.queue.jobs(JOB_PLAN_PR).map((j) => j.payload.headSha),
      [a, b],
    );
  });

  test('destroyed is ignored with its reason, and queues nothing', async () => {
    const base = m.git.commit({ 'politburo.yml': yaml({ prod: {} }) });
    const payload = { ...mergeGroupPayload({ head: base, base }), action: 'destroyed', reason: 'merged' };
    assert.equal(await deliver(payload), 'ignored: merge_group destroyed: the group left the queue, nothing to check');
    assert.deepEqual(m.queue.jobs(), []);
  });

  test('a plan job payload names exactly one of a pull request and a merge group', () => {
    const sha = 'a'.repeat(40);
    const common = { repo, headSha: sha, baseSha: sha, live: false, trigger: 't' };
    assert.throws(() => parsePlanPullRequestJob(common), /exactly one of pullNumber and mergeGroup/);
    assert.throws(
      () => parsePlanPullRequestJob({ ...common, pullNumber: 3, mergeGroup: { headRef: 'r', baseBranch: 'main' } }),
      /exactly one of pullNumber and mergeGroup/,
    );
    assert.equal(parsePlanPullRequestJob({ ...common, pullNumber: 3 }).pullNumber, 3);
  });
});
