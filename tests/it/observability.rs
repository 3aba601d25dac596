//! SLOWLOG, LATENCY, MONITOR, CLIENT PAUSE and INFO sections, side by side with a real
//! `redis-server`: the same command sequences go to both, and the replies are compared
//! structurally with what depends on timing or addresses masked (ids, timestamps,
//! durations, client addresses).

use std::time::{Duration, Instant};

use crate::differential::RealRedis;
use crate::harness::{eventually, Raw, Server, V};

/// Both servers: (redis, strata) raw connections.
fn pair() -> Option<(RealRedis, Server)> {
    let redis = RealRedis::start()?;
    Some((redis, Server::start()))
}

fn on_both(redis: &RealRedis, strata: &Server) -> (Raw, Raw) {
    (Raw::connect_unix(&redis.socket), strata.raw())
}

/// The argument lists of `SLOWLOG GET -1`, oldest first, with the entry shape checked.
fn slow_entries(r: &mut Raw) -> Vec<Vec<String>> {
    let V::Array(entries) = r.cmd(&["SLOWLOG", "GET", "-1"]) else {
        panic!("SLOWLOG GET is an array")
    };
    let mut out: Vec<Vec<String>> = entries
        .into_iter()
        .map(|e| {
            let V::Array(fields) = e else {
                panic!("entry {e:?}")
            };
            assert_eq!(fields.len(), 6, "id, time, duration, args, addr, name");
            assert!(matches!(fields[0], V::Int(_)));
            assert!(matches!(fields[1], V::Int(t) if t > 1_600_000_000));
            assert!(matches!(fields[2], V::Int(d) if d >= 0));
            assert!(matches!(fields[4], V::Bulk(_)));
            let V::Array(args) = &fields[3] else { panic!() };
            let mut shown: Vec<String> = args.iter().map(V::text).collect();
            shown.push(format!("name={}", fields[5].text()));
            shown
        })
        .collect();
    out.reverse();
    out
}

#[test]
fn slowlog_entries_match_redis() {
    let Some((redis, strata)) = pair() else {
        return;
    };
    let (mut a, mut b) = on_both(&redis, &strata);
    let long = "x".repeat(200);
    let many: Vec<String> = (0..40).map(|i| format!("k{i}")).collect();
    let mut del: Vec<&str> = vec!["DEL"];
    del.extend(many.iter().map(String::as_str));
    let script: Vec<Vec<&str>> = vec![
        vec!["SET", "k", &long],
        del.clone(),
        vec!["AUTH", "someone", "secret"],
        vec!["HELLO", "2", "AUTH", "default", "wrong"],
        vec!["CLIENT", "SETNAME", "worker"],
        vec!["MULTI"],
        vec!["SET", "a", "1"],
        vec!["INCR", "a"],
        vec!["EXEC"],
        vec!["EVAL", "return redis.call('get', 'a')", "0"],
        vec!["GET"],
        vec!["CONFIG", "SET", "slowlog-log-slower-than", "-1"],
        vec!["SET", "not", "logged"],
    ];
    for r in [&mut a, &mut b] {
        r.cmd(&["CONFIG", "SET", "slowlog-log-slower-than", "0"]);
        r.cmd(&["SLOWLOG", "RESET"]);
        for line in &script {
            r.cmd(line);
        }
    }
    let expected = slow_entries(&mut a);
    let got = slow_entries(&mut b);
    assert_eq!(got, expected);
    assert_eq!(b.cmd(&["SLOWLOG", "LEN"]), a.cmd(&["SLOWLOG", "LEN"]));
    assert_eq!(
        b.err(&["SLOWLOG", "GET", "-2"]),
        a.err(&["SLOWLOG", "GET", "-2"])
    );
    assert_eq!(
        b.err(&["SLOWLOG", "GET", "x"]),
        a.err(&["SLOWLOG", "GET", "x"])
    );
    for r in [&mut a, &mut b] {
        r.cmd(&["CONFIG", "SET", "slowlog-max-len", "2"]);
        r.cmd(&["CONFIG", "SET", "slowlog-log-slower-than", "0"]);
        for i in 0..5 {
            r.cmd(&["SET", "n", &i.to_string()]);
        }
    }
    assert_eq!(slow_entries(&mut b), slow_entries(&mut a));
    assert_eq!(b.cmd(&["SLOWLOG", "RESET"]), a.cmd(&["SLOWLOG", "RESET"]));
}

