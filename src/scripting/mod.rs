//! Lua scripting: one Lua 5.1 VM (vendored, as in Redis) serving `EVAL`/`EVALSHA`, `SCRIPT`,
//! `FUNCTION` and `FCALL`.
//!
//! Scripts run under the exclusive global lock (the gate's `EXCLUSIVE` flag), so they are
//! atomic; their `redis.call`s go back through the dispatch gate with the lock already held,
//! so every rule of the command table (arity, flags, notifications, WATCH) applies inside
//! scripts too. A script that runs longer than `busy-reply-threshold` makes other clients get
//! `-BUSY`; `SCRIPT KILL` stops it through an instruction-count hook unless it already wrote.
//! Blocking commands run non-blocking: the ones Redis 7.0 flags `noscript` are refused by the
//! table flag, `XREAD`/`XREADGROUP ... BLOCK` get Redis's error, and `BLMPOP`/`BZMPOP` answer
//! what is there or nil (the script's client has `deny_blocking`, so no waiter is
//! registered).
//!
//! The sandbox is Redis 7.0's (see `sandbox`): only the base, table, string, math and
//! coroutine libraries plus Redis's `cjson`, `cmsgpack`, `bit` and `struct`; no `os`, `io`,
//! `debug`, `print`, `dofile`, `loadfile`, `require`, `setfenv`/`getfenv`, `newproxy`; the
//! globals and library tables are read-only (proxies, stock Lua 5.1 having no read-only
//! tables); reading an undeclared global is an error; one script cannot change what the
//! next one sees.
//!
//! Resource bounds: the Lua allocator is limited to [`MEMORY_LIMIT`] (512 MiB: far above
//! what a script legitimately holds, low enough that a `string.rep('x', 2^31)` or a growing
//! table fails with a clear `not enough memory` error instead of exhausting the host; after
//! a run that left much memory behind, a full collection gives it back). Conversions between
//! Lua and replies are depth-limited (`convert`), and so are cjson and cmsgpack; every Rust
//! function a script can call sits behind a C trampoline (`trampoline`) so argument and
//! result counts never turn into one mlua reference each, and compiled scripts and function
//! callbacks live in Lua tables for the same reason. A `FUNCTION LOAD` body runs at most
//! 500 ms (Redis's `FUNCTION LOAD timeout`).
//!
//! Panic safety: the per-run state (`running`, its start time, the kill flag, `redis.call`)
//! is reset by a drop guard, so a panic unwinding out of a run leaves the next `EVAL`
//! working; the VM mutex is parking_lot's (no poisoning), and the guard defers the VM-side
//! cleanup to the next run when it runs during unwinding.
//!
//! Script bodies and function libraries are stored in RocksDB and reloaded at start. Depends
//! on `commands::dispatch`, `protocol::Reply`, `blocking` and `storage`.

mod bit;
mod cjson;
pub mod convert;
mod functions;
mod msgpack;
mod sandbox;
mod structlib;
mod trampoline;

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use mlua::{
    FromLuaMulti, Function, HookTriggers, Lua, LuaOptions, MaybeSend, StdLib, Table, Value, VmState,
};
use parking_lot::Mutex;

use crate::client::ClientState;
use crate::commands::dispatch;
use crate::commands::table::flags;
use crate::protocol::Reply;
use crate::state::ServerState;
use crate::storage::now_ms;
use convert::{lua_to_reply, one_line, reply_to_lua, with_error_code};

pub const BUSY_ERROR: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
const KILLED: &str = "ERR Script killed by user with SCRIPT KILL...";

/// The most memory the Lua VM may allocate (see the module doc).
pub const MEMORY_LIMIT: usize = 512 << 20;
/// The most a library function may build outside the Lua allocator (a `cjson.encode` or
/// `cmsgpack.pack` output) before it fails as Lua would.
pub(crate) const NATIVE_BUFFER_LIMIT: usize = MEMORY_LIMIT;
/// A run leaving the VM above this much memory is followed by a full collection.
const COLLECT_ABOVE: usize = 64 << 20;
/// How long a `FUNCTION LOAD` body may run (Redis's `LOAD_TIMEOUT_MS`).
const LOAD_TIMEOUT_MS: u64 = 500;
const LOAD_TIMEOUT: &str = "ERR FUNCTION LOAD timeout";
const OUT_OF_MEMORY: &str = "ERR not enough memory (the Lua VM is limited to 512 MiB)";

/// The script currently running, for `-BUSY` and `SCRIPT KILL`.
pub struct Run {
    wrote: AtomicBool,
    pub is_function: bool,
}

/// A registered `FUNCTION` (one entry of a library); its callback is in `Vm::callbacks`.
struct Registered {
    library: String,
    no_writes: bool,
}

struct Library {
    code: String,
    functions: Vec<String>,
}

struct Vm {
    lua: Lua,
    /// Script bodies by SHA1; the compiled functions are in `compiled`.
    scripts: HashMap<String, Bytes>,
    /// SHA1 -> compiled script, a Lua table: thousands of cached scripts must not hold one
    /// mlua reference each (see `trampoline`).
    compiled: Table,
    libraries: HashMap<String, Library>,
    functions: HashMap<String, Registered>,
    /// Function name -> callback, a Lua table for the same reason as `compiled`.
    callbacks: Table,
    /// The real `redis` table, where `call`/`pcall`'s entry points are installed per run.
    redis: Table,
    /// The real globals table (scripts see a read-only proxy of it), for `KEYS` and `ARGV`.
    globals: Table,
    /// `xpcall`, kept before the sandbox can hide it.
    xpcall: Function,
    /// `bind(f, a, b)` returns a Lua closure calling `f(a, b)`.
    bind: Function,
    /// `handler(record)` returns the message handler of a run: a Lua function calling
    /// `record()` and passing the error on untouched, so that a Rust panic (an mlua
    /// userdata) travels up to the Rust caller instead of being converted, and resumed,
    /// inside the handler.
    handler: Function,
    /// Empties the library proxies (see `sandbox`).
    sanitize: Function,
}

impl Vm {
    /// What every run ends with: the sandbox checked, the collector running with its
    /// default settings (a script may stop or slow it), and memory given back after a run
    /// that left much of it behind. (The run's `redis.call` stays installed, dead: the next
    /// run replaces it, and a library load clears it first.)
    fn cleanup(&self) {
        let _ = self.sanitize.call::<()>(());
        self.lua.gc_restart();
        self.lua.gc_inc(200, 200, 0);
        if self.lua.used_memory() > COLLECT_ABOVE {
            let _ = self.lua.gc_collect();
            let _ = self.lua.gc_collect();
        }
    }

