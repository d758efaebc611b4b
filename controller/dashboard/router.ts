/**
 * The dashboard (docs/configuration.md, docs/controller.md "The dashboard"): server-rendered HTML mounted at `/`.
 * Environments with their state, each environment's dependency graph coloured by state and its nodes, runs with
 * per-host timelines and logs, and each task's success rate; JSON endpoints under /api for tools. Who sees what is
 * decided per repository (controller/dashboard/auth.ts, permissions.ts); people signed in with GitHub who may write
 * act through POST forms (controller/dashboard/actions.ts).
 */
import { createHash } from 'node:crypto';
import express, { type Request, type RequestHandler, type Response } from 'express';
import type { LifecycleState, ResolvedEnvironment, StateStore } from '../../kernel/types.js';
import { buildEnvironmentGraph, recordedGraph, type EnvironmentGraph } from '../../render/graph/environment-graph.js';
import { renderSvg } from '../../render/graph/render-svg.js';
import { hostLabel } from '../../reconciler/plan-environment.js';
import type pg from 'pg';
import type { JobDeps } from '../jobs/job-deps.js';
import type { Logger } from '../logger.js';
import {
  environmentRepo,
  listActions,
  pendingRelease,
  runOwner,
  type DashboardActionKind,
} from '../store/dashboard.js';
import {
  accountLine,
  actionsLog,
  environmentActionsPanel,
  performAction,
  recordRefusal,
  runActionsPanel,
  ACTION_LABELS,
  type ActionResult,
  type ActionTarget,
} from './actions.js';
import { dashboardAuth, isPerson, viewerOf, type Viewer } from './auth.js';
import { forgeryRefusal, headerForgeryRefusal } from './csrf.js';
import { githubTokens } from './github-tokens.js';
import { html, page, type Html } from './html.js';
import { createLiveRouter } from './live.js';
import { addSignInRoutes, type SignInSettings } from './oauth.js';
import { createStatusReader, type StatusReader } from './status-data.js';
import { terminatingNodes } from '../store/live-node-paths.js';
import { mayAct, mayRead, type Permission } from './permissions.js';
import { environmentsPage, type EnvironmentSummary } from './environments-page.js';
import { environmentPage } from './environment-page.js';
import { environmentUrl, nodeAnchor, runUrl } from './links.js';
import { runPage } from './run-page.js';
import { runsPage } from './runs-page.js';

export interface DashboardDeps {
  store: StateStore;
  /** The environment as described at its last applied commit, for the dependency graph; null when unknown. */
  loadEnvironment?: (repository: string, environment: string) => Promise<ResolvedEnvironment | null>;
  /** Anonymous read-only access (POLITBURO_DASHBOARD_PUBLIC=true). */
  publicRead: boolean;
  /** The token that opens a private dashboard read-only (POLITBURO_DASHBOARD_TOKEN). */
  token?: string;
  /** Sign in with GitHub (GITHUB_CLIENT_ID, GITHUB_CLIENT_SECRET); needs `db`. */
  signIn?: SignInSettings;
  /**
   * The controller's database: sessions and actions, the status at a glance (status-data.ts) and the live updates'
   * change feed (live.ts). Absent: none of these.
   */
  db?: pg.Pool;
  /** A signed-in person's permission on a repository (cached: controller/dashboard/permissions.ts). */
  permission?: (repository: string, login: string) => Promise<Permission>;
  /** The job ports actions queue through; absent: actions are refused (this process runs no jobs). */
  jobs?: JobDeps;
  /** POLITBURO_PUBLIC_URL: the dashboard's origin for the Origin check of POSTs and the sign-in callback. */
  publicUrl?: string;
  logger?: Logger;
}

/** Above this many nodes the graph is not drawn (laying it out would take seconds); the table still lists them. */
const MAX_DRAWN_NODES = 200;

const SECURITY_HEADERS = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'same-origin',
};

function notFound(req: Request, res: Response, what: string): void {
  if (req.path.startsWith('/api/')) res.status(404).json({ error: what });
  else
    res
      .status(404)
      .type('html')
      .send(page('Not found', html`<h1>Not found</h1><p>${what}</p>`));
}

