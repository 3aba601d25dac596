//! String semantics: the value lives in the meta record's body (DESIGN §4).
//!
//! Operations keep or clear the TTL exactly as Redis does: `SET` clears it unless `KEEPTTL`,
//! while `APPEND`, `SETRANGE` and the `INCR` family keep it.

use std::collections::HashMap;

use crate::error::{StoreError, StoreResult};
use crate::num::{format_human_f64, parse_f64, parse_i64};
use crate::storage::encoding::{KeyType, Meta};
use crate::storage::types::chunked::string_len;
use crate::storage::{now_ms, Storage, WriteSet};

/// `SET`'s existence condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SetCondition {
    #[default]
    Always,
    IfMissing,
    IfExists,
}

/// What happens to the TTL on write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TtlChange {
    /// Clear any TTL (plain `SET`).
    #[default]
    Clear,
    /// Keep the current TTL (`KEEPTTL`).
    Keep,
    /// Set an absolute deadline in ms.
    At(u64),
}

#[derive(Debug, Default)]
pub struct SetOutcome {
    pub written: bool,
    /// The previous string value (only when requested).
    pub previous: Option<Vec<u8>>,
}

fn as_string(meta: Option<Meta>) -> StoreResult<Option<Meta>> {
    match meta {
        Some(m) if m.kind != KeyType::String => Err(StoreError::WrongType),
        other => Ok(other),
    }
}

impl Storage {
    /// The live string value of `key`.
    pub fn get_string(&self, db: usize, key: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        let value = match as_string(self.meta(db, key)?)? {
            Some(m) => Some(self.string_bytes(db, key, m)?),
            None => None,
        };
        let counter = if value.is_some() {
            &self.stats.keyspace_hits
        } else {
            &self.stats.keyspace_misses
        };
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(value)
    }

    /// `SET` with all its options. With `want_previous`, a non-string key is `WRONGTYPE` and
    /// nothing is written.
    pub fn set_string(
        &self,
        db: usize,
        key: &[u8],
        value: &[u8],
        cond: SetCondition,
        ttl: TtlChange,
        want_previous: bool,
    ) -> StoreResult<SetOutcome> {
        let raw = self.raw_meta(db, key)?;
        let live = raw.as_ref().filter(|m| !m.is_expired(now_ms()));
        // The old value is copied only when the caller asked for it (SET ... GET).
        let previous = match as_string(live.filter(|_| want_previous).cloned())? {
            Some(m) => Some(self.string_bytes(db, key, m)?),
            None => None,
        };
        let allowed = match cond {
            SetCondition::Always => true,
            SetCondition::IfMissing => live.is_none(),
            SetCondition::IfExists => live.is_some(),
        };
        if !allowed {
            return Ok(SetOutcome {
                written: false,
                previous,
            });
        }
        let expire_ms = match ttl {
            TtlChange::Clear => 0,
            TtlChange::Keep => live.map_or(0, |m| m.expire_ms),
            TtlChange::At(ms) => ms,
        };
        let mut ws = WriteSet::default();
        self.stage_string(&mut ws, db, key, raw.as_ref(), expire_ms, value.to_vec())?;
        self.commit(ws)?;
        Ok(SetOutcome {
            written: true,
            previous,
        })
    }

    /// `MSET` (and `MSETNX` with `only_if_none_exist`): all pairs in one atomic batch; a key
    /// given twice takes its last value. Returns false when `MSETNX` found an existing key.
    pub fn set_strings(
        &self,
        db: usize,
        pairs: &[(impl AsRef<[u8]>, impl AsRef<[u8]>)],
        only_if_none_exist: bool,
    ) -> StoreResult<bool> {
        let now = now_ms();
        let mut latest: Vec<(&[u8], &[u8])> = Vec::with_capacity(pairs.len());
        let mut position: HashMap<&[u8], usize> = HashMap::with_capacity(pairs.len());
        for (key, value) in pairs {
            let (key, value) = (key.as_ref(), value.as_ref());
            match position.get(key) {
                Some(&i) => latest[i].1 = value,
                None => {
                    position.insert(key, latest.len());
                    latest.push((key, value));
                }
            }
        }
        let mut ws = WriteSet::default();
        for (key, value) in latest {
            let old = self.raw_meta(db, key)?;
            if only_if_none_exist && old.as_ref().is_some_and(|m| !m.is_expired(now)) {
                return Ok(false);
            }
            self.stage_string(&mut ws, db, key, old.as_ref(), 0, value.to_vec())?;
        }
        self.commit(ws)?;
        Ok(true)
    }

