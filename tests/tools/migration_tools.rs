//! Migration tools' index and column steps through ghostwire against the
//! same steps straight to the server: Alembic, Django, Sequel, ActiveRecord
//! and TypeORM (which build indexes with CREATE INDEX / DROP INDEX), knex
//! and Sequelize (ALTER TABLE … ADD INDEX, DROP INDEX … ON). Each runs its
//! migrations one at a time up (create table, add column, add index, drop
//! index; ActiveRecord, Sequelize and TypeORM also change the column's type
//! with their own `change_column` / `changeColumn`) and back down, on a
//! table with rows; the tables (definitions and rows) must end equal.

use std::path::PathBuf;

use crate::common;
use crate::harness::{python, run_both, script_dir, Pair};
use mysql_async::prelude::*;

struct Tool {
    name: &'static str,
    program: PathBuf,
    /// Arguments before the step's own.
    script: PathBuf,
    table: &'static str,
    /// Each migration up, in order (the first creates the table, the
    /// second adds the column).
    up: &'static [&'static [&'static str]],
    /// Back down to the first, in order.
    down: &'static [&'static [&'static str]],
    /// The migration with two operations on the table.
    two_ops: &'static [&'static str],
    /// Its type change is an ALTER that copies (`CHANGE price price
    /// bigint`), not a drop and add.
    copies_type: bool,
}

fn alembic() -> Tool {
    Tool {
        name: "alembic",
        program: python(),
        script: script_dir().join("alembic/run.py"),
        table: "items",
        up: &[
            &["upgrade", "0001"],
            &["upgrade", "0002"],
            &["upgrade", "0003"],
            &["upgrade", "0004"],
        ],
        down: &[
            &["downgrade", "0003"],
            &["downgrade", "0002"],
            &["downgrade", "0001"],
        ],
        two_ops: &["upgrade", "0005"],
        copies_type: false,
    }
}

fn django() -> Tool {
    Tool {
        name: "django",
        program: python(),
        script: script_dir().join("django/run.py"),
        table: "shop_item",
        up: &[&["0001"], &["0002"], &["0003"], &["0004"]],
        down: &[&["0003"], &["0002"], &["0001"]],
        two_ops: &["0005"],
        copies_type: false,
    }
}

fn knex() -> Tool {
    Tool {
        name: "knex",
        program: PathBuf::from("node"),
        script: script_dir().join("knex/run.js"),
        table: "items",
        up: &[&["up"], &["up"], &["up"], &["up"]],
        down: &[&["down"], &["down"], &["down"]],
        two_ops: &["up"],
        copies_type: false,
    }
}

fn sequel() -> Tool {
    Tool {
        name: "sequel",
        program: PathBuf::from("ruby"),
        script: script_dir().join("sequel/run.rb"),
        table: "items",
        up: &[&["1"], &["2"], &["3"], &["4"]],
        down: &[&["3"], &["2"], &["1"]],
        two_ops: &["5"],
        copies_type: false,
    }
}

/// add_index / remove_index are CREATE INDEX / DROP INDEX; change_column
/// is `CHANGE price price bigint`; the table has ActiveRecord's default
/// bigint AUTO_INCREMENT key.
fn activerecord() -> Tool {
    Tool {
        name: "activerecord",
        program: PathBuf::from("ruby"),
        script: script_dir().join("activerecord/run.rb"),
        table: "items",
        up: &[&["1"], &["2"], &["3"], &["4"], &["5"]],
        down: &[&["4"], &["3"], &["2"], &["1"]],
        two_ops: &["6"],
        copies_type: true,
    }
}

/// addIndex is ALTER TABLE … ADD INDEX, removeIndex DROP INDEX … ON;
/// changeColumn is `CHANGE price price BIGINT`.
fn sequelize() -> Tool {
    Tool {
        name: "sequelize",
        program: PathBuf::from("node"),
        script: script_dir().join("sequelize/run.js"),
        table: "items",
        up: &[&["up"], &["up"], &["up"], &["up"], &["up"]],
        down: &[&["down"], &["down"], &["down"], &["down"]],
        two_ops: &["up"],
        copies_type: true,
    }
}

/// createIndex / dropIndex are CREATE INDEX / DROP INDEX; changeColumn to
/// another type drops and re-adds the column (see its migration), so it
/// comes before the index.
fn typeorm() -> Tool {
    Tool {
        name: "typeorm",
        program: PathBuf::from("node"),
        script: script_dir().join("typeorm/run.js"),
        table: "items",
        up: &[
            &["up", "1"],
            &["up", "2"],
            &["up", "3"],
            &["up", "4"],
            &["up", "5"],
        ],
        down: &[&["down"], &["down"], &["down"], &["down"]],
        two_ops: &["up", "6"],
        copies_type: false,
    }
}

impl Tool {
    async fn step(&self, pair: &Pair, args: &[&str]) {
        let script = self.script.to_str().unwrap();
        let mut all = vec![script];
        all.extend_from_slice(args);
        // No manual step between migrations: each copy keeps its old
        // table under a name of its own, which blocks nothing.
        run_both(pair, &self.program, &all).await;
    }

