//! MULTI/EXEC/WATCH behaviour that needs several clients or time.

use std::time::Duration;

use crate::harness::{eventually, Raw, Server, V};

fn ok() -> V {
    V::Status("OK".into())
}

#[test]
fn blmove_waiter_wakes_after_exec_of_a_push_inside_multi() {
    let s = Server::start();
    let mut waiter = s.raw();
    waiter.send_bytes(&Raw::encode(&[
        b"BLMOVE", b"src", b"dst", b"LEFT", b"RIGHT", b"0",
    ]));
    eventually("waiter blocked", Duration::from_secs(10), || {
        s.raw()
            .cmd(&["INFO", "clients"])
            .text()
            .contains("blocked_clients:1")
    });
    let mut tx = s.raw();
    assert_eq!(tx.cmd(&["MULTI"]), ok());
    assert_eq!(
        tx.cmd(&["RPUSH", "src", "a", "b"]),
        V::Status("QUEUED".into())
    );
    assert_eq!(
        tx.cmd(&["LRANGE", "src", "0", "-1"]),
        V::Status("QUEUED".into())
    );
    // Inside the transaction the waiter has not been served: EXEC sees both elements.
    assert_eq!(
        tx.cmd(&["EXEC"]),
        V::Array(vec![V::Int(2), V::Array(vec![V::bulk("a"), V::bulk("b")])])
    );
    assert_eq!(waiter.read(), V::bulk("a"));
    assert_eq!(
        tx.cmd(&["LRANGE", "dst", "0", "-1"]),
        V::Array(vec![V::bulk("a")])
    );
    assert_eq!(
        tx.cmd(&["LRANGE", "src", "0", "-1"]),
        V::Array(vec![V::bulk("b")])
    );
}

#[test]
fn watch_is_broken_by_another_client_and_by_expiry() {
    let s = Server::start();
    let mut a = s.raw();
    let mut b = s.raw();
    a.cmd(&["SET", "balance", "10"]);
    assert_eq!(a.cmd(&["WATCH", "balance"]), ok());
    b.cmd(&["INCRBY", "balance", "5"]);
    a.cmd(&["MULTI"]);
    a.cmd(&["SET", "balance", "0"]);
    assert_eq!(a.cmd(&["EXEC"]), V::NilArray);
    assert_eq!(a.cmd(&["GET", "balance"]), V::bulk("15"));

    // Same client writing outside MULTI also breaks its own WATCH.
    a.cmd(&["WATCH", "balance"]);
    a.cmd(&["SET", "balance", "1"]);
    a.cmd(&["MULTI"]);
    a.cmd(&["PING"]);
    assert_eq!(a.cmd(&["EXEC"]), V::NilArray);

    // A watched key that expires aborts the transaction.
    a.cmd(&["SET", "lease", "x", "PX", "50"]);
    a.cmd(&["WATCH", "lease"]);
    eventually("lease expired", Duration::from_secs(10), || {
        s.raw().cmd(&["EXISTS", "lease"]) == V::Int(0)
    });
    a.cmd(&["MULTI"]);
    a.cmd(&["PING"]);
    assert_eq!(a.cmd(&["EXEC"]), V::NilArray);

    // An untouched WATCH lets EXEC through.
    a.cmd(&["WATCH", "balance"]);
    a.cmd(&["MULTI"]);
    a.cmd(&["INCR", "balance"]);
    assert_eq!(a.cmd(&["EXEC"]), V::Array(vec![V::Int(2)]));
}

#[test]
fn exec_is_atomic_with_respect_to_other_clients() {
    let s = Server::start();
    let addr = s.addr.clone();
    // One client increments two counters inside transactions; another checks they never
    // differ between transactions.
    let writer = std::thread::spawn(move || {
        let mut r = Raw::connect(&addr);
        for _ in 0..300 {
            r.cmd(&["MULTI"]);
            r.cmd(&["INCR", "x"]);
            r.cmd(&["INCR", "y"]);
            r.cmd(&["EXEC"]);
        }
    });
    let mut reader = s.raw();
    for _ in 0..300 {
        let V::Array(vals) = reader.cmd(&["MGET", "x", "y"]) else {
            panic!()
        };
        assert_eq!(vals[0], vals[1], "a transaction was observed half-applied");
    }
    writer.join().unwrap();
}

#[test]
fn numkeys_and_store_commands_lock_and_touch_their_keys() {
    let s = Server::start();
    let mut a = s.raw();
    let mut b = s.raw();
    a.cmd(&["ZADD", "z1", "1", "m"]);
    a.cmd(&["RPUSH", "l", "3", "1", "2"]);
    for (watched, write) in [
        ("dst", vec!["ZUNIONSTORE", "dst", "1", "z1"]),
        ("sorted", vec!["SORT", "l", "STORE", "sorted"]),
        ("l", vec!["LMPOP", "1", "l", "LEFT"]),
    ] {
        a.cmd(&["WATCH", watched]);
        b.cmd(&write);
        a.cmd(&["MULTI"]);
        a.cmd(&["PING"]);
        assert_eq!(
            a.cmd(&["EXEC"]),
            V::NilArray,
            "{write:?} must touch {watched}"
        );
    }
    assert_eq!(
        a.cmd(&["COMMAND", "GETKEYS", "ZUNIONSTORE", "dst", "2", "a", "b"]),
        V::Array(vec![V::bulk("dst"), V::bulk("a"), V::bulk("b")])
    );
    assert_eq!(
        a.cmd(&["COMMAND", "GETKEYS", "SORT", "l", "STORE", "out"]),
        V::Array(vec![V::bulk("l"), V::bulk("out")])
    );
}

#[test]
fn concurrent_watch_transfers_keep_the_total_constant() {
    let s = Server::start();
    let mut r = s.raw();
    r.cmd(&["MSET", "acct:a", "1000", "acct:b", "1000"]);
    let mut workers = Vec::new();
    for w in 0..4 {
        let addr = s.addr.clone();
        workers.push(std::thread::spawn(move || {
            let mut c = Raw::connect(&addr);
            let (from, to) = if w % 2 == 0 {
                ("acct:a", "acct:b")
            } else {
                ("acct:b", "acct:a")
            };
            let (mut done, mut retries) = (0, 0);
            while done < 100 {
                c.cmd(&["WATCH", from, to]);
                let balance: i64 = c.cmd(&["GET", from]).text().parse().unwrap();
                if balance < 1 {
                    c.cmd(&["UNWATCH"]);
                    done += 1;
                    continue;
                }
                c.cmd(&["MULTI"]);
                c.cmd(&["DECRBY", from, "1"]);
                c.cmd(&["INCRBY", to, "1"]);
                match c.cmd(&["EXEC"]) {
                    V::NilArray => retries += 1,
                    V::Array(_) => done += 1,
                    other => panic!("{other:?}"),
                }
            }
            retries
        }));
    }
    let retries: i64 = workers.into_iter().map(|w| w.join().unwrap()).sum();
    let a: i64 = r.cmd(&["GET", "acct:a"]).text().parse().unwrap();
    let b: i64 = r.cmd(&["GET", "acct:b"]).text().parse().unwrap();
    println!("400 transfers, {retries} WATCH retries");
    assert_eq!(a + b, 2000, "the total balance is conserved");
}
