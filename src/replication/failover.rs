//! `FAILOVER [TO host port [FORCE]] [TIMEOUT ms] | ABORT`: a coordinated switch of roles
//! between this primary and one of its replicas, as Redis 6.2+ does it, with no write lost.
//!
//! 1. *waiting-for-sync*: client writes are held back (`ClientPause::hold_for_failover`,
//!    apart from `CLIENT PAUSE`) and active expiry stops, so this node's offset stands
//!    still; the task waits until the target (or, without `TO`, any replica) acknowledged
//!    exactly that offset. Past `TIMEOUT` it gives up, unless `FORCE` was given.
//! 2. *failover-in-progress*: this node becomes a replica of the target and its link asks
//!    `PSYNC <replid> <offset+1> FAILOVER`. The target, seeing its own replication id,
//!    promotes itself (as `REPLICAOF NO ONE`) and continues this node's history, so the
//!    old primary follows it without a full copy.
//! 3. Once the target answered `+CONTINUE` (or `+FULLRESYNC`), the hold ends: the held
//!    writes run and get `-READONLY`. If the target refuses or cannot be reached, the
//!    failover is aborted: this node becomes a primary again (under a new replication id,
//!    as after any promotion) and the held writes run here.
//!
//! Depends on the parent module's state, `storage` and `pause` (through `ServerState`).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use crate::state::ServerState;
use crate::storage::now_ms;

/// Where a failover stands (`master_failover_state` in `INFO replication`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    None,
    WaitingForSync,
    InProgress,
}

impl Stage {
    pub fn name(self) -> &'static str {
        match self {
            Stage::None => "no-failover",
            Stage::WaitingForSync => "waiting-for-sync",
            Stage::InProgress => "failover-in-progress",
        }
    }
}

/// What `FAILOVER` was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Host and port as given: a port out of range simply names no replica.
    pub target: Option<(String, i64)>,
    pub timeout_ms: Option<u64>,
    pub force: bool,
}

#[derive(Debug)]
struct Current {
    stage: Stage,
    target: Option<(String, u16)>,
    deadline_ms: Option<u64>,
    force: bool,
    /// Bumped by each start and end, so a task of an older failover stops.
    round: u64,
}

/// The failover state of one node.
pub struct Failover {
    current: Mutex<Current>,
}

impl Default for Failover {
    fn default() -> Failover {
        Failover {
            current: Mutex::new(Current {
                stage: Stage::None,
                target: None,
                deadline_ms: None,
                force: false,
                round: 0,
            }),
        }
    }
}

impl Failover {
    pub fn stage(&self) -> Stage {
        self.current.lock().stage
    }

    /// Whether this node's replica link must ask its primary to take over (`PSYNC ...
    /// FAILOVER`).
    pub fn asks_target_to_take_over(&self) -> bool {
        self.stage() == Stage::InProgress
    }
}

/// Why `FAILOVER` was refused, in Redis's words (the command layer adds nothing).
pub type Refusal = &'static str;

/// Starts a failover (the checks are Redis's, in its order); the work goes on in a task.
pub fn start(state: &Arc<ServerState>, request: Request) -> Result<(), Refusal> {
    let repl = &state.replication;
    let mut current = repl.failover.current.lock();
    if current.stage != Stage::None {
        return Err("ERR FAILOVER already in progress.");
    }
    if repl.is_replica() {
        return Err("ERR FAILOVER is not valid when server is a replica.");
    }
    if repl.replicas.lock().is_empty() {
        return Err("ERR FAILOVER requires connected replicas.");
    }
    if request.force && (request.timeout_ms.is_none() || request.target.is_none()) {
        return Err(
            "ERR FAILOVER with force option requires both a timeout and target HOST and IP.",
        );
    }
    if let Some((host, port)) = &request.target {
        let found = u16::try_from(*port)
            .ok()
            .and_then(|p| repl.find_replica(host, p));
        let Some(link) = found else {
            return Err("ERR FAILOVER target HOST and PORT is not a replica.");
        };
        if !link.online.load(Ordering::Acquire) {
            return Err("ERR FAILOVER target replica is not online.");
        }
        tracing::info!("FAILOVER requested to {host}:{port}");
    } else {
        tracing::info!("FAILOVER requested to any replica");
    }
    current.stage = Stage::WaitingForSync;
    current.target = request
        .target
        .map(|(host, port)| (host, u16::try_from(port).unwrap_or(0)));
    current.deadline_ms = request.timeout_ms.map(|t| now_ms().saturating_add(t));
    current.force = request.force;
    current.round += 1;
    let round = current.round;
    drop(current);
    state.pause.hold_for_failover();
    // Commands past the gate's pause check hold the global lock (shared): once it was
    // free, none of them can still write, and the offset stands still.
    let waiter = state.clone();
    tokio::spawn(async move {
        let locker = waiter.clone();
        let _ = tokio::task::spawn_blocking(move || drop(locker.storage.global.write())).await;
        wait_for_sync(waiter, round).await;
    });
    Ok(())
}

