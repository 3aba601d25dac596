//! Strata: a Redis-protocol database server that keeps its data in RocksDB.
//!
//! Architecture (dependencies point down only):
//!
//! ```text
//! main.rs          CLI -> Config -> tracing -> runtime -> server
//! server/          listeners, connection tasks (pipelining, one write per batch),
//!                  background maintenance, graceful shutdown
//! commands/        table.rs (THE command table), dispatch.rs (the one gate),
//!                  one file per command family
//! replication/     primary.rs and replica.rs (the links, beside server/);
//!                  mod.rs holds the role and ids that state keeps (below state)
//! state, client    shared server state and per-client state handed to commands
//! storage/         typed Redis semantics (types/, keyspace, expire) over
//!                  engine.rs, the only module that imports rocksdb
//! protocol/        RESP2/RESP3 parsing and encoding (leaf)
//! config, error, glob, num   leaves used across layers
//! ```
//!
//! See `DESIGN.md` in the shared folder for the on-disk encoding and the atomicity and
//! durability rules the layers uphold.

pub mod acl;
pub mod admin;
pub mod admin_rdb;
pub mod alloc;
pub mod blocking;
pub mod client;
pub mod commands;
pub mod config;
pub mod error;
pub mod errorstats;
pub mod glob;
pub mod latency;
pub mod monitor;
pub mod notify;
pub mod num;
pub mod pause;
pub mod protocol;
pub mod pubsub;
pub mod rdb;
pub mod rdb_dataset;
pub mod replication;
pub mod scripting;
pub mod server;
pub mod slowlog;
pub mod socket;
pub mod state;
pub mod storage;
pub mod tls;
pub mod tracking;
pub mod watch;
