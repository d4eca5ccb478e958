//! Parser tests on the shape of the syntax tree (the table tests in
//! `parser_cases.rs` compare canonical strings and error texts).

use super::*;
use super::super::functions::get_function;
use MatchKind::*;

fn p(s: &str) -> Expr {
    parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
}

fn err(s: &str) -> String {
    parse(s).unwrap_err().to_string()
}

fn m(kind: MatchKind, name: &str, value: &str) -> LabelMatcher {
    LabelMatcher::new(kind, name, value)
}

fn sel(name: Option<&str>, mut matchers: Vec<LabelMatcher>) -> VectorSelector {
    if let Some(n) = name {
        matchers.push(m(Equal, "__name__", n));
    }
    VectorSelector { name: name.map(String::from), matchers, offset_ms: 0, at: None }
}

fn vs(name: &str) -> Expr {
    Expr::VectorSelector(sel(Some(name), vec![]))
}

fn num(v: f64) -> Expr {
    Expr::NumberLiteral(v)
}

fn bin(op: BinaryOp, lhs: Expr, rhs: Expr, matching: Option<VectorMatching>) -> Expr {
    Expr::Binary { op, lhs: Box::new(lhs), rhs: Box::new(rhs), return_bool: false, matching }
}

fn one_to_one() -> Option<VectorMatching> {
    Some(VectorMatching { card: VectorMatchCardinality::OneToOne, on: false, labels: vec![], include: vec![] })
}

#[test]
fn number_forms() {
    for (s, v) in [
        ("1", 1.0), ("1.5", 1.5), (".5", 0.5), ("5.", 5.0), ("1e3", 1000.0), ("1E-7", 1e-7),
        ("0x1F", 31.0), ("0X1f", 31.0), ("017", 15.0), ("09", 9.0), ("+5", 5.0), ("-5", -5.0),
        ("- -5", 5.0), ("Inf", f64::INFINITY), ("-inf", f64::NEG_INFINITY), ("1e-400", 0.0),
    ] {
        assert_eq!(p(s), num(v), "{s}");
    }
    assert!(matches!(p("NaN"), Expr::NumberLiteral(v) if v.is_nan()));
    assert!(matches!(p("-nAn"), Expr::NumberLiteral(v) if v.is_nan()));
    assert_eq!(err("1e999"), "1:1: parse error: error parsing number: strconv.ParseFloat: parsing \"1e999\": value out of range");
}

