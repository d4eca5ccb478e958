//! Backfill: samples older than a series' newest, which an ordinary write refuses as out of
//! order, merged into the chunks that cover their time. Hinted handoff delivers such samples
//! to an owner that has taken newer ones since it came back; with an out-of-order window
//! (`--storage.out-of-order-window`), every write merges those no older than the window. The series' chunks and sealed
//! blocks from the first one reaching the oldest new sample on, and its open chunk, are read
//! (and deleted), merged with the new
//! samples (a timestamp already stored keeps its value: the same value is a duplicate, another
//! is refused) and cut again by the rule `append` follows (120 samples, partition ends); the
//! last piece is the new open chunk. Stored with a checkpoint, so no log replay undoes it;
//! the downsampled tier of the partitions from the oldest new sample on goes in the same batch.

use super::write::cuts;
use super::{column_family, Shard};
use crate::data::write::{Refused, Rejection, SeriesWrite, WriteOutcome, MAX_REJECTIONS_NAMED};
use crate::encoding::chunk::XorChunk;
use crate::storage::family::Family;
use crate::storage::{Error, PolicyId};
use rocksdb::WriteBatch;

impl Shard {
    /// Stores `writes` in `policy`: samples newer than a series' newest as `write` does, older
    /// ones merged into its chunks; with a `window` (ms) only those at most that much older,
    /// the others left to `write`, which refuses them as out of order.
    pub(super) fn backfill(&mut self, policy: PolicyId, writes: Vec<SeriesWrite>, window: Option<i64>) -> Result<WriteOutcome, Error> {
        let mut newer = Vec::with_capacity(writes.len());
        let mut older = Vec::new();
        for mut w in writes {
            w.samples.sort_unstable_by_key(|s| s.0);
            w.samples.dedup_by_key(|s| s.0);
            let newest = self.find(policy, w.hash, &w.labels).map(|id| (id, &self.series[&id].head)).filter(|(_, h)| !h.is_empty()).map(|(id, h)| (id, h.max_time()));
            if let Some((id, newest)) = newest {
                let split = w.samples.partition_point(|s| s.0 <= newest);
                let from = window.map_or(0, |window| w.samples.partition_point(|s| s.0 < newest.saturating_sub(window)));
                if split > from {
                    older.push((id, w.samples.drain(from..split).collect::<Vec<_>>()));
                }
            }
            newer.push(w);
        }
        let mut out = self.write(policy, newer)?;
        if older.is_empty() {
            return Ok(out);
        }
        let mut batch = WriteBatch::default();
        for (id, samples) in older {
            self.stage_merge(id, samples, &mut batch, &mut out)?;
        }
        if let Err(e) = self.checkpoint_with(batch) {
            self.reload();
            return Err(e);
        }
        Ok(out)
    }

