//! Lua scripting beyond what the differential suite compares: atomicity under load,
//! `-BUSY` and `SCRIPT KILL`, `UNKILLABLE`, and scripts and libraries surviving a restart.

use std::time::Duration;

use crate::harness::{eventually, Raw, Server, V};

#[test]
fn a_looping_script_makes_others_busy_until_script_kill() {
    let server = Server::start_with(&["--busy-reply-threshold", "200"]);
    let mut runner = server.raw();
    runner.send_bytes(&Raw::encode(&[b"EVAL", b"while true do end", b"0"]));
    let mut other = server.raw();
    eventually(
        "another client gets -BUSY",
        Duration::from_secs(30),
        || matches!(other.cmd(&["GET", "k"]), V::Error(e) if e.starts_with("BUSY ")),
    );
    assert!(other
        .err(&["PING"])
        .starts_with("BUSY Redis is busy running a script"));
    assert_eq!(other.cmd(&["SCRIPT", "KILL"]), V::Status("OK".into()));
    match runner.read() {
        V::Error(e) => assert!(
            e.starts_with("ERR Script killed by user with SCRIPT KILL"),
            "{e}"
        ),
        other => panic!("the killed script replied {other:?}"),
    }
    assert_eq!(other.cmd(&["SET", "k", "v"]), V::Status("OK".into()));
    assert_eq!(
        other.err(&["SCRIPT", "KILL"]),
        "NOTBUSY No scripts in execution right now."
    );
}

#[test]
fn a_script_that_wrote_is_unkillable() {
    // The old name is an alias of busy-reply-threshold, on the command line and in CONFIG.
    let server = Server::start_with(&["--lua-time-limit", "100"]);
    let mut runner = server.raw();
    assert_eq!(
        runner.cmd(&["CONFIG", "GET", "busy-reply-threshold"]),
        V::Array(vec![V::bulk("busy-reply-threshold"), V::bulk("100")])
    );
    runner.cmd(&["CONFIG", "SET", "lua-time-limit", "150"]);
    assert_eq!(
        runner.cmd(&["CONFIG", "GET", "lua-time-limit"]),
        V::Array(vec![V::bulk("lua-time-limit"), V::bulk("150")])
    );
    // Writes once, then spins for a bounded number of iterations.
    runner.send_bytes(&Raw::encode(&[
        b"EVAL",
        b"redis.call('set', 'w', '1') local n = 0 while n < 300000000 do n = n + 1 end return n",
        b"0",
    ]));
    let mut other = server.raw();
    eventually(
        "the script is busy",
        Duration::from_secs(30),
        || matches!(other.cmd(&["GET", "w"]), V::Error(e) if e.starts_with("BUSY ")),
    );
    assert!(other
        .err(&["SCRIPT", "KILL"])
        .starts_with("UNKILLABLE Sorry the script already executed write commands"));
    assert_eq!(runner.read(), V::Int(300_000_000));
    assert_eq!(other.cmd(&["GET", "w"]), V::bulk("1"));
}

#[test]
fn scripts_are_atomic_against_concurrent_clients() {
    let server = Server::start();
    let script = "local v = tonumber(redis.call('get', KEYS[1]) or '0') \
                  redis.call('set', KEYS[1], v + 1) return v + 1";
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let addr = server.addr.clone();
            std::thread::spawn(move || {
                let mut r = Raw::connect(&addr);
                for _ in 0..250 {
                    assert!(matches!(r.cmd(&["EVAL", script, "1", "n"]), V::Int(_)));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(server.raw().cmd(&["GET", "n"]), V::bulk("1000"));
}

#[test]
fn scripts_and_function_libraries_survive_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let sha;
    {
        let mut server = Server::start_in(&dir, &[]);
        let mut r = server.raw();
        sha = r
            .cmd(&["SCRIPT", "LOAD", "return 'kept ' .. ARGV[1]"])
            .text();
        let lib = "#!lua name=keep\nredis.register_function('hi', function(keys, args) return 'hi ' .. args[1] end)";
        assert_eq!(r.cmd(&["FUNCTION", "LOAD", lib]), V::bulk("keep"));
        assert_eq!(r.cmd(&["EVAL", "return 1", "0"]), V::Int(1));
        server.kill9();
    }
    let server = Server::start_in(&dir, &[]);
    let mut r = server.raw();
    assert_eq!(r.cmd(&["EVALSHA", &sha, "0", "x"]), V::bulk("kept x"));
    assert_eq!(r.cmd(&["FCALL", "hi", "0", "you"]), V::bulk("hi you"));
    assert_eq!(
        r.cmd(&[
            "SCRIPT",
            "EXISTS",
            "e0e1f9fabfc9d4800c877a703b823ac0578ff8db"
        ]),
        V::Array(vec![V::Int(1)])
    );
    // FUNCTION DUMP/RESTORE round trip, and FLUSH really forgets.
    let dump = match r.cmd(&["FUNCTION", "DUMP"]) {
        V::Bulk(b) => b,
        other => panic!("FUNCTION DUMP: {other:?}"),
    };
    assert_eq!(r.cmd(&["FUNCTION", "FLUSH"]), V::Status("OK".into()));
    assert_eq!(r.err(&["FCALL", "hi", "0", "x"]), "ERR Function not found");
    r.send_bytes(&Raw::encode(&[b"FUNCTION", b"RESTORE", &dump]));
    assert_eq!(r.read(), V::Status("OK".into()));
    assert_eq!(r.cmd(&["FCALL", "hi", "0", "again"]), V::bulk("hi again"));
    assert!(r
        .err(&["FUNCTION", "RESTORE", "garbage"])
        .starts_with("ERR DUMP payload version or checksum"));
    match r.cmd(&["FUNCTION", "LIST", "WITHCODE"]) {
        V::Array(libs) => assert_eq!(libs.len(), 1),
        other => panic!("FUNCTION LIST: {other:?}"),
    }
    assert_eq!(r.cmd(&["SCRIPT", "FLUSH"]), V::Status("OK".into()));
    assert!(r.err(&["EVALSHA", &sha, "0"]).starts_with("NOSCRIPT"));
}
