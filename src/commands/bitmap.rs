//! Bitmap commands: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP (on string values).

use bytes::Bytes;

use super::{arg_i64, is, Ctx};
use crate::error::{CmdError, CmdResult};
use crate::notify::{GENERIC, STRING};
use crate::protocol::Reply;
use crate::storage::types::bitmap::{bit_at, bitop as combine, popcount, BitOp};

fn bit_offset(arg: &[u8], max_len: usize) -> CmdResult<u64> {
    let bad = || CmdError::custom("ERR bit offset is not an integer or out of range");
    let n = crate::num::parse_i64(arg).ok_or_else(bad)?;
    if n < 0 || (n as u64) >= (max_len as u64) * 8 {
        return Err(bad());
    }
    Ok(n as u64)
}

fn max_len(ctx: &Ctx<'_>) -> usize {
    ctx.state.config.get_int("proto-max-bulk-len").max(0) as usize
}

pub fn setbit(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let max = max_len(ctx);
    let offset = bit_offset(&args[2], max)?;
    let on = match &args[3][..] {
        b"1" => true,
        b"0" => false,
        _ => {
            return Err(CmdError::custom(
                "ERR bit is not an integer or out of range",
            ))
        }
    };
    // Redis reports a SETBIT that created or grew the string, or flipped the bit.
    let len_before = if ctx.observed() {
        ctx.storage().string_length(ctx.db(), &args[1])?
    } else {
        0
    };
    let old = ctx.storage().setbit(ctx.db(), &args[1], offset, on, max)?;
    if old != u8::from(on) || offset / 8 >= len_before {
        ctx.changed(STRING, "setbit", &args[1]);
    }
    Ok(Reply::Int(i64::from(old)))
}

pub fn getbit(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let offset = bit_offset(&args[2], max_len(ctx))?;
    let byte = ctx
        .storage()
        .string_range(ctx.db(), &args[1], offset / 8, 1)?;
    Ok(Reply::Int(i64::from(bit_at(&byte, offset % 8))))
}

/// Parses `[start end [BYTE|BIT]]` from `args[from..]`; `Some((start, end, bits))`.
fn range_args(args: &[Bytes], from: usize) -> CmdResult<Option<(i64, i64, bool)>> {
    match args.len() - from {
        0 => Ok(None),
        2 => Ok(Some((
            arg_i64(&args[from])?,
            arg_i64(&args[from + 1])?,
            false,
        ))),
        3 => {
            let bits = if is(&args[from + 2], "BIT") {
                true
            } else if is(&args[from + 2], "BYTE") {
                false
            } else {
                return Err(CmdError::Syntax);
            };
            Ok(Some((
                arg_i64(&args[from])?,
                arg_i64(&args[from + 1])?,
                bits,
            )))
        }
        _ => Err(CmdError::Syntax),
    }
}

pub fn bitcount(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let spec = range_args(args, 2)?;
    let value = ctx
        .storage()
        .get_string(ctx.db(), &args[1])?
        .unwrap_or_default();
    let count = match spec {
        None => popcount(&value),
        Some((start, end, false)) => match crate::num::string_range(start, end, value.len() as i64)
        {
            Some((s, e)) => popcount(&value[s as usize..=e as usize]),
            None => 0,
        },
        Some((start, end, true)) => {
            match crate::num::string_range(start, end, value.len() as i64 * 8) {
                Some((s, e)) => (s..=e).map(|b| u64::from(bit_at(&value, b as u64))).sum(),
                None => 0,
            }
        }
    };
    Ok(Reply::Int(count as i64))
}

pub fn bitpos(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let target = match &args[2][..] {
        b"1" => 1u8,
        b"0" => 0u8,
        _ => return Err(CmdError::custom("ERR The bit argument must be 1 or 0.")),
    };
    let (start, end, bits, end_given) = match args.len() {
        3 => (0, -1, false, false),
        4 => (arg_i64(&args[3])?, -1, false, false),
        _ => {
            let (s, e, b) = range_args(args, 3)?.ok_or(CmdError::Syntax)?;
            (s, e, b, true)
        }
    };
    let value = ctx.storage().get_string(ctx.db(), &args[1])?;
    let Some(value) = value else {
        return Ok(Reply::Int(if target == 1 { -1 } else { 0 }));
    };
    let unit_len = if bits {
        value.len() as i64 * 8
    } else {
        value.len() as i64
    };
    let Some((s, e)) = crate::num::string_range(start, end, unit_len) else {
        return Ok(Reply::Int(-1));
    };
    let (first_bit, last_bit) = if bits { (s, e) } else { (s * 8, e * 8 + 7) };
    for b in first_bit..=last_bit {
        if bit_at(&value, b as u64) == target {
            return Ok(Reply::Int(b));
        }
    }
    // Looking for a clear bit without an explicit end: the string is treated as padded
    // with zeros on the right, so the answer is the first bit after it.
    if target == 0 && !end_given {
        return Ok(Reply::Int(last_bit + 1));
    }
    Ok(Reply::Int(-1))
}

