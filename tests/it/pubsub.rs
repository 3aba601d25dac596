//! Pub/Sub: confirmations, delivery, patterns, subscribed-mode rules, RESP3 pushes,
//! introspection, and ordering under concurrent publishers.

use std::time::Duration;

use crate::harness::{eventually, Server, V};

fn push(items: &[&str], count: i64) -> V {
    let mut v: Vec<V> = items.iter().map(|s| V::bulk(s)).collect();
    v.push(V::Int(count));
    V::Array(v)
}

#[test]
fn subscribe_publish_and_unsubscribe_resp2() {
    let s = Server::start();
    let mut sub = s.raw();
    let mut publisher = s.raw();
    sub.send_bytes(b"SUBSCRIBE news sport\r\n");
    assert_eq!(sub.read(), push(&["subscribe", "news"], 1));
    assert_eq!(sub.read(), push(&["subscribe", "sport"], 2));
    sub.send_bytes(b"PSUBSCRIBE n*\r\n");
    assert_eq!(sub.read(), push(&["psubscribe", "n*"], 3));
    assert_eq!(publisher.cmd(&["PUBLISH", "news", "hello"]), V::Int(2));
    assert_eq!(
        sub.read(),
        V::Array(vec![V::bulk("message"), V::bulk("news"), V::bulk("hello")])
    );
    assert_eq!(
        sub.read(),
        V::Array(vec![
            V::bulk("pmessage"),
            V::bulk("n*"),
            V::bulk("news"),
            V::bulk("hello")
        ])
    );
    assert_eq!(
        publisher.cmd(&["PUBLISH", "nobody", "x"]),
        V::Int(1),
        "the pattern matches"
    );
    assert_eq!(
        sub.read(),
        V::Array(vec![
            V::bulk("pmessage"),
            V::bulk("n*"),
            V::bulk("nobody"),
            V::bulk("x")
        ])
    );
    assert_eq!(publisher.cmd(&["PUBLISH", "other", "x"]), V::Int(0));

    // Subscribed mode in RESP2 only allows (un)subscribing, PING, QUIT and RESET.
    assert_eq!(
        sub.err(&["GET", "k"]),
        "ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
    );
    assert_eq!(
        sub.cmd(&["PING"]),
        V::Array(vec![V::bulk("pong"), V::bulk("")])
    );
    let list = publisher.cmd(&["CLIENT", "LIST"]).text();
    assert!(list.contains(" sub=2 psub=1 ssub=0 "), "{list}");

    assert_eq!(
        publisher.cmd(&["PUBSUB", "NUMSUB", "news", "none"]),
        V::Array(vec![V::bulk("news"), V::Int(1), V::bulk("none"), V::Int(0)])
    );
    assert_eq!(publisher.cmd(&["PUBSUB", "NUMPAT"]), V::Int(1));
    let stats = publisher.cmd(&["INFO", "stats"]).text();
    assert!(
        stats.contains("pubsub_channels:2\r\n") && stats.contains("pubsub_patterns:1\r\n"),
        "{stats}"
    );
    assert_eq!(
        publisher.cmd(&["PUBSUB", "CHANNELS"]),
        V::Array(vec![V::bulk("news"), V::bulk("sport")])
    );
    assert_eq!(
        publisher.cmd(&["PUBSUB", "CHANNELS", "s*"]),
        V::Array(vec![V::bulk("sport")])
    );

    sub.send_bytes(b"UNSUBSCRIBE\r\n");
    let mut seen = vec![sub.read(), sub.read()];
    seen.sort_by_key(|v| format!("{v:?}"));
    assert_eq!(
        seen,
        vec![
            push(&["unsubscribe", "news"], 2),
            push(&["unsubscribe", "sport"], 1)
        ]
    );
    sub.send_bytes(b"PUNSUBSCRIBE\r\n");
    assert_eq!(sub.read(), push(&["punsubscribe", "n*"], 0));
    // Back to normal mode.
    assert_eq!(sub.cmd(&["SET", "k", "v"]), V::Status("OK".into()));
    sub.send_bytes(b"UNSUBSCRIBE\r\n");
    assert_eq!(
        sub.read(),
        V::Array(vec![V::bulk("unsubscribe"), V::Nil, V::Int(0)])
    );
    assert_eq!(publisher.cmd(&["PUBSUB", "NUMPAT"]), V::Int(0));
}

