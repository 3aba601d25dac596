//! Geo commands: GEOADD, GEODIST, GEOHASH, GEOPOS, GEOSEARCH, GEOSEARCHSTORE and the
//! GEORADIUS family, over sorted sets scored with 52-bit geohashes (`storage::types::geo`).
//! Argument order, error precedence and reply shapes follow Redis 7's `georadiusGeneric`.

use bytes::Bytes;

use super::{arg_f64, arg_i64, is, text, Ctx};
use crate::error::{CmdError, CmdResult};
use crate::protocol::Reply;
use crate::storage::encoding::KeyType;
use crate::storage::types::geo::{self, Found, Shape};
use crate::storage::types::zset::{ZAddFlags, ZAddResult};

/// Key positions of GEORADIUS/GEORADIUSBYMEMBER: the source and any STORE/STOREDIST target.
pub fn georadius_keys(args: &[Bytes]) -> Vec<usize> {
    let mut out = vec![1];
    let last = args.len().saturating_sub(1);
    for (i, arg) in args.iter().enumerate().take(last).skip(2) {
        if is(arg, "STORE") || is(arg, "STOREDIST") {
            out.push(i + 1);
        }
    }
    out
}

fn lon_lat(lon: &[u8], lat: &[u8]) -> CmdResult<(f64, f64)> {
    let (lon, lat) = (arg_f64(lon)?, arg_f64(lat)?);
    if !geo::valid_coordinates(lon, lat) {
        return Err(CmdError::custom(format!(
            "ERR invalid longitude,latitude pair {lon:.6},{lat:.6}"
        )));
    }
    Ok((lon, lat))
}

/// Metres per unit.
fn unit(arg: &[u8]) -> CmdResult<f64> {
    Ok(match arg.to_ascii_lowercase().as_slice() {
        b"m" => 1.0,
        b"km" => 1000.0,
        b"ft" => 0.3048,
        b"mi" => 1609.34,
        _ => {
            return Err(CmdError::custom(
                "ERR unsupported unit provided. please use M, KM, FT, MI",
            ))
        }
    })
}

fn number(arg: &[u8], what: &str) -> CmdResult<f64> {
    crate::num::parse_f64(arg).ok_or_else(|| CmdError::custom(format!("ERR need numeric {what}")))
}

/// `radius unit` -> (radius in metres, metres per unit).
fn radius(value: &[u8], unit_arg: &[u8]) -> CmdResult<(Shape, f64)> {
    let r = number(value, "radius")?;
    if r < 0.0 {
        return Err(CmdError::custom("ERR radius cannot be negative"));
    }
    let per = unit(unit_arg)?;
    Ok((Shape::Radius(r * per), per))
}

/// `width height unit` -> (box in metres, metres per unit).
fn bbox(w: &[u8], h: &[u8], unit_arg: &[u8]) -> CmdResult<(Shape, f64)> {
    let width = number(w, "width")?;
    let height = number(h, "height")?;
    if width < 0.0 || height < 0.0 {
        return Err(CmdError::custom("ERR height or width cannot be negative"));
    }
    let per = unit(unit_arg)?;
    Ok((
        Shape::Box {
            width: width * per,
            height: height * per,
        },
        per,
    ))
}

/// A coordinate reply element: a bulk string in RESP2, a double in RESP3, printed with 17
/// decimals and no trailing zeros as Redis's `addReplyHumanLongDouble`.
fn coordinate(v: f64) -> Reply {
    let mut s = format!("{v:.17}");
    if s.contains('.') {
        while s.ends_with('0') {
            s.pop();
        }
        if s.ends_with('.') {
            s.pop();
        }
    }
    Reply::HumanDouble(s)
}

fn distance_reply(d: f64) -> Reply {
    Reply::bulk(format!("{d:.4}"))
}

