//! `[listen.tls]` and `[backend.tls]` (see `crate::tls` for what is built
//! from them).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{invalid, Config, ConfigError};

/// `[listen.tls]`: whether clients may (or must) talk TLS to ghostwire.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ListenTls {
    pub mode: ListenTlsMode,
    /// PEM certificate chain presented to clients.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert: Option<PathBuf>,
    /// PEM private key of `cert`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<PathBuf>,
    /// Whether TLS clients must show a certificate that chains to `ca`.
    pub client_cert: ClientCert,
    /// PEM CA certificate(s) client certificates must chain to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca: Option<PathBuf>,
}

/// `[listen.tls] client_cert`: a gate on who may connect to ghostwire at
/// all, not an identity: MySQL accounts still authenticate as always, and
/// the server's `REQUIRE X509` sees ghostwire's own certificate.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ClientCert {
    /// Not asked for (a client's certificate is never seen).
    #[default]
    Off,
    /// Asked for; a client may show none, but one it shows must chain to `ca`.
    Optional,
    /// Every client must show one that chains to `ca` (needs `mode =
    /// "required"`: a plain-text client would show none).
    Required,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ListenTlsMode {
    /// CLIENT_SSL is not offered: clients talk plain text.
    #[default]
    Off,
    /// Offered; a client may still log in without it.
    Optional,
    /// A client that does not ask for TLS is refused before auth.
    Required,
}

/// `[backend.tls]`: TLS on ghostwire's connections to the server (the
/// relayed client sessions and the engine's own), like `--ssl-mode`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackendTls {
    pub mode: BackendTlsMode,
    /// PEM CA certificate(s) the server's certificate must chain to
    /// (`verify_ca`, `verify_identity`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca: Option<PathBuf>,
    /// PEM client certificate chain and key ghostwire presents to the server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum BackendTlsMode {
    /// Plain text.
    #[default]
    Off,
    /// TLS when the server offers it (certificate not checked).
    Preferred,
    /// TLS or no connection (certificate not checked).
    Required,
    /// TLS, the server's certificate chains to `ca` (any name).
    VerifyCa,
    /// As `verify_ca`, and the certificate names the host of `backend.addr`.
    VerifyIdentity,
}

impl BackendTlsMode {
    pub fn verifies_ca(self) -> bool {
        matches!(self, Self::VerifyCa | Self::VerifyIdentity)
    }
}

impl Config {
    pub(super) fn validate_tls(&self) -> Result<(), ConfigError> {
        let l = &self.listen.tls;
        if l.mode != ListenTlsMode::Off && (l.cert.is_none() || l.key.is_none()) {
            return Err(invalid(
                "listen.tls",
                "mode optional or required needs both cert and key",
            ));
        }
        if l.client_cert != ClientCert::Off && (l.ca.is_none() || l.mode == ListenTlsMode::Off) {
            return Err(invalid(
                "listen.tls.client_cert",
                "checking client certificates needs mode optional or required and the ca",
            ));
        }
        if l.client_cert == ClientCert::Required && l.mode != ListenTlsMode::Required {
            return Err(invalid(
                "listen.tls.client_cert",
                "\"required\" needs mode = \"required\" (a plain-text client shows no certificate)",
            ));
        }
        let b = &self.backend.tls;
        if b.cert.is_some() != b.key.is_some() {
            return Err(invalid("backend.tls", "set both cert and key, or neither"));
        }
        if b.mode.verifies_ca() && b.ca.is_none() {
            return Err(invalid(
                "backend.tls.ca",
                "mode verify_ca and verify_identity need the CA certificate",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_keys_are_checked() {
        let mut c = Config::default();
        assert!(c.validate_tls().is_ok(), "off by default");
        c.listen.tls.mode = ListenTlsMode::Required;
        assert!(c.validate_tls().is_err(), "needs cert and key");
        c.listen.tls.cert = Some("c.pem".into());
        c.listen.tls.key = Some("k.pem".into());
        assert!(c.validate_tls().is_ok());
        c.listen.tls.client_cert = ClientCert::Optional;
        assert!(c.validate_tls().is_err(), "client certificates need a CA");
        c.listen.tls.ca = Some("ca.pem".into());
        assert!(c.validate_tls().is_ok());
        c.listen.tls.client_cert = ClientCert::Required;
        assert!(c.validate_tls().is_ok(), "mode is required");
        c.listen.tls.mode = ListenTlsMode::Optional;
        assert!(c.validate_tls().is_err(), "plain clients would bypass it");
        c.listen.tls.client_cert = ClientCert::Off;
        c.backend.tls.mode = BackendTlsMode::VerifyCa;
        assert!(c.validate_tls().is_err(), "verify_ca needs a CA");
        c.backend.tls.ca = Some("ca.pem".into());
        assert!(c.validate_tls().is_ok());
        c.backend.tls.cert = Some("c.pem".into());
        assert!(c.validate_tls().is_err(), "cert without key");
        let t: Config = toml::from_str(
            "[backend.tls]\nmode = \"verify_identity\"\nca = \"x\"\n[listen.tls]\nmode = \"optional\"",
        )
        .unwrap();
        assert_eq!(t.backend.tls.mode, BackendTlsMode::VerifyIdentity);
        assert_eq!(t.listen.tls.mode, ListenTlsMode::Optional);
    }
}
