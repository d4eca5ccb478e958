//! Tests of rate, increase, delta, irate, idelta, deriv, predict_linear, holt_winters,
//! resets and changes. Expected values are from Prometheus v2.42.0
//! promql/testdata/functions.test (cited by their `eval` line) or computed by hand.

use super::testutil::*;
use crate::promql::error::EvalError;

fn http_requests_resets() -> Vec<(&'static str, crate::promql::value::Series)> {
    // functions.test: load 5m http_requests{path="/foo"} 1 2 3 0 1 0 0 1 2 0, ...
    vec![
        ("/foo", series(&[("path", "/foo")], 5 * M, &[1., 2., 3., 0., 1., 0., 0., 1., 2., 0.])),
        ("/bar", series(&[("path", "/bar")], 5 * M, &[1., 2., 3., 4., 5., 1., 2., 3., 4., 5.])),
        ("/biz", series(&[("path", "/biz")], 5 * M, &[0., 0., 0., 0., 0., 1., 1., 1., 1., 1.])),
    ]
}

#[test]
fn resets_functions_test() {
    // eval instant at 50m resets(http_requests[5m|20m|30m|50m])
    let want = [(5, [0., 0., 0.]), (20, [1., 0., 0.]), (30, [2., 1., 0.]), (50, [3., 1., 0.])];
    for (range, vals) in want {
        for ((_, s), v) in http_requests_resets().iter().zip(vals) {
            assert_eq!(range_fn("resets", 50 * M, range * M, 0, s, &[], &[]), Some(v), "[{range}m]");
        }
    }
}

#[test]
fn changes_functions_test() {
    // eval instant at 50m changes(http_requests[5m|20m|30m|50m])
    let want = [(5, [0., 0., 0.]), (20, [3., 3., 0.]), (30, [4., 5., 1.]), (50, [8., 9., 1.])];
    for (range, vals) in want {
        for ((_, s), v) in http_requests_resets().iter().zip(vals) {
            assert_eq!(range_fn("changes", 50 * M, range * M, 0, s, &[], &[]), Some(v), "[{range}m]");
        }
    }
    // eval instant at 15m changes(x[15m]): NaN to NaN is no change.
    let b = series(&[("a", "b")], 5 * M, &[f64::NAN, f64::NAN, f64::NAN]);
    let c = series(&[("a", "c")], 5 * M, &[0., f64::NAN, 0.]);
    assert_eq!(range_fn("changes", 15 * M, 15 * M, 0, &b, &[], &[]), Some(0.));
    assert_eq!(range_fn("changes", 15 * M, 15 * M, 0, &c, &[], &[]), Some(2.));
}

#[test]
fn increase_functions_test() {
    let foo = series(&[("path", "/foo")], 5 * M, &seq(0., 10., 10));
    let bar = series(&[("path", "/bar")], 5 * M, &[seq(0., 10., 5), seq(0., 10., 5)].concat());
    for range in [50 * M, 100 * M] {
        // eval instant at 50m increase(http_requests[50m]) / [100m]
        assert_close(range_fn("increase", 50 * M, range, 0, &foo, &[], &[]).unwrap(), 100., 1e-12);
        assert_close(range_fn("increase", 50 * M, range, 0, &bar, &[], &[]).unwrap(), 90., 1e-12);
    }
    // Counter reset: 0 1 2 3 2 3 4; eval instant at 30m increase(http_requests[30m]) -> 7
    let reset = series(&[("path", "/foo")], 5 * M, &[0., 1., 2., 3., 2., 3., 4.]);
    assert_close(range_fn("increase", 30 * M, 30 * M, 0, &reset, &[], &[]).unwrap(), 7., 1e-12);
}

#[test]
fn rate_functions_test() {
    let middle = series(&[], 5 * M, &[seq(0., 10., 4), seq(0., 10., 5)].concat());
    let end = series(&[], 5 * M, &[seq(0., 10., 9), vec![0., 10.]].concat());
    // eval instant at 50m rate(testcounter_reset_middle[50m]) -> 0.03
    assert_close(range_fn("rate", 50 * M, 50 * M, 0, &middle, &[], &[]).unwrap(), 0.03, 1e-12);
    // eval instant at 50m rate(testcounter_reset_end[5m]) -> 0
    assert_eq!(range_fn("rate", 50 * M, 5 * M, 0, &end, &[], &[]), Some(0.));
    // eval instant at 50m rate(calculate_rate_window[50m]) -> 0.26666666666666666
    let window = series(&[], 5 * M, &seq(0., 80., 10));
    assert_close(range_fn("rate", 50 * M, 50 * M, 0, &window, &[], &[]).unwrap(), 0.26666666666666666, 1e-15);
    // eval instant at 50m rate(calculate_rate_offset[10m] offset 5m)
    let a = series(&[("x", "a")], 5 * M, &seq(0., 10., 10));
    let b = series(&[("x", "b")], 5 * M, &seq(0., 20., 10));
    assert_close(range_fn("rate", 50 * M, 10 * M, 5 * M, &a, &[], &[]).unwrap(), 0.03333333333333333, 1e-15);
    assert_close(range_fn("rate", 50 * M, 10 * M, 5 * M, &b, &[], &[]).unwrap(), 0.06666666666666667, 1e-15);
}

