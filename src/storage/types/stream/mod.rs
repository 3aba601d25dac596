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

mod entries;
mod groups;
mod pending;
mod portable;

use crate::error::{StoreError, StoreResult};
use crate::storage::collection::Coll;
use crate::storage::encoding::{KeyType, Meta};

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
    /// The physical meta record this stream was read from (what a write replaces).
    raw: Option<Meta>,
    pub coll: Coll,
    pub info: StreamInfo,
}

impl Stream {
    pub fn len(&self) -> u64 {
        self.coll.len
    }

    pub fn is_empty(&self) -> bool {
        self.coll.len == 0
    }

    // The first entry's id (`Storage::first_entry_id`) is passed in rather than kept in
    // `Stream`: only group reads and XINFO need it, and finding it costs a seek.

    /// Redis's `streamRangeHasTombstones(s, start, NULL)`.
    fn has_tombstones_from(&self, start: StreamId, first: Option<StreamId>) -> bool {
        let Some(first) = first else {
            return false;
        };
        if self.info.max_deleted.is_zero() || first > self.info.max_deleted {
            return false;
        }
        start <= self.info.max_deleted
    }

    /// Redis's `streamEstimateDistanceFromFirstEverEntry`: the logical read counter of `id`.
    pub fn estimate_reads(&self, id: StreamId, first: Option<StreamId>) -> i64 {
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
        let Some(first) = first else {
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
    pub fn lag(&self, group: &Group, first: Option<StreamId>) -> Option<i64> {
        let added = self.info.entries_added as i64;
        if added == 0 {
            return Some(0);
        }
        if group.entries_read != UNKNOWN_READS && !self.has_tombstones_from(group.last_id, first) {
            return Some(added - group.entries_read);
        }
        let reads = self.estimate_reads(group.last_id, first);
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
