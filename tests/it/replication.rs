//! Replication between two real `strata` processes: full copy, the batch stream, partial
//! resync after restarts, promotion with `REPLICAOF NO ONE`, `WAIT`, `-READONLY`, pub/sub
//! propagation, expiry and monotonic reads on the replica.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::harness::{eventually, Raw, Server, V};

const SYNC_DEADLINE: Duration = Duration::from_secs(60);

fn port_of(s: &Server) -> String {
    s.addr.rsplit(':').next().unwrap().to_string()
}

fn replica_of(primary: &Server, extra: &[&str]) -> Server {
    let port = port_of(primary);
    let value = format!("127.0.0.1 {port}");
    let mut args = vec!["--replicaof", value.as_str()];
    args.extend_from_slice(extra);
    Server::start_with(&args)
}

/// A replica of `primary` with a data directory of its own, so it can be stopped and
/// started again on the same data.
struct ReplicaHome {
    _tmp: tempfile::TempDir,
    dir: std::path::PathBuf,
    replicaof: String,
}

impl ReplicaHome {
    fn of(primary: &Server) -> ReplicaHome {
        let tmp = tempfile::tempdir().unwrap();
        ReplicaHome {
            dir: tmp.path().join("replica"),
            _tmp: tmp,
            replicaof: format!("127.0.0.1 {}", port_of(primary)),
        }
    }

    fn start(&self) -> Server {
        Server::start_in(&self.dir, &["--replicaof", &self.replicaof])
    }
}

fn info_field(r: &mut Raw, section: &str, field: &str) -> String {
    let text = r.cmd(&["INFO", section]).text();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or("")
        .trim()
        .to_string()
}

fn offset(r: &mut Raw) -> u64 {
    info_field(r, "replication", "master_repl_offset")
        .parse()
        .unwrap()
}

/// Waits until the replica's link is up and its offset matches the primary's.
fn wait_caught_up(primary: &Server, replica: &Server) {
    let mut p = primary.raw();
    let mut r = replica.raw();
    eventually("replica caught up", SYNC_DEADLINE, || {
        info_field(&mut r, "replication", "master_link_status") == "up"
            && offset(&mut r) == offset(&mut p)
    });
}

fn sorted(v: V) -> Vec<String> {
    let V::Array(items) = v else {
        panic!("array expected, got {v:?}")
    };
    let mut out: Vec<String> = items.iter().map(V::text).collect();
    out.sort();
    out
}

/// Every key of every database with its type, value and whether it has a TTL: the test's
/// own digest, read through the public commands.
fn dataset(s: &Server) -> BTreeMap<(usize, String), String> {
    let mut r = s.raw();
    let mut out = BTreeMap::new();
    for db in 0..16 {
        r.cmd(&["SELECT", &db.to_string()]);
        let mut cursor = "0".to_string();
        loop {
            let V::Array(page) = r.cmd(&["SCAN", &cursor, "COUNT", "1000"]) else {
                panic!("scan")
            };
            cursor = page[0].text();
            let V::Array(keys) = &page[1] else { panic!() };
            for k in keys {
                let k = k.text();
                let kind = r.cmd(&["TYPE", &k]).text();
                let value = match kind.as_str() {
                    "string" => r.cmd(&["GET", &k]).text(),
                    "hash" => sorted(r.cmd(&["HGETALL", &k])).join(","),
                    "list" => format!("{:?}", r.cmd(&["LRANGE", &k, "0", "-1"])),
                    "set" => sorted(r.cmd(&["SMEMBERS", &k])).join(","),
                    "zset" => format!("{:?}", r.cmd(&["ZRANGE", &k, "0", "-1", "WITHSCORES"])),
                    "stream" => format!("{:?}", r.cmd(&["XRANGE", &k, "-", "+"])),
                    other => other.to_string(),
                };
                let ttl = !matches!(r.cmd(&["PTTL", &k]), V::Int(-1));
                out.insert((db, k), format!("{kind}:{value}:{ttl}"));
            }
            if cursor == "0" {
                break;
            }
        }
    }
    out
}

/// The `keys=` and `expires=` counts `INFO keyspace` reports per database (kept in memory,
/// apart from the data a scan reads).
fn key_counts(s: &Server) -> Vec<String> {
    let info = s.raw().cmd(&["INFO", "keyspace"]).text();
    info.lines()
        .filter(|l| l.starts_with("db"))
        .map(|l| l.split(",avg_ttl").next().unwrap_or(l).to_string())
        .collect()
}

/// Both the key-by-key dataset and Redis's `DEBUG DIGEST` agree between two servers, and so
/// do the key and expiry counts behind `DBSIZE` and `INFO keyspace`.
fn same_data(a: &Server, b: &Server) {
    assert_eq!(dataset(a), dataset(b));
    let digest = |s: &Server| s.raw().cmd(&["DEBUG", "DIGEST"]).text();
    assert_eq!(digest(a), digest(b), "DEBUG DIGEST differs");
    assert_eq!(key_counts(a), key_counts(b), "INFO keyspace counts differ");
}

fn fill(r: &mut Raw, prefix: &str, n: usize) {
    for db in [0, 5] {
        r.cmd(&["SELECT", &db.to_string()]);
        for i in 0..n {
            r.cmd(&["SET", &format!("{prefix}s{i}"), &format!("v{i}")]);
        }
        r.cmd(&["HSET", &format!("{prefix}h"), "a", "1", "b", "2"]);
        r.cmd(&["RPUSH", &format!("{prefix}l"), "x", "y", "z"]);
        r.cmd(&["SADD", &format!("{prefix}set"), "m1", "m2"]);
        r.cmd(&["ZADD", &format!("{prefix}z"), "1", "one", "2.5", "two"]);
        r.cmd(&["XADD", &format!("{prefix}x"), "1-1", "f", "v"]);
        r.cmd(&["SET", &format!("{prefix}ttl"), "v", "EX", "1000"]);
        r.cmd(&["INCRBY", &format!("{prefix}n"), "7"]);
    }
    r.cmd(&["SELECT", "0"]);
}

