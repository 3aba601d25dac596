//! Configuration: the directive registry, the redis.conf-syntax reader, command-line
//! overrides, and the runtime store behind `CONFIG GET/SET/REWRITE`.
//!
//! Every directive Strata honours is declared once in [`DIRECTIVES`] with its default, its
//! value kind (which validates input and gives the canonical text `CONFIG GET` returns) and
//! whether `CONFIG SET` may change it; `config/strata.conf` documents the same list. Every
//! other directive Redis 7.0/7.2 knows is declared in [`redis_compat`] with Redis's default
//! and the reason it has no effect here, so a user's own `redis.conf` starts unchanged: those
//! are kept for `CONFIG GET`/`SET` and each one named in the file gets one start-up log line
//! ([`ConfigStore::notices`]). A few ask for a feature Strata lacks (TLS, cluster, replication)
//! where ignoring the value would mislead: they load at their default only
//! ([`Effect::Unsupported`]). Only names Redis itself does not know are "unknown directive".
//! Depends only on `protocol::split_args` (the shared quoting rules) and `glob`.

mod redis_compat;
pub mod save_rules;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use parking_lot::RwLock;
use thiserror::Error;

use crate::glob::glob_match;
use crate::protocol::split_args;

/// How a directive's value is validated and printed.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Int {
        min: i64,
        max: i64,
    },
    Bool,
    Enum(&'static [&'static str]),
    /// Bytes, accepting `kb`/`mb`/`gb` (and `k`/`m`/`g`) suffixes; printed in bytes.
    Memory {
        min: i64,
    },
    Str,
    /// Space-separated list (bind).
    List,
    /// `notify-keyspace-events` flag letters, canonicalised as Redis prints them.
    KeyspaceEvents,
    /// `save` rules: `<seconds> <changes>` pairs (see [`save_rules`]).
    SaveRules,
    /// Space-separated percentages, each 0 to 100 (`latency-tracking-info-percentiles`).
    Percentiles,
    /// `client-output-buffer-limit`: `<class> <hard> <soft> <seconds>` groups; a line or a
    /// `CONFIG SET` updates only the classes it names.
    BufferLimits,
}

