//! Helpers for the function tests: series as the `load` lines of Prometheus' .test files
//! write them, and `Call`s built by hand (the window selection the evaluator would do).

use super::{lookup, Call};
use crate::promql::error::EvalError;
use crate::promql::plan::{LabelMatcher, MatchOp, Node, Selector};
use crate::promql::value::{Labels, Point, Sample, Series, Value, Vector};

pub(super) const S: i64 = 1000;
pub(super) const M: i64 = 60 * S;

pub(super) fn lbls(pairs: &[(&str, &str)]) -> Labels {
    Labels::new(pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect())
}

/// `a+bxn` of a .test load line: a, a+b, ..., a+n·b.
pub(super) fn seq(start: f64, inc: f64, times: usize) -> Vec<f64> {
    (0..=times).map(|i| start + inc * i as f64).collect()
}

/// A loaded series: `values[i]` at `i * step` ms.
pub(super) fn series(labels: &[(&str, &str)], step: i64, values: &[f64]) -> Series {
    let points = values.iter().enumerate().map(|(i, &v)| Point { t: i as i64 * step, v }).collect();
    Series { labels: lbls(labels), points }
}

pub(super) fn selector(matchers: &[(&str, MatchOp, &str)]) -> Node {
    Node::Vector(Selector {
        id: 0,
        matchers: matchers
            .iter()
            .map(|(n, op, v)| LabelMatcher { name: n.to_string(), op: op.clone(), value: v.to_string() })
            .collect(),
        offset: 0,
        at: None,
    })
}

/// Calls `name` on `args` (nodes: `Node::Number` placeholders unless given).
pub(super) fn call(name: &str, ts: i64, args: Vec<Value>, nodes: Vec<Node>, range: i64, offset: i64) -> Result<Vector, EvalError> {
    let f = lookup(name).unwrap_or_else(|| panic!("no function {name}"));
    let mut nodes = nodes;
    while nodes.len() < args.len() {
        nodes.push(Node::Number(0.0));
    }
    f(&Call { ts, args: &args, nodes: &nodes, range, offset })
}

/// A range-vector function at `ts` over `s[range] offset offset`, with scalar arguments
/// `before` and `after` the range vector: the value, or None when there is no output (or no
/// point in the window, where Prometheus does not call the function).
pub(super) fn range_fn(name: &str, ts: i64, range: i64, offset: i64, s: &Series, before: &[f64], after: &[f64]) -> Option<f64> {
    let maxt = ts - offset;
    let mint = maxt - range;
    let points: Vec<Point> = s.points.iter().copied().filter(|p| p.t >= mint && p.t <= maxt).collect();
    if points.is_empty() {
        return None;
    }
    let mut args: Vec<Value> = before.iter().map(|&v| Value::Scalar(Point { t: ts, v })).collect();
    args.push(Value::Matrix(vec![Series { labels: s.labels.clone(), points }]));
    args.extend(after.iter().map(|&v| Value::Scalar(Point { t: ts, v })));
    let out = call(name, ts, args, vec![], range, offset).unwrap();
    assert!(out.len() <= 1);
    out.first().map(|smp| {
        assert_eq!(smp.point.t, ts);
        assert_eq!(smp.labels, s.labels);
        smp.point.v
    })
}

pub(super) fn vector(samples: &[(&[(&str, &str)], f64)]) -> Value {
    Value::Vector(samples.iter().map(|(l, v)| Sample { labels: lbls(l), point: Point { t: 0, v: *v } }).collect())
}

pub(super) fn scalar(v: f64) -> Value {
    Value::Scalar(Point { t: 0, v })
}

/// Asserts `got` is within `rel` (relative) of `want`; NaN equals NaN, infinities exactly.
pub(super) fn assert_close(got: f64, want: f64, rel: f64) {
    if want.is_nan() {
        assert!(got.is_nan(), "got {got}, want NaN");
    } else if want.is_infinite() || want == 0.0 {
        assert_eq!(got, want);
    } else {
        assert!(((got - want) / want).abs() <= rel, "got {got:?}, want {want:?}");
    }
}

/// The output as (labels, value) pairs, in order.
pub(super) fn pairs(v: &Vector) -> Vec<(Labels, f64)> {
    v.iter().map(|s| (s.labels.clone(), s.point.v)).collect()
}
