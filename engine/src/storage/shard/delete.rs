//! Deleting: whole series (`DROP SERIES`, retention of dead series) and the samples of a
//! time range (`DELETE`), which rewrites the chunks and sealed blocks across its ends and
//! removes the downsampled tier of the partitions it touches, to be made anew.

use super::stored::StoredIterators;
use super::{column_family, series_hash, Shard};
use crate::labels::Labels;
use crate::encoding::chunk::XorChunk;
use crate::storage::family::Family;
use crate::encoding::piece::{Encoding, Piece};
use crate::storage::{Error, PolicyId};
use crate::storage::keys::{self, Partition};
use rocksdb::WriteBatch;
use rustc_hash::FxHashMap as HashMap;

impl Shard {
    /// Removes series from memory (table, hash lookup, index); their keys are the caller's.
    pub(super) fn forget(&mut self, ids: &[u64]) {
        let mut gone = Vec::with_capacity(ids.len());
        for id in ids {
            let Some(s) = self.series.remove(id) else { continue };
            let h = series_hash(s.policy, s.labels.stable_hash());
            if self.by_hash.get(h) == Some(id) {
                self.by_hash.remove(h);
            }
            if let Some(c) = self.collided.get_mut(&h) {
                c.retain(|x| x != id);
            }
            gone.push((s.policy, *id, s.labels));
        }
        let refs: Vec<(PolicyId, u64, &Labels)> = gone.iter().map(|(policy, id, labels)| (*policy, *id, labels)).collect();
        self.postings.remove(&refs);
        self.metrics.active_series.fetch_sub(gone.len() as i64, std::sync::atomic::Ordering::Relaxed);
        let mut per_policy: HashMap<PolicyId, u64> = HashMap::default();
        for (policy, _, _) in &gone {
            *per_policy.entry(*policy).or_default() += 1;
        }
        for (policy, n) in per_policy {
            self.admission.gone(policy, n);
        }
    }

    /// Deletes series with all their data (series entry, index entries, open and full chunks,
    /// blocks, downsampled rows).
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
        let mut its = self.stored_iterators();
        let mut tiers = Family::TIERS.map(|f| (self.db.raw_iterator_cf(self.cf(f)), f));
        for &id in ids {
            let Some(s) = self.series.get(&id) else { continue };
            batch.delete_cf(self.cf(Family::Series), keys::series_key(s.policy, id));
            batch.delete_cf(self.cf(Family::Series), keys::first_time_key(s.policy, id));
            batch.delete_cf(self.cf(Family::Head), keys::series_key(s.policy, id));
            for (name, value) in s.labels.iter() {
                batch.delete_cf(self.cf(Family::Postings), keys::posting_key(s.policy, name, value, id));
            }
            // A range delete only where the series has chunks, blocks or rows: tombstones slow
            // every read. Tiers may hold partitions whose raw data retention dropped.
            for p in self.partitions_with_data(s.policy) {
                let prefix = keys::chunk_prefix(s.policy, p, id);
                let families = its.by_encoding().map(|(it, encoding)| (it, Family::of(encoding)));
                for (it, family) in families.chain(tiers.iter_mut().map(|(it, f)| (it, *f))) {
                    it.seek(prefix);
                    if it.key().is_some_and(|k| k.starts_with(&prefix)) {
                        batch.delete_range_cf(self.cf(family), prefix.to_vec(), keys::prefix_end(&prefix).expect("a series id below the maximum"));
                    }
                }
            }
            gone.push(id);
        }
        if !gone.is_empty() {
            batch.put_cf(self.cf(Family::Series), keys::NEXT_SERIES_ID, self.next_id.to_be_bytes());
        }
        gone
    }

    /// `DELETE`: removes the samples in [min_t, max_t] of these series. Chunks inside the range
    /// go, chunks across one of its ends are rewritten without those samples; when the open
    /// chunk empties, the newest remaining chunk becomes the open one; a series left with
    /// nothing goes entirely. Stored with a checkpoint, so no log replay brings samples back.
    /// Answers the number of series deleted entirely.
    pub(super) fn delete_points(&mut self, ids: &[u64], min_t: i64, max_t: i64) -> Result<usize, Error> {
        // The samples of a chunk, block or open chunk outside [min_t, max_t].
        let kept_of = |contents: Piece<'_>| -> Result<Vec<(i64, f64)>, Error> {
            let mut kept = Vec::new();
            contents.each(|t, v| {
                if t < min_t || t > max_t {
                    kept.push((t, v));
                }
            })?;
            Ok(kept)
        };
        let mut batch = WriteBatch::default();
        let mut emptied = Vec::new();
        let db = self.db.clone();
        let names = self.cf_names.clone();
        let mut its = StoredIterators::new(&db, &names);
        for &id in ids {
            let Some(policy) = self.series.get(&id).map(|s| s.policy) else { continue };
            self.stage_tier_removal(policy, min_t, max_t, &mut batch);
            let series = &self.series[&id];
            // The newest full chunk or block left: (partition, min time, its encoding, contents).
            let mut newest: Option<(Partition, i64, Encoding, Vec<u8>)> = None;
            self.each_stored(&mut its, policy, id, |_| true, |k, c_min, c_max, contents| {
                let (p, encoding) = (keys::partition_at(k), contents.encoding);
                let cf = column_family(&db, &names, Family::of(encoding));
                let mut left = Some((c_min, keys::encode_chunk_value(c_max, contents.bytes)));
                if c_min <= max_t && c_max >= min_t {
                    batch.delete_cf(cf, k);
                    let kept = kept_of(contents)?;
                    left = kept.first().map(|first| (first.0, keys::encode_chunk_value(kept[kept.len() - 1].0, &contents.encode_like(&kept))));
                    if let Some((min, value)) = &left {
                        batch.put_cf(cf, keys::chunk_key(policy, p, id, *min), value);
                    }
                }
                if let Some((min, value)) = left.filter(|(min, _)| newest.as_ref().is_none_or(|n| *min > n.1)) {
                    newest = Some((p, min, encoding, value));
                }
                Ok(true)
            })?;
            let head = &series.head;
            if head.is_empty() || head.min_time() > max_t || head.max_time() < min_t {
                continue;
            }
            let kept = kept_of(Piece::xor(head.bytes()))?;
            let head = match (kept.is_empty(), newest) {
                (false, _) => XorChunk::of(&kept),
                (true, Some((p, min, encoding, value))) => {
                    batch.delete_cf(column_family(&db, &names, Family::of(encoding)), keys::chunk_key(policy, p, id, min));
                    XorChunk::of(&Piece::new(encoding, keys::decode_chunk_value(&value)?.1).samples()?)
                }
                (true, None) => {
                    emptied.push(id);
                    continue;
                }
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
