//! The `struct` library Redis gives scripts: `pack`, `unpack` and `size` of binary records
//! described by a format string (Roberto Ierusalimschy's struct.c as Redis vendors it: `<`
//! `>` `!n` endianness/alignment, `x` padding, `b B h H l L T i[n] I[n] f d s c[n]`).
//!
//! Invariants: sizes in the format go through struct.c's overflow check (`integral size
//! overflow`, at most 32-byte integers), a `cN` field takes N bytes of a string at least that
//! long (never pads a short one), so nothing is allocated from a number in the format alone;
//! the packed output (Rust memory) is capped at the Lua memory limit; results go back through
//! `trampoline::spread` and arguments come in through `trampoline::packed`, so thousands of
//! them hold no mlua reference each. Errors carry struct.c's texts. Depends on mlua and the
//! helpers of `scripting`.

use mlua::{Lua, Table, Value};

use super::convert::c_long_long;
use super::{
    arg_error, direct_function, number_arg, packed_function, spread_function, string_arg,
    NATIVE_BUFFER_LIMIT,
};

const MAX_INT_SIZE: usize = 32;
const MAX_ALIGN: usize = 8;
/// Lua 5.1's LUAI_MAXCSTACK.
const LUA_STACK_SLOTS: usize = 8000;

struct Header {
    little: bool,
    align: usize,
}

impl Header {
    fn new() -> Header {
        Header {
            little: cfg!(target_endian = "little"),
            align: 1,
        }
    }
}

/// A format string being read; it ends at its first NUL, as the C string it is in Redis.
struct Format<'a> {
    fmt: &'a [u8],
    pos: usize,
}

impl Format<'_> {
    fn next_opt(&mut self) -> Option<u8> {
        let c = *self.fmt.get(self.pos)?;
        if c == 0 {
            return None;
        }
        self.pos += 1;
        Some(c)
    }

    /// struct.c's `getnum`.
    fn number(&mut self, default: usize) -> mlua::Result<usize> {
        if !self.fmt.get(self.pos).is_some_and(u8::is_ascii_digit) {
            return Ok(default);
        }
        let mut a: i32 = 0;
        while let Some(&d) = self.fmt.get(self.pos).filter(|d| d.is_ascii_digit()) {
            let d = i32::from(d - b'0');
            if a > i32::MAX / 10 || a * 10 > i32::MAX - d {
                return Err(mlua::Error::runtime("integral size overflow"));
            }
            a = a * 10 + d;
            self.pos += 1;
        }
        Ok(a as usize)
    }

    /// struct.c's `optsize`.
    fn size(&mut self, opt: u8) -> mlua::Result<usize> {
        Ok(match opt {
            b'B' | b'b' => 1,
            b'H' | b'h' => 2,
            b'L' | b'l' | b'T' | b'd' => 8,
            b'f' => 4,
            b'x' => 1,
            b'c' => self.number(1)?,
            b'i' | b'I' => {
                let size = self.number(4)?;
                if size > MAX_INT_SIZE {
                    return Err(mlua::Error::runtime(format!(
                        "integral size {size} is larger than limit of {MAX_INT_SIZE}"
                    )));
                }
                size
            }
            _ => 0,
        })
    }

    /// struct.c's `controloptions`.
    fn control(&mut self, opt: u8, h: &mut Header, fname: &str) -> mlua::Result<()> {
        match opt {
            b' ' => {}
            b'>' => h.little = false,
            b'<' => h.little = true,
            b'!' => {
                let a = self.number(MAX_ALIGN)?;
                if !a.is_power_of_two() {
                    return Err(mlua::Error::runtime(format!(
                        "alignment {a} is not a power of 2"
                    )));
                }
                h.align = a;
            }
            other => {
                return Err(arg_error(
                    1,
                    fname,
                    &format!("invalid format option '{}'", char::from(other)),
                ))
            }
        }
        Ok(())
    }
}

/// struct.c's `gettoalign`.
fn to_align(len: usize, h: &Header, opt: u8, size: usize) -> usize {
    if size == 0 || opt == b'c' {
        return 0;
    }
    let size = size.min(h.align);
    size.wrapping_sub(len & (size - 1)) & (size - 1)
}

