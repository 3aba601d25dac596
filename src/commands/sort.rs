//! `SORT` and `SORT_RO` over lists, sets and sorted sets: BY (with `*` and `->field`
//! patterns, or `nosort`), LIMIT, GET (`#` for the element), ASC/DESC, ALPHA and STORE.

use std::cmp::Ordering;

use bytes::Bytes;

use super::{arg_i64, is, Ctx};
use crate::error::{CmdError, CmdResult, WrongTypeMarker};
use crate::num::parse_f64;
use crate::protocol::Reply;
use crate::storage::encoding::KeyType;

/// Key positions: the sorted key, plus the STORE destination if present.
pub fn sort_keys(args: &[Bytes]) -> Vec<usize> {
    let mut out = vec![1];
    let mut i = 2;
    while i < args.len() {
        if is(&args[i], "STORE") && i + 1 < args.len() {
            out.push(i + 1);
        }
        i += 1;
    }
    out
}

/// Resolves a BY/GET pattern for `elem`: `#` is the element, `key*` a string key and
/// `key*->field` a hash field. `None` when the pattern has no `*` or the value is missing.
fn lookup(ctx: &Ctx<'_>, pattern: &[u8], elem: &[u8]) -> CmdResult<Option<Vec<u8>>> {
    if pattern == b"#" {
        return Ok(Some(elem.to_vec()));
    }
    let Some(star) = pattern.iter().position(|&b| b == b'*') else {
        return Ok(None);
    };
    let arrow = pattern
        .windows(2)
        .rposition(|w| w == b"->")
        .filter(|&a| a > star && a + 2 < pattern.len());
    let key_pattern = arrow.map_or(pattern, |a| &pattern[..a]);
    let mut key = key_pattern[..star].to_vec();
    key.extend_from_slice(elem);
    key.extend_from_slice(&key_pattern[star + 1..]);
    let storage = ctx.storage();
    Ok(match arrow {
        Some(a) => match storage.hget(ctx.db(), &key, &pattern[a + 2..]) {
            Ok(v) => v,
            Err(crate::error::StoreError::WrongType) => None,
            Err(e) => return Err(e.into()),
        },
        None => match storage.get_string(ctx.db(), &key) {
            Ok(v) => v,
            Err(crate::error::StoreError::WrongType) => None,
            Err(e) => return Err(e.into()),
        },
    })
}

/// Whether the client's user may read any key (Redis's check for SORT's BY and GET).
fn full_key_access(ctx: &mut Ctx<'_>) -> bool {
    if ctx.client.user.is_unrestricted() {
        return true;
    }
    let rules = ctx.client.user_rules();
    std::iter::once(&rules.root)
        .chain(rules.selectors.iter())
        .any(|s| s.key_allowed(b"*", crate::acl::KEY_READ))
}

