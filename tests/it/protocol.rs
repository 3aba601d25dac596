//! Wire protocol robustness: malformed RESP, size limits, inline commands, pipelining, RESP3.

use crate::harness::{Raw, Server, V};

fn assert_protocol_error_then_closed(s: &Server, bytes: &[u8], expected: &str) {
    let mut r = s.raw();
    r.send_bytes(bytes);
    assert_eq!(
        r.read(),
        V::Error(expected.to_string()),
        "input {:?}",
        String::from_utf8_lossy(bytes)
    );
    assert!(r.is_closed(), "protocol errors close the connection");
    // The server is still up and other connections unaffected.
    assert_eq!(s.raw().cmd(&["PING"]), V::Status("PONG".into()));
}

#[test]
fn malformed_resp_gets_redis_errors_and_server_stays_up() {
    let s = Server::start();
    let mut bystander = s.raw();
    bystander.cmd(&["SET", "k", "v"]);
    assert_protocol_error_then_closed(
        &s,
        b"*abc\r\n",
        "ERR Protocol error: invalid multibulk length",
    );
    assert_protocol_error_then_closed(
        &s,
        b"*99999999999\r\n",
        "ERR Protocol error: invalid multibulk length",
    );
    assert_protocol_error_then_closed(
        &s,
        b"*1\r\n$-5\r\n",
        "ERR Protocol error: invalid bulk length",
    );
    assert_protocol_error_then_closed(
        &s,
        b"*1\r\n$abc\r\n",
        "ERR Protocol error: invalid bulk length",
    );
    assert_protocol_error_then_closed(
        &s,
        b"*1\r\n+foo\r\n",
        "ERR Protocol error: expected '$', got '+'",
    );
    assert_protocol_error_then_closed(
        &s,
        b"*1\r\n$999999999999\r\n",
        "ERR Protocol error: invalid bulk length",
    );
    assert_protocol_error_then_closed(
        &s,
        b"SET \"unbalanced\r\n",
        "ERR Protocol error: unbalanced quotes in request",
    );
    let mut big_inline = vec![b'a'; 70 * 1024];
    big_inline.extend_from_slice(b"x");
    assert_protocol_error_then_closed(
        &s,
        &big_inline,
        "ERR Protocol error: too big inline request",
    );
    let mut big_count = b"*".to_vec();
    big_count.extend(vec![b'1'; 70 * 1024]);
    assert_protocol_error_then_closed(
        &s,
        &big_count,
        "ERR Protocol error: too big mbulk count string",
    );
    // Garbage bytes
    let mut r = s.raw();
    r.send_bytes(b"\x00\x01\x02\xff\r\n");
    assert!(matches!(r.read(), V::Error(_)));
    assert_eq!(bystander.cmd(&["GET", "k"]), V::bulk("v"));
}

#[test]
fn bulk_and_query_buffer_limits_from_config() {
    let s = Server::start();
    let mut admin = s.raw();
    admin.cmd(&["CONFIG", "SET", "proto-max-bulk-len", "1mb"]);
    let mut r = s.raw();
    r.send_bytes(format!("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n${}\r\n", 2 * 1024 * 1024).as_bytes());
    assert_eq!(
        r.read(),
        V::Error("ERR Protocol error: invalid bulk length".into())
    );
    admin.cmd(&[
        "CONFIG",
        "SET",
        "proto-max-bulk-len",
        "512mb",
        "client-query-buffer-limit",
        "1mb",
    ]);
    let mut r = s.raw();
    let mut frame = format!("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n${}\r\n", 4 * 1024 * 1024).into_bytes();
    frame.extend(vec![b'x'; 2 * 1024 * 1024]);
    r.send_bytes(&frame);
    assert!(
        r.is_closed(),
        "a client over client-query-buffer-limit is disconnected"
    );
    assert_eq!(admin.cmd(&["PING"]), V::Status("PONG".into()));
}

#[test]
fn inline_commands_work() {
    let s = Server::start();
    let mut r = s.raw();
    r.send_bytes(b"PING\r\n");
    assert_eq!(r.read(), V::Status("PONG".into()));
    r.send_bytes(b"SET greeting \"hello world\"\r\nGET greeting\n");
    assert_eq!(r.read(), V::Status("OK".into()));
    assert_eq!(r.read(), V::bulk("hello world"));
    r.send_bytes(b"\r\n\r\nEXISTS greeting\r\n");
    assert_eq!(r.read(), V::Int(1));
}

#[test]
fn split_frames_are_reassembled() {
    let s = Server::start();
    let mut r = s.raw();
    let frame = Raw::encode(&[b"SET", b"key", b"value"]);
    for byte in &frame {
        r.send_bytes(&[*byte]);
    }
    assert_eq!(r.read(), V::Status("OK".into()));
    assert_eq!(r.cmd(&["GET", "key"]), V::bulk("value"));
}

#[test]
fn pipeline_of_ten_thousand_commands() {
    let s = Server::start();
    let mut r = s.raw();
    let mut batch = Vec::new();
    for i in 0..10_000 {
        batch.extend(Raw::encode(&[b"INCR", b"counter"]));
        if i % 1000 == 0 {
            batch.extend(Raw::encode(&[b"SET", format!("k{i}").as_bytes(), b"v"]));
        }
    }
    r.send_bytes(&batch);
    let mut last = 0;
    let mut oks = 0;
    for _ in 0..10_010 {
        match r.read() {
            V::Int(n) => {
                assert_eq!(n, last + 1, "replies arrive in order");
                last = n;
            }
            V::Status(s) if s == "OK" => oks += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((last, oks), (10_000, 10));
    // The redis crate's pipeline API too.
    let mut c = s.client();
    let mut pipe = redis::pipe();
    for i in 0..10_000 {
        pipe.cmd("SET").arg(format!("p{i}")).arg(i).ignore();
    }
    pipe.cmd("DBSIZE");
    let (size,): (i64,) = pipe.query(&mut c).unwrap();
    assert_eq!(size, 10_011);
}

#[test]
fn resp3_replies() {
    let s = Server::start();
    let mut r = s.raw();
    r.cmd(&["HELLO", "3"]);
    assert_eq!(r.cmd(&["GET", "nope"]), V::Nil);
    assert!(matches!(r.cmd(&["INFO", "server"]), V::Verbatim(_)));
    r.cmd(&["MSET", "a", "1", "b", "2"]);
    assert_eq!(
        r.cmd(&["MGET", "a", "nope"]),
        V::Array(vec![V::bulk("1"), V::Nil])
    );
    let V::Array(info) = r.cmd(&["COMMAND", "INFO", "get"]) else {
        panic!()
    };
    let V::Array(entry) = &info[0] else { panic!() };
    assert!(matches!(entry[2], V::Set(_)), "flags are a set in RESP3");
    assert!(matches!(r.cmd(&["LCS", "a", "b", "IDX"]), V::Map(_)));
    assert_eq!(
        r.err(&["GET"]),
        "ERR wrong number of arguments for 'get' command"
    );
}
