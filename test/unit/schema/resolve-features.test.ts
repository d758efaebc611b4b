// Resolution of each language feature (docs/language.md): instances, paths, hosts, providers, dependencies,
// interpolation, roles, extends/override/remove, defaults, includes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { depList, hostOf, loadInvalid, loadValid, node, taskList } from './helpers.js';

test('for_each and count on a group: instances nest under the group instance', async () => {
  const envs = await loadValid(`
politburo: 1
blueprints:
  b:
    resources:
      region:
        for_each: [eu, us]
        resources:
          web:
            count: 2
            tasks:
              - babushka: app
                args: { region: '\${each}', n: '\${self.index}', name: '\${self.name}', path: '\${self.path}', env: '\${env.name}' }
environments:
  prod: { blueprint: b, hosts: { region: local } }
`);
  const prod = envs.get('prod')!;
  assert.deepEqual(
    prod.nodes.map((n) => n.path),
    ['region-eu/web-1', 'region-eu/web-2', 'region-us/web-1', 'region-us/web-2'],
  );
  assert.deepEqual(prod.groups, ['region-eu', 'region-us']);
  assert.deepEqual(taskList(node(prod, 'region-us/web-2')), [
    'app {"env":"prod","n":"2","name":"web-2","path":"region-us/web-2","region":"us"}',
  ]);
});

test('count: 0 makes no instances; a param that is the whole string keeps its type', async () => {
  const envs = await loadValid(`
politburo: 1
blueprints:
  b:
    params: { n: 0, m: 2, regions: [eu, us] }
    resources:
      none: { count: 0, tasks: [ { babushka: x } ] }
      web: { count: '\${params.m}', tasks: [ { babushka: x } ] }
      edge: { for_each: '\${params.regions}', tasks: [ { babushka: x } ] }
      zero: { count: '\${params.n}', tasks: [ { babushka: x } ] }
environments:
  prod: { blueprint: b, hosts: { web: local, edge: local } }
`);
  assert.deepEqual(
    envs.get('prod')!.nodes.map((n) => n.path),
    ['web-1', 'web-2', 'edge-eu', 'edge-us'],
  );
});

test('hosts: lists fill instances in order, objects set port and user, local, defaults apply', async () => {
  const envs = await loadValid(`
politburo: 1
defaults: { ssh: { user: deploy } }
blueprints:
  b:
    params: { port: 2222 }
    resources:
      web: { count: 3, tasks: [ { babushka: x } ] }
      db: { tasks: [ { babushka: x } ] }
      ctl: { tasks: [ { babushka: x } ] }
environments:
  prod:
    blueprint: b
    defaults: { ssh: { port: 2200 } }
    hosts:
      web: [10.0.0.1, { address: 10.0.0.2, port: 22, user: admin }, 'web3.\${env.name}.example.com']
      db: { address: 10.0.0.9, port: '\${params.port}' }
      ctl: local
`);
  const prod = envs.get('prod')!;
  assert.deepEqual(prod.nodes.map(hostOf), [
    'deploy@10.0.0.1:2200',
    'admin@10.0.0.2:22',
    'deploy@web3.prod.example.com:2200',
    'deploy@10.0.0.9:2222',
    'local',
  ]);
  const h = node(prod, 'web-2').host;
  assert.equal(h.kind, 'static');
  if (h.kind === 'static') assert.deepEqual(h.source, { file: 'politburo.yml', line: 16, column: 23 });
});

const SCRIPT = '#!/bin/sh\ncat\n';

test('a hosts list shorter than the instances leaves the rest to the provider', async () => {
  const envs = await loadValid({
    'provision/create.sh': SCRIPT,
    'provision/destroy.sh': SCRIPT,
    'politburo.yml': `
politburo: 1
provider: { exec: { create: provision/create.sh, destroy: provision/destroy.sh } }
blueprints:
  b:
    resources:
      web: { count: 2, tasks: [ { babushka: x } ] }
      db: { tasks: [ { babushka: pg } ] }
      app:
        tasks: [ { babushka: app, args: { db: '\${address(db)}', webs: '\${addresses(web)}' } } ]
environments:
  prod: { blueprint: b, hosts: { web: [10.0.0.1], app: local } }
`,
  });
  const prod = envs.get('prod')!;
  assert.equal(hostOf(node(prod, 'web-2')), 'provider(provision/create.sh) -:-');
  assert.equal(hostOf(node(prod, 'db')), 'provider(provision/create.sh) -:-');
  assert.equal(prod.provider?.create, 'provision/create.sh');
  assert.deepEqual(taskList(node(prod, 'app')), ['app {"db":"${address(db)}","webs":"10.0.0.1,${address(web-2)}"}']);
  assert.deepEqual(depList(node(prod, 'app')), [
    'db#provisioned (implicit)',
    'web-1#provisioned (implicit)',
    'web-2#provisioned (implicit)',
  ]);
});