    fn set_run_arguments(&self, keys: &[Bytes], args: &[Bytes]) -> mlua::Result<()> {
        self.globals.raw_set("KEYS", sequence(&self.lua, keys)?)?;
        self.globals.raw_set("ARGV", sequence(&self.lua, args)?)
    }
}

fn sequence(lua: &Lua, items: &[Bytes]) -> mlua::Result<Table> {
    let t = lua.create_table_with_capacity(items.len(), 0)?;
    for (i, item) in items.iter().enumerate() {
        t.raw_set(i + 1, lua.create_string(item)?)?;
    }
    Ok(t)
}

pub struct Scripting {
    vm: Mutex<Vm>,
    running: Mutex<Option<Arc<Run>>>,
    /// Start of the running script in Unix ms (0: none). Every command checks it for
    /// `-BUSY`, so it is an atomic rather than behind `running`'s lock.
    running_since_ms: AtomicU64,
    kill: Arc<AtomicBool>,
    pub busy_threshold_ms: AtomicU64,
    /// `redis.setresp` of the current run.
    resp3: Arc<AtomicBool>,
    /// Unix ms after which the running `FUNCTION LOAD` body is stopped (0: none running).
    load_deadline: Arc<AtomicU64>,
    /// A run unwound by a panic skipped `Vm::cleanup`; the next run does it first.
    dirty: AtomicBool,
    /// `FUNCTION STATS` counts, readable while a script holds the VM.
    library_count: AtomicUsize,
    function_count: AtomicUsize,
}

/// How a run reports itself: read-only or not, script or function, and the name its error
/// replies carry (`script: <sha>, on @user_script:<line>.`).
struct RunSpec<'a> {
    read_only: bool,
    is_function: bool,
    origin: &'a str,
}

/// What a caller asks to run.
pub struct Invocation<'a> {
    pub keys: &'a [Bytes],
    pub args: &'a [Bytes],
    pub read_only: bool,
}

fn sha1_hex(bytes: &[u8]) -> String {
    sha1_smol::Sha1::from(bytes).digest().to_string()
}

/// A Lua error Lua itself raises from C code, which carries no position (`table index is
/// nil`): library functions return it to be raised as is.
#[derive(Debug)]
pub(crate) struct Bare(pub String);

impl std::fmt::Display for Bare {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Bare {}

pub(crate) fn bare_error(msg: &str) -> mlua::Error {
    mlua::Error::external(Bare(msg.to_string()))
}

/// Lua's `type()` of a value.
pub(crate) fn lua_type_name(v: &Value) -> &'static str {
    match v {
        Value::Nil => "nil",
        Value::Boolean(_) => "boolean",
        Value::Integer(_) | Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Table(_) => "table",
        Value::Function(_) => "function",
        Value::Thread(_) => "thread",
        _ => "userdata",
    }
}

/// `luaL_argerror`'s text (the caller's position is added when it is raised).
pub(crate) fn arg_error(n: usize, fname: &str, msg: &str) -> mlua::Error {
    mlua::Error::runtime(format!("bad argument #{n} to '{fname}' ({msg})"))
}

/// `luaL_checklstring`: a string, or a number as Lua prints it.
pub(crate) fn string_arg(v: &Value, n: usize, fname: &str) -> mlua::Result<Vec<u8>> {
    match v {
        Value::String(s) => Ok(s.as_bytes().to_vec()),
        Value::Integer(i) => Ok(crate::num::format_g(*i as f64, 14).into_bytes()),
        Value::Number(x) => Ok(crate::num::format_g(*x, 14).into_bytes()),
        other => Err(arg_error(
            n,
            fname,
            &format!("string expected, got {}", lua_type_name(other)),
        )),
    }
}

/// Lua 5.1's `luaO_str2d`: the whole string (surrounding spaces aside) is a number.
fn lua_str2number(s: &[u8]) -> Option<f64> {
    let s = s.split(|&b| b == 0).next().unwrap_or(&[]);
    let start = s.iter().position(|b| !b.is_ascii_whitespace())?;
    let (v, used) = cjson::strtod(&s[start..])?;
    s[start + used..]
        .iter()
        .all(u8::is_ascii_whitespace)
        .then_some(v)
}

/// `luaL_checknumber`: a number, or a string Lua reads as one.
pub(crate) fn number_arg(v: &Value, n: usize, fname: &str) -> mlua::Result<f64> {
    let bad = |got: &str| arg_error(n, fname, &format!("number expected, got {got}"));
    match v {
        Value::Integer(i) => Ok(*i as f64),
        Value::Number(x) => Ok(*x),
        Value::String(s) => lua_str2number(&s.as_bytes()).ok_or_else(|| bad("string")),
        other => Err(bad(lua_type_name(other))),
    }
}

/// The arguments of a `trampoline::packed` function, read one at a time.
pub(crate) struct Args {
    table: Table,
    n: usize,
}

impl Args {
    pub fn len(&self) -> usize {
        self.n
    }

    /// Argument `i` (1-based); nil past the last.
    pub fn get(&self, i: usize) -> mlua::Result<Value> {
        if i == 0 || i > self.n {
            return Ok(Value::Nil);
        }
        self.table.raw_get(i)
    }

    pub fn string(&self, i: usize, fname: &str) -> mlua::Result<Vec<u8>> {
        if i > self.n {
            return Err(arg_error(i, fname, "string expected, got no value"));
        }
        string_arg(&self.get(i)?, i, fname)
    }

    pub fn number(&self, i: usize, fname: &str) -> mlua::Result<f64> {
        if i > self.n {
            return Err(arg_error(i, fname, "number expected, got no value"));
        }
        number_arg(&self.get(i)?, i, fname)
    }
}

/// `luaL_where(L, 1)` seen from a Rust callback behind a trampoline (level 0 is the callback,
/// 1 the trampoline): the calling Lua function's position, or nothing when the caller is a C
/// function such as `pcall`.
fn caller_position(lua: &Lua) -> String {
    lua.inspect_stack(2, |d| {
        let line = d.current_line()?;
        let src = d.source().short_src?.into_owned();
        Some(format!("{src}:{line}: "))
    })
    .flatten()
    .unwrap_or_default()
}

/// A library function's error as the value Redis's C library would raise: `luaL_error`'s
/// positioned string, a bare string, or Lua's memory error text.
fn raised(lua: &Lua, e: mlua::Error) -> mlua::Result<Value> {
    let text = match &e {
        mlua::Error::RuntimeError(msg) => format!("{}{msg}", caller_position(lua)),
        mlua::Error::MemoryError(_) => "not enough memory".to_string(),
        mlua::Error::ExternalError(x) => match x.downcast_ref::<Bare>() {
            Some(b) => b.0.clone(),
            None => return Err(e),
        },
        _ => return Err(e),
    };
    Ok(Value::String(lua.create_string(text)?))
}