/// The shape of a LATENCY LATEST / HISTORY reply with the numbers masked: event names and
/// array lengths stay.
fn mask_numbers(v: &V) -> V {
    match v {
        V::Int(_) => V::Int(0),
        V::Array(items) => V::Array(items.iter().map(mask_numbers).collect()),
        other => other.clone(),
    }
}

/// LATENCY LATEST without Strata's `runtime-stall` event: it records scheduling delays, which
/// a test machine running other tests may or may not have.
fn without_runtime_stalls(latest: V) -> V {
    match latest {
        V::Array(events) => V::Array(
            events
                .into_iter()
                .filter(
                    |e| !matches!(e, V::Array(f) if f.first() == Some(&V::bulk("runtime-stall"))),
                )
                .collect(),
        ),
        other => other,
    }
}

#[test]
fn latency_monitor_matches_redis() {
    let Some((redis, strata)) = pair() else {
        return;
    };
    let (mut a, mut b) = on_both(&redis, &strata);
    for r in [&mut a, &mut b] {
        assert_eq!(
            r.cmd(&["CONFIG", "SET", "latency-monitor-threshold", "20"]),
            V::Status("OK".into())
        );
        r.cmd(&["DEBUG", "SLEEP", "0.05"]);
    }
    let latest_a = a.cmd(&["LATENCY", "LATEST"]);
    let latest_b = without_runtime_stalls(b.cmd(&["LATENCY", "LATEST"]));
    assert_eq!(mask_numbers(&latest_b), mask_numbers(&latest_a));
    let V::Array(events) = &latest_b else {
        panic!()
    };
    let V::Array(command) = &events[0] else {
        panic!()
    };
    assert_eq!(command[0], V::bulk("command"));
    assert!(matches!(command[2], V::Int(ms) if ms >= 50), "{command:?}");
    assert_eq!(
        mask_numbers(&b.cmd(&["LATENCY", "HISTORY", "command"])),
        mask_numbers(&a.cmd(&["LATENCY", "HISTORY", "command"]))
    );
    assert_eq!(
        b.cmd(&["LATENCY", "HISTORY", "nothing-here"]),
        a.cmd(&["LATENCY", "HISTORY", "nothing-here"])
    );
    let graph = b.cmd(&["LATENCY", "GRAPH", "command"]).text();
    assert!(graph.starts_with("command - high "), "{graph}");
    assert_eq!(
        b.cmd(&["LATENCY", "RESET", "command"]),
        a.cmd(&["LATENCY", "RESET", "command"])
    );
    assert_eq!(
        b.err(&["LATENCY", "GRAPH", "command"]),
        a.err(&["LATENCY", "GRAPH", "command"])
    );
    // Not a bare RESET: it counts every event, and a loaded test machine may have recorded
    // a scheduling delay (Strata's runtime-stall) meanwhile.
    let reset = ["LATENCY", "RESET", "command", "fast-command"];
    assert_eq!(b.cmd(&reset), a.cmd(&reset));
    // Per-command histograms: the same calls, the same bucket structure.
    for r in [&mut a, &mut b] {
        r.cmd(&["CONFIG", "RESETSTAT"]);
        for i in 0..5 {
            r.cmd(&["SET", "h", &i.to_string()]);
        }
    }
    let histogram = |r: &mut Raw| match r.cmd(&["LATENCY", "HISTOGRAM", "set", "nosuchcmd"]) {
        V::Array(items) => {
            assert_eq!(items.len(), 2, "{items:?}");
            assert_eq!(items[0], V::bulk("set"));
            let V::Array(fields) = &items[1] else {
                panic!()
            };
            assert_eq!(fields[0], V::bulk("calls"));
            assert_eq!(fields[2], V::bulk("histogram_usec"));
            let V::Array(buckets) = &fields[3] else {
                panic!()
            };
            let last = buckets.last().cloned();
            (fields[1].clone(), last)
        }
        other => panic!("{other:?}"),
    };
    let (calls_a, last_a) = histogram(&mut a);
    let (calls_b, last_b) = histogram(&mut b);
    assert_eq!(calls_b, calls_a);
    assert_eq!(calls_b, V::Int(5));
    assert_eq!(last_b, last_a, "the last bucket counts every call");
    let info = b.cmd(&["INFO", "latencystats"]).text();
    assert!(info.contains("latency_percentiles_usec_set:p50="), "{info}");
}

