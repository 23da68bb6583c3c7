//! Differential fidelity corpus: every case's ALTER runs through ghostwire
//! (async + postponed, with writes replayed from the binlog while it waits)
//! and natively on a copy of the same pre-ALTER rows, in a session with the
//! same settings; SHOW CREATE TABLE and every row must be equal byte for byte,
//! and an ALTER the server refuses must be refused with the same error code.
//!
//! The corpus runs under three client sessions (one test each): server
//! defaults; Europe/Berlin with a strict, no-zero-date sql_mode; a latin1
//! client sending latin1 bytes. Mismatches are collected, not fatal one by
//! one: each test panics at the end with the full list.
//! `FIDELITY_FILTER=substring` runs the cases whose name contains it.

#[path = "fidelity/cases/mod.rs"]
mod cases;
mod common;
#[path = "fidelity/compare.rs"]
mod compare;

use std::sync::Arc;
use std::time::{Duration, Instant};

use cases::Case;
use common::Ctx;
use compare::{first_difference, Table};
use mysql_async::prelude::*;
use mysql_async::{Conn, Row, Value};
use tokio::sync::Semaphore;

/// How a client session under test is set up.
pub struct Session {
    name: &'static str,
    schema: &'static str,
    setup: &'static [&'static str],
    /// The ALTER text goes to the server as latin1 bytes.
    latin1: bool,
    /// Only the cases whose name starts with this ("" for all).
    only: &'static str,
}

const DEFAULT: Session = Session {
    name: "default",
    schema: "fid_default",
    setup: &[],
    latin1: false,
    only: "",
};

const BERLIN_STRICT: Session = Session {
    name: "berlin-strict",
    schema: "fid_berlin",
    setup: &[
        "SET time_zone = 'Europe/Berlin'",
        "SET sql_mode = 'STRICT_TRANS_TABLES,NO_ZERO_DATE,NO_ZERO_IN_DATE,\
         ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'",
    ],
    latin1: false,
    only: "",
};

/// No strictness: conversions warn and go on (NULL into NOT NULL, values
/// cut to fit), as many older applications run.
const LENIENT: Session = Session {
    name: "lenient",
    schema: "fid_lenient",
    setup: &["SET sql_mode = ''"],
    latin1: false,
    only: "",
};

const LATIN1: Session = Session {
    name: "latin1-client",
    schema: "fid_latin1",
    setup: &["SET NAMES latin1"],
    latin1: true,
    only: "",
};

/// Settings only expressions read (a default, a stored generated column),
/// which the copy's session must give them as the client's did: the
/// digits of a division, the names of months, the time zone, a variable.
/// Only the cases written for them (`sess_`).
const EXPRESSIVE: Session = Session {
    name: "expressive",
    schema: "fid_expressive",
    setup: &[
        "SET time_zone = '+03:00'",
        "SET div_precision_increment = 10",
        "SET lc_time_names = 'de_DE'",
        "SET default_week_format = 3",
        "SET @x = 5",
    ],
    latin1: false,
    only: "sess_",
};

/// CHAR values read padded (MySQL shows padded defaults in SHOW CREATE
/// TABLE then). Only the cases written for it (`pad_`).
const PADDED: Session = Session {
    name: "padded",
    schema: "fid_padded",
    setup: &["SET sql_mode = 'PAD_CHAR_TO_FULL_LENGTH'"],
    latin1: false,
    only: "pad_",
};

/// Cases in flight across all three tests of this binary together: they
/// share two cores with the server, and each case is mostly waiting on it.
static IN_FLIGHT: Semaphore = Semaphore::const_new(6);

/// Offsets the writes use for new ids: far above any seeded id.
const SEED_OFFSET: i64 = 100_000;
const MOVED_OFFSET: i64 = 200_000;

