//! Replication commands: `REPLICAOF`/`SLAVEOF`, `ROLE`, `WAIT`, `REPLCONF`, `PSYNC`, and the
//! `INFO replication` section, with Redis 7's replies and error texts. The work is done by
//! `crate::replication`; `PSYNC` and `WAIT` hand their connection a [`Handoff`], which it
//! awaits without holding a thread.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::{arg_i64, is, text, Ctx};
use crate::client::Handoff;
use crate::error::{CmdError, CmdResult};
use crate::protocol::Reply;
use crate::replication::{replica, Role};
use crate::storage::now_ms;

/// `REPLICAOF host port` / `REPLICAOF NO ONE` (and `SLAVEOF`). Runs under the exclusive
/// global lock (table flag), so no local write is in flight when the role changes.
pub fn replicaof(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let state = ctx.state;
    let repl = &state.replication;
    if is(&args[1], "no") && is(&args[2], "one") {
        if repl.is_replica() {
            crate::replication::promote(state)?;
            tracing::info!("MASTER MODE enabled (user request)");
        }
        return Ok(Reply::Ok);
    }
    let host = text(&args[1]);
    let port = arg_i64(&args[2])
        .ok()
        .filter(|p| (0..=65535).contains(p))
        .ok_or_else(|| CmdError::custom("ERR Invalid master port"))? as u16;
    if repl.role()
        == (Role::Replica {
            host: host.clone(),
            port,
        })
    {
        return Ok(Reply::status("OK Already connected to specified master"));
    }
    repl.become_replica(&state.storage, host.clone(), port);
    state
        .config
        .set_internal("replicaof", &format!("{host} {port}"));
    if let Some(arc) = state.arc() {
        replica::start(arc);
    }
    tracing::info!("REPLICAOF {host}:{port} enabled (user request)");
    Ok(Reply::Ok)
}

