//! Compaction of old raw data: once a time partition has ended at least the downsampling delay
//! ago (`--downsample.delay`: later samples are unlikely then), each series' sealed blocks in
//! it (480 to 840 samples, as sealing cut them) are rewritten as one block per UTC day (split
//! evenly in the rare day of more than `block::MAX_SAMPLES` samples). Measured on 1 000 series
//! × 7 days at 15 s, table bytes of `blocks` after zstd: 19.8 MB as sealed, 17.7 MB as day
//! blocks (with `open.rs`' 256 KiB table blocks); a block of a whole 7-day partition saves
//! only 0.2 % more and makes a short read decode a week.
//!
//! A step, every `pace::STEP_EVERY` on the shard's thread between writes, reads about `STEP_KEYS`
//! blocks of the partition under way from where the last step stopped. A series whose blocks
//! there are not laid out so yet is rewritten: its old keys deleted and its new blocks put in
//! the step's one write batch, so a kill -9 at any moment loses and duplicates nothing, and a
//! step done again finds the series laid out and leaves it. Which partitions are done is kept
//! in memory only: after a start each old partition is looked through once. Blocks sealed into
//! a compacted partition (the chunks of a backfill) make it due again (`touched`); `DELETE`
//! rewrites the blocks it cuts in place; retention drops compacted partitions like any other.
//! When a partition is done, RocksDB compacts its range of `blocks` on a thread of its own, so
//! the space of the old blocks comes back while the shard goes on.

use super::pace::Pace;
use super::{column_family, Shard};
use crate::encoding::block;
use crate::encoding::piece::Encoding;
use crate::storage::family::Family;
use crate::storage::keys::{self, Partition};
use crate::storage::{Error, PolicyId};
use rocksdb::WriteBatch;
use rustc_hash::FxHashSet as HashSet;
use std::time::Instant;

/// Blocks one step reads (whole series: a step may read a few more).
const STEP_KEYS: usize = 512;
/// The time a compacted block spans at most: a UTC day.
const DAY_MS: i64 = 86_400_000;

/// Where compaction stands in a shard.
pub(super) struct CompactState {
    /// Blocks after which a step stops (`STEP_KEYS`; tests take fewer).
    step_keys: usize,
    /// The partitions compacted since the start.
    done: HashSet<(PolicyId, Partition)>,
    /// The partition under way and the key its next step starts at.
    current: Option<(PolicyId, Partition, Vec<u8>)>,
    /// When it steps and looks (`pace`).
    pace: Pace,
    /// Series rewritten so far in the partition under way.
    rewritten: usize,
    /// RocksDB compacting the range of the last partition done, on a thread of its own so that
    /// the shard keeps taking writes (it takes about 30 ms per MB); joined before the next one
    /// and when the shard goes, which closes the database only after it.
    reclaiming: Option<std::thread::JoinHandle<()>>,
}

impl Drop for CompactState {
    fn drop(&mut self) {
        if let Some(thread) = self.reclaiming.take() {
            let _ = thread.join();
        }
    }
}

impl Default for CompactState {
    fn default() -> CompactState {
        CompactState { step_keys: STEP_KEYS, done: HashSet::default(), current: None, pace: Pace::default(), rewritten: 0, reclaiming: None }
    }
}

impl CompactState {
    /// Blocks were put in partition `p` of `policy`: it is compacted (again) once old.
    pub(super) fn touched(&mut self, policy: PolicyId, p: Partition) {
        self.done.remove(&(policy, p));
    }
}

/// A sealed block as stored: its key, first and last time, and sample count.
struct Stored {
    key: Vec<u8>,
    min_t: i64,
    max_t: i64,
    count: usize,
    bytes: Vec<u8>,
}

fn day(t: i64) -> i64 {
    t.div_euclid(DAY_MS)
}

/// Whether a series' blocks in a partition (in time order) are laid out as compaction leaves
/// them: each within one day, each day in as few blocks as `block::MAX_SAMPLES` allows.
fn laid_out(blocks: &[Stored]) -> bool {
    blocks.iter().all(|b| day(b.min_t) == day(b.max_t))
        && blocks.chunk_by(|a, b| day(a.min_t) == day(b.min_t)).all(|d| d.len() == d.iter().map(|b| b.count).sum::<usize>().div_ceil(block::MAX_SAMPLES))
}

