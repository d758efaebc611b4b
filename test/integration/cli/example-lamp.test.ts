// The example repository is complete: every Babushka dep the description names is defined, every production host is
// pinned.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadDescription } from '../../../schema/load-description.js';
import { parseKnownHosts } from '../../../hosts/known-hosts.js';

const EXAMPLE = path.resolve(import.meta.dirname, '../../../examples/lamp');

test('examples/lamp: deps for every babushka task, known_hosts for every production host, demo hosts all local', async () => {
  const loaded = await loadDescription({ dir: EXAMPLE });
  assert.ok(loaded.ok, loaded.ok ? '' : JSON.stringify(loaded.errors));
  const envs = loaded.description.environments;
  assert.deepEqual([...envs.keys()], ['production', 'staging', 'demo']);
  const depsDir = path.join(EXAMPLE, loaded.description.depsDir);
  const defined = new Set(
    readdirSync(depsDir)
      .filter((f) => f.endsWith('.rb'))
      .flatMap((f) => [...readFileSync(path.join(depsDir, f), 'utf8').matchAll(/^dep '([^']+)'/gm)].map((m) => m[1])),
  );
  for (const env of envs.values()) {
    for (const n of env.nodes) {
      for (const t of n.tasks)
        if (t.kind === 'babushka') assert.ok(defined.has(t.dep), `${env.name}:${n.path} uses undefined dep '${t.dep}'`);
    }
  }
  const known = parseKnownHosts(readFileSync(path.join(EXAMPLE, envs.get('production')!.knownHosts!), 'utf8'));
  assert.deepEqual(known.errors, []);
  for (const n of envs.get('production')!.nodes) {
    assert.equal(n.host.kind, 'static');
    const address = n.host.kind === 'static' ? n.host.address : '';
    assert.ok(
      known.entries.some((e) => e.patterns?.includes(address)),
      `${n.path} pinned`,
    );
  }
  const demo = envs.get('demo')!;
  assert.ok(demo.nodes.every((n) => n.host.kind === 'local' && n.tasks.every((t) => t.kind === 'shell')));
  assert.ok(
    demo.nodes.every((n) => n.tasks.every((t) => t.kind === 'shell' && t.meet.includes('$HOME/.politburo-demo/'))),
    'demo tasks only write under ~/.politburo-demo',
  );
  assert.deepEqual(
    envs.get('staging')!.nodes.map((n) => n.path),
    ['database/master', 'web-1', 'lb'],
  );
});

test('the README sample of the language is a valid description', async () => {
  const readme = readFileSync(path.resolve(import.meta.dirname, '../../../README.md'), 'utf8');
  const sample = /```yaml\n(politburo: 1\n[\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(sample, 'README has a yaml sample');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pb-readme-'));
  try {
    writeFileSync(path.join(dir, 'politburo.yml'), sample);
    const loaded = await loadDescription({ dir });
    assert.ok(loaded.ok, loaded.ok ? '' : JSON.stringify(loaded.errors));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
