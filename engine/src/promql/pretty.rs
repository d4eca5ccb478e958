//! A parsed query printed as Prometheus 2.42 prints it: `text` is its `String()` (one line,
//! promql/parser/printer.go) and `pretty` its `Prettify` (promql/parser/prettier.go: a node
//! longer than 100 characters is broken across lines, two spaces of indent per level), what
//! `/api/v1/format_query` answers. Written over the `promql-parser` crate's AST rather than
//! with the crate's own `prettify`, which prints numbers with Rust's formatting (`1e+20`,
//! `1e-06` and `+Inf` are Go's) and negative `@` times as 0.
//!
//! Pure: no I/O, no evaluation.

use super::gofmt::{go_format_v, go_quote};
use crate::config::format_prometheus_duration;
use promql_parser::label::{Labels, MatchOp};
use promql_parser::parser::{AggregateExpr, AtModifier, BinaryExpr, Call, Expr, LabelModifier, Offset, SubqueryExpr, VectorMatchCardinality, VectorSelector};
use std::time::{Duration, SystemTime};

const MAX_CHARACTERS_PER_LINE: usize = 100;

/// `parser.Prettify`.
pub fn pretty(e: &Expr) -> String {
    pretty_at(e, 0)
}

fn indent(level: usize) -> String {
    "  ".repeat(level)
}

fn pretty_at(e: &Expr, level: usize) -> String {
    let line = text(e);
    let split = line.len() > MAX_CHARACTERS_PER_LINE;
    match e {
        Expr::Aggregate(a) if split => {
            let mut s = format!("{}{}(\n", indent(level), aggregation_op(a));
            if let Some(param) = &a.param {
                s += &format!("{},\n", pretty_at(param, level + 1));
            }
            s + &format!("{}\n{})", pretty_at(&a.expr, level + 1), indent(level))
        }
        Expr::Binary(b) if split => {
            format!("{}\n{}{}\n{}", pretty_at(&b.lhs, level + 1), indent(level), binary_op(b), pretty_at(&b.rhs, level + 1))
        }
        Expr::Call(c) if split => {
            let args: Vec<String> = c.args.args.iter().map(|a| pretty_at(a, level + 1)).collect();
            format!("{}{}(\n{}\n{})", indent(level), c.func.name, args.join(",\n"), indent(level))
        }
        Expr::Paren(p) if split => format!("{}(\n{}\n{})", indent(level), pretty_at(&p.expr, level + 1), indent(level)),
        // As Prometheus: an unbroken subquery takes no indent.
        Expr::Subquery(_) if !split => line,
        Expr::Subquery(s) => format!("{}{}", pretty_at(&s.expr, level), subquery_suffix(s)),
        Expr::Unary(u) => format!("{}-{}", indent(level), pretty_at(&u.expr, level).trim()),
        _ => format!("{}{line}", indent(level)),
    }
}

/// Prometheus' `String()` of a node.
pub fn text(e: &Expr) -> String {
    match e {
        Expr::Aggregate(a) => {
            let param = a.param.as_ref().map(|p| format!("{}, ", text(p))).unwrap_or_default();
            format!("{}({param}{})", aggregation_op(a), text(&a.expr))
        }
        Expr::Unary(u) => format!("-{}", text(&u.expr)),
        Expr::Binary(b) => format!("{} {} {}", text(&b.lhs), binary_op(b), text(&b.rhs)),
        Expr::Paren(p) => format!("({})", text(&p.expr)),
        Expr::Subquery(s) => format!("{}{}", text(&s.expr), subquery_suffix(s)),
        Expr::NumberLiteral(n) => go_format_v(n.val),
        Expr::StringLiteral(s) => go_quote(&s.val),
        Expr::VectorSelector(v) => selector(v, None),
        Expr::MatrixSelector(m) => selector(&m.vs, Some(m.range)),
        Expr::Call(c) => call(c),
        Expr::Extension(x) => x.expr.name().to_string(),
    }
}

fn call(c: &Call) -> String {
    let args: Vec<String> = c.args.args.iter().map(|a| text(a)).collect();
    format!("{}({})", c.func.name, args.join(", "))
}

fn names(labels: &Labels) -> String {
    labels.labels.join(", ")
}

/// `sum`, `sum by (a, b) `, `sum without (a) ` (`by ()` is left out, `without ()` is not).
fn aggregation_op(a: &AggregateExpr) -> String {
    let op = a.op.to_string();
    match &a.modifier {
        Some(LabelModifier::Exclude(l)) => format!("{op} without ({}) ", names(l)),
        Some(LabelModifier::Include(l)) if !l.labels.is_empty() => format!("{op} by ({}) ", names(l)),
        _ => op,
    }
}

