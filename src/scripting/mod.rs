//! Lua scripting: one Lua 5.1 VM (vendored, as in Redis) serving `EVAL`/`EVALSHA`, `SCRIPT`,
//! `FUNCTION` and `FCALL`.
//!
//! Scripts run under the exclusive global lock (the gate's `EXCLUSIVE` flag), so they are
//! atomic; their `redis.call`s go back through the dispatch gate with the lock already held,
//! so every rule of the command table (arity, flags, notifications, WATCH) applies inside
//! scripts too. A script that runs longer than `busy-reply-threshold` makes other clients get
//! `-BUSY`; `SCRIPT KILL` stops it through an instruction-count hook unless it already wrote.
//!
//! The sandbox: only the base, table, string and math libraries plus Redis's `cjson`,
//! `cmsgpack`, `bit` and `struct`; no `os`, `io`, `print`, `dofile`, `loadfile`; the globals
//! table is read-only and reading an undefined global is an error. Script bodies and function
//! libraries are stored in RocksDB and reloaded at start. Depends on `commands::dispatch`,
//! `protocol::Reply` and `storage`.

mod bit;
mod cjson;
pub mod convert;
mod functions;
mod msgpack;
mod structlib;

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use mlua::{Function, HookTriggers, Lua, LuaOptions, StdLib, Table, Value, Variadic, VmState};
use parking_lot::Mutex;

use crate::client::ClientState;
use crate::commands::dispatch;
use crate::commands::table::flags;
use crate::protocol::Reply;
use crate::state::ServerState;
use crate::storage::now_ms;
use convert::{error_table, lua_to_reply, reply_to_lua, with_error_code};

pub const BUSY_ERROR: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
const KILLED: &str = "ERR Script killed by user with SCRIPT KILL...";

/// The script currently running, for `-BUSY` and `SCRIPT KILL`.
pub struct Run {
    wrote: AtomicBool,
    pub is_function: bool,
}

/// A registered `FUNCTION` (one entry of a library).
struct Registered {
    library: String,
    callback: Function,
    no_writes: bool,
}

struct Library {
    code: String,
    functions: Vec<String>,
}

struct Vm {
    lua: Lua,
    /// Compiled scripts by SHA1, and their bodies.
    scripts: HashMap<String, (Function, Bytes)>,
    libraries: HashMap<String, Library>,
    functions: HashMap<String, Registered>,
    /// The `redis` table, where `call`/`pcall`'s raw entry point is installed per run.
    redis: Table,
    /// `xpcall`, kept before the sandbox can hide it.
    xpcall: Function,
    /// `bind(f, a, b)` returns a Lua closure calling `f(a, b)`.
    bind: Function,
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
}

/// How a run reports itself: read-only or not, script or function, and the names its error
/// replies carry (`script: <sha>, on @user_script:<line>.`).
struct RunSpec<'a> {
    read_only: bool,
    is_function: bool,
    origin: &'a str,
    chunk: &'a str,
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

/// The Lua chunk run once per VM: the global-table protection. (`redis.call`/`pcall` are Rust
/// functions installed per run: being C functions, a `return redis.call(...)` tail call keeps
/// the script's frame, so errors can name the script's line.)
const PRELUDE: &str = r#"
setmetatable(_G, {
    __newindex = function(t, k, v)
        error('Attempt to modify a readonly table', 2)
    end,
    __index = function(t, k)
        error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
    end,
})
"#;

