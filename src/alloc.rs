//! Allocator introspection: jemalloc is the global allocator (for Rust and, through its
//! unprefixed `malloc`, for RocksDB's C++ too), so its counters are the process's real heap.
//! Backs `INFO memory`, `MEMORY STATS`, `MEMORY PURGE` and `MEMORY MALLOC-STATS`. Depends on
//! nothing else in the crate.

use std::ffi::{c_char, c_void, CStr};

/// Heap counters in bytes.
#[derive(Debug, Clone, Copy, Default)]
pub struct HeapStats {
    /// Bytes handed out to the program (`used_memory`).
    pub allocated: u64,
    /// Bytes in pages the allocator has active (allocated plus fragmentation).
    pub active: u64,
    /// Bytes of physically resident allocator pages.
    pub resident: u64,
    /// The process's resident set size from `/proc/self/statm`.
    pub rss: u64,
}

pub fn heap_stats() -> HeapStats {
    let _ = tikv_jemalloc_ctl::epoch::advance();
    HeapStats {
        allocated: tikv_jemalloc_ctl::stats::allocated::read().unwrap_or(0) as u64,
        active: tikv_jemalloc_ctl::stats::active::read().unwrap_or(0) as u64,
        resident: tikv_jemalloc_ctl::stats::resident::read().unwrap_or(0) as u64,
        rss: process_rss(),
    }
}

pub fn process_rss() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * page_size())
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(size).unwrap_or(4096)
}

/// Returns unused dirty pages of every arena to the OS (`MEMORY PURGE`).
pub fn purge() -> bool {
    // "arena.<MALLCTL_ARENAS_ALL>.purge" is a void control: no old or new value.
    let name = c"arena.4096.purge";
    // SAFETY: a NUL-terminated name and null value pointers, as jemalloc documents for void
    // controls.
    let rc = unsafe {
        tikv_jemalloc_sys::mallctl(
            name.as_ptr(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
        )
    };
    rc == 0
}

extern "C" fn append_text(opaque: *mut c_void, text: *const c_char) {
    if opaque.is_null() || text.is_null() {
        return;
    }
    // SAFETY: `opaque` is the `String` passed by `malloc_stats_text` for the duration of the
    // call, and jemalloc hands us NUL-terminated text.
    let (out, text) = unsafe { (&mut *(opaque as *mut String), CStr::from_ptr(text)) };
    out.push_str(&text.to_string_lossy());
}

/// jemalloc's own statistics report (`MEMORY MALLOC-STATS`).
pub fn malloc_stats_text() -> String {
    let mut out = String::new();
    // SAFETY: the callback only appends to `out`, which outlives the call; null options
    // select the default report.
    unsafe {
        tikv_jemalloc_sys::malloc_stats_print(
            Some(append_text),
            &mut out as *mut String as *mut c_void,
            std::ptr::null(),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn purge_and_report_work() {
        assert!(super::purge());
        assert!(super::malloc_stats_text().contains("jemalloc"));
        assert!(super::heap_stats().allocated > 0);
    }
}
