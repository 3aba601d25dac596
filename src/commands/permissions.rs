//! The dispatch gate's ACL step: may the client's user run this command with these keys
//! and channels? Keys and their access come from the command table's key spec and
//! `key_access`, channels from the pub/sub commands' arguments; a denial is logged
//! (`ACL LOG`), counted (`INFO stats`) and answered with Redis's text for where the command
//! came from (a socket, `EXEC`, or a script's `redis.call`).
//!
//! An unrestricted user (the default user, usually) costs one atomic load here.
//! Depends on `acl`, the table and the client.

use bytes::Bytes;

use super::key_access::access_of;
use super::table::{AclFacts, Command};
use crate::acl::log::{Entry, Reason};
use crate::acl::{ChannelArg, Denied, KeyArg, Request, UserRules};
use crate::client::ClientState;
use crate::error::CmdError;
use crate::state::ServerState;

/// Where a command was sent from, as `ACL LOG` names it.
fn context(client: &ClientState) -> &'static str {
    if client.in_script {
        "lua"
    } else if client.in_exec || client.multi.is_some() {
        "multi"
    } else {
        "toplevel"
    }
}

/// The channels a pub/sub command names: (argument index, channel).
fn channels_of<'a>(cmd: &Command, args: &'a [Bytes]) -> Vec<(usize, ChannelArg<'a>)> {
    let (from, is_pattern, only_first) = match cmd.name {
        "publish" | "spublish" => (1, false, true),
        "subscribe" | "ssubscribe" => (1, false, false),
        "psubscribe" => (1, true, false),
        _ => return Vec::new(),
    };
    let end = if only_first {
        (from + 1).min(args.len())
    } else {
        args.len()
    };
    (from..end)
        .map(|i| {
            (
                i,
                ChannelArg {
                    name: &args[i],
                    is_pattern,
                },
            )
        })
        .collect()
}

/// What `user` may not do of this request, if anything.
/// Keys a request names, on the stack for the usual few (the check runs per command).
const INLINE_KEYS: usize = 4;

pub fn denial(
    state: &ServerState,
    rules: &UserRules,
    cmd: &Command,
    (full_name, facts): (&str, AclFacts),
    args: &[Bytes],
) -> Option<Denied> {
    let empty = KeyArg {
        name: &[],
        access: 0,
        index: 0,
    };
    let mut inline = [empty; INLINE_KEYS];
    let mut count = 0;
    let mut spilled: Vec<KeyArg<'_>> = Vec::new();
    // Shard channels sit in the key positions for cluster routing, but ACL checks them as
    // channels (Redis's `not_key` key specs).
    if !matches!(cmd.name, "spublish" | "ssubscribe" | "sunsubscribe") {
        cmd.for_each_key_position(args, |i| {
            if i >= args.len() {
                return;
            }
            let key = KeyArg {
                name: &args[i],
                access: access_of(full_name, facts.key_access, count, args),
                index: i,
            };
            if count < INLINE_KEYS {
                inline[count] = key;
            } else {
                if spilled.is_empty() {
                    spilled.extend_from_slice(&inline);
                }
                spilled.push(key);
            }
            count += 1;
        });
    }
    let keys = if spilled.is_empty() {
        &inline[..count]
    } else {
        &spilled[..]
    };
    let channels = channels_of(cmd, args);
    let request = Request {
        id: facts.id,
        first_arg: if full_name.contains('|') {
            None
        } else {
            args.get(1).map(|a| &a[..])
        },
        keys,
        channels: &channels,
    };
    rules.check(state.acl.catalog(), &request).err()
}

/// The gate's check: `Err` with the reply when the client's user may not run the command.
pub fn check(
    state: &ServerState,
    client: &mut ClientState,
    cmd: &Command,
    (full_name, facts): (&str, Option<AclFacts>),
    args: &[Bytes],
) -> Result<(), CmdError> {
    if client.user.is_unrestricted() {
        return Ok(());
    }
    let facts = facts.or_else(|| state.commands.acl_facts(full_name));
    let rules = client.user_rules();
    let Some(denied) = facts.and_then(|f| denial(state, rules, cmd, (full_name, f), args)) else {
        return Ok(());
    };
    let (reason, object) = match denied {
        Denied::Command => (Reason::Command, full_name.to_string()),
        Denied::Key(i) => (Reason::Key, String::from_utf8_lossy(&args[i]).into_owned()),
        Denied::Channel(i) => (
            Reason::Channel,
            String::from_utf8_lossy(&args[i]).into_owned(),
        ),
    };
    log_denial(state, client, reason, object, client.user.name.clone());
    Err(if client.in_script {
        match reason {
            Reason::Command | Reason::Auth => CmdError::ScriptNoPermCommand,
            Reason::Key => CmdError::ScriptNoPermKey,
            Reason::Channel => CmdError::ScriptNoPermChannel,
        }
    } else if client.in_exec {
        CmdError::NoPermAtExec(
            match reason {
                Reason::Command | Reason::Auth => {
                    "no permission to execute the command or subcommand"
                }
                Reason::Key => "no permission to touch the specified keys",
                Reason::Channel => "no permission to access one of the channels used as arguments",
            }
            .to_string(),
        )
    } else {
        match reason {
            Reason::Command | Reason::Auth => CmdError::NoPermCommand(full_name.to_string()),
            Reason::Key => CmdError::NoPermKey,
            Reason::Channel => CmdError::NoPermChannel,
        }
    })
}

/// Adds an `ACL LOG` entry and counts the denial.
pub fn log_denial(
    state: &ServerState,
    client: &ClientState,
    reason: Reason,
    object: String,
    username: String,
) {
    state.acl.count_denial(reason);
    let max_len = state.config.get_int("acllog-max-len").max(0) as usize;
    state.acl.log.add(
        Entry {
            count: 1,
            reason,
            context: context(client),
            object,
            username,
            updated_ms: crate::storage::now_ms(),
            client_info: client.info.describe(&client.info.flags()),
        },
        max_len,
    );
}

/// `ACL DRYRUN`'s answer for a denial (Redis words it per user, not per client).
pub fn dry_run_text(denied: Denied, full_name: &str, args: &[Bytes]) -> String {
    match denied {
        Denied::Command => format!("This user has no permissions to run the '{full_name}' command"),
        Denied::Key(i) => format!(
            "This user has no permissions to access the '{}' key",
            String::from_utf8_lossy(&args[i])
        ),
        Denied::Channel(i) => format!(
            "This user has no permissions to access the '{}' channel",
            String::from_utf8_lossy(&args[i])
        ),
    }
}
