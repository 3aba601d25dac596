//! Streams beyond the reply shapes pinned against redis-server in `differential`: a worker
//! group processing every entry exactly once across a consumer's death, durable group state
//! across kill -9, blocking reads woken in arrival order, and the time-dependent replies
//! (idle times, delivery counts) the differential suite cannot compare.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use redis::streams::{StreamAutoClaimReply, StreamReadOptions, StreamReadReply};
use redis::Commands;

use crate::harness::{cmd, eventually, Raw, Server, V};

fn wait_blocked(s: &Server, n: usize) {
    let want = format!("blocked_clients:{n}\r");
    eventually(
        &format!("{n} blocked clients"),
        Duration::from_secs(10),
        || s.raw().cmd(&["INFO", "clients"]).text().contains(&want),
    );
}

const ENTRIES: usize = 10_000;

/// Reads a batch for `consumer`, returns the ids delivered.
fn read_batch(con: &mut redis::Connection, consumer: &str) -> Vec<String> {
    let opts = StreamReadOptions::default()
        .group("workers", consumer)
        .count(50);
    let reply: StreamReadReply = con
        .xread_options(&["orders"], &[">"], &opts)
        .expect("xreadgroup");
    reply
        .keys
        .into_iter()
        .flat_map(|k| k.ids.into_iter().map(|e| e.id))
        .collect()
}

