//! String commands: argument parsing and reply shapes; semantics live in
//! `storage::types::string`.

use bytes::Bytes;

use super::{arg_f64, arg_i64, is, ok, Ctx};
use crate::error::{CmdError, CmdResult};
use crate::notify::{GENERIC, STRING};
use crate::protocol::Reply;
use crate::storage::now_ms;
use crate::storage::types::string::{lcs as compute_lcs, SetCondition, TtlChange};

/// `proto-max-bulk-len`, the largest string Redis lets a command build.
fn max_string_len(ctx: &Ctx<'_>) -> usize {
    ctx.state.config.get_int("proto-max-bulk-len").max(0) as usize
}

/// Converts a relative or absolute expire argument to absolute ms, with Redis's checks.
/// `unit_ms` is 1000 for seconds; `relative` adds the current time.
pub fn deadline_ms(arg: &[u8], unit_ms: i64, relative: bool, command: &str) -> CmdResult<u64> {
    let value = arg_i64(arg)?;
    let invalid = || CmdError::InvalidExpire(command.to_string());
    if value <= 0 {
        return Err(invalid());
    }
    let mut ms = value.checked_mul(unit_ms).ok_or_else(invalid)?;
    if relative {
        ms = ms.checked_add(now_ms() as i64).ok_or_else(invalid)?;
    }
    Ok(ms as u64)
}

pub fn get(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    Ok(Reply::bulk_opt(
        ctx.storage().get_string(ctx.db(), &args[1])?,
    ))
}

/// Options shared by `SET` and `GETEX`, parsed with Redis's rules: repeating an option is
/// allowed, combining conflicting ones (NX with XX, two different expiry forms, KEEPTTL or
/// PERSIST with an expiry) is a syntax error.
struct ExtendedArgs {
    cond: SetCondition,
    /// `None`: the command's default (SET clears the TTL, GETEX leaves it).
    ttl: Option<TtlChange>,
    get: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ExtendedCommand {
    Set,
    GetEx,
}

fn parse_extended(
    args: &[Bytes],
    start: usize,
    command: ExtendedCommand,
) -> CmdResult<ExtendedArgs> {
    let name = if command == ExtendedCommand::Set {
        "set"
    } else {
        "getex"
    };
    let mut out = ExtendedArgs {
        cond: SetCondition::Always,
        ttl: None,
        get: false,
    };
    // Which expiry keyword was used ("EX", "KEEPTTL", ...), to reject mixing forms.
    let mut ttl_kind: Option<&'static str> = None;
    let mut i = start;
    while i < args.len() {
        let opt = args[i].to_ascii_uppercase();
        let next = args.get(i + 1);
        let is_set = command == ExtendedCommand::Set;
        let same_or_no_ttl = |kind: &str| ttl_kind.is_none_or(|k| k == kind);
        match opt.as_slice() {
            b"NX" if is_set && out.cond != SetCondition::IfExists => {
                out.cond = SetCondition::IfMissing
            }
            b"XX" if is_set && out.cond != SetCondition::IfMissing => {
                out.cond = SetCondition::IfExists
            }
            b"GET" if is_set => out.get = true,
            b"KEEPTTL" if is_set && same_or_no_ttl("KEEPTTL") => {
                ttl_kind = Some("KEEPTTL");
                out.ttl = Some(TtlChange::Keep);
            }
            b"PERSIST" if !is_set && same_or_no_ttl("PERSIST") => {
                ttl_kind = Some("PERSIST");
                out.ttl = Some(TtlChange::Clear);
            }
            b"EX" | b"PX" | b"EXAT" | b"PXAT" => {
                let (kind, unit, relative) = match opt.as_slice() {
                    b"EX" => ("EX", 1000, true),
                    b"PX" => ("PX", 1, true),
                    b"EXAT" => ("EXAT", 1000, false),
                    _ => ("PXAT", 1, false),
                };
                let Some(value) = next.filter(|_| same_or_no_ttl(kind)) else {
                    return Err(CmdError::Syntax);
                };
                ttl_kind = Some(kind);
                out.ttl = Some(TtlChange::At(deadline_ms(value, unit, relative, name)?));
                i += 1;
            }
            _ => return Err(CmdError::Syntax),
        }
        i += 1;
    }
    Ok(out)
}

pub fn set(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let opts = parse_extended(args, 3, ExtendedCommand::Set)?;
    let ttl = opts.ttl.unwrap_or(TtlChange::Clear);
    let outcome =
        ctx.storage()
            .set_string(ctx.db(), &args[1], &args[2], opts.cond, ttl, opts.get)?;
    if outcome.written {
        ctx.changed(STRING, "set", &args[1]);
        if let TtlChange::At(_) = ttl {
            ctx.changed(GENERIC, "expire", &args[1]);
        }
    }
    Ok(if opts.get {
        Reply::bulk_opt(outcome.previous)
    } else if outcome.written {
        Reply::Ok
    } else {
        Reply::Nil
    })
}

pub fn setnx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let outcome = ctx.storage().set_string(
        ctx.db(),
        &args[1],
        &args[2],
        SetCondition::IfMissing,
        TtlChange::Clear,
        false,
    )?;
    if outcome.written {
        ctx.changed(STRING, "set", &args[1]);
    }
    Ok(Reply::Int(i64::from(outcome.written)))
}

