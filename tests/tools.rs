//! Migration tools and drivers through ghostwire, each compared with the
//! same run straight against the server: CREATE INDEX / DROP INDEX (which
//! Alembic, Django, ActiveRecord, Sequel and TypeORM emit), ALTER TABLE …
//! ADD INDEX (knex, Sequelize), type changes, and prepared ALTERs and
//! migration commands (which drivers that prepare every statement send)
//! must end exactly as natively. The tools (Alembic, Django, ActiveRecord,
//! Sequel, knex, Sequelize, TypeORM, node mysql2, Go's driver, Ruby mysql2)
//! are installed by `scripts/deps.sh`.

mod common;

#[path = "tools/harness.rs"]
mod harness;

#[path = "tools/index_ddl.rs"]
mod index_ddl;
#[path = "tools/migration_tools.rs"]
mod migration_tools;
#[path = "tools/prepared.rs"]
mod prepared;
