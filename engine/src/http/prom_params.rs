//! The parameters of Prometheus' HTTP API, parsed as 2.42 parses them (web/api/v1/api.go):
//! the form (URL query plus an `application/x-www-form-urlencoded` body), times (float Unix
//! seconds or RFC 3339), durations (float seconds or `1m30s`), `limit`, label names and
//! `match[]` series selectors (with the `promql-parser` crate, into the index's matchers).
//! Errors (`ParamError`) are the texts Prometheus answers with, without the `invalid parameter`
//! prefix that the handlers add where Prometheus does.


/// A parameter that cannot be used; its text is what Prometheus (or, for `match[]`, Gemini)
/// answers with.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParamError {
    #[error("cannot parse {0:?} to a valid timestamp")]
    Time(String),
    #[error("cannot parse {0:?} to a valid duration")]
    Duration(String),
    #[error("cannot parse {0:?} to a valid duration. It overflows int64")]
    DurationOverflow(String),
    #[error("strconv.Atoi: parsing {0:?}: invalid syntax")]
    LimitSyntax(String),
    #[error("limit must be non-negative")]
    NegativeLimit,
    /// A `match[]` that is not a series selector.
    #[error(transparent)]
    Selector(#[from] crate::promql::selector::SelectorError),
}

/// A request's parameters: the body's pairs first, then the URL's, as Go's `Request.Form`
/// orders them (so `FormValue` prefers the body).
pub struct Form(Vec<(String, String)>);

impl Form {
    pub fn new(query: &str, body: &[u8]) -> Form {
        let mut pairs: Vec<(String, String)> = form_urlencoded(body);
        pairs.extend(form_urlencoded(query.as_bytes()));
        Form(pairs)
    }

    /// The first value of `name`, "" when there is none (Go's `FormValue`).
    pub fn value(&self, name: &str) -> &str {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str()).unwrap_or("")
    }

    /// Every value of `name` (repeated `match[]`).
    pub fn values(&self, name: &str) -> Vec<&str> {
        self.0.iter().filter(|(n, _)| n == name).map(|(_, v)| v.as_str()).collect()
    }
}

fn form_urlencoded(bytes: &[u8]) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes(bytes).unwrap_or_default()
}

/// Nanoseconds since the epoch. Go's times keep nanoseconds, and Prometheus compares them
/// (`end` before `start`, points per series) before a query sees milliseconds.
pub type Nanos = i128;

const NS_PER_S: i128 = 1_000_000_000;

/// Prometheus' `minTime` and `maxTime` (what clients send for an open range), with the texts
/// `Format(time.RFC3339Nano)` gives them and that `parseTime` accepts.
pub const MIN_TIME: Nanos = (i64::MIN / 1000 + 62_135_596_801) as i128 * NS_PER_S;
pub const MAX_TIME: Nanos = (i64::MAX / 1000 - 62_135_596_801) as i128 * NS_PER_S + 999_999_999;
const MIN_TIME_TEXT: &str = "-292273086-05-16T16:47:06Z";
const MAX_TIME_TEXT: &str = "292277025-08-18T07:12:54.999999999Z";

