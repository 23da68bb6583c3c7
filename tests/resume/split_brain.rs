//! Split brain: an owner frozen or cut off while another instance adopts
//! its migration must never write into it again (see `fence` in the
//! engine), and the migration completes once, with every write.

use super::*;

/// Split brain: an instance that was frozen (SIGSTOP, a paused VM) between
/// two copy chunks while another adopted and completed its migration wakes
/// up and must not touch that migration again: its next chunk finds the
/// record taken (the fence) and inserts nothing; the record stays
/// complete, the table equals the model and the native definition, and the
/// next ALTER of the table (on the adopter) is not disturbed by the old run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_owner_that_wakes_after_its_migration_was_adopted_touches_nothing() {
    frozen_owner("rz_frozen", Freeze::BetweenChunks).await;
}

/// The same, frozen in the middle of its copy chunks (transactions open on
/// the server, holding the record): the adopter closes the frozen
/// instance's connections instead of waiting for them forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_owner_with_chunks_in_flight_is_cut_off_and_its_migration_adopted() {
    frozen_owner("rz_frozen_busy", Freeze::ChunksInFlight).await;
}

/// The same, frozen in its cut-over (its `LOCK TABLES` waiting for a
/// transaction on the table): woken after the adopter's cut-over, it must
/// not lock, replay into or rename anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_owner_caught_in_its_cut_over_renames_nothing_after_the_adoption() {
    frozen_owner("rz_frozen_cut", Freeze::InCutOver).await;
}

/// The same, but the frozen process's connections all stay open on the
/// server, its instance lock too (a paused VM, a partition the server does
/// not notice): it stops noting that it is alive, so the other instance
/// closes its connections, the lock with them, and adopts the migration.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_owner_that_still_holds_its_lock_is_cut_off_and_its_migration_adopted() {
    frozen_owner("rz_frozen_locked", Freeze::HoldingItsLock).await;
}

/// Where the owner is frozen.
#[derive(PartialEq)]
enum Freeze {
    BetweenChunks,
    /// Between chunks, its lock's connection left alone.
    HoldingItsLock,
    ChunksInFlight,
    InCutOver,
}

/// Open transactions of `instance`'s engine connections (found by the
/// marks they carry, `gw.<instance>.<connection id>`).
async fn open_transactions_of(d: &mut Conn, instance: &str) -> u64 {
    d.exec_first(
        "SELECT COUNT(*) FROM information_schema.INNODB_TRX \
         WHERE IS_USED_LOCK(CONCAT('gw.', ?, '.', trx_mysql_thread_id)) = trx_mysql_thread_id",
        (instance,),
    )
    .await
    .unwrap()
    .unwrap()
}

