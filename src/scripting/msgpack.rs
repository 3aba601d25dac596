//! The `cmsgpack` library Redis gives scripts (lua-cmsgpack as Redis vendors it): `pack(...)`
//! concatenates the MessagePack encoding of each argument; `unpack(data)` returns every value
//! it holds, `unpack_one(data [, offset])` and `unpack_limit(data, limit [, offset])` a few of
//! them after the offset to continue from (-1 once the input is consumed). Integral numbers
//! use the smallest integer encoding, others float32 when exact, else float64; a table whose
//! keys are exactly 1..n is an array, any other a map.
//!
//! Invariants:
//! - Packing nests at most 16 tables (deeper ones and cycles pack as nil, as lua-cmsgpack
//!   does) and refuses more than 4,000 arguments with lua-cmsgpack's error; its output buffer
//!   (Rust memory) is capped at the Lua memory limit.
//! - Unpacking is iterative: hostile nesting never recurses on the native stack. It accounts
//!   for Lua stack slots exactly as lua-cmsgpack's recursion uses them under Lua 5.1's
//!   8,000-slot limit, so it fails where Redis fails and with Redis's texts (`stack overflow
//!   (in function mp_decode_to_lua_array)` at 4,000 nested arrays, `stack overflow (too many
//!   return values at once; use unpack_one or unpack_limit instead.)`).
//! - Nothing is allocated from a length read in the input before the bytes are there: an
//!   array header claiming 2^32 elements creates an empty table and fails at the first
//!   missing element; a string is created only once all its bytes are present.
//! - Results go back through `trampoline::spread`, so thousands of values do not hold
//!   thousands of mlua references.
//!
//! Depends on mlua and the helpers of `scripting`.

use mlua::{Lua, Table, Value};

use super::{
    arg_error, bare_error, number_arg, packed_function, spread_function, Args, NATIVE_BUFFER_LIMIT,
};

/// LUACMSGPACK_MAX_NESTING.
const MAX_PACK_NESTING: usize = 16;
/// Lua 5.1's LUAI_MAXCSTACK: the stack slots a C function may use.
const LUA_STACK_SLOTS: i64 = 8000;
/// Containers decoding at once, at most: half of mlua's reference slots, so nesting through
/// map keys fails like nesting through values instead of exhausting them.
const MAX_OPEN_CONTAINERS: usize = 4000;
const TOO_MANY_VALUES: &str =
    "too many return values at once; use unpack_one or unpack_limit instead.";

