//! Hash commands.

use bytes::Bytes;
use rand::seq::IndexedRandom;

use super::{arg_f64, arg_i64, is, ok, Ctx};
use crate::error::{CmdError, CmdResult};
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
    Ok(Reply::Int(ctx.storage().hset(
        ctx.db(),
        &args[1],
        &pairs,
        false,
    )?))
}

pub fn hmset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let pairs = field_pairs(args, "hmset")?;
    ctx.storage().hset(ctx.db(), &args[1], &pairs, false)?;
    ok()
}

pub fn hsetnx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let pairs = [(&args[2][..], &args[3][..])];
    Ok(Reply::Int(ctx.storage().hset(
        ctx.db(),
        &args[1],
        &pairs,
        true,
    )?))
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
    Ok(Reply::Int(ctx.storage().hdel(
        ctx.db(),
        &args[1],
        &fields,
    )?))
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
    Ok(Reply::Int(ctx.storage().hincrby(
        ctx.db(),
        &args[1],
        &args[2],
        delta,
    )?))
}

pub fn hincrbyfloat(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let delta = arg_f64(&args[3])?;
    Ok(Reply::bulk(ctx.storage().hincrbyfloat(
        ctx.db(),
        &args[1],
        &args[2],
        delta,
    )?))
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
    let all = ctx.storage().hgetall(ctx.db(), &args[1])?;
    let (page, next) = super::set::scan_page(ctx, all, &scan);
    let items = page.into_iter().flat_map(|(f, v)| {
        if scan.novalues {
            vec![Reply::bulk(f)]
        } else {
            vec![Reply::bulk(f), Reply::bulk(v)]
        }
    });
    Ok(Reply::Array(vec![
        Reply::bulk(next.to_string()),
        Reply::Array(items.collect()),
    ]))
}
