//! The connection-phase packets the relay must touch: the server's greeting
//! (to mask capabilities the proxy cannot carry) and the client's handshake
//! response (to learn what was negotiated). Everything else in the auth
//! exchange is relayed untouched, so MySQL itself checks every credential.

use super::{read_lenenc, CapabilityFlags, Caps, MariadbCapabilities};

/// Capabilities the proxy removes from the greeting: TLS is ghostwire's own
/// on each side (offered to clients only with `[listen.tls]`, see
/// [`mask_greeting`]), it does not do compression yet, query attributes move where COM_QUERY text
/// starts, and optional result-set metadata would change result framing in a
/// way the tracker does not model.
pub const MASKED_CAPS: u32 = CapabilityFlags::CLIENT_SSL.bits()
    | CapabilityFlags::CLIENT_COMPRESS.bits()
    | CapabilityFlags::CLIENT_ZSTD_COMPRESSION_ALGORITHM.bits()
    | CapabilityFlags::CLIENT_QUERY_ATTRIBUTES.bits()
    | CapabilityFlags::CLIENT_OPTIONAL_RESULTSET_METADATA.bits();
/// MariaDB extended capabilities removed: COM_MULTI (reserved/obsolete).
pub const MASKED_MARIADB_CAPS: u32 = MariadbCapabilities::MARIADB_CLIENT_RESERVED_1.bits();

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HandshakeError {
    #[error("server greeting is truncated")]
    TruncatedGreeting,
    #[error("server speaks protocol version {0}, expected 10")]
    UnsupportedProtocol(u8),
    #[error("client handshake response is truncated or malformed")]
    MalformedResponse,
    #[error("client does not speak protocol 4.1")]
    OldProtocol,
}

/// What the (masked) greeting offered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Greeting {
    /// What the server offered, less the masked bits (CLIENT_SSL included:
    /// TLS is never negotiated end to end).
    pub caps: Caps,
    pub connection_id: u32,
    /// The server offered CLIENT_SSL (for ghostwire's own connection).
    pub server_ssl: bool,
    /// The 20-byte nonce (both parts; zeros where the greeting has none):
    /// what a client XORs its password with before RSA-encrypting it.
    pub scramble: [u8; 20],
}

/// Clears the masked capability bits in a HandshakeV10 payload in place,
/// then sets CLIENT_SSL when ghostwire itself offers clients TLS.
pub fn mask_greeting(payload: &mut [u8], offer_ssl: bool) -> Result<Greeting, HandshakeError> {
    let version = *payload.first().ok_or(HandshakeError::TruncatedGreeting)?;
    if version != 10 {
        return Err(HandshakeError::UnsupportedProtocol(version));
    }
    let nul = payload[1..]
        .iter()
        .position(|b| *b == 0)
        .ok_or(HandshakeError::TruncatedGreeting)?;
    // version, server version + NUL, connection id (4), scramble part 1 (8), filler (1)
    let low_at = 1 + nul + 1 + 4 + 8 + 1;
    let high_at = low_at + 2 + 1 + 2; // after charset (1) and status (2)
    let mariadb_at = high_at + 2 + 1 + 6; // after auth data length (1) and 6 filler bytes
    if payload.len() < mariadb_at + 4 {
        return Err(HandshakeError::TruncatedGreeting);
    }
    let conn_at = 1 + nul + 1;
    let connection_id = u32::from_le_bytes(payload[conn_at..conn_at + 4].try_into().unwrap());
    let low = u16::from_le_bytes([payload[low_at], payload[low_at + 1]]) as u32;
    let high = u16::from_le_bytes([payload[high_at], payload[high_at + 1]]) as u32;
    let raw = low | high << 16;
    let caps = raw & !MASKED_CAPS;
    let ssl = CapabilityFlags::CLIENT_SSL.bits();
    let shown = if offer_ssl { caps | ssl } else { caps };
    payload[low_at..low_at + 2].copy_from_slice(&(shown as u16).to_le_bytes());
    payload[high_at..high_at + 2].copy_from_slice(&((shown >> 16) as u16).to_le_bytes());
    // MariaDB announces extended capabilities in the last 4 filler bytes when
    // it clears CLIENT_LONG_PASSWORD (a.k.a. CLIENT_MYSQL).
    let mut mariadb = 0;
    if caps & CapabilityFlags::CLIENT_LONG_PASSWORD.bits() == 0 {
        let ext = &mut payload[mariadb_at..mariadb_at + 4];
        mariadb = u32::from_le_bytes((&*ext).try_into().unwrap()) & !MASKED_MARIADB_CAPS;
        ext.copy_from_slice(&mariadb.to_le_bytes());
    }
    // Part 1 after the connection id, part 2 after the 10 reserved bytes.
    let mut scramble = [0u8; 20];
    let part1 = conn_at + 4;
    scramble[..8].copy_from_slice(&payload[part1..part1 + 8]);
    if let Some(part2) = payload.get(mariadb_at + 4..mariadb_at + 4 + 12) {
        scramble[8..].copy_from_slice(part2);
    }
    Ok(Greeting {
        caps: Caps {
            client: caps,
            mariadb,
        },
        connection_id,
        server_ssl: raw & ssl != 0,
        scramble,
    })
}

