//! `SHOW MIGRATIONS`, `SHOW MIGRATION '<id>'` and `ALTER MIGRATION …`,
//! answered by the proxy as synthetic result sets.
//!
//! The listing comes from `_ghostwire.migrations` on the primary, so every
//! proxy instance shows the same rows. Who may see or change which
//! migration is decided by the session, on the client's own connection
//! (see `server::session::probe`): a migration is visible to whoever may
//! see its table, and changed by its submitter or whoever may ALTER it.

use crate::migration::store::SHOWN;
use crate::protocol::errors;
use crate::protocol::packets::ok_with_info;
use crate::protocol::resultset::{write_result_set, Column, Kind};
use crate::protocol::Caps;
use crate::sql::commands::{migration_command, Action, MigrationCommand, ShowFilter, Target};
use crate::sql::lexer::Dialect;

/// Columns of `SHOW MIGRATIONS`, in order (the names are `store::SHOWN`'s).
pub const MIGRATION_COLUMNS: [Column; 23] = [
    Column::new("id", Kind::Text),
    Column::new("table_schema", Kind::Text),
    Column::new("table_name", Kind::Text),
    Column::new("statement", Kind::Text),
    Column::new("strategy", Kind::Text),
    Column::new("status", Kind::Text),
    Column::new("stage", Kind::Text),
    Column::new("progress_pct", Kind::Double),
    Column::new("rows_copied", Kind::BigInt),
    // An estimate (the server's row count statistics) until the copy ends.
    Column::new("rows_total", Kind::BigInt),
    Column::new("eta_seconds", Kind::BigInt),
    Column::new("lag_seconds", Kind::Double),
    Column::new("cutover_attempts", Kind::BigInt),
    Column::new("stall_ms", Kind::BigInt),
    Column::new("started_at", Kind::Datetime),
    Column::new("completed_at", Kind::Datetime),
    Column::new("message", Kind::Text),
    Column::new("paused", Kind::BigInt),
    Column::new("throttled", Kind::BigInt),
    Column::new("throttle_reason", Kind::Text),
    Column::new("old_table", Kind::Text),
    Column::new("old_table_drop_at", Kind::Datetime),
    Column::new("last_command", Kind::Text),
];

/// The session facts an answer depends on.
#[derive(Clone, Copy, Debug)]
pub struct Context {
    pub caps: Caps,
    /// Current status flags (transaction state) to echo in EOF/OK packets.
    pub status: u16,
}

/// A migration command, as read from the client's text.
#[derive(Debug, PartialEq)]
pub enum Request {
    Show(ShowFilter),
    ShowOne(String),
    Alter {
        target: Target,
        action: Action,
    },
    /// Not a form we know: the answer.
    Invalid(Vec<u8>),
}

/// Reads a migration command (with the one SQL reader) in the client's
/// `dialect`.
pub fn parse(sql: &[u8], dialect: &Dialect) -> Request {
    match migration_command(sql, dialect) {
        MigrationCommand::Show(f) => match f
            .equal
            .iter()
            .find(|(c, _)| !SHOWN.iter().any(|(n, _)| n == c))
        {
            // What the server says of an unknown column in a WHERE.
            Some((c, _)) => Request::Invalid(
                errors::unknown_migrations_column(
                    c,
                    &SHOWN.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
                )
                .frame(1),
            ),
            None => Request::Show(f),
        },
        MigrationCommand::ShowOne(id) => Request::ShowOne(id),
        // Every failed or cancelled statement in the history again, even
        // ones a later ALTER of the table superseded: never what was meant.
        MigrationCommand::Alter {
            target: Target::All,
            action: Action::Retry,
        } => Request::Invalid(
            errors::not_supported(
                "ALTER MIGRATION ALL RETRY is not supported (it would run every failed or \
                 cancelled ALTER again, even ones a later ALTER superseded); retry one at a \
                 time: ALTER MIGRATION '<id>' RETRY",
            )
            .frame(1),
        ),
        MigrationCommand::Alter { target, action } => Request::Alter { target, action },
        MigrationCommand::Invalid(form) => Request::Invalid(usage(form)),
    }
}

/// The result set of `SHOW MIGRATIONS` for rows the client may see.
pub fn show(rows: &[Vec<Option<String>>], ctx: Context) -> Vec<u8> {
    let mut out = Vec::new();
    write_result_set(&mut out, 1, ctx.caps, ctx.status, &MIGRATION_COLUMNS, rows);
    out
}

/// The OK packet of a command that worked.
pub fn ok_reply(ctx: Context, affected: u64, info: &str) -> Vec<u8> {
    let mut out = Vec::new();
    crate::protocol::write_packet(&mut out, &mut 1, &ok_with_info(affected, ctx.status, info));
    out
}

/// The answer for an id no migration has (or one the client may not see).
pub fn unknown(id: &str) -> Vec<u8> {
    errors::no_such_migration(id).frame(1)
}

fn usage(form: &str) -> Vec<u8> {
    errors::migration_syntax(form).frame(1)
}

/// The answer when a migration command arrives as COM_STMT_PREPARE.
pub fn refuse_prepare() -> Vec<u8> {
    errors::cannot_prepare("migration commands cannot be prepared; send them as plain queries")
        .frame(1)
}

#[cfg(test)]
mod tests {
    #[test]
    fn columns_match_the_store() {
        let names: Vec<&str> = super::MIGRATION_COLUMNS.iter().map(|c| c.name).collect();
        let store: Vec<&str> = super::SHOWN.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, store);
    }
}
