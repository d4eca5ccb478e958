//! Binary operators at one evaluation step, as Prometheus 2.42 computes them (promql/engine.go:
//! `scalarBinop`, `vectorElemBinop`, `VectorscalarBinop`, `VectorBinop`, `VectorAnd`,
//! `VectorOr`, `VectorUnless`, `signatureFunc`, `resultMetric`). Float samples only. Also Go's
//! formatting that error messages and `count_values` need: `strconv.Quote`, `Labels.String`,
//! `strconv.FormatFloat(v, 'f', -1, 64)` and `%v` of a float.

use rustc_hash::{FxHashMap, FxHashSet};

use super::error::EvalError;
use super::gofmt::labels_string;
use super::plan::{BinOp, Cardinality, VectorMatching};
use super::value::{Labels, Point, Sample, Vector};

/// 1 for true, 0 for false (Go's `btos`).
pub(super) fn btos(b: bool) -> f64 {
    if b {
        1.0
    } else {
        0.0
    }
}

/// Whether the result of `op` loses the metric name (Go's `shouldDropMetricName`).
fn should_drop_metric_name(op: BinOp) -> bool {
    matches!(op, BinOp::Add | BinOp::Sub | BinOp::Div | BinOp::Mul | BinOp::Pow | BinOp::Mod)
}

fn is_comparison(op: BinOp) -> bool {
    matches!(op, BinOp::Eq | BinOp::Ne | BinOp::Gt | BinOp::Lt | BinOp::Ge | BinOp::Le)
}

/// A binary operation between two scalars; comparisons give 1 or 0.
pub fn scalar_binop(op: BinOp, lhs: f64, rhs: f64) -> f64 {
    match op {
        BinOp::Add => lhs + rhs,
        BinOp::Sub => lhs - rhs,
        BinOp::Mul => lhs * rhs,
        BinOp::Div => lhs / rhs,
        BinOp::Pow => lhs.powf(rhs),
        BinOp::Mod => lhs % rhs,
        BinOp::Eq => btos(lhs == rhs),
        BinOp::Ne => btos(lhs != rhs),
        BinOp::Gt => btos(lhs > rhs),
        BinOp::Lt => btos(lhs < rhs),
        BinOp::Ge => btos(lhs >= rhs),
        BinOp::Le => btos(lhs <= rhs),
        BinOp::Atan2 => lhs.atan2(rhs),
        BinOp::And | BinOp::Or | BinOp::Unless => {
            panic!("operator {op:?} not allowed for Scalar operations")
        }
    }
}

/// A binary operation between two vector elements: the value, and whether to keep it
/// (false only for a comparison that does not hold).
pub(super) fn vector_elem_binop(op: BinOp, lhs: f64, rhs: f64) -> (f64, bool) {
    match op {
        BinOp::Add => (lhs + rhs, true),
        BinOp::Sub => (lhs - rhs, true),
        BinOp::Mul => (lhs * rhs, true),
        BinOp::Div => (lhs / rhs, true),
        BinOp::Pow => (lhs.powf(rhs), true),
        BinOp::Mod => (lhs % rhs, true),
        BinOp::Eq => (lhs, lhs == rhs),
        BinOp::Ne => (lhs, lhs != rhs),
        BinOp::Gt => (lhs, lhs > rhs),
        BinOp::Lt => (lhs, lhs < rhs),
        BinOp::Ge => (lhs, lhs >= rhs),
        BinOp::Le => (lhs, lhs <= rhs),
        BinOp::Atan2 => (lhs.atan2(rhs), true),
        BinOp::And | BinOp::Or | BinOp::Unless => {
            panic!("operator {op:?} not allowed for operations between Vectors")
        }
    }
}