/// The operator with `bool` and the vector matching: `/ on (a) group_left (b)`. As
/// Prometheus: matching only with `on` or labels to ignore, and a group modifier only then.
fn binary_op(b: &BinaryExpr) -> String {
    let mut s = b.op.to_string();
    let Some(m) = &b.modifier else { return s };
    if m.return_bool {
        s += " bool";
    }
    let matching = match &m.matching {
        Some(LabelModifier::Include(l)) => Some(format!(" on ({})", names(l))),
        Some(LabelModifier::Exclude(l)) if !l.labels.is_empty() => Some(format!(" ignoring ({})", names(l))),
        _ => None,
    };
    if let Some(matching) = matching {
        s += &matching;
        match &m.card {
            VectorMatchCardinality::ManyToOne(l) => s += &format!(" group_left ({})", names(l)),
            VectorMatchCardinality::OneToMany(l) => s += &format!(" group_right ({})", names(l)),
            _ => {}
        }
    }
    s
}

/// `name{matchers}[range] @ t offset d`: the matchers sorted as text, without the
/// `__name__` matcher the name stands for.
fn selector(v: &VectorSelector, range: Option<Duration>) -> String {
    let name = v.name.clone().unwrap_or_default();
    let mut matchers: Vec<String> = v
        .matchers
        .matchers
        .iter()
        .filter(|m| !(m.name == "__name__" && m.op == MatchOp::Equal && m.value == name))
        .map(|m| format!("{}{}{}", m.name, m.op, go_quote(&m.value)))
        .collect();
    matchers.sort();
    let mut s = name;
    if !matchers.is_empty() {
        s += &format!("{{{}}}", matchers.join(","));
    }
    if let Some(range) = range {
        s += &format!("[{}]", duration(range));
    }
    s + &at_and_offset(v.at.as_ref(), v.offset.as_ref())
}

/// `[range:step] @ t offset d` of a subquery.
fn subquery_suffix(s: &SubqueryExpr) -> String {
    let step = s.step.map(duration).unwrap_or_default();
    format!("[{}:{step}]{}", duration(s.range), at_and_offset(s.at.as_ref(), s.offset.as_ref()))
}

fn at_and_offset(at: Option<&AtModifier>, offset: Option<&Offset>) -> String {
    let at = match at {
        None => String::new(),
        Some(AtModifier::Start) => " @ start()".to_string(),
        Some(AtModifier::End) => " @ end()".to_string(),
        Some(AtModifier::At(t)) => format!(" @ {:.3}", unix_millis(*t) as f64 / 1000.0),
    };
    let offset = match offset {
        Some(Offset::Pos(d)) if !d.is_zero() => format!(" offset {}", duration(*d)),
        Some(Offset::Neg(d)) if !d.is_zero() => format!(" offset -{}", duration(*d)),
        _ => String::new(),
    };
    at + &offset
}

fn unix_millis(t: SystemTime) -> i64 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => d.as_millis() as i64,
        Err(before) => -(before.duration().as_millis() as i64),
    }
}

