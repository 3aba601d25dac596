//! Striped key locks and the global lock (DESIGN §5).
//!
//! A command locks the stripes of all its keys, sorted and de-duplicated, so two multi-key
//! commands can never deadlock. Stripes ignore the database number, which lets `MOVE`/`COPY
//! ... DB` hold one lock for both sides. The global lock is taken shared by ordinary commands
//! and exclusively by those that touch whole databases (`FLUSHALL`, `FLUSHDB`, `SWAPDB`,
//! transactions and scripts later).

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use parking_lot::{Mutex, MutexGuard};

const STRIPES: usize = 1024;

pub struct KeyLocks {
    stripes: Box<[Mutex<()>]>,
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

impl Default for KeyLocks {
    fn default() -> Self {
        KeyLocks {
            stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
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
    /// once).
    pub fn any_held<'k>(&self, keys: impl IntoIterator<Item = &'k [u8]>) -> bool {
        keys.into_iter()
            .any(|k| self.stripes[Self::stripe_of(k)].is_locked())
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
                None => return false,
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
