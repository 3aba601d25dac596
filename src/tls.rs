//! TLS for clients, with rustls (no OpenSSL build): Redis's `tls-*` directives turned into
//! a rustls server configuration, rebuilt when `CONFIG SET` changes one so new connections
//! use the new certificate while established ones keep theirs.
//!
//! With `tls-replication yes` a replica reaches its primary over TLS as a client: it trusts
//! the CA of `tls-ca-cert-file`/`tls-ca-cert-dir` and presents `tls-client-cert-file` (or,
//! when that is empty, `tls-cert-file`), as Redis does. Like Redis (OpenSSL verifying the
//! chain only), it does not require the primary's certificate to name the host it dialled.
//!
//! Honoured: `tls-port`, `tls-cert-file`, `tls-key-file`, `tls-ca-cert-file`,
//! `tls-ca-cert-dir`, `tls-auth-clients yes|no|optional` (Redis's default `yes`: a client
//! must present a certificate signed by the CA), `tls-protocols` (`TLSv1.2`, `TLSv1.3`),
//! `tls-ciphersuites` (TLS 1.3 suite names), `tls-session-caching` and
//! `tls-session-cache-size`. rustls reads no encrypted private keys, so a non-empty
//! `tls-key-file-pass` is refused with that reason rather than ignored.
//! Depends on the config store and rustls.

use std::sync::Arc;

use arc_swap::ArcSwapOption;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use tokio_rustls::TlsAcceptor;

use crate::config::ConfigStore;

/// The directives that rebuild the TLS configuration when set.
pub const DIRECTIVES: &[&str] = &[
    "tls-cert-file",
    "tls-key-file",
    "tls-key-file-pass",
    "tls-ca-cert-file",
    "tls-ca-cert-dir",
    "tls-auth-clients",
    "tls-protocols",
    "tls-ciphersuites",
    "tls-session-caching",
    "tls-session-cache-size",
];

/// The acceptor new TLS connections use (`None` until TLS is configured).
#[derive(Default)]
pub struct Tls {
    acceptor: ArcSwapOption<TlsAcceptor>,
}

impl Tls {
    pub fn acceptor(&self) -> Option<Arc<TlsAcceptor>> {
        self.acceptor.load_full()
    }

    /// Builds the configuration from the directives and installs it; on error the
    /// previous one stays in use.
    pub fn reload(&self, config: &ConfigStore) -> Result<(), String> {
        let built = server_config(config)?;
        self.acceptor
            .store(Some(Arc::new(TlsAcceptor::from(Arc::new(built)))));
        Ok(())
    }
}

fn read_certs(path: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("cannot read certificate file {path}: {e}"))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("bad certificate in {path}: {e}"))?;
    if certs.is_empty() {
        return Err(format!("no certificate found in {path}"));
    }
    Ok(certs)
}

fn roots(config: &ConfigStore) -> Result<Option<RootCertStore>, String> {
    let file = config.get("tls-ca-cert-file");
    let dir = config.get("tls-ca-cert-dir");
    if file.is_empty() && dir.is_empty() {
        return Ok(None);
    }
    let mut store = RootCertStore::empty();
    let mut add = |certs: Vec<CertificateDer<'static>>, from: &str| -> Result<(), String> {
        for cert in certs {
            store
                .add(cert)
                .map_err(|e| format!("bad CA certificate in {from}: {e}"))?;
        }
        Ok(())
    };
    if !file.is_empty() {
        add(read_certs(&file)?, &file)?;
    }
    if !dir.is_empty() {
        let entries = std::fs::read_dir(&dir)
            .map_err(|e| format!("cannot read tls-ca-cert-dir {dir}: {e}"))?;
        for entry in entries.flatten() {
            let path = entry.path();
            // A CA directory also holds hash links and other files: take what parses.
            if let Ok(certs) = read_certs(&path.to_string_lossy()) {
                add(certs, &path.to_string_lossy())?;
            }
        }
    }
    Ok(Some(store))
}

fn protocol_versions(
    config: &ConfigStore,
) -> Result<Vec<&'static rustls::SupportedProtocolVersion>, String> {
    let text = config.get("tls-protocols");
    if text.trim().is_empty() {
        return Ok(vec![&rustls::version::TLS13, &rustls::version::TLS12]);
    }
    let mut versions = Vec::new();
    for name in text.split_whitespace() {
        match name.to_ascii_lowercase().as_str() {
            "tlsv1.2" => versions.push(&rustls::version::TLS12),
            "tlsv1.3" => versions.push(&rustls::version::TLS13),
            _ => {
                return Err(format!(
                    "tls-protocols: {name} is not supported (TLSv1.2 and TLSv1.3 are)"
                ))
            }
        }
    }
    Ok(versions)
}

