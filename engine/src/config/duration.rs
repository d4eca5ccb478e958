//! The durations of the server's options: retention's (`30d`, `inf`) and Prometheus' (`1m30s`).

/// Why a duration does not parse: `Invalid` and `TooLarge` are of `parse_duration`, the others
/// of `parse_prometheus_duration` (Prometheus' words).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DurationError {
    #[error("invalid duration {0:?}: expected a number and ms, s, m, h, d, w or y (like 30d), or inf")]
    Invalid(String),
    #[error("invalid duration {0:?}: not a number of that size")]
    TooLarge(String),
    #[error("empty duration string")]
    Empty,
    #[error("not a valid duration string: {0:?}")]
    NotPrometheus(String),
    #[error("duration out of range")]
    OutOfRange,
}

/// `30d`, `12h`, `90m`, `1y` (365 days), `0` or `inf` (forever) → nanoseconds.
pub fn parse_duration(s: &str) -> Result<i64, DurationError> {
    let s = s.trim();
    if s == "0" || s.eq_ignore_ascii_case("inf") {
        return Ok(0);
    }
    let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let unit = match &s[digits..] {
        "y" => Some(365 * 86_400_000_000_000),
        unit => crate::model::unit_nanos(unit),
    };
    let Some(unit) = unit.filter(|_| digits > 0) else {
        return Err(DurationError::Invalid(s.to_string()));
    };
    s[..digits].parse::<i64>().ok().and_then(|n| n.checked_mul(unit)).ok_or_else(|| DurationError::TooLarge(s.to_string()))
}

/// A Prometheus duration (its `model.ParseDuration`): `0`, or numbers with the units `y w d h m
/// s ms` in that order, each at most once, like `5m`, `1h30m` or `1d12h`.
pub fn parse_prometheus_duration(s: &str) -> Result<std::time::Duration, DurationError> {
    const UNITS: [(&str, u64); 7] = [("y", 365 * 86_400_000), ("w", 7 * 86_400_000), ("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)];
    let bad = || DurationError::NotPrometheus(s.to_string());
    if s == "0" {
        return Ok(std::time::Duration::ZERO);
    }
    if s.is_empty() {
        return Err(DurationError::Empty);
    }
    let (mut rest, mut next_unit, mut total) = (s, 0, 0u64);
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        let tail = &rest[digits..];
        let unit = if tail.starts_with("ms") { "ms" } else { tail.get(..1).ok_or_else(bad)? };
        let at = UNITS[next_unit..].iter().position(|(u, _)| *u == unit).ok_or_else(bad)? + next_unit;
        if digits == 0 {
            return Err(bad());
        }
        let n: u64 = rest[..digits].parse().unwrap_or(u64::MAX);
        total = n.checked_mul(UNITS[at].1).and_then(|ms| total.checked_add(ms)).filter(|ms| *ms <= i64::MAX as u64 / 1_000_000).ok_or(DurationError::OutOfRange)?;
        (rest, next_unit) = (&tail[unit.len()..], at + 1);
    }
    Ok(std::time::Duration::from_millis(total))
}

/// Prometheus' `model.Duration.String` of `ms` milliseconds (not negative): `0s`, `1m30s`,
/// `2h`, `1w`, `1y`, `1s500ms` (years and weeks only when they divide it exactly).
pub fn format_prometheus_duration(ms: u64) -> String {
    const UNITS: [(&str, u64, bool); 7] = [("y", 365 * 86_400_000, true), ("w", 7 * 86_400_000, true), ("d", 86_400_000, false), ("h", 3_600_000, false), ("m", 60_000, false), ("s", 1000, false), ("ms", 1, false)];
    if ms == 0 {
        return "0s".to_string();
    }
    let (mut rest, mut out) = (ms, String::new());
    for (unit, size, exact) in UNITS {
        if (exact && rest % size != 0) || rest < size {
            continue;
        }
        out.push_str(&format!("{}{unit}", rest / size));
        rest %= size;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_durations_formatted_as_prometheus_prints_them() {
        let cases = [(0, "0s"), (90_000, "1m30s"), (7_200_000, "2h"), (86_400_000, "1d"), (7 * 86_400_000, "1w"), (365 * 86_400_000, "1y"), (1_500, "1s500ms"), (90 * 86_400_000, "90d"), (366 * 86_400_000, "366d"), (14 * 86_400_000 + 1, "14d1ms")];
        for (ms, text) in cases {
            assert_eq!(format_prometheus_duration(ms), text, "{ms}");
        }
    }

    #[test]
    fn prometheus_durations() {
        let ms = |s: &str| parse_prometheus_duration(s).map(|d| d.as_millis() as u64).map_err(|e| e.to_string());
        assert_eq!(ms("0"), Ok(0));
        assert_eq!(ms("5m"), Ok(300_000));
        assert_eq!(ms("1m30s"), Ok(90_000));
        assert_eq!(ms("1y2w3d4h5m6s7ms"), Ok(((((365 + 14 + 3) * 24 + 4) * 60 + 5) * 60 + 6) * 1000 + 7));
        assert_eq!(ms("90ms"), Ok(90));
        assert_eq!(ms("1h1ms"), Ok(3_600_001));
        assert_eq!(ms(""), Err("empty duration string".into()));
        for bad in ["5", "m", "1m1h", "1m1m", "1.5h", "-1m", " 1m", "1m ", "1M", "1ms1s"] {
            assert_eq!(ms(bad), Err(format!("not a valid duration string: {bad:?}")), "{bad}");
        }
        assert_eq!(ms("300000y"), Err("duration out of range".into()));
        assert_eq!(ms("99999999999999999999s"), Err("duration out of range".into()));
    }
}
