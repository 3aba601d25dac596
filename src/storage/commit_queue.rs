//! The commit queue: write sets of different connections share one engine write, the way
//! Redis's event loop writes the AOF buffer of every client it served in one pass
//! (docs/commit-queue.md).
//!
//! A connection that ends a run of commands (`storage::deferred`) with writes pending hands
//! them here with the key stripes and the shared global lock the run holds. When no engine
//! write of the queue is in progress it becomes the *leader*: it writes its own set at once
//! (a lone client waits for nobody), lets its own locks go, and then writes whatever other
//! connections queued meanwhile, merged into one `WriteBatch`, again and again until the
//! queue is empty. A connection that finds a write in progress *queues* its set with its
//! locks and awaits the outcome asynchronously: its worker thread goes on serving other
//! connections instead of sleeping in RocksDB's write group, and those connections' writes
//! join the same next batch.
//!
//! Invariants: a queued set's locks stay held until its batch is written (nobody can read or
//! write its keys before the write is visible), and are released by the leader — never by
//! the queued connection, whose task may not be polled while both workers are busy. The
//! queue is empty whenever no leader runs, and a leader that unwinds from a panic fails and
//! releases everything queued (a [`Leadership`] guard), so no lock is ever left held.
//!
//! Depends on `locks` (stripe indices, released with `force_unlock`), the storage commit and
//! tokio's oneshot channel; nothing above storage.

use parking_lot::Mutex;
use tokio::sync::oneshot;

use super::deferred::DeferredOutcome;
use super::{Storage, WriteSet};
use crate::error::{StoreError, StoreResult};

/// Locks a run holds, detached from their guards so that whichever thread writes the run's
/// batch can release them: the stripe indices and whether the global lock is held shared.
pub struct HeldLocks {
    stripes: Vec<usize>,
    global_shared: bool,
}

impl HeldLocks {
    /// Detaches a run's guards (the global lock's shared guard, if it holds one, and its
    /// key stripes): the locks stay held until the queue releases them.
    pub fn detach(
        global: Option<parking_lot::RwLockReadGuard<'_, ()>>,
        stripes: super::locks::HeldStripes<'_>,
    ) -> HeldLocks {
        let global_shared = global.map(std::mem::forget).is_some();
        HeldLocks {
            stripes: stripes.detach(),
            global_shared,
        }
    }

    /// Releases the locks. Called exactly once per `HeldLocks`, by the queue.
    fn release(self, storage: &Storage) {
        for stripe in self.stripes {
            // SAFETY: the stripe was locked by the run and its guard forgotten when this
            // value was made (`HeldStripes::detach`); nothing else unlocks it.
            unsafe { storage.locks.force_unlock(stripe) };
        }
        if self.global_shared {
            // SAFETY: likewise for the shared guard of the global lock (`detach_global`).
            unsafe { storage.global.force_unlock_read() };
        }
        storage.wake_lock_waiters();
    }
}

/// A run's pending writes waiting for the leader.
struct Queued {
    ws: WriteSet,
    sets: u64,
    locks: HeldLocks,
    done: oneshot::Sender<StoreResult<()>>,
}

#[derive(Default)]
struct QueueState {
    /// A leader is writing (its own set or queued ones).
    writing: bool,
    queued: Vec<Queued>,
}

#[derive(Default)]
pub struct CommitQueue {
    state: Mutex<QueueState>,
}

/// What [`Storage::submit_deferred`] did with a run.
pub enum Submitted {
    /// Written (or failed) on this thread; the run's locks are released.
    Done(DeferredOutcome),
    /// Queued behind another connection's write: await [`CommitTicket::outcome`].
    Queued(CommitTicket),
}

/// A queued run's claim on its outcome.
pub struct CommitTicket {
    done: oneshot::Receiver<StoreResult<()>>,
    /// Part of the run already reached the engine before it was queued.
    wrote: bool,
}

impl CommitTicket {
    /// Waits for the leader to write the run's batch (its locks are released by then).
    pub async fn outcome(self) -> DeferredOutcome {
        let result = self.done.await.unwrap_or_else(|_| {
            // The leader fails and answers every queued run before it lets go, even when
            // it unwinds; a dropped sender is a bug, and its outcome is unknown.
            Err(StoreError::Engine("commit queue dropped a write".into()))
        });
        outcome(result, self.wrote)
    }
}

fn outcome(result: StoreResult<()>, wrote: bool) -> DeferredOutcome {
    match result {
        Ok(()) => DeferredOutcome::Committed,
        Err(e) if wrote => DeferredOutcome::PartlyWritten(e),
        Err(e) => DeferredOutcome::NothingWritten(e),
    }
}

