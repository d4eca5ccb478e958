//! Downsampling: the 5-minute and 1-hour tiers of each time partition. Once a partition has
//! ended at least `delay` ago (`--downsample.delay`: later samples are unlikely then), per
//! series, the samples stored in it (sealed blocks, full chunks, and an open chunk that lies in
//! it) become 5-minute windows (`encoding::rollup`); once its 5-minute tier is whole, those
//! windows become 1-hour ones (`rollup::coarsen`). Each tier has its family (`rollup5m`,
//! `rollup1h`) with rows of windows under the keys of chunks (`[policy][partition][series]
//! [first window start]` → `[last window start][row]`), a row at most a day of 5-minute
//! windows or 30 days of hours, so a time range is a range read and retention drops a
//! partition's tier by range.
//!
//! A step, every `pace::STEP_EVERY` on the shard's thread between writes, works on one partition
//! of one tier from where the last one stopped: about `STEP_SAMPLES` raw samples (or 5-minute
//! windows), in one write batch with the partition's marker in that tier's family (the key
//! `partition_prefix`): the series id the next step starts at, or, in the batch of the last
//! step, nothing, which says the tier is whole; readers use whole partitions only. One
//! partition is under way at a time, its 5-minute tier before its hour; a restart goes on
//! where the marker says. Rows are a function of their source, so a step done again after a
//! crash writes the same keys and bytes: a kill -9 at any moment loses and duplicates nothing.
//!
//! The tiers keep a record of their own partitions (`held`, rebuilt at start from the
//! markers): retention may drop a partition's raw data before its tiers (`tier.rs`), and a
//! tier's retention may drop its rows while its source stays, which leaves the marker
//! `EXPIRED` so that nothing is made again.

use super::stored::StoredIterators;
use super::pace::Pace;
use super::{column_family, Shard};
use crate::encoding::rollup::{self, Tier, Window, FIVE_MINUTES, ONE_HOUR};
use crate::storage::family::Family;
use crate::storage::keys::{self, Partition};
use crate::storage::{Error, PolicyId};
use rocksdb::{WriteBatch, WriteOptions};
use rustc_hash::FxHashMap as HashMap;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

/// Raw samples (or 5-minute windows) one step reads (whole series: a step may read a little more).
const STEP_SAMPLES: usize = 100_000;
/// How long after its end a partition is downsampled, unless `--downsample.delay` says.
pub const DEFAULT_DELAY: Duration = Duration::from_secs(3600);
/// The marker of a partition whose tier retention dropped while its source stays.
pub(super) const EXPIRED: &[u8] = b"expired";

/// The most time one row of `tier` spans: rows begin at whole days (UTC) for the 5-minute
/// tier (288 windows), at whole 30 days from the epoch for the hours (720 windows).
fn row_ms(tier: Tier) -> i64 {
    match tier {
        Tier::FiveMinutes => 86_400_000,
        Tier::OneHour => 30 * 86_400_000,
    }
}

/// What a tier records of a partition (its marker).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Held {
    /// The tier is whole.
    Whole,
    /// The tier's retention dropped its rows; its source stays, so it is not made again.
    Expired,
}

/// Where downsampling stands in a shard.
pub(super) struct DownsampleState {
    pub(super) delay_ms: i64,
    /// Raw samples after which a step stops (`STEP_SAMPLES`; tests take fewer).
    pub(super) step_samples: usize,
    /// Per tier (`Tier::ALL` order), the partitions with a marker other than under way.
    held: [BTreeMap<(PolicyId, Partition), Held>; 2],
    /// The partition under way (in tier `current_tier`) and the series id its next step
    /// starts at.
    pub(super) current: Option<(PolicyId, Partition, u64)>,
    pub(super) current_tier: Tier,
    /// When it steps and looks (`pace`).
    pace: Pace,
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
        DownsampleState {
            delay_ms: DEFAULT_DELAY.as_millis() as i64,
            step_samples: STEP_SAMPLES,
            held: Default::default(),
            current: None,
            current_tier: Tier::FiveMinutes,
            pace: Pace::default(),
            pending: 0,
            stopped: false,
            late: HashMap::default(),
        }
    }
}

impl DownsampleState {
    /// Forgets, in every tier, the partitions `gone` accepts (their tiers are deleted), the
    /// one under way too.
    pub(super) fn forget(&mut self, gone: impl Fn((PolicyId, Partition)) -> bool) {
        for held in &mut self.held {
            held.retain(|k, _| !gone(*k));
        }
        if self.current.is_some_and(|(policy, p, _)| gone((policy, p))) {
            self.current = None;
        }
    }

    pub(super) fn held(&self, tier: Tier, policy: PolicyId, p: Partition) -> Option<Held> {
        self.held[tier as usize].get(&(policy, p)).copied()
    }

    pub(super) fn set_held(&mut self, tier: Tier, policy: PolicyId, p: Partition, held: Option<Held>) {
        match held {
            Some(h) => self.held[tier as usize].insert((policy, p), h),
            None => self.held[tier as usize].remove(&(policy, p)),
        };
    }

