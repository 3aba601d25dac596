//! A replica's link to its primary: connect, hand-shake as Redis replicas do (`AUTH`,
//! `PING`, `REPLCONF listening-port`, `REPLCONF capa`, `PSYNC replid offset`), load a full
//! copy when the primary sends one, then apply its logged batches in order and acknowledge
//! them (`REPLCONF ACK`). Reconnects every second while this node stays a replica of the
//! same primary (the link task's generation, see `Replication::generation`).
//!
//! A batch is applied only if it starts right after the replica's offset, so a lost or
//! repeated frame can never be applied out of order: the link is dropped and the next
//! `PSYNC` resumes from what is on disk. Depends on `storage`, `protocol` and the parent
//! module's state.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::socket::Socket;

use super::{frame, History, LinkState, Role, NO_REPLID};
use crate::commands::dispatch::off_worker;
use crate::notify;
use crate::state::ServerState;
use crate::storage::follow::Applied;
use crate::storage::now_ms;

/// Starts the link task for the current generation.
pub fn start(state: Arc<ServerState>) {
    let generation = state.replication.generation();
    tokio::spawn(run(state, generation));
}

/// The `replicaof host port` directive, applied at start-up.
pub fn start_from_config(state: &Arc<ServerState>) {
    let value = state.config.get("replicaof");
    let mut parts = value.split_whitespace();
    let (Some(host), Some(port)) = (parts.next(), parts.next()) else {
        return;
    };
    let Ok(port) = port.parse::<u16>() else {
        tracing::error!("replicaof: invalid port {port}");
        return;
    };
    let _exclusive = state.storage.global.write();
    state
        .replication
        .become_replica(&state.storage, host.to_string(), port);
    drop(_exclusive);
    start(state.clone());
}

