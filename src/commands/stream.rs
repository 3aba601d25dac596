//! Stream commands: XADD, XLEN, XRANGE/XREVRANGE, XREAD, XDEL, XTRIM, XSETID, XGROUP,
//! XREADGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM, XINFO. Argument parsing, error
//! precedence and reply shapes follow Redis 7's `t_stream.c`; the data lives in
//! `storage::types::stream`.

use bytes::Bytes;

use super::list::block_on;
use super::{arg_i64, is, text, Ctx};
use crate::blocking::BlockRequest;
use crate::error::{CmdError, CmdResult};
use crate::notify::STREAM;
use crate::protocol::Reply;
use crate::storage::types::stream::{
    AutoClaim, ClaimOptions, Entry, Fields, GroupRead, IdSpec, Pending, SetIdOptions, Stream,
    StreamError, StreamId, Trim, TrimBy, NODE_ENTRIES, UNKNOWN_READS,
};

/// XREAD's BLOCK: integer milliseconds, 0 = forever.
fn parse_timeout_ms(arg: &[u8]) -> CmdResult<Option<std::time::Instant>> {
    let ms = crate::num::parse_i64(arg)
        .ok_or_else(|| CmdError::custom("ERR timeout is not an integer or out of range"))?;
    if ms < 0 {
        return Err(CmdError::custom("ERR timeout is negative"));
    }
    super::list::deadline_after_ms(ms)
}

const INVALID_ID: &str = "ERR Invalid stream ID specified as stream command argument";

/// Entries in the stream at `key` (0 if missing), read only when stream events are
/// published: XADD reports `xtrim` when its MAXLEN/MINID removed entries.
fn length_if_notifying(ctx: &Ctx<'_>, key: &[u8]) -> CmdResult<u64> {
    if !ctx.notifying(STREAM) {
        return Ok(0);
    }
    Ok(ctx.storage().stream(ctx.db(), key)?.map_or(0, |s| s.len()))
}

/// Whether `consumer` of `group` exists on the stream at `key`, read only when stream
/// events are published (implicit consumer creation fires `xgroup-createconsumer`).
fn consumer_known(ctx: &Ctx<'_>, key: &[u8], group: &[u8], consumer: &[u8]) -> CmdResult<bool> {
    if !ctx.notifying(STREAM) {
        return Ok(true);
    }
    let storage = ctx.storage();
    let Some(s) = storage.stream(ctx.db(), key)? else {
        return Ok(false);
    };
    Ok(storage
        .consumers(&s, group)?
        .iter()
        .any(|(name, _)| name.as_slice() == consumer))
}

/// Reports a consumer the command created as a side effect (Redis notifies without
/// signalling the key).
fn consumer_created(
    ctx: &mut Ctx<'_>,
    key: &Bytes,
    group: &[u8],
    consumer: &[u8],
    before: bool,
) -> CmdResult<()> {
    if !before && consumer_known(ctx, key, group, consumer)? {
        ctx.notify(STREAM, "xgroup-createconsumer", key);
    }
    Ok(())
}

// ---- ids ----

/// Parses `ms-seq`, `ms` (seq = `missing_seq`), and unless `strict` also `-` and `+`.
fn parse_id(arg: &[u8], missing_seq: u64, strict: bool) -> CmdResult<StreamId> {
    let bad = || CmdError::custom(INVALID_ID);
    match arg {
        b"-" if !strict => return Ok(StreamId::MIN),
        b"+" if !strict => return Ok(StreamId::MAX),
        _ => {}
    }
    let text = std::str::from_utf8(arg).map_err(|_| bad())?;
    let (ms, seq) = match text.split_once('-') {
        Some((ms, seq)) => (ms, Some(seq)),
        None => (text, None),
    };
    let number = |s: &str| -> CmdResult<u64> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        s.parse().map_err(|_| bad())
    };
    Ok(StreamId::new(
        number(ms)?,
        match seq {
            Some(s) => number(s)?,
            None => missing_seq,
        },
    ))
}

fn strict_id(arg: &[u8]) -> CmdResult<StreamId> {
    parse_id(arg, 0, true)
}

/// A range end of XRANGE/XPENDING/XAUTOCLAIM: `(` makes it exclusive.
fn interval_id(arg: &[u8], missing_seq: u64, is_start: bool) -> CmdResult<StreamId> {
    if arg.len() > 1 && arg[0] == b'(' {
        let id = parse_id(&arg[1..], missing_seq, true)?;
        let moved = if is_start { id.next() } else { id.prev() };
        return moved.ok_or_else(|| {
            CmdError::custom(if is_start {
                "ERR invalid start ID for the interval"
            } else {
                "ERR invalid end ID for the interval"
            })
        });
    }
    parse_id(arg, missing_seq, false)
}

fn id_reply(id: StreamId) -> Reply {
    Reply::bulk(id.to_string())
}

fn fields_reply(fields: Fields) -> Reply {
    Reply::Array(
        fields
            .into_iter()
            .flat_map(|(f, v)| [Reply::bulk(f), Reply::bulk(v)])
            .collect(),
    )
}

fn entry_reply((id, fields): Entry) -> Reply {
    Reply::Array(vec![id_reply(id), fields_reply(fields)])
}

fn entries_reply(entries: Vec<Entry>) -> Reply {
    Reply::Array(entries.into_iter().map(entry_reply).collect())
}

fn maybe_entry_reply(id: StreamId, fields: Option<Fields>) -> Reply {
    Reply::Array(vec![
        id_reply(id),
        fields.map_or(Reply::NilArray, fields_reply),
    ])
}

// ---- errors ----

