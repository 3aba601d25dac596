//! Moving data between Strata and a real `redis-server` in Redis's own formats: DUMP and
//! RESTORE payloads both ways for every type and encoding, MIGRATE both ways, RDB files
//! written by `redis-server` imported with `strata import-rdb`, RDB files written by
//! `strata export-rdb` (and fetched with `redis-cli --rdb`) loaded by `redis-server` and
//! accepted by `redis-check-rdb`, and Strata as a live replica of `redis-server`.
//! Datasets are compared with `DEBUG DIGEST` (Redis's own dataset digest, which Strata
//! computes the same way) plus TTLs and stream consumer groups, which the digest omits.
//!
//! Without `redis-server` the tests are skipped, unless `STRATA_REQUIRE_REDIS=1`.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::harness::{eventually, Server};

/// A `redis-server` on a loopback TCP port, with its own data directory.
pub(crate) struct TcpRedis {
    child: Child,
    pub(crate) port: u16,
    dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn have(tool: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found && std::env::var("STRATA_REQUIRE_REDIS").as_deref() == Ok("1") {
        panic!("{tool} is required for the migration tests");
    }
    found
}

impl TcpRedis {
    pub(crate) fn start(extra: &[&str]) -> Option<TcpRedis> {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().to_path_buf();
        let mut redis = TcpRedis::start_in(&dir, extra)?;
        redis._tmp = Some(tmp);
        Some(redis)
    }

    /// On `dir`, loading its `dump.rdb` if there is one.
    fn start_in(dir: &Path, extra: &[&str]) -> Option<TcpRedis> {
        if !have("redis-server") {
            return None;
        }
        let port = free_port();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
            ])
            .args(["--appendonly", "no", "--enable-debug-command", "yes"])
            .arg("--dir")
            .arg(dir)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-server");
        let redis = TcpRedis {
            child,
            port,
            dir: dir.to_path_buf(),
            _tmp: None,
        };
        // ECHO, not PING: a replica told not to serve stale data refuses PING.
        eventually("redis-server answers ECHO", Duration::from_secs(30), || {
            redis::Client::open(redis.url())
                .and_then(|c| c.get_connection())
                .and_then(|mut c| redis::cmd("ECHO").arg("up").query::<String>(&mut c))
                .is_ok_and(|p| p == "up")
        });
        Some(redis)
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    fn client(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .expect("client")
            .get_connection()
            .expect("connect")
    }
}

impl Drop for TcpRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn q<T: redis::FromRedisValue>(c: &mut redis::Connection, args: &[&str]) -> T {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(c)
        .unwrap_or_else(|e| panic!("{}: {e}", args.join(" ")))
}

fn digest(c: &mut redis::Connection) -> String {
    q(c, &["DEBUG", "DIGEST"])
}

