//! Resuming migrations: ghostwire runs as a real child process and is
//! killed with SIGKILL during the copy, while a postponed migration waits,
//! and with the table's gate closed for the checksum and for the cut-over;
//! another instance (one already running, or the restarted one) adopts
//! the migration and completes it from its checkpoint. Each ends with the
//! table equal to the writers' model (every acknowledged write) and its
//! definition equal to the native ALTER's.

mod common;
#[path = "resume/split_brain.rs"]
mod split_brain;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::child::Child;
use common::*;
use mysql_async::prelude::*;
use mysql_async::Conn;

const ROWS: u64 = 100_000;
const BODY: &str = "ADD COLUMN extra INT NOT NULL DEFAULT 7, ADD INDEX (k)";
/// Quick adoption for the tests; the gate waits for the test's open
/// transaction as long as the test needs.
const CONFIG: &str =
    "[migrations]\nadopt_after_ms = 1000\nchunk_rows = 500\nchunk_target_ms = 20\n\
                      [cutover]\ndrain_timeout_ms = 120000\n";

type Model = Arc<Mutex<BTreeMap<u64, (i64, String)>>>;

/// One test at a time: every live instance adopts any abandoned migration,
/// so a test's kill must not be answered by another test's instance.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The test's tables: `t` with `ROWS` rows, and `n`, the same definition
/// altered natively (the reference for the definition).
async fn world(schema: &str) -> (Conn, Model) {
    let mut d = direct_conn_to("mysql").await;
    d.query_drop(format!(
        "DROP DATABASE IF EXISTS {schema}; CREATE DATABASE {schema}; USE {schema}; \
         CREATE TABLE t (id BIGINT NOT NULL PRIMARY KEY, k INT NOT NULL, c VARCHAR(100) NOT NULL); \
         CREATE TABLE n LIKE t; ALTER TABLE n {BODY}"
    ))
    .await
    .unwrap();
    fill_doubling(&mut d, ROWS).await;
    let model = (1..=ROWS).map(|i| (i, (0, format!("row-{i}")))).collect();
    (d, Arc::new(Mutex::new(model)))
}

/// Writes to `t` directly (as other application servers would) until
/// stopped: inserts, updates and deletes all over the key range, each
/// noted in the model once acknowledged.
/// The writer of a test, running until `finish`.
struct Writes {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<u64>,
}

impl Writes {
    fn start(schema: &str, model: &Model) -> Writes {
        let stop = Arc::new(AtomicBool::new(false));
        let task = writer(schema, model.clone(), stop.clone());
        Writes { stop, task }
    }

    /// Stops the writer: how many writes it made.
    async fn stop(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.unwrap()
    }

    /// Stops the writer and checks the table against its model.
    async fn finish(self, d: &mut Conn, schema: &str, model: &Model) {
        self.stop().await;
        assert_result(d, schema, model).await;
    }
}

