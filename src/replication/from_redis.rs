//! Replicating a real `redis-server` over Redis's own protocol, for live migration: after
//! the handshake the link sends `PSYNC`, receives `+FULLRESYNC <replid> <offset>` and an
//! RDB (disk-based transfer, `$<len>` then the bytes), loads it, then applies the command
//! stream through the dispatch gate as Redis's master client does, acknowledging with
//! `REPLCONF ACK <offset>` every second and whenever the primary sends `GETACK`.
//!
//! Offsets are the Redis primary's byte offsets: the one `FULLRESYNC` names, advanced by
//! the bytes of each command applied. After a dropped link the replica asks for
//! `PSYNC <replid> <offset+1>` and continues on `+CONTINUE`; a restart forgets the
//! position (it is in memory only), so the next link takes a full copy.
//!
//! While this link is active the engine is not in follower mode (the commands are local
//! writes on the primary's behalf); clients' writes are refused by the gate through
//! `Replication::follows_redis`. The RDB is staged in a temporary file of the data
//! directory, then imported on a blocking thread, with `-LOADING` for clients meanwhile.
//! Depends on `rdb_dataset`, the dispatch gate and the parent module's state.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncBufRead, AsyncReadExt, AsyncWriteExt};

use super::replica::{line, send, Link};
use super::{LinkState, Role};
use crate::client::ClientState;
use crate::commands::dispatch::{execute, off_worker};
use crate::protocol::resp::{Limits, RequestParser};
use crate::state::ServerState;
use crate::storage::now_ms;

/// Longest `INFO server` reply read while telling Redis from Strata.
const MAX_INFO: usize = 1 << 20;

/// Reads the body of a bulk reply whose `$<len>` line was read (and its CRLF).
async fn read_bulk_body(link: &mut Link, len: usize, timeout: Duration) -> Result<Vec<u8>, String> {
    let mut body = vec![0u8; len + 2];
    tokio::time::timeout(timeout, link.read_exact(&mut body))
        .await
        .map_err(|_| "timeout".to_string())?
        .map_err(|e| e.to_string())?;
    body.truncate(len);
    Ok(body)
}

/// Sends `INFO server` and reports whether the peer is a `redis-server` (no
/// `strata_version` field).
pub async fn is_redis(link: &mut Link, timeout: Duration) -> Result<bool, String> {
    send(link, &[b"INFO", b"server"]).await?;
    let header = line(link, timeout).await?;
    // A replication user without `+info` (as Sentinel set-ups often have): such a user
    // on Redis would not get this far either way, so the peer is taken to be Strata.
    if header.starts_with('-') {
        return Ok(false);
    }
    let len: usize = header
        .strip_prefix('$')
        .and_then(|n| n.parse().ok())
        .filter(|&n| n <= MAX_INFO)
        .ok_or_else(|| format!("INFO: {header}"))?;
    let body = read_bulk_body(link, len, timeout).await?;
    let text = String::from_utf8_lossy(&body);
    Ok(text.contains("redis_version:") && !text.contains("strata_version:"))
}

/// The replication session with a Redis primary, until the link fails or the role changes.
pub async fn session(
    state: &Arc<ServerState>,
    generation: u64,
    link: &mut Link,
    timeout: Duration,
) -> Result<(), String> {
    let repl = &state.replication;
    {
        // No local write may be in flight while the engine's mode changes.
        let _exclusive = off_worker(|| state.storage.global.write());
        repl.set_follows_redis(&state.storage, true);
    }
    let resume = repl.redis_replid.lock().clone();
    let (replid, next) = match &resume {
        Some(id) => (id.clone(), (repl.offset(&state.storage) + 1).to_string()),
        None => ("?".to_string(), "-1".to_string()),
    };
    send(link, &[b"PSYNC", replid.as_bytes(), next.as_bytes()]).await?;
    let reply = line(link, timeout).await?;
    let mut words = reply.split_whitespace();
    match words.next() {
        Some("+FULLRESYNC") => {
            let id = words.next().ok_or("FULLRESYNC without replid")?.to_string();
            let offset: u64 = words
                .next()
                .and_then(|w| w.parse().ok())
                .ok_or("FULLRESYNC without offset")?;
            repl.set_link_state(LinkState::Sync);
            load_rdb(state, generation, link, timeout).await?;
            repl.set_redis_offset(offset);
            *repl.redis_replid.lock() = Some(id);
            repl.stats.sync_full.fetch_add(1, Ordering::Relaxed);
        }
        Some("+CONTINUE") => {
            if let Some(id) = words.next() {
                *repl.redis_replid.lock() = Some(id.to_string());
            }
            tracing::info!("replication from redis-server continues at offset {next}");
        }
        _ => return Err(format!("PSYNC: {reply}")),
    }
    repl.set_link_state(LinkState::Connected);
    repl.last_io_ms.store(now_ms(), Ordering::Relaxed);
    apply_stream(state, generation, link, timeout).await
}

