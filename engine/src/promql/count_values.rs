//! `count_values` over every step of a range query at once. Step by step (`aggregate::aggregate`,
//! Prometheus 2.42's `aggregation`), each sample's labels get the value label set to its value
//! as Go's `strconv.FormatFloat(v, 'f', -1, 64)` writes it, and the samples are counted per
//! group of those labels. Here a series' group without the value label is found once, and its
//! value is formatted and looked up only when it differs from the series' previous one. The
//! answer is exactly the step-by-step one: the same groups, counts, label sets and series order
//! (the order in which the step-by-step evaluation first produces them).

use super::aggregate::{check_value_label, Grouping};
use super::error::EvalError;
use super::gofmt::go_format_f;
use super::value::{Labels, Matrix, Point, Series};
use rustc_hash::FxHashMap;

/// A group's count at each step where it has samples. It starts as the list of those steps
/// (one entry per sample) and becomes a count per step of the query once the list is as long:
/// a group with a few samples (a value seen once) takes little, and the whole never more than
/// the input's points.
enum Counts {
    Steps(Vec<u32>),
    PerStep(Vec<u32>),
}

impl Counts {
    fn add(&mut self, k: usize, steps: usize) {
        match self {
            Counts::Steps(list) => {
                list.push(k as u32);
                if list.len() >= steps {
                    let mut per_step = vec![0; steps];
                    for &k in list.iter() {
                        per_step[k as usize] += 1;
                    }
                    *self = Counts::PerStep(per_step);
                }
            }
            Counts::PerStep(per_step) => per_step[k] += 1,
        }
    }

    fn points(self, steps: &[i64]) -> Vec<Point> {
        let per_step = |(k, &n): (usize, &u32)| (n > 0).then(|| Point { t: steps[k], v: n as f64 });
        match self {
            Counts::PerStep(per_step_counts) => per_step_counts.iter().enumerate().filter_map(per_step).collect(),
            Counts::Steps(mut list) => {
                list.sort_unstable();
                let mut out: Vec<Point> = Vec::new();
                for k in list {
                    match out.last_mut() {
                        Some(p) if p.t == steps[k as usize] => p.v += 1.0,
                        _ => out.push(Point { t: steps[k as usize], v: 1.0 }),
                    }
                }
                out
            }
        }
    }
}

struct Group {
    labels: Labels,
    counts: Counts,
    /// The (step, input series) at which the step-by-step evaluation first meets the group.
    first: (usize, usize),
}

/// The groups of series' labels without the value label, each with its groups by value.
struct Base {
    key: Labels,
    by_value: FxHashMap<String, usize>,
}

