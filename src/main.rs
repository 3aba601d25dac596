//! The `strata` binary: parses the command line, loads the configuration, sets up logging and
//! the tokio runtime, opens storage and runs the server. Kept thin: all behaviour lives in
//! the library.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use clap::{Args, Parser, Subcommand};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::prelude::*;
use tracing_subscriber::reload;

use strata::config::ConfigStore;
use strata::state::ServerState;
use strata::storage::engine::EngineOptions;
use strata::storage::Storage;

#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser)]
#[command(
    name = "strata",
    version,
    about = "A durable Redis-protocol server on RocksDB"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default when no subcommand is given).
    Server(ServerArgs),
    /// Create, list, verify and restore checkpoints (backups).
    #[command(subcommand)]
    Checkpoint(CheckpointCmd),
    /// Import a Redis RDB file (dump.rdb) into a stopped data directory.
    ImportRdb {
        file: PathBuf,
        #[arg(long, default_value = "./data")]
        dir: PathBuf,
        /// Number of databases of the target (as the `databases` directive).
        #[arg(long, default_value_t = 16)]
        databases: u16,
        /// Size the engine's memory as a server with this `maxmemory` (e.g. 64mb).
        #[arg(long, default_value = "")]
        maxmemory: String,
        /// Import even though the directory already holds keys (same names are replaced).
        #[arg(long)]
        force: bool,
    },
    /// Export the dataset as a Redis 7.0 RDB file: from a stopped data directory (--dir) or
    /// a running server (--url, through SYNC).
    ExportRdb {
        file: PathBuf,
        #[arg(long, conflicts_with = "url")]
        dir: Option<PathBuf>,
        /// A running server, e.g. redis://:password@127.0.0.1:6379
        #[arg(long)]
        url: Option<String>,
        #[arg(long, default_value_t = 16)]
        databases: u16,
    },
}

#[derive(Subcommand)]
enum CheckpointCmd {
    /// Create a checkpoint: online through a running server (--url) or offline (--dir).
    Create {
        /// A running server, e.g. redis://:password@127.0.0.1:6379
        #[arg(long, conflicts_with = "dir")]
        url: Option<String>,
        /// A stopped data directory.
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Destination (default: <dir>/checkpoints/cp-<ms>).
        #[arg(long)]
        to: Option<PathBuf>,
    },
    /// List the checkpoints under a data directory.
    List {
        #[arg(long, default_value = "./data")]
        dir: PathBuf,
    },
    /// Read every record with checksums verified; non-zero exit on corruption.
    Verify { path: PathBuf },
    /// Write a checkpoint as one portable .tar.zst archive.
    Export {
        path: PathBuf,
        #[arg(long)]
        to: PathBuf,
    },
    /// Unpack and verify an exported archive into a data directory (empty, or --force).
    Import {
        file: PathBuf,
        #[arg(long)]
        dir: PathBuf,
        #[arg(long)]
        force: bool,
    },
    /// Restore a checkpoint into a data directory (empty, or --force).
    Restore {
        path: PathBuf,
        #[arg(long)]
        dir: PathBuf,
        #[arg(long)]
        force: bool,
    },
}

fn exit(code: i32) -> ExitCode {
    ExitCode::from(code as u8)
}

fn run_checkpoint(cmd: CheckpointCmd) -> ExitCode {
    let code = match cmd {
        CheckpointCmd::Create {
            url: Some(url), to, ..
        } => strata::admin::create_online(&url, to.as_deref()),
        CheckpointCmd::Create { url: None, dir, to } => strata::admin::create_offline(
            &dir.unwrap_or_else(|| PathBuf::from("./data")),
            to.as_deref(),
        ),
        CheckpointCmd::List { dir } => strata::admin::list(&dir),
        CheckpointCmd::Verify { path } => strata::admin::verify(&path),
        CheckpointCmd::Restore { path, dir, force } => strata::admin::restore(&path, &dir, force),
        CheckpointCmd::Export { path, to } => strata::admin::export(&path, &to),
        CheckpointCmd::Import { file, dir, force } => strata::admin::import(&file, &dir, force),
    };
    ExitCode::from(code as u8)
}

