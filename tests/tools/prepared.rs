//! Prepared ALTER TABLE / CREATE INDEX and prepared migration commands:
//! the proxy answers the prepare and runs the command at execute, as the
//! COM_QUERY path runs it. Each driver's run through ghostwire must leave
//! the table as the same run straight to the server.

use std::path::Path;

use crate::common::{self, raw::Raw};
use crate::harness::{run_tool, script_dir, Pair};
use ghostwire::protocol::Command as Cmd;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Row, Value};

const FIXTURE: &[&str] = &[
    "CREATE TABLE t (id INT PRIMARY KEY, v INT, w VARCHAR(20)) ENGINE=InnoDB",
    "INSERT INTO t VALUES (1, 10, 'a'), (2, 20, 'b'), (3, NULL, 'c')",
];

type Outcome = Result<(), (u16, String)>;

async fn exec(c: &mut Conn, sql: &str, schema: &str) -> Outcome {
    match c.exec_drop(sql, ()).await {
        Ok(()) => Ok(()),
        Err(mysql_async::Error::Server(e)) => Err((e.code, e.message.replace(schema, "<schema>"))),
        Err(e) => Err((0, e.to_string())),
    }
}

/// mysql_async's prepared path (`exec_drop`), natively and through
/// ghostwire: the same answers and the same table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_async_prepared_alters_as_native() {
    let pair = Pair::new("tl_prep", FIXTURE).await;
    let statements = [
        "ALTER TABLE t ADD COLUMN c INT NULL",
        "ALTER TABLE t ADD INDEX iv (v)",
        "CREATE INDEX iw ON t (w, v)",
        "ALTER TABLE t ADD INDEX bad (nope)",
        "CREATE INDEX iv ON t (w)",
        "ALTER TABLE nope ADD INDEX (v)",
        "ALTER TABLE t /* ghostwire: direct */ ADD INDEX d (id, v)",
        "CREATE TEMPORARY TABLE tt (id INT PRIMARY KEY, v INT)",
        "ALTER TABLE tt ADD INDEX (v)",
        "ALTER TABLE t DROP COLUMN c",
    ];
    let mut answers = Vec::new();
    for (schema, mut c) in [
        (pair.native.clone(), pair.native_conn().await),
        (pair.via().to_string(), pair.via_conn().await),
    ] {
        let mut got = Vec::new();
        for s in statements {
            got.push((s, exec(&mut c, s, &schema).await));
        }
        // A statement prepared, executed and closed explicitly; the
        // connection goes on.
        let stmt = c.prep("ALTER TABLE t ADD INDEX iw2 (w)").await.unwrap();
        c.exec_drop(&stmt, ()).await.unwrap();
        c.close(stmt).await.unwrap();
        let one: Option<i64> = c.query_first("SELECT 1").await.unwrap();
        assert_eq!(one, Some(1));
        c.disconnect().await.ok();
        answers.push(got);
    }
    for (n, v) in answers[0].iter().zip(&answers[1]) {
        assert_eq!(v, n, "through ghostwire (left) vs natively (right)");
    }
    pair.assert_same_tables(&["t"], "mysql_async prepared")
        .await;
}

/// A text cell and its binary twin say the same.
fn same_value(text: &Value, binary: &Value) -> bool {
    let Value::Bytes(t) = text else {
        return text == binary;
    };
    let t = String::from_utf8_lossy(t);
    match binary {
        Value::Bytes(b) => *b == t.as_bytes(),
        Value::Int(i) => t.parse::<i64>().ok() == Some(*i),
        Value::Double(d) => t.parse::<f64>().ok() == Some(*d),
        Value::Date(y, mo, d, h, mi, s, us) => {
            let b = format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}.{us:06}");
            b.starts_with(t.as_ref()) || t.starts_with(&b)
        }
        _ => false,
    }
}