/// Freezes the owner of a running migration where `freeze` says, lets
/// another instance adopt and complete it, and wakes the owner.
async fn frozen_owner(schema: &str, freeze: Freeze) {
    let _one = SERIAL.lock().await;
    let (mut d, model) = world(schema).await;
    // The cut-over's LOCK TABLES waits as long as the test needs.
    let config = format!("{CONFIG}lock_wait_timeout_s = 600\n");
    let first = Child::start(&config).await;
    let second = Child::start(&config).await;
    let writes = Writes::start(schema, &model);
    let mut c = first.conn(schema).await;
    let hint = match freeze {
        Freeze::InCutOver => "async postpone",
        _ => "async",
    };
    let (id, _): (String, String) = c
        .query_first(format!("ALTER TABLE t /* ghostwire: {hint} */ {BODY}"))
        .await
        .unwrap()
        .unwrap();
    let owner = field(&mut d, &id, "owner").await.unwrap();
    // A transaction on the table, opened directly: the cut-over's
    // LOCK TABLES waits for it.
    let mut tx = direct_conn_to(schema).await;
    match freeze {
        Freeze::BetweenChunks | Freeze::HoldingItsLock => {
            c.query_drop(format!("ALTER MIGRATION '{id}' THROTTLE RATIO 0.95"))
                .await
                .unwrap();
            until("the copy is under way", async || {
                field(&mut d, &id, "rows_copied")
                    .await
                    .is_some_and(|v| v != "0")
            })
            .await;
            first.signal("STOP");
        }
        Freeze::ChunksInFlight => {
            until("the copy is under way", async || {
                field(&mut d, &id, "rows_copied")
                    .await
                    .is_some_and(|v| v != "0")
            })
            .await;
            until("frozen with a chunk in flight", async || {
                first.signal("STOP");
                tokio::time::sleep(Duration::from_millis(100)).await;
                if open_transactions_of(&mut d, &owner).await > 0 {
                    return true;
                }
                first.signal("CONT");
                false
            })
            .await;
        }
        Freeze::InCutOver => {
            await_field(&mut d, &id, "status", "ready").await;
            tx.query_drop("BEGIN").await.unwrap();
            tx.query_drop("SELECT COUNT(*) FROM t WHERE id < 10")
                .await
                .unwrap();
            c.query_drop(format!("ALTER MIGRATION '{id}' COMPLETE"))
                .await
                .unwrap();
            waits_for_metadata_lock(&mut d, &format!("LOCK TABLES `{schema}`%")).await;
            first.signal("STOP");
        }
    }
    drop(c);
    // Its lock's connection gone (as when its host stalls), but for the
    // case where the lock stays.
    if freeze != Freeze::HoldingItsLock {
        let holder: Option<Option<u64>> = d
            .exec_first("SELECT IS_USED_LOCK(?)", (format!("ghostwire.{owner}"),))
            .await
            .unwrap();
        d.query_drop(format!("KILL {}", holder.flatten().unwrap()))
            .await
            .unwrap();
    }
    // The second instance adopts it and completes it.
    until("adopted", async || {
        field(&mut d, &id, "owner").await.as_deref() != Some(owner.as_str())
    })
    .await;
    tx.query_drop("COMMIT").await.unwrap();
    await_field(&mut d, &id, "status", "complete").await;
    // A second ALTER of the table runs on the adopter, held in its copy.
    let mut c2 = second.conn(schema).await;
    let (next, _): (String, String) = c2
        .query_first("ALTER TABLE t /* ghostwire: async */ ADD INDEX (c)")
        .await
        .unwrap()
        .unwrap();
    c2.query_drop(format!("ALTER MIGRATION '{next}' THROTTLE"))
        .await
        .unwrap();
    // The frozen instance wakes up.
    first.signal("CONT");
    until("the woken instance has its lock again", async || {
        let held: Option<Option<u64>> = d
            .exec_first("SELECT IS_USED_LOCK(?)", (format!("ghostwire.{owner}"),))
            .await
            .unwrap();
        held.flatten().is_some()
    })
    .await;
    // Give the woken run every chance to act (its timers are 1 s).
    for _ in 0..3 {
        let before = field(&mut d, &id, "CONCAT(status, owner, COALESCE(message, ''))").await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(
            field(&mut d, &id, "CONCAT(status, owner, COALESCE(message, ''))").await,
            before
        );
    }
    assert_eq!(
        field(&mut d, &id, "status").await.as_deref(),
        Some("complete")
    );
    c2.query_drop(format!("ALTER MIGRATION '{next}' UNTHROTTLE"))
        .await
        .unwrap();
    await_field(&mut d, &next, "status", "complete").await;
    writes.stop().await;
    // Rows as written; the definition as both native ALTERs give it.
    d.query_drop(format!("ALTER TABLE {schema}.n ADD INDEX (c)"))
        .await
        .unwrap();
    assert_result(&mut d, schema, &model).await;
}

