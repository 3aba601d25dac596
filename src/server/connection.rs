//! One client connection: read, parse every complete frame, run each through the dispatch
//! gate in order, encode replies into one buffer, sync the WAL once if `appendfsync always`,
//! then write the whole batch with one syscall (DESIGN §5, §7).
//!
//! A blocking command that finds nothing parks the connection (after flushing the replies
//! before it) until a writer signals one of its keys, its timeout passes, `CLIENT UNBLOCK`
//! releases it, or the client disconnects; commands pipelined after it wait their turn.
//!
//! Pipelined string and key commands run as batched runs sharing one engine write (see
//! `storage::deferred`). A command whose key lock another worker holds yields the worker to
//! other connections a couple of times before waiting on the lock, so a hot key does not put
//! worker threads to sleep.
//!
//! Invariants: no reply to a write leaves before its WAL sync under `always`; a protocol
//! error is answered and then only this connection closes; a panicking command handler is
//! answered `-ERR` by the gate, and should anything else in the task panic, `Conn`'s drop
//! guard still releases the client's registry entry, waiters, watches and subscriptions.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::socket::Socket;
use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, watch};

use crate::blocking::BlockRequest;
use crate::client::{ClientState, Handoff, ReplyMode};
use crate::commands::dispatch::{
    execute, execute_batched, execute_unless_busy, finish_batched, submit_batched, BatchedRun,
    QueuedRun, RunEnd, Submission,
};
use crate::protocol::{Limits, Reply, RequestParser};
use crate::pubsub::PubMessage;
use crate::replication::primary::{self, PsyncRequest};
use crate::state::ServerState;

/// What the batch loop decided about the connection.
enum Next {
    /// Every complete frame ran; read more.
    Continue,
    /// Send what is buffered, then close.
    CloseAfterWrite,
    /// Close without sending anything more.
    CloseNow,
    /// The command (`args`) must wait; see `client.block`.
    Block(Vec<Bytes>),
    /// The command's key is locked by another worker: yield, then run `args` first.
    Yield(Vec<Bytes>),
    /// `CLIENT PAUSE` held the command back: wait for the pause to end, then run `args`.
    Paused(Vec<Bytes>),
    /// Every complete frame ran, and the last run's writes wait in the commit queue: await
    /// them, then send the replies and read more.
    AwaitCommit(QueuedRun),
    /// The command left work for the connection in `client.handoff` (`WAIT`, `PSYNC`).
    Handoff,
}

/// Times a command yields to other connections while its key is locked elsewhere before it
/// waits for a release (most locks are held for microseconds by the other worker).
const YIELDS_PER_COMMAND: u8 = 2;
/// How long a command waits for its locks without a thread (see `storage::locks`); past
/// this it waits in the gate, parked on the lock, whose fairness then gets it its turn.
/// Longer than a script may run before others get `-BUSY` (`busy-reply-threshold`, 5 s by
/// default), so waiting for a script never takes a thread; a key stripe is released after
/// every command or pipelined run, so this bound is only a guard against starvation.
const ASYNC_LOCK_WAIT: Duration = Duration::from_secs(10);
/// A waiter looks at the locks again this often even without a wake-up.
const LOCK_RECHECK: Duration = Duration::from_millis(10);

struct Conn {
    state: Arc<ServerState>,
    socket: Socket,
    client: ClientState,
    /// Published messages for this client (see `pubsub`).
    messages: mpsc::Receiver<PubMessage>,
    input: BytesMut,
    /// Its place in a request still arriving in `input`.
    parser: RequestParser,
    output: BytesMut,
    shutdown: watch::Receiver<bool>,
    /// A parsed command put back by [`Next::Yield`], run before anything else is parsed.
    retry: Option<Vec<Bytes>>,
    /// Yields spent on `retry`.
    yields: u8,
    /// When `retry` first found its locks taken.
    waiting_since: Option<Instant>,
    /// Bytes of pushed messages in `output` (counted in `ClientInfo::output_bytes`).
    pushed_bytes: usize,
}

