//! Process-wide shared state handed to every command: storage, configuration, the client
//! registry, the command table, statistics and the shutdown signal.
//!
//! Sits below `commands` and `server` (both read it) and above `storage`/`config`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering};
use std::time::Instant;

use parking_lot::Mutex;
use tokio::sync::watch;

use crate::blocking::BlockingRegistry;
use crate::client::ClientRegistry;
use crate::commands::table::CommandTable;
use crate::config::ConfigStore;
use crate::storage::budget::{self, Budget};
use crate::storage::hot_tier::{HotTier, LfuTuning, Policy};
use crate::storage::Storage;
use crate::watch::WatchRegistry;

/// Server-wide counters for `INFO stats`.
#[derive(Default)]
pub struct ServerStats {
    pub total_connections: AtomicU64,
    pub rejected_connections: AtomicU64,
    pub total_commands: AtomicU64,
    pub net_input_bytes: AtomicU64,
    pub net_output_bytes: AtomicU64,
}

/// Server-side `SCAN` cursors: a plain integer handed to the client maps to the raw position
/// after which the next page starts. Unknown cursors restart the scan, which may repeat keys
/// but never skips one (SCAN's contract).
pub struct ScanCursors {
    next: AtomicU64,
    positions: Mutex<HashMap<u64, Vec<u8>>>,
}

const MAX_CURSORS: usize = 65536;

impl ScanCursors {
    fn new() -> ScanCursors {
        // Start at a random point so cursors of a previous process are unlikely to collide
        // with this one's.
        let start = u64::from(rand::random::<u32>()) << 16;
        ScanCursors {
            next: AtomicU64::new(start.max(1)),
            positions: Mutex::new(HashMap::new()),
        }
    }

    pub fn save(&self, position: Vec<u8>) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let mut map = self.positions.lock();
        if map.len() >= MAX_CURSORS {
            // Drop the oldest half; clients holding them restart their scans.
            let cutoff = id.saturating_sub((MAX_CURSORS / 2) as u64);
            map.retain(|&k, _| k >= cutoff);
        }
        map.insert(id, position);
        id
    }

    pub fn load(&self, id: u64) -> Option<Vec<u8>> {
        self.positions.lock().get(&id).cloned()
    }
}

/// Applies a `loglevel` value to the process's logger.
pub type LogLevelHook = Box<dyn Fn(&str) + Send + Sync>;

pub struct ServerState {
    pub storage: Storage,
    /// Role, replication ids and connected replicas (see `replication`).
    pub replication: crate::replication::Replication,
    pub blocking: BlockingRegistry,
    pub watches: WatchRegistry,
    pub pubsub: crate::pubsub::PubSubHub,
    /// Shared fsyncs for `appendfsync always`.
    pub group_commit: crate::storage::group_commit::GroupCommit,
    pub config: ConfigStore,
    pub clients: ClientRegistry,
    pub commands: CommandTable,
    /// Users and their permissions (`acl`).
    pub acl: crate::acl::Acl,
    /// The TLS configuration new TLS connections use (`tls`).
    pub tls: crate::tls::Tls,
    pub stats: ServerStats,
    pub scan_cursors: ScanCursors,
    pub started: Instant,
    pub started_unix: u64,
    pub run_id: String,
    /// The TCP port actually bound (differs from the config with `--port 0`).
    pub port: AtomicU16,
    pub executable: String,
    /// Unix seconds of the last successful save (start-up until checkpoints exist).
    pub last_save_unix: AtomicU64,
    /// Applies a new `loglevel` to the running logger (installed by `main`).
    pub log_level_hook: Mutex<Option<LogLevelHook>>,
    shutdown_tx: watch::Sender<bool>,
    pub shutting_down: AtomicBool,
    /// Cached `appendfsync always`, read once per reply batch.
    pub fsync_always: AtomicBool,
    /// Cached `notify-keyspace-events` flags (see `notify`).
    pub notify_flags: std::sync::atomic::AtomicU32,
    /// The Lua VM, script cache and function libraries.
    pub scripting: crate::scripting::Scripting,
    /// Persistence status for `BGSAVE`, `LASTSAVE` and `INFO persistence`.
    pub saves: SaveState,
    pub slowlog: crate::slowlog::SlowLog,
    pub monitors: crate::monitor::Monitors,
    pub pause: crate::pause::ClientPause,
    pub tracking: crate::tracking::TrackingTable,
    pub latency: crate::latency::LatencyMonitor,
    /// Cached `latency-tracking`: per-command histograms are recorded.
    pub latency_tracking: AtomicBool,
    /// Cached `slowlog-log-slower-than`, read after every command.
    pub slowlog_threshold_us: std::sync::atomic::AtomicI64,
    /// `INFO errorstats`: replies per error prefix.
    pub error_stats: crate::errorstats::ErrorStats,
    /// A handle on the `Arc` holding this state, for work that outlives a command (BGSAVE).
    self_ref: std::sync::OnceLock<std::sync::Weak<ServerState>>,
}