/// Prepared SHOW MIGRATIONS (binary rows) says what the text one says;
/// prepared ALTER MIGRATION answers as the text one; a `?` is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepared_migration_commands() {
    let pair = Pair::new("tl_prepshow", FIXTURE).await;
    let mut c = pair.via_conn().await;
    c.exec_drop("ALTER TABLE t ADD INDEX iv (v)", ())
        .await
        .unwrap();
    // Other tests' migrations (same server) may still be moving: only
    // this test's, which is done, is compared.
    let ours = |rows: Vec<Row>| -> Vec<Row> {
        rows.into_iter()
            .filter(|r| r.get::<String, _>("table_schema").as_deref() == Some(pair.via()))
            .collect()
    };
    let text = ours(c.query("SHOW MIGRATIONS").await.unwrap());
    let binary = ours(c.exec("SHOW MIGRATIONS", ()).await.unwrap());
    assert!(!text.is_empty());
    assert_eq!(text.len(), binary.len());
    for (t, b) in text.iter().zip(&binary) {
        assert_eq!(t.columns_ref().len(), b.columns_ref().len());
        for i in 0..t.len() {
            let (tv, bv) = (t.as_ref(i).unwrap(), b.as_ref(i).unwrap());
            assert!(
                same_value(tv, bv),
                "column {}: text {tv:?}, binary {bv:?}",
                t.columns_ref()[i].name_str()
            );
        }
    }
    let id: String = text[0].get("id").unwrap();
    let one: Vec<Row> = c.exec(format!("SHOW MIGRATION '{id}'"), ()).await.unwrap();
    assert_eq!(one.len(), 1);
    // ALTER MIGRATION: the same answer prepared as sent as a query.
    let cmd = format!("ALTER MIGRATION '{id}' COMPLETE");
    let as_query = c.query_drop(&cmd).await.map_err(|e| e.to_string());
    let prepared = c.exec_drop(&cmd, ()).await.map_err(|e| e.to_string());
    assert_eq!(prepared, as_query);
    // A `?` in an ALTER: where the server refuses it at prepare, the text
    // is relayed and the answer is the server's; where it accepts it
    // (MariaDB's `DEFAULT ?`), ghostwire refuses the prepare clearly.
    let mut native = pair.native_conn().await;
    for sql in [
        "ALTER TABLE t COMMENT = ?",
        "ALTER TABLE t ADD c INT DEFAULT ?",
    ] {
        let code = |r: Result<mysql_async::Statement, mysql_async::Error>| match r {
            Ok(_) => None,
            Err(mysql_async::Error::Server(e)) => Some((e.code, e.message)),
            Err(e) => panic!("{sql}: {e}"),
        };
        let n = code(native.prep(sql).await);
        let v = code(c.prep(sql).await);
        match n {
            Some(n) => assert_eq!(v, Some(n), "{sql}: refused as natively"),
            None => {
                let (code, message) = v.expect("refused through ghostwire");
                assert_eq!(code, 1235, "{sql}: {message}");
                assert!(message.contains("parameters"), "{message}");
            }
        }
    }
    native.disconnect().await.ok();
    match c.exec_drop("SHOW MIGRATION ?", ("x",)).await {
        Err(mysql_async::Error::Server(e)) => assert_eq!(e.code, 1064, "{}", e.message),
        other => panic!("a parameter in SHOW MIGRATION: {other:?}"),
    }
    c.disconnect().await.ok();
}

/// COM_STMT_RESET, SEND_LONG_DATA and CLOSE on the proxy's statement id
/// never reach the server; its ids stay clear of the server's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statement_commands_on_a_proxy_statement() {
    let pair = Pair::new("tl_prepraw", FIXTURE).await;
    let mut r = Raw::login(pair.ctx.addr, pair.via(), common::raw::base_caps(), 0).await;
    let mut prepare = vec![Cmd::COM_STMT_PREPARE as u8];
    prepare.extend_from_slice(b"ALTER TABLE t ADD INDEX iv (v)");
    r.send(0, &prepare).await;
    let (_, ok) = r.read_packet().await.unwrap();
    assert_eq!(ok.first().copied(), Some(0u8), "prepare OK: {ok:?}");
    let id = ok[1..5].to_vec();
    assert_eq!(u32::from_le_bytes(id[..].try_into().unwrap()), 0xFFFF_FFFE);
    assert_eq!(&ok[5..9], &[0, 0, 0, 0], "no columns, no parameters");
    let with_id = |cmd: Cmd, rest: &[u8]| {
        let mut p = vec![cmd as u8];
        p.extend_from_slice(&id);
        p.extend_from_slice(rest);
        p
    };
    r.send(0, &with_id(Cmd::COM_STMT_SEND_LONG_DATA, &[0, 0, b'x']))
        .await;
    r.send(0, &with_id(Cmd::COM_STMT_RESET, &[])).await;
    let (_, reset) = r.read_packet().await.unwrap();
    assert_eq!(reset.first().copied(), Some(0u8), "reset OK: {reset:?}");
    r.send(0, &with_id(Cmd::COM_STMT_EXECUTE, &[0, 1, 0, 0, 0]))
        .await;
    let (_, done) = r.read_packet().await.unwrap();
    assert_eq!(done.first().copied(), Some(0u8), "execute OK: {done:?}");
    r.send(0, &with_id(Cmd::COM_STMT_CLOSE, &[])).await;
    if !common::is_mysql() {
        // MariaDB connectors pipeline PREPARE and EXECUTE of id
        // 0xFFFF_FFFF, "the statement just prepared".
        let mut prepare = vec![Cmd::COM_STMT_PREPARE as u8];
        prepare.extend_from_slice(b"ALTER TABLE t ADD COLUMN c INT");
        r.send(0, &prepare).await;
        let mut execute = vec![Cmd::COM_STMT_EXECUTE as u8];
        execute.extend_from_slice(&[0xFF, 0xFF, 0xFF, 0xFF, 0, 1, 0, 0, 0]);
        r.send(0, &execute).await;
        let (_, ok) = r.read_packet().await.unwrap();
        assert_eq!(&ok[1..5], &0xFFFF_FFFDu32.to_le_bytes(), "{ok:?}");
        let (_, done) = r.read_packet().await.unwrap();
        assert_eq!(done.first().copied(), Some(0u8), "execute -1 OK: {done:?}");
    }
    r.query("SELECT 1").await;
    let (_, cols) = r.read_packet().await.unwrap();
    assert_eq!(cols, vec![1], "SELECT 1 answered after the close");
    drop(r);
    let mut d = pair.native_conn().await;
    d.query_drop("ALTER TABLE t ADD INDEX iv (v)")
        .await
        .unwrap();
    if !common::is_mysql() {
        d.query_drop("ALTER TABLE t ADD COLUMN c INT")
            .await
            .unwrap();
    }
    d.disconnect().await.ok();
    pair.assert_same_tables(&["t"], "raw prepared").await;
}

