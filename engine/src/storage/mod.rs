//! Storage: one RocksDB instance per data directory, N shard actors that each own their
//! column families, and the catalog of databases, retention policies and metric metadata in
//! the `meta` column family: one implementation of the data interface (`series_store`). It
//! speaks the interface's vocabulary (`data::{write, schema, users, StoreError}`) and stores
//! the formats of `encoding` (`family` says which column family holds each); it knows
//! nothing of HTTP.

pub mod catalog;
mod catalog_ops;
mod downsample;
mod fanout;
pub mod family;
pub mod fields;
#[cfg(test)]
mod generation_tests;
pub mod keys;
mod meta;
mod open;
mod pager;
pub mod series_limits;
pub mod series_store;
pub mod shard;
mod maintenance;
#[cfg(test)]
mod testing;
pub mod users;

use crate::data::schema::{MetricMeta, Policies, PolicyId};
use crate::data::StoreError as Error;
use crate::labels::Labels;
use crate::metrics::Metrics;
use actix::prelude::*;
use catalog::Catalog;
use rocksdb::{WriteOptions, DB};
use shard::Shard;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

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
    users: crate::data::users::UserStore,
    metrics: Arc<Metrics>,
    data_dir: PathBuf,
    sync_writes: bool,
    /// Bumped after every change of data already stored (see `data::generation`).
    generations: Arc<crate::data::generation::Generations>,
    /// The series limits every shard asks (`series_limits`).
    admission: Arc<series_limits::Admission>,
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

    /// The per-database change counters this storage bumps (see `data::generation`).
    pub fn generations(&self) -> Arc<crate::data::generation::Generations> {
        self.generations.clone()
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
        walk(&self.data_dir).saturating_sub(walk(&self.data_dir.join(maintenance::SNAPSHOTS_DIR)))
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
