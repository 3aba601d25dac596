//! THE command table: the single source of truth for every command's name, arity, flags, key
//! positions, ACL categories and documentation (DESIGN §3).
//!
//! The dispatch gate enforces arity, authentication and locking from it; `COMMAND` and its
//! subcommands render it; `rename-command` is applied when the lookup map is built. Arity
//! follows Redis: `n` means exactly n arguments (name included), `-n` at least n.
//! The facts (arity, key positions, categories) are Redis 7's, written by us.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;

use super::{
    acl, bitmap, connection as conn, geo, hash, hll, info, key, latency, list, memory as mem,
    migration as mig, persistence, pubsub as ps, replication as repl, scripting as scr,
    server as srv, set, slowlog, sort, stream, string as st, txn, zset, Handler,
};

/// Command flags, rendered by `COMMAND INFO` (except the Strata-internal ones).
pub mod flags {
    pub const WRITE: u32 = 1 << 0;
    pub const READONLY: u32 = 1 << 1;
    pub const DENYOOM: u32 = 1 << 2;
    pub const ADMIN: u32 = 1 << 3;
    pub const PUBSUB: u32 = 1 << 4;
    pub const NOSCRIPT: u32 = 1 << 5;
    pub const BLOCKING: u32 = 1 << 6;
    pub const LOADING: u32 = 1 << 7;
    pub const STALE: u32 = 1 << 8;
    pub const FAST: u32 = 1 << 9;
    pub const NO_MULTI: u32 = 1 << 10;
    pub const NO_AUTH: u32 = 1 << 11;
    /// Runs while a script is busy (`SCRIPT KILL`, `SHUTDOWN`, ...) instead of `-BUSY`.
    pub const ALLOW_BUSY: u32 = 1 << 12;
    /// Not fed to MONITOR after it runs; the gate feeds it before instead, so a script's
    /// line comes before the lines of the commands it calls (Redis's EVAL/FCALL).
    pub const SKIP_MONITOR: u32 = 1 << 13;
    /// Not logged by SLOWLOG (EXEC: the commands it ran are logged one by one).
    pub const SKIP_SLOWLOG: u32 = 1 << 14;
    /// Strata-internal: runs under the exclusive global lock (whole-database operations,
    /// transactions, scripts, and the script VM's own SCRIPT/FUNCTION commands, which would
    /// otherwise wait on the VM a running script holds with no `-BUSY` way out).
    pub const EXCLUSIVE: u32 = 1 << 31;
    /// Strata-internal: the command's reads are not accesses (`OBJECT IDLETIME` stays put),
    /// as Redis's lookups with `LOOKUP_NOTOUCH`.
    pub const NO_TOUCH: u32 = 1 << 30;
    /// Strata-internal: pipelined runs of these commands may share one engine write (see
    /// `storage::deferred`). Only commands whose reads of `meta` go through
    /// `Storage::raw_meta` and that never read the `expire` family may carry it.
    pub const BATCH: u32 = 1 << 29;
    /// Strata-internal: the command's cost grows with the data (`KEYS`, `SORT`, set algebra,
    /// ...), so the gate runs it off the runtime's worker threads (`block_in_place`): two
    /// such commands cannot occupy every worker and starve other clients' `PING`.
    pub const OFF_WORKER: u32 = 1 << 28;
    /// Strata-internal: not a write command, but it may write or be replicated (scripts,
    /// PUBLISH, PFCOUNT's cache update), so `CLIENT PAUSE WRITE` holds it back as Redis does.
    pub const MAY_REPLICATE: u32 = 1 << 27;
    /// Strata-internal: like [`BATCH`], but the command only joins runs of pipelined
    /// commands and never opens one for itself alone (collection writes: one client's
    /// pipeline shares a write, while a lone write on a hot key commits directly, see
    /// docs/commit-queue.md). Only commands whose `data`/`zscore` reads are point reads
    /// through `Storage::sub_get` may carry it (scans settle the run first).
    pub const BATCH_PIPELINED: u32 = 1 << 26;

    pub const NAMES: &[(u32, &str)] = &[
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (ADMIN, "admin"),
        (PUBSUB, "pubsub"),
        (NOSCRIPT, "noscript"),
        (BLOCKING, "blocking"),
        (LOADING, "loading"),
        (STALE, "stale"),
        (FAST, "fast"),
        (NO_MULTI, "no_multi"),
        (NO_AUTH, "no_auth"),
        (ALLOW_BUSY, "allow_busy"),
        (SKIP_MONITOR, "skip_monitor"),
        (SKIP_SLOWLOG, "skip_slowlog"),
    ];
}

use flags::*;

/// Where a command's keys are.
#[derive(Clone, Copy)]
pub enum KeySpec {
    None,
    /// Redis's (first, last, step); a negative `last` counts from the end.
    Range {
        first: i32,
        last: i32,
        step: i32,
    },
    /// `numkeys key [key ...]` with the count at `numkeys_at`; `dest` marks `args[1]` as a
    /// key too (ZUNIONSTORE and friends).
    Keynum {
        numkeys_at: usize,
        dest: bool,
    },
    /// Computed from the arguments (SORT's optional STORE destination).
    Custom(fn(&[Bytes]) -> Vec<usize>),
}

pub struct Command {
    /// Lowercase name (`get`, or `setname` for a subcommand).
    pub name: &'static str,
    pub arity: i32,
    pub flags: u32,
    pub acl: &'static [&'static str],
    pub keys: KeySpec,
    pub group: &'static str,
    pub since: &'static str,
    pub summary: &'static str,
    /// `None` for containers, whose work is done by a subcommand.
    pub handler: Option<Handler>,
    pub subcommands: &'static [Command],
}

impl Command {
    pub fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }

    /// Indexes of the key arguments in `args`.
    pub fn key_positions(&self, argc: usize) -> Vec<usize> {
        match self.keys {
            KeySpec::None => Vec::new(),
            KeySpec::Range { first, last, step } => {
                range_positions(first, last, step, argc).collect()
            }
            KeySpec::Keynum { .. } | KeySpec::Custom(_) => Vec::new(),
        }
    }

    /// Calls `each` with every key position of `args`, without building a list for the
    /// common fixed-range commands (the ACL check runs this per command).
    pub fn for_each_key_position(&self, args: &[Bytes], each: impl FnMut(usize)) {
        if let KeySpec::Range { first, last, step } = self.keys {
            range_positions(first, last, step, args.len()).for_each(each);
        } else {
            self.key_positions_in(args).into_iter().for_each(each);
        }
    }

    /// Key positions that depend on the arguments (`numkeys`); malformed counts give none
    /// and the handler reports the error.
    pub fn key_positions_in(&self, args: &[Bytes]) -> Vec<usize> {
        if let KeySpec::Custom(positions) = self.keys {
            return positions(args);
        }
        let KeySpec::Keynum { numkeys_at, dest } = self.keys else {
            return self.key_positions(args.len());
        };
        let mut out = Vec::new();
        if dest {
            out.push(1);
        }
        if let Ok(span) = super::numkeys::key_span(args, numkeys_at) {
            out.extend(span);
        }
        out
    }

    pub fn flag_names(&self) -> Vec<&'static str> {
        NAMES
            .iter()
            .filter(|(f, _)| self.flags & f != 0)
            .map(|(_, n)| *n)
            .collect()
    }

    pub fn arity_ok(&self, argc: usize) -> bool {
        let argc = argc as i32;
        if self.arity >= 0 {
            argc == self.arity
        } else {
            argc >= -self.arity
        }
    }

    pub fn find_sub(&self, name: &[u8]) -> Option<&'static Command> {
        self.subcommands
            .iter()
            .find(|c| c.name.as_bytes().eq_ignore_ascii_case(name))
    }
}

const fn keys(first: i32, last: i32, step: i32) -> KeySpec {
    KeySpec::Range { first, last, step }
}
const NOKEYS: KeySpec = KeySpec::None;

macro_rules! cmd {
    ($name:literal, $arity:expr, $flags:expr, $acl:expr, $keys:expr, $group:literal, $since:literal, $summary:literal, $handler:expr) => {
        Command {
            name: $name,
            arity: $arity,
            flags: $flags,
            acl: &$acl,
            keys: $keys,
            group: $group,
            since: $since,
            summary: $summary,
            handler: Some($handler),
            subcommands: &[],
        }
    };
}

macro_rules! container {
    ($name:literal, $flags:expr, $acl:expr, $group:literal, $since:literal, $summary:literal, $subs:expr) => {
        Command {
            name: $name,
            arity: -2,
            flags: $flags,
            acl: &$acl,
            keys: NOKEYS,
            group: $group,
            since: $since,
            summary: $summary,
            handler: None,
            subcommands: $subs,
        }
    };
}

const R: u32 = READONLY;
const RF: u32 = READONLY | FAST;
const W: u32 = WRITE;
const WD: u32 = WRITE | DENYOOM;
const WDF: u32 = WRITE | DENYOOM | FAST;
const WF: u32 = WRITE | FAST;
/// Read or write commands whose cost grows with the data (see [`flags::OFF_WORKER`]).
const RL: u32 = READONLY | OFF_WORKER;
const WDL: u32 = WRITE | DENYOOM | OFF_WORKER;

static CLIENT_SUBS: &[Command] = &[
    cmd!(
        "id",
        2,
        NOSCRIPT | LOADING | STALE,
        ["@slow", "@connection"],
        NOKEYS,
        "connection",
        "5.0.0",
        "Returns the unique client ID of the connection.",
        conn::client_id
    ),
    cmd!(
        "setname",
        3,
        NOSCRIPT | LOADING | STALE,
        ["@slow", "@connection"],
        NOKEYS,
        "connection",
        "2.6.9",
        "Sets the connection name.",
        conn::client_setname
    ),
    cmd!(
        "getname",
        2,
        NOSCRIPT | LOADING | STALE,
        ["@slow", "@connection"],
        NOKEYS,
        "connection",
        "2.6.9",
        "Returns the name of the connection.",
        conn::client_getname
    ),
    cmd!(
        "list",
        -2,
        ADMIN | NOSCRIPT | LOADING | STALE,
        ["@admin", "@slow", "@dangerous", "@connection"],
        NOKEYS,
        "connection",
        "2.4.0",
        "Lists open connections.",
        conn::client_list
    ),
    cmd!(
        "info",
        2,
        NOSCRIPT | LOADING | STALE,
        ["@slow", "@connection"],
        NOKEYS,
        "connection",
        "6.2.0",
        "Returns information about the connection.",
        conn::client_info
    ),
    cmd!(
        "kill",
        -3,
        ADMIN | NOSCRIPT | LOADING | STALE,
        ["@admin", "@slow", "@dangerous", "@connection"],
        NOKEYS,
        "connection",
        "2.4.0",
        "Terminates open connections.",
        conn::client_kill
    ),
    cmd!(
        "setinfo",
        4,
        NOSCRIPT | LOADING | STALE,
        ["@slow", "@connection"],
        NOKEYS,
        "connection",
        "7.2.0",
        "Sets information specific to the client or connection.",
        conn::client_setinfo
    ),
    cmd!(
        "no-evict",
        3,
        ADMIN | NOSCRIPT | LOADING | STALE,
        ["@admin", "@slow", "@dangerous", "@connection"],
        NOKEYS,
        "connection",
        "7.0.0",
        "Sets the client eviction mode of the connection.",
        conn::client_no_evict
    ),
    cmd!(
        "no-touch",
        3,
        NOSCRIPT | LOADING | STALE,
        ["@slow", "@connection"],
        NOKEYS,
        "connection",
        "7.2.0",
        "Controls whether commands sent by the client affect the LRU/LFU of accessed keys.",
        conn::client_no_touch
    ),
    cmd!(
        "tracking",
        -3,
        NOSCRIPT | LOADING | STALE,
        ["@slow", "@connection"],
        NOKEYS,
        "connection",
        "6.0.0",
        "Controls server-assisted client-side caching for the connection.",
        conn::client_tracking
    ),
    cmd!(
        "caching",
        3,
        NOSCRIPT | LOADING | STALE,
        ["@slow", "@connection"],
        NOKEYS,
        "connection",
        "6.0.0",
        "Instructs the server whether to track the keys in the next request.",
        conn::client_caching
    ),
    cmd!(
        "getredir",
        2,
        NOSCRIPT | LOADING | STALE,
        ["@slow", "@connection"],
        NOKEYS,
        "connection",
        "6.0.0",
        "Returns the client ID to which the connection's tracking notifications are redirected.",
        conn::client_getredir
    ),
    cmd!(
        "trackinginfo",
        2,
        NOSCRIPT | LOADING | STALE,
        ["@slow", "@connection"],
        NOKEYS,
        "connection",
        "6.2.0",
        "Returns information about server-assisted client-side caching for the connection.",
        conn::client_trackinginfo
    ),
    cmd!(
        "pause",
        -3,
        ADMIN | NOSCRIPT | LOADING | STALE,
        ["@admin", "@slow", "@dangerous", "@connection"],
        NOKEYS,
        "connection",
        "3.0.0",
        "Suspends commands processing.",
        conn::client_pause
    ),
    cmd!(
        "unpause",
        2,
        ADMIN | NOSCRIPT | LOADING | STALE,
        ["@admin", "@slow", "@dangerous", "@connection"],
        NOKEYS,
        "connection",
        "6.2.0",
        "Resumes processing commands from paused clients.",
        conn::client_unpause
    ),
    cmd!(
        "unblock",
        -3,
        ADMIN | NOSCRIPT | LOADING | STALE,
        ["@admin", "@slow", "@dangerous", "@connection"],
        NOKEYS,
        "connection",
        "5.0.0",
        "Unblocks a client blocked by a blocking command from a different connection.",
        conn::client_unblock
    ),
    cmd!(
        "reply",
        3,
        NOSCRIPT | LOADING | STALE,
        ["@slow", "@connection"],
        NOKEYS,
        "connection",
        "3.2.0",
        "Instructs the server whether to reply to commands.",
        conn::client_reply
    ),
    cmd!(
        "help",
        2,
        LOADING | STALE,
        ["@slow", "@connection"],
        NOKEYS,
        "connection",
        "5.0.0",
        "Returns helpful text about the different subcommands.",
        srv::help
    ),
];