/// Maps a stream failure to Redis's text; `nogroup` spells the NOGROUP variant of the
/// calling command.
fn stream_err(e: StreamError, nogroup: impl FnOnce() -> String) -> CmdError {
    match e {
        StreamError::Store(e) => e.into(),
        StreamError::IdTooSmall => CmdError::custom(
            "ERR The ID specified in XADD is equal or smaller than the target stream top item",
        ),
        StreamError::IdZero => {
            CmdError::custom("ERR The ID specified in XADD must be greater than 0-0")
        }
        StreamError::Exhausted => CmdError::custom(
            "ERR The stream has exhausted the last possible ID, unable to add more items",
        ),
        StreamError::NoGroup => CmdError::custom(nogroup()),
        StreamError::GroupExists => {
            CmdError::custom("BUSYGROUP Consumer Group name already exists")
        }
        StreamError::SetIdSmallerThanTop => CmdError::custom(
            "ERR The ID specified in XSETID is smaller than the target stream top item",
        ),
        StreamError::SetIdSmallerThanMaxDeleted => CmdError::custom(
            "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id",
        ),
        StreamError::EntriesAddedTooSmall => CmdError::custom(
            "ERR The entries_added specified in XSETID is smaller than the target stream length",
        ),
        StreamError::NoSuchKey => CmdError::NoSuchKey,
    }
}

fn no_group_for_key(key: &[u8], group: &[u8]) -> String {
    format!(
        "NOGROUP No such key '{}' or consumer group '{}'",
        text(key),
        text(group)
    )
}

fn no_group_named(key: &[u8], group: &[u8]) -> String {
    format!(
        "NOGROUP No such consumer group '{}' for key name '{}'",
        text(group),
        text(key)
    )
}

const XGROUP_NEEDS_KEY: &str = "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.";

// ---- XADD / XTRIM ----