/// What setting a directive does in Strata.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Honoured,
    /// Accepted and kept (so `CONFIG GET`/`SET` and config files work), with no effect; the
    /// text says why, in the start-up log line.
    NoEffect(&'static str),
    /// Accepted at its default (the feature off) only: any other value would ask for a
    /// feature Strata does not have, and silently running without it would mislead.
    Unsupported(&'static str),
}

pub struct Directive {
    pub name: &'static str,
    pub default: &'static str,
    pub kind: Kind,
    /// Changeable with `CONFIG SET`.
    pub mutable: bool,
    pub effect: Effect,
}

const fn d(name: &'static str, default: &'static str, kind: Kind, mutable: bool) -> Directive {
    Directive {
        name,
        default,
        kind,
        mutable,
        effect: Effect::Honoured,
    }
}

const INT32: i64 = i32::MAX as i64;

/// The supported directives. `rename-command` and `include` are handled specially.
pub static DIRECTIVES: &[Directive] = &[
    d("bind", "127.0.0.1", Kind::List, false),
    d("port", "6379", Kind::Int { min: 0, max: 65535 }, false),
    d("dir", "./data", Kind::Str, false),
    d("databases", "16", Kind::Int { min: 1, max: 65535 }, false),
    d("requirepass", "", Kind::Str, true),
    d("aclfile", "", Kind::Str, false),
    d("protected-mode", "yes", Kind::Bool, true),
    // Pushed-message bytes a client may have pending (src/pubsub.rs); `slave` is accepted
    // and kept, replica links being bounded by their own stream.
    // Pushed bytes all clients together may have pending (0 = no bound).
    d("maxmemory-clients", "0", Kind::Memory { min: 0 }, true),
    d(
        "client-output-buffer-limit",
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
        Kind::BufferLimits,
        true,
    ),
    // TLS (src/tls.rs); the port is fixed at start-up, the rest reloads on CONFIG SET.
    d("tls-port", "0", Kind::Int { min: 0, max: 65535 }, false),
    d("tls-cert-file", "", Kind::Str, true),
    d("tls-key-file", "", Kind::Str, true),
    d("tls-key-file-pass", "", Kind::Str, true),
    d("tls-ca-cert-file", "", Kind::Str, true),
    d("tls-ca-cert-dir", "", Kind::Str, true),
    d(
        "tls-auth-clients",
        "yes",
        Kind::Enum(&["no", "yes", "optional"]),
        true,
    ),
    d("tls-protocols", "", Kind::Str, true),
    d("tls-ciphersuites", "", Kind::Str, true),
    d("tls-session-caching", "yes", Kind::Bool, true),
    d(
        "tls-session-cache-size",
        "20480",
        Kind::Int {
            min: 0,
            max: i64::MAX,
        },
        true,
    ),
    // A replica's TLS link to its primary, and the certificate it presents there.
    d("tls-replication", "no", Kind::Bool, true),
    d("tls-client-cert-file", "", Kind::Str, true),
    d("tls-client-key-file", "", Kind::Str, true),
    d("tls-client-key-file-pass", "", Kind::Str, true),
    d(
        "acllog-max-len",
        "128",
        Kind::Int {
            min: 0,
            max: i64::MAX,
        },
        true,
    ),
    d(
        "acl-pubsub-default",
        "resetchannels",
        Kind::Enum(&["allchannels", "resetchannels"]),
        true,
    ),
    d("timeout", "0", Kind::Int { min: 0, max: INT32 }, true),
    d(
        "tcp-keepalive",
        "300",
        Kind::Int { min: 0, max: INT32 },
        true,
    ),
    d(
        "maxclients",
        "10000",
        Kind::Int {
            min: 1,
            max: u32::MAX as i64,
        },
        true,
    ),
    d(
        "loglevel",
        "notice",
        Kind::Enum(&["debug", "verbose", "notice", "warning", "nothing"]),
        true,
    ),
    d("logfile", "", Kind::Str, false),
    // Written with the process id at start-up, removed at a clean exit.
    d("pidfile", "", Kind::Str, false),
    d("appendonly", "yes", Kind::Bool, true),
    // Timed checkpoints (BGSAVE) as Redis's timed RDB snapshots. Off by default: the WAL
    // already makes every write durable, so a checkpoint is a backup point.
    d("save", "", Kind::SaveRules, true),
    d(
        "appendfsync",
        "everysec",
        Kind::Enum(&["everysec", "always", "no"]),
        true,
    ),
    d(
        "proto-max-bulk-len",
        "512mb",
        Kind::Memory { min: 1024 * 1024 },
        true,
    ),
    // Sparse HyperLogLogs larger than this are promoted to the dense encoding (Redis's default).
    d(
        "hll-sparse-max-bytes",
        "3000",
        Kind::Memory { min: 0 },
        true,
    ),
    d(
        "client-query-buffer-limit",
        "1gb",
        Kind::Memory { min: 1024 * 1024 },
        true,
    ),
    // Like Redis, any value is accepted and the effective rate is clamped to 1..500.
    d("hz", "10", Kind::Int { min: 0, max: INT32 }, true),
    d("notify-keyspace-events", "", Kind::KeyspaceEvents, true),
    // SLOWLOG: commands at least this many microseconds long are logged (-1: none).
    d(
        "slowlog-log-slower-than",
        "10000",
        Kind::Int {
            min: -1,
            max: i64::MAX,
        },
        true,
    ),
    // LATENCY: events at least this many milliseconds long are sampled (0: off).
    d(
        "latency-monitor-threshold",
        "0",
        Kind::Int {
            min: 0,
            max: i64::MAX,
        },
        true,
    ),
    // Per-command latency histograms (LATENCY HISTOGRAM, INFO latencystats).
    d("latency-tracking", "yes", Kind::Bool, true),
    // CLIENT TRACKING: keys remembered at most (0: no limit); past it keys are forgotten
    // with an invalidation.
    d(
        "tracking-table-max-keys",
        "1000000",
        Kind::Int {
            min: 0,
            max: i64::MAX,
        },
        true,
    ),
    d(
        "latency-tracking-info-percentiles",
        "50 99 99.9",
        Kind::Percentiles,
        true,
    ),
    d(
        "slowlog-max-len",
        "128",
        Kind::Int {
            min: 0,
            max: i64::MAX,
        },
        true,
    ),
    d(
        "checkpoint-retain",
        "5",
        Kind::Int { min: 0, max: INT32 },
        true,
    ),
    d("maxmemory", "0", Kind::Memory { min: 0 }, true),
    d(
        "maxmemory-policy",
        "allkeys-lru",
        Kind::Enum(&[
            "volatile-lru",
            "volatile-lfu",
            "volatile-random",
            "volatile-ttl",
            "allkeys-lru",
            "allkeys-lfu",
            "allkeys-random",
            "noeviction",
        ]),
        true,
    ),
    d(
        "maxmemory-samples",
        "5",
        Kind::Int { min: 1, max: INT32 },
        true,
    ),
    d(
        "lfu-log-factor",
        "10",
        Kind::Int { min: 0, max: INT32 },
        true,
    ),
    d(
        "lfu-decay-time",
        "1",
        Kind::Int { min: 0, max: INT32 },
        true,
    ),
    d("hot-tier", "yes", Kind::Bool, true),
    // Milliseconds a script may run before other clients get -BUSY.
    d(
        "busy-reply-threshold",
        "5000",
        Kind::Int { min: 0, max: INT32 },
        true,
    ),
    // 0: derived from maxmemory (see storage::budget).
    d(
        "rocksdb-block-cache-size",
        "0",
        Kind::Memory { min: 0 },
        false,
    ),
    d(
        "rocksdb-write-buffer-size",
        "0",
        Kind::Memory { min: 0 },
        false,
    ),
    d(
        "rocksdb-max-background-jobs",
        "2",
        Kind::Int { min: 1, max: 64 },
        false,
    ),
    d(
        "rocksdb-max-open-files",
        "-1",
        Kind::Int {
            min: -1,
            max: INT32,
        },
        false,
    ),
    d(
        "rocksdb-compression",
        "lz4",
        Kind::Enum(&["none", "lz4"]),
        false,
    ),
    // Replication (see `replication`): `replicaof host port` at start-up; at run time
    // REPLICAOF changes the role.
    d("replicaof", "", Kind::List, false),
    d("masterauth", "", Kind::Str, true),
    d("masteruser", "", Kind::Str, true),
    // WAL kept for replicas to resume from: at least this much (RocksDB's archive, at
    // least 64 MB) and for this many seconds; read at start-up.
    d(
        "repl-backlog-size",
        "1mb",
        Kind::Memory { min: 16 * 1024 },
        true,
    ),
    d(
        "repl-backlog-ttl",
        "3600",
        Kind::Int { min: 0, max: INT32 },
        true,
    ),
    d("repl-timeout", "60", Kind::Int { min: 1, max: INT32 }, true),
    // `no`: while its link is down, a replica answers `-MASTERDOWN` to every command without
    // the table's `stale` flag (as Redis does).
    d("replica-serve-stale-data", "yes", Kind::Bool, true),
    d(
        "min-replicas-to-write",
        "0",
        Kind::Int { min: 0, max: INT32 },
        true,
    ),
    d(
        "min-replicas-max-lag",
        "10",
        Kind::Int { min: 0, max: INT32 },
        true,
    ),
    d(
        "repl-ping-replica-period",
        "10",
        Kind::Int { min: 1, max: INT32 },
        true,
    ),
    d(
        "replica-priority",
        "100",
        Kind::Int { min: 0, max: INT32 },
        true,
    ),
    d("replica-announce-ip", "", Kind::Str, true),
    d(
        "replica-announce-port",
        "0",
        Kind::Int { min: 0, max: 65535 },
        true,
    ),
];

/// Old names Redis still accepts for a directive: (alias, directive). They read and write the
/// same value.
pub static ALIASES: &[(&str, &str)] = &[("lua-time-limit", "busy-reply-threshold")];

/// Every directive: the honoured ones, then Redis's others.
pub fn all_directives() -> impl Iterator<Item = &'static Directive> {
    DIRECTIVES.iter().chain(redis_compat::DIRECTIVES.iter())
}

