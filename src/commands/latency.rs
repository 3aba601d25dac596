//! LATENCY LATEST/HISTORY/RESET/GRAPH/DOCTOR/HISTOGRAM (HELP is the shared container help).
//! The monitor is `crate::latency`; the per-command histograms live in the command table's
//! statistics.

use bytes::Bytes;

use super::{text, Ctx};
use crate::error::{CmdError, CmdResult};
use crate::protocol::Reply;

pub fn latest(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult<Reply> {
    Ok(Reply::Array(
        ctx.state
            .latency
            .latest()
            .into_iter()
            .map(|(name, last, max)| {
                Reply::Array(vec![
                    Reply::bulk(name),
                    Reply::Int(last.unix_secs as i64),
                    Reply::Int(last.ms as i64),
                    Reply::Int(max as i64),
                ])
            })
            .collect(),
    ))
}

pub fn history(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let event = text(&args[2]).to_ascii_lowercase();
    Ok(Reply::Array(
        ctx.state
            .latency
            .history(&event)
            .into_iter()
            .map(|s| {
                Reply::Array(vec![
                    Reply::Int(s.unix_secs as i64),
                    Reply::Int(s.ms as i64),
                ])
            })
            .collect(),
    ))
}

pub fn reset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let events: Vec<String> = args[2..].iter().map(|a| text(a)).collect();
    Ok(Reply::Int(ctx.state.latency.reset(&events) as i64))
}

pub fn graph(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let event = text(&args[2]).to_ascii_lowercase();
    match ctx.state.latency.graph(&event) {
        Some(graph) => Ok(Reply::Verbatim(graph)),
        None => Err(CmdError::custom(format!(
            "ERR No samples available for event '{}'",
            text(&args[2])
        ))),
    }
}

pub fn doctor(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult<Reply> {
    let slowlog = ctx.state.config.get_int("slowlog-log-slower-than");
    Ok(Reply::Verbatim(ctx.state.latency.doctor(slowlog)))
}

/// `LATENCY HISTOGRAM [command ...]`: for each named (or every called) command, its calls
/// and the cumulative count per power-of-two microsecond bucket.
pub fn histogram(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    // A set: the names are client-sent and may be many.
    let wanted: std::collections::HashSet<String> = args[2..]
        .iter()
        .map(|a| text(a).to_ascii_lowercase())
        .collect();
    let entries = ctx
        .state
        .commands
        .all_stats()
        .into_iter()
        .filter(|(name, _)| wanted.is_empty() || wanted.contains(*name))
        .filter_map(|(name, stats)| {
            let calls = stats.latency.count();
            (calls > 0).then(|| {
                let buckets = stats
                    .latency
                    .power_of_two_cumulative()
                    .into_iter()
                    .map(|(bound, count)| (Reply::Int(bound as i64), Reply::Int(count as i64)))
                    .collect();
                (
                    Reply::bulk(name.to_string()),
                    Reply::Map(vec![
                        (Reply::bulk("calls"), Reply::Int(calls as i64)),
                        (Reply::bulk("histogram_usec"), Reply::Map(buckets)),
                    ]),
                )
            })
        })
        .collect();
    Ok(Reply::Map(entries))
}
