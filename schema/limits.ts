/** Limits that protect the controller from hostile descriptions (SPEC §1.4). */
export const LIMITS = {
  /** Bytes per file. */
  fileBytes: 1024 * 1024,
  /** Files per description (the main file and everything it includes). */
  files: 100,
  /** Resource instances per environment, after count / for_each. */
  instances: 50_000,
  /** Nesting depth of YAML collections. */
  depth: 32,
  /** Alias uses per file when expanding YAML aliases. */
  aliasCount: 100,
} as const;
