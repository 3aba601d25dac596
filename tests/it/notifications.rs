//! Side effects of writes, against a real `redis-server`: for every scenario in
//! `notification_scenarios.txt`, the keyspace events each command publishes (with
//! `notify-keyspace-events KEAn`, new-key events included) and which `WATCH`ed keys it
//! invalidates must be the same as Redis's. Together the scenarios cover every write command in the table (checked against
//! `COMMAND INFO`), including the no-ops that must fire nothing: `SETNX` on an existing key,
//! `DEL` of a missing key, the source keys of `*STORE`, `RENAME` to itself, ...
//!
//! Events are collected without sleeping: after each command, another connection publishes
//! a marker to a channel the subscriber also listens on, and the subscriber reads until the
//! marker arrives (every server publishes a command's events before answering it).

use std::collections::BTreeSet;

use crate::differential::RealRedis;
use crate::harness::{Raw, Server, V};

const SCENARIOS: &str = include_str!("notification_scenarios.txt");

/// Write commands the scenarios cannot compare, with the reason.
const NOT_COMPARED: &[(&str, &str)] = &[
    ("hexpire", "not in redis-server 7.0 (Redis 7.4)"),
    ("hpexpire", "not in redis-server 7.0 (Redis 7.4)"),
    ("hexpireat", "not in redis-server 7.0 (Redis 7.4)"),
    ("hpexpireat", "not in redis-server 7.0 (Redis 7.4)"),
    ("hpersist", "not in redis-server 7.0 (Redis 7.4)"),
    ("hgetdel", "not in redis-server 7.0 (Redis 8.0)"),
    ("hgetex", "not in redis-server 7.0 (Redis 8.0)"),
    ("hsetex", "not in redis-server 7.0 (Redis 8.0)"),
];

struct Scenario {
    lines: Vec<String>,
    /// How many of the last lines are the command under test.
    command_lines: usize,
    watch: Option<Vec<String>>,
    differs: Option<String>,
}

impl Scenario {
    fn setup(&self) -> &[String] {
        &self.lines[..self.lines.len() - self.command_lines]
    }
    fn command(&self) -> &[String] {
        &self.lines[self.lines.len() - self.command_lines..]
    }
    fn title(&self) -> String {
        self.lines.join(" / ")
    }
}

fn scenarios() -> Vec<Scenario> {
    let mut out = Vec::new();
    for block in SCENARIOS.split("\n\n") {
        let mut s = Scenario {
            lines: Vec::new(),
            command_lines: 1,
            watch: None,
            differs: None,
        };
        for line in block.lines().map(str::trim).filter(|l| !l.is_empty()) {
            if let Some(n) = line.strip_prefix("#!cmd ") {
                s.command_lines = n.trim().parse().expect("#!cmd count");
            } else if let Some(keys) = line.strip_prefix("#!watch ") {
                s.watch = Some(keys.split_whitespace().map(String::from).collect());
            } else if let Some(reason) = line.strip_prefix("#!differs ") {
                s.differs = Some(reason.to_string());
            } else if !line.starts_with('#') {
                s.lines.push(line.to_string());
            }
        }
        if !s.lines.is_empty() {
            assert!(
                s.command_lines <= s.lines.len(),
                "bad #!cmd in {}",
                s.title()
            );
            out.push(s);
        }
    }
    out
}

fn args(line: &str) -> Vec<Vec<u8>> {
    strata::protocol::split_args(line.as_bytes()).expect("valid scenario line")
}

fn send(conn: &mut Raw, line: &str) -> V {
    let args = args(line);
    let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
    conn.send_bytes(&Raw::encode(&refs));
    conn.try_read()
        .unwrap_or_else(|| panic!("connection closed at {line}"))
}

/// The connections of one server: `main` runs the scenarios, `control` publishes markers
/// (and changes configuration), `events` is subscribed to every keyspace channel and the
/// marker channel, `watcher` holds the WATCHes.
struct Side {
    name: &'static str,
    main: Raw,
    control: Raw,
    events: Raw,
    watcher: Raw,
    marker: u64,
}

impl Side {
    fn new(name: &'static str, connect: &dyn Fn() -> Raw) -> Side {
        let mut side = Side {
            name,
            main: connect(),
            control: connect(),
            events: connect(),
            watcher: connect(),
            marker: 0,
        };
        assert_eq!(
            side.control
                .cmd(&["CONFIG", "SET", "notify-keyspace-events", "KEAn"]),
            V::Status("OK".into())
        );
        side.events.cmd(&["PSUBSCRIBE", "__key*__:*"]);
        side.events.cmd(&["SUBSCRIBE", "notifications-marker"]);
        side
    }

