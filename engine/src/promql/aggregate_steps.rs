//! `sum`, `count`, `avg`, `min`, `max` and `group` over every step of a range query at once:
//! each input series' group is found once (not at every step), and its points are added into
//! the group's per-step accumulators, with no vector built per step. The answer is exactly the
//! one `aggregate::aggregate` gives step by step (Prometheus 2.42's `aggregation`): at each
//! step the samples are taken in the input's series order, so sums and means add up in the
//! same order, and the output series come in the order in which the step-by-step evaluation
//! first produces them.

use super::aggregate::{accumulate, Grouping};
use super::plan::AggOp;
use super::value::{Labels, Matrix, Point, Series};
use rustc_hash::FxHashMap;

/// Whether `aggregate` takes `op` (one without a parameter, whose step result is one number
/// per group).
pub fn handles(op: AggOp) -> bool {
    matches!(op, AggOp::Sum | AggOp::Count | AggOp::Avg | AggOp::Min | AggOp::Max | AggOp::Group)
}

/// One group's accumulators, a slot per step.
struct Group {
    labels: Labels,
    value: Vec<f64>,
    mean: Vec<f64>,
    count: Vec<u32>,
    /// The (step, input series) at which the step-by-step evaluation first meets the group.
    first: (usize, usize),
}

/// Aggregates `input` (points at the times of `steps`, in time order) by `op` (see `handles`)
/// at every step.
pub fn aggregate(op: AggOp, grouping: &[String], without: bool, input: &Matrix, steps: &[i64]) -> Matrix {
    debug_assert!(handles(op));
    let by = Grouping { names: grouping, without };
    let n = steps.len();
    let mut index: FxHashMap<u64, Vec<usize>> = FxHashMap::default();
    let mut groups: Vec<Group> = Vec::new();
    for (i, series) in input.iter().enumerate() {
        let hash = by.hash(&series.labels);
        let found = index.get(&hash).and_then(|under| under.iter().copied().find(|&gi| by.is_in(&series.labels, &groups[gi].labels)));
        let gi = match found {
            Some(gi) => gi,
            None => {
                index.entry(hash).or_default().push(groups.len());
                groups.push(Group { labels: by.key(&series.labels), value: vec![0.0; n], mean: vec![0.0; n], count: vec![0; n], first: (usize::MAX, usize::MAX) });
                groups.len() - 1
            }
        };
        let g = &mut groups[gi];
        // The step-by-step evaluation takes a series' next point at the step of its time.
        let mut points = series.points.iter().peekable();
        for (k, &ts) in steps.iter().enumerate() {
            let Some(p) = points.next_if(|p| p.t == ts) else { continue };
            add(op, g, k, p.v);
            if g.count[k] == 1 && (k, i) < g.first {
                g.first = (k, i);
            }
            if points.peek().is_none() {
                break;
            }
        }
    }
    groups.sort_by_key(|g| g.first);
    groups
        .into_iter()
        .filter(|g| g.first.0 != usize::MAX)
        .map(|g| {
            let points = (0..n)
                .filter(|&k| g.count[k] > 0)
                .map(|k| {
                    let v = match op {
                        AggOp::Avg => g.mean[k],
                        AggOp::Count => g.count[k] as f64,
                        _ => g.value[k],
                    };
                    Point { t: steps[k], v }
                })
                .collect();
            Series { labels: g.labels, points }
        })
        .collect()
}

/// Adds sample value `v` to group `g` at step `k`, as `aggregate::aggregate` does.
fn add(op: AggOp, g: &mut Group, k: usize, v: f64) {
    g.count[k] += 1;
    if g.count[k] == 1 {
        g.value[k] = if op == AggOp::Group { 1.0 } else { v };
        if op == AggOp::Avg {
            g.mean[k] = v;
        }
        return;
    }
    accumulate(op, &mut g.value[k], &mut g.mean[k], g.count[k] as f64, v);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::promql::aggregate::{self, AggParam};
    use crate::promql::value::Sample;

    /// The step-by-step answer: `aggregate::aggregate` at each step, gathered into series in
    /// the order they first appear.
    fn step_by_step(op: AggOp, grouping: &[String], without: bool, input: &Matrix, steps: &[i64]) -> Matrix {
        let mut out: Matrix = Vec::new();
        for &ts in steps {
            let vec: Vec<Sample> = input.iter().filter_map(|s| s.points.iter().find(|p| p.t == ts).map(|p| Sample { labels: s.labels.clone(), point: *p })).collect();
            for s in aggregate::aggregate(op, grouping, without, AggParam::None, &vec, ts).unwrap() {
                match out.iter_mut().find(|o| o.labels == s.labels) {
                    Some(o) => o.points.push(s.point),
                    None => out.push(Series { labels: s.labels, points: vec![s.point] }),
                }
            }
        }
        out
    }

    fn series(pairs: &[(&str, &str)], points: &[(i64, f64)]) -> Series {
        let labels = Labels::from_sorted(pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect());
        Series { labels, points: points.iter().map(|&(t, v)| Point { t, v }).collect() }
    }

    #[test]
    fn every_step_at_once_equals_step_by_step() {
        let inf = f64::INFINITY;
        // Gaps, a group first met late, NaN, infinities of both signs, values whose sum
        // depends on the order of addition.
        let input = vec![
            series(&[("__name__", "m"), ("job", "b"), ("i", "1")], &[(20, 1e17), (30, 2.0)]),
            series(&[("__name__", "m"), ("job", "a"), ("i", "2")], &[(0, 1.0), (10, f64::NAN), (30, inf)]),
            series(&[("__name__", "m"), ("job", "b"), ("i", "3")], &[(0, 0.1), (20, 1.0), (30, -inf)]),
            series(&[("__name__", "m"), ("job", "a"), ("i", "4")], &[(0, 0.2), (10, 3.0), (20, -1e17), (30, inf)]),
            series(&[("__name__", "m"), ("job", "c"), ("i", "5")], &[(30, 5.0)]),
        ];
        let steps = [0, 10, 20, 30];
        for op in [AggOp::Sum, AggOp::Count, AggOp::Avg, AggOp::Min, AggOp::Max, AggOp::Group] {
            for (grouping, without) in [(vec!["job".to_string()], false), (vec![], false), (vec!["i".to_string()], true), (vec!["nosuch".to_string()], true)] {
                let want = step_by_step(op, &grouping, without, &input, &steps);
                let got = aggregate(op, &grouping, without, &input, &steps);
                let bits = |m: &Matrix| m.iter().map(|s| (s.labels.to_string(), s.points.iter().map(|p| (p.t, p.v.to_bits())).collect::<Vec<_>>())).collect::<Vec<_>>();
                assert_eq!(bits(&got), bits(&want), "{op:?} {grouping:?} without={without}");
            }
        }
    }
}
