//! What `Storage` asks of its shards: writes split by shard, selects and chunk reads
//! gathered from all, deletes, label values, retention and shutdown.

use super::shard::{self, ChunkPage, Expired, Shard};
use crate::data::write::{SeriesWrite, WriteOutcome};
use crate::encoding::piece::StoredChunk;
use crate::encoding::rollup::Tier;
use super::{Error, Policies, PolicyId, SelectedSeries, Storage, family};
use crate::index::matcher::Matcher;
use actix::prelude::*;
use futures_util::future::join_all;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

/// Meta key of the time (ms) of the last clean stop.
const LAST_CLEAN_STOP: &[u8] = b"last_clean_stop";

impl Storage {
    /// Drops every series and chunk of one policy in every shard.
    pub(super) async fn drop_policy_data(&self, policy: PolicyId) -> Result<(), Error> {
        let done = join_all(self.shards.iter().map(|s| s.send(shard::DropPolicy(policy)))).await;
        self.generations.bump_all();
        for r in done {
            r??;
        }
        Ok(())
    }

    /// Retention: in every policy with a duration (of raw data or a tier), drops what is older
    /// than `now_ms` minus it (whole partitions, and series with nothing newer).
    pub async fn enforce_retention(&self, now_ms: i64) -> Result<Expired, Error> {
        let before = |ns: i64| if ns > 0 { now_ms - ns / 1_000_000 } else { i64::MIN };
        let due: Vec<(String, PolicyId, i64, [i64; 2])> = {
            let c = self.catalog.read().unwrap();
            let policies = c.databases.iter().flat_map(|(db, d)| d.policies.iter().map(move |p| (db, p)));
            let horizons = policies.map(|(db, p)| (db.clone(), p.id, before(p.duration), Tier::ALL.map(|t| before(p.tier_duration(t)))));
            horizons.filter(|(_, _, raw, tiers)| *raw > i64::MIN || tiers.iter().any(|t| *t > i64::MIN)).collect()
        };
        let mut total = Expired::default();
        for (db, policy, before, tiers_before) in due {
            for r in join_all(self.shards.iter().map(|s| s.send(shard::Expire { policy, before, tiers_before }))).await {
                let e = r.map_err(Error::from).and_then(|e| e);
                if e.as_ref().map_or(true, |e| e.partitions + e.tier_partitions + e.series > 0) {
                    self.generations.bump(&db);
                }
                let e = e?;
                total.partitions += e.partitions;
                total.tier_partitions += e.tier_partitions;
                total.series += e.series;
            }
        }
        self.metrics.retention_partitions_dropped.fetch_add(total.partitions as u64, Relaxed);
        self.metrics.retention_series_dropped.fetch_add(total.series as u64, Relaxed);
        Ok(total)
    }

    /// Picks the shard of a series from the stable hash of its labels.
    pub fn shard_of(&self, labels_hash: u64) -> usize {
        (labels_hash % self.shards.len() as u64) as usize
    }

    /// Writes series to their shards, in policy `rp` (or the default one); returns when every
    /// shard has its part in the WAL.
    pub async fn write(&self, db: &str, rp: Option<&str>, series: Vec<SeriesWrite>) -> Result<WriteOutcome, Error> {
        self.write_with(db, rp, series, false).await
    }

    /// `write`, except that samples older than a series' newest are merged into its chunks
    /// instead of being refused as out of order (hinted handoff's deliveries, `gemini import`).
    pub async fn backfill(&self, db: &str, rp: Option<&str>, series: Vec<SeriesWrite>) -> Result<WriteOutcome, Error> {
        self.write_with(db, rp, series, true).await
    }

