//! The engine's own connections: the backend account, TLS, and what each
//! connection runs when it opens (session settings, the instance's mark).

use mysql_async::{Opts, OptsBuilder, PoolConstraints, PoolOpts};

use super::store;
use crate::config::Config;

/// The engine's own backend account. Each engine connection: utf8mb4 in,
/// raw bytes out (key values come back exactly as stored), UTC, READ
/// COMMITTED (the copy takes no locks on the original), zero dates allowed
/// and zero kept as a value in AUTO_INCREMENT columns (so rows copy as they are).
pub(super) fn engine_opts(config: &Config, instance: &str) -> Opts {
    let (host, port) = config
        .backend
        .addr
        .rsplit_once(':')
        .map(|(h, p)| (h.to_string(), p.parse().unwrap_or(3306)))
        .unwrap_or_else(|| (config.backend.addr.clone(), 3306));
    let setup = engine_setup(
        instance,
        &[
            "SET SESSION time_zone = '+00:00'".to_string(),
            "SET SESSION sql_mode = CONCAT_WS(',', NULLIF(TRIM(BOTH ',' FROM \
         REPLACE(REPLACE(CONCAT(',', @@session.sql_mode, ','), ',NO_ZERO_IN_DATE,', ','), \
         ',NO_ZERO_DATE,', ',')), ''), 'NO_AUTO_VALUE_ON_ZERO')"
                .to_string(),
        ],
    );
    let constraints = PoolConstraints::new(0, 64).expect("0 <= 64");
    OptsBuilder::default()
        .ip_or_hostname(host)
        .tcp_port(port)
        .user(Some(config.backend.user.clone()))
        .pass(
            config
                .backend
                .password
                .as_ref()
                .map(|p| p.expose().to_string()),
        )
        .prefer_socket(false)
        .ssl_opts(engine_ssl_opts(&config.backend.tls))
        .setup(setup)
        .pool_opts(PoolOpts::default().with_constraints(constraints))
        .wait_timeout(Some(28_800))
        .into()
}

/// `[backend.tls]` for the engine's own connections (admin, binlog, copy),
/// checked as for the relayed sessions. mysql_async cannot fall back to
/// plain text, so `preferred` is `required` here.
fn engine_ssl_opts(tls: &crate::config::BackendTls) -> Option<mysql_async::SslOpts> {
    use crate::config::BackendTlsMode as Mode;
    let path = |p: &std::path::PathBuf| p.clone().into();
    let opts = mysql_async::SslOpts::default()
        // Only the configured CA, as for the relayed sessions.
        .with_disable_built_in_roots(true)
        .with_root_certs(tls.ca.iter().map(path).collect())
        .with_client_identity(
            tls.cert
                .as_ref()
                .zip(tls.key.as_ref())
                .map(|(c, k)| mysql_async::ClientIdentity::new(path(c), path(k))),
        );
    match tls.mode {
        Mode::Off => None,
        Mode::Preferred | Mode::Required => Some(opts.with_danger_accept_invalid_certs(true)),
        Mode::VerifyCa => Some(opts.with_danger_skip_domain_validation(true)),
        Mode::VerifyIdentity => Some(opts),
    }
}

/// Every engine connection: utf8mb4 in, raw bytes out, READ COMMITTED,
/// marked as this instance's (`store::mark_connection`), then `extra`
/// (time zone and SQL mode).
fn engine_setup(instance: &str, extra: &[String]) -> Vec<String> {
    let mut setup = vec![
        "SET NAMES utf8mb4".to_string(),
        "SET character_set_results = binary".to_string(),
        "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED".to_string(),
        store::mark_connection(instance),
    ];
    setup.extend_from_slice(extra);
    setup
}

/// Options for one migration's copy, replay and checksum connections: the
/// engine's, in UTC with the conversion SQL mode (see
/// `ClientSession::copy_setup`). `None` when the captured values are not of
/// a plain shape.
pub(crate) fn migration_opts(
    base: &Opts,
    instance: &str,
    session: &super::client_session::ClientSession,
    keep_zero_ids: bool,
) -> Option<Opts> {
    let setup = engine_setup(instance, &session.copy_setup(keep_zero_ids)?);
    let constraints = PoolConstraints::new(0, 64).expect("0 <= 64");
    Some(
        OptsBuilder::from_opts(base.clone())
            .setup(setup)
            .pool_opts(PoolOpts::default().with_constraints(constraints))
            .into(),
    )
}
