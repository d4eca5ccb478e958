//! This node's storage behind the data interface: `LocalStore` is its `data::SeriesStore`
//! (writes to the shards, reads paged from them, listings from their indexes), and `Storage`
//! itself is the `data::Catalog` handle. Nothing here knows of a cluster.

use super::shard::Wanted;
use super::{Error, Storage};
use crate::data::schema::{Database, Fields, MetricMeta, Policies};
use crate::data::users::UserStore;
use crate::data::{self, Catalog, Data, FieldPairs, Selection, SeriesStore, SeriesStream, Tier, TierAnswer, TimeRange, UserChange};
use crate::encoding::rollup::{merge_same_starts, Window};
use crate::index::matcher::Matcher;
use crate::labels::Labels;
use crate::model::PolicyOptions;
use crate::data::write::{SeriesWrite, WriteOutcome};
use futures_util::future::LocalBoxFuture;
use std::collections::BTreeSet;
use std::sync::Arc;

pub use super::pager::local_stream;

/// The data interface over this node's storage alone.
pub struct LocalStore(pub Arc<Storage>);

/// The data interface of a node that is alone: its storage, for series and catalog.
pub fn local_data(storage: Arc<Storage>) -> Data {
    Data::new(Arc::new(LocalStore(storage.clone())), storage)
}

impl SeriesStore for LocalStore {
    fn write<'a>(&'a self, db: &'a str, rp: Option<&'a str>, series: Vec<SeriesWrite>, _fields: &'a FieldPairs) -> LocalBoxFuture<'a, Result<WriteOutcome, data::Error>> {
        Box::pin(async move { Ok(self.0.write(db, rp, series).await?) })
    }

    /// Hinted handoff's merge (`Storage::backfill`).
    fn import<'a>(&'a self, db: &'a str, rp: Option<&'a str>, series: Vec<SeriesWrite>, _fields: &'a FieldPairs) -> LocalBoxFuture<'a, Result<WriteOutcome, data::Error>> {
        Box::pin(async move { Ok(self.0.backfill(db, rp, series).await?) })
    }

    fn select<'a>(&'a self, db: &'a str, which: Policies<'a>, selection: Selection) -> LocalBoxFuture<'a, Result<SeriesStream, data::Error>> {
        Box::pin(local_stream(self.0.clone(), db, which, selection))
    }

    fn select_tier<'a>(&'a self, db: &'a str, which: Policies<'a>, selection: Selection, tier: Tier) -> LocalBoxFuture<'a, Result<TierAnswer, data::Error>> {
        Box::pin(async move {
            let found = self.0.select(db, which, selection.matchers).await?;
            let (windows, through) = self.0.read_tier(db, which, &found, tier, selection.min_t, selection.max_t).await?;
            // A label set in several policies is one series to readers, as in raw reads.
            let mut series: Vec<(Labels, Vec<Window>)> = Vec::new();
            for (s, w) in found.into_iter().zip(windows).filter(|(_, w)| !w.is_empty()) {
                match series.last_mut() {
                    Some((labels, before)) if *labels == s.labels => {
                        before.extend(w);
                        *before = merge_same_starts(std::mem::take(before));
                    }
                    _ => series.push((s.labels, w)),
                }
            }
            Ok(TierAnswer { series, through })
        })
    }

    fn series<'a>(&'a self, db: &'a str, which: Policies<'a>, matchers: Vec<Matcher>, range: TimeRange) -> LocalBoxFuture<'a, Result<Vec<Labels>, data::Error>> {
        Box::pin(async move {
            if let Some((min_t, max_t)) = range {
                let stream = self.select(db, which, Selection { matchers, min_t, max_t }).await?;
                return data::series_with_samples(stream, min_t, max_t).await;
            }
            let found = self.0.select(db, which, matchers).await?;
            let unique: BTreeSet<Labels> = found.into_iter().map(|s| s.labels).collect();
            Ok(unique.into_iter().collect())
        })
    }

    /// From the shards' indexes (see `shard::labels` for which series a range counts).
    fn label_values<'a>(&'a self, db: &'a str, which: Policies<'a>, name: &'a str, matchers: Vec<Matcher>, range: TimeRange) -> LocalBoxFuture<'a, Result<Vec<String>, data::Error>> {
        Box::pin(async move { Ok(self.0.label_index(db, which, matchers, range, Wanted::Values(name.to_string())).await?) })
    }

    /// As `label_values`.
    fn label_names<'a>(&'a self, db: &'a str, which: Policies<'a>, matchers: Vec<Matcher>, range: TimeRange) -> LocalBoxFuture<'a, Result<Vec<String>, data::Error>> {
        Box::pin(async move { Ok(self.0.label_index(db, which, matchers, range, Wanted::Names).await?) })
    }
}

