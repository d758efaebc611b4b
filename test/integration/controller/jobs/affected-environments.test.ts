/** Which environments a pull request changes, from descriptions loaded out of real commits. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { affectedEnvironments, touchesDescription } from '../../../../controller/jobs/affected-environments.js';
import { loadDescription } from '../../../../schema/load-description.js';
import type { Description } from '../../../../kernel/types.js';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

function yaml(o: { prodRef?: string; stageRef?: string; withQa?: boolean; deps?: string } = {}): string {
  return `politburo: 1
${o.deps ? `deps: ${o.deps}\n` : ''}roles:
  app:
    tasks:
      - babushka: 'app deployed'
        args: { ref: '\${params.ref}' }
blueprints:
  bp:
    params: { ref: main }
    resources:
      web: { roles: [app] }
environments:
  prod:
    blueprint: bp
    params: { ref: ${o.prodRef ?? 'v1'} }
    hosts: { web: 10.0.0.1 }
    known_hosts: known_hosts
  stage:
    blueprint: bp
    params: { ref: ${o.stageRef ?? 'v1'} }
    hosts: { web: 10.0.0.2 }
${o.withQa ? '  qa:\n    blueprint: bp\n    hosts: { web: 10.0.0.3 }\n' : ''}`;
}

async function load(text: string): Promise<Description> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'politburo-affected-'));
  try {
    await writeFile(path.join(dir, 'politburo.yml'), text);
    await writeFile(path.join(dir, 'known_hosts'), '');
    await mkdir(path.join(dir, 'babushka-deps'));
    const r = await loadDescription({ dir });
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    return r.description;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('affectedEnvironments', () => {
  test('only the environment whose resolved nodes changed', async () => {
    const base = await load(yaml());
    assert.deepEqual(affectedEnvironments(await load(yaml({ stageRef: 'v2' })), base, ['politburo.yml']), ['stage']);
    assert.deepEqual(
      affectedEnvironments(await load(yaml()), base, ['politburo.yml']),
      [],
      'a reformatting changes nothing',
    );
  });

  test('added and removed environments are affected', async () => {
    const base = await load(yaml());
    assert.deepEqual(affectedEnvironments(await load(yaml({ withQa: true })), base, ['politburo.yml']), ['qa']);
    assert.deepEqual(affectedEnvironments(base, await load(yaml({ withQa: true })), ['politburo.yml']), ['qa']);
    assert.deepEqual(
      affectedEnvironments(base, null, ['politburo.yml']),
      ['prod', 'stage'],
      'no description at base: everything is new',
    );
  });

  test('changed deps affect every environment using them; a known_hosts file only its environment', async () => {
    const base = await load(yaml());
    assert.deepEqual(affectedEnvironments(base, base, ['babushka-deps/app.rb']), ['prod', 'stage']);
    assert.deepEqual(affectedEnvironments(base, base, ['known_hosts']), ['prod']);
    assert.deepEqual(affectedEnvironments(base, base, ['README.md', 'src/x.ts']), []);
  });

  test('touchesDescription: a quick test before loading the base commit', async () => {
    const head = await load(yaml());
    assert.equal(touchesDescription(head, ['README.md']), false);
    assert.equal(touchesDescription(head, ['politburo.yml']), true);
    assert.equal(touchesDescription(head, ['environments/extra.yml']), true);
    assert.equal(touchesDescription(head, ['babushka-deps/web.rb']), true);
  });
});
