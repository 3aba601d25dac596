//! One key's value in RDB form: decoding every object type Redis 6.x–7.2 write (type
//! byte, then the value), and encoding the types Redis 7.0 reads. Streams take most of the
//! code: their entries live in listpacks keyed by master id, followed by the stream's
//! metadata, its consumer groups, their pending entries and consumers.

use std::collections::HashSet;

use super::blob::{self, Element, ListpackWriter};
use super::error::{RdbError, RdbResult};
use super::input::{self, Source};
use super::value::{
    EntryFields, StreamConsumer, StreamGroup, StreamId, StreamPending, StreamValue, Value,
};

pub const STRING: u8 = 0;
pub const LIST: u8 = 1;
pub const SET: u8 = 2;
pub const ZSET: u8 = 3;
pub const HASH: u8 = 4;
pub const ZSET_2: u8 = 5;
pub const HASH_ZIPMAP: u8 = 9;
pub const LIST_ZIPLIST: u8 = 10;
pub const SET_INTSET: u8 = 11;
pub const ZSET_ZIPLIST: u8 = 12;
pub const HASH_ZIPLIST: u8 = 13;
pub const LIST_QUICKLIST: u8 = 14;
pub const STREAM_LISTPACKS: u8 = 15;
pub const HASH_LISTPACK: u8 = 16;
pub const ZSET_LISTPACK: u8 = 17;
pub const LIST_QUICKLIST_2: u8 = 18;
pub const STREAM_LISTPACKS_2: u8 = 19;
pub const SET_LISTPACK: u8 = 20;
pub const STREAM_LISTPACKS_3: u8 = 21;

/// Stream entry flags inside a node's listpack.
const ENTRY_DELETED: i64 = 1;
const ENTRY_SAMEFIELDS: i64 = 2;
/// Entries per stream node and elements per list node Strata writes (Redis's defaults:
/// `stream-node-max-entries 100`, list nodes of about 8 KB).
const STREAM_NODE_ENTRIES: usize = 100;
const LIST_NODE_BYTES: usize = 8 * 1024;
const LIST_NODE_ELEMENTS: usize = 128;
/// Elements this large go in a plain quicklist node of their own (Redis's
/// `packed_threshold` is 1 GB; a listpack's sizes are 32-bit).
const PLAIN_NODE_BYTES: usize = 1 << 30;

fn bad(what: &str) -> RdbError {
    RdbError::corrupt(what.to_string())
}

/// Starts a collection with room for at most a few thousand elements, whatever the
/// input claims: the rest grows as elements actually arrive.
fn with_room<T>(claimed: u64) -> Vec<T> {
    Vec::with_capacity(claimed.min(4096) as usize)
}

fn pairs(elements: Vec<Element>, what: &str) -> RdbResult<Vec<(Vec<u8>, Vec<u8>)>> {
    if elements.len() % 2 != 0 {
        return Err(bad(what));
    }
    let mut out = Vec::with_capacity(elements.len() / 2);
    let mut it = elements.into_iter();
    while let (Some(a), Some(b)) = (it.next(), it.next()) {
        out.push((a.into_bytes(), b.into_bytes()));
    }
    Ok(out)
}

fn score_of(element: Element) -> RdbResult<f64> {
    match element {
        Element::Int(i) => Ok(i as f64),
        Element::Bytes(b) => std::str::from_utf8(&b)
            .ok()
            .and_then(|t| t.parse::<f64>().ok())
            .filter(|s| !s.is_nan())
            .ok_or_else(|| bad("zset score")),
    }
}

fn scored(elements: Vec<Element>) -> RdbResult<Vec<(Vec<u8>, f64)>> {
    if elements.len() % 2 != 0 {
        return Err(bad("zset listpack"));
    }
    let mut out = Vec::with_capacity(elements.len() / 2);
    let mut it = elements.into_iter();
    while let (Some(member), Some(score)) = (it.next(), it.next()) {
        out.push((member.into_bytes(), score_of(score)?));
    }
    Ok(out)
}

/// Refuses duplicate members or fields, as Redis's loader does with deep sanitization.
fn unique<'a>(mut names: impl Iterator<Item = &'a [u8]>, what: &str) -> RdbResult<()> {
    let mut seen = HashSet::new();
    if names.all(|n| seen.insert(n)) {
        Ok(())
    } else {
        Err(bad(&format!("duplicate {what}")))
    }
}

