//! The storage layer: typed Redis semantics over the RocksDB engine, with no knowledge of RESP.
//!
//! [`Storage`] owns the engine, the logical-to-physical database map (so `SWAPDB` is O(1)),
//! exact per-database key and expiry counters (persisted with merge records in the same batch
//! as the change, so they survive crashes), and the key locks. Typed operations live in
//! `types/`, whole-key operations in `keyspace`, active expiry in `expire`.
//!
//! Invariants: callers hold the key locks of every key they mutate (the dispatch gate takes
//! them); a mutation is staged in a [`WriteSet`] and committed once; counters count physical
//! meta records, so a logically expired key still counts until active expiry reclaims it —
//! exactly like Redis's `DBSIZE`.

pub mod budget;
pub mod checkpoint;
pub mod collection;
pub mod commit_queue;
pub mod created;
pub mod deferred;
pub mod digest;
pub mod encoding;
pub mod engine;
pub mod expire;
pub mod follow;
pub mod group_commit;
pub mod hot_tier;
pub mod keyspace;
pub mod lock_waiters;
pub mod locks;
pub mod member_cache;
pub mod portable;
pub mod reclaim;
pub mod scripts;
pub mod types;

use std::path::Path;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwapOption;
use parking_lot::RwLock;

use crate::error::StoreResult;
use encoding::{internal_key, meta_key, Meta, INTERNAL_DB};
use engine::{decode_counter, Batch, Cf, Engine, EngineOptions};
use hot_tier::{Generations, HotTier, TierStats};
use lock_waiters::{LockWaiters, WakeOnDrop};
use locks::KeyLocks;

