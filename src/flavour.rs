//! What differs between the servers ghostwire runs in front of (MariaDB and
//! MySQL, by version), in one place: detection, the session variables that
//! shape an ALTER's meaning, and the error codes the engine reacts to.

/// The server family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavour {
    MariaDb,
    MySql,
}

/// Flavour and version (`major * 10000 + minor * 100 + patch`, the form the
/// servers use in versioned comments: 10.11.6 → 101106, 8.0.40 → 80040).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
}
