//! The evaluator's selectors, lookback, staleness, offset, `@` and subquery steps on a small
//! series, with the answers worked out by hand from Prometheus 2.42's rules.

use super::build::{plan, Span};
use super::testing::plan_over;
use super::eval::Limits;
use super::run::{run, Steps};
use super::value::{Labels, Point, Sample, Series, Stored, Value, STALE_NAN_BITS};
use std::time::{Duration, Instant};

const LOOKBACK: i64 = 300_000;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::new(pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect())
}

/// `x{job="a"}`: 1, 2, 3 at 0 s, 60 s, 120 s. `y{job="b"}`: 5 at 0 s, a staleness marker at 60 s.
fn data() -> Vec<Series> {
    let p = |t: i64, v: f64| Point { t: t * 1000, v };
    vec![
        Series { labels: labels(&[("__name__", "x"), ("job", "a")]), points: vec![p(0, 1.0), p(60, 2.0), p(120, 3.0)] },
        Series { labels: labels(&[("__name__", "y"), ("job", "b")]), points: vec![p(0, 5.0), p(60, f64::from_bits(STALE_NAN_BITS))] },
    ]
}

fn stored() -> Vec<Stored> {
    data().into_iter().map(|s| Stored::decoded(s.labels, s.points)).collect()
}

/// Evaluates `q` as Prometheus would, with the reads answered from `data()`.
fn eval(q: &str, start_s: i64, end_s: i64, step_s: i64) -> Value {
    let (start, end) = (start_s * 1000, end_s * 1000);
    let (p, series) = plan_over(q, &data(), start, end, LOOKBACK);
    let limits = Limits { deadline: Instant::now() + Duration::from_secs(10), max_samples: 1000 };
    run(&p, &series, Steps { start, end, step: step_s * 1000, lookback: LOOKBACK }, limits).unwrap()
}

fn instant(q: &str, at_s: i64) -> Vec<(Labels, f64)> {
    match eval(q, at_s, at_s, 0) {
        Value::Vector(v) => v.into_iter().map(|Sample { labels, point }| (labels, point.v)).collect(),
        other => panic!("{q}: not a vector: {other:?}"),
    }
}

fn x() -> Labels {
    labels(&[("__name__", "x"), ("job", "a")])
}

#[test]
fn an_instant_selector_takes_the_newest_sample_within_the_lookback() {
    assert_eq!(instant("x", 100), vec![(x(), 2.0)]);
    assert_eq!(instant("x", 420), vec![(x(), 3.0)], "a sample exactly 5 m old still counts");
    assert_eq!(instant("x", 421), vec![]);
}

#[test]
fn a_staleness_marker_ends_the_series_at_once() {
    assert_eq!(instant("y", 59), vec![(labels(&[("__name__", "y"), ("job", "b")]), 5.0)]);
    assert_eq!(instant("y", 90), vec![]);
}

#[test]
fn offset_and_at_move_the_reference_time() {
    assert_eq!(instant("x offset 1m", 100), vec![(x(), 1.0)]);
    assert_eq!(instant("x offset -1m", 10), vec![(x(), 2.0)]);
    assert_eq!(instant("x @ 120", 1000), vec![(x(), 3.0)]);
    assert_eq!(instant("x @ 120 offset 1m", 1000), vec![(x(), 2.0)]);
    assert_eq!(instant("x @ start()", 70), vec![(x(), 2.0)]);
}

#[test]
fn a_range_vector_holds_both_ends_of_its_window() {
    let Value::Matrix(m) = eval("x[2m]", 120, 120, 0) else { panic!("not a matrix") };
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].points.iter().map(|p| (p.t, p.v)).collect::<Vec<_>>(), vec![(0, 1.0), (60_000, 2.0), (120_000, 3.0)]);
}

#[test]
fn a_range_query_has_one_point_per_step() {
    let Value::Matrix(m) = eval("x", 0, 180, 60) else { panic!("not a matrix") };
    assert_eq!(m[0].points.iter().map(|p| (p.t / 1000, p.v)).collect::<Vec<_>>(), vec![(0, 1.0), (60, 2.0), (120, 3.0), (180, 3.0)]);
}

#[test]
fn subquery_steps_are_aligned_to_multiples_of_the_step() {
    let Value::Matrix(m) = eval("x[3m:1m]", 150, 150, 0) else { panic!("not a matrix") };
    assert_eq!(m[0].points.iter().map(|p| (p.t / 1000, p.v)).collect::<Vec<_>>(), vec![(0, 1.0), (60, 2.0), (120, 3.0)]);
    let Value::Matrix(m) = eval("x[100s:40s]", 130, 130, 0) else { panic!("not a matrix") };
    assert_eq!(m[0].points.iter().map(|p| (p.t / 1000, p.v)).collect::<Vec<_>>(), vec![(40, 1.0), (80, 2.0), (120, 3.0)]);
}

#[test]
fn a_range_query_of_a_range_vector_is_refused() {
    let p = plan("x[1m]", Span { start: 0, end: 60_000, lookback: LOOKBACK }).unwrap();
    let limits = Limits { deadline: Instant::now() + Duration::from_secs(10), max_samples: 1000 };
    let err = run(&p, &[stored()], Steps { start: 0, end: 60_000, step: 1000, lookback: LOOKBACK }, limits).unwrap_err();
    assert_eq!(err.to_string(), "invalid expression type \"range vector\" for range query, must be Scalar or instant Vector");
}

#[test]
fn the_sample_limit_stops_the_query() {
    let p = plan("x", Span { start: 0, end: 180_000, lookback: LOOKBACK }).unwrap();
    let limits = Limits { deadline: Instant::now() + Duration::from_secs(10), max_samples: 3 };
    let err = run(&p, &[stored()], Steps { start: 0, end: 180_000, step: 60_000, lookback: LOOKBACK }, limits).unwrap_err();
    assert!(matches!(err, super::error::EvalError::TooManySamples(_)), "{err:?}");
}

#[test]
fn holt_winters_is_known_by_its_2_42_name_only() {
    let Value::Vector(v) = eval("holt_winters(x[3m], 0.5, 0.5)", 120, 120, 0) else { panic!("not a vector") };
    assert_eq!(v.len(), 1);
    // Worked by hand (functions.go funcHoltWinters): s1 = 2, b = 1; at 3: x = 0.5*3 + 0.5*(2+1) = 3.
    assert_eq!(v[0].point.v, 3.0);
    let p = plan("double_exponential_smoothing(x[3m], 0.5, 0.5)", Span { start: 0, end: 0, lookback: LOOKBACK });
    assert!(matches!(p, Err(super::error::EvalError::BadData(ref m)) if m.contains("double_exponential_smoothing")), "{:?}", p.err());
}
