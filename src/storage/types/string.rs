//! String semantics: the value lives in the meta record's body (DESIGN §4).
//!
//! Operations keep or clear the TTL exactly as Redis does: `SET` clears it unless `KEEPTTL`,
//! while `APPEND`, `SETRANGE` and the `INCR` family keep it.

use std::collections::HashMap;

use crate::error::{StoreError, StoreResult};
use crate::num::{format_human_f64, parse_f64, parse_i64};
use crate::storage::encoding::{KeyType, Meta};
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
        let value = as_string(self.meta(db, key)?)?.map(|m| m.body);
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
        let live = raw.clone().filter(|m| !m.is_expired(now_ms()));
        let previous = if want_previous {
            as_string(live.clone())?.map(|m| m.body)
        } else {
            None
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
            TtlChange::Keep => live.as_ref().map_or(0, |m| m.expire_ms),
            TtlChange::At(ms) => ms,
        };
        let new = Meta {
            kind: KeyType::String,
            expire_ms,
            body: value.to_vec(),
        };
        let mut ws = WriteSet::default();
        self.stage_put(&mut ws, db, key, raw.as_ref(), &new);
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
            let new = Meta {
                kind: KeyType::String,
                expire_ms: 0,
                body: value.to_vec(),
            };
            self.stage_put(&mut ws, db, key, old.as_ref(), &new);
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
        self.commit(ws)?;
        Ok(Some(meta.body))
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
        let mut ws = WriteSet::default();
        match ttl {
            None | Some(TtlChange::Keep) => return Ok(Some(meta.body)),
            Some(TtlChange::At(ms)) if ms <= now_ms() => self.stage_delete(&mut ws, db, key, &meta),
            Some(change) => {
                let expire_ms = if let TtlChange::At(ms) = change {
                    ms
                } else {
                    0
                };
                if expire_ms == meta.expire_ms {
                    return Ok(Some(meta.body));
                }
                let new = Meta {
                    expire_ms,
                    ..meta.clone()
                };
                self.stage_put(&mut ws, db, key, Some(&meta), &new);
            }
        }
        self.commit(ws)?;
        Ok(Some(meta.body))
    }

    /// Replaces the current value (`None` if missing) with `edit`'s result, keeping the TTL;
    /// the new value must not exceed `max_len`.
    pub(crate) fn edit_string(
        &self,
        db: usize,
        key: &[u8],
        max_len: usize,
        edit: impl FnOnce(Option<Vec<u8>>) -> StoreResult<Vec<u8>>,
    ) -> StoreResult<Vec<u8>> {
        let raw = self.raw_meta(db, key)?;
        let live = as_string(raw.clone().filter(|m| !m.is_expired(now_ms())))?;
        let expire_ms = live.as_ref().map_or(0, |m| m.expire_ms);
        let value = edit(live.map(|m| m.body))?;
        if value.len() > max_len {
            return Err(StoreError::StringTooLong);
        }
        let new = Meta {
            kind: KeyType::String,
            expire_ms,
            body: value,
        };
        let mut ws = WriteSet::default();
        self.stage_put(&mut ws, db, key, raw.as_ref(), &new);
        self.commit(ws)?;
        Ok(new.body)
    }

    /// `APPEND`; returns the new length.
    pub fn append_string(
        &self,
        db: usize,
        key: &[u8],
        tail: &[u8],
        max_len: usize,
    ) -> StoreResult<usize> {
        self.edit_string(db, key, max_len, |current| {
            let mut v = current.unwrap_or_default();
            if v.len() + tail.len() > max_len {
                return Err(StoreError::StringTooLong);
            }
            v.extend_from_slice(tail);
            Ok(v)
        })
        .map(|v| v.len())
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
            return Ok(self.get_string(db, key)?.map_or(0, |v| v.len()));
        }
        if offset.saturating_add(patch.len()) > max_len {
            // Redis checks the type before the size.
            self.get_string(db, key)?;
            return Err(StoreError::StringTooLong);
        }
        self.edit_string(db, key, max_len, |current| {
            let mut v = current.unwrap_or_default();
            if v.len() < offset + patch.len() {
                v.resize(offset + patch.len(), 0);
            }
            v[offset..offset + patch.len()].copy_from_slice(patch);
            Ok(v)
        })
        .map(|v| v.len())
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
        self.edit_string(db, key, usize::MAX, |current| {
            let base = match current {
                Some(v) => parse_f64(&v).ok_or(StoreError::NotFloat)?,
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

/// `GETRANGE` over a value with Redis's index rules (negative from the end, clamped).
pub fn byte_range(value: &[u8], start: i64, end: i64) -> &[u8] {
    match crate::num::string_range(start, end, value.len() as i64) {
        Some((s, e)) => &value[s as usize..=e as usize],
        None => &[],
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
    fn getrange_rules() {
        let v = b"This is a string";
        assert_eq!(byte_range(v, 0, 3), b"This");
        assert_eq!(byte_range(v, -3, -1), b"ing");
        assert_eq!(byte_range(v, 0, -1), v);
        assert_eq!(byte_range(v, 10, 100), b"string");
        assert_eq!(byte_range(v, 5, 3), b"");
        assert_eq!(byte_range(v, -1, -5), b"");
    }

    #[test]
    fn lcs_matches_redis_example() {
        let r = lcs(b"ohmytext", b"mynewtext");
        assert_eq!(r.sequence, b"mytext");
        assert_eq!(r.matches, vec![((4, 7), (5, 8)), ((2, 3), (0, 1))]);
    }
}
