//! The latency monitor (`LATENCY LATEST/HISTORY/RESET/GRAPH/DOCTOR`): for each event class,
//! the last [`HISTORY_LEN`] samples at or above `latency-monitor-threshold` milliseconds
//! (one per second, the worst of that second, as Redis keeps them) and the all-time worst.
//! Event classes are Redis's where Strata has the same thing (`command`, `fast-command`,
//! `expire-cycle`) and Strata's own for what can be slow only here (`wal-fsync`,
//! `checkpoint`, `runtime-stall`). Per-command histograms for `LATENCY HISTOGRAM` and
//! `INFO latencystats` live in [`histogram`]. The gate and the maintenance threads record;
//! depends on nothing but `parking_lot`.

pub mod histogram;

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

/// Samples kept per event, as Redis's `LATENCY_TS_LEN`.
pub const HISTORY_LEN: usize = 160;

pub const COMMAND: &str = "command";
pub const FAST_COMMAND: &str = "fast-command";
pub const EXPIRE_CYCLE: &str = "expire-cycle";
pub const WAL_FSYNC: &str = "wal-fsync";
pub const CHECKPOINT: &str = "checkpoint";
/// How late a task started on the runtime (see `server::runtime_watchdog`).
pub const RUNTIME_STALL: &str = "runtime-stall";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    pub unix_secs: u64,
    pub ms: u64,
}

#[derive(Default)]
struct Series {
    samples: VecDeque<Sample>,
    max: u64,
}

#[derive(Default)]
pub struct LatencyMonitor {
    events: Mutex<BTreeMap<&'static str, Series>>,
    /// `latency-monitor-threshold` in ms; 0 disables the monitor.
    pub threshold_ms: AtomicU64,
}

impl LatencyMonitor {
    /// Whether `ms` is worth recording (cheap: one atomic load).
    pub fn wants(&self, ms: u64) -> bool {
        let threshold = self.threshold_ms.load(Ordering::Relaxed);
        threshold > 0 && ms >= threshold
    }

    /// Records a sample of `event` taken at `unix_secs` if it reaches the threshold.
    pub fn record(&self, event: &'static str, ms: u64, unix_secs: u64) {
        if !self.wants(ms) {
            return;
        }
        let mut events = self.events.lock();
        let series = events.entry(event).or_default();
        series.max = series.max.max(ms);
        match series.samples.back_mut() {
            Some(last) if last.unix_secs == unix_secs => last.ms = last.ms.max(ms),
            _ => {
                series.samples.push_back(Sample { unix_secs, ms });
                if series.samples.len() > HISTORY_LEN {
                    series.samples.pop_front();
                }
            }
        }
    }

    /// `LATENCY LATEST`: (event, time of the latest sample, its latency, all-time max).
    pub fn latest(&self) -> Vec<(&'static str, Sample, u64)> {
        self.events
            .lock()
            .iter()
            .filter_map(|(name, s)| s.samples.back().map(|last| (*name, *last, s.max)))
            .collect()
    }

    /// `LATENCY HISTORY event`, oldest first.
    pub fn history(&self, event: &str) -> Vec<Sample> {
        self.events
            .lock()
            .get(event)
            .map(|s| s.samples.iter().copied().collect())
            .unwrap_or_default()
    }

    /// `LATENCY RESET [event ...]`: how many event series were dropped.
    pub fn reset(&self, events: &[String]) -> usize {
        let mut map = self.events.lock();
        if events.is_empty() {
            let n = map.len();
            map.clear();
            return n;
        }
        let before = map.len();
        map.retain(|name, _| !events.iter().any(|e| e.eq_ignore_ascii_case(name)));
        before - map.len()
    }

    /// `LATENCY GRAPH event`: a header as Redis's, then one column per sample scaled to
    /// the series' range, with the age of each sample below it. `None` without samples.
    pub fn graph(&self, event: &str) -> Option<String> {
        let (samples, max) = {
            let map = self.events.lock();
            let series = map.get(event)?;
            (
                series.samples.iter().copied().collect::<Vec<_>>(),
                series.max,
            )
        };
        let high = samples.iter().map(|s| s.ms).max()?;
        let low = samples.iter().map(|s| s.ms).min()?;
        let mut out = format!(
            "{event} - high {high} ms, low {low} ms (all time high {max} ms)\n{}\n",
            "-".repeat(80)
        );
        const ROWS: u64 = 4;
        // Only the newest 80 samples fit on a line.
        let shown = &samples[samples.len().saturating_sub(80)..];
        let height = |ms: u64| {
            if high == low {
                ROWS
            } else {
                1 + (ms - low) * (ROWS - 1) / (high - low)
            }
        };
        for row in (1..=ROWS).rev() {
            let line: String = shown
                .iter()
                .map(|s| match height(s.ms) {
                    h if h == row => '#',
                    h if h > row => '|',
                    _ => ' ',
                })
                .collect();
            out.push_str(line.trim_end());
            out.push('\n');
        }
        let now = shown.last().map_or(0, |s| s.unix_secs);
        let ages: String = shown
            .iter()
            .map(|s| age_letter(now.saturating_sub(s.unix_secs)))
            .collect();
        out.push_str(&ages);
        out.push('\n');
        Some(out)
    }

