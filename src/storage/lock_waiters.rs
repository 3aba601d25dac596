//! Connections waiting for a key stripe or the global lock without holding a thread
//! (`storage::locks`), and who to wake when a holder lets go.
//!
//! A waiter registers for what blocked it: one stripe, taken for reading or writing, or the
//! global lock. A release wakes, per stripe that has waiters and is now free, *one* writer
//! or *every* reader (readers can all take the stripe at once), and every waiter of the
//! global lock when it is free. Before, one release woke every waiting connection of the
//! server: fifty clients on one hot key meant forty-nine tasks woken, each looking its
//! command up again, failing and registering again, for every command that held the key
//! (about a fifth of the server's CPU under `LPOP` at pipeline 16, benches/PROFILE.md).
//!
//! No wake-up is lost: a waiter registers (counts itself, marks its stripe, makes its
//! `Notified`) *before* it checks the lock once more; a holder releases, then (after a
//! `SeqCst` fence) reads the count and the marks. So either the waiter's check sees the
//! release, or the holder's scan sees the waiter. A writer woken by `notify_one` that is
//! dropped before it runs passes the wake-up on (tokio's `Notified` does so on drop); one
//! that ran and lost the stripe to a newcomer waits again and is woken by the newcomer's
//! release. Holders outside the command gate (a full sync, a failover) release without a
//! wake-up; the waiter's periodic re-check covers them. Depends only on `locks`.

use std::sync::atomic::{fence, AtomicU64, AtomicUsize, Ordering};

use parking_lot::RwLock;
use tokio::sync::futures::Notified;
use tokio::sync::Notify;

use super::locks::{Access, KeyLocks, STRIPES};

thread_local! {
    /// A release on this thread woke a connection waiting for a stripe (see
    /// [`take_woke_waiter`]).
    static WOKE_WAITER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether a release on this thread woke a stripe's waiter since the last call. A
/// connection that handed its hot key on this way lets the woken one run before it writes
/// its own replies: the key is free now, and the woken task would otherwise wait behind
/// the reply's `sendto` for the worker.
pub fn take_woke_waiter() -> bool {
    WOKE_WAITER.replace(false)
}

/// What a waiting command found taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blocker {
    /// The global lock, held exclusively (a transaction, a script, FLUSHALL ...).
    Global,
    /// A key stripe, held in a way that keeps `Access` out.
    Stripe(usize, Access),
}

#[derive(Default)]
struct StripeWaiters {
    readers: AtomicUsize,
    writers: AtomicUsize,
    /// Woken all at once: every reader can take a free stripe.
    readers_released: Notify,
    /// Woken one at a time: only one writer can take it.
    writers_released: Notify,
}

pub struct LockWaiters {
    /// Every registered waiter: the release path's only cost while nobody waits.
    waiting: AtomicUsize,
    global_waiting: AtomicUsize,
    global_released: Notify,
    stripes: Box<[StripeWaiters]>,
    /// One bit per stripe that may have waiters: set by a waiter after it counts itself,
    /// cleared by a release that finds the stripe's counts at zero (and set again if a
    /// count rose meanwhile).
    marked: Box<[AtomicU64]>,
}

impl Default for LockWaiters {
    fn default() -> Self {
        LockWaiters {
            waiting: AtomicUsize::new(0),
            global_waiting: AtomicUsize::new(0),
            global_released: Notify::new(),
            stripes: (0..STRIPES).map(|_| StripeWaiters::default()).collect(),
            marked: (0..STRIPES.div_ceil(64))
                .map(|_| AtomicU64::new(0))
                .collect(),
        }
    }
}

/// Counts its connection as waiting for as long as it lives.
pub struct Waiting<'a> {
    waiters: &'a LockWaiters,
    blocker: Blocker,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        let w = self.waiters;
        w.counter(self.blocker).fetch_sub(1, Ordering::SeqCst);
        w.waiting.fetch_sub(1, Ordering::SeqCst);
    }
}

impl LockWaiters {
    fn counter(&self, blocker: Blocker) -> &AtomicUsize {
        match blocker {
            Blocker::Global => &self.global_waiting,
            Blocker::Stripe(s, Access::Shared) => &self.stripes[s].readers,
            Blocker::Stripe(s, Access::Exclusive) => &self.stripes[s].writers,
        }
    }