#[test]
fn resp3_subscribers_get_pushes_and_keep_normal_commands() {
    let s = Server::start();
    let mut sub = s.raw();
    sub.cmd(&["HELLO", "3"]);
    sub.send_bytes(b"SUBSCRIBE ch\r\n");
    assert_eq!(
        sub.read(),
        V::Push(vec![V::bulk("subscribe"), V::bulk("ch"), V::Int(1)])
    );
    assert_eq!(sub.cmd(&["SET", "k", "v"]), V::Status("OK".into()));
    s.raw().cmd(&["PUBLISH", "ch", "m"]);
    assert_eq!(
        sub.read(),
        V::Push(vec![V::bulk("message"), V::bulk("ch"), V::bulk("m")])
    );
}

#[test]
fn disconnected_subscribers_are_forgotten_and_order_is_kept() {
    let s = Server::start();
    let mut gone = s.raw();
    gone.send_bytes(b"SUBSCRIBE ch\r\n");
    gone.read();
    drop(gone);
    eventually("subscriber forgotten", Duration::from_secs(10), || {
        s.raw().cmd(&["PUBSUB", "NUMSUB", "ch"]) == V::Array(vec![V::bulk("ch"), V::Int(0)])
    });
    let mut subs: Vec<_> = (0..5)
        .map(|_| {
            let mut r = s.raw();
            r.send_bytes(b"SUBSCRIBE ch\r\n");
            r.read();
            r
        })
        .collect();
    let mut publisher = s.raw();
    for i in 0..500 {
        assert_eq!(publisher.cmd(&["PUBLISH", "ch", &i.to_string()]), V::Int(5));
    }
    for sub in &mut subs {
        for i in 0..500 {
            assert_eq!(
                sub.read(),
                V::Array(vec![
                    V::bulk("message"),
                    V::bulk("ch"),
                    V::bulk(&i.to_string())
                ])
            );
        }
    }
}

#[test]
fn shard_channels() {
    let s = Server::start();
    let mut sub = s.raw();
    sub.send_bytes(b"SSUBSCRIBE orders\r\n");
    assert_eq!(sub.read(), push(&["ssubscribe", "orders"], 1));
    let mut p = s.raw();
    assert_eq!(p.cmd(&["PUBLISH", "orders", "not-shard"]), V::Int(0));
    assert_eq!(p.cmd(&["SPUBLISH", "orders", "o1"]), V::Int(1));
    assert_eq!(
        sub.read(),
        V::Array(vec![V::bulk("smessage"), V::bulk("orders"), V::bulk("o1")])
    );
    assert_eq!(
        p.cmd(&["PUBSUB", "SHARDCHANNELS"]),
        V::Array(vec![V::bulk("orders")])
    );
    assert_eq!(
        p.cmd(&["PUBSUB", "SHARDNUMSUB", "orders"]),
        V::Array(vec![V::bulk("orders"), V::Int(1)])
    );
    assert!(sub
        .err(&["GET", "x"])
        .starts_with("ERR Can't execute 'get'"));
    sub.send_bytes(b"SUNSUBSCRIBE\r\n");
    assert_eq!(sub.read(), push(&["sunsubscribe", "orders"], 0));
    assert_eq!(sub.cmd(&["GET", "x"]), V::Nil);
}

