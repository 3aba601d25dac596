//! On-disk key and value formats (DESIGN §4). Pure functions, no I/O.
//!
//! Invariants that the golden tests pin and that must never change for existing data:
//! integers are big-endian so keys sort numerically; every user key carries its database and
//! hash slot; type codes are fixed; `expire_ms == 0` means "no expiry". Internal records
//! (counters, the database map, the version allocator) live under database id
//! [`INTERNAL_DB`], which no user database can have.

use crate::error::{StoreError, StoreResult};

/// Database id reserved for Strata's own records in the `meta` family.
pub const INTERNAL_DB: u16 = 0xFFFF;
/// Hash slots, as in Redis Cluster.
pub const SLOTS: u16 = 16384;
/// Upper nibble of the meta flags byte: the record's encoding.
pub const ENCODING_VERSION: u8 = 0;
/// Encoding nibble of a string stored in chunks (body `[version][len]`).
pub const ENCODING_CHUNKED: u8 = 1;

/// Value types. The numbers are part of the on-disk format.
#[repr(u8)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    String = 1,
    Hash = 2,
    List = 3,
    Set = 4,
    ZSet = 5,
    Stream = 6,
}

impl KeyType {
    pub fn from_code(code: u8) -> Option<KeyType> {
        Some(match code {
            1 => KeyType::String,
            2 => KeyType::Hash,
            3 => KeyType::List,
            4 => KeyType::Set,
            5 => KeyType::ZSet,
            6 => KeyType::Stream,
            _ => return None,
        })
    }

    /// The name `TYPE` replies with.
    pub fn name(self) -> &'static str {
        match self {
            KeyType::String => "string",
            KeyType::Hash => "hash",
            KeyType::List => "list",
            KeyType::Set => "set",
            KeyType::ZSet => "zset",
            KeyType::Stream => "stream",
        }
    }

    pub fn from_name(name: &[u8]) -> Option<KeyType> {
        let lower = name.to_ascii_lowercase();
        Some(match lower.as_slice() {
            b"string" => KeyType::String,
            b"hash" => KeyType::Hash,
            b"list" => KeyType::List,
            b"set" => KeyType::Set,
            b"zset" => KeyType::ZSet,
            b"stream" => KeyType::Stream,
            _ => return None,
        })
    }
}

/// Redis Cluster hash slot of a key: CRC16 (XMODEM) of the `{hash tag}` if present.
pub fn slot(key: &[u8]) -> u16 {
    let tagged = key.iter().position(|&b| b == b'{').and_then(|open| {
        let close = key[open + 1..].iter().position(|&b| b == b'}')?;
        (close > 0).then(|| &key[open + 1..open + 1 + close])
    });
    crc16::State::<crc16::XMODEM>::calculate(tagged.unwrap_or(key)) % SLOTS
}

/// `meta` key: `[db u16][slot u16][user key]`.
pub fn meta_key(db: u16, key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + key.len());
    out.extend_from_slice(&db.to_be_bytes());
    out.extend_from_slice(&slot(key).to_be_bytes());
    out.extend_from_slice(key);
    out
}

/// Splits a `meta` key into `(db, user key)`.
pub fn decode_meta_key(raw: &[u8]) -> StoreResult<(u16, &[u8])> {
    if raw.len() < 4 {
        return Err(StoreError::Corrupt("meta key shorter than 4 bytes".into()));
    }
    Ok((u16::from_be_bytes([raw[0], raw[1]]), &raw[4..]))
}

/// First and one-past-last `meta` keys of database `db` (for scans and range deletes).
pub fn db_range(db: u16) -> (Vec<u8>, Vec<u8>) {
    let end = u32::from(db) + 1;
    let end = if end > u32::from(u16::MAX) {
        vec![0xFF, 0xFF, 0xFF]
    } else {
        (end as u16).to_be_bytes().to_vec()
    };
    (db.to_be_bytes().to_vec(), end)
}

/// Sub-key in `data`/`zscore`/`stream`: `[db][slot][key_len u32][key][version u64][sub]`.
pub fn sub_key(db: u16, key: &[u8], version: u64, sub: &[u8]) -> Vec<u8> {
    let mut out = sub_key_prefix(db, key, version);
    out.extend_from_slice(sub);
    out
}

