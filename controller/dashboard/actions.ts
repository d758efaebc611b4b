/**
 * What people who may write to a repository can do from the dashboard (docs/controller.md, "The dashboard"): re-run an
 * apply, cancel a running apply or drift check, check drift now, heal drift, release a manual environment. Each action is a POST form
 * with the session's CSRF token; each is recorded (who, when, what, outcome) in `dashboard_actions`, refusals with
 * their reason. The decisions reuse the controller's own paths: the apply and drift jobs' queue, the apply policy of
 * re-runs (`rerunRefusal`), the release of `/politburo apply ENV` (recorded as released by `LOGIN via dashboard`).
 */
import type { RunRecord, StateStore } from '../../kernel/types.js';
import { RepositorySchema, type Repository } from '../../kernel/repository.js';
import type { Queryable } from '../../store/in-transaction.js';
import { applyCheckName, renderApplyCheck } from '../github/render-apply-check.js';
import { RELEASE_TRIGGER, rerunRefusal } from '../jobs/handlers/release.js';
import { reporterFor, safely, type JobDeps } from '../jobs/job-deps.js';
import { withCommit } from '../jobs/load-commit.js';
import {
  environmentRepo,
  recordAction,
  requestCancel,
  runOwner,
  type ActionOutcome,
  type ActionRecord,
  type DashboardActionKind,
} from '../store/dashboard.js';
import { csrfField } from './csrf.js';
import { html, type Html } from './html.js';
import { environmentUrl, runUrl } from './links.js';
import type { Session } from './sessions.js';
import { when } from './widgets.js';

export const ACTION_LABELS: Record<DashboardActionKind, string> = {
  rerun: 'Re-run apply',
  cancel: 'Cancel run',
  'check-drift': 'Check drift now',
  heal: 'Heal drift',
  release: 'Release',
};

export interface ActionDeps {
  db: Queryable;
  store: StateStore;
  /** The job ports (queue, git, controller store, reporter); absent when this process runs no jobs. */
  jobs?: JobDeps;
}

export interface ActionTarget {
  action: DashboardActionKind;
  repository: string;
  environment: string;
  /** rerun, cancel: the run. */
  run?: RunRecord;
  /** release: the commit waiting for release. */
  sha?: string;
}

export interface ActionResult {
  outcome: ActionOutcome;
  message: string;
  record: ActionRecord;
  /** The job a done action queued (rerun, check-drift, heal, release); its run starts when a worker takes it. */
  job?: string;
}

/** What a carried-out action says, and the job it queued. */
interface Done {
  message: string;
  job?: string;
}

class Refused extends Error {}

const short = (sha: string) => sha.slice(0, 7);

/** Records a refusal decided before the action itself (e.g. by permission). */
export async function recordRefusal(
  deps: ActionDeps,
  login: string,
  target: ActionTarget,
  message: string,
): Promise<ActionResult> {
  const record = await recordAction(deps.db, {
    login,
    action: target.action,
    repository: target.repository,
    environment: target.environment,
    runId: target.run?.id ?? null,
    commit: target.sha ?? target.run?.commit ?? null,
    outcome: 'refused',
    message,
  });
  return { outcome: 'refused', message, record };
}

/** Carries out an action for `login`, whose write permission the caller has checked; records the outcome. */
export async function performAction(deps: ActionDeps, login: string, target: ActionTarget): Promise<ActionResult> {
  let outcome: ActionOutcome = 'done';
  let message: string;
  let job: string | undefined;
  try {
    ({ message, job } = await carryOut(deps, login, target));
  } catch (err) {
    outcome = err instanceof Refused ? 'refused' : 'failed';
    message = err instanceof Error ? err.message : String(err);
    if (outcome === 'failed') message = `${ACTION_LABELS[target.action]} failed: ${message}`;
  }
  const record = await recordAction(deps.db, {
    login,
    action: target.action,
    repository: target.repository,
    environment: target.environment,
    runId: target.run?.id ?? null,
    commit: target.sha ?? target.run?.commit ?? null,
    outcome,
    message,
  });
  return { outcome, message, record, ...(job ? { job } : {}) };
}

