//! Set semantics: one `data` sub-key per member (`member -> ""`).

use std::collections::HashSet;

use rand::seq::IndexedRandom;

use crate::error::StoreResult;
use crate::storage::encoding::KeyType;
use crate::storage::engine::Cf;
use crate::storage::{Storage, WriteSet};

const S: KeyType = KeyType::Set;

/// How `SINTER`/`SUNION`/`SDIFF` combine their inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetOp {
    Inter,
    Union,
    Diff,
}

impl Storage {
    /// `SADD`: returns how many members were new.
    pub fn sadd(&self, db: usize, key: &[u8], members: &[&[u8]]) -> StoreResult<i64> {
        let mut w = self.coll_for_write(db, key, S)?;
        let mut ws = WriteSet::default();
        let mut added = 0;
        let mut seen: HashSet<&[u8]> = HashSet::new();
        for &m in members {
            if !seen.insert(m) {
                continue;
            }
            if w.existed
                && self
                    .sub_get(Cf::Data, db, key, w.coll.version, m)?
                    .is_some()
            {
                continue;
            }
            self.stage_sub_put(&mut ws, Cf::Data, db, key, w.coll.version, m, b"");
            added += 1;
        }
        if added > 0 {
            w.coll.len += added as u64;
            self.stage_coll(&mut ws, db, key, w.raw.as_ref(), &w.coll);
            self.commit(ws)?;
        }
        Ok(added)
    }

    /// `SREM`: returns how many members were present.
    pub fn srem(&self, db: usize, key: &[u8], members: &[&[u8]]) -> StoreResult<i64> {
        let Some(mut c) = self.coll(db, key, S)? else {
            return Ok(0);
        };
        let raw = Some(c.to_meta());
        let mut ws = WriteSet::default();
        let mut removed = 0;
        let mut seen: HashSet<&[u8]> = HashSet::new();
        for &m in members {
            if seen.insert(m) && self.sub_get(Cf::Data, db, key, c.version, m)?.is_some() {
                self.stage_sub_delete(&mut ws, Cf::Data, db, key, c.version, m);
                removed += 1;
            }
        }
        if removed > 0 {
            c.len -= removed as u64;
            self.stage_coll(&mut ws, db, key, raw.as_ref(), &c);
            self.commit(ws)?;
        }
        Ok(removed)
    }

    pub fn sismember(&self, db: usize, key: &[u8], member: &[u8]) -> StoreResult<bool> {
        match self.coll(db, key, S)? {
            Some(c) => Ok(self
                .sub_get(Cf::Data, db, key, c.version, member)?
                .is_some()),
            None => Ok(false),
        }
    }

    pub fn smembers(&self, db: usize, key: &[u8]) -> StoreResult<Vec<Vec<u8>>> {
        match self.coll(db, key, S)? {
            Some(c) => Ok(self
                .sub_all(Cf::Data, db, key, c.version)?
                .into_iter()
                .map(|(m, _)| m)
                .collect()),
            None => Ok(Vec::new()),
        }
    }

    pub fn scard(&self, db: usize, key: &[u8]) -> StoreResult<u64> {
        Ok(self.coll(db, key, S)?.map_or(0, |c| c.len))
    }

    /// `SPOP key count`: removes and returns up to `count` random members.
    pub fn spop(&self, db: usize, key: &[u8], count: usize) -> StoreResult<Vec<Vec<u8>>> {
        let Some(mut c) = self.coll(db, key, S)? else {
            return Ok(Vec::new());
        };
        let raw = Some(c.to_meta());
        let members: Vec<Vec<u8>> = self
            .sub_all(Cf::Data, db, key, c.version)?
            .into_iter()
            .map(|(m, _)| m)
            .collect();
        let chosen: Vec<Vec<u8>> = members
            .choose_multiple(&mut rand::rng(), count)
            .cloned()
            .collect();
        let mut ws = WriteSet::default();
        for m in &chosen {
            self.stage_sub_delete(&mut ws, Cf::Data, db, key, c.version, m);
        }
        c.len -= chosen.len() as u64;
        self.stage_coll(&mut ws, db, key, raw.as_ref(), &c);
        self.commit(ws)?;
        Ok(chosen)
    }

