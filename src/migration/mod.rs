//! The online migration engine: turns an intercepted `ALTER TABLE` into an
//! instant ALTER when the server can, otherwise a triggerless copy (shadow
//! table, chunked copy, binlog tail, atomic cut-over), and records every
//! migration in `_ghostwire.migrations`.
//!
//! Sessions talk to it through [`Handle`]: `submit` runs the cheap checks on
//! the caller's task, records the migration and spawns its runner; the
//! caller gets the migration id and a receiver for the outcome.

pub mod binlog;
mod carry;
mod checksum;
pub mod client_session;
mod commands;
pub mod control;
pub mod copier;
mod cutover;
mod error;
mod fence;
mod instance;
mod lifecycle;
mod opts;
mod persisted;
mod runner;
pub mod schema;
pub mod sql;
pub mod store;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mysql_async::{Opts, Pool};
use tokio::sync::{oneshot, Notify, OnceCell, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use crate::config::Config;
use crate::flavour::ServerInfo;
use crate::gate::Gates;
use crate::protocol::errors;
use crate::protocol::packets::ErrPacket;
pub use crate::sql::Hints;
pub use error::{Failure, MigrationError, Result, GRANTS_NEEDED};
use opts::engine_opts;
pub(crate) use opts::migration_opts;

/// The refusal of an ALTER while another migration of the table runs.
fn still_running(other: &str, schema: &str, table: &str) -> MigrationError {
    refused(format!(
        "migration {other} on {schema}.{table} is still running; wait for it \
         (SHOW MIGRATION '{other}') and submit this ALTER again"
    ))
}

/// A refusal with ERR 1105 (HY000) and a "ghostwire: " message.
pub fn refused(msg: impl std::fmt::Display) -> MigrationError {
    MigrationError::Refused(errors::ghostwire(msg))
}

/// One intercepted ALTER, after the server accepted it from the client
/// (see the session's `intercept`): the engine runs `ALTER TABLE <shadow>
/// <body>` and nothing else derived from client text.
#[derive(Clone, Debug)]
pub struct Request {
    /// Resolved schema (the statement's, or the session's current database).
    pub schema: String,
    pub table: String,
    /// `ALTER IGNORE`: rows colliding on a new unique key are dropped.
    pub ignore: bool,
    /// MariaDB's `ALTER ONLINE` (= `LOCK=NONE`): the shadow's ALTER says it
    /// too, so what the server cannot do without locking is refused as
    /// natively, as with the clause.
    pub online: bool,
    /// The body's column operations (names decoded), for the column mapping.
    pub ops: Vec<crate::sql::Op<String>>,
    /// The ALTER's body as the client sent it: bytes in its character set.
    pub body: Vec<u8>,
    /// The statement as the client sent it (recorded, shown to those who
    /// may see the table).
    pub text: Vec<u8>,
    /// Hints of the session and of the statement, merged.
    pub hints: Hints,
    /// The client's session when it sent the ALTER.
    pub session: client_session::ClientSession,
}

impl Request {
    /// The body sets the table's AUTO_INCREMENT counter itself.
    pub fn sets_auto_increment(&self) -> bool {
        self.ops
            .iter()
            .any(|o| matches!(o, crate::sql::Op::AutoIncrement(_)))
    }
}

/// How a completed migration went.
#[derive(Clone, Debug)]
pub struct Summary {
    pub id: String,
    pub strategy: &'static str,
    pub rows_copied: u64,
    pub stall_ms: u64,
    /// Where the old table was kept (copy strategy) and for how long (s).
    pub old_table: Option<(String, u64)>,
    /// A resume found the cut-over done (the stopped run renamed the
    /// tables before it could record so): no rows or stall to report.
    pub reconciled: bool,
}

pub type Outcome = std::result::Result<Summary, ErrPacket>;

/// A table reserved for one ALTER; the reservation ends when it drops.
pub struct Ticket {
    handle: Handle,
    pub id: String,
    key: (String, String),
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.handle.finished(&self.key, &self.id);
    }
}

