//! Operating migrations through the proxy (issue 9): the old table's
//! lifecycle (a second ALTER of the same table starts at once; retention;
//! the background drop; CLEANUP), ALTER MIGRATION PAUSE / RESUME / THROTTLE
//! / UNTHROTTLE / CANCEL (one id and ALL) under concurrent writes, and
//! SHOW MIGRATIONS filters. Every test ends by comparing the table with the
//! native outcome or the writers' own model.

mod common;

#[path = "operate/commands.rs"]
mod commands;
#[path = "operate/names.rs"]
mod names;
#[path = "operate/old_tables.rs"]
mod old_tables;
#[path = "operate/stages.rs"]
mod stages;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use mysql_async::prelude::*;
use mysql_async::{Conn, Row};

const ROWS: u64 = 1 << 14;

/// `t (id, k, c)` with ROWS rows, made through `c`.
async fn filled(c: &mut Conn, name: &str) {
    c.query_drop(format!(
        "CREATE TABLE {name} (id BIGINT NOT NULL PRIMARY KEY, k INT NOT NULL, c VARCHAR(100) NOT NULL)"
    ))
    .await
    .unwrap();
    if name == "t" {
        fill_doubling(c, ROWS).await;
    } else {
        c.query_drop(format!("INSERT INTO {name} SELECT * FROM t"))
            .await
            .unwrap();
    }
}

async fn shown(ctx: &Ctx, id: &str) -> BTreeMap<String, String> {
    show_migration(ctx, id).await
}

fn as_map(row: Row) -> BTreeMap<String, String> {
    row_map(row)
        .into_iter()
        .map(|(k, v)| (k, v.unwrap_or_else(|| "NULL".into())))
        .collect()
}

async fn tables(ctx: &Ctx) -> Vec<String> {
    let mut d = ctx.direct().await;
    let t = d
        .exec(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY 1",
            (&ctx.schema,),
        )
        .await
        .unwrap();
    d.disconnect().await.ok();
    t
}

async fn show_create(c: &mut Conn, table: &str) -> String {
    let r: (String, String) = c
        .query_first(format!("SHOW CREATE TABLE {table}"))
        .await
        .unwrap()
        .unwrap();
    r.1.replacen(&format!("`{table}`"), "`T`", 1)
}

async fn contents(c: &mut Conn, table: &str) -> Vec<(u64, i64, String)> {
    c.query(format!("SELECT id, k, c FROM {table} ORDER BY id"))
        .await
        .unwrap()
}

fn id_in(info: &str) -> String {
    info.split_whitespace()
        .skip_while(|w| *w != "migration")
        .nth(1)
        .expect("info names the migration")
        .to_string()
}

/// Runs `sql`; its OK's info text or its ERR (code, message).
async fn run(c: &mut Conn, sql: &str) -> Result<String, (u16, String)> {
    match c.query_drop(sql).await {
        Ok(()) => Ok(c.info().into_owned()),
        Err(mysql_async::Error::Server(e)) => Err((e.code, e.message)),
        Err(e) => Err((0, e.to_string())),
    }
}

/// A writer through the proxy: updates, deletes and inserts, with its own
/// model of every row it touched (id → Some((k, c)) or None).
struct Load {
    stop: Arc<AtomicBool>,
    ops: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<BTreeMap<u64, Option<(i64, String)>>>,
}