    async fn write_with(&self, db: &str, rp: Option<&str>, series: Vec<SeriesWrite>, backfill: bool) -> Result<WriteOutcome, Error> {
        let policy = self.policy_ids(db, Policies::One(rp))?[0];
        if self.admission.limits_databases() {
            self.admission.note_database(&self.policy_ids(db, Policies::All)?);
        }
        let oldest = series.iter().flat_map(|s| s.samples.iter().map(|(t, _)| *t)).min();
        let mut per_shard: Vec<Vec<SeriesWrite>> = (0..self.shards.len()).map(|_| Vec::new()).collect();
        for s in series {
            per_shard[self.shard_of(s.hash)].push(s);
        }
        let sends = per_shard
            .into_iter()
            .enumerate()
            .filter(|(_, part)| !part.is_empty())
            .map(|(i, part)| self.shards[i].send(shard::Write { policy, series: part, backfill }));
        let mut total = WriteOutcome::default();
        let mut fault = None;
        let done = join_all(sends).await;
        // The clock after the shards applied it: see `Generations::wrote`.
        self.generations.wrote(db, oldest, crate::clock::now_ms());
        for r in done {
            match r {
                Ok(Ok(o)) => total.merge(o),
                Ok(Err(e)) => fault = Some(e),
                Err(e) => fault = Some(Error::from(e)),
            }
        }
        self.metrics.samples_ingested.fetch_add(total.accepted, Relaxed);
        self.metrics.samples_duplicate.fetch_add(total.duplicates, Relaxed);
        self.metrics.samples_rejected.fetch_add(total.rejected, Relaxed);
        self.metrics.series_created.fetch_add(total.new_series, Relaxed);
        match fault {
            // A DROP DATABASE came between resolving the policy and a shard's turn.
            Some(e @ Error::PolicyDropped) if self.database_id(db).is_none() => Err(Error::DatabaseNotFound(format!("{db} ({e})"))),
            Some(e) => Err(e),
            None => Ok(total),
        }
    }

    /// Series matching every matcher in the policies asked for, sorted by labels (then policy),
    /// each with its policy, shard and id.
    pub async fn select(&self, db: &str, which: Policies<'_>, matchers: Vec<Matcher>) -> Result<Vec<SelectedSeries>, Error> {
        let matchers = Arc::new(matchers);
        let mut out = Vec::new();
        for policy in self.policy_ids(db, which)? {
            let sends = self.shards.iter().map(|s| s.send(shard::Select { policy, matchers: matchers.clone() }));
            for (shard, r) in join_all(sends).await.into_iter().enumerate() {
                let found = r?;
                out.extend(found.into_iter().map(|(labels, id)| SelectedSeries { labels, policy, shard, id }));
            }
        }
        out.sort_unstable_by(|a, b| a.labels.cmp(&b.labels).then(a.policy.cmp(&b.policy)));
        Ok(out)
    }

    /// XOR chunks overlapping [min_t, max_t] of each series, in the order given, all at once.
    pub async fn read_chunks(&self, series: &[SelectedSeries], min_t: i64, max_t: i64) -> Result<Vec<Vec<StoredChunk>>, Error> {
        let mut per_page: BTreeMap<(PolicyId, usize), Vec<u64>> = BTreeMap::new();
        for s in series {
            per_page.entry((s.policy, s.shard)).or_default().push(s.id);
        }
        let pages = per_page.into_iter().map(|((policy, shard), ids)| async move {
            let page = self.read_page(shard, shard::ReadChunks { policy, ids, first_from: i64::MIN, min_t, max_t, budget: usize::MAX, xor: true }).await;
            ((policy, shard), page)
        });
        let mut out: HashMap<(PolicyId, usize), std::vec::IntoIter<Vec<StoredChunk>>> = HashMap::new();
        for (at, page) in join_all(pages).await {
            out.insert(at, page?.series.into_iter());
        }
        Ok(series.iter().map(|s| out.get_mut(&(s.policy, s.shard)).and_then(|it| it.next()).unwrap_or_default()).collect())
    }

