//! Crash-consistency: concurrent writers, `kill -9` mid-load, restart, count what survived.
//! Under `appendfsync always` nothing acknowledged may be lost. Under `everysec` the WAL is
//! handed to the OS before each reply, so a process crash (the OS survives) loses nothing
//! either; only a machine crash could lose up to about a second, which a test cannot cause.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::harness::{eventually, Raw, Server, V};

const WRITERS: usize = 4;

/// Runs writers until the server dies; returns per-writer acknowledged counts.
fn load_then_kill(server: &mut Server, round: usize) -> Vec<u64> {
    let acked: Arc<Vec<AtomicU64>> = Arc::new((0..WRITERS).map(|_| AtomicU64::new(0)).collect());
    let stop = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    for w in 0..WRITERS {
        let (addr, acked, stop) = (server.addr.clone(), acked.clone(), stop.clone());
        threads.push(std::thread::spawn(move || {
            let mut r = Raw::connect(&addr);
            let mut i = acked[w].load(Ordering::SeqCst);
            while !stop.load(Ordering::SeqCst) {
                let key = format!("r{round}:w{w}:{i}");
                let bytes: Vec<&[u8]> = vec![b"SET", key.as_bytes(), b"v"];
                r.send_bytes(&Raw::encode(&bytes));
                match r.try_read() {
                    Some(V::Status(s)) if s == "OK" => {}
                    _ => return,
                }
                i += 1;
                acked[w].store(i, Ordering::SeqCst);
            }
        }));
    }
    eventually("writers made progress", Duration::from_secs(30), || {
        acked.iter().map(|a| a.load(Ordering::SeqCst)).sum::<u64>() >= 2000
    });
    server.kill9();
    stop.store(true, Ordering::SeqCst);
    for t in threads {
        let _ = t.join();
    }
    acked.iter().map(|a| a.load(Ordering::SeqCst)).collect()
}

fn crash_rounds(fsync: &str) -> (u64, u64) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let (mut acknowledged, mut found) = (0u64, 0u64);
    for round in 0..3 {
        let mut server = Server::start_in(&dir, &["--appendfsync", fsync]);
        let acked = load_then_kill(&mut server, round);
        let server = Server::start_in(&dir, &["--appendfsync", fsync]);
        let mut r = server.raw();
        for (w, &n) in acked.iter().enumerate() {
            acknowledged += n;
            for i in 0..n {
                if r.cmd(&["EXISTS", &format!("r{round}:w{w}:{i}")]) == V::Int(1) {
                    found += 1;
                }
            }
        }
    }
    println!(
        "appendfsync {fsync}: acknowledged {acknowledged}, found {found}, lost {}",
        acknowledged - found
    );
    (acknowledged, found)
}

#[test]
fn kill_9_mid_load_loses_nothing_acknowledged_with_always() {
    let (acknowledged, found) = crash_rounds("always");
    assert!(acknowledged >= 6000);
    assert_eq!(
        found, acknowledged,
        "lost acknowledged writes under appendfsync always"
    );
}

#[test]
fn kill_9_mid_load_with_everysec_loses_nothing_the_os_received() {
    let (acknowledged, found) = crash_rounds("everysec");
    assert!(acknowledged >= 6000);
    assert_eq!(
        found, acknowledged,
        "a process crash must not lose writes already handed to the OS"
    );
}

/// Writers of the many-writer crash test; each acknowledges `n` pipelined rounds, each
/// writing `HSET h{w} f{i}`, `RPUSH l{w}`, `SET c{w}:{i}` and `INCR n{w}` in one pipeline.
const MANY_WRITERS: usize = 200;

