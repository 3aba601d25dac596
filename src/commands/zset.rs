//! Sorted-set commands. Scores reply as RESP3 doubles (RESP2 bulk strings); WITHSCORES
//! pairs are nested in RESP3 and flat in RESP2, as in Redis.

use std::collections::HashMap;

use bytes::Bytes;
use rand::seq::IndexedRandom;

use super::list::{block_on, parse_timeout};
use super::numkeys::{mpop_keys, zset_keys};
use super::{arg_i64, is, Ctx};
use crate::error::{CmdError, CmdResult};
use crate::notify::ZSET;
use crate::num::parse_f64;
use crate::protocol::Reply;
use crate::storage::types::zset::{LexBound, ScoreBound, Scored, ZAddFlags, ZAddResult, ZRange};

fn score_arg(arg: &[u8]) -> CmdResult<f64> {
    parse_f64(arg).ok_or(CmdError::NotFloat)
}

fn score_bound(arg: &[u8]) -> CmdResult<ScoreBound> {
    let bad = || CmdError::custom("ERR min or max is not a float");
    let (exclusive, text) = match arg.first() {
        Some(b'(') => (true, &arg[1..]),
        _ => (false, arg),
    };
    let value = parse_f64(text).ok_or_else(bad)?;
    Ok(ScoreBound { value, exclusive })
}

fn lex_bound(arg: &[u8]) -> CmdResult<LexBound> {
    match arg {
        b"-" => Ok(LexBound::NegInf),
        b"+" => Ok(LexBound::PosInf),
        [b'[', rest @ ..] => Ok(LexBound::Incl(rest.to_vec())),
        [b'(', rest @ ..] => Ok(LexBound::Excl(rest.to_vec())),
        _ => Err(CmdError::custom(
            "ERR min or max not valid string range item",
        )),
    }
}

/// Member/score pairs as Redis replies them.
fn scored_reply(ctx: &Ctx<'_>, items: Vec<Scored>, with_scores: bool) -> Reply {
    let mut out = Vec::with_capacity(items.len() * 2);
    for (m, s) in items {
        if !with_scores {
            out.push(Reply::bulk(m));
        } else if ctx.client.resp3 {
            out.push(Reply::Array(vec![Reply::bulk(m), Reply::Double(s)]));
        } else {
            out.push(Reply::bulk(m));
            out.push(Reply::Double(s));
        }
    }
    Reply::Array(out)
}

pub fn zadd(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let mut f = ZAddFlags::default();
    let mut i = 2;
    while i < args.len() {
        let a = &args[i];
        if is(a, "NX") {
            f.nx = true;
        } else if is(a, "XX") {
            f.xx = true;
        } else if is(a, "GT") {
            f.gt = true;
        } else if is(a, "LT") {
            f.lt = true;
        } else if is(a, "CH") {
            f.ch = true;
        } else if is(a, "INCR") {
            f.incr = true;
        } else {
            break;
        }
        i += 1;
    }
    let rest = &args[i..];
    if rest.is_empty() || rest.len() % 2 != 0 {
        return Err(CmdError::Syntax);
    }
    if f.nx && f.xx {
        return Err(CmdError::custom(
            "ERR XX and NX options at the same time are not compatible",
        ));
    }
    if (f.nx && (f.gt || f.lt)) || (f.gt && f.lt) {
        return Err(CmdError::custom(
            "ERR GT, LT, and/or NX options at the same time are not compatible",
        ));
    }
    if f.incr && rest.len() > 2 {
        return Err(CmdError::custom(
            "ERR INCR option supports a single increment-element pair",
        ));
    }
    let mut items = Vec::with_capacity(rest.len() / 2);
    for pair in rest.chunks_exact(2) {
        items.push((score_arg(&pair[0])?, &pair[1][..]));
    }
    let (result, changed) = ctx
        .storage()
        .zadd_reporting(ctx.db(), &args[1], &items, f)?;
    if changed {
        ctx.changed(ZSET, if f.incr { "zincr" } else { "zadd" }, &args[1]);
    }
    Ok(match result {
        ZAddResult::Count(n) => Reply::Int(n),
        ZAddResult::Score(Some(s)) => Reply::Double(s),
        ZAddResult::Score(None) => Reply::Nil,
    })
}