/// Builds a dataset with every type in small (listpack/intset) and large
/// (hashtable/skiplist/quicklist) encodings, TTLs, several databases and a stream with a
/// consumer group, consumers, pending entries and a deleted entry.
fn populate(c: &mut redis::Connection) {
    for db in [0, 3, 15] {
        q::<()>(c, &["SELECT", &db.to_string()]);
        let p = |name: &str| format!("{name}:{db}");
        q::<()>(c, &["SET", &p("str"), "hello"]);
        q::<()>(c, &["SET", &p("int"), "12345"]);
        q::<()>(c, &["SET", &p("neg"), "-9000000000"]);
        q::<()>(c, &["SET", &p("big"), &"x".repeat(20_000)]);
        q::<()>(c, &["SET", &p("ttl"), "v", "PX", "900000000"]);
        q::<()>(c, &["RPUSH", &p("list"), "a", "1", "b", "-7", "c"]);
        let long: Vec<String> = (0..2000).map(|i| format!("item-{i}")).collect();
        let mut cmd = redis::cmd("RPUSH");
        cmd.arg(p("biglist")).arg(&long);
        cmd.query::<()>(c).unwrap();
        q::<()>(c, &["SADD", &p("intset"), "1", "2", "3", "-100", "70000"]);
        q::<()>(c, &["SADD", &p("set"), "a", "b", "c"]);
        let mut cmd = redis::cmd("SADD");
        cmd.arg(p("bigset")).arg(&long);
        cmd.query::<()>(c).unwrap();
        q::<()>(
            c,
            &[
                "ZADD",
                &p("zset"),
                "1",
                "a",
                "2.5",
                "b",
                "-inf",
                "c",
                "inf",
                "d",
            ],
        );
        let mut cmd = redis::cmd("ZADD");
        cmd.arg(p("bigzset"));
        for (i, m) in long.iter().enumerate() {
            cmd.arg(i as f64 / 3.0).arg(m);
        }
        cmd.query::<()>(c).unwrap();
        q::<()>(c, &["HSET", &p("hash"), "f1", "v1", "f2", "22"]);
        let mut cmd = redis::cmd("HSET");
        cmd.arg(p("bighash"));
        for m in &long {
            cmd.arg(m).arg(format!("value of {m}"));
        }
        cmd.query::<()>(c).unwrap();
        q::<()>(c, &["EXPIRE", &p("hash"), "800000"]);
        q::<()>(c, &["PFADD", &p("hll"), "a", "b", "c"]);
        for i in 1..=5 {
            q::<String>(
                c,
                &[
                    "XADD",
                    &p("stream"),
                    &format!("{i}-1"),
                    "f",
                    &i.to_string(),
                    "g",
                    "x",
                ],
            );
        }
        q::<String>(c, &["XADD", &p("stream"), "6-0", "other", "fields"]);
        q::<()>(c, &["XDEL", &p("stream"), "2-1"]);
        q::<()>(c, &["XGROUP", "CREATE", &p("stream"), "grp", "0"]);
        q::<()>(c, &["XGROUP", "CREATE", &p("stream"), "late", "$"]);
        q::<redis::Value>(
            c,
            &[
                "XREADGROUP",
                "GROUP",
                "grp",
                "alice",
                "COUNT",
                "2",
                "STREAMS",
                &p("stream"),
                ">",
            ],
        );
        q::<redis::Value>(
            c,
            &[
                "XREADGROUP",
                "GROUP",
                "grp",
                "bob",
                "COUNT",
                "1",
                "STREAMS",
                &p("stream"),
                ">",
            ],
        );
        q::<()>(c, &["XACK", &p("stream"), "grp", "1-1"]);
        q::<()>(
            c,
            &["XGROUP", "CREATECONSUMER", &p("stream"), "grp", "carol"],
        );
        q::<String>(c, &["XADD", &p("emptystream"), "1-1", "f", "v"]);
        q::<()>(c, &["XDEL", &p("emptystream"), "1-1"]);
    }
    q::<()>(c, &["SELECT", "0"]);
}

/// Every key of every populated database with its type and TTL state, for comparing
/// what the digest does not cover.
fn key_facts(c: &mut redis::Connection) -> Vec<String> {
    let mut facts = Vec::new();
    for db in [0, 3, 15] {
        q::<()>(c, &["SELECT", &db.to_string()]);
        let mut keys: Vec<String> = q(c, &["KEYS", "*"]);
        keys.sort();
        for key in keys {
            let kind: String = q(c, &["TYPE", &key]);
            let ttl: i64 = q(c, &["PTTL", &key]);
            // TTLs tick between the two reads: compare to the minute.
            let ttl = if ttl > 0 { ttl / 60_000 } else { ttl };
            let value: Vec<String> = q(c, &["DEBUG", "DIGEST-VALUE", &key]);
            let mut fact = format!("{db} {key} {kind} ttl={ttl} {value:?}");
            if kind == "stream" {
                let info: redis::Value = q(c, &["XINFO", "STREAM", &key, "FULL"]);
                fact.push_str(&format!(" {}", stream_facts(&info)));
            }
            facts.push(fact);
        }
    }
    q::<()>(c, &["SELECT", "0"]);
    facts
}

/// XINFO STREAM FULL without the fields that depend on when it is read or on the node
/// layout (seen/active times are compared separately; radix-tree sizes differ by design).
fn stream_facts(info: &redis::Value) -> String {
    fn render(v: &redis::Value, out: &mut String) {
        match v {
            redis::Value::Array(items) => {
                out.push('[');
                let mut skip = false;
                for item in items {
                    if skip {
                        skip = false;
                        continue;
                    }
                    if let redis::Value::BulkString(b) = item {
                        let name = String::from_utf8_lossy(b);
                        if matches!(
                            name.as_ref(),
                            "radix-tree-keys"
                                | "radix-tree-nodes"
                                | "seen-time"
                                | "active-time"
                                | "delivery-time"
                        ) {
                            skip = true;
                            continue;
                        }
                    }
                    render(item, out);
                    out.push(' ');
                }
                out.push(']');
            }
            redis::Value::BulkString(b) => out.push_str(&String::from_utf8_lossy(b)),
            redis::Value::Int(n) => out.push_str(&n.to_string()),
            redis::Value::Nil => out.push_str("nil"),
            other => out.push_str(&format!("{other:?}")),
        }
    }
    let mut out = String::new();
    render(info, &mut out);
    out
}