    pub(super) fn is_done(&self, tier: Tier, policy: PolicyId, p: Partition) -> bool {
        self.held(tier, policy, p) == Some(Held::Whole)
    }

    /// The partitions of `policy` `tier` has a marker of, with it, in time order.
    pub(super) fn held_of(&self, tier: Tier, policy: PolicyId) -> impl Iterator<Item = (Partition, Held)> + '_ {
        let (first, last) = (Partition { start: 0, end: 0 }, Partition { start: u32::MAX, end: u32::MAX });
        self.held[tier as usize].range((policy, first)..=(policy, last)).map(|((_, p), h)| (*p, *h))
    }
}

impl Shard {
    /// Reads the markers of every tier: the first key of each partition's range in the tier's
    /// family, when it is the partition's prefix.
    pub(super) fn load_downsampled(&mut self) -> Result<(), Error> {
        let db = self.db.clone();
        for tier in Tier::ALL {
            let mut it = db.raw_iterator_cf(column_family(&db, &self.cf_names, Family::of_tier(tier)));
            it.seek_to_first();
            while let Some(k) = it.key() {
                let (policy, p) = (keys::u32_at(k, 0), keys::partition_at(k));
                if k.len() == keys::partition_prefix(policy, p).len() {
                    match it.value().unwrap_or_default() {
                        [] => self.downsample.set_held(tier, policy, p, Some(Held::Whole)),
                        EXPIRED => self.downsample.set_held(tier, policy, p, Some(Held::Expired)),
                        next => {
                            self.downsample.current = Some((policy, p, keys::u64_at(next, 0)));
                            self.downsample.current_tier = tier;
                        }
                    }
                }
                match keys::prefix_end(&keys::partition_prefix(policy, p)) {
                    Some(next) => it.seek(next),
                    None => break,
                }
            }
            it.status()?;
        }
        Ok(())
    }

