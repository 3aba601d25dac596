//! A replica's side of the storage: applying the batches its primary logged, and loading a
//! full copy (see `docs/replication.md`).
//!
//! Invariants:
//! - A follower's engine takes no local write (`Engine::is_follower`); only the batches
//!   applied here change it, so its sequence numbers advance exactly as the primary's did
//!   and the replication offset can be derived from them.
//! - A batch is applied under the same locks a command writing those keys would take (the
//!   shared global lock and the keys' stripes; the exclusive global lock for whole-database
//!   changes), and the hot tier entries it makes stale are withdrawn before the locks are
//!   released, so no reader ever sees a value older than one already returned.
//! - Derived in-memory state follows the records the batch wrote, never a second
//!   computation: the key counters take the batch's own deltas (merge operands) or values
//!   (puts); the database map and the version allocator are re-read after a flush or a
//!   map change. Re-reading a counter instead would make RocksDB fold every merge operand
//!   written since the last memtable flush, on every batch: that once cost a replica more
//!   CPU than its primary spent on the writes themselves.
//!
//! Depends on the engine, encoding and the hot tier; knows nothing of sockets or RESP.

use std::sync::atomic::Ordering;

use super::encoding::{decode_meta_key, internal_key, INTERNAL_DB};
use super::engine::{decode_counter, Batch, Cf, LoggedOp};
use super::{Storage, DB_MAP_KEY, FLUSHED_KEY, VERSION_KEY};
use crate::error::StoreResult;

/// Records one full copy is loaded in: about this many bytes per engine write.
pub const LOAD_BATCH_BYTES: usize = 4 << 20;

/// What an applied batch touched: user keys (physical db, key) and whether it changed
/// whole databases (a flush or the database map).
#[derive(Default)]
pub struct Applied {
    pub keys: Vec<(u16, Vec<u8>)>,
    pub whole_databases: bool,
}

/// What a logged record does to a counter record.
#[derive(Debug, Clone, Copy)]
enum CounterChange {
    Add(i64),
    Set(i64),
}

impl CounterChange {
    fn of(op: LoggedOp<'_>) -> CounterChange {
        match op {
            LoggedOp::Merge(delta) => CounterChange::Add(decode_counter(delta)),
            LoggedOp::Put(value) => CounterChange::Set(decode_counter(value)),
            LoggedOp::Delete => CounterChange::Set(0),
        }
    }
}

/// The meta key a record of `cf` belongs to, if it belongs to a user key.
fn owning_meta_key(cf: Cf, key: &[u8]) -> Option<Vec<u8>> {
    match cf {
        Cf::Meta => Some(key.to_vec()),
        Cf::Data | Cf::ZScore | Cf::Stream => super::reclaim::split_sub_key(key).map(|(mk, _)| mk),
        Cf::Expire => key.get(8..).map(<[u8]>::to_vec),
    }
}

impl Storage {
    /// Applies one batch the primary logged, atomically, and withdraws what it made stale.
    pub fn apply_logged(&self, data: &[u8]) -> StoreResult<Applied> {
        let mut meta_keys: Vec<Vec<u8>> = Vec::new();
        let mut member_keys: Vec<Vec<u8>> = Vec::new();
        let mut internal: Vec<(Vec<u8>, CounterChange)> = Vec::new();
        self.engine.visit_logged(data, |cf, key, op| {
            if cf == Cf::Data {
                member_keys.push(key.to_vec());
            }
            if let Some(mk) = owning_meta_key(cf, key) {
                if mk.get(..2) == Some(&INTERNAL_DB.to_be_bytes()[..]) {
                    if cf == Cf::Meta {
                        internal.push((mk, CounterChange::of(op)));
                    }
                } else {
                    meta_keys.push(mk);
                }
            }
        });
        meta_keys.sort_unstable();
        meta_keys.dedup();
        let whole = internal
            .iter()
            .any(|(k, _)| *k == internal_key(DB_MAP_KEY) || *k == internal_key(FLUSHED_KEY));
        let user_keys: Vec<(u16, Vec<u8>)> = meta_keys
            .iter()
            .filter_map(|mk| decode_meta_key(mk).ok())
            .map(|(db, key)| (db, key.to_vec()))
            .collect();

        let written = {
            let _exclusive;
            let _shared;
            let _keys;
            if whole {
                _exclusive = self.global.write();
            } else {
                _shared = self.global.read();
                _keys = self.locks.lock(user_keys.iter().map(|(_, k)| k.as_slice()));
            }
            let written = self.engine.write_logged(data, Batch::default());
            for mk in meta_keys.iter().chain(&member_keys) {
                self.generations.bump(mk);
            }
            if let Some(tier) = self.tier.load().as_ref() {
                for mk in &meta_keys {
                    tier.invalidate(mk);
                }
                for member in &member_keys {
                    tier.members().invalidate(member);
                }
                if whole {
                    tier.clear();
                }
            }
            if whole {
                self.generations.bump_all();
            }
            if written.is_ok() {
                self.stats.changes.fetch_add(1, Ordering::Relaxed);
                self.reload_internal(whole, &internal)?;
            }
            written
        };
        self.wake_lock_waiters();
        written?;
        Ok(Applied {
            keys: user_keys,
            whole_databases: whole,
        })
    }

