//! Storage: one RocksDB instance per data directory, N shard actors that each own their
//! column families, and the catalog of databases, retention policies and metric metadata in
//! the `meta` column family. This is the only way the HTTP layer reaches data; it knows
//! nothing of HTTP.

pub mod catalog;
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
use catalog::{Catalog, Database, Record};
use crate::model::PolicyOptions;
use shard::{ChunkPage, Expired, Shard, SeriesWrite, StoredChunk, WriteOutcome};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, RwLock};

const META_CF: &str = "meta";

#[derive(Debug, PartialEq)]
pub enum StorageError {
    DatabaseNotFound(String),
    PolicyNotFound(String),
    Internal(String),
}

impl std::error::Error for StorageError {}

impl std::fmt::Display for StorageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StorageError::DatabaseNotFound(db) => write!(f, "database not found: {db}"),
            StorageError::PolicyNotFound(rp) => write!(f, "retention policy not found: {rp}"),
            StorageError::Internal(e) => write!(f, "{e}"),
        }
    }
}

/// Which retention policies of a database an operation covers.
#[derive(Clone, Copy, Debug)]
pub enum Policies<'a> {
    /// The named one, or the database's default.
    One(Option<&'a str>),
    /// Every one (what `SHOW` statements list).
    All,
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

pub struct Storage {
    db: Arc<DB>,
    shards: Vec<Addr<Shard>>,
    catalog: RwLock<Catalog>,
    /// Policy id → partition length in ms, as the catalog says; shards adopt changes.
    partition_lengths: Arc<RwLock<HashMap<u32, i64>>>,
    metadata: RwLock<HashMap<u32, BTreeMap<String, MetricMeta>>>,
    fields: fields::FieldRegistry,
    users: users::UserStore,
    metrics: Arc<Metrics>,
    data_dir: PathBuf,
    sync_writes: bool,
    _arbiters: Vec<Arbiter>,
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
        let partition_lengths = Arc::new(RwLock::new(Self::lengths(&catalog)));
        let meta = db.cf_handle(META_CF).unwrap();
        // Chunk keys of the format before retention policies are rewritten once.
        let migrate = db.get_cf(meta, b"chunk_format").map_err(|e| e.to_string())?.is_none();
        let metadata = Self::load_metadata(&db)?;
        let fields = fields::FieldRegistry::load(&db, &db.cf_handle(META_CF).unwrap())?;
        let users = users::UserStore::load(&db, &db.cf_handle(META_CF).unwrap())?;
        // Load shards in parallel: each reads only its own column families.
        let loaded: Vec<Result<Shard, String>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..shards)
                .map(|i| {
                    let (db, metrics, lengths) = (db.clone(), metrics.clone(), partition_lengths.clone());
                    s.spawn(move || Shard::load(i, db, opts.sync_writes, metrics, lengths, migrate))
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("shard load panicked")).collect()
        });
        let loaded: Vec<Shard> = loaded.into_iter().collect::<Result<_, _>>()?;
        if migrate {
            db.put_cf(meta, b"chunk_format", [2]).map_err(|e| e.to_string())?;
        }
        let mut arbiters = Vec::new();
        let mut addrs = Vec::new();
        for shard in loaded {
            let arbiter = Arbiter::new();
            addrs.push(Shard::start_in_arbiter(&arbiter.handle(), move |_| shard));
            arbiters.push(arbiter);
        }
        Ok(Storage {
            db,
            shards: addrs,
            catalog: RwLock::new(catalog),
            partition_lengths,
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
        let records = |prefix: &[u8]| Self::meta_prefix(db, prefix);
        let next_id = db.get_cf(cf, b"next_db_id").map_err(|e| e.to_string())?.map(|v| keys::u32_at(&v, 0)).unwrap_or(1);
        let (catalog, added) = Catalog::load(records(b"db/")?, records(b"rp/")?, next_id)?;
        Self::persist(db, added, &WriteOptions::default())?;
        Ok(catalog)
    }

    fn meta_prefix(db: &DB, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>, String> {
        let cf = db.cf_handle(META_CF).unwrap();
        let mut out = Vec::new();
        for item in db.prefix_iterator_cf(cf, prefix) {
            let (k, v) = item.map_err(|e| e.to_string())?;
            if !k.starts_with(prefix) {
                break;
            }
            out.push((k.to_vec(), v.to_vec()));
        }
        Ok(out)
    }

    fn persist(db: &DB, records: Vec<Record>, wo: &WriteOptions) -> Result<(), String> {
        if records.is_empty() {
            return Ok(());
        }
        let cf = db.cf_handle(META_CF).unwrap();
        let mut batch = rocksdb::WriteBatch::default();
        for r in records {
            match r {
                Record::Put(k, v) => batch.put_cf(cf, k, v),
                Record::Delete(k) => batch.delete_cf(cf, k),
            }
        }
        db.write_opt(batch, wo).map_err(|e| e.to_string())
    }

    fn lengths(c: &Catalog) -> HashMap<u32, i64> {
        c.databases.values().flat_map(|d| &d.policies).map(|p| (p.id, p.partition_ms())).collect()
    }

    /// Runs a catalog change on a copy, stores its records, then makes it the catalog: a
    /// change that cannot be stored leaves no trace.
    fn change_catalog<T>(&self, change: impl FnOnce(&mut Catalog) -> Result<(T, Vec<Record>), String>) -> Result<T, String> {
        let mut c = self.catalog.write().unwrap();
        let mut next = Catalog { databases: c.databases.clone(), next_id: c.next_id };
        let (out, records) = change(&mut next)?;
        Self::persist(&self.db, records, &self.write_opts())?;
        *self.partition_lengths.write().unwrap() = Self::lengths(&next);
        *c = next;
        Ok(out)
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
        self.catalog.read().unwrap().databases.get(name).map(|d| d.id)
    }

    /// A database with its retention policies.
    pub fn database(&self, name: &str) -> Result<Database, StorageError> {
        self.catalog.read().unwrap().databases.get(name).cloned().ok_or_else(|| StorageError::DatabaseNotFound(name.to_string()))
    }

    /// The ids of the policies an operation covers.
    fn policy_ids(&self, db: &str, which: Policies) -> Result<Vec<u32>, StorageError> {
        let c = self.catalog.read().unwrap();
        let d = c.databases.get(db).ok_or_else(|| StorageError::DatabaseNotFound(db.to_string()))?;
        match which {
            Policies::All => Ok(d.policies.iter().map(|p| p.id).collect()),
            Policies::One(rp) => {
                let name = rp.filter(|r| !r.is_empty()).unwrap_or(&d.default_policy);
                Ok(vec![d.policy(name).ok_or_else(|| StorageError::PolicyNotFound(name.to_string()))?.id])
            }
        }
    }

    /// 404-style errors for a database or policy that does not exist.
    pub fn require_policy(&self, db: &str, rp: Option<&str>) -> Result<(), StorageError> {
        self.policy_ids(db, Policies::One(rp)).map(|_| ())
    }

    fn require(&self, name: &str) -> Result<u32, StorageError> {
        self.database_id(name).ok_or_else(|| StorageError::DatabaseNotFound(name.to_string()))
    }

    /// Database names in the order they were created, as InfluxDB lists them.
    pub fn databases(&self) -> Vec<String> {
        let catalog = self.catalog.read().unwrap();
        let mut by_id: Vec<(u32, &String)> = catalog.databases.iter().map(|(name, d)| (d.id, name)).collect();
        by_id.sort();
        by_id.into_iter().map(|(_, name)| name.clone()).collect()
    }

    /// Creates a database with its default retention policy (see `Catalog::create_database`);
    /// creating one that exists is not an error (as InfluxDB).
    pub fn create_database(&self, name: &str, policy: Option<(&str, &PolicyOptions)>) -> Result<(), String> {
        self.change_catalog(|c| Ok(((), c.create_database(name, policy)?)))
    }

    pub fn create_policy(&self, db: &str, name: &str, opts: &PolicyOptions) -> Result<(), String> {
        self.change_catalog(|c| c.create_policy(db, name, opts).map(|(_, r)| ((), r)))
    }

    /// Changes a policy; a shorter duration takes effect at the next retention check.
    pub fn alter_policy(&self, db: &str, name: &str, opts: &PolicyOptions) -> Result<(), String> {
        self.change_catalog(|c| c.alter_policy(db, name, opts).map(|(_, r)| ((), r)))
    }

    /// See `Catalog::put_database`.
    pub fn put_database(&self, name: &str, default_policy: &str) -> Result<(), String> {
        self.change_catalog(|c| Ok(((), c.put_database(name, default_policy))))
    }

    /// See `Catalog::put_policy`.
    pub fn put_policy(&self, db: &str, name: &str, duration: i64, shard_duration: i64, replication: u32) -> Result<(), String> {
        self.change_catalog(|c| Ok(((), c.put_policy(db, name, duration, shard_duration, replication)?)))
    }

    /// Drops a policy and its data; dropping one that does not exist is not an error.
    pub async fn drop_policy(&self, db: &str, name: &str) -> Result<(), String> {
        if let Some(p) = self.change_catalog(|c| Ok(c.drop_policy(db, name)))? {
            self.drop_space(p.id).await?;
        }
        Ok(())
    }

    /// Drops every series and chunk of one policy in every shard.
    async fn drop_space(&self, policy: u32) -> Result<(), String> {
        for r in join_all(self.shards.iter().map(|s| s.send(shard::DropPolicy(policy)))).await {
            r.map_err(|e| e.to_string())??;
        }
        Ok(())
    }

    /// Drops a database and all its data; dropping one that does not exist is not an error.
    pub async fn drop_database(&self, name: &str) -> Result<(), String> {
        let id = self.database_id(name);
        let policies = self.change_catalog(|c| Ok(c.drop_database(name)))?;
        let Some(id) = id else { return Ok(()) };
        let cf = self.db.cf_handle(META_CF).unwrap();
        for prefix in [meta_metadata_key(id, ""), fields::prefix(id)] {
            let mut end = prefix.clone();
            *end.last_mut().unwrap() += 1;
            self.db.delete_range_cf(cf, &prefix, &end).map_err(|e| e.to_string())?;
        }
        self.metadata.write().unwrap().remove(&id);
        self.fields.drop_database(id);
        for p in policies {
            self.drop_space(p.id).await?;
        }
        Ok(())
    }

    /// Retention: in every policy with a duration, drops what is older than `now_ms` minus
    /// it (whole partitions, and series with nothing newer).
    pub async fn enforce_retention(&self, now_ms: i64) -> Result<Expired, String> {
        let due: Vec<(u32, i64)> = {
            let c = self.catalog.read().unwrap();
            c.databases.values().flat_map(|d| &d.policies).filter(|p| p.duration > 0).map(|p| (p.id, now_ms - p.duration / 1_000_000)).collect()
        };
        let mut total = Expired::default();
        for (policy, before) in due {
            for r in join_all(self.shards.iter().map(|s| s.send(shard::Expire { db: policy, before }))).await {
                let e = r.map_err(|e| e.to_string())??;
                total.partitions += e.partitions;
                total.series += e.series;
            }
        }
        self.metrics.retention_partitions_dropped.fetch_add(total.partitions as u64, Relaxed);
        self.metrics.retention_series_dropped.fetch_add(total.series as u64, Relaxed);
        Ok(total)
    }

    /// Picks the shard of a series from the stable hash of its labels.
    pub fn shard_of(&self, labels_hash: u64) -> usize {
        (labels_hash % self.shards.len() as u64) as usize
    }

    /// Writes series to their shards, in policy `rp` (or the default one); returns when every
    /// shard has its part in the WAL.
    pub async fn write(&self, db: &str, rp: Option<&str>, series: Vec<SeriesWrite>) -> Result<WriteOutcome, StorageError> {
        let id = self.policy_ids(db, Policies::One(rp))?[0];
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

    /// The `meta` records under `prefix` (key, value), for state kept beside the catalog.
    pub fn meta_records(&self, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>, String> {
        Self::meta_prefix(&self.db, prefix)
    }

    /// Writes `meta` records at once.
    pub fn write_meta(&self, records: Vec<Record>) -> Result<(), String> {
        Self::persist(&self.db, records, &self.write_opts())
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

    /// Series matching every matcher in the policies asked for, sorted by labels (then policy),
    /// each with its policy, shard and id.
    pub async fn select(&self, db: &str, which: Policies<'_>, matchers: Vec<Matcher>) -> Result<Vec<SelectedSeries>, StorageError> {
        let matchers = Arc::new(matchers);
        let mut out = Vec::new();
        for policy in self.policy_ids(db, which)? {
            let sends = self.shards.iter().map(|s| s.send(shard::Select { db: policy, matchers: matchers.clone() }));
            for (shard, r) in join_all(sends).await.into_iter().enumerate() {
                let found = r.map_err(|e| StorageError::Internal(format!("shard unavailable: {e}")))?;
                out.extend(found.into_iter().map(|(labels, id)| SelectedSeries { labels, policy, shard, id }));
            }
        }
        out.sort_unstable_by(|a, b| a.labels.cmp(&b.labels).then(a.policy.cmp(&b.policy)));
        Ok(out)
    }

    /// Chunks overlapping [min_t, max_t] of each series, in the order given, all at once.
    pub async fn read_chunks(&self, series: &[SelectedSeries], min_t: i64, max_t: i64) -> Result<Vec<Vec<StoredChunk>>, StorageError> {
        let mut per_page: BTreeMap<(u32, usize), Vec<u64>> = BTreeMap::new();
        for s in series {
            per_page.entry((s.policy, s.shard)).or_default().push(s.id);
        }
        let pages = per_page.into_iter().map(|((policy, shard), ids)| async move {
            let page = self.read_page(policy, shard, ids, i64::MIN, min_t, max_t, usize::MAX).await;
            ((policy, shard), page)
        });
        let mut out: HashMap<(u32, usize), std::vec::IntoIter<Vec<StoredChunk>>> = HashMap::new();
        for (at, page) in join_all(pages).await {
            out.insert(at, page?.series.into_iter());
        }
        Ok(series.iter().map(|s| out.get_mut(&(s.policy, s.shard)).and_then(|it| it.next()).unwrap_or_default()).collect())
    }

    /// One page of chunks of one policy from one shard: see `shard::ReadChunks` and
    /// `shard::ChunkPage`.
    #[allow(clippy::too_many_arguments)]
    pub async fn read_page(
        &self,
        policy: u32,
        shard: usize,
        ids: Vec<u64>,
        first_from: i64,
        min_t: i64,
        max_t: i64,
        budget: usize,
    ) -> Result<ChunkPage, StorageError> {
        self.shards[shard]
            .send(shard::ReadChunks { db: policy, ids, first_from, min_t, max_t, budget })
            .await
            .map_err(|e| StorageError::Internal(format!("shard unavailable: {e}")))?
            .map_err(StorageError::Internal)
    }

    /// Deletes these series with all their data; answers how many there were.
    pub async fn delete_series(&self, series: &[SelectedSeries]) -> Result<usize, StorageError> {
        self.per_shard(series, |ids| shard::DeleteSeries(ids)).await
    }

    /// Deletes the samples in [min_t, max_t] of these series; answers how many series were
    /// left with nothing and went.
    pub async fn delete_points(&self, series: &[SelectedSeries], min_t: i64, max_t: i64) -> Result<usize, StorageError> {
        self.per_shard(series, |ids| shard::DeletePoints { ids, min_t, max_t }).await
    }

    /// Sends each shard the message made from its series' ids; sums the answers.
    async fn per_shard<M>(&self, series: &[SelectedSeries], message: impl Fn(Vec<u64>) -> M) -> Result<usize, StorageError>
    where
        M: Message<Result = Result<usize, String>> + Send + 'static,
        Shard: Handler<M>,
    {
        let mut ids: Vec<Vec<u64>> = vec![Vec::new(); self.shards.len()];
        for s in series {
            ids[s.shard].push(s.id);
        }
        let sends = ids.into_iter().enumerate().filter(|(_, ids)| !ids.is_empty()).map(|(i, ids)| self.shards[i].send(message(ids)));
        let mut total = 0;
        for r in join_all(sends).await {
            total += r.map_err(|e| StorageError::Internal(format!("shard unavailable: {e}")))?.map_err(StorageError::Internal)?;
        }
        Ok(total)
    }

    /// Every value of a label across the policies asked for, sorted and unique.
    pub async fn label_values(&self, db: &str, which: Policies<'_>, name: &str) -> Result<Vec<String>, StorageError> {
        let mut out = Vec::new();
        for policy in self.policy_ids(db, which)? {
            let sends = self.shards.iter().map(|s| s.send(shard::LabelValues { db: policy, name: name.to_string() }));
            for r in join_all(sends).await {
                out.extend(r.map_err(|e| StorageError::Internal(e.to_string()))?);
            }
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

impl Drop for Storage {
    /// Stops the shard threads and waits for them, so that the RocksDB instance is closed
    /// (and its lock released) when `Storage` is gone.
    fn drop(&mut self) {
        for a in &self._arbiters {
            a.stop();
        }
        for a in self._arbiters.drain(..) {
            let _ = a.join();
        }
    }
}

/// A series found by `select`: where it lives and what it is.
#[derive(Clone, Debug)]
pub struct SelectedSeries {
    pub labels: Labels,
    /// The id of its retention policy.
    pub policy: u32,
    pub shard: usize,
    pub id: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::matcher::MatchKind;

    fn series(name: &str, samples: Vec<(i64, f64)>) -> SeriesWrite {
        let labels = Labels::from_sorted([("__name__", name)]);
        SeriesWrite { hash: labels.stable_hash(), labels, samples }
    }

    #[actix_web::test]
    async fn pages_split_long_series_and_resume_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let opts = StorageOptions { data_dir: dir.path().into(), shards: 2, sync_writes: false };
        let storage = Storage::open(opts, Arc::new(Metrics::default())).unwrap();
        storage.create_database("db", None).unwrap();
        let mut state = 7u64;
        let noisy: Vec<(i64, f64)> = (0..20_000)
            .map(|i| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
                (i * 15_000, f64::from_bits(state >> 2))
            })
            .collect();
        let small = vec![(0, 1.0), (15_000, 2.0)];
        let out = storage.write("db", None, vec![series("a", noisy), series("b", small.clone()), series("c", small)]).await.unwrap();
        assert_eq!(out.accepted, 20_004);
        let all = storage.select("db", Policies::One(None), vec![Matcher::new(MatchKind::Regex, "__name__", ".*").unwrap()]).await.unwrap();
        let whole = storage.read_chunks(&all, i64::MIN, i64::MAX).await.unwrap();
        assert!(whole[0].len() > 100, "a has many chunks");

        // Page through shard by shard with a small budget; the pages put together are the whole.
        for shard in 0..2 {
            let mine: Vec<&SelectedSeries> = all.iter().filter(|s| s.shard == shard).collect();
            let mut ids: std::collections::VecDeque<u64> = mine.iter().map(|s| s.id).collect();
            let mut got: Vec<Vec<StoredChunk>> = vec![Vec::new(); mine.len()];
            let (mut from, mut at, mut pages) = (i64::MIN, 0, 0);
            while !ids.is_empty() {
                let page = storage.read_page(all[0].policy, shard, ids.iter().copied().collect(), from, i64::MIN, i64::MAX, 16 << 10).await.unwrap();
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

    const HOUR: i64 = 3_600_000;

    fn open(dir: &Path) -> Storage {
        Storage::open(StorageOptions { data_dir: dir.into(), shards: 2, sync_writes: false }, Arc::new(Metrics::default())).unwrap()
    }

    async fn samples_of(storage: &Storage, rp: Option<&str>) -> Vec<(String, Vec<i64>)> {
        let all = storage.select("db", Policies::One(rp), vec![Matcher::new(MatchKind::Regex, "__name__", ".*").unwrap()]).await.unwrap();
        let chunks = storage.read_chunks(&all, i64::MIN, i64::MAX).await.unwrap();
        all.iter()
            .zip(chunks)
            .map(|(s, chunks)| {
                let mut ts: Vec<i64> = Vec::new();
                for c in chunks {
                    let before = ts.len();
                    chunk::decode_each(&c.data, |t, _| ts.push(t)).unwrap();
                    assert_eq!((ts[before], ts[ts.len() - 1]), (c.min_t, c.max_t), "a chunk's bounds are its first and last sample");
                    assert!(before == 0 || ts[before - 1] < ts[before], "chunks in time order");
                }
                (s.labels.get("__name__").to_string(), ts)
            })
            .collect()
    }

    fn minutes(from: i64, to: i64) -> Vec<(i64, f64)> {
        (from..to).step_by(60_000).map(|t| (t, t as f64)).collect()
    }

    #[actix_web::test]
    async fn retention_drops_whole_partitions_and_dead_series_and_policies_are_separate() {
        let dir = tempfile::tempdir().unwrap();
        let now = 1_800_000_000_000 / HOUR * HOUR + HOUR / 2;
        let one_hour = PolicyOptions { duration: Some(catalog::HOUR_NS), shard_duration: Some(catalog::HOUR_NS), ..Default::default() };
        {
            let storage = open(dir.path());
            storage.create_database("db", None).unwrap();
            storage.create_policy("db", "short", &one_hour).unwrap();
            // "old" stopped 2 h ago; "live" spans the last 5 h; "kept" is in the default policy.
            storage.write("db", Some("short"), vec![series("old", minutes(now - 5 * HOUR, now - 2 * HOUR)), series("live", minutes(now - 5 * HOUR, now))]).await.unwrap();
            storage.write("db", None, vec![series("kept", minutes(now - 5 * HOUR, now))]).await.unwrap();
            assert_eq!(samples_of(&storage, None).await.len(), 1, "policies are separate spaces");
            let gone = storage.enforce_retention(now).await.unwrap();
            assert_eq!(gone.series, 1, "{gone:?}");
            assert!(gone.partitions >= 3, "{gone:?}");
            let left = samples_of(&storage, Some("short")).await;
            assert_eq!(left.len(), 1);
            assert_eq!(left[0].0, "live");
            // Everything before the partition holding now - 1h is gone, nothing after it.
            let first = left[0].1[0];
            assert_eq!(first, (now - HOUR) / HOUR * HOUR, "whole partitions only");
            assert_eq!(*left[0].1.last().unwrap(), now - 60_000);
            assert_eq!(samples_of(&storage, None).await[0].1.len(), 300, "the default policy keeps all");
            // The dropped series can come back as a new one.
            storage.write("db", Some("short"), vec![series("old", vec![(now, 1.0)])]).await.unwrap();
            // Longer partitions from now on: the log written after this is replayed with them.
            storage.alter_policy("db", "short", &PolicyOptions { duration: Some(48 * catalog::HOUR_NS), shard_duration: Some(24 * catalog::HOUR_NS), ..Default::default() }).unwrap();
            storage.write("db", Some("short"), vec![series("live", minutes(now, now + 3 * HOUR))]).await.unwrap();
        }
        // Reopened without a shutdown: heads and log replay give the same data.
        let storage = open(dir.path());
        let left = samples_of(&storage, Some("short")).await;
        assert_eq!(left.iter().map(|(n, ts)| (n.as_str(), ts.len())).collect::<Vec<_>>(), vec![("live", 90 + 180), ("old", 1)]);
        let d = storage.database("db").unwrap();
        assert_eq!(d.policies.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), vec!["autogen", "short"]);
        storage.drop_policy("db", "short").await.unwrap();
        assert_eq!(storage.select("db", Policies::One(Some("short")), vec![]).await.unwrap_err(), StorageError::PolicyNotFound("short".into()));
        assert_eq!(samples_of(&storage, None).await[0].1.len(), 300);
    }

    #[actix_web::test]
    async fn chunks_of_the_first_key_format_are_migrated() {
        let dir = tempfile::tempdir().unwrap();
        let now = 1_800_000_000_000;
        {
            let storage = open(dir.path());
            storage.create_database("db", None).unwrap();
            storage.write("db", None, vec![series("a", minutes(now - 72 * HOUR, now))]).await.unwrap();
            storage.shutdown().await.unwrap();
        }
        // Rewrite every chunk key as the first format had it: [db][day][series][min time].
        {
            let path = dir.path().join("rocksdb");
            let names = DB::list_cf(&Options::default(), &path).unwrap();
            let db = DB::open_cf(&Options::default(), &path, &names).unwrap();
            let mut batch = rocksdb::WriteBatch::default();
            let mut old = 0;
            for name in names.iter().filter(|n| n.ends_with(".chunks")) {
                let cf = db.cf_handle(name).unwrap();
                for item in db.iterator_cf(cf, rocksdb::IteratorMode::Start) {
                    let (k, v) = item.unwrap();
                    let min_t = keys::unflip(&k[20..]);
                    let day = (min_t.div_euclid(24 * HOUR) + (1 << 31)) as u32;
                    let key = [&k[..4], &day.to_be_bytes(), &k[12..20], &k[20..]].concat();
                    batch.delete_cf(cf, &k);
                    batch.put_cf(cf, key, &v);
                    old += 1;
                }
            }
            assert!(old > 3);
            batch.delete_cf(db.cf_handle(META_CF).unwrap(), b"chunk_format");
            db.write(batch).unwrap();
        }
        let storage = open(dir.path());
        assert_eq!(samples_of(&storage, None).await[0].1, minutes(now - 72 * HOUR, now).iter().map(|(t, _)| *t).collect::<Vec<_>>());
    }
}
