/**
 * In-memory implementations of the controller's ports (controller/jobs/job-ports.ts, controller/ports.ts): the same
 * interfaces the PostgreSQL, git-mirror and GitHub implementations offer, as plain data structures, so the jobs'
 * decisions are unit-tested in milliseconds. Real code, not mocks: each keeps the contract of its production
 * counterpart (a newer apply replaces a waiting one, a drift tick is claimed once, a check is completed once reported
 * so), and records what happened for the test to read.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ControllerConfig } from '../../controller/config.js';
import { readConfig } from '../../controller/config.js';
import type { DeliveryRecords, StoredDelivery } from '../../controller/jobs/delivery-records.js';
import type { JobDeps } from '../../controller/jobs/job-deps.js';
import type {
  ControllerStore,
  DriftSchedule,
  JobQueue,
  KnownPullRequest,
  Release,
} from '../../controller/jobs/job-ports.js';
import { createLogger, type Logger } from '../../controller/logger.js';
import {
  JOB_APPLY,
  JOB_DRIFT,
  JOB_PLAN_PR,
  type ApplyEnvironmentJob,
  type CheckRef,
  type CheckUpdate,
  type DriftReport,
  type GitReader,
  type Reporter,
} from '../../controller/ports.js';
import { createHostConnector } from '../../hosts/ssh-connector.js';
import { repositoryKey, type Repository } from '../../kernel/repository.js';
import type { ApplyPolicy, StateStore } from '../../kernel/types.js';
import { createInMemoryStateStore, type InMemoryStateStore } from './in-memory-state-store.js';

// ---------------------------------------------------------------------------------------------------------------
// Git

/** A repository whose commits live in memory; a checkout writes the commit's files into a fresh temp directory. */
export interface InMemoryGit extends GitReader {
  remoteDefaultBranch(repo: Repository): Promise<string | null>;
  mergeBase(repo: Repository, a: string, b: string): Promise<string | null>;
  /** Commits `files` on top of the branch's head (null content deletes a file); returns the new commit's SHA. */
  commit(files: Record<string, string | null>, opts?: { branch?: string }): string;
  /** Points a branch at a commit (null deletes the branch). */
  setBranch(branch: string, sha: string | null): void;
  /** Checkouts made so far. */
  readonly checkouts: number;
  /** Removes checkouts that were not cleaned up. */
  close(): Promise<void>;
}