fn all_aliases() -> impl Iterator<Item = (&'static str, &'static str)> {
    ALIASES.iter().chain(redis_compat::ALIASES.iter()).copied()
}

/// The directive `name` (or an alias of it) refers to.
pub fn directive(name: &str) -> Option<&'static Directive> {
    let name = all_aliases()
        .find(|(alias, _)| *alias == name)
        .map_or(name, |(_, target)| target);
    all_directives().find(|d| d.name == name)
}

/// Refuses a value that asks for a feature Strata lacks.
fn check_supported(dir: &Directive, canon: &str) -> Result<(), String> {
    match dir.effect {
        Effect::Unsupported(reason) if canon != default_text(dir) => Err(reason.to_string()),
        _ => Ok(()),
    }
}

/// The canonical text of a directive's default.
fn default_text(dir: &Directive) -> String {
    canonical(dir, dir.default).unwrap_or_else(|_| dir.default.to_string())
}

/// The new stored value when `value` is applied on top of `current`: only
/// `client-output-buffer-limit` merges, every other kind replaces.
fn merged(dir: &Directive, current: &str, value: &str) -> Result<String, String> {
    match dir.kind {
        Kind::BufferLimits => merge_buffer_limits(current, value),
        _ => canonical(dir, value),
    }
}

const BUFFER_CLASSES: [&str; 3] = ["normal", "slave", "pubsub"];

