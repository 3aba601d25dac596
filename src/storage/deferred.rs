//! Deferred commits: the write sets of several pipelined commands of one connection committed
//! as one engine write (one WAL append, one pass through RocksDB's write queue) instead of one
//! each (DESIGN §5).
//!
//! The connection opens a deferral on its thread around a run of pipelined commands, holding
//! the key locks of every command in it until [`Storage::finish_deferred`] commits, so no other
//! client can observe a key whose write is still pending. Only write sets that touch the
//! `meta`, `expire`, `data` and `zscore` families alone are deferred; commands in the run
//! read `meta` through [`Storage::raw_meta`] and sub-keys through [`Storage::sub_get`], which
//! consult the pending records first, and never read `expire`. A scan of sub-keys (which
//! cannot merge pending records into its iterator) first commits what is pending
//! ([`Storage::settle_deferred`]). Any other write set first commits what is pending, then
//! itself, so commit order is command order. Nothing here outlives the synchronous run: the state is thread-local and is always
//! committed (or discarded on failure) before the connection task can yield.

use std::cell::RefCell;
use std::collections::HashMap;

use super::encoding::Meta;
use super::engine::Cf;
use super::{Storage, WriteSet};
use crate::error::{StoreError, StoreResult};

/// What a thread has staged since it opened its deferral.
#[derive(Default)]
struct Pending {
    ws: WriteSet,
    /// Latest staged record per meta key (`None`: deleted), for reads within the run.
    metas: HashMap<Vec<u8>, Option<Vec<u8>>>,
    /// The same for the sub-keys of collections, one map per family of [`SUB_FAMILIES`]
    /// (keyed by the bare key, so a lookup borrows instead of building a key).
    subs: [HashMap<Vec<u8>, Option<Vec<u8>>>; SUB_FAMILIES.len()],
    /// Write sets merged into `ws`.
    sets: u64,
    /// Something of this run already reached the engine (a write set that could not be
    /// deferred, and what was pending before it).
    wrote: bool,
    /// A commit of this run failed; nothing more of it is written.
    failed: Option<StoreError>,
}

impl Pending {
    fn has_subs(&self) -> bool {
        self.subs.iter().any(|staged| !staged.is_empty())
    }
}

/// How a deferred run ended.
pub enum DeferredOutcome {
    /// Every write of the run is committed.
    Committed,
    /// Nothing of the run was written: its commands can be run again, one by one.
    NothingWritten(StoreError),
    /// Part of the run was written and part failed: its outcome is unknown.
    PartlyWritten(StoreError),
}

/// The families a deferred write set may touch.
const DEFERRABLE: [Cf; 4] = [Cf::Meta, Cf::Expire, Cf::Data, Cf::ZScore];
/// The sub-key families whose pending records reads within a run consult.
const SUB_FAMILIES: [Cf; 2] = [Cf::Data, Cf::ZScore];

thread_local! {
    static PENDING: RefCell<Option<Pending>> = const { RefCell::new(None) };
}

impl Storage {
    /// Starts deferring this thread's commits. Callers must call
    /// [`Storage::finish_deferred`] (or [`Storage::discard_deferred`]) before yielding the
    /// thread to anything else.
    pub fn begin_deferred(&self) {
        PENDING.with(|p| *p.borrow_mut() = Some(Pending::default()));
    }

    /// Stops deferring and drops whatever is pending, unwritten.
    pub fn discard_deferred(&self) {
        PENDING.with(|p| p.borrow_mut().take());
    }

    /// Commits everything deferred since [`Storage::begin_deferred`] as one write and stops
    /// deferring.
    pub fn finish_deferred(&self) -> DeferredOutcome {
        let Some(pending) = PENDING.with(|p| p.borrow_mut().take()) else {
            return DeferredOutcome::Committed;
        };
        let result = match pending.failed {
            Some(e) => Err(e),
            None if pending.sets > 0 => self.commit_now(pending.ws, pending.sets),
            None => Ok(()),
        };
        match result {
            Ok(()) => DeferredOutcome::Committed,
            Err(e) if pending.wrote => DeferredOutcome::PartlyWritten(e),
            Err(e) => DeferredOutcome::NothingWritten(e),
        }
    }

