//! Group commit for `appendfsync always`: connections ask for "everything up to sequence N
//! is fsynced" and await the answer; one dedicated thread performs fsyncs back to back, each
//! covering every write committed before it started. While one fsync runs, requests from any
//! number of connections accumulate and share the next one, and no tokio worker thread is
//! blocked waiting (Redis gets the same effect from one fsync per event-loop turn).
//!
//! A lone writer does not take the hop: when nobody else is waiting and the last fsync
//! served one connection, the connection fsyncs on its own worker thread, as Redis fsyncs
//! on its event-loop thread. The hand-offs to the syncing thread and back (a condvar wake,
//! then a tokio wake through the driver) cost a lone `always` SET ~0.08 ms of a ~0.4 ms
//! round trip on a 2-core VM; `block_in_place` would keep the worker's other tasks moving
//! but costs half of that again in its own thread hand-off. Blocking the worker for one
//! fsync is what a long command does too: the other workers keep serving, and the runtime
//! watchdog (`server::runtime_watchdog`) keeps the I/O driver polled meanwhile. At most one
//! writer syncs inline at a time, and only on a runtime with another worker.
//! Whoever fsyncs holds `sync_lock`, so the thread and an inline writer never overlap and
//! each round covers everything committed before it started.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use tokio::runtime::{Handle, RuntimeFlavor};
use tokio::sync::watch;

use super::Storage;

/// See [`GroupCommit::gather`].
const GATHER_STEP: Duration = Duration::from_micros(50);
const GATHER_MAX: Duration = Duration::from_micros(400);