pub fn zincrby(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let delta = score_arg(&args[2])?;
    let f = ZAddFlags {
        incr: true,
        ..Default::default()
    };
    let (result, changed) =
        ctx.storage()
            .zadd_reporting(ctx.db(), &args[1], &[(delta, &args[3][..])], f)?;
    if changed {
        ctx.changed(ZSET, "zincr", &args[1]);
    }
    Ok(match result {
        ZAddResult::Score(Some(s)) => Reply::Double(s),
        _ => Reply::Nil,
    })
}

pub fn zrem(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let members: Vec<&[u8]> = args[2..].iter().map(|a| &a[..]).collect();
    let removed = ctx.storage().zrem(ctx.db(), &args[1], &members)?;
    removed_from(ctx, &args[1], "zrem", removed as usize)?;
    Ok(Reply::Int(removed))
}

/// Reports the removal of `n` members of the zset at `key` (and its deletion if emptied).
fn removed_from(ctx: &mut Ctx<'_>, key: &Bytes, event: &'static str, n: usize) -> CmdResult<()> {
    if n > 0 {
        ctx.changed(ZSET, event, key);
        ctx.deleted_if_gone(key)?;
    }
    Ok(())
}

pub fn zcard(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    Ok(Reply::Int(ctx.storage().zcard(ctx.db(), &args[1])? as i64))
}

pub fn zscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    Ok(ctx
        .storage()
        .zscore(ctx.db(), &args[1], &args[2])?
        .map_or(Reply::Nil, Reply::Double))
}

pub fn zmscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let mut out = Vec::new();
    for m in &args[2..] {
        out.push(
            ctx.storage()
                .zscore(ctx.db(), &args[1], m)?
                .map_or(Reply::Nil, Reply::Double),
        );
    }
    Ok(Reply::Array(out))
}

fn rank(ctx: &mut Ctx<'_>, args: &[Bytes], rev: bool) -> CmdResult<Reply> {
    let with_score = match args.len() {
        3 => false,
        4 if is(&args[3], "WITHSCORE") => true,
        _ => return Err(CmdError::Syntax),
    };
    Ok(
        match ctx.storage().zrank(ctx.db(), &args[1], &args[2], rev)? {
            None if with_score => Reply::NilArray,
            None => Reply::Nil,
            Some((r, s)) if with_score => Reply::Array(vec![Reply::Int(r), Reply::Double(s)]),
            Some((r, _)) => Reply::Int(r),
        },
    )
}

