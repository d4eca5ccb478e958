//! The node side of the cluster's internal protocol: what this node does when a peer asks it
//! to store its share of a write (owned, standing in for an owner that is down, or handed
//! over: `handoff::CopyKind`), to read its own chunks (or a tier's windows) for a selection,
//! to list its own series for matchers, or to merge catalog entries and answer its own. The
//! logic only: the HTTP endpoints (`http/internal.rs`) check the cluster secret and translate
//! the wire format, and the tests' in-process transport (`test_nodes.rs`) calls the same
//! methods. The coordinator reaches this node's own data through it too. It knows nothing of
//! the other nodes.

use super::catalog_sync::{self, Entries};
use super::coordinator::Replay;
use super::handoff::{CopyKind, Handoff};
use crate::data::{FieldPairs, Selection, SeriesStore, SeriesStream, Tier, TierAnswer};
use crate::index::matcher::Matcher;
use crate::labels::Labels;
use crate::storage::series_store::{local_stream, LocalStore};
use crate::data::schema::Policies;
use crate::data::write::{SeriesWrite, WriteOutcome};
use crate::data::StoreError as Error;
use crate::storage::shard::Wanted;
use crate::storage::Storage;
use std::collections::BTreeSet;
use std::sync::Arc;

/// This node's storage with the hints it keeps for others, and its catalog's lock.
pub struct Node {
    handoff: Arc<Handoff>,
    /// Runs a deletion another node ran (the InfluxQL executor's `replay_deletion`).
    replay: Replay,
    /// Held while the catalog changes and its entries are versioned or merged (see
    /// `catalog_sync`), so a merge never sees a change without its entry.
    catalog_lock: tokio::sync::Mutex<()>,
}

impl Node {
    pub fn new(handoff: Arc<Handoff>, replay: Replay) -> Node {
        Node { handoff, replay, catalog_lock: tokio::sync::Mutex::new(()) }
    }

    /// The node over `storage`, with the hints it keeps loaded (see `handoff`).
    pub fn open(storage: Arc<Storage>, replay: Replay) -> Result<Node, Error> {
        Ok(Node::new(Arc::new(Handoff::open(storage)?), replay))
    }

    pub fn storage(&self) -> &Arc<Storage> {
        self.handoff.storage()
    }

    /// This node's storage with the hints it keeps for others.
    pub fn handoff(&self) -> &Handoff {
        &self.handoff
    }

    /// Holds the catalog lock until the guard is dropped.
    pub async fn lock_catalog(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.catalog_lock.lock().await
    }

    /// Stores a share of a write here: registers line protocol's fields, then the copy (with
    /// hints when it stands in for an owner).
    pub async fn write(&self, db: &str, rp: Option<&str>, series: Vec<SeriesWrite>, fields: &FieldPairs, kind: CopyKind<'_>) -> Result<WriteOutcome, Error> {
        self.storage().register_fields(db, fields)?;
        self.handoff.store_copy(db, rp, series, kind).await
    }

    /// This node's series matching `selection`, in label order, as they are stored.
    pub async fn read(&self, db: &str, which: Policies<'_>, selection: Selection) -> Result<SeriesStream, crate::data::Error> {
        local_stream(self.storage().clone(), db, which, selection).await
    }

    /// The windows of `tier` of this node's series matching `selection` (see `TierAnswer`).
    pub async fn read_tier(&self, db: &str, which: Policies<'_>, selection: Selection, tier: Tier) -> Result<TierAnswer, crate::data::Error> {
        LocalStore(self.storage().clone()).select_tier(db, which, selection, tier).await
    }

    /// The label sets of this node's series matching every matcher (with or without samples),
    /// sorted and unique.
    pub async fn series(&self, db: &str, which: Policies<'_>, matchers: Vec<Matcher>) -> Result<Vec<Labels>, Error> {
        let found = self.storage().select(db, which, matchers).await?;
        let unique: BTreeSet<Labels> = found.into_iter().map(|s| s.labels).collect();
        Ok(unique.into_iter().collect())
    }

    /// The label names (`label` `None`) or the values of `label` of this node's series
    /// matching every matcher, counted for `range` from its index (`storage::shard::labels`).
    pub async fn labels(&self, db: &str, which: Policies<'_>, matchers: Vec<Matcher>, range: Option<(i64, i64)>, label: Option<&str>) -> Result<Vec<String>, Error> {
        let wanted = match label {
            None => Wanted::Names,
            Some(name) => Wanted::Values(name.to_string()),
        };
        Ok(self.storage().label_index(db, which, matchers, range, wanted).await?)
    }

    /// Merges another node's catalog entries here, under the catalog lock; deletions run
    /// through `replay`. Answers how many entries changed something.
    pub async fn take(&self, theirs: Entries) -> Result<usize, Error> {
        let _changing = self.lock_catalog().await;
        let storage = self.storage();
        catalog_sync::merge(storage, theirs, |d| (self.replay)(&**storage, d)).await
    }

    /// Merges another node's catalog entries (`take`) and answers this node's.
    pub async fn catalog(&self, theirs: Entries) -> Result<Entries, Error> {
        self.take(theirs).await?;
        catalog_sync::load(self.storage())
    }
}
