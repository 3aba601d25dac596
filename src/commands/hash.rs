//! Hash commands.

use bytes::Bytes;
use rand::seq::IndexedRandom;

use super::{arg_f64, arg_i64, is, ok, Ctx};
use crate::error::{CmdError, CmdResult};
use crate::notify::HASH;
use crate::protocol::Reply;

fn field_pairs<'a>(args: &'a [Bytes], name: &str) -> CmdResult<Vec<(&'a [u8], &'a [u8])>> {
    if args.len() % 2 != 0 {
        return Err(CmdError::WrongArity(name.to_string()));
    }
    Ok(args[2..]
        .chunks_exact(2)
        .map(|c| (&c[0][..], &c[1][..]))
        .collect())
}

pub fn hset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let pairs = field_pairs(args, "hset")?;
    let added = ctx.storage().hset(ctx.db(), &args[1], &pairs, false)?;
    // Overwriting a field with its own value still counts, as in Redis.
    ctx.changed(HASH, "hset", &args[1]);
    Ok(Reply::Int(added))
}

pub fn hmset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let pairs = field_pairs(args, "hmset")?;
    ctx.storage().hset(ctx.db(), &args[1], &pairs, false)?;
    ctx.changed(HASH, "hset", &args[1]);
    ok()
}

pub fn hsetnx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let pairs = [(&args[2][..], &args[3][..])];
    let added = ctx.storage().hset(ctx.db(), &args[1], &pairs, true)?;
    if added > 0 {
        ctx.changed(HASH, "hset", &args[1]);
    }
    Ok(Reply::Int(added))
}

pub fn hget(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    Ok(Reply::bulk_opt(ctx.storage().hget(
        ctx.db(),
        &args[1],
        &args[2],
    )?))
}

pub fn hmget(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let fields: Vec<&[u8]> = args[2..].iter().map(|a| &a[..]).collect();
    let values = ctx.storage().hmget(ctx.db(), &args[1], &fields)?;
    Ok(Reply::Array(
        values.into_iter().map(Reply::bulk_opt).collect(),
    ))
}

pub fn hgetall(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let all = ctx.storage().hgetall(ctx.db(), &args[1])?;
    Ok(Reply::Map(
        all.into_iter()
            .map(|(f, v)| (Reply::bulk(f), Reply::bulk(v)))
            .collect(),
    ))
}

pub fn hkeys(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let all = ctx.storage().hgetall(ctx.db(), &args[1])?;
    Ok(Reply::bulks(all.into_iter().map(|(f, _)| f)))
}

pub fn hvals(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let all = ctx.storage().hgetall(ctx.db(), &args[1])?;
    Ok(Reply::bulks(all.into_iter().map(|(_, v)| v)))
}

pub fn hdel(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let fields: Vec<&[u8]> = args[2..].iter().map(|a| &a[..]).collect();
    let removed = ctx.storage().hdel(ctx.db(), &args[1], &fields)?;
    if removed > 0 {
        ctx.changed(HASH, "hdel", &args[1]);
        ctx.deleted_if_gone(&args[1])?;
    }
    Ok(Reply::Int(removed))
}

pub fn hexists(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    Ok(Reply::Int(i64::from(
        ctx.storage().hget(ctx.db(), &args[1], &args[2])?.is_some(),
    )))
}

pub fn hlen(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    Ok(Reply::Int(ctx.storage().hlen(ctx.db(), &args[1])? as i64))
}

pub fn hstrlen(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let len = ctx
        .storage()
        .hget(ctx.db(), &args[1], &args[2])?
        .map_or(0, |v| v.len());
    Ok(Reply::Int(len as i64))
}

pub fn hincrby(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let delta = arg_i64(&args[3])?;
    let value = ctx.storage().hincrby(ctx.db(), &args[1], &args[2], delta)?;
    ctx.changed(HASH, "hincrby", &args[1]);
    Ok(Reply::Int(value))
}

pub fn hincrbyfloat(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let delta = arg_f64(&args[3])?;
    let value = ctx
        .storage()
        .hincrbyfloat(ctx.db(), &args[1], &args[2], delta)?;
    ctx.changed(HASH, "hincrbyfloat", &args[1]);
    Ok(Reply::bulk(value))
}

