//! What the evaluator's tests share: label sets written as in Prometheus' .test files, a
//! comparison of vectors to 1e-9, a query planned with its reads answered from given series,
//! and an aggregation done the step-by-step way to compare the all-steps ones with.

use super::aggregate::{self, AggParam};
use super::build::{plan, Plan, Span};
use super::plan::AggOp;
use super::value::{Labels, Matrix, Point, Sample, Series, Stored, Vector};

/// The step time the operator and aggregation tests evaluate at.
pub const TS: i64 = 3_000_000;

/// `name{a="1", b="2"}` as in the .test files (values without quotes or commas).
pub fn l(s: &str) -> Labels {
    let (name, mut rest) = match s.find('{') {
        Some(i) => (&s[..i], &s[i + 1..s.len() - 1]),
        None => (s, ""),
    };
    let mut pairs = Vec::new();
    if !name.is_empty() {
        pairs.push(("__name__".to_string(), name.to_string()));
    }
    loop {
        rest = rest.trim_start_matches([',', ' ']);
        if rest.is_empty() {
            break;
        }
        let eq = rest.find('=').unwrap();
        let after = &rest[eq + 2..];
        let end = after.find('"').unwrap();
        pairs.push((rest[..eq].trim().to_string(), after[..end].to_string()));
        rest = &after[end + 1..];
    }
    Labels::new(pairs)
}

fn close(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

/// Compares as sets (sorted by labels), or in order when `ordered`.
pub fn check_as(mut got: Vector, want: &[(&str, f64)], ordered: bool) {
    let mut want: Vector = want.iter().map(|(s, v)| Sample { labels: l(s), point: Point { t: TS, v: *v } }).collect();
    if !ordered {
        got.sort_by(|a, b| a.labels.cmp(&b.labels));
        want.sort_by(|a, b| a.labels.cmp(&b.labels));
    }
    let show = |x: &Vector| x.iter().map(|s| format!("{} {}", s.labels, s.point.v)).collect::<Vec<_>>();
    assert_eq!(got.len(), want.len(), "got {:?} want {:?}", show(&got), show(&want));
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g.labels, w.labels, "got {:?} want {:?}", show(&got), show(&want));
        assert!(close(g.point.v, w.point.v), "{}: got {} want {}", g.labels, g.point.v, w.point.v);
        assert_eq!(g.point.t, TS);
    }
}

pub fn check(got: Vector, want: &[(&str, f64)]) {
    check_as(got, want, false)
}

/// Plans `q` for [start, end] and answers its reads from `data` as storage would: each read
/// gets the series whose labels satisfy all its matchers, in `data`'s order.
pub fn plan_over(q: &str, data: &[Series], start: i64, end: i64, lookback: i64) -> (Plan, Vec<Vec<Stored>>) {
    let p = plan(q, Span { start, end, lookback }).unwrap_or_else(|e| panic!("{q}: {e:?}"));
    let series = p
        .reads
        .iter()
        .map(|r| {
            let matchers: Vec<_> = r.matchers.iter().map(|m| (m.name.as_str(), super::matcher(m).unwrap())).collect();
            data.iter()
                .filter(|s| matchers.iter().all(|(name, m)| m.matches_value(s.labels.get(name))))
                .map(|s| Stored::decoded(s.labels.clone(), s.points.clone()))
                .collect()
        })
        .collect();
    (p, series)
}

/// The step-by-step answer of an aggregation: `aggregate::aggregate` at each step (with the
/// parameter `param(k)` at step k), gathered into series in the order they first appear, up to
/// the first step that fails (and its error).
pub fn step_by_step(op: AggOp, grouping: &[String], without: bool, param: &dyn Fn(usize) -> AggParam, input: &Matrix, steps: &[i64]) -> (Matrix, Option<String>) {
    let mut out: Matrix = Vec::new();
    for (k, &ts) in steps.iter().enumerate() {
        let vec: Vec<Sample> = input.iter().filter_map(|s| s.points.iter().find(|p| p.t == ts).map(|p| Sample { labels: s.labels.clone(), point: *p })).collect();
        let answer = match aggregate::aggregate(op, grouping, without, param(k), &vec, ts) {
            Ok(answer) => answer,
            Err(e) => return (out, Some(format!("{e:?}"))),
        };
        for s in answer {
            match out.iter_mut().find(|o| o.labels == s.labels) {
                Some(o) => o.points.push(s.point),
                None => out.push(Series { labels: s.labels, points: vec![s.point] }),
            }
        }
    }
    (out, None)
}
