//! Every directive Redis 7.0 and 7.2 know that Strata does not honour, with Redis's default,
//! its value kind, whether Redis lets `CONFIG SET` change it, and why it has no effect here.
//! The data was listed from Redis's own directive names and defaults (`CONFIG GET *` of
//! redis-server 7.0.15 and the 7.2 additions); `tests/it/config_compat.rs` loads all of
//! them. Keeping these accepted is what lets a user's `redis.conf` start Strata unchanged and
//! application set-up code `CONFIG SET` encoding thresholds without failing.
//!
//! A few (`cluster-enabled`, `unixsocket`) ask for a
//! feature Strata does not have yet: they load at their default, and any other value stops
//! start-up (or fails `CONFIG SET`) with the reason, because a server that silently ignored
//! them would mislead. Depends only on the registry types in `config`.

use super::{Directive, Effect, Kind};

const NO_AOF: &str =
    "there is no AOF file; the RocksDB WAL is the log (appendonly and appendfsync apply to it)";
const NO_RDB: &str = "saves are RocksDB checkpoints under <dir>/checkpoints; there is no RDB file";
const SAVE_ERRORS: &str =
    "a failed checkpoint does not stop writes: the WAL keeps every write durable";
const ENCODING: &str = "collections are stored as RocksDB records, so Redis's in-memory encoding thresholds do not apply";
const LAZYFREE: &str =
    "deletion is already O(1): a deleted collection's records are reclaimed in the background";
const DEFRAG: &str =
    "memory is held by RocksDB and jemalloc; Redis's active defragmentation does not apply";
const REPLICATION: &str = "Strata replicates RocksDB WAL batches, not commands; this Redis replication setting does not apply";
const READ_ONLY_REPLICAS: &str =
    "a Strata replica is always read-only: its data changes only through its primary's stream";
const CLUSTER: &str = "Redis Cluster is not implemented in Strata yet";
const TLS: &str = "Strata's TLS is rustls: cluster buses are plain TCP, and OpenSSL's TLS 1.2 cipher lists, DH parameters and session timeouts do not apply";
const SYSLOG: &str = "logs go to stdout or the logfile; syslog is not supported";
const DUMP: &str = "RESTORE always checks a payload whole (checksum, version, every encoding) before it writes anything";
const KEYSPACE_CRON: &str =
    "the keyspace is RocksDB, not a rehashed hash table; active expiry runs hz times a second";
const MAXMEMORY: &str =
    "maxmemory bounds the hot tier and RocksDB's caches; client memory is not counted against it";
const ADMIN_COMMANDS: &str =
    "DEBUG and protected configs are always allowed in Strata (rename-command can disable them)";
const MODULES: &str = "Redis modules cannot be loaded into Strata";
const UNIX_SOCKET: &str =
    "unix sockets are not implemented in Strata yet; clients connect over TCP";
const SOCKETS: &str = "Strata's listener does not apply this socket option";
const THREADS: &str =
    "commands already run on a multi-threaded runtime; Redis's I/O threads do not apply";
const LOCALE: &str = "SORT ALPHA compares bytes; the collation locale does not apply";
const SHUTDOWN: &str =
    "SIGINT and SIGTERM always shut down cleanly; the WAL already holds every write";
const PROCESS: &str = "Strata runs in the foreground as one process; Redis's process-management settings do not apply";

const SIGNED: Kind = Kind::Int {
    min: i64::MIN,
    max: i64::MAX,
};
const UNSIGNED: Kind = Kind::Int {
    min: 0,
    max: i64::MAX,
};
const MEMORY: Kind = Kind::Memory { min: 0 };

const fn no_effect(
    name: &'static str,
    default: &'static str,
    kind: Kind,
    mutable: bool,
    reason: &'static str,
) -> Directive {
    Directive {
        name,
        default,
        kind,
        mutable,
        effect: Effect::NoEffect(reason),
    }
}

