//! What the storage tests share: a storage in a temporary directory, series to write and
//! the timestamps read back.

use crate::data::write::SeriesWrite;
use super::{Policies, Storage, StorageOptions};
use crate::encoding::chunk;
use crate::index::matcher::{MatchKind, Matcher};
use crate::labels::Labels;
use crate::metrics::Metrics;
use std::path::Path;
use std::sync::Arc;

pub(super) fn series(name: &str, samples: Vec<(i64, f64)>) -> SeriesWrite {
    let labels = Labels::from_sorted([("__name__", name)]);
    SeriesWrite { hash: labels.stable_hash(), labels, samples }
}

pub(super) const HOUR: i64 = 3_600_000;

pub(super) fn open(dir: &Path) -> Storage {
    Storage::open(StorageOptions { data_dir: dir.into(), shards: 2, sync_writes: false }, Arc::new(Metrics::default())).unwrap()
}

pub(super) async fn samples_of(storage: &Storage, rp: Option<&str>) -> Vec<(String, Vec<i64>)> {
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

/// Every sample of series `name` in policy `rp` as (time, value bits), checking that its
/// chunks are in time order, bounded by their first and last samples, and hold at most
/// `SAMPLES_PER_CHUNK` each.
pub(super) async fn values_of(storage: &Storage, rp: Option<&str>, name: &str) -> Vec<(i64, u64)> {
    let found = storage.select("db", Policies::One(rp), vec![Matcher::new(MatchKind::Equal, "__name__", name).unwrap()]).await.unwrap();
    let chunks = storage.read_chunks(&found, i64::MIN, i64::MAX).await.unwrap();
    let mut out: Vec<(i64, u64)> = Vec::new();
    for c in chunks.iter().flatten() {
        let before = out.len();
        chunk::decode_each(&c.data, |t, v| out.push((t, v.to_bits()))).unwrap();
        assert!(out.len() - before <= chunk::SAMPLES_PER_CHUNK as usize);
        assert_eq!((out[before].0, out[out.len() - 1].0), (c.min_t, c.max_t));
        assert!(before == 0 || out[before - 1].0 < out[before].0, "chunks in time order");
    }
    out
}

pub(super) fn minutes(from: i64, to: i64) -> Vec<(i64, f64)> {
    (from..to).step_by(60_000).map(|t| (t, t as f64)).collect()
}
