//! The storage engine: the ONLY module that imports `rocksdb`.
//!
//! It opens the database with Strata's column families and tuning, and exposes byte-level
//! primitives (point reads, ordered scans, atomic write batches, WAL control). Everything above
//! it speaks in [`Cf`], byte slices and [`Batch`], so the rest of the code base never sees a
//! RocksDB type. Invariant: every logical mutation is one `Batch`, committed atomically.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, Weak};

use rocksdb::compaction_filter::Decision;
use rocksdb::{
    BlockBasedIndexType, BlockBasedOptions, Cache, ColumnFamilyDescriptor, CompactOptions,
    DBCompressionType, DataBlockIndexType, MergeOperands, Options, ReadOptions, WriteBatch,
    WriteBufferManager, WriteOptions, DB,
};

use crate::error::{StoreError, StoreResult};

mod wal_tail;
pub use wal_tail::WalTail;

/// Column families, in the order of DESIGN §4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cf {
    Meta,
    Data,
    ZScore,
    Stream,
    Expire,
}

impl Cf {
    pub const ALL: [Cf; 5] = [Cf::Meta, Cf::Data, Cf::ZScore, Cf::Stream, Cf::Expire];

    pub fn name(self) -> &'static str {
        match self {
            Cf::Meta => "meta",
            Cf::Data => "data",
            Cf::ZScore => "zscore",
            Cf::Stream => "stream",
            Cf::Expire => "expire",
        }
    }
}

thread_local! {
    /// Engine writes made by this thread so far: the dispatch gate compares it before and
    /// after a command to know whether the command wrote (a script's writes count for the
    /// script's caller, which runs on the same thread).
    static WRITES_ON_THIS_THREAD: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// See [`WRITES_ON_THIS_THREAD`].
pub fn writes_on_this_thread() -> u64 {
    WRITES_ON_THIS_THREAD.with(std::cell::Cell::get)
}

/// RocksDB knobs exposed as `rocksdb-*` directives.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    pub block_cache_bytes: usize,
    /// Per-family memtable size.
    pub write_buffer_bytes: usize,
    /// All memtables together, charged to the block cache (0: unlimited).
    pub memtable_budget_bytes: usize,
    pub max_background_jobs: i32,
    pub max_open_files: i32,
    /// Compress levels L2 and below with LZ4 (L0/L1 stay uncompressed for write speed).
    pub compression: bool,
    /// `appendonly yes`: writes go through the WAL.
    pub wal_enabled: bool,
    /// WAL files kept after their memtables were flushed, so replicas can resume from them
    /// (`repl-backlog-ttl` seconds and `repl-backlog-size` megabytes; both 0: none kept).
    pub wal_retention_secs: u64,
    pub wal_retention_mb: u64,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            block_cache_bytes: 256 << 20,
            write_buffer_bytes: 64 << 20,
            memtable_budget_bytes: 0,
            max_background_jobs: 2,
            max_open_files: -1,
            compression: true,
            wal_enabled: true,
            wal_retention_secs: 3600,
            wal_retention_mb: 256,
        }
    }
}

/// An atomic group of mutations; nothing is visible until [`Engine::write`].
#[derive(Default)]
pub struct Batch {
    ops: Vec<Op>,
}

enum Op {
    Put(Cf, Vec<u8>, Vec<u8>),
    Delete(Cf, Vec<u8>),
    Merge(Cf, Vec<u8>, Vec<u8>),
    DeleteRange(Cf, Vec<u8>, Vec<u8>),
}

