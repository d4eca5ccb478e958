//! The calendar functions (days_in_month, day_of_month, day_of_week, day_of_year, hour,
//! minute, month, year) as `dateWrapper` computes them, with the parts of Go's `time`
//! package they use (`time.Unix(..).UTC()`, `absDate`, `time.Date`) ported with Go's wrapping
//! integer arithmetic, so that any input, even NaN or ±Inf (which Go converts to the minimum
//! int64 on amd64), gives the value Prometheus gives.

use super::Call;
use crate::promql::error::EvalError;
use crate::promql::value::{Labels, Vector};

const SECONDS_PER_MINUTE: u64 = 60;
const SECONDS_PER_HOUR: u64 = 60 * SECONDS_PER_MINUTE;
const SECONDS_PER_DAY: u64 = 24 * SECONDS_PER_HOUR;
const SECONDS_PER_WEEK: u64 = 7 * SECONDS_PER_DAY;
const DAYS_PER_400_YEARS: u64 = 365 * 400 + 97;
const DAYS_PER_100_YEARS: u64 = 365 * 100 + 24;
const DAYS_PER_4_YEARS: u64 = 365 * 4 + 1;
const ABSOLUTE_ZERO_YEAR: i64 = -292277022399;
/// `(absoluteZeroYear - internalYear) * 365.2425 * secondsPerDay`.
const ABSOLUTE_TO_INTERNAL: i64 = -9223371966579724800;
const UNIX_TO_INTERNAL: i64 = (1969 * 365 + 1969 / 4 - 1969 / 100 + 1969 / 400) * SECONDS_PER_DAY as i64;
const DAYS_BEFORE: [u64; 13] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365];

/// Go's `int64(f)` on amd64 (CVTTSD2SQ): truncation, and the "integer indefinite" value
/// (minimum int64) for NaN and anything out of range.
pub(crate) fn go_f64_to_i64(f: f64) -> i64 {
    const TWO_63: f64 = (1u64 << 63) as f64;
    if (-TWO_63..TWO_63).contains(&f) {
        f as i64
    } else {
        i64::MIN // NaN too
    }
}

/// The absolute time (seconds since the absolute zero year) of `time.Unix(sec, 0).UTC()`.
fn abs_of_unix(sec: i64) -> u64 {
    sec.wrapping_add(UNIX_TO_INTERNAL.wrapping_add(ABSOLUTE_TO_INTERNAL.wrapping_neg())) as u64
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

/// A broken-down date as Go's `absDate(abs, true)` returns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct GoDate {
    pub year: i64,
    /// 1..=12.
    pub month: u64,
    pub day: i64,
    /// 0-based day of the year.
    pub yday: i64,
}

fn abs_date(abs: u64) -> GoDate {
    let mut d = abs / SECONDS_PER_DAY;
    let mut n = d / DAYS_PER_400_YEARS;
    let mut y = n.wrapping_mul(400);
    d -= DAYS_PER_400_YEARS * n;
    n = d / DAYS_PER_100_YEARS;
    n -= n >> 2;
    y = y.wrapping_add(100 * n);
    d -= DAYS_PER_100_YEARS * n;
    n = d / DAYS_PER_4_YEARS;
    y = y.wrapping_add(4 * n);
    d -= DAYS_PER_4_YEARS * n;
    n = d / 365;
    n -= n >> 2;
    y = y.wrapping_add(n);
    d -= 365 * n;
    let year = (y as i64).wrapping_add(ABSOLUTE_ZERO_YEAR);
    let yday = d as i64;
    let mut day = yday;
    if is_leap(year) {
        if day > 31 + 29 - 1 {
            day -= 1;
        } else if day == 31 + 29 - 1 {
            return GoDate { year, month: 2, day: 29, yday };
        }
    }
    let mut month = (day / 31) as u64;
    let end = DAYS_BEFORE[month as usize + 1] as i64;
    let begin = if day >= end {
        month += 1;
        end
    } else {
        DAYS_BEFORE[month as usize] as i64
    };
    month += 1;
    day = day - begin + 1;
    GoDate { year, month, day, yday }
}