fn is_int(opt: u8) -> bool {
    matches!(
        opt,
        b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I'
    )
}

/// C's `(unsigned long long)` of a double as x86-64 code computes it.
fn c_ulong_long(n: f64) -> u64 {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if n < TWO_63 {
        c_long_long(n) as u64
    } else {
        (c_long_long(n - TWO_63) as u64) ^ (1 << 63)
    }
}

fn pack(lua: &Lua, args: &super::Args) -> mlua::Result<Value> {
    let fmt = args.string(1, "pack")?;
    // struct.c pushes a nil after the arguments: the first missing one is "nil".
    let number = |i: usize| {
        if i == args.len() + 1 {
            return Err(arg_error(i, "pack", "number expected, got nil"));
        }
        args.number(i, "pack")
    };
    let string = |i: usize| {
        if i == args.len() + 1 {
            return Err(arg_error(i, "pack", "string expected, got nil"));
        }
        args.string(i, "pack")
    };
    let mut f = Format { fmt: &fmt, pos: 0 };
    let mut h = Header::new();
    let mut out = Vec::new();
    let mut arg = 2;
    let mut total = 0usize;
    while let Some(opt) = f.next_opt() {
        if out.len() > NATIVE_BUFFER_LIMIT {
            return Err(mlua::Error::runtime("not enough memory"));
        }
        let mut size = f.size(opt)?;
        let align = to_align(total, &h, opt, size);
        total = total.wrapping_add(align);
        out.resize(out.len() + align, 0);
        match opt {
            _ if is_int(opt) => {
                let n = number(arg)?;
                arg += 1;
                let mut value = if n < 0.0 {
                    c_long_long(n) as u64
                } else {
                    c_ulong_long(n)
                };
                let mut bytes = vec![0u8; size];
                for i in 0..size {
                    let at = if h.little { i } else { size - 1 - i };
                    bytes[at] = (value & 0xff) as u8;
                    value >>= 8;
                }
                out.extend_from_slice(&bytes);
            }
            b'x' => out.push(0),
            b'f' => {
                let v = number(arg)? as f32;
                arg += 1;
                out.extend(if h.little {
                    v.to_le_bytes()
                } else {
                    v.to_be_bytes()
                });
            }
            b'd' => {
                let v = number(arg)?;
                arg += 1;
                out.extend(if h.little {
                    v.to_le_bytes()
                } else {
                    v.to_be_bytes()
                });
            }
            b'c' | b's' => {
                let s = string(arg)?;
                arg += 1;
                if size == 0 {
                    size = s.len();
                }
                if s.len() < size {
                    // struct.c reports the argument after the string (sic).
                    return Err(arg_error(arg, "pack", "string too short"));
                }
                out.extend_from_slice(&s[..size]);
                if opt == b's' {
                    out.push(0);
                    size += 1;
                }
            }
            _ => f.control(opt, &mut h, "pack")?,
        }
        total = total.wrapping_add(size);
    }
    Ok(Value::String(lua.create_string(&out)?))
}

/// struct.c's `getinteger`, wrapping like its 64-bit arithmetic does past 8 bytes.
fn get_integer(bytes: &[u8], little: bool, signed: bool) -> f64 {
    let size = bytes.len();
    let mut l: u64 = 0;
    for i in 0..size {
        let b = if little {
            bytes[size - 1 - i]
        } else {
            bytes[i]
        };
        l = (l << 8) | u64::from(b);
    }
    if !signed {
        return l as f64;
    }
    // x86 masks the shift count to 6 bits.
    let mask = u64::MAX << ((size * 8).wrapping_sub(1) % 64);
    if l & mask != 0 {
        l |= mask;
    }
    l as i64 as f64
}

