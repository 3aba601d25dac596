//! Generic key commands, TTLs, iteration and databases.

use std::collections::HashSet;
use std::time::Duration;

use crate::harness::{eventually, Server, V};

fn ok() -> V {
    V::Status("OK".into())
}

#[test]
fn del_unlink_exists_type_touch() {
    let s = Server::start();
    let mut r = s.raw();
    r.cmd(&["MSET", "a", "1", "b", "2", "c", "3"]);
    assert_eq!(r.cmd(&["EXISTS", "a", "a", "nope"]), V::Int(2));
    assert_eq!(r.cmd(&["TOUCH", "a", "b", "nope"]), V::Int(2));
    assert_eq!(r.cmd(&["TYPE", "a"]), V::Status("string".into()));
    assert_eq!(r.cmd(&["TYPE", "nope"]), V::Status("none".into()));
    assert_eq!(r.cmd(&["DEL", "a", "a", "nope"]), V::Int(1));
    assert_eq!(r.cmd(&["UNLINK", "b", "c"]), V::Int(2));
    assert_eq!(r.cmd(&["DBSIZE"]), V::Int(0));
    assert_eq!(
        r.err(&["DEL"]),
        "ERR wrong number of arguments for 'del' command"
    );
    assert_eq!(
        r.err(&["EXISTS"]),
        "ERR wrong number of arguments for 'exists' command"
    );
    assert_eq!(
        r.err(&["TYPE", "a", "b"]),
        "ERR wrong number of arguments for 'type' command"
    );
}

#[test]
fn expire_family_and_conditions() {
    let s = Server::start();
    let mut r = s.raw();
    r.cmd(&["SET", "k", "v"]);
    assert_eq!(r.cmd(&["EXPIRE", "missing", "10"]), V::Int(0));
    assert_eq!(r.cmd(&["TTL", "missing"]), V::Int(-2));
    assert_eq!(r.cmd(&["PTTL", "missing"]), V::Int(-2));
    assert_eq!(r.cmd(&["TTL", "k"]), V::Int(-1));
    assert_eq!(r.cmd(&["EXPIRETIME", "k"]), V::Int(-1));
    assert_eq!(r.cmd(&["PEXPIRETIME", "missing"]), V::Int(-2));
    assert_eq!(r.cmd(&["EXPIRE", "k", "100", "XX"]), V::Int(0));
    assert_eq!(r.cmd(&["EXPIRE", "k", "100", "NX"]), V::Int(1));
    assert_eq!(r.cmd(&["EXPIRE", "k", "200", "NX"]), V::Int(0));
    assert_eq!(r.cmd(&["EXPIRE", "k", "50", "GT"]), V::Int(0));
    assert_eq!(r.cmd(&["EXPIRE", "k", "200", "GT"]), V::Int(1));
    assert_eq!(r.cmd(&["EXPIRE", "k", "300", "LT"]), V::Int(0));
    assert_eq!(r.cmd(&["EXPIRE", "k", "150", "LT"]), V::Int(1));
    assert!(matches!(r.cmd(&["TTL", "k"]), V::Int(149..=150)));
    assert_eq!(r.cmd(&["PEXPIRE", "k", "100000"]), V::Int(1));
    assert!(matches!(r.cmd(&["PTTL", "k"]), V::Int(99_000..=100_000)));
    assert_eq!(r.cmd(&["EXPIREAT", "k", "4102444800"]), V::Int(1));
    assert_eq!(r.cmd(&["EXPIRETIME", "k"]), V::Int(4102444800));
    assert_eq!(r.cmd(&["PEXPIREAT", "k", "4102444800500"]), V::Int(1));
    assert_eq!(r.cmd(&["PEXPIRETIME", "k"]), V::Int(4102444800500));
    assert_eq!(r.cmd(&["PERSIST", "k"]), V::Int(1));
    assert_eq!(r.cmd(&["PERSIST", "k"]), V::Int(0));
    assert_eq!(r.cmd(&["PERSIST", "missing"]), V::Int(0));
    // A persistent key counts as infinite TTL: GT never applies, LT always does.
    assert_eq!(r.cmd(&["EXPIRE", "k", "100", "GT"]), V::Int(0));
    assert_eq!(r.cmd(&["EXPIRE", "k", "100", "LT"]), V::Int(1));
    // Past deadlines delete.
    assert_eq!(r.cmd(&["EXPIRE", "k", "-1"]), V::Int(1));
    assert_eq!(r.cmd(&["EXISTS", "k"]), V::Int(0));
    r.cmd(&["SET", "k", "v"]);
    assert_eq!(r.cmd(&["PEXPIREAT", "k", "1"]), V::Int(1));
    assert_eq!(r.cmd(&["GET", "k"]), V::Nil);

    assert_eq!(
        r.err(&["EXPIRE", "k", "abc"]),
        "ERR value is not an integer or out of range"
    );
    r.cmd(&["SET", "k", "v"]);
    assert_eq!(
        r.err(&["EXPIRE", "k", "10", "NX", "XX"]),
        "ERR NX and XX, GT or LT options at the same time are not compatible"
    );
    assert_eq!(
        r.err(&["EXPIRE", "k", "10", "GT", "LT"]),
        "ERR GT and LT options at the same time are not compatible"
    );
    assert_eq!(
        r.err(&["EXPIRE", "k", "10", "FOO"]),
        "ERR Unsupported option FOO"
    );
    assert_eq!(
        r.err(&["EXPIRE", "k", "9223372036854775807"]),
        "ERR invalid expire time in 'expire' command"
    );
    assert_eq!(
        r.err(&["PEXPIRE", "k", "9223372036854775807"]),
        "ERR invalid expire time in 'pexpire' command"
    );
}