/// Decodes the value of object type `kind`.
pub fn decode(kind: u8, src: &mut dyn Source) -> RdbResult<Value> {
    let value = match kind {
        STRING => Value::String(input::string(src)?),
        LIST | SET => {
            let n = input::length(src)?;
            let mut items = with_room(n);
            for _ in 0..n {
                items.push(input::string(src)?);
            }
            if kind == LIST {
                Value::List(items)
            } else {
                Value::Set(items)
            }
        }
        ZSET | ZSET_2 => {
            let n = input::length(src)?;
            let mut items = with_room(n);
            for _ in 0..n {
                let member = input::string(src)?;
                let score = if kind == ZSET {
                    input::text_double(src)?
                } else {
                    input::binary_double(src)?
                };
                if score.is_nan() {
                    return Err(bad("NaN zset score"));
                }
                items.push((member, score));
            }
            Value::ZSet(items)
        }
        HASH => {
            let n = input::length(src)?;
            let mut items = with_room(n);
            for _ in 0..n {
                let field = input::string(src)?;
                items.push((field, input::string(src)?));
            }
            Value::Hash(items)
        }
        HASH_ZIPMAP => Value::Hash(blob::zipmap(&input::string(src)?)?),
        LIST_ZIPLIST => Value::List(
            blob::ziplist(&input::string(src)?)?
                .into_iter()
                .map(Element::into_bytes)
                .collect(),
        ),
        SET_INTSET => Value::Set(blob::intset(&input::string(src)?)?),
        SET_LISTPACK => Value::Set(
            blob::listpack(&input::string(src)?)?
                .into_iter()
                .map(Element::into_bytes)
                .collect(),
        ),
        ZSET_ZIPLIST => Value::ZSet(scored(blob::ziplist(&input::string(src)?)?)?),
        ZSET_LISTPACK => Value::ZSet(scored(blob::listpack(&input::string(src)?)?)?),
        HASH_ZIPLIST => Value::Hash(pairs(blob::ziplist(&input::string(src)?)?, "hash ziplist")?),
        HASH_LISTPACK => Value::Hash(pairs(
            blob::listpack(&input::string(src)?)?,
            "hash listpack",
        )?),
        LIST_QUICKLIST | LIST_QUICKLIST_2 => {
            let nodes = input::length(src)?;
            let mut items = Vec::new();
            for _ in 0..nodes {
                if kind == LIST_QUICKLIST {
                    let node = blob::ziplist(&input::string(src)?)?;
                    items.extend(node.into_iter().map(Element::into_bytes));
                    continue;
                }
                match input::length(src)? {
                    1 => items.push(input::string(src)?),
                    2 => {
                        let node = blob::listpack(&input::string(src)?)?;
                        if node.is_empty() {
                            return Err(bad("empty quicklist node"));
                        }
                        items.extend(node.into_iter().map(Element::into_bytes));
                    }
                    other => return Err(bad(&format!("quicklist container {other}"))),
                }
            }
            Value::List(items)
        }
        STREAM_LISTPACKS | STREAM_LISTPACKS_2 | STREAM_LISTPACKS_3 => {
            Value::Stream(Box::new(decode_stream(kind, src)?))
        }
        other => return Err(RdbError::UnsupportedType(other)),
    };
    match &value {
        Value::Set(members) => unique(members.iter().map(|m| m.as_slice()), "set member")?,
        Value::ZSet(members) => unique(members.iter().map(|m| m.0.as_slice()), "zset member")?,
        Value::Hash(fields) => unique(fields.iter().map(|f| f.0.as_slice()), "hash field")?,
        _ => {}
    }
    Ok(value)
}

fn stream_id(src: &mut dyn Source) -> RdbResult<StreamId> {
    Ok(StreamId {
        ms: input::length(src)?,
        seq: input::length(src)?,
    })
}

fn raw_id(src: &mut dyn Source) -> RdbResult<StreamId> {
    StreamId::from_be_bytes(&src.bytes(16)?).ok_or_else(|| bad("stream id"))
}

fn lp_int(it: &mut std::vec::IntoIter<Element>) -> RdbResult<i64> {
    it.next()
        .and_then(|e| e.as_int())
        .ok_or_else(|| bad("stream listpack integer"))
}