impl Catalog for Storage {
    fn database(&self, name: &str) -> Result<Database, Error> {
        Storage::database(self, name)
    }
    fn databases(&self) -> Vec<String> {
        Storage::databases(self)
    }
    fn require_policy(&self, db: &str, rp: Option<&str>) -> Result<(), Error> {
        Storage::require_policy(self, db, rp)
    }
    fn create_database(&self, name: &str, policy: Option<(&str, &PolicyOptions)>) -> Result<(), Error> {
        Storage::create_database(self, name, policy)
    }
    fn drop_database<'a>(&'a self, name: &'a str) -> LocalBoxFuture<'a, Result<(), Error>> {
        Box::pin(Storage::drop_database(self, name))
    }
    fn create_policy(&self, db: &str, name: &str, opts: &PolicyOptions) -> Result<(), Error> {
        Storage::create_policy(self, db, name, opts)
    }
    fn alter_policy(&self, db: &str, name: &str, opts: &PolicyOptions) -> Result<(), Error> {
        Storage::alter_policy(self, db, name, opts)
    }
    fn drop_policy<'a>(&'a self, db: &'a str, name: &'a str) -> LocalBoxFuture<'a, Result<(), Error>> {
        Box::pin(Storage::drop_policy(self, db, name))
    }
    fn users(&self) -> &UserStore {
        Storage::users(self)
    }
    fn change_users(&self, name: &str, change: UserChange<'_>) -> Result<(), Error> {
        Storage::change_user(self, name, change)
    }
    fn metadata(&self, db: &str) -> Result<Vec<MetricMeta>, Error> {
        Storage::metadata(self, db)
    }
    fn put_metadata(&self, db: &str, entries: Vec<MetricMeta>) -> Result<(), Error> {
        Storage::put_metadata(self, db, entries)
    }
    fn line_fields(&self, db: &str) -> Result<Fields, Error> {
        Storage::line_fields(self, db)
    }
    fn register_fields(&self, db: &str, pairs: &FieldPairs) -> Result<(), Error> {
        Storage::register_fields(self, db, pairs)
    }
    fn delete<'a>(&'a self, db: &'a str, matchers: Vec<Matcher>, keep: &'a dyn Fn(&Labels) -> bool, range: Option<(i64, i64)>) -> LocalBoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let mut found = self.select(db, Policies::All, matchers).await?;
            found.retain(|s| keep(&s.labels));
            match range {
                Some((min_t, max_t)) => self.delete_points(&found, min_t, max_t).await?,
                None => self.delete_series(&found).await?,
            };
            Ok(())
        })
    }
    fn shard_count(&self) -> usize {
        Storage::shard_count(self)
    }
    fn disk_bytes(&self) -> u64 {
        Storage::disk_bytes(self)
    }
    fn snapshot(&self, name: &str) -> Result<(), Error> {
        Storage::snapshot(self, name).map(|_| ())
    }
    fn clean_tombstones(&self) {
        Storage::clean_tombstones(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::FieldPairs;
    use crate::index::matcher::MatchKind;
    use crate::metrics::Metrics;
    use crate::storage::StorageOptions;

    #[actix_web::test]
    async fn series_label_names_and_values_of_the_local_storage() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open(StorageOptions { data_dir: dir.path().into(), shards: 2, sync_writes: false }, Arc::new(Metrics::default())).unwrap();
        storage.create_database("db", None).unwrap();
        let data = local_data(Arc::new(storage));
        let series: Vec<SeriesWrite> = [[("__name__", "up"), ("job", "node")], [("__name__", "up"), ("zone", "eu")], [("__name__", "go_gc"), ("job", "api")]]
            .iter()
            .map(|pairs| {
                let labels = Labels::from_sorted(pairs.iter().copied());
                SeriesWrite { hash: labels.stable_hash(), labels, samples: vec![(1, 1.0)] }
            })
            .collect();
        data.write("db", None, series, &FieldPairs::new()).await.unwrap();
        let up = || vec![Matcher::new(MatchKind::Equal, "__name__", "up").unwrap()];
        let found: Vec<String> = data.series("db", Policies::One(None), up(), None).await.unwrap().iter().map(|l| l.to_string()).collect();
        assert_eq!(found, vec![r#"up{job="node"}"#, r#"up{zone="eu"}"#]);
        assert_eq!(data.label_names("db", Policies::All, up(), None).await.unwrap(), vec!["__name__", "job", "zone"]);
        assert_eq!(data.label_values("db", Policies::All, "job", vec![], None).await.unwrap(), vec!["api", "node"]);
        let e = data.label_values("nosuch", Policies::All, "job", vec![], None).await.unwrap_err();
        assert_eq!(e.to_string(), "database not found: nosuch");
    }
}