/** Runs a handler; a failure (e.g. the database is down) becomes a 500 saying so, never a stack trace. */
function handle(fn: (req: Request, res: Response) => Promise<void>): RequestHandler {
  return async (req, res) => {
    res.set(SECURITY_HEADERS);
    // Pages of a signed-in person carry their CSRF token and what they may do: never cached by anyone.
    if (isPerson(viewerOf(res))) res.set('Cache-Control', 'private, no-store');
    try {
      await fn(req, res);
    } catch (err) {
      const message = `could not read the state store: ${err instanceof Error ? err.message : String(err)}`;
      if (req.path.startsWith('/api/')) res.status(500).json({ error: message });
      else
        res
          .status(500)
          .type('html')
          .send(page('Error', html`<h1>Something went wrong</h1><p>${message}</p>`));
    }
  };
}

function countStates(states: LifecycleState[]): Partial<Record<LifecycleState, number>> {
  const out: Partial<Record<LifecycleState, number>> = {};
  for (const s of states) out[s] = (out[s] ?? 0) + 1;
  return out;
}

/** What the viewer may do on a repository: read it (see its environments and runs), act on it. */
interface Access {
  read: boolean;
  act: boolean;
  permission: Permission | null;
}

async function accessTo(deps: DashboardDeps, viewer: Viewer, repository: string): Promise<Access> {
  if (!isPerson(viewer)) return { read: true, act: false, permission: null };
  const permission = deps.permission ? await deps.permission(repository, viewer.login) : 'none';
  // A public dashboard shows everything to everyone, signed in or not.
  return { read: deps.publicRead || mayRead(permission), act: mayAct(permission), permission };
}

/** The repositories among `repositories` the viewer may read. */
async function readable(deps: DashboardDeps, viewer: Viewer, repositories: string[]): Promise<Set<string>> {
  const unique = [...new Set(repositories)];
  const access = await Promise.all(unique.map((r) => accessTo(deps, viewer, r)));
  return new Set(unique.filter((_r, i) => access[i].read));
}

async function visibleTo<T extends { repository: string }>(
  deps: DashboardDeps,
  viewer: Viewer,
  runs: T[],
): Promise<T[]> {
  const ok = await readable(
    deps,
    viewer,
    runs.map((r) => r.repository),
  );
  return runs.filter((r) => ok.has(r.repository));
}

async function environmentSummaries(deps: DashboardDeps, viewer: Viewer): Promise<EnvironmentSummary[]> {
  const { store } = deps;
  const all = await store.environments();
  const ok = await readable(
    deps,
    viewer,
    all.map((e) => e.repository),
  );
  const envs = all.filter((e) => ok.has(e.repository));
  return Promise.all(
    envs.map(async (e) => {
      const nodes = await store.recordedNodes(e.repository, e.environment);
      return { ...e, nodes: nodes.length, states: countStates(nodes.map((n) => n.state)) };
    }),
  );
}

async function describedEnvironment(
  deps: DashboardDeps,
  repository: string,
  environment: string,
): Promise<ResolvedEnvironment | null> {
  if (!deps.loadEnvironment) return null;
  try {
    return await deps.loadEnvironment(repository, environment);
  } catch {
    return null; // a broken or unreachable description must not take the page down: draw from the records instead
  }
}