fn unpack(lua: &Lua, args: &super::Args) -> mlua::Result<(Table, i64)> {
    let fmt = args.string(1, "unpack")?;
    let data = args.string(2, "unpack")?;
    let given = args.len();
    let start = match args.get(3)? {
        Value::Nil => 1.0,
        v => number_arg(&v, 3, "unpack")?,
    };
    let mut pos = c_long_long(start) as usize;
    if pos == 0 {
        return Err(arg_error(3, "unpack", "offset must be 1 or greater"));
    }
    pos -= 1;
    let ld = data.len();
    let short = || arg_error(2, "unpack", "data string too short");
    let results = lua.create_table()?;
    let mut n = 0usize;
    let mut f = Format { fmt: &fmt, pos: 0 };
    let mut h = Header::new();
    while let Some(opt) = f.next_opt() {
        let mut size = f.size(opt)?;
        pos = pos.wrapping_add(to_align(pos, &h, opt, size));
        if !(size <= ld && pos <= ld - size) {
            return Err(short());
        }
        // luaL_checkstack(L, 2, "too many results") with the arguments and results so far.
        if given + n + 2 > LUA_STACK_SLOTS {
            return Err(mlua::Error::runtime("stack overflow (too many results)"));
        }
        let field = &data[pos..pos + size];
        let value = match opt {
            _ if is_int(opt) => Some(Value::Number(get_integer(
                field,
                h.little,
                opt.is_ascii_lowercase(),
            ))),
            b'x' => None,
            b'f' => {
                let raw: [u8; 4] = field.try_into().map_err(|_| short())?;
                let v = if h.little {
                    f32::from_le_bytes(raw)
                } else {
                    f32::from_be_bytes(raw)
                };
                Some(Value::Number(f64::from(v)))
            }
            b'd' => {
                let raw: [u8; 8] = field.try_into().map_err(|_| short())?;
                let v = if h.little {
                    f64::from_le_bytes(raw)
                } else {
                    f64::from_be_bytes(raw)
                };
                Some(Value::Number(v))
            }
            b'c' => {
                if size == 0 {
                    let previous = if n == 0 {
                        None
                    } else {
                        match results.raw_get::<Value>(n)? {
                            Value::Integer(i) => Some(i as f64),
                            Value::Number(x) => Some(x),
                            Value::String(s) => s.to_str().ok().and_then(|s| s.trim().parse().ok()),
                            _ => None,
                        }
                    };
                    let Some(previous) = previous else {
                        return Err(mlua::Error::runtime("format 'c0' needs a previous size"));
                    };
                    results.raw_set(n, Value::Nil)?;
                    n -= 1;
                    size = c_ulong_long(previous) as usize;
                    if !(size <= ld && pos <= ld - size) {
                        return Err(short());
                    }
                }
                Some(Value::String(lua.create_string(&data[pos..pos + size])?))
            }
            b's' => {
                let rest = &data[pos..];
                let Some(end) = rest.iter().position(|&b| b == 0) else {
                    return Err(mlua::Error::runtime("unfinished string in data"));
                };
                size = end + 1;
                Some(Value::String(lua.create_string(&rest[..end])?))
            }
            _ => {
                f.control(opt, &mut h, "unpack")?;
                None
            }
        };
        if let Some(v) = value {
            n += 1;
            results.raw_set(n, v)?;
        }
        pos = pos.wrapping_add(size);
    }
    n += 1;
    results.raw_set(n, pos.wrapping_add(1) as f64)?;
    Ok((results, n as i64))
}

fn size(_: &Lua, fmt: Value) -> mlua::Result<f64> {
    let fmt = string_arg(&fmt, 1, "size")?;
    let mut f = Format { fmt: &fmt, pos: 0 };
    let mut h = Header::new();
    let mut pos = 0usize;
    while let Some(opt) = f.next_opt() {
        let size = f.size(opt)?;
        pos = pos.wrapping_add(to_align(pos, &h, opt, size));
        if opt == b's' {
            return Err(arg_error(1, "size", "option 's' has no fixed size"));
        } else if opt == b'c' && size == 0 {
            return Err(arg_error(1, "size", "option 'c0' has no fixed size"));
        }
        if !opt.is_ascii_alphanumeric() {
            f.control(opt, &mut h, "size")?;
        }
        pos = pos.wrapping_add(size);
    }
    Ok(pos as f64)
}

