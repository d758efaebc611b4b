/**
 * Scheduled drift after a partly failed apply: five local nodes applied at A; at X web-1's host is broken, so only
 * web-2 gets X; then web-2 is changed by hand. The controller's drift job must look at every node, each at the commit
 * it was applied from, find web-2's drift, heal it as X describes it, and never report "no drift" (nor close the
 * issue) while a node could not be checked.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { runApplyEnvironment } from '../../controller/jobs/apply-environment.js';
import { runDriftEnvironment } from '../../controller/jobs/drift-environment.js';
import type { Repository } from '../../kernel/repository.js';

import { startJobsHarness, type JobsHarness } from '../integration/controller/jobs/jobs-harness.js';
import { GitRepo } from '../helpers/git-repo.js';

/**
 * Web nodes write their release (and fail while `break-NAME` exists); the others write `ok` (and hang while `hang-NAME`
 * exists).
 */
function description(root: string, appRef: string, opts: { heal?: boolean; queue?: boolean } = {}): string {
  return `politburo: 1
defaults: { timeout: 3s }
roles:
  web:
    tasks:
      - name: release written
        met: test "$(cat '${root}/\${self.name}' 2>/dev/null)" = 'ref=\${params.app_ref}'
        meet: test ! -e '${root}/break-\${self.name}' && echo 'ref=\${params.app_ref}' > '${root}/\${self.name}'
  plain:
    tasks:
      - name: config written
        met: (test ! -e '${root}/hang-\${self.name}' || sleep 30) && test "$(cat '${root}/\${self.name}' 2>/dev/null)" = ok
        meet: echo ok > '${root}/\${self.name}'
blueprints:
  demo:
    params: { app_ref: v1 }
    resources:
      database:
        resources:
          master: { roles: [plain] }
          replica: { roles: [plain], depends_on: [database/master] }
      web: { roles: [web], count: 2, depends_on: [database/master] }
      lb: { roles: [plain], depends_on: [web] }
${opts.queue ? '      queue: { roles: [web] }\n' : ''}environments:
  demo:
    blueprint: demo
    params: { app_ref: ${appRef} }
    hosts: { database/master: local, database/replica: local, web: [local, local], lb: local${opts.queue ? ', queue: local' : ''} }
    drift: { schedule: '0 * * * *', heal: ${opts.heal ? 'true' : 'false'} }
`;
}

