//! Downsampling: the 5-minute tier of each time partition, once the partition has ended at
//! least `delay` ago (`--downsample.delay`: later samples are unlikely then). Per series, the
//! samples stored in the partition (sealed blocks, full chunks, and an open chunk that lies in
//! it) become windows (`encoding::rollup`), stored in the shard's `rollup5m` family as rows of
//! at most a day of windows, under the keys of chunks (`[policy][partition][series][first
//! window start]` → `[last window start][row]`): a time range is a range read and retention
//! drops a partition's tier with its raw data, by range.
//!
//! A step, every `STEP_EVERY` on the shard's thread between writes, aggregates series of the
//! partition under way from where the last one stopped, about `STEP_SAMPLES` raw samples, in
//! one write batch with the partition's marker (its `partition_prefix`): the series id the
//! next step starts at, or, in the batch of the last step, nothing, which says the tier is
//! whole; readers use whole partitions only. A restart goes on where the marker says. Rows are
//! a function of the raw data, so a step done again after a crash writes the same keys and
//! bytes: a kill -9 at any moment loses and duplicates nothing. A backfill or `DELETE` that
//! changes a partition's samples removes its tier (rows and marker) in the batch of the
//! change, and the partition is downsampled anew.

use super::stored::StoredIterators;
use super::{column_family, ReadTier, Shard, TierPage};
use crate::encoding::rollup::{self, Tier, FIVE_MINUTES};
use crate::storage::family::Family;
use crate::storage::keys::{self, Partition};
use crate::storage::{Error, PolicyId};
use rocksdb::{WriteBatch, WriteOptions};
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

/// Raw samples one step reads (whole series: a step may read a little more).
const STEP_SAMPLES: usize = 100_000;
/// How often a step runs while a partition is under way.
pub(super) const STEP_EVERY: Duration = Duration::from_millis(50);
/// How often a shard with nothing under way looks for a partition to downsample.
const LOOK_EVERY: Duration = Duration::from_secs(10);
/// The most time one row spans: rows begin at whole days (UTC), 288 windows of 5 minutes.
const ROW_MS: i64 = 86_400_000;
/// How long after its end a partition is downsampled, unless `--downsample.delay` says.
pub const DEFAULT_DELAY: Duration = Duration::from_secs(3600);

/// Where downsampling stands in a shard.
pub(super) struct DownsampleState {
    pub(super) delay_ms: i64,
    /// Raw samples after which a step stops (`STEP_SAMPLES`; tests take fewer).
    pub(super) step_samples: usize,
    /// The partitions whose 5-minute tier is whole (their marker is stored).
    done: HashSet<(PolicyId, Partition)>,
    /// The partition under way and the series id its next step starts at.
    pub(super) current: Option<(PolicyId, Partition, u64)>,
    /// When the last look found nothing to do.
    idle_since: Option<Instant>,
    /// The pending partitions this shard counts in `Metrics::downsample_pending`.
    pub(super) pending: i64,
    /// Set by a shutdown: the timer writes nothing after its last flush.
    pub(super) stopped: bool,
    /// Partitions that took samples after they were ready to downsample (a sender catching
    /// up, an import), with when the last such write came (ms): they wait for the delay
    /// after it, as late samples come in runs.
    late: HashMap<(PolicyId, Partition), i64>,
}

impl Default for DownsampleState {
    fn default() -> DownsampleState {
        DownsampleState { delay_ms: DEFAULT_DELAY.as_millis() as i64, step_samples: STEP_SAMPLES, done: HashSet::default(), current: None, idle_since: None, pending: 0, stopped: false, late: HashMap::default() }
    }
}

impl DownsampleState {
    /// Forgets the partitions `gone` accepts (their tier is deleted), the one under way too.
    pub(super) fn forget(&mut self, gone: impl Fn((PolicyId, Partition)) -> bool) {
        self.done.retain(|k| !gone(*k));
        if self.current.is_some_and(|(policy, p, _)| gone((policy, p))) {
            self.current = None;
        }
    }

    pub(super) fn is_done(&self, policy: PolicyId, p: Partition) -> bool {
        self.done.contains(&(policy, p))
    }
}

impl Shard {
    /// Reads the markers of the partitions downsampled already, and of the one under way: the
    /// first key of each partition's range in `rollup5m`, when it is the partition's prefix.
    pub(super) fn load_downsampled(&mut self) -> Result<(), Error> {
        let db = self.db.clone();
        let mut it = db.raw_iterator_cf(column_family(&db, &self.cf_names, Family::Rollup5m));
        it.seek_to_first();
        while let Some(k) = it.key() {
            let (policy, p) = (keys::u32_at(k, 0), keys::partition_at(k));
            if k.len() == keys::partition_prefix(policy, p).len() {
                match it.value().unwrap_or_default() {
                    [] => drop(self.downsample.done.insert((policy, p))),
                    next => self.downsample.current = Some((policy, p, keys::u64_at(next, 0))),
                }
            }
            match keys::prefix_end(&keys::partition_prefix(policy, p)) {
                Some(next) => it.seek(next),
                None => break,
            }
        }
        Ok(it.status()?)
    }

