//! Waiters of blocking commands (`BLPOP`, `BLMOVE`, `BZPOPMIN`, ...), per database and key.
//!
//! A blocking handler that finds nothing registers its client on every key it waits for,
//! while still holding the key locks, so a concurrent push cannot slip between "found
//! nothing" and "registered". Writers signal the keys they touched; a signal wakes only the
//! oldest waiter of the key (FIFO). The woken client re-runs its command; once served it
//! leaves every queue and passes the signal on, so the next waiter gets the next element.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use parking_lot::Mutex;

use crate::client::ClientInfo;
use crate::protocol::Reply;

/// What a blocking handler asks the connection to do when nothing is available.
pub struct BlockRequest {
    pub keys: Vec<Bytes>,
    /// `None` blocks forever (timeout 0).
    pub deadline: Option<Instant>,
    /// Sent when the timeout expires.
    pub timeout_reply: Reply,
    /// The command to re-run when woken, if not the original: XREAD resolves `$` to the
    /// ids it saw when it parked, so an entry added meanwhile is not skipped.
    pub retry_args: Option<Vec<Bytes>>,
}

/// Waiting clients of one key, oldest first.
type Queue = VecDeque<Arc<ClientInfo>>;

#[derive(Default)]
pub struct BlockingRegistry {
    /// Keyed by (logical db, key).
    queues: Mutex<HashMap<(usize, Vec<u8>), Queue>>,
    blocked: AtomicUsize,
}

impl BlockingRegistry {
    /// Appends `client` to the queue of each key (keeping its place if already queued).
    pub fn register(&self, db: usize, keys: &[Bytes], client: &Arc<ClientInfo>) {
        let mut queues = self.queues.lock();
        for key in keys {
            let queue = queues.entry((db, key.to_vec())).or_default();
            if !queue.iter().any(|c| c.id == client.id) {
                queue.push_back(client.clone());
            }
        }
        if !client.blocked.swap(true, Ordering::SeqCst) {
            self.blocked.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Removes `client` from every queue it is in.
    pub fn unregister(&self, client: &ClientInfo) {
        if !client.blocked.swap(false, Ordering::SeqCst) {
            return;
        }
        self.blocked.fetch_sub(1, Ordering::Relaxed);
        let mut queues = self.queues.lock();
        queues.retain(|_, q| {
            q.retain(|c| c.id != client.id);
            !q.is_empty()
        });
    }

    /// Whether any client is blocked (a waiter registers under its keys' locks, so one
    /// that a writer of those keys must wake is visible to it).
    pub fn any(&self) -> bool {
        self.blocked.load(Ordering::Relaxed) != 0
    }

    /// Wakes the oldest waiter of `key`, if any.
    pub fn signal(&self, db: usize, key: &[u8]) {
        if self.blocked.load(Ordering::Relaxed) == 0 {
            return;
        }
        let queues = self.queues.lock();
        if let Some(first) = queues.get(&(db, key.to_vec())).and_then(|q| q.front()) {
            first.wake.notify_one();
        }
    }

    /// Wakes the waiter queued right behind `client` on `key`: a woken client that could not
    /// be served (another group's entry, an element someone else took) passes the signal
    /// down the queue instead of swallowing it. The chain only moves backwards, so it ends.
    pub fn signal_after(&self, db: usize, key: &[u8], client: &ClientInfo) {
        let queues = self.queues.lock();
        let Some(queue) = queues.get(&(db, key.to_vec())) else {
            return;
        };
        if let Some(pos) = queue.iter().position(|c| c.id == client.id) {
            if let Some(next) = queue.get(pos + 1) {
                next.wake.notify_one();
            }
        }
    }

    /// Number of clients currently blocked (`INFO clients`).
    pub fn blocked_clients(&self) -> usize {
        self.blocked.load(Ordering::Relaxed)
    }
}
