# Ruby mysql2's prepared statements: a prepared ALTER and CREATE INDEX, then
# (argv "show", through ghostwire only) a prepared SHOW MIGRATIONS, whose
# rows are printed as "statement=<...>".
require 'mysql2'
client = Mysql2::Client.new(
  host: ENV.fetch('GW_HOST'),
  port: Integer(ENV.fetch('GW_PORT')),
  username: ENV.fetch('GW_USER'),
  password: ENV.fetch('GW_PASSWORD'),
  database: ENV.fetch('GW_DB')
)
['ALTER TABLE t ADD COLUMN r INT NULL', 'CREATE INDEX ir ON t (r, w)'].each do |sql|
  stmt = client.prepare(sql)
  stmt.execute
  stmt.close
end
if ARGV[0] == 'show'
  client.prepare('SHOW MIGRATIONS').execute.each do |row|
    puts "statement=#{row['statement']} rows_copied=#{row['rows_copied'].inspect}"
  end
end
client.close
