//! Three small C functions (`lua_CFunction`s) that sit between a script and a Rust callback,
//! so that a Rust function can take or return any number of Lua values without holding one
//! mlua reference per value, and can raise errors the way Redis's own C libraries do.
//!
//! Why: every `mlua::Value` that is a string, table or function owns a slot on mlua's
//! auxiliary "ref thread" stack, and that stack is capped by Lua 5.1's `LUAI_MAXCSTACK` (8000
//! slots for the whole VM). A callback declared with `Variadic<Value>` converts all of its
//! arguments up front, so `redis.call('del', ...)` with 8,000 keys (easy to build with varargs)
//! would exhaust it and mlua panics. And an error returned by an mlua callback reaches the
//! script as an mlua userdata, where Redis's libraries raise plain strings (`luaL_error`) or
//! tables (`redis.call`). So every Rust function a script can call goes through one of:
//!
//! - [`packed`]: the arguments are stored into one Lua table inside the C function and the Rust
//!   callback receives `(table, count)`, reading one argument at a time.
//! - [`direct`]: the arguments are passed as they are (fixed-arity callbacks, whose unused
//!   arguments mlua never converts).
//! - [`packed_and_spread`]: like `packed`, but the callback answers `(ok, table, count)` and
//!   the C function returns `table[1..=count]` (`cmsgpack.unpack`, `struct.unpack`, the
//!   sandbox's `next`, ...).
//!
//! The callback answers `(ok, value)` (`(ok, value, count)` for `packed_and_spread`): with
//! `ok == false` the C function raises `value` itself, a plain Lua value with no mlua
//! wrapper. They stay C functions (not Lua wrappers) on purpose: a script's `return f(...)`
//! tail call to a C function keeps the script's frame, so errors still name the script's
//! line.
//!
//! Invariants (this is the only `unsafe` code of the scripting layer): the C functions hold no
//! Rust value with a destructor, so a Lua error (a `longjmp`) crossing their frame skips
//! nothing; they use only Lua API calls that cannot panic on the Rust side (the `*_` raw
//! variants taking `c_int`); they stay within the `LUA_MINSTACK` slots Lua guarantees a C
//! function, except `packed_and_spread`, which asks `lua_checkstack` first. Depends on
//! mlua's `ffi` only.

use std::os::raw::c_int;

use mlua::{ffi, Function, Lua};

/// Raises the value above `ok_index` when the boolean at `ok_index` is false.
unsafe fn raise_unless_ok(state: *mut ffi::lua_State, ok_index: c_int) {
    if ffi::lua_toboolean(state, ok_index) == 0 {
        ffi::lua_settop(state, ok_index + 1);
        ffi::lua_error(state);
    }
}

/// Stores the arguments into a table and calls upvalue 1 with `(table, count)`; it answers
/// `(ok, value)`.
unsafe extern "C-unwind" fn packed_args(state: *mut ffi::lua_State) -> c_int {
    let n = ffi::lua_gettop(state);
    ffi::lua_createtable(state, n, 0);
    for i in 1..=n {
        ffi::lua_pushvalue(state, i);
        ffi::lua_rawseti_(state, -2, i);
    }
    ffi::lua_pushvalue(state, ffi::lua_upvalueindex(1));
    ffi::lua_insert(state, -2);
    ffi::lua_pushinteger(state, ffi::lua_Integer::from(n));
    // Stack: args (1..=n), callback, table, count -> args, ok, value.
    ffi::lua_call(state, 2, 2);
    raise_unless_ok(state, n + 1);
    1
}

/// Calls upvalue 1 with the arguments; it answers `(ok, value)`.
unsafe extern "C-unwind" fn direct_args(state: *mut ffi::lua_State) -> c_int {
    let n = ffi::lua_gettop(state);
    ffi::lua_pushvalue(state, ffi::lua_upvalueindex(1));
    ffi::lua_insert(state, 1);
    ffi::lua_call(state, n, 2);
    raise_unless_ok(state, 1);
    1
}

/// Stores the arguments into a table and calls upvalue 1 with `(table, count)`; it answers
/// `(ok, table, count)`; returns `table[1..=count]`.
unsafe extern "C-unwind" fn packed_spread(state: *mut ffi::lua_State) -> c_int {
    let n = ffi::lua_gettop(state);
    ffi::lua_createtable(state, n, 0);
    for i in 1..=n {
        ffi::lua_pushvalue(state, i);
        ffi::lua_rawseti_(state, -2, i);
    }
    ffi::lua_pushvalue(state, ffi::lua_upvalueindex(1));
    ffi::lua_insert(state, -2);
    ffi::lua_pushinteger(state, ffi::lua_Integer::from(n));
    ffi::lua_call(state, 2, 3);
    push_results(state, n + 1)
}

