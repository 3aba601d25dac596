//! Sorted-set semantics. Each member has two sub-keys written in the same batch:
//! `data`: `member -> score (f64 BE bits)` for O(1) score lookup, and
//! `zscore`: `[order-preserving score][member] -> ""` for ordered iteration. Ties order by
//! member bytes, exactly as Redis does.

use std::collections::HashMap;

use crate::error::{StoreError, StoreResult};
use crate::storage::collection::Coll;
use crate::storage::encoding::KeyType;
use crate::storage::engine::Cf;
use crate::storage::{Storage, WriteSet};

const Z: KeyType = KeyType::ZSet;

/// Order-preserving encoding of a score: negative numbers flip every bit, others flip the
/// sign bit, so byte order equals numeric order (with -0 folded into 0).
pub fn encode_score(score: f64) -> [u8; 8] {
    let score = if score == 0.0 { 0.0 } else { score };
    let bits = score.to_bits();
    let ordered = if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    };
    ordered.to_be_bytes()
}

pub fn decode_score(bytes: &[u8]) -> f64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&bytes[..8]);
    let ordered = u64::from_be_bytes(b);
    let bits = if ordered >> 63 == 1 {
        ordered & !(1 << 63)
    } else {
        !ordered
    };
    f64::from_bits(bits)
}

fn score_value(bytes: &[u8]) -> StoreResult<f64> {
    let arr: [u8; 8] = bytes
        .try_into()
        .map_err(|_| StoreError::Corrupt("zset score is not 8 bytes".into()))?;
    Ok(f64::from_be_bytes(arr))
}

/// A score range end (`(1.5` is exclusive).
#[derive(Debug, Clone, Copy)]
pub struct ScoreBound {
    pub value: f64,
    pub exclusive: bool,
}

impl ScoreBound {
    pub fn admits_min(&self, s: f64) -> bool {
        if self.exclusive {
            s > self.value
        } else {
            s >= self.value
        }
    }
    pub fn admits_max(&self, s: f64) -> bool {
        if self.exclusive {
            s < self.value
        } else {
            s <= self.value
        }
    }
}

/// A lexicographic range end (`-`, `+`, `[a`, `(a`).
#[derive(Debug, Clone)]
pub enum LexBound {
    NegInf,
    PosInf,
    Incl(Vec<u8>),
    Excl(Vec<u8>),
}

impl LexBound {
    pub fn admits_min(&self, m: &[u8]) -> bool {
        match self {
            LexBound::NegInf => true,
            LexBound::PosInf => false,
            LexBound::Incl(v) => m >= v.as_slice(),
            LexBound::Excl(v) => m > v.as_slice(),
        }
    }
    pub fn admits_max(&self, m: &[u8]) -> bool {
        match self {
            LexBound::NegInf => false,
            LexBound::PosInf => true,
            LexBound::Incl(v) => m <= v.as_slice(),
            LexBound::Excl(v) => m < v.as_slice(),
        }
    }
}

/// `ZADD` flags.
#[derive(Debug, Clone, Copy, Default)]
pub struct ZAddFlags {
    pub nx: bool,
    pub xx: bool,
    pub gt: bool,
    pub lt: bool,
    pub ch: bool,
    pub incr: bool,
}

/// What `ZADD` reports.
pub enum ZAddResult {
    Count(i64),
    /// `INCR`: the new score, or `None` when a condition blocked the update.
    Score(Option<f64>),
}

/// A range selection over a sorted set.
#[derive(Debug, Clone)]
pub enum ZRange {
    Rank(i64, i64),
    Score(ScoreBound, ScoreBound),
    Lex(LexBound, LexBound),
}

pub type Scored = (Vec<u8>, f64);