#[test]
fn rate_extrapolation_zero_cutoff_functions_test() {
    // load 4m testcounter_zero_cutoff{start="Nm"} (N*60)+240x10
    let want_10m = [0.5, 0.55, 0.6, 0.65, 0.7, 0.6];
    for (n, want) in want_10m.iter().enumerate() {
        let s = series(&[("start", "x")], 4 * M, &seq(60. * n as f64, 240., 10));
        // eval instant at 10m rate(testcounter_zero_cutoff[20m]): zero cutoff on the left.
        assert_close(range_fn("rate", 10 * M, 20 * M, 0, &s, &[], &[]).unwrap(), *want, 1e-12);
        // eval instant at 50m rate(testcounter_zero_cutoff[20m]): half-interval cutoff.
        assert_close(range_fn("rate", 50 * M, 20 * M, 0, &s, &[], &[]).unwrap(), 0.6, 1e-12);
    }
}

#[test]
fn delta_and_rate_by_hand() {
    // delta of 0 50 100 150 200 at 20m [20m] is 200 (functions.test), reversed -200.
    let up = series(&[], 5 * M, &[0., 50., 100., 150., 200.]);
    let down = series(&[], 5 * M, &[200., 150., 100., 50., 0.]);
    assert_close(range_fn("delta", 20 * M, 20 * M, 0, &up, &[], &[]).unwrap(), 200., 1e-12);
    assert_close(range_fn("delta", 20 * M, 20 * M, 0, &down, &[], &[]).unwrap(), -200., 1e-12);
    // By hand: points 10@30s, 20@60s, 35@90s in [0s, 120s]. delta: result 25, sampled 60s,
    // average 30s, threshold 33s; to start 30s < 33 (extrapolate 30s), to end 30s < 33
    // (extrapolate 30s): 25 * 120/60 = 50. rate: same / 120s. increase with the zero point
    // at 60s * 10/25 = 24s < 30s: 25 * (60+24+30)/60 = 47.5.
    let s = series(&[], 30 * S, &[f64::NAN, 10., 20., 35.]);
    let s = crate::promql::value::Series { labels: s.labels, points: s.points[1..].to_vec() };
    assert_close(range_fn("delta", 120 * S, 120 * S, 0, &s, &[], &[]).unwrap(), 50., 1e-12);
    assert_close(range_fn("rate", 120 * S, 120 * S, 0, &s, &[], &[]).unwrap(), 47.5 / 120., 1e-12);
    assert_close(range_fn("increase", 120 * S, 120 * S, 0, &s, &[], &[]).unwrap(), 47.5, 1e-12);
    // A single point gives nothing.
    let one = series(&[], 5 * M, &[1.]);
    assert_eq!(range_fn("rate", 0, 5 * M, 0, &one, &[], &[]), None);
}

#[test]
fn irate_idelta_functions_test() {
    let foo = series(&[("path", "/foo")], 5 * M, &seq(0., 10., 10));
    let bar = series(&[("path", "/bar")], 5 * M, &[seq(0., 10., 5), seq(0., 10., 5)].concat());
    // eval instant at 50m irate(http_requests[50m])
    assert_close(range_fn("irate", 50 * M, 50 * M, 0, &foo, &[], &[]).unwrap(), 0.03333333333333333, 1e-15);
    assert_close(range_fn("irate", 50 * M, 50 * M, 0, &bar, &[], &[]).unwrap(), 0.03333333333333333, 1e-15);
    // eval instant at 30m irate(http_requests[50m]): counter reset on /bar.
    assert_close(range_fn("irate", 30 * M, 50 * M, 0, &foo, &[], &[]).unwrap(), 0.03333333333333333, 1e-15);
    assert_eq!(range_fn("irate", 30 * M, 50 * M, 0, &bar, &[], &[]), Some(0.));
    // eval instant at 20m idelta(http_requests[20m])
    let f = series(&[("path", "/foo")], 5 * M, &[0., 50., 100., 150.]);
    let b = series(&[("path", "/bar")], 5 * M, &[0., 50., 100., 50.]);
    assert_eq!(range_fn("idelta", 20 * M, 20 * M, 0, &f, &[], &[]), Some(50.));
    assert_eq!(range_fn("idelta", 20 * M, 20 * M, 0, &b, &[], &[]), Some(-50.));
}