    /// Everything published since the last call: a marker goes out from another
    /// connection, and the subscriber reads until it arrives (its socket's read timeout is
    /// the deadline).
    fn events(&mut self) -> Vec<String> {
        self.marker += 1;
        let marker = self.marker.to_string();
        self.control
            .cmd(&["PUBLISH", "notifications-marker", &marker]);
        let mut out = Vec::new();
        loop {
            let message = self
                .events
                .try_read()
                .unwrap_or_else(|| panic!("{}: no marker on the subscriber connection", self.name));
            let V::Array(parts) = message else {
                panic!("{}: unexpected push {message:?}", self.name);
            };
            let texts: Vec<String> = parts.iter().map(V::text).collect();
            match texts.first().map(String::as_str) {
                Some("message") if texts.get(2) == Some(&marker) => return out,
                Some("pmessage") if texts.len() == 4 => {
                    out.push(format!("{} {}", texts[2], texts[3]));
                }
                _ => {}
            }
        }
    }

    fn reset(&mut self) {
        send(&mut self.main, "FLUSHALL");
        send(&mut self.main, "SELECT 0");
        // FLUSHALL publishes nothing, but drain whatever a previous scenario left.
        self.events();
    }

    /// Runs the scenario one command at a time: the events of each line.
    fn run(&mut self, s: &Scenario) -> Vec<(String, V, Vec<String>)> {
        self.reset();
        let mut out = Vec::new();
        for line in &s.lines {
            let reply = send(&mut self.main, line);
            out.push((line.clone(), reply, self.events()));
        }
        out
    }

    /// Runs the whole scenario as one pipeline (Strata batches runs of pipelined writes):
    /// all its events, in order.
    fn run_pipelined(&mut self, s: &Scenario) -> Vec<String> {
        self.reset();
        let mut bytes = Vec::new();
        for line in &s.lines {
            let args = args(line);
            let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
            bytes.extend(Raw::encode(&refs));
        }
        self.main.send_bytes(&bytes);
        for line in &s.lines {
            self.main
                .try_read()
                .unwrap_or_else(|| panic!("{}: connection closed at {line}", self.name));
        }
        self.events()
    }

    /// Whether running the scenario's command invalidates a WATCH of `key` (taken after
    /// the setup, from another connection).
    fn aborts(&mut self, s: &Scenario, key: &str) -> bool {
        self.reset();
        for line in s.setup() {
            send(&mut self.main, line);
        }
        assert_eq!(self.watcher.cmd(&["WATCH", key]), V::Status("OK".into()));
        for line in s.command() {
            send(&mut self.main, line);
        }
        self.watcher.cmd(&["MULTI"]);
        self.watcher.cmd(&["PING"]);
        match self.watcher.cmd(&["EXEC"]) {
            V::Nil | V::NilArray => true,
            V::Array(_) => false,
            other => panic!("{}: EXEC answered {other:?}", self.name),
        }
    }
}

/// The keys a scenario's command names, as redis-server sees them.
fn command_keys(redis: &mut Raw, s: &Scenario) -> Vec<String> {
    if let Some(keys) = &s.watch {
        return keys.clone();
    }
    let mut request = vec!["COMMAND".to_string(), "GETKEYS".to_string()];
    request.extend(
        args(&s.command()[0])
            .into_iter()
            .map(|a| String::from_utf8(a).expect("utf-8 scenario")),
    );
    let refs: Vec<&str> = request.iter().map(String::as_str).collect();
    match redis.cmd(&refs) {
        V::Array(keys) => keys.iter().map(V::text).collect(),
        _ => Vec::new(),
    }
}

/// Lowercase command names (`xgroup|create` for subcommands) of a line.
fn command_name(line: &str) -> String {
    let args = args(line);
    let name = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
    match args.get(1) {
        Some(sub) if ["xgroup", "function"].contains(&name.as_str()) => {
            format!(
                "{name}|{}",
                String::from_utf8_lossy(sub).to_ascii_lowercase()
            )
        }
        _ => name,
    }
}

/// Write commands (and write subcommands) of Strata's table, from `COMMAND INFO`.
fn write_commands(strata: &mut Raw) -> BTreeSet<String> {
    fn has_write(flags: &V) -> bool {
        matches!(flags, V::Array(f) | V::Set(f) if f.iter().any(|f| f.text() == "write"))
    }
    let V::Array(all) = strata.cmd(&["COMMAND", "INFO"]) else {
        panic!("COMMAND INFO is not an array");
    };
    let mut out = BTreeSet::new();
    for entry in all {
        let V::Array(fields) = entry else { continue };
        let name = fields[0].text();
        if has_write(&fields[2]) {
            out.insert(name.clone());
        }
        if let Some(V::Array(subs)) = fields.get(9) {
            for sub in subs {
                if let V::Array(sf) = sub {
                    if has_write(&sf[2]) {
                        out.insert(sf[0].text());
                    }
                }
            }
        }
    }
    out
}