/// A binary operation between a vector (`lhs`) and a scalar; `swap` when the scalar was
/// written on the left. Comparisons without `bool` filter, keeping the vector's value.
pub fn vector_scalar_binop(
    op: BinOp,
    lhs: &[Sample],
    rhs: f64,
    swap: bool,
    return_bool: bool,
    ts: i64,
) -> Vector {
    let mut out = Vec::new();
    for s in lhs {
        let (mut lv, mut rv) = (s.point.v, rhs);
        if swap {
            std::mem::swap(&mut lv, &mut rv);
        }
        let (mut value, mut keep) = vector_elem_binop(op, lv, rv);
        // A scalar on the left of a comparison: the output value is still the vector's.
        if is_comparison(op) && swap {
            value = rv;
        }
        if return_bool {
            value = btos(keep);
            keep = true;
        }
        if keep {
            let labels = if should_drop_metric_name(op) || return_bool {
                s.labels.without_name()
            } else {
                s.labels.clone()
            };
            out.push(Sample { labels, point: Point { t: ts, v: value } });
        }
    }
    out
}

fn in_list(list: &[String], name: &str) -> bool {
    list.iter().any(|n| n == name)
}

/// The join signature of a series (Go's `signatureFunc` and `MatchLabels`): with `on`, only
/// the listed labels; with `ignoring`, all labels but the listed ones and `__name__`.
pub(super) fn signature<'a>(labels: &'a Labels, m: &VectorMatching) -> Vec<(&'a str, &'a str)> {
    labels
        .iter()
        .filter(|(n, _)| {
            if m.on {
                in_list(&m.labels, n)
            } else {
                *n != "__name__" && !in_list(&m.labels, n)
            }
        })
        .collect()
}

/// The labels of a result of a vector-vector operation (Go's `resultMetric`): `lhs` is the
/// "many" side (after swapping for one-to-many), `rhs` the "one" side.
pub(super) fn result_metric(lhs: &Labels, rhs: &Labels, op: BinOp, m: &VectorMatching) -> Labels {
    let mut l = lhs.clone();
    if should_drop_metric_name(op) {
        l.remove("__name__");
    }
    if m.card == Cardinality::OneToOne {
        if m.on {
            l.retain(|n| in_list(&m.labels, n));
        } else {
            l.retain(|n| !in_list(&m.labels, n));
        }
    }
    for name in &m.include {
        // `set` with an empty value removes the label.
        l.set(name, rhs.get(name));
    }
    l
}

/// The error of two series with the same signature `sig` on the "one" side of a match at a
/// step: `later` comes after `earlier` in that side's vector.
pub(super) fn duplicate_on_one_side(sig: &[(&str, &str)], one_to_many: bool, later: &Labels, earlier: &Labels) -> EvalError {
    let one_side = if one_to_many { "left" } else { "right" };
    let matched = Labels::from_sorted(sig.iter().copied());
    EvalError::Execution(format!(
        "found duplicate series for the match group {} on the {} hand-side of the operation: [{}, {}]\
         ;many-to-many matching not allowed: matching labels must be unique on one side",
        labels_string(&matched),
        one_side,
        labels_string(later),
        labels_string(earlier)
    ))
}

/// Two "many" side samples matching the same "one" side sample in a one-to-one match.
pub(super) const MANY_TO_ONE_NOT_EXPLICIT: &str = "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)";
/// Two samples of a group_left/right match giving the same output labels for one signature.
pub(super) const GROUPING_NOT_UNIQUE: &str = "multiple matches for labels: grouping labels must ensure unique matches";

