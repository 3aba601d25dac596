//! Redis's Lua <-> RESP conversion rules, in both directions (the EVAL documentation's
//! "Data type conversion" tables), for RESP2 and for scripts that called `redis.setresp(3)`.
//! Depends on `protocol::Reply` and mlua only.

use bytes::Bytes;
use mlua::{Lua, Table, Value};

use crate::protocol::Reply;

/// Converts a command's reply for the script. `resp3` is the script's `redis.setresp`
/// protocol. Error replies become `{err = ...}` tables; the caller decides whether to raise.
pub fn reply_to_lua(lua: &Lua, reply: Reply, resp3: bool) -> mlua::Result<Value> {
    Ok(match reply {
        Reply::Ok => status_table(lua, "OK")?,
        Reply::Status(s) => status_table(lua, &s)?,
        Reply::Error(e) => error_table(lua, &e)?,
        Reply::Int(n) => Value::Number(n as f64),
        Reply::Bulk(b) => Value::String(lua.create_string(&b)?),
        Reply::Verbatim(text) => Value::String(lua.create_string(text)?),
        Reply::Nil | Reply::NilArray => {
            if resp3 {
                Value::Nil
            } else {
                Value::Boolean(false)
            }
        }
        Reply::Array(items) | Reply::Push(items) | Reply::Multi(items) => {
            array_table(lua, items, resp3)?
        }
        Reply::Set(items) if resp3 => {
            let set = lua.create_table()?;
            for item in items {
                set.raw_set(reply_to_lua(lua, item, resp3)?, true)?;
            }
            wrap(lua, "set", Value::Table(set))?
        }
        Reply::Set(items) => array_table(lua, items, resp3)?,
        Reply::Map(pairs) if resp3 => {
            let map = lua.create_table()?;
            for (k, v) in pairs {
                map.raw_set(reply_to_lua(lua, k, resp3)?, reply_to_lua(lua, v, resp3)?)?;
            }
            wrap(lua, "map", Value::Table(map))?
        }
        Reply::Map(pairs) => {
            let flat = pairs.into_iter().flat_map(|(k, v)| [k, v]).collect();
            array_table(lua, flat, resp3)?
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

fn array_table(lua: &Lua, items: Vec<Reply>, resp3: bool) -> mlua::Result<Value> {
    let t = lua.create_table_with_capacity(items.len(), 0)?;
    for (i, item) in items.into_iter().enumerate() {
        t.raw_set(i + 1, reply_to_lua(lua, item, resp3)?)?;
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

/// Converts what a script returned. `resp3_client` is the calling connection's protocol
/// (booleans and doubles only exist in RESP3).
pub fn lua_to_reply(value: &Value, resp3_client: bool) -> Reply {
    match value {
        Value::Nil => Reply::Nil,
        Value::Boolean(false) if resp3_client => Reply::Bool(false),
        Value::Boolean(false) => Reply::Nil,
        Value::Boolean(true) if resp3_client => Reply::Bool(true),
        Value::Boolean(true) => Reply::Int(1),
        // Lua numbers are doubles; Redis truncates them toward zero.
        Value::Number(n) => Reply::Int(*n as i64),
        Value::Integer(n) => Reply::Int(*n),
        Value::String(s) => Reply::Bulk(Bytes::copy_from_slice(&s.as_bytes())),
        Value::Table(t) => table_to_reply(t, resp3_client),
        // An error caught by `pcall(redis.call, ...)`: Redis hands scripts the error text as a
        // string, so it converts as one.
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

fn table_to_reply(t: &Table, resp3: bool) -> Reply {
    if let Some(err) = string_field(t, "err") {
        return Reply::Error(err);
    }
    if let Some(ok) = string_field(t, "ok") {
        return Reply::Status(ok);
    }
    if let Ok(Value::Number(d)) = t.raw_get::<Value>("double") {
        return if resp3 {
            Reply::Double(d)
        } else {
            Reply::Bulk(Bytes::from(crate::num::format_double(d)))
        };
    }
    if let Ok(Value::Table(map)) = t.raw_get::<Value>("map") {
        let pairs: Vec<(Reply, Reply)> = map
            .pairs::<Value, Value>()
            .filter_map(Result::ok)
            .map(|(k, v)| (lua_to_reply(&k, resp3), lua_to_reply(&v, resp3)))
            .collect();
        return Reply::Map(pairs);
    }
    if let Ok(Value::Table(set)) = t.raw_get::<Value>("set") {
        let members: Vec<Reply> = set
            .pairs::<Value, Value>()
            .filter_map(Result::ok)
            .map(|(k, _)| lua_to_reply(&k, resp3))
            .collect();
        return Reply::Set(members);
    }
    // An array: elements 1, 2, ... up to the first nil.
    let mut items = Vec::new();
    for i in 1.. {
        match t.raw_get::<Value>(i) {
            Ok(Value::Nil) | Err(_) => break,
            Ok(v) => items.push(lua_to_reply(&v, resp3)),
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
    }
}
