//! The automatic throttler: while a migration copies, it watches what the
//! copy's extra writes do to the rest of the system and holds the copy when
//! it hurts (Vitess' tablet throttler and gh-ost's `--max-lag-millis` /
//! `--max-load` are the references):
//!
//! - **replica lag**, measured by a heartbeat row ghostwire writes on the
//!   primary every `check_interval_ms` and reads on each replica of
//!   `[throttle] replicas` and, with `discover_replicas`, of those the
//!   primary lists (`replicas`). The value written is the proxy's own clock, and
//!   the lag is the proxy's clock minus the value a replica has, so clocks of
//!   the servers never matter, and neither does `Seconds_Behind_Master`.
//!   An unreachable replica throttles (fail closed) and says so.
//! - **load**: `Threads_running` on the primary over `max_threads_running`.
//! - **client latency** (what only a proxy can see): the p99 of every client
//!   statement over the last seconds against its value before the copy
//!   started (`max_client_p99_factor`).
//!
//! Hysteresis: a check that throttles releases only below 80 % of its limit.
//! The verdict (the reason, or none) is published on a watch channel; each
//! migration's `Control` follows it unless the operator overrode it
//! (`THROTTLE` / `UNTHROTTLE`). Only the copy obeys: the binlog replay goes
//! on (it writes what the application wrote, once more), so the shadow never
//! falls behind without bound and the cut-over stays near.

pub mod latency;
mod replicas;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mysql_async::prelude::Queryable;
use mysql_async::{Opts, Pool};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::config::Throttle as Settings;
use crate::flavour::ServerInfo;
use replicas::Replicas;

/// Below this share of a limit, a check that throttled lets go.
const RELEASE: f64 = 0.8;
/// Client latency compared against the baseline: the last second.
const WINDOW: Duration = Duration::from_secs(1);
/// Client latency before the copy that makes the baseline.
const BASELINE: Duration = Duration::from_secs(10);
/// A latency rise smaller than this never throttles (sub-millisecond noise).
const LATENCY_FLOOR: Duration = Duration::from_millis(2);

pub struct Throttler {
    settings: Settings,
    /// Every client statement's latency, recorded by the sessions.
    pub client_latency: latency::Latency,
    verdict: watch::Sender<Option<String>>,
    /// Migrations copying now (the checks run only then).
    copying: AtomicUsize,
}

/// Held while a migration copies; the throttler works while any is held.
pub struct Copying(Arc<Throttler>);

