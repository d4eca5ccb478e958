//! Deleting: whole series (`DROP SERIES`, retention of dead series) and the samples of a
//! time range (`DELETE`), which rewrites the chunks across its ends.

use super::{column_family, series_hash, Shard};
use crate::labels::Labels;
use crate::storage::chunk::XorChunk;
use crate::storage::{Error, PolicyId};
use crate::storage::keys::{self, Partition};
use rocksdb::WriteBatch;

impl Shard {
    /// Removes series from memory (table, hash lookup, index); their keys are the caller's.
    pub(super) fn forget(&mut self, ids: &[u64]) {
        let mut gone = Vec::with_capacity(ids.len());
        for id in ids {
            let Some(s) = self.series.remove(id) else { continue };
            let h = series_hash(s.policy, s.labels.stable_hash());
            if self.by_hash.get(&h) == Some(id) {
                self.by_hash.remove(&h);
            }
            if let Some(c) = self.collided.get_mut(&h) {
                c.retain(|x| x != id);
            }
            gone.push((s.policy, *id, s.labels));
        }
        let refs: Vec<(PolicyId, u64, &Labels)> = gone.iter().map(|(policy, id, labels)| (*policy, *id, labels)).collect();
        self.postings.remove(&refs);
        self.metrics.active_series.fetch_sub(gone.len() as i64, std::sync::atomic::Ordering::Relaxed);
    }

    /// Deletes series with all their data (series entry, index entries, open and full chunks).
    pub(super) fn delete_series(&mut self, ids: &[u64]) -> Result<usize, Error> {
        let mut batch = WriteBatch::default();
        let gone = self.stage_series_deletion(ids, &mut batch);
        if gone.is_empty() {
            return Ok(0);
        }
        self.db.write(batch)?;
        self.forget(&gone);
        Ok(gone.len())
    }

    /// Puts the deletion of these series' keys in `batch`; answers the ids that exist.
    pub(super) fn stage_series_deletion(&self, ids: &[u64], batch: &mut WriteBatch) -> Vec<u64> {
        let mut gone = Vec::new();
        let mut it = self.db.raw_iterator_cf(self.cf("chunks"));
        for &id in ids {
            let Some(s) = self.series.get(&id) else { continue };
            batch.delete_cf(self.cf("series"), keys::series_key(s.policy, id));
            batch.delete_cf(self.cf("head"), keys::series_key(s.policy, id));
            for (name, value) in s.labels.iter() {
                batch.delete_cf(self.cf("postings"), keys::posting_key(s.policy, name, value, id));
            }
            // A range delete only where the series has chunks: tombstones slow every read.
            for p in self.partitions.get(&s.policy).into_iter().flatten() {
                let prefix = keys::chunk_prefix(s.policy, *p, id);
                it.seek(prefix);
                if it.key().is_some_and(|k| k.starts_with(&prefix)) {
                    batch.delete_range_cf(self.cf("chunks"), prefix.to_vec(), keys::prefix_end(&prefix).expect("a series id below the maximum"));
                }
            }
            gone.push(id);
        }
        if !gone.is_empty() {
            batch.put_cf(self.cf("series"), keys::NEXT_SERIES_ID, self.next_id.to_be_bytes());
        }
        gone
    }

    /// `DELETE`: removes the samples in [min_t, max_t] of these series. Chunks inside the range
    /// go, chunks across one of its ends are rewritten without those samples; when the open
    /// chunk empties, the newest remaining chunk becomes the open one; a series left with
    /// nothing goes entirely. Stored with a checkpoint, so no log replay brings samples back.
    /// Answers the number of series deleted entirely.
    pub(super) fn delete_points(&mut self, ids: &[u64], min_t: i64, max_t: i64) -> Result<usize, Error> {
        let without = |data: &[u8]| -> Result<Option<XorChunk>, Error> {
            let mut kept = XorChunk::new();
            crate::storage::chunk::decode_each(data, |t, v| {
                if t < min_t || t > max_t {
                    kept.append(t, v);
                }
            })
            .ok_or_else(|| Error::Corrupt("chunk".into()))?;
            Ok((!kept.is_empty()).then_some(kept))
        };
        let stored = |c: &XorChunk| keys::encode_chunk_value(c.max_time(), c.bytes());
        let mut batch = WriteBatch::default();
        let mut emptied = Vec::new();
        let db = self.db.clone();
        let cf = column_family(&db, &self.cf_names, "chunks");
        let mut it = db.raw_iterator_cf(cf);
        for &id in ids {
            let Some(series) = self.series.get(&id) else { continue };
            let policy = series.policy;
            // The newest full chunk left: (partition, min time, stored value).
            let mut newest: Option<(Partition, i64, Vec<u8>)> = None;
            self.each_chunk(&mut it, policy, id, |_| true, |k, c_min, c_max, xor| {
                let p = keys::partition_at(k);
                let mut left = Some((c_min, keys::encode_chunk_value(c_max, xor)));
                if c_min <= max_t && c_max >= min_t {
                    batch.delete_cf(cf, k);
                    left = without(xor)?.map(|kept| (kept.min_time(), stored(&kept)));
                    if let Some((min, value)) = &left {
                        batch.put_cf(cf, keys::chunk_key(policy, p, id, *min), value);
                    }
                }
                if let Some((min, value)) = left.filter(|(min, _)| newest.as_ref().is_none_or(|n| *min > n.1)) {
                    newest = Some((p, min, value));
                }
                Ok(true)
            })?;
            let head = &series.head;
            if head.is_empty() || head.min_time() > max_t || head.max_time() < min_t {
                continue;
            }
            let head = match without(head.bytes())? {
                Some(kept) => kept,
                None => match newest {
                    Some((p, min, value)) => {
                        batch.delete_cf(cf, keys::chunk_key(policy, p, id, min));
                        XorChunk::from_bytes(keys::decode_chunk_value(&value)?.1).ok_or_else(|| Error::Corrupt("chunk".into()))?
                    }
                    None => {
                        emptied.push(id);
                        continue;
                    }
                },
            };
            let series = self.series.get_mut(&id).expect("series exists");
            series.head = head;
            if !series.dirty {
                series.dirty = true;
                self.dirty.push(id);
            }
        }
        let gone = self.stage_series_deletion(&emptied, &mut batch);
        self.forget(&gone);
        if let Err(e) = self.checkpoint_with(batch) {
            self.reload();
            return Err(e);
        }
        Ok(gone.len())
    }
}