/// Receives the RDB of a full resync into a temporary file and loads it in place of the
/// whole dataset.
async fn load_rdb(
    state: &Arc<ServerState>,
    generation: u64,
    link: &mut Link,
    timeout: Duration,
) -> Result<(), String> {
    let repl = &state.replication;
    // Newlines are keep-alives while the primary writes its RDB; `line` skips them.
    let header = line(link, Duration::from_secs(3600).max(timeout)).await?;
    let len: u64 = match header.strip_prefix('$') {
        Some(n) if n.starts_with("EOF:") => {
            return Err("diskless (EOF-marked) transfer was not asked for".into())
        }
        Some(n) => n.parse().map_err(|_| format!("bad RDB header {header}"))?,
        None => return Err(format!("expected the RDB, got {header}")),
    };
    let path = state
        .storage
        .data_dir()
        .join(format!("temp-redis-sync-{}.rdb", std::process::id()));
    let mut file = tokio::fs::File::create(&path)
        .await
        .map_err(|e| e.to_string())?;
    let mut left = len;
    let mut buffer = vec![0u8; 256 * 1024];
    while left > 0 {
        let want = buffer.len().min(left as usize);
        let n = tokio::time::timeout(timeout, link.read(&mut buffer[..want]))
            .await
            .map_err(|_| "timeout: no data from the primary".to_string())?
            .map_err(|e| e.to_string())?;
        if n == 0 {
            let _ = tokio::fs::remove_file(&path).await;
            return Err("connection closed inside the RDB".into());
        }
        file.write_all(&buffer[..n])
            .await
            .map_err(|e| e.to_string())?;
        left -= n as u64;
        repl.last_io_ms.store(now_ms(), Ordering::Relaxed);
    }
    file.flush().await.map_err(|e| e.to_string())?;
    drop(file);
    if repl.generation() != generation {
        let _ = tokio::fs::remove_file(&path).await;
        return Err("role changed during the full copy".into());
    }
    tracing::info!("RDB of {len} bytes received from redis-server; loading it");
    repl.loading.store(true, Ordering::Release);
    let load_state = state.clone();
    let load_path = path.clone();
    let loaded = tokio::task::spawn_blocking(move || -> Result<u64, String> {
        let storage = &load_state.storage;
        storage.begin_full_load().map_err(|e| e.to_string())?;
        let file = std::fs::File::open(&load_path).map_err(|e| e.to_string())?;
        let input = std::io::BufReader::with_capacity(1 << 20, file);
        let stats =
            crate::rdb_dataset::import(storage, input, |_| {}).map_err(|e| e.to_string())?;
        storage.finish_full_load().map_err(|e| e.to_string())?;
        Ok(stats.keys)
    })
    .await
    .map_err(|e| e.to_string())
    .and_then(|r| r);
    let _ = tokio::fs::remove_file(&path).await;
    repl.loading.store(false, Ordering::Release);
    state.scripting.restore(state);
    state.watches_and_tracking_reset();
    let keys = loaded?;
    tracing::info!("RDB from redis-server loaded: {keys} keys");
    Ok(())
}