pub struct Submitted {
    pub id: String,
    pub done: oneshot::Receiver<Outcome>,
}

/// Cheap to clone; shared by every session.
#[derive(Clone)]
pub struct Handle {
    inner: Arc<Inner>,
}

struct Inner {
    config: Arc<Config>,
    gates: Gates,
    /// This proxy instance; its migrations carry it as `owner`.
    instance: String,
    opts: Opts,
    pool: Pool,
    store_ready: OnceCell<()>,
    server: OnceCell<ServerInfo>,
    /// Tables with a migration under way → its id.
    active: Mutex<HashMap<(String, String), String>>,
    running: Arc<Semaphore>,
    /// Migrations running in this process → their control.
    controls: Mutex<HashMap<String, Arc<control::Control>>>,
    /// Wakes the old-table dropper (a retention just ended).
    dropper: Notify,
    throttler: Arc<crate::throttle::Throttler>,
    stop: CancellationToken,
    tasks: TaskTracker,
    /// This instance holds its owner lock (see `instance`): only then does
    /// it resume a run of its own it stopped.
    lock_held: std::sync::atomic::AtomicBool,
}

impl Handle {
    /// Creates the engine; nothing connects until the first use.
    pub fn new(config: Arc<Config>, gates: Gates) -> Handle {
        let instance = uuid::Uuid::new_v4().to_string();
        let opts = engine_opts(&config, &instance);
        let pool = Pool::new(opts.clone());
        let running = Arc::new(Semaphore::new(config.migrations.max_running));
        let throttler = crate::throttle::Throttler::new(config.throttle.clone());
        Handle {
            inner: Arc::new(Inner {
                config,
                gates,
                instance,
                opts,
                pool,
                store_ready: OnceCell::new(),
                server: OnceCell::new(),
                active: Mutex::default(),
                running,
                controls: Mutex::default(),
                dropper: Notify::new(),
                throttler,
                stop: CancellationToken::new(),
                tasks: TaskTracker::new(),
                lock_held: Default::default(),
            }),
        }
    }

    /// The server behind the proxy (flavour and version), read once.
    pub async fn server(&self) -> Result<ServerInfo> {
        self.inner
            .server
            .get_or_try_init(|| async {
                use mysql_async::prelude::Queryable;
                let mut conn = self.inner.pool.get_conn().await?;
                let v: Option<String> = conn.query_first("SELECT @@version").await?;
                Ok::<_, MigrationError>(ServerInfo::parse(&v.unwrap_or_default()))
            })
            .await
            .copied()
    }

    /// Logs what ghostwire's own account lacks of the rights it needs, and
    /// rights it has but should not (FILE, SUPER, GRANT OPTION, ALL on
    /// *.*): a migration runs only text the server accepted from the client,
    /// but the fewer rights the account has, the less any mistake can do.
    /// Read from `SHOW GRANTS` (rights through roles are not seen).
    pub async fn check_own_rights(&self) {
        use mysql_async::prelude::Queryable;
        let grants: Vec<String> = match self.inner.pool.get_conn().await {
            Ok(mut c) => match c.query("SHOW GRANTS").await {
                Ok(g) => g,
                Err(e) => return warn!(error = %e, "could not read ghostwire's own grants"),
            },
            Err(e) => return warn!(error = %e, "could not connect to check ghostwire's own grants"),
        };
        let all = grants.join("\n").to_uppercase();
        let everything = all.contains("GRANT ALL PRIVILEGES ON *.*");
        let mut needed = vec![
            "SELECT",
            "INSERT",
            "DELETE",
            "CREATE",
            "DROP",
            "ALTER",
            "LOCK TABLES",
            "CREATE TEMPORARY TABLES",
            "REPLICATION SLAVE",
        ];
        let server = self.server().await.ok();
        if server.is_some_and(|s| s.triggers_need_trigger_privilege()) {
            needed.push("TRIGGER");
        }
        // `[throttle] discover_replicas` lists the primary's replicas.
        if let (true, Some(s)) = (self.inner.config.throttle.discover_replicas, server) {
            needed.push(s.replica_hosts_right());
        }
        let missing: Vec<&str> = needed
            .into_iter()
            .filter(|p| !everything && !all.contains(p))
            .collect();
        if !missing.is_empty() {
            warn!(
                ?missing,
                needed = GRANTS_NEEDED,
                "ghostwire's own account lacks rights online migrations need"
            );
        }
        let excess: Vec<&str> = [
            ("ALL PRIVILEGES ON *.*", everything),
            ("FILE", all.contains(" FILE")),
            ("SUPER", all.contains("SUPER")),
            ("GRANT OPTION", all.contains("WITH GRANT OPTION")),
        ]
        .into_iter()
        .filter_map(|(name, has)| has.then_some(name))
        .collect();
        if !excess.is_empty() {
            warn!(
                ?excess,
                needed = GRANTS_NEEDED,
                "ghostwire's own account has rights it does not need; grant only what it needs"
            );
        }
    }

