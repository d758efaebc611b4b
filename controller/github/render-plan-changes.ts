/**
 * The "What changes" cell of a node in the plan check and the sticky comment (docs/cli.md, "plan"): one planned
 * change per line (`task 'app deployed': ref: v1.4.3 → v1.4.4`), so a shell command containing `;` cannot run two
 * changes together.
 */
import { cell } from './markdown.js';

/** Changes listed per node; the rest are counted (`politburo plan` lists them all). */
export const CHANGES_PER_NODE = 12;

/** A change as table-cell text: cell-escaped, and markdown's emphasis, code and link characters shown as written. */
function changeText(change: string): string {
  return cell(change).replace(/([`*_~[\]])/g, '\\$1');
}

/** The changes of one node as one markdown table cell, a line each (`<br>`), at most CHANGES_PER_NODE. */
export function renderChangesCell(changes: readonly string[]): string {
  const shown = changes.slice(0, CHANGES_PER_NODE).map(changeText);
  const more = changes.length - shown.length;
  if (more > 0) shown.push(`… and ${more} more`);
  return shown.join('<br>');
}