fn all_keys(c: &mut redis::Connection, db: usize) -> Vec<String> {
    q::<()>(c, &["SELECT", &db.to_string()]);
    let keys = q(c, &["KEYS", "*"]);
    q::<()>(c, &["SELECT", "0"]);
    keys
}

/// DUMP every key on `from` and RESTORE it (with its PTTL) on `to`.
fn dump_restore_all(from: &mut redis::Connection, to: &mut redis::Connection) -> usize {
    let mut moved = 0;
    for db in [0usize, 3, 15] {
        for key in all_keys(from, db) {
            q::<()>(from, &["SELECT", &db.to_string()]);
            q::<()>(to, &["SELECT", &db.to_string()]);
            let payload: Vec<u8> = redis::cmd("DUMP").arg(&key).query(from).unwrap();
            let ttl: i64 = q(from, &["PTTL", &key]);
            let restored: redis::RedisResult<String> = redis::cmd("RESTORE")
                .arg(&key)
                .arg(ttl.max(0))
                .arg(payload)
                .query(to);
            assert_eq!(restored.as_deref(), Ok("OK"), "RESTORE of {db}/{key}");
            moved += 1;
        }
    }
    q::<()>(from, &["SELECT", "0"]);
    q::<()>(to, &["SELECT", "0"]);
    moved
}

#[test]
fn dump_payloads_restore_in_both_directions_for_every_type() {
    let Some(redis) = TcpRedis::start(&["--sanitize-dump-payload", "yes"]) else {
        return;
    };
    let strata = Server::start();
    let mut r = redis.client();
    let mut s = strata.client();
    populate(&mut r);

    // Redis -> Strata.
    let moved = dump_restore_all(&mut r, &mut s);
    assert!(moved >= 45, "only {moved} keys");
    assert_eq!(
        digest(&mut s),
        digest(&mut r),
        "dataset digest after Redis -> Strata"
    );
    assert_eq!(key_facts(&mut s), key_facts(&mut r));

    // Strata -> a fresh Redis, which checks every payload deeply (sanitize-dump-payload).
    let Some(other) = TcpRedis::start(&["--sanitize-dump-payload", "yes"]) else {
        return;
    };
    let mut o = other.client();
    dump_restore_all(&mut s, &mut o);
    assert_eq!(
        digest(&mut o),
        digest(&mut r),
        "dataset digest after Strata -> Redis"
    );
    assert_eq!(key_facts(&mut o), key_facts(&mut r));
}