/// Sets CLIENT_SSL in a HandshakeResponse41 payload (the SSLRequest and the
/// response ghostwire sends the server over its TLS connection). The bits
/// were checked by [`parse_client_hello`]; a short payload is left alone.
pub fn set_client_ssl(payload: &mut [u8]) {
    if let Some(b) = payload.get_mut(..4) {
        let caps =
            u32::from_le_bytes([b[0], b[1], b[2], b[3]]) | CapabilityFlags::CLIENT_SSL.bits();
        b.copy_from_slice(&caps.to_le_bytes());
    }
}

/// What the relay learns from the client's HandshakeResponse41.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientHello {
    /// Capabilities in effect for the session (client's ∩ server's).
    pub caps: Caps,
    /// The short SSLRequest packet: the client wants TLS first.
    pub ssl_request: bool,
    pub user: String,
    pub database: Option<String>,
    /// The auth plugin the client's first response is for (empty when it
    /// names none).
    pub plugin: String,
    /// That first response (a scramble, or what sha256_password sends).
    pub auth_response: Vec<u8>,
    /// Where it is in the payload: its length field, then its bytes.
    pub auth_field: std::ops::Range<usize>,
    /// Its length is length-encoded (else one byte).
    pub auth_lenenc: bool,
    /// The response set CLIENT_SSL (as it must over TLS; in plain text a
    /// client that did is confused about its own connection).
    pub claims_ssl: bool,
}

/// Reads a HandshakeResponse41 and clears masked bits the client set anyway
/// (in place, so what reaches the server matches what the proxy relays).
pub fn parse_client_hello(
    payload: &mut [u8],
    server: &Greeting,
) -> Result<ClientHello, HandshakeError> {
    let bad = || HandshakeError::MalformedResponse;
    let raw_caps = u32::from_le_bytes(four(payload.get(..4)).ok_or_else(bad)?);
    if raw_caps & CapabilityFlags::CLIENT_PROTOCOL_41.bits() == 0 {
        return Err(HandshakeError::OldProtocol);
    }
    if raw_caps & CapabilityFlags::CLIENT_SSL.bits() != 0 && payload.len() == 32 {
        return Ok(ClientHello {
            ssl_request: true,
            ..Default::default()
        });
    }
    // The fixed part: capabilities, max packet, charset, filler (whose
    // last 4 bytes are MariaDB's extended capabilities).
    let (fixed, rest) = payload.split_at_mut_checked(32).ok_or_else(bad)?;
    let caps = raw_caps & !MASKED_CAPS;
    fixed
        .get_mut(..4)
        .ok_or_else(bad)?
        .copy_from_slice(&caps.to_le_bytes());
    let mut mariadb = 0;
    if caps & CapabilityFlags::CLIENT_LONG_PASSWORD.bits() == 0 {
        let ext = fixed.get_mut(28..32).ok_or_else(bad)?;
        mariadb = u32::from_le_bytes(four(Some(&*ext)).ok_or_else(bad)?) & !MASKED_MARIADB_CAPS;
        ext.copy_from_slice(&mariadb.to_le_bytes());
    }
    let negotiated = Caps {
        client: caps & server.caps.client,
        mariadb: mariadb & server.caps.mariadb,
    };
    let (user, database, plugin, auth_response, field) = read_user_and_db(rest, caps)?;
    Ok(ClientHello {
        caps: negotiated,
        ssl_request: false,
        user,
        database,
        plugin,
        auth_response,
        auth_field: field.start + 32..field.end + 32,
        auth_lenenc: caps & CapabilityFlags::CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA.bits() != 0,
        claims_ssl: raw_caps & CapabilityFlags::CLIENT_SSL.bits() != 0,
    })
}