test('an environment-level provider wins over the top-level one', async () => {
  const envs = await loadValid({
    'a.sh': SCRIPT,
    'a-down.sh': SCRIPT,
    'b.sh': SCRIPT,
    'b-down.sh': SCRIPT,
    'politburo.yml': `
politburo: 1
provider: { exec: { create: a.sh, destroy: a-down.sh } }
blueprints:
  b: { resources: { web: { tasks: [ { babushka: x } ] } } }
environments:
  prod: { blueprint: b, provider: { exec: { create: b.sh, destroy: b-down.sh } } }
  dev: { blueprint: b }
`,
  });
  assert.equal(hostOf(node(envs.get('prod'), 'web')), 'provider(b.sh) -:-');
  assert.equal(hostOf(node(envs.get('dev'), 'web')), 'provider(a.sh) -:-');
});

test('secrets stay symbolic; $${ is a literal ${', async () => {
  const envs = await loadValid(`
politburo: 1
roles:
  app:
    tasks:
      - babushka: app
        args: { password: '\${secret.db_password}', url: 'postgres://app:\${secret.DB}@\${address(db)}/app', port: 5432, debug: false }
      - name: home set
        met: 'test -n "$\${HOME}"'
        meet: 'echo \${params.msg} > /etc/motd'
blueprints:
  b:
    params: { msg: hello }
    resources:
      db: { tasks: [ { babushka: pg } ] }
      app: { roles: [app] }
environments:
  prod: { blueprint: b, hosts: { db: 10.0.0.5, app: 10.0.0.6 } }
`);
  const app = node(envs.get('prod'), 'app');
  assert.deepEqual(
    taskList(app)[0],
    'app {"debug":"false","password":"${secret.db_password}","port":"5432","url":"postgres://app:${secret.DB}@10.0.0.5/app"}',
  );
  const shell = app.tasks[1];
  assert.ok(shell.kind === 'shell');
  assert.equal(shell.met, 'test -n "${HOME}"');
  assert.equal(shell.meet, 'echo hello > /etc/motd');
  assert.deepEqual(depList(app), ['db#provisioned (implicit)']);
});

test('roles compose: each role once, in order, then the node own tasks; identical tasks once', async () => {
  const envs = await loadValid(`
politburo: 1
roles:
  base: { tasks: [ { babushka: base } ] }
  a: { roles: [base], tasks: [ { babushka: a } ] }
  b: { roles: [base, a], tasks: [ { babushka: b }, { babushka: base } ] }
blueprints:
  bp:
    resources:
      n: { roles: [b, a, base], tasks: [ { babushka: own } ] }
environments:
  prod: { blueprint: bp, hosts: { n: local } }
`);
  assert.deepEqual(taskList(node(envs.get('prod'), 'n')), ['base {}', 'a {}', 'b {}', 'own {}']);
});

test('depends_on: groups and multi-instance paths expand; group declarations are inherited; states', async () => {
  const envs = await loadValid(`
politburo: 1
blueprints:
  b:
    resources:
      db:
        resources:
          master: { tasks: [ { babushka: pg } ] }
          replica: { count: 2, tasks: [ { babushka: pg } ], depends_on: ['db/master#provisioned'] }
      app:
        depends_on: [db]
        resources:
          web: { count: 2, tasks: [ { babushka: app } ], depends_on: ['db/master#ready'] }
      lb: { tasks: [ { babushka: lb } ], depends_on: ['app/web', 'db/replica-2#provisioned'] }
environments:
  prod: { blueprint: b, hosts: { db: local, app: local, lb: local } }
`);
  const prod = envs.get('prod')!;
  assert.deepEqual(depList(node(prod, 'db/replica-1')), ['db/master#provisioned (explicit)']);
  assert.deepEqual(depList(node(prod, 'app/web-2')), [
    'db/master#ready (explicit)',
    'db/replica-1#ready (inherited)',
    'db/replica-2#ready (inherited)',
  ]);
  assert.deepEqual(depList(node(prod, 'lb')), [
    'app/web-1#ready (explicit)',
    'app/web-2#ready (explicit)',
    'db/replica-2#provisioned (explicit)',
  ]);
  assert.deepEqual(node(prod, 'lb').dependsOn[0].source, { file: 'politburo.yml', line: 14, column: 55 });
});