/// Checkpoint (SAVE/BGSAVE) bookkeeping.
#[derive(Default)]
pub struct SaveState {
    pub in_progress: AtomicBool,
    pub scheduled: AtomicBool,
    pub last_failed: AtomicBool,
    /// Storage write count at the last successful save.
    pub changes_at_save: AtomicU64,
    pub last_path: Mutex<String>,
    /// Unix ms the running save started (0: none).
    pub started_ms: AtomicU64,
    /// Unix seconds the last save was attempted (for the retry delay after a failure).
    pub last_try_unix: AtomicU64,
    /// Whole seconds the last save took (-1: none yet).
    pub last_duration_secs: std::sync::atomic::AtomicI64,
    /// Successful saves since start-up (`rdb_saves`).
    pub completed: AtomicU64,
}

impl ServerState {
    pub fn new(storage: Storage, config: ConfigStore) -> ServerState {
        let commands = CommandTable::new(config.renames());
        let acl = crate::acl::Acl::new(commands.acl_catalog());
        let (shutdown_tx, _) = watch::channel(false);
        let started_unix = crate::storage::now_ms() / 1000;
        let run_id: String = (0..40)
            .map(|_| format!("{:x}", rand::random::<u8>() % 16))
            .collect();
        let replication =
            crate::replication::Replication::new(std::path::Path::new(&config.get("dir")));
        ServerState {
            storage,
            replication,
            blocking: BlockingRegistry::default(),
            watches: WatchRegistry::default(),
            pubsub: crate::pubsub::PubSubHub::default(),
            group_commit: crate::storage::group_commit::GroupCommit::default(),
            config,
            clients: ClientRegistry::default(),
            commands,
            acl,
            tls: crate::tls::Tls::default(),
            stats: ServerStats::default(),
            scan_cursors: ScanCursors::new(),
            started: Instant::now(),
            started_unix,
            last_save_unix: AtomicU64::new(started_unix),
            log_level_hook: Mutex::new(None),
            run_id,
            port: AtomicU16::new(0),
            executable: std::env::current_exe()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            shutdown_tx,
            shutting_down: AtomicBool::new(false),
            fsync_always: AtomicBool::new(false),
            notify_flags: std::sync::atomic::AtomicU32::new(0),
            scripting: crate::scripting::Scripting::new(),
            saves: SaveState {
                last_duration_secs: std::sync::atomic::AtomicI64::new(-1),
                ..SaveState::default()
            },
            slowlog: crate::slowlog::SlowLog::default(),
            monitors: crate::monitor::Monitors::default(),
            pause: crate::pause::ClientPause::default(),
            tracking: crate::tracking::TrackingTable::default(),
            latency: crate::latency::LatencyMonitor::default(),
            latency_tracking: AtomicBool::new(true),
            slowlog_threshold_us: std::sync::atomic::AtomicI64::new(10_000),
            error_stats: crate::errorstats::ErrorStats::default(),
            self_ref: std::sync::OnceLock::new(),
        }
    }

