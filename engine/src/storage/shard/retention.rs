//! Retention: expiring a policy's old partitions (raw data and downsampled tiers alike) and
//! dead series, and dropping a whole retention policy's data.

use super::{Expired, Shard};
use crate::storage::family::Family;
use crate::storage::keys::{self, Partition};
use crate::storage::{Error, PolicyId};
use rocksdb::WriteBatch;

impl Shard {
    /// Retention: drops the partitions of `policy` that end by `before` and the series whose
    /// newest sample is older than `before` (their open chunks with them), then compacts the
    /// dropped ranges so the disk space comes back.
    pub(super) fn expire(&mut self, policy: PolicyId, before: i64) -> Result<Expired, Error> {
        let old: Vec<Partition> = self.partitions.get(&policy).into_iter().flatten().filter(|p| p.before(before)).copied().collect();
        let mut ranges = Vec::new();
        let mut batch = WriteBatch::default();
        for p in &old {
            let prefix = keys::partition_prefix(policy, *p);
            let end = keys::prefix_end(&prefix).unwrap_or_else(|| keys::policy_end(policy));
            for family in Family::PARTITIONED {
                let cf = self.cf(family);
                self.db.delete_file_in_range_cf(cf, &prefix[..], &end[..])?;
                batch.delete_range_cf(cf, &prefix[..], &end[..]);
            }
            ranges.push((prefix, end));
        }
        self.db.write(batch)?;
        if let Some(set) = self.partitions.get_mut(&policy) {
            set.retain(|p| !old.contains(p));
        }
        self.downsample.forget(|(of, p)| of == policy && old.contains(&p));
        let stale: Vec<u64> = self
            .series
            .iter()
            .filter(|(_, s)| s.policy == policy && !s.head.is_empty() && s.head.max_time() < before)
            .map(|(id, _)| id)
            .collect();
        let series = self.delete_series(&stale)?;
        for (start, end) in &ranges {
            for family in Family::PARTITIONED {
                self.db.compact_range_cf(self.cf(family), Some(start.as_slice()), Some(end.as_slice()));
            }
        }
        Ok(Expired { partitions: old.len(), series })
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
