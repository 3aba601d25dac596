//! Streams in the `stream` family (DESIGN §4): entries, consumer groups, consumers and the
//! pending-entries lists, all under the stream's version so `DEL` is O(1).
//!
//! Sub-keys after `[db][slot][key_len][key][version]`:
//! - `e [ms u64][seq u64]` -> the entry's fields (`[n u32]([len u32][bytes])*`)
//! - `g [group]` -> group state: last delivered id, entries-read (`i64`, -1 unknown)
//! - `c [group_len u32][group][consumer]` -> seen and active times (ms)
//! - `p [group_len u32][group][ms][seq]` -> pending entry: delivery time, count, consumer
//! - `q [group_len u32][group][consumer_len u32][consumer][ms][seq]` -> "" (a consumer's PEL)
//!
//! The meta tail holds the last generated id, the max deleted id, entries-added and the
//! number of groups. A stream may be empty and still exist (MKSTREAM, trimming, XDEL), so
//! its meta record is written whatever its length. Every mutation is one write set,
//! committed once under the key lock the dispatch gate holds.

use std::cmp::Ordering;
use std::fmt;

use crate::error::{StoreError, StoreResult};
use crate::storage::collection::{Coll, CollWrite};
use crate::storage::encoding::KeyType;
use crate::storage::engine::Cf;
use crate::storage::{now_ms, Storage, WriteSet};

const S: KeyType = KeyType::Stream;
/// Unknown entries-read counter of a group (Redis's `SCG_INVALID_ENTRIES_READ`).
pub const UNKNOWN_READS: i64 = -1;
/// Entries per notional node for `~` trimming (Redis's `stream-node-max-entries` default):
/// approximate trims remove whole multiples of it, as Redis removes whole nodes.
pub const NODE_ENTRIES: u64 = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    pub fn new(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    pub fn is_zero(self) -> bool {
        self == StreamId::MIN
    }

    pub fn next(self) -> Option<StreamId> {
        match self.seq.checked_add(1) {
            Some(seq) => Some(StreamId { seq, ..self }),
            None => self.ms.checked_add(1).map(|ms| StreamId { ms, seq: 0 }),
        }
    }

    pub fn prev(self) -> Option<StreamId> {
        match self.seq.checked_sub(1) {
            Some(seq) => Some(StreamId { seq, ..self }),
            None => self
                .ms
                .checked_sub(1)
                .map(|ms| StreamId { ms, seq: u64::MAX }),
        }
    }

    pub fn to_bytes(self) -> [u8; 16] {
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&self.ms.to_be_bytes());
        out[8..].copy_from_slice(&self.seq.to_be_bytes());
        out
    }

    pub fn from_bytes(b: &[u8]) -> StoreResult<StreamId> {
        let ms = b.get(..8).and_then(|s| s.try_into().ok());
        let seq = b.get(8..16).and_then(|s| s.try_into().ok());
        match (ms, seq) {
            (Some(ms), Some(seq)) => Ok(StreamId {
                ms: u64::from_be_bytes(ms),
                seq: u64::from_be_bytes(seq),
            }),
            _ => Err(StoreError::Corrupt(
                "stream id shorter than 16 bytes".into(),
            )),
        }
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// Field-value pairs of one entry.
pub type Fields = Vec<(Vec<u8>, Vec<u8>)>;
pub type Entry = (StreamId, Fields);

/// Failures specific to streams, mapped to Redis's replies by the command layer.
#[derive(Debug)]
pub enum StreamError {
    Store(StoreError),
    IdTooSmall,
    IdZero,
    Exhausted,
    NoGroup,
    GroupExists,
    SetIdSmallerThanTop,
    SetIdSmallerThanMaxDeleted,
    EntriesAddedTooSmall,
    NoSuchKey,
}

impl From<StoreError> for StreamError {
    fn from(e: StoreError) -> Self {
        StreamError::Store(e)
    }
}

pub type StreamResult<T> = Result<T, StreamError>;

/// The stream-level state in the meta tail.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamInfo {
    pub last_id: StreamId,
    pub max_deleted: StreamId,
    pub entries_added: u64,
    pub groups: u64,
}

