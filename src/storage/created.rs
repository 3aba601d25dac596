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
//! [`Storage::track_created`]: super::Storage::track_created

use std::cell::RefCell;

thread_local! {
    static CREATED: RefCell<Vec<(usize, Vec<u8>)>> = const { RefCell::new(Vec::new()) };
}

/// Notes that `keys` (logical database, key) are being created by this thread's command.
pub(super) fn record(keys: Vec<(usize, Vec<u8>)>) {
    if !keys.is_empty() {
        CREATED.with(|c| c.borrow_mut().extend(keys));
    }
}

/// Whether `key` of `db` was created by this thread's command since the last call for it;
/// forgets it.
pub fn take(db: usize, key: &[u8]) -> bool {
    CREATED.with(|c| {
        let mut c = c.borrow_mut();
        match c.iter().position(|(d, k)| *d == db && k == key) {
            Some(i) => {
                c.remove(i);
                true
            }
            None => false,
        }
    })
}

/// Every created key not yet taken, in creation order; the list is empty afterwards.
pub fn drain() -> Vec<(usize, Vec<u8>)> {
    CREATED.with(|c| std::mem::take(&mut *c.borrow_mut()))
}
