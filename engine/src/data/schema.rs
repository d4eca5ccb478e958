//! The catalog's values as the data interface hands them out: retention policies and their
//! ids, databases, which policies an operation covers, metric metadata, line protocol's
//! fields. Plain values: how they are kept is the store's business.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// A retention policy's id: the space a series lives in, inside the shards and their keys
/// (see `catalog`). Databases have ids of their own (metadata and fields are per database).
pub type PolicyId = u32;

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

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    pub name: String,
    pub id: PolicyId,
    /// How long data is kept, in nanoseconds; 0 keeps it forever.
    pub duration: i64,
    /// The time span of one partition of its data, in nanoseconds: expired data goes a
    /// partition at a time.
    pub shard_duration: i64,
    /// Accepted and shown as InfluxDB does; copies across nodes are the cluster's setting.
    pub replication: u32,
    /// How long each downsampled tier (`Tier::ALL` order: 5m, 1h) keeps data, in
    /// nanoseconds; 0 forever, `None` as long as the next finer data (see `tier_duration`).
    #[serde(default)]
    pub tier_durations: [Option<i64>; 2],
}

impl Policy {
    /// The partition length the shards cut chunks at.
    pub fn partition_ms(&self) -> i64 {
        self.shard_duration / 1_000_000
    }

    /// How long `tier` keeps data, in nanoseconds; 0 forever. A tier without a duration of its
    /// own keeps data as long as the next finer data: the 5m tier as raw data, the 1h tier as
    /// the 5m tier.
    pub fn tier_duration(&self, tier: crate::encoding::rollup::Tier) -> i64 {
        match (self.tier_durations[tier as usize], tier as usize) {
            (Some(d), _) => d,
            (None, 0) => self.duration,
            (None, finer) => self.tier_duration(crate::encoding::rollup::Tier::ALL[finer - 1]),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Database {
    pub id: u32,
    /// May name a policy that was dropped, as in InfluxDB: writes without `rp` then fail.
    pub default_policy: String,
    /// In creation order.
    pub policies: Vec<Policy>,
}

impl Database {
    pub fn policy(&self, name: &str) -> Option<&Policy> {
        self.policies.iter().find(|p| p.name == name)
    }
}

/// Measurement → its fields.
pub type Fields = BTreeMap<String, BTreeSet<String>>;
