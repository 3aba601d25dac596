//! Connection commands: PING, ECHO, QUIT, RESET, SELECT, AUTH, HELLO and CLIENT.

use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::{arg_i64, is, ok, text, Ctx};
use crate::client::ReplyMode;
use crate::error::{CmdError, CmdResult};
use crate::protocol::Reply;

/// The version Strata reports where clients expect Redis's (HELLO, INFO): the Redis release
/// whose behaviour it implements. 7.4: Strata has 7.4's hash-field expiry (HEXPIRE, ...) and
/// client-side caching, and redis-py turns its client cache on only for 7.4 or later.
pub const REDIS_COMPAT_VERSION: &str = "7.4.0";

pub fn ping(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    if !ctx.client.resp3 && ctx.client.is_subscribed() && args.len() <= 2 {
        // In RESP2 subscribed mode PING answers in the shape of a message.
        let payload = args.get(1).cloned().unwrap_or_default();
        return Ok(Reply::Array(vec![
            Reply::bulk("pong"),
            Reply::Bulk(payload),
        ]));
    }
    match args.len() {
        1 => Ok(Reply::status("PONG")),
        2 => Ok(Reply::Bulk(args[1].clone())),
        _ => Err(CmdError::WrongArity("ping".into())),
    }
}

pub fn echo(_ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    Ok(Reply::Bulk(args[1].clone()))
}

