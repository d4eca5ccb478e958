//! Remote write sends every series' full label set with every sample. Each HTTP worker thread
//! remembers the label sets it has checked and encoded, keyed by a hash of their bytes on the
//! wire (`RawSeries::label_bytes`), so that a series seen before costs a hash and a comparison
//! with the remembered set instead of UTF-8 checks, validation, encoding and hashing. Only
//! label sets that passed validation are remembered; when a thread's cache outgrows its budget
//! (a share of `TOTAL_BUDGET_BYTES`, see `share_among`) it starts over.

use super::decode::RawSeries;
use crate::labels::Labels;
use rustc_hash::FxHashMap;
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
/// Bookkeeping counted per entry besides the label set's bytes.
const ENTRY_OVERHEAD: usize = 80;

#[derive(Default)]
struct Cache {
    /// xxh3 of the label fields' wire bytes → the label set and its `stable_hash`.
    entries: FxHashMap<u64, (Labels, u64)>,
    bytes: usize,
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

/// The label set of `series` (and its `stable_hash`): remembered, or made by `check` and
/// remembered when it succeeds.
pub fn labels<E>(series: &RawSeries<'_>, check: impl FnOnce() -> Result<Labels, E>) -> Result<(Labels, u64), E> {
    let Some(wire) = series.label_bytes() else {
        return check().map(|l| (l.clone(), l.stable_hash()));
    };
    let key = xxhash_rust::xxh3::xxh3_64(wire);
    let found = CACHE.with_borrow(|c| c.entries.get(&key).filter(|(l, _)| series.labels_equal(l.as_bytes())).cloned());
    if let Some(hit) = found {
        return Ok(hit);
    }
    let labels = check()?;
    let hash = labels.stable_hash();
    CACHE.with_borrow_mut(|c| {
        let cost = labels.as_bytes().len() + ENTRY_OVERHEAD;
        if c.bytes + cost > BUDGET_BYTES.load(Relaxed) {
            *c = Cache::default();
        }
        // Another label set under the same key (a 64-bit collision) is replaced.
        if let Some((old, _)) = c.entries.insert(key, (labels.clone(), hash)) {
            c.bytes -= old.as_bytes().len() + ENTRY_OVERHEAD;
        }
        c.bytes += cost;
    });
    Ok((labels, hash))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::decode::write_request;
    use prost::Message;
    use proto::prometheus as pb;

    /// A remote write body of one series with these labels.
    fn body(pairs: &[(&str, &str)]) -> Vec<u8> {
        let labels = pairs.iter().map(|(n, v)| pb::Label { name: n.to_string(), value: v.to_string() }).collect();
        pb::WriteRequest { timeseries: vec![pb::TimeSeries { labels, samples: vec![pb::Sample { value: 1.0, timestamp: 5 }], ..Default::default() }], metadata: vec![] }.encode_to_vec()
    }

    fn cached(body: &[u8], check: impl FnOnce() -> Result<Labels, String>) -> Result<String, String> {
        let req = write_request(body).unwrap();
        labels(&req.series[0], check).map(|(l, hash)| {
            assert_eq!(hash, l.stable_hash());
            l.to_string()
        })
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
}