#[test]
fn full_copy_then_stream_then_read_only() {
    let primary = Server::start();
    let mut p = primary.raw();
    fill(&mut p, "before:", 200);
    let replica = replica_of(&primary, &[]);
    wait_caught_up(&primary, &replica);
    same_data(&primary, &replica);

    fill(&mut p, "after:", 50);
    p.cmd(&["DEL", "before:s1"]);
    p.cmd(&["HDEL", "before:h", "a"]);
    p.cmd(&["LPOP", "before:l"]);
    wait_caught_up(&primary, &replica);
    let expected = dataset(&primary);
    assert_eq!(expected, dataset(&replica));
    assert!(expected.len() > 500, "{} keys", expected.len());

    let mut r = replica.raw();
    assert_eq!(
        r.err(&["SET", "k", "v"]),
        "READONLY You can't write against a read only replica."
    );
    assert!(r
        .err(&["EVAL", "return redis.call('set','k','v')", "0"])
        .contains("READONLY"));
    assert_eq!(r.cmd(&["GET", "after:s3"]), V::bulk("v3"));
    assert_eq!(r.cmd(&["DBSIZE"]), p.cmd(&["DBSIZE"]));

    // ROLE and INFO as Sentinel and clients read them.
    let V::Array(role) = r.cmd(&["ROLE"]) else {
        panic!()
    };
    assert_eq!(role[0], V::bulk("slave"));
    assert_eq!(role[1], V::bulk("127.0.0.1"));
    assert_eq!(role[3], V::bulk("connected"));
    let V::Array(role) = p.cmd(&["ROLE"]) else {
        panic!()
    };
    assert_eq!(role[0], V::bulk("master"));
    let V::Array(replicas) = &role[2] else {
        panic!()
    };
    assert_eq!(replicas.len(), 1);
    assert_eq!(
        replicas[0],
        V::Array(vec![
            V::bulk("127.0.0.1"),
            V::bulk(&port_of(&replica)),
            match &replicas[0] {
                V::Array(a) => a[2].clone(),
                _ => unreachable!(),
            },
        ])
    );
    assert_eq!(info_field(&mut p, "replication", "connected_slaves"), "1");
    let slave0 = info_field(&mut p, "replication", "slave0");
    assert!(
        slave0.starts_with(&format!(
            "ip=127.0.0.1,port={},state=online,offset=",
            port_of(&replica)
        )),
        "{slave0}"
    );
    assert_eq!(info_field(&mut r, "replication", "role"), "slave");
    assert_eq!(info_field(&mut r, "replication", "slave_read_only"), "1");
    assert_eq!(
        info_field(&mut r, "replication", "master_port"),
        port_of(&primary)
    );
    assert_eq!(info_field(&mut p, "stats", "sync_full"), "1");
}

#[test]
fn wait_counts_replicas_that_acknowledged() {
    let primary = Server::start();
    let replica = replica_of(&primary, &[]);
    wait_caught_up(&primary, &replica);
    let mut p = primary.raw();
    for i in 0..20 {
        p.cmd(&["SET", &format!("w{i}"), "v"]);
        assert_eq!(p.cmd(&["WAIT", "1", "5000"]), V::Int(1));
    }
    // Asking for more replicas than exist waits out the timeout and reports those that did.
    p.cmd(&["SET", "one-more", "v"]);
    assert_eq!(p.cmd(&["WAIT", "2", "200"]), V::Int(1));
    assert_eq!(p.cmd(&["WAIT", "0", "0"]), V::Int(1));
    let mut r = replica.raw();
    assert_eq!(r.cmd(&["GET", "w19"]), V::bulk("v"));
    assert!(r
        .err(&["WAIT", "1", "10"])
        .starts_with("ERR WAIT cannot be used with replica instances"));
    assert_eq!(p.err(&["WAIT", "1", "-1"]), "ERR timeout is negative");
}

#[test]
fn restarted_replica_resumes_with_a_partial_sync() {
    let primary = Server::start();
    let mut p = primary.raw();
    fill(&mut p, "a:", 100);
    let home = ReplicaHome::of(&primary);
    let mut replica = home.start();
    wait_caught_up(&primary, &replica);

    // A clean restart, then a kill -9: both resume from what the replica has on disk.
    replica.terminate().expect("clean exit");
    fill(&mut p, "b:", 100);
    let mut replica = home.start();
    wait_caught_up(&primary, &replica);
    assert_eq!(info_field(&mut p, "stats", "sync_partial_ok"), "1");
    assert_eq!(info_field(&mut p, "stats", "sync_full"), "1");
    same_data(&primary, &replica);

    replica.kill9();
    fill(&mut p, "c:", 100);
    let replica = home.start();
    wait_caught_up(&primary, &replica);
    assert_eq!(info_field(&mut p, "stats", "sync_partial_ok"), "2");
    assert_eq!(info_field(&mut p, "stats", "sync_full"), "1");
    same_data(&primary, &replica);
}

