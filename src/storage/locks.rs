//! Striped key locks and the global lock (DESIGN §5).
//!
//! A command locks the stripes of all its keys, sorted and de-duplicated, so two multi-key
//! commands can never deadlock. Stripes ignore the database number, which lets `MOVE`/`COPY
//! ... DB` hold one lock for both sides. The global lock is taken shared by ordinary commands
//! and exclusively by those that touch whole databases (`FLUSHALL`, `FLUSHDB`, `SWAPDB`,
//! transactions and scripts).
//!
//! A connection whose command finds a lock taken waits for it asynchronously
//! ([`LockWaiters`]): it parks its task, not a thread, and is woken when a holder lets go.
//! Waiting on the lock itself (a blocked OS thread) is the fallback for exclusive commands,
//! which need the lock's writer fairness, and for a wait that went on too long. Before
//! this, every waiting connection took a thread of its own (`block_in_place`): under a long
//! script a hundred connections became a hundred runnable threads the moment it ended, and
//! the runtime's two workers, the ones answering everyone else, got a fiftieth of the CPU.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering};

use parking_lot::{Mutex, MutexGuard};
use tokio::sync::futures::Notified;
use tokio::sync::Notify;

const STRIPES: usize = 1024;

pub struct KeyLocks {
    stripes: Box<[Mutex<()>]>,
    /// Per stripe: a command found it taken since its holder locked it (see
    /// [`KeyLocks::any_held`]). The commit queue does not queue a run holding a wanted
    /// stripe: on a hot key, waiting for company only makes the others wait longer.
    wanted: Box<[AtomicBool]>,
}

/// Held stripes; released when dropped.
pub struct KeyGuard<'a> {
    _guards: Vec<MutexGuard<'a, ()>>,
}

/// Stripes accumulated over a run of pipelined commands (see `storage::deferred`), taken
/// without waiting so a run never blocks while it holds any.
#[derive(Default)]
pub struct HeldStripes<'a> {
    held: Vec<(usize, MutexGuard<'a, ()>)>,
}

impl HeldStripes<'_> {
    /// Gives up the guards without unlocking: the stripes stay locked until
    /// [`KeyLocks::force_unlock`] is called for each returned index (by the commit queue,
    /// possibly on another thread).
    pub fn detach(self) -> Vec<usize> {
        self.held
            .into_iter()
            .map(|(stripe, guard)| {
                std::mem::forget(guard);
                stripe
            })
            .collect()
    }
}

impl Default for KeyLocks {
    fn default() -> Self {
        KeyLocks {
            stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
            wanted: (0..STRIPES).map(|_| AtomicBool::new(false)).collect(),
        }
    }
}

impl KeyLocks {
    fn stripe_of(key: &[u8]) -> usize {
        let mut h = DefaultHasher::new();
        key.hash(&mut h);
        (h.finish() as usize) % STRIPES
    }

    /// Whether another command holds a stripe of `keys` right now (a hint: it may change at
    /// once). A held stripe is marked wanted.
    pub fn any_held<'k>(&self, keys: impl IntoIterator<Item = &'k [u8]>) -> bool {
        keys.into_iter().any(|k| {
            let stripe = Self::stripe_of(k);
            let held = self.stripes[stripe].is_locked();
            if held {
                self.mark_wanted(stripe);
            }
            held
        })
    }

    fn mark_wanted(&self, stripe: usize) {
        // Read before writing: contenders retry often, and a store each time would bounce
        // the flag's cache line between the cores.
        if !self.wanted[stripe].load(Ordering::Relaxed) {
            self.wanted[stripe].store(true, Ordering::Relaxed);
        }
    }

    /// Whether a command found one of `stripes` taken since it was locked; clears the marks.
    pub fn take_wanted(&self, stripes: &[usize]) -> bool {
        stripes.iter().fold(false, |any, &s| {
            self.wanted[s].swap(false, Ordering::Relaxed) | any
        })
    }

    /// Locks every stripe covering `keys`, in ascending stripe order.
    pub fn lock<'k>(&self, keys: impl IntoIterator<Item = &'k [u8]>) -> KeyGuard<'_> {
        let mut idx: Vec<usize> = keys.into_iter().map(Self::stripe_of).collect();
        idx.sort_unstable();
        idx.dedup();
        KeyGuard {
            _guards: idx.into_iter().map(|i| self.stripes[i].lock()).collect(),
        }
    }

    /// [`KeyLocks::lock`] without waiting: `None` (holding nothing) when a stripe is taken.
    pub fn try_lock<'k>(&self, keys: impl IntoIterator<Item = &'k [u8]>) -> Option<KeyGuard<'_>> {
        let mut idx: Vec<usize> = keys.into_iter().map(Self::stripe_of).collect();
        idx.sort_unstable();
        idx.dedup();
        let guards = idx
            .into_iter()
            .map(|i| self.stripes[i].try_lock())
            .collect::<Option<Vec<_>>>()?;
        Some(KeyGuard { _guards: guards })
    }

    /// Unlocks a stripe whose guard was detached ([`HeldStripes::detach`]).
    ///
    /// # Safety
    /// `stripe` must be locked by a detached guard that nothing else releases: each
    /// detached stripe is unlocked exactly once.
    pub unsafe fn force_unlock(&self, stripe: usize) {
        // SAFETY: guaranteed by the caller; parking_lot's mutex may be unlocked from any
        // thread.
        unsafe { self.stripes[stripe].force_unlock() }
    }

    /// Adds the stripes of `keys` not already in `held`, without waiting; false when one is
    /// taken by someone else (the stripes gained so far stay held).
    pub fn try_lock_more<'a, 'k>(
        &'a self,
        held: &mut HeldStripes<'a>,
        keys: impl IntoIterator<Item = &'k [u8]>,
    ) -> bool {
        for stripe in keys.into_iter().map(Self::stripe_of) {
            if held.held.iter().any(|(s, _)| *s == stripe) {
                continue;
            }
            match self.stripes[stripe].try_lock() {
                Some(guard) => held.held.push((stripe, guard)),
                None => {
                    self.mark_wanted(stripe);
                    return false;
                }
            }
        }
        true
    }
}

