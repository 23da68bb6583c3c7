//! One attack's world: three schemas (`<p>_db1` with the user's table,
//! `<p>_db2` where the user has no rights, `<p>_secret` with the canary),
//! a restricted user, and a differential runner that plays the same
//! statements straight to the server and through ghostwire from the same
//! starting state, then compares answers and every table of the world.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::common::{self, setup, Ctx};
use mysql_async::prelude::*;
use mysql_async::{Conn, Row, Value};

/// One statement's answer: the error code and message when refused.
pub type Outcome = Result<(), (u16, String)>;

/// Which answers through ghostwire are acceptable.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Policy {
    /// Exactly the server's own answer.
    Same,
    /// The server's answer, or one of ghostwire's documented refusals
    /// (multi-statement, RENAME TO, partitions) leaving everything untouched:
    /// refusing is never an escalation.
    SameOrRefused,
}

pub const PASS: &str = "atk-pass";

pub struct World {
    pub ctx: Ctx,
    pub db1: String,
    pub db2: String,
    pub secret: String,
    pub user: String,
    /// Per-test fixture, run after the common one at every reset.
    extra: Vec<String>,
}

impl World {
    /// `grants` and `extra` may name `{db1}`, `{db2}` and `{secret}`.
    pub async fn new(prefix: &str, grants: &[&str], extra: &[&str]) -> World {
        let ctx = setup(prefix).await;
        let mut w = World {
            ctx,
            db1: format!("{prefix}_db1"),
            db2: format!("{prefix}_db2"),
            secret: format!("{prefix}_secret"),
            user: format!("atk_{prefix}"),
            extra: Vec::new(),
        };
        w.extra = extra.iter().map(|s| w.sql(s)).collect();
        w.reset().await;
        // Table-level grants outlive DROP TABLE, so resets keep them.
        let mut sql = vec![
            format!("DROP USER IF EXISTS '{}'@'%'", w.user),
            format!("CREATE USER '{}'@'%' IDENTIFIED BY '{PASS}'", w.user),
        ];
        sql.extend(
            grants
                .iter()
                .map(|g| format!("GRANT {} TO '{}'@'%'", w.sql(g), w.user)),
        );
        w.admin(&sql).await;
        w
    }

    /// Fills in `{db1}`, `{db2}` and `{secret}`.
    pub fn sql(&self, s: &str) -> String {
        s.replace("{db1}", &self.db1)
            .replace("{db2}", &self.db2)
            .replace("{secret}", &self.secret)
    }

    /// Runs statements as the all-privileged test account, straight to the server.
    pub async fn admin(&self, sql: &[String]) {
        let mut c = common::direct_conn_to("mysql").await;
        for s in sql {
            c.query_drop(s).await.unwrap_or_else(|e| panic!("{s}: {e}"));
        }
        c.disconnect().await.ok();
    }

    /// Back to the starting state, so both runs of an attack start equal.
    pub async fn reset(&self) {
        let mut sql: Vec<String> = [
            "DROP DATABASE IF EXISTS {db1}",
            "DROP DATABASE IF EXISTS {db2}",
            "DROP DATABASE IF EXISTS {secret}",
            "CREATE DATABASE {db1}",
            "CREATE DATABASE {db2}",
            "CREATE DATABASE {secret}",
            "CREATE TABLE {db1}.t (id INT PRIMARY KEY, v INT) ENGINE=InnoDB",
            "INSERT INTO {db1}.t VALUES (1, 10), (2, 20), (3, 30)",
            "CREATE TABLE {db1}.loot (a VARCHAR(200), b VARCHAR(200)) ENGINE=InnoDB",
            "CREATE TABLE {db2}.other (id INT PRIMARY KEY, w INT) ENGINE=InnoDB",
            "INSERT INTO {db2}.other VALUES (1, 1)",
            "CREATE TABLE {secret}.cards (id INT PRIMARY KEY, pan VARCHAR(20)) ENGINE=InnoDB",
            "INSERT INTO {secret}.cards VALUES (1, '4111111111111111'), (2, '5500000000000004')",
            // Same shape as db1.t: what a MERGE table over it would need.
            "CREATE TABLE {secret}.m (id INT NOT NULL PRIMARY KEY, v INT) ENGINE=MyISAM",
            "INSERT INTO {secret}.m VALUES (42, 4242)",
        ]
        .iter()
        .map(|s| self.sql(s))
        .collect();
        sql.extend(self.extra.iter().cloned());
        self.admin(&sql).await;
    }

