/** `politburo plan ENV [--json]`: what an apply would do, from the description and the recorded state; contacts no host. */
import type { Command } from 'commander';
import {
  addCommonOptions,
  EXIT_CHANGES,
  EXIT_ERROR,
  EXIT_OK,
  headCommit,
  readCliEnv,
  repositoryId,
  type CommonOptions,
} from '../common.js';
import { loadDescription } from '../../schema/load-description.js';
import { planEnvironment } from '../../reconciler/plan-environment.js';
import { openStore } from '../../store/open-store.js';
import type { Description, Plan, ResolvedEnvironment } from '../../kernel/types.js';
import { renderValidationErrors } from '../render/validation-errors.js';
import { renderPlanText } from '../render/plan-text.js';
import { planToJson } from '../render/plan-json.js';
import { stderrLog } from './migrate.js';
import { runLivePlan } from '../../reconciler/drift-environment.js';
import { renderRunTable } from '../../render/progress/render-run.js';
import { CliExit, openRunContext, selectEnvironment } from '../run-context.js';
import { printExit } from './apply.js';
import type { RunResult } from '../../kernel/types.js';

export interface PlanOptions extends CommonOptions {
  json?: boolean;
  live?: boolean;
}

/**
 * Loads the description in opts.dir; on validation errors prints them all to stderr and returns null (the caller exits 1,
 * or 2 for validate).
 */
export async function loadOrReport(opts: Pick<CommonOptions, 'dir' | 'file'>): Promise<Description | null> {
  const result = await loadDescription({ dir: opts.dir, file: opts.file ?? readCliEnv().file });
  if (result.ok) return result.description;
  process.stderr.write(renderValidationErrors(result.errors));
  return null;
}

type Opened = Awaited<ReturnType<typeof openStore>>;

/**
 * Opens the state store early when it is a server given by URL, so connecting and checking the schema overlap with
 * loading the description; the embedded server is only started once the description is known to be valid.
 */
export function openStoreEarly(opts: CommonOptions): Promise<Opened> | null {
  const databaseUrl = opts.databaseUrl ?? readCliEnv().databaseUrl;
  if (!databaseUrl) return null;
  const opening = openStore({ databaseUrl, log: stderrLog });
  opening.catch(() => {}); // reported when awaited; never an unhandled rejection if the description fails first
  return opening;
}

/** Plans one environment of a loaded description against the state store (embedded PostgreSQL when no URL is set). */
export async function planFromStore(
  description: Description,
  env: ResolvedEnvironment,
  opts: CommonOptions,
  early: Promise<Opened> | null = null,
): Promise<{ plan: Plan; repository: string }> {
  const repository = repositoryId(description.root);
  const opened = await (early ??
    openStore({ databaseUrl: opts.databaseUrl ?? readCliEnv().databaseUrl, log: stderrLog }));
  try {
    const recorded = await opened.store.recordedNodes(repository, env.name);
    return { plan: planEnvironment(env, recorded, headCommit(description.root)), repository };
  } finally {
    await opened.close();
  }
}

/** The static plan: load → select → plan against the store → print; resolves to the exit code. */
export async function runPlan(environment: string, opts: PlanOptions): Promise<number> {
  if (opts.live) return runLivePlanCommand(environment, opts);
  const early = openStoreEarly(opts);
  try {
    const description = await loadOrReport(opts);
    if (!description) return EXIT_ERROR;
    const env = selectEnvironment(description, environment);
    const { plan, repository } = await planFromStore(description, env, opts, early);
    printPlan(plan, repository, opts);
    const s = plan.summary;
    return s.create + s.update + s.terminate > 0 ? EXIT_CHANGES : EXIT_OK;
  } finally {
    // When planning did not get as far as using it (invalid description, unknown environment), close it here.
    await early?.then(
      (o) => o.close(),
      () => {},
    );
  }
}

/** Above this many nodes `--json` is printed compact: indenting 10,000 nodes costs a fifth of a second. */
const PRETTY_JSON_MAX_NODES = 1000;

/** One JSON document on stdout with --json, else the table. */
export function printPlan(plan: Plan, repository: string, opts: { json?: boolean }): void {
  const indent = plan.nodes.length > PRETTY_JSON_MAX_NODES ? 0 : 2;
  if (opts.json) process.stdout.write(`${JSON.stringify(planToJson(plan, { repository }), null, indent)}\n`);
  else process.stdout.write(renderPlanText(plan));
}

/**
 * `plan --live`: the static plan, plus a dry-run of every node on its host; nodes whose tasks are unmet are `drifted`.
 * Exit 0 no changes and no drift, 2 changes or drift, 1 a host could not be checked.
 */
async function runLivePlanCommand(environment: string, opts: PlanOptions): Promise<number> {
  let ctx;
  try {
    ctx = await openRunContext(opts, environment, 'plan --live');
  } catch (err) {
    if (err instanceof CliExit) return printExit(err, opts);
    throw err;
  }
  try {
    const { plan, result } = await runLivePlan(ctx.input);
    ctx.stopProgress();
    if (opts.json)
      process.stdout.write(`${JSON.stringify(livePlanJson(plan, result, ctx.input.repository), null, 2)}\n`);
    else process.stdout.write(`${renderPlanText(plan)}\nLive check on the hosts:\n${renderRunTable(result)}`);
    if (result.status !== 'succeeded' || result.nodes.some((n) => n.state === 'failed')) return EXIT_ERROR;
    const s = plan.summary;
    const drifted = result.nodes.some((n) => n.state === 'drifted');
    return s.create + s.update + s.terminate > 0 || drifted ? EXIT_CHANGES : EXIT_OK;
  } finally {
    await ctx.close();
  }
}

/** The plan document with each node's state, reason and task outcomes from the dry-run. */
function livePlanJson(plan: Plan, result: RunResult, repository: string) {
  const doc = planToJson(plan, { repository });
  const checked = new Map(result.nodes.map((n) => [n.path, n]));
  const nodes = doc.nodes.map((n) => {
    const r = checked.get(n.path);
    return r ? { ...n, state: r.state, reason: r.reason ?? null, tasks: r.tasks } : n;
  });
  return { ...doc, runId: result.runId, nodes, summary: { ...doc.summary, ...result.summary } };
}

export function registerPlan(program: Command): void {
  addCommonOptions(program.command('plan'))
    .argument('<environment>', 'the environment to plan')
    .option('--json', 'print one JSON document and nothing else on stdout')
    .option('--live', "also dry-run every node on its host and mark unmet tasks as drift (runs the deps' met? checks)")
    .description(
      'show what an apply would change (exit 0 no changes, 2 changes or drift, 1 error); contacts no host unless --live',
    )
    .action(async (environment: string, opts: PlanOptions) => {
      process.exitCode = await runPlan(environment, opts);
    });
}