/// Go's `daysSinceEpoch(year)`.
fn days_since_epoch(year: i64) -> u64 {
    let mut y = year.wrapping_sub(ABSOLUTE_ZERO_YEAR) as u64;
    let mut n = y / 400;
    y -= 400 * n;
    let mut d = DAYS_PER_400_YEARS.wrapping_mul(n);
    n = y / 100;
    y -= 100 * n;
    d = d.wrapping_add(DAYS_PER_100_YEARS * n);
    n = y / 4;
    y -= 4 * n;
    d = d.wrapping_add(DAYS_PER_4_YEARS * n);
    d.wrapping_add(365 * y)
}

/// `time.Date(year, month, day, 0, 0, 0, 0, time.UTC)` as an absolute time, for `month` in
/// 1..=12 and `day` >= 1 (nothing to normalise then).
fn abs_of_date(year: i64, month: u64, day: i64) -> u64 {
    let mut d = days_since_epoch(year);
    d = d.wrapping_add(DAYS_BEFORE[month as usize - 1]);
    if is_leap(year) && month >= 3 {
        d = d.wrapping_add(1);
    }
    d = d.wrapping_add((day - 1) as u64);
    d.wrapping_mul(SECONDS_PER_DAY)
}

/// The date of Unix time `sec` (UTC).
pub(crate) fn date_of_unix(sec: i64) -> GoDate {
    abs_date(abs_of_unix(sec))
}

fn days_in_month_of(sec: i64) -> f64 {
    let t = date_of_unix(sec);
    (32 - abs_date(abs_of_date(t.year, t.month, 32)).day) as f64
}

fn day_of_month_of(sec: i64) -> f64 {
    date_of_unix(sec).day as f64
}

fn day_of_week_of(sec: i64) -> f64 {
    // January 1 of the absolute year, like January 1 of 2001, was a Monday.
    let s = abs_of_unix(sec).wrapping_add(SECONDS_PER_DAY) % SECONDS_PER_WEEK;
    (s / SECONDS_PER_DAY) as f64
}

fn day_of_year_of(sec: i64) -> f64 {
    (date_of_unix(sec).yday + 1) as f64
}

fn hour_of(sec: i64) -> f64 {
    ((abs_of_unix(sec) % SECONDS_PER_DAY) / SECONDS_PER_HOUR) as f64
}

fn minute_of(sec: i64) -> f64 {
    ((abs_of_unix(sec) % SECONDS_PER_HOUR) / SECONDS_PER_MINUTE) as f64
}

fn month_of(sec: i64) -> f64 {
    date_of_unix(sec).month as f64
}

fn year_of(sec: i64) -> f64 {
    date_of_unix(sec).year as f64
}

/// `dateWrapper`: with no argument, the evaluation time; otherwise every sample's value read
/// as Unix seconds, the metric name dropped.
fn date_wrapper(call: &Call, f: fn(i64) -> f64) -> Result<Vector, EvalError> {
    if call.args.is_empty() {
        return Ok(vec![call.sample(Labels::default(), f(call.ts / 1000))]);
    }
    Ok(call
        .vector_arg(0)
        .iter()
        .map(|s| call.sample(s.labels.without_name(), f(go_f64_to_i64(s.point.v))))
        .collect())
}

pub(crate) fn days_in_month(call: &Call) -> Result<Vector, EvalError> {
    date_wrapper(call, days_in_month_of)
}

pub(crate) fn day_of_month(call: &Call) -> Result<Vector, EvalError> {
    date_wrapper(call, day_of_month_of)
}

pub(crate) fn day_of_week(call: &Call) -> Result<Vector, EvalError> {
    date_wrapper(call, day_of_week_of)
}

pub(crate) fn day_of_year(call: &Call) -> Result<Vector, EvalError> {
    date_wrapper(call, day_of_year_of)
}

pub(crate) fn hour(call: &Call) -> Result<Vector, EvalError> {
    date_wrapper(call, hour_of)
}

pub(crate) fn minute(call: &Call) -> Result<Vector, EvalError> {
    date_wrapper(call, minute_of)
}

pub(crate) fn month(call: &Call) -> Result<Vector, EvalError> {
    date_wrapper(call, month_of)
}

pub(crate) fn year(call: &Call) -> Result<Vector, EvalError> {
    date_wrapper(call, year_of)
}
