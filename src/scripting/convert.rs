//! Redis's Lua <-> RESP conversion rules, in both directions (the EVAL documentation's
//! "Data type conversion" tables), for RESP2 and for scripts that called `redis.setresp(3)`.
//!
//! Invariants:
//! - Every conversion is depth-limited ([`MAX_NESTING`]): a value nested deeper converts to
//!   `-ERR reached lua stack limit` in its place, which is what Redis answers at its own limit,
//!   so a self-referencing table (`t[1] = t`) terminates. Redis reaches that limit after 7,995
//!   nested tables (Lua 5.1's `LUAI_MAXCSTACK` of 8,000 stack slots minus its own use); we
//!   stop at 1,000 because the reply is later encoded and dropped recursively on a 2 MiB
//!   runtime worker stack, and because every nesting level holds an mlua reference (see
//!   `trampoline`). No legitimate script nests a reply 1,000 deep.
//! - Iteration holds O(depth) mlua references, never one per element (`for_each` and
//!   `raw_get` hand out one element at a time).
//! - Status and error texts a script returns are made single-line (`\r` and `\n` become
//!   spaces) as Redis does, so a script cannot inject protocol lines.
//!
//! Depends on `protocol::Reply` and mlua only.

use bytes::Bytes;
use mlua::{Lua, Table, Value};

use crate::protocol::Reply;

/// The deepest nesting converted in either direction (see the module doc).
pub const MAX_NESTING: usize = 1000;

/// What a value nested deeper than [`MAX_NESTING`] converts to (Redis's text).
pub const STACK_LIMIT_ERROR: &str = "ERR reached lua stack limit";

/// Redis's `sdsmapchars(s, "\r\n", "  ", 2)`: status and error lines stay one line.
pub fn one_line(text: &str) -> String {
    text.replace(['\r', '\n'], " ")
}

/// Converts a command's reply for the script. `resp3` is the script's `redis.setresp`
/// protocol. Error replies become `{err = ...}` tables; the caller decides whether to raise.
pub fn reply_to_lua(lua: &Lua, reply: Reply, resp3: bool) -> mlua::Result<Value> {
    reply_to_lua_at(lua, reply, resp3, 0)
}

fn reply_to_lua_at(lua: &Lua, reply: Reply, resp3: bool, depth: usize) -> mlua::Result<Value> {
    if depth >= MAX_NESTING {
        return Err(mlua::Error::runtime(STACK_LIMIT_ERROR));
    }
    let inner = depth + 1;
    Ok(match reply {
        Reply::Ok => status_table(lua, "OK")?,
        Reply::Status(s) => status_table(lua, &s)?,
        Reply::Error(e) => error_table(lua, &e)?,
        Reply::Int(n) => Value::Number(n as f64),
        Reply::Bulk(b) => Value::String(lua.create_string(&b)?),
        Reply::Verbatim(text) if resp3 => {
            let v = lua.create_table()?;
            v.raw_set("format", "txt")?;
            v.raw_set("string", lua.create_string(text)?)?;
            wrap(lua, "verbatim_string", Value::Table(v))?
        }
        Reply::Verbatim(text) => Value::String(lua.create_string(text)?),
        Reply::Nil | Reply::NilArray => {
            if resp3 {
                Value::Nil
            } else {
                Value::Boolean(false)
            }
        }
        Reply::Array(items) | Reply::Push(items) | Reply::Multi(items) => {
            array_table(lua, items, resp3, inner)?
        }
        Reply::Set(items) if resp3 => {
            let set = lua.create_table()?;
            for item in items {
                set.raw_set(reply_to_lua_at(lua, item, resp3, inner)?, true)?;
            }
            wrap(lua, "set", Value::Table(set))?
        }
        Reply::Set(items) => array_table(lua, items, resp3, inner)?,
        Reply::Map(pairs) if resp3 => {
            let map = lua.create_table()?;
            for (k, v) in pairs {
                map.raw_set(
                    reply_to_lua_at(lua, k, resp3, inner)?,
                    reply_to_lua_at(lua, v, resp3, inner)?,
                )?;
            }
            wrap(lua, "map", Value::Table(map))?
        }
        Reply::Map(pairs) => {
            let flat = pairs.into_iter().flat_map(|(k, v)| [k, v]).collect();
            array_table(lua, flat, resp3, inner)?
        }
        Reply::Double(d) if resp3 => wrap(lua, "double", Value::Number(d))?,
        Reply::Double(d) => Value::String(lua.create_string(crate::num::format_double(d))?),
        Reply::HumanDouble(text) if resp3 => {
            wrap(lua, "double", Value::Number(text.parse().unwrap_or(0.0)))?
        }
        Reply::HumanDouble(text) => Value::String(lua.create_string(text)?),
        Reply::Bool(b) if resp3 => Value::Boolean(b),
        Reply::Bool(b) => Value::Number(if b { 1.0 } else { 0.0 }),
    })
}