    /// Merges `samples` (sorted, none newer than the series' newest) into series `id`'s chunks:
    /// the rewritten chunks go in `batch`, the new open chunk in memory (marked dirty).
    fn stage_merge(&mut self, id: u64, samples: Vec<(i64, f64)>, batch: &mut WriteBatch, out: &mut WriteOutcome) -> Result<(), Error> {
        let from = samples[0].0;
        let policy = self.series[&id].policy;
        if from < self.series[&id].first_t {
            self.set_first_time(id, from, batch);
        }
        // Every chunk from `from` on is cut again, maybe into other partitions.
        self.stage_tier_removal(policy, from, i64::MAX, batch);
        let length = self.partition_length(policy);
        // What is stored from the first chunk or block reaching `from` on, by time.
        let mut stored: Vec<(i64, f64)> = Vec::new();
        let mut its = self.stored_iterators();
        self.each_stored(&mut its, policy, id, |_| true, |k, _, c_max, contents| {
            if c_max >= from {
                batch.delete_cf(column_family(&self.db, &self.cf_names, Family::of(contents.encoding)), k);
                contents.each(|t, v| stored.push((t, v)))?;
            }
            Ok(true)
        })?;
        drop(its);
        let head = &self.series[&id].head;
        crate::encoding::chunk::decode_each(head.bytes(), |t, v| stored.push((t, v))).ok_or_else(|| Error::Corrupt("open chunk".into()))?;
        stored.sort_unstable_by_key(|s| s.0);
        // Merge: a stored timestamp keeps its value.
        let mut merged = Vec::with_capacity(stored.len() + samples.len());
        let mut stored = stored.into_iter().peekable();
        let mut named = false;
        for (t, v) in samples {
            while let Some(s) = stored.next_if(|s| s.0 < t) {
                merged.push(s);
            }
            match stored.peek() {
                Some(s) if s.0 == t => {
                    if s.1.to_bits() == v.to_bits() {
                        out.duplicates += 1;
                    } else {
                        out.rejected += 1;
                        if !named && out.rejections.len() < MAX_REJECTIONS_NAMED {
                            named = true;
                            out.rejections.push(Rejection { series: self.series[&id].labels.to_string(), why: Refused::Duplicate { t } });
                        }
                    }
                }
                _ => {
                    merged.push((t, v));
                    out.accepted += 1;
                }
            }
        }
        merged.extend(stored);
        // Cut again; the last piece is the open chunk.
        let mut current = XorChunk::new();
        for (t, v) in merged {
            if cuts(&current, t, length) {
                let full = std::mem::take(&mut current);
                self.stage_full_chunk(batch, policy, length, id, &full);
            }
            current.append(t, v);
        }
        let series = self.series.get_mut(&id).expect("series exists");
        series.head = current;
        if !series.dirty {
            series.dirty = true;
            self.dirty.push(id);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::storage::testing::*;

    #[actix_web::test]
    async fn older_samples_are_merged_into_the_chunks_and_stay_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let storage = open(dir.path());
        storage.create_database("db", None).unwrap();
        // Every other minute for 10 hours: three full chunks and an open one.
        let even: Vec<(i64, f64)> = (0..300).map(|i| (HOUR + i * 120_000, i as f64)).collect();
        storage.write("db", None, vec![series("a", even.clone())]).await.unwrap();
        let refused = storage.write("db", None, vec![series("a", vec![(HOUR + 60_000, -1.0)])]).await.unwrap();
        assert_eq!((refused.accepted, refused.rejected), (0, 1), "a plain write refuses an older sample");

        // The minutes between, one long before, one at a stored time with the same value, one
        // with another value, and one newer than the rest.
        let odd: Vec<(i64, f64)> = (0..300).map(|i| (HOUR + i * 120_000 + 60_000, -(i as f64))).collect();
        let (early, newest) = ((0, 0.5), (HOUR + 300 * 120_000, 300.0));
        let mut more = odd.clone();
        more.extend([early, (HOUR, 0.0), (HOUR + 120_000, 99.0), newest]);
        let out = storage.backfill("db", None, vec![series("a", more)]).await.unwrap();
        assert_eq!((out.accepted, out.duplicates, out.rejected), (302, 1, 1));
        let mut want: Vec<(i64, u64)> = even.iter().chain(&odd).chain(&[early, newest]).map(|(t, v)| (*t, v.to_bits())).collect();
        want.sort();
        assert_eq!(values_of(&storage, None, "a").await, want);

        drop(storage);
        let storage = open(dir.path());
        assert_eq!(values_of(&storage, None, "a").await, want, "as stored, after a restart");
        let next = storage.write("db", None, vec![series("a", vec![(newest.0 + 60_000, 1.0), (newest.0 - 60_000, 1.0)])]).await.unwrap();
        assert_eq!((next.accepted, next.rejected), (1, 1), "plain writes go on after the newest sample");
    }

    const MIN: i64 = 60_000;

    #[actix_web::test]
    async fn the_out_of_order_window_merges_what_is_inside_and_refuses_what_is_older() {
        let dir = tempfile::tempdir().unwrap();
        let storage = open(dir.path());
        storage.create_database("db", None).unwrap();
        let t = 100 * MIN;
        let out = storage.write("db", None, vec![series("up", vec![(t, 1.0), (t + MIN, 2.0)])]).await.unwrap();
        assert_eq!(out.accepted, 2);
        // Without a window an older sample is refused, as before.
        let out = storage.write("db", None, vec![series("up", vec![(t + MIN - 1, 9.0)])]).await.unwrap();
        assert_eq!((out.accepted, out.rejected), (0, 1));
        storage.set_out_of_order_window(std::time::Duration::from_secs(30 * 60));
        // Inside the window (newest t + 1 min, so back to t - 29 min): merged in order; 31
        // minutes older is refused; a newer one appends; an exact duplicate is idempotent.
        let batch = vec![(t - 31 * MIN, 7.0), (t - 29 * MIN, 3.0), (t + 30_000, 4.0), (t + MIN, 2.0), (t + 2 * MIN, 5.0)];
        let out = storage.write("db", None, vec![series("up", batch)]).await.unwrap();
        assert_eq!((out.accepted, out.rejected, out.duplicates), (3, 1, 1), "{out:?}");
        assert!(out.rejections[0].series.contains("up"), "{:?}", out.rejections);
        // Another value at a stored time stays refused.
        let out = storage.write("db", None, vec![series("up", vec![(t, 8.0)])]).await.unwrap();
        assert_eq!((out.accepted, out.rejected), (0, 1), "{out:?}");
        let want = [(t - 29 * MIN, 3.0), (t, 1.0), (t + 30_000, 4.0), (t + MIN, 2.0), (t + 2 * MIN, 5.0)];
        assert_eq!(values_of(&storage, None, "up").await, want.map(|(t, v)| (t, f64::to_bits(v))).to_vec());
        drop(storage);
        let storage = open(dir.path());
        assert_eq!(values_of(&storage, None, "up").await, want.map(|(t, v)| (t, f64::to_bits(v))).to_vec(), "after a restart");
    }
}
