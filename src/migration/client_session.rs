//! The client's session as it was when it sent the ALTER: what decides the
//! ALTER's meaning natively (SQL mode, time zone, character set, the
//! DDL-relevant variables of the flavour) and who the server says the
//! client is. Captured on the client's own connection by the session; the
//! engine replays it where the ALTER's semantics are decided.

use mysql_async::prelude::Queryable;
use mysql_async::Value;

use crate::flavour::ServerInfo;

/// Captured values; every one comes from the server, none from client text.
#[derive(Clone, Debug, Default)]
pub struct ClientSession {
    pub server: Option<ServerInfo>,
    /// `CURRENT_USER()`: the account the server checks privileges for.
    pub current_user: String,
    pub database: Option<String>,
    pub sql_mode: String,
    pub time_zone: String,
    pub charset_client: String,
    pub collation_connection: String,
    pub lock_wait_timeout: u64,
    /// The flavour's DDL variables (`ServerInfo::ddl_variables`), by name.
    pub vars: Vec<(&'static str, Option<String>)>,
}

/// Columns the capture reads before the flavour's variables.
const FIXED: [&str; 7] = [
    "CURRENT_USER()",
    "DATABASE()",
    "@@session.sql_mode",
    "@@session.time_zone",
    "@@session.character_set_client",
    "@@session.collation_connection",
    "@@session.lock_wait_timeout",
];

impl ClientSession {
    /// The query that captures a session on its own connection.
    pub fn capture_sql(server: ServerInfo) -> String {
        let vars = server
            .ddl_variables()
            .iter()
            .map(|v| format!("@@session.{v}"));
        let cols: Vec<String> = FIXED.iter().map(|c| c.to_string()).chain(vars).collect();
        format!("SELECT {}", cols.join(", "))
    }

    /// Reads the capture query's one row.
    pub fn from_row(server: ServerInfo, row: Vec<Option<Vec<u8>>>) -> Option<ClientSession> {
        let text = |i: usize| -> Option<String> {
            row.get(i)?
                .as_ref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
        };
        if row.len() != FIXED.len() + server.ddl_variables().len() {
            return None;
        }
        let vars = server
            .ddl_variables()
            .iter()
            .enumerate()
            .map(|(i, name)| (*name, text(FIXED.len() + i)))
            .collect();
        Some(ClientSession {
            server: Some(server),
            current_user: text(0)?,
            database: text(1),
            sql_mode: text(2).unwrap_or_default(),
            time_zone: text(3)?,
            charset_client: text(4)?,
            collation_connection: text(5)?,
            lock_wait_timeout: text(6)?.parse().ok()?,
            vars,
        })
    }

