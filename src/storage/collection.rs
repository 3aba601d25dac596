//! Shared machinery of collection types (hash, list, set, zset): the meta body
//! `[version u64][len u64][type tail]`, type-checked lookup, sub-key reads and writes, and the
//! rule that an emptied collection no longer exists.
//!
//! Sub-keys are `[db][slot][key_len][key][version][sub]` (DESIGN §4); a collection's
//! identity on disk is its version, so deleting or overwriting it touches only the meta
//! record and the old sub-keys become garbage for compaction.

use super::encoding::{self, KeyType, Meta};
use super::engine::Cf;
use super::{now_ms, Storage, WriteSet};
use crate::error::{StoreError, StoreResult};

/// A decoded collection meta record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coll {
    pub kind: KeyType,
    pub version: u64,
    pub len: u64,
    pub expire_ms: u64,
    /// Type-specific tail (list head/tail indexes).
    pub tail: Vec<u8>,
}

impl Coll {
    pub fn decode(meta: &Meta) -> StoreResult<Coll> {
        let b = &meta.body;
        if b.len() < 16 {
            return Err(StoreError::Corrupt(
                "collection meta shorter than 16 bytes".into(),
            ));
        }
        let word = |i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&b[i..i + 8]);
            u64::from_be_bytes(w)
        };
        Ok(Coll {
            kind: meta.kind,
            version: word(0),
            len: word(8),
            expire_ms: meta.expire_ms,
            tail: b[16..].to_vec(),
        })
    }

    /// The meta record, byte for byte what [`Coll::decode`] read: a mutator uses
    /// `coll.to_meta()` as the record it replaces instead of reading it again.
    pub fn to_meta(&self) -> Meta {
        let mut body = Vec::with_capacity(16 + self.tail.len());
        body.extend_from_slice(&self.version.to_be_bytes());
        body.extend_from_slice(&self.len.to_be_bytes());
        body.extend_from_slice(&self.tail);
        Meta {
            chunked: false,
            kind: self.kind,
            expire_ms: self.expire_ms,
            body,
        }
    }
}

/// A collection looked up for writing: the physical record it replaces and the live value.
pub struct CollWrite {
    pub raw: Option<Meta>,
    pub coll: Coll,
    pub existed: bool,
}

impl Storage {
    /// The live collection at `key` if it has type `kind`; `WRONGTYPE` if another type lives
    /// there; `None` if missing or expired.
    pub fn coll(&self, db: usize, key: &[u8], kind: KeyType) -> StoreResult<Option<Coll>> {
        match self.meta(db, key)? {
            None => Ok(None),
            Some(m) if m.kind != kind => Err(StoreError::WrongType),
            Some(m) => Coll::decode(&m).map(Some),
        }
    }

    /// The collection to modify: the live one, or a new empty one with a fresh version.
    pub fn coll_for_write(&self, db: usize, key: &[u8], kind: KeyType) -> StoreResult<CollWrite> {
        let raw = self.raw_meta(db, key)?;
        let live = raw.as_ref().filter(|m| !m.is_expired(now_ms()));
        match live {
            Some(m) if m.kind != kind => Err(StoreError::WrongType),
            Some(m) => Ok(CollWrite {
                coll: Coll::decode(m)?,
                raw,
                existed: true,
            }),
            None => {
                let coll = Coll {
                    kind,
                    version: self.next_version()?,
                    len: 0,
                    expire_ms: 0,
                    tail: Vec::new(),
                };
                Ok(CollWrite {
                    raw,
                    coll,
                    existed: false,
                })
            }
        }
    }

    /// Stages the collection's new meta record; an empty collection is deleted instead.
    pub fn stage_coll(
        &self,
        ws: &mut WriteSet,
        db: usize,
        key: &[u8],
        raw: Option<&Meta>,
        coll: &Coll,
    ) {
        if coll.len == 0 {
            if let Some(old) = raw {
                self.stage_delete(ws, db, key, old);
            }
        } else {
            self.stage_put(ws, db, key, raw, &coll.to_meta());
        }
    }

    pub fn sub_key(&self, db: usize, key: &[u8], version: u64, sub: &[u8]) -> Vec<u8> {
        encoding::sub_key(self.phys(db), key, version, sub)
    }

    pub fn sub_get(
        &self,
        cf: Cf,
        db: usize,
        key: &[u8],
        version: u64,
        sub: &[u8],
    ) -> StoreResult<Option<Vec<u8>>> {
        let sub_key = self.sub_key(db, key, version, sub);
        // A write of this thread's open run (storage::deferred) is not in the engine yet.
        if let Some(staged) = self.deferred_sub(cf, &sub_key) {
            return Ok(staged);
        }
        if cf != Cf::Data {
            return self.engine().get(cf, &sub_key);
        }
        let tier = self.tier.load();
        let Some(members) = tier.as_ref().map(|t| t.members()) else {
            return self.engine().get(cf, &sub_key);
        };
        if let Some(hit) = members.get(&sub_key) {
            return Ok(hit);
        }
        // The hot tier's fill protocol (`member_cache` module doc): a write that commits while
        // we read bumps the generation, and our possibly older fill is withdrawn.
        let ticket = self.generations.ticket(&sub_key);
        let found = self.engine().get(cf, &sub_key)?;
        members.put(&sub_key, found.as_deref());
        if !self.generations.unchanged(&ticket) {
            members.invalidate(&sub_key);
        }
        Ok(found)
    }

