//! Aggregation operators at one evaluation step, as Prometheus 2.42 computes them
//! (promql/engine.go `aggregation` and `generateGroupingKey`, promql/quantile.go `quantile`),
//! with Go's `container/heap` and `sort.Sort` (pdqsort, Go 1.19) ported so that topk/bottomk
//! and quantile see the same orders. Float samples only.

use rustc_hash::FxHashMap;
use std::hash::{Hash, Hasher};

use super::gofmt::{go_format_f, go_format_v, go_quote};
use super::error::EvalError;
use super::functions::gosort;
use super::functions::over_time::quantile;
use super::plan::AggOp;
use super::value::{is_valid_label_name, Labels, Point, Sample, Vector};

/// The parameter of an aggregation at this step: a number for topk/bottomk/quantile, the
/// label name for count_values.
#[derive(Clone, Debug, PartialEq)]
pub enum AggParam {
    None,
    Number(f64),
    Label(String),
}

struct Group {
    labels: Labels,
    value: f64,
    mean: f64,
    count: i64,
    /// topk and quantile: `vectorByValueHeap`; bottomk: `vectorByReverseValueHeap`.
    heap: Vec<Sample>,
}

/// `vectorByValueHeap.Less`: NaN sorts first.
fn by_value(a: &Sample, b: &Sample) -> bool {
    a.point.v.is_nan() || a.point.v < b.point.v
}

/// `vectorByReverseValueHeap.Less`: NaN sorts first.
fn by_reverse_value(a: &Sample, b: &Sample) -> bool {
    a.point.v.is_nan() || a.point.v > b.point.v
}

/// Which of a series' labels make its group: with `without`, all labels but `grouping` and
/// `__name__`; with `by`, only `grouping`.
pub(super) struct Grouping<'a> {
    pub names: &'a [String],
    pub without: bool,
}

impl<'a> Grouping<'a> {
    fn pairs<'l>(&self, metric: &'l Labels) -> impl Iterator<Item = (&'l str, &'l str)> + use<'a, 'l> {
        let (names, without) = (self.names, self.without);
        metric.iter().filter(move |(n, _)| names.iter().any(|g| g == n) != without && !(without && *n == "__name__"))
    }

    /// The group key, which is also the output label set of the group.
    pub fn key(&self, metric: &Labels) -> Labels {
        Labels::from_sorted(self.pairs(metric).map(|(n, v)| (n.to_string(), v.to_string())).collect())
    }

    /// A hash of the group key, made without building it.
    pub fn hash(&self, metric: &Labels) -> u64 {
        let mut h = rustc_hash::FxHasher::default();
        for pair in self.pairs(metric) {
            pair.hash(&mut h);
        }
        h.finish()
    }

    /// Whether `metric` belongs to the group whose key is `key`.
    pub fn is_in(&self, metric: &Labels, key: &Labels) -> bool {
        self.pairs(metric).eq(key.iter())
    }
}

