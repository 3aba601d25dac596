//! Redis 7 ACL, side by side with a real `redis-server` where the replies can be compared,
//! and on Strata alone where Redis 7.0.15 (the reference installed here) and the Redis 7.2
//! behaviour Strata follows differ:
//!
//! - every permission kind (commands, categories, subcommands, first arguments, key patterns
//!   with their read/write forms, channel patterns, selectors, `on`/`off`, passwords,
//!   `reset`), `ACL DRYRUN`, the errors of bad rules, `AUTH`, `MULTI`/`EXEC` and Lua denials,
//!   from the scenarios of `acl_scenarios.txt`;
//! - the key permissions of every command Redis knows, through `ACL DRYRUN`;
//! - Redis 7.2's rule strings (`ACL LIST`, `ACL GETUSER`), which 7.0 writes differently;
//! - `ACL LOG` and the `INFO stats` denial counters (7.2);
//! - clients of a deleted or killed user, `CLIENT LIST`'s `user=`, `ACL WHOAMI`;
//! - `requirepass` as the default user's password;
//! - the `aclfile` (`ACL SAVE`/`ACL LOAD`) and `user` lines of the config file.
//!
//! Without `redis-server` the differential tests are skipped, unless `STRATA_REQUIRE_REDIS=1`.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::differential::{normalize, RealRedis};
use crate::harness::{eventually, Raw, Server, V};

const SCENARIOS: &str = include_str!("acl_scenarios.txt");

/// sha256 of the passwords the tests use, as `ACL GETUSER` and the ACL file show them.
const SHA_PW: &str = "30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4";
const SHA_X: &str = "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881";
const SHA_S3CRET: &str = "1ec1c26b50d5d3c58d9583181af8076655fe00756bf7285940ba3670f99fcba0";
const SHA_OTHER: &str = "d9298a10d1b0735837dc4bd85dac641b0f3cef27a47e5d53a54f2f3f5b2fcffa";

/// What a scenario line's reply reads as when the server closed the user's connection.
const CLOSED: &str = "<connection closed>";

const NO_CHANGE: &str =
    "WARNING: ACL errors detected, no change to the previously active ACL rules was performed";

fn ok() -> V {
    V::Status("OK".into())
}

/// The blocks of `acl_scenarios.txt`: blank lines separate them, `#` lines are comments
/// (`#!` lines are directives and kept).
fn scenarios() -> Vec<Vec<&'static str>> {
    let mut blocks = Vec::new();
    let mut block: Vec<&'static str> = Vec::new();
    for line in SCENARIOS.lines().map(str::trim) {
        if line.is_empty() {
            if !block.is_empty() {
                blocks.push(std::mem::take(&mut block));
            }
        } else if !line.starts_with('#') || line.starts_with("#!") {
            block.push(line);
        }
    }
    if !block.is_empty() {
        blocks.push(block);
    }
    blocks
}

/// Integers and bulk strings masked, for replies whose values differ between servers by
/// nature (`CLIENT ID`, `CONFIG GET`, `ACL GENPASS`).
fn mask(v: &V) -> V {
    match v {
        V::Int(_) => V::Int(0),
        V::Bulk(_) => V::Bulk(Vec::new()),
        V::Array(items) => V::Array(items.iter().map(mask).collect()),
        other => other.clone(),
    }
}

/// The texts of an array reply.
fn texts(v: &V) -> Vec<String> {
    match v {
        V::Array(items) | V::Set(items) => items.iter().map(V::text).collect(),
        other => panic!("expected an array, got {other:?}"),
    }
}

/// A flat `field value ...` array (RESP2) or a map (RESP3) as pairs.
fn pairs(v: &V) -> Vec<(String, V)> {
    match v {
        V::Array(items) => items
            .chunks(2)
            .map(|p| (p[0].text(), p[1].clone()))
            .collect(),
        V::Map(items) => items.iter().map(|(k, v)| (k.text(), v.clone())).collect(),
        other => panic!("expected field/value pairs, got {other:?}"),
    }
}

fn field(pairs: &[(String, V)], name: &str) -> V {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| panic!("no {name} in {pairs:?}"))
}

fn getuser(r: &mut Raw, name: &str) -> Vec<(String, V)> {
    pairs(&r.cmd(&["ACL", "GETUSER", name]))
}

/// `ACL USERS`, sorted.
fn users(r: &mut Raw) -> Vec<String> {
    let mut names = texts(&r.cmd(&["ACL", "USERS"]));
    names.sort();
    names
}

/// The `user=` field of every `CLIENT LIST` line.
fn client_users(r: &mut Raw) -> Vec<String> {
    r.cmd(&["CLIENT", "LIST"])
        .text()
        .lines()
        .filter_map(|l| l.split(' ').find_map(|f| f.strip_prefix("user=")))
        .map(str::to_string)
        .collect()
}

