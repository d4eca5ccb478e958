//! Work on the RocksDB instance as a whole, for the admin API; neither reads nor changes what
//! the shards store. Snapshots for backups: a RocksDB checkpoint of every column family (so
//! samples, index, catalog and users alike) in `<data-dir>/snapshots/<name>/rocksdb`; files are
//! hard links where the file system allows, so a snapshot takes seconds whatever the size, and
//! the directory is a data directory `gemini serve --data-dir` starts on. Cleaning tombstones:
//! compacting every column family, which drops what deletions left behind (range tombstones
//! and the data under them) from disk.

use super::{Error, Storage};
use std::path::PathBuf;

/// Where snapshots go, inside the data directory.
pub const SNAPSHOTS_DIR: &str = "snapshots";

impl Storage {
    /// Takes snapshot `name` (a file name: no separators) holding every sample acknowledged
    /// before the call, and answers its directory. The memtables are flushed first, so the
    /// checkpoint needs no log replay beyond what is still being written.
    pub fn snapshot(&self, name: &str) -> Result<PathBuf, Error> {
        if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
            return Err(Error::from(format!("invalid snapshot name {name:?}")));
        }
        let dir = self.data_dir.join(SNAPSHOTS_DIR).join(name);
        std::fs::create_dir_all(&dir).map_err(|e| Error::from(e).context("cannot create the snapshot directory"))?;
        let checkpoint = rocksdb::checkpoint::Checkpoint::new(&self.db).map_err(|e| Error::from(e).context("snapshot"))?;
        checkpoint.create_checkpoint(dir.join("rocksdb")).map_err(|e| Error::from(e).context("snapshot"))?;
        Ok(dir)
    }

    /// Compacts every column family, one after the other; blocks until done.
    pub fn clean_tombstones(&self) {
        let names = rocksdb::DB::list_cf(&rocksdb::Options::default(), self.db.path()).unwrap_or_default();
        for name in names {
            if let Some(cf) = self.db.cf_handle(&name) {
                self.db.compact_range_cf(cf, None::<&[u8]>, None::<&[u8]>);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::storage::testing::{open, series, values_of};

    #[actix_web::test]
    async fn a_snapshot_opens_with_every_sample_written_before_it() {
        let dir = tempfile::tempdir().unwrap();
        let storage = open(dir.path());
        storage.create_database("db", None).unwrap();
        storage.write("db", None, vec![series("up", vec![(1_000, 1.0), (2_000, 2.0)])]).await.unwrap();
        let snap = storage.snapshot("20261207T000000Z-00").unwrap();
        storage.write("db", None, vec![series("up", vec![(3_000, 3.0)])]).await.unwrap();
        assert!(storage.snapshot("../x").is_err());
        assert_eq!(values_of(&storage, None, "up").await.len(), 3, "the original keeps taking writes");
        drop(storage);
        let copy = open(&snap);
        assert_eq!(values_of(&copy, None, "up").await, vec![(1_000, 1f64.to_bits()), (2_000, 2f64.to_bits())]);
    }
}
