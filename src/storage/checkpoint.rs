//! Checkpoints: point-in-time copies of the database (RocksDB checkpoints: hard links to
//! immutable SST files after a memtable flush), used by `SAVE`/`BGSAVE` and the
//! `strata checkpoint` CLI.
//!
//! Layout of a data directory: `<dir>/db` is the live database, `<dir>/checkpoints/cp-<ms>`
//! are checkpoints, each with a `STRATA-CHECKPOINT` marker recording its sequence number and
//! creation time. A checkpoint directory is itself a database that a server can open.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::encoding::{decode_meta_key, KeyType, Meta, INTERNAL_DB};
use super::engine::{Cf, Engine};
use super::{now_ms, Storage};
use crate::error::{StoreError, StoreResult};

const MARKER: &str = "STRATA-CHECKPOINT";

/// The live database inside a data directory.
pub fn db_path(dir: &Path) -> PathBuf {
    dir.join("db")
}

/// Where `SAVE`/`BGSAVE` put checkpoints.
pub fn checkpoints_dir(dir: &Path) -> PathBuf {
    dir.join("checkpoints")
}

#[derive(Debug, Clone)]
pub struct CheckpointInfo {
    pub path: PathBuf,
    pub sequence: u64,
    pub created_ms: u64,
    pub bytes: u64,
}

fn io_err(what: &str, path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Engine(format!("{what} {}: {e}", path.display()))
}

/// Total size of the files under `path`.
pub fn dir_size(path: &Path) -> u64 {
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => dir_size(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

/// Reads a checkpoint's marker (sequence, creation time) and size.
pub fn info(path: &Path) -> Option<CheckpointInfo> {
    let text = std::fs::read_to_string(path.join(MARKER)).ok()?;
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .and_then(|v| v.trim().parse().ok())
    };
    Some(CheckpointInfo {
        path: path.to_path_buf(),
        sequence: field("sequence")?,
        created_ms: field("created_ms")?,
        bytes: dir_size(path),
    })
}

/// Checkpoints under a data directory, oldest first.
pub fn list(dir: &Path) -> Vec<CheckpointInfo> {
    let mut out: Vec<CheckpointInfo> = std::fs::read_dir(checkpoints_dir(dir))
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| info(&e.path()))
                .collect()
        })
        .unwrap_or_default();
    out.sort_by_key(|c| (c.created_ms, c.path.clone()));
    out
}

/// Creates a checkpoint of an open engine at `to` and writes its marker.
pub fn create(engine: &Engine, to: &Path) -> StoreResult<CheckpointInfo> {
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent).map_err(|e| io_err("cannot create", parent, e))?;
    }
    let sequence = engine.checkpoint(to)?;
    let created_ms = now_ms();
    std::fs::write(
        to.join(MARKER),
        format!("sequence={sequence}\ncreated_ms={created_ms}\n"),
    )
    .map_err(|e| io_err("cannot write marker in", to, e))?;
    Ok(CheckpointInfo {
        path: to.to_path_buf(),
        sequence,
        created_ms,
        bytes: dir_size(to),
    })
}

impl Storage {
    /// The data directory this storage lives in.
    pub fn data_dir(&self) -> PathBuf {
        self.engine()
            .path()
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
    }

    /// `SAVE`: a checkpoint under `<dir>/checkpoints` (or at `to`), keeping the newest
    /// `retain` checkpoints there.
    pub fn save_checkpoint(&self, to: Option<&Path>, retain: usize) -> StoreResult<CheckpointInfo> {
        // One checkpoint at a time, as Redis saves one at a time: concurrent SAVEs raced for
        // the same `cp-<ms>` name and for the retention sweep, and failed with I/O errors.
        static SAVING: parking_lot::Mutex<()> = parking_lot::Mutex::new(());
        let _one_at_a_time = SAVING.lock();
        let dir = self.data_dir();
        let target = match to {
            Some(p) => p.to_path_buf(),
            None => {
                let mut ms = now_ms();
                // Two saves in one millisecond get distinct names.
                while checkpoints_dir(&dir).join(format!("cp-{ms}")).exists() {
                    ms += 1;
                }
                checkpoints_dir(&dir).join(format!("cp-{ms}"))
            }
        };
        let created = create(self.engine(), &target)?;
        if to.is_none() && retain > 0 {
            let all = list(&dir);
            for old in all.iter().take(all.len().saturating_sub(retain)) {
                let _ = std::fs::remove_dir_all(&old.path);
            }
        }
        Ok(created)
    }
}