#[test]
fn expired_keys_vanish_at_once_and_are_reclaimed() {
    let s = Server::start();
    let mut r = s.raw();
    for i in 0..50 {
        r.cmd(&["SET", &format!("k{i}"), "v", "PX", "150"]);
    }
    r.cmd(&["SET", "keep", "v"]);
    assert_eq!(r.cmd(&["DBSIZE"]), V::Int(51));
    // Lazy: each expired key reads as absent as soon as its deadline passes.
    eventually("keys expire", Duration::from_secs(10), || {
        let mut raw = s.raw();
        raw.cmd(&["GET", "k0"]) == V::Nil && raw.cmd(&["EXISTS", "k49"]) == V::Int(0)
    });
    // Active expiry reclaims them without any access: DBSIZE drops to the live count.
    eventually("active expiry reclaims", Duration::from_secs(10), || {
        s.raw().cmd(&["DBSIZE"]) == V::Int(1)
    });
    let info = r.cmd(&["INFO", "stats"]).text();
    assert!(info.contains("expired_keys:50"), "{info}");
    assert_eq!(r.cmd(&["KEYS", "*"]), V::Array(vec![V::bulk("keep")]));
}

#[test]
fn rename_renamenx_copy_move() {
    let s = Server::start();
    let mut r = s.raw();
    r.cmd(&["SET", "a", "1", "EX", "100"]);
    assert_eq!(r.cmd(&["RENAME", "a", "b"]), ok());
    assert_eq!(r.cmd(&["EXISTS", "a"]), V::Int(0));
    assert_eq!(r.cmd(&["GET", "b"]), V::bulk("1"));
    assert!(
        matches!(r.cmd(&["TTL", "b"]), V::Int(99..=100)),
        "rename keeps the TTL"
    );
    assert_eq!(r.cmd(&["RENAME", "b", "b"]), ok());
    assert_eq!(r.err(&["RENAME", "nope", "x"]), "ERR no such key");
    r.cmd(&["SET", "c", "3"]);
    assert_eq!(r.cmd(&["RENAMENX", "b", "c"]), V::Int(0));
    assert_eq!(r.cmd(&["RENAMENX", "b", "d"]), V::Int(1));
    assert_eq!(r.err(&["RENAMENX", "nope", "x"]), "ERR no such key");
    assert_eq!(r.cmd(&["RENAME", "d", "c"]), ok());
    assert_eq!(r.cmd(&["GET", "c"]), V::bulk("1"));
    assert_eq!(r.cmd(&["DBSIZE"]), V::Int(1));

    assert_eq!(r.cmd(&["COPY", "c", "e"]), V::Int(1));
    assert_eq!(r.cmd(&["COPY", "c", "e"]), V::Int(0));
    r.cmd(&["SET", "c", "2"]);
    assert_eq!(r.cmd(&["COPY", "c", "e", "REPLACE"]), V::Int(1));
    assert_eq!(r.cmd(&["GET", "e"]), V::bulk("2"));
    assert_eq!(r.cmd(&["COPY", "c", "e", "DB", "5"]), V::Int(1));
    assert_eq!(r.cmd(&["COPY", "nope", "e"]), V::Int(0));
    assert_eq!(
        r.err(&["COPY", "c", "c"]),
        "ERR source and destination objects are the same"
    );
    assert_eq!(
        r.err(&["COPY", "c", "e", "DB", "99"]),
        "ERR DB index is out of range"
    );
    assert_eq!(r.err(&["COPY", "c", "e", "FOO"]), "ERR syntax error");

    assert_eq!(r.cmd(&["MOVE", "c", "1"]), V::Int(1));
    assert_eq!(r.cmd(&["EXISTS", "c"]), V::Int(0));
    assert_eq!(r.cmd(&["MOVE", "nope", "1"]), V::Int(0));
    r.cmd(&["SET", "c", "again"]);
    assert_eq!(r.cmd(&["MOVE", "c", "1"]), V::Int(0), "target exists");
    assert_eq!(
        r.err(&["MOVE", "c", "0"]),
        "ERR source and destination objects are the same"
    );
    assert_eq!(r.err(&["MOVE", "c", "16"]), "ERR DB index is out of range");
    assert_eq!(
        r.err(&["MOVE", "c", "x"]),
        "ERR value is not an integer or out of range"
    );
    r.cmd(&["SELECT", "1"]);
    assert_eq!(r.cmd(&["GET", "c"]), V::bulk("2"));
    r.cmd(&["SELECT", "5"]);
    assert_eq!(r.cmd(&["GET", "e"]), V::bulk("2"));
}

