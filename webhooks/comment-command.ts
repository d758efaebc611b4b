/** `/politburo plan [ENV] [--live]` comments on pull requests (docs/configuration.md). */

export interface PlanCommandArguments {
  live: boolean;
  environment?: string;
}

/** Parses the comment's first line; null when it is not a Politburo command. */
export function parseCommand(body: string): PlanCommandArguments | null {
  const first = body.trim().split(/\r?\n/, 1)[0]?.trim() ?? '';
  const m = /^\/politburo\s+plan((?:\s+\S+)*)\s*$/.exec(first);
  if (!m) return null;
  const words = m[1].trim() ? m[1].trim().split(/\s+/) : [];
  const live = words.includes('--live');
  const rest = words.filter((w) => w !== '--live');
  if (rest.length > 1 || rest.some((w) => w.startsWith('-') || !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$/.test(w)))
    return null;
  return rest.length ? { live, environment: rest[0] } : { live };
}
