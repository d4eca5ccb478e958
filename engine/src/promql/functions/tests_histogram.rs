//! Tests of histogram_quantile over classic buckets. Expected values are from Prometheus
//! v2.42.0 promql/testdata/histograms.test (cited by their `eval` line; bucket values are
//! the loaded series at the evaluation time) or computed by hand.

use super::testutil::*;
use crate::promql::value::{Labels, Value};

const INF: f64 = f64::INFINITY;
const NAN: f64 = f64::NAN;

fn buckets(rows: &[(&[(&str, &str)], f64)]) -> Value {
    vector(rows)
}

fn hq(q: f64, v: Value) -> Vec<(Labels, f64)> {
    pairs(&call("histogram_quantile", 50 * M, vec![scalar(q), v], vec![], 0, 0).unwrap())
}

/// testhistogram_bucket at 50m (0+5x10, 0+7x10, ... at index 10).
fn testhistogram() -> Value {
    buckets(&[
        (&[("__name__", "testhistogram_bucket"), ("le", "0.1"), ("start", "positive")], 50.),
        (&[("__name__", "testhistogram_bucket"), ("le", ".2"), ("start", "positive")], 70.),
        (&[("__name__", "testhistogram_bucket"), ("le", "1e0"), ("start", "positive")], 110.),
        (&[("__name__", "testhistogram_bucket"), ("le", "+Inf"), ("start", "positive")], 120.),
        (&[("__name__", "testhistogram_bucket"), ("le", "-.2"), ("start", "negative")], 10.),
        (&[("__name__", "testhistogram_bucket"), ("le", "-0.1"), ("start", "negative")], 20.),
        (&[("__name__", "testhistogram_bucket"), ("le", "0.3"), ("start", "negative")], 20.),
        (&[("__name__", "testhistogram_bucket"), ("le", "+Inf"), ("start", "negative")], 30.),
    ])
}

#[test]
fn testhistogram_histograms_test() {
    let pos = lbls(&[("start", "positive")]);
    let neg = lbls(&[("start", "negative")]);
    // eval instant at 50m histogram_quantile(q, testhistogram_bucket): (q, positive, negative)
    let cases = [(-0.1, -INF, -INF), (1.01, INF, INF), (NAN, NAN, NAN), (1., 1., 0.3), (0.2, 0.048, -0.2), (0.5, 0.15, -0.15), (0.8, 0.72, 0.3)];
    for (q, p, n) in cases {
        let out = hq(q, testhistogram());
        assert_eq!(out.len(), 2);
        assert_eq!((&out[0].0, &out[1].0), (&pos, &neg), "labels without le and __name__");
        assert_close(out[0].1, p, 1e-12);
        assert_close(out[1].1, n, 1e-12);
    }
    // histogram_quantile(0, ...{start="positive"}) -> 0; {start="negative"} -> -0.2
    let out = hq(0., testhistogram());
    assert_eq!([out[0].1, out[1].1], [0., -0.2]);
}

#[test]
fn testhistogram2_histograms_test() {
    // eval instant at 7m histogram_quantile(1./6. | 0.5 | 5./6., testhistogram2_bucket) -> 1, 3, 5
    let v = || buckets(&[(&[("le", "0")], 0.), (&[("le", "2")], 1.), (&[("le", "4")], 2.), (&[("le", "6")], 3.), (&[("le", "+Inf")], 3.)]);
    for (q, want) in [(1. / 6., 1.), (0.5, 3.), (5. / 6., 5.)] {
        assert_close(hq(q, v())[0].1, want, 1e-12);
    }
}

#[test]
fn aggregated_histograms_test() {
    // histogram_quantile(q, sum(rate(request_duration_seconds_bucket[5m])) by (le)) at 50m:
    // the summed rates are 10/300, 19/300, 25/300.
    let v = || buckets(&[(&[("le", "0.1")], 10. / 300.), (&[("le", "0.2")], 19. / 300.), (&[("le", "+Inf")], 25. / 300.)]);
    assert_close(hq(0.3, v())[0].1, 0.075, 1e-12);
    assert_close(hq(0.5, v())[0].1, 0.1277777777777778, 1e-12);
}

