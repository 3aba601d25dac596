//! Redis's dataset digest (`DEBUG DIGEST`, `DEBUG DIGEST-VALUE`): a SHA-1 summary of every
//! key, value and "has a TTL" flag, independent of the order keys and unordered members are
//! visited in, so two servers holding the same data — a primary and its replicas, or Strata
//! and `redis-server` 7.0 — print the same 40 hex digits.
//!
//! Written by hand because the value is defined by Redis's own mixing rules (`debug.c`): an
//! unordered collection XORs its members' hashes, an ordered one feeds each element through
//! SHA-1 in turn, a key's digest starts from its name and its type code, and databases are
//! told apart by mixing in their index. Type codes are Redis's object types (string 0,
//! list 1, set 2, zset 3, hash 4, stream 6); scores print as C's `%.17g`.
//!
//! Not atomic: keys are read one after another, so a digest taken while writes run mixes
//! moments. Callers compare digests of quiet servers (replication tests wait for equal
//! offsets first). Keys already logically expired are skipped, as reads skip them.
//!
//! Depends on the typed readers of `types/` and on `num` for score formatting.

use sha1_smol::Sha1;

use super::encoding::{KeyType, Meta};
use super::types::stream::StreamId;
use super::Storage;
use crate::error::StoreResult;

/// Twenty bytes of SHA-1 state, zero for "nothing".
pub type Digest = [u8; 20];

/// Keys read from the keyspace per page while digesting a database.
const PAGE: usize = 1000;

/// `xorDigest`: XORs the SHA-1 of `bytes` into `digest`.
fn xor_in(digest: &mut Digest, bytes: &[u8]) {
    let hash = Sha1::from(bytes).digest().bytes();
    for (d, h) in digest.iter_mut().zip(hash) {
        *d ^= h;
    }
}

/// `mixDigest`: XORs the SHA-1 of `bytes` in, then replaces the digest with its own SHA-1,
/// so the order of mixed-in items matters.
fn mix_in(digest: &mut Digest, bytes: &[u8]) {
    xor_in(digest, bytes);
    *digest = Sha1::from(&digest[..]).digest().bytes();
}

/// Redis's object type code for a key type.
fn redis_type_code(kind: KeyType) -> u32 {
    match kind {
        KeyType::String => 0,
        KeyType::List => 1,
        KeyType::Set => 2,
        KeyType::ZSet => 3,
        KeyType::Hash => 4,
        KeyType::Stream => 6,
    }
}

/// Lower-case hex, as `DEBUG DIGEST` prints it.
pub fn to_hex(digest: &Digest) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

impl Storage {
    /// `DEBUG DIGEST`: the digest of every database; all zeros when there are no keys.
    pub fn dataset_digest(&self) -> StoreResult<Digest> {
        let mut total = Digest::default();
        for db in 0..self.databases() {
            if self.key_count(db) == 0 {
                continue;
            }
            let mut db_mixed = false;
            let mut resume: Option<Vec<u8>> = None;
            loop {
                let mut metas = Vec::new();
                let page = self.scan_keys(db, resume.as_deref(), PAGE, |_, meta| {
                    metas.push((meta.kind, meta.expire_ms));
                    true
                })?;
                for (key, (kind, expire_ms)) in page.keys.iter().zip(metas) {
                    if !db_mixed {
                        // Only databases holding keys count, as in Redis.
                        mix_in(&mut total, &(db as u32).to_be_bytes());
                        db_mixed = true;
                    }
                    let mut digest = Digest::default();
                    mix_in(&mut digest, key);
                    self.mix_value(db, key, kind, expire_ms, &mut digest)?;
                    xor_in(&mut total, &digest);
                }
                match page.resume_after {
                    Some(pos) => resume = Some(pos),
                    None => break,
                }
            }
        }
        Ok(total)
    }

    /// `DEBUG DIGEST-VALUE`: the digest of one key's value (without its name); zeros when
    /// the key does not exist.
    pub fn value_digest(&self, db: usize, key: &[u8]) -> StoreResult<Digest> {
        let mut digest = Digest::default();
        if let Some(Meta {
            kind, expire_ms, ..
        }) = self.meta(db, key)?
        {
            self.mix_value(db, key, kind, expire_ms, &mut digest)?;
        }
        Ok(digest)
    }

    /// `xorObjectDigest`: the type code, the value by Redis's rules, and the TTL flag.
    fn mix_value(
        &self,
        db: usize,
        key: &[u8],
        kind: KeyType,
        expire_ms: u64,
        digest: &mut Digest,
    ) -> StoreResult<()> {
        mix_in(digest, &redis_type_code(kind).to_be_bytes());
        match kind {
            KeyType::String => {
                if let Some(value) = self.get_string(db, key)? {
                    mix_in(digest, &value);
                }
            }
            KeyType::List => {
                for element in self.lall(db, key)? {
                    mix_in(digest, &element);
                }
            }
            KeyType::Set => {
                for member in self.smembers(db, key)? {
                    xor_in(digest, &member);
                }
            }
            KeyType::ZSet => {
                for (member, score) in self.zall(db, key)? {
                    let mut element = Digest::default();
                    mix_in(&mut element, &member);
                    mix_in(&mut element, crate::num::format_g(score, 17).as_bytes());
                    xor_in(digest, &element);
                }
            }
            KeyType::Hash => {
                for (field, value) in self.hgetall(db, key)? {
                    let mut element = Digest::default();
                    mix_in(&mut element, &field);
                    mix_in(&mut element, &value);
                    xor_in(digest, &element);
                }
            }
            KeyType::Stream => {
                if let Some(stream) = self.stream(db, key)? {
                    for (id, fields) in
                        self.entries(&stream, StreamId::MIN, StreamId::MAX, 0, false)?
                    {
                        mix_in(digest, format!("{}.{}", id.ms, id.seq).as_bytes());
                        for (field, value) in fields {
                            mix_in(digest, &field);
                            mix_in(digest, &value);
                        }
                    }
                }
            }
        }
        if expire_ms != 0 {
            xor_in(digest, b"!!expire!!");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixing_depends_on_order_and_xoring_does_not() {
        let (mut a, mut b) = (Digest::default(), Digest::default());
        mix_in(&mut a, b"x");
        mix_in(&mut a, b"y");
        mix_in(&mut b, b"y");
        mix_in(&mut b, b"x");
        assert_ne!(a, b);
        let (mut c, mut d) = (Digest::default(), Digest::default());
        xor_in(&mut c, b"x");
        xor_in(&mut c, b"y");
        xor_in(&mut d, b"y");
        xor_in(&mut d, b"x");
        assert_eq!(c, d);
        assert_eq!(to_hex(&Digest::default()), "0".repeat(40));
    }
}
