//! `ACL` and its subcommands: users (SETUSER, GETUSER, DELUSER, LIST, USERS, WHOAMI), the
//! ACL file (LOAD, SAVE), the denial log (LOG), CAT, DRYRUN and GENPASS, with Redis 7's
//! replies and errors. The rules themselves live in `acl`; this layer renders them, and
//! closes the connections a change leaves without permission (a deleted user's, and
//! subscribers to channels their user may no longer use), as Redis does.

use std::sync::Arc;

use bytes::Bytes;

use super::permissions::{denial, dry_run_text};
use super::{arg_i64, is, text, Ctx};
use crate::acl::categories::{self, CATEGORIES};
use crate::acl::{ChannelArg, User};
use crate::error::{CmdError, CmdResult};
use crate::protocol::Reply;

fn ok() -> CmdResult<Reply> {
    Ok(Reply::Ok)
}

const NO_ACL_FILE: &str = "ERR This Redis instance is not configured to use an ACL file. You \
     may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE \
     (assuming you have a Redis configuration file set) in order to store users in the Redis \
     configuration.";

/// Redis's answer to extra arguments of an ACL subcommand that takes a fixed number.
fn wrong_arguments(sub: &str) -> CmdError {
    CmdError::custom(format!(
        "ERR unknown subcommand or wrong number of arguments for '{sub}'. Try ACL HELP."
    ))
}

pub fn cat(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    if args.len() > 3 {
        return Err(wrong_arguments("CAT"));
    }
    let Some(name) = args.get(2) else {
        return Ok(Reply::Array(
            CATEGORIES.iter().map(|c| Reply::bulk(*c)).collect(),
        ));
    };
    let bit = categories::bit(&text(name))
        .ok_or_else(|| CmdError::custom(format!("ERR Unknown category '{}'", text(name))))?;
    let names = ctx
        .state
        .acl
        .catalog()
        .entries()
        .filter(|(_, e)| e.categories & bit != 0)
        .map(|(_, e)| Reply::bulk(e.full_name))
        .collect();
    Ok(Reply::Array(names))
}

pub fn setuser(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let ops: Vec<&[u8]> = args[3..].iter().map(|a| &a[..]).collect();
    ctx.state
        .acl
        .set_user(&args[2], &ops)
        .map_err(|e| CmdError::custom(format!("ERR {e}")))?;
    if let Some(user) = ctx.state.acl.user(&args[2]) {
        close_revoked_subscribers(ctx, &user);
    }
    ok()
}

/// Closes connections of `user` subscribed to a channel or pattern it may no longer use.
fn close_revoked_subscribers(ctx: &mut Ctx<'_>, user: &Arc<User>) {
    if user.is_unrestricted() {
        return;
    }
    let rules = user.rules();
    let allowed = |name: &[u8], is_pattern: bool| {
        let channel = ChannelArg { name, is_pattern };
        std::iter::once(&rules.root)
            .chain(rules.selectors.iter())
            .any(|s| s.channel_allowed(channel))
    };
    for (client, name, is_pattern) in ctx.state.pubsub.all_subscriptions() {
        if Arc::ptr_eq(&client.user.lock(), user) && !allowed(&name, is_pattern) {
            close_client(ctx, &client);
        }
    }
}

/// Closes a client; the calling one after its reply.
fn close_client(ctx: &mut Ctx<'_>, client: &crate::client::ClientInfo) {
    if client.id == ctx.client.info.id {
        ctx.client.close_after_reply = true;
    } else {
        client.kill();
    }
}

/// Closes every connection authenticated as a user that was removed.
fn close_removed_users(ctx: &mut Ctx<'_>) {
    for client in ctx.state.clients.all() {
        if client.user.lock().is_removed() {
            close_client(ctx, &client);
        }
    }
}

pub fn deluser(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    if args[2..].iter().any(|name| &name[..] == b"default") {
        return Err(CmdError::custom("ERR The 'default' user cannot be removed"));
    }
    let deleted = args[2..]
        .iter()
        .filter(|name| ctx.state.acl.delete_user(name).is_some())
        .count();
    close_removed_users(ctx);
    Ok(Reply::Int(deleted as i64))
}

pub fn getuser(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let Some(user) = ctx.state.acl.user(&args[2]) else {
        return Ok(Reply::Nil);
    };
    let rules = user.rules();
    let field = |name: &str, value: Reply| (Reply::bulk(name.to_string()), value);
    let text_reply = |t: String| Reply::bulk(t);
    let mut fields = vec![
        field(
            "flags",
            Reply::Array(rules.flags().into_iter().map(Reply::bulk).collect()),
        ),
        field(
            "passwords",
            Reply::Array(
                rules
                    .passwords
                    .iter()
                    .map(|p| Reply::bulk(crate::acl::user::hex(p)))
                    .collect(),
            ),
        ),
        field("commands", text_reply(rules.root.describe_commands())),
        field("keys", text_reply(rules.root.describe_keys())),
        field("channels", text_reply(rules.root.describe_channels())),
    ];
    let selectors = rules
        .selectors
        .iter()
        .map(|s| {
            Reply::Map(vec![
                field("commands", text_reply(s.describe_commands())),
                field("keys", text_reply(s.describe_keys())),
                field("channels", text_reply(s.describe_channels())),
            ])
        })
        .collect();
    fields.push(field("selectors", Reply::Array(selectors)));
    Ok(Reply::Map(fields))
}

