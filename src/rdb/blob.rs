//! The packed encodings Redis serializes as one RDB string: ziplist, listpack, intset and
//! zipmap (parsing, bounds-checked throughout), and the listpack writer Strata uses for
//! lists and streams. Integer entries come back as their decimal text, as Redis's own
//! readers turn them into strings.

use super::error::{RdbError, RdbResult};

fn bad(what: &str) -> RdbError {
    RdbError::corrupt(what.to_string())
}

/// One element of a ziplist or listpack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Element {
    Bytes(Vec<u8>),
    Int(i64),
}

impl Element {
    pub fn into_bytes(self) -> Vec<u8> {
        match self {
            Element::Bytes(b) => b,
            Element::Int(i) => i.to_string().into_bytes(),
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            Element::Int(i) => Some(*i),
            Element::Bytes(b) => std::str::from_utf8(b).ok()?.parse().ok(),
        }
    }
}

fn take(blob: &[u8], at: usize, n: usize) -> RdbResult<&[u8]> {
    at.checked_add(n)
        .and_then(|end| blob.get(at..end))
        .ok_or_else(|| bad("packed value truncated"))
}

fn le_int(bytes: &[u8]) -> i64 {
    let mut v: u64 = 0;
    for (i, b) in bytes.iter().enumerate() {
        v |= u64::from(*b) << (8 * i);
    }
    // Sign-extend from the width read.
    let shift = 64 - 8 * bytes.len() as u32;
    ((v << shift) as i64) >> shift
}

/// A listpack's elements.
pub fn listpack(blob: &[u8]) -> RdbResult<Vec<Element>> {
    let header = take(blob, 0, 6)?;
    let total = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
    if total != blob.len() {
        return Err(bad("listpack size header"));
    }
    let declared = u16::from_le_bytes([header[4], header[5]]);
    let mut out = Vec::new();
    let mut at = 6;
    loop {
        let first = *blob.get(at).ok_or_else(|| bad("listpack without end"))?;
        if first == 0xff {
            if at + 1 != blob.len() {
                return Err(bad("bytes after listpack end"));
            }
            break;
        }
        let (element, len) = if first & 0x80 == 0 {
            (Element::Int(i64::from(first & 0x7f)), 1)
        } else if first & 0xc0 == 0x80 {
            let n = (first & 0x3f) as usize;
            (Element::Bytes(take(blob, at + 1, n)?.to_vec()), 1 + n)
        } else if first & 0xe0 == 0xc0 {
            let next = *take(blob, at + 1, 1)?.first().unwrap_or(&0);
            let raw = (u16::from(first & 0x1f) << 8) | u16::from(next);
            // 13-bit two's complement.
            let v = if raw >= 1 << 12 {
                i64::from(raw) - (1 << 13)
            } else {
                i64::from(raw)
            };
            (Element::Int(v), 2)
        } else if first & 0xf0 == 0xe0 {
            let next = *take(blob, at + 1, 1)?.first().unwrap_or(&0);
            let n = ((usize::from(first & 0x0f)) << 8) | usize::from(next);
            (Element::Bytes(take(blob, at + 2, n)?.to_vec()), 2 + n)
        } else {
            match first {
                0xf0 => {
                    let l = take(blob, at + 1, 4)?;
                    let n = u32::from_le_bytes([l[0], l[1], l[2], l[3]]) as usize;
                    (Element::Bytes(take(blob, at + 5, n)?.to_vec()), 5 + n)
                }
                0xf1 => (Element::Int(le_int(take(blob, at + 1, 2)?)), 3),
                0xf2 => (Element::Int(le_int(take(blob, at + 1, 3)?)), 4),
                0xf3 => (Element::Int(le_int(take(blob, at + 1, 4)?)), 5),
                0xf4 => (Element::Int(le_int(take(blob, at + 1, 8)?)), 9),
                _ => return Err(bad("listpack entry encoding")),
            }
        };
        at = at
            .checked_add(len + backlen_size(len))
            .ok_or_else(|| bad("listpack entry size"))?;
        out.push(element);
    }
    if declared != u16::MAX && declared as usize != out.len() {
        return Err(bad("listpack element count"));
    }
    Ok(out)
}