/// A binary arithmetic or comparison operation between two vectors.
pub fn vector_binop(
    op: BinOp,
    lhs: &[Sample],
    rhs: &[Sample],
    matching: &VectorMatching,
    return_bool: bool,
    ts: i64,
) -> Result<Vector, EvalError> {
    if matching.card == Cardinality::ManyToMany {
        panic!("many-to-many only allowed for set operators");
    }
    if lhs.is_empty() || rhs.is_empty() {
        return Ok(Vec::new());
    }
    // For one-to-many, swap sides; values are swapped back for the operation.
    let one_to_many = matching.card == Cardinality::OneToMany;
    let (lhs, rhs) = if one_to_many { (rhs, lhs) } else { (lhs, rhs) };

    // The rhs is the "one" side: its signatures must be unique.
    let mut right_sigs: FxHashMap<Vec<(&str, &str)>, &Sample> = FxHashMap::with_capacity_and_hasher(rhs.len(), Default::default());
    for rs in rhs {
        let sig = signature(&rs.labels, matching);
        if let Some(dupl) = right_sigs.get(&sig) {
            return Err(duplicate_on_one_side(&sig, one_to_many, &rs.labels, &dupl.labels));
        }
        right_sigs.insert(sig, rs);
    }

    // Per matched signature: for one-to-one just its presence, for many-to-one the set of
    // result label sets already produced for it.
    let mut matched_sigs: FxHashMap<Vec<(&str, &str)>, FxHashSet<Labels>> = FxHashMap::default();
    let mut out = Vec::new();
    for ls in lhs {
        let sig = signature(&ls.labels, matching);
        let Some(rs) = right_sigs.get(&sig) else { continue };
        let (mut vl, mut vr) = (ls.point.v, rs.point.v);
        if one_to_many {
            std::mem::swap(&mut vl, &mut vr);
        }
        let (mut value, keep) = vector_elem_binop(op, vl, vr);
        if return_bool {
            value = btos(keep);
        } else if !keep {
            continue;
        }
        let mut metric = result_metric(&ls.labels, &rs.labels, op, matching);
        if return_bool {
            metric = metric.without_name();
        }
        match matched_sigs.get_mut(&sig) {
            Some(_) if matching.card == Cardinality::OneToOne => {
                return Err(EvalError::Execution(MANY_TO_ONE_NOT_EXPLICIT.to_string()));
            }
            Some(inserted) => {
                if !inserted.insert(metric.clone()) {
                    return Err(EvalError::Execution(GROUPING_NOT_UNIQUE.to_string()));
                }
            }
            None => {
                let mut inserted = FxHashSet::default();
                if matching.card != Cardinality::OneToOne {
                    inserted.insert(metric.clone());
                }
                matched_sigs.insert(sig, inserted);
            }
        }
        out.push(Sample { labels: metric, point: Point { t: ts, v: value } });
    }
    Ok(out)
}

fn at(s: &Sample, ts: i64) -> Sample {
    Sample { labels: s.labels.clone(), point: Point { t: ts, v: s.point.v } }
}

fn sig_set<'a>(v: &'a [Sample], m: &VectorMatching) -> FxHashSet<Vec<(&'a str, &'a str)>> {
    v.iter().map(|s| signature(&s.labels, m)).collect()
}

/// `lhs and rhs`: the lhs samples whose signature occurs in rhs.
pub fn vector_and(lhs: &[Sample], rhs: &[Sample], matching: &VectorMatching, ts: i64) -> Vector {
    if lhs.is_empty() || rhs.is_empty() {
        return Vec::new();
    }
    let right = sig_set(rhs, matching);
    lhs.iter().filter(|s| right.contains(&signature(&s.labels, matching))).map(|s| at(s, ts)).collect()
}

/// `lhs or rhs`: all lhs samples, then the rhs samples whose signature is not in lhs.
pub fn vector_or(lhs: &[Sample], rhs: &[Sample], matching: &VectorMatching, ts: i64) -> Vector {
    let left = sig_set(lhs, matching);
    let rest = rhs.iter().filter(|s| !left.contains(&signature(&s.labels, matching)));
    lhs.iter().chain(rest).map(|s| at(s, ts)).collect()
}

/// `lhs unless rhs`: the lhs samples whose signature does not occur in rhs.
pub fn vector_unless(lhs: &[Sample], rhs: &[Sample], matching: &VectorMatching, ts: i64) -> Vector {
    let right = sig_set(rhs, matching);
    lhs.iter().filter(|s| !right.contains(&signature(&s.labels, matching))).map(|s| at(s, ts)).collect()
}

#[cfg(test)]
#[path = "binary_tests.rs"]
mod tests;
