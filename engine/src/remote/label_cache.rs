//! Remote write sends every series' full label set with every sample. Each HTTP worker thread
//! remembers the label sets it has checked and encoded, keyed by a hash of their bytes on the
//! wire (`RawSeries::label_bytes`), so that a series seen before costs a hash and a comparison
//! with the remembered set instead of UTF-8 checks, validation, encoding and hashing. Only
//! label sets that passed validation are remembered; when a thread's cache outgrows its budget
//! (a share of `TOTAL_BUDGET_BYTES`, see `share_among`) it starts over.
//!
//! A request's series are looked up a few steps ahead (`AHEAD`): their slots are prefetched
//! first, then the label sets the slots point to, so that the cache misses overlap.

use super::raw::RawSeries;
use crate::hash_slots::{prefetch, HashSlots};
use crate::labels::Labels;
use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// Bytes all threads' caches may hold together (encoded label sets and bookkeeping): each
/// worker sees every series, so each holds its own copy.
const TOTAL_BUDGET_BYTES: usize = 64 << 20;
/// The least a thread's cache may hold.
const MIN_BUDGET_BYTES: usize = 4 << 20;
/// Bytes one thread's cache may hold: with two workers 32 MiB, about 100 000 node_exporter
/// series.
static BUDGET_BYTES: AtomicUsize = AtomicUsize::new(TOTAL_BUDGET_BYTES / 2);
/// Bookkeeping counted per entry besides the label set's bytes: a slot of 32 bytes in a table
/// 3/8 to 3/4 full, and the label set's allocation header.
const ENTRY_OVERHEAD: usize = 100;
/// How many series ahead a slot is prefetched; its label set is prefetched half as far ahead.
const AHEAD: usize = 8;

#[derive(Default)]
struct Cache {
    /// xxh3 of the label fields' wire bytes → the label set and its `stable_hash`.
    entries: HashSlots<(Labels, u64)>,
    bytes: usize,
}

impl Cache {
    /// Puts a checked label set under `key`, starting over first if it would outgrow the
    /// budget; another label set under the same key (a 64-bit collision) is replaced.
    fn remember(&mut self, key: u64, labels: Labels, hash: u64) {
        let cost = labels.as_bytes().len() + ENTRY_OVERHEAD;
        if self.bytes + cost > BUDGET_BYTES.load(Relaxed) {
            *self = Cache::default();
        }
        if let Some((old, _)) = self.entries.insert(key, (labels, hash)) {
            self.bytes -= old.as_bytes().len() + ENTRY_OVERHEAD;
        }
        self.bytes += cost;
    }
}

thread_local! {
    static CACHE: RefCell<Cache> = RefCell::new(Cache::default());
}

/// Shares the budget among this many HTTP worker threads.
pub fn share_among(workers: usize) {
    BUDGET_BYTES.store(budget_for(workers), Relaxed);
}

fn budget_for(workers: usize) -> usize {
    (TOTAL_BUDGET_BYTES / workers.max(1)).max(MIN_BUDGET_BYTES)
}

/// The label sets of a request's series, in order, each with its `stable_hash`: remembered,
/// or made by `check` and remembered when it succeeds. Stops at the first series `check`
/// refuses.
pub fn labels<E>(series: &[RawSeries<'_>], check: impl FnMut(&RawSeries<'_>) -> Result<Labels, E>) -> Result<Vec<(Labels, u64)>, E> {
    let keys: Vec<Option<u64>> = series.iter().map(|s| s.label_bytes().map(xxhash_rust::xxh3::xxh3_64)).collect();
    labels_under(series, &keys, check)
}

