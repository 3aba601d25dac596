//! `DUMP`/`RESTORE` payloads: `[type][value][RDB version u16 LE][CRC-64 u64 LE]`, the CRC
//! covering everything before it. Strata writes RDB version 10 (Redis 7.0), which every
//! Redis since 7.0 accepts; it reads payloads up to version 12 (Redis 7.4) whose types it
//! knows.

use super::crc;
use super::error::{RdbError, RdbResult};
use super::input::SliceSource;
use super::types;
use super::value::Value;

/// The RDB version Strata's payloads and files carry.
pub const DUMP_VERSION: u16 = 10;
/// The newest RDB version read.
const NEWEST_READ: u16 = 12;

pub fn dump_payload(value: &Value) -> Vec<u8> {
    let mut out = vec![types::type_byte(value)];
    types::encode(&mut out, value);
    out.extend(DUMP_VERSION.to_le_bytes());
    let sum = crc::checksum(&out);
    out.extend(sum.to_le_bytes());
    out
}

pub fn restore_payload(payload: &[u8]) -> RdbResult<Value> {
    if payload.len() < 10 {
        return Err(RdbError::BadPayload);
    }
    let (body, footer) = payload.split_at(payload.len() - 10);
    let version = u16::from_le_bytes([footer[0], footer[1]]);
    if version > NEWEST_READ {
        return Err(RdbError::BadPayload);
    }
    let mut sum = [0u8; 8];
    sum.copy_from_slice(&footer[2..]);
    if crc::checksum(&payload[..payload.len() - 8]) != u64::from_le_bytes(sum) {
        return Err(RdbError::BadPayload);
    }
    let (&kind, value_bytes) = body.split_first().ok_or(RdbError::BadPayload)?;
    let mut src = SliceSource::new(value_bytes);
    let value = types::decode(kind, &mut src)?;
    if src.remaining() != 0 {
        return Err(RdbError::corrupt("bytes after the value"));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rdb::value::{StreamConsumer, StreamGroup, StreamId, StreamPending, StreamValue};

    fn id(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    pub fn samples() -> Vec<Value> {
        let fields = |n: u64| {
            vec![
                (b"f".to_vec(), n.to_string().into_bytes()),
                (b"g".to_vec(), b"x".to_vec()),
            ]
        };
        vec![
            Value::String(b"hello".to_vec()),
            Value::String(vec![7u8; 70_000]),
            Value::List(
                (0..1000)
                    .map(|i| format!("e{i}").into_bytes())
                    .chain([b"12".to_vec(), b"-5".to_vec(), b"007".to_vec()])
                    .collect(),
            ),
            Value::Set(vec![b"a".to_vec(), b"1".to_vec()]),
            Value::ZSet(vec![
                (b"a".to_vec(), 1.5),
                (b"b".to_vec(), f64::INFINITY),
                (b"c".to_vec(), -0.25),
            ]),
            Value::Hash(vec![
                (b"f".to_vec(), b"v".to_vec()),
                (b"n".to_vec(), b"100".to_vec()),
            ]),
            Value::Stream(Box::default()),
            Value::Stream(Box::new(StreamValue {
                entries: (1..=250)
                    .map(|i| {
                        (
                            id(i, i % 3),
                            if i == 7 {
                                vec![(b"other".to_vec(), b"1".to_vec())]
                            } else {
                                fields(i)
                            },
                        )
                    })
                    .collect(),
                last_id: id(300, 0),
                first_id: id(1, 1),
                max_deleted_id: id(260, 0),
                entries_added: 260,
                groups: vec![StreamGroup {
                    name: b"grp".to_vec(),
                    last_id: id(3, 0),
                    entries_read: 3,
                    pending: vec![
                        StreamPending {
                            id: id(2, 2),
                            delivery_time_ms: 1000,
                            delivery_count: 1,
                        },
                        StreamPending {
                            id: id(3, 0),
                            delivery_time_ms: 2000,
                            delivery_count: 4,
                        },
                    ],
                    consumers: vec![
                        StreamConsumer {
                            name: b"alice".to_vec(),
                            seen_time_ms: 5,
                            active_time_ms: 5,
                            pending: vec![id(2, 2)],
                        },
                        StreamConsumer {
                            name: b"bob".to_vec(),
                            seen_time_ms: 6,
                            active_time_ms: 6,
                            pending: vec![id(3, 0)],
                        },
                    ],
                }],
            })),
        ]
    }

    #[test]
    fn every_value_round_trips() {
        for value in samples() {
            let payload = dump_payload(&value);
            assert_eq!(
                restore_payload(&payload).unwrap(),
                value,
                "{}",
                value.type_name()
            );
        }
    }

    #[test]
    fn footer_is_checked() {
        let mut payload = dump_payload(&Value::String(b"x".to_vec()));
        let n = payload.len();
        payload[n - 1] ^= 1;
        assert!(matches!(
            restore_payload(&payload),
            Err(RdbError::BadPayload)
        ));
        assert!(matches!(
            restore_payload(b"short"),
            Err(RdbError::BadPayload)
        ));
    }

    /// A payload captured from redis-server 7.0.15: `RPUSH l a b 1` then `DUMP l`
    /// (quicklist 2 with one listpack node).
    #[test]
    fn reads_a_redis_payload() {
        let payload: &[u8] = &[
            0x12, 0x01, 0x02, 0x0f, 0x0f, 0x00, 0x00, 0x00, 0x03, 0x00, 0x81, 0x61, 0x02, 0x81,
            0x62, 0x02, 0x01, 0x01, 0xff, 0x0a, 0x00, 0xe0, 0x1b, 0xab, 0x4a, 0x47, 0xce, 0x59,
            0x22,
        ];
        assert_eq!(
            restore_payload(payload).unwrap(),
            Value::List(vec![b"a".to_vec(), b"b".to_vec(), b"1".to_vec()])
        );
    }

    /// Redis 7.2's set listpack (RDB type 20) and a plain list (type 1), as older and
    /// newer servers write them.
    #[test]
    fn reads_other_versions_types() {
        let mut lp = crate::rdb::blob::ListpackWriter::default();
        lp.push_bytes(b"m");
        lp.push_int(42);
        let mut payload = vec![types::SET_LISTPACK];
        types::put_string(&mut payload, &lp.finish());
        payload.extend(11u16.to_le_bytes());
        payload.extend(crc::checksum(&payload).to_le_bytes());
        assert_eq!(
            restore_payload(&payload).unwrap(),
            Value::Set(vec![b"m".to_vec(), b"42".to_vec()])
        );
        let mut payload = vec![types::LIST, 2, 1, b'x', 0xc0, 9];
        payload.extend(6u16.to_le_bytes());
        payload.extend(crc::checksum(&payload).to_le_bytes());
        assert_eq!(
            restore_payload(&payload).unwrap(),
            Value::List(vec![b"x".to_vec(), b"9".to_vec()])
        );
        let mut too_new = vec![types::STRING, 1, b'x'];
        too_new.extend(13u16.to_le_bytes());
        too_new.extend(crc::checksum(&too_new).to_le_bytes());
        assert!(matches!(
            restore_payload(&too_new),
            Err(RdbError::BadPayload)
        ));
    }

    #[test]
    fn truncations_and_flips_never_panic() {
        for value in samples() {
            let payload = dump_payload(&value);
            let body_len = payload.len() - 10;
            for cut in 0..body_len {
                let mut p = payload[..cut].to_vec();
                p.extend(DUMP_VERSION.to_le_bytes());
                p.extend(crc::checksum(&p).to_le_bytes());
                assert!(restore_payload(&p).is_err());
            }
            let step = (body_len / 400).max(1);
            for at in (0..body_len).step_by(step) {
                for flip in [0x01u8, 0x80, 0xff] {
                    let mut p = payload[..body_len].to_vec();
                    p[at] ^= flip;
                    p.extend(DUMP_VERSION.to_le_bytes());
                    p.extend(crc::checksum(&p).to_le_bytes());
                    let _ = restore_payload(&p);
                }
            }
        }
        // A claimed count of 2^60 elements with nothing behind it.
        let mut p = vec![types::SET, 0x81];
        p.extend((1u64 << 60).to_be_bytes());
        p.extend(DUMP_VERSION.to_le_bytes());
        p.extend(crc::checksum(&p).to_le_bytes());
        assert!(restore_payload(&p).is_err());
    }
}