    /// The timer's turn: a step when a partition is under way, or a look for one now and then.
    pub(super) fn downsample_tick(&mut self) -> Result<(), Error> {
        let resting = self.downsample.current.is_none() && self.downsample.idle_since.is_some_and(|t| t.elapsed() < LOOK_EVERY);
        if resting || self.downsample.stopped {
            return Ok(());
        }
        if !self.downsample_step(crate::clock::now_ms())? {
            self.downsample.idle_since = Some(Instant::now());
        }
        Ok(())
    }

    /// Downsamples everything pending at time `now_ms`, for at most `budget` (at least one
    /// step); answers whether nothing is left.
    pub(super) fn downsample_all(&mut self, now_ms: i64, budget: Duration) -> Result<bool, Error> {
        let started = Instant::now();
        while self.downsample_step(now_ms)? {
            if started.elapsed() >= budget {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The partitions ready at `now_ms` (ended `delay` before it) and not done, in time order.
    fn pending(&self, now_ms: i64) -> Vec<(i64, PolicyId, Partition)> {
        let ready_before = now_ms.saturating_sub(self.downsample.delay_ms);
        let mut out: Vec<(i64, PolicyId, Partition)> = self
            .partitions
            .iter()
            .filter(|(policy, _)| !self.dropped.contains(policy))
            .flat_map(|(policy, set)| set.iter().map(move |p| (*policy, *p)))
            .filter(|(policy, p)| p.before(ready_before) && !self.downsample.is_done(*policy, *p))
            .filter(|key| self.downsample.late.get(key).is_none_or(|&at| at < ready_before))
            .map(|(policy, p)| (keys::hour_ms(p.start), policy, p))
            .collect();
        out.sort_unstable();
        out
    }

    /// One step: picks the oldest pending partition when none is under way, then aggregates
    /// its series from where the last step stopped. Answers whether it did anything (false:
    /// nothing pending).
    pub(super) fn downsample_step(&mut self, now_ms: i64) -> Result<bool, Error> {
        let started = Instant::now();
        let pending = self.pending(now_ms);
        self.metrics.downsample_pending.fetch_add(pending.len() as i64 - self.downsample.pending, Relaxed);
        self.downsample.pending = pending.len() as i64;
        let (policy, p, from) = match (self.downsample.current, pending.first()) {
            (Some(current), _) => current,
            (None, Some(&(_, policy, p))) => (policy, p, 0),
            (None, None) => return Ok(false),
        };
        let db = self.db.clone();
        let names = self.cf_names.clone();
        let cf = column_family(&db, &names, Family::Rollup5m);
        let mut its = StoredIterators::new(&db, &names);
        let mut batch = WriteBatch::default();
        let (mut read, mut windows, mut next) = (0usize, 0u64, None);
        for id in from..self.series.slots.len() as u64 {
            if self.series.get(&id).is_none_or(|s| s.policy != policy) {
                continue;
            }
            if read >= self.downsample.step_samples {
                next = Some(id);
                break;
            }
            let samples = self.samples_in(&mut its, policy, p, id)?;
            read += samples.len();
            let aggregated = rollup::aggregate(&samples, FIVE_MINUTES);
            for row in aggregated.chunk_by(|a, b| a.start.div_euclid(ROW_MS) == b.start.div_euclid(ROW_MS)) {
                let (first, last) = (row[0].start, row[row.len() - 1].start);
                batch.put_cf(cf, keys::chunk_key(policy, p, id, first), keys::encode_chunk_value(last, &rollup::encode_row(row)));
                windows += row.len() as u64;
            }
        }
        drop(its);
        let marker = next.map(|id| id.to_be_bytes().to_vec()).unwrap_or_default();
        batch.put_cf(cf, keys::partition_prefix(policy, p), marker);
        let mut wo = WriteOptions::default();
        wo.set_sync(self.sync);
        self.db.write_opt(batch, &wo)?;
        self.downsample.current = next.map(|id| (policy, p, id));
        if next.is_none() {
            self.downsample.done.insert((policy, p));
            self.downsample.pending -= 1;
            self.metrics.downsample_pending.fetch_sub(1, Relaxed);
        }
        self.metrics.downsample_windows_5m.fetch_add(windows, Relaxed);
        self.metrics.downsample_nanos.fetch_add(started.elapsed().as_nanos() as u64, Relaxed);
        Ok(true)
    }

    /// Every sample of series `id` stored in partition `p`, in time order: its blocks and full
    /// chunks there, and its open chunk when that lies in `p`.
    fn samples_in(&self, its: &mut StoredIterators<'_>, policy: PolicyId, p: Partition, id: u64) -> Result<Vec<(i64, f64)>, Error> {
        let mut samples = Vec::new();
        self.each_stored(its, policy, id, |q| *q == p, |_, _, _, piece| {
            piece.each(|t, v| samples.push((t, v)))?;
            Ok(true)
        })?;
        let series = &self.series[&id];
        if self.head_partition(series) == Some(p) {
            crate::encoding::chunk::decode_each(series.head.bytes(), |t, v| samples.push((t, v))).ok_or_else(|| Error::Corrupt("open chunk".into()))?;
        }
        samples.sort_unstable_by_key(|s| s.0);
        Ok(samples)
    }

    /// The 5-minute windows overlapping [min_t, max_t] of each series asked for (in the order
    /// asked), from the partitions whose tier is whole; and where that tier ends (`tier_through`).
    pub(super) fn read_tier(&self, req: &ReadTier) -> Result<TierPage, Error> {
        let (policy, min_t, max_t) = (req.policy, req.min_t, req.max_t);
        if req.tier != Tier::FiveMinutes {
            // The 1-hour tier is not written yet: it holds nothing.
            return Ok(TierPage { series: vec![Vec::new(); req.ids.len()], through: None });
        }
        let whole: Vec<Partition> = self.partitions.get(&policy).into_iter().flatten().filter(|p| self.downsample.is_done(policy, **p) && p.overlaps(min_t, max_t)).copied().collect();
        let mut it = self.db.raw_iterator_cf(self.cf(Family::Rollup5m));
        let mut page = TierPage { series: Vec::with_capacity(req.ids.len()), through: self.tier_through(policy) };
        for &id in &req.ids {
            let mut windows = Vec::new();
            let parts = if self.series.get(&id).is_some_and(|s| s.policy == policy) { whole.as_slice() } else { &[] };
            for p in parts {
                let prefix = keys::chunk_prefix(policy, *p, id);
                it.seek(prefix);
                while let (Some(k), Some(v)) = (it.key(), it.value()) {
                    if !k.starts_with(&prefix) || keys::unflip(&k[20..]) > max_t {
                        break;
                    }
                    let (last, row) = keys::decode_chunk_value(v)?;
                    if last + FIVE_MINUTES > min_t {
                        let row = rollup::decode_row(row).map_err(|e| Error::Corrupt(format!("5m tier row: {e}")))?;
                        windows.extend(row.into_iter().filter(|w| w.start <= max_t && w.start + FIVE_MINUTES > min_t));
                    }
                    it.next();
                }
                it.status()?;
            }
            page.series.push(rollup::merge_same_starts(windows));
        }
        Ok(page)
    }

    /// The time before which the 5-minute tier of `policy` holds every sample of this shard:
    /// the start of its first partition not done, or the end of the last one done, whichever
    /// comes first (`None`: the shard has no partition of the policy).
    fn tier_through(&self, policy: PolicyId) -> Option<i64> {
        let set = self.partitions.get(&policy)?;
        let done = |p: &&Partition| self.downsample.is_done(policy, **p);
        let first_not_done = set.iter().filter(|p| !done(p)).map(|p| keys::hour_ms(p.start)).min();
        let last_done_end = set.iter().filter(done).map(|p| keys::hour_ms(p.end)).max();
        match (first_not_done, last_done_end) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Notes a write, at `now_ms`, that appended samples in [min_t, max_t] of `policy`: when
    /// they lie in partitions ready to downsample, those partitions' tiers (done or under way)
    /// are removed in the write's batch, and they wait for the delay after this write.
    pub(super) fn note_late_samples(&mut self, policy: PolicyId, min_t: i64, max_t: i64, now_ms: i64, batch: &mut WriteBatch) {
        let ready_before = now_ms.saturating_sub(self.downsample.delay_ms);
        let Some(set) = self.partitions.get(&policy) else { return };
        let late: Vec<Partition> = set.iter().filter(|p| p.overlaps(min_t, max_t) && p.before(ready_before)).copied().collect();
        if late.is_empty() {
            return;
        }
        self.stage_tier_removal(policy, min_t, max_t, batch);
        for p in late {
            self.downsample.late.insert((policy, p), now_ms);
        }
    }

    /// Puts in `batch` the removal of the tier of every partition of `policy` overlapping
    /// [min_t, max_t] that is done or under way, whose samples a change in the same batch
    /// alters: they are downsampled anew.
    pub(super) fn stage_tier_removal(&mut self, policy: PolicyId, min_t: i64, max_t: i64, batch: &mut WriteBatch) {
        let current = self.downsample.current.map(|(policy, p, _)| (policy, p));
        let stale: Vec<Partition> = self
            .partitions
            .get(&policy)
            .into_iter()
            .flatten()
            .filter(|p| p.overlaps(min_t, max_t) && (self.downsample.is_done(policy, **p) || current == Some((policy, **p))))
            .copied()
            .collect();
        let cf = self.cf(Family::Rollup5m);
        for p in &stale {
            let prefix = keys::partition_prefix(policy, *p);
            batch.delete_range_cf(cf, prefix.to_vec(), keys::prefix_end(&prefix).unwrap_or_else(|| keys::policy_end(policy)));
        }
        self.downsample.forget(|(of, p)| of == policy && stale.contains(&p));
    }
}
