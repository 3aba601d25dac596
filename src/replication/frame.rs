//! The replication stream after the `PSYNC` handshake, primary to replica: length-prefixed
//! binary frames `[tag u8][len u32 BE][payload]`. Replicas answer with ordinary RESP
//! commands (`REPLCONF ACK <offset>`).
//!
//! - `R` records of a full copy: repeated `[cf u8][klen u32][key][vlen u32][value]`
//! - `E` end of the full copy (empty)
//! - `B` a logged batch: `[first offset u64][RocksDB batch bytes]`
//! - `P` keep-alive: `[primary offset u64]`
//! - `M` a published message: `[channel len u32][channel][message]`
//! - `N` a write's keyspace event: `[class u32][db u32][name len u32][name][key]`
//!
//! Decoding never trusts a length beyond the bytes that arrived, and a frame is at most
//! [`MAX_FRAME`] bytes. Pure functions over byte buffers.

use crate::storage::engine::Cf;

pub const RECORDS: u8 = b'R';
pub const END_OF_COPY: u8 = b'E';
pub const BATCH: u8 = b'B';
pub const KEEPALIVE: u8 = b'P';
pub const MESSAGE: u8 = b'M';
/// A keyspace event of a write the primary made (see `replication::primary::propagate_event`).
pub const EVENT: u8 = b'N';

/// Largest frame accepted: a batch may hold a value up to `proto-max-bulk-len` (512 MB).
pub const MAX_FRAME: usize = 1 << 30;

pub fn header(tag: u8, len: usize) -> [u8; 5] {
    let l = (len as u32).to_be_bytes();
    [tag, l[0], l[1], l[2], l[3]]
}

/// Appends one frame to `out`.
pub fn push(out: &mut Vec<u8>, tag: u8, payload: &[u8]) {
    out.extend_from_slice(&header(tag, payload.len()));
    out.extend_from_slice(payload);
}

pub fn cf_code(cf: Cf) -> u8 {
    Cf::ALL.iter().position(|&c| c == cf).unwrap_or(0) as u8
}

/// Appends one record to a records payload.
pub fn push_record(payload: &mut Vec<u8>, cf: Cf, key: &[u8], value: &[u8]) {
    payload.push(cf_code(cf));
    payload.extend_from_slice(&(key.len() as u32).to_be_bytes());
    payload.extend_from_slice(key);
    payload.extend_from_slice(&(value.len() as u32).to_be_bytes());
    payload.extend_from_slice(value);
}

fn take<'a>(buf: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if buf.len() < n {
        return None;
    }
    let (head, rest) = buf.split_at(n);
    *buf = rest;
    Some(head)
}

fn take_u32(buf: &mut &[u8]) -> Option<usize> {
    take(buf, 4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
}

pub fn u64_of(b: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(b.get(..8)?.try_into().ok()?))
}

/// One record of a full copy: its column family, key and value.
pub type Record = (Cf, Vec<u8>, Vec<u8>);

/// Decodes a records payload; `None` if it is malformed.
pub fn records(mut payload: &[u8]) -> Option<Vec<Record>> {
    let mut out = Vec::new();
    while !payload.is_empty() {
        let cf = *Cf::ALL.get(usize::from(take(&mut payload, 1)?[0]))?;
        let klen = take_u32(&mut payload)?;
        let key = take(&mut payload, klen)?.to_vec();
        let vlen = take_u32(&mut payload)?;
        let value = take(&mut payload, vlen)?.to_vec();
        out.push((cf, key, value));
    }
    Some(out)
}

/// Encodes a published message.
pub fn message(channel: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + channel.len() + payload.len());
    out.extend_from_slice(&(channel.len() as u32).to_be_bytes());
    out.extend_from_slice(channel);
    out.extend_from_slice(payload);
    out
}

/// Encodes a keyspace event: its class bits, database, name and key.
pub fn event(class: u32, db: usize, name: &str, key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(12 + name.len() + key.len());
    out.extend_from_slice(&class.to_be_bytes());
    out.extend_from_slice(&(db as u32).to_be_bytes());
    out.extend_from_slice(&message(name.as_bytes(), key));
    out
}

/// Decodes a keyspace event into (class, db, name, key).
pub fn decode_event(mut payload: &[u8]) -> Option<(u32, usize, &str, &[u8])> {
    let class = u32::try_from(take_u32(&mut payload)?).ok()?;
    let db = take_u32(&mut payload)?;
    let (name, key) = decode_message(payload)?;
    Some((class, db, std::str::from_utf8(name).ok()?, key))
}

/// Decodes a published message into (channel, message).
pub fn decode_message(mut payload: &[u8]) -> Option<(&[u8], &[u8])> {
    let len = take_u32(&mut payload)?;
    let channel = take(&mut payload, len)?;
    Some((channel, payload))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_truncation_is_refused() {
        let mut p = Vec::new();
        push_record(&mut p, Cf::Data, b"k1", b"v1");
        push_record(&mut p, Cf::Expire, b"", b"value");
        let got = records(&p).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0], (Cf::Data, b"k1".to_vec(), b"v1".to_vec()));
        assert_eq!(got[1], (Cf::Expire, Vec::new(), b"value".to_vec()));
        for cut in 1..p.len() {
            assert!(records(&p[..cut]).is_none() || cut == 13, "cut {cut}");
        }
        // A length larger than what arrived is refused without allocating it.
        let bogus = [1u8, 0xFF, 0xFF, 0xFF, 0xFF];
        assert!(records(&bogus).is_none());
    }

    #[test]
    fn messages_round_trip() {
        let m = message(b"chan", b"hello");
        assert_eq!(decode_message(&m), Some((&b"chan"[..], &b"hello"[..])));
        assert_eq!(decode_message(&m[..3]), None);
    }
}
