//! Tailing the WAL for a replica feed: one RocksDB transaction-log iterator kept open
//! across reads, so each read costs only the batches written since the last one.
//!
//! Why not `DB::get_updates_since` per read: a new transaction-log iterator seeks to its
//! start sequence by reading the WAL file that holds it from the file's first record, so a
//! feed that asks again after every few batches re-reads the live WAL file over and over.
//! Under `SET -P 16` that was 29% of a primary's CPU (benches/PROFILE.md, fifth pass). A
//! RocksDB iterator that reached the end of the log resumes when `Next` is called again
//! (it clears the reader's end-of-file mark and reads what was appended), but the Rust
//! crate's `DBWALIterator` hides that: its `next` returns `None` for good once the iterator
//! is invalid. So this module drives RocksDB's C API directly (`librocksdb-sys`, the crate
//! `rocksdb` itself links), the only raw FFI in the code base.
//!
//! Invariants:
//! - The iterator is destroyed before the `DB` it reads (field order; `db` is an `Arc`
//!   clone held only for that).
//! - Batches come out gap-free and in sequence order: a batch that does not start where
//!   the previous one ended is an error, never skipped over.
//! - When RocksDB cannot resume (it moved to a WAL file the iterator did not list, or it
//!   failed), the iterator is rebuilt once from the next wanted sequence number.
//!
//! Depends on: `librocksdb-sys`, `rocksdb` (for `DB`'s raw pointer), the engine's types.

use std::ffi::{c_char, c_void, CStr};
use std::ptr;
use std::sync::Arc;

use librocksdb_sys as ffi;
use rocksdb::{AsRawPtr, DB};

use super::LoggedBatch;
use crate::error::{StoreError, StoreResult};

/// A read position in the WAL that survives between reads (see the module doc).
pub struct WalTail {
    // Declared before `db`: fields drop in order, and the iterator must go first.
    iter: Option<RawWalIterator>,
    db: Arc<DB>,
    /// The first sequence number not yet returned.
    next: u64,
}

// SAFETY: RocksDB's transaction-log iterator is not shared (`WalTail` is not `Sync` and
// its methods take `&mut self`), and nothing in it is tied to the thread that made it.
unsafe impl Send for WalTail {}

impl WalTail {
    /// A tail that returns the batches after sequence number `after`.
    pub(super) fn new(db: Arc<DB>, after: u64) -> WalTail {
        WalTail {
            iter: None,
            db,
            next: after + 1,
        }
    }

    /// Whether a read resumes from a kept position (cheap) rather than seeking to it
    /// first, which reads the WAL file holding it from the start.
    pub fn is_positioned(&self) -> bool {
        self.iter.is_some()
    }

    /// The batches logged since the last one returned, in order, until about `max_bytes`
    /// of them; empty when there is nothing new. An error means the log no longer holds
    /// the next batch (or never did: a write that skipped the WAL).
    pub fn read(&mut self, max_bytes: usize) -> StoreResult<Vec<LoggedBatch>> {
        let mut out = Vec::new();
        // Every batch up to `latest` is in the log by now, unless it was written with the
        // WAL off: RocksDB publishes a sequence number only after the batch's log write.
        let latest = self.db.latest_sequence_number();
        if self.next > latest {
            return Ok(out);
        }
        let mut rebuilt = false;
        let mut bytes = 0;
        loop {
            let iter = match &mut self.iter {
                Some(iter) => {
                    if !iter.valid() {
                        // Caught up last time: ask for what was appended since.
                        iter.advance();
                    }
                    iter
                }
                None => {
                    rebuilt = true;
                    self.iter.insert(RawWalIterator::open(&self.db, self.next)?)
                }
            };
            while iter.valid() {
                let (seq, count, data) = iter.batch();
                iter.advance();
                if seq + count <= self.next {
                    // Ends before `next`: a fresh iterator may start a batch early.
                    continue;
                }
                if seq != self.next {
                    let wanted = self.next;
                    self.iter = None;
                    return Err(StoreError::Engine(format!(
                        "WAL gap: wanted sequence {wanted}, found {seq}"
                    )));
                }
                self.next = seq + count;
                bytes += data.len();
                out.push(LoggedBatch { seq, count, data });
                if bytes >= max_bytes {
                    return Ok(out);
                }
            }
            if self.next > latest || !out.is_empty() {
                return Ok(out);
            }
            // Behind `latest` and nothing read: RocksDB could not resume (the log moved on
            // to a file this iterator did not list, or it failed). One fresh iterator.
            let status = self.iter.take().map_or(Ok(()), |iter| iter.status());
            if rebuilt {
                status?;
                // The newest writes skipped the WAL (`appendonly no` with no replica).
                return Err(StoreError::Engine(format!(
                    "WAL gap: sequences {}..={latest} were not logged",
                    self.next
                )));
            }
        }
    }
}

