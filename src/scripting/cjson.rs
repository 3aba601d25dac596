//! The `cjson` library Redis gives scripts (lua-cjson 2.1 semantics, which Redis vendors):
//! `encode`, `decode`, and the `null` sentinel. Numbers print as C's `%.14g`; `/` is escaped;
//! a table whose keys are all positive integers is an array (holes become `null`, an
//! excessively sparse one is an error), anything else an object.
//!
//! The decoder is a port of lua-cjson's tokenizer and parser, so its error texts are Redis's
//! (`Expected comma or array end but found T_END at character 5`, ...), numbers are read as
//! C's `strtod` reads them (hex, `inf`, `nan`, leading zeros), and a NUL byte ends the input.
//! Invariants: nesting is limited to 1,000 levels both ways, with lua-cjson's errors
//! (`Found too many nested data structures (1001) at character N`, `Cannot serialise,
//! excessive nesting (1001)`); the decoder is iterative (no native recursion over input);
//! the encoder holds one mlua reference per nesting level, never one per element, and its
//! output buffer (Rust memory the Lua allocator does not see) is capped at the Lua memory
//! limit. Depends on mlua only.

use mlua::{LightUserData, Lua, Table, Value};

use crate::num::format_g;

use super::{arg_error, lua_type_name, packed_function, string_arg, NATIVE_BUFFER_LIMIT};

const MAX_DEPTH: usize = 1000;

fn null() -> Value {
    Value::LightUserData(LightUserData(std::ptr::null_mut()))
}

fn too_big() -> mlua::Error {
    mlua::Error::runtime("not enough memory")
}