/// The prefix shared by every sub-key of one collection version.
pub fn sub_key_prefix(db: u16, key: &[u8], version: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + key.len());
    out.extend_from_slice(&db.to_be_bytes());
    out.extend_from_slice(&slot(key).to_be_bytes());
    out.extend_from_slice(&(key.len() as u32).to_be_bytes());
    out.extend_from_slice(key);
    out.extend_from_slice(&version.to_be_bytes());
    out
}

/// `expire` index key: `[expire_ms u64][db][slot][user key]`.
pub fn expire_key(expire_ms: u64, db: u16, key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(12 + key.len());
    out.extend_from_slice(&expire_ms.to_be_bytes());
    out.extend_from_slice(&meta_key(db, key));
    out
}

/// Splits an `expire` index key into `(expire_ms, db, user key)`.
pub fn decode_expire_key(raw: &[u8]) -> StoreResult<(u64, u16, &[u8])> {
    if raw.len() < 12 {
        return Err(StoreError::Corrupt(
            "expire key shorter than 12 bytes".into(),
        ));
    }
    let mut ms = [0u8; 8];
    ms.copy_from_slice(&raw[..8]);
    let (db, key) = decode_meta_key(&raw[8..])?;
    Ok((u64::from_be_bytes(ms), db, key))
}

/// Marks the field-expiry half of the `expire` family (deadlines are below 2^63).
pub const FIELD_EXPIRY_BIT: u64 = 1 << 63;

/// `expire` index key of a hash field:
/// `[expire_ms | 2^63][db][slot][key_len u32][key][version u64][field]`.
pub fn field_expire_key(
    expire_ms: u64,
    db: u16,
    key: &[u8],
    version: u64,
    field: &[u8],
) -> Vec<u8> {
    let mut out = (expire_ms | FIELD_EXPIRY_BIT).to_be_bytes().to_vec();
    out.extend_from_slice(&sub_key(db, key, version, field));
    out
}

/// A decoded field-expiry index entry.
#[derive(Debug, PartialEq, Eq)]
pub struct FieldExpiry<'a> {
    pub expire_ms: u64,
    pub db: u16,
    pub key: &'a [u8],
    pub version: u64,
    pub field: &'a [u8],
}

/// Splits a field-expiry index key into its parts.
pub fn decode_field_expire_key(raw: &[u8]) -> Option<FieldExpiry<'_>> {
    let ms = u64::from_be_bytes(raw.get(..8)?.try_into().ok()?) & !FIELD_EXPIRY_BIT;
    let sub = raw.get(8..)?;
    let db = u16::from_be_bytes(sub.get(..2)?.try_into().ok()?);
    let key_len = u32::from_be_bytes(sub.get(4..8)?.try_into().ok()?) as usize;
    let key = sub.get(8..8 + key_len)?;
    let version = u64::from_be_bytes(sub.get(8 + key_len..16 + key_len)?.try_into().ok()?);
    let field = sub.get(16 + key_len..)?;
    Some(FieldExpiry {
        expire_ms: ms,
        db,
        key,
        version,
        field,
    })
}

/// Internal record key: `[INTERNAL_DB][name]`.
pub fn internal_key(name: &[u8]) -> Vec<u8> {
    let mut out = INTERNAL_DB.to_be_bytes().to_vec();
    out.extend_from_slice(name);
    out
}

/// A decoded `meta` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    pub kind: KeyType,
    /// Absolute unix time in milliseconds; 0 = persistent.
    pub expire_ms: u64,
    /// Strings: the value. Collections and chunked strings:
    /// `[version u64][len u64][type-specific tail]`.
    pub body: Vec<u8>,
    /// A long string kept in fixed-size chunks under a version in the `data` family
    /// (encoding nibble 1); see `types::chunked`.
    pub chunked: bool,
}

