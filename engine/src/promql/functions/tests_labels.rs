//! Tests of label_replace, label_join, absent and absent_over_time. Expected values are from
//! Prometheus v2.42.0 promql/testdata/functions.test (cited by their `eval` line) or
//! computed by hand.

use super::testutil::*;
use crate::promql::error::EvalError;
use crate::promql::plan::{MatchOp, Node};
use crate::promql::value::{Labels, Series, Value};

fn testmetric() -> Value {
    vector(&[
        (&[("__name__", "testmetric"), ("src", "source-value-10"), ("dst", "original-destination-value")], 0.),
        (&[("__name__", "testmetric"), ("src", "source-value-20"), ("dst", "original-destination-value")], 1.),
    ])
}

fn replace(dst: &str, repl: &str, src: &str, re: &str) -> Result<Vec<(Labels, f64)>, EvalError> {
    let nodes = [Node::Number(0.), Node::String(dst.into()), Node::String(repl.into()), Node::String(src.into()), Node::String(re.into())];
    call("label_replace", 0, vec![testmetric()], nodes.to_vec(), 0, 0).map(|v| pairs(&v))
}

fn tm(src: &str, dst: &str, v: f64) -> (Labels, f64) {
    (lbls(&[("__name__", "testmetric"), ("src", src), ("dst", dst)]), v)
}

#[test]
fn label_replace_functions_test() {
    let (s10, s20) = ("source-value-10", "source-value-20");
    let orig = "original-destination-value";
    // label_replace(testmetric, "dst", "destination-value-$1", "src", "source-value-(.*)")
    assert_eq!(
        replace("dst", "destination-value-$1", "src", "source-value-(.*)").unwrap(),
        vec![tm(s10, "destination-value-10", 0.), tm(s20, "destination-value-20", 1.)]
    );
    // No sub-string match.
    assert_eq!(replace("dst", "destination-value-$1", "src", "value-(.*)").unwrap(), vec![tm(s10, orig, 0.), tm(s20, orig, 1.)]);
    // Multiple capture groups.
    assert_eq!(replace("dst", "$1-value-$2", "src", "(.*)-value-(.*)").unwrap(), vec![tm(s10, s10, 0.), tm(s20, s20, 1.)]);
    // Nonexistent source label, not matched: unchanged.
    assert_eq!(replace("dst", "value-$1", "nonexistent-src", "source-value-(.*)").unwrap(), vec![tm(s10, orig, 0.), tm(s20, orig, 1.)]);
    // Nonexistent (empty) source label, matched: overwritten.
    assert_eq!(replace("dst", "value-$1", "nonexistent-src", "(.*)").unwrap(), vec![tm(s10, "value-", 0.), tm(s20, "value-", 1.)]);
    // Not matched: unchanged.
    assert_eq!(replace("dst", "value-$1", "src", "non-matching-regex").unwrap(), vec![tm(s10, orig, 0.), tm(s20, orig, 1.)]);
    // Set to empty: the label is dropped.
    let dropped = replace("dst", "", "dst", ".*").unwrap();
    assert_eq!(dropped[0], (lbls(&[("__name__", "testmetric"), ("src", s10)]), 0.));
}

#[test]
fn label_replace_errors_functions_test() {
    // eval_fail ... label_replace(testmetric, "dst", "value-$1", "src", "(.*")
    assert_eq!(
        replace("dst", "value-$1", "src", "(.*"),
        Err(EvalError::Execution("invalid regular expression in label_replace(): (.*".into()))
    );
    // eval_fail ... label_replace(testmetric, "invalid-label-name", "", "src", "(.*)")
    assert_eq!(
        replace("invalid-label-name", "", "src", "(.*)"),
        Err(EvalError::Execution("invalid destination label name in label_replace(): invalid-label-name".into()))
    );
}

#[test]
fn label_replace_template_by_hand() {
    // Go's Expand: "$1x" names group "1x" (empty), "${1}x" is group 1 then "x", "$$" is "$",
    // a named group by name, "$" before a non-name is literal.
    let got = |repl: &str, re: &str| replace("dst", repl, "src", re).unwrap()[0].0.get("dst").to_string();
    assert_eq!(got("$1x", "source-value-(.*)"), ""); // empty result: dst removed
    assert_eq!(got("${1}x", "source-value-(.*)"), "10x");
    assert_eq!(got("$$1-$1", "source-value-(.*)"), "$1-10");
    assert_eq!(got("$name!", "source-value-(?P<name>.*)"), "10!");
    assert_eq!(got("a$-b", "source-value-(.*)"), "a$-b");
    assert_eq!(got("$2", "source-value-(\\d)(\\d)"), "0");
}

fn join(args: &[&str]) -> Result<Vec<(Labels, f64)>, EvalError> {
    let m = vector(&[
        (&[("__name__", "testmetric"), ("src", "a"), ("src1", "b"), ("src2", "c"), ("dst", "original-destination-value")], 0.),
        (&[("__name__", "testmetric"), ("src", "d"), ("src1", "e"), ("src2", "f"), ("dst", "original-destination-value")], 1.),
    ]);
    let mut nodes = vec![Node::Number(0.)];
    nodes.extend(args.iter().map(|s| Node::String(s.to_string())));
    call("label_join", 0, vec![m], nodes, 0, 0).map(|v| pairs(&v))
}