fn escape(out: &mut Vec<u8>, s: &[u8]) -> mlua::Result<()> {
    out.push(b'"');
    for &b in s {
        if out.len() > NATIVE_BUFFER_LIMIT {
            return Err(too_big());
        }
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
    Ok(())
}

fn encode_number(out: &mut Vec<u8>, n: f64) -> mlua::Result<()> {
    if !n.is_finite() {
        return Err(mlua::Error::runtime(
            "Cannot serialise number: must not be NaN or Inf",
        ));
    }
    out.extend_from_slice(format_g(n, 14).as_bytes());
    Ok(())
}

/// `depth` counts the tables entered so far (lua-cjson's `current_depth`).
fn encode_value(out: &mut Vec<u8>, v: &Value, depth: usize) -> mlua::Result<()> {
    if out.len() > NATIVE_BUFFER_LIMIT {
        return Err(too_big());
    }
    match v {
        Value::Nil => out.extend_from_slice(b"null"),
        Value::LightUserData(p) if p.0.is_null() => out.extend_from_slice(b"null"),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Integer(n) => encode_number(out, *n as f64)?,
        Value::Number(n) => encode_number(out, *n)?,
        Value::String(s) => escape(out, &s.as_bytes())?,
        Value::Table(t) => {
            let depth = depth + 1;
            if depth > MAX_DEPTH {
                return Err(mlua::Error::runtime(format!(
                    "Cannot serialise, excessive nesting ({depth})"
                )));
            }
            encode_table(out, t, depth)?
        }
        other => {
            return Err(mlua::Error::runtime(format!(
                "Cannot serialise {}: type not supported",
                lua_type_name(other)
            )))
        }
    }
    Ok(())
}

/// lua-cjson's `lua_array_length`: `Some(max)` for an array, `None` for an object.
fn array_length(t: &Table) -> mlua::Result<Option<usize>> {
    let mut max = 0.0f64;
    let mut items = 0usize;
    let mut array = true;
    t.for_each::<Value, Value>(|k, _| {
        let k = match k {
            Value::Integer(n) => n as f64,
            Value::Number(n) => n,
            _ => {
                array = false;
                return Err(mlua::Error::runtime(""));
            }
        };
        if k.floor() == k && k >= 1.0 {
            max = max.max(k);
            items += 1;
            Ok(())
        } else {
            array = false;
            Err(mlua::Error::runtime(""))
        }
    })
    .or_else(|e| if array { Err(e) } else { Ok(()) })?;
    if !array {
        return Ok(None);
    }
    // encode_sparse_ratio 2, encode_sparse_safe 10, encode_sparse_convert off.
    if max > items as f64 * 2.0 && max > 10.0 {
        return Err(mlua::Error::runtime(
            "Cannot serialise table: excessively sparse array",
        ));
    }
    Ok(Some(max as usize))
}

fn encode_table(out: &mut Vec<u8>, t: &Table, depth: usize) -> mlua::Result<()> {
    match array_length(t)? {
        Some(len) if len > 0 => {
            out.push(b'[');
            for i in 1..=len {
                if i > 1 {
                    out.push(b',');
                }
                encode_value(out, &t.raw_get::<Value>(i)?, depth)?;
            }
            out.push(b']');
        }
        _ => {
            out.push(b'{');
            let mut first = true;
            t.for_each::<Value, Value>(|k, v| {
                if !first {
                    out.push(b',');
                }
                first = false;
                match &k {
                    Value::String(s) => escape(out, &s.as_bytes())?,
                    Value::Integer(n) => {
                        out.push(b'"');
                        encode_number(out, *n as f64)?;
                        out.push(b'"');
                    }
                    Value::Number(n) => {
                        out.push(b'"');
                        encode_number(out, *n)?;
                        out.push(b'"');
                    }
                    other => {
                        return Err(mlua::Error::runtime(format!(
                            "Cannot serialise {}: table key must be a number or string",
                            lua_type_name(other)
                        )))
                    }
                }
                out.push(b':');
                encode_value(out, &v, depth)
            })?;
            out.push(b'}');
        }
    }
    Ok(())
}

/// lua-cjson's tokens; `Error` carries the token error text.
#[derive(Debug, Clone, PartialEq)]
enum Token {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    Str(Vec<u8>),
    Number(f64),
    Boolean(bool),
    Null,
    Colon,
    Comma,
    End,
    Error(&'static str),
}

impl Token {
    fn found(&self) -> &'static str {
        match self {
            Token::ObjBegin => "T_OBJ_BEGIN",
            Token::ObjEnd => "T_OBJ_END",
            Token::ArrBegin => "T_ARR_BEGIN",
            Token::ArrEnd => "T_ARR_END",
            Token::Str(_) => "T_STRING",
            Token::Number(_) => "T_NUMBER",
            Token::Boolean(_) => "T_BOOLEAN",
            Token::Null => "T_NULL",
            Token::Colon => "T_COLON",
            Token::Comma => "T_COMMA",
            Token::End => "T_END",
            Token::Error(what) => what,
        }
    }
}

/// C's `strtod` on the longest valid prefix of `s`: `(value, bytes consumed)`.
pub(crate) fn strtod(s: &[u8]) -> Option<(f64, usize)> {
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let starts_ci = |i: usize, word: &[u8]| {
        s.get(i..i + word.len())
            .is_some_and(|w| w.eq_ignore_ascii_case(word))
    };
    let mut i = 0;
    let negative = at(0) == b'-';
    if at(0) == b'-' || at(0) == b'+' {
        i = 1;
    }
    let sign = if negative { -1.0 } else { 1.0 };
    if starts_ci(i, b"inf") {
        let len = if starts_ci(i, b"infinity") { 8 } else { 3 };
        return Some((sign * f64::INFINITY, i + len));
    }
    if starts_ci(i, b"nan") {
        let mut end = i + 3;
        if at(end) == b'(' {
            let mut j = end + 1;
            while at(j).is_ascii_alphanumeric() || at(j) == b'_' {
                j += 1;
            }
            if at(j) == b')' {
                end = j + 1;
            }
        }
        return Some((sign * f64::NAN, end));
    }
    if at(i) == b'0'
        && (at(i + 1) | 0x20) == b'x'
        && (at(i + 2).is_ascii_hexdigit() || (at(i + 2) == b'.' && at(i + 3).is_ascii_hexdigit()))
    {
        let mut j = i + 2;
        let mut value = 0.0f64;
        let mut scale = 0i32;
        while at(j).is_ascii_hexdigit() {
            value = value * 16.0 + f64::from((at(j) as char).to_digit(16).unwrap_or(0));
            j += 1;
        }
        if at(j) == b'.' {
            j += 1;
            while at(j).is_ascii_hexdigit() {
                value = value * 16.0 + f64::from((at(j) as char).to_digit(16).unwrap_or(0));
                scale = scale.saturating_sub(4);
                j += 1;
            }
        }
        if (at(j) | 0x20) == b'p' {
            let mut k = j + 1;
            let exp_negative = at(k) == b'-';
            if at(k) == b'-' || at(k) == b'+' {
                k += 1;
            }
            if at(k).is_ascii_digit() {
                let mut exp = 0i32;
                while at(k).is_ascii_digit() {
                    exp = exp
                        .saturating_mul(10)
                        .saturating_add(i32::from(at(k) - b'0'));
                    k += 1;
                }
                scale = scale.saturating_add(if exp_negative { -exp } else { exp });
                j = k;
            }
        }
        return Some((sign * value * 2f64.powi(scale), j));
    }
    let int_start = i;
    while at(i).is_ascii_digit() {
        i += 1;
    }
    let int_digits = &s[int_start..i];
    let mut frac_digits: &[u8] = &[];
    if at(i) == b'.' {
        let frac_start = i + 1;
        let mut j = frac_start;
        while at(j).is_ascii_digit() {
            j += 1;
        }
        frac_digits = &s[frac_start..j];
        if !int_digits.is_empty() || !frac_digits.is_empty() {
            i = j;
        }
    }
    if int_digits.is_empty() && frac_digits.is_empty() {
        return None;
    }
    let mut exponent: &[u8] = &[];
    if (at(i) | 0x20) == b'e' {
        let mut k = i + 1;
        if at(k) == b'-' || at(k) == b'+' {
            k += 1;
        }
        if at(k).is_ascii_digit() {
            while at(k).is_ascii_digit() {
                k += 1;
            }
            exponent = &s[i + 1..k];
            i = k;
        }
    }
    let mut text = String::with_capacity(int_digits.len() + frac_digits.len() + 24);
    text.push(if negative { '-' } else { '+' });
    text.push_str(std::str::from_utf8(int_digits).unwrap_or("0"));
    if int_digits.is_empty() {
        text.push('0');
    }
    text.push('.');
    text.push_str(std::str::from_utf8(frac_digits).unwrap_or("0"));
    text.push('0');
    if !exponent.is_empty() {
        // Rust rejects absurd exponents that strtod clamps; clamp them the same way.
        let exp = std::str::from_utf8(exponent).unwrap_or("0");
        let (neg, digits) = match exp.as_bytes().first() {
            Some(b'-') => (true, &exp[1..]),
            Some(b'+') => (false, &exp[1..]),
            _ => (false, exp),
        };
        let digits = digits.trim_start_matches('0');
        let digits = if digits.len() > 6 { "999999" } else { digits };
        text.push('e');
        if neg {
            text.push('-');
        }
        text.push_str(if digits.is_empty() { "0" } else { digits });
    }
    text.parse::<f64>().ok().map(|v| (v, i))
}

struct Parser<'a> {
    data: &'a [u8],
    pos: usize,
    /// Where the last token starts (0-based), for error messages.
    index: usize,
}

