//! What of a copy migration outlives the process running it, so that this
//! or another instance can resume it (see `instance` and `runner::resume`):
//! the request as the server accepted it (kept in `request`), and a
//! checkpoint of the work done (kept in `checkpoint`), both JSON columns of
//! `_ghostwire.migrations`.
//!
//! The request is stored as the engine received it (the body's bytes, the
//! client's session as the server reported it, the hints), never read
//! again from the statement text: a resumed migration applies exactly what
//! the original one checked.

use serde::{Deserialize, Serialize};

use super::client_session::ClientSession;
use super::Request;
use crate::flavour::ServerInfo;

/// The stored form of a `Request`.
#[derive(Serialize, Deserialize)]
struct SavedRequest {
    version: u32,
    schema: String,
    table: String,
    ignore: bool,
    /// Absent in requests stored before it existed.
    #[serde(default)]
    online: bool,
    ops: Vec<crate::sql::Op<String>>,
    body: Vec<u8>,
    hints: crate::sql::Hints,
    session: SavedSession,
}

#[derive(Serialize, Deserialize)]
struct SavedSession {
    server: ServerInfo,
    current_user: String,
    database: Option<String>,
    sql_mode: String,
    time_zone: String,
    charset_client: String,
    collation_connection: String,
    lock_wait_timeout: u64,
    vars: Vec<(String, Option<String>)>,
}

const REQUEST_VERSION: u32 = 1;

/// The request as stored; `None` when the session has no server (never
/// for a submitted copy migration).
pub fn save_request(req: &Request) -> Option<String> {
    let s = &req.session;
    let saved = SavedRequest {
        version: REQUEST_VERSION,
        schema: req.schema.clone(),
        table: req.table.clone(),
        ignore: req.ignore,
        online: req.online,
        ops: req.ops.clone(),
        body: req.body.clone(),
        hints: req.hints,
        session: SavedSession {
            server: s.server?,
            current_user: s.current_user.clone(),
            database: s.database.clone(),
            sql_mode: s.sql_mode.clone(),
            time_zone: s.time_zone.clone(),
            charset_client: s.charset_client.clone(),
            collation_connection: s.collation_connection.clone(),
            lock_wait_timeout: s.lock_wait_timeout,
            vars: s
                .vars
                .iter()
                .map(|(n, v)| (n.to_string(), v.clone()))
                .collect(),
        },
    };
    serde_json::to_string(&saved).ok()
}

/// The request back from its stored form and the statement text; `None`
/// when it was stored by another version, or its variables are not the
/// ones this version captures for the server (then it cannot be resumed
/// faithfully).
pub fn load_request(json: &str, text: Vec<u8>) -> Option<Request> {
    let saved: SavedRequest = serde_json::from_str(json).ok()?;
    if saved.version != REQUEST_VERSION {
        return None;
    }
    let s = saved.session;
    let names = s.server.ddl_variables();
    if names.len() != s.vars.len() {
        return None;
    }
    // The variable names must be this version's, in its order: they are
    // put into statement text (`ClientSession::ddl_setup`) from that list.
    let vars = names
        .iter()
        .zip(s.vars)
        .map(|(name, (stored, value))| (stored == *name).then_some((*name, value)))
        .collect::<Option<Vec<_>>>()?;
    Some(Request {
        schema: saved.schema,
        table: saved.table,
        ignore: saved.ignore,
        online: saved.online,
        ops: saved.ops,
        body: saved.body,
        text,
        hints: saved.hints,
        session: ClientSession {
            server: Some(s.server),
            current_user: s.current_user,
            database: s.database,
            sql_mode: s.sql_mode,
            time_zone: s.time_zone,
            charset_client: s.charset_client,
            collation_connection: s.collation_connection,
            lock_wait_timeout: s.lock_wait_timeout,
            vars,
        },
    })
}

/// How far the copy got: every chunk below `below` (key literals, in the
/// key's order) is in the shadow, `rows` rows in all.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CopiedUpTo {
    pub below: Vec<String>,
    pub rows: u64,
}

