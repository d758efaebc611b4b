# The web application: a release checked out at a git ref, configured for the database, served by systemd.
require 'fileutils'

APP_ROOT = '/srv/app'

dep 'app deployed', :ref, :db, :workers do
  ref.default!('main')
  workers.default!('4')
  requires 'lamp base'
  release = -> { File.join(APP_ROOT, 'releases', ref.to_s) }
  env_file = -> { File.join(APP_ROOT, 'shared', 'app.env') }
  wanted_env = -> { "DATABASE_HOST=#{db.to_s}\nWEB_CONCURRENCY=#{workers.to_s}\n" }
  met? {
    File.symlink?(File.join(APP_ROOT, 'current')) &&
      File.readlink(File.join(APP_ROOT, 'current')) == release.call &&
      File.exist?(env_file.call) && File.read(env_file.call) == wanted_env.call &&
      shell?('systemctl is-active --quiet app')
  }
  meet {
    FileUtils.mkdir_p([File.join(APP_ROOT, 'releases'), File.join(APP_ROOT, 'shared')])
    unless File.directory?(release.call)
      shell! "git clone --quiet --depth 1 --branch #{ref.to_s} https://git.example.com/acme/app.git #{release.call}"
    end
    File.write(env_file.call, wanted_env.call)
    shell! "ln -sfn #{release.call} #{File.join(APP_ROOT, 'current')}"
    shell! 'systemctl restart app'
  }
end
