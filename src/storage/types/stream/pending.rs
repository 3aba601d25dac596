//! Pending-entries lists: XREADGROUP delivery, XACK, XPENDING, XCLAIM, XAUTOCLAIM. A PEL
//! entry is written twice (group-wide by id, and under its consumer) in one write set.

use super::*;
use crate::error::StoreResult;
use crate::storage::engine::Cf;
use crate::storage::{now_ms, Storage, WriteSet};

impl Storage {
    // ---- pending entries ----

    /// Ids in a consumer's PEL within `[start, end]`, at most `count` (0 = all).
    pub(super) fn consumer_pel(
        &self,
        s: &Stream,
        group: &[u8],
        consumer: &[u8],
        start: StreamId,
        end: StreamId,
        count: usize,
    ) -> StoreResult<Vec<StreamId>> {
        let prefix = consumer_pel_prefix(group, consumer);
        let mut from = prefix.clone();
        from.extend_from_slice(&start.to_bytes());
        let mut out = Vec::new();
        self.stream_scan(s, &from, &prefix_end(&prefix), |k, _| {
            let id = StreamId::from_bytes(&k[prefix.len()..])?;
            if id > end {
                return Ok(false);
            }
            out.push(id);
            Ok(count == 0 || out.len() < count)
        })?;
        Ok(out)
    }

    /// Pending entries of a group within `[start, end]`, at most `count` (0 = all).
    pub fn group_pel(
        &self,
        s: &Stream,
        group: &[u8],
        start: StreamId,
        end: StreamId,
        count: usize,
    ) -> StoreResult<Vec<Pending>> {
        let prefix = scoped(b'p', group);
        let mut from = prefix.clone();
        from.extend_from_slice(&start.to_bytes());
        let mut out = Vec::new();
        if start > end {
            return Ok(out);
        }
        self.stream_scan(s, &from, &prefix_end(&prefix), |k, v| {
            let id = StreamId::from_bytes(&k[prefix.len()..])?;
            if id > end {
                return Ok(false);
            }
            out.push(Pending::decode(id, v)?);
            Ok(count == 0 || out.len() < count)
        })?;
        Ok(out)
    }

    pub(super) fn pending_entry(
        &self,
        s: &Stream,
        group: &[u8],
        id: StreamId,
    ) -> StoreResult<Option<Pending>> {
        match self.sub_get(
            Cf::Stream,
            s.db,
            &s.key,
            s.coll.version,
            &pel_sub(group, id),
        )? {
            Some(raw) => Pending::decode(id, &raw).map(Some),
            None => Ok(None),
        }
    }

    /// Stages a PEL entry under the group and under its consumer (moved from `old_owner`).
    pub(super) fn stage_pending(
        &self,
        ws: &mut WriteSet,
        s: &Stream,
        group: &[u8],
        p: &Pending,
        old_owner: Option<&[u8]>,
    ) {
        if let Some(old) = old_owner.filter(|o| *o != p.consumer.as_slice()) {
            self.stream_delete(ws, s, &consumer_pel_sub(group, old, p.id));
        }
        self.stream_put(ws, s, &pel_sub(group, p.id), &p.encode());
        self.stream_put(ws, s, &consumer_pel_sub(group, &p.consumer, p.id), b"");
    }

    pub(super) fn stage_unpend(&self, ws: &mut WriteSet, s: &Stream, group: &[u8], p: &Pending) {
        self.stream_delete(ws, s, &pel_sub(group, p.id));
        self.stream_delete(ws, s, &consumer_pel_sub(group, &p.consumer, p.id));
    }

    /// Marks the consumer seen (and active when `active`), creating it if needed.
    pub(super) fn stage_consumer_touch(
        &self,
        ws: &mut WriteSet,
        s: &Stream,
        group: &[u8],
        consumer: &[u8],
        active: bool,
    ) -> StoreResult<()> {
        let now = now_ms();
        let mut times = self.consumer(s, group, consumer)?.unwrap_or(ConsumerTimes {
            seen_ms: now,
            active_ms: 0,
        });
        times.seen_ms = now;
        if active {
            times.active_ms = now;
        }
        self.stream_put(ws, s, &consumer_sub(group, consumer), &times.encode());
        Ok(())
    }

