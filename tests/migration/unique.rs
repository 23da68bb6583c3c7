//! Unique keys under writes that move rows between primary keys and pass
//! unique values from row to row: an online `ADD UNIQUE` (and then a copy
//! of a table that has the unique key) must succeed as the native ALTER
//! does, and end equal to the writers' model and to the native ALTER.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use crate::common::{eventually, setup_with};
use mysql_async::prelude::*;
use mysql_async::Conn;

const WORKERS: u64 = 4;
const ROWS: u64 = 40_000;
/// Every id a worker may use: ids 1..=SLOTS with id ≡ w (mod WORKERS); the
/// ones above ROWS start free (above the copy's end, so moves go up and,
/// once rows have left holes, down too).
const SLOTS: u64 = 2 * ROWS;

/// A tiny deterministic generator (the test must not depend on luck to
/// reproduce).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

/// One worker's rows (id → (u, v)) and free ids; its unique values stay
/// unique in every committed state.
struct Rows {
    rows: BTreeMap<u64, (String, i64)>,
    ids: Vec<u64>,
    free: Vec<u64>,
}

impl Rows {
    fn new(w: u64) -> Rows {
        let mine = (1..=SLOTS).filter(|id| id % WORKERS == w);
        let (ids, free): (Vec<u64>, Vec<u64>) = mine.partition(|id| *id <= ROWS);
        let rows = ids.iter().map(|id| (*id, (format!("u-{id}"), 0))).collect();
        Rows { rows, ids, free }
    }

    fn take_id(&mut self, g: &mut Lcg) -> u64 {
        self.ids.swap_remove(g.below(self.ids.len()))
    }

    fn take_free(&mut self, g: &mut Lcg) -> u64 {
        self.free.swap_remove(g.below(self.free.len()))
    }
}

type Stmt = (&'static str, Vec<mysql_async::Value>);

/// Runs `stmts` in one transaction; a deadlock victim (1213: the engine's
/// locking reads of the rows it replays can be part of a cycle) and a
/// statement the cut-over gate held too long (1205) are retried, as an
/// application would.
async fn run(conn: &mut Conn, stmts: &[Stmt]) {
    'again: loop {
        let mut tx = conn.start_transaction(Default::default()).await.unwrap();
        for (sql, params) in stmts {
            match tx.exec_drop(*sql, params.clone()).await {
                Ok(()) => {}
                // A deadlock victim, or a statement the cut-over gate held
                // too long ("retry").
                Err(mysql_async::Error::Server(e)) if matches!(e.code, 1213 | 1205) => {
                    tx.rollback().await.unwrap();
                    continue 'again;
                }
                Err(e) => panic!("{sql}: {e}"),
            }
        }
        match tx.commit().await {
            Ok(()) => return,
            Err(mysql_async::Error::Server(e)) if matches!(e.code, 1213 | 1205) => {}
            Err(e) => panic!("COMMIT: {e}"),
        }
    }
}

fn p(v: impl Into<mysql_async::Value>) -> mysql_async::Value {
    v.into()
}

