//! `INFO`: Redis's sections and field names, so `redis-cli --stat`, exporters and dashboards
//! parse it unchanged. Strata-specific fields carry a `strata_`/`rocksdb_` prefix.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;

use super::connection::REDIS_COMPAT_VERSION;
use super::{text, Ctx};
use crate::error::CmdResult;
use crate::protocol::Reply;
use crate::storage::budget::{self, Budget};
use crate::storage::engine::Cf;

const DEFAULT_SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "keyspace",
];
const ALL_SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "commandstats",
    "keyspace",
];

static PEAK_MEMORY: AtomicU64 = AtomicU64::new(0);

pub fn info(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let requested: Vec<String> = args[1..]
        .iter()
        .map(|a| text(a).to_ascii_lowercase())
        .collect();
    let sections: Vec<&str> = if requested.is_empty() || requested.iter().any(|r| r == "default") {
        DEFAULT_SECTIONS.to_vec()
    } else if requested.iter().any(|r| r == "all" || r == "everything") {
        ALL_SECTIONS.to_vec()
    } else {
        ALL_SECTIONS
            .iter()
            .copied()
            .filter(|s| requested.iter().any(|r| r == s))
            .collect()
    };
    let mut out = String::new();
    for (i, section) in sections.iter().enumerate() {
        if i > 0 {
            out.push_str("\r\n");
        }
        match *section {
            "server" => server(ctx, &mut out),
            "clients" => clients(ctx, &mut out),
            "memory" => memory(ctx, &mut out),
            "persistence" => persistence(ctx, &mut out),
            "stats" => stats(ctx, &mut out),
            "replication" => replication(ctx, &mut out),
            "cpu" => cpu(&mut out),
            "commandstats" => commandstats(ctx, &mut out),
            "keyspace" => keyspace(ctx, &mut out),
            _ => {}
        }
    }
    Ok(Reply::Verbatim(out))
}

fn server(ctx: &Ctx<'_>, out: &mut String) {
    let uptime = ctx.state.started.elapsed().as_secs();
    let _ = write!(
        out,
        "# Server\r\nredis_version:{REDIS_COMPAT_VERSION}\r\nstrata_version:{}\r\nredis_git_sha1:00000000\r\n\
         redis_git_dirty:0\r\nredis_build_id:0\r\nredis_mode:standalone\r\nos:{} {}\r\narch_bits:64\r\n\
         multiplexing_api:epoll\r\natomicvar_api:c11-builtin\r\nprocess_id:{}\r\nprocess_supervised:no\r\n\
         run_id:{}\r\ntcp_port:{}\r\nserver_time_usec:{}\r\nuptime_in_seconds:{}\r\nuptime_in_days:{}\r\n\
         hz:{}\r\nconfigured_hz:{}\r\nlru_clock:{}\r\nexecutable:{}\r\nconfig_file:{}\r\nio_threads_active:0\r\n",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS,
        std::env::consts::ARCH,
        std::process::id(),
        ctx.state.run_id,
        ctx.state.port.load(Ordering::Relaxed),
        crate::storage::now_ms() * 1000,
        uptime,
        uptime / 86400,
        ctx.state.config.get("hz"),
        ctx.state.config.get("hz"),
        (crate::storage::now_ms() / 1000) & 0xFF_FFFF,
        ctx.state.executable,
        ctx.state.config.file().map(|p| p.display().to_string()).unwrap_or_default(),
    );
}

fn clients(ctx: &Ctx<'_>, out: &mut String) {
    let _ = write!(
        out,
        "# Clients\r\nconnected_clients:{}\r\ncluster_connections:0\r\nmaxclients:{}\r\n\
         client_recent_max_input_buffer:0\r\nclient_recent_max_output_buffer:0\r\nblocked_clients:{}\r\n\
         tracking_clients:0\r\nclients_in_timeout_table:0\r\n",
        ctx.state.clients.count(),
        ctx.state.config.get("maxclients"),
        ctx.state.blocking.blocked_clients(),
    );
}

/// Redis's `bytesToHuman`.
pub fn human_bytes(n: u64) -> String {
    let n = n as f64;
    if n < 1024.0 {
        format!("{n}B")
    } else if n < 1024.0 * 1024.0 {
        format!("{:.2}K", n / 1024.0)
    } else if n < 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2}M", n / (1024.0 * 1024.0))
    } else {
        format!("{:.2}G", n / (1024.0 * 1024.0 * 1024.0))
    }
}

/// What `INFO memory`, `MEMORY STATS` and `MEMORY DOCTOR` report.
pub struct MemoryReport {
    pub heap: crate::alloc::HeapStats,
    pub used: u64,
    pub rss: u64,
    pub peak: u64,
    pub budget: Budget,
    pub maxmemory: u64,
    pub policy: String,
    pub tier_enabled: bool,
    pub tier_entries: u64,
    pub tier_bytes: u64,
    pub block_cache: u64,
    pub memtables: u64,
}

