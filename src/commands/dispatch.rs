//! The one dispatch gate. Every command — from a socket, from `EXEC` and from Lua's
//! `redis.call` — passes here: lookup (with `rename-command` applied), subcommand
//! resolution, arity, authentication, locking from the table's key spec and flags, then the
//! handler, then the side effects the handler reported (WATCH, wake-ups, keyspace events),
//! then statistics. Handlers can therefore assume valid arity and held locks.
//!
//! Nothing here may occupy every runtime worker: commands flagged `EXCLUSIVE` or
//! `OFF_WORKER` run in `block_in_place`, and a lock that is not free at once is waited for
//! there too. A handler that panics is answered with `-ERR` here (`answer_panic`), so no
//! panic reaches a client, a script's VM or the connection task.

use std::sync::atomic::Ordering;
use std::time::Instant;

use bytes::Bytes;

use super::table::{flags, keys_of, Command};
use super::Ctx;
use crate::client::ClientState;
use crate::error::{CmdError, CmdResult};
use crate::protocol::Reply;
use crate::state::ServerState;
use crate::storage::commit_queue::{CommitTicket, HeldLocks, Submitted};
use crate::storage::deferred::DeferredOutcome;
use crate::storage::hot_tier::without_touch;
use crate::storage::lock_waiters::Blocker;
use crate::storage::locks::{Access, HeldStripes};

/// Redis's "unknown command" text: the name and up to ~128 bytes of arguments.
fn unknown_command(args: &[Bytes]) -> CmdError {
    let mut shown = String::new();
    for arg in &args[1..] {
        if shown.len() >= 128 {
            break;
        }
        let room = 128 - shown.len();
        let text = String::from_utf8_lossy(&arg[..arg.len().min(room)]).into_owned();
        shown.push_str(&format!("'{text}' "));
    }
    let name = String::from_utf8_lossy(&args[0][..args[0].len().min(128)]).into_owned();
    CmdError::UnknownCommand { name, args: shown }
}

/// Resolves `args` to a command (or subcommand) and its full name (`client|list`).
/// A command found in the table, with the name it is reported under.
pub type Resolved = (&'static Command, &'static str);

pub fn resolve(state: &ServerState, args: &[Bytes]) -> Result<Resolved, CmdError> {
    let cmd = state
        .commands
        .lookup(&args[0])
        .ok_or_else(|| unknown_command(args))?;
    if cmd.subcommands.is_empty() || (args.len() == 1 && cmd.handler.is_some()) {
        return Ok((cmd, cmd.name));
    }
    if args.len() == 1 {
        return Err(CmdError::WrongArity(cmd.name.to_string()));
    }
    match cmd.find_sub(&args[1]) {
        Some(sub) => Ok((sub, state.commands.full_name(sub))),
        None => Err(CmdError::UnknownSubcommand {
            cmd: cmd.name.to_ascii_uppercase(),
            sub: String::from_utf8_lossy(&args[1][..args[1].len().min(128)]).into_owned(),
        }),
    }
}

/// Whether the caller already holds the locks the command needs (commands run by `EXEC`,
/// which holds the global lock exclusively, and those of a [`BatchedRun`]).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Locking {
    Take,
    Held,
}

/// Commands that run at once inside `MULTI` instead of being queued.
const TRANSACTION_CONTROL: &[&str] = &["exec", "discard", "multi", "watch", "quit", "reset"];

const LOCK_POLL: std::time::Duration = std::time::Duration::from_millis(10);

/// Waits for the global lock, giving up (`None`: reply `-BUSY`) once a script holding it has
/// run past `busy-reply-threshold`, as Redis answers clients during a long script.
fn wait_for_lock<G>(state: &ServerState, mut try_lock: impl FnMut() -> Option<G>) -> Option<G> {
    loop {
        if let Some(guard) = try_lock() {
            return Some(guard);
        }
        if state.scripting.is_busy() {
            return None;
        }
    }
}

/// Runs one command and returns its reply (errors included).
pub fn execute(state: &ServerState, client: &mut ClientState, args: &[Bytes]) -> Reply {
    run(state, client, args, Locking::Take)
}

