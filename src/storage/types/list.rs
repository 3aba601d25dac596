//! List semantics. Elements live at `data` sub-keys `index u64 BE -> element` for indexes in
//! `[head, tail)`, with `head`/`tail` in the meta tail; pushes and pops at either end are O(1).
//! Middle edits (`LINSERT`, `LREM`) rewrite the list under a fresh version, as they are O(N)
//! in Redis too.

use crate::error::{StoreError, StoreResult};
use crate::storage::collection::Coll;
use crate::storage::encoding::KeyType;
use crate::storage::engine::Cf;
use crate::storage::{Storage, WriteSet};

const L: KeyType = KeyType::List;
/// Index of the first element of a new list: the middle of the u64 range, so both ends can
/// grow without wrapping.
const MIDDLE: u64 = 1 << 63;

/// Which end of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Left,
    Right,
}

fn bounds(c: &Coll) -> (u64, u64) {
    if c.tail.len() < 16 {
        return (MIDDLE, MIDDLE + c.len);
    }
    let word = |i: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&c.tail[i..i + 8]);
        u64::from_be_bytes(w)
    };
    (word(0), word(8))
}

fn set_bounds(c: &mut Coll, head: u64, tail: u64) {
    let mut t = head.to_be_bytes().to_vec();
    t.extend_from_slice(&tail.to_be_bytes());
    c.tail = t;
    c.len = tail - head;
}

/// Normalises a Redis list index (negative from the end) to an offset, if in range.
fn offset(index: i64, len: u64) -> Option<u64> {
    let i = if index < 0 { len as i64 + index } else { index };
    (i >= 0 && (i as u64) < len).then_some(i as u64)
}

impl Storage {
    /// `LPUSH`/`RPUSH` (and the `X` variants with `only_existing`): returns the new length
    /// (0 when `only_existing` and the list is missing).
    pub fn push(
        &self,
        db: usize,
        key: &[u8],
        elems: &[&[u8]],
        end: End,
        only_existing: bool,
    ) -> StoreResult<i64> {
        let mut w = self.coll_for_write(db, key, L)?;
        if only_existing && !w.existed {
            return Ok(0);
        }
        let (mut head, mut tail) = if w.existed {
            bounds(&w.coll)
        } else {
            (MIDDLE, MIDDLE)
        };
        let mut ws = WriteSet::default();
        for e in elems {
            let index = match end {
                End::Left => {
                    head -= 1;
                    head
                }
                End::Right => {
                    tail += 1;
                    tail - 1
                }
            };
            self.stage_sub_put(
                &mut ws,
                Cf::Data,
                db,
                key,
                w.coll.version,
                &index.to_be_bytes(),
                e,
            );
        }
        set_bounds(&mut w.coll, head, tail);
        self.stage_coll(&mut ws, db, key, w.raw.as_ref(), &w.coll);
        self.commit(ws)?;
        Ok(w.coll.len as i64)
    }

    /// Removes and returns up to `count` elements from one end.
    pub fn pop(&self, db: usize, key: &[u8], end: End, count: usize) -> StoreResult<Vec<Vec<u8>>> {
        let Some(mut c) = self.coll(db, key, L)? else {
            return Ok(Vec::new());
        };
        let raw = Some(c.to_meta());
        let (mut head, mut tail) = bounds(&c);
        let mut out = Vec::new();
        let mut ws = WriteSet::default();
        while out.len() < count && head < tail {
            let index = match end {
                End::Left => {
                    head += 1;
                    head - 1
                }
                End::Right => {
                    tail -= 1;
                    tail
                }
            };
            let sub = index.to_be_bytes();
            let value = self
                .sub_get(Cf::Data, db, key, c.version, &sub)?
                .unwrap_or_default();
            self.stage_sub_delete(&mut ws, Cf::Data, db, key, c.version, &sub);
            out.push(value);
        }
        set_bounds(&mut c, head, tail);
        self.stage_coll(&mut ws, db, key, raw.as_ref(), &c);
        self.commit(ws)?;
        Ok(out)
    }

    pub fn llen(&self, db: usize, key: &[u8]) -> StoreResult<u64> {
        Ok(self.coll(db, key, L)?.map_or(0, |c| c.len))
    }

