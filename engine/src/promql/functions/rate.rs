//! The functions of a range vector's change over time: rate, increase and delta
//! (`extrapolatedRate`), irate and idelta (`instantValue`), deriv and predict_linear
//! (`linearRegression`, with Kahan sums as in 2.42), holt_winters, resets and changes.
//! Each returns at most one sample, labelled with the input series' labels (the evaluator
//! drops the metric name).

use super::{on_window, Call, Window};
use crate::promql::error::EvalError;
use crate::promql::value::{Point, Series, Vector};

/// Go's `kahanSumInc` (Neumaier's variant): the new sum and compensation.
pub(crate) fn kahan_sum_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if sum.abs() >= inc.abs() { c + ((sum - t) + inc) } else { c + ((inc - t) + sum) };
    (t, c)
}

/// Go's `time.Duration(ms * 1e6).Seconds()`.
fn duration_seconds(ms: i64) -> f64 {
    let ns = ms.wrapping_mul(1_000_000);
    let sec = ns / 1_000_000_000;
    let nsec = ns % 1_000_000_000;
    sec as f64 + nsec as f64 / 1e9
}

fn one(call: &Call, s: &Series, v: f64) -> Vector {
    vec![call.sample(s.labels.clone(), v)]
}

/// `extrapolatedRate`.
fn extrapolated_rate(points: &[Point], w: Window, is_counter: bool, is_rate: bool) -> Option<f64> {
    if points.len() < 2 {
        return None;
    }
    let first = points[0];
    let last = points[points.len() - 1];
    let mut result_value = last.v - first.v;
    if is_counter && w.may_reset {
        let mut prev_value = first.v;
        for p in &points[1..] {
            if p.v < prev_value {
                result_value += prev_value;
            }
            prev_value = p.v;
        }
    }
    Some(extrapolate(first, last, points.len(), result_value, w, is_counter, is_rate))
}

/// The extrapolation of `extrapolatedRate` from what it needs of a window: its first and last
/// samples, how many samples it holds (at least 2), and `result_value`, the change from first
/// to last (for a counter corrected for resets). Downsampled tiers keep exactly this.
pub(crate) fn extrapolate(first: Point, last: Point, count: usize, mut result_value: f64, w: Window, is_counter: bool, is_rate: bool) -> f64 {
    let range_start = w.ts - (w.range + w.offset);
    let range_end = w.ts - w.offset;
    let mut duration_to_start = (first.t - range_start) as f64 / 1000.0;
    let duration_to_end = (range_end - last.t) as f64 / 1000.0;
    let sampled_interval = (last.t - first.t) as f64 / 1000.0;
    let average_duration_between_samples = sampled_interval / (count - 1) as f64;

    if is_counter && result_value > 0.0 && first.v >= 0.0 {
        let duration_to_zero = sampled_interval * (first.v / result_value);
        if duration_to_zero < duration_to_start {
            duration_to_start = duration_to_zero;
        }
    }

    let extrapolation_threshold = average_duration_between_samples * 1.1;
    let mut extrapolate_to_interval = sampled_interval;
    if duration_to_start < extrapolation_threshold {
        extrapolate_to_interval += duration_to_start;
    } else {
        extrapolate_to_interval += average_duration_between_samples / 2.0;
    }
    if duration_to_end < extrapolation_threshold {
        extrapolate_to_interval += duration_to_end;
    } else {
        extrapolate_to_interval += average_duration_between_samples / 2.0;
    }
    let mut factor = extrapolate_to_interval / sampled_interval;
    if is_rate {
        factor /= duration_seconds(w.range);
    }
    result_value *= factor;
    result_value
}

pub(crate) fn delta_of(points: &[Point], w: Window) -> Option<f64> {
    extrapolated_rate(points, w, false, false)
}

pub(crate) fn rate_of(points: &[Point], w: Window) -> Option<f64> {
    extrapolated_rate(points, w, true, true)
}

pub(crate) fn increase_of(points: &[Point], w: Window) -> Option<f64> {
    extrapolated_rate(points, w, true, false)
}

pub(crate) fn delta(call: &Call) -> Result<Vector, EvalError> {
    on_window(call, delta_of)
}

pub(crate) fn rate(call: &Call) -> Result<Vector, EvalError> {
    on_window(call, rate_of)
}

pub(crate) fn increase(call: &Call) -> Result<Vector, EvalError> {
    on_window(call, increase_of)
}

/// `instantValue`: from the last two points.
fn instant_value(points: &[Point], is_rate: bool) -> Option<f64> {
    if points.len() < 2 {
        return None;
    }
    let last = points[points.len() - 1];
    let previous = points[points.len() - 2];
    let mut result_value = if is_rate && last.v < previous.v {
        last.v // counter reset
    } else {
        last.v - previous.v
    };
    let sampled_interval = last.t - previous.t;
    if sampled_interval == 0 {
        return None;
    }
    if is_rate {
        result_value /= sampled_interval as f64 / 1000.0;
    }
    Some(result_value)
}

pub(crate) fn irate_of(points: &[Point], _: Window) -> Option<f64> {
    instant_value(points, true)
}

pub(crate) fn idelta_of(points: &[Point], _: Window) -> Option<f64> {
    instant_value(points, false)
}

pub(crate) fn irate(call: &Call) -> Result<Vector, EvalError> {
    on_window(call, irate_of)
}