async function carryOut(deps: ActionDeps, login: string, t: ActionTarget): Promise<Done> {
  if (t.action === 'cancel') return { message: await cancel(deps, login, t.run!) };
  const jobs = deps.jobs;
  if (!jobs)
    throw new Refused('this controller runs no jobs (POLITBURO_INGEST_ONLY, or jobs are off): nothing can be queued');
  const repo = await repositoryOf(deps, t.repository, t.environment);
  switch (t.action) {
    case 'rerun':
      return rerun(jobs, login, repo, t.run!);
    case 'check-drift': {
      const job = await jobs.queue.enqueueDrift({
        repo,
        environment: t.environment,
        heal: false,
        trigger: `dashboard: drift check by ${login}`,
      });
      return { message: `drift check of ${t.environment} queued (job ${job.id})`, job: job.id };
    }
    case 'heal':
      return heal(deps, jobs, login, repo, t.environment);
    case 'release':
      return release(jobs, login, repo, t.environment, t.sha ?? '');
  }
}

async function repositoryOf(deps: ActionDeps, repository: string, environment: string): Promise<Repository> {
  const stored = await environmentRepo(deps.db, repository, environment);
  const parsed = RepositorySchema.safeParse(stored);
  if (!parsed.success)
    throw new Refused(
      `${environment} of ${repository} is not known to this controller's queue (no push of it was handled here)`,
    );
  return parsed.data;
}

/** The branch an environment follows, as described at `sha`; null when it is not validly described there. */
async function branchAt(jobs: JobDeps, repo: Repository, environment: string, sha: string): Promise<string | null> {
  return withCommit(jobs.git, repo, sha, async (loaded) =>
    loaded.kind === 'ok' && loaded.description.environments.has(environment)
      ? (loaded.description.environments.get(environment)!.branch ?? repo.defaultBranch)
      : null,
  );
}

async function requireHead(jobs: JobDeps, repo: Repository, environment: string, sha: string): Promise<void> {
  const branch = await branchAt(jobs, repo, environment, sha);
  if (branch === null) throw new Refused(`${environment} is not validly described at ${short(sha)}`);
  const head = await jobs.git.branchHead(repo, branch);
  if (head === null) throw new Refused(`branch ${branch} of ${environment} does not exist any more`);
  if (head !== sha)
    throw new Refused(
      `${short(sha)} is not the head of ${branch} any more (${short(head)} is): the controller only applies the head`,
    );
}

async function rerun(jobs: JobDeps, login: string, repo: Repository, run: RunRecord): Promise<Done> {
  if (run.kind !== 'apply')
    throw new Refused(`run #${run.id} is a ${run.kind} run; only applies are re-run (Check drift now checks drift)`);
  if (run.status === 'running') throw new Refused(`run #${run.id} is still running: wait for it or cancel it`);
  if (!run.commit) throw new Refused(`run #${run.id} has no commit to apply again`);
  if (repo.kind !== 'github') throw new Refused(`${run.repository} is not on GitHub: re-run it with politburo apply`);
  const refusal = await rerunRefusal(jobs, repo, run.environment, run.commit, jobs.logger);
  if (refusal) throw new Refused(refusal);
  await requireHead(jobs, repo, run.environment, run.commit);
  const job = await jobs.queue.enqueueApply({
    repo,
    environment: run.environment,
    sha: run.commit,
    trigger: `dashboard: re-run of run #${run.id} by ${login}`,
  });
  return { message: `apply of ${run.environment} at ${short(run.commit)} queued again (job ${job.id})`, job: job.id };
}

/** Runs the controller starts and watches for cancels (controller/run-cancellation.ts); live plans come from the CLI. */
const CANCELLABLE = new Set<RunRecord['kind']>(['apply', 'drift']);

