//! SAVE/BGSAVE checkpoints and the `strata checkpoint` CLI: online point-in-time copies,
//! restore, verify (including detected corruption), list, retention.

use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::harness::{eventually, Raw, Server, V};

fn strata(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(args)
        .output()
        .expect("run strata")
}

fn checkpoints(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir.join("checkpoints"))
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn save_bgsave_lastsave_and_retention() {
    let s = Server::start();
    let mut r = s.raw();
    r.cmd(&["SET", "k", "v"]);
    assert!(r
        .cmd(&["INFO", "persistence"])
        .text()
        .contains("rdb_changes_since_last_save:1"));
    assert_eq!(r.cmd(&["SAVE"]), V::Status("OK".into()));
    let info = r.cmd(&["INFO", "persistence"]).text();
    assert!(
        info.contains("rdb_changes_since_last_save:0")
            && info.contains("rdb_last_bgsave_status:ok"),
        "{info}"
    );
    assert_eq!(checkpoints(&s.dir).len(), 1);
    assert_eq!(
        r.cmd(&["BGSAVE"]),
        V::Status("Background saving started".into())
    );
    eventually("bgsave done", Duration::from_secs(30), || {
        s.raw()
            .cmd(&["INFO", "persistence"])
            .text()
            .contains("rdb_bgsave_in_progress:0")
    });
    assert_eq!(checkpoints(&s.dir).len(), 2);
    assert_eq!(r.err(&["BGSAVE", "FOO"]), "ERR syntax error");
    r.cmd(&["CONFIG", "SET", "checkpoint-retain", "2"]);
    for _ in 0..3 {
        assert_eq!(r.cmd(&["SAVE"]), V::Status("OK".into()));
    }
    assert_eq!(
        checkpoints(&s.dir).len(),
        2,
        "only the newest checkpoint-retain are kept"
    );
    let V::Int(last) = r.cmd(&["LASTSAVE"]) else {
        panic!()
    };
    assert!(last > 0);
    assert_eq!(
        r.cmd(&["BGREWRITEAOF"]),
        V::Status("Background append only file rewriting started".into())
    );
    let out = strata(&["checkpoint", "list", "--dir", s.dir.to_str().unwrap()]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 2);
}