async function environmentView(
  deps: DashboardDeps,
  repository: string,
  environment: string,
  statusReader?: StatusReader,
) {
  // The status signature is read before the status: a change in between makes the page read again once, never miss it.
  const [recorded, described, rates, runs, known, liveStatus] = await Promise.all([
    deps.store.recordedNodes(repository, environment),
    describedEnvironment(deps, repository, environment),
    deps.store.taskSuccessRates(repository, environment),
    deps.store.listRuns({ repository, environment, limit: 20 }),
    deps.store.environments(repository),
    statusReader?.signature(repository, environment),
  ]);
  const status = statusReader
    ? await statusReader.environment(repository, environment, described?.branch ?? undefined)
    : undefined;
  // Described at a handled push but never applied: shown too (status-data.ts).
  if (!described && !known.some((e) => e.environment === environment) && !status?.described) return null;
  const recordedPaths = new Set(recorded.map((n) => n.path));
  const states = new Map(recorded.map((n) => [n.path, n.state]));
  // A node a running apply terminated is still described at the last applied commit: shown terminated, not defined.
  const terminating =
    deps.db && runs.some((r) => r.status === 'running')
      ? await terminatingNodes(deps.db, repository, environment)
      : new Set<string>();
  for (const p of terminating) if (!recordedPaths.has(p)) states.set(p, 'terminated');
  const definedOnly = (described?.nodes ?? [])
    .filter((n) => !recordedPaths.has(n.path) && !terminating.has(n.path))
    .map((n) => ({ path: n.path, host: hostLabel(n.host) }));
  const graph = described ? buildEnvironmentGraph(described, { states }) : recordedGraph(environment, recorded);
  const drawable = graph.nodes.length > 0 && graph.nodes.length <= MAX_DRAWN_NODES;
  const svg = drawable ? cachedSvg(graph) : null;
  return {
    repository,
    environment,
    svg,
    tooManyNodes: graph.nodes.length > MAX_DRAWN_NODES,
    fromDescription: described !== null,
    nodes: recorded,
    definedOnly,
    rates,
    runs,
    status,
    liveStatus,
  };
}

/**
 * Laying out a graph costs up to a second: drawings are kept by content, so an unchanged environment redraws for free.
 */
const svgCache = new Map<string, string>();
const SVG_CACHE_SIZE = 32;

function cachedSvg(graph: EnvironmentGraph): string {
  const key = createHash('sha256').update(JSON.stringify(graph)).digest('hex');
  const hit = svgCache.get(key);
  if (hit !== undefined) return hit;
  const svg = renderSvg(graph, { nodeHref: (p) => `#${nodeAnchor(p)}` });
  if (svgCache.size >= SVG_CACHE_SIZE) svgCache.delete(svgCache.keys().next().value!);
  svgCache.set(key, svg);
  return svg;
}

function runsFilter(req: Request): { repository?: string; environment?: string } {
  const q = (k: string) => (typeof req.query[k] === 'string' && req.query[k] ? (req.query[k] as string) : undefined);
  return { repository: q('repository'), environment: q('environment') };
}

function refusedPage(res: Response, status: number, what: string, message: string, back: string): void {
  res
    .status(status)
    .type('html')
    .send(
      page(
        `${what} refused`,
        html`<h1>${what} refused</h1><p class="refused" data-outcome="refused">${message}</p><p><a href="${back}">Back</a></p>`,
      ),
    );
}

/** The dashboard's router, and `close` for shutdown (ends the live streams and their database connection). */
export type DashboardRouter = express.Router & { close(): Promise<void> };

