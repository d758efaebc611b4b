/**
 * OpenSSH client configuration (`~/.ssh/config`, `--ssh-config FILE`, POLITBURO_SSH_CONFIG, an environment's
 * `ssh_config`), read with the `ssh-config` package: `Host` patterns with `*`/`?` wildcards and `!` negation, the first
 * obtained value of each keyword wins, as in OpenSSH (docs/cli.md, "SSH configuration"). The keywords Politburo uses:
 * HostName, User, Port, IdentityFile, ProxyJump, ConnectTimeout, ConnectionAttempts, ServerAliveInterval,
 * ServerAliveCountMax, HostKeyAlias. `Match exec` is never run (a description must not run commands on the controller).
 */
import os from 'node:os';
import path from 'node:path';
import SSHConfig from 'ssh-config';
import { glob } from 'tinyglobby';
import { PolitburoError } from '../kernel/types.js';

/** One configuration file's text and where it came from (for messages). */
export interface SshConfigSource {
  text: string;
  /** The file as the user named it, e.g. `~/.ssh/config` or `ssh/config` (in the repository). */
  where: string;
  /** A file of the repository: its IdentityFile lines are ignored (a description cannot pick the controller's keys). */
  fromRepository?: boolean;
}

/** What the configuration says about one host name; undefined where it says nothing. */
export interface HostSettings {
  hostName?: string;
  user?: string;
  port?: number;
  identityFiles: string[];
  /** The raw ProxyJump value (`none` already turned into undefined). */
  proxyJump?: string;
  connectTimeoutMs?: number;
  /** Connection attempts in all, the first included (retries of transient failures: one fewer). */
  connectionAttempts?: number;
  serverAliveIntervalMs?: number;
  serverAliveCountMax?: number;
  hostKeyAlias?: string;
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
}

/** Several configuration files read in order: for each keyword, the first file (and line) that sets it wins. */
export class SshConfigSet {
  private readonly files: Parsed[];
  /** Told about settings that are ignored (IdentityFile in a repository file, ProxyCommand). */
  warnings: string[] = [];

  constructor(sources: SshConfigSource[]) {
    this.files = sources.map((source) => {
      try {
        const config = SSHConfig.parse(source.text);
        if (hasInclude(config))
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
    for (const { config, source } of this.files) {
      // Host names are matched lower-cased, as ssh lower-cases the name it is given.
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
      if (out.proxyJump === undefined && one('proxyjump') !== undefined) out.proxyJump = one('proxyjump');
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
      const ids = computed.identityfile;
      if (ids !== undefined) {
        if (source.fromRepository)
          this.warnings.push(`ssh_config ${source.where}: IdentityFile is ignored in a repository's file`);
        else out.identityFiles.push(...(Array.isArray(ids) ? ids : [ids]));
      }
      if (one('proxycommand') !== undefined)
        this.warnings.push(`ssh_config ${source.where}: Host ${host}: ProxyCommand is not supported (use ProxyJump)`);
    }
    if (out.proxyJump?.toLowerCase() === 'none') out.proxyJump = undefined;
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
}

/** A directive line's keyword and arguments (`Keyword arg…` or `Keyword=arg…`; double quotes group), or null. */
function directive(line: string): { keyword: string; args: string[] } | null {
  const m = /^\s*([A-Za-z]+)(?:\s*=\s*|\s+)(.*)$/.exec(line);
  if (!m || line.trimStart().startsWith('#')) return null;
  const args = [...m[2].matchAll(/"([^"]*)"|(\S+)/g)].map((a) => a[1] ?? a[2]).filter((a) => !a.startsWith('#'));
  return { keyword: m[1].toLowerCase(), args };
}

/** How deep Include may nest, as in OpenSSH. */
const INCLUDE_DEPTH = 16;

/**
 * Follows the `Include` lines of an operator's ssh_config that come before its first `Host` or `Match` (where OpenSSH
 * users put them: `Include config.d/*`, `Include ~/.orbstack/ssh/config`): each pattern (`~` for the home directory, a
 * relative one under `~/.ssh`, as OpenSSH does for user files; glob wildcards, files in lexical order, none matching is
 * no error) is replaced by the files' text, theirs followed the same way. Text after an included file that opened
 * `Host` blocks is put back under `Host *`, so it applies to every host again, as it did before the Include. An Include
 * inside a Host or Match block (conditional inclusion) is left as written, and SshConfigSet warns that it is not
 * followed. A file that cannot be read is an error naming it and the Include line.
 */
export async function expandIncludes(
  text: string,
  where: string,
  read: (file: string) => Promise<string>,
  home = os.homedir(),
  depth = 0,
): Promise<string> {
  const lines = text.split(/\r?\n/);
  const out: string[] = [];
  let inBlock = false;
  for (const [i, line] of lines.entries()) {
    const d = directive(line);
    if (d && (d.keyword === 'host' || d.keyword === 'match')) inBlock = true;
    if (!d || d.keyword !== 'include' || inBlock) {
      out.push(line);
      continue;
    }
    if (depth >= INCLUDE_DEPTH)
      throw new PolitburoError(
        'InvalidSpec',
        `ssh_config ${where}:${i + 1}: Include nested more than ${INCLUDE_DEPTH} deep`,
      );
    for (const pattern of d.args) {
      const absolute = path.resolve(path.join(home, '.ssh'), expandHome(pattern, home));
      const files = (
        await glob(absolute, { absolute: true, onlyFiles: true, dot: true, expandDirectories: false })
      ).sort();
      for (const file of files) {
        const included = await read(file).catch((err: NodeJS.ErrnoException) => {
          throw new PolitburoError(
            'InvalidSpec',
            `ssh_config ${where}:${i + 1}: Include ${pattern}: cannot read ${file} (${err.code ?? err.message})`,
          );
        });
        const expanded = await expandIncludes(included, file, read, home, depth + 1);
        out.push(`# Include ${file}`, expanded);
        if (expanded.split(/\r?\n/).some((l) => /^(host|match)$/.test(directive(l)?.keyword ?? ''))) out.push('Host *');
      }
    }
  }
  return out.join('\n');
}

function hasInclude(config: SSHConfig): boolean {
  return config.some(
    (line) =>
      'param' in line &&
      (/^include$/i.test(line.param) || ('config' in line && hasInclude((line as { config: SSHConfig }).config))),
  );
}

/** Expands `%h`-style tokens; `%%` is a percent sign. Unknown tokens are left as written. */
export function expandTokens(text: string, tokens: Record<string, string>): string {
  return text.replace(/%(.)/g, (all, t: string) => (t === '%' ? '%' : (tokens[t] ?? all)));
}

function expandHome(file: string, home = os.homedir()): string {
  if (file === '~') return home;
  if (file.startsWith('~/')) return path.join(home, file.slice(2));
  return file;
}

/** The local user's name, as OpenSSH uses it for the default `User`. */
export function localUserName(): string {
  try {
    return os.userInfo().username;
  } catch {
    return process.env.USER ?? process.env.LOGNAME ?? 'root';
  }
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
