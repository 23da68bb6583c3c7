//! The session side of an intercepted `ALTER TABLE`: decide whether to run
//! it online, check on the client's own connection that its MySQL user may
//! run it, submit it to the engine, and answer when it is done (or at once
//! with the migration id).

use std::time::Duration;

use tracing::info;

use super::{client_err, Result, Session};
use crate::config::Intercept;
use crate::migration::statement::{self, hints_in_comments};
use crate::migration::{sql, Hints, Request};
use crate::protocol::packets::{ok_with_info, ErrPacket, ERR_HEADER};
use crate::protocol::response::{Event, Expect};
use crate::protocol::resultset::{write_result_set, Column, Kind};
use crate::protocol::{parse_header, write_packet, Command, HEADER_LEN};

const SUBMITTED_COLUMNS: [Column; 2] = [
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

impl Session<'_> {
    /// Handles the buffered COM_QUERY `ALTER TABLE` of `len` payload bytes.
    pub(super) async fn intercept_alter(&mut self, len: usize) -> Result<Decision> {
        let text = String::from_utf8_lossy(&self.client.buf[HEADER_LEN + 1..HEADER_LEN + len])
            .into_owned();
        let mut hints = self.hints;
        match statement::comments(&text)
            .and_then(|c| hints_in_comments(c.iter().map(String::as_str)))
        {
            Ok(h) => hints.merge(h),
            Err(e) => {
                return self
                    .answer_error(len, ErrPacket::new(1105, "HY000", e.to_string()))
                    .await
            }
        }
        if !self.should_intercept(hints) {
            return Ok(Decision::Relay);
        }
        let stmt = match statement::parse(&text) {
            Ok(s) if s.is_empty() => return Ok(Decision::Relay),
            Ok(s) => s,
            Err(e) => {
                return self
                    .answer_error(len, ErrPacket::new(1105, "HY000", e.to_string()))
                    .await
            }
        };
        self.client.discard(HEADER_LEN + len);
        let schema = match &stmt.schema {
            Some(s) => s.clone(),
            None => match self.current_database().await? {
                Some(db) => db,
                None => {
                    return self
                        .reply_err(ErrPacket::new(1046, "3D000", "No database selected"))
                        .await
                }
            },
        };
        // The client's own user must be able to ALTER this table: a bare
        // ALTER TABLE (no clauses, a no-op) on its own connection answers
        // exactly what the server would, roles and all.
        let probe = format!("ALTER TABLE {}", sql::qualified(&schema, &stmt.table));
        let probed = self.backend_query(&probe).await?;
        // The probe, like any ALTER, ended the session's transaction: its
        // claims on watched tables end too (or the session would block the
        // cut-over of its own migration).
        self.release_claims();
        if let Err(err) = probed {
            return self.reply_raw_err(err).await;
        }
        let request = Request {
            schema,
            stmt: stmt.clone(),
            text: text.trim().to_string(),
            submitted_by: self.user.clone(),
        };
        let submitted = match self.shared.migrations.submit(request).await {
            Ok(s) => s,
            Err(e) => return self.reply_err(e.to_packet()).await,
        };
        let wait = self.shared.config.migrations.wait == crate::config::Wait::Complete;
        if hints.async_ || !wait {
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
            self.client.write(&out).await.map_err(client_err)?;
            return Ok(Decision::Answered);
        }
        self.await_outcome(submitted).await
    }

    /// An ALTER that would be intercepted cannot be prepared: the answer.
    pub(super) fn refuse_prepared_alter(&self, len: usize) -> Option<ErrPacket> {
        let text = String::from_utf8_lossy(&self.client.buf[HEADER_LEN + 1..HEADER_LEN + len])
            .into_owned();
        let mut hints = self.hints;
        if let Ok(h) =
            statement::comments(&text).and_then(|c| hints_in_comments(c.iter().map(String::as_str)))
        {
            hints.merge(h);
        }
        self.should_intercept(hints).then(|| {
            ErrPacket::new(
                1295,
                "HY000",
                "ghostwire: ALTER TABLE cannot be prepared when it runs as an online migration; \
                 send it as a plain query (or add /* ghostwire: direct */ to run it on the server)",
            )
        })
    }

    fn should_intercept(&self, hints: Hints) -> bool {
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
        let every = Duration::from_millis(self.shared.config.migrations.keepalive_ms);
        let mut keepalive = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        let outcome = loop {
            tokio::select! {
                r = &mut done => break r.unwrap_or_else(|_| Err(ErrPacket::new(
                    1053, "08S01", "ghostwire: shutting down; the migration was stopped and the table left unchanged",
                ))),
                r = self.client.read_more(), if self.client.buf.len() < 1 << 16 => {
                    if let Err(e) = r {
                        info!(id = %sub.id, "client left while its migration runs; it continues");
                        return Err(client_err(e));
                    }
                }
                _ = keepalive.tick() => {
                    let ping = [1, 0, 0, 0, Command::COM_PING as u8];
                    self.backend_roundtrip(&ping).await?;
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

    /// The session's current database (`SELECT DATABASE()` on its backend).
    async fn current_database(&mut self) -> Result<Option<String>> {
        let packets = match self.backend_query("SELECT DATABASE()").await? {
            Ok(p) => p,
            Err(_) => return Ok(None),
        };
        // Count, column definition, [EOF,] row, EOF/OK: the row is next to last.
        let Some(row) = packets.len().checked_sub(2).map(|i| &packets[i]) else {
            return Ok(None);
        };
        if row.first() == Some(&0xFB) {
            return Ok(None);
        }
        Ok(crate::protocol::read_lenenc(row)
            .and_then(|(n, used)| row.get(used..used + n as usize))
            .map(|b| String::from_utf8_lossy(b).into_owned()))
    }

    /// Runs `sql` on the client's backend connection. Ok(packets) on
    /// success, Err(server's ERR packet payload) when the server refused.
    async fn backend_query(
        &mut self,
        sql: &str,
    ) -> Result<std::result::Result<Vec<Vec<u8>>, Vec<u8>>> {
        let mut payload = vec![Command::COM_QUERY as u8];
        payload.extend_from_slice(sql.as_bytes());
        let mut frame = Vec::new();
        write_packet(&mut frame, &mut 0, &payload);
        let packets = self.backend_roundtrip(&frame).await?;
        match packets.last() {
            Some(p) if p.first() == Some(&ERR_HEADER) => Ok(Err(p.clone())),
            _ => Ok(Ok(packets)),
        }
    }

    /// Sends one command frame and collects the payloads of its response.
    async fn backend_roundtrip(&mut self, frame: &[u8]) -> Result<Vec<Vec<u8>>> {
        if let Err(e) = self.backend.write(frame).await {
            return Err(self.backend_failed(e).await);
        }
        self.tracker.start(Expect::for_command(frame[HEADER_LEN]));
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
            let p = &rest[HEADER_LEN..end];
            // MariaDB progress reports are ERR-shaped: not part of the answer.
            if !(p.first() == Some(&ERR_HEADER) && p.get(1..3) == Some(&[0xFF, 0xFF])) {
                packets.push(p.to_vec());
            }
            rest = &rest[end..];
        }
        Ok(packets)
    }

    async fn answer_error(&mut self, len: usize, err: ErrPacket) -> Result<Decision> {
        self.client.discard(HEADER_LEN + len);
        self.reply_err(err).await
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
        let text = String::from_utf8_lossy(&self.client.buf[HEADER_LEN + 1..HEADER_LEN + len])
            .into_owned();
        let value = statement::session_hint_value(&text)?;
        match Hints::parse(&value) {
            Ok(h) => {
                self.hints = h;
                None
            }
            Err(e) => Some(ErrPacket::new(1231, "42000", e.to_string())),
        }
    }
}
