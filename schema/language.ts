/**
 * The environment language as zod schemas: the single source of truth for validation (schema/load-description.ts)
 * and for the published JSON Schema (schema/write-json-schema.ts). These mirror the YAML exactly ("raw" types);
 * resolution into domain types happens in schema/resolve-environment.ts.
 */
import { z } from 'zod';
import ms from 'ms';
import { Cron } from 'croner';

/** A resource, role, blueprint or environment name: no `/` or `#` (they separate paths and states). */
export const Name = z
  .string()
  .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/, 'a name may only contain letters, digits, `_`, `.` and `-`')
  .meta({ description: 'A name: letters, digits, `_`, `.` and `-`.' });

const Scalar = z.union([z.string(), z.number(), z.boolean()]);

/** Milliseconds of a duration text such as `15m`, or null when it is not one (`ms` throws on '' and long strings). */
export function parseDuration(text: string): number | null {
  try {
    const v = ms(text as ms.StringValue);
    return typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : null;
  } catch {
    return null;
  }
}

/** A duration such as `15m` or `90s` (the `ms` package), or a number of seconds. */
export const Duration = z
  .union([z.string(), z.number().positive()])
  .refine((v) => typeof v === 'number' || parseDuration(v) !== null, {
    message: "not a duration: use a number with a unit, such as '90s', '15m' or '2h'",
  })
  .meta({ description: "A duration such as '90s', '15m', '2h', or a number of seconds." });

export const SshDefaults = z
  .strictObject({
    user: z
      .string()
      .min(1)
      .optional()
      .meta({ description: "SSH user (default: ssh_config's User, else the local user, as OpenSSH chooses)." }),
    port: z
      .number()
      .int()
      .min(1)
      .max(65535)
      .optional()
      .meta({ description: "SSH port (default: ssh_config's Port, else 22)." }),
  })
  .meta({ description: 'SSH connection defaults.' });

/** `${secret.NAME}` and nothing else: a become password never appears in the description (docs/language.md). */
const SECRET_ONLY = /^\$\{\s*secret\.[A-Za-z0-9_-]+\s*\}$/;

/**
 * Privilege escalation keys, allowed in defaults, on resources and on tasks (docs/language.md, "Privilege escalation").
 */
const becomeKeys = {
  become: z
    .literal(['sudo', false])
    .optional()
    .meta({ description: "Run tasks through sudo ('sudo'), or not (false) where an enclosing level set it." }),
  become_user: z
    .string()
    .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]*\$?$/, 'become_user must be a user name (letters, digits, `_`, `.`, `-`)')
    .max(64)
    .optional()
    .meta({ description: 'The user tasks run as through sudo (default root).' }),
  become_password: z
    .string()
    .refine((v) => SECRET_ONLY.test(v), {
      message:
        "become_password must be a secret reference such as '${secret.sudo_password}', never the password itself",
    })
    .optional()
    .meta({
      description: "The SSH user's sudo password, as '${secret.NAME}' (without it sudo must not ask: NOPASSWD).",
    }),
};

export const Defaults = z
  .strictObject({
    ssh: SshDefaults.optional(),
    concurrency: z
      .number()
      .int()
      .min(1)
      .max(10000)
      .optional()
      .meta({ description: 'Hosts worked on at once (default 20).' }),
    timeout: Duration.optional().meta({ description: "Per-task timeout (default '15m')." }),
    ...becomeKeys,
  })
  .meta({ description: 'Defaults for SSH, concurrency and task timeouts; an environment may override them.' });

export const BabushkaTask = z
  .strictObject({
    babushka: z.string().min(1).meta({ description: 'The Babushka dep to meet.' }),
    args: z
      .record(z.string(), Scalar)
      .optional()
      .meta({ description: 'Arguments of the dep: scalars, interpolated (`${params.x}`, `${address(PATH)}`, ...).' }),
    ...becomeKeys,
  })
  .meta({ description: 'A Babushka dep with arguments.' });

