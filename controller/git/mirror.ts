/**
 * Git access through cached mirrors (docs/configuration.md): one bare repository per watched repository under the data
 * directory,
 * fetched only when a commit is unknown or a branch head is asked for, and files read at an exact commit into a fresh
 * directory. Installation tokens are passed per command in the environment (GIT_CONFIG_*), never written to the
 * mirror's config, and scrubbed from every error message.
 */
import { COMMIT_SHA } from '../../kernel/commit.js';
import { isRemoteUrl, redactUrl, repositoryKey, type Repository } from '../../kernel/repository.js';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { simpleGit, type SimpleGit } from 'simple-git';
import type { GitReader } from '../ports.js';
import { createKeyLock } from './key-lock.js';

export interface GitReaderOptions {
  /** Mirrors live in `<dataDir>/mirrors`, checkouts in `<dataDir>/checkouts`. */
  dataDir: string;
  /** The token to clone an https URL of this repository with (a GitHub installation token); undefined: anonymous. */
  token?: (repo: Repository) => Promise<string | undefined>;
  /** Longest a single git command may run before it is killed (default 5 minutes). */
  timeoutMs?: number;
}

/** What the controller's git reader offers beyond the port. */
export interface MirrorGitReader extends GitReader {
  /** The branch the remote's HEAD points at (poll mode: a repository listed without a branch), null if none. */
  remoteDefaultBranch(repo: Repository): Promise<string | null>;
  /** The best common ancestor of two commits (what a pull request forked from), null when unrelated. */
  mergeBase(repo: Repository, a: string, b: string): Promise<string | null>;
  /** The mirror directory of a repository (tests and diagnostics). */
  mirrorDir(repo: Repository): string;
}

/** A git failure. `transient` ones (network, remote unavailable, commit not there yet) are worth retrying. */
export class GitAccessError extends Error {
  constructor(
    message: string,
    readonly transient: boolean,
  ) {
    super(message);
    this.name = 'GitAccessError';
  }
}

/** Heads plus GitHub's pull request heads, so a fork's PR head is reachable from the base repository's mirror. */
const REFSPECS = ['+refs/heads/*:refs/heads/*', '+refs/pull/*/head:refs/pull/*/head'];

/** Creates the controller's GitReader over bare mirrors in `dataDir`; use of one mirror is serialised in-process. */
export function createGitReader(opts: GitReaderOptions): MirrorGitReader {
  const lock = createKeyLock();
  const mirrorsDir = path.join(opts.dataDir, 'mirrors');
  const checkoutsDir = path.join(opts.dataDir, 'checkouts');
  const timeoutMs = opts.timeoutMs ?? 5 * 60_000;

  const mirrorDir = (repo: Repository) => path.join(mirrorsDir, mirrorName(repo));

  /** A git client for a repository's mirror (created on first use), with the token (if any) in its environment. */
  const open = async (repo: Repository): Promise<{ git: SimpleGit; secrets: string[] }> => {
    const dir = mirrorDir(repo);
    if (!existsSync(path.join(dir, 'HEAD'))) {
      await mkdir(dir, { recursive: true });
      await client(dir, baseEnv(), timeoutMs).raw(['init', '--bare', '--quiet']);
    }
    const token = isHttp(repo.cloneUrl) ? await opts.token?.(repo) : undefined;
    const env = baseEnv();
    const secrets: string[] = [];
    if (token) {
      const basic = Buffer.from(`x-access-token:${token}`).toString('base64');
      Object.assign(env, {
        GIT_CONFIG_COUNT: '1',
        GIT_CONFIG_KEY_0: 'http.extraHeader',
        GIT_CONFIG_VALUE_0: `Authorization: Basic ${basic}`,
      });
      secrets.push(token, basic);
    }
    return { git: client(dir, env, timeoutMs), secrets };
  };

  const fetchAll = async (repo: Repository, git: SimpleGit, secrets: string[]) => {
    await guard(repo, secrets, 'fetch', () =>
      git.raw(['fetch', '--prune', '--no-tags', '--quiet', remoteUrl(repo.cloneUrl), ...REFSPECS]),
    );
  };

  const hasCommit = async (git: SimpleGit, sha: string) => {
    try {
      await git.raw(['cat-file', '-e', `${sha}^{commit}`]);
      return true;
    } catch {
      return false;
    }
  };

  const ensure = async (repo: Repository, git: SimpleGit, secrets: string[], sha: string) => {
    if (!COMMIT_SHA.test(sha))
      throw new GitAccessError(`${describe(repo)}: ${JSON.stringify(sha)} is not a full commit SHA`, false);
    if (await hasCommit(git, sha)) return;
    await fetchAll(repo, git, secrets);
    if (await hasCommit(git, sha)) return;
    // A commit no ref points at any more (a force-pushed PR head): ask for it by name, which GitHub allows.
    await guard(repo, secrets, 'fetch', () =>
      git.raw(['fetch', '--no-tags', '--quiet', remoteUrl(repo.cloneUrl), sha]),
    ).catch(() => undefined);
    if (!(await hasCommit(git, sha))) {
      throw new GitAccessError(
        `${describe(repo)}: commit ${sha} is not in the repository (yet): it may have been force-pushed away`,
        true,
      );
    }
  };

  return {
    mirrorDir,
    ensureCommit: (repo, sha) =>
      lock.run(mirrorDir(repo), async () => {
        const { git, secrets } = await open(repo);
        await ensure(repo, git, secrets, sha);
      }),
    checkout: (repo, sha) =>
      lock.run(mirrorDir(repo), async () => {
        const { git, secrets } = await open(repo);
        await ensure(repo, git, secrets, sha);
        return extract(mirrorDir(repo), checkoutsDir, sha, timeoutMs);
      }),
    branchHead: (repo, branch) =>
      lock.run(mirrorDir(repo), async () => {
        if (!validBranch(branch))
          throw new GitAccessError(`${describe(repo)}: ${JSON.stringify(branch)} is not a valid branch name`, false);
        const { git, secrets } = await open(repo);
        await fetchAll(repo, git, secrets);
        try {
          return (await git.raw(['rev-parse', '--verify', '--quiet', `refs/heads/${branch}^{commit}`])).trim() || null;
        } catch {
          return null;
        }
      }),
    changedFiles: (repo, base, head) =>
      lock.run(mirrorDir(repo), async () => {
        const { git, secrets } = await open(repo);
        await ensure(repo, git, secrets, base);
        await ensure(repo, git, secrets, head);
        // Three dots: what the pull request changes since it forked from base, as GitHub shows it.
        const out = await git.raw(['diff', '--name-only', '--no-renames', '-z', `${base}...${head}`]);
        return out.split('\0').filter(Boolean);
      }),
    mergeBase: (repo, a, b) =>
      lock.run(mirrorDir(repo), async () => {
        const { git, secrets } = await open(repo);
        await ensure(repo, git, secrets, a);
        await ensure(repo, git, secrets, b);
        try {
          return (await git.raw(['merge-base', a, b])).trim() || null;
        } catch {
          return null;
        }
      }),
    remoteDefaultBranch: (repo) =>
      lock.run(mirrorDir(repo), async () => {
        const { git, secrets } = await open(repo);
        const out = await guard(repo, secrets, 'ls-remote', () =>
          git.raw(['ls-remote', '--symref', remoteUrl(repo.cloneUrl), 'HEAD']),
        );
        const m = /^ref: refs\/heads\/(\S+)\s+HEAD$/m.exec(out);
        return m ? m[1] : null;
      }),
  };
}