    /// The server's flavour and version if already read.
    pub fn server_cached(&self) -> Option<ServerInfo> {
        self.inner.server.get().copied()
    }

    /// Reserves `schema.table` for one ALTER (an instant attempt or a copy
    /// migration); refused while another migration of this instance holds it.
    pub async fn reserve(&self, schema: &str, table: &str) -> Result<Ticket> {
        self.ensure_store().await?;
        let id = uuid::Uuid::new_v4().to_string();
        let key = (schema.to_string(), table.to_string());
        if let Some(other) = self.take_reservation(&key, &id, None) {
            // A run whose record says it has ended is only tidying up (its
            // old table's fingerprint, its connections), nothing a new
            // migration of the table meets: whoever saw "complete" in SHOW
            // MIGRATIONS may ALTER the table again at once.
            let mut conn = self.inner.pool.get_conn().await?;
            let ended = store::state(&mut conn, &other)
                .await?
                .is_some_and(|s| matches!(s.status.as_str(), "complete" | "failed" | "cancelled"));
            if !ended {
                return Err(still_running(&other, schema, table));
            }
            if let Some(other) = self.take_reservation(&key, &id, Some(&other)) {
                return Err(still_running(&other, schema, table));
            }
        }
        // Another instance's migration of the table (its own map does not
        // know it): refused the same way, before anything is created.
        let ticket = Ticket {
            handle: self.clone(),
            id,
            key,
        };
        if let Some((other, stalled)) = self.unfinished_elsewhere(schema, table).await? {
            if stalled {
                return Err(refused(format!(
                    "migration {other} on {schema}.{table} is unfinished: the ghostwire \
                     instance running it stopped, and a running instance takes it over and \
                     resumes it after [migrations] adopt_after_ms. Wait for it (SHOW MIGRATION \
                     '{other}'; CANCEL it once it runs again) and submit this ALTER again; do not \
                     drop its helper tables by hand"
                )));
            }
            return Err(still_running(&other, schema, table));
        }
        Ok(ticket)
    }

    /// Reserves `schema.table` for migration `id`, taken over from another
    /// process; `None` while the table is reserved here already.
    fn reserve_for(&self, schema: &str, table: &str, id: &str) -> Option<Ticket> {
        let key = (schema.to_string(), table.to_string());
        let mut active = self.inner.active.lock().unwrap_or_else(|p| p.into_inner());
        if active.contains_key(&key) {
            return None;
        }
        active.insert(key.clone(), id.to_string());
        Some(Ticket {
            handle: self.clone(),
            id: id.to_string(),
            key,
        })
    }