/// Reads MONITOR lines until one contains `until`; masks the timestamp and the client
/// address (`lua` stays).
fn monitor_lines(m: &mut Raw, until: &str) -> Vec<String> {
    let mut out = Vec::new();
    loop {
        let V::Status(line) = m.read() else {
            panic!("MONITOR lines are status replies")
        };
        let (stamp, rest) = line.split_once(' ').expect("timestamp");
        assert!(stamp.contains('.') && stamp.len() > 10, "{stamp}");
        let (origin, args) = rest.split_once("] ").expect("origin");
        let origin = if origin.ends_with(" lua") {
            origin.to_string()
        } else {
            format!("{} client", origin.split(' ').next().unwrap())
        };
        let masked = format!("{origin}] {args}");
        let done = masked.contains(until);
        out.push(masked);
        if done {
            return out;
        }
    }
}

#[test]
fn monitor_lines_match_redis() {
    let Some((redis, strata)) = pair() else {
        return;
    };
    let mut lines = Vec::new();
    for connect in [
        Box::new(|| Raw::connect_unix(&redis.socket)) as Box<dyn Fn() -> Raw>,
        Box::new(|| strata.raw()),
    ] {
        let mut m = connect();
        assert_eq!(m.cmd(&["MONITOR"]), V::Status("OK".into()));
        let mut c = connect();
        for line in [
            vec!["SET", "k", "a b\"c\nd\u{1}"],
            vec!["MULTI"],
            vec!["SET", "a", "1"],
            vec!["INCR", "a"],
            vec!["EXEC"],
            vec!["EVAL", "redis.call('set', 'x', '1') return 1", "0"],
            vec!["AUTH", "user", "pass"],
            vec!["CONFIG", "SET", "requirepass", ""],
            vec!["SELECT", "3"],
            vec!["NOSUCHCOMMAND"],
            vec!["GET"],
            vec!["GET", "the-end"],
        ] {
            c.cmd(&line);
        }
        lines.push(monitor_lines(&mut m, "the-end"));
    }
    assert_eq!(lines[1], lines[0]);
}

