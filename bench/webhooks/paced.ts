/**
 * An open-loop load generator: requests start at a fixed rate, evenly spaced (request i is due at start + i / rate),
 * over at most `connections` keep-alive connections, whatever the answers' pace. Latency is measured from when a
 * request was due, not from when a connection was free to send it, so a server that falls behind is charged for the
 * wait (no coordinated omission).
 *
 * autocannon's own rate limit (`overallRate`) sends each connection's quota for the second back to back at the start
 * of every second: 100 connections at 800/s offer bursts of 800 requests at once, then nothing. GitHub's deliveries
 * do not arrive in synchronised bursts, so the fixed-rate figures use this generator instead.
 */
import http from 'node:http';

export interface PacedRequest {
  path: string;
  body: string;
  /** Headers of request number i (a fresh delivery id each, say). */
  headers(i: number): Record<string, string>;
}

export interface PacedResult {
  requests: number;
  ok2xx: number;
  non2xx: number;
  errors: number;
  /** Errors by code (ECONNRESET, …), when there were any. */
  errorCodes: Record<string, number>;
  /** Milliseconds from due time to the end of the answer, one per answered request. */
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  /** Seconds from the first request to the last answer (longer than the duration when the server fell behind). */
  elapsedS: number;
}

export async function runPaced(opts: {
  url: string;
  rate: number;
  connections: number;
  durationS: number;
  request: PacedRequest;
}): Promise<PacedResult> {
  const { url, rate, connections, durationS, request } = opts;
  const target = new URL(request.path, url);
  // fifo: connections take turns, so none sits idle past the server's keep-alive timeout (5 s) and is closed just
  // as a request goes out on it (an ECONNRESET that is the client's doing, not the server's).
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections, scheduling: 'fifo' });
  const total = Math.round(rate * durationS);
  const latencies: number[] = [];
  let ok2xx = 0;
  let non2xx = 0;
  let errors = 0;
  const errorCodes: Record<string, number> = {};
  let sent = 0;
  let busy = 0;
  const backlog: number[] = [];
  const start = performance.now();
  const due = (i: number) => start + (i * 1000) / rate;
  const body = Buffer.from(request.body);

  await new Promise<void>((resolve) => {
    let finished = 0;
    const done = () => {
      if (++finished === total) resolve();
    };
    const send = (i: number) => {
      busy++;
      const req = http.request(
        target,
        { method: 'POST', agent, headers: { ...request.headers(i), 'content-length': String(body.length) } },
        (res) => {
          res.resume();
          res.on('end', () => {
            latencies.push(performance.now() - due(i));
            if (res.statusCode! >= 200 && res.statusCode! < 300) ok2xx++;
            else non2xx++;
            release();
          });
        },
      );
      req.on('error', (err: NodeJS.ErrnoException) => {
        errors++;
        errorCodes[err.code ?? err.message] = (errorCodes[err.code ?? err.message] ?? 0) + 1;
        release();
      });
      req.end(body);
    };
    const release = () => {
      busy--;
      done();
      const next = backlog.shift();
      if (next !== undefined) send(next);
    };
    const tick = () => {
      const now = performance.now();
      while (sent < total && due(sent) <= now) {
        const i = sent++;
        // More requests due than connections: they wait their turn (and their wait counts as latency).
        if (busy < connections) send(i);
        else backlog.push(i);
      }
      if (sent < total) setTimeout(tick, Math.max(0, Math.min(1, due(sent) - performance.now())));
    };
    tick();
  });
  const end = performance.now();
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    latencies.length ? Math.round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]) : 0;
  return {
    requests: sent,
    ok2xx,
    non2xx,
    errors,
    errorCodes,
    latencyMs: { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: Math.round(latencies.at(-1) ?? 0) },
    elapsedS: Math.round((end - start) / 100) / 10,
  };
}
