//! Hostile and broken clients (issue #10, items 5–11): empty and short
//! packets, random byte streams, half-open logins, oversized login packets,
//! clients that never read, backend connections that die under idle
//! clients, and the binary's start-up checks (open-files limit, metrics
//! endpoint). Every test also checks that no session task panicked and
//! that nothing a session held outlives it.

mod common;

#[path = "hostile/backend.rs"]
mod backend;
#[path = "hostile/frames.rs"]
mod frames;
#[path = "hostile/login.rs"]
mod login;
#[path = "hostile/process.rs"]
mod process;
#[path = "hostile/slow.rs"]
mod slow;

use common::*;
use mysql_async::prelude::*;

/// No session panicked, and none (nor its backend connection) outlives
/// its client. The proxy's own gauge and `open_sessions` move together
/// (one guard), so this is also the `ghostwire_client_connections` check.
pub async fn assert_clean(ctx: &Ctx) {
    let proxy = ctx.proxy.as_ref().unwrap();
    eventually("proxy sessions drop to 0", || async {
        proxy.open_sessions() == 0
    })
    .await;
    assert_eq!(proxy.session_panics(), 0, "a session task panicked");
    eventually("backend connections drop to 0", || async {
        backend_sessions("DB", &ctx.schema).await == 0
    })
    .await;
}

/// A table `t (id, v)` with a few rows and a postponed copy migration on
/// it, copied and waiting for COMPLETE (so its cut-over gate is watched).
/// Returns the migration id.
pub async fn running_migration(ctx: &Ctx, c: &mut mysql_async::Conn) -> String {
    c.query_drop("CREATE TABLE t (id INT PRIMARY KEY, v INT)")
        .await
        .unwrap();
    c.query_drop("INSERT INTO t VALUES (1, 1), (2, 2), (3, 3)")
        .await
        .unwrap();
    submit_postponed(ctx, c, "t", "ADD INDEX (v)").await
}

/// COMPLETE cuts the migration over at its first attempt (the test
/// configs allow one): no claim of a dead session is in the way.
pub async fn complete_cuts_over(ctx: &Ctx, c: &mut mysql_async::Conn, id: &str) {
    c.query_drop(format!("ALTER MIGRATION '{id}' COMPLETE"))
        .await
        .unwrap();
    eventually("the migration ends", || async {
        matches!(
            migration_status(ctx, id).await.as_deref(),
            Some("complete" | "failed")
        )
    })
    .await;
    let status = migration_status(ctx, id).await;
    assert_eq!(status.as_deref(), Some("complete"), "cut-over failed");
}

/// Test configs: one cut-over attempt, so a claim left by a dead session
/// fails the migration instead of being retried around.
pub fn one_attempt(c: &mut ghostwire::config::Config) {
    c.cutover.max_attempts = 1;
    c.cutover.drain_timeout_ms = 2000;
}
