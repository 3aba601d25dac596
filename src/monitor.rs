//! MONITOR: every command the server runs, as one line per command to each monitoring
//! client, in Redis's format (`+<unix secs>.<µs> [<db> <addr>|lua] "arg" ...`). The gate
//! asks [`Monitors::active`] — one atomic load — before it formats anything, so a server
//! with no monitor pays nothing else. Secrets are redacted as in the slow log. Lines go
//! through the client's message queue (the one pub/sub uses); a monitor too slow to drain
//! it is disconnected rather than let the queue grow. Depends on `client`, `pubsub` (the
//! queue's message type) and `slowlog` (redaction).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::mpsc::Sender;

use crate::client::ClientInfo;
use crate::pubsub::PubMessage;

#[derive(Default)]
pub struct Monitors {
    subscribers: Mutex<Vec<(Arc<ClientInfo>, Sender<PubMessage>)>>,
    count: AtomicUsize,
}

impl Monitors {
    pub fn active(&self) -> bool {
        self.count.load(Ordering::Relaxed) > 0
    }

    pub fn add(&self, client: Arc<ClientInfo>, queue: Sender<PubMessage>) {
        let mut subs = self.subscribers.lock();
        if !subs.iter().any(|(c, _)| c.id == client.id) {
            subs.push((client, queue));
        }
        self.count.store(subs.len(), Ordering::Relaxed);
    }

    pub fn remove(&self, client_id: u64) {
        let mut subs = self.subscribers.lock();
        subs.retain(|(c, _)| c.id != client_id);
        self.count.store(subs.len(), Ordering::Relaxed);
    }

    /// Sends one line to every monitor. A monitor whose queue is full is disconnected (as
    /// Redis closes a client past its output buffer limit) rather than silently skipped.
    pub fn feed(&self, limits: &crate::pubsub::OutputLimits, line: Bytes) {
        let mut subs = self.subscribers.lock();
        subs.retain(|(client, queue)| {
            crate::pubsub::push(limits, client, queue, PubMessage::Monitor(line.clone()))
        });
        self.count.store(subs.len(), Ordering::Relaxed);
    }
}

/// One MONITOR line (without the leading `+` and the line end, which the encoder adds).
pub fn line(unix_micros: u64, db: usize, origin: &str, full_name: &str, args: &[Bytes]) -> Bytes {
    let secret = crate::slowlog::secret_positions(full_name, args);
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(
        format!(
            "{}.{:06} [{db} {origin}]",
            unix_micros / 1_000_000,
            unix_micros % 1_000_000
        )
        .as_bytes(),
    );
    for (i, arg) in args.iter().enumerate() {
        out.push(b' ');
        if secret.contains(&i) {
            quote_into(crate::slowlog::REDACTED.as_bytes(), &mut out);
        } else {
            quote_into(arg, &mut out);
        }
    }
    Bytes::from(out)
}

/// Redis's `sdscatrepr`: a double-quoted string with C escapes and `\xHH` for the rest.
fn quote_into(arg: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &b in arg {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'"' => out.extend_from_slice(b"\\\""),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x07 => out.extend_from_slice(b"\\a"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x20..=0x7e => out.push(b),
            _ => out.extend_from_slice(format!("\\x{b:02x}").as_bytes()),
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_redis() {
        let args: Vec<Bytes> = ["set", "k", "a b\"c\nd\u{1}"]
            .iter()
            .map(|s| Bytes::from(s.to_string()))
            .collect();
        let l = line(1_796_173_569_131_526, 0, "127.0.0.1:39364", "set", &args);
        assert_eq!(
            &l[..],
            &b"1796173569.131526 [0 127.0.0.1:39364] \"set\" \"k\" \"a b\\\"c\\nd\\x01\""[..]
        );
        let auth: Vec<Bytes> = ["auth", "u", "p"].iter().map(|s| Bytes::from(*s)).collect();
        let l = line(5, 3, "lua", "auth", &auth);
        assert_eq!(
            &l[..],
            &b"0.000005 [3 lua] \"auth\" \"(redacted)\" \"(redacted)\""[..]
        );
    }
}
