/**
 * Core types of Politburo, shared by the language (schema/), the engine (reconciler/) and the controller.
 *
 * Terminology
 * - environment: a named, resolved instance of a blueprint (directly or through `extends`), with its own hosts.
 * - resource:    an entry of an environment's tree; a *group* (has `resources`) or a *node* (has roles/tasks).
 * - node:        a resource instance bound to exactly one host; the unit that is configured, planned and recorded.
 * - group:       a resource that only contains other resources; it is `ready` when everything under it is.
 * - role:        a reusable, composable bundle of tasks.
 * - task:        one Babushka dep with arguments, or a shell task (an idempotent `met`/`meet` command pair).
 * - plan:        what an apply would do to every node: create, update, unchanged or terminate. Pure, contacts no host.
 * - run:         one recorded execution against hosts: an apply, a drift check or a live plan.
 * - drift:       a dry-run found tasks that are no longer met on a host.
 */

/** Where something came from in the description, for error messages and annotations (1-based line/column). */
export interface SourcePos {
  file: string;
  line: number;
  column: number;
}

/** One validation problem; rendered as `FILE:LINE:COLUMN: message`. */
export interface ValidationError extends SourcePos {
  message: string;
}

export type LifecycleState =
  | 'defined'
  | 'provisioning'
  | 'provisioned'
  | 'configuring'
  | 'ready'
  | 'failed'
  | 'blocked'
  | 'drifted'
  | 'terminating'
  | 'terminated';

/** The states a `depends_on` may wait for. */
export type DependencyState = 'provisioned' | 'ready';

export interface BabushkaTask {
  kind: 'babushka';
  /** Display name: the dep name. */
  name: string;
  dep: string;
  /**
   * Resolved arguments, sorted by key. Values are strings; `${secret.NAME}` stays symbolic (never resolved into a plan
   * or a hash), and `${address(PATH)}` / `${addresses(PATH)}` of on-demand hosts stay symbolic until provisioning.
   */
  args: Record<string, string>;
  /** Privilege escalation, when the task runs through sudo. */
  become?: BecomeSpec;
  source: SourcePos;
}

export interface ShellTask {
  kind: 'shell';
  name: string;
  met: string;
  meet: string;
  /** Privilege escalation, when the task runs through sudo. */
  become?: BecomeSpec;
  source: SourcePos;
}

/** How a task escalates its privileges (docs/language.md, "Privilege escalation"). */
export interface BecomeSpec {
  method: 'sudo';
  /** The user the task runs as (default root). */
  user: string;
  /** `${secret.NAME}`: the SSH user's sudo password, resolved only when the task runs (never stored or hashed). */
  password?: string;
}

export type TaskSpec = BabushkaTask | ShellTask;

export interface ProviderSpec {
  /** Paths of executables relative to the repository root. */
  create: string;
  destroy: string;
  source: SourcePos;
}

/** How a node reaches its host. */
export type HostBinding =
  | { kind: 'static'; address: string; port?: number; user?: string; jump?: string[]; source: SourcePos }
  | { kind: 'local'; source: SourcePos }
  | { kind: 'provider'; provider: ProviderSpec; port?: number; user?: string; jump?: string[] };
// `port` and `user` absent: as OpenSSH chooses them (ssh_config's Port and User, else 22 and the local user);
// `jump`: jump hosts `[user@]host[:port]`, outermost first (docs/language.md, "Jump hosts").

export interface Dependency {
  /** A node path (groups and multi-instance paths are expanded to every node under them). */
  path: string;
  state: DependencyState;
  /**
   * explicit: the node's own depends_on; inherited: declared on an enclosing group; implicit: from
   * address()/addresses().
   */
  kind: 'explicit' | 'inherited' | 'implicit';
  source: SourcePos;
}

export interface ResolvedNode {
  /** Path from the environment root, e.g. `database/replica-1`. */
  path: string;
  /** Last path segment, e.g. `replica-1`. */
  name: string;
  /** 1-based instance index for `count`, undefined otherwise. */
  index?: number;
  host: HostBinding;
  /** Role tasks (recursively, each once, in order) followed by the node's own. */
  tasks: TaskSpec[];
  dependsOn: Dependency[];
  source: SourcePos;
  /** Stable hash of host, tasks and resolved arguments (see kernel/spec-hash.ts). */
  specHash: string;
  /** Rolling batches (docs/language.md): set when the node belongs to a rollout group. Not part of the spec hash. */
  rollout?: Rollout;
}

/** A node's rollout group and its settings, percentages already resolved against the group's size. */
export interface Rollout {
  /** Path of the resource that declares `rollout` (its instances' nodes, or every node under it, form the group). */
  group: string;
  /** Nodes released at a time (at least 1). */
  batch: number;
  /** Failures tolerated; one more stops the rollout. */
  maxFailures: number;
  /** Nodes in the group (in the environment, not only in one run). */
  size: number;
  source: SourcePos;
}