    /// The flavour's DDL variables as they are on `conn` (an engine
    /// connection), to compare with the client's (`ddl_setup`).
    pub async fn own_ddl_vars(
        conn: &mut mysql_async::Conn,
        server: ServerInfo,
    ) -> mysql_async::Result<Vec<(&'static str, Option<String>)>> {
        let names = server.ddl_variables();
        let cols: Vec<String> = names.iter().map(|v| format!("@@session.{v}")).collect();
        let row: Option<mysql_async::Row> = conn
            .query_first(format!("SELECT {}", cols.join(", ")))
            .await?;
        let row = row.map(|r| r.unwrap()).unwrap_or_default();
        Ok(names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let v = match row.get(i) {
                    Some(Value::NULL) | None => None,
                    Some(Value::Bytes(b)) => Some(String::from_utf8_lossy(b).into_owned()),
                    Some(Value::Int(n)) => Some(n.to_string()),
                    Some(Value::UInt(n)) => Some(n.to_string()),
                    Some(other) => Some(other.as_sql(true).trim_matches('\'').to_string()),
                };
                (*name, v)
            })
            .collect())
    }

    /// The DDL variables whose client value differs from `own` (the engine
    /// connection's, from `own_ddl_vars`), case-insensitively as the server
    /// compares names and keywords.
    pub fn differing_vars<'a>(
        &'a self,
        own: &'a [(&'static str, Option<String>)],
    ) -> impl Iterator<Item = (&'static str, &'a str)> + 'a {
        self.vars.iter().filter_map(move |(name, value)| {
            let v = value.as_deref()?;
            let same = own
                .iter()
                .any(|(n, o)| n == name && o.as_deref().is_some_and(|o| o.eq_ignore_ascii_case(v)));
            (!same).then_some((*name, v))
        })
    }

    /// `SET SESSION …` with parameters that puts an engine connection into
    /// this session's state for DDL: the shadow table is created and altered
    /// exactly as the client's own ALTER would be read and applied. Of the
    /// DDL variables only those that differ from `own` are set: MySQL lets
    /// only SESSION_VARIABLES_ADMIN set some of them even to their current
    /// value (`ServerInfo::ddl_variables`), which ghostwire's account
    /// should not need when the client did not change them.
    pub fn ddl_setup(&self, own: &[(&'static str, Option<String>)]) -> (String, Vec<Value>) {
        let mut sets: Vec<String> = [
            "sql_mode",
            "time_zone",
            "character_set_client",
            "collation_connection",
        ]
        .iter()
        .map(|v| format!("{v} = ?"))
        .collect();
        let mut params: Vec<Value> = vec![
            self.sql_mode.as_str().into(),
            self.time_zone.as_str().into(),
            self.charset_client.as_str().into(),
            self.collation_connection.as_str().into(),
        ];
        // Names come from `ServerInfo::ddl_variables`, a fixed list: safe in
        // the statement's text; values are parameters.
        for (name, v) in self.differing_vars(own) {
            sets.push(format!("{name} = ?"));
            // Numeric variables (booleans included) must be set as numbers.
            params.push(match v.parse::<i64>() {
                Ok(n) => Value::Int(n),
                Err(_) => v.into(),
            });
        }
        (format!("SET SESSION {}", sets.join(", ")), params)
    }

    /// The SQL mode for copying rows: the client's modes that decide how a
    /// value is converted or checked (so the copy is as strict, or as
    /// lenient, as its native ALTER: a native ALTER refuses stored zero dates
    /// under NO_ZERO_DATE even in columns it leaves alone), without the ones
    /// that only change how the engine's own statements are parsed
    /// (ANSI_QUOTES, ORACLE, …). `keep_zero_ids`: a stored 0 in an
    /// AUTO_INCREMENT column stays 0, as when a native ALTER copies an
    /// AUTO_INCREMENT column (it renumbers only a column that becomes one).
    pub fn copy_sql_mode(&self, keep_zero_ids: bool) -> String {
        const CONVERSION: [&str; 11] = [
            "STRICT_TRANS_TABLES",
            "STRICT_ALL_TABLES",
            "NO_ZERO_DATE",
            "NO_ZERO_IN_DATE",
            "ERROR_FOR_DIVISION_BY_ZERO",
            "ALLOW_INVALID_DATES",
            "TIME_ROUND_FRACTIONAL",
            "TIME_TRUNCATE_FRACTIONAL",
            "PAD_CHAR_TO_FULL_LENGTH",
            "NO_UNSIGNED_SUBTRACTION",
            "NO_AUTO_VALUE_ON_ZERO",
        ];
        let mut modes: Vec<&str> = self
            .sql_mode
            .split(',')
            .filter(|m| CONVERSION.contains(m))
            .collect();
        if keep_zero_ids && !modes.contains(&"NO_AUTO_VALUE_ON_ZERO") {
            modes.push("NO_AUTO_VALUE_ON_ZERO");
        }
        modes.join(",")
    }

    /// Whether a native ALTER in this session fails on a conversion warning
    /// (strict mode turns the row copy's warnings into errors).
    pub fn strict(&self) -> bool {
        self.sql_mode
            .split(',')
            .any(|m| m == "STRICT_TRANS_TABLES" || m == "STRICT_ALL_TABLES")
    }

    /// Setup statements for the migration's copy, replay and checksum
    /// connections: the conversion SQL mode, in UTC. UTC because TIMESTAMP
    /// values then read and compare exactly (a zone with DST has an hour
    /// that reads twice); conversions that depend on the client's zone are
    /// spelled out per column instead (see `conversion`). `None` when
    /// the captured values are not of a plain shape (they are written into
    /// SQL text, though they come from the server).
    pub fn copy_setup(&self, keep_zero_ids: bool) -> Option<Vec<String>> {
        let mode = self.copy_sql_mode(keep_zero_ids);
        if !plain(&mode, "") || self.zone_literal().is_none() {
            return None;
        }
        let mut setup = vec![
            "SET SESSION time_zone = '+00:00'".to_string(),
            format!("SET SESSION sql_mode = '{mode}'"),
        ];
        // What the expressions the copy evaluates (defaults, generated
        // columns) read: the digits of a division, the names of months
        // and days, WEEK()'s mode, AES_ENCRYPT()'s. The client's, as in
        // its native ALTER.
        for (name, value) in &self.vars {
            if matches!(
                *name,
                "div_precision_increment"
                    | "lc_time_names"
                    | "default_week_format"
                    | "block_encryption_mode"
            ) {
                let Some(v) = value.as_deref() else {
                    continue;
                };
                if !plain(v, "-") {
                    return None;
                }
                setup.push(match v.parse::<u64>() {
                    Ok(n) => format!("SET SESSION {name} = {n}"),
                    Err(_) => format!("SET SESSION {name} = '{v}'"),
                });
            }
        }
        Some(setup)
    }

    /// The client's time zone as an SQL string literal.
    fn zone_literal(&self) -> Option<String> {
        plain(&self.time_zone, "/+-:").then(|| format!("'{}'", self.time_zone))
    }

    /// The expression that feeds original column `col` (quoted) of data
    /// type `from` into a column of data type `to`, so that the server's
    /// assignment gives what the client's native ALTER gives, on a UTC
    /// connection:
    /// - into or out of TIMESTAMP, the value is moved through the client's
    ///   zone (zero dates stay as they are); a local time that does not
    ///   exist in that zone (a DST gap), which the native ALTER refuses in
    ///   strict mode, is made an invalid value so the copy refuses it too;
    /// - into a string type from a number or temporal type, the value's own
    ///   text (a FLOAT's or YEAR's display form, not a DOUBLE's digits).
    pub fn conversion(&self, col: &str, from: &str, to: &str) -> String {
        const STRINGS: [&str; 10] = [
            "char",
            "varchar",
            "tinytext",
            "text",
            "mediumtext",
            "longtext",
            "binary",
            "varbinary",
            "enum",
            "set",
        ];
        let stringy = |t: &str| STRINGS.contains(&t) || t.ends_with("blob");
        let zoned = self.zoned(col, from, to);
        let server = self.server.unwrap_or(ServerInfo {
            flavour: crate::flavour::Flavour::MariaDb,
            version: 0,
        });
        // (Into ENUM or SET only where a number there is not an index.)
        let enum_text =
            !matches!(to, "enum" | "set") || server.alter_puts_numbers_into_enums_as_text();
        if stringy(to) && !stringy(from) && enum_text && from != "bit" {
            return format!("CAST({zoned} AS CHAR)");
        }
        // A native MariaDB ALTER reads a string as an integer (truncating
        // '1.5' to 1 with a warning); an INSERT would round it.
        if super::sql::integer_type(to)
            && stringy(from)
            && from != "enum"
            && from != "set"
            && server.alter_truncates_strings_into_integers()
        {
            return format!("CAST({zoned} AS SIGNED)");
        }
        zoned
    }

    /// `col` moved through the client's zone when the conversion goes into or
    /// out of TIMESTAMP (see `conversion`).
    fn zoned(&self, col: &str, from: &str, to: &str) -> String {
        let utc = names_utc(&self.time_zone);
        let zone = match self.zone_literal() {
            Some(z) if !utc => z,
            _ => return col.to_string(),
        };
        match (from == "timestamp", to == "timestamp") {
            (true, false) => format!(
                "IF({col} IS NULL OR {col} = 0, {col}, CONVERT_TZ({col}, '+00:00', {zone}))"
            ),
            (false, true) => {
                let converted = format!("CONVERT_TZ({col}, {zone}, '+00:00')");
                let gap = format!("CONVERT_TZ({converted}, '+00:00', {zone}) <> {col}");
                let invalid = if self.strict() {
                    format!("WHEN {gap} THEN 'not a time in the session zone' ")
                } else {
                    String::new()
                };
                // A value CONVERT_TZ cannot read (a zero in a date part)
                // goes in as it is, for the server to refuse or zero as a
                // native ALTER would.
                format!(
                    "CASE WHEN {col} IS NULL OR {col} = 0 THEN {col} {invalid}\
                     ELSE COALESCE({converted}, {col}) END"
                )
            }
            _ => col.to_string(),
        }
    }
}

/// Whether a time zone setting names UTC itself (SYSTEM is the server's
/// zone, whatever that is).
pub(crate) fn names_utc(zone: &str) -> bool {
    matches!(
        zone.to_ascii_uppercase().as_str(),
        "UTC"
            | "GMT"
            | "ETC/UTC"
            | "ETC/GMT"
            | "UNIVERSAL"
            | "ZULU"
            | "+00:00"
            | "-00:00"
            | "+0:00"
    )
}

fn plain(s: &str, extra: &str) -> bool {
    s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "_,".contains(c) || extra.contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_mode_keeps_strictness_and_drops_zero_date_checks() {
        let s = ClientSession {
            sql_mode: "STRICT_TRANS_TABLES,NO_ZERO_DATE,NO_ZERO_IN_DATE,ANSI_QUOTES".into(),
            time_zone: "Europe/Berlin".into(),
            ..Default::default()
        };
        assert_eq!(
            s.copy_sql_mode(true),
            "STRICT_TRANS_TABLES,NO_ZERO_DATE,NO_ZERO_IN_DATE,NO_AUTO_VALUE_ON_ZERO"
        );
        assert_eq!(
            s.copy_sql_mode(false),
            "STRICT_TRANS_TABLES,NO_ZERO_DATE,NO_ZERO_IN_DATE"
        );
        let setup = s.copy_setup(true).unwrap();
        assert_eq!(setup[0], "SET SESSION time_zone = '+00:00'");
        assert!(s
            .conversion("`d`", "datetime", "timestamp")
            .contains("CONVERT_TZ(`d`, 'Europe/Berlin', '+00:00')"));
        assert_eq!(s.conversion("`d`", "timestamp", "timestamp"), "`d`");
        assert_eq!(s.conversion("`f`", "float", "varchar"), "CAST(`f` AS CHAR)");
        let bad = ClientSession {
            time_zone: "x'; DROP".into(),
            ..Default::default()
        };
        assert!(bad.copy_setup(true).is_none());
    }

    #[test]
    fn the_copy_evaluates_expressions_with_the_clients_locale_and_precision() {
        let s = ClientSession {
            time_zone: "+00:00".into(),
            vars: vec![
                ("div_precision_increment", Some("10".into())),
                ("lc_time_names", Some("de_DE".into())),
                ("foreign_key_checks", Some("0".into())),
            ],
            ..Default::default()
        };
        let setup = s.copy_setup(false).unwrap();
        assert!(setup.contains(&"SET SESSION div_precision_increment = 10".to_string()));
        assert!(setup.contains(&"SET SESSION lc_time_names = 'de_DE'".to_string()));
        assert_eq!(setup.len(), 4, "{setup:?}");
        let bad = ClientSession {
            time_zone: "+00:00".into(),
            vars: vec![("lc_time_names", Some("x'; DROP".into()))],
            ..Default::default()
        };
        assert!(bad.copy_setup(false).is_none());
    }
}