/// Applies `<class> <hard> <soft> <seconds>` groups to the full three-class text.
fn merge_buffer_limits(current: &str, value: &str) -> Result<String, String> {
    let mut limits: Vec<[String; 3]> = BUFFER_CLASSES
        .iter()
        .map(|_| ["0".to_string(), "0".to_string(), "0".to_string()])
        .collect();
    for (i, group) in current
        .split_whitespace()
        .collect::<Vec<_>>()
        .chunks_exact(4)
        .enumerate()
    {
        if i < limits.len() {
            limits[i] = [group[1].into(), group[2].into(), group[3].into()];
        }
    }
    let words: Vec<&str> = value.split_whitespace().collect();
    if words.is_empty() || words.len() % 4 != 0 {
        return Err("Wrong number of arguments in buffer limit configuration.".into());
    }
    for group in words.chunks_exact(4) {
        let class = match group[0].to_ascii_lowercase().as_str() {
            "normal" => 0,
            "slave" | "replica" => 1,
            "pubsub" => 2,
            _ => {
                return Err("Invalid client class specified in buffer limit configuration.".into())
            }
        };
        let hard = parse_memory(group[1]).filter(|n| *n >= 0);
        let soft = parse_memory(group[2]).filter(|n| *n >= 0);
        let seconds = group[3].parse::<u64>().ok();
        let (Some(hard), Some(soft), Some(seconds)) = (hard, soft, seconds) else {
            return Err(
                "Error in hard, soft or soft_seconds setting in buffer limit configuration.".into(),
            );
        };
        limits[class] = [hard.to_string(), soft.to_string(), seconds.to_string()];
    }
    Ok(BUFFER_CLASSES
        .iter()
        .zip(&limits)
        .map(|(class, [h, s, t])| format!("{class} {h} {s} {t}"))
        .collect::<Vec<_>>()
        .join(" "))
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{file}:{line}: >>> '{text}': {reason}")]
    File {
        file: String,
        line: usize,
        text: String,
        reason: String,
    },
    #[error("cannot read config file {0}: {1}")]
    Io(String, String),
    #[error("{0}")]
    Value(String),
}

