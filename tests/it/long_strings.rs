//! Long strings and bitmaps (kept in chunks by Strata): every string command must see the
//! same bytes a plain in-memory string would hold. A model `Vec<u8>` receives the same edits
//! and GET/GETRANGE/STRLEN/GETBIT/BITCOUNT/BITPOS are compared with it after each step.

use crate::harness::{cmd, Server};

struct Model {
    bytes: Vec<u8>,
}

impl Model {
    fn setrange(&mut self, offset: usize, patch: &[u8]) {
        if self.bytes.len() < offset + patch.len() {
            self.bytes.resize(offset + patch.len(), 0);
        }
        self.bytes[offset..offset + patch.len()].copy_from_slice(patch);
    }

    fn setbit(&mut self, bit: usize, on: bool) -> u8 {
        let byte = bit / 8;
        if self.bytes.len() <= byte {
            self.bytes.resize(byte + 1, 0);
        }
        let mask = 1u8 << (7 - bit % 8);
        let old = u8::from(self.bytes[byte] & mask != 0);
        if on {
            self.bytes[byte] |= mask;
        } else {
            self.bytes[byte] &= !mask;
        }
        old
    }
}

fn check(con: &mut redis::Connection, key: &str, model: &Model, step: &str) {
    let len: usize = cmd(&["STRLEN", key]).query(con).unwrap();
    assert_eq!(len, model.bytes.len(), "STRLEN after {step}");
    let value: Vec<u8> = cmd(&["GET", key]).query(con).unwrap();
    assert!(value == model.bytes, "GET differs after {step}");
    for (start, end) in [
        (0i64, 10i64),
        (4090, 4200),
        (-5000, -1),
        (70_000, 70_100),
        (1, 0),
    ] {
        let got: Vec<u8> = redis::cmd("GETRANGE")
            .arg(key)
            .arg(start)
            .arg(end)
            .query(con)
            .unwrap();
        let n = model.bytes.len() as i64;
        let s = if start < 0 { (n + start).max(0) } else { start };
        let e = if end < 0 { n + end } else { end.min(n - 1) };
        let expected = if s > e || s >= n {
            Vec::new()
        } else {
            model.bytes[s as usize..=e as usize].to_vec()
        };
        assert_eq!(got, expected, "GETRANGE {start} {end} after {step}");
    }
    let ones: usize = model.bytes.iter().map(|b| b.count_ones() as usize).sum();
    let count: usize = cmd(&["BITCOUNT", key]).query(con).unwrap();
    assert_eq!(count, ones, "BITCOUNT after {step}");
}

#[test]
fn chunked_values_read_back_exactly_through_every_string_command() {
    let server = Server::start();
    let mut con = server.client();
    let mut model = Model { bytes: Vec::new() };
    // Grows from inline to chunked through APPEND, then is edited in place.
    let block: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
    for i in 0..9 {
        let len: usize = redis::cmd("APPEND")
            .arg("s")
            .arg(&block)
            .query(&mut con)
            .unwrap();
        model.bytes.extend_from_slice(&block);
        assert_eq!(len, model.bytes.len());
        check(&mut con, "s", &model, &format!("append {i}"));
    }
    for (offset, patch) in [
        (4095usize, &b"across-chunks"[..]),
        (0, b"head"),
        (89_990, b"past-the-end"),
    ] {
        let len: usize = redis::cmd("SETRANGE")
            .arg("s")
            .arg(offset)
            .arg(patch)
            .query(&mut con)
            .unwrap();
        model.setrange(offset, patch);
        assert_eq!(len, model.bytes.len());
        check(&mut con, "s", &model, &format!("setrange {offset}"));
    }
    for (bit, on) in [
        (7usize, true),
        (8 * 50_000 + 3, false),
        (8 * 120_000, true),
        (5, false),
    ] {
        let old: u8 = redis::cmd("SETBIT")
            .arg("s")
            .arg(bit)
            .arg(u8::from(on))
            .query(&mut con)
            .unwrap();
        assert_eq!(old, model.setbit(bit, on), "SETBIT {bit}");
        let now: u8 = redis::cmd("GETBIT")
            .arg("s")
            .arg(bit)
            .query(&mut con)
            .unwrap();
        assert_eq!(now, u8::from(on));
        check(&mut con, "s", &model, &format!("setbit {bit}"));
    }
    // Whole-value commands on a chunked value: SET replaces it, COPY/RENAME carry it.
    let _: () = cmd(&["COPY", "s", "copy"]).query(&mut con).unwrap();
    check(&mut con, "copy", &model, "copy");
    let _: () = cmd(&["RENAME", "copy", "renamed"]).query(&mut con).unwrap();
    check(&mut con, "renamed", &model, "rename");
    let _: () = redis::cmd("SETRANGE")
        .arg("renamed")
        .arg(0)
        .arg("X")
        .query(&mut con)
        .unwrap();
    check(&mut con, "s", &model, "the copy is independent");
    let _: () = cmd(&["SET", "s", "short again"]).query(&mut con).unwrap();
    let v: String = cmd(&["GET", "s"]).query(&mut con).unwrap();
    assert_eq!(v, "short again");
    let enc: String = cmd(&["OBJECT", "ENCODING", "renamed"])
        .query(&mut con)
        .unwrap();
    assert_eq!(enc, "raw");
}

#[test]
fn setbit_at_the_last_offset_of_a_512mb_bitmap() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start_in(dir.path(), &["--appendfsync", "always"]);
    let mut con = server.client();
    let last = (1u64 << 32) - 1;
    let old: u8 = redis::cmd("SETBIT")
        .arg("huge")
        .arg(last)
        .arg(1)
        .query(&mut con)
        .unwrap();
    assert_eq!(old, 0);
    let len: u64 = cmd(&["STRLEN", "huge"]).query(&mut con).unwrap();
    assert_eq!(len, 1 << 29);
    let bit: u8 = redis::cmd("GETBIT")
        .arg("huge")
        .arg(last)
        .query(&mut con)
        .unwrap();
    assert_eq!(bit, 1);
    let _: u8 = redis::cmd("SETBIT")
        .arg("huge")
        .arg(12345)
        .arg(1)
        .query(&mut con)
        .unwrap();
    let tail: Vec<u8> = redis::cmd("GETRANGE")
        .arg("huge")
        .arg(-1)
        .arg(-1)
        .query(&mut con)
        .unwrap();
    assert_eq!(tail, vec![1]);
    let first: i64 = cmd(&["BITPOS", "huge", "1"]).query(&mut con).unwrap();
    assert_eq!(first, 12345);
    // The sparse value is not materialised on disk: a handful of chunks, not 512 MB.
    server.kill9();
    let size: u64 = walkdir(dir.path());
    assert!(
        size < 64 << 20,
        "data dir holds {size} bytes for a 512 MB sparse bitmap"
    );
    let server = Server::start_in(dir.path(), &[]);
    let mut con = server.client();
    let bit: u8 = redis::cmd("GETBIT")
        .arg("huge")
        .arg(last)
        .query(&mut con)
        .unwrap();
    assert_eq!(bit, 1);
    let count: u64 = cmd(&["BITCOUNT", "huge"]).query(&mut con).unwrap();
    assert_eq!(count, 2);
}

fn walkdir(path: &std::path::Path) -> u64 {
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| {
                    let p = e.path();
                    if p.is_dir() {
                        walkdir(&p)
                    } else {
                        e.metadata().map_or(0, |m| m.len())
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}
