//! Exposure: protected mode refuses non-loopback clients while the default user has no
//! password, with redis-server 7's exact text, and lets them in once a password is set or
//! protected mode is off. The machine's own non-loopback address stands in for a remote
//! client; without one the test is skipped.

use std::io::{Read, Write};
use std::net::{IpAddr, TcpStream, UdpSocket};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::harness::{eventually, Server, V};

/// An address of this machine that is not loopback (a UDP "connect" sends nothing).
fn non_loopback_ip() -> Option<IpAddr> {
    let socket = UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("192.0.2.1:9").ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

/// The first reply line a server sends to a PING from `addr` (or what it sent before
/// closing).
fn first_reply(addr: &str) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let _ = stream.write_all(b"PING\r\n");
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while !out.ends_with(b"\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// redis-server's refusal for a non-loopback client, as that server words it.
fn redis_refusal(ip: IpAddr) -> Option<String> {
    let dir = tempfile::tempdir().ok()?;
    let port = free_port();
    let mut child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "*", "--save", ""])
        .arg("--dir")
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    eventually("redis-server listening", Duration::from_secs(30), || {
        TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    let reply = first_reply(&format!("{ip}:{port}"));
    let _ = child.kill();
    let _ = child.wait();
    Some(reply)
}

/// A Strata listening on loopback and on `ip` (a config file: `--bind` is given once).
fn start_on(ip: IpAddr) -> (Server, tempfile::TempDir) {
    let conf_dir = tempfile::tempdir().unwrap();
    let conf = conf_dir.path().join("strata.conf");
    std::fs::write(&conf, format!("port 0\nbind 127.0.0.1 {ip}\n")).unwrap();
    let server = Server::start_with(&["--config", conf.to_str().unwrap()]);
    (server, conf_dir)
}

#[test]
fn protected_mode_refuses_remote_clients_without_a_password() {
    let Some(ip) = non_loopback_ip() else {
        eprintln!("no non-loopback address; protected mode test skipped");
        return;
    };
    let (server, _conf) = start_on(ip);
    let port = server.addr.rsplit(':').next().unwrap().to_string();
    let remote = format!("{ip}:{port}");
    let refusal = first_reply(&remote);
    assert!(
        refusal.starts_with("-DENIED Redis is running in protected mode"),
        "{refusal}"
    );
    if let Some(expected) = redis_refusal(ip) {
        assert_eq!(refusal, expected, "the refusal must be redis-server's text");
    }
    // Loopback clients are served as always.
    let mut local = server.raw();
    assert_eq!(local.cmd(&["PING"]), V::Status("PONG".into()));
    // With a password the remote client gets in (and must authenticate).
    local.cmd(&["CONFIG", "SET", "requirepass", "s3cret"]);
    assert!(first_reply(&remote).starts_with("-NOAUTH"), "password set");
    local.cmd(&["AUTH", "s3cret"]);
    local.cmd(&["CONFIG", "SET", "requirepass", ""]);
    assert!(first_reply(&remote).starts_with("-DENIED"));
    // Turning protected mode off opens the door.
    local.cmd(&["CONFIG", "SET", "protected-mode", "no"]);
    assert_eq!(first_reply(&remote), "+PONG\r\n");
    let rejected = local.cmd(&["INFO", "stats"]).text();
    assert!(rejected.contains("rejected_connections:2"), "{rejected}");
}

#[test]
fn a_password_less_server_on_a_public_address_warns_at_start_up() {
    let Some(ip) = non_loopback_ip() else {
        return;
    };
    let (server, _conf) = start_on(ip);
    let mut warned = false;
    eventually("the start-up warning", Duration::from_secs(10), || {
        warned |= server
            .drain_log()
            .iter()
            .any(|l| l.contains("non-loopback address while the default user has no password"));
        warned
    });
}
