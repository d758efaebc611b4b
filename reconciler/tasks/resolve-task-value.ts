/**
 * Resolves what stays symbolic in a task until it runs: `${secret.NAME}` (never stored or hashed) and the
 * `${address(PATH)}` / `${addresses(PATH)}` of on-demand hosts (known only once provisioned).
 */

export interface TaskValueContext {
  secrets: Record<string, string>;
  /**
   * By path: `address(PATH)` and `addresses(PATH)` both read `addresses[PATH]` (a comma-separated list for the latter).
   */
  addresses?: Record<string, string>;
}

/** A value that cannot be resolved; the message names what is missing and how to provide it. */
export class TaskValueError extends Error {}

const SYMBOLIC = /\$\{\s*(?:secret\.([A-Za-z0-9_-]+)|(address|addresses)\(\s*([^)]*?)\s*\))\s*\}/g;

/** Replaces the symbolic references in one value; throws TaskValueError for a missing secret or address. */
export function resolveTaskValue(value: string, ctx: TaskValueContext): string {
  return value.replace(
    SYMBOLIC,
    (_whole, secret: string | undefined, fn: string | undefined, target: string | undefined) => {
      if (secret !== undefined) return lookupSecret(secret, ctx.secrets);
      const address = ctx.addresses?.[target!];
      if (address === undefined) {
        throw new TaskValueError(
          `\${${fn}(${target})} has no address yet: ${target} must be provisioned before this task runs`,
        );
      }
      return address;
    },
  );
}

function lookupSecret(name: string, secrets: Record<string, string>): string {
  const env = `POLITBURO_SECRET_${name.toUpperCase().replace(/-/g, '_')}`;
  const upper = name.toUpperCase();
  const value = secrets[name] ?? secrets[upper] ?? secrets[upper.replace(/-/g, '_')] ?? secrets[env];
  if (value === undefined)
    throw new TaskValueError(`secret '${name}' is not set: set ${env} in the environment of politburo`);
  return value;
}
