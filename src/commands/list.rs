//! List commands, including the blocking family (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP).

use std::time::{Duration, Instant};

use bytes::Bytes;

use super::numkeys::mpop_keys;
use super::set::positive_count;
use super::{arg_i64, is, ok, Ctx};
use crate::blocking::BlockRequest;
use crate::error::{CmdError, CmdResult};
use crate::notify::LIST;
use crate::num::parse_f64;
use crate::protocol::Reply;
use crate::storage::types::list::End;

fn elems(args: &[Bytes]) -> Vec<&[u8]> {
    args.iter().map(|a| &a[..]).collect()
}

fn push(ctx: &mut Ctx<'_>, args: &[Bytes], end: End, only_existing: bool) -> CmdResult<Reply> {
    let len = ctx
        .storage()
        .push(ctx.db(), &args[1], &elems(&args[2..]), end, only_existing)?;
    // LPUSHX/RPUSHX of a missing key answer 0 and write nothing.
    if len > 0 {
        ctx.changed(LIST, push_event(end), &args[1]);
    }
    Ok(Reply::Int(len))
}

fn push_event(end: End) -> &'static str {
    match end {
        End::Left => "lpush",
        End::Right => "rpush",
    }
}

fn pop_event(end: End) -> &'static str {
    match end {
        End::Left => "lpop",
        End::Right => "rpop",
    }
}

/// Reports a pop of `popped` elements from `key` (and its deletion if that emptied it).
fn report_pop(ctx: &mut Ctx<'_>, key: &Bytes, end: End, n: usize) -> CmdResult<()> {
    if n > 0 {
        ctx.changed(LIST, pop_event(end), key);
        ctx.deleted_if_gone(key)?;
    }
    Ok(())
}

/// Reports an LMOVE that moved an element: the push to `dst`, then the pop from `src`, as
/// Redis orders them.
fn moved(ctx: &mut Ctx<'_>, src: &Bytes, dst: &Bytes, from: End, to: End) -> CmdResult<()> {
    ctx.changed(LIST, push_event(to), dst);
    report_pop(ctx, src, from, 1)
}

pub fn lpush(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    push(ctx, args, End::Left, false)
}
pub fn rpush(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    push(ctx, args, End::Right, false)
}
pub fn lpushx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    push(ctx, args, End::Left, true)
}
pub fn rpushx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    push(ctx, args, End::Right, true)
}

fn pop(ctx: &mut Ctx<'_>, args: &[Bytes], end: End) -> CmdResult<Reply> {
    match args.len() {
        2 => {
            let value = ctx.storage().pop(ctx.db(), &args[1], end, 1)?;
            report_pop(ctx, &args[1], end, value.len())?;
            Ok(Reply::bulk_opt(value.into_iter().next()))
        }
        3 => {
            let count = positive_count(&args[2])?;
            let popped = ctx.storage().pop(ctx.db(), &args[1], end, count)?;
            report_pop(ctx, &args[1], end, popped.len())?;
            if popped.is_empty() && count > 0 {
                return Ok(Reply::NilArray);
            }
            if popped.is_empty() && !ctx.storage().exists(ctx.db(), &args[1])? {
                return Ok(Reply::NilArray);
            }
            Ok(Reply::bulks(popped))
        }
        _ => Err(CmdError::Syntax),
    }
}

pub fn lpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    pop(ctx, args, End::Left)
}
pub fn rpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    pop(ctx, args, End::Right)
}

pub fn llen(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    Ok(Reply::Int(ctx.storage().llen(ctx.db(), &args[1])? as i64))
}

pub fn lrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let (start, stop) = (arg_i64(&args[2])?, arg_i64(&args[3])?);
    Ok(Reply::bulks(ctx.storage().lrange(
        ctx.db(),
        &args[1],
        start,
        stop,
    )?))
}

pub fn lindex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let index = arg_i64(&args[2])?;
    Ok(Reply::bulk_opt(ctx.storage().lindex(
        ctx.db(),
        &args[1],
        index,
    )?))
}

pub fn lset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let index = arg_i64(&args[2])?;
    ctx.storage().lset(ctx.db(), &args[1], index, &args[3])?;
    ctx.changed(LIST, "lset", &args[1]);
    ok()
}

pub fn linsert(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let before = if is(&args[2], "BEFORE") {
        true
    } else if is(&args[2], "AFTER") {
        false
    } else {
        return Err(CmdError::Syntax);
    };
    let len = ctx
        .storage()
        .linsert(ctx.db(), &args[1], before, &args[3], &args[4])?;
    if len > 0 {
        ctx.changed(LIST, "linsert", &args[1]);
    }
    Ok(Reply::Int(len))
}

pub fn lrem(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let count = arg_i64(&args[2])?;
    let removed = ctx.storage().lrem(ctx.db(), &args[1], count, &args[3])?;
    if removed > 0 {
        ctx.changed(LIST, "lrem", &args[1]);
        ctx.deleted_if_gone(&args[1])?;
    }
    Ok(Reply::Int(removed))
}

