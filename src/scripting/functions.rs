//! `FUNCTION` libraries: `#!lua name=<lib>` code that registers functions with
//! `redis.register_function`, called with `FCALL`/`FCALL_RO`. Libraries are stored in RocksDB
//! by name; `FUNCTION DUMP` payloads are Strata's own format (a checksummed list of library
//! sources), restorable only by Strata.
//!
//! Invariants: a library body runs in the same sandbox as scripts, for at most 500 ms (Redis's
//! `FUNCTION LOAD timeout`, enforced by the VM's instruction hook); the callbacks it registers
//! are kept in a Lua table (`Vm::callbacks`), never one mlua reference each; `FUNCTION STATS`
//! reads counters, so it answers while a script holds the VM.

use std::cell::RefCell;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use mlua::{Function, Table, Value};

use super::{Args, Invocation, Library, Registered, RunSpec, Scripting, LOAD_TIMEOUT_MS};
use crate::client::ClientState;
use crate::glob::glob_match;
use crate::protocol::Reply;
use crate::state::ServerState;

const DUMP_MAGIC: &[u8] = b"STRATA-FUNCTIONS-1\n";

fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Splits `#!lua name=<lib>` off the code; the body keeps an empty first line so error line
/// numbers match the source.
fn parse_header(code: &str) -> Result<(String, String), String> {
    let (first, rest) = code.split_once('\n').unwrap_or((code, ""));
    let Some(header) = first.strip_prefix("#!") else {
        return Err("ERR Missing library metadata".into());
    };
    let mut parts = header.split_whitespace();
    let engine = parts.next().unwrap_or("");
    if !engine.eq_ignore_ascii_case("lua") {
        return Err(format!("ERR Engine '{engine}' not found"));
    }
    let mut name = None;
    for part in parts {
        match part.split_once('=') {
            Some(("name", v)) => name = Some(v.to_string()),
            _ => return Err(format!("ERR Invalid metadata value given: {part}")),
        }
    }
    let name = name.ok_or_else(|| "ERR Library name was not given".to_string())?;
    if !valid_name(&name) {
        return Err(
            "ERR Library names can only contain letters, numbers, or underscores(_) and \
             must be at least one character long"
                .into(),
        );
    }
    Ok((name, format!("\n{rest}")))
}

fn checksum(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn registration(args: &Args) -> mlua::Result<(String, Function, bool)> {
    let bad = |m: &str| mlua::Error::runtime(m.to_string());
    match (args.len(), args.get(1)?, args.get(2)?) {
        (2, Value::String(name), Value::Function(f)) => Ok((name.to_string_lossy(), f, false)),
        (1, Value::Table(t), _) => {
            let name: mlua::String =
                match t.raw_get::<Value>("function_name")? {
                    Value::String(s) => s,
                    Value::Nil => {
                        return Err(bad(
                            "redis.register_function must get a function name argument",
                        ))
                    }
                    _ => return Err(bad(
                        "function_name argument given to redis.register_function must be a string",
                    )),
                };
            let f: Function = match t.raw_get::<Value>("callback")? {
                Value::Function(f) => f,
                Value::Nil => {
                    return Err(bad("redis.register_function must get a callback argument"))
                }
                _ => {
                    return Err(bad(
                        "callback argument given to redis.register_function must be a function",
                    ))
                }
            };
            let mut no_writes = false;
            if let Value::Table(flags) = t.raw_get::<Value>("flags")? {
                for i in 1..=flags.raw_len() {
                    if let Value::String(flag) = flags.raw_get::<Value>(i)? {
                        no_writes |= &*flag.as_bytes() == b"no-writes";
                    }
                }
            }
            Ok((name.to_string_lossy(), f, no_writes))
        }
        (1, _, _) => Err(bad(
            "calling redis.register_function with a single argument is only applicable to Lua \
             table (representing named arguments).",
        )),
        _ => Err(bad("wrong number of arguments to redis.register_function")),
    }
}

/// Clears the `FUNCTION LOAD` deadline however the load ends.
struct LoadDeadline<'a>(&'a std::sync::atomic::AtomicU64);

