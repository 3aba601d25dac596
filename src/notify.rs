//! Keyspace notifications (`notify-keyspace-events`): writes publish
//! `__keyspace@<db>__:<key>` -> event and `__keyevent@<db>__:<event>` -> key through the
//! pub/sub hub, filtered by Redis's class flags (K E g $ l s h z x e t d n m A). A primary
//! also relays each write's event to its replicas, which filter it by their own flags
//! (`ServerState::notify`, `replication::primary::propagate_event`).

use bytes::Bytes;

use crate::pubsub::PubSubHub;

pub const KEYSPACE: u32 = 1 << 0; // K
pub const KEYEVENT: u32 = 1 << 1; // E
pub const GENERIC: u32 = 1 << 2; // g
pub const STRING: u32 = 1 << 3; // $
pub const LIST: u32 = 1 << 4; // l
pub const SET: u32 = 1 << 5; // s
pub const HASH: u32 = 1 << 6; // h
pub const ZSET: u32 = 1 << 7; // z
pub const EXPIRED: u32 = 1 << 8; // x
pub const EVICTED: u32 = 1 << 9; // e
pub const STREAM: u32 = 1 << 10; // t
pub const MODULE: u32 = 1 << 11; // d
pub const KEY_MISS: u32 = 1 << 12; // m
pub const NEW: u32 = 1 << 13; // n
/// `A`: every class except key-miss and new-key events.
pub const ALL: u32 =
    GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;

/// Parses a flags string; `None` for an unknown flag.
pub fn parse_flags(text: &str) -> Option<u32> {
    let mut flags = 0;
    for c in text.chars() {
        flags |= match c {
            'A' => ALL,
            'g' => GENERIC,
            '$' => STRING,
            'l' => LIST,
            's' => SET,
            'h' => HASH,
            'z' => ZSET,
            'x' => EXPIRED,
            'e' => EVICTED,
            't' => STREAM,
            'd' => MODULE,
            'K' => KEYSPACE,
            'E' => KEYEVENT,
            'm' => KEY_MISS,
            'n' => NEW,
            _ => return None,
        };
    }
    Some(flags)
}

/// Redis's canonical spelling of a flag set (what CONFIG GET returns).
pub fn flags_to_string(flags: u32) -> String {
    let mut out = String::new();
    if flags & ALL == ALL {
        out.push('A');
        // Redis 7.0 drops `n` here (its CONFIG GET shows `AKE` for `KEAn` while it keeps
        // publishing new-key events); Strata keeps it, as the stored value is re-parsed.
        if flags & NEW != 0 {
            out.push('n');
        }
    } else {
        for (bit, c) in [
            (GENERIC, 'g'),
            (STRING, '$'),
            (LIST, 'l'),
            (SET, 's'),
            (HASH, 'h'),
            (ZSET, 'z'),
            (EXPIRED, 'x'),
            (EVICTED, 'e'),
            (STREAM, 't'),
            (MODULE, 'd'),
            (NEW, 'n'),
        ] {
            if flags & bit != 0 {
                out.push(c);
            }
        }
    }
    for (bit, c) in [(KEYSPACE, 'K'), (KEYEVENT, 'E'), (KEY_MISS, 'm')] {
        if flags & bit != 0 {
            out.push(c);
        }
    }
    out
}

/// Publishes one event if `flags` enable its class and at least one of K/E.
pub fn publish(hub: &PubSubHub, flags: u32, class: u32, event: &str, db: usize, key: &[u8]) {
    if flags & class == 0 || flags & (KEYSPACE | KEYEVENT) == 0 {
        return;
    }
    if flags & KEYSPACE != 0 {
        let mut channel = format!("__keyspace@{db}__:").into_bytes();
        channel.extend_from_slice(key);
        hub.publish(&Bytes::from(channel), &Bytes::from(event.to_string()));
    }
    if flags & KEYEVENT != 0 {
        let channel = Bytes::from(format!("__keyevent@{db}__:{event}"));
        hub.publish(&channel, &Bytes::copy_from_slice(key));
    }
}

/// What a command did to one key, as its handler reported it through [`Ctx`]
/// (Redis's `signalModifiedKey` and `notifyKeyspaceEvent`). The dispatch gate applies the
/// list after the handler returns: it invalidates `WATCH`es of modified keys, wakes clients
/// blocked on any reported key, and publishes the events. Nothing else guesses what a
/// command changed.
///
/// [`Ctx`]: crate::commands::Ctx
#[derive(Debug, Clone)]
pub struct Effect {
    pub db: usize,
    pub key: Bytes,
    /// The key's value changed: watchers' transactions fail (`signalModifiedKey`).
    pub modified: bool,
    /// The keyspace event it fires, as (class, name).
    pub event: Option<(u32, &'static str)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_round_trip_like_redis() {
        assert_eq!(
            parse_flags("KEA").map(flags_to_string).as_deref(),
            Some("AKE")
        );
        assert_eq!(
            parse_flags("Ex$").map(flags_to_string).as_deref(),
            Some("$xE")
        );
        assert_eq!(parse_flags("").map(flags_to_string).as_deref(), Some(""));
        assert_eq!(parse_flags("Kq"), None);
        // As Redis for `n` without `A`; with `A`, kept where Redis 7.0 drops it.
        assert_eq!(
            parse_flags("Kgn").map(flags_to_string).as_deref(),
            Some("gnK")
        );
        assert_eq!(
            parse_flags("KEAn").map(flags_to_string).as_deref(),
            Some("AnKE")
        );
    }
}
