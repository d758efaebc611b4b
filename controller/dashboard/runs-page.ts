/** Every run, newest first (optionally of one repository / environment). */
import type { RunRecord } from '../../kernel/types.js';
import { html, page, type Html } from './html.js';
import { LIVE_LIST_URL, LIVE_SCRIPT_URL } from './live.js';
import { runsTable } from './widgets.js';

/** Renders the runs list, live; `account`: the sign-in line from the router. */
export function runsPage(
  runs: RunRecord[],
  filter: { repository?: string; environment?: string },
  opts: { account?: Html } = {},
): string {
  const scope = filter.environment ? ` of ${filter.environment}` : '';
  return page(`Runs${scope}`, html`<h1>Runs${scope}</h1>${runsTable(runs, { showEnvironment: true, filter })}`, {
    live: { stream: LIVE_LIST_URL, script: LIVE_SCRIPT_URL },
    account: opts.account,
  });
}