/// Owns one `rocksdb_wal_iterator_t`.
struct RawWalIterator(*mut ffi::rocksdb_wal_iterator_t);

impl RawWalIterator {
    /// RocksDB's `GetUpdatesSince(seq)`: positioned at the batch that holds `seq`.
    fn open(db: &DB, seq: u64) -> StoreResult<RawWalIterator> {
        let mut err: *mut c_char = ptr::null_mut();
        // SAFETY: the DB pointer is live for the call (`db` is borrowed); a null read
        // options pointer selects RocksDB's defaults; `err` is an out-parameter.
        let iter =
            unsafe { ffi::rocksdb_get_updates_since(db.as_raw_ptr(), seq, ptr::null(), &mut err) };
        take_error(err)?;
        if iter.is_null() {
            return Err(StoreError::Engine("WAL iterator not created".into()));
        }
        Ok(RawWalIterator(iter))
    }

    fn valid(&self) -> bool {
        // SAFETY: `self.0` is a live iterator (created by `open`, freed only in `drop`).
        unsafe { ffi::rocksdb_wal_iter_valid(self.0) != 0 }
    }

    /// RocksDB's `Next`: moves past the current batch, or, at the end, reads what was
    /// appended since (a no-op once the iterator failed).
    fn advance(&mut self) {
        // SAFETY: as in `valid`.
        unsafe { ffi::rocksdb_wal_iter_next(self.0) }
    }

    fn status(&self) -> StoreResult<()> {
        let mut err: *mut c_char = ptr::null_mut();
        // SAFETY: as in `valid`; `err` is an out-parameter.
        unsafe { ffi::rocksdb_wal_iter_status(self.0, &mut err) };
        take_error(err)
    }

    /// The current batch (only while `valid`): first sequence number, how many sequence
    /// numbers it uses, RocksDB's serialized form. RocksDB hands the batch over, so this
    /// is called once per position.
    fn batch(&mut self) -> (u64, u64, Vec<u8>) {
        let mut seq = 0u64;
        // SAFETY: the iterator is live and valid; the returned batch is ours to destroy,
        // and `rocksdb_writebatch_data`'s bytes live until then, so they are copied first.
        unsafe {
            let wb = ffi::rocksdb_wal_iter_get_batch(self.0, &mut seq);
            let mut len = 0usize;
            let data = ffi::rocksdb_writebatch_data(wb, &mut len);
            let bytes = std::slice::from_raw_parts(data.cast::<u8>(), len).to_vec();
            let count = ffi::rocksdb_writebatch_count(wb);
            ffi::rocksdb_writebatch_destroy(wb);
            (seq, u64::try_from(count).unwrap_or(0), bytes)
        }
    }
}

impl Drop for RawWalIterator {
    fn drop(&mut self) {
        // SAFETY: created by `open`, destroyed once, here.
        unsafe { ffi::rocksdb_wal_iter_destroy(self.0) }
    }
}

/// Turns RocksDB's C error out-parameter into a result, freeing the message.
fn take_error(err: *mut c_char) -> StoreResult<()> {
    if err.is_null() {
        return Ok(());
    }
    // SAFETY: a non-null `err` is a NUL-terminated string RocksDB allocated for us.
    let message = unsafe { CStr::from_ptr(err) }
        .to_string_lossy()
        .into_owned();
    // SAFETY: freed once, with RocksDB's allocator, after its last use above.
    unsafe { ffi::rocksdb_free(err.cast::<c_void>()) };
    Err(StoreError::Engine(message))
}

