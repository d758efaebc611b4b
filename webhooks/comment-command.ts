/**
 * Politburo's comment commands (docs/controller.md): `/politburo plan [ENV] [--live]` on pull requests,
 * `/politburo apply ENV` on a pull request (merged: a release; open: an apply of its head) or a commit, `/politburo help`.
 */

export interface PlanCommandArguments {
  live: boolean;
  environment?: string;
}

/** What a comment asks; `unknown` is a `/politburo` line that is no command (answered with the help). */
export type CommentCommand =
  | ({ command: 'plan' } & PlanCommandArguments)
  | { command: 'apply'; environment: string }
  | { command: 'help' }
  | { command: 'unknown'; line: string };

const ENVIRONMENT = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$/;

/** Parses a `/politburo plan` comment's first line; null when it is not one. */
export function parseCommand(body: string): PlanCommandArguments | null {
  const c = parseComment(body);
  if (c?.command !== 'plan') return null;
  return c.environment !== undefined ? { live: c.live, environment: c.environment } : { live: c.live };
}

/** Parses the comment's first line; null when it does not start with `/politburo`. */
export function parseComment(body: string): CommentCommand | null {
  const first = body.trim().split(/\r?\n/, 1)[0]?.trim() ?? '';
  if (!/^\/politburo(\s|$)/.test(first)) return null;
  const words = first.split(/\s+/).slice(1);
  const unknown: CommentCommand = { command: 'unknown', line: first.slice(0, 200) };
  if (words[0] === 'help' || words.length === 0) return words.length <= 1 ? { command: 'help' } : unknown;
  if (words[0] === 'apply') {
    const rest = words.slice(1);
    return rest.length === 1 && ENVIRONMENT.test(rest[0]) ? { command: 'apply', environment: rest[0] } : unknown;
  }
  if (words[0] === 'plan') {
    const rest = words.slice(1);
    const live = rest.includes('--live');
    const envs = rest.filter((w) => w !== '--live');
    if (envs.length > 1 || envs.some((w) => w.startsWith('-') || !ENVIRONMENT.test(w))) return unknown;
    return envs.length ? { command: 'plan', live, environment: envs[0] } : { command: 'plan', live };
  }
  return unknown;
}

/** The answer to `/politburo help` (and to a `/politburo` line that is no command). */
export const HELP_TEXT = [
  'Politburo commands (comment them on a pull request, or `apply` on a commit):',
  '',
  '| command | what it does |',
  '| --- | --- |',
  '| `/politburo plan [ENV]` | plans the pull request again (every environment, or ENV), contacting no host |',
  '| `/politburo plan [ENV] --live` | a dry-run on the hosts; needs write permission, never for a fork |',
  '| `/politburo apply ENV` | on the merged pull request or on the commit: releases ENV (`apply: manual`) at that commit; needs write permission |',
  '| `/politburo apply ENV` | on an open pull request, when ENV has `apply_from_pull_request: true`: applies its head before merge; needs write permission, approval, a mergeable pull request of this repository, and the plan shown still current |',
  '| `/politburo help` | this list |',
].join('\n');