/// Parses a memory amount (`1gb`, `512mb`, `100k`, `1024`).
pub fn parse_memory(text: &str) -> Option<i64> {
    let lower = text.to_ascii_lowercase();
    let split = lower
        .find(|c: char| !c.is_ascii_digit() && c != '-')
        .unwrap_or(lower.len());
    let (num, unit) = lower.split_at(split);
    let n: i64 = num.parse().ok()?;
    let mul: i64 = match unit {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    n.checked_mul(mul)
}

/// Validates `value` for `dir` and returns its canonical text, or Redis's reason text.
pub fn canonical(dir: &Directive, value: &str) -> Result<String, String> {
    match dir.kind {
        Kind::Int { min, max } => {
            let n: i64 = value
                .parse()
                .map_err(|_| "argument couldn't be parsed into an integer".to_string())?;
            if n < min || n > max {
                return Err(format!(
                    "argument must be between {min} and {max} inclusive"
                ));
            }
            Ok(n.to_string())
        }
        Kind::Bool => match value.to_ascii_lowercase().as_str() {
            "yes" => Ok("yes".into()),
            "no" => Ok("no".into()),
            _ => Err("argument must be 'yes' or 'no'".into()),
        },
        Kind::Enum(options) => {
            let lower = value.to_ascii_lowercase();
            options
                .iter()
                .find(|o| **o == lower)
                .map(|o| o.to_string())
                .ok_or_else(|| {
                    format!(
                        "argument(s) must be one of the following: {}",
                        options.join(", ")
                    )
                })
        }
        Kind::Memory { min } => {
            let n =
                parse_memory(value).ok_or_else(|| "argument must be a memory value".to_string())?;
            if n < min {
                return Err(format!("argument must be at least {min}"));
            }
            Ok(n.to_string())
        }
        Kind::Str => Ok(value.to_string()),
        Kind::KeyspaceEvents => crate::notify::parse_flags(value)
            .map(crate::notify::flags_to_string)
            .ok_or_else(|| "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".to_string()),
        Kind::List => Ok(value.split_whitespace().collect::<Vec<_>>().join(" ")),
        Kind::SaveRules => save_rules::canonical(value),
        Kind::Percentiles => {
            let parsed: Option<Vec<f64>> = value
                .split_whitespace()
                .map(|w| w.parse::<f64>().ok().filter(|p| (0.0..=100.0).contains(p)))
                .collect();
            let parsed = parsed.ok_or_else(|| {
                "Invalid latency-tracking-info-percentiles parameters".to_string()
            })?;
            Ok(parsed
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join(" "))
        }
        Kind::BufferLimits => merge_buffer_limits("", value),
    }
}

/// The runtime configuration.
pub struct ConfigStore {
    values: RwLock<HashMap<&'static str, String>>,
    /// `rename-command` pairs (original lowercase name, new name; empty = disabled).
    renames: Vec<(String, String)>,
    /// `user name rules...` lines, in file order, as their arguments (Redis's in-config ACL).
    users: Vec<Vec<String>>,
    file: Option<PathBuf>,
    /// One line per directive the file or command line named that has no effect here.
    notices: Vec<String>,
}

/// What reading the file and the command line accumulates.
struct Loader {
    values: HashMap<&'static str, String>,
    renames: Vec<(String, String)>,
    users: Vec<Vec<String>>,
    notices: Vec<String>,
    noticed: HashSet<&'static str>,
    /// The first `save` line replaces the default rules; later ones add to them (Redis).
    save_seen: bool,
}

impl ConfigStore {
    /// Defaults, then the file (if any), then command-line overrides (`--name value ...`).
    pub fn load(
        file: Option<&Path>,
        overrides: &[(String, String)],
    ) -> Result<ConfigStore, ConfigError> {
        let mut loader = Loader {
            values: all_directives()
                .map(|d| (d.name, default_text(d)))
                .collect(),
            renames: Vec::new(),
            users: Vec::new(),
            notices: Vec::new(),
            noticed: HashSet::new(),
            save_seen: false,
        };
        if let Some(path) = file {
            read_file(path, &mut loader, 0)?;
        }
        for (name, value) in overrides {
            let lname = name.to_ascii_lowercase();
            let line = format!("--{name} {value}");
            // One argument: multi-word kinds split the value themselves.
            let args = vec![lname, value.clone()];
            loader
                .apply_line(&args)
                .map_err(|reason| ConfigError::File {
                    file: "command line".into(),
                    line: 0,
                    text: line,
                    reason,
                })?;
        }
        Ok(ConfigStore {
            values: RwLock::new(loader.values),
            renames: loader.renames,
            users: loader.users,
            file: file.map(Path::to_path_buf),
            notices: loader.notices,
        })
    }

    /// The start-up log lines for directives that were set but have no effect.
    pub fn notices(&self) -> &[String] {
        &self.notices
    }

    pub fn get(&self, name: &str) -> String {
        self.values.read().get(name).cloned().unwrap_or_default()
    }

    /// Parsed in place: connections read a few integers per request, and a copy of the
    /// string each time was most of the allocations a GET made.
    pub fn get_int(&self, name: &str) -> i64 {
        self.values
            .read()
            .get(name)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }

    pub fn get_bool(&self, name: &str) -> bool {
        self.values.read().get(name).is_some_and(|v| v == "yes")
    }

    pub fn renames(&self) -> &[(String, String)] {
        &self.renames
    }

    /// The config file's `user` lines (each `user name rules...`, split into arguments).
    pub fn users(&self) -> &[Vec<String>] {
        &self.users
    }

    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// `CONFIG GET` for one pattern: (name, value) pairs in table order.
    pub fn matching(&self, pattern: &[u8]) -> Vec<(&'static str, String)> {
        let lower = pattern.to_ascii_lowercase();
        let values = self.values.read();
        let value = |name: &str| values.get(name).cloned().unwrap_or_default();
        let names = all_directives()
            .map(|d| (d.name, d.name))
            .chain(all_aliases());
        names
            .filter(|(shown, _)| glob_match(&lower, shown.as_bytes()))
            .map(|(shown, target)| (shown, value(target)))
            .collect()
    }

    /// Records a value the server itself changed (the role `REPLICAOF` set), so `CONFIG
    /// GET` and `CONFIG REWRITE` show it; no validation.
    pub fn set_internal(&self, name: &'static str, value: &str) {
        self.values.write().insert(name, value.to_string());
    }

    /// `CONFIG SET` of several pairs, all or nothing. Errors carry Redis's full text.
    pub fn set_many(&self, pairs: &[(String, String)]) -> Result<(), String> {
        let mut staged = Vec::with_capacity(pairs.len());
        for (name, value) in pairs {
            let lname = name.to_ascii_lowercase();
            let Some(dir) = directive(&lname) else {
                return Err(format!(
                    "ERR Unknown option or number of arguments for CONFIG SET - '{name}'"
                ));
            };
            if !dir.mutable {
                return Err(format!(
                    "ERR CONFIG SET failed (possibly related to argument '{lname}') - can't set immutable config"
                ));
            }
            if staged.iter().any(|(n, _)| *n == dir.name) {
                return Err(format!(
                    "ERR CONFIG SET failed (possibly related to argument '{lname}') - duplicate parameter"
                ));
            }
            let fail = |reason: String| {
                format!("ERR CONFIG SET failed (possibly related to argument '{lname}') - {reason}")
            };
            let canon = merged(dir, &self.get(dir.name), value).map_err(fail)?;
            check_supported(dir, &canon).map_err(fail)?;
            staged.push((dir.name, canon));
        }
        let mut values = self.values.write();
        for (name, value) in staged {
            values.insert(name, value);
        }
        Ok(())
    }

    /// `CONFIG REWRITE`: rewrites the file in place, keeping comments and unknown-to-rewrite
    /// lines (includes, renames); changed directives are updated where they appear and
    /// non-default ones that do not appear are appended.
    /// `CONFIG REWRITE`. `users` are the ACL users' `user ...` lines when they live in the
    /// config file (no `aclfile`): they replace the file's `user` lines, as Redis writes them.
    pub fn rewrite(&self, users: Option<Vec<String>>) -> Result<(), String> {
        let Some(path) = &self.file else {
            return Err("ERR The server is running without a config file".into());
        };
        let original =
            std::fs::read_to_string(path).map_err(|e| format!("ERR Rewriting config file: {e}"))?;
        let values = self.values.read();
        let mut written: Vec<&str> = Vec::new();
        let mut out = Vec::new();
        for line in original.lines() {
            let trimmed = line.trim();
            let name = split_args(trimmed.as_bytes())
                .and_then(|a| a.into_iter().next())
                .map(|n| String::from_utf8_lossy(&n).to_ascii_lowercase());
            if users.is_some() && name.as_deref() == Some("user") && !trimmed.starts_with('#') {
                continue;
            }
            match name.as_deref().and_then(directive) {
                Some(dir) if !trimmed.starts_with('#') => {
                    if written.contains(&dir.name) {
                        continue;
                    }
                    written.push(dir.name);
                    out.push(format!(
                        "{} {}",
                        dir.name,
                        quote(values.get(dir.name).map_or("", |v| v))
                    ));
                }
                _ => out.push(line.to_string()),
            }
        }
        let mut appended = false;
        for dir in all_directives() {
            let value = values.get(dir.name).cloned().unwrap_or_default();
            let default = default_text(dir);
            if written.contains(&dir.name) || value == default {
                continue;
            }
            if !appended {
                out.push("# Generated by CONFIG REWRITE".into());
                appended = true;
            }
            out.push(format!("{} {}", dir.name, quote(&value)));
        }
        out.extend(users.unwrap_or_default());
        let mut text = out.join("\n");
        text.push('\n');
        let tmp = path.with_extension("rewrite.tmp");
        std::fs::write(&tmp, text).map_err(|e| format!("ERR Rewriting config file: {e}"))?;
        std::fs::rename(&tmp, path).map_err(|e| format!("ERR Rewriting config file: {e}"))
    }
}

/// Quotes a value for the config file when it is empty or contains spaces or quotes.
fn quote(value: &str) -> String {
    if !value.is_empty() && !value.contains([' ', '"', '\'', '\\']) {
        return value.to_string();
    }
    let escaped = value.replace('\\', "\\\\").replace('"', "\\\"");
    format!("\"{escaped}\"")
}

fn read_file(path: &Path, loader: &mut Loader, depth: usize) -> Result<(), ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::Io(path.display().to_string(), e.to_string()))?;
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let fail = |reason: String| ConfigError::File {
            file: path.display().to_string(),
            line: index + 1,
            text: trimmed.to_string(),
            reason,
        };
        let Some(args) = split_args(trimmed.as_bytes()) else {
            return Err(fail("unbalanced quotes in configuration line".into()));
        };
        let mut args: Vec<String> = args
            .into_iter()
            .map(|a| String::from_utf8_lossy(&a).into_owned())
            .collect();
        args[0] = args[0].to_ascii_lowercase();
        if args[0] == "include" {
            if args.len() != 2 || depth > 16 {
                return Err(fail(
                    "include takes one file (and may nest at most 16 deep)".into(),
                ));
            }
            read_file(Path::new(&args[1]), loader, depth + 1)?;
            continue;
        }
        loader.apply_line(&args).map_err(fail)?;
    }
    Ok(())
}

