/**
 * Fans changes out to the dashboard's event streams (docs/controller.md, "Live updates"). Streams of the same page
 * share a topic (one run, one environment, or everything for the lists). The change feed says when a run starts or
 * ends, in any process; while a run a topic shows is running, the topic reads what changed since its last read
 * (node_runs.changed_at, task result ids, nodes.updated_at) twice a second (a run) or every two seconds (environments),
 * once for all its streams, and sends each stream the same JSON. Every stream starts with a snapshot, and gets a new one
 * after the feed was down. Logs travel as text in JSON with their offset in the stored log, so a client that got an
 * overlapping piece (a snapshot read a moment before an update) appends only what it lacks.
 */
import type pg from 'pg';
import type { LifecycleState, RunRecord } from '../../kernel/types.js';
import { STATE_COLOURS } from '../../render/graph/state-colours.js';
import {
  liveEnvironments,
  liveNodeRunCount,
  liveRunningRuns,
  liveNodeRuns,
  liveNodes,
  liveRun,
  liveRuns,
  liveTasks,
  STORED_LOG_LIMIT,
  type LiveEnvironment,
  type LiveNode,
  type LiveNodeRun,
  type LiveTask,
} from '../store/live-changes.js';
import { liveNodePaths } from '../store/live-node-paths.js';
import { overviewSignature, statusSignature } from './status-data.js';
import type { Change, ChangeFeed } from './live-feed.js';
import { environmentUrl, runUrl } from './links.js';
import { duration, releasedBy, runOutcome, shortSha, summaryText, when } from './widgets.js';

/** Most characters of a log in one message; a bigger piece is cut to its end, saying how much was left out. */
export const LOG_CHUNK_CHARS = 16 * 1024;
/** Most characters of logs one stream receives (snapshots included); then its logs say "capped". */
export const STREAM_LOG_BUDGET = 2 * 1024 * 1024;
/** Runs in a list snapshot, and recorded nodes in an environment's. */
const LIST_RUNS = 50;
const ENV_NODES = 2000;

export interface LiveStream {
  send(event: string, data: unknown): void;
  /** Whether the viewer may read this repository. */
  canRead(repository: string): Promise<boolean>;
  /** Characters of log it may still receive. */
  logBudget: number;
  /** Paths whose log was capped for this stream. */
  capped: Set<string>;
}

const colour = (state: LifecycleState) => STATE_COLOURS[state] ?? STATE_COLOURS.defined;

/** A run as the runs tables show it. */
export function runJson(r: RunRecord) {
  const outcome = runOutcome(r);
  return {
    id: r.id,
    url: runUrl(r.id),
    repository: r.repository,
    environment: r.environment,
    environmentUrl: environmentUrl(r.repository, r.environment),
    kind: r.kind,
    status: r.status,
    // The badge says what a drift check found rather than "succeeded" (widgets.ts runOutcome).
    label: outcome.text,
    badgeClass: `state run-${outcome.text.replace(/ /g, '-')}`,
    colour: colour(outcome.state),
    commit: r.commit,
    shortCommit: shortSha(r.commit),
    // ISO times, for the run page's timeline (assets/live-client.ts places bars from them).
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
    started: when(r.startedAt),
    finished: when(r.finishedAt),
    took: r.finishedAt ? duration(Date.parse(r.finishedAt) - Date.parse(r.startedAt)) : 'running',
    summary: summaryText(r.summary),
    trigger: r.trigger,
    releasedBy: releasedBy(r.trigger) ?? '-',
  };
}

/** A node of a run; `now` is the database's time of the read, so the page can extend a running node's bar. */
function nodeRunJson(n: LiveNodeRun, now: string) {
  return {
    path: n.path,
    host: n.host,
    state: n.state,
    colour: colour(n.state),
    reason: n.reason ? n.reason.split('\n')[0] : '',
    task: n.task,
    started: when(n.startedAt),
    took: n.startedAt && n.finishedAt ? duration(Date.parse(n.finishedAt) - Date.parse(n.startedAt)) : '',
    startedAt: n.startedAt,
    finishedAt: n.finishedAt,
    now,
  };
}

function taskJson(t: LiveTask) {
  return {
    id: t.id,
    path: t.path,
    name: t.name,
    outcome: t.outcome,
    message: t.message ?? '',
    took: t.durationMs !== null ? duration(t.durationMs) : '',
  };
}

