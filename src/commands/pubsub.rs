//! Pub/Sub commands: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, PUBLISH and PUBSUB.
//! Confirmations are push messages in RESP3 and arrays in RESP2, one per channel.

use bytes::Bytes;

use super::{text, Ctx};
use crate::error::{CmdError, CmdResult};
use crate::protocol::Reply;
use crate::pubsub::Subscriber;
use crate::state::ServerState;

fn confirmation(kind: &str, name: Option<Bytes>, count: usize) -> Reply {
    Reply::Push(vec![
        Reply::bulk(kind.to_string()),
        name.map_or(Reply::Nil, Reply::Bulk),
        Reply::Int(count as i64),
    ])
}

fn subscriber(ctx: &Ctx<'_>) -> CmdResult<Subscriber> {
    let queue = ctx
        .client
        .pubsub_queue
        .clone()
        .ok_or_else(|| CmdError::custom("ERR this connection cannot subscribe"))?;
    Ok(Subscriber {
        client: ctx.client.info.clone(),
        queue,
    })
}

pub fn subscribe(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let sub = subscriber(ctx)?;
    let mut replies = Vec::new();
    for ch in &args[1..] {
        if !ctx.client.channels.contains(ch) {
            ctx.state.pubsub.subscribe(ch, &sub);
            ctx.client.channels.push(ch.clone());
        }
        replies.push(confirmation(
            "subscribe",
            Some(ch.clone()),
            ctx.client.subscription_count(),
        ));
    }
    ctx.client.sync_subscription_counts();
    Ok(Reply::Multi(replies))
}

pub fn psubscribe(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let sub = subscriber(ctx)?;
    let mut replies = Vec::new();
    for p in &args[1..] {
        if !ctx.client.patterns.contains(p) {
            ctx.state.pubsub.psubscribe(p, &sub);
            ctx.client.patterns.push(p.clone());
        }
        replies.push(confirmation(
            "psubscribe",
            Some(p.clone()),
            ctx.client.subscription_count(),
        ));
    }
    ctx.client.sync_subscription_counts();
    Ok(Reply::Multi(replies))
}

pub fn unsubscribe(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let targets: Vec<Bytes> = if args.len() > 1 {
        args[1..].to_vec()
    } else {
        ctx.client.channels.clone()
    };
    if targets.is_empty() {
        return Ok(Reply::Multi(vec![confirmation(
            "unsubscribe",
            None,
            ctx.client.subscription_count(),
        )]));
    }
    let mut replies = Vec::new();
    for ch in targets {
        ctx.state.pubsub.unsubscribe(&ch, ctx.client.info.id);
        ctx.client.channels.retain(|c| *c != ch);
        replies.push(confirmation(
            "unsubscribe",
            Some(ch),
            ctx.client.subscription_count(),
        ));
    }
    ctx.client.sync_subscription_counts();
    Ok(Reply::Multi(replies))
}

pub fn punsubscribe(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let targets: Vec<Bytes> = if args.len() > 1 {
        args[1..].to_vec()
    } else {
        ctx.client.patterns.clone()
    };
    if targets.is_empty() {
        return Ok(Reply::Multi(vec![confirmation(
            "punsubscribe",
            None,
            ctx.client.subscription_count(),
        )]));
    }
    let mut replies = Vec::new();
    for p in targets {
        ctx.state.pubsub.punsubscribe(&p, ctx.client.info.id);
        ctx.client.patterns.retain(|c| *c != p);
        replies.push(confirmation(
            "punsubscribe",
            Some(p),
            ctx.client.subscription_count(),
        ));
    }
    ctx.client.sync_subscription_counts();
    Ok(Reply::Multi(replies))
}

pub fn ssubscribe(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let sub = subscriber(ctx)?;
    let mut replies = Vec::new();
    for ch in &args[1..] {
        if !ctx.client.shard_channels.contains(ch) {
            ctx.state.pubsub.ssubscribe(ch, &sub);
            ctx.client.shard_channels.push(ch.clone());
        }
        replies.push(confirmation(
            "ssubscribe",
            Some(ch.clone()),
            ctx.client.shard_channels.len(),
        ));
    }
    ctx.client.sync_subscription_counts();
    Ok(Reply::Multi(replies))
}

pub fn sunsubscribe(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let targets: Vec<Bytes> = if args.len() > 1 {
        args[1..].to_vec()
    } else {
        ctx.client.shard_channels.clone()
    };
    if targets.is_empty() {
        return Ok(Reply::Multi(vec![confirmation("sunsubscribe", None, 0)]));
    }
    let mut replies = Vec::new();
    for ch in targets {
        ctx.state.pubsub.sunsubscribe(&ch, ctx.client.info.id);
        ctx.client.shard_channels.retain(|c| *c != ch);
        replies.push(confirmation(
            "sunsubscribe",
            Some(ch),
            ctx.client.shard_channels.len(),
        ));
    }
    ctx.client.sync_subscription_counts();
    Ok(Reply::Multi(replies))
}

pub fn spublish(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    Ok(Reply::Int(ctx.state.pubsub.spublish(&args[1], &args[2])))
}

pub fn pubsub_shardchannels(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    if args.len() > 3 {
        return Err(CmdError::WrongArity("pubsub|shardchannels".into()));
    }
    Ok(Reply::bulks(
        ctx.state.pubsub.shard_channels(args.get(2).map(|p| &p[..])),
    ))
}

pub fn pubsub_shardnumsub(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let mut out = Vec::new();
    for ch in &args[2..] {
        out.push(Reply::Bulk(ch.clone()));
        out.push(Reply::Int(ctx.state.pubsub.shard_numsub(ch) as i64));
    }
    Ok(Reply::Array(out))
}

/// Drops every subscription of a client (RESET, disconnect).
pub fn unsubscribe_all(state: &ServerState, client: &mut crate::client::ClientState) {
    for ch in client.shard_channels.drain(..) {
        state.pubsub.sunsubscribe(&ch, client.info.id);
    }
    for ch in client.channels.drain(..) {
        state.pubsub.unsubscribe(&ch, client.info.id);
    }
    for p in client.patterns.drain(..) {
        state.pubsub.punsubscribe(&p, client.info.id);
    }
    client.sync_subscription_counts();
}

pub fn publish(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    crate::replication::primary::propagate_publish(ctx.state, &args[1], &args[2]);
    Ok(Reply::Int(ctx.state.pubsub.publish(&args[1], &args[2])))
}

pub fn pubsub_channels(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    if args.len() > 3 {
        return Err(CmdError::WrongArity("pubsub|channels".into()));
    }
    Ok(Reply::bulks(
        ctx.state.pubsub.channels(args.get(2).map(|p| &p[..])),
    ))
}

pub fn pubsub_numsub(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let mut out = Vec::new();
    for ch in &args[2..] {
        out.push(Reply::Bulk(ch.clone()));
        out.push(Reply::Int(ctx.state.pubsub.numsub(ch) as i64));
    }
    Ok(Reply::Array(out))
}

pub fn pubsub_numpat(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult<Reply> {
    Ok(Reply::Int(ctx.state.pubsub.numpat() as i64))
}

/// Commands a RESP2 client in subscribed mode may still send.
pub const ALLOWED_WHEN_SUBSCRIBED: &[&str] = &[
    "subscribe",
    "unsubscribe",
    "psubscribe",
    "punsubscribe",
    "ssubscribe",
    "sunsubscribe",
    "ping",
    "quit",
    "reset",
];

pub fn subscribed_mode_error(name: &str) -> CmdError {
    CmdError::custom(format!(
        "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
        text(name.as_bytes())
    ))
}
