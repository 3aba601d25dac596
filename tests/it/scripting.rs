//! Lua scripting beyond what the differential suite compares: atomicity under load,
//! `-BUSY` and `SCRIPT KILL`, `UNKILLABLE`, scripts and libraries surviving a restart, and
//! the hardening of issue 14: depth limits on every Lua <-> reply conversion and in cjson and
//! cmsgpack, the memory bound, the read-only sandbox, blocking commands inside scripts, and
//! the FUNCTION LOAD timeout. Expected texts are redis-server 7.0.15's unless a test says
//! otherwise; each test ends by checking the server still answers PING.

use std::time::Duration;

use crate::harness::{eventually, Raw, Server, V};

fn sha(script: &str) -> String {
    sha1_smol::Sha1::from(script).digest().to_string()
}

/// `EVAL script 0 args...`, raw bytes.
fn eval(r: &mut Raw, script: &str, args: &[&[u8]]) -> V {
    let mut cmd: Vec<&[u8]> = vec![b"EVAL", script.as_bytes(), b"0"];
    cmd.extend_from_slice(args);
    r.send_bytes(&Raw::encode(&cmd));
    r.read()
}

/// The error a script's failure answers: `<text> script: <sha>, on @user_script:1.`
fn script_error(script: &str, text: &str) -> V {
    V::Error(format!(
        "{text} script: {}, on @user_script:1.",
        sha(script)
    ))
}

fn assert_alive(r: &mut Raw) {
    assert_eq!(r.cmd(&["PING"]), V::Status("PONG".into()));
}

/// Nesting depth down the first element of arrays, and what is at the bottom.
fn nesting(v: &V) -> (usize, &V) {
    let mut depth = 0;
    let mut v = v;
    while let V::Array(items) = v {
        depth += 1;
        match items.first() {
            Some(first) => v = first,
            None => break,
        }
    }
    (depth, v)
}

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

#[test]
fn self_referencing_and_deeply_nested_results_terminate() {
    // Redis answers nested arrays down to its stack limit (7,995 levels) with the error in
    // place of the value there; Strata does the same at 1,000 levels.
    let server = Server::start();
    let mut r = server.raw();
    for script in [
        "local t={} t[1]=t return t",
        "local t={} local c=t for i=1,10000 do c[1]={} c=c[1] end return t",
    ] {
        let reply = eval(&mut r, script, &[]);
        let (depth, bottom) = nesting(&reply);
        assert_eq!(depth, 1000, "{script}");
        assert_eq!(bottom, &V::Error("ERR reached lua stack limit".into()));
        assert_alive(&mut r);
    }
    // A table in a RESP3 map value nests the same way.
    r.cmd(&["HELLO", "3"]);
    match eval(&mut r, "local t={} t[1]=t return {map={a=t}}", &[]) {
        V::Map(pairs) => {
            assert_eq!(pairs.len(), 1);
            let (depth, bottom) = nesting(&pairs[0].1);
            assert_eq!(depth, 999);
            assert_eq!(bottom, &V::Error("ERR reached lua stack limit".into()));
        }
        other => panic!("map reply expected, got {other:?}"),
    }
    assert_alive(&mut r);
}

#[test]
fn hostile_msgpack_is_an_error_not_a_crash() {
    let server = Server::start();
    let mut r = server.raw();
    let unpack = "return cmsgpack.unpack(ARGV[1])";
    // The input: 200,000 nested arrays used to overflow the native stack (SIGABRT).
    let mut deep = vec![0x91u8; 200_000];
    deep.push(0xc0);
    assert_eq!(
        eval(&mut r, unpack, &[&deep]),
        script_error(
            unpack,
            "ERR user_script:1: stack overflow (in function mp_decode_to_lua_array)"
        )
    );
    assert_alive(&mut r);
    // Maps nested through their keys (found by the network fuzzer) exhausted mlua's
    // reference slots: a panic the gate caught.
    let mut keys = vec![0x81u8; 100_000];
    keys.push(0xc0);
    match eval(&mut r, unpack, &[&keys]) {
        V::Error(e) => assert!(e.contains("stack overflow"), "{e}"),
        other => panic!("map-key nesting replied {other:?}"),
    }
    assert_alive(&mut r);
    // 3,999 levels is Redis's deepest; the reply itself stops at 1,000 levels.
    let mut ok = vec![0x91u8; 3999];
    ok.push(0xc0);
    let depth = "local r = cmsgpack.unpack(ARGV[1]) local d = 0 \
                 while type(r) == 'table' do d = d + 1 r = r[1] end return d";
    assert_eq!(eval(&mut r, depth, &[&ok]), V::Int(3999));
    // Length headers promising 2^32 elements or bytes reserve nothing.
    for header in [
        &b"\xdd\xff\xff\xff\xff"[..],
        b"\xdf\xff\xff\xff\xff",
        b"\xdb\xff\xff\xff\xff",
    ] {
        assert_eq!(
            eval(&mut r, unpack, &[header]),
            script_error(unpack, "ERR user_script:1: Missing bytes in input.")
        );
    }
    // Too many top-level values, and a nil map key, as Redis words them.
    let count = "return select('#', cmsgpack.unpack(ARGV[1]))";
    assert_eq!(eval(&mut r, count, &[&[1u8; 7999]]), V::Int(7999));
    assert_eq!(
        eval(&mut r, count, &[&[1u8; 8000]]),
        script_error(
            count,
            "ERR user_script:1: stack overflow (too many return values at once; use \
             unpack_one or unpack_limit instead.)"
        )
    );
    assert_eq!(
        eval(&mut r, unpack, &[b"\x81\xc0\x01"]),
        script_error(unpack, "ERR table index is nil")
    );
    // Packing a cycle stops at 16 levels, as lua-cmsgpack does.
    assert_eq!(
        eval(&mut r, "local t={} t[1]=t return cmsgpack.pack(t)", &[]),
        V::Bulk([&[0x91u8; 16][..], &[0xc0]].concat())
    );
    assert_alive(&mut r);
}