pub fn memory_report(ctx: &Ctx<'_>) -> MemoryReport {
    let heap = crate::alloc::heap_stats();
    let (used, rss) = (heap.allocated, heap.rss);
    let peak = PEAK_MEMORY.fetch_max(used, Ordering::Relaxed).max(used);
    let config = &ctx.state.config;
    let tier = ctx.storage().tier();
    let (tier_entries, tier_bytes) = tier.as_ref().map_or((0, 0), |t| t.usage());
    let (block_cache, memtables) = ctx.storage().engine().memory_usage();
    MemoryReport {
        heap,
        used,
        rss,
        peak,
        budget: crate::state::memory_budget(config),
        maxmemory: config.get_int("maxmemory").max(0) as u64,
        policy: config.get("maxmemory-policy"),
        tier_enabled: tier.is_some(),
        tier_entries,
        tier_bytes,
        block_cache,
        memtables,
    }
}

fn memory(ctx: &Ctx<'_>, out: &mut String) {
    let r = memory_report(ctx);
    let engine = ctx.storage().engine();
    let tier = &ctx.storage().tier_stats;
    let (hits, misses) = (
        tier.hits.load(Ordering::Relaxed),
        tier.misses.load(Ordering::Relaxed),
    );
    let _ = write!(
        out,
        "# Memory\r\nused_memory:{used}\r\nused_memory_human:{}\r\nused_memory_rss:{rss}\r\n\
         used_memory_rss_human:{}\r\nused_memory_peak:{peak}\r\nused_memory_peak_human:{}\r\n\
         used_memory_peak_perc:{:.2}%\r\nused_memory_dataset:{}\r\n\
         total_system_memory:{sys}\r\ntotal_system_memory_human:{}\r\n\
         maxmemory:{max}\r\nmaxmemory_human:{}\r\nmaxmemory_policy:{}\r\n\
         mem_fragmentation_ratio:{:.2}\r\nmem_allocator:jemalloc\r\n\
         strata_memory_budget:{total}\r\nstrata_memory_budget_human:{}\r\nstrata_memory_budget_source:{}\r\n\
         hot_tier_enabled:{}\r\nhot_tier_capacity:{}\r\nhot_tier_entries:{}\r\nhot_tier_bytes:{}\r\n\
         hot_tier_hits:{hits}\r\nhot_tier_misses:{misses}\r\nhot_tier_hit_ratio:{:.4}\r\nhot_tier_evictions:{}\r\n\
         rocksdb_block_cache_capacity:{}\r\nrocksdb_block_cache_usage:{}\r\n\
         rocksdb_memtables_budget:{}\r\nrocksdb_memtables_size:{}\r\nrocksdb_estimate_live_data_size:{}\r\n\
         rocksdb_sst_files_size:{}\r\nrocksdb_estimate_subkeys:{}\r\n",
        human_bytes(r.used),
        human_bytes(r.rss),
        human_bytes(r.peak),
        if r.peak > 0 { r.used as f64 * 100.0 / r.peak as f64 } else { 0.0 },
        r.tier_bytes + r.block_cache,
        human_bytes(budget::machine_ram().unwrap_or(0)),
        human_bytes(r.maxmemory),
        r.policy,
        if r.used > 0 { r.rss as f64 / r.used as f64 } else { 0.0 },
        human_bytes(r.budget.total),
        if r.budget.auto { "auto-quarter-of-ram" } else { "maxmemory" },
        i32::from(r.tier_enabled),
        if r.tier_enabled { r.budget.tier } else { 0 },
        r.tier_entries,
        r.tier_bytes,
        if hits + misses > 0 { hits as f64 / (hits + misses) as f64 } else { 0.0 },
        tier.evictions.load(Ordering::Relaxed),
        r.budget.block_cache,
        r.block_cache,
        r.budget.memtables,
        r.memtables,
        engine.int_property("rocksdb.estimate-live-data-size"),
        engine.int_property("rocksdb.total-sst-files-size"),
        [Cf::Data, Cf::ZScore, Cf::Stream]
            .iter()
            .map(|&cf| engine.cf_int_property(cf, "rocksdb.estimate-num-keys"))
            .sum::<u64>(),
        used = r.used,
        rss = r.rss,
        peak = r.peak,
        sys = budget::machine_ram().unwrap_or(0),
        max = r.maxmemory,
        total = r.budget.total,
    );
}

