//! A user's own redis.conf starts Strata unchanged: the production config of a typical
//! Redis guide, every directive name Redis 7.0 and 7.2 know (with Redis's defaults, from
//! `tests/it/data/`), `CONFIG SET` of directives that have no effect here, refusal of the
//! few that would ask for a missing feature, and `save` rules that take checkpoints.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::harness::{eventually, Raw, Server, V};

/// The production `redis.conf` of a typical Redis guide (the example), as is.
const GUIDE_CONF: &str = "\
maxmemory 4gb
maxmemory-policy allkeys-lru
save 900 1
save 300 10
save 60 10000
appendonly yes
appendfsync everysec
aof-use-rdb-preamble yes
requirepass your_strong_password_here
bind 127.0.0.1
tcp-keepalive 300
hz 10
lazyfree-lazy-eviction yes
lazyfree-lazy-expire yes
slowlog-log-slower-than 10000
slowlog-max-len 128
rename-command FLUSHDB \"\"
rename-command FLUSHALL \"\"
rename-command DEBUG \"\"
rename-command CONFIG \"CONFIG_b3f2c9\"
";

fn start_with_conf(text: &str, extra: &[&str]) -> (tempfile::TempDir, Server) {
    let tmp = tempfile::tempdir().unwrap();
    let conf = tmp.path().join("redis.conf");
    std::fs::write(&conf, text).unwrap();
    let data = tmp.path().join("data");
    let mut args = vec!["--config", conf.to_str().unwrap(), "--port", "0"];
    args.extend_from_slice(extra);
    let server = Server::start_in(&data, &args);
    (tmp, server)
}

fn bulk(v: V) -> String {
    match v {
        V::Bulk(b) => String::from_utf8_lossy(&b).into_owned(),
        other => panic!("expected a bulk reply, got {other:?}"),
    }
}

/// `CONFIG GET name` through `config` (the command's possibly renamed name).
fn config_get(r: &mut Raw, config: &str, name: &str) -> Option<String> {
    match r.cmd(&[config, "GET", name]) {
        V::Array(items) if items.len() == 2 => Some(bulk(items[1].clone())),
        V::Array(items) if items.is_empty() => None,
        other => panic!("CONFIG GET {name}: {other:?}"),
    }
}

#[test]
fn a_typical_production_redis_conf_starts_unchanged() {
    let (_tmp, s) = start_with_conf(GUIDE_CONF, &[]);
    let log = s.startup_log.join("\n");
    for name in [
        "aof-use-rdb-preamble",
        "lazyfree-lazy-eviction",
        "lazyfree-lazy-expire",
    ] {
        assert_eq!(
            s.startup_log
                .iter()
                .filter(|l| l.contains(&format!("config: {name}:")))
                .count(),
            1,
            "one log line saying why {name} has no effect:\n{log}"
        );
    }
    assert!(log.contains("there is no AOF file"), "{log}");
    let mut r = s.raw();
    assert!(r.err(&["GET", "k"]).starts_with("NOAUTH"));
    assert_eq!(
        r.cmd(&["AUTH", "your_strong_password_here"]),
        V::Status("OK".into())
    );
    assert!(r
        .err(&["CONFIG", "GET", "maxmemory"])
        .contains("unknown command"));
    assert!(r.err(&["FLUSHALL"]).contains("unknown command"));
    let c = "CONFIG_b3f2c9";
    assert_eq!(config_get(&mut r, c, "maxmemory").unwrap(), "4294967296");
    assert_eq!(
        config_get(&mut r, c, "save").unwrap(),
        "900 1 300 10 60 10000",
        "save lines add up, as in Redis"
    );
    assert_eq!(
        config_get(&mut r, c, "aof-use-rdb-preamble").unwrap(),
        "yes"
    );
    assert_eq!(
        config_get(&mut r, c, "lazyfree-lazy-expire").unwrap(),
        "yes"
    );
    assert_eq!(r.cmd(&["SET", "k", "v"]), V::Status("OK".into()));
}

/// Feeds one of the generated directive lists and checks each value reads back.
fn every_directive_loads(file: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/it/data")
        .join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    // `dir` and `bind` would point the test server elsewhere; the command line overrides
    // them after the file, as it overrides `port`.
    let (_tmp, s) = start_with_conf(&text, &["--bind", "127.0.0.1"]);
    let mut r = s.raw();
    let mut checked = 0;
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (name, value) = line.split_once(' ').unwrap();
        if matches!(name, "dir" | "bind" | "port") {
            continue;
        }
        let value = value.trim_matches('"');
        let got = config_get(&mut r, "CONFIG", name)
            .unwrap_or_else(|| panic!("CONFIG GET {name} returned nothing"));
        // Strata's own defaults win where it honours the directive differently.
        let strata_default = matches!(name, "appendonly" | "maxmemory-policy");
        if !strata_default {
            assert_eq!(got, value, "CONFIG GET {name}");
        }
        checked += 1;
    }
    assert!(checked > 180, "only {checked} directives in {file}");
}

#[test]
fn every_redis_7_0_directive_loads() {
    every_directive_loads("redis-7.0-directives.conf");
}