/// A library function taking any number of arguments (see `trampoline::packed`). `f`
/// answers `Ok(value)` to return, `Err(value)` to raise that value as is, or an mlua error to
/// raise it the way `luaL_error` would.
pub(crate) fn packed_function<F>(lua: &Lua, f: F) -> mlua::Result<Function>
where
    F: Fn(&Lua, &Args) -> mlua::Result<Result<Value, Value>> + MaybeSend + 'static,
{
    let inner = lua.create_function(move |lua, (table, n): (Table, i64)| {
        let args = Args {
            table,
            n: usize::try_from(n).unwrap_or(0),
        };
        Ok(match f(lua, &args) {
            Ok(Ok(v)) => (true, v),
            Ok(Err(v)) => (false, v),
            Err(e) => (false, raised(lua, e)?),
        })
    })?;
    trampoline::packed(lua, inner)
}

/// A library function with fixed arguments (see `trampoline::direct`); errors as for
/// [`packed_function`].
pub(crate) fn direct_function<A, F>(lua: &Lua, f: F) -> mlua::Result<Function>
where
    A: FromLuaMulti,
    F: Fn(&Lua, A) -> mlua::Result<Value> + MaybeSend + 'static,
{
    let inner = lua.create_function(move |lua, args: A| {
        Ok(match f(lua, args) {
            Ok(v) => (true, v),
            Err(e) => (false, raised(lua, e)?),
        })
    })?;
    trampoline::direct(lua, inner)
}

/// A library function returning many values (see `trampoline::packed_and_spread`): `f`
/// answers a table of results and their count.
pub(crate) fn spread_function<F>(lua: &Lua, f: F) -> mlua::Result<Function>
where
    F: Fn(&Lua, &Args) -> mlua::Result<(Table, i64)> + MaybeSend + 'static,
{
    let inner = lua.create_function(move |lua, (table, n): (Table, i64)| {
        let args = Args {
            table,
            n: usize::try_from(n).unwrap_or(0),
        };
        Ok(match f(lua, &args) {
            Ok((t, n)) => (true, Value::Table(t), n),
            Err(e) => (false, raised(lua, e)?, 0),
        })
    })?;
    trampoline::packed_and_spread(lua, inner)
}

/// Redis 7.0's `luaPushErrorBuff`: the error text of a `{err = ...}` table. A leading `-`
/// names the code (`-CODE message`); without one the code is `ERR`.
fn error_reply_text(message: &str) -> String {
    let (code, msg) = match message.strip_prefix('-') {
        Some(rest) => match rest.split_once(' ') {
            Some((code, msg)) => (code, msg),
            None => ("ERR", rest),
        },
        None => ("ERR", message),
    };
    format!("{code} {}", msg.trim_matches(['\r', '\n']))
}

fn error_value(lua: &Lua, message: &str) -> mlua::Result<Value> {
    convert::error_table(lua, &error_reply_text(message))
}

/// `loadstring` and `load` for text only. Lua 5.1's loaders run precompiled bytecode when a
/// chunk starts with ESC, and its bytecode verifier is not a safety boundary: crafted
/// bytecode corrupts memory (Redis's CVE-2015-4335, the classic escape from its sandbox).
/// Redis's patched loader parses such a chunk as text, which fails on the ESC byte; these
/// wrappers do the same by parsing it behind a space, so the error is Redis's
/// (`[string "..."]:1: unexpected symbol near 'char(27)'`, `(load):1: ...` for `load`).
const TEXT_ONLY_LOADERS: &str = r#"
local loadstring, type, byte, concat = loadstring, type, string.byte, table.concat
local function text_only(chunk, name)
    if type(chunk) == 'string' and byte(chunk, 1) == 27 then
        return loadstring(' ' .. chunk, name or chunk)
    end
    return loadstring(chunk, name)
