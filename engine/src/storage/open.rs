//! Opening storage: the RocksDB instance with the options of each column family, the
//! catalog, metric metadata, fields and users from `meta`, and the shards loaded in
//! parallel, each started on its own thread.

use super::catalog::{Catalog, Record};
use super::family::{self, Family};
use super::{fields, keys, users, Error, MetricMeta, PolicyId, Storage, StorageOptions};
use crate::metrics::Metrics;
use actix::prelude::*;
use rocksdb::{ColumnFamilyDescriptor, Options, WriteOptions, DB};
use super::series_limits::Admission;
use super::shard::Shard;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

/// The one block cache of all column families. Without it each column family's table factory
/// makes its own of 32 MiB (RocksDB's default), so the memory reads could take grew with the
/// shard count: 6 column families per shard.
const BLOCK_CACHE_BYTES: usize = 64 << 20;

/// Options of a column family: its memtable size, compression and table block size, and the
/// shared block cache.
fn cf_options(write_buffer: usize, compression: rocksdb::DBCompressionType, block_bytes: usize, cache: &rocksdb::Cache) -> Options {
    let mut o = Options::default();
    o.set_write_buffer_size(write_buffer);
    o.set_max_write_buffer_number(3);
    o.set_compression_type(compression);
    let mut table = rocksdb::BlockBasedOptions::default();
    table.set_block_size(block_bytes);
    table.set_block_cache(cache);
    o.set_block_based_table_factory(&table);
    o
}

impl Storage {
    /// Opens (or creates) the data directory and starts one actor per shard. Must run inside
    /// an actix system. The shard count of an existing directory wins over `opts.shards`.
    pub fn open(opts: StorageOptions, metrics: Arc<Metrics>) -> Result<Storage, Error> {
        std::fs::create_dir_all(&opts.data_dir)
            .map_err(|e| Error::from(e).context(format!("cannot create data directory {}", opts.data_dir.display())))?;
        let path = opts.data_dir.join("rocksdb");
        let mut db_opts = Options::default();
        db_opts.create_if_missing(true);
        db_opts.create_missing_column_families(true);
        db_opts.increase_parallelism(2);
        db_opts.set_max_background_jobs(2);
        // Memtables across all column families: bounds memory whatever the shard count.
        db_opts.set_db_write_buffer_size(96 << 20);
        // RocksDB's write-ahead log, bounded: past 64 MiB the column families holding its
        // oldest entries are flushed. `gemini bench`, 10 000 series × 720 scrapes: peak 204 →
        // 83 MB, no ingest cost measured (pinned, side by side).
        db_opts.set_max_total_wal_size(64 << 20);
        db_opts.set_keep_log_file_num(3);
        let mut shards = opts.shards.max(1);
        let existing = DB::list_cf(&db_opts, &path).unwrap_or_default();
        let existing_shards = existing.iter().filter(|n| Family::of_name(n) == Some(Family::Series)).count();
        if existing_shards > 0 && existing_shards != shards {
            tracing::warn!(existing_shards, asked = shards, "data directory has another shard count; keeping it");
            shards = existing_shards;
        }
        use rocksdb::DBCompressionType::{None as Plain, Zstd};
        let cache = rocksdb::Cache::new_lru_cache(BLOCK_CACHE_BYTES);
        let mut cfs = vec![ColumnFamilyDescriptor::new(family::META, cf_options(4 << 20, Zstd, 4 << 10, &cache))];
        for i in 0..shards {
            for family in Family::EVERY {
                // Measured with `gemini bench` (10 000 series × 720 scrapes, table bytes after a
                // clean stop, LZ4 → zstd): blocks 3.17 → 2.21 MB (a table block holds many
                // series' blocks, and the series of a scrape target share their timestamps),
                // chunks 1.92 → 1.65, open chunks 2.15 → 1.83, postings and series 0.55 →
                // 0.38; table blocks of 64 KiB rather than 4 take another 0.25 MB off. No
                // ingest cost was measured. A zstd dictionary did not pay (5.83 → 5.87 MB).
                // The log is short-lived: no compression, RocksDB's default 4 KiB blocks.
                // Sealed blocks take table blocks of 256 KiB: 1 000 series × 7 days, day blocks
                // (`shard::compact`), 18.6 → 17.7 MB (1 MiB: 17.4 MB, but a short read then
                // decompresses a MiB).
                let (buffer, compression, block_bytes) = match family {
                    Family::Log => (32 << 20, Plain, 4 << 10),
                    Family::Blocks => (8 << 20, Zstd, 256 << 10),
                    _ => (8 << 20, Zstd, 64 << 10),
                };
                let mut o = cf_options(buffer, compression, block_bytes, &cache);
                if family == Family::Chunks {
                    // Sealing deletes chunks in runs: a table file made mostly of those
                    // deletions is compacted soon, so the space of the sealed chunks comes back.
                    o.add_compact_on_deletion_collector_factory(1000, 500, 0.5);
                }
                if family == Family::Log {
                    // Every flushed log file goes to L1 right away, where a checkpoint can
                    // delete it whole.
                    o.set_level_zero_file_num_compaction_trigger(1);
                }
                cfs.push(ColumnFamilyDescriptor::new(family.name(i), o));
            }
        }
        let db = Arc::new(
            DB::open_cf_descriptors(&db_opts, &path, cfs)
                .map_err(|e| Error::from(e).context(format!("cannot open storage in {}", path.display())))?,
        );
        let catalog = Self::load_catalog(&db)?;
        let partition_lengths = Arc::new(RwLock::new(Self::lengths(&catalog)));
        let meta = family::meta(&db);
        // Chunk keys of the format before retention policies are rewritten once.
        let migrate = db.get_cf(meta, b"chunk_format")?.is_none();
        let metadata = Self::load_metadata(&db)?;
        let fields = fields::FieldRegistry::load(&db, family::meta(&db))?;
        let users = users::load(&db, family::meta(&db))?;
        // Load shards in parallel: each reads only its own column families.
        let loaded: Vec<Result<Shard, Error>> = std::thread::scope(|s| {
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
            db.put_cf(meta, b"chunk_format", [2])?;
        }
        let mut arbiters = Vec::new();
        let mut addrs = Vec::new();
        let admission = Arc::new(Admission::default());
        for mut shard in loaded {
            shard.share_admission(admission.clone());
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
            generations: Default::default(),
            admission,
            _arbiters: arbiters,
        })
    }

