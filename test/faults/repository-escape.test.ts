/**
 * Repository contents that try to make Politburo read outside the repository: includes, the main file, deps,
 * known_hosts and provider scripts named with `..`, absolute paths, globs, and real symlinks (direct, chained, to
 * directories). Each case builds a real repository next to an "outside" directory whose files carry a unique marker,
 * runs the real validation (and the real CLI for some), and checks the refusal is clear and the marker never shows.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatValidationError, loadDescription } from '../../schema/load-description.js';
import { providerCreate } from '../../reconciler/provider.js';
import { hashDepsDir } from '../../kernel/deps-hash.js';
import { tarDirectory } from '../../hosts/deps-upload.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MARKER = `outsidemarker${randomBytes(6).toString('hex')}`;

const ENV = `environments:
  prod:
    resources: { web: { tasks: [ { name: hello, met: 'true', meet: 'true' } ] } }
    hosts: { web: local }
`;

let base: string;
let outside: string;
let counter = 0;

before(async () => {
  base = await mkdtemp(path.join(os.tmpdir(), 'pb-escape-'));
  outside = path.join(base, 'outside');
  await mkdir(path.join(outside, 'deps'), { recursive: true });
  // Valid YAML that would merge cleanly: if it were read, its role and its names would show up.
  const yaml = `roles:\n  ${MARKER}: { tasks: [ { babushka: '${MARKER}' } ] }\n`;
  await writeFile(path.join(outside, `${MARKER}.yml`), yaml);
  await writeFile(
    path.join(outside, 'known_hosts'),
    `# ${MARKER}\n127.0.0.1 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI${MARKER}\n`,
  );
  await writeFile(path.join(outside, 'deps', `${MARKER}.rb`), `dep '${MARKER}'\n`);
  await writeFile(
    path.join(outside, 'evil.sh'),
    `#!/bin/sh\ntouch '${path.join(outside, 'ran')}'\necho '{"address": "${MARKER}"}'\n`,
  );
  await chmod(path.join(outside, 'evil.sh'), 0o755);
});

after(async () => {
  await rm(base, { recursive: true, force: true });
});

/** A repository with `files` (text) and `links` (name → target; `@outside` stands for the outside directory). */
async function repo(files: Record<string, string>, links: Record<string, string> = {}): Promise<string> {
  const dir = path.join(base, `repo-${++counter}`);
  await mkdir(dir);
  for (const [name, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await writeFile(path.join(dir, name), text);
    if (name.endsWith('.sh')) await chmod(path.join(dir, name), 0o755);
  }
  for (const [name, target] of Object.entries(links)) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await symlink(target.replace('@outside', outside), path.join(dir, name));
  }
  return dir;
}

/** Loads the description; returns its errors as text (empty when valid). Nothing of the outside may appear. */
async function validate(dir: string): Promise<string> {
  const r = await loadDescription({ dir });
  const text = r.ok ? '' : r.errors.map(formatValidationError).join('\n');
  assert.ok(!text.includes(MARKER), `the outside content leaked into:\n${text}`);
  if (r.ok)
    assert.ok(
      ![...r.description.environments.values()].some((e) => JSON.stringify(e).includes(MARKER)),
      'outside content was merged',
    );
  return text;
}

function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const { DATABASE_URL: _ignored, ...env } = process.env;
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', path.join(ROOT, 'cli/bin.ts'), ...args],
      { cwd: ROOT, env },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number') return reject(err);
        resolve({ code: err ? Number(err.code) : 0, stdout, stderr });
      },
    );
  });
}

const main = (extra: string) => `politburo: 1\n${extra}${ENV}`;

