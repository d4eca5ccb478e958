//! One shard: an actix actor on its own thread, the only owner of its column families
//! (`shard<N>.series`, `.postings`, `.head`, `.chunks`, `.blocks`, `.log`, and the downsampled
//! tiers' `.rollup5m` and `.rollup1h`) and of their in-memory caches (series table, inverted index, open
//! chunks). Everything else asks by message.
//!
//! Durability: a write appends its accepted samples to the log column family in the same
//! RocksDB write batch as any new series and any chunk that filled up; the batch is in
//! RocksDB's WAL before the reply. A checkpoint stores every changed open chunk in `head`
//! and range-deletes the log up to that point; at start the heads are loaded and the log
//! replayed on top, which recreates exactly the same chunks. For that the partition length
//! (shard duration) that cuts chunks changes only at a checkpoint, stored with it.
//!
//! Series live in a retention policy (`PolicyId`; a database's first policy has the
//! database's id): each policy is a separate space of series, as in InfluxDB.

mod backfill;
mod compact;
mod delete;
mod downsample;
#[cfg(test)]
mod downsample_late_tests;
#[cfg(test)]
mod downsample_tests;
mod labels;
mod messages;
mod pace;
mod read;
mod recovery;
mod retention;
mod seal;
mod stored;
mod tier;
#[cfg(test)]
mod tier_tests;
mod write;

pub use downsample::DEFAULT_DELAY as DEFAULT_DOWNSAMPLE_DELAY;
pub use messages::*;
use crate::encoding::piece::StoredChunk;
/// The encoding of a `StoredChunk` under its former name, for the readers above storage that
/// still use it (`data/frames.rs`, a test in `http/prom_series.rs`); one type, `Encoding`.

use crate::encoding::chunk::XorChunk;
use super::family::Family;
use super::PolicyId;
use super::keys::Partition;
use crate::hash_slots::{prefetch, HashSlots};
use crate::index::postings::Postings;
use crate::data::write::SeriesWrite;
use crate::labels::Labels;
use crate::metrics::Metrics;
use crate::storage::series_limits::Admission;
use actix::prelude::*;
use rocksdb::{ColumnFamily, DB};
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::collections::BTreeSet;
use std::sync::{Arc, RwLock};

/// Policy id → partition length in ms, as the catalog wants it; shared with `Storage`.
pub type PartitionLengths = Arc<RwLock<std::collections::HashMap<PolicyId, i64>>>;

/// Log bytes after which a checkpoint runs, bounding replay time at start.
const CHECKPOINT_LOG_BYTES: usize = 32 << 20;
/// The partition length of a policy the shard has not been told about: the one fixed length
/// that data directories had before retention policies.
const FALLBACK_PARTITION_MS: i64 = 86_400_000;

struct Series {
    policy: PolicyId,
    labels: Labels,
    head: XorChunk,
    /// The earliest time the series may hold a sample at: its first sample's when it was
    /// made, lowered by merges of older ones (`keys::first_time_key`); `i64::MIN` when
    /// unknown. Deletes and retention leave it as it is: it may be earlier than the data.
    first_t: i64,
    /// Changed since the last checkpoint (then its id is in `Shard::dirty`).
    dirty: bool,
}

