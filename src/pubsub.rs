//! The pub/sub hub: channel and pattern subscriptions and message fan-out.
//!
//! Each subscribed connection owns a bounded queue; `PUBLISH` never blocks on a slow
//! subscriber: when its queue is full the subscriber is disconnected, as Redis does with
//! `client-output-buffer-limit pubsub`, so one slow reader cannot exhaust memory.

use std::collections::HashMap;
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

impl Subscriber {
    fn deliver(&self, msg: PubMessage) -> bool {
        match self.queue.try_send(msg) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::warn!(
                    client = self.client.id,
                    "closing pub/sub client over its output buffer limit"
                );
                self.client.kill();
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }
}

/// Subscribers by channel (or pattern), then by client id.
type Subscriptions = RwLock<HashMap<Bytes, HashMap<u64, Subscriber>>>;

#[derive(Default)]
pub struct PubSubHub {
    channels: Subscriptions,
    patterns: Subscriptions,
    /// Shard channels (SSUBSCRIBE/SPUBLISH); standalone Strata is a single shard.
    shard_channels: Subscriptions,
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
        deliver_to(&self.shard_channels, channel, || PubMessage::SMessage {
            channel: channel.clone(),
            payload: payload.clone(),
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
        let mut delivered = deliver_to(&self.channels, channel, || PubMessage::Message {
            channel: channel.clone(),
            payload: payload.clone(),
        });
        for (pattern, subs) in self.patterns.read().iter() {
            if glob_match(pattern, channel) {
                for s in subs.values() {
                    let msg = PubMessage::PMessage {
                        pattern: pattern.clone(),
                        channel: channel.clone(),
                        payload: payload.clone(),
                    };
                    delivered += i64::from(s.deliver(msg));
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
fn deliver_to(map: &Subscriptions, name: &Bytes, make: impl Fn() -> PubMessage) -> i64 {
    map.read().get(name).map_or(0, |subs| {
        subs.values().map(|s| i64::from(s.deliver(make()))).sum()
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
