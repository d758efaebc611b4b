/**
 * Golden test of the Babushka stand-in: docs/babushka.md's transcripts replayed on a real host (sshd, its own user and
 * home),
 * compared byte for byte after the two substitutions (`~` = home, `BABUSHKA` = install directory).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { realpathSync } from 'node:fs';
import { createHostConnector } from '../../../hosts/ssh-connector.js';
import { tarDirectory } from '../../../hosts/deps-upload.js';
import type { HostConnection } from '../../../kernel/types.js';
import { fixtureDepsDir, startSshHosts, type SshHosts } from '../../helpers/sshd.js';
import { loadTranscripts, standInInstallDir, substitute } from '../../helpers/babushka/transcripts.js';

let hosts: SshHosts;
let conn: HostConnection;
let home: string;
const connector = () => createHostConnector({ privateKey: hosts.privateKey, knownHosts: [hosts.knownHosts] });
let closeConnector: () => Promise<void>;

before(async () => {
  hosts = await startSshHosts(1);
  const c = connector();
  closeConnector = () => c.close();
  const h = hosts.hosts[0];
  conn = await c.connect({ kind: 'ssh', address: h.address, port: h.port, user: h.user });
  home = h.home;
  const up = await (conn.exec as (c: string, o: object) => Promise<{ code: number | null }>)(
    'mkdir -p ~/work/babushka-deps && tar -x -f - -C ~/work/babushka-deps',
    { stdin: await tarDirectory(fixtureDepsDir) },
  );
  assert.equal(up.code, 0);
});

after(async () => {
  await closeConnector?.();
  await hosts?.stop();
});

const inWork = (cmd: string) => conn.exec(`cd ~/work && ${cmd}`);

describe('the stand-in replays docs/babushka.md verbatim', () => {
  test('every transcript, in order, byte for byte', async () => {
    const transcripts = loadTranscripts();
    assert.equal(transcripts.length, 9);
    for (const t of transcripts) {
      // The transcripts are what a terminal shows: stdout and stderr together.
      const r = await inWork(`${t.command} 2>&1`);
      const expected = substitute(t.output, home, realpathSync(standInInstallDir));
      assert.equal(r.stdout, expected, `output of: ${t.command}`);
      assert.equal(r.code, t.exitStatus, `exit status of: ${t.command}`);
    }
  });

  test("an exception's message, the detailed log line and an undefined dep's line are on stderr, as the real one writes them", async () => {
    const nope = await inWork("babushka meet 'nope' --defaults --no-color");
    assert.deepEqual([nope.stdout, nope.stderr], ['', "nope <- this dep isn't defined!\n"]);
    const raised = await inWork("babushka meet 'always fails' --defaults --no-color");
    assert.equal(raised.stdout, `always fails {\n  meet {\n    Check ${home}/work/babushka-deps/web.rb:14.\n`);
    assert.equal(
      raised.stderr,
      `    ${home}/work/babushka-deps/web.rb:14:in \`block (2 levels) in <top (required)>': boom: disk on fire\n` +
        `    You can view a more detailed log at '${home}/.babushka/logs/always fails'.\n`,
    );
    const unmeetable = await inWork("babushka meet 'unmeetable' --defaults --no-color --silent");
    assert.deepEqual(
      [unmeetable.stdout, unmeetable.stderr],
      ['', `You can view a more detailed log at '${home}/.babushka/logs/unmeetable'.\n`],
      '--silent keeps stderr',
    );
  });

  test('an exception in a required dep leaves its blocks open; the deps enclosing it close at the indentation it left', async () => {
    await conn.exec(`cat > ~/work/babushka-deps/nested.rb <<'EOF2'
dep 'nested outer' do
  requires 'base', 'always fails'
end
EOF2`);
    try {
      const r = await inWork("babushka meet 'nested outer' --defaults --no-color 2>&1");
      assert.equal(r.code, 1);
      assert.match(
        r.stdout,
        /\n {2}always fails \{\n {4}meet \{\n {6}\S+web\.rb:14:in .*: boom: disk on fire\n {6}Check \S+web\.rb:14\.\n {4}\} \u2717 nested outer\n {4}You can view/,
      );
    } finally {
      await conn.exec('rm -f ~/work/babushka-deps/nested.rb');
    }
  });
});

describe('the stand-in beyond the transcripts', () => {
  test("an undeclared argument is ignored with Babushka's line", async () => {
    const r = await inWork("babushka meet 'app deployed' ref=v2 nosuch=1 --dry-run --defaults --no-color");
    assert.ok(
      r.stdout.startsWith(
        `Ignoring unexpected argument "nosuch", which the dep 'app deployed' would reject.\napp deployed {\n`,
      ),
    );
  });

  test('the detailed log exists where the last line says', async () => {
    await inWork("babushka meet 'unmeetable' --defaults --no-color");
    const r = await conn.exec('cat ~/.babushka/logs/unmeetable');
    assert.equal(r.code, 0);
    assert.match(r.stdout, /\} \u2717 unmeetable/);
  });

  test('--silent prints nothing on success; -n -y short flags work', async () => {
    const ok = await inWork("babushka meet 'base' --defaults --no-color --silent");
    assert.equal(ok.stdout, '');
    assert.equal(ok.code, 0);
    const dry = await inWork("babushka meet 'app deployed' ref=v9 -n -y --no-color");
    assert.equal(dry.code, 1);
    assert.match(dry.stdout, /\} ~ app deployed\n/);
  });

  test('two deps in one invocation crash after the first, as 0.19.2 does', async () => {
    const r = await inWork("babushka meet 'base' 'base' --defaults --no-color");
    assert.equal(r.code, 1);
    assert.match(r.stderr, /closed stream \(IOError\)/);
  });

  test("deps in ~/.babushka/deps of the password database home are found; a dep's own ~ follows $HOME (as the real one)", async () => {
    await conn.exec(`mkdir -p ~/.babushka/deps && cat > ~/.babushka/deps/home.rb <<'EOF2'
dep 'home dep' do
  met? { log File.expand_path('~'); true }
end
EOF2`);
    const r = await conn.exec("cd /tmp && HOME=/nowhere babushka meet 'home dep' --defaults --no-color");
    assert.equal(r.stdout, `home dep {\n  /nowhere\n} \u2713 home dep\n`);
  });

  test('shell and shell? and parameters with .default', async () => {
    await conn.exec(`mkdir -p ~/t2/babushka-deps && cat > ~/t2/babushka-deps/t.rb <<'EOF2'
dep 'shelly', :greeting do
  greeting.default('hello')
  met? { shell?('true') && shell('echo out') == 'out' && shell('exit 1').nil? && greeting.to_s == 'hello' }
end
dep 'positional', :first, :second do
  met? { log "#{first}/#{second}"; true }
end
dep 'uses positional' do
  requires 'positional'.with('one', 'two'), 'positional'.with(first: 'one', second: 'two'), 'positional'.with('x', 'y')
end
dep 'needs a value', :v do
  met? { v.to_s == 'given' }
end
EOF2`);
    const r = await conn.exec('cd ~/t2 && babushka meet shelly --defaults --no-color');
    // As the real one: a failed `shell` logs the command; --defaults answering a `.default` prints the prompt.
    assert.equal(r.stdout, 'shelly {\n  $ exit 1 \u2717 shell command failed\n  greeting [hello].\n} \u2713 shelly\n');
    assert.equal(r.code, 0);
    const p = await conn.exec("cd ~/t2 && babushka meet 'uses positional' --defaults --no-color");
    assert.equal(
      p.stdout,
      'uses positional {\n  positional {\n    one/two\n  } \u2713 positional\n  \u2713 positional (cached)\n' +
        '  positional {\n    x/y\n  } \u2713 positional\n} \u2713 uses positional\n',
    );
    const missing = await conn.exec("cd ~/t2 && babushka meet 'needs a value' --defaults --no-color");
    assert.equal(missing.code, 1);
    assert.equal(missing.stdout, 'needs a value {\n  Check ' + `${home}/t2/babushka-deps/t.rb:12.\n`);
    assert.match(missing.stderr, /^ {2}.*Not prompting for "v" because we're running with '--defaults'\.\n/);
  });
});
