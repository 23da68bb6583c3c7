//! What can go wrong in a migration (`MigrationError`), what the client is
//! told for each (`to_packet`, from the catalogue in `protocol::errors`),
//! and `Failure`, how a background task's failure reaches its runner.

use std::sync::{Arc, Mutex};

use tokio_util::sync::CancellationToken;

use crate::protocol::errors;
use crate::protocol::packets::ErrPacket;

#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    /// A check failed; the packet says why and what to do.
    #[error("{0}")]
    Refused(ErrPacket),
    /// The server refused one of the engine's statements (e.g. the ALTER
    /// body applied to the shadow table): its own error, relayed.
    #[error("{0}")]
    Server(ErrPacket),
    #[error("backend: {0}")]
    Backend(mysql_async::Error),
    #[error("{0}")]
    Internal(String),
    #[error("cancelled")]
    Cancelled,
    /// Another instance has taken the migration over (see `fence`): this
    /// run stops without touching anything of it again.
    #[error("another ghostwire instance runs this migration now")]
    Superseded,
    /// The server went away under the run (a restart, a killed
    /// connection): the run stops and resumes from its checkpoint once the
    /// server is back (see `instance`), rather than failing.
    #[error("lost the server connection: {0}")]
    LostServer(String),
}

pub type Result<T, E = MigrationError> = std::result::Result<T, E>;

/// The rights ghostwire's own account needs (README, "Grants").
pub const GRANTS_NEEDED: &str =
    "SELECT, INSERT, DELETE, CREATE, DROP, ALTER, LOCK TABLES, CREATE TEMPORARY TABLES on the \
    migrated schemas, REPLICATION SLAVE and REPLICATION CLIENT on *.*, and ALL on _ghostwire.*";

impl From<mysql_async::Error> for MigrationError {
    fn from(e: mysql_async::Error) -> Self {
        match e {
            // Access denied to ghostwire's own account: the client's rights
            // were checked on its own connection before; this is ours.
            mysql_async::Error::Server(s) if matches!(s.code, 1044 | 1142 | 1143 | 1227) => {
                MigrationError::Refused(errors::engine_account_lacks(
                    s.code,
                    s.state,
                    &s.message,
                    GRANTS_NEEDED,
                ))
            }
            mysql_async::Error::Server(s) => {
                MigrationError::Server(ErrPacket::new(s.code, s.state, s.message))
            }
            other => MigrationError::Backend(other),
        }
    }
}

impl MigrationError {
    /// Whether this is the server going away rather than a failure of the
    /// migration itself.
    ///
    /// Also what an operator's tools do to one of the engine's connections
    /// or statements (pt-kill's `KILL [QUERY]`, `KILL USER`) and a moment
    /// at `max_connections`: the run stops and resumes from its checkpoint
    /// rather than failing the migration (`ALTER MIGRATION … CANCEL` or
    /// `PAUSE` are the ways to stop it).
    pub fn is_lost_server(&self) -> bool {
        match self {
            MigrationError::LostServer(_) => true,
            MigrationError::Backend(e) => matches!(
                e,
                mysql_async::Error::Io(_)
                    | mysql_async::Error::Driver(mysql_async::DriverError::ConnectionClosed)
            ),
            // Too many connections, server shutdown, query interrupted,
            // connection killed (MariaDB), gone away, lost, disconnected
            // for inactivity (MySQL).
            MigrationError::Server(p) => {
                matches!(p.code, 1040 | 1053 | 1317 | 1927 | 2006 | 2013 | 4031)
            }
            _ => false,
        }
    }

    /// The ERR packet a client sees for this failure.
    pub fn to_packet(&self) -> ErrPacket {
        match self {
            MigrationError::Refused(p) | MigrationError::Server(p) => p.clone(),
            MigrationError::Backend(e) => errors::migration_lost_backend(e),
            MigrationError::Internal(m) => errors::ghostwire(m),
            MigrationError::Cancelled => errors::migration_cancelled(None, None),
            MigrationError::Superseded => errors::migration_run_stopped(
                "ghostwire: another ghostwire instance runs this migration now",
            ),
            MigrationError::LostServer(m) => errors::migration_lost_backend(m),
        }
    }
}

/// A task's failure, visible to the runner that watches it.
#[derive(Clone, Default)]
pub struct Failure {
    token: CancellationToken,
    /// Why, and whether it was the server going away.
    reason: Arc<Mutex<Option<(String, bool)>>>,
}

impl Failure {
    pub fn fail(&self, reason: impl Into<String>) {
        self.set(reason.into(), false);
    }

    /// A task failed with `e`; `what` says which.
    pub fn fail_with(&self, what: &str, e: &MigrationError) {
        self.set(format!("{what}: {e}"), e.is_lost_server());
    }

    fn set(&self, reason: String, lost_server: bool) {
        let mut r = self.reason.lock().unwrap_or_else(|p| p.into_inner());
        r.get_or_insert((reason, lost_server));
        self.token.cancel();
    }

    pub fn check(&self) -> Result<()> {
        if self.token.is_cancelled() {
            let r = self.reason.lock().unwrap_or_else(|p| p.into_inner());
            return Err(match r.clone() {
                Some((reason, true)) => MigrationError::LostServer(reason),
                Some((reason, false)) => MigrationError::Internal(reason),
                None => MigrationError::Internal(String::new()),
            });
        }
        Ok(())
    }

    /// Resolves when a failure is recorded.
    pub async fn wait(&self) -> MigrationError {
        self.token.cancelled().await;
        self.check().err().unwrap_or(MigrationError::Cancelled)
    }
}