/// The live entries of one stream node, whose master id is `master`.
fn node_entries(
    master: StreamId,
    lp: Vec<Element>,
    out: &mut Vec<(StreamId, EntryFields)>,
) -> RdbResult<()> {
    let mut it = lp.into_iter();
    let count = lp_int(&mut it)?;
    let deleted = lp_int(&mut it)?;
    let master_fields_count = lp_int(&mut it)?;
    if count < 0 || deleted < 0 || master_fields_count < 0 {
        return Err(bad("stream master entry"));
    }
    let mut master_fields = Vec::new();
    for _ in 0..master_fields_count {
        master_fields.push(
            it.next()
                .ok_or_else(|| bad("stream master fields"))?
                .into_bytes(),
        );
    }
    if lp_int(&mut it)? != 0 {
        return Err(bad("stream master entry terminator"));
    }
    let (mut live, mut dead) = (0i64, 0i64);
    while it.len() > 0 {
        let flags = lp_int(&mut it)?;
        let ms = master.ms.wrapping_add(lp_int(&mut it)? as u64);
        let seq = master.seq.wrapping_add(lp_int(&mut it)? as u64);
        let fields = if flags & ENTRY_SAMEFIELDS != 0 {
            let mut fields = Vec::with_capacity(master_fields.len());
            for name in &master_fields {
                let value = it.next().ok_or_else(|| bad("stream entry value"))?;
                fields.push((name.clone(), value.into_bytes()));
            }
            fields
        } else {
            let n = lp_int(&mut it)?;
            if n < 0 {
                return Err(bad("stream entry field count"));
            }
            let mut fields = Vec::new();
            for _ in 0..n {
                let name = it.next().ok_or_else(|| bad("stream entry field"))?;
                let value = it.next().ok_or_else(|| bad("stream entry value"))?;
                fields.push((name.into_bytes(), value.into_bytes()));
            }
            fields
        };
        lp_int(&mut it)?; // lp-count, for walking backwards
        if flags & ENTRY_DELETED != 0 {
            dead += 1;
        } else {
            live += 1;
            let id = StreamId { ms, seq };
            if out.last().is_some_and(|(last, _)| *last >= id) {
                return Err(bad("stream entries out of order"));
            }
            out.push((id, fields));
        }
    }
    if live != count || dead != deleted {
        return Err(bad("stream node counts"));
    }
    Ok(())
}

fn decode_stream(kind: u8, src: &mut dyn Source) -> RdbResult<StreamValue> {
    let nodes = input::length(src)?;
    let mut stream = StreamValue::default();
    for _ in 0..nodes {
        let key = input::string(src)?;
        let master = StreamId::from_be_bytes(&key)
            .filter(|_| key.len() == 16)
            .ok_or_else(|| bad("stream node key"))?;
        let lp = blob::listpack(&input::string(src)?)?;
        if lp.is_empty() {
            return Err(bad("empty stream node"));
        }
        node_entries(master, lp, &mut stream.entries)?;
    }
    let length = input::length(src)?;
    if length != stream.entries.len() as u64 {
        return Err(bad("stream length"));
    }
    stream.last_id = stream_id(src)?;
    if kind >= STREAM_LISTPACKS_2 {
        stream.first_id = stream_id(src)?;
        stream.max_deleted_id = stream_id(src)?;
        stream.entries_added = input::length(src)?;
    } else {
        stream.first_id = stream.entries.first().map(|e| e.0).unwrap_or_default();
        stream.entries_added = length;
    }
    if stream
        .entries
        .last()
        .is_some_and(|(id, _)| *id > stream.last_id)
    {
        return Err(bad("stream entry above its last id"));
    }
    let groups = input::length(src)?;
    for _ in 0..groups {
        let name = input::string(src)?;
        let last_id = stream_id(src)?;
        let entries_read = if kind >= STREAM_LISTPACKS_2 {
            input::length(src)? as i64
        } else {
            -1
        };
        let pel_count = input::length(src)?;
        let mut pending = with_room(pel_count);
        for _ in 0..pel_count {
            let id = raw_id(src)?;
            let delivery_time_ms = input::u64_le(src)?;
            let delivery_count = input::length(src)?;
            pending.push(StreamPending {
                id,
                delivery_time_ms,
                delivery_count,
            });
        }
        let consumer_count = input::length(src)?;
        let mut consumers = with_room(consumer_count);
        for _ in 0..consumer_count {
            let name = input::string(src)?;
            let seen_time_ms = input::u64_le(src)?;
            let active_time_ms = if kind >= STREAM_LISTPACKS_3 {
                input::u64_le(src)?
            } else {
                seen_time_ms
            };
            let owned = input::length(src)?;
            let mut ids = with_room(owned);
            for _ in 0..owned {
                ids.push(raw_id(src)?);
            }
            consumers.push(StreamConsumer {
                name,
                seen_time_ms,
                active_time_ms,
                pending: ids,
            });
        }
        stream.groups.push(StreamGroup {
            name,
            last_id,
            entries_read,
            pending,
            consumers,
        });
    }
    Ok(stream)
}

// ---- encoding ----

/// Appends an RDB length.
pub fn put_length(out: &mut Vec<u8>, n: u64) {
    if n < 1 << 6 {
        out.push(n as u8);
    } else if n < 1 << 14 {
        out.extend([0x40 | (n >> 8) as u8, n as u8]);
    } else if n <= u64::from(u32::MAX) {
        out.push(0x80);
        out.extend((n as u32).to_be_bytes());
    } else {
        out.push(0x81);
        out.extend(n.to_be_bytes());
    }
}

pub fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    put_length(out, s.len() as u64);
    out.extend_from_slice(s);
}

