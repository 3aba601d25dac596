//! Persistence commands: SAVE, BGSAVE, BGREWRITEAOF and STRATA.CHECKPOINT. A save is a
//! RocksDB checkpoint under `<dir>/checkpoints` (DESIGN §7); the WAL already makes every
//! write durable, so a save is a backup point, not the only copy.

use std::path::PathBuf;
use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::{is, ok, text, Ctx};
use crate::error::{CmdError, CmdResult};
use crate::protocol::Reply;
use crate::state::ServerState;
use crate::storage::checkpoint::CheckpointInfo;

fn retain(state: &ServerState) -> usize {
    state.config.get_int("checkpoint-retain").max(0) as usize
}

/// Takes a checkpoint and updates the bookkeeping `LASTSAVE` and `INFO` report.
fn checkpoint_now(state: &ServerState, to: Option<PathBuf>) -> CmdResult<CheckpointInfo> {
    let changes = state.storage.stats.changes.load(Ordering::Relaxed);
    match state.storage.save_checkpoint(to.as_deref(), retain(state)) {
        Ok(info) => {
            state
                .last_save_unix
                .store(info.created_ms / 1000, Ordering::Relaxed);
            state
                .saves
                .changes_at_save
                .store(changes, Ordering::Relaxed);
            state.saves.last_failed.store(false, Ordering::Relaxed);
            *state.saves.last_path.lock() = info.path.display().to_string();
            tracing::info!(
                "checkpoint saved at {} (sequence {})",
                info.path.display(),
                info.sequence
            );
            Ok(info)
        }
        Err(e) => {
            state.saves.last_failed.store(true, Ordering::Relaxed);
            tracing::error!("checkpoint failed: {e}");
            Err(e.into())
        }
    }
}

pub fn save(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult<Reply> {
    if ctx.state.saves.in_progress.load(Ordering::SeqCst) {
        return Err(CmdError::custom("ERR Background save already in progress"));
    }
    let state = ctx.state;
    tokio::task::block_in_place(|| checkpoint_now(state, None))?;
    ok()
}

pub fn bgsave(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let schedule = match args.get(1) {
        None => false,
        Some(a) if is(a, "SCHEDULE") && args.len() == 2 => true,
        Some(_) => return Err(CmdError::Syntax),
    };
    let saves = &ctx.state.saves;
    if saves.in_progress.swap(true, Ordering::SeqCst) {
        if schedule {
            saves.scheduled.store(true, Ordering::SeqCst);
            return Ok(Reply::status("Background saving scheduled"));
        }
        return Err(CmdError::custom("ERR Background save already in progress"));
    }
    let Some(state) = ctx.state.arc() else {
        saves.in_progress.store(false, Ordering::SeqCst);
        return Err(CmdError::custom("ERR server is shutting down"));
    };
    std::thread::spawn(move || loop {
        let _ = checkpoint_now(&state, None);
        // A BGSAVE SCHEDULE that arrived meanwhile runs right after.
        if !state.saves.scheduled.swap(false, Ordering::SeqCst) {
            state.saves.in_progress.store(false, Ordering::SeqCst);
            break;
        }
    });
    Ok(Reply::status("Background saving started"))
}

pub fn bgrewriteaof(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult<Reply> {
    // There is no AOF: flushing the memtables lets RocksDB retire the WAL files they need.
    let storage = ctx.storage();
    tokio::task::block_in_place(|| storage.engine().flush_memtables())?;
    Ok(Reply::status(
        "Background append only file rewriting started",
    ))
}

/// `STRATA.CHECKPOINT [TO path]`: a synchronous checkpoint, reported as
/// `[path, sequence, bytes]` (used by `strata checkpoint create --url`).
pub fn strata_checkpoint(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let to = match args.len() {
        1 => None,
        3 if is(&args[1], "TO") => Some(PathBuf::from(text(&args[2]))),
        _ => return Err(CmdError::Syntax),
    };
    if to.as_ref().is_some_and(|p| p.exists()) {
        return Err(CmdError::custom(
            "ERR checkpoint destination already exists",
        ));
    }
    let state = ctx.state;
    let info = tokio::task::block_in_place(|| checkpoint_now(state, to))?;
    Ok(Reply::Array(vec![
        Reply::bulk(info.path.display().to_string()),
        Reply::Int(info.sequence as i64),
        Reply::Int(info.bytes as i64),
    ]))
}
