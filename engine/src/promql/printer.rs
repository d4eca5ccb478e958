//! Canonical printing of PromQL expressions: `Display` gives exactly what
//! Prometheus 2.42's `String()` methods (`promql/parser/printer.go`) return,
//! e.g. `sum by (job) (rate(http_requests_total{code=~"5.."}[5m] offset 1h))`.
//! Expressions are written by a small recursive function into one `String`.

use std::fmt::{self, Display, Formatter};

use super::ast::*;
use super::gofmt::{format_duration, format_fixed, format_float, quote};

macro_rules! display_as_str {
    ($($t:ty),*) => {$(
        impl Display for $t {
            fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    )*};
}
display_as_str!(ValueType, MatchKind, BinaryOp, AggregateOp);

impl Display for UnaryOp {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UnaryOp::Plus => "+",
            UnaryOp::Minus => "-",
        })
    }
}

/// `name="value"` with the value quoted as Go's `%q` does.
impl Display for LabelMatcher {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{}", self.name, self.kind, quote(&self.value))
    }
}

impl Display for VectorSelector {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        write_selector(&mut s, self);
        write_at_offset(&mut s, self.at, self.offset_ms);
        f.write_str(&s)
    }
}

/// The ` on (…)`/` ignoring (…)` and ` group_x (…)` part of a binary expression.
impl Display for VectorMatching {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        write_matching(&mut s, self);
        f.write_str(&s)
    }
}

impl Display for Expr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        write_expr(&mut s, self);
        f.write_str(&s)
    }
}

/// ` @ <ts>` / ` @ start()` / ` @ end()` followed by ` offset <d>` (both optional).
#[inline(never)]
fn write_at_offset(out: &mut String, at: Option<At>, offset_ms: i64) {
    match at {
        Some(At::Timestamp(ms)) => {
            out.push_str(" @ ");
            out.push_str(&format_fixed(ms as f64 / 1000.0, 3));
        }
        Some(At::Start) => out.push_str(" @ start()"),
        Some(At::End) => out.push_str(" @ end()"),
        None => {}
    }
    if offset_ms > 0 {
        out.push_str(" offset ");
        out.push_str(&format_duration(offset_ms));
    } else if offset_ms < 0 {
        out.push_str(" offset -");
        out.push_str(&format_duration(offset_ms.saturating_neg()));
    }
}

/// Name and sorted matchers (the name's own `__name__` matcher left out), no modifiers.
#[inline(never)]
fn write_selector(out: &mut String, vs: &VectorSelector) {
    let name = vs.name.as_deref().unwrap_or("");
    let mut strs: Vec<String> = vs
        .matchers
        .iter()
        .filter(|m| !(m.name == "__name__" && m.kind == MatchKind::Equal && m.value == name))
        .map(|m| m.to_string())
        .collect();
    out.push_str(name);
    if !strs.is_empty() {
        strs.sort();
        out.push('{');
        out.push_str(&strs.join(","));
        out.push('}');
    }
}

#[inline(never)]
fn write_matching(out: &mut String, m: &VectorMatching) {
    if m.labels.is_empty() && !m.on {
        return;
    }
    out.push_str(if m.on { " on (" } else { " ignoring (" });
    out.push_str(&m.labels.join(", "));
    out.push(')');
    let side = match m.card {
        VectorMatchCardinality::ManyToOne => "left",
        VectorMatchCardinality::OneToMany => "right",
        _ => return,
    };
    out.push_str(" group_");
    out.push_str(side);
    out.push_str(" (");
    out.push_str(&m.include.join(", "));
    out.push(')');
}

#[inline(never)]
fn write_leaf(out: &mut String, e: &Expr) {
    match e {
        Expr::NumberLiteral(v) => out.push_str(&format_float(*v)),
        Expr::StringLiteral(s) => out.push_str(&quote(s)),
        Expr::VectorSelector(vs) => {
            write_selector(out, vs);
            write_at_offset(out, vs.at, vs.offset_ms);
        }
        Expr::MatrixSelector { vector, range_ms } => {
            write_selector(out, vector);
            out.push('[');
            out.push_str(&format_duration(*range_ms));
            out.push(']');
            write_at_offset(out, vector.at, vector.offset_ms);
        }
        _ => unreachable!("not a leaf"),
    }
}

#[inline(never)]
fn write_subquery_suffix(out: &mut String, range_ms: i64, step_ms: Option<i64>, offset_ms: i64, at: Option<At>) {
    out.push('[');
    out.push_str(&format_duration(range_ms));
    out.push(':');
    if let Some(step) = step_ms.filter(|s| *s != 0) {
        out.push_str(&format_duration(step));
    }
    out.push(']');
    write_at_offset(out, at, offset_ms);
}

#[inline(never)]
fn write_aggregate_head(out: &mut String, op: AggregateOp, grouping: &[String], without: bool) {
    out.push_str(op.as_str());
    if without || !grouping.is_empty() {
        out.push_str(if without { " without (" } else { " by (" });
        out.push_str(&grouping.join(", "));
        out.push_str(") ");
    }
    out.push('(');
}

/// Go `String()` of an expression, appended to `out`.
pub fn write_expr(out: &mut String, e: &Expr) {
    match e {
        Expr::Subquery { expr, range_ms, step_ms, offset_ms, at } => {
            write_expr(out, expr);
            write_subquery_suffix(out, *range_ms, *step_ms, *offset_ms, *at);
        }
        Expr::Unary { op, expr } => {
            out.push(if *op == UnaryOp::Minus { '-' } else { '+' });
            write_expr(out, expr);
        }
        Expr::Binary { op, lhs, rhs, return_bool, matching } => {
            write_expr(out, lhs);
            out.push(' ');
            out.push_str(op.as_str());
            if *return_bool {
                out.push_str(" bool");
            }
            if let Some(m) = matching {
                write_matching(out, m);
            }
            out.push(' ');
            write_expr(out, rhs);
        }
        Expr::Aggregate { op, expr, param, grouping, without } => {
            write_aggregate_head(out, *op, grouping, *without);
            if let Some(p) = param {
                write_expr(out, p);
                out.push_str(", ");
            }
            write_expr(out, expr);
            out.push(')');
        }
        Expr::Call { func, args } => {
            out.push_str(func.name);
            out.push('(');
            for (i, a) in args.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_expr(out, a);
            }
            out.push(')');
        }
        Expr::Paren(inner) => {
            out.push('(');
            write_expr(out, inner);
            out.push(')');
        }
        _ => write_leaf(out, e),
    }
}
