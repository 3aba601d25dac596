//! Collections beyond what the differential suite covers: blocking pops, O(1) deletion and
//! reclamation of big collections, expiry, RESP3 shapes.

use std::time::{Duration, Instant};

use crate::harness::{eventually, Raw, Server, V};

fn info_field(r: &mut Raw, section: &str, field: &str) -> i64 {
    let text = r.cmd(&["INFO", section]).text();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in {text}"))
}

fn wait_blocked(s: &Server, n: i64) {
    eventually(
        &format!("{n} blocked clients"),
        Duration::from_secs(10),
        || info_field(&mut s.raw(), "clients", "blocked_clients") == n,
    );
}

fn pipeline(r: &mut Raw, commands: &[Vec<Vec<u8>>]) {
    let mut bytes = Vec::new();
    for c in commands {
        let args: Vec<&[u8]> = c.iter().map(Vec::as_slice).collect();
        bytes.extend(Raw::encode(&args));
    }
    r.send_bytes(&bytes);
    for _ in commands {
        assert!(!matches!(r.read(), V::Error(_)));
    }
}

#[test]
fn blocked_clients_are_served_in_arrival_order() {
    let s = Server::start();
    let mut first = s.raw();
    let mut second = s.raw();
    first.send_bytes(&Raw::encode(&[b"BLPOP", b"queue", b"0"]));
    wait_blocked(&s, 1);
    second.send_bytes(&Raw::encode(&[b"BLPOP", b"queue", b"0"]));
    wait_blocked(&s, 2);
    assert_eq!(s.raw().cmd(&["RPUSH", "queue", "a", "b"]), V::Int(2));
    assert_eq!(first.read(), V::Array(vec![V::bulk("queue"), V::bulk("a")]));
    assert_eq!(
        second.read(),
        V::Array(vec![V::bulk("queue"), V::bulk("b")])
    );
    assert_eq!(s.raw().cmd(&["EXISTS", "queue"]), V::Int(0));
    // Both connections go on serving commands, including ones pipelined behind a block.
    first.send_bytes(&Raw::encode(&[b"BRPOP", b"q2", b"0"]));
    first.send_bytes(&Raw::encode(&[b"PING"]));
    wait_blocked(&s, 1);
    s.raw().cmd(&["LPUSH", "q2", "x"]);
    assert_eq!(first.read(), V::Array(vec![V::bulk("q2"), V::bulk("x")]));
    assert_eq!(first.read(), V::Status("PONG".into()));
}

#[test]
fn blocking_timeouts_multiple_keys_and_moves() {
    let s = Server::start();
    let mut r = s.raw();
    let started = Instant::now();
    assert_eq!(r.cmd(&["BLPOP", "none", "0.05"]), V::NilArray);
    assert!(started.elapsed() >= Duration::from_millis(40));
    assert_eq!(r.cmd(&["BZPOPMIN", "none", "0.05"]), V::NilArray);
    assert_eq!(
        r.cmd(&["BLMOVE", "none", "dst", "LEFT", "RIGHT", "0.05"]),
        V::NilArray
    );
    assert_eq!(r.err(&["BLPOP", "k", "-1"]), "ERR timeout is negative");
    assert_eq!(
        r.err(&["BLPOP", "k", "abc"]),
        "ERR timeout is not a float or out of range"
    );

    // One client waits on two keys; a push to the second serves it.
    r.send_bytes(&Raw::encode(&[b"BLPOP", b"k1", b"k2", b"0"]));
    wait_blocked(&s, 1);
    s.raw().cmd(&["RPUSH", "k2", "v"]);
    assert_eq!(r.read(), V::Array(vec![V::bulk("k2"), V::bulk("v")]));

    // BLMOVE is served by a push to its source.
    r.send_bytes(&Raw::encode(&[
        b"BLMOVE", b"src", b"dst", b"RIGHT", b"LEFT", b"0",
    ]));
    wait_blocked(&s, 1);
    s.raw().cmd(&["RPUSH", "src", "job"]);
    assert_eq!(r.read(), V::bulk("job"));
    assert_eq!(
        r.cmd(&["LRANGE", "dst", "0", "-1"]),
        V::Array(vec![V::bulk("job")])
    );

    // BZPOPMAX is served by ZADD; BLMPOP by a push.
    r.send_bytes(&Raw::encode(&[b"BZPOPMAX", b"z", b"0"]));
    wait_blocked(&s, 1);
    s.raw().cmd(&["ZADD", "z", "1", "a", "2", "b"]);
    assert_eq!(
        r.read(),
        V::Array(vec![V::bulk("z"), V::bulk("b"), V::bulk("2")])
    );
    r.send_bytes(&Raw::encode(&[
        b"BLMPOP", b"0", b"1", b"m", b"LEFT", b"COUNT", b"2",
    ]));
    wait_blocked(&s, 1);
    s.raw().cmd(&["RPUSH", "m", "1", "2", "3"]);
    assert_eq!(
        r.read(),
        V::Array(vec![
            V::bulk("m"),
            V::Array(vec![V::bulk("1"), V::bulk("2")])
        ])
    );
}