    /// Both schemas get the same rows (and prices once the column exists).
    async fn seed(&self, pair: &Pair, sql: &str) {
        for schema in pair.schemas() {
            let mut c = common::direct_conn_to(&schema).await;
            c.query_drop(sql.replace("{t}", self.table)).await.unwrap();
            c.disconnect().await.ok();
        }
    }

    async fn up_to_dropped_index(&self, pair: &Pair) {
        self.step(pair, self.up[0]).await;
        self.seed(
            pair,
            "INSERT INTO {t} (id, name) VALUES (1, 'apple'), (2, 'pear'), (3, 'plum'), (4, 'fig')",
        )
        .await;
        self.step(pair, self.up[1]).await;
        self.seed(pair, "UPDATE {t} SET price = id * 10 WHERE id < 4")
            .await;
        for s in &self.up[2..] {
            self.step(pair, s).await;
        }
    }

    /// Up and down, compared after each direction.
    async fn run(&self) {
        let pair = Pair::new(&format!("tl_{}", self.name), &[]).await;
        self.up_to_dropped_index(&pair).await;
        pair.assert_same_tables(&[self.table], &format!("{} up", self.name))
            .await;
        for s in self.down {
            self.step(&pair, s).await;
        }
        pair.assert_same_tables(&[self.table], &format!("{} down", self.name))
            .await;
        // Through ghostwire the index steps ran as migrations.
        let mut d = common::direct_conn_to("mysql").await;
        let n: Option<u64> = d
            .exec_first(
                "SELECT COUNT(*) FROM _ghostwire.migrations WHERE table_schema = ? \
                 AND table_name = ? AND status = 'complete'",
                (pair.via(), self.table),
            )
            .await
            .unwrap();
        assert!(
            n.unwrap_or(0) >= 4,
            "{}: the column and index steps ran as migrations ({n:?})",
            self.name
        );
        if self.copies_type {
            // Up and down: both type changes were copies.
            let copies: Option<u64> = d
                .exec_first(
                    "SELECT COUNT(*) FROM _ghostwire.migrations WHERE table_schema = ? \
                     AND table_name = ? AND status = 'complete' AND strategy = 'copy' \
                     AND LOWER(CONVERT(statement USING utf8mb4)) LIKE '%change%price%'",
                    (pair.via(), self.table),
                )
                .await
                .unwrap();
            assert_eq!(
                copies,
                Some(2),
                "{}: the type changes were copied",
                self.name
            );
        }
        d.disconnect().await.ok();
    }

    async fn run_two_ops(&self) {
        let pair = Pair::new(&format!("tl_{}2", self.name), &[]).await;
        self.up_to_dropped_index(&pair).await;
        let script = self.script.to_str().unwrap();
        let mut all = vec![script];
        all.extend_from_slice(self.two_ops);
        run_both(&pair, &self.program, &all).await;
        pair.assert_same_tables(&[self.table], &format!("{} two operations", self.name))
            .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alembic_up_and_down_as_native() {
    alembic().run().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn django_up_and_down_as_native() {
    django().run().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn knex_up_and_down_as_native() {
    knex().run().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequel_up_and_down_as_native() {
    sequel().run().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activerecord_up_and_down_as_native() {
    activerecord().run().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequelize_up_and_down_as_native() {
    sequelize().run().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typeorm_up_and_down_as_native() {
    typeorm().run().await;
}

/// One migration that alters the same table twice (two index copies), with
/// no step between them: the second copy starts at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_operations_on_one_table() {
    for tool in [
        alembic(),
        django(),
        knex(),
        sequel(),
        activerecord(),
        sequelize(),
        typeorm(),
    ] {
        tool.run_two_ops().await;
    }
}