const fn unsupported(
    name: &'static str,
    default: &'static str,
    kind: Kind,
    mutable: bool,
    reason: &'static str,
) -> Directive {
    Directive {
        name,
        default,
        kind,
        mutable,
        effect: Effect::Unsupported(reason),
    }
}

/// Redis's directives Strata keeps but does not act on, in Redis's table order.
pub static DIRECTIVES: &[Directive] = &[
    no_effect("rdbchecksum", "yes", Kind::Bool, false, NO_RDB),
    no_effect("daemonize", "no", Kind::Bool, false, PROCESS),
    no_effect("io-threads-do-reads", "no", Kind::Bool, false, THREADS),
    no_effect("always-show-logo", "no", Kind::Bool, false, PROCESS),
    no_effect("rdbcompression", "yes", Kind::Bool, true, NO_RDB),
    no_effect("rdb-del-sync-files", "no", Kind::Bool, true, NO_RDB),
    no_effect("activerehashing", "yes", Kind::Bool, true, KEYSPACE_CRON),
    no_effect(
        "stop-writes-on-bgsave-error",
        "yes",
        Kind::Bool,
        true,
        SAVE_ERRORS,
    ),
    no_effect("set-proc-title", "yes", Kind::Bool, false, PROCESS),
    no_effect("dynamic-hz", "yes", Kind::Bool, true, KEYSPACE_CRON),
    no_effect("lazyfree-lazy-eviction", "no", Kind::Bool, true, LAZYFREE),
    no_effect("lazyfree-lazy-expire", "no", Kind::Bool, true, LAZYFREE),
    no_effect("lazyfree-lazy-server-del", "no", Kind::Bool, true, LAZYFREE),
    no_effect("lazyfree-lazy-user-del", "no", Kind::Bool, true, LAZYFREE),
    no_effect("lazyfree-lazy-user-flush", "no", Kind::Bool, true, LAZYFREE),
    no_effect(
        "repl-disable-tcp-nodelay",
        "no",
        Kind::Bool,
        true,
        REPLICATION,
    ),
    no_effect("repl-diskless-sync", "yes", Kind::Bool, true, REPLICATION),
    no_effect(
        "aof-rewrite-incremental-fsync",
        "yes",
        Kind::Bool,
        true,
        NO_AOF,
    ),
    no_effect("no-appendfsync-on-rewrite", "no", Kind::Bool, true, NO_AOF),
    no_effect(
        "cluster-require-full-coverage",
        "yes",
        Kind::Bool,
        true,
        CLUSTER,
    ),
    no_effect(
        "rdb-save-incremental-fsync",
        "yes",
        Kind::Bool,
        true,
        NO_RDB,
    ),
    no_effect("aof-load-truncated", "yes", Kind::Bool, true, NO_AOF),
    no_effect("aof-use-rdb-preamble", "yes", Kind::Bool, true, NO_AOF),
    no_effect("aof-timestamp-enabled", "no", Kind::Bool, true, NO_AOF),
    no_effect(
        "cluster-replica-no-failover",
        "no",
        Kind::Bool,
        true,
        CLUSTER,
    ),
    no_effect("replica-lazy-flush", "no", Kind::Bool, true, LAZYFREE),
    unsupported(
        "replica-read-only",
        "yes",
        Kind::Bool,
        true,
        READ_ONLY_REPLICAS,
    ),
    no_effect(
        "replica-ignore-maxmemory",
        "yes",
        Kind::Bool,
        true,
        REPLICATION,
    ),
    no_effect("jemalloc-bg-thread", "yes", Kind::Bool, true, PROCESS),
    no_effect("activedefrag", "no", Kind::Bool, true, DEFRAG),
    no_effect("syslog-enabled", "no", Kind::Bool, false, SYSLOG),
    unsupported("cluster-enabled", "no", Kind::Bool, false, CLUSTER),
    no_effect(
        "cluster-allow-reads-when-down",
        "no",
        Kind::Bool,
        true,
        CLUSTER,
    ),
    no_effect(
        "cluster-allow-pubsubshard-when-down",
        "yes",
        Kind::Bool,
        true,
        CLUSTER,
    ),
    no_effect("crash-log-enabled", "yes", Kind::Bool, true, PROCESS),
    no_effect("crash-memcheck-enabled", "yes", Kind::Bool, true, PROCESS),
    no_effect("use-exit-on-panic", "no", Kind::Bool, true, PROCESS),
    no_effect("disable-thp", "yes", Kind::Bool, false, PROCESS),
    no_effect(
        "cluster-allow-replica-migration",
        "yes",
        Kind::Bool,
        true,
        CLUSTER,
    ),
    no_effect("replica-announced", "yes", Kind::Bool, true, REPLICATION),
    no_effect("aof-disable-auto-gc", "no", Kind::Bool, true, NO_AOF),
    no_effect(
        "replica-ignore-disk-write-errors",
        "no",
        Kind::Bool,
        true,
        REPLICATION,
    ),
    unsupported("unixsocket", "", Kind::Str, false, UNIX_SOCKET),
    no_effect("cluster-announce-ip", "", Kind::Str, true, CLUSTER),
    no_effect(
        "cluster-config-file",
        "nodes.conf",
        Kind::Str,
        false,
        CLUSTER,
    ),
    no_effect("cluster-announce-hostname", "", Kind::Str, true, CLUSTER),
    // Redis 7.2.
    no_effect(
        "cluster-announce-human-nodename",
        "",
        Kind::Str,
        true,
        CLUSTER,
    ),
    no_effect("syslog-ident", "redis", Kind::Str, false, SYSLOG),
    no_effect("dbfilename", "dump.rdb", Kind::Str, false, NO_RDB),
    no_effect("appendfilename", "appendonly.aof", Kind::Str, false, NO_AOF),
    no_effect("appenddirname", "appendonlydir", Kind::Str, false, NO_AOF),
    no_effect("server_cpulist", "", Kind::Str, false, PROCESS),
    no_effect("bio_cpulist", "", Kind::Str, false, PROCESS),
    no_effect("aof_rewrite_cpulist", "", Kind::Str, false, PROCESS),
    no_effect("bgsave_cpulist", "", Kind::Str, false, PROCESS),
    no_effect("ignore-warnings", "", Kind::Str, true, PROCESS),
    no_effect(
        "proc-title-template",
        "{title} {listen-addr} {server-mode}",
        Kind::Str,
        true,
        PROCESS,
    ),
    no_effect("bind-source-addr", "", Kind::Str, true, SOCKETS),
    // Redis 7.2.
    no_effect("locale-collate", "", Kind::Str, true, LOCALE),
    no_effect(
        "supervised",
        "no",
        Kind::Enum(&["upstart", "systemd", "auto", "no"]),
        false,
        PROCESS,
    ),
    no_effect(
        "syslog-facility",
        "local0",
        Kind::Enum(&[
            "user", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
        ]),
        false,
        SYSLOG,
    ),
    no_effect(
        "repl-diskless-load",
        "disabled",
        Kind::Enum(&["disabled", "on-empty-db", "swapdb"]),
        true,
        REPLICATION,
    ),
    no_effect(
        "oom-score-adj",
        "no",
        Kind::Enum(&["no", "yes", "relative", "absolute"]),
        true,
        PROCESS,
    ),
    no_effect(
        "sanitize-dump-payload",
        "no",
        Kind::Enum(&["no", "yes", "clients"]),
        true,
        DUMP,
    ),
    no_effect(
        "enable-protected-configs",
        "no",
        Kind::Enum(&["no", "yes", "local"]),
        false,
        ADMIN_COMMANDS,
    ),
    no_effect(
        "enable-debug-command",
        "no",
        Kind::Enum(&["no", "yes", "local"]),
        false,
        ADMIN_COMMANDS,
    ),
    no_effect(
        "enable-module-command",
        "no",
        Kind::Enum(&["no", "yes", "local"]),
        false,
        MODULES,
    ),
    no_effect(
        "cluster-preferred-endpoint-type",
        "ip",
        Kind::Enum(&["ip", "hostname", "unknown-endpoint"]),
        true,
        CLUSTER,
    ),
    no_effect(
        "propagation-error-behavior",
        "ignore",
        Kind::Enum(&["ignore", "panic", "panic-on-replicas"]),
        true,
        REPLICATION,
    ),
    no_effect(
        "shutdown-on-sigint",
        "default",
        Kind::Enum(&["default", "save", "nosave", "now", "force"]),
        true,
        SHUTDOWN,
    ),
    no_effect(
        "shutdown-on-sigterm",
        "default",
        Kind::Enum(&["default", "save", "nosave", "now", "force"]),
        true,
        SHUTDOWN,
    ),
    no_effect("io-threads", "1", SIGNED, false, THREADS),
    no_effect("auto-aof-rewrite-percentage", "100", SIGNED, true, NO_AOF),
    no_effect(
        "cluster-replica-validity-factor",
        "10",
        SIGNED,
        true,
        CLUSTER,
    ),
    no_effect("list-max-listpack-size", "-2", SIGNED, true, ENCODING),
    no_effect("cluster-migration-barrier", "1", SIGNED, true, CLUSTER),
    no_effect("active-defrag-cycle-min", "1", SIGNED, true, DEFRAG),
    no_effect("active-defrag-cycle-max", "25", SIGNED, true, DEFRAG),
    no_effect("active-defrag-threshold-lower", "10", SIGNED, true, DEFRAG),
    no_effect("active-defrag-threshold-upper", "100", SIGNED, true, DEFRAG),
    no_effect("repl-diskless-sync-delay", "5", SIGNED, true, REPLICATION),
    no_effect("maxmemory-eviction-tenacity", "10", SIGNED, true, MAXMEMORY),
    no_effect("tcp-backlog", "511", SIGNED, false, SOCKETS),
    no_effect("cluster-port", "0", SIGNED, false, CLUSTER),
    no_effect("cluster-announce-bus-port", "0", SIGNED, true, CLUSTER),
    no_effect("cluster-announce-port", "0", SIGNED, true, CLUSTER),
    no_effect("cluster-announce-tls-port", "0", SIGNED, true, CLUSTER),
    no_effect("list-compress-depth", "0", SIGNED, true, ENCODING),
    no_effect("rdb-key-save-delay", "0", SIGNED, true, NO_RDB),
    no_effect("key-load-delay", "0", SIGNED, true, NO_RDB),
    no_effect("active-expire-effort", "1", SIGNED, true, KEYSPACE_CRON),
    no_effect("watchdog-period", "0", SIGNED, true, PROCESS),
    no_effect("shutdown-timeout", "10", SIGNED, true, SHUTDOWN),
    no_effect(
        "repl-diskless-sync-max-replicas",
        "0",
        SIGNED,
        true,
        REPLICATION,
    ),
    no_effect("unixsocketperm", "0", UNSIGNED, false, UNIX_SOCKET),
    no_effect("socket-mark-id", "0", UNSIGNED, false, SOCKETS),
    no_effect(
        "active-defrag-max-scan-fields",
        "1000",
        UNSIGNED,
        true,
        DEFRAG,
    ),
    no_effect("cluster-node-timeout", "15000", SIGNED, true, CLUSTER),
    // Redis 7.2.
    no_effect("cluster-ping-interval", "0", SIGNED, true, CLUSTER),
    no_effect("stream-node-max-entries", "100", SIGNED, true, ENCODING),
    no_effect("cluster-link-sendbuf-limit", "0", MEMORY, true, CLUSTER),
    no_effect("hash-max-listpack-entries", "512", UNSIGNED, true, ENCODING),
    no_effect("set-max-intset-entries", "512", UNSIGNED, true, ENCODING),
    // Redis 7.2.
    no_effect("set-max-listpack-entries", "128", UNSIGNED, true, ENCODING),
    // Redis 7.2.
    no_effect("set-max-listpack-value", "64", UNSIGNED, true, ENCODING),
    no_effect("zset-max-listpack-entries", "128", UNSIGNED, true, ENCODING),
    no_effect(
        "active-defrag-ignore-bytes",
        "104857600",
        MEMORY,
        true,
        DEFRAG,
    ),
    no_effect("hash-max-listpack-value", "64", MEMORY, true, ENCODING),
    no_effect("stream-node-max-bytes", "4096", MEMORY, true, ENCODING),
    no_effect("zset-max-listpack-value", "64", MEMORY, true, ENCODING),
    no_effect(
        "auto-aof-rewrite-min-size",
        "67108864",
        MEMORY,
        true,
        NO_AOF,
    ),
    no_effect(
        "loading-process-events-interval-bytes",
        "2097152",
        SIGNED,
        true,
        NO_RDB,
    ),
    no_effect("tls-session-cache-timeout", "300", SIGNED, true, TLS),
    unsupported("tls-cluster", "no", Kind::Bool, true, TLS),
    no_effect("tls-prefer-server-ciphers", "no", Kind::Bool, true, TLS),
    no_effect("tls-dh-params-file", "", Kind::Str, true, TLS),
    no_effect("tls-ciphers", "", Kind::Str, true, TLS),
    no_effect(
        "oom-score-adj-values",
        "0 200 800",
        Kind::List,
        true,
        PROCESS,
    ),
];

