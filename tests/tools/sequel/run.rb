# Runs Sequel's migrator on ./migrations to version ARGV[0] (mysql2 adapter).
# The database comes from GW_HOST, GW_PORT, GW_USER, GW_PASSWORD, GW_DB.
require 'sequel'
Sequel.extension :migration
db = Sequel.connect(
  adapter: 'mysql2',
  host: ENV.fetch('GW_HOST'),
  port: Integer(ENV.fetch('GW_PORT')),
  user: ENV.fetch('GW_USER'),
  password: ENV.fetch('GW_PASSWORD'),
  database: ENV.fetch('GW_DB')
)
Sequel::Migrator.run(db, File.join(__dir__, 'migrations'), target: Integer(ARGV[0]))
db.disconnect
