//! Group commit for `appendfsync always`: connections ask for "everything up to sequence N
//! is fsynced" and await the answer; one dedicated thread performs fsyncs back to back, each
//! covering every write committed before it started. While one fsync runs, requests from any
//! number of connections accumulate and share the next one, and no tokio worker thread is
//! blocked waiting (Redis gets the same effect from one fsync per event-loop turn).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use parking_lot::{Condvar, Mutex};
use tokio::sync::watch;

use super::Storage;

/// The latest fsynced sequence, or a failure (after which nothing may be acknowledged).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Synced {
    Upto(u64),
    Failed,
}

pub struct GroupCommit {
    requested: Mutex<u64>,
    wake: Condvar,
    synced: watch::Sender<Synced>,
    stop: AtomicBool,
}

impl Default for GroupCommit {
    fn default() -> Self {
        GroupCommit {
            requested: Mutex::new(0),
            wake: Condvar::new(),
            synced: watch::channel(Synced::Upto(0)).0,
            stop: AtomicBool::new(false),
        }
    }
}

impl GroupCommit {
    /// Waits until every write up to `seq` is durable; false if syncing failed.
    pub async fn wait_durable(&self, seq: u64) -> bool {
        let mut rx = self.synced.subscribe();
        if matches!(*rx.borrow(), Synced::Upto(s) if s >= seq) {
            return true;
        }
        {
            let mut requested = self.requested.lock();
            if *requested < seq {
                *requested = seq;
            }
            self.wake.notify_one();
        }
        let outcome = rx
            .wait_for(|s| matches!(s, Synced::Failed) || matches!(s, Synced::Upto(x) if *x >= seq))
            .await
            .map(|s| *s);
        matches!(outcome, Ok(Synced::Upto(_)))
    }

    /// Stops [`GroupCommit::run`] (after the connections it serves are gone).
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        self.wake.notify_one();
    }

    /// The syncing loop; runs on its own thread until [`GroupCommit::stop`].
    pub fn run(&self, storage: &Storage) {
        let mut done = 0u64;
        loop {
            {
                let mut requested = self.requested.lock();
                while *requested <= done && !self.stop.load(Ordering::SeqCst) {
                    self.wake
                        .wait_for(&mut requested, Duration::from_millis(100));
                }
            }
            if self.stop.load(Ordering::SeqCst) {
                return;
            }
            // Everything committed before this point is covered by the fsync below.
            let covering = storage.engine().latest_sequence();
            match storage.engine().sync_wal() {
                Ok(()) => {
                    done = covering;
                    self.synced.send_replace(Synced::Upto(covering));
                }
                Err(e) => {
                    tracing::error!("WAL fsync failed: {e}");
                    self.synced.send_replace(Synced::Failed);
                    return;
                }
            }
        }
    }
}