    /// Registers a waiter for `blocker` and returns the wake-up it should await. The caller
    /// enables the future, then checks the lock once more before awaiting: a release after
    /// the registration wakes it, one before it is seen by the check.
    pub fn register(&self, blocker: Blocker) -> (Waiting<'_>, Notified<'_>) {
        // Counted before marked, so a release that clears the mark sees the count.
        self.counter(blocker).fetch_add(1, Ordering::SeqCst);
        let notify = match blocker {
            Blocker::Global => &self.global_released,
            Blocker::Stripe(s, access) => {
                self.marked[s / 64].fetch_or(1 << (s % 64), Ordering::SeqCst);
                match access {
                    Access::Shared => &self.stripes[s].readers_released,
                    Access::Exclusive => &self.stripes[s].writers_released,
                }
            }
        };
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let waiting = Waiting {
            waiters: self,
            blocker,
        };
        (waiting, notify.notified())
    }

    /// Wakes whoever can now take what it waits for; call after releasing a lock.
    pub fn wake(&self, locks: &KeyLocks, global: &RwLock<()>) {
        // Orders the release before the loads: otherwise a waiter that registered just
        // after them could miss both the release and the wake-up.
        fence(Ordering::SeqCst);
        if self.waiting.load(Ordering::SeqCst) == 0 {
            return;
        }
        if self.global_waiting.load(Ordering::SeqCst) > 0 && !global.is_locked_exclusive() {
            self.global_released.notify_waiters();
        }
        for (word_index, word) in self.marked.iter().enumerate() {
            let mut bits = word.load(Ordering::SeqCst);
            while bits != 0 {
                let stripe = word_index * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                self.wake_stripe(locks, stripe);
            }
        }
    }

    fn wake_stripe(&self, locks: &KeyLocks, stripe: usize) {
        let waiters = &self.stripes[stripe];
        let readers = waiters.readers.load(Ordering::SeqCst);
        let writers = waiters.writers.load(Ordering::SeqCst);
        if readers == 0 && writers == 0 {
            let bit = 1 << (stripe % 64);
            self.marked[stripe / 64].fetch_and(!bit, Ordering::SeqCst);
            // A waiter that counted itself meanwhile may have marked before the clear.
            if waiters.readers.load(Ordering::SeqCst) + waiters.writers.load(Ordering::SeqCst) > 0 {
                self.marked[stripe / 64].fetch_or(bit, Ordering::SeqCst);
            }
            return;
        }
        if readers > 0 && locks.is_free_for(stripe, Access::Shared) {
            waiters.readers_released.notify_waiters();
            WOKE_WAITER.set(true);
        }
        if writers > 0 && locks.is_free_for(stripe, Access::Exclusive) {
            waiters.writers_released.notify_one();
            WOKE_WAITER.set(true);
        }
    }

    /// Wakes the waiters when dropped: declared before a lock guard, it runs after it.
    pub fn wake_on_drop<'a>(
        &'a self,
        locks: &'a KeyLocks,
        global: &'a RwLock<()>,
    ) -> WakeOnDrop<'a> {
        WakeOnDrop {
            waiters: self,
            locks,
            global,
        }
    }
}

pub struct WakeOnDrop<'a> {
    waiters: &'a LockWaiters,
    locks: &'a KeyLocks,
    global: &'a RwLock<()>,
}

