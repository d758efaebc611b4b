/**
 * Which nodes an apply works on (pure): the plan's create/update/terminate nodes (every node with `all`), narrowed by a
 * target `ENV[:PATH][#STATE]` to the nodes under PATH plus what they depend on that still needs work.
 */
import { checkTargetPath, pathsUnder, type Target } from './target.js';
import type { Plan, PlannedNode, ResolvedNode } from '../kernel/types.js';

export interface Selection {
  /** Nodes to provision and configure (or only provision, for `#provisioned`), in plan order. */
  configure: PlannedNode[];
  /** Nodes to terminate: removed from the description, or named by a `#terminated` target. */
  terminate: PlannedNode[];
  provisionOnly: boolean;
}

/**
 * Selects the plan's nodes for an apply. Throws InvalidSpec (with a "did you mean") when the target's path names
 * nothing.
 */
export function selectNodes(plan: Plan, opts: { target?: Target; all?: boolean }): Selection {
  const target = opts.target;
  const described = plan.nodes.filter((p) => p.node);
  const needsWork = (p: PlannedNode) => opts.all || p.action === 'create' || p.action === 'update';
  if (!target?.path) {
    if (target?.state === 'terminated')
      return { configure: [], terminate: plan.nodes.filter((p) => p.recorded), provisionOnly: false };
    return {
      configure: described.filter(needsWork),
      terminate: plan.nodes.filter((p) => p.action === 'terminate'),
      provisionOnly: target?.state === 'provisioned',
    };
  }
  checkTargetPath(
    { ...target, environment: plan.environment },
    plan.nodes.map((p) => p.path),
  );
  const named = new Set(
    pathsUnder(
      target.path,
      plan.nodes.map((p) => p.path),
    ),
  );
  if (target.state === 'terminated')
    return {
      configure: [],
      terminate: plan.nodes.filter((p) => p.recorded && named.has(p.path)),
      provisionOnly: false,
    };
  const byPath = new Map(described.map((p) => [p.path, p]));
  const chosen = new Set<string>();
  const visit = (p: PlannedNode, explicit: boolean) => {
    if (chosen.has(p.path) || (!explicit && !needsWork(p))) return;
    chosen.add(p.path);
    if (target.state === 'provisioned') return; // provisioning never waits for anything
    for (const d of (p.node as ResolvedNode).dependsOn) {
      const dep = byPath.get(d.path);
      if (dep) visit(dep, false);
    }
  };
  for (const p of described) if (named.has(p.path)) visit(p, opts.all || needsWork(p));
  return {
    configure: described.filter((p) => chosen.has(p.path)),
    terminate: plan.nodes.filter((p) => p.action === 'terminate' && named.has(p.path)),
    provisionOnly: target.state === 'provisioned',
  };
}
