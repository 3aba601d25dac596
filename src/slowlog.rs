//! The slow log (`SLOWLOG GET/LEN/RESET`): commands that ran for at least
//! `slowlog-log-slower-than` microseconds, newest first, at most `slowlog-max-len` of them.
//! Entries have Redis's shape and truncation (32 arguments, 128 bytes per argument) and
//! redact secrets the way Redis does (`AUTH`'s password shows as `(redacted)`), so nothing a
//! client may not see ends up in an entry. The dispatch gate records; depends on nothing but
//! `bytes` and `parking_lot`.

use std::collections::VecDeque;

use bytes::Bytes;
use parking_lot::Mutex;

/// Arguments kept per entry; the last slot says how many more there were.
const MAX_ARGS: usize = 32;
/// Bytes kept per argument; the rest is summarised.
const MAX_ARG_BYTES: usize = 128;

/// The text that replaces a secret argument.
pub const REDACTED: &str = "(redacted)";

#[derive(Debug, Clone)]
pub struct SlowEntry {
    pub id: u64,
    pub unix_secs: u64,
    pub micros: u64,
    pub args: Vec<Bytes>,
    pub addr: String,
    pub name: String,
}

#[derive(Default)]
pub struct SlowLog {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Newest at the front.
    entries: VecDeque<SlowEntry>,
    next_id: u64,
}

/// What the gate knows about a finished command.
pub struct Finished<'a> {
    pub full_name: &'a str,
    pub args: &'a [Bytes],
    pub micros: u64,
    pub addr: String,
    pub name: String,
}

impl SlowLog {
    /// Records `done` if `threshold_us` (the directive; negative disables) is reached.
    pub fn record(&self, threshold_us: i64, max_len: usize, unix_secs: u64, done: Finished<'_>) {
        if threshold_us < 0 || done.micros < threshold_us as u64 {
            return;
        }
        let args = shown_args(done.full_name, done.args);
        let mut inner = self.inner.lock();
        let id = inner.next_id;
        inner.next_id += 1;
        inner.entries.push_front(SlowEntry {
            id,
            unix_secs,
            micros: done.micros,
            args,
            addr: done.addr,
            name: done.name,
        });
        inner.entries.truncate(max_len);
    }

    /// The newest `count` entries (all of them for `None`).
    pub fn newest(&self, count: Option<usize>) -> Vec<SlowEntry> {
        let inner = self.inner.lock();
        let count = count.unwrap_or(inner.entries.len());
        inner.entries.iter().take(count).cloned().collect()
    }