    /// An unfinished migration of `schema.table` that another instance runs
    /// (its owner lock held).
    /// An unfinished migration of the table that no runner of this
    /// instance has: another instance's, or one whose instance stopped (or
    /// this one's, stopped and waiting to be resumed), with whether it is
    /// stalled. Its shadow would be this ALTER's too (one name per table).
    async fn unfinished_elsewhere(
        &self,
        schema: &str,
        table: &str,
    ) -> Result<Option<(String, bool)>> {
        use mysql_async::prelude::Queryable;
        let mut conn = self.inner.pool.get_conn().await?;
        let other: Option<(String, bool)> = conn
            .exec_first(
                "SELECT id, IS_USED_LOCK(CONCAT('ghostwire.', owner)) IS NULL \
                 FROM `_ghostwire`.`migrations` WHERE table_schema = ? AND table_name = ? \
                 AND status IN ('queued', 'running', 'ready', 'cutting_over') LIMIT 1",
                (schema, table),
            )
            .await?;
        Ok(other)
    }

    /// Records an ALTER the client's own connection ran with
    /// ALGORITHM=INSTANT (so it shows in `SHOW MIGRATIONS`).
    pub async fn record_instant(
        &self,
        ticket: Ticket,
        req: &Request,
        strategy: &'static str,
        stall_ms: u64,
    ) -> String {
        let message = Summary {
            id: ticket.id.clone(),
            strategy,
            rows_copied: 0,
            stall_ms,
            old_table: None,
            reconciled: false,
        }
        .message();
        let new = self.new_record(&ticket.id, req, Some((strategy, stall_ms, &message)));
        match self.inner.pool.get_conn().await {
            Ok(mut conn) => {
                if let Err(e) = store::insert(&mut conn, &new).await {
                    warn!(id = %ticket.id, error = %e, "could not record an instant ALTER");
                }
            }
            Err(e) => warn!(id = %ticket.id, error = %e, "could not record an instant ALTER"),
        }
        count_outcome(strategy, "complete");
        message
    }

