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

/// Redis 7's `INFO` / `INFO default` sections, in its order.
const DEFAULT_SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "errorstats",
    "cluster",
    "keyspace",
];
/// `INFO all` (and `everything`: Strata has no module sections to add).
const ALL_SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "commandstats",
    "errorstats",
    "latencystats",
    "cluster",
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
            "replication" => super::replication::info_section(ctx, &mut out),
            "cpu" => cpu(&mut out),
            "modules" => out.push_str("# Modules\r\n"),
            "commandstats" => commandstats(ctx, &mut out),
            "errorstats" => errorstats(ctx, &mut out),
            "latencystats" => latencystats(ctx, &mut out),
            "cluster" => out.push_str("# Cluster\r\ncluster_enabled:0\r\n"),
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
         monotonic_clock:POSIX clock_gettime\r\nmultiplexing_api:epoll\r\natomicvar_api:c11-builtin\r\n\
         gcc_version:0.0.0\r\nprocess_id:{}\r\nprocess_supervised:no\r\n\
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
         tracking_clients:{}\r\nclients_in_timeout_table:0\r\n",
        ctx.state.clients.count(),
        ctx.state.config.get("maxclients"),
        ctx.state.blocking.blocked_clients(),
        ctx.state.tracking.clients(),
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

fn ratio(a: u64, b: u64) -> f64 {
    if b > 0 {
        a as f64 / b as f64
    } else {
        0.0
    }
}