pub fn quit(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult<Reply> {
    ctx.client.close_after_reply = true;
    ok()
}

pub fn reset(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult<Reply> {
    let anonymous = ctx.state.acl.anonymous_allowed();
    ctx.client.multi = None;
    ctx.client.multi_error = false;
    super::txn::unwatch_all(ctx.state, ctx.client);
    super::pubsub::unsubscribe_all(ctx.state, ctx.client);
    ctx.state.monitors.remove(ctx.client.info.id);
    ctx.client.info.monitoring.store(false, Ordering::Relaxed);
    ctx.state.tracking.disable(ctx.client.info.id);
    ctx.client.info.redir.store(-1, Ordering::Relaxed);
    ctx.client.tracking = None;
    ctx.client.caching = None;
    let client = &mut *ctx.client;
    client.select(0);
    client.set_resp3(false);
    // RESET logs the client out, back to the default user (Redis 7).
    client.set_user(ctx.state.acl.default_user());
    client.authenticated = anonymous;
    client.reply_mode = ReplyMode::On;
    client.info.name.lock().clear();
    client.info.no_evict.store(false, Ordering::Relaxed);
    client.info.no_touch.store(false, Ordering::Relaxed);
    Ok(Reply::status("RESET"))
}

/// `MONITOR`: from now on the connection also receives a line per command the server runs.
pub fn monitor(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult<Reply> {
    if ctx.client.deny_blocking {
        return Err(CmdError::custom(
            "ERR MONITOR isn't allowed for DENY BLOCKING client",
        ));
    }
    let Some(queue) = ctx.client.pubsub_queue.clone() else {
        return Err(CmdError::custom(
            "ERR MONITOR needs a connection to send to",
        ));
    };
    ctx.state.monitors.add(ctx.client.info.clone(), queue);
    ctx.client.info.monitoring.store(true, Ordering::Relaxed);
    ok()
}

pub fn select(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let db = arg_i64(&args[1])?;
    if db < 0 || db as usize >= ctx.storage().databases() {
        return Err(CmdError::DbIndexOutOfRange);
    }
    ctx.client.select(db as usize);
    ok()
}

/// Checks credentials against the ACL users (`AUTH password` is the default user's); a
/// failure is logged as Redis logs it (`ACL LOG` reason `auth`).
fn check_password(
    ctx: &Ctx<'_>,
    command: &[u8],
    user: Option<&[u8]>,
    password: &[u8],
) -> CmdResult<std::sync::Arc<crate::acl::User>> {
    if user.is_none() && ctx.state.acl.default_user().rules().nopass {
        return Err(CmdError::custom(
            "ERR AUTH <password> called without any password configured for the default user. \
             Are you sure your configuration is correct?",
        ));
    }
    let name = user.unwrap_or(b"default");
    match ctx.state.acl.authenticate(name, password) {
        Some(found) => Ok(found),
        None => {
            super::permissions::log_denial(
                ctx.state,
                ctx.client,
                crate::acl::log::Reason::Auth,
                // Redis logs the command name as the client sent it.
                String::from_utf8_lossy(command).into_owned(),
                String::from_utf8_lossy(name).into_owned(),
            );
            Err(CmdError::WrongPass)
        }
    }
}

pub fn auth(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let user = match args.len() {
        2 => check_password(ctx, &args[0], None, &args[1]),
        3 => check_password(ctx, &args[0], Some(&args[1]), &args[2]),
        _ => Err(CmdError::Syntax),
    }?;
    ctx.client.log_in(user);
    ok()
}

pub fn hello(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let mut protocol = None;
    let mut i = 1;
    if let Some(ver) = args.get(1) {
        let v = arg_i64(ver).map_err(|_| {
            CmdError::custom("ERR Protocol version is not an integer or out of range")
        })?;
        if !(2..=3).contains(&v) {
            return Err(CmdError::custom("NOPROTO unsupported protocol version"));
        }
        protocol = Some(v);
        i = 2;
    }
    let mut auth: Option<(Bytes, Bytes)> = None;
    let mut name: Option<Bytes> = None;
    while i < args.len() {
        if is(&args[i], "AUTH") && i + 2 < args.len() {
            auth = Some((args[i + 1].clone(), args[i + 2].clone()));
            i += 3;
        } else if is(&args[i], "SETNAME") && i + 1 < args.len() {
            name = Some(args[i + 1].clone());
            i += 2;
        } else {
            return Err(CmdError::custom(format!(
                "ERR Syntax error in HELLO option '{}'",
                text(&args[i])
            )));
        }
    }
    if let Some((user, pass)) = &auth {
        let user = check_password(ctx, &args[0], Some(user), pass)?;
        ctx.client.log_in(user);
    }
    if !ctx.client.authenticated {
        return Err(CmdError::custom(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the \
             HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and \
             select the RESP protocol version at the same time",
        ));
    }
    if let Some(n) = &name {
        validate_client_name(n)?;
        *ctx.client.info.name.lock() = text(n);
    }
    if let Some(v) = protocol {
        ctx.client.set_resp3(v == 3);
    }
    let proto = if ctx.client.resp3 { 3 } else { 2 };
    Ok(Reply::Map(vec![
        (Reply::bulk("server"), Reply::bulk("redis")),
        (Reply::bulk("version"), Reply::bulk(REDIS_COMPAT_VERSION)),
        (Reply::bulk("proto"), Reply::Int(proto)),
        (Reply::bulk("id"), Reply::Int(ctx.client.info.id as i64)),
        (Reply::bulk("mode"), Reply::bulk("standalone")),
        (Reply::bulk("role"), Reply::bulk("master")),
        (Reply::bulk("modules"), Reply::Array(vec![])),
    ]))
}

fn validate_client_name(name: &[u8]) -> CmdResult<()> {
    if name.iter().any(|&c| !(b'!'..=b'~').contains(&c)) {
        return Err(CmdError::custom(
            "ERR Client names cannot contain spaces, newlines or special characters.",
        ));
    }
    Ok(())
}

pub fn client_id(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult<Reply> {
    Ok(Reply::Int(ctx.client.info.id as i64))
}

pub fn client_setname(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    validate_client_name(&args[2])?;
    *ctx.client.info.name.lock() = text(&args[2]);
    ok()
}

pub fn client_getname(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult<Reply> {
    let name = ctx.client.info.name.lock().clone();
    Ok(if name.is_empty() {
        Reply::Nil
    } else {
        Reply::bulk(name)
    })
}

pub fn client_list(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let mut ids: Option<Vec<u64>> = None;
    let mut i = 2;
    while i < args.len() {
        if is(&args[i], "TYPE") && i + 1 < args.len() {
            let t = &args[i + 1];
            if !["normal", "master", "replica", "pubsub"]
                .iter()
                .any(|k| is(t, k))
            {
                return Err(CmdError::custom(format!(
                    "ERR Unknown client type '{}'",
                    text(t)
                )));
            }
            if !is(t, "normal") {
                ids = Some(Vec::new());
            }
            i += 2;
        } else if is(&args[i], "ID") && i + 1 < args.len() {
            // Ids that are not positive integers match no client, as in Redis.
            let list = args[i + 1..]
                .iter()
                .filter_map(|a| arg_i64(a).ok())
                .filter(|&n| n > 0);
            ids = Some(list.map(|n| n as u64).collect());
            i = args.len();
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let mut out = String::new();
    for info in ctx.state.clients.all() {
        if ids.as_ref().is_some_and(|l| !l.contains(&info.id)) {
            continue;
        }
        out.push_str(&info.describe(&info.flags()));
        out.push('\n');
    }
    Ok(Reply::Verbatim(out))
}

pub fn client_info(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult<Reply> {
    let mut line = ctx.client.info.describe(&ctx.client.info.flags());
    line.push('\n');
    Ok(Reply::Verbatim(line))
}

pub fn client_kill(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let clients = ctx.state.clients.all();
    if args.len() == 3 {
        // Old form: CLIENT KILL addr:port
        let addr = text(&args[2]);
        let Some(target) = clients.iter().find(|c| c.addr == addr) else {
            return Err(CmdError::custom("ERR No such client"));
        };
        if target.id == ctx.client.info.id {
            ctx.client.close_after_reply = true;
        } else {
            target.kill();
        }
        return ok();
    }
    let (mut id, mut addr, mut laddr, mut skipme, mut max_age) = (None, None, None, true, None);
    let mut user: Option<std::sync::Arc<crate::acl::User>> = None;
    let mut type_normal: Option<bool> = None;
    let mut i = 2;
    while i < args.len() {
        let Some(value) = args.get(i + 1) else {
            return Err(CmdError::Syntax);
        };
        let opt = &args[i];
        if is(opt, "ID") {
            id = Some(
                arg_i64(value)
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| CmdError::custom("ERR client-id should be greater than 0"))?
                    as u64,
            );
        } else if is(opt, "ADDR") {
            addr = Some(text(value));
        } else if is(opt, "LADDR") {
            laddr = Some(text(value));
        } else if is(opt, "TYPE") {
            if !["normal", "master", "replica", "slave", "pubsub"]
                .iter()
                .any(|k| is(value, k))
            {
                return Err(CmdError::custom(format!(
                    "ERR Unknown client type '{}'",
                    text(value)
                )));
            }
            type_normal = Some(is(value, "normal"));
        } else if is(opt, "USER") {
            user =
                Some(ctx.state.acl.user(value).ok_or_else(|| {
                    CmdError::custom(format!("ERR No such user '{}'", text(value)))
                })?);
        } else if is(opt, "SKIPME") {
            skipme = if is(value, "yes") {
                true
            } else if is(value, "no") {
                false
            } else {
                return Err(CmdError::Syntax);
            };
        } else if is(opt, "MAXAGE") {
            max_age = Some(arg_i64(value)?);
        } else {
            return Err(CmdError::Syntax);
        }
        i += 2;
    }
    let mut killed = 0;
    for c in clients {
        let me = c.id == ctx.client.info.id;
        let matches = id.is_none_or(|v| v == c.id)
            && addr.as_ref().is_none_or(|a| *a == c.addr)
            && laddr.as_ref().is_none_or(|a| *a == c.laddr)
            && type_normal.is_none_or(|n| n)
            && user
                .as_ref()
                .is_none_or(|u| std::sync::Arc::ptr_eq(u, &c.user.lock()))
            && max_age.is_none_or(|m| c.created.elapsed().as_secs() as i64 >= m)
            && !(skipme && me);
        if matches {
            killed += 1;
            if me {
                ctx.client.close_after_reply = true;
            } else {
                c.kill();
            }
        }
    }
    Ok(Reply::Int(killed))
}

pub fn client_setinfo(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let value = text(&args[3]);
    if value.chars().any(|c| !('!'..='~').contains(&c)) {
        return Err(CmdError::custom(format!(
            "ERR {} cannot contain spaces, newlines or special characters.",
            text(&args[2]).to_ascii_lowercase()
        )));
    }
    if is(&args[2], "LIB-NAME") {
        *ctx.client.info.lib_name.lock() = value;
    } else if is(&args[2], "LIB-VER") {
        *ctx.client.info.lib_ver.lock() = value;
    } else {
        return Err(CmdError::custom(format!(
            "ERR Unrecognized option '{}'",
            text(&args[2])
        )));
    }
    ok()
}

fn on_off(arg: &[u8]) -> CmdResult<bool> {
    if is(arg, "ON") {
        Ok(true)
    } else if is(arg, "OFF") {
        Ok(false)
    } else {
        Err(CmdError::Syntax)
    }
}

pub fn client_no_evict(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    ctx.client
        .info
        .no_evict
        .store(on_off(&args[2])?, Ordering::Relaxed);
    ok()
}

pub fn client_no_touch(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    ctx.client
        .info
        .no_touch
        .store(on_off(&args[2])?, Ordering::Relaxed);
    ok()
}

pub fn client_reply(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    ctx.client.reply_mode = if is(&args[2], "ON") {
        ReplyMode::On
    } else if is(&args[2], "OFF") {
        ReplyMode::Off
    } else if is(&args[2], "SKIP") {
        ReplyMode::Skip
    } else {
        return Err(CmdError::Syntax);
    };
    ok()
}

pub fn client_unblock(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let with_error = match args.get(3) {
        None => false,
        Some(a) if is(a, "TIMEOUT") => false,
        Some(a) if is(a, "ERROR") => true,
        Some(_) => {
            return Err(CmdError::custom(
                "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR",
            ));
        }
    };
    if args.len() > 4 {
        return Err(CmdError::Syntax);
    }
    let id = arg_i64(&args[2])?;
    let target = ctx
        .state
        .clients
        .get(id as u64)
        .filter(|c| c.blocked.load(Ordering::SeqCst));
    Ok(Reply::Int(match target {
        Some(c) => {
            *c.unblock.lock() = Some(with_error);
            c.wake.notify_one();
            1
        }
        None => 0,
    }))
}

/// `CLIENT PAUSE timeout [WRITE|ALL]` (see `crate::pause`).
pub fn client_pause(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    if args.len() > 4 {
        return Err(CmdError::custom(
            "ERR unknown subcommand or wrong number of arguments for 'PAUSE'. Try CLIENT HELP.",
        ));
    }
    let timeout = crate::num::parse_i64(&args[2])
        .ok_or_else(|| CmdError::custom("ERR timeout is not an integer or out of range"))?;
    if timeout < 0 {
        return Err(CmdError::custom("ERR timeout is negative"));
    }
    let mode = match args.get(3) {
        None => crate::pause::PauseMode::All,
        Some(m) if args.len() == 4 && is(m, "WRITE") => crate::pause::PauseMode::Write,
        Some(m) if args.len() == 4 && is(m, "ALL") => crate::pause::PauseMode::All,
        Some(_) => {
            return Err(CmdError::custom(
                "ERR CLIENT PAUSE mode must be WRITE or ALL",
            ))
        }
    };
    let now = crate::storage::now_ms();
    let until = now.saturating_add(timeout as u64);
    ctx.state.pause.pause(mode, until, now);
    // Commands already past the gate's pause check hold the global lock (shared): waiting
    // for it once means none of them writes after this OK. Inside EXEC (which holds it
    // exclusively) nothing else runs anyway.
    if !ctx.client.deny_blocking {
        let storage = ctx.storage();
        super::dispatch::off_worker(|| drop(storage.global.write()));
        storage.wake_lock_waiters();
    }
    ok()
}

pub fn client_unpause(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult<Reply> {
    ctx.state.pause.unpause();
    ok()
}

/// `CLIENT TRACKING ON|OFF [REDIRECT id] [PREFIX p ...] [BCAST] [OPTIN] [OPTOUT] [NOLOOP]`
/// with Redis's checks and texts (see `crate::tracking`).
pub fn client_tracking(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let on = if is(&args[2], "ON") {
        true
    } else if is(&args[2], "OFF") {
        false
    } else {
        return Err(CmdError::Syntax);
    };
    let mut options = crate::tracking::TrackingOptions::default();
    let mut i = 3;
    while i < args.len() {
        let more = i + 1 < args.len();
        if is(&args[i], "REDIRECT") && more {
            let id = arg_i64(&args[i + 1])?;
            options.redirect = Some(id.max(0) as u64);
            i += 2;
        } else if is(&args[i], "PREFIX") && more {
            options.prefixes.push(args[i + 1].clone());
            i += 2;
        } else if is(&args[i], "BCAST") {
            options.bcast = true;
            i += 1;
        } else if is(&args[i], "OPTIN") {
            options.optin = true;
            i += 1;
        } else if is(&args[i], "OPTOUT") {
            options.optout = true;
            i += 1;
        } else if is(&args[i], "NOLOOP") {
            options.noloop = true;
            i += 1;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let id = ctx.client.info.id;
    if !on {
        ctx.state.tracking.disable(id);
        ctx.client.info.redir.store(-1, Ordering::Relaxed);
        ctx.client.tracking = None;
        ctx.client.caching = None;
        return ok();
    }
    if !options.bcast && !options.prefixes.is_empty() {
        return Err(CmdError::custom(
            "ERR PREFIX option requires BCAST mode to be enabled",
        ));
    }
    if let Some(current) = &ctx.client.tracking {
        if current.bcast != options.bcast {
            return Err(CmdError::custom(
                "ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.",
            ));
        }
    }
    if options.optin && options.optout {
        return Err(CmdError::custom(
            "ERR You can't specify both OPTIN mode and OPTOUT mode",
        ));
    }
    if let Some(current) = &ctx.client.tracking {
        if (options.optin && current.optout) || (options.optout && current.optin) {
            return Err(CmdError::custom(
                "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.",
            ));
        }
    }
    if options.bcast && (options.optin || options.optout) {
        return Err(CmdError::custom(
            "ERR OPTIN and OPTOUT are not compatible with BCAST",
        ));
    }
    let existing: Vec<Bytes> = ctx
        .client
        .tracking
        .as_ref()
        .map(|t| t.prefixes.clone())
        .unwrap_or_default();
    if let Some(message) = crate::tracking::overlapping_prefixes(&existing, &options.prefixes) {
        return Err(CmdError::custom(message));
    }
    let target = match options.redirect {
        Some(target_id) if target_id != id => match ctx.state.clients.get(target_id) {
            Some(target) => target,
            None => {
                return Err(CmdError::custom(
                    "ERR The client ID you want redirect to does not exist",
                ))
            }
        },
        _ => ctx.client.info.clone(),
    };
    // As Redis: enabling again takes the options given now but keeps the prefixes already
    // registered, and BCAST without PREFIX registers the empty prefix (every key).
    if options.bcast && options.prefixes.is_empty() {
        options.prefixes.push(Bytes::new());
    }
    // The overlap check refused any new prefix equal to a registered one; only the empty
    // prefix can come twice.
    let mut prefixes = existing;
    let again_empty = prefixes.iter().any(|p| p.is_empty());
    prefixes.extend(
        options
            .prefixes
            .drain(..)
            .filter(|p| !(again_empty && p.is_empty())),
    );
    options.prefixes = prefixes;
    ctx.state
        .tracking
        .enable(ctx.client.info.clone(), target, options.clone());
    let redir = options.redirect.map_or(0, |id| id as i64);
    ctx.client.tracking = Some(options);
    ctx.client.info.redir.store(redir, Ordering::Relaxed);
    ok()
}

/// `CLIENT CACHING YES|NO`: whether the next command's reads are tracked (OPTIN/OPTOUT).
pub fn client_caching(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let Some(tracking) = ctx.client.tracking.as_ref().filter(|t| t.optin || t.optout) else {
        return Err(CmdError::custom(
            "ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled",
        ));
    };
    let yes = if is(&args[2], "YES") {
        true
    } else if is(&args[2], "NO") {
        false
    } else {
        return Err(CmdError::Syntax);
    };
    if yes && !tracking.optin {
        return Err(CmdError::custom(
            "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.",
        ));
    }
    if !yes && !tracking.optout {
        return Err(CmdError::custom(
            "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.",
        ));
    }
    ctx.client.caching = Some(yes);
    ok()
}

pub fn client_getredir(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult<Reply> {
    Ok(Reply::Int(match &ctx.client.tracking {
        None => -1,
        Some(t) => t.redirect.map_or(0, |id| id as i64),
    }))
}

pub fn client_trackinginfo(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult<Reply> {
    let mut flags = Vec::new();
    let (redirect, prefixes) = match &ctx.client.tracking {
        None => {
            flags.push("off");
            (-1, Vec::new())
        }
        Some(t) => {
            flags.push("on");
            if t.bcast {
                flags.push("bcast");
            }
            if t.optin {
                flags.push("optin");
                if ctx.client.caching == Some(true) {
                    flags.push("caching-yes");
                }
            }
            if t.optout {
                flags.push("optout");
                if ctx.client.caching == Some(false) {
                    flags.push("caching-no");
                }
            }
            if t.noloop {
                flags.push("noloop");
            }
            let broken = ctx
                .state
                .tracking
                .options(ctx.client.info.id)
                .is_some_and(|(_, broken)| broken);
            if broken {
                flags.push("broken_redirect");
            }
            // Sorted, as Redis lists them from its prefix tree.
            let mut prefixes = t.prefixes.clone();
            prefixes.sort();
            (
                t.redirect.map_or(0, |id| id as i64),
                prefixes.into_iter().map(Reply::Bulk).collect(),
            )
        }
    };
    Ok(Reply::Map(vec![
        (
            Reply::bulk("flags"),
            Reply::Set(flags.into_iter().map(Reply::bulk).collect()),
        ),
        (Reply::bulk("redirect"), Reply::Int(redirect)),
        (Reply::bulk("prefixes"), Reply::Array(prefixes)),
    ]))
}