#[test]
fn string_escapes() {
    for (s, v) in [
        (r#""a\tb\nc""#, "a\tb\nc"), (r"'it\'s'", "it's"), (r#""say \"hi\"""#, "say \"hi\""),
        (r#""\\d+""#, "\\d+"), ("`\\d+`", "\\d+"), (r#""\x41\101\u00e9\U0001F600""#, "AAé😀"),
        (r#""\a\b\f\r\v""#, "\x07\x08\x0c\r\x0b"), (r#""\xc3\xa9""#, "é"), ("'\"'", "\""),
    ] {
        assert_eq!(p(s), Expr::StringLiteral(v.into()), "{s}");
    }
    assert_eq!(p(r#""\u263a""#).to_string(), "\"☺\"");
    assert_eq!(p("'\\x01\\u00a0'").to_string(), r#""\x01\u00a0""#);
    assert_eq!(err(r#""\c""#), "1:1: parse error: unknown escape sequence U+0063 'c'");
}

#[test]
fn every_matcher_kind() {
    let e = p(r#"foo{a="1", b!="2", c=~"3.*", d!~'4', e=`5`}"#);
    let want = sel(Some("foo"), vec![m(Equal, "a", "1"), m(NotEqual, "b", "2"), m(Regex, "c", "3.*"), m(NotRegex, "d", "4"), m(Equal, "e", "5")]);
    assert_eq!(e, Expr::VectorSelector(want));
    assert_eq!(p(r#"{job="x"}"#), Expr::VectorSelector(sel(None, vec![m(Equal, "job", "x")])));
    assert_eq!(p(r#"{__name__=~"a.*"}"#), Expr::VectorSelector(sel(None, vec![m(Regex, "__name__", "a.*")])));
    // Keywords are plain label names inside braces; trailing comma allowed.
    assert_eq!(p(r#"x{on="1",by="2",}"#), Expr::VectorSelector(sel(Some("x"), vec![m(Equal, "on", "1"), m(Equal, "by", "2")])));
    assert!(m(Regex, "a", ".*").matches_empty() && !m(Regex, "a", ".+").matches_empty());
    assert!(m(NotRegex, "a", ".+").matches_empty() && m(NotEqual, "a", "x").matches_empty());
    assert!(regex_matches_empty("(a|)") && regex_matches_empty("x{0,3}") && !regex_matches_empty("x{1,3}"));
    assert!(regex_matches_empty("(?i)(?:a*|b+)") && !regex_matches_empty("[^a]*?b") && regex_matches_empty("\\Q\\E"));
}

#[test]
fn keywords_as_metric_names() {
    for name in ["sum", "by", "without", "and", "or", "unless", "offset", "start", "end", "topk", "SUM", "x:y"] {
        assert_eq!(p(name), vs(name), "{name}");
    }
    assert_eq!(p("sum{a=\"b\"}"), Expr::VectorSelector(sel(Some("sum"), vec![m(Equal, "a", "b")])));
    assert_eq!(p("foo and and"), bin(BinaryOp::And, vs("foo"), vs("and"), Some(VectorMatching {
        card: VectorMatchCardinality::ManyToMany, on: false, labels: vec![], include: vec![],
    })));
}

#[test]
fn durations_and_ranges() {
    for (d, ms) in [("5m", 300_000), ("1h30m", 5_400_000), ("250ms", 250), ("1d", 86_400_000), ("2w", 1_209_600_000), ("1y", 31_536_000_000), ("1m30s500ms", 90_500)] {
        let e = p(&format!("foo[{d}]"));
        assert_eq!(e, Expr::MatrixSelector { vector: sel(Some("foo"), vec![]), range_ms: ms }, "{d}");
        assert_eq!(e.value_type(), ValueType::Matrix);
    }
    assert_eq!(p("foo[90s]").to_string(), "foo[1m30s]");
    assert_eq!(p("foo[14d]").to_string(), "foo[2w]");
    assert_eq!(err("foo[5m1h]"), "1:5: parse error: not a valid duration string: \"5m1h\"");
    assert_eq!(err("foo[0s]"), "1:5: parse error: duration must be greater than 0");
}

#[test]
fn offset_and_at_in_either_order() {
    let want = VectorSelector { offset_ms: 300_000, at: Some(At::Timestamp(100_000)), ..sel(Some("foo"), vec![]) };
    assert_eq!(p("foo offset 5m @ 100"), Expr::VectorSelector(want.clone()));
    assert_eq!(p("foo @ 100 offset 5m"), Expr::VectorSelector(want.clone()));
    assert_eq!(p("foo @ 100 offset 5m").to_string(), "foo @ 100.000 offset 5m");
    let neg = p("foo offset -1h");
    assert!(matches!(neg, Expr::VectorSelector(VectorSelector { offset_ms: -3_600_000, .. })));
    assert_eq!(neg.to_string(), "foo offset -1h");
    assert!(matches!(p("foo @ start()"), Expr::VectorSelector(VectorSelector { at: Some(At::Start), .. })));
    assert!(matches!(p("foo @ END()"), Expr::VectorSelector(VectorSelector { at: Some(At::End), .. })));
    assert!(matches!(p("foo @ -1.0005"), Expr::VectorSelector(VectorSelector { at: Some(At::Timestamp(-1001)), .. })));
    let m = p("foo[5m] @ end() offset -10s");
    assert!(matches!(m, Expr::MatrixSelector { vector: VectorSelector { offset_ms: -10_000, at: Some(At::End), .. }, range_ms: 300_000 }));
    // `@ start()` before a range is accepted, as in Go (only timestamps are refused).
    assert_eq!(p("foo @ start() [5m]").to_string(), "foo[5m] @ start()");
    assert_eq!(err("foo @ 1 [5m]"), "1:9: parse error: no @ modifiers allowed before range");
    assert_eq!(err("foo offset 1m [5m]"), "1:15: parse error: no offset modifiers allowed before range");
    assert_eq!(err("foo @ 1 @ 2"), "1:1: parse error: @ <timestamp> may not be set multiple times");
    assert_eq!(err("foo offset 1m offset 2m"), "1:1: parse error: offset may not be set multiple times");
    assert_eq!(err("(foo) offset 1m"), "1:1: parse error: offset modifier must be preceded by an instant vector selector or range vector selector or a subquery");
    assert_eq!(err("foo @ Inf"), "1:1: parse error: timestamp out of bounds for @ modifier: +Inf");
}

#[test]
fn subqueries() {
    let e = p("rate(foo[5m])[30m:1m] offset 1h @ 50");
    let Expr::Subquery { expr, range_ms, step_ms, offset_ms, at } = &e else { panic!("{e:?}") };
    assert_eq!((*range_ms, *step_ms, *offset_ms, *at), (1_800_000, Some(60_000), 3_600_000, Some(At::Timestamp(50_000))));
    assert!(matches!(**expr, Expr::Call { func, .. } if func.name == "rate"));
    assert_eq!(e.value_type(), ValueType::Matrix);
    let e = p("foo[5m:]");
    assert!(matches!(e, Expr::Subquery { step_ms: None, offset_ms: 0, at: None, .. }));
    let nested = p("max_over_time(deriv(rate(foo[1m])[5m:1m])[10m:])");
    assert_eq!(nested.to_string(), "max_over_time(deriv(rate(foo[1m])[5m:1m])[10m:])");
    assert_eq!(err("foo[5m:][1m:][1m]"), "1:14: parse error: ranges only allowed for vector selectors");
    assert_eq!(err("foo[5m][1m:]"), "1:1: parse error: subquery is only allowed on instant vector, got matrix instead");
}

#[test]
fn every_aggregation_form() {
    for op in AggregateOp::ALL {
        let (src, want_param) = match op {
            AggregateOp::CountValues => (format!("{}(\"v\", foo)", op), Some(Expr::StringLiteral("v".into()))),
            o if o.takes_param() => (format!("{}(3, foo)", op), Some(num(3.0))),
            _ => (format!("{}(foo)", op), None),
        };
        let want = Expr::Aggregate { op, expr: Box::new(vs("foo")), param: want_param.map(Box::new), grouping: vec![], without: false };
        assert_eq!(p(&src), want, "{src}");
        assert_eq!(p(&src).to_string(), src);
        assert_eq!(AggregateOp::from_name(&op.as_str().to_uppercase()), Some(op));
    }
    let agg = |s: &str| match p(s) {
        Expr::Aggregate { grouping, without, .. } => (grouping, without),
        e => panic!("{e:?}"),
    };
    assert_eq!(agg("sum by (a, B) (foo)"), (vec!["a".to_string(), "B".to_string()], false));
    assert_eq!(agg("sum(foo) by (a)"), (vec!["a".to_string()], false));
    assert_eq!(agg("SUM WITHOUT (on, offset,) (foo)"), (vec!["on".to_string(), "offset".to_string()], true));
    assert_eq!(agg("sum(foo) without ()"), (vec![], true));
    assert_eq!(p("topk by (a) (5, foo)").to_string(), "topk by (a) (5, foo)");
    assert_eq!(p("sum without () (foo)").to_string(), "sum without () (foo)");
    assert_eq!(p("sum by () (foo)").to_string(), "sum(foo)");
    assert_eq!(err("topk(foo)"), "1:1: parse error: wrong number of arguments for aggregate expression provided, expected 2, got 1");
    assert_eq!(err("sum by (a) (foo) by (b)"), "1:18: parse error: unexpected <by>");
    assert_eq!(err("sum(foo bar)"), "1:9: parse error: unexpected identifier \"bar\" in aggregation");
}

#[test]
fn precedence_and_associativity() {
    use BinaryOp::*;
    let (a, b, c) = (|| vs("a"), || vs("b"), || vs("c"));
    assert_eq!(p("a + b * c"), bin(Add, a(), bin(Mul, b(), c(), one_to_one()), one_to_one()));
    assert_eq!(p("a - b - c"), bin(Sub, bin(Sub, a(), b(), one_to_one()), c(), one_to_one()));
    assert_eq!(p("a ^ b ^ c"), bin(Pow, a(), bin(Pow, b(), c(), one_to_one()), one_to_one()));
    assert_eq!(p("a / b atan2 c"), bin(Atan2, bin(Div, a(), b(), one_to_one()), c(), one_to_one()));
    let unary = |e: Expr| Expr::Unary { op: UnaryOp::Minus, expr: Box::new(e) };
    // `^` binds tighter than unary minus, which binds like `*`.
    assert_eq!(p("-2 ^ 2"), unary(bin(Pow, num(2.0), num(2.0), None)));
    assert_eq!(p("-a * b"), bin(Mul, unary(a()), b(), one_to_one()));
    assert_eq!(p("-a ^ b"), unary(bin(Pow, a(), b(), one_to_one())));
    assert_eq!(p("2 ^ -1"), bin(Pow, num(2.0), num(-1.0), None));
    let mm = Some(VectorMatching { card: VectorMatchCardinality::ManyToMany, on: false, labels: vec![], include: vec![] });
    assert_eq!(p("a or b and c"), bin(Or, a(), bin(And, b(), c(), mm.clone()), mm.clone()));
    assert_eq!(p("a and b unless c"), bin(Unless, bin(And, a(), b(), mm.clone()), c(), mm));
    assert_eq!(p("a == b + c").to_string(), "a == b + c");
    assert!(matches!(p("a == b + c"), Expr::Binary { op: Eql, .. }));
    assert!(matches!(p("a or b == c"), Expr::Binary { op: Or, .. }));
    // Postfix modifiers bind to the nearest operand.
    assert!(matches!(p("-foo offset 5m"), Expr::Unary { expr, .. } if matches!(*expr, Expr::VectorSelector(VectorSelector { offset_ms: 300_000, .. }))));
    assert!(matches!(p("a + b @ 5"), Expr::Binary { rhs, .. } if matches!(*rhs, Expr::VectorSelector(VectorSelector { at: Some(_), .. }))));
}

#[test]
fn binary_modifiers_and_vector_matching() {
    let get = |s: &str| match p(s) {
        Expr::Binary { return_bool, matching, .. } => (return_bool, matching),
        e => panic!("{e:?}"),
    };
    let vm = |card, on, labels: &[&str], include: &[&str]| {
        let v = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        Some(VectorMatching { card, on, labels: v(labels), include: v(include) })
    };
    use VectorMatchCardinality::*;
    assert_eq!(get("a * on(x, y) b"), (false, vm(OneToOne, true, &["x", "y"], &[])));
    assert_eq!(get("a * ignoring(x) b"), (false, vm(OneToOne, false, &["x"], &[])));
    assert_eq!(get("a * on(x) group_left b"), (false, vm(ManyToOne, true, &["x"], &[])));
    assert_eq!(get("a * on(x) group_left(y) b"), (false, vm(ManyToOne, true, &["x"], &["y"])));
    assert_eq!(get("a / ignoring(x) group_right(y, z) b"), (false, vm(OneToMany, false, &["x"], &["y", "z"])));
    assert_eq!(get("a > bool on(x) b"), (true, vm(OneToOne, true, &["x"], &[])));
    assert_eq!(get("a and on(x) b"), (false, vm(ManyToMany, true, &["x"], &[])));
    assert_eq!(get("a > bool 1"), (true, None));
    assert_eq!(get("1 + on() 2"), (false, None));
    assert_eq!(p("a * on(x) group_left b").to_string(), "a * on (x) group_left () b");
    assert_eq!(p("a * ignoring() b").to_string(), "a * b");
    assert_eq!(err("a * on(x) group_left(x) b"), "1:3: parse error: label \"x\" must not occur in ON and GROUP clause at once");
    assert_eq!(err("a and on(x) group_left(y) b"), "1:1: parse error: no grouping allowed for \"and\" operation");
    assert_eq!(err("a + bool b"), "1:3: parse error: bool modifier can only be used on comparison operators");
    assert_eq!(err("1 == 1"), "1:3: parse error: comparisons between scalars must use BOOL modifier");
    assert_eq!(err("a or 1"), "1:1: parse error: set operator \"or\" not allowed in binary scalar expression");
    assert_eq!(err("a == on(x) 1"), "1:1: parse error: vector matching only allowed between instant vectors");
    assert_eq!(err("a + on(x) group_left *"), "1:22: parse error: unexpected <op:*> in grouping opts, expected \"(\"");
}

#[test]
fn function_calls() {
    let e = p("label_join(up, \"dst\", \",\", \"a\", \"b\", \"c\")");
    let Expr::Call { func, args } = &e else { panic!() };
    assert!(std::ptr::eq(*func, get_function("label_join").unwrap()));
    assert_eq!(args.len(), 6);
    assert_eq!(p("time()").value_type(), ValueType::Scalar);
    assert_eq!(p("round(foo)").to_string(), "round(foo)");
    assert_eq!(p("histogram_count(foo)").to_string(), "histogram_count(foo)");
    assert_eq!(err("rate(foo)"), "1:6: parse error: expected type range vector in call to function \"rate\", got instant vector");
    assert_eq!(err("time(foo)"), "1:1: parse error: expected 0 argument(s) in call to \"time\", got 1");
    assert_eq!(err("label_join(foo)"), "1:1: parse error: expected at least 3 argument(s) in call to \"label_join\", got 1");
    assert_eq!(err("hour(a, b)"), "1:1: parse error: expected at most 1 argument(s) in call to \"hour\", got 2");
    assert_eq!(err("RATE(foo[1m])"), "1:1: parse error: unknown function with name \"RATE\"");
    assert_eq!(err("rate(foo[1m],)"), "1:13: parse error: trailing commas not allowed in function call args");
}

#[test]
fn value_types() {
    for (s, t) in [
        ("1", ValueType::Scalar), ("\"s\"", ValueType::String), ("foo", ValueType::Vector), ("foo[1m]", ValueType::Matrix),
        ("foo[1m:]", ValueType::Matrix), ("-foo", ValueType::Vector), ("(1)", ValueType::Scalar), ("1 + 2", ValueType::Scalar),
        ("1 + foo", ValueType::Vector), ("sum(foo)", ValueType::Vector), ("scalar(foo)", ValueType::Scalar),
    ] {
        assert_eq!(p(s).value_type(), t, "{s}");
    }
    assert_eq!(ValueType::Matrix.documented(), "range vector");
    assert_eq!(ValueType::Vector.to_string(), "vector");
}

#[test]
fn error_positions_and_format() {
    let e = parse("foo +\n  bar{a=b}").unwrap_err();
    assert_eq!((e.pos, e.line, e.col), (14, 2, 9));
    assert_eq!(e.msg, "unexpected identifier \"b\" in label matching, expected string");
    assert_eq!(e.to_string(), "2:9: parse error: unexpected identifier \"b\" in label matching, expected string");
    assert_eq!(err(""), "1:1: parse error: no expression found in input");
    assert_eq!(err("# only a comment\n"), "1:1: parse error: no expression found in input");
    assert_eq!(err("sum(rate(x[5m])"), "1:16: parse error: unclosed left parenthesis");
    assert_eq!(err("foo @"), "1:6: parse error: unexpected end of input in @, expected timestamp");
    assert_eq!(err("foo offset"), "1:11: parse error: unexpected end of input in offset, expected duration");
    assert_eq!(err("@ 1"), "1:1: parse error: unexpected \"<Item 57385>\" <op:@>");
    assert_eq!(err("{}"), "1:1: parse error: vector selector must contain at least one non-empty matcher");
    assert_eq!(err("foo{__name__=\"bar\"}"), "1:1: parse error: metric name must not be set twice: \"foo\" or \"bar\"");
    assert_eq!(err("1 +\n\n  \"x\" # c"), "3:3: parse error: binary expression must contain only scalar and instant vector types");
}

#[test]
fn display_of_built_trees() {
    let e = Expr::Aggregate {
        op: AggregateOp::Sum,
        expr: Box::new(Expr::Call {
            func: get_function("rate").unwrap(),
            args: vec![Expr::MatrixSelector {
                vector: VectorSelector { offset_ms: 3_600_000, ..sel(Some("http_requests_total"), vec![m(Regex, "code", "5..")]) },
                range_ms: 300_000,
            }],
        }),
        param: None,
        grouping: vec!["job".into()],
        without: false,
    };
    assert_eq!(e.to_string(), "sum by (job) (rate(http_requests_total{code=~\"5..\"}[5m] offset 1h))");
    assert_eq!(p(&e.to_string()), e);
    assert_eq!(m(NotRegex, "a", "x\"y").to_string(), "a!~\"x\\\"y\"");
    assert_eq!(p("foo{z=\"1\",a=\"2\"}").to_string(), "foo{a=\"2\",z=\"1\"}");
    assert_eq!(p("1e6 + 0.00001 + 123456").to_string(), "1e+06 + 1e-05 + 123456");
}

#[test]
fn depth_limits() {
    let n = MAX_NESTING - 1;
    let parens = format!("{}foo{}", "(".repeat(n), ")".repeat(n));
    assert_eq!(parse(&parens).unwrap().to_string(), parens);
    let chain = format!("foo{}", " + foo".repeat(MAX_DEPTH - 1));
    assert_eq!(parse(&chain).unwrap().to_string(), chain);
    let deep = format!("{}foo{}", "(".repeat(MAX_NESTING + 1), ")".repeat(MAX_NESTING + 1));
    assert_eq!(err(&deep), "1:65: parse error: expression too nested (more than 64 levels)");
    let long = format!("foo{}", " + foo".repeat(MAX_DEPTH + 1));
    assert_eq!(parse(&long).unwrap_err().msg, "expression too deep (more than 500 levels)");
    assert!(parse(&format!("foo{}", "[1m:]".repeat(MAX_DEPTH + 1))).is_err());
    // Prometheus' own pathological case, scaled to the limits: same first error.
    let q = format!("({}){}", "-{}-1".repeat(100), "[1m:]".repeat(100));
    assert_eq!(err(&q), "1:3: parse error: vector selector must contain at least one non-empty matcher");
}