#[test]
fn keys_glob_semantics() {
    let s = Server::start();
    let mut r = s.raw();
    for k in [
        "hello", "hallo", "hxllo", "hllo", "heeeello", "h*llo", "other",
    ] {
        r.cmd(&["SET", k, "1"]);
    }
    let keys = |r: &mut crate::harness::Raw, p: &str| -> HashSet<String> {
        match r.cmd(&["KEYS", p]) {
            V::Array(items) => items.iter().map(V::text).collect(),
            other => panic!("{other:?}"),
        }
    };
    let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<HashSet<_>>();
    assert_eq!(
        keys(&mut r, "h?llo"),
        set(&["hello", "hallo", "hxllo", "h*llo"])
    );
    assert_eq!(
        keys(&mut r, "h*llo"),
        set(&["hello", "hallo", "hxllo", "hllo", "heeeello", "h*llo"])
    );
    assert_eq!(keys(&mut r, "h[ae]llo"), set(&["hello", "hallo"]));
    assert_eq!(keys(&mut r, "h[^e]llo"), set(&["hallo", "hxllo", "h*llo"]));
    assert_eq!(keys(&mut r, "h[a-b]llo"), set(&["hallo"]));
    assert_eq!(keys(&mut r, "h\\*llo"), set(&["h*llo"]));
    assert_eq!(keys(&mut r, "*").len(), 7);
    assert_eq!(
        r.err(&["KEYS"]),
        "ERR wrong number of arguments for 'keys' command"
    );
}

