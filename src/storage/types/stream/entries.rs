//! Stream lookup and entries: XADD (with trimming), XRANGE reads, XTRIM, XDEL, XSETID.

use super::*;
use crate::error::StoreResult;
use crate::storage::collection::Coll;
use crate::storage::engine::Cf;
use crate::storage::{now_ms, Storage, WriteSet};

impl Storage {
    // ---- lookup ----

    pub(super) fn stream_from(&self, db: usize, key: &[u8], coll: Coll) -> StoreResult<Stream> {
        let info = StreamInfo::decode(&coll.tail)?;
        Ok(Stream {
            db,
            key: key.to_vec(),
            raw: Some(coll.to_meta()),
            coll,
            info,
        })
    }

    /// The live stream at `key` (`WRONGTYPE` for another type).
    pub fn stream(&self, db: usize, key: &[u8]) -> StoreResult<Option<Stream>> {
        match self.coll(db, key, S)? {
            Some(c) => self.stream_from(db, key, c).map(Some),
            None => Ok(None),
        }
    }

    /// The stream at `key` to modify: the live one, or a new empty one (`existed` false).
    pub(super) fn stream_for_write(&self, db: usize, key: &[u8]) -> StoreResult<(Stream, bool)> {
        let w = self.coll_for_write(db, key, S)?;
        let mut stream = if w.existed {
            self.stream_from(db, key, w.coll)?
        } else {
            Stream {
                db,
                key: key.to_vec(),
                raw: None,
                coll: w.coll,
                info: StreamInfo::default(),
            }
        };
        // The record replaced may be an expired key of any type.
        stream.raw = w.raw;
        Ok((stream, w.existed))
    }

    /// Stages the stream's meta record (written whatever its length: streams may be empty).
    pub(super) fn stage_stream(&self, ws: &mut WriteSet, s: &Stream) {
        let mut coll = s.coll.clone();
        coll.tail = s.info.encode();
        self.stage_put(ws, s.db, &s.key, s.raw.as_ref(), &coll.to_meta());
    }

    pub(super) fn stream_put(&self, ws: &mut WriteSet, s: &Stream, sub: &[u8], value: &[u8]) {
        self.stage_sub_put(ws, Cf::Stream, s.db, &s.key, s.coll.version, sub, value);
    }

    pub(super) fn stream_delete(&self, ws: &mut WriteSet, s: &Stream, sub: &[u8]) {
        self.stage_sub_delete(ws, Cf::Stream, s.db, &s.key, s.coll.version, sub);
    }

    /// The id of the oldest entry present.
    pub fn first_entry_id(&self, s: &Stream) -> StoreResult<Option<StreamId>> {
        if s.is_empty() {
            return Ok(None);
        }
        Ok(self
            .entries(s, StreamId::MIN, StreamId::MAX, 1, false)?
            .first()
            .map(|(id, _)| *id))
    }

    pub(super) fn stream_scan(
        &self,
        s: &Stream,
        from: &[u8],
        to: &[u8],
        mut visit: impl FnMut(&[u8], &[u8]) -> StoreResult<bool>,
    ) -> StoreResult<()> {
        let mut failed = None;
        self.stream_raw_scan(s, from, |k, v| {
            if k >= to {
                return false;
            }
            match visit(k, v) {
                Ok(go_on) => go_on,
                Err(e) => {
                    failed = Some(e);
                    false
                }
            }
        })?;
        failed.map_or(Ok(()), Err)
    }

    pub(super) fn stream_raw_scan(
        &self,
        s: &Stream,
        from: &[u8],
        visit: impl FnMut(&[u8], &[u8]) -> bool,
    ) -> StoreResult<()> {
        self.sub_scan(Cf::Stream, s.db, &s.key, s.coll.version, from, visit)
    }

    // ---- entries ----

    /// Entries with `start <= id <= end` (descending from `end` with `rev`), at most `count`
    /// (0 = all).
    pub fn entries(
        &self,
        s: &Stream,
        start: StreamId,
        end: StreamId,
        count: usize,
        rev: bool,
    ) -> StoreResult<Vec<Entry>> {
        let mut out = Vec::new();
        if start > end {
            return Ok(out);
        }
        let mut failed = None;
        let mut take = |k: &[u8], v: &[u8]| -> bool {
            let parsed = StreamId::from_bytes(&k[1..]).and_then(|id| Ok((id, decode_fields(v)?)));
            match parsed {
                Ok((id, fields)) => {
                    if id < start || id > end {
                        return false;
                    }
                    out.push((id, fields));
                    count == 0 || out.len() < count
                }
                Err(e) => {
                    failed = Some(e);
                    false
                }
            }
        };
        if rev {
            let mut before = entry_sub(end);
            before.push(0);
            self.sub_scan_rev(Cf::Stream, s.db, &s.key, s.coll.version, &before, |k, v| {
                k.first() == Some(&b'e') && take(k, v)
            })?;
        } else {
            self.sub_scan(
                Cf::Stream,
                s.db,
                &s.key,
                s.coll.version,
                &entry_sub(start),
                |k, v| k.first() == Some(&b'e') && take(k, v),
            )?;
        }
        failed.map_or(Ok(out), Err)
    }

