//! `ALTER MIGRATION` commands in the state table: each one recorded
//! (`_ghostwire.commands`), and commands for a migration another instance
//! runs passed to it (`requested_action`) and answered through the record.

use mysql_async::prelude::Queryable;
use mysql_async::Conn;

use super::super::Result;

/// Records an `ALTER MIGRATION` command on the migration: in `commands`
/// (every one) and as its `last_command`.
pub async fn record_command(
    conn: &mut Conn,
    id: &str,
    command: &str,
    by: &str,
    result: &str,
) -> Result<()> {
    record_denied(conn, id, command, by, result).await?;
    conn.exec_drop(
        "UPDATE `_ghostwire`.`migrations` SET last_command = \
         LEFT(CONCAT(?, IF(? LIKE 'refused:%', ' (refused)', ''), ' by ', ?, ' at ', \
         DATE_FORMAT(UTC_TIMESTAMP(), '%Y-%m-%d %H:%i:%s UTC')), 512) \
         WHERE id = ?",
        (command, result, by, id),
    )
    .await?;
    Ok(())
}

/// Records a command in `commands` only: one the client had no right to
/// send (and the first half of `record_command`).
pub async fn record_denied(
    conn: &mut Conn,
    id: &str,
    command: &str,
    by: &str,
    result: &str,
) -> Result<()> {
    conn.exec_drop(
        "INSERT INTO `_ghostwire`.`commands` (migration_id, command, issued_by, issued_at, result) \
         VALUES (?, ?, ?, UTC_TIMESTAMP(6), ?)",
        (id, command, by, result),
    )
    .await?;
    Ok(())
}

/// Asks the instance running a migration to apply a command (see
/// `instance`); true when the migration is still that owner's and
/// unfinished. Returns the last command's sequence number before it, to
/// find the owner's answer by.
pub async fn request_command(
    conn: &mut Conn,
    id: &str,
    owner: &str,
    action: &str,
    by: &str,
) -> Result<Option<u64>> {
    let before: Option<Option<u64>> = conn
        .exec_first(
            "SELECT MAX(seq) FROM `_ghostwire`.`commands` WHERE migration_id = ?",
            (id,),
        )
        .await?;
    conn.exec_drop(
        "UPDATE `_ghostwire`.`migrations` SET requested_action = ?, requested_by = ? \
         WHERE id = ? AND owner = ? AND status IN ('queued', 'running', 'ready', 'cutting_over')",
        (action, by, id, owner),
    )
    .await?;
    Ok((conn.affected_rows() == 1).then(|| before.flatten().unwrap_or(0)))
}

/// The answer recorded for a migration's command after `after`, if any
/// (a denied command someone else sent meanwhile is no answer).
pub async fn command_answer(conn: &mut Conn, id: &str, after: u64) -> Result<Option<String>> {
    Ok(conn
        .exec_first(
            "SELECT result FROM `_ghostwire`.`commands` WHERE migration_id = ? AND seq > ? \
             AND result NOT LIKE 'denied:%' ORDER BY seq LIMIT 1",
            (id, after),
        )
        .await?)
}

/// Commands other instances asked this one to apply, each taken (cleared)
/// once: (migration id, action text, who).
pub async fn take_requests(conn: &mut Conn, owner: &str) -> Result<Vec<(String, String, String)>> {
    let pending: Vec<(String, String, String)> = conn
        .exec(
            "SELECT id, requested_action, COALESCE(requested_by, '') FROM `_ghostwire`.`migrations` \
             WHERE owner = ? AND requested_action IS NOT NULL",
            (owner,),
        )
        .await?;
    let mut taken = Vec::new();
    for (id, action, by) in pending {
        conn.exec_drop(
            "UPDATE `_ghostwire`.`migrations` SET requested_action = NULL, requested_by = NULL \
             WHERE id = ? AND requested_action = ?",
            (&id, &action),
        )
        .await?;
        if conn.affected_rows() == 1 {
            taken.push((id, action, by));
        }
    }
    Ok(taken)
}

/// Withdraws a request nobody took.
pub async fn take_request(conn: &mut Conn, id: &str, action: &str) -> Result<()> {
    conn.exec_drop(
        "UPDATE `_ghostwire`.`migrations` SET requested_action = NULL, requested_by = NULL \
         WHERE id = ? AND requested_action = ?",
        (id, action),
    )
    .await?;
    Ok(())
}