#[test]
fn every_redis_7_2_directive_loads() {
    every_directive_loads("redis-7.2-directives.conf");
}

#[test]
fn config_set_of_directives_without_effect_is_kept_like_redis() {
    let s = Server::start();
    let mut r = s.raw();
    for (name, value) in [
        ("hash-max-listpack-entries", "1024"),
        ("zset-max-ziplist-value", "128"),
        ("set-max-intset-entries", "1"),
        ("activedefrag", "yes"),
        ("client-output-buffer-limit", "pubsub 64mb 16mb 30"),
    ] {
        assert_eq!(
            r.cmd(&["CONFIG", "SET", name, value]),
            V::Status("OK".into()),
            "{name}"
        );
    }
    assert_eq!(
        config_get(&mut r, "CONFIG", "hash-max-ziplist-entries").unwrap(),
        "1024",
        "an alias reads the same value"
    );
    assert_eq!(
        config_get(&mut r, "CONFIG", "zset-max-listpack-value").unwrap(),
        "128"
    );
    assert_eq!(
        config_get(&mut r, "CONFIG", "client-output-buffer-limit").unwrap(),
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 67108864 16777216 30",
        "only the named class changes"
    );
    // Redis's own answers for immutable and invalid values.
    assert_eq!(
        r.err(&["CONFIG", "SET", "daemonize", "yes"]),
        "ERR CONFIG SET failed (possibly related to argument 'daemonize') - can't set immutable config"
    );
    assert!(r
        .err(&["CONFIG", "SET", "activedefrag", "maybe"])
        .contains("argument must be 'yes' or 'no'"));
    // The TLS port is chosen at start-up (tests/it/tls.rs).
    let tls = r.err(&["CONFIG", "SET", "tls-port", "6380"]);
    assert!(tls.contains("can't set immutable config"), "{tls}");
    assert_eq!(config_get(&mut r, "CONFIG", "tls-port").unwrap(), "0");
    let all = match r.cmd(&["CONFIG", "GET", "*"]) {
        V::Array(items) => items.len() / 2,
        other => panic!("{other:?}"),
    };
    assert!(all > 190, "CONFIG GET * lists {all}");
}

#[test]
fn directives_asking_for_missing_features_stop_start_up() {
    for (line, reason) in [
        ("cluster-enabled yes", "Redis Cluster is not implemented"),
        ("tls-cluster yes", "cluster buses are plain TCP"),
        ("replica-read-only no", "always read-only"),
        ("loadmodule /opt/redisearch.so", "modules cannot be loaded"),
        ("maxmemroy 1gb", "unknown directive"),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let conf = tmp.path().join("redis.conf");
        std::fs::write(&conf, format!("port 0\n{line}\n")).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_strata"))
            .args(["server", "--config", conf.to_str().unwrap()])
            .arg("--dir")
            .arg(tmp.path().join("data"))
            .output()
            .unwrap();
        assert!(!out.status.success(), "{line} must not start");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("redis.conf:2") && err.contains(reason),
            "{line}: {err}"
        );
    }
}

#[test]
fn a_save_rule_takes_a_checkpoint_after_a_write() {
    let s = Server::start_with(&["--save", "1 1"]);
    let mut r = s.raw();
    let info = |r: &mut Raw, field: &str| -> String {
        let text = r.cmd(&["INFO", "persistence"]).text();
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{field}:")))
            .unwrap_or_else(|| panic!("no {field} in {text}"))
            .trim()
            .to_string()
    };
    assert_eq!(info(&mut r, "rdb_saves"), "0");
    let V::Int(before) = r.cmd(&["LASTSAVE"]) else {
        panic!()
    };
    r.cmd(&["SET", "k", "v"]);
    eventually("the save rule checkpoints", Duration::from_secs(20), || {
        info(&mut r, "rdb_saves") == "1"
    });
    let V::Int(after) = r.cmd(&["LASTSAVE"]) else {
        panic!()
    };
    assert!(after > before, "LASTSAVE moved ({before} -> {after})");
    assert_eq!(info(&mut r, "rdb_changes_since_last_save"), "0");
    assert_eq!(info(&mut r, "rdb_last_bgsave_status"), "ok");
    let out = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(["checkpoint", "list", "--dir", s.dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
    // Nothing changed since: no further checkpoint however long we look.
    assert_eq!(info(&mut r, "rdb_saves"), "1");
}

#[test]
fn save_during_a_background_save_is_refused_as_redis() {
    let s = Server::start();
    let mut r = s.raw();
    r.cmd(&["SET", "k", "v"]);
    assert_eq!(
        r.cmd(&["BGSAVE"]),
        V::Status("Background saving started".into())
    );
    // Until the background save ends, SAVE and BGSAVE get Redis's answer; after it, both run.
    eventually(
        "the background save ends",
        Duration::from_secs(30),
        || match r.cmd(&["SAVE"]) {
            V::Status(s) => s == "OK",
            V::Error(e) => {
                assert_eq!(e, "ERR Background save already in progress");
                false
            }
            other => panic!("{other:?}"),
        },
    );
    assert_eq!(
        r.cmd(&["BGSAVE", "SCHEDULE"]).text(),
        "Background saving started"
    );
}