    pub(super) fn entry(&self, s: &Stream, id: StreamId) -> StoreResult<Option<Fields>> {
        match self.sub_get(Cf::Stream, s.db, &s.key, s.coll.version, &entry_sub(id))? {
            Some(raw) => decode_fields(&raw).map(Some),
            None => Ok(None),
        }
    }

    /// `XADD`: the new entry's id, or `None` with NOMKSTREAM on a missing key.
    pub fn xadd(
        &self,
        db: usize,
        key: &[u8],
        id: IdSpec,
        fields: &[(&[u8], &[u8])],
        no_mkstream: bool,
        trim: Option<Trim>,
    ) -> StreamResult<Option<StreamId>> {
        let (mut s, existed) = self.stream_for_write(db, key)?;
        if !existed && no_mkstream {
            return Ok(None);
        }
        let last = s.info.last_id;
        if last == StreamId::MAX {
            return Err(StreamError::Exhausted);
        }
        let new_id = match id {
            IdSpec::Auto => {
                let now = now_ms();
                if now > last.ms {
                    StreamId::new(now, 0)
                } else {
                    last.next().ok_or(StreamError::Exhausted)?
                }
            }
            IdSpec::AutoSeq(ms) => {
                if ms == last.ms {
                    let seq = last.seq.checked_add(1).ok_or(StreamError::IdTooSmall)?;
                    StreamId::new(ms, seq)
                } else if ms > last.ms {
                    StreamId::new(ms, 0)
                } else {
                    return Err(StreamError::IdTooSmall);
                }
            }
            IdSpec::Explicit(id) => {
                if id.is_zero() {
                    return Err(StreamError::IdZero);
                }
                if id <= last {
                    return Err(StreamError::IdTooSmall);
                }
                id
            }
        };
        let mut ws = WriteSet::default();
        self.stream_put(&mut ws, &s, &entry_sub(new_id), &encode_fields(fields));
        s.coll.len += 1;
        s.info.last_id = new_id;
        s.info.entries_added += 1;
        if let Some(trim) = trim {
            self.stage_trim(&mut ws, &mut s, trim, Some(new_id))?;
        }
        self.stage_stream(&mut ws, &s);
        self.commit(ws)?;
        Ok(Some(new_id))
    }

    /// Removes entries by `trim` (the just-added `pending_new` entry is not yet on disk).
    pub(super) fn stage_trim(
        &self,
        ws: &mut WriteSet,
        s: &mut Stream,
        trim: Trim,
        pending_new: Option<StreamId>,
    ) -> StoreResult<u64> {
        let on_disk = s.len() - u64::from(pending_new.is_some());
        let victims = if trim.approximate {
            self.approximate_victims(s, trim, on_disk, pending_new)?
        } else {
            self.exact_victims(s, trim, on_disk, pending_new)?
        };
        for id in &victims {
            self.stream_delete(ws, s, &entry_sub(*id));
            if *id > s.info.max_deleted {
                s.info.max_deleted = *id;
            }
        }
        s.coll.len -= victims.len() as u64;
        Ok(victims.len() as u64)
    }

    /// Oldest-first ids to remove for an exact (`=`) trim.
    pub(super) fn exact_victims(
        &self,
        s: &Stream,
        trim: Trim,
        on_disk: u64,
        pending_new: Option<StreamId>,
    ) -> StoreResult<Vec<StreamId>> {
        let budget = match trim.strategy {
            TrimBy::MaxLen(max) => s.len().saturating_sub(max),
            TrimBy::MinId(_) => u64::MAX,
        };
        let below = |id: StreamId| match trim.strategy {
            TrimBy::MinId(min) => id < min,
            TrimBy::MaxLen(_) => true,
        };
        let mut victims = Vec::new();
        let cap = usize::try_from(budget.min(on_disk)).unwrap_or(usize::MAX);
        if cap > 0 {
            self.for_each_entry_id(s, |id| {
                if !below(id) {
                    return false;
                }
                victims.push(id);
                victims.len() < cap
            })?;
        }
        // Everything older went: the entry XADD just staged may go too (MAXLEN 0, MINID
        // above it), as Redis trims after adding.
        if let Some(new) = pending_new {
            if victims.len() as u64 == on_disk && (victims.len() as u64) < budget && below(new) {
                victims.push(new);
            }
        }
        Ok(victims)
    }