#[test]
fn cjson_nesting_limits() {
    let server = Server::start();
    let mut r = server.raw();
    let decode = "return cjson.decode(ARGV[1])";
    let deep = format!("{}{}", "[".repeat(1001), "]".repeat(1001));
    let err = script_error(
        decode,
        "ERR user_script:1: Found too many nested data structures (1001) at character 1001",
    );
    assert_eq!(eval(&mut r, decode, &[deep.as_bytes()]), err);
    assert_eq!(eval(&mut r, decode, &["[".repeat(200_000).as_bytes()]), err);
    let encode = "local t = {} t[1] = t return cjson.encode(t)";
    assert_eq!(
        eval(&mut r, encode, &[]),
        script_error(
            encode,
            "ERR user_script:1: Cannot serialise, excessive nesting (1001)"
        )
    );
    let roundtrip = "return #cjson.encode(cjson.decode(ARGV[1]))";
    let ok = format!("{}{}", "[".repeat(1000), "]".repeat(1000));
    assert_eq!(eval(&mut r, roundtrip, &[ok.as_bytes()]), V::Int(2000));
    assert_alive(&mut r);
}

#[test]
fn script_memory_is_bounded_and_released() {
    let server = Server::start();
    let mut r = server.raw();
    for script in [
        "return #string.rep('x', 2^30)",
        "local t = {} for i = 1, 1e9 do t[i] = i end return #t",
        "local t = {} for i = 1, 1e9 do t[i] = string.rep('y', 1e6) .. i end return #t",
    ] {
        match eval(&mut r, script, &[]) {
            V::Error(e) => assert!(
                e.starts_with("ERR not enough memory (the Lua VM is limited to 512 MiB)")
                    && e.contains(&sha(script)),
                "{script}: {e}"
            ),
            other => panic!("{script}: expected an error, got {other:?}"),
        }
        // The VM is usable again at once.
        assert_eq!(eval(&mut r, "return 1 + 1", &[]), V::Int(2));
    }
    // 2^31 is a negative count to Lua 5.1: an empty string, as in Redis.
    assert_eq!(
        eval(&mut r, "return #string.rep('x', 2^31)", &[]),
        V::Int(0)
    );
    // The memory of the failed runs is back.
    let used = eval(&mut r, "return collectgarbage('count')", &[]);
    match used {
        V::Int(kib) => assert!(kib < 64 * 1024, "Lua holds {kib} KiB after the failed runs"),
        other => panic!("collectgarbage('count'): {other:?}"),
    }
    assert_alive(&mut r);
}