pub async fn serve(state: Arc<ServerState>, socket: Socket, mut client: ClientState) {
    let shutdown = state.shutdown_signal();
    let (queue, messages) = mpsc::channel(crate::pubsub::QUEUE_LIMIT);
    let _ = client.info.queue.set(queue.clone());
    client.pubsub_queue = Some(queue);
    let mut conn = Conn {
        state: state.clone(),
        socket,
        client,
        messages,
        input: BytesMut::with_capacity(16 * 1024),
        parser: RequestParser::default(),
        output: BytesMut::with_capacity(16 * 1024),
        shutdown,
        retry: None,
        yields: 0,
        waiting_since: None,
        pushed_bytes: 0,
    };
    conn.run().await;
}

impl Drop for Conn {
    /// Releases everything the connection held, however it ended: a normal close, a kill,
    /// shutdown, or a panic unwinding out of the task (tokio drops the task's future, and
    /// with it this `Conn`). Without this a panic leaked the client's registry entry, so
    /// `connected_clients` grew until `maxclients` refused everyone.
    fn drop(&mut self) {
        let state = self.state.clone();
        state.blocking.unregister(&self.client.info);
        crate::commands::txn::unwatch_all(&state, &mut self.client);
        crate::commands::pubsub::unsubscribe_all(&state, &mut self.client);
        state.monitors.remove(self.client.info.id);
        state.tracking.disable(self.client.info.id);
        // Whatever the client still had queued stops counting towards maxmemory-clients.
        let pending = self.client.info.output_bytes.swap(0, Ordering::Relaxed);
        state.pubsub.limits.release(pending);
        state.clients.unregister(self.client.info.id);
    }
}

