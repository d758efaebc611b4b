/**
 * The `github-delivery` job: a stored webhook delivery routed by event (docs/configuration.md). push → applies of the changed
 * environments; pull_request → a static plan; `/politburo plan` comments → a plan (live only after the trust checks);
 * check_run rerequested → that check again; installation events → repositories registered. Everything else, and
 * repositories without politburo.yml, is marked processed and ignored.
 */
import { deliveryLogger, type Logger } from '../logger.js';
import { JOB_PLAN_PR, type PlanPullRequestJob } from '../ports.js';
import { enqueue, enqueueApply } from '../queue/enqueue.js';
import { parseCommand, trustLive } from './plan-command.js';
import { reporterFor, repoFromPayload, safely, type JobDeps } from './job-deps.js';
import { parseDeliveryJob } from './payloads.js';
import { queueApplies } from './queue-applies.js';
import { repositoryKey, type Repository } from '../../kernel/repository.js';

interface Delivery {
  id: string;
  event: string;
  action: string | null;
  payload: any;
  processedAt: Date | null;
}

/** Handles one delivery job (see module comment). */
export async function runDeliveryJob(deps: JobDeps, payload: unknown): Promise<void> {
  const { deliveryId } = parseDeliveryJob(payload);
  const { rows } = await deps.pool.query<{
    event: string;
    action: string | null;
    payload: any;
    processed_at: Date | null;
  }>('SELECT event, action, payload, processed_at FROM webhook_deliveries WHERE delivery_id = $1', [deliveryId]);
  const log = deliveryLogger(deps.logger, deliveryId, rows[0]?.event);
  if (!rows.length) {
    log.warn('delivery not found in webhook_deliveries: nothing to do');
    return;
  }
  if (rows[0].processed_at) return; // a retried job whose delivery was already handled
  const delivery: Delivery = {
    id: deliveryId,
    event: rows[0].event,
    action: rows[0].action,
    payload: rows[0].payload,
    processedAt: null,
  };
  const outcome = await route(deps, delivery, log);
  await deps.pool.query(
    `UPDATE webhook_deliveries SET processed_at = now(), outcome = $2, error = NULL WHERE delivery_id = $1`,
    [deliveryId, outcome],
  );
  log.info({ outcome }, `delivery ${delivery.event}${delivery.action ? `.${delivery.action}` : ''} processed`);
}

async function route(deps: JobDeps, d: Delivery, log: Logger): Promise<string> {
  const p = d.payload;
  switch (d.event) {
    case 'push':
      return onPush(deps, p, log);
    case 'pull_request':
      return ['opened', 'synchronize', 'reopened'].includes(p?.action)
        ? onPullRequest(deps, p, d.id)
        : 'ignored: pull_request action';
    case 'issue_comment':
      return p?.action === 'created' && p?.issue?.pull_request
        ? onComment(deps, p, d.id, log)
        : 'ignored: not a new pull request comment';
    case 'check_run':
      return p?.action === 'rerequested' ? onRerequest(deps, p, d.id) : 'ignored: check_run action';
    case 'installation':
    case 'installation_repositories':
      return onInstallation(deps, p);
    default:
      return `ignored: event ${d.event}`;
  }
}

async function onPush(deps: JobDeps, p: any, log: Logger): Promise<string> {
  const repo = repoFromPayload(p);
  const ref = typeof p?.ref === 'string' ? p.ref : '';
  if (!repo || !ref.startsWith('refs/heads/')) return 'ignored: not a branch push';
  if (p.deleted || !commitSha(p.after)) return 'ignored: branch deleted';
  const branch = ref.slice('refs/heads/'.length);
  const who = p.pusher?.name ?? p.sender?.login ?? 'someone';
  const before = commitSha(p.before);
  const result = await queueApplies(
    deps,
    repo,
    branch,
    p.after,
    `push ${p.after.slice(0, 7)} to ${branch} by ${who}`,
    log,
    before,
  );
  return result.environments.length ? `${result.outcome}: ${result.environments.join(', ')}` : result.outcome;
}

/** A push's `before` / `after`: a commit SHA, or undefined for none (absent, malformed, or all zeros: no commit). */
function commitSha(v: unknown): string | undefined {
  return typeof v === 'string' && /^[0-9a-f]{40}$/.test(v) && !/^0+$/.test(v) ? v : undefined;
}

/** Remembers the pull request (comments carry no head) and queues its static plan. */
async function onPullRequest(deps: JobDeps, p: any, deliveryId: string): Promise<string> {
  const repo = repoFromPayload(p);
  const pr = p?.pull_request;
  if (!repo || !pr?.head?.sha || !pr?.base?.sha) return 'ignored: incomplete pull_request payload';
  await rememberPullRequest(deps, repo, pr);
  await queuePlan(deps, {
    repo,
    pullNumber: pr.number,
    headSha: pr.head.sha,
    baseSha: pr.base.sha,
    live: false,
    trigger: `pull_request ${p.action} (${deliveryId})`,
  });
  return `plan queued for #${pr.number}`;
}

