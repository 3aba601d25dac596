//! Replication between Strata servers (DESIGN §11, `docs/replication.md`): a primary streams
//! its RocksDB WAL batches to replicas, which apply them byte for byte.
//!
//! Offsets are derived from RocksDB sequence numbers: `offset = latest sequence + delta`,
//! where `delta` is fixed when a replica finishes a full copy (the primary's offset at its
//! snapshot minus the replica's own sequence after loading it). A replica's engine takes no
//! local writes, so each applied batch advances its sequence exactly as the primary's did,
//! and the offset always describes the data on disk, crashes included. A promoted replica
//! keeps its delta, so offsets stay monotonic and comparable across a failover.
//!
//! Which history an offset belongs to is named by replication ids, as in Redis: `replid` is
//! this node's current history; after a promotion `replid2` names the previous primary's,
//! valid up to `second_offset`. Both survive restarts in `<dir>/replication.state`.
//!
//! This module holds the shared state (role, ids, connected replicas, acknowledgements);
//! `primary` feeds replicas from a connection that sent `PSYNC`, `replica` runs the link
//! to a primary, `frame` is the wire format after the handshake. Depends on `storage`,
//! `config` and `protocol`; commands reach it through `ServerState::replication`.

pub mod failover;
pub mod frame;
pub mod from_redis;
pub mod primary;
pub mod rdb_feed;
pub mod replica;

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::storage::{now_ms, Storage};

/// What this node is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    Primary,
    Replica { host: String, port: u16 },
}

/// The state of a replica's link to its primary, as `ROLE` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum LinkState {
    Connect = 0,
    Connecting = 1,
    Sync = 2,
    Connected = 3,
}

impl LinkState {
    pub fn name(self) -> &'static str {
        match self {
            LinkState::Connect => "connect",
            LinkState::Connecting => "connecting",
            LinkState::Sync => "sync",
            LinkState::Connected => "connected",
        }
    }

    fn from_u8(v: u8) -> LinkState {
        match v {
            1 => LinkState::Connecting,
            2 => LinkState::Sync,
            3 => LinkState::Connected,
            _ => LinkState::Connect,
        }
    }
}

/// Replication ids and the offset mapping; persisted in `replication.state`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct History {
    pub replid: String,
    /// The previous primary's history (40 zeros: none).
    pub replid2: String,
    /// Last offset `replid2` is valid for (-1: none).
    pub second_offset: i64,
    /// `offset = latest sequence + delta`.
    pub delta: i64,
    /// Offsets at or before this one are not in this node's WAL as batches (a full copy
    /// was loaded there): partial syncs from earlier offsets are refused.
    pub history_start: u64,
}

pub const NO_REPLID: &str = "0000000000000000000000000000000000000000";

pub fn new_replid() -> String {
    (0..40)
        .map(|_| format!("{:x}", rand::random::<u8>() % 16))
        .collect()
}

impl History {
    fn fresh() -> History {
        History {
            replid: new_replid(),
            replid2: NO_REPLID.to_string(),
            second_offset: -1,
            delta: 0,
            history_start: 0,
        }
    }

    fn encode(&self) -> String {
        format!(
            "replid {}\nreplid2 {}\nsecond_offset {}\ndelta {}\nhistory_start {}\n",
            self.replid, self.replid2, self.second_offset, self.delta, self.history_start
        )
    }

    fn decode(text: &str) -> Option<History> {
        let mut h = History::fresh();
        for line in text.lines() {
            let (name, value) = line.split_once(' ')?;
            match name {
                "replid" => h.replid = value.to_string(),
                "replid2" => h.replid2 = value.to_string(),
                "second_offset" => h.second_offset = value.parse().ok()?,
                "delta" => h.delta = value.parse().ok()?,
                "history_start" => h.history_start = value.parse().ok()?,
                _ => {}
            }
        }
        Some(h)
    }

    fn path(dir: &Path) -> PathBuf {
        dir.join("replication.state")
    }

    /// Loads the persisted history, or starts a fresh one (a new data directory).
    pub fn load(dir: &Path) -> History {
        std::fs::read_to_string(Self::path(dir))
            .ok()
            .and_then(|t| History::decode(&t))
            .unwrap_or_else(History::fresh)
    }