fn writer(schema: &str, model: Model, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<u64> {
    let schema = schema.to_string();
    tokio::spawn(async move {
        let mut c = direct_conn_to(&schema).await;
        let mut seed: u64 = 0x9e3779b97f4a7c15;
        let mut n = 0;
        while !stop.load(Ordering::Relaxed) {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let id = (seed >> 33) % (ROWS + 2000) + 1;
            let k = ((seed >> 13) % 1000) as i64;
            let exists = model.lock().unwrap().contains_key(&id);
            if exists && seed.is_multiple_of(10) {
                c.exec_drop("DELETE FROM t WHERE id = ?", (id,))
                    .await
                    .unwrap();
                model.lock().unwrap().remove(&id);
            } else if exists {
                c.exec_drop(
                    "UPDATE t SET k = ?, c = CONCAT(c, '+') WHERE id = ?",
                    (k, id),
                )
                .await
                .unwrap();
                let mut m = model.lock().unwrap();
                let row = m.get_mut(&id).unwrap();
                row.0 = k;
                row.1.push('+');
            } else {
                let text = format!("new-{id}");
                c.exec_drop("INSERT INTO t (id, k, c) VALUES (?, ?, ?)", (id, k, &text))
                    .await
                    .unwrap();
                model.lock().unwrap().insert(id, (k, text));
            }
            n += 1;
        }
        n
    })
}

/// A value of the migration's record (as text).
async fn field(d: &mut Conn, id: &str, expr: &str) -> Option<String> {
    let v: Option<Option<String>> = d
        .exec_first(
            format!("SELECT CAST({expr} AS CHAR) FROM _ghostwire.migrations WHERE id = ?"),
            (id,),
        )
        .await
        .unwrap();
    v.flatten()
}

/// Waits (up to 3 minutes: a copy runs meanwhile) until `check` holds.
async fn until(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(180);
    while Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("condition never held: {what}");
}

/// Waits until a statement whose text is LIKE `pattern` waits for a
/// metadata lock (a lock the test holds).
async fn waits_for_metadata_lock(d: &mut Conn, pattern: &str) {
    until(
        &format!("{pattern} waits for a metadata lock"),
        async || {
            let n: Option<u64> = d
                .exec_first(
                    "SELECT COUNT(*) FROM information_schema.PROCESSLIST \
                 WHERE INFO LIKE ? AND STATE LIKE '%metadata lock%'",
                    (pattern,),
                )
                .await
                .unwrap();
            n.unwrap_or(0) > 0
        },
    )
    .await;
}

/// Rows the checkpoint says are copied.
/// Submits `ALTER TABLE t <BODY>` with the `hints` (e.g. `async`) and
/// slows its copy down to `ratio` (so that what a test does lands in it).
async fn submit_throttled(c: &mut Conn, hints: &str, ratio: f64) -> String {
    let (id, _): (String, String) = c
        .query_first(format!("ALTER TABLE t /* ghostwire: {hints} */ {BODY}"))
        .await
        .unwrap()
        .unwrap();
    c.query_drop(format!("ALTER MIGRATION '{id}' THROTTLE RATIO {ratio}"))
        .await
        .unwrap();
    id
}

async fn copied(d: &mut Conn, id: &str) -> u64 {
    field(d, id, "JSON_EXTRACT(checkpoint, '$.copy.rows')")
        .await
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0)
}

async fn await_field(d: &mut Conn, id: &str, expr: &str, want: &str) {
    until(&format!("{expr} = {want}"), async || {
        let status = field(d, id, "status").await.unwrap_or_default();
        if want != status && matches!(status.as_str(), "failed" | "cancelled") {
            let message = field(d, id, "message").await;
            panic!("migration {id} {status}: {message:?}");
        }
        field(d, id, expr).await.as_deref() == Some(want)
    })
    .await;
}