impl Drop for Copying {
    fn drop(&mut self) {
        self.0.copying.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Throttler {
    pub fn new(settings: Settings) -> Arc<Throttler> {
        Arc::new(Throttler {
            settings,
            client_latency: latency::Latency::new(),
            verdict: watch::Sender::new(None),
            copying: AtomicUsize::new(0),
        })
    }

    /// The verdict: why the copy should hold now, if it should.
    pub fn subscribe(&self) -> watch::Receiver<Option<String>> {
        self.verdict.subscribe()
    }

    pub fn copying(self: &Arc<Self>) -> Copying {
        self.copying.fetch_add(1, Ordering::SeqCst);
        Copying(self.clone())
    }

    /// Runs the checks until `stop`, against the primary of `primary`
    /// (ghostwire's own account) and the replicas (configured, and listed
    /// by the primary `server` with `discover_replicas`).
    pub fn spawn(
        self: &Arc<Self>,
        primary: Pool,
        base: Opts,
        server: ServerInfo,
        instance: String,
        stop: CancellationToken,
    ) {
        let me = self.clone();
        tokio::spawn(async move {
            let discover = me.settings.discover_replicas.then_some(server);
            let mut replicas = Replicas::new(base, &me.settings.replicas, discover);
            let mut run = Run::default();
            let tick = Duration::from_millis(me.settings.check_interval_ms.max(10));
            loop {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tokio::time::sleep(tick) => {}
                }
                if me.copying.load(Ordering::SeqCst) == 0 {
                    run = Run::default();
                    replicas.expire();
                    me.publish(None);
                    continue;
                }
                replicas.refresh(&primary, run.discovered_failed).await;
                let reason = me.check(&primary, &replicas, &instance, &mut run).await;
                me.publish(reason);
            }
            replicas.close().await;
        });
    }

    fn publish(&self, reason: Option<String>) {
        let changed = self.verdict.send_if_modified(|v| {
            let kind = |r: &Option<String>| r.as_deref().map(reason_label);
            let changed = kind(v) != kind(&reason);
            *v = reason.clone();
            changed
        });
        if changed {
            match &reason {
                Some(r) => info!(reason = %r, "throttling migrations"),
                None => info!("throttle lifted"),
            }
            for label in [
                "replica_lag",
                "replica_unreachable",
                "threads_running",
                "client_latency",
            ] {
                let on = reason.as_deref().map(reason_label) == Some(label);
                metrics::gauge!(crate::metrics::THROTTLED, "reason" => label).set(on as u8 as f64);
            }
        }
    }

    /// One round of checks; the first that holds is the reason.
    async fn check(
        &self,
        primary: &Pool,
        replicas: &Replicas,
        instance: &str,
        run: &mut Run,
    ) -> Option<String> {
        let s = &self.settings;
        let limit_hit =
            |was: bool, value: f64, max: f64| value > max || (was && value > max * RELEASE);
        let held = |label: &str| run.reason.as_deref().map(reason_label) == Some(label);
        let started = *run.started.get_or_insert_with(Instant::now);
        // Heartbeat on the primary (only needed with replicas to read it).
        if replicas.watching() {
            if let Err(e) = beat(primary, instance).await {
                warn!(error = %e, "could not write the throttler's heartbeat");
            }
        }
        let mut reason = replicas.failure().map(|f| format!("{f}; holding the copy"));
        run.discovered_failed = false;
        for (addr, pool) in replicas.all() {
            let max = s.max_replica_lag_ms as f64 / 1000.0;
            match read_lag(pool, instance, Duration::from_millis(1000)).await {
                // Before our first beat arrived the lag is at most the time
                // since the checks began (an old beat says nothing).
                Ok(lag) => {
                    let lag = lag.unwrap_or(f64::MAX).min(started.elapsed().as_secs_f64());
                    metrics::gauge!(crate::metrics::REPLICA_LAG, "replica" => addr.clone())
                        .set(lag);
                    if reason.is_none() && limit_hit(held("replica_lag"), lag, max) {
                        reason = Some(format!("replica lag {lag:.2} s on {addr} (max {max:.2} s)"));
                    }
                }
                Err(e) => {
                    run.discovered_failed |= replicas.is_discovered(addr);
                    if reason.is_none() {
                        reason = Some(format!(
                            "replica {addr} unreachable ({e}); holding the copy"
                        ));
                    }
                }
            }
        }
        if reason.is_none() && s.max_threads_running > 0 {
            let max = s.max_threads_running as f64;
            if let Ok(Some(running)) = threads_running(primary).await {
                if limit_hit(held("threads_running"), running, max) {
                    reason = Some(format!(
                        "threads_running {running} on the primary (max {max})"
                    ));
                }
            }
        }
        if s.max_client_p99_factor > 0.0 {
            if run.baseline.is_none() {
                // Latency of the seconds before this round of copying.
                run.baseline = self.client_latency.p99(BASELINE, 50).map(|b| b.0);
            }
            let now = self.client_latency.p99(WINDOW, 20);
            tracing::debug!(baseline = ?run.baseline, ?now, "client latency");
            if let (None, Some(base), Some((now, _))) = (&reason, run.baseline, now) {
                let max = base
                    .mul_f64(s.max_client_p99_factor)
                    .max(base + LATENCY_FLOOR);
                if limit_hit(held("client_latency"), now.as_secs_f64(), max.as_secs_f64()) {
                    reason = Some(format!(
                        "client latency: p99 {:.1} ms against {:.1} ms before the migration (max {}×)",
                        now.as_secs_f64() * 1e3,
                        base.as_secs_f64() * 1e3,
                        s.max_client_p99_factor
                    ));
                }
            }
        }
        run.reason = reason.clone();
        reason
    }
}

/// State of one stretch of copying.
#[derive(Default)]
struct Run {
    started: Option<Instant>,
    baseline: Option<Duration>,
    reason: Option<String>,
    /// A discovered replica did not answer in the last round.
    discovered_failed: bool,
}

/// The metric label of a reason.
fn reason_label(r: &str) -> &'static str {
    if r.starts_with("replica lag") {
        "replica_lag"
    } else if r.starts_with("replica ") {
        "replica_unreachable"
    } else if r.starts_with("threads_running") {
        "threads_running"
    } else {
        "client_latency"
    }
}

fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

async fn beat(primary: &Pool, instance: &str) -> Result<(), mysql_async::Error> {
    let mut conn = primary.get_conn().await?;
    conn.exec_drop(
        "REPLACE INTO `_ghostwire`.`heartbeat` (instance, beat_us) VALUES (?, ?)",
        (instance, now_us()),
    )
    .await
}

/// Seconds since the beat a replica holds (`None`: none of ours yet).
async fn read_lag(pool: &Pool, instance: &str, timeout: Duration) -> Result<Option<f64>, String> {
    let read = async {
        let mut conn = pool.get_conn().await?;
        conn.exec_first::<i64, _, _>(
            "SELECT beat_us FROM `_ghostwire`.`heartbeat` WHERE instance = ?",
            (instance,),
        )
        .await
    };
    match tokio::time::timeout(timeout, read).await {
        Ok(Ok(beat)) => Ok(beat.map(|b| (now_us() - b).max(0) as f64 / 1e6)),
        // No heartbeat table yet (it replicates with the first beat).
        Ok(Err(mysql_async::Error::Server(e))) if e.code == 1146 || e.code == 1049 => Ok(None),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer in {} ms", timeout.as_millis())),
    }
}

async fn threads_running(primary: &Pool) -> Result<Option<f64>, mysql_async::Error> {
    let mut conn = primary.get_conn().await?;
    let row: Option<(String, String)> = conn
        .query_first("SHOW GLOBAL STATUS LIKE 'Threads_running'")
        .await?;
    Ok(row.and_then(|(_, v)| v.parse().ok()))
}
