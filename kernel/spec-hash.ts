/**
 * The spec hash of a node: what the node's host must look like, independent of how the YAML was written (key order,
 * whitespace, comments, source positions). A change of host, task order, a task or an argument (including an address
 * used in an argument) changes it, and so does the user a task runs as through sudo (docs/language.md, "Privilege
 * escalation").
 */
import { createHash } from 'node:crypto';
import stringify from 'safe-stable-stringify';
import type { HostBinding, TaskSpec } from './types.js';

/** sha256 (hex) of the canonical JSON of a node's host binding and tasks, without source positions. */
export function specHash(node: { host: HostBinding; tasks: TaskSpec[] }): string {
  const canonical = stringify({ host: canonicalHost(node.host), tasks: node.tasks.map(canonicalTask) });
  return createHash('sha256')
    .update(canonical ?? '')
    .digest('hex');
}

function canonicalHost(h: HostBinding): unknown {
  switch (h.kind) {
    case 'static':
      // An absent port is 22 unless ssh_config says otherwise: hashed as 22, so nodes keep their hashes. An absent user
      // is hashed as absent (the tasks run as whoever ssh_config or the local user names); jump hosts are not hashed:
      // they change how Politburo gets to the host, not what the host must look like.
      return { kind: 'static', address: h.address, port: h.port ?? 22, user: h.user };
    case 'local':
      return { kind: 'local' };
    case 'provider':
      return {
        kind: 'provider',
        create: h.provider.create,
        destroy: h.provider.destroy,
        port: h.port ?? 22,
        user: h.user,
      };
  }
}

function canonicalTask(t: TaskSpec): unknown {
  const task =
    t.kind === 'babushka'
      ? { kind: 'babushka', dep: t.dep, args: t.args }
      : { kind: 'shell', name: t.name, met: t.met, meet: t.meet };
  // Who a task runs as changes what it does; the password's secret name does not. Absent when the task does not
  // escalate, so nodes without become keep their hashes.
  return t.become ? { ...task, become: { method: t.become.method, user: t.become.user } } : task;
}