/// The table equals the model with the new column's default, and its
/// definition equals the native ALTER's.
async fn assert_result(d: &mut Conn, schema: &str, model: &Model) {
    let rows: Vec<(u64, i64, String, i64)> = d
        .query(format!(
            "SELECT id, k, c, extra FROM {schema}.t ORDER BY id"
        ))
        .await
        .unwrap();
    let want: Vec<(u64, i64, String, i64)> = model
        .lock()
        .unwrap()
        .iter()
        .map(|(id, (k, c))| (*id, *k, c.clone(), 7))
        .collect();
    assert_eq!(rows.len(), want.len(), "row count");
    if let Some(i) = rows.iter().zip(&want).position(|(a, b)| a != b) {
        panic!("first difference: table {:?}, model {:?}", rows[i], want[i]);
    }
    let create = |t: &str| format!("SHOW CREATE TABLE {schema}.{t}");
    let t: (String, String) = d.query_first(create("t")).await.unwrap().unwrap();
    let n: (String, String) = d.query_first(create("n")).await.unwrap().unwrap();
    assert_eq!(
        t.1.replacen("`t`", "`n`", 1),
        n.1,
        "definition equals native"
    );
    let leftovers: Vec<String> = d
        .exec(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? \
             AND TABLE_NAME LIKE 't\\_%' AND TABLE_NAME NOT LIKE 't\\_%\\_del'",
            (schema,),
        )
        .await
        .unwrap();
    assert!(leftovers.is_empty(), "helper tables left: {leftovers:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_copy_another_instance_completes_it_from_the_checkpoint() {
    let _one = SERIAL.lock().await;
    let schema = "rz_copy";
    let (mut d, model) = world(schema).await;
    let mut first = Child::start(CONFIG).await;
    let second = Child::start(CONFIG).await;
    let writes = Writes::start(schema, &model);
    let mut c = first.conn(schema).await;
    // Slowed down, so that the kill lands in the middle of the copy.
    let id = submit_throttled(&mut c, "async", 0.95).await;
    until("a fifth of the table is copied", async || {
        copied(&mut d, &id).await >= ROWS / 5
    })
    .await;
    // A new binlog file: the checkpoint follows the tail across it (the
    // copy held meanwhile, so that the kill still lands in the copy).
    c.query_drop(format!("ALTER MIGRATION '{id}' THROTTLE"))
        .await
        .unwrap();
    let file = "JSON_EXTRACT(checkpoint, '$.binlog[0]')";
    let before = field(&mut d, &id, file).await;
    d.query_drop("FLUSH BINARY LOGS").await.unwrap();
    until("the checkpoint is in the next binlog file", async || {
        field(&mut d, &id, file).await != before
    })
    .await;
    // Copying again (slowly) when killed.
    c.query_drop(format!("ALTER MIGRATION '{id}' THROTTLE RATIO 0.95"))
        .await
        .unwrap();
    let held = copied(&mut d, &id).await;
    until("the copy goes on", async || {
        copied(&mut d, &id).await > held
    })
    .await;
    drop(c);
    first.kill9();
    let at_kill = copied(&mut d, &id).await;
    assert_eq!(
        field(&mut d, &id, "JSON_EXTRACT(checkpoint, '$.copy_done')")
            .await
            .as_deref(),
        Some("false"),
        "killed before the copy ended"
    );
    assert_eq!(
        field(&mut d, &id, "stage").await.as_deref(),
        Some("copying")
    );

    await_field(&mut d, &id, "status", "complete").await;
    assert!(writes.stop().await > 0);
    // The second instance copied what the first had not: far fewer rows
    // than the table (the checkpoint's rows are not copied again).
    let copied_after = second.counter("ghostwire_migration_rows_copied_total") as u64;
    // Work done twice: rows the first instance had copied (beyond its last
    // checkpoint) that the second copied again.
    eprintln!(
        "checkpoint at the kill: {at_kill} rows; copied after the restart: {copied_after}; \
         table: {} rows",
        model.lock().unwrap().len()
    );
    assert!(copied_after > 0, "the second instance copied the rest");
    assert!(
        copied_after + at_kill <= ROWS + 2000 + 4 * 500 * 4,
        "copied again after the restart: {copied_after}, already copied: {at_kill}"
    );
    let message = field(&mut d, &id, "message").await.unwrap_or_default();
    assert!(message.contains("complete"), "{message}");
    assert_result(&mut d, schema, &model).await;
}

/// Kills ghostwire while `stage` holds (the migration postponed, then
/// completed with a transaction on the table open, so the gate stays
/// closed for the checksum and the cut-over), restarts it, and checks the
/// restarted instance completes the migration without copying again.
async fn kill_while_waiting(schema: &str, checksum: bool, complete: bool, stage: &str) {
    let _one = SERIAL.lock().await;
    let (mut d, model) = world(schema).await;
    let config = CONFIG.replace(
        "[migrations]\n",
        &format!("[migrations]\nchecksum = {checksum}\n"),
    );
    let mut first = Child::start(&config).await;
    let writes = Writes::start(schema, &model);
    let mut c = first.conn(schema).await;
    let (id, _): (String, String) = c
        .query_first(format!(
            "ALTER TABLE t /* ghostwire: async postpone */ {BODY}"
        ))
        .await
        .unwrap()
        .unwrap();
    await_field(&mut d, &id, "status", "ready").await;
    let mut tx = first.conn(schema).await;
    if complete {
        // A transaction that used the table holds the gate's drain.
        tx.query_drop("BEGIN").await.unwrap();
        tx.query_drop("SELECT COUNT(*) FROM t WHERE id < 10")
            .await
            .unwrap();
        c.query_drop(format!("ALTER MIGRATION '{id}' COMPLETE"))
            .await
            .unwrap();
    }
    await_field(&mut d, &id, "stage", stage).await;
    // The checkpoint has caught up with the copy (not necessarily with the
    // COMPLETE: an acknowledged COMPLETE holds without it).
    until("the checkpoint says the copy is done", async || {
        field(&mut d, &id, "JSON_EXTRACT(checkpoint, '$.copy_done')")
            .await
            .as_deref()
            == Some("true")
    })
    .await;
    drop((c, tx));
    first.kill9();
    let second = Child::start(&config).await;
    if !complete {
        // Adopted, and waiting again for COMPLETE.
        let adopted = "IF(message LIKE 'resumed%', status, '')";
        await_field(&mut d, &id, adopted, "ready").await;
        let mut c = second.conn(schema).await;
        c.query_drop(format!("ALTER MIGRATION '{id}' COMPLETE"))
            .await
            .unwrap();
    }
    await_field(&mut d, &id, "status", "complete").await;
    writes.stop().await;
    assert_eq!(
        second.counter("ghostwire_migration_rows_copied_total"),
        0.0,
        "nothing copied again"
    );
    assert_result(&mut d, schema, &model).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_while_a_postponed_migration_waits_the_restarted_instance_goes_on() {
    kill_while_waiting(
        "rz_ready",
        true,
        false,
        "waiting for ALTER MIGRATION COMPLETE",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_with_the_gate_closed_for_the_checksum_the_restarted_instance_completes() {
    kill_while_waiting("rz_checksum", true, true, "checksum").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_with_the_gate_closed_for_the_cut_over_the_restarted_instance_completes() {
    kill_while_waiting("rz_cutover", false, true, "cutting over").await;
}

/// A postponed migration of `schema`'s world, copied and waiting, sent
/// `command` (an `ALTER MIGRATION` verb) if any, whose ghostwire is then
/// killed: the direct connection, the model, its id.
/// The world, an instance, and a postponed migration of `t` ready and
/// waiting for COMPLETE.
async fn ready(schema: &str) -> (Conn, Model, Child, String) {
    let (mut d, model) = world(schema).await;
    let first = Child::start(CONFIG).await;
    let mut c = first.conn(schema).await;
    let (id, _): (String, String) = c
        .query_first(format!(
            "ALTER TABLE t /* ghostwire: async postpone */ {BODY}"
        ))
        .await
        .unwrap()
        .unwrap();
    await_field(&mut d, &id, "status", "ready").await;
    (d, model, first, id)
}

async fn ready_then_killed(schema: &str, command: Option<&str>) -> (Conn, Model, String) {
    let (d, model, mut first, id) = ready(schema).await;
    let mut c = first.conn(schema).await;
    if let Some(command) = command {
        c.query_drop(format!("ALTER MIGRATION '{id}' {command}"))
            .await
            .unwrap();
    }
    drop(c);
    first.kill9();
    (d, model, id)
}

/// Killed right after the cut-over's RENAME, before it could record the
/// end (the RENAME is done here by hand, as the killed process would have):
/// the adopter sees the tables as a finished cut-over leaves them and
/// records the migration complete, without guessing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_over_that_renamed_before_the_kill_is_recorded_complete() {
    let _one = SERIAL.lock().await;
    let schema = "rz_renamed";
    let (mut d, model, id) = ready_then_killed(schema, None).await;
    let old = format!("t_{}_del", &id[..8]);
    d.query_drop(format!(
        "RENAME TABLE {schema}.t TO {schema}.{old}, {schema}.t_gho TO {schema}.t"
    ))
    .await
    .unwrap();
    let _second = Child::start(CONFIG).await;
    await_field(&mut d, &id, "status", "complete").await;
    assert_eq!(
        field(&mut d, &id, "old_table").await.as_deref(),
        Some(old.as_str())
    );
    let message = field(&mut d, &id, "message").await.unwrap_or_default();
    assert!(message.contains("had renamed the tables"), "{message}");
    assert_result(&mut d, schema, &model).await;
    let kept: Option<String> = d
        .exec_first(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
            (schema, &old),
        )
        .await
        .unwrap();
    assert!(kept.is_some(), "the old table is kept");
}

/// The table was changed directly while no instance ran the migration:
/// the shadow no longer matches, so the adopter fails the migration and
/// drops only its own helper table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_changed_while_nobody_ran_the_migration_fails_it_cleanly() {
    let _one = SERIAL.lock().await;
    let schema = "rz_changed";
    let (mut d, _model, id) = ready_then_killed(schema, None).await;
    d.query_drop(format!("ALTER TABLE {schema}.t ADD COLUMN other INT"))
        .await
        .unwrap();
    let _second = Child::start(CONFIG).await;
    await_field(&mut d, &id, "status", "failed").await;
    let message = field(&mut d, &id, "message").await.unwrap_or_default();
    assert!(
        message.contains("was changed while no ghostwire"),
        "{message}"
    );
    until("the shadow is dropped", async || {
        let t: Vec<String> = d
            .exec(
                "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY 1",
                (schema,),
            )
            .await
            .unwrap();
        t == ["n", "t"]
    })
    .await;
}

/// A CANCEL acknowledged just before the kill holds: the migration ends
/// cancelled (not failed, not resumed), nothing of it left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_acknowledged_before_the_kill_holds() {
    let _one = SERIAL.lock().await;
    let schema = "rz_cancel";
    let (mut d, model, id) = ready_then_killed(schema, Some("CANCEL")).await;
    let _second = Child::start(CONFIG).await;
    await_field(&mut d, &id, "status", "cancelled").await;
    until("only the table and its twin are left", async || {
        let t: Vec<String> = d
            .exec(
                "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY 1",
                (schema,),
            )
            .await
            .unwrap();
        t == ["n", "t"]
    })
    .await;
    // The table is as it was: the model's rows, the old definition.
    let rows: u64 = d
        .query_first(format!("SELECT COUNT(*) FROM {schema}.t"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rows as usize, model.lock().unwrap().len());
}

/// A CANCEL or COMPLETE the client had no right to send is recorded for
/// the audit as denied, and must stay without effect when another instance
/// resumes the migration (it once took effect then: the adopter replayed
/// every command not marked refused). The owner's own COMPLETE still works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_command_has_no_effect_after_a_restart() {
    let _one = SERIAL.lock().await;
    let schema = "rz_denied";
    let (mut d, model, mut first, id) = ready(schema).await;
    let (user, pass) = common::LIMITED_USER;
    let mut outsider = Conn::new(common::opts("127.0.0.1", first.port, user, pass, schema))
        .await
        .unwrap();
    for command in ["CANCEL", "COMPLETE"] {
        outsider
            .query_drop(format!("ALTER MIGRATION '{id}' {command}"))
            .await
            .expect_err("a client without the ALTER right is refused");
    }
    drop(outsider);
    first.kill9();
    let second = Child::start(CONFIG).await;
    let adopted = "IF(message LIKE 'resumed%', status, '')";
    await_field(&mut d, &id, adopted, "ready").await;
    let mut c = second.conn(schema).await;
    assert_eq!(
        field(&mut d, &id, "status").await.as_deref(),
        Some("ready"),
        "still waiting for its owner's COMPLETE"
    );
    c.query_drop(format!("ALTER MIGRATION '{id}' COMPLETE"))
        .await
        .unwrap();
    await_field(&mut d, &id, "status", "complete").await;
    assert_result(&mut d, schema, &model).await;
}

/// Killed while the shadow's CREATE waits (a table lock held directly):
/// the CREATE may still run on the server after the process is gone, so
/// the record says the shadow may exist before the CREATE is sent. The
/// next instance drops whatever is there under the shadow's name as this
/// migration's and starts the copy over; nothing is left behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_while_creating_the_shadow_the_next_instance_starts_it_over() {
    let _one = SERIAL.lock().await;
    let schema = "rz_create";
    let (mut d, model) = world(schema).await;
    d.query_drop("CREATE TABLE u LIKE t").await.unwrap();
    d.query_drop("INSERT INTO u SELECT * FROM t").await.unwrap();
    // One migration at a time: the one on `t` waits for the one on `u`
    // before it creates its shadow (after the instant attempt on `t`,
    // which needs the table's lock).
    let config = CONFIG.replace("[migrations]\n", "[migrations]\nmax_running = 1\n");
    let mut first = Child::start(&config).await;
    let mut c = first.conn(schema).await;
    let submit = async |c: &mut Conn, sql: &str| -> String {
        let (id, _): (String, String) = c.query_first(sql).await.unwrap().unwrap();
        id
    };
    let before = submit(&mut c, "ALTER TABLE u /* ghostwire: async */ ADD INDEX (c)").await;
    c.query_drop(format!("ALTER MIGRATION '{before}' THROTTLE"))
        .await
        .unwrap();
    let id = submit(
        &mut c,
        &format!("ALTER TABLE t /* ghostwire: async */ {BODY}"),
    )
    .await;
    let mut lock = direct_conn_to(schema).await;
    lock.query_drop("LOCK TABLES t WRITE").await.unwrap();
    c.query_drop(format!("ALTER MIGRATION '{before}' CANCEL"))
        .await
        .unwrap();
    waits_for_metadata_lock(&mut d, &format!("CREATE TABLE `{schema}`.`t_gho`%")).await;
    first.kill9();
    lock.query_drop("UNLOCK TABLES").await.unwrap();
    let writes = Writes::start(schema, &model);
    let _second = Child::start(&config).await;
    await_field(&mut d, &id, "status", "complete").await;
    writes.finish(&mut d, schema, &model).await;
}

/// SIGTERM while the applier replays a steady stream of writes, during
/// the copy and once copied (a postponed migration waiting): the shutdown
/// hands the migration over, it is never recorded failed (the cancelled
/// replay once was: "applying binlog changes failed: cancelled"), and the
/// next instance goes on from the checkpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_while_the_replay_runs_hands_the_migration_over() {
    let _one = SERIAL.lock().await;
    let schema = "rz_term";
    let (mut d, model) = world(schema).await;
    let writes = Writes::start(schema, &model);
    let mut first = Child::start(CONFIG).await;
    let mut c = first.conn(schema).await;
    let id = submit_throttled(&mut c, "async postpone", 0.5).await;
    drop(c);
    let adopted = "IF(message LIKE 'resumed%', status, '')";
    for wait_for in ["copying", "ready"] {
        if wait_for == "ready" {
            // The last instance finishes the copy.
            first
                .conn(schema)
                .await
                .query_drop(format!("ALTER MIGRATION '{id}' UNTHROTTLE"))
                .await
                .unwrap();
            await_field(&mut d, &id, "status", "ready").await;
        } else {
            until("the copy is under way", async || {
                copied(&mut d, &id).await > 0
            })
            .await;
        }
        let status = field(&mut d, &id, "status").await.unwrap();
        first.terminate().await;
        assert_eq!(
            field(&mut d, &id, "CONCAT(status, ' / ', stage)").await,
            Some(format!("{status} / stopped with its instance"))
        );
        first = Child::start(CONFIG).await;
        await_field(&mut d, &id, adopted, &status).await;
    }
    first
        .conn(schema)
        .await
        .query_drop(format!("ALTER MIGRATION '{id}' COMPLETE"))
        .await
        .unwrap();
    await_field(&mut d, &id, "status", "complete").await;
    writes.finish(&mut d, schema, &model).await;
}