#[test]
fn a_disconnected_waiter_loses_no_element() {
    let s = Server::start();
    let mut waiter = s.raw();
    waiter.send_bytes(&Raw::encode(&[b"BLPOP", b"jobs", b"0"]));
    wait_blocked(&s, 1);
    drop(waiter);
    wait_blocked(&s, 0);
    let mut r = s.raw();
    r.cmd(&["RPUSH", "jobs", "precious"]);
    assert_eq!(
        r.cmd(&["LRANGE", "jobs", "0", "-1"]),
        V::Array(vec![V::bulk("precious")])
    );
}

#[test]
fn client_unblock() {
    let s = Server::start();
    let mut waiter = s.raw();
    let V::Int(id) = waiter.cmd(&["CLIENT", "ID"]) else {
        panic!()
    };
    let mut admin = s.raw();
    assert_eq!(
        admin.cmd(&["CLIENT", "UNBLOCK", &id.to_string()]),
        V::Int(0)
    );
    waiter.send_bytes(&Raw::encode(&[b"BLPOP", b"k", b"0"]));
    wait_blocked(&s, 1);
    assert_eq!(
        admin.cmd(&["CLIENT", "UNBLOCK", &id.to_string()]),
        V::Int(1)
    );
    assert_eq!(waiter.read(), V::NilArray);
    waiter.send_bytes(&Raw::encode(&[b"BRPOP", b"k", b"0"]));
    wait_blocked(&s, 1);
    assert_eq!(
        admin.cmd(&["CLIENT", "UNBLOCK", &id.to_string(), "ERROR"]),
        V::Int(1)
    );
    assert_eq!(
        waiter.read(),
        V::Error("UNBLOCKED client unblocked via CLIENT UNBLOCK".into())
    );
    assert_eq!(
        admin.err(&["CLIENT", "UNBLOCK", &id.to_string(), "FOO"]),
        "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR"
    );
}

#[test]
fn collections_expire_and_are_reclaimed() {
    let s = Server::start();
    let mut r = s.raw();
    r.cmd(&["HSET", "h", "a", "1"]);
    r.cmd(&["RPUSH", "l", "1", "2"]);
    r.cmd(&["PEXPIRE", "h", "50"]);
    r.cmd(&["PEXPIRE", "l", "50"]);
    eventually("collections expire", Duration::from_secs(10), || {
        let mut c = s.raw();
        c.cmd(&["HGET", "h", "a"]) == V::Nil && c.cmd(&["LLEN", "l"]) == V::Int(0)
    });
    eventually("active expiry", Duration::from_secs(10), || {
        s.raw().cmd(&["DBSIZE"]) == V::Int(0)
    });
    // A new collection under the same name starts empty.
    assert_eq!(r.cmd(&["HSET", "h", "b", "2"]), V::Int(1));
    assert_eq!(
        r.cmd(&["HGETALL", "h"]),
        V::Array(vec![V::bulk("b"), V::bulk("2")])
    );
    assert_eq!(r.cmd(&["TTL", "h"]), V::Int(-1));
}

