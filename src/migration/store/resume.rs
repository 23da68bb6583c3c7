//! What resuming a migration reads and writes: its checkpoint, and the
//! claim that moves it from a stopped instance to this one.

use mysql_async::prelude::Queryable;
use mysql_async::Conn;

use super::super::Result;

/// Writes the migration's checkpoint (`persisted::Checkpoint`), only while
/// `owner`'s run `run` still runs it: a run that lost the migration (to
/// another instance, or to a later run of its own) never overwrites the new
/// run's progress. False when it has lost it.
pub async fn set_checkpoint(
    conn: &mut Conn,
    id: &str,
    (owner, run): (&str, &str),
    json: &str,
) -> Result<bool> {
    conn.exec_drop(
        "UPDATE `_ghostwire`.`migrations` SET checkpoint = ? \
         WHERE id = ? AND owner = ? AND run_id = ?",
        (json, id, owner, run),
    )
    .await?;
    if conn.affected_rows() > 0 {
        return Ok(true);
    }
    let now: Option<String> = conn
        .exec_first(
            "SELECT owner FROM `_ghostwire`.`migrations` WHERE id = ?",
            (id,),
        )
        .await?;
    Ok(now.as_deref() == Some(owner))
}

/// Takes the migration over from `from` (an instance whose lock has been
/// free long enough, or this one, whose run of it stopped) for the new run
/// `run`: true when this call moved it, so two instances that both try
/// never both run it.
pub async fn claim(conn: &mut Conn, id: &str, from: &str, to: &str, run: &str) -> Result<bool> {
    conn.exec_drop(
        "UPDATE `_ghostwire`.`migrations` SET owner = ?, run_id = ? \
         WHERE id = ? AND owner = ? AND status IN ('queued', 'running', 'ready', 'cutting_over')",
        (to, run, id, from),
    )
    .await?;
    Ok(conn.affected_rows() == 1)
}

/// Names `run` as the one run of a new migration that may write (`fence`).
pub async fn start_run(conn: &mut Conn, id: &str, owner: &str, run: &str) -> Result<bool> {
    conn.exec_drop(
        "UPDATE `_ghostwire`.`migrations` SET run_id = ? WHERE id = ? AND owner = ?",
        (run, id, owner),
    )
    .await?;
    Ok(conn.affected_rows() == 1)
}

/// What a resume starts from.
pub struct Resumable {
    pub request: String,
    pub statement: Vec<u8>,
    pub checkpoint: Option<String>,
    pub shadow_created: bool,
    pub paused: bool,
    pub cutover_attempts: u32,
}

pub async fn resumable(conn: &mut Conn, id: &str) -> Result<Option<Resumable>> {
    type Row = (Option<String>, Vec<u8>, Option<String>, bool, bool, u32);
    let row: Option<Row> = conn
        .exec_first(
            "SELECT request, statement, checkpoint, shadow_created, paused, cutover_attempts \
             FROM `_ghostwire`.`migrations` WHERE id = ?",
            (id,),
        )
        .await?;
    Ok(row.and_then(
        |(request, statement, checkpoint, shadow_created, paused, cutover_attempts)| {
            Some(Resumable {
                request: request?,
                statement,
                checkpoint,
                shadow_created,
                paused,
                cutover_attempts,
            })
        },
    ))
}

/// The migration commands the migration acknowledged, in order: a
/// COMPLETE or CANCEL answered "ok" holds even if the process died before
/// it acted on it. Not those it refused (`refused: …`), and never those of
/// clients that had no right to send them (`denied: …`, recorded only for
/// the audit by `record_denied`).
pub async fn acknowledged(conn: &mut Conn, id: &str) -> Result<Vec<String>> {
    Ok(conn
        .exec(
            "SELECT command FROM `_ghostwire`.`commands` WHERE migration_id = ? \
             AND result NOT LIKE 'refused:%' AND result NOT LIKE 'denied:%' ORDER BY seq",
            (id,),
        )
        .await?)
}
