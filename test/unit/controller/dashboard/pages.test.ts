// The dashboard's pages as HTML: status at a glance, drift outcomes in words, the success bar, the timeline grouped by
// host, accessibility landmarks, and escaping of every field a repository, a commit or a task output controls.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { raw } from '../../../../controller/dashboard/html.js';
import { environmentPage, rateBar, type EnvironmentView } from '../../../../controller/dashboard/environment-page.js';
import { environmentsPage } from '../../../../controller/dashboard/environments-page.js';
import { runPage } from '../../../../controller/dashboard/run-page.js';
import { runsPage } from '../../../../controller/dashboard/runs-page.js';
import { timelineHtml } from '../../../../controller/dashboard/timeline.js';
import { releasedBy, runBadge } from '../../../../controller/dashboard/widgets.js';
import { outcomeFor, syncState, type EnvironmentStatus } from '../../../../controller/dashboard/status-data.js';
import type { NodeRunRecord, RunRecord } from '../../../../kernel/types.js';

const EVIL = '<img src=x onerror=alert(1)>"\'&';
const ESCAPED = '&lt;img src=x onerror=alert(1)&gt;&quot;&#39;&amp;';

const run = (over: Partial<RunRecord> = {}): RunRecord => ({
  id: '7',
  repository: 'acme/infra',
  environment: 'production',
  commit: '1a2b3c4d5e6f',
  kind: 'apply',
  status: 'succeeded',
  trigger: 'push',
  startedAt: '2026-01-01T10:00:00.000Z',
  finishedAt: '2026-01-01T10:01:40.000Z',
  summary: { ready: 2 },
  ...over,
});

const status = (over: Partial<EnvironmentStatus> = {}): EnvironmentStatus => ({
  repository: 'acme/infra',
  environment: 'production',
  branch: 'main',
  head: { sha: '9a3400f0000', seenAt: '2026-01-02T00:00:00.000Z', source: 'push' },
  applied: 'f2aa1380000',
  sync: 'out-of-sync',
  described: true,
  lastDrift: { runId: '12', at: '2026-01-01T12:00:00.000Z', status: 'succeeded', drifted: 2, healed: 0 },
  policy: { apply: 'manual', suspend: false, commit: 'f2aa1380000' },
  waiting: [{ commit: '9a3400f0000', since: '2026-01-02T00:00:01.000Z', planSummary: '1 to update' }],
  released: [{ commit: 'f2aa1380000', by: 'alice', at: '2026-01-01T09:00:00.000Z' }],
  deployment: { url: 'https://github.com/acme/infra/deployments/production', state: 'success', commit: 'f2aa1380000' },
  ...over,
});

const view = (over: Partial<EnvironmentView> = {}): EnvironmentView => ({
  repository: 'acme/infra',
  environment: 'production',
  svg: '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10" viewBox="0 0 10 10"></svg>',
  fromDescription: true,
  nodes: [
    {
      path: 'web-1',
      host: '10.0.0.1',
      state: 'ready',
      reason: null,
      lastAppliedCommit: 'f2aa1380000',
      lastRunId: '7',
      updatedAt: '2026-01-01T10:00:00.000Z',
    } as EnvironmentView['nodes'][number],
  ],
  definedOnly: [{ path: 'web-2', host: null }],
  rates: [{ task: 'app deployed', runs: 4, succeeded: 4 }],
  runs: [run()],
  status: status(),
  ...over,
});

test('a drift check that found drift says "drift found", never a plain succeeded; healed and clean ones say so', () => {
  assert.match(String(runBadge(run({ kind: 'drift', summary: { ready: 3, drifted: 2 } }))), />drift found</);
  assert.match(
    String(runBadge(run({ kind: 'drift', summary: { ready: 3, drifted: 0, healed: 1 } }))),
    />drift healed</,
  );
  assert.match(String(runBadge(run({ kind: 'drift', summary: { ready: 3, drifted: 0 } }))), />no drift</);
  assert.match(String(runBadge(run({ kind: 'drift', status: 'failed' }))), />failed</);
  assert.match(String(runBadge(run())), />succeeded</);
  const page = runsPage([run({ kind: 'drift', summary: { drifted: 1 } })], {});
  assert.match(page, /class="state run-drift-found"[^>]*>drift found</);
  assert.doesNotMatch(page, />succeeded</);
});