    /// `SMOVE`, in one atomic batch: true when the member was in `src`.
    pub fn smove(&self, db: usize, src: &[u8], dst: &[u8], member: &[u8]) -> StoreResult<bool> {
        let src_coll = self.coll(db, src, S)?;
        // Redis checks the destination's type even when the source is missing.
        let mut w = self.coll_for_write(db, dst, S)?;
        let Some(mut sc) = src_coll else {
            return Ok(false);
        };
        if self
            .sub_get(Cf::Data, db, src, sc.version, member)?
            .is_none()
        {
            return Ok(false);
        }
        if src == dst {
            return Ok(true);
        }
        let src_raw = Some(sc.to_meta());
        let mut ws = WriteSet::default();
        self.stage_sub_delete(&mut ws, Cf::Data, db, src, sc.version, member);
        sc.len -= 1;
        self.stage_coll(&mut ws, db, src, src_raw.as_ref(), &sc);
        if !w.existed
            || self
                .sub_get(Cf::Data, db, dst, w.coll.version, member)?
                .is_none()
        {
            self.stage_sub_put(&mut ws, Cf::Data, db, dst, w.coll.version, member, b"");
            w.coll.len += 1;
            self.stage_coll(&mut ws, db, dst, w.raw.as_ref(), &w.coll);
        }
        self.commit(ws)?;
        Ok(true)
    }

    /// Members of the sets at `keys` combined by `op` (missing keys are empty sets).
    pub fn set_combine(&self, db: usize, keys: &[&[u8]], op: SetOp) -> StoreResult<Vec<Vec<u8>>> {
        // Type-check every key first, as Redis does, so WRONGTYPE wins over empty results.
        let colls: Vec<_> = keys
            .iter()
            .map(|k| self.coll(db, k, S))
            .collect::<StoreResult<_>>()?;
        let mut sets: Vec<HashSet<Vec<u8>>> = Vec::with_capacity(keys.len());
        for (k, c) in keys.iter().zip(&colls) {
            if op == SetOp::Inter && c.is_none() {
                return Ok(Vec::new());
            }
            sets.push(self.smembers(db, k)?.into_iter().collect());
        }
        let mut iter = sets.into_iter();
        let Some(first) = iter.next() else {
            return Ok(Vec::new());
        };
        let result = iter.fold(first, |acc, s| match op {
            SetOp::Inter => acc.intersection(&s).cloned().collect(),
            SetOp::Union => acc.union(&s).cloned().collect(),
            SetOp::Diff => acc.difference(&s).cloned().collect(),
        });
        let mut out: Vec<Vec<u8>> = result.into_iter().collect();
        out.sort();
        Ok(out)
    }

    /// Replaces `dst` with a set of `members` (deleting it when empty); returns the size.
    pub fn set_store(&self, db: usize, dst: &[u8], members: &[Vec<u8>]) -> StoreResult<i64> {
        let raw = self.raw_meta(db, dst)?;
        let mut ws = WriteSet::default();
        if members.is_empty() {
            if let Some(old) = raw {
                self.stage_delete(&mut ws, db, dst, &old);
            }
            self.commit(ws)?;
            return Ok(0);
        }
        let version = self.next_version()?;
        for m in members {
            self.stage_sub_put(&mut ws, Cf::Data, db, dst, version, m, b"");
        }
        let coll = crate::storage::collection::Coll {
            kind: S,
            version,
            len: members.len() as u64,
            expire_ms: 0,
            tail: Vec::new(),
        };
        self.stage_coll(&mut ws, db, dst, raw.as_ref(), &coll);
        self.commit(ws)?;
        Ok(members.len() as i64)
    }
}
