//! A lock-free latency histogram per command (`LATENCY HISTOGRAM`, `INFO latencystats`).
//! Log-linear buckets over microseconds: exact below 16 µs, then 8 sub-buckets per power of
//! two (relative error under 12.5%), 504 atomic counters in all, so recording from every
//! worker at once is one `fetch_add` and needs no lock. Redis uses an HdrHistogram with two
//! significant digits; percentiles here are within the same order, and every value the
//! tools read (counts, power-of-two buckets) is exact. Depends on nothing.

use std::sync::atomic::{AtomicU64, Ordering};

const LINEAR: u64 = 16;
const SUB_BITS: u32 = 3;
const SUBS: usize = 1 << SUB_BITS;
const BUCKETS: usize = LINEAR as usize + (64 - 4) * SUBS;

pub struct Histogram {
    counts: Box<[AtomicU64]>,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

fn bucket_of(micros: u64) -> usize {
    if micros < LINEAR {
        return micros as usize;
    }
    let exp = 63 - micros.leading_zeros();
    let sub = ((micros >> (exp - SUB_BITS)) as usize) & (SUBS - 1);
    LINEAR as usize + (exp as usize - 4) * SUBS + sub
}

/// The lowest value bucket `i` holds.
fn low_of(i: usize) -> u64 {
    if i < LINEAR as usize {
        return i as u64;
    }
    let exp = (i - LINEAR as usize) / SUBS + 4;
    let sub = ((i - LINEAR as usize) % SUBS) as u64;
    (1u64 << exp) + (sub << (exp as u32 - SUB_BITS))
}

/// The highest value bucket `i` holds.
fn high_of(i: usize) -> u64 {
    if i + 1 >= BUCKETS {
        u64::MAX
    } else {
        low_of(i + 1) - 1
    }
}

impl Histogram {
    pub fn record(&self, micros: u64) {
        self.counts[bucket_of(micros)].fetch_add(1, Ordering::Relaxed);
    }

    fn snapshot(&self) -> Vec<u64> {
        self.counts
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect()
    }

    pub fn count(&self) -> u64 {
        self.snapshot().iter().sum()
    }

    pub fn reset(&self) {
        for c in self.counts.iter() {
            c.store(0, Ordering::Relaxed);
        }
    }

    /// The value at or below which `percentile` % of the samples fall (the top of the bucket
    /// that crosses it; 0 with no samples).
    pub fn percentile(&self, percentile: f64) -> u64 {
        let counts = self.snapshot();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return 0;
        }
        let wanted = ((percentile / 100.0) * total as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, n) in counts.iter().enumerate() {
            seen += n;
            if seen >= wanted {
                return high_of(i);
            }
        }
        high_of(BUCKETS - 1)
    }

    /// `LATENCY HISTOGRAM`'s cumulative distribution: (bucket bound in µs, samples below
    /// it) for each power of two from 1 µs whose bucket received samples, as Redis lists
    /// only the steps where the count grew.
    pub fn power_of_two_cumulative(&self) -> Vec<(u64, u64)> {
        let counts = self.snapshot();
        let mut out = Vec::new();
        let mut cumulative = 0;
        let mut i = 0;
        for exp in 0..64u32 {
            let bound = 1u64 << exp;
            let before = cumulative;
            // Every bucket lies wholly below or above a power of two.
            while i < BUCKETS && high_of(i) < bound {
                cumulative += counts[i];
                i += 1;
            }
            if cumulative > before {
                out.push((bound, cumulative));
            }
            if i >= BUCKETS {
                break;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_every_value_in_order() {
        let mut last = 0;
        for v in (0..5000u64).chain([1 << 40, u64::MAX]) {
            let b = bucket_of(v);
            assert!(b >= last && b < BUCKETS, "{v}");
            assert!(low_of(b) <= v && v <= high_of(b), "{v} in bucket {b}");
            last = b;
        }
    }

    #[test]
    fn percentiles_and_cumulative_powers_of_two() {
        let h = Histogram::default();
        for v in 1..=100u64 {
            h.record(v);
        }
        assert_eq!(h.count(), 100);
        let p50 = h.percentile(50.0);
        assert!((50..=56).contains(&p50), "{p50}");
        assert!(h.percentile(100.0) >= 100);
        let steps = h.power_of_two_cumulative();
        assert_eq!(steps.first(), Some(&(2, 1)), "{steps:?}");
        assert_eq!(steps.last().map(|s| s.1), Some(100));
        assert!(steps.contains(&(64, 63)), "{steps:?}");
        h.reset();
        assert_eq!(h.count(), 0);
        assert!(h.power_of_two_cumulative().is_empty());
    }
}