    /// Publishes a keyspace event if `notify-keyspace-events` enables it, and relays it
    /// to this node's replicas (which apply their own setting).
    pub fn notify(&self, class: u32, event: &str, db: usize, key: &[u8]) {
        let flags = self.notify_flags.load(Ordering::Relaxed);
        if flags != 0 {
            crate::notify::publish(&self.pubsub, flags, class, event, db, key);
        }
        crate::replication::primary::propagate_event(self, class, event, db, key);
    }

    /// Whole databases changed under every client (a flush, a full copy loaded on a
    /// replica): every `WATCH` fails and tracking clients drop what they cached.
    pub fn watches_and_tracking_reset(&self) {
        for (db, key) in self.watches.watched_keys(None) {
            self.watches.touch(db, &key);
        }
        self.tracking.invalidate_all();
    }

    /// Records the `Arc` that owns this state (called once by `main`).
    pub fn set_self(self: &std::sync::Arc<Self>) {
        let _ = self.self_ref.set(std::sync::Arc::downgrade(self));
    }

    pub fn arc(&self) -> Option<std::sync::Arc<ServerState>> {
        self.self_ref.get().and_then(std::sync::Weak::upgrade)
    }

    /// Side effects of a `CONFIG SET` that changed `name`.
    /// Sets up the users at start-up, as Redis does: `requirepass` for the default user,
    /// then the config file's `user` lines or the `aclfile` (not both). An error stops
    /// start-up.
    pub fn init_acl(&self) -> Result<(), String> {
        self.apply_config_change("acl-pubsub-default");
        self.apply_config_change("requirepass");
        let file = self.config.get("aclfile");
        let lines = self.config.users();
        if !file.is_empty() && !lines.is_empty() {
            return Err(
                "Configuring Redis with users defined in redis.conf and at the same \
                        setting an ACL file path is invalid. This setup is very likely to lead \
                        to configuration errors and security holes, please define either an \
                        ACL file or declare users directly in your redis.conf, but not both."
                    .into(),
            );
        }
        if !lines.is_empty() {
            for line in lines {
                let name = line[1].as_bytes();
                if name != b"default" && self.acl.user(name).is_some() {
                    return Err(format!("Duplicate user '{}' found", line[1]));
                }
                // The default user starts over from `reset`; others are new anyway.
                let mut ops: Vec<&[u8]> = if name == b"default" {
                    vec![b"reset"]
                } else {
                    Vec::new()
                };
                ops.extend(line[2..].iter().map(|a| a.as_bytes()));
                self.acl
                    .set_user(name, &ops)
                    .map_err(|e| format!("Error in user declaration '{}': {e}", line[1]))?;
            }
        } else if !file.is_empty() {
            let text = match std::fs::read_to_string(&file) {
                Ok(text) => text,
                // Redis starts with no extra users when the file does not exist yet.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
                Err(e) => return Err(format!("cannot read the ACL file {file}: {e}")),
            };
            self.acl.load(&file, &text)?;
        }
        Ok(())
    }