static CONFIG_SUBS: &[Command] = &[
    cmd!(
        "get",
        -3,
        ADMIN | NOSCRIPT | LOADING | STALE,
        ["@admin", "@slow", "@dangerous"],
        NOKEYS,
        "server",
        "2.0.0",
        "Returns the effective values of configuration parameters.",
        srv::config_get
    ),
    cmd!(
        "set",
        -4,
        ADMIN | NOSCRIPT | LOADING | STALE,
        ["@admin", "@slow", "@dangerous"],
        NOKEYS,
        "server",
        "2.0.0",
        "Sets configuration parameters in-flight.",
        srv::config_set
    ),
    cmd!(
        "resetstat",
        2,
        ADMIN | NOSCRIPT | LOADING | STALE,
        ["@admin", "@slow", "@dangerous"],
        NOKEYS,
        "server",
        "2.0.0",
        "Resets the server's statistics.",
        srv::config_resetstat
    ),
    cmd!(
        "rewrite",
        2,
        ADMIN | NOSCRIPT | LOADING | STALE,
        ["@admin", "@slow", "@dangerous"],
        NOKEYS,
        "server",
        "2.8.0",
        "Persists the effective configuration to file.",
        srv::config_rewrite
    ),
    cmd!(
        "help",
        2,
        LOADING | STALE,
        ["@slow"],
        NOKEYS,
        "server",
        "5.0.0",
        "Returns helpful text about the different subcommands.",
        srv::help
    ),
];

static ACL_SUBS: &[Command] = &[
    cmd!(
        "cat",
        -2,
        NOSCRIPT | LOADING | STALE,
        ["@slow"],
        NOKEYS,
        "server",
        "6.0.0",
        "Lists the ACL categories, or the commands inside a category.",
        acl::cat
    ),
    cmd!(
        "deluser",
        -3,
        ADMIN | NOSCRIPT | LOADING | STALE,
        ["@admin", "@slow", "@dangerous"],
        NOKEYS,
        "server",
        "6.0.0",
        "Deletes ACL users, and terminates their connections.",
        acl::deluser
    ),
    cmd!(
        "dryrun",
        -4,
        ADMIN | NOSCRIPT | LOADING | STALE,
        ["@admin", "@slow", "@dangerous"],
        NOKEYS,
        "server",
        "6.0.0",
        "Simulates the execution of a command by a user, without executing the command.",
        acl::dryrun
    ),
    cmd!(
        "genpass",
        -2,
        NOSCRIPT | LOADING | STALE,
        ["@slow"],
        NOKEYS,
        "server",
        "6.0.0",
        "Generates a pseudorandom, secure password that can be used to identify ACL users.",
        acl::genpass
    ),
    cmd!(
        "getuser",
        3,
        ADMIN | NOSCRIPT | LOADING | STALE,
        ["@admin", "@slow", "@dangerous"],
        NOKEYS,
        "server",
        "6.0.0",
        "Lists the ACL rules of a user.",
        acl::getuser
    ),
    cmd!(
        "list",
        2,
        ADMIN | NOSCRIPT | LOADING | STALE,
        ["@admin", "@slow", "@dangerous"],
        NOKEYS,
        "server",
        "6.0.0",
        "Dumps the effective rules in ACL file format.",
        acl::list
    ),
    cmd!(
        "load",
        2,
        ADMIN | NOSCRIPT | LOADING | STALE,
        ["@admin", "@slow", "@dangerous"],
        NOKEYS,
        "server",
        "6.0.0",
        "Reloads the rules from the configured ACL file.",
        acl::load
    ),
    cmd!(
        "log",
        -2,
        ADMIN | NOSCRIPT | LOADING | STALE,
        ["@admin", "@slow", "@dangerous"],
        NOKEYS,
        "server",
        "6.0.0",
        "Lists recent security events generated due to ACL rules.",
        acl::log
    ),
    cmd!(
        "save",
        2,
        ADMIN | NOSCRIPT | LOADING | STALE,
        ["@admin", "@slow", "@dangerous"],
        NOKEYS,
        "server",
        "6.0.0",
        "Saves the effective ACL rules in the configured ACL file.",
        acl::save
    ),
    cmd!(
        "setuser",
        -3,
        ADMIN | NOSCRIPT | LOADING | STALE,
        ["@admin", "@slow", "@dangerous"],
        NOKEYS,
        "server",
        "6.0.0",
        "Creates and modifies an ACL user and its rules.",
        acl::setuser
    ),
    cmd!(
        "users",
        2,
        ADMIN | NOSCRIPT | LOADING | STALE,
        ["@admin", "@slow", "@dangerous"],
        NOKEYS,
        "server",
        "6.0.0",
        "Lists all ACL users.",
        acl::users
    ),
    cmd!(
        "whoami",
        2,
        NOSCRIPT | LOADING | STALE,
        ["@slow"],
        NOKEYS,
        "server",
        "6.0.0",
        "Returns the authenticated username of the current connection.",
        acl::whoami
    ),
    cmd!(
        "help",
        2,
        LOADING | STALE,
        ["@slow"],
        NOKEYS,
        "server",
        "6.0.0",
        "Returns helpful text about the different subcommands.",
        srv::help
    ),
];

static SLOWLOG_SUBS: &[Command] = &[
    cmd!(
        "get",
        -2,
        ADMIN | LOADING | STALE,
        ["@admin", "@slow", "@dangerous"],
        NOKEYS,
        "server",
        "2.2.12",
        "Returns the slow log's entries.",
        slowlog::get
    ),
    cmd!(
        "len",
        2,
        ADMIN | LOADING | STALE,
        ["@admin", "@slow", "@dangerous"],
        NOKEYS,
        "server",
        "2.2.12",
        "Returns the number of entries in the slow log.",
        slowlog::len
    ),
    cmd!(
        "reset",
        2,
        ADMIN | LOADING | STALE,
        ["@admin", "@slow", "@dangerous"],
        NOKEYS,
        "server",
        "2.2.12",
        "Clears all entries from the slow log.",
        slowlog::reset
    ),
    cmd!(
        "help",
        2,
        LOADING | STALE,
        ["@slow"],
        NOKEYS,
        "server",
        "6.2.0",
        "Show helpful text about the different subcommands",
        srv::help
    ),
];

static LATENCY_SUBS: &[Command] = &[
    cmd!(
        "latest",
        2,
        ADMIN | NOSCRIPT | LOADING | STALE,
        ["@admin", "@slow", "@dangerous"],
        NOKEYS,
        "server",
        "2.8.13",
        "Returns the latest latency samples for all events.",
        latency::latest
    ),
    cmd!(
        "history",
        3,
        ADMIN | NOSCRIPT | LOADING | STALE,
        ["@admin", "@slow", "@dangerous"],
        NOKEYS,
        "server",
        "2.8.13",
        "Returns timestamp-latency samples for an event.",
        latency::history
    ),
    cmd!(
        "reset",
        -2,
        ADMIN | NOSCRIPT | LOADING | STALE,
        ["@admin", "@slow", "@dangerous"],
        NOKEYS,
        "server",
        "2.8.13",
        "Resets the latency data for one or more events.",
        latency::reset
    ),
    cmd!(
        "graph",
        3,
        ADMIN | NOSCRIPT | LOADING | STALE,
        ["@admin", "@slow", "@dangerous"],
        NOKEYS,
        "server",
        "2.8.13",
        "Returns a latency graph for an event.",
        latency::graph
    ),
    cmd!(
        "doctor",
        2,
        ADMIN | NOSCRIPT | LOADING | STALE,
        ["@admin", "@slow", "@dangerous"],
        NOKEYS,
        "server",
        "2.8.13",
        "Returns a human-readable latency analysis report.",
        latency::doctor
    ),
    cmd!(
        "histogram",
        -2,
        ADMIN | NOSCRIPT | LOADING | STALE,
        ["@admin", "@slow", "@dangerous"],
        NOKEYS,
        "server",
        "7.0.0",
        "Returns the cumulative distribution of latencies of a subset or all commands.",
        latency::histogram
    ),
    cmd!(
        "help",
        2,
        LOADING | STALE,
        ["@slow"],
        NOKEYS,
        "server",
        "2.8.13",
        "Returns helpful text about the different subcommands.",
        srv::help
    ),
];

static COMMAND_SUBS: &[Command] = &[
    cmd!(
        "count",
        2,
        LOADING | STALE,
        ["@slow", "@connection"],
        NOKEYS,
        "server",
        "2.8.13",
        "Returns a count of commands.",
        srv::command_count
    ),
    cmd!(
        "info",
        -2,
        LOADING | STALE,
        ["@slow", "@connection"],
        NOKEYS,
        "server",
        "2.8.13",
        "Returns information about one, multiple or all commands.",
        srv::command_info
    ),
    cmd!(
        "docs",
        -2,
        LOADING | STALE,
        ["@slow", "@connection"],
        NOKEYS,
        "server",
        "7.0.0",
        "Returns documentary information about one, multiple or all commands.",
        srv::command_docs
    ),
    cmd!(
        "list",
        -2,
        LOADING | STALE,
        ["@slow", "@connection"],
        NOKEYS,
        "server",
        "7.0.0",
        "Returns a list of command names.",
        srv::command_list
    ),
    cmd!(
        "getkeys",
        -4,
        LOADING | STALE,
        ["@slow", "@connection"],
        NOKEYS,
        "server",
        "2.8.13",
        "Extracts the key names from an arbitrary command.",
        srv::command_getkeys
    ),
    cmd!(
        "help",
        2,
        LOADING | STALE,
        ["@slow", "@connection"],
        NOKEYS,
        "server",
        "5.0.0",
        "Returns helpful text about the different subcommands.",
        srv::help
    ),
];

static XGROUP_SUBS: &[Command] = &[
    cmd!(
        "create",
        -5,
        WD,
        ["@write", "@stream", "@slow"],
        keys(2, 2, 1),
        "stream",
        "5.0.0",
        "Creates a consumer group.",
        stream::xgroup_create
    ),
    cmd!(
        "setid",
        -5,
        W,
        ["@write", "@stream", "@slow"],
        keys(2, 2, 1),
        "stream",
        "5.0.0",
        "Sets the last-delivered ID of a consumer group.",
        stream::xgroup_setid
    ),
    cmd!(
        "destroy",
        4,
        W,
        ["@write", "@stream", "@slow"],
        keys(2, 2, 1),
        "stream",
        "5.0.0",
        "Destroys a consumer group.",
        stream::xgroup_destroy
    ),
    cmd!(
        "createconsumer",
        5,
        WD,
        ["@write", "@stream", "@slow"],
        keys(2, 2, 1),
        "stream",
        "6.2.0",
        "Creates a consumer in a consumer group.",
        stream::xgroup_createconsumer
    ),
    cmd!(
        "delconsumer",
        5,
        W,
        ["@write", "@stream", "@slow"],
        keys(2, 2, 1),
        "stream",
        "5.0.0",
        "Deletes a consumer from a consumer group.",
        stream::xgroup_delconsumer
    ),
    cmd!(
        "help",
        2,
        LOADING | STALE,
        ["@stream", "@slow"],
        NOKEYS,
        "stream",
        "5.0.0",
        "Returns helpful text about the different subcommands.",
        stream::xgroup_help
    ),
];