/// Differences that are known and accepted for now: (case name or name
/// prefix ending in `*`, text the difference must contain, why). A case
/// matching one may differ without failing the run (its difference is
/// printed); every other difference fails it.
const KNOWN: &[(&str, &str, &str)] = &[
    ("key_add_unique_dup_ignore", "", IGNORE_RACE),
    ("key_unique_collation_dup_ignore", "", IGNORE_RACE),
    ("comp_reduce_pk_dups_ignore", "", IGNORE_RACE),
    ("ai_*", "AUTO_INCREMENT=", AI_TOP),
    ("ai_make_auto_with_zero", "holds NULL or 0", AI_NUMBERED),
    ("ai_make_auto_unique_nulls", "holds NULL or 0", AI_NUMBERED),
    (
        "zero_data_date_not_null",
        "natively ERROR 1265",
        "several rows fail the conversion in different ways: chunks are copied in \
         parallel, so the first error reported is not always the first row's",
    ),
    ("dtkey_fsp_narrow", "", KEY_CHANGED),
    ("dtkey_to_timestamp", "", KEY_CHANGED),
    ("enumkey_reorder", "", KEY_CHANGED),
    ("enumkey_to_varchar", "", KEY_CHANGED),
    ("tskey_to_datetime", "", KEY_CHANGED),
    ("vkey_ci_collision", "", KEY_CHANGED),
    ("vkey_ci_collision_ignore", "", KEY_CHANGED),
    ("vkey_collate_bin", "", KEY_CHANGED),
    ("vkey_to_latin1", "", KEY_CHANGED),
    ("nokey_drop_pk_column", "", KEY_CHANGED),
    (
        "sess_zone_*",
        "reads the session's time zone",
        SESSION_BOUND,
    ),
    ("sess_uservar_*", "reads a user variable", SESSION_BOUND),
    (
        "sess_div_*",
        "reads the session's div_precision_increment",
        SESSION_BOUND,
    ),
];

/// Differences seen only on MySQL (9.7), each with its reason; consulted
/// only when the tests run against MySQL, so MariaDB stays held to `KNOWN`.
const KNOWN_MYSQL: &[(&str, &str, &str)] = &[
    (
        "ck_named_*",
        "has CHECK constraint",
        "MySQL names CHECK constraints per schema, so the new table cannot keep the name: \
         refused with a clear error (run it with /* ghostwire: direct */)",
    ),
    (
        "str_change_not_null",
        "ERROR 1138",
        "NULL into NOT NULL: MySQL's native ALTER says 1138 for most columns but 1265 when a \
         CHANGE renames a string column; ghostwire says 1138 (ServerInfo::null_into_not_null)",
    ),
    (
        "zero_data_date_not_null",
        "natively ERROR 1138",
        "a column both NULL and zero-dated: MySQL's native ALTER reports the NULL first, the \
         copy the zero date",
    ),
    (
        "str_to_int",
        "natively ERROR 1366",
        "'' into INT: the copy's CAST(… AS SIGNED) warns 1292 where MySQL's ALTER says 1366",
    ),
    (
        "numstr_to_int",
        "Truncated incorrect INTEGER value",
        "'1.5' into INT: MySQL's strict INSERT … SELECT fails on CAST(… AS SIGNED)'s \
         truncation warning, which its native ALTER does not raise",
    ),
    (
        "dst_ts_to_bigint",
        "Data truncated",
        "TIMESTAMP into BIGINT: MySQL's copy warns where its native ALTER converts \
         (not yet explained)",
    ),
    ("opt_engine_myisam", "GTID consistency", MYISAM_GTID),
    ("opt_myisam_source", "GTID consistency", MYISAM_GTID),
    (
        "opt_check_holds",
        "ERROR 3822",
        "harness: MySQL's CHECK constraint names are per schema, so the native run on the \
         old table cannot add the constraint the migrated table now has (cases use names of \
         their own: two cases sharing `ck` failed each other at random on MySQL)",
    ),
    (
        "vkey_widen",
        "no PRIMARY or UNIQUE NOT NULL key",
        "VARCHAR(10) to (20) on the only key: instant on MariaDB, a copy on MySQL, which \
         refuses a changed key type (KEY_CHANGED)",
    ),
    (
        "enumkey_*",
        "checksum mismatch",
        "ENUM chunking key on MySQL: the checksum finds a difference after writes in a key \
         range and fails the migration (the table is unchanged); not yet explained",
    ),
    ("dst_*", "vs native", DST_FOLD),
    ("tskey_fsp", "vs native", DST_FOLD),
    (
        "dst_ts3_to_ts0",
        "natively ERROR 1292",
        "rounding TIMESTAMP(3) into a DST gap: MySQL's native ALTER refuses it, the copy \
         (in UTC) does not see the gap",
    ),
];
const MYISAM_GTID: &str = "a MyISAM table on MySQL with enforce_gtid_consistency: one of the \
    migration's statements writes MyISAM inside a transaction (ERR 1785); not yet located";