#[test]
fn client_pause_holds_writes_and_matches_redis_errors() {
    let Some((redis, strata)) = pair() else {
        return;
    };
    let (mut a, mut b) = on_both(&redis, &strata);
    for args in [
        vec!["CLIENT", "PAUSE", "abc"],
        vec!["CLIENT", "PAUSE", "-1"],
        vec!["CLIENT", "PAUSE", "10", "SOMETIMES"],
        vec!["CLIENT", "PAUSE", "10", "WRITE", "extra"],
    ] {
        assert_eq!(b.cmd(&args), a.cmd(&args), "{args:?}");
    }
    assert_eq!(b.cmd(&["CLIENT", "UNPAUSE"]), a.cmd(&["CLIENT", "UNPAUSE"]));

    // WRITE: reads go on, a write waits until UNPAUSE and then runs.
    let mut admin = strata.raw();
    assert_eq!(
        admin.cmd(&["CLIENT", "PAUSE", "100000", "WRITE"]),
        V::Status("OK".into())
    );
    let addr = strata.addr.clone();
    let writer = std::thread::spawn(move || Raw::connect(&addr).cmd(&["SET", "k", "v"]));
    let mut reader = strata.raw();
    eventually("the write is held back", Duration::from_secs(10), || {
        let clients = reader.cmd(&["CLIENT", "LIST"]).text();
        clients.contains("cmd=set") || clients.lines().count() >= 3
    });
    assert_eq!(
        reader.cmd(&["GET", "k"]),
        V::Nil,
        "the held SET has not run"
    );
    assert_eq!(reader.cmd(&["PING"]), V::Status("PONG".into()));
    assert_eq!(admin.cmd(&["CLIENT", "UNPAUSE"]), V::Status("OK".into()));
    assert_eq!(writer.join().unwrap(), V::Status("OK".into()));
    assert_eq!(reader.cmd(&["GET", "k"]), V::bulk("v"));

    // ALL: even PING waits, the pausing client's included, until the timeout.
    let started = Instant::now();
    assert_eq!(
        admin.cmd(&["CLIENT", "PAUSE", "300", "ALL"]),
        V::Status("OK".into())
    );
    assert_eq!(admin.cmd(&["PING"]), V::Status("PONG".into()));
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "PING ran during an ALL pause"
    );
}