    /// Writes the history atomically (temporary file, fsync, rename).
    pub fn save(&self, dir: &Path) -> std::io::Result<()> {
        use std::io::Write;
        let tmp = dir.join("replication.state.tmp");
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(self.encode().as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, Self::path(dir))?;
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// Whether a replica that followed `replid` up to `offset` can continue from this
    /// node's WAL (Redis's `PSYNC` rule, with this node's WAL as the backlog).
    pub fn can_continue(&self, replid: &str, offset: u64, own_offset: u64) -> bool {
        if offset < self.history_start {
            return false;
        }
        (replid == self.replid && offset <= own_offset)
            || (replid == self.replid2
                && self.replid2 != NO_REPLID
                && (offset as i64) <= self.second_offset)
    }
}

/// A replica connected to this node, as the primary sees it.
pub struct ReplicaLink {
    pub id: u64,
    pub ip: String,
    pub listening_port: AtomicU64,
    /// Offset the replica acknowledged having applied.
    pub acked: AtomicU64,
    /// Unix ms of the last acknowledgement.
    pub last_ack_ms: AtomicU64,
    /// 0: full copy being sent, 1: online (streaming batches).
    pub online: AtomicBool,
    /// Set to make the feeder drop the link (role change, `CLIENT KILL TYPE replica`).
    pub dropped: AtomicBool,
    /// Wakes the feeder: the link was dropped or a message was queued.
    pub wake: Notify,
    /// Frames that are not in the WAL (published messages, keyspace events), as
    /// (frame tag, payload), in the order they happened.
    messages: Mutex<VecDeque<(u8, Vec<u8>)>>,
}

/// Messages and events queued for one replica before the oldest are dropped (a replica that
/// cannot keep up, or is still loading a full copy under a write load, loses them, as a
/// slow subscriber would be disconnected). Dropping is O(1): a full queue is the case
/// where every write pushes.
const MESSAGE_QUEUE: usize = 10_000;

impl ReplicaLink {
    /// Queues a frame (`frame::MESSAGE` or `frame::EVENT`) for the feeder to send.
    pub fn push_message(&self, tag: u8, payload: Vec<u8>) {
        let mut q = self.messages.lock();
        if q.len() >= MESSAGE_QUEUE {
            q.pop_front();
        }
        q.push_back((tag, payload));
        drop(q);
        self.wake.notify_one();
    }

    pub fn take_messages(&self) -> VecDeque<(u8, Vec<u8>)> {
        std::mem::take(&mut *self.messages.lock())
    }
}

pub struct Replication {
    dir: PathBuf,
    role: Mutex<Role>,
    history: Mutex<History>,
    /// Bumped on every role change: a link task of an older generation stops.
    generation: AtomicU64,
    link_state: AtomicU8,
    /// Unix ms of the last byte from the primary (0: never).
    pub last_io_ms: AtomicU64,
    /// Unix ms the link went down (0: up or never connected).
    pub link_down_since_ms: AtomicU64,
    /// A full copy is being loaded (`INFO` `loading:1`, commands get `-LOADING`).
    pub loading: AtomicBool,
    pub replicas: Mutex<Vec<Arc<ReplicaLink>>>,
    /// `replicas` is not empty (read on every write, without the lock).
    has_replicas: AtomicBool,
    next_link_id: AtomicU64,
    /// Woken when a replica acknowledges (WAIT).
    pub acked: Notify,
    pub stats: ReplicationStats,
    /// `min-replicas-to-write` and `min-replicas-max-lag`, kept here because the dispatch
    /// gate reads them for every write (set by `ServerState::apply_config_change`).
    pub min_replicas_to_write: AtomicI64,
    pub min_replicas_max_lag: AtomicI64,
    /// A `FAILOVER` this node runs as the primary handing over.
    pub failover: failover::Failover,
    /// `replica-serve-stale-data`: whether a replica whose link is down still answers.
    pub serve_stale_data: AtomicBool,
    /// Set while this node replicates a real `redis-server` (see `from_redis`): the
    /// engine then takes the link's commands as local writes, so the gate refuses
    /// clients' writes by this flag instead of the engine's follower mode.
    follows_redis: AtomicBool,
    /// The Redis primary's replication offset this node has applied up to.
    redis_offset: AtomicU64,
    /// The Redis primary's replication id, for a partial resync after a dropped link.
    pub redis_replid: Mutex<Option<String>>,
}

#[derive(Default)]
pub struct ReplicationStats {
    pub sync_full: AtomicU64,
    pub sync_partial_ok: AtomicU64,
    pub sync_partial_err: AtomicU64,
}

impl Replication {
    pub fn new(dir: &Path) -> Replication {
        let history = History::load(dir);
        if !History::path(dir).exists() {
            if let Err(e) = history.save(dir) {
                tracing::warn!("cannot write {}: {e}", History::path(dir).display());
            }
        }
        Replication {
            dir: dir.to_path_buf(),
            role: Mutex::new(Role::Primary),
            history: Mutex::new(history),
            generation: AtomicU64::new(0),
            link_state: AtomicU8::new(LinkState::Connect as u8),
            last_io_ms: AtomicU64::new(0),
            link_down_since_ms: AtomicU64::new(0),
            loading: AtomicBool::new(false),
            replicas: Mutex::new(Vec::new()),
            has_replicas: AtomicBool::new(false),
            next_link_id: AtomicU64::new(1),
            acked: Notify::new(),
            stats: ReplicationStats::default(),
            min_replicas_to_write: AtomicI64::new(0),
            min_replicas_max_lag: AtomicI64::new(10),
            serve_stale_data: AtomicBool::new(true),
            failover: failover::Failover::default(),
            follows_redis: AtomicBool::new(false),
            redis_offset: AtomicU64::new(0),
            redis_replid: Mutex::new(None),
        }
    }

