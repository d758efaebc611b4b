# Stand-in for Babushka's shell runner (lib/babushka/shell.rb in Babushka 0.19.2).
#
# Layout matters: Babushka prints the frame that raised a failed `shell!` as
# `BABUSHKA/lib/babushka/shell.rb:53:in `run'`, so the `raise` in #run below must
# stay on line 53 of this file. The golden test of the stand-in pins it.

require 'open3'

module Babushka
  # Raised by `shell!` when the command exits non-zero.
  class ShellCommandFailed < StandardError
    attr_reader :cmd, :stdout, :stderr

    def initialize(cmd, stdout, stderr)
      @cmd = cmd
      @stdout = stdout
      @stderr = stderr
      super("Shell command failed: '#{cmd}'")
    end
  end

  # Runs one command through /bin/sh, capturing its output like Babushka does.
  class Shell
    attr_reader :cmd, :opts, :stdout, :stderr, :result

    def initialize(cmd, opts = {})
      @cmd = cmd.is_a?(Array) ? cmd.map(&:to_s).join(' ') : cmd.to_s
      @opts = opts
    end

    def ok?
      !@result.nil? && @result.success?
    end

    def spawn_opts
      o = { stdin_data: (opts[:input] || '').to_s }
      o[:chdir] = File.expand_path(opts[:cd].to_s) if opts[:cd]
      o
    end

    def capture
      @stdout, @stderr, @result = Open3.capture3('/bin/sh', '-c', cmd, **spawn_opts)
      Babushka::Log.debug_output(@stdout, @stderr)
      self
    end

    # Runs the command; yields itself when a block is given (Babushka's `shell` takes
    # one to inspect failures); raises ShellCommandFailed when the command fails and
    # failure is not acceptable.
    def run(fail_ok = true)
      capture
      return yield(self) if block_given?
      raise ShellCommandFailed.new(cmd, stdout, stderr) if !ok? && !fail_ok
      ok? ? stdout.chomp : nil
    end
  end
end
