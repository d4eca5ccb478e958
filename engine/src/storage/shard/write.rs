//! The write path: appending samples to open chunks (cutting full ones into `chunks`),
//! the log record of every accepted sample, recognising a retried sample by its stored
//! value, and the checkpoint that stores open chunks and drops the log they cover.

use super::{column_family, Shard, CHECKPOINT_LOG_BYTES};
use crate::data::write::{Refused, Rejection, SeriesWrite, WriteOutcome, MAX_REJECTIONS_NAMED};
use crate::encoding::chunk::{XorChunk, SAMPLES_PER_CHUNK};
use crate::storage::family::Family;
use crate::storage::keys::{self, Partition};
use crate::encoding::piece::{Encoding, Piece};
use crate::storage::{Error, PolicyId};
use rocksdb::{WriteBatch, WriteOptions};

/// Whether a sample at `t` starts a new chunk after the open one: it is full, or `t` falls in
/// another partition (of `length` ms).
pub(super) fn cuts(open: &XorChunk, t: i64, length: i64) -> bool {
    if open.is_empty() {
        return false;
    }
    // Times in one partition length are in one partition: the common case, without working
    // out the partition.
    let same_length = open.min_time().div_euclid(length) == t.div_euclid(length);
    open.len() >= SAMPLES_PER_CHUNK || (!same_length && Partition::of(open.min_time(), length) != Partition::of(t, length))
}

impl Shard {
    /// Puts a full chunk of series `id` (in `policy`, whose partitions are `length` ms) in
    /// `batch`, and notes its partition.
    pub(super) fn stage_full_chunk(&mut self, batch: &mut WriteBatch, policy: PolicyId, length: i64, id: u64, full: &XorChunk) {
        let p = Partition::of(full.min_time(), length).reaching(full.max_time());
        let cf = column_family(&self.db, &self.cf_names, Family::of(Encoding::Xor));
        batch.put_cf(cf, keys::chunk_key(policy, p, id, full.min_time()), keys::encode_chunk_value(full.max_time(), full.bytes()));
        self.partitions.entry(policy).or_default().insert(p);
        self.seal.cut += 1;
    }

    /// Appends one sample to a series' open chunk, cutting the chunk into `batch` first when it
    /// is full or the sample falls in another partition.
    pub(super) fn append(&mut self, id: u64, t: i64, value: f64, batch: &mut WriteBatch) {
        let policy = self.series[&id].policy;
        let length = self.partition_length(policy);
        if cuts(&self.series[&id].head, t, length) {
            let full = std::mem::take(&mut self.series.get_mut(&id).expect("series exists").head);
            self.stage_full_chunk(batch, policy, length, id, &full);
        }
        if self.series[&id].head.is_empty() {
            // Its partition is listed from its first sample on, so that one holding only open
            // chunks (series that stopped there) is downsampled too.
            self.partitions.entry(policy).or_default().insert(Partition::of(t, length));
        }
        let series = self.series.get_mut(&id).expect("series exists");
        series.head.append(t, value);
        if !series.dirty {
            series.dirty = true;
            self.dirty.push(id);
        }
    }

