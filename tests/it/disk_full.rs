//! A full disk: writes fail with a clear error, the server stays up and keeps serving reads,
//! nothing acknowledged is lost, and writes work again once space is freed.
//!
//! The test mounts its own size-limited tmpfs; where mounting is not permitted (not root,
//! no `mount`), it is skipped with a message.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::harness::{eventually, Raw, Server, V};

struct TinyFs {
    dir: tempfile::TempDir,
}

impl TinyFs {
    fn mount(bytes: u64) -> Option<TinyFs> {
        let dir = tempfile::tempdir().ok()?;
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}")])
            .arg("tmpfs")
            .arg(dir.path())
            .status();
        match status {
            Ok(s) if s.success() => Some(TinyFs { dir }),
            other => {
                eprintln!("disk-full test skipped: cannot mount a tmpfs here ({other:?})");
                None
            }
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for TinyFs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// Incompressible bytes, so the filesystem fills at the rate we write.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn set(raw: &mut Raw, key: &str, value: &[u8]) -> V {
    raw.send_bytes(&Raw::encode(&[b"SET", key.as_bytes(), value]));
    raw.try_read()
        .unwrap_or(V::Error("connection closed".into()))
}

#[test]
fn a_full_disk_refuses_writes_keeps_reads_and_recovers_when_space_returns() {
    // RocksDB resumes writing once 64 MiB (a memtable's worth) are free again, so the
    // ballast freed later is bigger than that.
    let Some(fs) = TinyFs::mount(160 << 20) else {
        return;
    };
    let ballast: PathBuf = fs.path().join("ballast");
    std::fs::write(&ballast, noise(7, 100 << 20)).unwrap();
    let data = fs.path().join("data");
    let mut server = Server::start_in(&data, &["--appendfsync", "always", "--maxmemory", "64mb"]);

    // Fill the disk; every key that got +OK is acknowledged.
    let mut acked = Vec::new();
    let mut refusal = None;
    let mut raw = server.raw();
    for i in 0..2000u64 {
        let key = format!("k{i}");
        match set(&mut raw, &key, &noise(i, 100_000)) {
            V::Status(ok) if ok == "OK" => acked.push(i),
            V::Error(e) if e == "connection closed" => raw = server.raw(),
            V::Error(e) => {
                refusal = Some(e);
                break;
            }
            other => panic!("unexpected reply {other:?}"),
        }
    }
    let refusal = refusal.expect("the disk never filled up");
    assert!(
        refusal.starts_with("MISCONF") && refusal.contains("No space left on device"),
        "a clear error names the cause: {refusal}"
    );
    assert!(
        acked.len() > 50,
        "only {} writes before the disk was full",
        acked.len()
    );

    // The server is up, refuses further writes the same way and serves every acked key.
    let mut raw = server.raw();
    assert_eq!(raw.cmd(&["PING"]), V::Status("PONG".into()));
    assert!(matches!(set(&mut raw, "more", b"x"), V::Error(e) if e.starts_with("MISCONF")));
    for &i in acked.iter().step_by(7) {
        raw.send_bytes(&Raw::encode(&[b"GET", format!("k{i}").as_bytes()]));
        assert_eq!(
            raw.read(),
            V::Bulk(noise(i, 100_000)),
            "k{i} after the disk filled"
        );
    }
    let info = raw.cmd(&["INFO", "persistence"]).text();
    assert!(info.contains("aof_last_write_status:err"), "{info}");

    // Free space: writes come back without a restart.
    std::fs::remove_file(&ballast).unwrap();
    eventually("writes accepted again", Duration::from_secs(60), || {
        matches!(
            set(&mut server.raw(), "after", b"space returned"),
            V::Status(_)
        )
    });
    let mut raw = server.raw();
    assert!(raw
        .cmd(&["INFO", "persistence"])
        .text()
        .contains("aof_last_write_status:ok"));
    assert_eq!(raw.cmd(&["GET", "after"]), V::bulk("space returned"));

    // Nothing acknowledged was lost, across a crash too.
    server.kill9();
    let server = Server::start_in(&data, &[]);
    let mut raw = server.raw();
    for &i in &acked {
        raw.send_bytes(&Raw::encode(&[b"GET", format!("k{i}").as_bytes()]));
        assert_eq!(raw.read(), V::Bulk(noise(i, 100_000)), "k{i} after restart");
    }
    assert_eq!(raw.cmd(&["GET", "after"]), V::bulk("space returned"));
}

#[test]
fn pipelined_writes_that_hit_a_full_disk_are_each_answered() {
    // Small values stay inline, so a pipeline of them shares one engine write: the write
    // that fails is a whole run's (checked by hand: the log says "running its 4 commands one
    // by one"), and each of its commands must still get its own
    // answer (the run's replies are replaced by those of its commands run one by one), never
    // a closed connection.
    let Some(fs) = TinyFs::mount(160 << 20) else {
        return;
    };
    std::fs::write(fs.path().join("ballast"), noise(7, 100 << 20)).unwrap();
    let data = fs.path().join("data");
    let mut server = Server::start_in(&data, &["--maxmemory", "64mb"]);
    let mut raw = server.raw();
    let mut acked = Vec::new();
    let mut refusals = 0;
    for round in 0..4000u64 {
        let mut pipeline = Vec::new();
        for j in 0..32 {
            let i = round * 32 + j;
            pipeline.extend(Raw::encode(&[
                b"SET",
                format!("p{i}").as_bytes(),
                &noise(i, 4_000),
            ]));
        }
        raw.send_bytes(&pipeline);
        for j in 0..32 {
            match raw.try_read() {
                Some(V::Status(ok)) if ok == "OK" => acked.push(round * 32 + j),
                Some(V::Error(e)) if e.starts_with("MISCONF") => refusals += 1,
                other => panic!("pipelined SET {j} of round {round}: {other:?}"),
            }
        }
        if refusals > 0 {
            break;
        }
    }
    assert!(refusals > 0, "the disk never filled up");
    assert!(acked.len() > 50, "only {} writes acknowledged", acked.len());
    assert_eq!(raw.cmd(&["PING"]), V::Status("PONG".into()));

    // Every acknowledged write survives a crash.
    server.kill9();
    std::fs::remove_file(fs.path().join("ballast")).unwrap();
    let server = Server::start_in(&data, &[]);
    let mut raw = server.raw();
    for &i in &acked {
        raw.send_bytes(&Raw::encode(&[b"GET", format!("p{i}").as_bytes()]));
        assert_eq!(raw.read(), V::Bulk(noise(i, 4_000)), "p{i} after restart");
    }
}