export const ShellTask = z
  .strictObject({
    name: z.string().min(1).meta({ description: 'Task name, shown in plans and results.' }),
    met: z.string().min(1).meta({ description: 'Shell command that exits 0 when the task is already met.' }),
    meet: z.string().min(1).meta({ description: 'Shell command that meets the task.' }),
    ...becomeKeys,
  })
  .meta({ description: 'A shell task: an idempotent `met`/`meet` command pair.' });

export const Task = z.union([BabushkaTask, ShellTask]).meta({ description: 'A task: a Babushka dep or a shell task.' });

export const Role = z
  .strictObject({
    description: z.string().optional(),
    roles: z.array(Name).optional().meta({ description: 'Roles whose tasks come first (recursively, each once).' }),
    tasks: z.array(Task).optional().meta({ description: 'Tasks of the role, in order.' }),
  })
  .meta({ description: 'A reusable, composable bundle of tasks.' });

const DependsOn = z
  .string()
  .min(1)
  .meta({ description: "A path, optionally with the state to wait for: 'database/master#ready' (default ready)." });

/** True for a count text that can become a number: digits, or an interpolation (checked per environment). */
export function isCountText(v: string): boolean {
  return v.includes('${') || /^\s*\d+\s*$/.test(v);
}

const Count = z.union([z.number().int().min(0), z.string()]).meta({
  description: "Number of instances (NAME-1 .. NAME-N); may be an interpolation such as '${params.web_count}'.",
});

const ForEach = z.union([z.array(z.string()), z.string()]).meta({
  description: 'Instances named NAME-VALUE, one per value; `${each}` is the value. May be a `${params.x}` list.',
});

/** A percentage such as '25%' or '12.5%' (docs/language.md, "Rolling batches"). */
const PERCENT = /^\s*(\d+(?:\.\d+)?)\s*%\s*$/;

/** The number of a percentage text, or null when the text is not one. */
export function parsePercent(text: string): number | null {
  const m = PERCENT.exec(text);
  return m ? Number(m[1]) : null;
}

const rolloutAmount = (min: 0 | 1) =>
  z.union([z.number(), z.string()]).superRefine((v, ctx) => {
    const pct = typeof v === 'string' ? parsePercent(v) : null;
    const ok = typeof v === 'number' ? Number.isInteger(v) && v >= min : pct !== null && pct >= min && pct <= 100;
    if (!ok)
      ctx.addIssue({
        code: 'custom',
        message: `must be a whole number of nodes${min ? ' (at least 1)' : ' (0 or more)'} or a percentage of the group's nodes from ${min}% to 100% such as '25%', got ${JSON.stringify(v)}`,
      });
  });

export const Rollout = z
  .strictObject({
    batch: rolloutAmount(1).meta({
      description: "Nodes released at a time: a number, or a percentage of the group's nodes ('25%', rounded up).",
    }),
    max_failures: rolloutAmount(0).optional().meta({
      description:
        "Failures tolerated before the rollout stops (default 0: the first failure stops it); a number or a percentage ('10%', rounded up).",
    }),
  })
  .meta({
    description:
      "Rolling batches: the nodes of this group (or of this resource's instances) are applied a batch at a time, in dependency order.",
  });

/** A resource: a group (`resources`) or a node (`roles` and/or `tasks`). */
export const Resource: z.ZodType<RawResource> = z
  .strictObject({
    description: z.string().optional(),
    roles: z.array(Name).optional().meta({ description: 'Roles of this node.' }),
    tasks: z.array(Task).optional().meta({ description: "The node's own tasks, after its roles' tasks." }),
    get resources() {
      return z.record(Name, Resource).optional().meta({ description: 'Children: this resource is a group.' });
    },
    count: Count.optional(),
    for_each: ForEach.optional(),
    depends_on: z.array(DependsOn).optional().meta({ description: 'Paths this resource waits for.' }),
    ...becomeKeys,
    rollout: Rollout.optional(),
  })
  .meta({ id: 'Resource', description: 'A group (has `resources`) or a node (has `roles` and/or `tasks`).' });