/// node mysql2 `execute()`, Go's driver and Ruby mysql2 (prepared statements), straight
/// to the server and through ghostwire: the same tables; SHOW MIGRATIONS
/// prepared through ghostwire lists the runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_go_ruby_prepared() {
    let pair = Pair::new("tl_prepdrv", FIXTURE).await;
    let [direct, proxy] = pair.endpoints();
    let node = Path::new("node");
    let js = script_dir().join("node/prepared.js");
    let js = js.to_str().unwrap();
    run_tool(node, &[js], &direct, &pair.native).await;
    // Each copy leaves its old table: the next copy of `t` needs it gone.
    let shown = run_tool(node, &[js, "show"], &proxy, pair.via()).await;
    assert!(shown.contains("CREATE INDEX ic ON t (c, v)"), "{shown}");
    let go = script_dir().join("go/prepared.go");
    let go = go.to_str().unwrap();
    run_tool(Path::new("go"), &["run", go], &direct, &pair.native).await;
    let out = run_tool(Path::new("go"), &["run", go, "show"], &proxy, pair.via()).await;
    assert!(out.contains("migrations="), "{out}");
    let rb = script_dir().join("ruby/prepared.rb");
    let rb = rb.to_str().unwrap();
    run_tool(Path::new("ruby"), &[rb], &direct, &pair.native).await;
    let out = run_tool(Path::new("ruby"), &[rb, "show"], &proxy, pair.via()).await;
    assert!(
        out.contains("statement=CREATE INDEX ir ON t (r, w) rows_copied=3"),
        "{out}"
    );
    pair.assert_same_tables(&["t"], "node mysql2, Go, Ruby mysql2 prepared")
        .await;
}

/// A user without ALTER or INDEX: an ALTER / CREATE INDEX / DROP INDEX,
/// prepared or not, gets the server's own refusal (code and message)
/// through ghostwire too, and nothing changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepared_alter_without_the_right() {
    let pair = Pair::new("tl_prepdeny", FIXTURE).await;
    let (user, pass) = common::LIMITED_USER;
    let [direct, proxy] = pair.endpoints();
    let mut answers = Vec::new();
    for ((host, port), schema) in [
        (direct, pair.native.clone()),
        (proxy, pair.via().to_string()),
    ] {
        let mut c = Conn::new(common::opts(&host, port, user, pass, &schema))
            .await
            .unwrap();
        let mut got = Vec::new();
        for s in [
            "ALTER TABLE t ADD INDEX iv (v)",
            "CREATE INDEX iv ON t (v)",
            "DROP INDEX `PRIMARY` ON t",
            "ALTER TABLE t ADD COLUMN c INT",
        ] {
            got.push(exec(&mut c, s, &schema).await);
            // And as a plain query.
            got.push(match c.query_drop(s).await {
                Ok(()) => Ok(()),
                Err(mysql_async::Error::Server(e)) => {
                    Err((e.code, e.message.replace(&schema, "<schema>")))
                }
                Err(e) => Err((0, e.to_string())),
            });
        }
        c.disconnect().await.ok();
        answers.push(got);
    }
    let user_at = |o: &Outcome| {
        o.clone()
            .map_err(|(c, m)| (c, m.replace("127.0.0.1", "<host>")))
    };
    let native: Vec<_> = answers[0].iter().map(user_at).collect();
    let via: Vec<_> = answers[1].iter().map(user_at).collect();
    assert!(
        native.iter().all(|o| matches!(o, Err((1142, _)))),
        "{native:?}"
    );
    assert_eq!(via, native, "through ghostwire (left) vs natively (right)");
    pair.assert_same_tables(&["t"], "refused prepared ALTERs")
        .await;
}
