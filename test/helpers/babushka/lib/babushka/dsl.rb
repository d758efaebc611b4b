# The dep DSL of the Babushka stand-in: `dep`, parameters, `requires`, `met?`, `meet`,
# `shell`, `log`. Only what Politburo's deps and tests use, with Babushka 0.19.2's semantics.

require 'etc'
require 'pathname'

module Babushka
  # An error a dep's definition or blocks raise on purpose (Babushka's DepError).
  class DepError < StandardError; end

  # Raised by `unmeetable!`: the dep reports the message and fails without an exception trace.
  class UnmeetableDep < StandardError; end

  # A dep parameter. Not a String: deps call `.to_s` (Babushka's Parameter).
  class Parameter
    attr_reader :name

    def initialize(name, given)
      @name = name
      @given = given
      @default = nil
      @forced = false
    end

    def default!(value)
      @default = value
      @forced = true
      self
    end

    def default(value)
      @default = value
      self
    end

    def ask(*) = self
    def choose(*) = self
    def set? = !@given.nil?

    def current_value
      return @given.is_a?(Parameter) ? @given.current_value : @given unless @given.nil?
      return @default if !@default.nil? && @forced
      return accepted_default if !@default.nil? && Babushka.options[:defaults]
      prompt_for_value
    end

    # --defaults answers the prompt of a `.default` (not `.default!`) parameter: the real one still prints the prompt,
    # `NAME [DEFAULT].`, once per parameter.
    def accepted_default
      @accepted ||= begin
        Log.line("#{name} [#{@default}].")
        true
      end
      @default
    end

    # Without --defaults Babushka prompts; Politburo gives it no stdin, so EOF ends the prompt.
    def prompt_for_value
      raise DepError, "Not prompting for \"#{name}\" because we're running with '--defaults'." if Babushka.options[:defaults]

      $stdout.print(('  ' * Log.depth) + "#{name}#{@default.nil? ? '' : " [#{@default}]"}? ")
      line = $stdin.gets
      return line.chomp unless line.nil? || line.chomp.empty?
      return @default unless @default.nil?

      raise DepError, "The parameter '#{name}' has no value, and no default."
    end

    def to_s = current_value.to_s
    def to_str = to_s
    def ==(other) = to_s == other.to_s
    def inspect = "#<Babushka::Parameter #{name}: #{set? ? @given.inspect : '(unset)'}>"

    def respond_to_missing?(meth, include_private = false) = ''.respond_to?(meth) || super

    def method_missing(meth, *args, &block)
      return to_s.send(meth, *args, &block) if ''.respond_to?(meth)

      super
    end
  end

  # `'dep name'.with(...)`: a requirement with arguments (by name, or positional in parameter order).
  class Requirement
    attr_reader :name, :args

    def initialize(name, args)
      @name = name.to_s
      @args = args
    end

    def to_s = name
  end

  # One `dep 'name', :params do ... end` definition.
  class DepDefinition
    attr_reader :name, :params, :block, :file

    def initialize(name, params, block, file)
      @name = name
      @params = params.map(&:to_sym)
      @block = block
      @file = file
    end

    # Maps positional or named arguments to parameter names; unknown names are reported and dropped.
    def bind_args(args)
      named = if args.length == 1 && args.first.is_a?(Hash)
                args.first.transform_keys(&:to_sym)
              elsif args.all? { |a| !a.is_a?(Hash) }
                params.zip(args).reject { |_, v| v.nil? }.to_h
              else
                {}
              end
      named.each_key.reject { |k| params.include?(k) }.each do |k|
        Log.line(%(Ignoring unexpected argument "#{k}", which the dep '#{name}' would reject.))
      end
      named.select { |k, _| params.include?(k) }
    end
  end

  # The object a dep's block is evaluated on: parameters as methods, and the DSL.
  class DepContext
    attr_reader :requirements, :tasks

    def initialize(definition, bound_args)
      @definition = definition
      @requirements = []
      @tasks = {}
      definition.params.each do |p|
        param = Parameter.new(p, bound_args[p])
        define_singleton_method(p) { param }
      end
    end

    def define!
      instance_eval(&@definition.block) if @definition.block
      self
    end

    def requires(*deps)
      @requirements.concat(deps.flatten.compact.map { |d| d.is_a?(Requirement) ? d : Requirement.new(d, []) })
    end

    def requires_when_unmet(*deps) = requires(*deps)

    %i[met? meet before after setup prepare].each do |task|
      define_method(task) { |&block| @tasks[task] = block }
    end

    def call_task(task) = @tasks[task] ? @tasks[task].call : nil

    def log(message = '', _opts = {}, &block)
      return Log.block(message.to_s, &block) if block

      Log.line(message.to_s.rstrip) # the real one strips trailing whitespace from a message
      true
    end

    def log_ok(message) = Log.line(message.to_s) || true
    def log_warn(message) = Log.line(message.to_s) || true
    def log_error(message) = Log.error_line(message.to_s) && false # on stderr, as the real one

    def unmeetable!(message = 'This dep cannot be met.') = raise(UnmeetableDep, message)

    def shell(*cmd, **opts, &block)
      sh = Shell.new(cmd.length == 1 ? cmd.first : cmd, opts)
      return sh.run(true, &block) if block

      sh.run(true).tap { |out| log_failed_shell(sh) if out.nil? }
    end

    # What the real `shell` logs for a failed command: one line, or a block with its stderr (else stdout) on stderr.
    def log_failed_shell(sh)
      return Log.line("$ #{sh.cmd} \u2717 shell command failed") if sh.stdout.empty? && sh.stderr.empty?

      Log.open("$ #{sh.cmd}")
      Log.error_line((sh.stderr.empty? ? sh.stdout : sh.stderr).rstrip)
      Log.close("} \u2717 shell command failed")
    end
    def shell!(*cmd, **opts, &block) = Shell.new(cmd.length == 1 ? cmd.first : cmd, opts).run(false, &block)
    def shell?(*cmd, **opts) = Shell.new(cmd.length == 1 ? cmd.first : cmd, opts).capture.ok?
    def login_shell(*cmd, **opts) = shell(*cmd, **opts)
    def which(cmd) = shell("command -v #{cmd}")
    def in_path?(cmd) = !which(cmd).nil?
  end

  # The registry of defined deps, filled by loading deps files.
  module Registry
    @deps = {}
    @files = []
    @loading = nil

    class << self
      attr_reader :deps, :files
      attr_accessor :loading
    end

    def self.define(name, params, block)
      name = name.to_s
      deps[name] ||= DepDefinition.new(name, params, block, loading)
    end

    def self.load_dir(dir)
      Dir.glob(File.join(dir, '*.rb')).sort.each do |file|
        path = File.expand_path(file)
        files << path
        self.loading = path
        # Wrapped, as the real one loads deps (`load f, true`): a method a deps file defines with `def` is not
        # callable from its deps' blocks.
        load path, true
      end
    end
  end
end

# `'dep name'.with(args)` as in Babushka.
class String
  def with(*args) = Babushka::Requirement.new(self, args)

  def p = Pathname.new(File.expand_path(self))
end

# `dep 'name', :param ... do ... end` at the top level of a deps file.
def dep(name, *params, &block)
  params = params.reject { |p| p.is_a?(Hash) }
  Babushka::Registry.define(name, params, block)
end