function environmentJson(e: LiveEnvironment, status?: string) {
  return {
    ...(status !== undefined ? { status } : {}),
    repository: e.repository,
    environment: e.environment,
    url: environmentUrl(e.repository, e.environment),
    nodes: e.nodes,
    states: (Object.entries(e.states) as [LifecycleState, number][]).map(([state, count]) => ({
      state,
      count,
      colour: colour(state),
    })),
    lastCommit: shortSha(e.lastCommit),
    updated: when(e.updatedAt),
  };
}

function nodeJson(n: LiveNode) {
  return {
    path: n.path,
    host: n.host,
    state: n.state,
    colour: colour(n.state),
    reason: (n.reason ?? '').split('\n')[0],
    lastCommit: shortSha(n.lastAppliedCommit),
    lastRunId: n.lastRunId,
    lastRunUrl: n.lastRunId ? runUrl(n.lastRunId) : null,
    updated: when(n.updatedAt),
  };
}

/** A log piece for one stream, within its budget: `{path, from, text, length}` or `{path, capped: true}`. */
function logFor(
  s: LiveStream,
  path: string,
  piece: { from: number; text: string; length: number; skipped?: number },
): unknown {
  if (s.capped.has(path)) return null;
  if (piece.text.length > s.logBudget || piece.length >= STORED_LOG_LIMIT) {
    s.capped.add(path);
    return { path, capped: true };
  }
  s.logBudget -= piece.text.length;
  return { path, ...piece };
}

/** How often a topic reads what changed while a run it shows is running. */
const POLL_RUN_MS = 500;
const POLL_LIST_MS = 2000;
/**
 * How often an environment's topic reads its status signature (status-data.ts statusSignature: pushes, releases,
 * policy) when no run of it is running; while one is, it is read with the nodes.
 */
export const STATUS_POLL_MS = 5000;
/** Rows are read again this long after they changed: a write's commit may come a moment after its timestamp. */
const MARGIN_MS = 3000;

const before = (iso: string | null): string | null =>
  iso === null ? null : new Date(Date.parse(iso) - MARGIN_MS).toISOString();

abstract class Topic {
  readonly streams = new Set<LiveStream>();
  private timer: NodeJS.Timeout | null = null;
  private due = 0;
  private chain: Promise<void> = Promise.resolve();
  private resyncAll = false;

  constructor(
    protected readonly db: pg.Pool,
    private readonly onError: (err: Error) => void,
  ) {}

  /** Queues work after everything queued before (reads of one topic never interleave). */
  private serial(fn: () => Promise<void>): Promise<void> {
    this.chain = this.chain.then(fn).catch((err: Error) => this.onError(err));
    return this.chain;
  }

  /** Reads and sends what changed within `delayMs` (sooner if already due sooner). */
  protected wake(delayMs: number): void {
    if (this.streams.size === 0) return;
    const due = Date.now() + delayMs;
    if (this.timer && this.due <= due) return;
    if (this.timer) clearTimeout(this.timer);
    this.due = due;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.serial(async () => {
        if (this.resyncAll) {
          this.resyncAll = false;
          for (const s of this.streams) await this.snapshot(s, false);
        } else await this.flush();
      }).then(() => {
        const next = this.pollMs();
        if (next !== null) this.wake(next);
      });
    }, delayMs);
    this.timer.unref();
  }

  add(s: LiveStream, resumed: boolean): Promise<void> {
    this.streams.add(s);
    // A snapshot that cannot be read fails the join (the stream ends and the browser reconnects); later work goes on.
    const done = this.chain.then(() => this.snapshot(s, resumed));
    this.chain = done.catch(() => undefined);
    return done.then(() => {
      const next = this.pollMs();
      if (next !== null) this.wake(next);
    });
  }

  remove(s: LiveStream): void {
    this.streams.delete(s);
    if (this.streams.size === 0 && this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }

  resync(): void {
    this.resyncAll = true;
    this.wake(0);
  }

  protected broadcast(event: string, data: unknown): void {
    for (const s of this.streams) s.send(event, data);
  }

  abstract change(c: Change): void;
  /** While something it shows is running: how often to read again; null when nothing is running. */
  protected abstract pollMs(): number | null;
  protected abstract snapshot(s: LiveStream, resumed: boolean): Promise<void>;
  protected abstract flush(): Promise<void>;
}

/** What a node's event says, to send it only when it changed. */
const nodeRunSignature = (n: LiveNodeRun) =>
  JSON.stringify([n.state, n.host, n.reason, n.task, n.startedAt, n.finishedAt]);

/** One run: its status, node states, running tasks, task results and logs. */
export class RunTopic extends Topic {
  private readonly sent = new Map<string, number>();
  private readonly signatures = new Map<string, string>();
  private lastTaskId = '0';
  private since: string | null = null;
  private primed = false;
  private running = true;
  /** One more read after the run ended: its last writes. */
  private finalRead = false;
  private dirtyRun = false;