/// 200 connections writing at once, each in pipelines of four commands of different kinds,
/// so the engine sees concurrent writers (write groups, and any coalescing of write sets
/// across connections) and pipelined runs at the same time; then `kill -9` mid-load.
fn many_writers_then_kill(server: &mut Server) -> Vec<u64> {
    let acked: Arc<Vec<AtomicU64>> =
        Arc::new((0..MANY_WRITERS).map(|_| AtomicU64::new(0)).collect());
    let stop = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    for w in 0..MANY_WRITERS {
        let (addr, acked, stop) = (server.addr.clone(), acked.clone(), stop.clone());
        threads.push(std::thread::spawn(move || {
            let mut r = Raw::connect(&addr);
            let mut i = 0u64;
            while !stop.load(Ordering::SeqCst) {
                let (set_key, hash, field) =
                    (format!("c{w}:{i}"), format!("h{w}"), format!("f{i}"));
                let (list, counter) = (format!("l{w}"), format!("n{w}"));
                // Collection writes commit on their own; the SET and INCR that end the
                // pipeline form one run, which goes through the commit queue.
                let mut pipeline = Raw::encode(&[b"HSET", hash.as_bytes(), field.as_bytes(), b"v"]);
                pipeline.extend(Raw::encode(&[b"RPUSH", list.as_bytes(), field.as_bytes()]));
                pipeline.extend(Raw::encode(&[b"SET", set_key.as_bytes(), b"v"]));
                pipeline.extend(Raw::encode(&[b"INCR", counter.as_bytes()]));
                r.send_bytes(&pipeline);
                let replies: Vec<Option<V>> = (0..4).map(|_| r.try_read()).collect();
                let expected = [
                    Some(V::Int(1)),
                    Some(V::Int(i as i64 + 1)),
                    Some(V::Status("OK".into())),
                    Some(V::Int(i as i64 + 1)),
                ];
                if replies != expected {
                    return;
                }
                i += 1;
                acked[w].store(i, Ordering::SeqCst);
            }
        }));
    }
    eventually("writers made progress", Duration::from_secs(60), || {
        acked.iter().map(|a| a.load(Ordering::SeqCst)).sum::<u64>() >= 10_000
            && acked
                .iter()
                .filter(|a| a.load(Ordering::SeqCst) > 0)
                .count()
                >= MANY_WRITERS / 2
    });
    server.kill9();
    stop.store(true, Ordering::SeqCst);
    for t in threads {
        let _ = t.join();
    }
    acked.iter().map(|a| a.load(Ordering::SeqCst)).collect()
}

/// Checks every acknowledged write of [`many_writers_then_kill`]; returns (acked, lost).
fn many_writers_round(fsync: &str) -> (u64, u64) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let mut server = Server::start_in(&dir, &["--appendfsync", fsync]);
    let acked = many_writers_then_kill(&mut server);
    let server = Server::start_in(&dir, &["--appendfsync", fsync]);
    let mut r = server.raw();
    let (mut acknowledged, mut lost) = (0u64, 0u64);
    for (w, &n) in acked.iter().enumerate() {
        acknowledged += n;
        if n == 0 {
            continue;
        }
        // A pipeline's writes may have landed after its last acknowledgement: counts may
        // exceed `n` by one round, never fall short of it.
        let at_least = |v: V| matches!(v, V::Int(x) if x as u64 >= n);
        let counter = r.cmd(&["GET", &format!("n{w}")]);
        let counted = counter.text().parse::<u64>().unwrap_or(0);
        let list_len = r.cmd(&["LLEN", &format!("l{w}")]);
        let hash_len = r.cmd(&["HLEN", &format!("h{w}")]);
        if counted < n || !at_least(list_len) || !at_least(hash_len) {
            lost += 1;
        }
        for i in 0..n {
            if r.cmd(&["EXISTS", &format!("c{w}:{i}")]) != V::Int(1) {
                lost += 1;
            }
        }
    }
    println!("appendfsync {fsync}, {MANY_WRITERS} writers: acknowledged {acknowledged} pipelines, lost {lost}");
    (acknowledged, lost)
}

#[test]
fn kill_9_under_200_writers_loses_nothing_acknowledged_with_always() {
    let (acknowledged, lost) = many_writers_round("always");
    assert!(acknowledged >= 10_000);
    assert_eq!(lost, 0, "lost acknowledged writes under appendfsync always");
}

#[test]
fn kill_9_under_200_writers_loses_nothing_the_os_received_with_everysec() {
    let (acknowledged, lost) = many_writers_round("everysec");
    assert!(acknowledged >= 10_000);
    assert_eq!(
        lost, 0,
        "a process crash must not lose writes already handed to the OS"
    );
}
