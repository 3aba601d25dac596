//! Hash semantics: one `data` sub-key per field (`field -> value`).

use std::collections::HashSet;

use crate::error::{StoreError, StoreResult};
use crate::num::{format_human_f64, parse_f64, parse_i64};
use crate::storage::encoding::KeyType;
use crate::storage::engine::Cf;
use crate::storage::{Storage, WriteSet};

const H: KeyType = KeyType::Hash;

impl Storage {
    /// `HSET`/`HMSET` (and `HSETNX` with `only_new`): returns how many fields were added.
    pub fn hset(
        &self,
        db: usize,
        key: &[u8],
        pairs: &[(&[u8], &[u8])],
        only_new: bool,
    ) -> StoreResult<i64> {
        let mut w = self.coll_for_write(db, key, H)?;
        let mut ws = WriteSet::default();
        let mut added = 0;
        let mut seen: HashSet<&[u8]> = HashSet::new();
        for &(field, value) in pairs {
            let exists = seen.contains(field)
                || (w.existed
                    && self
                        .sub_get(Cf::Data, db, key, w.coll.version, field)?
                        .is_some());
            if exists && only_new {
                continue;
            }
            if !exists {
                added += 1;
                seen.insert(field);
            }
            self.stage_sub_put(&mut ws, Cf::Data, db, key, w.coll.version, field, value);
        }
        if added == 0 && only_new {
            return Ok(0);
        }
        w.coll.len += added as u64;
        self.stage_coll(&mut ws, db, key, w.raw.as_ref(), &w.coll);
        self.commit(ws)?;
        Ok(added)
    }

    pub fn hget(&self, db: usize, key: &[u8], field: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        match self.coll(db, key, H)? {
            Some(c) => self.sub_get(Cf::Data, db, key, c.version, field),
            None => Ok(None),
        }
    }

    pub fn hmget(
        &self,
        db: usize,
        key: &[u8],
        fields: &[&[u8]],
    ) -> StoreResult<Vec<Option<Vec<u8>>>> {
        let Some(c) = self.coll(db, key, H)? else {
            return Ok(vec![None; fields.len()]);
        };
        fields
            .iter()
            .map(|f| self.sub_get(Cf::Data, db, key, c.version, f))
            .collect()
    }

    pub fn hgetall(&self, db: usize, key: &[u8]) -> StoreResult<Vec<(Vec<u8>, Vec<u8>)>> {
        match self.coll(db, key, H)? {
            Some(c) => self.sub_all(Cf::Data, db, key, c.version),
            None => Ok(Vec::new()),
        }
    }

    pub fn hlen(&self, db: usize, key: &[u8]) -> StoreResult<u64> {
        Ok(self.coll(db, key, H)?.map_or(0, |c| c.len))
    }

    /// `HDEL`: returns how many fields existed.
    pub fn hdel(&self, db: usize, key: &[u8], fields: &[&[u8]]) -> StoreResult<i64> {
        let Some(mut c) = self.coll(db, key, H)? else {
            return Ok(0);
        };
        let raw = self.raw_meta(db, key)?;
        let mut ws = WriteSet::default();
        let mut removed = 0;
        let mut seen: HashSet<&[u8]> = HashSet::new();
        for &field in fields {
            if seen.insert(field) && self.sub_get(Cf::Data, db, key, c.version, field)?.is_some() {
                self.stage_sub_delete(&mut ws, Cf::Data, db, key, c.version, field);
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

    /// Reads a field, lets `update` compute the new value, writes it; returns the new value.
    fn hash_update(
        &self,
        db: usize,
        key: &[u8],
        field: &[u8],
        update: impl FnOnce(Option<&[u8]>) -> StoreResult<Vec<u8>>,
    ) -> StoreResult<Vec<u8>> {
        let mut w = self.coll_for_write(db, key, H)?;
        let current = if w.existed {
            self.sub_get(Cf::Data, db, key, w.coll.version, field)?
        } else {
            None
        };
        let new = update(current.as_deref())?;
        let mut ws = WriteSet::default();
        self.stage_sub_put(&mut ws, Cf::Data, db, key, w.coll.version, field, &new);
        if current.is_none() {
            w.coll.len += 1;
        }
        self.stage_coll(&mut ws, db, key, w.raw.as_ref(), &w.coll);
        self.commit(ws)?;
        Ok(new)
    }

    pub fn hincrby(&self, db: usize, key: &[u8], field: &[u8], delta: i64) -> StoreResult<i64> {
        let mut result = 0;
        self.hash_update(db, key, field, |cur| {
            let base = match cur {
                Some(v) => parse_i64(v).ok_or(StoreError::HashNotInteger)?,
                None => 0,
            };
            result = base.checked_add(delta).ok_or(StoreError::Overflow)?;
            Ok(result.to_string().into_bytes())
        })?;
        Ok(result)
    }

    pub fn hincrbyfloat(
        &self,
        db: usize,
        key: &[u8],
        field: &[u8],
        delta: f64,
    ) -> StoreResult<Vec<u8>> {
        self.hash_update(db, key, field, |cur| {
            let base = match cur {
                Some(v) => parse_f64(v).ok_or(StoreError::HashNotFloat)?,
                None => 0.0,
            };
            let sum = base + delta;
            if !sum.is_finite() {
                return Err(StoreError::NanOrInfinity);
            }
            Ok(format_human_f64(sum).into_bytes())
        })
    }
}