/// A series' samples (in time order) cut into the blocks compaction writes: a day each, split
/// evenly where a day holds more than `block::MAX_SAMPLES`.
fn day_blocks(samples: &[(i64, f64)]) -> Vec<&[(i64, f64)]> {
    let mut out = Vec::new();
    for d in samples.chunk_by(|a, b| day(a.0) == day(b.0)) {
        let pieces = d.len().div_ceil(block::MAX_SAMPLES);
        out.extend((0..pieces).map(|i| &d[i * d.len() / pieces..(i + 1) * d.len() / pieces]));
    }
    out
}

impl Shard {
    /// The timer's turn: a step when a partition is under way, or a look for one now and then.
    pub(super) fn compact_tick(&mut self) -> Result<(), Error> {
        if self.compact.pace.resting(self.compact.current.is_some()) || self.downsample.stopped {
            return Ok(());
        }
        let work = self.compact_step(crate::clock::now_ms())?;
        self.compact.pace.found(work);
        Ok(())
    }

    /// The first partition that ended at least the downsampling delay before `now_ms` and is
    /// not compacted yet.
    fn compaction_due(&self, now_ms: i64) -> Option<(PolicyId, Partition)> {
        let old = now_ms.saturating_sub(self.downsample.delay_ms);
        let mut all = self.partitions.iter().flat_map(|(policy, ps)| ps.iter().map(move |p| (*policy, *p)));
        all.find(|(policy, p)| p.before(old) && !self.compact.done.contains(&(*policy, *p)))
    }

    /// One step of compaction at time `now_ms`; answers whether a partition was under way.
    pub(super) fn compact_step(&mut self, now_ms: i64) -> Result<bool, Error> {
        if self.compact.current.is_none() {
            let Some((policy, p)) = self.compaction_due(now_ms) else { return Ok(false) };
            self.compact.current = Some((policy, p, keys::partition_prefix(policy, p).to_vec()));
        }
        let (policy, p, from) = self.compact.current.clone().expect("a partition under way");
        let prefix = keys::partition_prefix(policy, p);
        let db = self.db.clone();
        let cf = column_family(&db, &self.cf_names, Family::of(Encoding::Block));
        let mut it = db.raw_iterator_cf(cf);
        it.seek(&from);
        let mut batch = WriteBatch::default();
        let (mut group, mut read, mut rewritten) = (Vec::<Stored>::new(), 0usize, 0usize);
        let next = loop {
            let key = it.key().filter(|k| k.starts_with(&prefix));
            let same = matches!((key, group.first()), (Some(k), Some(g)) if k.get(..20) == g.key.get(..20));
            if !same && !group.is_empty() {
                rewritten += self.stage_day_blocks(&std::mem::take(&mut group), &mut batch) as usize;
                if read >= self.compact.step_keys {
                    break key.map(<[u8]>::to_vec);
                }
            }
            let (Some(k), Some(v)) = (key, it.value()) else { break None };
            let (max_t, bytes) = keys::decode_chunk_value(v)?;
            // A block whose header does not decode counts as full: its series is left as it is.
            let count = block::sample_count(bytes).unwrap_or(block::MAX_SAMPLES);
            group.push(Stored { key: k.to_vec(), min_t: keys::unflip(&k[20..]), max_t, count, bytes: bytes.to_vec() });
            read += 1;
            it.next();
        };
        it.status()?;
        drop(it);
        self.write_step(batch)?;
        self.compact.rewritten += rewritten;
        match next {
            Some(k) => self.compact.current = Some((policy, p, k)),
            None => {
                self.compact.current = None;
                self.compact.done.insert((policy, p));
                let end = keys::prefix_end(&prefix).unwrap_or_else(|| keys::policy_end(policy));
                let series = std::mem::take(&mut self.compact.rewritten);
                if series > 0 {
                    if let Some(thread) = self.compact.reclaiming.take() {
                        let _ = thread.join();
                    }
                    let (db, names, shard, start) = (self.db.clone(), self.cf_names.clone(), self.index, keys::hour_ms(p.start));
                    self.compact.reclaiming = Some(std::thread::spawn(move || {
                        let started = Instant::now();
                        db.compact_range_cf(column_family(&db, &names, Family::of(Encoding::Block)), Some(&prefix[..]), Some(&end[..]));
                        let table_ms = started.elapsed().as_millis() as u64;
                        tracing::info!(shard, policy, start, series, table_ms, "partition compacted into day blocks");
                    }));
                }
            }
        }
        Ok(true)
    }