pub fn list(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult<Reply> {
    Ok(Reply::Array(
        ctx.state.acl.list().into_iter().map(Reply::bulk).collect(),
    ))
}

pub fn users(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult<Reply> {
    Ok(Reply::Array(
        ctx.state
            .acl
            .usernames()
            .into_iter()
            .map(Reply::bulk)
            .collect(),
    ))
}

pub fn whoami(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult<Reply> {
    Ok(Reply::bulk(ctx.client.user.name.clone()))
}

pub fn genpass(_ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let bits = match args.get(2) {
        None => 256,
        Some(arg) => match arg_i64(arg)? {
            n if (1..=4096).contains(&n) => n as usize,
            _ => {
                return Err(CmdError::custom(
                    "ERR ACL GENPASS argument must be the number of bits for the output \
                     password, a positive number up to 4096",
                ))
            }
        },
    };
    let chars = bits.div_ceil(4);
    let mut bytes = vec![0u8; chars.div_ceil(2)];
    rand::fill(&mut bytes[..]);
    let mut hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    hex.truncate(chars);
    Ok(Reply::bulk(hex))
}

pub fn dryrun(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let user = ctx
        .state
        .acl
        .user(&args[2])
        .ok_or_else(|| CmdError::custom(format!("ERR User '{}' not found", text(&args[2]))))?;
    let command = &args[3..];
    let (cmd, full_name) = super::dispatch::resolve(ctx.state, command).map_err(|e| match e {
        // A container named without its subcommand.
        CmdError::WrongArity(_) => e,
        _ => CmdError::custom(format!("ERR Command '{}' not found", text(&command[0]))),
    })?;
    if !cmd.arity_ok(command.len()) {
        return Err(CmdError::WrongArity(full_name.to_string()));
    }
    let facts = ctx.state.commands.acl_facts(full_name).unwrap_or_default();
    Ok(
        match denial(ctx.state, &user.rules(), cmd, (full_name, facts), command) {
            None => Reply::Ok,
            Some(denied) => Reply::bulk(dry_run_text(denied, full_name, command)),
        },
    )
}

pub fn log(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    if args.len() > 3 {
        return Err(wrong_arguments("LOG"));
    }
    let mut count = None;
    if let Some(arg) = args.get(2) {
        if is(arg, "RESET") {
            ctx.state.acl.log.reset();
            return ok();
        }
        // A negative count lists nothing, as in Redis.
        count = Some(arg_i64(arg)?.max(0) as usize);
    }
    let now = crate::storage::now_ms();
    let entries = ctx
        .state
        .acl
        .log
        .recent(count)
        .into_iter()
        .map(|e| {
            let field = |name: &str, value: Reply| (Reply::bulk(name.to_string()), value);
            Reply::Map(vec![
                field("count", Reply::Int(e.count as i64)),
                field("reason", Reply::bulk(e.reason.name())),
                field("context", Reply::bulk(e.context)),
                field("object", Reply::bulk(e.object)),
                field("username", Reply::bulk(e.username)),
                field(
                    "age-seconds",
                    Reply::Double(now.saturating_sub(e.updated_ms) as f64 / 1000.0),
                ),
                field("client-info", Reply::bulk(e.client_info)),
            ])
        })
        .collect();
    Ok(Reply::Array(entries))
}

pub fn load(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult<Reply> {
    let path = ctx.state.config.get("aclfile");
    if path.is_empty() {
        return Err(CmdError::custom(NO_ACL_FILE));
    }
    let contents = std::fs::read_to_string(&path).map_err(|e| {
        CmdError::custom(format!(
            "ERR Error loading ACLs, opening file '{path}': {e}"
        ))
    })?;
    ctx.state
        .acl
        .load(&path, &contents)
        .map_err(|e| CmdError::custom(format!("ERR {e}")))?;
    close_removed_users(ctx);
    close_revoked_subscribers(ctx, &ctx.state.acl.default_user());
    ok()
}

pub fn save(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult<Reply> {
    let path = ctx.state.config.get("aclfile");
    if path.is_empty() {
        return Err(CmdError::custom(NO_ACL_FILE));
    }
    // Written beside the file and renamed over it, so a crash leaves the old file or the
    // new one, never half of one.
    let tmp = format!("{path}.tmp-{}", std::process::id());
    let written = std::fs::write(&tmp, ctx.state.acl.file_text())
        .and_then(|()| std::fs::File::open(&tmp)?.sync_all())
        .and_then(|()| std::fs::rename(&tmp, &path));
    if let Err(e) = written {
        tracing::warn!("ACL SAVE to {path} failed: {e}");
        let _ = std::fs::remove_file(&tmp);
        return Err(CmdError::custom(
            "ERR There was an error trying to save the ACLs. Please check the server logs for \
             more information",
        ));
    }
    ok()
}
