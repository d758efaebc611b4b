/**
 * The plan-pull-request job draws the affected part of the dependency graph in the sticky comment it posts to
 * GitHub (the OpenAPI-validating fake): a real description in a real repository, planned against the database.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { runPlanPullRequest } from '../../../../controller/jobs/plan-pull-request.js';
import type { Repository } from '../../../../kernel/repository.js';
import { startJobsHarness, type JobsHarness } from './jobs-harness.js';
import { GitRepo } from '../../../helpers/git-repo.js';
import { loadDescription } from '../../../../schema/load-description.js';

function yaml(webRef: string): string {
  return `politburo: 1
blueprints:
  shop:
    params: { ref: '1' }
    resources:
      database:
        resources:
          master:
            tasks:
              - { name: pg, met: 'true', meet: 'true' }
      cache:
        tasks:
          - { name: redis, met: 'true', meet: 'true' }
      web:
        count: 2
        depends_on: [database/master, cache]
        tasks:
          - { name: app, met: 'test -f /tmp/app-\${params.ref}', meet: 'true' }
      lb:
        depends_on: [web]
        tasks:
          - { name: haproxy, met: 'true', meet: 'true' }
      monitoring:
        tasks:
          - { name: prometheus, met: 'true', meet: 'true' }
environments:
  production:
    blueprint: shop
    params: { ref: '${webRef}' }
    hosts: { database/master: local, cache: local, web: local, lb: local, monitoring: local }
`;
}

let h: JobsHarness;
let repo: GitRepo;
let ref: Repository;

before(async () => {
  h = await startJobsHarness();
  repo = await GitRepo.create({ 'politburo.yml': yaml('1') });
  ref = { kind: 'github', owner: 'acme', name: 'shop', cloneUrl: repo.dir, defaultBranch: 'main' };
  // The base is applied: every node recorded ready with the spec it has at the base.
  const loaded = await loadDescription({ dir: repo.dir });
  assert.ok(loaded.ok);
  for (const n of loaded.description.environments.get('production')!.nodes)
    await h.deps.store.updateNode('acme/shop', 'production', n.path, {
      state: 'ready',
      host: 'local',
      applied: { specHash: n.specHash, tasks: n.tasks, commit: await repo.head('main') },
    });
});
after(async () => {
  await h?.stop();
});

test('the sticky comment shows the changed web nodes with what they wait for and what waits for them', async () => {
  const base = await repo.head('main');
  await repo.git('checkout', '-q', '-b', 'pr');
  const head = await repo.commit({ 'politburo.yml': yaml('2') }, 'web ref 2');
  await repo.git('checkout', '-q', 'main');
  await runPlanPullRequest(h.deps, {
    repo: ref,
    pullNumber: 7,
    live: false,
    trigger: 'test',
    headSha: head,
    baseSha: base,
  });
  await h.reporter.flush({ timeoutMs: 60_000 });
  const comments = h.github.state.comments.filter((c) => c.issue_number === 7);
  assert.equal(comments.length, 1);
  const body = comments[0].body as string;
  const block = /```mermaid\n([\s\S]*?)\n```/.exec(body)?.[1];
  assert.ok(block, `a mermaid block in:\n${body}`);
  const labels = [...block.matchAll(/\["([^"]*)"\]/g)].map((m) => m[1].split('<br/>'));
  const boxes = labels.filter((l) => l.length === 3).map(([name, , action]) => `${name} ${action}`);
  // Only the web nodes change; monitoring has no dependency link to them and is left out.
  assert.deepEqual(boxes.sort(), [
    'cache unchanged',
    'lb unchanged',
    'master unchanged',
    'web-1 update',
    'web-2 update',
  ]);
  assert.match(block, /subgraph g\d+\["database"\]\n {4}n\d+\["master<br\/>/);
  assert.match(block, /classDef update /);
  assert.equal((block.match(/ --> /g) ?? []).length, 6, 'master and cache → web-1, web-2; web-1, web-2 → lb');
  assert.ok(body.length <= 65_536);
});