impl Conn {
    async fn run(&mut self) {
        let mut need_read = true;
        loop {
            if need_read && !self.read().await {
                return;
            }
            // Messages queued before these commands are answered go out first, as Redis
            // writes a push (an invalidation, a MONITOR line) into the buffer the moment
            // it happens.
            while let Ok(msg) = self.messages.try_recv() {
                self.take_message(&msg);
            }
            let retry = self.retry.take();
            let may_yield = self
                .waiting_since
                .is_none_or(|since| since.elapsed() < ASYNC_LOCK_WAIT);
            let next = run_batch(
                &self.state,
                &mut self.client,
                (&mut self.parser, &mut self.input),
                &mut self.output,
                retry,
                may_yield,
            );
            if !matches!(next, Next::Yield(_)) {
                self.yields = 0;
                self.waiting_since = None;
            }
            match next {
                Next::Yield(args) => {
                    need_read = false;
                    self.waiting_since.get_or_insert_with(Instant::now);
                    if self.yields < YIELDS_PER_COMMAND {
                        // Let this worker serve other connections; the lock is most likely
                        // held for microseconds by the other one.
                        self.yields += 1;
                        tokio::task::yield_now().await;
                    } else if !self.wait_for_locks(&args).await {
                        return;
                    }
                    self.retry = Some(args);
                    continue;
                }
                Next::Paused(args) => {
                    if !self.flush().await || !self.wait_for_pause_end().await {
                        return;
                    }
                    self.retry = Some(args);
                    need_read = false;
                    continue;
                }
                Next::CloseNow => return,
                Next::Handoff => match self.client.handoff.take() {
                    Some(Handoff::Psync {
                        replid,
                        next,
                        failover,
                    }) => {
                        if !self.flush().await {
                            return;
                        }
                        if failover {
                            let taken =
                                crate::replication::failover::take_over(&self.state, &replid);
                            if let Err(refusal) = taken {
                                let line = format!("-{refusal}\r\n");
                                let _ = self.socket.write_all(line.as_bytes()).await;
                                return;
                            }
                        }
                        let ip = self.client.announced_ip.clone().unwrap_or_else(|| {
                            self.client
                                .info
                                .addr
                                .rsplit_once(':')
                                .map_or(self.client.info.addr.clone(), |(ip, _)| ip.to_string())
                        });
                        let request = PsyncRequest {
                            replid,
                            next,
                            listening_port: self.client.listening_port,
                            ip,
                        };
                        let state = self.state.clone();
                        primary::feed(state, &mut self.socket, &mut self.input, request).await;
                        return;
                    }
                    Some(Handoff::RdbSnapshot) => {
                        if self.flush().await {
                            let state = self.state.clone();
                            crate::replication::rdb_feed::serve(state, &mut self.socket).await;
                        }
                        return;
                    }
                    Some(Handoff::Wait {
                        offset,
                        replicas,
                        timeout_ms,
                    }) => {
                        let Some(acked) = self.wait_replicas(offset, replicas, timeout_ms).await
                        else {
                            return;
                        };
                        Reply::Int(acked as i64).encode(&mut self.output, self.client.resp3);
                        // Commands pipelined after WAIT run before reading.
                        need_read = false;
                        continue;
                    }
                    None => need_read = true,
                },
                Next::Continue => need_read = true,
                Next::AwaitCommit(run) => {
                    need_read = true;
                    let ended = run.end().await;
                    if !replay_if_needed(&self.state, &mut self.client, ended, &mut self.output) {
                        return;
                    }
                }
                Next::CloseAfterWrite => {
                    self.flush().await;
                    return;
                }
                Next::Block(args) => {
                    if !self.flush().await {
                        return;
                    }
                    let Some(request) = self.client.block.take() else {
                        continue;
                    };
                    let args = request.retry_args.clone().unwrap_or(args);
                    match self.wait_blocked(&args, request).await {
                        Some(reply) => {
                            reply.encode(&mut self.output, self.client.resp3);
                            // Commands pipelined after the blocking one run before reading.
                            need_read = false;
                            continue;
                        }
                        None => return,
                    }
                }
            }
            // This batch handed a hot key on to a waiting connection: let it run before our
            // replies go out, or it waits for the worker behind our `sendto` while the key
            // sits free (benches/PROFILE.md, sixth pass). A lone client never gets here.
            if crate::storage::lock_waiters::take_woke_waiter() {
                tokio::task::yield_now().await;
            }
            if !self.flush().await {
                return;
            }
        }
    }

