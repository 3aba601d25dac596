//! Hash semantics: one `data` sub-key per field. The value record is
//! `[0][value]` or, for a field with a TTL (HEXPIRE family, Redis 7.4+),
//! `[1][expire_ms u64 BE][value]`. A field with a TTL also has an entry in the field range
//! of the `expire` family ([`encoding::field_expire_key`]) so active expiry reclaims it.
//!
//! Expired fields are invisible at once. Like Redis, `HLEN` counts fields physically
//! present, so a field that expired but was not yet reclaimed is still counted.

use std::collections::HashSet;

use crate::error::{StoreError, StoreResult};
use crate::num::{format_human_f64, parse_f64, parse_i64};
use crate::storage::encoding::{self, KeyType};
use crate::storage::engine::Cf;
use crate::storage::{now_ms, Storage, WriteSet};

const H: KeyType = KeyType::Hash;

/// Encodes a field's value record.
pub fn encode_field(value: &[u8], expire_ms: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() + 9);
    if expire_ms == 0 {
        out.push(0);
    } else {
        out.push(1);
        out.extend_from_slice(&expire_ms.to_be_bytes());
    }
    out.extend_from_slice(value);
    out
}

/// Decodes a field's value record into (value, expire_ms).
pub fn decode_field(raw: &[u8]) -> StoreResult<(Vec<u8>, u64)> {
    match raw.first() {
        Some(0) => Ok((raw[1..].to_vec(), 0)),
        Some(1) if raw.len() >= 9 => {
            let mut ms = [0u8; 8];
            ms.copy_from_slice(&raw[1..9]);
            Ok((raw[9..].to_vec(), u64::from_be_bytes(ms)))
        }
        _ => Err(StoreError::Corrupt("hash field record".into())),
    }
}

/// A field as stored: present physically, and its value and TTL if not expired.
struct Field {
    physical: Option<u64>,
    live: Option<(Vec<u8>, u64)>,
}

/// `HEXPIRE` family outcome per field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldExpire {
    NoField,
    ConditionNotMet,
    Set,
    Deleted,
}

/// `HSETEX`'s field condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldCondition {
    Always,
    /// FNX: only if none of the fields exist.
    NoneExist,
    /// FXX: only if all of the fields exist.
    AllExist,
}

impl Storage {
    fn field(
        &self,
        db: usize,
        key: &[u8],
        version: u64,
        field: &[u8],
        now: u64,
    ) -> StoreResult<Field> {
        match self.sub_get(Cf::Data, db, key, version, field)? {
            None => Ok(Field {
                physical: None,
                live: None,
            }),
            Some(raw) => {
                let (value, expire) = decode_field(&raw)?;
                let live = (expire == 0 || expire > now).then_some((value, expire));
                Ok(Field {
                    physical: Some(expire),
                    live,
                })
            }
        }
    }

