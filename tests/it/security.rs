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

/// The server's resident memory.
fn rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// A subscriber to `channel` that never reads again after its subscription is confirmed.
fn stalled_subscriber(addr: &str, channel: &str) -> TcpStream {
    stalled_subscriber_after(addr, channel, None)
}

/// [`stalled_subscriber`], sending one inline command (answered `+OK`) first.
fn stalled_subscriber_after(addr: &str, channel: &str, first: Option<&str>) -> TcpStream {
    let mut sub = TcpStream::connect(addr).unwrap();
    sub.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    if let Some(command) = first {
        sub.write_all(format!("{command}\r\n").as_bytes()).unwrap();
        let mut ok = [0u8; 5];
        sub.read_exact(&mut ok).unwrap();
        assert_eq!(&ok, b"+OK\r\n", "{command}");
    }
    sub.write_all(format!("SUBSCRIBE {channel}\r\n").as_bytes())
        .unwrap();
    let mut confirm = [0u8; 256];
    let n = sub.read(&mut confirm).unwrap();
    assert!(String::from_utf8_lossy(&confirm[..n]).contains("subscribe"));
    sub
}

/// Publishes `count` messages of `size` bytes to `channel`, 32 per pipelined batch; calls
/// `each_batch` with the replies (receiver counts) of every batch.
fn publish_many(
    publisher: &mut crate::harness::Raw,
    channel: &str,
    size: usize,
    count: usize,
    mut each_batch: impl FnMut(&[i64]) -> bool,
) {
    let payload = vec![b'x'; size];
    let frame = crate::harness::Raw::encode(&[b"PUBLISH", channel.as_bytes(), &payload]);
    let mut sent = 0;
    while sent < count {
        let batch = 32.min(count - sent);
        publisher.send_bytes(&frame.repeat(batch));
        let replies: Vec<i64> = (0..batch)
            .map(|_| match publisher.read() {
                V::Int(n) => n,
                other => panic!("PUBLISH answered {other:?}"),
            })
            .collect();
        sent += batch;
        if !each_batch(&replies) {
            return;
        }
    }
}

#[test]
fn a_stalled_subscriber_is_cut_off_at_its_output_buffer_limit() {
    let server = Server::start();
    let pid = server.pid().unwrap();
    let mut admin = server.raw();
    admin.cmd(&[
        "CONFIG",
        "SET",
        "client-output-buffer-limit",
        "pubsub 8mb 2mb 60",
    ]);
    let mut sub = stalled_subscriber(&server.addr, "firehose");
    let mut publisher = server.raw();
    let before = rss_bytes(pid);
    let mut peak = before;
    let mut delivered = 0i64;
    // 1 GiB at a subscriber that reads nothing.
    publish_many(
        &mut publisher,
        "firehose",
        64 * 1024,
        16 * 1024,
        |replies| {
            delivered += replies.iter().sum::<i64>();
            peak = peak.max(rss_bytes(pid));
            true
        },
    );
    let limit = 8u64 << 20;
    eprintln!(
        "1 GiB published: {delivered} messages queued for the stalled subscriber, server RSS \
         {} -> peak {} MiB",
        before >> 20,
        peak >> 20
    );
    // The queue stops at the limit; the rest is the server's fixed overhead (the
    // publisher's pipelined requests, allocator caches), not a function of the 1 GiB.
    let fixed_bound = 96u64 << 20;
    assert!(
        peak.saturating_sub(before) < limit + fixed_bound,
        "RSS grew {} MiB while 1 GiB was published at a stalled subscriber",
        peak.saturating_sub(before) >> 20
    );
    assert!(
        (delivered as u64) * 64 * 1024 < 4 * limit,
        "{delivered} messages were queued before the cut-off"
    );
    // The subscriber was disconnected: draining its socket ends in EOF.
    let mut drained = 0u64;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match sub.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => drained += n as u64,
            Err(e) => panic!("the stalled subscriber was not disconnected: {e}"),
        }
    }
    assert!(
        drained < 4 * limit,
        "{drained} bytes reached the subscriber"
    );
    let clients = admin.cmd(&["CLIENT", "LIST"]).text();
    assert!(!clients.contains("cmd=subscribe"), "{clients}");
}

