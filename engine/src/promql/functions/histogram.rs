//! histogram_quantile over classic `le` buckets, as `funcHistogramQuantile` and
//! `bucketQuantile` (promql/quantile.go) compute it: buckets grouped by their labels without
//! `le`, the output labelled without `le` and `__name__`; buckets sorted (Go's sort), equal
//! upper bounds coalesced, counts forced monotonic, a `+Inf` bucket required.

use std::collections::HashMap;

use super::goparse::parse_float;
use super::gosort;
use super::Call;
use crate::promql::error::EvalError;
use crate::promql::value::{Labels, Vector};

#[derive(Clone, Copy, Debug)]
pub(crate) struct Bucket {
    pub upper_bound: f64,
    pub count: f64,
}

pub(crate) fn histogram_quantile(call: &Call) -> Result<Vector, EvalError> {
    let q = call.scalar_arg(0);
    // Groups in order of first appearance (Prometheus iterates a Go map: random order).
    let mut groups: Vec<(Labels, Vec<Bucket>)> = Vec::new();
    let mut index: HashMap<Labels, usize> = HashMap::new();
    for s in call.vector_arg(1) {
        let Some(upper_bound) = parse_float(s.labels.get("le")) else {
            continue; // no or malformed le label: skipped
        };
        let mut key = s.labels.clone();
        key.remove("le");
        let i = *index.entry(key).or_insert_with_key(|key| {
            groups.push((key.without_name(), Vec::new()));
            groups.len() - 1
        });
        groups[i].1.push(Bucket { upper_bound, count: s.point.v });
    }
    Ok(groups
        .into_iter()
        .map(|(metric, mut buckets)| {
            let v = bucket_quantile(q, &mut buckets);
            call.sample(metric, v)
        })
        .collect())
}

/// `bucketQuantile`: the q-quantile of the (non-empty) buckets.
pub(crate) fn bucket_quantile(q: f64, buckets: &mut Vec<Bucket>) -> f64 {
    if q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    gosort::sort(buckets, &|a: &Bucket, b: &Bucket| a.upper_bound < b.upper_bound);
    if buckets[buckets.len() - 1].upper_bound != f64::INFINITY {
        return f64::NAN;
    }
    coalesce_buckets(buckets);
    ensure_monotonic(buckets);
    if buckets.len() < 2 {
        return f64::NAN;
    }
    let observations = buckets[buckets.len() - 1].count;
    if observations == 0.0 {
        return f64::NAN;
    }
    let mut rank = q * observations;
    let b = gosort::search(buckets.len() - 1, |i| buckets[i].count >= rank);
    if b == buckets.len() - 1 {
        return buckets[buckets.len() - 2].upper_bound;
    }
    if b == 0 && buckets[0].upper_bound <= 0.0 {
        return buckets[0].upper_bound;
    }
    let mut bucket_start = 0.0;
    let bucket_end = buckets[b].upper_bound;
    let mut count = buckets[b].count;
    if b > 0 {
        bucket_start = buckets[b - 1].upper_bound;
        count -= buckets[b - 1].count;
        rank -= buckets[b - 1].count;
    }
    bucket_start + (bucket_end - bucket_start) * (rank / count)
}

/// `coalesceBuckets`: adds up the counts of buckets with the same upper bound.
fn coalesce_buckets(buckets: &mut Vec<Bucket>) {
    let mut last = buckets[0];
    let mut i = 0;
    for k in 1..buckets.len() {
        let b = buckets[k];
        if b.upper_bound == last.upper_bound {
            last.count += b.count;
        } else {
            buckets[i] = last;
            last = b;
            i += 1;
        }
    }
    buckets[i] = last;
    buckets.truncate(i + 1);
}

/// `ensureMonotonic`: raises every count to at least the largest count before it.
fn ensure_monotonic(buckets: &mut [Bucket]) {
    let mut max = buckets[0].count;
    for b in buckets.iter_mut().skip(1) {
        if b.count > max {
            max = b.count;
        } else if b.count < max {
            b.count = max;
        }
    }
}
