//! Client-side caching (`CLIENT TRACKING`), as Redis 7 does it. In the default mode the
//! server remembers which clients read which keys (the tracking table, keyed by key name
//! across databases, as Redis's) and, when a key is modified, expired or flushed, sends each
//! of them one invalidation and forgets the key. In BCAST mode nothing is remembered: every
//! modified key matching one of the client's prefixes (or any key, without prefixes) is
//! announced. Invalidations go to the tracking client itself as a RESP3 `invalidate` push,
//! or to the `REDIRECT` client: as a push if that client speaks RESP3, as a
//! `__redis__:invalidate` pub/sub message if it is a RESP2 subscriber.
//!
//! The gate calls [`TrackingTable::remember`] after a tracked read and
//! [`TrackingTable::invalidate`] for each key a command reported it modified; with no
//! tracking client both cost one atomic load. Leaving the hot tier is not a modification
//! and sends nothing. `tracking-table-max-keys` bounds the table: past it, keys are
//! forgotten with an invalidation, as Redis evicts them. Depends on `client` (a client's
//! message queue and protocol) and `pubsub` (the queue's message type).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;

use crate::client::ClientInfo;
use crate::pubsub::PubMessage;

/// The pub/sub channel RESP2 redirect targets subscribe to.
pub const INVALIDATE_CHANNEL: &str = "__redis__:invalidate";

pub use crate::client::TrackingOptions;

struct Subscriber {
    options: TrackingOptions,
    info: Arc<ClientInfo>,
    /// Where invalidations go: the redirect target, or the client itself.
    target: Arc<ClientInfo>,
    /// The redirect target went away (reported once with `tracking-redir-broken`).
    broken: bool,
}

#[derive(Default)]
struct Inner {
    /// Default mode: key -> ids of clients that read it since its last invalidation.
    keys: HashMap<Bytes, HashSet<u64>>,
    /// Sum of the readers over `keys` (`tracking_total_items`), kept as it changes.
    items: usize,
    clients: HashMap<u64, Subscriber>,
    /// The BCAST clients among `clients`: a write looks only at these and at the key's
    /// readers, never at every tracking client.
    bcast: HashSet<u64>,
}

#[derive(Default)]
pub struct TrackingTable {
    inner: Mutex<Inner>,
    /// Tracking clients, so the gate skips everything when there are none.
    active: AtomicUsize,
    /// `tracking-table-max-keys` (0: unbounded), set by the config.
    pub max_keys: AtomicUsize,
}

impl TrackingTable {
    pub fn active(&self) -> bool {
        self.active.load(Ordering::Relaxed) > 0
    }

    /// Tracking clients (`tracking_clients` in `INFO clients`).
    pub fn clients(&self) -> usize {
        self.active.load(Ordering::Relaxed)
    }

    /// Turns tracking on for `info` with `options`; `target` is the redirect client's info
    /// (or `info` itself).
    pub fn enable(&self, info: Arc<ClientInfo>, target: Arc<ClientInfo>, options: TrackingOptions) {
        let mut inner = self.inner.lock();
        if options.bcast {
            inner.bcast.insert(info.id);
        } else {
            inner.bcast.remove(&info.id);
        }
        inner.clients.insert(
            info.id,
            Subscriber {
                options,
                info,
                target,
                broken: false,
            },
        );
        self.active.store(inner.clients.len(), Ordering::Relaxed);
    }

    /// Turns tracking off (also when the client goes away). Keys it read stay in the table
    /// until they are invalidated, as in Redis; nothing is sent to a gone client.
    pub fn disable(&self, id: u64) {
        let mut inner = self.inner.lock();
        inner.clients.remove(&id);
        inner.bcast.remove(&id);
        self.active.store(inner.clients.len(), Ordering::Relaxed);
    }

    pub fn options(&self, id: u64) -> Option<(TrackingOptions, bool)> {
        let inner = self.inner.lock();
        inner
            .clients
            .get(&id)
            .map(|s| (s.options.clone(), s.broken))
    }