    /// Brings the in-memory copies of the internal records in `touched` up to date, in the
    /// batch's order.
    /// `whole`: the batch changed the database map or flushed (see `apply_logged`).
    fn reload_internal(
        &self,
        whole: bool,
        touched: &[(Vec<u8>, CounterChange)],
    ) -> StoreResult<()> {
        if whole {
            return self.reload_derived_state();
        }
        for (key, change) in touched {
            let Some((kind, phys)) = super::counter_of(key) else {
                continue;
            };
            let Some(counters) = self.counters.get(usize::from(phys)) else {
                continue;
            };
            let counter = match kind {
                super::CounterKind::Keys => &counters.keys,
                super::CounterKind::Expires => &counters.expires,
            };
            match *change {
                CounterChange::Add(delta) => {
                    counter.fetch_add(delta, Ordering::Relaxed);
                }
                CounterChange::Set(value) => counter.store(value, Ordering::Relaxed),
            }
        }
        Ok(())
    }

    fn read_counter(&self, key: &[u8]) -> StoreResult<i64> {
        Ok(self
            .engine
            .get(Cf::Meta, key)?
            .map(|v| decode_counter(&v))
            .unwrap_or(0))
    }

    /// Re-reads everything the storage keeps in memory about the data: the database map,
    /// the key counters and the version allocator's bound, and empties the hot tier. After a
    /// full copy was loaded, and when a replica becomes a primary.
    pub fn reload_derived_state(&self) -> StoreResult<()> {
        if let Some(raw) = self.engine.get(Cf::Meta, &internal_key(DB_MAP_KEY))? {
            let loaded: Vec<u16> = raw
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            let mut map = self.db_map.write();
            // The local `databases` setting decides how many are visible; the primary's
            // map decides where they live.
            for (slot, phys) in map.iter_mut().zip(loaded) {
                *slot = phys;
            }
        }
        for phys in 0..self.counters.len() {
            let phys16 = phys as u16;
            let keys = self.read_counter(&super::keys_counter_key(phys16))?;
            let expires = self.read_counter(&super::expires_counter_key(phys16))?;
            self.counters[phys].keys.store(keys, Ordering::Relaxed);
            self.counters[phys]
                .expires
                .store(expires, Ordering::Relaxed);
        }
        let reserved = self
            .engine
            .get(Cf::Meta, &internal_key(VERSION_KEY))?
            .map_or(0, |v| decode_counter(&v).max(0) as u64);
        {
            let mut v = self.versions.lock();
            let first = reserved.max(super::now_ms() * 1000).max(v.0);
            *v = (first, first);
        }
        self.generations.bump_all();
        if let Some(tier) = self.tier.load().as_ref() {
            tier.clear();
        }
        Ok(())
    }

    /// Starts loading a full copy: removes every record (the caller answers `-LOADING`
    /// meanwhile).
    pub fn begin_full_load(&self) -> StoreResult<()> {
        let _exclusive = self.global.write();
        let mut batch = Batch::default();
        for cf in Cf::ALL {
            batch.delete_range(cf, Vec::new(), vec![0xFF; 8]);
        }
        self.engine.write_from_primary(batch)?;
        self.generations.bump_all();
        if let Some(tier) = self.tier.load().as_ref() {
            tier.clear();
        }
        Ok(())
    }

    /// Writes records of a full copy (raw keys and values of each family).
    pub fn load_records(&self, records: Vec<(Cf, Vec<u8>, Vec<u8>)>) -> StoreResult<()> {
        let mut batch = Batch::default();
        for (cf, k, v) in records {
            batch.put(cf, k, v);
        }
        self.engine.write_from_primary(batch)
    }

    /// Ends a full load: in-memory state is rebuilt from what was loaded.
    pub fn finish_full_load(&self) -> StoreResult<()> {
        let _exclusive = self.global.write();
        self.reload_derived_state()
    }
}