test('the success bar: its fill sits inside its track and covers it at 100%', () => {
  assert.equal(
    String(rateBar(100)),
    '<span class="rate-bg" aria-hidden="true"><span class="rate" style="width:100%"></span></span>100%',
  );
  assert.match(String(rateBar(140)), /width:100%/);
  const page = environmentPage(view());
  // The fill is positioned over the track (absolute inside a relative, clipped box), not laid out below it.
  assert.match(page, /\.rate-bg\{position:relative;[^}]*overflow:hidden\}/);
  assert.match(page, /\.rate\{position:absolute;left:0;top:0;bottom:0;/);
});

test('environment page: status at a glance — sync with the commits, health, drift, policy, waiting, releases, deployment', () => {
  const page = environmentPage(view());
  assert.match(page, /<span class="state sync-out-of-sync"[^>]*>out of sync<\/span>/);
  assert.match(page, /applied <span class="mono">f2aa138<\/span>, head of main <span class="mono">9a3400f<\/span>/);
  assert.match(page, /state-ready[^>]*>ready<\/span> 1/);
  assert.match(page, /state-defined[^>]*>defined<\/span> 1/);
  assert.match(page, /class="state drift-found"[^>]*>drift found \(2\)<\/span> <a href="\/runs\/12">#12<\/a>/);
  assert.match(page, /class="state policy-manual"[^>]*>manual<\/span>/);
  assert.match(
    page,
    /<span class="mono">9a3400f<\/span> waiting since <time datetime="2026-01-02T00:00:01.000Z">2026-01-02 00:00:01Z<\/time>/,
  );
  assert.match(page, /<td class="mono">f2aa138<\/td><td>alice<\/td>/);
  assert.match(page, /<a href="https:\/\/github.com\/acme\/infra\/deployments\/production">deployments on GitHub<\/a>/);
  // Without the status reader the page still renders, with health only.
  const bare = environmentPage(view({ status: undefined }));
  assert.match(bare, /<h2>Health<\/h2>/);
  assert.doesNotMatch(bare, /<h2>Sync<\/h2>/);
});

test('environments page: sync and policy per environment, and those described but never applied', () => {
  const page = environmentsPage(
    [
      {
        repository: 'acme/infra',
        environment: 'production',
        lastCommit: 'f2aa1380000',
        updatedAt: '2026-01-01T10:00:00.000Z',
        nodes: 2,
        states: { ready: 1, failed: 1 },
      },
    ],
    [],
    [
      status(),
      status({
        environment: 'staging',
        applied: null,
        sync: 'never-applied',
        waiting: [],
        policy: null,
        lastDrift: null,
      }),
    ],
  );
  assert.match(page, /<span class="state sync-out-of-sync"[^>]*>out of sync<\/span>/);
  assert.match(page, /<h2>Described, never applied<\/h2>/);
  assert.match(
    page,
    /<strong>staging<\/strong><\/a><\/td><td class="muted">acme\/infra<\/td><td><span class="state sync-never-applied"/,
  );
  assert.match(page, /1 since <time datetime="2026-01-02T00:00:01.000Z">2026-01-02 00:00:01Z<\/time>/);
  // Without statuses (no database at hand) the page is as before.
  assert.doesNotMatch(environmentsPage([], [], undefined), /never applied/);
});

test('run page: released by, deployment link, timeline lanes per node grouped by host', () => {
  const nodes: NodeRunRecord[] = ['a', 'b', 'c'].map((p, i) => ({
    runId: '7',
    path: p,
    host: i < 2 ? 'local' : '10.0.0.3',
    state: i === 1 ? 'failed' : 'ready',
    reason: null,
    startedAt: `2026-01-01T10:00:${String(i * 10).padStart(2, '0')}.000Z`,
    finishedAt: `2026-01-01T10:00:${String(i * 10 + 20).padStart(2, '0')}.000Z`,
    tasks: [],
    log: '',
  }));
  const page = runPage(run({ trigger: '/politburo apply production by alice (d-1)' }), nodes, {
    deploymentUrl: 'https://github.com/acme/infra/deployments/production',
  });
  assert.match(page, /<tr><th>Released by<\/th><td>alice<\/td><\/tr>/);
  assert.match(page, /href="https:\/\/github.com\/acme\/infra\/deployments\/production"/);
  const timeline = String(timelineHtml(run(), nodes));
  const local = timeline.slice(
    timeline.indexOf('aria-label="host local"'),
    timeline.indexOf('aria-label="host 10.0.0.3"'),
  );
  assert.equal((local.match(/class="lane"/g) ?? []).length, 2, 'two nodes of one host: two lanes');
  assert.match(local, /title="b: failed in 20s"[^>]*>failed · 20s<\/a>/, 'each bar says its state in words');
  // What the live script finds to add lanes and extend bars (assets/live-client.ts).
  assert.match(timeline, /<div class="timeline" data-timeline>/);
  assert.match(timeline, /<div class="host-group" role="group" aria-label="host local" data-timeline-host="local">/);
  assert.match(timeline, /<div class="lane" role="listitem" data-lane="a">/);
  assert.match(timeline, /<div class="muted" data-timeline-span [^>]*>0 — /);
  const empty = String(timelineHtml(run({ finishedAt: null }), []));
  assert.match(empty, /<p class="muted" data-timeline-empty>No node has started in this run\.<\/p>/);
  assert.match(empty, /<div class="timeline" data-timeline hidden>/);
  assert.equal(releasedBy('push 1a2b3c4 to main by bob'), null);
  assert.equal(releasedBy('/politburo apply production by carol via dashboard'), 'carol via dashboard');
});

test('every page: a skip link to main, a labelled navigation, a viewport, visible focus', () => {
  for (const page of [environmentPage(view()), environmentsPage([], []), runsPage([], {}), runPage(run(), [])]) {
    assert.match(page, /<a class="skip" href="#main">Skip to content<\/a>/);
    assert.match(page, /<nav aria-label="Main">/);
    assert.match(page, /<main id="main" tabindex="-1" data-live="\/events[^"]*">/);
    assert.match(page, /name="viewport" content="width=device-width,initial-scale=1"/);
    assert.match(page, /:focus-visible\{outline:3px solid/);
  }
  // Tables scroll inside their own box instead of widening the page; the graph scrolls and has a size choice.
  const page = environmentPage(view());
  assert.match(page, /<div class="table-wrap" role="region" aria-label="Nodes" tabindex="0"><table class="nodes">/);
  assert.match(page, /<input type="radio" name="zoom" id="zoom-fit" checked><label for="zoom-fit">fit<\/label>/);
  assert.match(page, /<div class="graph" role="region" aria-label="Dependency graph of production" tabindex="0">/);
});

test('escaping: every field a repository, a commit or a task output controls', () => {
  const evilRun = run({
    repository: EVIL,
    environment: EVIL,
    commit: EVIL,
    trigger: `/politburo apply x by ${EVIL}`,
  });
  const nodes: NodeRunRecord[] = [
    {
      runId: '7',
      path: EVIL,
      host: EVIL,
      state: 'failed',
      reason: EVIL,
      startedAt: '2026-01-01T10:00:00.000Z',
      finishedAt: '2026-01-01T10:00:10.000Z',
      tasks: [{ name: EVIL, outcome: 'failed', message: EVIL }],
      log: EVIL,
    },
  ];
  const evilStatus = status({
    repository: EVIL,
    environment: EVIL,
    branch: EVIL,
    head: { sha: EVIL, seenAt: '2026-01-02T00:00:00.000Z', source: 'push' },
    applied: EVIL,
    waiting: [{ commit: EVIL, since: '2026-01-02T00:00:00.000Z', planSummary: EVIL }],
    released: [{ commit: EVIL, by: EVIL, at: '2026-01-01T00:00:00.000Z' }],
    deployment: { url: `https://github.com/${EVIL}`, state: EVIL, commit: EVIL },
  });
  const pages = [
    runPage(evilRun, nodes, { deploymentUrl: `https://x/${EVIL}` }),
    runsPage([evilRun], { environment: EVIL }),
    environmentsPage(
      [{ repository: EVIL, environment: EVIL, lastCommit: EVIL, updatedAt: EVIL, nodes: 1, states: { ready: 1 } }],
      [evilRun],
      [evilStatus, { ...evilStatus, environment: `${EVIL}2` }],
    ),
    environmentPage(
      view({
        repository: EVIL,
        environment: EVIL,
        svg: null,
        nodes: [
          {
            path: EVIL,
            host: EVIL,
            state: 'ready',
            reason: EVIL,
            lastAppliedCommit: EVIL,
            lastRunId: EVIL,
            updatedAt: EVIL,
          } as EnvironmentView['nodes'][number],
        ],
        definedOnly: [{ path: EVIL, host: EVIL }],
        rates: [{ task: EVIL, runs: 1, succeeded: 1 }],
        runs: [evilRun],
        status: evilStatus,
      }),
    ),
  ];
  for (const page of pages) {
    assert.ok(!page.includes('<img'), 'no markup from the data');
    assert.ok(page.includes('&lt;img') || page.includes('%3Cimg'), 'the data is shown, escaped');
  }
  assert.ok(pages[0].includes(ESCAPED));
  assert.ok(pages[3].includes(ESCAPED));
});

test('sync rule: applied head, a head that changes nothing here, waiting, applying, suspended, unknown', () => {
  const base = { applied: 'a', environment: 'production', waiting: [], running: [], suspended: false };
  assert.equal(syncState({ ...base, head: { sha: 'a', outcome: null } }), 'in-sync');
  assert.equal(syncState({ ...base, head: { sha: 'b', outcome: 'unchanged' } }), 'in-sync');
  assert.equal(syncState({ ...base, head: { sha: 'b', outcome: 'queued: staging' } }), 'in-sync');
  assert.equal(syncState({ ...base, head: { sha: 'b', outcome: 'queued: staging, production' } }), 'applying');
  assert.equal(syncState({ ...base, head: { sha: 'b', outcome: 'production waits for release' } }), 'waiting-release');
  assert.equal(syncState({ ...base, head: { sha: 'b', outcome: 'production is suspended' } }), 'suspended');
  assert.equal(syncState({ ...base, head: { sha: 'b', outcome: null } }), 'out-of-sync');
  assert.equal(syncState({ ...base, head: { sha: 'b', outcome: 'invalid' } }), 'out-of-sync');
  assert.equal(syncState({ ...base, head: null }), 'unknown');
  assert.equal(syncState({ ...base, applied: null, head: null }), 'never-applied');
  assert.equal(outcomeFor('queued: production-eu; production waits for release', 'production'), 'waiting');
});

test('live updates find what they change: run, node, runs-table and environment attributes; slots for actions and account', () => {
  const nodes: NodeRunRecord[] = [
    {
      runId: '7',
      path: 'db/a',
      host: 'local',
      state: 'configuring',
      reason: null,
      startedAt: null,
      finishedAt: null,
      tasks: [],
      log: '',
    },
  ];
  const actions = raw('<form data-action="cancel"></form>');
  const account = raw('<span class="account">alice</span>');
  const page = runPage(run({ status: 'running', finishedAt: null }), nodes, { actions, account });
  assert.match(
    page,
    /<h1>Run #7: .*data-run-status="7".*<\/h1><div data-live-region="actions"><form data-action="cancel"><\/form><\/div>/,
  );
  assert.match(page, /<span class="account">alice<\/span><\/header>/);
  assert.match(page, /<td data-run-finished="7">/);
  assert.match(page, /<td data-run-summary="7">/);
  assert.match(page, /<div data-nodes><section id="node-db_a" data-node="db\/a">/);
  assert.match(page, /data-node-state="db\/a"/);
  assert.match(page, /<span class="muted mono" data-node-host="db\/a">local<\/span>/);
  assert.match(page, /<span data-node-task="db\/a"><\/span>/);
  assert.match(page, /<p data-node-reason="db\/a"><\/p>/);
  assert.match(page, /<table class="tasks" hidden>.*<tbody data-tasks="db\/a"><\/tbody>/s);
  assert.match(
    page,
    /<details data-log-details="db\/a" hidden><summary>Log \(0 lines\)<\/summary><pre data-log="db\/a" data-log-length="0"><\/pre>/,
  );
  const list = runsPage([run()], { environment: 'production' }, { account });
  assert.match(
    list,
    /<tbody data-runs data-runs-show-environment="true" data-runs-environment="production"><tr data-run-id="7">/,
  );
  assert.match(list, /<td data-run-took="7">1m 40s<\/td><td data-run-summary="7">2 ready<\/td>/);
  assert.match(list, /<span class="account">alice<\/span><\/header>/);
  const front = environmentsPage(
    [
      {
        repository: 'acme/infra',
        environment: 'production',
        lastCommit: 'abc',
        updatedAt: '2026-01-01T00:00:00.000Z',
        nodes: 2,
        states: { ready: 2 },
      },
    ],
    [],
  );
  assert.match(front, /<tr data-env-repository="acme\/infra" data-env-name="production">/);
  assert.match(front, /<td data-env-nodes>2<\/td><td data-env-states>/);
  assert.match(front, /data-live="\/events"/);
  const env = environmentPage(view({ actions, account }));
  assert.match(env, /<\/h1><div data-live-region="actions"><form data-action="cancel"><\/form><\/div>/);
  assert.match(env, /<tr id="node-web-1" data-node-row="web-1" data-node-recorded>/);
  assert.match(
    env,
    /<td data-node-reason="web-1"><\/td><td class="mono" data-node-commit="web-1">f2aa138<\/td><td data-node-run="web-1">/,
  );
  assert.match(env, /data-live="\/events\/environments\/acme%2Finfra\/production"/);
});
