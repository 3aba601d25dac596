//! The `bit` library (LuaBitOp) Redis gives scripts: 32-bit operations on Lua numbers, with
//! results normalised to signed 32-bit integers. `band`/`bor`/`bxor` take any number of
//! arguments through `trampoline::packed` (no mlua reference per argument); the others have
//! fixed arguments. Errors carry LuaBitOp's texts (`bad argument #1 to 'band' (number
//! expected, got no value)`). Depends on mlua and the helpers of `scripting`.

use mlua::{Lua, Table, Value};

use super::{direct_function, number_arg, packed_function};

/// LuaBitOp's conversion: round to an integer, keep the low 32 bits, read them as signed.
fn tobit(n: f64) -> i32 {
    let rounded = n.round_ties_even();
    if !rounded.is_finite() {
        return 0;
    }
    (rounded.rem_euclid(4_294_967_296.0) as u64 as u32) as i32
}

fn num(v: &Value, n: usize, fname: &str) -> mlua::Result<i32> {
    number_arg(v, n, fname).map(tobit)
}

fn result(x: i32) -> Value {
    Value::Number(f64::from(x))
}

fn fold(lua: &Lua, name: &'static str, op: fn(i32, i32) -> i32) -> mlua::Result<mlua::Function> {
    packed_function(lua, move |_, args| {
        let mut acc = tobit(args.number(1, name)?);
        for i in 2..=args.len() {
            acc = op(acc, tobit(args.number(i, name)?));
        }
        Ok(Ok(result(acc)))
    })
}

pub fn install(lua: &Lua) -> mlua::Result<Table> {
    let bit = lua.create_table()?;
    bit.raw_set(
        "tobit",
        direct_function(lua, |_, x: Value| Ok(result(num(&x, 1, "tobit")?)))?,
    )?;
    bit.raw_set(
        "bnot",
        direct_function(lua, |_, x: Value| Ok(result(!num(&x, 1, "bnot")?)))?,
    )?;
    bit.raw_set("band", fold(lua, "band", |x, y| x & y)?)?;
    bit.raw_set("bor", fold(lua, "bor", |x, y| x | y)?)?;
    bit.raw_set("bxor", fold(lua, "bxor", |x, y| x ^ y)?)?;
    let shift = |name: &'static str, f: fn(u32, u32) -> u32| {
        direct_function(lua, move |_, (x, n): (Value, Value)| {
            let x = num(&x, 1, name)? as u32;
            let n = (num(&n, 2, name)? & 31) as u32;
            Ok(result(f(x, n) as i32))
        })
    };
    bit.raw_set("lshift", shift("lshift", |x, n| x << n)?)?;
    bit.raw_set("rshift", shift("rshift", |x, n| x >> n)?)?;
    bit.raw_set(
        "arshift",
        shift("arshift", |x, n| ((x as i32) >> n) as u32)?,
    )?;
    bit.raw_set("rol", shift("rol", |x, n| x.rotate_left(n))?)?;
    bit.raw_set("ror", shift("ror", |x, n| x.rotate_right(n))?)?;
    bit.raw_set(
        "bswap",
        direct_function(lua, |_, x: Value| {
            Ok(result(num(&x, 1, "bswap")?.swap_bytes()))
        })?,
    )?;
    bit.raw_set(
        "tohex",
        direct_function(lua, |lua, (x, n): (Value, Value)| {
            let value = num(&x, 1, "tohex")? as u32;
            let n = if n.is_nil() { 8 } else { num(&n, 2, "tohex")? };
            let digits = n.unsigned_abs().min(8) as usize;
            let text = if n < 0 {
                format!("{value:08X}")
            } else {
                format!("{value:08x}")
            };
            Ok(Value::String(lua.create_string(&text[8 - digits..])?))
        })?,
    )?;
    Ok(bit)
}

#[cfg(test)]
mod tests {
    #[test]
    fn normalisation() {
        assert_eq!(super::tobit(4_294_967_296.0 + 5.0), 5);
        assert_eq!(super::tobit(-1.0), -1);
        assert_eq!(super::tobit(2_147_483_648.0), i32::MIN);
        assert_eq!(super::tobit(f64::NAN), 0);
    }
}
