//! The hot tier (issue 4): never stale under concurrent writes and forced evictions, memory
//! introspection that tracks reality, access tracking (`OBJECT FREQ/IDLETIME`, `NO-TOUCH`),
//! and the `maxmemory*` directives. Every server here passes `--hot-tier yes` explicitly so
//! these run even when the suite runs with the tier off.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::harness::{Raw, Server, V};

fn info_field(r: &mut Raw, section: &str, name: &str) -> u64 {
    let text = r.cmd(&["INFO", section]).text();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("INFO {section} has no {name}"))
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("INFO {name} is not a number"))
}

fn int(v: V) -> i64 {
    match v {
        V::Int(n) => n,
        V::Bulk(b) => String::from_utf8_lossy(&b).parse().expect("integer bulk"),
        other => panic!("expected an integer, got {other:?}"),
    }
}

/// A counter as read back: missing counts as 0.
fn counter(v: V) -> i64 {
    match v {
        V::Nil => 0,
        v => int(v),
    }
}

/// The sequence number in front of a ballast value; missing counts as 0.
fn ballast_seq(v: V) -> u64 {
    match v {
        V::Nil => 0,
        V::Bulk(b) => String::from_utf8_lossy(&b[..20]).parse().unwrap(),
        other => panic!("unexpected {other:?}"),
    }
}

const COUNTERS: usize = 32;
const BALLAST_KEYS: usize = 256;
const BALLAST_BYTES: usize = 16 * 1024;

/// Ballast values carry their sequence number in front of a padding that forces evictions.
fn ballast_value(seq: u64) -> String {
    let mut v = format!("{seq:020}:");
    v.extend(std::iter::repeat_n('x', BALLAST_BYTES));
    v
}

#[test]
fn concurrent_reads_never_see_a_value_older_than_the_last_acknowledged_write() {
    // 2 MB of maxmemory gives the tier 1 MB; 256 ballast keys of 16 KB keep it evicting.
    let server = Server::start_with(&["--hot-tier", "yes", "--maxmemory", "2mb"]);
    let counters_acked: Arc<Vec<AtomicI64>> =
        Arc::new((0..COUNTERS).map(|_| AtomicI64::new(0)).collect());
    let ballast_acked: Arc<Vec<AtomicU64>> =
        Arc::new((0..BALLAST_KEYS).map(|_| AtomicU64::new(0)).collect());
    let incrs_done = Arc::new(AtomicU64::new(0));
    let stale = Arc::new(AtomicU64::new(0));
    // Every worker runs for the same fixed load window.
    let deadline = Instant::now() + Duration::from_secs(8);
    let mut threads = Vec::new();

    // Counter writers: INCR is a read-modify-write through the tier, so a stale read would
    // also lose increments (checked at the end).
    for w in 0..4 {
        let (addr, acked, done) = (
            server.addr.clone(),
            counters_acked.clone(),
            incrs_done.clone(),
        );
        threads.push(std::thread::spawn(move || {
            let mut r = Raw::connect(&addr);
            let mut i = w;
            while Instant::now() < deadline {
                let k = i % COUNTERS;
                let value = int(r.cmd(&["INCR", &format!("counter:{k}")]));
                acked[k].fetch_max(value, Ordering::SeqCst);
                done.fetch_add(1, Ordering::SeqCst);
                i += 7;
            }
        }));
    }
    // Ballast writers: each owns a slice of the ballast keys, so its sequence numbers per key
    // only grow.
    for w in 0..2 {
        let (addr, acked) = (server.addr.clone(), ballast_acked.clone());
        threads.push(std::thread::spawn(move || {
            let mut r = Raw::connect(&addr);
            let mut seq = 0u64;
            while Instant::now() < deadline {
                seq += 1;
                let k = w + 2 * (seq as usize % (BALLAST_KEYS / 2));
                let reply = r.cmd(&["SET", &format!("ballast:{k}"), &ballast_value(seq)]);
                assert_eq!(reply, V::Status("OK".into()));
                acked[k].store(seq, Ordering::SeqCst);
            }
        }));
    }
    // Readers: whatever they read must be at least what was acknowledged before they asked.
    for rdr in 0..4 {
        let (addr, cacked, backed, stale) = (
            server.addr.clone(),
            counters_acked.clone(),
            ballast_acked.clone(),
            stale.clone(),
        );
        threads.push(std::thread::spawn(move || {
            let mut r = Raw::connect(&addr);
            let mut i = rdr * 13;
            while Instant::now() < deadline {
                i += 1;
                if i % 2 == 0 {
                    let k = i % COUNTERS;
                    let floor = cacked[k].load(Ordering::SeqCst);
                    let seen = counter(r.cmd(&["GET", &format!("counter:{k}")]));
                    if seen < floor {
                        stale.fetch_add(1, Ordering::SeqCst);
                    }
                } else {
                    let k = i % BALLAST_KEYS;
                    let floor = backed[k].load(Ordering::SeqCst);
                    let seen = ballast_seq(r.cmd(&["GET", &format!("ballast:{k}")]));
                    if seen < floor {
                        stale.fetch_add(1, Ordering::SeqCst);
                    }
                }
            }
        }));
    }
    for t in threads {
        t.join().expect("worker panicked");
    }

    let mut r = server.raw();
    let total: i64 = (0..COUNTERS)
        .map(|k| counter(r.cmd(&["GET", &format!("counter:{k}")])))
        .sum();
    let incrs = incrs_done.load(Ordering::SeqCst);
    let evictions = info_field(&mut r, "memory", "hot_tier_evictions");
    eprintln!(
        "hot tier stress: {incrs} INCRs, {evictions} evictions, {} stale reads",
        stale.load(Ordering::SeqCst)
    );
    assert_eq!(
        stale.load(Ordering::SeqCst),
        0,
        "a read returned a stale value"
    );
    assert_eq!(total as u64, incrs, "increments were lost");
    assert!(incrs > 1000, "too little load to mean anything: {incrs}");
    assert!(evictions > 0, "the tiny maxmemory forced no evictions");
}