    /// The attacker straight to the server.
    pub async fn native(&self, db: Option<&str>) -> Conn {
        self.connect(common::server().port, &self.user, db).await
    }

    /// The attacker through ghostwire.
    pub async fn via(&self, db: Option<&str>) -> Conn {
        self.connect(self.ctx.port(), &self.user, db).await
    }

    pub async fn connect(&self, port: u16, user: &str, db: Option<&str>) -> Conn {
        let s = common::server();
        let host = if port == s.port { &s.host } else { "127.0.0.1" };
        Conn::new(common::opts(host, port, user, PASS, "").db_name(db))
            .await
            .unwrap_or_else(|e| panic!("{user} connects to port {port}: {e}"))
    }

    /// Every table of the world: definition and rows.
    pub async fn snapshot(&self) -> BTreeMap<String, String> {
        let mut c = common::direct_conn_to("mysql").await;
        let mut out = BTreeMap::new();
        for db in [&self.db1, &self.db2, &self.secret] {
            let names: Vec<String> = c
                .exec(
                    "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?",
                    (db,),
                )
                .await
                .unwrap();
            for t in names {
                let q = format!("`{db}`.`{}`", t.replace('`', "``"));
                let def: Option<(String, String)> = c
                    .query_first(format!("SHOW CREATE TABLE {q}"))
                    .await
                    .unwrap();
                let mut rows: Vec<String> = c
                    .query::<Row, _>(format!("SELECT * FROM {q}"))
                    .await
                    .unwrap_or_default()
                    .into_iter()
                    .map(|r| {
                        (0..r.len())
                            .map(|i| cell(&r, i))
                            .collect::<Vec<_>>()
                            .join(" | ")
                    })
                    .collect();
                rows.sort();
                let def = def.map(|d| d.1).unwrap_or_default();
                out.insert(format!("{db}.{t}"), format!("{def}\nrows: {rows:?}"));
            }
        }
        c.disconnect().await.ok();
        out
    }

    /// Plays `stmts` on one connection (to `db`) natively, resets, plays
    /// them through ghostwire, and checks both answered alike and left the
    /// world alike. Ok(answers through ghostwire), or Err(what went wrong).
    pub async fn differential(
        &self,
        label: &str,
        db: Option<&str>,
        stmts: &[&str],
        policy: Policy,
    ) -> Result<Vec<Outcome>, String> {
        let stmts: Vec<String> = stmts.iter().map(|s| self.sql(s)).collect();
        self.reset().await;
        let initial = self.snapshot().await;
        let native = play(self.native(db).await, &stmts).await;
        let after_native = self.snapshot().await;
        self.reset().await;
        let via = play(self.via(db).await, &stmts).await;
        let mut after_via = self.snapshot().await;
        // A completed copy migration keeps the old table as `<t>_del`: that
        // one is ghostwire's own, not a change to the user's world.
        after_via.retain(|k, _| !k.ends_with("_del") || after_native.contains_key(k));

        let refused = via.iter().any(is_refusal);
        let same_answers = codes(&native) == codes(&via);
        let ok_answers = same_answers || (policy == Policy::SameOrRefused && refused);
        let expected = if refused && !same_answers {
            &initial
        } else {
            &after_native
        };
        let foreign = [format!("`{}`", self.db2), format!("`{}`", self.secret)];
        let own = format!("{}.t", self.db1);
        let (diff, beyond) = diff(expected, &after_via, &own, &foreign);
        // Escalation: a table outside the user's own changed, the user's
        // table now points into a schema it has no rights on, or a foreign
        // key check answered about tables the user may not see (ERR 1452
        // "parent row missing" / 1005 errno 150 "no such parent"): an
        // existence oracle.
        let oracle = |o: &Outcome| matches!(o, Err((1452 | 1005, _)));
        let escalated = beyond
            || via
                .iter()
                .zip(&native)
                .any(|(v, n)| oracle(v) && !oracle(n));
        let what = if escalated {
            "ATTACK SUCCEEDED"
        } else {
            "ATTACK DIVERGES"
        };
        let shown: Vec<String> = stmts.iter().map(|s| abridged(s)).collect();
        let context = format!(
            "statements: {shown:?}\n  native answers:    {native:?}\n  ghostwire answers: {via:?}"
        );
        if !diff.is_empty() {
            return Err(format!(
                "{what} [{label}]: through ghostwire the tables ended differently from the \
                 native run\n  {context}\n{diff}"
            ));
        }
        if !ok_answers {
            return Err(format!(
                "{what} [{label}]: ghostwire answered differently from the server \
                 (policy {policy:?})\n  {context}"
            ));
        }
        Ok(via)
    }

