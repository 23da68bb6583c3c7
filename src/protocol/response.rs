//! Response-boundary tracking over raw server bytes.
//!
//! The relay forwards the server's bytes in whatever chunks `read` returns.
//! This tracker walks only the packet headers in those chunks (plus the first
//! few bytes of packets that can end a response), so the session knows when a
//! command's response has ended and what the final status flags were
//! (transaction state) without decoding a single row.

use super::packets::{
    eof_status, err_code, ok_status, EOF_HEADER, ERR_HEADER, LOCAL_INFILE_HEADER, OK_HEADER,
    PROGRESS_CODE,
};
use super::{
    parse_header, read_lenenc, Caps, Command, MariadbCapabilities, StatusFlags, HEADER_LEN,
    MAX_FRAME_PAYLOAD,
};

/// Payload bytes inspected at the start of a packet: enough for an OK
/// packet's two length-encoded integers and its status flags.
const PEEK: usize = 24;

/// The shape of the response a command gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// No response at all (COM_STMT_CLOSE, COM_STMT_SEND_LONG_DATA, COM_QUIT).
    Nothing,
    /// Exactly one packet (COM_PING, COM_INIT_DB, COM_STMT_RESET, …).
    OnePacket,
    /// OK / ERR / LOCAL INFILE request / one or more result sets.
    ResultSets,
    /// COM_STMT_PREPARE: prepare-OK plus parameter and column definitions.
    Prepare,
    /// Rows (or definitions) up to an EOF / ERR (COM_STMT_FETCH, COM_FIELD_LIST).
    Rows,
    /// The connection phase (handshake or COM_CHANGE_USER): handled by the session.
    Auth,
    /// A replication stream (COM_BINLOG_DUMP): relayed until either side closes.
    Stream,
}

impl Expect {
    /// Response shape for a command byte.
    pub fn for_command(cmd: u8) -> Expect {
        const QUERY: u8 = Command::COM_QUERY as u8;
        const EXECUTE: u8 = Command::COM_STMT_EXECUTE as u8;
        const BULK: u8 = Command::COM_STMT_BULK_EXECUTE as u8;
        const PROCESS_INFO: u8 = Command::COM_PROCESS_INFO as u8;
        const PREPARE: u8 = Command::COM_STMT_PREPARE as u8;
        const FETCH: u8 = Command::COM_STMT_FETCH as u8;
        const FIELD_LIST: u8 = Command::COM_FIELD_LIST as u8;
        const QUIT: u8 = Command::COM_QUIT as u8;
        const CLOSE: u8 = Command::COM_STMT_CLOSE as u8;
        const LONG_DATA: u8 = Command::COM_STMT_SEND_LONG_DATA as u8;
        const CHANGE_USER: u8 = Command::COM_CHANGE_USER as u8;
        const DUMP: u8 = Command::COM_BINLOG_DUMP as u8;
        const DUMP_GTID: u8 = Command::COM_BINLOG_DUMP_GTID as u8;
        match cmd {
            QUERY | EXECUTE | BULK | PROCESS_INFO => Expect::ResultSets,
            PREPARE => Expect::Prepare,
            FETCH | FIELD_LIST => Expect::Rows,
            QUIT | CLOSE | LONG_DATA => Expect::Nothing,
            CHANGE_USER => Expect::Auth,
            DUMP | DUMP_GTID => Expect::Stream,
            _ => Expect::OnePacket,
        }
    }
}

/// Something the session must act on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// The response is complete.
    Done,
    /// The server asked for a LOCAL INFILE: relay the client's file, then
    /// keep feeding (the server's OK/ERR follows).
    LocalInfile,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    OnePacket,
    /// Before a result: OK, ERR, progress, LOCAL INFILE or a column count.
    Start,
    ColumnDefs(u64),
    DefsEof,
    Rows,
    Prepare,
    PrepareParams {
        left: u64,
        cols: u64,
    },
    PrepareParamsEof {
        cols: u64,
    },
    PrepareCols(u64),
    PrepareColsEof,
}

