//! The Gemini engine: Prometheus remote write and remote read over per-shard actors that own
//! RocksDB column families, behind the openGemini / InfluxDB 1.x HTTP API.
//!
//! The layers, top down: `http` speaks the wire formats (parameters, auth, body limits,
//! rendering); `exec` runs InfluxQL statements; both read and write through `data`, the data
//! interface, which is this node's `storage` or the `cluster` coordinator over every node's.
//! `storage` owns the data (`storage::shard` actors over RocksDB), `encoding` the stored
//! formats (XOR chunks, sealed blocks, the piece seam over them; a leaf), `index` finds
//! series by labels, `query` parses InfluxQL, and `model` holds the vocabulary they share
//! (privileges, retention options, duration units).

pub mod bench;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod data;
pub mod encoding;
pub mod exec;
pub mod hash_slots;
pub mod http;
pub mod import;
pub mod index;
pub mod labels;
pub mod metrics;
pub mod model;
pub mod parallel;
pub mod promql;
pub mod query;
pub mod remote;
pub mod server;
pub mod storage;
pub mod tls;