    /// Puts the rewrite of one series' blocks in a partition (in time order) into day blocks in
    /// `batch`, unless they are laid out so already or one of them does not decode; answers
    /// whether it did.
    fn stage_day_blocks(&self, group: &[Stored], batch: &mut WriteBatch) -> bool {
        if laid_out(group) {
            return false;
        }
        let mut samples = Vec::with_capacity(group.iter().map(|b| b.count).sum());
        for b in group {
            if let Err(e) = Encoding::Block.each(&b.bytes, |t, v| samples.push((t, v))) {
                tracing::warn!(shard = self.index, error = %e, "a block not compacted");
                return false;
            }
        }
        if !samples.windows(2).all(|w| w[0].0 < w[1].0) {
            tracing::warn!(shard = self.index, "blocks of a series overlap: not compacted");
            return false;
        }
        let cf = self.cf(Family::of(Encoding::Block));
        let key = &group[0].key;
        let (policy, p, id) = (keys::u32_at(key, 0), keys::partition_at(key), keys::u64_at(key, 12));
        for b in group {
            batch.delete_cf(cf, &b.key);
        }
        for piece in day_blocks(&samples) {
            let (first, last) = (piece[0].0, piece[piece.len() - 1].0);
            batch.put_cf(cf, keys::chunk_key(policy, p, id, first), keys::encode_chunk_value(last, &Encoding::Block.encode(piece)));
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::super::{ReadChunks, Shard};
    use super::*;
    use crate::data::write::SeriesWrite;
    use crate::labels::Labels;
    use std::time::Duration;

    const POLICY: PolicyId = 1;
    /// The start of a day: the test shard's partitions are days (`Shard::open_for_test`).
    const T0: i64 = 1_800_000_000_000 / DAY_MS * DAY_MS;
    /// Long after every partition below ended.
    const LATER: i64 = T0 + 30 * DAY_MS;
    const HOUR: i64 = 3_600_000;

    /// Scrapes every `every` ms from `from` (inclusive) to `to` (exclusive) of a counter with
    /// decimal steps.
    fn scrapes(from: i64, to: i64, every: i64) -> Vec<(i64, f64)> {
        (from..to).step_by(every as usize).map(|t| (t, 1000.0 + (t - T0) as f64 / 60_000.0)).collect()
    }

    fn labels(name: &str) -> Labels {
        Labels::from_sorted([("__name__", name)])
    }

    fn write(shard: &mut Shard, name: &str, samples: Vec<(i64, f64)>) -> u64 {
        let l = labels(name);
        shard.write(POLICY, vec![SeriesWrite { hash: l.stable_hash(), labels: l.clone(), samples }]).unwrap();
        shard.find(POLICY, l.stable_hash(), &l).unwrap()
    }

    fn samples_of(shard: &Shard, id: u64) -> Vec<(i64, u64)> {
        let page = shard.read_chunks(&ReadChunks { policy: POLICY, ids: vec![id], first_from: i64::MIN, min_t: i64::MIN, max_t: i64::MAX, budget: usize::MAX, xor: false }).unwrap();
        let mut out = Vec::new();
        page.series.iter().flatten().for_each(|c| c.each(|t, v| out.push((t, v.to_bits()))).unwrap());
        out
    }

    fn bits(samples: &[(i64, f64)]) -> Vec<(i64, u64)> {
        samples.iter().map(|(t, v)| (*t, v.to_bits())).collect()
    }

    /// The sample counts of series `id`'s blocks in the partition of day `day`.
    fn blocks_of(shard: &Shard, id: u64, day: i64) -> Vec<usize> {
        let prefix = keys::chunk_prefix(POLICY, Partition::of(T0 + day * DAY_MS, DAY_MS), id);
        let mut it = shard.db.raw_iterator_cf(shard.cf(Family::Blocks));
        it.seek(prefix);
        let mut out = Vec::new();
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            if !k.starts_with(&prefix) {
                break;
            }
            out.push(block::sample_count(keys::decode_chunk_value(v).unwrap().1).unwrap());
            it.next();
        }
        out
    }

    fn compact_all(shard: &mut Shard) {
        while shard.compact_step(LATER).unwrap() {}
    }

    fn stored(min_t: i64, max_t: i64, count: usize) -> Stored {
        Stored { key: Vec::new(), min_t, max_t, count, bytes: Vec::new() }
    }

    #[test]
    fn days_are_cut_at_midnight_and_split_evenly_past_the_most_a_block_holds() {
        let every_second = scrapes(T0 - 10_000, T0 + DAY_MS, 1000);
        let pieces: Vec<usize> = day_blocks(&every_second).iter().map(|p| p.len()).collect();
        // 10 samples before midnight; a day of 86 400 samples is two blocks of 43 200.
        assert_eq!(pieces, [10, 43_200, 43_200]);
        let written: Vec<Stored> = day_blocks(&every_second).iter().map(|p| stored(p[0].0, p[p.len() - 1].0, p.len())).collect();
        assert!(laid_out(&written), "what compaction writes is laid out");
        assert!(!laid_out(&[stored(T0, T0 + HOUR, 240), stored(T0 + 2 * HOUR, T0 + 3 * HOUR, 240)]), "two blocks of a day");
        assert!(!laid_out(&[stored(T0 - HOUR, T0 + HOUR, 480)]), "a block across midnight");
        assert!(laid_out(&[stored(T0 - HOUR, T0 - 1, 240), stored(T0, T0 + HOUR, 240)]), "a block a day");
    }

    /// Three days of scrapes (15 s) and a few minutes of the fourth: the first three days are
    /// sealed whole (480- to 840-sample blocks), then compacted into a block a day, read the
    /// same before and after, after a restart too, and a second pass leaves them.
    #[test]
    fn old_partitions_become_a_block_a_day_and_read_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let mut shard = Shard::open_for_test(dir.path(), &[POLICY]);
        let written = scrapes(T0, T0 + 3 * DAY_MS + 600_000, 15_000);
        let id = write(&mut shard, "a", written.clone());
        assert!(shard.seal_all(Duration::MAX).unwrap());
        assert_eq!(blocks_of(&shard, id, 0).len(), 12, "5 760 samples sealed in blocks of 480");
        assert_eq!(samples_of(&shard, id), bits(&written));
        compact_all(&mut shard);
        for day in 0..3 {
            assert_eq!(blocks_of(&shard, id, day), [5760], "day {day}");
        }
        assert_eq!(samples_of(&shard, id), bits(&written), "read from day blocks");
        assert!(!shard.compact_step(LATER).unwrap(), "nothing left to do");
        drop(shard);
        let mut shard = Shard::open_for_test(dir.path(), &[POLICY]);
        assert_eq!(samples_of(&shard, id), bits(&written), "after a restart");
        let before = shard.db.get_cf(shard.cf(Family::Blocks), keys::chunk_key(POLICY, Partition::of(T0, DAY_MS), id, T0)).unwrap();
        compact_all(&mut shard);
        let after = shard.db.get_cf(shard.cf(Family::Blocks), keys::chunk_key(POLICY, Partition::of(T0, DAY_MS), id, T0)).unwrap();
        assert_eq!((before.is_some(), before == after), (true, true), "a block laid out already is left as it is");
        // Partitions not yet ended the downsampling delay ago wait.
        let recent = scrapes(LATER, LATER + DAY_MS + 60_000, 15_000);
        write(&mut shard, "a", recent.clone());
        assert!(shard.seal_all(Duration::MAX).unwrap());
        while shard.compact_step(LATER + DAY_MS + 60_000).unwrap() {}
        let day = (LATER - T0) / DAY_MS;
        assert_eq!(blocks_of(&shard, id, day).len(), 12, "a partition ended less than the delay ago");
    }

