/** Real git repositories in temporary directories, for tests and benches. */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export class GitRepo {
  constructor(readonly dir: string) {}

  /** A new repository (branch `main`) in a temp directory, with `files` as its first commit. */
  static async create(files: Record<string, string>, prefix = 'politburo-repo-'): Promise<GitRepo> {
    const repo = await GitRepo.init(await mkdtemp(path.join(os.tmpdir(), prefix)));
    await repo.commit(files, 'initial');
    return repo;
  }

  /** `git init` (branch `main`) in an existing directory; nothing is committed. */
  static async init(dir: string): Promise<GitRepo> {
    await run('git', ['init', '-q', '-b', 'main', dir]);
    return new GitRepo(dir);
  }

  /** Runs git in the repository as a test author; returns stdout, trimmed. */
  async git(...args: string[]): Promise<string> {
    const { stdout } = await run('git', [
      '-C',
      this.dir,
      '-c',
      'user.name=t',
      '-c',
      'user.email=t@example.com',
      ...args,
    ]);
    return stdout.trim();
  }

  /** Writes files (directories created) and commits everything on the current branch; returns the new commit. */
  async commit(files: Record<string, string>, message = 'change'): Promise<string> {
    for (const [name, content] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(this.dir, name)), { recursive: true });
      await writeFile(path.join(this.dir, name), content);
    }
    return this.commitAll(message);
  }

  /** Commits everything in the working tree (even nothing); returns the new commit. */
  async commitAll(message: string): Promise<string> {
    await this.git('add', '-A');
    await this.git('commit', '-q', '--allow-empty', '-m', message);
    return this.head();
  }

  head(ref = 'HEAD'): Promise<string> {
    return this.git('rev-parse', ref);
  }
}
