//! Criterion micro-benchmarks of the hot path's pieces: RESP parsing and encoding, key
//! encoding, typed storage operations on a temporary RocksDB, and the dispatch gate with
//! and without an ACL check. Run with `cargo bench`.

use std::hint::black_box;

use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, Criterion};

use strata::protocol::{parse_command, Limits, Reply};
use strata::storage::encoding::{meta_key, sub_key, KeyType, Meta};
use strata::storage::engine::EngineOptions;
use strata::storage::types::string::{SetCondition, TtlChange};
use strata::storage::Storage;

fn resp(c: &mut Criterion) {
    let frame = b"*3\r\n$3\r\nSET\r\n$16\r\nkey:000000001234\r\n$64\r\nxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n";
    c.bench_function("resp/parse_set", |b| {
        b.iter(|| {
            let mut buf = BytesMut::from(&frame[..]);
            black_box(parse_command(&mut buf, Limits::default()).unwrap());
        })
    });
    let mut pipeline = Vec::new();
    for _ in 0..16 {
        pipeline.extend_from_slice(frame);
    }
    c.bench_function("resp/parse_pipeline_16", |b| {
        b.iter(|| {
            let mut buf = BytesMut::from(&pipeline[..]);
            while let Some(args) = parse_command(&mut buf, Limits::default()).unwrap() {
                black_box(args);
            }
        })
    });
    let reply = Reply::Array((0..10).map(|i| Reply::bulk(format!("value-{i}"))).collect());
    c.bench_function("resp/encode_array_10", |b| {
        let mut out = BytesMut::with_capacity(4096);
        b.iter(|| {
            out.clear();
            reply.encode(&mut out, false);
            black_box(&out);
        })
    });
}

fn encoding(c: &mut Criterion) {
    c.bench_function("encoding/meta_key", |b| {
        b.iter(|| black_box(meta_key(3, black_box(b"user:1000:profile"))))
    });
    c.bench_function("encoding/sub_key", |b| {
        b.iter(|| {
            black_box(sub_key(
                3,
                black_box(b"user:1000:profile"),
                42,
                black_box(b"field"),
            ))
        })
    });
    let meta = Meta {
        chunked: false,
        kind: KeyType::String,
        expire_ms: 0,
        body: vec![b'x'; 64],
    };
    let raw = meta.encode();
    c.bench_function("encoding/meta_decode", |b| {
        b.iter(|| black_box(Meta::decode(black_box(&raw)).unwrap()))
    });
}

fn storage(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let st = Storage::open(dir.path(), 16, &EngineOptions::default()).unwrap();
    let value = vec![b'v'; 64];
    for i in 0..10_000 {
        let key = format!("key:{i}");
        st.set_string(
            0,
            key.as_bytes(),
            &value,
            SetCondition::Always,
            TtlChange::Clear,
            false,
        )
        .unwrap();
    }
    let mut i = 0u64;
    c.bench_function("storage/set_string", |b| {
        b.iter(|| {
            i += 1;
            let key = format!("key:{}", i % 10_000);
            st.set_string(
                0,
                key.as_bytes(),
                &value,
                SetCondition::Always,
                TtlChange::Clear,
                false,
            )
            .unwrap();
        })
    });
    c.bench_function("storage/get_string", |b| {
        b.iter(|| {
            i += 1;
            let key = format!("key:{}", i % 10_000);
            black_box(st.get_string(0, key.as_bytes()).unwrap());
        })
    });
    c.bench_function("storage/hset_hget", |b| {
        b.iter(|| {
            i += 1;
            let field = format!("f{}", i % 100);
            st.hset(0, b"bench:hash", &[(field.as_bytes(), b"v")], false)
                .unwrap();
            black_box(st.hget(0, b"bench:hash", field.as_bytes()).unwrap());
        })
    });
}

/// GET and SET through the whole dispatch gate as the unrestricted default user and as a
/// user whose every command is checked (all commands but the dangerous ones, keys
/// `key:*`): the difference is the ACL check's cost per command, without the network.
fn acl_gate(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(dir.path(), 16, &EngineOptions::default()).unwrap();
    let config = strata::config::ConfigStore::load(None, &[]).unwrap();
    let state = strata::state::ServerState::new(storage, config);
    let rules: [&[u8]; 6] = [b"on", b">pw", b"+@all", b"-@dangerous", b"~key:*", b"&*"];
    state.acl.set_user(b"bench", &rules).unwrap();
    let args = |list: &[&str]| -> Vec<bytes::Bytes> {
        list.iter()
            .map(|a| bytes::Bytes::copy_from_slice(a.as_bytes()))
            .collect()
    };
    let get = args(&["GET", "key:1"]);
    let set = args(&["SET", "key:1", "value"]);
    // Both users read the same existing key (a missing one is cheaper to look up).
    state
        .storage
        .set_string(
            0,
            b"key:1",
            b"value",
            SetCondition::Always,
            TtlChange::Clear,
            false,
        )
        .unwrap();
    let mut clients: Vec<_> = [
        ("default", state.acl.default_user()),
        ("restricted", state.acl.user(b"bench").unwrap()),
    ]
    .into_iter()
    .map(|(who, user)| {
        let info = state
            .clients
            .register("bench".into(), "bench".into(), user.clone());
        (who, strata::client::ClientState::new(info, true, user))
    })
    .collect();
    // The check alone, as the gate runs it for the restricted user's GET and SET.
    let bench_user = state.acl.user(b"bench").unwrap();
    let rules = bench_user.rules();
    for (name, command) in [("get", &get), ("set", &set)] {
        let (cmd, full_name) = strata::commands::dispatch::resolve(&state, command).unwrap();
        let facts = state.commands.acl_facts(full_name).unwrap();
        c.bench_function(&format!("acl/check_{name}"), |b| {
            b.iter(|| {
                black_box(strata::commands::permissions::denial(
                    &state,
                    &rules,
                    cmd,
                    (full_name, facts),
                    command,
                ))
            })
        });
    }
    // All GETs before any SET: the SETs' writes pile up versions of the key, which makes
    // later reads slower whoever the user is.
    for (command, name) in [(&get, "get"), (&set, "set")] {
        for (who, client) in clients.iter_mut() {
            c.bench_function(&format!("gate/{name}_{who}"), |b| {
                b.iter(|| black_box(strata::commands::dispatch::execute(&state, client, command)))
            });
        }
    }
}

/// SETBIT at random offsets of dense bitmaps from 1 KiB to 64 MiB: with chunked long
/// strings the cost is one chunk read and written, whatever the bitmap's size.
fn bitmap(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let st = Storage::open(dir.path(), 16, &EngineOptions::default()).unwrap();
    let max = usize::MAX;
    let block = vec![0xAAu8; 1 << 20];
    for (name, size) in [
        ("1KiB", 1usize << 10),
        ("1MiB", 1 << 20),
        ("16MiB", 16 << 20),
        ("64MiB", 64 << 20),
    ] {
        let key = format!("bitmap:{name}");
        let mut offset = 0;
        while offset < size {
            let n = block.len().min(size - offset);
            st.set_range_string(0, key.as_bytes(), offset, &block[..n], max)
                .unwrap();
            offset += n;
        }
        let bits = (size * 8) as u64;
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        c.bench_function(&format!("bitmap/setbit_random/{name}"), |b| {
            b.iter(|| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                black_box(
                    st.setbit(0, key.as_bytes(), x % bits, x & 1 == 1, max)
                        .unwrap(),
                );
            })
        });
    }
}

criterion_group!(benches, resp, encoding, storage, acl_gate, bitmap);
criterion_main!(benches);