const DST_FOLD: &str = "a write in the repeated hour of the autumn DST change (Europe/Berlin) \
    during the copy ends one hour apart from native on MySQL; not yet explained";

fn known(name: &str, why: &str) -> Option<&'static str> {
    let mysql: &[(&str, &str, &str)] = if common::is_mysql() { KNOWN_MYSQL } else { &[] };
    KNOWN
        .iter()
        .chain(mysql)
        .find(|(n, text, _)| {
            let named = match n.strip_suffix('*') {
                Some(prefix) => name.starts_with(prefix),
                None => name == *n,
            };
            named && why.contains(text)
        })
        .map(|k| k.2)
}
const IGNORE_RACE: &str = "ALTER IGNORE while writes add new duplicates: which of them survives \
    can differ from the native choice (the first in key order)";
const AI_TOP: &str = "AUTO_INCREMENT counter one lower than native after writes that move an \
    id to the top and insert-then-delete there during the copy (intermittent; not yet explained)";
const AI_NUMBERED: &str = "a column made AUTO_INCREMENT while it holds NULL or 0, which a \
    native ALTER numbers in its row order: refused with a clear error (run it with /* \
    ghostwire: direct */)";
const SESSION_BOUND: &str = "a default or stored generated column that reads the client's \
    time zone (not UTC), a user variable or a division's digits: refused with a clear error (run it with /* \
    ghostwire: direct */), as the copy's session is ghostwire's";
const KEY_CHANGED: &str = "the ALTER changes the values, order or collation of the only usable \
    key (or drops it): refused with a clear error (run it with /* ghostwire: direct */)";