fn backlen_size(len: usize) -> usize {
    match len {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2097150 => 3,
        2097151..=268435454 => 4,
        _ => 5,
    }
}

/// A ziplist's elements.
pub fn ziplist(blob: &[u8]) -> RdbResult<Vec<Element>> {
    let header = take(blob, 0, 10)?;
    let total = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
    if total != blob.len() {
        return Err(bad("ziplist size header"));
    }
    let declared = u16::from_le_bytes([header[8], header[9]]);
    let mut out = Vec::new();
    let mut at = 10;
    loop {
        let first = *blob.get(at).ok_or_else(|| bad("ziplist without end"))?;
        if first == 0xff {
            if at + 1 != blob.len() {
                return Err(bad("bytes after ziplist end"));
            }
            break;
        }
        at += if first < 254 { 1 } else { 5 };
        let enc = *blob.get(at).ok_or_else(|| bad("ziplist entry"))?;
        let (element, len) = match enc >> 6 {
            0 => {
                let n = (enc & 0x3f) as usize;
                (Element::Bytes(take(blob, at + 1, n)?.to_vec()), 1 + n)
            }
            1 => {
                let next = take(blob, at + 1, 1)?[0];
                let n = (usize::from(enc & 0x3f) << 8) | usize::from(next);
                (Element::Bytes(take(blob, at + 2, n)?.to_vec()), 2 + n)
            }
            2 => {
                let l = take(blob, at + 1, 4)?;
                let n = u32::from_be_bytes([l[0], l[1], l[2], l[3]]) as usize;
                (Element::Bytes(take(blob, at + 5, n)?.to_vec()), 5 + n)
            }
            _ => match enc {
                0xc0 => (Element::Int(le_int(take(blob, at + 1, 2)?)), 3),
                0xd0 => (Element::Int(le_int(take(blob, at + 1, 4)?)), 5),
                0xe0 => (Element::Int(le_int(take(blob, at + 1, 8)?)), 9),
                0xf0 => (Element::Int(le_int(take(blob, at + 1, 3)?)), 4),
                0xfe => (Element::Int(le_int(take(blob, at + 1, 1)?)), 2),
                0xf1..=0xfd => (Element::Int(i64::from(enc & 0x0f) - 1), 1),
                _ => return Err(bad("ziplist entry encoding")),
            },
        };
        at = at
            .checked_add(len)
            .ok_or_else(|| bad("ziplist entry size"))?;
        out.push(element);
    }
    if declared != u16::MAX && declared as usize != out.len() {
        return Err(bad("ziplist element count"));
    }
    Ok(out)
}

/// An intset's members as decimal text.
pub fn intset(blob: &[u8]) -> RdbResult<Vec<Vec<u8>>> {
    let header = take(blob, 0, 8)?;
    let width = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
    let count = u32::from_le_bytes([header[4], header[5], header[6], header[7]]) as usize;
    if !matches!(width, 2 | 4 | 8)
        || count.checked_mul(width).and_then(|b| b.checked_add(8)) != Some(blob.len())
    {
        return Err(bad("intset header"));
    }
    Ok(blob[8..]
        .chunks_exact(width)
        .map(|c| le_int(c).to_string().into_bytes())
        .collect())
}