impl Batch {
    pub fn put(&mut self, cf: Cf, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.ops.push(Op::Put(cf, key.into(), value.into()));
    }
    pub fn delete(&mut self, cf: Cf, key: impl Into<Vec<u8>>) {
        self.ops.push(Op::Delete(cf, key.into()));
    }
    /// Adds a signed delta to an i64 counter record (see [`add_counters`]).
    pub fn add_counter(&mut self, cf: Cf, key: impl Into<Vec<u8>>, delta: i64) {
        self.ops
            .push(Op::Merge(cf, key.into(), delta.to_le_bytes().to_vec()));
    }
    /// Deletes every key in `[from, to)`.
    pub fn delete_range(&mut self, cf: Cf, from: impl Into<Vec<u8>>, to: impl Into<Vec<u8>>) {
        self.ops.push(Op::DeleteRange(cf, from.into(), to.into()));
    }
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Mutations staged so far (bulk loaders commit in bounded batches by it).
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// True when every mutation is a put, delete or counter merge in one of `families`.
    pub fn touches_only(&self, families: &[Cf]) -> bool {
        self.ops.iter().all(|op| match op {
            Op::Put(cf, ..) | Op::Delete(cf, _) | Op::Merge(cf, ..) => families.contains(cf),
            Op::DeleteRange(..) => false,
        })
    }

    /// The puts (`Some(value)`) and deletes (`None`) of `family`, in order.
    pub fn writes_to(&self, family: Cf) -> impl Iterator<Item = (&[u8], Option<&[u8]>)> {
        self.ops.iter().filter_map(move |op| match op {
            Op::Put(cf, k, v) if *cf == family => Some((k.as_slice(), Some(v.as_slice()))),
            Op::Delete(cf, k) if *cf == family => Some((k.as_slice(), None)),
            _ => None,
        })
    }

    /// True when the batch deletes a range of `family`.
    pub fn deletes_range_of(&self, family: Cf) -> bool {
        self.ops
            .iter()
            .any(|op| matches!(op, Op::DeleteRange(cf, ..) if *cf == family))
    }

    /// Appends `other`'s mutations after this batch's own.
    pub fn append(&mut self, other: Batch) {
        self.ops.extend(other.ops);
    }
}

/// Merge operator for counter records: values and operands are i64 little-endian; the result
/// is their sum. A `put` of an absolute value resets the chain (used by FLUSHDB).
fn add_counters(_key: &[u8], existing: Option<&[u8]>, operands: &MergeOperands) -> Option<Vec<u8>> {
    let mut total = existing.map(decode_counter).unwrap_or(0);
    for op in operands {
        total = total.wrapping_add(decode_counter(op));
    }
    Some(total.to_le_bytes().to_vec())
}

/// Decodes a counter record; a malformed record counts as zero rather than failing reads.
pub fn decode_counter(bytes: &[u8]) -> i64 {
    bytes.try_into().map(i64::from_le_bytes).unwrap_or(0)
}

pub struct Engine {
    db: Arc<DB>,
    path: PathBuf,
    wal_enabled: AtomicBool,
    /// Replicas are connected: writes are logged even under `appendonly no`, since the
    /// WAL is what replicas follow (see `Engine::set_wal_for_replicas`).
    wal_for_replicas: AtomicBool,
    filters: Arc<FilterContext>,
    /// Write options with the WAL on and off, built once instead of per write.
    write_wal: WriteOptions,
    write_no_wal: WriteOptions,
    /// Highest sequence number whose WAL bytes were handed to the OS.
    wal_flushed: std::sync::atomic::AtomicU64,
    /// The shared block cache and the memtable budget charged to it (resized by
    /// `CONFIG SET maxmemory`); absent for read-only opens.
    memory: Option<(Cache, WriteBufferManager)>,
    /// A replica's engine takes no writes of its own: its sequence numbers must advance
    /// exactly as its primary's batches say (see `docs/replication.md`), so [`Engine::write`]
    /// refuses and only [`Engine::write_logged`] writes.
    follower: AtomicBool,
    /// RocksDB's column family ids, indexed like [`Cf::ALL`] (write batches name families
    /// by id).
    cf_ids: [u32; 5],
    /// Woken after every write while someone waits for writes (a replica's feeder).
    written: tokio::sync::Notify,
    write_watchers: std::sync::atomic::AtomicUsize,
}

/// See [`Engine::watch_writes`].
pub struct WriteWatch<'a>(&'a Engine);

impl Drop for WriteWatch<'_> {
    fn drop(&mut self) {
        self.0.write_watchers.fetch_sub(1, Ordering::AcqRel);
    }
}

/// One write batch read back from the WAL: the sequence number of its first record, how
/// many sequence numbers it used, and RocksDB's serialized form of it.
pub struct LoggedBatch {
    pub seq: u64,
    pub count: u64,
    pub data: Vec<u8>,
}