/// Applies the primary's command stream until the link fails or the role changes.
async fn apply_stream(
    state: &Arc<ServerState>,
    generation: u64,
    link: &mut Link,
    timeout: Duration,
) -> Result<(), String> {
    let repl = &state.replication;
    let (host, port) = match repl.role() {
        Role::Replica { host, port } => (host, port),
        Role::Primary => return Ok(()),
    };
    let user = state.acl.primary_link_user();
    let info = state
        .clients
        .register(format!("{host}:{port}"), String::new(), user.clone());
    let client_id = info.id;
    let mut client = ClientState::new(info, true, user);
    client.primary_link = true;
    let outcome = command_loop(state, generation, link, timeout, &mut client).await;
    state.clients.unregister(client_id);
    outcome
}

async fn command_loop(
    state: &Arc<ServerState>,
    generation: u64,
    link: &mut Link,
    timeout: Duration,
    client: &mut ClientState,
) -> Result<(), String> {
    let repl = &state.replication;
    let mut parser = RequestParser::default();
    let limits = Limits::default();
    let mut input = BytesMut::with_capacity(64 * 1024);
    // What the BufReader already holds belongs to the stream.
    input.extend_from_slice(link.buffer());
    let held = link.buffer().len();
    std::pin::Pin::new(&mut *link).consume(held);
    let mut last_ack = tokio::time::Instant::now();
    loop {
        if repl.generation() != generation || state.shutting_down.load(Ordering::Relaxed) {
            return Ok(());
        }
        // Apply every complete command buffered.
        loop {
            let before = input.len();
            let Some(args) = parser
                .parse(&mut input, limits)
                .map_err(|e| format!("primary stream: {}", e.0))?
            else {
                break;
            };
            let consumed = (before - input.len()) as u64;
            if !args.is_empty() {
                apply_command(state, link, client, &args).await?;
            }
            repl.set_redis_offset(repl.offset(&state.storage) + consumed);
        }
        if last_ack.elapsed() >= Duration::from_secs(1) {
            send_ack(state, link).await?;
            last_ack = tokio::time::Instant::now();
        }
        let wait = Duration::from_secs(1);
        match tokio::time::timeout(wait, link.read_buf(&mut input)).await {
            Ok(Ok(0)) => return Err("connection closed by the primary".into()),
            Ok(Ok(_)) => repl.last_io_ms.store(now_ms(), Ordering::Relaxed),
            Ok(Err(e)) => return Err(e.to_string()),
            Err(_) => {
                let silent = now_ms().saturating_sub(repl.last_io_ms.load(Ordering::Relaxed));
                if silent > timeout.as_millis() as u64 {
                    return Err("timeout: no data from the primary".into());
                }
            }
        }
    }
}

async fn send_ack(state: &ServerState, link: &mut Link) -> Result<(), String> {
    let offset = state.replication.offset(&state.storage).to_string();
    send(link, &[b"REPLCONF", b"ACK", offset.as_bytes()]).await
}

/// One command of the stream: `REPLCONF GETACK` is answered, `PING` only advances the
/// offset, everything else runs through the dispatch gate with its reply dropped.
async fn apply_command(
    state: &Arc<ServerState>,
    link: &mut Link,
    client: &mut ClientState,
    args: &[Bytes],
) -> Result<(), String> {
    if args[0].eq_ignore_ascii_case(b"PING") {
        return Ok(());
    }
    if args[0].eq_ignore_ascii_case(b"REPLCONF") {
        if args
            .get(1)
            .is_some_and(|a| a.eq_ignore_ascii_case(b"GETACK"))
        {
            send_ack(state, link).await?;
        }
        return Ok(());
    }
    let reply = execute(state, client, args);
    if let crate::protocol::Reply::Error(text) = &reply {
        tracing::warn!(
            "command from the redis-server primary failed: {} -> {text}",
            String::from_utf8_lossy(&args[0])
        );
    }
    // Effects (keyspace events, wake-ups) were reported by the gate; a blocked command
    // cannot come from a primary.
    client.effects.clear();
    Ok(())
}
