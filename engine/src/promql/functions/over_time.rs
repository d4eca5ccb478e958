//! The `*_over_time` functions (`aggrOverTime` in functions.go): avg (incremental mean with
//! Kahan compensation and the infinity special cases), count, last, max, min, sum (Kahan),
//! quantile, stddev and stdvar (Welford with Kahan), present. Each returns one sample
//! labelled with the input series' labels (the evaluator drops the metric name except for
//! last_over_time). absent_over_time is in `labels`.

use super::gosort;
use super::rate::kahan_sum_inc;
use super::{on_window, Call, Window};
use crate::promql::error::EvalError;
use crate::promql::value::{Point, Vector};

pub(crate) fn avg_of(values: &[Point], _: Window) -> Option<f64> {
    Some(avg(values))
}

fn avg(values: &[Point]) -> f64 {
    let (mut mean, mut count, mut c) = (0.0f64, 0.0f64, 0.0f64);
    for v in values {
        count += 1.0;
        if mean.is_infinite() {
            if v.v.is_infinite() && (mean > 0.0) == (v.v > 0.0) {
                // Infinities of the same sign: the mean is already right.
                continue;
            }
            if !v.v.is_infinite() && !v.v.is_nan() {
                // A finite value does not change an infinite mean.
                continue;
            }
        }
        (mean, c) = kahan_sum_inc(v.v / count - mean / count, mean, c);
    }
    if mean.is_infinite() {
        return mean;
    }
    mean + c
}

pub(crate) fn avg_over_time(call: &Call) -> Result<Vector, EvalError> {
    on_window(call, avg_of)
}

pub(crate) fn count_of(values: &[Point], _: Window) -> Option<f64> {
    Some(values.len() as f64)
}

pub(crate) fn count_over_time(call: &Call) -> Result<Vector, EvalError> {
    on_window(call, count_of)
}

pub(crate) fn last_of(values: &[Point], _: Window) -> Option<f64> {
    Some(values[values.len() - 1].v)
}

pub(crate) fn last_over_time(call: &Call) -> Result<Vector, EvalError> {
    on_window(call, last_of)
}

pub(crate) fn max_of(values: &[Point], _: Window) -> Option<f64> {
    let mut max = values[0].v;
    for v in values {
        if v.v > max || max.is_nan() {
            max = v.v;
        }
    }
    Some(max)
}

pub(crate) fn max_over_time(call: &Call) -> Result<Vector, EvalError> {
    on_window(call, max_of)
}

pub(crate) fn min_of(values: &[Point], _: Window) -> Option<f64> {
    let mut min = values[0].v;
    for v in values {
        if v.v < min || min.is_nan() {
            min = v.v;
        }
    }
    Some(min)
}

pub(crate) fn min_over_time(call: &Call) -> Result<Vector, EvalError> {
    on_window(call, min_of)
}

pub(crate) fn sum_of(values: &[Point], _: Window) -> Option<f64> {
    let (mut sum, mut c) = (0.0f64, 0.0f64);
    for v in values {
        (sum, c) = kahan_sum_inc(v.v, sum, c);
    }
    if sum.is_infinite() {
        return Some(sum);
    }
    Some(sum + c)
}

pub(crate) fn sum_over_time(call: &Call) -> Result<Vector, EvalError> {
    on_window(call, sum_of)
}

/// `quantile` (promql/quantile.go): the q-quantile of `values`, which it sorts (Go's sort
/// with `vectorByValueHeap.Less`: a NaN is less than anything).
pub(crate) fn quantile(q: f64, values: &mut [f64]) -> f64 {
    if values.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    gosort::sort(values, &|a: &f64, b: &f64| a.is_nan() || a < b);
    let n = values.len() as f64;
    let rank = q * (n - 1.0);
    let lower_index = 0f64.max(rank.floor());
    let upper_index = (n - 1.0).min(lower_index + 1.0);
    let weight = rank - rank.floor();
    values[lower_index as usize] * (1.0 - weight) + values[upper_index as usize] * weight
}

pub(crate) fn quantile_over_time(call: &Call) -> Result<Vector, EvalError> {
    let q = call.scalar_arg(0);
    let Some(s) = call.series_arg(1) else { return Ok(vec![]) };
    let mut values: Vec<f64> = s.points.iter().map(|p| p.v).collect();
    Ok(vec![call.sample(s.labels.clone(), quantile(q, &mut values))])
}

/// Welford's variance with Kahan-compensated mean and sum of squares.
fn variance(values: &[Point]) -> f64 {
    let (mut count, mut mean, mut c_mean, mut aux, mut c_aux) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for v in values {
        count += 1.0;
        let delta = v.v - (mean + c_mean);
        (mean, c_mean) = kahan_sum_inc(delta / count, mean, c_mean);
        (aux, c_aux) = kahan_sum_inc(delta * (v.v - (mean + c_mean)), aux, c_aux);
    }
    (aux + c_aux) / count
}

pub(crate) fn stddev_of(values: &[Point], _: Window) -> Option<f64> {
    Some(variance(values).sqrt())
}

pub(crate) fn stddev_over_time(call: &Call) -> Result<Vector, EvalError> {
    on_window(call, stddev_of)
}

pub(crate) fn stdvar_of(values: &[Point], _: Window) -> Option<f64> {
    Some(variance(values))
}

pub(crate) fn stdvar_over_time(call: &Call) -> Result<Vector, EvalError> {
    on_window(call, stdvar_of)
}

pub(crate) fn present_of(_: &[Point], _: Window) -> Option<f64> {
    Some(1.0)
}

pub(crate) fn present_over_time(call: &Call) -> Result<Vector, EvalError> {
    on_window(call, present_of)
}