pub fn geoadd(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let mut flags = ZAddFlags::default();
    let mut i = 2;
    while i < args.len() {
        if is(&args[i], "NX") {
            flags.nx = true;
        } else if is(&args[i], "XX") {
            flags.xx = true;
        } else if is(&args[i], "CH") {
            flags.ch = true;
        } else {
            break;
        }
        i += 1;
    }
    let rest = &args[i..];
    if rest.len() % 3 != 0 || (flags.nx && flags.xx) {
        return Err(CmdError::Syntax);
    }
    let mut items = Vec::with_capacity(rest.len() / 3);
    for triple in rest.chunks_exact(3) {
        let (lon, lat) = lon_lat(&triple[0], &triple[1])?;
        let score = geo::score_of(lon, lat).ok_or_else(|| {
            CmdError::custom(format!(
                "ERR invalid longitude,latitude pair {lon:.6},{lat:.6}"
            ))
        })?;
        items.push((score, &triple[2][..]));
    }
    let (result, changed) = ctx
        .storage()
        .zadd_reporting(ctx.db(), &args[1], &items, flags)?;
    if changed {
        ctx.changed(crate::notify::ZSET, "zadd", &args[1]);
    }
    match result {
        ZAddResult::Count(n) => Ok(Reply::Int(n)),
        ZAddResult::Score(_) => Err(CmdError::Internal("GEOADD never increments".into())),
    }
}

/// The member's score, `None` if the key or member is missing.
fn score(ctx: &Ctx<'_>, key: &[u8], member: &[u8]) -> CmdResult<Option<f64>> {
    Ok(ctx.storage().zscore(ctx.db(), key, member)?)
}

/// Fails with WRONGTYPE unless the key is missing or a sorted set; true if it exists.
fn geo_key_exists(ctx: &Ctx<'_>, key: &[u8]) -> CmdResult<bool> {
    Ok(ctx.storage().coll(ctx.db(), key, KeyType::ZSet)?.is_some())
}

pub fn geodist(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let per = match args.len() {
        4 => 1.0,
        5 => unit(&args[4])?,
        _ => return Err(CmdError::Syntax),
    };
    if !geo_key_exists(ctx, &args[1])? {
        return Ok(Reply::Nil);
    }
    let (Some(a), Some(b)) = (
        score(ctx, &args[1], &args[2])?,
        score(ctx, &args[1], &args[3])?,
    ) else {
        return Ok(Reply::Nil);
    };
    let (pa, pb) = (geo::position_of(a), geo::position_of(b));
    Ok(distance_reply(geo::distance(pa.0, pa.1, pb.0, pb.1) / per))
}

pub fn geohash(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let exists = geo_key_exists(ctx, &args[1])?;
    let mut out = Vec::with_capacity(args.len() - 2);
    for member in &args[2..] {
        let found = if exists {
            score(ctx, &args[1], member)?
        } else {
            None
        };
        out.push(found.map_or(Reply::Nil, |s| Reply::bulk(geo::geohash_string(s))));
    }
    Ok(Reply::Array(out))
}

pub fn geopos(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let exists = geo_key_exists(ctx, &args[1])?;
    let mut out = Vec::with_capacity(args.len() - 2);
    for member in &args[2..] {
        let found = if exists {
            score(ctx, &args[1], member)?
        } else {
            None
        };
        out.push(match found {
            Some(s) => {
                let (lon, lat) = geo::position_of(s);
                Reply::Array(vec![coordinate(lon), coordinate(lat)])
            }
            None => Reply::NilArray,
        });
    }
    Ok(Reply::Array(out))
}

/// Which member of the family is parsing (they accept different options).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Variant {
    Radius { by_member: bool, read_only: bool },
    Search { store: bool },
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Order {
    Unsorted,
    Asc,
    Desc,
}

struct Query<'a> {
    center: Option<(f64, f64)>,
    shape: Option<(Shape, f64)>,
    with_dist: bool,
    with_hash: bool,
    with_coord: bool,
    order: Order,
    count: usize,
    any: bool,
    store: Option<&'a [u8]>,
    store_dist: bool,
}

fn member_position(ctx: &Ctx<'_>, key: &[u8], member: &[u8]) -> CmdResult<(f64, f64)> {
    score(ctx, key, member)?
        .map(geo::position_of)
        .ok_or_else(|| CmdError::custom("ERR could not decode requested zset member"))
}

