/** The language's SSH keys: `ssh_config` and `jump` of an environment, `jump` of a host entry, no default user. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadInvalid, loadValid, node } from '../schema/helpers.js';
import { specHash } from '../../../kernel/spec-hash.js';

const BASE = `
politburo: 1
blueprints:
  b: { resources: { web: { count: 2, tasks: [ { babushka: x } ] }, db: { tasks: [ { babushka: y } ] } } }
`;

test('jump: per environment, per host entry (a list is a chain); ssh_config names a file of the repository', async () => {
  const envs = await loadValid({
    'politburo.yml': `${BASE}
environments:
  prod:
    blueprint: b
    ssh_config: ssh/config
    jump: ops@bastion.example.com:2222
    hosts:
      web: [10.0.0.1, { address: 10.0.0.2, user: deploy, jump: [edge, 'ops@inner:22'] }]
      db: db.internal
`,
    'ssh/config': 'Host *\n  User deploy\n',
  });
  const prod = envs.get('prod')!;
  assert.equal(prod.sshConfig, 'ssh/config');
  const web1 = node(prod, 'web-1').host;
  assert.ok(web1.kind === 'static');
  assert.equal(web1.address, '10.0.0.1');
  assert.deepEqual(web1.jump, ['ops@bastion.example.com:2222'], "the environment's jump");
  const web2 = node(prod, 'web-2').host;
  assert.ok(web2.kind === 'static');
  assert.equal(web2.user, 'deploy');
  assert.equal(web2.port, undefined, 'no port: ssh_config Port, else 22');
  assert.deepEqual(web2.jump, ['edge', 'ops@inner:22']);
  const db = node(prod, 'db').host;
  assert.ok(db.kind === 'static');
  assert.equal(db.user, undefined, 'no user: never a silent root');
});

test('jump hosts and ssh_config do not change a node spec hash; an absent port hashes as 22', async () => {
  const envs = await loadValid(`${BASE}
environments:
  a: { blueprint: b, hosts: { web: [h1, h2], db: h3 } }
  b: { blueprint: b, jump: [x, y], hosts: { web: [{ address: h1, port: 22 }, h2], db: h3 } }
`);
  for (const p of ['web-1', 'web-2', 'db'])
    assert.equal(node(envs.get('a'), p).specHash, node(envs.get('b'), p).specHash, p);
  const n = node(envs.get('a'), 'db');
  assert.notEqual(specHash({ ...n, host: { ...n.host, user: 'root' } as never }), n.specHash, 'the user is hashed');
});

test('bad jump hosts and an ssh_config outside the repository are errors with positions', async () => {
  const errors = await loadInvalid(`${BASE}
environments:
  prod:
    blueprint: b
    ssh_config: ../outside
    jump: 'ops@bastion:99999'
    hosts: { web: [h1, { address: h2, jump: 'a b' }], db: h3 }
`);
  const text = errors.join('\n');
  assert.match(text, /politburo\.yml:\d+:\d+.*jump.*not a jump host/);
  assert.equal(errors.filter((e) => /not a jump host/.test(e)).length, 2, text);
  assert.match(text, /ssh_config file '\.\.\/outside'/);
});