pub struct Shard {
    index: usize,
    db: Arc<DB>,
    /// Names of the shard's column families, in `Family::EVERY` order.
    cf_names: Vec<String>,
    sync: bool,
    metrics: Arc<Metrics>,
    series: SeriesTable,
    /// Hash of (policy, labels) → series id; the rare 64-bit collisions go to `collided`.
    by_hash: HashSlots<u64>,
    collided: HashMap<u64, Vec<u64>>,
    postings: Postings,
    /// Per policy, the chunk partitions stored.
    partitions: HashMap<PolicyId, BTreeSet<Partition>>,
    /// Per policy, the length of new partitions (its shard duration), as of the last checkpoint.
    partition_ms: HashMap<PolicyId, i64>,
    /// What the catalog wants; adopted at the next write to that policy, with a checkpoint.
    wanted_lengths: PartitionLengths,
    dropped: HashSet<PolicyId>,
    /// Series changed since the last checkpoint.
    dirty: Vec<u64>,
    next_id: u64,
    next_seq: u64,
    log_bytes: usize,
    seal: seal::SealState,
    downsample: downsample::DownsampleState,
    compact: compact::CompactState,
    /// How much older than a series' newest sample a written sample may be and still be
    /// merged in (`--storage.out-of-order-window`, ms); 0 refuses every older one.
    out_of_order_window_ms: i64,
    /// The node's series limits, asked before a series is made (`storage::series_limits`).
    admission: Arc<Admission>,
}

/// Series by id. Ids are dense (allocated one after another), so a vector indexed by id
/// finds a series with one memory access where a hash map needs several: with 100 000
/// series, that lookup is the largest cost of a write.
#[derive(Default)]
struct SeriesTable {
    slots: Vec<Option<Series>>,
    len: usize,
}

impl SeriesTable {
    fn get(&self, id: &u64) -> Option<&Series> {
        self.slots.get(*id as usize)?.as_ref()
    }

    fn get_mut(&mut self, id: &u64) -> Option<&mut Series> {
        self.slots.get_mut(*id as usize)?.as_mut()
    }

    fn insert(&mut self, id: u64, s: Series) {
        let i = id as usize;
        if i >= self.slots.len() {
            self.slots.resize_with(i + 1, || None);
        }
        if self.slots[i].replace(s).is_none() {
            self.len += 1;
        }
    }

    /// Asks the CPU to bring series `id`'s slot into cache.
    fn prefetch(&self, id: u64) {
        if let Some(slot) = self.slots.get(id as usize) {
            let p: *const Option<Series> = slot;
            prefetch(p);
            prefetch(p.cast::<u8>().wrapping_add(std::mem::size_of::<Option<Series>>() - 1));
        }
    }

    fn remove(&mut self, id: &u64) -> Option<Series> {
        let s = self.slots.get_mut(*id as usize)?.take();
        self.len -= s.is_some() as usize;
        s
    }

    fn len(&self) -> usize {
        self.len
    }

    fn iter(&self) -> impl Iterator<Item = (u64, &Series)> {
        self.slots.iter().enumerate().filter_map(|(i, s)| Some((i as u64, s.as_ref()?)))
    }
}

impl std::ops::Index<&u64> for SeriesTable {
    type Output = Series;
    fn index(&self, id: &u64) -> &Series {
        self.get(id).expect("series exists")
    }
}

/// The handle of one of a shard's column families, from its names in `Family::EVERY` order. A
/// free function so that callers can hold it while they borrow other fields of the shard.
fn column_family<'a>(db: &'a DB, names: &[String], family: Family) -> &'a ColumnFamily {
    db.cf_handle(&names[family.index()]).expect("column family exists")
}

