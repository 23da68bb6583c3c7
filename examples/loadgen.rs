//! Rate-limited write load for `bench/migration.sh`, with an exact model of
//! what it wrote, so a benchmark can check that nothing was lost or changed.
//!
//! The table is `id BIGINT PRIMARY KEY, k INT, c VARCHAR(100)` whose initial
//! rows 1..=ROWS hold k = id*7919 % 1000 and c = 'row-<id>'. Each worker owns
//! the ids ≡ w (mod workers) and does inserts, updates, key moves and
//! deletes on them. Phases are named on stdin ("phase <name>" per line);
//! EOF stops the load, checks the table against the model and prints one
//! line of stats per phase and a final `verify` line.
//!
//! Usage: loadgen <mysql-url> <rows> <ops-per-second> <workers>

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mysql_async::prelude::*;
use mysql_async::{Conn, Opts};
use tokio::io::AsyncBufReadExt;

type Model = BTreeMap<u64, Option<(i64, String)>>;

#[derive(Default)]
struct PhaseStats {
    latencies_us: Vec<u64>,
    /// (latency µs, when it ended: ms since the Unix epoch) of each op, for
    /// `LOADGEN_SLOWEST` (where in time the slow operations fell).
    timed: Vec<(u64, u128)>,
    errors: u64,
}

struct Shared {
    phase: Mutex<String>,
    stats: Mutex<BTreeMap<String, PhaseStats>>,
    order: Mutex<Vec<String>>,
    stop: AtomicBool,
}

impl Shared {
    fn record(&self, latency: Duration, ok: bool) {
        let phase = self.phase.lock().unwrap().clone();
        let mut stats = self.stats.lock().unwrap();
        let s = stats.entry(phase).or_default();
        s.latencies_us.push(latency.as_micros() as u64);
        let at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        s.timed.push((latency.as_micros() as u64, at));
        if !ok {
            s.errors += 1;
        }
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 5 {
        eprintln!("usage: loadgen <mysql-url> <rows> <ops-per-second> <workers>");
        std::process::exit(2);
    }
    // prefer_socket off: by default mysql_async asks the server for its
    // unix socket and reconnects there, which would take the load around
    // the proxy it is meant to go through.
    let opts: Opts =
        mysql_async::OptsBuilder::from_opts(Opts::from_url(&args[1]).expect("mysql:// URL"))
            .prefer_socket(false)
            .into();
    let rows: u64 = args[2].parse().expect("rows");
    let rate: f64 = args[3].parse().expect("ops per second");
    let workers: u64 = args[4].parse().expect("workers");
    let shared = Arc::new(Shared {
        phase: Mutex::new("start".into()),
        stats: Mutex::default(),
        order: Mutex::new(vec!["start".into()]),
        stop: AtomicBool::new(false),
    });
    let tx = std::env::var("LOADGEN_TX").is_ok_and(|v| v == "1");
    let mut tasks = Vec::new();
    for w in 0..workers {
        let conn = Conn::new(opts.clone()).await.expect("connect");
        let interval = Duration::from_secs_f64(workers as f64 / rate);
        tasks.push(tokio::spawn(worker(
            conn,
            w,
            workers,
            rows,
            interval,
            tx,
            shared.clone(),
        )));
    }
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if let Some(name) = line.strip_prefix("phase ") {
            *shared.phase.lock().unwrap() = name.to_string();
            shared.order.lock().unwrap().push(name.to_string());
        }
    }
    shared.stop.store(true, Ordering::Relaxed);
    let mut model = Model::new();
    for t in tasks {
        model.extend(t.await.expect("worker"));
    }
    let slowest: Option<usize> = std::env::var("LOADGEN_SLOWEST")
        .ok()
        .and_then(|v| v.parse().ok());
    for name in shared.order.lock().unwrap().iter() {
        let mut stats = shared.stats.lock().unwrap();
        let Some(s) = stats.get_mut(name) else {
            continue;
        };
        s.latencies_us.sort_unstable();
        let n = s.latencies_us.len();
        let pct = |p: f64| s.latencies_us[((n as f64 * p) as usize).min(n - 1)] as f64 / 1000.0;
        println!(
            "phase={name} ops={n} errors={} p50_ms={:.2} p99_ms={:.2} max_ms={:.2}",
            s.errors,
            pct(0.50),
            pct(0.99),
            pct(1.0)
        );
        if let Some(k) = slowest {
            s.timed.sort_unstable_by(|a, b| b.cmp(a));
            for (us, at) in s.timed.iter().take(k) {
                println!(
                    "slow phase={name} ms={:.2} at={}.{:03}",
                    *us as f64 / 1000.0,
                    at / 1000,
                    at % 1000
                );
            }
        }
    }
    let mismatches = verify(&opts, rows, model).await;
    println!("verify mismatches={mismatches}");
}

