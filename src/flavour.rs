//! What differs between the servers ghostwire runs in front of (MariaDB and
//! MySQL, by version), in one place: detection, the session variables that
//! shape an ALTER's meaning, and the error codes the engine reacts to.

/// The server family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Flavour {
    MariaDb,
    MySql,
}

/// Flavour and version (`major * 10000 + minor * 100 + patch`, the form the
/// servers use in versioned comments: 10.11.6 → 101106, 8.0.40 → 80040).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ServerInfo {
    pub flavour: Flavour,
    pub version: u32,
}

impl ServerInfo {
    /// From `@@version` (`10.11.6-MariaDB-0+deb12u1`, `9.7.4`) or a greeting's
    /// version string (MariaDB prefixes `5.5.5-` for old clients).
    pub fn parse(version: &str) -> ServerInfo {
        let flavour = if version.to_ascii_lowercase().contains("mariadb") {
            Flavour::MariaDb
        } else {
            Flavour::MySql
        };
        let v = version.strip_prefix("5.5.5-").unwrap_or(version);
        let mut parts = v
            .split(|c: char| !c.is_ascii_digit())
            .take(3)
            .map(|p| p.parse::<u32>().unwrap_or(0));
        let (a, b, c) = (
            parts.next().unwrap_or(0),
            parts.next().unwrap_or(0),
            parts.next().unwrap_or(0),
        );
        ServerInfo {
            flavour,
            version: a * 10000 + b.min(99) * 100 + c.min(99),
        }
    }

    /// Session variables that decide what an ALTER means, beyond
    /// `sql_mode`, `time_zone` and the connection character set (which
    /// every capture reads): each is replayed on the engine's connections
    /// for the migration. Only variables the server has: reading an
    /// unknown one is an error.
    pub fn ddl_variables(self) -> &'static [&'static str] {
        match self.flavour {
            Flavour::MariaDb => &[
                "explicit_defaults_for_timestamp",
                "foreign_key_checks",
                "unique_checks",
                "default_storage_engine",
                "default_tmp_storage_engine",
                "innodb_strict_mode",
                "check_constraint_checks",
                "old_mode",
                "div_precision_increment",
                "lc_time_names",
                "default_week_format",
            ],
            Flavour::MySql => &[
                "explicit_defaults_for_timestamp",
                "foreign_key_checks",
                "unique_checks",
                "default_storage_engine",
                "default_tmp_storage_engine",
                "innodb_strict_mode",
                "default_collation_for_utf8mb4",
                "sql_require_primary_key",
                "div_precision_increment",
                "lc_time_names",
                "default_week_format",
                "block_encryption_mode",
            ],
        }
    }

    /// Server errors meaning "this ALTER cannot be done with
    /// ALGORITHM=INSTANT" (1845, 1846 on both; MariaDB's 4092 for
    /// "not supported for this table"; MySQL 8.0.29+'s row-version and
    /// row-size limits).
    pub fn not_instant(self, code: u16) -> bool {
        match self.flavour {
            Flavour::MariaDb => matches!(code, 1845 | 1846 | 4092),
            Flavour::MySql => matches!(code, 1845 | 1846 | 4080 | 4092),
        }
    }
}

/// The processlist state of a statement waiting for a table's metadata
/// lock, as a `LIKE` pattern: "Waiting for table metadata lock" on both
/// (MariaDB also says "Waiting for table level lock" for `LOCK TABLES`).
pub const METADATA_LOCK_WAIT_STATE: &str = "Waiting for table%lock";

// The same on both, checked on MariaDB 10.11 and MySQL 9.7, so not
// switched here: `LOCK IN SHARE MODE` (MySQL's `FOR SHARE` is newer, and
// MariaDB 10.11 lacks it), `CREATE TABLE … LIKE`, `RENAME TABLE` of two
// pairs, `LOCK TABLES`, `GET_LOCK`, `CRC32`/`BIT_XOR`.