pub fn hrandfield(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let with_values = match args.len() {
        2 | 3 => false,
        4 if is(&args[3], "WITHVALUES") => true,
        _ => return Err(CmdError::Syntax),
    };
    let all = ctx.storage().hgetall(ctx.db(), &args[1])?;
    let Some(count_arg) = args.get(2) else {
        return Ok(Reply::bulk_opt(
            all.choose(&mut rand::rng()).map(|(f, _)| f.clone()),
        ));
    };
    let count = arg_i64(count_arg)?;
    let picked: Vec<&(Vec<u8>, Vec<u8>)> = if count >= 0 {
        all.choose_multiple(&mut rand::rng(), count as usize)
            .collect()
    } else if all.is_empty() {
        Vec::new()
    } else {
        let n = count.unsigned_abs();
        if n > i64::MAX as u64 / 2 {
            return Err(CmdError::custom("ERR value is out of range"));
        }
        (0..n)
            .filter_map(|_| all.choose(&mut rand::rng()))
            .collect()
    };
    Ok(pairs_reply(
        ctx,
        picked.into_iter().map(|(f, v)| (f.clone(), v.clone())),
        with_values,
    ))
}

/// Field/value (or member/score) pairs: flat in RESP2, nested pairs in RESP3; fields only
/// without values.
pub fn pairs_reply(
    ctx: &Ctx<'_>,
    items: impl Iterator<Item = (Vec<u8>, Vec<u8>)>,
    with_values: bool,
) -> Reply {
    let mut out = Vec::new();
    for (f, v) in items {
        if !with_values {
            out.push(Reply::bulk(f));
        } else if ctx.client.resp3 {
            out.push(Reply::Array(vec![Reply::bulk(f), Reply::bulk(v)]));
        } else {
            out.push(Reply::bulk(f));
            out.push(Reply::bulk(v));
        }
    }
    Reply::Array(out)
}

/// Parsed `*SCAN` options shared by HSCAN, SSCAN and ZSCAN.
pub struct ScanArgs {
    pub cursor: u64,
    pub pattern: Option<Bytes>,
    pub count: usize,
    pub novalues: bool,
}