describe('fault: drift after a partly failed apply', () => {
  let h: JobsHarness;
  let repo: GitRepo;
  let ref: Repository;
  let root: string;
  const attempt = { job: { attempts: 1, max_attempts: 3 } as any };
  const apply = (sha: string) =>
    runApplyEnvironment(h.deps, { repo: ref, environment: 'demo', sha, trigger: 'test' }, attempt);
  const drift = async (heal: boolean) => {
    await runDriftEnvironment(h.deps, { repo: ref, environment: 'demo', heal, trigger: 'schedule test' });
    await h.reporter.flush({ timeoutMs: 60_000 });
    const runs = await h.deps.store.listRuns({ repository: 'acme/infra', environment: 'demo' });
    return runs.find((r) => r.kind === 'drift')!;
  };
  const recorded = async () =>
    Object.fromEntries((await h.deps.store.recordedNodes('acme/infra', 'demo')).map((n) => [n.path, n]));
  const issues = () => h.github.state.issues.filter((i) => i.labels.includes('politburo:drift'));

  before(async () => {
    h = await startJobsHarness();
    root = await mkdtemp(path.join(os.tmpdir(), 'politburo-drift-fault-'));
    repo = await GitRepo.create({ 'politburo.yml': description(root, 'v1') });
    ref = { kind: 'github', owner: 'acme', name: 'infra', cloneUrl: repo.dir, defaultBranch: 'main' };
  });
  after(async () => {
    await h?.stop();
    await rm(root, { recursive: true, force: true });
  });

  test('every node is checked at its own commit; web-2 drift is found, reported and healed as X describes it', async () => {
    const a = await repo.head();
    await apply(a);
    await writeFile(path.join(root, 'break-web-1'), '');
    const x = await repo.commit({ 'politburo.yml': description(root, 'v2') }, 'v2');
    await apply(x);
    const rec = await recorded();
    assert.deepEqual(
      [rec['web-1'].state, rec['web-1'].lastAppliedCommit, rec['web-2'].state, rec['web-2'].lastAppliedCommit],
      ['failed', a, 'ready', x],
    );
    const env = (await h.deps.store.environments('acme/infra')).find((e) => e.environment === 'demo')!;
    assert.equal(env.lastCommit, a, 'X did not fully apply: the last fully applied commit is A');
    await rm(path.join(root, 'break-web-1'));
    await writeFile(path.join(root, 'web-2'), 'tampered\n'); // someone changed web-2 by hand

    const run = await drift(false);
    assert.equal(run.status, 'succeeded');
    assert.deepEqual(run.summary, { ready: 4, drifted: 1, failed: 0, blocked: 0 }, 'all five nodes checked');
    const checked = await h.deps.store.nodeRuns(run.id);
    assert.deepEqual(
      checked.map((n) => n.path).sort(),
      ['database/master', 'database/replica', 'lb', 'web-2'],
      'settled nodes recorded; failed web-1 left to the next apply',
    );
    assert.equal((await recorded())['web-2'].state, 'drifted');
    assert.equal((await recorded())['web-1'].state, 'failed');
    const [issue] = issues();
    assert.equal(issue?.state, 'open', 'the drift issue is opened');
    assert.match(issue.body, /`web-2` \| local \| drifted \| `release written`/);

    // Heal: web-2 is met as X (its own commit) describes it, not as A does.
    const healed = await drift(true);
    assert.equal(healed.summary?.healed, 1);
    assert.equal(await readFile(path.join(root, 'web-2'), 'utf8'), 'ref=v2\n');
    const after = await recorded();
    assert.deepEqual(
      [after['web-2'].state, after['web-2'].lastAppliedCommit, after['web-1'].state],
      ['ready', x, 'failed'],
    );
    assert.equal(issues()[0].state, 'closed', 'every node checked, no drift left: the issue is closed');
    assert.deepEqual(h.github.violations, []);
  });

  test('nodes that cannot be checked are named with why; the issue stays open and the check is not "no drift"', async () => {
    await writeFile(path.join(root, 'web-2'), 'tampered\n');
    await drift(false);
    assert.equal(issues().at(-1)!.state, 'open', 'drift again: an issue is open');
    // queue is added but its first apply fails (never applied); lb's commit is not in the repository any more.
    await writeFile(path.join(root, 'break-queue'), '');
    const y = await repo.commit({ 'politburo.yml': description(root, 'v2', { queue: true }) }, 'queue');
    await apply(y);
    assert.equal((await recorded()).queue.state, 'failed');
    await h.pool.query(`UPDATE nodes SET last_applied_commit = $1 WHERE path = 'lb'`, ['f'.repeat(40)]);
    await writeFile(path.join(root, 'web-2'), 'ref=v2\n'); // the drift is undone by hand: nothing drifted now

    const run = await drift(false);
    assert.equal(run.status, 'failed', 'a check that could not look at every node does not succeed');
    assert.equal(run.summary?.unchecked, 2);
    assert.equal(run.summary?.drifted, 0);
    const issue = issues().at(-1)!;
    assert.equal(issue.state, 'open', 'not closed as if all were fine');
    assert.match(issue.body, /could not check 2 nodes/);
    assert.match(issue.body, /`queue` \| local \| never applied \(recorded failed/);
    assert.match(
      issue.body,
      /`lb` \| local \| applied from fffffff, whose description cannot be loaded: .*not in the repository/,
    );
    assert.equal((await h.pool.query(`SELECT open FROM drift_issues WHERE environment = 'demo'`)).rows[0].open, true);
    assert.deepEqual(h.github.violations, []);
  });

  test('the last applied commit lost from the repository: the check runs from the branch head and names what it could not check', async () => {
    const lost = 'e'.repeat(40);
    await h.pool.query(`UPDATE environments SET last_applied_commit = $1 WHERE name = 'demo'`, [lost]);
    await h.pool.query(`UPDATE nodes SET last_applied_commit = $1 WHERE path = 'database/master'`, [lost]);
    const run = await drift(false);
    assert.equal(run.commit, await repo.head(), 'checked from the branch head');
    assert.equal(run.status, 'failed');
    assert.equal(run.summary?.unchecked, 3, 'database/master, lb and queue');
    const issue = issues().at(-1)!;
    assert.equal(issue.state, 'open');
    assert.match(issue.body, /`database\/master` \| local \| applied from eeeeeee, whose description cannot be loaded/);
    assert.deepEqual(h.github.violations, []);
  });

  test('a host that cannot be checked (its check times out) is reported failed, leaves no "configuring" record, and keeps the issue open', async () => {
    await writeFile(path.join(root, 'hang-replica'), '');
    const before = (await recorded())['database/replica'];
    const run = await drift(false);
    await rm(path.join(root, 'hang-replica'));
    assert.equal(run.status, 'failed');
    assert.equal(run.summary?.failed, 1);
    const nodeRuns = await h.deps.store.nodeRuns(run.id);
    assert.deepEqual(
      nodeRuns.filter((n) => n.state === 'configuring' || n.finishedAt === null).map((n) => n.path),
      [],
      'no node_run left in progress',
    );
    assert.equal(
      nodeRuns.some((n) => n.path === 'database/replica'),
      false,
      'what could not be checked is reported, not recorded',
    );
    assert.deepEqual(
      [(await recorded())['database/replica'].state, (await recorded())['database/replica'].reason],
      [before.state, before.reason ?? null],
    );
    const issue = issues().at(-1)!;
    assert.equal(issue.state, 'open');
    assert.match(issue.body, /`database\/replica` \| local \| failed \| `config written`/);
  });
});