#[test]
fn restore_errors_match_redis() {
    let Some(redis) = TcpRedis::start(&[]) else {
        return;
    };
    let strata = Server::start();
    let mut r = redis.client();
    let mut s = strata.client();
    for c in [&mut r, &mut s] {
        q::<()>(c, &["SET", "k", "v"]);
    }
    let payload: Vec<u8> = redis::cmd("DUMP").arg("k").query(&mut r).unwrap();
    let mut corrupt = payload.clone();
    corrupt[2] ^= 0xff;
    let mut wrong_version = payload.clone();
    let at = wrong_version.len() - 10;
    wrong_version[at] = 99;
    let cases: Vec<Vec<Vec<u8>>> = vec![
        vec![b"k".to_vec(), b"0".to_vec(), payload.clone()],
        vec![
            b"k".to_vec(),
            b"0".to_vec(),
            payload.clone(),
            b"REPLACE".to_vec(),
        ],
        vec![b"n".to_vec(), b"-5".to_vec(), payload.clone()],
        vec![b"n".to_vec(), b"x".to_vec(), payload.clone()],
        vec![b"n".to_vec(), b"0".to_vec(), corrupt],
        vec![b"n".to_vec(), b"0".to_vec(), wrong_version],
        vec![b"n".to_vec(), b"0".to_vec(), b"short".to_vec()],
        vec![
            b"n".to_vec(),
            b"0".to_vec(),
            payload.clone(),
            b"IDLETIME".to_vec(),
            b"-1".to_vec(),
        ],
        vec![
            b"n".to_vec(),
            b"0".to_vec(),
            payload.clone(),
            b"FREQ".to_vec(),
            b"300".to_vec(),
        ],
        vec![
            b"n".to_vec(),
            b"0".to_vec(),
            payload.clone(),
            b"BOGUS".to_vec(),
        ],
        vec![
            b"old".to_vec(),
            b"1".to_vec(),
            payload.clone(),
            b"ABSTTL".to_vec(),
        ],
        vec![
            b"t".to_vec(),
            b"100000".to_vec(),
            payload.clone(),
            b"IDLETIME".to_vec(),
            b"5".to_vec(),
        ],
    ];
    for case in cases {
        let run = |c: &mut redis::Connection| -> String {
            let mut cmd = redis::cmd("RESTORE");
            for a in &case {
                cmd.arg(a.as_slice());
            }
            match cmd.query::<String>(c) {
                Ok(v) => v,
                Err(e) => format!("{:?} {}", e.code(), e.detail().unwrap_or("")),
            }
        };
        let shown: Vec<String> = case
            .iter()
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        assert_eq!(run(&mut s), run(&mut r), "RESTORE {shown:?}");
    }
    assert_eq!(q::<i64>(&mut s, &["EXISTS", "old"]), 0);
    assert_eq!(q::<Option<Vec<u8>>>(&mut s, &["DUMP", "missing"]), None);
}

#[test]
fn migrate_moves_keys_both_ways() {
    let Some(redis) = TcpRedis::start(&[]) else {
        return;
    };
    let strata = Server::start();
    let strata_port = strata.addr.rsplit(':').next().unwrap().to_string();
    let mut r = redis.client();
    let mut s = strata.client();
    populate(&mut s);
    let expected = digest(&mut s);
    let redis_port = redis.port.to_string();

    // Strata -> Redis: one key, then the rest of each database with KEYS.
    for db in [0usize, 3, 15] {
        q::<()>(&mut s, &["SELECT", &db.to_string()]);
        let keys = all_keys(&mut s, db);
        q::<()>(&mut s, &["SELECT", &db.to_string()]);
        let (first, rest) = keys.split_first().unwrap();
        let reply: String = q(
            &mut s,
            &[
                "MIGRATE",
                "127.0.0.1",
                &redis_port,
                first,
                &db.to_string(),
                "5000",
            ],
        );
        assert_eq!(reply, "OK");
        let mut cmd = redis::cmd("MIGRATE");
        cmd.arg("127.0.0.1")
            .arg(&redis_port)
            .arg("")
            .arg(db)
            .arg(5000)
            .arg("KEYS")
            .arg(rest);
        assert_eq!(cmd.query::<String>(&mut s).unwrap(), "OK");
        assert_eq!(
            q::<i64>(&mut s, &["DBSIZE"]),
            0,
            "moved keys are deleted locally"
        );
    }
    q::<()>(&mut s, &["SELECT", "0"]);
    assert_eq!(digest(&mut r), expected);
    assert_eq!(
        q::<String>(
            &mut s,
            &["MIGRATE", "127.0.0.1", &redis_port, "gone", "0", "5000"]
        ),
        "NOKEY"
    );

    // Redis -> Strata, with COPY (the source keeps its keys) and REPLACE.
    for db in [0usize, 3, 15] {
        let keys = all_keys(&mut r, db);
        q::<()>(&mut r, &["SELECT", &db.to_string()]);
        let mut cmd = redis::cmd("MIGRATE");
        cmd.arg("127.0.0.1")
            .arg(&strata_port)
            .arg("")
            .arg(db)
            .arg(5000)
            .arg("COPY")
            .arg("REPLACE")
            .arg("KEYS")
            .arg(&keys);
        assert_eq!(
            cmd.query::<String>(&mut r).unwrap(),
            "OK",
            "MIGRATE from Redis, db {db}"
        );
    }
    q::<()>(&mut r, &["SELECT", "0"]);
    assert_eq!(digest(&mut s), expected);
    assert_eq!(key_facts(&mut s), key_facts(&mut r));

    // A target error comes back as Redis words it.
    q::<()>(&mut s, &["SET", "str:0", "local"]);
    let err = redis::cmd("MIGRATE")
        .arg("127.0.0.1")
        .arg(&redis_port)
        .arg("str:0")
        .arg(0)
        .arg(5000)
        .query::<String>(&mut s)
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("Target instance replied with error: BUSYKEY"),
        "{err}"
    );
}

