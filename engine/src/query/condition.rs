//! `WHERE` clauses: the time bounds are taken out (they must be joined to the rest with AND,
//! as InfluxDB requires) and what remains is compiled into a `Cond` over tags and fields.
//! Tag regexes are unanchored, as in InfluxQL; a missing tag compares as `''`.

use super::ast::Expr;
use super::error::StatementError;
use regex::Regex;

/// Inclusive bounds in nanoseconds since the epoch.
#[derive(Debug, PartialEq, Clone, Copy)]
pub struct TimeRange {
    pub min: i64,
    pub max: i64,
}

impl TimeRange {
    pub const ALL: TimeRange = TimeRange { min: i64::MIN, max: i64::MAX };

    /// The whole milliseconds inside the nanosecond bounds, as storage keeps time.
    pub fn millis(&self) -> (i64, i64) {
        (self.min.div_euclid(1_000_000) + (self.min.rem_euclid(1_000_000) != 0) as i64, self.max.div_euclid(1_000_000))
    }
}

fn mentions_time(e: &Expr) -> bool {
    match e {
        Expr::Var { name, .. } => name.eq_ignore_ascii_case("time"),
        Expr::Binary { lhs, rhs, .. } => mentions_time(lhs) || mentions_time(rhs),
        Expr::Call { args, .. } => args.iter().any(mentions_time),
        _ => false,
    }
}

/// Parses the time formats InfluxQL accepts in strings: RFC 3339 with offset, and
/// `YYYY-MM-DD[ HH:MM:SS[.f]]` taken as UTC.
pub fn parse_time(s: &str) -> Result<i64, StatementError> {
    let ts = if let Ok(ts) = s.parse::<jiff::Timestamp>() {
        ts
    } else if let Ok(dt) = s.parse::<jiff::civil::DateTime>() {
        dt.to_zoned(jiff::tz::TimeZone::UTC).map_err(|_| StatementError::TimeOutOfRange(s.to_string()))?.timestamp()
    } else {
        return Err(StatementError::InvalidTime(s.to_string()));
    };
    i64::try_from(ts.as_nanosecond()).map_err(|_| StatementError::TimeOutOfRange(s.to_string()))
}

/// The nanosecond value of a time expression: `now()`, a string, an integer (nanoseconds),
/// a duration literal (since the epoch) and sums and differences of those.
pub fn time_value(e: &Expr, now: i64) -> Result<i64, StatementError> {
    match e {
        Expr::Now => Ok(now),
        Expr::Str(s) => parse_time(s),
        Expr::Integer(n) | Expr::Duration(n) => Ok(*n),
        Expr::Number(n) => Ok(*n as i64),
        Expr::Binary { op: "+", lhs, rhs } => Ok(time_value(lhs, now)?.saturating_add(time_value(rhs, now)?)),
        Expr::Binary { op: "-", lhs, rhs } => Ok(time_value(lhs, now)?.saturating_sub(time_value(rhs, now)?)),
        other => Err(StatementError::TimeExpression(format!("{other:?}"))),
    }
}

