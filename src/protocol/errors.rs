//! The catalogue of errors ghostwire itself answers clients with, each
//! named once here: the code and SQLSTATE (the server's own for the same
//! situation wherever it has one, so clients react as they do to the
//! server) and a message that says what to do. Errors the server sent are
//! relayed as they are and are not listed here.

use super::packets::ErrPacket;

pub fn too_many_connections() -> ErrPacket {
    ErrPacket::new(
        1040,
        "08004",
        "Too many connections (ghostwire max_connections reached)",
    )
}
pub fn server_shutdown() -> ErrPacket {
    ErrPacket::new(
        1053,
        "08S01",
        "ghostwire: proxy is shutting down; reconnect",
    )
}
pub fn cannot_reach_backend(addr: &str, reason: &dyn std::fmt::Display) -> ErrPacket {
    ErrPacket::new(
        2003,
        "HY000",
        format!("ghostwire: cannot reach backend {addr}: {reason}"),
    )
}
pub fn backend_lost(addr: &str) -> ErrPacket {
    ErrPacket::new(
        2013,
        "HY000",
        format!("ghostwire: lost connection to backend {addr}; reconnect and retry"),
    )
}
pub fn out_of_order() -> ErrPacket {
    ErrPacket::new(
        1156,
        "08S01",
        "ghostwire: got packets out of order; closing connection",
    )
}
pub fn read_timeout() -> ErrPacket {
    ErrPacket::new(
        1159,
        "08S01",
        "ghostwire: timeout reading a packet the client started; closing connection",
    )
}
/// A new connection came while `max_unauthenticated` others were still
/// logging in; this one had been at it the longest.
pub fn too_many_unauthenticated(max: usize) -> ErrPacket {
    ErrPacket::new(
        1040,
        "08004",
        format!(
            "ghostwire: too many connections still logging in (max_unauthenticated = {max}); \
             this one took the longest and was closed: reconnect"
        ),
    )
}
pub fn handshake_timeout(ms: u64) -> ErrPacket {
    ErrPacket::new(
        1159,
        "08S01",
        format!(
            "ghostwire: login not finished within handshake_timeout_ms = {ms}; closing connection"
        ),
    )
}
/// A packet before authentication longer than any login packet can be.
pub fn preauth_too_large(len: usize, max: usize) -> ErrPacket {
    ErrPacket::new(
        1153,
        "08S01",
        format!(
            "ghostwire: got a {len}-byte packet before authentication; \
             at most {max} bytes are allowed until login; closing connection"
        ),
    )
}
pub fn tls_unsupported() -> ErrPacket {
    ErrPacket::new(
        1043,
        "08S01",
        "ghostwire: TLS is not enabled on this proxy ([listen.tls] mode = \"off\"); \
         connect with ssl-mode=DISABLED",
    )
}
/// An SSLRequest over a connection already on TLS.
pub fn tls_repeated() -> ErrPacket {
    ErrPacket::new(
        1043,
        "08S01",
        "ghostwire: bad handshake: TLS asked for again on a connection already on TLS; \
         closing connection",
    )
}
/// A full handshake response in plain text with CLIENT_SSL set.
pub fn plain_login_claims_tls() -> ErrPacket {
    ErrPacket::new(
        1043,
        "08S01",
        "ghostwire: bad handshake: the login announces TLS (CLIENT_SSL) but was sent in \
         plain text without an SSLRequest first; closing connection",
    )
}
/// `[listen.tls] mode = "required"` and the client did not ask for TLS
/// (MySQL's own answer under `require_secure_transport`).
pub fn insecure_transport() -> ErrPacket {
    ErrPacket::new(
        3159,
        "08004",
        "ghostwire: connections using insecure transport are prohibited \
         ([listen.tls] mode = \"required\"); connect with TLS",
    )
}
/// The server's `require_secure_transport` is on and the client's own
/// connection to ghostwire is plain text: the server, seeing ghostwire's
/// TLS connection, accepted a login it refuses to this client directly.
pub fn server_requires_secure_transport() -> ErrPacket {
    ErrPacket::new(
        3159,
        "HY000",
        "ghostwire: connections using insecure transport are prohibited while \
         --require_secure_transport=ON; connect to ghostwire with TLS",
    )
}
/// The account is `REQUIRE SSL` (or a cipher) and the client's own
/// connection to ghostwire is plain text.
pub fn account_requires_tls(user: &str) -> ErrPacket {
    ErrPacket::new(
        1045,
        "28000",
        format!(
            "ghostwire: Access denied for user {user}: the account requires TLS (REQUIRE \
             SSL) and this connection to ghostwire is plain text; connect with TLS"
        ),
    )
}
/// The account needs a client certificate (`REQUIRE X509`, `SUBJECT`,
/// `ISSUER`): the server would check ghostwire's own certificate, not
/// the client's, so such accounts cannot log in through ghostwire.
pub fn account_requires_certificate(user: &str) -> ErrPacket {
    ErrPacket::new(
        1045,
        "28000",
        format!(
            "ghostwire: Access denied for user {user}: the account requires a client \
             certificate (REQUIRE X509/SUBJECT/ISSUER), which ghostwire cannot pass on \
             (the server would see ghostwire's certificate); connect to the server directly"
        ),
    )
}
/// The client (over TLS) would send its password in clear next, and
/// ghostwire's connection to the server is plain text.
pub fn cleartext_needs_backend_tls() -> ErrPacket {
    ErrPacket::new(
        2061,
        "HY000",
        "ghostwire: this login would send the password to the server in clear text \
         (caching_sha2_password full authentication, sha256_password or \
         mysql_clear_password): the client uses TLS but [backend.tls] mode is off; \
         enable TLS to the backend",
    )
}
/// A plain-text client encrypted its password with an RSA key that is
/// not ghostwire's (one it pinned: the server's own), and ghostwire's
/// connection to the server is TLS, where the server expects it in clear.
pub fn pinned_server_key() -> ErrPacket {
    ErrPacket::new(
        2061,
        "HY000",
        "ghostwire: the password was encrypted with an RSA public key that is not \
         ghostwire's (a pinned server key?); ghostwire's connection to the server is TLS \
         and needs the password itself: let the client fetch the key \
         (get-server-public-key / allowPublicKeyRetrieval), pin ghostwire's key \
         ([listen] rsa_key), or connect to ghostwire with TLS",
    )
}
/// ghostwire has no RSA key to hand a plain-text client (it could not
/// make one: logged).
pub fn no_password_key() -> ErrPacket {
    ErrPacket::new(
        2061,
        "HY000",
        "ghostwire: no RSA key for this plain-text login (see ghostwire's log); \
         connect to ghostwire with TLS",
    )
}
/// A plain-text client sent its password neither encrypted nor after a
/// key request: the server refuses that on a plain connection too.
pub fn password_not_encrypted() -> ErrPacket {
    ErrPacket::new(
        1045,
        "28000",
        "ghostwire: Access denied: over a plain-text connection the password must be \
         RSA-encrypted, as the server requires; connect with TLS or let the client use \
         the RSA key",
    )
}
/// `[backend.tls]` requires TLS and the server does not offer it.
pub fn backend_tls_unavailable(addr: &str) -> ErrPacket {
    ErrPacket::new(
        2026,
        "HY000",
        format!("ghostwire: backend {addr} does not offer TLS, which [backend.tls] mode requires"),
    )
}
/// The TLS handshake with the server failed (its certificate, mostly).
pub fn backend_tls_failed(addr: &str, reason: &dyn std::fmt::Display) -> ErrPacket {
    ErrPacket::new(
        2026,
        "HY000",
        format!("ghostwire: TLS to backend {addr} failed: {reason}"),
    )
}
pub fn malformed_handshake() -> ErrPacket {
    ErrPacket::new(
        1043,
        "08S01",
        "ghostwire: bad handshake response; closing connection",
    )
}