fn strata_cli(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(args)
        .output()
        .expect("run strata")
}

fn check_rdb(path: &Path) {
    if !have("redis-check-rdb") {
        return;
    }
    let out = Command::new("redis-check-rdb")
        .arg(path)
        .output()
        .expect("redis-check-rdb");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && text.contains("RDB looks OK"),
        "redis-check-rdb: {text}"
    );
}

#[test]
fn rdb_files_move_between_redis_and_strata() {
    let Some(redis) = TcpRedis::start(&[]) else {
        return;
    };
    let mut r = redis.client();
    populate(&mut r);
    q::<String>(
        &mut r,
        &[
            "FUNCTION",
            "LOAD",
            "#!lua name=movelib\nredis.register_function('ping2', function() return 'pong' end)",
        ],
    );
    let expected = digest(&mut r);
    let facts = key_facts(&mut r);
    q::<String>(&mut r, &["SAVE"]);
    let rdb = redis.dir.join("dump.rdb");
    assert!(rdb.exists());

    // Import into a stopped data directory, then serve it.
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let out = strata_cli(&[
        "import-rdb",
        rdb.to_str().unwrap(),
        "--dir",
        data.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "import-rdb: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(printed.contains("imported"), "{printed}");
    // Importing again over keys needs --force.
    let again = strata_cli(&[
        "import-rdb",
        rdb.to_str().unwrap(),
        "--dir",
        data.to_str().unwrap(),
    ]);
    assert!(!again.status.success());
    let mut strata = Server::start_in(&data, &[]);
    let mut s = strata.client();
    assert_eq!(digest(&mut s), expected, "digest after import-rdb");
    assert_eq!(key_facts(&mut s), facts);
    assert_eq!(q::<String>(&mut s, &["FCALL", "ping2", "0"]), "pong");

    // Online export through SYNC, and redis-cli --rdb against Strata.
    let online = tmp.path().join("online.rdb");
    let url = strata.url();
    let out = strata_cli(&["export-rdb", online.to_str().unwrap(), "--url", &url]);
    assert!(
        out.status.success(),
        "export-rdb --url: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    check_rdb(&online);
    if have("redis-cli") {
        let fetched = tmp.path().join("cli.rdb");
        let port = strata.addr.rsplit(':').next().unwrap().to_string();
        let out = Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", &port, "--rdb"])
            .arg(&fetched)
            .output()
            .expect("redis-cli");
        assert!(
            out.status.success(),
            "redis-cli --rdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        check_rdb(&fetched);
    }

    // Offline export from the stopped directory; redis-server loads it.
    drop(s);
    strata.terminate();
    let back = tempfile::tempdir().unwrap();
    let exported = back.path().join("dump.rdb");
    let out = strata_cli(&[
        "export-rdb",
        exported.to_str().unwrap(),
        "--dir",
        data.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "export-rdb --dir: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    check_rdb(&exported);
    let Some(loaded) = TcpRedis::start_in(back.path(), &[]) else {
        return;
    };
    let mut l = loaded.client();
    assert_eq!(
        digest(&mut l),
        expected,
        "digest of redis-server loading export-rdb"
    );
    assert_eq!(key_facts(&mut l), facts);
    let libraries: redis::Value = q(&mut l, &["FUNCTION", "LIST"]);
    assert!(format!("{libraries:?}").contains("movelib"));
    // The online export loads as well.
    let online_dir = tempfile::tempdir().unwrap();
    std::fs::copy(&online, online_dir.path().join("dump.rdb")).unwrap();
    let Some(online_loaded) = TcpRedis::start_in(online_dir.path(), &[]) else {
        return;
    };
    assert_eq!(digest(&mut online_loaded.client()), expected);
}

fn info_field(c: &mut redis::Connection, section: &str, field: &str) -> Option<String> {
    let info: String = q(c, &["INFO", section]);
    info.lines().find_map(|l| {
        l.strip_prefix(&format!("{field}:"))
            .map(|v| v.trim().to_string())
    })
}

#[test]
fn strata_replicates_a_live_redis_server() {
    let Some(redis) = TcpRedis::start(&[]) else {
        return;
    };
    let mut r = redis.client();
    populate(&mut r);
    let strata = Server::start();
    let mut s = strata.client();
    q::<()>(
        &mut s,
        &["SET", "stale", "local data is replaced by the primary's"],
    );
    // A write load on Redis (bounded count) that starts before the full sync and runs
    // through it: writes made during the RDB transfer must arrive afterwards, in order.
    let load = have("redis-benchmark").then(|| {
        Command::new("redis-benchmark")
            .args(["-h", "127.0.0.1", "-p", &redis.port.to_string()])
            .args(["-n", "40000", "-c", "8", "-P", "4", "-r", "5000", "-q"])
            .args(["-t", "set,incr,lpush,rpush,lpop,sadd,hset,zadd,mset"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-benchmark")
    });
    q::<String>(&mut s, &["REPLICAOF", "127.0.0.1", &redis.port.to_string()]);
    eventually(
        "the full sync from redis-server",
        Duration::from_secs(60),
        || info_field(&mut s, "replication", "master_link_status").as_deref() == Some("up"),
    );
    assert_eq!(q::<i64>(&mut s, &["EXISTS", "stale"]), 0);
    let err = redis::cmd("SET")
        .arg("x")
        .arg("y")
        .query::<String>(&mut s)
        .unwrap_err();
    assert!(err.to_string().contains("read only replica"), "{err}");

    if let Some(mut load) = load {
        assert!(load.wait().expect("redis-benchmark").success());
    }
    q::<()>(&mut r, &["DEL", "str:0"]);
    q::<()>(&mut r, &["SET", "volatile", "v", "EX", "1000"]);
    q::<()>(&mut r, &["XADD", "stream:0", "*", "after", "sync"]);
    q::<String>(
        &mut r,
        &[
            "FUNCTION",
            "LOAD",
            "#!lua name=livelib\nredis.register_function('f1', function() return 1 end)",
        ],
    );
    let primary_offset = || -> u64 {
        info_field(&mut redis.client(), "replication", "master_repl_offset")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    eventually(
        "Strata's offset reaches the primary's",
        Duration::from_secs(60),
        || {
            let ours: u64 = info_field(&mut s, "replication", "slave_repl_offset")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            ours > 0 && ours == primary_offset()
        },
    );
    assert_eq!(
        digest(&mut s),
        digest(&mut r),
        "Strata matches the live redis-server"
    );
    assert_eq!(key_facts(&mut s), key_facts(&mut r));
    assert_eq!(q::<i64>(&mut s, &["FCALL", "f1", "0"]), 1);
    // Redis lists Strata as a connected replica with its acknowledged offset.
    eventually(
        "redis-server shows Strata online with its offset",
        Duration::from_secs(30),
        || {
            let line = info_field(&mut redis.client(), "replication", "slave0").unwrap_or_default();
            line.contains("state=online") && line.contains(&format!("offset={}", primary_offset()))
        },
    );

    // A dropped link resumes with a partial resync (PSYNC replid offset -> +CONTINUE).
    let partial_before: u64 = info_field(&mut r, "stats", "sync_partial_ok")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    q::<i64>(&mut r, &["CLIENT", "KILL", "TYPE", "replica"]);
    q::<()>(&mut r, &["SET", "after-reconnect", "1"]);
    q::<i64>(&mut r, &["INCRBY", "int:0", "5"]);
    eventually(
        "Strata resumes and catches up",
        Duration::from_secs(60),
        || {
            let ours: u64 = info_field(&mut s, "replication", "slave_repl_offset")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            ours == primary_offset() && q::<i64>(&mut s, &["EXISTS", "after-reconnect"]) == 1
        },
    );
    let partial_after: u64 = info_field(&mut r, "stats", "sync_partial_ok")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    assert_eq!(
        partial_after,
        partial_before + 1,
        "the reconnect was a partial resync"
    );
    assert_eq!(digest(&mut s), digest(&mut r));

    // The cut-over: Strata stops following and takes writes.
    q::<String>(&mut s, &["REPLICAOF", "NO", "ONE"]);
    q::<()>(&mut s, &["SET", "after", "cutover"]);
    assert_eq!(q::<String>(&mut s, &["GET", "after"]), "cutover");
}
