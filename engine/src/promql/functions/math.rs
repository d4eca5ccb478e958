//! The element-wise functions of an instant vector (`simpleFunc`: abs, ceil, floor, exp,
//! sqrt, ln, log2, log10, the trigonometric and hyperbolic functions, rad, deg, sgn), clamp,
//! clamp_max, clamp_min, round, timestamp (all of which drop the metric name), sort and
//! sort_desc (which keep it), and the scalar-ish time, pi, scalar and vector. Where Go's
//! math functions differ from Rust's beyond rounding they come from `gomath`.

use super::gomath::*;
use super::gosort;
use super::Call;
use crate::promql::error::EvalError;
use crate::promql::value::{Labels, Sample, Vector};

/// `simpleFunc`: `f` of every sample, metric name dropped.
fn simple(call: &Call, f: impl Fn(f64) -> f64) -> Result<Vector, EvalError> {
    Ok(call.vector_arg(0).iter().map(|s| call.sample(s.labels.without_name(), f(s.point.v))).collect())
}

macro_rules! simple_fns {
    ($($name:ident => $f:expr;)*) => {
        $(pub(crate) fn $name(call: &Call) -> Result<Vector, EvalError> {
            simple(call, $f)
        })*
    };
}

simple_fns! {
    abs => f64::abs;
    ceil => f64::ceil;
    floor => f64::floor;
    exp => f64::exp;
    sqrt => f64::sqrt;
    ln => f64::ln;
    log2 => go_log2;
    log10 => go_log10;
    sin => f64::sin;
    cos => f64::cos;
    tan => f64::tan;
    asin => f64::asin;
    acos => f64::acos;
    atan => f64::atan;
    sinh => go_sinh;
    cosh => go_cosh;
    tanh => go_tanh;
    asinh => go_asinh;
    acosh => go_acosh;
    atanh => go_atanh;
    rad => |v: f64| v * std::f64::consts::PI / 180.0;
    deg => |v: f64| v * 180.0 / std::f64::consts::PI;
    sgn => |v: f64| if v < 0.0 { -1.0 } else if v > 0.0 { 1.0 } else { v };
}

pub(crate) fn clamp(call: &Call) -> Result<Vector, EvalError> {
    let min = call.scalar_arg(1);
    let max = call.scalar_arg(2);
    if max < min {
        return Ok(vec![]);
    }
    simple(call, |v| go_max(min, go_min(max, v)))
}

pub(crate) fn clamp_max(call: &Call) -> Result<Vector, EvalError> {
    let max = call.scalar_arg(1);
    simple(call, |v| go_min(max, v))
}

pub(crate) fn clamp_min(call: &Call) -> Result<Vector, EvalError> {
    let min = call.scalar_arg(1);
    simple(call, |v| go_max(min, v))
}

/// round(v, to_nearest=1): `floor(v/to_nearest + 0.5) * to_nearest`, computed through the
/// inverse as Prometheus does; ties round up.
pub(crate) fn round(call: &Call) -> Result<Vector, EvalError> {
    let to_nearest = if call.args.len() >= 2 { call.scalar_arg(1) } else { 1.0 };
    let to_nearest_inverse = 1.0 / to_nearest;
    simple(call, |v| (v * to_nearest_inverse + 0.5).floor() / to_nearest_inverse)
}

/// timestamp(v): every sample's own time in seconds, metric name dropped.
pub(crate) fn timestamp(call: &Call) -> Result<Vector, EvalError> {
    Ok(call
        .vector_arg(0)
        .iter()
        .map(|s| call.sample(s.labels.without_name(), s.point.t as f64 / 1000.0))
        .collect())
}

/// time(): the evaluation time in seconds (a scalar: one sample, no labels).
pub(crate) fn time(call: &Call) -> Result<Vector, EvalError> {
    Ok(vec![call.sample(Labels::default(), call.ts as f64 / 1000.0)])
}

/// pi() (a scalar: one sample, no labels).
pub(crate) fn pi(call: &Call) -> Result<Vector, EvalError> {
    Ok(vec![call.sample(Labels::default(), std::f64::consts::PI)])
}

/// scalar(v): the value of a one-element vector, NaN otherwise.
pub(crate) fn scalar(call: &Call) -> Result<Vector, EvalError> {
    let v = call.vector_arg(0);
    let value = if v.len() == 1 { v[0].point.v } else { f64::NAN };
    Ok(vec![call.sample(Labels::default(), value)])
}

/// vector(s): one sample, no labels.
pub(crate) fn vector(call: &Call) -> Result<Vector, EvalError> {
    Ok(vec![call.sample(Labels::default(), call.scalar_arg(0))])
}

fn sorted(call: &Call, less: &dyn Fn(&Sample, &Sample) -> bool) -> Result<Vector, EvalError> {
    let mut out: Vector = call.vector_arg(0).iter().map(|s| call.sample(s.labels.clone(), s.point.v)).collect();
    gosort::sort(&mut out, less);
    Ok(out)
}

/// sort: `sort.Sort(sort.Reverse(vectorByReverseValueHeap))`, NaNs last.
pub(crate) fn sort(call: &Call) -> Result<Vector, EvalError> {
    // Reverse(h).Less(i, j) = h.Less(j, i); vectorByReverseValueHeap.Less(i, j) is
    // `isNaN(s[i]) || s[i] > s[j]`.
    sorted(call, &|a, b| b.point.v.is_nan() || b.point.v > a.point.v)
}

/// sort_desc: `sort.Sort(sort.Reverse(vectorByValueHeap))`, NaNs last.
pub(crate) fn sort_desc(call: &Call) -> Result<Vector, EvalError> {
    // vectorByValueHeap.Less(i, j) is `isNaN(s[i]) || s[i] < s[j]`.
    sorted(call, &|a, b| b.point.v.is_nan() || b.point.v < a.point.v)
}