/// What an operator's tools do to the engine's connections (pt-kill's
/// `KILL QUERY` of a copy chunk, `KILL` of the binlog reader) does not fail
/// the migration: the run stops and its instance resumes it from the
/// checkpoint, and it completes with every write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_engine_statements_and_connections_do_not_fail_the_migration() {
    let _one = SERIAL.lock().await;
    let schema = "rz_ptkill";
    let (mut d, model) = world(schema).await;
    let first = Child::start(CONFIG).await;
    let writes = Writes::start(schema, &model);
    let mut c = first.conn(schema).await;
    let id = submit_throttled(&mut c, "async", 0.5).await;
    let owner = field(&mut d, &id, "owner").await.unwrap();
    // The engine's statements and connections, found by their marks.
    let find = async |d: &mut Conn, what: &str| -> Option<u64> {
        d.exec_first(
            "SELECT ID FROM information_schema.PROCESSLIST \
             WHERE IS_USED_LOCK(CONCAT('gw.', ?, '.', ID)) = ID AND (INFO LIKE ? OR COMMAND LIKE ?)",
            (&owner, what, what),
        )
        .await
        .unwrap()
    };
    for (what, kill) in [
        ("INSERT INTO `rz\\_ptkill`.`t\\_gho`%", "KILL QUERY"),
        ("Binlog Dump%", "KILL"),
    ] {
        let mut target = None;
        until(&format!("an engine connection: {what}"), async || {
            target = find(&mut d, what).await;
            target.is_some()
        })
        .await;
        // Gone meanwhile is fine: the loop below waits for the next one.
        let _ = d.query_drop(format!("{kill} {}", target.unwrap())).await;
        // A new run on new connections: the one killed is not it.
        let killed = target;
        until("the migration goes on, resumed", async || {
            let now = find(&mut d, what).await;
            now.is_some() && now != killed
        })
        .await;
    }
    c.query_drop(format!("ALTER MIGRATION '{id}' UNTHROTTLE"))
        .await
        .unwrap_or_default();
    await_field(&mut d, &id, "status", "complete").await;
    writes.finish(&mut d, schema, &model).await;
}