    /// `XREADGROUP` on one stream. `after = None` is `>`; `Some(id)` reads the consumer's
    /// history after `id`. `Ok(None)` when there is nothing new (the caller may block).
    #[allow(clippy::too_many_arguments)]
    pub fn xreadgroup(
        &self,
        db: usize,
        key: &[u8],
        group_name: &[u8],
        consumer: &[u8],
        after: Option<StreamId>,
        count: usize,
        no_ack: bool,
    ) -> StreamResult<Option<GroupRead>> {
        let s = self.stream(db, key)?.ok_or(StreamError::NoGroup)?;
        let mut group = self.group(&s, group_name)?.ok_or(StreamError::NoGroup)?;
        let mut ws = WriteSet::default();
        let result = match after {
            Some(after) => {
                let start = after.next().unwrap_or(StreamId::MAX);
                let ids = if after == StreamId::MAX {
                    Vec::new()
                } else {
                    self.consumer_pel(&s, group_name, consumer, start, StreamId::MAX, count)?
                };
                let mut out = Vec::with_capacity(ids.len());
                let now = now_ms();
                for id in ids {
                    let fields = self.entry(&s, id)?;
                    if fields.is_some() {
                        if let Some(mut p) = self.pending_entry(&s, group_name, id)? {
                            p.delivered_ms = now;
                            p.deliveries += 1;
                            self.stage_pending(&mut ws, &s, group_name, &p, None);
                        }
                    }
                    out.push((id, fields));
                }
                self.stage_consumer_touch(&mut ws, &s, group_name, consumer, false)?;
                GroupRead::History(out)
            }
            None => {
                let start = group.last_id.next().unwrap_or(StreamId::MAX);
                let entries = if group.last_id == StreamId::MAX {
                    Vec::new()
                } else {
                    self.entries(&s, start, StreamId::MAX, count, false)?
                };
                if entries.is_empty() {
                    return Ok(None);
                }
                let now = now_ms();
                let first = self.first_entry_id(&s)?;
                for (id, _) in &entries {
                    if group.entries_read != UNKNOWN_READS && !s.has_tombstones_from(*id, first) {
                        // A client may set the counter to i64::MAX (ENTRIESREAD).
                        group.entries_read = group.entries_read.saturating_add(1);
                    } else if s.info.entries_added > 0 {
                        group.entries_read = s.estimate_reads(*id, first);
                    }
                    group.last_id = *id;
                    if !no_ack {
                        let old = self.pending_entry(&s, group_name, *id)?;
                        let p = Pending {
                            id: *id,
                            consumer: consumer.to_vec(),
                            delivered_ms: now,
                            deliveries: 1,
                        };
                        self.stage_pending(
                            &mut ws,
                            &s,
                            group_name,
                            &p,
                            old.as_ref().map(|o| o.consumer.as_slice()),
                        );
                    }
                }
                self.stream_put(&mut ws, &s, &group_sub(group_name), &group.encode());
                self.stage_consumer_touch(&mut ws, &s, group_name, consumer, true)?;
                GroupRead::New(entries)
            }
        };
        self.commit(ws)?;
        Ok(Some(result))
    }

    /// Registers the consumer (seen now) without reading: XREADGROUP that found nothing.
    pub fn touch_consumer(
        &self,
        db: usize,
        key: &[u8],
        group: &[u8],
        consumer: &[u8],
    ) -> StreamResult<()> {
        let s = self.stream_required(db, key)?;
        if self.group(&s, group)?.is_none() {
            return Err(StreamError::NoGroup);
        }
        let mut ws = WriteSet::default();
        self.stage_consumer_touch(&mut ws, &s, group, consumer, false)?;
        self.commit(ws)?;
        Ok(())
    }

    /// Checks that the group exists on the stream at `key` (XREADGROUP before blocking).
    pub fn group_exists(&self, db: usize, key: &[u8], group: &[u8]) -> StreamResult<bool> {
        match self.stream(db, key)? {
            Some(s) => Ok(self.group(&s, group)?.is_some()),
            None => Ok(false),
        }
    }