    /// Takes what this thread's deferral has pending, ending it, when there is something to
    /// write and nothing of the run failed (otherwise the deferral stays for
    /// [`Storage::finish_deferred`] to end): the merged write set, how many sets it holds,
    /// and whether part of the run already reached the engine.
    pub(super) fn take_deferred(&self) -> Option<(WriteSet, u64, bool)> {
        PENDING.with(|p| {
            let mut p = p.borrow_mut();
            if p.as_ref()
                .is_none_or(|pending| pending.failed.is_some() || pending.sets == 0)
            {
                return None;
            }
            let pending = p.take()?;
            Some((pending.ws, pending.sets, pending.wrote))
        })
    }

    /// Records that a write set of the open run (if any) was committed directly.
    pub(super) fn note_direct_commit(&self, outcome: &StoreResult<()>) {
        PENDING.with(|p| {
            if let Some(p) = p.borrow_mut().as_mut() {
                match outcome {
                    Ok(()) => p.wrote = true,
                    Err(e) => {
                        p.failed.get_or_insert_with(|| e.clone());
                    }
                }
            }
        });
    }

    /// Takes `ws` into this thread's deferral when one is open and `ws` qualifies; otherwise
    /// hands it back after committing whatever was pending, so it can be committed in order.
    pub(super) fn defer(&self, ws: WriteSet) -> StoreResult<Option<WriteSet>> {
        let ws = PENDING.with(|p| {
            let mut p = p.borrow_mut();
            let Some(pending) = p.as_mut() else {
                return Ok(Some(ws));
            };
            // After a failure the run is over: its commands will be answered again or the
            // connection closed, so nothing more of it may reach the engine.
            if let Some(e) = &pending.failed {
                return Err(e.clone());
            }
            if !ws.batch.touches_only(&DEFERRABLE) {
                return Ok(Some(ws));
            }
            for (key, value) in ws.batch.writes_to(Cf::Meta) {
                pending
                    .metas
                    .insert(key.to_vec(), value.map(<[u8]>::to_vec));
            }
            for (cf, staged) in SUB_FAMILIES.into_iter().zip(&mut pending.subs) {
                for (key, value) in ws.batch.writes_to(cf) {
                    staged.insert(key.to_vec(), value.map(<[u8]>::to_vec));
                }
            }
            pending.ws.merge(ws);
            pending.sets += 1;
            Ok(None)
        })?;
        let Some(ws) = ws else {
            return Ok(None);
        };
        // Pending writes come first; the deferral stays open for the commands after this one.
        self.commit_pending()?;
        Ok(Some(ws))
    }

    /// Commits what the open run has pending when that includes sub-key records, keeping
    /// the run open: called before a scan of sub-keys, which reads the engine alone.
    pub(super) fn settle_deferred(&self) -> StoreResult<()> {
        let has_subs = PENDING.with(|p| p.borrow().as_ref().is_some_and(Pending::has_subs));
        if has_subs {
            self.commit_pending()?;
        }
        Ok(())
    }

    /// Writes what the open run has pending (if anything), keeping the run open.
    fn commit_pending(&self) -> StoreResult<()> {
        let earlier = PENDING.with(|p| {
            let mut p = p.borrow_mut();
            let p = p.as_mut().filter(|p| p.sets > 0 && p.failed.is_none())?;
            p.metas.clear();
            p.subs.iter_mut().for_each(HashMap::clear);
            Some((std::mem::take(&mut p.ws), std::mem::take(&mut p.sets)))
        });
        if let Some((earlier, sets)) = earlier {
            let written = self.commit_now(earlier, sets);
            self.note_direct_commit(&written);
            written?;
        }
        Ok(())
    }

    /// The staged record of sub-key `key` of `cf` if this thread deferred a write to it:
    /// `Some(None)` when it was deleted, `None` when nothing is staged for it.
    pub(super) fn deferred_sub(&self, cf: Cf, key: &[u8]) -> Option<Option<Vec<u8>>> {
        let family = SUB_FAMILIES.iter().position(|&f| f == cf)?;
        PENDING.with(|p| p.borrow().as_ref()?.subs[family].get(key).cloned())
    }

    /// The staged record of `meta_key` if this thread deferred a write to it: `Some(None)`
    /// when it was deleted, `None` when nothing is staged for it.
    pub(super) fn deferred_meta(&self, meta_key: &[u8]) -> Option<StoreResult<Option<Meta>>> {
        PENDING.with(|p| {
            let p = p.borrow();
            let staged = p.as_ref()?.metas.get(meta_key)?;
            Some(staged.as_deref().map(Meta::decode).transpose())
        })
    }
}