const MEMBER_BALLAST_FIELDS: usize = 512;

/// The member cache (docs/member-cache.md) under the same kind of load: hash fields counted
/// by HINCRBY (a stale cached field would lose increments), ballast fields big enough to keep
/// the cache evicting, and per-connection lists and sets whose replies must follow a local
/// model exactly (LPUSH reuses the index an LPOP freed; SADD/SREM answer from membership).
#[test]
fn concurrent_member_reads_never_see_a_member_older_than_the_last_acknowledged_write() {
    // 2 MB of maxmemory gives the tier 1 MB, a quarter of it for members; 512 ballast fields
    // of 1 KB do not fit.
    let server = Server::start_with(&["--hot-tier", "yes", "--maxmemory", "2mb"]);
    let counters_acked: Arc<Vec<AtomicI64>> =
        Arc::new((0..COUNTERS).map(|_| AtomicI64::new(0)).collect());
    let ballast_acked: Arc<Vec<AtomicU64>> = Arc::new(
        (0..MEMBER_BALLAST_FIELDS)
            .map(|_| AtomicU64::new(0))
            .collect(),
    );
    let incrs_done = Arc::new(AtomicU64::new(0));
    let stale = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(6);
    let mut threads = Vec::new();

    for w in 0..3 {
        let (addr, acked, done) = (
            server.addr.clone(),
            counters_acked.clone(),
            incrs_done.clone(),
        );
        threads.push(std::thread::spawn(move || {
            let mut r = Raw::connect(&addr);
            let mut i = w;
            while Instant::now() < deadline {
                let k = i % COUNTERS;
                let value = int(r.cmd(&["HINCRBY", "counters", &format!("f{k}"), "1"]));
                acked[k].fetch_max(value, Ordering::SeqCst);
                done.fetch_add(1, Ordering::SeqCst);
                i += 7;
            }
        }));
    }
    for w in 0..2 {
        let (addr, acked) = (server.addr.clone(), ballast_acked.clone());
        threads.push(std::thread::spawn(move || {
            let mut r = Raw::connect(&addr);
            let mut seq = 0u64;
            while Instant::now() < deadline {
                seq += 1;
                let k = w + 2 * (seq as usize % (MEMBER_BALLAST_FIELDS / 2));
                let mut value = format!("{seq:020}:");
                value.extend(std::iter::repeat_n('x', 1024));
                r.cmd(&["HSET", "ballast", &format!("f{k}"), &value]);
                acked[k].store(seq, Ordering::SeqCst);
            }
        }));
    }
    // Model-checked lists and sets, one of each per thread.
    for w in 0..2 {
        let addr = server.addr.clone();
        threads.push(std::thread::spawn(move || {
            let mut r = Raw::connect(&addr);
            let (list, set) = (format!("list:{w}"), format!("set:{w}"));
            let mut model: std::collections::VecDeque<u64> = Default::default();
            let mut members = std::collections::BTreeSet::new();
            let mut seq = 0u64;
            while Instant::now() < deadline {
                seq += 1;
                r.cmd(&["LPUSH", &list, &seq.to_string()]);
                model.push_front(seq);
                if seq % 3 != 0 {
                    // Pop from the head: the index just written, then reused by the next push.
                    let got = int(r.cmd(&["LPOP", &list]));
                    assert_eq!(Some(got as u64), model.pop_front(), "LPOP of {list}");
                }
                if model.len() > 16 {
                    let got = int(r.cmd(&["RPOP", &list]));
                    assert_eq!(Some(got as u64), model.pop_back(), "RPOP of {list}");
                }
                let m = (seq * 7919 % 64).to_string();
                if seq % 2 == 0 {
                    let added = int(r.cmd(&["SADD", &set, &m]));
                    assert_eq!(added, i64::from(members.insert(m.clone())), "SADD {m}");
                } else {
                    let removed = int(r.cmd(&["SREM", &set, &m]));
                    assert_eq!(removed, i64::from(members.remove(&m)), "SREM {m}");
                }
            }
        }));
    }
    for rdr in 0..3 {
        let (addr, cacked, backed, stale) = (
            server.addr.clone(),
            counters_acked.clone(),
            ballast_acked.clone(),
            stale.clone(),
        );
        threads.push(std::thread::spawn(move || {
            let mut r = Raw::connect(&addr);
            let mut i = rdr * 13;
            while Instant::now() < deadline {
                i += 1;
                if i % 2 == 0 {
                    let k = i % COUNTERS;
                    let floor = cacked[k].load(Ordering::SeqCst);
                    let seen = counter(r.cmd(&["HGET", "counters", &format!("f{k}")]));
                    if seen < floor {
                        stale.fetch_add(1, Ordering::SeqCst);
                    }
                } else {
                    let k = i % MEMBER_BALLAST_FIELDS;
                    let floor = backed[k].load(Ordering::SeqCst);
                    let seen = ballast_seq(r.cmd(&["HGET", "ballast", &format!("f{k}")]));
                    if seen < floor {
                        stale.fetch_add(1, Ordering::SeqCst);
                    }
                }
            }
        }));
    }
    for t in threads {
        t.join().expect("worker panicked");
    }

    let mut r = server.raw();
    let total: i64 = (0..COUNTERS)
        .map(|k| counter(r.cmd(&["HGET", "counters", &format!("f{k}")])))
        .sum();
    let incrs = incrs_done.load(Ordering::SeqCst);
    let hits = info_field(&mut r, "memory", "hot_tier_member_hits");
    let evictions = info_field(&mut r, "memory", "hot_tier_member_evictions");
    eprintln!(
        "member cache stress: {incrs} HINCRBYs, {hits} hits, {evictions} evictions, {} stale",
        stale.load(Ordering::SeqCst)
    );
    assert_eq!(
        stale.load(Ordering::SeqCst),
        0,
        "a read returned a stale field"
    );
    assert_eq!(total as u64, incrs, "increments were lost");
    assert!(incrs > 1000, "too little load to mean anything: {incrs}");
    assert!(hits > 0, "no read was served by the member cache");
    assert!(
        evictions > 0,
        "the tiny maxmemory forced no member evictions"
    );
}