/// What one record of a logged batch does to its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoggedOp<'a> {
    Put(&'a [u8]),
    Delete,
    /// A merge operand (the counters' `strata-counter-add` delta).
    Merge(&'a [u8]),
}

/// What one record of a logged batch touches (range deletes are not reported: writers that
/// use them also put a marker record, see `Storage::flush_db`).
struct TouchVisitor<'a, F: FnMut(Cf, &[u8], LoggedOp<'_>)> {
    ids: &'a [u32; 5],
    visit: F,
}

impl<F: FnMut(Cf, &[u8], LoggedOp<'_>)> TouchVisitor<'_, F> {
    fn touch(&mut self, cf_id: u32, key: &[u8], op: LoggedOp<'_>) {
        if let Some(i) = self.ids.iter().position(|&id| id == cf_id) {
            (self.visit)(Cf::ALL[i], key, op);
        }
    }
}

impl<F: FnMut(Cf, &[u8], LoggedOp<'_>)> rocksdb::WriteBatchIteratorCf for TouchVisitor<'_, F> {
    fn put_cf(&mut self, cf_id: u32, key: &[u8], value: &[u8]) {
        self.touch(cf_id, key, LoggedOp::Put(value));
    }
    fn delete_cf(&mut self, cf_id: u32, key: &[u8]) {
        self.touch(cf_id, key, LoggedOp::Delete);
    }
    fn merge_cf(&mut self, cf_id: u32, key: &[u8], value: &[u8]) {
        self.touch(cf_id, key, LoggedOp::Merge(value));
    }
}

/// Learns the families' ids by iterating a batch that names each once (the C API offers no
/// id getter through the Rust crate).
struct IdProbe(Vec<u32>);

impl rocksdb::WriteBatchIteratorCf for IdProbe {
    fn put_cf(&mut self, cf_id: u32, _key: &[u8], _value: &[u8]) {
        self.0.push(cf_id);
    }
    fn delete_cf(&mut self, _cf_id: u32, _key: &[u8]) {}
    fn merge_cf(&mut self, _cf_id: u32, _key: &[u8], _value: &[u8]) {}
}

fn probe_cf_ids(db: &DB) -> StoreResult<[u32; 5]> {
    let mut wb = WriteBatch::default();
    for cf in Cf::ALL {
        let handle = db
            .cf_handle(cf.name())
            .ok_or_else(|| StoreError::Engine(format!("missing column family {}", cf.name())))?;
        wb.put_cf(handle, b"", b"");
    }
    let mut probe = IdProbe(Vec::new());
    wb.iterate_cf(&mut probe);
    probe
        .0
        .try_into()
        .map_err(|_| StoreError::Engine("column family ids".into()))
}

/// What the sub-key compaction filters need: a way to read `meta`, installed after open, and
/// a flag that stops them from taking a new reference while the engine closes.
#[derive(Default)]
struct FilterContext {
    db: OnceLock<Weak<DB>>,
    closing: AtomicBool,
}

impl FilterContext {
    /// Compaction filter for a sub-key family: drops sub-keys of collections that are gone.
    fn sub_key_filter(
        self: &Arc<Self>,
    ) -> impl FnMut(u32, &[u8], &[u8]) -> Decision + Send + 'static {
        let ctx = self.clone();
        move |_level, key, _value| {
            if ctx.closing.load(Ordering::Acquire) {
                return Decision::Keep;
            }
            let Some(db) = ctx.db.get().and_then(Weak::upgrade) else {
                return Decision::Keep;
            };
            let Some((meta_key, version)) = crate::storage::reclaim::split_sub_key(key) else {
                return Decision::Keep;
            };
            let meta = match db.cf_handle(Cf::Meta.name()) {
                Some(cf) => db.get_cf(cf, &meta_key).map_err(|_| ()),
                None => Err(()),
            };
            let now = crate::storage::now_ms();
            if crate::storage::reclaim::is_garbage(version, meta, now) {
                Decision::Remove
            } else {
                Decision::Keep
            }
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        // Filters must not hold the last reference, or RocksDB would be closed from one of its
        // own background threads: stop them first, then let `db` drop here.
        self.filters.closing.store(true, Ordering::Release);
        self.db.cancel_all_background_work(true);
    }
}

/// The root cause of a failed write in the words `MISCONF` replies use ("No space left on
/// device"), not RocksDB's "While appending to file ..." wrapping.
fn write_failure_cause(message: &str) -> String {
    const KNOWN: &[&str] = &[
        "No space left on device",
        "Read-only file system",
        "Permission denied",
    ];
    KNOWN
        .iter()
        .find(|k| message.contains(*k))
        .map_or_else(|| message.to_string(), |k| (*k).to_string())
}

fn engine_err(err: rocksdb::Error) -> StoreError {
    StoreError::Engine(err.into_string())
}

impl Engine {
    /// Opens (creating if needed) the database at `path` with every column family.
    pub fn open(path: &Path, opts: &EngineOptions) -> StoreResult<Engine> {
        std::fs::create_dir_all(path)
            .map_err(|e| StoreError::Engine(format!("cannot create {}: {e}", path.display())))?;
        let cache = Cache::new_lru_cache(opts.block_cache_bytes);
        let write_buffers = WriteBufferManager::new_write_buffer_manager_with_cache(
            opts.memtable_budget_bytes,
            false,
            cache.clone(),
        );

        let mut db_opts = Options::default();
        db_opts.set_write_buffer_manager(&write_buffers);
        db_opts.create_if_missing(true);
        db_opts.create_missing_column_families(true);
        // Without the WAL (appendonly no) a flush must still be consistent across families.
        db_opts.set_atomic_flush(true);
        db_opts.set_max_background_jobs(opts.max_background_jobs);
        db_opts.set_max_open_files(opts.max_open_files);
        db_opts.set_keep_log_file_num(4);
        // Each write hands its WAL bytes to the OS itself. Buffering them until the reply
        // batch (manual WAL flush) saved a syscall per pipelined write (about 12% of SET
        // throughput at pipeline 16), but RocksDB treats a failed manual flush as fatal: after
        // ENOSPC the database never accepted writes again. Written per write, a full disk is
        // a hard error RocksDB recovers from by itself once space returns.
        db_opts.set_manual_wal_flush(false);
        // On a machine with few cores, writer threads spinning and yielding in the write
        // queue cost more than they save.
        db_opts.set_enable_write_thread_adaptive_yield(false);
        // Replicas resume from the WAL (`get_updates_since`), so flushed WAL files are
        // archived for a while instead of deleted.
        db_opts.set_wal_ttl_seconds(opts.wal_retention_secs);
        db_opts.set_wal_size_limit_mb(opts.wal_retention_mb);

        let filters = Arc::new(FilterContext::default());
        let descriptors = Cf::ALL.iter().map(|&cf| {
            let mut o = cf_options(cf, opts, &cache);
            if matches!(cf, Cf::Data | Cf::ZScore | Cf::Stream) {
                o.set_compaction_filter("strata-sub-key-reclaim", filters.sub_key_filter());
                // Per-member deletes leave tombstones; compact files dense with them.
                o.add_compact_on_deletion_collector_factory(128 * 1024, 32 * 1024, 0.5);
            }
            ColumnFamilyDescriptor::new(cf.name(), o)
        });
        let db =
            Arc::new(DB::open_cf_descriptors(&db_opts, path, descriptors).map_err(engine_err)?);
        let _ = filters.db.set(Arc::downgrade(&db));
        let mut write_no_wal = WriteOptions::default();
        write_no_wal.disable_wal(true);
        let cf_ids = probe_cf_ids(&db)?;
        Ok(Engine {
            db,
            path: path.to_path_buf(),
            wal_enabled: AtomicBool::new(opts.wal_enabled),
            wal_for_replicas: AtomicBool::new(false),
            filters,
            write_wal: WriteOptions::default(),
            write_no_wal,
            wal_flushed: std::sync::atomic::AtomicU64::new(0),
            memory: Some((cache, write_buffers)),
            follower: AtomicBool::new(false),
            cf_ids,
            written: tokio::sync::Notify::new(),
            write_watchers: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    /// Resizes the block cache and the memtable budget at run time.
    pub fn resize_memory(&self, block_cache_bytes: usize, memtable_budget_bytes: usize) {
        if let Some((cache, write_buffers)) = &self.memory {
            cache.clone().set_capacity(block_cache_bytes);
            write_buffers.set_buffer_size(memtable_budget_bytes);
        }
    }

    /// (block cache usage, memtable usage) in bytes; memtables are charged to the cache too.
    pub fn memory_usage(&self) -> (u64, u64) {
        match &self.memory {
            Some((cache, write_buffers)) => {
                (cache.get_usage() as u64, write_buffers.get_usage() as u64)
            }
            None => (0, 0),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn handle(&self, cf: Cf) -> StoreResult<&rocksdb::ColumnFamily> {
        self.db
            .cf_handle(cf.name())
            .ok_or_else(|| StoreError::Engine(format!("missing column family {}", cf.name())))
    }

    pub fn get(&self, cf: Cf, key: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        let handle = self.handle(cf)?;
        let value = self.db.get_pinned_cf(handle, key).map_err(engine_err)?;
        Ok(value.map(|v| v.to_vec()))
    }

    /// Commits `batch` atomically. The WAL is written (unless `appendonly no`) but not synced:
    /// syncing is the durability policy's job ([`Engine::sync_wal`]).
    pub fn write(&self, batch: Batch) -> StoreResult<()> {
        self.write_ref(&batch)
    }

    /// [`Engine::write`] leaving the batch to the caller, who reads what it wrote afterwards
    /// (the member cache's write-through) without copying it first.
    pub fn write_ref(&self, batch: &Batch) -> StoreResult<()> {
        if batch.is_empty() {
            return Ok(());
        }
        if self.follower.load(Ordering::Acquire) {
            return Err(StoreError::ReadOnlyReplica);
        }
        WRITES_ON_THIS_THREAD.with(|n| n.set(n.get().wrapping_add(1)));
        let wb = self.to_write_batch(batch, WriteBatch::default())?;
        self.write_batch(wb)
    }

    /// Appends `batch`'s mutations to `wb`.
    fn to_write_batch(&self, batch: &Batch, mut wb: WriteBatch) -> StoreResult<WriteBatch> {
        for op in &batch.ops {
            match op {
                Op::Put(cf, k, v) => wb.put_cf(self.handle(*cf)?, k, v),
                Op::Delete(cf, k) => wb.delete_cf(self.handle(*cf)?, k),
                Op::Merge(cf, k, v) => wb.merge_cf(self.handle(*cf)?, k, v),
                Op::DeleteRange(cf, from, to) => wb.delete_range_cf(self.handle(*cf)?, from, to),
            }
        }
        Ok(wb)
    }

    fn write_batch(&self, wb: WriteBatch) -> StoreResult<()> {
        let wo = if self.wal_enabled.load(Ordering::Relaxed)
            || self.wal_for_replicas.load(Ordering::Relaxed)
        {
            &self.write_wal
        } else {
            &self.write_no_wal
        };
        let written = self
            .db
            .write_opt(wb, wo)
            .map_err(|e| StoreError::WriteFailed(write_failure_cause(&e.into_string())));
        if self.write_watchers.load(Ordering::Acquire) > 0 {
            self.written.notify_waiters();
        }
        written
    }

    /// Woken after each write while [`Engine::watch_writes`] guards are alive.
    pub fn written(&self) -> &tokio::sync::Notify {
        &self.written
    }

    /// Turns on write wake-ups for as long as the guard lives.
    pub fn watch_writes(&self) -> WriteWatch<'_> {
        self.write_watchers.fetch_add(1, Ordering::AcqRel);
        WriteWatch(self)
    }

    /// Whether this engine belongs to a replica (local writes refused, see `follower`).
    pub fn is_follower(&self) -> bool {
        self.follower.load(Ordering::Acquire)
    }

    pub fn set_follower(&self, follower: bool) {
        self.follower.store(follower, Ordering::Release);
    }

    /// Writes a batch a primary logged (its serialized bytes, as [`Engine::logged_since`]
    /// returned them) followed by `extra`, atomically. The only write a follower takes.
    pub fn write_logged(&self, data: &[u8], extra: Batch) -> StoreResult<()> {
        let wb = self.to_write_batch(&extra, WriteBatch::from_data(data))?;
        self.write_batch(wb)
    }

    /// A follower's write on its primary's behalf (loading a full copy).
    pub fn write_from_primary(&self, batch: Batch) -> StoreResult<()> {
        let wb = self.to_write_batch(&batch, WriteBatch::default())?;
        self.write_batch(wb)
    }

    /// Sequence numbers a logged batch uses (its record count).
    pub fn logged_count(data: &[u8]) -> u64 {
        WriteBatch::from_data(data).len() as u64
    }

    /// Visits every key a logged batch puts, deletes or merges, in order, with its family
    /// and what the record does.
    pub fn visit_logged(&self, data: &[u8], visit: impl FnMut(Cf, &[u8], LoggedOp<'_>)) {
        let wb = WriteBatch::from_data(data);
        let mut visitor = TouchVisitor {
            ids: &self.cf_ids,
            visit,
        };
        wb.iterate_cf(&mut visitor);
    }

    /// The batches written after sequence number `after`, in order, until about
    /// `max_bytes` were collected. Empty when there is nothing newer; an error when the WAL
    /// holding `after + 1` is gone (the caller then needs a full copy).
    pub fn logged_since(&self, after: u64, max_bytes: usize) -> StoreResult<Vec<LoggedBatch>> {
        self.wal_tail(after).read(max_bytes)
    }

    /// A read position in the WAL after sequence number `after` that later reads resume
    /// from, for a feed that follows the log as it grows (see [`WalTail`]).
    pub fn wal_tail(&self, after: u64) -> WalTail {
        WalTail::new(self.db.clone(), after)
    }

    /// Takes a snapshot, tells `on_snapshot` its sequence number, then visits every record
    /// of every family as of that snapshot until `visit` returns false (full sync).
    pub fn snapshot_scan(
        &self,
        on_snapshot: impl FnOnce(u64),
        mut visit: impl FnMut(Cf, &[u8], &[u8]) -> bool,
    ) -> StoreResult<()> {
        let snapshot = self.db.snapshot();
        on_snapshot(snapshot.sequence_number());
        for cf in Cf::ALL {
            let mut ro = ReadOptions::default();
            ro.fill_cache(false);
            let mut it = snapshot.raw_iterator_cf_opt(self.handle(cf)?, ro);
            it.seek_to_first();
            while it.valid() {
                let (Some(k), Some(v)) = (it.key(), it.value()) else {
                    break;
                };
                if !visit(cf, k, v) {
                    return Ok(());
                }
                it.next();
            }
            it.status().map_err(engine_err)?;
        }
        Ok(())
    }

    /// Visits keys of `cf` in `[start, end)` in order until `visit` returns false.
    pub fn scan(
        &self,
        cf: Cf,
        start: &[u8],
        end: &[u8],
        mut visit: impl FnMut(&[u8], &[u8]) -> bool,
    ) -> StoreResult<()> {
        let mut ro = ReadOptions::default();
        ro.set_iterate_upper_bound(end.to_vec());
        let mut it = self.db.raw_iterator_cf_opt(self.handle(cf)?, ro);
        it.seek(start);
        while it.valid() {
            let (Some(k), Some(v)) = (it.key(), it.value()) else {
                break;
            };
            if !visit(k, v) {
                return Ok(());
            }
            it.next();
        }
        it.status().map_err(engine_err)
    }

    /// Visits keys of `cf` in `[start, end)` in descending order until `visit` returns false.
    pub fn scan_rev(
        &self,
        cf: Cf,
        start: &[u8],
        end: &[u8],
        mut visit: impl FnMut(&[u8], &[u8]) -> bool,
    ) -> StoreResult<()> {
        let mut ro = ReadOptions::default();
        ro.set_iterate_lower_bound(start.to_vec());
        ro.set_iterate_upper_bound(end.to_vec());
        let mut it = self.db.raw_iterator_cf_opt(self.handle(cf)?, ro);
        it.seek_to_last();
        while it.valid() {
            let (Some(k), Some(v)) = (it.key(), it.value()) else {
                break;
            };
            if !visit(k, v) {
                return Ok(());
            }
            it.prev();
        }
        it.status().map_err(engine_err)
    }

    /// Hands buffered WAL bytes to the OS (no fsync) if anything was written since the last
    /// time: after this a process crash loses nothing; a machine crash may.
    pub fn flush_wal_buffer(&self) -> StoreResult<()> {
        let latest = self.db.latest_sequence_number();
        if self.wal_flushed.load(Ordering::Acquire) >= latest {
            return Ok(());
        }
        self.db.flush_wal(false).map_err(engine_err)?;
        self.wal_flushed.fetch_max(latest, Ordering::AcqRel);
        Ok(())
    }

    /// Writes buffered WAL data to the OS and fsyncs it. Covers every write committed before.
    pub fn sync_wal(&self) -> StoreResult<()> {
        if !self.wal_enabled.load(Ordering::Relaxed) {
            return Ok(());
        }
        self.db.flush_wal(true).map_err(engine_err)
    }

    pub fn set_wal_enabled(&self, enabled: bool) {
        self.wal_enabled.store(enabled, Ordering::Relaxed);
    }

    /// While replicas are connected, every write is logged whatever `appendonly` says (it
    /// is not fsynced for them). A write made with the WAL off leaves a gap in the log that
    /// `logged_since` reports, so a replica that was away meanwhile takes a full copy
    /// instead of resuming past it.
    pub fn set_wal_for_replicas(&self, on: bool) {
        self.wal_for_replicas.store(on, Ordering::Relaxed);
    }

    pub fn wal_enabled(&self) -> bool {
        self.wal_enabled.load(Ordering::Relaxed)
    }

    /// Sequence number of the last committed write.
    pub fn latest_sequence(&self) -> u64 {
        self.db.latest_sequence_number()
    }

    /// Flushes every memtable to SST files (what `SAVE` means without a WAL).
    pub fn flush_memtables(&self) -> StoreResult<()> {
        let handles: Vec<_> = Cf::ALL
            .iter()
            .map(|&cf| self.handle(cf))
            .collect::<StoreResult<_>>()?;
        self.db
            .flush_cfs_opt(&handles, &rocksdb::FlushOptions::default())
            .map_err(engine_err)
    }

    /// Creates a RocksDB checkpoint (hard links to immutable files, after a memtable flush)
    /// at `to`, which must not exist; returns the sequence number it covers at least.
    pub fn checkpoint(&self, to: &Path) -> StoreResult<u64> {
        let seq = self.db.latest_sequence_number();
        let cp = rocksdb::checkpoint::Checkpoint::new(&self.db).map_err(engine_err)?;
        cp.create_checkpoint(to).map_err(engine_err)?;
        Ok(seq)
    }

    /// Opens a database read-only (for `strata checkpoint verify`).
    pub fn open_read_only(path: &Path) -> StoreResult<Engine> {
        let mut opts = Options::default();
        opts.set_merge_operator_associative("strata-counter-add", add_counters);
        let mut meta_opts = Options::default();
        meta_opts.set_merge_operator_associative("strata-counter-add", add_counters);
        let descriptors = Cf::ALL.iter().map(|&cf| {
            ColumnFamilyDescriptor::new(
                cf.name(),
                if cf == Cf::Meta {
                    meta_opts.clone()
                } else {
                    Options::default()
                },
            )
        });
        let db = DB::open_cf_descriptors_read_only(&opts, path, descriptors, false)
            .map_err(engine_err)?;
        let mut write_no_wal = WriteOptions::default();
        write_no_wal.disable_wal(true);
        let cf_ids = probe_cf_ids(&db)?;
        Ok(Engine {
            db: Arc::new(db),
            path: path.to_path_buf(),
            wal_enabled: AtomicBool::new(false),
            wal_for_replicas: AtomicBool::new(false),
            filters: Arc::new(FilterContext::default()),
            write_wal: WriteOptions::default(),
            write_no_wal,
            wal_flushed: std::sync::atomic::AtomicU64::new(0),
            memory: None,
            follower: AtomicBool::new(true),
            cf_ids,
            written: tokio::sync::Notify::new(),
            write_watchers: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    /// Reads every record of `cf` with block checksums verified, visiting each; any
    /// corruption RocksDB detects is returned as an error.
    pub fn verify_scan(&self, cf: Cf, mut visit: impl FnMut(&[u8], &[u8])) -> StoreResult<()> {
        let mut ro = ReadOptions::default();
        ro.set_verify_checksums(true);
        ro.fill_cache(false);
        let mut it = self.db.raw_iterator_cf_opt(self.handle(cf)?, ro);
        it.seek_to_first();
        while it.valid() {
            if let (Some(k), Some(v)) = (it.key(), it.value()) {
                visit(k, v);
            }
            it.next();
        }
        it.status().map_err(engine_err)
    }

    /// Compacts every family fully (the compaction filters reclaim garbage on the way).
    pub fn compact_all(&self) -> StoreResult<()> {
        let mut opts = CompactOptions::default();
        opts.set_bottommost_level_compaction(rocksdb::BottommostLevelCompaction::Force);
        for cf in Cf::ALL {
            self.db
                .compact_range_cf_opt(self.handle(cf)?, None::<&[u8]>, None::<&[u8]>, &opts);
        }
        Ok(())
    }

    /// An integer property of one family.
    pub fn cf_int_property(&self, cf: Cf, name: &str) -> u64 {
        self.handle(cf)
            .ok()
            .and_then(|h| self.db.property_int_value_cf(h, name).ok().flatten())
            .unwrap_or(0)
    }

    /// An integer property summed over all column families (e.g. `rocksdb.estimate-num-keys`).
    pub fn int_property(&self, name: &str) -> u64 {
        Cf::ALL
            .iter()
            .filter_map(|&cf| self.handle(cf).ok())
            .filter_map(|h| self.db.property_int_value_cf(h, name).ok().flatten())
            .sum()
    }
}

fn cf_options(cf: Cf, opts: &EngineOptions, cache: &Cache) -> Options {
    let mut table = BlockBasedOptions::default();
    table.set_block_cache(cache);
    table.set_bloom_filter(10.0, false);
    table.set_whole_key_filtering(true);
    table.set_cache_index_and_filter_blocks(true);
    table.set_pin_l0_filter_and_index_blocks_in_cache(true);
    // Partitioned index and filters: with data many times the block cache (a small
    // maxmemory), a point lookup loads one 4 KiB partition instead of a whole multi-megabyte
    // index block, and only the small top level stays pinned.
    table.set_index_type(BlockBasedIndexType::TwoLevelIndexSearch);
    table.set_partition_filters(true);
    table.set_metadata_block_size(4096);
    table.set_pin_top_level_index_and_filter(true);
    table.set_cache_index_and_filter_blocks_with_high_priority(true);
    if cf == Cf::Meta {
        // Point lookups dominate the meta family.
        table.set_data_block_index_type(DataBlockIndexType::BinaryAndHash);
        table.set_data_block_hash_ratio(0.75);
    }
    let mut o = Options::default();
    o.set_block_based_table_factory(&table);
    if cf == Cf::Meta {
        // Most reads are point lookups of one key, often missing (SET NX, EXISTS, new keys):
        // a memtable bloom filter answers those without walking the skiplist.
        o.set_memtable_whole_key_filtering(true);
        o.set_memtable_prefix_bloom_ratio(0.05);
    }
    o.set_write_buffer_size(opts.write_buffer_bytes);
    o.set_level_compaction_dynamic_level_bytes(true);
    if opts.compression {
        o.set_compression_per_level(&[
            DBCompressionType::None,
            DBCompressionType::None,
            DBCompressionType::Lz4,
            DBCompressionType::Lz4,
            DBCompressionType::Lz4,
            DBCompressionType::Lz4,
            DBCompressionType::Lz4,
        ]);
    } else {
        o.set_compression_type(DBCompressionType::None);
    }
    if cf == Cf::Meta {
        o.set_merge_operator_associative("strata-counter-add", add_counters);
    }
    o
}