pub fn zrank(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    rank(ctx, args, false)
}
pub fn zrevrank(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    rank(ctx, args, true)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum By {
    Rank,
    Score,
    Lex,
}

struct RangeSpec {
    range: ZRange,
    rev: bool,
    offset: i64,
    limit: i64,
    with_scores: bool,
}

/// Parses the generic `ZRANGE`-style arguments: `min max` at `args[at..]`, then options.
/// `fixed` forces the BY mode and direction (for ZRANGEBYSCORE and friends).
fn parse_range(
    args: &[Bytes],
    at: usize,
    fixed: Option<(By, bool)>,
    allow_withscores: bool,
) -> CmdResult<RangeSpec> {
    let (mut by, mut rev) = fixed.unwrap_or((By::Rank, false));
    let (mut offset, mut limit, mut with_scores, mut has_limit) = (0i64, -1i64, false, false);
    let mut i = at + 2;
    while i < args.len() {
        let a = &args[i];
        if is(a, "WITHSCORES") && allow_withscores {
            with_scores = true;
        } else if is(a, "LIMIT") && i + 2 < args.len() {
            offset = arg_i64(&args[i + 1])?;
            limit = arg_i64(&args[i + 2])?;
            has_limit = true;
            i += 2;
        } else if fixed.is_none() && is(a, "BYSCORE") {
            by = By::Score;
        } else if fixed.is_none() && is(a, "BYLEX") {
            by = By::Lex;
        } else if fixed.is_none() && is(a, "REV") {
            rev = true;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    if has_limit && by == By::Rank {
        return Err(CmdError::custom(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if with_scores && by == By::Lex {
        return Err(CmdError::custom(
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
        ));
    }
    // With REV the first bound is the maximum.
    let (lo, hi) = if rev && by != By::Rank {
        (&args[at + 1], &args[at])
    } else {
        (&args[at], &args[at + 1])
    };
    let range = match by {
        By::Rank => ZRange::Rank(arg_i64(lo)?, arg_i64(hi)?),
        By::Score => ZRange::Score(score_bound(lo)?, score_bound(hi)?),
        By::Lex => ZRange::Lex(lex_bound(lo)?, lex_bound(hi)?),
    };
    if offset < 0 {
        limit = 0;
    }
    Ok(RangeSpec {
        range,
        rev,
        offset: offset.max(0),
        limit,
        with_scores,
    })
}

fn run_range(ctx: &mut Ctx<'_>, key: &[u8], spec: &RangeSpec) -> CmdResult<Vec<Scored>> {
    if spec.limit == 0 {
        ctx.storage().zcard(ctx.db(), key)?;
        return Ok(Vec::new());
    }
    Ok(ctx.storage().zrange(
        ctx.db(),
        key,
        &spec.range,
        spec.rev,
        spec.offset,
        spec.limit,
    )?)
}

fn range_cmd(ctx: &mut Ctx<'_>, args: &[Bytes], fixed: Option<(By, bool)>) -> CmdResult<Reply> {
    let spec = parse_range(args, 2, fixed, !matches!(fixed, Some((By::Lex, _))))?;
    let items = run_range(ctx, &args[1], &spec)?;
    Ok(scored_reply(ctx, items, spec.with_scores))
}

pub fn zrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    range_cmd(ctx, args, None)
}
pub fn zrevrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    range_cmd(ctx, args, Some((By::Rank, true)))
}
pub fn zrangebyscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    range_cmd(ctx, args, Some((By::Score, false)))
}
pub fn zrevrangebyscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    range_cmd(ctx, args, Some((By::Score, true)))
}
pub fn zrangebylex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    range_cmd(ctx, args, Some((By::Lex, false)))
}
pub fn zrevrangebylex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    range_cmd(ctx, args, Some((By::Lex, true)))
}

pub fn zrangestore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let spec = parse_range(args, 3, None, false)?;
    let items = run_range(ctx, &args[2], &spec)?;
    store_zset(ctx, &args[1], &items, "zrangestore")
}

/// Writes `items` to `dst` for a `*STORE` command and reports it.
fn store_zset(
    ctx: &mut Ctx<'_>,
    dst: &Bytes,
    items: &[Scored],
    event: &'static str,
) -> CmdResult<Reply> {
    let replaced = ctx.empty_store_deletes(dst, items.is_empty())?;
    let len = ctx.storage().zstore(ctx.db(), dst, items)?;
    ctx.stored(ZSET, event, dst, len > 0, replaced);
    Ok(Reply::Int(len))
}

pub fn zcount(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let range = ZRange::Score(score_bound(&args[2])?, score_bound(&args[3])?);
    Ok(Reply::Int(
        ctx.storage()
            .zrange(ctx.db(), &args[1], &range, false, 0, -1)?
            .len() as i64,
    ))
}

pub fn zlexcount(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let range = ZRange::Lex(lex_bound(&args[2])?, lex_bound(&args[3])?);
    Ok(Reply::Int(
        ctx.storage()
            .zrange(ctx.db(), &args[1], &range, false, 0, -1)?
            .len() as i64,
    ))
}