/// The owner's lock connection is killed again and again (a flapping
/// network to the server) while another instance waits to adopt. After
/// some kills the lock is held away from the owner past `adopt_after_ms`
/// (it must stop its run, and resumes it as a new run once it has its
/// lock again); after others the owner is frozen meanwhile (the other
/// instance adopts the migration, and the woken one is fenced off). The
/// migration is never run twice at once: it completes with every write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_that_keeps_losing_its_lock_never_splits_the_migration() {
    let _one = SERIAL.lock().await;
    let schema = "rz_flap";
    let (mut d, model) = world(schema).await;
    let first = Child::start(CONFIG).await;
    let second = Child::start(CONFIG).await;
    let writes = Writes::start(schema, &model);
    let mut c = first.conn(schema).await;
    let id = submit_throttled(&mut c, "async", 0.97).await;
    let first_id = field(&mut d, &id, "owner").await.unwrap();
    let mut thief = direct_conn_to(schema).await;
    let mut owners = std::collections::BTreeSet::new();
    let mut kills = 0;
    while kills < 12 {
        let owner = field(&mut d, &id, "owner").await.unwrap();
        owners.insert(owner.clone());
        let lock = format!("ghostwire.{owner}");
        let holder: Option<Option<u64>> = d
            .exec_first("SELECT IS_USED_LOCK(?)", (&lock,))
            .await
            .unwrap();
        let Some(holder) = holder.flatten() else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let owner_process = if owner == first_id { &first } else { &second };
        if kills % 3 == 2 {
            owner_process.signal("STOP");
        }
        if d.query_drop(format!("KILL {holder}")).await.is_err() {
            owner_process.signal("CONT");
            continue; // gone already
        }
        kills += 1;
        match kills % 3 {
            // Held away from the owner past adopt_after_ms.
            1 => {
                let got: Option<Option<i64>> = thief
                    .exec_first("SELECT GET_LOCK(?, 1)", (&lock,))
                    .await
                    .unwrap();
                tokio::time::sleep(Duration::from_millis(1500)).await;
                if got.flatten() == Some(1) {
                    thief
                        .exec_drop("DO RELEASE_LOCK(?)", (&lock,))
                        .await
                        .unwrap();
                }
            }
            // Frozen past adopt_after_ms: the other instance adopts.
            0 => {
                until("adopted while the owner is frozen", async || {
                    field(&mut d, &id, "owner").await.as_deref() != Some(owner.as_str())
                        || field(&mut d, &id, "status").await.as_deref() != Some("running")
                })
                .await;
                owner_process.signal("CONT");
            }
            _ => {}
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(
        owners.len() > 1,
        "the migration moved between the instances"
    );
    let _ = c
        .query_drop(format!("ALTER MIGRATION '{id}' UNTHROTTLE"))
        .await;
    let ended = "IF(status IN ('complete', 'failed'), 'ended', status)";
    until("the migration ended", async || {
        field(&mut d, &id, ended).await.as_deref() == Some("ended")
    })
    .await;
    let status = field(&mut d, &id, "status").await.unwrap();
    eprintln!(
        "{kills} lock connections killed; owners seen: {}; {status}",
        owners.len()
    );
    if status == "failed" {
        let leftovers: Vec<String> = d
            .exec(
                "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? \
                 AND TABLE_NAME LIKE 't\\_%'",
                (schema,),
            )
            .await
            .unwrap();
        assert!(leftovers.is_empty(), "helper tables left: {leftovers:?}");
        // The statement was async: RETRY answers with the new id.
        let (again, _): (String, String) = c
            .query_first(format!("ALTER MIGRATION '{id}' RETRY"))
            .await
            .unwrap()
            .unwrap();
        await_field(&mut d, &again, "status", "complete").await;
    }
    writes.finish(&mut d, schema, &model).await;
}

/// An owner frozen while it holds the cut-over's table lock (granted just
/// after it froze) does not keep the table locked for as long as it is
/// frozen: the server closes its idle lock connection after a bounded
/// time and writers go on, while it is still frozen. Woken, it finds its
/// connection gone and resumes the migration, which completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_owner_holding_the_cut_over_lock_does_not_lock_the_table_for_long() {
    let _one = SERIAL.lock().await;
    let schema = "rz_frozen_lock";
    let (mut d, model) = world(schema).await;
    let first = Child::start(CONFIG).await;
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
    // A reader holds the table; the cut-over's LOCK TABLES queues behind it.
    let mut reader = direct_conn_to(schema).await;
    reader.query_drop("BEGIN").await.unwrap();
    reader
        .query_drop("SELECT COUNT(*) FROM t WHERE id < 10")
        .await
        .unwrap();
    c.query_drop(format!("ALTER MIGRATION '{id}' COMPLETE"))
        .await
        .unwrap();
    waits_for_metadata_lock(&mut d, &format!("LOCK TABLES `{schema}`%")).await;
    // Frozen; then the reader lets go, and the frozen process holds the lock.
    first.signal("STOP");
    reader.query_drop("COMMIT").await.unwrap();
    let mut probe = direct_conn_to(schema).await;
    probe
        .query_drop("SET SESSION lock_wait_timeout = 1")
        .await
        .unwrap();
    until(
        "a direct write goes through while the owner is frozen",
        async || {
            probe
                .query_drop("UPDATE t SET k = k WHERE id = 1")
                .await
                .is_ok()
        },
    )
    .await;
    first.signal("CONT");
    await_field(&mut d, &id, "status", "complete").await;
    writes.finish(&mut d, schema, &model).await;
}
