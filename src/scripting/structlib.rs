//! The `struct` library Redis gives scripts: `pack`, `unpack` and `size` of binary records
//! described by a format string (Roberto Ierusalimschy's struct.c semantics: `<` `>` `!`
//! endianness/alignment, `x` padding, `b B h H l L T i[n] I[n] f d s c[n]`).

use mlua::{Lua, MultiValue, Table, Value, Variadic};

#[derive(Clone, Copy)]
enum Item {
    Pad,
    Int {
        size: usize,
        signed: bool,
    },
    Float,
    Double,
    /// Zero-terminated string.
    ZString,
    /// Fixed-size chars.
    Chars(usize),
}

struct Format {
    little: bool,
    /// Maximum alignment set by `!` (1 = none).
    align: usize,
}

fn parse(fmt: &[u8]) -> mlua::Result<Vec<(Item, bool, usize)>> {
    let mut out = Vec::new();
    let mut state = Format {
        little: cfg!(target_endian = "little"),
        align: 1,
    };
    let mut i = 0;
    let number = |i: &mut usize| -> Option<usize> {
        let start = *i;
        while *i < fmt.len() && fmt[*i].is_ascii_digit() {
            *i += 1;
        }
        std::str::from_utf8(&fmt[start..*i]).ok()?.parse().ok()
    };
    while i < fmt.len() {
        let c = fmt[i];
        i += 1;
        let item = match c {
            b' ' => continue,
            b'<' => {
                state.little = true;
                continue;
            }
            b'>' => {
                state.little = false;
                continue;
            }
            b'=' => {
                state.little = cfg!(target_endian = "little");
                continue;
            }
            b'!' => {
                state.align = number(&mut i).unwrap_or(8);
                continue;
            }
            b'x' => Item::Pad,
            b'b' => Item::Int {
                size: 1,
                signed: true,
            },
            b'B' => Item::Int {
                size: 1,
                signed: false,
            },
            b'h' => Item::Int {
                size: 2,
                signed: true,
            },
            b'H' => Item::Int {
                size: 2,
                signed: false,
            },
            b'l' => Item::Int {
                size: 8,
                signed: true,
            },
            b'L' | b'T' => Item::Int {
                size: 8,
                signed: false,
            },
            b'i' | b'I' => {
                let size = number(&mut i).unwrap_or(4);
                if !(1..=8).contains(&size) {
                    return Err(mlua::Error::runtime(format!(
                        "integral size {size} is larger than limit of 8"
                    )));
                }
                Item::Int {
                    size,
                    signed: c == b'i',
                }
            }
            b'f' => Item::Float,
            b'd' => Item::Double,
            b's' => Item::ZString,
            b'c' => Item::Chars(number(&mut i).unwrap_or(1)),
            other => {
                return Err(mlua::Error::runtime(format!(
                    "invalid format option '{}'",
                    other as char
                )))
            }
        };
        out.push((item, state.little, state.align));
    }
    Ok(out)
}

fn natural_size(item: Item) -> usize {
    match item {
        Item::Int { size, .. } => size,
        Item::Float => 4,
        Item::Double => 8,
        _ => 1,
    }
}

fn padding(pos: usize, item: Item, align: usize) -> usize {
    let size = natural_size(item).min(align);
    if size <= 1 || matches!(item, Item::ZString | Item::Chars(_) | Item::Pad) {
        return 0;
    }
    (size - pos % size) % size
}

fn arg_error(n: usize, what: &str) -> mlua::Error {
    mlua::Error::runtime(format!("bad argument #{n} to 'pack' ({what})"))
}

