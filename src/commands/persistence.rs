//! Persistence commands: SAVE, BGSAVE, BGREWRITEAOF and STRATA.CHECKPOINT. A save is a
//! RocksDB checkpoint under `<dir>/checkpoints` (DESIGN §7); the WAL already makes every
//! write durable, so a save is a backup point, not the only copy. Saves run one at a time
//! ([`SaveSlot`]); the `save` rules start background ones ([`save_if_due`]).

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;

use super::{is, ok, text, Ctx};
use crate::config::save_rules;
use crate::error::{CmdError, CmdResult};
use crate::protocol::Reply;
use crate::state::ServerState;
use crate::storage::checkpoint::CheckpointInfo;

fn retain(state: &ServerState) -> usize {
    state.config.get_int("checkpoint-retain").max(0) as usize
}

/// Redis's text for a save asked for while another runs.
const IN_PROGRESS: &str = "ERR Background save already in progress";

/// A failed timed save is retried after this long, as Redis's `CONFIG_BGSAVE_RETRY_DELAY`.
const RETRY_AFTER_FAILURE_SECS: u64 = 5;

/// A running save. SAVE and STRATA.CHECKPOINT run in the caller, one after another when
/// several ask at once (Redis's SAVE blocks the server, so its callers queue too); they are
/// refused while a background save runs, as Redis refuses them. BGSAVE and the `save` rules
/// run one background save at a time. Dropping the guard releases it, even if the checkpoint
/// panicked.
struct SaveSlot<'a> {
    state: &'a ServerState,
    background: bool,
}

impl<'a> SaveSlot<'a> {
    fn foreground(state: &'a ServerState) -> Option<SaveSlot<'a>> {
        if state.saves.in_progress.load(Ordering::SeqCst) {
            return None;
        }
        Some(SaveSlot {
            state,
            background: false,
        })
    }

    fn background(state: &'a ServerState) -> Option<SaveSlot<'a>> {
        let saves = &state.saves;
        if saves.in_progress.swap(true, Ordering::SeqCst) {
            return None;
        }
        saves
            .started_ms
            .store(crate::storage::now_ms(), Ordering::Relaxed);
        Some(SaveSlot {
            state,
            background: true,
        })
    }
}

impl Drop for SaveSlot<'_> {
    fn drop(&mut self) {
        if self.background {
            let saves = &self.state.saves;
            saves.started_ms.store(0, Ordering::Relaxed);
            saves.in_progress.store(false, Ordering::SeqCst);
        }
    }
}

/// Takes a checkpoint and updates the bookkeeping `LASTSAVE` and `INFO` report. The caller
/// holds a [`SaveSlot`]; the storage layer serializes the checkpoints themselves.
fn checkpoint_now(state: &ServerState, to: Option<PathBuf>) -> CmdResult<CheckpointInfo> {
    let changes = state.storage.stats.changes.load(Ordering::Relaxed);
    let started = std::time::Instant::now();
    state
        .saves
        .last_try_unix
        .store(crate::storage::now_ms() / 1000, Ordering::Relaxed);
    let result = state.storage.save_checkpoint(to.as_deref(), retain(state));
    let took = started.elapsed();
    state
        .saves
        .last_duration_secs
        .store(took.as_secs() as i64, Ordering::Relaxed);
    state.latency.record(
        crate::latency::CHECKPOINT,
        took.as_millis() as u64,
        crate::storage::now_ms() / 1000,
    );
    match result {
        Ok(info) => {
            state
                .last_save_unix
                .store(info.created_ms / 1000, Ordering::Relaxed);
            state
                .saves
                .changes_at_save
                .store(changes, Ordering::Relaxed);
            state.saves.completed.fetch_add(1, Ordering::Relaxed);
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
    let state = ctx.state;
    let Some(_slot) = SaveSlot::foreground(state) else {
        return Err(CmdError::custom(IN_PROGRESS));
    };
    tokio::task::block_in_place(|| checkpoint_now(state, None))?;
    ok()
}

/// Runs checkpoints on a thread of their own while the slot is held: one, then another for
/// each `BGSAVE SCHEDULE` that arrived meanwhile. False when a save already runs.
fn start_background_save(state: &Arc<ServerState>) -> bool {
    if state.saves.in_progress.load(Ordering::SeqCst) {
        return false;
    }
    let state = state.clone();
    let (taken_tx, taken_rx) = std::sync::mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("strata-bgsave".into())
        .spawn(move || {
            let Some(_slot) = SaveSlot::background(&state) else {
                let _ = taken_tx.send(false);
                return;
            };
            let _ = taken_tx.send(true);
            loop {
                let _ = checkpoint_now(&state, None);
                if !state.saves.scheduled.swap(false, Ordering::SeqCst) {
                    break;
                }
            }
        });
    spawned.is_ok() && taken_rx.recv().unwrap_or(false)
}

pub fn bgsave(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let schedule = match args.get(1) {
        None => false,
        Some(a) if is(a, "SCHEDULE") && args.len() == 2 => true,
        Some(_) => return Err(CmdError::Syntax),
    };
    let Some(state) = ctx.state.arc() else {
        return Err(CmdError::custom("ERR server is shutting down"));
    };
    if start_background_save(&state) {
        return Ok(Reply::status("Background saving started"));
    }
    if schedule {
        state.saves.scheduled.store(true, Ordering::SeqCst);
        return Ok(Reply::status("Background saving scheduled"));
    }
    Err(CmdError::custom(IN_PROGRESS))
}

/// The `save` rules' timer, called about once a second by the maintenance thread: starts a
/// background checkpoint when a rule is due or a `BGSAVE SCHEDULE` is pending (and, after a failure, not before the retry
/// delay, as Redis).
pub fn save_if_due(state: &Arc<ServerState>) {
    let Ok(rules) = save_rules::parse(&state.config.get("save")) else {
        return;
    };
    if state.saves.in_progress.load(Ordering::SeqCst) {
        return;
    }
    // A BGSAVE SCHEDULE that arrived as the previous save was ending.
    if state.saves.scheduled.swap(false, Ordering::SeqCst) {
        start_background_save(state);
        return;
    }
    if rules.is_empty() {
        return;
    }
    let now = crate::storage::now_ms() / 1000;
    let saves = &state.saves;
    if saves.last_failed.load(Ordering::Relaxed)
        && now.saturating_sub(saves.last_try_unix.load(Ordering::Relaxed))
            <= RETRY_AFTER_FAILURE_SECS
    {
        return;
    }
    let changes = state
        .storage
        .stats
        .changes
        .load(Ordering::Relaxed)
        .saturating_sub(saves.changes_at_save.load(Ordering::Relaxed));
    let since = now.saturating_sub(state.last_save_unix.load(Ordering::Relaxed));
    if let Some(rule) = save_rules::due(&rules, since, changes) {
        tracing::info!(
            "{} changes in {} seconds. Saving...",
            rule.changes,
            rule.seconds
        );
        start_background_save(state);
    }
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
    let Some(_slot) = SaveSlot::foreground(state) else {
        return Err(CmdError::custom(IN_PROGRESS));
    };
    let info = tokio::task::block_in_place(|| checkpoint_now(state, to))?;
    Ok(Reply::Array(vec![
        Reply::bulk(info.path.display().to_string()),
        Reply::Int(info.sequence as i64),
        Reply::Int(info.bytes as i64),
    ]))
}
