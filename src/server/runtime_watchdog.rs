//! Keeps the runtime's I/O and timer driver polled while a worker runs a long command, and
//! measures how late tasks start (`LATENCY` event `runtime-stall`).
//!
//! Why this exists (docs/ping-stalls.md has the measurements): tokio's multi-threaded
//! runtime has one I/O and timer driver, polled by whichever worker parks on it. A worker
//! woken by the driver with a single task does not wake an idle sibling; if that task is a
//! 40 ms BITOP on a 64 MB string, nobody polls the driver until it ends, and a `PING` that
//! arrived meanwhile waits although the other core sleeps. Tokio offers no knob for this.
//! A task spawned from outside the runtime goes to its shared queue and wakes a parked
//! worker; that worker runs it, finds nothing else, parks on the now free driver and so
//! serves the waiting connections. So a plain thread spawns a tiny probe task every
//! [`PROBE_EVERY`]; the probe also records how long it waited to start, the runtime's
//! scheduling delay as a client would feel it.
//!
//! Invariants: at most one probe is in flight (a probe that has not started means every
//! worker is busy, and more probes would only queue behind it); the thread ends when the
//! server shuts down. Depends on `ServerState` (shutdown flag, latency monitor) and tokio.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::runtime::Handle;

use crate::state::ServerState;

/// How often a probe is sent: the worst extra wait a connection sees behind one long
/// command, when another worker is idle.
pub const PROBE_EVERY: Duration = Duration::from_millis(5);

/// Starts the watchdog thread for the runtime behind `runtime`.
pub fn spawn(state: Arc<ServerState>, runtime: Handle) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("strata-watchdog".into())
        .spawn(move || watch(&state, &runtime))
}

fn watch(state: &Arc<ServerState>, runtime: &Handle) {
    let in_flight = Arc::new(AtomicBool::new(false));
    while !state.shutting_down.load(Ordering::SeqCst) {
        std::thread::sleep(PROBE_EVERY);
        if in_flight.swap(true, Ordering::AcqRel) {
            continue;
        }
        let sent = Instant::now();
        let probe_state = state.clone();
        let probe_flag = in_flight.clone();
        runtime.spawn(async move {
            let late_ms = sent.elapsed().as_millis() as u64;
            probe_state.latency.record(
                crate::latency::RUNTIME_STALL,
                late_ms,
                crate::storage::now_ms() / 1000,
            );
            probe_flag.store(false, Ordering::Release);
        });
    }
}
