/**
 * The route to a host as OpenSSH computes it: the host's settings from ssh_config (HostName, User, Port...), then its
 * jump hosts (the language's `jump` wins over ProxyJump, as `ssh -J` does), each jump host resolved through ssh_config
 * too. As in OpenSSH, the first jump host's own ProxyJump applies (a longer chain), the later ones' do not
 * (docs/language.md, "Jump hosts"). The same for ProxyCommand (of the operator's ssh_config): the one of the hop
 * connected to first carries the connection to it, and only when no ProxyJump came before it (docs/cli.md, "SSH
 * configuration").
 */
import { PolitburoError } from '../kernel/types.js';
import { expandProxyCommand } from './proxy-command.js';
import { localUserName, parseJumpList, type JumpSpec, SshConfigSet } from './ssh-config.js';

/** One SSH server on the way: where to connect, as whom, with what. */
export interface Endpoint {
  /** The name as given (an alias of ssh_config, an address...). */
  name: string;
  hostName: string;
  port: number;
  user: string;
  hostKeyAlias?: string;
  identityFiles: string[];
  connectTimeoutMs?: number;
  /** ssh_config's ConnectionAttempts: attempts in all when a connection fails in a transient way. */
  connectionAttempts?: number;
  keepaliveIntervalMs?: number;
  keepaliveCountMax?: number;
  /** ssh_config's ProxyCommand, tokens expanded: only on the hop connected to first, whose connection it carries. */
  proxyCommand?: string;
  /** ssh_config's ControlPersist with ControlMaster (ssh-config.ts): how long the connection keeper keeps it. */
  controlPersistMs?: number | null;
}

export interface Route {
  /** Jump hosts, the one connected to first at index 0. */
  jumps: Endpoint[];
  target: Endpoint;
}

export interface RouteTarget {
  address: string;
  port?: number;
  user?: string;
  hostKeyAlias?: string;
  /** Jump hosts of the language (`[user@]host[:port]`), outermost first; when set, ProxyJump is not used. */
  jump?: string[];
}

const MAX_JUMPS = 10;

/** `user@host:port`, the label of an endpoint in messages (with the alias first when it differs). */
export function endpointLabel(e: Endpoint): string {
  const where = `${e.user}@${e.hostName}:${e.port}`;
  return e.name === e.hostName ? where : `${e.name} (${where})`;
}

/** Resolves the route to `target` with `config` (which may be empty). Throws InvalidSpec for bad jump hosts. */
export function resolveRoute(target: RouteTarget, config: SshConfigSet, localUser = localUserName()): Route {
  const settings = config.lookup(target.address, localUser);
  const endpoint = endpointOf(
    { host: target.address, user: target.user, port: target.port },
    config,
    localUser,
    target.hostKeyAlias,
  );
  let specs: JumpSpec[] = [];
  if (target.jump?.length) specs = parseJumpList(target.jump, `the jump hosts of ${target.address}`);
  else if (settings.proxyJump) specs = parseJumpList(settings.proxyJump, `ProxyJump of Host ${target.address}`);
  const jumps = expandJumps(specs, config, localUser, 0);
  const first = jumps[0] ?? endpoint;
  // The first hop's own ProxyCommand (a target's only without jump hosts: the language's `jump` wins, as `ssh -J`).
  const command = first === endpoint ? settings.proxyCommand : config.lookup(first.name, localUser).proxyCommand;
  if (command) first.proxyCommand = expandProxyCommand(command, first, `Host ${first.name}`);
  return { jumps, target: endpoint };
}

function expandJumps(specs: JumpSpec[], config: SshConfigSet, localUser: string, depth: number): Endpoint[] {
  if (specs.length === 0) return [];
  if (depth + specs.length > MAX_JUMPS)
    throw new PolitburoError(
      'InvalidSpec',
      `more than ${MAX_JUMPS} jump hosts on the way to ${specs[specs.length - 1].host} (is there a ProxyJump loop?)`,
    );
  const first = config.lookup(specs[0].host, localUser);
  const before = first.proxyJump
    ? expandJumps(parseJumpList(first.proxyJump, `ProxyJump of Host ${specs[0].host}`), config, localUser, depth + 1)
    : [];
  return [...before, ...specs.map((s) => endpointOf(s, config, localUser))];
}

function endpointOf(spec: JumpSpec, config: SshConfigSet, localUser: string, hostKeyAlias?: string): Endpoint {
  const s = config.lookup(spec.host, localUser);
  const e: Endpoint = {
    name: spec.host,
    hostName: s.hostName ?? spec.host,
    // Given explicitly (the description, `user@`/`:port` of a jump) wins over ssh_config, as on ssh's command line.
    port: spec.port ?? s.port ?? 22,
    user: spec.user ?? s.user ?? localUser,
    identityFiles: s.identityFiles,
  };
  const alias = hostKeyAlias ?? s.hostKeyAlias;
  if (alias) e.hostKeyAlias = alias;
  if (s.connectTimeoutMs !== undefined) e.connectTimeoutMs = s.connectTimeoutMs;
  if (s.connectionAttempts !== undefined) e.connectionAttempts = s.connectionAttempts;
  if (s.serverAliveIntervalMs !== undefined) e.keepaliveIntervalMs = s.serverAliveIntervalMs;
  if (s.serverAliveCountMax !== undefined) e.keepaliveCountMax = s.serverAliveCountMax;
  if (s.controlPersistMs !== undefined) e.controlPersistMs = s.controlPersistMs;
  return e;
}
