//! The session side of an intercepted `ALTER TABLE`: decide whether to run
//! it online, check on the client's own connection that its MySQL user may
//! run it, submit it to the engine, and answer when it is done (or at once
//! with the migration id).

use std::time::Duration;

use tracing::info;

use super::probe::qualify;
use super::{client_err, Result, Session};
use crate::config::Intercept;
use crate::migration::{Hints, Request};
use crate::protocol::binary::to_binary_rows;
use crate::protocol::charset;
use crate::protocol::errors;
use crate::protocol::packets::{err_code, ok_with_info, ErrPacket};
use crate::protocol::resultset::{write_result_set, Column, Kind};
use crate::protocol::{write_packet, Command, HEADER_LEN};
use crate::sql::{self, AlterError, Dialect};

const LOCK_WAIT_TIMEOUT: u16 = 1205;
const SYNTAX_ERROR: u16 = 1064;

pub(super) const SUBMITTED_COLUMNS: [Column; 2] = [
    Column::new("migration_id", Kind::Text),
    Column::new("status", Kind::Text),
];

/// What the session does with an ALTER TABLE.
pub enum Decision {
    /// Send it to the server unchanged.
    Relay,
    /// Answered here (the reply has been written).
    Answered,
}

/// What the session read of an ALTER: names as the client's bytes.
struct Parsed {
    alter: sql::Alter,
    ops: Vec<sql::Op<String>>,
    body: Vec<u8>,
    /// Set when the client sent CREATE/DROP INDEX: `alter` is its
    /// equivalent ALTER TABLE, and the instant probe is the client's own
    /// statement (see `IndexDdl::probe`).
    index: Option<sql::IndexDdl>,
}

/// Which statement the session intercepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Statement {
    AlterTable,
    /// `CREATE [UNIQUE|FULLTEXT|SPATIAL] INDEX` / `DROP INDEX`.
    IndexDdl,
}

/// How the instant attempt on the client's connection went.
enum InstantAttempt {
    /// The server did it: the stall in ms.
    Done(u64),
    /// The server cannot do it instantly (its ERR payload saying so):
    /// copy, unless the client itself asked for nothing but instant.
    Copy(Vec<u8>),
    /// The server refused it (its ERR payload): that is the answer.
    Refused(Vec<u8>),
}

