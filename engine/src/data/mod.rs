//! The data interface: what every reader and writer (the HTTP handlers, the InfluxQL executor,
//! the PromQL evaluator) asks of the data, the same whether this node is alone or one of a
//! cluster. `SeriesStore` is the seam: writing (and importing history), selecting and listing series. This node's
//! storage implements it (`storage::series_store`), and so does the cluster coordinator
//! (`cluster::coordinator`), which places copies on the owners and merges the nodes' answers as
//! they stream in; only the start-up wiring (`server.rs`) names both. `Catalog` (`catalog.rs`)
//! is the handle to databases, policies, users, metric metadata and line protocol's fields,
//! read from this node's storage in both cases: the cluster keeps them the same on every node,
//! and a change goes through `Data::change_catalog` so that the others hear of it. `Data` holds
//! the two.
//! The interface's own vocabulary lives here too: `write` (what a write hands over and
//! answers), `tier` (reads of a downsampled tier), `schema` (policies, databases, metric metadata, fields), `users`, `generation`
//! (per-database change counters, for caches of answers), `cardinality` (the figures of
//! Prometheus' `/api/v1/status/tsdb`, computed from `select`), and the errors
//! (`StoreError`: why a store could not do it; `Error`: that, or a cluster's failure). Stored
//! pieces are `encoding::piece`'s.
//! This module names no implementation: it imports nothing of `storage`, `cluster`, `http`,
//! `exec` or `promql`.

pub mod cardinality;
mod catalog;
pub mod generation;
mod stream;
mod tier;
pub mod schema;
pub mod users;
pub mod write;

pub use catalog::{Catalog, Deletion, UserChange};
pub use stream::{encode, series_with_samples, tallied, PieceSource, ReadTally, SeriesPiece, SeriesStream};
pub use crate::encoding::rollup::Tier;
pub use tier::TierAnswer;

use crate::index::matcher::{MatchKind, Matcher};
use crate::labels::Labels;
use schema::{MetricMeta, Policies};
use write::{SeriesWrite, WriteOutcome};
use futures_util::future::LocalBoxFuture;
use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;

/// Line protocol's (measurement, field) pairs, which every node holding a copy registers (see
/// `exec::fields`).
pub type FieldPairs = BTreeSet<(String, String)>;

/// What can go wrong reading or writing data.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Storage(#[from] StoreError),
    /// As many nodes as there are copies did not answer a read: the answer would be incomplete.
    #[error("peers unreachable: {} (replication factor {replication_factor}: the answer would be incomplete)", peers.join(", "))]
    PeersUnreachable { peers: Vec<String>, replication_factor: usize },
    /// A node failed in the middle of its part of a read, once the answer had started: the
    /// series it had still to send cannot be taken from the other copies any more.
    #[error("peer {peer} failed in the middle of the read: {reason}")]
    PeerFailed { peer: String, reason: String },
    /// Some series could not get their copies: every node that could take one is down.
    #[error("cannot store {copies} copies of every series: unreachable peers {}", down.join(", "))]
    TooFewCopies { copies: usize, down: Vec<String> },
    /// A catalog change or deletion ran here but could not be recorded for the other nodes.
    #[error("done on {node}, but not recorded for the other nodes: {reason}")]
    NotShared { node: String, reason: String },
}

/// Why a store (this node's storage) could not do what was asked: the interface's error
/// vocabulary, which implementations answer with. Each message is what users have always been
/// shown: the HTTP and InfluxQL answers carry it as it is.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
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
    Context { context: String, source: Box<StoreError> },
}

impl StoreError {
    /// This error as the cause of a failure to do `context`.
    pub fn context(self, context: impl Into<String>) -> StoreError {
        StoreError::Context { context: context.into(), source: Box::new(self) }
    }

    /// Whether the database or retention policy asked for does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, StoreError::DatabaseNotFound(_) | StoreError::PolicyNotFound(_))
    }
}

impl From<String> for StoreError {
    fn from(message: String) -> StoreError {
        StoreError::Invalid(message)
    }
}

/// A stored piece that does not decode is corrupt stored data.
impl From<crate::encoding::piece::Error> for StoreError {
    fn from(e: crate::encoding::piece::Error) -> StoreError {
        StoreError::Corrupt(e.what())
    }
}

impl From<&str> for StoreError {
    fn from(message: &str) -> StoreError {
        StoreError::Invalid(message.to_string())
    }
}

/// Which series and samples a read wants: every matcher holds, samples in [min_t, max_t] (ms).
#[derive(Clone, Debug)]
pub struct Selection {
    pub matchers: Vec<Matcher>,
    pub min_t: i64,
    pub max_t: i64,
}

/// Where listed series must have a sample, [min_t, max_t] in ms; `None`: every series in the
/// index, with or without samples.
pub type TimeRange = Option<(i64, i64)>;