    pub fn apply_config_change(&self, name: &str) {
        match name {
            "requirepass" => self.acl.set_requirepass(&self.config.get("requirepass")),
            "acl-pubsub-default" => self.acl.all_channels_default.store(
                self.config.get("acl-pubsub-default") == "allchannels",
                Ordering::Relaxed,
            ),
            "maxmemory-clients" => self.pubsub.limits.max_total.store(
                self.config.get_int("maxmemory-clients").max(0) as usize,
                Ordering::Relaxed,
            ),
            "client-output-buffer-limit" => self
                .pubsub
                .limits
                .set_from(&self.config.get("client-output-buffer-limit")),
            "acllog-max-len" => self
                .acl
                .log
                .trim(self.config.get_int("acllog-max-len").max(0) as usize),
            "appendfsync" => self.fsync_always.store(
                self.config.get("appendfsync") == "always",
                Ordering::Relaxed,
            ),
            "notify-keyspace-events" => {
                let flags = crate::notify::parse_flags(&self.config.get("notify-keyspace-events"))
                    .unwrap_or(0);
                self.notify_flags.store(flags, Ordering::Relaxed);
                let new_events = flags & crate::notify::NEW != 0
                    && flags & (crate::notify::KEYSPACE | crate::notify::KEYEVENT) != 0;
                self.storage
                    .track_created
                    .store(new_events, Ordering::Relaxed);
            }
            "maxmemory" | "maxmemory-policy" | "hot-tier" | "lfu-log-factor" | "lfu-decay-time" => {
                self.apply_memory_config()
            }
            "maxmemory-samples" => {
                if let Some(tier) = self.storage.tier() {
                    tier.set_samples(self.config.get_int(name).max(1) as usize);
                }
            }
            "slowlog-log-slower-than" => self
                .slowlog_threshold_us
                .store(self.config.get_int(name), Ordering::Relaxed),
            "latency-monitor-threshold" => self
                .latency
                .threshold_ms
                .store(self.config.get_int(name).max(0) as u64, Ordering::Relaxed),
            "latency-tracking" => self
                .latency_tracking
                .store(self.config.get_bool(name), Ordering::Relaxed),
            "tracking-table-max-keys" => self
                .tracking
                .max_keys
                .store(self.config.get_int(name).max(0) as usize, Ordering::Relaxed),
            "min-replicas-to-write" => self
                .replication
                .min_replicas_to_write
                .store(self.config.get_int(name), Ordering::Relaxed),
            "replica-serve-stale-data" => self
                .replication
                .serve_stale_data
                .store(self.config.get_bool(name), Ordering::Relaxed),
            "min-replicas-max-lag" => self
                .replication
                .min_replicas_max_lag
                .store(self.config.get_int(name), Ordering::Relaxed),
            "slowlog-max-len" => self.slowlog.trim(self.config.get_int(name).max(0) as usize),
            "busy-reply-threshold" => self
                .scripting
                .busy_threshold_ms
                .store(self.config.get_int(name).max(0) as u64, Ordering::Relaxed),
            "appendonly" => self
                .storage
                .engine()
                .set_wal_enabled(self.config.get_bool("appendonly")),
            "loglevel" => {
                if let Some(hook) = self.log_level_hook.lock().as_ref() {
                    hook(&self.config.get("loglevel"));
                }
            }
            _ => {}
        }
    }

    /// Resizes RocksDB's caches and rebuilds the hot tier (empty) from the memory directives.
    fn apply_memory_config(&self) {
        let budget = memory_budget(&self.config);
        self.storage
            .engine()
            .resize_memory(budget.block_cache as usize, budget.memtables as usize);
        let tier = self.config.get_bool("hot-tier").then(|| {
            let lfu = LfuTuning {
                log_factor: self.config.get_int("lfu-log-factor").max(0) as u64,
                decay_minutes: self.config.get_int("lfu-decay-time").max(0) as u64,
            };
            HotTier::new(
                budget.tier,
                Policy::from_name(&self.config.get("maxmemory-policy")),
                self.config.get_int("maxmemory-samples").max(1) as usize,
                lfu,
                self.storage.tier_stats.clone(),
            )
        });
        self.storage.set_tier(tier);
    }

    /// `CONFIG RESETSTAT`.
    pub fn reset_stats(&self) {
        self.commands.reset_stats();
        for counter in [
            &self.stats.total_connections,
            &self.stats.rejected_connections,
            &self.stats.total_commands,
            &self.stats.net_input_bytes,
            &self.stats.net_output_bytes,
            &self.storage.stats.expired_keys,
            &self.storage.stats.keyspace_hits,
            &self.storage.stats.keyspace_misses,
        ] {
            counter.store(0, Ordering::Relaxed);
        }
        self.error_stats.reset();
    }

    /// Starts a graceful shutdown: listeners stop, connections finish their batch and close.
    pub fn request_shutdown(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
        self.shutdown_tx.send_replace(true);
    }

    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown_tx.subscribe()
    }
}

/// The memory plan for the current `maxmemory` and `rocksdb-*` directives.
pub fn memory_budget(config: &ConfigStore) -> Budget {
    budget::plan(
        config.get_int("maxmemory").max(0) as u64,
        config.get_int("rocksdb-block-cache-size").max(0) as u64,
        config.get_int("rocksdb-write-buffer-size").max(0) as u64,
    )
}
