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
    let latest_b = b.cmd(&["LATENCY", "LATEST"]);
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
    assert_eq!(b.cmd(&["LATENCY", "RESET"]), a.cmd(&["LATENCY", "RESET"]));
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
    ] {
        let mut a = Raw::connect_unix(&redis.socket);
        assert_eq!(r.cmd(&args), a.cmd(&args), "{args:?}");
    }
}