pub fn zremrangebyrank(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let range = ZRange::Rank(arg_i64(&args[2])?, arg_i64(&args[3])?);
    let removed = ctx.storage().zremrange(ctx.db(), &args[1], &range)?;
    removed_from(ctx, &args[1], "zremrangebyrank", removed as usize)?;
    Ok(Reply::Int(removed))
}
pub fn zremrangebyscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let range = ZRange::Score(score_bound(&args[2])?, score_bound(&args[3])?);
    let removed = ctx.storage().zremrange(ctx.db(), &args[1], &range)?;
    removed_from(ctx, &args[1], "zremrangebyscore", removed as usize)?;
    Ok(Reply::Int(removed))
}
pub fn zremrangebylex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let range = ZRange::Lex(lex_bound(&args[2])?, lex_bound(&args[3])?);
    let removed = ctx.storage().zremrange(ctx.db(), &args[1], &range)?;
    removed_from(ctx, &args[1], "zremrangebylex", removed as usize)?;
    Ok(Reply::Int(removed))
}

fn pop_cmd(ctx: &mut Ctx<'_>, args: &[Bytes], max: bool) -> CmdResult<Reply> {
    let count = match args.len() {
        2 => None,
        3 => Some(super::set::positive_count(&args[2])?),
        _ => return Err(CmdError::Syntax),
    };
    let popped = ctx
        .storage()
        .zpop(ctx.db(), &args[1], max, count.unwrap_or(1))?;
    removed_from(ctx, &args[1], pop_event(max), popped.len())?;
    if count.is_none() {
        // Without COUNT the reply is flat even in RESP3.
        let flat: Vec<Reply> = popped
            .into_iter()
            .flat_map(|(m, s)| [Reply::bulk(m), Reply::Double(s)])
            .collect();
        return Ok(Reply::Array(flat));
    }
    Ok(scored_reply(ctx, popped, true))
}

fn pop_event(max: bool) -> &'static str {
    if max {
        "zpopmax"
    } else {
        "zpopmin"
    }
}

pub fn zpopmin(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    pop_cmd(ctx, args, false)
}
pub fn zpopmax(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    pop_cmd(ctx, args, true)
}

fn bzpop(ctx: &mut Ctx<'_>, args: &[Bytes], max: bool) -> CmdResult<Reply> {
    let deadline = parse_timeout(&args[args.len() - 1])?;
    let keys = &args[1..args.len() - 1];
    for key in keys {
        if let Some((m, s)) = ctx
            .storage()
            .zpop(ctx.db(), key, max, 1)?
            .into_iter()
            .next()
        {
            removed_from(ctx, key, pop_event(max), 1)?;
            return Ok(Reply::Array(vec![
                Reply::Bulk(key.clone()),
                Reply::bulk(m),
                Reply::Double(s),
            ]));
        }
    }
    block_on(ctx, keys, deadline, Reply::NilArray)
}

pub fn bzpopmin(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    bzpop(ctx, args, false)
}
pub fn bzpopmax(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    bzpop(ctx, args, true)
}

fn mpop_options(args: &[Bytes], i: usize) -> CmdResult<(bool, usize)> {
    let which = args.get(i).ok_or(CmdError::Syntax)?;
    let max = if is(which, "MIN") {
        false
    } else if is(which, "MAX") {
        true
    } else {
        return Err(CmdError::Syntax);
    };
    match args.len() - i {
        1 => Ok((max, 1)),
        3 if is(&args[i + 1], "COUNT") => {
            let n = arg_i64(&args[i + 2])?;
            if n <= 0 {
                return Err(CmdError::custom("ERR count should be greater than 0"));
            }
            Ok((max, n as usize))
        }
        _ => Err(CmdError::Syntax),
    }
}

fn mpop_first(
    ctx: &mut Ctx<'_>,
    keys: &[Bytes],
    max: bool,
    count: usize,
) -> CmdResult<Option<Reply>> {
    for key in keys {
        let popped = ctx.storage().zpop(ctx.db(), key, max, count)?;
        removed_from(ctx, key, pop_event(max), popped.len())?;
        if !popped.is_empty() {
            let items = scored_pairs(popped);
            return Ok(Some(Reply::Array(vec![Reply::Bulk(key.clone()), items])));
        }
    }
    Ok(None)
}

/// ZMPOP's element list: always `[member, score]` pairs.
fn scored_pairs(items: Vec<Scored>) -> Reply {
    Reply::Array(
        items
            .into_iter()
            .map(|(m, s)| Reply::Array(vec![Reply::bulk(m), Reply::Double(s)]))
            .collect(),
    )
}