/// A case's result.
enum Verdict {
    Same(&'static str),
    Differs(String),
    Skipped,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fidelity_default_session() {
    run_session(&DEFAULT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fidelity_berlin_strict_session() {
    run_session(&BERLIN_STRICT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fidelity_lenient_session() {
    run_session(&LENIENT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fidelity_latin1_client_session() {
    run_session(&LATIN1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fidelity_expressive_session() {
    run_session(&EXPRESSIVE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fidelity_padded_session() {
    run_session(&PADDED).await;
}

async fn run_session(session: &'static Session) {
    tokio::task::spawn_blocking(common::load_time_zones)
        .await
        .unwrap();
    let ctx = Arc::new(
        common::setup_with(session.schema, |c| {
            // Postponed migrations hold their slot while they wait: as many
            // slots as cases in flight, so none queues behind another.
            c.migrations.max_running = 16;
            // Several chunks even for these small tables.
            c.migrations.chunk_rows = 7;
        })
        .await,
    );
    let filter = std::env::var("FIDELITY_FILTER").unwrap_or_default();
    let cases: Vec<&'static Case> = cases::all()
        .filter(|c| c.name.contains(filter.as_str()) && c.name.starts_with(session.only))
        .collect();
    let started = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    // A case that panics (e.g. the server went away) is still named.
    let mut names = std::collections::HashMap::new();
    for case in cases.iter().copied() {
        let ctx = ctx.clone();
        let task = set.spawn(async move {
            let _permit = IN_FLIGHT.acquire().await.unwrap();
            let verdict =
                tokio::time::timeout(Duration::from_secs(180), run_case(&ctx, session, case))
                    .await
                    .unwrap_or_else(|_| Verdict::Differs("timed out after 180 s".into()));
            (case.name, verdict)
        });
        names.insert(task.id(), case.name);
    }
    let mut differ = Vec::new();
    let mut known_seen = Vec::new();
    let (mut same, mut skipped) = (0, 0);
    let mut strategies = std::collections::BTreeMap::<&str, usize>::new();
    while let Some(r) = set.join_next().await {
        match r {
            Ok((_, Verdict::Same(how))) => {
                same += 1;
                *strategies.entry(how).or_default() += 1;
            }
            Ok((_, Verdict::Skipped)) => skipped += 1,
            Ok((name, Verdict::Differs(why))) => match known(name, &why) {
                Some(reason) => known_seen.push(format!("{name}: {reason} ({why})")),
                None => differ.push(format!("{name}: {why}")),
            },
            Err(e) => differ.push(format!("{}: panicked: {e}", names[&e.id()])),
        }
    }
    differ.sort();
    let total = cases.len() - skipped;
    eprintln!(
        "fidelity [{}]: {} cases in {:.1} s: {same} equal {strategies:?}, {} differ, {skipped} skipped",
        session.name,
        cases.len(),
        started.elapsed().as_secs_f64(),
        differ.len()
    );
    known_seen.sort();
    eprintln!(
        "fidelity [{}]: {} known differences:\n  {}",
        session.name,
        known_seen.len(),
        known_seen.join("\n  ")
    );
    if let Ok(c) = Arc::try_unwrap(ctx) {
        c.shutdown().await;
    }
    assert!(
        differ.is_empty(),
        "fidelity [{}]: {} of {total} cases differ:\n  {}",
        session.name,
        differ.len(),
        differ.join("\n  ")
    );
}

/// A connection straight to the server in a fixed session: UTC, strict but
/// zero dates allowed, and 0 kept in AUTO_INCREMENT columns, so copies are
/// exact; results as raw bytes.
async fn neutral(ctx: &Ctx) -> Conn {
    let mut d = ctx.direct().await;
    d.query_drop(
        "SET NAMES utf8mb4, time_zone = '+00:00', character_set_results = binary, \
         sql_mode = 'STRICT_TRANS_TABLES,NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION'",
    )
    .await
    .unwrap();
    d
}

/// A connection with the session settings under test: through ghostwire
/// (`proxy`) or straight to the server (the native reference).
async fn client(ctx: &Ctx, s: &Session, proxy: bool) -> Conn {
    let mut c = if proxy {
        ctx.conn().await
    } else {
        ctx.direct().await
    };
    for sql in s.setup {
        c.query_drop(*sql).await.unwrap();
    }
    c
}

/// The ALTER as the session sends it; None when it cannot be said in latin1.
fn alter_bytes(s: &Session, case: &Case, table: &str, hint: &str) -> Option<Vec<u8>> {
    let ignore = if case.ignore { "IGNORE " } else { "" };
    let sql = format!("ALTER {ignore}TABLE `{table}` {hint}{}", case.alter);
    if !s.latin1 {
        return Some(sql.into_bytes());
    }
    sql.chars()
        .map(|c| u8::try_from(u32::from(c)).ok())
        .collect()
}

fn server_err(e: mysql_async::Error) -> (u16, String) {
    match e {
        mysql_async::Error::Server(e) => (e.code, e.message),
        other => (0, other.to_string()),
    }
}

async fn run_case(ctx: &Ctx, s: &Session, case: &'static Case) -> Verdict {
    match try_case(ctx, s, case).await {
        Ok(v) => v,
        Err(e) => Verdict::Differs(format!("harness: {e}")),
    }
}

type Res<T> = Result<T, String>;

fn ctx_err(what: &str) -> impl Fn(mysql_async::Error) -> String + '_ {
    move |e| format!("{what}: {e}")
}

async fn try_case(ctx: &Ctx, s: &Session, case: &'static Case) -> Res<Verdict> {
    let t = case.name;
    let Some(_) = alter_bytes(s, case, t, "") else {
        return Ok(Verdict::Skipped);
    };
    let mut d = neutral(ctx).await;
    create_and_seed(&mut d, case).await?;
    let pre = format!("{t}_p");
    copy_table(&mut d, t, &pre).await?;

    // Does the server itself accept this ALTER on these rows?
    let native = format!("{t}_n");
    copy_table(&mut d, &pre, &native).await?;
    let probe = native_alter(ctx, s, case, &native).await;
    drop_table(&mut d, &native).await?;
    if let Err((code, msg)) = probe {
        return refused_alike(ctx, s, case, &mut d, code, &msg).await;
    }

    let seed = format!("{t}_s");
    copy_table(&mut d, t, &seed).await?;
    let burst_ok = case.writes
        && d.query_drop(format!("UPDATE `{seed}` SET id = id + {SEED_OFFSET}"))
            .await
            .is_ok();

    let mut c = client(ctx, s, true).await;
    let sql = alter_bytes(s, case, t, "/* ghostwire: async postpone */ ").unwrap();
    let answer: Result<Option<Row>, _> = c.query_first(sql.as_slice()).await;
    let mut wrote = false;
    let how = match answer.map_err(server_err) {
        Err((code, msg)) => {
            return Ok(Verdict::Differs(format!(
                "ghostwire refused with ERROR {code}: {msg}; natively the ALTER succeeds"
            )))
        }
        Ok(None) => "ok",
        Ok(Some(row)) => {
            let id = match row.get_opt::<String, _>(0) {
                Some(Ok(id)) => id,
                _ => return Err(format!("async answer without an id: {row:?}")),
            };
            let mut st =
                await_any(&mut d, &id, &["ready", "complete", "failed", "cancelled"]).await?;
            if st.status == "ready" {
                if burst_ok {
                    burst(&mut d, t, &seed).await?;
                    wrote = true;
                }
                c.query_drop(format!("ALTER MIGRATION '{id}' COMPLETE"))
                    .await
                    .map_err(ctx_err("ALTER MIGRATION COMPLETE"))?;
                st = await_any(&mut d, &id, &["complete", "failed", "cancelled"]).await?;
            }
            if st.status != "complete" {
                return Ok(Verdict::Differs(format!(
                    "ghostwire migration {}: {}; natively the ALTER succeeds",
                    st.status, st.message
                )));
            }
            if wrote {
                "copy with writes"
            } else {
                st.strategy
            }
        }
    };
    c.disconnect().await.ok();

    // The native reference: the frozen old table when there is one (it holds
    // the writes made while the migration waited), else the pre-ALTER copy
    // with the same writes applied.
    let src = if let Some(del) = common::old_table_of(&mut d, t).await {
        del
    } else {
        if wrote {
            burst(&mut d, &pre, &seed).await?;
        }
        pre
    };
    copy_table(&mut d, &src, &native).await?;
    if let Err((code, msg)) = native_alter(ctx, s, case, &native).await {
        return Ok(Verdict::Differs(format!(
            "the native ALTER on `{src}` failed with ERROR {code}: {msg}, ghostwire's succeeded"
        )));
    }
    let got = Table::read(&mut d, t).await?;
    let want = Table::read(&mut d, &native).await?;
    Ok(match first_difference(&got, &want) {
        None => Verdict::Same(how),
        Some(diff) => Verdict::Differs(format!("[{how}] {diff}")),
    })
}

/// The server refuses this ALTER: ghostwire must answer with the same code
/// and leave the table as it was. Sent without hints, so the answer is the
/// ERR itself (an async migration only keeps the message).
async fn refused_alike(
    ctx: &Ctx,
    s: &Session,
    case: &Case,
    d: &mut Conn,
    code: u16,
    msg: &str,
) -> Res<Verdict> {
    let t = case.name;
    let mut c = client(ctx, s, true).await;
    let sql = alter_bytes(s, case, t, "").unwrap();
    let got = c.query_drop(sql.as_slice()).await.map_err(server_err);
    c.disconnect().await.ok();
    let mut why = match got {
        Ok(()) => format!("natively ERROR {code}: {msg}; ghostwire succeeded"),
        Err((got, gmsg)) if got != code => {
            format!("natively ERROR {code}: {msg}; ghostwire ERROR {got}: {gmsg}")
        }
        Err(_) => String::new(),
    };
    let now = Table::read(d, t).await?;
    let before = Table::read(d, &format!("{t}_p")).await?;
    if let Some(diff) = first_difference(&now, &before) {
        if !why.is_empty() {
            why.push_str("; ");
        }
        why.push_str(&format!("table changed by the refused ALTER: {diff}"));
    }
    Ok(if why.is_empty() {
        Verdict::Same("refused")
    } else {
        Verdict::Differs(why)
    })
}

async fn native_alter(
    ctx: &Ctx,
    s: &Session,
    case: &Case,
    table: &str,
) -> Result<(), (u16, String)> {
    let mut n = client(ctx, s, false).await;
    let sql = alter_bytes(s, case, table, "").unwrap();
    let r = n.query_drop(sql.as_slice()).await.map_err(server_err);
    n.disconnect().await.ok();
    r
}

async fn create_and_seed(d: &mut Conn, case: &Case) -> Res<()> {
    let t = case.name;
    d.query_drop(format!("CREATE TABLE `{t}` ({}) {}", case.cols, case.opts))
        .await
        .map_err(ctx_err("corpus: CREATE TABLE"))?;
    d.query_drop(format!("INSERT INTO `{t}` {}", case.rows))
        .await
        .map_err(ctx_err("corpus: seed INSERT"))?;
    if case.pad {
        // More rows (and duplicates in every column but id) by copying the
        // seed under new ids; a unique key or a small id type refuses it,
        // which is fine: the seed alone remains.
        let cols = columns(d, t).await?;
        for off in [1000, 2000] {
            let shifted = cols
                .iter()
                .map(|c| {
                    if c == "`id`" {
                        format!("id + {off}")
                    } else {
                        c.clone()
                    }
                })
                .collect::<Vec<_>>()
                .join(", ");
            let _ = d
                .query_drop(format!(
                    "INSERT INTO `{t}` ({}) SELECT {shifted} FROM `{t}`",
                    cols.join(", ")
                ))
                .await;
        }
    }
    if !case.after.is_empty() {
        d.query_drop(case.after.replace("@T", &format!("`{t}`")))
            .await
            .map_err(ctx_err("corpus: after-seed statements"))?;
    }
    Ok(())
}

/// Stored (non-generated) columns, quoted, in table order. (No expression:
/// NULL on MariaDB, '' on MySQL, which has no IS_GENERATED column.)
async fn columns(d: &mut Conn, table: &str) -> Res<Vec<String>> {
    let names: Vec<Vec<u8>> = d
        .exec(
            "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() \
             AND TABLE_NAME = ? AND COALESCE(GENERATION_EXPRESSION, '') = '' \
             ORDER BY ORDINAL_POSITION",
            (table,),
        )
        .await
        .map_err(ctx_err("columns"))?;
    Ok(names
        .into_iter()
        .map(|n| format!("`{}`", String::from_utf8_lossy(&n)))
        .collect())
}

/// `CREATE TABLE … LIKE` + every row + the AUTO_INCREMENT counter.
async fn copy_table(d: &mut Conn, src: &str, dst: &str) -> Res<()> {
    let cols = columns(d, src).await?.join(", ");
    d.query_drop(format!(
        "CREATE TABLE `{dst}` LIKE `{src}`; INSERT INTO `{dst}` ({cols}) SELECT {cols} FROM `{src}`"
    ))
    .await
    .map_err(ctx_err(&format!("copy {src} to {dst}")))?;
    let next: Option<Option<u64>> = d
        .exec_first(
            "SELECT AUTO_INCREMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?",
            (src,),
        )
        .await
        .map_err(ctx_err("read AUTO_INCREMENT"))?;
    if let Some(Some(next)) = next {
        d.query_drop(format!("ALTER TABLE `{dst}` AUTO_INCREMENT = {next}"))
            .await
            .map_err(ctx_err("carry AUTO_INCREMENT"))?;
    }
    Ok(())
}

async fn drop_table(d: &mut Conn, t: &str) -> Res<()> {
    d.query_drop(format!("DROP TABLE `{t}`"))
        .await
        .map_err(ctx_err("drop"))
}

/// Writes on `table` while the migration waits, all derived from the seed
/// table (same shape, ids shifted by SEED_OFFSET) so they are deterministic
/// and can be replayed on another copy: a delete, a re-insert under a new
/// id, a key change, an update of every column from another row, a
/// delete + insert in one transaction, and an insert deleted again (a gap
/// at the top of an AUTO_INCREMENT key). Statements the table refuses (a
/// unique key, a small id type) change nothing and are skipped.
async fn burst(d: &mut Conn, table: &str, seed: &str) -> Res<()> {
    let ids: Vec<Value> = d
        .query(format!("SELECT id FROM `{table}` ORDER BY id"))
        .await
        .map_err(ctx_err("ids"))?;
    let ids: Vec<i64> = ids
        .into_iter()
        .filter_map(|v| match v {
            Value::Bytes(b) => String::from_utf8_lossy(&b).parse().ok(),
            _ => None,
        })
        .collect();
    if ids.len() < 5 {
        return Ok(());
    }
    let cols = columns(d, table).await?;
    let list = cols.join(", ");
    let set = cols
        .iter()
        .filter(|c| *c != "`id`")
        .map(|c| format!("a.{c} = b.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let (t, s, last) = (table, seed, ids[ids.len() - 1]);
    let copy_of = |id: i64| {
        format!(
            "INSERT INTO `{t}` ({list}) SELECT {list} FROM `{s}` WHERE id = {}",
            id + SEED_OFFSET
        )
    };
    let mut steps = vec![
        vec![format!("DELETE FROM `{t}` WHERE id = {}", ids[0])],
        vec![copy_of(ids[0])],
        vec![format!(
            "UPDATE `{t}` SET id = id + {MOVED_OFFSET} WHERE id = {}",
            ids[1]
        )],
        vec![
            "START TRANSACTION".into(),
            format!("DELETE FROM `{t}` WHERE id = {}", ids[3]),
            copy_of(ids[3]),
            "COMMIT".into(),
        ],
        vec![
            copy_of(last),
            format!("DELETE FROM `{t}` WHERE id = {}", last + SEED_OFFSET),
        ],
    ];
    if !set.is_empty() {
        steps.push(vec![format!(
            "UPDATE `{t}` AS a JOIN `{s}` AS b ON b.id = {} SET {set} WHERE a.id = {}",
            ids[2] + SEED_OFFSET,
            ids[4]
        )]);
    }
    for step in steps {
        for sql in &step {
            if d.query_drop(sql).await.is_err() {
                let _ = d.query_drop("ROLLBACK").await;
                break;
            }
        }
    }
    Ok(())
}

/// status, strategy, message as stored.
type StatusRow = (Vec<u8>, Vec<u8>, Option<Vec<u8>>);

struct Status {
    status: String,
    strategy: &'static str,
    message: String,
}

/// Polls the state table until the migration reaches one of `statuses`.
async fn await_any(d: &mut Conn, id: &str, statuses: &[&str]) -> Res<Status> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let row: Option<StatusRow> = d
            .exec_first(
                "SELECT status, strategy, message FROM _ghostwire.migrations WHERE id = ?",
                (id,),
            )
            .await
            .map_err(ctx_err("migration status"))?;
        if let Some((status, strategy, message)) = row {
            let status = String::from_utf8_lossy(&status).into_owned();
            if statuses.contains(&status.as_str()) {
                let strategy = match strategy.as_slice() {
                    b"copy" => "copy",
                    b"instant" => "instant",
                    _ => "other",
                };
                let message = String::from_utf8_lossy(&message.unwrap_or_default()).into_owned();
                return Ok(Status {
                    status,
                    strategy,
                    message,
                });
            }
        }
        if Instant::now() > deadline {
            return Err(format!("migration {id} never reached {statuses:?}"));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