    fn new_record<'a>(
        &'a self,
        id: &'a str,
        req: &'a Request,
        done: Option<(&'a str, u64, &'a str)>,
    ) -> store::NewMigration<'a> {
        store::NewMigration {
            id,
            owner: &self.inner.instance,
            schema: &req.schema,
            table: &req.table,
            statement: &req.text,
            charset: &req.session.charset_client,
            submitted_by: &req.session.current_user,
            request: done
                .is_none()
                .then(|| persisted::save_request(req))
                .flatten(),
            done,
        }
    }

    /// Checks, records and starts a copy migration of the reserved table.
    pub async fn submit(&self, ticket: Ticket, req: Request) -> Result<Submitted> {
        let inner = &self.inner;
        let mut conn = inner.pool.get_conn().await?;
        let (schema, table) = (req.schema.clone(), req.table.clone());
        if schema::table_exists(&mut conn, &schema, &table)
            .await?
            .is_none()
        {
            // The client's own connection saw the table (its ALTER got as
            // far as the algorithm): ghostwire's account cannot.
            return Err(MigrationError::Refused(errors::engine_account_cannot_see(
                &schema,
                &table,
                GRANTS_NEEDED,
            )));
        }
        let id = ticket.id.clone();
        // Registered before it is recorded: the reconciler must never see
        // a migration of ours that no runner has.
        let control = Arc::new(control::Control::new(&inner.stop));
        self.controls().insert(id.clone(), control.clone());
        if let Err(e) = store::insert(&mut conn, &self.new_record(&id, &req, None)).await {
            self.controls().remove(&id);
            return Err(e);
        }
        drop(conn);
        info!(%id, %schema, %table, "migration submitted");
        let (tx, done) = oneshot::channel();
        let handle = self.clone();
        let mid = id.clone();
        inner.tasks.spawn(async move {
            let outcome = runner::run(&handle, &mid, &req, &control, None).await;
            handle.controls().remove(&mid);
            drop(ticket);
            let _ = tx.send(outcome);
        });
        Ok(Submitted { id, done })
    }

    /// Whether `id` holds the reservation of `schema.table` here.
    fn is_reserved(&self, schema: &str, table: &str, id: &str) -> bool {
        let active = self.inner.active.lock().unwrap_or_else(|p| p.into_inner());
        active
            .get(&(schema.to_string(), table.to_string()))
            .map(String::as_str)
            == Some(id)
    }

    /// Reserves `key` for `id` unless another holds it (`ended`, known to
    /// have ended, may be replaced): returns the holder then.
    fn take_reservation(
        &self,
        key: &(String, String),
        id: &str,
        ended: Option<&str>,
    ) -> Option<String> {
        let mut active = self.inner.active.lock().unwrap_or_else(|p| p.into_inner());
        match active.get(key) {
            Some(other) if Some(other.as_str()) != ended => Some(other.clone()),
            _ => {
                active.insert(key.clone(), id.to_string());
                None
            }
        }
    }

    /// Ends `id`'s reservation of `key`, unless a later one took its place.
    fn finished(&self, key: &(String, String), id: &str) {
        let mut active = self.inner.active.lock().unwrap_or_else(|p| p.into_inner());
        if active.get(key).map(String::as_str) == Some(id) {
            active.remove(key);
        }
    }

    /// Rows for `SHOW MIGRATIONS` / `SHOW MIGRATION '<id>'`, each with what
    /// deciding who may see it needs.
    pub async fn list(&self, filter: store::Filter<'_>) -> Result<Vec<store::Listed>> {
        store::list(&self.inner.pool, filter).await
    }

    /// Schema, table and submitter (`CURRENT_USER()`) of a migration.
    pub async fn owner_of(&self, id: &str) -> Result<Option<(String, String, String)>> {
        store::owner_of(&self.inner.pool, id).await
    }

    /// The cut-over gates the engine shares with sessions.
    pub fn gates(&self) -> &Gates {
        &self.inner.gates
    }

    /// The `[cutover]` settings (the session's instant attempt uses them).
    pub fn cutover_config(&self) -> &crate::config::Cutover {
        &self.inner.config.cutover
    }

    fn controls(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<control::Control>>> {
        self.inner
            .controls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Notes how long a client statement took (the throttler's latency check).
    pub fn record_latency(&self, took: Duration) {
        self.inner.throttler.client_latency.record(took);
    }

    /// The control of a migration running in this process.
    pub fn control(&self, id: &str) -> Option<Arc<control::Control>> {
        self.controls().get(id).cloned()
    }

    /// Cancels running migrations (their tables are left unchanged) and
    /// waits for them to clean up.
    pub async fn shutdown(&self) {
        self.inner.stop.cancel();
        self.inner.tasks.close();
        self.inner.tasks.wait().await;
        // A backend that stopped answering must not hold the shutdown.
        let disconnect = self.inner.pool.clone().disconnect();
        let _ = tokio::time::timeout(Duration::from_secs(5), disconnect).await;
    }

    /// Creates `_ghostwire.migrations` (at startup, see `start`, or on
    /// first use), takes this instance's owner lock, and starts the
    /// reconciler, the old-table dropper and the throttler.
    async fn ensure_store(&self) -> Result<()> {
        let pool = &self.inner.pool;
        self.inner
            .store_ready
            .get_or_try_init(|| async {
                store::ensure(pool).await?;
                self.hold_owner_lock().await?;
                self.spawn_reconciler();
                self.spawn_request_poller();
                lifecycle::spawn_dropper(self.clone());
                let server = self.server().await?;
                let inner = &self.inner;
                inner.throttler.spawn(
                    inner.pool.clone(),
                    inner.opts.clone(),
                    server,
                    inner.instance.clone(),
                    inner.stop.clone(),
                );
                Ok::<(), MigrationError>(())
            })
            .await?;
        Ok(())
    }
}

/// Counts a migration's outcome in the metrics.
pub(crate) fn count_outcome(strategy: &'static str, outcome: &'static str) {
    metrics::counter!(crate::metrics::MIGRATIONS, "strategy" => strategy, "outcome" => outcome)
        .increment(1);
}

/// Poll interval for conditions on the server (processlist, lag).
const POLL: Duration = Duration::from_millis(5);