pub fn zmpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let span = mpop_keys(args, 1)?;
    let (keys, i) = (&args[span.clone()], span.end);
    let (max, count) = mpop_options(args, i)?;
    Ok(mpop_first(ctx, keys, max, count)?.unwrap_or(Reply::NilArray))
}

pub fn bzmpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let deadline = parse_timeout(&args[1])?;
    let span = mpop_keys(args, 2)?;
    let (keys, i) = (&args[span.clone()], span.end);
    let (max, count) = mpop_options(args, i)?;
    match mpop_first(ctx, keys, max, count)? {
        Some(r) => Ok(r),
        None => block_on(ctx, keys, deadline, Reply::NilArray),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Combine {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

/// Reads the inputs of ZUNION/ZINTER/ZDIFF(STORE): sets count as zsets with score 1.
fn combine(
    ctx: &mut Ctx<'_>,
    args: &[Bytes],
    numkeys_at: usize,
    op: Combine,
) -> CmdResult<(Vec<Scored>, bool)> {
    let span = zset_keys(args, numkeys_at)?;
    let keys = &args[span.clone()];
    let mut i = span.end;
    let mut weights = vec![1.0; keys.len()];
    let mut agg = Aggregate::Sum;
    let mut with_scores = false;
    while i < args.len() {
        if is(&args[i], "WEIGHTS") && op != Combine::Diff {
            if i + keys.len() >= args.len() {
                return Err(CmdError::Syntax);
            }
            for (w, a) in weights.iter_mut().zip(&args[i + 1..i + 1 + keys.len()]) {
                *w = parse_f64(a)
                    .ok_or_else(|| CmdError::custom("ERR weight value is not a float"))?;
            }
            i += keys.len() + 1;
        } else if is(&args[i], "AGGREGATE") && op != Combine::Diff && i + 1 < args.len() {
            agg = if is(&args[i + 1], "SUM") {
                Aggregate::Sum
            } else if is(&args[i + 1], "MIN") {
                Aggregate::Min
            } else if is(&args[i + 1], "MAX") {
                Aggregate::Max
            } else {
                return Err(CmdError::Syntax);
            };
            i += 2;
        } else if is(&args[i], "WITHSCORES") && numkeys_at == 1 {
            with_scores = true;
            i += 1;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let mut inputs: Vec<Vec<Scored>> = Vec::with_capacity(keys.len());
    for key in keys {
        let items = match ctx.storage().key_type(ctx.db(), key)? {
            None => Vec::new(),
            Some(crate::storage::encoding::KeyType::ZSet) => ctx.storage().zall(ctx.db(), key)?,
            Some(crate::storage::encoding::KeyType::Set) => ctx
                .storage()
                .smembers(ctx.db(), key)?
                .into_iter()
                .map(|m| (m, 1.0))
                .collect(),
            Some(_) => return Err(CmdError::WrongType(crate::error::WrongTypeMarker)),
        };
        inputs.push(items);
    }
    let apply = |acc: f64, v: f64| match agg {
        Aggregate::Sum => {
            let s = acc + v;
            if s.is_nan() {
                0.0
            } else {
                s
            }
        }
        Aggregate::Min => acc.min(v),
        Aggregate::Max => acc.max(v),
    };
    let weighted = |s: f64, w: f64| {
        let v = s * w;
        if v.is_nan() {
            0.0
        } else {
            v
        }
    };
    let mut result: HashMap<Vec<u8>, f64> = HashMap::new();
    match op {
        Combine::Union => {
            for (items, &w) in inputs.iter().zip(&weights) {
                for (m, s) in items {
                    let v = weighted(*s, w);
                    result
                        .entry(m.clone())
                        .and_modify(|acc| *acc = apply(*acc, v))
                        .or_insert(v);
                }
            }
        }
        Combine::Inter => {
            if let Some((first, rest)) = inputs.split_first() {
                let maps: Vec<HashMap<&[u8], f64>> = rest
                    .iter()
                    .map(|items| items.iter().map(|(m, s)| (m.as_slice(), *s)).collect())
                    .collect();
                'member: for (m, s) in first {
                    let mut acc = weighted(*s, weights[0]);
                    for (map, &w) in maps.iter().zip(&weights[1..]) {
                        match map.get(m.as_slice()) {
                            Some(&other) => acc = apply(acc, weighted(other, w)),
                            None => continue 'member,
                        }
                    }
                    result.insert(m.clone(), acc);
                }
            }
        }
        Combine::Diff => {
            if let Some((first, rest)) = inputs.split_first() {
                let others: std::collections::HashSet<&[u8]> = rest
                    .iter()
                    .flat_map(|items| items.iter().map(|(m, _)| m.as_slice()))
                    .collect();
                for (m, s) in first {
                    if !others.contains(m.as_slice()) {
                        result.insert(m.clone(), *s);
                    }
                }
            }
        }
    }
    let mut items: Vec<Scored> = result.into_iter().collect();
    items.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
    Ok((items, with_scores))
}

fn combine_cmd(ctx: &mut Ctx<'_>, args: &[Bytes], op: Combine) -> CmdResult<Reply> {
    let (items, with_scores) = combine(ctx, args, 1, op)?;
    Ok(scored_reply(ctx, items, with_scores))
}

fn combine_store(ctx: &mut Ctx<'_>, args: &[Bytes], op: Combine) -> CmdResult<Reply> {
    let (items, _) = combine(ctx, args, 2, op)?;
    let event = match op {
        Combine::Union => "zunionstore",
        Combine::Inter => "zinterstore",
        Combine::Diff => "zdiffstore",
    };
    store_zset(ctx, &args[1], &items, event)
}

pub fn zunion(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    combine_cmd(ctx, args, Combine::Union)
}
pub fn zinter(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    combine_cmd(ctx, args, Combine::Inter)
}
pub fn zdiff(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    combine_cmd(ctx, args, Combine::Diff)
}
pub fn zunionstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    combine_store(ctx, args, Combine::Union)
}
pub fn zinterstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    combine_store(ctx, args, Combine::Inter)
}
pub fn zdiffstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    combine_store(ctx, args, Combine::Diff)
}