#[test]
fn deriv_predict_linear_functions_test() {
    let middle = series(&[], 5 * M, &[seq(0., 10., 4), seq(0., 10., 5)].concat());
    let canary = series(&[("job", "app-server")], 5 * M, &seq(0., 80., 10));
    // eval instant at 50m deriv(http_requests{...}[50m]) -> 0.26666666666666666
    assert_close(range_fn("deriv", 50 * M, 50 * M, 0, &canary, &[], &[]).unwrap(), 0.26666666666666666, 1e-15);
    // eval instant at 50m deriv(testcounter_reset_middle[100m]) -> 0.010606060606060607
    assert_close(range_fn("deriv", 50 * M, 100 * M, 0, &middle, &[], &[]).unwrap(), 0.010606060606060607, 1e-15);
    // eval instant at 50m predict_linear(testcounter_reset_middle[100m], 3600) -> 76.81818181818181
    assert_close(range_fn("predict_linear", 50 * M, 100 * M, 0, &middle, &[], &[3600.]).unwrap(), 76.81818181818181, 1e-15);
    // `@ 3000` at 10m and 70m: the same points, the intercept at the evaluation time.
    let at = |ts: i64| range_fn("predict_linear", ts, 100 * M, ts - 50 * M, &middle, &[], &[3600.]).unwrap();
    assert_close(at(10 * M), 51.36363636363637, 1e-15);
    assert_close(at(70 * M), 89.54545454545455, 1e-15);
    // Constant series: slope 0; an infinite constant gives NaN.
    let flat = series(&[], 5 * M, &[3., 3., 3.]);
    assert_eq!(range_fn("deriv", 10 * M, 10 * M, 0, &flat, &[], &[]), Some(0.));
    let inf = series(&[], 5 * M, &[f64::INFINITY; 3]);
    assert!(range_fn("deriv", 10 * M, 10 * M, 0, &inf, &[], &[]).unwrap().is_nan());
}

#[test]
fn holt_winters_functions_test() {
    // load 10s; eval instant at 8000s holt_winters(http_requests[1m], 0.01, 0.1)
    let cases: [(Vec<f64>, f64); 6] = [
        ([seq(0., 10., 1000), seq(100., 30., 1000)].concat(), 8000.),
        ([seq(0., 20., 1000), seq(200., 30., 1000)].concat(), 16000.),
        ([seq(0., 30., 1000), seq(300., 80., 1000)].concat(), 24000.),
        (seq(0., 40., 2000), 32000.),
        (seq(8000., -10., 1000), 0.),
        (seq(0., -20., 1000), -16000.),
    ];
    for (values, want) in cases {
        let s = series(&[], 10 * S, &values);
        let got = range_fn("holt_winters", 8000 * S, M, 0, &s, &[], &[0.01, 0.1]).unwrap();
        assert_close(got, want, 1e-12);
    }
    // By hand, sf 0.5, tf 0.5 on 1 3 4: s1=1 b=2; i=1: b=2 (trend of index 0), s1=.5*3+.5*(1+2)=3;
    // i=2: b=.5*(3-1)+.5*2=2, s1=.5*4+.5*(3+2)=4.5.
    let s = series(&[], 10 * S, &[1., 3., 4.]);
    assert_eq!(range_fn("holt_winters", 20 * S, M, 0, &s, &[], &[0.5, 0.5]), Some(4.5));
}

#[test]
fn holt_winters_invalid_factors() {
    let s = series(&[], 10 * S, &[1., 2.]);
    let m = crate::promql::value::Value::Matrix(vec![s]);
    let run = |sf: f64, tf: f64| call("holt_winters", 10 * S, vec![m.clone(), scalar(sf), scalar(tf)], vec![], M, 0);
    assert_eq!(
        run(1., 0.5),
        Err(EvalError::Execution("invalid smoothing factor. Expected: 0 < sf < 1, got: 1.000000".into()))
    );
    assert_eq!(
        run(0.5, f64::NEG_INFINITY),
        Err(EvalError::Execution("invalid trend factor. Expected: 0 < tf < 1, got: -Inf".into()))
    );
    // Nothing to smooth: no error (Prometheus does not call the function).
    let empty = crate::promql::value::Value::Matrix(vec![]);
    assert_eq!(call("holt_winters", 0, vec![empty, scalar(2.), scalar(2.)], vec![], M, 0), Ok(vec![]));
}
