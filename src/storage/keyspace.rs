//! Whole-key operations that do not depend on the value's type: existence, deletion, TTLs,
//! renames, copies, moves between databases, iteration and random sampling.
//!
//! Callers hold the key locks of the keys they mutate. Databases are logical indexes; this
//! module resolves them to physical ids through [`Storage`].

use rand::Rng;

use super::collection::Coll;
use super::encoding::{self, decode_meta_key, KeyType, Meta};
use super::engine::Cf;
use super::{now_ms, Storage, WriteSet};
use crate::error::StoreResult;

/// `EXPIRE` family conditions (Redis 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExpireCondition {
    #[default]
    Always,
    /// Only when the key has no TTL.
    Nx,
    /// Only when the key has a TTL.
    Xx,
    /// Only when the new TTL is greater (a persistent key counts as infinite).
    Gt,
    /// Only when the new TTL is smaller.
    Lt,
}

/// What `TTL`/`PTTL`/`EXPIRETIME` see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ttl {
    Missing,
    Persistent,
    /// Absolute unix milliseconds.
    At(u64),
}

/// One page of a keyspace scan.
pub struct ScanPage {
    pub keys: Vec<Vec<u8>>,
    /// Raw position to resume after, `None` when the scan is complete.
    pub resume_after: Option<Vec<u8>>,
}

impl Storage {
    pub fn exists(&self, db: usize, key: &[u8]) -> StoreResult<bool> {
        Ok(self.meta(db, key)?.is_some())
    }

    pub fn key_type(&self, db: usize, key: &[u8]) -> StoreResult<Option<KeyType>> {
        Ok(self.meta(db, key)?.map(|m| m.kind))
    }

    /// Deletes the given keys; returns how many were live. Logically expired records are
    /// removed too (without being counted), as Redis does on access.
    pub fn delete_keys(&self, db: usize, keys: &[&[u8]]) -> StoreResult<i64> {
        let mut ws = WriteSet::default();
        let mut removed = 0;
        // A set, not a scan of the keys so far: DEL/UNLINK of 100k keys was quadratic.
        let mut seen = std::collections::HashSet::with_capacity(keys.len().min(1024));
        let now = now_ms();
        for &key in keys {
            if !seen.insert(key) {
                continue;
            }
            if let Some(old) = self.raw_meta(db, key)? {
                if !old.is_expired(now) {
                    removed += 1;
                }
                self.stage_delete(&mut ws, db, key, &old);
            }
        }
        self.commit(ws)?;
        Ok(removed)
    }

    pub fn ttl(&self, db: usize, key: &[u8]) -> StoreResult<Ttl> {
        Ok(match self.meta(db, key)? {
            None => Ttl::Missing,
            Some(m) if m.expire_ms == 0 => Ttl::Persistent,
            Some(m) => Ttl::At(m.expire_ms),
        })
    }

    /// Sets an absolute expiry (ms). Returns false when the key is missing or the condition
    /// fails. A deadline already in the past deletes the key.
    pub fn expire_at(
        &self,
        db: usize,
        key: &[u8],
        when_ms: i64,
        cond: ExpireCondition,
    ) -> StoreResult<bool> {
        let Some(old) = self.meta(db, key)? else {
            return Ok(false);
        };
        let current = (old.expire_ms != 0).then_some(old.expire_ms as i64);
        let allowed = match cond {
            ExpireCondition::Always => true,
            ExpireCondition::Nx => current.is_none(),
            ExpireCondition::Xx => current.is_some(),
            ExpireCondition::Gt => current.is_some_and(|c| when_ms > c),
            ExpireCondition::Lt => current.is_none_or(|c| when_ms < c),
        };
        if !allowed {
            return Ok(false);
        }
        let mut ws = WriteSet::default();
        if when_ms <= now_ms() as i64 {
            self.stage_delete(&mut ws, db, key, &old);
        } else {
            let new = Meta {
                expire_ms: when_ms as u64,
                ..old.clone()
            };
            self.stage_put(&mut ws, db, key, Some(&old), &new);
        }
        self.commit(ws)?;
        Ok(true)
    }

    /// Removes the TTL; true when there was one.
    pub fn persist(&self, db: usize, key: &[u8]) -> StoreResult<bool> {
        let Some(old) = self.meta(db, key)? else {
            return Ok(false);
        };
        if old.expire_ms == 0 {
            return Ok(false);
        }
        let mut ws = WriteSet::default();
        let new = Meta {
            expire_ms: 0,
            ..old.clone()
        };
        self.stage_put(&mut ws, db, key, Some(&old), &new);
        self.commit(ws)?;
        Ok(true)
    }

