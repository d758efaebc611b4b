/**
 * The controller's pino logger. One root logger per process; child loggers carry `{delivery}` for webhook work and
 * `{repo, env, sha, run}` for runs, so every line of one delivery or run can be found together.
 */
import { pino, type Logger } from 'pino';
import type { LogLevel } from './config.js';

export type { Logger } from 'pino';

/** The fields a run's child logger carries. */
export interface RunLogContext {
  repo?: string;
  env?: string;
  sha?: string;
  run?: string;
}

/** Creates the root logger; writes JSON lines to `destination` (default stdout). */
export function createLogger(opts: { level?: LogLevel; destination?: NodeJS.WritableStream } = {}): Logger {
  const options = {
    level: opts.level ?? 'info',
    base: { pid: process.pid },
    // Secrets never reach a log line, even if an error object happens to carry headers or a config.
    redact: {
      paths: ['*.authorization', '*.headers.authorization', '*.privateKey', '*.token', '*.secret', '*.password'],
      censor: '***',
    },
    serializers: { err: compactError },
  };
  return opts.destination ? pino(options, opts.destination as pino.DestinationStream) : pino(options);
}

/**
 * pino's error serializer, without the objects an error may carry (a pg client or pool, an HTTP request or response):
 * each becomes `[ClassName]`. The message, code, stack and the other plain fields stay.
 */
function compactError(err: unknown): unknown {
  const out = pino.stdSerializers.err(err as Error) as unknown as Record<string, unknown>;
  if (!out || typeof out !== 'object') return out;
  for (const [key, value] of Object.entries(out)) {
    if (value && typeof value === 'object' && key !== 'cause' && key !== 'aggregateErrors') {
      out[key] =
        Array.isArray(value) && value.every((v) => v === null || typeof v !== 'object')
          ? value
          : `[${value.constructor?.name ?? 'Object'}]`;
    }
  }
  return out;
}

/** A child logger for one webhook delivery. */
export function deliveryLogger(logger: Logger, delivery: string, event?: string): Logger {
  return logger.child(event ? { delivery, event } : { delivery });
}

/** A child logger for one run: `{repo, env, sha, run}`. */
export function runLogger(logger: Logger, ctx: RunLogContext): Logger {
  return logger.child(Object.fromEntries(Object.entries(ctx).filter(([, v]) => v !== undefined)));
}

/**
 * What a log line says about an error: its class, message and code. Errors of pg and graphile-worker can carry a
 * whole client, pool or job; serialising those floods the log (and may carry connection details).
 */
export function errorFields(err: unknown): { type?: string; message: string; code?: string } {
  if (!(err instanceof Error)) return { message: String(err) };
  const code = (err as { code?: unknown }).code;
  return { type: err.name, message: err.message, ...(typeof code === 'string' ? { code } : {}) };
}
