//! Whole keys in and out of storage through the format-neutral value model of
//! `crate::rdb`: [`Storage::read_value`] reads a key whole (DUMP, MIGRATE, `export-rdb`,
//! `SYNC` for `redis-cli --rdb`), [`Storage::stage_value`] writes one as a key in a single
//! write set (RESTORE, `import-rdb`, a full sync from a real `redis-server`).
//!
//! Invariants: a restored collection always gets a fresh version, so whatever lived at the
//! key before (any type) is replaced by its meta record alone, as `DEL` is O(1); an empty
//! collection is not a key (Redis refuses empty keys in a payload: the caller decides
//! whether that is an error or a skip); streams may be empty. Hash field TTLs (Redis 7.4)
//! have no RDB 10 encoding, so a value read here drops them and keeps the field.
//!
//! Depends on the typed storage modules and on `rdb::value` only (no RESP, no engine).

use std::collections::HashSet;

use super::collection::Coll;
use super::encoding::KeyType;
use super::engine::Cf;
use super::{Storage, WriteSet};
use crate::error::{StoreError, StoreResult};
use crate::rdb::Value;

fn kind_of(value: &Value) -> KeyType {
    match value {
        Value::String(_) => KeyType::String,
        Value::List(_) => KeyType::List,
        Value::Set(_) => KeyType::Set,
        Value::ZSet(_) => KeyType::ZSet,
        Value::Hash(_) => KeyType::Hash,
        Value::Stream(_) => KeyType::Stream,
    }
}

/// True for a collection with no elements, which cannot be a key (streams can).
pub fn is_empty_collection(value: &Value) -> bool {
    match value {
        Value::String(_) | Value::Stream(_) => false,
        Value::List(v) | Value::Set(v) => v.is_empty(),
        Value::ZSet(v) => v.is_empty(),
        Value::Hash(v) => v.is_empty(),
    }
}

fn duplicate(what: &str) -> StoreError {
    StoreError::Corrupt(format!("duplicate {what} in value"))
}

impl Storage {
    /// The live key whole, with its absolute expiry (0 = none).
    pub fn read_value(&self, db: usize, key: &[u8]) -> StoreResult<Option<(Value, u64)>> {
        let Some(meta) = self.meta(db, key)? else {
            return Ok(None);
        };
        let expire_ms = meta.expire_ms;
        let value = match meta.kind {
            KeyType::String => Value::String(self.string_bytes(db, key, meta)?),
            KeyType::List => Value::List(self.lall(db, key)?),
            KeyType::Set => Value::Set(self.smembers(db, key)?),
            KeyType::ZSet => Value::ZSet(self.zall(db, key)?),
            KeyType::Hash => Value::Hash(self.hgetall(db, key)?),
            KeyType::Stream => match self.stream(db, key)? {
                Some(s) => Value::Stream(Box::new(self.stream_value(&s)?)),
                None => return Ok(None),
            },
        };
        Ok(Some((value, expire_ms)))
    }

    /// Stages `value` as `key` with `expire_ms` (absolute, 0 = none), replacing whatever
    /// physical record is there. Refuses duplicates inside a set, hash or zset and NaN
    /// scores (a hostile payload must not build a collection whose length lies).
    pub fn stage_value(
        &self,
        ws: &mut WriteSet,
        db: usize,
        key: &[u8],
        expire_ms: u64,
        value: &Value,
    ) -> StoreResult<()> {
        let old = self.raw_meta(db, key)?;
        let version = match value {
            Value::String(bytes) => {
                self.stage_string(ws, db, key, old.as_ref(), expire_ms, bytes.clone())?;
                return Ok(());
            }
            Value::Stream(stream) => {
                let version = self.next_version()?;
                return self.stage_stream_value(
                    ws,
                    db,
                    key,
                    old.as_ref(),
                    version,
                    expire_ms,
                    stream,
                );
            }
            _ => self.next_version()?,
        };
        let mut coll = Coll {
            kind: kind_of(value),
            version,
            len: 0,
            expire_ms,
            tail: Vec::new(),
        };
        match value {
            Value::String(_) | Value::Stream(_) => {}
            Value::List(elems) => self.stage_list_contents(ws, db, key, &mut coll, elems),
            Value::Set(members) => {
                let mut seen = HashSet::with_capacity(members.len());
                for m in members {
                    if !seen.insert(m.as_slice()) {
                        return Err(duplicate("set member"));
                    }
                    self.stage_sub_put(ws, Cf::Data, db, key, version, m, b"");
                }
                coll.len = members.len() as u64;
            }
            Value::ZSet(members) => {
                let mut seen = HashSet::with_capacity(members.len());
                for (m, score) in members {
                    if score.is_nan() {
                        return Err(StoreError::ScoreNan);
                    }
                    if !seen.insert(m.as_slice()) {
                        return Err(duplicate("sorted set member"));
                    }
                    self.stage_member(ws, db, key, version, m, None, *score);
                }
                coll.len = members.len() as u64;
            }
            Value::Hash(fields) => {
                let mut seen = HashSet::with_capacity(fields.len());
                for (f, v) in fields {
                    if !seen.insert(f.as_slice()) {
                        return Err(duplicate("hash field"));
                    }
                    self.stage_field(ws, db, key, version, f, v, None, 0);
                }
                coll.len = fields.len() as u64;
            }
        }
        self.stage_put(ws, db, key, old.as_ref(), &coll.to_meta());
        Ok(())
    }

    /// `RESTORE`: writes `value` at `key` in one commit, replacing whatever is there (the
    /// caller decided `BUSYKEY` under the key lock and refused empty collections).
    pub fn restore_value(
        &self,
        db: usize,
        key: &[u8],
        expire_ms: u64,
        value: &Value,
    ) -> StoreResult<()> {
        let mut ws = WriteSet::default();
        self.stage_value(&mut ws, db, key, expire_ms, value)?;
        self.commit(ws)
    }
}