/// A zipmap's (field, value) pairs (Redis 2.x hashes, still read by 7.x).
pub fn zipmap(blob: &[u8]) -> RdbResult<Vec<(Vec<u8>, Vec<u8>)>> {
    let mut at = 1;
    let mut out = Vec::new();
    let read_len = |at: &mut usize| -> RdbResult<Option<usize>> {
        let first = *blob.get(*at).ok_or_else(|| bad("zipmap truncated"))?;
        match first {
            255 => Ok(None),
            254 => {
                let l = take(blob, *at + 1, 4)?;
                *at += 5;
                Ok(Some(u32::from_le_bytes([l[0], l[1], l[2], l[3]]) as usize))
            }
            n => {
                *at += 1;
                Ok(Some(n as usize))
            }
        }
    };
    while let Some(key_len) = read_len(&mut at)? {
        let key = take(blob, at, key_len)?.to_vec();
        at += key_len;
        let value_len = read_len(&mut at)?.ok_or_else(|| bad("zipmap value"))?;
        let free = *blob.get(at).ok_or_else(|| bad("zipmap free byte"))? as usize;
        at += 1;
        let value = take(blob, at, value_len)?.to_vec();
        at = at
            .checked_add(value_len + free)
            .ok_or_else(|| bad("zipmap size"))?;
        out.push((key, value));
    }
    Ok(out)
}

/// Builds a listpack, Redis 7.0's encoding for list nodes and stream nodes.
#[derive(Default)]
pub struct ListpackWriter {
    body: Vec<u8>,
    count: usize,
}

impl ListpackWriter {
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn bytes_len(&self) -> usize {
        self.body.len()
    }

    fn backlen(&mut self, len: usize) {
        let l = len as u64;
        match backlen_size(len) {
            1 => self.body.push(l as u8),
            2 => self.body.extend([(l >> 7) as u8, ((l & 127) | 128) as u8]),
            3 => self.body.extend([
                (l >> 14) as u8,
                (((l >> 7) & 127) | 128) as u8,
                ((l & 127) | 128) as u8,
            ]),
            4 => self.body.extend([
                (l >> 21) as u8,
                (((l >> 14) & 127) | 128) as u8,
                (((l >> 7) & 127) | 128) as u8,
                ((l & 127) | 128) as u8,
            ]),
            _ => self.body.extend([
                (l >> 28) as u8,
                (((l >> 21) & 127) | 128) as u8,
                (((l >> 14) & 127) | 128) as u8,
                (((l >> 7) & 127) | 128) as u8,
                ((l & 127) | 128) as u8,
            ]),
        }
    }

    pub fn push_bytes(&mut self, value: &[u8]) {
        let n = value.len();
        let start = self.body.len();
        if n < 64 {
            self.body.push(0x80 | n as u8);
        } else if n < 4096 {
            self.body.extend([0xe0 | (n >> 8) as u8, (n & 0xff) as u8]);
        } else {
            self.body.push(0xf0);
            self.body.extend((n as u32).to_le_bytes());
        }
        self.body.extend_from_slice(value);
        let len = self.body.len() - start;
        self.backlen(len);
        self.count += 1;
    }

    pub fn push_int(&mut self, v: i64) {
        let start = self.body.len();
        if (0..=127).contains(&v) {
            self.body.push(v as u8);
        } else if (-4096..=4095).contains(&v) {
            let raw = (v as u16) & 0x1fff;
            self.body
                .extend([0xc0 | (raw >> 8) as u8, (raw & 0xff) as u8]);
        } else if i16::try_from(v).is_ok() {
            self.body.push(0xf1);
            self.body.extend((v as i16).to_le_bytes());
        } else if (-(1 << 23)..(1 << 23)).contains(&v) {
            self.body.push(0xf2);
            self.body.extend(&(v as i32).to_le_bytes()[..3]);
        } else if i32::try_from(v).is_ok() {
            self.body.push(0xf3);
            self.body.extend((v as i32).to_le_bytes());
        } else {
            self.body.push(0xf4);
            self.body.extend(v.to_le_bytes());
        }
        let len = self.body.len() - start;
        self.backlen(len);
        self.count += 1;
    }

    /// A string element as Redis stores it: integers that round-trip as text go in
    /// integer form (as `lpAppend` does), the rest as bytes.
    pub fn push_value(&mut self, value: &[u8]) {
        match as_canonical_int(value) {
            Some(v) => self.push_int(v),
            None => self.push_bytes(value),
        }
    }