    /// Stages a field write (value and TTL), keeping the field-expiry index in step.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn stage_field(
        &self,
        ws: &mut WriteSet,
        db: usize,
        key: &[u8],
        version: u64,
        field: &[u8],
        value: &[u8],
        old_expire: Option<u64>,
        expire: u64,
    ) {
        let phys = self.phys(db);
        if let Some(old) = old_expire.filter(|&o| o != 0 && o != expire) {
            ws.batch.delete(
                Cf::Expire,
                encoding::field_expire_key(old, phys, key, version, field),
            );
        }
        if expire != 0 && old_expire != Some(expire) {
            ws.batch.put(
                Cf::Expire,
                encoding::field_expire_key(expire, phys, key, version, field),
                Vec::new(),
            );
        }
        self.stage_sub_put(
            ws,
            Cf::Data,
            db,
            key,
            version,
            field,
            &encode_field(value, expire),
        );
    }

    fn unstage_field(
        &self,
        ws: &mut WriteSet,
        db: usize,
        key: &[u8],
        version: u64,
        field: &[u8],
        expire: u64,
    ) {
        if expire != 0 {
            ws.batch.delete(
                Cf::Expire,
                encoding::field_expire_key(expire, self.phys(db), key, version, field),
            );
        }
        self.stage_sub_delete(ws, Cf::Data, db, key, version, field);
    }

    /// `HSET`/`HMSET` (and `HSETNX` with `only_new`): returns how many fields were added.
    /// Writing a field clears its TTL.
    pub fn hset(
        &self,
        db: usize,
        key: &[u8],
        pairs: &[(&[u8], &[u8])],
        only_new: bool,
    ) -> StoreResult<i64> {
        let mut w = self.coll_for_write(db, key, H)?;
        let now = now_ms();
        let mut ws = WriteSet::default();
        let (mut added, mut grown) = (0i64, 0u64);
        let mut seen: HashSet<&[u8]> = HashSet::new();
        for &(field, value) in pairs {
            let state = if seen.contains(field) {
                Field {
                    physical: Some(0),
                    live: Some((Vec::new(), 0)),
                }
            } else if w.existed {
                self.field(db, key, w.coll.version, field, now)?
            } else {
                Field {
                    physical: None,
                    live: None,
                }
            };
            if state.live.is_some() && only_new {
                continue;
            }
            if state.live.is_none() {
                added += 1;
            }
            if state.physical.is_none() {
                grown += 1;
            }
            seen.insert(field);
            self.stage_field(
                &mut ws,
                db,
                key,
                w.coll.version,
                field,
                value,
                state.physical,
                0,
            );
        }
        if added == 0 && only_new {
            return Ok(0);
        }
        w.coll.len += grown;
        self.stage_coll(&mut ws, db, key, w.raw.as_ref(), &w.coll);
        self.commit(ws)?;
        Ok(added)
    }

    pub fn hget(&self, db: usize, key: &[u8], field: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        match self.coll(db, key, H)? {
            Some(c) => Ok(self
                .field(db, key, c.version, field, now_ms())?
                .live
                .map(|(v, _)| v)),
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
        let now = now_ms();
        fields
            .iter()
            .map(|f| Ok(self.field(db, key, c.version, f, now)?.live.map(|(v, _)| v)))
            .collect()
    }

    /// Live fields with their values, in field order.
    pub fn hgetall(&self, db: usize, key: &[u8]) -> StoreResult<Vec<(Vec<u8>, Vec<u8>)>> {
        let Some(c) = self.coll(db, key, H)? else {
            return Ok(Vec::new());
        };
        let now = now_ms();
        let mut out = Vec::new();
        for (f, raw) in self.sub_all(Cf::Data, db, key, c.version)? {
            let (value, expire) = decode_field(&raw)?;
            if expire == 0 || expire > now {
                out.push((f, value));
            }
        }
        Ok(out)
    }

    pub fn hlen(&self, db: usize, key: &[u8]) -> StoreResult<u64> {
        Ok(self.coll(db, key, H)?.map_or(0, |c| c.len))
    }

    /// Removes `fields` in one batch; returns the live values (None for missing fields).
    fn hash_take(
        &self,
        db: usize,
        key: &[u8],
        fields: &[&[u8]],
    ) -> StoreResult<Vec<Option<Vec<u8>>>> {
        let Some(mut c) = self.coll(db, key, H)? else {
            return Ok(vec![None; fields.len()]);
        };
        let raw = Some(c.to_meta());
        let now = now_ms();
        let mut ws = WriteSet::default();
        let mut out = Vec::with_capacity(fields.len());
        let mut seen: HashSet<&[u8]> = HashSet::new();
        for &field in fields {
            if !seen.insert(field) {
                out.push(None);
                continue;
            }
            let state = self.field(db, key, c.version, field, now)?;
            if let Some(expire) = state.physical {
                self.unstage_field(&mut ws, db, key, c.version, field, expire);
                c.len -= 1;
            }
            out.push(state.live.map(|(v, _)| v));
        }
        self.stage_coll(&mut ws, db, key, raw.as_ref(), &c);
        self.commit(ws)?;
        Ok(out)
    }

    /// `HDEL`: returns how many live fields were removed.
    pub fn hdel(&self, db: usize, key: &[u8], fields: &[&[u8]]) -> StoreResult<i64> {
        Ok(self
            .hash_take(db, key, fields)?
            .iter()
            .filter(|v| v.is_some())
            .count() as i64)
    }

    /// `HGETDEL`: the values of `fields`, which are removed.
    pub fn hgetdel(
        &self,
        db: usize,
        key: &[u8],
        fields: &[&[u8]],
    ) -> StoreResult<Vec<Option<Vec<u8>>>> {
        self.hash_take(db, key, fields)
    }

    /// Reads a field, lets `update` compute the new value, writes it keeping its TTL.
    fn hash_update(
        &self,
        db: usize,
        key: &[u8],
        field: &[u8],
        update: impl FnOnce(Option<&[u8]>) -> StoreResult<Vec<u8>>,
    ) -> StoreResult<Vec<u8>> {
        let mut w = self.coll_for_write(db, key, H)?;
        let state = if w.existed {
            self.field(db, key, w.coll.version, field, now_ms())?
        } else {
            Field {
                physical: None,
                live: None,
            }
        };
        let new = update(state.live.as_ref().map(|(v, _)| v.as_slice()))?;
        let keep_ttl = state.live.as_ref().map_or(0, |(_, e)| *e);
        let mut ws = WriteSet::default();
        self.stage_field(
            &mut ws,
            db,
            key,
            w.coll.version,
            field,
            &new,
            state.physical,
            keep_ttl,
        );
        if state.physical.is_none() {
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

    /// `HEXPIRE` family: sets (or, with a past deadline, applies by deleting) field TTLs.
    pub fn hexpire(
        &self,
        db: usize,
        key: &[u8],
        fields: &[&[u8]],
        when_ms: u64,
        cond: crate::storage::keyspace::ExpireCondition,
    ) -> StoreResult<Vec<FieldExpire>> {
        use crate::storage::keyspace::ExpireCondition as C;
        let Some(mut c) = self.coll(db, key, H)? else {
            return Ok(vec![FieldExpire::NoField; fields.len()]);
        };
        let raw = Some(c.to_meta());
        let now = now_ms();
        let mut ws = WriteSet::default();
        let mut out = Vec::with_capacity(fields.len());
        for &field in fields {
            let state = self.field(db, key, c.version, field, now)?;
            let Some((value, current)) = state.live else {
                out.push(FieldExpire::NoField);
                continue;
            };
            let current = (current != 0).then_some(current);
            let allowed = match cond {
                C::Always => true,
                C::Nx => current.is_none(),
                C::Xx => current.is_some(),
                C::Gt => current.is_some_and(|cur| when_ms > cur),
                C::Lt => current.is_none_or(|cur| when_ms < cur),
            };
            if !allowed {
                out.push(FieldExpire::ConditionNotMet);
            } else if when_ms <= now {
                self.unstage_field(&mut ws, db, key, c.version, field, current.unwrap_or(0));
                c.len -= 1;
                out.push(FieldExpire::Deleted);
            } else {
                self.stage_field(
                    &mut ws,
                    db,
                    key,
                    c.version,
                    field,
                    &value,
                    state.physical,
                    when_ms,
                );
                out.push(FieldExpire::Set);
            }
        }
        self.stage_coll(&mut ws, db, key, raw.as_ref(), &c);
        self.commit(ws)?;
        Ok(out)
    }

    /// TTL deadlines of `fields`: `None` = no such field, `Some(0)` = no TTL.
    pub fn hfield_deadlines(
        &self,
        db: usize,
        key: &[u8],
        fields: &[&[u8]],
    ) -> StoreResult<Vec<Option<u64>>> {
        let Some(c) = self.coll(db, key, H)? else {
            return Ok(vec![None; fields.len()]);
        };
        let now = now_ms();
        fields
            .iter()
            .map(|f| Ok(self.field(db, key, c.version, f, now)?.live.map(|(_, e)| e)))
            .collect()
    }

    /// `HPERSIST`: -2 no field, -1 no TTL, 1 TTL removed.
    pub fn hpersist(&self, db: usize, key: &[u8], fields: &[&[u8]]) -> StoreResult<Vec<i64>> {
        let Some(c) = self.coll(db, key, H)? else {
            return Ok(vec![-2; fields.len()]);
        };
        let now = now_ms();
        let mut ws = WriteSet::default();
        let mut out = Vec::with_capacity(fields.len());
        for &field in fields {
            let state = self.field(db, key, c.version, field, now)?;
            match state.live {
                None => out.push(-2),
                Some((_, 0)) => out.push(-1),
                Some((value, _)) => {
                    self.stage_field(
                        &mut ws,
                        db,
                        key,
                        c.version,
                        field,
                        &value,
                        state.physical,
                        0,
                    );
                    out.push(1);
                }
            }
        }
        self.commit(ws)?;
        Ok(out)
    }

    /// `HGETEX`: the values of `fields`, applying `ttl` (`Some(0)` persists, a past
    /// deadline deletes) to those that exist.
    pub fn hgetex(
        &self,
        db: usize,
        key: &[u8],
        fields: &[&[u8]],
        ttl: Option<u64>,
    ) -> StoreResult<Vec<Option<Vec<u8>>>> {
        let Some(mut c) = self.coll(db, key, H)? else {
            return Ok(vec![None; fields.len()]);
        };
        let raw = Some(c.to_meta());
        let now = now_ms();
        let mut ws = WriteSet::default();
        let mut out = Vec::with_capacity(fields.len());
        let mut seen: HashSet<&[u8]> = HashSet::new();
        for &field in fields {
            let state = self.field(db, key, c.version, field, now)?;
            if let (Some(deadline), Some((value, _)), true) = (ttl, &state.live, seen.insert(field))
            {
                if deadline != 0 && deadline <= now {
                    self.unstage_field(
                        &mut ws,
                        db,
                        key,
                        c.version,
                        field,
                        state.physical.unwrap_or(0),
                    );
                    c.len -= 1;
                } else {
                    self.stage_field(
                        &mut ws,
                        db,
                        key,
                        c.version,
                        field,
                        value,
                        state.physical,
                        deadline,
                    );
                }
            }
            out.push(state.live.map(|(v, _)| v));
        }
        self.stage_coll(&mut ws, db, key, raw.as_ref(), &c);
        self.commit(ws)?;
        Ok(out)
    }

    /// `HSETEX`: sets all pairs with `ttl` (`None` = KEEPTTL, `Some(0)` = no TTL) if
    /// `cond` holds; returns whether they were set.
    pub fn hsetex(
        &self,
        db: usize,
        key: &[u8],
        pairs: &[(&[u8], &[u8])],
        cond: FieldCondition,
        ttl: Option<u64>,
    ) -> StoreResult<bool> {
        let mut w = self.coll_for_write(db, key, H)?;
        let now = now_ms();
        let mut states = Vec::with_capacity(pairs.len());
        for &(field, _) in pairs {
            let s = if w.existed {
                self.field(db, key, w.coll.version, field, now)?
            } else {
                Field {
                    physical: None,
                    live: None,
                }
            };
            states.push(s);
        }
        let ok = match cond {
            FieldCondition::Always => true,
            FieldCondition::NoneExist => states.iter().all(|s| s.live.is_none()),
            FieldCondition::AllExist => states.iter().all(|s| s.live.is_some()),
        };
        if !ok {
            return Ok(false);
        }
        let mut ws = WriteSet::default();
        let mut written: HashSet<&[u8]> = HashSet::new();
        for (&(field, value), state) in pairs.iter().zip(&states) {
            let expire = match ttl {
                None => state.live.as_ref().map_or(0, |(_, e)| *e),
                Some(t) => t,
            };
            let first = written.insert(field);
            if expire != 0 && expire <= now {
                if first && state.physical.is_some() {
                    self.unstage_field(
                        &mut ws,
                        db,
                        key,
                        w.coll.version,
                        field,
                        state.physical.unwrap_or(0),
                    );
                    w.coll.len -= 1;
                }
                continue;
            }
            self.stage_field(
                &mut ws,
                db,
                key,
                w.coll.version,
                field,
                value,
                state.physical,
                expire,
            );
            if first && state.physical.is_none() {
                w.coll.len += 1;
            }
        }
        self.stage_coll(&mut ws, db, key, w.raw.as_ref(), &w.coll);
        self.commit(ws)?;
        Ok(true)
    }

    /// Reclaims one expired field found in the field-expiry index (active expiry). Stale
    /// index entries are dropped. Returns whether a field was removed.
    pub(crate) fn reclaim_field(
        &self,
        phys: u16,
        key: &[u8],
        version: u64,
        field: &[u8],
        when: u64,
        index_key: &[u8],
    ) -> StoreResult<bool> {
        let mut ws = WriteSet::default();
        ws.batch.delete(Cf::Expire, index_key.to_vec());
        let Some(db) = self.logical(phys) else {
            self.commit(ws)?;
            return Ok(false);
        };
        let live = match self.coll(db, key, H) {
            Ok(Some(c)) if c.version == version => Some(c),
            _ => None,
        };
        let mut removed = false;
        if let Some(mut c) = live {
            if let Some(raw) = self.sub_get(Cf::Data, db, key, version, field)? {
                let (_, expire) = decode_field(&raw)?;
                if expire == when && expire <= now_ms() {
                    let before = c.to_meta();
                    self.stage_sub_delete(&mut ws, Cf::Data, db, key, version, field);
                    c.len -= 1;
                    self.stage_coll(&mut ws, db, key, Some(&before), &c);
                    removed = true;
                }
            }
        }
        self.commit(ws)?;
        Ok(removed)
    }
}
