//! SHOW MIGRATIONS, SHOW MIGRATION and ALTER MIGRATION are answered by
//! ghostwire, not the server: nothing checks rights unless ghostwire does.
//! A user with no rights on a table must neither read its migrations
//! (statement text can hold secrets) nor cut them over.

use crate::common::{self, await_status, submit_postponed};
use crate::world::{cell, run, World};
use mysql_async::prelude::*;
use mysql_async::Row;

/// What `sql` shows of migration `id` to `c`: rows mentioning it or the
/// secret in its text (an error shows nothing).
async fn leaked(c: &mut mysql_async::Conn, sql: &str, id: &str) -> Vec<String> {
    let rows: Vec<Row> = c.query(sql).await.unwrap_or_default();
    rows.iter()
        .map(|r| {
            (0..r.len())
                .map(|i| cell(r, i))
                .collect::<Vec<_>>()
                .join(" | ")
        })
        .filter(|r| r.contains(id) || r.contains("hunter2"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migration_commands_need_rights_on_the_table() {
    let w = World::new(
        "atk_cmd",
        &["ALTER, SELECT, INSERT, UPDATE, DELETE ON {db1}.t"],
        &[],
    )
    .await;
    let nobody = format!("usage_{}", w.user);
    w.admin(&[
        format!("DROP USER IF EXISTS '{nobody}'@'%'"),
        format!(
            "CREATE USER '{nobody}'@'%' IDENTIFIED BY '{}'",
            crate::world::PASS
        ),
    ])
    .await;
    let mut owner = w.via(Some(&w.db1)).await;
    let id = submit_postponed(
        &w.ctx,
        &mut owner,
        &format!("{}.t", w.db1),
        "ADD INDEX (v), COMMENT 'mysql://admin:hunter2@x'",
    )
    .await;

    let mut other = w.connect(w.ctx.port(), &nobody, None).await;
    let mut failures = Vec::new();
    for sql in [
        "SHOW MIGRATIONS".to_string(),
        format!("SHOW MIGRATION '{id}'"),
        "SHOW MIGRATIONS LIKE '%'".to_string(),
        format!("SHOW MIGRATIONS WHERE id = '{id}'"),
    ] {
        let seen = leaked(&mut other, &sql, &id).await;
        if !seen.is_empty() {
            failures.push(format!(
                "ATTACK SUCCEEDED [{sql} as a USAGE-only user]: it shows another user's \
                 migration and its statement: {seen:?}"
            ));
        }
    }
    let complete = format!("ALTER MIGRATION '{id}' COMPLETE");
    for action in [
        "PAUSE",
        "THROTTLE",
        "THROTTLE RATIO 0.5",
        "CANCEL",
        "CLEANUP",
        "RETRY",
        "COMPLETE",
    ] {
        for target in [format!("'{id}'"), "ALL".to_string()] {
            let sql = format!("ALTER MIGRATION {target} {action}");
            let answer = run_info(&mut other, &sql).await;
            let state = control_state(&w, &id).await;
            // ALL answers OK for the migrations it may change: none (ALL
            // RETRY is refused for everyone).
            let refused = match (target.as_str(), action) {
                ("ALL", "RETRY") => answer.as_ref().is_err_and(|e| e.0 == 1235),
                ("ALL", _) => answer
                    .as_ref()
                    .is_ok_and(|info| info.contains(" 0 migration")),
                _ => answer.is_err(),
            };
            if !refused || state != ("ready".to_string(), 0, 0) {
                failures.push(format!(
                    "ATTACK SUCCEEDED [{sql} as a USAGE-only user]: answered {answer:?}; \
                     the migration is now (status, paused, throttled) = {state:?} (should stay \
                     ready, refused)"
                ));
            }
        }
    }
    other.disconnect().await.ok();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Each attempt on the id is in the audit, as denied; the migration's
    // own record does not show them.
    let mut d = w.ctx.direct().await;
    let denied: Vec<(String, String)> = d
        .exec(
            "SELECT command, result FROM _ghostwire.commands WHERE migration_id = ? \
             AND issued_by LIKE ? ORDER BY seq",
            (&id, format!("{nobody}@%")),
        )
        .await
        .unwrap();
    let verbs: Vec<&str> = denied.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(
        verbs,
        ["PAUSE", "THROTTLE", "THROTTLE", "CANCEL", "CLEANUP", "RETRY", "COMPLETE"],
        "denied attempts recorded: {denied:?}"
    );
    assert!(
        denied.iter().all(|(_, r)| r.starts_with("denied: ")),
        "{denied:?}"
    );
    let last: Option<Option<String>> = d
        .exec_first(
            "SELECT last_command FROM _ghostwire.migrations WHERE id = ?",
            (&id,),
        )
        .await
        .unwrap();
    assert_eq!(last, Some(None), "the record shows no denied command");

    // The owner keeps its rights over its own migration.
    let mine = leaked(&mut owner, &format!("SHOW MIGRATION '{id}'"), &id).await;
    assert_eq!(mine.len(), 1, "the owner sees its migration");
    run(&mut owner, &complete)
        .await
        .unwrap_or_else(|e| panic!("the owner completes its migration: {e:?}"));
    await_status(&w.ctx, &id, "complete").await;

    // CLEANUP is a DROP TABLE of the old table: only for whoever the
    // server lets drop it. The owner without DROP gets the server's own
    // refusal, as for the DROP sent directly.
    let mut other = w.connect(w.ctx.port(), &nobody, None).await;
    let cleanup = format!("ALTER MIGRATION '{id}' CLEANUP");
    let answer = run(&mut other, &cleanup).await;
    assert!(
        answer.is_err(),
        "{cleanup} as a USAGE-only user: {answer:?}"
    );
    assert!(old_table_exists(&w, &id).await, "the old table is kept");
    let via = run(&mut owner, &cleanup).await;
    let old: String = {
        let mut d = w.ctx.direct().await;
        d.exec_first(
            "SELECT old_table FROM _ghostwire.migrations WHERE id = ?",
            (&id,),
        )
        .await
        .unwrap()
        .unwrap()
    };
    let mut native = w.native(Some(&w.db1)).await;
    let direct = run(&mut native, &format!("DROP TABLE {}.{old}", w.db1)).await;
    assert_eq!(
        via.as_ref().map_err(|e| e.0),
        direct.as_ref().map_err(|e| e.0),
        "CLEANUP without DROP: {via:?}; DROP directly: {direct:?}"
    );
    assert!(old_table_exists(&w, &id).await, "the old table is kept");
    w.admin(&[format!("GRANT DROP ON {}.* TO '{}'@'%'", w.db1, w.user)])
        .await;
    let mut owner = w.via(Some(&w.db1)).await;
    run(&mut owner, &cleanup)
        .await
        .unwrap_or_else(|e| panic!("the owner with DROP drops its old table: {e:?}"));
    assert!(!old_table_exists(&w, &id).await, "the old table is dropped");
    other.disconnect().await.ok();
    owner.disconnect().await.ok();
}

/// Runs `sql`; its OK's info text or its ERR.
async fn run_info(c: &mut mysql_async::Conn, sql: &str) -> Result<String, (u16, String)> {
    match c.query_drop(sql).await {
        Ok(()) => Ok(c.info().into_owned()),
        Err(mysql_async::Error::Server(e)) => Err((e.code, e.message)),
        Err(e) => Err((0, e.to_string())),
    }
}

/// (status, paused, throttled) of a migration, read directly.
async fn control_state(w: &World, id: &str) -> (String, i64, i64) {
    let mut d = w.ctx.direct().await;
    let r = d
        .exec_first(
            "SELECT status, paused, throttled FROM _ghostwire.migrations WHERE id = ?",
            (id,),
        )
        .await
        .unwrap()
        .unwrap();
    d.disconnect().await.ok();
    r
}

async fn old_table_exists(w: &World, id: &str) -> bool {
    let mut d = w.ctx.direct().await;
    let n: Option<u64> = d
        .exec_first(
            "SELECT COUNT(*) FROM information_schema.TABLES t JOIN _ghostwire.migrations m \
             ON t.TABLE_SCHEMA = m.table_schema AND t.TABLE_NAME = m.old_table WHERE m.id = ?",
            (id,),
        )
        .await
        .unwrap();
    d.disconnect().await.ok();
    n == Some(1)
}

/// Rights revoked after a submission take the migration out of its
/// submitter's hands; and an ALTER of a table with a running migration tells
/// a user without rights on it nothing the server would not (the server's
/// own refusal, not "migration … is still running").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_rights_and_running_migrations_tell_nothing() {
    let w = World::new("atk_revoke", &["ALTER, SELECT ON {db1}.t"], &[]).await;
    let mut owner = w.via(Some(&w.db1)).await;
    let id = submit_postponed(&w.ctx, &mut owner, &format!("{}.t", w.db1), "ADD INDEX (v)").await;
    w.admin(&[format!(
        "REVOKE ALTER, SELECT ON {}.t FROM '{}'@'%'",
        w.db1, w.user
    )])
    .await;
    let mut owner = w.via(None).await; // no right left to USE the database
    let seen = leaked(&mut owner, "SHOW MIGRATIONS", &id).await;
    assert!(
        seen.is_empty(),
        "a revoked submitter still sees its migration: {seen:?}"
    );
    let answer = run(&mut owner, &format!("ALTER MIGRATION '{id}' COMPLETE")).await;
    assert!(
        answer.is_err(),
        "a revoked submitter completed its migration: {answer:?}"
    );
    assert_eq!(
        common::migration_status(&w.ctx, &id).await.as_deref(),
        Some("ready")
    );
    // Another ALTER of the table, by a user without rights on it: the
    // server's answer, the same as directly.
    let alter = format!("ALTER TABLE {}.t ADD INDEX (id, v)", w.db1);
    let via = run(&mut owner, &alter).await;
    let mut native = w.native(None).await;
    let direct = run(&mut native, &alter).await;
    assert_eq!(
        via.as_ref().map_err(|e| e.0),
        direct.as_ref().map_err(|e| e.0),
        "through ghostwire {via:?}, directly {direct:?}"
    );
    // (the admin ends the migration)
    let mut admin = w.ctx.conn().await;
    admin
        .query_drop(format!("ALTER MIGRATION '{id}' CANCEL"))
        .await
        .unwrap();
    await_status(&w.ctx, &id, "cancelled").await;
}