#[cfg(test)]
mod tests {
    use super::super::{Batch, Cf, Engine, EngineOptions};

    fn engine(wal_enabled: bool) -> (tempfile::TempDir, Engine) {
        let dir = tempfile::tempdir().unwrap();
        let opts = EngineOptions {
            block_cache_bytes: 8 << 20,
            write_buffer_bytes: 4 << 20,
            wal_enabled,
            ..Default::default()
        };
        let engine = Engine::open(dir.path(), &opts).unwrap();
        (dir, engine)
    }

    /// Writes `n` batches of two records each, keys `prefix0..`.
    fn write(engine: &Engine, prefix: &str, n: usize) {
        for i in 0..n {
            let mut batch = Batch::default();
            batch.put(Cf::Meta, format!("{prefix}{i}"), b"v".to_vec());
            batch.put(Cf::Data, format!("{prefix}{i}"), vec![b'x'; 100]);
            engine.write(batch).unwrap();
        }
    }

    /// Checks the batches are contiguous from `after + 1`; returns where they end.
    fn contiguous(after: u64, batches: &[super::LoggedBatch]) -> u64 {
        let mut next = after + 1;
        for b in batches {
            assert_eq!(b.seq, next, "batches must not skip or repeat");
            assert_eq!(b.count, 2);
            next = b.seq + b.count;
        }
        next - 1
    }

    #[test]
    fn a_kept_tail_reads_on_across_writes_and_wal_switches() {
        let (_dir, engine) = engine(true);
        write(&engine, "a", 5);
        let mut tail = engine.wal_tail(0);
        assert!(!tail.is_positioned());
        let first = tail.read(usize::MAX).unwrap();
        assert_eq!(first.len(), 5);
        let mut at = contiguous(0, &first);
        assert!(tail.is_positioned());
        assert!(tail.read(usize::MAX).unwrap().is_empty(), "nothing new yet");

        // Appended to the same WAL file: the kept iterator resumes.
        write(&engine, "b", 3);
        let more = tail.read(usize::MAX).unwrap();
        assert_eq!(more.len(), 3);
        at = contiguous(at, &more);

        // A flush moves the log to a new file the iterator never listed: rebuilt once.
        engine.flush_memtables().unwrap();
        write(&engine, "c", 4);
        let after_switch = tail.read(usize::MAX).unwrap();
        assert_eq!(after_switch.len(), 4);
        at = contiguous(at, &after_switch);
        assert_eq!(at, engine.latest_sequence());

        // The same bytes a fresh one-shot read gives for the whole range.
        let mut kept: Vec<Vec<u8>> = first.into_iter().map(|b| b.data).collect();
        kept.extend(more.into_iter().map(|b| b.data));
        kept.extend(after_switch.into_iter().map(|b| b.data));
        let fresh: Vec<Vec<u8>> = engine
            .logged_since(0, usize::MAX)
            .unwrap()
            .into_iter()
            .map(|b| b.data)
            .collect();
        assert_eq!(kept, fresh);
    }

    #[test]
    fn reads_stop_near_max_bytes_and_continue_where_they_stopped() {
        let (_dir, engine) = engine(true);
        write(&engine, "k", 10);
        let mut tail = engine.wal_tail(4);
        let mut at = 4;
        let mut reads = 0;
        loop {
            let got = tail.read(1).unwrap();
            if got.is_empty() {
                break;
            }
            assert_eq!(got.len(), 1, "max_bytes 1 stops after one batch");
            at = contiguous(at, &got);
            reads += 1;
        }
        assert_eq!(reads, 8, "sequences 5..=20 in batches of two");
        assert_eq!(at, engine.latest_sequence());
    }

    #[test]
    fn writes_that_skipped_the_wal_are_a_gap_not_silence() {
        let (_dir, engine) = engine(false);
        write(&engine, "k", 3);
        let err = engine.wal_tail(0).read(usize::MAX).err().expect("a gap");
        assert!(err.to_string().contains("WAL gap"), "{err}");
    }
}