fn sort_generic(ctx: &mut Ctx<'_>, args: &[Bytes], read_only: bool) -> CmdResult<Reply> {
    let (mut by, mut gets, mut desc, mut alpha) =
        (None::<Bytes>, Vec::<Bytes>::new(), false, false);
    let (mut limit, mut store) = (None::<(i64, i64)>, None::<Bytes>);
    let mut i = 2;
    while i < args.len() {
        let a = &args[i];
        let next = args.get(i + 1);
        if is(a, "ASC") {
            desc = false;
        } else if is(a, "DESC") {
            desc = true;
        } else if is(a, "ALPHA") {
            alpha = true;
        } else if is(a, "LIMIT") && i + 2 < args.len() {
            limit = Some((arg_i64(&args[i + 1])?, arg_i64(&args[i + 2])?));
            i += 2;
        } else if is(a, "STORE") && next.is_some() && !read_only {
            store = next.cloned();
            i += 1;
        } else if is(a, "BY") && next.is_some() {
            // A BY pattern reads keys the command does not name, which ACL cannot check
            // one by one: as in Redis, only a user who may read every key may use one.
            if next.is_some_and(|p| p.contains(&b'*')) && !full_key_access(ctx) {
                return Err(CmdError::custom(
                    "ERR BY option of SORT denied due to insufficient ACL permissions.",
                ));
            }
            by = next.cloned();
            i += 1;
        } else if is(a, "GET") && next.is_some() {
            if !full_key_access(ctx) {
                return Err(CmdError::custom(
                    "ERR GET option of SORT denied due to insufficient ACL permissions.",
                ));
            }
            gets.extend(next.cloned());
            i += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    let state = ctx.state;
    let storage = &state.storage;
    let key = &args[1];
    let kind = storage.key_type(ctx.db(), key)?;
    let mut elems: Vec<Vec<u8>> = match kind {
        None => Vec::new(),
        Some(KeyType::List) => storage.lall(ctx.db(), key)?,
        Some(KeyType::Set) => storage.smembers(ctx.db(), key)?,
        Some(KeyType::ZSet) => storage
            .zall(ctx.db(), key)?
            .into_iter()
            .map(|(m, _)| m)
            .collect(),
        Some(_) => return Err(CmdError::WrongType(WrongTypeMarker)),
    };
    let dont_sort = by.as_ref().is_some_and(|b| !b.contains(&b'*'));
    if dont_sort && desc && kind == Some(KeyType::ZSet) {
        // A sorted set keeps its own order; DESC walks it from the top, as in Redis.
        elems.reverse();
    }
    if !dont_sort {
        // Sort keys: the element itself, or what BY points to.
        let mut keyed = Vec::with_capacity(elems.len());
        for e in elems {
            let sort_value = match &by {
                Some(p) => lookup(ctx, p, &e)?,
                None => Some(e.clone()),
            };
            let score = if alpha {
                0.0
            } else {
                match &sort_value {
                    Some(v) => parse_f64(v).ok_or_else(|| {
                        CmdError::custom("ERR One or more scores can't be converted into double")
                    })?,
                    None => 0.0,
                }
            };
            keyed.push((e, sort_value, score));
        }
        keyed.sort_by(|a, b| {
            let cmp = if alpha {
                a.1.cmp(&b.1)
            } else {
                a.2.partial_cmp(&b.2)
                    .unwrap_or(Ordering::Equal)
                    .then_with(|| a.0.cmp(&b.0))
            };
            if desc {
                cmp.reverse()
            } else {
                cmp
            }
        });
        elems = keyed.into_iter().map(|(e, _, _)| e).collect();
    }
    if let Some((offset, count)) = limit {
        let start = offset.max(0) as usize;
        let take = if count < 0 {
            usize::MAX
        } else {
            count as usize
        };
        elems = elems.into_iter().skip(start).take(take).collect();
    }
    let mut out: Vec<Option<Vec<u8>>> = Vec::new();
    if gets.is_empty() {
        out.extend(elems.into_iter().map(Some));
    } else {
        for e in &elems {
            for g in &gets {
                out.push(lookup(ctx, g, e)?);
            }
        }
    }
    match store {
        Some(dst) => {
            let values: Vec<Vec<u8>> = out.into_iter().map(Option::unwrap_or_default).collect();
            let n = values.len() as i64;
            let deleted = storage.delete_keys(ctx.db(), &[&dst])? > 0;
            if n > 0 {
                let refs: Vec<&[u8]> = values.iter().map(Vec::as_slice).collect();
                storage.push(
                    ctx.db(),
                    &dst,
                    &refs,
                    crate::storage::types::list::End::Right,
                    false,
                )?;
            }
            ctx.stored(crate::notify::LIST, "sortstore", &dst, n > 0, deleted);
            Ok(Reply::Int(n))
        }
        None => Ok(Reply::Array(out.into_iter().map(Reply::bulk_opt).collect())),
    }
}

pub fn sort(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    sort_generic(ctx, args, false)
}

pub fn sort_ro(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    sort_generic(ctx, args, true)
}