fn set_with_ttl(ctx: &mut Ctx<'_>, args: &[Bytes], unit_ms: i64, name: &str) -> CmdResult<Reply> {
    let at = deadline_ms(&args[2], unit_ms, true, name)?;
    ctx.storage().set_string(
        ctx.db(),
        &args[1],
        &args[3],
        SetCondition::Always,
        TtlChange::At(at),
        false,
    )?;
    ctx.changed(STRING, "set", &args[1]);
    ctx.changed(GENERIC, "expire", &args[1]);
    ok()
}

pub fn setex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    set_with_ttl(ctx, args, 1000, "setex")
}

pub fn psetex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    set_with_ttl(ctx, args, 1, "psetex")
}

pub fn getset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let outcome = ctx.storage().set_string(
        ctx.db(),
        &args[1],
        &args[2],
        SetCondition::Always,
        TtlChange::Clear,
        true,
    )?;
    ctx.changed(STRING, "set", &args[1]);
    Ok(Reply::bulk_opt(outcome.previous))
}

pub fn getdel(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let value = ctx.storage().get_del_string(ctx.db(), &args[1])?;
    if value.is_some() {
        ctx.changed(GENERIC, "del", &args[1]);
    }
    Ok(Reply::bulk_opt(value))
}

pub fn getex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let opts = parse_extended(args, 2, ExtendedCommand::GetEx)?;
    // PERSIST reports only when there was a TTL to remove.
    let had_ttl = opts.ttl == Some(TtlChange::Clear)
        && ctx.observed()
        && matches!(
            ctx.storage().ttl(ctx.db(), &args[1]),
            Ok(crate::storage::keyspace::Ttl::At(_))
        );
    let value = ctx.storage().get_ex_string(ctx.db(), &args[1], opts.ttl)?;
    if value.is_some() {
        match opts.ttl {
            Some(TtlChange::At(ms)) if ms <= now_ms() => ctx.changed(GENERIC, "del", &args[1]),
            Some(TtlChange::At(_)) => ctx.changed(GENERIC, "expire", &args[1]),
            Some(TtlChange::Clear) if had_ttl => ctx.changed(GENERIC, "persist", &args[1]),
            _ => {}
        }
    }
    Ok(Reply::bulk_opt(value))
}

pub fn mget(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let storage = ctx.storage();
    let mut out = Vec::with_capacity(args.len() - 1);
    for key in &args[1..] {
        // MGET never fails on a wrong type: such keys read as nil.
        out.push(Reply::bulk_opt(
            storage.get_string(ctx.db(), key).ok().flatten(),
        ));
    }
    Ok(Reply::Array(out))
}

fn pairs(args: &[Bytes], name: &str) -> CmdResult<Vec<(Bytes, Bytes)>> {
    if args.len() % 2 == 0 {
        return Err(CmdError::WrongArity(name.to_string()));
    }
    Ok(args[1..]
        .chunks_exact(2)
        .map(|c| (c[0].clone(), c[1].clone()))
        .collect())
}

pub fn mset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let pairs = pairs(args, "mset")?;
    ctx.storage().set_strings(ctx.db(), &pairs, false)?;
    set_events(ctx, args);
    ok()
}

/// `set` for every key of an MSET/MSETNX, in argument order (a repeated key twice).
fn set_events(ctx: &mut Ctx<'_>, args: &[Bytes]) {
    for key in args[1..].iter().step_by(2) {
        ctx.changed(STRING, "set", key);
    }
}

pub fn msetnx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let pairs = pairs(args, "msetnx")?;
    let written = ctx.storage().set_strings(ctx.db(), &pairs, true)?;
    if written {
        set_events(ctx, args);
    }
    Ok(Reply::Int(i64::from(written)))
}

pub fn append(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let max = max_string_len(ctx);
    let len = ctx
        .storage()
        .append_string(ctx.db(), &args[1], &args[2], max)?;
    ctx.changed(STRING, "append", &args[1]);
    Ok(Reply::Int(len as i64))
}