/// While a migration's instance is gone and nobody has taken it over yet,
/// a new ALTER of the table is refused, saying so: it would build its
/// shadow under the same name, and the stalled one, once resumed, would
/// write into it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_alter_waits_for_a_stalled_migration_of_the_table() {
    let _one = SERIAL.lock().await;
    let schema = "rz_stalled";
    let (mut d, model, id) = ready_then_killed(schema, None).await;
    // Takes it over only after 5 s: the ALTER below comes first.
    let config = CONFIG.replace("adopt_after_ms = 1000", "adopt_after_ms = 5000");
    let second = Child::start(&config).await;
    let mut c = second.conn(schema).await;
    let refused = c
        .query_drop("ALTER TABLE t ADD INDEX (c)")
        .await
        .unwrap_err();
    assert!(
        refused
            .to_string()
            .contains(&format!("migration {id} on {schema}.t is unfinished")),
        "{refused}"
    );
    let adopted = "IF(message LIKE 'resumed%', status, '')";
    await_field(&mut d, &id, adopted, "ready").await;
    c.query_drop(format!("ALTER MIGRATION '{id}' COMPLETE"))
        .await
        .unwrap();
    await_field(&mut d, &id, "status", "complete").await;
    assert_result(&mut d, schema, &model).await;
}
