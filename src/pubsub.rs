//! The pub/sub hub: channel and pattern subscriptions and message fan-out.
//!
//! Each subscribed connection owns a bounded queue; `PUBLISH` never blocks on a slow
//! subscriber. The bytes a client has queued and not yet written are counted
//! (`ClientInfo::output_bytes`) against `client-output-buffer-limit` — the `pubsub` class
//! for subscribed clients, `normal` for the rest (MONITOR, invalidations) — and a client
//! past its hard limit, or past its soft limit for longer than the limit's seconds, is
//! disconnected and gets nothing more, as in Redis: one slow reader cannot exhaust memory.
//! The queue's length bound (`QUEUE_LIMIT`) stays as a last guard.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::RwLock;
use tokio::sync::mpsc;

use crate::client::ClientInfo;
use crate::glob::glob_match;

/// Messages a subscriber may have queued before it is considered too slow.
pub const QUEUE_LIMIT: usize = 32 * 1024;

/// A message on its way to one subscriber.
#[derive(Debug, Clone)]
pub enum PubMessage {
    /// A MONITOR line (see `monitor`), sent as a status reply.
    Monitor(Bytes),
    /// A client-side caching invalidation (see `tracking`); `None`: everything.
    Invalidate {
        keys: Option<Vec<Bytes>>,
    },
    /// The tracking redirect target went away (RESP3 only).
    TrackingRedirBroken(u64),
    Message {
        channel: Bytes,
        payload: Bytes,
    },
    PMessage {
        pattern: Bytes,
        channel: Bytes,
        payload: Bytes,
    },
    /// A shard-channel message (SPUBLISH).
    SMessage {
        channel: Bytes,
        payload: Bytes,
    },
}

/// One subscriber's delivery end.
#[derive(Clone)]
pub struct Subscriber {
    pub client: Arc<ClientInfo>,
    pub queue: mpsc::Sender<PubMessage>,
}

/// One class's `client-output-buffer-limit` (0 = no limit).
#[derive(Default)]
pub struct ClassLimit {
    pub hard: AtomicUsize,
    pub soft: AtomicUsize,
    pub soft_seconds: AtomicU64,
}

/// The `normal` and `pubsub` classes (`replica` links are bounded by their own stream),
/// and `maxmemory-clients` over all clients' pending bytes.
#[derive(Default)]
pub struct OutputLimits {
    pub normal: ClassLimit,
    pub pubsub: ClassLimit,
    /// `maxmemory-clients` in bytes (0 = no limit).
    pub max_total: AtomicUsize,
    /// Pending pushed bytes of every client together.
    total: AtomicUsize,
}

impl ClassLimit {
    const fn unlimited() -> ClassLimit {
        ClassLimit {
            hard: AtomicUsize::new(0),
            soft: AtomicUsize::new(0),
            soft_seconds: AtomicU64::new(0),
        }
    }
}

/// Limits that never refuse: the queue's length bound alone applies (invalidations, whose
/// senders do not see the configuration; their bytes are still counted).
pub static UNLIMITED: OutputLimits = OutputLimits {
    normal: ClassLimit::unlimited(),
    pubsub: ClassLimit::unlimited(),
    max_total: AtomicUsize::new(0),
    total: AtomicUsize::new(0),
};

impl OutputLimits {
    /// Pending bytes written out or dropped (see [`push`]).
    pub fn release(&self, bytes: usize) {
        if bytes > 0 {
            let _ = self
                .total
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |t| {
                    Some(t.saturating_sub(bytes))
                });
        }
    }

    /// Reads the directive's canonical text (`normal h s secs slave h s secs pubsub ...`).
    pub fn set_from(&self, text: &str) {
        let words: Vec<&str> = text.split_whitespace().collect();
        for group in words.chunks_exact(4) {
            let class = match group[0] {
                "normal" => &self.normal,
                "pubsub" => &self.pubsub,
                _ => continue,
            };
            let num = |w: &str| w.parse::<u64>().unwrap_or(0);
            class.hard.store(num(group[1]) as usize, Ordering::Relaxed);
            class.soft.store(num(group[2]) as usize, Ordering::Relaxed);
            class.soft_seconds.store(num(group[3]), Ordering::Relaxed);
        }
    }
}

