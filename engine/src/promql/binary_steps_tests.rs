//! The all-steps binary operators against the step-by-step ones (`range_eval` over
//! `binary::vector_binop` etc., the port of Prometheus 2.42's `VectorBinop`): the same series
//! in the same order, the same value bits, the same errors with the same texts, the same
//! samples held, over data with gaps, series that come and go, NaN and ±Inf. Where the
//! outcome is Prometheus' rule rather than a comparison (an error only when the conflicting
//! samples share a step), it is asserted as well.

use super::STEP_BY_STEP;
use crate::promql::error::EvalError;
use crate::promql::eval::{Evaluator, Limits};
use crate::promql::testing::{l, plan_over};
use crate::promql::value::{Point, Series, Value};
use std::time::{Duration, Instant};

/// Steps are 10 s apart and a sample is seen only at its own step.
const STEP: i64 = 10_000;
const LOOKBACK: i64 = 5_000;
const STEPS: i64 = 10;

/// A series with a value at each of the given steps.
fn s(labels: &str, points: &[(i64, f64)]) -> Series {
    Series { labels: l(labels), points: points.iter().map(|&(k, v)| Point { t: k * STEP, v }).collect() }
}

/// The same value at steps `from..=to`.
fn run(from: i64, to: i64, v: f64) -> Vec<(i64, f64)> {
    (from..=to).map(|k| (k, v + k as f64)).collect()
}