describe('includes cannot leave the repository', { concurrency: true }, () => {
  test('a symlinked directory to outside, included with a wildcard, is refused before anything behind it is listed', async () => {
    const dir = await repo({ 'politburo.yml': main("include: ['linkdir/*']\n") }, { linkdir: '@outside' });
    assert.equal(
      await validate(dir),
      "politburo.yml:2:11: include pattern 'linkdir/*' leads outside the repository through the symlink 'linkdir': only paths inside the repository can be used",
    );
  });

  test('a symlink to the root of the machine, with a pattern reaching into /etc, is refused', async () => {
    const dir = await repo({ 'politburo.yml': main("include: ['sys/etc/*', 'sys/etc/hostname']\n") }, { sys: '/' });
    const errors = await validate(dir);
    assert.match(errors, /include pattern 'sys\/etc\/\*' leads outside the repository through the symlink 'sys'/);
    assert.match(errors, /included file 'sys\/etc\/hostname' leads outside the repository through the symlink 'sys'/);
  });

  test('a symlinked file to outside, named literally, is refused', async () => {
    const dir = await repo(
      { 'politburo.yml': main("include: ['roles.yml']\n") },
      { 'roles.yml': `@outside/${MARKER}.yml` },
    );
    assert.match(
      await validate(dir),
      /^politburo\.yml:2:11: included file 'roles\.yml' leads outside the repository through the symlink 'roles\.yml'/,
    );
  });

  test('a chain of symlinks inside the repository whose last link leaves it is refused, naming that link', async () => {
    const dir = await repo(
      { 'politburo.yml': main("include: ['a/roles.yml', 'b/*.yml']\n") },
      { a: 'b', b: 'c', c: '@outside' },
    );
    const errors = await validate(dir);
    assert.match(errors, /included file 'a\/roles\.yml' leads outside the repository through the symlink 'a'/);
    assert.match(errors, /include pattern 'b\/\*\.yml' leads outside the repository through the symlink 'b'/);
  });

  test('.., absolute paths and braces hiding .. are refused', async () => {
    const dir = await repo({
      'politburo.yml': main(
        `include: ['../outside/*.yml', '${outside}/*.yml', '{..,x}/outside/*.yml', './../outside/${MARKER}.yml']\n`.replaceAll(
          MARKER,
          'x',
        ),
      ),
    });
    const errors = await validate(dir).then((e) => e.split('\n'));
    assert.equal(errors.length, 4, errors.join('\n'));
    for (const e of errors) assert.match(e, /must be relative and stay inside the repository|must not contain '\.\.'/);
  });

  test('a wildcard does not follow a symlinked directory: the outside file is never merged', async () => {
    const dir = await repo({ 'politburo.yml': main("include: ['*/*.yml', '**/*.yml']\n") }, { linkdir: '@outside' });
    assert.equal(await validate(dir), '');
  });

  test('a symlink loop inside the repository does not hang and is reported', async () => {
    const dir = await repo(
      { 'politburo.yml': main("include: ['**/*.yml', 'loop/x.yml']\n") },
      { loop: 'loop2', loop2: 'loop' },
    );
    assert.match(
      await validate(dir),
      /included file 'loop\/x\.yml': the symlink 'loop' points to nothing \(or loops\): fix or remove the link/,
    );
  });

  test('a symlinked file and a symlinked directory inside the repository are included', async () => {
    const dir = await repo(
      {
        'politburo.yml':
          "politburo: 1\ninclude: ['roles.yml', 'shared/*.yml']\nenvironments:\n  prod: { resources: { web: { roles: [a, b] } }, hosts: { web: local } }\n",
        'lib/roles.yml': "roles:\n  a: { tasks: [ { name: a, met: 'true', meet: 'true' } ] }\n",
        'lib/more/b.yml': "roles:\n  b: { tasks: [ { name: b, met: 'true', meet: 'true' } ] }\n",
      },
      { 'roles.yml': 'lib/roles.yml', shared: 'lib/more' },
    );
    assert.equal(await validate(dir), '');
  });

  test('nothing under .git is read, named directly or through a link (a CI checkout keeps its token there)', async () => {
    const dir = await repo(
      {
        'politburo.yml': main("include: ['.git/config', 'cfg.yml', '.git/*']\n"),
        '.git/config': `roles:\n  ${MARKER}: {}\n`,
      },
      { 'cfg.yml': '.git/config' },
    );
    const errors = (await validate(dir)).split('\n');
    assert.equal(errors.length, 3, errors.join('\n'));
    for (const e of errors) assert.match(e, /is inside a \.git directory, which is never read/);
  });

  test('a symlinked politburo.yml inside the repository works', async () => {
    const dir = await repo({ 'infra/main.yml': main('') }, { 'politburo.yml': 'infra/main.yml' });
    assert.equal(await validate(dir), '');
  });

  test('a symlinked politburo.yml leading outside is refused, and not read', async () => {
    const dir = await repo({}, { 'politburo.yml': `@outside/${MARKER}.yml` });
    assert.equal(
      await validate(dir),
      "politburo.yml:1:1: the description file 'politburo.yml' leads outside the repository through the symlink 'politburo.yml': only paths inside the repository can be used",
    );
  });
});

