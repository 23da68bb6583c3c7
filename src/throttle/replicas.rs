//! The replicas whose lag the throttler reads: the configured ones and,
//! with `discover_replicas`, those the primary lists (`SHOW REPLICAS` /
//! `SHOW SLAVE HOSTS`, per `flavour`), at the address each reports
//! (`report_host:report_port`). The list is read when a copy starts, every
//! `REDISCOVER` while it runs, and sooner when a discovered replica stops
//! answering (it may have gone away: then it leaves the list). A listing
//! that fails holds the copy (fail closed, as an unreachable replica does):
//! ghostwire cannot tell which replicas it would hurt. Entries without an
//! address are not watched: binlog readers register too (ghostwire's own
//! tail, CDC tools), with no host, and so does a MySQL replica without
//! `report_host`; they are logged when the list changes.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use mysql_async::{Opts, OptsBuilder, Pool, Row};
use tracing::{info, warn};

use crate::flavour::ServerInfo;

/// How often the primary's list is read again while a copy runs.
const REDISCOVER: Duration = Duration::from_secs(10);
/// The soonest a failing discovered replica makes the list be read again.
const URGENT_AFTER: Duration = Duration::from_secs(1);

pub(crate) struct Replicas {
    base: Opts,
    configured: Vec<String>,
    /// `Some` when discovery is on.
    server: Option<ServerInfo>,
    /// Configured first, then discovered ones not configured.
    pools: Vec<(String, Pool)>,
    discovered: BTreeSet<String>,
    /// Server ids listed without an address (not watched).
    unaddressed: BTreeSet<String>,
    listed_at: Option<Instant>,
    /// Why the last listing failed (the throttle reason).
    failure: Option<String>,
}

impl Replicas {
    pub(crate) fn new(base: Opts, configured: &[String], server: Option<ServerInfo>) -> Self {
        Replicas {
            pools: configured
                .iter()
                .map(|a| (a.clone(), Pool::new(replica_opts(&base, a))))
                .collect(),
            base,
            configured: configured.to_vec(),
            server,
            discovered: BTreeSet::new(),
            unaddressed: BTreeSet::new(),
            listed_at: None,
            failure: None,
        }
    }

    pub(crate) fn all(&self) -> &[(String, Pool)] {
        &self.pools
    }

    /// Whether any replica is (or may be) watched: the heartbeat is
    /// written only then.
    pub(crate) fn watching(&self) -> bool {
        !self.pools.is_empty() || self.server.is_some()
    }

    /// Why the replicas are unknown, when the last listing failed.
    pub(crate) fn failure(&self) -> Option<&str> {
        self.failure.as_deref()
    }

    pub(crate) fn is_discovered(&self, addr: &str) -> bool {
        self.discovered.contains(addr)
    }

    /// A new stretch of copying reads the list again first.
    pub(crate) fn expire(&mut self) {
        self.listed_at = None;
    }

    /// Reads the primary's list when it is due (or sooner, `urgent`, when a
    /// discovered replica did not answer); no-op without discovery.
    pub(crate) async fn refresh(&mut self, primary: &Pool, urgent: bool) {
        let Some(server) = self.server else {
            return;
        };
        let due = match self.listed_at {
            None => true,
            Some(t) => t.elapsed() >= REDISCOVER || (urgent && t.elapsed() >= URGENT_AFTER),
        };
        if !due {
            return;
        }
        self.listed_at = Some(Instant::now());
        match list(primary, server).await {
            Ok(listed) => {
                self.failure = None;
                if listed.unaddressed != self.unaddressed {
                    if !listed.unaddressed.is_empty() {
                        info!(
                            server_ids = ?listed.unaddressed,
                            "the primary lists replicas without an address (binlog readers, or \
                             replicas without report_host): not watched"
                        );
                    }
                    self.unaddressed = listed.unaddressed;
                }
                self.replace(listed.addresses).await;
            }
            Err(e) => {
                // Keep watching those known so far.
                warn!(error = %e, "could not list the primary's replicas");
                self.failure = Some(e);
            }
        }
    }