pub fn parse_scan_args(args: &[Bytes], allow_novalues: bool) -> CmdResult<ScanArgs> {
    let text = std::str::from_utf8(&args[2]).map_err(|_| CmdError::InvalidCursor)?;
    let cursor = text.parse::<u64>().map_err(|_| CmdError::InvalidCursor)?;
    let mut out = ScanArgs {
        cursor,
        pattern: None,
        count: 10,
        novalues: false,
    };
    let mut i = 3;
    while i < args.len() {
        if allow_novalues && is(&args[i], "NOVALUES") {
            out.novalues = true;
            i += 1;
            continue;
        }
        let Some(value) = args.get(i + 1) else {
            return Err(CmdError::Syntax);
        };
        if is(&args[i], "MATCH") {
            out.pattern = Some(value.clone());
        } else if is(&args[i], "COUNT") {
            let n = arg_i64(value)?;
            if n < 1 {
                return Err(CmdError::Syntax);
            }
            out.count = n as usize;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 2;
    }
    Ok(out)
}

pub fn hscan(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let scan = parse_scan_args(args, true)?;
    let now = crate::storage::now_ms();
    super::set::scan_collection(
        ctx,
        &args[1],
        crate::storage::encoding::KeyType::Hash,
        &scan,
        |f, raw| {
            let (value, expire) = crate::storage::types::hash::decode_field(&raw).ok()?;
            if expire != 0 && expire <= now {
                return None;
            }
            Some(if scan.novalues {
                vec![Reply::bulk(f)]
            } else {
                vec![Reply::bulk(f), Reply::bulk(value)]
            })
        },
    )
}

/// Parses `FIELDS numfields field [field ...]` starting at `args[at]`, which must run to the
/// end of the arguments.
fn fields_arg(args: &[Bytes], at: usize) -> CmdResult<Vec<&[u8]>> {
    if !args.get(at).is_some_and(|a| is(a, "FIELDS")) {
        return Err(CmdError::custom(
            "ERR Mandatory argument FIELDS is missing or not at the right position",
        ));
    }
    let n = args
        .get(at + 1)
        .and_then(|a| crate::num::parse_i64(a))
        .filter(|&n| n > 0)
        .ok_or_else(|| CmdError::custom("ERR Parameter `numFields` should be greater than 0"))?;
    if n as usize != args.len() - at - 2 {
        return Err(CmdError::custom(
            "ERR The `numfields` parameter must match the number of arguments",
        ));
    }
    Ok(args[at + 2..].iter().map(|a| &a[..]).collect())
}

/// The largest deadline Redis accepts for a field (2^48 - 1 ms).
const MAX_FIELD_DEADLINE_MS: i64 = (1 << 48) - 1;

fn hexpire_generic(
    ctx: &mut Ctx<'_>,
    args: &[Bytes],
    unit_ms: i64,
    relative: bool,
) -> CmdResult<Reply> {
    use crate::storage::keyspace::ExpireCondition as C;
    let value = arg_i64(&args[2])?;
    let invalid = || {
        CmdError::custom(format!(
            "ERR invalid expire time, must be >= 0 and <= {MAX_FIELD_DEADLINE_MS}"
        ))
    };
    if value < 0 {
        return Err(invalid());
    }
    let mut when = value.checked_mul(unit_ms).ok_or_else(invalid)?;
    if relative {
        when = when
            .checked_add(crate::storage::now_ms() as i64)
            .ok_or_else(invalid)?;
    }
    if when > MAX_FIELD_DEADLINE_MS {
        return Err(invalid());
    }
    let (cond, fields_at) = match args.get(3) {
        Some(a) if is(a, "NX") => (C::Nx, 4),
        Some(a) if is(a, "XX") => (C::Xx, 4),
        Some(a) if is(a, "GT") => (C::Gt, 4),
        Some(a) if is(a, "LT") => (C::Lt, 4),
        _ => (C::Always, 3),
    };
    let fields = fields_arg(args, fields_at)?;
    let results = ctx
        .storage()
        .hexpire(ctx.db(), &args[1], &fields, when as u64, cond)?;
    use crate::storage::types::hash::FieldExpire as F;
    // Redis 7.4+: `hdel` when a past deadline deleted fields, else `hexpire`.
    if results.contains(&F::Deleted) {
        ctx.changed(HASH, "hdel", &args[1]);
        ctx.deleted_if_gone(&args[1])?;
    } else if results.contains(&F::Set) {
        ctx.changed(HASH, "hexpire", &args[1]);
    }
    Ok(Reply::Array(
        results
            .into_iter()
            .map(|r| {
                Reply::Int(match r {
                    F::NoField => -2,
                    F::ConditionNotMet => 0,
                    F::Set => 1,
                    F::Deleted => 2,
                })
            })
            .collect(),
    ))
}

pub fn hexpire(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    hexpire_generic(ctx, args, 1000, true)
}
pub fn hpexpire(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    hexpire_generic(ctx, args, 1, true)
}
pub fn hexpireat(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    hexpire_generic(ctx, args, 1000, false)
}
pub fn hpexpireat(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    hexpire_generic(ctx, args, 1, false)
}

/// HTTL family: -2 no field, -1 no TTL, else `present(deadline_ms)`.
fn httl_generic(
    ctx: &mut Ctx<'_>,
    args: &[Bytes],
    present: impl Fn(u64) -> i64,
) -> CmdResult<Reply> {
    let fields = fields_arg(args, 2)?;
    let deadlines = ctx
        .storage()
        .hfield_deadlines(ctx.db(), &args[1], &fields)?;
    Ok(Reply::Array(
        deadlines
            .into_iter()
            .map(|d| {
                Reply::Int(match d {
                    None => -2,
                    Some(0) => -1,
                    Some(ms) => present(ms),
                })
            })
            .collect(),
    ))
}

pub fn httl(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let now = crate::storage::now_ms();
    httl_generic(ctx, args, |ms| {
        ((ms.saturating_sub(now) + 500) / 1000) as i64
    })
}
pub fn hpttl(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let now = crate::storage::now_ms();
    httl_generic(ctx, args, |ms| ms.saturating_sub(now) as i64)
}
pub fn hexpiretime(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    httl_generic(ctx, args, |ms| (ms / 1000) as i64)
}
pub fn hpexpiretime(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    httl_generic(ctx, args, |ms| ms as i64)
}

pub fn hpersist(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let fields = fields_arg(args, 2)?;
    let results = ctx.storage().hpersist(ctx.db(), &args[1], &fields)?;
    if results.contains(&1) {
        ctx.changed(HASH, "hpersist", &args[1]);
    }
    Ok(Reply::Array(results.into_iter().map(Reply::Int).collect()))
}

pub fn hgetdel(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let fields = fields_arg(args, 2)?;
    let values = ctx.storage().hgetdel(ctx.db(), &args[1], &fields)?;
    if values.iter().any(Option::is_some) {
        ctx.changed(HASH, "hdel", &args[1]);
        ctx.deleted_if_gone(&args[1])?;
    }
    Ok(Reply::Array(
        values.into_iter().map(Reply::bulk_opt).collect(),
    ))
}

/// Parses one optional TTL option (EX PX EXAT PXAT, plus PERSIST or KEEPTTL when allowed)
/// at `args[i]`; returns (deadline: None = untouched/keep, Some(0) = persist, next index).
fn ttl_option(
    args: &[Bytes],
    i: usize,
    extra: &str,
    command: &str,
) -> CmdResult<(Option<Option<u64>>, usize)> {
    let Some(opt) = args.get(i) else {
        return Ok((None, i));
    };
    if is(opt, extra) {
        return Ok((Some(if extra == "PERSIST" { Some(0) } else { None }), i + 1));
    }
    let (unit, relative) = match opt.to_ascii_uppercase().as_slice() {
        b"EX" => (1000, true),
        b"PX" => (1, true),
        b"EXAT" => (1000, false),
        b"PXAT" => (1, false),
        _ => return Ok((None, i)),
    };
    let value = args.get(i + 1).ok_or(CmdError::Syntax)?;
    let at = super::string::deadline_ms(value, unit, relative, command)?;
    Ok((Some(Some(at)), i + 2))
}

pub fn hgetex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let (ttl, next) = ttl_option(args, 2, "PERSIST", "hgetex")?;
    let fields = fields_arg(args, next)?;
    let deadline = ttl.flatten().or(ttl.map(|_| 0));
    let values = ctx
        .storage()
        .hgetex(ctx.db(), &args[1], &fields, deadline)?;
    if values.iter().any(Option::is_some) {
        ttl_events(ctx, &args[1], deadline)?;
    }
    Ok(Reply::Array(
        values.into_iter().map(Reply::bulk_opt).collect(),
    ))
}

