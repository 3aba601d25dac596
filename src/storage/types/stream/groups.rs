//! Consumer groups and consumers: XGROUP CREATE/SETID/DESTROY/CREATECONSUMER/DELCONSUMER
//! and the lookups XINFO uses.

use super::*;
use crate::error::StoreResult;
use crate::storage::engine::Cf;
use crate::storage::{now_ms, Storage, WriteSet};

impl Storage {
    // ---- groups ----

    pub fn group(&self, s: &Stream, name: &[u8]) -> StoreResult<Option<Group>> {
        match self.sub_get(Cf::Stream, s.db, &s.key, s.coll.version, &group_sub(name))? {
            Some(raw) => Group::decode(&raw).map(Some),
            None => Ok(None),
        }
    }

    /// Every group, in name order.
    pub fn groups(&self, s: &Stream) -> StoreResult<Vec<(Vec<u8>, Group)>> {
        let mut out = Vec::new();
        self.stream_scan(s, b"g", b"h", |k, v| {
            out.push((k[1..].to_vec(), Group::decode(v)?));
            Ok(true)
        })?;
        Ok(out)
    }

    /// `XGROUP CREATE`; `id = None` means `$`.
    pub fn xgroup_create(
        &self,
        db: usize,
        key: &[u8],
        name: &[u8],
        id: Option<StreamId>,
        mkstream: bool,
        entries_read: Option<i64>,
    ) -> StreamResult<()> {
        let (mut s, existed) = self.stream_for_write(db, key)?;
        if !existed && !mkstream {
            return Err(StreamError::NoSuchKey);
        }
        if existed && self.group(&s, name)?.is_some() {
            return Err(StreamError::GroupExists);
        }
        let last_id = id.unwrap_or(s.info.last_id);
        let group = Group {
            last_id,
            entries_read: entries_read.unwrap_or(UNKNOWN_READS),
        };
        let mut ws = WriteSet::default();
        self.stream_put(&mut ws, &s, &group_sub(name), &group.encode());
        s.info.groups += 1;
        self.stage_stream(&mut ws, &s);
        self.commit(ws)?;
        Ok(())
    }

    /// `XGROUP SETID`; `id = None` means `$`.
    pub fn xgroup_setid(
        &self,
        db: usize,
        key: &[u8],
        name: &[u8],
        id: Option<StreamId>,
        entries_read: Option<i64>,
    ) -> StreamResult<()> {
        let s = self.stream_required(db, key)?;
        if self.group(&s, name)?.is_none() {
            return Err(StreamError::NoGroup);
        }
        let group = Group {
            last_id: id.unwrap_or(s.info.last_id),
            entries_read: entries_read.unwrap_or(UNKNOWN_READS),
        };
        let mut ws = WriteSet::default();
        self.stream_put(&mut ws, &s, &group_sub(name), &group.encode());
        self.commit(ws)?;
        Ok(())
    }

    pub(super) fn stream_required(&self, db: usize, key: &[u8]) -> StreamResult<Stream> {
        self.stream(db, key)?.ok_or(StreamError::NoSuchKey)
    }

    /// `XGROUP DESTROY`: true if the group existed.
    pub fn xgroup_destroy(&self, db: usize, key: &[u8], name: &[u8]) -> StreamResult<bool> {
        let mut s = self.stream_required(db, key)?;
        if self.group(&s, name)?.is_none() {
            return Ok(false);
        }
        let mut ws = WriteSet::default();
        self.stream_delete(&mut ws, &s, &group_sub(name));
        for tag in [b'c', b'p', b'q'] {
            let prefix = scoped(tag, name);
            let mut subs = Vec::new();
            self.stream_scan(&s, &prefix, &prefix_end(&prefix), |k, _| {
                subs.push(k.to_vec());
                Ok(true)
            })?;
            for sub in subs {
                self.stream_delete(&mut ws, &s, &sub);
            }
        }
        s.info.groups = s.info.groups.saturating_sub(1);
        self.stage_stream(&mut ws, &s);
        self.commit(ws)?;
        Ok(true)
    }

    pub(super) fn consumer(
        &self,
        s: &Stream,
        group: &[u8],
        consumer: &[u8],
    ) -> StoreResult<Option<ConsumerTimes>> {
        match self.sub_get(
            Cf::Stream,
            s.db,
            &s.key,
            s.coll.version,
            &consumer_sub(group, consumer),
        )? {
            Some(raw) => ConsumerTimes::decode(&raw).map(Some),
            None => Ok(None),
        }
    }

    /// The consumers of a group with their times, in name order.
    pub fn consumers(
        &self,
        s: &Stream,
        group: &[u8],
    ) -> StoreResult<Vec<(Vec<u8>, ConsumerTimes)>> {
        let prefix = scoped(b'c', group);
        let mut out = Vec::new();
        self.stream_scan(s, &prefix, &prefix_end(&prefix), |k, v| {
            out.push((k[prefix.len()..].to_vec(), ConsumerTimes::decode(v)?));
            Ok(true)
        })?;
        Ok(out)
    }

    /// `XGROUP CREATECONSUMER`: true if created.
    pub fn xgroup_createconsumer(
        &self,
        db: usize,
        key: &[u8],
        group: &[u8],
        consumer: &[u8],
    ) -> StreamResult<bool> {
        let s = self.stream_required(db, key)?;
        if self.group(&s, group)?.is_none() {
            return Err(StreamError::NoGroup);
        }
        if self.consumer(&s, group, consumer)?.is_some() {
            return Ok(false);
        }
        let times = ConsumerTimes {
            seen_ms: now_ms(),
            active_ms: 0,
        };
        let mut ws = WriteSet::default();
        self.stream_put(&mut ws, &s, &consumer_sub(group, consumer), &times.encode());
        self.commit(ws)?;
        Ok(true)
    }

    /// `XGROUP DELCONSUMER`: the number of pending entries the consumer had.
    pub fn xgroup_delconsumer(
        &self,
        db: usize,
        key: &[u8],
        group: &[u8],
        consumer: &[u8],
    ) -> StreamResult<u64> {
        let s = self.stream_required(db, key)?;
        if self.group(&s, group)?.is_none() {
            return Err(StreamError::NoGroup);
        }
        if self.consumer(&s, group, consumer)?.is_none() {
            return Ok(0);
        }
        let pending = self.consumer_pel(&s, group, consumer, StreamId::MIN, StreamId::MAX, 0)?;
        let mut ws = WriteSet::default();
        for id in &pending {
            self.stream_delete(&mut ws, &s, &pel_sub(group, *id));
            self.stream_delete(&mut ws, &s, &consumer_pel_sub(group, consumer, *id));
        }
        self.stream_delete(&mut ws, &s, &consumer_sub(group, consumer));
        self.commit(ws)?;
        Ok(pending.len() as u64)
    }
}