impl Loader {
    fn apply_line(&mut self, args: &[String]) -> Result<(), String> {
        let name = args[0].as_str();
        if name == "rename-command" {
            if args.len() != 3 {
                return Err("rename-command takes a command and its new name".into());
            }
            self.renames
                .push((args[1].to_ascii_lowercase(), args[2].clone()));
            return Ok(());
        }
        if name == "user" {
            if args.len() < 2 {
                return Err("user takes a name and its ACL rules".into());
            }
            self.users.push(args.to_vec());
            return Ok(());
        }
        match redis_compat::line_rule(name) {
            Some(redis_compat::LineRule::Refused(reason)) => return Err(reason.to_string()),
            Some(redis_compat::LineRule::Ignored(reason)) => {
                self.notices.push(format!("{name}: {reason}"));
                return Ok(());
            }
            None => {}
        }
        let Some(dir) = directive(name) else {
            return Err(format!("unknown directive '{name}'"));
        };
        let value = match dir.kind {
            Kind::List | Kind::SaveRules | Kind::BufferLimits | Kind::Percentiles => {
                args[1..].join(" ")
            }
            _ if args.len() != 2 => return Err(format!("'{name}' takes exactly one argument")),
            _ => args[1].clone(),
        };
        let current = self.values.get(dir.name).cloned().unwrap_or_default();
        let invalid = |reason: String| format!("invalid value for '{name}': {reason}");
        let canon = match dir.kind {
            Kind::SaveRules => {
                let base = if self.save_seen {
                    current
                } else {
                    String::new()
                };
                self.save_seen = true;
                let added = save_rules::canonical(&value).map_err(invalid)?;
                if added.is_empty() {
                    String::new()
                } else {
                    [base, added].join(" ").trim().to_string()
                }
            }
            _ => merged(dir, &current, &value).map_err(invalid)?,
        };
        check_supported(dir, &canon).map_err(|reason| format!("'{name} {value}': {reason}"))?;
        if let Effect::NoEffect(reason) = dir.effect {
            if self.noticed.insert(dir.name) {
                self.notices.push(format!("{name}: {reason}"));
            }
        }
        self.values.insert(dir.name, canon);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_units() {
        assert_eq!(parse_memory("1gb"), Some(1 << 30));
        assert_eq!(parse_memory("512MB"), Some(512 << 20));
        assert_eq!(parse_memory("1k"), Some(1000));
        assert_eq!(parse_memory("12"), Some(12));
        assert_eq!(parse_memory("x"), None);
    }

    #[test]
    fn file_with_include_quotes_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let inc = dir.path().join("inc.conf");
        std::fs::write(&inc, "hz 20\n").unwrap();
        let main = dir.path().join("main.conf");
        std::fs::write(
            &main,
            format!("# comment\nport 7000\nrequirepass \"a b\"\ninclude {}\nrename-command CONFIG \"\"\n", inc.display()),
        )
        .unwrap();
        let cfg = ConfigStore::load(Some(&main), &[("dir".into(), "/tmp/x".into())]).unwrap();
        assert_eq!(cfg.get("port"), "7000");
        assert_eq!(cfg.get("requirepass"), "a b");
        assert_eq!(cfg.get("hz"), "20");
        assert_eq!(cfg.get("dir"), "/tmp/x");
        assert_eq!(cfg.get("proto-max-bulk-len"), "536870912");
        assert_eq!(cfg.renames(), &[("config".to_string(), String::new())]);

        std::fs::write(&main, "port 7000\nbogus 1\n").unwrap();
        let err = ConfigStore::load(Some(&main), &[]).err().unwrap();
        assert!(matches!(err, ConfigError::File { line: 2, .. }), "{err}");
    }

    #[test]
    fn set_validates_all_before_applying() {
        let cfg = ConfigStore::load(None, &[]).unwrap();
        assert!(cfg
            .set_many(&[("hz".into(), "20".into()), ("hz".into(), "30".into())])
            .is_err());
        let err = cfg
            .set_many(&[("timeout".into(), "5".into()), ("port".into(), "1".into())])
            .unwrap_err();
        assert!(err.contains("can't set immutable config"), "{err}");
        assert_eq!(cfg.get("timeout"), "0");
        cfg.set_many(&[("appendfsync".into(), "ALWAYS".into())])
            .unwrap();
        assert_eq!(cfg.get("appendfsync"), "always");
    }
}