impl Drop for LoadDeadline<'_> {
    fn drop(&mut self) {
        self.0.store(0, Ordering::Relaxed);
    }
}

impl Scripting {
    /// `FUNCTION LOAD [REPLACE] code`; returns the library name.
    pub fn load_library(
        &self,
        state: &ServerState,
        code: &str,
        replace: bool,
        persist: bool,
    ) -> Result<String, String> {
        let (name, body) = parse_header(code)?;
        let mut vm = self.vm.lock();
        if vm.libraries.contains_key(&name) && !replace {
            return Err(format!("ERR Library '{name}' already exists"));
        }
        let chunk = vm
            .lua
            .load(body.as_str())
            .set_name("@user_function")
            .into_function()
            .map_err(|e| {
                format!(
                    "ERR Error compiling function: {}",
                    super::lua_error_text(&e)
                )
            })?;
        // Names and flags in registration order; the callbacks wait in a Lua table.
        let registered: RefCell<Vec<(String, bool)>> = RefCell::new(Vec::new());
        let pending = vm
            .lua
            .create_table()
            .map_err(|e| format!("ERR {}", super::lua_error_text(&e)))?;
        let loaded = vm.lua.scope(|scope| {
            let register = scope.create_function(|lua, (table, n): (Table, i64)| {
                let args = Args {
                    table,
                    n: usize::try_from(n).unwrap_or(0),
                };
                // Raised like Redis's `luaPushError`: no position.
                let fail = |msg: &str| -> mlua::Result<(bool, Value)> {
                    Ok((false, Value::String(lua.create_string(msg)?)))
                };
                let (fname, f, no_writes) = match registration(&args) {
                    Ok(r) => r,
                    Err(e) => return fail(&super::lua_error_text(&e)),
                };
                if !valid_name(&fname) {
                    // Redis 7 reports a bad function name with its library-name text.
                    return fail(
                        "Library names can only contain letters, numbers, or underscores(_) \
                         and must be at least one character long",
                    );
                }
                if registered.borrow().iter().any(|(n, _)| *n == fname) {
                    return fail("Function already exists in the library");
                }
                pending.raw_set(fname.as_str(), f)?;
                registered.borrow_mut().push((fname, no_writes));
                Ok((true, Value::Nil))
            })?;
            vm.redis.raw_set(
                "register_function",
                super::trampoline::packed(&vm.lua, register)?,
            )?;
            self.load_deadline.store(
                crate::storage::now_ms().saturating_add(LOAD_TIMEOUT_MS),
                Ordering::Relaxed,
            );
            let _deadline = LoadDeadline(&self.load_deadline);
            let result = chunk.call::<()>(());
            vm.redis.raw_set("register_function", Value::Nil)?;
            result
        });
        vm.cleanup();
        loaded.map_err(|e| {
            format!(
                "ERR Error registering functions: {}",
                super::convert::one_line(&super::convert::with_error_code(&super::lua_error_text(
                    &e
                )))
            )
        })?;
        let registered = registered.into_inner();
        if registered.is_empty() {
            return Err("ERR No functions registered".into());
        }
        for (fname, _) in &registered {
            if let Some(other) = vm.functions.get(fname) {
                if other.library != name {
                    return Err(format!("ERR Function {fname} already exists"));
                }
            }
        }
        if persist {
            state
                .storage
                .save_library(&name, code.as_bytes())
                .map_err(|e| format!("ERR {e}"))?;
        }
        let stale: Vec<String> = vm
            .functions
            .iter()
            .filter(|(_, f)| f.library == name)
            .map(|(n, _)| n.clone())
            .collect();
        for fname in stale {
            vm.functions.remove(&fname);
            let _ = vm.callbacks.raw_set(fname.as_str(), Value::Nil);
        }
        let functions = registered.iter().map(|(n, _)| n.clone()).collect();
        for (fname, no_writes) in registered {
            let callback = pending
                .raw_get::<Value>(fname.as_str())
                .unwrap_or(Value::Nil);
            if let Err(e) = vm.callbacks.raw_set(fname.as_str(), callback) {
                return Err(format!("ERR {}", super::lua_error_text(&e)));
            }
            vm.functions.insert(
                fname,
                Registered {
                    library: name.clone(),
                    no_writes,
                },
            );
        }
        vm.libraries.insert(
            name.clone(),
            Library {
                code: code.to_string(),
                functions,
            },
        );
        self.count_functions(&vm);
        Ok(name)
    }