    /// Bytes of the table files of the storage in `data_dir` (closed), by column family kind
    /// (`meta`, or a shard's kind summed over the shards: `chunks`, `series`, …) and level.
    /// Opens it read-only.
    pub fn table_bytes(data_dir: &std::path::Path) -> Result<BTreeMap<(String, i32), u64>, Error> {
        let path = data_dir.join("rocksdb");
        let names = DB::list_cf(&Options::default(), &path)?;
        let db = DB::open_cf_for_read_only(&Options::default(), &path, &names, false)?;
        let mut out = BTreeMap::new();
        for file in db.live_files()? {
            let kind = family::kind_of(&file.column_family_name).to_string();
            *out.entry((kind, file.level)).or_default() += file.size as u64;
        }
        Ok(out)
    }

    pub(super) fn load_catalog(db: &DB) -> Result<Catalog, Error> {
        let cf = family::meta(db);
        let records = |prefix: &[u8]| Self::meta_prefix(db, prefix);
        let next_id = db.get_cf(cf, b"next_db_id")?.map(|v| keys::u32_at(&v, 0)).unwrap_or(1);
        let (catalog, added) = Catalog::load(records(b"db/")?, records(b"rp/")?, next_id)?;
        Self::persist(db, added, &WriteOptions::default())?;
        Ok(catalog)
    }