async function cancel(deps: ActionDeps, login: string, run: RunRecord): Promise<string> {
  if (run.status !== 'running') throw new Refused(`run #${run.id} is not running (it ended ${run.status})`);
  if (!CANCELLABLE.has(run.kind))
    throw new Refused(
      `run #${run.id} is a ${run.kind} run; only applies and drift checks can be cancelled from the dashboard`,
    );
  const owner = await runOwner(deps.db, run.id);
  if (run.trigger.startsWith('cli:'))
    throw new Refused(
      `run #${run.id} was started by politburo on the command line${owner?.ownerPid ? ` (pid ${owner.ownerPid} on ${owner.ownerHost})` : ''}: stop it there with Ctrl-C`,
    );
  if (owner?.cancelRequestedAt)
    throw new Refused(
      `a cancel of run #${run.id} was asked for already, by ${owner.cancelRequestedBy} at ${when(owner.cancelRequestedAt)}`,
    );
  if (!(await requestCancel(deps.db, run.id, login))) throw new Refused(`run #${run.id} ended meanwhile`);
  return `cancel of run #${run.id} requested: nothing new starts; running tasks get their grace period`;
}

async function heal(
  deps: ActionDeps,
  jobs: JobDeps,
  login: string,
  repo: Repository,
  environment: string,
): Promise<Done> {
  const applied = await jobs.controllerStore.appliedPolicy(repo, environment);
  if (applied?.policy.suspend)
    throw new Refused(`${environment} is suspended: its drift is checked and reported, never healed`);
  const nodes = await deps.store.recordedNodes(
    repo.kind === 'github' ? `${repo.owner}/${repo.name}` : repo.location,
    environment,
  );
  const drifted = nodes.filter((n) => n.state === 'drifted').length;
  if (drifted === 0)
    throw new Refused(`no node of ${environment} is drifted: nothing to heal (Check drift now looks again)`);
  const job = await jobs.queue.enqueueDrift({
    repo,
    environment,
    heal: true,
    trigger: `dashboard: heal by ${login}`,
  });
  return {
    message: `heal of ${environment} queued (${drifted} drifted node${drifted === 1 ? '' : 's'}; job ${job.id})`,
    job: job.id,
  };
}