    fn count_functions(&self, vm: &super::Vm) {
        self.library_count
            .store(vm.libraries.len(), Ordering::Relaxed);
        self.function_count
            .store(vm.functions.len(), Ordering::Relaxed);
    }

    pub fn delete_library(&self, state: &ServerState, name: &str) -> Result<(), String> {
        let mut vm = self.vm.lock();
        let Some(library) = vm.libraries.remove(name) else {
            return Err("ERR Library not found".into());
        };
        for fname in &library.functions {
            vm.functions.remove(fname);
            let _ = vm.callbacks.raw_set(fname.as_str(), Value::Nil);
        }
        self.count_functions(&vm);
        state
            .storage
            .delete_library(name)
            .map_err(|e| format!("ERR {e}"))
    }

    pub fn flush_libraries(&self, state: &ServerState) -> Result<(), String> {
        let mut vm = self.vm.lock();
        vm.libraries.clear();
        vm.functions.clear();
        if let Ok(t) = vm.lua.create_table() {
            vm.callbacks = t;
        }
        self.count_functions(&vm);
        state
            .storage
            .flush_libraries()
            .map_err(|e| format!("ERR {e}"))
    }

    /// `FUNCTION LIST [LIBRARYNAME pattern] [WITHCODE]`.
    pub fn list_libraries(&self, pattern: Option<&[u8]>, with_code: bool) -> Reply {
        let vm = self.vm.lock();
        let mut names: Vec<&String> = vm.libraries.keys().collect();
        names.sort();
        let bulk = |s: &str| Reply::Bulk(Bytes::copy_from_slice(s.as_bytes()));
        let libs = names
            .into_iter()
            .filter(|n| pattern.is_none_or(|p| glob_match(p, n.as_bytes())))
            .map(|name| {
                let lib = &vm.libraries[name];
                let functions = lib
                    .functions
                    .iter()
                    .map(|f| {
                        let no_writes = vm.functions.get(f).is_some_and(|r| r.no_writes);
                        Reply::Map(vec![
                            (bulk("name"), bulk(f)),
                            (bulk("description"), Reply::Nil),
                            (
                                bulk("flags"),
                                Reply::Set(if no_writes {
                                    vec![bulk("no-writes")]
                                } else {
                                    Vec::new()
                                }),
                            ),
                        ])
                    })
                    .collect();
                let mut fields = vec![
                    (bulk("library_name"), bulk(name)),
                    (bulk("engine"), bulk("LUA")),
                    (bulk("functions"), Reply::Array(functions)),
                ];
                if with_code {
                    fields.push((bulk("library_code"), bulk(&lib.code)));
                }
                Reply::Map(fields)
            })
            .collect();
        Reply::Array(libs)
    }

    /// `FUNCTION DUMP`.
    pub fn dump_libraries(&self) -> Vec<u8> {
        let vm = self.vm.lock();
        let mut names: Vec<&String> = vm.libraries.keys().collect();
        names.sort();
        let mut out = DUMP_MAGIC.to_vec();
        for name in names {
            let code = vm.libraries[name].code.as_bytes();
            out.extend((code.len() as u32).to_be_bytes());
            out.extend_from_slice(code);
        }
        let sum = checksum(&out);
        out.extend(sum.to_be_bytes());
        out
    }