/// A server packet of the auth exchange after which the client sends the
/// password itself (not a scramble): in clear when its connection is
/// secure, RSA-encrypted (or asking for the server's RSA key) when not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FullAuth {
    /// caching_sha2_password's "perform full authentication" (0x01 0x04).
    CachingSha2,
    /// A switch to sha256_password.
    Sha256,
    /// A switch to mysql_clear_password (always in clear).
    Clear,
}

/// Which [`FullAuth`] this server packet asks for, if any. Across a proxy
/// whose two connections differ in TLS the client and the server disagree
/// on whether the connection is secure, hence on what is sent.
pub fn full_auth(payload: &[u8]) -> Option<FullAuth> {
    match payload {
        [0x01, 0x04] => Some(FullAuth::CachingSha2),
        [0xFE, rest @ ..] => match rest.split(|b| *b == 0).next().unwrap_or_default() {
            b"sha256_password" => Some(FullAuth::Sha256),
            b"mysql_clear_password" => Some(FullAuth::Clear),
            _ => None,
        },
        _ => None,
    }
}

/// Whether a client's first auth response under `plugin` is the password
/// itself (sent in clear by a client on a secure connection).
pub fn sends_password_first(plugin: &str) -> bool {
    matches!(plugin, "sha256_password" | "mysql_clear_password")
}

/// Four bytes as an array, if there are exactly four.
fn four(b: Option<&[u8]>) -> Option<[u8; 4]> {
    b?.try_into().ok()
}

/// User, database, plugin, first auth response and where that response's
/// field is (length and bytes) of a HandshakeResponse41 (after its fixed part).
type HelloFields = (
    String,
    Option<String>,
    String,
    Vec<u8>,
    std::ops::Range<usize>,
);

fn read_user_and_db(rest: &[u8], caps: u32) -> Result<HelloFields, HandshakeError> {
    let bad = || HandshakeError::MalformedResponse;
    let nul = rest.iter().position(|b| *b == 0).ok_or_else(bad)?;
    let user = String::from_utf8_lossy(rest.get(..nul).ok_or_else(bad)?).into_owned();
    let mut at = nul + 1;
    let field_at = at;
    // Auth response: length-encoded, or a one-byte length.
    let auth_len = if caps & CapabilityFlags::CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA.bits() != 0 {
        let (n, used) = read_lenenc(rest.get(at..).ok_or_else(bad)?).ok_or_else(bad)?;
        at += used;
        n as usize
    } else {
        let n = *rest.get(at).ok_or_else(bad)? as usize;
        at += 1;
        n
    };
    let auth_at = at;
    at = at
        .checked_add(auth_len)
        .filter(|a| *a <= rest.len())
        .ok_or_else(bad)?;
    let auth = rest.get(auth_at..at).unwrap_or_default().to_vec();
    let mut database = None;
    if caps & CapabilityFlags::CLIENT_CONNECT_WITH_DB.bits() != 0 {
        let db = rest.get(at..).unwrap_or_default();
        let name = db.split(|b| *b == 0).next().unwrap_or_default();
        if !name.is_empty() {
            database = Some(String::from_utf8_lossy(name).into_owned());
        }
        at = at.saturating_add(name.len() + 1);
    }
    let mut plugin = String::new();
    if caps & CapabilityFlags::CLIENT_PLUGIN_AUTH.bits() != 0 {
        let p = rest.get(at..).unwrap_or_default();
        let name = p.split(|b| *b == 0).next().unwrap_or_default();
        plugin = String::from_utf8_lossy(name).into_owned();
    }
    Ok((user, database, plugin, auth, field_at..auth_at + auth_len))
}