/// Whether a client with `total` bytes pending is over its class's limits now (and
/// records when it first went over the soft one, or clears that when it is under).
pub fn over_limit(limit: &ClassLimit, client: &ClientInfo, total: usize, now_ms: u64) -> bool {
    let hard = limit.hard.load(Ordering::Relaxed);
    if hard > 0 && total > hard {
        return true;
    }
    let soft = limit.soft.load(Ordering::Relaxed);
    if soft == 0 || total <= soft {
        client.soft_limit_since_ms.store(0, Ordering::Relaxed);
        return false;
    }
    let since = client.soft_limit_since_ms.load(Ordering::Relaxed);
    if since == 0 {
        client.soft_limit_since_ms.store(now_ms, Ordering::Relaxed);
        return false;
    }
    now_ms.saturating_sub(since)
        > limit
            .soft_seconds
            .load(Ordering::Relaxed)
            .saturating_mul(1000)
}

impl PubMessage {
    /// About what the message takes in the output buffer.
    pub fn size(&self) -> usize {
        const FRAME: usize = 48;
        FRAME
            + match self {
                PubMessage::Monitor(line) => line.len(),
                PubMessage::Invalidate { keys } => keys
                    .as_ref()
                    .map_or(0, |k| k.iter().map(|k| k.len() + 16).sum()),
                PubMessage::TrackingRedirBroken(_) => 0,
                PubMessage::Message { channel, payload }
                | PubMessage::SMessage { channel, payload } => channel.len() + payload.len(),
                PubMessage::PMessage {
                    pattern,
                    channel,
                    payload,
                } => pattern.len() + channel.len() + payload.len(),
            }
    }
}

/// Queues `msg` for `client` unless that puts it over its output buffer limit; then the
/// client is disconnected instead. Every pushed message goes through here: pub/sub,
/// MONITOR lines and invalidations.
pub fn push(
    limits: &OutputLimits,
    client: &ClientInfo,
    queue: &mpsc::Sender<PubMessage>,
    msg: PubMessage,
) -> bool {
    if client.is_killed() {
        return false;
    }
    let size = msg.size();
    let total = client.output_bytes.fetch_add(size, Ordering::Relaxed) + size;
    let subscribed = client
        .subscriptions
        .iter()
        .any(|n| n.load(Ordering::Relaxed) > 0);
    let class = if subscribed {
        &limits.pubsub
    } else {
        &limits.normal
    };
    let all_clients = limits.total.fetch_add(size, Ordering::Relaxed) + size;
    let max_total = limits.max_total.load(Ordering::Relaxed);
    // maxmemory-clients: the client whose queue takes every client's pending bytes over the
    // bound is closed, unless it asked not to be (`CLIENT NO-EVICT on`). Redis evicts the
    // largest clients first; the one still growing is in practice the same stalled reader.
    let refused =
        if max_total > 0 && all_clients > max_total && !client.no_evict.load(Ordering::Relaxed) {
            Some("over maxmemory-clients")
        } else if over_limit(class, client, total, crate::storage::now_ms()) {
            Some("over its output buffer limit")
        } else {
            match queue.try_send(msg) {
                Ok(()) => return true,
                Err(mpsc::error::TrySendError::Full(_)) => Some("its message queue is full"),
                Err(mpsc::error::TrySendError::Closed(_)) => None,
            }
        };
    client.output_bytes.fetch_sub(size, Ordering::Relaxed);
    limits.release(size);
    if let Some(why) = refused {
        tracing::warn!(
            client = client.id,
            "closing a client {why} ({total} bytes pending)"
        );
        client.kill();
    }
    false
}

/// Subscribers by channel (or pattern), then by client id.
type Subscriptions = RwLock<HashMap<Bytes, HashMap<u64, Subscriber>>>;

#[derive(Default)]
pub struct PubSubHub {
    channels: Subscriptions,
    patterns: Subscriptions,
    /// Shard channels (SSUBSCRIBE/SPUBLISH); standalone Strata is a single shard.
    shard_channels: Subscriptions,
    /// `client-output-buffer-limit`, applied to every pushed message.
    pub limits: OutputLimits,
}

fn add(map: &Subscriptions, name: &Bytes, sub: &Subscriber) {
    map.write()
        .entry(name.clone())
        .or_default()
        .insert(sub.client.id, sub.clone());
}

fn remove(map: &Subscriptions, name: &[u8], id: u64) {
    let mut map = map.write();
    if let Some(subs) = map.get_mut(name) {
        subs.remove(&id);
        if subs.is_empty() {
            map.remove(name);
        }
    }
}