/// A run of pipelined commands whose writes share one engine write (`storage::deferred`).
/// It holds the global lock shared and every key stripe its commands touched until it ends,
/// so no other client sees a key whose write is still pending.
pub struct BatchedRun<'a> {
    storage: &'a crate::storage::Storage,
    /// Always `Some` until the run is submitted to the commit queue.
    global: Option<parking_lot::RwLockReadGuard<'a, ()>>,
    stripes: HeldStripes<'a>,
    /// The run's commands, to answer them again if its write fails having written nothing.
    commands: Vec<Vec<Bytes>>,
    /// Length of the reply buffer when the run began.
    output_mark: usize,
}

impl Drop for BatchedRun<'_> {
    fn drop(&mut self) {
        // Only reached without `finish_batched` when a command panicked: none of the run's
        // replies was sent, so its pending writes are dropped with it.
        self.storage.discard_deferred();
    }
}

/// Commands per run at most: a run holds its keys' locks until it ends, so a long pipeline
/// is cut into runs rather than making other clients wait for all of it.
const MAX_RUN: usize = 256;

/// How a [`BatchedRun`] ended.
pub enum RunEnd {
    Committed,
    /// The write failed with nothing written: the replies from `output_mark` on must be
    /// discarded and these commands run again, one by one.
    Replay {
        output_mark: usize,
        commands: Vec<Vec<Bytes>>,
    },
    /// Part of the run was written before a write failed: the outcome is unknown.
    Unknown,
}

/// Runs `args` as part of `batch` (opening one if needed) when the table marks it `BATCH`
/// and its locks are free right now. Hands `args` back when it must run on its own (the
/// caller ends the run first, then calls [`execute`]). The run keeps the arguments it ran,
/// to answer them again if its write fails.
///
/// A `lone` command (nothing pipelined before or after it) opens a run only when it writes:
/// its write can then share an engine write with other connections' (`commit_queue`).
pub fn execute_batched<'a>(
    state: &'a ServerState,
    client: &mut ClientState,
    args: Vec<Bytes>,
    batch: &mut Option<BatchedRun<'a>>,
    output_len: usize,
    lone: bool,
) -> Result<Reply, (Vec<Bytes>, Option<Resolved>)> {
    let storage = &state.storage;
    let Ok(resolved) = resolve(state, &args) else {
        return Err((args, None));
    };
    let cmd = resolved.0;
    let joins_runs = (cmd.has(flags::BATCH) && (!lone || cmd.has(flags::WRITE)))
        || (cmd.has(flags::BATCH_PIPELINED) && !lone);
    let eligible = joins_runs
        && cmd.arity_ok(args.len())
        && client.authenticated
        && client.multi.is_none()
        && client.reply_mode == crate::client::ReplyMode::On
        && !client.is_subscribed()
        && !storage.writes_failing()
        && !(state.pause.maybe() && state.pause.active(crate::storage::now_ms()))
        && client.caching.is_none()
        && batch.as_ref().is_none_or(|b| b.commands.len() < MAX_RUN);
    if !eligible {
        return Err((args, Some(resolved)));
    }
    // A lone write whose key is busy (a hot key) goes straight to the ordinary path, which
    // yields and waits, without building a run only to drop it.
    if lone
        && storage
            .locks
            .any_held(keys_of(cmd, &args), Access::Exclusive)
    {
        return Err((args, Some(resolved)));
    }
    let run_state = match batch {
        Some(run_state) => run_state,
        None => {
            let Some(global) = storage.global.try_read() else {
                return Err((args, Some(resolved)));
            };
            storage.begin_deferred();
            batch.insert(BatchedRun {
                storage,
                global: Some(global),
                stripes: HeldStripes::default(),
                commands: Vec::new(),
                output_mark: output_len,
            })
        }
    };
    if !storage
        .locks
        .try_lock_more(&mut run_state.stripes, keys_of(cmd, &args))
    {
        return Err((args, Some(resolved)));
    }
    run_state.commands.push(args);
    let args = &run_state.commands[run_state.commands.len() - 1];
    Ok(run_resolved(state, client, args, resolved, Locking::Held))
}