/// Counts a connection as waiting for as long as it lives (also when its future is dropped
/// because the client went away).
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn new(count: &'a AtomicUsize) -> Waiting<'a> {
        count.fetch_add(1, Ordering::Relaxed);
        Waiting(count)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The latest fsynced sequence, and how many fsyncs failed so far. A waiter fails if an
/// fsync fails after it asked; later waiters get a fresh attempt (the disk may be back).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Synced {
    pub upto: u64,
    pub failures: u64,
}

pub struct GroupCommit {
    requested: Mutex<u64>,
    /// Connections currently waiting for an fsync.
    waiting: AtomicUsize,
    wake: Condvar,
    synced: watch::Sender<Synced>,
    stop: AtomicBool,
    /// Held for each fsync, by the syncing thread or by a lone writer syncing inline.
    sync_lock: Mutex<()>,
    /// How many connections the last fsync served (1 for an inline one that nobody joined).
    last_group: AtomicUsize,
    /// Whether the WAL fsync of the last round failed (logged once per outage).
    failing: AtomicBool,
}

impl Default for GroupCommit {
    fn default() -> Self {
        GroupCommit {
            requested: Mutex::new(0),
            waiting: AtomicUsize::new(0),
            wake: Condvar::new(),
            synced: watch::channel(Synced::default()).0,
            stop: AtomicBool::new(false),
            sync_lock: Mutex::new(()),
            last_group: AtomicUsize::new(0),
            failing: AtomicBool::new(false),
        }
    }
}

impl GroupCommit {
    /// Waits until every write up to `seq` is durable; false if syncing failed.
    pub async fn wait_durable(&self, storage: &Storage, seq: u64) -> bool {
        let mut rx = self.synced.subscribe();
        let failures_before = {
            let now = *rx.borrow();
            if now.upto >= seq {
                return true;
            }
            now.failures
        };
        if let Some(durable) = self.sync_inline_if_alone(storage, seq) {
            return durable;
        }
        {
            let mut requested = self.requested.lock();
            if *requested < seq {
                *requested = seq;
            }
            self.wake.notify_one();
        }
        let _waiting = Waiting::new(&self.waiting);
        let outcome = rx
            .wait_for(|s| s.upto >= seq || s.failures > failures_before)
            .await
            .map(|s| *s);
        matches!(outcome, Ok(s) if s.upto >= seq)
    }

    /// The lone-writer path (see the module doc): `None` when others are waiting or were
    /// in the last round, a fsync is running, or no other worker would serve the rest
    /// while this one blocks.
    fn sync_inline_if_alone(&self, storage: &Storage, seq: u64) -> Option<bool> {
        if self.waiting.load(Ordering::Relaxed) != 0 || self.last_group.load(Ordering::Relaxed) > 1
        {
            return None;
        }
        let other_workers = Handle::try_current().is_ok_and(|handle| {
            handle.runtime_flavor() == RuntimeFlavor::MultiThread
                && handle.metrics().num_workers() > 1
        });
        if !other_workers {
            return None;
        }
        let guard = self.sync_lock.try_lock()?;
        let outcome = self.sync_round(storage);
        // Connections that asked while this fsync ran wait for the thread's next round;
        // their number steers the next writer to the thread too.
        self.last_group
            .store(1 + self.waiting.load(Ordering::Relaxed), Ordering::Relaxed);
        drop(guard);
        Some(matches!(outcome, Some(covered) if covered >= seq))
    }

    /// One fsync, with `sync_lock` held by the caller: publishes the sequence it covered
    /// (returned) or the failure (`None`).
    fn sync_round(&self, storage: &Storage) -> Option<u64> {
        // Everything committed before this point is covered by the fsync below.
        let covering = storage.engine().latest_sequence();
        match storage.engine().sync_wal() {
            Ok(()) => {
                self.failing.store(false, Ordering::Relaxed);
                self.synced.send_modify(|s| s.upto = s.upto.max(covering));
                Some(covering)
            }
            Err(e) => {
                // The waiters of this round get an error; later ones get a new attempt
                // (the disk may come back), logged once per outage.
                if !self.failing.swap(true, Ordering::Relaxed) {
                    tracing::error!("WAL fsync failed: {e}");
                }
                self.synced.send_modify(|s| s.failures += 1);
                None
            }
        }
    }

    /// Lets a group form before fsyncing: while other connections keep asking (their writes
    /// are landing), waits a little longer, up to [`GATHER_MAX`]. Only done when the last
    /// fsync served several connections, so a lone writer is not delayed. Each fsync costs
    /// this machine's kernel ~0.3 ms of CPU, so fsyncing every few writes starves the writers
    /// themselves: measured with 50 clients, SET under `always` went from 24k ops/s (no
    /// wait) to 37k (a fixed 300 us wait) and 35-42k with this adaptive one.
    fn gather(&self) {
        let started = Instant::now();
        let mut seen = *self.requested.lock();
        while started.elapsed() < GATHER_MAX {
            std::thread::sleep(GATHER_STEP);
            let now = *self.requested.lock();
            if now == seen {
                return;
            }
            seen = now;
        }
    }

    /// Stops [`GroupCommit::run`] (after the connections it serves are gone).
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        self.wake.notify_one();
    }

    /// The syncing loop; runs on its own thread until [`GroupCommit::stop`].
    pub fn run(&self, storage: &Storage) {
        // The sleeps below are a few tens of microseconds: the default 50 us timer slack
        // would double them.
        // SAFETY: prctl(PR_SET_TIMERSLACK) only changes this thread's timer slack.
        unsafe {
            libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong);
        }
        loop {
            {
                let mut requested = self.requested.lock();
                while *requested <= self.synced.borrow().upto && !self.stop.load(Ordering::SeqCst) {
                    self.wake
                        .wait_for(&mut requested, Duration::from_millis(100));
                }
            }
            if self.stop.load(Ordering::SeqCst) {
                return;
            }
            if self.last_group.load(Ordering::Relaxed) > 1 {
                self.gather();
            }
            let guard = self.sync_lock.lock();
            // A lone writer may have fsynced meanwhile, covering what was asked.
            if *self.requested.lock() <= self.synced.borrow().upto {
                continue;
            }
            self.last_group
                .store(self.waiting.load(Ordering::Relaxed), Ordering::Relaxed);
            let synced = self.sync_round(storage);
            drop(guard);
            if synced.is_none() {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::types::string::{SetCondition, TtlChange};
    use std::sync::Arc;

    fn storage_with_a_write() -> (tempfile::TempDir, Arc<Storage>, u64) {
        let (dir, storage) = crate::storage::test_storage();
        storage
            .set_string(0, b"k", b"v", SetCondition::Always, TtlChange::Clear, false)
            .unwrap();
        let seq = storage.engine().latest_sequence();
        assert!(seq > 0);
        (dir, Arc::new(storage), seq)
    }

    fn two_workers() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap()
    }

    /// Polls `done` for up to 10 s.
    fn eventually(what: &str, done: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done() {
            assert!(Instant::now() < deadline, "timed out waiting until {what}");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn a_lone_writer_fsyncs_on_its_own_worker_without_the_syncing_thread() {
        let (_dir, storage, seq) = storage_with_a_write();
        let commit = Arc::new(GroupCommit::default());
        // No syncing thread runs: only the inline path can answer.
        let (c, s) = (commit.clone(), storage.clone());
        let durable = two_workers()
            .block_on(
                async move { tokio::spawn(async move { c.wait_durable(&s, seq).await }).await },
            )
            .unwrap();
        assert!(durable);
        assert!(commit.synced.borrow().upto >= seq);
        assert_eq!(commit.last_group.load(Ordering::Relaxed), 1);
        assert!(commit.sync_lock.try_lock().is_some());
    }

    /// Starts a waiter on `runtime` and returns once it is counted as waiting for the
    /// syncing thread (so it did not sync inline), with nothing synced yet.
    fn waiter_that_queues(
        runtime: &tokio::runtime::Runtime,
        commit: &Arc<GroupCommit>,
        storage: &Arc<Storage>,
        seq: u64,
    ) -> tokio::task::JoinHandle<bool> {
        let (c, s) = (commit.clone(), storage.clone());
        let waiter = runtime.spawn(async move { c.wait_durable(&s, seq).await });
        eventually("the waiter queues", || {
            commit.waiting.load(Ordering::Relaxed) == 1
        });
        assert_eq!(commit.synced.borrow().upto, 0);
        waiter
    }

    /// Runs the syncing thread until `waiter` is answered; returns its answer.
    fn answered_by_the_thread(
        runtime: &tokio::runtime::Runtime,
        commit: &Arc<GroupCommit>,
        storage: &Arc<Storage>,
        waiter: tokio::task::JoinHandle<bool>,
    ) -> bool {
        let (c, s) = (commit.clone(), storage.clone());
        let thread = std::thread::spawn(move || c.run(&s));
        let durable = runtime.block_on(waiter).unwrap();
        commit.stop();
        thread.join().unwrap();
        durable
    }

    #[test]
    fn a_writer_after_a_shared_fsync_waits_for_the_syncing_thread() {
        let (_dir, storage, seq) = storage_with_a_write();
        let commit = Arc::new(GroupCommit::default());
        // The last fsync served several connections: company is likely, so join the group.
        commit.last_group.store(3, Ordering::Relaxed);
        let runtime = two_workers();
        let waiter = waiter_that_queues(&runtime, &commit, &storage, seq);
        assert!(answered_by_the_thread(&runtime, &commit, &storage, waiter));
        assert!(commit.synced.borrow().upto >= seq);
    }

    #[test]
    fn a_writer_on_a_single_worker_runtime_never_blocks_it() {
        let (_dir, storage, seq) = storage_with_a_write();
        let commit = Arc::new(GroupCommit::default());
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .build()
            .unwrap();
        let waiter = waiter_that_queues(&runtime, &commit, &storage, seq);
        assert!(answered_by_the_thread(&runtime, &commit, &storage, waiter));
    }
}