async fn run(state: Arc<ServerState>, generation: u64) {
    let repl = &state.replication;
    while repl.generation() == generation && !state.shutting_down.load(Ordering::Relaxed) {
        let Role::Replica { host, port } = repl.role() else {
            return;
        };
        repl.set_link_state(LinkState::Connecting);
        if let Err(e) = session(&state, generation, &host, port).await {
            tracing::warn!("replication link to {host}:{port}: {e}");
            // A failover whose target cannot be reached is aborted: this node takes its
            // writes again rather than wait as a replica of nothing.
            if repl.failover.asks_target_to_take_over() {
                super::failover::end(&state, Some(&format!("cannot reach the target: {e}")));
            }
        }
        if repl.generation() != generation {
            return;
        }
        repl.loading.store(false, Ordering::Release);
        repl.set_link_state(LinkState::Connect);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

pub(super) type Link = BufReader<Socket>;

pub(super) async fn send(link: &mut Link, args: &[&[u8]]) -> Result<(), String> {
    let mut out = Vec::new();
    crate::protocol::encode_request(&mut out, args);
    link.get_mut()
        .write_all(&out)
        .await
        .map_err(|e| e.to_string())
}

/// Reads one reply line (the handshake's replies are all single lines).
pub(super) async fn line(link: &mut Link, timeout: Duration) -> Result<String, String> {
    let mut buf = Vec::new();
    let read = tokio::time::timeout(timeout, async {
        loop {
            buf.clear();
            // Bounded: a primary never sends a handshake line this long.
            let n = (&mut *link)
                .take(64 * 1024)
                .read_until(b'\n', &mut buf)
                .await
                .map_err(|e| e.to_string())?;
            if n == 0 {
                return Err("connection closed".to_string());
            }
            // Redis primaries send bare newlines as keep-alives while preparing a copy.
            if buf != b"\n" {
                return Ok(());
            }
        }
    })
    .await
    .map_err(|_| "timeout".to_string())?;
    read?;
    Ok(String::from_utf8_lossy(&buf).trim_end().to_string())
}

pub(super) async fn expect_ok(
    link: &mut Link,
    what: &str,
    timeout: Duration,
) -> Result<(), String> {
    let reply = line(link, timeout).await?;
    if reply.starts_with('+') {
        Ok(())
    } else {
        Err(format!("{what}: {reply}"))
    }
}

/// Reads one frame: (tag, payload).
async fn read_frame(link: &mut Link, timeout: Duration) -> Result<(u8, Vec<u8>), String> {
    tokio::time::timeout(timeout, async {
        let mut head = [0u8; 5];
        link.read_exact(&mut head)
            .await
            .map_err(|e| e.to_string())?;
        let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
        if len > frame::MAX_FRAME {
            return Err(format!("frame of {len} bytes"));
        }
        // Grown as bytes arrive, never sized by the header alone.
        let mut payload = Vec::with_capacity(len.min(1 << 20));
        let got = (&mut *link)
            .take(len as u64)
            .read_to_end(&mut payload)
            .await
            .map_err(|e| e.to_string())?;
        if got != len {
            return Err("connection closed inside a frame".into());
        }
        Ok((head[0], payload))
    })
    .await
    .map_err(|_| "timeout: no data from the primary".to_string())?
}

/// The payload of the next frame if it is a batch already whole in the link's buffer
/// (taken out of it); `None` when it is not, without waiting for the socket.
fn take_buffered_batch(link: &mut Link) -> Option<Vec<u8>> {
    let buffered = link.buffer();
    let (&[tag, a, b, c, d], rest) = buffered.split_first_chunk::<5>()?;
    let len = u32::from_be_bytes([a, b, c, d]) as usize;
    if tag != frame::BATCH || len > frame::MAX_FRAME || rest.len() < len {
        return None;
    }
    let payload = rest[..len].to_vec();
    link.consume(5 + len);
    Some(payload)
}

fn timeouts(state: &ServerState) -> Duration {
    Duration::from_secs(state.config.get_int("repl-timeout").max(1) as u64)
}

async fn session(
    state: &Arc<ServerState>,
    generation: u64,
    host: &str,
    port: u16,
) -> Result<(), String> {
    let repl = &state.replication;
    let timeout = timeouts(state);
    let stream = tokio::time::timeout(timeout, TcpStream::connect((host, port)))
        .await
        .map_err(|_| "connect timeout".to_string())?
        .map_err(|e| e.to_string())?;
    let _ = stream.set_nodelay(true);
    let stream = if state.config.get_bool("tls-replication") {
        let connector = crate::tls::replication_connector(&state.config)?;
        let name = crate::tls::server_name(host)?;
        let tls = tokio::time::timeout(timeout, connector.connect(name, stream))
            .await
            .map_err(|_| "TLS handshake timeout".to_string())?
            .map_err(|e| format!("TLS handshake: {e}"))?;
        Socket::TlsClient(Box::new(tls))
    } else {
        Socket::Plain(stream)
    };
    let mut link = BufReader::with_capacity(256 * 1024, stream);

    let auth = state.config.get("masterauth");
    if !auth.is_empty() {
        let user = state.config.get("masteruser");
        if user.is_empty() {
            send(&mut link, &[b"AUTH", auth.as_bytes()]).await?;
        } else {
            send(&mut link, &[b"AUTH", user.as_bytes(), auth.as_bytes()]).await?;
        }
        expect_ok(&mut link, "AUTH", timeout).await?;
    }
    send(&mut link, &[b"PING"]).await?;
    expect_ok(&mut link, "PING", timeout).await?;
    let announced = match state.config.get_int("replica-announce-port") {
        0 => state.port.load(Ordering::Relaxed).to_string(),
        p => p.to_string(),
    };
    send(
        &mut link,
        &[b"REPLCONF", b"listening-port", announced.as_bytes()],
    )
    .await?;
    expect_ok(&mut link, "REPLCONF listening-port", timeout).await?;
    let ip = state.config.get("replica-announce-ip");
    if !ip.is_empty() {
        send(&mut link, &[b"REPLCONF", b"ip-address", ip.as_bytes()]).await?;
        expect_ok(&mut link, "REPLCONF ip-address", timeout).await?;
    }
    send(
        &mut link,
        &[b"REPLCONF", b"capa", b"strata", b"capa", b"psync2"],
    )
    .await?;
    expect_ok(&mut link, "REPLCONF capa", timeout).await?;
    // A real redis-server speaks its own protocol after PSYNC (an RDB, then commands):
    // tell the two apart by what INFO says before asking.
    if super::from_redis::is_redis(&mut link, timeout).await? {
        return super::from_redis::session(state, generation, &mut link, timeout).await;
    }
    repl.set_follows_redis(&state.storage, false);

    let history = repl.history();
    let offset = repl.offset(&state.storage);
    // A node holding no keys has nothing worth resuming: like a fresh Redis replica it asks
    // for a full copy with `PSYNC ? -1` (which the primary does not count as a failed
    // partial sync). Any other node offers its history, to resume where it stands.
    let holds_keys = (0..state.storage.databases()).any(|db| state.storage.key_count(db) != 0);
    // A primary handing over with FAILOVER always offers its history: the target continues it.
    let failover = repl.failover.asks_target_to_take_over();
    let (replid, next) = if holds_keys || failover {
        (history.replid.clone(), (offset + 1).to_string())
    } else {
        ("?".to_string(), "-1".to_string())
    };
    let mut psync: Vec<&[u8]> = vec![b"PSYNC", replid.as_bytes(), next.as_bytes()];
    if failover {
        psync.push(b"FAILOVER");
    }
    send(&mut link, &psync).await?;
    let reply = line(&mut link, timeout).await?;
    if failover {
        if reply.starts_with("+CONTINUE") || reply.starts_with("+FULLRESYNC") {
            super::failover::end(state, None);
        } else {
            super::failover::end(state, Some(&format!("the target refused: {reply}")));
            return Err(format!("PSYNC FAILOVER: {reply}"));
        }
    }
    let mut words = reply.split_whitespace();
    match words.next() {
        Some("+FULLRESYNC") => {
            let replid = words.next().ok_or("FULLRESYNC without replid")?.to_string();
            let primary_offset: u64 = words
                .next()
                .and_then(|w| w.parse().ok())
                .ok_or("FULLRESYNC without offset")?;
            repl.set_link_state(LinkState::Sync);
            load_full_copy(
                state,
                generation,
                &mut link,
                timeout,
                replid,
                primary_offset,
            )
            .await?;
        }
        Some("+CONTINUE") => {
            if let Some(new_id) = words.next() {
                if new_id != history.replid {
                    // The primary was promoted: our history continues under its new id,
                    // and the old one stays valid up to here (for replicas of ours).
                    let mut h = history.clone();
                    h.replid2 = std::mem::replace(&mut h.replid, new_id.to_string());
                    h.second_offset = offset as i64;
                    repl.set_history(h);
                    // Replicas of ours learn the new id when they ask again.
                    repl.drop_replicas();
                }
            }
            tracing::info!("replication from {host}:{port} continues at offset {offset}");
        }
        _ => return Err(format!("PSYNC: {reply}")),
    }
    repl.set_link_state(LinkState::Connected);
    repl.last_io_ms.store(now_ms(), Ordering::Relaxed);
    follow(state, generation, &mut link, timeout).await
}

async fn load_full_copy(
    state: &Arc<ServerState>,
    generation: u64,
    link: &mut Link,
    timeout: Duration,
    replid: String,
    primary_offset: u64,
) -> Result<(), String> {
    let repl = &state.replication;
    let storage = &state.storage;
    tracing::info!("full copy from the primary starts (offset {primary_offset})");
    repl.loading.store(true, Ordering::Release);
    // Replicas of ours follow a history this copy replaces.
    repl.drop_replicas();
    off_worker(|| storage.begin_full_load()).map_err(|e| e.to_string())?;
    let mut records = 0u64;
    loop {
        if repl.generation() != generation {
            return Err("role changed during the full copy".into());
        }
        let (tag, payload) = read_frame(link, timeout).await?;
        repl.last_io_ms.store(now_ms(), Ordering::Relaxed);
        match tag {
            frame::RECORDS => {
                let decoded = frame::records(&payload).ok_or("malformed records frame")?;
                records += decoded.len() as u64;
                off_worker(|| storage.load_records(decoded)).map_err(|e| e.to_string())?;
            }
            frame::END_OF_COPY => break,
            frame::KEEPALIVE | frame::MESSAGE => {}
            other => return Err(format!("unexpected frame {other} during the full copy")),
        }
    }
    off_worker(|| storage.finish_full_load()).map_err(|e| e.to_string())?;
    let local = storage.engine().latest_sequence();
    repl.set_history(History {
        replid,
        replid2: NO_REPLID.to_string(),
        second_offset: -1,
        delta: primary_offset as i64 - local as i64,
        history_start: primary_offset,
    });
    repl.loading.store(false, Ordering::Release);
    state.watches_and_tracking_reset();
    tracing::info!("full copy loaded: {records} records, offset {primary_offset}");
    Ok(())
}

/// Applies the stream until the link fails or the role changes.
async fn follow(
    state: &Arc<ServerState>,
    generation: u64,
    link: &mut Link,
    timeout: Duration,
) -> Result<(), String> {
    let repl = &state.replication;
    let storage = &state.storage;
    let mut last_ack = tokio::time::Instant::now();
    let mut unacked = false;
    loop {
        if repl.generation() != generation || state.shutting_down.load(Ordering::Relaxed) {
            return Ok(());
        }
        let (tag, payload) = read_frame(link, timeout).await?;
        repl.last_io_ms.store(now_ms(), Ordering::Relaxed);
        match tag {
            frame::BATCH => {
                // Apply with it every further batch already buffered: one hop off the
                // runtime for all of them instead of one per batch. Each batch is still
                // its own atomic engine write, so sequence numbers and batch boundaries
                // stay the primary's.
                let mut group = vec![payload];
                while let Some(more) = take_buffered_batch(link) {
                    group.push(more);
                }
                let mut at = repl.offset(storage);
                let mut batches = Vec::with_capacity(group.len());
                for payload in &group {
                    let start = frame::u64_of(payload).ok_or("short batch frame")?;
                    let data = &payload[8..];
                    let count = crate::storage::engine::Engine::logged_count(data);
                    if start + count <= at + 1 {
                        continue; // already applied (a resent frame)
                    }
                    if start != at + 1 {
                        return Err(format!(
                            "batch at offset {start} does not follow ours ({at})"
                        ));
                    }
                    at = start + count - 1;
                    batches.push(data);
                }
                if repl.generation() != generation {
                    return Ok(());
                }
                // Stops at the first failure; what was applied before it is still signalled.
                let mut failed = None;
                let applied: Vec<_> = off_worker(|| {
                    batches
                        .iter()
                        .map_while(|data| {
                            storage
                                .apply_logged(data)
                                .map_err(|e| failed = Some(e.to_string()))
                                .ok()
                        })
                        .collect()
                });
                if let Some(e) = failed {
                    for applied in &applied {
                        signal_applied(state, applied);
                    }
                    return Err(e);
                }
                let now_at = repl.offset(storage);
                if now_at != at {
                    // Something wrote locally: re-anchor the offset on what was applied.
                    let mut h = repl.history();
                    h.delta += at as i64 - now_at as i64;
                    tracing::warn!("replica offset re-anchored ({now_at} -> {at})");
                    repl.set_history(h);
                    repl.drop_replicas();
                }
                for applied in &applied {
                    signal_applied(state, applied);
                }
                unacked = true;
            }
            frame::KEEPALIVE => unacked = true,
            frame::MESSAGE => {
                if let Some((channel, message)) = frame::decode_message(&payload) {
                    let channel = Bytes::copy_from_slice(channel);
                    let message = Bytes::copy_from_slice(message);
                    state.pubsub.publish(&channel, &message);
                    super::primary::propagate_publish(state, &channel, &message);
                }
            }
            frame::EVENT => {
                if let Some((class, db, name, key)) = frame::decode_event(&payload) {
                    // The primary's expiry and eviction reach a Redis replica as a DEL, whose
                    // event is `del`; every other event is the command's own.
                    let (class, name) = if class & (notify::EXPIRED | notify::EVICTED) != 0 {
                        (notify::GENERIC, "del")
                    } else {
                        (class, name)
                    };
                    state.notify(class, name, db, key);
                }
            }
            other => return Err(format!("unexpected frame {other}")),
        }
        // Acknowledge once what arrived so far is applied, or at least every second.
        if unacked && (link.buffer().is_empty() || last_ack.elapsed() >= Duration::from_secs(1)) {
            let offset = repl.offset(storage).to_string();
            send(link, &[b"REPLCONF", b"ACK", offset.as_bytes()]).await?;
            last_ack = tokio::time::Instant::now();
            unacked = false;
        }
    }
}

/// What a command writing these keys would signal: watchers, blocked clients, tracking.
pub(super) fn signal_applied(state: &ServerState, applied: &Applied) {
    let tracking = state.tracking.active();
    for (phys, key) in &applied.keys {
        let Some(db) = state.storage.logical(*phys) else {
            continue;
        };
        state.watches.touch(db, key);
        state.blocking.signal(db, key);
        if tracking {
            state.tracking.invalidate(key, None);
        }
    }
    if applied.whole_databases {
        state.watches_and_tracking_reset();
    }
}