impl StreamInfo {
    fn decode(tail: &[u8]) -> StoreResult<StreamInfo> {
        if tail.len() < 48 {
            return Err(StoreError::Corrupt(
                "stream meta tail shorter than 48 bytes".into(),
            ));
        }
        let word = |i: usize| u64::from_be_bytes(tail[i..i + 8].try_into().unwrap_or([0; 8]));
        Ok(StreamInfo {
            last_id: StreamId::from_bytes(&tail[0..16])?,
            max_deleted: StreamId::from_bytes(&tail[16..32])?,
            entries_added: word(32),
            groups: word(40),
        })
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(48);
        out.extend_from_slice(&self.last_id.to_bytes());
        out.extend_from_slice(&self.max_deleted.to_bytes());
        out.extend_from_slice(&self.entries_added.to_be_bytes());
        out.extend_from_slice(&self.groups.to_be_bytes());
        out
    }
}

/// A stream looked up for reading or writing.
pub struct Stream {
    db: usize,
    key: Vec<u8>,
    pub coll: Coll,
    pub info: StreamInfo,
    pub first_id: Option<StreamId>,
}

impl Stream {
    pub fn len(&self) -> u64 {
        self.coll.len
    }

    pub fn is_empty(&self) -> bool {
        self.coll.len == 0
    }

    /// Redis's `streamRangeHasTombstones(s, start, NULL)`.
    fn has_tombstones_from(&self, start: StreamId) -> bool {
        let Some(first) = self.first_id else {
            return false;
        };
        if self.info.max_deleted.is_zero() || first > self.info.max_deleted {
            return false;
        }
        start <= self.info.max_deleted
    }

    /// Redis's `streamEstimateDistanceFromFirstEverEntry`: the logical read counter of `id`.
    pub fn estimate_reads(&self, id: StreamId) -> i64 {
        let added = self.info.entries_added as i64;
        if added == 0 {
            return 0;
        }
        if self.is_empty() && id <= self.info.last_id {
            return added;
        }
        match id.cmp(&self.info.last_id) {
            Ordering::Equal => return added,
            Ordering::Greater => return UNKNOWN_READS,
            Ordering::Less => {}
        }
        let Some(first) = self.first_id else {
            return UNKNOWN_READS;
        };
        if self.info.max_deleted.is_zero() || self.info.max_deleted < first {
            match id.cmp(&first) {
                Ordering::Less => return added - self.len() as i64,
                Ordering::Equal => return added - self.len() as i64 + 1,
                Ordering::Greater => {}
            }
        }
        UNKNOWN_READS
    }