fn persistence(ctx: &Ctx<'_>, out: &mut String) {
    let engine = ctx.storage().engine();
    let _ = write!(
        out,
        "# Persistence\r\nloading:0\r\nasync_loading:0\r\ncurrent_cow_peak:0\r\ncurrent_cow_size:0\r\n\
         rdb_changes_since_last_save:{}\r\nrdb_bgsave_in_progress:{}\r\nrdb_last_save_time:{}\r\n\
         rdb_last_bgsave_status:{}\r\nrdb_last_bgsave_time_sec:-1\r\nrdb_current_bgsave_time_sec:-1\r\n\
         aof_enabled:{}\r\naof_rewrite_in_progress:0\r\naof_rewrite_scheduled:0\r\n\
         aof_last_rewrite_time_sec:-1\r\naof_current_rewrite_time_sec:-1\r\naof_last_bgrewrite_status:ok\r\n\
         aof_last_write_status:{}\r\nstrata_appendfsync:{}\r\nstrata_wal_last_sequence:{}\r\nstrata_last_checkpoint:{}\r\n",
        ctx.storage().stats.changes.load(Ordering::Relaxed)
            .saturating_sub(ctx.state.saves.changes_at_save.load(Ordering::Relaxed)),
        i32::from(ctx.state.saves.in_progress.load(Ordering::Relaxed)),
        ctx.state.last_save_unix.load(Ordering::Relaxed),
        if ctx.state.saves.last_failed.load(Ordering::Relaxed) { "err" } else { "ok" },
        i32::from(engine.wal_enabled()),
        if ctx.storage().write_error().is_some() { "err" } else { "ok" },
        ctx.state.config.get("appendfsync"),
        engine.latest_sequence(),
        ctx.state.saves.last_path.lock(),
    );
}

fn stats(ctx: &Ctx<'_>, out: &mut String) {
    let s = &ctx.state.stats;
    let st = &ctx.storage().stats;
    let _ = write!(
        out,
        "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\n\
         instantaneous_ops_per_sec:0\r\ntotal_net_input_bytes:{}\r\ntotal_net_output_bytes:{}\r\n\
         instantaneous_input_kbps:0.00\r\ninstantaneous_output_kbps:0.00\r\nrejected_connections:{}\r\n\
         sync_full:0\r\nsync_partial_ok:0\r\nsync_partial_err:0\r\nexpired_keys:{}\r\n\
         expired_stale_perc:0.00\r\nexpired_time_cap_reached_count:0\r\nevicted_keys:{}\r\n\
         keyspace_hits:{}\r\nkeyspace_misses:{}\r\npubsub_channels:{}\r\npubsub_patterns:{}\r\n\
         latest_fork_usec:0\r\ntotal_forks:0\r\nmigrate_cached_sockets:0\r\n",
        s.total_connections.load(Ordering::Relaxed),
        s.total_commands.load(Ordering::Relaxed),
        s.net_input_bytes.load(Ordering::Relaxed),
        s.net_output_bytes.load(Ordering::Relaxed),
        s.rejected_connections.load(Ordering::Relaxed),
        st.expired_keys.load(Ordering::Relaxed),
        ctx.storage().tier_stats.evictions.load(Ordering::Relaxed),
        st.keyspace_hits.load(Ordering::Relaxed),
        st.keyspace_misses.load(Ordering::Relaxed),
        ctx.state.pubsub.channels(None).len(),
        ctx.state.pubsub.numpat(),
    );
}

fn replication(ctx: &Ctx<'_>, out: &mut String) {
    let _ = write!(
        out,
        "# Replication\r\nrole:master\r\nconnected_slaves:0\r\nmaster_failover_state:no-failover\r\n\
         master_replid:{}\r\nmaster_replid2:0000000000000000000000000000000000000000\r\n\
         master_repl_offset:0\r\nsecond_repl_offset:-1\r\nrepl_backlog_active:0\r\n\
         repl_backlog_size:1048576\r\nrepl_backlog_first_byte_offset:0\r\nrepl_backlog_histlen:0\r\n",
        ctx.state.run_id,
    );
}

fn cpu(out: &mut String) {
    // SAFETY: getrusage only writes into the zeroed struct we pass.
    let usage = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut u);
        u
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    let _ = write!(
        out,
        "# CPU\r\nused_cpu_sys:{:.6}\r\nused_cpu_user:{:.6}\r\nused_cpu_sys_children:0.000000\r\n\
         used_cpu_user_children:0.000000\r\n",
        secs(usage.ru_stime),
        secs(usage.ru_utime),
    );
}

fn commandstats(ctx: &Ctx<'_>, out: &mut String) {
    out.push_str("# Commandstats\r\n");
    for (name, s) in ctx.state.commands.all_stats() {
        let calls = s.calls.load(Ordering::Relaxed);
        let usec = s.usec.load(Ordering::Relaxed);
        let per_call = if calls > 0 {
            usec as f64 / calls as f64
        } else {
            0.0
        };
        let _ = write!(
            out,
            "cmdstat_{name}:calls={calls},usec={usec},usec_per_call={per_call:.2},rejected_calls={},failed_calls={}\r\n",
            s.rejected.load(Ordering::Relaxed),
            s.failed.load(Ordering::Relaxed),
        );
    }
}

fn keyspace(ctx: &Ctx<'_>, out: &mut String) {
    out.push_str("# Keyspace\r\n");
    let storage = ctx.storage();
    for db in 0..storage.databases() {
        let keys = storage.key_count(db);
        if keys > 0 {
            let _ = write!(
                out,
                "db{db}:keys={keys},expires={},avg_ttl=0\r\n",
                storage.expires_count(db).max(0)
            );
        }
    }
}
