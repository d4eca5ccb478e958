//! Type checks run after a successful parse, in the order of Prometheus 2.42's
//! `parser.checkAST` so that the first error reported is the same. Also sets
//! binary vector matching as Go does: many-to-many for set operators, `None`
//! unless both operands are instant vectors (child module of `parser.rs`).
//! Recursive functions keep small frames; the rules live in non-recursive helpers.

use super::super::ast::{AggregateOp, Expr, ValueType, VectorMatchCardinality as Card, VectorMatching};
use super::super::ast::{BinaryOp, VectorSelector};
use super::super::functions::Function;
use super::super::gofmt::quote;
use super::{Fail, Sp};

type CResult<T> = Result<T, Fail>;
use ValueType::*;

pub(crate) fn check_ast(input: &str, e: &mut Expr, sp: &Sp) -> CResult<()> {
    check(input, e, sp).map(|_| ())
}

fn expect_type(input: &str, e: &mut Expr, sp: &Sp, want: ValueType, ctx: &dyn Fn() -> std::string::String) -> CResult<()> {
    let t = check(input, e, sp)?;
    if t != want {
        return Err(type_error(sp.start, want, &ctx(), t));
    }
    Ok(())
}

#[inline(never)]
fn type_error(pos: usize, want: ValueType, ctx: &str, got: ValueType) -> Fail {
    (pos, format!("expected type {} in {}, got {}", want.documented(), ctx, got.documented()))
}

/// Checks `e` and returns its type (Go `Expr.Type()`). The recursive path is kept
/// to small dispatching frames so deep trees fit in a thread stack.
fn check(input: &str, e: &mut Expr, sp: &Sp) -> CResult<ValueType> {
    match e {
        Expr::Binary { .. } => check_binary(input, e, sp),
        Expr::Aggregate { .. } => check_aggregate(input, e, sp),
        Expr::Call { .. } => check_call(input, e, sp),
        Expr::Paren(inner) => check(input, inner, &sp.kids[0]),
        Expr::Unary { expr, .. } => {
            let t = check(input, expr, &sp.kids[0])?;
            if t != Scalar && t != Vector {
                return Err(unary_error(sp.start, t));
            }
            Ok(t)
        }
        Expr::Subquery { expr, .. } => {
            let t = check(input, expr, &sp.kids[0])?;
            if t != Vector {
                return Err(subquery_error(sp.start, t));
            }
            Ok(Matrix)
        }
        Expr::MatrixSelector { vector, .. } => check_selector(vector, &sp.kids[0]).map(|_| Matrix),
        Expr::VectorSelector(vs) => check_selector(vs, sp).map(|_| Vector),
        Expr::NumberLiteral(_) => Ok(Scalar),
        Expr::StringLiteral(_) => Ok(String),
    }
}

fn check_binary(input: &str, e: &mut Expr, sp: &Sp) -> CResult<ValueType> {
    let Expr::Binary { op, lhs, rhs, return_bool, matching } = e else { unreachable!() };
    let lt = check(input, lhs, &sp.kids[0])?;
    let rt = check(input, rhs, &sp.kids[1])?;
    binary_rules(input, sp, *op, *return_bool, matching, lt, rt)?;
    Ok(if lt == Scalar && rt == Scalar { Scalar } else { Vector })
}

fn check_aggregate(input: &str, e: &mut Expr, sp: &Sp) -> CResult<ValueType> {
    let Expr::Aggregate { op, expr, param, .. } = e else { unreachable!() };
    expect_type(input, expr, &sp.kids[0], Vector, &|| "aggregation expression".into())?;
    let want = match op {
        AggregateOp::Topk | AggregateOp::Bottomk | AggregateOp::Quantile => Scalar,
        AggregateOp::CountValues => String,
        _ => return Ok(Vector),
    };
    if let Some(p) = param {
        expect_type(input, p, &sp.kids[1], want, &|| "aggregation parameter".into())?;
    }
    Ok(Vector)
}

fn check_call(input: &str, e: &mut Expr, sp: &Sp) -> CResult<ValueType> {
    let Expr::Call { func, args } = e else { unreachable!() };
    call_arity(func, args.len(), sp.start)?;
    let nargs = func.arg_types.len();
    for (i, arg) in args.iter_mut().enumerate() {
        let ti = if i < nargs {
            i
        } else if func.variadic == 0 {
            break;
        } else {
            nargs - 1
        };
        let ctx = || format!("call to function {}", quote(func.name));
        expect_type(input, arg, &sp.kids[i], func.arg_types[ti], &ctx)?;
    }
    Ok(func.return_type)
}