    /// The lag of a group as XINFO reports it (`None` when it cannot be known).
    pub fn lag(&self, group: &Group) -> Option<i64> {
        let added = self.info.entries_added as i64;
        if added == 0 {
            return Some(0);
        }
        if group.entries_read != UNKNOWN_READS && !self.has_tombstones_from(group.last_id) {
            return Some(added - group.entries_read);
        }
        let reads = self.estimate_reads(group.last_id);
        (reads != UNKNOWN_READS).then_some(added - reads)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Group {
    pub last_id: StreamId,
    pub entries_read: i64,
}

impl Group {
    fn encode(&self) -> Vec<u8> {
        let mut out = self.last_id.to_bytes().to_vec();
        out.extend_from_slice(&self.entries_read.to_be_bytes());
        out
    }

    fn decode(raw: &[u8]) -> StoreResult<Group> {
        let reads = raw
            .get(16..24)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| StoreError::Corrupt("stream group record too short".into()))?;
        Ok(Group {
            last_id: StreamId::from_bytes(raw)?,
            entries_read: i64::from_be_bytes(reads),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsumerTimes {
    pub seen_ms: u64,
    /// 0 until the consumer first got or claimed an entry.
    pub active_ms: u64,
}

impl ConsumerTimes {
    fn encode(&self) -> Vec<u8> {
        let mut out = self.seen_ms.to_be_bytes().to_vec();
        out.extend_from_slice(&self.active_ms.to_be_bytes());
        out
    }

    fn decode(raw: &[u8]) -> StoreResult<ConsumerTimes> {
        let word = |i: usize| -> StoreResult<u64> {
            raw.get(i..i + 8)
                .and_then(|b| b.try_into().ok())
                .map(u64::from_be_bytes)
                .ok_or_else(|| StoreError::Corrupt("stream consumer record too short".into()))
        };
        Ok(ConsumerTimes {
            seen_ms: word(0)?,
            active_ms: word(8)?,
        })
    }
}

/// One pending entry of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub id: StreamId,
    pub consumer: Vec<u8>,
    pub delivered_ms: u64,
    pub deliveries: u64,
}

impl Pending {
    fn encode(&self) -> Vec<u8> {
        let mut out = self.delivered_ms.to_be_bytes().to_vec();
        out.extend_from_slice(&self.deliveries.to_be_bytes());
        out.extend_from_slice(&self.consumer);
        out
    }

    fn decode(id: StreamId, raw: &[u8]) -> StoreResult<Pending> {
        if raw.len() < 16 {
            return Err(StoreError::Corrupt(
                "stream pending record too short".into(),
            ));
        }
        Ok(Pending {
            id,
            delivered_ms: u64::from_be_bytes(raw[..8].try_into().unwrap_or([0; 8])),
            deliveries: u64::from_be_bytes(raw[8..16].try_into().unwrap_or([0; 8])),
            consumer: raw[16..].to_vec(),
        })
    }
}

// ---- sub-key layout ----

fn entry_sub(id: StreamId) -> Vec<u8> {
    let mut s = vec![b'e'];
    s.extend_from_slice(&id.to_bytes());
    s
}

fn group_sub(group: &[u8]) -> Vec<u8> {
    let mut s = vec![b'g'];
    s.extend_from_slice(group);
    s
}

fn scoped(tag: u8, group: &[u8]) -> Vec<u8> {
    let mut s = vec![tag];
    s.extend_from_slice(&(group.len() as u32).to_be_bytes());
    s.extend_from_slice(group);
    s
}

fn consumer_sub(group: &[u8], consumer: &[u8]) -> Vec<u8> {
    let mut s = scoped(b'c', group);
    s.extend_from_slice(consumer);
    s
}

fn pel_sub(group: &[u8], id: StreamId) -> Vec<u8> {
    let mut s = scoped(b'p', group);
    s.extend_from_slice(&id.to_bytes());
    s
}

fn consumer_pel_prefix(group: &[u8], consumer: &[u8]) -> Vec<u8> {
    let mut s = scoped(b'q', group);
    s.extend_from_slice(&(consumer.len() as u32).to_be_bytes());
    s.extend_from_slice(consumer);
    s
}

fn consumer_pel_sub(group: &[u8], consumer: &[u8], id: StreamId) -> Vec<u8> {
    let mut s = consumer_pel_prefix(group, consumer);
    s.extend_from_slice(&id.to_bytes());
    s
}

/// The smallest byte string greater than every string starting with `prefix`.
fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xFF {
            end.push(last + 1);
            return end;
        }
    }
    vec![0xFF; prefix.len() + 1]
}

pub fn encode_fields(fields: &[(&[u8], &[u8])]) -> Vec<u8> {
    let size: usize = fields.iter().map(|(f, v)| 8 + f.len() + v.len()).sum();
    let mut out = Vec::with_capacity(4 + size);
    out.extend_from_slice(&(fields.len() as u32).to_be_bytes());
    for (f, v) in fields {
        for part in [f, v] {
            out.extend_from_slice(&(part.len() as u32).to_be_bytes());
            out.extend_from_slice(part);
        }
    }
    out
}

pub fn decode_fields(raw: &[u8]) -> StoreResult<Fields> {
    let bad = || StoreError::Corrupt("stream entry fields truncated".into());
    let read_u32 = |pos: usize| -> StoreResult<usize> {
        raw.get(pos..pos + 4)
            .and_then(|b| b.try_into().ok())
            .map(|b| u32::from_be_bytes(b) as usize)
            .ok_or_else(bad)
    };
    let n = read_u32(0)?;
    let mut pos = 4;
    let mut out = Vec::with_capacity(n.min(1024));
    for _ in 0..n {
        let mut pair = [Vec::new(), Vec::new()];
        for part in &mut pair {
            let len = read_u32(pos)?;
            pos += 4;
            *part = raw.get(pos..pos + len).ok_or_else(bad)?.to_vec();
            pos += len;
        }
        let [f, v] = pair;
        out.push((f, v));
    }
    Ok(out)
}

/// How XADD chooses the new entry's id.
#[derive(Debug, Clone, Copy)]
pub enum IdSpec {
    Auto,
    /// `ms-*`: this millisecond, next sequence.
    AutoSeq(u64),
    Explicit(StreamId),
}

/// A trimming rule (XADD's and XTRIM's MAXLEN/MINID).
#[derive(Debug, Clone, Copy)]
pub struct Trim {
    pub strategy: TrimBy,
    pub approximate: bool,
    /// Most entries to remove (LIMIT, or its default for `~`); `u64::MAX` = no limit.
    pub limit: u64,
}

#[derive(Debug, Clone, Copy)]
pub enum TrimBy {
    MaxLen(u64),
    MinId(StreamId),
}

/// XSETID's optional arguments.
#[derive(Debug, Clone, Copy, Default)]
pub struct SetIdOptions {
    pub entries_added: Option<u64>,
    pub max_deleted: Option<StreamId>,
}

/// XCLAIM's options.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClaimOptions {
    pub min_idle_ms: u64,
    /// The delivery time to record (IDLE/TIME already resolved); now if `None`.
    pub time_ms: Option<u64>,
    pub retry_count: Option<u64>,
    pub force: bool,
    pub just_id: bool,
    pub last_id: Option<StreamId>,
}

/// What one XREADGROUP read of one stream produced.
pub enum GroupRead {
    /// New entries (`>`).
    New(Vec<Entry>),
    /// History from the consumer's PEL: `None` fields for entries deleted since delivery.
    History(Vec<(StreamId, Option<Fields>)>),
}

/// What XAUTOCLAIM did: the cursor to continue from (0-0 when done), the claimed entries
/// (`None` fields with JUSTID), and the pending ids whose entries no longer exist.
pub struct AutoClaim {
    pub next: StreamId,
    pub claimed: Vec<(StreamId, Option<Fields>)>,
    pub deleted: Vec<StreamId>,
}

/// The XPENDING summary.
pub struct PendingSummary {
    pub count: u64,
    pub range: Option<(StreamId, StreamId)>,
    pub per_consumer: Vec<(Vec<u8>, u64)>,
}

impl Storage {
    // ---- lookup ----

