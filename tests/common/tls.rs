//! TLS for the tests: a CA, a server certificate (for 127.0.0.1 and
//! localhost) and a client certificate made once per test binary with
//! rcgen, plus a second CA nothing is signed by (for the wrong-CA cases).
//! `server()` starts this binary's MariaDB with them (MySQL makes its own
//! at initialisation and has TLS on by default: its CA is read from its
//! data directory).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};

/// Set before the server starts: MariaDB gets `--ssl-*` options.
pub(crate) static WANTED: AtomicBool = AtomicBool::new(false);

pub struct Certs {
    pub dir: PathBuf,
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    /// A CA that signed nothing here.
    pub other_ca: PathBuf,
    _dir: tempfile::TempDir,
}

static CERTS: OnceLock<Certs> = OnceLock::new();

/// This binary's certificates (made on first use).
pub fn certs() -> &'static Certs {
    CERTS.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("ghostwire-certs-")
            .tempdir()
            .unwrap();
        let d = dir.path().to_path_buf();
        let write = |name: &str, pem: String| {
            let p = d.join(name);
            std::fs::write(&p, pem).unwrap();
            p
        };
        let ca_of = |cn: &str| {
            let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
            p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            p.distinguished_name.push(DnType::CommonName, cn);
            let key = KeyPair::generate().unwrap();
            let cert = p.self_signed(&key).unwrap();
            (cert, key)
        };
        let (ca, ca_key) = ca_of("ghostwire test CA");
        let (other, _) = ca_of("ghostwire unrelated CA");
        let leaf = |names: Vec<String>, cn: &str| {
            let mut p = CertificateParams::new(names).unwrap();
            p.distinguished_name.push(DnType::CommonName, cn);
            let key = KeyPair::generate().unwrap();
            let cert = p.signed_by(&key, &ca, &ca_key).unwrap();
            (cert.pem(), key.serialize_pem())
        };
        let (server_cert, server_key) =
            leaf(vec!["127.0.0.1".into(), "localhost".into()], "test server");
        let (client_cert, client_key) = leaf(vec![], "ghostwire");
        Certs {
            ca: write("ca.pem", ca.pem()),
            other_ca: write("other-ca.pem", other.pem()),
            server_cert: write("server-cert.pem", server_cert),
            server_key: write("server-key.pem", server_key),
            client_cert: write("client-cert.pem", client_cert),
            client_key: write("client-key.pem", client_key),
            dir: d,
            _dir: dir,
        }
    })
}

/// This binary's server, with TLS on.
pub fn server() -> &'static super::Server {
    WANTED.store(true, Ordering::Relaxed);
    super::server()
}

/// `mariadbd` options serving TLS with `certs()`, when wanted.
pub(crate) fn mariadbd_args() -> String {
    if !WANTED.load(Ordering::Relaxed) {
        return String::new();
    }
    let c = certs();
    format!(
        " --ssl-ca={} --ssl-cert={} --ssl-key={}",
        c.ca.display(),
        c.server_cert.display(),
        c.server_key.display()
    )
}

/// The CA that signed the server's certificate: ours for MariaDB, the one
/// MySQL generated in its data directory (inside scripts/mysql-up.sh's
/// root filesystem) for MySQL.
pub fn server_ca() -> PathBuf {
    let s = server();
    if super::is_mysql() {
        PathBuf::from(format!(
            "/var/tmp/ghostwire-mysql-rootfs/var/lib/ghostwire-{}/ca.pem",
            s.port
        ))
    } else {
        certs().ca.clone()
    }
}
