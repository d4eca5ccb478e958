//! The data interface: what every reader and writer (the HTTP handlers, the InfluxQL executor)
//! asks of the data, the same whether this node is alone or one of a cluster. `Data::Local` is
//! this node's storage; `Data::Cluster` is the coordinator (`cluster::coordinator`) that places
//! copies on the owners and merges the nodes' answers as they stream in. The catalog, users
//! and metric metadata are read from this node's storage in both cases: the cluster keeps them
//! the same on every node, and a change goes through `change_catalog` so that the others hear
//! of it. `frames` is the streamed remote read format, which the nodes also speak among them.

mod stream;

pub use stream::{encode, SeriesPiece, SeriesStream};

use crate::cluster::coordinator::Coordinator;
use crate::index::matcher::{MatchKind, Matcher};
use crate::labels::Labels;
use crate::storage::shard::{SeriesWrite, WriteOutcome};
use crate::storage::{self, MetricMeta, Policies, Storage};
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
    Storage(#[from] storage::Error),
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

/// Which series and samples a read wants: every matcher holds, samples in [min_t, max_t] (ms).
#[derive(Clone, Debug)]
pub struct Selection {
    pub matchers: Vec<Matcher>,
    pub min_t: i64,
    pub max_t: i64,
}

pub enum Data {
    Local(Arc<Storage>),
    Cluster(Arc<Coordinator>),
}

impl Data {
    /// This node's storage: catalog, users and metadata, and the internal endpoints' data.
    /// (A read or write of series goes through the methods below.)
    pub fn storage(&self) -> &Arc<Storage> {
        match self {
            Data::Local(s) => s,
            Data::Cluster(c) => c.storage(),
        }
    }

    /// Stores series in policy `rp` (or the default one) of `db`; registers line protocol's
    /// fields first. Answers when every series is stored (every copy, in a cluster).
    pub async fn write(&self, db: &str, rp: Option<&str>, series: Vec<SeriesWrite>, fields: &FieldPairs) -> Result<WriteOutcome, Error> {
        self.storage().register_fields(db, fields)?;
        if series.is_empty() {
            return Ok(WriteOutcome::default());
        }
        match self {
            Data::Local(s) => Ok(s.write(db, rp, series).await?),
            Data::Cluster(c) => c.write(db, rp, series, fields).await,
        }
    }

    /// Metric metadata (type, help, unit) as remote write carries it; kept by the node that
    /// received it.
    pub fn put_metadata(&self, db: &str, entries: Vec<MetricMeta>) -> Result<(), Error> {
        Ok(self.storage().put_metadata(db, entries)?)
    }

    /// The series matching `selection` with their chunks in its time range, series by series
    /// in label order, read as the stream is consumed (in a cluster, from every node at once).
    pub async fn select(&self, db: &str, which: Policies<'_>, selection: Selection) -> Result<SeriesStream, Error> {
        match self {
            Data::Local(s) => SeriesStream::local(s.clone(), db, which, selection).await,
            Data::Cluster(c) => c.read(db, which, selection).await,
        }
    }

    /// The label sets of the series matching every matcher, sorted and unique.
    pub async fn series(&self, db: &str, which: Policies<'_>, matchers: Vec<Matcher>) -> Result<Vec<Labels>, Error> {
        match self {
            Data::Local(s) => {
                let found = s.select(db, which, matchers).await?;
                let unique: BTreeSet<Labels> = found.into_iter().map(|s| s.labels).collect();
                Ok(unique.into_iter().collect())
            }
            Data::Cluster(c) => c.series(db, which, matchers).await,
        }
    }

    /// Every value of label `name`, sorted and unique.
    pub async fn label_values(&self, db: &str, which: Policies<'_>, name: &str) -> Result<Vec<String>, Error> {
        match self {
            Data::Local(s) => Ok(s.label_values(db, which, name).await?),
            Data::Cluster(c) => {
                let has_label = Matcher::new(MatchKind::Regex, name, ".+").expect("a valid regex");
                let values: BTreeSet<String> = c.series(db, which, vec![has_label]).await?.iter().map(|l| l.get(name).to_string()).collect();
                Ok(values.into_iter().collect())
            }
        }
    }

    /// Every label name of the series matching every matcher, sorted and unique.
    pub async fn label_names(&self, db: &str, which: Policies<'_>, matchers: Vec<Matcher>) -> Result<Vec<String>, Error> {
        let names: BTreeSet<String> = self.series(db, which, matchers).await?.iter().flat_map(|l| l.iter().map(|(n, _)| n.to_string()).collect::<Vec<_>>()).collect();
        Ok(names.into_iter().collect())
    }

    /// Runs a change of databases, retention policies or users against this node's storage;
    /// in a cluster, under the catalog lock, then recorded and sent to the other nodes.
    pub async fn change_catalog<T, E: From<Error>>(&self, change: impl Future<Output = Result<T, E>>) -> Result<T, E> {
        match self {
            Data::Local(_) => change.await,
            Data::Cluster(c) => c.change_catalog(change).await,
        }
    }

    /// Whether this node's catalog holds everything the other nodes know: always alone; in a
    /// cluster once every peer has exchanged catalogs with it since it started.
    pub fn catalog_complete(&self) -> bool {
        match self {
            Data::Local(_) => true,
            Data::Cluster(c) => c.cluster.catalog_synced(),
        }
    }

    /// A deletion that ran on this node's storage (`statement`, InfluxQL, in `db`): in a
    /// cluster, recorded for the other nodes, which run it on their own data.
    pub async fn share_deletion(&self, db: &str, statement: &str) -> Result<(), Error> {
        match self {
            Data::Local(_) => Ok(()),
            Data::Cluster(c) => c.share_deletion(db, statement).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Metrics;
    use crate::storage::StorageOptions;

    #[actix_web::test]
    async fn series_label_names_and_values_of_the_local_storage() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open(StorageOptions { data_dir: dir.path().into(), shards: 2, sync_writes: false }, Arc::new(Metrics::default())).unwrap();
        storage.create_database("db", None).unwrap();
        let data = Data::Local(Arc::new(storage));
        let series: Vec<SeriesWrite> = [[("__name__", "up"), ("job", "node")], [("__name__", "up"), ("zone", "eu")], [("__name__", "go_gc"), ("job", "api")]]
            .iter()
            .map(|pairs| {
                let labels = Labels::from_sorted(pairs.iter().copied());
                SeriesWrite { hash: labels.stable_hash(), labels, samples: vec![(1, 1.0)] }
            })
            .collect();
        data.write("db", None, series, &FieldPairs::new()).await.unwrap();
        let up = || vec![Matcher::new(MatchKind::Equal, "__name__", "up").unwrap()];
        let found: Vec<String> = data.series("db", Policies::One(None), up()).await.unwrap().iter().map(|l| l.to_string()).collect();
        assert_eq!(found, vec![r#"up{job="node"}"#, r#"up{zone="eu"}"#]);
        assert_eq!(data.label_names("db", Policies::All, up()).await.unwrap(), vec!["__name__", "job", "zone"]);
        assert_eq!(data.label_values("db", Policies::All, "job").await.unwrap(), vec!["api", "node"]);
        let e = data.label_values("nosuch", Policies::All, "job").await.unwrap_err();
        assert_eq!(e.to_string(), "database not found: nosuch");
    }
}