fn array_table(lua: &Lua, items: Vec<Reply>, resp3: bool, depth: usize) -> mlua::Result<Value> {
    let t = lua.create_table_with_capacity(items.len(), 0)?;
    for (i, item) in items.into_iter().enumerate() {
        t.raw_set(i + 1, reply_to_lua_at(lua, item, resp3, depth)?)?;
    }
    Ok(Value::Table(t))
}

fn wrap(lua: &Lua, field: &str, inner: Value) -> mlua::Result<Value> {
    let t = lua.create_table()?;
    t.raw_set(field, inner)?;
    Ok(Value::Table(t))
}

pub fn status_table(lua: &Lua, text: &str) -> mlua::Result<Value> {
    wrap(lua, "ok", Value::String(lua.create_string(text)?))
}

pub fn error_table(lua: &Lua, text: &str) -> mlua::Result<Value> {
    wrap(lua, "err", Value::String(lua.create_string(text)?))
}

/// Converts what a script returned. `resp3` is the script's own protocol (`redis.setresp`):
/// as in Redis it decides how booleans convert; doubles, maps and sets are typed replies the
/// connection downgrades for a RESP2 client.
pub fn lua_to_reply(value: &Value, resp3: bool) -> Reply {
    to_reply(value, resp3, 0)
}

/// C's `(long long)` of a double on x86-64: out of range and NaN give `LLONG_MIN`, which is
/// what Redis replies for `return 1/0`.
pub fn c_long_long(n: f64) -> i64 {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if !(-TWO_63..TWO_63).contains(&n) {
        // NaN is outside every range.
        i64::MIN
    } else {
        n as i64
    }
}

fn to_reply(value: &Value, resp3: bool, depth: usize) -> Reply {
    if depth >= MAX_NESTING {
        return Reply::Error(STACK_LIMIT_ERROR.into());
    }
    match value {
        Value::Nil => Reply::Nil,
        Value::Boolean(b) if resp3 => Reply::Bool(*b),
        Value::Boolean(false) => Reply::Nil,
        Value::Boolean(true) => Reply::Int(1),
        // Lua numbers are doubles; Redis truncates them toward zero.
        Value::Number(n) => Reply::Int(c_long_long(*n)),
        Value::Integer(n) => Reply::Int(*n),
        Value::String(s) => Reply::Bulk(Bytes::copy_from_slice(&s.as_bytes())),
        Value::Table(t) => table_to_reply(t, resp3, depth),
        // An error caught by `pcall`: Redis hands scripts error texts as strings.
        Value::Error(e) => Reply::Bulk(Bytes::from(super::lua_error_text(e))),
        _ => Reply::Nil,
    }
}

fn string_field(t: &Table, name: &str) -> Option<String> {
    match t.raw_get::<Value>(name).ok()? {
        Value::String(s) => Some(String::from_utf8_lossy(&s.as_bytes()).into_owned()),
        _ => None,
    }
}

fn number_field(t: &Table, name: &str) -> Option<f64> {
    match t.raw_get::<Value>(name).ok()? {
        Value::Number(n) => Some(n),
        Value::Integer(n) => Some(n as f64),
        _ => None,
    }
}

fn table_field(t: &Table, name: &str) -> Option<Table> {
    match t.raw_get::<Value>(name).ok()? {
        Value::Table(t) => Some(t),
        _ => None,
    }
}

/// Redis's order of checks: `err`, `ok`, `double`, `big_number`, `verbatim_string`, `map`,
/// `set`, then an array of the elements 1, 2, ... up to the first nil.
fn table_to_reply(t: &Table, resp3: bool, depth: usize) -> Reply {
    if let Some(err) = string_field(t, "err") {
        return Reply::Error(one_line(&err));
    }
    if let Some(ok) = string_field(t, "ok") {
        return Reply::Status(one_line(&ok));
    }
    if let Some(d) = number_field(t, "double") {
        return Reply::Double(d);
    }
    // Strata's replies have no RESP3 big number: it goes out as the bulk string RESP2 gets.
    if let Some(big) = string_field(t, "big_number") {
        return Reply::Bulk(Bytes::from(one_line(&big)));
    }
    if let Some(v) = table_field(t, "verbatim_string") {
        if string_field(&v, "format").is_some() {
            if let Some(text) = string_field(&v, "string") {
                return Reply::Verbatim(text);
            }
        }
    }
    let inner = depth + 1;
    if let Some(map) = table_field(t, "map") {
        let mut pairs = Vec::new();
        let _ = map.for_each::<Value, Value>(|k, v| {
            pairs.push((to_reply(&k, resp3, inner), to_reply(&v, resp3, inner)));
            Ok(())
        });
        return Reply::Map(pairs);
    }
    if let Some(set) = table_field(t, "set") {
        let mut members = Vec::new();
        let _ = set.for_each::<Value, Value>(|k, _| {
            members.push(to_reply(&k, resp3, inner));
            Ok(())
        });
        return Reply::Set(members);
    }
    let mut items = Vec::new();
    for i in 1.. {
        match t.raw_get::<Value>(i) {
            Ok(Value::Nil) | Err(_) => break,
            Ok(v) => items.push(to_reply(&v, resp3, inner)),
        }
    }
    Reply::Array(items)
}

