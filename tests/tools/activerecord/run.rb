# Runs ActiveRecord's migrator on ./migrations to version ARGV[0] (up or
# down, as ActiveRecord decides from the versions applied; mysql2 adapter).
# The database comes from GW_HOST, GW_PORT, GW_USER, GW_PASSWORD, GW_DB.
require 'active_record'
ActiveRecord::Base.establish_connection(
  adapter: 'mysql2',
  host: ENV.fetch('GW_HOST'),
  port: Integer(ENV.fetch('GW_PORT')),
  username: ENV.fetch('GW_USER'),
  password: ENV.fetch('GW_PASSWORD'),
  database: ENV.fetch('GW_DB')
)
ActiveRecord::Migration.verbose = false
ActiveRecord::MigrationContext
  .new(File.join(__dir__, 'migrations'), ActiveRecord::SchemaMigration)
  .migrate(Integer(ARGV[0]))
ActiveRecord::Base.connection.disconnect!
