//! Sealing: full XOR chunks re-encoded into dense blocks (`encoding::block`, about a quarter of
//! their size) in the background. A step, every `STEP_EVERY` on the shard's thread between
//! writes, reads about `STEP_KEYS` keys of `chunks` on from where the last one stopped, and
//! groups them by series and partition. A group whose series has moved on to a later
//! partition is sealed whole; in a partition still written to, its chunks are sealed `RUN`
//! at a time. Blocks hold `RUN` to `2 × RUN - 1` chunks (480 to 840 samples at 120 a chunk).
//! Once the partition is old, `compact` rewrites them as a block a day.
//! One write batch per step puts the blocks in `blocks` and deletes their chunks, so a crash
//! at any moment of it loses nothing and duplicates nothing. A pass that reached the end
//! starts again `PASS_EVERY` later if chunks were cut meanwhile; a clean stop runs one last
//! pass. A data directory of the format before blocks is sealed by the first passes; reads
//! take chunks and blocks alike meanwhile.

use super::{column_family, Shard};
use crate::storage::keys;
use crate::encoding::piece::Encoding;
use crate::encoding::block;
use crate::storage::family::Family;
use crate::storage::Error;
use rocksdb::{WriteBatch, WriteOptions};
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

/// Chunks per block (4 × 120 samples: two hours at 15 s).
const RUN: usize = 4;
/// Chunk keys one step reads (whole groups: a step may read a few more).
const STEP_KEYS: usize = 256;
/// How often a step runs while a pass is under way.
pub(super) const STEP_EVERY: Duration = Duration::from_millis(20);
/// The least time between the starts of two passes.
const PASS_EVERY: Duration = Duration::from_secs(10);

/// Where sealing stands in a shard.
#[derive(Default)]
pub(super) struct SealState {
    /// Where the pass under way goes on (`None`: no pass under way).
    cursor: Option<Vec<u8>>,
    /// Full chunks cut since the last pass began.
    pub(super) cut: u64,
    last_pass: Option<Instant>,
}

impl SealState {
    /// A pass is due at once after start: chunks cut before a stop or a crash, or by a
    /// version before blocks, are sealed.
    pub(super) fn at_start() -> SealState {
        SealState { cut: 1, ..Default::default() }
    }
}

/// A full chunk read from `chunks`: its key, max time and XOR bytes.
type Chunk = (Vec<u8>, i64, Vec<u8>);

impl Shard {
    /// One step of sealing, when a pass is under way or due. Answers whether the pass goes on.
    pub(super) fn seal_step(&mut self) -> Result<bool, Error> {
        if self.seal.cursor.is_none() {
            if self.seal.cut == 0 || self.seal.last_pass.is_some_and(|t| t.elapsed() < PASS_EVERY) {
                return Ok(false);
            }
            self.seal.cursor = Some(Vec::new());
            self.seal.cut = 0;
            self.seal.last_pass = Some(Instant::now());
        }
        let started = Instant::now();
        let from = self.seal.cursor.clone().unwrap_or_default();
        let db = self.db.clone();
        let mut it = db.raw_iterator_cf(column_family(&db, &self.cf_names, Family::of(Encoding::Xor)));
        it.seek(&from);
        let mut batch = WriteBatch::default();
        let (mut group, mut read, mut sealed) = (Vec::<Chunk>::new(), 0usize, 0u64);
        let next = loop {
            let key = it.key();
            let same = matches!((key, group.first()), (Some(k), Some(g)) if k.get(..20) == g.0.get(..20));
            if !same && !group.is_empty() {
                sealed += self.seal_group(&std::mem::take(&mut group), &mut batch)?;
                if read >= STEP_KEYS {
                    break key.map(<[u8]>::to_vec);
                }
            }
            let (Some(k), Some(v)) = (key, it.value()) else { break None };
            let (max_t, xor) = keys::decode_chunk_value(v)?;
            group.push((k.to_vec(), max_t, xor.to_vec()));
            read += 1;
            it.next();
        };
        it.status()?;
        drop(it);
        self.write_step(batch)?;
        self.metrics.sealed_samples.fetch_add(sealed, Relaxed);
        self.metrics.seal_nanos.fetch_add(started.elapsed().as_nanos() as u64, Relaxed);
        if next.is_none() {
            self.metrics.seal_passes.fetch_add(1, Relaxed);
        }
        self.seal.cursor = next;
        Ok(self.seal.cursor.is_some())
    }