    /// Runs every case, then fails once, naming each attack that worked.
    pub async fn cases(&self, cases: &[Case<'_>]) {
        let mut failures = Vec::new();
        for c in cases {
            if let Err(e) = self.differential(c.label, c.db, &c.stmts, c.policy).await {
                failures.push(e);
            }
        }
        assert!(
            failures.is_empty(),
            "{} of {} attacks got through or diverged:\n\n{}",
            failures.len(),
            cases.len(),
            failures.join("\n\n")
        );
    }
}

/// One differential attack.
pub struct Case<'a> {
    pub label: &'a str,
    pub db: Option<&'a str>,
    pub stmts: Vec<&'a str>,
    pub policy: Policy,
}

impl<'a> Case<'a> {
    pub fn new(label: &'a str, stmts: &[&'a str], policy: Policy) -> Self {
        Case {
            label,
            db: None,
            stmts: stmts.to_vec(),
            policy,
        }
    }
}

/// Runs each statement on `c`; a hung statement counts as code 0.
async fn play(mut c: Conn, stmts: &[String]) -> Vec<Outcome> {
    let mut out = Vec::new();
    for s in stmts {
        out.push(run(&mut c, s).await);
    }
    c.disconnect().await.ok();
    out
}

pub async fn run(c: &mut Conn, sql: &str) -> Outcome {
    match tokio::time::timeout(Duration::from_secs(60), c.query_drop(sql)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(mysql_async::Error::Server(e))) => Err((e.code, e.message)),
        Ok(Err(e)) => Err((0, e.to_string())),
        Err(_) => Err((0, "no answer in 60 s".into())),
    }
}

/// Long statements (padding) cut to their ends, to keep messages readable.
fn abridged(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= 400 {
        return s.to_string();
    }
    let head: String = chars[..200].iter().collect();
    let tail: String = chars[chars.len() - 150..].iter().collect();
    format!(
        "{} … ({} chars) … {}",
        head.trim_end(),
        chars.len(),
        tail.trim_start()
    )
}

fn codes(v: &[Outcome]) -> Vec<Option<u16>> {
    v.iter().map(|o| o.as_ref().err().map(|e| e.0)).collect()
}

/// One of ghostwire's own documented refusals (not a server error).
fn is_refusal(o: &Outcome) -> bool {
    matches!(o, Err((1105, m)) if m.starts_with("ghostwire:"))
}

/// The differences, and whether any table other than `own` is touched or
/// `own` now names one of the `foreign` schemas.
fn diff(
    want: &BTreeMap<String, String>,
    got: &BTreeMap<String, String>,
    own: &str,
    foreign: &[String],
) -> (String, bool) {
    let mut out = String::new();
    let mut beyond = false;
    for (k, v) in want {
        match got.get(k) {
            None => out.push_str(&format!("  - table {k} is gone (it should be there)\n")),
            Some(g) if g != v => {
                out.push_str(&format!(
                    "  ~ table {k} differs:\n    expected: {v}\n    got:      {g}\n"
                ));
                beyond |= foreign
                    .iter()
                    .any(|f| g.contains(f.as_str()) && !v.contains(f.as_str()));
            }
            _ => continue,
        }
        beyond |= k != own;
    }
    for k in got.keys().filter(|k| !want.contains_key(*k)) {
        out.push_str(&format!("  + table {k} appeared (it should not exist)\n"));
        beyond = true;
    }
    (out, beyond)
}

/// A text cell of `row` (NULL as "NULL").
pub fn cell(row: &Row, i: usize) -> String {
    match row.as_ref(i) {
        Some(Value::Bytes(b)) => String::from_utf8_lossy(b).into_owned(),
        Some(Value::NULL) | None => "NULL".into(),
        Some(v) => format!("{v:?}"),
    }
}
