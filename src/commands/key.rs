//! Generic key commands: existence, deletion, TTLs, renames, iteration, databases, OBJECT.

use bytes::Bytes;

use super::{arg_db, arg_i64, is, ok, Ctx};
use crate::error::{CmdError, CmdResult};
use crate::glob::glob_match;
use crate::notify::GENERIC;
use crate::num::parse_i64;
use crate::protocol::Reply;
use crate::storage::encoding::KeyType;
use crate::storage::keyspace::{ExpireCondition, Ttl};
use crate::storage::now_ms;

pub fn del(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let keys: Vec<&[u8]> = args[1..].iter().map(|k| &k[..]).collect();
    // Which keys exist decides which fire `del`; nobody needs to know otherwise.
    let mut live = Vec::new();
    if ctx.observed() {
        // A key named twice fires once; a set keeps that linear in the key count (a scan of
        // the keys before it was quadratic: DEL of 100k keys with a watcher took minutes).
        let mut seen = std::collections::HashSet::with_capacity(args.len().min(1024));
        for key in &args[1..] {
            if seen.insert(&key[..]) && ctx.storage().exists(ctx.db(), key)? {
                live.push(key);
            }
        }
    }
    let removed = ctx.storage().delete_keys(ctx.db(), &keys)?;
    for key in live {
        ctx.changed(GENERIC, "del", key);
    }
    Ok(Reply::Int(removed))
}

/// `EXISTS` and `TOUCH`: a key named twice counts twice.
pub fn exists(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let mut n = 0;
    for key in &args[1..] {
        n += i64::from(ctx.storage().exists(ctx.db(), key)?);
    }
    Ok(Reply::Int(n))
}

pub fn type_of(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let kind = ctx.storage().key_type(ctx.db(), &args[1])?;
    Ok(Reply::status(kind.map_or("none", KeyType::name)))
}

fn parse_condition(args: &[Bytes]) -> CmdResult<ExpireCondition> {
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for opt in args {
        if is(opt, "NX") {
            nx = true;
        } else if is(opt, "XX") {
            xx = true;
        } else if is(opt, "GT") {
            gt = true;
        } else if is(opt, "LT") {
            lt = true;
        } else {
            return Err(CmdError::custom(format!(
                "ERR Unsupported option {}",
                super::text(opt)
            )));
        }
    }
    if nx && (xx || gt || lt) {
        return Err(CmdError::custom(
            "ERR NX and XX, GT or LT options at the same time are not compatible",
        ));
    }
    if gt && lt {
        return Err(CmdError::custom(
            "ERR GT and LT options at the same time are not compatible",
        ));
    }
    Ok(match (nx, xx, gt, lt) {
        (true, ..) => ExpireCondition::Nx,
        (_, _, true, _) => ExpireCondition::Gt,
        (_, _, _, true) => ExpireCondition::Lt,
        (_, true, ..) => ExpireCondition::Xx,
        _ => ExpireCondition::Always,
    })
}

/// Shared body of EXPIRE/PEXPIRE/EXPIREAT/PEXPIREAT.
fn expire_generic(
    ctx: &mut Ctx<'_>,
    args: &[Bytes],
    unit_ms: i64,
    relative: bool,
) -> CmdResult<Reply> {
    let name = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
    let invalid = || CmdError::InvalidExpire(name.clone());
    let value = arg_i64(&args[2])?;
    let mut when = value.checked_mul(unit_ms).ok_or_else(invalid)?;
    if relative {
        when = when.checked_add(now_ms() as i64).ok_or_else(invalid)?;
    }
    let cond = parse_condition(&args[3..])?;
    let changed = ctx.storage().expire_at(ctx.db(), &args[1], when, cond)?;
    if changed {
        // A deadline already past deleted the key (see `Storage::expire_at`).
        let event = if when <= now_ms() as i64 {
            "del"
        } else {
            "expire"
        };
        ctx.changed(GENERIC, event, &args[1]);
    }
    Ok(Reply::Int(i64::from(changed)))
}

pub fn expire(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    expire_generic(ctx, args, 1000, true)
}

pub fn pexpire(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    expire_generic(ctx, args, 1, true)
}