impl ServerInfo {
    /// The statement that shows the binary log's current file and position.
    /// MySQL renamed it in 8.2 and removed `SHOW MASTER STATUS` in 8.4 (a
    /// syntax error on 9.7); MariaDB keeps `SHOW MASTER STATUS`.
    pub fn binlog_status_sql(self) -> &'static str {
        match self.flavour {
            Flavour::MySql if self.version >= 80200 => "SHOW BINARY LOG STATUS",
            _ => "SHOW MASTER STATUS",
        }
    }

    /// Statements a binlog-reading connection runs before it asks for the
    /// stream. MariaDB sends events in a format mysql_async cannot read
    /// unless the replica declares its capability; MySQL needs nothing
    /// (its GTID and checksum settings are negotiated by mysql_async, and
    /// GTID events are skipped as non-row events).
    pub fn binlog_setup(self) -> &'static [&'static str] {
        match self.flavour {
            Flavour::MariaDb => &["SET @mariadb_slave_capability = 4"],
            Flavour::MySql => &[],
        }
    }

    /// Run before reading `information_schema.TABLES.AUTO_INCREMENT`: MySQL
    /// 8+ serves it from cached statistics (a day old by default), MariaDB
    /// reads it live and has no such variable.
    pub fn fresh_table_stats_sql(self) -> Option<&'static str> {
        match self.flavour {
            Flavour::MySql => Some("SET SESSION information_schema_stats_expiry = 0"),
            Flavour::MariaDb => None,
        }
    }

    /// Appended to the client's ALTER for the instant probe, on a line of
    /// its own (a trailing `--` or `#` comment ends before it). MySQL
    /// refuses INSTANT together with any LOCK clause (ERR 1221, after the
    /// privilege checks, verified on 9.7.4), so a client's `LOCK=NONE` would
    /// make the probe fail for a reason that is not the algorithm's; the
    /// last LOCK clause wins, so `LOCK=DEFAULT` after it lets the server
    /// answer for the algorithm (1845/1846 → copy). MariaDB accepts
    /// INSTANT with a LOCK clause.
    /// The instant probe's suffix for an ALTER with an ENGINE clause:
    /// MariaDB 10.11 accepts `ENGINE=Aria, ALGORITHM=INSTANT` (and NOCOPY)
    /// and silently runs a blocking copy, but refuses INPLACE (1845) for an
    /// engine change, so there the probe asks for INPLACE. (Re-stating the
    /// same engine is an online in-place rebuild natively; it stays one.)
    /// The rights are checked before the algorithm either way.
    pub fn engine_probe_suffix(self) -> &'static str {
        match self.flavour {
            Flavour::MySql => self.instant_probe_suffix(),
            Flavour::MariaDb => "\n, ALGORITHM=INPLACE",
        }
    }

    /// Whether CHECK constraint names are unique per schema (MySQL), not
    /// per table (MariaDB).
    pub fn check_names_per_schema(self) -> bool {
        matches!(self.flavour, Flavour::MySql)
    }

    /// Whether a column's default as information_schema.COLUMNS shows it
    /// (`default`, with its `extra` in lower case) is an expression, not a
    /// literal: MySQL marks expressions DEFAULT_GENERATED and shows
    /// literals bare; MariaDB quotes literal strings.
    pub fn default_is_expression(self, default: &str, extra: &str) -> bool {
        match self.flavour {
            Flavour::MySql => extra.contains("default_generated"),
            Flavour::MariaDb => {
                !default.starts_with('\'') && default != "NULL" && default.parse::<f64>().is_err()
            }
        }
    }

    pub fn instant_probe_suffix(self) -> &'static str {
        match self.flavour {
            Flavour::MySql => "\n, ALGORITHM=INSTANT, LOCK=DEFAULT",
            Flavour::MariaDb => "\n, ALGORITHM=INSTANT",
        }
    }

    /// The second probe for a metadata-only ALTER (dropping or renaming
    /// secondary indexes) that cannot be instant (MySQL's DROP INDEX): in
    /// place, writes allowed, as natively.
    pub fn inplace_probe_suffix(self) -> &'static str {
        "\n, ALGORITHM=INPLACE, LOCK=NONE"
    }

    /// How a native ALTER reports a NULL copied into a NOT NULL column
    /// (code, SQLSTATE, message); the copy's `INSERT … SELECT` says ERR
    /// 1048 "Column 'c' cannot be null" instead.
    pub fn null_into_not_null(self, column: &str) -> (u16, &'static str, String) {
        match self.flavour {
            Flavour::MariaDb => (
                1265,
                "01000",
                format!("Data truncated for column '{column}' at row 1"),
            ),
            Flavour::MySql => (1138, "22004", "Invalid use of NULL value".to_string()),
        }
    }

    /// How a native ALTER converts a string into an integer column:
    /// MariaDB reads it as an integer (truncating '1.5' to 1, with a
    /// warning); MySQL stores it as a number (rounding to 2), as an INSERT
    /// does.
    pub fn alter_truncates_strings_into_integers(self) -> bool {
        self.flavour == Flavour::MariaDb
    }

    /// How a native ALTER converts a number into an ENUM/SET column:
    /// MariaDB takes it as a member's index, MySQL as the member's text.
    pub fn alter_puts_numbers_into_enums_as_text(self) -> bool {
        self.flavour == Flavour::MySql
    }

    /// Whether `information_schema.TRIGGERS` shows a table's triggers only
    /// to an account with the TRIGGER privilege on it. MySQL hides them
    /// silently (an empty answer, not an error), so ghostwire's account
    /// needs TRIGGER there to refuse tables that have triggers; MariaDB
    /// shows them to any account with a privilege on the table.
    pub fn triggers_need_trigger_privilege(self) -> bool {
        self.flavour == Flavour::MySql
    }

    /// Whether `\` is LIKE's escape character (no ESCAPE clause) in a
    /// session with or without NO_BACKSLASH_ESCAPES: MySQL then has none
    /// (`'a\\b'` matches `a\\b` literally); MariaDB 10.11 keeps `\`
    /// (verified: `'a_b' LIKE 'a\_b'` is 1 there under that mode).
    pub fn like_backslash_escape(self, no_backslash_escapes: bool) -> bool {
        self.flavour == Flavour::MariaDb || !no_backslash_escapes
    }

    /// The statement that lists the replicas registered with this primary
    /// (columns `Host` and `Port` on both: the replica's `report_host` and
    /// `report_port`). MySQL renamed it in 8.0.22 (`SHOW SLAVE HOSTS` is
    /// gone in 8.4); MariaDB keeps `SHOW SLAVE HOSTS`.
    pub fn replica_hosts_sql(self) -> &'static str {
        match self.flavour {
            Flavour::MySql if self.version >= 80022 => "SHOW REPLICAS",
            _ => "SHOW SLAVE HOSTS",
        }
    }

    /// The right that statement needs: MySQL's REPLICATION SLAVE (which
    /// ghostwire's account has for the binlog anyway); MariaDB 10.5.2+
    /// asks for REPLICATION MASTER ADMIN (verified on 10.11: ERR 1227
    /// without it).
    pub fn replica_hosts_right(self) -> &'static str {
        match self.flavour {
            Flavour::MariaDb if self.version >= 100502 => "REPLICATION MASTER ADMIN",
            _ => "REPLICATION SLAVE",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        let m = ServerInfo::parse("10.11.6-MariaDB-0+deb12u1-log");
        assert_eq!((m.flavour, m.version), (Flavour::MariaDb, 101106));
        let m = ServerInfo::parse("5.5.5-10.11.6-MariaDB");
        assert_eq!((m.flavour, m.version), (Flavour::MariaDb, 101106));
        let m = ServerInfo::parse("9.7.4");
        assert_eq!((m.flavour, m.version), (Flavour::MySql, 90704));
        let m = ServerInfo::parse("8.0.40-0ubuntu0.22.04.1");
        assert_eq!((m.flavour, m.version), (Flavour::MySql, 80040));
    }

    #[test]
    fn like_escape_under_no_backslash_escapes() {
        let maria = ServerInfo::parse("10.11.19-MariaDB");
        let mysql = ServerInfo::parse("9.7.4");
        assert!(maria.like_backslash_escape(true) && maria.like_backslash_escape(false));
        assert!(!mysql.like_backslash_escape(true) && mysql.like_backslash_escape(false));
    }

    #[test]
    fn replica_listing() {
        let sql = |v: &str| ServerInfo::parse(v).replica_hosts_sql();
        assert_eq!(sql("8.0.21"), "SHOW SLAVE HOSTS");
        assert_eq!(sql("8.0.22"), "SHOW REPLICAS");
        assert_eq!(sql("9.7.4"), "SHOW REPLICAS");
        assert_eq!(sql("10.11.19-MariaDB"), "SHOW SLAVE HOSTS");
        let right = |v: &str| ServerInfo::parse(v).replica_hosts_right();
        assert_eq!(right("10.11.19-MariaDB"), "REPLICATION MASTER ADMIN");
        assert_eq!(right("10.4.30-MariaDB"), "REPLICATION SLAVE");
        assert_eq!(right("9.7.4"), "REPLICATION SLAVE");
    }
}
