//! Shared by the fuzz targets that run commands: one server state on a temporary database
//! (built as `main.rs` builds it, minus the network), a fresh client per input, commands
//! through the real dispatch gate, every reply encoded in RESP2 and RESP3 and checked to be
//! well-formed RESP, and the database, scripts and functions reset after each input so a
//! crash reproduces from its input alone.

#![allow(dead_code)]

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use strata::client::ClientState;
use strata::commands::dispatch::execute;
use strata::config::ConfigStore;
use strata::protocol::Reply;
use strata::state::ServerState;
use strata::storage::engine::EngineOptions;
use strata::storage::Storage;

pub struct Harness {
    pub rt: tokio::runtime::Runtime,
    pub state: Arc<ServerState>,
    _dir: tempfile::TempDir,
}

pub fn harness() -> &'static Harness {
    static H: OnceLock<Harness> = OnceLock::new();
    H.get_or_init(build)
}

fn build() -> Harness {
    let dir = tempfile::tempdir().expect("temporary directory");
    let overrides: Vec<(String, String)> = [
        ("dir", dir.path().display().to_string()),
        // A script running this long gets SCRIPT KILL from the killer thread below.
        ("busy-reply-threshold", "200".to_string()),
        ("loglevel", "warning".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let config = ConfigStore::load(None, &overrides).expect("configuration");
    let opts = EngineOptions {
        block_cache_bytes: 16 << 20,
        write_buffer_bytes: 8 << 20,
        wal_enabled: false,
        ..EngineOptions::default()
    };
    let storage = Storage::open(dir.path(), 16, &opts).expect("storage");
    let state = Arc::new(ServerState::new(storage, config));
    state.set_self();
    for name in [
        "appendfsync",
        "notify-keyspace-events",
        "maxmemory",
        "busy-reply-threshold",
    ] {
        state.apply_config_change(name);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let killer_state = state.clone();
    std::thread::Builder::new()
        .name("script-killer".into())
        .spawn(move || script_killer(killer_state))
        .expect("killer thread");
    Harness {
        rt,
        state,
        _dir: dir,
    }
}

/// A fuzzed script may loop for ever (as it may in Redis); kill it as an operator would.
fn script_killer(state: Arc<ServerState>) {
    let mut session = Session::new(&state);
    loop {
        std::thread::sleep(Duration::from_millis(50));
        if state.scripting.running_for_ms().is_some_and(|ms| ms > 300) {
            for cmd in [&["SCRIPT", "KILL"][..], &["FUNCTION", "KILL"][..]] {
                let args: Vec<Bytes> = cmd
                    .iter()
                    .map(|a| Bytes::from_static(a.as_bytes()))
                    .collect();
                let _ = execute(&state, &mut session.client, &args);
            }
        }
    }
}

/// One client, released as the server releases a closed connection's.
pub struct Session {
    pub client: ClientState,
    _messages: tokio::sync::mpsc::Receiver<strata::pubsub::PubMessage>,
}

impl Session {
    pub fn new(state: &ServerState) -> Session {
        let user = state.acl.default_user();
        let info = state.clients.register(
            "127.0.0.1:1".into(),
            "127.0.0.1:6379".into(),
            user.clone(),
        );
        let mut client = ClientState::new(info, true, user);
        let (tx, rx) = tokio::sync::mpsc::channel(1024);
        client.pubsub_queue = Some(tx);
        Session {
            client,
            _messages: rx,
        }
    }

    pub fn close(mut self, state: &ServerState) {
        state.blocking.unregister(&self.client.info);
        strata::commands::txn::unwatch_all(state, &mut self.client);
        strata::commands::pubsub::unsubscribe_all(state, &mut self.client);
        state.clients.unregister(self.client.info.id);
    }
}

/// Commands a fuzz input may not run: they stop the process, write checkpoints to disk,
/// wait on replicas, or change settings that would outlive the input.
fn denied(args: &[Bytes]) -> bool {
    let name = args[0].to_ascii_lowercase();
    let sub = args
        .get(1)
        .map(|s| s.to_ascii_lowercase())
        .unwrap_or_default();
    match name.as_slice() {
        b"shutdown" | b"debug" | b"monitor" | b"sync" | b"psync" | b"replicaof" | b"slaveof"
        | b"failover" | b"save" | b"bgsave" | b"bgrewriteaof" | b"migrate" | b"module"
        | b"strata.checkpoint" => true,
        b"config" => sub != b"get" && sub != b"help",
        b"client" => matches!(sub.as_slice(), b"kill" | b"pause"),
        _ => false,
    }
}

/// Requests Redis also honours at a legitimately enormous cost, which would only show up as
/// timeouts and out-of-memory reports: a bit or byte offset that makes a 512 MB string
/// (SETBIT at 2^32-1, SETRANGE at 500 MB, BITFIELD), or a negative count that asks
/// SRANDMEMBER / ZRANDMEMBER / HRANDFIELD for billions of replies. Out-of-range values (that
/// must be refused) still go through.
fn legit_but_huge(args: &[Bytes]) -> bool {
    let name = args[0].to_ascii_lowercase();
    let int = |a: &Bytes| -> Option<i128> {
        let t = std::str::from_utf8(a).ok()?;
        t.trim_start_matches('#').parse::<i128>().ok()
    };
    match name.as_slice() {
        b"setbit" | b"setrange" | b"bitfield" | b"bitfield_ro" | b"getbit" => args
            .get(2..)
            .unwrap_or_default()
            .iter()
            .filter_map(int)
            .any(|n| (1 << 23..1 << 33).contains(&n)),
        b"srandmember" | b"zrandmember" | b"hrandfield" => args
            .get(2)
            .and_then(int)
            .is_some_and(|n| n < -(1 << 20) && n > i64::MIN as i128),
        _ => false,
    }
}

/// Runs `commands` through the dispatch gate as one client would send them, then resets.
pub fn run_commands(commands: &[Vec<Bytes>]) {
    let h = harness();
    let _rt = h.rt.enter();
    let state = &*h.state;
    let mut session = Session::new(state);
    let mut out = BytesMut::new();
    for args in commands.iter().take(64) {
        if args.is_empty() || denied(args) || legit_but_huge(args) {
            continue;
        }
        let reply = execute(state, &mut session.client, args);
        check_reply(&reply, &mut out);
        // A blocking command that found nothing parked the client: time out at once.
        if session.client.block.take().is_some() {
            state.blocking.unregister(&session.client.info);
        }
        if session.client.close_now {
            break;
        }
    }
    session.close(state);
    reset(state);
}

/// Empties every database and the script and function caches.
///
/// FLUSHALL only when a database holds keys: each one leaves range tombstones in the
/// memtable that every later read walks, so flushing after every input made the target
/// slower and slower. Every so often the memtables are flushed and compacted away.
pub fn reset(state: &ServerState) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static FLUSHES: AtomicU64 = AtomicU64::new(0);
    let mut admin = Session::new(state);
    let dirty = (0..16).any(|db| state.storage.key_count(db) != 0);
    let mut cmds: Vec<&[&str]> = vec![&["SCRIPT", "FLUSH"][..], &["FUNCTION", "FLUSH", "SYNC"][..]];
    if dirty {
        cmds.push(&["FLUSHALL", "SYNC"][..]);
        if FLUSHES.fetch_add(1, Ordering::Relaxed) % 256 == 255 {
            let _ = state.storage.engine().flush_memtables();
            let _ = state.storage.engine().compact_all();
        }
    }
    for cmd in cmds {
        let args: Vec<Bytes> = cmd
            .iter()
            .map(|a| Bytes::from_static(a.as_bytes()))
            .collect();
        let reply = execute(state, &mut admin.client, &args);
        assert!(!reply.is_error(), "{cmd:?} failed: {reply:?}");
    }
    admin.close(state);
}

/// Encodes a reply in RESP2 and RESP3 and checks that the bytes are well-formed RESP: a
/// reply that breaks the framing (a bulk whose length lies, an error text with a CRLF in
/// it) desynchronises every later reply on the connection.
pub fn check_reply(reply: &Reply, out: &mut BytesMut) {
    for resp3 in [false, true] {
        out.clear();
        reply.encode(out, resp3);
        // SUBSCRIBE-family replies are several frames; inside EXEC's array the first one
        // counts as the command's reply and the rest follow it, byte for byte what
        // redis-server 7.0 sends for `MULTI / SUBSCRIBE a b / EXEC`.
        let multi = match reply {
            Reply::Multi(_) => true,
            Reply::Array(items) => items.iter().any(|i| matches!(i, Reply::Multi(_))),
            _ => false,
        };
        if let Err(e) = check_frames(out, multi) {
            panic!(
                "malformed RESP{} reply ({e}): {:?}",
                if resp3 { 3 } else { 2 },
                reply
            );
        }
    }
}

fn check_frames(buf: &[u8], several: bool) -> Result<(), String> {
    let mut pos = 0;
    let mut frames = 0;
    while pos < buf.len() {
        pos = check_value(buf, pos)?;
        frames += 1;
    }
    if frames == 0 && !several {
        return Err("empty reply".into());
    }
    if frames > 1 && !several {
        return Err(format!("{frames} frames for one reply"));
    }
    Ok(())
}

fn line(buf: &[u8], pos: usize) -> Result<(&[u8], usize), String> {
    let rest = &buf[pos..];
    let end = rest
        .windows(2)
        .position(|w| w == b"\r\n")
        .ok_or_else(|| format!("no CRLF after offset {pos}"))?;
    let body = &rest[..end];
    if body.contains(&b'\r') || body.contains(&b'\n') {
        return Err(format!("CR or LF inside a line at offset {pos}"));
    }
    Ok((body, pos + end + 2))
}

fn int(body: &[u8]) -> Result<i64, String> {
    std::str::from_utf8(body)
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .ok_or_else(|| format!("bad length or integer {:?}", String::from_utf8_lossy(body)))
}

/// Checks one value starting at `pos` (iteratively: nesting can be deep); returns its end.
fn check_value(buf: &[u8], mut pos: usize) -> Result<usize, String> {
    let mut pending: u64 = 1;
    while pending > 0 {
        pending -= 1;
        let Some(&t) = buf.get(pos) else {
            return Err("truncated reply".into());
        };
        let (body, next) = line(buf, pos + 1)?;
        pos = next;
        match t {
            b'+' | b'-' | b'_' | b'#' => {}
            b':' | b'(' => {
                if t == b':' {
                    int(body)?;
                }
            }
            b',' => {
                std::str::from_utf8(body).map_err(|_| "non-UTF-8 double".to_string())?;
            }
            b'$' | b'=' | b'!' => {
                let n = int(body)?;
                if n >= 0 {
                    let end = pos + n as usize;
                    if buf.get(end..end + 2) != Some(b"\r\n") {
                        return Err(format!(
                            "bulk of {n} bytes at offset {pos} has no CRLF after it"
                        ));
                    }
                    pos = end + 2;
                } else if n != -1 {
                    return Err(format!("bulk length {n}"));
                }
            }
            b'*' | b'~' | b'>' => {
                let n = int(body)?;
                if n >= 0 {
                    pending += n as u64;
                } else if n != -1 {
                    return Err(format!("array length {n}"));
                }
            }
            b'%' | b'|' => {
                let n = int(body)?;
                if n < 0 {
                    return Err(format!("map length {n}"));
                }
                pending += 2 * n as u64;
            }
            other => return Err(format!("type byte {:?} at offset {}", other as char, pos)),
        }
    }
    Ok(pos)
}

/// Splits fuzz input into commands: a RESP stream when it starts with `*`, otherwise lines
/// in the inline grammar (`SET "a b" \x00`), which keeps the seed corpus readable.
pub fn commands_from(data: &[u8]) -> Vec<Vec<Bytes>> {
    let mut out = Vec::new();
    if data.first() == Some(&b'*') {
        let mut buf = BytesMut::from(data);
        let mut parser = strata::protocol::RequestParser::default();
        while let Ok(Some(args)) = parser.parse(&mut buf, strata::protocol::Limits::default()) {
            out.push(args);
            if out.len() >= 64 {
                break;
            }
        }
        return out;
    }
    for line in data.split(|&b| b == b'\n').take(64) {
        let args = strata::protocol::split_args(line).unwrap_or_else(|| {
            line.split(|&b| b == b' ')
                .filter(|a| !a.is_empty())
                .map(|a| a.to_vec())
                .collect()
        });
        if !args.is_empty() {
            out.push(args.into_iter().map(Bytes::from).collect());
        }
    }
    out
}