export interface RawResource {
  description?: string;
  roles?: string[];
  tasks?: RawTask[];
  resources?: Record<string, RawResource>;
  count?: number | string;
  for_each?: string[] | string;
  depends_on?: string[];
  become?: 'sudo' | false;
  become_user?: string;
  become_password?: string;
  rollout?: RawRollout;
}

export type RawRollout = z.infer<typeof Rollout>;

export type RawTask = z.infer<typeof Task>;

/** The privilege escalation keys of one level (defaults, resource or task). */
export interface RawBecome {
  become?: 'sudo' | false;
  become_user?: string;
  become_password?: string;
}

const ParamValue = z.union([
  z.string(),
  z.number(),
  z.boolean(),
  z.array(z.union([z.string(), z.number(), z.boolean()])),
]);
export const Params = z.record(Name, ParamValue).meta({ description: 'Parameters, used as `${params.NAME}`.' });

export const Blueprint = z
  .strictObject({
    description: z.string().optional(),
    params: Params.optional(),
    resources: z.record(Name, Resource).meta({ description: 'The topology: resources by name.' }),
  })
  .meta({ description: 'A topology with parameters.' });

/** `[user@]host[:port]` (or `ssh://...`, `[v6]:port`), as OpenSSH's ProxyJump; checked again in hosts/ssh-config.ts. */
const JUMP_HOST = /^(ssh:\/\/)?([^@\s,/]+@)?(\[[^\]\s]+\]|[^:@\s,[\]/]+)(:([1-9]\d{0,4}))?$/;
const JumpHost = z.string().refine((v) => JUMP_HOST.test(v) && Number(JUMP_HOST.exec(v)?.[5] ?? 22) <= 65535, {
  message: "not a jump host: use '[user@]host[:port]', e.g. 'ops@bastion.example.com:22'",
});
export const Jump = z.union([JumpHost, z.array(JumpHost).min(1)]).meta({
  description:
    "Jump host(s) to reach the hosts through, as OpenSSH's ProxyJump: '[user@]host[:port]', or a list for a chain (the first is connected to first). Wins over ssh_config's ProxyJump.",
});

const HostObject = z
  .strictObject({
    address: z.string().min(1).meta({ description: "Address or host name; 'local' runs on the controller's machine." }),
    port: z.union([z.number().int().min(1).max(65535), z.string()]).optional(),
    user: z.string().min(1).optional(),
    jump: Jump.optional(),
  })
  .meta({ description: 'A host with its SSH port, user and jump hosts.' });
const HostEntry = z.union([z.string().min(1), HostObject]);
export const HostValue = z.union([HostEntry, z.array(HostEntry)]).meta({
  description: 'An address, `{address, port, user}`, or a list filling the instances under the path in order.',
});

export const Provider = z
  .strictObject({
    exec: z
      .strictObject({
        create: z.string().min(1).meta({ description: 'Executable that creates a host: JSON in on stdin, JSON out.' }),
        destroy: z.string().min(1).meta({ description: 'Executable that destroys a host.' }),
      })
      .meta({ description: 'Provider scripts, relative to the repository root.' }),
  })
  .meta({ description: 'On-demand hosts for nodes without a pre-allocated host.' });

const Cronish = z.string().refine(
  (v) => {
    try {
      new Cron(v, { paused: true });
      return true;
    } catch {
      return false;
    }
  },
  { message: "not a valid cron schedule (5 fields, e.g. '0 * * * *')" },
);

export const Drift = z
  .strictObject({
    schedule: Cronish.optional().meta({ description: "Cron schedule of drift checks (default hourly, '0 * * * *')." }),
    heal: z.boolean().optional().meta({ description: 'Meet drifted tasks automatically (default false).' }),
  })
  .meta({ description: 'Scheduled drift detection.' });

