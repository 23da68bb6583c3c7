//! `SHOW MIGRATIONS`, `SHOW MIGRATION '<id>'` and `ALTER MIGRATION …`,
//! answered by the proxy as synthetic result sets.
//!
//! The listing comes from `_ghostwire.migrations` on the primary, so every
//! proxy instance shows the same rows. Who may see or change which
//! migration is decided by the session, on the client's own connection
//! (see `server::session::probe`): a migration is visible to whoever may
//! see its table, and changed by its submitter or whoever may ALTER it.

use crate::migration::Handle;
use crate::protocol::packets::{ok_with_info, ErrPacket};
use crate::protocol::resultset::{write_result_set, Column, Kind};
use crate::protocol::Caps;
use crate::sql::tables::MigrationCommand;

/// Columns of `SHOW MIGRATIONS`, in order.
pub const MIGRATION_COLUMNS: [Column; 17] = [
    Column::new("id", Kind::Text),
    Column::new("table_schema", Kind::Text),
    Column::new("table_name", Kind::Text),
    Column::new("statement", Kind::Text),
    Column::new("strategy", Kind::Text),
    Column::new("status", Kind::Text),
    Column::new("stage", Kind::Text),
    Column::new("progress_pct", Kind::Double),
    Column::new("rows_copied", Kind::BigInt),
    Column::new("rows_total", Kind::BigInt),
    Column::new("eta_seconds", Kind::BigInt),
    Column::new("lag_seconds", Kind::Double),
    Column::new("cutover_attempts", Kind::BigInt),
    Column::new("stall_ms", Kind::BigInt),
    Column::new("started_at", Kind::Datetime),
    Column::new("completed_at", Kind::Datetime),
    Column::new("message", Kind::Text),
];

/// The session facts an answer depends on.
#[derive(Clone, Copy, Debug)]
pub struct Context {
    pub caps: Caps,
    /// Current status flags (transaction state) to echo in EOF/OK packets.
    pub status: u16,
}

/// A migration command, as read from the client's text.
#[derive(Debug, PartialEq, Eq)]
pub enum Request {
    /// `SHOW MIGRATIONS` (`None`) or `SHOW MIGRATION '<id>'`.
    Show(Option<String>),
    /// `ALTER MIGRATION '<id>' <action>` (action upper-cased).
    Alter { id: String, action: String },
    /// Not a form we know: the answer.
    Invalid(Vec<u8>),
}

/// Reads a migration command (with the one SQL reader).
pub fn parse(sql: &[u8]) -> Request {
    match crate::sql::tables::migration_command(sql) {
        MigrationCommand::Show(id) => Request::Show(id),
        MigrationCommand::Alter { action, .. } if !ACTIONS.contains(&action.as_str()) => {
            Request::Invalid(
                ErrPacket::new(
                    1235,
                    "42000",
                    format!(
                        "ghostwire: ALTER MIGRATION … {action} is not supported yet; supported: {}",
                        ACTIONS.join(", ")
                    ),
                )
                .frame(1),
            )
        }
        MigrationCommand::Alter { id, action } => Request::Alter { id, action },
        MigrationCommand::Invalid(form) => Request::Invalid(usage(form)),
    }
}

/// The result set of `SHOW MIGRATIONS` for rows the client may see.
pub fn show(rows: &[Vec<Option<String>>], ctx: Context) -> Vec<u8> {
    let mut out = Vec::new();
    write_result_set(&mut out, 1, ctx.caps, ctx.status, &MIGRATION_COLUMNS, rows);
    out
}

/// The actions `ALTER MIGRATION` knows.
const ACTIONS: [&str; 1] = ["COMPLETE"];

/// Runs `ALTER MIGRATION '<id>' <action>` for a client allowed to.
pub fn alter(id: &str, action: &str, ctx: Context, engine: &Handle) -> Vec<u8> {
    match action {
        "COMPLETE" => {
            if engine.release_postponed(id) {
                ok_reply(ctx, &format!("ghostwire: migration {id} cutting over"))
            } else {
                ErrPacket::new(
                    1105,
                    "HY000",
                    format!("ghostwire: migration {id} is not waiting to complete (see SHOW MIGRATION '{id}')"),
                )
                .frame(1)
            }
        }
        _ => ErrPacket::new(
            1235,
            "42000",
            format!(
                "ghostwire: ALTER MIGRATION … {action} is not supported yet; supported: COMPLETE"
            ),
        )
        .frame(1),
    }
}

/// The answer for an id no migration has (or one the client may not see).
pub fn unknown(id: &str) -> Vec<u8> {
    ErrPacket::new(
        1105,
        "HY000",
        format!("ghostwire: no migration '{id}' (SHOW MIGRATIONS lists those you may see)"),
    )
    .frame(1)
}

fn usage(form: &str) -> Vec<u8> {
    ErrPacket::new(1064, "42000", format!("ghostwire: expected {form}")).frame(1)
}

fn ok_reply(ctx: Context, info: &str) -> Vec<u8> {
    let mut out = Vec::new();
    crate::protocol::write_packet(&mut out, &mut 1, &ok_with_info(0, ctx.status, info));
    out
}

/// The answer when a migration command arrives as COM_STMT_PREPARE.
pub fn refuse_prepare() -> Vec<u8> {
    ErrPacket::new(
        1295,
        "HY000",
        "ghostwire: migration commands cannot be prepared; send them as plain queries",
    )
    .frame(1)
}