/// Writes until `stop`: primary-key moves that keep the unique value,
/// chains of moves in one transaction (a row takes the id another row
/// leaves), swaps of unique values between two rows, a delete and a
/// re-insert of the same unique value under a new id. Returns the model.
async fn writer(
    mut conn: Conn,
    w: u64,
    stop: Arc<AtomicBool>,
    ops: Arc<AtomicU64>,
) -> BTreeMap<u64, (String, i64)> {
    let mut m = Rows::new(w);
    let mut g = Lcg(w + 17);
    let mut n: i64 = 0;
    let c = &mut conn;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        match n % 5 {
            0 => {
                // A move keeping the unique value.
                let (a, to) = (m.take_id(&mut g), m.take_free(&mut g));
                let sql = "UPDATE t SET id = ?, v = ? WHERE id = ?";
                run(c, &[(sql, vec![p(to), p(n), p(a)])]).await;
                let (u, _) = m.rows.remove(&a).unwrap();
                m.rows.insert(to, (u, n));
                m.ids.push(to);
                m.free.push(a);
            }
            1 => {
                // A chain in one transaction: a moves away, b moves to a.
                let (a, b) = (m.take_id(&mut g), m.take_id(&mut g));
                let to = m.take_free(&mut g);
                let sql = "UPDATE t SET id = ? WHERE id = ?";
                run(c, &[(sql, vec![p(to), p(a)]), (sql, vec![p(a), p(b)])]).await;
                let ra = m.rows.remove(&a).unwrap();
                let rb = m.rows.remove(&b).unwrap();
                m.rows.insert(to, ra);
                m.rows.insert(a, rb);
                m.ids.extend([to, a]);
                m.free.push(b);
            }
            2 => {
                // Two rows swap their unique values in one transaction
                // (through a third value: the server checks a unique key
                // row by row, so once the key exists a direct swap fails).
                let (a, b) = (m.take_id(&mut g), m.take_id(&mut g));
                let (ua, ub) = (m.rows[&a].0.clone(), m.rows[&b].0.clone());
                let sql = "UPDATE t SET u = ?, v = ? WHERE id = ?";
                let parked = format!("{ua}~");
                run(
                    c,
                    &[
                        (sql, vec![p(parked.as_str()), p(n), p(a)]),
                        (sql, vec![p(ua.as_str()), p(n), p(b)]),
                        (sql, vec![p(ub.as_str()), p(n), p(a)]),
                    ],
                )
                .await;
                m.rows.insert(a, (ub, n));
                m.rows.insert(b, (ua, n));
                m.ids.extend([a, b]);
            }
            3 => {
                // Delete, then (another transaction) the same unique value
                // under a new id.
                let (a, to) = (m.take_id(&mut g), m.take_free(&mut g));
                let (u, _) = m.rows.remove(&a).unwrap();
                run(c, &[("DELETE FROM t WHERE id = ?", vec![p(a)])]).await;
                let ins = "INSERT INTO t (id, u, v) VALUES (?, ?, ?)";
                run(c, &[(ins, vec![p(to), p(u.as_str()), p(n)])]).await;
                m.rows.insert(to, (u, n));
                m.ids.push(to);
                m.free.push(a);
            }
            _ => {
                // A row moves to a new id and another row takes its
                // unique value, in one transaction.
                let (a, b, to) = (m.take_id(&mut g), m.take_id(&mut g), m.take_free(&mut g));
                let (ua, ub) = (m.rows[&a].0.clone(), m.rows[&b].0.clone());
                let parked = format!("{ua}~");
                let sql = "UPDATE t SET id = ?, u = ? WHERE id = ?";
                run(
                    c,
                    &[
                        (sql, vec![p(to), p(parked.as_str()), p(a)]),
                        (sql, vec![p(b), p(ua.as_str()), p(b)]),
                        (sql, vec![p(to), p(ub.as_str()), p(to)]),
                    ],
                )
                .await;
                let (_, va) = m.rows.remove(&a).unwrap();
                m.rows.insert(to, (ub, va));
                m.rows.get_mut(&b).unwrap().0 = ua;
                m.ids.extend([to, b]);
                m.free.push(a);
            }
        }
        ops.fetch_add(1, Ordering::Relaxed);
    }
    conn.disconnect().await.ok();
    m.rows
}

const CREATE: &str =
    "(id BIGINT NOT NULL PRIMARY KEY, u VARCHAR(40) NOT NULL, v BIGINT NOT NULL) ENGINE=InnoDB";
