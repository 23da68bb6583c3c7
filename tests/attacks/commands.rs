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
    let answer = run(&mut other, &complete).await;
    let status = common::migration_status(&w.ctx, &id).await;
    if answer.is_ok() || status.as_deref() != Some("ready") {
        failures.push(format!(
            "ATTACK SUCCEEDED [{complete} as a USAGE-only user]: answered {answer:?}; \
             the migration is now {status:?} (should stay ready, refused with an ERR)"
        ));
    }
    other.disconnect().await.ok();
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // The owner keeps its rights over its own migration.
    let mine = leaked(&mut owner, &format!("SHOW MIGRATION '{id}'"), &id).await;
    assert_eq!(mine.len(), 1, "the owner sees its migration");
    run(&mut owner, &complete)
        .await
        .unwrap_or_else(|e| panic!("the owner completes its migration: {e:?}"));
    await_status(&w.ctx, &id, "complete").await;
    owner.disconnect().await.ok();
}