pub fn ltrim(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let (start, stop) = (arg_i64(&args[2])?, arg_i64(&args[3])?);
    // LTRIM of an existing list reports even when it keeps every element, as in Redis.
    let existed = ctx.observed() && ctx.storage().exists(ctx.db(), &args[1])?;
    ctx.storage().ltrim(ctx.db(), &args[1], start, stop)?;
    if existed {
        ctx.changed(LIST, "ltrim", &args[1]);
        ctx.deleted_if_gone(&args[1])?;
    }
    ok()
}

pub fn lpos(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let (mut rank, mut count, mut maxlen) = (1i64, None, 0i64);
    let mut i = 3;
    while i < args.len() {
        let Some(value) = args.get(i + 1) else {
            return Err(CmdError::Syntax);
        };
        if is(&args[i], "RANK") {
            rank = arg_i64(value)?;
            if rank == 0 {
                return Err(CmdError::custom(
                    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list",
                ));
            }
            if rank == i64::MIN {
                return Err(CmdError::custom("ERR value is out of range"));
            }
        } else if is(&args[i], "COUNT") {
            let c = arg_i64(value)?;
            if c < 0 {
                return Err(CmdError::custom("ERR COUNT can't be negative"));
            }
            count = Some(c);
        } else if is(&args[i], "MAXLEN") {
            maxlen = arg_i64(value)?;
            if maxlen < 0 {
                return Err(CmdError::custom("ERR MAXLEN can't be negative"));
            }
        } else {
            return Err(CmdError::Syntax);
        }
        i += 2;
    }
    let all = ctx.storage().lall(ctx.db(), &args[1])?;
    let len = all.len();
    let order: Box<dyn Iterator<Item = usize>> = if rank > 0 {
        Box::new(0..len)
    } else {
        Box::new((0..len).rev())
    };
    let limit = if maxlen == 0 {
        usize::MAX
    } else {
        maxlen as usize
    };
    let want = match count {
        Some(0) => usize::MAX,
        Some(c) => c as usize,
        None => 1,
    };
    let mut skip = rank.unsigned_abs() - 1;
    let mut found = Vec::new();
    for (scanned, idx) in order.enumerate() {
        if scanned >= limit || found.len() >= want {
            break;
        }
        if all[idx] == args[2] {
            if skip > 0 {
                skip -= 1;
            } else {
                found.push(Reply::Int(idx as i64));
            }
        }
    }
    Ok(match count {
        Some(_) => Reply::Array(found),
        None => found.into_iter().next().unwrap_or(Reply::Nil),
    })
}

fn end_arg(arg: &[u8]) -> CmdResult<End> {
    if is(arg, "LEFT") {
        Ok(End::Left)
    } else if is(arg, "RIGHT") {
        Ok(End::Right)
    } else {
        Err(CmdError::Syntax)
    }
}

pub fn lmove(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let (from, to) = (end_arg(&args[3])?, end_arg(&args[4])?);
    lmove_generic(ctx, args, from, to)
}

pub fn rpoplpush(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    lmove_generic(ctx, args, End::Right, End::Left)
}

fn lmove_generic(ctx: &mut Ctx<'_>, args: &[Bytes], from: End, to: End) -> CmdResult<Reply> {
    let value = ctx
        .storage()
        .lmove(ctx.db(), &args[1], &args[2], from, to)?;
    if value.is_some() {
        moved(ctx, &args[1], &args[2], from, to)?;
    }
    Ok(Reply::bulk_opt(value))
}

