//! Server commands: CONFIG, COMMAND, TIME, LASTSAVE, SHUTDOWN, DEBUG and the generic HELP of
//! container commands. (INFO lives in `info`.)

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use super::table::{keys_of, Command, KeySpec, COMMANDS};
use super::{arg_f64, is, ok, text, Ctx};
use crate::error::{CmdError, CmdResult};
use crate::glob::glob_match;
use crate::protocol::Reply;

pub fn config_get(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let mut seen = HashSet::new();
    let mut pairs = Vec::new();
    for pattern in &args[2..] {
        for (name, value) in ctx.state.config.matching(pattern) {
            if seen.insert(name) {
                pairs.push((Reply::bulk(name), Reply::bulk(value)));
            }
        }
    }
    Ok(Reply::Map(pairs))
}

pub fn config_set(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    if args.len() % 2 != 0 {
        return Err(CmdError::Syntax);
    }
    let pairs: Vec<(String, String)> = args[2..]
        .chunks_exact(2)
        .map(|p| (text(&p[0]), text(&p[1])))
        .collect();
    let before: Vec<(String, String)> = pairs
        .iter()
        .map(|(name, _)| {
            (
                name.clone(),
                ctx.state.config.get(&name.to_ascii_lowercase()),
            )
        })
        .collect();
    ctx.state
        .config
        .set_many(&pairs)
        .map_err(CmdError::Custom)?;
    // New TLS settings take effect for new connections; if they do not load (a missing
    // certificate, a key that does not match), the old ones stay, as in Redis.
    let tls_change = pairs
        .iter()
        .find(|(name, _)| crate::tls::DIRECTIVES.contains(&name.to_ascii_lowercase().as_str()));
    if let Some((name, _)) = tls_change {
        if ctx.state.config.get_int("tls-port") != 0 {
            if let Err(e) = ctx.state.tls.reload(&ctx.state.config) {
                tracing::warn!("CONFIG SET {name}: {e}");
                let _ = ctx.state.config.set_many(&before);
                return Err(CmdError::custom(format!(
                    "ERR CONFIG SET failed (possibly related to argument '{}') - Unable to \
                     update TLS configuration. Check server logs.",
                    name.to_ascii_lowercase()
                )));
            }
        }
    }
    for (name, _) in &pairs {
        if let Some(dir) = crate::config::directive(&name.to_ascii_lowercase()) {
            ctx.state.apply_config_change(dir.name);
        }
    }
    ok()
}

