-- The account ghostwire uses for online migrations: copy, binlog tail,
-- cut-over (LOCK TABLES + RENAME) and its state schema `_ghostwire`.
CREATE USER IF NOT EXISTS 'ghostwire'@'%' IDENTIFIED BY 'gw-pass';
-- Exactly what it needs (see the README's "Grants"): no FILE, SUPER, PROCESS,
-- GRANT OPTION. Narrow the first line to the schemas you migrate.
GRANT SELECT, INSERT, DELETE, CREATE, DROP, ALTER, LOCK TABLES, CREATE TEMPORARY TABLES ON app.* TO 'ghostwire'@'%';
GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'ghostwire'@'%';
-- MySQL shows a table's triggers only to accounts with TRIGGER on it; ghostwire
-- must see them to refuse tables that have triggers.
GRANT TRIGGER ON app.* TO 'ghostwire'@'%';
GRANT ALL ON `_ghostwire`.* TO 'ghostwire'@'%';
GRANT ALL ON app.* TO 'app'@'%';