    /// `XACK`: how many of `ids` were pending and are now acknowledged.
    pub fn xack(&self, db: usize, key: &[u8], group: &[u8], ids: &[StreamId]) -> StreamResult<u64> {
        let Some(s) = self.stream(db, key)? else {
            return Ok(0);
        };
        if self.group(&s, group)?.is_none() {
            return Ok(0);
        }
        let mut ws = WriteSet::default();
        let mut acked = std::collections::HashSet::new();
        for &id in ids {
            if acked.contains(&id) {
                continue;
            }
            if let Some(p) = self.pending_entry(&s, group, id)? {
                self.stage_unpend(&mut ws, &s, group, &p);
                acked.insert(id);
            }
        }
        if !acked.is_empty() {
            self.commit(ws)?;
        }
        Ok(acked.len() as u64)
    }

    /// `XPENDING key group` (summary form).
    pub fn xpending_summary(
        &self,
        db: usize,
        key: &[u8],
        group: &[u8],
    ) -> StreamResult<PendingSummary> {
        let s = self.stream(db, key)?;
        let Some(s) = s.filter(|s| self.group(s, group).ok().flatten().is_some()) else {
            return Err(StreamError::NoGroup);
        };
        let pel = self.group_pel(&s, group, StreamId::MIN, StreamId::MAX, 0)?;
        let mut per: std::collections::BTreeMap<Vec<u8>, u64> = Default::default();
        for p in &pel {
            *per.entry(p.consumer.clone()).or_default() += 1;
        }
        Ok(PendingSummary {
            count: pel.len() as u64,
            range: pel.first().zip(pel.last()).map(|(a, b)| (a.id, b.id)),
            per_consumer: per.into_iter().collect(),
        })
    }

    /// `XPENDING key group [IDLE ms] start end count [consumer]` (extended form).
    #[allow(clippy::too_many_arguments)]
    pub fn xpending_range(
        &self,
        db: usize,
        key: &[u8],
        group: &[u8],
        min_idle: u64,
        start: StreamId,
        end: StreamId,
        count: usize,
        consumer: Option<&[u8]>,
    ) -> StreamResult<Vec<Pending>> {
        let s = self.stream(db, key)?;
        let Some(s) = s.filter(|s| self.group(s, group).ok().flatten().is_some()) else {
            return Err(StreamError::NoGroup);
        };
        let now = now_ms();
        let mut out = Vec::new();
        if count == 0 {
            return Ok(out);
        }
        let candidates = match consumer {
            Some(c) => {
                let ids = self.consumer_pel(&s, group, c, start, end, 0)?;
                let mut v = Vec::with_capacity(ids.len());
                for id in ids {
                    if let Some(p) = self.pending_entry(&s, group, id)? {
                        v.push(p);
                    }
                }
                v
            }
            None => self.group_pel(&s, group, start, end, 0)?,
        };
        for p in candidates {
            if now.saturating_sub(p.delivered_ms) < min_idle {
                continue;
            }
            out.push(p);
            if out.len() >= count {
                break;
            }
        }
        Ok(out)
    }

    /// `XCLAIM`: the claimed entries (`None` fields with JUSTID).
    pub fn xclaim(
        &self,
        db: usize,
        key: &[u8],
        group_name: &[u8],
        consumer: &[u8],
        ids: &[StreamId],
        opts: ClaimOptions,
    ) -> StreamResult<Vec<(StreamId, Option<Fields>)>> {
        let s = self.stream(db, key)?;
        let Some(s) = s else {
            return Err(StreamError::NoGroup);
        };
        let mut group = self.group(&s, group_name)?.ok_or(StreamError::NoGroup)?;
        let now = now_ms();
        let delivery_time = opts.time_ms.unwrap_or(now);
        let mut ws = WriteSet::default();
        if let Some(last) = opts.last_id {
            if last > group.last_id {
                group.last_id = last;
                self.stream_put(&mut ws, &s, &group_sub(group_name), &group.encode());
            }
        }
        let mut out = Vec::new();
        let mut claimed_any = false;
        let mut seen = std::collections::HashSet::new();
        for &id in ids {
            if !seen.insert(id) {
                continue;
            }
            let existing = self.pending_entry(&s, group_name, id)?;
            let fields = self.entry(&s, id)?;
            let forced = existing.is_none();
            let pending = match existing {
                Some(p) => p,
                None => {
                    // FORCE creates a PEL entry, but only for an entry that exists.
                    if !opts.force || fields.is_none() {
                        continue;
                    }
                    Pending {
                        id,
                        consumer: consumer.to_vec(),
                        delivered_ms: now,
                        deliveries: 0,
                    }
                }
            };
            if fields.is_none() {
                // Deleted since delivery: drop it from the PEL, as Redis 7 does.
                self.stage_unpend(&mut ws, &s, group_name, &pending);
                continue;
            }
            // A PEL entry FORCE just created has no idle time to check.
            if !forced
                && opts.min_idle_ms > 0
                && now.saturating_sub(pending.delivered_ms) < opts.min_idle_ms
            {
                continue;
            }
            let old_owner = pending.consumer.clone();
            let mut p = pending;
            p.consumer = consumer.to_vec();
            p.delivered_ms = delivery_time;
            if let Some(n) = opts.retry_count {
                p.deliveries = n;
            } else if !opts.just_id {
                p.deliveries += 1;
            }
            self.stage_pending(&mut ws, &s, group_name, &p, Some(&old_owner));
            claimed_any = true;
            out.push((id, if opts.just_id { None } else { fields }));
        }
        self.stage_consumer_touch(&mut ws, &s, group_name, consumer, claimed_any)?;
        self.commit(ws)?;
        Ok(out)
    }