impl Drop for WakeOnDrop<'_> {
    fn drop(&mut self) {
        self.waiters.wake(self.locks, self.global);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    /// Whether a pinned `Notified` has been woken, without waiting for it.
    fn is_woken(notified: &mut Pin<&mut Notified<'_>>) -> bool {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        matches!(notified.as_mut().poll(&mut cx), Poll::Ready(()))
    }

    fn stripe_of(locks: &KeyLocks, key: &[u8]) -> usize {
        let guard = locks.lock([key]);
        let stripe = locks.first_held([key], Access::Exclusive).unwrap();
        drop(guard);
        stripe
    }

    #[test]
    fn a_release_wakes_one_writer_per_free_stripe_and_none_of_a_held_one() {
        let (locks, global, waiters) =
            (KeyLocks::default(), RwLock::new(()), LockWaiters::default());
        let hot = stripe_of(&locks, b"hot");
        let other = (0..)
            .map(|i: u32| stripe_of(&locks, format!("other{i}").as_bytes()))
            .find(|&s| s != hot)
            .unwrap();
        let holder = locks.lock([&b"hot"[..]]);
        let (_w1, n1) = waiters.register(Blocker::Stripe(hot, Access::Exclusive));
        let (_w2, n2) = waiters.register(Blocker::Stripe(hot, Access::Exclusive));
        let (_w3, n3) = waiters.register(Blocker::Stripe(other, Access::Exclusive));
        tokio::pin!(n1, n2, n3);
        for n in [&mut n1, &mut n2, &mut n3] {
            n.as_mut().enable();
        }
        // Still held: nothing is woken.
        waiters.wake(&locks, &global);
        assert!(!is_woken(&mut n1) && !is_woken(&mut n2));
        drop(holder);
        waiters.wake(&locks, &global);
        let woken = [is_woken(&mut n1), is_woken(&mut n2)];
        assert_eq!(woken.iter().filter(|&&w| w).count(), 1, "{woken:?}");
        // The other stripe was free all along, so its writer was woken too; a second
        // release of the hot stripe wakes the second writer.
        assert!(is_woken(&mut n3));
        waiters.wake(&locks, &global);
        assert!(is_woken(&mut n1) && is_woken(&mut n2));
    }

    #[test]
    fn readers_are_woken_together_once_the_writer_leaves() {
        let (locks, global, waiters) =
            (KeyLocks::default(), RwLock::new(()), LockWaiters::default());
        let hot = stripe_of(&locks, b"hot");
        let writer = locks.lock([&b"hot"[..]]);
        let (_r1, n1) = waiters.register(Blocker::Stripe(hot, Access::Shared));
        let (_r2, n2) = waiters.register(Blocker::Stripe(hot, Access::Shared));
        tokio::pin!(n1, n2);
        n1.as_mut().enable();
        n2.as_mut().enable();
        drop(writer);
        let reader = locks.lock_for([&b"hot"[..]], Access::Shared);
        // Another reader holds it: readers may still enter.
        waiters.wake(&locks, &global);
        assert!(is_woken(&mut n1) && is_woken(&mut n2));
        drop(reader);
    }

    #[test]
    fn a_woken_writer_dropped_unpolled_passes_the_wake_up_on() {
        let (locks, global, waiters) =
            (KeyLocks::default(), RwLock::new(()), LockWaiters::default());
        let hot = stripe_of(&locks, b"hot");
        let (w1, n1) = waiters.register(Blocker::Stripe(hot, Access::Exclusive));
        let (_w2, n2) = waiters.register(Blocker::Stripe(hot, Access::Exclusive));
        let mut n1 = Box::pin(n1);
        tokio::pin!(n2);
        n1.as_mut().enable();
        n2.as_mut().enable();
        waiters.wake(&locks, &global);
        // The first registered got it; it goes away without running.
        drop((n1, w1));
        assert!(is_woken(&mut n2));
    }

    #[test]
    fn global_waiters_are_woken_when_the_global_lock_is_free() {
        let (locks, global, waiters) =
            (KeyLocks::default(), RwLock::new(()), LockWaiters::default());
        let exclusive = global.write();
        let (waiting, n) = waiters.register(Blocker::Global);
        tokio::pin!(n);
        n.as_mut().enable();
        waiters.wake(&locks, &global);
        assert!(!is_woken(&mut n));
        drop(exclusive);
        waiters.wake(&locks, &global);
        assert!(is_woken(&mut n));
        drop(waiting);
        assert_eq!(waiters.waiting.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn a_release_reports_whether_it_handed_the_stripe_on() {
        let (locks, global, waiters) =
            (KeyLocks::default(), RwLock::new(()), LockWaiters::default());
        let hot = stripe_of(&locks, b"hot");
        take_woke_waiter();
        // Nobody waits: a lone client's release hands nothing on.
        waiters.wake(&locks, &global);
        assert!(!take_woke_waiter());
        let holder = locks.lock([&b"hot"[..]]);
        let (_w, n) = waiters.register(Blocker::Stripe(hot, Access::Exclusive));
        tokio::pin!(n);
        n.as_mut().enable();
        // Still held: a release of something else wakes no one for it.
        waiters.wake(&locks, &global);
        assert!(!take_woke_waiter());
        drop(holder);
        waiters.wake(&locks, &global);
        assert!(take_woke_waiter());
        assert!(!take_woke_waiter(), "the flag is cleared by reading it");
    }

    #[test]
    fn marks_of_stripes_nobody_waits_for_are_cleared() {
        let (locks, global, waiters) =
            (KeyLocks::default(), RwLock::new(()), LockWaiters::default());
        let hot = stripe_of(&locks, b"hot");
        drop(waiters.register(Blocker::Stripe(hot, Access::Exclusive)));
        assert_ne!(waiters.marked[hot / 64].load(Ordering::SeqCst), 0);
        // Someone else still waits, so the scan runs and clears the stale mark.
        let _other = waiters.register(Blocker::Global);
        waiters.wake(&locks, &global);
        assert_eq!(waiters.marked[hot / 64].load(Ordering::SeqCst), 0);
    }
}