/// Answers a run the queue could not write, and lets its locks go.
fn abort(storage: &Storage, locks: HeldLocks, done: oneshot::Sender<StoreResult<()>>) {
    locks.release(storage);
    let _ = done.send(Err(StoreError::Engine(
        "the write of this batch was aborted".into(),
    )));
}

/// Releases the submitting run's own locks when dropped, unless they were handed on (to
/// the queue) or released already: a write that unwinds leaves no stripe locked.
struct OwnLocks<'a> {
    storage: &'a Storage,
    locks: Option<HeldLocks>,
}

impl OwnLocks<'_> {
    fn release(&mut self) {
        if let Some(locks) = self.locks.take() {
            locks.release(self.storage);
        }
    }
}

impl Drop for OwnLocks<'_> {
    fn drop(&mut self) {
        self.release();
    }
}

/// Held by the thread that leads while it writes. Should a write unwind, dropping it fails
/// and releases every run still queued and gives up leadership. When leadership ends
/// normally (`lead` found the queue empty) it is forgotten instead: by then another thread
/// may lead, and its queue is not ours to empty.
struct Leadership<'a> {
    storage: &'a Storage,
}

impl Drop for Leadership<'_> {
    fn drop(&mut self) {
        let left = {
            let mut state = self.storage.commit_queue.state.lock();
            state.writing = false;
            std::mem::take(&mut state.queued)
        };
        for q in left {
            abort(self.storage, q.locks, q.done);
        }
    }
}

impl Storage {
    /// Ends this thread's deferral like [`Storage::finish_deferred`], but commits through the
    /// commit queue, and releases `locks` (the run's) once its writes are visible.
    pub fn submit_deferred(&self, locks: HeldLocks) -> Submitted {
        let mut own = OwnLocks {
            storage: self,
            locks: Some(locks),
        };
        let Some((ws, sets, wrote)) = self.take_deferred() else {
            return Submitted::Done(self.finish_deferred());
        };
        // A stripe another command is waiting for is a hot key: queueing would hold it
        // through someone else's write as well as its own (measured: INCR of one key by 50
        // clients lost a quarter of its throughput), so such a run writes at once, beside
        // the leader, as every write did before the queue.
        let hot = own
            .locks
            .as_ref()
            .is_some_and(|l| self.locks.take_wanted(&l.stripes));
        if hot {
            return Submitted::Done(outcome(self.commit_now(ws, sets), wrote));
        }
        {
            let mut state = self.commit_queue.state.lock();
            if state.writing {
                let (done, rx) = oneshot::channel();
                if let Some(locks) = own.locks.take() {
                    state.queued.push(Queued {
                        ws,
                        sets,
                        locks,
                        done,
                    });
                }
                return Submitted::Queued(CommitTicket { done: rx, wrote });
            }
            state.writing = true;
        }
        let leadership = Leadership { storage: self };
        let result = self.commit_now(ws, sets);
        own.release();
        self.lead();
        std::mem::forget(leadership);
        Submitted::Done(outcome(result, wrote))
    }

    /// Writes what other connections queued, one merged batch per round, until a round finds
    /// the queue empty (leadership ends there, under the queue's mutex).
    fn lead(&self) {
        loop {
            let round = {
                let mut state = self.commit_queue.state.lock();
                if state.queued.is_empty() {
                    state.writing = false;
                    return;
                }
                std::mem::take(&mut state.queued)
            };
            let mut merged = WriteSet::default();
            let mut sets = 0;
            let mut waiters = Vec::with_capacity(round.len());
            for q in round {
                merged.merge(q.ws);
                sets += q.sets;
                waiters.push((q.locks, q.done));
            }
            // Should the write unwind, the guard still answers these runs and frees their
            // locks.
            let mut pending = ReleaseOnUnwind {
                storage: self,
                waiters,
            };
            let result = self.commit_now(merged, sets);
            for (locks, done) in std::mem::take(&mut pending.waiters) {
                locks.release(self);
                let _ = done.send(result.clone());
            }
        }
    }
}

/// Aborts a round's runs if its write unwinds.
struct ReleaseOnUnwind<'a> {
    storage: &'a Storage,
    waiters: Vec<(HeldLocks, oneshot::Sender<StoreResult<()>>)>,
}

