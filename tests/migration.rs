//! Online ALTER through the proxy against a real MariaDB: the copy path
//! under concurrent writes (checked row by row against the load's own
//! model), the instant path, hints and modes, every refusal, and a value
//! round trip for every column type with changes applied from the binlog.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use common::{eventually, setup, setup_with, Ctx, LIMITED_USER};
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
    c.query_drop("INSERT INTO t VALUES (1, 0, 'x')")
        .await
        .unwrap();
    loop {
        let max: u64 = c
            .query_first("SELECT MAX(id) FROM t")
            .await
            .unwrap()
            .unwrap();
        if max >= INITIAL_ROWS {
            break;
        }
        c.query_drop(format!(
            "INSERT INTO t (id, k, c) SELECT id + {max}, 0, '' FROM t WHERE id <= {}",
            INITIAL_ROWS - max
        ))
        .await
        .unwrap();
    }
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
    for (id, _) in &missing {
        let old: Option<(i64, String)> = c
            .exec_first("SELECT k, c FROM t_del WHERE id = ?", (**id,))
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
    assert_eq!(tables(&mut c, "mig_copy").await, ["t", "t_del"]);

    let m = migration(&mut c, &id_in(&info)).await;
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
    // A prepared ALTER that would be intercepted is refused clearly.
    match c.prep("ALTER TABLE t ADD COLUMN p INT").await {
        Err(mysql_async::Error::Server(e)) => assert_eq!(e.code, 1295, "{}", e.message),
        other => panic!("prepared ALTER: {other:?}"),
    }
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
    let create_of = |t: &'static str| {
        let ctx = &ctx;
        async move {
            let mut d = ctx.direct().await;
            let r: (String, String) = d
                .query_first(format!("SHOW CREATE TABLE {t}"))
                .await
                .unwrap()
                .unwrap();
            r.1
        }
    };
    let nopk_before = create_of("nopk").await;
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
        ("ALTER TABLE ok ADD INDEX (v); SELECT 1", 1105, "alone"),
        (
            "ALTER TABLE ok ADD INDEX (nosuchcolumn)",
            1072,
            "nosuchcolumn",
        ),
        (
            "ALTER TABLE ok ADD INDEX (v), ENGINE=NoSuchEngine",
            1286,
            "NoSuchEngine",
        ),
        ("ALTER TABLE ok ADD INDEX (v) garbage", 1064, "syntax"),
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
    assert_eq!(create_of("nopk").await, nopk_before);

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
