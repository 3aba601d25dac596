//! Pipelined runs of commands that share one engine write (`storage::deferred`): other
//! clients never see a half-applied run or lose an update to it, transactions and WATCH
//! still see every write, and what a pipeline had acknowledged survives `kill -9`.

use crate::harness::{Raw, Server, V};

fn int(v: V) -> i64 {
    match v {
        V::Int(n) => n,
        V::Bulk(b) => String::from_utf8_lossy(&b).parse().expect("integer"),
        other => panic!("not an integer: {other:?}"),
    }
}

/// Sends `commands` as one pipeline and returns the replies in order.
fn pipeline(raw: &mut Raw, commands: &[Vec<String>]) -> Vec<V> {
    let mut bytes = Vec::new();
    for c in commands {
        let args: Vec<&[u8]> = c.iter().map(|a| a.as_bytes()).collect();
        bytes.extend(Raw::encode(&args));
    }
    raw.send_bytes(&bytes);
    commands.iter().map(|_| raw.read()).collect()
}

fn command(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|p| p.to_string()).collect()
}

#[test]
fn concurrent_pipelines_and_transactions_lose_no_update() {
    let server = Server::start();
    const CLIENTS: i64 = 4;
    const ROUNDS: i64 = 150;
    std::thread::scope(|scope| {
        for client in 0..CLIENTS {
            let mut raw = server.raw();
            scope.spawn(move || {
                let own = format!("own{client}");
                for round in 0..ROUNDS {
                    // A run mixing writes and reads of shared keys and of a private one.
                    let commands = vec![
                        command(&["INCR", "a"]),
                        command(&["INCRBY", "b", "2"]),
                        command(&["GET", "a"]),
                        command(&["INCR", &own]),
                        command(&["INCR", "a"]),
                        command(&["GET", &own]),
                    ];
                    let replies = pipeline(&mut raw, &commands);
                    // Within a run our own writes are visible at once...
                    assert_eq!(int(replies[3].clone()), round + 1);
                    assert_eq!(int(replies[5].clone()), round + 1);
                    // ...and the shared counter only grows.
                    assert!(int(replies[4].clone()) > int(replies[2].clone()) - 1);
                }
            });
        }
        // Optimistic transactions on the same key: each EXEC either applies or is aborted
        // because a pipelined run touched `a` after the WATCH.
        let mut raw = server.raw();
        scope.spawn(move || {
            let mut applied = 0;
            while applied < 50 {
                raw.cmd(&["WATCH", "a"]);
                let seen = match raw.cmd(&["GET", "a"]) {
                    V::Nil => 0,
                    v => int(v),
                };
                raw.cmd(&["MULTI"]);
                raw.cmd(&["SET", "a", &(seen + 1000).to_string()]);
                if let V::Array(_) = raw.cmd(&["EXEC"]) {
                    applied += 1;
                }
            }
        });
    });
    let mut raw = server.raw();
    assert_eq!(
        int(raw.cmd(&["GET", "a"])),
        CLIENTS * ROUNDS * 2 + 50 * 1000
    );
    assert_eq!(int(raw.cmd(&["GET", "b"])), CLIENTS * ROUNDS * 2);
    for client in 0..CLIENTS {
        assert_eq!(int(raw.cmd(&["GET", &format!("own{client}")])), ROUNDS);
    }
    assert_eq!(int(raw.cmd(&["DBSIZE"])), 2 + CLIENTS);
}

#[test]
fn acknowledged_pipelined_writes_survive_kill9() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = Server::start_in(&data, &[]);
    let mut raw = server.raw();
    for round in 0..50 {
        let mut commands = Vec::new();
        for i in 0..40 {
            let key = format!("k{round}:{i}");
            commands.push(command(&["SET", &key, &format!("v{round}:{i}")]));
            commands.push(command(&["INCR", "total"]));
            if i % 10 == 0 {
                commands.push(command(&["DEL", &key]));
                commands.push(command(&["EXPIRE", "total", "1000"]));
            }
        }
        for reply in pipeline(&mut raw, &commands) {
            assert!(!matches!(reply, V::Error(_)), "{reply:?}");
        }
    }
    server.kill9();
    let server = Server::start_in(&data, &[]);
    let mut raw = server.raw();
    for round in 0..50 {
        for i in 0..40 {
            let expected = if i % 10 == 0 {
                V::Nil
            } else {
                V::bulk(&format!("v{round}:{i}"))
            };
            assert_eq!(raw.cmd(&["GET", &format!("k{round}:{i}")]), expected);
        }
    }
    assert_eq!(int(raw.cmd(&["GET", "total"])), 50 * 40);
    assert!(int(raw.cmd(&["TTL", "total"])) > 900);
    assert_eq!(int(raw.cmd(&["DBSIZE"])), 1 + 50 * 36);
}