    fn stream_from(&self, db: usize, key: &[u8], coll: Coll) -> StoreResult<Stream> {
        let info = StreamInfo::decode(&coll.tail)?;
        let mut stream = Stream {
            db,
            key: key.to_vec(),
            coll,
            info,
            first_id: None,
        };
        stream.first_id = self.first_entry_id(&stream)?;
        Ok(stream)
    }

    /// The live stream at `key` (`WRONGTYPE` for another type).
    pub fn stream(&self, db: usize, key: &[u8]) -> StoreResult<Option<Stream>> {
        match self.coll(db, key, S)? {
            Some(c) => self.stream_from(db, key, c).map(Some),
            None => Ok(None),
        }
    }

    fn stream_for_write(&self, db: usize, key: &[u8]) -> StoreResult<(CollWrite, Stream)> {
        let w = self.coll_for_write(db, key, S)?;
        let stream = if w.existed {
            self.stream_from(db, key, w.coll.clone())?
        } else {
            Stream {
                db,
                key: key.to_vec(),
                coll: w.coll.clone(),
                info: StreamInfo::default(),
                first_id: None,
            }
        };
        Ok((w, stream))
    }

    fn stage_stream(&self, ws: &mut WriteSet, db: usize, key: &[u8], w: &CollWrite, s: &Stream) {
        let mut coll = s.coll.clone();
        coll.tail = s.info.encode();
        self.stage_put(ws, db, key, w.raw.as_ref(), &coll.to_meta());
    }

    fn first_entry_id(&self, s: &Stream) -> StoreResult<Option<StreamId>> {
        if s.is_empty() {
            return Ok(None);
        }
        Ok(self
            .entries(s, StreamId::MIN, StreamId::MAX, 1, false)?
            .first()
            .map(|(id, _)| *id))
    }