impl Drop for ReleaseOnUnwind<'_> {
    fn drop(&mut self) {
        for (locks, done) in self.waiters.drain(..) {
            abort(self.storage, locks, done);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::locks::{Access, HeldStripes};
    use crate::storage::types::string::{SetCondition, TtlChange};

    use crate::storage::test_storage as storage;

    /// Opens a run holding `key`'s stripe and the global lock shared, and stages `SET key
    /// value` in it; returns the run's locks.
    fn run_setting(storage: &Storage, key: &[u8], value: &[u8]) -> HeldLocks {
        let global = storage.global.try_read().unwrap();
        let mut stripes = HeldStripes::default();
        assert!(storage.locks.try_lock_more(&mut stripes, [key]));
        storage.begin_deferred();
        storage
            .set_string(0, key, value, SetCondition::Always, TtlChange::Clear, false)
            .unwrap();
        HeldLocks::detach(Some(global), stripes)
    }

    fn outcome_of(ticket: CommitTicket) -> DeferredOutcome {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(ticket.outcome())
    }

    fn value(storage: &Storage, key: &[u8]) -> Option<Vec<u8>> {
        storage.get_string(0, key).unwrap()
    }

    #[test]
    fn a_lone_run_is_written_at_once_and_lets_its_locks_go() {
        let (_dir, storage) = storage();
        let locks = run_setting(&storage, b"k", b"v");
        assert!(matches!(
            storage.submit_deferred(locks),
            Submitted::Done(DeferredOutcome::Committed)
        ));
        assert_eq!(value(&storage, b"k"), Some(b"v".to_vec()));
        assert!(!storage.locks.any_held([&b"k"[..]], Access::Exclusive));
        assert!(storage.global.try_write().is_some());
        assert!(!storage.commit_queue.state.lock().writing);
    }

    #[test]
    fn a_run_queued_behind_a_write_keeps_its_locks_until_the_leader_writes_it() {
        let (_dir, storage) = storage();
        // Another connection is writing.
        storage.commit_queue.state.lock().writing = true;
        let locks = run_setting(&storage, b"k", b"v");
        let Submitted::Queued(ticket) = storage.submit_deferred(locks) else {
            panic!("a run submitted during a write must queue");
        };
        // Not visible yet, and nobody else can touch the key or take the global lock.
        assert_eq!(value(&storage, b"k"), None);
        assert!(storage.locks.any_held([&b"k"[..]], Access::Exclusive));
        assert!(storage.global.try_write().is_none());
        // The writing connection finishes and drains the queue.
        storage.lead();
        assert!(matches!(outcome_of(ticket), DeferredOutcome::Committed));
        assert_eq!(value(&storage, b"k"), Some(b"v".to_vec()));
        assert!(!storage.locks.any_held([&b"k"[..]], Access::Exclusive));
        assert!(storage.global.try_write().is_some());
        assert!(!storage.commit_queue.state.lock().writing);
    }

    #[test]
    fn runs_queued_together_are_written_in_one_batch() {
        let (_dir, storage) = storage();
        storage.commit_queue.state.lock().writing = true;
        let tickets: Vec<CommitTicket> = [&b"a"[..], b"b", b"c"]
            .into_iter()
            .map(
                |key| match storage.submit_deferred(run_setting(&storage, key, key)) {
                    Submitted::Queued(ticket) => ticket,
                    Submitted::Done(_) => panic!("must queue"),
                },
            )
            .collect();
        let before = storage.engine().latest_sequence();
        storage.lead();
        // One engine write: three meta records and one merged key-count delta take four
        // sequence numbers (three separate writes would take six, a delta each).
        let after = storage.engine().latest_sequence();
        assert_eq!(after - before, 4);
        for ticket in tickets {
            assert!(matches!(outcome_of(ticket), DeferredOutcome::Committed));
        }
        for key in [&b"a"[..], b"b", b"c"] {
            assert_eq!(value(&storage, key), Some(key.to_vec()));
        }
        assert_eq!(storage.key_count(0), 3);
        assert_eq!(
            storage
                .stats
                .changes
                .load(std::sync::atomic::Ordering::Relaxed),
            3
        );
    }

    #[test]
    fn a_leader_that_unwinds_fails_and_releases_what_is_queued() {
        let (_dir, storage) = storage();
        storage.commit_queue.state.lock().writing = true;
        let Submitted::Queued(ticket) = storage.submit_deferred(run_setting(&storage, b"k", b"v"))
        else {
            panic!("must queue");
        };
        // What a panicking leader's unwinding does: its guard drops.
        drop(Leadership { storage: &storage });
        assert!(matches!(
            outcome_of(ticket),
            DeferredOutcome::NothingWritten(_)
        ));
        assert_eq!(value(&storage, b"k"), None);
        assert!(!storage.locks.any_held([&b"k"[..]], Access::Exclusive));
        assert!(storage.global.try_write().is_some());
        // The queue works again.
        let locks = run_setting(&storage, b"k", b"w");
        assert!(matches!(
            storage.submit_deferred(locks),
            Submitted::Done(DeferredOutcome::Committed)
        ));
        assert_eq!(value(&storage, b"k"), Some(b"w".to_vec()));
    }
}