    /// `WAIT`: until `wanted` replicas acknowledged `offset` or the timeout passed; the
    /// number that did. `None` when the connection should close meanwhile.
    async fn wait_replicas(
        &mut self,
        offset: u64,
        wanted: usize,
        timeout_ms: u64,
    ) -> Option<usize> {
        let state = self.state.clone();
        let repl = &state.replication;
        let info = self.client.info.clone();
        let deadline = (timeout_ms > 0)
            .then(|| tokio::time::Instant::now() + Duration::from_millis(timeout_ms));
        loop {
            let acked = repl.acked.notified();
            tokio::pin!(acked);
            acked.as_mut().enable();
            let now = repl.replicas_at(offset);
            if now >= wanted || deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
                return Some(now);
            }
            let until = deadline.unwrap_or_else(|| tokio::time::Instant::now() + LOCK_RECHECK * 10);
            tokio::select! {
                _ = acked => {}
                _ = tokio::time::sleep_until(until) => {}
                _ = info.killed() => return None,
                _ = self.shutdown.changed() => return None,
            }
        }
    }

    /// Waits until no pause is in effect (or the pause changes: the command is then checked
    /// again). False when the connection should close meanwhile.
    async fn wait_for_pause_end(&mut self) -> bool {
        let info = self.client.info.clone();
        let pause = &self.state.pause;
        let changed = pause.changed.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        let now = crate::storage::now_ms();
        let Some((_, until)) = pause.current(now) else {
            return true;
        };
        // A failover's hold has no deadline (u64::MAX): its end is signalled by `changed`.
        let left = Duration::from_millis(until.saturating_sub(now)).min(Duration::from_secs(60));
        tokio::select! {
            _ = changed => true,
            _ = tokio::time::sleep(left) => true,
            _ = info.killed() => false,
            _ = self.shutdown.changed() => false,
        }
    }

    /// Waits, holding no thread, until a holder of a lock `args` needs lets go (or
    /// [`LOCK_RECHECK`] passes); false when the connection should close meanwhile.
    async fn wait_for_locks(&mut self, args: &[Bytes]) -> bool {
        let state = self.state.clone();
        let Some(blocker) = crate::commands::dispatch::would_wait(&state, &self.client, args)
        else {
            return true;
        };
        let (_waiting, released) = state.storage.lock_waiters.register(blocker);
        tokio::pin!(released);
        released.as_mut().enable();
        // Registered first, so a release between this check and the await still wakes us.
        // Something else in the way now: retry, and wait for that if need be.
        if crate::commands::dispatch::would_wait(&state, &self.client, args) != Some(blocker) {
            return true;
        }
        let info = self.client.info.clone();
        tokio::select! {
            _ = released => true,
            // A holder outside the gate (or a release seen by nobody): look again anyway.
            _ = tokio::time::sleep(LOCK_RECHECK) => true,
            _ = info.killed() => false,
            _ = self.shutdown.changed() => false,
        }
    }

    /// Reads more input; false when the connection should close.
    async fn read(&mut self) -> bool {
        let info = self.client.info.clone();
        // Like Redis, the idle timeout does not apply to subscribers.
        let idle_limit = if self.client.is_subscribed() {
            0
        } else {
            self.state.config.get_int("timeout")
        };
        let idle = async {
            if idle_limit > 0 {
                tokio::time::sleep(Duration::from_secs(idle_limit as u64)).await;
            } else {
                std::future::pending::<()>().await;
            }
        };
        let read = tokio::select! {
            r = self.socket.read_buf(&mut self.input) => r,
            Some(msg) = self.messages.recv() => {
                // Deliver this and whatever else is queued in one write.
                self.take_message(&msg);
                while let Ok(more) = self.messages.try_recv() {
                    self.take_message(&more);
                }
                return true;
            }
            _ = info.killed() => return false,
            _ = self.shutdown.changed() => return false,
            _ = idle => return false,
        };
        self.account_read(read)
    }

    fn account_read(&mut self, read: std::io::Result<usize>) -> bool {
        match read {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                self.state
                    .stats
                    .net_input_bytes
                    .fetch_add(n as u64, Ordering::Relaxed);
                let limit = self
                    .state
                    .config
                    .get_int("client-query-buffer-limit")
                    .max(0) as usize;
                // Filled bytes are what count: the parser grows the buffer ahead of a bulk
                // by at most what has already arrived (or 64 KiB), never by what a header
                // claims, so what is reserved stays within twice what was sent. Counting
                // capacity would refuse a legitimate bulk just past half the limit, once
                // the buffer's doubling overshoots.
                if self.input.len() > limit {
                    tracing::warn!(
                        client = self.client.info.id,
                        "closing client that reached max query buffer length"
                    );
                    return false;
                }
                true
            }
        }
    }

    /// Moves a pushed message into the output buffer; its bytes stay counted against the
    /// client's output buffer limit until the buffer is written.
    fn take_message(&mut self, msg: &PubMessage) {
        self.pushed_bytes += msg.size();
        encode_message(msg, self.client.resp3, &mut self.output);
    }

    /// Syncs the WAL if required, then writes the buffered replies; false on failure.
    async fn flush(&mut self) -> bool {
        let state = self.state.clone();
        if state.fsync_always.load(Ordering::Relaxed) {
            // No reply of this batch leaves before its writes are fsynced.
            let target = state.storage.engine().latest_sequence();
            let wrote = std::mem::take(&mut self.client.batch_wrote);
            // A batch that wrote cannot be acknowledged when the fsync failed: closing the
            // connection leaves its outcome unknown, as a crash would. A read-only batch is
            // answered anyway, so reads keep working while the disk is failing.
            if !state
                .group_commit
                .wait_durable(&state.storage, target)
                .await
                && wrote
            {
                return false;
            }
        } else if std::mem::take(&mut self.client.batch_wrote) {
            // The batch's writes reach the OS before its replies leave. A batch that wrote
            // nothing (PING, reads) does not touch the WAL: it would only wait behind other
            // clients' WAL writes and the background fsync for nothing it promised.
            if let Err(e) = state.storage.engine().flush_wal_buffer() {
                tracing::error!("WAL write failed: {e}");
                return false;
            }
        }
        if self.output.is_empty() {
            release_if_large(&mut self.output);
            release_if_large(&mut self.input);
            return true;
        }
        self.state
            .stats
            .net_output_bytes
            .fetch_add(self.output.len() as u64, Ordering::Relaxed);
        let info = self.client.info.clone();
        // The whole output (replies and pushed messages not yet taken) against the
        // client's class limit, as Redis checks its reply buffer: a reply past the hard
        // limit closes the connection without being sent.
        let queued = info
            .output_bytes
            .load(Ordering::Relaxed)
            .saturating_sub(self.pushed_bytes);
        let limits = &state.pubsub.limits;
        let class = if self.client.is_subscribed() {
            &limits.pubsub
        } else {
            &limits.normal
        };
        let total = self.output.len() + queued;
        if crate::pubsub::over_limit(class, &info, total, crate::storage::now_ms()) {
            tracing::warn!(
                client = info.id,
                "closing a client over its output buffer limit ({total} bytes of output)"
            );
            return false;
        }
        // A client that stops reading leaves this write waiting; being closed (an output
        // buffer limit, CLIENT KILL) must still end it.
        let ok = tokio::select! {
            written = self.socket.write_all(&self.output) => written.is_ok(),
            _ = info.killed() => false,
        };
        if self.pushed_bytes > 0 {
            let written = std::mem::take(&mut self.pushed_bytes);
            info.output_bytes.fetch_sub(written, Ordering::Relaxed);
            state.pubsub.limits.release(written);
        }
        self.output.clear();
        release_if_large(&mut self.output);
        release_if_large(&mut self.input);
        ok
    }

    /// Waits until the blocked command can be served; returns its reply, or `None` when the
    /// connection must close.
    async fn wait_blocked(&mut self, args: &[Bytes], request: BlockRequest) -> Option<Reply> {
        let info = self.client.info.clone();
        let state = self.state.clone();
        let deadline = async {
            match request.deadline {
                Some(d) => tokio::time::sleep_until(d.into()).await,
                None => std::future::pending::<()>().await,
            }
        };
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                _ = info.wake.notified() => {
                    if let Some(with_error) = info.unblock.lock().take() {
                        state.blocking.unregister(&info);
                        return Some(if with_error {
                            Reply::Error("UNBLOCKED client unblocked via CLIENT UNBLOCK".into())
                        } else {
                            request.timeout_reply.clone()
                        });
                    }
                    let reply = execute(&state, &mut self.client, args);
                    if self.client.block.take().is_some() {
                        for key in &request.keys {
                            state.blocking.signal_after(self.client.db, key, &info);
                        }
                        continue;
                    }
                    state.blocking.unregister(&info);
                    // Pass the signal on: the next waiter may find data too.
                    for key in &request.keys {
                        state.blocking.signal(self.client.db, key);
                    }
                    return Some(reply);
                }
                _ = &mut deadline => {
                    state.blocking.unregister(&info);
                    return Some(request.timeout_reply.clone());
                }
                r = self.socket.read_buf(&mut self.input) => {
                    if !self.account_read(r) {
                        state.blocking.unregister(&info);
                        return None;
                    }
                }
                _ = info.killed() => {
                    state.blocking.unregister(&info);
                    return None;
                }
                _ = self.shutdown.changed() => {
                    state.blocking.unregister(&info);
                    return None;
                }
            }
        }
    }
}