describe('deps, known_hosts and provider scripts stay inside the repository', { concurrency: true }, () => {
  test('deps: .., an absolute path, a symlink to outside, a symlink inside the deps directory', async () => {
    const cases: [string, Record<string, string>, RegExp][] = [
      ['deps: ..\n', {}, /deps directory '\.\.' must not contain '\.\.'/],
      ['deps: /etc\n', {}, /deps directory '\/etc' is an absolute path/],
      ['deps: d\n', { d: '@outside/deps' }, /deps directory 'd' leads outside the repository through the symlink 'd'/],
      [
        '',
        { 'babushka-deps': '@outside/deps' },
        /deps directory 'babushka-deps' leads outside the repository through the symlink 'babushka-deps'/,
      ],
      [
        '',
        { [`babushka-deps/web.rb`]: `@outside/deps/${MARKER}.rb` },
        /deps directory 'babushka-deps': the symlink 'web\.rb' (is absolute|points outside the deps directory)/,
      ],
      [
        '',
        { 'babushka-deps/lib': '../../outside/deps' },
        /deps directory 'babushka-deps': the symlink 'lib' points outside the deps directory/,
      ],
      ['deps: mydeps\n', {}, /deps directory 'mydeps' does not exist in the repository/],
    ];
    for (const [line, links, expected] of cases) {
      const dir = await repo({ 'politburo.yml': main(line) }, links);
      assert.match(await validate(dir), expected, line);
    }
  });

  test('the deps tree refuses a symlink chain leaving it when hashed and when uploaded', async () => {
    const dir = await repo(
      { 'babushka-deps/web.rb': "dep 'web'\n" },
      { 'babushka-deps/sub/a.rb': 'b.rb', 'babushka-deps/sub/b.rb': `@outside/deps/${MARKER}.rb` },
    );
    for (const run of [hashDepsDir, tarDirectory] as ((d: string) => Promise<unknown>)[]) {
      await assert.rejects(run(path.join(dir, 'babushka-deps')), (err: Error) => {
        assert.match(err.message, /the symlink 'sub\/(a|b)\.rb'/);
        assert.ok(!err.message.includes(MARKER));
        return true;
      });
    }
  });

  test('known_hosts: .., absolute, a symlink to outside, missing', async () => {
    const env = (kh: string) => `politburo: 1\n${ENV}    known_hosts: ${kh}\n`;
    const cases: [string, Record<string, string>, RegExp][] = [
      [
        '../outside/known_hosts',
        {},
        /politburo\.yml:6:18: known_hosts file '\.\.\/outside\/known_hosts' must not contain '\.\.'/,
      ],
      [
        path.join(outside, 'known_hosts'),
        {},
        /known_hosts file '.*' is an absolute path: use a path relative to the repository root/,
      ],
      [
        'ssh/known_hosts',
        { ssh: '@outside' },
        /known_hosts file 'ssh\/known_hosts' leads outside the repository through the symlink 'ssh'/,
      ],
      [
        'known_hosts',
        { known_hosts: '@outside/known_hosts' },
        /known_hosts file 'known_hosts' leads outside the repository through the symlink 'known_hosts'/,
      ],
      ['known_hosts', {}, /known_hosts file 'known_hosts' does not exist in the repository/],
    ];
    for (const [kh, links, expected] of cases) {
      const dir = await repo({ 'politburo.yml': env(kh) }, links);
      assert.match(await validate(dir), expected, kh);
    }
  });

  test('provider scripts: .., absolute, a symlink to outside; the outside script never runs', async () => {
    const withProvider = (create: string) =>
      `politburo: 1\nprovider: { exec: { create: '${create}', destroy: destroy.sh } }\n${ENV}`;
    const cases: [string, Record<string, string>, RegExp][] = [
      ['../outside/evil.sh', {}, /provider create script '\.\.\/outside\/evil\.sh' must not contain '\.\.'/],
      [path.join(outside, 'evil.sh'), {}, /provider create script '.*' is an absolute path/],
      [
        'create.sh',
        { 'create.sh': '@outside/evil.sh' },
        /provider create script 'create\.sh' leads outside the repository through the symlink 'create\.sh'/,
      ],
      ['create.sh', {}, /provider create script 'create\.sh' does not exist in the repository/],
    ];
    for (const [create, links, expected] of cases) {
      const dir = await repo({ 'politburo.yml': withProvider(create), 'destroy.sh': '#!/bin/sh\n' }, links);
      assert.match(await validate(dir), expected, create);
    }
    // At run time too: a script swapped for a link after validation is refused, and what it points to is not run.
    const dir = await repo({}, { 'provision/create.sh': '@outside/evil.sh' });
    const provider = {
      create: 'provision/create.sh',
      destroy: 'provision/create.sh',
      source: { file: 'politburo.yml', line: 1, column: 1 },
    };
    await assert.rejects(
      providerCreate({ root: dir, provider, environment: 'prod', resource: 'web', params: {}, timeoutMs: 30_000 }),
      (err: Error) => {
        assert.match(
          err.message,
          /provider script 'provision\/create\.sh' leads outside the repository through the symlink 'provision\/create\.sh'/,
        );
        return true;
      },
    );
    assert.equal(existsSync(path.join(outside, 'ran')), false, 'the outside script ran');
  });
});

