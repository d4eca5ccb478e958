//! Tests of the aggregations. Expected values are pinned from Prometheus v2.42.0's
//! promql/testdata/aggregators.test (the case is named) or worked by hand from engine.go,
//! quantile.go and Go's container/heap and sort.Sort. Inputs are in the storage's (label)
//! order, as the selectors give them.

use super::*;
use crate::promql::testing::{check, check_as, l, TS};
use crate::promql::plan::AggOp::*;

/// The samples sorted by labels, as a selector returns them.
fn v(samples: &[(&str, f64)]) -> Vector {
    let mut out: Vector = samples.iter().map(|(s, v)| Sample { labels: l(s), point: Point { t: 0, v: *v } }).collect();
    out.sort_by(|a, b| a.labels.cmp(&b.labels));
    out
}

fn strs(x: &[&str]) -> Vec<String> {
    x.iter().map(|s| s.to_string()).collect()
}

fn agg(op: AggOp, by: &[&str], without: bool, param: AggParam, vec: &Vector) -> Vector {
    aggregate(op, &strs(by), without, param, vec, TS).unwrap()
}

/// Samples `{i="00"}`, `{i="01"}`, ... with the given values.
fn numbered(values: &[f64]) -> Vector {
    let s = |(i, x): (usize, &f64)| Sample { labels: l(&format!(r#"{{i="{i:02}"}}"#)), point: Point { t: 0, v: *x } };
    values.iter().enumerate().map(s).collect()
}

/// aggregators.test's first load at 50m.
fn http_requests() -> Vector {
    v(&[
        (r#"http_requests{job="api-server", instance="0", group="production"}"#, 100.0),
        (r#"http_requests{job="api-server", instance="1", group="production"}"#, 200.0),
        (r#"http_requests{job="api-server", instance="0", group="canary"}"#, 300.0),
        (r#"http_requests{job="api-server", instance="1", group="canary"}"#, 400.0),
        (r#"http_requests{job="app-server", instance="0", group="production"}"#, 500.0),
        (r#"http_requests{job="app-server", instance="1", group="production"}"#, 600.0),
        (r#"http_requests{job="app-server", instance="0", group="canary"}"#, 700.0),
        (r#"http_requests{job="app-server", instance="1", group="canary"}"#, 800.0),
    ])
}

fn api(vec: &Vector) -> Vector {
    vec.iter().filter(|s| s.labels.get("job") == "api-server").cloned().collect()
}

#[test]
fn sum_avg_count_by_without() {
    let h = http_requests();
    let a = api(&h);
    let n = AggParam::None;
    // "Simple sum", "Simple average", "Simple count", "Simple without", "Empty by", "No by/without".
    check(agg(Sum, &["group"], false, n.clone(), &a), &[(r#"{group="canary"}"#, 700.0), (r#"{group="production"}"#, 300.0)]);
    check(agg(Avg, &["group"], false, n.clone(), &a), &[(r#"{group="canary"}"#, 350.0), (r#"{group="production"}"#, 150.0)]);
    check(agg(Count, &["group"], false, n.clone(), &a), &[(r#"{group="canary"}"#, 2.0), (r#"{group="production"}"#, 2.0)]);
    check(agg(Sum, &["instance"], true, n.clone(), &a), &[
        (r#"{group="canary",job="api-server"}"#, 700.0),
        (r#"{group="production",job="api-server"}"#, 300.0),
    ]);
    check(agg(Sum, &[], false, n.clone(), &a), &[("{}", 1000.0)]);
    // "Empty without": the metric name goes.
    let prod: Vector = a.iter().filter(|s| s.labels.get("group") == "production").cloned().collect();
    check(agg(Sum, &[], true, n.clone(), &prod), &[
        (r#"{group="production",job="api-server",instance="0"}"#, 100.0),
        (r#"{group="production",job="api-server",instance="1"}"#, 200.0),
    ]);
    // "Without with mismatched and missing labels".
    let mut with_foo = a.clone();
    with_foo.extend(v(&[(r#"foo{job="api-server", instance="0", region="europe"}"#, 900.0), (r#"foo{job="api-server"}"#, 1000.0)]));
    check(agg(Sum, &["instance"], true, n.clone(), &with_foo), &[
        (r#"{group="canary",job="api-server"}"#, 700.0),
        (r#"{group="production",job="api-server"}"#, 300.0),
        (r#"{region="europe",job="api-server"}"#, 900.0),
        (r#"{job="api-server"}"#, 1000.0),
    ]);
    // SUM(http_requests), BY (job, nonexistent), COUNT BY (job), SUM BY (job, group), AVG BY (job).
    check(agg(Sum, &[], false, n.clone(), &h), &[("{}", 3600.0)]);
    let by_job = |a, b| [(r#"{job="api-server"}"#, a), (r#"{job="app-server"}"#, b)];
    check(agg(Sum, &["job", "nonexistent"], false, n.clone(), &h), &by_job(1000.0, 2600.0));
    check(agg(Count, &["job"], false, n.clone(), &h), &by_job(4.0, 4.0));
    check(agg(Sum, &["job", "group"], false, n.clone(), &h), &[
        (r#"{group="canary", job="api-server"}"#, 700.0),
        (r#"{group="canary", job="app-server"}"#, 1500.0),
        (r#"{group="production", job="api-server"}"#, 300.0),
        (r#"{group="production", job="app-server"}"#, 1100.0),
    ]);
    check(agg(Avg, &["job"], false, n.clone(), &h), &by_job(250.0, 650.0));
    check(agg(Min, &["job"], false, n.clone(), &h), &by_job(100.0, 500.0));
    check(agg(Max, &["job"], false, n.clone(), &h), &by_job(400.0, 800.0));
    // "Regression test for missing separator byte in labelsToGroupingKey".
    let lg = v(&[(r#"label_grouping_test{a="aa", b="bb"}"#, 100.0), (r#"label_grouping_test{a="a", b="abb"}"#, 200.0)]);
    check(agg(Sum, &["a", "b"], false, n, &lg), &[(r#"{a="a", b="abb"}"#, 200.0), (r#"{a="aa", b="bb"}"#, 100.0)]);
}

#[test]
fn avg_infinities_and_overflow() {
    // "Tests for avg": avg by (test) over all of `data` gives each case's result. Per test, the
    // points and their values (inf3 and -inf3 list a point twice: the later value is loaded).
    let (inf, big) = (f64::INFINITY, 9.988465674311579e+307);
    let cases: [(&str, &str, &[f64], f64); 11] = [
        ("ten", "abc", &[8.0, 10.0, 12.0], 10.0),
        ("inf", "abcd", &[0.0, inf, 0.0, inf], inf),
        ("-inf", "abc", &[-inf, -inf, 0.0], -inf),
        ("inf2", "abc", &[inf, 0.0, inf], inf),
        ("-inf2", "abc", &[-inf, 0.0, -inf], -inf),
        ("inf3", "bcd", &[inf, inf, -inf], f64::NAN),
        ("-inf3", "bcd", &[-inf, inf, -inf], f64::NAN),
        ("nan", "abc", &[-inf, 0.0, inf], f64::NAN),
        ("big", "abcd", &[big, big, big, big], big),
        ("-big", "abcd", &[-big, -big, -big, -big], -big),
        ("bigzero", "abcd", &[-big, -big, big, big], 0.0),
    ];
    let mut data = Vec::new();
    for (test, points, values, _) in &cases {
        for (p, x) in points.chars().zip(values.iter()) {
            data.push((format!(r#"data{{test="{test}",point="{p}"}}"#), *x));
        }
    }
    let data = v(&data.iter().map(|(s, x)| (s.as_str(), *x)).collect::<Vec<_>>());
    let want: Vec<(String, f64)> = cases.iter().map(|(t, _, _, r)| (format!(r#"{{test="{t}"}}"#), *r)).collect();
    let want: Vec<(&str, f64)> = want.iter().map(|(s, x)| (s.as_str(), *x)).collect();
    check(agg(Avg, &["test"], false, AggParam::None, &data), &want);
}

#[test]
fn stddev_stdvar_group() {
    let h = http_requests();
    let n = AggParam::None;
    // "Standard deviation and variance".
    check(agg(Stddev, &[], false, n.clone(), &h), &[("{}", 229.12878474779)]);
    let by_instance = |x| [(r#"{instance="0"}"#, x), (r#"{instance="1"}"#, x)];
    check(agg(Stddev, &["instance"], false, n.clone(), &h), &by_instance(223.60679774998));
    check(agg(Stdvar, &[], false, n.clone(), &h), &[("{}", 52500.0)]);
    check(agg(Stdvar, &["instance"], false, n.clone(), &h), &by_instance(50000.0));
    // "Float precision test for standard deviation and variance": three equal values give 0.
    let same = v(&[(r#"x{i="0"}"#, 13.3), (r#"x{i="1"}"#, 13.3), (r#"x{i="2"}"#, 13.3)]);
    check(agg(Stddev, &[], false, n.clone(), &same), &[("{}", 0.0)]);
    check(agg(Stdvar, &[], false, n.clone(), &same), &[("{}", 0.0)]);
    // By hand: one sample has deviation 0.
    check(agg(Stddev, &[], true, n.clone(), &same[..1].to_vec()), &[(r#"{i="0"}"#, 0.0)]);
    // "Tests for group": `group without(point)(data)`, `group(foo)`.
    let data = v(&[
        (r#"data{test="two samples",point="a"}"#, 0.0),
        (r#"data{test="two samples",point="b"}"#, 1.0),
        (r#"data{test="three samples",point="a"}"#, 0.0),
        (r#"data{test="three samples",point="b"}"#, 1.0),
        (r#"data{test="three samples",point="c"}"#, 2.0),
    ]);
    check(agg(Group, &["point"], true, n.clone(), &data), &[(r#"{test="two samples"}"#, 1.0), (r#"{test="three samples"}"#, 1.0)]);
    check(agg(Group, &[], false, n, &v(&[("foo", 0.8)])), &[("{}", 1.0)]);
}

#[test]
fn min_max_nan() {
    // "Tests for min/max": a NaN first in its group is replaced by the next value.
    let h = v(&[
        (r#"http_requests{job="api-server", instance="0", group="production"}"#, 1.0),
        (r#"http_requests{job="api-server", instance="1", group="production"}"#, 2.0),
        (r#"http_requests{job="api-server", instance="0", group="canary"}"#, f64::NAN),
        (r#"http_requests{job="api-server", instance="1", group="canary"}"#, 3.0),
        (r#"http_requests{job="api-server", instance="2", group="canary"}"#, 4.0),
    ]);
    let n = AggParam::None;
    check(agg(Max, &[], false, n.clone(), &h), &[("{}", 4.0)]);
    check(agg(Min, &[], false, n.clone(), &h), &[("{}", 1.0)]);
    check(agg(Max, &["group"], false, n.clone(), &h), &[(r#"{group="production"}"#, 2.0), (r#"{group="canary"}"#, 4.0)]);
    check(agg(Min, &["group"], false, n.clone(), &h), &[(r#"{group="production"}"#, 1.0), (r#"{group="canary"}"#, 3.0)]);
    // By hand: a lone NaN stays; a later NaN does not replace a number.
    check(agg(Max, &[], false, n.clone(), &h[..1].to_vec()), &[("{}", f64::NAN)]);
    let later = v(&[(r#"x{i="0"}"#, 5.0), (r#"x{i="1"}"#, f64::NAN)]);
    check(agg(Min, &[], false, n, &later), &[("{}", 5.0)]);
}

/// "Tests for topk/bottomk" data at 50m.
fn topk_data() -> Vector {
    let mut h = http_requests();
    h.extend(v(&[(r#"http_requests{job="api-server", instance="2", group="production"}"#, f64::NAN)]));
    h.sort_by(|a, b| a.labels.cmp(&b.labels));
    h
}

fn pick(vec: &Vector, job: &str, group: &str) -> Vector {
    vec.iter().filter(|s| s.labels.get("job") == job && s.labels.get("group") == group).cloned().collect()
}

#[test]
fn topk_bottomk() {
    let h = topk_data();
    let k = AggParam::Number;
    let ordered = |got, want: &[(&str, f64)]| check_as(got, want, true);
    ordered(agg(Topk, &[], false, k(3.0), &h), &[
        (r#"http_requests{group="canary", instance="1", job="app-server"}"#, 800.0),
        (r#"http_requests{group="canary", instance="0", job="app-server"}"#, 700.0),
        (r#"http_requests{group="production", instance="1", job="app-server"}"#, 600.0),
    ]);
    let app_canary = pick(&h, "app-server", "canary");
    ordered(agg(Topk, &[], false, k(5.0), &app_canary), &[
        (r#"http_requests{group="canary", instance="1", job="app-server"}"#, 800.0),
        (r#"http_requests{group="canary", instance="0", job="app-server"}"#, 700.0),
    ]);
    ordered(agg(Bottomk, &[], false, k(3.0), &h), &[
        (r#"http_requests{group="production", instance="0", job="api-server"}"#, 100.0),
        (r#"http_requests{group="production", instance="1", job="api-server"}"#, 200.0),
        (r#"http_requests{group="canary", instance="0", job="api-server"}"#, 300.0),
    ]);
    ordered(agg(Bottomk, &[], false, k(5.0), &app_canary), &[
        (r#"http_requests{group="canary", instance="0", job="app-server"}"#, 700.0),
        (r#"http_requests{group="canary", instance="1", job="app-server"}"#, 800.0),
    ]);
    check(agg(Topk, &["group"], false, k(1.0), &h), &[
        (r#"http_requests{group="production", instance="1", job="app-server"}"#, 600.0),
        (r#"http_requests{group="canary", instance="1", job="app-server"}"#, 800.0),
    ]);
    check(agg(Bottomk, &["group"], false, k(2.0), &h), &[
        (r#"http_requests{group="canary", instance="0", job="api-server"}"#, 300.0),
        (r#"http_requests{group="canary", instance="1", job="api-server"}"#, 400.0),
        (r#"http_requests{group="production", instance="0", job="api-server"}"#, 100.0),
        (r#"http_requests{group="production", instance="1", job="api-server"}"#, 200.0),
    ]);
    let prod: Vector = h.iter().filter(|s| s.labels.get("group") == "production").cloned().collect();
    ordered(agg(Bottomk, &["group"], false, k(2.0), &prod), &[
        (r#"http_requests{group="production", instance="0", job="api-server"}"#, 100.0),
        (r#"http_requests{group="production", instance="1", job="api-server"}"#, 200.0),
    ]);
    // "Test NaN is sorted away from the top/bottom", and k larger than the input.
    let api_prod = pick(&h, "api-server", "production");
    let top = [
        (r#"http_requests{job="api-server", instance="1", group="production"}"#, 200.0),
        (r#"http_requests{job="api-server", instance="0", group="production"}"#, 100.0),
        (r#"http_requests{job="api-server", instance="2", group="production"}"#, f64::NAN),
    ];
    ordered(agg(Topk, &[], false, k(3.0), &api_prod), &top);
    ordered(agg(Topk, &[], false, k(9999999999.0), &api_prod), &top);
    ordered(agg(Bottomk, &[], false, k(3.0), &api_prod), &[
        (r#"http_requests{job="api-server", instance="0", group="production"}"#, 100.0),
        (r#"http_requests{job="api-server", instance="1", group="production"}"#, 200.0),
        (r#"http_requests{job="api-server", instance="2", group="production"}"#, f64::NAN),
    ]);
    ordered(agg(Bottomk, &[], false, k(9999999999.0), &app_canary), &[
        (r#"http_requests{group="canary", instance="0", job="app-server"}"#, 700.0),
        (r#"http_requests{group="canary", instance="1", job="app-server"}"#, 800.0),
    ]);
}

#[test]
fn topk_ties_nan_and_k() {
    let k = AggParam::Number;
    let ordered = |got, want: &[(&str, f64)]| check_as(got, want, true);
    // By hand (heap then sort.Reverse with insertion sort): ties keep the heap's order.
    let ones = v(&[(r#"{x="a"}"#, 1.0), (r#"{x="b"}"#, 1.0), (r#"{x="c"}"#, 1.0)]);
    ordered(agg(Topk, &[], false, k(2.0), &ones), &[(r#"{x="a"}"#, 1.0), (r#"{x="b"}"#, 1.0)]);
    ordered(agg(Bottomk, &[], false, k(2.0), &ones), &[(r#"{x="a"}"#, 1.0), (r#"{x="b"}"#, 1.0)]);
    // 2, 1, 2, 3 with k=3: the heap ends [x3, x1, x4], sorted to x4, x3, x1.
    let mixed = v(&[(r#"{x="1"}"#, 2.0), (r#"{x="2"}"#, 1.0), (r#"{x="3"}"#, 2.0), (r#"{x="4"}"#, 3.0)]);
    ordered(agg(Topk, &[], false, k(3.0), &mixed), &[(r#"{x="4"}"#, 3.0), (r#"{x="3"}"#, 2.0), (r#"{x="1"}"#, 2.0)]);
    // A NaN on top of the heap is replaced by anything.
    let nan_first = v(&[(r#"{x="a"}"#, f64::NAN), (r#"{x="b"}"#, 1.0), (r#"{x="c"}"#, 2.0)]);
    ordered(agg(Topk, &[], false, k(2.0), &nan_first), &[(r#"{x="c"}"#, 2.0), (r#"{x="b"}"#, 1.0)]);
    ordered(agg(Topk, &[], false, k(1.0), &nan_first), &[(r#"{x="c"}"#, 2.0)]);
    let nan_mid = v(&[(r#"{x="a"}"#, f64::NAN), (r#"{x="b"}"#, 5.0), (r#"{x="c"}"#, 3.0)]);
    ordered(agg(Bottomk, &[], false, k(2.0), &nan_mid), &[(r#"{x="c"}"#, 3.0), (r#"{x="b"}"#, 5.0)]);
    let nan_last = v(&[(r#"{x="a"}"#, 1.0), (r#"{x="b"}"#, f64::NAN)]);
    ordered(agg(Topk, &[], false, k(1.0), &nan_last), &[(r#"{x="a"}"#, 1.0)]);
    // k < 1 (after truncation) gives nothing; k is truncated toward zero.
    assert!(agg(Topk, &[], false, k(0.0), &ones).is_empty());
    assert!(agg(Bottomk, &[], false, k(-3.0), &ones).is_empty());
    assert!(agg(Topk, &[], false, k(0.9), &ones).is_empty());
    ordered(agg(Topk, &[], false, k(1.9), &mixed), &[(r#"{x="4"}"#, 3.0)]);
    ordered(agg(Topk, &[], false, k(9223372036854774784.0), &nan_last), &[(r#"{x="a"}"#, 1.0), (r#"{x="b"}"#, f64::NAN)]);
    // Overflowing k: the error prints the value as Go's %v.
    let big = [(1e19, "1e+19"), (9223372036854775807.0, "9.223372036854776e+18"), (-1e19, "-1e+19")];
    for (x, shown) in big.into_iter().chain([(f64::NAN, "NaN"), (f64::INFINITY, "+Inf")]) {
        let err = aggregate(Topk, &[], false, k(x), &ones, TS).unwrap_err();
        assert_eq!(err, EvalError::Execution(format!("Scalar value {shown} overflows int64")));
    }
}

#[test]
fn quantile_params() {
    // "Tests for quantile": quantile without(point)(0.8, data), and NaN.
    let data = v(&[
        (r#"data{test="two samples",point="a"}"#, 0.0),
        (r#"data{test="two samples",point="b"}"#, 1.0),
        (r#"data{test="three samples",point="a"}"#, 0.0),
        (r#"data{test="three samples",point="b"}"#, 1.0),
        (r#"data{test="three samples",point="c"}"#, 2.0),
        (r#"data{test="uneven samples",point="a"}"#, 0.0),
        (r#"data{test="uneven samples",point="b"}"#, 1.0),
        (r#"data{test="uneven samples",point="c"}"#, 4.0),
    ]);
    let q = |x| agg(Quantile, &["point"], true, AggParam::Number(x), &data);
    let want = |a, b, c| [(r#"{test="two samples"}"#, a), (r#"{test="three samples"}"#, b), (r#"{test="uneven samples"}"#, c)];
    check(q(0.8), &want(0.8, 1.6, 2.8));
    check(q(f64::NAN), &want(f64::NAN, f64::NAN, f64::NAN));
    // By hand: q < 0 is -Inf, q > 1 is +Inf, 0 and 1 are min and max.
    let inf = f64::INFINITY;
    check(q(-0.5), &want(-inf, -inf, -inf));
    check(q(1.5), &want(inf, inf, inf));
    check(q(0.0), &want(0.0, 0.0, 0.0));
    check(q(1.0), &want(1.0, 2.0, 4.0));
    // By hand: NaN values sort first (insertion sort with vectorByValueHeap.Less).
    let with_nan = v(&[(r#"{x="a"}"#, 2.0), (r#"{x="b"}"#, 1.0), (r#"{x="c"}"#, f64::NAN)]);
    check(agg(Quantile, &[], false, AggParam::Number(0.5), &with_nan), &[("{}", 1.0)]);
    check(agg(Quantile, &[], false, AggParam::Number(0.75), &with_nan), &[("{}", 1.5)]);
    // 20 values in decreasing order (pdqsort, not just insertion sort): the median is 9.5.
    let desc = numbered(&(0..20).map(|i| (19 - i) as f64).collect::<Vec<_>>());
    check(agg(Quantile, &[], false, AggParam::Number(0.5), &desc), &[("{}", 9.5)]);
    check(agg(Quantile, &[], false, AggParam::Number(0.1), &desc), &[("{}", 1.9)]);
}

#[test]
fn count_values() {
    // "Tests for count_values" at 5m.
    let version = v(&[
        (r#"version{job="api-server", instance="0", group="production"}"#, 6.0),
        (r#"version{job="api-server", instance="1", group="production"}"#, 6.0),
        (r#"version{job="api-server", instance="2", group="production"}"#, 6.0),
        (r#"version{job="api-server", instance="0", group="canary"}"#, 8.0),
        (r#"version{job="api-server", instance="1", group="canary"}"#, 8.0),
        (r#"version{job="app-server", instance="0", group="production"}"#, 6.0),
        (r#"version{job="app-server", instance="1", group="production"}"#, 6.0),
        (r#"version{job="app-server", instance="0", group="canary"}"#, 7.0),
        (r#"version{job="app-server", instance="1", group="canary"}"#, 7.0),
    ]);
    let label = |s: &str| AggParam::Label(s.to_string());
    check(agg(CountValues, &[], false, label("version"), &version), &[
        (r#"{version="6"}"#, 5.0),
        (r#"{version="7"}"#, 2.0),
        (r#"{version="8"}"#, 2.0),
    ]);
    check(agg(CountValues, &["instance"], true, label("version"), &version), &[
        (r#"{job="api-server", group="production", version="6"}"#, 3.0),
        (r#"{job="api-server", group="canary", version="8"}"#, 2.0),
        (r#"{job="app-server", group="production", version="6"}"#, 2.0),
        (r#"{job="app-server", group="canary", version="7"}"#, 2.0),
    ]);
    // "Overwrite label with output. Don't do this." (without and by).
    let overwritten = [
        (r#"{job="6", group="production"}"#, 5.0),
        (r#"{job="8", group="canary"}"#, 2.0),
        (r#"{job="7", group="canary"}"#, 2.0),
    ];
    check(agg(CountValues, &["instance"], true, label("job"), &version), &overwritten);
    check(agg(CountValues, &["job", "group"], false, label("job"), &version), &overwritten);
    // By hand: the values as Go's strconv.FormatFloat(v, 'f', -1, 64) writes them.
    let values = [1.0, 0.1, 1e21, 1e-7, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -0.0, 0.3, 1e23, 123456789.125, -2.5];
    let counted = agg(CountValues, &[], false, label("v"), &numbered(&values));
    let mut got: Vec<String> = counted.iter().map(|s| s.labels.get("v").to_string()).collect();
    got.sort();
    let mut want = ["1", "0.1", "1000000000000000000000", "0.0000001", "NaN", "+Inf", "-Inf", "-0", "0.3"]
        .into_iter()
        .chain(["100000000000000000000000", "123456789.125", "-2.5"])
        .collect::<Vec<_>>();
    want.sort();
    assert_eq!(got, want);
    // Invalid label names.
    for (name, quoted) in [("invalid-name", r#""invalid-name""#), ("", r#""""#), ("0a", r#""0a""#), ("é", r#""é""#)] {
        let err = aggregate(CountValues, &[], false, label(name), &version, TS).unwrap_err();
        assert_eq!(err, EvalError::Execution(format!("invalid label name {quoted}")));
    }
    assert!(aggregate(CountValues, &[], false, label("_a0"), &version, TS).is_ok());
}

