/**
 * OpenSSH client configuration (`~/.ssh/config`, `--ssh-config FILE`, POLITBURO_SSH_CONFIG, an environment's
 * `ssh_config`), read with the `ssh-config` package: `Host` patterns with `*`/`?` wildcards and `!` negation, the first
 * obtained value of each keyword wins, as in OpenSSH (docs/cli.md, "SSH configuration"). The keywords Politburo uses:
 * HostName, User, Port, IdentityFile, ProxyJump, ProxyCommand (the operator's files only), ConnectTimeout,
 * ConnectionAttempts, ServerAliveInterval, ServerAliveCountMax, HostKeyAlias, ControlMaster with ControlPersist (the
 * operator's files only: connections kept between runs). `Match exec` is never run (a description must not run
 * commands on the controller).
 */
import os from 'node:os';
import SSHConfig from 'ssh-config';
import { PolitburoError } from '../kernel/types.js';
import { expandHome, followBlockIncludes, hasInclude, localUserName, type IncludedFile } from './ssh-include.js';

export { localUserName };

/** One configuration file's text and where it came from (for messages). */
export interface SshConfigSource {
  text: string;
  /** The file as the user named it, e.g. `~/.ssh/config` or `ssh/config` (in the repository). */
  where: string;
  /**
   * A file of the repository: its IdentityFile lines are ignored (a description cannot pick the controller's keys), its
   * ProxyCommand lines are never run and its Include lines never followed (a pull request must not run commands or read
   * files on the controller).
   */
  fromRepository?: boolean;
  /**
   * The files named by `Include` lines inside Host and Match blocks, by pattern as written, read ahead by
   * expandIncludes: followed per host, where the block matches, as OpenSSH does. Unset: such an Include is not followed
   * (a warning says so).
   */
  blockIncludes?: Map<string, IncludedFile[]>;
}

/** What the configuration says about one host name; undefined where it says nothing. */
export interface HostSettings {
  hostName?: string;
  user?: string;
  port?: number;
  identityFiles: string[];
  /** The raw ProxyJump value (`none` already turned into undefined). */
  proxyJump?: string;
  /**
   * The ProxyCommand as written, tokens not yet expanded (`none` already turned into undefined); only from the
   * operator's files. Of ProxyJump and ProxyCommand, the one obtained first wins, as in OpenSSH: at most one is set.
   */
  proxyCommand?: string;
  connectTimeoutMs?: number;
  /** Connection attempts in all, the first included (retries of transient failures: one fewer). */
  connectionAttempts?: number;
  serverAliveIntervalMs?: number;
  serverAliveCountMax?: number;
  hostKeyAlias?: string;
  /**
   * ControlPersist, where ControlMaster is `yes`, `auto`, `ask` or `autoask` (only from the operator's files): how long
   * Politburo's connection keeper keeps the connection once unused (null: until closed). Undefined: not kept.
   */
  controlPersistMs?: number | null;
}

/** A jump host as written in ProxyJump or the language's `jump`: `[user@]host[:port]` or `ssh://[user@]host[:port]`. */
export interface JumpSpec {
  host: string;
  user?: string;
  port?: number;
}

interface Parsed {
  config: SSHConfig;
  source: SshConfigSource;
  /** With blockIncludes: the file as it reads for each host (lower-cased) looked up so far. */
  perHost?: Map<string, SSHConfig>;
}

/** Several configuration files read in order: for each keyword, the first file (and line) that sets it wins. */
export class SshConfigSet {
  private readonly files: Parsed[];
  /** Told about settings that are ignored (IdentityFile, ProxyCommand or Include in a repository file...). */
  warnings: string[] = [];

  constructor(sources: SshConfigSource[]) {
    this.files = sources.map((source) => {
      try {
        const config = SSHConfig.parse(source.text);
        if (!source.blockIncludes && hasInclude(config))
          this.warnings.push(
            source.fromRepository
              ? `ssh_config ${source.where}: Include is not followed in a repository's file (put the lines in this file)`
              : `ssh_config ${source.where}: Include inside a Host or Match block is not followed (move it before the first Host)`,
          );
        return { config, source };
      } catch (err) {
        throw new PolitburoError('InvalidSpec', `ssh_config ${source.where}: ${(err as Error).message}`);
      }
    });
  }

  get empty(): boolean {
    return this.files.length === 0;
  }