/// Aggregates `vec` into groups. `grouping` is the `by`/`without` label list; `ts` the step.
pub fn aggregate(
    op: AggOp,
    grouping: &[String],
    without: bool,
    param: AggParam,
    vec: &[Sample],
    ts: i64,
) -> Result<Vector, EvalError> {
    let number = if let AggParam::Number(f) = param { f } else { 0.0 };
    let mut k: i64 = 0;
    if matches!(op, AggOp::Topk | AggOp::Bottomk) {
        // convertibleToInt64: maxInt64 is 9223372036854774784, minInt64 -2^63.
        if !(number <= 9223372036854774784.0 && number >= -9223372036854775808.0) {
            return Err(EvalError::Execution(format!("Scalar value {} overflows int64", go_format_v(number))));
        }
        k = number as i64;
        if k < 1 {
            return Ok(Vec::new());
        }
    }
    let mut grouping = grouping.to_vec();
    let mut value_label = String::new();
    if op == AggOp::CountValues {
        if let AggParam::Label(l) = &param {
            value_label = l.clone();
        }
        if !is_valid_label_name(&value_label) {
            return Err(EvalError::Execution(format!("invalid label name {}", go_quote(&value_label))));
        }
        if !without {
            grouping.push(value_label.clone());
        }
    }

    let by = Grouping { names: &grouping, without };
    // Groups by the hash of their key; the groups under one hash are told apart by their keys.
    let mut index: FxHashMap<u64, Vec<usize>> = FxHashMap::default();
    let mut groups: Vec<Group> = Vec::new();
    for s in vec {
        let v = s.point.v;
        let with_value;
        let metric = if op == AggOp::CountValues {
            let mut metric = s.labels.clone();
            metric.set(&value_label, &go_format_f(v));
            with_value = metric;
            &with_value
        } else {
            &s.labels
        };
        let hash = by.hash(metric);
        let found = index.get(&hash).and_then(|under| under.iter().copied().find(|&gi| by.is_in(metric, &groups[gi].labels)));
        let Some(gi) = found else {
            let mut g = Group { labels: by.key(metric), value: v, mean: v, count: 1, heap: Vec::new() };
            match op {
                AggOp::Stdvar | AggOp::Stddev => g.value = 0.0,
                AggOp::Topk | AggOp::Quantile | AggOp::Bottomk => g.heap.push(sample(&s.labels, v, 0)),
                AggOp::Group => g.value = 1.0,
                _ => {}
            }
            index.entry(hash).or_default().push(groups.len());
            groups.push(g);
            continue;
        };
        let g = &mut groups[gi];
        match op {
            AggOp::Sum | AggOp::Avg | AggOp::Max | AggOp::Min | AggOp::Group => {
                if op == AggOp::Avg {
                    g.count += 1;
                }
                accumulate(op, &mut g.value, &mut g.mean, g.count as f64, v);
            }
            AggOp::Count | AggOp::CountValues => g.count += 1,
            AggOp::Stdvar | AggOp::Stddev => {
                g.count += 1;
                let delta = v - g.mean;
                g.mean += delta / g.count as f64;
                g.value += delta * (v - g.mean);
            }
            AggOp::Topk | AggOp::Bottomk => {
                let less = if op == AggOp::Topk { by_value } else { by_reverse_value };
                let top = g.heap[0].point.v;
                let better = if op == AggOp::Topk { top < v } else { top > v };
                if (g.heap.len() as i64) < k || better || top.is_nan() {
                    if g.heap.len() as i64 == k {
                        if k == 1 {
                            // For k == 1 replace in place.
                            g.heap[0] = sample(&s.labels, v, 0);
                            continue;
                        }
                        heap_pop(&mut g.heap, less);
                    }
                    heap_push(&mut g.heap, sample(&s.labels, v, 0), less);
                }
            }
            AggOp::Quantile => g.heap.push(s.clone()),
        }
    }

    let mut out = Vec::new();
    for mut g in groups {
        match op {
            AggOp::Avg => g.value = g.mean,
            AggOp::Count | AggOp::CountValues => g.value = g.count as f64,
            AggOp::Stdvar => g.value /= g.count as f64,
            AggOp::Stddev => g.value = (g.value / g.count as f64).sqrt(),
            AggOp::Topk | AggOp::Bottomk => {
                // The heap has the lowest (topk) or highest (bottomk) on top: sort.Reverse.
                let less = if op == AggOp::Topk { by_value } else { by_reverse_value };
                if g.heap.len() > 1 {
                    gosort::sort(&mut g.heap, &|a: &Sample, b: &Sample| less(b, a));
                }
                out.extend(g.heap.iter().map(|s| sample(&s.labels, s.point.v, ts)));
                continue;
            }
            AggOp::Quantile => {
                let mut values: Vec<f64> = g.heap.iter().map(|s| s.point.v).collect();
                g.value = quantile(number, &mut values)
            }
            _ => {}
        }
        out.push(Sample { labels: g.labels, point: Point { t: ts, v: g.value } });
    }
    Ok(out)
}

/// Adds `v`, a later sample of a group (not its first), to the group's running `value` (sum,
/// min, max; group keeps its 1) and `mean` (avg; `count` already counts `v`).
pub(super) fn accumulate(op: AggOp, value: &mut f64, mean: &mut f64, count: f64, v: f64) {
    match op {
        AggOp::Sum => *value += v,
        AggOp::Avg => {
            // An infinite mean stays when an infinity of the same sign or a finite value
            // comes (the update below would make it NaN).
            if mean.is_infinite() && ((v.is_infinite() && (*mean > 0.0) == (v > 0.0)) || v.is_finite()) {
                return;
            }
            // Each side of the `-` divided by the count to avoid overflows.
            *mean += v / count - *mean / count;
        }
        AggOp::Max if *value < v || value.is_nan() => *value = v,
        AggOp::Min if *value > v || value.is_nan() => *value = v,
        _ => {}
    }
}

fn sample(labels: &Labels, v: f64, t: i64) -> Sample {
    Sample { labels: labels.clone(), point: Point { t, v } }
}


// Go's container/heap `Push` and `Pop` (with `up` and `down`) over a slice with a `Less`.

fn heap_push<T>(h: &mut Vec<T>, x: T, less: fn(&T, &T) -> bool) {
    h.push(x);
    let mut j = h.len() - 1;
    while j > 0 && less(&h[j], &h[(j - 1) / 2]) {
        h.swap((j - 1) / 2, j);
        j = (j - 1) / 2;
    }
}

fn heap_pop<T>(h: &mut Vec<T>, less: fn(&T, &T) -> bool) {
    let n = h.len() - 1;
    h.swap(0, n);
    let mut i = 0;
    while 2 * i + 1 < n {
        let j1 = 2 * i + 1;
        let j = if j1 + 1 < n && less(&h[j1 + 1], &h[j1]) { j1 + 1 } else { j1 };
        if !less(&h[j], &h[i]) {
            break;
        }
        h.swap(i, j);
        i = j;
    }
    h.pop();
}

#[cfg(test)]
#[path = "aggregate_tests.rs"]
mod tests;
