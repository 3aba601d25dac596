//! TLS: Strata's `tls-port` with certificates generated here at run time (rcgen; nothing
//! secret is committed). The real `redis-cli --tls` connects, mutual TLS refuses a client
//! without a certificate, `CONFIG SET tls-cert-file` switches new connections to a new
//! certificate while an established one keeps working, and a certificate that does not
//! load leaves the old configuration in place.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

use crate::harness::{Server, V};

/// A CA and a certificate it signed (for the server or a client), as PEM files.
struct Pki {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// A fresh CA named `name`, with a server certificate (localhost, 127.0.0.1) and a client
/// certificate signed by it.
fn make_pki(dir: &Path, name: &str) -> (Pki, Pki) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, format!("{name} CA"));
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let ca_path = write(dir, &format!("{name}-ca.crt"), &ca.pem());
    let issue = |file: &str, sans: Vec<String>, usage: ExtendedKeyUsagePurpose| {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(sans).unwrap();
        params.distinguished_name.push(DnType::CommonName, file);
        params.extended_key_usages = vec![usage];
        let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
        Pki {
            ca: ca_path.clone(),
            cert: write(dir, &format!("{name}-{file}.crt"), &cert.pem()),
            key: write(dir, &format!("{name}-{file}.key"), &key.serialize_pem()),
        }
    };
    let server = issue(
        "server",
        vec!["localhost".into(), "127.0.0.1".into()],
        ExtendedKeyUsagePurpose::ServerAuth,
    );
    let client = issue("client", vec![], ExtendedKeyUsagePurpose::ClientAuth);
    (server, client)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `redis-cli --tls ... PING`'s output, or `None` when it could not talk to the server.
fn redis_cli_ping(port: u16, ca: &Path, client: Option<&Pki>) -> Option<String> {
    let mut cmd = Command::new("redis-cli");
    cmd.args(["--tls", "-p", &port.to_string(), "--cacert"])
        .arg(ca);
    if let Some(c) = client {
        cmd.arg("--cert").arg(&c.cert).arg("--key").arg(&c.key);
    }
    let out = cmd
        .arg("PING")
        .output()
        .expect("redis-cli is installed by the set-up");
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && text == "PONG").then_some(text)
}

type TlsClient = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