    /// `GETDEL`.
    pub fn get_del_string(&self, db: usize, key: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        let Some(meta) = as_string(self.meta(db, key)?)? else {
            return Ok(None);
        };
        let mut ws = WriteSet::default();
        self.stage_delete(&mut ws, db, key, &meta);
        let value = self.string_bytes(db, key, meta)?;
        self.commit(ws)?;
        Ok(Some(value))
    }

    /// `GETEX`: returns the value and applies `ttl` (`None` leaves it untouched). A deadline
    /// in the past deletes the key after reading it.
    pub fn get_ex_string(
        &self,
        db: usize,
        key: &[u8],
        ttl: Option<TtlChange>,
    ) -> StoreResult<Option<Vec<u8>>> {
        let Some(meta) = as_string(self.meta(db, key)?)? else {
            return Ok(None);
        };
        let value = self.string_bytes(db, key, meta.clone())?;
        let mut ws = WriteSet::default();
        match ttl {
            None | Some(TtlChange::Keep) => return Ok(Some(value)),
            Some(TtlChange::At(ms)) if ms <= now_ms() => self.stage_delete(&mut ws, db, key, &meta),
            Some(change) => {
                let expire_ms = if let TtlChange::At(ms) = change {
                    ms
                } else {
                    0
                };
                if expire_ms == meta.expire_ms {
                    return Ok(Some(value));
                }
                let new = Meta {
                    expire_ms,
                    ..meta.clone()
                };
                self.stage_put(&mut ws, db, key, Some(&meta), &new);
            }
        }
        self.commit(ws)?;
        Ok(Some(value))
    }

    /// Replaces the current value (`None` if missing) with `edit`'s result, keeping the TTL;
    /// the new value must not exceed `max_len`.
    pub(crate) fn edit_string(
        &self,
        db: usize,
        key: &[u8],
        max_len: usize,
        edit: impl FnOnce(Option<Vec<u8>>) -> StoreResult<Vec<u8>>,
    ) -> StoreResult<()> {
        let raw = self.raw_meta(db, key)?;
        let live = as_string(raw.clone().filter(|m| !m.is_expired(now_ms())))?;
        let expire_ms = live.as_ref().map_or(0, |m| m.expire_ms);
        let current = match live {
            Some(m) => Some(self.string_bytes(db, key, m)?),
            None => None,
        };
        let value = edit(current)?;
        if value.len() > max_len {
            return Err(StoreError::StringTooLong);
        }
        let mut ws = WriteSet::default();
        self.stage_string(&mut ws, db, key, raw.as_ref(), expire_ms, value)?;
        self.commit(ws)
    }

    /// The length of the string at `key` (0 if missing) without reading a chunked value.
    pub fn string_length(&self, db: usize, key: &[u8]) -> StoreResult<u64> {
        match as_string(self.meta(db, key)?)? {
            Some(m) => string_len(&m),
            None => Ok(0),
        }
    }

    /// Bytes `[start, start + len)` of the string at `key`, reading only the chunks needed.
    pub fn string_range(
        &self,
        db: usize,
        key: &[u8],
        start: u64,
        len: u64,
    ) -> StoreResult<Vec<u8>> {
        match as_string(self.meta(db, key)?)? {
            Some(m) => self.string_slice(db, key, &m, start, len),
            None => Ok(Vec::new()),
        }
    }

    /// `APPEND`; returns the new length.
    pub fn append_string(
        &self,
        db: usize,
        key: &[u8],
        tail: &[u8],
        max_len: usize,
    ) -> StoreResult<usize> {
        let len = self.string_length(db, key)?;
        if len as usize + tail.len() > max_len {
            return Err(StoreError::StringTooLong);
        }
        let new_len = self.patch_string(db, key, len, tail.len() as u64, max_len, |range| {
            range.copy_from_slice(tail)
        })?;
        Ok(new_len as usize)
    }

