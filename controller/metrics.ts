/**
 * Prometheus metrics of the controller. The metric objects are exported so the webhook path, the queue, the jobs and
 * the GitHub reporter update the same registry; `GET /metrics` renders it.
 */
import client from 'prom-client';

/** The registry `GET /metrics` serves (default Node process metrics included). */
export const registry = new client.Registry();
client.collectDefaultMetrics({ register: registry, prefix: 'politburo_' });

/**
 * Webhook deliveries by GitHub event and outcome (`accepted`, `duplicate`, `ping`, `unauthorized`, `invalid`, `error`).
 */
export const deliveriesTotal = new client.Counter({
  name: 'politburo_webhook_deliveries_total',
  help: 'Webhook deliveries received, by event and outcome',
  labelNames: ['event', 'outcome'] as const,
  registers: [registry],
});

/**
 * Work waiting in the queue (not locked, runnable now or later), by task; refreshed on each scrape. A job of several
 * deliveries (controller/store/ingest-deliveries.ts) counts as its deliveries, so the figure does not depend on how
 * they arrived.
 */
export const queueDepth = new client.Gauge({
  name: 'politburo_queue_depth',
  help: 'Jobs waiting in the durable queue, by task (github-delivery: deliveries waiting)',
  labelNames: ['task'] as const,
  registers: [registry],
});

/** Jobs currently locked by a worker, by task; refreshed on each scrape. */
export const queueRunning = new client.Gauge({
  name: 'politburo_queue_running',
  help: 'Jobs currently running (locked by a worker), by task (github-delivery: deliveries in the running jobs)',
  labelNames: ['task'] as const,
  registers: [registry],
});

/** Duration of runs (apply, drift, plan-live) in seconds. */
export const runDuration = new client.Histogram({
  name: 'politburo_run_duration_seconds',
  help: 'Duration of runs, by kind, environment and status',
  labelNames: ['kind', 'environment', 'status'] as const,
  buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1200, 3600],
  registers: [registry],
});

/** Task outcomes (`already met`, `met`, `failed`, `unmet`, `skipped`) by environment. */
export const taskOutcomes = new client.Counter({
  name: 'politburo_task_outcomes_total',
  help: 'Task outcomes, by environment and outcome',
  labelNames: ['environment', 'outcome'] as const,
  registers: [registry],
});

/** Drifted nodes per environment after the last drift check. */
export const driftedNodes = new client.Gauge({
  name: 'politburo_drifted_nodes',
  help: 'Nodes found drifted by the last drift check, by repository and environment',
  labelNames: ['repository', 'environment'] as const,
  registers: [registry],
});

/** Queue jobs finished, by task and outcome (`success`, `retry`, `failed`, `terminal`). */
export const jobOutcomes = new client.Counter({
  name: 'politburo_jobs_total',
  help: 'Queue jobs finished, by task and outcome',
  labelNames: ['task', 'outcome'] as const,
  registers: [registry],
});

/** Queue worker pools replaced after graphile-worker gave one up (a lost database connection while recording a job). */
export const workerPoolRestarts = new client.Counter({
  name: 'politburo_queue_worker_restarts_total',
  help: 'Queue worker pools replaced after a lost database connection',
  registers: [registry],
});

/** Calls to the GitHub API, by operation and HTTP status. */
export const githubCalls = new client.Counter({
  name: 'politburo_github_calls_total',
  help: 'Calls to the GitHub API, by operation and status',
  labelNames: ['operation', 'status'] as const,
  registers: [registry],
});

/** The last `x-ratelimit-remaining` seen, by installation (or `token`). */
export const githubRateLimitRemaining = new client.Gauge({
  name: 'politburo_github_rate_limit_remaining',
  help: 'Remaining GitHub API rate limit, as last reported by GitHub',
  labelNames: ['installation'] as const,
  registers: [registry],
});
