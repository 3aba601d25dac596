//! Striped key locks and the global lock (DESIGN §5).
//!
//! A command locks the stripes of all its keys, sorted and de-duplicated, so two multi-key
//! commands can never deadlock. Stripes ignore the database number, which lets `MOVE`/`COPY
//! ... DB` hold one lock for both sides. The global lock is taken shared by ordinary commands
//! and exclusively by those that touch whole databases (`FLUSHALL`, `FLUSHDB`, `SWAPDB`,
//! transactions and scripts).
//!
//! Stripes are read-write locks: a read-only command takes its stripes shared
//! ([`Access::Shared`]), so fifty clients reading one hot list do not queue behind each
//! other (and wake each other) as they did behind a mutex; anything that writes, and every
//! pipelined run (`storage::deferred`, whose writes stay pending under its stripes), takes
//! them exclusively. parking_lot's lock parks new readers once a writer waits on it, so the
//! blocking fallback of a writer facing a stream of readers is not starved.
//!
//! A connection whose command finds a lock taken waits for it asynchronously
//! (`storage::lock_waiters`): it parks its task, not a thread, and is woken when a holder
//! lets go.
//! Waiting on the lock itself (a blocked OS thread) is the fallback for exclusive commands,
//! which need the lock's writer fairness, and for a wait that went on too long. Before
//! this, every waiting connection took a thread of its own (`block_in_place`): under a long
//! script a hundred connections became a hundred runnable threads the moment it ended, and
//! the runtime's two workers, the ones answering everyone else, got a fiftieth of the CPU.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::{RwLock, RwLockReadGuard, RwLockWriteGuard};

pub(crate) const STRIPES: usize = 1024;

/// How a command holds the stripes of its keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Read-only: other readers may hold the same stripes at once.
    Shared,
    /// Writes (or may): nobody else holds the stripes meanwhile.
    Exclusive,
}

pub struct KeyLocks {
    stripes: Box<[RwLock<()>]>,
    /// Per stripe: a command found it taken since its holder locked it (see
    /// [`KeyLocks::any_held`]). The commit queue does not queue a run holding a wanted
    /// stripe: on a hot key, waiting for company only makes the others wait longer.
    wanted: Box<[AtomicBool]>,
}

/// One held stripe.
enum StripeGuard<'a> {
    Shared(#[allow(dead_code)] RwLockReadGuard<'a, ()>),
    Exclusive(#[allow(dead_code)] RwLockWriteGuard<'a, ()>),
}

/// Held stripes; released when dropped.
pub struct KeyGuard<'a> {
    _guards: Vec<StripeGuard<'a>>,
}

