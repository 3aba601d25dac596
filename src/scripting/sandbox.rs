//! The script sandbox, as Redis 7.0's. Redis patches its Lua with read-only tables
//! (`lua_enablereadonlytable`); stock Lua 5.1 has none, so the same behaviour is built here:
//!
//! - The globals table and every library table (`string`, `table`, `math`, `coroutine`,
//!   `redis`, `cjson`, `cmsgpack`, `bit`, `struct`) are replaced, where scripts can see them,
//!   by empty proxies: their metatable reads through to the real table and refuses writes
//!   (`Attempt to modify a readonly table`, at the script's line), and `__metatable` hides
//!   it. The globals proxy is made the thread's globals table, so scripts, `loadstring`
//!   chunks and coroutines all get it; reading an unknown global fails with Redis's
//!   `Script attempted to access nonexistent global variable 'x'`. The string metatable
//!   (shared by every string) indexes the `string` proxy and shows itself as a read-only
//!   proxy. The real tables are reachable only from Rust.
//! - The functions that bypass metamethods are replaced by Rust ones behind C trampolines
//!   (so a script's tail call keeps its line, as with Redis's C functions) that refuse a
//!   protected table with Redis's bare `Attempt to modify a readonly table` (`rawset`,
//!   `setmetatable`, `table.insert`) and see through proxies (`rawget`, `next`, `pairs`,
//!   `getmetatable`, which answers nil for a library table as Redis does). `pcall` answers
//!   the text of an `{err = ...}` error table, as Redis's wrapper does for `redis.call`
//!   errors. `table.remove` and `table.sort` need nothing: a proxy has no array part.
//! - As defence in depth, `Sandbox::sanitize` (after every run, with the collector reset to
//!   its defaults, a script may stop it) empties the proxies, so one script cannot change
//!   what the next one sees.
//!
//! Depends on mlua and the helpers of `scripting`.

use mlua::{Function, Lua, Table, Value};

use super::{arg_error, lua_type_name, number_arg, raised, trampoline, Args};

const READONLY: &str = "Attempt to modify a readonly table";

/// Builds the proxies; runs once per VM with the real globals as its environment.
const PRELUDE: &str = r#"
local R = _G
local error, type, select, tostring, next, rawget, rawset, setmetatable, getmetatable, pcall =
      error, type, select, tostring, next, rawget, rawset, setmetatable, getmetatable, pcall
local READONLY = 'Attempt to modify a readonly table'
-- The __metatable of library proxies: getmetatable answers nil for them.
local HIDDEN = {}
local real, protected, proxies = {}, {}, {}

local function readonly() error(READONLY, 2) end

local function proxy(t, shown)
  local p = {}
  setmetatable(p, {__index = t, __newindex = readonly, __metatable = shown or HIDDEN})
  real[p] = t
  protected[p] = true
  protected[t] = true
  proxies[#proxies + 1] = p
  return p
end

-- Redis's pcall answers the text of an error table ({err = ...}), which redis.call raises.
local function caught(ok, ...)
  if not ok then
    local e = ...
    if type(e) == 'table' then
      local m = rawget(e, 'err')
      if type(m) == 'string' then return false, m end
    end
    return false, e
  end
  return true, ...
end
R.pcall = function(...)
  if select('#', ...) == 0 then return nil end
  return caught(pcall(...))
end

for _, name in ipairs({'string', 'table', 'math', 'coroutine', 'redis', 'cjson', 'cmsgpack',
                       'bit', 'struct'}) do
  local t = rawget(R, name)
  if t ~= nil then rawset(R, name, proxy(t)) end
end

local S = getmetatable('')
S.__index = rawget(R, 'string')
S.__metatable = proxy(S)

local globals_mt = {
  __index = function(_, k)
    error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
  end,
  __newindex = readonly,
}
local G = proxy(R, proxy(globals_mt))
rawset(R, '_G', G)
setmetatable(R, globals_mt)

local function sanitize()
  for i = 1, #proxies do
    local p = proxies[i]
    local k = next(p)
    while k ~= nil do
      rawset(p, k, nil)
      k = next(p)
    end
  end
end

return G, sanitize, real, protected, HIDDEN
"#;

/// What the Rust replacements of `rawset` and friends consult.
#[derive(Clone)]
struct Tables {
    /// Proxy -> real table.
    real: Table,
    /// Every proxy and real table that scripts may not modify.
    protected: Table,
    /// The `__metatable` of library proxies.
    hidden: Table,
}

impl Tables {
    fn is_protected(&self, t: &Table) -> bool {
        matches!(self.protected.raw_get::<Value>(t), Ok(Value::Boolean(true)))
    }

    /// The table a proxy stands for, or `t` itself.
    fn real(&self, t: Table) -> Table {
        match self.real.raw_get::<Value>(&t) {
            Ok(Value::Table(r)) => r,
            _ => t,
        }
    }
}

pub(super) struct Sandbox {
    /// Empties the proxies.
    pub sanitize: Function,
}

fn got(args: &Args, i: usize) -> mlua::Result<&'static str> {
    Ok(if i > args.len() {
        "no value"
    } else {
        lua_type_name(&args.get(i)?)
    })
}