/// Buffer capacity a connection keeps between batches; a buffer grown past it (a large
/// argument or reply) is given back once empty, as Redis shrinks idle query and reply
/// buffers. Without this, every connection that once carried a 512 MiB value kept 512 MiB.
const KEEP_BUFFER: usize = 64 * 1024;

fn release_if_large(buf: &mut BytesMut) {
    if buf.is_empty() && buf.capacity() > KEEP_BUFFER {
        *buf = BytesMut::with_capacity(16 * 1024);
    }
}

/// Encodes a published message: a push in RESP3, an array in RESP2.
fn encode_message(msg: &PubMessage, resp3: bool, out: &mut BytesMut) {
    let items = match msg {
        PubMessage::Monitor(line) => {
            out.extend_from_slice(b"+");
            out.extend_from_slice(line);
            out.extend_from_slice(b"\r\n");
            return;
        }
        PubMessage::Invalidate { keys } => {
            let keys = keys.as_ref().map_or(Reply::Nil, |k| {
                Reply::Array(k.iter().cloned().map(Reply::Bulk).collect())
            });
            if resp3 {
                vec![Reply::bulk("invalidate"), keys]
            } else {
                vec![
                    Reply::bulk("message"),
                    Reply::bulk(crate::tracking::INVALIDATE_CHANNEL),
                    keys,
                ]
            }
        }
        PubMessage::TrackingRedirBroken(id) => {
            vec![Reply::bulk("tracking-redir-broken"), Reply::Int(*id as i64)]
        }
        PubMessage::Message { channel, payload } => {
            vec![
                Reply::bulk("message"),
                Reply::Bulk(channel.clone()),
                Reply::Bulk(payload.clone()),
            ]
        }
        PubMessage::SMessage { channel, payload } => {
            vec![
                Reply::bulk("smessage"),
                Reply::Bulk(channel.clone()),
                Reply::Bulk(payload.clone()),
            ]
        }
        PubMessage::PMessage {
            pattern,
            channel,
            payload,
        } => vec![
            Reply::bulk("pmessage"),
            Reply::Bulk(pattern.clone()),
            Reply::Bulk(channel.clone()),
            Reply::Bulk(payload.clone()),
        ],
    };
    Reply::Push(items).encode(out, resp3);
}