    /// One page of chunks of one policy from one shard: see `shard::ReadChunks` and
    /// `shard::ChunkPage`. The request is in the shard's mailbox when this returns, so a reader
    /// can ask for its next page before it consumes this one.
    pub fn read_page(&self, shard: usize, request: shard::ReadChunks) -> impl std::future::Future<Output = Result<ChunkPage, Error>> + 'static {
        let request = self.shards[shard].send(request);
        async move { request.await? }
    }

    /// Deletes these series with all their data; answers how many there were.
    pub async fn delete_series(&self, series: &[SelectedSeries]) -> Result<usize, Error> {
        self.per_shard(series, |ids| shard::DeleteSeries(ids)).await
    }

    /// Deletes the samples in [min_t, max_t] of these series; answers how many series were
    /// left with nothing and went.
    pub async fn delete_points(&self, series: &[SelectedSeries], min_t: i64, max_t: i64) -> Result<usize, Error> {
        self.per_shard(series, |ids| shard::DeletePoints { ids, min_t, max_t }).await
    }

    /// Sends each shard the message made from its series' ids; sums the answers.
    async fn per_shard<M>(&self, series: &[SelectedSeries], message: impl Fn(Vec<u64>) -> M) -> Result<usize, Error>
    where
        M: Message<Result = Result<usize, Error>> + Send + 'static,
        Shard: Handler<M>,
    {
        let mut ids: Vec<Vec<u64>> = vec![Vec::new(); self.shards.len()];
        for s in series {
            ids[s.shard].push(s.id);
        }
        let sends = ids.into_iter().enumerate().filter(|(_, ids)| !ids.is_empty()).map(|(i, ids)| self.shards[i].send(message(ids)));
        let done = join_all(sends).await;
        self.deleted_from(series.iter().map(|s| s.policy));
        let mut total = 0;
        for r in done {
            total += r??;
        }
        Ok(total)
    }

    /// Bumps the databases of these policies after a deletion (every database when a policy
    /// is no longer in the catalog).
    fn deleted_from(&self, policies: impl Iterator<Item = PolicyId>) {
        let policies: std::collections::BTreeSet<PolicyId> = policies.collect();
        let c = self.catalog.read().unwrap();
        let mut found = 0;
        for (db, d) in &c.databases {
            let here = d.policies.iter().filter(|p| policies.contains(&p.id)).count();
            if here > 0 {
                self.generations.bump(db);
            }
            found += here;
        }
        if found < policies.len() {
            self.generations.bump_all();
        }
    }

    /// Label names or one label's values across the policies asked for, from every shard's
    /// index (see `shard::LabelIndex`), sorted and unique.
    pub async fn label_index(&self, db: &str, which: Policies<'_>, matchers: Vec<Matcher>, range: Option<(i64, i64)>, wanted: shard::Wanted) -> Result<Vec<String>, Error> {
        let matchers = Arc::new(matchers);
        let mut out = Vec::new();
        for policy in self.policy_ids(db, which)? {
            let sends = self.shards.iter().map(|s| s.send(shard::LabelIndex { policy, matchers: matchers.clone(), range, wanted: wanted.clone() }));
            for r in join_all(sends).await {
                out.extend(r?);
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// Seals every full chunk that is ready now, in every shard (see `shard::seal`).
    pub async fn seal_all(&self) -> Result<(), Error> {
        self.seal_for(std::time::Duration::MAX).await.map(drop)
    }

    /// Seals what is ready, for at most `budget` in each shard (at least one step); answers
    /// whether every shard finished.
    pub async fn seal_for(&self, budget: std::time::Duration) -> Result<bool, Error> {
        let mut finished = true;
        for r in join_all(self.shards.iter().map(|s| s.send(shard::Seal(budget)))).await {
            finished &= r??;
        }
        Ok(finished)
    }

    /// Seals (for a while), stores every open chunk and flushes memtables, so a restart has no
    /// log to replay: called at shutdown, after the last request.
    pub async fn shutdown(&self) -> Result<(), Error> {
        for r in join_all(self.shards.iter().map(|s| s.send(shard::Shutdown))).await {
            r??;
        }
        // The shards flush side by side, so a column family may finish flushing while it still
        // counts an older WAL file as needed (another flush switched the WAL meanwhile): that
        // file would stay and be replayed at the next start. Writing the time of this stop to
        // the meta family makes its flush switch to a new WAL, which moves every column
        // family, all empty now, past the older files, and RocksDB deletes them.
        let meta = family::meta(&self.db);
        self.db.put_cf(meta, LAST_CLEAN_STOP, crate::clock::now_ms().to_be_bytes())?;
        self.db.flush_cf(meta)?;
        Ok(self.db.flush_wal(true)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::matcher::MatchKind;
    use crate::metrics::Metrics;
    use crate::model::PolicyOptions;
    use crate::storage::testing::*;
    use crate::storage::{catalog, StorageOptions};

    /// After a clean stop every WAL file but the live one is gone, and that one is empty:
    /// nothing is replayed at the next start, and the directory holds no stale log bytes.
    #[actix_web::test]
    async fn a_clean_stop_leaves_no_wal_to_replay() {
        for round in 0..20 {
            let dir = tempfile::tempdir().unwrap();
            let storage = open(dir.path());
            storage.create_database("db", None).unwrap();
            if round % 2 == 1 {
                let many: Vec<SeriesWrite> = (0..200).map(|i| series(&format!("m{i}"), minutes(0, 3_600_000))).collect();
                assert_eq!(storage.write("db", None, many).await.unwrap().accepted, 200 * 60);
            }
            storage.shutdown().await.unwrap();
            drop(storage);
            let logs: Vec<(String, u64)> = std::fs::read_dir(dir.path().join("rocksdb"))
                .unwrap()
                .map(|e| e.unwrap())
                .filter(|e| e.file_name().to_string_lossy().ends_with(".log"))
                .map(|e| (e.file_name().to_string_lossy().into_owned(), e.metadata().unwrap().len()))
                .collect();
            assert!(matches!(logs.as_slice(), [(_, 0)]), "round {round}: WAL files left {logs:?}, where the empty live one alone should be");
        }
    }

    #[actix_web::test]
    async fn pages_split_long_series_and_resume_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let opts = StorageOptions { data_dir: dir.path().into(), shards: 2, sync_writes: false };
        let storage = Storage::open(opts, Arc::new(Metrics::default())).unwrap();
        storage.create_database("db", None).unwrap();
        let mut state = 7u64;
        let noisy: Vec<(i64, f64)> = (0..20_000)
            .map(|i| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
                (i * 15_000, f64::from_bits(state >> 2))
            })
            .collect();
        let small = vec![(0, 1.0), (15_000, 2.0)];
        let out = storage.write("db", None, vec![series("a", noisy), series("b", small.clone()), series("c", small)]).await.unwrap();
        assert_eq!(out.accepted, 20_004);
        let all = storage.select("db", Policies::One(None), vec![Matcher::new(MatchKind::Regex, "__name__", ".*").unwrap()]).await.unwrap();
        let whole = storage.read_chunks(&all, i64::MIN, i64::MAX).await.unwrap();
        assert!(whole[0].len() > 100, "a has many chunks");

        // Page through shard by shard with a small budget; the pages put together are the whole.
        for shard in 0..2 {
            let mine: Vec<&SelectedSeries> = all.iter().filter(|s| s.shard == shard).collect();
            let mut ids: std::collections::VecDeque<u64> = mine.iter().map(|s| s.id).collect();
            let mut got: Vec<Vec<StoredChunk>> = vec![Vec::new(); mine.len()];
            let (mut from, mut at, mut pages) = (i64::MIN, 0, 0);
            while !ids.is_empty() {
                let request = shard::ReadChunks { policy: all[0].policy, ids: ids.iter().copied().collect(), first_from: from, min_t: i64::MIN, max_t: i64::MAX, budget: 16 << 10, xor: true };
                let page = storage.read_page(shard, request).await.unwrap();
                pages += 1;
                let bytes: usize = page.series.iter().flatten().map(|c| c.data.len()).sum();
                assert!(bytes < (16 << 10) + 4096, "page of {bytes} bytes");
                let n = page.series.len();
                for (j, chunks) in page.series.into_iter().enumerate() {
                    got[at].extend(chunks);
                    if j + 1 < n || page.resume.is_none() {
                        ids.pop_front();
                        at += 1;
                    }
                }
                from = page.resume.unwrap_or(i64::MIN);
            }
            for (s, chunks) in mine.iter().zip(got) {
                let want = &whole[all.iter().position(|x| x.id == s.id && x.shard == shard).unwrap()];
                assert_eq!(chunks.len(), want.len(), "{}", s.labels);
                assert!(chunks.iter().zip(want).all(|(a, b)| a.data == b.data && a.min_t == b.min_t));
            }
            if mine.iter().any(|s| s.labels.get("__name__") == "a") {
                assert!(pages > 5, "the long series took {pages} pages");
            }
        }
    }

    #[actix_web::test]
    async fn retention_drops_whole_partitions_and_dead_series_and_policies_are_separate() {
        let dir = tempfile::tempdir().unwrap();
        let now = 1_800_000_000_000 / HOUR * HOUR + HOUR / 2;
        let one_hour = PolicyOptions { duration: Some(catalog::HOUR_NS), shard_duration: Some(catalog::HOUR_NS), ..Default::default() };
        {
            let storage = open(dir.path());
            storage.create_database("db", None).unwrap();
            storage.create_policy("db", "short", &one_hour).unwrap();
            // "old" stopped 2 h ago; "live" spans the last 5 h; "kept" is in the default policy.
            storage.write("db", Some("short"), vec![series("old", minutes(now - 5 * HOUR, now - 2 * HOUR)), series("live", minutes(now - 5 * HOUR, now))]).await.unwrap();
            storage.write("db", None, vec![series("kept", minutes(now - 5 * HOUR, now))]).await.unwrap();
            assert_eq!(samples_of(&storage, None).await.len(), 1, "policies are separate spaces");
            let gone = storage.enforce_retention(now).await.unwrap();
            assert_eq!(gone.series, 1, "{gone:?}");
            assert!(gone.partitions >= 3, "{gone:?}");
            let left = samples_of(&storage, Some("short")).await;
            assert_eq!(left.len(), 1);
            assert_eq!(left[0].0, "live");
            // Everything before the partition holding now - 1h is gone, nothing after it.
            let first = left[0].1[0];
            assert_eq!(first, (now - HOUR) / HOUR * HOUR, "whole partitions only");
            assert_eq!(*left[0].1.last().unwrap(), now - 60_000);
            assert_eq!(samples_of(&storage, None).await[0].1.len(), 300, "the default policy keeps all");
            // The dropped series can come back as a new one.
            storage.write("db", Some("short"), vec![series("old", vec![(now, 1.0)])]).await.unwrap();
            // Longer partitions from now on: the log written after this is replayed with them.
            storage.alter_policy("db", "short", &PolicyOptions { duration: Some(48 * catalog::HOUR_NS), shard_duration: Some(24 * catalog::HOUR_NS), ..Default::default() }).unwrap();
            storage.write("db", Some("short"), vec![series("live", minutes(now, now + 3 * HOUR))]).await.unwrap();
        }
        // Reopened without a shutdown: heads and log replay give the same data.
        let storage = open(dir.path());
        let left = samples_of(&storage, Some("short")).await;
        assert_eq!(left.iter().map(|(n, ts)| (n.as_str(), ts.len())).collect::<Vec<_>>(), vec![("live", 90 + 180), ("old", 1)]);
        let d = storage.database("db").unwrap();
        assert_eq!(d.policies.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), vec!["autogen", "short"]);
        storage.drop_policy("db", "short").await.unwrap();
        let err = storage.select("db", Policies::One(Some("short")), vec![]).await.unwrap_err();
        assert!(matches!(&err, Error::PolicyNotFound(rp) if rp == "short"), "{err:?}");
        assert_eq!(samples_of(&storage, None).await[0].1.len(), 300);
    }

}
