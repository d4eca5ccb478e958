//! One shard: an actix actor on its own thread, the only owner of its five column families
//! (`shard<N>.series`, `.postings`, `.head`, `.chunks`, `.log`) and of their in-memory
//! caches (series table, inverted index, open chunks). Everything else asks by message.
//!
//! Durability: a write appends its accepted samples to the log column family in the same
//! RocksDB write batch as any new series and any chunk that filled up; the batch is in
//! RocksDB's WAL before the reply. A checkpoint stores every changed open chunk in `head`
//! and range-deletes the log up to that point; at start the heads are loaded and the log
//! replayed on top, which recreates exactly the same chunks. For that the partition length
//! (shard duration) that cuts chunks changes only at a checkpoint, stored with it.
//!
//! The `db` of a shard is a retention policy's id (a database's first policy has the
//! database's id): each policy is a separate space of series, as in InfluxDB.

use super::chunk::{XorChunk, SAMPLES_PER_CHUNK};
use super::keys::{self, Partition};
use crate::index::{matcher::Matcher, postings::Postings};
use crate::labels::Labels;
use crate::metrics::Metrics;
use actix::prelude::*;
use rocksdb::{ColumnFamily, WriteBatch, WriteOptions, DB};
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::collections::BTreeSet;
use std::sync::{Arc, RwLock};

/// Policy id → partition length in ms, as the catalog wants it; shared with `Storage`.
pub type PartitionLengths = Arc<RwLock<std::collections::HashMap<u32, i64>>>;

/// Log bytes after which a checkpoint runs, bounding replay time at start.
const CHECKPOINT_LOG_BYTES: usize = 32 << 20;
/// At most this many rejected series are named in an answer.
const MAX_REJECTIONS_NAMED: usize = 5;
/// The partition length of a policy the shard has not been told about: the one fixed length
/// that data directories had before retention policies.
const FALLBACK_PARTITION_MS: i64 = 86_400_000;

pub const CF_KINDS: [&str; 5] = ["series", "postings", "head", "chunks", "log"];

pub fn cf_name(shard: usize, kind: &str) -> String {
    format!("shard{shard}.{kind}")
}

struct Series {
    db: u32,
    labels: Labels,
    head: XorChunk,
    /// Changed since the last checkpoint (then its id is in `Shard::dirty`).
    dirty: bool,
}

/// A full or open chunk of one series.
#[derive(Clone, Debug)]
pub struct StoredChunk {
    pub min_t: i64,
    pub max_t: i64,
    pub data: Vec<u8>,
}

#[derive(Debug, Clone)]
pub struct SeriesWrite {
    pub labels: Labels,
    pub hash: u64,
    pub samples: Vec<(i64, f64)>,
}

#[derive(Default, Debug)]
pub struct WriteOutcome {
    pub accepted: u64,
    pub duplicates: u64,
    pub new_series: u64,
    pub rejected: u64,
    /// The first few rejected series, each with the reason.
    pub rejections: Vec<String>,
}

impl WriteOutcome {
    pub fn merge(&mut self, o: WriteOutcome) {
        self.accepted += o.accepted;
        self.duplicates += o.duplicates;
        self.new_series += o.new_series;
        self.rejected += o.rejected;
        let room = MAX_REJECTIONS_NAMED.saturating_sub(self.rejections.len());
        self.rejections.extend(o.rejections.into_iter().take(room));
    }
}

pub struct Shard {
    index: usize,
    db: Arc<DB>,
    /// Names of the shard's column families, in `CF_KINDS` order.
    cf_names: Vec<String>,
    sync: bool,
    metrics: Arc<Metrics>,
    series: SeriesTable,
    /// Hash of (database, labels) → series id; the rare 64-bit collisions go to `collided`.
    by_hash: HashMap<u64, u64>,
    collided: HashMap<u64, Vec<u64>>,
    postings: Postings,
    /// Per database, the chunk partitions stored.
    partitions: HashMap<u32, BTreeSet<Partition>>,
    /// Per database, the length of new partitions (its shard duration), as of the last checkpoint.
    partition_ms: HashMap<u32, i64>,
    /// What the catalog wants; adopted at the next write to that database, with a checkpoint.
    wanted_lengths: PartitionLengths,
    dropped: HashSet<u32>,
    /// Series changed since the last checkpoint.
    dirty: Vec<u64>,
    next_id: u64,
    next_seq: u64,
    log_bytes: usize,
}

/// Series by id. Ids are dense (allocated one after another), so a vector indexed by id
/// finds a series with one memory access where a hash map needs several: with 100 000
/// series, that lookup is the largest cost of a write.
#[derive(Default)]
struct SeriesTable {
    slots: Vec<Option<Series>>,
    len: usize,
}

