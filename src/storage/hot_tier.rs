//! The hot tier: a moka cache of decoded meta records (whole strings, collection metadata and
//! known-missing keys) in front of the `meta` column family (DESIGN §6).
//!
//! RocksDB stays the source of truth; the tier only ever holds a copy of what a committed
//! batch wrote or a read found. Two rules keep that copy from going stale:
//! - Writers update the tier after their batch commits, while still holding the key lock, and
//!   bump the key's fill generation *before* touching the tier ([`Generations::bump`]).
//! - A read miss takes a [`Ticket`] before reading RocksDB, inserts what it read, then checks
//!   the ticket and removes its own insert if a write raced it. Whatever the interleaving, the
//!   last insert for a key is either the writer's (fresh) or removed again.
//!
//! Eviction never loses data: an evicted entry is simply read from RocksDB again. Access times
//! and Redis-style LFU counters live in the entries so `OBJECT IDLETIME/FREQ` can answer for
//! cached keys. Depends only on `encoding::Meta` and moka.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::policy::{EvictionPolicy, Expiry};
use moka::sync::Cache;

use super::encoding::Meta;
use super::now_ms;

/// `maxmemory-policy`, read as "what leaves the tier when it is full".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Stop admitting new keys once the tier is full; cached keys stay until written/expired.
    NoEviction,
    /// Least recently used entries leave first (`*-lru`, and `*-random`: moka has no random
    /// victim selection, so the random policies use LRU order).
    Lru,
    /// TinyLFU admission plus LRU eviction (`*-lfu`): one-off reads cannot flush a hot set.
    Lfu,
}

impl Policy {
    /// Maps a `maxmemory-policy` name; the `volatile-*` variants behave as their `allkeys-*`
    /// counterparts (every key is a candidate, since leaving the tier loses nothing).
    pub fn from_name(name: &str) -> Policy {
        match name {
            "noeviction" => Policy::NoEviction,
            "allkeys-lfu" | "volatile-lfu" => Policy::Lfu,
            _ => Policy::Lru,
        }
    }
}

/// Counters that outlive a tier rebuild (`CONFIG SET maxmemory`), reported by `INFO`.
#[derive(Default)]
pub struct TierStats {
    pub hits: AtomicU64,
    pub misses: AtomicU64,
    pub evictions: AtomicU64,
}

/// Redis's LFU constants: a new key starts at 5, the counter grows logarithmically.
const LFU_INIT: u8 = 5;

/// One cached meta record (`None`: the key is known not to exist) and its access history.
pub struct Cached {
    pub meta: Option<Meta>,
    last_access_ms: AtomicU64,
    lfu: AtomicU8,
}

impl Cached {
    fn new(meta: Option<Meta>, last_access_ms: u64, lfu: u8) -> Cached {
        Cached {
            meta,
            last_access_ms: AtomicU64::new(last_access_ms),
            lfu: AtomicU8::new(lfu),
        }
    }

    /// Milliseconds since the last access.
    pub fn idle_ms(&self, now: u64) -> u64 {
        now.saturating_sub(self.last_access_ms.load(Ordering::Relaxed))
    }

    /// The LFU counter after decay, as `OBJECT FREQ` reports it.
    pub fn frequency(&self, now: u64, decay_minutes: u64) -> u8 {
        decayed(
            self.lfu.load(Ordering::Relaxed),
            self.idle_ms(now),
            decay_minutes,
        )
    }

    /// Records an access. Under an LFU policy it also decays the counter by the idle periods,
    /// then increments it with probability 1/((counter - 5) * log_factor + 1), as Redis does;
    /// other policies never read the counter, so they skip that work.
    fn touch(&self, now: u64, lfu: Option<LfuTuning>) {
        if let Some(LfuTuning {
            log_factor,
            decay_minutes,
        }) = lfu
        {
            self.bump_frequency(now, log_factor, decay_minutes);
        }
        self.last_access_ms.store(now, Ordering::Relaxed);
    }