describe(
  'politburo validate (the CLI) refuses escapes without showing anything from outside',
  { concurrency: true },
  () => {
    test('an include through a symlinked directory: exit 2, the link named, nothing of the outside shown', async () => {
      const dir = await repo({ 'politburo.yml': main("include: ['linkdir/*']\n") }, { linkdir: '@outside' });
      const r = await runCli(['validate', '--dir', dir]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(
        r.stderr,
        /^politburo\.yml:2:11: include pattern 'linkdir\/\*' leads outside the repository through the symlink 'linkdir'/,
      );
      assert.ok(!(r.stdout + r.stderr).includes(MARKER), r.stderr);
    });

    test('known_hosts and deps pointing outside: exit 2, both reported at once', async () => {
      const dir = await repo(
        { 'politburo.yml': `politburo: 1\ndeps: ..\n${ENV}    known_hosts: known_hosts\n` },
        { known_hosts: '@outside/known_hosts' },
      );
      const r = await runCli(['validate', '--dir', dir]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /politburo\.yml:2:7: deps directory '\.\.' must not contain '\.\.'/);
      assert.match(
        r.stderr,
        /politburo\.yml:7:18: known_hosts file 'known_hosts' leads outside the repository through the symlink 'known_hosts'/,
      );
      assert.match(r.stderr, /2 errors: the description is invalid/);
      assert.ok(!(r.stdout + r.stderr).includes(MARKER), r.stderr);
    });
  },
);

describe('paths in otherwise invalid definitions are checked too', () => {
  test('known_hosts and provider scripts of an environment with a typo, and of a top-level provider with one', async () => {
    const dir = await repo({
      'politburo.yml': `politburo: 1
provider: { exec: { create: ../outside/evil.sh, destroy: d.sh }, typo: 1 }
environments:
  prod:
    resources: { web: { tasks: [ { name: hello, met: 'true', meet: 'true' } ] } }
    hostz: { web: local }
    known_hosts: /etc/ssh/ssh_known_hosts
    provider: { exec: { create: c.sh, destroy: ../outside/evil.sh } }
`,
      'c.sh': '#!/bin/sh\n',
      'd.sh': '#!/bin/sh\n',
    });
    assert.deepEqual((await validate(dir)).split('\n'), [
      "politburo.yml:2:29: provider create script '../outside/evil.sh' must not contain '..': use a path inside the repository",
      "politburo.yml:2:66: unknown key 'typo'",
      "politburo.yml:6:5: unknown key 'hostz' (did you mean 'hosts'?)",
      "politburo.yml:7:18: known_hosts file '/etc/ssh/ssh_known_hosts' is an absolute path: use a path relative to the repository root",
      "politburo.yml:8:48: provider destroy script '../outside/evil.sh' must not contain '..': use a path inside the repository",
    ]);
  });
});
