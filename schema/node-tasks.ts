/**
 * A node's tasks: its roles' tasks (recursively, each role once, in order) followed by its own, with arguments and
 * commands interpolated for that node. Also the checks on roles themselves: unknown references and cycles.
 */
import type { SourcePos, TaskSpec, ValidationError } from '../kernel/types.js';
import { didYouMean } from '../kernel/did-you-mean.js';
import { interpolate, parseTemplate, stringify, type InterpolationContext } from './interpolation.js';
import type { RawBecome, RawTask } from './language.js';
import { taskBecome } from './become.js';
import { type Model } from './load-files.js';
import { posOf, type Loc } from './yaml-file.js';
import type { DefNode } from './resource-tree.js';

export interface TaskDef {
  raw: RawTask;
  loc: Loc;
  pos: SourcePos;
}

/** Reports unknown role references inside roles and cycles of roles composing each other (each cycle once). */
export function checkRoles(model: Model, errors: ValidationError[]): void {
  for (const [name, role] of model.roles) {
    (role.value.roles ?? []).forEach((ref, i) => {
      if (!model.roles.has(ref))
        errors.push({
          ...posOf(role.loc, 'roles', i),
          message: `unknown role '${ref}'${didYouMean(ref, model.roles.keys())}`,
        });
    });
    const cycle = findCycle(model, name);
    if (cycle && [...cycle.slice(0, -1)].sort()[0] === name) {
      const i = (role.value.roles ?? []).indexOf(cycle[1]);
      errors.push({
        ...posOf(role.loc, 'roles', i),
        message: `roles compose each other in a cycle: ${cycle.join(' -> ')}`,
      });
    }
  }
}

function findCycle(model: Model, start: string): string[] | null {
  const stack: string[] = [];
  const done = new Set<string>();
  const visit = (name: string): string[] | null => {
    if (name === start && stack.length > 0) return [...stack, start];
    if (stack.includes(name) || done.has(name)) return null;
    stack.push(name);
    for (const ref of model.roles.get(name)?.value.roles ?? []) {
      const found = visit(ref);
      if (found) return found;
    }
    stack.pop();
    done.add(name);
    return null;
  };
  return visit(start);
}

/** Expands role lists into task definitions; cached per definition, shared by all its instances. */
export class TaskExpander {
  private readonly cache = new Map<DefNode, TaskDef[]>();
  private readonly roleCache = new Map<string, TaskDef[]>();

  constructor(
    private readonly model: Model,
    private readonly errors: ValidationError[],
  ) {}

  /** Task definitions of a node definition: roles' tasks first, then its own. */
  tasksOf(def: DefNode): TaskDef[] {
    let hit = this.cache.get(def);
    if (hit) return hit;
    const out: TaskDef[] = [];
    const visited = new Set<string>();
    (def.roles?.value ?? []).forEach((ref, i) => {
      if (!this.model.roles.has(ref)) {
        this.errors.push({
          ...posOf(def.roles!.loc, i),
          message: `unknown role '${ref}'${didYouMean(ref, this.model.roles.keys())}`,
        });
        return;
      }
      this.visitRole(ref, visited, out);
    });
    if (def.tasks) out.push(...this.ownTasks(def.tasks.value, def.tasks.loc));
    hit = out;
    this.cache.set(def, hit);
    return hit;
  }

  private visitRole(name: string, visited: Set<string>, out: TaskDef[]): void {
    if (visited.has(name)) return;
    visited.add(name);
    const role = this.model.roles.get(name);
    if (!role) return;
    for (const ref of role.value.roles ?? []) this.visitRole(ref, visited, out);
    let own = this.roleCache.get(name);
    if (!own) {
      own = this.ownTasks(role.value.tasks ?? [], { yf: role.loc.yf, path: [...role.loc.path, 'tasks'] });
      this.roleCache.set(name, own);
    }
    out.push(...own);
  }

  private ownTasks(tasks: RawTask[], loc: Loc): TaskDef[] {
    return tasks.map((raw, i) => {
      const tloc: Loc = { yf: loc.yf, path: [...loc.path, i] };
      return { raw, loc: tloc, pos: posOf(tloc) };
    });
  }
}

/**
 * Interpolates a node's task definitions; identical resolved tasks appear once. `become`: the privilege escalation
 * settings the node inherits, under each task's own (schema/become.ts).
 */
export function resolveTasks(
  defs: TaskDef[],
  ctx: InterpolationContext,
  errors: ValidationError[],
  become: RawBecome = {},
): TaskSpec[] {
  const out: TaskSpec[] = [];
  const seen = new Set<string>();
  for (const d of defs) {
    const at = (...sub: (string | number)[]) => posOf(d.loc, ...sub);
    const text = (v: string, where: () => SourcePos, what: string): string => {
      const r = interpolate(v, ctx);
      if ('error' in r) {
        // Syntax errors were reported where they are written (check-templates); report evaluation errors only.
        if ('error' in parseTemplate(v)) return v;
        errors.push({ ...where(), message: `${what}: ${r.error}` });
        return v;
      }
      return stringify(r.value);
    };
    let task: TaskSpec;
    if ('babushka' in d.raw) {
      const args: Record<string, string> = {};
      for (const key of Object.keys(d.raw.args ?? {}).sort()) {
        const v = d.raw.args![key];
        args[key] = typeof v === 'string' ? text(v, () => at('args', key), `args.${key}`) : String(v);
      }
      task = { kind: 'babushka', name: d.raw.babushka, dep: d.raw.babushka, args, source: d.pos };
    } else {
      const met = text(d.raw.met, () => at('met'), 'met');
      const meet = text(d.raw.meet, () => at('meet'), 'meet');
      task = { kind: 'shell', name: d.raw.name, met, meet, source: d.pos };
    }
    const escalation = taskBecome(become, d.raw);
    if (escalation) task.become = escalation;
    const key =
      task.kind === 'babushka'
        ? JSON.stringify(['b', task.dep, task.args, task.become])
        : JSON.stringify(['s', task.name, task.met, task.meet, task.become]);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(task);
  }
  return out;
}