impl SeriesTable {
    fn get(&self, id: &u64) -> Option<&Series> {
        self.slots.get(*id as usize)?.as_ref()
    }

    fn get_mut(&mut self, id: &u64) -> Option<&mut Series> {
        self.slots.get_mut(*id as usize)?.as_mut()
    }

    fn insert(&mut self, id: u64, s: Series) {
        let i = id as usize;
        if i >= self.slots.len() {
            self.slots.resize_with(i + 1, || None);
        }
        if self.slots[i].replace(s).is_none() {
            self.len += 1;
        }
    }

    fn remove(&mut self, id: &u64) -> Option<Series> {
        let s = self.slots.get_mut(*id as usize)?.take();
        self.len -= s.is_some() as usize;
        s
    }

    fn len(&self) -> usize {
        self.len
    }

    fn iter(&self) -> impl Iterator<Item = (u64, &Series)> {
        self.slots.iter().enumerate().filter_map(|(i, s)| Some((i as u64, s.as_ref()?)))
    }
}

impl std::ops::Index<&u64> for SeriesTable {
    type Output = Series;
    fn index(&self, id: &u64) -> &Series {
        self.get(id).expect("series exists")
    }
}

/// The handle of one of a shard's column families, from its names in `CF_KINDS` order. A free
/// function so that callers can hold it while they borrow other fields of the shard.
fn column_family<'a>(db: &'a DB, names: &[String], kind: &str) -> &'a ColumnFamily {
    let i = CF_KINDS.iter().position(|k| *k == kind).expect("known column family kind");
    db.cf_handle(&names[i]).expect("column family exists")
}