    /// `SETRANGE`; returns the new length. An empty patch writes nothing.
    pub fn set_range_string(
        &self,
        db: usize,
        key: &[u8],
        offset: usize,
        patch: &[u8],
        max_len: usize,
    ) -> StoreResult<usize> {
        if patch.is_empty() {
            return Ok(self.string_length(db, key)? as usize);
        }
        if offset.saturating_add(patch.len()) > max_len {
            // Redis checks the type before the size.
            self.get_string(db, key)?;
            return Err(StoreError::StringTooLong);
        }
        let new_len = self.patch_string(
            db,
            key,
            offset as u64,
            patch.len() as u64,
            max_len,
            |range| range.copy_from_slice(patch),
        )?;
        Ok(new_len as usize)
    }

    /// `INCRBY` family; returns the new value.
    pub fn incr_by(&self, db: usize, key: &[u8], delta: i64) -> StoreResult<i64> {
        let mut result = 0;
        self.edit_string(db, key, usize::MAX, |current| {
            let base = match current {
                Some(v) => parse_i64(&v).ok_or(StoreError::NotInteger)?,
                None => 0,
            };
            result = base.checked_add(delta).ok_or(StoreError::Overflow)?;
            Ok(itoa::Buffer::new().format(result).as_bytes().to_vec())
        })?;
        Ok(result)
    }

    /// `INCRBYFLOAT`; returns the stored text of the new value.
    pub fn incr_by_float(&self, db: usize, key: &[u8], delta: f64) -> StoreResult<Vec<u8>> {
        let mut text = Vec::new();
        self.edit_string(db, key, usize::MAX, |current| {
            let base = match current {
                Some(v) => parse_f64(&v).ok_or(StoreError::NotFloat)?,
                None => 0.0,
            };
            let sum = base + delta;
            if !sum.is_finite() {
                return Err(StoreError::NanOrInfinity);
            }
            text = format_human_f64(sum).into_bytes();
            Ok(text.clone())
        })?;
        Ok(text)
    }
}

/// Result of the longest-common-subsequence computation behind `LCS`.
pub struct Lcs {
    pub sequence: Vec<u8>,
    /// Matched ranges, last match first (as Redis reports them): ((a_start, a_end), (b_start,
    /// b_end)), inclusive.
    pub matches: Vec<((usize, usize), (usize, usize))>,
}

/// Classic dynamic-programming LCS, walking back to collect contiguous matched ranges.
pub fn lcs(a: &[u8], b: &[u8]) -> Lcs {
    let (n, m) = (a.len(), b.len());
    let width = m + 1;
    let mut table = vec![0u32; (n + 1) * (m + 1)];
    for i in 1..=n {
        for j in 1..=m {
            table[i * width + j] = if a[i - 1] == b[j - 1] {
                table[(i - 1) * width + j - 1] + 1
            } else {
                table[(i - 1) * width + j].max(table[i * width + j - 1])
            };
        }
    }
    let mut sequence = Vec::with_capacity(table[n * width + m] as usize);
    let mut matches = Vec::new();
    let (mut i, mut j) = (n, m);
    let mut current: Option<((usize, usize), (usize, usize))> = None;
    while i > 0 && j > 0 {
        if a[i - 1] == b[j - 1] {
            sequence.push(a[i - 1]);
            let (ai, bj) = (i - 1, j - 1);
            current = match current {
                Some(((a_start, a_end), (b_start, b_end)))
                    if a_start == ai + 1 && b_start == bj + 1 =>
                {
                    Some(((ai, a_end), (bj, b_end)))
                }
                Some(done) => {
                    matches.push(done);
                    Some(((ai, ai), (bj, bj)))
                }
                None => Some(((ai, ai), (bj, bj))),
            };
            i -= 1;
            j -= 1;
        } else if table[(i - 1) * width + j] > table[i * width + j - 1] {
            i -= 1;
        } else {
            j -= 1;
        }
    }
    if let Some(done) = current {
        matches.push(done);
    }
    sequence.reverse();
    Lcs { sequence, matches }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lcs_matches_redis_example() {
        let r = lcs(b"ohmytext", b"mynewtext");
        assert_eq!(r.sequence, b"mytext");
        assert_eq!(r.matches, vec![((4, 7), (5, 8)), ((2, 3), (0, 1))]);
    }
}
