//! The `cmsgpack` library Redis gives scripts: `pack(...)` concatenates the MessagePack
//! encoding of each argument, `unpack(data)` returns every value it holds. Integral numbers
//! use the smallest integer encoding, others float32 when exact, else float64; tables whose
//! keys are 1..n are arrays, other tables maps.

use mlua::{Lua, MultiValue, Table, Value, Variadic};

fn pack_number(out: &mut Vec<u8>, n: f64) {
    if n.fract() == 0.0 && n.is_finite() && n.abs() < 9.2e18 {
        let i = n as i64;
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
    } else if f64::from(n as f32) == n || n.is_nan() {
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

fn pack_value(out: &mut Vec<u8>, v: &Value, depth: usize) -> mlua::Result<()> {
    match v {
        Value::Nil => out.push(0xc0),
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Number(n) => pack_number(out, *n),
        Value::Integer(n) => pack_number(out, *n as f64),
        Value::String(s) => {
            let bytes = s.as_bytes();
            pack_len(out, bytes.len(), (0xa0, 32), Some(0xd9), 0xda, 0xdb);
            out.extend_from_slice(&bytes);
        }
        Value::Table(t) if depth < 16 => {
            let len = t.raw_len();
            let pairs = t.pairs::<Value, Value>().count();
            if len > 0 && len == pairs {
                pack_len(out, len, (0x90, 16), None, 0xdc, 0xdd);
                for i in 1..=len {
                    pack_value(out, &t.raw_get::<Value>(i)?, depth + 1)?;
                }
            } else {
                pack_len(out, pairs, (0x80, 16), None, 0xde, 0xdf);
                for pair in t.pairs::<Value, Value>() {
                    let (k, v) = pair?;
                    pack_value(out, &k, depth + 1)?;
                    pack_value(out, &v, depth + 1)?;
                }
            }
        }
        // Too deep (or not packable): nil, as lua-cmsgpack does.
        _ => out.push(0xc0),
    }
    Ok(())
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

fn bad() -> mlua::Error {
    mlua::Error::runtime("Missing bytes in input.")
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> mlua::Result<&[u8]> {
        let s = self.data.get(self.pos..self.pos + n).ok_or_else(bad)?;
        self.pos += n;
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

    fn value(&mut self, lua: &Lua) -> mlua::Result<Value> {
        let tag = self.take(1)?[0];
        let num = |n: f64| Ok(Value::Number(n));
        match tag {
            0x00..=0x7f => num(f64::from(tag)),
            0xe0..=0xff => num(f64::from(tag as i8)),
            0xc0 => Ok(Value::Nil),
            0xc2 => Ok(Value::Boolean(false)),
            0xc3 => Ok(Value::Boolean(true)),
            0xcc => num(self.uint(1)? as f64),
            0xcd => num(self.uint(2)? as f64),
            0xce => num(self.uint(4)? as f64),
            0xcf => num(self.uint(8)? as f64),
            0xd0 => num(self.int(1)? as f64),
            0xd1 => num(self.int(2)? as f64),
            0xd2 => num(self.int(4)? as f64),
            0xd3 => num(self.int(8)? as f64),
            0xca => num(f64::from(f32::from_bits(self.uint(4)? as u32))),
            0xcb => num(f64::from_bits(self.uint(8)?)),
            0xa0..=0xbf => self.string(lua, usize::from(tag & 0x1f)),
            0xd9 | 0xc4 => {
                let n = self.uint(1)? as usize;
                self.string(lua, n)
            }
            0xda | 0xc5 => {
                let n = self.uint(2)? as usize;
                self.string(lua, n)
            }
            0xdb | 0xc6 => {
                let n = self.uint(4)? as usize;
                self.string(lua, n)
            }
            0x90..=0x9f => self.array(lua, usize::from(tag & 0x0f)),
            0xdc => {
                let n = self.uint(2)? as usize;
                self.array(lua, n)
            }
            0xdd => {
                let n = self.uint(4)? as usize;
                self.array(lua, n)
            }
            0x80..=0x8f => self.map(lua, usize::from(tag & 0x0f)),
            0xde => {
                let n = self.uint(2)? as usize;
                self.map(lua, n)
            }
            0xdf => {
                let n = self.uint(4)? as usize;
                self.map(lua, n)
            }
            _ => Err(mlua::Error::runtime("Bad data format in input.")),
        }
    }

    fn string(&mut self, lua: &Lua, n: usize) -> mlua::Result<Value> {
        let bytes = self.take(n)?.to_vec();
        Ok(Value::String(lua.create_string(&bytes)?))
    }

    fn array(&mut self, lua: &Lua, n: usize) -> mlua::Result<Value> {
        let t = lua.create_table()?;
        for i in 1..=n {
            t.raw_set(i, self.value(lua)?)?;
        }
        Ok(Value::Table(t))
    }

    fn map(&mut self, lua: &Lua, n: usize) -> mlua::Result<Value> {
        let t = lua.create_table()?;
        for _ in 0..n {
            let k = self.value(lua)?;
            let v = self.value(lua)?;
            if k != Value::Nil {
                t.raw_set(k, v)?;
            }
        }
        Ok(Value::Table(t))
    }
}

pub fn install(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set(
        "pack",
        lua.create_function(|lua, args: Variadic<Value>| {
            if args.is_empty() {
                return Err(mlua::Error::runtime("MessagePack pack needs input."));
            }
            let mut out = Vec::new();
            for v in args.iter() {
                pack_value(&mut out, v, 0)?;
            }
            lua.create_string(&out)
        })?,
    )?;
    t.set(
        "unpack",
        lua.create_function(|lua, data: mlua::String| {
            let bytes = data.as_bytes();
            let mut r = Reader {
                data: &bytes,
                pos: 0,
            };
            let mut values = Vec::new();
            while r.pos < bytes.len() {
                values.push(r.value(lua)?);
            }
            Ok(MultiValue::from_vec(values))
        })?,
    )?;
    Ok(t)
}
