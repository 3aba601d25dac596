//! Data survives restarts and `kill -9`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::harness::{Server, V};

#[test]
fn restart_keeps_keys_ttls_and_databases() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let mut s = Server::start_in(&dir, &[]);
    let mut r = s.raw();
    for db in [0, 3, 15] {
        r.cmd(&["SELECT", &db.to_string()]);
        r.cmd(&["SET", "plain", &format!("db{db}")]);
        r.cmd(&["SET", "ttl", "v", "EX", "1000"]);
        r.cmd(&["SET", "short", "v", "PX", "1"]);
        r.cmd(&["INCRBY", "counter", &db.to_string()]);
    }
    r.cmd(&["SELECT", "3"]);
    r.cmd(&["SWAPDB", "3", "4"]);
    s.terminate().expect("clean exit");

    let s = Server::start_in(&dir, &[]);
    let mut r = s.raw();
    for db in [0, 4, 15] {
        let expect = if db == 4 { 3 } else { db };
        r.cmd(&["SELECT", &db.to_string()]);
        assert_eq!(r.cmd(&["GET", "plain"]), V::bulk(&format!("db{expect}")));
        assert!(
            matches!(r.cmd(&["TTL", "ttl"]), V::Int(900..=1000)),
            "TTL survives restart"
        );
        assert_eq!(
            r.cmd(&["GET", "short"]),
            V::Nil,
            "expired before restart stays gone"
        );
        assert_eq!(r.cmd(&["GET", "counter"]), V::bulk(&expect.to_string()));
    }
    r.cmd(&["SELECT", "3"]);
    assert_eq!(r.cmd(&["DBSIZE"]), V::Int(0), "SWAPDB survives restart");
    let keyspace = r.cmd(&["INFO", "keyspace"]).text();
    assert!(
        keyspace.contains("db0:keys=") && keyspace.contains("expires="),
        "{keyspace}"
    );
}

#[test]
fn kill_9_with_appendfsync_always_loses_no_acknowledged_write() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let mut s = Server::start_in(&dir, &["--appendfsync", "always"]);
    let acked: Arc<Mutex<HashMap<String, String>>> = Arc::default();
    let counters: Arc<Mutex<Vec<i64>>> = Arc::default();
    let mut workers = Vec::new();
    for w in 0..4 {
        let addr = s.addr.clone();
        let acked = acked.clone();
        let counters = counters.clone();
        workers.push(std::thread::spawn(move || {
            let mut r = crate::harness::Raw::connect(&addr);
            r.cmd(&["SELECT", &(w % 3).to_string()]);
            let mut last = 0;
            for i in 0..300 {
                let key = format!("w{w}:k{i}");
                let value = format!("v{i}");
                match r.cmd(&["SET", &key, &value]) {
                    V::Status(s) if s == "OK" => {
                        acked
                            .lock()
                            .unwrap()
                            .insert(format!("{}/{key}", w % 3), value);
                    }
                    other => panic!("{other:?}"),
                }
                if let V::Int(n) = r.cmd(&["INCR", &format!("counter:{w}")]) {
                    last = n;
                }
            }
            counters.lock().unwrap().push(last);
        }));
    }
    for w in workers {
        w.join().unwrap();
    }
    // Writes in flight when the process dies are fine to lose; these were all acknowledged.
    s.kill9();

    let s = Server::start_in(&dir, &[]);
    let mut r = s.raw();
    let acked = acked.lock().unwrap();
    assert_eq!(acked.len(), 1200);
    for (full, value) in acked.iter() {
        let (db, key) = full.split_once('/').unwrap();
        r.cmd(&["SELECT", db]);
        assert_eq!(
            r.cmd(&["GET", key]),
            V::bulk(value),
            "lost acknowledged {full}"
        );
    }
    for w in 0..4 {
        r.cmd(&["SELECT", &(w % 3).to_string()]);
        assert_eq!(r.cmd(&["GET", &format!("counter:{w}")]), V::bulk("300"));
    }
    r.cmd(&["SELECT", "0"]);
    // db0 holds workers 0 and 3: 2 x 300 keys + 2 counters; DBSIZE is exact after a crash.
    assert_eq!(r.cmd(&["DBSIZE"]), V::Int(602));
}
