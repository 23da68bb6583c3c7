//! `SHOW MIGRATIONS`, `SHOW MIGRATION '<id>'` and `ALTER MIGRATION …`,
//! answered by the proxy as synthetic result sets.
//!
//! Until the migration engine lands there are no migrations: the listing is
//! an empty result set with its final columns, so clients and dashboards can
//! be built against it now.

use crate::classify::Words;
use crate::protocol::packets::ErrPacket;
use crate::protocol::resultset::{write_result_set, Column, Kind};
use crate::protocol::Caps;

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

/// Answers a migration command; returns the response packets, sequence ids
/// starting at 1.
pub fn answer(sql: &[u8], ctx: Context) -> Vec<u8> {
    let mut words = Words { rest: sql };
    let first = words.next().unwrap_or_default();
    let mut out = Vec::new();
    if first.eq_ignore_ascii_case(b"SHOW") {
        write_result_set(&mut out, 1, ctx.caps, ctx.status, &MIGRATION_COLUMNS, &[]);
    } else {
        out = ErrPacket::new(
            1235,
            "42000",
            "ghostwire: ALTER MIGRATION is not supported yet (no migration engine in this version)",
        )
        .frame(1);
    }
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
