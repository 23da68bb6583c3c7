//! The open-files limit: each client takes two descriptors (its socket and
//! its backend connection), so `max_connections` only means something when
//! the process may open that many. At start the soft limit is raised to the
//! hard one (what any process may do for itself), and a limit that still
//! cannot hold `2 × max_connections` plus [`HEADROOM`] stops ghostwire:
//! otherwise about half the clients of a full proxy would get "Too many open
//! files" instead of a connection, long after the start, when nobody is
//! looking at the configuration.

use tracing::{info, warn};

/// Descriptors beside the clients': the engine's pools (up to 64 each),
/// binlog streams, listeners, the metrics endpoint, log files, replicas.
pub const HEADROOM: u64 = 256;

#[derive(Debug, thiserror::Error)]
pub enum FdLimitError {
    #[error(
        "[listen] max_connections = {max_connections} needs {needed} open files \
         (2 per connection + {HEADROOM}), but the limit is {limit}: raise it \
         (ulimit -n, systemd LimitNOFILE=, docker --ulimit nofile=) or lower \
         max_connections to at most {fits}"
    )]
    TooLow {
        max_connections: usize,
        needed: u64,
        limit: u64,
        fits: u64,
    },
}

/// Descriptors `max_connections` clients need.
pub fn needed(max_connections: usize) -> u64 {
    2 * max_connections as u64 + HEADROOM
}

/// Raises the soft RLIMIT_NOFILE to the hard limit and checks that it holds
/// `max_connections`. Returns the limit in force.
pub fn raise_and_check(max_connections: usize) -> Result<u64, FdLimitError> {
    let needed = needed(max_connections);
    let (soft, hard) = match rlimit::getrlimit(rlimit::Resource::NOFILE) {
        Ok(l) => l,
        Err(e) => {
            // No way to tell: go on, as before this check existed.
            warn!(error = %e, "cannot read the open-files limit");
            return Ok(u64::MAX);
        }
    };
    let limit = match rlimit::increase_nofile_limit(hard) {
        Ok(l) => l,
        Err(e) => {
            // E.g. a hard limit of "unlimited", which Linux does not allow
            // as a soft one: keep the soft limit and check against it.
            warn!(error = %e, soft, hard, "cannot raise the open-files limit");
            soft
        }
    };
    if limit > soft {
        info!(from = soft, to = limit, "raised the open-files limit");
    }
    if limit < needed {
        return Err(FdLimitError::TooLow {
            max_connections,
            needed,
            limit,
            fits: limit.saturating_sub(HEADROOM) / 2,
        });
    }
    Ok(limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_says_what_fits() {
        let e = FdLimitError::TooLow {
            max_connections: 1000,
            needed: needed(1000),
            limit: 1024,
            fits: (1024 - HEADROOM) / 2,
        };
        let text = e.to_string();
        assert!(
            text.contains("needs 2256") && text.contains("at most 384"),
            "{text}"
        );
    }
}