#[test]
fn label_join_functions_test() {
    let l = |src: &str, s1: &str, s2: &str, dst: &str| {
        lbls(&[("__name__", "testmetric"), ("src", src), ("src1", s1), ("src2", s2), ("dst", dst)])
    };
    // label_join(testmetric, "dst", "-", "src", "src1", "src2")
    assert_eq!(join(&["dst", "-", "src", "src1", "src2"]).unwrap(), vec![(l("a", "b", "c", "a-b-c"), 0.), (l("d", "e", "f", "d-e-f"), 1.)]);
    // Nonexistent sources are empty strings.
    assert_eq!(join(&["dst", "-", "src", "src3", "src1"]).unwrap()[0], (l("a", "b", "c", "a--b"), 0.));
    // An empty result removes dst; so does no source at all.
    assert_eq!(join(&["dst", "", "emptysrc", "emptysrc1", "emptysrc2"]).unwrap()[0], (l("a", "b", "c", ""), 0.));
    assert_eq!(join(&["dst", ", "]).unwrap()[1], (l("d", "e", "f", ""), 1.));
    // Invalid names.
    assert_eq!(
        join(&["dst", "-", "src", "bad-src"]),
        Err(EvalError::Execution("invalid source label name in label_join(): bad-src".into()))
    );
    assert_eq!(join(&["1dst", "-", "src"]), Err(EvalError::Execution("invalid destination label name in label_join(): 1dst".into())));
}

fn absent_labels(matchers: &[(&str, MatchOp, &str)]) -> Vec<(Labels, f64)> {
    let mut m = vec![("__name__", MatchOp::Equal, "nonexistent")];
    m.extend(matchers.iter().cloned());
    pairs(&call("absent", 50 * M, vec![Value::Vector(vec![])], vec![selector(&m)], 0, 0).unwrap())
}

#[test]
fn absent_functions_test() {
    use MatchOp::*;
    // eval instant at 50m absent(nonexistent) -> {} 1
    assert_eq!(absent_labels(&[]), vec![(lbls(&[]), 1.)]);
    // absent(nonexistent{job="testjob", instance="testinstance", method=~".x"})
    assert_eq!(
        absent_labels(&[("job", Equal, "testjob"), ("instance", Equal, "testinstance"), ("method", Regex, ".x")]),
        vec![(lbls(&[("instance", "testinstance"), ("job", "testjob")]), 1.)]
    );
    // absent(nonexistent{job="testjob",job="testjob2",foo="bar"}) -> {foo="bar"}
    assert_eq!(absent_labels(&[("job", Equal, "testjob"), ("job", Equal, "testjob2"), ("foo", Equal, "bar")]), vec![(lbls(&[("foo", "bar")]), 1.)]);
    let three = [("job", Equal, "testjob"), ("job", Equal, "testjob2"), ("job", Equal, "three"), ("foo", Equal, "bar")];
    assert_eq!(absent_labels(&three), vec![(lbls(&[("foo", "bar")]), 1.)]);
    // absent(nonexistent{job="testjob",job=~"testjob2",foo="bar"}) -> {foo="bar"}
    assert_eq!(absent_labels(&[("job", Equal, "testjob"), ("job", Regex, "testjob2"), ("foo", Equal, "bar")]), vec![(lbls(&[("foo", "bar")]), 1.)]);
    // Something there: nothing. Not a selector (absent(sum(nonexistent{...}))): {} 1.
    let some = vector(&[(&[("job", "api-server")], 1.)]);
    assert!(call("absent", 0, vec![some], vec![selector(&[])], 0, 0).unwrap().is_empty());
    let agg = call("absent", 0, vec![Value::Vector(vec![])], vec![Node::Number(0.)], 0, 0).unwrap();
    assert_eq!(pairs(&agg), vec![(lbls(&[]), 1.)]);
}

#[test]
fn absent_over_time_functions_test() {
    use MatchOp::*;
    let run = |matrix: Vec<Series>, matchers: &[(&str, MatchOp, &str)]| {
        let node = match selector(matchers) {
            Node::Vector(s) => Node::Matrix { selector: s, range: 5 * M },
            _ => unreachable!(),
        };
        pairs(&call("absent_over_time", M, vec![Value::Matrix(matrix)], vec![node], 5 * M, 0).unwrap())
    };
    let name = ("__name__", Equal, "http_requests");
    // eval instant at 1m absent_over_time(http_requests{handler="/foo"}[5m]) -> {handler="/foo"}
    assert_eq!(run(vec![], &[name.clone(), ("handler", Equal, "/foo")]), vec![(lbls(&[("handler", "/foo")]), 1.)]);
    // absent_over_time(http_requests{handler!="/foo"}[5m]) -> {}
    assert_eq!(run(vec![], &[name.clone(), ("handler", NotEqual, "/foo")]), vec![(lbls(&[]), 1.)]);
    // {handler="/foo", handler="/bar", instance="127.0.0.1"} -> {instance="127.0.0.1"}
    let m = [name.clone(), ("handler", Equal, "/foo"), ("handler", Equal, "/bar"), ("instance", Equal, "127.0.0.1")];
    assert_eq!(run(vec![], &m), vec![(lbls(&[("instance", "127.0.0.1")]), 1.)]);
    // A series with points in the window: nothing. A series without: absent.
    let s = series(&[("job", "x")], M, &[1.]);
    assert!(run(vec![s.clone()], &[name.clone()]).is_empty());
    let empty = Series { labels: s.labels, points: vec![] };
    assert_eq!(run(vec![empty], &[("job", Equal, "grok")]), vec![(lbls(&[("job", "grok")]), 1.)]);
}