/// Runs every complete command in `input`, appending replies to `output`. Pipelined commands
/// the table marks `BATCH` run as one [`BatchedRun`] sharing a single engine write, which is
/// committed before anything else runs and before this returns.
fn run_batch(
    state: &ServerState,
    client: &mut ClientState,
    (parser, input): (&mut RequestParser, &mut BytesMut),
    output: &mut BytesMut,
    mut retry: Option<Vec<Bytes>>,
    mut may_yield: bool,
) -> Next {
    let max_bulk_len = state.config.get_int("proto-max-bulk-len");
    let mut batch: Option<BatchedRun<'_>> = None;
    loop {
        // Re-read per command: an `AUTH` earlier in the pipeline lifts the pre-auth limits.
        let limits = Limits {
            max_bulk_len,
            unauthenticated: !client.authenticated,
        };
        let retried = retry.is_some();
        let parsed = match retry.take() {
            Some(args) => Ok(Some(args)),
            None => parser.parse(input, limits),
        };
        let args = match parsed {
            Ok(Some(args)) => args,
            Ok(None) => return submit_run(state, client, batch.take(), output),
            Err(e) => {
                if !end_run(state, client, batch.take(), output) {
                    return Next::CloseNow;
                }
                Reply::Error(format!("ERR {}", e.0)).encode(output, client.resp3);
                return Next::CloseAfterWrite;
            }
        };
        if args.is_empty() {
            continue;
        }
        // Pipelined commands run batched, and so does a lone write (its write may then share
        // an engine write with other connections'); a lone read gains nothing from a run,
        // and neither does a lone write retried after finding its key locked: on a hot key
        // the ordinary path, which holds the lock for the write alone, serves the others
        // sooner (one key INCRed by 50 clients: 14-16 us of CPU per INCR that way, 19-22
        // through runs).
        let lone = batch.is_none() && input.is_empty();
        let (args, known) = if lone && retried {
            (args, None)
        } else {
            let mark = output.len();
            match execute_batched(state, client, args, &mut batch, mark, lone) {
                Ok(reply) => {
                    reply.encode(output, client.resp3);
                    continue;
                }
                Err(rejected) => rejected,
            }
        };
        if !end_run(state, client, batch.take(), output) {
            return Next::CloseNow;
        }
        let mode_before = client.reply_mode;
        client.pausable = true;
        let reply = if may_yield {
            execute_unless_busy(state, client, &args, known)
        } else {
            Some(execute(state, client, &args))
        };
        client.pausable = false;
        let Some(reply) = reply else {
            return Next::Yield(args);
        };
        may_yield = true;
        if client.held_by_pause {
            client.held_by_pause = false;
            return Next::Paused(args);
        }
        if client.close_now {
            return Next::CloseNow;
        }
        if client.block.is_some() {
            return Next::Block(args);
        }
        if client.handoff.is_some() {
            return Next::Handoff;
        }
        // RESP3 pushes (the confirmations of SUBSCRIBE and friends) are not replies:
        // CLIENT REPLY OFF/SKIP does not hold them back, as in Redis.
        let push = client.resp3 && reply.is_push();
        let send = match client.reply_mode {
            ReplyMode::On => true,
            ReplyMode::Off => false,
            ReplyMode::Skip => {
                if mode_before == ReplyMode::Skip {
                    client.reply_mode = ReplyMode::On;
                }
                false
            }
        } || push;
        if send {
            reply.encode(output, client.resp3);
        }
        if client.close_after_reply {
            return Next::CloseAfterWrite;
        }
    }
}