pub fn config_resetstat(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult<Reply> {
    ctx.state.reset_stats();
    ok()
}

pub fn config_rewrite(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult<Reply> {
    let users = ctx
        .state
        .config
        .get("aclfile")
        .is_empty()
        .then(|| ctx.state.acl.list());
    ctx.state.config.rewrite(users).map_err(CmdError::Custom)?;
    ok()
}

/// The `COMMAND INFO` entry of one command; `full_name` is `client|list` for subcommands.
fn command_info_entry(cmd: &Command, full_name: &str) -> Reply {
    let (first, last, step) = match cmd.keys {
        KeySpec::None => (0, 0, 0),
        KeySpec::Range { first, last, step } => (first, last, step),
        KeySpec::Keynum { dest: true, .. } => (1, 1, 1),
        KeySpec::Keynum { .. } => (0, 0, 0),
        KeySpec::Custom(_) => (1, 1, 1),
    };
    let key_specs = match cmd.keys {
        KeySpec::None | KeySpec::Custom(_) => Vec::new(),
        KeySpec::Keynum { numkeys_at, .. } => vec![Reply::Map(vec![
            (Reply::bulk("flags"), Reply::Array(vec![])),
            (
                Reply::bulk("begin_search"),
                Reply::Map(vec![
                    (Reply::bulk("type"), Reply::bulk("index")),
                    (
                        Reply::bulk("spec"),
                        Reply::Map(vec![(Reply::bulk("index"), Reply::Int(numkeys_at as i64))]),
                    ),
                ]),
            ),
            (
                Reply::bulk("find_keys"),
                Reply::Map(vec![
                    (Reply::bulk("type"), Reply::bulk("keynum")),
                    (
                        Reply::bulk("spec"),
                        Reply::Map(vec![
                            (Reply::bulk("keynumidx"), Reply::Int(0)),
                            (Reply::bulk("firstkey"), Reply::Int(1)),
                            (Reply::bulk("keystep"), Reply::Int(1)),
                        ]),
                    ),
                ]),
            ),
        ])],
        KeySpec::Range { first, last, step } => vec![Reply::Map(vec![
            (Reply::bulk("flags"), Reply::Array(vec![])),
            (
                Reply::bulk("begin_search"),
                Reply::Map(vec![
                    (Reply::bulk("type"), Reply::bulk("index")),
                    (
                        Reply::bulk("spec"),
                        Reply::Map(vec![(Reply::bulk("index"), Reply::Int(first.into()))]),
                    ),
                ]),
            ),
            (
                Reply::bulk("find_keys"),
                Reply::Map(vec![
                    (Reply::bulk("type"), Reply::bulk("range")),
                    (
                        Reply::bulk("spec"),
                        Reply::Map(vec![
                            (
                                Reply::bulk("lastkey"),
                                Reply::Int(if last < 0 { last } else { last - first }.into()),
                            ),
                            (Reply::bulk("keystep"), Reply::Int(step.into())),
                            (Reply::bulk("limit"), Reply::Int(0)),
                        ]),
                    ),
                ]),
            ),
        ])],
    };
    let subs = cmd
        .subcommands
        .iter()
        .map(|s| command_info_entry(s, &format!("{full_name}|{}", s.name)))
        .collect();
    Reply::Array(vec![
        Reply::bulk(full_name.to_string()),
        Reply::Int(cmd.arity.into()),
        Reply::Set(cmd.flag_names().into_iter().map(Reply::status).collect()),
        Reply::Int(first.into()),
        Reply::Int(last.into()),
        Reply::Int(step.into()),
        Reply::Set(cmd.acl.iter().map(|c| Reply::status(*c)).collect()),
        Reply::Set(vec![]),
        Reply::Array(key_specs),
        Reply::Array(subs),
    ])
}

pub fn command(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult<Reply> {
    let all = ctx.state.commands.visible();
    Ok(Reply::Array(
        all.into_iter()
            .map(|(name, cmd)| command_info_entry(cmd, &String::from_utf8_lossy(name)))
            .collect(),
    ))
}

pub fn command_count(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult<Reply> {
    Ok(Reply::Int(ctx.state.commands.visible().len() as i64))
}

/// Finds `name` (`get` or `client|list`) among the visible commands.
fn find_command(ctx: &Ctx<'_>, name: &[u8]) -> Option<(&'static Command, String)> {
    let lower = String::from_utf8_lossy(name).to_ascii_lowercase();
    match lower.split_once('|') {
        Some((parent, sub)) => {
            let p = ctx.state.commands.lookup(parent.as_bytes())?;
            p.find_sub(sub.as_bytes()).map(|s| (s, lower.clone()))
        }
        None => ctx.state.commands.lookup(name).map(|c| (c, lower.clone())),
    }
}

pub fn command_info(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    if args.len() == 2 {
        return command(ctx, args);
    }
    Ok(Reply::Array(
        args[2..]
            .iter()
            .map(|n| {
                find_command(ctx, n).map_or(Reply::Nil, |(c, full)| command_info_entry(c, &full))
            })
            .collect(),
    ))
}

fn docs_entry(cmd: &Command, full_name: &str) -> Reply {
    let mut fields = vec![
        (Reply::bulk("summary"), Reply::bulk(cmd.summary)),
        (Reply::bulk("since"), Reply::bulk(cmd.since)),
        (Reply::bulk("group"), Reply::bulk(cmd.group)),
    ];
    if !cmd.subcommands.is_empty() {
        let subs = cmd
            .subcommands
            .iter()
            .map(|s| {
                let name = format!("{full_name}|{}", s.name);
                (Reply::bulk(name.clone()), docs_entry(s, &name))
            })
            .collect();
        fields.push((Reply::bulk("subcommands"), Reply::Map(subs)));
    }
    Reply::Map(fields)
}

pub fn command_docs(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let entries: Vec<(Reply, Reply)> = if args.len() == 2 {
        ctx.state
            .commands
            .visible()
            .into_iter()
            .map(|(n, c)| {
                let name = String::from_utf8_lossy(n).into_owned();
                (Reply::bulk(name.clone()), docs_entry(c, &name))
            })
            .collect()
    } else {
        args[2..]
            .iter()
            .filter_map(|n| find_command(ctx, n))
            .map(|(c, full)| (Reply::bulk(full.clone()), docs_entry(c, &full)))
            .collect()
    };
    Ok(Reply::Map(entries))
}

pub fn command_list(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let filter: Option<(String, Bytes)> = match args.len() {
        2 => None,
        5 if is(&args[2], "FILTERBY") => {
            let kind = text(&args[3]).to_ascii_lowercase();
            if !["module", "aclcat", "pattern"].contains(&kind.as_str()) {
                return Err(CmdError::Syntax);
            }
            Some((kind, args[4].clone()))
        }
        _ => return Err(CmdError::Syntax),
    };
    let mut names = Vec::new();
    for (name, cmd) in ctx.state.commands.visible() {
        let mut candidates = vec![(String::from_utf8_lossy(name).into_owned(), cmd)];
        for sub in cmd.subcommands {
            candidates.push((
                format!("{}|{}", String::from_utf8_lossy(name), sub.name),
                sub,
            ));
        }
        for (full, c) in candidates {
            let keep = match &filter {
                None => true,
                Some((kind, value)) => match kind.as_str() {
                    "module" => false,
                    "aclcat" => {
                        let wanted = text(value).to_ascii_lowercase();
                        c.acl
                            .iter()
                            .any(|a| a.trim_start_matches('@') == wanted.trim_start_matches('@'))
                    }
                    _ => glob_match(&value.to_ascii_lowercase(), full.as_bytes()),
                },
            };
            if keep {
                names.push(full);
            }
        }
    }
    Ok(Reply::bulks(names))
}

pub fn command_getkeys(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let target = &args[2..];
    let (cmd, _) = super::dispatch::resolve(ctx.state, target)
        .map_err(|_| CmdError::custom("ERR Invalid command specified"))?;
    if !cmd.arity_ok(target.len()) {
        return Err(CmdError::custom(
            "ERR Invalid number of arguments specified for command",
        ));
    }
    let keys = keys_of(cmd, target);
    if keys.is_empty() {
        return Err(CmdError::custom("ERR The command has no key arguments"));
    }
    Ok(Reply::bulks(keys.into_iter().map(|k| k.to_vec())))
}

pub fn time(_ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult<Reply> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Ok(Reply::Array(vec![
        Reply::bulk(now.as_secs().to_string()),
        Reply::bulk(now.subsec_micros().to_string()),
    ]))
}

pub fn lastsave(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult<Reply> {
    Ok(Reply::Int(
        ctx.state.last_save_unix.load(Ordering::Relaxed) as i64
    ))
}

pub fn shutdown(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    // A running script (SHUTDOWN NOSAVE during -BUSY) must stop for the server to exit.
    ctx.state.scripting.abort();
    let mut save = None;
    for opt in &args[1..] {
        if is(opt, "NOSAVE") && save.is_none() {
            save = Some(false);
        } else if is(opt, "SAVE") && save.is_none() {
            save = Some(true);
        } else if is(opt, "NOW") || is(opt, "FORCE") {
        } else if is(opt, "ABORT") && args.len() == 2 {
            return Err(CmdError::custom("ERR No shutdown in progress."));
        } else {
            return Err(CmdError::Syntax);
        }
    }
    // With the WAL on, every acknowledged write is already in the log; without it, SAVE (or
    // the default) flushes the memtables so the data survives, as an RDB save would.
    let wal = ctx.storage().engine().wal_enabled();
    if save == Some(true) || (save.is_none() && !wal) {
        ctx.storage().engine().flush_memtables()?;
    }
    if save == Some(true) {
        // SHUTDOWN SAVE also leaves a checkpoint behind, as Redis leaves an RDB file.
        let retain = ctx.state.config.get_int("checkpoint-retain").max(0) as usize;
        let storage = ctx.storage();
        tokio::task::block_in_place(|| storage.save_checkpoint(None, retain))?;
    }
    ctx.storage().engine().sync_wal()?;
    tracing::warn!("User requested shutdown...");
    ctx.state.request_shutdown();
    ctx.client.close_now = true;
    ok()
}

pub fn debug_sleep(_ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let secs = arg_f64(&args[2])?;
    if secs > 0.0 && secs.is_finite() {
        let pause = Duration::from_secs_f64(secs.min(3600.0));
        // The table's OFF_WORKER flag has the gate run this off the runtime's workers.
        std::thread::sleep(pause);
    }
    ok()
}

/// `DEBUG DIGEST`: read off the runtime's workers (the table's OFF_WORKER flag), as it
/// visits every key.
pub fn debug_digest(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult<Reply> {
    let digest = ctx.storage().dataset_digest()?;
    Ok(Reply::status(crate::storage::digest::to_hex(&digest)))
}

/// `DEBUG DIGEST-VALUE key ...`: one digest per key, zeros for a missing key.
pub fn debug_digest_value(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let mut out = Vec::with_capacity(args.len() - 2);
    for key in &args[2..] {
        let digest = ctx.storage().value_digest(ctx.db(), key)?;
        out.push(Reply::status(crate::storage::digest::to_hex(&digest)));
    }
    Ok(Reply::Array(out))
}

pub fn debug_compact(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult<Reply> {
    let storage = ctx.storage();
    storage.engine().compact_all()?;
    ok()
}

/// HELP of any container command: one line per subcommand.
pub fn help(_ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let parent_name = text(&args[0]).to_ascii_lowercase();
    let Some(parent) = COMMANDS.iter().find(|c| c.name == parent_name) else {
        return Err(CmdError::Syntax);
    };
    let upper = parent.name.to_ascii_uppercase();
    let mut lines = vec![Reply::status(format!(
        "{upper} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    ))];
    for sub in parent.subcommands {
        lines.push(Reply::status(sub.name.to_ascii_uppercase()));
        lines.push(Reply::status(format!("    {}", sub.summary)));
    }
    Ok(Reply::Array(lines))
}