fn data() -> Vec<Series> {
    let (nan, inf) = (f64::NAN, f64::INFINITY);
    vec![
        s(r#"a{instance="1", job="node", mode="idle"}"#, &[(0, 1.0), (1, nan), (2, inf), (3, -inf), (4, 0.0), (5, -2.5), (6, 7.0), (8, 1e300), (9, 3.0)]),
        s(r#"a{instance="1", job="node", mode="user"}"#, &[(0, 2.0), (2, 0.1), (3, 0.2), (5, 5.0), (6, -0.0), (7, 9.0), (9, 4.0)]),
        s(r#"a{instance="2", job="node", mode="idle"}"#, &[(1, 3.0), (2, 3.0), (3, nan), (4, 4.0), (6, inf), (7, 2.0), (8, 8.0)]),
        s(r#"a{instance="2", job="node", mode="user"}"#, &[(4, 1.5), (5, 6.0), (6, 6.0), (9, -1.0)]),
        s(r#"c{instance="1", job="node", mode="idle"}"#, &[(0, 1.0), (1, 1.0), (2, inf), (3, 3.0), (5, 0.0), (6, 7.0), (7, 1.0), (9, nan)]),
        s(r#"c{instance="1", job="node", mode="user"}"#, &[(0, 3.0), (1, 2.0), (2, 0.3), (3, 0.2), (4, -1.0), (5, 5.0), (6, 0.0), (9, 4.0)]),
        s(r#"c{instance="2", job="node", mode="idle"}"#, &[(0, 2.0), (2, -inf), (3, 1.0), (4, 4.0), (8, 9.0), (9, 1.0)]),
        s(r#"c{instance="2", job="node", mode="user"}"#, &[(6, 6.0), (7, 1.0), (8, 2.0), (9, -1.0)]),
        // One series per instance at a time; instance 1's is replaced at step 5.
        s(r#"b{instance="1", job="node", pod="p1"}"#, &run(0, 4, 10.0)),
        s(r#"b{instance="1", job="node", pod="p2"}"#, &[(5, 2.0), (6, 0.0), (8, -3.0), (9, 1.0)]),
        s(r#"b{instance="2", job="node"}"#, &[(0, 1.0), (1, 2.0), (3, nan), (4, inf), (5, 0.0), (6, -inf), (7, 4.0), (8, 5.0), (9, 6.0)]),
        // Two series of instance 1 overlapping at step 5 only.
        s(r#"dup{instance="1", k="x"}"#, &run(0, 5, 1.0)),
        s(r#"dup{instance="1", k="y"}"#, &run(5, 9, 2.0)),
        // Absent at step 5.
        s(r#"e{instance="1"}"#, &[(0, 1.0), (1, 2.0), (2, 3.0), (3, 4.0), (7, 5.0), (8, 6.0), (9, 7.0)]),
        s(r#"m1{instance="1", mode="z"}"#, &run(0, 9, 1.0)),
        s(r#"m1{instance="2"}"#, &run(6, 9, 1.0)),
        // Two series of instance 1 that never share a step.
        s(r#"f{instance="1", mode="idle"}"#, &run(0, 4, 1.0)),
        s(r#"f{instance="1", mode="user"}"#, &run(5, 9, 1.0)),
    ]
}

/// What an evaluation gives: per series its labels and its points' times and value bits, in
/// the evaluator's order, and the samples held after it; or its error.
type Outcome = Result<(Vec<(String, Vec<(i64, u64)>)>, usize), EvalError>;

fn eval(q: &str, start: i64, end: i64, max_samples: usize, step_by_step: bool) -> Outcome {
    let (p, series) = plan_over(q, &data(), start, end, LOOKBACK);
    let limits = Limits { deadline: Instant::now() + Duration::from_secs(60), max_samples };
    let interval = if start == end { 1 } else { STEP };
    let mut ev = Evaluator { start, end, interval, lookback: LOOKBACK, series: &series, limits, current: 0 };
    STEP_BY_STEP.set(step_by_step);
    let value = ev.evaluate(&p.root);
    STEP_BY_STEP.set(false);
    let Value::Matrix(m) = value? else { panic!("{q}: not a matrix") };
    let m = m.iter().map(|s| (s.labels.to_string(), s.points.iter().map(|p| (p.t, p.v.to_bits())).collect())).collect();
    Ok((m, ev.current))
}

/// Evaluates `q` both ways over all steps and then at each step alone, asserts they agree,
/// and gives the range answer.
fn same(q: &str, max_samples: usize) -> Outcome {
    let range = eval(q, 0, (STEPS - 1) * STEP, max_samples, false);
    assert_eq!(range, eval(q, 0, (STEPS - 1) * STEP, max_samples, true), "{q} (range, max {max_samples})");
    for k in 0..STEPS {
        let t = k * STEP;
        assert_eq!(eval(q, t, t, max_samples, false), eval(q, t, t, max_samples, true), "{q} (at step {k}, max {max_samples})");
    }
    range
}

const ARITHMETIC: [&str; 7] = ["+", "-", "*", "/", "%", "^", "atan2"];
const COMPARISON: [&str; 6] = ["==", "!=", ">", "<", ">=", "<="];

/// Matchings with which `a <op> <rhs>` (or the sides swapped) matches something.
const MATCHINGS: [(&str, &str, &str); 12] = [
    ("a", "", "c"),
    ("a", "on(instance, mode)", "c"),
    ("a", "ignoring(job)", "c"),
    ("a", "on(instance) group_left", "b"),
    ("a", "on(instance) group_left(pod)", "b"),
    ("a", "ignoring(mode, pod) group_left(pod)", "b"),
    ("b", "on(instance) group_right", "a"),
    ("b", "on(instance) group_right(pod, nosuch)", "a"),
    ("b", "ignoring(pod, mode) group_right(job)", "a"),
    ("(a + c)", "on(instance) group_left", "b"),
    ("sum by (instance) (a)", "on(instance)", "b"),
    ("-a", "on(instance, mode) group_right", "c"),
];

#[test]
fn arithmetic_and_comparisons_equal_step_by_step() {
    for (lhs, matching, rhs) in MATCHINGS {
        for op in ARITHMETIC.iter().chain(&COMPARISON) {
            let q = format!("{lhs} {op} {matching} {rhs}");
            let answer = same(&q, 10_000).unwrap_or_else(|e| panic!("{q}: {e:?}"));
            assert!(!answer.0.is_empty() || COMPARISON.contains(op), "{q} matches nothing");
        }
        for op in COMPARISON {
            let q = format!("{lhs} {op} bool {matching} {rhs}");
            same(&q, 10_000).unwrap_or_else(|e| panic!("{q}: {e:?}"));
        }
    }
}

#[test]
fn set_operators_equal_step_by_step() {
    let pairs = [("a", "", "c"), ("a", "on(instance)", "b"), ("b", "on(instance)", "a"), ("a", "ignoring(mode)", "c"), ("a", "on(instance)", "dup"), ("e", "on(nosuch)", "dup")];
    for (lhs, matching, rhs) in pairs {
        for op in ["and", "or", "unless"] {
            let q = format!("{lhs} {op} {matching} {rhs}");
            same(&q, 10_000).unwrap_or_else(|e| panic!("{q}: {e:?}"));
        }
    }
    // An empty side.
    for q in ["a and nosuch", "nosuch and a", "a or nosuch", "nosuch or a", "a unless nosuch", "nosuch unless a", "nosuch + a", "a + nosuch"] {
        same(q, 10_000).unwrap_or_else(|e| panic!("{q}: {e:?}"));
    }
}

fn error_of(q: &str) -> String {
    match same(q, 10_000) {
        Err(EvalError::Execution(e)) => e,
        other => panic!("{q}: not an execution error: {other:?}"),
    }
}

#[test]
fn errors_equal_step_by_step_and_only_where_the_conflict_shares_a_step() {
    // Two lhs series of instance 1 matching b's one at step 0.
    assert_eq!(error_of("a + on(instance) b"), "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)");
    // dup's two series meet at step 5, where a has instance 1 too (labels printed as Go's
    // `Labels.String`).
    let found = r#"found duplicate series for the match group {instance="1"} on the right hand-side of the operation: [{__name__="dup", instance="1", k="y"}, {__name__="dup", instance="1", k="x"}];many-to-many matching not allowed: matching labels must be unique on one side"#;
    assert_eq!(error_of("a * on(instance) group_left dup"), found);
    assert_eq!(error_of("dup * on(instance) group_right a"), found.replace("right hand-side", "left hand-side"));
    // e has no sample at step 5, so the duplicate never matters.
    same("e * on(instance) group_left dup", 10_000).unwrap();
    same("dup * on(instance) group_right e", 10_000).unwrap();
    // group_left(mode) takes m1's mode for both of a's instance-1 series.
    assert_eq!(error_of("a * on(instance) group_left(mode) m1"), "multiple matches for labels: grouping labels must ensure unique matches");
    // f's two series never share a step.
    same("f * on(instance) group_left(mode) m1", 10_000).unwrap();
    same("f + on(instance) m1", 10_000).unwrap();
    // a and c of the same instance and mode lose their names: the same output labels.
    let both = r#"{__name__=~"a|c"}"#;
    assert_eq!(error_of(&format!("{both} - on(__name__, instance, mode) {both}")), "vector cannot contain metrics with the same labelset");
    // A comparison keeps the names; only the bool form drops them.
    same(&format!("{both} > on(__name__, instance, mode) {both}"), 10_000).unwrap();
    assert_eq!(error_of(&format!("{both} > bool on(__name__, instance, mode) {both}")), "vector cannot contain metrics with the same labelset");
    assert_eq!(error_of(&format!("{both} - on(instance, mode) group_left c")), "multiple matches for labels: grouping labels must ensure unique matches");
}

#[test]
fn the_sample_limit_is_met_at_the_same_step() {
    for q in ["a / on(instance) group_left(pod) b", "a or c", "a unless on(instance) b", "a > bool c"] {
        let failed = (0..120).filter(|&max| same(q, max).is_err()).count();
        assert!(failed > 0 && failed < 120, "{q}: the limit met at {failed} of 120 maxima");
    }
}