#[test]
fn a_replica_with_other_history_takes_a_full_copy() {
    let primary = Server::start();
    let mut p = primary.raw();
    fill(&mut p, "p:", 20);
    let other = Server::start();
    let mut o = other.raw();
    o.cmd(&["SET", "only-on-other", "v"]);
    o.cmd(&["REPLICAOF", "127.0.0.1", &port_of(&primary)]);
    wait_caught_up(&primary, &other);
    assert_eq!(o.cmd(&["EXISTS", "only-on-other"]), V::Int(0));
    same_data(&primary, &other);
    assert_eq!(
        o.cmd(&["REPLICAOF", "127.0.0.1", &port_of(&primary)]),
        V::Status("OK Already connected to specified master".into())
    );
    assert_eq!(
        o.err(&["REPLICAOF", "127.0.0.1", "99999"]),
        "ERR Invalid master port"
    );
}

#[test]
fn promotion_continues_offsets_and_the_old_primary_rejoins_partially() {
    let old = Server::start();
    let mut p = old.raw();
    fill(&mut p, "gen1:", 50);
    let promoted = replica_of(&old, &[]);
    wait_caught_up(&old, &promoted);
    let mut r = promoted.raw();
    let at_promotion = offset(&mut p);
    assert_eq!(r.cmd(&["REPLICAOF", "NO", "ONE"]), V::Status("OK".into()));
    assert_eq!(offset(&mut r), at_promotion);
    assert_eq!(info_field(&mut r, "replication", "role"), "master");
    let old_id = info_field(&mut p, "replication", "master_replid");
    assert_eq!(info_field(&mut r, "replication", "master_replid2"), old_id);
    fill(&mut r, "gen2:", 30);
    assert!(offset(&mut r) > at_promotion);

    // The old primary wrote nothing since: its history is a prefix of the new one.
    p.cmd(&["REPLICAOF", "127.0.0.1", &port_of(&promoted)]);
    wait_caught_up(&promoted, &old);
    assert_eq!(info_field(&mut r, "stats", "sync_partial_ok"), "1");
    assert_eq!(info_field(&mut r, "stats", "sync_full"), "0");
    same_data(&promoted, &old);
    assert_eq!(p.cmd(&["GET", "gen2:s7"]), V::bulk("v7"));
}

#[test]
fn a_diverged_old_primary_takes_a_full_copy() {
    let old = Server::start();
    let mut p = old.raw();
    fill(&mut p, "gen1:", 10);
    let promoted = replica_of(&old, &[]);
    wait_caught_up(&old, &promoted);
    let mut r = promoted.raw();
    r.cmd(&["REPLICAOF", "NO", "ONE"]);
    // A write the promoted node never saw: rejoining must not keep it.
    p.cmd(&["SET", "lost-on-failover", "v"]);
    r.cmd(&["SET", "written-after", "v"]);
    p.cmd(&["REPLICAOF", "127.0.0.1", &port_of(&promoted)]);
    wait_caught_up(&promoted, &old);
    assert_eq!(info_field(&mut r, "stats", "sync_full"), "1");
    assert_eq!(p.cmd(&["EXISTS", "lost-on-failover"]), V::Int(0));
    assert_eq!(p.cmd(&["GET", "written-after"]), V::bulk("v"));
    same_data(&promoted, &old);
}

#[test]
fn flushes_swaps_expiry_and_messages_reach_the_replica() {
    let primary = Server::start();
    let replica = replica_of(&primary, &[]);
    wait_caught_up(&primary, &replica);
    let mut p = primary.raw();
    let mut r = replica.raw();
    fill(&mut p, "f:", 10);
    p.cmd(&["SELECT", "5"]);
    p.cmd(&["FLUSHDB"]);
    p.cmd(&["SELECT", "0"]);
    p.cmd(&["SWAPDB", "0", "3"]);
    p.cmd(&["SET", "short", "v", "PX", "300"]);
    wait_caught_up(&primary, &replica);
    same_data(&primary, &replica);
    r.cmd(&["SELECT", "3"]);
    assert_eq!(r.cmd(&["GET", "f:s1"]), V::bulk("v1"));

    // Expired on the replica's clock: reads say nil, and the primary's delete follows.
    r.cmd(&["SELECT", "0"]);
    eventually("expired on replica", SYNC_DEADLINE, || {
        r.cmd(&["GET", "short"]) == V::Nil
    });
    eventually("primary's expiry replicated", SYNC_DEADLINE, || {
        r.cmd(&["DBSIZE"]) == V::Int(0)
    });

    let mut sub = replica.raw();
    sub.cmd(&["SUBSCRIBE", "news"]);
    // Published until the subscriber sees one (the subscription may race the first).
    let mut got = None;
    for _ in 0..100 {
        p.cmd(&["PUBLISH", "news", "hello"]);
        if let Some(msg) = sub.try_read() {
            got = Some(msg);
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        got,
        Some(V::Array(vec![
            V::bulk("message"),
            V::bulk("news"),
            V::bulk("hello")
        ]))
    );

    p.cmd(&["FLUSHALL"]);
    wait_caught_up(&primary, &replica);
    assert!(dataset(&replica).is_empty());
}

/// Three readers on the replica run `read` while the primary runs `incr` 3000 times: no
/// reader ever sees the counter go backwards, and the replica ends at 3000.
fn assert_monotonic_replica_reads(
    primary: &Server,
    replica: &Server,
    read: &'static [&'static str],
    incr: &[&str],
) {
    let stop = Arc::new(AtomicBool::new(false));
    let mut readers = Vec::new();
    for _ in 0..3 {
        let mut r = replica.raw();
        let stop = stop.clone();
        readers.push(std::thread::spawn(move || {
            let mut last = 0i64;
            let mut reads = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let now = match r.cmd(read) {
                    V::Nil => 0,
                    v => v.text().parse::<i64>().unwrap(),
                };
                assert!(now >= last, "read {now} after {last}");
                last = now;
                reads += 1;
            }
            (last, reads)
        }));
    }
    let mut p = primary.raw();
    for _ in 0..3000 {
        p.cmd(incr);
    }
    wait_caught_up(primary, replica);
    stop.store(true, Ordering::Relaxed);
    for reader in readers {
        let (last, reads) = reader.join().unwrap();
        assert!(reads > 10, "{reads} reads");
        assert!(last <= 3000);
    }
    assert_eq!(replica.raw().cmd(read), V::bulk("3000"));
}