/** Where and why a rollout stopped in a run. */
export interface RolloutStop {
  group: string;
  /** 1-based batch during which the failures exceeded the budget (the last batch released). */
  batch: number;
  /** Batches of the group in this run. */
  batches: number;
  failures: number;
  maxFailures: number;
  /** Failed nodes of the group. */
  failed: string[];
  /** Nodes of the group that never started (recorded blocked). */
  blocked: string[];
  /** `rollout of web stopped after batch 2 of 3: 1 failure exceeds max_failures 0`. */
  reason: string;
}

export interface EnvironmentDefaults {
  /** Absent: as OpenSSH chooses (ssh_config, else the local user and port 22). */
  ssh: { user?: string; port?: number };
  concurrency: number;
  /** Per-task timeout. */
  timeoutMs: number;
}

/** An environment's apply policy (docs/language.md, "Apply policy"). */
export interface ApplyPolicy {
  apply: 'auto' | 'manual';
  suspend: boolean;
  /**
   * `/politburo apply ENV` on an open pull request may apply its head before merge (docs/language.md, "Apply from a
   * pull request"). Absent means false.
   */
  applyFromPullRequest?: boolean;
}

export interface ResolvedEnvironment {
  name: string;
  /** Commits on this branch are applied; undefined means the repository's default branch. */
  branch?: string;
  defaults: EnvironmentDefaults;
  params: Record<string, unknown>;
  /** Every node, in tree order (instances in index order). */
  nodes: ResolvedNode[];
  /** Every group path, in tree order. */
  groups: string[];
  /** known_hosts file relative to the repository root, when set. */
  knownHosts?: string;
  /** OpenSSH client configuration file relative to the repository root, when set (docs/language.md). */
  sshConfig?: string;
  drift: { schedule: string; heal: boolean };
  /**
   * When commits are applied (docs/language.md, "Apply policy"): `auto` at once, `manual` once released; `suspend`
   * stops applies and heals (drift is still checked). Absent means `{ apply: 'auto', suspend: false }`.
   */
  policy?: ApplyPolicy;
  /** Deps directory relative to the repository root (default `babushka-deps`). */
  depsDir: string;
  provider?: ProviderSpec;
  source: SourcePos;
}

/** A whole description: every environment resolved, and the files it came from. */
export interface Description {
  /** Absolute path of the repository checkout. */
  root: string;
  /** Files read, relative to root, main file first. */
  files: string[];
  environments: Map<string, ResolvedEnvironment>;
  depsDir: string;
}

export type LoadResult = { ok: true; description: Description } | { ok: false; errors: ValidationError[] };

// ---------------------------------------------------------------------------------------------------------------
// Recorded state (Postgres) and plans

export type TaskOutcome = 'already met' | 'met' | 'failed' | 'unmet' | 'skipped';

export interface TaskResult {
  name: string;
  outcome: TaskOutcome;
  /** Human message; for failures the tail of the output (secrets redacted). */
  message?: string;
  durationMs?: number;
}

export interface RecordedNode {
  path: string;
  /** Address the node was last bound to (`local` for local hosts), null when never provisioned. */
  host: string | null;
  port?: number | null;
  user?: string | null;
  specHash: string;
  /** The resolved tasks last applied, so an update can say which tasks changed. */
  tasks: TaskSpec[];
  state: LifecycleState;
  reason?: string | null;
  lastAppliedCommit: string | null;
  lastRunId: string | null;
  updatedAt?: string;
  /** The known_hosts line of the host key a provider's create printed for this host, trusted again on later runs. */
  hostKey?: string | null;
}

export type PlanAction = 'create' | 'update' | 'unchanged' | 'terminate';

export interface PlannedNode {
  path: string;
  host: string | null;
  action: PlanAction;
  /** Human-readable reasons for an update: which tasks or arguments changed, host changes. */
  changes: string[];
  /** The differences of a changed spec, structured (docs/cli.md, `plan --json`); absent when the spec is unchanged. */
  diff?: PlanChange[];
  /** Absent for terminate. */
  node?: ResolvedNode;
  recorded?: RecordedNode;
}

/** One difference between a node's applied spec and its description. Values as plans show them (secrets symbolic). */
export interface PlanChange {
  /** The host binding (host, port, user), one task, the order of the tasks, or the tasks of an unreadable record. */
  subject: 'host' | 'port' | 'user' | 'task' | 'task order' | 'tasks';
  change: 'added' | 'removed' | 'changed';
  /** The task's name, for task changes. */
  task?: string;
  /** What differs in a changed task: an argument's name, `met`, `meet`, `become` or `kind`. */
  field?: string;
  /** Before and after (null: unset); for a command, the parts that differ. Absent when not known. */
  before?: string | null;
  after?: string | null;
  /** How many times this difference occurs in a command, when more than once. */
  places?: number;
}