    pub fn len(&self) -> usize {
        self.inner.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn reset(&self) {
        self.inner.lock().entries.clear();
    }

    /// Applies a lowered `slowlog-max-len` at once, as Redis trims on `CONFIG SET`.
    pub fn trim(&self, max_len: usize) {
        self.inner.lock().entries.truncate(max_len);
    }
}

/// The arguments as an entry shows them: redacted, then truncated.
fn shown_args(full_name: &str, args: &[Bytes]) -> Vec<Bytes> {
    let secret = secret_positions(full_name, args);
    let kept = if args.len() > MAX_ARGS {
        MAX_ARGS - 1
    } else {
        args.len()
    };
    let mut shown: Vec<Bytes> = args[..kept]
        .iter()
        .enumerate()
        .map(|(i, arg)| {
            if secret.contains(&i) {
                Bytes::from_static(REDACTED.as_bytes())
            } else if arg.len() > MAX_ARG_BYTES {
                let mut text = arg[..MAX_ARG_BYTES].to_vec();
                text.extend_from_slice(
                    format!("... ({} more bytes)", arg.len() - MAX_ARG_BYTES).as_bytes(),
                );
                Bytes::from(text)
            } else {
                arg.clone()
            }
        })
        .collect();
    if args.len() > kept {
        shown.push(Bytes::from(format!(
            "... ({} more arguments)",
            args.len() - kept
        )));
    }
    shown
}

/// Directives whose `CONFIG SET` value is a secret.
const SECRET_CONFIGS: &[&str] = &[
    "requirepass",
    "masterauth",
    "tls-key-file-pass",
    "tls-client-key-file-pass",
];

/// Positions of arguments that carry secrets, per Redis's redaction rules (shared with
/// MONITOR once it exists): AUTH's arguments, HELLO's AUTH pair, MIGRATE's AUTH/AUTH2
/// credentials and the value of `CONFIG SET` of a password directive.
pub fn secret_positions(full_name: &str, args: &[Bytes]) -> Vec<usize> {
    let is = |i: usize, word: &str| {
        args.get(i)
            .is_some_and(|a| a.eq_ignore_ascii_case(word.as_bytes()))
    };
    match full_name {
        "auth" => (1..args.len()).collect(),
        // Every rule after the user name: `>password` and `#hash` rules are secrets.
        "acl|setuser" => (3..args.len()).collect(),
        "hello" => (2..args.len())
            .filter(|&i| is(i, "AUTH"))
            .flat_map(|i| [i + 1, i + 2])
            .filter(|&i| i < args.len())
            .collect(),
        "migrate" => {
            let mut out = Vec::new();
            for i in 6..args.len() {
                if is(i, "AUTH") {
                    out.push(i + 1);
                } else if is(i, "AUTH2") {
                    out.extend([i + 1, i + 2]);
                }
            }
            out.retain(|&i| i < args.len());
            out
        }
        "config|set" => (2..args.len())
            .step_by(2)
            .filter(|&i| SECRET_CONFIGS.iter().any(|name| is(i, name)))
            .map(|i| i + 1)
            .filter(|&i| i < args.len())
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<Bytes> {
        words.iter().map(|w| Bytes::from(w.to_string())).collect()
    }

    #[test]
    fn truncates_as_redis() {
        let many: Vec<String> = (0..35).map(|i| i.to_string()).collect();
        let many: Vec<&str> = std::iter::once("del")
            .chain(many.iter().map(|s| s.as_str()))
            .collect();
        let shown = shown_args("del", &args(&many));
        assert_eq!(shown.len(), 32);
        assert_eq!(shown[31], "... (5 more arguments)");
        let long = "a".repeat(200);
        let shown = shown_args("set", &args(&["set", "k", &long]));
        assert_eq!(shown[2], format!("{}... (72 more bytes)", "a".repeat(128)));
    }

    #[test]
    fn redacts_secrets() {
        assert_eq!(
            shown_args("auth", &args(&["auth", "u", "p"]))[1..],
            [REDACTED, REDACTED]
        );
        let hello = shown_args(
            "hello",
            &args(&["hello", "3", "AUTH", "u", "p", "SETNAME", "n"]),
        );
        assert_eq!(
            hello,
            args(&["hello", "3", "AUTH", REDACTED, REDACTED, "SETNAME", "n"])
        );
        let set = shown_args(
            "config|set",
            &args(&["config", "set", "hz", "5", "requirepass", "s"]),
        );
        assert_eq!(set[5], REDACTED);
        assert_eq!(set[3], "5");
        let acl = shown_args(
            "acl|setuser",
            &args(&["acl", "setuser", "u", "on", ">secret"]),
        );
        assert_eq!(acl, args(&["acl", "setuser", "u", REDACTED, REDACTED]));
    }

    #[test]
    fn keeps_newest_first_within_max_len() {
        let log = SlowLog::default();
        for i in 0..5u64 {
            let done = Finished {
                full_name: "get",
                args: &args(&["get", "k"]),
                micros: i,
                addr: "a".into(),
                name: String::new(),
            };
            log.record(0, 3, 0, done);
        }
        let ids: Vec<u64> = log.newest(None).iter().map(|e| e.id).collect();
        assert_eq!(ids, vec![4, 3, 2]);
        let done = Finished {
            full_name: "get",
            args: &args(&["get"]),
            micros: 5,
            addr: String::new(),
            name: String::new(),
        };
        log.record(10, 3, 0, done);
        assert_eq!(log.len(), 3);
        log.reset();
        assert!(log.is_empty());
    }
}