/// [`execute`], unless `args` would have to wait for a lock another command holds right
/// now: then `None`, and the caller lets other connections run, or waits for
/// `storage.lock_waiters`, before trying again. `known` is the command when the caller
/// already looked it up (so it is not looked up twice).
pub fn execute_unless_busy(
    state: &ServerState,
    client: &mut ClientState,
    args: &[Bytes],
    known: Option<Resolved>,
) -> Option<Reply> {
    let resolved = known.or_else(|| args.first().and_then(|_| resolve(state, args).ok()));
    let Some(resolved) = resolved else {
        return Some(execute(state, client, args));
    };
    if lock_taken(state, client, resolved.0, args) {
        return None;
    }
    Some(run_resolved(state, client, args, resolved, Locking::Take))
}

/// The lock `args` would wait for right now, if any (a hint: it may change at once),
/// checked again by a connection about to wait for a release.
pub fn would_wait(state: &ServerState, client: &ClientState, args: &[Bytes]) -> Option<Blocker> {
    args.first()
        .and_then(|_| resolve(state, args).ok())
        .and_then(|(cmd, ..)| lock_blocker(state, client, cmd, args))
}

/// Commands queued by MULTI take no locks, and those that fail the gate need none either.
/// Exclusive commands wait in the gate, parked on the lock: its writer fairness keeps a
/// stream of shared holders from starving them. While a script is busy the gate answers
/// `-BUSY` without waiting.
fn lock_taken(state: &ServerState, client: &ClientState, cmd: &Command, args: &[Bytes]) -> bool {
    lock_blocker(state, client, cmd, args).is_some()
}

/// [`lock_taken`], naming the lock found taken.
fn lock_blocker(
    state: &ServerState,
    client: &ClientState,
    cmd: &Command,
    args: &[Bytes],
) -> Option<Blocker> {
    if client.multi.is_some()
        || !cmd.arity_ok(args.len())
        || cmd.has(flags::EXCLUSIVE)
        || state.scripting.is_busy()
    {
        return None;
    }
    let keys = keys_of(cmd, args);
    if keys.is_empty() && !cmd.has(flags::WRITE) {
        return None;
    }
    if state.storage.global.try_read().is_none() {
        return Some(Blocker::Global);
    }
    let access = key_access(cmd);
    let stripe = state.storage.locks.first_held(keys, access)?;
    Some(Blocker::Stripe(stripe, access))
}

/// How a command outside a run holds its keys' stripes: shared when it only reads. A
/// read-only command that may still write (PFCOUNT caches its estimate) or parks as a
/// blocked client takes them exclusively, as everything else does.
fn key_access(cmd: &Command) -> Access {
    if cmd.has(flags::READONLY) && !cmd.has(flags::WRITE | flags::MAY_REPLICATE | flags::BLOCKING) {
        Access::Shared
    } else {
        Access::Exclusive
    }
}

/// Ends a run: commits its writes, then releases its locks.
pub fn finish_batched(state: &ServerState, mut batch: BatchedRun<'_>) -> RunEnd {
    let outcome = state.storage.finish_deferred();
    let commands = std::mem::take(&mut batch.commands);
    let output_mark = batch.output_mark;
    drop(batch);
    state.storage.wake_lock_waiters();
    run_end(outcome, commands, output_mark)
}

/// A run whose writes wait in the commit queue behind another connection's.
pub struct QueuedRun {
    ticket: CommitTicket,
    commands: Vec<Vec<Bytes>>,
    output_mark: usize,
}

impl QueuedRun {
    /// Waits for the run's batch to be written; its locks are released by then.
    pub async fn end(self) -> RunEnd {
        run_end(self.ticket.outcome().await, self.commands, self.output_mark)
    }
}

/// How [`submit_batched`] left a run.
pub enum Submission {
    Ended(RunEnd),
    Queued(QueuedRun),
}