// --- The migration engine and its commands ------------------------------

/// The general refusal: ERR 1105 (HY000, "unknown error", as the server
/// uses it for conditions without a code of their own), the message
/// prefixed "ghostwire: " so a client knows who answered. `msg` says what
/// happened and what to do.
pub fn ghostwire(msg: impl std::fmt::Display) -> ErrPacket {
    ErrPacket::new(1105, "HY000", format!("ghostwire: {msg}"))
}

/// The server refused one of ghostwire's own statements for a right its
/// engine account lacks: the server's code and state, and the grants.
pub fn engine_account_lacks(
    code: u16,
    state: String,
    detail: &dyn std::fmt::Display,
    grants: &str,
) -> ErrPacket {
    ErrPacket::new(
        code,
        state,
        format!(
            "ghostwire: its own backend account lacks a right the migration needs ({detail}); \
             it needs {grants}"
        ),
    )
}

/// The engine account cannot see a table the client's own connection saw
/// (1142, as the server refuses a table it may not see).
pub fn engine_account_cannot_see(schema: &str, table: &str, grants: &str) -> ErrPacket {
    ErrPacket::new(
        1142,
        "42000",
        format!(
            "ghostwire: its own backend account cannot see {schema}.{table}; it needs {grants}"
        ),
    )
}