impl Load {
    fn start(mut conn: Conn) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let ops = Arc::new(AtomicU64::new(0));
        let (s, o) = (stop.clone(), ops.clone());
        let task = tokio::spawn(async move {
            let mut model = BTreeMap::new();
            let mut n: u64 = 0;
            while !s.load(Ordering::Relaxed) {
                n += 1;
                let id = (n * 7919) % ROWS + 1;
                match n % 3 {
                    0 => {
                        conn.exec_drop("DELETE FROM t WHERE id = ?", (id,))
                            .await
                            .unwrap();
                        model.insert(id, None);
                    }
                    1 => {
                        let c = format!("ins-{n}");
                        conn.exec_drop(
                            "INSERT INTO t (id, k, c) VALUES (?, ?, ?)",
                            (ROWS + n, n as i64, &c),
                        )
                        .await
                        .unwrap();
                        model.insert(ROWS + n, Some((n as i64, c)));
                    }
                    _ => {
                        let c = format!("upd-{n}");
                        conn.exec_drop(
                            "UPDATE t SET k = ?, c = ? WHERE id = ?",
                            (n as i64, &c, id),
                        )
                        .await
                        .unwrap();
                        if conn.affected_rows() == 1 {
                            model.insert(id, Some((n as i64, c)));
                        }
                    }
                }
                o.fetch_add(1, Ordering::Relaxed);
            }
            conn.disconnect().await.ok();
            model
        });
        Load { stop, ops, task }
    }

    async fn running(&self) {
        let start = self.ops.load(Ordering::Relaxed);
        eventually("the writer is writing", || async {
            self.ops.load(Ordering::Relaxed) > start + 50
        })
        .await;
    }

    /// Stops the writer; checks `t` holds the initial rows with its changes.
    async fn stop_and_check(self, c: &mut Conn) {
        self.running().await;
        self.stop.store(true, Ordering::Relaxed);
        let model = self.task.await.unwrap();
        let mut expected: BTreeMap<u64, (i64, String)> = (1..=ROWS)
            .map(|id| (id, (0, format!("row-{id}"))))
            .collect();
        for (id, v) in model {
            match v {
                Some(v) => expected.insert(id, v),
                None => expected.remove(&id),
            };
        }
        let actual: BTreeMap<u64, (i64, String)> = contents(c, "t")
            .await
            .into_iter()
            .map(|(id, k, v)| (id, (k, v)))
            .collect();
        let wrong: Vec<_> = expected
            .iter()
            .filter(|(id, v)| actual.get(id) != Some(v))
            .take(5)
            .collect();
        assert!(
            wrong.is_empty() && actual.len() == expected.len(),
            "rows differ from the writer's model: {wrong:?} ({} rows, {} expected)",
            actual.len(),
            expected.len()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_alter_of_the_same_table_starts_at_once() {
    let ctx = setup("op_twice").await;
    let mut c = ctx.conn().await;
    filled(&mut c, "t").await;
    let mut d = ctx.direct().await;
    filled(&mut d, "n").await;
    // The sequence an ORM runs: two ALTERs of one table, back to back.
    let mut ids = Vec::new();
    for body in ["ADD INDEX (k)", "MODIFY c VARCHAR(200) NOT NULL, FORCE"] {
        let info = run(&mut c, &format!("ALTER TABLE t {body}"))
            .await
            .unwrap_or_else(|e| panic!("ALTER TABLE t {body}: {e:?}"));
        assert!(info.contains("complete (copy)"), "{info}");
        ids.push(id_in(&info));
        d.query_drop(format!("ALTER TABLE n {body}")).await.unwrap();
    }
    assert_eq!(
        show_create(&mut d, "t").await,
        show_create(&mut d, "n").await
    );
    assert_eq!(contents(&mut d, "t").await, contents(&mut d, "n").await);
    // Each migration kept its own old table, named in SHOW MIGRATION.
    let mut expected = vec!["n".to_string(), "t".to_string()];
    for id in &ids {
        let m = shown(&ctx, id).await;
        assert!(m["old_table"].starts_with("t_") && m["old_table"].ends_with("_del"));
        assert_ne!(m["old_table_drop_at"], "NULL");
        expected.push(m["old_table"].clone());
    }
    expected.sort();
    assert_eq!(tables(&ctx).await, expected);
    ctx.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_tables_are_dropped_after_their_retention() {
    // Retention 0: dropped right after the cut-over.
    let ctx = setup_with("op_retain0", |c| {
        c.migrations.retain_old_table = ghostwire::config::Retention(0)
    })
    .await;
    let mut c = ctx.conn().await;
    filled(&mut c, "t").await;
    let info = run(&mut c, "ALTER TABLE t ADD INDEX (k)").await.unwrap();
    assert!(info.contains("dropped now"), "{info}");
    let id = id_in(&info);
    eventually("the old table is dropped", || async {
        tables(&ctx).await == ["t"]
    })
    .await;
    eventually("SHOW MIGRATION shows it gone", || async {
        shown(&ctx, &id).await["old_table"] == "NULL"
    })
    .await;
    assert!(ctx
        .metrics()
        .contains("ghostwire_old_tables_dropped_total "));
    ctx.shutdown().await;

    // Retention of a few seconds: kept, then dropped in the background.
    let ctx = setup_with("op_retain", |c| {
        c.migrations.retain_old_table = ghostwire::config::Retention(4)
    })
    .await;
    let mut c = ctx.conn().await;
    filled(&mut c, "t").await;
    let info = run(&mut c, "ALTER TABLE t ADD INDEX (k)").await.unwrap();
    let old = shown(&ctx, &id_in(&info)).await["old_table"].clone();
    assert_eq!(tables(&ctx).await, vec!["t".to_string(), old.clone()]);
    eventually("the old table is dropped in the background", || async {
        tables(&ctx).await == ["t"] && shown(&ctx, &id_in(&info)).await["old_table"] == "NULL"
    })
    .await;
    // A table put at an old table's name since is not ghostwire's: CLEANUP
    // leaves it alone.
    let info = run(&mut c, "ALTER TABLE t ADD INDEX (c)").await.unwrap();
    let id2 = id_in(&info);
    let old2 = shown(&ctx, &id2).await["old_table"].clone();
    let mut d = ctx.direct().await;
    d.query_drop(format!(
        "RENAME TABLE {old2} TO kept_aside; CREATE TABLE {old2} (mine INT PRIMARY KEY); INSERT INTO {old2} VALUES (7)"
    ))
    .await
    .unwrap();
    let left = run(&mut c, &format!("ALTER MIGRATION '{id2}' CLEANUP"))
        .await
        .unwrap();
    assert!(left.contains("left alone"), "{left}");
    let mine: Option<i64> = d
        .query_first(format!("SELECT mine FROM {old2}"))
        .await
        .unwrap();
    assert_eq!(mine, Some(7), "the impostor table is untouched");
    // A CLEANUP now has nothing to drop.
    let (code, msg) = run(
        &mut c,
        &format!("ALTER MIGRATION '{}' CLEANUP", id_in(&info)),
    )
    .await
    .unwrap_err();
    assert_eq!(code, 1105, "{msg}");
    assert!(
        msg.contains("complete and its old table is still there"),
        "{msg}"
    );
    ctx.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_throttle_and_resume_under_writes() {
    let ctx = setup_with("op_pause", |c| {
        c.migrations.chunk_rows = 200;
        c.migrations.chunk_target_ms = 5;
    })
    .await;
    let mut c = ctx.conn().await;
    filled(&mut c, "t").await;
    let load = Load::start(ctx.conn().await);
    load.running().await;
    let (id, _): (String, String) = c
        .query_first(
            "ALTER TABLE t /* ghostwire: async */ ADD COLUMN extra INT NOT NULL DEFAULT 7, FORCE",
        )
        .await
        .unwrap()
        .unwrap();
    let info = run(&mut c, &format!("ALTER MIGRATION '{id}' PAUSE"))
        .await
        .unwrap();
    assert!(info.contains("paused"), "{info}");
    eventually("SHOW MIGRATION shows it paused", || async {
        let m = shown(&ctx, &id).await;
        m["paused"] == "1" && m["stage"] == "copying"
    })
    .await;
    // Paused: the copy stands still (a chunk in flight may finish and be
    // reported within the reporter's second).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let before = shown(&ctx, &id).await["rows_copied"].clone();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let m = shown(&ctx, &id).await;
    assert_eq!(m["rows_copied"], before, "no rows copied while paused");
    let copied: u64 = before.parse().unwrap();
    assert!(
        copied < ROWS / 2,
        "paused at once, yet {copied} rows copied"
    );
    assert_eq!(m["status"], "running");
    assert!(m["last_command"].starts_with("PAUSE by "), "{m:?}");

    // Throttled fully, then resumed: still held by the throttle.
    run(&mut c, &format!("ALTER MIGRATION '{id}' THROTTLE"))
        .await
        .unwrap();
    run(&mut c, &format!("ALTER MIGRATION '{id}' RESUME"))
        .await
        .unwrap();
    let m = shown(&ctx, &id).await;
    assert_eq!((m["paused"].as_str(), m["throttled"].as_str()), ("0", "1"));
    assert!(m["throttle_reason"].contains("THROTTLE"), "{m:?}");
    // Unthrottled: it completes, with every write kept.
    run(&mut c, &format!("ALTER MIGRATION '{id}' UNTHROTTLE"))
        .await
        .unwrap();
    await_status(&ctx, &id, "complete").await;
    let m = shown(&ctx, &id).await;
    assert_eq!((m["paused"].as_str(), m["throttled"].as_str()), ("0", "0"));
    let mut d = ctx.direct().await;
    let commands: Vec<String> = d
        .exec(
            "SELECT command FROM _ghostwire.commands WHERE migration_id = ? ORDER BY seq",
            (&id,),
        )
        .await
        .unwrap();
    assert_eq!(commands, ["PAUSE", "THROTTLE", "RESUME", "UNTHROTTLE"]);
    load.stop_and_check(&mut d).await;
    let extra: Option<u64> = d
        .query_first("SELECT COUNT(*) FROM t WHERE extra <> 7")
        .await
        .unwrap();
    assert_eq!(extra, Some(0));
    // (one recorder for the whole test binary: counted, not how often)
    let metrics = ctx.metrics();
    assert!(
        metrics.contains("ghostwire_migration_commands_total{action=\"pause\",result=\"ok\"}"),
        "{metrics}"
    );
    ctx.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_answers_the_waiting_client_and_leaves_the_table() {
    let ctx = setup("op_cancel").await;
    let mut c = ctx.conn().await;
    filled(&mut c, "t").await;
    let mut d = ctx.direct().await;
    let create_before = show_create(&mut d, "t").await;
    let load = Load::start(ctx.conn().await);
    load.running().await;
    // A synchronous ALTER; paused as soon as it is seen, then cancelled.
    let waiting = tokio::spawn({
        let opts = ctx.proxy_opts();
        async move {
            let mut w = Conn::new(opts).await.unwrap();
            run(&mut w, "ALTER TABLE t ADD COLUMN extra INT, ADD INDEX (k)").await
        }
    });
    let find = "SELECT id FROM _ghostwire.migrations WHERE table_schema = 'op_cancel' \
                AND status IN ('queued', 'running')";
    eventually("the migration is submitted", || async {
        let mut d = ctx.direct().await;
        let found: Option<String> = d.query_first(find).await.ok().flatten();
        found.is_some()
    })
    .await;
    let id: String = d.query_first(find).await.unwrap().unwrap();
    run(&mut c, &format!("ALTER MIGRATION '{id}' PAUSE"))
        .await
        .unwrap();
    let info = run(&mut c, &format!("ALTER MIGRATION '{id}' CANCEL"))
        .await
        .unwrap();
    assert!(info.contains("cancelled"), "{info}");
    let (code, msg) = waiting.await.unwrap().unwrap_err();
    assert_eq!(code, 1317, "{msg}");
    assert!(
        msg.contains("cancelled by") && msg.contains("unchanged"),
        "{msg}"
    );
    await_status(&ctx, &id, "cancelled").await;
    assert_eq!(tables(&ctx).await, ["t"], "helper tables dropped");
    assert_eq!(show_create(&mut d, "t").await, create_before);
    let (code, msg) = run(&mut c, &format!("ALTER MIGRATION '{id}' CANCEL"))
        .await
        .unwrap_err();
    assert_eq!(code, 1105);
    assert!(msg.contains("is cancelled"), "{msg}");
    load.stop_and_check(&mut d).await;

    // A postponed migration waiting for COMPLETE is cancelled the same way.
    let id = submit_postponed(&ctx, &mut c, "t", "ADD INDEX (c)").await;
    run(&mut c, &format!("ALTER MIGRATION '{id}' CANCEL"))
        .await
        .unwrap();
    await_status(&ctx, &id, "cancelled").await;
    assert_eq!(tables(&ctx).await, ["t"]);
    assert_eq!(show_create(&mut d, "t").await, create_before);

    // RETRY runs its statement again, from the start, as if sent now (the
    // hints in its text included: postponed again, then completed).
    // (from another current database: the table is still the one meant)
    let mut elsewhere = Conn::new(ctx.proxy_opts().db_name(Some("mysql")))
        .await
        .unwrap();
    let (new_id, _): (String, String) = elsewhere
        .query_first(format!("ALTER MIGRATION '{id}' RETRY"))
        .await
        .unwrap()
        .unwrap();
    assert_ne!(new_id, id);
    await_status(&ctx, &new_id, "ready").await;
    run(&mut c, &format!("ALTER MIGRATION '{new_id}' COMPLETE"))
        .await
        .unwrap();
    await_status(&ctx, &new_id, "complete").await;
    let mut n = ctx.direct().await;
    n.query_drop(
        "CREATE TABLE n2 (id BIGINT NOT NULL PRIMARY KEY, k INT NOT NULL, c VARCHAR(100) NOT NULL); \
         ALTER TABLE n2 ADD INDEX (c)",
    )
    .await
    .unwrap();
    assert_eq!(
        show_create(&mut d, "t").await,
        show_create(&mut n, "n2").await
    );
    assert!(shown(&ctx, &id).await["last_command"].starts_with("RETRY by "));
    // Only a failed or cancelled migration is retried.
    let (code, msg) = run(&mut c, &format!("ALTER MIGRATION '{new_id}' RETRY"))
        .await
        .unwrap_err();
    assert_eq!(code, 1105);
    assert!(msg.contains("is complete"), "{msg}");
    ctx.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_and_show_migrations_filters() {
    let ctx = setup("op_all").await;
    let mut c = ctx.conn().await;
    filled(&mut c, "t").await;
    filled(&mut c, "u_op_all").await;
    let a = submit_postponed(&ctx, &mut c, "t", "ADD INDEX (k)").await;
    let b = submit_postponed(&ctx, &mut c, "u_op_all", "ADD INDEX (k)").await;
    let info = run(&mut c, "ALTER MIGRATION ALL PAUSE").await.unwrap();
    assert!(info.contains("2 migration(s)"), "{info}");
    for id in [&a, &b] {
        assert_eq!(shown(&ctx, id).await["paused"], "1");
    }
    // Filters: evaluated by the server on the proxy's state table.
    let ids = |rows: Vec<Row>| -> Vec<String> {
        rows.into_iter().map(|r| as_map(r)["id"].clone()).collect()
    };
    let listed = |sql: &'static str| {
        let opts = ctx.proxy_opts();
        async move {
            let mut c = Conn::new(opts).await.unwrap();
            let r: Vec<Row> = c.query(sql).await.unwrap();
            r
        }
    };
    assert_eq!(
        ids(listed("SHOW MIGRATIONS LIKE 'u\\_op\\_a%'").await),
        std::slice::from_ref(&b)
    );
    assert_eq!(
        ids(listed("SHOW MIGRATIONS WHERE status = 'ready' AND table_schema = 'op_all' AND table_name = 't'").await),
        std::slice::from_ref(&a)
    );
    assert_eq!(listed("SHOW MIGRATIONS LIMIT 1").await.len(), 1);
    assert_eq!(
        listed("SHOW MIGRATIONS WHERE paused = '1' AND table_schema = 'op_all'")
            .await
            .len(),
        2
    );
    let (code, msg) = run(&mut c, "SHOW MIGRATIONS WHERE nosuch = 'x'")
        .await
        .unwrap_err();
    assert_eq!(code, 1054, "{msg}");
    let (code, _) = run(&mut c, "SHOW MIGRATIONS WHERE 1 = 1")
        .await
        .unwrap_err();
    assert_eq!(code, 1064);

    run(&mut c, "ALTER MIGRATION ALL RESUME").await.unwrap();
    let info = run(&mut c, "ALTER MIGRATION ALL CANCEL").await.unwrap();
    assert!(info.contains("2 migration(s)"), "{info}");
    await_status(&ctx, &a, "cancelled").await;
    await_status(&ctx, &b, "cancelled").await;
    assert_eq!(tables(&ctx).await, ["t", "u_op_all"]);
    let mut d = ctx.direct().await;
    let mut n = ctx.direct().await;
    n.query_drop("CREATE TABLE ref LIKE t").await.unwrap();
    assert_eq!(
        show_create(&mut d, "t").await,
        show_create(&mut n, "ref").await
    );
    ctx.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_reach_the_instance_that_runs_the_migration() {
    let ctx = setup("op_two").await;
    let other = setup_existing("op_two", |_| {}).await;
    let mut c = ctx.conn().await;
    filled(&mut c, "t").await;
    let id = submit_postponed(&ctx, &mut c, "t", "ADD INDEX (k)").await;
    // Sent through the other instance: applied by the one running it, and
    // its answer relayed.
    let mut o = other.conn().await;
    let info = run(&mut o, &format!("ALTER MIGRATION '{id}' PAUSE"))
        .await
        .unwrap();
    assert!(info.contains("paused"), "{info}");
    assert_eq!(shown(&ctx, &id).await["paused"], "1");
    let (code, msg) = run(&mut o, &format!("ALTER MIGRATION '{id}' CLEANUP"))
        .await
        .unwrap_err();
    assert_eq!(code, 1105);
    assert!(msg.contains("is ready"), "{msg}");
    run(&mut o, &format!("ALTER MIGRATION '{id}' RESUME"))
        .await
        .unwrap();
    run(&mut o, &format!("ALTER MIGRATION '{id}' COMPLETE"))
        .await
        .unwrap();
    await_status(&ctx, &id, "complete").await;
    let mut d = ctx.direct().await;
    filled(&mut d, "n").await;
    d.query_drop("ALTER TABLE n ADD INDEX (k)").await.unwrap();
    assert_eq!(
        show_create(&mut d, "t").await,
        show_create(&mut d, "n").await
    );
    let commands: Vec<String> = d
        .exec(
            "SELECT command FROM _ghostwire.commands WHERE migration_id = ? ORDER BY seq",
            (&id,),
        )
        .await
        .unwrap();
    assert_eq!(commands, ["PAUSE", "CLEANUP", "RESUME", "COMPLETE"]);
    other.shutdown().await;
    ctx.shutdown().await;
}

/// Columns the ALTER converts are checksummed against the original's
/// values converted again, read in the checksum's snapshot: under
/// concurrent writes the comparison holds (an `INSERT … SELECT` there read
/// the latest rows and failed good migrations).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn converted_columns_checksum_under_writes() {
    let ctx = setup_with("op_convert", |c| {
        c.migrations.chunk_rows = 500;
    })
    .await;
    let mut c = ctx.conn().await;
    filled(&mut c, "t").await;
    let load = Load::start(ctx.conn().await);
    load.running().await;
    for body in [
        "MODIFY c VARCHAR(150) NOT NULL, FORCE",
        "MODIFY k BIGINT NOT NULL, MODIFY c VARCHAR(200) NOT NULL, FORCE",
    ] {
        let info = run(&mut c, &format!("ALTER TABLE t {body}"))
            .await
            .unwrap_or_else(|e| panic!("{body}: {e:?}"));
        assert!(info.contains("complete (copy)"), "{info}");
    }
    let mut d = ctx.direct().await;
    load.stop_and_check(&mut d).await;
    filled(&mut d, "n").await;
    d.query_drop("ALTER TABLE n MODIFY c VARCHAR(150) NOT NULL; ALTER TABLE n MODIFY k BIGINT NOT NULL, MODIFY c VARCHAR(200) NOT NULL")
        .await
        .unwrap();
    assert_eq!(
        show_create(&mut d, "t").await,
        show_create(&mut d, "n").await
    );
    ctx.shutdown().await;
}

/// A KILL of the server connection of a client waiting for its ALTER stops
/// the migration, as it stops a native ALTER; the table stays as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_waiting_clients_connection_cancels_its_migration() {
    let ctx = setup("op_kill").await;
    let mut c = ctx.conn().await;
    filled(&mut c, "t").await;
    let mut d = ctx.direct().await;
    let before = show_create(&mut d, "t").await;
    let mut w = ctx.conn().await;
    let backend_id: Option<u64> = w.query_first("SELECT CONNECTION_ID()").await.unwrap();
    let waiting = tokio::spawn(async move {
        run(
            &mut w,
            "ALTER TABLE t /* ghostwire: postpone */ ADD INDEX (k)",
        )
        .await
    });
    let find =
        "SELECT id FROM _ghostwire.migrations WHERE table_schema = 'op_kill' AND status = 'ready'";
    eventually("the migration waits for COMPLETE", || async {
        let mut d = ctx.direct().await;
        d.query_first::<String, _>(find)
            .await
            .ok()
            .flatten()
            .is_some()
    })
    .await;
    let id: String = d.query_first(find).await.unwrap().unwrap();
    d.query_drop(format!("KILL {}", backend_id.unwrap()))
        .await
        .unwrap();
    assert!(
        waiting.await.unwrap().is_err(),
        "the waiting client's ALTER ends with an error"
    );
    await_status(&ctx, &id, "cancelled").await;
    assert_eq!(tables(&ctx).await, ["t"]);
    assert_eq!(show_create(&mut d, "t").await, before);
    ctx.shutdown().await;
}