fn flip(op: &'static str) -> &'static str {
    match op {
        "<" => ">",
        "<=" => ">=",
        ">" => "<",
        ">=" => "<=",
        other => other,
    }
}

fn narrow(range: &mut TimeRange, op: &str, t: i64) -> Result<(), StatementError> {
    match op {
        ">" => range.min = range.min.max(t.saturating_add(1)),
        ">=" => range.min = range.min.max(t),
        "<" => range.max = range.max.min(t.saturating_sub(1)),
        "<=" => range.max = range.max.min(t),
        "=" => {
            range.min = range.min.max(t);
            range.max = range.max.min(t);
        }
        other => return Err(StatementError::TimeOperator(other.to_string())),
    }
    Ok(())
}

fn split(e: &Expr, now: i64, range: &mut TimeRange) -> Result<Option<Expr>, StatementError> {
    if let Expr::Binary { op: "AND", lhs, rhs } = e {
        let l = split(lhs, now, range)?;
        let r = split(rhs, now, range)?;
        return Ok(match (l, r) {
            (Some(l), Some(r)) => Some(Expr::binary("AND", l, r)),
            (l, r) => l.or(r),
        });
    }
    if let Expr::Binary { op, lhs, rhs } = e {
        let is_time = |x: &Expr| matches!(x, Expr::Var { name, .. } if name.eq_ignore_ascii_case("time"));
        if is_time(lhs) {
            narrow(range, op, time_value(rhs, now)?)?;
            return Ok(None);
        }
        if is_time(rhs) {
            narrow(range, flip(op), time_value(lhs, now)?)?;
            return Ok(None);
        }
    }
    if mentions_time(e) {
        return Err(StatementError::TimeUnderOr);
    }
    Ok(Some(e.clone()))
}

/// Takes the time bounds out of a condition; returns them and the rest.
pub fn split_time(cond: Option<&Expr>, now: i64) -> Result<(TimeRange, Option<Expr>), StatementError> {
    let mut range = TimeRange::ALL;
    let rest = match cond {
        Some(e) => split(e, now, &mut range)?,
        None => None,
    };
    Ok((range, rest))
}

#[derive(Debug)]
pub enum TagTest {
    Eq(String),
    Ne(String),
    Matches(Regex),
    NotMatches(Regex),
    Never,
}

/// A compiled condition over one row: its series' tags and its field values.
#[derive(Debug)]
pub enum Cond {
    And(Box<Cond>, Box<Cond>),
    Or(Box<Cond>, Box<Cond>),
    Tag { key: String, test: TagTest },
    /// `field op number`; `index` is the field's place in the row.
    Field { index: usize, op: &'static str, value: f64 },
    Never,
}

/// Compiles an InfluxQL regex; the error names it.
pub fn regex(re: &str) -> Result<Regex, StatementError> {
    Regex::new(re).map_err(|e| StatementError::Regex { re: re.to_string(), reason: e.to_string() })
}

impl Cond {
    /// Compiles `e`; `is_tag` tells tags from fields and `field_index` places a field in the row.
    pub fn compile(e: &Expr, is_tag: &dyn Fn(&str, Option<&str>) -> bool, field_index: &mut dyn FnMut(&str) -> usize) -> Result<Cond, StatementError> {
        let Expr::Binary { op, lhs, rhs } = e else { return Err(StatementError::NotAComparison(format!("{e:?}"))) };
        if *op == "AND" || *op == "OR" {
            let l = Box::new(Cond::compile(lhs, is_tag, field_index)?);
            let r = Box::new(Cond::compile(rhs, is_tag, field_index)?);
            return Ok(if *op == "AND" { Cond::And(l, r) } else { Cond::Or(l, r) });
        }
        let (Expr::Var { name, hint }, rhs) = (lhs.as_ref(), rhs.as_ref()) else {
            return Err(StatementError::LeftNotAName(format!("{e:?}")));
        };
        if is_tag(name, hint.as_deref()) {
            let test = match (*op, rhs) {
                ("=", Expr::Str(s)) => TagTest::Eq(s.clone()),
                ("!=", Expr::Str(s)) => TagTest::Ne(s.clone()),
                ("=~", Expr::Regex(r)) => TagTest::Matches(regex(r)?),
                ("!~", Expr::Regex(r)) => TagTest::NotMatches(regex(r)?),
                ("=~" | "!~", _) => return Err(StatementError::RegexExpected { op: op.to_string(), name: name.clone() }),
                _ => TagTest::Never,
            };
            return Ok(Cond::Tag { key: name.clone(), test });
        }
        let value = match rhs {
            Expr::Integer(n) => *n as f64,
            Expr::Number(n) => *n,
            _ => return Ok(Cond::Never),
        };
        if !matches!(*op, "=" | "!=" | "<" | "<=" | ">" | ">=") {
            return Err(StatementError::FieldOperator { op: op.to_string(), name: name.clone() });
        }
        Ok(Cond::Field { index: field_index(name), op, value })
    }

    /// Whether any field is compared: without fields, one test per series suffices.
    pub fn has_fields(&self) -> bool {
        match self {
            Cond::And(l, r) | Cond::Or(l, r) => l.has_fields() || r.has_fields(),
            Cond::Field { .. } => true,
            _ => false,
        }
    }

    pub fn eval<'a>(&self, tag: &dyn Fn(&str) -> Option<&'a str>, fields: &[Option<f64>]) -> bool {
        match self {
            Cond::And(l, r) => l.eval(tag, fields) && r.eval(tag, fields),
            Cond::Or(l, r) => l.eval(tag, fields) || r.eval(tag, fields),
            Cond::Tag { key, test } => {
                let v = tag(key).unwrap_or_default();
                match test {
                    TagTest::Eq(s) => v == s,
                    TagTest::Ne(s) => v != s,
                    TagTest::Matches(re) => re.is_match(v),
                    TagTest::NotMatches(re) => !re.is_match(v),
                    TagTest::Never => false,
                }
            }
            Cond::Field { index, op, value } => match fields.get(*index).copied().flatten() {
                None => false,
                Some(v) => match *op {
                    "=" => v == *value,
                    "!=" => v != *value,
                    "<" => v < *value,
                    "<=" => v <= *value,
                    ">" => v > *value,
                    _ => v >= *value,
                },
            },
            Cond::Never => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::influxql::{parse, Statement};

    fn condition(q: &str) -> Expr {
        match parse(&format!("SELECT value FROM m WHERE {q}")).unwrap().pop().unwrap() {
            Statement::Select(s) => s.condition.unwrap(),
            _ => unreachable!(),
        }
    }

    #[test]
    fn takes_out_time_bounds() {
        let now = 10_000_000_000_000;
        let (range, rest) = split_time(Some(&condition("time > now() - 1s AND host = 'a' AND time <= '1970-01-01T00:00:10Z'")), now).unwrap();
        assert_eq!(range, TimeRange { min: now - 1_000_000_000 + 1, max: 10_000_000_000 });
        assert_eq!(rest, Some(condition("host = 'a'")));
        let (range, rest) = split_time(Some(&condition("1000ms <= time AND time < 2000000000")), now).unwrap();
        assert_eq!(range, TimeRange { min: 1_000_000_000, max: 1_999_999_999 });
        assert_eq!(rest, None);
        assert_eq!(split_time(Some(&condition("time = '2020-01-01 00:00:00'")), 0).unwrap().0.min, 1_577_836_800_000_000_000);
        assert!(split_time(Some(&condition("time > now() - 1h OR host = 'a'")), now).unwrap_err().to_string().contains("AND"));
        assert!(split_time(Some(&condition("time > 'yesterday'")), now).unwrap_err().to_string().contains("RFC3339"));
    }

    #[test]
    fn evaluates_tags_and_fields() {
        let is_tag = |name: &str, hint: Option<&str>| hint == Some("tag") || name == "host";
        let mut fields = vec!["value".to_string()];
        let mut index = |name: &str| fields.iter().position(|f| f == name).unwrap_or_else(|| {
            fields.push(name.to_string());
            fields.len() - 1
        });
        let cond = Cond::compile(&condition("(host =~ /^a/ OR host = '') AND value > 2 AND dc::tag != 'x'"), &is_tag, &mut index).unwrap();
        assert!(cond.has_fields());
        fn tags(host: Option<&'static str>) -> impl Fn(&str) -> Option<&'static str> {
            move |k| if k == "host" { host } else { None }
        }
        assert!(cond.eval(&tags(Some("ab")), &[Some(3.0)]));
        assert!(cond.eval(&tags(None), &[Some(3.0)]));
        assert!(!cond.eval(&tags(Some("b")), &[Some(3.0)]));
        assert!(!cond.eval(&tags(Some("a")), &[Some(1.0)]));
        assert!(!cond.eval(&tags(Some("a")), &[None]));
        assert!(Cond::compile(&condition("host =~ 'a'"), &is_tag, &mut |_| 0).unwrap_err().to_string().contains("needs a regex"));
        assert!(Cond::compile(&condition("host =~ /(/"), &is_tag, &mut |_| 0).unwrap_err().to_string().contains("invalid regex"));
    }
}