test('extends chains: params merge, override deep-merges and adds, remove drops definitions and instances', async () => {
  const envs = await loadValid(`
politburo: 1
roles:
  web: { tasks: [ { babushka: web } ] }
  debug: { tasks: [ { babushka: debug } ] }
blueprints:
  b:
    params: { n: 2, ref: main }
    resources:
      region:
        for_each: [eu, us]
        resources:
          web: { roles: [web], count: '\${params.n}' }
          cache: { tasks: [ { babushka: redis } ] }
      lb: { tasks: [ { babushka: lb } ] }
environments:
  prod:
    blueprint: b
    hosts: { region: local, lb: local }
  staging:
    extends: prod
    params: { n: 1 }
    remove: [region-us, region/cache]
    override:
      region/web: { roles: [web, debug] }
      monitor: { tasks: [ { babushka: prometheus } ] }
    hosts: { region: local, lb: local, monitor: local }
  dev:
    extends: staging
    params: { ref: dev }
    remove: [lb]
    hosts: { region: local, monitor: local }
`);
  assert.deepEqual(
    envs.get('prod')!.nodes.map((n) => n.path),
    [
      'region-eu/web-1',
      'region-eu/web-2',
      'region-eu/cache',
      'region-us/web-1',
      'region-us/web-2',
      'region-us/cache',
      'lb',
    ],
  );
  const staging = envs.get('staging')!;
  assert.deepEqual(
    staging.nodes.map((n) => n.path),
    ['region-eu/web-1', 'lb', 'monitor'],
  );
  assert.deepEqual(taskList(node(staging, 'region-eu/web-1')), ['web {}', 'debug {}']);
  const dev = envs.get('dev')!;
  assert.deepEqual(
    dev.nodes.map((n) => n.path),
    ['region-eu/web-1', 'monitor'],
  );
  assert.deepEqual(dev.params, { n: 1, ref: 'dev' });
});

test('hosts are never inherited through extends', async () => {
  const errors = await loadInvalid(`
politburo: 1
blueprints:
  b: { resources: { web: { tasks: [ { babushka: x } ] } } }
environments:
  prod: { blueprint: b, hosts: { web: 10.0.0.1 } }
  staging: { extends: prod }
`);
  assert.deepEqual(errors, [
    "politburo.yml:4:26: node web in environment 'staging' has no host: add it under environments.staging.hosts or configure a provider",
  ]);
});

test('defaults: built-in values, top level, then environment level', async () => {
  const envs = await loadValid(`
politburo: 1
defaults: { concurrency: 5, timeout: 90s }
blueprints:
  b: { resources: { web: { tasks: [ { babushka: x } ] } } }
environments:
  a: { blueprint: b, hosts: { web: local } }
  c: { blueprint: b, hosts: { web: local }, defaults: { timeout: 120, ssh: { user: ops, port: 2022 } }, drift: { heal: true } }
`);
  assert.deepEqual(envs.get('a')!.defaults, { ssh: {}, concurrency: 5, timeoutMs: 90_000 });
  assert.deepEqual(envs.get('c')!.defaults, { ssh: { user: 'ops', port: 2022 }, concurrency: 5, timeoutMs: 120_000 });
  assert.deepEqual(envs.get('a')!.drift, { schedule: '0 * * * *', heal: false });
  assert.deepEqual(envs.get('c')!.drift, { schedule: '0 * * * *', heal: true });
  assert.equal(envs.get('a')!.branch, undefined);
  assert.equal(envs.get('a')!.knownHosts, undefined);
});

test('include merges roles, blueprints and environments from other files; deps names the deps directory', async () => {
  const r = await loadValid({
    'politburo.yml':
      "politburo: 1\ndeps: deps\ninclude: ['roles/*.yml', 'environments/*.yml']\nblueprints:\n  b: { resources: { web: { roles: [web] } } }\n",
    'roles/web.yml': 'roles:\n  web: { tasks: [ { babushka: web } ] }\n',
    'environments/prod.yml': 'environments:\n  prod: { blueprint: b, hosts: { web: local } }\n',
    'environments/dev.yml': 'environments:\n  dev: { blueprint: b, hosts: { web: local } }\n',
    'deps/web.rb': "dep 'web'\n",
  });
  assert.deepEqual([...r.keys()].sort(), ['dev', 'prod']);
  assert.equal(r.get('prod')!.depsDir, 'deps');
  assert.deepEqual(node(r.get('prod'), 'web').tasks[0].source, { file: 'roles/web.yml', line: 2, column: 19 });
});

