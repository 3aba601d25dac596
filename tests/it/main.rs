//! Integration tests: one binary (RocksDB is linked once), one module per area. Every test
//! starts the real `strata` binary on a free port with its own temporary data directory.

mod acl;
mod acl_key_specs;
mod checkpoints;
mod collections;
mod config;
mod config_compat;
mod connection;
mod crash;
mod differential;
mod disk_full;
mod geo;
mod hardening;
mod harness;
mod hash_ttl;
mod hot_tier;
mod hyperloglog;
mod keys;
mod long_strings;
mod migration;
mod model;
mod notifications;
mod observability;
mod persistence;
mod pipelining;
mod protocol;
mod pubsub;
mod replication;
mod scripting;
mod security;
mod server_cmds;
mod streams;
mod strings;
mod tls;
mod transactions;