    fn stream_scan(
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

    fn stream_raw_scan(
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

    fn entry(&self, s: &Stream, id: StreamId) -> StoreResult<Option<Fields>> {
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
        let (w, mut s) = self.stream_for_write(db, key)?;
        if !w.existed && no_mkstream {
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
        self.stage_sub_put(
            &mut ws,
            Cf::Stream,
            db,
            key,
            s.coll.version,
            &entry_sub(new_id),
            &encode_fields(fields),
        );
        s.coll.len += 1;
        s.info.last_id = new_id;
        s.info.entries_added += 1;
        if s.first_id.is_none() {
            s.first_id = Some(new_id);
        }
        if let Some(trim) = trim {
            self.stage_trim(&mut ws, db, key, &mut s, trim, Some(new_id))?;
        }
        self.stage_stream(&mut ws, db, key, &w, &s);
        self.commit(ws)?;
        Ok(Some(new_id))
    }

    /// Removes entries by `trim` (the just-added `pending_new` entry is not yet on disk).
    fn stage_trim(
        &self,
        ws: &mut WriteSet,
        db: usize,
        key: &[u8],
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
            self.stage_sub_delete(ws, Cf::Stream, db, key, s.coll.version, &entry_sub(*id));
            if *id > s.info.max_deleted {
                s.info.max_deleted = *id;
            }
        }
        s.coll.len -= victims.len() as u64;
        if !victims.is_empty() {
            s.first_id = if s.is_empty() {
                None
            } else {
                let last_victim = victims[victims.len() - 1];
                let next = self.entries(
                    s,
                    last_victim.next().unwrap_or(StreamId::MAX),
                    StreamId::MAX,
                    1,
                    false,
                )?;
                next.first().map(|(id, _)| *id).or(pending_new)
            };
        }
        Ok(victims.len() as u64)
    }

    /// Oldest-first ids to remove for an exact (`=`) trim.
    fn exact_victims(
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
    fn approximate_victims(
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

    fn for_each_entry_id(
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
        let Some(coll) = self.coll(db, key, S)? else {
            return Ok(0);
        };
        let mut s = self.stream_from(db, key, coll)?;
        let w = CollWrite {
            raw: Some(s.coll.to_meta()),
            coll: s.coll.clone(),
            existed: true,
        };
        let mut ws = WriteSet::default();
        let removed = self.stage_trim(&mut ws, db, key, &mut s, trim, None)?;
        if removed > 0 {
            self.stage_stream(&mut ws, db, key, &w, &s);
            self.commit(ws)?;
        }
        Ok(removed)
    }

    /// `XDEL`: entries deleted.
    pub fn xdel(&self, db: usize, key: &[u8], ids: &[StreamId]) -> StreamResult<u64> {
        let Some(coll) = self.coll(db, key, S)? else {
            return Ok(0);
        };
        let mut s = self.stream_from(db, key, coll)?;
        let w = CollWrite {
            raw: Some(s.coll.to_meta()),
            coll: s.coll.clone(),
            existed: true,
        };
        let mut ws = WriteSet::default();
        let mut deleted = std::collections::HashSet::new();
        for &id in ids {
            if deleted.contains(&id) || self.entry(&s, id)?.is_none() {
                continue;
            }
            self.stage_sub_delete(&mut ws, Cf::Stream, db, key, s.coll.version, &entry_sub(id));
            deleted.insert(id);
            if id > s.info.max_deleted {
                s.info.max_deleted = id;
            }
        }
        if deleted.is_empty() {
            return Ok(0);
        }
        s.coll.len -= deleted.len() as u64;
        self.stage_stream(&mut ws, db, key, &w, &s);
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
        let Some(coll) = self.coll(db, key, S)? else {
            return Err(StreamError::NoSuchKey);
        };
        let mut s = self.stream_from(db, key, coll)?;
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
        let w = CollWrite {
            raw: Some(s.coll.to_meta()),
            coll: s.coll.clone(),
            existed: true,
        };
        s.info.last_id = id;
        if let Some(added) = opts.entries_added {
            s.info.entries_added = added;
        }
        if let Some(max_deleted) = opts.max_deleted {
            s.info.max_deleted = max_deleted;
        }
        let mut ws = WriteSet::default();
        self.stage_stream(&mut ws, db, key, &w, &s);
        self.commit(ws)?;
        Ok(())
    }

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
        let (w, mut s) = self.stream_for_write(db, key)?;
        if !w.existed && !mkstream {
            return Err(StreamError::NoSuchKey);
        }
        if w.existed && self.group(&s, name)?.is_some() {
            return Err(StreamError::GroupExists);
        }
        let last_id = id.unwrap_or(s.info.last_id);
        let group = Group {
            last_id,
            entries_read: entries_read.unwrap_or(UNKNOWN_READS),
        };
        let mut ws = WriteSet::default();
        self.stage_sub_put(
            &mut ws,
            Cf::Stream,
            db,
            key,
            s.coll.version,
            &group_sub(name),
            &group.encode(),
        );
        s.info.groups += 1;
        self.stage_stream(&mut ws, db, key, &w, &s);
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
        self.stage_sub_put(
            &mut ws,
            Cf::Stream,
            db,
            key,
            s.coll.version,
            &group_sub(name),
            &group.encode(),
        );
        self.commit(ws)?;
        Ok(())
    }

    fn stream_required(&self, db: usize, key: &[u8]) -> StreamResult<Stream> {
        self.stream(db, key)?.ok_or(StreamError::NoSuchKey)
    }

    /// `XGROUP DESTROY`: true if the group existed.
    pub fn xgroup_destroy(&self, db: usize, key: &[u8], name: &[u8]) -> StreamResult<bool> {
        let mut s = self.stream_required(db, key)?;
        if self.group(&s, name)?.is_none() {
            return Ok(false);
        }
        let mut ws = WriteSet::default();
        self.stage_sub_delete(
            &mut ws,
            Cf::Stream,
            db,
            key,
            s.coll.version,
            &group_sub(name),
        );
        for tag in [b'c', b'p', b'q'] {
            let prefix = scoped(tag, name);
            let mut subs = Vec::new();
            self.stream_scan(&s, &prefix, &prefix_end(&prefix), |k, _| {
                subs.push(k.to_vec());
                Ok(true)
            })?;
            for sub in subs {
                self.stage_sub_delete(&mut ws, Cf::Stream, db, key, s.coll.version, &sub);
            }
        }
        let w = CollWrite {
            raw: Some(s.coll.to_meta()),
            coll: s.coll.clone(),
            existed: true,
        };
        s.info.groups = s.info.groups.saturating_sub(1);
        self.stage_stream(&mut ws, db, key, &w, &s);
        self.commit(ws)?;
        Ok(true)
    }

    fn consumer(
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
        self.stage_sub_put(
            &mut ws,
            Cf::Stream,
            db,
            key,
            s.coll.version,
            &consumer_sub(group, consumer),
            &times.encode(),
        );
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
            self.stage_sub_delete(
                &mut ws,
                Cf::Stream,
                db,
                key,
                s.coll.version,
                &pel_sub(group, *id),
            );
            self.stage_sub_delete(
                &mut ws,
                Cf::Stream,
                db,
                key,
                s.coll.version,
                &consumer_pel_sub(group, consumer, *id),
            );
        }
        self.stage_sub_delete(
            &mut ws,
            Cf::Stream,
            db,
            key,
            s.coll.version,
            &consumer_sub(group, consumer),
        );
        self.commit(ws)?;
        Ok(pending.len() as u64)
    }

    // ---- pending entries ----

    /// Ids in a consumer's PEL within `[start, end]`, at most `count` (0 = all).
    fn consumer_pel(
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

    fn pending_entry(
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

    #[allow(clippy::too_many_arguments)]
    fn stage_pending(
        &self,
        ws: &mut WriteSet,
        db: usize,
        key: &[u8],
        s: &Stream,
        group: &[u8],
        p: &Pending,
        old_owner: Option<&[u8]>,
    ) {
        let v = s.coll.version;
        if let Some(old) = old_owner.filter(|o| *o != p.consumer.as_slice()) {
            self.stage_sub_delete(
                ws,
                Cf::Stream,
                db,
                key,
                v,
                &consumer_pel_sub(group, old, p.id),
            );
        }
        self.stage_sub_put(
            ws,
            Cf::Stream,
            db,
            key,
            v,
            &pel_sub(group, p.id),
            &p.encode(),
        );
        self.stage_sub_put(
            ws,
            Cf::Stream,
            db,
            key,
            v,
            &consumer_pel_sub(group, &p.consumer, p.id),
            b"",
        );
    }

    fn stage_unpend(
        &self,
        ws: &mut WriteSet,
        db: usize,
        key: &[u8],
        s: &Stream,
        group: &[u8],
        p: &Pending,
    ) {
        let v = s.coll.version;
        self.stage_sub_delete(ws, Cf::Stream, db, key, v, &pel_sub(group, p.id));
        self.stage_sub_delete(
            ws,
            Cf::Stream,
            db,
            key,
            v,
            &consumer_pel_sub(group, &p.consumer, p.id),
        );
    }

    /// Marks the consumer seen (and active when `active`), creating it if needed.
    #[allow(clippy::too_many_arguments)]
    fn stage_consumer_touch(
        &self,
        ws: &mut WriteSet,
        db: usize,
        key: &[u8],
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
        self.stage_sub_put(
            ws,
            Cf::Stream,
            db,
            key,
            s.coll.version,
            &consumer_sub(group, consumer),
            &times.encode(),
        );
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
                            self.stage_pending(&mut ws, db, key, &s, group_name, &p, None);
                        }
                    }
                    out.push((id, fields));
                }
                self.stage_consumer_touch(&mut ws, db, key, &s, group_name, consumer, false)?;
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
                for (id, _) in &entries {
                    if group.entries_read != UNKNOWN_READS && !s.has_tombstones_from(*id) {
                        group.entries_read += 1;
                    } else if s.info.entries_added > 0 {
                        group.entries_read = s.estimate_reads(*id);
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
                            db,
                            key,
                            &s,
                            group_name,
                            &p,
                            old.as_ref().map(|o| o.consumer.as_slice()),
                        );
                    }
                }
                self.stage_sub_put(
                    &mut ws,
                    Cf::Stream,
                    db,
                    key,
                    s.coll.version,
                    &group_sub(group_name),
                    &group.encode(),
                );
                self.stage_consumer_touch(&mut ws, db, key, &s, group_name, consumer, true)?;
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
        self.stage_consumer_touch(&mut ws, db, key, &s, group, consumer, false)?;
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
                self.stage_unpend(&mut ws, db, key, &s, group, &p);
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
                self.stage_sub_put(
                    &mut ws,
                    Cf::Stream,
                    db,
                    key,
                    s.coll.version,
                    &group_sub(group_name),
                    &group.encode(),
                );
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
                self.stage_unpend(&mut ws, db, key, &s, group_name, &pending);
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
            self.stage_pending(&mut ws, db, key, &s, group_name, &p, Some(&old_owner));
            claimed_any = true;
            out.push((id, if opts.just_id { None } else { fields }));
        }
        self.stage_consumer_touch(&mut ws, db, key, &s, group_name, consumer, claimed_any)?;
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
                self.stage_unpend(&mut ws, db, key, &s, group_name, p);
                deleted.push(p.id);
                continue;
            };
            let mut np = p.clone();
            np.consumer = consumer.to_vec();
            np.delivered_ms = now;
            if !just_id {
                np.deliveries += 1;
            }
            self.stage_pending(&mut ws, db, key, &s, group_name, &np, Some(&p.consumer));
            claimed.push((p.id, if just_id { None } else { Some(fields) }));
        }
        self.stage_consumer_touch(
            &mut ws,
            db,
            key,
            &s,
            group_name,
            consumer,
            !claimed.is_empty(),
        )?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_order_and_step() {
        assert!(StreamId::new(1, 5) < StreamId::new(2, 0));
        assert_eq!(StreamId::new(1, u64::MAX).next(), Some(StreamId::new(2, 0)));
        assert_eq!(StreamId::new(2, 0).prev(), Some(StreamId::new(1, u64::MAX)));
        assert_eq!(StreamId::MAX.next(), None);
        assert_eq!(StreamId::MIN.prev(), None);
        let id = StreamId::new(7, 9);
        assert_eq!(StreamId::from_bytes(&id.to_bytes()).unwrap(), id);
    }

    #[test]
    fn fields_round_trip_and_reject_truncation() {
        let raw = encode_fields(&[(b"a", b"1"), (b"", b"long value")]);
        let back = decode_fields(&raw).unwrap();
        assert_eq!(
            back,
            vec![
                (b"a".to_vec(), b"1".to_vec()),
                (Vec::new(), b"long value".to_vec())
            ]
        );
        assert!(decode_fields(&raw[..raw.len() - 1]).is_err());
    }

    #[test]
    fn sub_keys_sort_by_kind_then_id() {
        assert!(entry_sub(StreamId::new(1, 0)) < entry_sub(StreamId::new(1, 1)));
        assert!(entry_sub(StreamId::MAX) < group_sub(b""));
        assert!(pel_sub(b"g", StreamId::MAX) < prefix_end(&scoped(b'p', b"g")));
    }
}
