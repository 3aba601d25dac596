//! `ACL LOG`: recent permission denials and failed logins, newest first, as Redis 7 keeps
//! them. A denial equal to a recent one (same reason, context, object and user within a
//! minute) counts on that entry instead of adding another, so a client retrying in a loop
//! cannot flush the log. A leaf module (time is passed in).

use parking_lot::Mutex;

/// Redis groups a repeat into an entry at most this old.
const GROUPING_MS: u64 = 60_000;
/// Only this many recent entries are searched for a group, as in Redis.
const GROUPING_SEARCH: usize = 10;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    Command,
    Key,
    Channel,
    Auth,
}

impl Reason {
    pub fn name(self) -> &'static str {
        match self {
            Reason::Command => "command",
            Reason::Key => "key",
            Reason::Channel => "channel",
            Reason::Auth => "auth",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Entry {
    pub count: u64,
    pub reason: Reason,
    /// `toplevel`, `multi` or `lua`.
    pub context: &'static str,
    /// The command, key or channel denied (`auth` for a failed login).
    pub object: String,
    pub username: String,
    /// Unix ms of the latest occurrence.
    pub updated_ms: u64,
    /// The client's `CLIENT LIST` line at the latest occurrence.
    pub client_info: String,
}

#[derive(Default)]
pub struct AclLog {
    entries: Mutex<Vec<Entry>>,
}

impl AclLog {
    /// Records `entry` (its count is ignored), keeping at most `max_len` entries.
    pub fn add(&self, entry: Entry, max_len: usize) {
        let mut entries = self.entries.lock();
        let same = entries.iter().take(GROUPING_SEARCH).position(|e| {
            e.reason == entry.reason
                && e.context == entry.context
                && e.object == entry.object
                && e.username == entry.username
                && entry.updated_ms.saturating_sub(e.updated_ms) <= GROUPING_MS
        });
        let merged = match same {
            Some(at) => {
                let old = entries.remove(at);
                Entry {
                    count: old.count + 1,
                    ..entry
                }
            }
            None => Entry { count: 1, ..entry },
        };
        entries.insert(0, merged);
        entries.truncate(max_len);
    }

    /// The newest `count` entries (all when `None`).
    pub fn recent(&self, count: Option<usize>) -> Vec<Entry> {
        let entries = self.entries.lock();
        entries
            .iter()
            .take(count.unwrap_or(usize::MAX))
            .cloned()
            .collect()
    }

    pub fn reset(&self) {
        self.entries.lock().clear();
    }

    pub fn trim(&self, max_len: usize) {
        self.entries.lock().truncate(max_len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(object: &str, at: u64) -> Entry {
        Entry {
            count: 0,
            reason: Reason::Command,
            context: "toplevel",
            object: object.into(),
            username: "u".into(),
            updated_ms: at,
            client_info: String::new(),
        }
    }

    #[test]
    fn repeats_group_within_a_minute() {
        let log = AclLog::default();
        log.add(entry("get", 0), 128);
        log.add(entry("set", 10), 128);
        log.add(entry("get", 20), 128);
        let all = log.recent(None);
        assert_eq!(all.len(), 2);
        assert_eq!((all[0].object.as_str(), all[0].count), ("get", 2));
        log.add(entry("get", 20 + GROUPING_MS + 1), 128);
        assert_eq!(log.recent(None).len(), 3);
        log.add(entry("x", 0), 2);
        assert_eq!(log.recent(None).len(), 2);
        assert_eq!(log.recent(Some(1)).len(), 1);
        log.reset();
        assert!(log.recent(None).is_empty());
    }
}
