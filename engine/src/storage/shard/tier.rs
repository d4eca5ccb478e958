//! The downsampled tiers as stored (see `downsample`): reads of a tier's windows and how far
//! the tier reaches, the removal of the tiers of partitions whose samples change (backfill,
//! `DELETE`), and each tier's retention. A tier's partitions are its own record
//! (`DownsampleState::held`), not the raw ones: retention may drop raw data first and the
//! tiers stay readable, after a restart too.

use super::downsample::{Held, EXPIRED};
use super::{ReadTier, Shard, TierPage};
use crate::encoding::rollup::{self, Tier};
use crate::storage::family::Family;
use crate::storage::keys::{self, Partition};
use crate::storage::{Error, PolicyId};
use rocksdb::WriteBatch;
use std::collections::BTreeSet;

impl Shard {
    /// The windows of `req.tier` overlapping [min_t, max_t] of each series asked for (in the
    /// order asked), from the partitions whose tier is whole; and where that tier ends
    /// (`tier_through`).
    pub(super) fn read_tier(&self, req: &ReadTier) -> Result<TierPage, Error> {
        let (policy, tier, min_t, max_t) = (req.policy, req.tier, req.min_t, req.max_t);
        let resolution = tier.resolution();
        let whole: Vec<Partition> = self.downsample.held_of(tier, policy).filter(|(p, held)| *held == Held::Whole && p.overlaps(min_t, max_t)).map(|(p, _)| p).collect();
        let mut it = self.db.raw_iterator_cf(self.cf(Family::of_tier(tier)));
        let mut page = TierPage { series: Vec::with_capacity(req.ids.len()), through: self.tier_through(policy, tier) };
        // Room for every window of the range up front: no regrowing (and copying) per row.
        let room = (max_t.saturating_sub(min_t) / resolution + 1).clamp(0, 1 << 16) as usize;
        for &id in &req.ids {
            let mut windows = Vec::with_capacity(if whole.is_empty() { 0 } else { room });
            let parts = if self.series.get(&id).is_some_and(|s| s.policy == policy) { whole.as_slice() } else { &[] };
            for p in parts {
                let prefix = keys::chunk_prefix(policy, *p, id);
                it.seek(prefix);
                while let (Some(k), Some(v)) = (it.key(), it.value()) {
                    if !k.starts_with(&prefix) || keys::unflip(&k[20..]) > max_t {
                        break;
                    }
                    let (last, row) = keys::decode_chunk_value(v)?;
                    if last + resolution > min_t {
                        let inside = |start: i64| start <= max_t && start + resolution > min_t;
                        rollup::decode_row_into(row, inside, &mut windows).map_err(|e| Error::Corrupt(format!("{} tier row: {e}", tier.name())))?;
                    }
                    it.next();
                }
                it.status()?;
            }
            page.series.push(rollup::merge_same_starts(windows));
        }
        Ok(page)
    }

    /// The time before which `tier` of `policy` holds every sample of this shard: the start
    /// of the first raw partition without a marker there, or the end of the last partition
    /// whose tier is whole, whichever comes first (`None`: the shard has neither). Partitions
    /// whose raw data retention dropped count by their tier alone.
    fn tier_through(&self, policy: PolicyId, tier: Tier) -> Option<i64> {
        let raw = self.partitions.get(&policy).into_iter().flatten();
        let first_not_done = raw.filter(|p| self.downsample.held(tier, policy, **p).is_none()).map(|p| keys::hour_ms(p.start)).min();
        let last_done_end = self.downsample.held_of(tier, policy).filter(|(_, held)| *held == Held::Whole).map(|(p, _)| keys::hour_ms(p.end)).max();
        match (first_not_done, last_done_end) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Every partition of `policy` with data stored: raw, or in a tier.
    pub(super) fn partitions_with_data(&self, policy: PolicyId) -> BTreeSet<Partition> {
        let tiers = Tier::ALL.into_iter().flat_map(|tier| self.downsample.held_of(tier, policy).map(|(p, _)| p));
        self.partitions.get(&policy).into_iter().flatten().copied().chain(tiers).collect()
    }

    /// Puts in `batch` the removal of every tier (rows and marker) of every raw partition of
    /// `policy` overlapping [min_t, max_t] whose 5-minute tier is whole or under way, whose
    /// samples a change in the same batch alters: they are downsampled anew.
    pub(super) fn stage_tier_removal(&mut self, policy: PolicyId, min_t: i64, max_t: i64, batch: &mut WriteBatch) {
        let under_way = |p: Partition| self.downsample.current.is_some_and(|(of, q, _)| (of, q) == (policy, p));
        let stale: Vec<Partition> = self
            .partitions
            .get(&policy)
            .into_iter()
            .flatten()
            .filter(|p| p.overlaps(min_t, max_t) && (self.downsample.is_done(Tier::FiveMinutes, policy, **p) || under_way(**p)))
            .copied()
            .collect();
        for family in Family::TIERS {
            for p in &stale {
                let prefix = keys::partition_prefix(policy, *p);
                batch.delete_range_cf(self.cf(family), prefix.to_vec(), keys::prefix_end(&prefix).unwrap_or_else(|| keys::policy_end(policy)));
            }
        }
        self.downsample.forget(|(of, p)| of == policy && stale.contains(&p));
    }

    /// Retention of the tiers of `policy`: in each tier, the partitions that end by its time in
    /// `before` (`Tier::ALL` order) lose their rows; the marker goes too, or becomes `EXPIRED`
    /// while the tier's source (raw data; the 5-minute tier for the hours) stays, so that it is
    /// not made again. A 5-minute tier waits for its hours to be made from it. Answers the
    /// (family, range) pairs dropped, to compact.
    pub(super) fn stage_tier_expiry(&mut self, policy: PolicyId, before: [i64; 2], batch: &mut WriteBatch) -> Vec<(Family, Vec<u8>, Vec<u8>)> {
        let mut dropped = Vec::new();
        for tier in Tier::ALL {
            let due: Vec<(Partition, Held)> = self.downsample.held_of(tier, policy).filter(|(p, _)| p.before(before[tier as usize])).collect();
            for (p, held) in due {
                let hours_wait = self.downsample.held(Tier::OneHour, policy, p).is_none() && !p.before(before[Tier::OneHour as usize]);
                let source_stays = match tier {
                    Tier::FiveMinutes => self.partitions.get(&policy).is_some_and(|set| set.contains(&p)),
                    Tier::OneHour => self.downsample.is_done(Tier::FiveMinutes, policy, p),
                };
                if (tier == Tier::FiveMinutes && hours_wait) || (source_stays && held == Held::Expired) {
                    continue;
                }
                let cf = self.cf(Family::of_tier(tier));
                let prefix = keys::partition_prefix(policy, p);
                let end = keys::prefix_end(&prefix).unwrap_or_else(|| keys::policy_end(policy));
                batch.delete_range_cf(cf, prefix.to_vec(), end.clone());
                if source_stays {
                    batch.put_cf(cf, prefix, EXPIRED);
                }
                self.downsample.set_held(tier, policy, p, source_stays.then_some(Held::Expired));
                dropped.push((Family::of_tier(tier), prefix.to_vec(), end));
            }
        }
        dropped
    }
}