/// A reader on the replica never sees a counter go backwards while the primary increments
/// it, the hot tier caching it in between.
#[test]
fn replica_reads_are_monotonic_under_the_hot_tier() {
    let primary = Server::start();
    let replica = replica_of(&primary, &["--hot-tier", "yes"]);
    wait_caught_up(&primary, &replica);
    assert_monotonic_replica_reads(
        &primary,
        &replica,
        &["GET", "counter"],
        &["INCR", "counter"],
    );
}

/// The same for a hash field, cached by the replica's member cache, and a member the
/// primary removes: the replica forgets it once it applied the removal.
#[test]
fn replica_member_reads_are_monotonic_under_the_member_cache() {
    let primary = Server::start();
    let replica = replica_of(&primary, &["--hot-tier", "yes"]);
    let mut p = primary.raw();
    p.cmd(&["SADD", "members", "gone", "stays"]);
    wait_caught_up(&primary, &replica);
    let mut r = replica.raw();
    assert_eq!(r.cmd(&["SISMEMBER", "members", "gone"]), V::Int(1));
    p.cmd(&["SREM", "members", "gone"]);
    wait_caught_up(&primary, &replica);
    assert_eq!(r.cmd(&["SISMEMBER", "members", "gone"]), V::Int(0));
    assert_eq!(r.cmd(&["SISMEMBER", "members", "stays"]), V::Int(1));

    assert_monotonic_replica_reads(
        &primary,
        &replica,
        &["HGET", "hash", "counter"],
        &["HINCRBY", "hash", "counter", "1"],
    );
    let info = r.cmd(&["INFO", "memory"]).text();
    let hits: u64 = info
        .lines()
        .find_map(|l| l.strip_prefix("hot_tier_member_hits:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("INFO memory has hot_tier_member_hits");
    assert!(hits > 0, "the replica's reads never hit the member cache");
}

/// A loopback TCP proxy in front of a server whose connections can be cut: the replica's
/// link then drops the way a network failure drops it, without either process restarting.
struct CuttableProxy {
    port: u16,
    open: Arc<AtomicBool>,
    generation: Arc<std::sync::atomic::AtomicU64>,
}

impl CuttableProxy {
    fn start(target: String) -> CuttableProxy {
        use std::net::{TcpListener, TcpStream};
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let open = Arc::new(AtomicBool::new(true));
        let generation = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let (open2, generation2) = (open.clone(), generation.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if !open2.load(Ordering::SeqCst) {
                    continue; // dropped: the connection is refused in effect
                }
                let Ok(server) = TcpStream::connect(&target) else {
                    continue;
                };
                let born = generation2.load(Ordering::SeqCst);
                for (from, to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    let generation = generation2.clone();
                    std::thread::spawn(move || pump(from, to, born, &generation));
                }
            }
        });
        CuttableProxy {
            port,
            open,
            generation,
        }
    }

    /// Closes every proxied connection and refuses new ones until [`Self::restore`].
    fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

/// Copies bytes one way until either side closes or the proxy cuts this generation.
fn pump(
    mut from: std::net::TcpStream,
    mut to: std::net::TcpStream,
    born: u64,
    generation: &std::sync::atomic::AtomicU64,
) {
    use std::io::{Read, Write};
    from.set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let mut buf = [0u8; 16384];
    while generation.load(Ordering::SeqCst) == born {
        match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break,
        }
    }
    let _ = from.shutdown(std::net::Shutdown::Both);
    let _ = to.shutdown(std::net::Shutdown::Both);
}

#[test]
fn a_dropped_link_resumes_with_a_partial_sync() {
    let primary = Server::start();
    let proxy = CuttableProxy::start(primary.addr.clone());
    let mut p = primary.raw();
    fill(&mut p, "before:", 200);
    let replica = Server::start_with(&["--replicaof", &format!("127.0.0.1 {}", proxy.port)]);
    wait_caught_up(&primary, &replica);
    let mut r = replica.raw();
    assert_eq!(info_field(&mut p, "stats", "sync_full"), "1");

    proxy.cut();
    eventually("the replica sees its link down", SYNC_DEADLINE, || {
        info_field(&mut r, "replication", "master_link_status") == "down"
    });
    // Writes while the link is down are only in the primary's retained WAL.
    fill(&mut p, "during:", 300);
    p.cmd(&["SELECT", "0"]);
    assert_eq!(p.cmd(&["DEL", "before:s7"]), V::Int(1));
    assert_eq!(p.cmd(&["WAIT", "1", "100"]), V::Int(0));
    proxy.restore();

    wait_caught_up(&primary, &replica);
    assert_eq!(
        info_field(&mut p, "stats", "sync_full"),
        "1",
        "no second full copy"
    );
    assert_eq!(info_field(&mut p, "stats", "sync_partial_ok"), "1");
    assert_eq!(r.cmd(&["EXISTS", "before:s7"]), V::Int(0));
    assert_eq!(r.cmd(&["GET", "during:s299"]), V::bulk("v299"));
    same_data(&primary, &replica);
    p.cmd(&["SET", "after", "1"]);
    assert_eq!(p.cmd(&["WAIT", "1", "5000"]), V::Int(1));
}