end
_G.loadstring = text_only
_G.load = function(reader, name)
    local pieces = {}
    while true do
        local piece = reader()
        if piece == nil or piece == '' then break end
        if type(piece) ~= 'string' then
            return nil, 'reader function must return a string'
        end
        pieces[#pieces + 1] = piece
    end
    return text_only(concat(pieces), name or '=(load)')
end
"#;

fn new_vm(
    kill: Arc<AtomicBool>,
    resp3: Arc<AtomicBool>,
    load_deadline: Arc<AtomicU64>,
) -> mlua::Result<Vm> {
    let lua = Lua::new_with(
        StdLib::TABLE | StdLib::STRING | StdLib::MATH,
        LuaOptions::default(),
    )?;
    let g = lua.globals();
    let xpcall: Function = g.get("xpcall")?;
    for hidden in [
        "dofile", "loadfile", "print", "getfenv", "setfenv", "newproxy", "module", "require",
    ] {
        g.raw_set(hidden, Value::Nil)?;
    }
    lua.load(TEXT_ONLY_LOADERS)
        .set_name("=loaders")
        .call::<()>(())?;
    g.raw_set("cjson", cjson::install(&lua)?)?;
    g.raw_set("cmsgpack", msgpack::install(&lua)?)?;
    g.raw_set("bit", bit::install(&lua)?)?;
    g.raw_set("struct", structlib::install(&lua)?)?;

    let redis = lua.create_table()?;
    redis.raw_set(
        "sha1hex",
        packed_function(&lua, |lua, args| {
            if args.len() != 1 {
                return Ok(Err(Value::String(
                    lua.create_string("wrong number of arguments")?,
                )));
            }
            let text = string_arg(&args.get(1)?, 1, "sha1hex").unwrap_or_default();
            Ok(Ok(Value::String(lua.create_string(sha1_hex(&text))?)))
        })?,
    )?;
    for (name, field) in [("error_reply", "err"), ("status_reply", "ok")] {
        redis.raw_set(
            name,
            packed_function(&lua, move |lua, args| {
                let arg = args.get(1)?;
                let Value::String(text) = arg.clone() else {
                    return Ok(Ok(error_value(lua, "wrong number or type of arguments")?));
                };
                if args.len() != 1 {
                    return Ok(Ok(error_value(lua, "wrong number or type of arguments")?));
                }
                if field == "ok" {
                    return Ok(Ok(convert::status_table(lua, &text.to_string_lossy())?));
                }
                let text = text.to_string_lossy();
                let text = if text.starts_with('-') {
                    text
                } else {
                    format!("-{text}")
                };
                Ok(Ok(error_value(lua, &text)?))
            })?,
        )?;
    }
    redis.raw_set(
        "log",
        packed_function(&lua, |lua, args| {
            let raise = |msg: &str| Ok(Err(error_value(lua, msg)?));
            if args.len() < 2 {
                return raise("redis.log() requires two arguments or more.");
            }
            let level = match args.get(1)? {
                Value::Integer(n) => n as f64,
                Value::Number(n) => n,
                Value::String(s) => match lua_str2number(&s.as_bytes()) {
                    Some(n) => n,
                    None => return raise("First argument must be a number (log level)."),
                },
                _ => return raise("First argument must be a number (log level)."),
            };
            if !(0.0..=3.0).contains(&level) {
                return raise("Invalid debug level.");
            }
            let mut text: Vec<String> = Vec::new();
            for i in 2..=args.len() {
                match args.get(i)? {
                    Value::String(s) => text.push(s.to_string_lossy()),
                    Value::Integer(n) => text.push(n.to_string()),
                    Value::Number(n) => text.push(crate::num::format_g(n, 14)),
                    _ => {}
                }
            }
            match level as i64 {
                0 | 1 => tracing::debug!(target: "lua", "{}", text.join(" ")),
                2 => tracing::info!(target: "lua", "{}", text.join(" ")),
                _ => tracing::warn!(target: "lua", "{}", text.join(" ")),
            }
            Ok(Ok(Value::Nil))
        })?,
    )?;
    let resp = resp3.clone();
    redis.raw_set(
        "setresp",
        packed_function(&lua, move |lua, args| {
            if args.len() != 1 {
                return Ok(Err(error_value(
                    lua,
                    "redis.setresp() requires one argument.",
                )?));
            }
            // `int resp = lua_tonumber(...)`: truncated, so 3.5 is 3.
            let version = match args.get(1)? {
                Value::Integer(n) => n as f64,
                Value::Number(n) => n,
                Value::String(s) => lua_str2number(&s.as_bytes()).unwrap_or(0.0),
                _ => 0.0,
            };
            let version = convert::c_long_long(version) as i32;
            if version != 2 && version != 3 {
                return Ok(Err(error_value(lua, "RESP version must be 2 or 3.")?));
            }
            resp.store(version == 3, Ordering::Relaxed);
            Ok(Ok(Value::Nil))
        })?,
    )?;
    for (name, answer) in [
        ("set_repl", Value::Nil),
        ("replicate_commands", Value::Boolean(true)),
        ("breakpoint", Value::Boolean(false)),
        ("debug", Value::Nil),
    ] {
        redis.raw_set(
            name,
            direct_function(&lua, move |_, ()| Ok(answer.clone()))?,
        )?;
    }
    for (name, value) in [
        ("LOG_DEBUG", 0),
        ("LOG_VERBOSE", 1),
        ("LOG_NOTICE", 2),
        ("LOG_WARNING", 3),
        ("REPL_NONE", 0),
        ("REPL_AOF", 1),
        ("REPL_SLAVE", 2),
        ("REPL_REPLICA", 2),
        ("REPL_ALL", 3),
    ] {
        redis.raw_set(name, value)?;
    }
    let version = crate::commands::connection::REDIS_COMPAT_VERSION;
    redis.raw_set("REDIS_VERSION", version)?;
    let num = version
        .split('.')
        .filter_map(|p| p.parse::<i64>().ok())
        .fold(0, |acc, p| acc * 256 + p);
    redis.raw_set("REDIS_VERSION_NUM", num)?;
    g.raw_set("redis", redis.clone())?;
    let sandbox = sandbox::install(&lua, &g)?;
    lua.set_memory_limit(MEMORY_LIMIT)?;

    lua.set_hook(
        HookTriggers::new().every_nth_instruction(10_000),
        move |_, _| {
            if kill.load(Ordering::Relaxed) {
                return Err(mlua::Error::runtime(KILLED));
            }
            let deadline = load_deadline.load(Ordering::Relaxed);
            if deadline != 0 && now_ms() > deadline {
                return Err(mlua::Error::runtime(LOAD_TIMEOUT));
            }
            Ok(VmState::Continue)
        },
    )?;
    let bind = lua
        .load("local f, a, b = ...; return function() return f(a, b) end")
        .set_name("=bind")
        .into_function()?;
    let handler = lua
        .load("local record = ...; return function(e) record() return e end")
        .set_name("=handler")
        .into_function()?;
    Ok(Vm {
        bind,
        handler,
        compiled: lua.create_table()?,
        callbacks: lua.create_table()?,
        lua,
        scripts: HashMap::new(),
        libraries: HashMap::new(),
        functions: HashMap::new(),
        redis,
        globals: g,
        xpcall,
        sanitize: sandbox.sanitize,
    })
}

/// The text of an error value raised inside a script, as Redis 7.0's error handler makes
/// it: an `{err = ...}` table gives its text, anything else `ERR ` and its `tostring`.
fn error_text(value: &Value) -> String {
    match value {
        Value::Table(t) => match t.raw_get::<Value>("err") {
            Ok(Value::String(s)) => s.to_string_lossy(),
            _ => "ERR unknown error".into(),
        },
        Value::String(s) => format!("ERR {}", s.to_string_lossy()),
        Value::Integer(n) => format!("ERR {n}"),
        Value::Number(n) => format!("ERR {}", crate::num::format_g(*n, 14)),
        Value::Error(e) => with_error_code(&lua_error_text(e)),
        Value::Nil => "ERR nil".into(),
        Value::Boolean(b) => format!("ERR {b}"),
        _ => "ERR unknown error".into(),
    }
}

/// The message of a Lua error, without the traceback mlua appends to errors it catches.
pub(crate) fn lua_error_text(e: &mlua::Error) -> String {
    match e {
        mlua::Error::RuntimeError(s) | mlua::Error::SyntaxError { message: s, .. } => s
            .split_once("\nstack traceback:")
            .map_or(s.as_str(), |(message, _)| message)
            .to_string(),
        mlua::Error::CallbackError { cause, .. } => lua_error_text(cause),
        mlua::Error::MemoryError(_) => "not enough memory".into(),
        mlua::Error::ExternalError(x) => x.to_string(),
        other => other.to_string(),
    }
}

fn is_memory_error(e: &mlua::Error) -> bool {
    match e {
        mlua::Error::MemoryError(_) => true,
        mlua::Error::CallbackError { cause, .. } => is_memory_error(cause),
        _ => false,
    }
}

/// Converts a command argument the way Redis 7.0 does: strings as they are, numbers with
/// `%.17g` (Lua's own `%.14g` would lose precision); anything else is refused.
fn command_arg(v: &Value) -> Option<Bytes> {
    match v {
        Value::String(s) => Some(Bytes::copy_from_slice(&s.as_bytes())),
        Value::Integer(n) => Some(Bytes::from(crate::num::format_g(*n as f64, 17))),
        Value::Number(n) => Some(Bytes::from(crate::num::format_g(*n, 17))),
        _ => None,
    }
}

/// `XREAD`/`XREADGROUP` options up to `STREAMS`, as Redis reads them: true when a `BLOCK`
/// comes first (a script may not block; Redis refuses it with its own error).
fn xread_blocks(argv: &[Bytes]) -> bool {
    let is = |a: &Bytes, word: &str| a.eq_ignore_ascii_case(word.as_bytes());
    let mut i = 1;
    while i < argv.len() {
        let more = argv.len() - i - 1;
        let o = &argv[i];
        if is(o, "BLOCK") && more > 0 {
            return true;
        } else if is(o, "COUNT") && more > 0 {
            if crate::num::parse_i64(&argv[i + 1]).is_none() {
                return false;
            }
            i += 2;
        } else if is(o, "GROUP") && more >= 2 {
            i += 3;
        } else if is(o, "NOACK") {
            i += 1;
        } else {
            return false;
        }
    }
    false
}

/// Resets the per-run state however a run ends, unwinding included (see the module doc).
struct RunGuard<'a> {
    scripting: &'a Scripting,
    vm: &'a Vm,
}

