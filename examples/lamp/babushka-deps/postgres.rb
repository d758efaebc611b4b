# PostgreSQL: a master accepting streaming replication, and replicas following it.
require 'fileutils'

# Lambdas, not `def`s: Babushka loads a deps file wrapped, so a method defined here is not callable from a dep's blocks.
pg_conf_dir = ->(version) { "/etc/postgresql/#{version}/main" }
pg_data_dir = ->(version) { "/var/lib/postgresql/#{version}/main" }

dep 'postgres installed', :version do
  version.default!('16')
  requires 'lamp base'
  met? { shell?("test -x /usr/lib/postgresql/#{version.to_s}/bin/postgres") }
  meet { shell! "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-#{version.to_s}" }
end

dep 'postgres master', :version, :max_wal_senders do
  version.default!('16')
  max_wal_senders.default!('10')
  requires 'postgres installed'.with(version: version)
  conf = -> { File.join(pg_conf_dir.(version.to_s), 'conf.d', 'politburo-replication.conf') }
  wanted = -> { "wal_level = replica\nmax_wal_senders = #{max_wal_senders.to_s}\nlisten_addresses = '*'\n" }
  met? { File.exist?(conf.call) && File.read(conf.call) == wanted.call && shell?('pg_lsclusters -h | grep -q online') }
  meet {
    FileUtils.mkdir_p(File.dirname(conf.call))
    File.write(conf.call, wanted.call)
    shell! "grep -q '^host replication replicator' #{pg_conf_dir.(version.to_s)}/pg_hba.conf || " \
           "echo 'host replication replicator 0.0.0.0/0 scram-sha-256' >> #{pg_conf_dir.(version.to_s)}/pg_hba.conf"
    shell! "systemctl restart postgresql@#{version.to_s}-main"
  }
end

dep 'postgres replica', :version, :master do
  version.default!('16')
  requires 'postgres installed'.with(version: version)
  signal = -> { File.join(pg_data_dir.(version.to_s), 'standby.signal') }
  met? { File.exist?(signal.call) && shell?("grep -q 'host=#{master.to_s}' #{pg_data_dir.(version.to_s)}/postgresql.auto.conf") }
  meet {
    shell! "systemctl stop postgresql@#{version.to_s}-main"
    shell! "rm -rf #{pg_data_dir.(version.to_s)}"
    shell! "sudo -u postgres pg_basebackup -h #{master.to_s} -U replicator -D #{pg_data_dir.(version.to_s)} -R -X stream"
    shell! "systemctl start postgresql@#{version.to_s}-main"
  }
end