fn duration(d: Duration) -> String {
    format_prometheus_duration(d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use crate::promql::build::parse;

    fn formatted(q: &str) -> String {
        parse(q).expect("parses").pretty()
    }

    /// Prometheus 2.42's `/api/v1/format_query` answers to these queries.
    #[test]
    fn one_line_as_prometheus() {
        let cases = [
            ("sum by(job)(rate(foo[5m]))", "sum by (job) (rate(foo[5m]))"),
            ("sum(foo) by (job)", "sum by (job) (foo)"),
            ("sum by () (x)", "sum(x)"),
            ("sum(foo) without ()", "sum without () (foo)"),
            ("topk by (job) (3, foo)", "topk by (job) (3, foo)"),
            ("count_values(\"value\", foo)", "count_values(\"value\", foo)"),
            ("foo[5m] offset 1h @ 1609746000", "foo[5m] @ 1609746000.000 offset 1h"),
            ("foo @ 1609746000.5", "foo @ 1609746000.500"),
            ("foo @ -100", "foo @ -100.000"),
            ("rate(foo[5m] @ end())", "rate(foo[5m] @ end())"),
            ("rate(foo[5m])[30m:1m] offset 10m", "rate(foo[5m])[30m:1m] offset 10m"),
            ("stddev_over_time(foo[5m:1m] offset -5m)", "stddev_over_time(foo[5m:1m] offset -5m)"),
            ("foo * on(a,b) group_left(c) bar", "foo * on (a, b) group_left (c) bar"),
            ("foo * on() group_left bar", "foo * on () group_left () bar"),
            ("foo / ignoring(a) group_right(b, c) bar", "foo / ignoring (a) group_right (b, c) bar"),
            ("foo == bool on(a) bar", "foo == bool on (a) bar"),
            ("-(foo + bar)", "-(foo + bar)"),
            ("1 - -1", "1 - -1"),
            ("foo{a=`x\"y`}", "foo{a=\"x\\\"y\"}"),
            ("foo{b!~\"z\",a=~\"x|y\",a=\"c\"}", "foo{a=\"c\",a=~\"x|y\",b!~\"z\"}"),
            ("{__name__=~\"foo.*\"}", "{__name__=~\"foo.*\"}"),
            ("foo{}", "foo"),
            ("'single'", "\"single\""),
            ("Inf", "+Inf"),
            ("1e3", "1000"),
            ("0x10", "16"),
            ("100000000000000000000", "1e+20"),
            ("0.000001", "1e-06"),
            ("123456789012", "1.23456789012e+11"),
            ("foo[90s]", "foo[1m30s]"),
            ("foo[7d]", "foo[1w]"),
            ("foo[1500ms]", "foo[1s500ms]"),
            ("foo # comment", "foo"),
        ];
        for (q, want) in cases {
            assert_eq!(formatted(q), want, "{q}");
        }
    }

    #[test]
    fn long_queries_broken_as_prometheus() {
        let cases = [
            (
                "sum(rate(http_requests_total{job=\"api-server\",handler=\"/api/v1/query\"}[5m])) by (job) / sum(rate(http_requests_total{job=\"api-server\"}[5m])) by (job) > 0.5",
                "    sum by (job) (rate(http_requests_total{handler=\"/api/v1/query\",job=\"api-server\"}[5m]))\n  /\n    sum by (job) (rate(http_requests_total{job=\"api-server\"}[5m]))\n>\n  0.5",
            ),
            (
                "histogram_quantile(0.99, sum by (le, job, instance, handler) (rate(http_request_duration_seconds_bucket{job=\"apiserver\"}[5m])))",
                "histogram_quantile(\n  0.99,\n  sum by (le, job, instance, handler) (\n    rate(http_request_duration_seconds_bucket{job=\"apiserver\"}[5m])\n  )\n)",
            ),
            (
                "sum(rate(foo_bucket_long_metric_name[5m])) by (a) / on(a) group_left sum(rate(bar_other_long_metric_name[5m])) by (a)",
                "  sum by (a) (rate(foo_bucket_long_metric_name[5m]))\n/ on (a) group_left ()\n  sum by (a) (rate(bar_other_long_metric_name[5m]))",
            ),
            (
                "-(rate(http_requests_total{job=\"api-server\",handler=\"/api/v1/query\",code=\"200\"}[5m]) + rate(http_requests_total{job=\"api-server\",handler=\"/api/v1/query\",code=\"500\"}[5m]))",
                "-(\n    rate(http_requests_total{code=\"200\",handler=\"/api/v1/query\",job=\"api-server\"}[5m])\n  +\n    rate(http_requests_total{code=\"500\",handler=\"/api/v1/query\",job=\"api-server\"}[5m])\n)",
            ),
            (
                "max_over_time((rate(http_requests_total{job=\"api-server\",handler=\"/api/v1/query\",code=\"200\"}[5m]) + rate(http_requests_total{job=\"api-server\"}[5m]))[1h:1m])",
                "max_over_time(\n  (\n      rate(http_requests_total{code=\"200\",handler=\"/api/v1/query\",job=\"api-server\"}[5m])\n    +\n      rate(http_requests_total{job=\"api-server\"}[5m])\n  )[1h:1m]\n)",
            ),
            (
                "count_values(\"version_label_name_here\", build_info{job=\"some-really-long-job-name\",instance=\"some-really-long-instance-name:9090\"})",
                "count_values(\n  \"version_label_name_here\",\n  build_info{instance=\"some-really-long-instance-name:9090\",job=\"some-really-long-job-name\"}\n)",
            ),
        ];
        for (q, want) in cases {
            assert_eq!(formatted(q), want, "{q}");
        }
    }
}
