# How the Babushka stand-in meets a dep tree and prints it (docs/babushka.md, "The output").

require 'fileutils'

module Babushka
  def self.options = @options ||= { dry_run: false, defaults: false, silent: false }

  def self.home = Etc.getpwuid(Process.uid).dir

  # The block-structured output: `NAME {` ... `} MARK NAME`, two spaces per level.
  module Log
    @depth = 0
    @transcript = +''
    @debug = +''

    class << self
      attr_accessor :depth
      attr_reader :transcript
    end

    def self.line(text)
      lines = text.to_s.split("\n", -1)
      lines = [''] if lines.empty?
      lines.each { |l| emit(('  ' * depth) + l) }
      true
    end

    # A line the real one logs as an error: on stderr, indented like the others, printed even with --silent.
    def self.error_line(text)
      lines = text.to_s.split("\n", -1)
      lines = [''] if lines.empty?
      lines.each do |l|
        @transcript << ('  ' * depth) << l << "\n"
        $stderr.puts(('  ' * depth) + l)
      end
      true
    end

    def self.emit(text)
      @transcript << text << "\n"
      $stdout.puts(text) unless Babushka.options[:silent]
    end

    def self.open(name)
      line("#{name} {")
      self.depth += 1
    end

    def self.close(text)
      self.depth -= 1
      line(text)
    end

    # A nested block whose closing line is a bare `}` (`meet {`, `log 'x' do ... end`).
    def self.block(name)
      open(name)
      result = yield
      close('}')
      result
    end

    # The exception's first frame and message (stderr), then `Check FILE:LINE.` for its first frame in `file`, the deps
    # file of the dep that rescued it (just `Check FILE.` when none is there).
    def self.report_exception(error, file)
      locations = error.backtrace_locations || []
      first = locations.first
      message = error.message.chomp # a SyntaxError's ends with a newline; the real one prints no empty line after it
      error_line(first ? "#{frame(first)}: #{message}" : message)
      return if file.nil?

      in_file = locations.find { |l| (l.absolute_path || l.path) == file }
      line(in_file ? "Check #{in_file.path}:#{in_file.lineno}." : "Check #{file}.")
    end

    def self.frame(loc)
      label = loc.label.to_s
      label = loc.base_label.to_s unless label.start_with?('block', '<')
      "#{loc.path}:#{loc.lineno}:in `#{label}'"
    end

    def self.debug_output(stdout, stderr)
      @debug << stdout.to_s << stderr.to_s
    end

    # Babushka keeps a detailed log per dep run; the stand-in keeps the transcript there.
    def self.write_log_file(dep_name)
      dir = File.join(Babushka.home, '.babushka', 'logs')
      FileUtils.mkdir_p(dir)
      File.write(File.join(dir, dep_name.tr('/', '_')), @transcript + @debug)
    rescue SystemCallError
      nil
    end
  end

  # Meets (or, in a dry run, checks) one dep and what it requires, caching results per run.
  class Runner
    def initialize
      @cache = {}
    end

    def dry_run? = Babushka.options[:dry_run]

    def mark(result)
      return "\u2713" if result

      dry_run? ? '~' : "\u2717"
    end

    # Returns true when met; false when unmet or failed. Exceptions propagate, leaving blocks open.
    def process(requirement)
      definition = Registry.deps[requirement.name]
      unless definition
        Log.error_line("#{requirement.name} <- this dep isn't defined!")
        return false
      end
      args = definition.bind_args(requirement.args)
      key = [definition.name, args.map { |k, v| [k, v.to_s] }.sort]
      if @cache.key?(key)
        Log.line("#{mark(@cache[key])} #{definition.name} (cached)")
        return @cache[key]
      end
      @cache[key] = process_open(definition, args)
    end

    # As the real one, an exception (or `unmeetable!`) is rescued by the dep it escaped from, outside its block: that
    # block and those opened inside it stay open (later lines keep their indentation) and the dep has failed.
    def process_open(definition, args)
      Log.open(definition.name)
      result = process_self(DepContext.new(definition, args).define!)
      Log.close("} #{mark(result)} #{definition.name}")
      result
    rescue UnmeetableDep => e
      Log.error_line(e.message)
      Log.line("I don't know how to fix that, so it's up to you. :)")
      false
    rescue StandardError => e
      Log.report_exception(e, definition.file)
      false
    end

    def process_requirements(context)
      # A dry run looks at every requirement; a real run stops at the first that fails.
      return context.requirements.map { |r| process(r) }.all? if dry_run?

      context.requirements.all? { |r| process(r) }
    end

    def process_self(context)
      return false unless process_requirements(context)
      return true if met?(context)
      return false if dry_run?

      context.call_task(:before)
      Log.block('meet') { context.call_task(:meet) }
      context.call_task(:after)
      met?(context)
    end

    def met?(context)
      return true unless context.tasks.key?(:met?)

      context.call_task(:met?) ? true : false
    end
  end
end