/// The primary no longer holds the WAL a returning replica would resume from (here its
/// archived WAL files are removed, the state RocksDB's retention purge leaves behind): the
/// replica gets a full copy instead of a partial sync with a gap, and ends identical.
#[test]
fn a_replica_behind_the_retained_wal_takes_a_full_copy() {
    let primary = Server::start();
    let mut p = primary.raw();
    fill(&mut p, "a:", 100);
    let home = ReplicaHome::of(&primary);
    let mut replica = home.start();
    wait_caught_up(&primary, &replica);
    replica.kill9();

    fill(&mut p, "b:", 100);
    // A flush moves the WAL holding those writes to the archive; then the archive goes.
    p.cmd(&["DEBUG", "COMPACT"]);
    let archive = primary.dir.join("db").join("archive");
    let mut removed = 0;
    for entry in std::fs::read_dir(&archive).expect("archived WAL files") {
        std::fs::remove_file(entry.unwrap().path()).unwrap();
        removed += 1;
    }
    assert!(removed > 0, "no archived WAL file to remove");
    fill(&mut p, "c:", 50);

    let replica = home.start();
    wait_caught_up(&primary, &replica);
    assert_eq!(info_field(&mut p, "stats", "sync_full"), "2");
    assert_eq!(info_field(&mut p, "stats", "sync_partial_err"), "1");
    assert_eq!(info_field(&mut p, "stats", "sync_partial_ok"), "0");
    same_data(&primary, &replica);
}

/// `min-replicas-to-write` / `min-replicas-max-lag`: a primary refuses writes with Redis's
/// `-NOREPLICAS` while too few replicas are connected and acknowledging, reads go on, and
/// writes resume when a replica returns.
#[test]
fn min_replicas_to_write_refuses_writes_without_good_replicas() {
    let primary = Server::start();
    let mut p = primary.raw();
    let home = ReplicaHome::of(&primary);
    let mut replica = home.start();
    wait_caught_up(&primary, &replica);

    assert_eq!(
        p.cmd(&["CONFIG", "SET", "min-replicas-to-write", "1"]),
        V::Status("OK".into())
    );
    assert_eq!(
        p.cmd(&["CONFIG", "SET", "min-replicas-max-lag", "10"]),
        V::Status("OK".into())
    );
    assert_eq!(p.cmd(&["SET", "a", "1"]), V::Status("OK".into()));
    assert_eq!(
        info_field(&mut p, "replication", "min_slaves_good_slaves"),
        "1"
    );
    assert_eq!(
        p.cmd(&["CONFIG", "SET", "min-replicas-to-write", "2"]),
        V::Status("OK".into())
    );
    let refused = "NOREPLICAS Not enough good replicas to write.";
    assert_eq!(p.err(&["SET", "b", "1"]), refused);
    assert_eq!(
        p.cmd(&["CONFIG", "SET", "min-replicas-to-write", "1"]),
        V::Status("OK".into())
    );

    replica.kill9();
    eventually(
        "the primary notices the replica is gone",
        SYNC_DEADLINE,
        || info_field(&mut p, "replication", "min_slaves_good_slaves") == "0",
    );
    assert_eq!(p.err(&["SET", "b", "1"]), refused);
    assert!(p
        .err(&["EVAL", "return redis.call('set','b','1')", "0"])
        .contains("NOREPLICAS"));
    assert_eq!(p.cmd(&["GET", "a"]), V::bulk("1"));

    let replica = home.start();
    wait_caught_up(&primary, &replica);
    assert_eq!(p.cmd(&["SET", "b", "2"]), V::Status("OK".into()));
    assert_eq!(
        p.cmd(&["CONFIG", "SET", "min-replicas-to-write", "0"]),
        V::Status("OK".into())
    );
    assert!(!p
        .cmd(&["INFO", "replication"])
        .text()
        .contains("min_slaves_good_slaves"));
}

/// `replica-serve-stale-data no`: while its link is down a replica answers `-MASTERDOWN` to
/// every command without the `stale` flag, `-READONLY` to writes, and `EXECABORT` to a
/// transaction that queued a refused command. Compared reply for reply with a redis-server
/// replica whose primary is unreachable; `CONFIG SET ... yes` serves the data again.
#[test]
fn a_stale_replica_refuses_reads_like_redis_when_told_to() {
    let mut primary = Server::start();
    let mut p = primary.raw();
    assert_eq!(p.cmd(&["SET", "a", "1"]), V::Status("OK".into()));
    let replica = replica_of(&primary, &["--replica-serve-stale-data", "no"]);
    wait_caught_up(&primary, &replica);
    let mut r = replica.raw();
    assert_eq!(r.cmd(&["GET", "a"]), V::bulk("1"));

    primary.kill9();
    eventually("the replica sees its link down", SYNC_DEADLINE, || {
        info_field(&mut r, "replication", "master_link_status") == "down"
    });
    let scenario: &[&[&str]] = &[
        &["PING"],
        &["GET", "a"],
        &["DBSIZE"],
        &["EXISTS", "a"],
        &["SET", "a", "2"],
        &["DEL", "a"],
        &["ECHO", "x"],
        &["SELECT", "0"],
        &["CONFIG", "GET", "replica-serve-stale-data"],
        &["SCRIPT", "FLUSH"],
        &["FUNCTION", "LIST"],
        &["PUBLISH", "c", "m"],
        &["MULTI"],
        &["GET", "a"],
        &["EXEC"],
    ];
    // What a reply is, for the comparison: errors by text, other replies by kind only
    // (the two servers hold different data).
    fn shape(v: V) -> String {
        match v {
            V::Error(e) => e,
            V::Array(_) | V::NilArray | V::Map(_) => "array".into(),
            other => format!("{:?}", std::mem::discriminant(&other)),
        }
    }
    let ours: Vec<String> = scenario.iter().map(|c| shape(r.cmd(c))).collect();
    let masterdown =
        "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.";
    assert_eq!(ours[1], masterdown);
    assert_eq!(
        ours[4],
        "READONLY You can't write against a read only replica."
    );
    assert!(ours[14].starts_with("EXECABORT"), "{ours:?}");
    // A real Redis replica of a port nobody listens on, when redis-server is installed.
    let dead = format!("127.0.0.1 {}", crate::migration::free_port());
    if let Some(redis) = crate::migration::TcpRedis::start(&[
        "--replicaof",
        &dead,
        "--replica-serve-stale-data",
        "no",
    ]) {
        let mut theirs_conn = crate::harness::Raw::connect(&format!("127.0.0.1:{}", redis.port));
        let theirs: Vec<String> = scenario.iter().map(|c| shape(theirs_conn.cmd(c))).collect();
        assert_eq!(ours, theirs);
    }

    assert_eq!(
        r.cmd(&["CONFIG", "SET", "replica-serve-stale-data", "yes"]),
        V::Status("OK".into())
    );
    assert_eq!(r.cmd(&["GET", "a"]), V::bulk("1"));
}