impl Drop for RunGuard<'_> {
    fn drop(&mut self) {
        let s = self.scripting;
        s.running_since_ms.store(0, Ordering::Relaxed);
        *s.running.lock() = None;
        s.kill.store(false, Ordering::Relaxed);
        if std::thread::panicking() {
            // Lua calls here could panic again and abort: the next run cleans up first.
            s.dirty.store(true, Ordering::Relaxed);
        } else {
            self.vm.cleanup();
        }
    }
}

impl Default for Scripting {
    fn default() -> Self {
        Scripting::new()
    }
}

impl Scripting {
    pub fn new() -> Scripting {
        let kill = Arc::new(AtomicBool::new(false));
        let resp3 = Arc::new(AtomicBool::new(false));
        let load_deadline = Arc::new(AtomicU64::new(0));
        let vm = new_vm(kill.clone(), resp3.clone(), load_deadline.clone())
            .expect("the Lua VM initialises");
        Scripting {
            vm: Mutex::new(vm),
            running: Mutex::new(None),
            running_since_ms: AtomicU64::new(0),
            kill,
            busy_threshold_ms: AtomicU64::new(5000),
            resp3,
            load_deadline,
            dirty: AtomicBool::new(false),
            library_count: AtomicUsize::new(0),
            function_count: AtomicUsize::new(0),
        }
    }

    /// True while a script has been running longer than `busy-reply-threshold`.
    pub fn is_busy(&self) -> bool {
        self.running_for_ms()
            .is_some_and(|ms| ms >= self.busy_threshold_ms.load(Ordering::Relaxed))
    }

    /// Milliseconds the current script has run, if one runs.
    pub fn running_for_ms(&self) -> Option<u64> {
        let since = self.running_since_ms.load(Ordering::Relaxed);
        (since != 0).then(|| now_ms().saturating_sub(since))
    }

    /// Bytes the Lua VM holds (`used_memory_lua`). Waits for a running script.
    pub fn used_memory(&self) -> usize {
        self.vm.lock().lua.used_memory()
    }

    /// (VM bytes, cached scripts) for `INFO memory`, unless a script holds the VM right now:
    /// INFO must not wait for a script.
    pub fn memory_if_idle(&self) -> Option<(usize, usize)> {
        let vm = self.vm.try_lock()?;
        Some((vm.lua.used_memory(), vm.scripts.len()))
    }

    /// (libraries, functions) loaded, readable while a script runs.
    pub fn function_counts(&self) -> (usize, usize) {
        (
            self.library_count.load(Ordering::Relaxed),
            self.function_count.load(Ordering::Relaxed),
        )
    }