fn new_vm(kill: Arc<AtomicBool>, resp3: Arc<AtomicBool>) -> mlua::Result<Vm> {
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
    g.raw_set("cjson", cjson::install(&lua)?)?;
    g.raw_set("cmsgpack", msgpack::install(&lua)?)?;
    g.raw_set("bit", bit::install(&lua)?)?;
    g.raw_set("struct", structlib::install(&lua)?)?;

    let redis = lua.create_table()?;
    redis.set(
        "sha1hex",
        lua.create_function(|_, s: Option<mlua::String>| match s {
            Some(s) => Ok(sha1_hex(&s.as_bytes())),
            None => Err(mlua::Error::runtime("wrong number of arguments")),
        })?,
    )?;
    redis.set(
        "error_reply",
        lua.create_function(|lua, msg: mlua::String| {
            error_table(lua, &with_error_code(&msg.to_string_lossy()))
        })?,
    )?;
    redis.set(
        "status_reply",
        lua.create_function(|lua, msg: mlua::String| {
            convert::status_table(lua, &msg.to_string_lossy())
        })?,
    )?;
    redis.set(
        "log",
        lua.create_function(|_, (level, msg): (i64, Variadic<mlua::String>)| {
            let text: Vec<String> = msg.iter().map(|s| s.to_string_lossy()).collect();
            match level {
                0 | 1 => tracing::debug!(target: "lua", "{}", text.join(" ")),
                2 => tracing::info!(target: "lua", "{}", text.join(" ")),
                _ => tracing::warn!(target: "lua", "{}", text.join(" ")),
            }
            Ok(())
        })?,
    )?;
    let resp = resp3.clone();
    redis.set(
        "setresp",
        lua.create_function(move |_, version: i64| match version {
            2 | 3 => {
                resp.store(version == 3, Ordering::Relaxed);
                Ok(())
            }
            _ => Err(mlua::Error::runtime("ERR RESP version must be 2 or 3.")),
        })?,
    )?;
    redis.set(
        "set_repl",
        lua.create_function(|_, _: Variadic<Value>| Ok(()))?,
    )?;
    redis.set(
        "replicate_commands",
        lua.create_function(|_, _: Variadic<Value>| Ok(true))?,
    )?;
    redis.set(
        "breakpoint",
        lua.create_function(|_, _: Variadic<Value>| Ok(false))?,
    )?;
    redis.set(
        "debug",
        lua.create_function(|_, _: Variadic<Value>| Ok(()))?,
    )?;
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
        redis.set(name, value)?;
    }
    let version = crate::commands::connection::REDIS_COMPAT_VERSION;
    redis.set("REDIS_VERSION", version)?;
    let num = version
        .split('.')
        .filter_map(|p| p.parse::<i64>().ok())
        .fold(0, |acc, p| acc * 256 + p);
    redis.set("REDIS_VERSION_NUM", num)?;
    g.raw_set("redis", redis.clone())?;
    lua.load(PRELUDE).set_name("=prelude").exec()?;

    lua.set_hook(
        HookTriggers::new().every_nth_instruction(10_000),
        move |_, _| {
            if kill.load(Ordering::Relaxed) {
                Err(mlua::Error::runtime(KILLED))
            } else {
                Ok(VmState::Continue)
            }
        },
    )?;
    let bind = lua
        .load("local f, a, b = ...; return function() return f(a, b) end")
        .set_name("=bind")
        .into_function()?;
    Ok(Vm {
        bind,
        lua,
        scripts: HashMap::new(),
        libraries: HashMap::new(),
        functions: HashMap::new(),
        redis,
        xpcall,
    })
}

/// The text of an error value raised inside a script.
fn error_text(value: &Value) -> String {
    match value {
        Value::Table(t) => match t.raw_get::<Value>("err") {
            Ok(Value::String(s)) => s.to_string_lossy(),
            _ => "ERR unknown error".into(),
        },
        Value::String(s) => with_error_code(&s.to_string_lossy()),
        Value::Error(e) => with_error_code(&lua_error_text(e)),
        Value::Nil => "ERR nil".into(),
        other => with_error_code(&format!("{other:?}")),
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
        other => other.to_string(),
    }
}

