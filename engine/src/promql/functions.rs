//! PromQL's functions on float samples, as Prometheus 2.42 computes them (promql/functions.go).
//! The evaluator calls a function once per step with its arguments evaluated at that step;
//! a function of one range vector alone also has a window form (`WindowFn`) that the
//! evaluator runs over each series' steps in one pass.
//!
//! The implementations live in the submodules, grouped as in functions.go: `rate` (rate,
//! increase, delta, irate, idelta, deriv, predict_linear, holt_winters, resets, changes),
//! `over_time` (the `*_over_time` family), `math` (the element-wise functions, clamp, round,
//! time, scalar, vector, sort), `date` (the calendar functions), `histogram`
//! (histogram_quantile) and `labels` (label_replace, label_join, absent). `gosort`,
//! `goparse`, `goregex` and `gomath` (and the calendar code in `date`) are ports of the Go library code whose
//! exact behaviour shows in results (sort order with NaN and ties, `strconv.ParseFloat`,
//! RE2 syntax, `time`).

use super::error::EvalError;
use super::plan::Node;
use super::value::{Labels, Point, Sample, Series, Value, Vector};

mod date;
mod gomath;
mod goparse;
mod goregex;
pub(crate) mod gosort;
mod histogram;
pub(crate) mod labels;
mod math;
pub(crate) mod over_time;
pub(crate) mod rate;

#[cfg(test)]
mod testutil;
#[cfg(test)]
mod tests_histogram;
#[cfg(test)]
mod tests_labels;
#[cfg(test)]
mod tests_math;
#[cfg(test)]
mod tests_over_time;
#[cfg(test)]
mod tests_rate;

/// One call of a function at one step.
pub struct Call<'a> {
    /// The evaluation time (ms).
    pub ts: i64,
    /// The arguments at this step: `Value::Vector` for a vector argument (every sample's
    /// `point.t` is `ts`, except for `timestamp(<selector>)`, where it is the sample's own
    /// time), `Value::Scalar` for a scalar, and for a range-vector argument `Value::Matrix`
    /// holding exactly one series: its points inside the window (stale markers dropped).
    /// A string argument is read from `nodes`.
    pub args: &'a [Value],
    /// The argument expressions.
    pub nodes: &'a [Node],
    /// Range and effective offset (ms) of the range-vector argument: the window is
    /// `[ts - offset - range, ts - offset]`.
    pub range: i64,
    pub offset: i64,
}

/// A function: the output vector at this step.
pub type FnImpl = fn(&Call) -> Result<Vector, EvalError>;

/// Where a range-vector argument's window lies at one step: `[ts - offset - range, ts - offset]` (ms).
#[derive(Clone, Copy, Debug)]
pub struct Window {
    pub ts: i64,
    pub range: i64,
    pub offset: i64,
    /// False when the caller knows that no point of the window is below the one before it
    /// (no counter reset), so a counter's correction loop can be skipped.
    pub may_reset: bool,
}

/// A function whose only argument is a range vector, as a function of one series' window:
/// its points (at least one, staleness markers left out) give the value at this step, or
/// none. The evaluator runs these over each series' steps in one pass, with no argument
/// vectors built per step.
pub type WindowFn = fn(&[Point], Window) -> Option<f64>;

/// The window form of `name`, when it takes a range vector alone.
pub fn lookup_window(name: &str) -> Option<WindowFn> {
    let f: WindowFn = match name {
        "avg_over_time" => over_time::avg_of,
        "changes" => rate::changes_of,
        "count_over_time" => over_time::count_of,
        "delta" => rate::delta_of,
        "deriv" => rate::deriv_of,
        "idelta" => rate::idelta_of,
        "increase" => rate::increase_of,
        "irate" => rate::irate_of,
        "last_over_time" => over_time::last_of,
        "max_over_time" => over_time::max_of,
        "min_over_time" => over_time::min_of,
        "present_over_time" => over_time::present_of,
        "rate" => rate::rate_of,
        "resets" => rate::resets_of,
        "stddev_over_time" => over_time::stddev_of,
        "stdvar_over_time" => over_time::stdvar_of,
        "sum_over_time" => over_time::sum_of,
        _ => return None,
    };
    Some(f)
}

/// A window function called the step-by-step way: on the series of range-vector argument 0.
fn on_window(call: &Call, f: WindowFn) -> Result<Vector, EvalError> {
    let Some(s) = call.series_arg(0) else { return Ok(vec![]) };
    let window = Window { ts: call.ts, range: call.range, offset: call.offset, may_reset: true };
    Ok(f(&s.points, window).map(|v| call.sample(s.labels.clone(), v)).into_iter().collect())
}