/// `labels`, with each series' cache key given (`None`: not cached); a test gives two label
/// sets one key, as a hash collision would.
fn labels_under<E>(series: &[RawSeries<'_>], keys: &[Option<u64>], mut check: impl FnMut(&RawSeries<'_>) -> Result<Labels, E>) -> Result<Vec<(Labels, u64)>, E> {
    let mut out = Vec::with_capacity(series.len());
    CACHE.with_borrow_mut(|c| {
        for (i, (s, key)) in series.iter().zip(keys).enumerate() {
            if let Some(Some(k)) = keys.get(i + AHEAD) {
                c.entries.prefetch(*k);
            }
            if let Some((labels, _)) = keys.get(i + AHEAD / 2).copied().flatten().and_then(|k| c.entries.get_at_home(k)) {
                prefetch(labels.as_bytes().as_ptr());
            }
            if let Some(hit) = key.and_then(|k| c.entries.get(k)).filter(|(l, _)| s.labels_equal(l.as_bytes())) {
                out.push(hit.clone());
                continue;
            }
            let labels = check(s)?;
            let hash = labels.stable_hash();
            if let Some(key) = *key {
                c.remember(key, labels.clone(), hash);
            }
            out.push((labels, hash));
        }
        Ok(out)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::raw::write_request;
    use prost::Message;
    use proto::prometheus as pb;

    /// A remote write body of one series with these labels.
    fn body(pairs: &[(&str, &str)]) -> Vec<u8> {
        let labels = pairs.iter().map(|(n, v)| pb::Label { name: n.to_string(), value: v.to_string() }).collect();
        pb::WriteRequest { timeseries: vec![pb::TimeSeries { labels, samples: vec![pb::Sample { value: 1.0, timestamp: 5 }], ..Default::default() }], metadata: vec![] }.encode_to_vec()
    }

    fn cached(body: &[u8], check: impl FnOnce() -> Result<Labels, &'static str>) -> Result<String, &'static str> {
        let req = write_request(body).unwrap();
        let mut check = Some(check);
        let found = labels(&req.series, |_| check.take().expect("checked once")())?;
        assert_eq!(found.len(), 1);
        let (l, hash) = &found[0];
        assert_eq!(*hash, l.stable_hash());
        Ok(l.to_string())
    }

    #[test]
    fn a_checked_label_set_is_remembered_and_a_failed_one_is_not() {
        let up = body(&[("__name__", "up"), ("job", "a")]);
        let make = || Ok(Labels::from_sorted([("__name__", "up"), ("job", "a")]));
        assert_eq!(cached(&up, make).unwrap(), r#"up{job="a"}"#);
        assert_eq!(cached(&up, || Err("checked again".into())).unwrap(), r#"up{job="a"}"#);
        let other = body(&[("__name__", "up"), ("job", "b")]);
        assert_eq!(cached(&other, || Err("bad".into())).unwrap_err(), "bad");
        assert_eq!(cached(&other, || Err("checked again".into())).unwrap_err(), "checked again");
    }

    /// Two label sets under one key, as a 64-bit collision of their wire bytes' hashes would
    /// put them: a hit is compared with the set remembered under the key, so each series keeps
    /// its own labels, with its own samples, in the request that remembers the first and in
    /// the next one (which finds the second remembered).
    #[test]
    fn label_sets_under_one_key_are_told_apart() {
        let (a, b) = ([("__name__", "up"), ("job", "a")], [("__name__", "up"), ("job", "b")]);
        let timeseries = [(a, 1.0), (b, 2.0)]
            .iter()
            .map(|(pairs, value)| pb::TimeSeries {
                labels: pairs.iter().map(|(n, v)| pb::Label { name: n.to_string(), value: v.to_string() }).collect(),
                samples: vec![pb::Sample { value: *value, timestamp: 5 }],
                ..Default::default()
            })
            .collect();
        let body = pb::WriteRequest { timeseries, metadata: vec![] }.encode_to_vec();
        let req = write_request(&body).unwrap();
        let one_key = [Some(0x5eed), Some(0x5eed)];
        for round in 0..2 {
            let mut checked = Vec::new();
            let found = labels_under(&req.series, &one_key, |s| {
                let l = Labels::from_sorted(s.labels().unwrap());
                checked.push(l.to_string());
                Ok::<_, String>(l)
            })
            .unwrap();
            let landed: Vec<(String, u64, Vec<(i64, f64)>)> = found.iter().zip(&req.series).map(|((l, hash), s)| (l.to_string(), *hash, s.samples.clone())).collect();
            let want = [(r#"up{job="a"}"#, Labels::from_sorted(a), 1.0), (r#"up{job="b"}"#, Labels::from_sorted(b), 2.0)].map(|(shown, l, v)| (shown.to_string(), l.stable_hash(), vec![(5, v)]));
            assert_eq!(landed, want, "round {round}");
            assert_eq!(checked, [r#"up{job="a"}"#, r#"up{job="b"}"#], "round {round}: the other set under the key is a miss");
        }
    }

    #[test]
    fn the_budget_is_shared_among_the_workers() {
        assert_eq!([1, 2, 8, 64, 0].map(budget_for), [64 << 20, 32 << 20, 8 << 20, 4 << 20, 64 << 20]);
    }

    #[test]
    fn the_cache_starts_over_when_it_outgrows_its_budget() {
        // Each label set takes a little more than a third of the budget: the third starts over.
        let budget = BUDGET_BYTES.load(Relaxed);
        let big = "x".repeat(budget / 3);
        let bodies: Vec<Vec<u8>> = (0..4).map(|i| body(&[("__name__", "big"), ("i", &format!("{i}{big}"))])).collect();
        for (i, b) in bodies.iter().enumerate() {
            cached(b, || Ok(Labels::from_sorted([("__name__", "big"), ("i", &format!("{i}{big}"))]))).unwrap();
        }
        CACHE.with_borrow(|c| {
            assert!(c.bytes <= budget, "{} bytes held", c.bytes);
            assert_eq!(c.entries.len(), 2, "the third and the fourth");
        });
        assert_eq!(cached(&bodies[0], || Err("forgotten".into())).unwrap_err(), "forgotten");
        assert!(cached(&bodies[3], || Err("forgotten".into())).is_ok());
    }

    #[test]
    fn every_label_set_is_found_again_after_the_table_grows() {
        let pairs = |i: usize| [("__name__", "m".to_string()), ("i", i.to_string())];
        let series: Vec<pb::TimeSeries> = (0..5000)
            .map(|i| pb::TimeSeries {
                labels: pairs(i).iter().map(|(n, v)| pb::Label { name: n.to_string(), value: v.clone() }).collect(),
                samples: vec![pb::Sample { value: 1.0, timestamp: 5 }],
                ..Default::default()
            })
            .collect();
        let body = pb::WriteRequest { timeseries: series, metadata: vec![] }.encode_to_vec();
        let req = write_request(&body).unwrap();
        let mut checked = 0;
        let first = labels(&req.series, |s| {
            checked += 1;
            Ok::<_, String>(Labels::from_sorted(s.labels().unwrap()))
        })
        .unwrap();
        assert_eq!(checked, 5000);
        let again = labels(&req.series, |_| Err("checked again".to_string())).unwrap();
        for (i, ((a, ha), (b, hb))) in first.iter().zip(&again).enumerate() {
            assert_eq!(a.to_string(), format!(r#"m{{i="{i}"}}"#));
            assert_eq!((a, ha), (b, hb));
        }
    }
}