/// The target's side: a replica asked `PSYNC <replid> <offset> FAILOVER` by its own primary
/// promotes itself (when `replid` is its own) before the `PSYNC` is answered, so the old
/// primary's history continues here.
pub fn take_over(state: &ServerState, replid: &str) -> Result<(), String> {
    if state.replication.history().replid != replid {
        return Err("ERR PSYNC FAILOVER replid must match my replid.".into());
    }
    let _exclusive = crate::commands::dispatch::off_worker(|| state.storage.global.write());
    super::promote(state).map_err(|e| format!("ERR {e}"))?;
    tracing::info!("failover request received for replid {replid}: this node is the primary now");
    Ok(())
}

/// `FAILOVER ABORT`.
pub fn abort(state: &ServerState) -> Result<(), Refusal> {
    if state.replication.failover.stage() == Stage::None {
        return Err("ERR No failover in progress.");
    }
    end(state, Some("Failover manually aborted"));
    Ok(())
}

/// Ends the failover: successfully (`why` None) or aborted, in which case a node that
/// already turned replica becomes a primary again.
pub fn end(state: &ServerState, why: Option<&str>) {
    let repl = &state.replication;
    let mut current = repl.failover.current.lock();
    let stage = current.stage;
    if stage == Stage::None {
        return;
    }
    current.stage = Stage::None;
    current.target = None;
    current.deadline_ms = None;
    current.force = false;
    current.round += 1;
    drop(current);
    if let Some(why) = why {
        tracing::warn!("FAILOVER aborted: {why}");
        if stage == Stage::InProgress && repl.is_replica() {
            let _exclusive = crate::commands::dispatch::off_worker(|| state.storage.global.write());
            if let Err(e) = super::promote(state) {
                tracing::error!("cannot become a primary again after the failover: {e}");
            }
        }
    } else {
        tracing::info!("FAILOVER to the new primary completed");
    }
    state.pause.end_failover_hold();
}

fn still_current(state: &ServerState, round: u64) -> bool {
    state.replication.failover.current.lock().round == round
}

async fn wait_for_sync(state: Arc<ServerState>, round: u64) {
    let repl = &state.replication;
    loop {
        let acked = repl.acked.notified();
        tokio::pin!(acked);
        acked.as_mut().enable();
        if !still_current(&state, round) {
            return;
        }
        let (target, deadline, force) = {
            let c = repl.failover.current.lock();
            (c.target.clone(), c.deadline_ms, c.force)
        };
        let own = repl.offset(&state.storage);
        let caught_up = match &target {
            Some((host, port)) => repl
                .find_replica(host, *port)
                .filter(|l| l.acked.load(Ordering::Acquire) == own)
                .map(|_| (host.clone(), *port)),
            None => repl
                .replicas
                .lock()
                .iter()
                .find(|l| {
                    l.online.load(Ordering::Acquire) && l.acked.load(Ordering::Acquire) == own
                })
                .map(|l| {
                    (
                        l.ip.clone(),
                        l.listening_port.load(Ordering::Relaxed) as u16,
                    )
                }),
        };
        let chosen = match (caught_up, deadline) {
            (Some(found), _) => {
                tracing::info!(
                    "failover target {}:{} is synced, failing over",
                    found.0,
                    found.1
                );
                found
            }
            (None, Some(deadline)) if now_ms() >= deadline => match target {
                Some(found) if force => {
                    tracing::warn!(
                        "FAILOVER timed out, failing over to {}:{} (FORCE)",
                        found.0,
                        found.1
                    );
                    found
                }
                _ => {
                    end(&state, Some("Replica never caught up before timeout"));
                    return;
                }
            },
            (None, _) => {
                let _ = tokio::time::timeout(Duration::from_millis(100), acked).await;
                continue;
            }
        };
        hand_over(&state, round, chosen);
        return;
    }
}

/// Turns this node into a replica of `target` whose link asks it to take over.
fn hand_over(state: &Arc<ServerState>, round: u64, (host, port): (String, u16)) {
    let repl = &state.replication;
    let exclusive = crate::commands::dispatch::off_worker(|| state.storage.global.write());
    {
        let mut c = repl.failover.current.lock();
        if c.round != round {
            return;
        }
        c.stage = Stage::InProgress;
        c.target = Some((host.clone(), port));
    }
    repl.become_replica(&state.storage, host.clone(), port);
    state
        .config
        .set_internal("replicaof", &format!("{host} {port}"));
    drop(exclusive);
    super::replica::start(state.clone());
}
