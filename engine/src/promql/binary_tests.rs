//! Tests of the binary operators. Expected values are pinned from Prometheus v2.42.0's
//! promql/testdata/operators.test (the case is named) or worked by hand from engine.go.

use super::*;
use crate::promql::testing::{check, check_as, l, TS};
use crate::promql::plan::{BinOp::*, Cardinality::*};

fn v(samples: &[(&str, f64)]) -> Vector {
    samples.iter().map(|(s, v)| Sample { labels: l(s), point: Point { t: 0, v: *v } }).collect()
}

fn m(card: Cardinality, on: bool, labels: &[&str], include: &[&str]) -> VectorMatching {
    let s = |x: &[&str]| x.iter().map(|s| s.to_string()).collect();
    VectorMatching { card, labels: s(labels), on, include: s(include) }
}

fn none() -> VectorMatching {
    m(OneToOne, false, &[], &[])
}

fn set(on: bool, labels: &[&str]) -> VectorMatching {
    m(ManyToMany, on, labels, &[])
}

/// http_requests of operators.test at 50m, in the storage's (label) order.
fn http_requests() -> Vector {
    v(&[
        (r#"http_requests{group="canary", instance="0", job="api-server"}"#, 300.0),
        (r#"http_requests{group="canary", instance="0", job="app-server"}"#, 700.0),
        (r#"http_requests{group="canary", instance="1", job="api-server"}"#, 400.0),
        (r#"http_requests{group="canary", instance="1", job="app-server"}"#, 800.0),
        (r#"http_requests{group="production", instance="0", job="api-server"}"#, 100.0),
        (r#"http_requests{group="production", instance="0", job="app-server"}"#, 500.0),
        (r#"http_requests{group="production", instance="1", job="api-server"}"#, 200.0),
        (r#"http_requests{group="production", instance="1", job="app-server"}"#, 600.0),
    ])
}

fn select(vec: &Vector, pred: impl Fn(&Labels) -> bool) -> Vector {
    vec.iter().filter(|s| pred(&s.labels)).cloned().collect()
}

fn sum_by_job() -> Vector {
    v(&[(r#"{job="api-server"}"#, 1000.0), (r#"{job="app-server"}"#, 2600.0)])
}

#[test]
fn scalar_ops() {
    // operators.test: `-2^---1*3` is -1.5 and `2/-2^---1*3+2` is -10 (negation is the evaluator's).
    assert_eq!(-scalar_binop(Pow, 2.0, -1.0) * 3.0, -1.5);
    let x = scalar_binop(Div, 2.0, -scalar_binop(Pow, 2.0, -1.0));
    assert_eq!(scalar_binop(Add, scalar_binop(Mul, x, 3.0), 2.0), -10.0);
    // `0 == bool 1` is 0, `1 == bool 1` is 1; `10 atan2 20`, `10 atan2 NaN`.
    assert_eq!(scalar_binop(Eq, 0.0, 1.0), 0.0);
    assert_eq!(scalar_binop(Eq, 1.0, 1.0), 1.0);
    assert_eq!(scalar_binop(Atan2, 10.0, 20.0), 0.4636476090008061);
    assert!(scalar_binop(Atan2, 10.0, f64::NAN).is_nan());
    // By hand: Go's math.Mod keeps the sign of the dividend; comparisons give 1/0.
    assert_eq!(scalar_binop(Sub, 1.0, 3.0), -2.0);
    assert_eq!(scalar_binop(Mod, 7.0, -3.0), 1.0);
    assert_eq!(scalar_binop(Mod, -7.0, 3.0), -1.0);
    assert!(scalar_binop(Mod, 1.0, 0.0).is_nan());
    assert_eq!(scalar_binop(Mod, 5.0, f64::INFINITY), 5.0);
    assert_eq!(scalar_binop(Div, 1.0, 0.0), f64::INFINITY);
    assert_eq!(scalar_binop(Pow, -8.0, 1.0 / 3.0).is_nan(), true);
    assert_eq!(scalar_binop(Pow, f64::NAN, 0.0), 1.0);
    let cmp = [(Ne, 1.0, 2.0, 1.0), (Gt, 1.0, 2.0, 0.0), (Lt, 1.0, 2.0, 1.0), (Ge, 2.0, 2.0, 1.0)];
    for (op, a, b, want) in cmp {
        assert_eq!(scalar_binop(op, a, b), want, "{op:?}");
    }
    assert_eq!(scalar_binop(Le, 3.0, 2.0), 0.0);
    assert_eq!(scalar_binop(Eq, f64::NAN, f64::NAN), 0.0);
    assert_eq!(scalar_binop(Ne, f64::NAN, f64::NAN), 1.0);
}

#[test]
fn vector_scalar_arithmetic() {
    // operators.test: `SUM(http_requests) BY (job) - 2`, `% 3`, `% 0.3`, `^ 2`, `/ 0`.
    let s = sum_by_job();
    let r = |op, x| vector_scalar_binop(op, &s, x, false, false, TS);
    check(r(Sub, 2.0), &[(r#"{job="api-server"}"#, 998.0), (r#"{job="app-server"}"#, 2598.0)]);
    check(r(Mod, 3.0), &[(r#"{job="api-server"}"#, 1.0), (r#"{job="app-server"}"#, 2.0)]);
    check(r(Mod, 0.3), &[(r#"{job="api-server"}"#, 0.1), (r#"{job="app-server"}"#, 0.2)]);
    check(r(Pow, 2.0), &[(r#"{job="api-server"}"#, 1e6), (r#"{job="app-server"}"#, 6760000.0)]);
    check(r(Div, 0.0), &[(r#"{job="api-server"}"#, f64::INFINITY), (r#"{job="app-server"}"#, f64::INFINITY)]);
    // `2 - SUM(http_requests) BY (job)` and `1000 / SUM(http_requests) BY (job)`: swapped.
    let sw = |op, x| vector_scalar_binop(op, &s, x, true, false, TS);
    check(sw(Sub, 2.0), &[(r#"{job="api-server"}"#, -998.0), (r#"{job="app-server"}"#, -2598.0)]);
    check(sw(Div, 1000.0), &[(r#"{job="api-server"}"#, 1.0), (r#"{job="app-server"}"#, 0.38461538461538464)]);
    // `0 * http_requests{...} / 0` is NaN, `-1 * ... / 0` is -Inf.
    let one = select(&http_requests(), |l| l.get("group") == "canary" && l.get("instance") == "0");
    let zero = vector_scalar_binop(Mul, &one[..1], 0.0, true, false, TS);
    let want = r#"{group="canary", instance="0", job="api-server"}"#;
    check(vector_scalar_binop(Div, &zero, 0.0, false, false, TS), &[(want, f64::NAN)]);
    check(vector_scalar_binop(Mod, &zero, 0.0, false, false, TS), &[(want, f64::NAN)]);
    let neg = vector_scalar_binop(Mul, &one[..1], -1.0, true, false, TS);
    check(vector_scalar_binop(Div, &neg, 0.0, false, false, TS), &[(want, f64::NEG_INFINITY)]);
}

#[test]
fn vector_scalar_drops_metric_name() {
    // operators.test "Check that binops drop the metric name": node_cpu + 2, - 2, / 2, * 2, ^ 2, % 2.
    let cpu = v(&[
        (r#"node_cpu{instance="abc",job="node",mode="idle"}"#, 3.0),
        (r#"node_cpu{instance="abc",job="node",mode="user"}"#, 1.0),
        (r#"node_cpu{instance="def",job="node",mode="idle"}"#, 8.0),
        (r#"node_cpu{instance="def",job="node",mode="user"}"#, 2.0),
    ]);
    let cases = [
        (Add, [5.0, 3.0, 10.0, 4.0]),
        (Sub, [1.0, -1.0, 6.0, 0.0]),
        (Div, [1.5, 0.5, 4.0, 1.0]),
        (Mul, [6.0, 2.0, 16.0, 4.0]),
        (Pow, [9.0, 1.0, 64.0, 4.0]),
        (Mod, [1.0, 1.0, 0.0, 0.0]),
    ];
    for (op, want) in cases {
        let w = [
            (r#"{instance="abc",job="node",mode="idle"}"#, want[0]),
            (r#"{instance="abc",job="node",mode="user"}"#, want[1]),
            (r#"{instance="def",job="node",mode="idle"}"#, want[2]),
            (r#"{instance="def",job="node",mode="user"}"#, want[3]),
        ];
        check(vector_scalar_binop(op, &cpu, 2.0, false, false, TS), &w);
    }
    // By hand: atan2 and comparisons keep the name, `bool` drops it.
    let trig = v(&[("trigy", 10.0)]);
    check(vector_scalar_binop(Atan2, &trig, 20.0, false, false, TS), &[("trigy", 0.4636476090008061)]);
    check(vector_scalar_binop(Gt, &cpu, 2.5, false, false, TS), &[
        (r#"node_cpu{instance="abc",job="node",mode="idle"}"#, 3.0),
        (r#"node_cpu{instance="def",job="node",mode="idle"}"#, 8.0),
    ]);
}

#[test]
fn vector_scalar_comparisons() {
    // operators.test "Comparisons".
    let s = sum_by_job();
    let r = |op, x, swap, b| vector_scalar_binop(op, &s, x, swap, b, TS);
    check(r(Gt, 1000.0, false, false), &[(r#"{job="app-server"}"#, 2600.0)]);
    check(r(Lt, 1000.0, true, false), &[(r#"{job="app-server"}"#, 2600.0)]); // 1000 < SUM
    check(r(Le, 1000.0, false, false), &[(r#"{job="api-server"}"#, 1000.0)]);
    check(r(Ne, 1000.0, false, false), &[(r#"{job="app-server"}"#, 2600.0)]);
    check(r(Eq, 1000.0, false, false), &[(r#"{job="api-server"}"#, 1000.0)]);
    check(r(Eq, 1000.0, false, true), &[(r#"{job="api-server"}"#, 1.0), (r#"{job="app-server"}"#, 0.0)]);
    // `http_requests{job="api-server", instance="0", group="production"} == bool 100`.
    let one = select(&http_requests(), |l| l.get("group") == "production" && l.get("instance") == "0");
    check(vector_scalar_binop(Eq, &one[..1], 100.0, false, true, TS), &[
        (r#"{job="api-server", instance="0", group="production"}"#, 1.0),
    ]);
    // By hand: `1 >= bool SUM` swapped gives 0, `x >= NaN` filters everything.
    check(r(Ge, 1.0, true, true), &[(r#"{job="api-server"}"#, 0.0), (r#"{job="app-server"}"#, 0.0)]);
    check(r(Ge, f64::NAN, false, false), &[]);
}

#[test]
fn vector_vector_arithmetic() {
    let s = sum_by_job();
    let c = v(&[(r#"{job="api-server"}"#, 4.0), (r#"{job="app-server"}"#, 4.0)]);
    // operators.test: SUM - COUNT, COUNT ^ COUNT, SUM + SUM, SUM == bool SUM, SUM != bool SUM.
    let r = |op, a: &Vector, b: &Vector, bl| vector_binop(op, a, b, &none(), bl, TS).unwrap();
    check(r(Sub, &s, &c, false), &[(r#"{job="api-server"}"#, 996.0), (r#"{job="app-server"}"#, 2596.0)]);
    check(r(Pow, &c, &c, false), &[(r#"{job="api-server"}"#, 256.0), (r#"{job="app-server"}"#, 256.0)]);
    check(r(Add, &s, &s, false), &[(r#"{job="api-server"}"#, 2000.0), (r#"{job="app-server"}"#, 5200.0)]);
    check(r(Eq, &s, &s, true), &[(r#"{job="api-server"}"#, 1.0), (r#"{job="app-server"}"#, 1.0)]);
    check(r(Ne, &s, &s, true), &[(r#"{job="api-server"}"#, 0.0), (r#"{job="app-server"}"#, 0.0)]);
    // `http_requests{group="canary"} / on(instance,job) http_requests{group="production"}`,
    // and the same with `ignoring(group)`.
    let h = http_requests();
    let canary = select(&h, |l| l.get("group") == "canary");
    let prod = select(&h, |l| l.get("group") == "production");
    let want = [
        (r#"{instance="0", job="api-server"}"#, 3.0),
        (r#"{instance="0", job="app-server"}"#, 1.4),
        (r#"{instance="1", job="api-server"}"#, 2.0),
        (r#"{instance="1", job="app-server"}"#, 1.3333333333333333),
    ];
    let on = m(OneToOne, true, &["instance", "job"], &[]);
    check(vector_binop(Div, &canary, &prod, &on, false, TS).unwrap(), &want);
    let ign = m(OneToOne, false, &["group"], &[]);
    check(vector_binop(Div, &canary, &prod, &ign, false, TS).unwrap(), &want);
    // `random + on() metricA`, `metricA + ignoring() metricB`, `metricA + metricB`.
    let random = v(&[(r#"random{foo="bar"}"#, 2.0)]);
    let (a, b) = (v(&[(r#"metricA{baz="meh"}"#, 3.0)]), v(&[(r#"metricB{baz="meh"}"#, 4.0)]));
    check(vector_binop(Add, &random, &a, &m(OneToOne, true, &[], &[]), false, TS).unwrap(), &[("{}", 5.0)]);
    check(vector_binop(Add, &a, &b, &none(), false, TS).unwrap(), &[(r#"{baz="meh"}"#, 7.0)]);
    // `trigy atan2 trigx`, `trigy atan2 trigNaN`: atan2 keeps the lhs name.
    let (y, x, nan) = (v(&[("trigy", 10.0)]), v(&[("trigx", 20.0)]), v(&[("trigNaN", f64::NAN)]));
    check(vector_binop(Atan2, &y, &x, &none(), false, TS).unwrap(), &[("trigy", 0.4636476090008061)]);
    check(vector_binop(Atan2, &y, &nan, &none(), false, TS).unwrap(), &[("trigy", f64::NAN)]);
}

#[test]
fn vector_vector_comparisons() {
    // operators.test: test_total > bool / > / < bool / < test_smaller.
    let total = v(&[(r#"test_total{instance="localhost"}"#, 50.0)]);
    let smaller = v(&[(r#"test_smaller{instance="localhost"}"#, 10.0)]);
    let r = |op, bl| vector_binop(op, &total, &smaller, &none(), bl, TS).unwrap();
    check(r(Gt, true), &[(r#"{instance="localhost"}"#, 1.0)]);
    check(r(Gt, false), &[(r#"test_total{instance="localhost"}"#, 50.0)]);
    check(r(Lt, true), &[(r#"{instance="localhost"}"#, 0.0)]);
    check(r(Lt, false), &[]);
}

fn node_cpu() -> Vector {
    v(&[
        (r#"node_cpu{instance="abc",job="node",mode="idle"}"#, 3.0),
        (r#"node_cpu{instance="abc",job="node",mode="user"}"#, 1.0),
        (r#"node_cpu{instance="def",job="node",mode="idle"}"#, 8.0),
        (r#"node_cpu{instance="def",job="node",mode="user"}"#, 2.0),
    ])
}

#[test]
fn group_left_and_right() {
    // operators.test "group_left/group_right".
    let var = v(&[(r#"node_var{instance="abc",job="node"}"#, 2.0)]);
    let role = v(&[(r#"node_role{instance="abc",job="node",role="prometheus"}"#, 1.0)]);
    let want = [(r#"{instance="abc",job="node",role="prometheus"}"#, 2.0)];
    let right_on = m(OneToMany, true, &["instance"], &["role"]);
    check(vector_binop(Mul, &role, &var, &right_on, false, TS).unwrap(), &want);
    let left_on = m(ManyToOne, true, &["instance"], &["role"]);
    check(vector_binop(Mul, &var, &role, &left_on, false, TS).unwrap(), &want);
    let left_ign = m(ManyToOne, false, &["role"], &["role"]);
    check(vector_binop(Mul, &var, &role, &left_ign, false, TS).unwrap(), &want);
    let right_ign = m(OneToMany, false, &["role"], &["role"]);
    check(vector_binop(Mul, &role, &var, &right_ign, false, TS).unwrap(), &want);
    // `node_cpu * ignoring (role, mode) group_left (role) node_role`.
    let cpu = node_cpu();
    check(vector_binop(Mul, &cpu, &role, &m(ManyToOne, false, &["role", "mode"], &["role"]), false, TS).unwrap(), &[
        (r#"{instance="abc",job="node",mode="idle",role="prometheus"}"#, 3.0),
        (r#"{instance="abc",job="node",mode="user",role="prometheus"}"#, 1.0),
    ]);
    // `node_cpu / on (instance) group_left sum by (instance,job)(node_cpu)`, and
    // `node_cpu / ignoring (mode) group_left(dummy) sum without (mode)(node_cpu)`.
    let sums = v(&[(r#"{instance="abc",job="node"}"#, 4.0), (r#"{instance="def",job="node"}"#, 10.0)]);
    let ratios = [
        (r#"{instance="abc",job="node",mode="idle"}"#, 0.75),
        (r#"{instance="abc",job="node",mode="user"}"#, 0.25),
        (r#"{instance="def",job="node",mode="idle"}"#, 0.8),
        (r#"{instance="def",job="node",mode="user"}"#, 0.2),
    ];
    check(vector_binop(Div, &cpu, &sums, &m(ManyToOne, true, &["instance"], &[]), false, TS).unwrap(), &ratios);
    check(vector_binop(Div, &cpu, &sums, &m(ManyToOne, false, &["mode"], &["dummy"]), false, TS).unwrap(), &ratios);
    // `node_cpu + on(dummy) group_left(foo) random*0`.
    let random0 = v(&[(r#"{foo="bar"}"#, 0.0)]);
    check(vector_binop(Add, &cpu, &random0, &m(ManyToOne, true, &["dummy"], &["foo"]), false, TS).unwrap(), &[
        (r#"{instance="abc",job="node",mode="idle",foo="bar"}"#, 3.0),
        (r#"{instance="abc",job="node",mode="user",foo="bar"}"#, 1.0),
        (r#"{instance="def",job="node",mode="idle",foo="bar"}"#, 8.0),
        (r#"{instance="def",job="node",mode="user",foo="bar"}"#, 2.0),
    ]);
    // `node_cpu > on(job, instance) group_left(target) threshold`: comparisons keep the name.
    let threshold = v(&[(r#"threshold{instance="abc",job="node",target="a@b.com"}"#, 0.0)]);
    check(vector_binop(Gt, &cpu, &threshold, &m(ManyToOne, true, &["job", "instance"], &["target"]), false, TS).unwrap(), &[
        (r#"node_cpu{instance="abc",job="node",mode="idle",target="a@b.com"}"#, 3.0),
        (r#"node_cpu{instance="abc",job="node",mode="user",target="a@b.com"}"#, 1.0),
    ]);
}

#[test]
fn matching_errors() {
    let h = http_requests();
    let api = select(&h, |l| l.get("job") == "api-server");
    let on_job = m(OneToOne, true, &["job"], &[]);
    // By hand from engine.go's format: the second series of the group, then the first, as
    // Go's Labels.String prints them (`__name__` as any label).
    let err = vector_binop(Div, &api, &api, &on_job, false, TS).unwrap_err();
    assert_eq!(err, EvalError::Execution(
        r#"found duplicate series for the match group {job="api-server"} on the right hand-side of the operation: [{__name__="http_requests", group="canary", instance="1", job="api-server"}, {__name__="http_requests", group="canary", instance="0", job="api-server"}];many-to-many matching not allowed: matching labels must be unique on one side"#.to_string()));
    // group_right: the "one" side is the left one.
    let one = select(&api, |l| l.get("instance") == "0" && l.get("group") == "canary");
    let err = vector_binop(Div, &api, &one, &m(OneToMany, false, &["group", "instance"], &[]), false, TS).unwrap_err();
    assert_eq!(err, EvalError::Execution(
        r#"found duplicate series for the match group {job="api-server"} on the left hand-side of the operation: [{__name__="http_requests", group="canary", instance="1", job="api-server"}, {__name__="http_requests", group="canary", instance="0", job="api-server"}];many-to-many matching not allowed: matching labels must be unique on one side"#.to_string()));
    // Many on the left without group_left.
    let err = vector_binop(Div, &api, &one, &on_job, false, TS).unwrap_err();
    assert_eq!(err, EvalError::Execution(
        "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)".to_string()));
    // group_left whose results collide once `+` drops the names.
    let ab = v(&[(r#"a{x="1"}"#, 1.0), (r#"b{x="1"}"#, 5.0)]);
    let c = v(&[(r#"c{x="1"}"#, 3.0)]);
    let err = vector_binop(Add, &ab, &c, &m(ManyToOne, true, &["x"], &[]), false, TS).unwrap_err();
    assert_eq!(err, EvalError::Execution("multiple matches for labels: grouping labels must ensure unique matches".to_string()));
    // A comparison's filtered sample is not a match; with `bool` both are. (One-to-one `on`
    // keeps only the `on` labels, so the name goes even for a comparison.)
    check(vector_binop(Gt, &ab, &c, &m(OneToOne, true, &["x"], &[]), false, TS).unwrap(), &[(r#"{x="1"}"#, 5.0)]);
    assert!(vector_binop(Gt, &ab, &c, &m(OneToOne, true, &["x"], &[]), true, TS).is_err());
    // An empty side short-circuits before the duplicate check.
    assert_eq!(vector_binop(Div, &[], &api, &on_job, false, TS).unwrap(), vec![]);
}

#[test]
fn and_or_unless() {
    let h = http_requests();
    let canary = select(&h, |l| l.get("group") == "canary");
    let inst0 = select(&h, |l| l.get("instance") == "0");
    let inst1 = select(&h, |l| l.get("instance") == "1");
    let prod0 = select(&inst0, |l| l.get("group") == "production");
    let plus1 = vector_scalar_binop(Add, &canary, 1.0, false, false, TS);
    // operators.test: `http_requests{group="canary"} and http_requests{instance="0"}`.
    check(vector_and(&canary, &inst0, &set(false, &[]), TS), &[
        (r#"http_requests{group="canary", instance="0", job="api-server"}"#, 300.0),
        (r#"http_requests{group="canary", instance="0", job="app-server"}"#, 700.0),
    ]);
    // `(http_requests{group="canary"} + 1) and on(instance, job) / on(instance) / ignoring(group)
    // / ignoring(group, job) http_requests{instance="0", group="production"}`.
    let want = [
        (r#"{group="canary", instance="0", job="api-server"}"#, 301.0),
        (r#"{group="canary", instance="0", job="app-server"}"#, 701.0),
    ];
    check(vector_and(&plus1, &prod0, &set(true, &["instance", "job"]), TS), &want);
    check(vector_and(&plus1, &prod0, &set(true, &["instance"]), TS), &want);
    check(vector_and(&plus1, &prod0, &set(false, &["group"]), TS), &want);
    check(vector_and(&plus1, &prod0, &set(false, &["group", "job"]), TS), &want);
    // `(http_requests{group="canary"} + 1) or http_requests{instance="1"}`: lhs, then rhs.
    let or = vector_or(&plus1, &inst1, &set(false, &[]), TS);
    check_as(or, &[
        (r#"{group="canary", instance="0", job="api-server"}"#, 301.0),
        (r#"{group="canary", instance="0", job="app-server"}"#, 701.0),
        (r#"{group="canary", instance="1", job="api-server"}"#, 401.0),
        (r#"{group="canary", instance="1", job="app-server"}"#, 801.0),
        (r#"http_requests{group="production", instance="1", job="api-server"}"#, 200.0),
        (r#"http_requests{group="production", instance="1", job="app-server"}"#, 600.0),
    ], true);
    // `... or on(instance) (http_requests or cpu_count or vector_matching_a)`, and ignoring(l, group, job).
    let mut rhs = h.clone();
    rhs.extend(v(&[(r#"vector_matching_a{l="x"}"#, 10.0), (r#"vector_matching_a{l="y"}"#, 20.0)]));
    let want = [
        (r#"{group="canary", instance="0", job="api-server"}"#, 301.0),
        (r#"{group="canary", instance="0", job="app-server"}"#, 701.0),
        (r#"{group="canary", instance="1", job="api-server"}"#, 401.0),
        (r#"{group="canary", instance="1", job="app-server"}"#, 801.0),
        (r#"vector_matching_a{l="x"}"#, 10.0),
        (r#"vector_matching_a{l="y"}"#, 20.0),
    ];
    check(vector_or(&plus1, &rhs, &set(true, &["instance"]), TS), &want);
    check(vector_or(&plus1, &rhs, &set(false, &["l", "group", "job"]), TS), &want);
    // unless: plain, on(job), on(job, instance), ignoring(group, instance), ignoring(group).
    let canary1 = [
        (r#"http_requests{group="canary", instance="1", job="api-server"}"#, 400.0),
        (r#"http_requests{group="canary", instance="1", job="app-server"}"#, 800.0),
    ];
    check(vector_unless(&canary, &inst0, &set(false, &[]), TS), &canary1);
    check(vector_unless(&canary, &inst0, &set(true, &["job"]), TS), &[]);
    check(vector_unless(&canary, &inst0, &set(true, &["job", "instance"]), TS), &canary1);
    check(vector_unless(&canary, &inst0, &set(false, &["group", "instance"]), TS), &[]);
    check(vector_unless(&canary, &inst0, &set(false, &["group"]), TS), &canary1);
    // `http_requests AND ON (dummy) vector(1)` and `AND IGNORING (group, instance, job) vector(1)`.
    let one = v(&[("{}", 1.0)]);
    let all = |got: Vector| {
        assert_eq!(got.len(), h.len());
        assert!(got.iter().zip(&h).all(|(g, w)| g.labels == w.labels && g.point == Point { t: TS, v: w.point.v }));
    };
    all(vector_and(&h, &one, &set(true, &["dummy"]), TS));
    all(vector_and(&h, &one, &set(false, &["group", "instance", "job"]), TS));
    // By hand: the empty cases.
    check(vector_and(&h, &[], &set(false, &[]), TS), &[]);
    check_as(vector_or(&[], &one, &set(false, &[]), TS), &[("{}", 1.0)], true);
    check_as(vector_or(&one, &[], &set(false, &[]), TS), &[("{}", 1.0)], true);
    check(vector_unless(&one, &[], &set(false, &[]), TS), &[("{}", 1.0)]);
    check(vector_unless(&[], &one, &set(false, &[]), TS), &[]);
}