/// Ends a run through the commit queue: written at once when no other connection's write
/// is in progress, otherwise queued (with its locks) to share the next engine write. Only
/// for a run that ends with the connection's input (the caller can then await it before
/// anything else of the connection runs).
pub fn submit_batched(state: &ServerState, mut batch: BatchedRun<'_>) -> Submission {
    let locks = HeldLocks::detach(batch.global.take(), std::mem::take(&mut batch.stripes));
    let commands = std::mem::take(&mut batch.commands);
    let output_mark = batch.output_mark;
    let submitted = state.storage.submit_deferred(locks);
    drop(batch);
    match submitted {
        Submitted::Done(outcome) => Submission::Ended(run_end(outcome, commands, output_mark)),
        Submitted::Queued(ticket) => Submission::Queued(QueuedRun {
            ticket,
            commands,
            output_mark,
        }),
    }
}

fn run_end(outcome: DeferredOutcome, commands: Vec<Vec<Bytes>>, output_mark: usize) -> RunEnd {
    match outcome {
        DeferredOutcome::Committed => RunEnd::Committed,
        DeferredOutcome::NothingWritten(e) => {
            tracing::warn!(
                "a pipelined run's write failed ({e}); running its {} commands one by one",
                commands.len()
            );
            RunEnd::Replay {
                output_mark,
                commands,
            }
        }
        DeferredOutcome::PartlyWritten(e) => {
            tracing::error!("a pipelined run failed half-written, closing its client: {e}");
            RunEnd::Unknown
        }
    }
}

/// Applies what the handler reported it changed (`client.effects` from `from` on), while
/// the command's key locks are still held: `WATCH`ers of modified keys are marked (so an
/// `EXEC` that checks its watches after taking the global lock cannot miss the write),
/// clients blocked on any reported key are woken, and the keyspace events are published (and relayed to
/// replicas) in the order the handler reported them. Nothing is guessed from the command's key
/// arguments: a `SETNX` that wrote nothing, or the source keys of `SUNIONSTORE`, report
/// nothing and so touch nothing.
fn apply_effects(state: &ServerState, client: &mut ClientState, from: usize) {
    // A command that parked (XREADGROUP BLOCK creating its consumer) made nothing available
    // to waiters, and must not wake itself.
    let wake = client.block.is_none();
    let tracking = state.tracking.active();
    let writer = client.info.id;
    for effect in client.effects.drain(from..) {
        if effect.modified {
            state.watches.touch(effect.db, &effect.key);
            if tracking {
                state.tracking.invalidate(&effect.key, Some(writer));
            }
        }
        if wake {
            state.blocking.signal(effect.db, &effect.key);
        }
        if let Some((class, event)) = effect.event {
            state.notify(class, event, effect.db, &effect.key);
        }
    }
}

/// Runs `call` where it does not hold a runtime worker: `block_in_place` on the
/// multi-threaded runtime the server uses; directly anywhere else (tests, fuzz harnesses).
pub(crate) fn off_worker<T>(call: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(call)
        }
        _ => call(),
    }
}

/// Runs a handler, turning a panic into an error reply. A panic is a bug, never an outage:
/// the locks and guards the command held are released as the panic unwinds, the connection
/// stays usable, and the log names the command but not its arguments (they may be secrets).
fn answer_panic(full_name: &str, handler: impl FnOnce() -> CmdResult<Reply>) -> CmdResult<Reply> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(handler)) {
        Ok(result) => result,
        Err(_) => {
            tracing::error!(command = full_name, "command handler panicked");
            Err(CmdError::custom(format!(
                "ERR internal error while running '{full_name}' (a bug: the server logged it)"
            )))
        }
    }
}

/// Runs a command queued by `MULTI`; the caller (`EXEC`) holds the global lock exclusively.
pub fn execute_queued(state: &ServerState, client: &mut ClientState, args: &[Bytes]) -> Reply {
    run(state, client, args, Locking::Held)
}

fn rejected(
    state: &ServerState,
    client: &mut ClientState,
    stats: Option<&super::table::CommandStats>,
    err: CmdError,
) -> Reply {
    if let Some(s) = stats {
        s.rejected.fetch_add(1, Ordering::Relaxed);
    }
    if client.multi.is_some() {
        client.multi_error = true;
    }
    // A rejected command still consumes CLIENT CACHING, as Redis resets it per command.
    if client.multi.is_none() {
        client.caching = None;
    }
    let text = err.to_wire();
    state.error_stats.count(text.as_bytes());
    Reply::Error(text)
}