/// The crypto provider, with the TLS 1.3 suites `tls-ciphersuites` names (IANA names,
/// `TLS_AES_256_GCM_SHA384:...`, as OpenSSL's TLS 1.3 list) first and only those.
fn provider(config: &ConfigStore) -> Result<rustls::crypto::CryptoProvider, String> {
    let mut provider = rustls::crypto::ring::default_provider();
    let wanted = config.get("tls-ciphersuites");
    if wanted.trim().is_empty() {
        return Ok(provider);
    }
    let mut suites = Vec::new();
    for name in wanted.split(':').map(str::trim).filter(|n| !n.is_empty()) {
        let rustls_name = name.replacen("TLS_", "TLS13_", 1);
        let suite = provider
            .cipher_suites
            .iter()
            .find(|s| format!("{:?}", s.suite()) == rustls_name)
            .ok_or_else(|| format!("tls-ciphersuites: unknown suite {name}"))?;
        suites.push(*suite);
    }
    // TLS 1.2 suites stay available unless the protocols exclude TLS 1.2.
    suites.extend(
        provider
            .cipher_suites
            .iter()
            .filter(|s| s.version() == &rustls::version::TLS12),
    );
    provider.cipher_suites = suites;
    Ok(provider)
}

fn server_config(config: &ConfigStore) -> Result<ServerConfig, String> {
    let cert_file = config.get("tls-cert-file");
    let key_file = config.get("tls-key-file");
    if cert_file.is_empty() || key_file.is_empty() {
        return Err("tls-cert-file and tls-key-file must be set to use TLS".into());
    }
    if !config.get("tls-key-file-pass").is_empty() {
        return Err(
            "encrypted private keys are not supported (rustls); decrypt the key (openssl pkey) \
             and leave tls-key-file-pass empty"
                .into(),
        );
    }
    let certs = read_certs(&cert_file)?;
    let key = PrivateKeyDer::from_pem_file(&key_file)
        .map_err(|e| format!("cannot read private key {key_file}: {e}"))?;
    let provider = Arc::new(provider(config)?);
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&protocol_versions(config)?)
        .map_err(|e| format!("TLS configuration: {e}"))?;
    let auth = config.get("tls-auth-clients");
    let builder = match (auth.as_str(), roots(config)?) {
        ("no", _) => builder.with_no_client_auth(),
        (_, None) => {
            return Err(
                "Either tls-ca-cert-file or tls-ca-cert-dir must be specified when \
                        tls-cluster, tls-replication or tls-auth-clients are enabled!"
                    .into(),
            )
        }
        (mode, Some(store)) => {
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(store), provider);
            let verifier = if mode == "optional" {
                verifier.allow_unauthenticated()
            } else {
                verifier
            };
            builder.with_client_cert_verifier(
                verifier
                    .build()
                    .map_err(|e| format!("TLS client verification: {e}"))?,
            )
        }
    };
    let mut server = builder
        .with_single_cert(certs, key)
        .map_err(|e| format!("tls-cert-file/tls-key-file: {e}"))?;
    if config.get_bool("tls-session-caching") {
        let size = config.get_int("tls-session-cache-size").max(1) as usize;
        server.session_storage = rustls::server::ServerSessionMemoryCache::new(size);
    } else {
        server.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
    }
    Ok(server)
}

/// Accepts a server certificate whose chain verifies whatever name it carries: Redis's
/// replicas check the chain against the CA and not the host name, and a primary is often
/// dialled by an IP address its certificate does not list.
#[derive(Debug)]
struct ChainOnly(Arc<rustls::client::WebPkiServerVerifier>);

impl rustls::client::danger::ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &rustls::pki_types::ServerName<'_>,
        ocsp_response: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForName
                | rustls::CertificateError::NotValidForNameContext { .. },
            )) => Ok(rustls::client::danger::ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// The TLS client a replica dials its primary with (`tls-replication yes`).
pub fn replication_connector(config: &ConfigStore) -> Result<tokio_rustls::TlsConnector, String> {
    let roots = roots(config)?.ok_or_else(|| {
        "tls-replication needs tls-ca-cert-file or tls-ca-cert-dir to verify the primary"
            .to_string()
    })?;
    let provider = Arc::new(provider(config)?);
    let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .map_err(|e| format!("TLS server verification: {e}"))?;
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&protocol_versions(config)?)
        .map_err(|e| format!("TLS configuration: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(ChainOnly(verifier)));
    let (cert_file, key_file) = match config.get("tls-client-cert-file") {
        file if !file.is_empty() => (file, config.get("tls-client-key-file")),
        _ => (config.get("tls-cert-file"), config.get("tls-key-file")),
    };
    let client = if cert_file.is_empty() {
        builder.with_no_client_auth()
    } else {
        if !config.get("tls-client-key-file-pass").is_empty() {
            return Err("encrypted private keys are not supported (rustls)".into());
        }
        let key = PrivateKeyDer::from_pem_file(&key_file)
            .map_err(|e| format!("cannot read private key {key_file}: {e}"))?;
        builder
            .with_client_auth_cert(read_certs(&cert_file)?, key)
            .map_err(|e| format!("TLS client certificate: {e}"))?
    };
    Ok(tokio_rustls::TlsConnector::from(Arc::new(client)))
}

/// The name a replica sends and checks for its primary: the host as dialled.
pub fn server_name(host: &str) -> Result<rustls::pki_types::ServerName<'static>, String> {
    rustls::pki_types::ServerName::try_from(host.to_string())
        .map_err(|e| format!("primary host {host} is not a TLS server name: {e}"))
}
