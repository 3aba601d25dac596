//! Set commands.

use bytes::Bytes;
use rand::seq::IndexedRandom;

use super::hash::{parse_scan_args, ScanArgs};
use super::{arg_i64, is, Ctx};
use crate::error::{CmdError, CmdResult};
use crate::glob::glob_match;
use crate::notify::SET;
use crate::protocol::Reply;
use crate::storage::types::set::SetOp;

fn members(args: &[Bytes]) -> Vec<&[u8]> {
    args.iter().map(|a| &a[..]).collect()
}

pub fn sadd(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let added = ctx
        .storage()
        .sadd(ctx.db(), &args[1], &members(&args[2..]))?;
    if added > 0 {
        ctx.changed(SET, "sadd", &args[1]);
    }
    Ok(Reply::Int(added))
}

pub fn srem(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let removed = ctx
        .storage()
        .srem(ctx.db(), &args[1], &members(&args[2..]))?;
    if removed > 0 {
        ctx.changed(SET, "srem", &args[1]);
        ctx.deleted_if_gone(&args[1])?;
    }
    Ok(Reply::Int(removed))
}

pub fn sismember(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    Ok(Reply::Int(i64::from(ctx.storage().sismember(
        ctx.db(),
        &args[1],
        &args[2],
    )?)))
}

pub fn smismember(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let mut out = Vec::new();
    for m in &args[2..] {
        out.push(Reply::Int(i64::from(ctx.storage().sismember(
            ctx.db(),
            &args[1],
            m,
        )?)));
    }
    Ok(Reply::Array(out))
}

fn set_reply(items: Vec<Vec<u8>>) -> Reply {
    Reply::Set(items.into_iter().map(Reply::bulk).collect())
}

pub fn smembers(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    Ok(set_reply(ctx.storage().smembers(ctx.db(), &args[1])?))
}

pub fn scard(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    Ok(Reply::Int(ctx.storage().scard(ctx.db(), &args[1])? as i64))
}

/// A non-negative count argument, with Redis's error for negatives.
pub fn positive_count(arg: &[u8]) -> CmdResult<usize> {
    let n = arg_i64(arg)
        .map_err(|_| CmdError::custom("ERR value is out of range, must be positive"))?;
    if n < 0 {
        return Err(CmdError::custom(
            "ERR value is out of range, must be positive",
        ));
    }
    Ok(n as usize)
}

pub fn spop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let count = match args.len() {
        2 => 1,
        3 => positive_count(&args[2])?,
        _ => return Err(CmdError::Syntax),
    };
    let popped = ctx.storage().spop(ctx.db(), &args[1], count)?;
    if !popped.is_empty() {
        ctx.changed(SET, "spop", &args[1]);
        ctx.deleted_if_gone(&args[1])?;
    }
    if args.len() == 2 {
        Ok(Reply::bulk_opt(popped.into_iter().next()))
    } else {
        Ok(set_reply(popped))
    }
}

pub fn srandmember(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let all = ctx.storage().smembers(ctx.db(), &args[1])?;
    match args.len() {
        2 => Ok(Reply::bulk_opt(all.choose(&mut rand::rng()).cloned())),
        3 => {
            let count = arg_i64(&args[2])?;
            let picked: Vec<Vec<u8>> = if count >= 0 {
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
            Ok(Reply::bulks(picked))
        }
        _ => Err(CmdError::Syntax),
    }
}

pub fn smove(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let (src, dst) = (&args[1], &args[2]);
    // Only a destination that lacked the member changes.
    let dst_had =
        ctx.observed() && src != dst && ctx.storage().sismember(ctx.db(), dst, &args[3])?;
    let moved = ctx.storage().smove(ctx.db(), src, dst, &args[3])?;
    if moved && src != dst {
        ctx.changed(SET, "srem", src);
        ctx.deleted_if_gone(src)?;
        if !dst_had {
            ctx.changed(SET, "sadd", dst);
        }
    }
    Ok(Reply::Int(i64::from(moved)))
}

fn combine(ctx: &Ctx<'_>, keys: &[Bytes], op: SetOp) -> CmdResult<Vec<Vec<u8>>> {
    Ok(ctx.storage().set_combine(ctx.db(), &members(keys), op)?)
}

pub fn sinter(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    Ok(set_reply(combine(ctx, &args[1..], SetOp::Inter)?))
}

pub fn sunion(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    Ok(set_reply(combine(ctx, &args[1..], SetOp::Union)?))
}

pub fn sdiff(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    Ok(set_reply(combine(ctx, &args[1..], SetOp::Diff)?))
}

fn store(ctx: &mut Ctx<'_>, args: &[Bytes], op: SetOp, event: &'static str) -> CmdResult<Reply> {
    let result = combine(ctx, &args[2..], op)?;
    let replaced = ctx.empty_store_deletes(&args[1], result.is_empty())?;
    let len = ctx.storage().set_store(ctx.db(), &args[1], &result)?;
    ctx.stored(SET, event, &args[1], len > 0, replaced);
    Ok(Reply::Int(len))
}

pub fn sinterstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    store(ctx, args, SetOp::Inter, "sinterstore")
}