#[test]
fn the_sandbox_refuses_what_redis_7_refuses() {
    let server = Server::start();
    let mut r = server.raw();
    let positioned = "ERR user_script:1: Attempt to modify a readonly table";
    for script in [
        "x = 1",
        "redis.call = nil",
        "redis.x = 1",
        "string.rep = nil",
        "getmetatable('').__index = {}",
        "local mt = getmetatable('') mt.__index = {} return 1",
        "cjson.encode = function() end",
        "cmsgpack.pack = nil",
        "bit.band = nil",
        "struct.pack = nil",
        "math.floor = nil",
        "table.insert = nil",
        "coroutine.create = nil",
        "getmetatable(_G).__index = nil",
        "KEYS = {}",
        "_G.x = 1",
        "redis = nil",
        "debug = 1",
    ] {
        assert_eq!(
            eval(&mut r, script, &[]),
            script_error(script, positioned),
            "{script}"
        );
    }
    let bare = "ERR Attempt to modify a readonly table";
    for script in [
        "rawset(redis, 'x', 1)",
        "rawset(_G, 'x', 1)",
        "setmetatable(_G, nil)",
        "rawset(string, 'x', 1)",
        "setmetatable(string, {})",
        "setmetatable(redis, {})",
        "local mt = getmetatable(_G) rawset(mt, '__index', nil)",
        "setmetatable(getmetatable(_G), nil)",
        "table.insert(string, 'x')",
        "table.insert(_G, 'x')",
    ] {
        assert_eq!(
            eval(&mut r, script, &[]),
            script_error(script, bare),
            "{script}"
        );
    }
    for (script, name) in [
        ("return x", "x"),
        ("return loadfile", "loadfile"),
        ("return dofile", "dofile"),
        ("return print", "print"),
        ("print('x')", "print"),
        ("return os.clock()", "os"),
        ("return type(setfenv)", "setfenv"),
        ("return type(getfenv)", "getfenv"),
        ("return type(newproxy)", "newproxy"),
        ("return type(require)", "require"),
        ("return type(debug)", "debug"),
        ("return type(io)", "io"),
    ] {
        let text = format!(
            "ERR user_script:1: Script attempted to access nonexistent global variable '{name}'"
        );
        assert_eq!(
            eval(&mut r, script, &[]),
            script_error(script, &text),
            "{script}"
        );
    }
    // What Redis leaves readable stays readable.
    for (script, want) in [
        ("return type(getmetatable(_G))", V::bulk("table")),
        ("return type(getmetatable(''))", V::bulk("table")),
        (
            "return tostring(rawequal(getmetatable('').__index, string))",
            V::bulk("true"),
        ),
        ("return type(getmetatable(string))", V::bulk("nil")),
        ("return type(rawget(string, 'rep'))", V::bulk("function")),
        ("return type(rawget(_G, 'redis'))", V::bulk("table")),
        ("return type(next(redis))", V::bulk("string")),
        ("return ('ab'):rep(2)", V::bulk("abab")),
        ("KEYS[1] = 'x' return KEYS[1]", V::bulk("x")),
        ("table.insert(KEYS, 'y') return KEYS[1]", V::bulk("y")),
        ("local t = {} setmetatable(t, {}) return 1", V::Int(1)),
        ("return type(loadstring('return 1'))", V::bulk("function")),
        ("return type(coroutine)", V::bulk("table")),
        (
            "local ok, e = pcall(redis.call, 'nosuch') return e",
            V::bulk("ERR Unknown Redis command called from script"),
        ),
        (
            "local ok, e = pcall(error, {x=1}) return type(e)",
            V::bulk("table"),
        ),
    ] {
        assert_eq!(eval(&mut r, script, &[]), want, "{script}");
    }
    let script = "setmetatable('', {})";
    assert_eq!(
        eval(&mut r, script, &[]),
        script_error(
            script,
            "ERR user_script:1: bad argument #1 to 'setmetatable' (table expected, got string)"
        )
    );
    let script = "local f = loadstring('x = 1') f() return 1";
    match eval(&mut r, script, &[]) {
        V::Error(e) => assert!(e.contains("Attempt to modify a readonly table"), "{e}"),
        other => panic!("{script}: {other:?}"),
    }
    assert_alive(&mut r);
}

#[test]
fn one_script_cannot_change_what_the_next_one_sees() {
    let server = Server::start();
    let mut r = server.raw();
    let tricks = [
        "redis.call = nil",
        "rawset(redis, 'call', function() return 'hijacked' end)",
        "string.rep = nil",
        "rawset(string, 'rep', nil)",
        "rawset(_G, 'tostring', nil)",
        "setmetatable(_G, nil)",
        "getmetatable('').__index = {}",
        "rawset(getmetatable(''), '__index', {})",
        "getmetatable(_G).__index = function() return 'anything' end",
        "cjson.encode = function() return 'forged' end",
        "table.insert(_G, 'leak')",
        "table.insert(string, 'leak')",
        "leak = 1",
        "collectgarbage('stop')",
    ];
    // Each directly, and all at once under pcall.
    for trick in tricks {
        let _ = eval(&mut r, trick, &[]);
    }
    let all: String = tricks
        .iter()
        .map(|t| format!("pcall(function() {t} end) "))
        .collect();
    let _ = eval(&mut r, &format!("{all} return 1"), &[]);
    let check = "redis.call('set', 'k', 'v') \
                 return {redis.call('get', 'k'), string.rep('a', 3), cjson.encode({1}), \
                 tostring(1), type(getmetatable(_G)), ('b'):rep(2), tostring(rawget(_G, 1)), \
                 tostring(rawget(_G, 'leak')), tostring(string[1]), \
                 tostring(pcall(function() return undefined_global end))}";
    assert_eq!(
        eval(&mut r, check, &[]),
        V::Array(vec![
            V::bulk("v"),
            V::bulk("aaa"),
            V::bulk("[1]"),
            V::bulk("1"),
            V::bulk("table"),
            V::bulk("bb"),
            V::bulk("nil"),
            V::bulk("nil"),
            V::bulk("nil"),
            V::bulk("false"),
        ])
    );
    assert_alive(&mut r);
}