impl Session<'_> {
    /// Handles an `ALTER TABLE` whose text is `text`: a COM_QUERY whose
    /// frame (`frame` bytes, dropped before any answer) is still buffered,
    /// or a statement the proxy prepared (`frame` 0, answered in the binary
    /// protocol: `binary`).
    ///
    /// The trust boundary: nothing derived from the client's text reaches
    /// ghostwire's own account before the server has, on the client's own
    /// connection and under its identity, (1) parsed the exact text as one
    /// statement, (2) shown that the name is no temporary table of the
    /// session, and (3) run `ALTER TABLE <name> <body>, ALGORITHM=INSTANT`,
    /// which checks every right the ALTER needs and either does it (then
    /// it is done, natively) or refuses only because it cannot be instant.
    /// The engine then runs the same body on the shadow table only.
    ///
    /// A CREATE INDEX / DROP INDEX (`kind`) takes the same path as its
    /// equivalent `ALTER TABLE t ADD … INDEX` / `DROP INDEX`, except that
    /// (1) is its own text and (3) is its own statement with
    /// `ALGORITHM=INSTANT`: natively it needs the INDEX right, not ALTER,
    /// and the server checks exactly that right before the algorithm.
    pub(super) async fn intercept_alter(
        &mut self,
        text: Vec<u8>,
        frame: usize,
        binary: bool,
        kind: Statement,
    ) -> Result<Decision> {
        // Hints first: an ALTER the client sends `direct` (or that the
        // configuration does not intercept) goes to the server untouched.
        let hinted = match sql::hints::hints_in_statement(&text, &self.plain_dialect()) {
            Ok(h) => Hints::merged(self.hints, h),
            Err(e) => return self.answer_error(frame, errors::refusal(&e)).await,
        };
        if !self.should_intercept(hinted) {
            return Ok(Decision::Relay);
        }
        let engine = self.shared.migrations.clone();
        let server = match engine.server().await {
            Ok(s) => s,
            Err(e) => return self.answer_error(frame, e.to_packet()).await,
        };
        let session = match self.capture(server).await? {
            Ok(s) => s,
            Err(e) => return self.answer_raw_error(frame, e).await,
        };
        let Some(dialect) = Dialect::of_session(server, &session.sql_mode, &session.charset_client)
        else {
            return self
                .answer_error(frame, unreadable_charset(&session.charset_client))
                .await;
        };
        let read = match kind {
            Statement::AlterTable => read_alter(&text, &dialect, &session.charset_client),
            Statement::IndexDdl => read_index(&text, &dialect, &session.charset_client),
        };
        let parsed = match read {
            Ok(Some(p)) => p,
            // What the server reads differently from us, it runs as it reads
            // it: natively, as this client.
            Ok(None) => return Ok(Decision::Relay),
            Err(e) => return self.answer_error(frame, e).await,
        };
        let hints = Hints::merged(self.hints, parsed.alter.hints);
        if !self.should_intercept(hints) || parsed.body.is_empty() {
            return Ok(Decision::Relay);
        }
        // Not one statement the server can prepare (several statements, a
        // syntax error): the server runs it as it is, natively, as this
        // client; that is the native answer by definition.
        if self.server_accepts(&text).await?.is_err() {
            return Ok(Decision::Relay);
        }
        // A RETRY means the database of its submission, not the current one.
        let database = self
            .retry_schema
            .take()
            .or_else(|| session.database.clone());
        let schema_bytes = match (&parsed.alter.schema, &database) {
            (Some(s), _) => s.clone(),
            (None, Some(db)) => match charset::encode(db, &session.charset_client) {
                Some(b) => b,
                None => return self.answer_error(frame, unreadable_name()).await,
            },
            (None, None) => {
                return self
                    .answer_error(frame, errors::no_database_selected())
                    .await
            }
        };
        let qualified = qualify(&schema_bytes, &parsed.alter.table);
        if self.is_temporary(&qualified).await? || self.holds_table_locks(&qualified).await? {
            return Ok(Decision::Relay);
        }
        let (Some(schema), Some(table)) = (
            charset::decode(&schema_bytes, &session.charset_client),
            charset::decode(&parsed.alter.table, &session.charset_client),
        ) else {
            return self.answer_error(frame, unreadable_name()).await;
        };
        let ticket = match engine.reserve(&schema, &table).await {
            Ok(t) => t,
            Err(e) => {
                // "Migration … is still running" tells that the table
                // exists: only to whoever may see it. Anyone else gets the
                // server's own answer to the statement.
                let pair = (schema.clone(), table.clone());
                if !self
                    .visible(std::slice::from_ref(&pair))
                    .await?
                    .contains(&pair)
                {
                    return Ok(Decision::Relay);
                }
                return self.answer_error(frame, e.to_packet()).await;
            }
        };
        // MariaDB's ALGORITHM=NOCOPY: anything but a copy, so the server's
        // own in-place ALTER (or its refusal), as natively; only not while
        // a migration of the table runs (the reservation said so above).
        if sql::alter::runs_in_place_only(parsed.alter.algorithm.as_deref()) {
            drop(ticket);
            return Ok(Decision::Relay);
        }
        self.client.discard(frame);
        let request = Request {
            schema,
            table,
            ignore: parsed.alter.ignore,
            online: parsed.alter.online,
            ops: parsed.ops,
            body: parsed.body,
            text,
            hints,
            session,
        };
        let probe = match &parsed.index {
            Some(index) => index.probe(&request.text, &qualified),
            None => {
                let mut probe = b"ALTER ".to_vec();
                if parsed.alter.online {
                    probe.extend_from_slice(b"ONLINE ");
                }
                if parsed.alter.ignore {
                    probe.extend_from_slice(b"IGNORE ");
                }
                probe.extend_from_slice(b"TABLE ");
                probe.extend_from_slice(&qualified);
                probe.push(b' ');
                probe.extend_from_slice(&request.body);
                // The client's own ALGORITHM=COPY asks for a rebuild (to
                // reset instant row versions, defragment): never instant.
                // FORCE, a rebuild, makes the server refuse the instant
                // probe after it has checked every right, as for any copy.
                if parsed.alter.algorithm.as_deref() == Some("COPY") {
                    probe.extend_from_slice(b"\n, FORCE");
                }
                // On a line of its own: a trailing `--` or `#` comment ends there.
                let engine_change = request
                    .ops
                    .iter()
                    .any(|o| matches!(o, sql::Op::Other(k) if k == "ENGINE"));
                let suffix = if engine_change {
                    server.engine_probe_suffix()
                } else {
                    server.instant_probe_suffix()
                };
                probe.extend_from_slice(suffix.as_bytes());
                probe
            }
        };
        let mut attempt = self.try_instant(&probe, &request, server, kind).await?;
        let mut strategy = "instant";
        let algorithm = parsed.alter.algorithm.as_deref();
        if matches!(attempt, InstantAttempt::Copy(_))
            && sql::alter::metadata_only(&request.ops, algorithm)
        {
            // Dropping or renaming secondary indexes only: in place (as
            // natively), not a copy. The same rights were checked above.
            let inplace = match &parsed.index {
                Some(index) => {
                    index.probe_with(&request.text, &qualified, b"ALGORITHM=INPLACE LOCK=NONE")
                }
                None => {
                    let cut = probe.len() - server.instant_probe_suffix().len();
                    let mut p = probe.get(..cut).unwrap_or_default().to_vec();
                    p.extend_from_slice(server.inplace_probe_suffix().as_bytes());
                    p
                }
            };
            attempt = self.try_instant(&inplace, &request, server, kind).await?;
            strategy = "inplace";
        }
        match attempt {
            InstantAttempt::Done(stall_ms) => {
                let message = engine
                    .record_instant(ticket, &request, strategy, stall_ms)
                    .await;
                let ok = ok_with_info(0, self.tracker.status, &message);
                let mut out = Vec::new();
                write_packet(&mut out, &mut 1, &ok);
                self.client.write(&out).await.map_err(client_err)?;
                return Ok(Decision::Answered);
            }
            InstantAttempt::Refused(err) => return self.reply_raw_err(err).await,
            // `ALGORITHM=INSTANT` of the client's own: natively the server
            // refuses what it cannot do instantly; so does ghostwire, with
            // the server's own answer, rather than copying a table the
            // client said must not be copied.
            InstantAttempt::Copy(err) if sql::alter::instant_only(algorithm) => {
                return self.reply_raw_err(err).await
            }
            // The probe's "cannot be instant" error is ghostwire's, not the
            // client's (a native ALTER that copies leaves no warning).
            InstantAttempt::Copy(_) => self.clear_diagnostics().await?,
        }
        let async_ = hints.async_;
        let submitted = match engine.submit(ticket, request).await {
            Ok(s) => s,
            Err(e) => return self.reply_err(e.to_packet()).await,
        };
        let wait = self.shared.config.migrations.wait == crate::config::Wait::Complete;
        if async_ || !wait {
            let mut out = Vec::new();
            let row = vec![Some(submitted.id.clone()), Some("queued".to_string())];
            write_result_set(
                &mut out,
                1,
                self.caps,
                self.tracker.status,
                &SUBMITTED_COLUMNS,
                &[row],
            );
            if binary {
                out = to_binary_rows(&out, self.caps).unwrap_or(out);
            }
            self.client.write(&out).await.map_err(client_err)?;
            return Ok(Decision::Answered);
        }
        self.await_outcome(submitted).await
    }

    /// Runs the ALTER with ALGORITHM=INSTANT on the client's connection,
    /// with the table's gate drained first (an instant ALTER still takes an
    /// exclusive metadata lock: it must neither wait behind a transaction
    /// nor stall every query queued behind itself), bounded by
    /// `[cutover] lock_wait_timeout_s` and retried like a cut-over.
    async fn try_instant(
        &mut self,
        probe: &[u8],
        req: &Request,
        server: crate::flavour::ServerInfo,
        kind: Statement,
    ) -> Result<InstantAttempt> {
        let engine = self.shared.migrations.clone();
        let cfg = engine.cutover_config().clone();
        let set = format!(
            "SET SESSION lock_wait_timeout = {}",
            cfg.lock_wait_timeout_s
        );
        if let Err(e) = self.backend_query(set.as_bytes()).await? {
            return Ok(InstantAttempt::Refused(e));
        }
        let watched = engine.gates().watch(&req.schema, &req.table);
        let gate = &watched.gate;
        let mut outcome =
            InstantAttempt::Refused(errors::metadata_lock_attempts(cfg.max_attempts).payload());
        for _ in 1..=cfg.max_attempts {
            // The ALTER commits this session's transaction first: its own
            // claims are not worth waiting for.
            self.claims.release_all(self.connection_id);
            gate.close();
            if gate
                .drain(Duration::from_millis(cfg.drain_timeout_ms))
                .await
                .is_err()
            {
                gate.open();
                tokio::time::sleep(Duration::from_millis(cfg.retry_backoff_ms)).await;
                continue;
            }
            let started = std::time::Instant::now();
            let result = self.backend_query(probe).await;
            gate.open();
            match result? {
                Ok(_) => {
                    outcome = InstantAttempt::Done(started.elapsed().as_millis() as u64);
                    break;
                }
                Err(e) if err_code(&e).is_some_and(|c| server.not_instant(c)) => {
                    outcome = InstantAttempt::Copy(e);
                    break;
                }
                Err(e) if err_code(&e) == Some(LOCK_WAIT_TIMEOUT) => {
                    tokio::time::sleep(Duration::from_millis(cfg.retry_backoff_ms)).await;
                }
                // The client's text prepared fine, so the syntax error is
                // the appended algorithm clause's: a clause that must come
                // last (ORDER BY) is in the way.
                Err(e) if err_code(&e) == Some(SYNTAX_ERROR) && kind == Statement::AlterTable => {
                    outcome = InstantAttempt::Refused(
                        errors::not_supported(
                            "this ALTER ends with a clause that must stay last (such as ORDER \
                             BY), so it cannot run as an online migration; run it with /* \
                             ghostwire: direct */",
                        )
                        .payload(),
                    );
                    break;
                }
                Err(e) => {
                    outcome = InstantAttempt::Refused(e);
                    break;
                }
            }
        }
        let restore = format!(
            "SET SESSION lock_wait_timeout = {}",
            req.session.lock_wait_timeout
        );
        let _ = self.backend_query(restore.as_bytes()).await?;
        self.release_claims();
        Ok(outcome)
    }

    /// The dialect hint words are read in outside an ALTER (no session
    /// capture for a `SET`): hints are ASCII words in comments or a
    /// string, which every mode and lexable character set reads alike.
    pub(super) fn plain_dialect(&self) -> Dialect {
        let server = self
            .shared
            .migrations
            .server_cached()
            .unwrap_or(crate::flavour::ServerInfo {
                flavour: crate::flavour::Flavour::MariaDb,
                version: 0,
            });
        Dialect::new(server.flavour, server.version)
    }

    pub(super) fn should_intercept(&self, hints: Hints) -> bool {
        !hints.direct
            && match self.shared.config.migrations.intercept {
                Intercept::All => true,
                Intercept::Tagged => hints.online,
                Intercept::Off => false,
            }
    }

    /// Waits for the migration, keeping the client's backend connection
    /// alive. A client that disconnects meanwhile does not stop it.
    async fn await_outcome(&mut self, sub: crate::migration::Submitted) -> Result<Decision> {
        let mut done = sub.done;
        // Pinged at least every second: a KILL of the client's server
        // connection (an operator's, pt-kill's) must stop the ALTER it
        // waits for, as it stops a native one.
        let every = Duration::from_millis(self.shared.config.migrations.keepalive_ms.min(1000));
        let mut keepalive = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        let outcome = loop {
            tokio::select! {
                r = &mut done => break r.unwrap_or_else(|_| Err(errors::migration_shutdown())),
                r = self.client.read_more(), if self.client.buf.len() < 1 << 16 => {
                    if let Err(e) = r {
                        info!(id = %sub.id, "client left while its migration runs; it continues");
                        return Err(client_err(e));
                    }
                }
                _ = keepalive.tick() => {
                    let ping = [1, 0, 0, 0, Command::COM_PING as u8];
                    if let Err(e) = self.backend_roundtrip(&ping).await {
                        if let Some(control) = self.shared.migrations.control(&sub.id) {
                            info!(id = %sub.id, "the client's server connection was killed; cancelling its migration");
                            control.cancel("KILL of the client's connection");
                        }
                        return Err(e);
                    }
                }
            }
        };
        match outcome {
            Ok(summary) => {
                let ok = ok_with_info(summary.rows_copied, self.tracker.status, &summary.message());
                let mut out = Vec::new();
                write_packet(&mut out, &mut 1, &ok);
                self.client.write(&out).await.map_err(client_err)?;
                Ok(Decision::Answered)
            }
            Err(err) => self.reply_err(err).await,
        }
    }

    async fn answer_error(&mut self, frame: usize, err: ErrPacket) -> Result<Decision> {
        self.client.discard(frame);
        self.reply_err(err).await
    }

    async fn answer_raw_error(&mut self, frame: usize, payload: Vec<u8>) -> Result<Decision> {
        self.client.discard(frame);
        self.reply_raw_err(payload).await
    }

    async fn reply_err(&mut self, err: ErrPacket) -> Result<Decision> {
        self.client.write(&err.frame(1)).await.map_err(client_err)?;
        Ok(Decision::Answered)
    }

    /// Relays the server's own ERR payload as the reply.
    async fn reply_raw_err(&mut self, payload: Vec<u8>) -> Result<Decision> {
        let mut out = Vec::new();
        write_packet(&mut out, &mut 1, &payload);
        self.client.write(&out).await.map_err(client_err)?;
        Ok(Decision::Answered)
    }

    /// Notes `SET @ghostwire = '…'` (the statement still goes to the server).
    /// Returns an error to answer instead when the words are unknown.
    pub(super) fn note_session_hints(&mut self, len: usize) -> Option<ErrPacket> {
        let text = self.client.buf.get(HEADER_LEN + 1..HEADER_LEN + len)?;
        let value = sql::session_hint_value(text, &self.plain_dialect())?;
        match Hints::parse(&String::from_utf8_lossy(&value)) {
            Ok(h) => {
                self.hints = h;
                None
            }
            Err(e) => Some(errors::wrong_variable_value(&e)),
        }
    }
}