static XINFO_SUBS: &[Command] = &[
    cmd!(
        "stream",
        -3,
        R,
        ["@read", "@stream", "@slow"],
        keys(2, 2, 1),
        "stream",
        "5.0.0",
        "Returns information about a stream.",
        stream::xinfo_stream
    ),
    cmd!(
        "groups",
        3,
        R,
        ["@read", "@stream", "@slow"],
        keys(2, 2, 1),
        "stream",
        "5.0.0",
        "Returns a list of the consumer groups of a stream.",
        stream::xinfo_groups
    ),
    cmd!(
        "consumers",
        4,
        R,
        ["@read", "@stream", "@slow"],
        keys(2, 2, 1),
        "stream",
        "5.0.0",
        "Returns a list of the consumers in a consumer group.",
        stream::xinfo_consumers
    ),
    cmd!(
        "help",
        2,
        LOADING | STALE,
        ["@stream", "@slow"],
        NOKEYS,
        "stream",
        "5.0.0",
        "Returns helpful text about the different subcommands.",
        stream::xinfo_help
    ),
];

static OBJECT_SUBS: &[Command] = &[
    cmd!(
        "encoding",
        3,
        READONLY | NO_TOUCH,
        ["@keyspace", "@read", "@slow"],
        keys(2, 2, 1),
        "generic",
        "2.2.3",
        "Returns the internal encoding of a Redis object.",
        key::object_encoding
    ),
    cmd!(
        "freq",
        3,
        READONLY | NO_TOUCH,
        ["@keyspace", "@read", "@slow"],
        keys(2, 2, 1),
        "generic",
        "4.0.0",
        "Returns the logarithmic access frequency counter of a Redis object.",
        key::object_freq
    ),
    cmd!(
        "idletime",
        3,
        READONLY | NO_TOUCH,
        ["@keyspace", "@read", "@slow"],
        keys(2, 2, 1),
        "generic",
        "2.2.3",
        "Returns the time since the last access to a Redis object.",
        key::object_idletime
    ),
    cmd!(
        "refcount",
        3,
        READONLY | NO_TOUCH,
        ["@keyspace", "@read", "@slow"],
        keys(2, 2, 1),
        "generic",
        "2.2.3",
        "Returns the reference count of a value of a key.",
        key::object_refcount
    ),
    cmd!(
        "help",
        2,
        LOADING | STALE,
        ["@keyspace", "@slow"],
        NOKEYS,
        "generic",
        "6.2.0",
        "Returns helpful text about the different subcommands.",
        srv::help
    ),
];

static MEMORY_SUBS: &[Command] = &[
    cmd!(
        "usage",
        -3,
        READONLY | NO_TOUCH,
        ["@read", "@slow"],
        keys(2, 2, 1),
        "server",
        "4.0.0",
        "Estimates the memory usage of a key.",
        mem::memory_usage
    ),
    cmd!(
        "stats",
        2,
        0,
        ["@slow"],
        NOKEYS,
        "server",
        "4.0.0",
        "Returns details about memory usage.",
        mem::memory_stats
    ),
    cmd!(
        "doctor",
        2,
        0,
        ["@slow"],
        NOKEYS,
        "server",
        "4.0.0",
        "Outputs a memory problems report.",
        mem::memory_doctor
    ),
    cmd!(
        "purge",
        2,
        0,
        ["@slow"],
        NOKEYS,
        "server",
        "4.0.0",
        "Asks the allocator to release memory.",
        mem::memory_purge
    ),
    cmd!(
        "malloc-stats",
        2,
        0,
        ["@slow"],
        NOKEYS,
        "server",
        "4.0.0",
        "Returns the allocator statistics.",
        mem::memory_malloc_stats
    ),
    cmd!(
        "help",
        2,
        LOADING | STALE,
        ["@slow"],
        NOKEYS,
        "server",
        "4.0.0",
        "Returns helpful text about the different subcommands.",
        srv::help
    ),
];

const SCRIPT_KEYS: KeySpec = KeySpec::Keynum {
    numkeys_at: 2,
    dest: false,
};

static SCRIPT_SUBS: &[Command] = &[
    cmd!(
        "load",
        3,
        NOSCRIPT | STALE | EXCLUSIVE,
        ["@slow", "@scripting"],
        NOKEYS,
        "scripting",
        "2.6.0",
        "Loads a server-side Lua script to the script cache.",
        scr::script_load
    ),
    cmd!(
        "exists",
        -3,
        NOSCRIPT | EXCLUSIVE,
        ["@slow", "@scripting"],
        NOKEYS,
        "scripting",
        "2.6.0",
        "Determines whether server-side Lua scripts exist in the script cache.",
        scr::script_exists
    ),
    cmd!(
        "flush",
        -2,
        NOSCRIPT | EXCLUSIVE,
        ["@slow", "@scripting"],
        NOKEYS,
        "scripting",
        "2.6.0",
        "Removes all server-side Lua scripts from the script cache.",
        scr::script_flush
    ),
    cmd!(
        "kill",
        2,
        NOSCRIPT | ALLOW_BUSY,
        ["@slow", "@scripting"],
        NOKEYS,
        "scripting",
        "2.6.0",
        "Terminates a server-side Lua script during execution.",
        scr::script_kill
    ),
    cmd!(
        "help",
        2,
        LOADING | STALE,
        ["@slow", "@scripting"],
        NOKEYS,
        "scripting",
        "5.0.0",
        "Returns helpful text about the different subcommands.",
        srv::help
    ),
];

static FUNCTION_SUBS: &[Command] = &[
    cmd!(
        "load",
        -3,
        WRITE | DENYOOM | NOSCRIPT | EXCLUSIVE,
        ["@write", "@slow", "@scripting"],
        NOKEYS,
        "scripting",
        "7.0.0",
        "Creates a library.",
        scr::function_load
    ),
    cmd!(
        "list",
        -2,
        NOSCRIPT | EXCLUSIVE,
        ["@slow", "@scripting"],
        NOKEYS,
        "scripting",
        "7.0.0",
        "Returns information about all libraries.",
        scr::function_list
    ),
    cmd!(
        "delete",
        3,
        WRITE | NOSCRIPT | EXCLUSIVE,
        ["@write", "@slow", "@scripting"],
        NOKEYS,
        "scripting",
        "7.0.0",
        "Deletes a library and its functions.",
        scr::function_delete
    ),
    cmd!(
        "flush",
        -2,
        WRITE | NOSCRIPT | EXCLUSIVE,
        ["@write", "@slow", "@scripting"],
        NOKEYS,
        "scripting",
        "7.0.0",
        "Deletes all libraries and functions.",
        scr::function_flush
    ),
    cmd!(
        "dump",
        2,
        NOSCRIPT | EXCLUSIVE,
        ["@slow", "@scripting"],
        NOKEYS,
        "scripting",
        "7.0.0",
        "Dumps all libraries into a serialized binary payload.",
        scr::function_dump
    ),
    cmd!(
        "restore",
        -3,
        WRITE | DENYOOM | NOSCRIPT | EXCLUSIVE,
        ["@write", "@slow", "@scripting"],
        NOKEYS,
        "scripting",
        "7.0.0",
        "Restores all libraries from a payload.",
        scr::function_restore
    ),
    cmd!(
        "stats",
        2,
        NOSCRIPT | ALLOW_BUSY,
        ["@slow", "@scripting"],
        NOKEYS,
        "scripting",
        "7.0.0",
        "Returns information about a function during execution.",
        scr::function_stats
    ),
    cmd!(
        "kill",
        2,
        NOSCRIPT | ALLOW_BUSY,
        ["@slow", "@scripting"],
        NOKEYS,
        "scripting",
        "7.0.0",
        "Terminates a function during execution.",
        scr::function_kill
    ),
    cmd!(
        "help",
        2,
        LOADING | STALE,
        ["@slow", "@scripting"],
        NOKEYS,
        "scripting",
        "7.0.0",
        "Returns helpful text about the different subcommands.",
        srv::help
    ),
];

static PUBSUB_SUBS: &[Command] = &[
    cmd!(
        "channels",
        -2,
        PUBSUB | LOADING | STALE,
        ["@pubsub", "@slow"],
        NOKEYS,
        "pubsub",
        "2.8.0",
        "Returns the active channels.",
        ps::pubsub_channels
    ),
    cmd!(
        "numsub",
        -2,
        PUBSUB | LOADING | STALE,
        ["@pubsub", "@slow"],
        NOKEYS,
        "pubsub",
        "2.8.0",
        "Returns a count of subscribers to channels.",
        ps::pubsub_numsub
    ),
    cmd!(
        "shardchannels",
        -2,
        PUBSUB | LOADING | STALE,
        ["@pubsub", "@slow"],
        NOKEYS,
        "pubsub",
        "7.0.0",
        "Returns the active shard channels.",
        ps::pubsub_shardchannels
    ),
    cmd!(
        "shardnumsub",
        -2,
        PUBSUB | LOADING | STALE,
        ["@pubsub", "@slow"],
        NOKEYS,
        "pubsub",
        "7.0.0",
        "Returns the count of subscribers of shard channels.",
        ps::pubsub_shardnumsub
    ),
    cmd!(
        "numpat",
        2,
        PUBSUB | LOADING | STALE,
        ["@pubsub", "@slow"],
        NOKEYS,
        "pubsub",
        "2.8.0",
        "Returns a count of unique pattern subscriptions.",
        ps::pubsub_numpat
    ),
    cmd!(
        "help",
        2,
        LOADING | STALE,
        ["@slow"],
        NOKEYS,
        "pubsub",
        "6.2.0",
        "Returns helpful text about the different subcommands.",
        srv::help
    ),
];

static DEBUG_SUBS: &[Command] = &[
    cmd!(
        "compact",
        2,
        ADMIN | NOSCRIPT | OFF_WORKER,
        ["@admin", "@slow", "@dangerous"],
        NOKEYS,
        "server",
        "1.0.0",
        "Strata: compacts the whole database now, reclaiming deleted collections' members.",
        srv::debug_compact
    ),
    cmd!(
        "digest",
        2,
        ADMIN | NOSCRIPT | OFF_WORKER,
        ["@admin", "@slow", "@dangerous"],
        NOKEYS,
        "server",
        "1.0.0",
        "Prints Redis's digest of the whole dataset (40 hex digits, zeros when empty).",
        srv::debug_digest
    ),
    cmd!(
        "digest-value",
        -2,
        ADMIN | NOSCRIPT | OFF_WORKER,
        ["@admin", "@slow", "@dangerous"],
        keys(2, -1, 1),
        "server",
        "1.0.0",
        "Prints Redis's digest of each given key's value.",
        srv::debug_digest_value
    ),
    cmd!(
        "sleep",
        3,
        ADMIN | NOSCRIPT | LOADING | STALE | OFF_WORKER,
        ["@admin", "@slow", "@dangerous"],
        NOKEYS,
        "server",
        "1.0.0",
        "Blocks this connection for the given number of seconds.",
        srv::debug_sleep
    ),
    cmd!(
        "help",
        2,
        ADMIN | LOADING | STALE,
        ["@admin", "@slow", "@dangerous"],
        NOKEYS,
        "server",
        "1.0.0",
        "Returns helpful text about the different subcommands.",
        srv::help
    ),
];

