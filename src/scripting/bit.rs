//! The `bit` library (LuaBitOp) Redis gives scripts: 32-bit operations on Lua numbers, with
//! results normalised to signed 32-bit integers.

use mlua::{Lua, Table, Variadic};

/// LuaBitOp's conversion: round to an integer, keep the low 32 bits, read them as signed.
fn tobit(n: f64) -> i32 {
    let rounded = n.round_ties_even();
    (rounded.rem_euclid(4_294_967_296.0) as u64 as u32) as i32
}

fn fold(args: Variadic<f64>, op: fn(i32, i32) -> i32) -> mlua::Result<f64> {
    let mut it = args.into_iter();
    let first = it
        .next()
        .ok_or_else(|| mlua::Error::runtime("bad argument #1 (number expected, got no value)"))?;
    Ok(f64::from(it.fold(tobit(first), |acc, x| op(acc, tobit(x)))))
}

pub fn install(lua: &Lua) -> mlua::Result<Table> {
    let bit = lua.create_table()?;
    bit.set(
        "tobit",
        lua.create_function(|_, x: f64| Ok(f64::from(tobit(x))))?,
    )?;
    bit.set(
        "bnot",
        lua.create_function(|_, x: f64| Ok(f64::from(!tobit(x))))?,
    )?;
    bit.set(
        "band",
        lua.create_function(|_, a: Variadic<f64>| fold(a, |x, y| x & y))?,
    )?;
    bit.set(
        "bor",
        lua.create_function(|_, a: Variadic<f64>| fold(a, |x, y| x | y))?,
    )?;
    bit.set(
        "bxor",
        lua.create_function(|_, a: Variadic<f64>| fold(a, |x, y| x ^ y))?,
    )?;
    let shift = |f: fn(u32, u32) -> u32| {
        move |_: &Lua, (x, n): (f64, f64)| {
            Ok(f64::from(f(tobit(x) as u32, (tobit(n) & 31) as u32) as i32))
        }
    };
    bit.set("lshift", lua.create_function(shift(|x, n| x << n))?)?;
    bit.set("rshift", lua.create_function(shift(|x, n| x >> n))?)?;
    bit.set(
        "arshift",
        lua.create_function(shift(|x, n| ((x as i32) >> n) as u32))?,
    )?;
    bit.set("rol", lua.create_function(shift(|x, n| x.rotate_left(n)))?)?;
    bit.set("ror", lua.create_function(shift(|x, n| x.rotate_right(n)))?)?;
    bit.set(
        "bswap",
        lua.create_function(|_, x: f64| Ok(f64::from(tobit(x).swap_bytes())))?,
    )?;
    bit.set(
        "tohex",
        lua.create_function(|_, (x, n): (f64, Option<f64>)| {
            let n = n.map_or(8, tobit);
            let digits = n.unsigned_abs().min(8) as usize;
            let value = tobit(x) as u32;
            let text = if n < 0 {
                format!("{value:08X}")
            } else {
                format!("{value:08x}")
            };
            Ok(text[8 - digits..].to_string())
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
    }
}