fn unreadable_name() -> ErrPacket {
    errors::ghostwire(
        "cannot read the table name in this session's character set; run the ALTER with /* \
         ghostwire: direct */ or SET NAMES utf8mb4",
    )
}

fn unreadable_charset(charset: &str) -> ErrPacket {
    errors::ghostwire(format!(
        "cannot read statements sent in character set {charset} (it reads utf8mb4, utf8mb3, \
         latin1, ascii); SET NAMES utf8mb4, or send the ALTER with SET @ghostwire = 'direct' to \
         run it on the server as is"
    ))
}

/// Reads the client's ALTER. `None`: ghostwire cannot tell what the server
/// will read (several statements, a start it cannot read, an unterminated
/// or malformed text), so the statement goes to the server as it is.
fn read_alter(
    text: &[u8],
    dialect: &Dialect,
    charset_client: &str,
) -> std::result::Result<Option<Parsed>, ErrPacket> {
    let alter = match sql::parse_alter(text, dialect) {
        Ok(a) => a,
        Err(
            AlterError::MultiStatement
            | AlterError::NoTable
            | AlterError::UnclearPrefix
            | AlterError::Unterminated
            | AlterError::Malformed,
        ) => return Ok(None),
        Err(e) => return Err(errors::refusal(&e)),
    };
    let ops = sql::decode_ops(&alter.ops, charset_client).ok_or_else(unreadable_name)?;
    let body = text.get(alter.body.clone()).unwrap_or_default().to_vec();
    Ok(Some(Parsed {
        alter,
        ops,
        body,
        index: None,
    }))
}

/// Reads the client's CREATE INDEX / DROP INDEX as its equivalent ALTER:
/// `ALTER TABLE <[db.]table as written> <body>`, put together from the
/// client's own tokens and read by the same ALTER reader (so the engine
/// sees exactly what it would for the ALTER). `None`: relayed unchanged.
fn read_index(
    text: &[u8],
    dialect: &Dialect,
    charset_client: &str,
) -> std::result::Result<Option<Parsed>, ErrPacket> {
    let Some(index) = sql::parse_index_ddl(text, dialect) else {
        return Ok(None);
    };
    let mut equivalent = b"ALTER TABLE ".to_vec();
    equivalent.extend_from_slice(text.get(index.table_span.clone()).unwrap_or_default());
    equivalent.push(b' ');
    equivalent.extend_from_slice(&index.body);
    let Some(mut parsed) = read_alter(&equivalent, dialect, charset_client)? else {
        return Ok(None);
    };
    // Hints may stand anywhere in the client's text, also outside the
    // tokens the equivalent ALTER is made of.
    parsed.alter.hints = index.hints;
    parsed.index = Some(index);
    Ok(Some(parsed))
}