#[test]
fn online_checkpoint_is_a_point_in_time_copy_that_restores() {
    let s = Server::start();
    let acked = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicU64::new(0));
    let writer = {
        let (addr, acked, stop) = (s.addr.clone(), acked.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut r = Raw::connect(&addr);
            let mut i = 0u64;
            while stop.load(Ordering::SeqCst) == 0 || i < 200 {
                assert_eq!(
                    r.cmd(&["SET", &format!("seq:{i}"), &i.to_string()]),
                    V::Status("OK".into())
                );
                i += 1;
                acked.store(i, Ordering::SeqCst);
            }
        })
    };
    eventually("writer started", Duration::from_secs(10), || {
        acked.load(Ordering::SeqCst) > 100
    });
    let tmp = tempfile::tempdir().unwrap();
    let cp = tmp.path().join("cp");
    let before = acked.load(Ordering::SeqCst);
    let out = strata(&[
        "checkpoint",
        "create",
        "--url",
        &format!("redis://{}", s.addr),
        "--to",
        cp.to_str().unwrap(),
    ]);
    let after = acked.load(Ordering::SeqCst);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("sequence"));
    stop.store(1, Ordering::SeqCst);
    writer.join().unwrap();

    let restored = tmp.path().join("restored");
    let out = strata(&[
        "checkpoint",
        "restore",
        cp.to_str().unwrap(),
        "--dir",
        restored.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let copy = Server::start_in(&restored, &[]);
    let mut r = copy.raw();
    let V::Int(n) = r.cmd(&["DBSIZE"]) else {
        panic!()
    };
    let n = n as u64;
    // Every write acknowledged before the checkpoint began is in it; nothing acknowledged
    // after it ended is; and what it holds is a prefix of the writer's sequence.
    assert!(
        n >= before && n <= after + 1,
        "before {before} <= copy {n} <= after {after}"
    );
    assert_eq!(
        r.cmd(&["GET", &format!("seq:{}", n - 1)]),
        V::bulk(&(n - 1).to_string())
    );
    assert_eq!(r.cmd(&["EXISTS", &format!("seq:{n}")]), V::Int(0));
    assert_eq!(r.cmd(&["GET", "seq:0"]), V::bulk("0"));

    // Restore refuses a non-empty or live data directory.
    let out = strata(&[
        "checkpoint",
        "restore",
        cp.to_str().unwrap(),
        "--dir",
        restored.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("in use"));
}

#[test]
fn verify_reports_counts_and_detects_corruption() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let mut s = Server::start_in(&dir, &[]);
    let mut r = s.raw();
    for i in 0..2000 {
        r.cmd(&["SET", &format!("k{i}"), &"x".repeat(100)]);
    }
    r.cmd(&["HSET", "h", "a", "1", "b", "2"]);
    r.cmd(&["SELECT", "2"]);
    r.cmd(&["ZADD", "z", "1", "m"]);
    s.terminate();

    let cp = tmp.path().join("cp");
    let out = strata(&[
        "checkpoint",
        "create",
        "--dir",
        dir.to_str().unwrap(),
        "--to",
        cp.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = strata(&["checkpoint", "verify", cp.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("db 0: 2000 string keys")
            && text.contains("db 0: 1 hash keys")
            && text.contains("db 2: 1 zset keys"),
        "{text}"
    );

    // Flip bytes in the middle of every SST file of a copy: verify must fail.
    let broken = tmp.path().join("broken");
    std::fs::create_dir_all(&broken).unwrap();
    for entry in std::fs::read_dir(&cp).unwrap() {
        let entry = entry.unwrap();
        let mut bytes = std::fs::read(entry.path()).unwrap();
        if entry.file_name().to_string_lossy().ends_with(".sst") && bytes.len() > 64 {
            let mid = bytes.len() / 3;
            for b in &mut bytes[mid..mid + 16] {
                *b ^= 0xFF;
            }
        }
        std::fs::write(broken.join(entry.file_name()), bytes).unwrap();
    }
    let out = strata(&["checkpoint", "verify", broken.to_str().unwrap()]);
    assert!(!out.status.success(), "corruption must be detected");
    assert!(String::from_utf8_lossy(&out.stderr).contains("CORRUPT"));

    // Offline create refuses a data directory a server is running on.
    let s = Server::start_in(&dir, &[]);
    let out = strata(&["checkpoint", "create", "--dir", dir.to_str().unwrap()]);
    assert!(!out.status.success());
    drop(s);
}

#[test]
fn export_import_round_trip_and_damaged_archives_are_refused() {
    let s = Server::start();
    let mut r = s.raw();
    for i in 0..500 {
        r.cmd(&["SET", &format!("k{i}"), &i.to_string()]);
    }
    r.cmd(&["RPUSH", "list", "a", "b", "c"]);
    let tmp = tempfile::tempdir().unwrap();
    let cp = tmp.path().join("cp");
    let V::Array(parts) = r.cmd(&["STRATA.CHECKPOINT", "TO", cp.to_str().unwrap()]) else {
        panic!()
    };
    assert_eq!(parts[0], V::bulk(cp.to_str().unwrap()));
    let archive = tmp.path().join("backup.tar.zst");
    let out = strata(&[
        "checkpoint",
        "export",
        cp.to_str().unwrap(),
        "--to",
        archive.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let imported = tmp.path().join("imported");
    let out = strata(&[
        "checkpoint",
        "import",
        archive.to_str().unwrap(),
        "--dir",
        imported.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let copy = Server::start_in(&imported, &[]);
    let mut c = copy.raw();
    assert_eq!(c.cmd(&["DBSIZE"]), V::Int(501));
    assert_eq!(c.cmd(&["GET", "k499"]), V::bulk("499"));
    assert_eq!(
        c.cmd(&["LRANGE", "list", "0", "-1"]),
        V::Array(vec![V::bulk("a"), V::bulk("b"), V::bulk("c")])
    );

    // Damage in the middle, and in the last bytes (zstd's checksum, after tar's end marker).
    let original = std::fs::read(&archive).unwrap();
    for at in [original.len() / 2, original.len() - 2] {
        let mut bytes = original.clone();
        bytes[at] ^= 0xFF;
        let damaged = tmp.path().join(format!("damaged-{at}.tar.zst"));
        std::fs::write(&damaged, bytes).unwrap();
        let elsewhere = tmp.path().join(format!("elsewhere-{at}"));
        let out = strata(&[
            "checkpoint",
            "import",
            damaged.to_str().unwrap(),
            "--dir",
            elsewhere.to_str().unwrap(),
        ]);
        assert!(
            !out.status.success(),
            "an archive damaged at byte {at} must be refused"
        );
        assert!(
            !elsewhere.join("db").join("CURRENT").exists(),
            "nothing is left behind"
        );
    }
}

#[test]
fn shutdown_save_leaves_a_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let mut s = Server::start_in(&dir, &[]);
    let mut r = s.raw();
    r.cmd(&["SET", "k", "v"]);
    r.send_bytes(b"SHUTDOWN SAVE\r\n");
    assert!(r.is_closed());
    assert!(s.wait_exit().expect("exited").success());
    let cps = checkpoints(&dir);
    assert_eq!(cps.len(), 1);
    let out = strata(&["checkpoint", "verify", cps[0].to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("db 0: 1 string keys"));
}