/// A Rust TLS client trusting `ca`, presenting `client` if given.
fn tls_connect(port: u16, ca: &Path, client: Option<&Pki>) -> std::io::Result<TlsClient> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = match client {
        Some(c) => builder
            .with_client_auth_cert(
                CertificateDer::pem_file_iter(&c.cert)
                    .unwrap()
                    .map(Result::unwrap)
                    .collect(),
                PrivateKeyDer::from_pem_file(&c.key).unwrap(),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    let name = ServerName::try_from("localhost").unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let sock = TcpStream::connect(("127.0.0.1", port))?;
    sock.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut stream = rustls::StreamOwned::new(conn, sock);
    // Completes the handshake (and, in TLS 1.3, learns of a refused client certificate).
    ping(&mut stream)?;
    Ok(stream)
}

fn ping(stream: &mut TlsClient) -> std::io::Result<()> {
    stream.write_all(b"PING\r\n")?;
    let mut reply = [0u8; 7];
    stream.read_exact(&mut reply)?;
    if &reply == b"+PONG\r\n" {
        Ok(())
    } else {
        Err(std::io::Error::other(format!("unexpected reply {reply:?}")))
    }
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn tls_clients_mutual_auth_and_certificate_reload() {
    let tmp = tempfile::tempdir().unwrap();
    let (server_a, client_a) = make_pki(tmp.path(), "a");
    let (server_b, client_b) = make_pki(tmp.path(), "b");
    // Both ports named: `port 0` beside a TLS port would mean TLS only, as in Redis.
    let port = free_port();
    let conf = write(
        tmp.path(),
        "tls.conf",
        &format!(
            "port {}\nbind 127.0.0.1\ntls-port {port}\ntls-cert-file {}\ntls-key-file {}\n\
             tls-ca-cert-file {}\n",
            free_port(),
            path(&server_a.cert),
            path(&server_a.key),
            path(&server_a.ca)
        ),
    );
    let server = Server::start_with(&["--config", path(&conf)]);
    let mut admin = server.raw();

    // redis-cli with a client certificate; the plain port keeps working beside it.
    assert!(redis_cli_ping(port, &server_a.ca, Some(&client_a)).is_some());
    assert_eq!(admin.cmd(&["PING"]), V::Status("PONG".into()));
    // tls-auth-clients yes (the default): no certificate, no service.
    assert!(redis_cli_ping(port, &server_a.ca, None).is_none());
    assert!(tls_connect(port, &server_a.ca, None).is_err());
    // A certificate from another CA is refused too.
    assert!(tls_connect(port, &server_a.ca, Some(&client_b)).is_err());
    admin.cmd(&["CONFIG", "SET", "tls-auth-clients", "optional"]);
    assert!(redis_cli_ping(port, &server_a.ca, None).is_some());

    // A new certificate applies to new connections; an open one stays up.
    let mut open = tls_connect(port, &server_a.ca, Some(&client_a)).unwrap();
    assert_eq!(
        admin.cmd(&[
            "CONFIG",
            "SET",
            "tls-cert-file",
            path(&server_b.cert),
            "tls-key-file",
            path(&server_b.key),
        ]),
        V::Status("OK".into())
    );
    assert!(tls_connect(port, &server_b.ca, None).is_ok());
    assert!(
        tls_connect(port, &server_a.ca, None).is_err(),
        "old certificate still served"
    );
    ping(&mut open).expect("an established TLS connection survives the reload");

    // A certificate that does not load is refused and changes nothing.
    let err = admin.err(&["CONFIG", "SET", "tls-cert-file", "/nonexistent/cert.pem"]);
    assert!(err.contains("Unable to update TLS configuration"), "{err}");
    assert_eq!(
        admin.cmd(&["CONFIG", "GET", "tls-cert-file"]),
        V::Array(vec![
            V::bulk("tls-cert-file"),
            V::bulk(path(&server_b.cert))
        ])
    );
    assert!(tls_connect(port, &server_b.ca, None).is_ok());
}

#[test]
fn tls_only_and_bad_tls_settings_at_start_up() {
    let tmp = tempfile::tempdir().unwrap();
    let (server_pki, client) = make_pki(tmp.path(), "c");
    // `port 0` with a TLS port: TLS only.
    let port = free_port();
    let conf = write(
        tmp.path(),
        "tls-only.conf",
        &format!(
            "port 0\nbind 127.0.0.1\ntls-port {port}\ntls-cert-file {}\ntls-key-file {}\n\
             tls-ca-cert-file {}\n",
            path(&server_pki.cert),
            path(&server_pki.key),
            path(&server_pki.ca)
        ),
    );
    let server = Server::start_with(&["--config", path(&conf)]);
    assert!(
        server.addr.ends_with(&format!(":{port}")),
        "{}",
        server.addr
    );
    assert!(redis_cli_ping(port, &server_pki.ca, Some(&client)).is_some());
    drop(server);

    // A TLS port without a certificate stops start-up with the reason.
    let out = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args([
            "server",
            "--port",
            "0",
            "--tls-port",
            &free_port().to_string(),
        ])
        .arg("--dir")
        .arg(tmp.path().join("data2"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("tls-cert-file and tls-key-file must be set"),
        "{err}"
    );
}

#[test]
fn a_replica_follows_its_primary_over_tls() {
    let tmp = tempfile::tempdir().unwrap();
    let (server_pki, client) = make_pki(tmp.path(), "r");
    let tls_port = free_port();
    let primary_conf = write(
        tmp.path(),
        "primary.conf",
        &format!(
            "port {}\nbind 127.0.0.1\ntls-port {tls_port}\ntls-cert-file {}\ntls-key-file {}\n\
             tls-ca-cert-file {}\n",
            free_port(),
            path(&server_pki.cert),
            path(&server_pki.key),
            path(&server_pki.ca)
        ),
    );
    let primary = Server::start_with(&["--config", path(&primary_conf)]);
    // The replica dials the primary's TLS port by IP (its certificate names localhost too,
    // but as in Redis only the chain is checked) and presents a client certificate.
    let replica = Server::start_with(&[
        "--tls-replication",
        "yes",
        "--tls-ca-cert-file",
        path(&server_pki.ca),
        "--tls-client-cert-file",
        path(&client.cert),
        "--tls-client-key-file",
        path(&client.key),
    ]);
    let mut p = primary.raw();
    let mut r = replica.raw();
    p.cmd(&["SET", "before", "1"]);
    assert_eq!(
        r.cmd(&["REPLICAOF", "127.0.0.1", &tls_port.to_string()]),
        V::Status("OK".into())
    );
    crate::harness::eventually("the TLS link is up", Duration::from_secs(60), || {
        r.cmd(&["INFO", "replication"])
            .text()
            .contains("master_link_status:up")
    });
    p.cmd(&["SET", "after", "2"]);
    crate::harness::eventually("the replica has both keys", Duration::from_secs(60), || {
        r.cmd(&["MGET", "before", "after"]) == V::Array(vec![V::bulk("1"), V::bulk("2")])
    });
    assert_eq!(
        p.cmd(&["WAIT", "1", "5000"]),
        V::Int(1),
        "the replica acknowledges over TLS"
    );
}
