//! Real clients through ghostwire: the `mariadb` CLI (libmariadb), Python's
//! PyMySQL (old-EOF protocol) and sysbench (prepared statements with MariaDB
//! metadata caching).

mod common;

use std::process::Command;

use common::*;
use mysql_async::prelude::*;

fn mariadb_cli(ctx: &Ctx, args: &[&str], sql: &str) -> std::process::Output {
    Command::new("mariadb")
        .args(["--protocol=TCP", "-h127.0.0.1", "--batch", "--skip-ssl"])
        .arg(format!("-P{}", ctx.port()))
        .arg(format!("-u{}", APP_USER.0))
        .arg(format!("-p{}", APP_USER.1))
        .arg(format!("-D{}", ctx.schema))
        .args(args)
        .arg("-e")
        .arg(sql)
        .output()
        .expect("run the mariadb client (install mariadb-client)")
}

fn stdout_ok(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_cli_queries_load_data_local_and_show_migrations() {
    let ctx = setup("cli_mariadb").await;
    let out = stdout_ok(&mariadb_cli(
        &ctx,
        &[],
        "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(10)); INSERT INTO t VALUES (1,'a'),(2,'b'); SELECT id, v FROM t ORDER BY id; SELECT COUNT(*) AS n FROM t",
    ));
    assert_eq!(out, "id\tv\n1\ta\n2\tb\nn\n2\n");

    // LOAD DATA LOCAL INFILE: the server asks the client for the file.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rows.tsv");
    let rows: String = (10..2010).map(|i| format!("{i}\tv{i}\n")).collect();
    std::fs::write(&file, rows).unwrap();
    let sql = format!(
        "LOAD DATA LOCAL INFILE '{}' INTO TABLE t; SELECT COUNT(*) FROM t",
        file.display()
    );
    let out = stdout_ok(&mariadb_cli(
        &ctx,
        &["--local-infile=1", "--skip-column-names"],
        &sql,
    ));
    assert_eq!(out.trim(), "2002");

    // The synthetic result set is readable by libmariadb (comments are
    // stripped by the CLI, so the statement arrives bare).
    let out = stdout_ok(&mariadb_cli(
        &ctx,
        &["--column-names"],
        "SHOW MIGRATION 'no-such-id'; SELECT 'after' AS x",
    ));
    assert_eq!(
        out, "x\nafter\n",
        "empty listing prints nothing, session stays in sync"
    );
    let out = stdout_ok(&mariadb_cli(
        &ctx,
        &["--vertical"],
        "SHOW MIGRATION 'no-such-id'",
    ));
    assert_eq!(out, "");
    // An online ALTER from the CLI, then its row in the listing.
    let out = stdout_ok(&mariadb_cli(
        &ctx,
        &["--vertical"],
        "CREATE TABLE m (id INT PRIMARY KEY, v INT); INSERT INTO m VALUES (1, 1), (2, 2); \
         ALTER TABLE m ADD INDEX (v); SHOW MIGRATIONS",
    ));
    for want in [
        "table_name: m",
        "strategy: copy",
        "status: complete",
        "rows_copied: 2",
    ] {
        assert!(out.contains(want), "{want:?} in {out}");
    }

    let bad = Command::new("mariadb")
        .args([
            "--protocol=TCP",
            "-h127.0.0.1",
            "--skip-ssl",
            "-uapp",
            "-pwrong",
            "-e",
            "SELECT 1",
        ])
        .arg(format!("-P{}", ctx.port()))
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("1045"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    ctx.shutdown().await;
}

const PYMYSQL_SCRIPT: &str = r#"
import sys, pymysql
port, user, pw, db = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
c = pymysql.connect(host="127.0.0.1", port=port, user=user, password=pw, database=db,
                    client_flag=pymysql.constants.CLIENT.MULTI_STATEMENTS, local_infile=True)
cur = c.cursor()
cur.execute("CREATE TABLE t (id INT PRIMARY KEY, v TEXT)")
cur.executemany("INSERT INTO t VALUES (%s, %s)", [(i, "v%d" % i) for i in range(100)])
c.commit()
cur.execute("SELECT COUNT(*), SUM(id) FROM t; SELECT 'second'; SELECT v FROM t WHERE id = 7")
sets = [cur.fetchall()]
while cur.nextset():
    sets.append(cur.fetchall())
assert sets == [((100, 4950),), (("second",),), (("v7",),)], sets
cur.execute("CREATE PROCEDURE p() BEGIN SELECT 1; SELECT 2; END")
cur.execute("CALL p()")
got = [cur.fetchall()]
while cur.nextset():
    got.append(cur.fetchall())
assert got[:2] == [((1,),), ((2,),)], got
c.begin()
cur.execute("UPDATE t SET v = 'x' WHERE id = 1")
c.rollback()
cur.execute("SELECT v FROM t WHERE id = 1")
assert cur.fetchone() == ("v1",)
cur.execute("SHOW MIGRATIONS")
names = [d[0] for d in cur.description]
assert names[:3] == ["id", "table_schema", "table_name"], names
assert [r for r in cur.fetchall() if r[1] == db] == []
cur.execute("SELECT 1")
assert cur.fetchone() == (1,)
cur.execute("ALTER TABLE t ADD INDEX (v(10))")
assert cur.rowcount == 100, cur.rowcount
cur.execute("SHOW MIGRATIONS")
rows = [dict(zip(names, r)) for r in cur.fetchall()]
mine = [r for r in rows if r["table_schema"] == db and r["table_name"] == "t"]
assert len(mine) == 1 and mine[0]["status"] == "complete", rows
assert mine[0]["strategy"] == "copy" and mine[0]["rows_copied"] == 100, mine
cur.execute("SHOW MIGRATION '%s'" % mine[0]["id"])
assert cur.fetchone()[0] == mine[0]["id"]
try:
    cur.execute("ALTER MIGRATION 'x' CANCEL")
    raise SystemExit("expected an error")
except pymysql.err.MySQLError as e:
    assert e.args[0] == 1105 and "no migration 'x'" in e.args[1], e
print("ok")
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pymysql_old_eof_client() {
    let ctx = setup("cli_pymysql").await;
    let out = Command::new("python3")
        .arg("-c")
        .arg(PYMYSQL_SCRIPT)
        .arg(ctx.port().to_string())
        .args([APP_USER.0, APP_USER.1, &ctx.schema])
        .output()
        .expect("python3");
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "ok",
        "pymysql: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    ctx.shutdown().await;
}

/// InnoDB's count of deadlocks since the server started.
async fn server_deadlocks(d: &mut mysql_async::Conn) -> u64 {
    let sql = if common::is_mysql() {
        "SELECT `COUNT` FROM information_schema.INNODB_METRICS WHERE NAME = 'lock_deadlocks'"
    } else {
        "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS \
         WHERE VARIABLE_NAME = 'INNODB_DEADLOCKS'"
    };
    let n: Option<u64> = d.query_first(sql).await.unwrap();
    n.expect("the server counts deadlocks")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sysbench_oltp_read_write_smoke_has_no_errors() {
    let ctx = setup("cli_sysbench").await;
    let common = [
        "--db-driver=mysql".to_string(),
        "--mysql-host=127.0.0.1".to_string(),
        format!("--mysql-port={}", ctx.port()),
        format!("--mysql-user={}", APP_USER.0),
        format!("--mysql-password={}", APP_USER.1),
        format!("--mysql-db={}", ctx.schema),
        // Enough rows that sysbench's own threads rarely deadlock each other.
        "--tables=4".to_string(),
        "--table-size=5000".to_string(),
        // Its two threads can still deadlock each other natively (the DELETE
        // and re-INSERT of one id take gap locks); sysbench retries those.
        // Any other error ends sysbench and fails the test.
        "--mysql-ignore-errors=1213".to_string(),
    ];
    let run = |args: &[&str]| {
        let out = Command::new("sysbench")
            .arg("oltp_read_write")
            .args(&common)
            .args(args)
            .output()
            .expect("sysbench");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "sysbench {args:?}: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    };
    run(&["prepare"]);
    let mut d = ctx.direct().await;
    let deadlocks_before = server_deadlocks(&mut d).await;
    let report = run(&["--threads=2", "--events=400", "--time=0", "run"]);
    let ignored: u64 = report
        .lines()
        .find(|l| l.contains("ignored errors:"))
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|n| n.parse().ok())
        .expect("sysbench report");
    // Every deadlock sysbench saw is one the server itself counted: the proxy
    // neither makes them up nor causes more than the server reports.
    let deadlocks = server_deadlocks(&mut d).await - deadlocks_before;
    assert!(
        ignored <= deadlocks,
        "{ignored} ignored errors, {deadlocks} deadlocks on the server: {report}"
    );
    assert!(report.contains("transactions:"), "{report}");
    let n: Option<i64> = d.query_first("SELECT COUNT(*) FROM sbtest1").await.unwrap();
    assert_eq!(n, Some(5000));
    ctx.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ed25519_auth_switch_is_relayed() {
    let ctx = setup("cli_ed25519").await;
    let mut d = ctx.direct().await;
    // The server asks the client to switch plugins mid-handshake, a round
    // trip the proxy must relay without knowing it. MariaDB: its ed25519
    // plugin. MySQL has no ed25519; the mariadb CLI starts with
    // mysql_native_password, which MySQL 9 no longer has, so it switches to
    // caching_sha2_password, whose first login (empty cache, no TLS through
    // the proxy) is the full exchange with the server's RSA key.
    if common::is_mysql() {
        d.query_drop("DROP USER IF EXISTS 'ed'@'%'").await.unwrap();
        d.query_drop("CREATE USER 'ed'@'%' IDENTIFIED WITH caching_sha2_password BY 'ed-pass'")
            .await
            .unwrap();
    } else {
        d.query_drop("INSTALL SONAME 'auth_ed25519'").await.ok();
        d.query_drop(
            "CREATE USER IF NOT EXISTS 'ed'@'%' IDENTIFIED VIA ed25519 USING PASSWORD('ed-pass')",
        )
        .await
        .unwrap();
    }
    d.query_drop(format!("GRANT SELECT ON `{}`.* TO 'ed'@'%'", ctx.schema))
        .await
        .unwrap();
    d.disconnect().await.unwrap();
    let login = |pass: &str| {
        Command::new("mariadb")
            .args([
                "--protocol=TCP",
                "-h127.0.0.1",
                "--skip-ssl",
                "--batch",
                "--skip-column-names",
                "-ued",
            ])
            .arg(format!("-P{}", ctx.port()))
            .arg(format!("-p{pass}"))
            .args(["-e", "SELECT CURRENT_USER()"])
            .output()
            .unwrap()
    };
    assert_eq!(stdout_ok(&login("ed-pass")).trim(), "ed@%");
    let bad = login("wrong");
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("1045"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    ctx.shutdown().await;
}
