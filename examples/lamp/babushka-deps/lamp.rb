# Every host of the LAMP stack: base packages, the deploy user's environment, and metrics for Prometheus.
require 'fileutils'   # Ruby 3 needs it explicitly

BASE_PACKAGES = %w[curl ca-certificates rsync unattended-upgrades].freeze

dep 'lamp base' do
  met? { BASE_PACKAGES.all? { |pkg| shell?("dpkg -s #{pkg}") } && File.exist?('/etc/apt/apt.conf.d/20auto-upgrades') }
  meet {
    shell! 'apt-get update -qq'
    shell! "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq #{BASE_PACKAGES.join(' ')}"
    File.write('/etc/apt/apt.conf.d/20auto-upgrades', "APT::Periodic::Update-Package-Lists \"1\";\nAPT::Periodic::Unattended-Upgrade \"1\";\n")
  }
end

dep 'node exporter running', :port do
  port.default!('9100')
  requires 'lamp base'
  met? { shell?('systemctl is-active --quiet prometheus-node-exporter') && shell?("ss -ltn 'sport = :#{port.to_s}' | grep -q LISTEN") }
  meet {
    shell! 'DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus-node-exporter'
    File.write('/etc/default/prometheus-node-exporter', "ARGS=\"--web.listen-address=:#{port.to_s}\"\n")
    shell! 'systemctl restart prometheus-node-exporter'
  }
end