/// `LMPOP`/`BLMPOP` tail: `LEFT|RIGHT [COUNT n]` starting at `args[i]`.
fn mpop_options(args: &[Bytes], i: usize) -> CmdResult<(End, usize)> {
    let end = end_arg(args.get(i).ok_or(CmdError::Syntax)?)?;
    let mut count = 1usize;
    let mut j = i + 1;
    let mut seen_count = false;
    while j < args.len() {
        if is(&args[j], "COUNT") && !seen_count && j + 1 < args.len() {
            let n = arg_i64(&args[j + 1])?;
            if n <= 0 {
                return Err(CmdError::custom("ERR count should be greater than 0"));
            }
            count = n as usize;
            seen_count = true;
            j += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    Ok((end, count))
}

/// Pops from the first non-empty list among `keys`: `[key, [elements]]`.
fn mpop_first(
    ctx: &mut Ctx<'_>,
    keys: &[Bytes],
    end: End,
    count: usize,
) -> CmdResult<Option<Reply>> {
    for key in keys {
        let popped = ctx.storage().pop(ctx.db(), key, end, count)?;
        report_pop(ctx, key, end, popped.len())?;
        if !popped.is_empty() {
            return Ok(Some(Reply::Array(vec![
                Reply::Bulk(key.clone()),
                Reply::bulks(popped),
            ])));
        }
    }
    Ok(None)
}

pub fn lmpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let span = mpop_keys(args, 1)?;
    let (keys, i) = (&args[span.clone()], span.end);
    let (end, count) = mpop_options(args, i)?;
    Ok(mpop_first(ctx, keys, end, count)?.unwrap_or(Reply::NilArray))
}

/// Parses a blocking timeout in seconds (fractions allowed, 0 = forever).
pub fn parse_timeout(arg: &[u8]) -> CmdResult<Option<Instant>> {
    let secs = parse_f64(arg)
        .filter(|s| s.is_finite())
        .ok_or_else(|| CmdError::custom("ERR timeout is not a float or out of range"))?;
    if secs < 0.0 {
        return Err(CmdError::custom("ERR timeout is negative"));
    }
    // Redis works in whole milliseconds, rounded up, and refuses what would overflow them.
    let ms = (secs * 1000.0).ceil();
    if ms >= i64::MAX as f64 {
        return Err(timeout_out_of_range());
    }
    deadline_after_ms(ms as i64)
}

fn timeout_out_of_range() -> CmdError {
    CmdError::custom("ERR timeout is out of range")
}

/// The deadline `ms` (> 0) from now, or none for 0 (wait forever). As Redis, a timeout whose
/// absolute Unix time would not fit in 64 bits is out of range.
pub fn deadline_after_ms(ms: i64) -> CmdResult<Option<Instant>> {
    if ms == 0 {
        return Ok(None);
    }
    let now = i64::try_from(crate::storage::now_ms()).unwrap_or(i64::MAX);
    if ms > i64::MAX - now {
        return Err(timeout_out_of_range());
    }
    // Far beyond any uptime: waits that long are waits without end, and an Instant that far
    // out need not be representable.
    let wait = Duration::from_millis(ms as u64);
    Ok(Some(Instant::now().checked_add(wait).unwrap_or_else(
        || Instant::now() + Duration::from_secs(100 * 365 * 86_400),
    )))
}

/// Parks the client on `keys` until a writer signals one of them or the deadline passes;
/// a client that may not block (`deny_blocking`) gets the timeout reply at once, with no
/// waiter registered.
pub fn block_on(
    ctx: &mut Ctx<'_>,
    keys: &[Bytes],
    deadline: Option<Instant>,
    timeout_reply: Reply,
) -> CmdResult<Reply> {
    if ctx.client.deny_blocking {
        return Ok(timeout_reply);
    }
    ctx.state
        .blocking
        .register(ctx.db(), keys, &ctx.client.info);
    ctx.client.block = Some(BlockRequest {
        keys: keys.to_vec(),
        deadline,
        timeout_reply: timeout_reply.clone(),
        retry_args: None,
    });
    Ok(timeout_reply)
}

fn bpop(ctx: &mut Ctx<'_>, args: &[Bytes], end: End) -> CmdResult<Reply> {
    let deadline = parse_timeout(&args[args.len() - 1])?;
    let keys = &args[1..args.len() - 1];
    for key in keys {
        if let Some(v) = ctx.storage().pop(ctx.db(), key, end, 1)?.into_iter().next() {
            report_pop(ctx, key, end, 1)?;
            return Ok(Reply::Array(vec![Reply::Bulk(key.clone()), Reply::bulk(v)]));
        }
    }
    block_on(ctx, keys, deadline, Reply::NilArray)
}

pub fn blpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    bpop(ctx, args, End::Left)
}
pub fn brpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    bpop(ctx, args, End::Right)
}

fn bmove(
    ctx: &mut Ctx<'_>,
    args: &[Bytes],
    from: End,
    to: End,
    timeout_at: usize,
) -> CmdResult<Reply> {
    let deadline = parse_timeout(&args[timeout_at])?;
    match ctx
        .storage()
        .lmove(ctx.db(), &args[1], &args[2], from, to)?
    {
        Some(v) => {
            moved(ctx, &args[1], &args[2], from, to)?;
            Ok(Reply::bulk(v))
        }
        None => block_on(ctx, &args[1..2], deadline, Reply::NilArray),
    }
}

pub fn blmove(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let (from, to) = (end_arg(&args[3])?, end_arg(&args[4])?);
    bmove(ctx, args, from, to, 5)
}

pub fn brpoplpush(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    bmove(ctx, args, End::Right, End::Left, 3)
}

pub fn blmpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let deadline = parse_timeout(&args[1])?;
    let span = mpop_keys(args, 2)?;
    let (keys, i) = (&args[span.clone()], span.end);
    let (end, count) = mpop_options(args, i)?;
    match mpop_first(ctx, keys, end, count)? {
        Some(r) => Ok(r),
        None => block_on(ctx, keys, deadline, Reply::NilArray),
    }
}