/// Stripes accumulated over a run of pipelined commands (see `storage::deferred`), taken
/// without waiting so a run never blocks while it holds any.
#[derive(Default)]
pub struct HeldStripes<'a> {
    held: Vec<(usize, RwLockWriteGuard<'a, ()>)>,
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
            stripes: (0..STRIPES).map(|_| RwLock::new(())).collect(),
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

    /// Whether another command holds a stripe of `keys` right now in a way that keeps a
    /// command needing `access` out (a hint: it may change at once). A held stripe is marked
    /// wanted.
    pub fn any_held<'k>(&self, keys: impl IntoIterator<Item = &'k [u8]>, access: Access) -> bool {
        self.first_held(keys, access).is_some()
    }

    /// [`KeyLocks::any_held`], naming the first stripe found held.
    pub fn first_held<'k>(
        &self,
        keys: impl IntoIterator<Item = &'k [u8]>,
        access: Access,
    ) -> Option<usize> {
        keys.into_iter().map(Self::stripe_of).find(|&stripe| {
            let held = !self.is_free_for(stripe, access);
            if held {
                self.mark_wanted(stripe);
            }
            held
        })
    }

    /// Whether a command needing `access` could take `stripe` right now (a hint).
    pub fn is_free_for(&self, stripe: usize, access: Access) -> bool {
        let lock = &self.stripes[stripe];
        match access {
            Access::Shared => !lock.is_locked_exclusive(),
            Access::Exclusive => !lock.is_locked(),
        }
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

    /// The stripes covering `keys`, sorted and de-duplicated (the locking order).
    fn stripes_of<'k>(keys: impl IntoIterator<Item = &'k [u8]>) -> Vec<usize> {
        let mut idx: Vec<usize> = keys.into_iter().map(Self::stripe_of).collect();
        idx.sort_unstable();
        idx.dedup();
        idx
    }

    /// Locks every stripe covering `keys` exclusively, in ascending stripe order.
    pub fn lock<'k>(&self, keys: impl IntoIterator<Item = &'k [u8]>) -> KeyGuard<'_> {
        self.lock_for(keys, Access::Exclusive)
    }

    /// Locks every stripe covering `keys` for `access`, in ascending stripe order.
    pub fn lock_for<'k>(
        &self,
        keys: impl IntoIterator<Item = &'k [u8]>,
        access: Access,
    ) -> KeyGuard<'_> {
        let guards = Self::stripes_of(keys).into_iter().map(|i| {
            let lock = &self.stripes[i];
            match access {
                Access::Shared => StripeGuard::Shared(lock.read()),
                Access::Exclusive => StripeGuard::Exclusive(lock.write()),
            }
        });
        KeyGuard {
            _guards: guards.collect(),
        }
    }

    /// [`KeyLocks::lock_for`] without waiting: `None` (holding nothing) when a stripe is
    /// taken in a way that keeps `access` out.
    pub fn try_lock_for<'k>(
        &self,
        keys: impl IntoIterator<Item = &'k [u8]>,
        access: Access,
    ) -> Option<KeyGuard<'_>> {
        let guards = Self::stripes_of(keys).into_iter().map(|i| {
            let lock = &self.stripes[i];
            match access {
                Access::Shared => lock.try_read().map(StripeGuard::Shared),
                Access::Exclusive => lock.try_write().map(StripeGuard::Exclusive),
            }
        });
        Some(KeyGuard {
            _guards: guards.collect::<Option<Vec<_>>>()?,
        })
    }

    /// Unlocks a stripe whose guard was detached ([`HeldStripes::detach`]).
    ///
    /// # Safety
    /// `stripe` must be locked by a detached guard that nothing else releases: each
    /// detached stripe is unlocked exactly once.
    pub unsafe fn force_unlock(&self, stripe: usize) {
        // SAFETY: guaranteed by the caller (detached guards are exclusive); parking_lot's
        // lock may be unlocked from any thread.
        unsafe { self.stripes[stripe].force_unlock_write() }
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
            match self.stripes[stripe].try_write() {
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

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(locks
            .try_lock_for([&b"a"[..], b"c"], Access::Exclusive)
            .is_none());
        // Nothing of the failed attempt stays held.
        assert!(
            !locks.any_held([&b"a"[..]], Access::Exclusive)
                || KeyLocks::stripe_of(b"a") == KeyLocks::stripe_of(b"c")
        );
        drop(other);
        assert!(locks
            .try_lock_for([&b"a"[..], b"a", b"c"], Access::Exclusive)
            .is_some());
    }

    #[test]
    fn readers_share_stripes_and_keep_writers_out() {
        let locks = KeyLocks::default();
        let reader = locks.lock_for([&b"k"[..]], Access::Shared);
        assert!(!locks.any_held([&b"k"[..]], Access::Shared));
        assert!(locks.any_held([&b"k"[..]], Access::Exclusive));
        let second = locks.try_lock_for([&b"k"[..]], Access::Shared);
        assert!(second.is_some());
        assert!(locks.try_lock_for([&b"k"[..]], Access::Exclusive).is_none());
        let mut run = HeldStripes::default();
        assert!(!locks.try_lock_more(&mut run, [&b"k"[..]]));
        drop((reader, second));
        let writer = locks.lock([&b"k"[..]]);
        assert!(locks.any_held([&b"k"[..]], Access::Shared));
        assert!(locks.try_lock_for([&b"k"[..]], Access::Shared).is_none());
        drop(writer);
        assert!(locks.try_lock_more(&mut run, [&b"k"[..]]));
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