    /// `SCRIPT KILL` / `FUNCTION KILL`.
    pub fn kill(&self, functions: bool) -> Result<(), String> {
        let running = self.running.lock();
        let Some(run) = running.as_ref() else {
            return Err("NOTBUSY No scripts in execution right now.".into());
        };
        if run.is_function != functions {
            return Err(if functions {
                "NOTBUSY No scripts in execution right now.".into()
            } else {
                "BUSY Redis is busy running a function. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.".into()
            });
        }
        if run.wrote.load(Ordering::Relaxed) {
            return Err(
                "UNKILLABLE Sorry the script already executed write commands against the \
                 dataset. You can either wait the script termination or kill the server in a hard \
                 way using the SHUTDOWN NOSAVE command."
                    .into(),
            );
        }
        self.kill.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// Stops any running script, writes or not (`SHUTDOWN NOSAVE`).
    pub fn abort(&self) {
        self.kill.store(true, Ordering::Relaxed);
    }

    /// Reloads stored scripts and libraries (start-up).
    pub fn restore(&self, state: &ServerState) {
        match state.storage.scripts() {
            Ok(scripts) => {
                let mut vm = self.vm.lock();
                for (sha, body) in scripts {
                    if let Ok(f) = compile(&vm.lua, &body) {
                        if vm.compiled.raw_set(sha.as_str(), f).is_ok() {
                            vm.scripts.insert(sha, Bytes::from(body));
                        }
                    }
                }
            }
            Err(e) => tracing::warn!("cannot read stored scripts: {e}"),
        }
        match state.storage.libraries() {
            Ok(libs) => {
                for (name, code) in libs {
                    let code = String::from_utf8_lossy(&code).into_owned();
                    if let Err(e) = self.load_library(state, &code, true, false) {
                        tracing::warn!("cannot reload function library {name}: {e}");
                    }
                }
            }
            Err(e) => tracing::warn!("cannot read stored function libraries: {e}"),
        }
    }

    /// `SCRIPT LOAD` (and the caching half of `EVAL`): returns the SHA1.
    pub fn load_script(&self, state: &ServerState, body: &[u8]) -> Result<String, String> {
        let sha = sha1_hex(body);
        let mut vm = self.vm.lock();
        if vm.scripts.contains_key(&sha) {
            return Ok(sha);
        }
        let f = compile(&vm.lua, body).map_err(|e| {
            format!(
                "ERR Error compiling script (new function): {}",
                one_line(&lua_error_text(&e))
            )
        })?;
        vm.compiled
            .raw_set(sha.as_str(), f)
            .map_err(|e| format!("ERR {}", one_line(&lua_error_text(&e))))?;
        if let Err(e) = state.storage.save_script(&sha, body) {
            let _ = vm.compiled.raw_set(sha.as_str(), Value::Nil);
            return Err(format!("ERR {e}"));
        }
        vm.scripts.insert(sha.clone(), Bytes::copy_from_slice(body));
        Ok(sha)
    }

    pub fn script_exists(&self, sha: &[u8]) -> bool {
        let sha = String::from_utf8_lossy(sha).to_ascii_lowercase();
        self.vm.lock().scripts.contains_key(&sha)
    }

    pub fn flush_scripts(&self, state: &ServerState) -> Result<(), String> {
        {
            let mut vm = self.vm.lock();
            vm.scripts.clear();
            match vm.lua.create_table() {
                Ok(t) => vm.compiled = t,
                Err(_) => {
                    // Out of memory even for an empty table: drop the entries one by one.
                    let shas: Vec<Value> = vm
                        .compiled
                        .pairs::<Value, Value>()
                        .filter_map(|p| p.ok().map(|(k, _)| k))
                        .collect();
                    for sha in shas {
                        let _ = vm.compiled.raw_set(sha, Value::Nil);
                    }
                }
            }
            let _ = vm.lua.gc_collect();
        }
        state
            .storage
            .flush_scripts()
            .map_err(|e| format!("ERR {e}"))
    }

    /// Runs the script `sha` (loaded already) for `client`.
    pub fn eval_sha(
        &self,
        state: &ServerState,
        client: &ClientState,
        sha: &str,
        call: Invocation<'_>,
    ) -> Reply {
        let sha = sha.to_ascii_lowercase();
        let vm = self.vm.lock();
        let f = match vm.compiled.raw_get::<Value>(sha.as_str()) {
            Ok(Value::Function(f)) if vm.scripts.contains_key(&sha) => f,
            _ => return Reply::Error("NOSCRIPT No matching script. Please use EVAL.".into()),
        };
        if let Err(e) = vm.set_run_arguments(call.keys, call.args) {
            return Reply::Error(format!("ERR cannot set KEYS/ARGV: {}", lua_error_text(&e)));
        }
        let origin = format!("script: {sha}");
        let spec = RunSpec {
            read_only: call.read_only,
            is_function: false,
            origin: &origin,
        };
        self.run(state, client, &vm, f, (), spec)
    }

    /// Runs a script: the body is cached (and stored) first, as Redis's `EVAL` does.
    pub fn eval(
        &self,
        state: &ServerState,
        client: &ClientState,
        body: &[u8],
        call: Invocation<'_>,
    ) -> Reply {
        match self.load_script(state, body) {
            Ok(sha) => self.eval_sha(state, client, &sha, call),
            Err(e) => Reply::Error(e),
        }
    }

    /// Runs `f` with `redis.call` bound to a client of its own in `client`'s database, under
    /// the kill hook, and converts the outcome to a reply.
    fn run(
        &self,
        state: &ServerState,
        client: &ClientState,
        vm: &Vm,
        f: Function,
        params: impl mlua::IntoLuaMulti,
        spec: RunSpec<'_>,
    ) -> Reply {
        let RunSpec {
            read_only, origin, ..
        } = spec;
        if self.dirty.swap(false, Ordering::Relaxed) {
            vm.cleanup();
        }
        let run = Arc::new(Run {
            wrote: AtomicBool::new(false),
            is_function: spec.is_function,
        });
        self.kill.store(false, Ordering::Relaxed);
        self.resp3.store(false, Ordering::Relaxed);
        *self.running.lock() = Some(run.clone());
        self.running_since_ms
            .store(now_ms().max(1), Ordering::Relaxed);
        let guard = RunGuard {
            scripting: self,
            vm,
        };

        // The script runs with its caller's permissions (Redis checks `redis.call`s
        // against the calling user).
        let mut script_client = ClientState::new(client.info.clone(), true, client.user.clone());
        script_client.db = client.db;
        // Blocking commands answer at once, registering no waiter (Redis's
        // CLIENT_DENY_BLOCKING for scripts).
        script_client.deny_blocking = true;
        script_client.in_script = true;
        // The script's reads are the caller's reads for client-side caching.
        script_client.tracking = client.tracking.clone();
        script_client.caching = client.caching;
        let script_client = RefCell::new(script_client);
        // Where the error was raised: (source, line), as Redis's error handler finds it.
        let error_at: RefCell<Option<(String, i64)>> = RefCell::new(None);
        let lua = &vm.lua;
        let outcome = lua.scope(|scope| {
            let call = scope.create_function(|lua, (args, n): (Table, i64)| {
                let reply = self.call_command(state, &script_client, &run, read_only, &args, n)?;
                Ok(match reply {
                    Reply::Error(e) => (false, error_value(lua, &format!("-{e}"))?),
                    reply => (
                        true,
                        reply_to_lua(lua, reply, self.resp3.load(Ordering::Relaxed))?,
                    ),
                })
            })?;
            let pcall = scope.create_function(|lua, (args, n): (Table, i64)| {
                let reply = self.call_command(state, &script_client, &run, read_only, &args, n)?;
                let value = match reply {
                    Reply::Error(e) => error_value(lua, &format!("-{e}"))?,
                    reply => reply_to_lua(lua, reply, self.resp3.load(Ordering::Relaxed))?,
                };
                Ok((true, value))
            })?;
            vm.redis.raw_set("call", trampoline::packed(lua, call)?)?;
            vm.redis.raw_set("pcall", trampoline::packed(lua, pcall)?)?;
            let error_at = &error_at;
            // Redis's handler: the function that raised the error, or its caller when that is
            // a C function. Here that is the first frame above this function and the Lua
            // handler (levels 0 and 1) that is neither C nor the sandbox's own Lua code,
            // whose errors Redis raises from C. It does not take the error value: converting
            // an mlua panic would resume it inside the handler (see `Vm::handler`).
            let record = scope.create_function(move |lua, ()| {
                for level in 2..12 {
                    let frame = lua.inspect_stack(level, |d| {
                        let src = d.source();
                        let skip = src.what == "C" || src.source.as_deref() == Some("=sandbox");
                        (skip, src.source.map(|s| s.into_owned()), d.current_line())
                    });
                    match frame {
                        None => break,
                        Some((true, _, _)) => continue,
                        Some((false, source, line)) => {
                            if let (Some(source), Some(line)) = (source, line) {
                                *error_at.borrow_mut() = Some((source, line as i64));
                            }
                            break;
                        }
                    }
                }
                Ok(())
            })?;
            let handler: Function = vm.handler.call(record)?;
            // A Lua closure (not a Rust one) around the call, so errors unwind inside Lua and
            // the handler sees the user's frames.
            let bound: Function = vm.bind.call((f.clone(), params))?;
            let result: mlua::MultiValue = vm.xpcall.call((bound, handler))?;
            Ok(result)
        });

        let at = error_at.borrow().clone();
        let located = |text: &str| match &at {
            Some((source, line)) => format!("{text} {origin}, on {source}:{line}."),
            None => format!("{text} {origin}."),
        };
        let reply = match outcome {
            Ok(values) => {
                let mut it = values.into_iter();
                let ok = matches!(it.next(), Some(Value::Boolean(true)));
                let value = it.next().unwrap_or(Value::Nil);
                if ok {
                    lua_to_reply(&value, self.resp3.load(Ordering::Relaxed))
                } else {
                    let text = match &value {
                        Value::Error(e) if is_memory_error(e) => OUT_OF_MEMORY.to_string(),
                        Value::String(s) if &*s.as_bytes() == b"not enough memory" => {
                            OUT_OF_MEMORY.to_string()
                        }
                        // Errors mlua raised for a Rust callback carry no position; Lua's own
                        // `luaL_error` would have added the script's.
                        Value::Error(e) if !convert::has_error_code(&lua_error_text(e)) => {
                            match &at {
                                Some((source, line)) => format!(
                                    "ERR {}:{line}: {}",
                                    source.trim_start_matches('@'),
                                    lua_error_text(e)
                                ),
                                None => with_error_code(&lua_error_text(e)),
                            }
                        }
                        other => error_text(other),
                    };
                    Reply::Error(one_line(&located(&text)))
                }
            }
            Err(e) if is_memory_error(&e) => Reply::Error(located(OUT_OF_MEMORY)),
            Err(e) => Reply::Error(one_line(&located(&with_error_code(&lua_error_text(&e))))),
        };
        drop(guard);
        reply
    }

    /// One `redis.call`/`redis.pcall`: the script-specific checks, then the dispatch gate.
    fn call_command(
        &self,
        state: &ServerState,
        client: &RefCell<ClientState>,
        run: &Run,
        read_only: bool,
        args: &Table,
        n: i64,
    ) -> mlua::Result<Reply> {
        let err = |text: &str| Ok(Reply::Error(text.into()));
        if n <= 0 {
            return err("ERR Please specify at least one argument for this redis lib call");
        }
        let mut argv = Vec::with_capacity(usize::try_from(n).unwrap_or(0).min(1024));
        for i in 1..=n {
            match command_arg(&args.raw_get::<Value>(i)?) {
                Some(arg) => argv.push(arg),
                None => {
                    return err("ERR Lua redis lib command arguments must be strings or integers")
                }
            }
        }
        let Ok((cmd, _)) = dispatch::resolve(state, &argv) else {
            return err("ERR Unknown Redis command called from script");
        };
        if !cmd.arity_ok(argv.len()) {
            return err("ERR Wrong number of args calling Redis command from script");
        }
        if cmd.has(flags::NOSCRIPT) {
            return err("ERR This Redis command is not allowed from script");
        }
        if cmd.has(flags::WRITE) && read_only {
            return err("ERR Write commands are not allowed from read-only scripts.");
        }
        if (cmd.name == "xread" || cmd.name == "xreadgroup") && xread_blocks(&argv) {
            return Ok(Reply::Error(format!(
                "ERR {} command is not allowed with BLOCK option from scripts",
                String::from_utf8_lossy(&argv[0])
            )));
        }
        let mut c = client.borrow_mut();
        let reply = dispatch::execute_queued(state, &mut c, &argv);
        // `deny_blocking` keeps blocking handlers from parking; should one still ask to (a
        // waiter registered for the calling connection), drop it at once: a script never
        // waits.
        if c.block.take().is_some() {
            state.blocking.unregister(&c.info);
        }
        if cmd.has(flags::WRITE) && !reply.is_error() {
            run.wrote.store(true, Ordering::Relaxed);
        }
        Ok(reply)
    }
}

fn compile(lua: &Lua, body: &[u8]) -> mlua::Result<Function> {
    lua.load(body).set_name("@user_script").into_function()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vm() -> Vm {
        new_vm(
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicU64::new(0)),
        )
        .unwrap()
    }