/// Walks server bytes of one command's response. Reused across commands.
#[derive(Clone, Debug)]
pub struct ResponseTracker {
    caps: Caps,
    state: State,
    /// Payload bytes of the current frame not yet walked over.
    body_left: usize,
    /// The current frame is 16 MiB - 1 long: the next frame continues it.
    continued: bool,
    /// Raised once the current packet has been walked over entirely.
    pending: Option<Event>,
    /// Status flags from the last OK/EOF seen.
    pub status: u16,
    /// Sequence id of the last frame seen.
    pub last_seq: u8,
}

impl ResponseTracker {
    pub fn new(caps: Caps, status: u16) -> Self {
        Self {
            caps,
            state: State::Start,
            body_left: 0,
            continued: false,
            pending: None,
            status,
            last_seq: 0,
        }
    }

    /// Prepares for the response to a new command.
    pub fn start(&mut self, expect: Expect) {
        self.state = match expect {
            Expect::OnePacket => State::OnePacket,
            Expect::Prepare => State::Prepare,
            Expect::Rows => State::Rows,
            _ => State::Start,
        };
        self.body_left = 0;
        self.continued = false;
        self.pending = None;
        // The command was sequence id 0: an ERR the proxy writes before the
        // server answered anything must be 1, whatever the last response
        // reached.
        self.last_seq = 0;
    }

    /// Whether the session is inside a transaction, per the last status flags.
    #[inline]
    pub fn in_transaction(&self) -> bool {
        self.status & StatusFlags::SERVER_STATUS_IN_TRANS.bits() != 0
    }

    /// Walks `buf`; returns how many bytes belong to this response so far
    /// (forward those), and an event if one was reached at that point.
    /// Bytes after the returned count are an incomplete packet header (or
    /// belong after an event) and must be fed again with more data.
    pub fn feed(&mut self, buf: &[u8]) -> (usize, Option<Event>) {
        let mut pos = 0;
        loop {
            if self.body_left > 0 {
                let n = self.body_left.min(buf.len() - pos);
                pos += n;
                self.body_left -= n;
                if self.body_left > 0 {
                    return (pos, None);
                }
            }
            if !self.continued {
                if let Some(ev) = self.pending.take() {
                    return (pos, Some(ev));
                }
            }
            let Some((len, seq)) = parse_header(&buf[pos..]) else {
                return (pos, None);
            };
            let peek = len.min(PEEK);
            if buf.len() - pos - HEADER_LEN < peek {
                return (pos, None);
            }
            let prefix = &buf[pos + HEADER_LEN..pos + HEADER_LEN + peek];
            let first_frame = !self.continued;
            self.continued = len == MAX_FRAME_PAYLOAD;
            self.last_seq = seq;
            pos += HEADER_LEN;
            self.body_left = len;
            if first_frame {
                self.on_packet(len, prefix);
            }
        }
    }

    /// Advances the state machine on the first frame of a packet.
    fn on_packet(&mut self, len: usize, p: &[u8]) {
        let first = p.first().copied();
        match self.state {
            State::OnePacket => {
                match first {
                    Some(OK_HEADER) => self.take_status(ok_status(p)),
                    Some(EOF_HEADER) if len < 9 => self.take_status(eof_status(p)),
                    _ => {}
                }
                self.pending = Some(Event::Done);
            }
            State::Start => self.on_result_start(p),
            State::ColumnDefs(left) => {
                self.state = if left > 1 {
                    State::ColumnDefs(left - 1)
                } else {
                    self.after_defs()
                };
            }
            State::DefsEof => {
                if first == Some(ERR_HEADER) {
                    self.pending = Some(Event::Done);
                    return;
                }
                self.take_status(eof_status(p));
                // A server-side cursor was opened: rows come with COM_STMT_FETCH.
                if self.status & StatusFlags::SERVER_STATUS_CURSOR_EXISTS.bits() != 0 {
                    self.pending = Some(Event::Done);
                } else {
                    self.state = State::Rows;
                }
            }
            State::Rows => self.on_row(len, p),
            State::Prepare => self.on_prepare_ok(p),
            State::PrepareParams { left, cols } => {
                self.state = if left > 1 {
                    State::PrepareParams {
                        left: left - 1,
                        cols,
                    }
                } else if self.caps.deprecate_eof() {
                    self.prepare_cols(cols)
                } else {
                    State::PrepareParamsEof { cols }
                };
            }
            State::PrepareParamsEof { cols } => self.state = self.prepare_cols(cols),
            State::PrepareCols(left) => {
                if left > 1 {
                    self.state = State::PrepareCols(left - 1);
                } else if self.caps.deprecate_eof() {
                    self.pending = Some(Event::Done);
                } else {
                    self.state = State::PrepareColsEof;
                }
            }
            State::PrepareColsEof => self.pending = Some(Event::Done),
        }
    }