    /// `FUNCTION RESTORE payload [FLUSH|APPEND|REPLACE]`.
    pub fn restore_libraries(
        &self,
        state: &ServerState,
        payload: &[u8],
        policy: &str,
    ) -> Result<(), String> {
        let bad = || "ERR DUMP payload version or checksum are wrong".to_string();
        if payload.len() < DUMP_MAGIC.len() + 8 || !payload.starts_with(DUMP_MAGIC) {
            return Err(bad());
        }
        let (body, sum) = payload.split_at(payload.len() - 8);
        if checksum(body).to_be_bytes() != sum {
            return Err(bad());
        }
        let mut codes = Vec::new();
        let mut rest = &body[DUMP_MAGIC.len()..];
        while !rest.is_empty() {
            let len = rest
                .get(..4)
                .and_then(|b| b.try_into().ok())
                .map(u32::from_be_bytes)
                .ok_or_else(bad)? as usize;
            let code = rest.get(4..4 + len).ok_or_else(bad)?;
            codes.push(String::from_utf8_lossy(code).into_owned());
            rest = &rest[4 + len..];
        }
        if policy == "FLUSH" {
            self.flush_libraries(state)?;
        } else if policy == "APPEND" {
            let vm = self.vm.lock();
            for code in &codes {
                let (name, _) = parse_header(code)?;
                if vm.libraries.contains_key(&name) {
                    return Err(format!("ERR Library {name} already exists"));
                }
            }
        }
        for code in codes {
            self.load_library(state, &code, true, true)?;
        }
        Ok(())
    }

    /// `FUNCTION STATS`.
    pub fn function_stats(&self) -> Reply {
        let bulk = |s: &str| Reply::Bulk(Bytes::copy_from_slice(s.as_bytes()));
        let is_function = self.running.lock().as_ref().is_some_and(|r| r.is_function);
        let running = self.running_for_ms().filter(|_| is_function).map(|ms| {
            Reply::Map(vec![
                (bulk("name"), bulk("?")),
                (bulk("command"), Reply::Array(Vec::new())),
                (bulk("duration_ms"), Reply::Int(ms as i64)),
            ])
        });
        Reply::Map(vec![
            (bulk("running_script"), running.unwrap_or(Reply::Nil)),
            (
                bulk("engines"),
                Reply::Map(vec![(
                    bulk("LUA"),
                    Reply::Map(vec![
                        (
                            bulk("libraries_count"),
                            Reply::Int(self.library_count.load(Ordering::Relaxed) as i64),
                        ),
                        (
                            bulk("functions_count"),
                            Reply::Int(self.function_count.load(Ordering::Relaxed) as i64),
                        ),
                    ]),
                )]),
            ),
        ])
    }

    /// `FCALL`/`FCALL_RO`.
    pub fn fcall(
        &self,
        state: &ServerState,
        client: &ClientState,
        name: &str,
        call: Invocation<'_>,
    ) -> Reply {
        let vm = self.vm.lock();
        let Some(function) = vm.functions.get(name) else {
            return Reply::Error("ERR Function not found".into());
        };
        if call.read_only && !function.no_writes {
            return Reply::Error(
                "ERR Can not execute a script with write flag using *_ro command.".into(),
            );
        }
        let read_only = call.read_only || function.no_writes;
        let callback = match vm.callbacks.raw_get::<Value>(name) {
            Ok(Value::Function(f)) => f,
            _ => return Reply::Error("ERR Function not found".into()),
        };
        let (keys, args) = match (
            super::sequence(&vm.lua, call.keys),
            super::sequence(&vm.lua, call.args),
        ) {
            (Ok(k), Ok(a)) => (k, a),
            (Err(e), _) | (_, Err(e)) => {
                return Reply::Error(format!(
                    "ERR cannot create arguments: {}",
                    super::lua_error_text(&e)
                ))
            }
        };
        let origin = format!("script: {name}");
        let spec = RunSpec {
            read_only,
            is_function: true,
            origin: &origin,
        };
        self.run(state, client, &vm, callback, (keys, args), spec)
    }
}