/// The series side of the data interface, on one node or over a cluster. Futures are boxed
/// and not `Send` (the shards answer on actix's threads).
pub trait SeriesStore: Send + Sync {
    /// Stores series in policy `rp` (or the default one) of `db`, whose line protocol fields
    /// are registered already; answers when every series is stored (every copy, in a cluster).
    fn write<'a>(&'a self, db: &'a str, rp: Option<&'a str>, series: Vec<SeriesWrite>, fields: &'a FieldPairs) -> LocalBoxFuture<'a, Result<WriteOutcome, Error>>;

    /// `write` of history (`gemini import`): samples older than a series' newest are merged
    /// into it whatever their age, not refused; a stored timestamp keeps its value (the same
    /// value is a duplicate, another is refused naming the series). Line protocol's fields
    /// are registered already, as for `write`.
    fn import<'a>(&'a self, db: &'a str, rp: Option<&'a str>, series: Vec<SeriesWrite>, fields: &'a FieldPairs) -> LocalBoxFuture<'a, Result<WriteOutcome, Error>>;

    /// The series matching `selection` with their stored pieces in its time range, series by
    /// series in label order, read as the stream is consumed.
    fn select<'a>(&'a self, db: &'a str, which: Policies<'a>, selection: Selection) -> LocalBoxFuture<'a, Result<SeriesStream, Error>>;

    /// The label sets of the series matching every matcher (with a sample in `range`, when
    /// given), sorted and unique.
    fn series<'a>(&'a self, db: &'a str, which: Policies<'a>, matchers: Vec<Matcher>, range: TimeRange) -> LocalBoxFuture<'a, Result<Vec<Labels>, Error>>;

    /// The windows of `tier` of the series matching `selection` in its time range (see
    /// `TierAnswer`). A store that keeps no tier answers that it holds nothing.
    fn select_tier<'a>(&'a self, _db: &'a str, _which: Policies<'a>, _selection: Selection, _tier: Tier) -> LocalBoxFuture<'a, Result<TierAnswer, Error>> {
        Box::pin(async { Ok(TierAnswer::default()) })
    }

    /// Every value of label `name` in the series matching every matcher (every series without
    /// matchers; with a sample in `range`, when given), sorted and unique. A store that
    /// answers from an index may also count series that have no sample in the range but
    /// overlap it, as Prometheus counts every series of a block overlapping it (see its doc).
    fn label_values<'a>(&'a self, db: &'a str, which: Policies<'a>, name: &'a str, matchers: Vec<Matcher>, range: TimeRange) -> LocalBoxFuture<'a, Result<Vec<String>, Error>> {
        Box::pin(values_in_series(self, db, which, name, matchers, range))
    }

    /// Every label name of the series matching every matcher (every series without matchers;
    /// with a sample in `range`, when given, with the same latitude as `label_values`),
    /// sorted and unique.
    fn label_names<'a>(&'a self, db: &'a str, which: Policies<'a>, matchers: Vec<Matcher>, range: TimeRange) -> LocalBoxFuture<'a, Result<Vec<String>, Error>> {
        Box::pin(async move {
            let names: BTreeSet<String> = self.series(db, which, matchers, range).await?.iter().flat_map(|l| l.iter().map(|(n, _)| n.to_string()).collect::<Vec<_>>()).collect();
            Ok(names.into_iter().collect())
        })
    }

    /// Runs `change`, a change of databases, retention policies or users on this node's
    /// catalog; in a cluster under the catalog lock, then recorded and sent to the other
    /// nodes. Fails when it ran but could not be recorded.
    fn change_catalog<'a>(&'a self, change: LocalBoxFuture<'a, ()>) -> LocalBoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            change.await;
            Ok(())
        })
    }

    /// Whether this node's catalog holds everything the other nodes know: always alone; in a
    /// cluster once every peer has exchanged catalogs with it since it started.
    fn catalog_complete(&self) -> bool {
        true
    }

    /// A deletion that ran on this node's storage (`statement`, InfluxQL, in `db`): in a
    /// cluster, recorded for the other nodes, which run it on their own data (`Deletion`).
    fn share_deletion<'a>(&'a self, _db: &'a str, _statement: &'a str) -> LocalBoxFuture<'a, Result<(), Error>> {
        Box::pin(async { Ok(()) })
    }
}

/// Every value of label `name` in the series matching `matchers` that have it (with a sample
/// in `range`, when given), sorted and unique: `SeriesStore::label_values` from `series`.
pub async fn values_in_series<S: SeriesStore + ?Sized>(store: &S, db: &str, which: Policies<'_>, name: &str, mut matchers: Vec<Matcher>, range: TimeRange) -> Result<Vec<String>, Error> {
    matchers.push(Matcher::new(MatchKind::Regex, name, ".+").expect("a valid regex"));
    let values: BTreeSet<String> = store.series(db, which, matchers, range).await?.iter().map(|l| l.get(name).to_string()).collect();
    Ok(values.into_iter().collect())
}