test('an inline environment with resources needs no blueprint', async () => {
  const envs = await loadValid(`
politburo: 1
environments:
  demo:
    resources:
      web: { tasks: [ { name: hello, met: 'test -f /tmp/hello', meet: 'touch /tmp/hello' } ] }
    hosts: { web: local }
`);
  assert.deepEqual(taskList(node(envs.get('demo'), 'web')), ['shell:hello']);
});

test('all problems are reported at once, across files', async () => {
  const errors = await loadInvalid({
    'politburo.yml':
      "politburo: 1\ninclude: ['more.yml']\nrols: {}\nblueprints:\n  b: { resources: { web: { roles: [nope] } } }\nenvironments:\n  prod: { blueprint: b }\n",
    'more.yml': 'environments:\n  dev: { blueprint: c }\n',
  });
  assert.deepEqual(errors, [
    "more.yml:2:21: unknown blueprint 'c' (did you mean 'b'?)",
    "politburo.yml:3:1: unknown key 'rols' (did you mean 'roles'?)",
    "politburo.yml:5:26: node web in environment 'prod' has no host: add it under environments.prod.hosts or configure a provider",
    "politburo.yml:5:36: unknown role 'nope'",
  ]);
});

test('for_each list items may interpolate params and env', async () => {
  const envs = await loadValid(`
politburo: 1
blueprints:
  b:
    params: { extra: ap }
    resources:
      edge: { for_each: [eu, '\${params.extra}', '\${env.name}'], tasks: [ { babushka: x, args: { r: '\${each}' } } ] }
environments:
  prod: { blueprint: b, hosts: { edge: local } }
`);
  assert.deepEqual(
    envs.get('prod')!.nodes.map((n) => n.path),
    ['edge-eu', 'edge-ap', 'edge-prod'],
  );
  assert.deepEqual(taskList(node(envs.get('prod'), 'edge-ap')), ['x {"r":"ap"}']);
});

test('a resource with count 0 exists: addresses() of it is empty and depending on it waits for nothing', async () => {
  const envs = await loadValid(`
politburo: 1
blueprints:
  b:
    params: { replicas: 2 }
    resources:
      db:
        resources:
          master: { tasks: [ { babushka: pg } ] }
          replica: { count: '\${params.replicas}', depends_on: [db/master], tasks: [ { babushka: pg } ] }
      app:
        depends_on: [db/replica]
        tasks:
          - babushka: app
            args: { replicas: '\${addresses(db/replica)}' }
environments:
  prod: { blueprint: b, hosts: { db/master: 10.0.0.1, db/replica: [10.0.0.2, 10.0.0.3], app: 10.0.0.9 } }
  staging: { extends: prod, params: { replicas: 0 }, hosts: { db/master: 10.1.0.1, app: 10.1.0.9 } }
`);
  assert.deepEqual(taskList(node(envs.get('prod'), 'app')), ['app {"replicas":"10.0.0.2,10.0.0.3"}']);
  const staging = envs.get('staging')!;
  assert.deepEqual(
    staging.nodes.map((n) => n.path),
    ['db/master', 'app'],
  );
  assert.deepEqual(taskList(node(staging, 'app')), ['app {"replicas":""}']);
  assert.deepEqual(depList(node(staging, 'app')), []);
});

test('address() of a count-0 resource is still an error (it names no node)', async () => {
  const errors = await loadInvalid(`
politburo: 1
blueprints:
  b:
    resources:
      replica: { count: 0, tasks: [ { babushka: pg } ] }
      app: { tasks: [ { babushka: app, args: { db: '\${address(replica)}' } } ] }
environments:
  prod: { blueprint: b, hosts: { app: 10.0.0.9 } }
`);
  assert.equal(errors.length, 1);
  assert.match(errors[0], /address\(replica\)/);
});

test('an empty or over-long timeout is a validation error, not an internal error', async () => {
  for (const timeout of ["''", `'${'9'.repeat(150)}m'`]) {
    const errors = await loadInvalid(`
politburo: 1
defaults:
  timeout: ${timeout}
blueprints:
  b: { resources: { web: { tasks: [ { babushka: x } ] } } }
environments:
  prod: { blueprint: b, hosts: { web: local } }
`);
    assert.equal(errors.length, 1, errors.join('\n'));
    assert.match(errors[0], /^politburo\.yml:4:12: 'timeout': not a duration/);
  }
});
