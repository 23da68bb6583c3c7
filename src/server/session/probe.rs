//! Questions the proxy asks the server on the client's own backend
//! connection, so that the server (not ghostwire) decides what the client's
//! text means and what the client may do: who the client is and how its
//! session is set, whether the server accepts its statement as one
//! statement, whether a name is a temporary table of the session, whether
//! the client may ALTER a table, and which tables it may see.

use std::collections::HashSet;

use super::{Result, Session};
use crate::flavour::ServerInfo;
use crate::migration::client_session::ClientSession;
use crate::protocol::errors;
use crate::protocol::packets::{err_code, ERR_HEADER};
use crate::protocol::response::{Event, Expect};
use crate::protocol::resultset::{read_text_rows, TextRow};
use crate::protocol::{parse_header, write_packet, Command, HEADER_LEN};

/// ER_TABLE_NOT_LOCKED: a table used under LOCK TABLES that is not locked.
const NOT_LOCKED: u16 = 1100;

/// The server's answer: the response's packets, or its ERR payload.
pub(super) type Answer<T> = std::result::Result<T, Vec<u8>>;

/// `` `name` `` as bytes: backquotes doubled. Safe for every character set
/// the session lets through (ASCII bytes are always ASCII characters there).
pub(super) fn quote(name: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.len() + 2);
    out.push(b'`');
    for b in name {
        if *b == b'`' {
            out.push(b'`');
        }
        out.push(*b);
    }
    out.push(b'`');
    out
}

/// `` `schema`.`table` `` as bytes.
pub(super) fn qualify(schema: &[u8], table: &[u8]) -> Vec<u8> {
    let mut q = quote(schema);
    q.push(b'.');
    q.extend_from_slice(&quote(table));
    q
}

/// A string literal the server reads the same way in any character set and
/// SQL mode: hex bytes converted from utf8mb4.
fn utf8_literal(s: &str) -> String {
    let hex: String = s.bytes().map(|b| format!("{b:02X}")).collect();
    format!("CONVERT(X'{hex}' USING utf8mb4)")
}