/// The data interface as the layers above use it: the series (`SeriesStore`) and the catalog
/// handle, both chosen by the start-up wiring.
#[derive(Clone)]
pub struct Data {
    store: Arc<dyn SeriesStore>,
    catalog: Arc<dyn Catalog>,
}

impl Data {
    pub fn new(store: Arc<dyn SeriesStore>, catalog: Arc<dyn Catalog>) -> Data {
        Data { store, catalog }
    }

    /// Databases, policies, users, metric metadata, line protocol's fields.
    pub fn catalog(&self) -> &dyn Catalog {
        &*self.catalog
    }

    /// `Catalog::snapshot` on a blocking thread.
    pub async fn snapshot(&self, name: String) -> Result<(), StoreError> {
        let catalog = self.catalog.clone();
        tokio::task::spawn_blocking(move || catalog.snapshot(&name)).await.map_err(|e| StoreError::Io(std::io::Error::other(e)))?
    }

    /// `Catalog::clean_tombstones` on a blocking thread.
    pub async fn clean_tombstones(&self) -> Result<(), StoreError> {
        let catalog = self.catalog.clone();
        tokio::task::spawn_blocking(move || catalog.clean_tombstones()).await.map_err(|e| StoreError::Io(std::io::Error::other(e)))
    }

    /// Stores series in policy `rp` (or the default one) of `db`; registers line protocol's
    /// fields first. Answers when every series is stored (every copy, in a cluster).
    pub async fn write(&self, db: &str, rp: Option<&str>, series: Vec<SeriesWrite>, fields: &FieldPairs) -> Result<WriteOutcome, Error> {
        self.catalog.register_fields(db, fields)?;
        if series.is_empty() {
            return Ok(WriteOutcome::default());
        }
        self.store.write(db, rp, series, fields).await
    }

    /// See `SeriesStore::import`; registers line protocol's fields first, as `write` does.
    pub async fn import(&self, db: &str, rp: Option<&str>, series: Vec<SeriesWrite>, fields: &FieldPairs) -> Result<WriteOutcome, Error> {
        self.catalog.register_fields(db, fields)?;
        if series.is_empty() {
            return Ok(WriteOutcome::default());
        }
        self.store.import(db, rp, series, fields).await
    }

    /// Metric metadata (type, help, unit) as remote write carries it; kept by the node that
    /// received it.
    pub fn put_metadata(&self, db: &str, entries: Vec<MetricMeta>) -> Result<(), Error> {
        Ok(self.catalog.put_metadata(db, entries)?)
    }

    /// See `SeriesStore::select`.
    pub async fn select(&self, db: &str, which: Policies<'_>, selection: Selection) -> Result<SeriesStream, Error> {
        self.store.select(db, which, selection).await
    }

    /// See `SeriesStore::select_tier`.
    pub async fn select_tier(&self, db: &str, which: Policies<'_>, selection: Selection, tier: Tier) -> Result<TierAnswer, Error> {
        self.store.select_tier(db, which, selection, tier).await
    }

    /// See `SeriesStore::series`.
    pub async fn series(&self, db: &str, which: Policies<'_>, matchers: Vec<Matcher>, range: TimeRange) -> Result<Vec<Labels>, Error> {
        self.store.series(db, which, matchers, range).await
    }

    /// See `SeriesStore::label_values`.
    pub async fn label_values(&self, db: &str, which: Policies<'_>, name: &str, matchers: Vec<Matcher>, range: TimeRange) -> Result<Vec<String>, Error> {
        self.store.label_values(db, which, name, matchers, range).await
    }

    /// See `SeriesStore::label_names`.
    pub async fn label_names(&self, db: &str, which: Policies<'_>, matchers: Vec<Matcher>, range: TimeRange) -> Result<Vec<String>, Error> {
        self.store.label_names(db, which, matchers, range).await
    }

    /// Runs a change of databases, retention policies or users against this node's catalog;
    /// in a cluster, under the catalog lock, then recorded and sent to the other nodes (a
    /// failure to record wins over the change's own outcome).
    pub async fn change_catalog<T, E: From<Error>>(&self, change: impl Future<Output = Result<T, E>>) -> Result<T, E> {
        let mut outcome = None;
        let slot = &mut outcome;
        let shared = self.store.change_catalog(Box::pin(async move { *slot = Some(change.await) })).await;
        shared?;
        outcome.expect("the change ran")
    }

    /// See `SeriesStore::catalog_complete`.
    pub fn catalog_complete(&self) -> bool {
        self.store.catalog_complete()
    }

    /// See `SeriesStore::share_deletion`.
    pub async fn share_deletion(&self, db: &str, statement: &str) -> Result<(), Error> {
        self.store.share_deletion(db, statement).await
    }
}