#[test]
fn blocking_commands_in_scripts_never_block_or_leave_a_waiter() {
    let server = Server::start();
    let mut r = server.raw();
    for (script, text) in [
        (
            "return redis.call('blpop', 'q', 0)",
            "ERR This Redis command is not allowed from script",
        ),
        (
            "return redis.call('brpop', 'q', 1)",
            "ERR This Redis command is not allowed from script",
        ),
        (
            "return redis.call('blmove', 'q', 'd', 'left', 'right', 0)",
            "ERR This Redis command is not allowed from script",
        ),
        (
            "return redis.call('brpoplpush', 'q', 'd', 0)",
            "ERR This Redis command is not allowed from script",
        ),
        (
            "return redis.call('bzpopmin', 'z', 0)",
            "ERR This Redis command is not allowed from script",
        ),
        (
            "return redis.call('bzpopmax', 'z', 0)",
            "ERR This Redis command is not allowed from script",
        ),
        (
            "return redis.call('xread', 'block', 0, 'streams', 's', '$')",
            "ERR xread command is not allowed with BLOCK option from scripts",
        ),
        (
            "return redis.call('XREAD', 'COUNT', 1, 'BLOCK', 0, 'STREAMS', 's', '0')",
            "ERR XREAD command is not allowed with BLOCK option from scripts",
        ),
        (
            "return redis.call('xreadgroup', 'group', 'g', 'c', 'block', 0, 'streams', 's', '>')",
            "ERR xreadgroup command is not allowed with BLOCK option from scripts",
        ),
    ] {
        assert_eq!(
            eval(&mut r, script, &[]),
            script_error(script, text),
            "{script}"
        );
    }
    // BLMPOP and BZMPOP answer at once: nil when empty, the element when there is one.
    assert_eq!(
        eval(
            &mut r,
            "return redis.call('blmpop', 0, 1, 'q', 'left')",
            &[]
        ),
        V::Nil
    );
    assert_eq!(
        eval(&mut r, "return redis.call('bzmpop', 0, 1, 'z', 'min')", &[]),
        V::Nil
    );
    assert_eq!(
        eval(
            &mut r,
            "redis.call('rpush', 'q', 'a') return redis.call('blmpop', 0, 1, 'q', 'left')",
            &[]
        ),
        V::Array(vec![V::bulk("q"), V::Array(vec![V::bulk("a")])])
    );
    // The script's pops left no waiter behind: a client blocking on the key now is the first
    // in line, and a push wakes it.
    let mut info = r.cmd(&["INFO", "clients"]).text();
    assert!(info.contains("blocked_clients:0"), "{info}");
    let mut waiter = server.raw();
    waiter.send_bytes(&Raw::encode(&[b"BLPOP", b"q", b"10"]));
    eventually("the waiter blocks", Duration::from_secs(10), || {
        info = r.cmd(&["INFO", "clients"]).text();
        info.contains("blocked_clients:1")
    });
    assert_eq!(r.cmd(&["LPUSH", "q", "x"]), V::Int(1));
    assert_eq!(waiter.read(), V::Array(vec![V::bulk("q"), V::bulk("x")]));
    assert_alive(&mut r);
}

