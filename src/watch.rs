//! `WATCH` bookkeeping: which clients watch which (database, key), so that any write to a
//! watched key — by anyone, including the watcher outside `MULTI` — marks them dirty and
//! their next `EXEC` fails. Precise per key, not per lock stripe (DESIGN §5).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::client::ClientInfo;

/// Watching clients, by (database, key).
type Watchers = HashMap<(usize, Vec<u8>), Vec<Arc<ClientInfo>>>;

#[derive(Default)]
pub struct WatchRegistry {
    watchers: Mutex<Watchers>,
    count: AtomicUsize,
}

impl WatchRegistry {
    pub fn watch(&self, db: usize, key: &[u8], client: &Arc<ClientInfo>) {
        let mut map = self.watchers.lock();
        let list = map.entry((db, key.to_vec())).or_default();
        if !list.iter().any(|c| c.id == client.id) {
            list.push(client.clone());
            self.count.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Forgets every watch of `client` on `keys`.
    pub fn unwatch(&self, client: &ClientInfo, keys: &[(usize, Vec<u8>)]) {
        let mut map = self.watchers.lock();
        for k in keys {
            if let Some(list) = map.get_mut(k) {
                let before = list.len();
                list.retain(|c| c.id != client.id);
                self.count.fetch_sub(before - list.len(), Ordering::Relaxed);
                if list.is_empty() {
                    map.remove(k);
                }
            }
        }
    }

    /// Whether any client watches any key (relaxed: a watch that matters to a writer was
    /// registered under the key's lock, which the writer now holds).
    pub fn any(&self) -> bool {
        self.count.load(Ordering::Relaxed) != 0
    }

    /// A write to `key` in `db`: its watchers' transactions will fail.
    pub fn touch(&self, db: usize, key: &[u8]) {
        if self.count.load(Ordering::Relaxed) == 0 {
            return;
        }
        if let Some(list) = self.watchers.lock().get(&(db, key.to_vec())) {
            list.iter()
                .for_each(|c| c.watch_dirty.store(true, Ordering::SeqCst));
        }
    }

    /// Watched keys of `db` (every database with `None`), for FLUSHDB/FLUSHALL/SWAPDB,
    /// which invalidate the watched keys that exist, as Redis does.
    pub fn watched_keys(&self, db: Option<usize>) -> Vec<(usize, Vec<u8>)> {
        if self.count.load(Ordering::Relaxed) == 0 {
            return Vec::new();
        }
        self.watchers
            .lock()
            .keys()
            .filter(|(d, _)| db.is_none_or(|x| x == *d))
            .cloned()
            .collect()
    }
}
