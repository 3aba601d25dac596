//! String commands against Redis's documented replies and errors.

use crate::harness::{Server, V};
use redis::Commands;

#[test]
fn get_set_basic_and_options() {
    let s = Server::start();
    let mut c = s.client();
    let _: () = c.set("k", "v").unwrap();
    assert_eq!(c.get::<_, String>("k").unwrap(), "v");
    assert_eq!(c.get::<_, Option<String>>("missing").unwrap(), None);

    let mut r = s.raw();
    assert_eq!(r.cmd(&["SET", "k", "v2", "NX"]), V::Nil);
    assert_eq!(r.cmd(&["SET", "n", "1", "XX"]), V::Nil);
    assert_eq!(r.cmd(&["SET", "k", "v3", "XX"]), V::Status("OK".into()));
    assert_eq!(r.cmd(&["SET", "k", "v4", "GET"]), V::bulk("v3"));
    assert_eq!(r.cmd(&["SET", "new", "x", "GET"]), V::Nil);
    assert_eq!(r.cmd(&["SET", "k", "v5", "NX", "GET"]), V::bulk("v4"));
    assert_eq!(r.cmd(&["GET", "k"]), V::bulk("v4"));

    // TTL options
    assert_eq!(
        r.cmd(&["SET", "t", "1", "EX", "100"]),
        V::Status("OK".into())
    );
    assert!(matches!(r.cmd(&["TTL", "t"]), V::Int(99..=100)));
    r.cmd(&["SET", "t", "1", "PX", "100000"]);
    assert!(matches!(r.cmd(&["PTTL", "t"]), V::Int(99_000..=100_000)));
    r.cmd(&["SET", "t", "2", "KEEPTTL"]);
    assert!(matches!(r.cmd(&["PTTL", "t"]), V::Int(90_000..=100_000)));
    r.cmd(&["SET", "t", "3"]);
    assert_eq!(r.cmd(&["TTL", "t"]), V::Int(-1));
    r.cmd(&["SET", "t", "1", "EXAT", "4102444800"]);
    assert_eq!(r.cmd(&["EXPIRETIME", "t"]), V::Int(4102444800));
    r.cmd(&["SET", "t", "1", "PXAT", "4102444800123"]);
    assert_eq!(r.cmd(&["PEXPIRETIME", "t"]), V::Int(4102444800123));

    // errors
    assert_eq!(
        r.err(&["SET", "k"]),
        "ERR wrong number of arguments for 'set' command"
    );
    assert_eq!(r.err(&["SET", "k", "v", "NX", "XX"]), "ERR syntax error");
    assert_eq!(
        r.err(&["SET", "k", "v", "KEEPTTL", "EX", "1"]),
        "ERR syntax error"
    );
    // Repeating an option is allowed, as in Redis.
    assert_eq!(
        r.cmd(&["SET", "k", "v4", "GET", "GET", "EX", "100", "EX", "100"]),
        V::bulk("v4")
    );
    assert_eq!(
        r.err(&["SET", "k", "v", "EX", "10", "PX", "10"]),
        "ERR syntax error"
    );
    assert_eq!(r.err(&["SET", "k", "v", "EX"]), "ERR syntax error");
    assert_eq!(r.err(&["SET", "k", "v", "BOGUS"]), "ERR syntax error");
    assert_eq!(
        r.err(&["SET", "k", "v", "EX", "0"]),
        "ERR invalid expire time in 'set' command"
    );
    assert_eq!(
        r.err(&["SET", "k", "v", "EX", "-5"]),
        "ERR invalid expire time in 'set' command"
    );
    assert_eq!(
        r.err(&["SET", "k", "v", "EX", "abc"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        r.err(&["SET", "k", "v", "EX", "9223372036854775807"]),
        "ERR invalid expire time in 'set' command"
    );
    assert_eq!(
        r.err(&["GET", "a", "b"]),
        "ERR wrong number of arguments for 'get' command"
    );
}

#[test]
fn setnx_setex_psetex_getset_getdel() {
    let s = Server::start();
    let mut r = s.raw();
    assert_eq!(r.cmd(&["SETNX", "a", "1"]), V::Int(1));
    assert_eq!(r.cmd(&["SETNX", "a", "2"]), V::Int(0));
    assert_eq!(r.cmd(&["GET", "a"]), V::bulk("1"));
    assert_eq!(r.cmd(&["SETEX", "b", "100", "v"]), V::Status("OK".into()));
    assert!(matches!(r.cmd(&["TTL", "b"]), V::Int(99..=100)));
    assert_eq!(
        r.err(&["SETEX", "b", "0", "v"]),
        "ERR invalid expire time in 'setex' command"
    );
    assert_eq!(
        r.err(&["SETEX", "b", "x", "v"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        r.cmd(&["PSETEX", "c", "100000", "v"]),
        V::Status("OK".into())
    );
    assert!(matches!(r.cmd(&["PTTL", "c"]), V::Int(99_000..=100_000)));
    assert_eq!(
        r.err(&["PSETEX", "c", "-1", "v"]),
        "ERR invalid expire time in 'psetex' command"
    );
    assert_eq!(r.cmd(&["GETSET", "a", "9"]), V::bulk("1"));
    assert_eq!(r.cmd(&["GETSET", "zz", "9"]), V::Nil);
    r.cmd(&["SETEX", "ttlkey", "100", "v"]);
    r.cmd(&["GETSET", "ttlkey", "w"]);
    assert_eq!(r.cmd(&["TTL", "ttlkey"]), V::Int(-1));
    assert_eq!(r.cmd(&["GETDEL", "a"]), V::bulk("9"));
    assert_eq!(r.cmd(&["GETDEL", "a"]), V::Nil);
    assert_eq!(r.cmd(&["EXISTS", "a"]), V::Int(0));
}

#[test]
fn getex_options() {
    let s = Server::start();
    let mut r = s.raw();
    r.cmd(&["SET", "k", "v"]);
    assert_eq!(r.cmd(&["GETEX", "k"]), V::bulk("v"));
    assert_eq!(r.cmd(&["TTL", "k"]), V::Int(-1));
    assert_eq!(r.cmd(&["GETEX", "k", "EX", "100"]), V::bulk("v"));
    assert!(matches!(r.cmd(&["TTL", "k"]), V::Int(99..=100)));
    assert_eq!(r.cmd(&["GETEX", "k", "PERSIST"]), V::bulk("v"));
    assert_eq!(r.cmd(&["TTL", "k"]), V::Int(-1));
    assert_eq!(r.cmd(&["GETEX", "k", "PX", "100000"]), V::bulk("v"));
    assert!(matches!(r.cmd(&["PTTL", "k"]), V::Int(99_000..=100_000)));
    assert_eq!(r.cmd(&["GETEX", "k", "EXAT", "4102444800"]), V::bulk("v"));
    assert_eq!(r.cmd(&["EXPIRETIME", "k"]), V::Int(4102444800));
    assert_eq!(r.cmd(&["GETEX", "k", "PXAT", "1"]), V::bulk("v"));
    assert_eq!(r.cmd(&["EXISTS", "k"]), V::Int(0));
    assert_eq!(r.cmd(&["GETEX", "missing", "EX", "10"]), V::Nil);
    r.cmd(&["SET", "k", "v"]);
    assert_eq!(
        r.err(&["GETEX", "k", "EX", "0"]),
        "ERR invalid expire time in 'getex' command"
    );
    assert_eq!(
        r.err(&["GETEX", "k", "EX", "1", "PX", "1"]),
        "ERR syntax error"
    );
    assert_eq!(r.err(&["GETEX", "k", "FOO"]), "ERR syntax error");
    assert_eq!(
        r.err(&["GETEX", "k", "PERSIST", "EX", "1"]),
        "ERR syntax error"
    );
    assert_eq!(r.cmd(&["GETEX", "k", "PERSIST", "PERSIST"]), V::bulk("v"));
}

#[test]
fn mget_mset_msetnx() {
    let s = Server::start();
    let mut c = s.client();
    let _: () = redis::cmd("MSET")
        .arg("a")
        .arg("1")
        .arg("b")
        .arg("2")
        .query(&mut c)
        .unwrap();
    let v: Vec<Option<String>> = c.mget(&["a", "b", "nope"]).unwrap();
    assert_eq!(v, vec![Some("1".into()), Some("2".into()), None]);
    let mut r = s.raw();
    assert_eq!(r.cmd(&["MSET", "d", "1", "d", "2"]), V::Status("OK".into()));
    assert_eq!(r.cmd(&["GET", "d"]), V::bulk("2"));
    assert_eq!(r.cmd(&["DBSIZE"]), V::Int(3));
    assert_eq!(
        r.err(&["MSET", "a", "1", "b"]),
        "ERR wrong number of arguments for 'mset' command"
    );
    assert_eq!(
        r.err(&["MSET", "a"]),
        "ERR wrong number of arguments for 'mset' command"
    );
    assert_eq!(r.cmd(&["MSETNX", "x", "1", "a", "2"]), V::Int(0));
    assert_eq!(r.cmd(&["EXISTS", "x"]), V::Int(0));
    assert_eq!(r.cmd(&["MSETNX", "x", "1", "y", "2"]), V::Int(1));
    assert_eq!(
        r.cmd(&["MGET", "x", "y"]),
        V::Array(vec![V::bulk("1"), V::bulk("2")])
    );
    assert_eq!(
        r.err(&["MSETNX", "x", "1", "y"]),
        "ERR wrong number of arguments for 'msetnx' command"
    );
}

#[test]
fn append_strlen_getrange_setrange_substr() {
    let s = Server::start();
    let mut r = s.raw();
    assert_eq!(r.cmd(&["APPEND", "k", "Hello"]), V::Int(5));
    assert_eq!(r.cmd(&["APPEND", "k", " World"]), V::Int(11));
    assert_eq!(r.cmd(&["STRLEN", "k"]), V::Int(11));
    assert_eq!(r.cmd(&["STRLEN", "missing"]), V::Int(0));
    assert_eq!(r.cmd(&["GETRANGE", "k", "0", "4"]), V::bulk("Hello"));
    assert_eq!(r.cmd(&["GETRANGE", "k", "-5", "-1"]), V::bulk("World"));
    assert_eq!(r.cmd(&["GETRANGE", "k", "0", "-1"]), V::bulk("Hello World"));
    assert_eq!(r.cmd(&["GETRANGE", "k", "5", "3"]), V::bulk(""));
    assert_eq!(r.cmd(&["GETRANGE", "missing", "0", "-1"]), V::bulk(""));
    assert_eq!(r.cmd(&["SUBSTR", "k", "0", "4"]), V::bulk("Hello"));
    assert_eq!(
        r.err(&["GETRANGE", "k", "a", "1"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(r.cmd(&["SETRANGE", "k", "6", "Redis"]), V::Int(11));
    assert_eq!(r.cmd(&["GET", "k"]), V::bulk("Hello Redis"));
    assert_eq!(r.cmd(&["SETRANGE", "pad", "3", "x"]), V::Int(4));
    assert_eq!(r.cmd(&["GET", "pad"]), V::Bulk(b"\0\0\0x".to_vec()));
    assert_eq!(r.cmd(&["SETRANGE", "empty", "0", ""]), V::Int(0));
    assert_eq!(r.cmd(&["EXISTS", "empty"]), V::Int(0));
    assert_eq!(
        r.err(&["SETRANGE", "k", "-1", "x"]),
        "ERR offset is out of range"
    );
    assert_eq!(
        r.err(&["SETRANGE", "k", "536870912", "x"]),
        "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
    );
    // APPEND and SETRANGE keep the TTL
    r.cmd(&["SET", "t", "a", "EX", "100"]);
    r.cmd(&["APPEND", "t", "b"]);
    r.cmd(&["SETRANGE", "t", "0", "c"]);
    assert!(matches!(r.cmd(&["TTL", "t"]), V::Int(99..=100)));
}

#[test]
fn counters_and_their_errors() {
    let s = Server::start();
    let mut c = s.client();
    assert_eq!(c.incr::<_, _, i64>("n", 1).unwrap(), 1);
    let mut r = s.raw();
    assert_eq!(r.cmd(&["INCR", "n"]), V::Int(2));
    assert_eq!(r.cmd(&["INCRBY", "n", "10"]), V::Int(12));
    assert_eq!(r.cmd(&["DECR", "n"]), V::Int(11));
    assert_eq!(r.cmd(&["DECRBY", "n", "20"]), V::Int(-9));
    assert_eq!(r.cmd(&["INCRBY", "n", "-1"]), V::Int(-10));
    r.cmd(&["SET", "max", "9223372036854775807"]);
    assert_eq!(
        r.err(&["INCR", "max"]),
        "ERR increment or decrement would overflow"
    );
    r.cmd(&["SET", "min", "-9223372036854775808"]);
    assert_eq!(
        r.err(&["DECR", "min"]),
        "ERR increment or decrement would overflow"
    );
    assert_eq!(
        r.err(&["DECRBY", "n", "-9223372036854775808"]),
        "ERR decrement would overflow"
    );
    r.cmd(&["SET", "s", "abc"]);
    assert_eq!(
        r.err(&["INCR", "s"]),
        "ERR value is not an integer or out of range"
    );
    r.cmd(&["SET", "sp", " 1"]);
    assert_eq!(
        r.err(&["INCR", "sp"]),
        "ERR value is not an integer or out of range"
    );
    r.cmd(&["SET", "e", ""]);
    assert_eq!(
        r.err(&["INCR", "e"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        r.err(&["INCRBY", "n", "1.5"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        r.err(&["INCRBY", "n", "99999999999999999999"]),
        "ERR value is not an integer or out of range"
    );
    // INCR keeps the TTL
    r.cmd(&["SET", "t", "1", "EX", "100"]);
    r.cmd(&["INCR", "t"]);
    assert!(matches!(r.cmd(&["TTL", "t"]), V::Int(99..=100)));
    assert_eq!(r.cmd(&["OBJECT", "ENCODING", "n"]), V::bulk("int"));
}

#[test]
fn incrbyfloat_formats_like_redis() {
    let s = Server::start();
    let mut r = s.raw();
    assert_eq!(r.cmd(&["INCRBYFLOAT", "f", "10.5"]), V::bulk("10.5"));
    assert_eq!(r.cmd(&["INCRBYFLOAT", "f", "0.1"]), V::bulk("10.6"));
    assert_eq!(r.cmd(&["INCRBYFLOAT", "f", "-5"]), V::bulk("5.6"));
    r.cmd(&["SET", "g", "5.0e3"]);
    assert_eq!(r.cmd(&["INCRBYFLOAT", "g", "2.0e2"]), V::bulk("5200"));
    r.cmd(&["SET", "h", "0.1"]);
    assert_eq!(r.cmd(&["INCRBYFLOAT", "h", "0.2"]), V::bulk("0.3"));
    r.cmd(&["SET", "i", "3"]);
    assert_eq!(r.cmd(&["INCRBYFLOAT", "i", "1"]), V::bulk("4"));
    assert_eq!(r.cmd(&["GET", "i"]), V::bulk("4"));
    assert_eq!(
        r.err(&["INCRBYFLOAT", "i", "abc"]),
        "ERR value is not a valid float"
    );
    assert_eq!(
        r.err(&["INCRBYFLOAT", "i", "nan"]),
        "ERR value is not a valid float"
    );
    assert_eq!(
        r.err(&["INCRBYFLOAT", "i", "inf"]),
        "ERR increment would produce NaN or Infinity"
    );
    r.cmd(&["SET", "s", "abc"]);
    assert_eq!(
        r.err(&["INCRBYFLOAT", "s", "1"]),
        "ERR value is not a valid float"
    );
    r.cmd(&["SET", "big", "1.7e308"]);
    assert_eq!(
        r.err(&["INCRBYFLOAT", "big", "1.7e308"]),
        "ERR increment would produce NaN or Infinity"
    );
}

#[test]
fn lcs_all_forms() {
    let s = Server::start();
    let mut r = s.raw();
    r.cmd(&["MSET", "key1", "ohmytext", "key2", "mynewtext"]);
    assert_eq!(r.cmd(&["LCS", "key1", "key2"]), V::bulk("mytext"));
    assert_eq!(r.cmd(&["LCS", "key1", "key2", "LEN"]), V::Int(6));
    let range = |a: i64, b: i64| V::Array(vec![V::Int(a), V::Int(b)]);
    assert_eq!(
        r.cmd(&["LCS", "key1", "key2", "IDX"]),
        V::Array(vec![
            V::bulk("matches"),
            V::Array(vec![
                V::Array(vec![range(4, 7), range(5, 8)]),
                V::Array(vec![range(2, 3), range(0, 1)]),
            ]),
            V::bulk("len"),
            V::Int(6),
        ])
    );
    assert_eq!(
        r.cmd(&[
            "LCS",
            "key1",
            "key2",
            "IDX",
            "MINMATCHLEN",
            "4",
            "WITHMATCHLEN"
        ]),
        V::Array(vec![
            V::bulk("matches"),
            V::Array(vec![V::Array(vec![range(4, 7), range(5, 8), V::Int(4)])]),
            V::bulk("len"),
            V::Int(6),
        ])
    );
    assert_eq!(r.cmd(&["LCS", "key1", "missing"]), V::bulk(""));
    assert_eq!(
        r.err(&["LCS", "key1", "key2", "LEN", "IDX"]),
        "ERR If you want both the length and indexes, please just use IDX."
    );
    assert_eq!(r.err(&["LCS", "key1", "key2", "FOO"]), "ERR syntax error");
    // A table too large to build is refused instead of exhausting memory.
    r.cmd(&["CONFIG", "SET", "proto-max-bulk-len", "1mb"]);
    let big = "a".repeat(1000);
    r.cmd(&["MSET", "big1", &big, "big2", &big]);
    assert_eq!(
        r.err(&["LCS", "big1", "big2"]),
        "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len"
    );
}

#[test]
fn values_are_binary_safe() {
    let s = Server::start();
    let mut c = s.client();
    let value: Vec<u8> = (0..=255u8).collect();
    let _: () = c.set(b"bin\x00key".as_slice(), value.clone()).unwrap();
    let back: Vec<u8> = c.get(b"bin\x00key".as_slice()).unwrap();
    assert_eq!(back, value);
    let big = vec![b'x'; 2 * 1024 * 1024];
    let _: () = c.set("big", big.clone()).unwrap();
    assert_eq!(c.get::<_, Vec<u8>>("big").unwrap(), big);
}
