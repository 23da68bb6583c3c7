//! A test's two schemas, the same fixture in each: `<name>_native` used
//! straight on the server, `<name>` through ghostwire; and the comparison
//! of their outcomes and tables with only the schema name normalised.

use std::path::{Path, PathBuf};

use crate::common::{self, setup, Ctx};
use mysql_async::prelude::*;
use mysql_async::{Conn, Row, Value};

/// One statement's answer: the error code and message when refused.
pub type Outcome = Result<(), (u16, String)>;

pub struct Pair {
    pub ctx: Ctx,
    pub native: String,
}

impl Pair {
    /// Both schemas, fresh, with `fixture` run in each.
    pub async fn new(name: &str, fixture: &[&str]) -> Pair {
        let ctx = setup(name).await;
        let native = format!("{name}_native");
        let mut c = common::direct_conn_to("mysql").await;
        c.query_drop(format!(
            "DROP DATABASE IF EXISTS `{native}`; CREATE DATABASE `{native}`"
        ))
        .await
        .unwrap();
        c.disconnect().await.ok();
        let pair = Pair { ctx, native };
        for schema in pair.schemas() {
            let mut c = common::direct_conn_to(&schema).await;
            for s in fixture {
                c.query_drop(*s)
                    .await
                    .unwrap_or_else(|e| panic!("{s}: {e}"));
            }
            c.disconnect().await.ok();
        }
        pair
    }

    pub fn via(&self) -> &str {
        &self.ctx.schema
    }

    /// [native, via]
    pub fn schemas(&self) -> [String; 2] {
        [self.native.clone(), self.ctx.schema.clone()]
    }

    /// A connection straight to the server, in the native schema.
    pub async fn native_conn(&self) -> Conn {
        common::direct_conn_to(&self.native).await
    }

    /// A connection through ghostwire, in the other schema.
    pub async fn via_conn(&self) -> Conn {
        self.ctx.conn().await
    }

    /// (host, port) of the server and of ghostwire.
    pub fn endpoints(&self) -> [(String, u16); 2] {
        let s = common::server();
        [
            (s.host.clone(), s.port),
            ("127.0.0.1".into(), self.ctx.port()),
        ]
    }

    /// Every table of both schemas (definitions; rows of `with_rows`)
    /// must be equal, the schema name normalised.
    pub async fn assert_same_tables(&self, with_rows: &[&str], label: &str) {
        let native = tables(&self.native, with_rows).await;
        let via = tables(self.via(), with_rows).await;
        let native = native.replace(&self.native, "<schema>");
        let via = via.replace(self.via(), "<schema>");
        assert_eq!(
            via, native,
            "[{label}] through ghostwire (left) vs natively (right)"
        );
    }
}

/// Runs `sql` and returns its outcome, schema names normalised.
pub async fn outcome(c: &mut Conn, sql: &str, schema: &str) -> Outcome {
    match c.query_drop(sql).await {
        Ok(()) => Ok(()),
        Err(mysql_async::Error::Server(e)) => Err((e.code, e.message.replace(schema, "<schema>"))),
        Err(e) => Err((0, e.to_string())),
    }
}

/// Definitions of every table in `schema` (old `<t>_<id>_del` tables left
/// out), and the rows of `with_rows`, as one text.
pub async fn tables(schema: &str, with_rows: &[&str]) -> String {
    let mut c = common::direct_conn_to(schema).await;
    let names: Vec<String> = c
        .exec(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? \
             AND TABLE_NAME NOT LIKE '%\\_del' ORDER BY 1",
            (schema,),
        )
        .await
        .unwrap();
    let mut out = String::new();
    for t in names {
        let q = format!("`{}`", t.replace('`', "``"));
        let def: (String, String) = c
            .query_first(format!("SHOW CREATE TABLE {q}"))
            .await
            .unwrap()
            .unwrap();
        out.push_str(&def.1);
        out.push('\n');
        if with_rows.contains(&t.as_str()) {
            let rows: Vec<Row> = c
                .query(format!("SELECT * FROM {q} ORDER BY 1"))
                .await
                .unwrap();
            for r in rows {
                let cells: Vec<String> = (0..r.len()).map(|i| cell(&r, i)).collect();
                out.push_str(&format!("  {}\n", cells.join(" | ")));
            }
        }
    }
    c.disconnect().await.ok();
    out
}

fn cell(row: &Row, i: usize) -> String {
    match row.as_ref(i) {
        Some(Value::Bytes(b)) => String::from_utf8_lossy(b).into_owned(),
        Some(Value::NULL) | None => "NULL".into(),
        Some(v) => format!("{v:?}"),
    }
}

/// Where `scripts/deps.sh` installs the tools.
pub fn deps_dir() -> PathBuf {
    std::env::var_os("GHOSTWIRE_TEST_DEPS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp/ghostwire-test-deps"))
}

/// This binary's scripts (`tests/tools/…`).
pub fn script_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools")
}

/// Runs a tool (`program` with `args`) against `db` at `endpoint` as the
/// test's app user; panics with its output when it fails.
pub async fn run_tool(program: &Path, args: &[&str], endpoint: &(String, u16), db: &str) -> String {
    let out = tokio::process::Command::new(program)
        .args(args)
        .env("GW_HOST", &endpoint.0)
        .env("GW_PORT", endpoint.1.to_string())
        .env("GW_USER", common::APP_USER.0)
        .env("GW_PASSWORD", common::APP_USER.1)
        .env("GW_DB", db)
        .env("NODE_PATH", script_dir().join("node_modules"))
        .env("GOPATH", "/usr/share/gocode")
        .env("GO111MODULE", "off")
        .env("GOCACHE", deps_dir().join("go-cache"))
        .output()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "run {}: {e} (scripts/deps.sh installs it)",
                program.display()
            )
        });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{} {args:?} against {db} on port {} failed:\n{text}",
        program.display(),
        endpoint.1
    );
    text
}

/// Runs the tool on the native schema straight to the server, then through
/// ghostwire on the other: same arguments, both must succeed.
pub async fn run_both(pair: &Pair, program: &Path, args: &[&str]) {
    let [direct, proxy] = pair.endpoints();
    run_tool(program, args, &direct, &pair.native).await;
    run_tool(program, args, &proxy, pair.via()).await;
}

/// The virtualenv's python.
pub fn python() -> PathBuf {
    deps_dir().join("venv/bin/python")
}