    pub fn lindex(&self, db: usize, key: &[u8], index: i64) -> StoreResult<Option<Vec<u8>>> {
        let Some(c) = self.coll(db, key, L)? else {
            return Ok(None);
        };
        let Some(off) = offset(index, c.len) else {
            return Ok(None);
        };
        let (head, _) = bounds(&c);
        self.sub_get(Cf::Data, db, key, c.version, &(head + off).to_be_bytes())
    }

    pub fn lrange(
        &self,
        db: usize,
        key: &[u8],
        start: i64,
        stop: i64,
    ) -> StoreResult<Vec<Vec<u8>>> {
        let Some(c) = self.coll(db, key, L)? else {
            return Ok(Vec::new());
        };
        let Some((s, e)) = crate::num::index_range(start, stop, c.len as i64) else {
            return Ok(Vec::new());
        };
        let (head, _) = bounds(&c);
        let from = head + s as u64;
        let wanted = (e - s + 1) as usize;
        let mut out = Vec::with_capacity(wanted);
        self.sub_scan(Cf::Data, db, key, c.version, &from.to_be_bytes(), |_, v| {
            out.push(v.to_vec());
            out.len() < wanted
        })?;
        Ok(out)
    }

    /// `LSET`.
    pub fn lset(&self, db: usize, key: &[u8], index: i64, value: &[u8]) -> StoreResult<()> {
        let Some(c) = self.coll(db, key, L)? else {
            return Err(StoreError::NoSuchKey);
        };
        let Some(off) = offset(index, c.len) else {
            return Err(StoreError::IndexOutOfRange);
        };
        let (head, _) = bounds(&c);
        let mut ws = WriteSet::default();
        self.stage_sub_put(
            &mut ws,
            Cf::Data,
            db,
            key,
            c.version,
            &(head + off).to_be_bytes(),
            value,
        );
        self.commit(ws)
    }

    /// `LTRIM`: keeps `[start, stop]`, deleting the rest (O(removed)).
    pub fn ltrim(&self, db: usize, key: &[u8], start: i64, stop: i64) -> StoreResult<()> {
        let Some(mut c) = self.coll(db, key, L)? else {
            return Ok(());
        };
        let raw = Some(c.to_meta());
        let (head, tail) = bounds(&c);
        let (new_head, new_tail) = match crate::num::index_range(start, stop, c.len as i64) {
            Some((s, e)) => (head + s as u64, head + e as u64 + 1),
            None => (head, head),
        };
        let mut ws = WriteSet::default();
        for i in (head..new_head).chain(new_tail..tail) {
            self.stage_sub_delete(&mut ws, Cf::Data, db, key, c.version, &i.to_be_bytes());
        }
        set_bounds(&mut c, new_head, new_tail);
        self.stage_coll(&mut ws, db, key, raw.as_ref(), &c);
        self.commit(ws)
    }

    /// Rewrites the list as `elems` under a fresh version (deleting it when empty).
    fn list_replace(
        &self,
        db: usize,
        key: &[u8],
        mut c: Coll,
        elems: &[Vec<u8>],
    ) -> StoreResult<()> {
        let raw = Some(c.to_meta());
        let mut ws = WriteSet::default();
        c.version = self.next_version()?;
        for (i, e) in elems.iter().enumerate() {
            self.stage_sub_put(
                &mut ws,
                Cf::Data,
                db,
                key,
                c.version,
                &(MIDDLE + i as u64).to_be_bytes(),
                e,
            );
        }
        set_bounds(&mut c, MIDDLE, MIDDLE + elems.len() as u64);
        self.stage_coll(&mut ws, db, key, raw.as_ref(), &c);
        self.commit(ws)
    }

    /// `LINSERT`: the new length, -1 when the pivot is missing, 0 when the key is.
    pub fn linsert(
        &self,
        db: usize,
        key: &[u8],
        before: bool,
        pivot: &[u8],
        elem: &[u8],
    ) -> StoreResult<i64> {
        let Some(c) = self.coll(db, key, L)? else {
            return Ok(0);
        };
        let mut all = self.lrange(db, key, 0, -1)?;
        let Some(pos) = all.iter().position(|e| e == pivot) else {
            return Ok(-1);
        };
        all.insert(if before { pos } else { pos + 1 }, elem.to_vec());
        self.list_replace(db, key, c, &all)?;
        Ok(all.len() as i64)
    }