#[test]
fn scan_returns_every_key_once_with_match_count_type() {
    let s = Server::start();
    let mut c = s.client();
    let mut pipe = redis::pipe();
    for i in 0..1000 {
        pipe.set(format!("key:{i}"), i).ignore();
    }
    let _: () = pipe.query(&mut c).unwrap();
    let mut r = s.raw();
    let mut cursor = "0".to_string();
    let mut seen = Vec::new();
    loop {
        let V::Array(parts) = r.cmd(&["SCAN", &cursor, "COUNT", "37"]) else {
            panic!()
        };
        cursor = parts[0].text();
        let V::Array(keys) = &parts[1] else { panic!() };
        seen.extend(keys.iter().map(V::text));
        if cursor == "0" {
            break;
        }
        assert!(
            cursor.parse::<u64>().is_ok(),
            "cursor is a plain integer: {cursor}"
        );
    }
    assert_eq!(seen.len(), 1000);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 1000);

    let matched: Vec<String> = redis::Commands::scan_match::<_, String>(&mut c, "key:1?")
        .unwrap()
        .collect();
    assert_eq!(matched.len(), 10);
    let typed: Vec<String> = redis::cmd("SCAN")
        .cursor_arg(0)
        .arg("TYPE")
        .arg("string")
        .arg("COUNT")
        .arg(5000)
        .clone()
        .iter(&mut c)
        .unwrap()
        .collect();
    assert_eq!(typed.len(), 1000);
    let none: Vec<String> = redis::cmd("SCAN")
        .cursor_arg(0)
        .arg("TYPE")
        .arg("hash")
        .clone()
        .iter(&mut c)
        .unwrap()
        .collect();
    assert!(none.is_empty());
    assert_eq!(r.err(&["SCAN", "abc"]), "ERR invalid cursor");
    assert_eq!(r.err(&["SCAN", "0", "COUNT", "0"]), "ERR syntax error");
    assert_eq!(
        r.err(&["SCAN", "0", "COUNT", "x"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(r.err(&["SCAN", "0", "FOO", "1"]), "ERR syntax error");
    assert_eq!(r.err(&["SCAN", "0", "MATCH"]), "ERR syntax error");
}

#[test]
fn scan_never_misses_keys_present_throughout_while_others_change() {
    let s = Server::start();
    let mut r = s.raw();
    for i in 0..500 {
        r.cmd(&["SET", &format!("stable:{i}"), "1"]);
    }
    let mut writer = s.raw();
    let mut cursor = "0".to_string();
    let mut seen = HashSet::new();
    let mut round = 0;
    loop {
        let V::Array(parts) = r.cmd(&["SCAN", &cursor, "COUNT", "20"]) else {
            panic!()
        };
        cursor = parts[0].text();
        let V::Array(keys) = &parts[1] else { panic!() };
        seen.extend(keys.iter().map(V::text));
        // Churn between pages: add and delete other keys.
        writer.cmd(&["SET", &format!("churn:{round}"), "x"]);
        writer.cmd(&["DEL", &format!("churn:{}", round / 2)]);
        round += 1;
        if cursor == "0" {
            break;
        }
    }
    for i in 0..500 {
        assert!(seen.contains(&format!("stable:{i}")), "missed stable:{i}");
    }
}

#[test]
fn randomkey_dbsize_flush_swapdb() {
    let s = Server::start();
    let mut r = s.raw();
    assert_eq!(r.cmd(&["RANDOMKEY"]), V::Nil);
    r.cmd(&["MSET", "a", "1", "b", "2"]);
    let k = r.cmd(&["RANDOMKEY"]).text();
    assert!(k == "a" || k == "b");
    assert_eq!(r.cmd(&["DBSIZE"]), V::Int(2));
    r.cmd(&["SELECT", "2"]);
    r.cmd(&["SET", "x", "1"]);
    assert_eq!(r.cmd(&["SWAPDB", "0", "2"]), ok());
    assert_eq!(r.cmd(&["DBSIZE"]), V::Int(2));
    assert_eq!(r.cmd(&["GET", "a"]), V::bulk("1"));
    r.cmd(&["SELECT", "0"]);
    assert_eq!(r.cmd(&["KEYS", "*"]), V::Array(vec![V::bulk("x")]));
    assert_eq!(r.err(&["SWAPDB", "0", "x"]), "ERR invalid second DB index");
    assert_eq!(r.err(&["SWAPDB", "x", "0"]), "ERR invalid first DB index");
    assert_eq!(
        r.err(&["SWAPDB", "0", "16"]),
        "ERR DB index is out of range"
    );
    assert_eq!(r.cmd(&["FLUSHDB"]), ok());
    assert_eq!(r.cmd(&["DBSIZE"]), V::Int(0));
    r.cmd(&["SELECT", "2"]);
    assert_eq!(r.cmd(&["DBSIZE"]), V::Int(2));
    assert_eq!(r.cmd(&["FLUSHALL", "ASYNC"]), ok());
    assert_eq!(r.cmd(&["DBSIZE"]), V::Int(0));
    assert_eq!(r.cmd(&["FLUSHALL", "SYNC"]), ok());
    assert_eq!(r.cmd(&["FLUSHDB", "SYNC"]), ok());
    assert_eq!(r.err(&["FLUSHALL", "FOO"]), "ERR syntax error");
    assert_eq!(r.err(&["FLUSHDB", "ASYNC", "X"]), "ERR syntax error");
    // A flushed key with a TTL does not come back, and counts stay exact.
    r.cmd(&["SET", "t", "1", "EX", "100"]);
    r.cmd(&["FLUSHDB"]);
    r.cmd(&["SET", "t", "2"]);
    assert_eq!(r.cmd(&["DBSIZE"]), V::Int(1));
    assert_eq!(r.cmd(&["TTL", "t"]), V::Int(-1));
}

#[test]
fn object_subcommands() {
    let s = Server::start();
    let mut r = s.raw();
    r.cmd(&["SET", "i", "12345"]);
    r.cmd(&["SET", "e", "short"]);
    r.cmd(&["SET", "raw", &"x".repeat(100)]);
    assert_eq!(r.cmd(&["OBJECT", "ENCODING", "i"]), V::bulk("int"));
    assert_eq!(r.cmd(&["OBJECT", "ENCODING", "e"]), V::bulk("embstr"));
    assert_eq!(r.cmd(&["OBJECT", "ENCODING", "raw"]), V::bulk("raw"));
    assert_eq!(r.cmd(&["OBJECT", "ENCODING", "nope"]), V::Nil);
    assert_eq!(r.cmd(&["OBJECT", "REFCOUNT", "i"]), V::Int(1));
    assert_eq!(r.cmd(&["OBJECT", "IDLETIME", "i"]), V::Int(0));
    assert!(r
        .err(&["OBJECT", "FREQ", "i"])
        .starts_with("ERR An LFU maxmemory policy is not selected"));
    assert_eq!(
        r.err(&["OBJECT", "FOO", "i"]),
        "ERR unknown subcommand 'FOO'. Try OBJECT HELP."
    );
    assert_eq!(
        r.err(&["OBJECT", "ENCODING"]),
        "ERR wrong number of arguments for 'object|encoding' command"
    );
    assert!(matches!(r.cmd(&["OBJECT", "HELP"]), V::Array(_)));
}

#[test]
fn databases_are_isolated() {
    let s = Server::start();
    let mut r = s.raw();
    for db in 0..16 {
        r.cmd(&["SELECT", &db.to_string()]);
        r.cmd(&["SET", "k", &format!("v{db}")]);
    }
    for db in 0..16 {
        r.cmd(&["SELECT", &db.to_string()]);
        assert_eq!(r.cmd(&["GET", "k"]), V::bulk(&format!("v{db}")));
        assert_eq!(r.cmd(&["DBSIZE"]), V::Int(1));
    }
    let keyspace = r.cmd(&["INFO", "keyspace"]).text();
    assert!(
        keyspace.contains("db0:keys=1,expires=0,avg_ttl=0"),
        "{keyspace}"
    );
    assert!(keyspace.contains("db15:keys=1,expires=0"), "{keyspace}");
}