impl Parser<'_> {
    /// The byte at `i`; the input behaves as NUL-terminated, as the C string it is in Redis.
    fn at(&self, i: usize) -> u8 {
        self.data.get(i).copied().unwrap_or(0)
    }

    fn error(&mut self, what: &'static str) -> Token {
        self.index = self.pos;
        Token::Error(what)
    }

    fn next(&mut self) -> Token {
        while matches!(self.at(self.pos), b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
        self.index = self.pos;
        let ch = self.at(self.pos);
        let single = match ch {
            b'{' => Some(Token::ObjBegin),
            b'}' => Some(Token::ObjEnd),
            b'[' => Some(Token::ArrBegin),
            b']' => Some(Token::ArrEnd),
            b',' => Some(Token::Comma),
            b':' => Some(Token::Colon),
            0 => return Token::End,
            _ => None,
        };
        if let Some(token) = single {
            self.pos += 1;
            return token;
        }
        let rest = &self.data[self.pos.min(self.data.len())..];
        match ch {
            b'"' => self.string(),
            b'-' | b'0'..=b'9' | b'+' | b'i' | b'I' | b'n' | b'N' if !rest.starts_with(b"null") => {
                // decode_invalid_numbers is on: strtod reads hex, inf and nan too.
                let word_ok = ch.is_ascii_digit()
                    || ch == b'-'
                    || ch == b'+'
                    || rest.get(..3).is_some_and(|w| {
                        w.eq_ignore_ascii_case(b"inf") || w.eq_ignore_ascii_case(b"nan")
                    });
                if !word_ok {
                    return self.error("invalid token");
                }
                match strtod(rest) {
                    Some((n, used)) if used > 0 => {
                        self.pos += used;
                        Token::Number(n)
                    }
                    _ => self.error("invalid number"),
                }
            }
            _ if rest.starts_with(b"true") => {
                self.pos += 4;
                Token::Boolean(true)
            }
            _ if rest.starts_with(b"false") => {
                self.pos += 5;
                Token::Boolean(false)
            }
            _ if rest.starts_with(b"null") => {
                self.pos += 4;
                Token::Null
            }
            _ => self.error("invalid token"),
        }
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        let mut v = 0;
        for i in 0..4 {
            v = v * 16 + (self.at(at + i) as char).to_digit(16)?;
        }
        Some(v)
    }

    /// lua-cjson's `json_append_unicode_escape`, `self.pos` at the backslash.
    fn unicode_escape(&mut self, out: &mut Vec<u8>) -> bool {
        let Some(mut code) = self.hex4(self.pos + 2) else {
            return false;
        };
        let mut len = 6;
        if code & 0xF800 == 0xD800 {
            if code & 0x400 != 0 {
                return false;
            }
            if self.at(self.pos + 6) != b'\\' || self.at(self.pos + 7) != b'u' {
                return false;
            }
            let Some(low) = self.hex4(self.pos + 8) else {
                return false;
            };
            if low & 0xFC00 != 0xDC00 {
                return false;
            }
            code = (((code & 0x3FF) << 10) | (low & 0x3FF)) + 0x10000;
            len = 12;
        }
        // codepoint_to_utf8, surrogates and all.
        match code {
            0..=0x7F => out.push(code as u8),
            0x80..=0x7FF => out.extend([0xC0 | (code >> 6) as u8, 0x80 | (code & 0x3F) as u8]),
            0x800..=0xFFFF => out.extend([
                0xE0 | (code >> 12) as u8,
                0x80 | ((code >> 6) & 0x3F) as u8,
                0x80 | (code & 0x3F) as u8,
            ]),
            _ => out.extend([
                0xF0 | (code >> 18) as u8,
                0x80 | ((code >> 12) & 0x3F) as u8,
                0x80 | ((code >> 6) & 0x3F) as u8,
                0x80 | (code & 0x3F) as u8,
            ]),
        }
        self.pos += len;
        true
    }

    fn string(&mut self) -> Token {
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            let ch = self.at(self.pos);
            match ch {
                b'"' => break,
                0 => return self.error("unexpected end of string"),
                b'\\' => {
                    let translated = match self.at(self.pos + 1) {
                        b'"' => b'"',
                        b'\\' => b'\\',
                        b'/' => b'/',
                        b'b' => 0x08,
                        b't' => b'\t',
                        b'n' => b'\n',
                        b'f' => 0x0c,
                        b'r' => b'\r',
                        b'u' => {
                            if self.unicode_escape(&mut out) {
                                continue;
                            }
                            return self.error("invalid unicode escape code");
                        }
                        _ => return self.error("invalid escape code"),
                    };
                    out.push(translated);
                    self.pos += 2;
                }
                other => {
                    out.push(other);
                    self.pos += 1;
                }
            }
        }
        self.pos += 1;
        Token::Str(out)
    }

    fn expected(&self, what: &str, token: &Token) -> mlua::Error {
        mlua::Error::runtime(format!(
            "Expected {what} but found {} at character {}",
            token.found(),
            self.index + 1
        ))
    }
}