async function onComment(deps: JobDeps, p: any, deliveryId: string, log: Logger): Promise<string> {
  const repo = repoFromPayload(p);
  const command = parseCommand(p?.comment?.body ?? '');
  if (!repo || !command) return 'ignored: not a politburo command';
  const reporter = reporterFor(deps, repo);
  const number: number = p.issue.number;
  const commentId: number = p.comment.id;
  const pr = await knownPullRequest(deps, repo, number);
  if (!pr) {
    await safely(log, 'reaction', () => reporter.reaction(repo, commentId, 'confused'));
    return `refused: pull request #${number} not seen yet`;
  }
  const base: PlanPullRequestJob = {
    repo,
    pullNumber: number,
    headSha: pr.headSha,
    baseSha: pr.baseSha,
    environment: command.environment,
    live: false,
    commentId,
    trigger: `/politburo plan by ${p.comment.user?.login ?? 'someone'} (${deliveryId})`,
  };
  if (command.live) {
    const refusal = await trustLive(reporter, repo, p.comment.user?.login, pr.headRepository);
    if (refusal) {
      await safely(log, 'reaction', () => reporter.reaction(repo, commentId, '-1'));
      await queuePlan(deps, {
        ...base,
        notice: `\`/politburo plan --live\` refused: ${refusal} A static plan follows; no host was contacted.`,
      });
      return `refused --live: ${refusal}`;
    }
  }
  await safely(log, 'reaction', () => reporter.reaction(repo, commentId, 'eyes'));
  await queuePlan(deps, { ...base, live: command.live });
  return `${command.live ? 'live ' : ''}plan queued for #${number}`;
}

/** Re-runs one check: a plan check re-plans its pull request, an apply check re-applies (branch head only). */
async function onRerequest(deps: JobDeps, p: any, deliveryId: string): Promise<string> {
  const repo = repoFromPayload(p);
  const name: string = p?.check_run?.name ?? '';
  const sha: string = p?.check_run?.head_sha ?? '';
  if (!repo || !/^[0-9a-f]{40}$/.test(sha)) return 'ignored: incomplete check_run payload';
  if (name.startsWith('politburo plan ')) {
    const pr = p.check_run.pull_requests?.[0];
    const known = pr ? await knownPullRequest(deps, repo, pr.number) : null;
    if (!pr || !known) return 'ignored: plan check of an unknown pull request';
    await queuePlan(deps, {
      repo,
      pullNumber: pr.number,
      headSha: known.headSha,
      baseSha: known.baseSha,
      environment: name.slice('politburo plan '.length),
      live: false,
      trigger: `check rerequested (${deliveryId})`,
    });
    return `plan queued for #${pr.number}`;
  }
  if (name.startsWith('politburo/')) {
    const environment = name.slice('politburo/'.length);
    await enqueueApply(deps.pool, { repo, environment, sha, trigger: `check rerequested (${deliveryId})` });
    return `apply of ${environment} queued`;
  }
  return 'ignored: not a politburo check';
}

async function onInstallation(deps: JobDeps, p: any): Promise<string> {
  const repos: any[] = [...(p?.repositories ?? []), ...(p?.repositories_added ?? [])];
  const names = repos.map((r) => r?.full_name).filter((n): n is string => typeof n === 'string' && n.includes('/'));
  if (p?.action === 'deleted' || p?.action === 'removed') return `ignored: installation ${p.action}`;
  for (const name of names)
    await deps.pool.query('INSERT INTO repositories (key) VALUES ($1) ON CONFLICT (key) DO NOTHING', [name]);
  return `registered ${names.length} repositories`;
}

/** Plans of one pull request run one at a time; a newer request replaces a queued older one. */
async function queuePlan(deps: JobDeps, job: PlanPullRequestJob): Promise<void> {
  const key = `plan:${repositoryKey(job.repo)}#${job.pullNumber}`;
  await enqueue(deps.pool, JOB_PLAN_PR, job, {
    queueName: key,
    jobKey: `${key}${job.live ? ':live' : ''}`,
    jobKeyMode: 'replace',
    maxAttempts: 5,
  });
}

async function rememberPullRequest(deps: JobDeps, repo: Repository, pr: any): Promise<void> {
  await deps.pool.query(
    `INSERT INTO pull_requests (repository, pull_number, head_sha, base_sha, head_repository) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (repository, pull_number) DO UPDATE SET head_sha = EXCLUDED.head_sha, base_sha = EXCLUDED.base_sha,
       head_repository = EXCLUDED.head_repository, updated_at = now()`,
    [repositoryKey(repo), pr.number, pr.head.sha, pr.base.sha, pr.head.repo?.full_name ?? null],
  );
}

async function knownPullRequest(
  deps: JobDeps,
  repo: Repository,
  number: number,
): Promise<{ headSha: string; baseSha: string; headRepository: string | null } | null> {
  const { rows } = await deps.pool.query<{ head_sha: string; base_sha: string; head_repository: string | null }>(
    'SELECT head_sha, base_sha, head_repository FROM pull_requests WHERE repository = $1 AND pull_number = $2',
    [repositoryKey(repo), number],
  );
  return rows[0]
    ? { headSha: rows[0].head_sha, baseSha: rows[0].base_sha, headRepository: rows[0].head_repository }
    : null;
}