/// Converts a command argument the way Redis does (strings and numbers only).
fn command_arg(v: &Value) -> Option<Bytes> {
    match v {
        Value::String(s) => Some(Bytes::copy_from_slice(&s.as_bytes())),
        Value::Integer(n) => Some(Bytes::from(n.to_string())),
        Value::Number(n) => Some(Bytes::from(cjson::format_g(*n, 14))),
        _ => None,
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
        let vm = new_vm(kill.clone(), resp3.clone()).expect("the Lua VM initialises");
        Scripting {
            vm: Mutex::new(vm),
            running: Mutex::new(None),
            running_since_ms: AtomicU64::new(0),
            kill,
            busy_threshold_ms: AtomicU64::new(5000),
            resp3,
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
                        vm.scripts.insert(sha, (f, Bytes::from(body)));
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
                lua_error_text(&e)
            )
        })?;
        state
            .storage
            .save_script(&sha, body)
            .map_err(|e| format!("ERR {e}"))?;
        vm.scripts
            .insert(sha.clone(), (f, Bytes::copy_from_slice(body)));
        Ok(sha)
    }

    pub fn script_exists(&self, sha: &[u8]) -> bool {
        let sha = String::from_utf8_lossy(sha).to_ascii_lowercase();
        self.vm.lock().scripts.contains_key(&sha)
    }

    pub fn flush_scripts(&self, state: &ServerState) -> Result<(), String> {
        self.vm.lock().scripts.clear();
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
        let vm = self.vm.lock();
        let Some((f, _)) = vm.scripts.get(&sha.to_ascii_lowercase()) else {
            return Reply::Error("NOSCRIPT No matching script. Please use EVAL.".into());
        };
        let f = f.clone();
        let keys = vm.lua.create_sequence_from(call.keys.iter().map(|k| {
            vm.lua
                .create_string(k)
                .map(Value::String)
                .unwrap_or(Value::Nil)
        }));
        let argv = vm.lua.create_sequence_from(call.args.iter().map(|a| {
            vm.lua
                .create_string(a)
                .map(Value::String)
                .unwrap_or(Value::Nil)
        }));
        let (Ok(keys), Ok(argv)) = (keys, argv) else {
            return Reply::Error("ERR cannot create KEYS/ARGV".into());
        };
        let g = vm.lua.globals();
        if g.raw_set("KEYS", keys).is_err() || g.raw_set("ARGV", argv).is_err() {
            return Reply::Error("ERR cannot set KEYS/ARGV".into());
        }
        let origin = format!("script: {}", sha.to_ascii_lowercase());
        let spec = RunSpec {
            read_only: call.read_only,
            is_function: false,
            origin: &origin,
            chunk: "@user_script",
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
            read_only,
            origin,
            chunk,
            ..
        } = spec;
        let run = Arc::new(Run {
            wrote: AtomicBool::new(false),
            is_function: spec.is_function,
        });
        self.kill.store(false, Ordering::Relaxed);
        self.resp3.store(false, Ordering::Relaxed);
        *self.running.lock() = Some(run.clone());
        self.running_since_ms
            .store(now_ms().max(1), Ordering::Relaxed);

        let mut script_client = ClientState::new(client.info.clone(), true);
        script_client.db = client.db;
        let script_client = RefCell::new(script_client);
        let error_line = Cell::new(0i32);
        let lua = &vm.lua;
        let outcome = lua.scope(|scope| {
            let call = scope.create_function(|lua, args: Variadic<Value>| {
                match self.call_command(state, &script_client, &run, read_only, &args) {
                    Reply::Error(e) => Err(mlua::Error::RuntimeError(e)),
                    reply => reply_to_lua(lua, reply, self.resp3.load(Ordering::Relaxed)),
                }
            })?;
            let pcall = scope.create_function(|lua, args: Variadic<Value>| {
                let reply = self.call_command(state, &script_client, &run, read_only, &args);
                reply_to_lua(lua, reply, self.resp3.load(Ordering::Relaxed))
            })?;
            vm.redis.raw_set("call", call)?;
            vm.redis.raw_set("pcall", pcall)?;
            let chunk_name = chunk.to_string();
            let error_line = &error_line;
            let handler = scope.create_function(move |lua, err: Value| {
                // The first frame of the user's code is where the error happened.
                for level in 0..32 {
                    let found = lua.inspect_stack(level, |d| {
                        let src = d.source();
                        (src.source.as_deref() == Some(chunk_name.as_str()))
                            .then(|| d.current_line().map_or(-1, |l| l as i32))
                    });
                    match found {
                        Some(Some(line)) => {
                            error_line.set(line);
                            break;
                        }
                        Some(None) => continue,
                        None => break,
                    }
                }
                Ok(err)
            })?;
            // A Lua closure (not a Rust one) around the call, so errors unwind inside Lua and
            // the handler sees the user's frames.
            let bound: Function = vm.bind.call((f.clone(), params))?;
            let result: mlua::MultiValue = vm.xpcall.call((bound, handler))?;
            Ok(result)
        });
        let _ = vm.redis.raw_set("call", Value::Nil);
        let _ = vm.redis.raw_set("pcall", Value::Nil);
        self.running_since_ms.store(0, Ordering::Relaxed);
        *self.running.lock() = None;
        self.kill.store(false, Ordering::Relaxed);

        let resp3_client = client.resp3;
        match outcome {
            Ok(values) => {
                let mut it = values.into_iter();
                let ok = matches!(it.next(), Some(Value::Boolean(true)));
                let value = it.next().unwrap_or(Value::Nil);
                if ok {
                    return lua_to_reply(&value, resp3_client);
                }
                let line = error_line.get();
                let text = match &value {
                    // Errors raised by library code (cjson, struct, ...) carry no position;
                    // Lua's own `luaL_error` would have added the script's.
                    Value::Error(e) if !convert::has_error_code(&lua_error_text(e)) => format!(
                        "ERR {}:{line}: {}",
                        chunk.trim_start_matches('@'),
                        lua_error_text(e)
                    ),
                    other => error_text(other),
                };
                Reply::Error(format!("{text} {origin}, on {chunk}:{line}."))
            }
            Err(e) => Reply::Error(format!(
                "{} {origin}, on {chunk}:{}.",
                with_error_code(&lua_error_text(&e)),
                error_line.get()
            )),
        }
    }

    /// One `redis.call`/`redis.pcall`: the script-specific checks, then the dispatch gate.
    fn call_command(
        &self,
        state: &ServerState,
        client: &RefCell<ClientState>,
        run: &Run,
        read_only: bool,
        args: &[Value],
    ) -> Reply {
        if args.is_empty() {
            return Reply::Error(
                "ERR Please specify at least one argument for this redis lib call".into(),
            );
        }
        let Some(argv) = args.iter().map(command_arg).collect::<Option<Vec<Bytes>>>() else {
            return Reply::Error(
                "ERR Lua redis lib command arguments must be strings or integers".into(),
            );
        };
        let Ok((cmd, _)) = dispatch::resolve(state, &argv) else {
            return Reply::Error("ERR Unknown Redis command called from script".into());
        };
        if !cmd.arity_ok(argv.len()) {
            return Reply::Error(
                "ERR Wrong number of args calling Redis command from script".into(),
            );
        }
        if cmd.has(flags::NOSCRIPT) {
            return Reply::Error("ERR This Redis command is not allowed from script".into());
        }
        if cmd.has(flags::WRITE) && read_only {
            return Reply::Error(
                "ERR Write commands are not allowed from read-only scripts.".into(),
            );
        }
        let reply = dispatch::execute_queued(state, &mut client.borrow_mut(), &argv);
        if cmd.has(flags::WRITE) && !reply.is_error() {
            run.wrote.store(true, Ordering::Relaxed);
        }
        reply
    }
}

fn compile(lua: &Lua, body: &[u8]) -> mlua::Result<Function> {
    lua.load(body).set_name("@user_script").into_function()
}
