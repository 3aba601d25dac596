//! The memory plan: how `maxmemory` is split between the hot tier, RocksDB's block cache and
//! its memtables (DESIGN §6). Pure arithmetic plus one read of `/proc/meminfo`.
//!
//! Invariant: tier + block cache <= total, and memtables are charged to the block cache (a
//! write-buffer manager), so the data's RAM stays near `total` whatever the workload.

/// Used when `maxmemory` is 0 and the machine's RAM cannot be read.
const FALLBACK_TOTAL: u64 = 1 << 30;
const MIN_TOTAL: u64 = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Bytes the data may use; `maxmemory`, or a quarter of RAM when `maxmemory` is 0.
    pub total: u64,
    /// True when `total` was derived from the machine's RAM.
    pub auto: bool,
    pub tier: u64,
    /// Block cache capacity, memtables included.
    pub block_cache: u64,
    /// Share of the block cache memtables may take before RocksDB flushes them.
    pub memtables: u64,
    /// Size of one family's memtable.
    pub write_buffer: u64,
}

/// Plans the split. `block_cache_override`/`write_buffer_override` are the `rocksdb-*`
/// directives; 0 means "derive from `maxmemory`".
pub fn plan(maxmemory: u64, block_cache_override: u64, write_buffer_override: u64) -> Budget {
    let auto = maxmemory == 0;
    let total = if auto {
        machine_ram().map_or(FALLBACK_TOTAL, |ram| ram / 4)
    } else {
        maxmemory
    }
    .max(MIN_TOTAL);
    let block_cache = if block_cache_override > 0 {
        block_cache_override
    } else {
        total / 2
    };
    let tier = total.saturating_sub(block_cache).max(total / 8);
    let memtables = block_cache / 2;
    let write_buffer = if write_buffer_override > 0 {
        write_buffer_override
    } else {
        // Capped at 8 MiB: a memtable insert walks a skiplist whose depth and cache misses
        // grow with its size. Measured with redis-benchmark SET, 50 clients, 100k keys:
        // 64 MiB memtables 73-85k ops/s at pipeline 16, 8 MiB 107-139k, 4 MiB 105-145k.
        (memtables / 4).clamp(1 << 20, 8 << 20)
    };
    Budget {
        total,
        auto,
        tier,
        block_cache,
        memtables,
        write_buffer,
    }
}

/// Physical RAM from `/proc/meminfo`.
pub fn machine_ram() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_maxmemory_is_split_between_tier_and_block_cache() {
        let b = plan(32 << 20, 0, 0);
        assert_eq!(b.total, 32 << 20);
        assert!(!b.auto);
        assert_eq!(b.tier + b.block_cache, b.total);
        assert_eq!(b.memtables, 8 << 20);
        assert_eq!(b.write_buffer, 2 << 20);
    }

    #[test]
    fn zero_maxmemory_derives_from_ram() {
        let b = plan(0, 0, 0);
        assert!(b.auto);
        assert!(b.total >= MIN_TOTAL);
    }

    #[test]
    fn overrides_win() {
        let b = plan(1 << 30, 100 << 20, 8 << 20);
        assert_eq!(b.block_cache, 100 << 20);
        assert_eq!(b.write_buffer, 8 << 20);
        assert_eq!(b.tier, (1 << 30) - (100 << 20));
    }
}