fn series_hash(policy: PolicyId, labels_hash: u64) -> u64 {
    labels_hash ^ (policy as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

impl Shard {
    fn cf(&self, family: Family) -> &ColumnFamily {
        column_family(&self.db, &self.cf_names, family)
    }

    fn index_series(&mut self, policy: PolicyId, id: u64, labels: Labels) {
        let h = series_hash(policy, labels.stable_hash());
        if let Some(prev) = self.by_hash.insert(h, id) {
            if prev != id {
                self.by_hash.insert(h, prev);
                self.collided.entry(h).or_default().push(id);
            }
        }
        self.postings.add_series(policy, id);
        self.series.insert(id, Series { policy, labels, head: XorChunk::new(), first_t: i64::MIN, dirty: false });
    }

    fn find(&self, policy: PolicyId, labels_hash: u64, labels: &Labels) -> Option<u64> {
        let h = series_hash(policy, labels_hash);
        let same = |id: &u64| self.series.get(id).is_some_and(|s| s.policy == policy && s.labels == *labels);
        self.by_hash
            .get(h)
            .filter(|id| same(id))
            .or_else(|| self.collided.get(&h)?.iter().find(|id| same(id)))
            .copied()
    }

    /// Prefetches what writing `writes[i]`'s successors will read, in stages so that each
    /// stage finds in cache what the one before brought: the hash → id slot 8 series ahead,
    /// the series' slot in the table 4 ahead, the end of its open chunk 2 ahead.
    fn prefetch_ahead(&self, policy: PolicyId, writes: &[SeriesWrite], i: usize) {
        let id_of = |w: &SeriesWrite| self.by_hash.get_at_home(series_hash(policy, w.hash)).copied();
        if let Some(w) = writes.get(i + 8) {
            self.by_hash.prefetch(series_hash(policy, w.hash));
        }
        if let Some(id) = writes.get(i + 4).and_then(id_of) {
            self.series.prefetch(id);
        }
        if let Some(s) = writes.get(i + 2).and_then(id_of).and_then(|id| self.series.get(&id)) {
            s.head.prefetch_end();
        }
    }

    /// Shares the node's admission, counting this shard's series there.
    pub fn share_admission(&mut self, admission: Arc<Admission>) {
        for (policy, n) in self.series_per_policy() {
            admission.loaded(policy, n);
        }
        self.admission = admission;
    }

    fn series_per_policy(&self) -> HashMap<PolicyId, u64> {
        let mut out: HashMap<PolicyId, u64> = HashMap::default();
        for (_, s) in self.series.iter() {
            *out.entry(s.policy).or_default() += 1;
        }
        out
    }

    fn partition_length(&self, policy: PolicyId) -> i64 {
        self.partition_ms.get(&policy).copied().unwrap_or(FALLBACK_PARTITION_MS)
    }

    /// The partition a series' open chunk lies in (reaching past its first one, as a full
    /// chunk's does); `None` while the chunk is empty.
    fn head_partition(&self, s: &Series) -> Option<Partition> {
        (!s.head.is_empty()).then(|| Partition::of(s.head.min_time(), self.partition_length(s.policy)).reaching(s.head.max_time()))
    }
}

impl Actor for Shard {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // Bound the log of a quiet shard too.
        ctx.run_interval(std::time::Duration::from_secs(60), |shard, _| {
            if !shard.dirty.is_empty() {
                if let Err(e) = shard.checkpoint() {
                    tracing::error!(shard = shard.index, error = %e, "checkpoint failed");
                }
            }
        });
        ctx.run_interval(seal::STEP_EVERY, |shard, _| {
            if let Err(e) = shard.seal_step() {
                tracing::error!(shard = shard.index, error = %e, "sealing failed");
            }
        });
        ctx.run_interval(pace::STEP_EVERY, |shard, _| {
            if let Err(e) = shard.downsample_tick() {
                tracing::error!(shard = shard.index, error = %e, "downsampling failed");
            }
        });
        ctx.run_interval(pace::STEP_EVERY, |shard, _| {
            if let Err(e) = shard.compact_tick() {
                tracing::error!(shard = shard.index, error = %e, "compaction failed");
            }
        });
    }
}

/// A shard alone (shard 0 of a RocksDB in `dir`), as the tests of its parts drive it: every
/// message is a method call, so a test orders reads, writes and sealing as it likes.
#[cfg(test)]
impl Shard {
    /// The catalog knows `policies`, each with the default partition length (a day).
    fn open_for_test(dir: &std::path::Path, policies: &[PolicyId]) -> Shard {
        let mut opts = rocksdb::Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        let db = Arc::new(DB::open_cf(&opts, dir, Family::EVERY.map(|f| f.name(0))).unwrap());
        let lengths: PartitionLengths = Arc::new(RwLock::new(policies.iter().map(|p| (*p, FALLBACK_PARTITION_MS)).collect()));
        Shard::load(0, db, false, Arc::default(), lengths, false).unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (policy, metric name) pairs whose series have one key in a shard: a real 64-bit
    /// collision of `series_hash`, found by a search over names `b<i>` and policies.
    const COLLIDING: [(PolicyId, &str); 2] = [(1_157_636_823, "b3619129"), (136, "a")];
    const COLLIDING_KEY: u64 = 0xcf55_d793_2bc4_dd5b;

    /// Every sample the shard holds of series `id`.
    fn samples_of(shard: &Shard, policy: PolicyId, id: u64) -> Vec<(i64, f64)> {
        let page = shard.read_chunks(&ReadChunks { policy, ids: vec![id], first_from: i64::MIN, min_t: i64::MIN, max_t: i64::MAX, budget: usize::MAX, xor: false }).unwrap();
        let mut out = Vec::new();
        for c in page.series.iter().flatten() {
            c.each(|t, v| out.push((t, v))).unwrap();
        }
        out
    }

    /// Two series whose keys collide are two series, each found and written to apart, in the
    /// states a collision leaves: the first written in the key's slot and the second in the
    /// collision list; the slot emptied by deleting the first, the second found through the
    /// list alone; and both again after a reload from disk, which indexes them in key order
    /// (policy, then id), the other way round.
    #[test]
    fn series_whose_keys_collide_are_told_apart() {
        let dir = tempfile::tempdir().unwrap();
        // The catalog has both policies: a reload drops the series of a policy it lacks.
        let mut shard = Shard::open_for_test(dir.path(), &COLLIDING.map(|(p, _)| p));
        let [(p1, one), (p2, two)] = COLLIDING.map(|(p, name)| (p, Labels::from_sorted([("__name__", name)])));
        assert_eq!([series_hash(p1, one.stable_hash()), series_hash(p2, two.stable_hash())], [COLLIDING_KEY; 2]);
        let write = |shard: &mut Shard, policy: PolicyId, l: &Labels, t: i64, v: f64| {
            let outcome = shard.write(policy, vec![SeriesWrite { labels: l.clone(), hash: l.stable_hash(), samples: vec![(t, v)] }]).unwrap();
            assert_eq!((outcome.accepted, outcome.rejected), (1, 0), "{l} at {t}");
            outcome.new_series
        };
        let find = |shard: &Shard, policy: PolicyId, l: &Labels| shard.find(policy, l.stable_hash(), l);
        let slot_and_list = |shard: &Shard| (shard.by_hash.get(COLLIDING_KEY).copied(), shard.collided.get(&COLLIDING_KEY).cloned().unwrap_or_default());
        assert_eq!(write(&mut shard, p1, &one, 1, 1.0), 1);
        assert_eq!(write(&mut shard, p2, &two, 1, 2.0), 1, "a series of its own, though its key holds the first");
        let (id1, id2) = (find(&shard, p1, &one).unwrap(), find(&shard, p2, &two).unwrap());
        assert_ne!(id1, id2);
        assert_eq!(slot_and_list(&shard), (Some(id1), vec![id2]), "the first in the slot, the second in the list");
        assert_eq!((find(&shard, p2, &one), find(&shard, p1, &two)), (None, None), "a label set in another policy is another series");
        assert_eq!((write(&mut shard, p1, &one, 2, 1.5), write(&mut shard, p2, &two, 2, 2.5)), (0, 0), "each found again");

        // Deleting the first empties the slot: the second is found through the list alone.
        assert_eq!(shard.delete_series(&[id1]).unwrap(), 1);
        assert_eq!(slot_and_list(&shard), (None, vec![id2]), "the slot is empty");
        assert_eq!((find(&shard, p1, &one), find(&shard, p2, &two)), (None, Some(id2)));
        assert_eq!(write(&mut shard, p2, &two, 3, 3.0), 0, "written to again, not made anew");
        assert_eq!(samples_of(&shard, p2, id2), vec![(1, 2.0), (2, 2.5), (3, 3.0)]);
        // The first made anew takes the empty slot; the second stays in the list.
        assert_eq!(write(&mut shard, p1, &one, 4, 4.0), 1);
        let id1 = find(&shard, p1, &one).unwrap();
        assert_eq!(slot_and_list(&shard), (Some(id1), vec![id2]));
        assert_eq!(write(&mut shard, p2, &two, 4, 4.5), 0);

        // From disk the second (its policy sorts first) takes the slot, the first the list.
        shard.checkpoint().unwrap();
        shard.reload();
        assert_eq!(slot_and_list(&shard), (Some(id2), vec![id1]));
        assert_eq!((find(&shard, p1, &one), find(&shard, p2, &two)), (Some(id1), Some(id2)));
        assert_eq!((write(&mut shard, p1, &one, 5, 5.0), write(&mut shard, p2, &two, 5, 5.5)), (0, 0));
        assert_eq!(samples_of(&shard, p1, id1), vec![(4, 4.0), (5, 5.0)]);
        assert_eq!(samples_of(&shard, p2, id2), vec![(1, 2.0), (2, 2.5), (3, 3.0), (4, 4.5), (5, 5.5)]);
        shard.forget(&[id2]);
        assert_eq!(slot_and_list(&shard), (None, vec![id1]));
        assert_eq!((find(&shard, p1, &one), find(&shard, p2, &two)), (Some(id1), None), "the first, in the list, found with the slot empty");
    }

    /// Beyond the hourly limit a new series' samples are refused, named with the limit, and
    /// counted in the metrics; the known series keep ingesting; deleting series does not
    /// give the hour back, and a reload counts the series again for the database limit.
    #[test]
    fn new_series_beyond_a_limit_are_refused_and_known_ones_keep_ingesting() {
        use crate::data::write::{Refused, SeriesLimit};
        use crate::storage::series_limits::SeriesLimits;
        let dir = tempfile::tempdir().unwrap();
        let mut shard = Shard::open_for_test(dir.path(), &[1]);
        let admission = Arc::new(Admission::default());
        admission.set_limits(SeriesLimits { hourly: 2, daily: 0, per_database: 0 });
        shard.share_admission(admission.clone());
        let w = |name: &str, t: i64| {
            let labels = Labels::from_sorted([("__name__", name)]);
            SeriesWrite { hash: labels.stable_hash(), labels, samples: vec![(t, 1.0), (t + 1, 2.0)] }
        };
        let now = crate::clock::now_ms();
        let out = shard.write(1, vec![w("a", now), w("b", now), w("c", now)]).unwrap();
        assert_eq!((out.accepted, out.new_series, out.rejected), (4, 2, 2));
        assert_eq!(out.rejections[0].why, Refused::SeriesLimit { limit: SeriesLimit::Hourly, max: 2 });
        assert_eq!(out.rejections[0].to_string(), "new series c{} refused: the limit of 2 new series per hour (--storage.max-hourly-series) is reached");
        assert_eq!(shard.metrics.series_limit_rejected[SeriesLimit::Hourly as usize].load(std::sync::atomic::Ordering::Relaxed), 2);
        let out = shard.write(1, vec![w("a", now + 10), w("b", now + 10)]).unwrap();
        assert_eq!((out.accepted, out.rejected), (4, 0), "known series keep ingesting");
        let a = shard.find(1, w("a", 0).hash, &w("a", 0).labels).unwrap();
        shard.delete_series(&[a]).unwrap();
        assert_eq!(shard.write(1, vec![w("c", now + 20)]).unwrap().rejected, 2, "the hour still holds two new series");
        admission.set_limits(SeriesLimits { hourly: 0, daily: 0, per_database: 1 });
        shard.reload();
        assert_eq!(shard.write(1, vec![w("c", now + 30)]).unwrap().rejected, 2, "b is still there: the database is full");
        assert_eq!(shard.write(1, vec![w("b", now + 30)]).unwrap().accepted, 2);
    }
}