/// Redis's old names for the directives above: (alias, directive).
pub static ALIASES: &[(&str, &str)] = &[
    ("cluster-slave-no-failover", "cluster-replica-no-failover"),
    ("slave-lazy-flush", "replica-lazy-flush"),
    ("slave-serve-stale-data", "replica-serve-stale-data"),
    ("slave-read-only", "replica-read-only"),
    ("slave-ignore-maxmemory", "replica-ignore-maxmemory"),
    ("slave-announce-ip", "replica-announce-ip"),
    (
        "cluster-slave-validity-factor",
        "cluster-replica-validity-factor",
    ),
    ("list-max-ziplist-size", "list-max-listpack-size"),
    ("slave-priority", "replica-priority"),
    ("slave-announce-port", "replica-announce-port"),
    ("repl-ping-slave-period", "repl-ping-replica-period"),
    ("min-slaves-to-write", "min-replicas-to-write"),
    ("min-slaves-max-lag", "min-replicas-max-lag"),
    ("hash-max-ziplist-entries", "hash-max-listpack-entries"),
    ("zset-max-ziplist-entries", "zset-max-listpack-entries"),
    ("hash-max-ziplist-value", "hash-max-listpack-value"),
    ("zset-max-ziplist-value", "zset-max-listpack-value"),
    ("slaveof", "replicaof"),
];

/// What Strata does with a config line that is not a directive with a stored value.
pub enum LineRule {
    /// Stops start-up with this reason.
    Refused(&'static str),
    /// Accepted, logged with this reason, and not stored (Redis ignores these too).
    Ignored(&'static str),
}

const DEPRECATED: &str = "Redis itself ignores this deprecated directive";

/// Lines Redis reads that are not directives with a value, and what Strata does with them.
pub fn line_rule(name: &str) -> Option<LineRule> {
    match name {
        "loadmodule" => Some(LineRule::Refused(MODULES)),
        // Redis itself refuses it outside sentinel mode, with this text.
        "sentinel" => Some(LineRule::Refused(
            "sentinel directive while not in sentinel mode",
        )),
        "list-max-ziplist-entries" | "list-max-ziplist-value" | "lua-replicate-commands" => {
            Some(LineRule::Ignored(DEPRECATED))
        }
        _ => None,
    }
}