    /// Runs `script` in the sandbox like a script body (no `redis.call`): its value, or the
    /// error text.
    fn eval(vm: &Vm, script: &str) -> Result<Value, String> {
        let f = compile(&vm.lua, script.as_bytes()).map_err(|e| lua_error_text(&e))?;
        let r = f.call::<Value>(()).map_err(|e| lua_error_text(&e));
        vm.cleanup();
        r
    }

    #[test]
    fn sandbox_refuses_writes_and_unknown_globals() {
        let vm = vm();
        let err = |script: &str| eval(&vm, script).unwrap_err();
        assert!(
            err("return x").contains("Script attempted to access nonexistent global variable 'x'")
        );
        assert!(err("x = 1").contains("user_script:1: Attempt to modify a readonly table"));
        for trick in [
            "redis.call = nil",
            "string.rep = nil",
            "cjson.encode = function() end",
            "table.insert = nil",
            "getmetatable('').__index = {}",
            "getmetatable(_G).__index = nil",
            "redis = nil",
            "_G.tostring = nil",
        ] {
            assert!(
                err(trick).contains("Attempt to modify a readonly table"),
                "{trick}: {}",
                err(trick)
            );
        }
        for trick in [
            "rawset(redis, 'x', 1)",
            "rawset(_G, 'x', 1)",
            "setmetatable(_G, nil)",
            "setmetatable(string, {})",
            "table.insert(string, 'x')",
            "rawset(getmetatable(''), '__index', {})",
        ] {
            assert_eq!(err(trick), "Attempt to modify a readonly table", "{trick}");
        }
        for absent in [
            "print", "loadfile", "dofile", "os", "io", "debug", "setfenv", "require",
        ] {
            assert!(err(&format!("return {absent}"))
                .contains(&format!("nonexistent global variable '{absent}'")));
        }
        // Reads still work, through the proxies.
        let n = |script: &str| match eval(&vm, script).unwrap() {
            Value::Integer(i) => i,
            other => panic!("{script}: {other:?}"),
        };
        assert_eq!(n("return #string.rep('ab', 3)"), 6);
        assert_eq!(n("return ('x'):rep(4):len()"), 4);
        assert!(n("local c = 0 for k in pairs(string) do c = c + 1 end return c") >= 14);
        assert_eq!(
            n("return type(rawget(_G, 'redis')) == 'table' and 1 or 0"),
            1
        );
        assert_eq!(
            n("return rawequal(getmetatable('').__index, string) and 1 or 0"),
            1
        );
        assert_eq!(n("return getmetatable(string) == nil and 1 or 0"), 1);
        assert_eq!(
            n("local t = setmetatable({}, {__index = function() return 7 end}) return t.x"),
            7
        );
        assert_eq!(n("local f = loadstring('return 5') return f()"), 5);
        assert!(err("local f = loadstring('redis = nil') f()")
            .contains("Attempt to modify a readonly table"));
        assert!(err("coroutine.wrap(function() tostring = nil end)()").contains("readonly"));
    }

