//! The primary's side of a replica link: after `PSYNC`, the connection that sent it feeds
//! the replica — a full copy from a RocksDB snapshot when its history cannot be continued,
//! then every batch the WAL logs after it, in order.
//!
//! The full copy is read on a blocking thread and handed over in bounded chunks, so the
//! primary keeps serving while it streams and never holds more than a few chunks in memory
//! whatever the data's size. The snapshot's sequence number is the offset the copy stands
//! for, and the WAL is followed from exactly there, so nothing is sent twice or missed.
//! A replica feeds replicas of its own the same way (chained replication): it forwards
//! what its primary logged, which its WAL holds byte for byte at the same offsets, and
//! drops them whenever its own history jumps (a full copy, a re-anchored offset, a new
//! replication id), so they ask again with `PSYNC`.
//! Depends on `storage` and the state this module's parent keeps.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use crate::socket::Socket;
use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use super::frame;
use super::ReplicaLink;
use crate::protocol::resp::{Limits, RequestParser};
use crate::state::ServerState;
use crate::storage::now_ms;

/// What a replica asked for with `PSYNC replid offset` (`?` and -1: nothing to continue).
#[derive(Debug, Clone)]
pub struct PsyncRequest {
    pub replid: String,
    /// The first offset the replica lacks.
    pub next: i64,
    pub listening_port: u16,
    pub ip: String,
}

/// Bytes of WAL batches sent per frame group.
const BATCH_BYTES: usize = 4 << 20;
/// Bytes of records per full-copy frame.
const RECORD_FRAME_BYTES: usize = 1 << 20;

enum CopyChunk {
    Snapshot(u64),
    Frame(Vec<u8>),
    Done(Result<(), String>),
}

/// Serves one replica until it disconnects, is dropped, or the server shuts down.
pub async fn feed(
    state: Arc<ServerState>,
    socket: &mut Socket,
    input: &mut BytesMut,
    request: PsyncRequest,
) {
    let repl = &state.replication;
    // A replica serves replicas of its own (a chain) while its link is up: its WAL holds
    // its primary's batches byte for byte, under the same offsets. Not while it follows a
    // redis-server, whose commands it logs as writes of its own, at Redis's offsets.
    if repl.is_replica()
        && (repl.link_state() != super::LinkState::Connected || repl.follows_redis())
    {
        let _ = socket
            .write_all(b"-NOMASTERLINK Can't SYNC while not connected with my master\r\n")
            .await;
        return;
    }
    let link = repl.register_replica(&state.storage, request.ip.clone());
    link.listening_port
        .store(u64::from(request.listening_port), Ordering::Relaxed);
    let _registered = Unregister(state.clone(), link.id);
    // Watch writes before deciding where to start, so none is missed in between.
    let engine = state.storage.engine();
    let _watch = engine.watch_writes();

    let history = repl.history();
    let own = repl.offset(&state.storage);
    let continue_from = (request.replid != "?" && request.next >= 1)
        .then(|| (request.next - 1) as u64)
        .filter(|&from| history.can_continue(&request.replid, from, own))
        .filter(|&from| {
            let seq = repl.seq_of(from);
            seq >= engine.latest_sequence() || engine.logged_since(seq, 1).is_ok()
        });
    let mut next_seq = match continue_from {
        Some(from) => {
            repl.stats.sync_partial_ok.fetch_add(1, Ordering::Relaxed);
            let line = format!("+CONTINUE {}\r\n", history.replid);
            if socket.write_all(line.as_bytes()).await.is_err() {
                return;
            }
            tracing::info!(
                "replica {}:{} continues from offset {from}",
                request.ip,
                request.listening_port
            );
            repl.seq_of(from)
        }
        None => {
            if request.replid != "?" {
                repl.stats.sync_partial_err.fetch_add(1, Ordering::Relaxed);
            }
            repl.stats.sync_full.fetch_add(1, Ordering::Relaxed);
            match send_full_copy(&state, socket, &link).await {
                Some(seq) => seq,
                None => return,
            }
        }
    };
    link.online.store(true, Ordering::Release);

    let mut tail = engine.wal_tail(next_seq);
    let mut parser = RequestParser::default();
    let mut shutdown = state.shutdown_signal();
    let period = Duration::from_secs(1);
    let mut last_sent = tokio::time::Instant::now();
    loop {
        if link.dropped.load(Ordering::Acquire) || state.shutting_down.load(Ordering::Relaxed) {
            return;
        }
        let written = engine.written().notified();
        tokio::pin!(written);
        written.as_mut().enable();
        // Taken before the WAL is read: a message or event is queued after its write
        // committed, so the batches read next include that write and go out first. A
        // replica's subscribers then never hear of a write they cannot read yet.
        let messages = link.take_messages();
        // Reading on from a kept position costs only the new batches (page-cached WAL);
        // finding the position reads a WAL file from its start, so that goes off the runtime.
        let batches = if tail.is_positioned() {
            tail.read(BATCH_BYTES)
        } else {
            crate::commands::dispatch::off_worker(|| tail.read(BATCH_BYTES))
        };
        let batches = match batches {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!("replica link dropped: {e}");
                return;
            }
        };
        let mut out = Vec::new();
        for b in &batches {
            let mut payload = Vec::with_capacity(8 + b.data.len());
            payload.extend_from_slice(&repl.offset_at(b.seq).to_be_bytes());
            payload.extend_from_slice(&b.data);
            frame::push(&mut out, frame::BATCH, &payload);
            next_seq = b.seq + b.count - 1;
        }
        for (tag, payload) in &messages {
            frame::push(&mut out, *tag, payload);
        }
        if !out.is_empty() {
            if socket.write_all(&out).await.is_err() {
                return;
            }
            last_sent = tokio::time::Instant::now();
            if !batches.is_empty() {
                continue;
            }
        }
        tokio::select! {
            _ = &mut written => {}
            _ = link.wake.notified() => {}
            _ = tokio::time::sleep_until(last_sent + period) => {
                let offset = repl.offset_at(next_seq);
                let mut ping = Vec::new();
                frame::push(&mut ping, frame::KEEPALIVE, &offset.to_be_bytes());
                if socket.write_all(&ping).await.is_err() {
                    return;
                }
                last_sent = tokio::time::Instant::now();
            }
            read = socket.read_buf(input) => {
                match read {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {
                        if !read_acks(&state, &link, &mut parser, input) {
                            return;
                        }
                    }
                }
            }
            _ = shutdown.changed() => return,
        }
    }
}