fn table_arg(args: &Args, i: usize, fname: &str) -> mlua::Result<Table> {
    match args.get(i)? {
        Value::Table(t) => Ok(t),
        _ => Err(arg_error(
            i,
            fname,
            &format!("table expected, got {}", got(args, i)?),
        )),
    }
}

fn any_arg(args: &Args, i: usize, fname: &str) -> mlua::Result<Value> {
    if i > args.len() {
        return Err(arg_error(i, fname, "value expected"));
    }
    args.get(i)
}

/// What a replacement answers: its results, or a value to raise as is.
type Answer = Result<Vec<Value>, Value>;

fn bare(lua: &Lua, text: &str) -> mlua::Result<Answer> {
    Ok(Err(Value::String(lua.create_string(text)?)))
}

/// A Rust function behind `trampoline::packed_and_spread`.
fn wrapper<F>(lua: &Lua, f: F) -> mlua::Result<Function>
where
    F: Fn(&Lua, &Args) -> mlua::Result<Answer> + mlua::MaybeSend + 'static,
{
    let inner = lua.create_function(move |lua, (table, n): (Table, i64)| {
        let args = Args {
            table,
            n: usize::try_from(n).unwrap_or(0),
        };
        Ok(match f(lua, &args) {
            Ok(Ok(values)) => {
                let count = values.len() as i64;
                let t = lua.create_table_with_capacity(values.len(), 0)?;
                for (i, v) in values.into_iter().enumerate() {
                    t.raw_set(i + 1, v)?;
                }
                (true, Value::Table(t), count)
            }
            Ok(Err(v)) => (false, v, 0),
            Err(e) => (false, raised(lua, e)?, 0),
        })
    })?;
    trampoline::packed_and_spread(lua, inner)
}

/// A Lua error from calling one of Lua's own C functions (`next`, `setmetatable`), raised
/// from C and so without a position: passed on as is.
fn lua_failure(lua: &Lua, e: &mlua::Error) -> mlua::Result<Answer> {
    bare(lua, &super::lua_error_text(e))
}