/// Every top-level command.
pub static COMMANDS: &[Command] = &[
    // connection
    cmd!("ping", -1, FAST, ["@fast", "@connection"], NOKEYS, "connection", "1.0.0", "Returns the server's liveliness response.", conn::ping),
    cmd!("echo", 2, LOADING | STALE | FAST, ["@fast", "@connection"], NOKEYS, "connection", "1.0.0", "Returns the given string.", conn::echo),
    cmd!("quit", -1, ALLOW_ANY, ["@fast", "@connection"], NOKEYS, "connection", "1.0.0", "Closes the connection.", conn::quit),
    cmd!("reset", 1, NO_AUTH | NOSCRIPT | LOADING | STALE | FAST, ["@fast", "@connection"], NOKEYS, "connection", "6.2.0", "Resets the connection.", conn::reset),
    cmd!("select", 2, LOADING | STALE | FAST, ["@fast", "@connection"], NOKEYS, "connection", "1.0.0", "Changes the selected database.", conn::select),
    cmd!("auth", -2, NO_AUTH | NOSCRIPT | ALLOW_BUSY | LOADING | STALE | FAST, ["@fast", "@connection"], NOKEYS, "connection", "1.0.0", "Authenticates the connection.", conn::auth),
    cmd!("hello", -1, NO_AUTH | NOSCRIPT | ALLOW_BUSY | LOADING | STALE | FAST, ["@fast", "@connection"], NOKEYS, "connection", "6.0.0", "Handshakes with the Redis server.", conn::hello),
    container!("client", 0, ["@slow"], "connection", "2.4.0", "A container for client connection commands.", CLIENT_SUBS),
    // strings
    cmd!("get", 2, RF | BATCH, ["@read", "@string", "@fast"], keys(1, 1, 1), "string", "1.0.0", "Returns the string value of a key.", st::get),
    cmd!("set", -3, WD | BATCH, ["@write", "@string", "@slow"], keys(1, 1, 1), "string", "1.0.0", "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.", st::set),
    cmd!("setnx", 3, WDF | BATCH, ["@write", "@string", "@fast"], keys(1, 1, 1), "string", "1.0.0", "Set the string value of a key only when the key doesn't exist.", st::setnx),
    cmd!("setex", 4, WD | BATCH, ["@write", "@string", "@slow"], keys(1, 1, 1), "string", "2.0.0", "Sets the string value and expiration time of a key. Creates the key if it doesn't exist.", st::setex),
    cmd!("psetex", 4, WD | BATCH, ["@write", "@string", "@slow"], keys(1, 1, 1), "string", "2.6.0", "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist.", st::psetex),
    cmd!("getset", 3, WDF | BATCH, ["@write", "@string", "@fast"], keys(1, 1, 1), "string", "1.0.0", "Returns the previous string value of a key after setting it to a new value.", st::getset),
    cmd!("getdel", 2, WF | BATCH, ["@write", "@string", "@fast"], keys(1, 1, 1), "string", "6.2.0", "Returns the string value of a key after deleting the key.", st::getdel),
    cmd!("getex", -2, WF | BATCH, ["@write", "@string", "@fast"], keys(1, 1, 1), "string", "6.2.0", "Returns the string value of a key after setting its expiration time.", st::getex),
    cmd!("mget", -2, RF | BATCH, ["@read", "@string", "@fast"], keys(1, -1, 1), "string", "1.0.0", "Atomically returns the string values of one or more keys.", st::mget),
    cmd!("mset", -3, WD | BATCH, ["@write", "@string", "@slow"], keys(1, -1, 2), "string", "1.0.1", "Atomically creates or modifies the string values of one or more keys.", st::mset),
    cmd!("msetnx", -3, WD | BATCH, ["@write", "@string", "@slow"], keys(1, -1, 2), "string", "1.0.1", "Atomically modifies the string values of one or more keys only when all keys don't exist.", st::msetnx),
    cmd!("append", 3, WDF | BATCH, ["@write", "@string", "@fast"], keys(1, 1, 1), "string", "2.0.0", "Appends a string to the value of a key. Creates the key if it doesn't exist.", st::append),
    cmd!("strlen", 2, RF | BATCH, ["@read", "@string", "@fast"], keys(1, 1, 1), "string", "2.2.0", "Returns the length of a string value.", st::strlen),
    cmd!("incr", 2, WDF | BATCH, ["@write", "@string", "@fast"], keys(1, 1, 1), "string", "1.0.0", "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", st::incr),
    cmd!("incrby", 3, WDF | BATCH, ["@write", "@string", "@fast"], keys(1, 1, 1), "string", "1.0.0", "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.", st::incrby),
    cmd!("decr", 2, WDF | BATCH, ["@write", "@string", "@fast"], keys(1, 1, 1), "string", "1.0.0", "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", st::decr),
    cmd!("decrby", 3, WDF | BATCH, ["@write", "@string", "@fast"], keys(1, 1, 1), "string", "1.0.0", "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.", st::decrby),
    cmd!("incrbyfloat", 3, WDF | BATCH, ["@write", "@string", "@fast"], keys(1, 1, 1), "string", "2.6.0", "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist.", st::incrbyfloat),
    cmd!("getrange", 4, R | BATCH, ["@read", "@string", "@slow"], keys(1, 1, 1), "string", "2.4.0", "Returns a substring of the string stored at a key.", st::getrange),
    cmd!("substr", 4, R, ["@read", "@string", "@slow"], keys(1, 1, 1), "string", "1.0.0", "Returns a substring from a string value.", st::getrange),
    cmd!("setrange", 4, WD, ["@write", "@string", "@slow"], keys(1, 1, 1), "string", "2.2.0", "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist.", st::setrange),
    cmd!("lcs", -3, R, ["@read", "@string", "@slow"], keys(1, 2, 1), "string", "7.0.0", "Finds the longest common substring.", st::lcs),
    // bitmaps
    cmd!("setbit", 4, WD, ["@write", "@bitmap", "@slow"], keys(1, 1, 1), "bitmap", "2.2.0", "Sets or clears the bit at offset of the string value. Creates the key if it doesn't exist.", bitmap::setbit),
    cmd!("getbit", 3, RF, ["@read", "@bitmap", "@fast"], keys(1, 1, 1), "bitmap", "2.2.0", "Returns a bit value by offset.", bitmap::getbit),
    cmd!("bitcount", -2, R, ["@read", "@bitmap", "@slow"], keys(1, 1, 1), "bitmap", "2.6.0", "Counts the number of set bits (population counting) in a string.", bitmap::bitcount),
    cmd!("bitpos", -3, R, ["@read", "@bitmap", "@slow"], keys(1, 1, 1), "bitmap", "2.8.7", "Finds the first set (1) or clear (0) bit in a string.", bitmap::bitpos),
    cmd!("bitop", -4, WDL, ["@write", "@bitmap", "@slow"], keys(2, -1, 1), "bitmap", "2.6.0", "Performs bitwise operations on multiple strings, and stores the result.", bitmap::bitop),
    cmd!("bitfield", -2, WD, ["@write", "@bitmap", "@slow"], keys(1, 1, 1), "bitmap", "3.2.0", "Performs arbitrary bitfield integer operations on strings.", bitmap::bitfield),
    cmd!("bitfield_ro", -2, RF, ["@read", "@bitmap", "@fast"], keys(1, 1, 1), "bitmap", "6.0.0", "Performs arbitrary read-only bitfield integer operations on strings.", bitmap::bitfield_ro),
    cmd!("pfadd", -2, WDF, ["@write", "@hyperloglog", "@fast"], keys(1, 1, 1), "hyperloglog", "2.8.9", "Adds elements to a HyperLogLog key. Creates the key if it doesn't exist.", hll::pfadd),
    cmd!("pfcount", -2, RL | MAY_REPLICATE, ["@read", "@hyperloglog", "@slow"], keys(1, -1, 1), "hyperloglog", "2.8.9", "Returns the approximated cardinality of the set(s) observed by the HyperLogLog key(s).", hll::pfcount),
    cmd!("pfmerge", -2, WDL, ["@write", "@hyperloglog", "@slow"], keys(1, -1, 1), "hyperloglog", "2.8.9", "Merges one or more HyperLogLog values into a single key.", hll::pfmerge),
    cmd!("pfdebug", 3, WD | ADMIN, ["@write", "@hyperloglog", "@admin", "@slow", "@dangerous"], keys(2, 2, 1), "hyperloglog", "2.8.9", "Internal commands for debugging HyperLogLog values.", hll::pfdebug),
    cmd!("pfselftest", 1, ADMIN, ["@hyperloglog", "@admin", "@slow", "@dangerous"], NOKEYS, "hyperloglog", "2.8.9", "An internal command for testing HyperLogLog values.", hll::pfselftest),
    cmd!("geoadd", -5, WD, ["@write", "@geo", "@slow"], keys(1, 1, 1), "geo", "3.2.0", "Adds one or more members to a geospatial index. The key is created if it doesn't exist.", geo::geoadd),
    cmd!("geodist", -4, R, ["@read", "@geo", "@slow"], keys(1, 1, 1), "geo", "3.2.0", "Returns the distance between two members of a geospatial index.", geo::geodist),
    cmd!("geohash", -2, R, ["@read", "@geo", "@slow"], keys(1, 1, 1), "geo", "3.2.0", "Returns members from a geospatial index as geohash strings.", geo::geohash),
    cmd!("geopos", -2, R, ["@read", "@geo", "@slow"], keys(1, 1, 1), "geo", "3.2.0", "Returns the longitude and latitude of members from a geospatial index.", geo::geopos),
    cmd!("georadius", -6, WD, ["@write", "@geo", "@slow"], KeySpec::Custom(geo::georadius_keys), "geo", "3.2.0", "Queries a geospatial index for members within a distance from a coordinate, optionally stores the result.", geo::georadius),
    cmd!("georadius_ro", -6, R, ["@read", "@geo", "@slow"], keys(1, 1, 1), "geo", "3.2.10", "Returns members from a geospatial index that are within a distance from a coordinate.", geo::georadius_ro),
    cmd!("georadiusbymember", -5, WD, ["@write", "@geo", "@slow"], KeySpec::Custom(geo::georadius_keys), "geo", "3.2.0", "Queries a geospatial index for members within a distance from a member, optionally stores the result.", geo::georadiusbymember),
    cmd!("georadiusbymember_ro", -5, R, ["@read", "@geo", "@slow"], keys(1, 1, 1), "geo", "3.2.10", "Returns members from a geospatial index that are within a distance from a member.", geo::georadiusbymember_ro),
    cmd!("geosearch", -7, R, ["@read", "@geo", "@slow"], keys(1, 1, 1), "geo", "6.2.0", "Queries a geospatial index for members inside an area of a box or a circle.", geo::geosearch),
    cmd!("geosearchstore", -8, WD, ["@write", "@geo", "@slow"], keys(1, 2, 1), "geo", "6.2.0", "Queries a geospatial index for members inside an area of a box or a circle, optionally stores the result.", geo::geosearchstore),
    cmd!("xadd", -5, WDF, ["@write", "@stream", "@fast"], keys(1, 1, 1), "stream", "5.0.0", "Appends a new message to a stream. Creates the key if it doesn't exist.", stream::xadd),
    cmd!("xlen", 2, RF, ["@read", "@stream", "@fast"], keys(1, 1, 1), "stream", "5.0.0", "Return the number of messages in a stream.", stream::xlen),
    cmd!("xrange", -4, R, ["@read", "@stream", "@slow"], keys(1, 1, 1), "stream", "5.0.0", "Returns the messages from a stream within a range of IDs.", stream::xrange),
    cmd!("xrevrange", -4, R, ["@read", "@stream", "@slow"], keys(1, 1, 1), "stream", "5.0.0", "Returns the messages from a stream within a range of IDs in reverse order.", stream::xrevrange),
    cmd!("xread", -4, R | BLOCKING, ["@read", "@stream", "@slow", "@blocking"], KeySpec::Custom(stream::xread_keys), "stream", "5.0.0", "Returns messages from multiple streams with IDs greater than the ones requested. Blocks until a message is available otherwise.", stream::xread),
    cmd!("xreadgroup", -7, W | BLOCKING, ["@write", "@stream", "@slow", "@blocking"], KeySpec::Custom(stream::xread_keys), "stream", "5.0.0", "Returns new or historical messages from a stream for a consumer in a group. Blocks until a message is available otherwise.", stream::xreadgroup),
    cmd!("xdel", -3, WF, ["@write", "@stream", "@fast"], keys(1, 1, 1), "stream", "5.0.0", "Returns the number of messages after removing them from a stream.", stream::xdel),
    cmd!("xtrim", -4, W, ["@write", "@stream", "@slow"], keys(1, 1, 1), "stream", "5.0.0", "Deletes messages from the beginning of a stream.", stream::xtrim),
    cmd!("xsetid", -3, WDF, ["@write", "@stream", "@fast"], keys(1, 1, 1), "stream", "5.0.0", "An internal command for replicating stream values.", stream::xsetid),
    cmd!("xack", -4, WF, ["@write", "@stream", "@fast"], keys(1, 1, 1), "stream", "5.0.0", "Returns the number of messages that were successfully acknowledged by the consumer group member of a stream.", stream::xack),
    cmd!("xpending", -3, R, ["@read", "@stream", "@slow"], keys(1, 1, 1), "stream", "5.0.0", "Returns the information and entries from a stream consumer group's pending entries list.", stream::xpending),
    cmd!("xclaim", -6, WF, ["@write", "@stream", "@fast"], keys(1, 1, 1), "stream", "5.0.0", "Changes, or acquires, ownership of a message in a consumer group, as if the message was delivered a consumer group member.", stream::xclaim),
    cmd!("xautoclaim", -6, WF, ["@write", "@stream", "@fast"], keys(1, 1, 1), "stream", "6.2.0", "Changes, or acquires, ownership of messages in a consumer group, as if the messages were delivered to as consumer group member.", stream::xautoclaim),
    container!("xgroup", 0, ["@slow"], "stream", "5.0.0", "A container for consumer groups commands.", XGROUP_SUBS),
    container!("xinfo", 0, ["@slow"], "stream", "5.0.0", "A container for stream introspection commands.", XINFO_SUBS),
    // hashes
    cmd!("hset", -4, WDF | BATCH_PIPELINED, ["@write", "@hash", "@fast"], keys(1, 1, 1), "hash", "2.0.0", "Creates or modifies the value of a field in a hash.", hash::hset),
    cmd!("hsetnx", 4, WDF | BATCH_PIPELINED, ["@write", "@hash", "@fast"], keys(1, 1, 1), "hash", "2.0.0", "Sets the value of a field in a hash only when the field doesn't exist.", hash::hsetnx),
    cmd!("hmset", -4, WDF, ["@write", "@hash", "@fast"], keys(1, 1, 1), "hash", "2.0.0", "Sets the values of multiple fields.", hash::hmset),
    cmd!("hget", 3, RF, ["@read", "@hash", "@fast"], keys(1, 1, 1), "hash", "2.0.0", "Returns the value of a field in a hash.", hash::hget),
    cmd!("hmget", -3, RF, ["@read", "@hash", "@fast"], keys(1, 1, 1), "hash", "2.0.0", "Returns the values of all fields in a hash.", hash::hmget),
    cmd!("hgetall", 2, R, ["@read", "@hash", "@slow"], keys(1, 1, 1), "hash", "2.0.0", "Returns all fields and values in a hash.", hash::hgetall),
    cmd!("hkeys", 2, R, ["@read", "@hash", "@slow"], keys(1, 1, 1), "hash", "2.0.0", "Returns all fields in a hash.", hash::hkeys),
    cmd!("hvals", 2, R, ["@read", "@hash", "@slow"], keys(1, 1, 1), "hash", "2.0.0", "Returns all values in a hash.", hash::hvals),
    cmd!("hdel", -3, WF | BATCH_PIPELINED, ["@write", "@hash", "@fast"], keys(1, 1, 1), "hash", "2.0.0", "Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain.", hash::hdel),
    cmd!("hexists", 3, RF, ["@read", "@hash", "@fast"], keys(1, 1, 1), "hash", "2.0.0", "Determines whether a field exists in a hash.", hash::hexists),
    cmd!("hlen", 2, RF, ["@read", "@hash", "@fast"], keys(1, 1, 1), "hash", "2.0.0", "Returns the number of fields in a hash.", hash::hlen),
    cmd!("hstrlen", 3, RF, ["@read", "@hash", "@fast"], keys(1, 1, 1), "hash", "3.2.0", "Returns the length of the value of a field.", hash::hstrlen),
    cmd!("hincrby", 4, WDF | BATCH_PIPELINED, ["@write", "@hash", "@fast"], keys(1, 1, 1), "hash", "2.0.0", "Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist.", hash::hincrby),
    cmd!("hincrbyfloat", 4, WDF, ["@write", "@hash", "@fast"], keys(1, 1, 1), "hash", "2.6.0", "Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist.", hash::hincrbyfloat),
    cmd!("hrandfield", -2, R, ["@read", "@hash", "@slow"], keys(1, 1, 1), "hash", "6.2.0", "Returns one or more random fields from a hash.", hash::hrandfield),
    cmd!("hscan", -3, RL, ["@read", "@hash", "@slow"], keys(1, 1, 1), "hash", "2.8.0", "Iterates over fields and values of a hash.", hash::hscan),
    cmd!("hexpire", -6, WF, ["@write", "@hash", "@fast"], keys(1, 1, 1), "hash", "7.4.0", "Set expiry for hash field using relative time to expire (seconds)", hash::hexpire),
    cmd!("hpexpire", -6, WF, ["@write", "@hash", "@fast"], keys(1, 1, 1), "hash", "7.4.0", "Set expiry for hash field using relative time to expire (milliseconds)", hash::hpexpire),
    cmd!("hexpireat", -6, WF, ["@write", "@hash", "@fast"], keys(1, 1, 1), "hash", "7.4.0", "Set expiry for hash field using an absolute Unix timestamp (seconds)", hash::hexpireat),
    cmd!("hpexpireat", -6, WF, ["@write", "@hash", "@fast"], keys(1, 1, 1), "hash", "7.4.0", "Set expiry for hash field using an absolute Unix timestamp (milliseconds)", hash::hpexpireat),
    cmd!("httl", -5, RF, ["@read", "@hash", "@fast"], keys(1, 1, 1), "hash", "7.4.0", "Returns the TTL in seconds of a hash field.", hash::httl),
    cmd!("hpttl", -5, RF, ["@read", "@hash", "@fast"], keys(1, 1, 1), "hash", "7.4.0", "Returns the TTL in milliseconds of a hash field.", hash::hpttl),
    cmd!("hexpiretime", -5, RF, ["@read", "@hash", "@fast"], keys(1, 1, 1), "hash", "7.4.0", "Returns the expiration time of a hash field as a Unix timestamp, in seconds.", hash::hexpiretime),
    cmd!("hpexpiretime", -5, RF, ["@read", "@hash", "@fast"], keys(1, 1, 1), "hash", "7.4.0", "Returns the expiration time of a hash field as a Unix timestamp, in msec.", hash::hpexpiretime),
    cmd!("hpersist", -5, WF, ["@write", "@hash", "@fast"], keys(1, 1, 1), "hash", "7.4.0", "Removes the expiration time for each specified field", hash::hpersist),
    cmd!("hgetdel", -5, WF, ["@write", "@hash", "@fast"], keys(1, 1, 1), "hash", "8.0.0", "Returns the value of a field and deletes it from the hash.", hash::hgetdel),
    cmd!("hgetex", -5, WF, ["@write", "@hash", "@fast"], keys(1, 1, 1), "hash", "8.0.0", "Get the value of one or more fields of a given hash key, and optionally set their expiration.", hash::hgetex),
    cmd!("hsetex", -6, WDF, ["@write", "@hash", "@fast"], keys(1, 1, 1), "hash", "8.0.0", "Set the value of one or more fields of a given hash key, and optionally set their expiration.", hash::hsetex),
    // lists
    cmd!("lpush", -3, WDF | BATCH_PIPELINED, ["@write", "@list", "@fast"], keys(1, 1, 1), "list", "1.0.0", "Prepends one or more elements to a list. Creates the key if it doesn't exist.", list::lpush),
    cmd!("rpush", -3, WDF | BATCH_PIPELINED, ["@write", "@list", "@fast"], keys(1, 1, 1), "list", "1.0.0", "Appends one or more elements to a list. Creates the key if it doesn't exist.", list::rpush),
    cmd!("lpushx", -3, WDF | BATCH_PIPELINED, ["@write", "@list", "@fast"], keys(1, 1, 1), "list", "2.2.0", "Prepends one or more elements to a list only when the list exists.", list::lpushx),
    cmd!("rpushx", -3, WDF | BATCH_PIPELINED, ["@write", "@list", "@fast"], keys(1, 1, 1), "list", "2.2.0", "Appends an element to a list only when the list exists.", list::rpushx),
    cmd!("lpop", -2, WF | BATCH_PIPELINED, ["@write", "@list", "@fast"], keys(1, 1, 1), "list", "1.0.0", "Returns the first elements in a list after removing it. Deletes the list if the last element was popped.", list::lpop),
    cmd!("rpop", -2, WF | BATCH_PIPELINED, ["@write", "@list", "@fast"], keys(1, 1, 1), "list", "1.0.0", "Returns and removes the last elements of a list. Deletes the list if the last element was popped.", list::rpop),
    cmd!("llen", 2, RF, ["@read", "@list", "@fast"], keys(1, 1, 1), "list", "1.0.0", "Returns the length of a list.", list::llen),
    cmd!("lrange", 4, R, ["@read", "@list", "@slow"], keys(1, 1, 1), "list", "1.0.0", "Returns a range of elements from a list.", list::lrange),
    cmd!("lindex", 3, R, ["@read", "@list", "@slow"], keys(1, 1, 1), "list", "1.0.0", "Returns an element from a list by its index.", list::lindex),
    cmd!("lset", 4, WD, ["@write", "@list", "@slow"], keys(1, 1, 1), "list", "1.0.0", "Sets the value of an element in a list by its index.", list::lset),
    cmd!("linsert", 5, WD, ["@write", "@list", "@slow"], keys(1, 1, 1), "list", "2.2.0", "Inserts an element before or after another element in a list.", list::linsert),
    cmd!("lrem", 4, W, ["@write", "@list", "@slow"], keys(1, 1, 1), "list", "1.0.0", "Removes elements from a list. Deletes the list if the last element was removed.", list::lrem),
    cmd!("ltrim", 4, W, ["@write", "@list", "@slow"], keys(1, 1, 1), "list", "1.0.0", "Removes elements from both ends a list. Deletes the list if all elements were trimmed.", list::ltrim),
    cmd!("lpos", -3, R, ["@read", "@list", "@slow"], keys(1, 1, 1), "list", "6.0.6", "Returns the index of matching elements in a list.", list::lpos),
    cmd!("lmove", 5, WD, ["@write", "@list", "@slow"], keys(1, 2, 1), "list", "6.2.0", "Returns an element after popping it from one list and pushing it to another. Deletes the list if the last element was moved.", list::lmove),
    cmd!("rpoplpush", 3, WD, ["@write", "@list", "@slow"], keys(1, 2, 1), "list", "1.2.0", "Returns the last element of a list after removing and pushing it to another list. Deletes the list if the last element was popped.", list::rpoplpush),
    cmd!("lmpop", -4, W, ["@write", "@list", "@slow"], KeySpec::Keynum { numkeys_at: 1, dest: false }, "list", "7.0.0", "Returns multiple elements from a list after removing them. Deletes the list if the last element was popped.", list::lmpop),
    cmd!("blpop", -3, W | NOSCRIPT | BLOCKING, ["@write", "@list", "@slow", "@blocking"], keys(1, -2, 1), "list", "2.0.0", "Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", list::blpop),
    cmd!("brpop", -3, W | NOSCRIPT | BLOCKING, ["@write", "@list", "@slow", "@blocking"], keys(1, -2, 1), "list", "2.0.0", "Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", list::brpop),
    cmd!("blmove", 6, WD | NOSCRIPT | BLOCKING, ["@write", "@list", "@slow", "@blocking"], keys(1, 2, 1), "list", "6.2.0", "Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available otherwise. Deletes the list if the last element was moved.", list::blmove),
    cmd!("brpoplpush", 4, WD | NOSCRIPT | BLOCKING, ["@write", "@list", "@slow", "@blocking"], keys(1, 2, 1), "list", "2.2.0", "Pops an element from a list, pushes it to another list and returns it. Block until an element is available otherwise. Deletes the list if the last element was popped.", list::brpoplpush),
    cmd!("blmpop", -5, W | BLOCKING, ["@write", "@list", "@slow", "@blocking"], KeySpec::Keynum { numkeys_at: 2, dest: false }, "list", "7.0.0", "Pops the first element from one of multiple lists. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", list::blmpop),
    // sets
    cmd!("sadd", -3, WDF | BATCH_PIPELINED, ["@write", "@set", "@fast"], keys(1, 1, 1), "set", "1.0.0", "Adds one or more members to a set. Creates the key if it doesn't exist.", set::sadd),
    cmd!("srem", -3, WF | BATCH_PIPELINED, ["@write", "@set", "@fast"], keys(1, 1, 1), "set", "1.0.0", "Removes one or more members from a set. Deletes the set if the last member was removed.", set::srem),
    cmd!("sismember", 3, RF, ["@read", "@set", "@fast"], keys(1, 1, 1), "set", "1.0.0", "Determines whether a member belongs to a set.", set::sismember),
    cmd!("smismember", -3, RF, ["@read", "@set", "@fast"], keys(1, 1, 1), "set", "6.2.0", "Determines whether multiple members belong to a set.", set::smismember),
    cmd!("smembers", 2, R, ["@read", "@set", "@slow"], keys(1, 1, 1), "set", "1.0.0", "Returns all members of a set.", set::smembers),
    cmd!("scard", 2, RF, ["@read", "@set", "@fast"], keys(1, 1, 1), "set", "1.0.0", "Returns the number of members in a set.", set::scard),
    cmd!("spop", -2, WF, ["@write", "@set", "@fast"], keys(1, 1, 1), "set", "1.0.0", "Returns one or more random members from a set after removing them. Deletes the set if the last member was popped.", set::spop),
    cmd!("srandmember", -2, R, ["@read", "@set", "@slow"], keys(1, 1, 1), "set", "1.0.0", "Get one or multiple random members from a set", set::srandmember),
    cmd!("smove", 4, WF, ["@write", "@set", "@fast"], keys(1, 2, 1), "set", "1.0.0", "Moves a member from one set to another.", set::smove),
    cmd!("sinter", -2, RL, ["@read", "@set", "@slow"], keys(1, -1, 1), "set", "1.0.0", "Returns the intersect of multiple sets.", set::sinter),
    cmd!("sintercard", -3, RL, ["@read", "@set", "@slow"], KeySpec::Keynum { numkeys_at: 1, dest: false }, "set", "7.0.0", "Returns the number of members of the intersect of multiple sets.", set::sintercard),
    cmd!("sinterstore", -3, WDL, ["@write", "@set", "@slow"], keys(1, -1, 1), "set", "1.0.0", "Stores the intersect of multiple sets in a key.", set::sinterstore),
    cmd!("sunion", -2, RL, ["@read", "@set", "@slow"], keys(1, -1, 1), "set", "1.0.0", "Returns the union of multiple sets.", set::sunion),
    cmd!("sunionstore", -3, WDL, ["@write", "@set", "@slow"], keys(1, -1, 1), "set", "1.0.0", "Stores the union of multiple sets in a key.", set::sunionstore),
    cmd!("sdiff", -2, RL, ["@read", "@set", "@slow"], keys(1, -1, 1), "set", "1.0.0", "Returns the difference of multiple sets.", set::sdiff),
    cmd!("sdiffstore", -3, WDL, ["@write", "@set", "@slow"], keys(1, -1, 1), "set", "1.0.0", "Stores the difference of multiple sets in a key.", set::sdiffstore),
    cmd!("sscan", -3, RL, ["@read", "@set", "@slow"], keys(1, 1, 1), "set", "2.8.0", "Iterates over members of a set.", set::sscan),
    // sorted sets
    cmd!("zadd", -4, WDF | BATCH_PIPELINED, ["@write", "@sortedset", "@fast"], keys(1, 1, 1), "sorted_set", "1.2.0", "Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist.", zset::zadd),
    cmd!("zincrby", 4, WDF | BATCH_PIPELINED, ["@write", "@sortedset", "@fast"], keys(1, 1, 1), "sorted_set", "1.2.0", "Increments the score of a member in a sorted set.", zset::zincrby),
    cmd!("zrem", -3, WF | BATCH_PIPELINED, ["@write", "@sortedset", "@fast"], keys(1, 1, 1), "sorted_set", "1.2.0", "Removes one or more members from a sorted set. Deletes the sorted set if all members were removed.", zset::zrem),
    cmd!("zcard", 2, RF, ["@read", "@sortedset", "@fast"], keys(1, 1, 1), "sorted_set", "1.2.0", "Returns the number of members in a sorted set.", zset::zcard),
    cmd!("zscore", 3, RF, ["@read", "@sortedset", "@fast"], keys(1, 1, 1), "sorted_set", "1.2.0", "Returns the score of a member in a sorted set.", zset::zscore),
    cmd!("zmscore", -3, RF, ["@read", "@sortedset", "@fast"], keys(1, 1, 1), "sorted_set", "6.2.0", "Returns the score of one or more members in a sorted set.", zset::zmscore),
    cmd!("zrank", -3, RF, ["@read", "@sortedset", "@fast"], keys(1, 1, 1), "sorted_set", "2.0.0", "Returns the index of a member in a sorted set ordered by ascending scores.", zset::zrank),
    cmd!("zrevrank", -3, RF, ["@read", "@sortedset", "@fast"], keys(1, 1, 1), "sorted_set", "2.0.0", "Returns the index of a member in a sorted set ordered by descending scores.", zset::zrevrank),
    cmd!("zrange", -4, R, ["@read", "@sortedset", "@slow"], keys(1, 1, 1), "sorted_set", "1.2.0", "Returns members in a sorted set within a range of indexes.", zset::zrange),
    cmd!("zrangestore", -5, WD, ["@write", "@sortedset", "@slow"], keys(1, 2, 1), "sorted_set", "6.2.0", "Stores a range of members from sorted set in a key.", zset::zrangestore),
    cmd!("zrevrange", -4, R, ["@read", "@sortedset", "@slow"], keys(1, 1, 1), "sorted_set", "1.2.0", "Returns members in a sorted set within a range of indexes in reverse order.", zset::zrevrange),
    cmd!("zrangebyscore", -4, R, ["@read", "@sortedset", "@slow"], keys(1, 1, 1), "sorted_set", "1.0.5", "Returns members in a sorted set within a range of scores.", zset::zrangebyscore),
    cmd!("zrevrangebyscore", -4, R, ["@read", "@sortedset", "@slow"], keys(1, 1, 1), "sorted_set", "2.2.0", "Returns members in a sorted set within a range of scores in reverse order.", zset::zrevrangebyscore),
    cmd!("zrangebylex", -4, R, ["@read", "@sortedset", "@slow"], keys(1, 1, 1), "sorted_set", "2.8.9", "Returns members in a sorted set within a lexicographical range.", zset::zrangebylex),
    cmd!("zrevrangebylex", -4, R, ["@read", "@sortedset", "@slow"], keys(1, 1, 1), "sorted_set", "2.8.9", "Returns members in a sorted set within a lexicographical range in reverse order.", zset::zrevrangebylex),
    cmd!("zcount", 4, RF, ["@read", "@sortedset", "@fast"], keys(1, 1, 1), "sorted_set", "2.0.0", "Returns the count of members in a sorted set that have scores within a range.", zset::zcount),
    cmd!("zlexcount", 4, RF, ["@read", "@sortedset", "@fast"], keys(1, 1, 1), "sorted_set", "2.8.9", "Returns the number of members in a sorted set within a lexicographical range.", zset::zlexcount),
    cmd!("zremrangebyrank", 4, W, ["@write", "@sortedset", "@slow"], keys(1, 1, 1), "sorted_set", "2.0.0", "Removes members in a sorted set within a range of indexes. Deletes the sorted set if all members were removed.", zset::zremrangebyrank),
    cmd!("zremrangebyscore", 4, W, ["@write", "@sortedset", "@slow"], keys(1, 1, 1), "sorted_set", "1.2.0", "Removes members in a sorted set within a range of scores. Deletes the sorted set if all members were removed.", zset::zremrangebyscore),
    cmd!("zremrangebylex", 4, W, ["@write", "@sortedset", "@slow"], keys(1, 1, 1), "sorted_set", "2.8.9", "Removes members in a sorted set within a lexicographical range. Deletes the sorted set if all members were removed.", zset::zremrangebylex),
    cmd!("zpopmin", -2, WF, ["@write", "@sortedset", "@fast"], keys(1, 1, 1), "sorted_set", "5.0.0", "Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.", zset::zpopmin),
    cmd!("zpopmax", -2, WF, ["@write", "@sortedset", "@fast"], keys(1, 1, 1), "sorted_set", "5.0.0", "Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.", zset::zpopmax),
    cmd!("bzpopmin", -3, WF | NOSCRIPT | BLOCKING, ["@write", "@sortedset", "@fast", "@blocking"], keys(1, -2, 1), "sorted_set", "5.0.0", "Removes and returns the member with the lowest score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.", zset::bzpopmin),
    cmd!("bzpopmax", -3, WF | NOSCRIPT | BLOCKING, ["@write", "@sortedset", "@fast", "@blocking"], keys(1, -2, 1), "sorted_set", "5.0.0", "Removes and returns the member with the highest score from one or more sorted sets. Blocks until a member available otherwise.  Deletes the sorted set if the last element was popped.", zset::bzpopmax),
    cmd!("zmpop", -4, W, ["@write", "@sortedset", "@slow"], KeySpec::Keynum { numkeys_at: 1, dest: false }, "sorted_set", "7.0.0", "Returns the highest- or lowest-scoring members from one or more sorted sets after removing them. Deletes the sorted set if the last member was popped.", zset::zmpop),
    cmd!("bzmpop", -5, W | BLOCKING, ["@write", "@sortedset", "@slow", "@blocking"], KeySpec::Keynum { numkeys_at: 2, dest: false }, "sorted_set", "7.0.0", "Removes and returns a member by score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.", zset::bzmpop),
    cmd!("zunion", -3, RL, ["@read", "@sortedset", "@slow"], KeySpec::Keynum { numkeys_at: 1, dest: false }, "sorted_set", "6.2.0", "Returns the union of multiple sorted sets.", zset::zunion),
    cmd!("zunionstore", -4, WDL, ["@write", "@sortedset", "@slow"], KeySpec::Keynum { numkeys_at: 2, dest: true }, "sorted_set", "2.0.0", "Stores the union of multiple sorted sets in a key.", zset::zunionstore),
    cmd!("zinter", -3, RL, ["@read", "@sortedset", "@slow"], KeySpec::Keynum { numkeys_at: 1, dest: false }, "sorted_set", "6.2.0", "Returns the intersect of multiple sorted sets.", zset::zinter),
    cmd!("zinterstore", -4, WDL, ["@write", "@sortedset", "@slow"], KeySpec::Keynum { numkeys_at: 2, dest: true }, "sorted_set", "2.0.0", "Stores the intersect of multiple sorted sets in a key.", zset::zinterstore),
    cmd!("zintercard", -3, RL, ["@read", "@sortedset", "@slow"], KeySpec::Keynum { numkeys_at: 1, dest: false }, "sorted_set", "7.0.0", "Returns the number of members of the intersect of multiple sorted sets.", zset::zintercard),
    cmd!("zdiff", -3, RL, ["@read", "@sortedset", "@slow"], KeySpec::Keynum { numkeys_at: 1, dest: false }, "sorted_set", "6.2.0", "Returns the difference between multiple sorted sets.", zset::zdiff),
    cmd!("zdiffstore", -4, WDL, ["@write", "@sortedset", "@slow"], KeySpec::Keynum { numkeys_at: 2, dest: true }, "sorted_set", "6.2.0", "Stores the difference of multiple sorted sets in a key.", zset::zdiffstore),
    cmd!("zrandmember", -2, R, ["@read", "@sortedset", "@slow"], keys(1, 1, 1), "sorted_set", "6.2.0", "Returns one or more random members from a sorted set.", zset::zrandmember),
    cmd!("zscan", -3, RL, ["@read", "@sortedset", "@slow"], keys(1, 1, 1), "sorted_set", "2.8.0", "Iterates over members and scores of a sorted set.", zset::zscan),
    cmd!("sort", -2, WDL, ["@write", "@set", "@sortedset", "@list", "@slow", "@dangerous"], KeySpec::Custom(sort::sort_keys), "generic", "1.0.0", "Sorts the elements in a list, a set, or a sorted set, optionally storing the result.", sort::sort),
    cmd!("sort_ro", -2, RL, ["@read", "@set", "@sortedset", "@list", "@slow", "@dangerous"], keys(1, 1, 1), "generic", "7.0.0", "Returns the sorted elements of a list, a set, or a sorted set.", sort::sort_ro),
    // pub/sub
    cmd!("subscribe", -2, PUBSUB | NOSCRIPT | LOADING | STALE, ["@pubsub", "@slow"], NOKEYS, "pubsub", "2.0.0", "Listens for messages published to channels.", ps::subscribe),
    cmd!("unsubscribe", -1, PUBSUB | NOSCRIPT | LOADING | STALE, ["@pubsub", "@slow"], NOKEYS, "pubsub", "2.0.0", "Stops listening to messages posted to channels.", ps::unsubscribe),
    cmd!("psubscribe", -2, PUBSUB | NOSCRIPT | LOADING | STALE, ["@pubsub", "@slow"], NOKEYS, "pubsub", "2.0.0", "Listens for messages published to channels that match one or more patterns.", ps::psubscribe),
    cmd!("punsubscribe", -1, PUBSUB | NOSCRIPT | LOADING | STALE, ["@pubsub", "@slow"], NOKEYS, "pubsub", "2.0.0", "Stops listening to messages published to channels that match one or more patterns.", ps::punsubscribe),
    cmd!("publish", 3, PUBSUB | MAY_REPLICATE | LOADING | STALE | FAST, ["@pubsub", "@fast"], NOKEYS, "pubsub", "2.0.0", "Posts a message to a channel.", ps::publish),
    cmd!("ssubscribe", -2, PUBSUB | NOSCRIPT | LOADING | STALE, ["@pubsub", "@slow"], keys(1, -1, 1), "pubsub", "7.0.0", "Listens for messages published to shard channels.", ps::ssubscribe),
    cmd!("sunsubscribe", -1, PUBSUB | NOSCRIPT | LOADING | STALE, ["@pubsub", "@slow"], keys(1, -1, 1), "pubsub", "7.0.0", "Stops listening to messages posted to shard channels.", ps::sunsubscribe),
    cmd!("spublish", 3, PUBSUB | MAY_REPLICATE | LOADING | STALE | FAST, ["@pubsub", "@fast"], keys(1, 1, 1), "pubsub", "7.0.0", "Post a message to a shard channel", ps::spublish),
    container!("pubsub", 0, ["@slow"], "pubsub", "2.8.0", "A container for Pub/Sub commands.", PUBSUB_SUBS),
    // persistence
    cmd!("save", 1, ADMIN | NOSCRIPT | NO_MULTI, ["@admin", "@slow", "@dangerous"], NOKEYS, "server", "1.0.0", "Synchronously saves the database(s) to disk.", persistence::save),
    cmd!("bgsave", -1, ADMIN | NOSCRIPT, ["@admin", "@slow", "@dangerous"], NOKEYS, "server", "1.0.0", "Asynchronously saves the database(s) to disk.", persistence::bgsave),
    cmd!("bgrewriteaof", 1, ADMIN | NOSCRIPT, ["@admin", "@slow", "@dangerous"], NOKEYS, "server", "1.0.0", "Asynchronously rewrites the append-only file to disk.", persistence::bgrewriteaof),
    cmd!("strata.checkpoint", -1, ADMIN | NOSCRIPT | NO_MULTI, ["@admin", "@slow", "@dangerous"], NOKEYS, "server", "0.1.0", "Strata: creates a checkpoint now and reports its path, sequence number and size.", persistence::strata_checkpoint),
    // transactions
    cmd!("multi", 1, NOSCRIPT | LOADING | STALE | FAST, ["@fast", "@transaction"], NOKEYS, "transactions", "1.2.0", "Starts a transaction.", txn::multi),
    cmd!("exec", 1, NOSCRIPT | LOADING | STALE | SKIP_SLOWLOG | EXCLUSIVE, ["@slow", "@transaction"], NOKEYS, "transactions", "1.2.0", "Executes all commands in a transaction.", txn::exec),
    cmd!("discard", 1, NOSCRIPT | LOADING | STALE | FAST, ["@fast", "@transaction"], NOKEYS, "transactions", "2.0.0", "Discards a transaction.", txn::discard),
    cmd!("watch", -2, NOSCRIPT | LOADING | STALE | FAST, ["@fast", "@transaction"], keys(1, -1, 1), "transactions", "2.2.0", "Monitors changes to keys to determine the execution of a transaction.", txn::watch),
    cmd!("unwatch", 1, NOSCRIPT | LOADING | STALE | FAST, ["@fast", "@transaction"], NOKEYS, "transactions", "2.2.0", "Forgets about watched keys of a transaction.", txn::unwatch),
    // keys
    cmd!("del", -2, W | BATCH, ["@keyspace", "@write", "@slow"], keys(1, -1, 1), "generic", "1.0.0", "Deletes one or more keys.", key::del),
    cmd!("unlink", -2, WF | BATCH, ["@keyspace", "@write", "@fast"], keys(1, -1, 1), "generic", "4.0.0", "Asynchronously deletes one or more keys.", key::del),
    cmd!("exists", -2, RF | BATCH, ["@keyspace", "@read", "@fast"], keys(1, -1, 1), "generic", "1.0.0", "Determines whether one or more keys exist.", key::exists),
    cmd!("type", 2, RF | NO_TOUCH, ["@keyspace", "@read", "@fast"], keys(1, 1, 1), "generic", "1.0.0", "Determines the type of value stored at a key.", key::type_of),
    cmd!("expire", -3, WF | BATCH, ["@keyspace", "@write", "@fast"], keys(1, 1, 1), "generic", "1.0.0", "Sets the expiration time of a key in seconds.", key::expire),
    cmd!("pexpire", -3, WF | BATCH, ["@keyspace", "@write", "@fast"], keys(1, 1, 1), "generic", "2.6.0", "Sets the expiration time of a key in milliseconds.", key::pexpire),
    cmd!("expireat", -3, WF, ["@keyspace", "@write", "@fast"], keys(1, 1, 1), "generic", "1.2.0", "Sets the expiration time of a key to a Unix timestamp.", key::expireat),
    cmd!("pexpireat", -3, WF, ["@keyspace", "@write", "@fast"], keys(1, 1, 1), "generic", "2.6.0", "Sets the expiration time of a key to a Unix milliseconds timestamp.", key::pexpireat),
    cmd!("ttl", 2, RF | NO_TOUCH | BATCH, ["@keyspace", "@read", "@fast"], keys(1, 1, 1), "generic", "1.0.0", "Returns the expiration time in seconds of a key.", key::ttl),
    cmd!("pttl", 2, RF | NO_TOUCH | BATCH, ["@keyspace", "@read", "@fast"], keys(1, 1, 1), "generic", "2.6.0", "Returns the expiration time in milliseconds of a key.", key::pttl),
    cmd!("expiretime", 2, RF | NO_TOUCH, ["@keyspace", "@read", "@fast"], keys(1, 1, 1), "generic", "7.0.0", "Returns the expiration time of a key as a Unix timestamp.", key::expiretime),
    cmd!("pexpiretime", 2, RF | NO_TOUCH, ["@keyspace", "@read", "@fast"], keys(1, 1, 1), "generic", "7.0.0", "Returns the expiration time of a key as a Unix milliseconds timestamp.", key::pexpiretime),
    cmd!("persist", 2, WF, ["@keyspace", "@write", "@fast"], keys(1, 1, 1), "generic", "2.2.0", "Removes the expiration time of a key.", key::persist),
    cmd!("rename", 3, W, ["@keyspace", "@write", "@slow"], keys(1, 2, 1), "generic", "1.0.0", "Renames a key and overwrites the destination.", key::rename),
    cmd!("renamenx", 3, WF, ["@keyspace", "@write", "@fast"], keys(1, 2, 1), "generic", "1.0.0", "Renames a key only when the target key name doesn't exist.", key::renamenx),
    cmd!("copy", -3, WD, ["@keyspace", "@write", "@slow"], keys(1, 2, 1), "generic", "6.2.0", "Copies the value of a key to a new key.", key::copy),
    cmd!("dump", 2, READONLY, ["@keyspace", "@read", "@slow"], keys(1, 1, 1), "generic", "2.6.0", "Returns a serialized representation of the value stored at a key.", mig::dump),
    cmd!("restore", -4, WD, ["@keyspace", "@write", "@slow", "@dangerous"], keys(1, 1, 1), "generic", "2.6.0", "Creates a key from the serialized representation of a value.", mig::restore),
    cmd!("restore-asking", -4, WD, ["@keyspace", "@write", "@slow", "@dangerous"], keys(1, 1, 1), "server", "3.0.0", "An internal command for migrating keys in a cluster.", mig::restore),
    cmd!("migrate", -6, WRITE | OFF_WORKER, ["@keyspace", "@write", "@slow", "@dangerous"], KeySpec::Custom(mig::migrate_key_positions), "generic", "2.6.0", "Atomically transfers a key from one Redis instance to another.", mig::migrate),
    cmd!("move", 3, WF, ["@keyspace", "@write", "@fast"], keys(1, 1, 1), "generic", "1.0.0", "Moves a key to another database.", key::move_key),
    cmd!("touch", -2, RF, ["@keyspace", "@read", "@fast"], keys(1, -1, 1), "generic", "3.2.1", "Returns the number of existing keys out of those specified after updating the time they were last accessed.", key::exists),
    cmd!("keys", 2, RL, ["@keyspace", "@read", "@slow", "@dangerous"], NOKEYS, "generic", "1.0.0", "Returns all key names that match a pattern.", key::keys),
    cmd!("scan", -2, RL, ["@keyspace", "@read", "@slow"], NOKEYS, "generic", "2.8.0", "Iterates over the key names in the database.", key::scan),
    cmd!("randomkey", 1, R, ["@keyspace", "@read", "@slow"], NOKEYS, "generic", "1.0.0", "Returns a random key name from the database.", key::randomkey),
    cmd!("dbsize", 1, RF, ["@keyspace", "@read", "@fast"], NOKEYS, "server", "1.0.0", "Returns the number of keys in the database.", key::dbsize),
    cmd!("flushdb", -1, W | EXCLUSIVE, ["@keyspace", "@write", "@slow", "@dangerous"], NOKEYS, "server", "1.0.0", "Removes all keys from the current database.", key::flushdb),
    cmd!("flushall", -1, W | EXCLUSIVE, ["@keyspace", "@write", "@slow", "@dangerous"], NOKEYS, "server", "1.0.0", "Removes all keys from all databases.", key::flushall),
    cmd!("swapdb", 3, WF | EXCLUSIVE, ["@keyspace", "@write", "@fast", "@dangerous"], NOKEYS, "server", "4.0.0", "Swaps two Redis databases.", key::swapdb),
    container!("object", 0, ["@slow"], "generic", "2.2.3", "A container for object introspection commands.", OBJECT_SUBS),
    // server
    cmd!("info", -1, LOADING | STALE, ["@slow", "@dangerous"], NOKEYS, "server", "1.0.0", "Returns information and statistics about the server.", info::info),
    container!("config", 0, ["@slow"], "server", "2.0.0", "A container for server configuration commands.", CONFIG_SUBS),
    container!("acl", 0, ["@slow"], "server", "6.0.0", "A container for Access List Control commands.", ACL_SUBS),
    cmd!("monitor", 1, ADMIN | NOSCRIPT | LOADING | STALE, ["@admin", "@slow", "@dangerous"], NOKEYS, "server", "1.0.0", "Listens for all requests received by the server in real-time.", conn::monitor),
    container!("latency", 0, ["@slow"], "server", "2.8.13", "A container for latency diagnostics commands.", LATENCY_SUBS),
    container!("slowlog", 0, ["@slow"], "server", "2.2.12", "A container for slow log commands.", SLOWLOG_SUBS),
    Command {
        name: "command",
        arity: -1,
        flags: LOADING | STALE,
        acl: &["@slow", "@connection"],
        keys: NOKEYS,
        group: "server",
        since: "2.8.13",
        summary: "Returns detailed information about all commands.",
        handler: Some(srv::command),
        subcommands: COMMAND_SUBS,
    },
    cmd!("time", 1, LOADING | STALE | FAST, ["@fast"], NOKEYS, "server", "2.6.0", "Returns the server time.", srv::time),
    // replication
    cmd!("replicaof", 3, ADMIN | NOSCRIPT | STALE | EXCLUSIVE, ["@admin", "@slow", "@dangerous"], NOKEYS, "server", "5.0.0", "Configures a server as replica of another, or promotes it to a master.", repl::replicaof),
    cmd!("slaveof", 3, ADMIN | NOSCRIPT | STALE | EXCLUSIVE, ["@admin", "@slow", "@dangerous"], NOKEYS, "server", "1.0.0", "Sets a Redis server as a replica of another, or promotes it to being a master.", repl::replicaof),
    cmd!("failover", -1, ADMIN | NOSCRIPT | STALE, ["@admin", "@slow", "@dangerous"], NOKEYS, "server", "6.2.0", "Starts a coordinated failover from a server to one of its replicas.", repl::failover),
    cmd!("role", 1, NOSCRIPT | LOADING | STALE | FAST, ["@admin", "@fast", "@dangerous"], NOKEYS, "server", "2.8.12", "Returns the replication role.", repl::role),
    cmd!("wait", 3, NOSCRIPT, ["@slow", "@connection"], NOKEYS, "generic", "3.0.0", "Blocks until the asynchronous replication of all preceding write commands sent by the connection is completed.", repl::wait),
    cmd!("replconf", -1, ADMIN | NOSCRIPT | LOADING | STALE | ALLOW_BUSY, ["@admin", "@slow", "@dangerous"], NOKEYS, "server", "3.0.0", "An internal command for configuring the replication stream.", repl::replconf),
    cmd!("psync", -3, ADMIN | NOSCRIPT | NO_MULTI, ["@admin", "@slow", "@dangerous"], NOKEYS, "server", "2.8.0", "An internal command used in replication.", repl::psync),
    cmd!("sync", 1, ADMIN | NOSCRIPT | NO_MULTI, ["@admin", "@slow", "@dangerous"], NOKEYS, "server", "1.0.0", "An internal command used in replication.", repl::sync),
    cmd!("lastsave", 1, LOADING | STALE | FAST, ["@admin", "@fast", "@dangerous"], NOKEYS, "server", "1.0.0", "Returns the Unix timestamp of the last successful save to disk.", srv::lastsave),
    cmd!("shutdown", -1, ADMIN | NOSCRIPT | ALLOW_BUSY | LOADING | STALE | NO_MULTI, ["@admin", "@slow", "@dangerous"], NOKEYS, "server", "1.0.0", "Synchronously saves the database(s) to disk and shuts down the Redis server.", srv::shutdown),
    cmd!("eval", -3, NOSCRIPT | SKIP_MONITOR | MAY_REPLICATE | STALE | EXCLUSIVE, ["@slow", "@scripting"], SCRIPT_KEYS, "scripting", "2.6.0", "Executes a server-side Lua script.", scr::eval),
    cmd!("evalsha", -3, NOSCRIPT | SKIP_MONITOR | MAY_REPLICATE | STALE | EXCLUSIVE, ["@slow", "@scripting"], SCRIPT_KEYS, "scripting", "2.6.0", "Executes a server-side Lua script by SHA1 digest.", scr::evalsha),
    cmd!("eval_ro", -3, NOSCRIPT | SKIP_MONITOR | STALE | READONLY | EXCLUSIVE, ["@slow", "@scripting"], SCRIPT_KEYS, "scripting", "7.0.0", "Executes a read-only server-side Lua script.", scr::eval_ro),
    cmd!("evalsha_ro", -3, NOSCRIPT | SKIP_MONITOR | STALE | READONLY | EXCLUSIVE, ["@slow", "@scripting"], SCRIPT_KEYS, "scripting", "7.0.0", "Executes a read-only server-side Lua script by SHA1 digest.", scr::evalsha_ro),
    cmd!("fcall", -3, NOSCRIPT | SKIP_MONITOR | MAY_REPLICATE | STALE | EXCLUSIVE, ["@slow", "@scripting"], SCRIPT_KEYS, "scripting", "7.0.0", "Invokes a function.", scr::fcall),
    cmd!("fcall_ro", -3, NOSCRIPT | SKIP_MONITOR | STALE | READONLY | EXCLUSIVE, ["@slow", "@scripting"], SCRIPT_KEYS, "scripting", "7.0.0", "Invokes a read-only function.", scr::fcall_ro),
    container!("script", 0, ["@slow"], "scripting", "2.6.0", "A container for Lua scripts management commands.", SCRIPT_SUBS),
    container!("function", 0, ["@slow"], "scripting", "7.0.0", "A container for function commands.", FUNCTION_SUBS),
    container!("memory", 0, ["@slow"], "server", "4.0.0", "A container for memory diagnostics commands.", MEMORY_SUBS),
    container!("debug", ADMIN | NOSCRIPT | LOADING | STALE, ["@admin", "@slow", "@dangerous"], "server", "1.0.0", "A container for debugging commands.", DEBUG_SUBS),
];