pub fn expireat(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    expire_generic(ctx, args, 1000, false)
}

pub fn pexpireat(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    expire_generic(ctx, args, 1, false)
}

/// TTL-family replies: -2 missing, -1 persistent, else `present(deadline_ms)`.
fn ttl_generic(ctx: &mut Ctx<'_>, key: &[u8], present: impl Fn(u64) -> i64) -> CmdResult<Reply> {
    Ok(Reply::Int(match ctx.storage().ttl(ctx.db(), key)? {
        Ttl::Missing => -2,
        Ttl::Persistent => -1,
        Ttl::At(ms) => present(ms),
    }))
}

pub fn ttl(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let now = now_ms();
    // Redis rounds the remaining milliseconds to the nearest second.
    ttl_generic(ctx, &args[1], |ms| {
        ((ms.saturating_sub(now) + 500) / 1000) as i64
    })
}

pub fn pttl(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let now = now_ms();
    ttl_generic(ctx, &args[1], |ms| ms.saturating_sub(now) as i64)
}

pub fn expiretime(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    ttl_generic(ctx, &args[1], |ms| (ms / 1000) as i64)
}

pub fn pexpiretime(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    ttl_generic(ctx, &args[1], |ms| ms as i64)
}

pub fn persist(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let persisted = ctx.storage().persist(ctx.db(), &args[1])?;
    if persisted {
        ctx.changed(GENERIC, "persist", &args[1]);
    }
    Ok(Reply::Int(i64::from(persisted)))
}

/// Events of a rename that happened (RENAME to itself changes nothing).
fn renamed(ctx: &mut Ctx<'_>, args: &[Bytes]) {
    if args[1] != args[2] {
        let db = ctx.db();
        ctx.recreated_in(db, &args[2]);
        ctx.changed(GENERIC, "rename_from", &args[1]);
        ctx.changed(GENERIC, "rename_to", &args[2]);
    }
}

pub fn rename(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let db = ctx.db();
    if !ctx
        .storage()
        .copy_key(db, &args[1], db, &args[2], true, true)?
    {
        return Err(CmdError::NoSuchKey);
    }
    renamed(ctx, args);
    ok()
}

pub fn renamenx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let db = ctx.db();
    let storage = ctx.storage();
    if !storage.exists(db, &args[1])? {
        return Err(CmdError::NoSuchKey);
    }
    if args[1] == args[2] || storage.exists(db, &args[2])? {
        return Ok(Reply::Int(0));
    }
    let done = storage.copy_key(db, &args[1], db, &args[2], false, true)?;
    if done {
        renamed(ctx, args);
    }
    Ok(Reply::Int(i64::from(done)))
}