/// What `verify` found: key counts per (database id, type) and sub-key count.
#[derive(Debug, Default)]
pub struct VerifyReport {
    pub keys: BTreeMap<(u16, &'static str), u64>,
    pub sub_keys: u64,
    pub expire_entries: u64,
}

/// Opens `path` read-only, reads every record of every family with checksums verified and
/// decodes every meta record with Strata's decoders.
pub fn verify(path: &Path) -> StoreResult<VerifyReport> {
    let engine = Engine::open_read_only(path)?;
    let mut report = VerifyReport::default();
    let mut problem: Option<StoreError> = None;
    engine.verify_scan(Cf::Meta, |k, v| {
        if problem.is_some() {
            return;
        }
        match decode_meta_key(k) {
            Ok((db, _)) if db == INTERNAL_DB => {}
            Ok((db, _)) => match Meta::decode(v) {
                Ok(m) => *report.keys.entry((db, KeyType::name(m.kind))).or_default() += 1,
                Err(e) => problem = Some(e),
            },
            Err(e) => problem = Some(e),
        }
    })?;
    if let Some(e) = problem {
        return Err(e);
    }
    for cf in [Cf::Data, Cf::ZScore, Cf::Stream] {
        engine.verify_scan(cf, |_, _| report.sub_keys += 1)?;
    }
    engine.verify_scan(Cf::Expire, |_, _| report.expire_entries += 1)?;
    Ok(report)
}

/// Copies a checkpoint into `<dir>/db`. Refuses a non-empty target unless `force`, and a
/// target locked by a running server in any case.
pub fn restore(from: &Path, dir: &Path, force: bool) -> Result<(), String> {
    if info(from).is_none() && !from.join("CURRENT").exists() {
        return Err(format!("{} is not a checkpoint", from.display()));
    }
    let target = db_path(dir);
    let occupied = std::fs::read_dir(&target)
        .map(|mut d| d.next().is_some())
        .unwrap_or(false);
    if occupied {
        // A running server holds RocksDB's LOCK: opening read-write would fail, and so do we.
        if Engine::open(&target, &super::engine::EngineOptions::default()).is_err() {
            return Err(format!(
                "{} is in use (is a server running on it?)",
                target.display()
            ));
        }
        if !force {
            return Err(format!(
                "{} is not empty (use --force to replace it)",
                target.display()
            ));
        }
        std::fs::remove_dir_all(&target)
            .map_err(|e| format!("cannot clear {}: {e}", target.display()))?;
    }
    std::fs::create_dir_all(&target)
        .map_err(|e| format!("cannot create {}: {e}", target.display()))?;
    for entry in
        std::fs::read_dir(from).map_err(|e| format!("cannot read {}: {e}", from.display()))?
    {
        let entry = entry.map_err(|e| e.to_string())?;
        if entry.file_name() == MARKER {
            continue;
        }
        std::fs::copy(entry.path(), target.join(entry.file_name()))
            .map_err(|e| format!("cannot copy {}: {e}", entry.path().display()))?;
    }
    Ok(())
}

/// Writes a checkpoint directory as one zstd-compressed tar archive (with zstd's content
/// checksum, so corruption in transit is detected on import).
pub fn export(from: &Path, to: &Path) -> Result<u64, String> {
    if info(from).is_none() {
        return Err(format!("{} is not a checkpoint", from.display()));
    }
    let file =
        std::fs::File::create(to).map_err(|e| format!("cannot create {}: {e}", to.display()))?;
    let mut encoder = zstd::Encoder::new(file, 3).map_err(|e| e.to_string())?;
    encoder.include_checksum(true).map_err(|e| e.to_string())?;
    let mut archive = tar::Builder::new(encoder);
    archive
        .append_dir_all("checkpoint", from)
        .map_err(|e| format!("cannot archive {}: {e}", from.display()))?;
    let encoder = archive.into_inner().map_err(|e| e.to_string())?;
    encoder.finish().map_err(|e| e.to_string())?;
    std::fs::metadata(to)
        .map(|m| m.len())
        .map_err(|e| e.to_string())
}

/// Unpacks an archive made by [`export`] into `<dir>/db` (empty, or replaced with `force`)
/// and verifies it; on any failure nothing is left behind.
pub fn import(archive: &Path, dir: &Path, force: bool) -> Result<VerifyReport, String> {
    let staging = dir.join(".import-staging");
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging)
        .map_err(|e| format!("cannot create {}: {e}", staging.display()))?;
    let unpacked = (|| -> Result<VerifyReport, String> {
        let file = std::fs::File::open(archive)
            .map_err(|e| format!("cannot open {}: {e}", archive.display()))?;
        let decoder = zstd::Decoder::new(file).map_err(|e| e.to_string())?;
        let mut tarball = tar::Archive::new(decoder);
        tarball
            .unpack(&staging)
            .map_err(|e| format!("archive is damaged: {e}"))?;
        // tar stops at its end marker; zstd checks the frame's checksum only at the end of
        // the stream, so read the rest (tar's padding) or damage there would go unnoticed.
        std::io::copy(&mut tarball.into_inner(), &mut std::io::sink())
            .map_err(|e| format!("archive is damaged: {e}"))?;
        let checkpoint = staging.join("checkpoint");
        let report =
            verify(&checkpoint).map_err(|e| format!("archive contents are corrupt: {e}"))?;
        restore(&checkpoint, dir, force)?;
        Ok(report)
    })();
    let _ = std::fs::remove_dir_all(&staging);
    unpacked
}
