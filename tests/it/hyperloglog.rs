//! HyperLogLog behaviour beyond reply shapes (those are pinned against redis-server in
//! `differential`): accuracy at a million elements, merges of overlapping sets, durability.

use crate::harness::{cmd, Server};

fn add_range(con: &mut redis::Connection, key: &str, from: u64, to: u64) {
    let mut pipe = redis::pipe();
    for start in (from..to).step_by(1000) {
        let end = to.min(start + 1000);
        pipe.cmd("PFADD").arg(key).arg(
            (start..end)
                .map(|i| format!("user:{i}"))
                .collect::<Vec<_>>(),
        );
    }
    pipe.query::<()>(con).expect("pfadd pipeline");
}

fn within(estimate: u64, truth: u64, tolerance: f64) -> bool {
    (estimate as f64 - truth as f64).abs() <= truth as f64 * tolerance
}

#[test]
fn a_million_distinct_elements_count_within_two_percent() {
    let server = Server::start();
    let mut con = server.client();
    add_range(&mut con, "visitors", 0, 1_000_000);
    let estimate: u64 = cmd(&["PFCOUNT", "visitors"]).query(&mut con).unwrap();
    assert!(within(estimate, 1_000_000, 0.02), "estimate {estimate}");
    // Re-adding the same elements changes nothing.
    let changed: i64 = cmd(&["PFADD", "visitors", "user:1", "user:999999"])
        .query(&mut con)
        .unwrap();
    assert_eq!(changed, 0);
    let encoding: String = cmd(&["PFDEBUG", "ENCODING", "visitors"])
        .query(&mut con)
        .unwrap();
    assert_eq!(encoding, "dense");
}

#[test]
fn merging_overlapping_sets_counts_the_union() {
    let server = Server::start();
    let mut con = server.client();
    // monday: 0..60k, tuesday: 40k..100k, wednesday: 90k..120k -> union 120k, overlap 30k.
    add_range(&mut con, "monday", 0, 60_000);
    add_range(&mut con, "tuesday", 40_000, 100_000);
    add_range(&mut con, "wednesday", 90_000, 120_000);
    let union: u64 = cmd(&["PFCOUNT", "monday", "tuesday", "wednesday"])
        .query(&mut con)
        .unwrap();
    assert!(within(union, 120_000, 0.02), "union {union}");
    let _: () = cmd(&["PFMERGE", "week", "monday", "tuesday", "wednesday"])
        .query(&mut con)
        .unwrap();
    let merged: u64 = cmd(&["PFCOUNT", "week"]).query(&mut con).unwrap();
    assert_eq!(
        merged, union,
        "PFMERGE and multi-key PFCOUNT see the same registers"
    );
    // Merging into an existing key keeps its own elements.
    add_range(&mut con, "small", 500_000, 500_100);
    let _: () = cmd(&["PFMERGE", "small", "monday"])
        .query(&mut con)
        .unwrap();
    let small: u64 = cmd(&["PFCOUNT", "small"]).query(&mut con).unwrap();
    assert!(within(small, 60_100, 0.02), "small {small}");
    // Small sets are exact-ish: the sparse encoding counts tiny sets precisely.
    let _: i64 = cmd(&["PFADD", "tiny", "a", "b", "c", "a"])
        .query(&mut con)
        .unwrap();
    let tiny: u64 = cmd(&["PFCOUNT", "tiny"]).query(&mut con).unwrap();
    assert_eq!(tiny, 3);
}

#[test]
fn hll_survives_kill_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start_in(dir.path(), &["--appendfsync", "always"]);
    let mut con = server.client();
    add_range(&mut con, "h", 0, 20_000);
    let before: u64 = cmd(&["PFCOUNT", "h"]).query(&mut con).unwrap();
    let bytes: Vec<u8> = cmd(&["GET", "h"]).query(&mut con).unwrap();
    server.kill9();
    let server = Server::start_in(dir.path(), &[]);
    let mut con = server.client();
    let after: u64 = cmd(&["PFCOUNT", "h"]).query(&mut con).unwrap();
    assert_eq!(after, before);
    let again: Vec<u8> = cmd(&["GET", "h"]).query(&mut con).unwrap();
    assert_eq!(again, bytes);
}