pub fn copy(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let mut dst_db = ctx.db();
    let mut replace = false;
    let mut i = 3;
    while i < args.len() {
        if is(&args[i], "REPLACE") {
            replace = true;
        } else if is(&args[i], "DB") && i + 1 < args.len() {
            dst_db = arg_db(ctx, &args[i + 1])?;
            i += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    if dst_db == ctx.db() && args[1] == args[2] {
        return Err(CmdError::custom(
            "ERR source and destination objects are the same",
        ));
    }
    let copied = ctx
        .storage()
        .copy_key(ctx.db(), &args[1], dst_db, &args[2], replace, false)?;
    if copied {
        ctx.recreated_in(dst_db, &args[2]);
        ctx.changed_in(dst_db, GENERIC, "copy_to", &args[2]);
    }
    Ok(Reply::Int(i64::from(copied)))
}

pub fn move_key(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let dst_db = arg_db(ctx, &args[2])?;
    if dst_db == ctx.db() {
        return Err(CmdError::custom(
            "ERR source and destination objects are the same",
        ));
    }
    let moved = ctx
        .storage()
        .copy_key(ctx.db(), &args[1], dst_db, &args[1], false, true)?;
    if moved {
        ctx.recreated_in(dst_db, &args[1]);
        ctx.changed(GENERIC, "move_from", &args[1]);
        ctx.changed_in(dst_db, GENERIC, "move_to", &args[1]);
    }
    Ok(Reply::Int(i64::from(moved)))
}

/// Page size of the internal scan behind `KEYS`.
const KEYS_PAGE: usize = 4096;

pub fn keys(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let pattern = &args[1];
    let match_all = &pattern[..] == b"*";
    let mut found = Vec::new();
    let mut position: Option<Vec<u8>> = None;
    loop {
        let page =
            ctx.storage()
                .scan_keys(ctx.db(), position.as_deref(), KEYS_PAGE, |key, _| {
                    match_all || glob_match(pattern, key)
                })?;
        found.extend(page.keys);
        match page.resume_after {
            Some(p) => position = Some(p),
            None => break,
        }
    }
    Ok(Reply::bulks(found))
}

pub fn scan(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    // Redis reads the cursor with strtoull, so "-1" is accepted (and is simply unknown here).
    let text = std::str::from_utf8(&args[1]).map_err(|_| CmdError::InvalidCursor)?;
    let cursor: u64 = match text.parse::<u64>() {
        Ok(c) => c,
        Err(_) => text
            .parse::<i64>()
            .map(|c| c as u64)
            .map_err(|_| CmdError::InvalidCursor)?,
    };
    let mut pattern: Option<&[u8]> = None;
    let mut count = 10usize;
    let mut type_filter: Option<Option<KeyType>> = None;
    let mut i = 2;
    while i < args.len() {
        let Some(value) = args.get(i + 1) else {
            return Err(CmdError::Syntax);
        };
        if is(&args[i], "MATCH") {
            pattern = Some(value);
        } else if is(&args[i], "COUNT") {
            let n = arg_i64(value)?;
            if n < 1 {
                return Err(CmdError::Syntax);
            }
            count = n as usize;
        } else if is(&args[i], "TYPE") {
            type_filter = Some(KeyType::from_name(value));
        } else {
            return Err(CmdError::Syntax);
        }
        i += 2;
    }
    let resume = if cursor == 0 {
        None
    } else {
        ctx.state.scan_cursors.load(cursor)
    };
    let page = ctx
        .storage()
        .scan_keys(ctx.db(), resume.as_deref(), count, |key, meta| {
            pattern.is_none_or(|p| glob_match(p, key))
                && type_filter.is_none_or(|t| t == Some(meta.kind))
        })?;
    let next = match page.resume_after {
        Some(position) => ctx.state.scan_cursors.save(position),
        None => 0,
    };
    Ok(Reply::Array(vec![
        Reply::bulk(next.to_string()),
        Reply::bulks(page.keys),
    ]))
}

pub fn randomkey(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult<Reply> {
    Ok(Reply::bulk_opt(ctx.storage().random_key(ctx.db())?))
}

pub fn dbsize(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult<Reply> {
    Ok(Reply::Int(ctx.storage().key_count(ctx.db()).max(0)))
}

/// FLUSHDB/FLUSHALL accept `ASYNC` or `SYNC`; both complete before the reply here, because
/// a range delete is already O(1).
fn flush_mode_ok(args: &[Bytes]) -> CmdResult<()> {
    match args.len() {
        1 => Ok(()),
        2 if is(&args[1], "ASYNC") || is(&args[1], "SYNC") => Ok(()),
        _ => Err(CmdError::Syntax),
    }
}

/// Reports watched keys a whole-database operation changed (no keyspace events, as in
/// Redis).
fn report_modified(ctx: &mut Ctx<'_>, keys: Vec<(usize, Vec<u8>)>) {
    for (db, key) in keys {
        ctx.modified_in(db, &Bytes::from(key));
    }
}

/// Watched keys (of `db`, or all) that exist now: a flush will invalidate them.
fn existing_watched(ctx: &Ctx<'_>, db: Option<usize>) -> CmdResult<Vec<(usize, Vec<u8>)>> {
    let mut out = Vec::new();
    for (d, key) in ctx.state.watches.watched_keys(db) {
        if ctx.storage().exists(d, &key)? {
            out.push((d, key));
        }
    }
    Ok(out)
}

pub fn flushdb(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    flush_mode_ok(args)?;
    let invalidated = existing_watched(ctx, Some(ctx.db()))?;
    ctx.storage().flush_db(ctx.db())?;
    report_modified(ctx, invalidated);
    ctx.client.flushed = true;
    ok()
}

pub fn flushall(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    flush_mode_ok(args)?;
    let invalidated = existing_watched(ctx, None)?;
    for db in 0..ctx.storage().databases() {
        ctx.storage().flush_db(db)?;
    }
    report_modified(ctx, invalidated);
    ctx.client.flushed = true;
    ok()
}

pub fn swapdb(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let a = parse_i64(&args[1]).ok_or_else(|| CmdError::custom("ERR invalid first DB index"))?;
    let b = parse_i64(&args[2]).ok_or_else(|| CmdError::custom("ERR invalid second DB index"))?;
    let n = ctx.storage().databases() as i64;
    if !(0..n).contains(&a) || !(0..n).contains(&b) {
        return Err(CmdError::DbIndexOutOfRange);
    }
    if a != b {
        let (a, b) = (a as usize, b as usize);
        // A watched key is touched if it exists on either side of the swap.
        let mut invalidated = Vec::new();
        for (db, key) in ctx.state.watches.watched_keys(None) {
            if (db == a || db == b)
                && (ctx.storage().exists(a, &key)? || ctx.storage().exists(b, &key)?)
            {
                invalidated.push((db, key));
            }
        }
        ctx.storage().swap_db(a, b)?;
        report_modified(ctx, invalidated);
        ctx.client.flushed = true;
    }
    ok()
}

pub fn object_encoding(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let Some(meta) = ctx.storage().meta(ctx.db(), &args[2])? else {
        return Ok(Reply::Nil);
    };
    let encoding = match meta.kind {
        KeyType::String if meta.chunked => "raw",
        KeyType::String if parse_i64(&meta.body).is_some() => "int",
        KeyType::String if meta.body.len() <= 44 => "embstr",
        KeyType::String => "raw",
        // Redis 7.2's thresholds: small collections are listpacks.
        kind => {
            let len = crate::storage::collection::Coll::decode(&meta)?.len;
            match kind {
                KeyType::Stream => "stream",
                _ if len <= 128 => "listpack",
                KeyType::List => "quicklist",
                KeyType::ZSet => "skiplist",
                _ => "hashtable",
            }
        }
    };
    Ok(Reply::bulk(encoding))
}

fn lfu_policy(ctx: &Ctx<'_>) -> bool {
    ctx.state.config.get("maxmemory-policy").ends_with("-lfu")
}

/// OBJECT FREQ: the hot tier's logarithmic access counter (0 for a key not in the tier).
pub fn object_freq(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    if ctx.storage().meta(ctx.db(), &args[2])?.is_none() {
        return Ok(Reply::Nil);
    }
    if !lfu_policy(ctx) {
        return Err(CmdError::custom(
            "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please \
             note that when switching between policies at runtime LRU and LFU data will take \
             some time to adjust.",
        ));
    }
    let storage = ctx.storage();
    let freq = match (storage.tier(), storage.tier_entry(ctx.db(), &args[2])) {
        (Some(tier), Some(entry)) => entry.frequency(now_ms(), tier.lfu().decay_minutes),
        _ => 0,
    };
    Ok(Reply::Int(i64::from(freq)))
}

/// OBJECT IDLETIME: seconds since the last access recorded by the hot tier; a key outside
/// the tier has been idle at least since the tier was built.
pub fn object_idletime(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    if ctx.storage().meta(ctx.db(), &args[2])?.is_none() {
        return Ok(Reply::Nil);
    }
    if lfu_policy(ctx) {
        return Err(CmdError::custom(
            "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that \
             when switching between policies at runtime LRU and LFU data will take some time \
             to adjust.",
        ));
    }
    let storage = ctx.storage();
    let now = now_ms();
    let idle_ms = match (storage.tier(), storage.tier_entry(ctx.db(), &args[2])) {
        (_, Some(entry)) => entry.idle_ms(now),
        (Some(tier), None) => now.saturating_sub(tier.created_ms()),
        (None, None) => 0,
    };
    Ok(Reply::Int((idle_ms / 1000) as i64))
}

pub fn object_refcount(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    Ok(match ctx.storage().meta(ctx.db(), &args[2])? {
        Some(_) => Reply::Int(1),
        None => Reply::Nil,
    })
}