  constructor(
    db: pg.Pool,
    readonly runId: string,
    onError: (err: Error) => void,
  ) {
    super(db, onError);
  }

  change(c: Change): void {
    if (c.run !== this.runId) return;
    this.dirtyRun = true;
    this.wake(100);
  }

  protected pollMs(): number | null {
    return this.running || this.finalRead ? POLL_RUN_MS : null;
  }

  protected async snapshot(s: LiveStream, resumed: boolean): Promise<void> {
    const run = await liveRun(this.db, this.runId);
    if (!run) return s.send('gone', { run: this.runId });
    const [{ nodes, now }, tasks] = await Promise.all([
      // The end of each log, as much as the stream's budget allows for all of them (a run may have 10,000 nodes).
      liveNodeRunCount(this.db, this.runId).then((count) =>
        liveNodeRuns(this.db, this.runId, {
          maxChars: Math.min(LOG_CHUNK_CHARS, Math.floor(s.logBudget / Math.max(1, count))),
        }),
      ),
      liveTasks(this.db, this.runId, '0'),
    ]);
    this.running = run.status === 'running'; // also after the feed was down and the run's end not announced
    if (!this.primed) {
      this.primed = true;
      this.since = now;
      for (const n of nodes) {
        this.sent.set(n.path, n.logLength);
        this.signatures.set(n.path, nodeRunSignature(n));
      }
      this.lastTaskId = tasks.length ? tasks[tasks.length - 1].id : '0';
    }
    s.send('snapshot', {
      resumed,
      run: runJson(run),
      now,
      nodes: nodes.map((n) => ({
        ...nodeRunJson(n, now),
        log: logFor(s, n.path, { from: n.logFrom, text: n.logText, length: n.logLength }),
      })),
      tasks: tasks.map(taskJson),
    });
  }

  protected async flush(): Promise<void> {
    if (this.dirtyRun) {
      this.dirtyRun = false;
      const run = await liveRun(this.db, this.runId);
      if (run) {
        this.broadcast('run', runJson(run));
        const running = run.status === 'running';
        if (this.running && !running) this.finalRead = true;
        this.running = running;
      }
    } else if (!this.running) this.finalRead = false;
    const { nodes, now } = await liveNodeRuns(this.db, this.runId, {
      since: before(this.since),
      from: this.sent,
      maxChars: LOG_CHUNK_CHARS,
    });
    this.since = now;
    for (const n of nodes) {
      const signature = nodeRunSignature(n);
      if (this.signatures.get(n.path) !== signature) {
        this.signatures.set(n.path, signature);
        this.broadcast('node', nodeRunJson(n, now));
      }
      const sent = this.sent.get(n.path) ?? 0;
      if (n.logLength > sent || (n.logLength >= STORED_LOG_LIMIT && n.logText)) {
        const piece = { from: n.logFrom, text: n.logText, length: n.logLength, skipped: n.logFrom - sent };
        if (piece.skipped <= 0) delete (piece as { skipped?: number }).skipped;
        this.sent.set(n.path, n.logLength);
        for (const s of this.streams) {
          const log = logFor(s, n.path, piece);
          if (log) s.send('log', log);
        }
      }
    }
    const tasks = await liveTasks(this.db, this.runId, this.lastTaskId);
    if (tasks.length) this.lastTaskId = tasks[tasks.length - 1].id;
    for (const t of tasks) this.broadcast('task', taskJson(t));
  }
}

/** What a recorded node's event says. */
const nodeSignature = (n: LiveNode) => JSON.stringify([n.state, n.host, n.reason, n.lastAppliedCommit, n.lastRunId]);

/** One environment: its summary, recorded nodes (changed, and removed: `removed`) and runs. */
export class EnvironmentTopic extends Topic {
  private since: string | null = null;
  private readonly signatures = new Map<string, string>();
  private readonly running = new Set<string>();
  private finalRead = false;
  private readonly dirtyRuns = new Set<string>();
  /** The status signature last sent (statusSignature), and whose it is. */
  private status: string | null = null;
  private names: { repository: string; environment: string } | null = null;

  constructor(
    db: pg.Pool,
    readonly environmentId: string,
    onError: (err: Error) => void,
  ) {
    super(db, onError);
  }

  change(c: Change): void {
    if (c.env !== this.environmentId || !c.run) return;
    this.dirtyRuns.add(c.run);
    this.wake(100);
  }

  protected pollMs(): number | null {
    return this.running.size || this.finalRead ? POLL_LIST_MS : STATUS_POLL_MS;
  }