pub(crate) fn idelta(call: &Call) -> Result<Vector, EvalError> {
    on_window(call, idelta_of)
}

/// `linearRegression`: least-squares slope, and the intercept at `intercept_time`.
fn linear_regression(samples: &[Point], intercept_time: i64) -> (f64, f64) {
    let (mut n, mut sum_x, mut c_x, mut sum_y, mut c_y) = (0.0, 0.0, 0.0, 0.0, 0.0);
    let (mut sum_xy, mut c_xy, mut sum_x2, mut c_x2) = (0.0, 0.0, 0.0, 0.0);
    let init_y = samples[0].v;
    let mut const_y = true;
    for (i, sample) in samples.iter().enumerate() {
        if const_y && i > 0 && sample.v != init_y {
            const_y = false;
        }
        n += 1.0;
        let x = (sample.t - intercept_time) as f64 / 1e3;
        (sum_x, c_x) = kahan_sum_inc(x, sum_x, c_x);
        (sum_y, c_y) = kahan_sum_inc(sample.v, sum_y, c_y);
        (sum_xy, c_xy) = kahan_sum_inc(x * sample.v, sum_xy, c_xy);
        (sum_x2, c_x2) = kahan_sum_inc(x * x, sum_x2, c_x2);
    }
    if const_y {
        if init_y.is_infinite() {
            return (f64::NAN, f64::NAN);
        }
        return (0.0, init_y);
    }
    sum_x += c_x;
    sum_y += c_y;
    sum_xy += c_xy;
    sum_x2 += c_x2;

    let cov_xy = sum_xy - sum_x * sum_y / n;
    let var_x = sum_x2 - sum_x * sum_x / n;

    let slope = cov_xy / var_x;
    let intercept = sum_y / n - slope * sum_x / n;
    (slope, intercept)
}

pub(crate) fn deriv_of(points: &[Point], _: Window) -> Option<f64> {
    if points.len() < 2 {
        return None;
    }
    Some(linear_regression(points, points[0].t).0)
}

pub(crate) fn deriv(call: &Call) -> Result<Vector, EvalError> {
    on_window(call, deriv_of)
}

pub(crate) fn predict_linear(call: &Call) -> Result<Vector, EvalError> {
    let Some(s) = call.series_arg(0) else { return Ok(vec![]) };
    let duration = call.scalar_arg(1);
    if s.points.len() < 2 {
        return Ok(vec![]);
    }
    let (slope, intercept) = linear_regression(&s.points, call.ts);
    Ok(one(call, s, slope * duration + intercept))
}

/// Go's `%f`: six decimals, and `NaN`, `+Inf`, `-Inf`.
fn go_percent_f(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_string()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_string()
    } else {
        format!("{v:.6}")
    }
}

/// `calcTrendValue`.
fn calc_trend_value(i: usize, tf: f64, s0: f64, s1: f64, b: f64) -> f64 {
    if i == 0 {
        return b;
    }
    let x = tf * (s1 - s0);
    let y = (1.0 - tf) * b;
    x + y
}

/// holt_winters; like Prometheus, it checks its factors only when it has a series to run on.
pub(crate) fn holt_winters(call: &Call) -> Result<Vector, EvalError> {
    let Some(s) = call.series_arg(0) else { return Ok(vec![]) };
    let sf = call.scalar_arg(1);
    let tf = call.scalar_arg(2);
    if sf <= 0.0 || sf >= 1.0 {
        return Err(EvalError::Execution(format!(
            "invalid smoothing factor. Expected: 0 < sf < 1, got: {}",
            go_percent_f(sf)
        )));
    }
    if tf <= 0.0 || tf >= 1.0 {
        return Err(EvalError::Execution(format!(
            "invalid trend factor. Expected: 0 < tf < 1, got: {}",
            go_percent_f(tf)
        )));
    }
    let points = &s.points;
    let l = points.len();
    if l < 2 {
        return Ok(vec![]);
    }
    let mut s0 = 0.0;
    let mut s1 = points[0].v;
    let mut b = points[1].v - points[0].v;
    for (i, p) in points.iter().enumerate().skip(1) {
        let x = sf * p.v;
        b = calc_trend_value(i - 1, tf, s0, s1, b);
        let y = (1.0 - sf) * (s1 + b);
        s0 = s1;
        s1 = x + y;
    }
    Ok(one(call, s, s1))
}

pub(crate) fn resets_of(points: &[Point], _: Window) -> Option<f64> {
    let mut resets = 0;
    let mut prev = points[0].v;
    for p in &points[1..] {
        if p.v < prev {
            resets += 1;
        }
        prev = p.v;
    }
    Some(resets as f64)
}

pub(crate) fn resets(call: &Call) -> Result<Vector, EvalError> {
    on_window(call, resets_of)
}

pub(crate) fn changes_of(points: &[Point], _: Window) -> Option<f64> {
    let mut changes = 0;
    let mut prev = points[0].v;
    for p in &points[1..] {
        let current = p.v;
        if current != prev && !(current.is_nan() && prev.is_nan()) {
            changes += 1;
        }
        prev = current;
    }
    Some(changes as f64)
}

pub(crate) fn changes(call: &Call) -> Result<Vector, EvalError> {
    on_window(call, changes_of)
}