/// Parses everything after the fixed arguments, in Redis's order of checks.
fn parse_query<'a>(
    ctx: &Ctx<'_>,
    args: &'a [Bytes],
    variant: Variant,
    key: &[u8],
    exists: bool,
) -> CmdResult<Query<'a>> {
    let mut q = Query {
        center: None,
        shape: None,
        with_dist: false,
        with_hash: false,
        with_coord: false,
        order: Order::Unsorted,
        count: 0,
        any: false,
        store: None,
        store_dist: false,
    };
    let base = match variant {
        Variant::Radius {
            by_member: false, ..
        } => {
            q.center = Some(lon_lat(&args[2], &args[3])?);
            q.shape = Some(radius(&args[4], &args[5])?);
            6
        }
        Variant::Radius {
            by_member: true, ..
        } => {
            if exists {
                q.center = Some(member_position(ctx, key, &args[2])?);
                q.shape = Some(radius(&args[3], &args[4])?);
            }
            5
        }
        Variant::Search { store: false } => 2,
        Variant::Search { store: true } => {
            q.store = Some(&args[1][..]);
            3
        }
    };
    let search = matches!(variant, Variant::Search { .. });
    let store_allowed = matches!(
        variant,
        Variant::Radius {
            read_only: false,
            ..
        }
    );
    let (mut from_member, mut from_lonlat, mut by_radius, mut by_box) =
        (false, false, false, false);
    let rest = &args[base..];
    let mut i = 0;
    while i < rest.len() {
        let a = &rest[i];
        let left = rest.len() - i - 1;
        if is(a, "WITHDIST") {
            q.with_dist = true;
        } else if is(a, "WITHHASH") {
            q.with_hash = true;
        } else if is(a, "WITHCOORD") {
            q.with_coord = true;
        } else if is(a, "ANY") {
            q.any = true;
        } else if is(a, "ASC") {
            q.order = Order::Asc;
        } else if is(a, "DESC") {
            q.order = Order::Desc;
        } else if is(a, "COUNT") && left >= 1 {
            let n = arg_i64(&rest[i + 1])?;
            if n <= 0 {
                return Err(CmdError::custom("ERR COUNT must be > 0"));
            }
            q.count = usize::try_from(n).unwrap_or(usize::MAX);
            i += 1;
        } else if (is(a, "STORE") || is(a, "STOREDIST")) && left >= 1 && store_allowed && !search {
            q.store = Some(&rest[i + 1][..]);
            q.store_dist = is(a, "STOREDIST");
            i += 1;
        } else if is(a, "STOREDIST") && variant == (Variant::Search { store: true }) {
            q.store_dist = true;
        } else if is(a, "FROMMEMBER") && left >= 1 && search && !from_lonlat {
            if exists {
                q.center = Some(member_position(ctx, key, &rest[i + 1])?);
            }
            from_member = true;
            i += 1;
        } else if is(a, "FROMLONLAT") && left >= 2 && search && !from_member {
            q.center = Some(lon_lat(&rest[i + 1], &rest[i + 2])?);
            from_lonlat = true;
            i += 2;
        } else if is(a, "BYRADIUS") && left >= 2 && search && !by_box {
            q.shape = Some(radius(&rest[i + 1], &rest[i + 2])?);
            by_radius = true;
            i += 2;
        } else if is(a, "BYBOX") && left >= 3 && search && !by_radius {
            q.shape = Some(bbox(&rest[i + 1], &rest[i + 2], &rest[i + 3])?);
            by_box = true;
            i += 3;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    if q.store.is_some() && (q.with_dist || q.with_hash || q.with_coord) {
        let who = if variant == (Variant::Search { store: true }) {
            "GEOSEARCHSTORE"
        } else {
            "STORE option in GEORADIUS"
        };
        return Err(CmdError::custom(format!(
            "ERR {who} is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
        )));
    }
    let name = text(&args[0]).to_ascii_lowercase();
    if search && !(from_member || from_lonlat) {
        return Err(CmdError::custom(format!(
            "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {name}"
        )));
    }
    if search && !(by_radius || by_box) {
        return Err(CmdError::custom(format!(
            "ERR exactly one of BYRADIUS and BYBOX can be specified for {name}"
        )));
    }
    if q.any && q.count == 0 {
        return Err(CmdError::custom(
            "ERR the ANY argument requires COUNT argument",
        ));
    }
    Ok(q)
}

fn search_generic(ctx: &mut Ctx<'_>, args: &[Bytes], variant: Variant) -> CmdResult<Reply> {
    let key = match variant {
        Variant::Search { store: true } => &args[2],
        _ => &args[1],
    };
    let exists = geo_key_exists(ctx, key)?;
    let q = parse_query(ctx, args, variant, key, exists)?;
    let state = ctx.state;
    let (db, storage) = (ctx.db(), &state.storage);
    let store_event = match variant {
        Variant::Search { .. } => "geosearchstore",
        Variant::Radius { .. } => "georadiusstore",
    };
    let (Some(center), Some((shape, per)), true) = (q.center, q.shape, exists) else {
        return match q.store {
            Some(dest) => {
                if storage.delete_keys(db, &[dest])? > 0 {
                    ctx.changed(crate::notify::GENERIC, "del", &Bytes::copy_from_slice(dest));
                }
                Ok(Reply::Int(0))
            }
            None => Ok(Reply::Array(Vec::new())),
        };
    };
    let any = (q.any && q.count > 0).then_some(q.count);
    let mut found = storage.geo_search(db, key, center, shape, any)?;
    let order = if q.count > 0 && q.order == Order::Unsorted && !q.any {
        Order::Asc
    } else {
        q.order
    };
    match order {
        Order::Asc => found.sort_by(|a, b| a.dist.total_cmp(&b.dist)),
        Order::Desc => found.sort_by(|a, b| b.dist.total_cmp(&a.dist)),
        Order::Unsorted => {}
    }
    if q.count > 0 {
        found.truncate(q.count);
    }
    if let Some(dest) = q.store {
        let items: Vec<(Vec<u8>, f64)> = found
            .into_iter()
            .map(|f| {
                let score = if q.store_dist { f.dist / per } else { f.score };
                (f.member, score)
            })
            .collect();
        let dest = Bytes::copy_from_slice(dest);
        let replaced = ctx.empty_store_deletes(&dest, items.is_empty())?;
        let len = storage.zstore(db, &dest, &items)?;
        ctx.stored(crate::notify::ZSET, store_event, &dest, len > 0, replaced);
        return Ok(Reply::Int(len));
    }
    Ok(Reply::Array(
        found.into_iter().map(|f| result_item(&q, f, per)).collect(),
    ))
}

fn result_item(q: &Query<'_>, f: Found, per: f64) -> Reply {
    if !(q.with_dist || q.with_hash || q.with_coord) {
        return Reply::bulk(f.member);
    }
    let mut item = vec![Reply::bulk(f.member)];
    if q.with_dist {
        item.push(distance_reply(f.dist / per));
    }
    if q.with_hash {
        item.push(Reply::Int(f.score as i64));
    }
    if q.with_coord {
        item.push(Reply::Array(vec![coordinate(f.lon), coordinate(f.lat)]));
    }
    Reply::Array(item)
}

pub fn georadius(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    search_generic(
        ctx,
        args,
        Variant::Radius {
            by_member: false,
            read_only: false,
        },
    )
}

pub fn georadius_ro(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    search_generic(
        ctx,
        args,
        Variant::Radius {
            by_member: false,
            read_only: true,
        },
    )
}

pub fn georadiusbymember(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    search_generic(
        ctx,
        args,
        Variant::Radius {
            by_member: true,
            read_only: false,
        },
    )
}

pub fn georadiusbymember_ro(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    search_generic(
        ctx,
        args,
        Variant::Radius {
            by_member: true,
            read_only: true,
        },
    )
}

pub fn geosearch(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    search_generic(ctx, args, Variant::Search { store: false })
}

pub fn geosearchstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    search_generic(ctx, args, Variant::Search { store: true })
}