    // A sub-key is addressed by (cf, db, key, version, sub): bundling them would only move
    // the same seven values into a struct at every call site.
    #[allow(clippy::too_many_arguments)]
    pub fn stage_sub_put(
        &self,
        ws: &mut WriteSet,
        cf: Cf,
        db: usize,
        key: &[u8],
        version: u64,
        sub: &[u8],
        value: &[u8],
    ) {
        ws.batch
            .put(cf, self.sub_key(db, key, version, sub), value.to_vec());
    }

    pub fn stage_sub_delete(
        &self,
        ws: &mut WriteSet,
        cf: Cf,
        db: usize,
        key: &[u8],
        version: u64,
        sub: &[u8],
    ) {
        ws.batch.delete(cf, self.sub_key(db, key, version, sub));
    }

    /// Visits sub-keys of one collection version in ascending order, starting at `from`
    /// (relative to the version prefix), until `visit` returns false.
    pub fn sub_scan(
        &self,
        cf: Cf,
        db: usize,
        key: &[u8],
        version: u64,
        from: &[u8],
        mut visit: impl FnMut(&[u8], &[u8]) -> bool,
    ) -> StoreResult<()> {
        let prefix = encoding::sub_key_prefix(self.phys(db), key, version);
        let end = encoding::sub_key_prefix(self.phys(db), key, version + 1);
        let mut start = prefix.clone();
        start.extend_from_slice(from);
        let n = prefix.len();
        self.settle_deferred()?;
        self.engine()
            .scan(cf, &start, &end, |k, v| visit(&k[n..], v))
    }

    /// Like [`Storage::sub_scan`] in descending order, over sub-keys below `before` (relative;
    /// empty means from the very end).
    pub fn sub_scan_rev(
        &self,
        cf: Cf,
        db: usize,
        key: &[u8],
        version: u64,
        before: &[u8],
        mut visit: impl FnMut(&[u8], &[u8]) -> bool,
    ) -> StoreResult<()> {
        let prefix = encoding::sub_key_prefix(self.phys(db), key, version);
        let end = if before.is_empty() {
            encoding::sub_key_prefix(self.phys(db), key, version + 1)
        } else {
            let mut e = prefix.clone();
            e.extend_from_slice(before);
            e
        };
        let n = prefix.len();
        self.settle_deferred()?;
        self.engine()
            .scan_rev(cf, &prefix, &end, |k, v| visit(&k[n..], v))
    }

    /// All (sub, value) pairs of a collection version, in order.
    pub fn sub_all(
        &self,
        cf: Cf,
        db: usize,
        key: &[u8],
        version: u64,
    ) -> StoreResult<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut out = Vec::new();
        self.sub_scan(cf, db, key, version, &[], |k, v| {
            out.push((k.to_vec(), v.to_vec()));
            true
        })?;
        Ok(out)
    }
}

/// One page of a collection scan (HSCAN/SSCAN/ZSCAN): raw `data` entries in member order.
pub struct SubPage {
    pub entries: Vec<(Vec<u8>, Vec<u8>)>,
    /// Member to resume after; `None` when the collection is exhausted.
    pub resume_after: Option<Vec<u8>>,
}

impl Storage {
    /// Reads up to `count` members of the collection at `key` after `after`, in order, so a
    /// scan costs O(count) per page whatever the collection's size.
    pub fn coll_scan_page(
        &self,
        db: usize,
        key: &[u8],
        kind: KeyType,
        after: Option<&[u8]>,
        count: usize,
    ) -> StoreResult<SubPage> {
        let Some(c) = self.coll(db, key, kind)? else {
            return Ok(SubPage {
                entries: Vec::new(),
                resume_after: None,
            });
        };
        let from = after.map(|a| {
            let mut f = a.to_vec();
            f.push(0);
            f
        });
        let mut entries = Vec::new();
        let mut more = false;
        self.sub_scan(
            Cf::Data,
            db,
            key,
            c.version,
            from.as_deref().unwrap_or(&[]),
            |k, v| {
                if entries.len() == count {
                    more = true;
                    return false;
                }
                entries.push((k.to_vec(), v.to_vec()));
                true
            },
        )?;
        let resume_after = if more {
            entries.last().map(|(k, _)| k.clone())
        } else {
            None
        };
        Ok(SubPage {
            entries,
            resume_after,
        })
    }
}