/// `QUIT` is allowed before authentication and everywhere.
const ALLOW_ANY: u32 = NO_AUTH | NOSCRIPT | LOADING | STALE | FAST;

/// Per-command statistics (`INFO commandstats`).
#[derive(Default)]
pub struct CommandStats {
    /// Not a statistic: the command's ACL facts, kept here so the gate's one lookup of a
    /// command's entry by name serves the permission check too.
    pub acl: AclFacts,
    pub calls: AtomicU64,
    pub usec: AtomicU64,
    pub rejected: AtomicU64,
    pub failed: AtomicU64,
    /// Latencies when `latency-tracking` is on (`LATENCY HISTOGRAM`, `INFO latencystats`).
    pub latency: crate::latency::histogram::Histogram,
}

/// What the ACL check needs of a command, by full name.
#[derive(Clone, Copy, Default)]
pub struct AclFacts {
    pub id: crate::acl::CommandId,
    /// Access to the first key and to the later ones (`key_access`).
    pub key_access: (u8, u8),
}

/// The lookup map built from [`COMMANDS`] with `rename-command` applied.
pub struct CommandTable {
    by_name: HashMap<Vec<u8>, &'static Command>,
    /// Full names (`get`, `client|list`) by command address, built once so dispatch never
    /// formats a name per call.
    full_names: HashMap<usize, &'static str>,
    stats: HashMap<&'static str, CommandStats>,
}