pub fn sunionstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    store(ctx, args, SetOp::Union, "sunionstore")
}

pub fn sdiffstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    store(ctx, args, SetOp::Diff, "sdiffstore")
}

/// Parses `numkeys key [key ...]` at `args[at]`; returns the keys and the index after them.
pub fn numkeys(args: &[Bytes], at: usize) -> CmdResult<(&[Bytes], usize)> {
    let span = super::numkeys::set_keys(args, at)?;
    Ok((&args[span.clone()], span.end))
}

pub fn sintercard(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let (keys, rest) = numkeys(args, 1)?;
    let limit = card_limit(&args[rest..])?;
    let n = combine(ctx, keys, SetOp::Inter)?.len();
    Ok(Reply::Int(limit.map_or(n, |l| n.min(l)) as i64))
}

/// The optional `LIMIT n` of SINTERCARD/ZINTERCARD (`None`, or 0, means no limit; as in
/// Redis, a repeated LIMIT overrides the earlier one).
pub fn card_limit(args: &[Bytes]) -> CmdResult<Option<usize>> {
    let mut limit = None;
    let mut rest = args;
    while let [kw, n, tail @ ..] = rest {
        if !is(kw, "LIMIT") {
            return Err(CmdError::Syntax);
        }
        let n = arg_i64(n)?;
        if n < 0 {
            return Err(CmdError::custom("ERR LIMIT can't be negative"));
        }
        limit = (n > 0).then_some(n as usize);
        rest = tail;
    }
    if rest.is_empty() {
        Ok(limit)
    } else {
        Err(CmdError::Syntax)
    }
}

/// One page of HSCAN/SSCAN/ZSCAN: the members after the cursor's position, filtered by
/// MATCH; `decode` turns a raw entry into its reply items (or `None` to skip it, e.g. an
/// expired hash field). Returns the items and the next cursor (0 when done).
pub fn scan_collection(
    ctx: &Ctx<'_>,
    key: &[u8],
    kind: crate::storage::encoding::KeyType,
    scan: &ScanArgs,
    mut decode: impl FnMut(Vec<u8>, Vec<u8>) -> Option<Vec<Reply>>,
) -> CmdResult<Reply> {
    let resume = if scan.cursor == 0 {
        None
    } else {
        ctx.state.scan_cursors.load(scan.cursor)
    };
    let page = ctx
        .storage()
        .coll_scan_page(ctx.db(), key, kind, resume.as_deref(), scan.count)?;
    let mut items = Vec::new();
    for (member, value) in page.entries {
        if scan
            .pattern
            .as_ref()
            .is_some_and(|p| !glob_match(p, &member))
        {
            continue;
        }
        if let Some(replies) = decode(member, value) {
            items.extend(replies);
        }
    }
    let next = page
        .resume_after
        .map_or(0, |p| ctx.state.scan_cursors.save(p));
    Ok(Reply::Array(vec![
        Reply::bulk(next.to_string()),
        Reply::Array(items),
    ]))
}

pub fn sscan(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let scan = parse_scan_args(args, false)?;
    scan_collection(
        ctx,
        &args[1],
        crate::storage::encoding::KeyType::Set,
        &scan,
        |m, _| Some(vec![Reply::bulk(m)]),
    )
}