  /** The settings for `host` (the name as given: an alias, an address...). Throws InvalidSpec for bad values. */
  lookup(host: string, localUser = localUserName()): HostSettings {
    const out: HostSettings = { identityFiles: [] };
    const control: Partial<Record<'ControlMaster' | 'ControlPersist', { value: string; where: string }>> = {};
    /** ProxyJump or ProxyCommand obtained (`none` included): later ones of either are ignored, as in OpenSSH. */
    let proxyObtained = false;
    for (const parsed of this.files) {
      const { source } = parsed;
      // Host names are matched lower-cased, as ssh lower-cases the name it is given.
      const config = this.configFor(parsed, host.toLowerCase());
      const computed = config.compute({ Host: host.toLowerCase() }, { ignoreCase: true, matchExec: false }) as Record<
        string,
        string | string[] | undefined
      >;
      const one = (key: string): string | undefined => {
        const v = computed[key];
        return Array.isArray(v) ? v[0] : v;
      };
      const bad = (keyword: string, value: string, want: string) =>
        new PolitburoError(
          'InvalidSpec',
          `ssh_config ${source.where}: Host ${host}: ${keyword} '${value}' is not ${want}`,
        );
      const number = (keyword: string, want: string, min: number, max: number): number | undefined => {
        const v = one(keyword.toLowerCase());
        if (v === undefined) return undefined;
        if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) throw bad(keyword, v, want);
        return Number(v);
      };
      out.hostName ??= one('hostname');
      out.user ??= one('user');
      out.port ??= number('Port', 'a port number (1-65535)', 1, 65535);
      out.hostKeyAlias ??= one('hostkeyalias');
      if (!proxyObtained) {
        const proxy = this.proxyOf(computed, source, host);
        if (proxy) {
          proxyObtained = true;
          if (proxy.keyword === 'proxyjump') out.proxyJump = proxy.value;
          else out.proxyCommand = proxy.value;
        }
      }
      if (out.connectTimeoutMs === undefined) {
        const s = number('ConnectTimeout', 'a number of seconds', 1, 86400);
        if (s !== undefined) out.connectTimeoutMs = s * 1000;
      }
      out.connectionAttempts ??= number('ConnectionAttempts', 'a count of attempts (1-100)', 1, 100);
      if (out.serverAliveIntervalMs === undefined) {
        const s = number('ServerAliveInterval', 'a number of seconds', 0, 86400);
        if (s !== undefined) out.serverAliveIntervalMs = s * 1000;
      }
      out.serverAliveCountMax ??= number('ServerAliveCountMax', 'a count', 1, 1000);
      for (const keyword of ['ControlMaster', 'ControlPersist'] as const) {
        const v = one(keyword.toLowerCase());
        if (v === undefined || control[keyword] !== undefined) continue;
        if (source.fromRepository)
          this.warnings.push(
            `ssh_config ${source.where}: Host ${host}: ${keyword} is ignored in a repository's file (keeping connections is the operator's choice: --ssh-persist, or the operator's ssh_config)`,
          );
        else control[keyword] = { value: v, where: source.where };
      }
      const ids = computed.identityfile;
      if (ids !== undefined) {
        if (source.fromRepository)
          this.warnings.push(`ssh_config ${source.where}: IdentityFile is ignored in a repository's file`);
        else out.identityFiles.push(...(Array.isArray(ids) ? ids : [ids]));
      }
    }
    const master = control.ControlMaster?.value.toLowerCase();
    if (control.ControlPersist && master && ['yes', 'auto', 'ask', 'autoask'].includes(master))
      out.controlPersistMs = controlPersist(control.ControlPersist.value, control.ControlPersist.where, host);
    if (out.proxyJump?.toLowerCase() === 'none') out.proxyJump = undefined;
    if (out.proxyCommand?.toLowerCase() === 'none') out.proxyCommand = undefined;
    // Tokens as OpenSSH expands them: %h in HostName is the name given; elsewhere the resolved host name.
    if (out.hostName !== undefined) out.hostName = expandTokens(out.hostName, { h: host, n: host });
    const tokens = {
      h: out.hostName ?? host,
      n: host,
      p: String(out.port ?? 22),
      r: out.user ?? localUser,
      u: localUser,
      d: os.homedir(),
    };
    out.identityFiles = out.identityFiles.map((f) => expandHome(expandTokens(f, tokens)));
    return out;
  }

  /**
   * Of ProxyJump and ProxyCommand, the one this file gives first for the host (the computed keywords keep the order
   * in which they were first obtained). A repository's ProxyCommand is never run: a warning, and it counts as unset;
   * its `ProxyCommand none` runs nothing and is kept.
   */
  private proxyOf(
    computed: Record<string, string | string[] | undefined>,
    source: SshConfigSource,
    host: string,
  ): { keyword: 'proxyjump' | 'proxycommand'; value: string } | undefined {
    const value = (key: string) => {
      const v = computed[key];
      return Array.isArray(v) ? v.join(' ') : v;
    };
    let command = value('proxycommand');
    if (command !== undefined && source.fromRepository && command.toLowerCase() !== 'none') {
      this.warnings.push(
        `ssh_config ${source.where}: Host ${host}: ProxyCommand is ignored in a repository's file (it would run a ` +
          `command on the controller); set it in the operator's ssh_config (~/.ssh/config, --ssh-config, ` +
          `POLITBURO_SSH_CONFIG), or use ProxyJump`,
      );
      command = undefined;
    }
    const jump = value('proxyjump');
    const keys = Object.keys(computed);
    if (command !== undefined && (jump === undefined || keys.indexOf('proxycommand') < keys.indexOf('proxyjump')))
      return { keyword: 'proxycommand', value: command };
    return jump !== undefined ? { keyword: 'proxyjump', value: jump } : undefined;
  }

  /** The file as it reads for `host`: with its Includes inside Host and Match blocks followed where they match. */
  private configFor(parsed: Parsed, host: string): SSHConfig {
    const includes = parsed.source.blockIncludes;
    if (!includes?.size) return parsed.config;
    parsed.perHost ??= new Map();
    let config = parsed.perHost.get(host);
    if (!config) {
      const text = followBlockIncludes(parsed.source.text, parsed.source.where, host, includes, 0);
      try {
        config = SSHConfig.parse(text);
      } catch (err) {
        throw new PolitburoError('InvalidSpec', `ssh_config ${parsed.source.where}: ${(err as Error).message}`);
      }
      if (hasInclude(config))
        this.warnings.push(
          `ssh_config ${parsed.source.where}: Include inside a Match block with host, user or final criteria is ` +
            `not followed (they depend on settings still being read; use Host or Match originalhost)`,
        );
      parsed.perHost.set(host, config);
    }
    return config;
  }
}