pub fn install(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "pack",
        packed_function(lua, |lua, args| Ok(Ok(pack(lua, args)?)))?,
    )?;
    t.raw_set("unpack", spread_function(lua, unpack)?)?;
    t.raw_set(
        "size",
        direct_function(lua, |lua, fmt: Value| size(lua, fmt).map(Value::Number))?,
    )?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(lua: &Lua, script: &str) -> Result<Value, String> {
        lua.load(script).eval::<Value>().map_err(|e| e.to_string())
    }

    fn lua() -> Lua {
        let lua = Lua::new();
        lua.globals().set("struct", install(&lua).unwrap()).unwrap();
        lua
    }

    #[test]
    fn sizes_from_the_format_allocate_nothing() {
        let lua = lua();
        let e = eval(&lua, "return struct.pack('c99999999999', 'ab')").unwrap_err();
        assert!(e.contains("integral size overflow"), "{e}");
        let e = eval(&lua, "return struct.pack('c2000000000', 'ab')").unwrap_err();
        assert!(
            e.contains("bad argument #3 to 'pack' (string too short)"),
            "{e}"
        );
        let e = eval(&lua, "return {struct.unpack('c2000000000', 'ab')}").unwrap_err();
        assert!(e.contains("data string too short"), "{e}");
        let e = eval(&lua, "return struct.pack('i33', 1)").unwrap_err();
        assert!(
            e.contains("integral size 33 is larger than limit of 32"),
            "{e}"
        );
    }

    #[test]
    fn like_struct_c() {
        let lua = lua();
        let s = |script: &str| match eval(&lua, script).unwrap() {
            Value::String(s) => s.as_bytes().to_vec(),
            other => panic!("{script}: {other:?}"),
        };
        assert_eq!(s("return struct.pack('c0', 'ab')"), b"ab");
        assert_eq!(s("return struct.pack('c2', 'abcd')"), b"ab");
        assert_eq!(s("return struct.pack('s', 'ab')"), b"ab\0");
        assert_eq!(
            s("return struct.pack('!4bi3', 1, 2)"),
            b"\x01\x00\x00\x02\x00\x00"
        );
        assert_eq!(
            s("return struct.pack('<i16', -1)"),
            [&[0xffu8; 8][..], &[0u8; 8]].concat()
        );
        assert_eq!(s("return struct.pack('b', 2^70)"), b"\x00");
        let n = |script: &str| match eval(&lua, script).unwrap() {
            Value::Integer(i) => i as f64,
            Value::Number(x) => x,
            other => panic!("{script}: {other:?}"),
        };
        assert_eq!(n("return struct.size('<i>h!4d')"), 16.0);
        assert_eq!(n("return struct.size('!4bi3')"), 6.0);
        assert_eq!(
            n("return (struct.unpack('<i16', struct.pack('<i16', -1)))"),
            -1.0
        );
        assert_eq!(
            n("return select(2, struct.unpack('<i16', struct.pack('<i16', -1)))"),
            17.0
        );
        assert_eq!(
            n("return (struct.unpack('<i9', string.rep('\\255', 9)))"),
            -1.0
        );
        assert_eq!(
            n("return select('#', struct.unpack('c1c0', '5abcdef'))"),
            2.0
        );
        assert_eq!(
            n("return select('#', struct.unpack(string.rep('b', 7997), string.rep('x', 8000)))"),
            7998.0
        );
        let e = eval(
            &lua,
            "return struct.unpack(string.rep('b', 7998), string.rep('x', 8000))",
        )
        .unwrap_err();
        assert!(e.contains("stack overflow (too many results)"), "{e}");
        let e = eval(&lua, "return struct.unpack('c0', 'ab')").unwrap_err();
        assert!(e.contains("format 'c0' needs a previous size"), "{e}");
        let e = eval(&lua, "return struct.unpack('b', 'ab', 0)").unwrap_err();
        assert!(
            e.contains("bad argument #3 to 'unpack' (offset must be 1 or greater)"),
            "{e}"
        );
        let e = eval(&lua, "return struct.pack('!3i', 1)").unwrap_err();
        assert!(e.contains("alignment 3 is not a power of 2"), "{e}");
        let e = eval(&lua, "return struct.pack('z', 1)").unwrap_err();
        assert!(
            e.contains("bad argument #1 to 'pack' (invalid format option 'z')"),
            "{e}"
        );
        let e = eval(&lua, "return struct.size('s')").unwrap_err();
        assert!(e.contains("option 's' has no fixed size"), "{e}");
    }
}
