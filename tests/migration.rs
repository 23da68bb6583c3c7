//! Online ALTER through the proxy against a real MariaDB: the copy path
//! under concurrent writes (checked row by row against the load's own
//! model), the instant path, hints and modes, every refusal, and a value
//! round trip for every column type with changes applied from the binlog.

mod common;

#[path = "migration/algorithm.rs"]
mod algorithm;
#[path = "migration/locked.rs"]
mod locked;
#[path = "migration/statements.rs"]
mod statements;
#[path = "migration/unique.rs"]
mod unique;
#[path = "migration/warnings.rs"]
mod warnings;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use common::{
    await_status, eventually, fill_doubling, old_table_of, setup, setup_with, submit_postponed,
    Ctx, LIMITED_USER,
};
use ghostwire::config::Intercept;
use mysql_async::prelude::*;
use mysql_async::{Conn, Row, Value};

/// SHOW MIGRATION '<id>' through the proxy, as column name → text.
async fn migration(c: &mut Conn, id: &str) -> BTreeMap<String, String> {
    let row: Row = c
        .query_first(format!("SHOW MIGRATION '{id}'"))
        .await
        .unwrap()
        .expect("migration listed");
    let cols: Vec<String> = row
        .columns_ref()
        .iter()
        .map(|c| c.name_str().into_owned())
        .collect();
    let vals = row.unwrap();
    cols.into_iter()
        .zip(vals)
        .map(|(c, v)| {
            let s = match v {
                Value::NULL => "NULL".to_string(),
                Value::Bytes(b) => String::from_utf8_lossy(&b).into_owned(),
                other => format!("{other:?}"),
            };
            (c, s)
        })
        .collect()
}