#[test]
fn memory_usage_grows_with_the_value_and_used_memory_stays_near_maxmemory() {
    let server = Server::start_with(&["--hot-tier", "yes", "--maxmemory", "8mb"]);
    let mut r = server.raw();
    r.cmd(&["SET", "small", "x"]);
    r.cmd(&["SET", "big", &"y".repeat(100_000)]);
    let small = int(r.cmd(&["MEMORY", "USAGE", "small"]));
    let big = int(r.cmd(&["MEMORY", "USAGE", "big"]));
    assert!(small > 0 && big > 100_000 && big < 200_000, "{small} {big}");
    assert_eq!(r.cmd(&["MEMORY", "USAGE", "missing"]), V::Nil);
    for i in 0..200 {
        r.cmd(&["RPUSH", "list", &format!("{i:0100}")]);
    }
    let list = int(r.cmd(&["MEMORY", "USAGE", "list", "SAMPLES", "0"]));
    assert!(list > 200 * 100, "{list}");

    // 40 MB of data through an 8 MB budget.
    let value = "v".repeat(4096);
    for batch in 0..100 {
        let mut pipe = Vec::new();
        for i in 0..100 {
            let key = format!("fill:{batch}:{i}");
            pipe.extend(Raw::encode(&[b"SET", key.as_bytes(), value.as_bytes()]));
        }
        r.send_bytes(&pipe);
        for _ in 0..100 {
            assert_eq!(r.read(), V::Status("OK".into()));
        }
    }
    // A GET pass makes the tier admit what it can.
    for batch in 0..100 {
        assert_eq!(r.cmd(&["GET", &format!("fill:{batch}:7")]).text(), value);
    }
    let maxmemory = info_field(&mut r, "memory", "maxmemory");
    let used = info_field(&mut r, "memory", "used_memory");
    let tier_bytes = info_field(&mut r, "memory", "hot_tier_bytes");
    let tier_capacity = info_field(&mut r, "memory", "hot_tier_capacity");
    eprintln!("maxmemory {maxmemory} used_memory {used} tier {tier_bytes}/{tier_capacity}");
    assert_eq!(maxmemory, 8 << 20);
    assert!(
        tier_bytes <= tier_capacity,
        "{tier_bytes} > {tier_capacity}"
    );
    // The documented fixed overhead above maxmemory (README "Memory"): 64 MiB for the runtime,
    // RocksDB's table readers and connection buffers.
    assert!(
        used < maxmemory + (64 << 20),
        "used_memory {used} exceeds maxmemory {maxmemory} + 64 MiB"
    );
    // The report commands answer with the same numbers' shapes.
    match r.cmd(&["MEMORY", "STATS"]) {
        V::Array(items) => {
            let names: Vec<String> = items.iter().step_by(2).map(V::text).collect();
            for want in [
                "peak.allocated",
                "total.allocated",
                "keys.count",
                "hot-tier.bytes",
            ] {
                assert!(names.iter().any(|n| n == want), "MEMORY STATS lacks {want}");
            }
        }
        other => panic!("MEMORY STATS: {other:?}"),
    }
    assert!(!r.cmd(&["MEMORY", "DOCTOR"]).text().is_empty());
    assert_eq!(r.cmd(&["MEMORY", "PURGE"]), V::Status("OK".into()));
    assert!(r
        .cmd(&["MEMORY", "MALLOC-STATS"])
        .text()
        .contains("jemalloc"));
}