pub fn zintercard(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let span = zset_keys(args, 1)?;
    let (keys, rest) = (&args[span.clone()], span.end);
    let limit = super::set::card_limit(&args[rest..])?;
    let mut sub_args = vec![args[0].clone(), args[1].clone()];
    sub_args.extend(keys.iter().cloned());
    let (items, _) = combine(ctx, &sub_args, 1, Combine::Inter)?;
    Ok(Reply::Int(
        limit.map_or(items.len(), |l| items.len().min(l)) as i64,
    ))
}

pub fn zrandmember(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let with_scores = match args.len() {
        2 | 3 => false,
        4 if is(&args[3], "WITHSCORES") => true,
        _ => return Err(CmdError::Syntax),
    };
    let all = ctx.storage().zall(ctx.db(), &args[1])?;
    let Some(count_arg) = args.get(2) else {
        return Ok(Reply::bulk_opt(
            all.choose(&mut rand::rng()).map(|(m, _)| m.clone()),
        ));
    };
    let count = arg_i64(count_arg)?;
    let picked: Vec<Scored> = if count >= 0 {
        all.choose_multiple(&mut rand::rng(), count as usize)
            .cloned()
            .collect()
    } else if all.is_empty() {
        Vec::new()
    } else {
        if count.unsigned_abs() > i64::MAX as u64 / 2 {
            return Err(CmdError::custom("ERR value is out of range"));
        }
        (0..count.unsigned_abs())
            .filter_map(|_| all.choose(&mut rand::rng()).cloned())
            .collect()
    };
    Ok(scored_reply(ctx, picked, with_scores))
}

pub fn zscan(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let scan = super::hash::parse_scan_args(args, false)?;
    super::set::scan_collection(
        ctx,
        &args[1],
        crate::storage::encoding::KeyType::ZSet,
        &scan,
        |m, raw| {
            let score = f64::from_be_bytes(raw.as_slice().try_into().ok()?);
            Some(vec![
                Reply::bulk(m),
                Reply::bulk(crate::num::format_double(score)),
            ])
        },
    )
}
