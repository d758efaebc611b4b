// Privilege escalation in the language (docs/language.md, "Privilege escalation"): inheritance from defaults through
// groups and nodes to tasks, validation of become_password, and the spec hash.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadInvalid, loadValid, node } from './helpers.js';
import type { ResolvedNode } from '../../../kernel/types.js';
import { specHash } from '../../../kernel/spec-hash.js';
import { createHash } from 'node:crypto';
import stringify from 'safe-stable-stringify';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify as toYaml } from 'yaml';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

const becomes = (n: ResolvedNode) => n.tasks.map((t) => [t.name, t.become ?? null]);

test('become inherits from defaults (top-level, then environment) through groups and nodes to tasks', async () => {
  const envs = await loadValid(`
politburo: 1
defaults: { become_user: deploy }
blueprints:
  b:
    resources:
      app:
        become: sudo
        become_password: '\${secret.sudo_pw}'
        resources:
          web:
            tasks:
              - { babushka: app deployed }
              - { name: as root, met: 'true', meet: 'true', become_user: root }
              - { name: plain, met: 'true', meet: 'true', become: false }
          db:
            become_user: postgres
            tasks: [ { babushka: db } ]
      cache: { tasks: [ { babushka: cache } ] }
environments:
  prod:
    blueprint: b
    defaults: { become_user: ops }
    hosts: { app: local, cache: local }
  staging:
    blueprint: b
    hosts: { app: local, cache: local }
`);
  const prod = envs.get('prod')!;
  assert.deepEqual(becomes(node(prod, 'app/web')), [
    ['app deployed', { method: 'sudo', user: 'ops', password: '${secret.sudo_pw}' }],
    ['as root', { method: 'sudo', user: 'root', password: '${secret.sudo_pw}' }],
    ['plain', null],
  ]);
  assert.deepEqual(becomes(node(prod, 'app/db')), [
    ['db', { method: 'sudo', user: 'postgres', password: '${secret.sudo_pw}' }],
  ]);
  assert.deepEqual(becomes(node(prod, 'cache')), [['cache', null]], 'become_user alone does not escalate');
  assert.deepEqual(becomes(node(envs.get('staging')!, 'app/web'))[0], [
    'app deployed',
    { method: 'sudo', user: 'deploy', password: '${secret.sudo_pw}' },
  ]);
});

test('become defaults to root without a password; override and extends change it', async () => {
  const envs = await loadValid(`
politburo: 1
blueprints:
  b:
    resources:
      web: { become: sudo, tasks: [ { babushka: app } ] }
environments:
  prod: { blueprint: b, hosts: { web: local } }
  other:
    extends: prod
    override: { web: { become_user: www-data } }
    hosts: { web: local }
`);
  assert.deepEqual(node(envs.get('prod')!, 'web').tasks[0].become, { method: 'sudo', user: 'root' });
  assert.deepEqual(node(envs.get('other')!, 'web').tasks[0].become, { method: 'sudo', user: 'www-data' });
});

test('the spec hash changes with become and become_user, not with the password secret; no become keeps old hashes', () => {
  const src = { file: 'politburo.yml', line: 1, column: 1 };
  const host = { kind: 'local' as const, source: src };
  const task = { kind: 'shell' as const, name: 't', met: 'true', meet: 'true', source: src };
  const plain = specHash({ host, tasks: [task] });
  const root = specHash({ host, tasks: [{ ...task, become: { method: 'sudo', user: 'root' } }] });
  const rootPw = specHash({
    host,
    tasks: [{ ...task, become: { method: 'sudo', user: 'root', password: '${secret.other}' } }],
  });
  const deploy = specHash({ host, tasks: [{ ...task, become: { method: 'sudo', user: 'deploy' } }] });
  assert.notEqual(plain, root);
  assert.notEqual(root, deploy);
  assert.equal(root, rootPw);
  // The hash of a node without become is what it was before become existed (canonical JSON of host and tasks).
  const before = stringify({
    host: { kind: 'local' },
    tasks: [{ kind: 'shell', name: 't', met: 'true', meet: 'true' }],
  });
  assert.equal(plain, createHash('sha256').update(before!).digest('hex'));
});

test('become_password must be a secret reference, with the position of the mistake', async () => {
  const errors = await loadInvalid(`
politburo: 1
defaults:
  become_password: hunter2
blueprints:
  b:
    resources:
      web:
        become: sudo
        become_password: 'pw-\${secret.x}'
        tasks:
          - name: t
            met: 'true'
            meet: 'true'
            become_password: '\${params.pw}'
environments:
  prod: { blueprint: b, hosts: { web: local } }
`);
  const joined = errors.join('\n');
  assert.match(
    joined,
    /politburo\.yml:4:\d+: .*become_password must be a secret reference such as '\$\{secret\.sudo_password\}'/,
  );
  assert.match(joined, /politburo\.yml:10:\d+: .*become_password must be a secret reference/);
  assert.match(joined, /politburo\.yml:15:\d+: .*become_password must be a secret reference/);
});

test('become accepts only sudo or false; become_user must be a user name', async () => {
  const errors = await loadInvalid(`
politburo: 1
blueprints:
  b:
    resources:
      web: { become: su, tasks: [ { babushka: x } ] }
      db: { become: sudo, become_user: 'root; rm -rf /', tasks: [ { babushka: x } ] }
environments:
  prod: { blueprint: b, hosts: { web: local, db: local } }
`);
  const joined = errors.join('\n');
  assert.match(joined, /politburo\.yml:6:\d+: .*become/);
  assert.match(joined, /politburo\.yml:7:\d+: .*become_user must be a user name/);
});

test('the example of docs/language.md "Privilege escalation" is valid and means what the text says', async () => {
  const doc = await readFile(path.join(repoRoot, 'docs/language.md'), 'utf8');
  const section = doc.slice(doc.indexOf('## Privilege escalation'));
  const example = parse(section.slice(section.indexOf('```yaml') + 7, section.indexOf('```\n')));
  const description = {
    politburo: 1,
    ...example,
    roles: { web: { tasks: [{ babushka: 'app' }] } },
    blueprints: {
      lamp: {
        resources: {
          database: { resources: { master: { tasks: [{ babushka: 'postgres' }] } } },
          web: { roles: ['web'] },
        },
      },
    },
  };
  description.environments.prod.hosts = { database: 'local', web: 'local' };
  const prod = (await loadValid(toYaml(description))).get('prod')!;
  assert.deepEqual(becomes(node(prod, 'database/master')), [
    ['postgres', { method: 'sudo', user: 'postgres', password: '${secret.sudo_password}' }],
  ]);
  assert.deepEqual(becomes(node(prod, 'web')), [
    ['app', { method: 'sudo', user: 'root', password: '${secret.sudo_password}' }],
    ['motd', null],
  ]);
});