/// A migration cancelled (1317, "query execution was interrupted", as a
/// native ALTER stopped by KILL QUERY); `by` names who, when known.
pub fn migration_cancelled(id: Option<&str>, by: Option<&str>) -> ErrPacket {
    let message = match (id, by) {
        (Some(id), Some(by)) => format!(
            "ghostwire: migration {id} was cancelled by {by} (ALTER MIGRATION … CANCEL); the \
             original table is unchanged"
        ),
        _ => "ghostwire: the migration was cancelled; the original table is unchanged".into(),
    };
    ErrPacket::new(1317, "70100", message)
}

/// A waiting client whose migration's run stopped without failing (2013,
/// "lost connection during query": the migration goes on elsewhere or
/// later; `message` says where and how to follow it).
pub fn migration_run_stopped(message: impl Into<String>) -> ErrPacket {
    ErrPacket::new(2013, "HY000", message.into())
}

/// The engine lost its backend connection during a migration (2013).
pub fn migration_lost_backend(detail: &dyn std::fmt::Display) -> ErrPacket {
    migration_run_stopped(format!(
        "ghostwire: lost the backend during the migration ({detail}); the original table is \
         unchanged"
    ))
}

/// No migration of that id that the client may see.
pub fn no_such_migration(id: &str) -> ErrPacket {
    ghostwire(format!(
        "no migration '{id}' (SHOW MIGRATIONS lists those you may see)"
    ))
}

/// A form the server would refuse as unsupported (1235, "this version
/// doesn't yet support …"), e.g. a command sent the wrong way.
pub fn not_supported(msg: impl std::fmt::Display) -> ErrPacket {
    ErrPacket::new(1235, "42000", format!("ghostwire: {msg}"))
}

/// A migration command ghostwire cannot read (1064, as the server's
/// parser answers).
pub fn migration_syntax(expected: &str) -> ErrPacket {
    ErrPacket::new(1064, "42000", format!("ghostwire: expected {expected}"))
}

/// A column SHOW MIGRATIONS does not have in its WHERE: what the server
/// says of an unknown column (1054), and the columns there are.
pub fn unknown_migrations_column(column: &str, known: &[&str]) -> ErrPacket {
    ErrPacket::new(
        1054,
        "42S22",
        format!(
            "Unknown column '{column}' in 'where clause' (SHOW MIGRATIONS has: {})",
            known.join(", ")
        ),
    )
}

/// A migration command sent as COM_STMT_PREPARE where it cannot be (1295,
/// as the server answers a statement the prepared protocol lacks).
pub fn cannot_prepare(msg: impl std::fmt::Display) -> ErrPacket {
    ErrPacket::new(1295, "HY000", format!("ghostwire: {msg}"))
}

/// A statement held at a closed cut-over gate too long (1205, as a lock
/// wait timeout on the server).
pub fn gate_wait_timeout(msg: impl Into<String>) -> ErrPacket {
    ErrPacket::new(1205, "HY000", msg.into())
}

/// The general refusal (as [`ghostwire`]) for an error type whose own text
/// is the message, already prefixed "ghostwire: " (`sql::AlterError`,
/// `sql::hints::UnknownHint`).
pub fn refusal(e: &dyn std::fmt::Display) -> ErrPacket {
    ErrPacket::new(1105, "HY000", e.to_string())
}

/// A value ghostwire cannot take for one of its session variables
/// (`SET @ghostwire = …`): 1231, as the server answers a bad value.
pub fn wrong_variable_value(e: &dyn std::fmt::Display) -> ErrPacket {
    ErrPacket::new(1231, "42000", e.to_string())
}

/// An unqualified table name with no current database: the server's own
/// answer (1046).
pub fn no_database_selected() -> ErrPacket {
    ErrPacket::new(1046, "3D000", "No database selected")
}

/// The instant attempt never got the table's metadata lock (1205, as a
/// lock wait timeout).
pub fn metadata_lock_attempts(attempts: u32) -> ErrPacket {
    ErrPacket::new(
        1205,
        "HY000",
        format!(
            "ghostwire: could not get the table's metadata lock in {attempts} attempts: a long \
             transaction holds it. Commit or end it, then submit the ALTER again"
        ),
    )
}

/// A client waiting for its migration while ghostwire shuts down (1053,
/// as the server answers during its shutdown).
pub fn migration_shutdown() -> ErrPacket {
    ErrPacket::new(
        1053,
        "08S01",
        "ghostwire: shutting down; the migration was stopped and the table left unchanged",
    )
}

/// The backend's greeting could not be read (2027, the client library's
/// "malformed packet").
pub fn backend_greeting_malformed(addr: &str, e: &dyn std::fmt::Display) -> ErrPacket {
    ErrPacket::new(2027, "HY000", format!("ghostwire: backend {addr}: {e}"))
}
