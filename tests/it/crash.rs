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
