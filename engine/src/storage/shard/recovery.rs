//! Bringing a shard up from disk: its series, index, open chunks and partitions, the log
//! replayed on top, the markers of the downsampled partitions, the one-time migration of
//! chunk keys of the first format, and the reload that rebuilds memory from disk after a
//! failed write.

use super::{column_family, PartitionLengths, SeriesTable, Shard};
use crate::storage::family::Family;
use crate::encoding::piece::Encoding;
use crate::index::postings::Postings;
use crate::labels::Labels;
use crate::metrics::Metrics;
use crate::encoding::chunk::XorChunk;
use crate::storage::{Error, PolicyId};
use crate::storage::keys::{self, Partition};
use rocksdb::{WriteBatch, DB};
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::sync::Arc;

impl Shard {
    /// Loads the shard's state from its column families, replays its log with the partition
    /// lengths it was written with, then adopts `partition_ms` (the catalog's). `migrate`
    /// rewrites chunk keys of the format before retention policies.
    pub fn load(index: usize, db: Arc<DB>, sync: bool, metrics: Arc<Metrics>, wanted_lengths: PartitionLengths, migrate: bool) -> Result<Shard, Error> {
        let mut s = Shard {
            index,
            db,
            cf_names: Family::EVERY.iter().map(|f| f.name(index)).collect(),
            sync,
            metrics,
            series: SeriesTable::default(),
            by_hash: Default::default(),
            collided: HashMap::default(),
            postings: Postings::default(),
            partitions: HashMap::default(),
            partition_ms: HashMap::default(),
            wanted_lengths,
            dropped: HashSet::default(),
            dirty: Vec::new(),
            next_id: 1,
            next_seq: 1,
            log_bytes: 0,
            seal: super::seal::SealState::at_start(),
            downsample: Default::default(),
            compact: Default::default(),
            out_of_order_window_ms: 0,
            admission: Arc::default(),
        };
        if migrate {
            s.migrate_chunk_keys().map_err(|e| e.context(format!("shard {index}")))?;
        }
        let adopt = s.wanted_lengths.read().unwrap().clone();
        s.load_state(adopt).map_err(|e| e.context(format!("shard {index}")))?;
        s.metrics.active_series.fetch_add(s.series.len() as i64, std::sync::atomic::Ordering::Relaxed);
        Ok(s)
    }

    pub(super) fn load_state(&mut self, adopt: std::collections::HashMap<PolicyId, i64>) -> Result<(), Error> {
        let db = self.db.clone();
        let names = self.cf_names.clone();
        let cf = |family: Family| column_family(&db, &names, family);
        for item in db.iterator_cf(cf(Family::Series), rocksdb::IteratorMode::Start) {
            let (k, v) = item?;
            if k.len() == 13 {
                // A series' first time, right after its entry.
                if let (Some(series), Ok(t)) = (self.series.get_mut(&keys::u64_at(&k, 4)), <[u8; 8]>::try_from(&*v)) {
                    series.first_t = i64::from_be_bytes(t);
                }
                continue;
            }
            if k.len() != 12 {
                if *k == keys::NEXT_SERIES_ID {
                    self.next_id = self.next_id.max(keys::u64_at(&v, 0));
                }
                continue;
            }
            let (policy, id) = (keys::u32_at(&k, 0), keys::u64_at(&k, 4));
            let labels = Labels::from_encoded(&v).ok_or_else(|| Error::Corrupt("series entry".into()))?;
            self.index_series(policy, id, labels);
            self.next_id = self.next_id.max(id + 1);
        }
        for item in db.iterator_cf(cf(Family::Postings), rocksdb::IteratorMode::Start) {
            let (k, _) = item?;
            let (policy, name, value, id) = keys::parse_posting_key(&k).ok_or_else(|| Error::Corrupt("posting".into()))?;
            self.postings.add_entry(policy, name, value, id);
        }
        for item in db.iterator_cf(cf(Family::Head), rocksdb::IteratorMode::Start) {
            let (k, v) = item?;
            if k.len() == 4 {
                self.partition_ms.insert(keys::u32_at(&k, 0), i64::from_be_bytes(v[..8].try_into().map_err(|_| Error::Corrupt("partition length".into()))?));
                continue;
            }
            let id = keys::u64_at(&k, 4);
            if let Some(series) = self.series.get_mut(&id) {
                series.head = XorChunk::from_bytes(&v).ok_or_else(|| Error::Corrupt("open chunk".into()))?;
            }
        }
        self.load_partitions()?;
        for (policy, p) in self.series.iter().filter_map(|(_, s)| Some((s.policy, self.head_partition(s)?))).collect::<Vec<_>>() {
            self.partitions.entry(policy).or_default().insert(p);
        }
        self.load_downsampled()?;
        // Replay the log on top of the heads, cutting chunks exactly as the writes did. Those
        // chunks are stored already (each write stored its cuts in the batch of its log entry)
        // or changed since (sealed into blocks, dropped by retention): they are not stored
        // again, or a sealed chunk would come back beside its block.
        let mut cut_again = WriteBatch::default();
        let mut replayed = 0u64;
        for item in db.iterator_cf(cf(Family::Log), rocksdb::IteratorMode::Start) {
            let (k, v) = item?;
            self.next_seq = self.next_seq.max(keys::u64_at(&k, 0) + 1);
            // An entry cut short (never written so) is replayed up to its last whole sample,
            // as it always was.
            let samples = keys::decode_log(&v).or_else(|e| {
                tracing::warn!(shard = self.index, error = %e, "replaying the whole samples of a log entry");
                keys::decode_log(&v[..v.len() - v.len() % keys::LOG_RECORD_BYTES])
            })?;
            for (id, t, value) in samples {
                let Some(series) = self.series.get(&id) else { continue };
                if !series.head.is_empty() && t <= series.head.max_time() {
                    continue;
                }
                self.append(id, t, value, &mut cut_again);
                replayed += 1;
            }
        }
        tracing::info!(shard = self.index, series = self.series.len(), replayed, "shard loaded");
        // A policy dropped from the catalog just before a crash, before the shards heard of it.
        let orphans: HashSet<PolicyId> = self.series.iter().map(|(_, s)| s.policy).chain(self.partitions.keys().copied()).filter(|policy| !adopt.contains_key(policy)).collect();
        self.partition_ms.extend(adopt);
        drop(cut_again);
        self.checkpoint()?;
        for policy in orphans {
            tracing::warn!(shard = self.index, policy, "dropping the data of a retention policy the catalog no longer has");
            self.drop_policy(policy)?;
        }
        Ok(())
    }