/// Builds the sandbox over the real globals `g` (the libraries installed already) and makes
/// the globals proxy the thread's globals.
pub(super) fn install(lua: &Lua, g: &Table) -> mlua::Result<Sandbox> {
    let table_lib: Table = g.raw_get("table")?;
    let orig_next: Function = g.raw_get("next")?;
    let orig_getmetatable: Function = g.raw_get("getmetatable")?;
    let orig_setmetatable: Function = g.raw_get("setmetatable")?;
    let orig_insert: Function = table_lib.raw_get("insert")?;

    let (proxy, sanitize, real, protected, hidden): (Table, Function, Table, Table, Table) =
        lua.load(PRELUDE).set_name("=sandbox").call(())?;
    let tables = Tables {
        real,
        protected,
        hidden,
    };

    let t = tables.clone();
    g.raw_set(
        "rawset",
        wrapper(lua, move |lua, args| {
            let table = table_arg(args, 1, "rawset")?;
            let key = any_arg(args, 2, "rawset")?;
            let value = any_arg(args, 3, "rawset")?;
            if t.is_protected(&table) {
                return bare(lua, READONLY);
            }
            match key {
                Value::Nil => return bare(lua, "table index is nil"),
                Value::Number(n) if n.is_nan() => return bare(lua, "table index is NaN"),
                _ => {}
            }
            table.raw_set(key, value)?;
            Ok(Ok(vec![Value::Table(table)]))
        })?,
    )?;

    let t = tables.clone();
    g.raw_set(
        "rawget",
        wrapper(lua, move |_, args| {
            let table = table_arg(args, 1, "rawget")?;
            let key = any_arg(args, 2, "rawget")?;
            Ok(Ok(vec![t.real(table).raw_get::<Value>(key)?]))
        })?,
    )?;

    let t = tables.clone();
    let next_fn = orig_next.clone();
    let next = wrapper(lua, move |lua, args| {
        let table = table_arg(args, 1, "next")?;
        match next_fn.call::<mlua::MultiValue>((t.real(table), args.get(2)?)) {
            Ok(values) => Ok(Ok(values.into_iter().collect())),
            Err(e) => lua_failure(lua, &e),
        }
    })?;
    g.raw_set("next", next.clone())?;

    let t = tables.clone();
    g.raw_set(
        "pairs",
        wrapper(lua, move |_, args| {
            let table = table_arg(args, 1, "pairs")?;
            // A proxy iterates its real table, through the `next` above.
            let iterator = if matches!(t.real.raw_get::<Value>(&table)?, Value::Table(_)) {
                next.clone()
            } else {
                orig_next.clone()
            };
            Ok(Ok(vec![
                Value::Function(iterator),
                Value::Table(table),
                Value::Nil,
            ]))
        })?,
    )?;

    let t = tables.clone();
    let getmetatable = orig_getmetatable.clone();
    g.raw_set(
        "getmetatable",
        wrapper(lua, move |_, args| {
            let value = any_arg(args, 1, "getmetatable")?;
            let m = getmetatable.call::<Value>(value)?;
            Ok(Ok(vec![match m {
                Value::Table(m) if m == t.hidden => Value::Nil,
                other => other,
            }]))
        })?,
    )?;

    let t = tables.clone();
    g.raw_set(
        "setmetatable",
        wrapper(lua, move |lua, args| {
            let table = table_arg(args, 1, "setmetatable")?;
            let meta = args.get(2)?;
            if args.len() < 2 || !matches!(meta, Value::Nil | Value::Table(_)) {
                return Err(arg_error(2, "setmetatable", "nil or table expected"));
            }
            if t.is_protected(&table) {
                return bare(lua, READONLY);
            }
            // Only "cannot change a protected metatable" can fail: `luaL_error`, so it is
            // raised at the script's line.
            orig_setmetatable
                .call::<Value>((table.clone(), meta))
                .map_err(|e| mlua::Error::runtime(super::lua_error_text(&e)))?;
            Ok(Ok(vec![Value::Table(table)]))
        })?,
    )?;

    let t = tables;
    table_lib.raw_set(
        "insert",
        wrapper(lua, move |lua, args| {
            let table = table_arg(args, 1, "insert")?;
            match args.len() {
                2 => {}
                3 => {
                    number_arg(&args.get(2)?, 2, "insert")?;
                }
                _ => {
                    return Err(mlua::Error::runtime(
                        "wrong number of arguments to 'insert'",
                    ))
                }
            }
            if t.is_protected(&table) {
                return bare(lua, READONLY);
            }
            let result = if args.len() == 2 {
                orig_insert.call::<()>((table, args.get(2)?))
            } else {
                orig_insert.call::<()>((table, args.get(2)?, args.get(3)?))
            };
            match result {
                Ok(()) => Ok(Ok(Vec::new())),
                Err(e) => lua_failure(lua, &e),
            }
        })?,
    )?;

    lua.set_globals(proxy)?;
    Ok(Sandbox { sanitize })
}
