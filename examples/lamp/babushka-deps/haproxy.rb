# The load balancer: haproxy in front of every web node.
require 'fileutils'

HAPROXY_CFG = '/etc/haproxy/haproxy.cfg'

# A lambda, not a `def`: Babushka loads a deps file wrapped, so a method defined here is not callable from a dep's blocks.
haproxy_config = lambda do |backends, port|
  servers = backends.split(',').each_with_index.map { |addr, i| "    server web#{i + 1} #{addr}:8080 check" }
  <<~CFG
    global
        log /dev/log local0
    defaults
        mode http
        timeout connect 5s
        timeout client 30s
        timeout server 30s
    frontend www
        bind *:#{port}
        default_backend app
    backend app
        balance roundrobin
        option httpchk GET /healthz
    #{servers.join("\n")}
  CFG
end

dep 'haproxy configured', :backends, :port do
  port.default!('80')
  requires 'lamp base'
  met? { File.exist?(HAPROXY_CFG) && File.read(HAPROXY_CFG) == haproxy_config.(backends.to_s, port.to_s) && shell?('systemctl is-active --quiet haproxy') }
  meet {
    shell! 'DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy' unless shell?('command -v haproxy')
    File.write("#{HAPROXY_CFG}.new", haproxy_config.(backends.to_s, port.to_s))
    shell! "haproxy -c -f #{HAPROXY_CFG}.new"   # never install a configuration haproxy rejects
    FileUtils.mv("#{HAPROXY_CFG}.new", HAPROXY_CFG)
    shell! 'systemctl reload-or-restart haproxy'
  }
end

dep 'debug tools' do
  met? { %w[tcpdump strace htop].all? { |tool| shell?("command -v #{tool}") } }
  meet { shell! 'DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tcpdump strace htop' }
end