const ALTERS: [&str; 2] = [
    "ADD UNIQUE KEY uk (u)",
    // A copy of a table that has the unique key already.
    "ADD COLUMN extra INT NOT NULL DEFAULT 5, FORCE",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unique_keys_under_key_moves_and_value_swaps_equal_native() {
    let ctx = setup_with("mig_unique", |c| {
        // Small chunks on several workers: chunks finish out of order and
        // replay runs behind the copy, batch after batch.
        c.migrations.copy_workers = 4;
        c.migrations.chunk_rows = 300;
        c.migrations.chunk_target_ms = 5;
    })
    .await;
    let mut c = ctx.conn().await;
    c.query_drop(format!("CREATE TABLE t {CREATE}"))
        .await
        .unwrap();
    c.query_drop("INSERT INTO t VALUES (1, 'u-1', 0)")
        .await
        .unwrap();
    loop {
        let max: u64 = c
            .query_first("SELECT MAX(id) FROM t")
            .await
            .unwrap()
            .unwrap();
        if max >= ROWS {
            break;
        }
        c.query_drop(format!(
            "INSERT INTO t SELECT id + {max}, CONCAT('u-', id + {max}), 0 FROM t WHERE id <= {}",
            ROWS - max
        ))
        .await
        .unwrap();
    }

    let stop = Arc::new(AtomicBool::new(false));
    let ops = Arc::new(AtomicU64::new(0));
    let mut writers = Vec::new();
    for w in 0..WORKERS {
        // Half through ghostwire (the gate holds them at cut-over), half
        // straight to the server.
        let conn = if w % 2 == 0 {
            ctx.direct().await
        } else {
            ctx.conn().await
        };
        writers.push(tokio::spawn(writer(conn, w, stop.clone(), ops.clone())));
    }
    for body in ALTERS {
        let before = ops.load(Ordering::Relaxed);
        eventually("the writers are running", || async {
            ops.load(Ordering::Relaxed) > before + 200
        })
        .await;
        let r = c.query_drop(format!("ALTER TABLE t {body}")).await;
        if let Err(e) = r {
            stop.store(true, Ordering::Relaxed);
            panic!("ALTER TABLE t {body}: {e}");
        }
        let info = c.info().into_owned();
        assert!(info.contains("complete (copy)"), "{body}: {info}");
    }
    let after = ops.load(Ordering::Relaxed);
    eventually("writes go on on the new table", || async {
        ops.load(Ordering::Relaxed) > after + 200
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    let mut model = BTreeMap::new();
    for w in writers {
        model.extend(w.await.unwrap());
    }

    // The writers' model.
    let rows: Vec<(u64, String, i64, i32)> = c
        .query("SELECT id, u, v, extra FROM t ORDER BY id")
        .await
        .unwrap();
    let got: BTreeMap<u64, (String, i64)> = rows
        .iter()
        .map(|(id, u, v, _)| (*id, (u.clone(), *v)))
        .collect();
    let wrong: Vec<_> = model
        .iter()
        .filter(|(id, r)| got.get(id) != Some(r))
        .take(5)
        .collect();
    let extra: Vec<_> = got
        .iter()
        .filter(|(id, r)| model.get(id) != Some(r))
        .take(5)
        .collect();
    assert!(
        wrong.is_empty() && extra.is_empty(),
        "absent or different: {wrong:?}; not in the model: {extra:?}"
    );
    assert!(
        rows.iter().all(|r| r.3 == 5),
        "the new column has its default"
    );

    // The native ALTERs on the same rows: same definition, same rows.
    let mut d = ctx.direct().await;
    d.query_drop(format!(
        "CREATE TABLE n {CREATE}; INSERT INTO n SELECT id, u, v FROM t"
    ))
    .await
    .unwrap();
    for body in ALTERS {
        d.query_drop(format!("ALTER TABLE n {body}")).await.unwrap();
    }
    let t: (String, String) = d.query_first("SHOW CREATE TABLE t").await.unwrap().unwrap();
    let n: (String, String) = d.query_first("SHOW CREATE TABLE n").await.unwrap().unwrap();
    assert_eq!(t.1.replacen("`t`", "`n`", 1), n.1);
    let native: Vec<(u64, String, i64, i32)> = d
        .query("SELECT id, u, v, extra FROM n ORDER BY id")
        .await
        .unwrap();
    assert_eq!(rows, native);
    ctx.shutdown().await;
}
