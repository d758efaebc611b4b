# Command line of the Babushka stand-in: `babushka meet 'DEP' name=value ... [flags]`.

module Babushka
  VERSION = '0.19.2'

  # Parses the command line, loads deps, meets the first dep and maps the outcome to an exit status.
  class CLI
    FLAGS = {
      '--dry-run' => :dry_run, '-n' => :dry_run,
      '--defaults' => :defaults, '-y' => :defaults,
      '--silent' => :silent, '-s' => :silent,
      '--no-color' => :no_color, '--no-colour' => :no_color
    }.freeze

    def initialize(argv)
      @argv = argv.dup
    end

    def run
      command = @argv.first
      return version if ['--version', 'version'].include?(command)
      return help if command.nil? || ['help', '--help', '-h'].include?(command)

      @argv.shift if command == 'meet'
      deps, args = parse_words
      return usage_error('Nothing to meet.') if deps.empty?

      meet(deps, args)
    rescue OptionError => e
      usage_error(e.message)
    end

    class OptionError < StandardError; end

    def parse_words
      deps = []
      args = {}
      @argv.each do |word|
        if word.start_with?('-')
          raise OptionError, "Unknown option #{word}." unless FLAGS.key?(word)

          Babushka.options[FLAGS[word]] = true
        elsif word.include?('=') && !deps.empty?
          name, value = word.split('=', 2)
          args[name.to_sym] = value
        else
          deps << word
        end
      end
      [deps, args]
    end

    def meet(deps, args)
      # Like the real one: Babushka's own files (logs, ~/.babushka/deps) are under the home of the password database,
      # while a dep's File.expand_path('~/...') follows $HOME.
      load_deps
      status = meet_one(deps.first, args)
      # Babushka 0.19.2 on Ruby 3.1 crashes after the first of several deps.
      return crash_after_first if deps.length > 1

      status
    rescue StandardError, ScriptError => e
      report_exception(e, deps.first)
    end

    def load_deps
      Registry.load_dir(File.join(Dir.pwd, 'babushka-deps'))
      Registry.load_dir(File.join(Babushka.home, '.babushka', 'deps'))
    end

    def meet_one(name, args)
      met = Runner.new.process(Requirement.new(name, [args]))
      unless met || Registry.deps[name].nil?
        Log.error_line("You can view a more detailed log at '#{log_path(name)}'.")
      end
      finish(name, met)
    end

    def finish(name, met)
      Log.write_log_file(name)
      met ? 0 : 1
    end

    def log_path(name) = File.join(Babushka.home, '.babushka', 'logs', name)

    # An exception outside any dep (a deps file that does not load): only its message, as the real one.
    def report_exception(error, _name)
      Log.report_exception(error, nil)
      1
    end

    def crash_after_first
      warn "#{File.expand_path('..', __dir__)}/babushka/cmdline/helpers.rb:54:in `print': closed stream (IOError)"
      1
    end

    def version
      puts VERSION
      0
    end

    def help
      puts "Babushka v#{VERSION} (stand-in). Usage: babushka meet 'DEP NAME' [name=value ...] [--dry-run] [--defaults] [--no-color] [--silent]"
      0
    end

    def usage_error(message)
      warn message
      1
    end
  end
end