#[derive(Args, Default)]
struct ServerArgs {
    /// redis.conf-style configuration file.
    #[arg(long)]
    config: Option<PathBuf>,
    /// TCP port (0 picks a free one and logs it).
    #[arg(long)]
    port: Option<String>,
    /// Address(es) to listen on.
    #[arg(long)]
    bind: Option<String>,
    /// Data directory.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Any other directive, redis-server style: `--appendfsync always --databases 32`.
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "--DIRECTIVE VALUE"
    )]
    directives: Vec<String>,
}

/// Turns `--name value [value...]` tokens into (name, value) pairs.
fn parse_directives(tokens: &[String]) -> Result<Vec<(String, String)>, String> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut current: Option<(String, Vec<String>)> = None;
    for token in tokens {
        if let Some(name) = token.strip_prefix("--") {
            if let Some((n, v)) = current.take() {
                out.push((n, v.join(" ")));
            }
            current = Some((name.to_string(), Vec::new()));
        } else if let Some((_, values)) = current.as_mut() {
            values.push(token.clone());
        } else {
            return Err(format!(
                "unexpected argument '{token}' (directives look like --port 6380)"
            ));
        }
    }
    if let Some((n, v)) = current {
        out.push((n, v.join(" ")));
    }
    Ok(out)
}

fn level_filter(level: &str) -> LevelFilter {
    match level {
        "debug" => LevelFilter::DEBUG,
        "verbose" => LevelFilter::INFO,
        "warning" => LevelFilter::WARN,
        "nothing" => LevelFilter::OFF,
        _ => LevelFilter::INFO,
    }
}

/// `strata --port 6380` means `strata server --port 6380`, as with `redis-server --port`:
/// options before any subcommand go to the server.
fn with_default_subcommand(mut argv: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let first = argv.get(1).and_then(|a| a.to_str()).unwrap_or("");
    let own_flag = matches!(first, "-h" | "--help" | "-V" | "--version");
    if first.starts_with('-') && !own_flag {
        argv.insert(1, "server".into());
    }
    argv
}