/// The function named `name`, or `None` when Prometheus 2.42 has no float function by that
/// name (unknown, or one of the native-histogram functions).
pub fn lookup(name: &str) -> Option<FnImpl> {
    let f: FnImpl = match name {
        "abs" => math::abs,
        "absent" => labels::absent,
        "absent_over_time" => labels::absent_over_time,
        "acos" => math::acos,
        "acosh" => math::acosh,
        "asin" => math::asin,
        "asinh" => math::asinh,
        "atan" => math::atan,
        "atanh" => math::atanh,
        "avg_over_time" => over_time::avg_over_time,
        "ceil" => math::ceil,
        "changes" => rate::changes,
        "clamp" => math::clamp,
        "clamp_max" => math::clamp_max,
        "clamp_min" => math::clamp_min,
        "cos" => math::cos,
        "cosh" => math::cosh,
        "count_over_time" => over_time::count_over_time,
        "days_in_month" => date::days_in_month,
        "day_of_month" => date::day_of_month,
        "day_of_week" => date::day_of_week,
        "day_of_year" => date::day_of_year,
        "deg" => math::deg,
        "delta" => rate::delta,
        "deriv" => rate::deriv,
        "exp" => math::exp,
        "floor" => math::floor,
        "histogram_quantile" => histogram::histogram_quantile,
        "holt_winters" => rate::holt_winters,
        "hour" => date::hour,
        "idelta" => rate::idelta,
        "increase" => rate::increase,
        "irate" => rate::irate,
        "label_replace" => labels::label_replace,
        "label_join" => labels::label_join,
        "ln" => math::ln,
        "log10" => math::log10,
        "log2" => math::log2,
        "last_over_time" => over_time::last_over_time,
        "max_over_time" => over_time::max_over_time,
        "min_over_time" => over_time::min_over_time,
        "minute" => date::minute,
        "month" => date::month,
        "pi" => math::pi,
        "predict_linear" => rate::predict_linear,
        "present_over_time" => over_time::present_over_time,
        "quantile_over_time" => over_time::quantile_over_time,
        "rad" => math::rad,
        "rate" => rate::rate,
        "resets" => rate::resets,
        "round" => math::round,
        "scalar" => math::scalar,
        "sgn" => math::sgn,
        "sin" => math::sin,
        "sinh" => math::sinh,
        "sort" => math::sort,
        "sort_desc" => math::sort_desc,
        "sqrt" => math::sqrt,
        "stddev_over_time" => over_time::stddev_over_time,
        "stdvar_over_time" => over_time::stdvar_over_time,
        "sum_over_time" => over_time::sum_over_time,
        "tan" => math::tan,
        "tanh" => math::tanh,
        "time" => math::time,
        "timestamp" => math::timestamp,
        "vector" => math::vector,
        "year" => date::year,
        _ => return None,
    };
    Some(f)
}

impl<'a> Call<'a> {
    /// The value of scalar argument `i` (Prometheus hands scalars in as one-sample vectors;
    /// both forms are accepted). NaN when missing.
    pub(crate) fn scalar_arg(&self, i: usize) -> f64 {
        match self.args.get(i) {
            Some(Value::Scalar(p)) => p.v,
            Some(Value::Vector(v)) if !v.is_empty() => v[0].point.v,
            _ => f64::NAN,
        }
    }

    /// The samples of vector argument `i` (empty when it is not a vector).
    pub(crate) fn vector_arg(&self, i: usize) -> &'a [Sample] {
        match self.args.get(i) {
            Some(Value::Vector(v)) => v,
            _ => &[],
        }
    }

    /// The series of range-vector argument `i`, when it has one with points.
    pub(crate) fn series_arg(&self, i: usize) -> Option<&'a Series> {
        match self.args.get(i) {
            Some(Value::Matrix(m)) => m.iter().find(|s| !s.points.is_empty()),
            _ => None,
        }
    }

    /// The string literal argument `i`: from its node, else from its evaluated value ("" when
    /// it is not a string).
    pub(crate) fn string_arg(&self, i: usize) -> &'a str {
        fn literal(n: &Node) -> Option<&str> {
            match n {
                Node::String(s) => Some(s),
                _ => None,
            }
        }
        if let Some(s) = self.nodes.get(i).and_then(literal) {
            return s;
        }
        match self.args.get(i) {
            Some(Value::String(_, s)) => s,
            _ => "",
        }
    }

    /// An output sample at this step.
    pub(crate) fn sample(&self, labels: Labels, v: f64) -> Sample {
        Sample { labels, point: super::value::Point { t: self.ts, v } }
    }
}