    fn on_result_start(&mut self, p: &[u8]) {
        match p.first().copied() {
            Some(OK_HEADER) => {
                self.take_status(ok_status(p));
                self.end_of_result();
            }
            Some(ERR_HEADER) => {
                // MariaDB progress reports look like errors but are not final.
                if err_code(p) != Some(PROGRESS_CODE) {
                    self.pending = Some(Event::Done);
                }
            }
            Some(LOCAL_INFILE_HEADER) => self.pending = Some(Event::LocalInfile),
            _ => {
                let Some((cols, used)) = read_lenenc(p) else {
                    // Not a valid column count: nothing sane follows.
                    self.pending = Some(Event::Done);
                    return;
                };
                // MariaDB metadata caching: a flag byte says whether the
                // column definitions follow or the client reuses its cache.
                let metadata_follows = !self
                    .caps
                    .has_mariadb(MariadbCapabilities::MARIADB_CLIENT_CACHE_METADATA)
                    || p.get(used).copied().unwrap_or(1) != 0;
                self.state = if metadata_follows && cols > 0 {
                    State::ColumnDefs(cols)
                } else {
                    self.after_defs()
                };
            }
        }
    }

    fn on_row(&mut self, len: usize, p: &[u8]) {
        match p.first().copied() {
            // A text row can start with 0xFE only as the prefix of a value of
            // 16 MiB or more, so a shorter 0xFE packet is the terminator.
            Some(EOF_HEADER) if len < MAX_FRAME_PAYLOAD => {
                let status = if self.caps.deprecate_eof() {
                    ok_status(p)
                } else {
                    eof_status(p)
                };
                self.take_status(status);
                self.end_of_result();
            }
            Some(ERR_HEADER) => self.pending = Some(Event::Done),
            _ => {}
        }
    }

    fn on_prepare_ok(&mut self, p: &[u8]) {
        if p.first().copied() != Some(OK_HEADER) || p.len() < 9 {
            self.pending = Some(Event::Done);
            return;
        }
        let cols = u16::from_le_bytes([p[5], p[6]]) as u64;
        let params = u16::from_le_bytes([p[7], p[8]]) as u64;
        self.state = if params > 0 {
            State::PrepareParams { left: params, cols }
        } else {
            self.prepare_cols(cols)
        };
    }

    /// State after the prepare parameters; `Prepare` means "nothing follows".
    fn prepare_cols(&mut self, cols: u64) -> State {
        if cols > 0 {
            State::PrepareCols(cols)
        } else {
            self.pending = Some(Event::Done);
            State::Prepare
        }
    }

    fn after_defs(&self) -> State {
        if self.caps.deprecate_eof() {
            State::Rows
        } else {
            State::DefsEof
        }
    }

    fn end_of_result(&mut self) {
        if self.status & StatusFlags::SERVER_MORE_RESULTS_EXISTS.bits() != 0 {
            self.state = State::Start;
        } else {
            self.pending = Some(Event::Done);
        }
    }

    #[inline]
    fn take_status(&mut self, status: Option<u16>) {
        if let Some(s) = status {
            self.status = s;
        }
    }
}

#[cfg(test)]
#[path = "response_tests.rs"]
mod tests;