    pub fn finish(self) -> Vec<u8> {
        let total = 6 + self.body.len() + 1;
        let mut out = Vec::with_capacity(total);
        out.extend((total as u32).to_le_bytes());
        out.extend((self.count.min(u16::MAX as usize) as u16).to_le_bytes());
        out.extend(self.body);
        out.push(0xff);
        out
    }
}

/// The integer a string spells exactly as Redis's `string2ll` accepts it (no leading
/// zeros or `+`, no `-0`), so converting back gives the same bytes.
fn as_canonical_int(value: &[u8]) -> Option<i64> {
    if value.is_empty() || value.len() > 20 {
        return None;
    }
    let v: i64 = std::str::from_utf8(value).ok()?.parse().ok()?;
    (v.to_string().as_bytes() == value).then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listpack_round_trips_every_width() {
        let ints = [
            0i64,
            127,
            128,
            -1,
            4095,
            -4096,
            4096,
            32767,
            -32768,
            40000,
            8388607,
            -8388608,
            9000000,
            i32::MAX as i64,
            i64::MIN,
            i64::MAX,
        ];
        let mut w = ListpackWriter::default();
        for v in ints {
            w.push_int(v);
        }
        let long = vec![b'x'; 5000];
        w.push_bytes(b"short");
        w.push_bytes(&[b'y'; 100]);
        w.push_bytes(&long);
        let parsed = listpack(&w.finish()).unwrap();
        let mut expected: Vec<Element> = ints.iter().map(|&v| Element::Int(v)).collect();
        expected.push(Element::Bytes(b"short".to_vec()));
        expected.push(Element::Bytes(vec![b'y'; 100]));
        expected.push(Element::Bytes(long));
        assert_eq!(parsed, expected);
    }

    #[test]
    fn canonical_integers_only() {
        assert_eq!(as_canonical_int(b"12"), Some(12));
        assert_eq!(as_canonical_int(b"-7"), Some(-7));
        assert_eq!(as_canonical_int(b"012"), None);
        assert_eq!(as_canonical_int(b"+1"), None);
        assert_eq!(as_canonical_int(b"-0"), None);
        assert_eq!(as_canonical_int(b""), None);
    }

    #[test]
    fn ziplists_and_zipmaps_of_older_redis_decode() {
        // ["a", 5, 300]: a 6-bit string, an immediate 4-bit integer, an int16.
        let zl = [
            20, 0, 0, 0, 15, 0, 0, 0, 3, 0, 0x00, 0x01, b'a', 0x03, 0xf6, 0x02, 0xc0, 0x2c, 0x01,
            0xff,
        ];
        assert_eq!(
            ziplist(&zl).unwrap(),
            vec![
                Element::Bytes(b"a".to_vec()),
                Element::Int(5),
                Element::Int(300)
            ]
        );
        assert_eq!(
            zipmap(&[1, 1, b'k', 1, 0, b'v', 0xff]).unwrap(),
            vec![(b"k".to_vec(), b"v".to_vec())]
        );
        let mut set = vec![2, 0, 0, 0, 2, 0, 0, 0];
        set.extend(7i16.to_le_bytes());
        set.extend((-3i16).to_le_bytes());
        assert_eq!(intset(&set).unwrap(), vec![b"7".to_vec(), b"-3".to_vec()]);
    }

    #[test]
    fn hostile_blobs_are_errors() {
        assert!(listpack(&[]).is_err());
        assert!(listpack(&[7, 0, 0, 0, 1, 0, 0xf0]).is_err());
        assert!(ziplist(&[11, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0]).is_err());
        assert!(intset(&[2, 0, 0, 0, 255, 255, 255, 255]).is_err());
        assert!(zipmap(&[1, 254, 255, 255, 255, 255]).is_err());
    }
}