#[test]
fn resp3_shapes_for_scores_maps_and_sets() {
    let s = Server::start();
    let mut r = s.raw();
    r.cmd(&["HELLO", "3"]);
    r.cmd(&["ZADD", "z", "1.5", "a", "2", "b"]);
    assert_eq!(r.cmd(&["ZSCORE", "z", "a"]), V::Double("1.5".into()));
    assert_eq!(r.cmd(&["ZINCRBY", "z", "1", "a"]), V::Double("2.5".into()));
    assert_eq!(
        r.cmd(&["ZRANGE", "z", "0", "-1", "WITHSCORES"]),
        V::Array(vec![
            V::Array(vec![V::bulk("b"), V::Double("2".into())]),
            V::Array(vec![V::bulk("a"), V::Double("2.5".into())]),
        ])
    );
    assert_eq!(
        r.cmd(&["ZRANK", "z", "a", "WITHSCORE"]),
        V::Array(vec![V::Int(1), V::Double("2.5".into())])
    );
    assert_eq!(
        r.cmd(&["ZPOPMIN", "z"]),
        V::Array(vec![V::bulk("b"), V::Double("2".into())])
    );
    r.cmd(&["HSET", "h", "f", "v"]);
    assert_eq!(
        r.cmd(&["HGETALL", "h"]),
        V::Map(vec![(V::bulk("f"), V::bulk("v"))])
    );
    r.cmd(&["SADD", "s", "m"]);
    assert_eq!(r.cmd(&["SMEMBERS", "s"]), V::Set(vec![V::bulk("m")]));
    // RESP2 for comparison
    let mut r2 = s.raw();
    assert_eq!(r2.cmd(&["ZSCORE", "z", "a"]), V::bulk("2.5"));
    assert_eq!(
        r2.cmd(&["ZRANK", "z", "a", "WITHSCORE"]),
        V::Array(vec![V::Int(0), V::bulk("2.5")])
    );
}

#[test]
fn million_member_collections_delete_in_o1_and_are_reclaimed_by_compaction() {
    let s = Server::start();
    let mut r = s.raw();
    const MEMBERS: usize = 1_000_000;
    const PER_CMD: usize = 1000;
    let mut commands = Vec::new();
    for chunk in 0..MEMBERS / PER_CMD {
        let mut sadd = vec![b"SADD".to_vec(), b"bigset".to_vec()];
        let mut rpush = vec![b"RPUSH".to_vec(), b"biglist".to_vec()];
        for i in 0..PER_CMD {
            let m = format!("member:{}", chunk * PER_CMD + i).into_bytes();
            sadd.push(m.clone());
            rpush.push(m);
        }
        commands.push(sadd);
        commands.push(rpush);
        if commands.len() == 20 {
            pipeline(&mut r, &commands);
            commands.clear();
        }
    }
    pipeline(&mut r, &commands);
    let mut small = Vec::new();
    for chunk in 0..100 {
        let mut hset = vec![b"HSET".to_vec(), b"bighash".to_vec()];
        let mut zadd = vec![b"ZADD".to_vec(), b"bigzset".to_vec()];
        for i in 0..PER_CMD {
            let n = chunk * PER_CMD + i;
            hset.push(format!("f{n}").into_bytes());
            hset.push(b"v".to_vec());
            zadd.push(n.to_string().into_bytes());
            zadd.push(format!("m{n}").into_bytes());
        }
        small.push(hset);
        small.push(zadd);
    }
    pipeline(&mut r, &small);
    assert_eq!(r.cmd(&["SCARD", "bigset"]), V::Int(MEMBERS as i64));
    assert_eq!(r.cmd(&["LLEN", "biglist"]), V::Int(MEMBERS as i64));
    assert_eq!(r.cmd(&["HLEN", "bighash"]), V::Int(100_000));
    assert_eq!(r.cmd(&["ZCARD", "bigzset"]), V::Int(100_000));
    assert_eq!(
        r.cmd(&["LINDEX", "biglist", "-1"]),
        V::bulk("member:999999")
    );

    let started = Instant::now();
    assert_eq!(
        r.cmd(&["DEL", "bigset", "biglist", "bighash", "bigzset"]),
        V::Int(4)
    );
    let took = started.elapsed();
    // Reported, not asserted: timings are for benchmarks, but the figure goes in the log.
    println!("DEL of 2,000,000 list/set members and 200,000 hash/zset members took {took:?}");
    assert_eq!(r.cmd(&["EXISTS", "bigset", "biglist"]), V::Int(0));
    assert_eq!(r.cmd(&["DBSIZE"]), V::Int(0));

    // Keep one live collection to prove compaction only drops garbage.
    r.cmd(&["SADD", "alive", "x", "y"]);
    assert_eq!(r.cmd(&["DEBUG", "COMPACT"]), V::Status("OK".into()));
    let remaining = info_field(&mut r, "memory", "rocksdb_estimate_subkeys");
    assert_eq!(
        remaining, 2,
        "only the live set's two members remain on disk"
    );
    assert_eq!(
        r.cmd(&["SMEMBERS", "alive"]),
        V::Array(vec![V::bulk("x"), V::bulk("y")])
    );
}

fn scan_all(r: &mut Raw, cmd: &str, key: &str, count: &str) -> Vec<String> {
    let mut cursor = "0".to_string();
    let mut out = Vec::new();
    loop {
        let V::Array(parts) = r.cmd(&[cmd, key, &cursor, "COUNT", count]) else {
            panic!()
        };
        cursor = parts[0].text();
        let V::Array(items) = &parts[1] else { panic!() };
        out.extend(items.iter().map(V::text));
        if cursor == "0" {
            return out;
        }
    }
}