/// Runs an ALTER synchronously; returns the OK info text.
async fn alter(c: &mut Conn, sql: &str) -> String {
    c.query_drop(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    c.info().into_owned()
}

fn id_in(info: &str) -> String {
    info.split_whitespace()
        .skip_while(|w| *w != "migration")
        .nth(1)
        .expect("info names the migration")
        .to_string()
}

/// `SHOW CREATE TABLE` of `table` in the test's schema, read directly.
async fn show_create(ctx: &Ctx, table: &str) -> String {
    let mut d = ctx.direct().await;
    let r: (String, String) = d
        .query_first(format!("SHOW CREATE TABLE {table}"))
        .await
        .unwrap()
        .unwrap();
    r.1
}

async fn tables(c: &mut Conn, schema: &str) -> Vec<String> {
    c.exec(
        "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY 1",
        (schema,),
    )
    .await
    .unwrap()
}

async fn server_error(c: &mut Conn, sql: &str) -> (u16, String) {
    match c.query_drop(sql).await {
        Err(mysql_async::Error::Server(e)) => (e.code, e.message),
        other => panic!("{sql}: expected a server error, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// Copy path under load

const WORKERS: u64 = 3;
const INITIAL_ROWS: u64 = 1 << 17; // 131072

fn initial(id: u64) -> (i64, String) {
    ((id * 7919 % 1000) as i64, format!("row-{id}"))
}

/// A write load: each worker owns the ids ≡ w (mod WORKERS), so its model
/// of those rows is exact. Returns the model: id → Some((k, c)) or None
/// (deleted).
async fn load_worker(
    mut conn: Conn,
    w: u64,
    stop: Arc<AtomicBool>,
    ops: Arc<AtomicU64>,
) -> BTreeMap<u64, Option<(i64, String)>> {
    let mut model = BTreeMap::new();
    let mut n: u64 = 0;
    let mut next_insert = 10_000_000 + w;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let id = ((n * 104_729 + w * 31) % (INITIAL_ROWS / WORKERS)) * WORKERS + w + 1;
        let id = if id > INITIAL_ROWS { w + 1 } else { id };
        match n % 4 {
            0 => {
                conn.exec_drop("DELETE FROM t WHERE id = ?", (id,))
                    .await
                    .unwrap();
                model.insert(id, None);
            }
            1 => {
                let c = format!("ins-{w}-{n}");
                conn.exec_drop(
                    "INSERT INTO t (id, k, c) VALUES (?, ?, ?)",
                    (next_insert, n as i64, &c),
                )
                .await
                .unwrap();
                model.insert(next_insert, Some((n as i64, c)));
                next_insert += WORKERS;
            }
            _ => {
                // A transaction of two statements, the second changing the key.
                let c = format!("upd-{w}-{n}");
                let mut tx = conn.start_transaction(Default::default()).await.unwrap();
                tx.exec_drop("UPDATE t SET k = ?, c = ? WHERE id = ?", (n as i64, &c, id))
                    .await
                    .unwrap();
                let updated = tx.affected_rows() == 1;
                let mut moved_to = None;
                if updated && n % 8 == 2 {
                    let moved = 20_000_000 + w + n * WORKERS;
                    tx.exec_drop("UPDATE t SET id = ? WHERE id = ?", (moved, id))
                        .await
                        .unwrap();
                    moved_to = Some(moved);
                }
                tx.commit().await.unwrap();
                if updated {
                    match moved_to {
                        Some(m) => {
                            model.insert(id, None);
                            model.insert(m, Some((n as i64, c)));
                        }
                        None => {
                            model.insert(id, Some((n as i64, c)));
                        }
                    }
                }
            }
        }
        ops.fetch_add(1, Ordering::Relaxed);
    }
    conn.disconnect().await.ok();
    model
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_under_concurrent_writes_loses_and_changes_nothing() {
    let ctx = setup("mig_copy").await;
    let mut c = ctx.conn().await;
    c.query_drop("CREATE TABLE t (id BIGINT NOT NULL PRIMARY KEY, k INT NOT NULL, c VARCHAR(100) NOT NULL) ENGINE=InnoDB")
        .await
        .unwrap();
    fill_doubling(&mut c, INITIAL_ROWS).await;
    c.query_drop("UPDATE t SET k = (id * 7919) % 1000, c = CONCAT('row-', id)")
        .await
        .unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let ops = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    for w in 0..WORKERS {
        // Two workers through the proxy, one straight to the server.
        let conn = if w == 0 {
            ctx.direct().await
        } else {
            ctx.conn().await
        };
        workers.push(tokio::spawn(load_worker(
            conn,
            w,
            stop.clone(),
            ops.clone(),
        )));
    }
    eventually("the load is running", || async {
        ops.load(Ordering::Relaxed) > 100
    })
    .await;
    let info = alter(
        &mut c,
        "ALTER TABLE t ADD COLUMN extra INT NOT NULL DEFAULT 7, ADD INDEX k_idx (k)",
    )
    .await;
    assert!(info.contains("complete (copy)"), "{info}");
    let after = ops.load(Ordering::Relaxed);
    eventually("writes continue on the new table", || async {
        ops.load(Ordering::Relaxed) > after + 300
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    let mut model = BTreeMap::new();
    for w in workers {
        model.extend(w.await.unwrap());
    }

    // Expected: initial rows with the load's changes.
    let mut expected: BTreeMap<u64, (i64, String)> =
        (1..=INITIAL_ROWS).map(|id| (id, initial(id))).collect();
    for (id, v) in model {
        match v {
            Some(v) => expected.insert(id, v),
            None => expected.remove(&id),
        };
    }
    let actual: Vec<(u64, i64, String, i64)> = c
        .query("SELECT id, k, c, extra FROM t ORDER BY id")
        .await
        .unwrap();
    let got: BTreeMap<u64, (i64, String)> = actual
        .iter()
        .map(|(id, k, cv, _)| (*id, (*k, cv.clone())))
        .collect();
    let missing: Vec<_> = expected
        .iter()
        .filter(|(id, v)| got.get(id) != Some(v))
        .take(5)
        .collect();
    let extra: Vec<_> = got
        .iter()
        .filter(|(id, v)| expected.get(id) != Some(v))
        .take(5)
        .collect();
    let old_table = old_table_of(&mut c, "t").await.unwrap();
    for (id, _) in &missing {
        let old: Option<(i64, String)> = c
            .exec_first(
                format!("SELECT k, c FROM {old_table} WHERE id = ?"),
                (**id,),
            )
            .await
            .unwrap();
        eprintln!("id {id}: old table has {old:?}");
    }
    assert!(
        missing.is_empty() && extra.is_empty(),
        "expected but absent or different: {missing:?}; present but not expected: {extra:?}"
    );
    assert!(
        actual.iter().all(|r| r.3 == 7),
        "the new column has its default"
    );
    let create: (String, String) = c.query_first("SHOW CREATE TABLE t").await.unwrap().unwrap();
    assert!(create.1.contains("k_idx"), "{}", create.1);
    let m = migration(&mut c, &id_in(&info)).await;
    let old_table = format!("t_{}_del", &id_in(&info)[..8]);
    assert_eq!(tables(&mut c, "mig_copy").await, ["t", old_table.as_str()]);
    assert_eq!(
        m["old_table"], old_table,
        "SHOW MIGRATION names the old table"
    );
    assert_eq!(m["status"], "complete");
    assert_eq!(m["strategy"], "copy");
    assert_eq!(m["table_name"], "t");
    assert!(m["rows_copied"].parse::<u64>().unwrap() > 100_000, "{m:?}");
    assert!(m["cutover_attempts"].parse::<u64>().unwrap() >= 1);
    assert_ne!(m["completed_at"], "NULL");
    ctx.shutdown().await;
}

// ---------------------------------------------------------------------------
// Instant path, modes and hints

async fn small_table(ctx: &Ctx) -> Conn {
    let mut c = ctx.conn().await;
    c.query_drop("CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20)); INSERT INTO t VALUES (1, 'a'), (2, 'b')")
        .await
        .unwrap();
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instant_alter_and_show_migrations() {
    let ctx = setup("mig_instant").await;
    let mut c = small_table(&ctx).await;
    let info = alter(
        &mut c,
        "ALTER TABLE mig_instant.t ADD COLUMN n INT NOT NULL DEFAULT 5",
    )
    .await;
    assert!(info.contains("complete (instant)"), "{info}");
    let n: u64 = c
        .query_first("SELECT SUM(n) FROM t")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n, 10);
    assert_eq!(tables(&mut c, "mig_instant").await, ["t"]);
    let id = id_in(&info);
    let m = migration(&mut c, &id).await;
    assert_eq!(
        (m["strategy"].as_str(), m["status"].as_str()),
        ("instant", "complete")
    );
    assert_eq!(
        m["statement"],
        "ALTER TABLE mig_instant.t ADD COLUMN n INT NOT NULL DEFAULT 5"
    );
    let all: Vec<Row> = c.query("SHOW MIGRATIONS").await.unwrap();
    assert!(all
        .iter()
        .any(|r| r.get::<String, _>(0).as_deref() == Some(id.as_str())));
    ctx.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_hints_and_direct() {
    let ctx = setup("mig_hints").await;
    let mut c = small_table(&ctx).await;
    // The session variable: async answers at once with the id.
    c.query_drop("SET @ghostwire = 'async'").await.unwrap();
    let row: (String, String) = c.query_first("ALTER TABLE t FORCE").await.unwrap().unwrap();
    assert_eq!(row.1, "queued");
    let id = row.0;
    eventually("the async migration completes", || {
        let ctx = &ctx;
        let id = id.clone();
        async move {
            let mut c = ctx.conn().await;
            migration(&mut c, &id).await["status"] == "complete"
        }
    })
    .await;
    // Unknown words are refused, not ignored.
    let (code, msg) = server_error(&mut c, "SET @ghostwire = 'asap'").await;
    assert_eq!(code, 1231, "{msg}");
    c.query_drop("SET @ghostwire = NULL").await.unwrap();
    // direct: the server runs it as is (no migration recorded).
    c.query_drop("/* ghostwire: direct */ ALTER TABLE t ADD COLUMN d INT")
        .await
        .unwrap();
    assert!(!c.info().contains("ghostwire"));
    let recorded: u64 = c
        .query_first("SELECT COUNT(*) FROM _ghostwire.migrations WHERE table_schema = 'mig_hints'")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(recorded, 1);
    // A prepared ALTER runs as the same online migration (recorded).
    c.exec_drop("ALTER TABLE t ADD COLUMN p INT", ())
        .await
        .unwrap();
    let recorded: u64 = c
        .query_first("SELECT COUNT(*) FROM _ghostwire.migrations WHERE table_schema = 'mig_hints'")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(recorded, 2);
    ctx.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intercept_tagged_and_off() {
    let ctx = setup_with("mig_tagged", |c| c.migrations.intercept = Intercept::Tagged).await;
    let mut c = small_table(&ctx).await;
    c.query_drop("ALTER TABLE t ADD COLUMN a INT")
        .await
        .unwrap();
    assert!(
        !c.info().contains("ghostwire"),
        "untagged goes straight to the server"
    );
    let info = alter(
        &mut c,
        "ALTER TABLE t /* ghostwire: online */ ADD COLUMN b INT",
    )
    .await;
    assert!(info.contains("ghostwire: migration"), "{info}");
    ctx.shutdown().await;

    let ctx = setup_with("mig_off", |c| c.migrations.intercept = Intercept::Off).await;
    let mut c = small_table(&ctx).await;
    c.query_drop("ALTER TABLE t /* ghostwire: online */ ADD COLUMN a INT")
        .await
        .unwrap();
    assert!(!c.info().contains("ghostwire"));
    ctx.shutdown().await;
}

// ---------------------------------------------------------------------------
// Refusals: clear error, nothing created, original untouched

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_leave_nothing_behind() {
    let ctx = setup("mig_refuse").await;
    let mut c = ctx.conn().await;
    c.query_drop(
        "CREATE TABLE nopk (a INT, b INT); INSERT INTO nopk VALUES (1, 2);
         CREATE TABLE parent (id INT PRIMARY KEY);
         CREATE TABLE child (id INT PRIMARY KEY, p INT, CONSTRAINT fk_child_parent FOREIGN KEY (p) REFERENCES parent (id));
         CREATE TABLE trig (id INT PRIMARY KEY, v INT);
         CREATE TRIGGER trig_bi BEFORE INSERT ON trig FOR EACH ROW SET NEW.v = 1;
         CREATE TABLE ok (id INT PRIMARY KEY, v INT)",
    )
    .await
    .unwrap();
    let before = tables(&mut c, "mig_refuse").await;
    let nopk_before = show_create(&ctx, "nopk").await;
    let cases: &[(&str, u16, &str)] = &[
        (
            "ALTER TABLE nopk ADD INDEX (a)",
            1105,
            "PRIMARY or UNIQUE NOT NULL",
        ),
        ("ALTER TABLE parent ADD INDEX (id)", 1105, "fk_child_parent"),
        ("ALTER TABLE child ADD INDEX (p)", 1105, "fk_child_parent"),
        ("ALTER TABLE trig ADD INDEX (v)", 1105, "trig_bi"),
        ("ALTER TABLE ok RENAME TO ok2", 1105, "RENAME"),
        (
            "ALTER TABLE ok PARTITION BY HASH(id) PARTITIONS 2",
            1105,
            "partition",
        ),
        (
            "ALTER TABLE ok ADD INDEX (nosuchcolumn)",
            1072,
            "nosuchcolumn",
        ),
        // Values a copy cannot give as the native ALTER does.
        (
            "ALTER TABLE ok ADD COLUMN seq INT NOT NULL AUTO_INCREMENT, ADD UNIQUE KEY (seq), FORCE",
            1105,
            "AUTO_INCREMENT column seq",
        ),
        // (MySQL refuses such a default itself: unsafe for replication)
        if common::is_mysql() {
            (
                "ALTER TABLE ok ADD COLUMN who VARCHAR(80) DEFAULT (USER()), FORCE",
                1674,
                "unsafe",
            )
        } else {
            (
                "ALTER TABLE ok ADD COLUMN who VARCHAR(80) DEFAULT (USER()), FORCE",
                1105,
                "reads the user",
            )
        },
        (
            "ALTER TABLE ok ADD INDEX (v), ENGINE=NoSuchEngine",
            1286,
            "NoSuchEngine",
        ),
        ("ALTER TABLE ok ADD INDEX (v) garbage", 1064, "syntax"),
        (
            "ALTER TABLE ok ADD INDEX (v), ORDER BY v",
            1235,
            "must stay last",
        ),
        ("ALTER TABLE missing ADD INDEX (v)", 1146, "missing"),
        (
            "ALTER TABLE ok /* ghostwire: faster */ ADD INDEX (v)",
            1105,
            "unknown hint",
        ),
    ];
    for (sql, code, needle) in cases {
        let (got, msg) = server_error(&mut c, sql).await;
        assert_eq!(got, *code, "{sql}: {msg}");
        assert!(
            msg.to_lowercase().contains(&needle.to_lowercase()),
            "{sql}: {msg}"
        );
        assert_eq!(
            tables(&mut c, "mig_refuse").await,
            before,
            "{sql} left tables behind"
        );
        c.query_drop("SELECT 1")
            .await
            .expect("the session still works");
    }
    assert_eq!(show_create(&ctx, "nopk").await, nopk_before);
    // Several statements in one query are the server's to read: they run
    // as it reads them, natively, as this client (nothing is recorded).
    c.query_drop("ALTER TABLE ok ADD INDEX multi (v); SELECT 1")
        .await
        .unwrap();
    assert!(show_create(&ctx, "ok").await.contains("KEY `multi`"));

    // A user without ALTER gets exactly the server's answer; nothing is recorded.
    let limited = mysql_async::OptsBuilder::from_opts(ctx.proxy_opts())
        .user(Some(LIMITED_USER.0))
        .pass(Some(LIMITED_USER.1));
    let mut l = Conn::new(limited).await.unwrap();
    let (code, msg) = server_error(&mut l, "ALTER TABLE ok ADD INDEX (v)").await;
    assert_eq!(code, 1142, "{msg}");
    assert!(msg.contains("ALTER command denied"), "{msg}");
    let recorded: u64 = c
        .query_first("SELECT COUNT(*) FROM _ghostwire.migrations WHERE table_schema = 'mig_refuse' AND status = 'complete'")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(recorded, 0);
    ctx.shutdown().await;
}

// ---------------------------------------------------------------------------
// Value round trip: every column type, four kinds of key, changes applied
// from the binlog while the migration is postponed after its copy.

const TYPED_COLUMNS: &str = "
    ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, siu SMALLINT UNSIGNED,
    mi MEDIUMINT, miu MEDIUMINT UNSIGNED, i INT, iu INT UNSIGNED, bi BIGINT, biu BIGINT UNSIGNED,
    dec65 DECIMAL(65,30), f FLOAT, d DOUBLE, b BIT(13),
    dt DATE, dtm DATETIME(6), ts TIMESTAMP(6) NULL DEFAULT NULL, tm TIME(6), y YEAR,
    ch CHAR(10) CHARACTER SET latin1, vc VARCHAR(50) CHARACTER SET utf8mb4, tt TINYTEXT, tx TEXT,
    mt MEDIUMTEXT, bl BLOB, vb VARBINARY(20), bn BINARY(4), e ENUM('a','b','c'), st SET('x','y','z'),
    j JSON, g_v BIGINT AS (i + 1) VIRTUAL, g_s VARCHAR(60) AS (CONCAT(vc, '!')) STORED";

const SHARED: &str =
    "ti, tiu, si, siu, mi, miu, i, iu, bi, biu, dec65, f, d, b, dt, dtm, ts, tm, y, \
    ch, vc, tt, tx, mt, bl, vb, bn, e, st, j, g_v, g_s";

const INSERT_COLUMNS: &str =
    "ti, tiu, si, siu, mi, miu, i, iu, bi, biu, dec65, f, d, b, dt, dtm, ts, tm, y, \
    ch, vc, tt, tx, mt, bl, vb, bn, e, st, j";

/// Edge values for every column: extremes, zero-ish, and NULLs.
const VALUE_ROWS: [&str; 3] = [
    "-128, 255, -32768, 65535, -8388608, 16777215, -2147483648, 4294967295, \
     -9223372036854775808, 18446744073709551615, \
     -99999999999999999999999999999999999.999999999999999999999999999999, -1.5e38, -1.7976931348623157e308, b'1111111111111', \
     '1000-01-01', '1000-01-01 00:00:00.000000', '1970-01-01 00:00:01.000001', '-838:59:59.000000', 0, \
     _latin1 X'E9', 'héllo 🙂', 'tiny', REPEAT('t', 1000), REPEAT('m', 70000), X'00FF00', X'', X'00000001', 'c', 'x,z', '{\"a\": [1, 2.5, null]}'",
    "127, 0, 32767, 0, 8388607, 0, 2147483647, 0, 9223372036854775807, 0, \
     99999999999999999999999999999999999.999999999999999999999999999999, 3.4e38, 2.2250738585072014e-308, b'0', \
     '9999-12-31', '9999-12-31 23:59:59.999999', '2038-01-19 03:14:07.999999', '838:59:59.000000', 2155, \
     'abc  ', '', '', '', '', X'', X'FFFF', X'FF', 'a', '', '[]'",
    "NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, \
     NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL",
];

/// (table suffix, key columns DDL, key column list, a key value list per row: 3 initial + 3 added later)
const KEYS: [(&str, &str, &str, [&str; 6]); 4] = [
    (
        "int",
        "id INT NOT NULL PRIMARY KEY",
        "id",
        ["-2147483648", "0", "2147483647", "-1", "1", "2"],
    ),
    (
        "ubig",
        "id BIGINT UNSIGNED NOT NULL PRIMARY KEY",
        "id",
        [
            "0",
            "18446744073709551615",
            "9223372036854775808",
            "1",
            "18446744073709551614",
            "9223372036854775807",
        ],
    ),
    (
        "str",
        "id VARCHAR(20) CHARACTER SET latin1 NOT NULL PRIMARY KEY",
        "id",
        [
            "_latin1 X'E9'",
            "'a'",
            "'zz zz'",
            "'b'",
            "_latin1 X'C9E9'",
            "''",
        ],
    ),
    (
        "comp",
        "ka INT NOT NULL, kb VARCHAR(10) CHARACTER SET utf8mb4 NOT NULL, PRIMARY KEY (ka, kb)",
        "ka, kb",
        [
            "-5, 'é'",
            "-5, 'f'",
            "7, '🙂'",
            "7, 'x'",
            "-8388608, ''",
            "0, 'ü'",
        ],
    ),
];

async fn rows_of(c: &mut Conn, table: &str, key: &str) -> Vec<Vec<Value>> {
    let rows: Vec<Row> = c
        .query(format!(
            "SELECT {key}, {SHARED} FROM {table} ORDER BY {key}"
        ))
        .await
        .unwrap();
    rows.into_iter().map(|r| r.unwrap()).collect()
}

/// Every column type's edge values through the copy, the binlog replay and
/// the checksum: the ALTER converts `e`, so the checksum carries every
/// other column's values out of its snapshot and back into a temporary
/// table (`migration/carry.rs`) and compares them; a value that did not
/// travel exactly fails the migration here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_column_type_round_trips_through_copy_and_binlog_replay() {
    let ctx = setup("mig_types").await;
    let mut c = ctx.conn().await;
    let mut d = ctx.direct().await;
    for (name, key_ddl, key, keys) in KEYS {
        let t = format!("rt_{name}");
        d.query_drop(format!(
            "CREATE TABLE {t} ({key_ddl}, {TYPED_COLUMNS}) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
        ))
        .await
        .unwrap();
        for (k, v) in keys[..3].iter().zip(VALUE_ROWS) {
            d.query_drop(format!(
                "INSERT INTO {t} ({key}, {INSERT_COLUMNS}) VALUES ({k}, {v})"
            ))
            .await
            .unwrap();
        }
        // Postponed: copied, then kept in sync from the binlog until released.
        let row: (String, String) = c
            .query_first(format!(
                "ALTER TABLE {t} /* ghostwire: async postpone */ ADD COLUMN extra INT, MODIFY e ENUM('z','c','b','a')"
            ))
            .await
            .unwrap()
            .unwrap();
        let id = row.0;
        await_status(&ctx, &id, "ready").await;
        // Changes the binlog applier must carry: inserts, an update of every
        // column, a key change, a delete.
        for (k, v) in keys[3..].iter().zip(VALUE_ROWS) {
            d.query_drop(format!(
                "INSERT INTO {t} ({key}, {INSERT_COLUMNS}) VALUES ({k}, {v})"
            ))
            .await
            .unwrap();
        }
        let first = keys[0];
        let set: Vec<String> = INSERT_COLUMNS
            .split(", ")
            .zip(VALUE_ROWS[1].split(", "))
            .map(|(col, _)| format!("{col} = (SELECT {col} FROM (SELECT * FROM {t}) AS x ORDER BY {key} DESC LIMIT 1)"))
            .collect();
        d.query_drop(format!(
            "UPDATE {t} SET {} WHERE ({key}) = ({first})",
            set.join(", ")
        ))
        .await
        .unwrap();
        d.query_drop(format!("DELETE FROM {t} WHERE ({key}) = ({})", keys[1]))
            .await
            .unwrap();
        let moved = if name == "comp" {
            "42, 'moved'"
        } else if name == "str" {
            "'moved'"
        } else {
            "42"
        };
        d.query_drop(format!(
            "UPDATE {t} SET {} WHERE ({key}) = ({})",
            set_key(key, moved),
            keys[2]
        ))
        .await
        .unwrap();
        c.query_drop(format!("ALTER MIGRATION '{id}' COMPLETE"))
            .await
            .unwrap();
        await_status(&ctx, &id, "complete").await;
        let new = rows_of(&mut d, &t, key).await;
        let old_table = old_table_of(&mut d, &t).await.unwrap();
        let old = rows_of(&mut d, &old_table, key).await;
        assert_eq!(new.len(), 5, "{t}: 6 rows inserted, 1 deleted");
        assert_eq!(new, old, "{t}: every value equal in the new table");
    }
    ctx.shutdown().await;
}

/// `SET a = 42, b = 'moved'` for a key list and a value list.
fn set_key(key: &str, values: &str) -> String {
    key.split(", ")
        .zip(values.split(", "))
        .map(|(k, v)| format!("{k} = {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_client_may_leave_and_a_second_alter_is_refused() {
    let ctx = setup("mig_leave").await;
    let mut c = small_table(&ctx).await;
    // A synchronous, postponed ALTER: the client waits until it is released.
    let waiting = tokio::spawn({
        let opts = ctx.proxy_opts();
        async move {
            let mut w = Conn::new(opts).await.unwrap();
            w.query_drop("ALTER TABLE t /* ghostwire: postpone */ ADD INDEX (v)")
                .await
        }
    });
    let ready = "SELECT id FROM _ghostwire.migrations WHERE table_schema = 'mig_leave' AND status = 'ready'";
    eventually("the migration waits for release", || {
        let ctx = &ctx;
        async move {
            let mut c = ctx.conn().await;
            // (the state table appears with the first migration)
            c.query_first::<String, _>(ready)
                .await
                .ok()
                .flatten()
                .is_some()
        }
    })
    .await;
    let id: String = c.query_first(ready).await.unwrap().unwrap();
    let (code, msg) = server_error(&mut c, "ALTER TABLE t ADD INDEX (id, v)").await;
    assert_eq!(code, 1105);
    assert!(msg.contains("still running") && msg.contains(&id), "{msg}");
    // The waiting client disconnects: the migration goes on.
    waiting.abort();
    let _ = waiting.await;
    c.query_drop(format!("ALTER MIGRATION '{id}' COMPLETE"))
        .await
        .unwrap();
    await_status(&ctx, &id, "complete").await;
    let create: (String, String) = c.query_first("SHOW CREATE TABLE t").await.unwrap().unwrap();
    assert!(create.1.contains("KEY `v`"), "{}", create.1);
    let (code, _) = server_error(&mut c, &format!("ALTER MIGRATION '{id}' COMPLETE")).await;
    assert_eq!(code, 1105, "only a waiting migration can be completed");
    ctx.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_keeps_the_auto_increment_counter() {
    let ctx = setup("mig_autoinc").await;
    let mut c = ctx.conn().await;
    c.query_drop(
        "CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY, v INT);
         INSERT INTO t (v) VALUES (1), (2), (3), (4), (5), (6), (7), (8), (9), (10);
         DELETE FROM t WHERE id > 5",
    )
    .await
    .unwrap();
    let info = alter(&mut c, "ALTER TABLE t ADD INDEX (v)").await;
    assert!(info.contains("(copy)"), "{info}");
    c.query_drop("INSERT INTO t (v) VALUES (11)").await.unwrap();
    assert_eq!(
        c.last_insert_id(),
        Some(11),
        "ids of deleted rows are not reused"
    );

    // Compared with the native ALTER on a twin with the same history: ids
    // taken and released while the copy runs, and a counter the ALTER sets.
    let mut d = ctx.direct().await;
    for (body, writes) in [
        ("ADD INDEX (v)", true),
        ("ADD COLUMN w INT, AUTO_INCREMENT = 7, FORCE", false),
        ("ADD COLUMN w INT, AUTO_INCREMENT = 500, FORCE", true),
    ] {
        for t in ["g", "n"] {
            d.query_drop(format!(
                "DROP TABLE IF EXISTS {t}, {t}_del; \
                 CREATE TABLE {t} (id INT AUTO_INCREMENT PRIMARY KEY, v INT); \
                 INSERT INTO {t} (v) VALUES (1), (2), (3), (4), (5), (6), (7), (8); \
                 DELETE FROM {t} WHERE id > 5"
            ))
            .await
            .unwrap();
        }
        let id = submit_postponed(&ctx, &mut c, "g", body).await;
        if writes {
            for t in ["g", "n"] {
                d.query_drop(format!(
                    "INSERT INTO {t} (v) VALUES (20), (21); DELETE FROM {t} WHERE v >= 20"
                ))
                .await
                .unwrap();
            }
        }
        c.query_drop(format!("ALTER MIGRATION '{id}' COMPLETE"))
            .await
            .unwrap();
        await_status(&ctx, &id, "complete").await;
        d.query_drop(format!("ALTER TABLE n {body}")).await.unwrap();
        let g = show_create(&ctx, "g").await.replacen("`g`", "`n`", 1);
        assert_eq!(g, show_create(&ctx, "n").await, "{body}");
    }
    ctx.shutdown().await;
}

/// A graceful shutdown (a rolling restart) stops the migration without
/// ending it: its shadow stays, and the next instance resumes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_leaves_running_migrations_for_the_next_instance() {
    let ctx = setup("mig_shutdown").await;
    let mut c = small_table(&ctx).await;
    let id = submit_postponed(&ctx, &mut c, "t", "ADD INDEX (v)").await;
    assert_eq!(tables(&mut c, "mig_shutdown").await, ["t", "t_gho"]);
    drop(c);
    let mut d = ctx.direct().await;
    ctx.shutdown().await;
    let (status, stage): (String, String) = d
        .exec_first(
            "SELECT status, stage FROM _ghostwire.migrations WHERE id = ?",
            (&id,),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (status.as_str(), stage.as_str()),
        ("ready", "stopped with its instance")
    );
    assert_eq!(
        tables(&mut d, "mig_shutdown").await,
        ["t", "t_gho"],
        "shadow kept"
    );
    let next = common::setup_existing("mig_shutdown", |c| c.migrations.adopt_after_ms = 300).await;
    let mut c = next.conn().await;
    eventually("the next instance adopted it", || async {
        let mut c = next.conn().await;
        let m = migration(&mut c, &id).await;
        m["status"] == "ready" && m["message"].starts_with("resumed")
    })
    .await;
    c.query_drop(format!("ALTER MIGRATION '{id}' COMPLETE"))
        .await
        .unwrap();
    await_status(&next, &id, "complete").await;
    // Equal to the native ALTER, rows and definition.
    d.query_drop("CREATE TABLE n (id INT PRIMARY KEY, v VARCHAR(20)); ALTER TABLE n ADD INDEX (v)")
        .await
        .unwrap();
    let rows: Vec<(i32, String)> = d.query("SELECT id, v FROM t ORDER BY id").await.unwrap();
    assert_eq!(rows, [(1, "a".to_string()), (2, "b".to_string())]);
    let t: (String, String) = d.query_first("SHOW CREATE TABLE t").await.unwrap().unwrap();
    let n: (String, String) = d.query_first("SHOW CREATE TABLE n").await.unwrap().unwrap();
    assert_eq!(t.1.replacen("`t`", "`n`", 1), n.1);
    next.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checksum_catches_a_difference_before_the_cut_over() {
    let ctx = setup("mig_checksum").await;
    let mut c = small_table(&ctx).await;
    let id = submit_postponed(&ctx, &mut c, "t", "ADD INDEX (v)").await;
    // Corrupt the shadow behind the engine's back (no binlog event on t).
    let mut d = ctx.direct().await;
    d.query_drop("UPDATE t_gho SET v = 'corrupt' WHERE id = 2")
        .await
        .unwrap();
    c.query_drop(format!("ALTER MIGRATION '{id}' COMPLETE"))
        .await
        .unwrap();
    await_status(&ctx, &id, "failed").await;
    let m = migration(&mut c, &id).await;
    assert!(m["message"].contains("checksum mismatch"), "{m:?}");
    assert_eq!(tables(&mut c, "mig_checksum").await, ["t"]);
    let v: String = c
        .query_first("SELECT v FROM t WHERE id = 2")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(v, "b", "the original is untouched");

    // Every column of the new table is compared: one the ALTER converts,
    // one it adds with a default, one it drops and adds again.
    for (body, corrupt) in [
        (
            "MODIFY v VARCHAR(40), FORCE",
            "UPDATE t_gho SET v = 'corrupt' WHERE id = 2",
        ),
        (
            "ADD COLUMN w INT NOT NULL DEFAULT 47, FORCE",
            "UPDATE t_gho SET w = 48 WHERE id = 1",
        ),
        (
            "DROP COLUMN v, ADD COLUMN v VARCHAR(20) DEFAULT 'x', FORCE",
            "UPDATE t_gho SET v = 'b' WHERE id = 2",
        ),
    ] {
        let id = submit_postponed(&ctx, &mut c, "t", body).await;
        d.query_drop(corrupt).await.unwrap();
        c.query_drop(format!("ALTER MIGRATION '{id}' COMPLETE"))
            .await
            .unwrap();
        await_status(&ctx, &id, "failed").await;
        let m = migration(&mut c, &id).await;
        assert!(m["message"].contains("checksum mismatch"), "{body}: {m:?}");
        assert_eq!(tables(&mut c, "mig_checksum").await, ["t"], "{body}");
    }
    ctx.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latin1_client_with_a_non_ascii_table_name() {
    let ctx = setup("mig_latin1").await;
    let mut d = ctx.direct().await;
    d.query_drop(
        "CREATE TABLE `café` (id INT PRIMARY KEY, v VARCHAR(20)) DEFAULT CHARSET=utf8mb4; \
         INSERT INTO `café` VALUES (1, 'Malmö'), (2, 'été'); \
         CREATE TABLE `café_n` LIKE `café`; INSERT INTO `café_n` SELECT * FROM `café`",
    )
    .await
    .unwrap();
    let mut c = ctx.conn().await;
    c.query_drop("SET NAMES latin1").await.unwrap();
    // The statement as a latin1 client sends it: é is one byte, 0xE9.
    let body: &[u8] = b" ADD COLUMN w VARCHAR(10) DEFAULT 'd\xe9j\xe0', FORCE";
    let mut sql = b"ALTER TABLE caf\xe9".to_vec();
    sql.extend_from_slice(body);
    c.query_drop(sql.as_slice()).await.unwrap();
    assert!(c.info().contains("(copy)"), "{}", c.info());
    let mut native = b"ALTER TABLE caf\xe9_n".to_vec();
    native.extend_from_slice(body);
    let mut n = ctx.direct().await;
    n.query_drop("SET NAMES latin1").await.unwrap();
    n.query_drop(native.as_slice()).await.unwrap();
    let show = |t: &'static str| {
        let ctx = &ctx;
        async move {
            let mut d = ctx.direct().await;
            let r: (String, String) = d
                .query_first(format!("SHOW CREATE TABLE `{t}`"))
                .await
                .unwrap()
                .unwrap();
            let rows: Vec<(i32, String, String)> = d
                .query(format!("SELECT id, v, w FROM `{t}` ORDER BY id"))
                .await
                .unwrap();
            (r.1.replacen(&format!("`{t}`"), "`x`", 1), rows)
        }
    };
    let (g, n) = (show("café").await, show("café_n").await);
    assert_eq!(g, n);
    assert!(g.0.contains("'déjà'"), "{}", g.0);
    ctx.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postponed_migrations_do_not_hold_migration_slots() {
    let ctx = common::setup_with("mig_slots", |c| c.migrations.max_running = 1).await;
    let mut c = ctx.conn().await;
    for t in ["a", "b", "c"] {
        c.query_drop(format!(
            "CREATE TABLE {t} (id INT PRIMARY KEY, v INT); INSERT INTO {t} VALUES (1, 1), (2, 2)"
        ))
        .await
        .unwrap();
    }
    // Two postponed migrations wait for COMPLETE with one slot between them.
    let a = submit_postponed(&ctx, &mut c, "a", "ADD INDEX (v)").await;
    let b = submit_postponed(&ctx, &mut c, "b", "ADD INDEX (v)").await;
    // Someone else's ALTER still runs to the end.
    let info = alter(&mut c, "ALTER TABLE c ADD INDEX (v)").await;
    assert!(info.contains("complete (copy)"), "{info}");
    for id in [a, b] {
        c.query_drop(format!("ALTER MIGRATION '{id}' COMPLETE"))
            .await
            .unwrap();
        await_status(&ctx, &id, "complete").await;
    }
    ctx.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_string_naming_the_table_does_not_hold_the_cut_over() {
    let ctx = setup("mig_gate_string").await;
    let mut c = small_table(&ctx).await;
    let id = submit_postponed(&ctx, &mut c, "t", "ADD INDEX (v)").await;
    // An open transaction whose statements only mention the name in a
    // string and a comment: it never touched the table.
    let mut other = ctx.conn().await;
    other.query_drop("BEGIN").await.unwrap();
    other
        .query_drop("SELECT 'nothing to see in t' /* t */")
        .await
        .unwrap();
    c.query_drop(format!("ALTER MIGRATION '{id}' COMPLETE"))
        .await
        .unwrap();
    await_status(&ctx, &id, "complete").await;
    other.query_drop("COMMIT").await.unwrap();
    ctx.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_hint_postpone_reaches_the_runner() {
    let ctx = setup("mig_session_hint").await;
    let mut c = small_table(&ctx).await;
    c.query_drop("SET @ghostwire = 'async postpone'")
        .await
        .unwrap();
    let row: (String, String) = c
        .query_first("ALTER TABLE t ADD INDEX (v)")
        .await
        .unwrap()
        .expect("async: the migration id");
    // Postponed: copied and waiting, not cut over.
    await_status(&ctx, &row.0, "ready").await;
    assert!(!show_create(&ctx, "t").await.contains("KEY `v`"));
    c.query_drop(format!("ALTER MIGRATION '{}' COMPLETE", row.0))
        .await
        .unwrap();
    await_status(&ctx, &row.0, "complete").await;
    assert!(show_create(&ctx, "t").await.contains("KEY `v`"));
    ctx.shutdown().await;
}

/// Dropping or renaming secondary indexes is a metadata change InnoDB makes
/// in place (neither server drops an index with ALGORITHM=INSTANT): never a
/// copy. Compared with the same ALTERs natively.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_an_index_is_never_a_copy() {
    let ctx = setup("mig_dropidx").await;
    let mut c = ctx.conn().await;
    let mut d = ctx.direct().await;
    for t in ["t", "n"] {
        d.query_drop(format!(
            "CREATE TABLE {t} (id INT PRIMARY KEY, v INT, w INT, KEY kv (v), KEY kw (w)); \
             INSERT INTO {t} VALUES (1, 1, 1), (2, 2, 2)"
        ))
        .await
        .unwrap();
    }
    for t in ["t", "n"] {
        d.query_drop(format!(
            "ALTER TABLE {t} ADD KEY ka (v, w), ADD KEY kb (w, v)"
        ))
        .await
        .unwrap();
    }
    for body in [
        "DROP INDEX kv",
        "RENAME INDEX kw TO kw2",
        "DROP KEY kw2",
        // With the client's own algorithm and lock clauses.
        "DROP INDEX ka, ALGORITHM=INPLACE, LOCK=NONE",
        "DROP INDEX kb, ALGORITHM=DEFAULT",
    ] {
        let info = alter(&mut c, &format!("ALTER TABLE t {body}")).await;
        // In place, or instant where the server can (a rename).
        let expected = if body.starts_with("DROP") {
            "complete (inplace)"
        } else {
            "complete (in"
        };
        assert!(info.contains(expected), "{body}: {info}");
        d.query_drop(format!("ALTER TABLE n {body}")).await.unwrap();
    }
    if common::is_mysql() {
        // The statement form (MariaDB's takes no ALGORITHM clause and is
        // relayed): in place too.
        for (key, stmt) in [
            ("kx", "DROP INDEX kx ON t"),
            ("ky", "DROP INDEX ky ON t ALGORITHM=INPLACE LOCK=NONE"),
        ] {
            for t in ["t", "n"] {
                d.query_drop(format!("CREATE INDEX {key} ON {t} (v, w)"))
                    .await
                    .unwrap();
            }
            let info = alter(&mut c, stmt).await;
            assert!(info.contains("complete (inplace)"), "{stmt}: {info}");
            d.query_drop(stmt.replace(" ON t", " ON n")).await.unwrap();
        }
    }
    assert_eq!(
        show_create(&ctx, "t").await.replacen("`t`", "`n`", 1),
        show_create(&ctx, "n").await
    );
    assert_eq!(
        tables(&mut d, "mig_dropidx").await,
        ["n", "t"],
        "no helper tables"
    );
    ctx.shutdown().await;
}

/// A 64-character non-ASCII name: the helpers' names are shortened and
/// must still sort after the table's (the cut-over's lock order), byte for
/// byte. With a '~' they sorted before, and writes made directly on the
/// server during the cut-over were lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_non_ascii_names_keep_the_helpers_after_the_table() {
    let ctx = setup("mig_longname").await;
    let table = "ü".repeat(64);
    let mut c = ctx.conn().await;
    c.query_drop(format!(
        "CREATE TABLE `{table}` (id INT PRIMARY KEY, v INT); INSERT INTO `{table}` VALUES (1, 1), (2, 2)"
    ))
    .await
    .unwrap();
    let info = alter(
        &mut c,
        &format!("ALTER TABLE `{table}` ADD INDEX (v), FORCE"),
    )
    .await;
    assert!(info.contains("complete (copy)"), "{info}");
    let mut d = ctx.direct().await;
    let names = tables(&mut d, "mig_longname").await;
    let old = names
        .iter()
        .find(|n| **n != table)
        .expect("the old table is kept");
    assert!(
        old.as_bytes() > table.as_bytes(),
        "{old} sorts after the table"
    );
    let rows: Vec<(i32, i32)> = d
        .query(format!("SELECT id, v FROM `{table}` ORDER BY id"))
        .await
        .unwrap();
    assert_eq!(rows, [(1, 1), (2, 2)]);
    ctx.shutdown().await;
}

/// An engine change is a copy: MariaDB accepts `ENGINE=…,
/// ALGORITHM=INSTANT` and silently runs its own blocking copy, so the
/// probe must not ask it for INSTANT. (MariaDB only: MySQL refuses INSTANT
/// for an engine change itself, which the fidelity corpus covers.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_change_is_an_online_copy() {
    if common::is_mysql() {
        return;
    }
    let ctx = setup("mig_engine").await;
    let mut c = ctx.conn().await;
    let mut d = ctx.direct().await;
    for t in ["t", "n"] {
        d.query_drop(format!(
            "CREATE TABLE {t} (id INT PRIMARY KEY, v INT) ENGINE=InnoDB; \
             INSERT INTO {t} VALUES (1, 1), (2, 2)"
        ))
        .await
        .unwrap();
    }
    let info = alter(&mut c, "ALTER TABLE t ENGINE=Aria").await;
    assert!(info.contains("complete (copy)"), "{info}");
    d.query_drop("ALTER TABLE n ENGINE=Aria").await.unwrap();
    assert_eq!(
        show_create(&ctx, "t").await.replacen("`t`", "`n`", 1),
        show_create(&ctx, "n").await
    );
    let rows: Vec<(i32, i32)> = d.query("SELECT id, v FROM t ORDER BY id").await.unwrap();
    assert_eq!(rows, [(1, 1), (2, 2)]);
    ctx.shutdown().await;
}