    /// `LREM`: removes up to |count| occurrences (from the tail when negative, all when 0).
    pub fn lrem(&self, db: usize, key: &[u8], count: i64, elem: &[u8]) -> StoreResult<i64> {
        let Some(c) = self.coll(db, key, L)? else {
            return Ok(0);
        };
        let all = self.lrange(db, key, 0, -1)?;
        let limit = if count == 0 {
            usize::MAX
        } else {
            count.unsigned_abs() as usize
        };
        let mut removed = 0;
        let mut keep = vec![true; all.len()];
        let order: Box<dyn Iterator<Item = usize>> = if count < 0 {
            Box::new((0..all.len()).rev())
        } else {
            Box::new(0..all.len())
        };
        for i in order {
            if removed < limit && all[i] == elem {
                keep[i] = false;
                removed += 1;
            }
        }
        if removed > 0 {
            let rest: Vec<Vec<u8>> = all
                .into_iter()
                .zip(keep)
                .filter(|(_, k)| *k)
                .map(|(e, _)| e)
                .collect();
            self.list_replace(db, key, c, &rest)?;
        }
        Ok(removed as i64)
    }

    /// All elements, for `LPOS` and `SORT`.
    pub fn lall(&self, db: usize, key: &[u8]) -> StoreResult<Vec<Vec<u8>>> {
        self.lrange(db, key, 0, -1)
    }

    /// Stages `elems` as the whole content of the new list `coll` (fresh version, empty):
    /// RESTORE and RDB import write a list in one pass.
    pub(crate) fn stage_list_contents(
        &self,
        ws: &mut WriteSet,
        db: usize,
        key: &[u8],
        coll: &mut Coll,
        elems: &[Vec<u8>],
    ) {
        let mut tail = MIDDLE;
        for e in elems {
            self.stage_sub_put(ws, Cf::Data, db, key, coll.version, &tail.to_be_bytes(), e);
            tail += 1;
        }
        set_bounds(coll, MIDDLE, tail);
    }

    /// `LMOVE`: pops from `src` at `from` and pushes to `dst` at `to` in one atomic batch
    /// (`src == dst` rotates the list).
    pub fn lmove(
        &self,
        db: usize,
        src: &[u8],
        dst: &[u8],
        from: End,
        to: End,
    ) -> StoreResult<Option<Vec<u8>>> {
        let Some(mut sc) = self.coll(db, src, L)? else {
            return Ok(None);
        };
        // Redis checks the destination type before moving anything; `None` means a
        // rotation of `src` itself.
        let dst_write = if src != dst {
            Some(self.coll_for_write(db, dst, L)?)
        } else {
            None
        };
        let src_raw = Some(sc.to_meta());
        let (mut head, mut tail) = bounds(&sc);
        let index = match from {
            End::Left => {
                head += 1;
                head - 1
            }
            End::Right => {
                tail -= 1;
                tail
            }
        };
        let mut ws = WriteSet::default();
        let elem = self
            .sub_get(Cf::Data, db, src, sc.version, &index.to_be_bytes())?
            .unwrap_or_default();
        self.stage_sub_delete(&mut ws, Cf::Data, db, src, sc.version, &index.to_be_bytes());
        let push_index = |head: &mut u64, tail: &mut u64| match to {
            End::Left => {
                *head -= 1;
                *head
            }
            End::Right => {
                *tail += 1;
                *tail - 1
            }
        };
        match dst_write {
            None => {
                let at = push_index(&mut head, &mut tail);
                self.stage_sub_put(
                    &mut ws,
                    Cf::Data,
                    db,
                    src,
                    sc.version,
                    &at.to_be_bytes(),
                    &elem,
                );
                set_bounds(&mut sc, head, tail);
                self.stage_coll(&mut ws, db, src, src_raw.as_ref(), &sc);
            }
            Some(mut w) => {
                set_bounds(&mut sc, head, tail);
                self.stage_coll(&mut ws, db, src, src_raw.as_ref(), &sc);
                let (mut dh, mut dt) = if w.existed {
                    bounds(&w.coll)
                } else {
                    (MIDDLE, MIDDLE)
                };
                let at = push_index(&mut dh, &mut dt);
                self.stage_sub_put(
                    &mut ws,
                    Cf::Data,
                    db,
                    dst,
                    w.coll.version,
                    &at.to_be_bytes(),
                    &elem,
                );
                set_bounds(&mut w.coll, dh, dt);
                self.stage_coll(&mut ws, db, dst, w.raw.as_ref(), &w.coll);
            }
        }
        self.commit(ws)?;
        Ok(Some(elem))
    }
}