pub fn bitop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let op = if is(&args[1], "AND") {
        BitOp::And
    } else if is(&args[1], "OR") {
        BitOp::Or
    } else if is(&args[1], "XOR") {
        BitOp::Xor
    } else if is(&args[1], "NOT") {
        BitOp::Not
    } else {
        return Err(CmdError::Syntax);
    };
    if op == BitOp::Not && args.len() != 4 {
        return Err(CmdError::custom(
            "ERR BITOP NOT must be called with a single source key.",
        ));
    }
    let mut sources = Vec::with_capacity(args.len() - 3);
    for key in &args[3..] {
        sources.push(ctx.storage().get_string(ctx.db(), key)?.unwrap_or_default());
    }
    let result = combine(op, &sources);
    let len = result.len() as i64;
    let state = ctx.state;
    let storage = &state.storage;
    if result.is_empty() {
        if storage.delete_keys(ctx.db(), &[&args[2]])? > 0 {
            ctx.changed(GENERIC, "del", &args[2]);
        }
    } else {
        use crate::storage::types::string::{SetCondition, TtlChange};
        storage.set_string(
            ctx.db(),
            &args[2],
            &result,
            SetCondition::Always,
            TtlChange::Clear,
            false,
        )?;
        ctx.changed(STRING, "set", &args[2]);
    }
    Ok(Reply::Int(len))
}

use crate::storage::types::bitmap::{
    get_signed, get_unsigned, set_bits, signed_result, unsigned_result, Overflow,
};

/// One parsed BITFIELD operation.
enum FieldOp {
    Get {
        signed: bool,
        bits: u32,
        offset: u64,
    },
    Set {
        signed: bool,
        bits: u32,
        offset: u64,
        value: i64,
        ow: Overflow,
    },
    Incr {
        signed: bool,
        bits: u32,
        offset: u64,
        incr: i64,
        ow: Overflow,
    },
}

fn field_type(arg: &[u8]) -> CmdResult<(bool, u32)> {
    let bad = || {
        CmdError::custom("ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.")
    };
    let (signed, digits) = match arg.first() {
        Some(b'i') | Some(b'I') => (true, &arg[1..]),
        Some(b'u') | Some(b'U') => (false, &arg[1..]),
        _ => return Err(bad()),
    };
    let bits = crate::num::parse_i64(digits).ok_or_else(bad)?;
    if bits < 1 || (signed && bits > 64) || (!signed && bits > 63) {
        return Err(bad());
    }
    Ok((signed, bits as u32))
}

fn field_offset(arg: &[u8], bits: u32, max: usize) -> CmdResult<u64> {
    let bad = || CmdError::custom("ERR bit offset is not an integer or out of range");
    let (multiply, digits) = match arg.first() {
        Some(b'#') => (true, &arg[1..]),
        _ => (false, arg),
    };
    let n = crate::num::parse_i64(digits).ok_or_else(bad)?;
    if n < 0 {
        return Err(bad());
    }
    let offset = if multiply {
        (n as u64).checked_mul(u64::from(bits)).ok_or_else(bad)?
    } else {
        n as u64
    };
    if offset + u64::from(bits) > (max as u64) * 8 {
        return Err(bad());
    }
    Ok(offset)
}

