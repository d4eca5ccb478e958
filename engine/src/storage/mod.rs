//! Storage: one RocksDB instance per data directory, N shard actors that each own their
//! column families, and the catalog of databases, retention policies and metric metadata in
//! the `meta` column family. This is the only way the HTTP layer reaches data; it knows
//! nothing of HTTP.

pub mod block;
pub mod catalog;
mod catalog_ops;
pub mod chunk;
mod fanout;
pub mod family;
pub mod fields;
pub mod keys;
mod meta;
mod open;
mod pager;
pub mod piece;
pub mod series_store;
pub mod shard;
#[cfg(test)]
mod testing;
pub mod users;

use crate::labels::Labels;
use crate::metrics::Metrics;
use actix::prelude::*;
use catalog::Catalog;
use rocksdb::{WriteOptions, DB};
use shard::Shard;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

/// A retention policy's id: the space a series lives in, inside the shards and their keys
/// (see `catalog`). Databases have ids of their own (metadata and fields are per database).
pub type PolicyId = u32;

/// Why storage could not do what was asked. Each message is what users have always been
/// shown: the HTTP and InfluxQL answers carry it as it is.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("database not found: {0}")]
    DatabaseNotFound(String),
    #[error("retention policy not found: {0}")]
    PolicyNotFound(String),
    /// A shard's mailbox is closed: the server is stopping.
    #[error("shard unavailable: {0}")]
    Unavailable(#[from] actix::MailboxError),
    /// A write reached a shard after its retention policy was dropped there.
    #[error("database was dropped")]
    PolicyDropped,
    #[error("{0}")]
    RocksDb(#[from] rocksdb::Error),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// Stored data that does not parse: `what` names it ("series entry", "chunk", …).
    #[error("corrupt {0}")]
    Corrupt(String),
    /// A stored JSON record that does not parse.
    #[error("corrupt {what}: {source}")]
    CorruptJson { what: &'static str, source: serde_json::Error },
    #[error("no OS random source: {0}")]
    Random(getrandom::Error),
    #[error("{0}")]
    Password(argon2::password_hash::Error),
    /// A refused catalog or user change, in InfluxDB's words.
    #[error("{0}")]
    Invalid(String),
    /// What storage was doing when `source` happened ("cannot open storage in …", "shard 3").
    #[error("{context}: {source}")]
    Context { context: String, source: Box<Error> },
}

impl Error {
    /// This error as the cause of a failure to do `context`.
    pub fn context(self, context: impl Into<String>) -> Error {
        Error::Context { context: context.into(), source: Box::new(self) }
    }

    /// Whether the database or retention policy asked for does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::DatabaseNotFound(_) | Error::PolicyNotFound(_))
    }
}

impl From<String> for Error {
    fn from(message: String) -> Error {
        Error::Invalid(message)
    }
}

impl From<&str> for Error {
    fn from(message: &str) -> Error {
        Error::Invalid(message.to_string())
    }
}

/// Which retention policies of a database an operation covers.
#[derive(Clone, Copy, Debug)]
pub enum Policies<'a> {
    /// The named one, or the database's default.
    One(Option<&'a str>),
    /// Every one (what `SHOW` statements list).
    All,
}

/// Metric metadata as remote write carries it (type, help, unit), per metric family.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MetricMeta {
    pub family: String,
    pub kind: String,
    pub help: String,
    pub unit: String,
}

pub struct StorageOptions {
    pub data_dir: PathBuf,
    pub shards: usize,
    /// fsync the WAL before acknowledging a write (power-loss safety).
    pub sync_writes: bool,
}

pub struct Storage {
    db: Arc<DB>,
    shards: Vec<Addr<Shard>>,
    catalog: RwLock<Catalog>,
    /// Policy id → partition length in ms, as the catalog says; shards adopt changes.
    partition_lengths: Arc<RwLock<HashMap<PolicyId, i64>>>,
    metadata: RwLock<HashMap<u32, BTreeMap<String, MetricMeta>>>,
    fields: fields::FieldRegistry,
    users: users::UserStore,
    metrics: Arc<Metrics>,
    data_dir: PathBuf,
    sync_writes: bool,
    _arbiters: Vec<Arbiter>,
}

impl Storage {
    fn write_opts(&self) -> WriteOptions {
        let mut wo = WriteOptions::default();
        wo.set_sync(self.sync_writes);
        wo
    }

    pub fn shard_count(&self) -> usize {
        self.shards.len()
    }

    /// Bytes of the data directory on disk.
    pub fn disk_bytes(&self) -> u64 {
        fn walk(p: &Path) -> u64 {
            std::fs::read_dir(p)
                .map(|rd| {
                    rd.flatten()
                        .map(|e| match e.metadata() {
                            Ok(m) if m.is_dir() => walk(&e.path()),
                            Ok(m) => m.len(),
                            Err(_) => 0,
                        })
                        .sum()
                })
                .unwrap_or(0)
        }
        walk(&self.data_dir)
    }
}

impl Drop for Storage {
    /// Stops the shard threads and waits for them, so that the RocksDB instance is closed
    /// (and its lock released) when `Storage` is gone.
    fn drop(&mut self) {
        for a in &self._arbiters {
            a.stop();
        }
        for a in self._arbiters.drain(..) {
            let _ = a.join();
        }
    }
}

/// A series found by `select`: where it lives and what it is.
#[derive(Clone, Debug)]
pub struct SelectedSeries {
    pub labels: Labels,
    /// The id of its retention policy.
    pub policy: PolicyId,
    pub shard: usize,
    pub id: u64,
}