/// `timestamp.FromTime`: whole milliseconds, rounded down.
pub fn millis(t: Nanos) -> i64 {
    t.div_euclid(1_000_000).clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

/// `parseTime`: float Unix seconds (rounded to the millisecond as Prometheus rounds them) or
/// RFC 3339 with up to nanoseconds. Unlike Go, NaN, infinities and times beyond what an
/// `i64` of milliseconds holds are refused rather than wrapped around.
pub fn parse_time(s: &str) -> Result<Nanos, ParamError> {
    let bad = || ParamError::Time(s.to_string());
    if let Some(t) = go_float(s) {
        if !(t.abs() < 9.2e15) {
            return Err(bad());
        }
        // math.Modf, then the fraction rounded to ms, then time.Unix(int64(s), int64(ns*1e9)).
        let whole = t.trunc();
        let fraction = ((t - whole) * 1000.0).round() / 1000.0;
        return Ok(whole as i128 * NS_PER_S + (fraction * 1e9) as i64 as i128);
    }
    match s {
        MIN_TIME_TEXT => Ok(MIN_TIME),
        MAX_TIME_TEXT => Ok(MAX_TIME),
        _ => rfc3339(s).ok_or_else(bad),
    }
}

/// Go's `strconv.ParseFloat` for the texts both languages read alike (Go's hexadecimal
/// floats aside); `None` where Go fails, including out of range (`1e400`).
fn go_float(s: &str) -> Option<f64> {
    let v: f64 = s.parse().ok()?;
    let spelled_infinite = s.trim_start_matches(['+', '-']).to_ascii_lowercase().starts_with("inf");
    (v.is_finite() || spelled_infinite || v.is_nan()).then_some(v)
}

/// `time.Parse(time.RFC3339Nano, s)`: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`, a fraction
/// of any length (digits past nanoseconds ignored, `,` allowed for `.`), calendar checked.
fn rfc3339(s: &str) -> Option<Nanos> {
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let part = b.get(from..from + len)?;
        part.iter().all(u8::is_ascii_digit).then(|| part.iter().fold(0i64, |n, d| n * 10 + (d - b'0') as i64))
    };
    let at = |i: usize, c: u8| b.get(i) == Some(&c);
    if !(at(4, b'-') && at(7, b'-') && at(10, b'T') && at(13, b':') && at(16, b':')) {
        return None;
    }
    let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (hour, minute, second) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let mut i = 19;
    let mut nanos = 0i128;
    if (at(i, b'.') || at(i, b',')) && b.get(i + 1).is_some_and(u8::is_ascii_digit) {
        let digits = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        for (k, d) in b[i + 1..i + 1 + digits].iter().enumerate() {
            if k < 9 {
                nanos += (d - b'0') as i128 * 10i128.pow(8 - k as u32);
            }
        }
        i += 1 + digits;
    }
    let offset = match b.get(i..)? {
        [b'Z'] => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let (h, m) = (num(i + 1, 2)?, num(i + 4, 2)?);
            if h > 24 || m > 60 {
                return None;
            }
            (h * 3600 + m * 60) * if *sign == b'-' { -1 } else { 1 }
        }
        _ => return None,
    };
    let seconds = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset;
    Some(seconds as i128 * NS_PER_S + nanos)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a date of the proleptic Gregorian calendar (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `parseDuration`, in nanoseconds: float seconds (truncated to the nanosecond; NaN becomes
/// Go's `int64(NaN)`, the most negative duration) or a Prometheus duration (`5m`, `1h30m`).
pub fn parse_duration(s: &str) -> Result<i64, ParamError> {
    if let Some(seconds) = go_float(s) {
        let ns = seconds * 1e9;
        if ns >= 9_223_372_036_854_775_808.0 || ns < -9_223_372_036_854_775_808.0 {
            return Err(ParamError::DurationOverflow(s.to_string()));
        }
        return Ok(if ns.is_nan() { i64::MIN } else { ns as i64 });
    }
    crate::config::parse_prometheus_duration(s).map(|d| d.as_nanos() as i64).map_err(|_| ParamError::Duration(s.to_string()))
}

/// `limit` as later Prometheus versions take it (2.42 has none): absent or 0 for no limit.
pub fn parse_limit(s: &str) -> Result<Option<usize>, ParamError> {
    if s.is_empty() {
        return Ok(None);
    }
    let n: i64 = s.parse().map_err(|_| ParamError::LimitSyntax(s.to_string()))?;
    match n {
        n if n < 0 => Err(ParamError::NegativeLimit),
        0 => Ok(None),
        n => Ok(Some(n as usize)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::promql::value::is_valid_label_name;

    fn ms(s: &str) -> i64 {
        millis(parse_time(s).unwrap_or_else(|e| panic!("{s}: {e}")))
    }

    #[test]
    fn times_as_prometheus_parses_them() {
        // api_test.go TestParseTime and TestParseTimeParam.
        assert_eq!(ms("123"), 123_000);
        assert_eq!(ms("123.123"), 123_123);
        assert_eq!(ms("1543578564.705"), 1_543_578_564_705);
        assert_eq!(ms("1582468023986"), 1_582_468_023_986_000);
        assert_eq!(ms("2015-06-03T13:21:58.555Z"), 1_433_337_718_555);
        assert_eq!(ms("2015-06-03T14:21:58.555+01:00"), 1_433_337_718_555);
        assert_eq!(parse_time(MIN_TIME_TEXT), Ok(MIN_TIME));
        assert_eq!(parse_time(MAX_TIME_TEXT), Ok(MAX_TIME));
        assert_eq!(millis(MIN_TIME), -9_223_309_901_257_974_000);
        assert_eq!(millis(MAX_TIME), 9_223_309_901_257_974_999);
        for bad in ["", "abc", "30s", "1e400", "NaN", "Inf", "2015-06-03 13:21:58Z", "2015-06-03T13:21:58", "2015-02-29T00:00:00Z", "2015-06-03T24:00:00Z", "2015-06-03T13:21:60Z", "2015-06-03t13:21:58z", "2015-06-03T13:21:58.Z"] {
            assert_eq!(parse_time(bad).map_err(|e| e.to_string()), Err(format!("cannot parse {bad:?} to a valid timestamp")), "{bad}");
        }
        // Float seconds: the fraction is rounded to ms, half away from zero; negative times.
        assert_eq!(ms("1.0625"), 1063);
        assert_eq!(ms("-1.0625"), -1063);
        assert_eq!(ms("1.0004"), 1000);
        assert_eq!(ms("-1.5"), -1500);
        assert_eq!(ms("-0.0004"), 0);
        assert_eq!(ms("-0.0005"), -1);
        assert_eq!(ms("1e3"), 1_000_000);
        assert_eq!(ms(".5"), 500);
        assert_eq!(ms("+2"), 2000);
        // Every whole millisecond comes back as itself.
        for k in -2000..=2000 {
            assert_eq!(ms(&format!("{}", k as f64 / 1000.0)), k, "{k}");
        }
        // RFC 3339: fractions of any length, cut (not rounded) to ns; ms rounded down; leap day.
        assert_eq!(parse_time("1970-01-01T00:00:00.123456789999Z"), Ok(123_456_789));
        assert_eq!(ms("1970-01-01T00:00:00.0009Z"), 0);
        assert_eq!(ms("1969-12-31T23:59:59.9999Z"), -1);
        assert_eq!(ms("2024-02-29T00:00:00,5Z"), 1_709_164_800_500);
        assert_eq!(ms("2000-01-01T00:00:00-05:30"), 946_684_800_000 + 19_800_000);
        assert_eq!(ms("0001-01-01T00:00:00Z"), -62_135_596_800_000);
    }

    #[test]
    fn durations_as_prometheus_parses_them() {
        // api_test.go TestParseDuration.
        assert_eq!(parse_duration("123"), Ok(123_000_000_000));
        assert_eq!(parse_duration("123.333"), Ok(123_333_000_000));
        assert_eq!(parse_duration("15s"), Ok(15_000_000_000));
        assert_eq!(parse_duration("5m"), Ok(300_000_000_000));
        assert_eq!(parse_duration("1m30s"), Ok(90_000_000_000));
        assert_eq!(parse_duration("1h"), Ok(3_600_000_000_000));
        assert_eq!(parse_duration("1d2h3m4s5ms"), Ok(((26 * 60 + 3) * 60 + 4) * 1_000_000_000 + 5_000_000));
        assert_eq!(parse_duration("0"), Ok(0));
        assert_eq!(parse_duration("0.0001"), Ok(100_000));
        assert_eq!(parse_duration("-1"), Ok(-1_000_000_000));
        for bad in ["", "abc", "2015-06-03T13:21:58.555Z", "1.5m", "30s1m", "5 m", "1M", "-5m"] {
            assert_eq!(parse_duration(bad).map_err(|e| e.to_string()), Err(format!("cannot parse {bad:?} to a valid duration")), "{bad}");
        }
        for bad in ["-148966367200.372", "148966367200.372", "Inf"] {
            assert_eq!(parse_duration(bad).map_err(|e| e.to_string()), Err(format!("cannot parse {bad:?} to a valid duration. It overflows int64")), "{bad}");
        }
        assert_eq!(parse_duration("NaN"), Ok(i64::MIN));
    }

    #[test]
    fn limits_and_label_names() {
        assert_eq!(parse_limit(""), Ok(None));
        assert_eq!(parse_limit("0"), Ok(None));
        assert_eq!(parse_limit("40000"), Ok(Some(40000)));
        assert_eq!(parse_limit("-1").map_err(|e| e.to_string()), Err("limit must be non-negative".into()));
        assert_eq!(parse_limit("x").map_err(|e| e.to_string()), Err("strconv.Atoi: parsing \"x\": invalid syntax".into()));
        for good in ["__name__", "job", "_", "a1_B"] {
            assert!(is_valid_label_name(good), "{good}");
        }
        for bad in ["", "1a", "a-b", "a.b", "é"] {
            assert!(!is_valid_label_name(bad), "{bad}");
        }
    }
}