/** Files of `sha` written into a fresh directory through a private index (the mirror itself is never touched). */
async function extract(mirror: string, checkoutsDir: string, sha: string, timeoutMs: number) {
  await mkdir(checkoutsDir, { recursive: true });
  const dir = await mkdtemp(path.join(checkoutsDir, `${sha.slice(0, 12)}-`));
  const cleanup = () => rm(dir, { recursive: true, force: true });
  try {
    const env = {
      ...baseEnv(),
      GIT_DIR: mirror,
      GIT_WORK_TREE: path.join(dir, 'tree'),
      GIT_INDEX_FILE: path.join(dir, 'index'),
    };
    await mkdir(env.GIT_WORK_TREE);
    const git = client(dir, env, timeoutMs);
    await git.raw(['read-tree', sha]);
    await git.raw(['checkout-index', '--all', '--force']);
    await rm(env.GIT_INDEX_FILE, { force: true });
    return { dir: env.GIT_WORK_TREE, cleanup };
  } catch (err) {
    await cleanup();
    throw new GitAccessError(`cannot check out ${sha}: ${(err as Error).message}`, false);
  }
}

function client(baseDir: string, env: Record<string, string>, timeoutMs: number): SimpleGit {
  // The flagged settings are ours (a private index, no user config, the token header), never from a repository.
  return simpleGit({
    baseDir,
    timeout: { block: timeoutMs },
    allowEnvironment: Object.keys(env),
    unsafe: { allowUnsafeConfigPaths: true, allowUnsafeConfigEnvCount: true },
  }).env(env);
}

/** A minimal environment: no prompts (a missing credential fails instead of hanging), no user or system config. */
function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {
    GIT_TERMINAL_PROMPT: '0',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    LC_ALL: 'C',
  };
  for (const key of [
    'PATH',
    'HOME',
    'TMPDIR',
    'HTTPS_PROXY',
    'HTTP_PROXY',
    'NO_PROXY',
    'https_proxy',
    'http_proxy',
    'no_proxy',
    'SSL_CERT_FILE',
    'GIT_SSL_CAINFO',
  ]) {
    const v = process.env[key];
    if (v !== undefined) env[key] = v;
  }
  return env;
}

/** Runs a command that talks to the remote: failures are transient and never mention the token. */
async function guard<T>(repo: Repository, secrets: string[], what: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    let message = err instanceof Error ? err.message : String(err);
    for (const s of secrets) message = message.split(s).join('***');
    throw new GitAccessError(`${describe(repo)}: git ${what} failed: ${message.trim()}`, true);
  }
}

function describe(repo: Repository): string {
  return repo.kind === 'github' ? repositoryKey(repo) : redactUrl(repo.cloneUrl);
}

function isHttp(url: string): boolean {
  return /^https?:\/\//i.test(url);
}

/** Local paths are made absolute so a relative POLITBURO_REPOS entry means the same thing from the mirror directory. */
function remoteUrl(url: string): string {
  return isRemoteUrl(url) ? url : path.resolve(url);
}

/** `owner-name-<hash of the clone URL>.git`: readable, and two URLs never share a mirror. */
function mirrorName(repo: Repository): string {
  const hash = createHash('sha256').update(remoteUrl(repo.cloneUrl)).digest('hex').slice(0, 12);
  const label =
    (repo.kind === 'github' ? `${repo.owner}-${repo.name}` : path.basename(repo.location))
      .replace(/[^A-Za-z0-9._-]+/g, '_')
      .replace(/^[._-]+/, '')
      .slice(0, 60) || 'repo';
  return `${label}-${hash}.git`;
}

function validBranch(branch: string): boolean {
  if (
    branch.length === 0 ||
    branch.length > 255 ||
    [...branch].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f)
  )
    return false;
  return !/(^[-/.])|\.\.|[\s~^:?*[\\]|@\{|\/\/|\.lock$|\/$|\.$/.test(branch);
}