    pub(super) fn meta_prefix(db: &DB, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>, Error> {
        let cf = family::meta(db);
        let mut out = Vec::new();
        for item in db.prefix_iterator_cf(cf, prefix) {
            let (k, v) = item?;
            if !k.starts_with(prefix) {
                break;
            }
            out.push((k.to_vec(), v.to_vec()));
        }
        Ok(out)
    }

    pub(super) fn persist(db: &DB, records: Vec<Record>, wo: &WriteOptions) -> Result<(), Error> {
        if records.is_empty() {
            return Ok(());
        }
        let cf = family::meta(db);
        let mut batch = rocksdb::WriteBatch::default();
        for r in records {
            match r {
                Record::Put(k, v) => batch.put_cf(cf, k, v),
                Record::Delete(k) => batch.delete_cf(cf, k),
            }
        }
        Ok(db.write_opt(batch, wo)?)
    }

    pub(super) fn lengths(c: &Catalog) -> HashMap<PolicyId, i64> {
        c.databases.values().flat_map(|d| &d.policies).map(|p| (p.id, p.partition_ms())).collect()
    }

    pub(super) fn load_metadata(db: &DB) -> Result<HashMap<u32, BTreeMap<String, MetricMeta>>, Error> {
        let cf = family::meta(db);
        let mut out: HashMap<u32, BTreeMap<String, MetricMeta>> = HashMap::new();
        for item in db.prefix_iterator_cf(cf, b"md/") {
            let (k, v) = item?;
            if !k.starts_with(b"md/") {
                break;
            }
            let m: MetricMeta = serde_json::from_slice(&v).map_err(|source| Error::CorruptJson { what: "metadata", source })?;
            out.entry(keys::u32_at(&k, 3)).or_default().insert(m.family.clone(), m);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::testing::*;

    #[actix_web::test]
    async fn a_directory_of_the_first_formats_is_migrated_and_sealed() {
        let dir = tempfile::tempdir().unwrap();
        let now = 1_800_000_000_000;
        {
            let storage = open(dir.path());
            storage.create_database("db", None).unwrap();
            storage.write("db", None, vec![series("a", minutes(now - 72 * HOUR, now))]).await.unwrap();
            storage.shutdown().await.unwrap();
        }
        // Rewrite every chunk key as the first format had it: [db][day][series][min time]; the
        // first format had no sealed blocks, so those become chunks again.
        {
            let path = dir.path().join("rocksdb");
            let names = DB::list_cf(&Options::default(), &path).unwrap();
            let mut db = DB::open_cf(&Options::default(), &path, &names).unwrap();
            let mut batch = rocksdb::WriteBatch::default();
            let mut old = 0;
            let stored = |n: &String| Family::of_name(n).filter(|f| [Family::Chunks, Family::Blocks].contains(f));
            for name in names.iter().filter(|n| stored(n).is_some()) {
                let cf = db.cf_handle(name).unwrap();
                let (shard, _) = Family::parse(name).unwrap();
                let chunks_cf = db.cf_handle(&Family::Chunks.name(shard)).unwrap();
                for item in db.iterator_cf(cf, rocksdb::IteratorMode::Start) {
                    let (k, v) = item.unwrap();
                    batch.delete_cf(cf, &k);
                    let (max_t, bytes) = keys::decode_chunk_value(&v).unwrap();
                    let chunks: Vec<(i64, Vec<u8>)> = match stored(name) == Some(Family::Blocks) {
                        true => crate::encoding::piece::xor_chunks(&crate::encoding::block::decode(bytes).unwrap()).into_iter().map(|c| (c.min_t, keys::encode_chunk_value(c.max_t, &c.data))).collect(),
                        false => vec![(keys::unflip(&k[20..]), keys::encode_chunk_value(max_t, bytes))],
                    };
                    for (min_t, value) in chunks {
                        let day = (min_t.div_euclid(24 * HOUR) + (1 << 31)) as u32;
                        let key = [&k[..4], &day.to_be_bytes(), &k[12..20], &keys::flip(min_t)].concat();
                        batch.put_cf(chunks_cf, key, &value);
                        old += 1;
                    }
                }
            }
            assert!(old > 3);
            batch.delete_cf(family::meta(&db), b"chunk_format");
            db.write(batch).unwrap();
            // Nor had it the column families of blocks.
            for name in names.iter().filter(|n| stored(n) == Some(Family::Blocks)) {
                db.drop_cf(name).unwrap();
            }
        }
        let storage = open(dir.path());
        // Every sample as written, time and value (bit for bit).
        let want: Vec<(i64, u64)> = minutes(now - 72 * HOUR, now).iter().map(|(t, v)| (*t, v.to_bits())).collect();
        assert_eq!(values_of(&storage, None, "a").await, want, "migrated");
        // Its chunks get sealed, and read the same.
        storage.seal_all().await.unwrap();
        let sealed = storage.metrics.sealed_samples.load(std::sync::atomic::Ordering::Relaxed);
        // The day partitions before now's (64 h of minutes) whole; now's, 8 h into its day,
        // holds three full chunks and the open one: fewer than a block's four, left as they are.
        assert_eq!(sealed, 64 * 60, "samples sealed");
        assert_eq!(values_of(&storage, None, "a").await, want, "migrated and sealed");
    }
}