impl CommandTable {
    pub fn new(renames: &[(String, String)]) -> CommandTable {
        let mut by_name: HashMap<Vec<u8>, &'static Command> = COMMANDS
            .iter()
            .map(|c| (c.name.as_bytes().to_vec(), c))
            .collect();
        for (original, new_name) in renames {
            if let Some(cmd) = by_name.remove(original.as_bytes()) {
                if !new_name.is_empty() {
                    by_name.insert(new_name.to_ascii_lowercase().into_bytes(), cmd);
                }
            }
        }
        let mut stats = HashMap::new();
        let mut full_names = HashMap::new();
        for c in COMMANDS {
            stats.insert(c.name, CommandStats::default());
            full_names.insert(c as *const Command as usize, c.name);
            for s in c.subcommands {
                // A fixed, small set built once per process.
                let name: &'static str =
                    Box::leak(format!("{}|{}", c.name, s.name).into_boxed_str());
                stats.insert(name, CommandStats::default());
                full_names.insert(s as *const Command as usize, name);
            }
        }
        let mut table = CommandTable {
            by_name,
            full_names,
            stats,
        };
        let (_, facts) = table.build_catalog();
        for (name, acl) in facts {
            if let Some(stats) = table.stats.get_mut(name) {
                stats.acl = acl;
            }
        }
        table
    }

