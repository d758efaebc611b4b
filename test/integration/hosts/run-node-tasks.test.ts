/** runNodeTasks on a real host (sshd) with the Babushka stand-in running the fixture deps for real. */
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHostConnector } from '../../../hosts/ssh-connector.js';
import { hashDepsDir } from '../../../kernel/deps-hash.js';
import { runNodeTasks, type RunNodeTasksOptions } from '../../../reconciler/tasks/run-node-tasks.js';
import type {
  BabushkaTask,
  HostConnection,
  ResolvedNode,
  ShellTask,
  TaskResult,
  TaskSpec,
} from '../../../kernel/types.js';
import { fixtureDepsDir, startSshHosts, type SshHosts } from '../../helpers/sshd.js';

const src = { file: 'politburo.yml', line: 1, column: 1 };
const bab = (dep: string, args: Record<string, string> = {}): BabushkaTask => ({
  kind: 'babushka',
  name: dep,
  dep,
  args,
  source: src,
});
const sh = (name: string, met: string, meet: string): ShellTask => ({ kind: 'shell', name, met, meet, source: src });
const node = (tasks: TaskSpec[]): ResolvedNode => ({
  path: 'web-1',
  name: 'web-1',
  index: 1,
  host: { kind: 'static', address: 'x', port: 22, user: 'u', source: src },
  tasks,
  dependsOn: [],
  source: src,
  specHash: 'h',
});
const outcomes = (rs: TaskResult[]) => rs.map((r) => [r.name, r.outcome]);

let env: SshHosts;
let connector: ReturnType<typeof createHostConnector>;
let conn: HostConnection;
let depsDir: string;

before(async () => {
  env = await startSshHosts(1);
  connector = createHostConnector({ privateKey: env.privateKey, knownHosts: [env.knownHosts] });
  const h = env.hosts[0];
  conn = await connector.connect({ kind: 'ssh', address: h.address, port: h.port, user: h.user });
  depsDir = await conn.ensureDeps(fixtureDepsDir, await hashDepsDir(fixtureDepsDir));
});
after(async () => {
  await connector?.close();
  await env?.stop();
});
beforeEach(async () => {
  await conn.exec('rm -rf ~/state ~/.babushka/logs');
});

{
  const run = (tasks: TaskSpec[], o: Partial<RunNodeTasksOptions> = {}) =>
    runNodeTasks(conn, node(tasks), {
      dryRun: false,
      remoteDepsDir: depsDir,
      timeoutMs: 20_000,
      secrets: {},
      ...o,
    });

  describe('babushka tasks', () => {
    test('unmet in a dry run, then met, then already met; durations recorded; events in order', async () => {
      const tasks = [bab('app deployed', { ref: 'v2' }), bab('base')];
      const dry = await run(tasks, { dryRun: true });
      assert.deepEqual(outcomes(dry), [
        ['app deployed', 'unmet'],
        ['base', 'unmet'],
      ]);
      assert.match(dry[0].message!, /unmet: base, app deployed/);
      assert.equal((await conn.exec('test -e ~/state')).code, 1, 'a dry run changes nothing');
      const events: string[] = [];
      const met = await run(tasks, {
        onTaskStart: (n) => events.push(`start ${n}`),
        onTaskFinished: (r) => events.push(`done ${r.name} ${r.outcome}`),
      });
      assert.deepEqual(outcomes(met), [
        ['app deployed', 'met'],
        ['base', 'already met'],
      ]);
      assert.deepEqual(events, ['start app deployed', 'done app deployed met', 'start base', 'done base already met']);
      assert.ok(met.every((r) => typeof r.durationMs === 'number' && r.durationMs >= 0));
      assert.equal((await conn.exec('cat ~/state/app')).stdout, 'v2');
      assert.deepEqual(outcomes(await run(tasks)), [
        ['app deployed', 'already met'],
        ['base', 'already met'],
      ]);
      assert.deepEqual(outcomes(await run([bab('app deployed', { ref: 'v3' })], { dryRun: true })), [
        ['app deployed', 'unmet'],
      ]);
    });

    test('a failing task fails with the tail of the output; the rest are skipped', async () => {
      const rs = await run([bab('base'), bab('shell fails'), bab('app deployed'), sh('after', 'true', 'true')]);
      assert.deepEqual(outcomes(rs), [
        ['base', 'met'],
        ['shell fails', 'failed'],
        ['app deployed', 'skipped'],
        ['after', 'skipped'],
      ]);
      const failed = rs[1] as TaskResult & { reason?: string };
      assert.equal(failed.reason, 'TaskFailed');
      assert.match(failed.message!, /Shell command failed: 'exit 3'/);
      assert.match(failed.message!, /Check .*web\.rb:18\./);
      assert.ok(failed.message!.split('\n').length <= 21);
    });

    test('unmeetable (✗) and undefined deps fail', async () => {
      assert.deepEqual(outcomes(await run([bab('unmeetable')])), [['unmeetable', 'failed']]);
      const rs = await run([bab('base'), bab('nope'), bab('base')]);
      assert.deepEqual(outcomes(rs), [
        ['base', 'met'],
        ['nope', 'failed'],
        ['base', 'skipped'],
      ]);
      // Babushka writes this line on stderr: the engine reads it with stdout, in order.
      assert.match(
        rs[1].message!,
        /^dep 'nope' isn't defined in the deps directory\n(.*\n)* *nope <- this dep isn't defined!/,
      );
      const raised = await run([bab('base'), bab('always fails')]);
      assert.deepEqual(outcomes(raised), [
        ['base', 'already met'],
        ['always fails', 'failed'],
      ]);
      // The exception's message and the detailed log line are on stderr too.
      assert.match(raised[1].message!, /^babushka stopped with an error while meeting 'always fails'\n/);
      assert.match(raised[1].message!, /web\.rb:14:in .*: boom: disk on fire\n *Check .*web\.rb:14\.\n/);
      assert.match(raised[1].message!, /You can view a more detailed log at /);
    });

    test('argument values arrive verbatim: quotes, spaces, $(), backticks, newlines', async () => {
      const value = `it's "quoted" $(touch ~/pwned) \`id\` ; rm -rf / \n second line\\ $HOME *`;
      const rs = await run([bab('echo args', { value, other: '' }), bab('base')]);
      assert.deepEqual(outcomes(rs), [
        ['echo args', 'met'],
        ['base', 'met'],
      ]);
      assert.equal((await conn.exec('cat ~/state/echo/value')).stdout, value);
      assert.equal((await conn.exec('cat ~/state/echo/other')).stdout, '');
      assert.equal((await conn.exec('test -e ~/pwned')).code, 1);
    });

    test('secrets are substituted at execution and redacted everywhere', async () => {
      const secret = 'hunter2-$(x)';
      const logs: string[] = [];
      const tasks = [bab('echo args', { value: 'pw=${secret.db_password}' }), bab('always fails')];
      const rs = await run(tasks, { secrets: { db_password: secret }, onLog: (t) => logs.push(t) });
      assert.equal((await conn.exec('cat ~/state/echo/value')).stdout, `pw=${secret}`);
      const all = JSON.stringify(rs) + logs.join('');
      assert.ok(!all.includes('hunter2'), all);
      assert.ok(logs.join('').includes('got pw=***'));
      const missing = await run([bab('echo args', { value: '${secret.api_token}' }), bab('base')]);
      assert.deepEqual(outcomes(missing), [
        ['echo args', 'failed'],
        ['base', 'skipped'],
      ]);
      assert.match(missing[0].message!, /POLITBURO_SECRET_API_TOKEN/);
    });

    test('addresses of on-demand hosts are filled in at execution', async () => {
      await run([bab('echo args', { value: '${address(database/master)}' })], {
        addresses: { 'database/master': '10.1.2.3' },
      });
      assert.equal((await conn.exec('cat ~/state/echo/value')).stdout, '10.1.2.3');
    });

    test('cancelling the run fails the running task as Interrupted and keeps what ran before', async () => {
      const ac = new AbortController();
      const rs = await run([bab('base'), bab('slow', { seconds: '20' }), bab('base')], {
        signal: ac.signal,
        onTaskStart: (n) => n === 'slow' && setTimeout(() => ac.abort(), 300),
      });
      assert.deepEqual(outcomes(rs), [
        ['base', 'met'],
        ['slow', 'failed'],
        ['base', 'skipped'],
      ]);
      assert.equal((rs[1] as { reason?: string }).reason, 'Interrupted');
    });

    test('a task over its timeout fails with TaskTimeout and the rest are skipped', async () => {
      const rs = await run([bab('base'), bab('slow', { seconds: '20' }), bab('base')], { timeoutMs: 1500 });
      assert.deepEqual(outcomes(rs), [
        ['base', 'met'],
        ['slow', 'failed'],
        ['base', 'skipped'],
      ]);
      assert.equal((rs[1] as { reason?: string }).reason, 'TaskTimeout');
      assert.match(rs[1].message!, /exceeded the timeout of 1\.5s/);
    });
  });
}