/// `count_values(label, input)` with `grouping` (`by`, or `without` when `without`) at every
/// step of `steps` (the input's points are at those times, in time order); the error of a
/// label name Prometheus does not take.
pub fn count_values(label: &str, grouping: &[String], without: bool, input: &Matrix, steps: &[i64]) -> Result<Matrix, EvalError> {
    check_value_label(label)?;
    let mut names = grouping.to_vec();
    if !without {
        names.push(label.to_string());
    }
    let by = Grouping { names: &names, without };
    // Whether the value label is in the output (`without` may drop it): when it is not, a
    // base's samples all count in one group, found under "" (no value formats as "").
    let labelled = by.keeps(label);
    let mut index: FxHashMap<u64, Vec<usize>> = FxHashMap::default();
    let mut bases: Vec<Base> = Vec::new();
    let mut groups: Vec<Group> = Vec::new();
    let mut text = String::new();
    for (i, series) in input.iter().enumerate() {
        let mut metric = series.labels.clone();
        metric.remove(label);
        let hash = by.hash(&metric);
        let found = index.get(&hash).and_then(|under| under.iter().copied().find(|&b| by.is_in(&metric, &bases[b].key)));
        let base = found.unwrap_or_else(|| {
            index.entry(hash).or_default().push(bases.len());
            bases.push(Base { key: by.key(&metric), by_value: FxHashMap::default() });
            bases.len() - 1
        });
        // The group of the series' previous sample, and that sample's value bits.
        let mut previous: Option<(u64, usize)> = None;
        let mut points = series.points.iter().peekable();
        for (k, &ts) in steps.iter().enumerate() {
            let Some(p) = points.next_if(|p| p.t == ts) else { continue };
            let gi = match previous {
                Some((bits, gi)) if bits == p.v.to_bits() => gi,
                _ => {
                    text.clear();
                    if labelled {
                        text.push_str(&go_format_f(p.v));
                    }
                    let base = &mut bases[base];
                    let gi = match base.by_value.get(text.as_str()) {
                        Some(&gi) => gi,
                        None => {
                            let mut labels = base.key.clone();
                            if labelled {
                                labels.set(label, &text);
                            }
                            base.by_value.insert(text.clone(), groups.len());
                            groups.push(Group { labels, counts: Counts::Steps(Vec::new()), first: (usize::MAX, usize::MAX) });
                            groups.len() - 1
                        }
                    };
                    previous = Some((p.v.to_bits(), gi));
                    gi
                }
            };
            let g = &mut groups[gi];
            g.counts.add(k, steps.len());
            g.first = g.first.min((k, i));
            if points.peek().is_none() {
                break;
            }
        }
    }
    groups.sort_by_key(|g| g.first);
    Ok(groups.into_iter().map(|g| Series { labels: g.labels, points: g.counts.points(steps) }).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::promql::aggregate::AggParam;
    use crate::promql::plan::AggOp;
    use crate::promql::testing::{l, step_by_step};

    #[test]
    fn every_step_at_once_equals_step_by_step() {
        let (inf, nan) = (Some(f64::INFINITY), Some(f64::NAN));
        let steps = [0, 10, 20, 30, 40, 50];
        let row = |labels: &str, values: [Option<f64>; 6]| Series { labels: l(labels), points: steps.iter().zip(values).filter_map(|(&t, v)| v.map(|v| Point { t, v })).collect() };
        let (zero, one, two) = (Some(0.0), Some(1.0), Some(2.0));
        // Values repeated within and across series, changing and coming back; NaN, ±Inf, -0;
        // gaps; a series that has the value label already. The n series take value 2 only at
        // steps before the others do (a group's steps out of order).
        let input = vec![
            row(r#"m{i="1", job="b"}"#, [None, None, one, two, one, one]),
            row(r#"m{i="2", job="a"}"#, [one, nan, None, inf, one, nan]),
            row(r#"m{i="3", job="b", value="x"}"#, [Some(0.1), None, one, Some(-f64::INFINITY), one, Some(3.0)]),
            row(r#"m{i="4", job="a"}"#, [zero, Some(-0.0), Some(1e21), inf, one, Some(-f64::INFINITY)]),
            row(r#"m{i="5", job="c"}"#, [None, None, None, Some(5.0), one, None]),
            row(r#"n{i="6", job="a"}"#, [two, Some(3.0), one, None, one, nan]),
            row(r#"n{i="7", job="b"}"#, [two, two, None, None, one, Some(3.0)]),
        ];
        let bits = |m: &Matrix| m.iter().map(|s| (s.labels.to_string(), s.points.iter().map(|p| (p.t, p.v.to_bits())).collect::<Vec<_>>())).collect::<Vec<_>>();
        let strs = |x: &[&str]| x.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let groupings = [(strs(&["job"]), false), (vec![], false), (strs(&["i"]), true), (strs(&["i", "value"]), true), (strs(&["nosuch"]), true), (strs(&["value"]), false)];
        for label in ["value", "job", "i", "__name__", "other"] {
            for (grouping, without) in &groupings {
                let case = format!("{label} {grouping:?} without={without}");
                let (want, error) = step_by_step(AggOp::CountValues, grouping, *without, &|_| AggParam::Label(label.to_string()), &input, &steps);
                assert_eq!(error, None, "{case}");
                let got = count_values(label, grouping, *without, &input, &steps).unwrap_or_else(|e| panic!("{case}: {e:?}"));
                assert_eq!(bits(&got), bits(&want), "{case}");
            }
        }
        // A value seen once has a series of its own, with its one point.
        let got = count_values("value", &[], false, &input, &steps).unwrap();
        let once = got.iter().find(|s| s.labels.get("value") == "1000000000000000000000").expect("1e21 as Go's 'f' format writes it");
        assert_eq!(once.points, vec![Point { t: 20, v: 1.0 }]);
        // A label name Prometheus does not take fails, as at every step.
        let (_, want) = step_by_step(AggOp::CountValues, &[], false, &|_| AggParam::Label("1x".to_string()), &input, &steps);
        let got = count_values("1x", &[], false, &input, &steps).map(|_| ()).map_err(|e| format!("{e:?}"));
        assert_eq!(got.err(), want);
        assert_eq!(want.as_deref(), Some(r#"Execution("invalid label name \"1x\"")"#));
    }
}
