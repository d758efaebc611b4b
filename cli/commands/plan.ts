/**
 * `politburo plan ENV [--json]`: what an apply would do, from the description and the recorded state; contacts no host.
 */
import type { Command } from 'commander';
import {
  addDescriptionOptions,
  addHostOptions,
  addJsonOption,
  addStoreOption,
  EXIT_CHANGES,
  EXIT_ERROR,
  EXIT_OK,
  headCommit,
  invalidDescription,
  printJson,
  readCliEnv,
  repositoryId,
  selectEnvironment,
  type CommonOptions,
  type DescriptionOptions,
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
import { openRunContext } from '../run-context.js';
import type { RunResult } from '../../kernel/types.js';

export interface PlanOptions extends CommonOptions {
  live?: boolean;
  /** Exit 2 when there are changes (or drift with --live), as `terraform plan -detailed-exitcode`. */
  detailedExitcode?: boolean;
}

/**
 * Loads the description in opts.dir; on validation errors prints them all to stderr and throws the invalid-description
 * error (exit 1; validate has its own exit 2).
 */
export async function loadOrReport(opts: DescriptionOptions): Promise<Description> {
  const result = await loadDescription({ dir: opts.dir, file: opts.file ?? readCliEnv().file });
  if (result.ok) return result.description;
  process.stderr.write(renderValidationErrors(result.errors));
  throw invalidDescription(result.errors);
}

type Opened = Awaited<ReturnType<typeof openStore>>;

/**
 * Opens the state store early when it is a server given by URL, so connecting and checking the schema overlap with
 * loading the description; the embedded server is only started once the description is known to be valid.
 */
function openStoreEarly(opts: CommonOptions): Promise<Opened> | null {
  const databaseUrl = opts.databaseUrl ?? readCliEnv().databaseUrl;
  if (!databaseUrl) return null;
  const opening = openStore({ databaseUrl, log: stderrLog });
  opening.catch(() => {}); // reported when awaited; never an unhandled rejection if the description fails first
  return opening;
}

/** Plans one environment of a loaded description against the state store (embedded PostgreSQL when no URL is set). */
async function planFromStore(
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
async function runPlan(environment: string, opts: PlanOptions): Promise<number> {
  if (opts.live) return runLivePlanCommand(environment, opts);
  const early = openStoreEarly(opts);
  try {
    const description = await loadOrReport(opts);
    const env = selectEnvironment(description, environment);
    const { plan, repository } = await planFromStore(description, env, opts, early);
    printPlan(plan, repository, opts);
    return planExitCode(plan, false, opts);
  } finally {
    // When planning did not get as far as using it (invalid description, unknown environment), close it here.
    await early?.then(
      (o) => o.close(),
      () => {},
    );
  }
}

/**
 * 0 on success whether or not there are changes; with --detailed-exitcode, 2 when there are changes (or drifted nodes),
 * as Terraform does (docs/cli.md). Errors are 1 either way.
 */
function planExitCode(plan: Plan, drifted: boolean, opts: { detailedExitcode?: boolean }): number {
  const s = plan.summary;
  const changes = s.create + s.update + s.terminate > 0 || drifted;
  return changes && opts.detailedExitcode ? EXIT_CHANGES : EXIT_OK;
}

/** Above this many nodes `--json` is printed compact: indenting 10,000 nodes costs a fifth of a second. */
const PRETTY_JSON_MAX_NODES = 1000;

/** One JSON document on stdout with --json, else the table. */
function printPlan(plan: Plan, repository: string, opts: { json?: boolean }): void {
  const indent = plan.nodes.length > PRETTY_JSON_MAX_NODES ? 0 : 2;
  if (opts.json) printJson(planToJson(plan, { repository }), indent);
  else process.stdout.write(renderPlanText(plan));
}

/**
 * `plan --live`: the static plan, plus a dry-run of every node on its host; nodes whose tasks are unmet are `drifted`.
 * Exit 1 when a host could not be checked; else as planExitCode.
 */
async function runLivePlanCommand(environment: string, opts: PlanOptions): Promise<number> {
  const ctx = await openRunContext(opts, environment, 'plan --live');
  try {
    const { plan, result } = await runLivePlan(ctx.input);
    ctx.stopProgress();
    if (opts.json) printJson(livePlanJson(plan, result, ctx.input.repository));
    else process.stdout.write(`${renderPlanText(plan)}\nLive check on the hosts:\n${renderRunTable(result)}`);
    if (result.status !== 'succeeded' || result.nodes.some((n) => n.state === 'failed')) return EXIT_ERROR;
    return planExitCode(
      plan,
      result.nodes.some((n) => n.state === 'drifted'),
      opts,
    );
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
  const cmd = program.command('plan').argument('<environment>', 'the environment to plan');
  addHostOptions(addStoreOption(addDescriptionOptions(cmd)));
  addJsonOption(cmd)
    .option('--live', "also dry-run every node on its host and mark unmet tasks as drift (runs the deps' met? checks)")
    .option('--detailed-exitcode', 'exit 2 when there are changes (or drift with --live), 0 when there are none')
    .description(
      'show what an apply would change (exit 0, or 1 on error; with --detailed-exitcode 0 no changes, 2 changes); contacts no host unless --live',
    )
    .action(async (environment: string, opts: PlanOptions) => {
      process.exitCode = await runPlan(environment, opts);
    });
}
