//! Reclamation rules for sub-keys (DESIGN §4), used by the compaction filter the engine
//! installs on the `data`, `zscore` and `stream` families.
//!
//! A sub-key is garbage when its collection's meta record is gone, holds another type or
//! another version, or expired more than [`EXPIRY_GRACE_MS`] ago. The grace window covers a
//! command that read the meta just before its deadline and is still writing. When the meta
//! lookup fails the sub-key is kept: dropping live data is never an acceptable outcome.

use super::encoding::{KeyType, Meta};

/// How long after its deadline an expired collection's sub-keys are still kept.
pub const EXPIRY_GRACE_MS: u64 = 60_000;

/// Splits a sub-key into the `meta` key of its collection and its version.
pub fn split_sub_key(sub_key: &[u8]) -> Option<(Vec<u8>, u64)> {
    let len_bytes: [u8; 4] = sub_key.get(4..8)?.try_into().ok()?;
    let key_len = u32::from_be_bytes(len_bytes) as usize;
    let key = sub_key.get(8..8 + key_len)?;
    let version_bytes: [u8; 8] = sub_key.get(8 + key_len..16 + key_len)?.try_into().ok()?;
    let mut meta_key = sub_key[..4].to_vec();
    meta_key.extend_from_slice(key);
    Some((meta_key, u64::from_be_bytes(version_bytes)))
}

/// The verdict for one sub-key given its collection's meta lookup result.
pub fn is_garbage(version: u64, meta: Result<Option<Vec<u8>>, ()>, now_ms: u64) -> bool {
    let raw = match meta {
        Ok(Some(raw)) => raw,
        Ok(None) => return true,
        Err(()) => return false,
    };
    let Ok(meta) = Meta::decode(&raw) else {
        return false;
    };
    // Inline strings own no sub-keys; chunked ones carry a version like collections.
    if meta.kind == KeyType::String && !meta.chunked {
        return true;
    }
    let Some(current) = meta
        .body
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .map(u64::from_be_bytes)
    else {
        return false;
    };
    if current != version {
        return true;
    }
    meta.expire_ms != 0 && meta.expire_ms.saturating_add(EXPIRY_GRACE_MS) < now_ms
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::encoding::{meta_key, sub_key};

    fn coll_meta(version: u64, expire_ms: u64) -> Vec<u8> {
        let mut body = version.to_be_bytes().to_vec();
        body.extend_from_slice(&3u64.to_be_bytes());
        Meta {
            chunked: false,
            kind: KeyType::Hash,
            expire_ms,
            body,
        }
        .encode()
    }

    #[test]
    fn splits_sub_keys_back_into_meta_keys() {
        let sk = sub_key(2, b"user:1", 42, b"field");
        assert_eq!(split_sub_key(&sk), Some((meta_key(2, b"user:1"), 42)));
        assert_eq!(split_sub_key(b"short"), None);
    }

    #[test]
    fn verdicts() {
        assert!(is_garbage(7, Ok(None), 0), "deleted collection");
        assert!(!is_garbage(7, Err(()), 0), "lookup failure keeps");
        assert!(!is_garbage(7, Ok(Some(coll_meta(7, 0))), 0), "live");
        assert!(
            is_garbage(7, Ok(Some(coll_meta(8, 0))), 0),
            "overwritten by a newer version"
        );
        let string = Meta {
            chunked: false,
            kind: KeyType::String,
            expire_ms: 0,
            body: b"v".to_vec(),
        }
        .encode();
        assert!(
            is_garbage(7, Ok(Some(string)), 0),
            "overwritten by a string"
        );
        assert!(
            !is_garbage(7, Ok(Some(coll_meta(7, 1000))), 1000 + EXPIRY_GRACE_MS),
            "inside grace"
        );
        assert!(
            is_garbage(7, Ok(Some(coll_meta(7, 1000))), 1001 + EXPIRY_GRACE_MS),
            "expired"
        );
    }
}
