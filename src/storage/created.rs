//! Keys a command created, for Redis's `new` keyspace event (class `n`).
//!
//! Redis publishes `new` when a key is added to a database (`dbAdd`), right before the
//! command's own event for that key. Storage knows when a write creates a key (there was
//! no live record), the command layer knows when to publish: a write set being committed
//! hands its created keys to this thread's list, and the command's report of the key
//! ([`take`]) or, failing that, the dispatch gate after the handler ([`drain`]) turns them
//! into events. Recording is off unless `n` events are enabled ([`Storage::track_created`]),
//! so the write path pays one relaxed load. Thread-local because a command (and the
//! commands a script runs) executes on one thread from start to end.
//!
//! Invariant: [`take`] is O(1), so an `MSET` of a million new keys reporting each one
//! stays linear.
//!
//! [`Storage::track_created`]: super::Storage::track_created

use std::cell::RefCell;
use std::collections::HashSet;

#[derive(Default)]
struct Created {
    /// Creation order, for [`drain`]; entries already taken are skipped there.
    order: Vec<(usize, Vec<u8>)>,
    /// Not yet taken, as `db` (8 bytes) followed by the key.
    pending: HashSet<Vec<u8>>,
}

thread_local! {
    static CREATED: RefCell<Created> = RefCell::new(Created::default());
}

fn entry(db: usize, key: &[u8]) -> Vec<u8> {
    let mut e = Vec::with_capacity(8 + key.len());
    e.extend_from_slice(&(db as u64).to_le_bytes());
    e.extend_from_slice(key);
    e
}

/// Notes that `keys` (logical database, key) are being created by this thread's command.
pub(super) fn record(keys: Vec<(usize, Vec<u8>)>) {
    if keys.is_empty() {
        return;
    }
    CREATED.with(|c| {
        let mut c = c.borrow_mut();
        for (db, key) in keys {
            if c.pending.insert(entry(db, &key)) {
                c.order.push((db, key));
            }
        }
    });
}

/// Whether `key` of `db` was created by this thread's command and not taken yet; forgets
/// it.
pub fn take(db: usize, key: &[u8]) -> bool {
    CREATED.with(|c| {
        let mut c = c.borrow_mut();
        !c.pending.is_empty() && c.pending.remove(&entry(db, key))
    })
}

/// Every created key not yet taken, in creation order; the list is empty afterwards.
pub fn drain() -> Vec<(usize, Vec<u8>)> {
    CREATED.with(|c| {
        let mut c = c.borrow_mut();
        if c.order.is_empty() {
            return Vec::new();
        }
        let order = std::mem::take(&mut c.order);
        let pending = std::mem::take(&mut c.pending);
        order
            .into_iter()
            .filter(|(db, key)| pending.contains(&entry(*db, key)))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taken_keys_are_not_drained_and_order_is_kept() {
        record(vec![
            (0, b"a".to_vec()),
            (0, b"b".to_vec()),
            (1, b"a".to_vec()),
        ]);
        assert!(take(0, b"b"));
        assert!(!take(0, b"b"));
        assert!(!take(2, b"a"));
        assert_eq!(drain(), vec![(0, b"a".to_vec()), (1, b"a".to_vec())]);
        assert!(drain().is_empty());
        assert!(!take(0, b"a"));
    }

    #[test]
    fn many_keys_are_taken_in_linear_time() {
        let keys: Vec<(usize, Vec<u8>)> = (0..200_000u32)
            .map(|i| (0, i.to_be_bytes().to_vec()))
            .collect();
        record(keys);
        // Reverse order: a front-first list scan would be quadratic here.
        for i in (0..200_000u32).rev() {
            assert!(take(0, &i.to_be_bytes()));
        }
        assert!(drain().is_empty());
    }
}