describe('shell tasks', () => {
  const run = (tasks: TaskSpec[], o: Partial<RunNodeTasksOptions> = {}) =>
    runNodeTasks(conn, node(tasks), { dryRun: false, remoteDepsDir: null, timeoutMs: 10_000, secrets: {}, ...o });
  const flag = sh('flag set', 'test -f ~/state/flag', 'mkdir -p ~/state && touch ~/state/flag');

  test('unmet in a dry run, met, then already met', async () => {
    assert.deepEqual(outcomes(await run([flag], { dryRun: true })), [['flag set', 'unmet']]);
    assert.deepEqual(outcomes(await run([flag])), [['flag set', 'met']]);
    assert.deepEqual(outcomes(await run([flag])), [['flag set', 'already met']]);
  });

  test('meet that does not make met pass fails; meet that exits non-zero fails', async () => {
    const rs = await run([sh('never', 'false', 'echo trying'), flag]);
    assert.deepEqual(outcomes(rs), [
      ['never', 'failed'],
      ['flag set', 'skipped'],
    ]);
    assert.match(rs[0].message!, /meet ran but the task is still not met/);
    assert.match(rs[0].message!, /trying/);
    const broken = await run([sh('broken', 'false', 'echo oops >&2; exit 4')]);
    assert.match(broken[0].message!, /meet exited with status 4\noops/);
  });

  test('timeout, secrets and a babushka task without deps', async () => {
    const slow = await run([sh('slow', 'sleep 20', 'true')], { timeoutMs: 500 });
    assert.equal((slow[0] as { reason?: string }).reason, 'TaskTimeout');
    const logs: string[] = [];
    const s = await run([sh('secret', 'echo "${secret.pw}"; false', 'echo "${secret.pw}" > ~/secret-file')], {
      secrets: { pw: 's3cr3t' },
      onLog: (t) => logs.push(t),
    });
    assert.equal(s[0].outcome, 'failed');
    assert.equal((await conn.exec('cat ~/secret-file')).stdout, 's3cr3t\n');
    assert.ok(!logs.join('').includes('s3cr3t') && !JSON.stringify(s).includes('s3cr3t'));
    assert.ok(logs.join('').includes('***'));
    const noDeps = await run([bab('base')]);
    assert.match(noDeps[0].message!, /deps directory is not on the host/);
  });
});
