//! Durable script state: `EVAL`/`SCRIPT LOAD` bodies by SHA1 and `FUNCTION` library code by
//! name, kept as internal records of the `meta` family so they survive restarts (Redis loses
//! its script cache on restart; Strata keeps it).

use super::encoding::internal_key;
use super::engine::{Batch, Cf};
use super::Storage;
use crate::error::StoreResult;

const SCRIPT_PREFIX: &[u8] = b"script/";
const LIBRARY_PREFIX: &[u8] = b"library/";

fn record_key(prefix: &[u8], name: &[u8]) -> Vec<u8> {
    let mut name_key = prefix.to_vec();
    name_key.extend_from_slice(name);
    internal_key(&name_key)
}

impl Storage {
    /// Writes script state, except on a replica: its records arrive from the primary, and a
    /// script a client loads into the replica lives in memory only (Redis's replicas keep
    /// their script cache in memory too).
    fn write_script_state(&self, batch: Batch) -> StoreResult<()> {
        if self.engine().is_follower() {
            return Ok(());
        }
        self.engine().write(batch)
    }

    fn put_record(&self, prefix: &[u8], name: &[u8], body: &[u8]) -> StoreResult<()> {
        let mut batch = Batch::default();
        batch.put(Cf::Meta, record_key(prefix, name), body.to_vec());
        self.write_script_state(batch)
    }

    fn records(&self, prefix: &[u8]) -> StoreResult<Vec<(Vec<u8>, Vec<u8>)>> {
        let start = internal_key(prefix);
        let mut end = start.clone();
        end.push(0xff);
        let mut out = Vec::new();
        self.engine().scan(Cf::Meta, &start, &end, |k, v| {
            out.push((k[start.len()..].to_vec(), v.to_vec()));
            true
        })?;
        Ok(out)
    }

    fn delete_records(&self, prefix: &[u8]) -> StoreResult<()> {
        let start = internal_key(prefix);
        let mut end = start.clone();
        end.push(0xff);
        let mut batch = Batch::default();
        batch.delete_range(Cf::Meta, start, end);
        self.write_script_state(batch)
    }

    pub fn save_script(&self, sha: &str, body: &[u8]) -> StoreResult<()> {
        self.put_record(SCRIPT_PREFIX, sha.as_bytes(), body)
    }

    /// Every stored script as (sha1, body).
    pub fn scripts(&self) -> StoreResult<Vec<(String, Vec<u8>)>> {
        Ok(self
            .records(SCRIPT_PREFIX)?
            .into_iter()
            .map(|(k, v)| (String::from_utf8_lossy(&k).into_owned(), v))
            .collect())
    }

    pub fn flush_scripts(&self) -> StoreResult<()> {
        self.delete_records(SCRIPT_PREFIX)
    }

    pub fn save_library(&self, name: &str, code: &[u8]) -> StoreResult<()> {
        self.put_record(LIBRARY_PREFIX, name.as_bytes(), code)
    }

    pub fn delete_library(&self, name: &str) -> StoreResult<()> {
        let mut batch = Batch::default();
        batch.delete(Cf::Meta, record_key(LIBRARY_PREFIX, name.as_bytes()));
        self.write_script_state(batch)
    }

    /// Every stored function library as (name, code).
    pub fn libraries(&self) -> StoreResult<Vec<(String, Vec<u8>)>> {
        Ok(self
            .records(LIBRARY_PREFIX)?
            .into_iter()
            .map(|(k, v)| (String::from_utf8_lossy(&k).into_owned(), v))
            .collect())
    }

    pub fn flush_libraries(&self) -> StoreResult<()> {
        self.delete_records(LIBRARY_PREFIX)
    }
}
