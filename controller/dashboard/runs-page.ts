/** Every run, newest first (optionally of one repository / environment). */
import type { RunRecord } from '../../kernel/types.js';
import { html, page } from './html.js';
import { runsTable } from './widgets.js';

/** Renders the runs list. */
export function runsPage(runs: RunRecord[], filter: { repository?: string; environment?: string }): string {
  const scope = filter.environment ? ` of ${filter.environment}` : '';
  return page(`Runs${scope}`, html`<h1>Runs${scope}</h1>${runsTable(runs, { showEnvironment: true })}`);
}
