/**
 * The dashboard (docs/configuration.md): server-rendered HTML, read only, mounted at `/`. Environments with their
 * state, each
 * environment's dependency graph coloured by state and its nodes, runs with per-host timelines and logs, and each
 * task's success rate. JSON endpoints under /api for tools.
 */
import { createHash } from 'node:crypto';
import express, { type Request, type RequestHandler, type Response } from 'express';
import type { LifecycleState, ResolvedEnvironment, StateStore } from '../../kernel/types.js';
import { buildEnvironmentGraph, recordedGraph, type EnvironmentGraph } from '../../render/graph/environment-graph.js';
import { renderSvg } from '../../render/graph/render-svg.js';
import { hostLabel } from '../../reconciler/plan-environment.js';
import { dashboardAuth } from './auth.js';
import { html, page } from './html.js';
import { environmentsPage, type EnvironmentSummary } from './environments-page.js';
import { environmentPage } from './environment-page.js';
import { nodeAnchor } from './links.js';
import { runPage } from './run-page.js';
import { runsPage } from './runs-page.js';

export interface DashboardDeps {
  store: StateStore;
  /** The environment as described at its last applied commit, for the dependency graph; null when unknown. */
  loadEnvironment?: (repository: string, environment: string) => Promise<ResolvedEnvironment | null>;
  /** Anonymous read-only access (POLITBURO_DASHBOARD_PUBLIC=true). */
  publicRead: boolean;
  /** The token that opens a private dashboard (POLITBURO_DASHBOARD_TOKEN). */
  token?: string;
}

/** Above this many nodes the graph is not drawn (laying it out would take seconds); the table still lists them. */
const MAX_DRAWN_NODES = 200;

const SECURITY_HEADERS = {
  'Content-Security-Policy':
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'",
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

async function environmentSummaries(store: StateStore): Promise<EnvironmentSummary[]> {
  const envs = await store.environments();
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

async function environmentView(deps: DashboardDeps, repository: string, environment: string) {
  const [recorded, described, rates, runs, known] = await Promise.all([
    deps.store.recordedNodes(repository, environment),
    describedEnvironment(deps, repository, environment),
    deps.store.taskSuccessRates(repository, environment),
    deps.store.listRuns({ repository, environment, limit: 20 }),
    deps.store.environments(repository),
  ]);
  if (!described && !known.some((e) => e.environment === environment)) return null;
  const recordedPaths = new Set(recorded.map((n) => n.path));
  const states = new Map(recorded.map((n) => [n.path, n.state]));
  const definedOnly = (described?.nodes ?? [])
    .filter((n) => !recordedPaths.has(n.path))
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

/** The dashboard router; every route requires read access (public, or the token). */
export function createDashboardRouter(deps: DashboardDeps): express.Router {
  const router = express.Router();
  const auth = dashboardAuth({ publicRead: deps.publicRead, token: deps.token });
  const { store } = deps;

  router.get(
    '/',
    auth,
    handle(async (_req, res) => {
      const [envs, runs] = await Promise.all([environmentSummaries(store), store.listRuns({ limit: 15 })]);
      res.type('html').send(environmentsPage(envs, runs));
    }),
  );
  router.get(
    '/environments/:repository/:environment',
    auth,
    handle(async (req, res) => {
      const view = await environmentView(deps, String(req.params.repository), String(req.params.environment));
      if (!view) return notFound(req, res, `No environment ${req.params.environment} in ${req.params.repository}.`);
      res.type('html').send(environmentPage(view));
    }),
  );
  router.get(
    '/environments/:repository/:environment/graph.svg',
    auth,
    handle(async (req, res) => {
      const view = await environmentView(deps, String(req.params.repository), String(req.params.environment));
      if (!view || !view.svg)
        return notFound(req, res, `No drawing of ${req.params.environment} in ${req.params.repository}.`);
      res.type('image/svg+xml').send(view.svg);
    }),
  );
  router.get(
    '/runs',
    auth,
    handle(async (req, res) => {
      const filter = runsFilter(req);
      res.type('html').send(runsPage(await store.listRuns({ ...filter, limit: 200 }), filter));
    }),
  );
  router.get(
    '/runs/:id',
    auth,
    handle(async (req, res) => {
      const run = await store.getRun(String(req.params.id));
      if (!run) return notFound(req, res, `No run ${req.params.id}.`);
      res.type('html').send(runPage(run, await store.nodeRuns(run.id)));
    }),
  );

  router.get(
    '/api/environments',
    auth,
    handle(async (_req, res) => {
      res.json({ environments: await environmentSummaries(store) });
    }),
  );
  router.get(
    '/api/environments/:repository/:environment',
    auth,
    handle(async (req, res) => {
      const view = await environmentView(deps, String(req.params.repository), String(req.params.environment));
      if (!view) return notFound(req, res, `no environment ${req.params.environment} in ${req.params.repository}`);
      const { svg: _svg, ...rest } = view;
      res.json(rest);
    }),
  );
  router.get(
    '/api/runs',
    auth,
    handle(async (req, res) => {
      res.json({ runs: await store.listRuns({ ...runsFilter(req), limit: 200 }) });
    }),
  );
  router.get(
    '/api/runs/:id',
    auth,
    handle(async (req, res) => {
      const run = await store.getRun(String(req.params.id));
      if (!run) return notFound(req, res, `no run ${req.params.id}`);
      res.json({ run, nodes: await store.nodeRuns(run.id) });
    }),
  );
  return router;
}