/// Parses MAXLEN/MINID/LIMIT (and NOMKSTREAM for XADD) from `args[from..]`; returns the
/// trim, NOMKSTREAM, and the index of the first argument that is not an option.
fn trim_options(args: &[Bytes], from: usize, xadd: bool) -> CmdResult<(Option<Trim>, bool, usize)> {
    let mut strategy = None;
    let mut approximate = false;
    let mut limit = None;
    let mut no_mkstream = false;
    let mut i = from;
    while i < args.len() {
        let more = args.len() - i - 1;
        let a = &args[i];
        if xadd && is(a, "NOMKSTREAM") {
            no_mkstream = true;
        } else if (is(a, "MAXLEN") || is(a, "MINID")) && more >= 1 {
            let maxlen = is(a, "MAXLEN");
            let mut next = &args[i + 1];
            if (&next[..] == b"~" || &next[..] == b"=") && more >= 2 {
                approximate = &next[..] == b"~";
                i += 1;
                next = &args[i + 1];
            }
            if strategy.is_some() {
                return Err(CmdError::custom(
                    "ERR syntax error, MAXLEN and MINID options at the same time are not compatible",
                ));
            }
            strategy = Some(if maxlen {
                let n = arg_i64(next)?;
                if n < 0 {
                    return Err(CmdError::custom("ERR The MAXLEN argument must be >= 0."));
                }
                TrimBy::MaxLen(n as u64)
            } else {
                TrimBy::MinId(strict_id(next)?)
            });
            i += 1;
        } else if is(a, "LIMIT") && more >= 1 {
            let n = arg_i64(&args[i + 1])
                .ok()
                .filter(|&n| n >= 0)
                .ok_or_else(|| CmdError::custom("ERR The LIMIT argument must be >= 0."))?;
            limit = Some(n as u64);
            i += 1;
        } else if xadd {
            break;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    if limit.is_some() && !approximate {
        return Err(CmdError::custom(
            "ERR syntax error, LIMIT cannot be used without the special ~ option",
        ));
    }
    let trim = strategy.map(|strategy| Trim {
        strategy,
        approximate,
        // Exact trims have no limit; `~` defaults to 100 nodes' worth, and LIMIT 0 lifts it.
        limit: match (approximate, limit) {
            (false, _) | (true, Some(0)) => u64::MAX,
            (true, Some(n)) => n,
            (true, None) => 100 * NODE_ENTRIES,
        },
    });
    Ok((trim, no_mkstream, i))
}

pub fn xadd(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let (trim, no_mkstream, id_at) = trim_options(args, 2, true)?;
    let pairs = args.len().saturating_sub(id_at + 1);
    if id_at >= args.len() || pairs < 2 || pairs % 2 == 1 {
        return Err(CmdError::WrongArity("xadd".into()));
    }
    let spec = match &args[id_at][..] {
        b"*" => IdSpec::Auto,
        raw => match raw.strip_suffix(b"-*") {
            Some(ms) => IdSpec::AutoSeq(parse_id(ms, 0, true)?.ms),
            None => {
                let id = strict_id(raw)?;
                if id.is_zero() {
                    return Err(CmdError::custom(
                        "ERR The ID specified in XADD must be greater than 0-0",
                    ));
                }
                IdSpec::Explicit(id)
            }
        },
    };
    if let IdSpec::AutoSeq(_) = spec {
        // `ms-*` must be plain digits before the dash.
        if args[id_at].iter().filter(|&&b| b == b'-').count() != 1 {
            return Err(CmdError::custom(INVALID_ID));
        }
    }
    let fields: Vec<(&[u8], &[u8])> = args[id_at + 1..]
        .chunks_exact(2)
        .map(|p| (&p[0][..], &p[1][..]))
        .collect();
    let trims = trim.is_some();
    let before = if trims {
        length_if_notifying(ctx, &args[1])?
    } else {
        0
    };
    let added = ctx
        .storage()
        .xadd(ctx.db(), &args[1], spec, &fields, no_mkstream, trim)
        .map_err(|e| stream_err(e, String::new))?;
    if added.is_some() {
        ctx.changed(STREAM, "xadd", &args[1]);
        if trims && length_if_notifying(ctx, &args[1])? < before + 1 {
            ctx.changed(STREAM, "xtrim", &args[1]);
        }
    }
    Ok(added.map_or(Reply::Nil, id_reply))
}

pub fn xtrim(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let (trim, _, _) = trim_options(args, 2, false)?;
    let trim = trim.ok_or_else(|| {
        CmdError::custom("ERR syntax error, XTRIM must be called with a trimming strategy")
    })?;
    let removed = ctx
        .storage()
        .xtrim(ctx.db(), &args[1], trim)
        .map_err(|e| stream_err(e, String::new))?;
    if removed > 0 {
        ctx.changed(STREAM, "xtrim", &args[1]);
    }
    Ok(Reply::Int(removed as i64))
}

pub fn xlen(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let len = ctx
        .storage()
        .stream(ctx.db(), &args[1])?
        .map_or(0, |s| s.len());
    Ok(Reply::Int(len as i64))
}

fn range(ctx: &mut Ctx<'_>, args: &[Bytes], rev: bool) -> CmdResult<Reply> {
    let (lo_arg, hi_arg) = if rev {
        (&args[3], &args[2])
    } else {
        (&args[2], &args[3])
    };
    let start = interval_id(lo_arg, 0, true)?;
    let end = interval_id(hi_arg, u64::MAX, false)?;
    let mut count: i64 = -1;
    let mut i = 4;
    while i < args.len() {
        if is(&args[i], "COUNT") && i + 1 < args.len() {
            count = arg_i64(&args[i + 1])?.max(0);
            i += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    if count == 0 {
        return Ok(Reply::NilArray);
    }
    let Some(s) = ctx.storage().stream(ctx.db(), &args[1])? else {
        return Ok(Reply::Array(Vec::new()));
    };
    let count = if count < 0 { 0 } else { count as usize };
    Ok(entries_reply(
        ctx.storage().entries(&s, start, end, count, rev)?,
    ))
}

pub fn xrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    range(ctx, args, false)
}

pub fn xrevrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    range(ctx, args, true)
}

pub fn xdel(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let ids = args[2..]
        .iter()
        .map(|a| strict_id(a))
        .collect::<CmdResult<Vec<_>>>()?;
    let deleted = ctx
        .storage()
        .xdel(ctx.db(), &args[1], &ids)
        .map_err(|e| stream_err(e, String::new))?;
    if deleted > 0 {
        ctx.changed(STREAM, "xdel", &args[1]);
    }
    Ok(Reply::Int(deleted as i64))
}

pub fn xsetid(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let id = strict_id(&args[2])?;
    let mut opts = SetIdOptions::default();
    let mut i = 3;
    while i < args.len() {
        let more = args.len() - i - 1;
        if is(&args[i], "ENTRIESADDED") && more >= 1 {
            let n = arg_i64(&args[i + 1])?;
            if n < 0 {
                return Err(CmdError::custom("ERR entries_added must be positive"));
            }
            opts.entries_added = Some(n as u64);
        } else if is(&args[i], "MAXDELETEDID") && more >= 1 {
            let max = strict_id(&args[i + 1])?;
            if id < max {
                return Err(CmdError::custom(
                    "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id",
                ));
            }
            opts.max_deleted = Some(max);
        } else {
            return Err(CmdError::Syntax);
        }
        i += 2;
    }
    ctx.storage()
        .xsetid(ctx.db(), &args[1], id, opts)
        .map_err(|e| stream_err(e, String::new))?;
    // Redis 7 notifies without signalling the key (WATCH stays valid).
    ctx.notify(STREAM, "xsetid", &args[1]);
    Ok(Reply::Ok)
}

// ---- XREAD / XREADGROUP ----

/// Key positions of XREAD/XREADGROUP: the first half of the arguments after STREAMS.
pub fn xread_keys(args: &[Bytes]) -> Vec<usize> {
    // Skip option values: a group or consumer may itself be called "streams".
    let mut i = 1;
    let streams = loop {
        match args.get(i) {
            None => return Vec::new(),
            Some(a) if is(a, "STREAMS") => break i,
            Some(a) if is(a, "GROUP") => i += 3,
            Some(a) if is(a, "COUNT") || is(a, "BLOCK") => i += 2,
            Some(_) => i += 1,
        }
    };
    let rest = args.len() - streams - 1;
    if rest == 0 || rest % 2 == 1 {
        return Vec::new();
    }
    (streams + 1..streams + 1 + rest / 2).collect()
}

/// One stream's starting point in XREAD/XREADGROUP.
#[derive(Clone, Copy)]
enum ReadFrom {
    /// `$`: entries added after the command started.
    Latest,
    /// `+`: the newest entry (XREAD).
    LastEntry,
    /// `>`: never-delivered entries (XREADGROUP).
    Undelivered,
    After(StreamId),
}

struct ReadArgs<'a> {
    count: usize,
    block: Option<Option<std::time::Instant>>,
    group: Option<(&'a [u8], &'a [u8])>,
    no_ack: bool,
    streams_at: usize,
    keys: &'a [Bytes],
    ids: &'a [Bytes],
}

fn read_args<'a>(args: &'a [Bytes], group_cmd: bool) -> CmdResult<ReadArgs<'a>> {
    let name = if group_cmd { "xreadgroup" } else { "xread" };
    let mut r = ReadArgs {
        count: 0,
        block: None,
        group: None,
        no_ack: false,
        streams_at: 0,
        keys: &[],
        ids: &[],
    };
    let mut i = 1;
    while i < args.len() {
        let more = args.len() - i - 1;
        let a = &args[i];
        if is(a, "BLOCK") && more >= 1 {
            r.block = Some(parse_timeout_ms(&args[i + 1])?);
            i += 1;
        } else if is(a, "COUNT") && more >= 1 {
            r.count = arg_i64(&args[i + 1])?.max(0) as usize;
            i += 1;
        } else if is(a, "STREAMS") && more >= 1 {
            r.streams_at = i + 1;
            let n = args.len() - r.streams_at;
            if n % 2 == 1 {
                return Err(CmdError::custom(format!(
                    "ERR Unbalanced {} list of streams: for each stream key an ID or '$' must be specified.",
                    name.to_ascii_uppercase()
                )));
            }
            r.keys = &args[r.streams_at..r.streams_at + n / 2];
            r.ids = &args[r.streams_at + n / 2..];
            break;
        } else if is(a, "GROUP") && more >= 2 {
            if !group_cmd {
                return Err(CmdError::custom(
                    "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            r.group = Some((&args[i + 1][..], &args[i + 2][..]));
            i += 2;
        } else if is(a, "NOACK") && group_cmd {
            r.no_ack = true;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    if r.streams_at == 0 {
        return Err(CmdError::Syntax);
    }
    if group_cmd && r.group.is_none() {
        return Err(CmdError::custom("ERR Missing GROUP option for XREADGROUP"));
    }
    Ok(r)
}

/// Per-stream results, as an array of [key, entries] pairs (RESP2) or a map (RESP3).
fn streams_reply(ctx: &Ctx<'_>, results: Vec<(Bytes, Reply)>) -> Reply {
    if ctx.client.resp3 {
        Reply::Map(
            results
                .into_iter()
                .map(|(k, v)| (Reply::Bulk(k), v))
                .collect(),
        )
    } else {
        Reply::Array(
            results
                .into_iter()
                .map(|(k, v)| Reply::Array(vec![Reply::Bulk(k), v]))
                .collect(),
        )
    }
}

pub fn xread(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let r = read_args(args, false)?;
    let storage = ctx.storage();
    let mut starts = Vec::with_capacity(r.keys.len());
    for (key, id) in r.keys.iter().zip(r.ids) {
        let stream = storage.stream(ctx.db(), key)?;
        let from = match &id[..] {
            b"$" => ReadFrom::Latest,
            b"+" => ReadFrom::LastEntry,
            b">" => {
                return Err(CmdError::custom(
                    "ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.",
                ))
            }
            raw => ReadFrom::After(parse_id(raw, 0, true)?),
        };
        let last_entry = match (&from, &stream) {
            (ReadFrom::LastEntry, Some(s)) => storage
                .entries(s, StreamId::MIN, StreamId::MAX, 1, true)?
                .first()
                .map(|(id, _)| *id),
            _ => None,
        };
        let after = match from {
            // `+` (Redis 7.4): the newest entry; on an empty stream, like `$`.
            ReadFrom::LastEntry => match last_entry {
                Some(id) => id.prev().unwrap_or(StreamId::MIN),
                None => stream.as_ref().map_or(StreamId::MIN, |s| s.info.last_id),
            },
            ReadFrom::Latest => stream.as_ref().map_or(StreamId::MIN, |s| s.info.last_id),
            ReadFrom::After(id) => id,
            ReadFrom::Undelivered => StreamId::MIN,
        };
        starts.push((stream, after));
    }
    let mut results = Vec::new();
    for (key, (stream, after)) in r.keys.iter().zip(&starts) {
        let Some(s) = stream else { continue };
        if *after >= s.info.last_id {
            continue;
        }
        let Some(start) = after.next() else { continue };
        let entries = storage.entries(s, start, StreamId::MAX, r.count, false)?;
        if !entries.is_empty() {
            results.push((key.clone(), entries_reply(entries)));
        }
    }
    if !results.is_empty() {
        return Ok(streams_reply(ctx, results));
    }
    let Some(deadline) = r.block else {
        return Ok(Reply::NilArray);
    };
    // Park with `$` resolved, so entries added from now on are what wakes us.
    let mut retry = args[..r.streams_at].to_vec();
    retry.extend(r.keys.iter().cloned());
    retry.extend(
        starts
            .iter()
            .map(|(_, after)| Bytes::from(after.to_string())),
    );
    park(ctx, r.keys, deadline, Some(retry))
}

fn park(
    ctx: &mut Ctx<'_>,
    keys: &[Bytes],
    deadline: Option<std::time::Instant>,
    retry: Option<Vec<Bytes>>,
) -> CmdResult<Reply> {
    let reply = block_on(ctx, keys, deadline, Reply::NilArray)?;
    if let Some(BlockRequest { retry_args, .. }) = ctx.client.block.as_mut() {
        *retry_args = retry;
    }
    Ok(reply)
}

pub fn xreadgroup(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let r = read_args(args, true)?;
    let Some((group, consumer)) = r.group else {
        return Err(CmdError::Syntax);
    };
    let state = ctx.state;
    let storage = &state.storage;
    let db = ctx.db();
    let mut froms = Vec::with_capacity(r.keys.len());
    for (key, id) in r.keys.iter().zip(r.ids) {
        // group_exists reports WRONGTYPE before NOGROUP, as Redis does.
        if !storage
            .group_exists(db, key, group)
            .map_err(|e| stream_err(e, String::new))?
        {
            return Err(CmdError::custom(format!(
                "NOGROUP No such key '{}' or consumer group '{}' in XREADGROUP with GROUP option",
                text(key),
                text(group)
            )));
        }
        froms.push(match &id[..] {
            b">" => ReadFrom::Undelivered,
            b"$" => {
                return Err(CmdError::custom(
                    "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.",
                ))
            }
            raw => ReadFrom::After(parse_id(raw, 0, true)?),
        });
    }
    // Consumers the command will create, per stream, for `xgroup-createconsumer`.
    let mut known = Vec::with_capacity(r.keys.len());
    for key in r.keys {
        known.push(consumer_known(ctx, key, group, consumer)?);
    }
    let mut results = Vec::new();
    let mut any_history = false;
    for (key, from) in r.keys.iter().zip(&froms) {
        let after = match from {
            ReadFrom::After(id) => {
                any_history = true;
                Some(*id)
            }
            _ => None,
        };
        let read = storage
            .xreadgroup(db, key, group, consumer, after, r.count, r.no_ack)
            .map_err(|e| stream_err(e, || no_group_for_key(key, group)))?;
        match read {
            Some(GroupRead::New(entries)) => results.push((key.clone(), entries_reply(entries))),
            Some(GroupRead::History(items)) => results.push((
                key.clone(),
                Reply::Array(
                    items
                        .into_iter()
                        .map(|(id, f)| maybe_entry_reply(id, f))
                        .collect(),
                ),
            )),
            None => {}
        }
    }
    if !results.is_empty() || any_history {
        for (key, before) in r.keys.iter().zip(known) {
            consumer_created(ctx, key, group, consumer, before)?;
        }
        return Ok(streams_reply(ctx, results));
    }
    // Nothing new: the consumer exists from now on, as in Redis 7.2.
    for key in r.keys {
        storage
            .touch_consumer(db, key, group, consumer)
            .map_err(|e| stream_err(e, || no_group_for_key(key, group)))?;
    }
    for (key, before) in r.keys.iter().zip(known) {
        consumer_created(ctx, key, group, consumer, before)?;
    }
    match r.block {
        Some(deadline) => park(ctx, r.keys, deadline, None),
        None => Ok(Reply::NilArray),
    }
}

// ---- groups ----

/// `$` or an id (missing sequence 0).
fn group_id(arg: &[u8]) -> CmdResult<Option<StreamId>> {
    if arg == b"$" {
        return Ok(None);
    }
    Ok(Some(strict_id(arg)?))
}

fn entries_read_arg(arg: &[u8]) -> CmdResult<i64> {
    let n = arg_i64(arg)?;
    if n < 0 && n != UNKNOWN_READS {
        return Err(CmdError::custom(
            "ERR value for ENTRIESREAD must be positive or -1",
        ));
    }
    Ok(n)
}

pub fn xgroup_create(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let (key, group) = (&args[2], &args[3]);
    let mut mkstream = false;
    let mut entries_read = None;
    let mut i = 5;
    while i < args.len() {
        if is(&args[i], "MKSTREAM") {
            mkstream = true;
        } else if is(&args[i], "ENTRIESREAD") && i + 1 < args.len() {
            entries_read = Some(entries_read_arg(&args[i + 1])?);
            i += 1;
        } else {
            return Err(xgroup_bad_option(&args[1]));
        }
        i += 1;
    }
    let id = group_id(&args[4])?;
    let created = mkstream && ctx.observed() && !ctx.storage().exists(ctx.db(), key)?;
    ctx.storage()
        .xgroup_create(ctx.db(), key, group, id, mkstream, entries_read)
        .map_err(|e| match e {
            StreamError::NoSuchKey => CmdError::custom(XGROUP_NEEDS_KEY),
            other => stream_err(other, String::new),
        })?;
    // Redis signals the key only when MKSTREAM created it.
    if created {
        ctx.changed(STREAM, "xgroup-create", key);
    } else {
        ctx.notify(STREAM, "xgroup-create", key);
    }
    Ok(Reply::Ok)
}

/// Redis answers an unknown XGROUP CREATE/SETID option as it answers a bad subcommand.
fn xgroup_bad_option(sub: &[u8]) -> CmdError {
    CmdError::custom(format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try XGROUP HELP.",
        text(sub)
    ))
}

fn xgroup_err<'a>(key: &'a [u8], group: &'a [u8]) -> impl Fn(StreamError) -> CmdError + 'a {
    move |e| match e {
        StreamError::NoSuchKey => CmdError::custom(XGROUP_NEEDS_KEY),
        other => stream_err(other, || no_group_named(key, group)),
    }
}

pub fn xgroup_setid(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let (key, group) = (&args[2], &args[3]);
    let mut entries_read = None;
    let mut i = 5;
    while i < args.len() {
        if is(&args[i], "ENTRIESREAD") && i + 1 < args.len() {
            entries_read = Some(entries_read_arg(&args[i + 1])?);
            i += 2;
        } else {
            return Err(xgroup_bad_option(&args[1]));
        }
    }
    let id = group_id(&args[4])?;
    ctx.storage()
        .xgroup_setid(ctx.db(), key, group, id, entries_read)
        .map_err(xgroup_err(key, group))?;
    ctx.notify(STREAM, "xgroup-setid", key);
    Ok(Reply::Ok)
}

pub fn xgroup_destroy(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let (key, group) = (&args[2], &args[3]);
    let destroyed = ctx
        .storage()
        .xgroup_destroy(ctx.db(), key, group)
        .map_err(xgroup_err(key, group))?;
    if destroyed {
        // Also wakes XREADGROUP clients blocked on the group, to answer -NOGROUP.
        ctx.notify(STREAM, "xgroup-destroy", key);
    }
    Ok(Reply::Int(i64::from(destroyed)))
}

pub fn xgroup_createconsumer(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let (key, group) = (&args[2], &args[3]);
    let created = ctx
        .storage()
        .xgroup_createconsumer(ctx.db(), key, group, &args[4])
        .map_err(xgroup_err(key, group))?;
    if created {
        ctx.notify(STREAM, "xgroup-createconsumer", key);
    }
    Ok(Reply::Int(i64::from(created)))
}

pub fn xgroup_delconsumer(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let (key, group) = (&args[2], &args[3]);
    let existed = ctx.notifying(STREAM)
        && ctx
            .storage()
            .group_exists(ctx.db(), key, group)
            .unwrap_or(false)
        && consumer_known(ctx, key, group, &args[4])?;
    let pending = ctx
        .storage()
        .xgroup_delconsumer(ctx.db(), key, group, &args[4])
        .map_err(xgroup_err(key, group))?;
    if existed {
        ctx.notify(STREAM, "xgroup-delconsumer", key);
    }
    Ok(Reply::Int(pending as i64))
}

pub fn xgroup_help(_ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult<Reply> {
    let lines = [
        "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CREATE <key> <groupname> <id|$> [option]",
        "    Create a new consumer group. Options are:",
        "    * MKSTREAM",
        "      Create the empty stream if it does not exist.",
        "    * ENTRIESREAD entries_read",
        "      Set the group's entries_read counter (internal use).",
        "CREATECONSUMER <key> <groupname> <consumer>",
        "    Create a new consumer in the specified group.",
        "DELCONSUMER <key> <groupname> <consumer>",
        "    Remove the specified consumer.",
        "DESTROY <key> <groupname>",
        "    Remove the specified group.",
        "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
        "    Set the current group ID and entries_read counter.",
        "HELP",
        "    Prints this help.",
    ];
    Ok(Reply::Array(
        lines.iter().map(|l| Reply::Status((*l).into())).collect(),
    ))
}

pub fn xack(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let ids = args[3..]
        .iter()
        .map(|a| strict_id(a))
        .collect::<CmdResult<Vec<_>>>()?;
    let acked = ctx
        .storage()
        .xack(ctx.db(), &args[1], &args[2], &ids)
        .map_err(|e| stream_err(e, String::new))?;
    Ok(Reply::Int(acked as i64))
}

pub fn xpending(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let (key, group) = (&args[1], &args[2]);
    let storage = ctx.storage();
    let nogroup = || no_group_for_key(key, group);
    if args.len() == 3 {
        let summary = storage
            .xpending_summary(ctx.db(), key, group)
            .map_err(|e| stream_err(e, nogroup))?;
        let (min, max) = match summary.range {
            Some((a, b)) => (id_reply(a), id_reply(b)),
            None => (Reply::Nil, Reply::Nil),
        };
        let consumers = if summary.per_consumer.is_empty() {
            Reply::NilArray
        } else {
            Reply::Array(
                summary
                    .per_consumer
                    .into_iter()
                    .map(|(c, n)| Reply::Array(vec![Reply::bulk(c), Reply::bulk(n.to_string())]))
                    .collect(),
            )
        };
        return Ok(Reply::Array(vec![
            Reply::Int(summary.count as i64),
            min,
            max,
            consumers,
        ]));
    }
    let mut i = 3;
    let mut min_idle = 0u64;
    if is(&args[i], "IDLE") {
        if args.len() < 8 {
            return Err(CmdError::Syntax);
        }
        min_idle = arg_i64(&args[i + 1])?.max(0) as u64;
        i += 2;
    }
    if args.len() < i + 3 || args.len() > i + 4 {
        return Err(CmdError::Syntax);
    }
    let start = interval_id(&args[i], 0, true)?;
    let end = interval_id(&args[i + 1], u64::MAX, false)?;
    let count = arg_i64(&args[i + 2])?.max(0) as usize;
    let consumer = args.get(i + 3).map(|c| &c[..]);
    let now = crate::storage::now_ms();
    let pending = storage
        .xpending_range(ctx.db(), key, group, min_idle, start, end, count, consumer)
        .map_err(|e| stream_err(e, nogroup))?;
    Ok(Reply::Array(
        pending
            .into_iter()
            .map(|p| {
                Reply::Array(vec![
                    id_reply(p.id),
                    Reply::bulk(p.consumer),
                    Reply::Int(now.saturating_sub(p.delivered_ms) as i64),
                    Reply::Int(p.deliveries as i64),
                ])
            })
            .collect(),
    ))
}

/// XCLAIM/XAUTOCLAIM check the group before parsing anything else, as Redis does.
fn require_group(
    storage: &crate::storage::Storage,
    db: usize,
    key: &[u8],
    group: &[u8],
) -> CmdResult<()> {
    let exists = storage
        .group_exists(db, key, group)
        .map_err(|e| stream_err(e, String::new))?;
    if exists {
        Ok(())
    } else {
        Err(CmdError::custom(no_group_for_key(key, group)))
    }
}

fn claim_number(arg: &[u8], what: &str) -> CmdResult<i64> {
    crate::num::parse_i64(arg).ok_or_else(|| CmdError::custom(format!("ERR Invalid {what}")))
}

pub fn xclaim(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let (key, group, consumer) = (&args[1], &args[2], &args[3]);
    let state = ctx.state;
    let storage = &state.storage;
    let db = ctx.db();
    require_group(storage, db, key, group)?;
    let known = consumer_known(ctx, key, group, consumer)?;
    let min_idle = claim_number(&args[4], "min-idle-time argument for XCLAIM")?.max(0) as u64;
    let mut ids = Vec::new();
    let mut j = 5;
    while j < args.len() {
        match strict_id(&args[j]) {
            Ok(id) => ids.push(id),
            Err(_) => break,
        }
        j += 1;
    }
    let mut opts = ClaimOptions {
        min_idle_ms: min_idle,
        ..Default::default()
    };
    let mut delivery: Option<i64> = None;
    let now = crate::storage::now_ms() as i64;
    while j < args.len() {
        let more = args.len() - j - 1;
        let a = &args[j];
        if is(a, "FORCE") {
            opts.force = true;
        } else if is(a, "JUSTID") {
            opts.just_id = true;
        } else if is(a, "IDLE") && more >= 1 {
            j += 1;
            delivery = Some(now - claim_number(&args[j], "IDLE option argument for XCLAIM")?);
        } else if is(a, "TIME") && more >= 1 {
            j += 1;
            delivery = Some(claim_number(&args[j], "TIME option argument for XCLAIM")?);
        } else if is(a, "RETRYCOUNT") && more >= 1 {
            j += 1;
            let n = claim_number(&args[j], "RETRYCOUNT option argument for XCLAIM")?;
            opts.retry_count = (n >= 0).then_some(n as u64);
        } else if is(a, "LASTID") && more >= 1 {
            j += 1;
            opts.last_id = Some(strict_id(&args[j])?);
        } else {
            return Err(CmdError::custom(format!(
                "ERR Unrecognized XCLAIM option '{}'",
                text(a)
            )));
        }
        j += 1;
    }
    if let Some(t) = delivery {
        let t = if t < 0 || t > now { now } else { t };
        opts.time_ms = Some(t as u64);
    }
    let claimed = storage
        .xclaim(db, key, group, consumer, &ids, opts)
        .map_err(|e| stream_err(e, || no_group_for_key(key, group)))?;
    consumer_created(ctx, key, group, consumer, known)?;
    Ok(Reply::Array(
        claimed
            .into_iter()
            .map(|(id, fields)| match fields {
                Some(f) => entry_reply((id, f)),
                None => id_reply(id),
            })
            .collect(),
    ))
}

pub fn xautoclaim(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let (key, group, consumer) = (&args[1], &args[2], &args[3]);
    let state = ctx.state;
    let storage = &state.storage;
    let db = ctx.db();
    require_group(storage, db, key, group)?;
    let known = consumer_known(ctx, key, group, consumer)?;
    let min_idle = claim_number(&args[4], "min-idle-time argument for XAUTOCLAIM")?.max(0) as u64;
    let start = interval_id(&args[5], 0, true)?;
    let mut count = 100usize;
    let mut just_id = false;
    let mut j = 6;
    while j < args.len() {
        let more = args.len() - j - 1;
        if is(&args[j], "COUNT") && more >= 1 {
            let n = crate::num::parse_i64(&args[j + 1])
                .filter(|&n| (1..=i64::MAX / 10).contains(&n))
                .ok_or_else(|| CmdError::custom("ERR COUNT must be > 0"))?;
            count = usize::try_from(n).unwrap_or(usize::MAX / 10);
            j += 2;
        } else if is(&args[j], "JUSTID") {
            just_id = true;
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let AutoClaim {
        next,
        claimed,
        deleted,
    } = storage
        .xautoclaim(db, key, group, consumer, min_idle, start, count, just_id)
        .map_err(|e| stream_err(e, || no_group_for_key(key, group)))?;
    consumer_created(ctx, key, group, consumer, known)?;
    Ok(Reply::Array(vec![
        id_reply(next),
        Reply::Array(
            claimed
                .into_iter()
                .map(|(id, fields)| match fields {
                    Some(f) => entry_reply((id, f)),
                    None => id_reply(id),
                })
                .collect(),
        ),
        Reply::Array(deleted.into_iter().map(id_reply).collect()),
    ]))
}

// ---- XINFO ----

fn field(name: &str, value: Reply) -> (Reply, Reply) {
    (Reply::bulk(name.to_string()), value)
}

fn opt_entry(e: Option<Entry>) -> Reply {
    e.map_or(Reply::Nil, entry_reply)
}

fn stream_or_no_key(ctx: &Ctx<'_>, key: &[u8]) -> CmdResult<Stream> {
    ctx.storage()
        .stream(ctx.db(), key)?
        .ok_or(CmdError::NoSuchKey)
}

fn reads_reply(n: i64) -> Reply {
    if n == UNKNOWN_READS {
        Reply::Nil
    } else {
        Reply::Int(n)
    }
}

pub fn xinfo_stream(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let key = &args[2];
    let mut full = false;
    let mut count = 10usize;
    let mut i = 3;
    while i < args.len() {
        if is(&args[i], "FULL") && !full {
            full = true;
            i += 1;
        } else if full && is(&args[i], "COUNT") && i + 1 < args.len() {
            let n = arg_i64(&args[i + 1])?;
            count = if n <= 0 { 0 } else { n as usize };
            i += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let s = stream_or_no_key(ctx, key)?;
    let storage = ctx.storage();
    let first = storage.first_entry_id(&s)?;
    let mut out = vec![
        field("length", Reply::Int(s.len() as i64)),
        field("last-generated-id", id_reply(s.info.last_id)),
        field("max-deleted-entry-id", id_reply(s.info.max_deleted)),
        field("entries-added", Reply::Int(s.info.entries_added as i64)),
        field(
            "recorded-first-entry-id",
            id_reply(first.unwrap_or(StreamId::MIN)),
        ),
    ];
    if !full {
        let first = storage.entries(&s, StreamId::MIN, StreamId::MAX, 1, false)?;
        let last = storage.entries(&s, StreamId::MIN, StreamId::MAX, 1, true)?;
        out.push(field("groups", Reply::Int(s.info.groups as i64)));
        out.push(field("first-entry", opt_entry(first.into_iter().next())));
        out.push(field("last-entry", opt_entry(last.into_iter().next())));
        return Ok(Reply::Map(out));
    }
    let entries = storage.entries(&s, StreamId::MIN, StreamId::MAX, count, false)?;
    out.push(field("entries", entries_reply(entries)));
    let mut groups = Vec::new();
    for (name, g) in storage.groups(&s)? {
        let pel = storage.group_pel(&s, &name, StreamId::MIN, StreamId::MAX, 0)?;
        let pel_count = pel.len();
        let pending: Vec<Reply> = pel
            .into_iter()
            .take(if count == 0 { usize::MAX } else { count })
            .map(|p: Pending| {
                Reply::Array(vec![
                    id_reply(p.id),
                    Reply::bulk(p.consumer),
                    Reply::Int(p.delivered_ms as i64),
                    Reply::Int(p.deliveries as i64),
                ])
            })
            .collect();
        let mut consumers = Vec::new();
        for (cname, times) in storage.consumers(&s, &name)? {
            let cpel = storage.consumer_pending(&s, &name, &cname, 0)?;
            let cpel_count = cpel.len();
            let cpending: Vec<Reply> = cpel
                .into_iter()
                .take(if count == 0 { usize::MAX } else { count })
                .map(|p| {
                    Reply::Array(vec![
                        id_reply(p.id),
                        Reply::Int(p.delivered_ms as i64),
                        Reply::Int(p.deliveries as i64),
                    ])
                })
                .collect();
            consumers.push(Reply::Map(vec![
                field("name", Reply::bulk(cname)),
                field("seen-time", Reply::Int(times.seen_ms as i64)),
                field("active-time", active_time(times.active_ms)),
                field("pel-count", Reply::Int(cpel_count as i64)),
                field("pending", Reply::Array(cpending)),
            ]));
        }
        groups.push(Reply::Map(vec![
            field("name", Reply::bulk(name)),
            field("last-delivered-id", id_reply(g.last_id)),
            field("entries-read", reads_reply(g.entries_read)),
            field("lag", s.lag(&g, first).map_or(Reply::Nil, Reply::Int)),
            field("pel-count", Reply::Int(pel_count as i64)),
            field("pending", Reply::Array(pending)),
            field("consumers", Reply::Array(consumers)),
        ]));
    }
    out.push(field("groups", Reply::Array(groups)));
    Ok(Reply::Map(out))
}

/// A consumer that never got an entry reports -1, as Redis 7.2 does.
fn active_time(ms: u64) -> Reply {
    if ms == 0 {
        Reply::Int(-1)
    } else {
        Reply::Int(ms as i64)
    }
}

pub fn xinfo_groups(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let s = stream_or_no_key(ctx, &args[2])?;
    let storage = ctx.storage();
    let first = storage.first_entry_id(&s)?;
    let mut out = Vec::new();
    for (name, g) in storage.groups(&s)? {
        let consumers = storage.consumers(&s, &name)?.len();
        let pending = storage
            .group_pel(&s, &name, StreamId::MIN, StreamId::MAX, 0)?
            .len();
        out.push(Reply::Map(vec![
            field("name", Reply::bulk(name)),
            field("consumers", Reply::Int(consumers as i64)),
            field("pending", Reply::Int(pending as i64)),
            field("last-delivered-id", id_reply(g.last_id)),
            field("entries-read", reads_reply(g.entries_read)),
            field("lag", s.lag(&g, first).map_or(Reply::Nil, Reply::Int)),
        ]));
    }
    Ok(Reply::Array(out))
}

pub fn xinfo_consumers(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let (key, group) = (&args[2], &args[3]);
    let s = stream_or_no_key(ctx, key)?;
    let storage = ctx.storage();
    if storage.group(&s, group)?.is_none() {
        return Err(CmdError::custom(no_group_named(key, group)));
    }
    let now = crate::storage::now_ms();
    let mut out = Vec::new();
    for (name, times) in storage.consumers(&s, group)? {
        let pending = storage.consumer_pending_count(&s, group, &name)?;
        let inactive = if times.active_ms == 0 {
            -1
        } else {
            now.saturating_sub(times.active_ms) as i64
        };
        out.push(Reply::Map(vec![
            field("name", Reply::bulk(name)),
            field("pending", Reply::Int(pending as i64)),
            field("idle", Reply::Int(now.saturating_sub(times.seen_ms) as i64)),
            field("inactive", Reply::Int(inactive)),
        ]));
    }
    Ok(Reply::Array(out))
}

pub fn xinfo_help(_ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult<Reply> {
    let lines = [
        "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CONSUMERS <key> <groupname>",
        "    Show consumers of <groupname>.",
        "GROUPS <key>",
        "    Show the stream consumer groups.",
        "STREAM <key> [FULL [COUNT <count>]",
        "    Show information about the stream.",
        "HELP",
        "    Prints this help.",
    ];
    Ok(Reply::Array(
        lines.iter().map(|l| Reply::Status((*l).into())).collect(),
    ))
}