    /// The ACL catalog of every command (original names, renames do not apply to ACL
    /// rules), and each command's facts by full name. The ids are the catalog's order,
    /// the same on every call.
    fn build_catalog(&self) -> (crate::acl::Catalog, HashMap<&'static str, AclFacts>) {
        use crate::acl::categories::mask_of;
        let mut catalog = crate::acl::Catalog::default();
        let mut facts = HashMap::new();
        for c in COMMANDS {
            let subs: Vec<(&'static str, u32, bool)> = c
                .subcommands
                .iter()
                .map(|s| (self.full_name(s), mask_of(s.acl), s.has(NO_AUTH)))
                .collect();
            let names: Vec<&'static str> = subs.iter().map(|s| s.0).collect();
            let id = catalog.add(c.name, mask_of(c.acl), c.has(NO_AUTH), subs);
            for (n, full_name) in std::iter::once(c.name).chain(names).enumerate() {
                facts.insert(
                    full_name,
                    AclFacts {
                        id: id + n as crate::acl::CommandId,
                        key_access: super::key_access::key_access(full_name),
                    },
                );
            }
        }
        (catalog, facts)
    }

    /// A fresh ACL catalog of the table (see `build_catalog`).
    pub fn acl_catalog(&self) -> crate::acl::Catalog {
        self.build_catalog().0
    }

    pub fn acl_facts(&self, full_name: &str) -> Option<AclFacts> {
        self.stats.get(full_name).map(|s| s.acl)
    }

    /// Case-insensitive lookup without allocating for ordinary command names.
    pub fn lookup(&self, name: &[u8]) -> Option<&'static Command> {
        let mut buf = [0u8; 32];
        if name.len() <= buf.len() {
            let lower = &mut buf[..name.len()];
            lower.copy_from_slice(name);
            lower.make_ascii_lowercase();
            self.by_name.get(&*lower).copied()
        } else {
            self.by_name.get(&name.to_ascii_lowercase()).copied()
        }
    }