fn memory(ctx: &Ctx<'_>, out: &mut String) {
    let r = memory_report(ctx);
    let (active, resident) = (r.heap.active, r.heap.resident);
    // The data Strata holds in memory: hot-tier values and cached RocksDB blocks.
    let dataset = (r.tier_bytes + r.block_cache).min(r.used);
    let overhead = r.used - dataset;
    let (lua, scripts) = ctx.state.scripting.memory_if_idle().unwrap_or((0, 0));
    let (libraries, functions) = ctx.state.scripting.function_counts();
    let engine = ctx.storage().engine();
    let tier = &ctx.storage().tier_stats;
    let (member_entries, member_bytes) =
        ctx.storage().tier().map_or((0, 0), |t| t.members().usage());
    let (hits, misses) = (
        tier.hits.load(Ordering::Relaxed),
        tier.misses.load(Ordering::Relaxed),
    );
    let _ = write!(
        out,
        "# Memory\r\nused_memory:{used}\r\nused_memory_human:{}\r\nused_memory_rss:{rss}\r\n\
         used_memory_rss_human:{}\r\nused_memory_peak:{peak}\r\nused_memory_peak_human:{}\r\n\
         used_memory_peak_perc:{:.2}%\r\nused_memory_overhead:{overhead}\r\nused_memory_startup:0\r\n\
         used_memory_dataset:{}\r\nused_memory_dataset_perc:{:.2}%\r\n\
         allocator_allocated:{used}\r\nallocator_active:{active}\r\nallocator_resident:{resident}\r\n\
         total_system_memory:{sys}\r\ntotal_system_memory_human:{}\r\n\
         used_memory_lua:{lua}\r\nused_memory_vm_eval:{lua}\r\nused_memory_lua_human:{}\r\n\
         used_memory_scripts_eval:0\r\nnumber_of_cached_scripts:{scripts}\r\n\
         number_of_functions:{functions}\r\nnumber_of_libraries:{libraries}\r\nused_memory_vm_functions:0\r\n\
         used_memory_vm_total:{lua}\r\nused_memory_vm_total_human:{}\r\nused_memory_functions:0\r\n\
         used_memory_scripts:0\r\nused_memory_scripts_human:0B\r\n\
         maxmemory:{max}\r\nmaxmemory_human:{}\r\nmaxmemory_policy:{}\r\n\
         allocator_frag_ratio:{:.2}\r\nallocator_frag_bytes:{}\r\nallocator_rss_ratio:{:.2}\r\n\
         allocator_rss_bytes:{}\r\nrss_overhead_ratio:{:.2}\r\nrss_overhead_bytes:{}\r\n\
         mem_fragmentation_ratio:{:.2}\r\nmem_fragmentation_bytes:{}\r\nmem_not_counted_for_evict:0\r\n\
         mem_replication_backlog:0\r\nmem_total_replication_buffers:0\r\nmem_clients_slaves:0\r\n\
         mem_clients_normal:0\r\nmem_cluster_links:0\r\nmem_aof_buffer:0\r\nmem_allocator:jemalloc\r\n\
         active_defrag_running:0\r\nlazyfree_pending_objects:0\r\nlazyfreed_objects:0\r\n\
         strata_memory_budget:{total}\r\nstrata_memory_budget_human:{}\r\nstrata_memory_budget_source:{}\r\n\
         hot_tier_enabled:{}\r\nhot_tier_capacity:{}\r\nhot_tier_entries:{}\r\nhot_tier_bytes:{}\r\n\
         hot_tier_hits:{hits}\r\nhot_tier_misses:{misses}\r\nhot_tier_hit_ratio:{:.4}\r\nhot_tier_evictions:{}\r\n\
         hot_tier_members:{}\r\nhot_tier_member_bytes:{}\r\nhot_tier_member_hits:{}\r\n\
         hot_tier_member_misses:{}\r\nhot_tier_member_evictions:{}\r\n\
         rocksdb_block_cache_capacity:{}\r\nrocksdb_block_cache_usage:{}\r\n\
         rocksdb_memtables_budget:{}\r\nrocksdb_memtables_size:{}\r\nrocksdb_estimate_live_data_size:{}\r\n\
         rocksdb_sst_files_size:{}\r\nrocksdb_estimate_subkeys:{}\r\n",
        human_bytes(r.used),
        human_bytes(r.rss),
        human_bytes(r.peak),
        if r.peak > 0 { r.used as f64 * 100.0 / r.peak as f64 } else { 0.0 },
        dataset,
        if r.used > 0 { dataset as f64 * 100.0 / r.used as f64 } else { 0.0 },
        human_bytes(budget::machine_ram().unwrap_or(0)),
        human_bytes(lua as u64),
        human_bytes(lua as u64),
        human_bytes(r.maxmemory),
        r.policy,
        ratio(active, r.used),
        active.saturating_sub(r.used),
        ratio(resident, active),
        resident.saturating_sub(active),
        ratio(r.rss, resident),
        r.rss.saturating_sub(resident),
        ratio(r.rss, r.used),
        r.rss.saturating_sub(r.used),
        human_bytes(r.budget.total),
        if r.budget.auto { "auto-quarter-of-ram" } else { "maxmemory" },
        i32::from(r.tier_enabled),
        if r.tier_enabled { r.budget.tier } else { 0 },
        r.tier_entries,
        r.tier_bytes,
        if hits + misses > 0 { hits as f64 / (hits + misses) as f64 } else { 0.0 },
        tier.evictions.load(Ordering::Relaxed),
        member_entries,
        member_bytes,
        tier.members.hits.load(Ordering::Relaxed),
        tier.members.misses.load(Ordering::Relaxed),
        tier.members.evictions.load(Ordering::Relaxed),
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
    let saves = &ctx.state.saves;
    let started_ms = saves.started_ms.load(Ordering::Relaxed);
    let current_secs = if started_ms == 0 {
        -1
    } else {
        (crate::storage::now_ms().saturating_sub(started_ms) / 1000) as i64
    };
    let _ = write!(
        out,
        "# Persistence\r\nloading:{}\r\nasync_loading:0\r\ncurrent_cow_peak:0\r\ncurrent_cow_size:0\r\n\
         current_cow_size_age:0\r\ncurrent_fork_perc:0.00\r\ncurrent_save_keys_processed:0\r\n\
         current_save_keys_total:0\r\n\
         rdb_changes_since_last_save:{}\r\nrdb_bgsave_in_progress:{}\r\nrdb_last_save_time:{}\r\n\
         rdb_last_bgsave_status:{}\r\nrdb_last_bgsave_time_sec:{}\r\nrdb_current_bgsave_time_sec:{}\r\n\
         rdb_saves:{}\r\nrdb_last_cow_size:0\r\nrdb_last_load_keys_expired:0\r\nrdb_last_load_keys_loaded:0\r\n\
         aof_enabled:{}\r\naof_rewrite_in_progress:0\r\naof_rewrite_scheduled:0\r\n\
         aof_last_rewrite_time_sec:-1\r\naof_current_rewrite_time_sec:-1\r\naof_last_bgrewrite_status:ok\r\n\
         aof_rewrites:0\r\naof_rewrites_consecutive_failures:0\r\n\
         aof_last_write_status:{}\r\naof_last_cow_size:0\r\nmodule_fork_in_progress:0\r\nmodule_fork_last_cow_size:0\r\n\
         strata_appendfsync:{}\r\nstrata_wal_last_sequence:{}\r\nstrata_last_checkpoint:{}\r\n",
        i32::from(ctx.state.replication.loading.load(Ordering::Relaxed)),
        ctx.storage().stats.changes.load(Ordering::Relaxed)
            .saturating_sub(saves.changes_at_save.load(Ordering::Relaxed)),
        i32::from(saves.in_progress.load(Ordering::Relaxed)),
        ctx.state.last_save_unix.load(Ordering::Relaxed),
        if saves.last_failed.load(Ordering::Relaxed) { "err" } else { "ok" },
        saves.last_duration_secs.load(Ordering::Relaxed),
        current_secs,
        saves.completed.load(Ordering::Relaxed),
        i32::from(engine.wal_enabled()),
        if ctx.storage().write_error().is_some() { "err" } else { "ok" },
        ctx.state.config.get("appendfsync"),
        engine.latest_sequence(),
        saves.last_path.lock(),
    );
}

fn stats(ctx: &Ctx<'_>, out: &mut String) {
    let s = &ctx.state.stats;
    let tracked = ctx.state.tracking.stats();
    let st = &ctx.storage().stats;
    let denied = &ctx.state.acl.denied;
    let _ = write!(
        out,
        "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\n\
         instantaneous_ops_per_sec:0\r\ntotal_net_input_bytes:{}\r\ntotal_net_output_bytes:{}\r\n\
         total_net_repl_input_bytes:0\r\ntotal_net_repl_output_bytes:0\r\n\
         instantaneous_input_kbps:0.00\r\ninstantaneous_output_kbps:0.00\r\n\
         instantaneous_input_repl_kbps:0.00\r\ninstantaneous_output_repl_kbps:0.00\r\nrejected_connections:{}\r\n\
         sync_full:{}\r\nsync_partial_ok:{}\r\nsync_partial_err:{}\r\nexpired_keys:{}\r\n\
         expired_stale_perc:0.00\r\nexpired_time_cap_reached_count:0\r\nexpire_cycle_cpu_milliseconds:0\r\n\
         evicted_keys:{}\r\nevicted_clients:0\r\ntotal_eviction_exceeded_time:0\r\n\
         current_eviction_exceeded_time:0\r\n\
         keyspace_hits:{}\r\nkeyspace_misses:{}\r\npubsub_channels:{}\r\npubsub_patterns:{}\r\n\
         pubsubshard_channels:0\r\nlatest_fork_usec:0\r\ntotal_forks:0\r\nmigrate_cached_sockets:0\r\n\
         slave_expires_tracked_keys:0\r\nactive_defrag_hits:0\r\nactive_defrag_misses:0\r\n\
         active_defrag_key_hits:0\r\nactive_defrag_key_misses:0\r\ntotal_active_defrag_time:0\r\n\
         current_active_defrag_time:0\r\ntracking_total_keys:{}\r\ntracking_total_items:{}\r\n\
         tracking_total_prefixes:{}\r\nunexpected_error_replies:0\r\ntotal_error_replies:{}\r\n\
         dump_payload_sanitizations:0\r\ntotal_reads_processed:{}\r\ntotal_writes_processed:{}\r\n\
         io_threaded_reads_processed:0\r\nio_threaded_writes_processed:0\r\nreply_buffer_shrinks:0\r\n\
         reply_buffer_expands:0\r\nacl_access_denied_auth:{}\r\nacl_access_denied_cmd:{}\r\n\
         acl_access_denied_key:{}\r\nacl_access_denied_channel:{}\r\n",
        s.total_connections.load(Ordering::Relaxed),
        s.total_commands.load(Ordering::Relaxed),
        s.net_input_bytes.load(Ordering::Relaxed),
        s.net_output_bytes.load(Ordering::Relaxed),
        s.rejected_connections.load(Ordering::Relaxed),
        ctx.state.replication.stats.sync_full.load(Ordering::Relaxed),
        ctx.state.replication.stats.sync_partial_ok.load(Ordering::Relaxed),
        ctx.state.replication.stats.sync_partial_err.load(Ordering::Relaxed),
        st.expired_keys.load(Ordering::Relaxed),
        ctx.storage().tier_stats.evictions.load(Ordering::Relaxed),
        st.keyspace_hits.load(Ordering::Relaxed),
        st.keyspace_misses.load(Ordering::Relaxed),
        ctx.state.pubsub.channels(None).len(),
        ctx.state.pubsub.numpat(),
        tracked.0,
        tracked.1,
        tracked.2,
        ctx.state.error_stats.total.load(Ordering::Relaxed),
        s.total_commands.load(Ordering::Relaxed),
        s.total_commands.load(Ordering::Relaxed),
        denied.auth.load(Ordering::Relaxed),
        denied.command.load(Ordering::Relaxed),
        denied.key.load(Ordering::Relaxed),
        denied.channel.load(Ordering::Relaxed),
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
         used_cpu_user_children:0.000000\r\nused_cpu_sys_main_thread:{:.6}\r\nused_cpu_user_main_thread:{:.6}\r\n",
        secs(usage.ru_stime),
        secs(usage.ru_utime),
        // There is no main thread: every worker serves clients.
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

fn latencystats(ctx: &Ctx<'_>, out: &mut String) {
    out.push_str("# Latencystats\r\n");
    if !ctx.state.latency_tracking.load(Ordering::Relaxed) {
        return;
    }
    let percentiles = ctx.state.config.get("latency-tracking-info-percentiles");
    let percentiles: Vec<(&str, f64)> = percentiles
        .split_whitespace()
        .filter_map(|p| p.parse().ok().map(|v| (p, v)))
        .collect();
    for (name, stats) in ctx.state.commands.all_stats() {
        if stats.latency.count() == 0 {
            continue;
        }
        let values: Vec<String> = percentiles
            .iter()
            .map(|(label, p)| format!("p{label}={:.3}", stats.latency.percentile(*p) as f64))
            .collect();
        let _ = write!(
            out,
            "latency_percentiles_usec_{name}:{}\r\n",
            values.join(",")
        );
    }
}

fn errorstats(ctx: &Ctx<'_>, out: &mut String) {
    out.push_str("# Errorstats\r\n");
    for (prefix, count) in ctx.state.error_stats.snapshot() {
        let _ = write!(out, "errorstat_{prefix}:count={count}\r\n");
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
