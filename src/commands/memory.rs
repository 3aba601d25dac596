//! `MEMORY` subcommands: per-key estimates, the memory report, the doctor, and allocator
//! controls. Numbers come from `info::memory_report` so `INFO memory` and `MEMORY STATS`
//! always agree.

use bytes::Bytes;

use super::info::{human_bytes, memory_report};
use super::{arg_i64, is, Ctx};
use crate::error::{CmdError, CmdResult};
use crate::protocol::Reply;

pub fn memory_usage(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    // Redis samples 5 members by default; SAMPLES 0 means all of them.
    let mut samples = 5usize;
    match args.len() {
        3 => {}
        5 if is(&args[3], "SAMPLES") => samples = arg_i64(&args[4])?.max(0) as usize,
        _ => return Err(CmdError::Syntax),
    }
    Ok(
        match ctx.storage().memory_usage(ctx.db(), &args[2], samples)? {
            Some(n) => Reply::Int(n as i64),
            None => Reply::Nil,
        },
    )
}

fn field(name: &str, value: Reply) -> (Reply, Reply) {
    (Reply::bulk(name.to_string()), value)
}

fn int(n: u64) -> Reply {
    Reply::Int(i64::try_from(n).unwrap_or(i64::MAX))
}

fn ratio(a: u64, b: u64) -> Reply {
    Reply::Double(if b > 0 { a as f64 / b as f64 } else { 0.0 })
}

/// MEMORY STATS: Redis's field names where they have a meaning here, then the tier's and
/// RocksDB's own.
pub fn memory_stats(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult<Reply> {
    let r = memory_report(ctx);
    let storage = ctx.storage();
    let keys: u64 = (0..storage.databases())
        .map(|db| storage.key_count(db).max(0) as u64)
        .sum();
    let dataset = r.tier_bytes + r.block_cache;
    let h = r.heap;
    let mut fields = vec![
        field("peak.allocated", int(r.peak)),
        field("total.allocated", int(r.used)),
        field("startup.allocated", int(0)),
        field("replication.backlog", int(0)),
        field("clients.slaves", int(0)),
        field("clients.normal", int(0)),
        field("cluster.links", int(0)),
        field("aof.buffer", int(0)),
        field("lua.caches", int(0)),
        field("functions.caches", int(0)),
        field("overhead.total", int(r.used.saturating_sub(dataset))),
        field("keys.count", int(keys)),
        field(
            "keys.bytes-per-key",
            int(dataset.checked_div(keys).unwrap_or(0)),
        ),
        field("dataset.bytes", int(dataset)),
        field(
            "dataset.percentage",
            Reply::Double(if r.used > 0 {
                dataset as f64 * 100.0 / r.used as f64
            } else {
                0.0
            }),
        ),
        field(
            "peak.percentage",
            Reply::Double(if r.peak > 0 {
                r.used as f64 * 100.0 / r.peak as f64
            } else {
                0.0
            }),
        ),
        field("allocator.allocated", int(h.allocated)),
        field("allocator.active", int(h.active)),
        field("allocator.resident", int(h.resident)),
        field(
            "allocator-fragmentation.ratio",
            ratio(h.active, h.allocated),
        ),
        field(
            "allocator-fragmentation.bytes",
            int(h.active.saturating_sub(h.allocated)),
        ),
        field("rss-overhead.ratio", ratio(h.rss, h.resident)),
        field("rss-overhead.bytes", int(h.rss.saturating_sub(h.resident))),
        field("fragmentation", ratio(h.rss, h.allocated)),
        field(
            "fragmentation.bytes",
            int(h.rss.saturating_sub(h.allocated)),
        ),
    ];
    fields.extend([
        field("strata.memory-budget", int(r.budget.total)),
        field(
            "hot-tier.capacity",
            int(if r.tier_enabled { r.budget.tier } else { 0 }),
        ),
        field("hot-tier.entries", int(r.tier_entries)),
        field("hot-tier.bytes", int(r.tier_bytes)),
        field("rocksdb.block-cache.capacity", int(r.budget.block_cache)),
        field("rocksdb.block-cache.usage", int(r.block_cache)),
        field("rocksdb.memtables", int(r.memtables)),
    ]);
    Ok(Reply::Map(fields))
}

/// MEMORY DOCTOR: plain-language findings about the memory report.
pub fn memory_doctor(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult<Reply> {
    let r = memory_report(ctx);
    let mut findings = Vec::new();
    if r.budget.auto {
        findings.push(format!(
            "maxmemory is 0, so the data may use {} (a quarter of this machine's RAM); set \
             maxmemory to bound it explicitly.",
            human_bytes(r.budget.total)
        ));
    }
    if !r.tier_enabled {
        findings.push(
            "The hot tier is disabled (hot-tier no): every read goes to RocksDB.".to_string(),
        );
    }
    let hits = ctx
        .storage()
        .tier_stats
        .hits
        .load(std::sync::atomic::Ordering::Relaxed);
    let misses = ctx
        .storage()
        .tier_stats
        .misses
        .load(std::sync::atomic::Ordering::Relaxed);
    if r.tier_enabled && hits + misses > 10_000 && hits * 2 < misses {
        findings.push(format!(
            "The hot tier answers only {:.0}% of reads: the working set is larger than its {}; \
             raising maxmemory would help.",
            hits as f64 * 100.0 / (hits + misses) as f64,
            human_bytes(r.budget.tier)
        ));
    }
    if r.heap.allocated > 0 && r.heap.rss > 64 << 20 && r.heap.rss > r.heap.allocated * 3 / 2 {
        findings.push(format!(
            "RSS ({}) is {:.2} times the allocated heap ({}): MEMORY PURGE returns unused pages \
             to the OS.",
            human_bytes(r.heap.rss),
            r.heap.rss as f64 / r.heap.allocated as f64,
            human_bytes(r.heap.allocated)
        ));
    }
    if r.used > r.budget.total + (64 << 20) {
        findings.push(format!(
            "The heap ({}) exceeds the memory budget ({}) by more than connection buffers \
             explain: check client output buffers (CLIENT LIST) and large MULTI queues.",
            human_bytes(r.used),
            human_bytes(r.budget.total)
        ));
    }
    let text = if findings.is_empty() {
        format!(
            "No memory problems found. The data uses {} of heap within a budget of {} \
             (hot tier {}, RocksDB caches {}); evicted entries are read back from disk.",
            human_bytes(r.used),
            human_bytes(r.budget.total),
            human_bytes(r.tier_bytes),
            human_bytes(r.block_cache)
        )
    } else {
        findings.join("\n")
    };
    Ok(Reply::Verbatim(text))
}

pub fn memory_purge(_ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult<Reply> {
    if crate::alloc::purge() {
        Ok(Reply::Ok)
    } else {
        Err(CmdError::custom("ERR Error purging dirty pages"))
    }
}

pub fn memory_malloc_stats(_ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult<Reply> {
    Ok(Reply::Verbatim(crate::alloc::malloc_stats_text()))
}
