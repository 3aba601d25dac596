//! One client connection: read, parse every complete frame, run each through the dispatch
//! gate in order, encode replies into one buffer, sync the WAL once if `appendfsync always`,
//! then write the whole batch with one syscall (DESIGN §5, §7).
//!
//! Invariants: no reply to a write leaves before its WAL sync under `always`; a protocol
//! error is answered and then only this connection closes; nothing a client sends can panic
//! the task.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::client::{ClientState, ReplyMode};
use crate::commands::dispatch::execute;
use crate::protocol::{parse_command, Limits, Reply};
use crate::state::ServerState;

/// What the batch loop decided about the connection.
enum Next {
    Continue,
    /// Send what is buffered, then close.
    CloseAfterWrite,
    /// Close without sending anything more.
    CloseNow,
}

pub async fn serve(state: Arc<ServerState>, mut socket: TcpStream, mut client: ClientState) {
    let info = client.info.clone();
    let mut shutdown = state.shutdown_signal();
    let mut input = BytesMut::with_capacity(16 * 1024);
    let mut output = BytesMut::with_capacity(16 * 1024);
    loop {
        let idle_limit = state.config.get_int("timeout");
        let idle = async {
            if idle_limit > 0 {
                tokio::time::sleep(Duration::from_secs(idle_limit as u64)).await;
            } else {
                std::future::pending::<()>().await;
            }
        };
        let read = tokio::select! {
            r = socket.read_buf(&mut input) => r,
            _ = info.killed() => break,
            _ = shutdown.changed() => break,
            _ = idle => break,
        };
        match read {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                state
                    .stats
                    .net_input_bytes
                    .fetch_add(n as u64, Ordering::Relaxed);
            }
        }
        let query_limit = state.config.get_int("client-query-buffer-limit").max(0) as usize;
        if input.len() > query_limit {
            tracing::warn!(
                client = info.id,
                "closing client that reached max query buffer length"
            );
            break;
        }
        let next = run_batch(&state, &mut client, &mut input, &mut output);
        if matches!(next, Next::CloseNow) {
            break;
        }
        if state.fsync_always.load(Ordering::Relaxed) {
            let synced = tokio::task::block_in_place(|| state.storage.sync_committed());
            if let Err(e) = synced {
                // Never acknowledge what may not be durable.
                tracing::error!("WAL sync failed: {e}");
                break;
            }
        }
        if !output.is_empty() {
            state
                .stats
                .net_output_bytes
                .fetch_add(output.len() as u64, Ordering::Relaxed);
            if socket.write_all(&output).await.is_err() {
                break;
            }
            output.clear();
        }
        if matches!(next, Next::CloseAfterWrite) {
            break;
        }
    }
    state.clients.unregister(info.id);
}

/// Runs every complete command in `input`, appending replies to `output`.
fn run_batch(
    state: &ServerState,
    client: &mut ClientState,
    input: &mut BytesMut,
    output: &mut BytesMut,
) -> Next {
    let limits = Limits {
        max_bulk_len: state.config.get_int("proto-max-bulk-len"),
    };
    loop {
        let args = match parse_command(input, limits) {
            Ok(Some(args)) => args,
            Ok(None) => return Next::Continue,
            Err(e) => {
                Reply::Error(format!("ERR {}", e.0)).encode(output, client.resp3);
                return Next::CloseAfterWrite;
            }
        };
        if args.is_empty() {
            continue;
        }
        let mode_before = client.reply_mode;
        let reply = execute(state, client, &args);
        if client.close_now {
            return Next::CloseNow;
        }
        let send = match client.reply_mode {
            ReplyMode::On => true,
            ReplyMode::Off => false,
            ReplyMode::Skip => {
                if mode_before == ReplyMode::Skip {
                    client.reply_mode = ReplyMode::On;
                }
                false
            }
        };
        if send {
            reply.encode(output, client.resp3);
        }
        if client.close_after_reply {
            return Next::CloseAfterWrite;
        }
    }
}