/// `FAILOVER`'s argument and state errors, reply for reply against redis-server 7 (a lone
/// primary, a primary with one replica, and that replica).
#[test]
fn failover_refusals_match_redis() {
    let lone: &[&[&str]] = &[
        &["FAILOVER"],
        &["FAILOVER", "ABORT"],
        &["FAILOVER", "TIMEOUT", "0"],
        &["FAILOVER", "TIMEOUT", "x"],
        &["FAILOVER", "TO", "127.0.0.1"],
        &["FAILOVER", "TO", "127.0.0.1", "x"],
        &["FAILOVER", "TO", "127.0.0.1", "1", "FORCE"],
        &["FAILOVER", "FORCE"],
        &["FAILOVER", "BOGUS"],
    ];
    let paired: &[&[&str]] = &[
        &["FAILOVER", "FORCE"],
        &["FAILOVER", "TIMEOUT", "100", "FORCE"],
        &["FAILOVER", "TO", "127.0.0.1", "1"],
        &["FAILOVER", "TO", "127.0.0.1", "99999"],
        &["FAILOVER", "TO", "127.0.0.1", "1", "FORCE"],
    ];
    let on_replica: &[&[&str]] = &[&["FAILOVER"], &["FAILOVER", "ABORT"]];
    fn replies(r: &mut Raw, cmds: &[&[&str]]) -> Vec<V> {
        cmds.iter().map(|c| r.cmd(c)).collect()
    }

    let primary = Server::start();
    let ours_lone = replies(&mut primary.raw(), lone);
    let replica = replica_of(&primary, &[]);
    wait_caught_up(&primary, &replica);
    let ours_paired = replies(&mut primary.raw(), paired);
    let ours_replica = replies(&mut replica.raw(), on_replica);
    assert_eq!(
        ours_lone[0],
        V::Error("ERR FAILOVER requires connected replicas.".into())
    );

    let Some(redis_primary) = crate::migration::TcpRedis::start(&[]) else {
        return;
    };
    let redis_addr = format!("127.0.0.1:{}", redis_primary.port);
    let theirs_lone = replies(&mut Raw::connect(&redis_addr), lone);
    let of = format!("127.0.0.1 {}", redis_primary.port);
    let redis_replica = crate::migration::TcpRedis::start(&["--replicaof", &of]).unwrap();
    let mut rp = Raw::connect(&redis_addr);
    eventually("redis replica online", SYNC_DEADLINE, || {
        info_field(&mut rp, "replication", "connected_slaves") == "1"
    });
    let theirs_paired = replies(&mut rp, paired);
    let theirs_replica = replies(
        &mut Raw::connect(&format!("127.0.0.1:{}", redis_replica.port)),
        on_replica,
    );
    assert_eq!(ours_lone, theirs_lone);
    assert_eq!(ours_paired, theirs_paired);
    assert_eq!(ours_replica, theirs_replica);
}

/// `FAILOVER TO <replica>` under a writer: writes are held while the replica catches up,
/// the replica is promoted by the old primary's `PSYNC ... FAILOVER`, the old primary
/// follows it without a full copy, every acknowledged write is on both, and the held ones
/// are answered `-READONLY`.
#[test]
fn failover_hands_over_to_a_replica_without_losing_writes() {
    let primary = Server::start();
    let mut p = primary.raw();
    fill(&mut p, "before", 300);
    let replica = replica_of(&primary, &[]);
    wait_caught_up(&primary, &replica);
    let mut r = replica.raw();
    let full_before = info_field(&mut r, "stats", "sync_full");

    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let addr = primary.addr.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut w = Raw::connect(&addr);
            let mut acknowledged = 0;
            while !stop.load(Ordering::Relaxed) {
                match w.cmd(&["INCR", "counter"]) {
                    V::Int(n) => acknowledged = n,
                    V::Error(e) => {
                        assert!(e.starts_with("READONLY"), "{e}");
                        break;
                    }
                    other => panic!("INCR answered {other:?}"),
                }
            }
            acknowledged
        })
    };
    eventually("the writer is writing", SYNC_DEADLINE, || {
        p.cmd(&["GET", "counter"]) != V::Nil
    });
    let to = [
        "FAILOVER",
        "TO",
        "127.0.0.1",
        &port_of(&replica),
        "TIMEOUT",
        "20000",
    ];
    assert_eq!(p.cmd(&to), V::Status("OK".into()));
    eventually(
        "the replica is the primary",
        SYNC_DEADLINE,
        || matches!(r.cmd(&["ROLE"]), V::Array(ref a) if a[0] == V::bulk("master")),
    );
    eventually("the old primary follows it", SYNC_DEADLINE, || {
        info_field(&mut p, "replication", "master_link_status") == "up"
            && info_field(&mut p, "replication", "master_failover_state") == "no-failover"
    });
    stop.store(true, Ordering::Relaxed);
    let acknowledged = writer.join().unwrap();
    assert!(acknowledged > 0);
    assert_eq!(
        r.cmd(&["GET", "counter"]),
        V::bulk(&acknowledged.to_string())
    );
    assert_eq!(
        info_field(&mut r, "replication", "master_failover_state"),
        "no-failover"
    );
    assert_eq!(info_field(&mut r, "stats", "sync_full"), full_before);
    assert_eq!(info_field(&mut r, "stats", "sync_partial_ok"), "1");
    assert!(p.err(&["SET", "x", "1"]).starts_with("READONLY"));

    assert_eq!(r.cmd(&["SET", "after", "1"]), V::Status("OK".into()));
    wait_caught_up(&replica, &primary);
    assert_eq!(p.cmd(&["GET", "after"]), V::bulk("1"));
    same_data(&primary, &replica);
}