    /// The discovered set becomes `found` (configured replicas stay).
    async fn replace(&mut self, found: BTreeSet<String>) {
        let found: BTreeSet<String> = found
            .into_iter()
            .filter(|a| !self.configured.contains(a))
            .collect();
        if found == self.discovered {
            return;
        }
        info!(replicas = ?found, "replicas discovered on the primary");
        let mut kept = Vec::new();
        for (addr, pool) in std::mem::take(&mut self.pools) {
            if self.configured.contains(&addr) || found.contains(&addr) {
                kept.push((addr, pool));
            } else {
                let _ = pool.disconnect().await;
            }
        }
        for addr in found.difference(&self.discovered) {
            kept.push((addr.clone(), Pool::new(replica_opts(&self.base, addr))));
        }
        self.pools = kept;
        self.discovered = found;
    }

    pub(crate) async fn close(self) {
        for (_, pool) in self.pools {
            let _ = pool.disconnect().await;
        }
    }
}

/// What the primary lists.
#[derive(Default)]
struct Listed {
    /// `host:port` of each replica that reports an address.
    addresses: BTreeSet<String>,
    /// Server ids of those that do not.
    unaddressed: BTreeSet<String>,
}

async fn list(primary: &Pool, server: ServerInfo) -> Result<Listed, String> {
    let sql = server.replica_hosts_sql();
    let rows: Vec<Row> = async {
        let mut conn = primary.get_conn().await?;
        conn.query(sql).await
    }
    .await
    .map_err(|e| match e {
        mysql_async::Error::Server(s) if s.code == 1227 => format!(
            "replica discovery failed: {sql} needs {} for ghostwire's account ({})",
            server.replica_hosts_right(),
            s.message
        ),
        e => format!("replica discovery failed: {sql}: {e}"),
    })?;
    let mut listed = Listed::default();
    for row in rows {
        let host: Option<String> = row.get_opt("Host").and_then(Result::ok);
        let port: Option<u16> = row.get_opt("Port").and_then(Result::ok);
        let id: Option<String> = row
            .get_opt::<String, _>("Server_id")
            .or_else(|| row.get_opt("Server_Id"))
            .and_then(Result::ok);
        match (host.filter(|h| !h.is_empty()), port.filter(|p| *p != 0)) {
            (Some(host), Some(port)) => {
                listed.addresses.insert(join(&host, port));
            }
            _ => {
                listed.unaddressed.insert(id.unwrap_or_else(|| "?".into()));
            }
        }
    }
    Ok(listed)
}

/// `host:port`, an IPv6 address in brackets.
fn join(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

pub(crate) fn replica_opts(base: &Opts, addr: &str) -> Opts {
    let (host, port) = addr
        .rsplit_once(':')
        .map(|(h, p)| (h.to_string(), p.parse().unwrap_or(3306)))
        .unwrap_or_else(|| (addr.to_string(), 3306));
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .map(str::to_string)
        .unwrap_or(host);
    OptsBuilder::from_opts(base.clone())
        .ip_or_hostname(host)
        .tcp_port(port)
        .setup(Vec::<String>::new())
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(join("10.0.0.2", 3306), "10.0.0.2:3306");
        assert_eq!(join("db2.example", 3307), "db2.example:3307");
        assert_eq!(join("::1", 3306), "[::1]:3306");
        let base: Opts = OptsBuilder::default().into();
        let o = replica_opts(&base, "[::1]:3307");
        assert_eq!((o.ip_or_hostname(), o.tcp_port()), ("::1", 3307));
        let o = replica_opts(&base, "db2:3308");
        assert_eq!((o.ip_or_hostname(), o.tcp_port()), ("db2", 3308));
    }
}