async function release(
  jobs: JobDeps,
  login: string,
  repo: Repository,
  environment: string,
  sha: string,
): Promise<Done> {
  if (!/^[0-9a-f]{7,64}$/i.test(sha)) throw new Refused('no commit to release was named');
  const pending = await jobs.controllerStore.release(repo, environment, sha);
  if (!pending) throw new Refused(`nothing of ${environment} waits for release at ${short(sha)}`);
  if (pending.supersededBy)
    throw new Refused(
      `${short(sha)} is superseded by ${short(pending.supersededBy)}, which waits for release of ${environment} with its changes`,
    );
  if (pending.releasedAt)
    throw new Refused(
      `${environment} at ${short(sha)} was released already, by ${pending.releasedBy} at ${when(pending.releasedAt)}`,
    );
  await requireHead(jobs, repo, environment, sha);
  const releasedBy = `${login} via dashboard`;
  if (!(await jobs.controllerStore.markReleased(repo, environment, sha, releasedBy)))
    throw new Refused(`${environment} at ${short(sha)} was released already (by someone else just now)`);
  const reporter = reporterFor(jobs, repo);
  await safely(jobs.logger, 'queued check', () =>
    reporter.check({ repo, sha, name: applyCheckName(environment) }, renderApplyCheck(null, { environment })),
  );
  // The trigger starts like a comment's release, so the apply job applies exactly this commit (never a newer head).
  const job = await jobs.queue.enqueueApply({
    repo,
    environment,
    sha,
    trigger: `${RELEASE_TRIGGER} ${environment} by ${releasedBy}`,
  });
  return {
    message: `released ${environment} at ${short(sha)} (${pending.planSummary}) as ${releasedBy}: the apply is queued (job ${job.id})`,
    job: job.id,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Markup (stable for browser tests: forms carry data-action, results data-outcome)

function actionForm(action: DashboardActionKind, url: string, session: Session, extra?: Html): Html {
  return html`<form method="post" action="${url}" class="action" data-action="${action}">${csrfField(session)}${extra ?? ''}<button type="submit">${ACTION_LABELS[action]}</button></form>`;
}

/** The buttons of a run (writers only: others get nothing). */
export function runActionsPanel(
  run: RunRecord,
  session: Session | null,
  canAct: boolean,
  cancelRequested?: { by: string; at: string } | null,
): Html {
  if (!session || !canAct || !CANCELLABLE.has(run.kind)) return html``;
  const forms: Html[] = [];
  if (run.status === 'running' && cancelRequested)
    forms.push(
      html`<p class="cancel-requested" data-cancel-requested="${run.id}">Cancel asked for by ${cancelRequested.by} at ${when(cancelRequested.at)}: nothing new starts; running tasks get their grace period.</p>`,
    );
  else if (run.status === 'running' && !run.trigger.startsWith('cli:'))
    forms.push(actionForm('cancel', `${runUrl(run.id)}/cancel`, session));
  if (run.kind === 'apply' && run.status !== 'running' && run.commit)
    forms.push(actionForm('rerun', `${runUrl(run.id)}/rerun`, session));
  return forms.length ? html`<div class="actions">${forms}</div>` : html``;
}

/** The buttons of an environment (writers only). */
export function environmentActionsPanel(
  repository: string,
  environment: string,
  session: Session | null,
  canAct: boolean,
  state: { drifted: number; pendingRelease: { sha: string; planSummary: string } | null },
): Html {
  if (!session || !canAct) return html``;
  const base = environmentUrl(repository, environment);
  const forms: Html[] = [actionForm('check-drift', `${base}/check-drift`, session)];
  if (state.drifted > 0) forms.push(actionForm('heal', `${base}/heal`, session));
  if (state.pendingRelease) {
    const p = state.pendingRelease;
    forms.push(
      actionForm(
        'release',
        `${base}/release`,
        session,
        html`<input type="hidden" name="sha" value="${p.sha}"><span class="muted">${short(p.sha)} waits for release (${p.planSummary})</span> `,
      ),
    );
  }
  return html`<div class="actions">${forms}</div>`;
}

/** The recorded actions (newest first). */
export function actionsLog(records: ActionRecord[]): Html {
  if (records.length === 0) return html``;
  const rows = records.map(
    (r) =>
      html`<tr data-outcome="${r.outcome}"><td>${when(r.at)}</td><td>${r.login}</td><td>${ACTION_LABELS[r.action]}</td><td>${r.runId ? html`<a href="${runUrl(r.runId)}">#${r.runId}</a>` : '-'}</td><td>${r.outcome}</td><td>${r.message}</td></tr>`,
  );
  return html`<h2 id="actions">Actions</h2><table class="actions-log"><thead><tr><th>When</th><th>Who</th><th>Action</th><th>Run</th><th>Outcome</th><th>Message</th></tr></thead><tbody>${rows}</tbody></table>`;
}

/** The header's account line: who is signed in and a sign-out button, or a sign-in link. */
export function accountLine(viewer: { login: string; session: Session } | null, signIn: boolean, here: string): Html {
  if (viewer)
    return html`<span class="account">Signed in as <b>${viewer.login}</b></span><form method="post" action="/auth/sign-out" class="sign-out" data-action="sign-out">${csrfField(viewer.session)}<button type="submit">Sign out</button></form>`;
  if (!signIn) return html``;
  return html`<a class="sign-in" href="${`/auth/github/login?${new URLSearchParams({ return_to: here })}`}">Sign in with GitHub</a>`;
}