pub fn hsetex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    use crate::storage::types::hash::FieldCondition;
    let mut i = 2;
    let mut cond = FieldCondition::Always;
    let mut ttl: Option<u64> = Some(0);
    while let Some(a) = args.get(i) {
        if is(a, "FNX") && cond == FieldCondition::Always {
            cond = FieldCondition::NoneExist;
            i += 1;
            continue;
        }
        if is(a, "FXX") && cond == FieldCondition::Always {
            cond = FieldCondition::AllExist;
            i += 1;
            continue;
        }
        let (parsed, next) = ttl_option(args, i, "KEEPTTL", "hsetex")?;
        match parsed {
            Some(t) => {
                ttl = t;
                i = next;
            }
            None => break,
        }
    }
    if !args.get(i).is_some_and(|a| is(a, "FIELDS")) {
        return Err(CmdError::custom(
            "ERR Mandatory argument FIELDS is missing or not at the right position",
        ));
    }
    let n = args
        .get(i + 1)
        .and_then(|a| crate::num::parse_i64(a))
        .filter(|&n| n > 0)
        .ok_or_else(|| CmdError::custom("ERR Parameter `numFields` should be greater than 0"))?;
    let rest = &args[i + 2..];
    if rest.len() != 2 * n as usize {
        return Err(CmdError::custom(
            "ERR The `numfields` parameter must match the number of arguments",
        ));
    }
    let pairs: Vec<(&[u8], &[u8])> = rest
        .chunks_exact(2)
        .map(|c| (&c[0][..], &c[1][..]))
        .collect();
    let set = ctx
        .storage()
        .hsetex(ctx.db(), &args[1], &pairs, cond, ttl)?;
    if set {
        ctx.changed(HASH, "hset", &args[1]);
        ttl_events(ctx, &args[1], ttl.filter(|&t| t != 0))?;
    }
    Ok(Reply::Int(i64::from(set)))
}

/// Events of HGETEX/HSETEX applying `deadline` to existing fields (Redis 8): `hpersist`
/// for 0, `hdel` (and `del` if the hash emptied) for a past one, else `hexpire`.
fn ttl_events(ctx: &mut Ctx<'_>, key: &Bytes, deadline: Option<u64>) -> CmdResult<()> {
    match deadline {
        None => {}
        Some(0) => ctx.changed(HASH, "hpersist", key),
        Some(t) if t <= crate::storage::now_ms() => {
            ctx.changed(HASH, "hdel", key);
            ctx.deleted_if_gone(key)?;
        }
        Some(_) => ctx.changed(HASH, "hexpire", key),
    }
    Ok(())
}
