//! INFO, CONFIG, COMMAND, TIME, LASTSAVE, DEBUG SLEEP, SHUTDOWN.

use crate::harness::{Server, V};

#[test]
fn info_sections_use_redis_field_names() {
    let s = Server::start();
    let mut r = s.raw();
    r.cmd(&["SET", "a", "1", "EX", "100"]);
    r.cmd(&["GET", "a"]);
    let all = r.cmd(&["INFO"]).text();
    for field in [
        "# Server",
        "redis_version:",
        "redis_mode:standalone",
        "tcp_port:",
        "uptime_in_seconds:",
        "# Clients",
        "connected_clients:",
        "blocked_clients:0",
        "# Memory",
        "used_memory:",
        "used_memory_human:",
        "used_memory_rss:",
        "used_memory_peak:",
        "maxmemory:",
        "mem_fragmentation_ratio:",
        "# Persistence",
        "loading:0",
        "rdb_changes_since_last_save:",
        "aof_enabled:1",
        "# Stats",
        "total_connections_received:",
        "total_commands_processed:",
        "keyspace_hits:1",
        "keyspace_misses:0",
        "expired_keys:0",
        "evicted_keys:0",
        "# Replication",
        "role:master",
        "# CPU",
        "used_cpu_sys:",
        "used_cpu_user:",
        "# Keyspace",
        "db0:keys=1,expires=1,avg_ttl=0",
    ] {
        assert!(all.contains(field), "INFO lacks {field}:\n{all}");
    }
    assert!(!all.contains("# Commandstats"));
    let port = s.addr.rsplit(':').next().unwrap();
    assert!(all.contains(&format!("tcp_port:{port}\r\n")));
    let cmdstats = r.cmd(&["INFO", "commandstats"]).text();
    assert!(cmdstats.contains("cmdstat_set:calls=1,"), "{cmdstats}");
    assert!(cmdstats.contains("cmdstat_info:calls="), "{cmdstats}");
    let two = r.cmd(&["INFO", "server", "clients"]).text();
    assert!(two.contains("# Server") && two.contains("# Clients") && !two.contains("# Memory"));
    assert!(r
        .cmd(&["INFO", "everything"])
        .text()
        .contains("# Commandstats"));
    assert_eq!(r.cmd(&["CONFIG", "RESETSTAT"]), V::Status("OK".into()));
    let stats = r.cmd(&["INFO", "commandstats"]).text();
    assert!(!stats.contains("cmdstat_set"), "{stats}");
}

#[test]
fn config_get_set_and_errors() {
    let s = Server::start();
    let mut r = s.raw();
    assert_eq!(
        r.cmd(&["CONFIG", "GET", "databases"]),
        V::Array(vec![V::bulk("databases"), V::bulk("16")])
    );
    let V::Array(items) = r.cmd(&["CONFIG", "GET", "*"]) else {
        panic!()
    };
    assert!(items.len() >= 30 && items.len() % 2 == 0);
    let V::Array(items) = r.cmd(&["CONFIG", "GET", "append*", "port"]) else {
        panic!()
    };
    // appendonly, appendfsync, appendfilename, appenddirname (as Redis 7) and port.
    assert_eq!(items.len(), 10);
    assert_eq!(r.cmd(&["CONFIG", "GET", "nosuchthing"]), V::Array(vec![]));
    assert_eq!(
        r.cmd(&["CONFIG", "SET", "timeout", "100", "hz", "20"]),
        V::Status("OK".into())
    );
    assert_eq!(
        r.cmd(&["CONFIG", "GET", "hz"]),
        V::Array(vec![V::bulk("hz"), V::bulk("20")])
    );
    r.cmd(&["CONFIG", "SET", "proto-max-bulk-len", "2mb"]);
    assert_eq!(
        r.cmd(&["CONFIG", "GET", "proto-max-bulk-len"]),
        V::Array(vec![V::bulk("proto-max-bulk-len"), V::bulk("2097152")])
    );
    assert_eq!(
        r.err(&["CONFIG", "SET", "nosuch", "1"]),
        "ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'"
    );
    assert_eq!(
        r.err(&["CONFIG", "SET", "port", "1"]),
        "ERR CONFIG SET failed (possibly related to argument 'port') - can't set immutable config"
    );
    assert_eq!(
        r.err(&["CONFIG", "SET", "hz", "abc"]),
        "ERR CONFIG SET failed (possibly related to argument 'hz') - argument couldn't be parsed into an integer"
    );
    assert_eq!(
        r.err(&["CONFIG", "SET", "appendfsync", "sometimes"]),
        "ERR CONFIG SET failed (possibly related to argument 'appendfsync') - argument(s) must be one of the following: everysec, always, no"
    );
    assert_eq!(
        r.err(&["CONFIG", "SET", "hz"]),
        "ERR wrong number of arguments for 'config|set' command"
    );
    assert_eq!(
        r.err(&["CONFIG", "SET", "hz", "1", "timeout"]),
        "ERR syntax error"
    );
    assert_eq!(
        r.err(&["CONFIG", "REWRITE"]),
        "ERR The server is running without a config file"
    );
    // appendfsync always takes effect at runtime
    assert_eq!(
        r.cmd(&["CONFIG", "SET", "appendfsync", "always"]),
        V::Status("OK".into())
    );
    r.cmd(&["SET", "durable", "1"]);
    assert_eq!(r.cmd(&["GET", "durable"]), V::bulk("1"));
    assert_eq!(
        r.cmd(&["CONFIG", "SET", "appendonly", "no"]),
        V::Status("OK".into())
    );
    assert!(r
        .cmd(&["INFO", "persistence"])
        .text()
        .contains("aof_enabled:0"));
}

