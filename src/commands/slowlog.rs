//! SLOWLOG GET/LEN/RESET (HELP is the shared container help). The log itself is
//! `crate::slowlog`; the dispatch gate fills it.

use bytes::Bytes;

use super::{ok, Ctx};
use crate::error::{CmdError, CmdResult};
use crate::protocol::Reply;

/// Entries `SLOWLOG GET` returns without a count, as Redis.
const DEFAULT_COUNT: usize = 10;

pub fn get(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let count = match args.get(2) {
        None => Some(DEFAULT_COUNT),
        // Redis gives the same text for a count that is not a number.
        Some(arg) => match crate::num::parse_i64(arg) {
            Some(-1) => None,
            Some(n) if n >= 0 => Some(usize::try_from(n).unwrap_or(usize::MAX)),
            _ => {
                return Err(CmdError::custom(
                    "ERR count should be greater than or equal to -1",
                ))
            }
        },
    };
    let entries = ctx.state.slowlog.newest(count);
    Ok(Reply::Array(
        entries
            .into_iter()
            .map(|e| {
                Reply::Array(vec![
                    Reply::Int(e.id as i64),
                    Reply::Int(e.unix_secs as i64),
                    Reply::Int(e.micros as i64),
                    Reply::Array(e.args.into_iter().map(Reply::Bulk).collect()),
                    Reply::bulk(e.addr),
                    Reply::bulk(e.name),
                ])
            })
            .collect(),
    ))
}

pub fn len(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult<Reply> {
    Ok(Reply::Int(ctx.state.slowlog.len() as i64))
}

pub fn reset(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult<Reply> {
    ctx.state.slowlog.reset();
    ok()
}