fn series_hash(db: u32, labels_hash: u64) -> u64 {
    labels_hash ^ (db as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

impl Shard {
    fn cf(&self, kind: &str) -> &ColumnFamily {
        column_family(&self.db, &self.cf_names, kind)
    }

    /// Loads the shard's state from its column families, replays its log with the partition
    /// lengths it was written with, then adopts `partition_ms` (the catalog's). `migrate`
    /// rewrites chunk keys of the format before retention policies.
    pub fn load(index: usize, db: Arc<DB>, sync: bool, metrics: Arc<Metrics>, wanted_lengths: PartitionLengths, migrate: bool) -> Result<Shard, String> {
        let mut s = Shard {
            index,
            db,
            cf_names: CF_KINDS.iter().map(|k| cf_name(index, k)).collect(),
            sync,
            metrics,
            series: SeriesTable::default(),
            by_hash: HashMap::default(),
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
        };
        if migrate {
            s.migrate_chunk_keys().map_err(|e| format!("shard {index}: {e}"))?;
        }
        let adopt = s.wanted_lengths.read().unwrap().clone();
        s.load_state(adopt).map_err(|e| format!("shard {index}: {e}"))?;
        s.metrics.active_series.fetch_add(s.series.len() as i64, std::sync::atomic::Ordering::Relaxed);
        Ok(s)
    }

    fn load_state(&mut self, adopt: std::collections::HashMap<u32, i64>) -> Result<(), String> {
        let db = self.db.clone();
        let names = self.cf_names.clone();
        let cf = |kind: &str| column_family(&db, &names, kind);
        let err = |e: rocksdb::Error| e.to_string();
        for item in db.iterator_cf(cf("series"), rocksdb::IteratorMode::Start) {
            let (k, v) = item.map_err(err)?;
            if k.len() != 12 {
                if *k == keys::NEXT_SERIES_ID {
                    self.next_id = self.next_id.max(keys::u64_at(&v, 0));
                }
                continue;
            }
            let (dbid, id) = (keys::u32_at(&k, 0), keys::u64_at(&k, 4));
            let labels = Labels::from_encoded(&v).ok_or("corrupt series entry")?;
            self.index_series(dbid, id, labels);
            self.next_id = self.next_id.max(id + 1);
        }
        for item in db.iterator_cf(cf("postings"), rocksdb::IteratorMode::Start) {
            let (k, _) = item.map_err(err)?;
            let (dbid, name, value, id) = keys::parse_posting_key(&k).ok_or("corrupt posting")?;
            self.postings.add_entry(dbid, name, value, id);
        }
        for item in db.iterator_cf(cf("head"), rocksdb::IteratorMode::Start) {
            let (k, v) = item.map_err(err)?;
            if k.len() == 4 {
                self.partition_ms.insert(keys::u32_at(&k, 0), i64::from_be_bytes(v[..8].try_into().map_err(|_| "corrupt partition length")?));
                continue;
            }
            let id = keys::u64_at(&k, 4);
            if let Some(series) = self.series.get_mut(&id) {
                series.head = XorChunk::from_bytes(&v).ok_or("corrupt open chunk")?;
            }
        }
        self.load_partitions()?;
        // Replay the log on top of the heads; cuts land in `batch` exactly as they did.
        let mut batch = WriteBatch::default();
        let mut replayed = 0u64;
        for item in db.iterator_cf(cf("log"), rocksdb::IteratorMode::Start) {
            let (k, v) = item.map_err(err)?;
            self.next_seq = self.next_seq.max(keys::u64_at(&k, 0) + 1);
            for rec in v.chunks_exact(24) {
                let id = u64::from_le_bytes(rec[..8].try_into().unwrap());
                let t = i64::from_le_bytes(rec[8..16].try_into().unwrap());
                let value = f64::from_bits(u64::from_le_bytes(rec[16..].try_into().unwrap()));
                let Some(series) = self.series.get(&id) else { continue };
                if !series.head.is_empty() && t <= series.head.max_time() {
                    continue;
                }
                self.append(id, t, value, &mut batch);
                replayed += 1;
            }
        }
        tracing::info!(shard = self.index, series = self.series.len(), replayed, "shard loaded");
        // A policy dropped from the catalog just before a crash, before the shards heard of it.
        let orphans: HashSet<u32> = self.series.iter().map(|(_, s)| s.db).chain(self.partitions.keys().copied()).filter(|db| !adopt.contains_key(db)).collect();
        self.partition_ms.extend(adopt);
        self.checkpoint_with(batch)?;
        for db in orphans {
            tracing::warn!(shard = self.index, policy = db, "dropping the data of a retention policy the catalog no longer has");
            self.drop_policy(db)?;
        }
        Ok(())
    }

    /// Rewrites chunk keys of the first format (`[db][day][series][min time]`, one-day
    /// partitions) into today's, in batches; safe to run again after a crash halfway.
    fn migrate_chunk_keys(&mut self) -> Result<(), String> {
        const DAY_MS: i64 = 86_400_000;
        let db = self.db.clone();
        let cf = column_family(&db, &self.cf_names, "chunks");
        let mut batch = WriteBatch::default();
        let mut moved = 0u64;
        for item in db.iterator_cf(cf, rocksdb::IteratorMode::Start) {
            let (k, v) = item.map_err(|e| e.to_string())?;
            if k.len() != 24 {
                continue;
            }
            let day_ms = (keys::u32_at(&k, 4) as i64 - (1 << 31)).saturating_mul(DAY_MS);
            let p = Partition::of(day_ms, DAY_MS);
            batch.put_cf(cf, keys::chunk_key(keys::u32_at(&k, 0), p, keys::u64_at(&k, 8), keys::unflip(&k[16..])), &v);
            batch.delete_cf(cf, &k);
            moved += 1;
            if batch.len() >= 20_000 {
                db.write(std::mem::take(&mut batch)).map_err(|e| e.to_string())?;
            }
        }
        db.write(batch).map_err(|e| e.to_string())?;
        if moved > 0 {
            tracing::info!(shard = self.index, chunks = moved, "chunk keys migrated to time partitions with their own length");
        }
        Ok(())
    }

    fn load_partitions(&mut self) -> Result<(), String> {
        let db = self.db.clone();
        let mut it = db.raw_iterator_cf(column_family(&db, &self.cf_names, "chunks"));
        it.seek_to_first();
        while let Some(k) = it.key() {
            let (dbid, p) = (keys::u32_at(k, 0), keys::partition_at(k));
            self.partitions.entry(dbid).or_default().insert(p);
            match keys::prefix_end(&keys::partition_prefix(dbid, p)) {
                Some(next) => it.seek(next),
                None => break,
            }
        }
        it.status().map_err(|e| e.to_string())
    }

    fn index_series(&mut self, db: u32, id: u64, labels: Labels) {
        let h = series_hash(db, labels.stable_hash());
        if let Some(prev) = self.by_hash.insert(h, id) {
            if prev != id {
                self.by_hash.insert(h, prev);
                self.collided.entry(h).or_default().push(id);
            }
        }
        self.postings.add_series(db, id);
        self.series.insert(id, Series { db, labels, head: XorChunk::new(), dirty: false });
    }

    fn find(&self, db: u32, labels_hash: u64, labels: &Labels) -> Option<u64> {
        let h = series_hash(db, labels_hash);
        let same = |id: &u64| self.series.get(id).is_some_and(|s| s.db == db && s.labels == *labels);
        self.by_hash
            .get(&h)
            .filter(|id| same(id))
            .or_else(|| self.collided.get(&h)?.iter().find(|id| same(id)))
            .copied()
    }

    fn partition_length(&self, db: u32) -> i64 {
        self.partition_ms.get(&db).copied().unwrap_or(FALLBACK_PARTITION_MS)
    }

    /// Appends one sample to a series' open chunk, cutting the chunk into `batch` first when it
    /// is full or the sample falls in another partition.
    fn append(&mut self, id: u64, t: i64, value: f64, batch: &mut WriteBatch) {
        let length = self.partition_length(self.series[&id].db);
        let series = self.series.get_mut(&id).expect("series exists");
        let head = &mut series.head;
        if !head.is_empty()
            && (head.len() >= SAMPLES_PER_CHUNK || Partition::of(head.min_time(), length) != Partition::of(t, length))
        {
            let full = std::mem::take(head);
            let p = Partition::of(full.min_time(), length).reaching(full.max_time());
            let key = keys::chunk_key(series.db, p, id, full.min_time());
            let mut stored = Vec::with_capacity(8 + full.bytes().len());
            stored.extend_from_slice(&full.max_time().to_be_bytes());
            stored.extend_from_slice(full.bytes());
            self.partitions.entry(series.db).or_default().insert(p);
            let cf = column_family(&self.db, &self.cf_names, "chunks");
            batch.put_cf(cf, key, stored);
        }
        series.head.append(t, value);
        if !series.dirty {
            series.dirty = true;
            self.dirty.push(id);
        }
    }

    fn write(&mut self, db: u32, writes: Vec<SeriesWrite>) -> Result<WriteOutcome, String> {
        if self.dropped.contains(&db) {
            return Err("database was dropped".into());
        }
        let wanted = self.wanted_lengths.read().unwrap().get(&db).copied();
        if let Some(ms) = wanted.filter(|ms| self.partition_ms.get(&db) != Some(ms)) {
            // The log since the last checkpoint was cut with the old length: checkpoint first,
            // storing the new length with it, so that a replay cuts exactly as we do.
            let old = self.partition_ms.insert(db, ms);
            if let Err(e) = self.checkpoint() {
                match old {
                    Some(old) => self.partition_ms.insert(db, old),
                    None => self.partition_ms.remove(&db),
                };
                return Err(e);
            }
        }
        let mut out = WriteOutcome::default();
        let mut batch = WriteBatch::default();
        let mut log = Vec::with_capacity(24 * writes.iter().map(|w| w.samples.len()).sum::<usize>());
        for w in writes {
            let id = match self.find(db, w.hash, &w.labels) {
                Some(id) => id,
                None if w.samples.is_empty() => continue,
                None => {
                    let id = self.next_id;
                    self.next_id += 1;
                    batch.put_cf(self.cf("series"), keys::series_key(db, id), w.labels.as_bytes());
                    for (name, value) in w.labels.iter() {
                        batch.put_cf(self.cf("postings"), keys::posting_key(db, name, value, id), b"");
                        self.postings.add_entry(db, name, value, id);
                    }
                    self.index_series(db, id, w.labels.clone());
                    out.new_series += 1;
                    id
                }
            };
            let mut rejected: Option<String> = None;
            for (t, v) in w.samples {
                let head = &self.series[&id].head;
                if !head.is_empty() && t <= head.max_time() {
                    if self.stored_value(db, id, t) == Some(v.to_bits()) {
                        out.duplicates += 1;
                    } else {
                        out.rejected += 1;
                        if rejected.is_none() {
                            let why = if t == head.max_time() { "duplicate sample for timestamp" } else { "out of order sample" };
                            rejected = Some(format!("{why} {t} (newest is {}) for series {}", head.max_time(), w.labels));
                        }
                    }
                    continue;
                }
                // Appends beyond what is in the series' older chunks are always safe: the
                // head holds the newest sample of every series.
                self.append(id, t, v, &mut batch);
                log.extend_from_slice(&id.to_le_bytes());
                log.extend_from_slice(&t.to_le_bytes());
                log.extend_from_slice(&v.to_bits().to_le_bytes());
                out.accepted += 1;
            }
            if let Some(r) = rejected {
                if out.rejections.len() < MAX_REJECTIONS_NAMED {
                    out.rejections.push(r);
                }
            }
        }
        if !log.is_empty() {
            batch.put_cf(self.cf("log"), keys::log_key(self.next_seq), &log);
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
            return Err(format!("storage write failed: {e}"));
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
    fn stored_value(&self, db: u32, id: u64, t: i64) -> Option<u64> {
        let find = |data: &[u8]| {
            let mut found = None;
            super::chunk::decode_each(data, |st, v| {
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
            return find(head.bytes());
        }
        let mut it = self.db.raw_iterator_cf(self.cf("chunks"));
        for p in self.partitions.get(&db)?.iter().filter(|p| p.contains(t)) {
            it.seek_for_prev(keys::chunk_key(db, *p, id, t));
            let (Some(k), Some(v)) = (it.key(), it.value()) else { continue };
            if k.starts_with(&keys::chunk_prefix(db, *p, id)) && i64::from_be_bytes(v[..8].try_into().ok()?) >= t {
                return find(&v[8..]);
            }
        }
        None
    }

    fn reload(&mut self) {
        let active = self.series.len() as i64;
        self.metrics.active_series.fetch_sub(active, std::sync::atomic::Ordering::Relaxed);
        match Shard::load(self.index, self.db.clone(), self.sync, self.metrics.clone(), self.wanted_lengths.clone(), false) {
            Ok(fresh) => *self = Shard { dropped: std::mem::take(&mut self.dropped), ..fresh },
            Err(e) => tracing::error!(shard = self.index, error = %e, "reload failed"),
        }
    }

    pub fn checkpoint(&mut self) -> Result<(), String> {
        self.checkpoint_with(WriteBatch::default())
    }

    /// Stores changed open chunks and the partition lengths, and drops the log they cover,
    /// atomically.
    fn checkpoint_with(&mut self, mut batch: WriteBatch) -> Result<(), String> {
        for id in &self.dirty {
            if let Some(s) = self.series.get(id) {
                batch.put_cf(self.cf("head"), keys::series_key(s.db, *id), s.head.bytes());
            }
        }
        for (db, ms) in &self.partition_ms {
            batch.put_cf(self.cf("head"), keys::partition_length_key(*db), ms.to_be_bytes());
        }
        batch.delete_range_cf(self.cf("log"), keys::log_key(0), keys::log_key(self.next_seq));
        let mut wo = WriteOptions::default();
        wo.set_sync(self.sync);
        self.db.write_opt(batch, &wo).map_err(|e| e.to_string())?;
        // Log entries already flushed to table files would otherwise stay on disk until a
        // compaction: drop those files whole. (The log's L0 files are moved to L1 at once,
        // see the log's options in `storage`, because this skips L0.)
        self.db
            .delete_file_in_range_cf(self.cf("log"), keys::log_key(0), keys::log_key(self.next_seq))
            .map_err(|e| e.to_string())?;
        for id in std::mem::take(&mut self.dirty) {
            if let Some(s) = self.series.get_mut(&id) {
                s.dirty = false;
            }
        }
        self.log_bytes = 0;
        Ok(())
    }

    fn select(&self, db: u32, matchers: &[Matcher]) -> Vec<(Labels, u64)> {
        self.postings
            .candidates(db, matchers)
            .into_iter()
            .filter_map(|id| {
                let s = self.series.get(&id)?;
                matchers.iter().all(|m| m.matches(&s.labels)).then(|| (s.labels.clone(), id))
            })
            .collect()
    }

    /// Chunks overlapping [min_t, max_t] of each series in order, the first series from
    /// `first_from` on (to resume a page). Stops after the chunk that reaches `budget` bytes:
    /// the answer then covers a prefix of `ids`, its last series cut short.
    fn read_chunks(&self, req: &ReadChunks) -> Result<ChunkPage, String> {
        let (db, max_t) = (req.db, req.max_t);
        let mut it = self.db.raw_iterator_cf(self.cf("chunks"));
        let mut page = ChunkPage::default();
        let mut bytes = 0usize;
        for (i, &id) in req.ids.iter().enumerate() {
            let min_t = if i == 0 { req.first_from.max(req.min_t) } else { req.min_t };
            let overlaps = |a: i64, b: i64| a <= max_t && b >= min_t;
            let mut chunks = Vec::new();
            let Some(series) = self.series.get(&id).filter(|s| s.db == db) else {
                page.series.push(chunks);
                continue;
            };
            // Partitions of different lengths (after a shard duration change) do not sort in
            // time order: gather the series' full chunks, then put them in time order.
            let mut stored = Vec::new();
            for p in self.partitions.get(&db).into_iter().flatten().filter(|p| p.overlaps(min_t, max_t)) {
                let prefix = keys::chunk_prefix(db, *p, id);
                it.seek(prefix);
                while let (Some(k), Some(v)) = (it.key(), it.value()) {
                    if !k.starts_with(&prefix) {
                        break;
                    }
                    let (c_min, c_max) = (keys::unflip(&k[20..]), i64::from_be_bytes(v[..8].try_into().unwrap()));
                    if c_min > max_t {
                        break;
                    }
                    if overlaps(c_min, c_max) {
                        stored.push(StoredChunk { min_t: c_min, max_t: c_max, data: v[8..].to_vec() });
                    }
                    it.next();
                }
            }
            it.status().map_err(|e| e.to_string())?;
            stored.sort_unstable_by_key(|c| c.min_t);
            for c in stored {
                bytes += c.data.len();
                let resume = c.max_t.checked_add(1).filter(|_| bytes >= req.budget && c.max_t < max_t);
                chunks.push(c);
                if let Some(resume) = resume {
                    page.series.push(chunks);
                    page.resume = Some(resume);
                    return Ok(page);
                }
            }
            let head = &series.head;
            if !head.is_empty() && overlaps(head.min_time(), head.max_time()) {
                chunks.push(StoredChunk { min_t: head.min_time(), max_t: head.max_time(), data: head.bytes().to_vec() });
                bytes += head.bytes().len();
            }
            page.series.push(chunks);
            if bytes >= req.budget && i + 1 < req.ids.len() {
                break;
            }
        }
        Ok(page)
    }

    fn drop_policy(&mut self, db: u32) -> Result<(), String> {
        self.dropped.insert(db);
        let mut batch = WriteBatch::default();
        for kind in CF_KINDS.iter().filter(|k| **k != "log") {
            batch.delete_range_cf(self.cf(kind), keys::db_prefix(db).to_vec(), keys::db_end(db));
        }
        // Log entries of the dropped series stay until the next checkpoint: their ids must
        // never name another series.
        batch.put_cf(self.cf("series"), keys::NEXT_SERIES_ID, self.next_id.to_be_bytes());
        self.db.write(batch).map_err(|e| e.to_string())?;
        let gone: Vec<u64> = self.series.iter().filter(|(_, s)| s.db == db).map(|(id, _)| id).collect();
        self.forget(&gone);
        self.postings.remove_db(db);
        self.partitions.remove(&db);
        self.partition_ms.remove(&db);
        for kind in CF_KINDS.iter().filter(|k| **k != "log") {
            self.db.compact_range_cf(self.cf(kind), Some(keys::db_prefix(db).to_vec()), Some(keys::db_end(db)));
        }
        Ok(())
    }
}

impl Shard {
    /// Removes series from memory (table, hash lookup, index); their keys are the caller's.
    fn forget(&mut self, ids: &[u64]) {
        let mut gone = Vec::with_capacity(ids.len());
        for id in ids {
            let Some(s) = self.series.remove(id) else { continue };
            let h = series_hash(s.db, s.labels.stable_hash());
            if self.by_hash.get(&h) == Some(id) {
                self.by_hash.remove(&h);
            }
            if let Some(c) = self.collided.get_mut(&h) {
                c.retain(|x| x != id);
            }
            gone.push((s.db, *id, s.labels));
        }
        let refs: Vec<(u32, u64, &Labels)> = gone.iter().map(|(db, id, labels)| (*db, *id, labels)).collect();
        self.postings.remove(&refs);
        self.metrics.active_series.fetch_sub(gone.len() as i64, std::sync::atomic::Ordering::Relaxed);
    }

    /// Deletes series with all their data (series entry, index entries, open and full chunks).
    fn delete_series(&mut self, ids: &[u64]) -> Result<usize, String> {
        let mut batch = WriteBatch::default();
        let gone = self.stage_series_deletion(ids, &mut batch);
        if gone.is_empty() {
            return Ok(0);
        }
        self.db.write(batch).map_err(|e| e.to_string())?;
        self.forget(&gone);
        Ok(gone.len())
    }

    /// Puts the deletion of these series' keys in `batch`; answers the ids that exist.
    fn stage_series_deletion(&self, ids: &[u64], batch: &mut WriteBatch) -> Vec<u64> {
        let mut gone = Vec::new();
        let mut it = self.db.raw_iterator_cf(self.cf("chunks"));
        for &id in ids {
            let Some(s) = self.series.get(&id) else { continue };
            batch.delete_cf(self.cf("series"), keys::series_key(s.db, id));
            batch.delete_cf(self.cf("head"), keys::series_key(s.db, id));
            for (name, value) in s.labels.iter() {
                batch.delete_cf(self.cf("postings"), keys::posting_key(s.db, name, value, id));
            }
            // A range delete only where the series has chunks: tombstones slow every read.
            for p in self.partitions.get(&s.db).into_iter().flatten() {
                let prefix = keys::chunk_prefix(s.db, *p, id);
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
    fn delete_points(&mut self, ids: &[u64], min_t: i64, max_t: i64) -> Result<usize, String> {
        let without = |data: &[u8]| -> Result<Option<XorChunk>, String> {
            let mut kept = XorChunk::new();
            super::chunk::decode_each(data, |t, v| {
                if t < min_t || t > max_t {
                    kept.append(t, v);
                }
            })
            .ok_or("corrupt chunk")?;
            Ok((!kept.is_empty()).then_some(kept))
        };
        let stored = |c: &XorChunk| [c.max_time().to_be_bytes().as_slice(), c.bytes()].concat();
        let mut batch = WriteBatch::default();
        let mut emptied = Vec::new();
        let db = self.db.clone();
        let cf = column_family(&db, &self.cf_names, "chunks");
        for &id in ids {
            let Some(series) = self.series.get(&id) else { continue };
            let space = series.db;
            // The newest full chunk left: (partition, min time, stored value).
            let mut newest: Option<(Partition, i64, Vec<u8>)> = None;
            let mut it = db.raw_iterator_cf(cf);
            for p in self.partitions.get(&space).into_iter().flatten() {
                let prefix = keys::chunk_prefix(space, *p, id);
                it.seek(prefix);
                while let (Some(k), Some(v)) = (it.key(), it.value()) {
                    if !k.starts_with(&prefix) {
                        break;
                    }
                    let (c_min, c_max) = (keys::unflip(&k[20..]), i64::from_be_bytes(v[..8].try_into().unwrap()));
                    let mut left = Some((c_min, v.to_vec()));
                    if c_min <= max_t && c_max >= min_t {
                        batch.delete_cf(cf, k);
                        left = without(&v[8..])?.map(|kept| (kept.min_time(), stored(&kept)));
                        if let Some((min, value)) = &left {
                            batch.put_cf(cf, keys::chunk_key(space, *p, id, *min), value);
                        }
                    }
                    if let Some((min, value)) = left.filter(|(min, _)| newest.as_ref().is_none_or(|n| *min > n.1)) {
                        newest = Some((*p, min, value));
                    }
                    it.next();
                }
            }
            it.status().map_err(|e| e.to_string())?;
            let head = &series.head;
            if head.is_empty() || head.min_time() > max_t || head.max_time() < min_t {
                continue;
            }
            let head = match without(head.bytes())? {
                Some(kept) => kept,
                None => match newest {
                    Some((p, min, value)) => {
                        batch.delete_cf(cf, keys::chunk_key(space, p, id, min));
                        XorChunk::from_bytes(&value[8..]).ok_or("corrupt chunk")?
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

    /// Retention: drops the partitions of `db` that end by `before` and the series whose
    /// newest sample is older than `before` (their open chunks with them), then compacts the
    /// dropped ranges so the disk space comes back.
    fn expire(&mut self, db: u32, before: i64) -> Result<Expired, String> {
        let old: Vec<Partition> = self.partitions.get(&db).into_iter().flatten().filter(|p| p.before(before)).copied().collect();
        let cf = self.cf("chunks");
        let mut ranges = Vec::new();
        let mut batch = WriteBatch::default();
        for p in &old {
            let prefix = keys::partition_prefix(db, *p);
            let end = keys::prefix_end(&prefix).unwrap_or_else(|| keys::db_end(db));
            self.db.delete_file_in_range_cf(cf, &prefix[..], &end[..]).map_err(|e| e.to_string())?;
            batch.delete_range_cf(cf, &prefix[..], &end[..]);
            ranges.push((prefix, end));
        }
        self.db.write(batch).map_err(|e| e.to_string())?;
        if let Some(set) = self.partitions.get_mut(&db) {
            set.retain(|p| !old.contains(p));
        }
        let stale: Vec<u64> = self
            .series
            .iter()
            .filter(|(_, s)| s.db == db && !s.head.is_empty() && s.head.max_time() < before)
            .map(|(id, _)| id)
            .collect();
        let series = self.delete_series(&stale)?;
        for (start, end) in &ranges {
            self.db.compact_range_cf(self.cf("chunks"), Some(start.as_slice()), Some(end.as_slice()));
        }
        Ok(Expired { partitions: old.len(), series })
    }
}

impl Actor for Shard {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // Bound the log of a quiet shard too.
        ctx.run_interval(std::time::Duration::from_secs(60), |shard, _| {
            if !shard.dirty.is_empty() {
                if let Err(e) = shard.checkpoint() {
                    tracing::error!(shard = shard.index, error = %e, "checkpoint failed");
                }
            }
        });
    }
}

#[derive(Message)]
#[rtype(result = "Result<WriteOutcome, String>")]
pub struct Write {
    pub db: u32,
    pub series: Vec<SeriesWrite>,
}

impl Handler<Write> for Shard {
    type Result = Result<WriteOutcome, String>;
    fn handle(&mut self, msg: Write, _: &mut Context<Self>) -> Self::Result {
        self.write(msg.db, msg.series)
    }
}

/// The series of a database that match every matcher, with their ids.
#[derive(Message)]
#[rtype(result = "Vec<(Labels, u64)>")]
pub struct Select {
    pub db: u32,
    pub matchers: Arc<Vec<Matcher>>,
}

impl Handler<Select> for Shard {
    type Result = MessageResult<Select>;
    fn handle(&mut self, msg: Select, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.select(msg.db, &msg.matchers))
    }
}

/// The chunks overlapping [min_t, max_t] of each series, in time order, in the order asked,
/// up to about `budget` bytes (see `ChunkPage`).
#[derive(Message)]
#[rtype(result = "Result<ChunkPage, String>")]
pub struct ReadChunks {
    pub db: u32,
    pub ids: Vec<u64>,
    /// Where the first series starts (a resumed page); `i64::MIN` for a fresh one.
    pub first_from: i64,
    pub min_t: i64,
    pub max_t: i64,
    pub budget: usize,
}

/// Chunks of a prefix of the series asked for. When `resume` is set, the last series is
/// cut short: ask again from it with `first_from = resume`.
#[derive(Default, Debug)]
pub struct ChunkPage {
    pub series: Vec<Vec<StoredChunk>>,
    pub resume: Option<i64>,
}

impl Handler<ReadChunks> for Shard {
    type Result = Result<ChunkPage, String>;
    fn handle(&mut self, msg: ReadChunks, _: &mut Context<Self>) -> Self::Result {
        self.read_chunks(&msg)
    }
}

#[derive(Message)]
#[rtype(result = "Vec<String>")]
pub struct LabelValues {
    pub db: u32,
    pub name: String,
}

impl Handler<LabelValues> for Shard {
    type Result = MessageResult<LabelValues>;
    fn handle(&mut self, msg: LabelValues, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.postings.label_values(msg.db, &msg.name))
    }
}

#[derive(Message)]
#[rtype(result = "Result<(), String>")]
pub struct DropPolicy(pub u32);

impl Handler<DropPolicy> for Shard {
    type Result = Result<(), String>;
    fn handle(&mut self, msg: DropPolicy, _: &mut Context<Self>) -> Self::Result {
        self.drop_policy(msg.0)
    }
}

/// Retention: drops what of database `db` is older than `before` (see `Shard::expire`).
#[derive(Message)]
#[rtype(result = "Result<Expired, String>")]
pub struct Expire {
    pub db: u32,
    pub before: i64,
}

#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Expired {
    pub partitions: usize,
    pub series: usize,
}

impl Handler<Expire> for Shard {
    type Result = Result<Expired, String>;
    fn handle(&mut self, msg: Expire, _: &mut Context<Self>) -> Self::Result {
        self.expire(msg.db, msg.before)
    }
}

/// Deletes the samples in [min_t, max_t] of the given series (see `Shard::delete_points`).
#[derive(Message)]
#[rtype(result = "Result<usize, String>")]
pub struct DeletePoints {
    pub ids: Vec<u64>,
    pub min_t: i64,
    pub max_t: i64,
}

impl Handler<DeletePoints> for Shard {
    type Result = Result<usize, String>;
    fn handle(&mut self, msg: DeletePoints, _: &mut Context<Self>) -> Self::Result {
        self.delete_points(&msg.ids, msg.min_t, msg.max_t)
    }
}

/// Deletes the given series of this shard with all their data; answers how many existed.
#[derive(Message)]
#[rtype(result = "Result<usize, String>")]
pub struct DeleteSeries(pub Vec<u64>);

impl Handler<DeleteSeries> for Shard {
    type Result = Result<usize, String>;
    fn handle(&mut self, msg: DeleteSeries, _: &mut Context<Self>) -> Self::Result {
        self.delete_series(&msg.0)
    }
}

/// Stores open chunks, truncates the log and flushes every column family of the shard;
/// sent at shutdown, so that a restart has nothing to replay and no stale log on disk.
#[derive(Message)]
#[rtype(result = "Result<(), String>")]
pub struct Shutdown;

impl Handler<Shutdown> for Shard {
    type Result = Result<(), String>;
    fn handle(&mut self, _: Shutdown, _: &mut Context<Self>) -> Self::Result {
        self.checkpoint()?;
        let err = |e: rocksdb::Error| e.to_string();
        for kind in CF_KINDS {
            self.db.flush_cf(self.cf(kind)).map_err(err)?;
        }
        // A flush keeps log entries that the checkpoint's range delete covers, and older
        // snapshots of open chunks linger in `head`: compacting both (small) drops them.
        for kind in ["log", "head"] {
            self.db.compact_range_cf(self.cf(kind), None::<&[u8]>, None::<&[u8]>);
        }
        Ok(())
    }
}
