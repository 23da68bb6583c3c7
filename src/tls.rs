//! TLS contexts built from `[listen.tls]` and `[backend.tls]`: the acceptor
//! for client connections and the connector for ghostwire's connections to
//! the server.
//!
//! rustls (through tokio-rustls), not OpenSSL: no system OpenSSL to build
//! against or keep patched, a memory-safe implementation of code that
//! parses hostile bytes before authentication, and TLS 1.2+ only by
//! construction. The `ring` provider is used (mysql_async's rustls feature
//! uses the same), so one crypto backend is linked.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_rustls::{TlsAcceptor, TlsConnector};

use crate::config::{BackendTls, BackendTlsMode, ClientCert, Config, ListenTls, ListenTlsMode};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{key}: cannot read {path}: {reason}")]
    Pem {
        key: &'static str,
        path: PathBuf,
        reason: String,
    },
    #[error("{key}: {path} holds no {what}")]
    Empty {
        key: &'static str,
        path: PathBuf,
        what: &'static str,
    },
    #[error("{0}: {1}")]
    Rustls(&'static str, rustls::Error),
    #[error("backend.addr: {0:?} is not a name a certificate can carry")]
    ServerName(String),
}

// ring's provider is deprecated only for lacking post-quantum key exchange;
// aws-lc-rs would need cmake and a C toolchain on every build machine.
#[allow(deprecated)]
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// TLS 1.2 and 1.3 (rustls has nothing older).
const VERSIONS: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

fn certs(key: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = |reason: String| TlsError::Pem {
        key,
        path: path.into(),
        reason,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| pem(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem(e.to_string()))?;
    if certs.is_empty() {
        return Err(TlsError::Empty {
            key,
            path: path.into(),
            what: "PEM certificate",
        });
    }
    Ok(certs)
}

fn private_key(key: &'static str, path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| TlsError::Pem {
        key,
        path: path.into(),
        reason: e.to_string(),
    })
}

/// What a connection uses of `[listen.tls]` and `[backend.tls]`: built
/// together from one configuration, so a reload applies all or nothing.
pub(crate) struct Contexts {
    /// The acceptor for clients, when `[listen.tls]` is not off.
    pub(crate) acceptor: Option<TlsAcceptor>,
    /// A client that does not ask for TLS is refused.
    pub(crate) required: bool,
    /// The connector to the server, when `[backend.tls]` is not off.
    pub(crate) backend: Option<Backend>,
}

impl Contexts {
    /// Reads every certificate and key file `config` names.
    pub(crate) fn build(config: &Config) -> Result<Self, TlsError> {
        Ok(Self {
            acceptor: acceptor(&config.listen.tls)?,
            required: config.listen.tls.mode == ListenTlsMode::Required,
            backend: backend(&config.backend.tls, &config.backend.addr)?,
        })
    }
}

/// The acceptor for client connections, or `None` when `mode = "off"`.
pub(crate) fn acceptor(cfg: &ListenTls) -> Result<Option<TlsAcceptor>, TlsError> {
    let (ListenTlsMode::Optional | ListenTlsMode::Required, Some(cert), Some(key)) =
        (cfg.mode, &cfg.cert, &cfg.key)
    else {
        return Ok(None);
    };
    let chain = certs("listen.tls.cert", cert)?;
    let key = private_key("listen.tls.key", key)?;
    let builder = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(VERSIONS)
        .map_err(|e| TlsError::Rustls("listen.tls", e))?;
    let builder = match (cfg.client_cert, &cfg.ca) {
        (ClientCert::Optional | ClientCert::Required, Some(ca)) => {
            let mut roots = RootCertStore::empty();
            for c in certs("listen.tls.ca", ca)? {
                roots
                    .add(c)
                    .map_err(|e| TlsError::Rustls("listen.tls.ca", e))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider());
            let verifier = match cfg.client_cert {
                ClientCert::Optional => verifier.allow_unauthenticated(),
                _ => verifier,
            };
            let verifier = verifier.build().map_err(|e| {
                TlsError::Rustls("listen.tls.ca", rustls::Error::General(e.to_string()))
            })?;
            builder.with_client_cert_verifier(verifier)
        }
        _ => builder.with_no_client_auth(),
    };
    let config = builder
        .with_single_cert(chain, key)
        .map_err(|e| TlsError::Rustls("listen.tls", e))?;
    Ok(Some(TlsAcceptor::from(Arc::new(config))))
}

/// How ghostwire's connections to the server use TLS.
#[derive(Clone)]
pub(crate) struct Backend {
    pub(crate) mode: BackendTlsMode,
    pub(crate) connector: TlsConnector,
    /// The name the server's certificate is checked against (with
    /// `verify_identity`; sent as SNI when it is a DNS name).
    pub(crate) name: ServerName<'static>,
}

/// The connector to the server, or `None` when `mode = "off"`.
pub(crate) fn backend(cfg: &BackendTls, addr: &str) -> Result<Option<Backend>, TlsError> {
    if cfg.mode == BackendTlsMode::Off {
        return Ok(None);
    }
    let provider = provider();
    let mut roots = RootCertStore::empty();
    if let Some(ca) = &cfg.ca {
        for c in certs("backend.tls.ca", ca)? {
            roots
                .add(c)
                .map_err(|e| TlsError::Rustls("backend.tls.ca", e))?;
        }
    }
    let verifier: Arc<dyn ServerCertVerifier> = match cfg.mode {
        BackendTlsMode::VerifyCa | BackendTlsMode::VerifyIdentity => {
            let webpki =
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .map_err(|e| {
                        TlsError::Rustls("backend.tls.ca", rustls::Error::General(e.to_string()))
                    })?;
            Arc::new(Verifier {
                webpki: Some(webpki),
                check_name: cfg.mode == BackendTlsMode::VerifyIdentity,
                provider: provider.clone(),
            })
        }
        _ => Arc::new(Verifier {
            webpki: None,
            check_name: false,
            provider: provider.clone(),
        }),
    };
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(VERSIONS)
        .map_err(|e| TlsError::Rustls("backend.tls", e))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let config = match (&cfg.cert, &cfg.key) {
        (Some(cert), Some(key)) => builder
            .with_client_auth_cert(
                certs("backend.tls.cert", cert)?,
                private_key("backend.tls.key", key)?,
            )
            .map_err(|e| TlsError::Rustls("backend.tls.cert", e))?,
        _ => builder.with_no_client_auth(),
    };
    let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let name = ServerName::try_from(host.to_string())
        .map_err(|_| TlsError::ServerName(host.to_string()))?;
    Ok(Some(Backend {
        mode: cfg.mode,
        connector: TlsConnector::from(Arc::new(config)),
        name,
    }))
}

/// The server-certificate check of each backend mode: none (`preferred`,
/// `required`: encryption against passive eavesdropping only, as MySQL's
/// `--ssl-mode=REQUIRED`), the chain (`verify_ca`), chain and name
/// (`verify_identity`). Signatures on the handshake are always checked.
#[derive(Debug)]
struct Verifier {
    webpki: Option<Arc<WebPkiServerVerifier>>,
    check_name: bool,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(webpki) = &self.webpki else {
            return Ok(ServerCertVerified::assertion());
        };
        match webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            // verify_ca: the chain was good, only the name differs.
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !self.check_name => Ok(ServerCertVerified::assertion()),
            r => r,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