export const Environment = z
  .strictObject({
    description: z.string().optional(),
    blueprint: Name.optional().meta({ description: 'The blueprint this environment instantiates.' }),
    extends: Name.optional().meta({ description: 'Another environment this one modifies (hosts are not inherited).' }),
    resources: z.record(Name, Resource).optional().meta({ description: 'An inline topology, instead of a blueprint.' }),
    params: Params.optional(),
    override: z.record(z.string(), Resource).optional().meta({ description: 'Deep-merged into resources by path.' }),
    remove: z.array(z.string()).optional().meta({ description: 'Paths (or instance paths) to drop.' }),
    hosts: z.record(z.string(), HostValue).optional().meta({ description: 'Pre-allocated hosts by path.' }),
    provider: Provider.optional(),
    known_hosts: z.string().min(1).optional().meta({ description: 'known_hosts file in the repository.' }),
    ssh_config: z.string().min(1).optional().meta({
      description: 'OpenSSH client configuration file in the repository (Host, HostName, User, ProxyJump...).',
    }),
    jump: Jump.optional(),
    drift: Drift.optional(),
    branch: z.string().min(1).optional().meta({ description: 'Commits on this branch are applied.' }),
    apply: z.enum(['auto', 'manual']).optional().meta({
      description:
        "When a commit of the branch is applied: 'auto' (default) at once, 'manual' once released (`/politburo apply ENV`).",
    }),
    suspend: z.boolean().optional().meta({
      description: 'No applies and no heals while true; drift checks still run and report (default false).',
    }),
    apply_from_pull_request: z.boolean().optional().meta({
      description:
        '`/politburo apply ENV` on an open, approved, mergeable pull request of this repository applies its head before merge (default false). The policy of the last applied commit decides.',
    }),
    defaults: Defaults.optional(),
  })
  .meta({ description: 'An environment: a blueprint (or another environment) with parameters and hosts.' });

/** Top-level keys shared by the main file and included files. */
const sections = {
  deps: z.string().min(1).optional().meta({ description: "Directory of Babushka deps (default 'babushka-deps')." }),
  defaults: Defaults.optional(),
  provider: Provider.optional(),
  roles: z.record(Name, Role).optional().meta({ description: 'Reusable bundles of tasks.' }),
  blueprints: z.record(Name, Blueprint).optional().meta({ description: 'Topologies with parameters.' }),
  environments: z.record(Name, Environment).optional().meta({ description: 'Environments by name.' }),
};

/** The whole main file `politburo.yml` (used for the JSON Schema). */
export const PolitburoFile = z
  .strictObject({
    politburo: z.literal(1).meta({ description: 'Format version: 1.' }),
    include: z.array(z.string().min(1)).optional().meta({ description: 'Glob patterns of more YAML files to merge.' }),
    ...sections,
  })
  .meta({
    title: 'Politburo environment description',
    description: 'politburo.yml: roles, blueprints and environments.',
  });

/** The frame of a file: sections validated shallowly, so each role/blueprint/environment is checked on its own. */
export function fileFrame(main: boolean) {
  return main ? mainFrame : includedFrame;
}

function makeFrame(main: boolean) {
  return z.strictObject({
    politburo: main ? z.literal(1) : z.literal(1).optional(),
    include: main
      ? z.array(z.string().min(1)).optional()
      : z.never({ error: "'include' is only allowed in the main file" }).optional(),
    deps: z.unknown().optional(),
    defaults: z.unknown().optional(),
    provider: z.unknown().optional(),
    roles: z.record(Name, z.unknown()).optional(),
    blueprints: z.record(Name, z.unknown()).optional(),
    environments: z.record(Name, z.unknown()).optional(),
  });
}

const mainFrame = makeFrame(true);
const includedFrame = makeFrame(false);

/** Schemas of the top-level singletons, validated one by one so one mistake doesn't hide the others. */
export const singletonSchemas = { deps: sections.deps, defaults: sections.defaults, provider: sections.provider };

export type RawRole = z.infer<typeof Role>;
export type RawBlueprint = z.infer<typeof Blueprint>;
export type RawEnvironment = z.infer<typeof Environment>;
export type RawDefaults = z.infer<typeof Defaults>;
export type RawProvider = z.infer<typeof Provider>;
export type RawHostValue = z.infer<typeof HostValue>;