#[test]
fn nonmonotonic_histograms_test() {
    // eval instant at 50m histogram_quantile(q, nonmonotonic_bucket)
    let v = || {
        buckets(&[
            (&[("le", "0.1")], 20.),
            (&[("le", "1")], 10.),
            (&[("le", "10")], 50.),
            (&[("le", "100")], 40.),
            (&[("le", "1000")], 90.),
            (&[("le", "+Inf")], 80.),
        ])
    };
    assert_close(hq(0.01, v())[0].1, 0.0045, 1e-12);
    assert_close(hq(0.5, v())[0].1, 8.5, 1e-12);
    assert_close(hq(0.99, v())[0].1, 979.75, 1e-12);
}

#[test]
fn mixed_le_spellings_histograms_test() {
    // eval instant at 50m histogram_quantile(q, rate(mixed_bucket[5m]))
    let r = 1. / 300.;
    let v = || {
        buckets(&[
            (&[("instance", "ins1"), ("le", "0.1")], r),
            (&[("instance", "ins1"), ("le", "0.2")], r),
            (&[("instance", "ins1"), ("le", "2e-1")], r),
            (&[("instance", "ins1"), ("le", "2.0e-1")], r),
            (&[("instance", "ins1"), ("le", "+Inf")], 4. * r),
            (&[("instance", "ins2"), ("le", "+inf")], 0.),
            (&[("instance", "ins2"), ("le", "+Inf")], 0.),
        ])
    };
    for (q, want) in [(0.5, 0.15), (0.75, 0.2), (1., 0.2)] {
        let out = hq(q, v());
        assert_close(value_of_pairs(&out, "ins1"), want, 1e-12);
        assert!(value_of_pairs(&out, "ins2").is_nan());
    }
    // empty_bucket: all counts 0 -> NaN
    let empty = buckets(&[(&[("le", "0.1")], 0.), (&[("le", "0.2")], 0.), (&[("le", "+Inf")], 0.)]);
    assert!(hq(0.2, empty)[0].1.is_nan());
}

fn value_of_pairs(out: &[(Labels, f64)], instance: &str) -> f64 {
    out.iter().find(|(l, _)| l.get("instance") == instance).unwrap().1
}

#[test]
fn bucket_rules_by_hand() {
    // No +Inf bucket: NaN (but q out of range still gives ±Inf first).
    let no_inf = || buckets(&[(&[("le", "0.1")], 1.), (&[("le", "0.2")], 2.)]);
    assert!(hq(0.5, no_inf())[0].1.is_nan());
    assert_eq!(hq(-1., no_inf())[0].1, -INF);
    assert_eq!(hq(2., no_inf())[0].1, INF);
    // Only a +Inf bucket: fewer than two buckets -> NaN.
    assert!(hq(0.5, buckets(&[(&[("le", "+Inf")], 5.)]))[0].1.is_nan());
    // Rank in the +Inf bucket: the upper bound of the bucket before it.
    // Buckets 1:1, 2:2, +Inf:10, q=0.9 -> rank 9 > 2 -> 2.
    let v = buckets(&[(&[("le", "2")], 2.), (&[("le", "+Inf")], 10.), (&[("le", "1")], 1.)]);
    assert_eq!(hq(0.9, v)[0].1, 2.);
    // Samples without le or with a malformed one are ignored; no groups, no output.
    assert!(hq(0.5, buckets(&[(&[("a", "b")], 1.), (&[("le", "x")], 1.)])).is_empty());
    // Same labels under two names: two outputs with the same label set (the evaluator
    // reports the duplicate, as Prometheus does for {__name__=~"request_duration.*"}).
    let two = buckets(&[
        (&[("__name__", "a_bucket"), ("le", "+Inf")], 1.),
        (&[("__name__", "a_bucket"), ("le", "1")], 1.),
        (&[("__name__", "b_bucket"), ("le", "+Inf")], 1.),
        (&[("__name__", "b_bucket"), ("le", "1")], 1.),
    ]);
    let out = hq(0.5, two);
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].0, out[1].0);
    assert_eq!(out[0].0, lbls(&[]));
}