    /// Oldest-first ids to remove for an approximate (`~`) trim. Redis removes only whole
    /// radix-tree nodes of up to [`NODE_ENTRIES`] entries; Strata cuts the stream into the
    /// same-sized runs from its head and removes whole runs under the same conditions, so
    /// `~` trims about as much as Redis would and never below the threshold.
    pub(super) fn approximate_victims(
        &self,
        s: &Stream,
        trim: Trim,
        on_disk: u64,
        pending_new: Option<StreamId>,
    ) -> StoreResult<Vec<StreamId>> {
        let cap = trim.limit.saturating_add(NODE_ENTRIES).min(on_disk);
        let cap = usize::try_from(cap).unwrap_or(usize::MAX);
        let mut ids = Vec::new();
        if cap > 0 {
            self.for_each_entry_id(s, |id| {
                ids.push(id);
                ids.len() < cap
            })?;
        }
        if ids.len() as u64 == on_disk {
            ids.extend(pending_new);
        }
        let mut victims = Vec::new();
        for run in ids.chunks(NODE_ENTRIES as usize) {
            let remaining = s.len() - victims.len() as u64;
            let removable = match trim.strategy {
                TrimBy::MaxLen(max) => remaining - run.len() as u64 >= max,
                TrimBy::MinId(min) => run.last().is_some_and(|last| *last < min),
            };
            if !removable || (victims.len() + run.len()) as u64 > trim.limit {
                break;
            }
            victims.extend_from_slice(run);
        }
        Ok(victims)
    }

    pub(super) fn for_each_entry_id(
        &self,
        s: &Stream,
        mut visit: impl FnMut(StreamId) -> bool,
    ) -> StoreResult<()> {
        self.sub_scan(Cf::Stream, s.db, &s.key, s.coll.version, b"e", |k, _| {
            if k.first() != Some(&b'e') {
                return false;
            }
            match StreamId::from_bytes(&k[1..]) {
                Ok(id) => visit(id),
                Err(_) => false,
            }
        })
    }

    /// `XTRIM`: entries removed.
    pub fn xtrim(&self, db: usize, key: &[u8], trim: Trim) -> StreamResult<u64> {
        let Some(mut s) = self.stream(db, key)? else {
            return Ok(0);
        };
        let mut ws = WriteSet::default();
        let removed = self.stage_trim(&mut ws, &mut s, trim, None)?;
        if removed > 0 {
            self.stage_stream(&mut ws, &s);
            self.commit(ws)?;
        }
        Ok(removed)
    }

    /// `XDEL`: entries deleted.
    pub fn xdel(&self, db: usize, key: &[u8], ids: &[StreamId]) -> StreamResult<u64> {
        let Some(mut s) = self.stream(db, key)? else {
            return Ok(0);
        };
        let mut ws = WriteSet::default();
        let mut deleted = std::collections::HashSet::new();
        for &id in ids {
            if deleted.contains(&id) || self.entry(&s, id)?.is_none() {
                continue;
            }
            self.stream_delete(&mut ws, &s, &entry_sub(id));
            deleted.insert(id);
            if id > s.info.max_deleted {
                s.info.max_deleted = id;
            }
        }
        if deleted.is_empty() {
            return Ok(0);
        }
        s.coll.len -= deleted.len() as u64;
        self.stage_stream(&mut ws, &s);
        self.commit(ws)?;
        Ok(deleted.len() as u64)
    }

    /// `XSETID`.
    pub fn xsetid(
        &self,
        db: usize,
        key: &[u8],
        id: StreamId,
        opts: SetIdOptions,
    ) -> StreamResult<()> {
        let mut s = self.stream_required(db, key)?;
        if !s.is_empty() {
            // The newest entry still present bounds the id (not the last generated one).
            let top = self.entries(&s, StreamId::MIN, StreamId::MAX, 1, true)?;
            if top.first().is_some_and(|(top, _)| id < *top) {
                return Err(StreamError::SetIdSmallerThanTop);
            }
            if opts.entries_added.is_some_and(|added| s.len() > added) {
                return Err(StreamError::EntriesAddedTooSmall);
            }
        }
        s.info.last_id = id;
        if let Some(added) = opts.entries_added {
            s.info.entries_added = added;
        }
        if let Some(max_deleted) = opts.max_deleted {
            s.info.max_deleted = max_deleted;
        }
        let mut ws = WriteSet::default();
        self.stage_stream(&mut ws, &s);
        self.commit(ws)?;
        Ok(())
    }
}
