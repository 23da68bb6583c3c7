//! Columns whose values the copy cannot compute as the client's native
//! ALTER would: their default or stored generation expression reads the
//! session that evaluates it, and the copy's session is ghostwire's (in
//! UTC). Read from the server's own text of each expression, on the new
//! table: nothing here comes from client text.

use mysql_async::prelude::Queryable;
use mysql_async::Conn;

use super::Result;
use crate::flavour::ServerInfo;
use crate::migration::client_session::names_utc;

/// What a default reads that is the client's alone.
const SESSION: [&str; 9] = [
    "user(",
    "current_user",
    "session_user",
    "system_user",
    "database(",
    "schema(",
    "@@",
    "connection_id",
    "last_insert_id",
];

/// Functions whose value depends on the session's time zone (UTC_… ones
/// do not).
const ZONED: [&str; 9] = [
    "now(",
    "current_timestamp",
    "localtime",
    "sysdate",
    "curdate",
    "current_date",
    "curtime",
    "unix_timestamp",
    "from_unixtime",
];

/// A column of the new table and what its value would wrongly read.
#[derive(Clone, Debug)]
pub(crate) struct Bound {
    pub name: String,
    pub reads: &'static str,
    /// A stored generated column (every row is computed again by the
    /// copy), not a default (only for new columns).
    pub generated: bool,
}

/// Name, default, extra, generation expression and data type.
type ColumnRow = (String, Option<String>, String, Option<String>, String);

/// What of the client's session differs from what the copy can give an
/// expression.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Client {
    /// Its time zone reads as UTC (the copy's).
    pub utc: bool,
    /// Its `div_precision_increment` is not the server's default. The
    /// copy sets it too, but both servers may fix an expression's division
    /// digits when a connection opens the table, not per statement (seen:
    /// rows replayed into the new table got other digits than the copied
    /// ones, for a stored generated column on MariaDB 10.11, for a default
    /// on MySQL 9.7), so whichever connection opened it first decides.
    pub divides_otherwise: bool,
}

/// The session-bound columns of `schema.table` for `client`.
pub(crate) async fn columns(
    conn: &mut Conn,
    server: ServerInfo,
    schema: &str,
    table: &str,
    client: Client,
) -> Result<Vec<Bound>> {
    let rows: Vec<ColumnRow> = conn
        .exec(
            "SELECT COLUMN_NAME, COLUMN_DEFAULT, EXTRA, GENERATION_EXPRESSION, DATA_TYPE \
             FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
            (schema, table),
        )
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(name, default, extra, generation, data_type)| {
            let extra = extra.to_ascii_lowercase();
            let generated = extra.contains("stored generated");
            let expression = if generated {
                generation.unwrap_or_default()
            } else {
                default.filter(|d| server.default_is_expression(d, &extra))?
            };
            let expression = expression.to_ascii_lowercase();
            let reads = if client.divides_otherwise && expression.contains('/') {
                "the session's div_precision_increment"
            } else {
                reads(&expression, !generated, client.utc, &data_type)?
            };
            Some(Bound {
                name,
                reads,
                generated,
            })
        })
        .collect())
}

/// What `expression` (lower case) reads that the copy's session cannot
/// give it as the client's did.
fn reads(expression: &str, default: bool, utc: bool, data_type: &str) -> Option<&'static str> {
    if default && SESSION.iter().any(|f| expression.contains(f)) {
        return Some("the user, the database or a system variable");
    }
    if expression.contains('@') {
        return Some("a user variable");
    }
    // A TIMESTAMP holds an instant, the same in every zone.
    if !utc
        && !data_type.eq_ignore_ascii_case("timestamp")
        && ZONED.iter().any(|f| expression.contains(f))
    {
        return Some("the session's time zone");
    }
    None
}

/// Whether the client's time zone reads as UTC: its own setting, or the
/// server's system zone when it says SYSTEM.
pub(crate) async fn zone_is_utc(conn: &mut Conn, zone: &str) -> Result<bool> {
    if !zone.eq_ignore_ascii_case("SYSTEM") {
        return Ok(names_utc(zone));
    }
    let system: Option<String> = conn.query_first("SELECT @@system_time_zone").await?;
    Ok(names_utc(&system.unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    use super::reads;

    #[test]
    fn what_an_expression_reads() {
        assert!(reads("user()", true, true, "varchar").is_some());
        assert!(reads("user()", false, true, "varchar").is_none());
        assert_eq!(reads("@x", true, true, "int"), Some("a user variable"));
        assert_eq!(
            reads("`a` + @x", false, true, "int"),
            Some("a user variable")
        );
        let zoned = Some("the session's time zone");
        assert_eq!(reads("current_timestamp()", true, false, "datetime"), zoned);
        assert_eq!(reads("unix_timestamp(`c`)", false, false, "bigint"), zoned);
        assert!(reads("current_timestamp()", true, false, "timestamp").is_none());
        assert!(reads("current_timestamp()", true, true, "datetime").is_none());
        assert!(reads("utc_timestamp()", true, false, "datetime").is_none());
        assert!(reads("`a` * 2", false, false, "int").is_none());
    }
}