    fn bump_frequency(&self, now: u64, log_factor: u64, decay_minutes: u64) {
        let counter = self.frequency(now, decay_minutes);
        let base = u64::from(counter.saturating_sub(LFU_INIT));
        let grow = counter < 255 && rand::random::<f64>() < 1.0 / (base * log_factor + 1) as f64;
        self.lfu.store(counter + u8::from(grow), Ordering::Relaxed);
    }
}

fn decayed(counter: u8, idle_ms: u64, decay_minutes: u64) -> u8 {
    if decay_minutes == 0 {
        return counter;
    }
    let periods = idle_ms / 60_000 / decay_minutes;
    counter.saturating_sub(periods.min(255) as u8)
}

/// Bytes an entry is charged: key, value, and the entry's fixed bookkeeping.
fn entry_size(key: &[u8], meta: &Option<Meta>) -> u64 {
    (key.len() + meta.as_ref().map_or(0, |m| m.body.len()) + ENTRY_OVERHEAD) as u64
}

fn weight(key: &[u8], cached: &Cached) -> u32 {
    u32::try_from(entry_size(key, &cached.meta)).unwrap_or(u32::MAX)
}

/// Approximate per-entry cost of moka's node, the `Arc`, the `Meta` and the key's `Vec`.
const ENTRY_OVERHEAD: usize = 160;
/// Values above this are never cached (Redis keeps big values out of compact encodings too).
const MAX_ENTRY_BYTES: u64 = 1 << 20;

/// Entries of volatile keys leave the tier when the key expires.
struct KeyTtl;

impl KeyTtl {
    fn until_expiry(cached: &Cached) -> Option<Duration> {
        let expire_ms = cached.meta.as_ref()?.expire_ms;
        if expire_ms == 0 {
            return None;
        }
        Some(Duration::from_millis(expire_ms.saturating_sub(now_ms())))
    }
}

impl Expiry<Vec<u8>, Arc<Cached>> for KeyTtl {
    fn expire_after_create(
        &self,
        _key: &Vec<u8>,
        value: &Arc<Cached>,
        _created_at: Instant,
    ) -> Option<Duration> {
        KeyTtl::until_expiry(value)
    }

    fn expire_after_update(
        &self,
        _key: &Vec<u8>,
        value: &Arc<Cached>,
        _updated_at: Instant,
        _duration_until_expiry: Option<Duration>,
    ) -> Option<Duration> {
        KeyTtl::until_expiry(value)
    }
}

/// Tunables the tier reads on every access (`lfu-log-factor`, `lfu-decay-time`).
#[derive(Debug, Clone, Copy)]
pub struct LfuTuning {
    pub log_factor: u64,
    pub decay_minutes: u64,
}

impl Default for LfuTuning {
    fn default() -> Self {
        LfuTuning {
            log_factor: 10,
            decay_minutes: 1,
        }
    }
}

pub struct HotTier {
    cache: Cache<Vec<u8>, Arc<Cached>>,
    capacity: u64,
    policy: Policy,
    max_entry: u64,
    lfu: LfuTuning,
    created_ms: u64,
    /// Bytes charged by entries currently cached, kept exactly (moka's own weighted size lags
    /// behind its pending work); `noeviction` admits against it.
    charged: Arc<AtomicU64>,
}

impl HotTier {
    pub fn new(capacity: u64, policy: Policy, lfu: LfuTuning, stats: Arc<TierStats>) -> HotTier {
        let eviction = match policy {
            Policy::Lfu => EvictionPolicy::tiny_lfu(),
            Policy::Lru | Policy::NoEviction => EvictionPolicy::lru(),
        };
        let charged = Arc::new(AtomicU64::new(0));
        let released = charged.clone();
        // Under noeviction moka must never pick victims: admission alone keeps the bound.
        let bound = if policy == Policy::NoEviction {
            u64::MAX
        } else {
            capacity
        };
        let cache = Cache::builder()
            .max_capacity(bound)
            .weigher(|k: &Vec<u8>, v: &Arc<Cached>| weight(k, v))
            .eviction_policy(eviction)
            .expire_after(KeyTtl)
            .eviction_listener(move |k: Arc<Vec<u8>>, v: Arc<Cached>, cause| {
                released.fetch_sub(u64::from(weight(&k, &v)), Ordering::Relaxed);
                if cause == moka::notification::RemovalCause::Size {
                    stats.evictions.fetch_add(1, Ordering::Relaxed);
                }
            })
            .build();
        HotTier {
            cache,
            capacity,
            policy,
            max_entry: MAX_ENTRY_BYTES.min(capacity / 8),
            lfu,
            created_ms: now_ms(),
            charged,
        }
    }

