//! The catalog handle: databases and retention policies, users, metric metadata, line
//! protocol's fields, deletions, and what `/health` and `/metrics` tell of the store. It is
//! this node's storage on one node and in a cluster alike (the cluster keeps catalogs the
//! same on every node; sharing a change or a deletion goes through `Data`). Implemented by
//! `storage::series_store`; the executor and the handlers see only this trait.

use super::FieldPairs;
use crate::index::matcher::Matcher;
use crate::labels::Labels;
use crate::model::PolicyOptions;
use super::schema::{Database, Fields, MetricMeta};
use super::users::{User, UserStore};
use super::StoreError as Error;
use futures_util::future::LocalBoxFuture;
use std::collections::BTreeMap;

/// A deletion another node ran (`DROP SERIES`, `DROP MEASUREMENT`, `DELETE`): database,
/// statement, and the time of the newest points it covers. Each node runs it on its own data.
pub struct Deletion {
    pub db: String,
    pub statement: String,
    pub before_ns: i64,
}

/// A change of the users: `name` is the user whose record changes.
pub type UserChange<'a> = Box<dyn FnOnce(&mut BTreeMap<String, User>) -> Result<(), Error> + 'a>;

pub trait Catalog: Send + Sync {
    /// A database with its retention policies.
    fn database(&self, name: &str) -> Result<Database, Error>;
    /// Database names in the order they were created, as InfluxDB lists them.
    fn databases(&self) -> Vec<String>;
    /// `database not found` or `retention policy not found` unless the policy (or the
    /// database's default one, without `rp`) exists.
    fn require_policy(&self, db: &str, rp: Option<&str>) -> Result<(), Error>;
    fn create_database(&self, name: &str, policy: Option<(&str, &PolicyOptions)>) -> Result<(), Error>;
    fn drop_database<'a>(&'a self, name: &'a str) -> LocalBoxFuture<'a, Result<(), Error>>;
    fn create_policy(&self, db: &str, name: &str, opts: &PolicyOptions) -> Result<(), Error>;
    fn alter_policy(&self, db: &str, name: &str, opts: &PolicyOptions) -> Result<(), Error>;
    fn drop_policy<'a>(&'a self, db: &'a str, name: &'a str) -> LocalBoxFuture<'a, Result<(), Error>>;

    fn users(&self) -> &UserStore;
    /// Changes the users (see `UserChange`); callers use `change_user`.
    fn change_users(&self, name: &str, change: UserChange<'_>) -> Result<(), Error>;

    /// Metric metadata of `db`, as remote write carried it.
    fn metadata(&self, db: &str) -> Result<Vec<MetricMeta>, Error>;
    fn put_metadata(&self, db: &str, entries: Vec<MetricMeta>) -> Result<(), Error>;
    /// Measurement → fields, for what line protocol wrote to `db`.
    fn line_fields(&self, db: &str) -> Result<Fields, Error>;
    fn register_fields(&self, db: &str, pairs: &FieldPairs) -> Result<(), Error>;

    /// Deletes, in every retention policy of `db`, the series matching `matchers` whose labels
    /// satisfy `keep`: their points in [min_t, max_t] (ms) with a `range`, else the series.
    fn delete<'a>(&'a self, db: &'a str, matchers: Vec<Matcher>, keep: &'a dyn Fn(&Labels) -> bool, range: Option<(i64, i64)>) -> LocalBoxFuture<'a, Result<(), Error>>;

    /// Shards of this node's store.
    fn shard_count(&self) -> usize;
    /// Bytes of this node's data directory on disk, snapshots left out.
    fn disk_bytes(&self) -> u64;
    /// Takes a consistent copy of this node's data directory, named `name`, that a server
    /// starts on: every sample acknowledged before the call is in it.
    fn snapshot(&self, name: &str) -> Result<(), Error>;
    /// Drops from this node's disk what deletions left behind; blocks until done.
    fn clean_tombstones(&self);
}

impl dyn Catalog + '_ {
    /// Changes the users; `name` is the user whose record changes.
    pub fn change_user(&self, name: &str, change: impl FnOnce(&mut BTreeMap<String, User>) -> Result<(), Error>) -> Result<(), Error> {
        self.change_users(name, Box::new(change))
    }
}