export interface Plan {
  environment: string;
  commit: string | null;
  nodes: PlannedNode[];
  summary: Record<PlanAction, number>;
}

// ---------------------------------------------------------------------------------------------------------------
// Ports: what touches the world

export type RunKind = 'apply' | 'drift' | 'plan-live';
export type RunStatus = 'running' | 'succeeded' | 'failed' | 'cancelled';

export interface RunRecord {
  id: string;
  repository: string;
  environment: string;
  commit: string | null;
  kind: RunKind;
  status: RunStatus;
  trigger: string;
  startedAt: string;
  finishedAt: string | null;
  summary: Record<string, number> | null;
}

export interface NodeUpdate {
  state: LifecycleState;
  reason?: string | null;
  host?: string | null;
  port?: number | null;
  user?: string | null;
  /** The known_hosts line of a provided host key (null clears it; absent leaves it as is). */
  hostKey?: string | null;
  /** Set when a node became ready through an apply: the spec now recorded as applied. */
  applied?: { specHash: string; tasks: TaskSpec[]; commit: string | null };
}

export interface NodeRunRecord {
  runId: string;
  path: string;
  host: string | null;
  state: LifecycleState;
  reason: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  tasks: (TaskResult & { startedAt?: string })[];
  log: string;
}

/** The state store. Identified by (repository, environment). Repository is a URL or absolute path. */
export interface StateStore {
  /** Recorded nodes of an environment (terminated nodes excluded). */
  recordedNodes(repository: string, environment: string): Promise<RecordedNode[]>;
  /** Environments recorded for a repository (or all repositories). */
  environments(
    repository?: string,
  ): Promise<{ repository: string; environment: string; lastCommit: string | null; updatedAt: string }[]>;
  startRun(input: {
    repository: string;
    environment: string;
    commit: string | null;
    kind: RunKind;
    trigger: string;
  }): Promise<RunRecord>;
  /**
   * Records a node's new lifecycle state (and, for applies, what is now applied). Terminated nodes are removed from
   * recordedNodes.
   */
  updateNode(
    repository: string,
    environment: string,
    path: string,
    update: NodeUpdate & { runId?: string },
  ): Promise<void>;
  /** Records one task outcome of a node in a run. */
  recordTask(runId: string, path: string, result: TaskResult & { startedAt?: string }): Promise<void>;
  /** Appends to a node's log within a run (already redacted). */
  appendLog(runId: string, path: string, text: string): Promise<void>;
  /**
   * Records the task a node of a running run is working on, for live views (docs/controller.md, "Live updates"); it is
   * cleared when the task's outcome or the node's final state is recorded. Absent: running tasks are not shown.
   */
  taskStarted?(runId: string, path: string, task: string): Promise<void>;
  finishRun(runId: string, status: RunStatus, summary: Record<string, number>): Promise<void>;
  getRun(runId: string): Promise<RunRecord | null>;
  listRuns(filter: { repository?: string; environment?: string; limit?: number }): Promise<RunRecord[]>;
  nodeRuns(runId: string): Promise<NodeRunRecord[]>;
  /** Per task name: runs where it was attempted and runs where it succeeded, for "% successful runs". */
  taskSuccessRates(
    repository: string,
    environment: string,
  ): Promise<{ task: string; runs: number; succeeded: number }[]>;
  /** Mutual exclusion of an environment's runs across processes (absent: the store cannot lock, runs never wait). */
  readonly locks?: EnvironmentLocks;
  close(): Promise<void>;
}

/** The owner of a run's lease: the process running it, and how long its heartbeat stays valid. */
export interface RunOwner {
  host: string;
  pid: number;
  leaseMs: number;
}

/** A running run as another process sees it: its owner and how long it has been silent (database clock). */
export interface RunLease {
  id: string;
  kind: RunKind;
  ownerHost: string | null;
  ownerPid: number | null;
  silentMs: number;
  leaseMs: number;
}

/** What claiming a run did: closed the dead runs, then started the run or found the live ones it must wait for. */
export type RunClaim = { run: RunRecord; closed: RunLease[] } | { live: RunLease[]; closed: RunLease[] };

/**
 * Runs of one environment never overlap, across processes (see reconciler/run-lock.ts). The session lock is the fast
 * path for waiting; the run record, a lease its owner renews, is what keeps a second run out.
 */
