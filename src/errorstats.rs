//! `INFO errorstats`: how many error replies were sent, per error prefix (`ERR`,
//! `WRONGTYPE`, ...), as Redis counts them. Client-sent text can pick the prefix of some
//! errors (an unknown command's name is not one, but a script's `redis.error_reply` is), so
//! at most [`MAX_PREFIXES`] distinct prefixes are tracked, like Redis's 128: later new ones
//! are only counted in the total. Depends on nothing but `parking_lot`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

pub const MAX_PREFIXES: usize = 128;

#[derive(Default)]
pub struct ErrorStats {
    by_prefix: Mutex<BTreeMap<String, u64>>,
    /// Every error reply (`total_error_replies` in `INFO stats`).
    pub total: AtomicU64,
}

impl ErrorStats {
    /// Counts one error reply whose wire text (without the leading `-`) is `text`.
    pub fn count(&self, text: &[u8]) {
        self.total.fetch_add(1, Ordering::Relaxed);
        let end = text
            .iter()
            .position(|b| *b == b' ' || *b == b'\r')
            .unwrap_or(text.len());
        let prefix = String::from_utf8_lossy(&text[..end.min(64)]);
        let mut map = self.by_prefix.lock();
        if let Some(n) = map.get_mut(prefix.as_ref()) {
            *n += 1;
        } else if map.len() < MAX_PREFIXES {
            map.insert(prefix.into_owned(), 1);
        }
    }

    /// (prefix, count) in name order, as `INFO errorstats` lists them.
    pub fn snapshot(&self) -> Vec<(String, u64)> {
        self.by_prefix
            .lock()
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    }

    pub fn reset(&self) {
        self.by_prefix.lock().clear();
        self.total.store(0, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_first_word_and_caps_prefixes() {
        let stats = ErrorStats::default();
        stats.count(b"ERR syntax error");
        stats.count(b"ERR other");
        stats.count(b"WRONGTYPE Operation against a key");
        assert_eq!(
            stats.snapshot(),
            vec![("ERR".to_string(), 2), ("WRONGTYPE".to_string(), 1)]
        );
        for i in 0..200 {
            stats.count(format!("E{i} x").as_bytes());
        }
        assert_eq!(stats.snapshot().len(), MAX_PREFIXES);
        assert_eq!(stats.total.load(Ordering::Relaxed), 203);
    }
}