    /// Copies `src` (in `src_db`) to `dst` (in `dst_db`), keeping its TTL. Returns false when
    /// `src` is missing, or when `dst` exists and `replace` is false. With `remove_source`
    /// this is a rename/move.
    pub fn copy_key(
        &self,
        src_db: usize,
        src: &[u8],
        dst_db: usize,
        dst: &[u8],
        replace: bool,
        remove_source: bool,
    ) -> StoreResult<bool> {
        let Some(value) = self.meta(src_db, src)? else {
            return Ok(false);
        };
        let same = src_db == dst_db && src == dst;
        let dst_old = self.raw_meta(dst_db, dst)?;
        let dst_live = dst_old.as_ref().is_some_and(|m| !m.is_expired(now_ms()));
        if dst_live && !replace && !same {
            return Ok(false);
        }
        if same {
            return Ok(true);
        }
        let mut ws = WriteSet::default();
        let mut copy = value.clone();
        if value.kind != KeyType::String || value.chunked {
            // A collection's members live under its version: copy them under a fresh one.
            let mut coll = Coll::decode(&value)?;
            let old_version = coll.version;
            coll.version = self.next_version()?;
            let dst_phys = self.phys(dst_db);
            for cf in [Cf::Data, Cf::ZScore, Cf::Stream] {
                for (sub, val) in self.sub_all(cf, src_db, src, old_version)? {
                    if value.kind == KeyType::Hash && cf == Cf::Data {
                        // Fields with a TTL keep it, and their entry in the expiry index.
                        let (_, expire) = crate::storage::types::hash::decode_field(&val)?;
                        if expire != 0 {
                            let index = encoding::field_expire_key(
                                expire,
                                dst_phys,
                                dst,
                                coll.version,
                                &sub,
                            );
                            ws.batch.put(Cf::Expire, index, Vec::new());
                        }
                    }
                    self.stage_sub_put(&mut ws, cf, dst_db, dst, coll.version, &sub, &val);
                }
            }
            copy = Meta {
                chunked: value.chunked,
                ..coll.to_meta()
            };
        }
        self.stage_put(&mut ws, dst_db, dst, dst_old.as_ref(), &copy);
        if remove_source {
            self.stage_delete(&mut ws, src_db, src, &value);
        }
        self.commit(ws)?;
        Ok(true)
    }

    /// Scans up to `count` physical records of `db` after `resume_after`, returning the live
    /// keys that pass `keep`.
    pub fn scan_keys(
        &self,
        db: usize,
        resume_after: Option<&[u8]>,
        count: usize,
        mut keep: impl FnMut(&[u8], &Meta) -> bool,
    ) -> StoreResult<ScanPage> {
        let phys = self.phys(db);
        let (start, end) = encoding::db_range(phys);
        let start = match resume_after {
            Some(pos) if pos >= start.as_slice() => {
                let mut s = pos.to_vec();
                s.push(0);
                s
            }
            _ => start,
        };
        let now = now_ms();
        let mut keys = Vec::new();
        let mut visited = 0;
        let mut last: Option<Vec<u8>> = None;
        let mut error = None;
        self.engine()
            .scan(Cf::Meta, &start, &end, |raw_key, raw_value| {
                visited += 1;
                last = Some(raw_key.to_vec());
                match (decode_meta_key(raw_key), Meta::decode(raw_value)) {
                    (Ok((_, key)), Ok(meta)) => {
                        if !meta.is_expired(now) && keep(key, &meta) {
                            keys.push(key.to_vec());
                        }
                    }
                    (Err(e), _) | (_, Err(e)) => error = Some(e),
                }
                error.is_none() && visited < count
            })?;
        if let Some(e) = error {
            return Err(e);
        }
        let resume_after = if visited < count { None } else { last };
        Ok(ScanPage { keys, resume_after })
    }

    /// A random live key of `db`, or `None` when it has none: a random slot is picked and
    /// the first live key at or after it (wrapping around) is returned.
    pub fn random_key(&self, db: usize) -> StoreResult<Option<Vec<u8>>> {
        let (start, end) = encoding::db_range(self.phys(db));
        let slot: u16 = rand::rng().random_range(0..encoding::SLOTS);
        let mut seek = start.clone();
        seek.extend_from_slice(&slot.to_be_bytes());
        if let Some(key) = self.first_live_key(&seek, &end)? {
            return Ok(Some(key));
        }
        self.first_live_key(&start, &seek)
    }

    fn first_live_key(&self, from: &[u8], to: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        let now = now_ms();
        let mut found = None;
        self.engine()
            .scan(Cf::Meta, from, to, |k, v| match Meta::decode(v) {
                Ok(m) if !m.is_expired(now) => {
                    found = decode_meta_key(k).ok().map(|(_, key)| key.to_vec());
                    false
                }
                _ => true,
            })?;
        Ok(found)
    }
}

impl Storage {
    /// Estimated bytes `key` occupies (its meta record plus, for collections, its members,
    /// extrapolated from the first `samples` when `samples > 0`). `None` when missing.
    pub fn memory_usage(&self, db: usize, key: &[u8], samples: usize) -> StoreResult<Option<u64>> {
        let Some(meta) = self.meta(db, key)? else {
            return Ok(None);
        };
        // Record overhead: RocksDB key prefix, flags and expiry, plus allocator slack.
        let base = (key.len() + meta.body.len() + 16 + 32) as u64;
        if meta.chunked {
            return Ok(Some(base + super::types::chunked::string_len(&meta)?));
        }
        if meta.kind == KeyType::String {
            return Ok(Some(base));
        }
        let coll = Coll::decode(&meta)?;
        let mut seen = 0u64;
        let mut bytes = 0u64;
        for cf in [Cf::Data, Cf::ZScore, Cf::Stream] {
            self.sub_scan(cf, db, key, coll.version, &[], |sub, value| {
                bytes += (sub.len() + value.len() + 16) as u64;
                seen += 1;
                samples == 0 || (seen as usize) < samples
            })?;
        }
        // Sorted sets keep two sub-keys per member (by member and by score).
        let sub_keys = coll.len * if meta.kind == KeyType::ZSet { 2 } else { 1 };
        let total = if samples == 0 {
            bytes
        } else {
            bytes.checked_div(seen).unwrap_or(0) * sub_keys
        };
        Ok(Some(base + total))
    }
}