pub fn strlen(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let len = ctx.storage().string_length(ctx.db(), &args[1])?;
    Ok(Reply::Int(len as i64))
}

fn incr_common(ctx: &mut Ctx<'_>, key: &Bytes, delta: i64) -> CmdResult<Reply> {
    let value = ctx.storage().incr_by(ctx.db(), key, delta)?;
    ctx.changed(STRING, "incrby", key);
    Ok(Reply::Int(value))
}

pub fn incr(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    incr_common(ctx, &args[1], 1)
}

pub fn decr(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    incr_common(ctx, &args[1], -1)
}

pub fn incrby(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let delta = arg_i64(&args[2])?;
    incr_common(ctx, &args[1], delta)
}

pub fn decrby(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let delta = arg_i64(&args[2])?;
    if delta == i64::MIN {
        return Err(CmdError::custom("ERR decrement would overflow"));
    }
    incr_common(ctx, &args[1], -delta)
}

pub fn incrbyfloat(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let delta = arg_f64(&args[2])?;
    let value = ctx.storage().incr_by_float(ctx.db(), &args[1], delta)?;
    ctx.changed(STRING, "incrbyfloat", &args[1]);
    Ok(Reply::bulk(value))
}

pub fn getrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let start = arg_i64(&args[2])?;
    let end = arg_i64(&args[3])?;
    let storage = ctx.storage();
    let len = storage.string_length(ctx.db(), &args[1])?;
    let Some((s, e)) = crate::num::string_range(start, end, len as i64) else {
        return Ok(Reply::bulk(Vec::new()));
    };
    let bytes = storage.string_range(ctx.db(), &args[1], s as u64, (e - s + 1) as u64)?;
    Ok(Reply::bulk(bytes))
}

pub fn setrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let offset = arg_i64(&args[2])?;
    if offset < 0 {
        return Err(CmdError::OffsetOutOfRange);
    }
    let max = max_string_len(ctx);
    let len = ctx
        .storage()
        .set_range_string(ctx.db(), &args[1], offset as usize, &args[3], max)?;
    // An empty patch writes nothing, not even a missing key.
    if !args[3].is_empty() {
        ctx.changed(STRING, "setrange", &args[1]);
    }
    Ok(Reply::Int(len as i64))
}

pub fn lcs(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let (mut want_len, mut want_idx, mut with_match_len, mut min_len) = (false, false, false, 0i64);
    let mut i = 3;
    while i < args.len() {
        let opt = &args[i];
        if is(opt, "LEN") {
            want_len = true;
        } else if is(opt, "IDX") {
            want_idx = true;
        } else if is(opt, "WITHMATCHLEN") {
            with_match_len = true;
        } else if is(opt, "MINMATCHLEN") && i + 1 < args.len() {
            min_len = arg_i64(&args[i + 1])?.max(0);
            i += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    if want_len && want_idx {
        return Err(CmdError::custom(
            "ERR If you want both the length and indexes, please just use IDX.",
        ));
    }
    let storage = ctx.storage();
    let read = |key: &[u8]| match storage.get_string(ctx.db(), key) {
        Err(crate::error::StoreError::WrongType) => Err(CmdError::custom(
            "ERR The specified keys must contain string values",
        )),
        other => other.map(Option::unwrap_or_default).map_err(CmdError::from),
    };
    let (a, b) = (read(&args[1])?, read(&args[2])?);
    // The dynamic-programming table needs (|a|+1)*(|b|+1) cells of 4 bytes; Redis bounds it
    // by proto-max-bulk-len rather than risk exhausting memory.
    let cells = (a.len() as u128 + 1) * (b.len() as u128 + 1);
    if cells * 4 > max_string_len(ctx) as u128 {
        return Err(CmdError::custom(
            "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len",
        ));
    }
    let result = compute_lcs(&a, &b);
    if want_len {
        return Ok(Reply::Int(result.sequence.len() as i64));
    }
    if !want_idx {
        return Ok(Reply::bulk(result.sequence));
    }
    let range =
        |(s, e): (usize, usize)| Reply::Array(vec![Reply::Int(s as i64), Reply::Int(e as i64)]);
    let matches = result
        .matches
        .iter()
        .filter(|((s, e), _)| (e - s + 1) as i64 >= min_len)
        .map(|&(ra, rb)| {
            let mut entry = vec![range(ra), range(rb)];
            if with_match_len {
                entry.push(Reply::Int((ra.1 - ra.0 + 1) as i64));
            }
            Reply::Array(entry)
        })
        .collect();
    Ok(Reply::Map(vec![
        (Reply::bulk("matches"), Reply::Array(matches)),
        (Reply::bulk("len"), Reply::Int(result.sequence.len() as i64)),
    ]))
}