/// Polls `check` until it holds or `deadline` passes; false when it never held.
fn wait_until(deadline: Duration, mut check: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + deadline;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One server in the scenario comparison: an admin connection (the default user) and the
/// scenario's user connection, opened at its first line.
struct Side {
    name: &'static str,
    connect: Box<dyn Fn() -> Raw>,
    admin: Raw,
    user: Option<Raw>,
    closed: bool,
}

impl Side {
    fn new(name: &'static str, connect: Box<dyn Fn() -> Raw>) -> Side {
        let admin = connect();
        Side {
            name,
            connect,
            admin,
            user: None,
            closed: false,
        }
    }

    /// An admin command of the runner itself, which must succeed.
    fn admin_ok(&mut self, args: &[&str]) -> V {
        let reply = self.admin.cmd(args);
        assert!(
            !matches!(reply, V::Error(_)),
            "{} refused {args:?}: {reply:?}",
            self.name
        );
        reply
    }

    /// Clients in `CLIENT LIST`: all of them, or those of one user.
    fn clients(&mut self, user: Option<&str>) -> usize {
        let list = self.admin_ok(&["CLIENT", "LIST"]).text();
        list.lines()
            .filter(|l| !l.trim().is_empty())
            .filter(|l| match user {
                Some(u) => l.split(' ').any(|f| f.strip_prefix("user=") == Some(u)),
                None => true,
            })
            .count()
    }

    /// The state every scenario starts from; false when the previous scenario's clients do
    /// not go away.
    fn reset(&mut self) -> bool {
        self.user = None;
        self.closed = false;
        self.admin_ok(&["CONFIG", "SET", "requirepass", ""]);
        self.admin_ok(&["CONFIG", "SET", "acl-pubsub-default", "resetchannels"]);
        let names = texts(&self.admin_ok(&["ACL", "USERS"]));
        for name in names {
            if name != "default" {
                self.admin_ok(&["ACL", "DELUSER", &name]);
            }
        }
        self.admin_ok(&[
            "ACL",
            "SETUSER",
            "default",
            "on",
            "nopass",
            "allkeys",
            "allchannels",
            "+@all",
            "clearselectors",
        ]);
        self.admin_ok(&["FLUSHALL"]);
        self.admin_ok(&["ACL", "LOG", "RESET"]);
        // A subscriber left from the scenario before would count in PUBLISH's reply.
        wait_until(Duration::from_secs(10), || self.clients(None) == 1)
    }

    /// Sends one scenario line's command on the admin or the user connection.
    fn run(&mut self, frame: &[u8], admin: bool) -> V {
        if admin {
            return self
                .admin
                .try_send_read(frame)
                .unwrap_or_else(|| panic!("{} closed the admin connection", self.name));
        }
        if self.closed {
            return V::Error(CLOSED.into());
        }
        if self.user.is_none() {
            self.user = Some((self.connect)());
        }
        let user = self.user.as_mut().expect("the user connection");
        match user.try_send_read(frame) {
            Some(reply) => reply,
            None => {
                self.closed = true;
                V::Error(CLOSED.into())
            }
        }
    }
}

#[test]
fn acl_rules_match_redis() {
    let Some(redis) = RealRedis::start() else {
        return;
    };
    let strata = Server::start();
    let socket = redis.socket.clone();
    let addr = strata.addr.clone();
    let mut sides = [
        Side::new("redis", Box::new(move || Raw::connect_unix(&socket))),
        Side::new("strata", Box::new(move || Raw::connect(&addr))),
    ];
    let blocks = scenarios();
    assert!(blocks.len() >= 40, "only {} scenarios", blocks.len());
    let mut mismatches = Vec::new();
    for block in &blocks {
        let title = block[0];
        for side in sides.iter_mut() {
            if !side.reset() {
                mismatches.push(format!(
                    "[{title}] {}: clients of the scenario before are still connected",
                    side.name
                ));
            }
        }
        for &line in block {
            if line == "#!new" {
                for side in sides.iter_mut() {
                    side.user = None;
                    side.closed = false;
                }
                continue;
            }
            if let Some(name) = line.strip_prefix("#!gone ") {
                for side in sides.iter_mut() {
                    if !wait_until(Duration::from_secs(5), || side.clients(Some(name)) == 0) {
                        mismatches.push(format!(
                            "[{title}] {}: a client of user {name} is still connected",
                            side.name
                        ));
                    }
                }
                continue;
            }
            let (admin, rest) = match line.strip_prefix("admin> ") {
                Some(rest) => (true, rest),
                None => (false, line),
            };
            let (masked, rest) = match rest.strip_prefix("? ") {
                Some(rest) => (true, rest),
                None => (false, rest),
            };
            let args = strata::protocol::split_args(rest.as_bytes())
                .unwrap_or_else(|| panic!("bad scenario line: {line}"));
            let bytes: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
            let frame = Raw::encode(&bytes);
            let replies: Vec<V> = sides
                .iter_mut()
                .map(|side| {
                    let reply = normalize(&side.run(&frame, admin));
                    if masked {
                        mask(&reply)
                    } else {
                        reply
                    }
                })
                .collect();
            if replies[0] != replies[1] {
                mismatches.push(format!(
                    "[{title}] {line}\n  redis:  {:?}\n  strata: {:?}",
                    replies[0], replies[1]
                ));
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

/// Invocations the generated ones (each command with `k1 k2 ...` as its arguments) cannot
/// make: a key count, a keyword before the keys, an option that changes a key's access.
const KEY_INVOCATIONS: &[&str] = &[
    "EVAL s 2 k1 k2 a",
    "EVALSHA s 2 k1 k2",
    "EVAL_RO s 1 k1",
    "EVALSHA_RO s 1 k1",
    "FCALL f 2 k1 k2",
    "FCALL_RO f 1 k1",
    "ZUNIONSTORE k1 2 k2 k3",
    "ZINTERSTORE k1 2 k2 k3",
    "ZDIFFSTORE k1 2 k2 k3",
    "ZUNION 2 k1 k2",
    "ZINTER 2 k1 k2",
    "ZDIFF 2 k1 k2",
    "ZINTERCARD 2 k1 k2",
    "SINTERCARD 2 k1 k2",
    "LMPOP 2 k1 k2 LEFT",
    "BLMPOP 0 2 k1 k2 LEFT",
    "ZMPOP 2 k1 k2 MIN",
    "BZMPOP 0 2 k1 k2 MIN",
    "XREAD STREAMS k1 k2 0 0",
    "XREAD COUNT 1 BLOCK 0 STREAMS k1 0",
    "XREADGROUP GROUP g c STREAMS k1 k2 0 0",
    "GEORADIUS k1 0 0 1 km STORE k2",
    "GEORADIUS k1 0 0 1 km STOREDIST k2",
    "GEORADIUSBYMEMBER k1 m 1 km STORE k2",
    "GEOSEARCHSTORE k1 k2 FROMLONLAT 0 0 BYRADIUS 1 km",
    "SORT k1 STORE k2",
    "SORT k1 BY nosort",
    "SORT_RO k1",
    "BITFIELD k1 GET u8 0",
    "BITFIELD k1 SET u8 0 1",
    "BITFIELD k1 INCRBY u8 0 1",
    "BITFIELD_RO k1 GET u8 0",
    "SET k1 v GET",
    "SET k1 v EX 10",
    "LCS k1 k2",
    "OBJECT ENCODING k1",
    "MEMORY USAGE k1",
    "XGROUP CREATE k1 g $",
    "XINFO STREAM k1",
    "MIGRATE h 1 \"\" 0 0 KEYS k1 k2",
];

/// For every command (and subcommand) redis-server knows that has keys, `ACL DRYRUN` as a
/// read-only user (`%R~*`), a write-only user (`%W~*`), and both with the first key fully
/// allowed: the same answer, which names the first key refused. This goes through the whole
/// gate (key extraction with the argument-dependent cases, each key's access, the patterns).
#[test]
fn key_permissions_of_every_command_match_redis() {
    let Some(redis) = RealRedis::start() else {
        return;
    };
    let strata = Server::start();
    let mut a = Raw::connect_unix(&redis.socket);
    let mut b = strata.raw();
    let users = [
        ("r", "%R~*"),
        ("w", "%W~*"),
        ("rk", "%R~* ~k1"),
        ("wk", "%W~* ~k1"),
    ];
    for (name, patterns) in users {
        let mut args = vec!["ACL", "SETUSER", name, "reset", "on", "nopass", "+@all"];
        args.extend(patterns.split_whitespace());
        for r in [&mut a, &mut b] {
            assert_eq!(r.cmd(&args), ok(), "{args:?}");
        }
    }
    let V::Array(all) = a.cmd(&["COMMAND"]) else {
        panic!("COMMAND is an array")
    };
    let mut invocations: Vec<Vec<String>> = Vec::new();
    for entry in &all {
        let V::Array(fields) = entry else { continue };
        let mut infos: Vec<&Vec<V>> = vec![fields];
        if let Some(V::Array(subs)) = fields.get(9) {
            for sub in subs {
                if let V::Array(sub) = sub {
                    infos.push(sub);
                }
            }
        }
        for info in infos {
            let (Some(name), Some(V::Int(arity))) = (info.first(), info.get(1)) else {
                continue;
            };
            let mut args: Vec<String> = name.text().split('|').map(str::to_string).collect();
            let argc = if *arity > 0 {
                *arity as usize
            } else {
                (-*arity) as usize + 2
            };
            let mut n = 1;
            while args.len() < argc {
                args.push(format!("k{n}"));
                n += 1;
            }
            invocations.push(args);
        }
    }
    invocations.sort();
    for line in KEY_INVOCATIONS {
        let args = strata::protocol::split_args(line.as_bytes()).expect("a valid invocation");
        invocations.push(
            args.into_iter()
                .map(|a| String::from_utf8(a).expect("utf-8"))
                .collect(),
        );
    }
    let mut compared = 0;
    let mut missing = Vec::new();
    let mut mismatches = Vec::new();
    for args in &invocations {
        let words: Vec<&str> = args.iter().map(String::as_str).collect();
        let line = words.join(" ");
        let mut getkeys = vec!["COMMAND", "GETKEYS"];
        getkeys.extend_from_slice(&words);
        match a.cmd(&getkeys) {
            V::Array(keys) if !keys.is_empty() => {}
            _ => continue,
        }
        let dryrun = |r: &mut Raw, user: &str| -> V {
            let mut cmd = vec!["ACL", "DRYRUN", user];
            cmd.extend_from_slice(&words);
            r.cmd(&cmd)
        };
        // A command or subcommand Strata does not have is not this test's business.
        if let V::Error(e) = dryrun(&mut b, "default") {
            if e.contains("not found") || e.to_ascii_lowercase().contains("unknown") {
                missing.push(line);
                continue;
            }
        }
        compared += 1;
        for (user, _) in users {
            let expected = dryrun(&mut a, user);
            let got = dryrun(&mut b, user);
            if expected != got {
                mismatches.push(format!(
                    "ACL DRYRUN {user} {line}\n  redis:  {expected:?}\n  strata: {got:?}"
                ));
            }
        }
    }
    if !missing.is_empty() {
        eprintln!("not in Strata, not compared: {}", missing.join(", "));
    }
    assert!(compared > 150, "only {compared} commands compared");
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

/// `ACL LIST` and `ACL GETUSER` write the rules as Redis 7.2 does: the rules as given, a
/// rule repeated in the other sense kept once, `+@all` starting afresh. (Redis 7.0 instead
/// writes the shortest rules giving the same commands, so this is not compared with it.)
#[test]
fn rule_strings_are_redis_7_2s() {
    let s = Server::start();
    let mut r = s.raw();
    let setuser = |r: &mut Raw, rules: &[&str]| {
        let mut args = vec!["ACL", "SETUSER"];
        args.extend_from_slice(rules);
        assert_eq!(r.cmd(&args), ok(), "{args:?}");
    };
    setuser(
        &mut r,
        &[
            "u", "reset", "on", "nopass", "+@hash", "-hset", "+get", "~a*", "%R~b*", "&c*",
        ],
    );
    let list = texts(&r.cmd(&["ACL", "LIST"]));
    // `reset` sets `sanitize-payload`, which both Redis 7.0 and 7.2 show among the flags.
    assert!(
        list.contains(
            &"user u on nopass sanitize-payload ~a* %R~b* resetchannels &c* -@all +@hash -hset +get"
                .to_string()
        ),
        "{list:#?}"
    );
    assert!(
        list.contains(&"user default on nopass ~* &* +@all".to_string()),
        "{list:#?}"
    );
    let u = getuser(&mut r, "u");
    assert_eq!(
        texts(&field(&u, "flags")),
        ["on", "nopass", "sanitize-payload"]
    );
    assert_eq!(field(&u, "passwords"), V::Array(vec![]));
    assert_eq!(field(&u, "commands"), V::bulk("-@all +@hash -hset +get"));
    assert_eq!(field(&u, "keys"), V::bulk("~a* %R~b*"));
    assert_eq!(field(&u, "channels"), V::bulk("&c*"));
    assert_eq!(field(&u, "selectors"), V::Array(vec![]));

    // The same command allowed, then refused: one rule, the last.
    setuser(&mut r, &["v", "reset", "+get"]);
    setuser(&mut r, &["v", "-get"]);
    assert_eq!(
        field(&getuser(&mut r, "v"), "commands"),
        V::bulk("-@all -get")
    );
    // +@all starts the rules afresh.
    setuser(&mut r, &["w", "reset", "+get", "-@hash", "+@all"]);
    assert_eq!(field(&getuser(&mut r, "w"), "commands"), V::bulk("+@all"));
    setuser(&mut r, &["w", "-get"]);
    assert_eq!(
        field(&getuser(&mut r, "w"), "commands"),
        V::bulk("+@all -get")
    );
    // Categories stay as given, even one that takes nothing away (redis-py's
    // test_acl_getuser_setuser looks for -@geo).
    setuser(&mut r, &["x", "reset", "+@set", "+@hash", "-@geo"]);
    assert_eq!(
        field(&getuser(&mut r, "x"), "commands"),
        V::bulk("-@all +@set +@hash -@geo")
    );
    // First arguments.
    setuser(&mut r, &["z", "reset", "+select|0"]);
    assert_eq!(
        field(&getuser(&mut r, "z"), "commands"),
        V::bulk("-@all +select|0")
    );
    // A selector.
    setuser(
        &mut r,
        &["y", "reset", "on", "nopass", "+get", "~k*", "(+set ~s*)"],
    );
    let list = texts(&r.cmd(&["ACL", "LIST"]));
    assert!(
        list.contains(
            &"user y on nopass sanitize-payload ~k* resetchannels -@all +get (~s* resetchannels -@all +set)"
                .to_string()
        ),
        "{list:#?}"
    );
    assert_eq!(
        field(&getuser(&mut r, "y"), "selectors"),
        V::Array(vec![V::Array(vec![
            V::bulk("commands"),
            V::bulk("-@all +set"),
            V::bulk("keys"),
            V::bulk("~s*"),
            V::bulk("channels"),
            V::bulk(""),
        ])])
    );
    // The default user.
    let d = getuser(&mut r, "default");
    assert_eq!(texts(&field(&d, "flags")), ["on", "nopass"]);
    assert_eq!(field(&d, "passwords"), V::Array(vec![]));
    assert_eq!(field(&d, "commands"), V::bulk("+@all"));
    assert_eq!(field(&d, "keys"), V::bulk("~*"));
    assert_eq!(field(&d, "channels"), V::bulk("&*"));
    assert_eq!(field(&d, "selectors"), V::Array(vec![]));
    assert_eq!(r.cmd(&["ACL", "GETUSER", "nosuch"]), V::Nil);
}

/// `INFO stats` denial counters (Redis 7.2): auth, cmd, key, channel.
fn acl_stats(r: &mut Raw) -> [i64; 4] {
    let info = r.cmd(&["INFO", "stats"]).text();
    [
        "acl_access_denied_auth",
        "acl_access_denied_cmd",
        "acl_access_denied_key",
        "acl_access_denied_channel",
    ]
    .map(|name| {
        let prefix = format!("{name}:");
        info.lines()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
            .unwrap_or_else(|| panic!("no {name} in INFO stats:\n{info}"))
            .trim()
            .parse::<i64>()
            .expect("a counter")
    })
}

/// `ACL LOG [args]` entries as field pairs, newest first.
fn log_entries(r: &mut Raw, args: &[&str]) -> Vec<Vec<(String, V)>> {
    let mut cmd = vec!["ACL", "LOG"];
    cmd.extend_from_slice(args);
    match r.cmd(&cmd) {
        V::Array(entries) => entries.iter().map(pairs).collect(),
        other => panic!("{cmd:?}: {other:?}"),
    }
}

#[test]
fn acl_log_records_denials_and_failed_auth() {
    let s = Server::start();
    let mut admin = s.raw();
    let before = acl_stats(&mut admin);
    assert_eq!(
        admin.cmd(&[
            "ACL", "SETUSER", "u", "reset", "on", ">p", "+get", "+publish", "+multi", "+exec",
            "+eval", "~k*", "&ch*",
        ]),
        ok()
    );
    assert_eq!(admin.cmd(&["ACL", "LOG", "RESET"]), ok());
    let mut u = s.raw();
    assert_eq!(
        u.err(&["AUTH", "u", "wrong"]),
        "WRONGPASS invalid username-password pair or user is disabled."
    );
    assert_eq!(u.cmd(&["AUTH", "u", "p"]), ok());
    for _ in 0..2 {
        assert_eq!(
            u.err(&["HSET", "k1", "f", "v"]),
            "NOPERM this user has no permissions to run the 'hset' command"
        );
    }
    assert_eq!(
        u.err(&["GET", "x"]),
        "NOPERM this user has no permissions to access one of the keys used as arguments"
    );
    assert_eq!(
        u.err(&["PUBLISH", "x", "m"]),
        "NOPERM this user has no permissions to access one of the channels used as arguments"
    );
    // Queued while allowed, refused at EXEC.
    assert_eq!(u.cmd(&["MULTI"]), ok());
    assert_eq!(u.cmd(&["GET", "k1"]), V::Status("QUEUED".into()));
    assert_eq!(admin.cmd(&["ACL", "SETUSER", "u", "-get"]), ok());
    match u.cmd(&["EXEC"]) {
        V::Array(replies) => assert!(
            matches!(&replies[..], [V::Error(e)] if e.starts_with("NOPERM ACLs rules changed")),
            "{replies:?}"
        ),
        other => panic!("EXEC: {other:?}"),
    }
    // Refused while queueing: logged in the `multi` context too, as Redis does.
    assert_eq!(u.cmd(&["MULTI"]), ok());
    assert_eq!(
        u.err(&["HSET", "k1", "f", "v"]),
        "NOPERM this user has no permissions to run the 'hset' command"
    );
    assert_eq!(
        u.err(&["EXEC"]),
        "EXECABORT Transaction discarded because of previous errors."
    );
    let lua = u.err(&["EVAL", "return redis.call('hset','k1','f','v')", "0"]);
    assert!(
        lua.starts_with("ERR The user executing the script can't run this command or subcommand"),
        "{lua}"
    );

    let entries = log_entries(&mut admin, &[]);
    let summary: Vec<(String, String, String, String, V)> = entries
        .iter()
        .map(|e| {
            (
                field(e, "reason").text(),
                field(e, "context").text(),
                field(e, "object").text(),
                field(e, "username").text(),
                field(e, "count"),
            )
        })
        .collect();
    let expected: Vec<(String, String, String, String, V)> = [
        ("command", "lua", "hset", 1),
        ("command", "multi", "hset", 1),
        ("command", "multi", "get", 1),
        ("channel", "toplevel", "x", 1),
        ("key", "toplevel", "x", 1),
        // The same denial twice is one entry.
        ("command", "toplevel", "hset", 2),
        // The object of a failed AUTH is the command name as the client sent it.
        ("auth", "toplevel", "AUTH", 1),
    ]
    .into_iter()
    .map(|(reason, context, object, count)| {
        (
            reason.to_string(),
            context.to_string(),
            object.to_string(),
            "u".to_string(),
            V::Int(count),
        )
    })
    .collect();
    assert_eq!(summary, expected, "{entries:#?}");
    for e in &entries {
        let age = field(e, "age-seconds").text();
        assert!(
            matches!(age.parse::<f64>(), Ok(a) if a >= 0.0),
            "age-seconds {age}"
        );
        let info = field(e, "client-info").text();
        // A failed AUTH is logged for the client as it was: still the default user.
        let user = if field(e, "reason").text() == "auth" {
            "user=default"
        } else {
            "user=u"
        };
        assert!(
            info.starts_with("id=") && info.split(' ').any(|f| f == user),
            "{user} in client-info {info}"
        );
    }
    let one = log_entries(&mut admin, &["1"]);
    assert_eq!(one.len(), 1);
    assert_eq!(field(&one[0], "object").text(), "hset");
    assert_eq!(field(&one[0], "context").text(), "lua");
    assert_eq!(log_entries(&mut admin, &["0"]).len(), 0);

    // Every denial counts, grouped in the log or not.
    let after = acl_stats(&mut admin);
    let deltas: Vec<i64> = after.iter().zip(&before).map(|(a, b)| a - b).collect();
    assert_eq!(deltas, [1, 5, 1, 1], "auth, cmd, key, channel");

    assert_eq!(admin.cmd(&["ACL", "LOG", "RESET"]), ok());
    assert!(log_entries(&mut admin, &[]).is_empty());
    // acllog-max-len bounds the log.
    assert_eq!(admin.cmd(&["CONFIG", "SET", "acllog-max-len", "2"]), ok());
    for channel in ["x1", "x2", "x3"] {
        u.err(&["PUBLISH", channel, "m"]);
    }
    let entries = log_entries(&mut admin, &[]);
    let objects: Vec<String> = entries.iter().map(|e| field(e, "object").text()).collect();
    assert_eq!(objects, ["x3", "x2"]);
}

#[test]
fn clients_show_their_user_and_go_when_it_is_deleted_or_killed() {
    let s = Server::start();
    let mut admin = s.raw();
    assert_eq!(
        admin.cmd(&["ACL", "SETUSER", "u", "on", ">p", "+@all", "~*", "&*"]),
        ok()
    );
    let mut u1 = s.raw();
    assert_eq!(u1.cmd(&["ACL", "WHOAMI"]), V::bulk("default"));
    assert_eq!(u1.cmd(&["AUTH", "u", "p"]), ok());
    assert_eq!(u1.cmd(&["ACL", "WHOAMI"]), V::bulk("u"));
    assert_eq!(admin.cmd(&["ACL", "WHOAMI"]), V::bulk("default"));
    let mut seen = client_users(&mut admin);
    seen.sort();
    assert_eq!(seen, ["default", "u"]);
    let info = u1.cmd(&["CLIENT", "INFO"]).text();
    assert!(info.split(' ').any(|f| f == "user=u"), "{info}");

    // CLIENT KILL USER.
    assert_eq!(admin.cmd(&["CLIENT", "KILL", "USER", "u"]), V::Int(1));
    eventually("u's client goes", Duration::from_secs(10), || {
        !client_users(&mut admin).contains(&"u".to_string())
    });
    assert_eq!(u1.try_cmd(&["PING"]), None, "the killed client is closed");
    assert_eq!(
        admin.err(&["CLIENT", "KILL", "USER", "nosuch"]),
        "ERR No such user 'nosuch'"
    );
    assert_eq!(admin.cmd(&["CLIENT", "KILL", "USER", "u"]), V::Int(0));

    // ACL DELUSER closes every client of the user, and no other.
    let mut u2 = s.raw();
    let mut u3 = s.raw();
    let mut bystander = s.raw();
    assert_eq!(u2.cmd(&["AUTH", "u", "p"]), ok());
    assert_eq!(u3.cmd(&["AUTH", "u", "p"]), ok());
    assert!(matches!(u3.cmd(&["SUBSCRIBE", "ch"]), V::Array(_)));
    assert_eq!(admin.cmd(&["ACL", "DELUSER", "u", "nosuch"]), V::Int(1));
    eventually("u's clients go", Duration::from_secs(10), || {
        !client_users(&mut admin).contains(&"u".to_string())
    });
    assert_eq!(
        u2.try_cmd(&["PING"]),
        None,
        "a deleted user's client is closed"
    );
    assert_eq!(u3.try_cmd(&["PING"]), None, "its subscriber too");
    assert_eq!(bystander.cmd(&["PING"]), V::Status("PONG".into()));
    eventually("its subscription goes", Duration::from_secs(10), || {
        admin.cmd(&["PUBSUB", "NUMSUB", "ch"]) == V::Array(vec![V::bulk("ch"), V::Int(0)])
    });
    let mut again = s.raw();
    assert_eq!(
        again.err(&["AUTH", "u", "p"]),
        "WRONGPASS invalid username-password pair or user is disabled."
    );
    assert_eq!(admin.cmd(&["ACL", "DELUSER", "u"]), V::Int(0));
}

#[test]
fn requirepass_is_the_default_users_password() {
    let s = Server::start();
    let mut admin = s.raw();
    assert_eq!(admin.cmd(&["CONFIG", "SET", "requirepass", "s3cret"]), ok());
    let d = getuser(&mut admin, "default");
    assert_eq!(texts(&field(&d, "flags")), ["on"]);
    assert_eq!(texts(&field(&d, "passwords")), [SHA_S3CRET]);
    // The admin connection authenticated before; new ones must AUTH.
    assert_eq!(admin.cmd(&["PING"]), V::Status("PONG".into()));
    let mut c = s.raw();
    assert_eq!(c.err(&["GET", "k"]), "NOAUTH Authentication required.");
    assert_eq!(c.cmd(&["AUTH", "s3cret"]), ok());
    assert_eq!(c.cmd(&["GET", "k"]), V::Nil);
    let mut c = s.raw();
    assert_eq!(c.cmd(&["AUTH", "default", "s3cret"]), ok());
    assert_eq!(c.cmd(&["ACL", "WHOAMI"]), V::bulk("default"));

    // The default user's passwords are what AUTH checks, however they were set.
    assert_eq!(admin.cmd(&["ACL", "SETUSER", "default", ">other"]), ok());
    let d = getuser(&mut admin, "default");
    assert_eq!(texts(&field(&d, "passwords")), [SHA_S3CRET, SHA_OTHER]);
    let mut c = s.raw();
    assert_eq!(c.cmd(&["AUTH", "other"]), ok());
    assert_eq!(
        admin.cmd(&["ACL", "SETUSER", "default", "resetpass", "nopass"]),
        ok()
    );
    let mut c = s.raw();
    assert_eq!(c.cmd(&["GET", "k"]), V::Nil, "nopass: no AUTH needed");
    assert_eq!(admin.cmd(&["CONFIG", "SET", "requirepass", "s3cret"]), ok());
    assert_eq!(admin.cmd(&["CONFIG", "SET", "requirepass", ""]), ok());
    let d = getuser(&mut admin, "default");
    assert_eq!(texts(&field(&d, "flags")), ["on", "nopass"]);
    assert_eq!(field(&d, "passwords"), V::Array(vec![]));
    let mut c = s.raw();
    assert_eq!(c.cmd(&["GET", "k"]), V::Nil);

    // requirepass at start-up.
    let s = Server::start_with(&["--requirepass", "pw"]);
    let mut c = s.raw();
    assert_eq!(c.err(&["GET", "k"]), "NOAUTH Authentication required.");
    assert_eq!(c.cmd(&["AUTH", "default", "pw"]), ok());
    let d = getuser(&mut c, "default");
    assert_eq!(texts(&field(&d, "passwords")), [SHA_PW]);
}

const ALICE_AND_DEFAULT: &str = "user alice on >pw ~a* +get\nuser default on nopass ~* &* +@all\n";

#[test]
fn an_acl_file_holds_the_users_for_acl_save_and_acl_load() {
    let tmp = tempfile::tempdir().unwrap();
    let acl = tmp.path().join("users.acl");
    let path = acl.to_str().unwrap().to_string();
    std::fs::write(&acl, ALICE_AND_DEFAULT).unwrap();
    let s = Server::start_with(&["--aclfile", &path]);
    let mut admin = s.raw();
    assert_eq!(users(&mut admin), ["alice", "default"]);
    assert_eq!(
        admin.cmd(&["CONFIG", "GET", "aclfile"]),
        V::Array(vec![V::bulk("aclfile"), V::bulk(&path)])
    );
    let list = texts(&admin.cmd(&["ACL", "LIST"]));
    assert!(
        list.contains(&format!(
            "user alice on #{SHA_PW} ~a* resetchannels -@all +get"
        )),
        "{list:#?}"
    );

    // alice, through the redis crate.
    let client = redis::Client::open(format!("redis://alice:pw@{}/", s.addr)).unwrap();
    let mut alice = client.get_connection().expect("alice authenticates");
    let got: Option<String> = redis::cmd("GET").arg("a1").query(&mut alice).unwrap();
    assert_eq!(got, None);
    let err = redis::cmd("SET")
        .arg("a1")
        .arg("v")
        .query::<()>(&mut alice)
        .unwrap_err();
    assert_eq!(err.code(), Some("NOPERM"), "{err}");
    let mut raw = s.raw();
    assert_eq!(raw.cmd(&["AUTH", "alice", "pw"]), ok());
    assert_eq!(
        raw.err(&["GET", "b"]),
        "NOPERM this user has no permissions to access one of the keys used as arguments"
    );
    assert_eq!(
        raw.err(&["AUTH", "alice", "wrong"]),
        "WRONGPASS invalid username-password pair or user is disabled."
    );

    // ACL SAVE writes every user, hashed.
    assert_eq!(
        admin.cmd(&["ACL", "SETUSER", "bob", "on", ">x", "+@all", "~*"]),
        ok()
    );
    assert_eq!(admin.cmd(&["ACL", "SAVE"]), ok());
    let saved = std::fs::read_to_string(&acl).unwrap();
    let lines: Vec<&str> = saved.lines().collect();
    assert_eq!(lines.len(), 3, "{saved}");
    for start in [
        format!("user alice on #{SHA_PW} "),
        format!("user bob on #{SHA_X} "),
        "user default on nopass ".to_string(),
    ] {
        assert!(
            lines.iter().filter(|l| l.starts_with(&start)).count() == 1,
            "{start} in {saved}"
        );
    }
    assert!(!saved.contains(">x") && !saved.contains(">pw"), "{saved}");
    // ... and a server started on the file has them.
    let s2 = Server::start_with(&["--aclfile", &path]);
    let mut r2 = s2.raw();
    assert_eq!(r2.cmd(&["AUTH", "bob", "x"]), ok());
    assert_eq!(r2.cmd(&["SET", "k", "v"]), ok());
    drop(r2);
    drop(s2);

    // ACL LOAD replaces the users with the file's.
    std::fs::write(
        &acl,
        "user alice on >pw ~a* +get +set\nuser default on nopass ~* &* +@all\n",
    )
    .unwrap();
    assert_eq!(admin.cmd(&["ACL", "LOAD"]), ok());
    assert_eq!(users(&mut admin), ["alice", "default"]);
    let mut c = s.raw();
    assert_eq!(c.cmd(&["AUTH", "alice", "pw"]), ok());
    assert_eq!(c.cmd(&["SET", "a1", "v"]), ok());
    assert_eq!(
        c.err(&["SET", "b1", "v"]),
        "NOPERM this user has no permissions to access one of the keys used as arguments"
    );
    let mut c = s.raw();
    assert_eq!(
        c.err(&["AUTH", "bob", "x"]),
        "WRONGPASS invalid username-password pair or user is disabled."
    );

    // A bad file changes nothing, and the error names the line (Redis's texts).
    std::fs::write(
        &acl,
        "user alice on >pw ~a* +get\nuser carol on +nosuch\nuser default on nopass ~* &* +@all\n",
    )
    .unwrap();
    assert_eq!(
        admin.err(&["ACL", "LOAD"]),
        format!(
            "ERR {path}:2: Error in applying operation '+nosuch': Unknown command or category \
             name in ACL. {NO_CHANGE}"
        )
    );
    std::fs::write(&acl, "user alice on >pw\nfoo bar\n").unwrap();
    assert_eq!(
        admin.err(&["ACL", "LOAD"]),
        format!(
            "ERR {path}:2 should start with user keyword followed by the username. {NO_CHANGE}"
        )
    );
    std::fs::write(&acl, "user alice on >pw\nuser alice off\n").unwrap();
    assert_eq!(
        admin.err(&["ACL", "LOAD"]),
        format!("ERR WARNING: Duplicate user 'alice' found on line 2. {NO_CHANGE}")
    );
    std::fs::write(&acl, "user default on nopass ~* &* +@all\nuser x on #abc\n").unwrap();
    assert_eq!(
        admin.err(&["ACL", "LOAD"]),
        format!(
            "ERR {path}:2: The password hash must be exactly 64 characters and contain only \
             lowercase hexadecimal characters. {NO_CHANGE}"
        )
    );
    assert_eq!(users(&mut admin), ["alice", "default"]);
    let mut c = s.raw();
    assert_eq!(c.cmd(&["AUTH", "alice", "pw"]), ok());
    assert_eq!(c.cmd(&["SET", "a2", "v"]), ok(), "alice keeps +set");
    assert_eq!(
        c.err(&["AUTH", "carol", ""]),
        "WRONGPASS invalid username-password pair or user is disabled."
    );

    // A file without the default user leaves it with its built-in rules.
    std::fs::write(&acl, "user x on >pw\n").unwrap();
    assert_eq!(admin.cmd(&["ACL", "LOAD"]), ok());
    assert_eq!(users(&mut admin), ["default", "x"]);
    assert_eq!(
        field(&getuser(&mut admin, "default"), "commands"),
        V::bulk("+@all")
    );
}

/// Runs `strata server ARGS --dir DATA`, which must refuse to start; returns its output.
fn refused_start(args: &[&str], data: &Path) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_strata"))
        .arg("server")
        .args(args)
        .arg("--dir")
        .arg(data)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn strata");
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("strata {args:?} started; it should have refused to");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut out = String::new();
    let _ = child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut out);
    let _ = child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut out);
    assert!(!status.success(), "strata {args:?} exited 0: {out}");
    out
}

#[test]
fn a_bad_acl_file_or_user_line_stops_start_up() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let acl = tmp.path().join("users.acl");
    std::fs::write(&acl, "user carol on +nosuch\n").unwrap();
    let path = acl.to_str().unwrap();
    let out = refused_start(&["--port", "0", "--aclfile", path], &data);
    assert!(
        out.contains(&format!("{path}:1")) && out.contains("+nosuch"),
        "{out}"
    );

    let conf = tmp.path().join("redis.conf");
    std::fs::write(&conf, "user carol on +nosuch\n").unwrap();
    let conf = conf.to_str().unwrap();
    let out = refused_start(&["--config", conf, "--port", "0"], &data);
    assert!(out.contains("carol") && out.contains("+nosuch"), "{out}");

    // Users in the config file and an ACL file: Redis refuses the mix.
    std::fs::write(&acl, ALICE_AND_DEFAULT).unwrap();
    std::fs::write(
        tmp.path().join("redis.conf"),
        format!("user carol on >pw +@all ~*\naclfile {path}\n"),
    )
    .unwrap();
    let out = refused_start(&["--config", conf, "--port", "0"], &data);
    assert!(
        out.contains(
            "users defined in redis.conf and at the same setting an ACL file path is invalid"
        ),
        "{out}"
    );
}

fn start_with_conf(tmp: &Path, text: &str) -> Server {
    let conf = tmp.join("redis.conf");
    std::fs::write(&conf, text).unwrap();
    Server::start_in(
        &tmp.join("data"),
        &[
            "--config",
            conf.to_str().unwrap(),
            "--port",
            "0",
            "--bind",
            "127.0.0.1",
        ],
    )
}

#[test]
fn user_lines_in_the_config_file_define_users() {
    let tmp = tempfile::tempdir().unwrap();
    let s = start_with_conf(
        tmp.path(),
        "user carol on >pw +@all ~*\nuser dave on nopass +get ~d*\n",
    );
    let mut admin = s.raw();
    assert_eq!(users(&mut admin), ["carol", "dave", "default"]);
    let list = texts(&admin.cmd(&["ACL", "LIST"]));
    // As Redis: a config user starts from a new user's rules (no `reset`, so no
    // sanitize-payload flag).
    assert!(
        list.contains(&format!("user carol on #{SHA_PW} ~* resetchannels +@all")),
        "{list:#?}"
    );
    let mut c = s.raw();
    assert_eq!(c.cmd(&["AUTH", "carol", "pw"]), ok());
    assert_eq!(c.cmd(&["SET", "k", "v"]), ok());
    assert_eq!(c.cmd(&["ACL", "WHOAMI"]), V::bulk("carol"));
    let mut c = s.raw();
    assert_eq!(c.cmd(&["AUTH", "dave", "anything"]), ok());
    assert_eq!(c.cmd(&["GET", "d1"]), V::Nil);
    assert_eq!(
        c.err(&["SET", "d1", "v"]),
        "NOPERM this user has no permissions to run the 'set' command"
    );
    // Without an aclfile, ACL SAVE/LOAD answer as Redis does.
    let no_file = "ERR This Redis instance is not configured to use an ACL file. You may want to \
                   specify users via the ACL SETUSER command and then issue a CONFIG REWRITE \
                   (assuming you have a Redis configuration file set) in order to store users in \
                   the Redis configuration.";
    assert_eq!(admin.err(&["ACL", "SAVE"]), no_file);
    assert_eq!(admin.err(&["ACL", "LOAD"]), no_file);
}

/// Redis's CONFIG REWRITE stores the users in the config file when there is no ACL file
/// (what the `ACL SAVE` error above advises).
#[test]
fn config_rewrite_stores_the_users_in_the_config_file() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = start_with_conf(tmp.path(), "# my users\nuser carol on >pw +@all ~*\n");
    let mut admin = s.raw();
    assert_eq!(
        admin.cmd(&["ACL", "SETUSER", "erin", "on", ">x", "+get", "~e*"]),
        ok()
    );
    assert_eq!(admin.cmd(&["CONFIG", "REWRITE"]), ok());
    let text = std::fs::read_to_string(tmp.path().join("redis.conf")).unwrap();
    let user_lines: Vec<&str> = text.lines().filter(|l| l.starts_with("user ")).collect();
    assert_eq!(user_lines.len(), 3, "carol, erin, default:\n{text}");
    assert!(
        text.contains(&format!("user carol on #{SHA_PW} ")),
        "{text}"
    );
    assert!(text.contains(&format!("user erin on #{SHA_X} ")), "{text}");
    assert!(text.contains("# my users"), "comments stay:\n{text}");
    assert!(!text.contains(">pw"), "{text}");
    assert_eq!(admin.cmd(&["ACL", "DELUSER", "carol"]), V::Int(1));
    assert_eq!(admin.cmd(&["CONFIG", "REWRITE"]), ok());
    let text = std::fs::read_to_string(tmp.path().join("redis.conf")).unwrap();
    assert!(!text.contains("user carol"), "{text}");
    drop(admin);
    s.terminate();
    // The rewritten file starts a server with the same users.
    let conf = tmp.path().join("redis.conf");
    let s = Server::start_in(
        &tmp.path().join("data2"),
        &[
            "--config",
            conf.to_str().unwrap(),
            "--port",
            "0",
            "--bind",
            "127.0.0.1",
        ],
    );
    let mut c = s.raw();
    assert_eq!(c.cmd(&["AUTH", "erin", "x"]), ok());
    assert_eq!(c.cmd(&["GET", "e1"]), V::Nil);
    assert_eq!(
        c.err(&["AUTH", "carol", "pw"]),
        "WRONGPASS invalid username-password pair or user is disabled."
    );
}

/// `rename-command` renames what clients type, not what ACL rules name: rules keep using
/// the original command names, as in Redis, so a rename cannot slip past a user's rules.
#[test]
fn renamed_commands_are_checked_under_their_original_names() {
    let tmp = tempfile::tempdir().unwrap();
    let server = start_with_conf(
        tmp.path(),
        "rename-command GET FETCH\nuser reader on >pw ~* -@all +get +auth\n\
         user writer on >pw ~* +@all -get\n",
    );
    let mut admin = server.raw();
    assert!(admin
        .err(&["ACL", "SETUSER", "x", "+fetch"])
        .contains("Unknown command or category name in ACL"));
    let mut reader = server.raw();
    reader.cmd(&["AUTH", "reader", "pw"]);
    assert_eq!(reader.cmd(&["FETCH", "k"]), V::Nil);
    assert!(reader.err(&["GET", "k"]).starts_with("ERR unknown command"));
    let mut writer = server.raw();
    writer.cmd(&["AUTH", "writer", "pw"]);
    assert_eq!(
        writer.err(&["FETCH", "k"]),
        "NOPERM this user has no permissions to run the 'get' command"
    );
}