export interface EnvironmentLocks {
  /** Waits for (calling `onWait` first) and takes the environment's session lock; `onLost` when its connection dies. */
  acquire(
    repository: string,
    environment: string,
    opts?: { signal?: AbortSignal; onWait?(): void; onLost?(err: Error): void },
  ): Promise<{ release(): Promise<void> }>;
  /** Atomically closes the environment's dead runs and, when no live run is left, starts this one owned by `owner`. */
  claimRun(
    input: { repository: string; environment: string; commit: string | null; kind: RunKind; trigger: string },
    owner: RunOwner,
    isDead: (lease: RunLease) => boolean,
  ): Promise<RunClaim>;
  /** Renews a run's heartbeat; false when the run is no longer running (another process closed it). */
  renewRun(runId: string): Promise<boolean>;
  /** Closes the running runs (of one environment, or all) whose lease expired or whose owner `isDead`; returns them. */
  closeDeadRuns(
    filter: { repository?: string; environment?: string },
    isDead: (lease: RunLease) => boolean,
  ): Promise<RunLease[]>;
}

/** Result of one command on a host. */
export interface ExecResult {
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** A connection to one host, reused for every step of a run. */
export interface HostConnection {
  readonly address: string;
  exec(command: string, opts?: { timeoutMs?: number; signal?: AbortSignal }): Promise<ExecResult>;
  /** Makes sure `localDir` (content hash `hash`) is present on the host; returns the remote directory path. */
  ensureDeps(localDir: string, hash: string): Promise<string>;
  /**
   * Where ensureDeps puts a deps directory of content `hash`, as a path a command on this connection can `cd` into,
   * without looking whether it is there: a read-only check folds that test into its own command (its `cd` fails when
   * the deps are missing). Absent when the connection cannot say.
   */
  depsDirFor?(hash: string): string;
  /**
   * Starts `command` (one that runs Babushka, as a task would) ahead of time, held before Babushka loads a dep, until an
   * `exec` of exactly this command releases it (docs/babushka.md, "Started ahead"). Best effort; absent when the
   * connection cannot hold. Says whether it started one (not when this command is held already, say for another node).
   */
  hold?(command: string): boolean;
  /** Ends a command held by `hold` that will not run (its processes are killed); nothing when there is none. */
  discard?(command: string): void;
  close(): Promise<void>;
}

export type FailureReason =
  | 'HostUnreachable'
  | 'HostKeyMismatch'
  | 'HostKeyUnknown'
  | 'AuthenticationFailed'
  | 'TaskFailed'
  | 'TaskTimeout'
  | 'DependencyFailed'
  | 'InvalidSpec'
  | 'ProvisionFailed'
  | 'Interrupted';

/** An error that carries a reason constant and a message that tells the user what to do. */
export class PolitburoError extends Error {
  constructor(
    readonly reason: FailureReason,
    message: string,
  ) {
    super(message);
    this.name = 'PolitburoError';
  }
}

/** Opens connections to hosts; one connection per host per run, shared by every step (see hosts/). */
export interface HostConnector {
  connect(
    target:
      | { kind: 'local' }
      | { kind: 'ssh'; address: string; port?: number; user?: string; hostKeyAlias?: string; jump?: string[] },
  ): Promise<HostConnection>;
  /** Connections opened so far, by address (benchmarks and tests check one per host). */
  stats(): { connections: Record<string, number> };
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------------------------
// Results of runs, as the CLI prints them (`--json`) and the controller reports them

export interface NodeResult {
  path: string;
  host: string | null;
  /** The plan action that brought the node into the run (absent for drift of unchanged nodes). */
  action?: PlanAction;
  state: LifecycleState;
  reason?: string;
  tasks: TaskResult[];
  startedAt?: string;
  finishedAt?: string;
  /** Drift: the commit whose description the node was checked at (the one it was last applied from). */
  commit?: string | null;
}

/** A recorded node a drift check could not look at, and why (never applied, no host, its commit cannot be loaded). */
export interface UncheckedNode {
  path: string;
  host: string | null;
  reason: string;
}

export interface RunResult {
  runId: string | null;
  kind: RunKind;
  environment: string;
  commit: string | null;
  status: RunStatus;
  nodes: NodeResult[];
  /** Count of nodes by lifecycle state (at least ready, drifted, failed, blocked). */
  summary: Record<string, number>;
  durationMs: number;
  /** Drift: recorded nodes that could not be checked (a drift check with any is never "no drift"). */
  unchecked?: UncheckedNode[];
  /** Rollouts that stopped because failures exceeded their budget (absent when none did). */
  rollouts?: RolloutStop[];
}

/** Progress events of a run, for live terminal output, logs and the dashboard. */
export type RunEvent =
  | { type: 'node-waiting'; path: string; waitingFor: string[] }
  | { type: 'node-started'; path: string; host: string | null }
  | { type: 'node-state'; path: string; state: LifecycleState; reason?: string }
  | { type: 'task-started'; path: string; task: string }
  | { type: 'task-finished'; path: string; result: TaskResult }
  | { type: 'node-finished'; path: string; state: LifecycleState; reason?: string };
