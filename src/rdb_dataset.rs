//! A whole dataset to and from an RDB stream: `strata export-rdb`/`import-rdb`, `SYNC`
//! for `redis-cli --rdb`, and the full sync of a replica of a real `redis-server`.
//!
//! Export walks every database key by key through [`Storage::read_value`] and writes
//! Redis 7.0's RDB (version 10) with `RdbWriter`; function libraries go in the RDB's
//! function section. It reads the storage it is given as it is: callers wanting one
//! moment export from a checkpoint opened as its own `Storage`.
//!
//! Import streams: one key is decoded at a time and staged; write sets are committed every
//! [`KEYS_PER_COMMIT`] keys or [`OPS_PER_COMMIT`] mutations, so memory stays bounded by
//! the largest key rather than the file. Keys already expired are skipped, as a Redis
//! primary skips them when loading; empty collections are skipped (Redis refuses them).
//!
//! Depends on `rdb` (the format) and `storage` (whole-key values, script records).

use std::io::{Read, Write};

use crate::rdb::{Item, RdbError, RdbReader, RdbWriter};
use crate::storage::portable::is_empty_collection;
use crate::storage::{now_ms, Storage, WriteSet};

/// Keys staged before a commit during import.
pub const KEYS_PER_COMMIT: usize = 512;
/// Mutations staged before a commit during import (a big collection commits alone).
pub const OPS_PER_COMMIT: usize = 50_000;
/// Keys read per page while exporting a database.
const EXPORT_PAGE: usize = 1000;

/// Failures of an import or export, with the cause's text.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error(transparent)]
    Rdb(#[from] RdbError),
    #[error("storage: {0}")]
    Store(#[from] crate::error::StoreError),
    #[error("the RDB selects database {0}, beyond the configured `databases`")]
    DatabaseOutOfRange(u64),
}

/// What an import or export moved.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TransferStats {
    pub keys: u64,
    pub expired_skipped: u64,
    pub empty_skipped: u64,
    pub functions: u64,
    pub bytes: u64,
}

/// Writes the whole dataset of `storage` as an RDB to `out`.
pub fn export(storage: &Storage, out: impl Write) -> Result<TransferStats, TransferError> {
    let mut stats = TransferStats::default();
    let mut writer = RdbWriter::new(out)?;
    writer.aux(b"redis-ver", b"7.0.15")?;
    writer.aux(b"redis-bits", b"64")?;
    writer.aux(b"ctime", (now_ms() / 1000).to_string().as_bytes())?;
    writer.aux(b"strata-ver", env!("CARGO_PKG_VERSION").as_bytes())?;
    for (_, code) in storage.libraries()? {
        writer.function(&code)?;
        stats.functions += 1;
    }
    for db in 0..storage.databases() {
        if storage.key_count(db) == 0 {
            continue;
        }
        writer.select_db(db as u64)?;
        writer.resize_db(
            storage.key_count(db).max(0) as u64,
            storage.expires_count(db).max(0) as u64,
        )?;
        let mut resume: Option<Vec<u8>> = None;
        loop {
            let page = storage.scan_keys(db, resume.as_deref(), EXPORT_PAGE, |_, _| true)?;
            for key in &page.keys {
                // Read one key at a time: it may have expired or gone since the scan.
                if let Some((value, expire_ms)) = storage.read_value(db, key)? {
                    writer.key(key, (expire_ms != 0).then_some(expire_ms), &value)?;
                    stats.keys += 1;
                }
            }
            match page.resume_after {
                Some(position) => resume = Some(position),
                None => break,
            }
        }
    }
    stats.bytes = writer.bytes_written();
    writer.finish()?;
    Ok(stats)
}

/// The library name in a function library's `#!lua name=<name>` first line.
fn library_name(code: &[u8]) -> Option<String> {
    let first = code.split(|&b| b == b'\n').next()?;
    let text = std::str::from_utf8(first).ok()?;
    let rest = text.strip_prefix("#!")?;
    rest.split_whitespace()
        .find_map(|part| part.strip_prefix("name="))
        .map(str::to_string)
}

/// Reads an RDB from `input` into `storage`, replacing keys of the same name, and calls
/// `progress` after each commit.
pub fn import<R: Read>(
    storage: &Storage,
    input: R,
    mut progress: impl FnMut(&TransferStats),
) -> Result<TransferStats, TransferError> {
    let mut stats = TransferStats::default();
    let mut reader = RdbReader::new(input)?;
    let mut ws = WriteSet::default();
    let mut staged_keys = 0usize;
    let now = now_ms();
    while let Some(item) = reader.next_item()? {
        match item {
            Item::Key {
                db,
                key,
                expire_ms,
                value,
                ..
            } => {
                let db_index = usize::try_from(db)
                    .ok()
                    .filter(|&d| d < storage.databases())
                    .ok_or(TransferError::DatabaseOutOfRange(db))?;
                if expire_ms.is_some_and(|at| at <= now) {
                    stats.expired_skipped += 1;
                    continue;
                }
                if is_empty_collection(&value) {
                    stats.empty_skipped += 1;
                    continue;
                }
                storage.stage_value(&mut ws, db_index, &key, expire_ms.unwrap_or(0), &value)?;
                stats.keys += 1;
                staged_keys += 1;
                if staged_keys >= KEYS_PER_COMMIT || ws.staged() >= OPS_PER_COMMIT {
                    storage.commit(std::mem::take(&mut ws))?;
                    staged_keys = 0;
                    progress(&stats);
                }
            }
            Item::Function(code) => {
                if let Some(name) = library_name(&code) {
                    storage.save_library(&name, &code)?;
                    stats.functions += 1;
                }
            }
            Item::Aux { .. } | Item::SelectDb(_) | Item::ResizeDb { .. } | Item::ModuleAux => {}
        }
    }
    storage.commit(ws)?;
    stats.bytes = reader.bytes_read();
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn library_names_come_from_the_shebang() {
        assert_eq!(
            library_name(b"#!lua name=mylib\nredis.register_function('f', function() end)"),
            Some("mylib".into())
        );
        assert_eq!(library_name(b"#!lua\n"), None);
        assert_eq!(library_name(b"return 1"), None);
    }
}