    /// Whether this node's primary is a real `redis-server`.
    pub fn follows_redis(&self) -> bool {
        self.follows_redis.load(Ordering::Acquire)
    }

    /// Marks the link as one to a `redis-server` (or not), with the engine's follower mode
    /// set to match: off for Redis, whose commands are applied as local writes.
    pub fn set_follows_redis(&self, storage: &Storage, redis: bool) {
        self.follows_redis.store(redis, Ordering::Release);
        storage.engine().set_follower(!redis && self.is_replica());
        if !redis {
            *self.redis_replid.lock() = None;
        }
    }

    pub fn set_redis_offset(&self, offset: u64) {
        self.redis_offset.store(offset, Ordering::Release);
    }

    /// Whether client writes must be refused: a replica of a Strata primary (engine in
    /// follower mode) or of a Redis primary.
    pub fn refuses_client_writes(&self, storage: &Storage) -> bool {
        storage.engine().is_follower() || self.follows_redis()
    }

    /// Whether a command without the `stale` flag must get `-MASTERDOWN`: this node is a
    /// replica, its link is not up and `replica-serve-stale-data` is `no`.
    pub fn refuses_stale_reads(&self) -> bool {
        !self.serve_stale_data.load(Ordering::Relaxed)
            && self.link_state() != LinkState::Connected
            && self.is_replica()
    }

    pub fn role(&self) -> Role {
        self.role.lock().clone()
    }

    pub fn is_replica(&self) -> bool {
        matches!(*self.role.lock(), Role::Replica { .. })
    }

    pub fn history(&self) -> History {
        self.history.lock().clone()
    }