fn main() -> ExitCode {
    let boot = Instant::now();
    let cli = Cli::parse_from(with_default_subcommand(std::env::args_os().collect()));
    let args = match cli.command {
        Some(Command::Server(a)) => a,
        Some(Command::Checkpoint(cmd)) => return run_checkpoint(cmd),
        Some(Command::ImportRdb {
            file,
            dir,
            databases,
            maxmemory,
            force,
        }) => {
            return exit(strata::admin_rdb::import(
                &file, &dir, databases, &maxmemory, force,
            ))
        }
        Some(Command::ExportRdb {
            file,
            dir,
            url,
            databases,
        }) => {
            return exit(match url {
                Some(url) => strata::admin_rdb::export_online(&url, &file),
                None => strata::admin_rdb::export_offline(
                    &dir.unwrap_or_else(|| PathBuf::from("./data")),
                    &file,
                    databases,
                ),
            })
        }
        None => ServerArgs::default(),
    };
    let mut overrides = Vec::new();
    for (name, value) in [("port", args.port), ("bind", args.bind)] {
        if let Some(v) = value {
            overrides.push((name.to_string(), v));
        }
    }
    if let Some(dir) = args.dir {
        overrides.push(("dir".to_string(), dir.display().to_string()));
    }
    match parse_directives(&args.directives) {
        Ok(mut extra) => overrides.append(&mut extra),
        Err(e) => {
            eprintln!("strata: {e}");
            return ExitCode::from(2);
        }
    }
    let config = match ConfigStore::load(args.config.as_deref(), &overrides) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("strata: configuration error: {e}");
            return ExitCode::from(1);
        }
    };

    let (filter, reload_handle) = reload::Layer::new(level_filter(&config.get("loglevel")));
    let logfile = config.get("logfile");
    let registry = tracing_subscriber::registry().with(filter);
    if logfile.is_empty() {
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stdout)
                    .with_ansi(false),
            )
            .init();
    } else {
        match std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&logfile)
        {
            Ok(file) => registry
                .with(
                    tracing_subscriber::fmt::layer()
                        .with_writer(Arc::new(file))
                        .with_ansi(false),
                )
                .init(),
            Err(e) => {
                eprintln!("strata: cannot open logfile {logfile}: {e}");
                return ExitCode::from(1);
            }
        }
    }

    for notice in config.notices() {
        tracing::info!("config: {notice}");
    }
    let pidfile = PidFile::create(&config.get("pidfile"));

    let budget = strata::state::memory_budget(&config);
    let engine_options = EngineOptions {
        block_cache_bytes: budget.block_cache as usize,
        write_buffer_bytes: budget.write_buffer as usize,
        memtable_budget_bytes: budget.memtables as usize,
        max_background_jobs: config.get_int("rocksdb-max-background-jobs") as i32,
        max_open_files: config.get_int("rocksdb-max-open-files") as i32,
        compression: config.get("rocksdb-compression") != "none",
        wal_enabled: config.get_bool("appendonly"),
        wal_retention_secs: config.get_int("repl-backlog-ttl").max(0) as u64,
        wal_retention_mb: (config.get_int("repl-backlog-size").max(0) as u64 >> 20).max(64),
    };
    let dir = PathBuf::from(config.get("dir"));
    let databases = config.get_int("databases") as u16;
    let storage = match Storage::open(&dir, databases, &engine_options) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("strata: cannot open data directory {}: {e}", dir.display());
            return ExitCode::from(1);
        }
    };
    let state = Arc::new(ServerState::new(storage, config));
    state.set_self();
    if let Err(e) = state.init_acl() {
        eprintln!("strata: {e}");
        return ExitCode::from(1);
    }
    state.apply_config_change("appendfsync");
    state.apply_config_change("client-output-buffer-limit");
    state.apply_config_change("maxmemory-clients");
    state.apply_config_change("notify-keyspace-events");
    state.apply_config_change("maxmemory");
    state.apply_config_change("busy-reply-threshold");
    state.apply_config_change("slowlog-log-slower-than");
    state.apply_config_change("latency-monitor-threshold");
    state.apply_config_change("latency-tracking");
    state.apply_config_change("tracking-table-max-keys");
    state.apply_config_change("min-replicas-to-write");
    state.apply_config_change("min-replicas-max-lag");
    state.apply_config_change("replica-serve-stale-data");
    state.scripting.restore(&state);
    *state.log_level_hook.lock() = Some(Box::new(move |level: &str| {
        let _ = reload_handle.modify(|f| *f = level_filter(level));
    }));

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("strata: cannot start runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(strata::server::run(state.clone(), boot));
    drop(runtime);
    // Dropping the last reference closes RocksDB.
    *state.log_level_hook.lock() = None;
    drop(state);
    drop(pidfile);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("strata: {e}");
            ExitCode::from(1)
        }
    }
}

/// `pidfile`: written at start-up (as Redis does, a failure is only logged) and removed at a
/// clean exit.
struct PidFile(Option<PathBuf>);

impl PidFile {
    fn create(path: &str) -> PidFile {
        if path.is_empty() {
            return PidFile(None);
        }
        match std::fs::write(path, format!("{}\n", std::process::id())) {
            Ok(()) => PidFile(Some(PathBuf::from(path))),
            Err(e) => {
                tracing::warn!("failed to write PID file {path}: {e}");
                PidFile(None)
            }
        }
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        if let Some(path) = &self.0 {
            let _ = std::fs::remove_file(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_directives;

    #[test]
    fn directives_pairs() {
        let toks: Vec<String> = ["--appendfsync", "always", "--bind", "127.0.0.1", "::1"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            parse_directives(&toks).unwrap(),
            vec![
                ("appendfsync".into(), "always".into()),
                ("bind".into(), "127.0.0.1 ::1".into())
            ]
        );
        assert!(parse_directives(&["x".to_string()]).is_err());
    }
}