impl Session<'_> {
    /// Captures the session's settings and `CURRENT_USER()`.
    pub(super) async fn capture(&mut self, server: ServerInfo) -> Result<Answer<ClientSession>> {
        let sql = ClientSession::capture_sql(server);
        let rows = match self.query_rows(sql.as_bytes()).await? {
            Ok(rows) => rows,
            Err(e) => return Ok(Err(e)),
        };
        let captured = rows
            .into_iter()
            .next()
            .and_then(|row| ClientSession::from_row(server, row));
        Ok(captured
            .ok_or_else(|| errors::ghostwire("could not read the session's settings").payload()))
    }

    /// Whether the server reads `text` as exactly one statement it can
    /// parse: it is prepared (never executed) on the client's connection
    /// and closed again. A syntax error comes back exactly as the server
    /// words it for the text the client sent.
    pub(super) async fn server_accepts(&mut self, text: &[u8]) -> Result<Answer<()>> {
        let mut payload = vec![Command::COM_STMT_PREPARE as u8];
        payload.extend_from_slice(text);
        let packets = self.command_roundtrip(&payload).await?;
        let first = packets.first().cloned().unwrap_or_default();
        if first.first() == Some(&ERR_HEADER) {
            return Ok(Err(first));
        }
        if let Some(id) = first.get(1..5) {
            let mut close = vec![Command::COM_STMT_CLOSE as u8];
            close.extend_from_slice(id);
            let mut frame = Vec::new();
            write_packet(&mut frame, &mut 0, &close);
            if let Err(e) = self.backend.write(&frame).await {
                return Err(self.backend_failed(e).await);
            }
        }
        Ok(Ok(()))
    }

    /// Whether `qualified` names a temporary table of this session (which
    /// is what a native ALTER of that name changes).
    pub(super) async fn is_temporary(&mut self, qualified: &[u8]) -> Result<bool> {
        let mut sql = b"SHOW CREATE TABLE ".to_vec();
        sql.extend_from_slice(qualified);
        Ok(match self.query_rows(&sql).await? {
            Ok(rows) => rows
                .first()
                .and_then(|r| r.get(1))
                .and_then(|c| c.as_ref())
                .is_some_and(|c| {
                    c.get(..22)
                        .is_some_and(|p| p.eq_ignore_ascii_case(b"CREATE TEMPORARY TABLE"))
                }),
            Err(_) => false,
        })
    }

    /// Whether the session holds table locks (`LOCK TABLES`): it then may
    /// only use the tables and aliases it locked, so the server answers ERR
    /// 1100 for a name under an alias nobody locks. Its ALTER must run
    /// natively, in its own locks: ghostwire's connections would wait for
    /// those locks while the client waits for them (a hang).
    pub(super) async fn holds_table_locks(&mut self, qualified: &[u8]) -> Result<bool> {
        let mut sql = b"SELECT 1 FROM ".to_vec();
        sql.extend_from_slice(qualified);
        sql.extend_from_slice(b" AS `ghostwire lock probe` LIMIT 0");
        Ok(match self.query_rows(&sql).await? {
            Ok(_) => false,
            Err(e) => err_code(&e) == Some(NOT_LOCKED),
        })
    }

    /// Whether the client may ALTER the base table `qualified`: the server
    /// checks `ALTER TABLE <t> FORCE, ALGORITHM=INSTANT` for it on its own
    /// connection, so roles and every grant level count. The rights come
    /// before the algorithm, and a rebuild is never instant, so the answer
    /// is either the refusal of a right or "cannot be instant" (= allowed),
    /// and nothing runs: no binlog event for replicas to apply (a bare
    /// `ALTER TABLE t` was a no-op that still went to the binlog), no wait
    /// behind transactions using the table. A temporary table of that name
    /// would answer for itself: it is refused here. Like any ALTER, this
    /// commits the session's open transaction.
    pub(super) async fn may_alter(
        &mut self,
        qualified: &[u8],
        server: ServerInfo,
    ) -> Result<Answer<()>> {
        if self.is_temporary(qualified).await? {
            return Ok(Err(errors::ghostwire(
                "this session has a temporary table of that name; drop it first",
            )
            .payload()));
        }
        let mut sql = b"ALTER TABLE ".to_vec();
        sql.extend_from_slice(qualified);
        sql.extend_from_slice(b" FORCE");
        sql.extend_from_slice(server.instant_probe_suffix().as_bytes());
        let answer = match self.backend_query(&sql).await? {
            Err(e) if err_code(&e).is_some_and(|c| server.not_instant(c)) => {
                self.clear_diagnostics().await?;
                Ok(())
            }
            answer => answer.map(|_| ()),
        };
        self.release_claims();
        Ok(answer)
    }

    /// Clears the session's diagnostics area after a question of
    /// ghostwire's that the server refused as expected ("cannot be
    /// instant"): the client's `SHOW WARNINGS` must not show it. Only a
    /// statement that reads a table clears it (MariaDB 10.11: not SET,
    /// `DO 0` nor `SELECT 1`); every account may read
    /// information_schema.ENGINES.
    pub(super) async fn clear_diagnostics(&mut self) -> Result<()> {
        let _ = self
            .backend_query(b"DO (SELECT COUNT(*) FROM information_schema.ENGINES)")
            .await?;
        Ok(())
    }

    /// Which of `tables` (schema, table) the client may see: those
    /// `information_schema.TABLES` shows it, i.e. where it holds some right.
    /// A table a cut-over is renaming can be missing from
    /// `information_schema` for a moment (seen on MariaDB): what is missing
    /// is asked again, three times, 20 ms apart (a cut-over's lock lasts a
    /// few milliseconds).
    pub(super) async fn visible(
        &mut self,
        tables: &[(String, String)],
    ) -> Result<HashSet<(String, String)>> {
        let mut seen = self.visible_once(tables).await?;
        for _ in 0..3 {
            let missing: Vec<(String, String)> = tables
                .iter()
                .filter(|t| !seen.contains(*t))
                .cloned()
                .collect();
            if missing.is_empty() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            seen.extend(self.visible_once(&missing).await?);
        }
        Ok(seen)
    }

    async fn visible_once(
        &mut self,
        tables: &[(String, String)],
    ) -> Result<HashSet<(String, String)>> {
        if tables.is_empty() {
            return Ok(HashSet::new());
        }
        let pairs: Vec<String> = tables
            .iter()
            .map(|(s, t)| format!("({}, {})", utf8_literal(s), utf8_literal(t)))
            .collect();
        let sql = format!(
            "SELECT CONVERT(TABLE_SCHEMA USING utf8mb4), CONVERT(TABLE_NAME USING utf8mb4) \
             FROM information_schema.TABLES WHERE (TABLE_SCHEMA, TABLE_NAME) IN ({})",
            pairs.join(", ")
        );
        let rows = self.query_rows(sql.as_bytes()).await?.unwrap_or_default();
        Ok(rows
            .into_iter()
            .filter_map(|r| {
                let text =
                    |i: usize| -> Option<String> { String::from_utf8(r.get(i)?.clone()?).ok() };
                Some((text(0)?, text(1)?))
            })
            .collect())
    }

    /// Runs a query on the client's connection and reads its rows.
    pub(super) async fn query_rows(&mut self, sql: &[u8]) -> Result<Answer<Vec<TextRow>>> {
        Ok(match self.backend_query(sql).await? {
            Ok(packets) => read_text_rows(&packets, self.caps)
                .ok_or_else(|| errors::ghostwire("unexpected answer from the server").payload()),
            Err(e) => Err(e),
        })
    }

    /// Runs `sql` on the client's backend connection. Ok(packets) on
    /// success, Err(server's ERR packet payload) when the server refused.
    pub(super) async fn backend_query(&mut self, sql: &[u8]) -> Result<Answer<Vec<Vec<u8>>>> {
        let mut payload = vec![Command::COM_QUERY as u8];
        payload.extend_from_slice(sql);
        let packets = self.command_roundtrip(&payload).await?;
        match packets.last() {
            Some(p) if p.first() == Some(&ERR_HEADER) && err_code(p).is_some() => {
                Ok(Err(p.clone()))
            }
            _ => Ok(Ok(packets)),
        }
    }

    /// Sends one command and collects the payloads of its response.
    async fn command_roundtrip(&mut self, payload: &[u8]) -> Result<Vec<Vec<u8>>> {
        let mut frame = Vec::new();
        write_packet(&mut frame, &mut 0, payload);
        self.backend_roundtrip(&frame).await
    }

    /// Sends one command frame and collects the payloads of its response.
    pub(super) async fn backend_roundtrip(&mut self, frame: &[u8]) -> Result<Vec<Vec<u8>>> {
        if let Err(e) = self.backend.write(frame).await {
            return Err(self.backend_failed(e).await);
        }
        let cmd = frame.get(HEADER_LEN).copied().unwrap_or_default();
        self.tracker.start(Expect::for_command(cmd));
        let mut bytes = Vec::new();
        loop {
            let (n, event) = self.tracker.feed(&self.backend.buf);
            bytes.extend_from_slice(&self.backend.take(n));
            if let Some(Event::Done) = event {
                break;
            }
            if n == 0 {
                if let Err(e) = self.backend.read_more().await {
                    return Err(super::backend_err(e));
                }
            }
        }
        let mut packets = Vec::new();
        let mut rest = &bytes[..];
        while let Some((len, _)) = parse_header(rest) {
            let end = (HEADER_LEN + len).min(rest.len());
            let p = rest.get(HEADER_LEN..end).unwrap_or_default();
            // MariaDB progress reports are ERR-shaped: not part of the answer.
            if !(p.first() == Some(&ERR_HEADER) && p.get(1..3) == Some(&[0xFF, 0xFF])) {
                packets.push(p.to_vec());
            }
            rest = rest.get(end..).unwrap_or_default();
        }
        Ok(packets)
    }
}
