-- The account ghostwire uses for online migrations: copy, binlog tail,
-- cut-over (LOCK TABLES + RENAME) and its state schema `_ghostwire`.
CREATE USER IF NOT EXISTS 'ghostwire'@'%' IDENTIFIED BY 'gw-pass';
GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, ALTER, INDEX, LOCK TABLES,
      REPLICATION SLAVE, REPLICATION CLIENT, PROCESS, RELOAD ON *.* TO 'ghostwire'@'%';
GRANT ALL ON `_ghostwire`.* TO 'ghostwire'@'%';
GRANT ALL ON app.* TO 'app'@'%';
