//! The format-neutral value of one key, as RDB holds it: what DUMP/RESTORE, MIGRATE and
//! RDB files carry between Strata and Redis.

/// A stream entry id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    /// The 16-byte big-endian form RDB uses for node keys and PEL ids.
    pub fn to_be_bytes(self) -> [u8; 16] {
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&self.ms.to_be_bytes());
        out[8..].copy_from_slice(&self.seq.to_be_bytes());
        out
    }

    pub fn from_be_bytes(raw: &[u8]) -> Option<StreamId> {
        let ms = u64::from_be_bytes(raw.get(..8)?.try_into().ok()?);
        let seq = u64::from_be_bytes(raw.get(8..16)?.try_into().ok()?);
        Some(StreamId { ms, seq })
    }
}

/// Field-value pairs of one stream entry, in order.
pub type EntryFields = Vec<(Vec<u8>, Vec<u8>)>;

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    String(Vec<u8>),
    List(Vec<Vec<u8>>),
    Set(Vec<Vec<u8>>),
    ZSet(Vec<(Vec<u8>, f64)>),
    Hash(Vec<(Vec<u8>, Vec<u8>)>),
    Stream(Box<StreamValue>),
}

impl Value {
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::String(_) => "string",
            Value::List(_) => "list",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
            Value::Hash(_) => "hash",
            Value::Stream(_) => "stream",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct StreamValue {
    /// Live entries in id order (deleted ones are not kept).
    pub entries: Vec<(StreamId, EntryFields)>,
    pub last_id: StreamId,
    /// 0-0 when empty or unknown (RDB before version 10).
    pub first_id: StreamId,
    /// 0-0 when unknown.
    pub max_deleted_id: StreamId,
    /// Entries ever added; for old versions without it, the number of entries.
    pub entries_added: u64,
    pub groups: Vec<StreamGroup>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StreamGroup {
    pub name: Vec<u8>,
    pub last_id: StreamId,
    /// -1 = unknown (Redis's `SCG_INVALID_ENTRIES_READ`), also for old versions.
    pub entries_read: i64,
    /// The group's pending entries in id order.
    pub pending: Vec<StreamPending>,
    pub consumers: Vec<StreamConsumer>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StreamPending {
    pub id: StreamId,
    pub delivery_time_ms: u64,
    pub delivery_count: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StreamConsumer {
    pub name: Vec<u8>,
    pub seen_time_ms: u64,
    /// RDB 11+ (Redis 7.2); older versions: the seen time.
    pub active_time_ms: u64,
    /// Ids this consumer owns (each also in the group's `pending`).
    pub pending: Vec<StreamId>,
}
