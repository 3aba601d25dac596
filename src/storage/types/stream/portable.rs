//! A whole stream in and out of its sub-keys, for the RDB value model (`crate::rdb`):
//! entries, the meta tail (last id, max deleted id, entries added), groups, consumers and
//! both views of the pending-entries lists, written under one fresh version in one write
//! set. DUMP, MIGRATE and `export-rdb` read through [`Storage::stream_value`]; RESTORE and
//! `import-rdb` write through [`Storage::stage_stream_value`].
//!
//! Redis's RDB lists a group's PEL once (id, delivery time, count) and each consumer's PEL
//! as ids into it; Strata stores the owner inside the PEL record. A PEL entry no consumer
//! owns cannot be represented here and is refused, as Redis's loader refuses it.

use std::collections::HashMap;

use super::*;
use crate::error::StoreResult;
use crate::rdb;
use crate::storage::{Storage, WriteSet};

fn to_rdb(id: StreamId) -> rdb::StreamId {
    rdb::StreamId {
        ms: id.ms,
        seq: id.seq,
    }
}

fn from_rdb(id: rdb::StreamId) -> StreamId {
    StreamId::new(id.ms, id.seq)
}

impl Storage {
    /// The whole stream as the RDB value model.
    pub fn stream_value(&self, s: &Stream) -> StoreResult<rdb::StreamValue> {
        let entries = self
            .entries(s, StreamId::MIN, StreamId::MAX, 0, false)?
            .into_iter()
            .map(|(id, fields)| (to_rdb(id), fields))
            .collect::<Vec<_>>();
        let first_id = entries.first().map(|e| e.0).unwrap_or_default();
        let mut groups = Vec::new();
        for (name, group) in self.groups(s)? {
            let pel = self.group_pel(s, &name, StreamId::MIN, StreamId::MAX, 0)?;
            let mut owned: HashMap<Vec<u8>, Vec<rdb::StreamId>> = HashMap::new();
            for p in &pel {
                owned
                    .entry(p.consumer.clone())
                    .or_default()
                    .push(to_rdb(p.id));
            }
            let consumers = self
                .consumers(s, &name)?
                .into_iter()
                .map(|(consumer, times)| rdb::StreamConsumer {
                    pending: owned.remove(&consumer).unwrap_or_default(),
                    name: consumer,
                    seen_time_ms: times.seen_ms,
                    active_time_ms: times.active_ms,
                })
                .collect();
            groups.push(rdb::StreamGroup {
                name,
                last_id: to_rdb(group.last_id),
                entries_read: group.entries_read,
                pending: pel
                    .iter()
                    .map(|p| rdb::StreamPending {
                        id: to_rdb(p.id),
                        delivery_time_ms: p.delivered_ms,
                        delivery_count: p.deliveries,
                    })
                    .collect(),
                consumers,
            });
        }
        Ok(rdb::StreamValue {
            entries,
            last_id: to_rdb(s.info.last_id),
            first_id,
            max_deleted_id: to_rdb(s.info.max_deleted),
            entries_added: s.info.entries_added,
            groups,
        })
    }

    /// Stages `value` as the stream at `key`, under the fresh `version`, replacing the
    /// physical record `old`. Fails (staging nothing the caller should commit) on an
    /// entry id above the last id, a duplicate, or a PEL entry no consumer owns.
    #[allow(clippy::too_many_arguments)]
    pub fn stage_stream_value(
        &self,
        ws: &mut WriteSet,
        db: usize,
        key: &[u8],
        old: Option<&Meta>,
        version: u64,
        expire_ms: u64,
        value: &rdb::StreamValue,
    ) -> StoreResult<()> {
        let bad = |what: &str| StoreError::Corrupt(format!("stream value: {what}"));
        let last_id = from_rdb(value.last_id);
        let s = Stream {
            db,
            key: key.to_vec(),
            raw: old.cloned(),
            coll: Coll {
                kind: S,
                version,
                len: value.entries.len() as u64,
                expire_ms,
                tail: Vec::new(),
            },
            info: StreamInfo {
                last_id,
                max_deleted: from_rdb(value.max_deleted_id),
                entries_added: value.entries_added.max(value.entries.len() as u64),
                groups: value.groups.len() as u64,
            },
        };
        let mut previous: Option<StreamId> = None;
        for (id, fields) in &value.entries {
            let id = from_rdb(*id);
            if previous.is_some_and(|p| p >= id) || id > last_id {
                return Err(bad("entry ids out of order or above the last id"));
            }
            previous = Some(id);
            let pairs: Vec<(&[u8], &[u8])> = fields
                .iter()
                .map(|(f, v)| (f.as_slice(), v.as_slice()))
                .collect();
            self.stream_put(ws, &s, &entry_sub(id), &encode_fields(&pairs));
        }
        for group in &value.groups {
            let record = Group {
                last_id: from_rdb(group.last_id),
                entries_read: group.entries_read,
            };
            self.stream_put(ws, &s, &group_sub(&group.name), &record.encode());
            let pel: HashMap<rdb::StreamId, &rdb::StreamPending> =
                group.pending.iter().map(|p| (p.id, p)).collect();
            if pel.len() != group.pending.len() {
                return Err(bad("duplicate pending entry"));
            }
            let mut owned = 0usize;
            for consumer in &group.consumers {
                let times = ConsumerTimes {
                    seen_ms: consumer.seen_time_ms,
                    active_ms: consumer.active_time_ms,
                };
                self.stream_put(
                    ws,
                    &s,
                    &consumer_sub(&group.name, &consumer.name),
                    &times.encode(),
                );
                for id in &consumer.pending {
                    let p = pel
                        .get(id)
                        .ok_or_else(|| bad("consumer owns an id not pending"))?;
                    let pending = Pending {
                        id: from_rdb(*id),
                        consumer: consumer.name.clone(),
                        delivered_ms: p.delivery_time_ms,
                        deliveries: p.delivery_count,
                    };
                    self.stage_pending(ws, &s, &group.name, &pending, None);
                    owned += 1;
                }
            }
            if owned != group.pending.len() {
                return Err(bad("pending entry owned by no consumer, or by two"));
            }
        }
        self.stage_stream(ws, &s);
        Ok(())
    }
}
