//! `CLIENT PAUSE timeout [WRITE|ALL]` / `CLIENT UNPAUSE`: while a pause lasts, the gate
//! holds back every command (ALL) or every command that may write (WRITE: write commands,
//! scripts and functions that are not read-only, PUBLISH, PFCOUNT, and EXEC of a transaction
//! holding any of those), as Redis 7 does — the pausing client included. Held-back commands
//! wait in their connection task (not on a worker thread) for [`ClientPause::changed`] or
//! the deadline, then run in arrival order. `FAILOVER` holds writes back the same way for as
//! long as it runs, separately from `CLIENT PAUSE` (as Redis keeps its pause purposes apart:
//! `CLIENT UNPAUSE` does not end a failover's hold). Depends on nothing but tokio's `Notify`.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};

use tokio::sync::Notify;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum PauseMode {
    Write = 1,
    All = 2,
}

#[derive(Default)]
pub struct ClientPause {
    /// 0: no pause, else a [`PauseMode`].
    mode: AtomicU8,
    /// Unix ms the pause ends.
    until_ms: AtomicU64,
    /// `FAILOVER` is holding writes back until it ends (no deadline of its own).
    failover: AtomicBool,
    /// Woken when a pause ends early or changes.
    pub changed: Notify,
}

impl ClientPause {
    /// Starts or extends a pause. As in Redis, a pause already running keeps the later of
    /// the two deadlines and the stricter of the two modes.
    pub fn pause(&self, mode: PauseMode, until_ms: u64, now_ms: u64) {
        if self.client_pause(now_ms).is_none() {
            self.mode.store(0, Ordering::SeqCst);
            self.until_ms.store(0, Ordering::SeqCst);
        }
        self.until_ms.fetch_max(until_ms, Ordering::SeqCst);
        self.mode.fetch_max(mode as u8, Ordering::SeqCst);
        self.changed.notify_waiters();
    }

    pub fn unpause(&self) {
        self.mode.store(0, Ordering::SeqCst);
        self.until_ms.store(0, Ordering::SeqCst);
        self.changed.notify_waiters();
    }

    /// Holds writes back until [`ClientPause::end_failover_hold`] (`FAILOVER`).
    pub fn hold_for_failover(&self) {
        self.failover.store(true, Ordering::SeqCst);
        self.changed.notify_waiters();
    }

    pub fn end_failover_hold(&self) {
        self.failover.store(false, Ordering::SeqCst);
        self.changed.notify_waiters();
    }

    /// The pause in effect at `now_ms`, with its end (a failover's hold has none: its end
    /// is signalled through [`ClientPause::changed`]).
    pub fn current(&self, now_ms: u64) -> Option<(PauseMode, u64)> {
        let client = self.client_pause(now_ms);
        if !self.failover.load(Ordering::SeqCst) {
            return client;
        }
        Some(match client {
            Some((mode, _)) => (mode, u64::MAX),
            None => (PauseMode::Write, u64::MAX),
        })
    }

    /// The `CLIENT PAUSE` in effect at `now_ms`, with its end.
    fn client_pause(&self, now_ms: u64) -> Option<(PauseMode, u64)> {
        let mode = match self.mode.load(Ordering::SeqCst) {
            1 => PauseMode::Write,
            2 => PauseMode::All,
            _ => return None,
        };
        let until = self.until_ms.load(Ordering::SeqCst);
        (now_ms < until).then_some((mode, until))
    }

    /// Whether a command that `may_write` (or any, under ALL) must wait now. The common
    /// case, no pause, is one atomic load.
    pub fn holds_back(&self, may_write: bool, now_ms: u64) -> bool {
        if !self.maybe() {
            return false;
        }
        match self.current(now_ms) {
            Some((PauseMode::All, _)) => true,
            Some((PauseMode::Write, _)) => may_write,
            None => false,
        }
    }

    /// Whether a pause may be in effect: one atomic load, for hot paths to skip the clock.
    pub fn maybe(&self) -> bool {
        self.mode.load(Ordering::Relaxed) != 0 || self.failover.load(Ordering::Relaxed)
    }

    /// Whether any pause is in effect (cheap when none: one atomic load).
    pub fn active(&self, now_ms: u64) -> bool {
        self.maybe() && self.current(now_ms).is_some()
    }

    /// Whether writes are paused now (active expiry stops too, as in Redis, so a paused
    /// server's dataset does not change under a failover tool's feet).
    pub fn writes_paused(&self, now_ms: u64) -> bool {
        self.holds_back(true, now_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_deadlines_and_unpause() {
        let p = ClientPause::default();
        assert!(!p.holds_back(true, 0));
        p.pause(PauseMode::Write, 1000, 0);
        assert!(p.holds_back(true, 999));
        assert!(!p.holds_back(false, 999), "reads pass a WRITE pause");
        assert!(!p.holds_back(true, 1000), "ends at its deadline");
        p.pause(PauseMode::All, 500, 100);
        assert_eq!(
            p.current(100),
            Some((PauseMode::All, 1000)),
            "stricter, later"
        );
        p.unpause();
        assert!(!p.holds_back(true, 100));
        p.pause(PauseMode::Write, 2000, 1500);
        assert_eq!(
            p.current(1500),
            Some((PauseMode::Write, 2000)),
            "an ended pause resets"
        );
    }

    #[test]
    fn a_failover_hold_is_apart_from_client_pause() {
        let p = ClientPause::default();
        p.hold_for_failover();
        assert!(p.holds_back(true, 5) && !p.holds_back(false, 5));
        p.pause(PauseMode::All, 100, 0);
        assert!(p.holds_back(false, 50));
        p.unpause();
        assert!(
            p.holds_back(true, 50),
            "CLIENT UNPAUSE leaves the failover's hold"
        );
        p.end_failover_hold();
        assert!(!p.holds_back(true, 50));
    }
}