    /// A cached record; `touch` records the access (reads by `OBJECT`, `TYPE`, `TTL` and
    /// `CLIENT NO-TOUCH` clients do not).
    pub fn get(&self, meta_key: &[u8], touch: bool) -> Option<Arc<Cached>> {
        let hit = self.cache.get(meta_key)?;
        if touch {
            hit.touch(now_ms(), self.lfu_tracking());
        }
        Some(hit)
    }

    pub fn lfu(&self) -> LfuTuning {
        self.lfu
    }

    /// The LFU tuning when the policy keeps frequency counters.
    fn lfu_tracking(&self) -> Option<LfuTuning> {
        (self.policy == Policy::Lfu).then_some(self.lfu)
    }

    /// When the tier was (re)built: a key not cached has not been accessed since at least
    /// then, as far as the tier knows.
    pub fn created_ms(&self) -> u64 {
        self.created_ms
    }

    fn admissible(&self, meta_key: &[u8], meta: &Option<Meta>) -> bool {
        entry_size(meta_key, meta) <= self.max_entry
    }

    fn insert(&self, meta_key: Vec<u8>, cached: Cached) {
        self.charged
            .fetch_add(u64::from(weight(&meta_key, &cached)), Ordering::Relaxed);
        self.cache.insert(meta_key, Arc::new(cached));
    }

    /// Caches what a read miss found. Under `noeviction` a full tier admits nothing new. A
    /// fill by a non-touching read records no access (idle since the tier was built).
    pub fn fill(&self, meta_key: Vec<u8>, meta: Option<Meta>, touch: bool) {
        if !self.admissible(&meta_key, &meta) {
            return;
        }
        if self.policy == Policy::NoEviction && self.is_full(entry_size(&meta_key, &meta)) {
            return;
        }
        let cached = if touch {
            Cached::new(meta, now_ms(), LFU_INIT)
        } else {
            Cached::new(meta, self.created_ms, 0)
        };
        self.insert(meta_key, cached);
    }

    /// Replaces the entry with what a committed write left; the access history carries over
    /// (a write is an access). A record too big to cache drops the old entry instead.
    pub fn write_through(&self, meta_key: Vec<u8>, meta: Option<Meta>) {
        let previous = self.cache.get(&meta_key);
        let size = entry_size(&meta_key, &meta);
        if !self.admissible(&meta_key, &meta)
            || (previous.is_none() && self.policy == Policy::NoEviction && self.is_full(size))
        {
            self.cache.invalidate(&meta_key);
            return;
        }
        let now = now_ms();
        let cached = match previous {
            Some(p) => {
                p.touch(now, self.lfu_tracking());
                Cached::new(meta, now, p.lfu.load(Ordering::Relaxed))
            }
            None => Cached::new(meta, now, LFU_INIT),
        };
        self.insert(meta_key, cached);
    }

    pub fn invalidate(&self, meta_key: &[u8]) {
        self.cache.invalidate(meta_key);
    }

    /// Drops every entry (FLUSHDB/FLUSHALL).
    pub fn clear(&self) {
        self.cache.invalidate_all();
    }

    fn is_full(&self, adding: u64) -> bool {
        self.charged.load(Ordering::Relaxed) + adding > self.capacity
    }

    /// (entries, charged bytes), after applying moka's pending bookkeeping.
    pub fn usage(&self) -> (u64, u64) {
        self.cache.run_pending_tasks();
        (self.cache.entry_count(), self.cache.weighted_size())
    }
}

