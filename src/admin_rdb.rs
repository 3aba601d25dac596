//! `strata import-rdb` and `strata export-rdb`: moving a dataset between Strata and Redis
//! as an RDB file. Import is offline, into a stopped data directory, streaming key by key
//! so an RDB larger than RAM fits; export is offline from a stopped directory or online
//! through a running server's `SYNC` (the same bytes `redis-cli --rdb` fetches).
//! Every subcommand prints what it did and returns a process exit code (0 = success).

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Instant;

use crate::rdb_dataset::{self, TransferStats};
use crate::storage::engine::EngineOptions;
use crate::storage::Storage;

/// The peak resident set size of this process, from `getrusage` (kilobytes on Linux).
fn peak_rss_bytes() -> u64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given; RUSAGE_SELF is always valid.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) };
    if rc != 0 {
        return 0;
    }
    // SAFETY: initialised by the successful call above.
    let usage = unsafe { usage.assume_init() };
    (usage.ru_maxrss.max(0) as u64) * 1024
}

fn human(bytes: u64) -> String {
    crate::commands::info::human_bytes(bytes)
}

/// The engine sized like a server with `maxmemory` (e.g. `64mb`; empty: the defaults), so
/// an import's memory stays within the budget the data directory will be served with.
fn engine_options(maxmemory: &str) -> Result<EngineOptions, String> {
    if maxmemory.is_empty() {
        return Ok(EngineOptions::default());
    }
    let bytes = crate::config::parse_memory(maxmemory)
        .filter(|&b| b > 0)
        .ok_or_else(|| format!("invalid --maxmemory {maxmemory:?}"))?;
    let budget = crate::storage::budget::plan(bytes as u64, 0, 0);
    Ok(EngineOptions {
        block_cache_bytes: budget.block_cache as usize,
        write_buffer_bytes: budget.write_buffer as usize,
        memtable_budget_bytes: budget.memtables as usize,
        ..EngineOptions::default()
    })
}

fn open_storage(dir: &Path, databases: u16, maxmemory: &str) -> Result<Storage, String> {
    let options = engine_options(maxmemory)?;
    Storage::open(dir, databases, &options).map_err(|e| {
        format!(
            "cannot open {} (is a server running on it?): {e}",
            dir.display()
        )
    })
}

fn print_stats(verb: &str, stats: &TransferStats, started: Instant) {
    println!(
        "{verb} {} keys ({} functions) in {:.3} s; {} of RDB; skipped {} expired, {} empty; \
         peak RSS {}",
        stats.keys,
        stats.functions,
        started.elapsed().as_secs_f64(),
        human(stats.bytes),
        stats.expired_skipped,
        stats.empty_skipped,
        human(peak_rss_bytes())
    );
}

/// Offline import of `file` into the data directory `dir` (which must hold no keys unless
/// `force`, in which case keys of the same name are replaced).
pub fn import(file: &Path, dir: &Path, databases: u16, maxmemory: &str, force: bool) -> i32 {
    let started = Instant::now();
    let input = match File::open(file) {
        Ok(f) => BufReader::with_capacity(1 << 20, f),
        Err(e) => {
            eprintln!("cannot open {}: {e}", file.display());
            return 1;
        }
    };
    let storage = match open_storage(dir, databases, maxmemory) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    let existing: i64 = (0..storage.databases())
        .map(|db| storage.key_count(db))
        .sum();
    if existing > 0 && !force {
        eprintln!(
            "{} already holds {existing} keys; pass --force to import over them",
            dir.display()
        );
        return 1;
    }
    let mut last_report = Instant::now();
    let outcome = rdb_dataset::import(&storage, input, |stats| {
        if last_report.elapsed().as_secs() >= 5 {
            last_report = Instant::now();
            eprintln!("... {} keys", stats.keys);
        }
    });
    match outcome.and_then(|done| {
        storage.sync_committed()?;
        Ok(done)
    }) {
        Ok(stats) => {
            print_stats("imported", &stats, started);
            0
        }
        Err(e) => {
            eprintln!("import failed: {e}");
            1
        }
    }
}

/// Offline export of the stopped data directory `dir` to `file`.
pub fn export_offline(dir: &Path, file: &Path, databases: u16) -> i32 {
    let started = Instant::now();
    let storage = match open_storage(dir, databases, "") {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    let out = match File::create(file) {
        Ok(f) => BufWriter::with_capacity(1 << 20, f),
        Err(e) => {
            eprintln!("cannot create {}: {e}", file.display());
            return 1;
        }
    };
    match rdb_dataset::export(&storage, out) {
        Ok(stats) => {
            print_stats("exported", &stats, started);
            0
        }
        Err(e) => {
            eprintln!("export failed: {e}");
            1
        }
    }
}

/// Online export through `SYNC` on a running server (Strata or Redis) given as
/// `redis://[[user]:password@]host:port`.
pub fn export_online(url: &str, file: &Path) -> i32 {
    let started = Instant::now();
    match fetch_rdb(url, file) {
        Ok(bytes) => {
            println!(
                "fetched {} of RDB into {} in {:.3} s",
                human(bytes),
                file.display(),
                started.elapsed().as_secs_f64()
            );
            0
        }
        Err(e) => {
            eprintln!("export failed: {e}");
            1
        }
    }
}

fn read_line(reader: &mut impl BufRead) -> Result<String, String> {
    let mut line = Vec::new();
    reader
        .take(64 * 1024)
        .read_until(b'\n', &mut line)
        .map_err(|e| e.to_string())?;
    if line.is_empty() {
        return Err("connection closed".into());
    }
    Ok(String::from_utf8_lossy(&line).trim_end().to_string())
}

fn fetch_rdb(url: &str, file: &Path) -> Result<u64, String> {
    let rest = url
        .strip_prefix("redis://")
        .unwrap_or(url)
        .trim_end_matches('/');
    let (auth, hostport) = match rest.rsplit_once('@') {
        Some((auth, hostport)) => (Some(auth), hostport),
        None => (None, rest),
    };
    let stream = TcpStream::connect(hostport).map_err(|e| format!("connect {hostport}: {e}"))?;
    let mut reader = BufReader::new(stream);
    if let Some(auth) = auth {
        // `:password` (or `password`) logs in the default user, `user:password` a named one.
        let args = match auth.split_once(':') {
            Some(("", password)) => vec!["AUTH", password],
            Some((user, password)) => vec!["AUTH", user, password],
            None => vec!["AUTH", auth],
        };
        crate::admin::resp_call(&mut reader, &args).map_err(|e| format!("AUTH: {e}"))?;
    }
    reader
        .get_mut()
        .write_all(b"SYNC\r\n")
        .map_err(|e| e.to_string())?;
    // Newlines are keep-alives sent while the server writes the RDB.
    let header = loop {
        let line = read_line(&mut reader)?;
        if !line.is_empty() {
            break line;
        }
    };
    let len: u64 = match header.strip_prefix('$') {
        Some(n) => n
            .parse()
            .map_err(|_| format!("unexpected SYNC reply {header:?}"))?,
        None => return Err(format!("SYNC failed: {header}")),
    };
    let mut out = BufWriter::new(File::create(file).map_err(|e| e.to_string())?);
    let copied =
        std::io::copy(&mut (&mut reader).take(len), &mut out).map_err(|e| e.to_string())?;
    if copied != len {
        return Err(format!("connection closed after {copied} of {len} bytes"));
    }
    out.flush().map_err(|e| e.to_string())?;
    Ok(len)
}