    /// Remembers that client `id` read `keys` (default mode), forgetting keys with an
    /// invalidation to their readers if the table outgrows `max_keys` (0: unbounded).
    pub fn remember(&self, id: u64, keys: &[&[u8]]) {
        let max_keys = self.max_keys.load(Ordering::Relaxed);
        let mut inner = self.inner.lock();
        for key in keys {
            let added = match inner.keys.get_mut(*key) {
                Some(readers) => readers.insert(id),
                None => {
                    inner
                        .keys
                        .insert(Bytes::copy_from_slice(key), HashSet::from([id]));
                    true
                }
            };
            if added {
                inner.items += 1;
            }
        }
        if max_keys > 0 && inner.keys.len() > max_keys {
            let excess = inner.keys.len() - max_keys;
            let evicted: Vec<Bytes> = inner.keys.keys().take(excess).cloned().collect();
            for key in evicted {
                Self::notify_readers(&mut inner, &key, None);
            }
        }
    }

    /// Announces that `key` changed; `writer` is the client that changed it (for NOLOOP).
    pub fn invalidate(&self, key: &[u8], writer: Option<u64>) {
        let mut inner = self.inner.lock();
        Self::notify_readers(&mut inner, key, writer);
        if inner.bcast.is_empty() {
            return;
        }
        let Inner { clients, bcast, .. } = &mut *inner;
        for id in bcast.iter() {
            let Some(sub) = clients.get_mut(id) else {
                continue;
            };
            let matches = sub.options.prefixes.iter().any(|p| key.starts_with(p));
            let own_write = writer == Some(*id) && sub.options.noloop;
            if matches && !own_write {
                send(sub, Some(vec![Bytes::copy_from_slice(key)]));
            }
        }
    }

    /// Sends `key`'s invalidation to the clients that read it, and forgets the key.
    fn notify_readers(inner: &mut Inner, key: &[u8], writer: Option<u64>) {
        let Some(readers) = inner.keys.remove(key) else {
            return;
        };
        inner.items -= readers.len();
        let keys = Some(vec![Bytes::copy_from_slice(key)]);
        for id in readers {
            let Some(sub) = inner.clients.get_mut(&id) else {
                continue;
            };
            if !(writer == Some(id) && sub.options.noloop) {
                send(sub, keys.clone());
            }
        }
    }

    /// FLUSHDB/FLUSHALL/SWAPDB: every tracking client is told to drop everything (a null
    /// invalidation), and the table empties.
    pub fn invalidate_all(&self) {
        let mut inner = self.inner.lock();
        inner.keys.clear();
        inner.items = 0;
        for sub in inner.clients.values_mut() {
            send(sub, None);
        }
    }

    /// (`tracking_total_keys`, `tracking_total_items`, `tracking_total_prefixes`).
    pub fn stats(&self) -> (usize, usize, usize) {
        let inner = self.inner.lock();
        let prefixes: usize = inner
            .bcast
            .iter()
            .filter_map(|id| inner.clients.get(id))
            .map(|s| s.options.prefixes.len())
            .sum();
        (inner.keys.len(), inner.items, prefixes)
    }
}

/// Queues one invalidation for `sub`'s target, in the form the target can receive; a
/// redirect target that went away is reported to the tracking client once.
fn send(sub: &mut Subscriber, keys: Option<Vec<Bytes>>) {
    let redirected = sub.options.redirect.is_some();
    let target = &sub.target;
    let resp3 = target.resp.load(Ordering::Relaxed) >= 3;
    let queue = target.queue.get();
    let alive = queue.is_some_and(|q| !q.is_closed());
    if !alive {
        if redirected && !sub.broken {
            sub.broken = true;
            if let (Some(own), Some(id)) = (sub.info.queue.get(), sub.options.redirect) {
                if sub.info.resp.load(Ordering::Relaxed) >= 3 {
                    let _ = crate::pubsub::push(
                        &crate::pubsub::UNLIMITED,
                        &sub.info,
                        own,
                        PubMessage::TrackingRedirBroken(id),
                    );
                }
            }
        }
        return;
    }
    // RESP2 clients can only receive it as a pub/sub message, when they subscribed.
    let subscribed = target.subscriptions[0].load(Ordering::Relaxed) > 0;
    if !(resp3 || (redirected && subscribed)) {
        return;
    }
    if let Some(queue) = queue {
        // A client that does not read its invalidations cannot be trusted with a cache:
        // disconnect it, as a subscriber that falls behind is.
        crate::pubsub::push(
            &crate::pubsub::UNLIMITED,
            target,
            queue,
            PubMessage::Invalidate { keys },
        );
    }
}