/// Handles what the replica sent (`REPLCONF ACK <offset>`); false on a protocol error.
fn read_acks(
    state: &ServerState,
    link: &ReplicaLink,
    parser: &mut RequestParser,
    input: &mut BytesMut,
) -> bool {
    loop {
        match parser.parse(input, Limits::default()) {
            Ok(Some(args)) => {
                let is_ack = args.len() >= 3
                    && args[0].eq_ignore_ascii_case(b"replconf")
                    && args[1].eq_ignore_ascii_case(b"ack");
                if is_ack {
                    if let Some(offset) = std::str::from_utf8(&args[2])
                        .ok()
                        .and_then(|s| s.parse::<u64>().ok())
                    {
                        link.acked.fetch_max(offset, Ordering::AcqRel);
                        link.last_ack_ms.store(now_ms(), Ordering::Relaxed);
                        state.replication.acked.notify_waiters();
                    }
                }
            }
            Ok(None) => return true,
            Err(_) => return false,
        }
    }
}

/// Sends `+FULLRESYNC` and a full copy; returns the sequence number the copy covers.
async fn send_full_copy(
    state: &Arc<ServerState>,
    socket: &mut Socket,
    link: &ReplicaLink,
) -> Option<u64> {
    let (tx, mut rx) = mpsc::channel::<CopyChunk>(4);
    let reader_state = state.clone();
    let reader = tokio::task::spawn_blocking(move || {
        let engine = reader_state.storage.engine();
        let mut payload = Vec::with_capacity(RECORD_FRAME_BYTES + 4096);
        let snapshot_tx = tx.clone();
        let mut open = true;
        let scanned = engine.snapshot_scan(
            |seq| {
                let _ = snapshot_tx.blocking_send(CopyChunk::Snapshot(seq));
            },
            |cf, k, v| {
                frame::push_record(&mut payload, cf, k, v);
                if payload.len() >= RECORD_FRAME_BYTES {
                    let mut f = Vec::with_capacity(payload.len() + 5);
                    frame::push(&mut f, frame::RECORDS, &payload);
                    payload.clear();
                    open = tx.blocking_send(CopyChunk::Frame(f)).is_ok();
                }
                open
            },
        );
        if open && !payload.is_empty() {
            let mut f = Vec::new();
            frame::push(&mut f, frame::RECORDS, &payload);
            let _ = tx.blocking_send(CopyChunk::Frame(f));
        }
        let _ = tx.blocking_send(CopyChunk::Done(scanned.map_err(|e| e.to_string())));
    });
    let mut seq = None;
    let mut sent: u64 = 0;
    while let Some(chunk) = rx.recv().await {
        if link.dropped.load(Ordering::Acquire) {
            break;
        }
        match chunk {
            CopyChunk::Snapshot(s) => {
                seq = Some(s);
                let history = state.replication.history();
                let line = format!(
                    "+FULLRESYNC {} {}\r\n",
                    history.replid,
                    state.replication.offset_at(s)
                );
                if socket.write_all(line.as_bytes()).await.is_err() {
                    break;
                }
            }
            CopyChunk::Frame(f) => {
                sent += f.len() as u64;
                if socket.write_all(&f).await.is_err() {
                    break;
                }
            }
            CopyChunk::Done(Ok(())) => {
                let mut end = Vec::new();
                frame::push(&mut end, frame::END_OF_COPY, &[]);
                if socket.write_all(&end).await.is_err() {
                    break;
                }
                tracing::info!("full copy sent to replica {} ({sent} bytes)", link.ip);
                return seq;
            }
            CopyChunk::Done(Err(e)) => {
                tracing::error!("full copy for a replica failed: {e}");
                break;
            }
        }
    }
    drop(rx);
    let _ = reader.await;
    None
}

/// Removes the link from the registry however the feeder ends.
struct Unregister(Arc<ServerState>, u64);

impl Drop for Unregister {
    fn drop(&mut self) {
        self.0
            .replication
            .unregister_replica(&self.0.storage, self.1);
    }
}

/// Queues a published message for every online replica (Redis propagates PUBLISH).
pub fn propagate_publish(state: &ServerState, channel: &Bytes, message: &Bytes) {
    let links = state.replication.replicas.lock();
    for link in links.iter() {
        link.push_message(frame::MESSAGE, frame::message(channel, message));
    }
}

/// Queues a write's keyspace event for every replica. Replicas fire it under their own
/// `notify-keyspace-events`, as a Redis replica fires the events of the commands its
/// primary sends. Key-miss events come from reads and stay local.
pub fn propagate_event(state: &ServerState, class: u32, event: &str, db: usize, key: &[u8]) {
    if class == crate::notify::KEY_MISS || !state.replication.has_replicas() {
        return;
    }
    let links = state.replication.replicas.lock();
    if links.is_empty() {
        return;
    }
    let payload = frame::event(class, db, event, key);
    for link in links.iter() {
        link.push_message(frame::EVENT, payload.clone());
    }
}
