/**
 * `Include` in an operator's ssh_config, followed as OpenSSH follows it (docs/cli.md, "SSH configuration"): at the top
 * of a file for every host, inside a `Host` or `Match` block only where the block matches (SshConfigSet, ssh-config.ts,
 * asks per host). A repository's ssh_config never follows Include.
 */
import os from 'node:os';
import path from 'node:path';
import SSHConfig, { glob as matchPatterns } from 'ssh-config';
import { glob } from 'tinyglobby';
import { PolitburoError } from '../kernel/types.js';

/** A file an `Include` named, read: its own Includes before its first Host or Match already expanded in `text`. */
export interface IncludedFile {
  file: string;
  text: string;
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
 * Follows the `Include` lines of an operator's ssh_config as OpenSSH does (docs/cli.md, "SSH configuration"). Each
 * pattern (`~` for the home directory, a relative one under `~/.ssh`, as OpenSSH does for user files; glob wildcards,
 * files in lexical order, none matching is no error) names files whose lines apply where the Include stands:
 * - before the first `Host` or `Match`, for every host: the line is replaced by the files' text here, theirs followed
 *   the same way. Text after an included file that opened `Host` blocks is put back under `Host *`, so it applies to
 *   every host again, as it did before the Include.
 * - inside a `Host` or `Match` block (conditional inclusion), only where the block matches: the line stays, and its
 *   files are read ahead into `blockIncludes` (by pattern), for SshConfigSet to follow per host (followBlockIncludes).
 * A file that cannot be read is an error naming it and the Include line.
 */
export async function expandIncludes(
  text: string,
  where: string,
  read: (file: string) => Promise<string>,
  home = os.homedir(),
): Promise<{ text: string; blockIncludes: Map<string, IncludedFile[]> }> {
  const blockIncludes = new Map<string, IncludedFile[]>();
  return { text: await expand(text, where, { read, home, blockIncludes }, 0), blockIncludes };
}

interface Reader {
  read: (file: string) => Promise<string>;
  home: string;
  blockIncludes: Map<string, IncludedFile[]>;
}

async function expand(text: string, where: string, r: Reader, depth: number): Promise<string> {
  const lines = text.split(/\r?\n/);
  const out: string[] = [];
  let inBlock = false;
  for (const [i, line] of lines.entries()) {
    const d = directive(line);
    if (d && (d.keyword === 'host' || d.keyword === 'match')) inBlock = true;
    if (d?.keyword === 'include') checkDepth(depth, `${where}:${i + 1}`);
    if (!d || d.keyword !== 'include' || inBlock) {
      out.push(line);
      // Read ahead once per pattern (a pattern names the same files wherever it is written).
      for (const pattern of d?.keyword === 'include' ? d.args : []) {
        if (r.blockIncludes.has(pattern)) continue;
        const files: IncludedFile[] = [];
        r.blockIncludes.set(pattern, files);
        for (const [file, included] of await readPattern(pattern, `${where}:${i + 1}`, r))
          files.push({ file, text: await expand(included, file, r, depth + 1) });
      }
      continue;
    }
    for (const pattern of d.args) {
      for (const [file, included] of await readPattern(pattern, `${where}:${i + 1}`, r)) {
        const expanded = await expand(included, file, r, depth + 1);
        out.push(`# Include ${file}`, expanded);
        if (opensBlock(expanded)) out.push('Host *');
      }
    }
  }
  return out.join('\n');
}

/** The files an Include pattern names, with their text, in lexical order. */
async function readPattern(pattern: string, at: string, r: Reader): Promise<[string, string][]> {
  const absolute = path.resolve(path.join(r.home, '.ssh'), expandHome(pattern, r.home));
  const files = (await glob(absolute, { absolute: true, onlyFiles: true, dot: true, expandDirectories: false })).sort();
  const out: [string, string][] = [];
  for (const file of files) {
    const text = await r.read(file).catch((err: NodeJS.ErrnoException) => {
      throw new PolitburoError(
        'InvalidSpec',
        `ssh_config ${at}: Include ${pattern}: cannot read ${file} (${err.code ?? err.message})`,
      );
    });
    out.push([file, text]);
  }
  return out;
}

function checkDepth(depth: number, at: string): void {
  if (depth >= INCLUDE_DEPTH)
    throw new PolitburoError('InvalidSpec', `ssh_config ${at}: Include nested more than ${INCLUDE_DEPTH} deep`);
}

function opensBlock(text: string): boolean {
  return text.split(/\r?\n/).some((l) => /^(host|match)$/.test(directive(l)?.keyword ?? ''));
}

/**
 * An operator's file as it reads for one host (lower-cased): each Include inside a Host or Match block that matches
 * the host is replaced by its files' text (their `Host` lines open blocks matched as usual), followed by `Host *`, which
 * for this host goes on with the enclosing block as OpenSSH does after an Include; one inside a block that does not
 * match is dropped, as OpenSSH never applies the file there. A `Match` is decided here when its criteria do not depend
 * on settings still being read (all, originalhost, localuser; exec is never run, so never matches); with host, user or
 * final the line stays, and SshConfigSet warns that it is not followed.
 */
export function followBlockIncludes(
  text: string,
  where: string,
  host: string,
  includes: Map<string, IncludedFile[]>,
  depth: number,
): string {
  const out: string[] = [];
  let active: boolean | undefined = true;
  let inBlock = false;
  for (const [i, line] of text.split(/\r?\n/).entries()) {
    const d = directive(line);
    if (d?.keyword === 'host') active = matchPatterns(d.args.length === 1 ? d.args[0] : d.args, host);
    if (d?.keyword === 'match') active = matchStatically(d.args, host);
    if (d?.keyword === 'host' || d?.keyword === 'match') inBlock = true;
    if (d?.keyword !== 'include' || !inBlock || active === undefined) {
      out.push(line);
      continue;
    }
    if (!active) {
      out.push(`# ${line.trim()}: not for this host`);
      continue;
    }
    checkDepth(depth, `${where}:${i + 1}`);
    for (const pattern of d.args) {
      for (const f of includes.get(pattern) ?? []) {
        const followed = followBlockIncludes(f.text, f.file, host, includes, depth + 1);
        out.push(`# Include ${f.file}`, followed);
        if (opensBlock(followed)) out.push('Host *');
      }
    }
  }
  return out.join('\n');
}

/**
 * Whether a `Match` line matches `host`, as the ssh-config package would decide it, where that does not depend on
 * settings read so far: true, false, or undefined (host, user, final).
 */
function matchStatically(args: string[], host: string): boolean | undefined {
  let result: boolean | undefined = true;
  for (let i = 0; i < args.length; i++) {
    const keyword = args[i].toLowerCase();
    if (keyword === 'all') continue;
    if (keyword === 'canonical') return false;
    if (keyword === 'final') {
      result = undefined;
      continue;
    }
    const value = args[++i] ?? '';
    if (keyword === 'originalhost') {
      if (!matchPatterns(value, host)) return false;
    } else if (keyword === 'localuser') {
      if (!matchPatterns(value, localUserName())) return false;
    } else if (keyword === 'host' || keyword === 'user') {
      result = undefined;
    } else return false; // exec (never run) and criteria the package does not know never match
  }
  return result;
}

export function hasInclude(config: SSHConfig): boolean {
  return config.some(
    (line) =>
      'param' in line &&
      (/^include$/i.test(line.param) || ('config' in line && hasInclude((line as { config: SSHConfig }).config))),
  );
}

/** `~` and `~/…` under the home directory; anything else as written. */
export function expandHome(file: string, home = os.homedir()): string {
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