/** Expands `%h`-style tokens; `%%` is a percent sign. Unknown tokens are left as written. */
export function expandTokens(text: string, tokens: Record<string, string>): string {
  return text.replace(/%(.)/g, (all, t: string) => (t === '%' ? '%' : (tokens[t] ?? all)));
}

/** Parses one jump host: `[user@]host[:port]`, `[user@][v6addr]:port` or `ssh://[user@]host[:port]`. */
export function parseJumpSpec(text: string, where: string): JumpSpec {
  const bad = (why: string) => new PolitburoError('InvalidSpec', `${where}: jump host '${text}' ${why}`);
  let rest = text.trim();
  if (rest.startsWith('ssh://')) rest = rest.slice('ssh://'.length).replace(/\/$/, '');
  if (rest === '' || /\s|,/.test(rest)) throw bad('is not [user@]host[:port]');
  let user: string | undefined;
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    user = rest.slice(0, at);
    rest = rest.slice(at + 1);
    if (!user) throw bad('has an empty user');
  }
  let host = rest;
  let portText: string | undefined;
  const v6 = /^\[([^\]]+)\](?::(.*))?$/.exec(rest);
  if (v6) {
    host = v6[1];
    portText = v6[2];
  } else if (rest.split(':').length === 2) {
    [host, portText] = rest.split(':');
  }
  if (!host) throw bad('has no host');
  let port: number | undefined;
  if (portText !== undefined) {
    if (!/^\d+$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535)
      throw bad(`has port '${portText}', not a number from 1 to 65535`);
    port = Number(portText);
  }
  return { host, user, port };
}

/** A ProxyJump value or the language's `jump`: comma-separated, outermost jump first. */
export function parseJumpList(value: string | string[], where: string): JumpSpec[] {
  const items = (Array.isArray(value) ? value : [value]).flatMap((v) => v.split(','));
  return items.map((s) => parseJumpSpec(s, where));
}

/**
 * ControlPersist as OpenSSH reads it: `yes` or `0` keep the connection until closed (null), `no` not at all
 * (undefined), else a time: seconds, or sshd_config's format (`10m`, `1h30m`: s, m, h, d, w).
 */
export function controlPersist(value: string, where: string, host: string): number | null | undefined {
  const v = value.trim().toLowerCase();
  if (v === 'yes' || v === '0') return null;
  if (v === 'no') return undefined;
  const unit: Record<string, number> = { '': 1, s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
  let seconds = 0;
  const parts = /^(\d+[smhdw]?)+$/.test(v) ? v.match(/\d+[smhdw]?/g)! : null;
  for (const part of parts ?? []) seconds += Number(part.replace(/[smhdw]$/, '')) * unit[part.replace(/^\d+/, '')];
  if (!parts || seconds <= 0 || seconds > 7 * 86400)
    throw new PolitburoError(
      'InvalidSpec',
      `ssh_config ${where}: Host ${host}: ControlPersist '${value}' is not yes, no or a time (seconds, or 10m, 1h30m: at most 7 days)`,
    );
  return seconds * 1000;
}