#[test]
fn keyspace_events_and_watch_match_redis() {
    let Some(redis) = RealRedis::start() else {
        return;
    };
    let strata = Server::start();
    let socket = redis.socket.clone();
    let mut a = Side::new("redis", &|| Raw::connect_unix(&socket));
    let mut b = Side::new("strata", &|| strata.raw());
    let scenarios = scenarios();

    let mut mismatches = Vec::new();
    let mut known = Vec::new();
    let mut covered = BTreeSet::new();
    let mut watched = BTreeSet::new();
    let (mut lines, mut watch_checks) = (0, 0);
    for s in &scenarios {
        let expected = a.run(s);
        let got = b.run(s);
        let pipelined = (a.run_pipelined(s), b.run_pipelined(s));
        let keys = command_keys(&mut a.main, s);
        let mut aborts = Vec::new();
        for key in &keys {
            aborts.push((key.clone(), a.aborts(s, key), b.aborts(s, key)));
        }
        let mut differences = Vec::new();
        for ((line, reply_a, events_a), (_, reply_b, events_b)) in expected.iter().zip(&got) {
            lines += 1;
            covered.insert(command_name(line));
            if events_a != events_b {
                differences.push(format!(
                    "  {line}\n    redis:  {events_a:?} (reply {reply_a:?})\n    strata: {events_b:?} (reply {reply_b:?})"
                ));
            }
        }
        if pipelined.0 != pipelined.1 {
            differences.push(format!(
                "  pipelined\n    redis:  {:?}\n    strata: {:?}",
                pipelined.0, pipelined.1
            ));
        }
        for (key, abort_a, abort_b) in &aborts {
            watch_checks += 1;
            if abort_a != abort_b {
                differences.push(format!(
                    "  WATCH {key}: redis aborts EXEC: {abort_a}, strata: {abort_b}"
                ));
            }
        }
        for line in s.command() {
            watched.insert(command_name(line));
        }
        if differences.is_empty() {
            continue;
        }
        let report = format!("{}\n{}", s.title(), differences.join("\n"));
        match &s.differs {
            Some(reason) => known.push(format!("{report}\n  (known: {reason})")),
            None => mismatches.push(report),
        }
    }

    let writes = write_commands(&mut b.control);
    let uncovered: Vec<&String> = writes
        .iter()
        .filter(|c| !covered.contains(*c) && !NOT_COMPARED.iter().any(|(n, _)| n == c))
        .collect();
    eprintln!(
        "notifications: {} scenarios, {lines} commands compared, {watch_checks} WATCH checks; \
         {} of {} write commands covered ({} not in redis-server 7.0); {} known differences",
        scenarios.len(),
        writes.iter().filter(|c| covered.contains(*c)).count(),
        writes.len(),
        NOT_COMPARED.len(),
        known.len()
    );
    for k in &known {
        eprintln!("{k}");
    }
    assert!(
        mismatches.is_empty(),
        "{} scenarios differ from redis-server:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
    assert!(
        uncovered.is_empty(),
        "write commands without a notification scenario: {uncovered:?}"
    );
    let unwatched: Vec<&String> = writes
        .iter()
        .filter(|c| covered.contains(*c) && !watched.contains(*c))
        .collect();
    eprintln!("notifications: write commands only run as setup (no WATCH check): {unwatched:?}");
}

/// Events of the hash-field TTL commands, which redis-server 7.0 does not have, as Redis
/// 7.4/8.0 publish them.
#[test]
fn hash_field_ttl_events_follow_redis_8() {
    let strata = Server::start();
    let mut side = Side::new("strata", &|| strata.raw());
    let cases: &[(&str, &[&str])] = &[
        ("HSET h f v g w", &["new", "hset"]),
        ("HEXPIRE h 100 FIELDS 1 f", &["hexpire"]),
        ("HEXPIRE h 100 FIELDS 1 nope", &[]),
        ("HPERSIST h FIELDS 1 f", &["hpersist"]),
        ("HPERSIST h FIELDS 1 f", &[]),
        ("HPEXPIREAT h 1 FIELDS 1 f", &["hdel"]),
        ("HGETEX h EX 100 FIELDS 1 g", &["hexpire"]),
        ("HGETEX h PERSIST FIELDS 1 g", &["hpersist"]),
        ("HGETEX h EX 100 FIELDS 1 nope", &[]),
        ("HSETEX h EX 100 FIELDS 1 f v", &["hset", "hexpire"]),
        ("HSETEX h FNX FIELDS 1 f v", &[]),
        ("HGETDEL h FIELDS 1 nope", &[]),
        ("HGETDEL h FIELDS 2 f g", &["hdel", "del"]),
        ("HPEXPIRE h 100 FIELDS 1 f", &[]),
    ];
    side.reset();
    let mut wrong = Vec::new();
    for (line, expected) in cases {
        let reply = send(&mut side.main, line);
        let events: Vec<String> = side
            .events()
            .into_iter()
            .filter_map(|e| e.strip_prefix("__keyevent@0__:").map(str::to_string))
            .map(|e| e.split(' ').next().unwrap_or_default().to_string())
            .collect();
        if events != *expected {
            wrong.push(format!(
                "{line}: {events:?} (reply {reply:?}), want {expected:?}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