fn pack_int(out: &mut Vec<u8>, i: i64) {
    if i >= 0 {
        let u = i as u64;
        match u {
            0..=0x7f => out.push(u as u8),
            0x80..=0xff => out.extend([0xcc, u as u8]),
            0x100..=0xffff => {
                out.push(0xcd);
                out.extend((u as u16).to_be_bytes());
            }
            0x1_0000..=0xffff_ffff => {
                out.push(0xce);
                out.extend((u as u32).to_be_bytes());
            }
            _ => {
                out.push(0xcf);
                out.extend(u.to_be_bytes());
            }
        }
    } else if i >= -32 {
        out.push(i as i8 as u8);
    } else if i >= -128 {
        out.extend([0xd0, i as i8 as u8]);
    } else if i >= -32768 {
        out.push(0xd1);
        out.extend((i as i16).to_be_bytes());
    } else if i >= i64::from(i32::MIN) {
        out.push(0xd2);
        out.extend((i as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend(i.to_be_bytes());
    }
}

fn pack_number(out: &mut Vec<u8>, n: f64) {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    // IS_INT64_EQUIVALENT.
    if n.is_finite() && n.fract() == 0.0 && (-TWO_63..TWO_63).contains(&n) {
        pack_int(out, n as i64);
    } else if f64::from(n as f32) == n {
        out.push(0xca);
        out.extend((n as f32).to_be_bytes());
    } else {
        out.push(0xcb);
        out.extend(n.to_be_bytes());
    }
}

fn pack_len(out: &mut Vec<u8>, len: usize, fix: (u8, usize), b8: Option<u8>, b16: u8, b32: u8) {
    if len < fix.1 {
        out.push(fix.0 | len as u8);
    } else if let Some(code) = b8.filter(|_| len <= 0xff) {
        out.extend([code, len as u8]);
    } else if len <= 0xffff {
        out.push(b16);
        out.extend((len as u16).to_be_bytes());
    } else {
        out.push(b32);
        out.extend((len as u32).to_be_bytes());
    }
}

/// lua-cmsgpack's `table_is_an_array`: every key a positive `int`, and as many keys as the
/// largest one. (An empty table is an array.)
fn is_array(t: &Table) -> mlua::Result<Option<usize>> {
    let mut count = 0usize;
    let mut max = 0usize;
    let mut array = true;
    let _ = t.for_each::<Value, Value>(|k, _| {
        let n = match k {
            Value::Integer(n) => n as f64,
            Value::Number(n) => n,
            _ => f64::NAN,
        };
        if n > 0.0 && n <= f64::from(i32::MAX) && n.fract() == 0.0 {
            max = max.max(n as usize);
            count += 1;
            Ok(())
        } else {
            array = false;
            // Stops the iteration early.
            Err(mlua::Error::runtime(""))
        }
    });
    Ok((array && max == count).then_some(count))
}

fn pack_value(out: &mut Vec<u8>, v: &Value, level: usize) -> mlua::Result<()> {
    if out.len() > NATIVE_BUFFER_LIMIT {
        return Err(mlua::Error::runtime("not enough memory"));
    }
    match v {
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Number(n) => pack_number(out, *n),
        Value::Integer(n) => pack_number(out, *n as f64),
        Value::String(s) => {
            let bytes = s.as_bytes();
            pack_len(out, bytes.len(), (0xa0, 32), Some(0xd9), 0xda, 0xdb);
            out.extend_from_slice(&bytes);
        }
        Value::Table(t) if level < MAX_PACK_NESTING => match is_array(t)? {
            Some(len) => {
                pack_len(out, len, (0x90, 16), None, 0xdc, 0xdd);
                for i in 1..=len {
                    pack_value(out, &t.raw_get::<Value>(i)?, level + 1)?;
                }
            }
            None => {
                let mut pairs = 0usize;
                t.for_each::<Value, Value>(|_, _| {
                    pairs += 1;
                    Ok(())
                })?;
                pack_len(out, pairs, (0x80, 16), None, 0xde, 0xdf);
                t.for_each::<Value, Value>(|k, v| {
                    pack_value(out, &k, level + 1)?;
                    pack_value(out, &v, level + 1)
                })?;
            }
        },
        // Nil, functions, userdata, and tables nested too deep (cycles) pack as nil.
        _ => out.push(0xc0),
    }
    Ok(())
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    /// Lua stack slots lua-cmsgpack would be using at this point.
    used: i64,
}

fn missing() -> mlua::Error {
    mlua::Error::runtime("Missing bytes in input.")
}

fn bad_format() -> mlua::Error {
    mlua::Error::runtime("Bad data format in input.")
}

/// A container being filled while unpacking.
enum Open {
    Array {
        t: Table,
        left: u64,
        index: i64,
    },
    Map {
        t: Table,
        left: u64,
        key: Option<Value>,
    },
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> mlua::Result<&[u8]> {
        let end = self.pos.checked_add(n).ok_or_else(missing)?;
        let s = self.data.get(self.pos..end).ok_or_else(missing)?;
        self.pos = end;
        Ok(s)
    }

    fn uint(&mut self, n: usize) -> mlua::Result<u64> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }

    fn int(&mut self, n: usize) -> mlua::Result<i64> {
        let u = self.uint(n)?;
        let shift = 64 - 8 * n as u32;
        Ok(((u << shift) as i64) >> shift)
    }

    /// `luaL_checkstack(L, n, what)` against the slots in use.
    fn check_stack(&self, n: i64, what: &str) -> mlua::Result<()> {
        if self.used + n > LUA_STACK_SLOTS {
            return Err(mlua::Error::runtime(format!("stack overflow ({what})")));
        }
        Ok(())
    }

    fn string(&mut self, lua: &Lua, n: usize) -> mlua::Result<Value> {
        let bytes = self.take(n)?;
        Ok(Value::String(lua.create_string(bytes)?))
    }

    /// Reads one item: a complete scalar, or an opened container (pushed on `open`).
    fn item(&mut self, lua: &Lua, open: &mut Vec<Open>) -> mlua::Result<Option<Value>> {
        self.check_stack(1, TOO_MANY_VALUES)?;
        let tag = self.take(1)?[0];
        let num = |n: f64| Ok(Some(Value::Number(n)));
        let container = |len: u64,
                         array: bool,
                         r: &mut Self,
                         open: &mut Vec<Open>|
         -> mlua::Result<Option<Value>> {
            // Every open container holds an mlua reference, and mlua has ~8,000 of them for
            // the whole VM: maps nested through their keys (`\x81\x81...`) cost one slot a
            // level in the count above, so they are capped by depth too.
            if open.len() >= MAX_OPEN_CONTAINERS {
                return Err(mlua::Error::runtime(format!(
                    "stack overflow ({TOO_MANY_VALUES})"
                )));
            }
            r.used += 1;
            let t = lua.create_table()?;
            if array {
                r.check_stack(1, "in function mp_decode_to_lua_array")?;
            }
            if len == 0 {
                return Ok(Some(Value::Table(t)));
            }
            if array {
                // The index pushed before each element.
                r.used += 1;
                open.push(Open::Array {
                    t,
                    left: len,
                    index: 1,
                });
            } else {
                open.push(Open::Map {
                    t,
                    left: len,
                    key: None,
                });
            }
            Ok(None)
        };
        let scalar = match tag {
            0x00..=0x7f => num(f64::from(tag)),
            0xe0..=0xff => num(f64::from(tag as i8)),
            0xc0 => Ok(Some(Value::Nil)),
            0xc2 => Ok(Some(Value::Boolean(false))),
            0xc3 => Ok(Some(Value::Boolean(true))),
            0xcc => num(self.uint(1)? as f64),
            0xcd => num(self.uint(2)? as f64),
            0xce => num(self.uint(4)? as f64),
            // lua_pushunsigned is lua_pushinteger on Lua 5.1: a uint64 wraps to signed.
            0xcf => num(self.uint(8)? as i64 as f64),
            0xd0 => num(self.int(1)? as f64),
            0xd1 => num(self.int(2)? as f64),
            0xd2 => num(self.int(4)? as f64),
            0xd3 => num(self.int(8)? as f64),
            0xca => num(f64::from(f32::from_bits(self.uint(4)? as u32))),
            0xcb => num(f64::from_bits(self.uint(8)?)),
            0xa0..=0xbf => self.string(lua, usize::from(tag & 0x1f)).map(Some),
            0xd9 => {
                let n = self.uint(1)? as usize;
                self.string(lua, n).map(Some)
            }
            0xda => {
                let n = self.uint(2)? as usize;
                self.string(lua, n).map(Some)
            }
            0xdb => {
                let n = self.uint(4)? as usize;
                self.string(lua, n).map(Some)
            }
            0x90..=0x9f => return container(u64::from(tag & 0x0f), true, self, open),
            0xdc => {
                let n = self.uint(2)?;
                return container(n, true, self, open);
            }
            0xdd => {
                let n = self.uint(4)?;
                return container(n, true, self, open);
            }
            0x80..=0x8f => return container(u64::from(tag & 0x0f), false, self, open),
            0xde => {
                let n = self.uint(2)?;
                return container(n, false, self, open);
            }
            0xdf => {
                let n = self.uint(4)?;
                return container(n, false, self, open);
            }
            _ => Err(bad_format()),
        };
        let value = scalar?;
        self.used += 1;
        Ok(value)
    }

    /// `mp_decode_to_lua_type`: one complete value; pushes one slot.
    fn value(&mut self, lua: &Lua) -> mlua::Result<Value> {
        let mut open: Vec<Open> = Vec::new();
        loop {
            let Some(mut value) = self.item(lua, &mut open)? else {
                continue;
            };
            loop {
                let Some(top) = open.last_mut() else {
                    return Ok(value);
                };
                let done = match top {
                    Open::Array { t, left, index } => {
                        t.raw_set(*index, value)?;
                        // The index and the element are popped by lua_settable.
                        self.used -= 2;
                        *left -= 1;
                        *index += 1;
                        if *left > 0 {
                            self.used += 1;
                        }
                        *left == 0
                    }
                    Open::Map { t, left, key } => match key.take() {
                        None => {
                            *key = Some(value);
                            break;
                        }
                        Some(k) => {
                            match &k {
                                Value::Nil => return Err(bare_error("table index is nil")),
                                Value::Number(n) if n.is_nan() => {
                                    return Err(bare_error("table index is NaN"))
                                }
                                _ => {}
                            }
                            t.raw_set(k, value)?;
                            self.used -= 2;
                            *left -= 1;
                            *left == 0
                        }
                    },
                };
                if !done {
                    break;
                }
                value = match open.pop() {
                    Some(Open::Array { t, .. }) | Some(Open::Map { t, .. }) => Value::Table(t),
                    None => return Err(bad_format()),
                };
            }
        }
    }
}

/// `mp_unpack_full`: up to `limit` values from `offset` (0 and 0: all of them, no offset in
/// the results). Returns the results table and how many it holds.
fn unpack_full(
    lua: &Lua,
    data: &[u8],
    limit: i64,
    offset: i64,
    slots: i64,
) -> mlua::Result<(Table, i64)> {
    let decode_all = limit == 0 && offset == 0;
    if offset < 0 || limit < 0 {
        return Err(mlua::Error::runtime(format!(
            "Invalid request to unpack with offset of {offset} and limit of {}.",
            data.len()
        )));
    }
    let start = usize::try_from(offset).unwrap_or(usize::MAX);
    if start > data.len() {
        return Err(mlua::Error::runtime(format!(
            "Start offset {offset} greater than input length {}.",
            data.len()
        )));
    }
    let limit = if decode_all { i64::MAX } else { limit };
    let results = lua.create_table()?;
    let mut r = Reader {
        data,
        pos: start,
        // The arguments left on lua-cmsgpack's stack.
        used: slots,
    };
    let mut count = 0i64;
    if !decode_all {
        count = 1;
    }
    let mut decoded = 0i64;
    while r.pos < data.len() && decoded < limit {
        let v = r.value(lua)?;
        count += 1;
        decoded += 1;
        results.raw_set(count, v)?;
    }
    if !decode_all {
        let next = if r.pos >= data.len() {
            -1
        } else {
            r.pos as i64
        };
        results.raw_set(1, next)?;
    }
    Ok((results, count))
}

/// `luaL_optinteger` / `luaL_checkinteger` as lua-cmsgpack reads them (into a C `int`).
fn int_arg(args: &Args, n: usize, fname: &str, default: Option<i64>) -> mlua::Result<i64> {
    let v = args.get(n)?;
    if let (Value::Nil, Some(d)) = (&v, default) {
        return Ok(d);
    }
    if n > args.len() {
        return Err(arg_error(n, fname, "number expected, got no value"));
    }
    let x = number_arg(&v, n, fname)?;
    Ok(super::convert::c_long_long(x) as i32 as i64)
}

pub fn install(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "pack",
        packed_function(lua, |lua, args| {
            let n = args.len();
            if n == 0 {
                return Err(arg_error(0, "pack", "MessagePack pack needs input."));
            }
            // lua_checkstack(L, nargs) with the nargs arguments already on the stack.
            if 2 * n as i64 > LUA_STACK_SLOTS {
                return Err(arg_error(
                    0,
                    "pack",
                    "Too many arguments for MessagePack pack.",
                ));
            }
            let mut out = Vec::new();
            for i in 1..=n {
                pack_value(&mut out, &args.get(i)?, 0)?;
            }
            if out.len() > NATIVE_BUFFER_LIMIT {
                return Err(mlua::Error::runtime("not enough memory"));
            }
            Ok(Ok(Value::String(lua.create_string(&out)?)))
        })?,
    )?;
    t.raw_set(
        "unpack",
        spread_function(lua, |lua, args| {
            let data = args.string(1, "unpack")?;
            unpack_full(lua, &data, 0, 0, args.len() as i64)
        })?,
    )?;
    t.raw_set(
        "unpack_one",
        spread_function(lua, |lua, args| {
            let offset = int_arg(args, 2, "unpack_one", Some(0))?;
            let data = args.string(1, "unpack_one")?;
            unpack_full(lua, &data, 1, offset, 1)
        })?,
    )?;
    t.raw_set(
        "unpack_limit",
        spread_function(lua, |lua, args| {
            let limit = int_arg(args, 2, "unpack_limit", None)?;
            let offset = int_arg(args, 3, "unpack_limit", Some(0))?;
            let data = args.string(1, "unpack_limit")?;
            unpack_full(lua, &data, limit, offset, 1)
        })?,
    )?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unpack(lua: &Lua, data: &[u8]) -> Result<Vec<Value>, String> {
        let (t, n) = unpack_full(lua, data, 0, 0, 1).map_err(|e| e.to_string())?;
        (1..=n)
            .map(|i| t.raw_get(i).map_err(|e| e.to_string()))
            .collect()
    }

    fn depth_of(v: &Value) -> usize {
        let mut d = 0;
        let mut v = v.clone();
        while let Value::Table(t) = v {
            d += 1;
            v = t.raw_get(1).unwrap();
        }
        d
    }

    #[test]
    fn deep_nesting_fails_where_redis_fails() {
        let lua = Lua::new();
        let nested = |n: usize, tag: &[u8]| {
            let mut d = tag.repeat(n);
            d.push(0xc0);
            d
        };
        let ok = unpack(&lua, &nested(3999, b"\x91")).unwrap();
        assert_eq!(depth_of(&ok[0]), 3999);
        let e = unpack(&lua, &nested(4000, b"\x91")).unwrap_err();
        assert!(
            e.contains("stack overflow (in function mp_decode_to_lua_array)"),
            "{e}"
        );
        // The input: 200,000 nested arrays. An error, not a native stack overflow.
        let e = unpack(&lua, &nested(200_000, b"\x91")).unwrap_err();
        assert!(
            e.contains("stack overflow (in function mp_decode_to_lua_array)"),
            "{e}"
        );
        // Maps: {1 = {1 = ...}}.
        assert!(unpack(&lua, &nested(3999, b"\x81\x01")).is_ok());
        let e = unpack(&lua, &nested(4000, b"\x81\x01")).unwrap_err();
        assert!(e.contains(TOO_MANY_VALUES), "{e}");
        // Top-level values.
        assert_eq!(unpack(&lua, &[1u8; 7999]).unwrap().len(), 7999);
        let e = unpack(&lua, &[1u8; 8000]).unwrap_err();
        assert!(e.contains(TOO_MANY_VALUES), "{e}");
        // Maps nested through their keys (the network fuzzer's input).
        let mut keys = vec![0x81u8; 100_000];
        keys.push(0xc0);
        let e = unpack(&lua, &keys).unwrap_err();
        assert!(e.contains(TOO_MANY_VALUES), "{e}");
    }

    #[test]
    fn lengths_from_the_input_allocate_nothing() {
        let lua = Lua::new();
        for header in [
            &b"\xdd\xff\xff\xff\xff"[..],
            b"\xdf\xff\xff\xff\xff",
            b"\xdb\xff\xff\xff\xff",
            b"\xdc\xff\xff",
            b"\x92\x01",
        ] {
            let before = lua.used_memory();
            let e = unpack(&lua, header).unwrap_err();
            assert!(e.contains("Missing bytes in input."), "{header:?}: {e}");
            assert!(lua.used_memory() < before + 64 * 1024);
        }
        assert!(unpack(&lua, b"\xc1")
            .unwrap_err()
            .contains("Bad data format in input."));
        assert!(unpack(&lua, b"\x81\xc0\x01")
            .unwrap_err()
            .contains("table index is nil"));
        assert!(unpack(&lua, b"").unwrap().is_empty());
    }

    #[test]
    fn pack_like_lua_cmsgpack() {
        let lua = Lua::new();
        let pack = |script: &str| {
            let v: Value = lua.load(script).eval().unwrap();
            let mut out = Vec::new();
            pack_value(&mut out, &v, 0).unwrap();
            out
        };
        assert_eq!(pack("return {}"), b"\x90");
        assert_eq!(pack("return {[1]=1,[3]=3}"), b"\x82\x01\x01\x03\x03");
        assert_eq!(
            pack("return -2^63"),
            b"\xd3\x80\x00\x00\x00\x00\x00\x00\x00"
        );
        assert_eq!(pack("return 2^64"), b"\xca\x5f\x80\x00\x00");
        assert_eq!(pack("return 0/0")[0], 0xcb);
        assert_eq!(pack("return 1.5"), b"\xca\x3f\xc0\x00\x00");
        let cyclic = pack("local t = {} t[1] = t return t");
        assert_eq!(cyclic, [&[0x91u8; 16][..], &[0xc0]].concat());
    }

    #[test]
    fn unpack_one_and_limit() {
        let lua = Lua::new();
        let run = |limit, offset| {
            let (t, n) = unpack_full(&lua, b"\x01\x02\x03", limit, offset, 1).unwrap();
            (1..=n)
                .map(|i| t.raw_get::<i64>(i).unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(run(1, 0), vec![1, 1]);
        assert_eq!(run(1, 2), vec![-1, 3]);
        assert_eq!(run(2, 0), vec![2, 1, 2]);
        assert_eq!(run(0, 0), vec![1, 2, 3]);
        assert_eq!(run(0, 1), vec![1]);
        assert_eq!(run(1, 3), vec![-1]);
        let e = unpack_full(&lua, b"\x01", 1, 4, 1).unwrap_err().to_string();
        assert!(
            e.contains("Start offset 4 greater than input length 1."),
            "{e}"
        );
    }
}
