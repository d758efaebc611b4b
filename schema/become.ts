/**
 * Privilege escalation settings (docs/language.md, "Privilege escalation"): `become`, `become_user` and
 * `become_password` are inherited from the defaults (top-level, then along the environment's extends chain) through
 * the enclosing groups to a node and on to each of its tasks; each level may set any of the keys, the nearest wins.
 */
import type { BecomeSpec } from '../kernel/types.js';
import type { RawBecome, RawDefaults } from './language.js';
import type { DefNode } from './resource-tree.js';

const KEYS = ['become', 'become_user', 'become_password'] as const;

/** `over`'s keys on top of `base` (an absent key inherits). */
function mergeBecome(base: RawBecome, over: RawBecome | undefined): RawBecome {
  if (!over) return base;
  const out: RawBecome = { ...base };
  for (const k of KEYS) if (over[k] !== undefined) (out as Record<string, unknown>)[k] = over[k];
  return out;
}

/** The settings each definition of the tree inherits, its own keys included. */
export function becomeByDef(defaults: RawDefaults[], tree: Map<string, DefNode>): Map<DefNode, RawBecome> {
  const out = new Map<DefNode, RawBecome>();
  const visit = (defs: Map<string, DefNode>, base: RawBecome) => {
    for (const d of defs.values()) {
      const own = mergeBecome(base, d.become);
      out.set(d, own);
      if (d.children) visit(d.children, own);
    }
  };
  visit(
    tree,
    defaults.reduce<RawBecome>((acc, d) => mergeBecome(acc, d), {}),
  );
  return out;
}

/** What a task runs as: its own keys over what its node inherits; undefined when it does not escalate. */
export function taskBecome(base: RawBecome, task: RawBecome): BecomeSpec | undefined {
  const s = mergeBecome(base, task);
  if (s.become !== 'sudo') return undefined;
  return {
    method: 'sudo',
    user: s.become_user ?? 'root',
    ...(s.become_password !== undefined ? { password: s.become_password } : {}),
  };
}
