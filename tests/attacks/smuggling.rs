//! Statement smuggling: text that ghostwire's lexer reads as one ALTER but
//! the server reads as several statements (or as a different ALTER), which
//! ghostwire would then run under its own account.

use crate::world::{Case, Policy::SameOrRefused, World};

/// The user's table and a table it may fill: only reading the secret (or
/// writing elsewhere) is illegal in the smuggled statement.
const GRANTS: &[&str] = &[
    "ALTER, SELECT, INSERT, UPDATE, DELETE ON {db1}.t",
    "SELECT, INSERT ON {db1}.loot",
];

/// Every way to hide `;` from a lexer that gets MariaDB's comment, quote
/// and escape rules wrong: `(pre-statement, text with {S} for the
/// smuggled statement)`. Natively each is a syntax error, or the ALTER
/// plus a refused second statement.
const FORMS: &[(&str, &str, &str)] = &[
    // MariaDB skips MySQL-only (5.7+) and future versions: plain comments.
    (
        "/*!80000",
        "",
        "ALTER TABLE {db1}.t COMMENT='x' /*!80000 ' */ ; {S}; -- '",
    ),
    (
        "/*!99999",
        "",
        "ALTER TABLE {db1}.t COMMENT='x' /*!99999 ' */ ; {S}; -- '",
    ),
    (
        "/*!999999",
        "",
        "ALTER TABLE {db1}.t COMMENT='x' /*!999999 ' */ ; {S}; -- '",
    ),
    (
        "/*M!100000",
        "",
        "ALTER TABLE {db1}.t COMMENT='x' /*M!100000 ' */ ; {S}; -- '",
    ),
    (
        "/*M!999999",
        "",
        "ALTER TABLE {db1}.t COMMENT='x' /*M!999999 ' */ ; {S}; -- '",
    ),
    (
        "/*M! ",
        "",
        "ALTER TABLE {db1}.t COMMENT='x' /*M! ' */ ; {S}; -- '",
    ),
    (
        "/*! ",
        "",
        "ALTER TABLE {db1}.t COMMENT='x' /*! ' */ ; {S}; -- '",
    ),
    // The server's "-- " accepts any control character, not just spaces.
    (
        "--\\x01",
        "",
        "ALTER TABLE {db1}.t COMMENT='x' --\x01 '\n; {S}; -- '",
    ),
    (
        "--\\x0b",
        "",
        "ALTER TABLE {db1}.t COMMENT='x' --\x0b '\n; {S}; -- '",
    ),
    (
        "--\\t",
        "",
        "ALTER TABLE {db1}.t COMMENT='x' --\t'\n; {S}; -- '",
    ),
    (
        "-- at end",
        "",
        "ALTER TABLE {db1}.t COMMENT='x' --\n; {S}; -- '",
    ),
    ("#", "", "ALTER TABLE {db1}.t COMMENT='x' # '\n; {S}; -- '"),
    (
        "backslash",
        "",
        "ALTER TABLE {db1}.t COMMENT 'a\\'; {S}; -- '",
    ),
    (
        "double backslash",
        "",
        "ALTER TABLE {db1}.t COMMENT 'a\\\\'; {S}; -- '",
    ),
    (
        "NO_BACKSLASH_ESCAPES",
        "SET sql_mode='NO_BACKSLASH_ESCAPES'",
        "ALTER TABLE {db1}.t COMMENT 'a\\'; {S}; -- '",
    ),
    (
        "ANSI_QUOTES",
        "SET sql_mode='ANSI_QUOTES'",
        "ALTER TABLE {db1}.t COMMENT \"x\" ; {S}; -- \"",
    ),
    (
        "ANSI_QUOTES identifier",
        "SET sql_mode='ANSI_QUOTES'",
        "ALTER TABLE {db1}.t ADD \"c'\" INT; {S}; -- '",
    ),
    (
        "unterminated /*",
        "",
        "ALTER TABLE {db1}.t COMMENT='x' /* ; {S};",
    ),
    (
        "unterminated /*!99999",
        "",
        "ALTER TABLE {db1}.t COMMENT='x' /*!99999 ' ; {S}; -- '",
    ),
    (
        "unterminated string",
        "",
        "ALTER TABLE {db1}.t COMMENT='x ; {S};",
    ),
];