fn run(state: &ServerState, client: &mut ClientState, args: &[Bytes], locking: Locking) -> Reply {
    if args.is_empty() {
        return Reply::Error(CmdError::custom("ERR empty command").to_wire());
    }
    match resolve(state, args) {
        Ok(found) => run_resolved(state, client, args, found, locking),
        Err(e) => rejected(state, client, None, e),
    }
}

/// [`run`] for a command already looked up by [`resolve`].
fn run_resolved(
    state: &ServerState,
    client: &mut ClientState,
    args: &[Bytes],
    (cmd, full_name): (&'static Command, &'static str),
    locking: Locking,
) -> Reply {
    let stats = state.commands.stats(full_name);
    // The last command received, as CLIENT LIST shows it (a queued or rejected one too).
    client.info.touch();
    *client.info.last_cmd.lock() = full_name;
    if !cmd.arity_ok(args.len()) {
        return rejected(
            state,
            client,
            stats,
            CmdError::WrongArity(full_name.to_string()),
        );
    }
    if !client.authenticated && !cmd.has(flags::NO_AUTH) {
        return rejected(state, client, stats, CmdError::NoAuth);
    }
    let facts = stats.map(|s| s.acl);
    if let Err(denied) = super::permissions::check(state, client, cmd, (full_name, facts), args) {
        return rejected(state, client, stats, denied);
    }
    if state.replication.loading.load(Ordering::Relaxed) && !cmd.has(flags::LOADING) {
        return rejected(state, client, stats, CmdError::Loading);
    }
    // A replica's data changes only through its primary's stream (see `replication`).
    if cmd.has(flags::WRITE)
        && !client.primary_link
        && state.replication.refuses_client_writes(&state.storage)
    {
        return rejected(state, client, stats, CmdError::ReadOnlyReplica);
    }
    if cmd.has(flags::WRITE) && !state.replication.enough_replicas_to_write() {
        return rejected(state, client, stats, CmdError::NoReplicas);
    }
    // After the READONLY check, as in Redis: a write on a stale replica is still READONLY.
    if !cmd.has(flags::STALE) && state.replication.refuses_stale_reads() {
        return rejected(state, client, stats, CmdError::MasterDown);
    }
    let Some(handler) = cmd.handler else {
        return Reply::Error(CmdError::WrongArity(full_name.to_string()).to_wire());
    };
    if !client.resp3
        && client.is_subscribed()
        && !super::pubsub::ALLOWED_WHEN_SUBSCRIBED.contains(&cmd.name)
    {
        return rejected(
            state,
            client,
            stats,
            super::pubsub::subscribed_mode_error(full_name),
        );
    }
    if locking == Locking::Take
        && client.multi.is_some()
        && !TRANSACTION_CONTROL.contains(&cmd.name)
    {
        if cmd.has(flags::NO_MULTI) {
            return rejected(
                state,
                client,
                stats,
                CmdError::custom("ERR Command not allowed inside a transaction"),
            );
        }
        if let Some(queue) = client.multi.as_mut() {
            queue.push(args.to_vec());
        }
        client.sync_multi_count();
        return Reply::status("QUEUED");
    }

    if locking == Locking::Take && !cmd.has(flags::ALLOW_BUSY) && state.scripting.is_busy() {
        return rejected(
            state,
            client,
            stats,
            CmdError::custom(crate::scripting::BUSY_ERROR),
        );
    }

    if cmd.has(flags::SKIP_MONITOR) && state.monitors.active() {
        feed_monitors(state, client, full_name, args);
    }
    let started: Instant;
    let writes_before = crate::storage::engine::writes_on_this_thread();
    let key_args = keys_of(cmd, args);
    let result = {
        let storage = &state.storage;
        // Declared first, so it runs last: connections waiting for these locks retry.
        let _wake = storage.wake_lock_waiters_on_drop();
        let _global_exclusive;
        let _global_shared;
        let _keys;
        if locking == Locking::Held {
            // EXEC holds the global lock exclusively: nothing else runs.
        } else if cmd.has(flags::EXCLUSIVE) {
            // Waits (for a script, a transaction, a long command) happen off the runtime's
            // workers, so waiting clients cannot occupy them all and starve the rest.
            let guard = storage.global.try_write().or_else(|| {
                off_worker(|| wait_for_lock(state, || storage.global.try_write_for(LOCK_POLL)))
            });
            match guard {
                Some(guard) => _global_exclusive = guard,
                None => {
                    return rejected(
                        state,
                        client,
                        stats,
                        CmdError::custom(crate::scripting::BUSY_ERROR),
                    )
                }
            }
        } else if !key_args.is_empty() || cmd.has(flags::WRITE) {
            let guard = storage.global.try_read().or_else(|| {
                off_worker(|| wait_for_lock(state, || storage.global.try_read_for(LOCK_POLL)))
            });
            match guard {
                Some(guard) => _global_shared = guard,
                None => {
                    return rejected(
                        state,
                        client,
                        stats,
                        CmdError::custom(crate::scripting::BUSY_ERROR),
                    )
                }
            }
            let keys = key_args.iter().copied();
            let access = key_access(cmd);
            _keys = storage
                .locks
                .try_lock_for(keys.clone(), access)
                .unwrap_or_else(|| off_worker(|| storage.locks.lock_for(keys, access)));
        }
        // Checked with the locks held: a CLIENT PAUSE takes the global lock once, so no
        // command that passed this point can still write after the pause answered OK.
        if client.pausable && paused(state, client, cmd) {
            client.held_by_pause = true;
            return Reply::Nil;
        }
        // Time spent waiting for the locks is not the command's own: SLOWLOG, LATENCY and
        // INFO commandstats count execution only, as Redis (which never waits) does.
        started = Instant::now();
        // TOUCH is the one read a NO-TOUCH client still counts, as in Redis.
        let untouched = cmd.has(flags::NO_TOUCH)
            || (client.info.no_touch.load(Ordering::Relaxed) && cmd.name != "touch");
        // A command run by EXEC or a script reports into its caller's list: its own
        // reports start here.
        let effects_from = client.effects.len();
        let mut ctx = Ctx { state, client };
        let mut call = move || {
            answer_panic(full_name, || {
                if untouched {
                    without_touch(|| handler(&mut ctx, args))
                } else {
                    handler(&mut ctx, args)
                }
            })
        };
        let result = if cmd.has(flags::EXCLUSIVE | flags::OFF_WORKER) && locking == Locking::Take {
            // A script may run for seconds, a KEYS over millions of keys too: hand this
            // worker's queued tasks to another thread first, or connections parked behind it
            // could not even get -BUSY, and two such commands would starve every client.
            off_worker(call)
        } else {
            call()
        };
        // Keys the handler created without naming them in a report still get their `new`
        // (and none is left over for the next command; empty, this costs nothing).
        Ctx { state, client }.report_created();
        // Whatever the handler reported happened, even if it then failed.
        if client.effects.len() > effects_from {
            apply_effects(state, client, effects_from);
        }
        // Remembered under the key locks, so a write cannot slip between the read and its
        // registration and leave the reader's cache stale. Scripts' own key arguments are
        // not reads (their `redis.call`s are, through the script's client).
        if result.is_ok()
            && client.tracking.is_some()
            && cmd.has(flags::READONLY)
            && cmd.group != "scripting"
            && !key_args.is_empty()
        {
            remember_reads(state, client, &key_args);
        }
        result
    };
    if std::mem::take(&mut client.flushed) && state.tracking.active() {
        state.tracking.invalidate_all();
    }
    let reply = match result {
        Ok(reply) => {
            // A blocking command that parked wrote nothing. A command that is not flagged
            // WRITE may still have written (a script, SCRIPT LOAD): the engine's count says.
            let engine_wrote = crate::storage::engine::writes_on_this_thread() != writes_before;
            if (cmd.has(flags::WRITE) && client.block.is_none()) || engine_wrote {
                client.batch_wrote = true;
            }
            reply
        }
        Err(e) => Reply::Error(e.to_wire()),
    };
    // MULTI, EXEC, DISCARD or RESET changed the transaction state: publish it.
    if client.multi.is_some() != (client.info.multi.load(Ordering::Relaxed) >= 0) {
        client.sync_multi_count();
    }
    // CLIENT CACHING applies to the next command (a whole transaction, for MULTI).
    if client.caching.is_some()
        && locking == Locking::Take
        && !matches!(full_name, "client|caching" | "multi")
    {
        client.caching = None;
    }
    let micros = started.elapsed().as_micros() as u64;
    state.stats.total_commands.fetch_add(1, Ordering::Relaxed);
    if let Some(s) = stats {
        s.calls.fetch_add(1, Ordering::Relaxed);
        s.usec.fetch_add(micros, Ordering::Relaxed);
        if reply.is_error() {
            s.failed.fetch_add(1, Ordering::Relaxed);
        }
        if state.latency_tracking.load(Ordering::Relaxed) {
            s.latency.record(micros);
        }
    }
    let ms = micros / 1000;
    if state.latency.wants(ms) {
        let event = if cmd.has(flags::FAST) {
            crate::latency::FAST_COMMAND
        } else {
            crate::latency::COMMAND
        };
        state
            .latency
            .record(event, ms, crate::storage::now_ms() / 1000);
    }
    if let Reply::Error(text) = &reply {
        state.error_stats.count(text.as_bytes());
    }
    // EXEC is not logged itself: the commands it ran are, one by one.
    if !cmd.has(flags::SKIP_SLOWLOG) {
        record_slow(state, client, full_name, args, micros);
    }
    // Administrative commands are not shown to MONITOR, as in Redis (CONFIG SET may carry
    // secrets, and MONITOR itself is one).
    if state.monitors.active() && !cmd.has(flags::ADMIN | flags::SKIP_MONITOR) {
        feed_monitors(state, client, full_name, args);
    }
    reply
}