/// `redis.error_reply`'s rule: a message without an uppercase error code gets `ERR `.
pub fn with_error_code(message: &str) -> String {
    let message = message.strip_prefix('-').unwrap_or(message);
    if has_error_code(message) {
        message.to_string()
    } else {
        format!("ERR {message}")
    }
}

/// True when the first word is an error code (`WRONGTYPE`, `ERR`, `NOSCRIPT`, ...).
pub fn has_error_code(message: &str) -> bool {
    let word = message.split(' ').next().unwrap_or("");
    message.contains(' ')
        && !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b == b'_' || b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes() {
        assert_eq!(with_error_code("MYERR y"), "MYERR y");
        assert_eq!(with_error_code("noprefix"), "ERR noprefix");
        assert_eq!(
            with_error_code("user_script:1: boom"),
            "ERR user_script:1: boom"
        );
        assert_eq!(
            with_error_code("WRONGTYPE Operation"),
            "WRONGTYPE Operation"
        );
    }

    #[test]
    fn lua_values_convert_like_redis() {
        let lua = Lua::new();
        let v: Value = lua
            .load("return {1, 2.9, 'x', true, false, nil, 7}")
            .eval()
            .unwrap();
        assert_eq!(
            lua_to_reply(&v, false),
            Reply::Array(vec![
                Reply::Int(1),
                Reply::Int(2),
                Reply::Bulk(Bytes::from_static(b"x")),
                Reply::Int(1),
                Reply::Nil
            ])
        );
        let v: Value = lua.load("return {err='MYERR x'}").eval().unwrap();
        assert_eq!(lua_to_reply(&v, false), Reply::Error("MYERR x".into()));
        let v: Value = lua.load("return -3.99").eval().unwrap();
        assert_eq!(lua_to_reply(&v, false), Reply::Int(-3));
        for inf in ["1/0", "-1/0", "0/0", "2^63", "1e300"] {
            let v: Value = lua.load(format!("return {inf}")).eval().unwrap();
            assert_eq!(lua_to_reply(&v, false), Reply::Int(i64::MIN), "{inf}");
        }
        let v: Value = lua.load("return {ok='a\\r\\nb'}").eval().unwrap();
        assert_eq!(lua_to_reply(&v, false), Reply::Status("a  b".into()));
        let v: Value = lua.load("return {double=1}").eval().unwrap();
        assert_eq!(lua_to_reply(&v, false), Reply::Double(1.0));
        // Booleans follow the script's protocol, not the client's.
        let v: Value = lua.load("return false").eval().unwrap();
        assert_eq!(lua_to_reply(&v, false), Reply::Nil);
        assert_eq!(lua_to_reply(&v, true), Reply::Bool(false));
    }

    /// Nesting depth of a reply, counting arrays down the first element.
    fn depth(r: &Reply) -> (usize, &Reply) {
        let mut d = 0;
        let mut r = r;
        while let Reply::Array(items) = r {
            d += 1;
            match items.first() {
                Some(first) => r = first,
                None => break,
            }
        }
        (d, r)
    }

    #[test]
    fn self_reference_and_deep_nesting_stop_at_the_limit() {
        let lua = Lua::new();
        for script in [
            "local t = {} t[1] = t return t",
            "local t = {} local c = t for i = 1, 10000 do c[1] = {} c = c[1] end return t",
        ] {
            let v: Value = lua.load(script).eval().unwrap();
            let reply = lua_to_reply(&v, false);
            let (d, innermost) = depth(&reply);
            assert_eq!(d, MAX_NESTING, "{script}");
            assert_eq!(innermost, &Reply::Error(STACK_LIMIT_ERROR.into()));
        }
        // Maps and sets count as nesting too.
        let v: Value = lua
            .load("local t = {} t.map = {k = t} return t")
            .eval()
            .unwrap();
        let mut r = &lua_to_reply(&v, true);
        let mut levels = 0;
        while let Reply::Map(pairs) = r {
            levels += 1;
            r = &pairs[0].1;
        }
        assert_eq!(levels, MAX_NESTING);
        assert_eq!(r, &Reply::Error(STACK_LIMIT_ERROR.into()));
    }

    #[test]
    fn nested_command_replies_stop_at_the_limit() {
        let lua = Lua::new();
        let mut reply = Reply::Int(1);
        for _ in 0..MAX_NESTING + 5 {
            reply = Reply::Array(vec![reply]);
        }
        let err = reply_to_lua(&lua, reply, false).unwrap_err();
        assert!(err.to_string().contains("reached lua stack limit"), "{err}");
        let mut reply = Reply::Int(1);
        for _ in 0..100 {
            reply = Reply::Array(vec![reply]);
        }
        assert!(reply_to_lua(&lua, reply, false).is_ok());
    }
}