    /// Writes the batch of a background step (sealing, compaction), synced when writes are.
    pub(super) fn write_step(&self, batch: WriteBatch) -> Result<(), Error> {
        if !batch.is_empty() {
            let mut wo = WriteOptions::default();
            wo.set_sync(self.sync);
            self.db.write_opt(batch, &wo)?;
        }
        Ok(())
    }

    /// Runs a whole pass now, whatever time the last one ran, for at most `budget` (at least
    /// one step); answers whether it finished. What it leaves is sealed after the next start.
    pub(super) fn seal_all(&mut self, budget: Duration) -> Result<bool, Error> {
        let started = Instant::now();
        self.seal.last_pass = None;
        self.seal.cut = self.seal.cut.max(1);
        while self.seal_step()? {
            if started.elapsed() >= budget {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Seals what is ready of one series' chunks in one partition (in time order) into `batch`;
    /// answers the samples sealed.
    fn seal_group(&mut self, group: &[Chunk], batch: &mut WriteBatch) -> Result<u64, Error> {
        let key = &group[0].0;
        let (policy, p, id) = (keys::u32_at(key, 0), keys::partition_at(key), keys::u64_at(key, 12));
        // Chunks of a series this shard no longer has are left to whatever removes them.
        let Some(series) = self.series.get(&id).filter(|s| s.policy == policy) else { return Ok(0) };
        let moved_on = series.head.is_empty() || !p.contains(series.head.min_time());
        let ready = if moved_on { group.len() } else { group.len() / RUN * RUN };
        if ready == 0 || (!moved_on && ready < RUN) {
            return Ok(0);
        }
        let blocks = (ready / RUN).max(1);
        let (chunks_cf, blocks_cf) = (column_family(&self.db, &self.cf_names, Family::of(Encoding::Xor)), column_family(&self.db, &self.cf_names, Family::of(Encoding::Block)));
        let mut sealed = 0u64;
        self.compact.touched(policy, p);
        for b in 0..blocks {
            let part = &group[b * ready / blocks..(b + 1) * ready / blocks];
            let mut samples = Vec::with_capacity(part.len() * 120);
            for (k, _, xor) in part {
                Encoding::Xor.each(xor, |t, v| samples.push((t, v)))?;
                batch.delete_cf(chunks_cf, k);
            }
            let (Some(first), Some(last)) = (samples.first(), samples.last()) else { continue };
            if samples.len() > block::MAX_SAMPLES {
                return Err(Error::Corrupt(format!("{} samples in {} chunks of series {id}", samples.len(), part.len())));
            }
            batch.put_cf(blocks_cf, keys::chunk_key(policy, p, id, first.0), keys::encode_chunk_value(last.0, &Encoding::Block.encode(&samples)));
            sealed += samples.len() as u64;
        }
        Ok(sealed)
    }
}

#[cfg(test)]
mod tests {
    use crate::index::matcher::{MatchKind, Matcher};
    use crate::model::PolicyOptions;
    use crate::storage::testing::*;
    use crate::storage::{catalog, Policies};
    use std::sync::atomic::Ordering::Relaxed;

    const STALE: u64 = 0x7ff0_0000_0000_0002;

    /// A counter growing by decimal steps, with a staleness marker, −0.0, +Inf and a value that
    /// is no short decimal here and there; every other scrape (15 s) of ten hours from `from`.
    fn counter(from: i64, odd: bool) -> Vec<(i64, f64)> {
        (0..2400i64)
            .filter(|i| (i % 2 == 1) == odd)
            .map(|i| {
                let v = match i % 97 {
                    13 => f64::from_bits(STALE),
                    14 => -0.0,
                    15 => f64::INFINITY,
                    16 => 0.1 + 0.2,
                    _ => 1000.0 + i as f64 * 0.25,
                };
                (from + i * 15_000, v)
            })
            .collect()
    }

    fn bits(samples: &[(i64, f64)]) -> Vec<(i64, u64)> {
        samples.iter().map(|(t, v)| (*t, v.to_bits())).collect()
    }

    #[actix_web::test]
    async fn sealed_data_reads_deletes_backfills_and_expires_as_chunks_did() {
        let dir = tempfile::tempdir().unwrap();
        let now = 1_800_000_000_000 / HOUR * HOUR;
        let from = now - 10 * HOUR;
        let one_hour = PolicyOptions { duration: Some(4 * catalog::HOUR_NS), shard_duration: Some(catalog::HOUR_NS), ..Default::default() };
        let storage = open(dir.path());
        storage.create_database("db", None).unwrap();
        storage.create_policy("db", "short", &one_hour).unwrap();
        // Every other scrape now; the ones between come later as a backfill.
        storage.write("db", Some("short"), vec![series("a", counter(from, false))]).await.unwrap();
        storage.write("db", None, vec![series("b", counter(from, false))]).await.unwrap();
        let written = bits(&counter(from, false));
        assert_eq!(values_of(&storage, Some("short"), "a").await, written);

        storage.seal_all().await.unwrap();
        let sealed = storage.metrics.sealed_samples.load(Relaxed);
        // "a": ten one-hour partitions of 120 samples each, all moved on but the last, whose one
        // chunk is the open one; "b": 1 200 samples in one partition, nine full chunks (eight
        // sealed, four at a time) and the open one.
        assert_eq!(sealed, 9 * 120 + 8 * 120, "samples sealed");
        assert_eq!(values_of(&storage, Some("short"), "a").await, written, "read back from blocks");
        assert_eq!(values_of(&storage, None, "b").await, written);
        drop(storage);
        let storage = open(dir.path());
        assert_eq!(values_of(&storage, Some("short"), "a").await, written, "after a restart");

        // A retried sample that is sealed is a duplicate; another value there is refused.
        let (t, v) = counter(from, false)[300];
        let again = storage.write("db", Some("short"), vec![series("a", vec![(t, v)])]).await.unwrap();
        let other = storage.write("db", Some("short"), vec![series("a", vec![(t, v + 1.0)])]).await.unwrap();
        assert_eq!((again.duplicates, other.rejected), (1, 1));

        // The scrapes between, backfilled into the sealed hours, then sealed again.
        let out = storage.backfill("db", Some("short"), vec![series("a", counter(from, true))]).await.unwrap();
        assert_eq!(out.accepted, 1200);
        let mut all = counter(from, false);
        all.extend(counter(from, true));
        all.sort_by_key(|s| s.0);
        assert_eq!(values_of(&storage, Some("short"), "a").await, bits(&all));
        storage.seal_all().await.unwrap();
        assert_eq!(values_of(&storage, Some("short"), "a").await, bits(&all), "sealed again");

        // DELETE across the inside of a block.
        let (del_from, del_to) = (from + 3 * HOUR + 600_000, from + 3 * HOUR + 1_800_000);
        let a = storage.select("db", Policies::One(Some("short")), vec![Matcher::new(MatchKind::Equal, "__name__", "a").unwrap()]).await.unwrap();
        storage.delete_points(&a, del_from, del_to).await.unwrap();
        let left: Vec<(i64, f64)> = all.iter().copied().filter(|(t, _)| *t < del_from || *t > del_to).collect();
        assert!(left.len() < all.len());
        assert_eq!(values_of(&storage, Some("short"), "a").await, bits(&left));

        // Retention (4 h) drops whole sealed partitions.
        storage.enforce_retention(now).await.unwrap();
        let kept: Vec<(i64, f64)> = left.iter().copied().filter(|(t, _)| *t >= now - 4 * HOUR).collect();
        assert_eq!(values_of(&storage, Some("short"), "a").await, bits(&kept));
        assert_eq!(values_of(&storage, None, "b").await, written, "the other policy keeps everything");
    }

    /// What a read of sealed data gives: the blocks as they are for readers of samples
    /// (PromQL, InfluxQL, SAMPLES), XOR chunks of at most 120 samples for a streamed answer,
    /// and the same samples either way.
    #[actix_web::test]
    async fn a_read_gives_sealed_blocks_as_they_are_or_as_xor_chunks() {
        use crate::data::Selection;
        use crate::encoding::piece::Encoding;
        use crate::storage::series_store::local_stream;
        let dir = tempfile::tempdir().unwrap();
        let from = 1_800_000_000_000 / HOUR * HOUR - 10 * HOUR;
        let storage = std::sync::Arc::new(open(dir.path()));
        storage.create_database("db", None).unwrap();
        storage.write("db", None, vec![series("b", counter(from, false))]).await.unwrap();
        storage.seal_all().await.unwrap();
        let (min_t, max_t) = (from + HOUR + 7_000, from + 5 * HOUR);
        let want: Vec<(i64, u64)> = bits(&counter(from, false)).into_iter().filter(|(t, _)| *t >= min_t && *t <= max_t).collect();
        for xor in [false, true] {
            let selection = Selection { matchers: vec![Matcher::new(MatchKind::Equal, "__name__", "b").unwrap()], min_t, max_t };
            let mut stream = local_stream(storage.clone(), "db", Policies::One(None), selection.clone()).await.unwrap();
            if xor {
                stream.xor_chunks();
            }
            let (_, chunks) = stream.next_chunks().await.unwrap().expect("series b");
            let kinds: Vec<Encoding> = chunks.iter().map(|c| c.kind).collect();
            match xor {
                false => assert!(kinds.contains(&Encoding::Block), "{kinds:?}"),
                true => assert!(kinds.iter().all(|k| *k == Encoding::Xor), "{kinds:?}"),
            }
            let mut got = Vec::new();
            for c in &chunks {
                let before = got.len();
                c.each(|t, v| got.push((t, v.to_bits()))).unwrap();
                assert!(!xor || got.len() - before <= 120, "an XOR chunk of {} samples", got.len() - before);
            }
            got.retain(|(t, _)| *t >= min_t && *t <= max_t);
            assert_eq!(got, want, "xor: {xor}");
            let mut stream = local_stream(storage.clone(), "db", Policies::One(None), selection).await.unwrap();
            if xor {
                stream.xor_chunks();
            }
            let (_, samples) = stream.next_series().await.unwrap().expect("series b");
            assert_eq!(bits(&samples), want, "samples, xor: {xor}");
        }
    }

    /// A shard stopped dead (no checkpoint) after a pass sealed chunks cut since the last
    /// checkpoint replays its log at start: the chunks it cuts again are not stored again, or
    /// their samples would be read twice, from them and from their block (961 of 481 were).
    #[test]
    fn a_shard_stopped_dead_after_a_pass_reads_each_sample_once() {
        use super::super::{ReadChunks, Shard};
        use crate::data::write::SeriesWrite;
        use crate::labels::Labels;
        let from = 1_800_000_000_000 / (24 * HOUR) * (24 * HOUR);
        let labels = Labels::from_sorted([("__name__", "a")]);
        // Four full chunks in one day and a sample the next: sealed whole once it may be.
        let samples: Vec<(i64, f64)> = (0..480).map(|i| (from + i * 15_000, i as f64)).chain([(from + 24 * HOUR, 1.0)]).collect();
        let dir = tempfile::tempdir().unwrap();
        let read = |shard: &Shard| {
            let page = shard.read_chunks(&ReadChunks { policy: 1, ids: vec![1], first_from: i64::MIN, min_t: i64::MIN, max_t: i64::MAX, budget: usize::MAX, xor: false }).unwrap();
            let mut got = Vec::new();
            page.series.iter().flatten().for_each(|c| c.each(|t, v| got.push((t, v))).unwrap());
            got
        };
        let mut shard = Shard::open_for_test(dir.path(), &[1]);
        shard.write(1, vec![SeriesWrite { hash: labels.stable_hash(), labels, samples: samples.clone() }]).unwrap();
        while shard.seal_step().unwrap() {}
        assert_eq!(shard.metrics.sealed_samples.load(Relaxed), 480, "sealed before any checkpoint");
        drop(shard);
        let mut shard = Shard::open_for_test(dir.path(), &[1]);
        let got = read(&shard);
        assert_eq!(got.len(), samples.len(), "samples read after the replay");
        assert_eq!(got, samples, "after the replay");
        while shard.seal_step().unwrap() {}
        assert_eq!(shard.metrics.sealed_samples.load(Relaxed), 0, "nothing left to seal after the replay");
    }

    #[actix_web::test]
    async fn a_pass_with_a_time_budget_stops_after_it_and_the_next_one_finishes() {
        let dir = tempfile::tempdir().unwrap();
        let from = 1_800_000_000_000 / HOUR * HOUR - 10 * HOUR;
        let storage = open(dir.path());
        storage.create_database("db", None).unwrap();
        // The pass due at start runs over nothing; the next is not due for 10 s.
        actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
        // 600 series, each with four full chunks a day back and one sample now: 2 400 chunks,
        // about 1 200 a shard, where one step reads 256.
        let writes = (0..600).map(|i| {
            let mut samples: Vec<(i64, f64)> = (0..480).map(|j| (from - 24 * HOUR + j * 15_000, j as f64)).collect();
            samples.push((from, 0.0));
            series(&format!("s{i}"), samples)
        });
        storage.write("db", None, writes.collect()).await.unwrap();
        assert!(!storage.seal_for(std::time::Duration::ZERO).await.unwrap(), "one step cannot seal it all");
        let sealed = storage.metrics.sealed_samples.load(Relaxed);
        assert!(sealed > 0 && sealed < 600 * 480, "{sealed} samples sealed in one step");
        assert!(storage.seal_for(std::time::Duration::MAX).await.unwrap());
        assert_eq!(storage.metrics.sealed_samples.load(Relaxed), 600 * 480);
    }
}