/// Ends the run open when the input is used up, through the commit queue: the connection
/// then awaits its writes if they were queued behind another connection's.
fn submit_run(
    state: &ServerState,
    client: &mut ClientState,
    batch: Option<BatchedRun<'_>>,
    output: &mut BytesMut,
) -> Next {
    let Some(batch) = batch else {
        return Next::Continue;
    };
    match submit_batched(state, batch) {
        Submission::Queued(run) => Next::AwaitCommit(run),
        Submission::Ended(ended) => match replay_if_needed(state, client, ended, output) {
            true => Next::Continue,
            false => Next::CloseNow,
        },
    }
}

/// Ends a batched run, if one is open: commits it, or when its write failed having written
/// nothing, replaces its replies by those of its commands run again one by one (they then
/// see the failure themselves). False when the connection must close: part of the run was
/// written, so no reply can be trusted.
fn end_run(
    state: &ServerState,
    client: &mut ClientState,
    batch: Option<BatchedRun<'_>>,
    output: &mut BytesMut,
) -> bool {
    let Some(batch) = batch else {
        return true;
    };
    replay_if_needed(state, client, finish_batched(state, batch), output)
}

/// Acts on how a run ended: false when the connection must close.
fn replay_if_needed(
    state: &ServerState,
    client: &mut ClientState,
    ended: RunEnd,
    output: &mut BytesMut,
) -> bool {
    match ended {
        RunEnd::Committed => true,
        RunEnd::Unknown => false,
        RunEnd::Replay {
            output_mark,
            commands,
        } => {
            output.truncate(output_mark);
            for args in commands {
                execute(state, client, &args).encode(output, client.resp3);
            }
            true
        }
    }
}