#[test]
fn info_has_every_redis_section() {
    let Some((redis, strata)) = pair() else {
        return;
    };
    let (mut a, mut b) = on_both(&redis, &strata);
    let headers = |r: &mut Raw, arg: &str| -> Vec<String> {
        r.cmd(&["INFO", arg])
            .text()
            .lines()
            .filter(|l| l.starts_with('#'))
            .map(str::to_string)
            .collect()
    };
    for section in ["default", "all", "everything"] {
        // Every section Redis lists (it has modules' sections in everything, none loaded).
        assert_eq!(
            headers(&mut b, section),
            headers(&mut a, section),
            "{section}"
        );
    }
    // Every field Redis has in each section, by name.
    let fields = |r: &mut Raw, section: &str| -> Vec<String> {
        r.cmd(&["INFO", section])
            .text()
            .lines()
            .filter(|l| !l.starts_with('#') && l.contains(':'))
            .map(|l| l.split(':').next().unwrap().to_string())
            .collect()
    };
    for section in [
        "server",
        "clients",
        "memory",
        "persistence",
        "stats",
        "replication",
        "cpu",
        "cluster",
    ] {
        let ours = fields(&mut b, section);
        let missing: Vec<String> = fields(&mut a, section)
            .into_iter()
            .filter(|f| !ours.contains(f))
            .collect();
        assert!(missing.is_empty(), "INFO {section} lacks {missing:?}");
    }
    for r in [&mut a, &mut b] {
        r.cmd(&["CONFIG", "RESETSTAT"]);
        r.cmd(&["SET", "s", "v"]);
        r.cmd(&["LPUSH", "s", "x"]);
        r.cmd(&["NOSUCHCOMMAND"]);
    }
    let errorstats = |r: &mut Raw| -> Vec<String> {
        r.cmd(&["INFO", "errorstats"])
            .text()
            .lines()
            .filter(|l| l.starts_with("errorstat_"))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(errorstats(&mut b), errorstats(&mut a));
}

/// Sends `PING` on `r` and returns every message that arrived before its reply.
fn messages_before_pong(r: &mut Raw) -> Vec<V> {
    r.send_bytes(&Raw::encode(&[b"PING"]));
    let mut out = Vec::new();
    loop {
        match r.read() {
            V::Status(s) if s == "PONG" => return out,
            other => out.push(other),
        }
    }
}

/// The tracking scenarios: each returns the messages the tracking (or redirect) client got.
fn tracking_scenarios(connect: &dyn Fn() -> Raw) -> Vec<(String, Vec<V>)> {
    let mut results = Vec::new();
    let mut writer = connect();
    let resp3 = || {
        let mut c = connect();
        c.cmd(&["HELLO", "3"]);
        c
    };

    // RESP3 push, default mode: a read key is invalidated once, by another client's write.
    let mut c = resp3();
    writer.cmd(&["FLUSHALL"]);
    c.cmd(&["CLIENT", "TRACKING", "ON"]);
    c.cmd(&["GET", "k"]);
    c.cmd(&["MGET", "k", "j"]);
    writer.cmd(&["SET", "k", "1"]);
    writer.cmd(&["SET", "k", "2"]);
    writer.cmd(&["SET", "unread", "2"]);
    results.push(("default".to_string(), messages_before_pong(&mut c)));
    c.cmd(&["GET", "j"]);
    writer.cmd(&["FLUSHALL"]);
    results.push(("flush".to_string(), messages_before_pong(&mut c)));
    results.push((
        "trackinginfo".to_string(),
        vec![
            c.cmd(&["CLIENT", "TRACKINGINFO"]),
            c.cmd(&["CLIENT", "GETREDIR"]),
        ],
    ));

    // RESP2 redirect to a __redis__:invalidate subscriber.
    let mut sub = connect();
    let V::Int(sub_id) = sub.cmd(&["CLIENT", "ID"]) else {
        panic!()
    };
    sub.cmd(&["SUBSCRIBE", "__redis__:invalidate"]);
    let mut c2 = connect();
    let id = sub_id.to_string();
    c2.cmd(&["CLIENT", "TRACKING", "ON", "REDIRECT", &id]);
    c2.cmd(&["GET", "r"]);
    writer.cmd(&["SET", "r", "1"]);
    writer.cmd(&["PUBLISH", "nothing", "x"]);
    let V::Array(message) = sub.read() else {
        panic!("the subscriber gets a message")
    };
    results.push(("redirect".to_string(), message));
    results.push((
        "getredir".to_string(),
        vec![V::Status(
            c2.cmd(&["CLIENT", "GETREDIR"]).text().replace(&id, "ID"),
        )],
    ));

    // BCAST with a prefix and NOLOOP: only other clients' writes under the prefix.
    let mut b = resp3();
    b.cmd(&[
        "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "a:", "NOLOOP",
    ]);
    b.cmd(&["SET", "a:own", "x"]);
    writer.cmd(&["SET", "b:1", "x"]);
    writer.cmd(&["SET", "a:2", "y"]);
    writer.cmd(&["DEL", "a:2"]);
    results.push(("bcast".to_string(), messages_before_pong(&mut b)));

    // OPTIN: only reads after CLIENT CACHING YES are tracked.
    let mut o = resp3();
    o.cmd(&["CLIENT", "TRACKING", "ON", "OPTIN"]);
    o.cmd(&["GET", "x"]);
    o.cmd(&["CLIENT", "CACHING", "YES"]);
    o.cmd(&["GET", "y"]);
    o.cmd(&["GET", "z"]);
    writer.cmd(&["MSET", "x", "1", "y", "1", "z", "1"]);
    results.push(("optin".to_string(), messages_before_pong(&mut o)));

    // OPTOUT: every read but those after CLIENT CACHING NO.
    let mut n = resp3();
    n.cmd(&["CLIENT", "TRACKING", "ON", "OPTOUT"]);
    n.cmd(&["CLIENT", "CACHING", "NO"]);
    n.cmd(&["GET", "p"]);
    n.cmd(&["GET", "q"]);
    writer.cmd(&["MSET", "p", "1", "q", "1"]);
    results.push(("optout".to_string(), messages_before_pong(&mut n)));

    // Turning tracking off stops the messages.
    c.cmd(&["CLIENT", "TRACKING", "OFF"]);
    c.cmd(&["GET", "k"]);
    writer.cmd(&["SET", "k", "3"]);
    results.push(("off".to_string(), messages_before_pong(&mut c)));
    results
}

#[test]
fn client_tracking_matches_redis() {
    let Some((redis, strata)) = pair() else {
        return;
    };
    let expected = tracking_scenarios(&|| Raw::connect_unix(&redis.socket));
    let got = tracking_scenarios(&|| strata.raw());
    for ((name, want), (_, have)) in expected.iter().zip(&got) {
        assert_eq!(have, want, "scenario {name}");
    }
    let mut r = strata.raw();
    let mut a = Raw::connect_unix(&redis.socket);
    for args in [
        vec!["CLIENT", "TRACKING", "maybe"],
        vec!["CLIENT", "TRACKING", "ON", "PREFIX", "a"],
        vec!["CLIENT", "TRACKING", "ON", "OPTIN", "OPTOUT"],
        vec!["CLIENT", "TRACKING", "ON", "BCAST", "OPTIN"],
        vec!["CLIENT", "TRACKING", "ON", "REDIRECT", "999999"],
        vec![
            "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "a", "PREFIX", "ab",
        ],
        vec!["CLIENT", "CACHING", "YES"],
        // Prefixes accumulate across ON calls and may not overlap the registered ones.
        vec!["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "user:"],
        vec!["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "user:"],
        vec!["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "user:1"],
        vec!["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "order:"],
        vec!["CLIENT", "TRACKINGINFO"],
        vec!["CLIENT", "TRACKING", "OFF"],
        // A pipelined OPTOUT client: CLIENT CACHING NO covers only the next command.
        vec!["CLIENT", "TRACKING", "ON", "OPTOUT"],
        vec!["CLIENT", "CACHING", "NO"],
        vec!["GET", "untracked"],
        vec!["GET", "tracked"],
        vec!["CLIENT", "TRACKINGINFO"],
    ] {
        assert_eq!(r.cmd(&args), a.cmd(&args), "{args:?}");
    }
    // Pipelined: the same reads, then another client's writes reach only `tracked`.
    for (c, w) in [
        (&mut r, &mut strata.raw()),
        (&mut a, &mut Raw::connect_unix(&redis.socket)),
    ] {
        c.cmd(&["HELLO", "3"]);
        let mut pipeline = Raw::encode(&[b"CLIENT", b"CACHING", b"NO"]);
        pipeline.extend(Raw::encode(&[b"GET", b"p1"]));
        pipeline.extend(Raw::encode(&[b"GET", b"p2"]));
        pipeline.extend(Raw::encode(&[b"GET", b"p3"]));
        c.send_bytes(&pipeline);
        for _ in 0..4 {
            c.read();
        }
        w.cmd(&[
            "MSET",
            "p1",
            "1",
            "p2",
            "1",
            "p3",
            "1",
            "tracked",
            "1",
            "untracked",
            "1",
        ]);
    }
    assert_eq!(messages_before_pong(&mut r), messages_before_pong(&mut a));
}

/// `CLIENT INFO` as (field, value) pairs.
type Fields = Vec<(String, String)>;

/// `CLIENT INFO` as (field, value) pairs, with what depends on the connection or on time
/// masked.
fn client_info_fields(r: &mut Raw) -> Fields {
    const MASKED: &[&str] = &[
        "id",
        "addr",
        "laddr",
        "fd",
        "age",
        "idle",
        "qbuf",
        "qbuf-free",
        "argv-mem",
        "multi-mem",
        "rbs",
        "rbp",
        "obl",
        "oll",
        "omem",
        "tot-mem",
        "events",
    ];
    let line = r.cmd(&["CLIENT", "INFO"]).text();
    line.split_whitespace()
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            let v = if MASKED.contains(&k) {
                "*".to_string()
            } else if k == "flags" {
                // The reference server is reached over a Unix socket (flag U).
                let f = v.replace('U', "");
                if f.is_empty() {
                    "N".to_string()
                } else {
                    f
                }
            } else {
                v.to_string()
            };
            (k.to_string(), v)
        })
        // Redis 7.2's library fields; 7.0 (the reference here) does not print them.
        .filter(|(k, _)| k != "lib-name" && k != "lib-ver")
        .collect()
}

#[test]
fn client_info_matches_redis() {
    let Some((redis, strata)) = pair() else {
        return;
    };
    let (mut a, mut b) = on_both(&redis, &strata);
    let mut states: Vec<(Fields, Fields)> = Vec::new();
    let mut both = |steps: &[&[&str]], states: &mut Vec<_>| {
        for step in steps {
            a.cmd(step);
            b.cmd(step);
        }
        states.push((client_info_fields(&mut a), client_info_fields(&mut b)));
    };
    both(&[], &mut states);
    both(
        &[
            &["CLIENT", "SETNAME", "worker"],
            &["SELECT", "2"],
            &["CLIENT", "NO-EVICT", "on"],
        ],
        &mut states,
    );
    both(&[&["CLIENT", "TRACKING", "ON"]], &mut states);
    both(
        &[&["CLIENT", "TRACKING", "OFF"], &["HELLO", "3"]],
        &mut states,
    );
    // One channel each: every (un)subscribe answers one frame.
    both(&[&["SUBSCRIBE", "c1"], &["PSUBSCRIBE", "p*"]], &mut states);
    both(
        &[&["UNSUBSCRIBE", "c1"], &["PUNSUBSCRIBE", "p*"]],
        &mut states,
    );
    for (expected, got) in &states {
        assert_eq!(got, expected);
    }
    // Inside MULTI, CLIENT INFO is queued: CLIENT LIST from another connection shows it.
    let mut a2 = Raw::connect_unix(&redis.socket);
    let mut b2 = strata.raw();
    for r in [&mut a2, &mut b2] {
        r.cmd(&["CLIENT", "SETNAME", "txn"]);
        r.cmd(&["MULTI"]);
        r.cmd(&["SET", "k", "v"]);
        r.cmd(&["GET", "k"]);
    }
    let line_of = |r: &mut Raw| -> String {
        let list = r.cmd(&["CLIENT", "LIST"]).text();
        let line = list
            .lines()
            .find(|l| l.contains("name=txn"))
            .unwrap()
            .to_string();
        line.split_whitespace()
            .filter(|kv| {
                ["flags", "multi", "cmd"]
                    .iter()
                    .any(|k| kv.starts_with(&format!("{k}=")))
            })
            .collect::<Vec<_>>()
            .join(" ")
            .replace('U', "")
    };
    let mut a3 = Raw::connect_unix(&redis.socket);
    let mut b3 = strata.raw();
    assert_eq!(line_of(&mut b3), line_of(&mut a3));
}

#[test]
fn pushes_pass_client_reply_off_like_redis() {
    let Some((redis, strata)) = pair() else {
        return;
    };
    let mut frames = Vec::new();
    for connect in [
        Box::new(|| Raw::connect_unix(&redis.socket)) as Box<dyn Fn() -> Raw>,
        Box::new(|| strata.raw()),
    ] {
        let mut sub = connect();
        sub.cmd(&["HELLO", "3"]);
        sub.send_bytes(&Raw::encode(&[b"CLIENT", b"REPLY", b"OFF"]));
        sub.send_bytes(&Raw::encode(&[b"SUBSCRIBE", b"ch"]));
        let mut publisher = connect();
        eventually("the subscription", Duration::from_secs(10), || {
            publisher.cmd(&["PUBSUB", "NUMSUB", "ch"]) == V::Array(vec![V::bulk("ch"), V::Int(1)])
        });
        assert_eq!(publisher.cmd(&["PUBLISH", "ch", "hi"]), V::Int(1));
        frames.push(vec![sub.read(), sub.read()]);
    }
    assert_eq!(frames[1], frames[0]);
}