    /// Replaces the history and persists it.
    pub fn set_history(&self, next: History) {
        let mut h = self.history.lock();
        if *h != next {
            if let Err(e) = next.save(&self.dir) {
                tracing::error!("cannot persist the replication state: {e}");
            }
            *h = next;
        }
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub fn link_state(&self) -> LinkState {
        LinkState::from_u8(self.link_state.load(Ordering::Acquire))
    }

    pub fn set_link_state(&self, s: LinkState) {
        let before = self.link_state.swap(s as u8, Ordering::AcqRel);
        if s == LinkState::Connected {
            self.link_down_since_ms.store(0, Ordering::Relaxed);
        } else if before == LinkState::Connected as u8 {
            self.link_down_since_ms.store(now_ms(), Ordering::Relaxed);
        }
    }

    /// This node's replication offset: what its data on disk covers.
    pub fn offset(&self, storage: &Storage) -> u64 {
        if self.follows_redis() {
            return self.redis_offset.load(Ordering::Acquire);
        }
        let delta = self.history.lock().delta;
        (storage.engine().latest_sequence() as i64 + delta).max(0) as u64
    }

    /// The offset a local sequence number corresponds to.
    pub fn offset_at(&self, seq: u64) -> u64 {
        let delta = self.history.lock().delta;
        (seq as i64 + delta).max(0) as u64
    }

    /// The local sequence number an offset corresponds to.
    pub fn seq_of(&self, offset: u64) -> u64 {
        let delta = self.history.lock().delta;
        (offset as i64 - delta).max(0) as u64
    }

    /// Makes this node a replica of `host:port` (the caller holds the storage's global lock
    /// exclusively, so no local write is in flight). Returns the new generation.
    pub fn become_replica(&self, storage: &Storage, host: String, port: u16) -> u64 {
        *self.role.lock() = Role::Replica { host, port };
        storage.engine().set_follower(true);
        self.set_link_state(LinkState::Connect);
        self.link_down_since_ms.store(now_ms(), Ordering::Relaxed);
        self.drop_replicas();
        self.generation.fetch_add(1, Ordering::AcqRel) + 1
    }

    /// Makes this node a primary (`REPLICAOF NO ONE`): the current history becomes the
    /// previous one, valid up to the current offset, and a new one starts.
    pub fn become_primary(&self, storage: &Storage) -> crate::error::StoreResult<()> {
        self.generation.fetch_add(1, Ordering::AcqRel);
        let was_replica = self.is_replica();
        *self.role.lock() = Role::Primary;
        self.loading.store(false, Ordering::Release);
        storage.engine().set_follower(false);
        self.follows_redis.store(false, Ordering::Release);
        *self.redis_replid.lock() = None;
        if was_replica {
            let offset = self.offset(storage);
            let mut h = self.history();
            h.replid2 = std::mem::replace(&mut h.replid, new_replid());
            h.second_offset = offset as i64;
            self.set_history(h);
            storage.reload_derived_state()?;
            self.drop_replicas();
        }
        self.set_link_state(LinkState::Connect);
        self.link_down_since_ms.store(0, Ordering::Relaxed);
        Ok(())
    }

    /// The link of the replica announcing `host:port` (Redis's `findReplica`).
    pub fn find_replica(&self, host: &str, port: u16) -> Option<Arc<ReplicaLink>> {
        self.replicas
            .lock()
            .iter()
            .find(|l| l.ip == host && l.listening_port.load(Ordering::Relaxed) == u64::from(port))
            .cloned()
    }

    /// Adds a replica's link. From here on every write is logged, `appendonly no` or not:
    /// the WAL is what the replica follows.
    pub fn register_replica(&self, storage: &Storage, ip: String) -> Arc<ReplicaLink> {
        storage.engine().set_wal_for_replicas(true);
        let link = Arc::new(ReplicaLink {
            id: self.next_link_id.fetch_add(1, Ordering::Relaxed),
            ip,
            listening_port: AtomicU64::new(0),
            acked: AtomicU64::new(0),
            last_ack_ms: AtomicU64::new(now_ms()),
            online: AtomicBool::new(false),
            dropped: AtomicBool::new(false),
            wake: Notify::new(),
            messages: Mutex::new(VecDeque::new()),
        });
        let mut links = self.replicas.lock();
        links.push(link.clone());
        self.has_replicas.store(true, Ordering::Release);
        drop(links);
        link
    }

    /// Whether any replica is connected: their writes' effects are worth reporting (the
    /// keyspace events are relayed to them, see `primary::propagate_event`).
    pub fn has_replicas(&self) -> bool {
        self.has_replicas.load(Ordering::Acquire)
    }

    /// Removes a replica's link; the last one to go lets `appendonly no` skip the WAL again.
    pub fn unregister_replica(&self, storage: &Storage, id: u64) {
        let mut links = self.replicas.lock();
        links.retain(|l| l.id != id);
        if links.is_empty() {
            storage.engine().set_wal_for_replicas(false);
            self.has_replicas.store(false, Ordering::Release);
        }
        drop(links);
        self.acked.notify_waiters();
    }

    /// Disconnects every replica fed by this node (they reconnect and resync).
    pub fn drop_replicas(&self) {
        for link in self.replicas.lock().iter() {
            link.dropped.store(true, Ordering::Release);
            link.wake.notify_one();
        }
    }

    /// Online replicas that acknowledged within the last `max_lag_secs` whole seconds
    /// (Redis's "good replicas" of `min-replicas-max-lag`).
    pub fn good_replicas(&self, max_lag_secs: u64) -> usize {
        let now = now_ms();
        self.replicas
            .lock()
            .iter()
            .filter(|l| {
                l.online.load(Ordering::Acquire)
                    && now.saturating_sub(l.last_ack_ms.load(Ordering::Relaxed)) / 1000
                        <= max_lag_secs
            })
            .count()
    }

    /// `min-replicas-to-write` and `-max-lag` when both are on (Redis's condition for
    /// checking, and for the `min_slaves_good_slaves` INFO line).
    pub fn min_replicas_rule(&self) -> Option<(usize, u64)> {
        let min = self.min_replicas_to_write.load(Ordering::Relaxed);
        let max_lag = self.min_replicas_max_lag.load(Ordering::Relaxed);
        (min > 0 && max_lag > 0).then_some((min as usize, max_lag as u64))
    }

    /// False when the `min-replicas-to-write` rule is on and fewer good replicas remain (a
    /// replica's writes are refused earlier, with `-READONLY`).
    pub fn enough_replicas_to_write(&self) -> bool {
        self.min_replicas_rule()
            .is_none_or(|(min, max_lag)| self.good_replicas(max_lag) >= min)
    }

    /// Replicas whose acknowledged offset reached `offset`.
    pub fn replicas_at(&self, offset: u64) -> usize {
        self.replicas
            .lock()
            .iter()
            .filter(|l| {
                l.online.load(Ordering::Acquire) && l.acked.load(Ordering::Acquire) >= offset
            })
            .count()
    }
}

/// Makes this node a primary, as `REPLICAOF NO ONE` does (the caller holds the storage's
/// global lock exclusively). Nothing happens on a node that is a primary already.
pub fn promote(state: &crate::state::ServerState) -> crate::error::StoreResult<()> {
    if state.replication.is_replica() {
        state.replication.become_primary(&state.storage)?;
        state.config.set_internal("replicaof", "");
    }
    Ok(())
}
