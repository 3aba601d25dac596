//! The `cjson` library Redis gives scripts (lua-cjson semantics): `encode`, `decode`, and the
//! `null` sentinel. Numbers print as C's `%.14g`; `/` is escaped; a table whose keys are all
//! positive integers is an array (holes become `null`), anything else an object.

use mlua::{LightUserData, Lua, Table, Value};

const MAX_DEPTH: usize = 1000;

/// C's `%.{precision}g`.
pub fn format_g(n: f64, precision: usize) -> String {
    if n == 0.0 {
        return if n.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let sci = format!("{:.*e}", precision - 1, n);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let trim = |s: &str| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s.to_string()
        }
    };
    if exp < -4 || exp >= precision as i32 {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim(mantissa), exp.abs())
    } else {
        let decimals = (precision as i32 - 1 - exp).max(0) as usize;
        trim(&format!("{n:.decimals$}"))
    }
}

fn null() -> Value {
    Value::LightUserData(LightUserData(std::ptr::null_mut()))
}

fn escape(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &b in s {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            b if b < 0x20 || b == 0x7f => out.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
            b => out.push(b),
        }
    }
    out.push(b'"');
}

fn encode_value(out: &mut Vec<u8>, v: &Value, depth: usize) -> mlua::Result<()> {
    if depth > MAX_DEPTH {
        return Err(mlua::Error::runtime(
            "Cannot serialise, excessive nesting (1001)",
        ));
    }
    match v {
        Value::Nil => out.extend_from_slice(b"null"),
        Value::LightUserData(p) if p.0.is_null() => out.extend_from_slice(b"null"),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Integer(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Value::Number(n) => {
            if !n.is_finite() {
                return Err(mlua::Error::runtime(
                    "Cannot serialise number: must not be NaN or Inf",
                ));
            }
            out.extend_from_slice(format_g(*n, 14).as_bytes());
        }
        Value::String(s) => escape(out, &s.as_bytes()),
        Value::Table(t) => encode_table(out, t, depth)?,
        other => {
            return Err(mlua::Error::runtime(format!(
                "Cannot serialise {}: type not supported",
                other.type_name()
            )))
        }
    }
    Ok(())
}

fn encode_table(out: &mut Vec<u8>, t: &Table, depth: usize) -> mlua::Result<()> {
    let pairs: Vec<(Value, Value)> = t.pairs::<Value, Value>().collect::<mlua::Result<_>>()?;
    let mut max = 0usize;
    let is_array = !pairs.is_empty()
        && pairs.iter().all(|(k, _)| match k {
            Value::Number(n) if *n >= 1.0 && n.fract() == 0.0 => {
                max = max.max(*n as usize);
                true
            }
            Value::Integer(n) if *n >= 1 => {
                max = max.max(*n as usize);
                true
            }
            _ => false,
        });
    if is_array {
        if max > pairs.len() * 2 && max > 10 {
            return Err(mlua::Error::runtime(
                "Cannot serialise table: excessively sparse array",
            ));
        }
        out.push(b'[');
        for i in 1..=max {
            if i > 1 {
                out.push(b',');
            }
            encode_value(out, &t.raw_get::<Value>(i)?, depth + 1)?;
        }
        out.push(b']');
        return Ok(());
    }
    out.push(b'{');
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        match k {
            Value::String(s) => escape(out, &s.as_bytes()),
            Value::Number(n) => escape(out, format_g(*n, 14).as_bytes()),
            Value::Integer(n) => escape(out, n.to_string().as_bytes()),
            _ => {
                return Err(mlua::Error::runtime(
                    "Cannot serialise table: table key must be a number or string",
                ))
            }
        }
        out.push(b':');
        encode_value(out, v, depth + 1)?;
    }
    out.push(b'}');
    Ok(())
}

fn json_to_lua(lua: &Lua, v: serde_json::Value) -> mlua::Result<Value> {
    Ok(match v {
        serde_json::Value::Null => null(),
        serde_json::Value::Bool(b) => Value::Boolean(b),
        serde_json::Value::Number(n) => Value::Number(n.as_f64().unwrap_or(0.0)),
        serde_json::Value::String(s) => Value::String(lua.create_string(&s)?),
        serde_json::Value::Array(items) => {
            let t = lua.create_table_with_capacity(items.len(), 0)?;
            for (i, item) in items.into_iter().enumerate() {
                t.raw_set(i + 1, json_to_lua(lua, item)?)?;
            }
            Value::Table(t)
        }
        serde_json::Value::Object(map) => {
            let t = lua.create_table_with_capacity(0, map.len())?;
            for (k, item) in map {
                t.raw_set(k, json_to_lua(lua, item)?)?;
            }
            Value::Table(t)
        }
    })
}

pub fn install(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set(
        "encode",
        lua.create_function(|lua, v: Value| {
            let mut out = Vec::new();
            encode_value(&mut out, &v, 0)?;
            lua.create_string(&out)
        })?,
    )?;
    t.set(
        "decode",
        lua.create_function(|lua, text: mlua::String| {
            let bytes = text.as_bytes();
            match serde_json::from_slice::<serde_json::Value>(&bytes) {
                Ok(v) => json_to_lua(lua, v),
                Err(e) => Err(mlua::Error::runtime(format!(
                    "Expected value but found invalid token at character {}",
                    e.column().max(1)
                ))),
            }
        })?,
    )?;
    t.set("null", null())?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::format_g;

    #[test]
    fn percent_g() {
        assert_eq!(format_g(2.5, 14), "2.5");
        assert_eq!(format_g(10.0, 14), "10");
        assert_eq!(format_g(1e20, 14), "1e+20");
        assert_eq!(format_g(0.0001, 14), "0.0001");
        assert_eq!(format_g(0.00001, 14), "1e-05");
        assert_eq!(format_g(1.0 / 3.0, 14), "0.33333333333333");
    }
}