fn put_id(out: &mut Vec<u8>, id: StreamId) {
    put_length(out, id.ms);
    put_length(out, id.seq);
}

/// The object type byte Strata writes for `value`.
pub fn type_byte(value: &Value) -> u8 {
    match value {
        Value::String(_) => STRING,
        Value::List(_) => LIST_QUICKLIST_2,
        Value::Set(_) => SET,
        Value::ZSet(_) => ZSET_2,
        Value::Hash(_) => HASH,
        Value::Stream(_) => STREAM_LISTPACKS_2,
    }
}

/// Appends `value` (without its type byte) in the encoding [`type_byte`] names.
pub fn encode(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::String(s) => put_string(out, s),
        Value::List(items) => encode_list(out, items),
        Value::Set(items) => {
            put_length(out, items.len() as u64);
            for m in items {
                put_string(out, m);
            }
        }
        Value::ZSet(items) => {
            put_length(out, items.len() as u64);
            for (m, score) in items {
                put_string(out, m);
                out.extend(score.to_le_bytes());
            }
        }
        Value::Hash(items) => {
            put_length(out, items.len() as u64);
            for (f, v) in items {
                put_string(out, f);
                put_string(out, v);
            }
        }
        Value::Stream(stream) => encode_stream(out, stream),
    }
}

fn encode_list(out: &mut Vec<u8>, items: &[Vec<u8>]) {
    let mut nodes: Vec<(u64, Vec<u8>)> = Vec::new();
    let mut current = ListpackWriter::default();
    for item in items {
        if item.len() >= PLAIN_NODE_BYTES {
            if current.len() > 0 {
                nodes.push((2, std::mem::take(&mut current).finish()));
            }
            nodes.push((1, item.clone()));
            continue;
        }
        if current.len() > 0
            && (current.len() >= LIST_NODE_ELEMENTS
                || current.bytes_len() + item.len() > LIST_NODE_BYTES)
        {
            nodes.push((2, std::mem::take(&mut current).finish()));
        }
        current.push_value(item);
    }
    if current.len() > 0 {
        nodes.push((2, current.finish()));
    }
    put_length(out, nodes.len() as u64);
    for (container, node) in nodes {
        put_length(out, container);
        put_string(out, &node);
    }
}

fn encode_stream(out: &mut Vec<u8>, stream: &StreamValue) {
    let chunks: Vec<_> = stream.entries.chunks(STREAM_NODE_ENTRIES).collect();
    put_length(out, chunks.len() as u64);
    for chunk in chunks {
        let (master, master_fields) = (chunk[0].0, &chunk[0].1);
        let mut lp = ListpackWriter::default();
        lp.push_int(chunk.len() as i64);
        lp.push_int(0);
        lp.push_int(master_fields.len() as i64);
        for (name, _) in master_fields {
            lp.push_value(name);
        }
        lp.push_int(0);
        for (id, fields) in chunk {
            let same = fields.len() == master_fields.len()
                && fields.iter().zip(master_fields).all(|(a, b)| a.0 == b.0);
            lp.push_int(if same { ENTRY_SAMEFIELDS } else { 0 });
            lp.push_int(id.ms.wrapping_sub(master.ms) as i64);
            lp.push_int(id.seq.wrapping_sub(master.seq) as i64);
            if same {
                for (_, v) in fields {
                    lp.push_value(v);
                }
                lp.push_int(fields.len() as i64 + 3);
            } else {
                lp.push_int(fields.len() as i64);
                for (f, v) in fields {
                    lp.push_value(f);
                    lp.push_value(v);
                }
                lp.push_int(2 * fields.len() as i64 + 4);
            }
        }
        put_string(out, &master.to_be_bytes());
        put_string(out, &lp.finish());
    }
    put_length(out, stream.entries.len() as u64);
    put_id(out, stream.last_id);
    let first = stream.entries.first().map(|e| e.0).unwrap_or_default();
    put_id(out, first);
    put_id(out, stream.max_deleted_id);
    put_length(out, stream.entries_added);
    put_length(out, stream.groups.len() as u64);
    for group in &stream.groups {
        put_string(out, &group.name);
        put_id(out, group.last_id);
        put_length(out, group.entries_read as u64);
        put_length(out, group.pending.len() as u64);
        for p in &group.pending {
            out.extend(p.id.to_be_bytes());
            out.extend(p.delivery_time_ms.to_le_bytes());
            put_length(out, p.delivery_count);
        }
        put_length(out, group.consumers.len() as u64);
        for c in &group.consumers {
            put_string(out, &c.name);
            out.extend(c.seen_time_ms.to_le_bytes());
            put_length(out, c.pending.len() as u64);
            for id in &c.pending {
                out.extend(id.to_be_bytes());
            }
        }
    }
}