    pub(super) fn write(&mut self, policy: PolicyId, writes: Vec<SeriesWrite>) -> Result<WriteOutcome, Error> {
        if self.dropped.contains(&policy) {
            return Err(Error::PolicyDropped);
        }
        let wanted = self.wanted_lengths.read().unwrap().get(&policy).copied();
        if let Some(ms) = wanted.filter(|ms| self.partition_ms.get(&policy) != Some(ms)) {
            // The log since the last checkpoint was cut with the old length: checkpoint first,
            // storing the new length with it, so that a replay cuts exactly as we do.
            let old = self.partition_ms.insert(policy, ms);
            if let Err(e) = self.checkpoint() {
                match old {
                    Some(old) => self.partition_ms.insert(policy, old),
                    None => self.partition_ms.remove(&policy),
                };
                return Err(e);
            }
        }
        let mut out = WriteOutcome::default();
        let mut batch = WriteBatch::default();
        let now_ms = crate::clock::now_ms();
        let mut log = Vec::with_capacity(keys::LOG_RECORD_BYTES * writes.iter().map(|w| w.samples.len()).sum::<usize>());
        for i in 0..writes.len() {
            self.prefetch_ahead(policy, &writes, i);
            let w = &writes[i];
            let id = match self.find(policy, w.hash, &w.labels) {
                Some(id) => id,
                None if w.samples.is_empty() => continue,
                None => {
                    if let Err((limit, max)) = self.admission.admit(policy, now_ms) {
                        out.rejected += w.samples.len() as u64;
                        self.metrics.series_limit_rejected[limit as usize].fetch_add(w.samples.len() as u64, std::sync::atomic::Ordering::Relaxed);
                        if out.rejections.len() < MAX_REJECTIONS_NAMED {
                            out.rejections.push(Rejection { series: w.labels.to_string(), why: Refused::SeriesLimit { limit, max } });
                        }
                        continue;
                    }
                    let id = self.next_id;
                    self.next_id += 1;
                    batch.put_cf(self.cf(Family::Series), keys::series_key(policy, id), w.labels.as_bytes());
                    for (name, value) in w.labels.iter() {
                        batch.put_cf(self.cf(Family::Postings), keys::posting_key(policy, name, value, id), b"");
                        self.postings.add_entry(policy, name, value, id);
                    }
                    self.index_series(policy, id, w.labels.clone());
                    self.set_first_time(id, w.samples[0].0, &mut batch);
                    out.new_series += 1;
                    id
                }
            };
            let mut rejected: Option<Rejection> = None;
            let accepted_before = out.accepted;
            for &(t, v) in &w.samples {
                let head = &self.series[&id].head;
                if !head.is_empty() && t <= head.max_time() {
                    if self.stored_value(policy, id, t) == Some(v.to_bits()) {
                        out.duplicates += 1;
                    } else {
                        out.rejected += 1;
                        if rejected.is_none() {
                            let newest = head.max_time();
                            let why = if t == newest { Refused::Duplicate { t } } else { Refused::OutOfOrder { t, newest } };
                            rejected = Some(Rejection { series: w.labels.to_string(), why });
                        }
                    }
                    continue;
                }
                // Appends beyond what is in the series' older chunks are always safe: the
                // head holds the newest sample of every series.
                self.append(id, t, v, &mut batch);
                keys::encode_log_record(&mut log, id, t, v);
                out.accepted += 1;
            }
            if let (true, Some(&(first, _)), Some(&(last, _))) = (out.accepted > accepted_before, w.samples.first(), w.samples.last()) {
                self.note_late_samples(policy, first, last, now_ms, &mut batch);
            }
            if let Some(r) = rejected {
                if out.rejections.len() < MAX_REJECTIONS_NAMED {
                    out.rejections.push(r);
                }
            }
        }
        if !log.is_empty() {
            batch.put_cf(self.cf(Family::Log), keys::log_key(self.next_seq), &log);
            self.next_seq += 1;
            self.log_bytes += log.len();
        }
        if batch.is_empty() {
            return Ok(out);
        }
        let mut wo = WriteOptions::default();
        wo.set_sync(self.sync);
        if let Err(e) = self.db.write_opt(batch, &wo) {
            // Memory is ahead of disk now: rebuild it from disk so that the failed request
            // leaves no trace, then report the fault.
            tracing::error!(shard = self.index, error = %e, "write failed, reloading shard");
            self.reload();
            return Err(Error::from(e).context("storage write failed"));
        }
        self.metrics.active_series.fetch_add(out.new_series as i64, std::sync::atomic::Ordering::Relaxed);
        if self.log_bytes >= CHECKPOINT_LOG_BYTES {
            if let Err(e) = self.checkpoint() {
                tracing::error!(shard = self.index, error = %e, "checkpoint failed");
            }
        }
        Ok(out)
    }

    /// The value bits stored for a series at timestamp `t`, if any: how a retried request
    /// is recognised. Only samples not newer than the series' newest come here.
    pub(super) fn stored_value(&self, policy: PolicyId, id: u64, t: i64) -> Option<u64> {
        let find = |contents: Piece<'_>| {
            let mut found = None;
            let _ = contents.each(|st, v| {
                if st == t {
                    found = Some(v.to_bits());
                }
            });
            found
        };
        let head = &self.series.get(&id)?.head;
        if t == head.max_time() {
            return Some(head.last_value_bits());
        }
        if !head.is_empty() && t >= head.min_time() {
            return find(Piece::xor(head.bytes()));
        }
        let mut stored = None;
        let mut its = self.stored_iterators();
        self.each_stored(&mut its, policy, id, |p| p.contains(t), |_, c_min, c_max, contents| {
            if stored.is_none() && c_min <= t && t <= c_max {
                stored = Some(find(contents));
            }
            Ok(stored.is_none() && c_min <= t)
        })
        .ok()?;
        stored.flatten()
    }

    pub fn checkpoint(&mut self) -> Result<(), Error> {
        self.checkpoint_with(WriteBatch::default())
    }

    /// Stores changed open chunks and the partition lengths, and drops the log they cover,
    /// atomically.
    pub(super) fn checkpoint_with(&mut self, mut batch: WriteBatch) -> Result<(), Error> {
        for id in &self.dirty {
            if let Some(s) = self.series.get(id) {
                batch.put_cf(self.cf(Family::Head), keys::series_key(s.policy, *id), s.head.bytes());
            }
        }
        for (policy, ms) in &self.partition_ms {
            batch.put_cf(self.cf(Family::Head), keys::partition_length_key(*policy), ms.to_be_bytes());
        }
        batch.delete_range_cf(self.cf(Family::Log), keys::log_key(0), keys::log_key(self.next_seq));
        let mut wo = WriteOptions::default();
        wo.set_sync(self.sync);
        self.db.write_opt(batch, &wo)?;
        // Log entries already flushed to table files would otherwise stay on disk until a
        // compaction: drop those files whole. (The log's L0 files are moved to L1 at once,
        // see the log's options in `storage`, because this skips L0.)
        self.db
            .delete_file_in_range_cf(self.cf(Family::Log), keys::log_key(0), keys::log_key(self.next_seq))?;
        for id in std::mem::take(&mut self.dirty) {
            if let Some(s) = self.series.get_mut(&id) {
                s.dirty = false;
            }
        }
        self.log_bytes = 0;
        Ok(())
    }
}