impl Meta {
    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expire_ms != 0 && self.expire_ms <= now_ms
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(9 + self.body.len());
        let encoding = if self.chunked {
            ENCODING_CHUNKED
        } else {
            ENCODING_VERSION
        };
        out.push((encoding << 4) | self.kind as u8);
        out.extend_from_slice(&self.expire_ms.to_be_bytes());
        out.extend_from_slice(&self.body);
        out
    }

    pub fn decode(raw: &[u8]) -> StoreResult<Meta> {
        if raw.len() < 9 {
            return Err(StoreError::Corrupt(
                "meta value shorter than 9 bytes".into(),
            ));
        }
        let kind = KeyType::from_code(raw[0] & 0x0F)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown type code {}", raw[0] & 0x0F)))?;
        let chunked = match raw[0] >> 4 {
            ENCODING_VERSION => false,
            ENCODING_CHUNKED if kind == KeyType::String && raw.len() >= 25 => true,
            other => return Err(StoreError::Corrupt(format!("unknown encoding {other}"))),
        };
        let mut ms = [0u8; 8];
        ms.copy_from_slice(&raw[1..9]);
        Ok(Meta {
            kind,
            expire_ms: u64::from_be_bytes(ms),
            body: raw[9..].to_vec(),
            chunked,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_match_redis_cluster() {
        // Values from `CLUSTER KEYSLOT` on Redis.
        assert_eq!(slot(b"foo"), 12182);
        assert_eq!(slot(b"bar"), 5061);
        assert_eq!(slot(b"{user1000}.following"), slot(b"user1000"));
        assert_eq!(slot(b"foo{}{bar}"), slot(b"foo{}{bar}"));
        assert_eq!(
            slot(b"{}x"),
            crc16::State::<crc16::XMODEM>::calculate(b"{}x") % SLOTS
        );
    }

    #[test]
    fn golden_meta_key() {
        // db 3, slot("foo") = 12182 = 0x2F96
        assert_eq!(
            meta_key(3, b"foo"),
            vec![0x00, 0x03, 0x2F, 0x96, b'f', b'o', b'o']
        );
        assert_eq!(
            decode_meta_key(&meta_key(3, b"foo")).unwrap(),
            (3, &b"foo"[..])
        );
    }

    #[test]
    fn golden_meta_value() {
        let meta = Meta {
            chunked: false,
            kind: KeyType::String,
            expire_ms: 0x0102030405060708,
            body: b"v".to_vec(),
        };
        assert_eq!(meta.encode(), vec![0x01, 1, 2, 3, 4, 5, 6, 7, 8, b'v']);
        assert_eq!(Meta::decode(&meta.encode()).unwrap(), meta);
        let hash = Meta {
            chunked: false,
            kind: KeyType::Hash,
            expire_ms: 0,
            body: vec![],
        };
        assert_eq!(hash.encode(), vec![0x02, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert!(Meta::decode(&[0x01, 0]).is_err());
        assert!(Meta::decode(&[0x0F, 0, 0, 0, 0, 0, 0, 0, 0]).is_err());
    }

    #[test]
    fn golden_sub_key() {
        let key = sub_key(1, b"foo", 7, b"field");
        let mut expected = vec![0x00, 0x01, 0x2F, 0x96, 0, 0, 0, 3, b'f', b'o', b'o'];
        expected.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 7]);
        expected.extend_from_slice(b"field");
        assert_eq!(key, expected);
    }

    #[test]
    fn golden_expire_key() {
        let key = expire_key(1000, 0, b"bar");
        assert_eq!(
            key,
            vec![0, 0, 0, 0, 0, 0, 0x03, 0xE8, 0x00, 0x00, 0x13, 0xC5, b'b', b'a', b'r']
        );
        assert_eq!(decode_expire_key(&key).unwrap(), (1000, 0, &b"bar"[..]));
    }

    #[test]
    fn golden_field_expire_key() {
        let key = field_expire_key(1000, 0, b"h", 5, b"f");
        let mut expected = vec![0x80, 0, 0, 0, 0, 0, 0x03, 0xE8];
        expected.extend_from_slice(&sub_key(0, b"h", 5, b"f"));
        assert_eq!(key, expected);
        let expected = FieldExpiry {
            expire_ms: 1000,
            db: 0,
            key: b"h",
            version: 5,
            field: b"f",
        };
        assert_eq!(decode_field_expire_key(&key), Some(expected));
    }

    #[test]
    fn db_ranges_are_disjoint_and_ordered() {
        let (s0, e0) = db_range(0);
        let (s1, _) = db_range(1);
        assert_eq!(e0, s1);
        assert!(s0 < meta_key(0, b"zzz") && meta_key(0, b"zzz") < e0);
        assert!(meta_key(0xFFFE, b"a") < internal_key(b"x"));
    }
}