fn pack(lua: &Lua, (fmt, args): (mlua::String, Variadic<Value>)) -> mlua::Result<mlua::String> {
    let mut out = Vec::new();
    let mut next = args.into_iter();
    let mut argn = 1;
    for (item, little, align) in parse(&fmt.as_bytes())? {
        out.resize(out.len() + padding(out.len(), item, align), 0);
        let mut number = |argn: &mut usize| -> mlua::Result<f64> {
            *argn += 1;
            match next.next() {
                Some(Value::Number(n)) => Ok(n),
                Some(Value::Integer(n)) => Ok(n as f64),
                Some(Value::String(s)) => s
                    .to_str()
                    .ok()
                    .and_then(|s| s.trim().parse().ok())
                    .ok_or_else(|| arg_error(*argn, "number expected")),
                _ => Err(arg_error(*argn, "number expected")),
            }
        };
        match item {
            Item::Pad => out.push(0),
            Item::Int { size, .. } => {
                let v = number(&mut argn)? as i64 as u64;
                let bytes = if little {
                    v.to_le_bytes()[..size].to_vec()
                } else {
                    v.to_be_bytes()[8 - size..].to_vec()
                };
                out.extend(bytes);
            }
            Item::Float => {
                let v = number(&mut argn)? as f32;
                out.extend(if little {
                    v.to_le_bytes()
                } else {
                    v.to_be_bytes()
                });
            }
            Item::Double => {
                let v = number(&mut argn)?;
                out.extend(if little {
                    v.to_le_bytes()
                } else {
                    v.to_be_bytes()
                });
            }
            Item::ZString | Item::Chars(_) => {
                argn += 1;
                let s = match next.next() {
                    Some(Value::String(s)) => s.as_bytes().to_vec(),
                    Some(Value::Number(n)) => crate::num::format_double(n).into_bytes(),
                    _ => return Err(arg_error(argn, "string expected")),
                };
                if let Item::Chars(n) = item {
                    let mut field = s;
                    field.resize(n, 0);
                    out.extend(field);
                } else {
                    out.extend(s);
                    out.push(0);
                }
            }
        }
    }
    lua.create_string(&out)
}

fn unpack(
    lua: &Lua,
    (fmt, data, start): (mlua::String, mlua::String, Option<usize>),
) -> mlua::Result<MultiValue> {
    let data = data.as_bytes();
    let mut pos = start.unwrap_or(1).saturating_sub(1);
    let mut values = Vec::new();
    let short = || mlua::Error::runtime("bad argument #2 to 'unpack' (data string too short)");
    for (item, little, align) in parse(&fmt.as_bytes())? {
        pos += padding(pos, item, align);
        let take = |pos: usize, n: usize| data.get(pos..pos + n).ok_or_else(short);
        match item {
            Item::Pad => pos += 1,
            Item::Int { size, signed } => {
                let raw = take(pos, size)?;
                let mut buf = [0u8; 8];
                if little {
                    buf[..size].copy_from_slice(raw);
                } else {
                    buf[8 - size..].copy_from_slice(raw);
                }
                let mut v = if little {
                    u64::from_le_bytes(buf)
                } else {
                    u64::from_be_bytes(buf)
                };
                let value = if signed && size < 8 && v >> (size * 8 - 1) & 1 == 1 {
                    v |= u64::MAX << (size * 8);
                    v as i64 as f64
                } else if signed {
                    v as i64 as f64
                } else {
                    v as f64
                };
                values.push(Value::Number(value));
                pos += size;
            }
            Item::Float => {
                let raw: [u8; 4] = take(pos, 4)?.try_into().map_err(|_| short())?;
                let v = if little {
                    f32::from_le_bytes(raw)
                } else {
                    f32::from_be_bytes(raw)
                };
                values.push(Value::Number(f64::from(v)));
                pos += 4;
            }
            Item::Double => {
                let raw: [u8; 8] = take(pos, 8)?.try_into().map_err(|_| short())?;
                let v = if little {
                    f64::from_le_bytes(raw)
                } else {
                    f64::from_be_bytes(raw)
                };
                values.push(Value::Number(v));
                pos += 8;
            }
            Item::ZString => {
                let rest = data.get(pos..).ok_or_else(short)?;
                let end = rest
                    .iter()
                    .position(|&b| b == 0)
                    .ok_or_else(|| mlua::Error::runtime("unfinished string in data"))?;
                values.push(Value::String(lua.create_string(&rest[..end])?));
                pos += end + 1;
            }
            Item::Chars(n) => {
                values.push(Value::String(lua.create_string(take(pos, n)?)?));
                pos += n;
            }
        }
    }
    values.push(Value::Number((pos + 1) as f64));
    Ok(MultiValue::from_vec(values))
}

fn size(_: &Lua, fmt: mlua::String) -> mlua::Result<f64> {
    let mut pos = 0;
    for (item, _, align) in parse(&fmt.as_bytes())? {
        pos += padding(pos, item, align);
        pos += match item {
            Item::ZString => {
                return Err(mlua::Error::runtime(
                    "options 'c0' - 's' have undefined sizes",
                ))
            }
            Item::Chars(n) => n,
            other => natural_size(other),
        };
    }
    Ok(pos as f64)
}

pub fn install(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set("pack", lua.create_function(pack)?)?;
    t.set("unpack", lua.create_function(unpack)?)?;
    t.set("size", lua.create_function(size)?)?;
    Ok(t)
}