#[test]
fn collection_scans_visit_every_member_once() {
    let s = Server::start();
    let mut r = s.raw();
    let mut hset = vec!["HSET".to_string(), "h".to_string()];
    let mut sadd = vec!["SADD".to_string(), "s".to_string()];
    let mut zadd = vec!["ZADD".to_string(), "z".to_string()];
    for i in 0..2000 {
        hset.extend([format!("f{i}"), format!("v{i}")]);
        sadd.push(format!("m{i}"));
        zadd.extend([i.to_string(), format!("m{i}")]);
    }
    for c in [&hset, &sadd, &zadd] {
        let refs: Vec<&str> = c.iter().map(String::as_str).collect();
        assert_eq!(r.cmd(&refs), V::Int(2000));
    }
    let h = scan_all(&mut r, "HSCAN", "h", "97");
    assert_eq!(h.len(), 4000);
    let fields: std::collections::HashSet<_> = h.chunks(2).map(|p| p[0].clone()).collect();
    assert_eq!(fields.len(), 2000);
    assert!(h.chunks(2).all(|p| p[1] == p[0].replacen('f', "v", 1)));
    let members = scan_all(&mut r, "SSCAN", "s", "50");
    assert_eq!(
        members
            .iter()
            .collect::<std::collections::HashSet<_>>()
            .len(),
        2000
    );
    assert_eq!(members.len(), 2000);
    let z = scan_all(&mut r, "ZSCAN", "z", "300");
    assert_eq!(z.len(), 4000);
    assert!(z.chunks(2).all(|p| p[0] == format!("m{}", p[1])));
    let V::Array(parts) = r.cmd(&[
        "HSCAN", "h", "0", "COUNT", "5000", "MATCH", "f1??", "NOVALUES",
    ]) else {
        panic!()
    };
    let V::Array(items) = &parts[1] else { panic!() };
    assert_eq!(items.len(), 100);
}

#[test]
fn random_member_commands_respect_counts() {
    let s = Server::start();
    let mut r = s.raw();
    r.cmd(&["SADD", "s", "a", "b", "c", "d", "e"]);
    r.cmd(&["HSET", "h", "a", "1", "b", "2", "c", "3"]);
    r.cmd(&["ZADD", "z", "1", "a", "2", "b", "3", "c"]);
    let distinct = |v: &V| -> (usize, usize) {
        let V::Array(items) = v else { panic!("{v:?}") };
        let set: std::collections::HashSet<String> = items.iter().map(V::text).collect();
        (items.len(), set.len())
    };
    assert_eq!(distinct(&r.cmd(&["SRANDMEMBER", "s", "3"])), (3, 3));
    assert_eq!(distinct(&r.cmd(&["SRANDMEMBER", "s", "10"])), (5, 5));
    assert_eq!(distinct(&r.cmd(&["SRANDMEMBER", "s", "-20"])).0, 20);
    assert_eq!(distinct(&r.cmd(&["HRANDFIELD", "h", "2"])), (2, 2));
    assert_eq!(distinct(&r.cmd(&["HRANDFIELD", "h", "-7"])).0, 7);
    let V::Array(with_values) = r.cmd(&["HRANDFIELD", "h", "3", "WITHVALUES"]) else {
        panic!()
    };
    assert_eq!(with_values.len(), 6);
    assert!(with_values.chunks(2).all(|p| matches!(
        (p[0].text().as_str(), p[1].text().as_str()),
        ("a", "1") | ("b", "2") | ("c", "3")
    )));
    let V::Array(z) = r.cmd(&["ZRANDMEMBER", "z", "-5", "WITHSCORES"]) else {
        panic!()
    };
    assert_eq!(z.len(), 10);
    assert!(matches!(r.cmd(&["SRANDMEMBER", "s"]), V::Bulk(_)));
    assert_eq!(distinct(&r.cmd(&["SPOP", "s", "2"])), (2, 2));
    assert_eq!(r.cmd(&["SCARD", "s"]), V::Int(3));
    assert!(matches!(r.cmd(&["SPOP", "s"]), V::Bulk(_)));
    assert_eq!(distinct(&r.cmd(&["SPOP", "s", "10"])), (2, 2));
    assert_eq!(
        r.cmd(&["EXISTS", "s"]),
        V::Int(0),
        "a set emptied by SPOP no longer exists"
    );
}
