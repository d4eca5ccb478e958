//! Storage: one RocksDB instance per data directory, N shard actors that each own their
//! column families, and the catalog of databases and metric metadata in the `meta` column
//! family. This is the only way the HTTP layer reaches data; it knows nothing of HTTP.

pub mod chunk;
pub mod fields;
pub mod keys;
pub mod shard;
pub mod users;

use crate::index::matcher::Matcher;
use crate::labels::Labels;
use crate::metrics::Metrics;
use actix::prelude::*;
use futures_util::future::join_all;
use rocksdb::{ColumnFamilyDescriptor, Options, WriteOptions, DB};
use shard::{ChunkPage, Shard, SeriesWrite, StoredChunk, WriteOutcome};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, RwLock};

const META_CF: &str = "meta";

#[derive(Debug, PartialEq)]
pub enum StorageError {
    DatabaseNotFound(String),
    Internal(String),
}

impl std::fmt::Display for StorageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StorageError::DatabaseNotFound(db) => write!(f, "database not found: {db}"),
            StorageError::Internal(e) => write!(f, "{e}"),
        }
    }
}

/// Metric metadata as remote write carries it (type, help, unit), per metric family.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MetricMeta {
    pub family: String,
    pub kind: String,
    pub help: String,
    pub unit: String,
}

pub struct StorageOptions {
    pub data_dir: PathBuf,
    pub shards: usize,
    /// fsync the WAL before acknowledging a write (power-loss safety).
    pub sync_writes: bool,
}

#[derive(Default)]
struct Catalog {
    databases: BTreeMap<String, u32>,
    next_id: u32,
}

pub struct Storage {
    db: Arc<DB>,
    shards: Vec<Addr<Shard>>,
    catalog: RwLock<Catalog>,
    metadata: RwLock<HashMap<u32, BTreeMap<String, MetricMeta>>>,
    fields: fields::FieldRegistry,
    users: users::UserStore,
    metrics: Arc<Metrics>,
    data_dir: PathBuf,
    sync_writes: bool,
    _arbiters: Vec<Arbiter>,
}

fn meta_db_key(name: &str) -> Vec<u8> {
    [b"db/".as_slice(), name.as_bytes()].concat()
}

fn meta_metadata_key(db: u32, family: &str) -> Vec<u8> {
    [b"md/".as_slice(), &db.to_be_bytes(), family.as_bytes()].concat()
}

fn cf_options(write_buffer: usize, compression: rocksdb::DBCompressionType) -> Options {
    let mut o = Options::default();
    o.set_write_buffer_size(write_buffer);
    o.set_max_write_buffer_number(3);
    o.set_compression_type(compression);
    o
}