/// The handshake response `payload` (as parsed into `hello`) with its first
/// auth response replaced by `auth`; `None` when `auth` does not fit a
/// one-byte length.
pub fn replace_auth_response(payload: &[u8], hello: &ClientHello, auth: &[u8]) -> Option<Vec<u8>> {
    let before = payload.get(..hello.auth_field.start)?;
    let after = payload.get(hello.auth_field.end..)?;
    let mut out = Vec::with_capacity(payload.len() + auth.len());
    out.extend_from_slice(before);
    if hello.auth_lenenc {
        super::put_lenenc(&mut out, auth.len() as u64);
    } else {
        out.push(u8::try_from(auth.len()).ok()?);
    }
    out.extend_from_slice(auth);
    out.extend_from_slice(after);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn greeting(caps: u32, mariadb: u32) -> Vec<u8> {
        let mut p = vec![10];
        p.extend_from_slice(b"5.5.5-10.11.6-MariaDB\0");
        p.extend_from_slice(&42u32.to_le_bytes());
        p.extend_from_slice(&[1; 8]);
        p.push(0);
        p.extend_from_slice(&(caps as u16).to_le_bytes());
        p.push(45);
        p.extend_from_slice(&2u16.to_le_bytes());
        p.extend_from_slice(&((caps >> 16) as u16).to_le_bytes());
        p.push(21);
        p.extend_from_slice(&[0; 6]);
        p.extend_from_slice(&mariadb.to_le_bytes());
        p.extend_from_slice(&[2; 12]);
        p.push(0);
        p.extend_from_slice(b"mysql_native_password\0");
        p
    }

    #[test]
    fn greeting_loses_ssl_and_compress_only() {
        let all = !CapabilityFlags::CLIENT_LONG_PASSWORD.bits();
        let mut g = greeting(all, 0x1F);
        let before = g.clone();
        let parsed = mask_greeting(&mut g, false).unwrap();
        assert!(parsed.server_ssl);
        assert_eq!(parsed.connection_id, 42);
        let mut nonce = [1u8; 20];
        nonce[8..].fill(2);
        assert_eq!(parsed.scramble, nonce, "both parts of the nonce");
        assert_eq!(parsed.caps.client, all & !MASKED_CAPS);
        assert_eq!(parsed.caps.mariadb, 0x1F & !MASKED_MARIADB_CAPS);
        let changed: Vec<usize> = (0..g.len()).filter(|i| g[*i] != before[*i]).collect();
        assert!(
            changed.len() <= 4,
            "only capability bytes change: {changed:?}"
        );
    }

    #[test]
    fn greeting_offers_ghostwires_own_tls() {
        let ssl = CapabilityFlags::CLIENT_SSL.bits();
        let mut g = greeting(CapabilityFlags::CLIENT_PROTOCOL_41.bits(), 0);
        let parsed = mask_greeting(&mut g, true).unwrap();
        assert!(!parsed.server_ssl, "the server did not offer it");
        assert_eq!(parsed.caps.client & ssl, 0, "never negotiated end to end");
        let mut again = g.clone();
        assert!(
            mask_greeting(&mut again, false).unwrap().server_ssl,
            "the relayed greeting offers TLS"
        );
        let mut hello = vec![0u8; 32];
        set_client_ssl(&mut hello);
        assert_eq!(u32::from_le_bytes(hello[..4].try_into().unwrap()), ssl);
        set_client_ssl(&mut [0u8; 3]);
    }

    #[test]
    fn client_hello_names_its_plugin() {
        let server = Greeting {
            caps: Caps {
                client: u32::MAX,
                mariadb: 0,
            },
            connection_id: 1,
            server_ssl: true,
            scramble: [0; 20],
        };
        let caps = (CapabilityFlags::CLIENT_PROTOCOL_41
            | CapabilityFlags::CLIENT_SECURE_CONNECTION
            | CapabilityFlags::CLIENT_CONNECT_WITH_DB
            | CapabilityFlags::CLIENT_PLUGIN_AUTH
            | CapabilityFlags::CLIENT_LONG_PASSWORD)
            .bits();
        let mut p = caps.to_le_bytes().to_vec();
        p.extend_from_slice(&[0; 28]);
        p.extend_from_slice(b"app\0\x03pw\0shop\0mysql_clear_password\0");
        let hello = parse_client_hello(&mut p, &server).unwrap();
        assert_eq!(hello.database.as_deref(), Some("shop"));
        assert_eq!(hello.plugin, "mysql_clear_password");
        assert_eq!(hello.auth_response, b"pw\0");
        // The response replaced (a longer one), the rest as it was.
        let mut again = replace_auth_response(&p, &hello, b"longer password\0").unwrap();
        let swapped = parse_client_hello(&mut again, &server).unwrap();
        assert_eq!(swapped.auth_response, b"longer password\0");
        assert_eq!(
            (swapped.user, swapped.database, swapped.plugin),
            (
                hello.user.clone(),
                hello.database.clone(),
                hello.plugin.clone()
            )
        );
        assert!(sends_password_first(&hello.plugin));
        assert!(!sends_password_first("caching_sha2_password"));
    }

    #[test]
    fn full_auth_requests_are_recognised() {
        assert_eq!(full_auth(&[0x01, 0x04]), Some(FullAuth::CachingSha2));
        assert_eq!(full_auth(&[0x01, 0x03]), None, "fast auth succeeded");
        assert_eq!(
            full_auth(b"\xFEmysql_clear_password\0"),
            Some(FullAuth::Clear)
        );
        assert_eq!(full_auth(b"\xFEsha256_password\0s"), Some(FullAuth::Sha256));
        assert_eq!(full_auth(b"\xFEmysql_native_password\0abc"), None);
        assert_eq!(full_auth(&[]), None);
    }

    #[test]
    fn truncated_greeting_is_an_error_not_a_panic() {
        let g = greeting(0xFFFF_FFFF, 0);
        for n in 0..40 {
            let mut cut = g[..n].to_vec();
            assert!(mask_greeting(&mut cut, true).is_err());
        }
    }

    #[test]
    fn client_hello_reads_db_and_rejects_garbage() {
        let server = Greeting {
            caps: Caps {
                client: u32::MAX,
                mariadb: u32::MAX,
            },
            connection_id: 1,
            server_ssl: true,
            scramble: [0; 20],
        };
        let caps = (CapabilityFlags::CLIENT_PROTOCOL_41
            | CapabilityFlags::CLIENT_SECURE_CONNECTION
            | CapabilityFlags::CLIENT_CONNECT_WITH_DB
            | CapabilityFlags::CLIENT_COMPRESS)
            .bits();
        let mut p = caps.to_le_bytes().to_vec();
        p.extend_from_slice(&[0; 24]);
        p.extend_from_slice(&0x10u32.to_le_bytes());
        p.extend_from_slice(b"app\0");
        p.push(3);
        p.extend_from_slice(b"xyz");
        p.extend_from_slice(b"shop\0");
        let hello = parse_client_hello(&mut p, &server).unwrap();
        assert_eq!(hello.plugin, "", "no CLIENT_PLUGIN_AUTH");
        assert_eq!(hello.user, "app");
        assert_eq!(hello.database.as_deref(), Some("shop"));
        assert_eq!(hello.caps.mariadb, 0x10);
        assert_eq!(
            hello.caps.client & CapabilityFlags::CLIENT_COMPRESS.bits(),
            0
        );
        for n in 0..p.len() - 5 {
            let mut cut = p[..n].to_vec();
            assert!(parse_client_hello(&mut cut, &server).is_err(), "cut at {n}");
        }
    }
}