/** The dashboard router; every route requires read access (see controller/dashboard/auth.ts). */
export function createDashboardRouter(deps: DashboardDeps): DashboardRouter {
  const router = express.Router();
  const status = deps.db ? createStatusReader(deps.db) : undefined;
  const signIn = deps.signIn && deps.db ? deps.signIn : undefined;
  const auth = dashboardAuth({
    publicRead: deps.publicRead,
    token: deps.token,
    sessions: signIn ? deps.db : undefined,
    // People's own GitHub tokens on the JSON API: GitHub says whose they are, as at sign-in.
    githubTokens: signIn ? githubTokens({ apiUrl: signIn.apiUrl }) : undefined,
  });
  const { store } = deps;
  if (signIn && deps.db) {
    router.use('/auth', (_req, res, next) => {
      res.set(SECURITY_HEADERS);
      next();
    });
    addSignInRoutes(router, { db: deps.db, settings: signIn, logger: deps.logger });
  }
  // Live updates (docs/controller.md, "Live updates"): the same viewer and the same per-repository read check.
  const live = deps.db
    ? createLiveRouter({
        pool: deps.db,
        auth,
        canRead: async (req, repository) =>
          req.res ? (await accessTo(deps, viewerOf(req.res), repository)).read : false,
        log: (msg) => deps.logger?.warn(msg),
      })
    : undefined;
  if (live) router.use(live);
  const form = express.urlencoded({ extended: false, limit: '8kb', parameterLimit: 20 });
  const jsonParser = express.json({ limit: '8kb' });
  // A body that cannot be read is the caller's mistake, answered in JSON (never the default error page).
  const json: RequestHandler = (req, res, next) =>
    jsonParser(req, res, (err?: unknown) => {
      if (!err) return next();
      res.status(400).json({
        outcome: 'refused',
        reason: `the request body is not JSON of at most 8 KiB (${(err as Error).message})`,
      });
    });

  const account = (req: Request, res: Response): Html => {
    const viewer = viewerOf(res);
    return accountLine(viewer.kind === 'user' ? viewer : null, !!signIn, req.originalUrl);
  };
  const sessionOf = (res: Response) => {
    const viewer = viewerOf(res);
    return viewer.kind === 'user' ? viewer.session : null;
  };
  const missing = (req: Request, res: Response, what: string) => notFound(req, res, what);

  router.get(
    '/',
    auth,
    handle(async (req, res) => {
      const viewer = viewerOf(res);
      // Read before the statuses: a change in between makes the page read itself again once, never miss it.
      const liveStatus = await status?.overviewSignature();
      const [envs, runs, statuses] = await Promise.all([
        environmentSummaries(deps, viewer),
        store.listRuns({ limit: 50 }),
        status?.overview(),
      ]);
      const shown = (await visibleTo(deps, viewer, runs)).slice(0, 15);
      const visibleStatuses = statuses && (await visibleTo(deps, viewer, statuses));
      res.type('html').send(environmentsPage(envs, shown, visibleStatuses, { account: account(req, res), liveStatus }));
    }),
  );
  router.get(
    '/environments/:repository/:environment',
    auth,
    handle(async (req, res) => {
      const repository = String(req.params.repository);
      const environment = String(req.params.environment);
      const access = await accessTo(deps, viewerOf(res), repository);
      const view = access.read ? await environmentView(deps, repository, environment, status) : null;
      if (!view) return missing(req, res, `No environment ${environment} in ${repository}.`);
      const session = sessionOf(res);
      const [pending, log] = await Promise.all([
        access.act && deps.db && deps.jobs ? pendingRelease(deps.db, repository, environment) : null,
        deps.db && session ? listActions(deps.db, { repository, environment }) : [],
      ]);
      const actions = environmentActionsPanel(repository, environment, session, access.act, {
        drifted: view.nodes.filter((n) => n.state === 'drifted').length,
        pendingRelease: pending,
      });
      res
        .type('html')
        .send(environmentPage({ ...view, actions: html`${actions}${actionsLog(log)}`, account: account(req, res) }));
    }),
  );
  router.get(
    '/environments/:repository/:environment/graph.svg',
    auth,
    handle(async (req, res) => {
      const repository = String(req.params.repository);
      const access = await accessTo(deps, viewerOf(res), repository);
      const view = access.read ? await environmentView(deps, repository, String(req.params.environment)) : null;
      if (!view || !view.svg)
        return missing(req, res, `No drawing of ${req.params.environment} in ${req.params.repository}.`);
      res.type('image/svg+xml').send(view.svg);
    }),
  );
  router.get(
    '/runs',
    auth,
    handle(async (req, res) => {
      const filter = runsFilter(req);
      const runs = await visibleTo(deps, viewerOf(res), await store.listRuns({ ...filter, limit: 200 }));
      res.type('html').send(runsPage(runs, filter, { account: account(req, res) }));
    }),
  );
  router.get(
    '/runs/:id',
    auth,
    handle(async (req, res) => {
      const run = await store.getRun(String(req.params.id));
      const access = run ? await accessTo(deps, viewerOf(res), run.repository) : null;
      if (!run || !access?.read) return missing(req, res, `No run ${req.params.id}.`);
      const session = sessionOf(res);
      const log =
        deps.db && session
          ? await listActions(deps.db, { repository: run.repository, environment: run.environment, runId: run.id })
          : [];
      const deploymentUrl = (await status?.environment(run.repository, run.environment))?.deployment?.url;
      const owner = run.status === 'running' && deps.db ? await runOwner(deps.db, run.id) : null;
      const cancelRequested =
        owner?.cancelRequestedAt && owner.cancelRequestedBy
          ? { by: owner.cancelRequestedBy, at: owner.cancelRequestedAt }
          : null;
      res.type('html').send(
        runPage(run, await store.nodeRuns(run.id), {
          deploymentUrl,
          account: account(req, res),
          actions: html`${runActionsPanel(run, session, access.act, cancelRequested)}${actionsLog(log)}`,
        }),
      );
    }),
  );

  type Found = { target: ActionTarget; back: string } | null;
  type Person = Extract<Viewer, { login: string }>;

  /** Why this viewer may not act at all (null: a person, who may try). */
  const notAPerson = (viewer: Viewer): string | null => {
    if (isPerson(viewer)) return null;
    if (!signIn) return 'sign in with GitHub is not configured (GITHUB_CLIENT_ID): the dashboard is read-only';
    return viewer.kind === 'token'
      ? 'the shared dashboard token is read-only: sign in with GitHub (or give your own GitHub token) to act'
      : 'anonymous access is read-only: sign in with GitHub (or give your own GitHub token) to act';
  };

  /**
   * What comes after the person passed the forgery checks: the target (unknown, or a repository they may not read:
   * null, answered 404), their permission (refused and recorded), then the action (done, refused or failed: recorded).
   */
  const attempt = async (
    kind: DashboardActionKind,
    viewer: Person,
    found: Found,
  ): Promise<{ status: number; outcome: ActionResult['outcome']; message: string; job?: string } | null> => {
    const access = found ? await accessTo(deps, viewer, found.target.repository) : null;
    if (!found || !access?.read) return null;
    const actionDeps = { db: deps.db!, store, jobs: deps.jobs };
    const log = { login: viewer.login, action: kind, repo: found.target.repository, env: found.target.environment };
    if (!access.act) {
      const message = `${viewer.login} has ${access.permission ?? 'no'} permission on ${found.target.repository}; ${ACTION_LABELS[kind]} needs write`;
      await recordRefusal(actionDeps, viewer.login, found.target, message);
      deps.logger?.info(log, `dashboard action refused: ${message}`);
      return { status: 403, outcome: 'refused', message };
    }
    const result = await performAction(actionDeps, viewer.login, found.target);
    deps.logger?.info(
      { ...log, via: viewer.kind === 'github' ? 'github-token' : 'session' },
      `dashboard action ${result.outcome}: ${result.message}`,
    );
    const status = result.outcome === 'done' ? 200 : result.outcome === 'refused' ? 409 : 500;
    return { status, outcome: result.outcome, message: result.message, job: result.job };
  };

  /** A POST form action: origin, session and CSRF token first, then the target, then permission, then the action. */
  const action = (kind: DashboardActionKind, target: (req: Request) => Promise<Found>): RequestHandler[] => [
    auth,
    form,
    handle(async (req, res) => {
      const viewer = viewerOf(res);
      const what = ACTION_LABELS[kind];
      const back = req.originalUrl.replace(/\/[^/]*$/, '');
      if (viewer.kind !== 'user') return refusedPage(res, 403, what, notAPerson(viewer) ?? 'sign in to act', back);
      const forged = forgeryRefusal(req, viewer.session, deps.publicUrl);
      if (forged) return refusedPage(res, 403, what, forged, back);
      const found = await target(req);
      const done = await attempt(kind, viewer, found);
      if (!done || !found) return missing(req, res, 'No such environment or run.');
      if (done.outcome === 'done') return void res.redirect(303, `${found.back}#actions`);
      refusedPage(res, done.status, what, done.message, found.back);
    }),
  ];

  /**
   * The same action on the JSON API (docs/dashboard.md, "The JSON API"): a signed-in session with its CSRF token in
   * X-CSRF-Token, or a person's own GitHub token; answers `{ action, outcome, message, reason?, run?, job? }`.
   */
  const apiAction = (kind: DashboardActionKind, target: (req: Request) => Promise<Found>): RequestHandler[] => [
    auth,
    json,
    form,
    handle(async (req, res) => {
      const viewer = viewerOf(res);
      const refuse = (status: number, reason: string) =>
        void res.status(status).json({ action: kind, outcome: 'refused', message: reason, reason });
      if (!isPerson(viewer)) return refuse(403, notAPerson(viewer) ?? 'sign in to act');
      if (viewer.kind === 'user') {
        const forged = headerForgeryRefusal(req, viewer.session, deps.publicUrl);
        if (forged) return refuse(403, forged);
      }
      const found = await target(req);
      const done = await attempt(kind, viewer, found);
      if (!done || !found)
        return refuse(404, `no such ${kind === 'rerun' || kind === 'cancel' ? 'run' : 'environment'}`);
      const run = found.target.run;
      res.status(done.status).json({
        action: kind,
        outcome: done.outcome,
        message: done.message,
        ...(done.outcome === 'done' ? {} : { reason: done.message }),
        ...(run ? { run: { id: run.id, url: runUrl(run.id), kind: run.kind, status: run.status } } : {}),
        ...(done.job ? { job: done.job } : {}),
      });
    }),
  ];
  const runTarget = (kind: DashboardActionKind) => async (req: Request) => {
    const id = String(req.params.id);
    const run = /^[1-9]\d{0,18}$/.test(id) ? await store.getRun(id) : null;
    if (!run) return null;
    return {
      target: { action: kind, repository: run.repository, environment: run.environment, run },
      back: runUrl(run.id),
    };
  };
  const environmentTarget = (kind: DashboardActionKind) => async (req: Request) => {
    const repository = String(req.params.repository);
    const environment = String(req.params.environment);
    const known = await store.environments(repository);
    // Applied, or described at a handled push and never applied yet (a manual environment waiting for its release).
    const described = async () => deps.db && (await environmentRepo(deps.db, repository, environment)) !== null;
    if (!known.some((e) => e.environment === environment) && !(await described())) return null;
    const body = req.body as Record<string, unknown> | undefined;
    const sha = typeof body?.sha === 'string' ? body.sha.trim() : undefined;
    return { target: { action: kind, repository, environment, sha }, back: environmentUrl(repository, environment) };
  };
  for (const [prefix, handlers] of [
    ['', action],
    ['/api', apiAction],
  ] as const) {
    router.post(`${prefix}/runs/:id/rerun`, ...handlers('rerun', runTarget('rerun')));
    router.post(`${prefix}/runs/:id/cancel`, ...handlers('cancel', runTarget('cancel')));
    for (const kind of ['check-drift', 'heal', 'release'] as const)
      router.post(
        `${prefix}/environments/:repository/:environment/${kind}`,
        ...handlers(kind, environmentTarget(kind)),
      );
  }

  /** Who the API sees; a signed-in session also gets the CSRF token its POSTs to the API carry. */
  router.get(
    '/api/session',
    auth,
    handle(async (_req, res) => {
      const viewer = viewerOf(res);
      if (viewer.kind === 'user')
        return void res.json({ viewer: 'session', login: viewer.login, csrfToken: viewer.session.csrf });
      if (viewer.kind === 'github') return void res.json({ viewer: 'github-token', login: viewer.login });
      res.set('Cache-Control', 'no-store').json({ viewer: viewer.kind });
    }),
  );

  router.get(
    '/api/environments',
    auth,
    handle(async (_req, res) => {
      const viewer = viewerOf(res);
      const statuses = status ? await visibleTo(deps, viewer, await status.overview()) : undefined;
      res.json({ environments: await environmentSummaries(deps, viewer), ...(statuses ? { statuses } : {}) });
    }),
  );
  router.get(
    '/api/environments/:repository/:environment',
    auth,
    handle(async (req, res) => {
      const repository = String(req.params.repository);
      const access = await accessTo(deps, viewerOf(res), repository);
      const view = access.read ? await environmentView(deps, repository, String(req.params.environment), status) : null;
      if (!view) return notFound(req, res, `no environment ${req.params.environment} in ${req.params.repository}`);
      const { svg: _svg, ...rest } = view;
      res.json(rest);
    }),
  );
  router.get(
    '/api/runs',
    auth,
    handle(async (req, res) => {
      res.json({
        runs: await visibleTo(deps, viewerOf(res), await store.listRuns({ ...runsFilter(req), limit: 200 })),
      });
    }),
  );
  router.get(
    '/api/runs/:id',
    auth,
    handle(async (req, res) => {
      const run = await store.getRun(String(req.params.id));
      const access = run ? await accessTo(deps, viewerOf(res), run.repository) : null;
      if (!run || !access?.read) return notFound(req, res, `no run ${req.params.id}`);
      res.json({ run, nodes: await store.nodeRuns(run.id) });
    }),
  );
  return Object.assign(router, { close: async () => live?.close() });
}