#[test]
fn worker_group_processes_every_entry_exactly_once_despite_a_dead_consumer() {
    let server = Server::start();
    let mut con = server.client();
    let mut pipe = redis::pipe();
    for i in 0..ENTRIES {
        pipe.cmd("XADD").arg("orders").arg("*").arg("order").arg(i);
    }
    let ids: Vec<String> = pipe.query(&mut con).unwrap();
    let newest = ids.last().cloned().unwrap();
    let all: BTreeSet<String> = ids.into_iter().collect();
    assert_eq!(all.len(), ENTRIES);
    let _: () = con.xgroup_create("orders", "workers", "0").unwrap();

    // Which consumer acknowledged each entry; an entry acknowledged twice is a failure.
    let acked: Arc<Mutex<HashMap<String, String>>> = Arc::default();
    // The doomed consumer takes three batches, acknowledges the first, then dies.
    let mut doomed = server.client();
    let first = read_batch(&mut doomed, "c3");
    let n: usize = doomed.xack("orders", "workers", &first).unwrap();
    assert_eq!(n, first.len());
    for id in &first {
        acked.lock().unwrap().insert(id.clone(), "c3".into());
    }
    let orphaned: Vec<String> = read_batch(&mut doomed, "c3")
        .into_iter()
        .chain(read_batch(&mut doomed, "c3"))
        .collect();
    assert_eq!(orphaned.len(), 100);
    drop(doomed);

    let workers: Vec<_> = ["c1", "c2"]
        .into_iter()
        .map(|name| {
            let mut con = server.client();
            let acked = acked.clone();
            thread::spawn(move || loop {
                let batch = read_batch(&mut con, name);
                if batch.is_empty() {
                    return;
                }
                for id in &batch {
                    let n: usize = con.xack("orders", "workers", &[id]).unwrap();
                    assert_eq!(n, 1, "{id} acknowledged twice");
                    let previous = acked.lock().unwrap().insert(id.clone(), name.into());
                    assert!(previous.is_none(), "{id} processed twice");
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    // Everything but the dead consumer's entries is done; they are still pending under c3.
    let pending: redis::streams::StreamPendingReply = con.xpending("orders", "workers").unwrap();
    assert_eq!(pending.count(), 100);

    // A survivor claims them (min idle 0: the consumer is known dead) page by page.
    let mut cursor = "0-0".to_string();
    loop {
        let reply: StreamAutoClaimReply = redis::cmd("XAUTOCLAIM")
            .arg("orders")
            .arg("workers")
            .arg("c1")
            .arg(0)
            .arg(&cursor)
            .arg("COUNT")
            .arg(30)
            .query(&mut con)
            .unwrap();
        for entry in &reply.claimed {
            let n: usize = con.xack("orders", "workers", &[&entry.id]).unwrap();
            assert_eq!(n, 1);
            let previous = acked.lock().unwrap().insert(entry.id.clone(), "c1".into());
            assert!(previous.is_none(), "{} processed twice", entry.id);
        }
        assert!(reply.deleted_ids.is_empty());
        cursor = reply.next_stream_id;
        if cursor == "0-0" {
            break;
        }
    }
    let acked = acked.lock().unwrap();
    let done: BTreeSet<String> = acked.keys().cloned().collect();
    assert_eq!(done, all, "every entry acknowledged exactly once");
    for id in &orphaned {
        assert_eq!(acked[id], "c1", "{id} was reclaimed from the dead consumer");
    }
    let pending: redis::streams::StreamPendingReply = con.xpending("orders", "workers").unwrap();
    assert_eq!(pending.count(), 0);
    let info = con
        .xinfo_groups::<_, redis::streams::StreamInfoGroupsReply>("orders")
        .unwrap();
    assert_eq!(info.groups[0].last_delivered_id, newest);
    assert_eq!(info.groups[0].pending, 0);
}

#[test]
fn group_state_and_pel_are_identical_after_kill_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start_in(dir.path(), &["--appendfsync", "always"]);
    let mut raw = server.raw();
    for i in 1..=20 {
        raw.cmd(&["XADD", "jobs", &format!("{i}-0"), "n", &i.to_string()]);
    }
    raw.cmd(&["XGROUP", "CREATE", "jobs", "g", "0"]);
    raw.cmd(&["XGROUP", "CREATE", "jobs", "other", "5-0"]);
    raw.cmd(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "alice",
        "COUNT",
        "7",
        "STREAMS",
        "jobs",
        ">",
    ]);
    raw.cmd(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "bob",
        "COUNT",
        "5",
        "STREAMS",
        "jobs",
        ">",
    ]);
    raw.cmd(&["XACK", "jobs", "g", "2-0", "9-0"]);
    raw.cmd(&[
        "XCLAIM",
        "jobs",
        "g",
        "carol",
        "0",
        "3-0",
        "RETRYCOUNT",
        "4",
    ]);
    raw.cmd(&["XDEL", "jobs", "20-0"]);
    raw.cmd(&["XGROUP", "CREATECONSUMER", "jobs", "other", "idle-one"]);
    let snapshot = |r: &mut Raw| {
        vec![
            r.cmd(&["XINFO", "STREAM", "jobs", "FULL"]),
            r.cmd(&["XINFO", "GROUPS", "jobs"]),
            r.cmd(&["XPENDING", "jobs", "g"]),
            r.cmd(&["XRANGE", "jobs", "-", "+"]),
        ]
    };
    let before = snapshot(&mut raw);
    // The snapshot holds real state: 10 pending, 3 consumers in g.
    assert_eq!(
        before[2],
        V::Array(vec![
            V::Int(10),
            V::bulk("1-0"),
            V::bulk("12-0"),
            V::Array(vec![
                V::Array(vec![V::bulk("alice"), V::bulk("5")]),
                V::Array(vec![V::bulk("bob"), V::bulk("4")]),
                V::Array(vec![V::bulk("carol"), V::bulk("1")]),
            ]),
        ])
    );
    server.kill9();
    let server = Server::start_in(dir.path(), &[]);
    let mut raw = server.raw();
    assert_eq!(snapshot(&mut raw), before);
    // And the group carries on where it was.
    assert_eq!(
        raw.cmd(&[
            "XREADGROUP",
            "GROUP",
            "g",
            "alice",
            "COUNT",
            "1",
            "STREAMS",
            "jobs",
            ">"
        ]),
        V::Array(vec![V::Array(vec![
            V::bulk("jobs"),
            V::Array(vec![V::Array(vec![
                V::bulk("13-0"),
                V::Array(vec![V::bulk("n"), V::bulk("13")])
            ])])
        ])])
    );
}

#[test]
fn blocked_readers_are_woken_by_xadd_in_arrival_order() {
    let s = Server::start();
    let mut producer = s.raw();
    producer.cmd(&["XADD", "events", "1-0", "old", "entry"]);
    producer.cmd(&["XGROUP", "CREATE", "events", "g", "$"]);
    // Two plain readers from `$` and two group readers, in this order.
    let mut readers = Vec::new();
    for _ in 0..2 {
        let mut r = s.raw();
        r.send_bytes(&Raw::encode(&[
            b"XREAD", b"BLOCK", b"0", b"STREAMS", b"events", b"$",
        ]));
        readers.push(r);
        wait_blocked(&s, readers.len());
    }
    let mut group_readers = Vec::new();
    for name in ["first", "second"] {
        let mut r = s.raw();
        r.send_bytes(&Raw::encode(&[
            b"XREADGROUP",
            b"GROUP",
            b"g",
            name.as_bytes(),
            b"BLOCK",
            b"0",
            b"STREAMS",
            b"events",
            b">",
        ]));
        group_readers.push(r);
        wait_blocked(&s, readers.len() + group_readers.len());
    }
    producer.cmd(&["XADD", "events", "2-0", "n", "1"]);
    let entry = |id: &str, n: &str| {
        V::Array(vec![V::Array(vec![
            V::bulk("events"),
            V::Array(vec![V::Array(vec![
                V::bulk(id),
                V::Array(vec![V::bulk("n"), V::bulk(n)]),
            ])]),
        ])])
    };
    // Every plain reader sees the new entry (and only it: `$` was resolved when it parked).
    for r in &mut readers {
        assert_eq!(r.read(), entry("2-0", "1"));
    }
    // The group delivers it once, to the reader that waited longest.
    assert_eq!(group_readers[0].read(), entry("2-0", "1"));
    wait_blocked(&s, 1);
    producer.cmd(&["XADD", "events", "3-0", "n", "2"]);
    assert_eq!(group_readers[1].read(), entry("3-0", "2"));
    wait_blocked(&s, 0);
    // A timeout answers with a null array.
    assert_eq!(
        producer.cmd(&["XREAD", "BLOCK", "50", "STREAMS", "events", "$"]),
        V::NilArray
    );
}

#[test]
fn pending_idle_times_and_claims() {
    let s = Server::start();
    let mut r = s.raw();
    r.cmd(&["XADD", "q", "1-0", "a", "1"]);
    r.cmd(&["XADD", "q", "2-0", "b", "2"]);
    r.cmd(&["XGROUP", "CREATE", "q", "g", "0"]);
    r.cmd(&["XREADGROUP", "GROUP", "g", "w1", "STREAMS", "q", ">"]);
    // Backdate one delivery by a minute with XCLAIM ... IDLE; RETRYCOUNT sets the count.
    r.cmd(&[
        "XCLAIM",
        "q",
        "g",
        "w1",
        "0",
        "1-0",
        "IDLE",
        "60000",
        "RETRYCOUNT",
        "5",
        "JUSTID",
    ]);
    let V::Array(items) = r.cmd(&["XPENDING", "q", "g", "IDLE", "30000", "-", "+", "10"]) else {
        panic!("XPENDING extended form is an array");
    };
    assert_eq!(
        items.len(),
        1,
        "only the backdated entry is idle long enough"
    );
    let V::Array(fields) = &items[0] else {
        panic!()
    };
    assert_eq!(fields[0], V::bulk("1-0"));
    assert_eq!(fields[1], V::bulk("w1"));
    assert!(matches!(fields[2], V::Int(idle) if idle >= 60_000));
    assert_eq!(fields[3], V::Int(5));
    // XCLAIM with a min idle time takes only what is idle enough.
    assert_eq!(
        r.cmd(&["XCLAIM", "q", "g", "w2", "30000", "1-0", "2-0", "JUSTID"]),
        V::Array(vec![V::bulk("1-0")])
    );
    // XINFO CONSUMERS reports both consumers with their pending counts (7.2 fields).
    let V::Array(consumers) = r.cmd(&["XINFO", "CONSUMERS", "q", "g"]) else {
        panic!()
    };
    let names: Vec<V> = consumers
        .iter()
        .map(|c| match c {
            V::Array(kv) => kv[1].clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(names, vec![V::bulk("w1"), V::bulk("w2")]);
    let V::Array(w2) = &consumers[1] else {
        panic!()
    };
    assert_eq!(&w2[2..4], &[V::bulk("pending"), V::Int(1)]);
    assert_eq!(w2[6], V::bulk("inactive"));
    // RESP3: XREAD answers with a map of stream -> entries.
    r.cmd(&["HELLO", "3"]);
    assert_eq!(
        r.cmd(&["XREAD", "COUNT", "1", "STREAMS", "q", "0"]),
        V::Map(vec![(
            V::bulk("q"),
            V::Array(vec![V::Array(vec![
                V::bulk("1-0"),
                V::Array(vec![V::bulk("a"), V::bulk("1")])
            ])])
        )])
    );
}

#[test]
fn xinfo_stream_and_deleting_a_stream() {
    let s = Server::start();
    let mut con = s.client();
    for i in 1..=3 {
        let _: String = con.xadd("s", format!("{i}-0"), &[("k", i)]).unwrap();
    }
    let _: () = con.xgroup_create("s", "g", "0").unwrap();
    let info: redis::streams::StreamInfoStreamReply = con.xinfo_stream("s").unwrap();
    assert_eq!(info.length, 3);
    assert_eq!(info.groups, 1);
    assert_eq!(info.last_generated_id, "3-0");
    assert_eq!(info.first_entry.id, "1-0");
    assert_eq!(info.last_entry.id, "3-0");
    // XREAD with `+` (Redis 7.4) returns the newest entry only.
    let newest: redis::Value = cmd(&["XREAD", "STREAMS", "s", "+"])
        .query(&mut con)
        .unwrap();
    let newest: StreamReadReply = redis::FromRedisValue::from_redis_value(&newest).unwrap();
    let ids: Vec<String> = newest.keys[0].ids.iter().map(|e| e.id.clone()).collect();
    assert_eq!(ids, vec!["3-0".to_string()]);
    let deleted: i64 = cmd(&["DEL", "s"]).query(&mut con).unwrap();
    assert_eq!(deleted, 1);
    // A new stream under the same name starts clean: no old entries or groups leak in.
    let _: String = con.xadd("s", "1-0", &[("fresh", 1)]).unwrap();
    let groups: Vec<redis::Value> = cmd(&["XINFO", "GROUPS", "s"]).query(&mut con).unwrap();
    assert!(groups.is_empty());
    let len: usize = con.xlen("s").unwrap();
    assert_eq!(len, 1);
}