#[test]
fn command_introspection_from_the_table() {
    let s = Server::start();
    let mut r = s.raw();
    let V::Int(count) = r.cmd(&["COMMAND", "COUNT"]) else {
        panic!()
    };
    assert!(count > 60);
    let V::Array(all) = r.cmd(&["COMMAND"]) else {
        panic!()
    };
    assert_eq!(all.len() as i64, count);
    let V::Array(info) = r.cmd(&["COMMAND", "INFO", "get", "mset", "nosuch"]) else {
        panic!()
    };
    let V::Array(get) = &info[0] else { panic!() };
    assert_eq!(get[0], V::bulk("get"));
    assert_eq!(get[1], V::Int(2));
    assert_eq!(
        get[2],
        V::Array(vec![V::Status("readonly".into()), V::Status("fast".into())])
    );
    assert_eq!(&get[3..6], &[V::Int(1), V::Int(1), V::Int(1)]);
    let V::Array(mset) = &info[1] else { panic!() };
    assert_eq!(mset[1], V::Int(-3));
    assert_eq!(&mset[3..6], &[V::Int(1), V::Int(-1), V::Int(2)]);
    assert_eq!(info[2], V::Nil);
    let V::Array(sub) = r.cmd(&["COMMAND", "INFO", "client|list"]) else {
        panic!()
    };
    let V::Array(entry) = &sub[0] else { panic!() };
    assert_eq!(entry[0], V::bulk("client|list"));
    assert_eq!(
        r.cmd(&["COMMAND", "GETKEYS", "MSET", "a", "1", "b", "2"]),
        V::Array(vec![V::bulk("a"), V::bulk("b")])
    );
    assert_eq!(
        r.err(&["COMMAND", "GETKEYS", "PING", "x"]),
        "ERR The command has no key arguments"
    );
    assert_eq!(
        r.err(&["COMMAND", "GETKEYS", "NOSUCH", "x"]),
        "ERR Invalid command specified"
    );
    assert_eq!(
        r.err(&["COMMAND", "GETKEYS", "GET", "a", "b"]),
        "ERR Invalid number of arguments specified for command"
    );
    assert_eq!(
        r.err(&["COMMAND", "GETKEYS", "GET"]),
        "ERR wrong number of arguments for 'command|getkeys' command"
    );
    let V::Array(names) = r.cmd(&["COMMAND", "LIST"]) else {
        panic!()
    };
    assert!(names.contains(&V::bulk("get")) && names.contains(&V::bulk("config|get")));
    let V::Array(filtered) = r.cmd(&["COMMAND", "LIST", "FILTERBY", "PATTERN", "exp*"]) else {
        panic!()
    };
    assert!(filtered.contains(&V::bulk("expire")) && !filtered.contains(&V::bulk("get")));
    let V::Array(cat) = r.cmd(&["COMMAND", "LIST", "FILTERBY", "ACLCAT", "string"]) else {
        panic!()
    };
    assert!(cat.contains(&V::bulk("incr")) && !cat.contains(&V::bulk("del")));
    let V::Array(docs) = r.cmd(&["COMMAND", "DOCS", "get"]) else {
        panic!()
    };
    assert_eq!(docs[0], V::bulk("get"));
    let V::Array(doc) = &docs[1] else { panic!() };
    assert!(doc.contains(&V::bulk("summary")) && doc.contains(&V::bulk("string")));
}

#[test]
fn time_lastsave_debug_sleep() {
    let s = Server::start();
    let mut r = s.raw();
    let V::Array(t) = r.cmd(&["TIME"]) else {
        panic!()
    };
    let secs: u64 = t[0].text().parse().unwrap();
    let micros: u64 = t[1].text().parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(secs.abs_diff(now) < 60 && micros < 1_000_000);
    let V::Int(last) = r.cmd(&["LASTSAVE"]) else {
        panic!()
    };
    assert!((last as u64).abs_diff(now) < 600);
    assert_eq!(r.cmd(&["DEBUG", "SLEEP", "0"]), V::Status("OK".into()));
    assert_eq!(r.cmd(&["DEBUG", "SLEEP", "0.01"]), V::Status("OK".into()));
    assert_eq!(
        r.err(&["DEBUG", "SLEEP", "x"]),
        "ERR value is not a valid float"
    );
}

#[test]
fn shutdown_closes_cleanly_and_keeps_data() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let mut s = Server::start_in(&dir, &[]);
    let mut r = s.raw();
    r.cmd(&["SET", "k", "v"]);
    assert_eq!(
        r.err(&["SHUTDOWN", "ABORT"]),
        "ERR No shutdown in progress."
    );
    assert_eq!(r.err(&["SHUTDOWN", "BOGUS"]), "ERR syntax error");
    r.send_bytes(b"SHUTDOWN NOSAVE\r\n");
    assert!(
        r.is_closed(),
        "SHUTDOWN closes the connection without a reply"
    );
    let status = s.wait_exit().expect("exited");
    assert!(status.success(), "{status:?}");
    let s = Server::start_in(&dir, &[]);
    assert_eq!(s.raw().cmd(&["GET", "k"]), V::bulk("v"));
}

#[test]
fn sigterm_is_a_graceful_shutdown() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let mut s = Server::start_in(&dir, &["--appendfsync", "no"]);
    let mut r = s.raw();
    for i in 0..100 {
        r.cmd(&["SET", &format!("k{i}"), "v"]);
    }
    let status = s.terminate().expect("exited");
    assert!(status.success(), "{status:?}");
    let s = Server::start_in(&dir, &[]);
    assert_eq!(s.raw().cmd(&["DBSIZE"]), V::Int(100));
}
