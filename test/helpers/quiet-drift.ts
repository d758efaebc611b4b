/**
 * A drift schedule that does not fire while a test runs: midnight on the first of a month half a year away. Without
 * one an environment is checked hourly (docs/language.md, `drift.schedule`), and a test that crosses the hour would
 * see a drift run (SSH sessions, task checks, a run on the dashboard) it did not ask for.
 */
export const QUIET_DRIFT = `    drift: { schedule: '0 0 1 ${((new Date().getUTCMonth() + 6) % 12) + 1} *' }`;

/** An environment's extra YAML (4-space indented), with QUIET_DRIFT unless it says its own drift. */
export function withQuietDrift(extra: string | undefined): string {
  return extra?.includes('drift:') ? extra : [QUIET_DRIFT, extra ?? ''].join('\n');
}