    /// Rewrites chunk keys of the first format (`[db][day][series][min time]`, one-day
    /// partitions) into today's, in batches; safe to run again after a crash halfway.
    pub(super) fn migrate_chunk_keys(&mut self) -> Result<(), Error> {
        const DAY_MS: i64 = 86_400_000;
        let db = self.db.clone();
        let cf = column_family(&db, &self.cf_names, Family::of(Encoding::Xor));
        let mut batch = WriteBatch::default();
        let mut moved = 0u64;
        for item in db.iterator_cf(cf, rocksdb::IteratorMode::Start) {
            let (k, v) = item?;
            if k.len() != 24 {
                continue;
            }
            let day_ms = (keys::u32_at(&k, 4) as i64 - (1 << 31)).saturating_mul(DAY_MS);
            let p = Partition::of(day_ms, DAY_MS);
            batch.put_cf(cf, keys::chunk_key(keys::u32_at(&k, 0), p, keys::u64_at(&k, 8), keys::unflip(&k[16..])), &v);
            batch.delete_cf(cf, &k);
            moved += 1;
            if batch.len() >= 20_000 {
                db.write(std::mem::take(&mut batch))?;
            }
        }
        db.write(batch)?;
        if moved > 0 {
            tracing::info!(shard = self.index, chunks = moved, "chunk keys migrated to time partitions with their own length");
        }
        Ok(())
    }

    pub(super) fn load_partitions(&mut self) -> Result<(), Error> {
        let db = self.db.clone();
        for encoding in Encoding::STORED {
            let mut it = db.raw_iterator_cf(column_family(&db, &self.cf_names, Family::of(encoding)));
            it.seek_to_first();
            while let Some(k) = it.key() {
                let (policy, p) = (keys::u32_at(k, 0), keys::partition_at(k));
                self.partitions.entry(policy).or_default().insert(p);
                match keys::prefix_end(&keys::partition_prefix(policy, p)) {
                    Some(next) => it.seek(next),
                    None => break,
                }
            }
            it.status()?;
        }
        Ok(())
    }

    pub(super) fn reload(&mut self) {
        let active = self.series.len() as i64;
        self.metrics.active_series.fetch_sub(active, std::sync::atomic::Ordering::Relaxed);
        match Shard::load(self.index, self.db.clone(), self.sync, self.metrics.clone(), self.wanted_lengths.clone(), false) {
            Ok(mut fresh) => {
                // The fresh state counts its pending partitions anew at its first step.
                self.metrics.downsample_pending.fetch_sub(self.downsample.pending, std::sync::atomic::Ordering::Relaxed);
                fresh.downsample.delay_ms = self.downsample.delay_ms;
                fresh.out_of_order_window_ms = self.out_of_order_window_ms;
                for (policy, n) in self.series_per_policy() {
                    self.admission.gone(policy, n);
                }
                fresh.share_admission(self.admission.clone());
                *self = Shard { dropped: std::mem::take(&mut self.dropped), ..fresh }
            }
            Err(e) => tracing::error!(shard = self.index, error = %e, "reload failed"),
        }
    }
}