/// Connections waiting for a lock without holding a thread. A holder calls
/// [`LockWaiters::wake`] after releasing; that is one atomic load while nobody waits.
#[derive(Default)]
pub struct LockWaiters {
    waiting: AtomicUsize,
    released: Notify,
}

/// Counts its connection as waiting for as long as it lives.
pub struct Waiting<'a>(&'a LockWaiters);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::SeqCst);
    }
}

impl LockWaiters {
    /// Registers a waiter and returns the wake-up it should await. The caller enables the
    /// future, then checks the lock once more before awaiting: a release after the
    /// registration wakes it, one before it is seen by the check.
    pub fn register(&self) -> (Waiting<'_>, Notified<'_>) {
        self.waiting.fetch_add(1, Ordering::SeqCst);
        (Waiting(self), self.released.notified())
    }

    /// Wakes every waiter (each retries its command); call after releasing a lock.
    pub fn wake(&self) {
        // Orders the release before the load: otherwise a waiter that registered just
        // after the load could miss both the release and the wake-up.
        fence(Ordering::SeqCst);
        if self.waiting.load(Ordering::SeqCst) > 0 {
            self.released.notify_waiters();
        }
    }

    /// Wakes the waiters when dropped: declared before a lock guard, it runs after it.
    pub fn wake_on_drop(&self) -> WakeOnDrop<'_> {
        WakeOnDrop(self)
    }
}

pub struct WakeOnDrop<'a>(&'a LockWaiters);

impl Drop for WakeOnDrop<'_> {
    fn drop(&mut self) {
        self.0.wake();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_registered_waiter_is_woken_by_a_release() {
        let waiters = LockWaiters::default();
        let (count, notified) = waiters.register();
        tokio::pin!(notified);
        notified.as_mut().enable();
        waiters.wake();
        notified.await;
        drop(count);
        assert_eq!(waiters.waiting.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn same_key_twice_does_not_deadlock() {
        let locks = KeyLocks::default();
        let _g = locks.lock([&b"a"[..], b"a", b"b"]);
        drop(_g);
        let _again = locks.lock([&b"a"[..]]);
    }

    #[test]
    fn try_lock_takes_all_or_nothing() {
        let locks = KeyLocks::default();
        let other = locks.lock([&b"c"[..]]);
        assert!(locks.try_lock([&b"a"[..], b"c"]).is_none());
        // Nothing of the failed attempt stays held.
        assert!(
            !locks.any_held([&b"a"[..]]) || KeyLocks::stripe_of(b"a") == KeyLocks::stripe_of(b"c")
        );
        drop(other);
        assert!(locks.try_lock([&b"a"[..], b"a", b"c"]).is_some());
    }

    #[test]
    fn held_stripes_are_not_taken_twice_and_busy_ones_are_refused() {
        let locks = KeyLocks::default();
        let mut held = HeldStripes::default();
        assert!(locks.try_lock_more(&mut held, [&b"a"[..], b"b"]));
        assert!(locks.try_lock_more(&mut held, [&b"a"[..]]));
        let other = locks.lock([&b"c"[..]]);
        assert!(!locks.try_lock_more(&mut held, [&b"c"[..]]));
        drop(other);
        assert!(locks.try_lock_more(&mut held, [&b"c"[..]]));
        drop(held);
        let _all = locks.lock([&b"a"[..], b"b", b"c"]);
    }
}