impl Storage {
    /// Stages a member's two sub-keys, replacing those of its `old` score if any.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn stage_member(
        &self,
        ws: &mut WriteSet,
        db: usize,
        key: &[u8],
        version: u64,
        member: &[u8],
        old: Option<f64>,
        new: f64,
    ) {
        if let Some(o) = old {
            let mut sub = encode_score(o).to_vec();
            sub.extend_from_slice(member);
            self.stage_sub_delete(ws, Cf::ZScore, db, key, version, &sub);
        }
        let mut sub = encode_score(new).to_vec();
        sub.extend_from_slice(member);
        self.stage_sub_put(ws, Cf::ZScore, db, key, version, &sub, b"");
        self.stage_sub_put(ws, Cf::Data, db, key, version, member, &new.to_be_bytes());
    }

    fn unstage_member(
        &self,
        ws: &mut WriteSet,
        db: usize,
        key: &[u8],
        version: u64,
        member: &[u8],
        score: f64,
    ) {
        let mut sub = encode_score(score).to_vec();
        sub.extend_from_slice(member);
        self.stage_sub_delete(ws, Cf::ZScore, db, key, version, &sub);
        self.stage_sub_delete(ws, Cf::Data, db, key, version, member);
    }

    fn member_score(
        &self,
        db: usize,
        key: &[u8],
        version: u64,
        member: &[u8],
    ) -> StoreResult<Option<f64>> {
        match self.sub_get(Cf::Data, db, key, version, member)? {
            Some(v) => score_value(&v).map(Some),
            None => Ok(None),
        }
    }

    pub fn zadd(
        &self,
        db: usize,
        key: &[u8],
        items: &[(f64, &[u8])],
        f: ZAddFlags,
    ) -> StoreResult<ZAddResult> {
        Ok(self.zadd_reporting(db, key, items, f)?.0)
    }

    /// [`Storage::zadd`], also telling whether anything was added or rescored (what makes
    /// `ZADD`/`ZINCRBY`/`GEOADD` a modification: the reply alone cannot say without `CH`).
    pub fn zadd_reporting(
        &self,
        db: usize,
        key: &[u8],
        items: &[(f64, &[u8])],
        f: ZAddFlags,
    ) -> StoreResult<(ZAddResult, bool)> {
        let mut w = self.coll_for_write(db, key, Z)?;
        let mut ws = WriteSet::default();
        let (mut added, mut changed) = (0i64, 0i64);
        let mut pending: HashMap<&[u8], f64> = HashMap::new();
        let mut incr_result = None;
        for &(score, member) in items {
            let current = match pending.get(member) {
                Some(&s) => Some(s),
                None if w.existed => self.member_score(db, key, w.coll.version, member)?,
                None => None,
            };
            let new = if f.incr {
                current.unwrap_or(0.0) + score
            } else {
                score
            };
            if new.is_nan() {
                return Err(StoreError::ScoreNan);
            }
            match current {
                None => {
                    if f.xx {
                        continue;
                    }
                    self.stage_member(&mut ws, db, key, w.coll.version, member, None, new);
                    pending.insert(member, new);
                    added += 1;
                    incr_result = Some(new);
                }
                Some(old) => {
                    if f.nx || (f.gt && new <= old) || (f.lt && new >= old) {
                        continue;
                    }
                    incr_result = Some(new);
                    if new != old {
                        self.stage_member(&mut ws, db, key, w.coll.version, member, Some(old), new);
                        pending.insert(member, new);
                        changed += 1;
                    }
                }
            }
        }
        if added + changed > 0 {
            w.coll.len += added as u64;
            self.stage_coll(&mut ws, db, key, w.raw.as_ref(), &w.coll);
            self.commit(ws)?;
        }
        let result = if f.incr {
            ZAddResult::Score(incr_result)
        } else {
            ZAddResult::Count(if f.ch { added + changed } else { added })
        };
        Ok((result, added + changed > 0))
    }

    pub fn zscore(&self, db: usize, key: &[u8], member: &[u8]) -> StoreResult<Option<f64>> {
        match self.coll(db, key, Z)? {
            Some(c) => self.member_score(db, key, c.version, member),
            None => Ok(None),
        }
    }

    pub fn zcard(&self, db: usize, key: &[u8]) -> StoreResult<u64> {
        Ok(self.coll(db, key, Z)?.map_or(0, |c| c.len))
    }

    /// Removes the given members; returns how many existed.
    pub fn zrem(&self, db: usize, key: &[u8], members: &[&[u8]]) -> StoreResult<i64> {
        let Some(mut c) = self.coll(db, key, Z)? else {
            return Ok(0);
        };
        let raw = Some(c.to_meta());
        let mut ws = WriteSet::default();
        let mut removed = 0;
        let mut done: Vec<&[u8]> = Vec::new();
        for &m in members {
            if done.contains(&m) {
                continue;
            }
            done.push(m);
            if let Some(s) = self.member_score(db, key, c.version, m)? {
                self.unstage_member(&mut ws, db, key, c.version, m, s);
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

    /// Visits members in score order (descending with `rev`) until `visit` returns false.
    fn zwalk(
        &self,
        db: usize,
        key: &[u8],
        c: &Coll,
        rev: bool,
        visit: impl FnMut(&[u8], f64) -> bool,
    ) -> StoreResult<()> {
        self.zwalk_from(db, key, c, rev, None, visit)
    }

    /// Walks members in score order starting at score `start` (ascending: the first member
    /// scoring >= start; descending: the last scoring <= start), so a score range costs
    /// O(log n + matches) instead of a walk from the first member.
    fn zwalk_from(
        &self,
        db: usize,
        key: &[u8],
        c: &Coll,
        rev: bool,
        start: Option<f64>,
        mut visit: impl FnMut(&[u8], f64) -> bool,
    ) -> StoreResult<()> {
        let mut each = |sub: &[u8], _: &[u8]| {
            if sub.len() < 8 {
                return true;
            }
            visit(&sub[8..], decode_score(&sub[..8]))
        };
        let start = start.filter(|s| !s.is_nan());
        if rev {
            // Everything scoring exactly `start` sorts below the next 8-byte score prefix.
            let before = start
                .map(|s| u64::from_be_bytes(encode_score(s)))
                .and_then(|bits| bits.checked_add(1))
                .map(|bits| bits.to_be_bytes().to_vec())
                .unwrap_or_default();
            self.sub_scan_rev(Cf::ZScore, db, key, c.version, &before, &mut each)
        } else {
            let from = start.map(|s| encode_score(s).to_vec()).unwrap_or_default();
            self.sub_scan(Cf::ZScore, db, key, c.version, &from, &mut each)
        }
    }

    /// Members in `range` (ascending, or descending with `rev`), after skipping `offset`
    /// and taking at most `limit` (negative = all).
    pub fn zrange(
        &self,
        db: usize,
        key: &[u8],
        range: &ZRange,
        rev: bool,
        offset: i64,
        limit: i64,
    ) -> StoreResult<Vec<Scored>> {
        let Some(c) = self.coll(db, key, Z)? else {
            return Ok(Vec::new());
        };
        let len = c.len as i64;
        let mut out = Vec::new();
        match range {
            ZRange::Rank(start, stop) => {
                let Some((s, e)) = crate::num::index_range(*start, *stop, len) else {
                    return Ok(out);
                };
                let mut i = 0i64;
                self.zwalk(db, key, &c, rev, |m, sc| {
                    if i >= s {
                        out.push((m.to_vec(), sc));
                    }
                    i += 1;
                    i <= e
                })?;
            }
            ZRange::Score(min, max) => {
                let mut skipped = 0;
                let start = if rev { max.value } else { min.value };
                self.zwalk_from(db, key, &c, rev, Some(start), |m, sc| {
                    let (inside, past) = if rev {
                        (
                            min.admits_min(sc) && max.admits_max(sc),
                            !min.admits_min(sc),
                        )
                    } else {
                        (
                            min.admits_min(sc) && max.admits_max(sc),
                            !max.admits_max(sc),
                        )
                    };
                    if past {
                        return false;
                    }
                    if inside {
                        if skipped < offset {
                            skipped += 1;
                        } else {
                            out.push((m.to_vec(), sc));
                        }
                    }
                    limit < 0 || (out.len() as i64) < limit
                })?;
            }
            ZRange::Lex(min, max) => {
                let mut skipped = 0;
                self.zwalk(db, key, &c, rev, |m, sc| {
                    if min.admits_min(m) && max.admits_max(m) {
                        if skipped < offset {
                            skipped += 1;
                        } else {
                            out.push((m.to_vec(), sc));
                        }
                    }
                    limit < 0 || (out.len() as i64) < limit
                })?;
            }
        }
        Ok(out)
    }

    /// 0-based rank of `member` (from the top with `rev`) and its score.
    pub fn zrank(
        &self,
        db: usize,
        key: &[u8],
        member: &[u8],
        rev: bool,
    ) -> StoreResult<Option<(i64, f64)>> {
        let Some(c) = self.coll(db, key, Z)? else {
            return Ok(None);
        };
        let Some(score) = self.member_score(db, key, c.version, member)? else {
            return Ok(None);
        };
        let mut rank = 0i64;
        let mut found = false;
        self.zwalk(db, key, &c, rev, |m, _| {
            if m == member {
                found = true;
                return false;
            }
            rank += 1;
            true
        })?;
        Ok(found.then_some((rank, score)))
    }

    /// Every member with its score, in ascending order.
    pub fn zall(&self, db: usize, key: &[u8]) -> StoreResult<Vec<Scored>> {
        self.zrange(db, key, &ZRange::Rank(0, -1), false, 0, -1)
    }

    /// Removes the members of `range`; returns how many.
    pub fn zremrange(&self, db: usize, key: &[u8], range: &ZRange) -> StoreResult<i64> {
        let victims = self.zrange(db, key, range, false, 0, -1)?;
        self.zremove_scored(db, key, &victims)
    }

    fn zremove_scored(&self, db: usize, key: &[u8], victims: &[Scored]) -> StoreResult<i64> {
        if victims.is_empty() {
            return Ok(0);
        }
        let Some(mut c) = self.coll(db, key, Z)? else {
            return Ok(0);
        };
        let raw = Some(c.to_meta());
        let mut ws = WriteSet::default();
        for (m, s) in victims {
            self.unstage_member(&mut ws, db, key, c.version, m, *s);
        }
        c.len -= victims.len() as u64;
        self.stage_coll(&mut ws, db, key, raw.as_ref(), &c);
        self.commit(ws)?;
        Ok(victims.len() as i64)
    }

    /// `ZPOPMIN`/`ZPOPMAX`: removes and returns up to `count` lowest (or highest) members.
    pub fn zpop(&self, db: usize, key: &[u8], max: bool, count: usize) -> StoreResult<Vec<Scored>> {
        if count == 0 {
            self.coll(db, key, Z)?;
            return Ok(Vec::new());
        }
        let victims = self.zrange(db, key, &ZRange::Rank(0, count as i64 - 1), max, 0, -1)?;
        self.zremove_scored(db, key, &victims)?;
        Ok(victims)
    }

    /// Replaces `dst` with the given members; returns the new cardinality.
    pub fn zstore(&self, db: usize, dst: &[u8], items: &[Scored]) -> StoreResult<i64> {
        let raw = self.raw_meta(db, dst)?;
        let mut ws = WriteSet::default();
        let mut coll = Coll {
            kind: Z,
            version: self.next_version()?,
            len: items.len() as u64,
            expire_ms: 0,
            tail: Vec::new(),
        };
        if items.is_empty() {
            coll.len = 0;
        }
        for (m, s) in items {
            self.stage_member(&mut ws, db, dst, coll.version, m, None, *s);
        }
        if coll.len == 0 {
            if let Some(old) = &raw {
                self.stage_delete(&mut ws, db, dst, old);
            }
        } else {
            self.stage_coll(&mut ws, db, dst, raw.as_ref(), &coll);
        }
        self.commit(ws)?;
        Ok(items.len() as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn score_encoding_orders_numerically() {
        let values = [
            f64::NEG_INFINITY,
            -1e300,
            -2.5,
            -1.0,
            -0.0,
            0.0,
            1e-300,
            1.0,
            2.5,
            1e300,
            f64::INFINITY,
        ];
        let encoded: Vec<_> = values.iter().map(|&v| encode_score(v)).collect();
        for pair in encoded.windows(2) {
            assert!(pair[0] <= pair[1]);
        }
        for v in values {
            assert_eq!(
                decode_score(&encode_score(v)),
                if v == 0.0 { 0.0 } else { v }
            );
        }
        // golden bytes
        assert_eq!(encode_score(1.0), [0xBF, 0xF0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(
            encode_score(-1.0),
            [0x40, 0x0F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]
        );
    }
}