    /// `LATENCY DOCTOR`: a short report in plain words.
    pub fn doctor(&self, slowlog_threshold_us: i64) -> String {
        let threshold = self.threshold_ms.load(Ordering::Relaxed);
        if threshold == 0 {
            return "Latency monitoring is disabled. Enable it with \
                    \"CONFIG SET latency-monitor-threshold <milliseconds>\" to record \
                    commands, WAL fsyncs, checkpoints, expire cycles and scheduling delays \
                    that take at least that long.\n"
                .into();
        }
        let map = self.events.lock();
        if map.is_empty() {
            return format!(
                "No latency spike of {threshold} ms or more was observed since the server \
                 started (or since LATENCY RESET).\n"
            );
        }
        let mut out = format!("Latency spikes of at least {threshold} ms were observed:\n\n");
        for (i, (name, series)) in map.iter().enumerate() {
            let n = series.samples.len() as u64;
            let avg = series.samples.iter().map(|s| s.ms).sum::<u64>() / n.max(1);
            let _ = writeln!(
                out,
                "{}. {name}: {n} latency spikes (average {avg}ms). Worst all time event {}ms.",
                i + 1,
                series.max
            );
        }
        out.push_str("\nAdvice:\n");
        if map.contains_key(COMMAND) || map.contains_key(FAST_COMMAND) {
            out.push_str(
                "- Check SLOWLOG GET for the commands that were slow; large collections read \
                 or deleted at once are the usual cause.\n",
            );
            let threshold_us = threshold.saturating_mul(1000);
            if slowlog_threshold_us < 0 || slowlog_threshold_us as u64 > threshold_us {
                let _ = writeln!(
                    out,
                    "- The slow log only keeps commands slower than the latency threshold \
                     or not at all: CONFIG SET slowlog-log-slower-than {}.",
                    threshold_us
                );
            }
        }
        if map.contains_key(WAL_FSYNC) {
            out.push_str(
                "- WAL fsyncs were slow: the disk is busy or slow. appendfsync everysec keeps \
                 them off the reply path.\n",
            );
        }
        if map.contains_key(CHECKPOINT) {
            out.push_str(
                "- Checkpoints were slow: they flush the memtables first; fewer save rules or \
                 a faster disk help.\n",
            );
        }
        if map.contains_key(EXPIRE_CYCLE) {
            out.push_str("- Active expiry cycles were slow: many keys expire at the same time.\n");
        }
        if map.contains_key(RUNTIME_STALL) {
            out.push_str(
                "- Commands waited to be scheduled: every worker thread was busy, usually with \
                 commands over large values or many keys (see SLOWLOG GET).\n",
            );
        }
        out
    }
}

/// One letter for a sample's age under the graph: s(econds) m(inutes) h(ours) d(ays).
fn age_letter(secs: u64) -> char {
    match secs {
        0..=59 => 's',
        60..=3599 => 'm',
        3600..=86399 => 'h',
        _ => 'd',
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_worst_sample_per_second_and_the_all_time_max() {
        let m = LatencyMonitor::default();
        m.record(COMMAND, 500, 10);
        assert!(m.latest().is_empty(), "disabled at threshold 0");
        m.threshold_ms.store(100, Ordering::Relaxed);
        m.record(COMMAND, 50, 10);
        m.record(COMMAND, 120, 10);
        m.record(COMMAND, 300, 10);
        m.record(COMMAND, 150, 11);
        assert_eq!(
            m.history(COMMAND),
            vec![
                Sample {
                    unix_secs: 10,
                    ms: 300
                },
                Sample {
                    unix_secs: 11,
                    ms: 150
                }
            ]
        );
        let latest = m.latest();
        assert_eq!(latest.len(), 1);
        assert_eq!((latest[0].1.ms, latest[0].2), (150, 300));
        for t in 0..200 {
            m.record(CHECKPOINT, 100, 100 + t);
        }
        assert_eq!(m.history(CHECKPOINT).len(), HISTORY_LEN);
        let graph = m.graph(COMMAND).unwrap();
        assert!(graph.starts_with("command - high 300 ms, low 150 ms (all time high 300 ms)\n"));
        assert_eq!(m.reset(&["command".into()]), 1);
        assert_eq!(m.reset(&[]), 1);
        assert!(m.graph(COMMAND).is_none());
    }
}