#[test]
fn lfu_frequency_counts_accesses_but_not_introspection_or_no_touch_reads() {
    let server = Server::start_with(&[
        "--hot-tier",
        "yes",
        "--maxmemory-policy",
        "allkeys-lfu",
        // Factor 0 makes every access increment the counter, so counts are exact.
        "--lfu-log-factor",
        "0",
    ]);
    let mut r = server.raw();
    r.cmd(&["SET", "k", "v"]);
    let freq = |r: &mut Raw| int(r.cmd(&["OBJECT", "FREQ", "k"]));
    let start = freq(&mut r);
    for _ in 0..3 {
        r.cmd(&["GET", "k"]);
    }
    assert_eq!(freq(&mut r), start + 3);
    for introspect in [
        &["TYPE", "k"][..],
        &["TTL", "k"],
        &["PTTL", "k"],
        &["OBJECT", "ENCODING", "k"],
    ] {
        r.cmd(introspect);
    }
    assert_eq!(
        freq(&mut r),
        start + 3,
        "introspection counted as an access"
    );
    assert_eq!(r.cmd(&["CLIENT", "NO-TOUCH", "on"]), V::Status("OK".into()));
    r.cmd(&["GET", "k"]);
    assert_eq!(freq(&mut r), start + 3, "a NO-TOUCH read counted");
    r.cmd(&["TOUCH", "k"]);
    assert_eq!(
        freq(&mut r),
        start + 4,
        "TOUCH from a NO-TOUCH client must count"
    );
    assert!(r
        .err(&["OBJECT", "IDLETIME", "k"])
        .starts_with("ERR An LFU maxmemory policy is selected"));
    assert_eq!(r.cmd(&["OBJECT", "FREQ", "missing"]), V::Nil);

    r.cmd(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"]);
    assert!(r
        .err(&["OBJECT", "FREQ", "k"])
        .starts_with("ERR An LFU maxmemory policy is not selected"));
    r.cmd(&["GET", "k"]);
    assert!(int(r.cmd(&["OBJECT", "IDLETIME", "k"])) <= 1);
}

#[test]
fn maxmemory_directives_follow_redis_syntax_and_apply_at_runtime() {
    let server = Server::start_with(&["--hot-tier", "yes"]);
    let mut r = server.raw();
    assert_eq!(
        r.cmd(&["CONFIG", "SET", "maxmemory", "64mb"]),
        V::Status("OK".into())
    );
    assert_eq!(
        r.cmd(&["CONFIG", "GET", "maxmemory"]),
        V::Array(vec![V::bulk("maxmemory"), V::bulk("67108864")])
    );
    assert_eq!(info_field(&mut r, "memory", "maxmemory"), 64 << 20);
    assert_eq!(info_field(&mut r, "memory", "hot_tier_capacity"), 32 << 20);
    for policy in [
        "noeviction",
        "allkeys-lru",
        "allkeys-lfu",
        "allkeys-random",
        "volatile-lru",
        "volatile-lfu",
        "volatile-random",
        "volatile-ttl",
    ] {
        assert_eq!(
            r.cmd(&["CONFIG", "SET", "maxmemory-policy", policy]),
            V::Status("OK".into())
        );
        r.cmd(&["SET", "k", policy]);
        assert_eq!(r.cmd(&["GET", "k"]), V::bulk(policy));
    }
    assert!(r
        .err(&["CONFIG", "SET", "maxmemory-policy", "sometimes"])
        .starts_with("ERR"));
    assert_eq!(
        r.cmd(&["CONFIG", "SET", "maxmemory-samples", "10"]),
        V::Status("OK".into())
    );
    assert!(r
        .err(&["CONFIG", "SET", "maxmemory", "lots"])
        .starts_with("ERR"));

    // maxmemory 0 derives a budget from the machine's RAM and says so.
    r.cmd(&["CONFIG", "SET", "maxmemory", "0"]);
    assert_eq!(info_field(&mut r, "memory", "maxmemory"), 0);
    let info = r.cmd(&["INFO", "memory"]).text();
    assert!(
        info.contains("strata_memory_budget_source:auto-quarter-of-ram"),
        "{info}"
    );

    // Switching the tier off and on keeps every key readable.
    r.cmd(&["CONFIG", "SET", "hot-tier", "no"]);
    assert_eq!(info_field(&mut r, "memory", "hot_tier_enabled"), 0);
    assert_eq!(r.cmd(&["GET", "k"]), V::bulk("volatile-ttl"));
    r.cmd(&["SET", "k", "while-off"]);
    r.cmd(&["CONFIG", "SET", "hot-tier", "yes"]);
    assert_eq!(r.cmd(&["GET", "k"]), V::bulk("while-off"));
}

#[test]
fn noeviction_stops_admitting_but_serves_every_key() {
    let server = Server::start_with(&[
        "--hot-tier",
        "yes",
        "--maxmemory",
        "1mb",
        "--maxmemory-policy",
        "noeviction",
    ]);
    let mut r = server.raw();
    let value = "n".repeat(8192);
    for i in 0..200 {
        assert_eq!(
            r.cmd(&["SET", &format!("k{i}"), &value]),
            V::Status("OK".into())
        );
    }
    for i in 0..200 {
        assert_eq!(r.cmd(&["GET", &format!("k{i}")]).text(), value);
    }
    let bytes = info_field(&mut r, "memory", "hot_tier_bytes");
    let capacity = info_field(&mut r, "memory", "hot_tier_capacity");
    assert!(bytes <= capacity + 8192 + 512, "{bytes} > {capacity}");
    assert_eq!(info_field(&mut r, "stats", "evicted_keys"), 0);
}

/// The value stored under `big:{i}` by the larger-than-RAM test: 1 KiB, unique per key, and
/// pseudo-random (xorshift) so compression cannot shrink the data below RAM.
fn ltr_value(i: u64) -> Vec<u8> {
    let mut v = format!("{i:012}|").into_bytes();
    let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    while v.len() < 1024 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(1024);
    v
}

/// Sends `keys` in pipelined batches and checks each reply with `check`; samples the
/// server's RSS every 20 batches and returns the highest value seen.
fn pipelined(
    r: &mut Raw,
    keys: std::ops::Range<u64>,
    encode: impl Fn(u64) -> Vec<u8>,
    check: impl Fn(u64, V),
) -> u64 {
    const BATCH: u64 = 500;
    let mut peak_rss = 0;
    let mut start = keys.start;
    while start < keys.end {
        if (start / BATCH) % 20 == 0 {
            peak_rss = peak_rss.max(info_field(r, "memory", "used_memory_rss"));
        }
        let end = (start + BATCH).min(keys.end);
        let mut out = Vec::new();
        for i in start..end {
            out.extend(encode(i));
        }
        r.send_bytes(&out);
        for i in start..end {
            check(i, r.read());
        }
        start = end;
    }
    peak_rss.max(info_field(r, "memory", "used_memory_rss"))
}

/// Larger than RAM (issue 4): `STRATA_LTR_MB` (default 1024) MB of 1 KiB values through
/// `maxmemory 32mb`, RSS sampled every 10,000 keys, every key read back before and after a restart.
/// Run with `make larger-than-ram`.
#[test]
#[ignore = "loads 1 GB; run with `make larger-than-ram`"]
fn larger_than_ram() {
    let megabytes: u64 = std::env::var("STRATA_LTR_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let rss_bound: u64 = 256 << 20;
    let keys = megabytes * 1024;
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("data");
    let args = ["--hot-tier", "yes", "--maxmemory", "32mb"];
    let mut server = Server::start_in(&dir, &args);

    let set = |i: u64| Raw::encode(&[b"SET", format!("big:{i}").as_bytes(), &ltr_value(i)]);
    let get = |i: u64| Raw::encode(&[b"GET", format!("big:{i}").as_bytes()]);
    let is_ok = |i: u64, v: V| assert_eq!(v, V::Status("OK".into()), "SET big:{i}");
    let is_value = |i: u64, v: V| assert!(v == V::Bulk(ltr_value(i)), "big:{i} read back wrong");

    let started = Instant::now();
    let mut r = server.raw();
    let peak_loading = pipelined(&mut r, 0..keys, set, is_ok);
    let loaded = started.elapsed();
    let peak_reading = pipelined(&mut r, 0..keys, get, is_value);
    let read = started.elapsed() - loaded;
    let peak_before_restart = peak_loading.max(peak_reading);
    let dbsize = int(r.cmd(&["DBSIZE"]));
    let sst = info_field(&mut r, "memory", "rocksdb_sst_files_size");
    let hit_ratio = r.cmd(&["INFO", "memory"]).text();
    drop(r);

    server.terminate();
    let restarted = Instant::now();
    let server = Server::start_in(&dir, &args);
    let restart = restarted.elapsed();
    let mut r = server.raw();
    let rss_after = pipelined(&mut r, 0..keys, get, is_value);
    eprintln!(
        "larger-than-RAM: {keys} keys x 1 KiB ({megabytes} MB, {}x maxmemory 32 MB); load {:.1}s, \
         read-back {:.1}s, restart {:.2}s; SST {} MB; peak RSS {} MB (bound {} MB), peak RSS after \
         restart during a full read {} MB; tier: {}",
        megabytes / 32,
        loaded.as_secs_f64(),
        read.as_secs_f64(),
        restart.as_secs_f64(),
        sst >> 20,
        peak_before_restart >> 20,
        rss_bound >> 20,
        rss_after >> 20,
        hit_ratio
            .lines()
            .filter(|l| l.starts_with("hot_tier_"))
            .collect::<Vec<_>>()
            .join(" "),
    );
    assert_eq!(dbsize as u64, keys);
    assert!(
        peak_before_restart < rss_bound,
        "peak RSS {peak_before_restart}"
    );
    assert!(rss_after < rss_bound, "RSS after restart {rss_after}");
}
