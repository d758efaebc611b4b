// patches/ (patch-package): each patch is for the exact version installed, applied by `npm ci`/`npm install` in a clone
// (the prepare script) and in the image's build stage, and never run where Politburo is installed as a dependency.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../..');
const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};
const lock = JSON.parse(readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { version: string }>;
};
const patches = readdirSync(path.join(ROOT, 'patches')).filter((f) => f.endsWith('.patch'));

test('each patch names the exact version package.json pins and the lockfile installs', () => {
  assert.ok(patches.length > 0);
  for (const file of patches) {
    const m = /^(.+)\+(\d+\.\d+\.\d+)\.patch$/.exec(file);
    assert.ok(m, `${file} is NAME+VERSION.patch`);
    const [, name, version] = m;
    assert.equal(pkg.dependencies[name], version, `package.json pins ${name} to ${version}: the patch is for it`);
    assert.equal(lock.packages[`node_modules/${name}`]?.version, version, `the lockfile installs ${name}@${version}`);
  }
});

test('patch-package runs as the prepare script (a clone, the image), not postinstall (where Politburo is a dependency)', () => {
  assert.equal(pkg.scripts.prepare, 'patch-package');
  assert.ok(pkg.devDependencies['patch-package'], 'patch-package is a devDependency');
  assert.equal(pkg.scripts.postinstall, undefined, "a dependent's install would run it without patch-package");
});

test("the image's build stage copies patches/ before its npm ci", () => {
  const lines = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8').split('\n');
  const copy = lines.findIndex((l) => /^COPY\s+patches\s+patches\s*$/.test(l));
  const ci = lines.findIndex((l) => /^RUN\s+npm ci\b/.test(l));
  assert.ok(copy >= 0 && ci >= 0 && copy < ci, 'COPY patches patches comes before RUN npm ci');
});

test('the patches read as upstream pull requests: a description first, no machine paths', () => {
  for (const file of patches) {
    const text = readFileSync(path.join(ROOT, 'patches', file), 'utf8');
    const header = text.slice(0, text.indexOf('diff --git'));
    assert.match(header, /\S/, `${file} starts with its description`);
    assert.doesNotMatch(text, /(^|[\s"'(])\/(work|tmp|root|home)\//m, `${file} has no machine paths`);
  }
});