/// A failover whose replica cannot catch up: `TIMEOUT` without `FORCE` gives up, and
/// `ABORT` ends a waiting one; both leave the primary a primary, and the writes held
/// meanwhile run on it.
#[test]
fn failover_times_out_or_aborts_when_the_replica_lags() {
    let primary = Server::start();
    let mut p = primary.raw();
    let replica = replica_of(&primary, &[]);
    wait_caught_up(&primary, &replica);
    let pid = replica.pid().unwrap().to_string();
    let signal = |sig: &str| {
        let ok = std::process::Command::new("kill")
            .args([sig, &pid])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill {sig}");
    };
    // A stopped replica keeps its link open but acknowledges nothing.
    signal("-STOP");
    assert_eq!(p.cmd(&["SET", "lagging", "1"]), V::Status("OK".into()));
    assert_eq!(
        p.cmd(&["FAILOVER", "TIMEOUT", "300"]),
        V::Status("OK".into())
    );
    assert_eq!(
        info_field(&mut p, "replication", "master_failover_state"),
        "waiting-for-sync"
    );
    eventually("the failover gives up", SYNC_DEADLINE, || {
        info_field(&mut p, "replication", "master_failover_state") == "no-failover"
    });
    assert_eq!(p.cmd(&["SET", "still", "primary"]), V::Status("OK".into()));

    assert_eq!(p.cmd(&["FAILOVER"]), V::Status("OK".into()));
    assert_eq!(p.err(&["FAILOVER"]), "ERR FAILOVER already in progress.");
    let held = {
        let addr = primary.addr.clone();
        std::thread::spawn(move || Raw::connect(&addr).cmd(&["SET", "held", "1"]))
    };
    eventually("the held write reached the server", SYNC_DEADLINE, || {
        p.cmd(&["CLIENT", "LIST"]).text().contains("cmd=set")
    });
    assert_eq!(p.cmd(&["GET", "held"]), V::Nil, "a write passed the hold");
    assert_eq!(p.cmd(&["FAILOVER", "ABORT"]), V::Status("OK".into()));
    assert_eq!(held.join().unwrap(), V::Status("OK".into()));
    assert_eq!(p.cmd(&["GET", "held"]), V::bulk("1"));
    signal("-CONT");
    wait_caught_up(&primary, &replica);
    same_data(&primary, &replica);
}

/// A chain A -> B -> C: C follows B's WAL (A's batches at A's offsets), through B's clean
/// restart and its kill -9 while A takes writes, receives A's published messages through
/// B, and keeps following B once B is promoted.
#[test]
fn a_replica_of_a_replica_follows_the_chain() {
    let a = Server::start();
    let mut pa = a.raw();
    fill(&mut pa, "a:", 200);
    let tmp = tempfile::tempdir().unwrap();
    let b_dir = tmp.path().join("b");
    let b_port = crate::migration::free_port().to_string();
    let b_of = format!("127.0.0.1 {}", port_of(&a));
    let b_args = ["--replicaof", b_of.as_str(), "--port", b_port.as_str()];
    let mut b = Server::start_in(&b_dir, &b_args);
    wait_caught_up(&a, &b);
    let c = replica_of(&b, &[]);
    wait_caught_up(&b, &c);
    same_data(&a, &c);
    let mut pb = b.raw();
    assert!(info_field(&mut pb, "replication", "slave0").contains(&format!("port={}", port_of(&c))));
    assert_eq!(info_field(&mut pa, "replication", "connected_slaves"), "1");

    // Messages published on A reach C's subscribers through B.
    let mut sub = c.raw();
    sub.cmd(&["SUBSCRIBE", "news"]);
    eventually("a message crosses the chain", SYNC_DEADLINE, || {
        pa.cmd(&["PUBLISH", "news", "hello"]);
        matches!(sub.try_read(), Some(V::Array(m)) if m.get(2) == Some(&V::bulk("hello")))
    });

    // B restarts cleanly, then is killed; A writes meanwhile; C catches up each time.
    fill(&mut pa, "b:", 200);
    b.terminate().expect("clean exit");
    fill(&mut pa, "c:", 200);
    let mut b = Server::start_in(&b_dir, &b_args);
    wait_caught_up(&a, &b);
    wait_caught_up(&b, &c);
    same_data(&a, &c);
    // Both links resumed: B from A, C from B (B's WAL kept what C lacked).
    let mut pb = b.raw();
    assert_eq!(info_field(&mut pb, "stats", "sync_full"), "0");
    assert_eq!(info_field(&mut pb, "stats", "sync_partial_ok"), "1");
    b.kill9();
    fill(&mut pa, "d:", 200);
    let b = Server::start_in(&b_dir, &b_args);
    wait_caught_up(&a, &b);
    wait_caught_up(&b, &c);
    same_data(&a, &c);
    let mut pb = b.raw();
    assert_eq!(info_field(&mut pb, "stats", "sync_full"), "0");
    assert_eq!(info_field(&mut pa, "stats", "sync_full"), "1");
    assert_eq!(
        pa.cmd(&["DEBUG", "DIGEST"]),
        c.raw().cmd(&["DEBUG", "DIGEST"])
    );

    // B promoted: C continues under B's new history.
    assert_eq!(pb.cmd(&["REPLICAOF", "NO", "ONE"]), V::Status("OK".into()));
    fill(&mut pb, "e:", 100);
    wait_caught_up(&b, &c);
    same_data(&b, &c);
}