export function createInMemoryGit(): InMemoryGit {
  const commits = new Map<string, { files: Record<string, string>; parent: string | null }>();
  const branches = new Map<string, string>();
  const dirs = new Set<string>();
  let checkouts = 0;
  let n = 0;
  const known = (sha: string) => {
    const c = commits.get(sha);
    if (!c) throw new Error(`commit ${sha} is not in the repository (yet): it may have been force-pushed away`);
    return c;
  };
  const ancestors = (sha: string): string[] => {
    const out: string[] = [];
    for (let s: string | null = sha; s; s = commits.get(s)?.parent ?? null) out.push(s);
    return out;
  };
  return {
    get checkouts() {
      return checkouts;
    },
    commit(files, opts = {}) {
      const branch = opts.branch ?? 'main';
      const parent = branches.get(branch) ?? null;
      const merged: Record<string, string> = { ...(parent ? known(parent).files : {}) };
      for (const [f, content] of Object.entries(files)) {
        if (content === null) delete merged[f];
        else merged[f] = content;
      }
      const sha = createHash('sha1')
        .update(`${n++}\0${parent}\0${JSON.stringify(merged)}`)
        .digest('hex');
      commits.set(sha, { files: merged, parent });
      branches.set(branch, sha);
      return sha;
    },
    setBranch(branch, sha) {
      if (sha === null) branches.delete(branch);
      else branches.set(branch, known(sha) && sha);
    },
    async ensureCommit(_repo, sha) {
      known(sha);
    },
    async checkout(_repo, sha) {
      const { files } = known(sha);
      const dir = await mkdtemp(path.join(os.tmpdir(), 'politburo-in-memory-checkout-'));
      dirs.add(dir);
      for (const [f, content] of Object.entries(files)) {
        await mkdir(path.dirname(path.join(dir, f)), { recursive: true });
        await writeFile(path.join(dir, f), content);
      }
      checkouts++;
      return {
        dir,
        cleanup: async () => {
          dirs.delete(dir);
          await rm(dir, { recursive: true, force: true });
        },
      };
    },
    async branchHead(_repo, branch) {
      return branches.get(branch) ?? null;
    },
    async changedFiles(_repo, base, head) {
      const a = known(base).files;
      const b = known(head).files;
      return [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((f) => a[f] !== b[f]).sort();
    },
    async remoteDefaultBranch() {
      return branches.has('main') ? 'main' : (branches.keys().next().value ?? null);
    },
    async mergeBase(_repo, a, b) {
      const ofB = new Set(ancestors(known(b) && b));
      return ancestors(known(a) && a).find((s) => ofB.has(s)) ?? null;
    },
    async close() {
      await Promise.all([...dirs].map((d) => rm(d, { recursive: true, force: true })));
      dirs.clear();
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Controller store

export interface InMemoryControllerStore extends ControllerStore {
  /** Recorded schedules by `repository env` (the repository key). */
  schedules(): Map<string, DriftSchedule & { lastTick: Date | null }>;
}

/** The controller's records in memory; `state` answers the last applied commit (as the environments table does). */
export function createInMemoryControllerStore(state: Pick<StateStore, 'environments'>): InMemoryControllerStore {
  const schedules = new Map<string, DriftSchedule & { lastTick: Date | null }>();
  const listeners = new Set<() => void>();
  const alerts = new Map<string, string>();
  const pollHeads = new Map<string, string>();
  const pullRequests = new Map<string, KnownPullRequest>();
  const plans = new Map<
    string,
    { environment: string; baseSha: string; headSha: string; planHash: string | null; superseded: boolean }
  >();
  const releases = new Map<string, Release>();
  const appliedPolicies = new Map<string, { sha: string; policy: ApplyPolicy }>();
  const announce = () => listeners.forEach((l) => l());
  const key = (...parts: (string | number)[]) => parts.join(' ');
  return {
    schedules: () => schedules,
    async recordDriftSchedules(list) {
      for (const s of list) {
        const k = key(repositoryKey(s.repo), s.environment);
        schedules.set(k, { ...s, lastTick: schedules.get(k)?.lastTick ?? null });
      }
      announce();
    },
    async forgetDriftSchedule(repo, environment) {
      schedules.delete(key(repositoryKey(repo), environment));
      announce();
    },
    async driftSchedules() {
      return [...schedules.values()].map((s) => ({
        repository: repositoryKey(s.repo),
        environment: s.environment,
        schedule: s.schedule,
      }));
    },
    async claimDriftTick(repository, environment, tick) {
      const s = schedules.get(key(repository, environment));
      if (!s || (s.lastTick && s.lastTick >= tick)) return null;
      s.lastTick = tick;
      return { repo: s.repo, heal: s.heal };
    },
    onDriftSchedulesChanged(changed) {
      listeners.add(changed);
      queueMicrotask(changed); // what was recorded before anyone listened
      return { stop: () => void listeners.delete(changed) };
    },
    async appliedEnvironmentSource(repository, environment) {
      const s = schedules.get(key(repository, environment));
      const sha = (await state.environments(repository)).find((e) => e.environment === environment)?.lastCommit;
      return s && sha ? { repo: s.repo, sha } : null;
    },
    async driftAlertChanged(repo, environment, fingerprint) {
      const k = key(repositoryKey(repo), environment);
      if (fingerprint === null) return alerts.delete(k);
      if (alerts.get(k) === fingerprint) return false;
      alerts.set(k, fingerprint);
      return true;
    },
    async claimPollHead(repository, branch, sha) {
      const k = key(repository, branch);
      const previous = pollHeads.get(k) ?? null;
      if (previous === sha) return false;
      pollHeads.set(k, sha);
      return previous;
    },
    async releasePollHead(repository, branch, sha, previous) {
      const k = key(repository, branch);
      if (pollHeads.get(k) !== sha) return;
      if (previous === null) pollHeads.delete(k);
      else pollHeads.set(k, previous);
    },
    async rememberPullRequest(repo, pullNumber, pr) {
      pullRequests.set(key(repositoryKey(repo), pullNumber), { ...pr });
    },
    async knownPullRequest(repo, pullNumber) {
      return pullRequests.get(key(repositoryKey(repo), pullNumber)) ?? null;
    },
    async recordPlannedHead(plan) {
      const prefix = key(repositoryKey(plan.repo), plan.pullNumber);
      for (const environment of plan.environments) {
        plans.delete(key(prefix, environment, plan.headSha)); // re-inserted last: the newest plan
        plans.set(key(prefix, environment, plan.headSha), {
          environment,
          baseSha: plan.baseSha,
          headSha: plan.headSha,
          planHash: plan.planHashes?.[environment] ?? null,
          superseded: false,
        });
      }
      const superseded: { environment: string; headSha: string }[] = [];
      for (const [k, p] of plans)
        if (k.startsWith(`${prefix} `) && p.headSha !== plan.headSha && !p.superseded) {
          p.superseded = true;
          superseded.push({ environment: p.environment, headSha: p.headSha });
        }
      return superseded;
    },
    async plannedHead(repo, pullNumber, environment) {
      const prefix = key(repositoryKey(repo), pullNumber);
      const found = [...plans.entries()]
        .filter(([k, p]) => k.startsWith(`${prefix} `) && p.environment === environment && !p.superseded)
        .pop()?.[1];
      return found ? { baseSha: found.baseSha, headSha: found.headSha, planHash: found.planHash } : null;
    },
    async recordPendingRelease(r) {
      const k = key(repositoryKey(r.repo), r.environment, r.sha);
      const had = releases.get(k);
      releases.set(k, {
        ...r,
        createdAt: had?.createdAt ?? new Date().toISOString(),
        releasedBy: had?.releasedBy ?? null,
        releasedAt: had?.releasedAt ?? null,
        supersededBy: had?.supersededBy ?? null,
      });
    },
    async release(repo, environment, sha) {
      const r = releases.get(key(repositoryKey(repo), environment, sha));
      return r ? { ...r } : null;
    },
    async supersedePendingReleases(repo, environment, sha) {
      const superseded: string[] = [];
      for (const r of releases.values())
        if (
          repositoryKey(r.repo) === repositoryKey(repo) &&
          r.environment === environment &&
          r.sha !== sha &&
          !r.releasedAt &&
          !r.supersededBy
        ) {
          r.supersededBy = sha;
          superseded.push(r.sha);
        }
      return superseded;
    },
    async markReleased(repo, environment, sha, releasedBy) {
      const r = releases.get(key(repositoryKey(repo), environment, sha));
      if (!r || r.releasedAt || r.supersededBy) return false;
      Object.assign(r, { releasedBy, releasedAt: new Date().toISOString() });
      return true;
    },
    async recordAppliedPolicy(repo, environment, sha, policy) {
      appliedPolicies.set(key(repositoryKey(repo), environment), { sha, policy: { ...policy } });
    },
    async appliedPolicy(repo, environment) {
      const found = appliedPolicies.get(key(repositoryKey(repo), environment));
      return found ? { sha: found.sha, policy: { ...found.policy } } : null;
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Queue

export interface QueuedJob {
  id: string;
  task: string;
  key: string | null;
  payload: any;
}

export interface InMemoryJobQueue extends JobQueue {
  /** Jobs waiting, oldest first (of one task). */
  jobs(task?: string): QueuedJob[];
  /** A worker takes the oldest waiting job of a task: it is no longer waiting (nor replaceable). */
  take(task: string): QueuedJob | undefined;
}

/** The queue's keyed jobs as controller/store/job-queue.ts uses graphile-worker's: replace, or keep the waiting one. */
export function createInMemoryJobQueue(): InMemoryJobQueue {
  let waiting: QueuedJob[] = [];
  let n = 0;
  const add = (task: string, key: string, payload: unknown, mode: 'replace' | 'preserve'): QueuedJob => {
    const existing = waiting.find((j) => j.key === key);
    if (existing && mode === 'preserve') return existing;
    waiting = waiting.filter((j) => j !== existing);
    const job = { id: String(++n), task, key, payload: structuredClone(payload) };
    waiting.push(job);
    return job;
  };
  return {
    jobs: (task) => waiting.filter((j) => task === undefined || j.task === task),
    take(task) {
      const job = waiting.find((j) => j.task === task);
      waiting = waiting.filter((j) => j !== job);
      return job;
    },
    async waitingApply(repo, environment) {
      const key = `apply:${repositoryKey(repo)}:${environment}`;
      return (waiting.find((j) => j.key === key)?.payload as ApplyEnvironmentJob | undefined) ?? null;
    },
    async enqueueApply(job) {
      const key = `apply:${repositoryKey(job.repo)}:${job.environment}`;
      const replaced = waiting.find((j) => j.key === key)?.payload as ApplyEnvironmentJob | undefined;
      const shas = [...(job.supersedes ?? []), ...(replaced?.supersedes ?? []), ...(replaced ? [replaced.sha] : [])];
      // The commit being applied is never "superseded" by itself (a redelivered push queues the same sha again).
      const supersedes = [...new Set(shas)].filter((sha) => sha !== job.sha);
      const payload: ApplyEnvironmentJob = { ...job };
      if (supersedes.length) payload.supersedes = supersedes;
      else delete payload.supersedes;
      return { id: add(JOB_APPLY, key, payload, 'replace').id, supersedes };
    },
    async enqueuePlan(job) {
      const target = job.mergeGroup ? `@${job.mergeGroup.headRef}` : `#${job.pullNumber}`;
      const key = `plan:${repositoryKey(job.repo)}${target}${job.live ? ':live' : ''}`;
      return { id: add(JOB_PLAN_PR, key, job, 'replace').id };
    },
    async enqueueDrift(job) {
      return { id: add(JOB_DRIFT, `drift:${repositoryKey(job.repo)}:${job.environment}`, job, 'preserve').id };
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Reporter

export interface RecordingReporter extends Reporter {
  /** Every update of a check, in order. */
  history(sha: string, name: string): CheckUpdate[];
  /** The check as last reported. */
  latest(sha: string, name: string): CheckUpdate | undefined;
  /** Every check name reported on a commit. */
  names(sha: string): string[];
  comments: { pullNumber: number; body: string }[];
  /** Answers to comment commands, in order. */
  replies: { thread: { pullNumber: number } | { sha: string }; inReplyTo: number; body: string }[];
  reactions: { commentId: number; content: string }[];
  /** Merge commits of merged pull requests, by number (what `mergeCommit` answers). */
  merges: Map<number, string>;
  driftIssues: { environment: string; drift: DriftReport | null }[];
}

/** A reporter that keeps what it was told; a check is completed once it was last reported completed. */
export function createRecordingReporter(
  permissions: Record<string, Awaited<ReturnType<Reporter['permission']>>> = {},
): RecordingReporter {
  const checks = new Map<string, CheckUpdate[]>();
  const k = (sha: string, name: string) => `${sha}\0${name}`;
  const reporter: RecordingReporter = {
    comments: [],
    replies: [],
    reactions: [],
    merges: new Map(),
    driftIssues: [],
    history: (sha, name) => [...(checks.get(k(sha, name)) ?? [])],
    latest: (sha, name) => checks.get(k(sha, name))?.at(-1),
    names: (sha) => [...checks.keys()].filter((key) => key.startsWith(`${sha}\0`)).map((key) => key.split('\0')[1]),
    async check(ref: CheckRef, update) {
      const key = k(ref.sha, ref.name);
      checks.set(key, [...(checks.get(key) ?? []), update]);
    },
    async checkCompleted(ref) {
      return reporter.latest(ref.sha, ref.name)?.status === 'completed';
    },
    async stickyComment(_repo, pullNumber, body) {
      reporter.comments.push({ pullNumber, body });
    },
    async reaction(_repo, commentId, content) {
      reporter.reactions.push({ commentId, content });
    },
    async reply(_repo, thread, inReplyTo, body) {
      reporter.replies.push({ thread, inReplyTo, body });
    },
    async mergeCommit(_repo, pullNumber) {
      return reporter.merges.get(pullNumber) ?? null;
    },
    async driftIssue(_repo, environment, drift) {
      reporter.driftIssues.push({ environment, drift });
    },
    async permission(_repo, username) {
      return permissions[username] ?? 'none';
    },
  };
  return reporter;
}

// ---------------------------------------------------------------------------------------------------------------
// Deliveries

export function createInMemoryDeliveryRecords(): DeliveryRecords & {
  deliveries: Map<string, StoredDelivery & { outcome?: string }>;
  repositories: Set<string>;
} {
  const deliveries = new Map<string, StoredDelivery & { outcome?: string }>();
  const repositories = new Set<string>();
  return {
    deliveries,
    repositories,
    async load(id) {
      const d = deliveries.get(id);
      return d ? { id: d.id, event: d.event, payload: d.payload, processed: d.processed } : null;
    },
    async markProcessed(id, outcome) {
      const d = deliveries.get(id);
      if (d) Object.assign(d, { processed: true, outcome });
    },
    async registerRepositories(keys) {
      for (const key of keys) repositories.add(key);
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// All of them

export interface InMemoryJobs {
  deps: JobDeps;
  git: InMemoryGit;
  state: InMemoryStateStore;
  controllerStore: InMemoryControllerStore;
  queue: InMemoryJobQueue;
  reporter: RecordingReporter;
  close(): Promise<void>;
}

/** JobDeps over in-memory ports; hosts are reached with the real connector (tests use `local` hosts). */
export function inMemoryJobs(opts: { config?: Partial<ControllerConfig>; logger?: Logger } = {}): InMemoryJobs {
  const git = createInMemoryGit();
  const state = createInMemoryStateStore();
  const controllerStore = createInMemoryControllerStore(state);
  const queue = createInMemoryJobQueue();
  const reporter = createRecordingReporter();
  const config = {
    ...readConfig({ DATABASE_URL: 'postgres://unused/none', POLITBURO_PUBLIC_URL: 'http://pb.example' }),
    ...opts.config,
  };
  const deps: JobDeps = {
    store: state,
    controllerStore,
    queue,
    deliveries: createInMemoryDeliveryRecords(),
    reporter,
    git,
    config,
    logger: opts.logger ?? createLogger({ level: 'silent' }),
    connector: createHostConnector,
  };
  return { deps, git, state, controllerStore, queue, reporter, close: () => git.close() };
}
