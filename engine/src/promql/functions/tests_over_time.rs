//! Tests of the `*_over_time` functions. Expected values are from Prometheus v2.42.0
//! promql/testdata/functions.test and staleness.test (cited by their `eval` line) or
//! computed by hand.

use super::testutil::*;
use crate::promql::value::{Point, Series, Value};

const INF: f64 = f64::INFINITY;
const NAN: f64 = f64::NAN;

fn at_1m(name: &str, values: &[f64]) -> f64 {
    let s = series(&[], 10 * S, values);
    range_fn(name, M, M, 0, &s, &[], &[]).unwrap()
}

#[test]
fn avg_over_time_functions_test() {
    // eval instant at 1m avg_over_time(metricN[1m])
    let big = 9.988465674311579e+307;
    let cases: [(&[f64], f64); 14] = [
        (&[1., 2., 3., 4., 5.], 3.),
        (&[1., 2., 3., 4., INF], INF),
        (&[1., 2., 3., 4., -INF], -INF),
        (&[1., 2., 3., INF, -INF], NAN),
        (&[INF, 0., INF], INF),
        (&[INF, 0., INF], INF),
        (&[INF, INF, INF, -INF], NAN),
        (&[1., 2., 3., -INF, -INF], -INF),
        (&[-INF, 0., -INF], -INF),
        (&[-INF, -INF, -INF, INF], NAN),
        (&[1., 2., -INF, -INF, INF], NAN),
        (&[big, big], big),
        (&[-big, -big, -big], -big),
        (&[-big, big], 0.),
    ];
    for (values, want) in cases {
        assert_close(at_1m("avg_over_time", values), want, 1e-15);
    }
}

#[test]
fn sum_and_count_over_time_functions_test() {
    // sum_over_time(metric[1m])/count_over_time(metric[1m]) -> 3
    assert_eq!(at_1m("sum_over_time", &[1., 2., 3., 4., 5.]), 15.);
    assert_eq!(at_1m("count_over_time", &[1., 2., 3., 4., 5.]), 5.);
    // The sum of metric8 overflows: Inf; metric4 (Inf and -Inf): NaN.
    let big = 9.988465674311579e+307;
    assert_eq!(at_1m("sum_over_time", &[big, big]), INF);
    assert!(at_1m("sum_over_time", &[1., 2., 3., INF, -INF]).is_nan());
    // Kahan: 1e100 + 1 - 1e100 is 1 (a plain sum gives 0).
    assert_eq!(at_1m("sum_over_time", &[1e100, 1., -1e100]), 1.);
    // staleness.test: load 10s metric 0 1 stale 2; eval instant at 30s
    // count_over_time(metric[1m]) -> 3 (the stale marker is dropped by the evaluator).
    let s = Series { labels: lbls(&[]), points: vec![Point { t: 0, v: 0. }, Point { t: 10 * S, v: 1. }, Point { t: 30 * S, v: 2. }] };
    assert_eq!(range_fn("count_over_time", 30 * S, M, 0, &s, &[], &[]), Some(3.));
}

#[test]
fn stddev_stdvar_over_time_functions_test() {
    // eval instant at 1m stdvar_over_time(metric[1m]) -> 10.56; stddev -> 3.249615
    assert_close(at_1m("stdvar_over_time", &[0., 8., 8., 2., 3.]), 10.56, 1e-12);
    assert_close(at_1m("stddev_over_time", &[0., 8., 8., 2., 3.]), 3.249615, 1e-6);
    // #4927: a constant series has variance exactly 0.
    let c = 1.5990505637277868;
    assert_eq!(at_1m("stdvar_over_time", &[c, c, c]), 0.);
    assert_eq!(at_1m("stddev_over_time", &[c, c, c]), 0.);
}

#[test]
fn quantile_over_time_functions_test() {
    // eval instant at 1m quantile_over_time(q, data[1m]) for "two samples", "three samples",
    // "uneven samples".
    let data: [&[f64]; 3] = [&[0., 1.], &[0., 1., 2.], &[0., 1., 4.]];
    let want: [(f64, [f64; 3]); 7] = [
        (0., [0., 0., 0.]),
        (0.5, [0.5, 1., 1.]),
        (0.75, [0.75, 1.5, 2.5]),
        (0.8, [0.8, 1.6, 2.8]),
        (1., [1., 2., 4.]),
        (-1., [-INF, -INF, -INF]),
        (2., [INF, INF, INF]),
    ];
    for (q, vals) in want {
        for (d, w) in data.iter().zip(vals) {
            let s = series(&[("test", "x")], 10 * S, d);
            assert_close(range_fn("quantile_over_time", M, M, 0, &s, &[q], &[]).unwrap(), w, 1e-12);
        }
    }
    // By hand: NaN sorts first (vectorByValueHeap), so with 1 NaN 2 the median is 1 and
    // the minimum is NaN*1 + 1*0 = NaN; q = NaN gives NaN.
    let s = series(&[], 10 * S, &[1., NAN, 2.]);
    assert_eq!(range_fn("quantile_over_time", M, M, 0, &s, &[0.5], &[]), Some(1.));
    assert!(range_fn("quantile_over_time", M, M, 0, &s, &[0.], &[]).unwrap().is_nan());
    assert_eq!(range_fn("quantile_over_time", M, M, 0, &s, &[1.], &[]), Some(2.));
    assert!(range_fn("quantile_over_time", M, M, 0, &s, &[NAN], &[]).unwrap().is_nan());
}

#[test]
fn min_max_last_over_time_functions_test() {
    // eval instant at 1m min_over_time / max_over_time / last_over_time (data[1m])
    let cases: [(&[f64], f64, f64, f64); 5] = [
        (&[2., 0., 3.], 0., 3., 3.),
        (&[2., 0., NAN], 0., 2., NAN),
        (&[2., NAN, 1.], 1., 2., 1.),
        (&[NAN, 0., 1.], 0., 1., 1.),
        (&[NAN, NAN, NAN], NAN, NAN, NAN),
    ];
    for (values, min, max, last) in cases {
        assert_close(at_1m("min_over_time", values), min, 0.);
        assert_close(at_1m("max_over_time", values), max, 0.);
        assert_close(at_1m("last_over_time", values), last, 0.);
    }
}

#[test]
fn last_over_time_keeps_the_labels() {
    let s = series(&[("__name__", "data"), ("type", "numbers")], 10 * S, &[2., 0., 3.]);
    let out = call("last_over_time", M, vec![Value::Matrix(vec![s.clone()])], vec![], M, 0).unwrap();
    assert_eq!(pairs(&out), vec![(s.labels, 3.)]);
}

#[test]
fn present_over_time_functions_test() {
    // eval instant at 5m present_over_time(http_requests[5m]) -> 1 per series.
    let s = series(&[("path", "/foo")], M, &seq(1., 1., 10));
    assert_eq!(range_fn("present_over_time", 5 * M, 5 * M, 0, &s, &[], &[]), Some(1.));
    // eval instant at 16m present_over_time(http_requests[5m]) -> nothing.
    assert_eq!(range_fn("present_over_time", 16 * M, 5 * M, 0, &s, &[], &[]), None);
}