impl PubSubHub {
    /// Every subscription: the client, the channel or pattern, and whether it is a pattern
    /// (for closing subscribers whose channel permissions were revoked).
    pub fn all_subscriptions(&self) -> Vec<(Arc<ClientInfo>, Bytes, bool)> {
        let mut out = Vec::new();
        for (map, is_pattern) in [
            (&self.channels, false),
            (&self.shard_channels, false),
            (&self.patterns, true),
        ] {
            for (name, subs) in map.read().iter() {
                out.extend(
                    subs.values()
                        .map(|s| (s.client.clone(), name.clone(), is_pattern)),
                );
            }
        }
        out
    }

    pub fn subscribe(&self, channel: &Bytes, sub: &Subscriber) {
        add(&self.channels, channel, sub);
    }

    pub fn unsubscribe(&self, channel: &[u8], id: u64) {
        remove(&self.channels, channel, id);
    }

    pub fn psubscribe(&self, pattern: &Bytes, sub: &Subscriber) {
        add(&self.patterns, pattern, sub);
    }

    pub fn punsubscribe(&self, pattern: &[u8], id: u64) {
        remove(&self.patterns, pattern, id);
    }

    pub fn ssubscribe(&self, channel: &Bytes, sub: &Subscriber) {
        add(&self.shard_channels, channel, sub);
    }

    pub fn sunsubscribe(&self, channel: &[u8], id: u64) {
        remove(&self.shard_channels, channel, id);
    }

    /// `SPUBLISH`: delivers to the shard channel's subscribers only (no patterns).
    pub fn spublish(&self, channel: &Bytes, payload: &Bytes) -> i64 {
        deliver_to(&self.limits, &self.shard_channels, channel, || {
            PubMessage::SMessage {
                channel: channel.clone(),
                payload: payload.clone(),
            }
        })
    }

    pub fn shard_channels(&self, pattern: Option<&[u8]>) -> Vec<Bytes> {
        active_names(&self.shard_channels, pattern)
    }

    pub fn shard_numsub(&self, channel: &[u8]) -> usize {
        count_subscribers(&self.shard_channels, channel)
    }

    /// Delivers `payload` to the channel's and matching patterns' subscribers; returns how
    /// many received it.
    pub fn publish(&self, channel: &Bytes, payload: &Bytes) -> i64 {
        let mut delivered = deliver_to(&self.limits, &self.channels, channel, || {
            PubMessage::Message {
                channel: channel.clone(),
                payload: payload.clone(),
            }
        });
        for (pattern, subs) in self.patterns.read().iter() {
            if glob_match(pattern, channel) {
                for s in subs.values() {
                    let msg = PubMessage::PMessage {
                        pattern: pattern.clone(),
                        channel: channel.clone(),
                        payload: payload.clone(),
                    };
                    delivered += i64::from(push(&self.limits, &s.client, &s.queue, msg));
                }
            }
        }
        delivered
    }

    /// Active channels (with at least one subscriber) matching `pattern`.
    pub fn channels(&self, pattern: Option<&[u8]>) -> Vec<Bytes> {
        active_names(&self.channels, pattern)
    }

    pub fn numsub(&self, channel: &[u8]) -> usize {
        count_subscribers(&self.channels, channel)
    }

    /// Number of distinct patterns subscribed by anyone.
    pub fn numpat(&self) -> usize {
        self.patterns.read().len()
    }
}

/// Sends `make()` to every subscriber of `name` in `map`; returns how many received it.
fn deliver_to(
    limits: &OutputLimits,
    map: &Subscriptions,
    name: &Bytes,
    make: impl Fn() -> PubMessage,
) -> i64 {
    map.read().get(name).map_or(0, |subs| {
        subs.values()
            .map(|s| i64::from(push(limits, &s.client, &s.queue, make())))
            .sum()
    })
}

/// Names in `map` with subscribers, matching `pattern`, sorted.
fn active_names(map: &Subscriptions, pattern: Option<&[u8]>) -> Vec<Bytes> {
    let mut out: Vec<Bytes> = map
        .read()
        .keys()
        .filter(|c| pattern.is_none_or(|p| glob_match(p, c)))
        .cloned()
        .collect();
    out.sort();
    out
}

fn count_subscribers(map: &Subscriptions, name: &[u8]) -> usize {
    map.read().get(name).map_or(0, HashMap::len)
}