/// Checks `CLIENT TRACKING ON` prefixes: none may be a prefix of another, nor of one the
/// client already has (Redis's texts). Redis compares every pair; a client can send a
/// million prefixes, so long lists are checked in sorted order instead: O(n log n).
pub fn overlapping_prefixes(existing: &[Bytes], prefixes: &[Bytes]) -> Option<String> {
    let overlap = |a: &[u8], b: &[u8]| a.starts_with(b) || b.starts_with(a);
    let mut registered: Vec<&Bytes> = existing.iter().collect();
    registered.sort();
    for new in prefixes {
        // Registered prefixes overlap no other, except the empty one BCAST without PREFIX
        // adds: so besides it only the neighbours of `new` in order can overlap it, and
        // Redis (walking them in order) names the lower one first.
        let at = registered.partition_point(|old| old.as_ref() < new.as_ref());
        let candidates = [
            registered.first(),
            at.checked_sub(1).and_then(|i| registered.get(i)),
            registered.get(at),
        ];
        if let Some(old) = candidates
            .into_iter()
            .flatten()
            .find(|old| overlap(old, new))
        {
            return Some(format!(
                "ERR Prefix '{}' overlaps with an existing prefix '{}'. Prefixes for a single client must not overlap.",
                String::from_utf8_lossy(new),
                String::from_utf8_lossy(old)
            ));
        }
    }
    // Among the new ones: Redis names the first overlapping pair in argument order, found
    // here the same way for a short list. A long one is sorted: some pair overlaps if and
    // only if two neighbours in sorted order do (the text then names that pair).
    let pair = if prefixes.len() <= 64 {
        (0..prefixes.len())
            .flat_map(|i| (i + 1..prefixes.len()).map(move |j| (i, j)))
            .find(|&(i, j)| overlap(&prefixes[i], &prefixes[j]))?
    } else {
        let mut order: Vec<usize> = (0..prefixes.len()).collect();
        order.sort_by(|&a, &b| prefixes[a].cmp(&prefixes[b]));
        order
            .windows(2)
            .filter(|w| overlap(&prefixes[w[0]], &prefixes[w[1]]))
            .map(|w| (w[0].min(w[1]), w[0].max(w[1])))
            .min()?
    };
    Some(format!(
        "ERR Prefix '{}' overlaps with another provided prefix '{}'. Prefixes for a single client must not overlap.",
        String::from_utf8_lossy(&prefixes[pair.0]),
        String::from_utf8_lossy(&prefixes[pair.1])
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(words: &[&str]) -> Vec<Bytes> {
        words.iter().map(|w| Bytes::from(w.to_string())).collect()
    }

    #[test]
    fn prefix_overlaps_are_found_without_comparing_every_pair() {
        let none = overlapping_prefixes(&b(&["a:", "b:"]), &b(&["c:", "d"]));
        assert_eq!(none, None);
        let err = overlapping_prefixes(&b(&["user:", "order:"]), &b(&["user:1"])).unwrap();
        assert!(
            err.contains("'user:1' overlaps with an existing prefix 'user:'"),
            "{err}"
        );
        let err = overlapping_prefixes(&b(&["ab", "b"]), &b(&["a"])).unwrap();
        assert!(err.contains("existing prefix 'ab'"), "{err}");
        let err = overlapping_prefixes(&b(&["", "x"]), &b(&["q"])).unwrap();
        assert!(err.contains("existing prefix ''"), "{err}");
        // Redis's pair for a short list: the first in argument order.
        let err = overlapping_prefixes(&[], &b(&["abc", "a", "ab"])).unwrap();
        assert!(
            err.contains("'abc' overlaps with another provided prefix 'a'"),
            "{err}"
        );
        // A long list: 100,000 distinct prefixes with one overlap at the end, found at once.
        let mut many: Vec<Bytes> = (0..100_000)
            .map(|i| Bytes::from(format!("p{i:06}:")))
            .collect();
        assert_eq!(overlapping_prefixes(&[], &many), None);
        many.push(Bytes::from("p000042:x"));
        let err = overlapping_prefixes(&[], &many).unwrap();
        assert!(
            err.contains("'p000042:' overlaps with another provided prefix 'p000042:x'"),
            "{err}"
        );
    }
}