/// With `ok, table, count` at `ok_index..`: raises `table` unless `ok`, else replaces the
/// whole stack with `table[1..=count]`, so the results get the slots the C function that
/// the callback stands for would have had.
unsafe fn push_results(state: *mut ffi::lua_State, ok_index: c_int) -> c_int {
    raise_unless_ok(state, ok_index);
    let count = ffi::lua_tonumber(state, ok_index + 2);
    let count = if count >= 0.0 && count <= f64::from(c_int::MAX) {
        count as c_int
    } else {
        0
    };
    ffi::lua_settop(state, ok_index + 1);
    ffi::lua_replace(state, 1);
    ffi::lua_settop(state, 1);
    if ffi::lua_checkstack(state, count) == 0 {
        // The Rust side checks Redis's limits first; this only guards against a mismatch.
        ffi::lua_pushstring_(state, c"stack overflow (too many results)".as_ptr());
        ffi::lua_error(state);
    }
    for i in 1..=count {
        ffi::lua_rawgeti_(state, 1, i);
    }
    count
}

fn closure(lua: &Lua, inner: Function, f: ffi::lua_CFunction) -> mlua::Result<Function> {
    // SAFETY: `exec_raw` runs the closure in a protected call with `inner` pushed as its only
    // argument; `lua_pushcclosure` pops it as the upvalue and leaves the new closure as the
    // single result.
    unsafe { lua.exec_raw::<Function>(inner, |state| ffi::lua_pushcclosure(state, f, 1)) }
}

/// A Lua function that calls `inner(args_table, count)`; `inner` answers `(ok, value)`.
pub fn packed(lua: &Lua, inner: Function) -> mlua::Result<Function> {
    closure(lua, inner, packed_args)
}

/// A Lua function that calls `inner(...)`; `inner` answers `(ok, value)`.
pub fn direct(lua: &Lua, inner: Function) -> mlua::Result<Function> {
    closure(lua, inner, direct_args)
}

/// A Lua function that calls `inner(args_table, count)`; `inner` answers
/// `(ok, results_table, count)`.
pub fn packed_and_spread(lua: &Lua, inner: Function) -> mlua::Result<Function> {
    closure(lua, inner, packed_spread)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mlua::{Table, Value};

    #[test]
    fn packed_passes_every_argument_and_raises_plain_values() {
        let lua = Lua::new();
        let inner = lua
            .create_function(|lua, (t, n): (Table, i64)| {
                let mut total = 0i64;
                for i in 1..=n {
                    if let Value::Integer(x) = t.raw_get::<Value>(i)? {
                        total += x;
                    }
                }
                if total < 0 {
                    return Ok((false, Value::String(lua.create_string("plain error")?)));
                }
                Ok((true, Value::Integer(total)))
            })
            .unwrap();
        lua.globals()
            .set("sum", packed(&lua, inner).unwrap())
            .unwrap();
        // 20,000 arguments: far beyond the ref stack.
        let n: i64 = lua
            .load(
                "local function grow(n, ...) if n == 0 then return sum(...) end \
                 return grow(n - 1, 1, ...) end return grow(20000)",
            )
            .eval()
            .unwrap();
        assert_eq!(n, 20000);
        let caught: String = lua
            .load("local ok, e = pcall(sum, -1) return type(e) .. ':' .. e")
            .eval()
            .unwrap();
        assert_eq!(caught, "string:plain error");
    }

    #[test]
    fn direct_raises_tables() {
        let lua = Lua::new();
        let inner = lua
            .create_function(|lua, x: i64| {
                if x < 0 {
                    let t = lua.create_table()?;
                    t.raw_set("err", "ERR negative")?;
                    return Ok((false, Value::Table(t)));
                }
                Ok((true, Value::Integer(x * 2)))
            })
            .unwrap();
        lua.globals()
            .set("double", direct(&lua, inner).unwrap())
            .unwrap();
        let r: String = lua
            .load("local ok, e = pcall(double, -1) return tostring(double(21)) .. e.err")
            .eval()
            .unwrap();
        assert_eq!(r, "42ERR negative");
    }

    #[test]
    fn spread_returns_many_values() {
        let lua = Lua::new();
        let inner = lua
            .create_function(|lua, (args, _): (Table, i64)| {
                let n: i64 = args.raw_get(1)?;
                let t = lua.create_table()?;
                for i in 1..=n {
                    t.raw_set(i, lua.create_string(format!("v{i}"))?)?;
                }
                Ok((true, t, n))
            })
            .unwrap();
        lua.globals()
            .set("many", packed_and_spread(&lua, inner).unwrap())
            .unwrap();
        let n: i64 = lua.load("return select('#', many(7000))").eval().unwrap();
        assert_eq!(n, 7000);
        let last: String = lua.load("return select(7000, many(7000))").eval().unwrap();
        assert_eq!(last, "v7000");
    }
}
