//! What the stopped servers left on disk: the whole data directory as `du -b` counts it, and
//! Gemini's table bytes by column family and level.

use super::Error;
use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Apparent sizes under a data directory, as `du -b` counts them: every file and directory
/// (a hard-linked file once, a symbolic link as itself).
#[derive(Debug, Default, PartialEq)]
pub(super) struct DiskUsage {
    pub total: u64,
    /// RocksDB table files (`*.sst`).
    pub tables: u64,
    /// RocksDB write-ahead logs (`*.log`).
    pub wal: u64,
}

pub(super) fn disk_usage(path: &Path, usage: &mut DiskUsage, links: &mut HashSet<(u64, u64)>) -> Result<(), Error> {
    let meta = std::fs::symlink_metadata(path).map_err(|e| Error::io(path, e))?;
    if !meta.is_dir() && meta.nlink() > 1 && !links.insert((meta.dev(), meta.ino())) {
        return Ok(());
    }
    usage.total += meta.len();
    if meta.is_dir() {
        for entry in std::fs::read_dir(path).map_err(|e| Error::io(path, e))? {
            disk_usage(&entry.map_err(|e| Error::io(path, e))?.path(), usage, links)?;
        }
    } else if meta.is_file() {
        match path.extension().and_then(|x| x.to_str()) {
            Some("sst") => usage.tables += meta.len(),
            Some("log") => usage.wal += meta.len(),
            _ => {}
        }
    }
    Ok(())
}

/// The table bytes of the stopped servers' storage by column family and level, as one line:
/// `chunks 11.2 MB (L0 0.0, L1 11.2), …`.
pub(super) fn table_report(dirs: &[PathBuf]) -> String {
    let mut by_kind: std::collections::BTreeMap<String, std::collections::BTreeMap<i32, u64>> = Default::default();
    for dir in dirs {
        match crate::storage::Storage::table_bytes(dir) {
            Ok(t) => {
                for ((kind, level), bytes) in t {
                    *by_kind.entry(kind).or_default().entry(level).or_default() += bytes;
                }
            }
            Err(e) => return format!("cannot read {}: {e}", dir.display()),
        }
    }
    let mb = |b: u64| b as f64 / 1e6;
    by_kind
        .iter()
        .map(|(kind, levels)| {
            let per_level: Vec<String> = levels.iter().map(|(l, b)| format!("L{l} {:.2}", mb(*b))).collect();
            format!("{kind} {:.2} MB ({})", mb(levels.values().sum()), per_level.join(", "))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_usage_counts_every_file_and_directory() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("shard-0");
        std::fs::create_dir(&db).unwrap();
        for (name, len) in [("000012.sst", 1000), ("000013.log", 300), ("MANIFEST-000005", 70), ("OPTIONS-000007", 9000), ("LOG", 500), ("LOG.old.1700000000", 400), ("CURRENT", 16)] {
            std::fs::write(db.join(name), vec![0u8; len]).unwrap();
        }
        std::fs::hard_link(db.join("000012.sst"), dir.path().join("checkpoint.sst")).unwrap();
        let dirs = std::fs::metadata(dir.path()).unwrap().len() + std::fs::metadata(&db).unwrap().len();
        let mut usage = DiskUsage::default();
        disk_usage(dir.path(), &mut usage, &mut HashSet::new()).unwrap();
        assert_eq!(usage, DiskUsage { total: dirs + 1000 + 300 + 70 + 9000 + 500 + 400 + 16, tables: 1000, wal: 300 });
    }
}