#[test]
fn a_subscriber_over_its_soft_limit_for_too_long_is_cut_off() {
    let server = Server::start();
    let mut admin = server.raw();
    admin.cmd(&[
        "CONFIG",
        "SET",
        "client-output-buffer-limit",
        "pubsub 0 1mb 1",
    ]);
    let mut sub = stalled_subscriber(&server.addr, "slow");
    let mut publisher = server.raw();
    let started = std::time::Instant::now();
    let mut cut_off = false;
    // Keeps the subscriber over 1 MiB (a hard limit of 0 never triggers) until the soft
    // limit's second has passed and it is closed. The publisher is paced (128 KiB per
    // 20 ms) so that second does not queue hundreds of megabytes.
    publish_many(&mut publisher, "slow", 4 * 1024, usize::MAX, |replies| {
        cut_off = replies.contains(&0);
        std::thread::sleep(Duration::from_millis(20));
        !cut_off && started.elapsed() < Duration::from_secs(60)
    });
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "cut off before the soft limit's second"
    );
    assert!(cut_off, "the subscriber was never cut off");
    let mut buf = vec![0u8; 1 << 16];
    while matches!(sub.read(&mut buf), Ok(n) if n > 0) {}
}

#[test]
fn maxmemory_clients_closes_the_stalled_reader_but_not_a_no_evict_one() {
    let server = Server::start();
    let mut admin = server.raw();
    admin.cmd(&[
        "CONFIG",
        "SET",
        "client-output-buffer-limit",
        "pubsub 0 0 0",
    ]);
    admin.cmd(&["CONFIG", "SET", "maxmemory-clients", "4mb"]);
    let _kept = stalled_subscriber_after(&server.addr, "wide", Some("CLIENT NO-EVICT on"));
    let _evicted = stalled_subscriber(&server.addr, "wide");
    let mut publisher = server.raw();
    let mut receivers = Vec::new();
    publish_many(&mut publisher, "wide", 64 * 1024, 1024, |replies| {
        receivers.extend_from_slice(replies);
        !replies.contains(&1)
    });
    assert!(receivers.contains(&1), "nobody was evicted: {receivers:?}");
    // The evicted connection closes asynchronously after its kill: poll for it.
    let mut clients = String::new();
    eventually(
        "the evicted subscriber is gone",
        Duration::from_secs(30),
        || {
            clients = admin.cmd(&["CLIENT", "LIST"]).text();
            clients.lines().filter(|l| l.contains("sub=1")).count() == 1
        },
    );
    let subscribers: Vec<&str> = clients.lines().filter(|l| l.contains("sub=1")).collect();
    assert!(
        subscribers[0].contains("flags=Pe"),
        "the no-evict subscriber stays: {clients}"
    );
}

#[test]
fn a_reply_past_the_normal_output_limit_closes_the_client_unsent_as_in_redis() {
    let server = Server::start();
    let mut admin = server.raw();
    admin.cmd(&[
        "CONFIG",
        "SET",
        "client-output-buffer-limit",
        "normal 1mb 0 0",
    ]);
    let big = "x".repeat(2_000_000);
    admin.cmd(&["SET", "big", &big]);
    let mut reader = TcpStream::connect(&server.addr).unwrap();
    reader
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    reader.write_all(b"GET big\r\n").unwrap();
    let mut received = 0;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => received += n,
            Err(e) => panic!("the client was not closed: {e}"),
        }
    }
    assert_eq!(
        received, 0,
        "redis-server closes it without sending the reply"
    );
    // Small replies still flow, and the limit is per client.
    assert_eq!(admin.cmd(&["STRLEN", "big"]), V::Int(2_000_000));
}