#[inline(never)]
fn unary_error(pos: usize, t: ValueType) -> Fail {
    let msg = "unary expression only allowed on expressions of type scalar or instant vector, got";
    (pos, format!("{} {}", msg, quote(t.documented())))
}

#[inline(never)]
fn subquery_error(pos: usize, t: ValueType) -> Fail {
    (pos, format!("subquery is only allowed on instant vector, got {} instead", t))
}

#[inline(never)]
fn call_arity(func: &Function, n: usize, pos: usize) -> CResult<()> {
    let nargs = func.arg_types.len();
    let name = quote(func.name);
    let msg = if func.variadic == 0 {
        if nargs == n {
            return Ok(());
        }
        format!("expected {} argument(s) in call to {}, got {}", nargs, name, n)
    } else if nargs - 1 > n {
        format!("expected at least {} argument(s) in call to {}, got {}", nargs - 1, name, n)
    } else if func.variadic > 0 && nargs - 1 + (func.variadic as usize) < n {
        let max = nargs - 1 + func.variadic as usize;
        format!("expected at most {} argument(s) in call to {}, got {}", max, name, n)
    } else {
        return Ok(());
    };
    Err((pos, msg))
}

#[inline(never)]
fn binary_rules(
    input: &str,
    sp: &Sp,
    op: BinaryOp,
    return_bool: bool,
    matching: &mut Option<VectorMatching>,
    lt: ValueType,
    rt: ValueType,
) -> CResult<()> {
    // Go's opRange(): first non-space byte after the left operand.
    let op_pos = || {
        let b = input.as_bytes();
        let mut p = sp.kids[0].end;
        while p < b.len() && matches!(b[p], b' ' | b'\t' | b'\n' | b'\r') {
            p += 1;
        }
        p
    };
    if return_bool && !op.is_comparison() {
        return Err((op_pos(), "bool modifier can only be used on comparison operators".into()));
    }
    if op.is_comparison() && !return_bool && lt == Scalar && rt == Scalar {
        return Err((op_pos(), "comparisons between scalars must use BOOL modifier".into()));
    }
    let m = matching.as_mut().expect("parser sets vector matching");
    if op.is_set_operator() && m.card == Card::OneToOne {
        m.card = Card::ManyToMany;
    }
    if m.on {
        if let Some(l) = m.labels.iter().find(|l| m.include.contains(l)) {
            return Err((op_pos(), format!("label {} must not occur in ON and GROUP clause at once", quote(l))));
        }
    }
    const ONLY: &str = "binary expression must contain only scalar and instant vector types";
    if lt != Scalar && lt != Vector {
        return Err((sp.kids[0].start, ONLY.into()));
    }
    if rt != Scalar && rt != Vector {
        return Err((sp.kids[1].start, ONLY.into()));
    }
    if lt != Vector || rt != Vector {
        if !m.labels.is_empty() {
            return Err((sp.start, "vector matching only allowed between instant vectors".into()));
        }
        *matching = None;
    } else if op.is_set_operator() {
        if matches!(m.card, Card::OneToMany | Card::ManyToOne) {
            return Err((sp.start, format!("no grouping allowed for {} operation", quote(op.as_str()))));
        }
        if m.card != Card::ManyToMany {
            return Err((sp.start, "set operations must always be many-to-many".into()));
        }
    }
    if (lt == Scalar || rt == Scalar) && op.is_set_operator() {
        return Err((sp.start, format!("set operator {} not allowed in binary scalar expression", quote(op.as_str()))));
    }
    Ok(())
}

#[inline(never)]
fn check_selector(vs: &VectorSelector, sp: &Sp) -> CResult<()> {
    if let Some(name) = &vs.name {
        // The last matcher is the one for the name given outside the braces.
        let explicit = &vs.matchers[..vs.matchers.len() - 1];
        if let Some(m) = explicit.iter().find(|m| m.name == "__name__") {
            let msg = format!("metric name must not be set twice: {} or {}", quote(name), quote(&m.value));
            return Err((sp.start, msg));
        }
        return Ok(());
    }
    if vs.matchers.iter().all(|m| m.matches_empty()) {
        return Err((sp.start, "vector selector must contain at least one non-empty matcher".into()));
    }
    Ok(())
}