async fn smuggle(prefix: &str, smuggled: &str) {
    let w = World::new(prefix, GRANTS, &[]).await;
    let texts: Vec<(String, &str, String)> = FORMS
        .iter()
        .map(|(name, pre, text)| {
            let label = format!("{name}: {smuggled}");
            (label, *pre, w.sql(&text.replace("{S}", smuggled)))
        })
        .chain(std::iter::once((
            format!("1 MiB of padding then /*!99999: {smuggled}"),
            "",
            w.sql(&format!(
                "ALTER TABLE {{db1}}.t COMMENT='x' {} /*!99999 ' */ ; {smuggled}; -- '",
                " ".repeat(1 << 20)
            )),
        )))
        .collect();
    let cases: Vec<Case> = texts
        .iter()
        .map(|(label, pre, text)| {
            let stmts: Vec<&str> = [*pre, text.as_str()]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect();
            Case::new(label, &stmts, SameOrRefused)
        })
        .collect();
    w.cases(&cases).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smuggled_drop_of_a_foreign_table() {
    smuggle("atk_smd", "DROP TABLE {secret}.cards").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smuggled_read_of_a_foreign_table() {
    smuggle(
        "atk_smr",
        "INSERT INTO {db1}.loot SELECT id, pan FROM {secret}.cards",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smuggled_read_of_mysql_user() {
    smuggle(
        "atk_smu",
        "INSERT INTO {db1}.loot SELECT CONCAT(User, '@', Host), Password FROM mysql.user",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smuggled_create_in_a_foreign_schema() {
    smuggle("atk_smc", "CREATE TABLE {db2}.x (i INT)").await;
}

/// ALTER … RENAME TO moves a table across schemas: natively it needs
/// rights on the target; ghostwire refuses the plain form (documented) but
/// must not run a hidden one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rename_into_a_foreign_schema() {
    let w = World::new("atk_ren", GRANTS, &[]).await;
    let forms = [
        ("plain", "ALTER TABLE {db1}.t ADD c INT, RENAME TO {db2}.x"),
        ("RENAME only", "ALTER TABLE {db1}.t RENAME TO {db2}.x"),
        (
            "RENAME AS",
            "ALTER TABLE {db1}.t ADD c INT, RENAME AS {db2}.x",
        ),
        (
            "/*!80000",
            "ALTER TABLE {db1}.t ADD c INT /*!80000 ' */ , RENAME TO {db2}.x -- '",
        ),
        (
            "/*!99999",
            "ALTER TABLE {db1}.t ADD c INT /*!99999 ' */ , RENAME TO {db2}.x -- '",
        ),
        (
            "/*M!999999",
            "ALTER TABLE {db1}.t ADD c INT /*M!999999 ' */ , RENAME TO {db2}.x -- '",
        ),
        (
            "--\\x01",
            "ALTER TABLE {db1}.t ADD c INT --\x01 '\n, RENAME TO {db2}.x -- '",
        ),
        // Not instant: the rename would apply to the shadow table.
        (
            "copy path /*!99999",
            "ALTER TABLE {db1}.t ADD INDEX (v) /*!99999 ' */ , RENAME TO {db2}.x -- '",
        ),
        (
            "copy path --\\x01",
            "ALTER TABLE {db1}.t ADD INDEX (v) --\x01 '\n, RENAME {db2}.x -- '",
        ),
    ];
    let texts: Vec<(String, String)> = forms
        .iter()
        .map(|(l, s)| (format!("rename to db2, {l}"), w.sql(s)))
        .collect();
    let cases: Vec<Case> = texts
        .iter()
        .map(|(l, s)| Case::new(l, &[s.as_str()], SameOrRefused))
        .collect();
    w.cases(&cases).await;
}