pub fn role(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult<Reply> {
    let state = ctx.state;
    let repl = &state.replication;
    let offset = repl.offset(&state.storage) as i64;
    Ok(match repl.role() {
        Role::Primary => {
            let replicas = repl
                .replicas
                .lock()
                .iter()
                .filter(|l| l.online.load(Ordering::Acquire))
                .map(|l| {
                    Reply::Array(vec![
                        Reply::bulk(l.ip.clone()),
                        Reply::bulk(l.listening_port.load(Ordering::Relaxed).to_string()),
                        Reply::bulk(l.acked.load(Ordering::Relaxed).to_string()),
                    ])
                })
                .collect();
            Reply::Array(vec![
                Reply::bulk("master"),
                Reply::Int(offset),
                Reply::Array(replicas),
            ])
        }
        Role::Replica { host, port } => Reply::Array(vec![
            Reply::bulk("slave"),
            Reply::bulk(host),
            Reply::Int(i64::from(port)),
            Reply::bulk(repl.link_state().name()),
            Reply::Int(offset),
        ]),
    })
}

/// `FAILOVER [TO host port [FORCE]] [TIMEOUT ms] | FAILOVER ABORT`, parsed as Redis does
/// (see `crate::replication::failover`); answers at once, the switch goes on in a task.
pub fn failover(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    use crate::replication::failover as fo;
    let mut target: Option<(String, i64)> = None;
    let mut timeout_ms: Option<u64> = None;
    let (mut force, mut abort) = (false, false);
    let mut j = 1;
    while j < args.len() {
        if is(&args[j], "to") && j + 2 < args.len() && target.is_none() {
            let port = arg_i64(&args[j + 2])?;
            target = Some((text(&args[j + 1]), port));
            j += 3;
        } else if is(&args[j], "timeout") && j + 1 < args.len() && timeout_ms.is_none() {
            let t = arg_i64(&args[j + 1])?;
            if t <= 0 {
                return Err(CmdError::custom(
                    "ERR FAILOVER timeout must be greater than 0",
                ));
            }
            timeout_ms = Some(t as u64);
            j += 2;
        } else if is(&args[j], "force") && !force {
            force = true;
            j += 1;
        } else if is(&args[j], "abort") && !abort {
            abort = true;
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let state = ctx.state;
    if abort {
        fo::abort(state).map_err(CmdError::custom)?;
        return Ok(Reply::Ok);
    }
    let Some(arc) = state.arc() else {
        return Err(CmdError::custom("ERR FAILOVER needs a running server"));
    };
    let request = fo::Request {
        target,
        timeout_ms,
        force,
    };
    fo::start(&arc, request).map_err(CmdError::custom)?;
    Ok(Reply::Ok)
}

/// `WAIT numreplicas timeout`: the replicas that acknowledged this server's offset as of
/// now (which covers every write this client made before).
pub fn wait(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    let state = ctx.state;
    let repl = &state.replication;
    if repl.is_replica() {
        return Err(CmdError::custom(
            "ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.",
        ));
    }
    let wanted = arg_i64(&args[1])?;
    let timeout = arg_i64(&args[2])?;
    if timeout < 0 {
        return Err(CmdError::custom("ERR timeout is negative"));
    }
    let offset = repl.offset(&state.storage);
    let now = repl.replicas_at(offset);
    if wanted <= 0 || now as i64 >= wanted || ctx.client.deny_blocking {
        return Ok(Reply::Int(now as i64));
    }
    ctx.client.handoff = Some(Handoff::Wait {
        offset,
        replicas: wanted as usize,
        timeout_ms: timeout as u64,
    });
    Ok(Reply::Nil)
}

/// `REPLCONF option value ...` from a replica during its handshake.
pub fn replconf(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    if args.len() % 2 == 0 {
        return Err(CmdError::Syntax);
    }
    for pair in args[1..].chunks(2) {
        if is(&pair[0], "listening-port") {
            let port = arg_i64(&pair[1])?;
            ctx.client.listening_port = u16::try_from(port).map_err(|_| CmdError::NotInteger)?;
        } else if is(&pair[0], "ip-address") {
            // Bounded: an address, not a payload.
            ctx.client.announced_ip = Some(text(&pair[1]).chars().take(255).collect());
        } else if is(&pair[0], "capa")
            || is(&pair[0], "ack")
            || is(&pair[0], "getack")
            || is(&pair[0], "rdb-only")
            || is(&pair[0], "rdb-filter-only")
        {
        } else {
            return Err(CmdError::custom(format!(
                "ERR Unrecognized REPLCONF option: {}",
                text(&pair[0])
            )));
        }
    }
    Ok(Reply::Ok)
}

/// `PSYNC replid offset`: this connection becomes a replica link.
pub fn psync(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult<Reply> {
    if ctx.client.multi.is_some() || ctx.client.in_script {
        return Err(CmdError::custom(
            "ERR Replica can't be used inside a transaction or script",
        ));
    }
    let next = arg_i64(&args[2]).unwrap_or(-1);
    ctx.client.handoff = Some(Handoff::Psync {
        replid: text(&args[1]),
        next,
        // Sent by a primary running FAILOVER to the replica it hands over to.
        failover: args.get(3).is_some_and(|a| is(a, "failover")),
    });
    Ok(Reply::Nil)
}

/// `SYNC`: Redis's full copy as one RDB bulk reply, which `redis-cli --rdb` saves; the
/// connection closes after it (Strata replicas use `PSYNC` and their own stream).
pub fn sync(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult<Reply> {
    if ctx.client.multi.is_some() || ctx.client.in_script {
        return Err(CmdError::custom(
            "ERR Replica can't be used inside a transaction or script",
        ));
    }
    ctx.client.handoff = Some(Handoff::RdbSnapshot);
    Ok(Reply::Nil)
}

/// `slaveN:ip=..,port=..,state=online,offset=..,lag=..` for each online replica.
fn replica_lines(out: &mut String, links: &[std::sync::Arc<crate::replication::ReplicaLink>]) {
    let now = now_ms();
    for (i, l) in links.iter().enumerate() {
        let _ = write!(
            out,
            "slave{i}:ip={},port={},state=online,offset={},lag={}\r\n",
            l.ip,
            l.listening_port.load(Ordering::Relaxed),
            l.acked.load(Ordering::Relaxed),
            now.saturating_sub(l.last_ack_ms.load(Ordering::Relaxed)) / 1000,
        );
    }
}

/// The `# Replication` section of `INFO`.
pub fn info_section(ctx: &Ctx<'_>, out: &mut String) {
    let state = ctx.state;
    let repl = &state.replication;
    let offset = repl.offset(&state.storage);
    let history = repl.history();
    out.push_str("# Replication\r\n");
    let links: Vec<_> = repl
        .replicas
        .lock()
        .iter()
        .filter(|l| l.online.load(Ordering::Acquire))
        .cloned()
        .collect();
    match repl.role() {
        Role::Primary => {
            let _ = write!(out, "role:master\r\nconnected_slaves:{}\r\n", links.len());
            if let Some((_, max_lag)) = repl.min_replicas_rule() {
                let good = repl.good_replicas(max_lag);
                let _ = write!(out, "min_slaves_good_slaves:{good}\r\n");
            }
            replica_lines(out, &links);
        }
        Role::Replica { host, port } => {
            let link = repl.link_state();
            let up = link == crate::replication::LinkState::Connected;
            let last_io = repl.last_io_ms.load(Ordering::Relaxed);
            let last_io_secs = if last_io == 0 {
                -1
            } else {
                (now_ms().saturating_sub(last_io) / 1000) as i64
            };
            let _ = write!(
                out,
                "role:slave\r\nmaster_host:{host}\r\nmaster_port:{port}\r\n\
                 master_link_status:{}\r\nmaster_last_io_seconds_ago:{last_io_secs}\r\n\
                 master_sync_in_progress:{}\r\nslave_read_repl_offset:{offset}\r\n\
                 slave_repl_offset:{offset}\r\n",
                if up { "up" } else { "down" },
                u8::from(link == crate::replication::LinkState::Sync),
            );
            if !up {
                let since = repl.link_down_since_ms.load(Ordering::Relaxed);
                let secs = if since == 0 {
                    -1
                } else {
                    (now_ms().saturating_sub(since) / 1000) as i64
                };
                let _ = write!(out, "master_link_down_since_seconds:{secs}\r\n");
            }
            let _ = write!(
                out,
                "slave_priority:{}\r\nslave_read_only:1\r\nreplica_announced:1\r\n\
                 connected_slaves:{}\r\n",
                state.config.get_int("replica-priority"),
                links.len(),
            );
            // Replicas of this replica (a chain), listed as a primary lists its own.
            replica_lines(out, &links);
        }
    }
    let second = if history.second_offset < 0 {
        -1
    } else {
        history.second_offset + 1
    };
    let backlog = state.config.get_int("repl-backlog-size");
    let _ = write!(
        out,
        "master_failover_state:{}\r\nmaster_replid:{}\r\nmaster_replid2:{}\r\n\
         master_repl_offset:{offset}\r\nsecond_repl_offset:{second}\r\nrepl_backlog_active:1\r\n\
         repl_backlog_size:{backlog}\r\nrepl_backlog_first_byte_offset:{}\r\n\
         repl_backlog_histlen:{}\r\n",
        repl.failover.stage().name(),
        history.replid,
        history.replid2,
        history.history_start + 1,
        offset.saturating_sub(history.history_start),
    );
}