thread_local! {
    static NO_TOUCH: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with tier accesses not recorded (introspection commands, `CLIENT NO-TOUCH`).
pub fn without_touch<R>(f: impl FnOnce() -> R) -> R {
    let before = NO_TOUCH.with(|c| c.replace(true));
    let result = f();
    NO_TOUCH.with(|c| c.set(before));
    result
}

/// Whether the current command's reads count as accesses.
pub fn touching() -> bool {
    !NO_TOUCH.with(Cell::get)
}

const GENERATION_STRIPES: usize = 4096;

/// Per-key-stripe write generations plus a global epoch for whole-database flushes; see the
/// module doc for the protocol.
pub struct Generations {
    stripes: Box<[AtomicU64]>,
    epoch: AtomicU64,
}

/// What a read miss saw before it read RocksDB.
pub struct Ticket {
    stripe: usize,
    generation: u64,
    epoch: u64,
}

impl Default for Generations {
    fn default() -> Self {
        Generations {
            stripes: (0..GENERATION_STRIPES).map(|_| AtomicU64::new(0)).collect(),
            epoch: AtomicU64::new(0),
        }
    }
}

/// FNV-1a: cheap and good enough to spread keys over stripes.
fn stripe_of(key: &[u8]) -> usize {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in key {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (h as usize) % GENERATION_STRIPES
}

impl Generations {
    pub fn ticket(&self, meta_key: &[u8]) -> Ticket {
        let stripe = stripe_of(meta_key);
        Ticket {
            stripe,
            epoch: self.epoch.load(Ordering::SeqCst),
            generation: self.stripes[stripe].load(Ordering::SeqCst),
        }
    }

    /// True when no write to the ticket's stripe (and no flush) happened since it was taken.
    pub fn unchanged(&self, ticket: &Ticket) -> bool {
        self.stripes[ticket.stripe].load(Ordering::SeqCst) == ticket.generation
            && self.epoch.load(Ordering::SeqCst) == ticket.epoch
    }

    pub fn bump(&self, meta_key: &[u8]) {
        self.stripes[stripe_of(meta_key)].fetch_add(1, Ordering::SeqCst);
    }

    pub fn bump_all(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::encoding::KeyType;

    fn string(v: &[u8]) -> Option<Meta> {
        Some(Meta {
            chunked: false,
            kind: KeyType::String,
            expire_ms: 0,
            body: v.to_vec(),
        })
    }

    fn tier(capacity: u64, policy: Policy) -> HotTier {
        HotTier::new(
            capacity,
            policy,
            LfuTuning::default(),
            Arc::new(TierStats::default()),
        )
    }

    #[test]
    fn racing_fill_is_withdrawn() {
        let gens = Generations::default();
        let t = tier(1 << 20, Policy::Lru);
        let ticket = gens.ticket(b"k");
        // A writer commits and updates the tier between the reader's read and its insert.
        gens.bump(b"k");
        t.write_through(b"k".to_vec(), string(b"new"));
        t.fill(b"k".to_vec(), string(b"old"), true);
        if !gens.unchanged(&ticket) {
            t.invalidate(b"k");
        }
        assert!(t.get(b"k", false).is_none());
    }

    #[test]
    fn noeviction_stops_admitting_when_full() {
        let t = tier(4096, Policy::NoEviction);
        for i in 0..100u32 {
            t.fill(i.to_be_bytes().to_vec(), string(&[0u8; 100]), true);
            t.cache.run_pending_tasks();
        }
        let (entries, bytes) = t.usage();
        assert!(entries > 0 && bytes <= 4096 + 300, "{entries} {bytes}");
    }

    #[test]
    fn oversized_values_are_not_cached_and_replace_nothing() {
        let t = tier(1 << 16, Policy::Lru);
        t.write_through(b"k".to_vec(), string(b"small"));
        t.write_through(b"k".to_vec(), string(&vec![0u8; 1 << 15]));
        assert!(t.get(b"k", false).is_none());
    }

    #[test]
    fn lfu_counter_decays_with_idle_minutes() {
        assert_eq!(decayed(10, 3 * 60_000, 1), 7);
        assert_eq!(decayed(10, 3 * 60_000, 0), 10);
        assert_eq!(decayed(2, 10 * 60_000, 1), 0);
    }
}
