//! Hash-field expiration (Redis 7.4/8.0): HEXPIRE family, HTTL family, HPERSIST, HGETDEL,
//! HGETEX, HSETEX; expired fields vanish at once and are reclaimed by active expiry.

use std::time::Duration;

use crate::harness::{eventually, Server, V};

fn ints(v: &[i64]) -> V {
    V::Array(v.iter().map(|&n| V::Int(n)).collect())
}

#[test]
fn hexpire_family_and_ttl_queries() {
    let s = Server::start();
    let mut r = s.raw();
    r.cmd(&["HSET", "h", "a", "1", "b", "2", "c", "3"]);
    assert_eq!(
        r.cmd(&["HEXPIRE", "h", "100", "FIELDS", "2", "a", "zz"]),
        ints(&[1, -2])
    );
    assert_eq!(
        r.cmd(&["HEXPIRE", "nokey", "100", "FIELDS", "1", "a"]),
        ints(&[-2])
    );
    assert!(
        matches!(r.cmd(&["HTTL", "h", "FIELDS", "3", "a", "b", "zz"]), V::Array(ref v) if v[0] == V::Int(100) || v[0] == V::Int(99))
    );
    assert_eq!(
        r.cmd(&["HTTL", "h", "FIELDS", "2", "b", "zz"]),
        ints(&[-1, -2])
    );
    assert_eq!(
        r.cmd(&["HEXPIRE", "h", "50", "NX", "FIELDS", "2", "a", "b"]),
        ints(&[0, 1])
    );
    assert_eq!(
        r.cmd(&["HEXPIRE", "h", "10", "GT", "FIELDS", "1", "a"]),
        ints(&[0])
    );
    assert_eq!(
        r.cmd(&["HEXPIRE", "h", "10", "LT", "FIELDS", "1", "a"]),
        ints(&[1])
    );
    assert_eq!(
        r.cmd(&["HEXPIRE", "h", "10", "XX", "FIELDS", "1", "c"]),
        ints(&[0])
    );
    assert_eq!(
        r.cmd(&["HPEXPIREAT", "h", "4102444800123", "FIELDS", "1", "c"]),
        ints(&[1])
    );
    assert_eq!(
        r.cmd(&["HPEXPIRETIME", "h", "FIELDS", "1", "c"]),
        ints(&[4102444800123])
    );
    assert_eq!(
        r.cmd(&["HEXPIRETIME", "h", "FIELDS", "1", "c"]),
        ints(&[4102444800])
    );
    assert!(
        matches!(r.cmd(&["HPTTL", "h", "FIELDS", "1", "a"]), V::Array(ref v) if matches!(v[0], V::Int(9000..=10000)))
    );
    assert_eq!(
        r.cmd(&["HPERSIST", "h", "FIELDS", "3", "a", "b", "zz"]),
        ints(&[1, 1, -2])
    );
    assert_eq!(r.cmd(&["HPERSIST", "h", "FIELDS", "1", "a"]), ints(&[-1]));
    // A deadline in the past deletes the field; the last field deletes the key.
    assert_eq!(
        r.cmd(&["HEXPIRE", "h", "0", "FIELDS", "1", "a"]),
        ints(&[2])
    );
    assert_eq!(
        r.cmd(&["HPEXPIREAT", "h", "1", "FIELDS", "2", "b", "c"]),
        ints(&[2, 2])
    );
    assert_eq!(r.cmd(&["EXISTS", "h"]), V::Int(0));
    // errors
    r.cmd(&["HSET", "h", "a", "1"]);
    assert_eq!(
        r.err(&["HEXPIRE", "h", "10", "FIELDS", "2", "a"]),
        "ERR The `numfields` parameter must match the number of arguments"
    );
    assert_eq!(
        r.err(&["HEXPIRE", "h", "10", "FIELDS", "0", "a"]),
        "ERR Parameter `numFields` should be greater than 0"
    );
    assert_eq!(
        r.err(&["HEXPIRE", "h", "10", "FOO", "1", "a"]),
        "ERR Mandatory argument FIELDS is missing or not at the right position"
    );
    assert_eq!(
        r.err(&["HEXPIRE", "h", "-1", "FIELDS", "1", "a"]),
        "ERR invalid expire time, must be >= 0 and <= 281474976710655"
    );
    assert_eq!(
        r.err(&["HEXPIRE", "h", "x", "FIELDS", "1", "a"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        r.err(&["HTTL", "h", "FIELDS", "1"]),
        "ERR wrong number of arguments for 'httl' command"
    );
    r.cmd(&["SET", "str", "v"]);
    assert_eq!(
        r.err(&["HEXPIRE", "str", "10", "FIELDS", "1", "a"]),
        "WRONGTYPE Operation against a key holding the wrong kind of value"
    );
}

#[test]
fn expired_fields_vanish_and_are_reclaimed() {
    let s = Server::start();
    let mut r = s.raw();
    r.cmd(&["HSET", "h", "keep", "1", "gone", "2"]);
    r.cmd(&["HPEXPIRE", "h", "50", "FIELDS", "1", "gone"]);
    eventually("field expires", Duration::from_secs(10), || {
        s.raw().cmd(&["HGET", "h", "gone"]) == V::Nil
    });
    assert_eq!(
        r.cmd(&["HGETALL", "h"]),
        V::Array(vec![V::bulk("keep"), V::bulk("1")])
    );
    assert_eq!(r.cmd(&["HEXISTS", "h", "gone"]), V::Int(0));
    // Active expiry removes it physically: HLEN, which counts stored fields, drops to 1.
    eventually("field reclaimed", Duration::from_secs(10), || {
        s.raw().cmd(&["HLEN", "h"]) == V::Int(1)
    });
    // A hash whose only field expires disappears.
    r.cmd(&["HSET", "solo", "f", "v"]);
    r.cmd(&["HPEXPIRE", "solo", "30", "FIELDS", "1", "f"]);
    eventually("hash removed", Duration::from_secs(10), || {
        s.raw().cmd(&["EXISTS", "solo"]) == V::Int(0)
    });
    // HSET on a field clears its TTL; HINCRBY keeps it.
    r.cmd(&["HSET", "t", "a", "1", "b", "1"]);
    r.cmd(&["HEXPIRE", "t", "100", "FIELDS", "2", "a", "b"]);
    r.cmd(&["HSET", "t", "a", "2"]);
    r.cmd(&["HINCRBY", "t", "b", "1"]);
    assert!(
        matches!(r.cmd(&["HTTL", "t", "FIELDS", "2", "a", "b"]), V::Array(ref v) if v[0] == V::Int(-1) && v[1] != V::Int(-1))
    );
}

#[test]
fn hgetdel_hgetex_hsetex() {
    let s = Server::start();
    let mut r = s.raw();
    r.cmd(&["HSET", "h", "a", "1", "b", "2", "c", "3"]);
    assert_eq!(
        r.cmd(&["HGETDEL", "h", "FIELDS", "2", "a", "zz"]),
        V::Array(vec![V::bulk("1"), V::Nil])
    );
    assert_eq!(r.cmd(&["HLEN", "h"]), V::Int(2));
    assert_eq!(
        r.cmd(&["HGETEX", "h", "EX", "100", "FIELDS", "2", "b", "zz"]),
        V::Array(vec![V::bulk("2"), V::Nil])
    );
    assert!(
        matches!(r.cmd(&["HTTL", "h", "FIELDS", "1", "b"]), V::Array(ref v) if matches!(v[0], V::Int(99..=100)))
    );
    assert_eq!(
        r.cmd(&["HGETEX", "h", "PERSIST", "FIELDS", "1", "b"]),
        V::Array(vec![V::bulk("2")])
    );
    assert_eq!(r.cmd(&["HTTL", "h", "FIELDS", "1", "b"]), ints(&[-1]));
    assert_eq!(
        r.cmd(&["HGETEX", "h", "FIELDS", "1", "c"]),
        V::Array(vec![V::bulk("3")])
    );
    assert_eq!(
        r.cmd(&["HGETEX", "h", "PXAT", "1", "FIELDS", "1", "c"]),
        V::Array(vec![V::bulk("3")])
    );
    assert_eq!(r.cmd(&["HEXISTS", "h", "c"]), V::Int(0));
    assert_eq!(
        r.cmd(&["HGETDEL", "h", "FIELDS", "1", "b"]),
        V::Array(vec![V::bulk("2")])
    );
    assert_eq!(
        r.cmd(&["EXISTS", "h"]),
        V::Int(0),
        "the last field deleted removes the hash"
    );

    assert_eq!(
        r.cmd(&["HSETEX", "s", "EX", "100", "FIELDS", "2", "a", "1", "b", "2"]),
        V::Int(1)
    );
    assert!(
        matches!(r.cmd(&["HTTL", "s", "FIELDS", "1", "a"]), V::Array(ref v) if matches!(v[0], V::Int(99..=100)))
    );
    assert_eq!(
        r.cmd(&["HSETEX", "s", "FNX", "FIELDS", "1", "a", "9"]),
        V::Int(0)
    );
    assert_eq!(
        r.cmd(&["HSETEX", "s", "FXX", "KEEPTTL", "FIELDS", "1", "a", "9"]),
        V::Int(1)
    );
    assert_eq!(r.cmd(&["HGET", "s", "a"]), V::bulk("9"));
    assert!(
        matches!(r.cmd(&["HTTL", "s", "FIELDS", "1", "a"]), V::Array(ref v) if matches!(v[0], V::Int(99..=100)))
    );
    assert_eq!(
        r.cmd(&["HSETEX", "s", "FXX", "FIELDS", "2", "a", "1", "new", "1"]),
        V::Int(0)
    );
    assert_eq!(r.cmd(&["HSETEX", "s", "FIELDS", "1", "a", "0"]), V::Int(1));
    assert_eq!(r.cmd(&["HTTL", "s", "FIELDS", "1", "a"]), ints(&[-1]));
    assert_eq!(
        r.err(&["HSETEX", "s", "FIELDS", "2", "a", "1"]),
        "ERR The `numfields` parameter must match the number of arguments"
    );
    assert_eq!(
        r.err(&["HGETEX", "s", "EX", "0", "FIELDS", "1", "a"]),
        "ERR invalid expire time in 'hgetex' command"
    );
}

#[test]
fn copied_and_renamed_hashes_keep_field_ttls_and_their_reclamation() {
    let s = Server::start();
    let mut r = s.raw();
    r.cmd(&["HSET", "h", "keep", "1", "gone", "2"]);
    r.cmd(&["HPEXPIRE", "h", "300", "FIELDS", "1", "gone"]);
    assert_eq!(r.cmd(&["COPY", "h", "copy"]), V::Int(1));
    assert_eq!(r.cmd(&["RENAME", "h", "renamed"]), V::Status("OK".into()));
    for key in ["copy", "renamed"] {
        assert!(
            matches!(r.cmd(&["HPTTL", key, "FIELDS", "1", "gone"]), V::Array(ref v) if matches!(v[0], V::Int(1..=300)))
        );
    }
    eventually("copied field reclaimed", Duration::from_secs(10), || {
        let mut c = s.raw();
        c.cmd(&["HLEN", "copy"]) == V::Int(1) && c.cmd(&["HLEN", "renamed"]) == V::Int(1)
    });
}