/// An open array or object while decoding: its table and where the next item goes.
enum Open {
    Array(Table, i64),
    Object(Table, Value),
}

/// lua-cjson's `json_decode`, iteratively.
fn decode(lua: &Lua, data: &[u8]) -> mlua::Result<Value> {
    if data.len() >= 2 && (data[0] == 0 || data[1] == 0) {
        return Err(mlua::Error::runtime(
            "JSON parser does not support UTF-16 or UTF-32",
        ));
    }
    let mut p = Parser {
        data,
        pos: 0,
        index: 0,
    };
    let mut open: Vec<Open> = Vec::new();
    let mut token = p.next();
    loop {
        // `token` starts a value.
        let mut value = match token {
            Token::Str(s) => Value::String(lua.create_string(&s)?),
            Token::Number(n) => Value::Number(n),
            Token::Boolean(b) => Value::Boolean(b),
            Token::Null => null(),
            Token::ArrBegin | Token::ObjBegin => {
                let depth = open.len() + 1;
                if depth > MAX_DEPTH {
                    return Err(mlua::Error::runtime(format!(
                        "Found too many nested data structures ({depth}) at character {}",
                        p.pos
                    )));
                }
                let t = lua.create_table()?;
                let array = token == Token::ArrBegin;
                token = p.next();
                if array {
                    if token == Token::ArrEnd {
                        Value::Table(t)
                    } else {
                        open.push(Open::Array(t, 1));
                        continue;
                    }
                } else if token == Token::ObjEnd {
                    Value::Table(t)
                } else {
                    let key = object_key(lua, &mut p, &token)?;
                    open.push(Open::Object(t, key));
                    token = p.next();
                    continue;
                }
            }
            other => return Err(p.expected("value", &other)),
        };
        // A complete value: store it in its container, closing containers as they end.
        loop {
            match open.last_mut() {
                None => {
                    let end = p.next();
                    if end != Token::End {
                        return Err(p.expected("the end", &end));
                    }
                    return Ok(value);
                }
                Some(Open::Array(t, i)) => {
                    t.raw_set(*i, value)?;
                    *i += 1;
                    token = p.next();
                    if token == Token::ArrEnd {
                        let Some(Open::Array(t, _)) = open.pop() else {
                            return Err(mlua::Error::runtime("cjson: inconsistent parser state"));
                        };
                        value = Value::Table(t);
                        continue;
                    }
                    if token != Token::Comma {
                        return Err(p.expected("comma or array end", &token));
                    }
                    token = p.next();
                    break;
                }
                Some(Open::Object(t, key)) => {
                    t.raw_set(std::mem::replace(key, Value::Nil), value)?;
                    token = p.next();
                    if token == Token::ObjEnd {
                        let Some(Open::Object(t, _)) = open.pop() else {
                            return Err(mlua::Error::runtime("cjson: inconsistent parser state"));
                        };
                        value = Value::Table(t);
                        continue;
                    }
                    if token != Token::Comma {
                        return Err(p.expected("comma or object end", &token));
                    }
                    token = p.next();
                    *key = object_key(lua, &mut p, &token)?;
                    token = p.next();
                    break;
                }
            }
        }
    }
}