    #[test]
    fn nothing_leaks_into_the_next_script() {
        let vm = vm();
        for trick in [
            "pcall(function() redis.call = nil end)",
            "pcall(rawset, _G, 'leak', 1)",
            "pcall(setmetatable, _G, nil)",
            "pcall(table.insert, string, 'x')",
            "collectgarbage('stop')",
        ] {
            let _ = eval(&vm, trick);
        }
        let v = eval(
            &vm,
            "return type(redis.sha1hex) .. type(rawget(_G, 'leak')) .. #string .. \
             tostring(getmetatable(_G) ~= nil) .. type(string[1])",
        )
        .unwrap();
        assert_eq!(
            v.as_string().map(|s| s.to_string_lossy()).as_deref(),
            Some("functionnil0truenil")
        );
    }

    #[test]
    fn memory_is_bounded_and_the_vm_recovers() {
        let vm = vm();
        // 2^31 wraps to a negative count in Lua 5.1 (an empty string, as in Redis); one less
        // is 2 GiB.
        assert_eq!(
            eval(&vm, "return #string.rep('x', 2^31)").unwrap(),
            Value::Integer(0)
        );
        let e = eval(&vm, "return #string.rep('x', 2^31 - 1)").unwrap_err();
        assert!(e.contains("not enough memory"), "{e}");
        let e = eval(&vm, "local t = {} for i = 1, 1e9 do t[i] = i end").unwrap_err();
        assert!(e.contains("not enough memory"), "{e}");
        assert!(
            vm.lua.used_memory() < COLLECT_ABOVE,
            "{}",
            vm.lua.used_memory()
        );
        assert_eq!(eval(&vm, "return 1 + 1").unwrap(), Value::Integer(2));
    }

    fn server() -> (tempfile::TempDir, ServerState) {
        let dir = tempfile::tempdir().unwrap();
        let overrides = vec![("dir".to_string(), dir.path().display().to_string())];
        let config = crate::config::ConfigStore::load(None, &overrides).unwrap();
        let opts = crate::storage::engine::EngineOptions {
            block_cache_bytes: 8 << 20,
            write_buffer_bytes: 4 << 20,
            wal_enabled: false,
            ..Default::default()
        };
        let storage = crate::storage::Storage::open(dir.path(), 16, &opts).unwrap();
        (dir, ServerState::new(storage, config))
    }

    #[test]
    fn a_panic_in_a_run_leaves_the_next_run_working() {
        let (_dir, state) = server();
        let user = state.acl.default_user();
        let info = state
            .clients
            .register("test".into(), "test".into(), user.clone());
        let client = ClientState::new(info, true, user);
        let scripting = &state.scripting;
        {
            let vm = scripting.vm.lock();
            let boom = vm
                .lua
                .create_function(|_, ()| -> mlua::Result<()> { panic!("a bug in Rust code") })
                .unwrap();
            vm.globals.raw_set("boom", boom).unwrap();
        }
        let call = || Invocation {
            keys: &[],
            args: &[],
            read_only: false,
        };
        let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            scripting.eval(&state, &client, b"redis.setresp(3) return boom()", call())
        }));
        assert!(
            unwound.is_err(),
            "the panic reaches the caller (the dispatch gate): {unwound:?}"
        );
        assert_eq!(scripting.running_for_ms(), None);
        assert!(!scripting.is_busy());
        assert_eq!(
            scripting.kill(false).unwrap_err(),
            "NOTBUSY No scripts in execution right now."
        );
        assert!(scripting.dirty.load(Ordering::Relaxed));
        // The VM is free and usable, and the next run starts clean.
        assert_eq!(
            scripting.eval(&state, &client, b"return {1, true}", call()),
            Reply::Array(vec![Reply::Int(1), Reply::Int(1)])
        );
        assert!(!scripting.dirty.load(Ordering::Relaxed));
        assert_eq!(
            scripting.eval(&state, &client, b"return type(redis.call)", call()),
            Reply::Bulk(Bytes::from_static(b"function"))
        );
        assert!(matches!(
            scripting.eval(&state, &client, b"return redis.call", call()),
            Reply::Nil
        ));
    }

    #[test]
    fn thousands_of_cached_scripts_hold_no_reference_each() {
        let (_dir, state) = server();
        for i in 0..10_000 {
            state
                .scripting
                .load_script(&state, format!("return {i}").as_bytes())
                .unwrap();
        }
        let user = state.acl.default_user();
        let info = state
            .clients
            .register("test".into(), "test".into(), user.clone());
        let client = ClientState::new(info, true, user);
        let sha = sha1_hex(b"return 9999");
        let call = Invocation {
            keys: &[],
            args: &[],
            read_only: false,
        };
        assert_eq!(
            state.scripting.eval_sha(&state, &client, &sha, call),
            Reply::Int(9999)
        );
    }

    #[test]
    fn command_numbers_are_formatted_as_redis_7_0() {
        assert_eq!(
            command_arg(&Value::Number(0.1)).unwrap(),
            "0.10000000000000001"
        );
        assert_eq!(command_arg(&Value::Integer(5)).unwrap(), "5");
        assert_eq!(command_arg(&Value::Number(-0.0)).unwrap(), "-0");
        assert_eq!(command_arg(&Value::Number(1e20)).unwrap(), "1e+20");
    }

    #[test]
    fn error_reply_text_like_redis() {
        assert_eq!(error_reply_text("-x"), "ERR x");
        assert_eq!(error_reply_text("-"), "ERR ");
        assert_eq!(error_reply_text("-X y"), "X y");
        assert_eq!(error_reply_text("-lower case msg"), "lower case msg");
        assert_eq!(error_reply_text("plain"), "ERR plain");
        assert_eq!(
            error_reply_text("-WRONGTYPE Operation against a key\r\n"),
            "WRONGTYPE Operation against a key"
        );
    }

    #[test]
    fn xread_block_detection() {
        let args = |s: &str| {
            s.split(' ')
                .map(|w| Bytes::from(w.to_string()))
                .collect::<Vec<_>>()
        };
        assert!(xread_blocks(&args("xread block 0 streams s 0")));
        assert!(xread_blocks(&args("xread count 5 block 0 streams s 0")));
        assert!(!xread_blocks(&args("xread count x block 0 streams s 0")));
        assert!(!xread_blocks(&args("xread streams block 0")));
        assert!(xread_blocks(&args(
            "xreadgroup group g c noack block 0 streams s >"
        )));
        assert!(!xread_blocks(&args("xread count 1 streams s 0")));
    }
}
