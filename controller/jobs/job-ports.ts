/**
 * The ports the jobs use besides the engine's StateStore (kernel/types.ts), the git port and the reporter
 * (controller/ports.ts): the controller's own tables, and the queue. The composition root (controller/wiring.ts) picks
 * their implementations: PostgreSQL (controller/store/controller-store.ts, controller/store/job-queue.ts), or in
 * memory for the unit tests of the jobs' decisions.
 */
import type { Repository } from '../../kernel/repository.js';
import type { ApplyPolicy } from '../../kernel/types.js';
import type { ApplyEnvironmentJob, DriftEnvironmentJob, PlanPullRequestJob } from '../ports.js';

/** An environment's drift schedule as described (docs/language.md: `drift.schedule`, `drift.heal`). */
export interface DriftSchedule {
  repo: Repository;
  environment: string;
  schedule: string;
  heal: boolean;
}

/** The plan of an environment a pull request's comment shows (controller/store/pull-requests.ts). */
export interface PlannedHead {
  baseSha: string;
  headSha: string;
  /** Null: planned before plan hashes were kept, or not plannable (an invalid description). */
  planHash: string | null;
}

/** A pull request as last delivered (comments carry no head). */
export interface KnownPullRequest {
  headSha: string;
  baseSha: string;
  /** `owner/name` of the head's repository (a fork's differs), null when unknown. */
  headRepository: string | null;
}

/** A commit of a manual environment waiting for (or given) its release (docs/language.md, "Apply policy"). */
export interface Release {
  repo: Repository;
  environment: string;
  sha: string;
  /** What the commit's plan would change, as shown on its waiting check. */
  planSummary: string;
  createdAt: string;
  releasedBy: string | null;
  releasedAt: string | null;
  /** A newer waiting commit of the environment that carries this one's changes: this one is not released any more. */
  supersededBy: string | null;
}

/** The controller's own records: drift schedules and alerts, polled heads, pull requests and their plans. */
export interface ControllerStore {
  /** Records (or refreshes) drift schedules and announces the change to every replica's scheduler. */
  recordDriftSchedules(schedules: DriftSchedule[]): Promise<void>;
  /** Removes an environment's schedule (it is not described any more) and announces the change. */
  forgetDriftSchedule(repo: Repository, environment: string): Promise<void>;
  /** Every recorded schedule (`repository` is the repository key). */
  driftSchedules(): Promise<{ repository: string; environment: string; schedule: string }[]>;
  /** Claims one tick of a schedule: its repository and heal setting, or null when another replica had it. */
  claimDriftTick(
    repository: string,
    environment: string,
    tick: Date,
  ): Promise<{ repo: Repository; heal: boolean } | null>;
  /** Calls `changed` whenever a schedule is recorded or forgotten, by any replica; `onLost` on a lost listener. */
  onDriftSchedulesChanged(
    changed: () => void,
    opts?: { retryMs?: number; onLost?: (err: string) => void },
  ): { stop(): void };
  /** The repository and last applied commit of a scheduled environment (the dashboard draws it as described there). */
  appliedEnvironmentSource(repository: string, environment: string): Promise<{ repo: Repository; sha: string } | null>;
  /**
   * Records the environment's drift alert fingerprint (null: the drift is resolved); false when nothing changed since
   * the last alert, which is then not sent again.
   */
  driftAlertChanged(repo: Repository, environment: string, fingerprint: string | null): Promise<boolean>;
  /** Records `sha` as a polled branch's head: false when it already was, else the previous head (null: first time). */
  claimPollHead(repository: string, branch: string, sha: string): Promise<string | null | false>;
  /** Undoes a claim that was not handled (back to `previous`), so the next poll tries `sha` again. */
  releasePollHead(repository: string, branch: string, sha: string, previous: string | null): Promise<void>;
  rememberPullRequest(repo: Repository, pullNumber: number, pr: KnownPullRequest): Promise<void>;
  knownPullRequest(repo: Repository, pullNumber: number): Promise<KnownPullRequest | null>;
  /**
   * Records the plans of a head; returns the plans of other heads just superseded (their checks are to be finished).
   */
  recordPlannedHead(plan: {
    repo: Repository;
    pullNumber: number;
    baseSha: string;
    headSha: string;
    environments: string[];
    /** The hash of each environment's plan (controller/jobs/plan-hash.ts), when it could be planned. */
    planHashes?: Record<string, string>;
  }): Promise<{ environment: string; headSha: string }[]>;
  /**
   * The environment's plan the pull request's comment shows (the latest head not superseded), or null when none: what
   * `/politburo apply ENV` on the pull request may apply.
   */
  plannedHead(repo: Repository, pullNumber: number, environment: string): Promise<PlannedHead | null>;
  /** Records a commit of a manual environment as waiting for release (again: its summary is refreshed). */
  recordPendingRelease(release: {
    repo: Repository;
    environment: string;
    sha: string;
    planSummary: string;
  }): Promise<void>;
  /** The release recorded for a commit of an environment, or null. */
  release(repo: Repository, environment: string, sha: string): Promise<Release | null>;
  /** Marks the environment's other pending releases superseded by `sha` (a newer commit waits); returns them. */
  supersedePendingReleases(repo: Repository, environment: string, sha: string): Promise<string[]>;
  /**
   * Marks a pending release released by `releasedBy`; false when it was already released, superseded, or never
   * recorded.
   */
  markReleased(repo: Repository, environment: string, sha: string, releasedBy: string): Promise<boolean>;
  /** Records the apply policy described at a commit the apply job ran (docs/language.md, "Apply policy"). */
  recordAppliedPolicy(repo: Repository, environment: string, sha: string, policy: ApplyPolicy): Promise<void>;
  /** The policy recorded by the last apply of the environment, with its commit; null when none was recorded. */
  appliedPolicy(repo: Repository, environment: string): Promise<{ sha: string; policy: ApplyPolicy } | null>;
}

/** Adding the jobs' jobs to the durable queue. */
export interface JobQueue {
  /**
   * Queues an `apply-environment` job. A queued (not yet running) apply of the same environment is replaced; its
   * commit and those it had replaced are returned (and carried in the payload) as `supersedes`.
   */
  enqueueApply(job: ApplyEnvironmentJob): Promise<{ id: string; supersedes: string[] }>;
  /** Queues a `plan-pull-request` job; a queued older plan of the same pull request is replaced. */
  enqueuePlan(job: PlanPullRequestJob): Promise<{ id: string }>;
  /** Queues a `drift-environment` job unless one is already waiting for the environment. */
  enqueueDrift(job: DriftEnvironmentJob): Promise<{ id: string }>;
  /**
   * The apply of the environment waiting in its queue (not running yet), or null: an apply from a pull request is
   * refused while one waits, since it would take its place. Optional: without it, nothing is known to wait.
   */
  waitingApply?(repo: Repository, environment: string): Promise<ApplyEnvironmentJob | null>;
}

/**
 * Cancellation of a running apply asked for from elsewhere (the dashboard's Cancel, docs/controller.md "The
 * dashboard"): `watch` is called before the engine starts the run; its signal is aborted when a cancel of this
 * process's running run of the environment is requested (the engine then starts nothing new and gives running tasks
 * their grace, as Ctrl-C does). `stop` ends the watch once the run is over.
 */
export interface RunCancellations {
  watch(repository: string, environment: string): { signal: AbortSignal; stop(): void };
}