/// A point from which the migration can go on after its process is gone.
///
/// Safe to resume from because:
/// - re-copying is idempotent: shadow rows above `copy.below` are deleted
///   at resume and copied again from the original's current rows;
/// - replay is by key and reads the original's current row, so replaying a
///   change twice does nothing; `binlog` is at or before the transaction of
///   every change not yet replayed below the copy's bound (see
///   `binlog::Delta::checkpoint`), so the restarted tail records each of
///   them again.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// `None`: the copy had not finished a chunk in order yet.
    pub copy: Option<CopiedUpTo>,
    pub copy_done: bool,
    /// `ALTER MIGRATION … COMPLETE` was given (a postponed migration).
    #[serde(default)]
    pub released: bool,
    /// Binlog file and position of a transaction boundary.
    pub binlog: (String, u64),
    /// The old table's (and the cut-over sentry's) name the migration chose.
    #[serde(default)]
    pub old_table: String,
    /// The definitions (`lifecycle::fingerprint`) of the original and of
    /// the shadow when the copy started: a resume checks both are unchanged,
    /// and an interrupted cut-over is judged by them.
    pub original_def: String,
    pub shadow_def: String,
}

impl Checkpoint {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn from_json(json: &str) -> Option<Checkpoint> {
        serde_json::from_str(json).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flavour::Flavour;

    fn request(server: ServerInfo) -> Request {
        Request {
            schema: "d".into(),
            table: "t\u{fc}".into(),
            ignore: true,
            online: false,
            ops: vec![crate::sql::Op::Modify { name: "v".into() }],
            body: b"MODIFY v BIGINT /* \xff */".to_vec(),
            text: b"ALTER IGNORE TABLE t MODIFY v BIGINT".to_vec(),
            hints: crate::sql::Hints {
                postpone: true,
                ..Default::default()
            },
            session: ClientSession {
                server: Some(server),
                current_user: "app@%".into(),
                database: Some("d".into()),
                sql_mode: "STRICT_TRANS_TABLES".into(),
                time_zone: "+01:00".into(),
                charset_client: "latin1".into(),
                collation_connection: "latin1_swedish_ci".into(),
                lock_wait_timeout: 7,
                vars: server
                    .ddl_variables()
                    .iter()
                    .map(|n| (*n, Some("1".to_string())))
                    .collect(),
            },
        }
    }

    #[test]
    fn a_request_round_trips_byte_for_byte() {
        for flavour in [Flavour::MariaDb, Flavour::MySql] {
            let server = ServerInfo {
                flavour,
                version: 101106,
            };
            let req = request(server);
            let json = save_request(&req).unwrap();
            let back = load_request(&json, req.text.clone()).unwrap();
            assert_eq!(format!("{req:?}"), format!("{back:?}"));
        }
    }

    #[test]
    fn a_request_with_other_variables_is_not_resumed() {
        let server = ServerInfo {
            flavour: Flavour::MySql,
            version: 90704,
        };
        let json = save_request(&request(server)).unwrap();
        let renamed = json.replace("sql_require_primary_key", "sql_require_primary_keyX");
        assert_ne!(json, renamed);
        assert!(load_request(&renamed, vec![]).is_none());
        assert!(load_request("{}", vec![]).is_none());
        assert!(load_request("not json", vec![]).is_none());
    }

    #[test]
    fn a_checkpoint_round_trips() {
        let c = Checkpoint {
            copy: Some(CopiedUpTo {
                below: vec!["5".into(), "'a''b'".into()],
                rows: 9,
            }),
            copy_done: false,
            released: true,
            binlog: ("bin.000002".into(), 1234),
            old_table: "t_0123456789ab_del".into(),
            original_def: "00ff".into(),
            shadow_def: "ff00".into(),
        };
        assert_eq!(Checkpoint::from_json(&c.to_json()), Some(c));
    }
}