impl Storage {
    /// Opens (or creates) the data directory and starts one actor per shard. Must run inside
    /// an actix system. The shard count of an existing directory wins over `opts.shards`.
    pub fn open(opts: StorageOptions, metrics: Arc<Metrics>) -> Result<Storage, String> {
        std::fs::create_dir_all(&opts.data_dir)
            .map_err(|e| format!("cannot create data directory {}: {e}", opts.data_dir.display()))?;
        let path = opts.data_dir.join("rocksdb");
        let mut db_opts = Options::default();
        db_opts.create_if_missing(true);
        db_opts.create_missing_column_families(true);
        db_opts.increase_parallelism(2);
        db_opts.set_max_background_jobs(2);
        // Memtables across all column families: bounds memory whatever the shard count.
        db_opts.set_db_write_buffer_size(96 << 20);
        db_opts.set_keep_log_file_num(3);
        let mut shards = opts.shards.max(1);
        let existing = DB::list_cf(&db_opts, &path).unwrap_or_default();
        let existing_shards = existing.iter().filter(|n| n.ends_with(".series")).count();
        if existing_shards > 0 && existing_shards != shards {
            tracing::warn!(existing_shards, asked = shards, "data directory has another shard count; keeping it");
            shards = existing_shards;
        }
        use rocksdb::DBCompressionType::{Lz4, None as Plain};
        let mut cfs = vec![ColumnFamilyDescriptor::new(META_CF, cf_options(4 << 20, Lz4))];
        for i in 0..shards {
            for kind in shard::CF_KINDS {
                // The log is short-lived and open chunks are rewritten at every checkpoint: no
                // compression for them. Full chunks halve with LZ4 over large blocks.
                let (buffer, compression) = match kind {
                    "log" => (32 << 20, Plain),
                    "head" => (8 << 20, Plain),
                    _ => (8 << 20, Lz4),
                };
                let mut o = cf_options(buffer, compression);
                if kind == "chunks" {
                    let mut table = rocksdb::BlockBasedOptions::default();
                    table.set_block_size(64 << 10);
                    o.set_block_based_table_factory(&table);
                }
                if kind == "log" {
                    // Every flushed log file goes to L1 right away, where a checkpoint can
                    // delete it whole.
                    o.set_level_zero_file_num_compaction_trigger(1);
                }
                cfs.push(ColumnFamilyDescriptor::new(shard::cf_name(i, kind), o));
            }
        }
        let db = Arc::new(
            DB::open_cf_descriptors(&db_opts, &path, cfs)
                .map_err(|e| format!("cannot open storage in {}: {e}", path.display()))?,
        );
        let catalog = Self::load_catalog(&db)?;
        let metadata = Self::load_metadata(&db)?;
        let fields = fields::FieldRegistry::load(&db, &db.cf_handle(META_CF).unwrap())?;
        let users = users::UserStore::load(&db, &db.cf_handle(META_CF).unwrap())?;
        // Load shards in parallel: each reads only its own column families.
        let loaded: Vec<Result<Shard, String>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..shards)
                .map(|i| {
                    let (db, metrics) = (db.clone(), metrics.clone());
                    s.spawn(move || Shard::load(i, db, opts.sync_writes, metrics))
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("shard load panicked")).collect()
        });
        let mut arbiters = Vec::new();
        let mut addrs = Vec::new();
        for shard in loaded {
            let shard = shard?;
            let arbiter = Arbiter::new();
            addrs.push(Shard::start_in_arbiter(&arbiter.handle(), move |_| shard));
            arbiters.push(arbiter);
        }
        Ok(Storage {
            db,
            shards: addrs,
            catalog: RwLock::new(catalog),
            metadata: RwLock::new(metadata),
            fields,
            users,
            metrics,
            data_dir: opts.data_dir,
            sync_writes: opts.sync_writes,
            _arbiters: arbiters,
        })
    }

    fn load_catalog(db: &DB) -> Result<Catalog, String> {
        let cf = db.cf_handle(META_CF).unwrap();
        let mut c = Catalog { databases: BTreeMap::new(), next_id: 1 };
        for item in db.prefix_iterator_cf(cf, b"db/") {
            let (k, v) = item.map_err(|e| e.to_string())?;
            let Some(name) = k.strip_prefix(b"db/") else { break };
            let id = keys::u32_at(&v, 0);
            c.databases.insert(String::from_utf8_lossy(name).into_owned(), id);
            c.next_id = c.next_id.max(id + 1);
        }
        if let Some(v) = db.get_cf(cf, b"next_db_id").map_err(|e| e.to_string())? {
            c.next_id = c.next_id.max(keys::u32_at(&v, 0));
        }
        Ok(c)
    }

    fn load_metadata(db: &DB) -> Result<HashMap<u32, BTreeMap<String, MetricMeta>>, String> {
        let cf = db.cf_handle(META_CF).unwrap();
        let mut out: HashMap<u32, BTreeMap<String, MetricMeta>> = HashMap::new();
        for item in db.prefix_iterator_cf(cf, b"md/") {
            let (k, v) = item.map_err(|e| e.to_string())?;
            if !k.starts_with(b"md/") {
                break;
            }
            let m: MetricMeta = serde_json::from_slice(&v).map_err(|e| format!("corrupt metadata: {e}"))?;
            out.entry(keys::u32_at(&k, 3)).or_default().insert(m.family.clone(), m);
        }
        Ok(out)
    }

    fn write_opts(&self) -> WriteOptions {
        let mut wo = WriteOptions::default();
        wo.set_sync(self.sync_writes);
        wo
    }

    pub fn shard_count(&self) -> usize {
        self.shards.len()
    }

    pub fn database_id(&self, name: &str) -> Option<u32> {
        self.catalog.read().unwrap().databases.get(name).copied()
    }

    fn require(&self, name: &str) -> Result<u32, StorageError> {
        self.database_id(name).ok_or_else(|| StorageError::DatabaseNotFound(name.to_string()))
    }

    /// Database names in the order they were created, as InfluxDB lists them.
    pub fn databases(&self) -> Vec<String> {
        let catalog = self.catalog.read().unwrap();
        let mut by_id: Vec<(&u32, &String)> = catalog.databases.iter().map(|(name, id)| (id, name)).collect();
        by_id.sort();
        by_id.into_iter().map(|(_, name)| name.clone()).collect()
    }

    /// Creates a database; creating one that exists is not an error (as InfluxDB).
    pub fn create_database(&self, name: &str) -> Result<(), String> {
        if name.is_empty() {
            return Err("database name required".into());
        }
        let mut c = self.catalog.write().unwrap();
        if c.databases.contains_key(name) {
            return Ok(());
        }
        let id = c.next_id;
        let cf = self.db.cf_handle(META_CF).unwrap();
        let mut batch = rocksdb::WriteBatch::default();
        batch.put_cf(cf, meta_db_key(name), id.to_be_bytes());
        batch.put_cf(cf, b"next_db_id", (id + 1).to_be_bytes());
        self.db.write_opt(batch, &self.write_opts()).map_err(|e| e.to_string())?;
        c.databases.insert(name.to_string(), id);
        c.next_id = id + 1;
        Ok(())
    }

    /// Drops a database and all its data; dropping one that does not exist is not an error.
    pub async fn drop_database(&self, name: &str) -> Result<(), String> {
        let id = {
            let mut c = self.catalog.write().unwrap();
            let Some(id) = c.databases.remove(name) else { return Ok(()) };
            let cf = self.db.cf_handle(META_CF).unwrap();
            self.db.delete_cf_opt(cf, meta_db_key(name), &self.write_opts()).map_err(|e| e.to_string())?;
            id
        };
        let cf = self.db.cf_handle(META_CF).unwrap();
        for prefix in [meta_metadata_key(id, ""), fields::prefix(id)] {
            let mut end = prefix.clone();
            *end.last_mut().unwrap() += 1;
            self.db.delete_range_cf(cf, &prefix, &end).map_err(|e| e.to_string())?;
        }
        self.metadata.write().unwrap().remove(&id);
        self.fields.drop_database(id);
        for r in join_all(self.shards.iter().map(|s| s.send(shard::DropDatabase(id)))).await {
            r.map_err(|e| e.to_string())??;
        }
        Ok(())
    }

    /// Picks the shard of a series from the stable hash of its labels.
    pub fn shard_of(&self, labels_hash: u64) -> usize {
        (labels_hash % self.shards.len() as u64) as usize
    }

    /// Writes series to their shards; returns when every shard has its part in the WAL.
    pub async fn write(&self, db: &str, series: Vec<SeriesWrite>) -> Result<WriteOutcome, StorageError> {
        let id = self.require(db)?;
        let mut per_shard: Vec<Vec<SeriesWrite>> = (0..self.shards.len()).map(|_| Vec::new()).collect();
        for s in series {
            per_shard[self.shard_of(s.hash)].push(s);
        }
        let sends = per_shard
            .into_iter()
            .enumerate()
            .filter(|(_, part)| !part.is_empty())
            .map(|(i, part)| self.shards[i].send(shard::Write { db: id, series: part }));
        let mut total = WriteOutcome::default();
        let mut fault = None;
        for r in join_all(sends).await {
            match r {
                Ok(Ok(o)) => total.merge(o),
                Ok(Err(e)) => fault = Some(e),
                Err(e) => fault = Some(format!("shard unavailable: {e}")),
            }
        }
        self.metrics.samples_ingested.fetch_add(total.accepted, Relaxed);
        self.metrics.samples_duplicate.fetch_add(total.duplicates, Relaxed);
        self.metrics.samples_rejected.fetch_add(total.rejected, Relaxed);
        self.metrics.series_created.fetch_add(total.new_series, Relaxed);
        match fault {
            Some(e) if self.database_id(db).is_none() => Err(StorageError::DatabaseNotFound(format!("{db} ({e})"))),
            Some(e) => Err(StorageError::Internal(e)),
            None => Ok(total),
        }
    }

    pub fn put_metadata(&self, db: &str, entries: Vec<MetricMeta>) -> Result<(), StorageError> {
        let id = self.require(db)?;
        if entries.is_empty() {
            return Ok(());
        }
        let cf = self.db.cf_handle(META_CF).unwrap();
        let mut batch = rocksdb::WriteBatch::default();
        for m in &entries {
            batch.put_cf(cf, meta_metadata_key(id, &m.family), serde_json::to_vec(m).unwrap());
        }
        self.db.write_opt(batch, &self.write_opts()).map_err(|e| StorageError::Internal(e.to_string()))?;
        self.metrics.metadata_ingested.fetch_add(entries.len() as u64, Relaxed);
        let mut md = self.metadata.write().unwrap();
        let map = md.entry(id).or_default();
        for m in entries {
            map.insert(m.family.clone(), m);
        }
        Ok(())
    }

    /// Records the (measurement, field) pairs line protocol wrote; see `fields.rs`.
    pub fn register_fields(&self, db: &str, pairs: &BTreeSet<(String, String)>) -> Result<(), StorageError> {
        let id = self.require(db)?;
        let missing = self.fields.missing(id, pairs);
        if missing.is_empty() {
            return Ok(());
        }
        let mut batch = rocksdb::WriteBatch::default();
        self.fields.stage(&mut batch, &self.db.cf_handle(META_CF).unwrap(), id, &missing);
        self.db.write_opt(batch, &self.write_opts()).map_err(|e| StorageError::Internal(e.to_string()))?;
        self.fields.commit(id, missing);
        Ok(())
    }

    pub fn users(&self) -> &users::UserStore {
        &self.users
    }

    /// Changes the users (see `UserStore::update`); `name` is the user whose record changes.
    pub fn change_user(&self, name: &str, change: impl FnOnce(&mut BTreeMap<String, users::User>) -> Result<(), String>) -> Result<(), String> {
        self.users.update(&self.db, &self.db.cf_handle(META_CF).unwrap(), name, change)
    }

    /// Measurement → fields, for what line protocol wrote to `db`.
    pub fn line_fields(&self, db: &str) -> Result<fields::Fields, StorageError> {
        Ok(self.fields.get(self.require(db)?))
    }

    pub fn metadata(&self, db: &str) -> Result<Vec<MetricMeta>, StorageError> {
        let id = self.require(db)?;
        Ok(self.metadata.read().unwrap().get(&id).map(|m| m.values().cloned().collect()).unwrap_or_default())
    }

    /// Series matching every matcher, sorted by labels, each with its shard and id.
    pub async fn select(&self, db: &str, matchers: Vec<Matcher>) -> Result<Vec<SelectedSeries>, StorageError> {
        let id = self.require(db)?;
        let matchers = Arc::new(matchers);
        let sends = self.shards.iter().map(|s| s.send(shard::Select { db: id, matchers: matchers.clone() }));
        let mut out = Vec::new();
        for (shard, r) in join_all(sends).await.into_iter().enumerate() {
            let found = r.map_err(|e| StorageError::Internal(format!("shard unavailable: {e}")))?;
            out.extend(found.into_iter().map(|(labels, id)| SelectedSeries { labels, shard, id }));
        }
        out.sort_unstable_by(|a, b| a.labels.cmp(&b.labels));
        Ok(out)
    }

    /// Chunks overlapping [min_t, max_t] of each series, in the order given, all at once.
    pub async fn read_chunks(
        &self,
        db: &str,
        series: &[SelectedSeries],
        min_t: i64,
        max_t: i64,
    ) -> Result<Vec<Vec<StoredChunk>>, StorageError> {
        let mut per_shard: Vec<Vec<u64>> = vec![Vec::new(); self.shards.len()];
        for s in series {
            per_shard[s.shard].push(s.id);
        }
        let pages = per_shard.into_iter().enumerate().map(|(shard, ids)| async move {
            if ids.is_empty() {
                return Ok(ChunkPage::default());
            }
            self.read_page(db, shard, ids, i64::MIN, min_t, max_t, usize::MAX).await
        });
        let mut per_shard_out = Vec::new();
        for page in join_all(pages).await {
            per_shard_out.push(page?.series.into_iter());
        }
        Ok(series.iter().map(|s| per_shard_out[s.shard].next().unwrap_or_default()).collect())
    }

    /// One page of chunks from one shard: see `shard::ReadChunks` and `shard::ChunkPage`.
    #[allow(clippy::too_many_arguments)]
    pub async fn read_page(
        &self,
        db: &str,
        shard: usize,
        ids: Vec<u64>,
        first_from: i64,
        min_t: i64,
        max_t: i64,
        budget: usize,
    ) -> Result<ChunkPage, StorageError> {
        let db = self.require(db)?;
        self.shards[shard]
            .send(shard::ReadChunks { db, ids, first_from, min_t, max_t, budget })
            .await
            .map_err(|e| StorageError::Internal(format!("shard unavailable: {e}")))?
            .map_err(StorageError::Internal)
    }

    /// Every value of a label across the database, sorted and unique.
    pub async fn label_values(&self, db: &str, name: &str) -> Result<Vec<String>, StorageError> {
        let id = self.require(db)?;
        let sends = self.shards.iter().map(|s| s.send(shard::LabelValues { db: id, name: name.to_string() }));
        let mut out = Vec::new();
        for r in join_all(sends).await {
            out.extend(r.map_err(|e| StorageError::Internal(e.to_string()))?);
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// Stores every open chunk and flushes memtables, so a restart has no log to replay:
    /// called at shutdown, after the last request.
    pub async fn shutdown(&self) -> Result<(), String> {
        for r in join_all(self.shards.iter().map(|s| s.send(shard::Shutdown))).await {
            r.map_err(|e| e.to_string())??;
        }
        self.db.flush_cf(self.db.cf_handle(META_CF).unwrap()).map_err(|e| e.to_string())?;
        self.db.flush_wal(true).map_err(|e| e.to_string())
    }

    /// Bytes of the data directory on disk.
    pub fn disk_bytes(&self) -> u64 {
        fn walk(p: &Path) -> u64 {
            std::fs::read_dir(p)
                .map(|rd| {
                    rd.flatten()
                        .map(|e| match e.metadata() {
                            Ok(m) if m.is_dir() => walk(&e.path()),
                            Ok(m) => m.len(),
                            Err(_) => 0,
                        })
                        .sum()
                })
                .unwrap_or(0)
        }
        walk(&self.data_dir)
    }

}

/// A series found by `select`: where it lives and what it is.
#[derive(Clone, Debug)]
pub struct SelectedSeries {
    pub labels: Labels,
    pub shard: usize,
    pub id: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(name: &str, samples: Vec<(i64, f64)>) -> SeriesWrite {
        let labels = Labels::from_sorted([("__name__", name)]);
        SeriesWrite { hash: labels.stable_hash(), labels, samples }
    }

    #[actix_web::test]
    async fn pages_split_long_series_and_resume_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let opts = StorageOptions { data_dir: dir.path().into(), shards: 2, sync_writes: false };
        let storage = Storage::open(opts, Arc::new(Metrics::default())).unwrap();
        storage.create_database("db").unwrap();
        let mut state = 7u64;
        let noisy: Vec<(i64, f64)> = (0..20_000)
            .map(|i| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
                (i * 15_000, f64::from_bits(state >> 2))
            })
            .collect();
        let small = vec![(0, 1.0), (15_000, 2.0)];
        let out = storage.write("db", vec![series("a", noisy), series("b", small.clone()), series("c", small)]).await.unwrap();
        assert_eq!(out.accepted, 20_004);
        let all = storage.select("db", vec![Matcher::new(2, "__name__", ".*").unwrap()]).await.unwrap();
        let whole = storage.read_chunks("db", &all, i64::MIN, i64::MAX).await.unwrap();
        assert!(whole[0].len() > 100, "a has many chunks");

        // Page through shard by shard with a small budget; the pages put together are the whole.
        for shard in 0..2 {
            let mine: Vec<&SelectedSeries> = all.iter().filter(|s| s.shard == shard).collect();
            let mut ids: std::collections::VecDeque<u64> = mine.iter().map(|s| s.id).collect();
            let mut got: Vec<Vec<StoredChunk>> = vec![Vec::new(); mine.len()];
            let (mut from, mut at, mut pages) = (i64::MIN, 0, 0);
            while !ids.is_empty() {
                let page = storage.read_page("db", shard, ids.iter().copied().collect(), from, i64::MIN, i64::MAX, 16 << 10).await.unwrap();
                pages += 1;
                let bytes: usize = page.series.iter().flatten().map(|c| c.data.len()).sum();
                assert!(bytes < (16 << 10) + 4096, "page of {bytes} bytes");
                let n = page.series.len();
                for (j, chunks) in page.series.into_iter().enumerate() {
                    got[at].extend(chunks);
                    if j + 1 < n || page.resume.is_none() {
                        ids.pop_front();
                        at += 1;
                    }
                }
                from = page.resume.unwrap_or(i64::MIN);
            }
            for (s, chunks) in mine.iter().zip(got) {
                let want = &whole[all.iter().position(|x| x.id == s.id && x.shard == shard).unwrap()];
                assert_eq!(chunks.len(), want.len(), "{}", s.labels);
                assert!(chunks.iter().zip(want).all(|(a, b)| a.data == b.data && a.min_t == b.min_t));
            }
            if mine.iter().any(|s| s.labels.get("__name__") == "a") {
                assert!(pages > 5, "the long series took {pages} pages");
            }
        }
    }
}