#[test]
fn redis_call_takes_thousands_of_arguments() {
    let server = Server::start();
    let mut r = server.raw();
    // Built with varargs: more arguments than Lua's unpack allows, and than mlua has
    // reference slots for.
    let grow = "local function grow(n, ...) if n == 0 then return redis.call('rpush', 'big', ...) \
                end return grow(n - 1, 'v' .. n, ...) end return grow(20000)";
    assert_eq!(eval(&mut r, grow, &[]), V::Int(20000));
    assert_eq!(
        eval(&mut r, "return #redis.call('lrange', 'big', 0, -1)", &[]),
        V::Int(20000)
    );
    let script =
        "local t = {'set', 'k'} for i = 1, 7000 do t[#t+1] = 'x' end return redis.call(unpack(t))";
    assert_eq!(
        eval(&mut r, script, &[]),
        script_error(script, "ERR syntax error")
    );
    // Numbers go out as Redis 7.0 formats them (%.17g).
    assert_eq!(
        eval(
            &mut r,
            "redis.call('set', 'f', 0.1) return redis.call('get', 'f')",
            &[]
        ),
        V::bulk("0.10000000000000001")
    );
    let script = "return redis.call('set', 'k', {})";
    assert_eq!(
        eval(&mut r, script, &[]),
        script_error(
            script,
            "ERR Lua redis lib command arguments must be strings or integers"
        )
    );
    assert_alive(&mut r);
}

#[test]
fn function_load_is_bounded_in_time_and_sandboxed() {
    let server = Server::start();
    let mut r = server.raw();
    assert_eq!(
        r.err(&["FUNCTION", "LOAD", "#!lua name=spin\nwhile true do end"]),
        "ERR Error registering functions: ERR FUNCTION LOAD timeout"
    );
    assert_eq!(
        r.err(&["FUNCTION", "LOAD", "#!lua name=y\nx = 1"]),
        "ERR Error registering functions: ERR user_function:2: Attempt to modify a readonly table"
    );
    assert_eq!(
        r.err(&[
            "FUNCTION",
            "LOAD",
            "#!lua name=y\nredis.register_function('f', function() return 1 end, 3)"
        ]),
        "ERR Error registering functions: ERR wrong number of arguments to redis.register_function"
    );
    // A library registering thousands of functions is fine (no reference slot each).
    let many: String = (0..9000)
        .map(|i| format!("redis.register_function('f{i}', function() return {i} end)\n"))
        .collect();
    assert_eq!(
        r.cmd(&["FUNCTION", "LOAD", &format!("#!lua name=many\n{many}")]),
        V::bulk("many")
    );
    assert_eq!(r.cmd(&["FCALL", "f8999", "0"]), V::Int(8999));
    // The VM is not stuck after the timeout.
    assert_eq!(eval(&mut r, "return 7", &[]), V::Int(7));
    assert_alive(&mut r);
}

#[test]
fn bytecode_cannot_be_loaded() {
    // Redis's CVE-2015-4335: loading crafted bytecode escapes the sandbox. Redis's loaders
    // parse such chunks as text; these are redis-server 7.0's replies.
    let server = Server::start();
    let mut r = server.raw();
    // An empty text chunk still loads (as in Redis).
    match r.cmd(&[
        "EVAL",
        "local f, e = load(function() return nil end) return {tostring(f), tostring(e)}",
        "0",
    ]) {
        V::Array(parts) => {
            assert!(parts[0].text().starts_with("function: "), "{parts:?}");
            assert_eq!(parts[1], V::bulk("nil"));
        }
        other => panic!("load of an empty chunk replied {other:?}"),
    }
    let dumped = "local s = string.dump(function() return 1 end) ";
    match r.cmd(&[
        "EVAL",
        &format!("{dumped} local f, e = loadstring(s) return {{tostring(f), e}}"),
        "0",
    ]) {
        V::Array(parts) => {
            assert_eq!(parts[0], V::bulk("nil"));
            assert!(
                parts[1]
                    .text()
                    .ends_with(":1: unexpected symbol near 'char(27)'"),
                "{parts:?}"
            );
        }
        other => panic!("loadstring of bytecode replied {other:?}"),
    }
    assert_eq!(
        r.cmd(&[
            "EVAL",
            &format!(
                "{dumped} local i = 0 local f, e = load(function() i = i + 1 \
                 if i == 1 then return s end end) return {{tostring(f), tostring(e)}}"
            ),
            "0"
        ]),
        V::Array(vec![
            V::bulk("nil"),
            V::bulk("(load):1: unexpected symbol near 'char(27)'")
        ])
    );
    // A script body that is bytecode is refused too.
    let body = b"\x1bLuaQ\x00\x01\x04\x08\x04\x08\x00";
    r.send_bytes(&Raw::encode(&[b"EVAL", body, b"0"]));
    assert!(matches!(r.read(), V::Error(_)));
    assert_eq!(
        r.cmd(&["EVAL", "return loadstring('return 7')()", "0"]),
        V::Int(7)
    );
    assert_eq!(r.cmd(&["PING"]), V::Status("PONG".into()));
}
