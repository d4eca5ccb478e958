//! Retention: expiring a policy's old partitions (raw data, and each downsampled tier after its
//! own duration) and dead series, and dropping a whole retention policy's data.

use super::{Expired, Shard};
use crate::encoding::chunk::XorChunk;
use crate::encoding::rollup::Tier;
use crate::storage::family::Family;
use crate::storage::keys::{self, Partition};
use crate::storage::{Error, PolicyId};
use rocksdb::WriteBatch;

impl Shard {
    /// Retention: drops the raw partitions of `policy` that end by `before` (once their
    /// 5-minute tier is made, unless that is due too), the rows of each tier's partitions that
    /// end by its time in `tiers_before` (`tier::stage_tier_expiry`), and the series whose
    /// newest sample is older than all of them (their open chunks with them); then compacts
    /// the dropped ranges so the disk space comes back. `i64::MIN` keeps data forever.
    pub(super) fn expire(&mut self, policy: PolicyId, before: i64, tiers_before: [i64; 2]) -> Result<Expired, Error> {
        let made = |p: &Partition| self.downsample.held(Tier::FiveMinutes, policy, *p).is_some() || p.before(tiers_before[Tier::FiveMinutes as usize]);
        let old: Vec<Partition> = self.partitions.get(&policy).into_iter().flatten().filter(|p| p.before(before) && made(p)).copied().collect();
        let mut ranges = Vec::new();
        let mut batch = WriteBatch::default();
        for p in &old {
            let prefix = keys::partition_prefix(policy, *p);
            let end = keys::prefix_end(&prefix).unwrap_or_else(|| keys::policy_end(policy));
            for family in Family::PARTITIONED {
                let cf = self.cf(family);
                self.db.delete_file_in_range_cf(cf, &prefix[..], &end[..])?;
                batch.delete_range_cf(cf, &prefix[..], &end[..]);
                ranges.push((family, prefix.to_vec(), end.clone()));
            }
        }
        self.db.write(batch)?;
        if let Some(set) = self.partitions.get_mut(&policy) {
            set.retain(|p| !old.contains(p));
        }
        let mut batch = WriteBatch::default();
        let tier_ranges = self.stage_tier_expiry(policy, tiers_before, &mut batch);
        self.db.write(batch)?;
        let series = self.expire_series(policy, before, before.min(tiers_before[0]).min(tiers_before[1]), !tier_ranges.is_empty())?;
        for (family, start, end) in ranges.iter().chain(&tier_ranges) {
            self.db.compact_range_cf(self.cf(*family), Some(start.as_slice()), Some(end.as_slice()));
        }
        Ok(Expired { partitions: old.len(), tier_partitions: tier_ranges.len(), series })
    }

    /// The series of `policy` retention leaves nothing of: whose newest sample is older than
    /// `dead_before` (the earliest time of raw data and tiers), or, when `tiers_dropped`, whose
    /// open chunk went with its raw partition and that hold nothing stored any more. A series
    /// whose open chunk is older than `before` and in no raw partition left, but whose tiers
    /// stay, keeps its labels for them, its open chunk emptied (stored at once, so no log
    /// replay brings it back). Answers how many series went.
    fn expire_series(&mut self, policy: PolicyId, before: i64, dead_before: i64, tiers_dropped: bool) -> Result<usize, Error> {
        let raw = self.partitions.get(&policy).cloned().unwrap_or_default();
        let in_raw = |min_t: i64, max_t: i64| raw.iter().any(|p| p.overlaps(min_t, max_t));
        let (mut dead, mut emptied) = (Vec::new(), Vec::new());
        for (id, s) in self.series.iter().filter(|(_, s)| s.policy == policy) {
            let head = &s.head;
            if head.is_empty() {
                if tiers_dropped && !self.holds_stored(policy, id)? {
                    dead.push(id);
                }
            } else if head.max_time() < dead_before {
                dead.push(id);
            } else if head.max_time() < before && !in_raw(head.min_time(), head.max_time()) {
                emptied.push(id);
            }
        }
        for id in &emptied {
            let s = self.series.get_mut(id).expect("series exists");
            s.head = XorChunk::new();
            if !s.dirty {
                s.dirty = true;
                self.dirty.push(*id);
            }
        }
        if !emptied.is_empty() {
            self.checkpoint()?;
        }
        self.delete_series(&dead)
    }

    /// Whether anything of series `id` is stored in a partition, raw or in a tier.
    fn holds_stored(&self, policy: PolicyId, id: u64) -> Result<bool, Error> {
        for family in Family::PARTITIONED.into_iter().chain(Family::TIERS) {
            let mut it = self.db.raw_iterator_cf(self.cf(family));
            for p in self.partitions_with_data(policy) {
                let prefix = keys::chunk_prefix(policy, p, id);
                it.seek(prefix);
                if it.key().is_some_and(|k| k.starts_with(&prefix)) {
                    return Ok(true);
                }
            }
            it.status()?;
        }
        Ok(false)
    }

    pub(super) fn drop_policy(&mut self, policy: PolicyId) -> Result<(), Error> {
        self.dropped.insert(policy);
        let mut batch = WriteBatch::default();
        for family in Family::EVERY.into_iter().filter(|f| *f != Family::Log) {
            batch.delete_range_cf(self.cf(family), keys::policy_prefix(policy).to_vec(), keys::policy_end(policy));
        }
        // Log entries of the dropped series stay until the next checkpoint: their ids must
        // never name another series.
        batch.put_cf(self.cf(Family::Series), keys::NEXT_SERIES_ID, self.next_id.to_be_bytes());
        self.db.write(batch)?;
        let gone: Vec<u64> = self.series.iter().filter(|(_, s)| s.policy == policy).map(|(id, _)| id).collect();
        self.forget(&gone);
        self.postings.remove_db(policy);
        self.partitions.remove(&policy);
        self.partition_ms.remove(&policy);
        self.downsample.forget(|(of, _)| of == policy);
        for family in Family::EVERY.into_iter().filter(|f| *f != Family::Log) {
            self.db.compact_range_cf(self.cf(family), Some(keys::policy_prefix(policy).to_vec()), Some(keys::policy_end(policy)));
        }
        Ok(())
    }
}