  /** Reads the status signature; true when it changed since the last one sent. */
  private async statusChanged(): Promise<boolean> {
    if (!this.names) return false;
    const status = await statusSignature(this.db, this.names.repository, this.names.environment);
    if (status === this.status) return false;
    this.status = status;
    return true;
  }

  protected async snapshot(s: LiveStream, resumed: boolean): Promise<void> {
    const [envs, nodes, runs, running] = await Promise.all([
      liveEnvironments(this.db, [this.environmentId]),
      liveNodes(this.db, this.environmentId, null, ENV_NODES),
      liveRuns(this.db, LIST_RUNS, this.environmentId),
      liveRunningRuns(this.db, this.environmentId),
    ]);
    if (!envs[0]) return s.send('gone', {});
    this.names = { repository: envs[0].repository, environment: envs[0].environment };
    const status = await statusSignature(this.db, envs[0].repository, envs[0].environment);
    this.status ??= status;
    if (this.since === null) {
      this.since = nodes.now;
      for (const n of nodes.nodes) this.signatures.set(n.path, nodeSignature(n));
      for (const r of running) this.running.add(r.id);
    }
    s.send('snapshot', {
      resumed,
      environment: environmentJson(envs[0], status),
      nodes: nodes.nodes.map(nodeJson),
      // Every recorded node is in `nodes`: a node the page shows as recorded and the snapshot lacks is gone.
      complete: nodes.nodes.length < ENV_NODES,
      runs: runs.map(runJson),
    });
  }

  protected async flush(): Promise<void> {
    const runs = [...this.dirtyRuns];
    this.dirtyRuns.clear();
    for (const id of runs.slice(-LIST_RUNS)) {
      const run = await liveRun(this.db, id);
      if (!run) continue;
      this.broadcast('run', runJson(run));
      if (run.status === 'running') this.running.add(id);
      else this.running.delete(id);
    }
    // A push, a release or a policy starts no run: the status at a glance is read again when its signature changes.
    const statusChanged = await this.statusChanged();
    // Recorded nodes change while a run of the environment runs: read them then, and once more after the last ended.
    const finalPass = this.finalRead;
    const readNodes = this.running.size > 0 || finalPass || runs.length > 0;
    if (readNodes) this.finalRead = this.running.size === 0 && !finalPass;
    const nodesChanged = readNodes && (await this.readNodes());
    if (!nodesChanged && runs.length === 0 && !statusChanged) return;
    const envs = await liveEnvironments(this.db, [this.environmentId]);
    if (envs[0]) this.broadcast('environment', environmentJson(envs[0], this.status ?? undefined));
  }

  /** Sends the recorded nodes that changed (`nodes`) and those a run terminated (`removed`); true when there were any. */
  private async readNodes(): Promise<boolean> {
    const { nodes, now } = await liveNodes(this.db, this.environmentId, before(this.since), ENV_NODES);
    this.since = now;
    const changed = nodes.filter((n) => {
      const signature = nodeSignature(n);
      if (this.signatures.get(n.path) === signature) return false;
      this.signatures.set(n.path, signature);
      return true;
    });
    if (changed.length) this.broadcast('nodes', { nodes: changed.map(nodeJson) });
    // Nodes a run terminated leave the table (store/sql.ts TERMINATE_NODE): gone from the list of paths.
    const { paths, complete } = await liveNodePaths(this.db, this.environmentId, ENV_NODES);
    const present = new Set(paths);
    const removed = complete ? [...this.signatures.keys()].filter((p) => !present.has(p)) : [];
    for (const p of removed) this.signatures.delete(p);
    if (removed.length) this.broadcast('removed', { paths: removed });
    return changed.length > 0 || removed.length > 0;
  }
}

/** Every environment and run (the front page and the runs list), filtered per viewer by repository. */
export class ListTopic extends Topic {
  private readonly dirtyRuns = new Map<string, string>();
  /** Running runs, with their environment. */
  private readonly running = new Map<string, string>();
  private readonly signatures = new Map<string, string>();
  private primed = false;
  /** The overview's status signature last sent (overviewSignature: pushes, releases, policies). */
  private status: string | null = null;

  constructor(db: pg.Pool, onError: (err: Error) => void) {
    super(db, onError);
  }

  change(c: Change): void {
    if (!c.run || !c.env) return;
    this.dirtyRuns.set(c.run, c.env);
    this.wake(100);
  }

  protected pollMs(): number | null {
    return this.running.size ? POLL_LIST_MS : STATUS_POLL_MS;
  }

  private async sendReadable(event: string, items: { repository: string }[], toJson: (x: never) => unknown) {
    for (const s of this.streams)
      for (const item of items) if (await s.canRead(item.repository)) s.send(event, toJson(item as never));
  }