    /// `XAUTOCLAIM`: (next cursor, claimed entries, ids deleted from the stream).
    #[allow(clippy::too_many_arguments)]
    pub fn xautoclaim(
        &self,
        db: usize,
        key: &[u8],
        group_name: &[u8],
        consumer: &[u8],
        min_idle_ms: u64,
        start: StreamId,
        count: usize,
        just_id: bool,
    ) -> StreamResult<AutoClaim> {
        let s = self.stream(db, key)?;
        let Some(s) = s else {
            return Err(StreamError::NoGroup);
        };
        if self.group(&s, group_name)?.is_none() {
            return Err(StreamError::NoGroup);
        }
        let now = now_ms();
        // Redis scans at most count * 10 PEL entries per call.
        let attempts = count.saturating_mul(10);
        let scanned = self.group_pel(&s, group_name, start, StreamId::MAX, attempts + 1)?;
        let mut ws = WriteSet::default();
        let mut claimed = Vec::new();
        let mut deleted = Vec::new();
        let mut next = StreamId::MIN;
        for (i, p) in scanned.iter().enumerate() {
            if i == attempts || claimed.len() == count {
                next = p.id;
                break;
            }
            if now.saturating_sub(p.delivered_ms) < min_idle_ms {
                continue;
            }
            let Some(fields) = self.entry(&s, p.id)? else {
                self.stage_unpend(&mut ws, &s, group_name, p);
                deleted.push(p.id);
                continue;
            };
            let mut np = p.clone();
            np.consumer = consumer.to_vec();
            np.delivered_ms = now;
            if !just_id {
                np.deliveries += 1;
            }
            self.stage_pending(&mut ws, &s, group_name, &np, Some(&p.consumer));
            claimed.push((p.id, if just_id { None } else { Some(fields) }));
        }
        self.stage_consumer_touch(&mut ws, &s, group_name, consumer, !claimed.is_empty())?;
        self.commit(ws)?;
        Ok(AutoClaim {
            next,
            claimed,
            deleted,
        })
    }

    /// Pending-entry count of a consumer (XINFO).
    pub fn consumer_pending_count(
        &self,
        s: &Stream,
        group: &[u8],
        consumer: &[u8],
    ) -> StoreResult<u64> {
        Ok(self
            .consumer_pel(s, group, consumer, StreamId::MIN, StreamId::MAX, 0)?
            .len() as u64)
    }

    /// A consumer's pending entries (XINFO STREAM FULL), at most `count` (0 = all).
    pub fn consumer_pending(
        &self,
        s: &Stream,
        group: &[u8],
        consumer: &[u8],
        count: usize,
    ) -> StoreResult<Vec<Pending>> {
        let ids = self.consumer_pel(s, group, consumer, StreamId::MIN, StreamId::MAX, count)?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(p) = self.pending_entry(s, group, id)? {
                out.push(p);
            }
        }
        Ok(out)
    }
}
