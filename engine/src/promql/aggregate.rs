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
    heap: Vec<Entry>,
}

/// A sample in a topk/bottomk heap or a quantile's list: its value and where it comes from
/// (its index in the step's vector, or its series in the input).
#[derive(Clone, Copy, Debug)]
pub(super) struct Entry {
    pub v: f64,
    pub from: usize,
}

/// `vectorByValueHeap.Less`: NaN sorts first.
fn by_value(a: &Entry, b: &Entry) -> bool {
    a.v.is_nan() || a.v < b.v
}

/// `vectorByReverseValueHeap.Less`: NaN sorts first.
fn by_reverse_value(a: &Entry, b: &Entry) -> bool {
    a.v.is_nan() || a.v > b.v
}

/// Which of a series' labels make its group: with `without`, all labels but `grouping` and
/// `__name__`; with `by`, only `grouping`.
#[derive(Clone, Copy)]
pub(super) struct Grouping<'a> {
    pub names: &'a [String],
    pub without: bool,
}

impl<'a> Grouping<'a> {
    /// Whether a label named `name` is part of the group key.
    pub fn keeps(&self, name: &str) -> bool {
        self.names.iter().any(|g| g == name) != self.without && !(self.without && name == "__name__")
    }

    fn pairs<'l>(&self, metric: &'l Labels) -> impl Iterator<Item = (&'l str, &'l str)> + use<'a, 'l> {
        let by = *self;
        metric.iter().filter(move |(n, _)| by.keeps(n))
    }

    /// The group key, which is also the output label set of the group.
    pub fn key(&self, metric: &Labels) -> Labels {
        Labels::from_sorted(self.pairs(metric))
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
/// The evaluator aggregates all steps at once (`aggregate_steps`, `count_values`); this is
/// the step-at-a-time port those are tested against.
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
        k = heap_size(number)?;
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
        check_value_label(&value_label)?;
        if !without {
            grouping.push(value_label.clone());
        }
    }

    let by = Grouping { names: &grouping, without };
    // Groups by the hash of their key; the groups under one hash are told apart by their keys.
    let mut index: FxHashMap<u64, Vec<usize>> = FxHashMap::default();
    let mut groups: Vec<Group> = Vec::new();
    for (i, s) in vec.iter().enumerate() {
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
        let entry = Entry { v, from: i };
        let hash = by.hash(metric);
        let found = index.get(&hash).and_then(|under| under.iter().copied().find(|&gi| by.is_in(metric, &groups[gi].labels)));
        let Some(gi) = found else {
            let (value, mean) = start(op, v);
            let mut g = Group { labels: by.key(metric), value, mean, count: 1, heap: Vec::new() };
            if matches!(op, AggOp::Topk | AggOp::Quantile | AggOp::Bottomk) {
                g.heap.push(entry);
            }
            index.entry(hash).or_default().push(groups.len());
            groups.push(g);
            continue;
        };
        let g = &mut groups[gi];
        match op {
            AggOp::Topk | AggOp::Bottomk => offer(op, &mut g.heap, k, entry),
            AggOp::Quantile => g.heap.push(entry),
            _ => {
                g.count += 1;
                accumulate(op, &mut g.value, &mut g.mean, g.count as f64, v);
            }
        }
    }

    let mut out = Vec::new();
    for mut g in groups {
        match op {
            AggOp::Topk | AggOp::Bottomk => {
                selected(op, &mut g.heap);
                out.extend(g.heap.iter().map(|e| Sample { labels: vec[e.from].labels.clone(), point: Point { t: ts, v: e.v } }));
                continue;
            }
            AggOp::Quantile => g.value = quantile_of(number, &g.heap),
            _ => g.value = finish(op, g.value, g.mean, g.count as f64),
        }
        out.push(Sample { labels: g.labels, point: Point { t: ts, v: g.value } });
    }
    Ok(out)
}

/// count_values' error for a label name Prometheus does not take.
pub(super) fn check_value_label(name: &str) -> Result<(), EvalError> {
    if !is_valid_label_name(name) {
        return Err(EvalError::Execution(format!("invalid label name {}", go_quote(name))));
    }
    Ok(())
}

/// topk/bottomk's k from its parameter, or Prometheus' error when it does not fit an int64.
pub(super) fn heap_size(number: f64) -> Result<i64, EvalError> {
    // convertibleToInt64: maxInt64 is 9223372036854774784, minInt64 -2^63.
    if !(number <= 9223372036854774784.0 && number >= -9223372036854775808.0) {
        return Err(EvalError::Execution(format!("Scalar value {} overflows int64", go_format_v(number))));
    }
    Ok(number as i64)
}

/// A group's running `value` and `mean` after its first sample `v`.
pub(super) fn start(op: AggOp, v: f64) -> (f64, f64) {
    match op {
        AggOp::Stdvar | AggOp::Stddev => (0.0, v),
        AggOp::Group => (1.0, v),
        _ => (v, v),
    }
}

/// A group's answer from its running `value`, `mean` and `count` (not for topk, bottomk and
/// quantile).
pub(super) fn finish(op: AggOp, value: f64, mean: f64, count: f64) -> f64 {
    match op {
        AggOp::Avg => mean,
        AggOp::Count | AggOp::CountValues => count,
        AggOp::Stdvar => value / count,
        AggOp::Stddev => (value / count).sqrt(),
        _ => value,
    }
}

/// topk/bottomk: offers `e`, a sample of the group, to the group's heap of at most `k` (k >= 1).
pub(super) fn offer(op: AggOp, heap: &mut Vec<Entry>, k: i64, e: Entry) {
    let less = if op == AggOp::Topk { by_value } else { by_reverse_value };
    if (heap.len() as i64) < k {
        heap_push(heap, e, less);
        return;
    }
    let top = heap[0].v;
    let better = if op == AggOp::Topk { top < e.v } else { top > e.v };
    if better || top.is_nan() {
        if k == 1 {
            // For k == 1 replace in place.
            heap[0] = e;
            return;
        }
        heap_pop(heap, less);
        heap_push(heap, e, less);
    }
}

/// topk/bottomk: sorts a group's heap into the order of the output.
pub(super) fn selected(op: AggOp, heap: &mut [Entry]) {
    // The heap has the lowest (topk) or highest (bottomk) on top: sort.Reverse.
    let less = if op == AggOp::Topk { by_value } else { by_reverse_value };
    if heap.len() > 1 {
        gosort::sort(heap, &|a: &Entry, b: &Entry| less(b, a));
    }
}

/// quantile: the `q` quantile of a group's samples, in the order they came.
pub(super) fn quantile_of(q: f64, samples: &[Entry]) -> f64 {
    let mut values: Vec<f64> = samples.iter().map(|e| e.v).collect();
    quantile(q, &mut values)
}

/// Adds `v`, a later sample of a group (not its first), to the group's running `value` (sum,
/// min, max, stdvar/stddev's sum of squares; group keeps its 1) and `mean` (avg, stdvar,
/// stddev; `count` already counts `v`).
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
        AggOp::Stdvar | AggOp::Stddev => {
            let delta = v - *mean;
            *mean += delta / count;
            *value += delta * (v - *mean);
        }
        AggOp::Max if *value < v || value.is_nan() => *value = v,
        AggOp::Min if *value > v || value.is_nan() => *value = v,
        _ => {}
    }
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