/// An object key (`token`) and the colon after it.
fn object_key(lua: &Lua, p: &mut Parser<'_>, token: &Token) -> mlua::Result<Value> {
    let Token::Str(key) = token else {
        return Err(p.expected("object key string", token));
    };
    let key = Value::String(lua.create_string(key)?);
    let colon = p.next();
    if colon != Token::Colon {
        return Err(p.expected("colon", &colon));
    }
    Ok(key)
}

pub fn install(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "encode",
        packed_function(lua, |lua, args| {
            if args.len() != 1 {
                return Err(arg_error(1, "encode", "expected 1 argument"));
            }
            let mut out = Vec::new();
            encode_value(&mut out, &args.get(1)?, 0)?;
            if out.len() > NATIVE_BUFFER_LIMIT {
                return Err(too_big());
            }
            Ok(Ok(Value::String(lua.create_string(&out)?)))
        })?,
    )?;
    t.raw_set(
        "decode",
        packed_function(lua, |lua, args| {
            if args.len() != 1 {
                return Err(arg_error(1, "decode", "expected 1 argument"));
            }
            let text = string_arg(&args.get(1)?, 1, "decode")?;
            Ok(Ok(decode(lua, &text)?))
        })?,
    )?;
    t.raw_set("null", null())?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_g() {
        assert_eq!(format_g(2.5, 14), "2.5");
        assert_eq!(format_g(10.0, 14), "10");
        assert_eq!(format_g(1e20, 14), "1e+20");
        assert_eq!(format_g(0.0001, 14), "0.0001");
        assert_eq!(format_g(0.00001, 14), "1e-05");
        assert_eq!(format_g(1.0 / 3.0, 14), "0.33333333333333");
        assert_eq!(format_g(0.1, 17), "0.10000000000000001");
        assert_eq!(format_g(9007199254740993.0, 17), "9007199254740992");
        assert_eq!(format_g(f64::INFINITY, 17), "inf");
    }

    #[test]
    fn strtod_prefixes() {
        assert_eq!(strtod(b"12abc"), Some((12.0, 2)));
        assert_eq!(strtod(b"1."), Some((1.0, 2)));
        assert_eq!(strtod(b"0x10"), Some((16.0, 4)));
        assert_eq!(strtod(b"-1.5e3,"), Some((-1500.0, 6)));
        assert_eq!(strtod(b"1e"), Some((1.0, 1)));
        assert_eq!(strtod(b"1e400").map(|(v, _)| v), Some(f64::INFINITY));
        assert_eq!(strtod(b"Infinity"), Some((f64::INFINITY, 8)));
        assert!(strtod(b"nan").is_some_and(|(v, n)| v.is_nan() && n == 3));
        assert_eq!(strtod(b"-"), None);
        assert_eq!(strtod(b"."), None);
    }

    fn roundtrip(lua: &Lua, json: &str) -> Result<String, String> {
        let v = decode(lua, json.as_bytes()).map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        encode_value(&mut out, &v, 0).map_err(|e| e.to_string())?;
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    #[test]
    fn decode_matches_lua_cjson() {
        let lua = Lua::new();
        let ok = |json: &str, want: &str| assert_eq!(roundtrip(&lua, json).unwrap(), want);
        ok("[true,false,null]", "[true,false,null]");
        ok(" {\"a\":[1,2.5,\"x\\/y\"]} ", "{\"a\":[1,2.5,\"x\\/y\"]}");
        ok("\"\\u00e9\\ud83d\\ude00\"", "\"\u{e9}\u{1f600}\"");
        ok("01", "1");
        ok("0x10", "16");
        ok("[1]\0trailing", "[1]");
        ok("-0", "-0");
        let err = |json: &str, want: &str| {
            let e = roundtrip(&lua, json).unwrap_err();
            assert!(e.contains(want), "{json:?}: {e}");
        };
        err(
            "[1,2",
            "Expected comma or array end but found T_END at character 5",
        );
        err(
            "[1 2]",
            "Expected comma or array end but found T_NUMBER at character 4",
        );
        err("", "Expected value but found T_END at character 1");
        err(" ", "Expected value but found T_END at character 2");
        err(
            "nul",
            "Expected value but found invalid token at character 1",
        );
        err(
            "{\"a\" 1}",
            "Expected colon but found T_NUMBER at character 6",
        );
        err(
            "{1:2}",
            "Expected object key string but found T_NUMBER at character 2",
        );
        err("[1,]", "Expected value but found T_ARR_END at character 4");
        err(
            "\"\\ud83d\"",
            "Expected value but found invalid unicode escape code at character 2",
        );
        err(
            "\"\\x\"",
            "Expected value but found invalid escape code at character 2",
        );
        err(
            "  [1]  x",
            "Expected the end but found invalid token at character 8",
        );
        err(
            "-",
            "Expected value but found invalid number at character 1",
        );
        err(
            ".5",
            "Expected value but found invalid token at character 1",
        );
        err(
            "\"abc",
            "Expected value but found unexpected end of string at character 5",
        );
        err(
            "[\"a\"] [1]",
            "Expected the end but found T_ARR_BEGIN at character 7",
        );
        err(
            "{\"a\":1",
            "Expected comma or object end but found T_END at character 7",
        );
        err("\0\0", "JSON parser does not support UTF-16 or UTF-32");
        err("1e400", "Cannot serialise number: must not be NaN or Inf");
    }

    #[test]
    fn nesting_limits() {
        let lua = Lua::new();
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        // The innermost empty table encodes as an object, as in lua-cjson.
        let back = format!("{}{{}}{}", "[".repeat(999), "]".repeat(999));
        assert_eq!(roundtrip(&lua, &deep(1000)).unwrap(), back);
        let e = roundtrip(&lua, &deep(1001)).unwrap_err();
        assert!(
            e.contains("Found too many nested data structures (1001) at character 1001"),
            "{e}"
        );
        // 200,000 levels: an error, not a native stack overflow.
        let e = roundtrip(&lua, &"[".repeat(200_000)).unwrap_err();
        assert!(e.contains("(1001) at character 1001"), "{e}");
        let objects = format!("{}1{}", "{\"a\":".repeat(1001), "}".repeat(1001));
        let e = roundtrip(&lua, &objects).unwrap_err();
        assert!(e.contains("(1001) at character 5001"), "{e}");

        let v: Value = lua.load("local t = {} t[1] = t return t").eval().unwrap();
        let e = encode_value(&mut Vec::new(), &v, 0).unwrap_err();
        assert!(e
            .to_string()
            .contains("Cannot serialise, excessive nesting (1001)"));
        let v: Value = lua
            .load("local t = {} local c = t for i = 1, 999 do c[1] = {} c = c[1] end return t")
            .eval()
            .unwrap();
        let mut out = Vec::new();
        encode_value(&mut out, &v, 0).unwrap();
        assert_eq!(out.len(), 2000);
    }

    #[test]
    fn encode_errors() {
        let lua = Lua::new();
        let enc = |script: &str| {
            let v: Value = lua.load(script).eval().unwrap();
            let mut out = Vec::new();
            encode_value(&mut out, &v, 0)
                .map(|_| String::from_utf8_lossy(&out).into_owned())
                .map_err(|e| e.to_string())
        };
        assert_eq!(enc("return {}").unwrap(), "{}");
        assert_eq!(enc("return {[1]=1,[3]=3}").unwrap(), "[1,null,3]");
        assert!(enc("return {[1]=1,[20]=3}")
            .unwrap_err()
            .contains("Cannot serialise table: excessively sparse array"));
        assert!(enc("return {[true]=1}")
            .unwrap_err()
            .contains("Cannot serialise boolean: table key must be a number or string"));
        assert!(enc("return function() end")
            .unwrap_err()
            .contains("Cannot serialise function: type not supported"));
    }
}