/// One worker: paced operations on the ids it owns. Returns its model.
///
/// With `tx` set (`LOADGEN_TX=1`), each paced operation is a transaction
/// shaped like sysbench's `oltp_read_write` without its range scans: ten
/// point selects, an update of `k`, an update of `c`, a delete and an
/// insert, between BEGIN and COMMIT; its latency is the transaction's.
async fn worker(
    mut conn: Conn,
    w: u64,
    workers: u64,
    rows: u64,
    interval: Duration,
    tx: bool,
    shared: Arc<Shared>,
) -> Model {
    let mut model = Model::new();
    let mut next = Instant::now();
    let mut op = Op {
        w,
        workers,
        rows,
        n: 0,
        next_insert: 1_000_000_000 + w,
    };
    while !shared.stop.load(Ordering::Relaxed) {
        next += interval;
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            tokio::time::sleep(wait).await;
        }
        let started = Instant::now();
        let ok = if tx {
            op.transaction(&mut conn, &mut model).await
        } else {
            op.n += 1;
            let kind = op.n % 4;
            let mut changes = Vec::new();
            let r = op.one(&mut conn, kind, &mut changes).await;
            model.extend(changes);
            r
        };
        shared.record(started.elapsed(), ok.is_ok());
        if let Err(e) = ok {
            eprintln!("worker {w}: {e}");
        }
    }
    conn.disconnect().await.ok();
    model
}

/// A worker's position in its sequence of operations.
struct Op {
    w: u64,
    workers: u64,
    rows: u64,
    n: u64,
    next_insert: u64,
}

type Changes = Vec<(u64, Option<(i64, String)>)>;

impl Op {
    /// An id this worker owns, picked from the sequence number.
    fn id(&self, salt: u64) -> u64 {
        let per = self.rows / self.workers;
        (((self.n + salt) * 104_729) % per) * self.workers + self.w + 1
    }

    /// One write of `kind` (0 delete, 1 insert, 2 update or key move, 3
    /// update); the model changes it made go to `changes`.
    async fn one(
        &mut self,
        conn: &mut Conn,
        kind: u64,
        changes: &mut Changes,
    ) -> mysql_async::Result<()> {
        let (w, n, workers) = (self.w, self.n, self.workers);
        let id = self.id(0);
        match kind {
            0 => {
                conn.exec_drop("DELETE FROM t WHERE id = ?", (id,)).await?;
                changes.push((id, None));
            }
            1 => {
                let c = format!("ins-{w}-{n}");
                let at = self.next_insert;
                self.next_insert += workers;
                conn.exec_drop(
                    "INSERT INTO t (id, k, c) VALUES (?, ?, ?)",
                    (at, n as i64, &c),
                )
                .await?;
                changes.push((at, Some((n as i64, c))));
            }
            2 if n % 8 == 2 => {
                let moved = 2_000_000_000 + w + n * workers;
                let c = format!("mv-{w}-{n}");
                conn.exec_drop(
                    "UPDATE t SET id = ?, k = ?, c = ? WHERE id = ?",
                    (moved, n as i64, &c, id),
                )
                .await?;
                if conn.affected_rows() == 1 {
                    changes.push((id, None));
                    changes.push((moved, Some((n as i64, c))));
                }
            }
            _ => {
                let c = format!("upd-{w}-{n}");
                conn.exec_drop("UPDATE t SET k = ?, c = ? WHERE id = ?", (n as i64, &c, id))
                    .await?;
                if conn.affected_rows() == 1 {
                    changes.push((id, Some((n as i64, c))));
                }
            }
        }
        Ok(())
    }

    /// The sysbench-shaped transaction; the model changes only once it
    /// committed (a failed one is rolled back).
    async fn transaction(&mut self, conn: &mut Conn, model: &mut Model) -> mysql_async::Result<()> {
        let mut changes = Changes::new();
        let r = async {
            conn.query_drop("BEGIN").await?;
            for salt in 0..10 {
                let _: Option<String> = conn
                    .exec_first("SELECT c FROM t WHERE id = ?", (self.id(salt * 7),))
                    .await?;
            }
            for kind in [3, 2, 0, 1] {
                self.n += 1;
                self.one(conn, kind, &mut changes).await?;
            }
            conn.query_drop("COMMIT").await
        }
        .await;
        match r {
            Ok(()) => {
                model.extend(changes);
                Ok(())
            }
            Err(e) => {
                conn.query_drop("ROLLBACK").await.ok();
                Err(e)
            }
        }
    }
}

/// Rows of `t` that differ from the initial contents plus the model.
async fn verify(opts: &Opts, rows: u64, model: Model) -> usize {
    let mut expected: BTreeMap<u64, (i64, String)> = (1..=rows)
        .map(|id| (id, ((id * 7919 % 1000) as i64, format!("row-{id}"))))
        .collect();
    for (id, v) in model {
        match v {
            Some(v) => expected.insert(id, v),
            None => expected.remove(&id),
        };
    }
    let mut conn = Conn::new(opts.clone()).await.expect("connect");
    let actual: Vec<(u64, i64, String)> = conn
        .query("SELECT id, k, c FROM t ORDER BY id")
        .await
        .expect("read t");
    let got: BTreeMap<u64, (i64, String)> =
        actual.into_iter().map(|(id, k, c)| (id, (k, c))).collect();
    let missing = expected
        .iter()
        .filter(|(id, v)| got.get(id) != Some(v))
        .count();
    let extra = got.keys().filter(|id| !expected.contains_key(id)).count();
    missing + extra
}
