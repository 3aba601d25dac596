//! The member cache: a bounded in-memory copy of recently read or written sub-key records
//! of the `data` family (hash fields, set and sorted-set members, list elements), keyed by
//! the exact engine key (`[db][key][version][member]`), held by the hot tier and rebuilt
//! with it (docs/member-cache.md).
//!
//! Why: a write to a large collection must first learn whether the member exists (HSET,
//! SADD and ZADD count new members). That is a RocksDB point lookup, a memtable skiplist
//! walk plus SST probes (~2 µs), paid under the key's lock, which bounds the throughput of
//! one hot key. A hit here is one hash probe.
//!
//! Invariants, the hot tier's (`hot_tier` module doc) applied to sub-keys:
//! - RocksDB stays the source of truth; an entry is a copy of what a committed batch wrote
//!   or a read found, `None` meaning "known absent".
//! - Every committed batch's `data` puts and deletes are applied here after the write while
//!   the writer still holds the key lock, after bumping the sub-key's fill generation; a
//!   failed write forgets its keys. A read miss fills under a generation ticket and withdraws
//!   its fill if a write raced it (`Storage::sub_get`).
//! - Whatever writes `data` records without a write set (a replica's applied batches, a full
//!   load, FLUSHDB) invalidates the keys it wrote or clears the cache.
//! - Versions are never reused, so entries of a deleted collection are unreachable; they
//!   leave by eviction (random: a miss costs one lookup, as Redis's `allkeys-random`).
//!
//! Depends on `indexmap`, `parking_lot` and the storage module's shard hash.

use std::collections::hash_map::RandomState;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use indexmap::IndexMap;
use parking_lot::Mutex;

use super::shard_of_64;

/// Values above this are not cached (chunks of long strings live in the same family).
pub const MAX_MEMBER_VALUE: usize = 4096;
/// Approximate per-entry cost of the map slot and the two heap buffers.
const ENTRY_OVERHEAD: usize = 96;
/// Power of two; enough that two threads rarely meet on a shard.
const SHARDS: usize = 64;

/// A cached record: its value, or `None` when the member is known absent.
type Record = Option<Box<[u8]>>;

struct Shard {
    entries: IndexMap<Box<[u8]>, Record, RandomState>,
    /// xorshift state for picking victims.
    rng: u64,
}

/// Counters that outlive a cache rebuild (they live in the tier's stats), for `INFO`.
#[derive(Default)]
pub struct MemberStats {
    pub hits: AtomicU64,
    pub misses: AtomicU64,
    pub evictions: AtomicU64,
}

pub struct MemberCache {
    shards: Box<[Mutex<Shard>]>,
    capacity: u64,
    /// Bytes charged by the entries currently cached.
    charged: AtomicU64,
    stats: Arc<MemberStats>,
}

fn entry_size(key: &[u8], value: Option<&[u8]>) -> u64 {
    (key.len() + value.map_or(0, <[u8]>::len) + ENTRY_OVERHEAD) as u64
}

impl MemberCache {
    pub fn new(capacity: u64, stats: Arc<MemberStats>) -> MemberCache {
        let seed = RandomState::new();
        let shards = (0..SHARDS)
            .map(|i| {
                Mutex::new(Shard {
                    entries: IndexMap::with_hasher(RandomState::new()),
                    rng: std::hash::BuildHasher::hash_one(&seed, i) | 1,
                })
            })
            .collect();
        MemberCache {
            shards,
            capacity,
            charged: AtomicU64::new(0),
            stats,
        }
    }