/// `appendonly no` on the primary: writes are still logged while a replica is connected, so
/// it follows them; writes made with no replica connected skip the WAL, and the returning
/// replica takes a full copy rather than resume past the gap.
#[test]
fn appendonly_no_primaries_still_replicate() {
    let primary = Server::start_with(&["--appendonly", "no"]);
    let mut p = primary.raw();
    fill(&mut p, "a:", 100);
    let home = ReplicaHome::of(&primary);
    let mut replica = home.start();
    wait_caught_up(&primary, &replica);
    fill(&mut p, "b:", 100);
    wait_caught_up(&primary, &replica);
    same_data(&primary, &replica);

    replica.kill9();
    eventually("the primary drops the link", SYNC_DEADLINE, || {
        info_field(&mut p, "replication", "connected_slaves") == "0"
    });
    fill(&mut p, "c:", 100);
    let replica = home.start();
    wait_caught_up(&primary, &replica);
    fill(&mut p, "d:", 10);
    wait_caught_up(&primary, &replica);
    same_data(&primary, &replica);
    assert_eq!(info_field(&mut p, "stats", "sync_full"), "2");
}

/// The keyspace events a replica's subscribers hear for its primary's writes, compared
/// event for event with a redis-server replica: the replica's own `notify-keyspace-events`
/// decides (the primaries have none), the primary's expiry arrives as `del`, and the
/// primary's key-miss reads stay on the primary. On Strata an event never arrives before
/// its write is readable on the replica.
#[test]
fn replicas_raise_keyspace_events_for_their_primarys_writes() {
    /// Runs the scenario on `primary`, collecting what a `PSUBSCRIBE` on `replica` hears;
    /// `on_first` runs when the first event arrives.
    fn events(primary: &mut Raw, replica: &mut Raw, mut on_first: impl FnMut()) -> Vec<String> {
        assert_eq!(
            replica.cmd(&["CONFIG", "SET", "notify-keyspace-events", "KEAm"]),
            V::Status("OK".into())
        );
        let V::Array(confirm) = replica.cmd(&["PSUBSCRIBE", "__key*__:*"]) else {
            panic!("psubscribe")
        };
        assert_eq!(confirm[0].text(), "psubscribe");
        let mut heard = Vec::new();
        let next = |replica: &mut Raw, heard: &mut Vec<String>| {
            let V::Array(m) = replica.read() else {
                panic!("pmessage expected")
            };
            let line = format!("{} {}", m[2].text(), m[3].text());
            heard.push(line.clone());
            line
        };
        primary.cmd(&["SET", "k", "v"]);
        next(replica, &mut heard);
        on_first();
        primary.cmd(&["GET", "missing"]);
        primary.cmd(&["HSET", "h", "f", "1"]);
        primary.cmd(&["LPUSH", "l", "a"]);
        primary.cmd(&["PEXPIRE", "k", "100"]);
        // The primary's active expiry deletes k in its own time; wait for it.
        while next(replica, &mut heard) != "__keyevent@0__:del k" {}
        primary.cmd(&["DEL", "h"]);
        primary.cmd(&["SET", "marker", "1"]);
        while next(replica, &mut heard) != "__keyevent@0__:set marker" {}
        heard
    }

    let primary = Server::start();
    let replica = replica_of(&primary, &[]);
    wait_caught_up(&primary, &replica);
    let mut reader = replica.raw();
    let ours = events(&mut primary.raw(), &mut replica.raw(), || {
        assert_eq!(reader.cmd(&["GET", "k"]), V::bulk("v"));
    });
    assert!(
        ours.contains(&"__keyspace@0__:h hset".to_string()),
        "{ours:?}"
    );
    assert!(!ours.iter().any(|e| e.contains("keymiss")), "{ours:?}");

    let Some(redis_primary) = crate::migration::TcpRedis::start(&[]) else {
        return;
    };
    let replicaof = format!("127.0.0.1 {}", redis_primary.port);
    let redis_replica = crate::migration::TcpRedis::start(&["--replicaof", &replicaof])
        .expect("redis-server replica");
    let connect = |port: u16| Raw::connect(&format!("127.0.0.1:{port}"));
    let (mut rp, mut rr) = (connect(redis_primary.port), connect(redis_replica.port));
    eventually("the redis replica synced", SYNC_DEADLINE, || {
        info_field(&mut rr, "replication", "master_link_status") == "up"
    });
    let theirs = events(&mut rp, &mut connect(redis_replica.port), || {});
    assert_eq!(ours, theirs);
}