    /// The timer's turn: a step when a partition is under way, or a look for one now and then.
    pub(super) fn downsample_tick(&mut self) -> Result<(), Error> {
        if self.downsample.pace.resting(self.downsample.current.is_some()) || self.downsample.stopped {
            return Ok(());
        }
        let work = self.downsample_step(crate::clock::now_ms())?;
        self.downsample.pace.found(work);
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

    /// What is to do at `now_ms`, in time order, a partition's 5-minute tier before its hour:
    /// the 5-minute tier of the raw partitions ready (ended `delay` before it) that have no
    /// marker there, and the 1-hour tier of the partitions whose 5-minute tier is whole. Those
    /// that took late samples within the delay are pending but wait (`waits`).
    fn pending(&self, now_ms: i64) -> Vec<(i64, Tier, PolicyId, Partition)> {
        let ready_before = now_ms.saturating_sub(self.downsample.delay_ms);
        let state = &self.downsample;
        let raw = self.partitions.iter().flat_map(|(policy, set)| set.iter().map(move |p| (Tier::FiveMinutes, *policy, *p)));
        let fine = state.held[Tier::FiveMinutes as usize].iter().filter(|(_, h)| **h == Held::Whole).map(|((policy, p), _)| (Tier::OneHour, *policy, *p));
        let mut out: Vec<(i64, Tier, PolicyId, Partition)> = raw
            .filter(|(_, _, p)| p.before(ready_before))
            .chain(fine)
            .filter(|(tier, policy, p)| !self.dropped.contains(policy) && state.held(*tier, *policy, *p).is_none())
            .map(|(tier, policy, p)| (keys::hour_ms(p.start), tier, policy, p))
            .collect();
        out.sort_unstable();
        out
    }

    /// Whether partition `p` of `policy` took late samples within the delay before `now_ms`.
    fn waits(&self, policy: PolicyId, p: Partition, now_ms: i64) -> bool {
        let ready_before = now_ms.saturating_sub(self.downsample.delay_ms);
        self.downsample.late.get(&(policy, p)).is_some_and(|&at| at >= ready_before)
    }

    /// One step: picks the oldest pending partition when none is under way, then makes its
    /// tier from where the last step stopped. Answers whether it did anything (false: nothing
    /// pending).
    pub(super) fn downsample_step(&mut self, now_ms: i64) -> Result<bool, Error> {
        let started = Instant::now();
        let pending = self.pending(now_ms);
        // A partition is pending in one tier at a time (its hour once its 5 minutes are whole).
        let count = pending.len() as i64;
        self.metrics.downsample_pending.fetch_add(count - self.downsample.pending, Relaxed);
        self.downsample.pending = count;
        let ready = pending.iter().find(|(_, _, policy, p)| !self.waits(*policy, *p, now_ms));
        let (tier, (policy, p, from)) = match (self.downsample.current, ready) {
            (Some(current), _) => (self.downsample.current_tier, current),
            (None, Some(&(_, tier, policy, p))) => (tier, (policy, p, 0)),
            (None, None) => return Ok(false),
        };
        let mut batch = WriteBatch::default();
        let (next, windows) = match tier {
            Tier::FiveMinutes => self.aggregate_step(policy, p, from, &mut batch)?,
            Tier::OneHour => self.coarsen_step(policy, p, from, &mut batch)?,
        };
        let marker = next.map(|id| id.to_be_bytes().to_vec()).unwrap_or_default();
        batch.put_cf(self.cf(Family::of_tier(tier)), keys::partition_prefix(policy, p), marker);
        let mut wo = WriteOptions::default();
        wo.set_sync(self.sync);
        self.db.write_opt(batch, &wo)?;
        self.downsample.current = next.map(|id| (policy, p, id));
        self.downsample.current_tier = tier;
        if next.is_none() {
            self.downsample.set_held(tier, policy, p, Some(Held::Whole));
        }
        let written = match tier {
            Tier::FiveMinutes => &self.metrics.downsample_windows_5m,
            Tier::OneHour => &self.metrics.downsample_windows_1h,
        };
        written.fetch_add(windows, Relaxed);
        self.metrics.downsample_nanos.fetch_add(started.elapsed().as_nanos() as u64, Relaxed);
        Ok(true)
    }

    /// A step of a partition's 5-minute tier: its series from `from`, raw samples into
    /// windows. Answers the series the next step starts at (`None`: done) and the windows put.
    fn aggregate_step(&self, policy: PolicyId, p: Partition, from: u64, batch: &mut WriteBatch) -> Result<(Option<u64>, u64), Error> {
        let mut its = StoredIterators::new(&self.db, &self.cf_names);
        let (mut read, mut windows) = (0usize, 0u64);
        for id in from..self.series.slots.len() as u64 {
            if self.series.get(&id).is_none_or(|s| s.policy != policy) {
                continue;
            }
            if read >= self.downsample.step_samples {
                return Ok((Some(id), windows));
            }
            let samples = self.samples_in(&mut its, policy, p, id)?;
            read += samples.len();
            windows += self.put_rows(batch, Tier::FiveMinutes, policy, p, id, &rollup::aggregate(&samples, FIVE_MINUTES));
        }
        Ok((None, windows))
    }

    /// A step of a partition's 1-hour tier: the 5-minute rows of its series from `from`, in key
    /// order, merged into hours. Answers as `aggregate_step`.
    fn coarsen_step(&self, policy: PolicyId, p: Partition, from: u64, batch: &mut WriteBatch) -> Result<(Option<u64>, u64), Error> {
        let prefix = keys::partition_prefix(policy, p);
        let mut it = self.db.raw_iterator_cf(self.cf(Family::Rollup5m));
        it.seek(keys::chunk_prefix(policy, p, from));
        let (mut read, mut written) = (0usize, 0u64);
        let mut series: Option<u64> = None;
        let mut windows: Vec<Window> = Vec::new();
        loop {
            let next = it.key().filter(|k| k.starts_with(&prefix)).map(|k| keys::u64_at(k, prefix.len()));
            if next != series {
                if let Some(id) = series {
                    written += self.put_rows(batch, Tier::OneHour, policy, p, id, &rollup::coarsen(&windows, ONE_HOUR));
                    windows.clear();
                }
                if read >= self.downsample.step_samples && next.is_some() {
                    return Ok((next, written));
                }
                series = next;
            }
            let Some(v) = next.and_then(|_| it.value()) else { break };
            let row = rollup::decode_row(keys::decode_chunk_value(v)?.1).map_err(|e| Error::Corrupt(format!("5m tier row: {e}")))?;
            read += row.len();
            windows.extend(row);
            it.next();
        }
        it.status()?;
        Ok((None, written))
    }

    /// Puts the rows of series `id`'s windows (in start order) of `tier` in partition `p`;
    /// answers how many windows.
    fn put_rows(&self, batch: &mut WriteBatch, tier: Tier, policy: PolicyId, p: Partition, id: u64, windows: &[Window]) -> u64 {
        let cf = self.cf(Family::of_tier(tier));
        let span = row_ms(tier);
        for row in windows.chunk_by(|a, b| a.start.div_euclid(span) == b.start.div_euclid(span)) {
            let (first, last) = (row[0].start, row[row.len() - 1].start);
            batch.put_cf(cf, keys::chunk_key(policy, p, id, first), keys::encode_chunk_value(last, &rollup::encode_row(row)));
        }
        windows.len() as u64
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
    /// Notes a write, at `now_ms`, that appended samples in [min_t, max_t] of `policy`: when
    /// they lie in partitions ready to downsample, those partitions' tiers (done or under way)
    /// are removed in the write's batch, and they wait for the delay after this write.
    pub(super) fn note_late_samples(&mut self, policy: PolicyId, min_t: i64, max_t: i64, now_ms: i64, batch: &mut WriteBatch) {
        let ready_before = now_ms.saturating_sub(self.downsample.delay_ms);
        // A partition ready before `ready_before` holds no time at or after it: samples as new
        // as that (every real-time write) are never late, and cost nothing more here.
        if min_t >= ready_before {
            return;
        }
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
}