/// FNV-1a: cheap and good enough to spread keys over stripes and shards. (Within a shard the
/// in-memory maps hash with SipHash, so crafted keys can unbalance shards but not degrade
/// lookups.)
fn fnv1a(key: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in key {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Which of 64 shards `key` falls in (the hot tier's and the member cache's). FNV's high bits
/// mix poorly; a Fibonacci multiply spreads every input bit over them.
fn shard_of_64(key: &[u8]) -> usize {
    (fnv1a(key).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 58) as usize
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Key and expiry counts of one physical database.
#[derive(Default)]
struct Counters {
    keys: AtomicI64,
    expires: AtomicI64,
}

/// Process-wide counters reported by `INFO stats`.
#[derive(Default)]
pub struct StorageStats {
    pub expired_keys: AtomicU64,
    pub keyspace_hits: AtomicU64,
    pub keyspace_misses: AtomicU64,
    /// Committed write sets since start (INFO's `rdb_changes_since_last_save`).
    pub changes: AtomicU64,
}

pub struct Storage {
    engine: Engine,
    /// Logical database index -> physical id used in keys.
    db_map: RwLock<Vec<u16>>,
    /// Indexed by physical id.
    counters: Vec<Counters>,
    pub locks: KeyLocks,
    /// Shared by ordinary commands, exclusive for whole-database operations.
    pub global: RwLock<()>,
    /// Connections waiting for `locks` or `global` (see `locks`).
    pub lock_waiters: LockWaiters,
    pub stats: StorageStats,
    /// Highest WAL sequence known to be fsynced; its mutex serialises syncs so concurrent
    /// callers share one fsync (group commit).
    wal_synced: parking_lot::Mutex<u64>,
    /// Collection version allocator: (next to hand out, persisted reservation bound).
    versions: parking_lot::Mutex<(u64, u64)>,
    /// The hot tier (`None` with `hot-tier no`); swapped whole by `set_tier`.
    tier: ArcSwapOption<HotTier>,
    pub tier_stats: Arc<TierStats>,
    generations: Generations,
    /// Cause of the last failed write while writes fail (INFO's `aof_last_write_status`);
    /// cleared by the next write that succeeds.
    write_error: parking_lot::Mutex<Option<String>>,
    write_failing: std::sync::atomic::AtomicBool,
    /// Whether writes note the keys they create (`new` keyspace events are enabled).
    pub track_created: std::sync::atomic::AtomicBool,
    /// Runs of different connections sharing engine writes (see `commit_queue`).
    commit_queue: commit_queue::CommitQueue,
}

const DB_MAP_KEY: &[u8] = b"dbmap";
const VERSION_KEY: &[u8] = b"version";
/// Put by `flush_db` beside its range deletes, which a replica cannot see in a logged batch:
/// the marker tells it whole databases changed.
const FLUSHED_KEY: &[u8] = b"flushed";
/// Versions reserved per persisted write of the allocator's bound.
const VERSION_RESERVE: u64 = 1 << 20;

fn keys_counter_key(phys: u16) -> Vec<u8> {
    let mut k = internal_key(b"count/keys/");
    k.extend_from_slice(&phys.to_be_bytes());
    k
}

fn expires_counter_key(phys: u16) -> Vec<u8> {
    let mut k = internal_key(b"count/expires/");
    k.extend_from_slice(&phys.to_be_bytes());
    k
}

/// Which of a physical database's two counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CounterKind {
    Keys,
    Expires,
}

/// The counter a `meta` key names, if it is one (the inverse of [`keys_counter_key`] and
/// [`expires_counter_key`]).
fn counter_of(key: &[u8]) -> Option<(CounterKind, u16)> {
    let name = key.strip_prefix(&INTERNAL_DB.to_be_bytes()[..])?;
    let (kind, phys) = if let Some(phys) = name.strip_prefix(&b"count/keys/"[..]) {
        (CounterKind::Keys, phys)
    } else {
        (
            CounterKind::Expires,
            name.strip_prefix(&b"count/expires/"[..])?,
        )
    };
    Some((kind, u16::from_be_bytes(phys.try_into().ok()?)))
}

/// Staged mutations plus the counter deltas they imply, committed by [`Storage::commit`].
#[derive(Default)]
pub struct WriteSet {
    pub batch: Batch,
    /// (physical db, key delta, expires delta)
    deltas: Vec<(u16, i64, i64)>,
    /// Meta records this set writes, applied to the hot tier after commit.
    tier_updates: Vec<(Vec<u8>, TierUpdate)>,
    /// Keys this set creates (logical db, key), noted only while `new` events are on.
    created: Vec<(usize, Vec<u8>)>,
}

/// What a committed write means for the hot tier's entry of one key.
enum TierUpdate {
    Put(Meta),
    Delete,
    /// Staged while the tier was off (so the value was not copied): if a tier appeared
    /// before the commit, its entry is dropped rather than updated.
    Forget,
}

impl WriteSet {
    /// Mutations staged so far.
    pub fn staged(&self) -> usize {
        self.batch.len()
    }

    /// Appends `other` after this set's own mutations (deferred commits).
    fn merge(&mut self, other: WriteSet) {
        self.batch.append(other.batch);
        for (phys, keys, expires) in other.deltas {
            self.delta(phys, keys, expires);
        }
        self.tier_updates.extend(other.tier_updates);
        self.created.extend(other.created);
    }

    fn delta(&mut self, phys: u16, keys: i64, expires: i64) {
        if keys == 0 && expires == 0 {
            return;
        }
        match self.deltas.iter_mut().find(|d| d.0 == phys) {
            Some(d) => {
                d.1 += keys;
                d.2 += expires;
            }
            None => self.deltas.push((phys, keys, expires)),
        }
    }
}

impl Storage {
    /// Wakes the connections that can now take the lock they wait for; call after
    /// releasing stripes or the global lock.
    pub fn wake_lock_waiters(&self) {
        self.lock_waiters.wake(&self.locks, &self.global);
    }

    /// [`Storage::wake_lock_waiters`] when dropped: declared before a lock guard, it runs
    /// after it.
    pub fn wake_lock_waiters_on_drop(&self) -> WakeOnDrop<'_> {
        self.lock_waiters.wake_on_drop(&self.locks, &self.global)
    }

    /// Opens the data directory; `databases` is the number of logical databases.
    pub fn open(dir: &Path, databases: u16, opts: &EngineOptions) -> StoreResult<Storage> {
        let engine = Engine::open(&checkpoint::db_path(dir), opts)?;
        let mut map: Vec<u16> = match engine.get(Cf::Meta, &internal_key(DB_MAP_KEY))? {
            Some(raw) => raw
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect(),
            None => Vec::new(),
        };
        // Growing `databases` adds the lowest unused physical ids; shrinking keeps the map so
        // data in the dropped databases is not lost if the setting is raised again.
        let mut next = 0u16;
        while map.len() < usize::from(databases) {
            while map.contains(&next) {
                next += 1;
            }
            map.push(next);
        }
        // Written only when it changed: a replica's engine must not write on its own (its
        // sequence numbers follow its primary's, see `follow`).
        let stored = engine.get(Cf::Meta, &internal_key(DB_MAP_KEY))?;
        if stored.as_deref() != Some(encode_map(&map).as_slice()) {
            let mut batch = Batch::default();
            batch.put(Cf::Meta, internal_key(DB_MAP_KEY), encode_map(&map));
            engine.write(batch)?;
        }

        // Versions start above both the persisted reservation and the clock, so a version is
        // never reused for a key whose old sub-keys may still await compaction.
        let reserved = engine
            .get(Cf::Meta, &internal_key(VERSION_KEY))?
            .map_or(0, |v| decode_counter(&v).max(0) as u64);
        let first_version = reserved.max(now_ms() * 1000);

        let max_phys = map.iter().copied().max().unwrap_or(0);
        let counters: Vec<Counters> = (0..=max_phys).map(|_| Counters::default()).collect();
        for phys in 0..=max_phys {
            let read = |k: Vec<u8>| -> StoreResult<i64> {
                Ok(engine
                    .get(Cf::Meta, &k)?
                    .map(|v| decode_counter(&v))
                    .unwrap_or(0))
            };
            let c = &counters[usize::from(phys)];
            c.keys
                .store(read(keys_counter_key(phys))?, Ordering::Relaxed);
            c.expires
                .store(read(expires_counter_key(phys))?, Ordering::Relaxed);
        }
        Ok(Storage {
            engine,
            db_map: RwLock::new(map),
            counters,
            locks: KeyLocks::default(),
            global: RwLock::new(()),
            lock_waiters: LockWaiters::default(),
            stats: StorageStats::default(),
            wal_synced: parking_lot::Mutex::new(0),
            versions: parking_lot::Mutex::new((first_version, first_version)),
            tier: ArcSwapOption::empty(),
            tier_stats: Arc::new(TierStats::default()),
            generations: Generations::default(),
            write_error: parking_lot::Mutex::new(None),
            write_failing: std::sync::atomic::AtomicBool::new(false),
            track_created: std::sync::atomic::AtomicBool::new(false),
            commit_queue: commit_queue::CommitQueue::default(),
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Number of logical databases.
    pub fn databases(&self) -> usize {
        self.db_map.read().len()
    }

    /// Physical id of logical database `db`. Callers validated `db` against `databases`.
    pub fn phys(&self, db: usize) -> u16 {
        self.db_map.read().get(db).copied().unwrap_or(0)
    }

    /// Logical index of a physical id, if it is mapped.
    pub fn logical(&self, phys: u16) -> Option<usize> {
        self.db_map.read().iter().position(|&p| p == phys)
    }

    /// The meta record of `key` in logical `db` whether or not it has expired.
    pub fn raw_meta(&self, db: usize, key: &[u8]) -> StoreResult<Option<Meta>> {
        let mk = meta_key(self.phys(db), key);
        if let Some(staged) = self.deferred_meta(&mk) {
            return staged;
        }
        let tier = self.tier.load();
        let Some(tier) = tier.as_ref() else {
            return self.read_meta(&mk);
        };
        let touch = hot_tier::touching();
        if let Some(hit) = tier.get(&mk, touch) {
            self.tier_stats.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(hit.meta.clone());
        }
        self.tier_stats.misses.fetch_add(1, Ordering::Relaxed);
        let ticket = self.generations.ticket(&mk);
        let found = self.read_meta(&mk)?;
        tier.fill(mk.clone(), found.clone(), touch);
        if !self.generations.unchanged(&ticket) {
            // A write committed while we read: what we inserted may be older than it.
            tier.invalidate(&mk);
        }
        Ok(found)
    }

    fn read_meta(&self, meta_key: &[u8]) -> StoreResult<Option<Meta>> {
        match self.engine.get(Cf::Meta, meta_key)? {
            Some(raw) => Meta::decode(&raw).map(Some),
            None => Ok(None),
        }
    }

    /// Installs (or with `None` removes) the hot tier. Safe while commands run: the new tier
    /// starts empty and the epoch bump withdraws fills that began before it.
    pub fn set_tier(&self, tier: Option<HotTier>) {
        self.generations.bump_all();
        self.tier.store(tier.map(Arc::new));
    }

    /// The current hot tier, if enabled.
    pub fn tier(&self) -> Option<Arc<HotTier>> {
        self.tier.load_full()
    }

    /// The cached entry of `key` without recording an access (`OBJECT IDLETIME/FREQ`).
    pub fn tier_entry(&self, db: usize, key: &[u8]) -> Option<Arc<hot_tier::Cached>> {
        let tier = self.tier.load();
        tier.as_ref()?.get(&meta_key(self.phys(db), key), false)
    }

    /// The live (not expired) meta record of `key`.
    pub fn meta(&self, db: usize, key: &[u8]) -> StoreResult<Option<Meta>> {
        Ok(self.raw_meta(db, key)?.filter(|m| !m.is_expired(now_ms())))
    }

    /// Stages writing `new` for `key`, given the physical record `old` it replaces.
    pub fn stage_put(
        &self,
        ws: &mut WriteSet,
        db: usize,
        key: &[u8],
        old: Option<&Meta>,
        new: &Meta,
    ) {
        let phys = self.phys(db);
        if let Some(o) = old.filter(|o| o.expire_ms != 0 && o.expire_ms != new.expire_ms) {
            ws.batch
                .delete(Cf::Expire, encoding::expire_key(o.expire_ms, phys, key));
        }
        if new.expire_ms != 0 && old.map(|o| o.expire_ms) != Some(new.expire_ms) {
            ws.batch.put(
                Cf::Expire,
                encoding::expire_key(new.expire_ms, phys, key),
                Vec::new(),
            );
        }
        let mk = meta_key(phys, key);
        let update = if self.tier.load().is_some() {
            TierUpdate::Put(new.clone())
        } else {
            TierUpdate::Forget
        };
        ws.tier_updates.push((mk.clone(), update));
        ws.batch.put(Cf::Meta, mk, new.encode());
        if self.track_created.load(Ordering::Relaxed) && old.is_none_or(|o| o.is_expired(now_ms()))
        {
            ws.created.push((db, key.to_vec()));
        }
        let had_ttl = old.is_some_and(|o| o.expire_ms != 0);
        ws.delta(
            phys,
            i64::from(old.is_none()),
            i64::from(new.expire_ms != 0) - i64::from(had_ttl),
        );
    }

    /// Stages deleting `key` whose physical record is `old`. Collections are deleted by their
    /// meta record alone; their sub-keys become garbage for compaction.
    pub fn stage_delete(&self, ws: &mut WriteSet, db: usize, key: &[u8], old: &Meta) {
        self.stage_delete_phys(ws, self.phys(db), key, old);
    }

    fn stage_delete_phys(&self, ws: &mut WriteSet, phys: u16, key: &[u8], old: &Meta) {
        if old.expire_ms != 0 {
            ws.batch
                .delete(Cf::Expire, encoding::expire_key(old.expire_ms, phys, key));
        }
        let mk = meta_key(phys, key);
        ws.tier_updates.push((mk.clone(), TierUpdate::Delete));
        ws.batch.delete(Cf::Meta, mk);
        ws.delta(phys, -1, -i64::from(old.expire_ms != 0));
    }

    /// Commits a write set atomically, counters included; inside a deferral (see `deferred`)
    /// it may instead join the run's single write.
    pub fn commit(&self, mut ws: WriteSet) -> StoreResult<()> {
        created::record(std::mem::take(&mut ws.created));
        match self.defer(ws)? {
            None => Ok(()),
            Some(ws) => {
                let written = self.commit_now(ws, 1);
                self.note_direct_commit(&written);
                written
            }
        }
    }

    /// Commits `ws`, which holds `sets` logical write sets, as one engine write.
    fn commit_now(&self, mut ws: WriteSet, sets: u64) -> StoreResult<()> {
        for &(phys, keys, expires) in &ws.deltas {
            if keys != 0 {
                ws.batch.add_counter(Cf::Meta, keys_counter_key(phys), keys);
            }
            if expires != 0 {
                ws.batch
                    .add_counter(Cf::Meta, expires_counter_key(phys), expires);
            }
        }
        let written = self.engine.write_ref(&ws.batch);
        // Bump before looking at the tier: a reader that read the old record then sees the
        // bump and withdraws its insert, and a tier installed meanwhile is the one we update.
        for (mk, _) in &ws.tier_updates {
            self.generations.bump(mk);
        }
        self.refresh_members(&ws.batch, written.is_ok());
        if let Some(tier) = self.tier.load().as_ref() {
            for (mk, update) in ws.tier_updates {
                match (&written, update) {
                    (Ok(()), TierUpdate::Put(meta)) => tier.write_through(mk, Some(meta)),
                    (Ok(()), TierUpdate::Delete) => tier.write_through(mk, None),
                    // The outcome of a failed write is unknown: forget the key.
                    (Ok(()), TierUpdate::Forget) | (Err(_), _) => tier.invalidate(&mk),
                }
            }
        }
        self.note_write_outcome(&written);
        written?;
        self.stats.changes.fetch_add(sets, Ordering::Relaxed);
        for (phys, keys, expires) in ws.deltas {
            if let Some(c) = self.counters.get(usize::from(phys)) {
                c.keys.fetch_add(keys, Ordering::Relaxed);
                c.expires.fetch_add(expires, Ordering::Relaxed);
            }
        }
        Ok(())
    }

    /// Applies a batch's `data` puts and deletes to the member cache once the engine write
    /// returned (`member_cache` module doc), after bumping each sub-key's fill generation.
    /// A failed write's outcome is unknown, so its keys are forgotten instead.
    fn refresh_members(&self, batch: &engine::Batch, written: bool) {
        let ranged = batch.deletes_range_of(Cf::Data);
        for (key, _) in batch.writes_to(Cf::Data) {
            self.generations.bump(key);
        }
        if ranged {
            self.generations.bump_all();
        }
        let tier = self.tier.load();
        let Some(members) = tier.as_ref().map(|t| t.members()) else {
            return;
        };
        if ranged {
            members.clear();
            return;
        }
        for (key, value) in batch.writes_to(Cf::Data) {
            if written {
                members.put(key, value);
            } else {
                members.invalidate(key);
            }
        }
    }

    /// Records whether writes currently fail, for INFO and for the log.
    fn note_write_outcome(&self, outcome: &StoreResult<()>) {
        match outcome {
            Err(crate::error::StoreError::WriteFailed(cause)) => {
                let mut current = self.write_error.lock();
                if current.is_none() {
                    tracing::error!("writes are failing: {cause}");
                    *current = Some(cause.clone());
                }
                self.write_failing.store(true, Ordering::Relaxed);
            }
            Ok(()) if self.write_failing.load(Ordering::Relaxed) => {
                if self.write_error.lock().take().is_some() {
                    tracing::warn!("writes succeed again");
                }
                self.write_failing.store(false, Ordering::Relaxed);
            }
            _ => {}
        }
    }

    /// Whether the last write failed (writes are then not deferred, so each gets its error).
    pub fn writes_failing(&self) -> bool {
        self.write_failing.load(Ordering::Relaxed)
    }

    /// The cause writes currently fail with, if they do.
    pub fn write_error(&self) -> Option<String> {
        self.write_error.lock().clone()
    }

    /// Makes every write committed so far durable. Callers that arrive while another sync
    /// is running wait for it and return at once if it already covered their writes.
    pub fn sync_committed(&self) -> StoreResult<()> {
        let target = self.engine.latest_sequence();
        let mut synced = self.wal_synced.lock();
        if *synced >= target {
            return Ok(());
        }
        let covering = self.engine.latest_sequence();
        self.engine.sync_wal()?;
        *synced = covering;
        Ok(())
    }

    /// Number of keys in logical `db` (physical records, like Redis's `DBSIZE`).
    pub fn key_count(&self, db: usize) -> i64 {
        self.counters
            .get(usize::from(self.phys(db)))
            .map_or(0, |c| c.keys.load(Ordering::Relaxed))
    }

    /// Number of keys with a TTL in logical `db`.
    pub fn expires_count(&self, db: usize) -> i64 {
        self.counters
            .get(usize::from(self.phys(db)))
            .map_or(0, |c| c.expires.load(Ordering::Relaxed))
    }

    /// Removes every key of logical `db`. Caller holds the global lock exclusively.
    pub fn flush_db(&self, db: usize) -> StoreResult<()> {
        let phys = self.phys(db);
        let mut batch = Batch::default();
        let (start, end) = encoding::db_range(phys);
        batch.delete_range(Cf::Meta, start.clone(), end.clone());
        for cf in [Cf::Data, Cf::ZScore, Cf::Stream] {
            batch.delete_range(cf, start.clone(), end.clone());
        }
        batch.put(
            Cf::Meta,
            internal_key(FLUSHED_KEY),
            phys.to_be_bytes().to_vec(),
        );
        // Expire index entries of this db become stale; active expiry drops them.
        batch.put(
            Cf::Meta,
            keys_counter_key(phys),
            0i64.to_le_bytes().to_vec(),
        );
        batch.put(
            Cf::Meta,
            expires_counter_key(phys),
            0i64.to_le_bytes().to_vec(),
        );
        let written = self.engine.write(batch);
        self.generations.bump_all();
        if let Some(tier) = self.tier.load().as_ref() {
            tier.clear();
        }
        written?;
        if let Some(c) = self.counters.get(usize::from(phys)) {
            c.keys.store(0, Ordering::Relaxed);
            c.expires.store(0, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Allocates a fresh collection version: monotonic, never reused, survives restart (the
    /// bound of the current reservation is persisted before any version in it is used).
    pub fn next_version(&self) -> StoreResult<u64> {
        let mut v = self.versions.lock();
        if v.0 >= v.1 {
            let bound = v.0 + VERSION_RESERVE;
            let mut batch = Batch::default();
            batch.put(
                Cf::Meta,
                internal_key(VERSION_KEY),
                (bound as i64).to_le_bytes().to_vec(),
            );
            self.engine.write(batch)?;
            v.1 = bound;
        }
        v.0 += 1;
        Ok(v.0)
    }

    /// Swaps two logical databases in O(1). Caller holds the global lock exclusively.
    pub fn swap_db(&self, a: usize, b: usize) -> StoreResult<()> {
        let mut map = self.db_map.write();
        let mut next = map.clone();
        next.swap(a, b);
        let mut batch = Batch::default();
        batch.put(Cf::Meta, internal_key(DB_MAP_KEY), encode_map(&next));
        self.engine.write(batch)?;
        *map = next;
        Ok(())
    }
}

fn encode_map(map: &[u16]) -> Vec<u8> {
    map.iter().flat_map(|p| p.to_be_bytes()).collect()
}

/// A small store in a fresh temporary directory, for unit tests of the storage layer.
#[cfg(test)]
pub(crate) fn test_storage() -> (tempfile::TempDir, Storage) {
    let dir = tempfile::tempdir().unwrap();
    let opts = engine::EngineOptions {
        block_cache_bytes: 8 << 20,
        write_buffer_bytes: 4 << 20,
        ..Default::default()
    };
    let storage = Storage::open(dir.path(), 16, &opts).unwrap();
    (dir, storage)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_keys_parse_back_to_their_counter() {
        for phys in [0u16, 7, 15, u16::MAX] {
            assert_eq!(
                counter_of(&keys_counter_key(phys)),
                Some((CounterKind::Keys, phys))
            );
            assert_eq!(
                counter_of(&expires_counter_key(phys)),
                Some((CounterKind::Expires, phys))
            );
        }
        assert_eq!(counter_of(&internal_key(DB_MAP_KEY)), None);
        assert_eq!(counter_of(&internal_key(b"count/keys/\x00")), None);
        assert_eq!(counter_of(b"count/keys/\x00\x01"), None);
    }
}
