/** Limits that protect the controller from hostile descriptions (docs/language.md, "Validation and limits"). */
export const LIMITS = {
  /** Bytes per file. */
  fileBytes: 1024 * 1024,
  /** Files per description (the main file and everything it includes). */
  files: 100,
  /** Resource instances per environment, after count / for_each. */
  instances: 50_000,
  /** Resource instances of all environments together. */
  totalInstances: 250_000,
  /** Nesting depth of YAML collections. */
  depth: 32,
  /** Alias uses per file when expanding YAML aliases. */
  aliasCount: 100,
  /** Dependencies between nodes per environment, after expanding group and multi-instance paths. */
  dependencies: 1_000_000,
  /** Characters of resolved task arguments and commands per environment (addresses() can multiply them). */
  resolvedChars: 64 * 1024 * 1024,
} as const;