    /// Commands as currently named (after renames), for `COMMAND` and `COMMAND LIST`.
    pub fn visible(&self) -> Vec<(&[u8], &'static Command)> {
        let mut all: Vec<_> = self
            .by_name
            .iter()
            .map(|(n, c)| (n.as_slice(), *c))
            .collect();
        all.sort_by(|a, b| a.0.cmp(b.0));
        all
    }

    pub fn stats(&self, full_name: &str) -> Option<&CommandStats> {
        self.stats.get(full_name)
    }

    /// The full name of a command or subcommand from the table.
    pub fn full_name(&self, cmd: &'static Command) -> &'static str {
        self.full_names
            .get(&(cmd as *const Command as usize))
            .copied()
            .unwrap_or(cmd.name)
    }

    pub fn all_stats(&self) -> Vec<(&str, &CommandStats)> {
        let mut all: Vec<_> = self
            .stats
            .iter()
            .filter(|(_, s)| {
                s.calls.load(Ordering::Relaxed) > 0 || s.rejected.load(Ordering::Relaxed) > 0
            })
            .map(|(n, s)| (*n, s))
            .collect();
        all.sort_by(|a, b| a.0.cmp(b.0));
        all
    }

    pub fn reset_stats(&self) {
        for s in self.stats.values() {
            s.calls.store(0, Ordering::Relaxed);
            s.usec.store(0, Ordering::Relaxed);
            s.rejected.store(0, Ordering::Relaxed);
            s.failed.store(0, Ordering::Relaxed);
            s.latency.reset();
        }
    }
}

/// Resolves the keys of a full argument vector for `COMMAND GETKEYS` and locking.
pub fn keys_of<'a>(cmd: &Command, args: &'a [Bytes]) -> Vec<&'a [u8]> {
    // The common case without the intermediate list of positions: the gate asks for every
    // command's keys, so this is one allocation per call instead of two.
    if let KeySpec::Range { first, last, step } = cmd.keys {
        return range_positions(first, last, step, args.len())
            .map(|i| &args[i][..])
            .collect();
    }
    cmd.key_positions_in(args)
        .into_iter()
        .map(|i| &args[i][..])
        .collect()
}

/// Positions `first, first + step, ...` up to `last` (negative: from the end), within
/// `argc`.
fn range_positions(first: i32, last: i32, step: i32, argc: usize) -> impl Iterator<Item = usize> {
    let last = if last < 0 { argc as i32 + last } else { last };
    let first = usize::try_from(first).unwrap_or(usize::MAX);
    // A step of 0 or less names no keys (and `step_by(0)` would panic).
    let (end, step) = match usize::try_from(step) {
        Ok(step) if step > 0 => (usize::try_from(last).map_or(0, |l| l + 1).min(argc), step),
        _ => (0, 1),
    };
    (first..end).step_by(step)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_lowercase() {
        let mut seen = std::collections::HashSet::new();
        for c in COMMANDS {
            assert_eq!(c.name, c.name.to_ascii_lowercase());
            assert!(seen.insert(c.name), "duplicate {}", c.name);
            assert!(
                c.handler.is_some() || !c.subcommands.is_empty(),
                "{} has no handler",
                c.name
            );
        }
    }

    #[test]
    fn key_positions_follow_redis_rules() {
        let table = CommandTable::new(&[]);
        let mset = table.lookup(b"MSET").unwrap();
        assert_eq!(mset.key_positions(5), vec![1, 3]);
        let del = table.lookup(b"del").unwrap();
        assert_eq!(del.key_positions(4), vec![1, 2, 3]);
        assert!(table.lookup(b"ping").unwrap().key_positions(2).is_empty());
    }

    #[test]
    fn renames_apply() {
        let table = CommandTable::new(&[
            ("config".into(), "".into()),
            ("flushall".into(), "NUKE".into()),
        ]);
        assert!(table.lookup(b"config").is_none());
        assert!(table.lookup(b"flushall").is_none());
        assert_eq!(table.lookup(b"nuke").unwrap().name, "flushall");
    }
}
