/**
 * The engine's StateStore (kernel/types.ts) in memory, for unit tests of decisions made on recorded state: the same
 * contract as store/pg-store.ts (terminated nodes leave the recorded state, an apply that succeeded records its commit
 * as the environment's last applied one, writes of a run that is no longer running are ignored), without locks (runs
 * never wait, as with any store without `locks`).
 */
import type {
  NodeRunRecord,
  NodeUpdate,
  RecordedNode,
  RunRecord,
  RunStatus,
  StateStore,
  TaskResult,
} from '../../kernel/types.js';

interface EnvironmentRecord {
  repository: string;
  environment: string;
  lastCommit: string | null;
  updatedAt: string;
  nodes: Map<string, RecordedNode>;
}

export interface InMemoryStateStore extends StateStore {
  /** Records nodes as they would be after an apply (test set-up). */
  seed(repository: string, environment: string, nodes: RecordedNode[]): void;
}

export function createInMemoryStateStore(): InMemoryStateStore {
  const environments = new Map<string, EnvironmentRecord>();
  const runs: RunRecord[] = [];
  const nodeRuns = new Map<string, Map<string, NodeRunRecord>>();
  const now = () => new Date().toISOString();
  const env = (repository: string, environment: string): EnvironmentRecord => {
    const key = `${repository}\0${environment}`;
    let e = environments.get(key);
    if (!e)
      environments.set(key, (e = { repository, environment, lastCommit: null, updatedAt: now(), nodes: new Map() }));
    return e;
  };
  const running = (runId: string | undefined) =>
    runId === undefined || runs.find((r) => r.id === runId)?.status === 'running';
  const nodeRun = (runId: string, path: string): NodeRunRecord => {
    let byPath = nodeRuns.get(runId);
    if (!byPath) nodeRuns.set(runId, (byPath = new Map()));
    let nr = byPath.get(path);
    if (!nr)
      byPath.set(
        path,
        (nr = {
          runId,
          path,
          host: null,
          state: 'configuring',
          reason: null,
          startedAt: now(),
          finishedAt: null,
          tasks: [],
          log: '',
        }),
      );
    return nr;
  };

  return {
    seed(repository, environment, nodes) {
      const e = env(repository, environment);
      for (const n of nodes) e.nodes.set(n.path, { ...n });
      const commits = new Set(nodes.map((n) => n.lastAppliedCommit));
      if (commits.size === 1) e.lastCommit = [...commits][0];
    },
    async recordedNodes(repository, environment) {
      return [...(environments.get(`${repository}\0${environment}`)?.nodes.values() ?? [])]
        .sort((a, b) => a.path.localeCompare(b.path))
        .map((n) => ({ ...n }));
    },
    async environments(repository) {
      return [...environments.values()]
        .filter((e) => repository === undefined || e.repository === repository)
        .map(({ repository, environment, lastCommit, updatedAt }) => ({
          repository,
          environment,
          lastCommit,
          updatedAt,
        }));
    },
    async startRun(input) {
      env(input.repository, input.environment);
      const run: RunRecord = {
        id: String(runs.length + 1),
        repository: input.repository,
        environment: input.environment,
        commit: input.commit,
        kind: input.kind,
        status: 'running',
        trigger: input.trigger,
        startedAt: now(),
        finishedAt: null,
        summary: null,
      };
      runs.push(run);
      return { ...run };
    },
    async updateNode(repository, environment, path, update: NodeUpdate & { runId?: string }) {
      if (!running(update.runId)) return;
      const e = env(repository, environment);
      const old = e.nodes.get(path);
      if (update.state === 'terminated') e.nodes.delete(path);
      else
        e.nodes.set(path, {
          path,
          host: update.host !== undefined ? update.host : (old?.host ?? null),
          port: update.port !== undefined ? update.port : (old?.port ?? null),
          user: update.user !== undefined ? update.user : (old?.user ?? null),
          hostKey: update.hostKey !== undefined ? update.hostKey : (old?.hostKey ?? null),
          specHash: update.applied ? update.applied.specHash : (old?.specHash ?? ''),
          tasks: update.applied ? update.applied.tasks : (old?.tasks ?? []),
          lastAppliedCommit: update.applied ? update.applied.commit : (old?.lastAppliedCommit ?? null),
          state: update.state,
          reason: update.reason ?? null,
          lastRunId: update.runId ?? old?.lastRunId ?? null,
        });
      if (update.runId) {
        const nr = nodeRun(update.runId, path);
        nr.state = update.state;
        nr.reason = update.reason ?? null;
        if (update.host) nr.host = update.host;
      }
    },
    async recordTask(runId, path, result: TaskResult & { startedAt?: string }) {
      if (running(runId)) nodeRun(runId, path).tasks.push({ ...result });
    },
    async appendLog(runId, path, text) {
      if (text && running(runId)) nodeRun(runId, path).log += text;
    },
    async finishRun(runId, status: RunStatus, summary) {
      const run = runs.find((r) => r.id === runId);
      if (!run) throw new Error(`state store: finishRun: no run ${runId}`);
      if (run.status !== 'running') return;
      Object.assign(run, { status, summary, finishedAt: now() });
      const e = env(run.repository, run.environment);
      e.updatedAt = now();
      if (run.kind === 'apply' && status === 'succeeded' && run.commit) e.lastCommit = run.commit;
    },
    async getRun(runId) {
      const run = runs.find((r) => r.id === runId);
      return run ? { ...run } : null;
    },
    async listRuns(filter) {
      return runs
        .filter((r) => filter.repository === undefined || r.repository === filter.repository)
        .filter((r) => filter.environment === undefined || r.environment === filter.environment)
        .reverse()
        .slice(0, filter.limit ?? 100)
        .map((r) => ({ ...r }));
    },
    async nodeRuns(runId) {
      return [...(nodeRuns.get(runId)?.values() ?? [])].map((nr) => ({ ...nr, tasks: [...nr.tasks] }));
    },
    async taskSuccessRates(repository, environment) {
      const perRun = new Map<string, Map<string, boolean>>(); // task → run → every attempt succeeded
      for (const run of runs.filter((r) => r.repository === repository && r.environment === environment))
        for (const nr of nodeRuns.get(run.id)?.values() ?? [])
          for (const t of nr.tasks.filter((t) => t.outcome !== 'skipped')) {
            if (!perRun.has(t.name)) perRun.set(t.name, new Map());
            const ok = t.outcome === 'met' || t.outcome === 'already met';
            perRun.get(t.name)!.set(run.id, (perRun.get(t.name)!.get(run.id) ?? true) && ok);
          }
      return [...perRun]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([task, byRun]) => ({ task, runs: byRun.size, succeeded: [...byRun.values()].filter(Boolean).length }));
    },
    async close() {},
  };
}