    /// A kill -9 between two steps (the shard dropped without a checkpoint, its RocksDB
    /// reopened) loses and duplicates nothing: one series is compacted, the others not yet, and
    /// the steps after the restart finish them.
    #[test]
    fn a_shard_stopped_dead_in_the_middle_of_a_partition_loses_and_duplicates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut shard = Shard::open_for_test(dir.path(), &[POLICY]);
        let written = scrapes(T0, T0 + DAY_MS + 60_000, 15_000);
        let ids: Vec<u64> = ["a", "b", "c"].iter().map(|n| write(&mut shard, n, written.clone())).collect();
        assert!(shard.seal_all(Duration::MAX).unwrap());
        shard.compact.step_keys = 1;
        assert!(shard.compact_step(LATER).unwrap());
        let counts = |shard: &Shard| ids.iter().map(|id| blocks_of(shard, *id, 0).len()).collect::<Vec<_>>();
        assert_eq!(counts(&shard), [1, 12, 12], "one series a step");
        drop(shard);
        let mut shard = Shard::open_for_test(dir.path(), &[POLICY]);
        assert_eq!(counts(&shard), [1, 12, 12]);
        for id in &ids {
            assert_eq!(samples_of(&shard, *id), bits(&written), "series {id} after the restart");
        }
        shard.compact.step_keys = 1;
        compact_all(&mut shard);
        assert_eq!(counts(&shard), [1, 1, 1]);
        for id in &ids {
            assert_eq!(samples_of(&shard, *id), bits(&written), "series {id} compacted");
        }
    }

    /// DELETE inside a day block, a backfill into a compacted partition (sealed, then
    /// compacted again) and retention all work on day blocks.
    #[test]
    fn day_blocks_take_deletes_backfills_and_retention() {
        let dir = tempfile::tempdir().unwrap();
        let mut shard = Shard::open_for_test(dir.path(), &[POLICY]);
        // Every other scrape now (30 s); the ones between come later as a backfill.
        let even = scrapes(T0, T0 + 2 * DAY_MS + 60_000, 30_000);
        let id = write(&mut shard, "a", even.clone());
        assert!(shard.seal_all(Duration::MAX).unwrap());
        compact_all(&mut shard);
        assert_eq!((blocks_of(&shard, id, 0), blocks_of(&shard, id, 1)), (vec![2880], vec![2880]));

        let (from, to) = (T0 + 3 * HOUR + 1, T0 + 4 * HOUR);
        shard.delete_points(&[id], from, to).unwrap();
        let mut left: Vec<(i64, f64)> = even.iter().copied().filter(|(t, _)| *t < from || *t > to).collect();
        assert_eq!(left.len(), even.len() - 120);
        assert_eq!(samples_of(&shard, id), bits(&left), "deleted inside a day block");
        assert_eq!(blocks_of(&shard, id, 0), [2880 - 120]);

        let odd = scrapes(T0 + 15_000, T0 + 2 * DAY_MS, 30_000);
        let l = labels("a");
        let out = shard.backfill(POLICY, vec![SeriesWrite { hash: l.stable_hash(), labels: l, samples: odd.clone() }], None).unwrap();
        assert_eq!(out.accepted, odd.len() as u64);
        left.extend(odd);
        left.sort_by_key(|s| s.0);
        assert_eq!(samples_of(&shard, id), bits(&left), "backfilled");
        assert!(shard.seal_all(Duration::MAX).unwrap());
        assert!(blocks_of(&shard, id, 0).len() > 1, "the backfill's chunks sealed as blocks");
        compact_all(&mut shard);
        assert_eq!((blocks_of(&shard, id, 0), blocks_of(&shard, id, 1)), (vec![5760 - 120], vec![5760]), "compacted again");
        assert_eq!(samples_of(&shard, id), bits(&left), "backfilled and compacted");

        let expired = shard.expire(POLICY, T0 + DAY_MS, [T0 + DAY_MS; 2]).unwrap();
        assert_eq!(expired.partitions, 1);
        let kept: Vec<(i64, f64)> = left.iter().copied().filter(|(t, _)| *t >= T0 + DAY_MS).collect();
        assert_eq!(samples_of(&shard, id), bits(&kept), "the first day dropped by retention");
        assert_eq!(blocks_of(&shard, id, 0), Vec::<usize>::new());
        compact_all(&mut shard);
        assert_eq!(samples_of(&shard, id), bits(&kept));
    }
}
