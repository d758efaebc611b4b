# frozen_string_literal: true

# The stand-in's library, loaded by bin/babushka as the real bin/babushka.rb loads lib/babushka.rb: by that path, so a
# Babushka started ahead (docs/babushka.md, "Started ahead") finds it loaded before the release.
%w[shell dsl run cli].each { |f| require File.join(__dir__, 'babushka', f) }