    /// `Some(record)` when cached (`Some(None)`: known absent), `None` on a miss.
    pub fn get(&self, key: &[u8]) -> Option<Option<Vec<u8>>> {
        let found = self.shards[shard_of_64(key) % SHARDS]
            .lock()
            .entries
            .get(key)
            .map(|value| value.as_deref().map(<[u8]>::to_vec));
        let counter = if found.is_some() {
            &self.stats.hits
        } else {
            &self.stats.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Caches `value` as the record of `key` (a read's find or a committed write), replacing
    /// any entry. A value too large to cache, or one that cannot fit, drops the old entry.
    pub fn put(&self, key: &[u8], value: Option<&[u8]>) {
        let mut shard = self.shards[shard_of_64(key) % SHARDS].lock();
        self.remove(&mut shard, key);
        if value.is_some_and(|v| v.len() > MAX_MEMBER_VALUE) {
            return;
        }
        let size = entry_size(key, value);
        if size > self.capacity / 8 {
            return;
        }
        while self.charged.load(Ordering::Relaxed) + size > self.capacity {
            if shard.entries.is_empty() {
                // Other shards hold the bytes; skip rather than lock a second shard.
                return;
            }
            self.evict_one(&mut shard);
        }
        self.charged.fetch_add(size, Ordering::Relaxed);
        shard.entries.insert(key.into(), value.map(Into::into));
    }

    pub fn invalidate(&self, key: &[u8]) {
        let mut shard = self.shards[shard_of_64(key) % SHARDS].lock();
        self.remove(&mut shard, key);
    }

    fn remove(&self, shard: &mut Shard, key: &[u8]) {
        if let Some(old) = shard.entries.swap_remove(key) {
            self.charged
                .fetch_sub(entry_size(key, old.as_deref()), Ordering::Relaxed);
        }
    }

    fn evict_one(&self, shard: &mut Shard) {
        shard.rng ^= shard.rng << 13;
        shard.rng ^= shard.rng >> 7;
        shard.rng ^= shard.rng << 17;
        let victim = (shard.rng % shard.entries.len() as u64) as usize;
        if let Some((key, old)) = shard.entries.swap_remove_index(victim) {
            self.charged
                .fetch_sub(entry_size(&key, old.as_deref()), Ordering::Relaxed);
            self.stats.evictions.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Drops every entry.
    pub fn clear(&self) {
        for shard in self.shards.iter() {
            let mut shard = shard.lock();
            let freed: u64 = shard
                .entries
                .iter()
                .map(|(k, v)| entry_size(k, v.as_deref()))
                .sum();
            shard.entries.clear();
            self.charged.fetch_sub(freed, Ordering::Relaxed);
        }
    }

    /// (entries, charged bytes).
    pub fn usage(&self) -> (u64, u64) {
        let entries = self.shards.iter().map(|s| s.lock().entries.len() as u64);
        (entries.sum(), self.charged.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caches_values_and_known_absence_and_replaces_them() {
        let c = MemberCache::new(1 << 20, Arc::default());
        assert_eq!(c.get(b"k"), None);
        c.put(b"k", None);
        assert_eq!(c.get(b"k"), Some(None));
        c.put(b"k", Some(b"v1"));
        assert_eq!(c.get(b"k"), Some(Some(b"v1".to_vec())));
        c.put(b"k", Some(b"v2"));
        assert_eq!(c.get(b"k"), Some(Some(b"v2".to_vec())));
        assert_eq!(c.usage(), (1, entry_size(b"k", Some(b"v2"))));
        c.invalidate(b"k");
        assert_eq!(c.get(b"k"), None);
        assert_eq!(c.usage(), (0, 0));
        assert_eq!(c.stats.hits.load(Ordering::Relaxed), 3);
        assert_eq!(c.stats.misses.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn a_value_too_large_to_cache_drops_the_old_entry() {
        let c = MemberCache::new(1 << 20, Arc::default());
        c.put(b"k", Some(b"small"));
        c.put(b"k", Some(&vec![7u8; MAX_MEMBER_VALUE + 1]));
        assert_eq!(c.get(b"k"), None);
        assert_eq!(c.usage(), (0, 0));
    }

    #[test]
    fn stays_within_capacity_by_evicting() {
        let capacity = 64 * 1024;
        let c = MemberCache::new(capacity, Arc::default());
        for i in 0..10_000u32 {
            c.put(&i.to_be_bytes(), Some(&[1u8; 64]));
            assert!(c.usage().1 <= capacity);
        }
        let (entries, bytes) = c.usage();
        assert!(entries > 0 && bytes > capacity / 4, "{entries} {bytes}");
        assert!(c.stats.evictions.load(Ordering::Relaxed) >= 10_000 - entries);
        c.clear();
        assert_eq!(c.usage(), (0, 0));
    }
}
