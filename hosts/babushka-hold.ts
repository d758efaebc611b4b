/**
 * Babushka started ahead, held (docs/babushka.md, "Started ahead"). A dependent's Babushka process is started while its
 * dependencies still run: Ruby boots and loads Babushka's library, then the process waits, before Babushka reads a deps
 * file or evaluates a `met?`, until Politburo releases it the moment the dependencies are ready. Start-up then costs
 * nothing on the critical path.
 *
 * Babushka 0.19.2 has no such pause of its own, so the hold is a small Ruby file that Ruby loads before the `babushka`
 * script (`RUBYOPT=-rFILE`): it loads `lib/babushka.rb` exactly as `bin/babushka.rb` would (the script's own `require`
 * then finds it loaded) and reads one line from a FIFO the command's shell holds open. The release is that line,
 * sent by the shell's lifeline watcher (remote-command.ts) when the first line arrives on the channel's stdin; the end
 * of stdin still kills everything, held or running.
 *
 * Safety: a `babushka` that did not load the file would run at once, before its dependencies are done. So in a held
 * command `babushka` is a shell function that first asks the very `babushka` the command would run (same PATH, same
 * directory, same environment) to answer a probe that only the hold file answers; without the answer the command ends
 * with status {@link HOLD_FAILED} and nothing runs. A process that ends with that status and no output was never
 * released: the command is then run afresh (ssh-session.ts).
 */
import { createHash } from 'node:crypto';

import { HOLD_FAILED } from '../kernel/hold.js';

export { HOLD_FAILED };

/** The line that releases a held process, written to the channel's stdin. */
export const RELEASE_LINE = 'go\n';

const HOLD_RB = `# Politburo: Babushka started ahead, held until released (docs/babushka.md, "Started ahead").
# Loaded by Ruby (RUBYOPT) before the babushka script; nothing of a dep runs before the release.
me = "-r#{__FILE__}"
rest = ENV['RUBYOPT'].to_s.split(' ') - [me]
rest.empty? ? ENV.delete('RUBYOPT') : ENV['RUBYOPT'] = rest.join(' ')
if ENV.delete('POLITBURO_HOLD') == 'probe'
  puts 'politburo-hold'
  exit 0
end
fd = ENV.delete('POLITBURO_HOLD_FD')
exit ${HOLD_FAILED} unless fd
# The library, by the path bin/babushka.rb requires it from, so its own require finds it loaded.
lib = File.expand_path(File.join(File.dirname(File.expand_path(File.symlink?($0) ? File.readlink($0) : $0)), '../lib/babushka'))
begin
  require lib if File.exist?("#{lib}.rb")
rescue ScriptError, StandardError
  exit ${HOLD_FAILED}
end
release = IO.for_fd(Integer(fd))
exit ${HOLD_FAILED} unless release.gets == ${JSON.stringify(RELEASE_LINE)}
release.close
`;

const HOLD_NAME = `hold-${createHash('sha256').update(HOLD_RB).digest('hex').slice(0, 12)}.rb`;

/**
 * Shell lines that prepare a held command, run before it in the lifeline wrapper (remote-command.ts): the hold file
 * written once per host (`~/.politburo/hold-HASH.rb`, atomically), a FIFO on fd 9 (its directory, `$politburo_hold`,
 * removed by the lifeline watcher at the release or the end) and the environment that makes Ruby load the file. Any failure ends the command with {@link HOLD_FAILED}.
 */
export function holdPrelude(): string[] {
  const file = `"$HOME/.politburo/${HOLD_NAME}"`;
  let delimiter = 'POLITBURO_HOLD_RB';
  while (HOLD_RB.split('\n').includes(delimiter)) delimiter += '_';
  return [
    `{ test -f ${file} || { mkdir -p "$HOME/.politburo" && cat > ${file}.$$ <<'${delimiter}' && mv -f ${file}.$$ ${file}; }; } >/dev/null 2>&1 || exit ${HOLD_FAILED}`,
    ...HOLD_RB.trimEnd().split('\n'),
    delimiter,
    `politburo_hold=$(mktemp -d) && mkfifo "$politburo_hold/go" && exec 9<>"$politburo_hold/go" || exit ${HOLD_FAILED}`,
    `RUBYOPT="-r$HOME/.politburo/${HOLD_NAME}\${RUBYOPT:+ $RUBYOPT}"; POLITBURO_HOLD_FD=9; export RUBYOPT POLITBURO_HOLD_FD`,
    // For a command escalated to root through sudo, which drops the environment and closes fd 9 (become.ts): the FIFO
    // by its path (in a directory only this user and root may enter; removed at the release) and the hold file.
    `POLITBURO_HOLD_FIFO="$politburo_hold/go"; POLITBURO_HOLD_RB="$HOME/.politburo/${HOLD_NAME}"; export POLITBURO_HOLD_FIFO POLITBURO_HOLD_RB`,
  ];
}

/**
 * The `babushka` of a held command, defined in the shell that runs it: the probe, then the real one. Without the
 * probe's answer the shell ends with {@link HOLD_FAILED} before anything runs. The probe's Ruby skips RubyGems (a few
 * ms instead of some 30 ms of CPU): the hold file answers before anything else is loaded.
 */
export const HOLD_FUNCTION = `babushka() { test "$(POLITBURO_HOLD=probe RUBYOPT="--disable-gems $RUBYOPT" command babushka </dev/null 2>/dev/null)" = politburo-hold || exit ${HOLD_FAILED}; command babushka "$@"; }`;