#[test]
fn keyspace_notifications() {
    let s = Server::start();
    let mut admin = s.raw();
    assert_eq!(
        admin.cmd(&["CONFIG", "SET", "notify-keyspace-events", "KEA"]),
        V::Status("OK".into())
    );
    assert_eq!(
        admin.cmd(&["CONFIG", "GET", "notify-keyspace-events"]),
        V::Array(vec![V::bulk("notify-keyspace-events"), V::bulk("AKE")])
    );
    assert!(admin
        .err(&["CONFIG", "SET", "notify-keyspace-events", "Kq"])
        .contains("Invalid event class character"));
    let mut sub = s.raw();
    sub.send_bytes(b"PSUBSCRIBE __key*__:*\r\n");
    sub.read();
    let mut w = s.raw();
    w.cmd(&["SET", "k", "v"]);
    let event = |ch: &str, data: &str| {
        V::Array(vec![
            V::bulk("pmessage"),
            V::bulk("__key*__:*"),
            V::bulk(ch),
            V::bulk(data),
        ])
    };
    assert_eq!(sub.read(), event("__keyspace@0__:k", "set"));
    assert_eq!(sub.read(), event("__keyevent@0__:set", "k"));
    w.cmd(&["LPUSH", "l", "a"]);
    assert_eq!(sub.read(), event("__keyspace@0__:l", "lpush"));
    assert_eq!(sub.read(), event("__keyevent@0__:lpush", "l"));
    w.cmd(&["INCR", "n"]);
    assert_eq!(sub.read(), event("__keyspace@0__:n", "incrby"));
    assert_eq!(sub.read(), event("__keyevent@0__:incrby", "n"));
    w.cmd(&["RENAME", "n", "m"]);
    assert_eq!(sub.read(), event("__keyspace@0__:n", "rename_from"));
    assert_eq!(sub.read(), event("__keyevent@0__:rename_from", "n"));
    assert_eq!(sub.read(), event("__keyspace@0__:m", "rename_to"));
    assert_eq!(sub.read(), event("__keyevent@0__:rename_to", "m"));
    // A collection emptied by a pop reports the pop and then `del`.
    w.cmd(&["RPOP", "l"]);
    assert_eq!(sub.read(), event("__keyspace@0__:l", "rpop"));
    assert_eq!(sub.read(), event("__keyevent@0__:rpop", "l"));
    assert_eq!(sub.read(), event("__keyspace@0__:l", "del"));
    assert_eq!(sub.read(), event("__keyevent@0__:del", "l"));
    // Only the expired class, only keyevent: active expiry fires `expired`.
    admin.cmd(&["CONFIG", "SET", "notify-keyspace-events", "Ex"]);
    w.cmd(&["SET", "lease", "x", "PX", "20"]);
    w.cmd(&["SET", "ignored", "x"]);
    assert_eq!(sub.read(), event("__keyevent@0__:expired", "lease"));
}

#[test]
fn fifty_clients_on_twenty_channels_receive_everything_in_order() {
    const SUBSCRIBERS: usize = 25;
    const PUBLISHERS: usize = 25;
    const CHANNELS: usize = 20;
    const PER_PUBLISHER: usize = 40;
    let s = Server::start();
    let channels: Vec<String> = (0..CHANNELS).map(|c| format!("ch{c}")).collect();
    let mut subs: Vec<crate::harness::Raw> = (0..SUBSCRIBERS)
        .map(|_| {
            let mut r = s.raw();
            let mut cmd = vec!["SUBSCRIBE"];
            cmd.extend(channels.iter().map(String::as_str));
            let bytes: Vec<&[u8]> = cmd.iter().map(|c| c.as_bytes()).collect();
            r.send_bytes(&crate::harness::Raw::encode(&bytes));
            for _ in 0..CHANNELS {
                r.read();
            }
            r
        })
        .collect();
    let publishers: Vec<_> = (0..PUBLISHERS)
        .map(|p| {
            let addr = s.addr.clone();
            std::thread::spawn(move || {
                let mut r = crate::harness::Raw::connect(&addr);
                for seq in 0..PER_PUBLISHER {
                    let channel = format!("ch{}", (p + seq) % CHANNELS);
                    assert_eq!(
                        r.cmd(&["PUBLISH", &channel, &format!("{p}:{seq}")]),
                        V::Int(SUBSCRIBERS as i64)
                    );
                }
            })
        })
        .collect();
    for p in publishers {
        p.join().unwrap();
    }
    let mut delivered = 0;
    for sub in &mut subs {
        let mut last_seq = [-1i64; PUBLISHERS];
        for _ in 0..PUBLISHERS * PER_PUBLISHER {
            let V::Array(msg) = sub.read() else {
                panic!("not a message")
            };
            let payload = msg[2].text();
            let (p, seq) = payload.split_once(':').unwrap();
            let (p, seq): (usize, i64) = (p.parse().unwrap(), seq.parse().unwrap());
            assert!(
                seq > last_seq[p],
                "publisher {p}'s messages arrived out of order"
            );
            last_seq[p] = seq;
            delivered += 1;
        }
    }
    println!("{delivered} messages delivered to {SUBSCRIBERS} subscribers from {PUBLISHERS} publishers on {CHANNELS} channels");
    assert_eq!(delivered, SUBSCRIBERS * PUBLISHERS * PER_PUBLISHER);
}