fn parse_field_ops(args: &[Bytes], read_only: bool, max: usize) -> CmdResult<Vec<FieldOp>> {
    let mut ops = Vec::new();
    let mut ow = Overflow::Wrap;
    let mut i = 2;
    while i < args.len() {
        let a = &args[i];
        let remaining = args.len() - i - 1;
        if is(a, "GET") && remaining >= 2 {
            let (signed, bits) = field_type(&args[i + 1])?;
            let offset = field_offset(&args[i + 2], bits, max)?;
            ops.push(FieldOp::Get {
                signed,
                bits,
                offset,
            });
            i += 3;
        } else if is(a, "SET") && remaining >= 3 {
            let (signed, bits) = field_type(&args[i + 1])?;
            let offset = field_offset(&args[i + 2], bits, max)?;
            let value = arg_i64(&args[i + 3])?;
            ops.push(FieldOp::Set {
                signed,
                bits,
                offset,
                value,
                ow,
            });
            i += 4;
        } else if is(a, "INCRBY") && remaining >= 3 {
            let (signed, bits) = field_type(&args[i + 1])?;
            let offset = field_offset(&args[i + 2], bits, max)?;
            let incr = arg_i64(&args[i + 3])?;
            ops.push(FieldOp::Incr {
                signed,
                bits,
                offset,
                incr,
                ow,
            });
            i += 4;
        } else if is(a, "OVERFLOW") && remaining >= 1 {
            let mode = &args[i + 1];
            ow = if is(mode, "WRAP") {
                Overflow::Wrap
            } else if is(mode, "SAT") {
                Overflow::Sat
            } else if is(mode, "FAIL") {
                Overflow::Fail
            } else {
                return Err(CmdError::custom("ERR Invalid OVERFLOW type specified"));
            };
            i += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    if read_only && ops.iter().any(|op| !matches!(op, FieldOp::Get { .. })) {
        return Err(CmdError::custom(
            "ERR BITFIELD_RO only supports the GET subcommand",
        ));
    }
    Ok(ops)
}

/// Applies the operations to `value`, returning their replies.
fn run_field_ops(value: &mut Vec<u8>, ops: &[FieldOp]) -> Vec<Reply> {
    let mut replies = Vec::with_capacity(ops.len());
    let read = |v: &[u8], signed: bool, offset: u64, bits: u32| -> i64 {
        if signed {
            get_signed(v, offset, bits)
        } else {
            get_unsigned(v, offset, bits) as i64
        }
    };
    for op in ops {
        match *op {
            FieldOp::Get {
                signed,
                bits,
                offset,
            } => replies.push(Reply::Int(read(value, signed, offset, bits))),
            FieldOp::Set {
                signed,
                bits,
                offset,
                value: new,
                ow,
            } => {
                let old = read(value, signed, offset, bits);
                let result = if signed {
                    signed_result(new, 0, bits, ow).map(|v| v as u64)
                } else {
                    unsigned_result(new as u64, 0, bits, ow)
                };
                match result {
                    Some(v) => {
                        set_bits(value, offset, bits, v);
                        replies.push(Reply::Int(old));
                    }
                    None => replies.push(Reply::Nil),
                }
            }
            FieldOp::Incr {
                signed,
                bits,
                offset,
                incr,
                ow,
            } => {
                let result = if signed {
                    signed_result(get_signed(value, offset, bits), incr, bits, ow)
                        .map(|v| (v as u64, v))
                } else {
                    unsigned_result(get_unsigned(value, offset, bits), incr, bits, ow)
                        .map(|v| (v, v as i64))
                };
                match result {
                    Some((raw, shown)) => {
                        set_bits(value, offset, bits, raw);
                        replies.push(Reply::Int(shown));
                    }
                    None => replies.push(Reply::Nil),
                }
            }
        }
    }
    replies
}

fn bitfield_generic(ctx: &mut Ctx<'_>, args: &[Bytes], read_only: bool) -> CmdResult<Reply> {
    let max = max_len(ctx);
    let ops = parse_field_ops(args, read_only, max)?;
    let writes = ops.iter().any(|op| !matches!(op, FieldOp::Get { .. }));
    if !writes {
        let mut value = ctx
            .storage()
            .get_string(ctx.db(), &args[1])?
            .unwrap_or_default();
        return Ok(Reply::Array(run_field_ops(&mut value, &ops)));
    }
    // Like Redis, a write creates (and zero-extends) the string up front, even if an
    // OVERFLOW FAIL then leaves every field unchanged.
    let needed_bytes = ops
        .iter()
        .filter_map(|op| match *op {
            FieldOp::Set { bits, offset, .. } | FieldOp::Incr { bits, offset, .. } => {
                Some(((offset + u64::from(bits) - 1) / 8 + 1) as usize)
            }
            FieldOp::Get { .. } => None,
        })
        .max()
        .unwrap_or(0);
    let mut replies = Vec::new();
    ctx.storage()
        .edit_string(ctx.db(), &args[1], max, |current| {
            let mut value = current.unwrap_or_default();
            if value.len() < needed_bytes {
                value.resize(needed_bytes, 0);
            }
            replies = run_field_ops(&mut value, &ops);
            Ok(value)
        })?;
    // A SET or INCRBY that OVERFLOW FAIL refused answers nil and counts as no change.
    let changed = ops
        .iter()
        .zip(&replies)
        .any(|(op, reply)| !matches!(op, FieldOp::Get { .. }) && !matches!(reply, Reply::Nil));
    if changed {
        ctx.changed(STRING, "setbit", &args[1]);
    }
    Ok(Reply::Array(replies))
}

pub fn bitfield(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    bitfield_generic(ctx, args, false)
}

pub fn bitfield_ro(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    bitfield_generic(ctx, args, true)
}