  protected async snapshot(s: LiveStream, resumed: boolean): Promise<void> {
    const [envs, runs, running, status] = await Promise.all([
      liveEnvironments(this.db),
      liveRuns(this.db, LIST_RUNS),
      liveRunningRuns(this.db),
      overviewSignature(this.db),
    ]);
    this.status ??= status;
    if (!this.primed) {
      this.primed = true;
      for (const r of running) this.running.set(r.id, r.environmentId);
      for (const e of envs) this.signatures.set(e.id, JSON.stringify(environmentJson(e)));
    }
    const readable = async <T extends { repository: string }>(xs: T[]) => {
      const ok = await Promise.all(xs.map((x) => s.canRead(x.repository)));
      return xs.filter((_, i) => ok[i]);
    };
    s.send('snapshot', {
      resumed,
      status,
      environments: (await readable(envs)).map((e) => environmentJson(e)),
      runs: (await readable(runs)).map(runJson),
    });
  }

  protected async flush(): Promise<void> {
    // A push, a release or a policy starts no run: the front page reads its environments again when this changes.
    const status = await overviewSignature(this.db);
    if (status !== this.status) {
      this.status = status;
      this.broadcast('status', { status });
    }
    const dirty = [...this.dirtyRuns].slice(-LIST_RUNS);
    this.dirtyRuns.clear();
    const envIds = new Set([...this.running.values(), ...dirty.map(([, env]) => env)]);
    const runs: RunRecord[] = [];
    for (const [id, env] of dirty) {
      const run = await liveRun(this.db, id);
      if (!run) continue;
      runs.push(run);
      if (run.status === 'running') this.running.set(id, env);
      else this.running.delete(id);
    }
    await this.sendReadable('run', runs, runJson as (x: never) => unknown);
    if (envIds.size === 0) return;
    const changed = (await liveEnvironments(this.db, [...envIds])).filter((e) => {
      const signature = JSON.stringify(environmentJson(e));
      if (this.signatures.get(e.id) === signature) return false;
      this.signatures.set(e.id, signature);
      return true;
    });
    await this.sendReadable('environment', changed, environmentJson as (x: never) => unknown);
  }
}

/** The topics of one process, fed by its change feed; topics without streams are dropped. */
export class LiveHub {
  private readonly runs = new Map<string, RunTopic>();
  private readonly envs = new Map<string, EnvironmentTopic>();
  private list: ListTopic | null = null;
  private unsubscribe: (() => void) | null = null;

  constructor(
    private readonly db: pg.Pool,
    private readonly feed: ChangeFeed,
    private readonly onError: (err: Error) => void,
  ) {}

  private topics(): Topic[] {
    return [...this.runs.values(), ...this.envs.values(), ...(this.list ? [this.list] : [])];
  }

  private start(): void {
    this.unsubscribe ??= this.feed.subscribe((c) => {
      for (const t of this.topics()) {
        if (c === 'resync') t.resync();
        else t.change(c);
      }
    });
  }

  /** Subscribes a stream; returns its removal. */
  async join(
    key: { run: string } | { environmentId: string } | 'list',
    s: LiveStream,
    resumed: boolean,
  ): Promise<() => void> {
    this.start();
    let topic: Topic;
    let drop: () => void;
    if (key === 'list') {
      topic = this.list ??= new ListTopic(this.db, this.onError);
      drop = () => {
        if (this.list === topic && topic.streams.size === 0) this.list = null;
      };
    } else if ('run' in key) {
      let t = this.runs.get(key.run);
      if (!t) this.runs.set(key.run, (t = new RunTopic(this.db, key.run, this.onError)));
      topic = t;
      drop = () => {
        if (this.runs.get(key.run) === topic && topic.streams.size === 0) this.runs.delete(key.run);
      };
    } else {
      let t = this.envs.get(key.environmentId);
      if (!t) this.envs.set(key.environmentId, (t = new EnvironmentTopic(this.db, key.environmentId, this.onError)));
      topic = t;
      drop = () => {
        if (this.envs.get(key.environmentId) === topic && topic.streams.size === 0) this.envs.delete(key.environmentId);
      };
    }
    const leave = () => {
      topic.remove(s);
      drop();
    };
    try {
      await topic.add(s, resumed);
    } catch (err) {
      leave();
      throw err;
    }
    return leave;
  }

  /** Streams subscribed, over all topics (for tests and metrics). */
  get streams(): number {
    return this.topics().reduce((n, t) => n + t.streams.size, 0);
  }

  close(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
  }
}