/// Records a tracking client's read of `keys`, as its OPTIN/OPTOUT and CLIENT CACHING
/// choose (BCAST clients remember nothing).
fn remember_reads(state: &ServerState, client: &ClientState, keys: &[&[u8]]) {
    let Some(options) = &client.tracking else {
        return;
    };
    let track = if options.bcast {
        false
    } else if options.optin {
        client.caching == Some(true)
    } else if options.optout {
        client.caching != Some(false)
    } else {
        true
    };
    if track {
        state.tracking.remember(client.info.id, keys);
    }
}

/// Whether `CLIENT PAUSE` holds `cmd` back now. EXEC may write when any command it would
/// run may.
fn paused(state: &ServerState, client: &ClientState, cmd: &Command) -> bool {
    if !state.pause.maybe() {
        return false;
    }
    let now = crate::storage::now_ms();
    if !state.pause.active(now) {
        return false;
    }
    let writes = |c: &Command| c.has(flags::WRITE | flags::MAY_REPLICATE);
    let may_write = writes(cmd)
        || (cmd.name == "exec"
            && client.multi.as_ref().is_some_and(|queue| {
                queue
                    .iter()
                    .any(|args| resolve(state, args).is_ok_and(|(c, _)| writes(c)))
            }));
    state.pause.holds_back(may_write, now)
}

fn feed_monitors(state: &ServerState, client: &ClientState, full_name: &str, args: &[Bytes]) {
    let origin = if client.in_script {
        "lua"
    } else {
        client.info.addr.as_str()
    };
    let now_us = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64);
    state.monitors.feed(
        &state.pubsub.limits,
        crate::monitor::line(now_us, client.db, origin, full_name, args),
    );
}

fn record_slow(
    state: &ServerState,
    client: &ClientState,
    full_name: &str,
    args: &[Bytes],
    micros: u64,
) {
    let threshold = state.slowlog_threshold_us.load(Ordering::Relaxed);
    if threshold < 0 || micros < threshold as u64 {
        return;
    }
    // A script's commands come from Redis's "fake" Lua client: no address, no name.
    let (addr, name) = if client.in_script {
        ("?:0".to_string(), String::new())
    } else {
        (client.info.addr.clone(), client.info.name.lock().clone())
    };
    let done = crate::slowlog::Finished {
        full_name,
        args,
        micros,
        addr,
        name,
    };
    let max_len = state.config.get_int("slowlog-max-len").max(0) as usize;
    let now = crate::storage::now_ms() / 1000;
    state.slowlog.record(threshold, max_len, now, done);
}
