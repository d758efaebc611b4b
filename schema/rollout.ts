/**
 * Rolling batches in the language (docs/language.md, "Rolling batches"): which resources may declare `rollout`, which
 * rollout group each node belongs to, and the group's batch size and failure budget with percentages resolved against
 * the group's size (rounded up; a batch is at least 1 node).
 */
import type { ResolvedNode, SourcePos, ValidationError } from '../kernel/types.js';
import type { Instance } from './expand-instances.js';
import { parsePercent, type RawRollout } from './language.js';
import type { DefNode } from './resource-tree.js';
import { posOf } from './yaml-file.js';

/**
 * Reports `rollout` where it makes no sense: on a single node (no count or for_each: one node is one batch) and inside
 * another rollout (a node belongs to one rollout group).
 */
export function checkRollouts(tree: Map<string, DefNode>, errors: ValidationError[]): void {
  const walk = (defs: Map<string, DefNode>, outer: DefNode | null) => {
    for (const d of defs.values()) {
      if (d.rollout) {
        const at = posOf(d.rollout.loc);
        if (!d.children && !d.count && !d.forEach)
          errors.push({
            ...at,
            message: `rollout on '${d.path}' makes no sense: it is a single node; put rollout on a group, or on a resource with count or for_each`,
          });
        else if (outer)
          errors.push({
            ...at,
            message: `rollout on '${d.path}' is inside the rollout of '${outer.path}': a node belongs to one rollout group, remove one of them`,
          });
      }
      if (d.children) walk(d.children, outer ?? (d.rollout ? d : null));
    }
  };
  walk(tree, null);
}

/** The rollout group of an instance: the nearest definition declaring `rollout`, at its place in the tree. */
export function rolloutGroupOf(inst: Instance): { path: string; rollout: RawRollout; source: SourcePos } | null {
  for (let i: Instance | null = inst; i; i = i.parent) {
    const r = i.def.rollout;
    if (r) return { path: (i.parent ? `${i.parent.path}/` : '') + i.def.name, rollout: r.value, source: posOf(r.loc) };
  }
  return null;
}

/** Sets `rollout` on every node of a rollout group, once every node of the environment is known (for percentages). */
export function assignRollouts(
  members: { node: ResolvedNode; group: NonNullable<ReturnType<typeof rolloutGroupOf>> }[],
): void {
  const sizes = new Map<string, number>();
  for (const m of members) sizes.set(m.group.path, (sizes.get(m.group.path) ?? 0) + 1);
  for (const { node, group } of members) {
    const size = sizes.get(group.path)!;
    node.rollout = {
      group: group.path,
      batch: Math.max(1, amount(group.rollout.batch, size)),
      maxFailures: amount(group.rollout.max_failures ?? 0, size),
      size,
      source: group.source,
    };
  }
}

/** A number as written, or a percentage of `size` rounded up (validated by the language: 0..100%). */
function amount(v: number | string, size: number): number {
  if (typeof v === 'number') return v;
  const pct = parsePercent(v) ?? 0;
  return Math.ceil(Number(((size * pct) / 100).toFixed(6)));
}
