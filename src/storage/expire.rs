//! Active expiry: reclaims keys whose deadline passed by walking the `expire` index in time
//! order (DESIGN §4), so disk space and `DBSIZE` stay honest without any client access.
//!
//! Each index entry is re-checked under its key lock against the live meta record: an entry
//! whose key was deleted, overwritten or given another TTL is stale and only the entry is
//! removed. Runs under the shared global lock so it never interleaves with `FLUSHALL`.

use super::encoding::{
    decode_expire_key, decode_field_expire_key, meta_key, Meta, FIELD_EXPIRY_BIT,
};
use super::engine::Cf;
use super::{now_ms, Storage, WriteSet};
use crate::error::StoreResult;

/// A key removed by active expiry (logical database, key), for notifications and stats.
pub struct Expired {
    pub db: Option<usize>,
    pub key: Vec<u8>,
}

impl Storage {
    /// Reclaims up to `limit` expired hash fields from the field half of the index.
    fn expire_fields(&self, now: u64, limit: usize) -> StoreResult<()> {
        let start = FIELD_EXPIRY_BIT.to_be_bytes();
        let end = ((now + 1) | FIELD_EXPIRY_BIT).to_be_bytes();
        let mut due: Vec<Vec<u8>> = Vec::new();
        self.engine().scan(Cf::Expire, &start, &end, |k, _| {
            due.push(k.to_vec());
            due.len() < limit
        })?;
        for index_key in due {
            match decode_field_expire_key(&index_key) {
                Some(e) => {
                    let _lock = self.locks.lock([e.key]);
                    self.reclaim_field(e.db, e.key, e.version, e.field, e.expire_ms, &index_key)?;
                }
                None => {
                    let mut ws = WriteSet::default();
                    ws.batch.delete(Cf::Expire, index_key.clone());
                    self.commit(ws)?;
                }
            }
        }
        Ok(())
    }

    /// Deletes up to `limit` due keys; returns the ones removed.
    pub fn expire_cycle(&self, limit: usize) -> StoreResult<Vec<Expired>> {
        let _global = self.global.read();
        let now = now_ms();
        let end = (now + 1).to_be_bytes();
        let mut due: Vec<Vec<u8>> = Vec::new();
        self.engine().scan(Cf::Expire, &[], &end, |k, _| {
            due.push(k.to_vec());
            due.len() < limit
        })?;
        let mut expired = Vec::new();
        for index_key in due {
            let Ok((when, phys, key)) = decode_expire_key(&index_key) else {
                let mut ws = WriteSet::default();
                ws.batch.delete(Cf::Expire, index_key.clone());
                self.commit(ws)?;
                continue;
            };
            let _wake = self.wake_lock_waiters_on_drop();
            let _lock = self.locks.lock([key]);
            let raw = self.engine().get(Cf::Meta, &meta_key(phys, key))?;
            let meta = raw.map(|r| Meta::decode(&r)).transpose()?;
            let mut ws = WriteSet::default();
            match meta {
                Some(m) if m.expire_ms == when && m.is_expired(now) => {
                    self.stage_delete_phys(&mut ws, phys, key, &m);
                    expired.push(Expired {
                        db: self.logical(phys),
                        key: key.to_vec(),
                    });
                }
                _ => ws.batch.delete(Cf::Expire, index_key.clone()),
            }
            self.commit(ws)?;
        }
        self.expire_fields(now, limit)?;
        self.stats
            .expired_keys
            .fetch_add(expired.len() as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(expired)
    }
}
