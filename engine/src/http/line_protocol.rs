//! InfluxDB line protocol, as InfluxDB 1.x and openGemini accept it:
//! `measurement[,tag=value…] field=value[,field=value…] [timestamp]`, with backslash escapes
//! (commas, spaces and `=` in names; `"` and `\` in strings), floats, `i`/`u` integers,
//! booleans and quoted strings. Pure parsing: the caller decides what to store.

/// One field value as written.
#[derive(Clone, Debug, PartialEq)]
pub enum FieldValue {
    Float(f64),
    Integer(i64),
    Unsigned(u64),
    Boolean(bool),
    String(String),
}

/// One parsed line.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    pub measurement: String,
    /// As written; the caller sorts and checks them.
    pub tags: Vec<(String, String)>,
    pub fields: Vec<(String, FieldValue)>,
    /// In the request's precision; `None` when the line has none.
    pub timestamp: Option<i64>,
}

/// Why a line does not parse: the problem (its text is what the answer says after
/// `unable to parse '<line>': `) and where in the line it is.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{problem}")]
pub struct ParseError {
    /// Byte offset in the line of the piece the problem is about: the measurement, a tag or
    /// field pair, a value, the end of a key that has no `=`, the timestamp.
    pub at: usize,
    pub problem: Problem,
}

/// What is wrong with a line; `part` is `tag` or `field`.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum Problem {
    #[error("missing measurement")]
    MissingMeasurement,
    #[error("missing {part} key")]
    MissingKey { part: &'static str },
    #[error("missing {part} value")]
    MissingValue { part: &'static str },
    #[error("missing tag value for {0:?}")]
    MissingTagValue(String),
    #[error("missing fields")]
    MissingFields,
    #[error("missing value for field {0:?}")]
    MissingFieldValue(String),
    #[error("invalid field value for {key:?}: {raw}")]
    InvalidFieldValue { key: String, raw: String },
    #[error("bad timestamp {0:?}")]
    BadTimestamp(String),
}

/// Why a timestamp cannot be had in milliseconds.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum TimestampError {
    #[error("timestamp out of range")]
    OutOfRange,
    #[error("invalid precision {0:?}: use ns, u, ms, s, m or h")]
    Precision(String),
}

/// A problem and the piece of the line (a part of it) it is about.
type Located<'a, T> = Result<T, (&'a str, Problem)>;

/// Splits `s` at the first unescaped, unquoted byte of `stops`; returns the piece (escapes
/// kept) and the rest starting at the stop byte.
fn take_until<'a>(s: &'a str, stops: &[u8], quotes: bool) -> (&'a str, &'a str) {
    let bytes = s.as_bytes();
    let mut i = 0;
    let mut quoted = false;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'\\' {
            i += 2;
            continue;
        }
        if quotes && b == b'"' {
            quoted = !quoted;
        } else if !quoted && stops.contains(&b) {
            return (&s[..i], &s[i..]);
        }
        i += 1;
    }
    let end = s.len().min(i);
    (&s[..end], &s[end..])
}

/// Removes the backslash before each of `escaped` (and before a backslash).
fn unescape(s: &str, escaped: &[char]) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(&n) = chars.peek() {
                if escaped.contains(&n) || n == '\\' {
                    out.push(n);
                    chars.next();
                    continue;
                }
            }
        }
        out.push(c);
    }
    out
}

fn key_value<'a>(pair: &'a str, part: &'static str) -> Located<'a, (String, &'a str)> {
    let (key, rest) = take_until(pair, b"=", false);
    let Some(value) = rest.strip_prefix('=') else { return Err((rest, Problem::MissingValue { part })) };
    if key.is_empty() {
        return Err((pair, Problem::MissingKey { part }));
    }
    Ok((unescape(key, &[',', '=', ' ']), value))
}

fn field_value<'a>(raw: &'a str, key: &str) -> Located<'a, FieldValue> {
    let bad = || (raw, Problem::InvalidFieldValue { key: key.to_string(), raw: raw.to_string() });
    if let Some(inner) = raw.strip_prefix('"') {
        let inner = inner.strip_suffix('"').ok_or_else(bad)?;
        return Ok(FieldValue::String(unescape(inner, &['"'])));
    }
    match raw {
        "t" | "T" | "true" | "True" | "TRUE" => return Ok(FieldValue::Boolean(true)),
        "f" | "F" | "false" | "False" | "FALSE" => return Ok(FieldValue::Boolean(false)),
        "" => return Err((raw, Problem::MissingFieldValue(key.to_string()))),
        _ => {}
    }
    if let Some(digits) = raw.strip_suffix('i') {
        return digits.parse().map(FieldValue::Integer).map_err(|_| bad());
    }
    if let Some(digits) = raw.strip_suffix('u') {
        return digits.parse().map(FieldValue::Unsigned).map_err(|_| bad());
    }
    let looks_numeric = raw.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'));
    match raw.parse::<f64>() {
        Ok(v) if looks_numeric && v.is_finite() => Ok(FieldValue::Float(v)),
        _ => Err(bad()),
    }
}

/// Parses one line that is neither empty nor a comment.
pub fn parse_line(line: &str) -> Result<Point, ParseError> {
    parse(line).map_err(|(piece, problem)| ParseError { at: piece.as_ptr() as usize - line.as_ptr() as usize, problem })
}

/// `parse_line`, its errors at a piece of `line` (every piece it takes is a part of it).
fn parse(line: &str) -> Located<'_, Point> {
    let (series, rest) = take_until(line, b" ", false);
    let (measurement, mut tag_part) = take_until(series, b",", false);
    if measurement.is_empty() {
        return Err((measurement, Problem::MissingMeasurement));
    }
    let mut tags = Vec::new();
    while let Some(after) = tag_part.strip_prefix(',') {
        let (pair, next) = take_until(after, b",", false);
        let (k, v) = key_value(pair, "tag")?;
        if v.is_empty() {
            return Err((v, Problem::MissingTagValue(k)));
        }
        tags.push((k, unescape(v, &[',', '=', ' '])));
        tag_part = next;
    }
    let rest = rest.trim_start_matches(' ');
    let (field_part, ts_part) = take_until(rest, b" ", true);
    if field_part.is_empty() {
        return Err((field_part, Problem::MissingFields));
    }
    let mut fields = Vec::new();
    let mut remaining = field_part;
    loop {
        let (pair, next) = take_until(remaining, b",", true);
        let (k, v) = key_value(pair, "field")?;
        let value = field_value(v, &k)?;
        fields.push((k, value));
        match next.strip_prefix(',') {
            Some(n) => remaining = n,
            None => break,
        }
    }
    let ts_part = ts_part.trim();
    let timestamp = if ts_part.is_empty() {
        None
    } else {
        Some(ts_part.parse::<i64>().map_err(|_| (ts_part, Problem::BadTimestamp(ts_part.to_string())))?)
    };
    Ok(Point { measurement: unescape(measurement, &[',', ' ']), tags, fields, timestamp })
}

/// How many fields a line has, found without parsing it (for counting samples cheaply): the
/// pieces between unquoted, unescaped commas after the first unescaped space; 0 without fields.
pub fn count_fields(line: &str) -> usize {
    let (_, rest) = take_until(line, b" ", false);
    let (fields, _) = take_until(rest.trim_start_matches(' '), b" ", true);
    if fields.is_empty() {
        return 0;
    }
    let mut count = 1;
    let mut remaining = fields;
    while let Some(next) = take_until(remaining, b",", true).1.strip_prefix(',') {
        count += 1;
        remaining = next;
    }
    count
}

/// Milliseconds from a timestamp in `precision` (`ns` when empty, `u`/`us`, `ms`, `s`, `m`, `h`).
pub fn to_millis(ts: i64, precision: &str) -> Result<i64, TimestampError> {
    let ms = match precision {
        "" | "n" | "ns" => ts.div_euclid(1_000_000),
        "u" | "us" | "µ" => ts.div_euclid(1_000),
        "ms" => ts,
        "s" => ts.checked_mul(1_000).ok_or(TimestampError::OutOfRange)?,
        "m" => ts.checked_mul(60_000).ok_or(TimestampError::OutOfRange)?,
        "h" => ts.checked_mul(3_600_000).ok_or(TimestampError::OutOfRange)?,
        other => return Err(TimestampError::Precision(other.to_string())),
    };
    Ok(ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use FieldValue::*;

    #[test]
    fn parses_the_forms_influxdb_accepts() {
        let p = parse_line("cpu,host=a,region=eu-1 value=0.5,busy=3i,up=true,load=1e2 1700000000000000000").unwrap();
        assert_eq!(p.measurement, "cpu");
        assert_eq!(p.tags, vec![("host".into(), "a".into()), ("region".into(), "eu-1".into())]);
        assert_eq!(p.fields, vec![("value".into(), Float(0.5)), ("busy".into(), Integer(3)), ("up".into(), Boolean(true)), ("load".into(), Float(100.0))]);
        assert_eq!(p.timestamp, Some(1_700_000_000_000_000_000));
        let p = parse_line("mem free=5u").unwrap();
        assert_eq!((p.fields[0].1.clone(), p.timestamp), (Unsigned(5), None));
    }

    #[test]
    fn escapes_and_quoted_strings() {
        let p = parse_line(r#"disk\ io,path=C:\\data,label=a\,b\ c\=d msg="say \"hi\", then go",value=1 10"#).unwrap();
        assert_eq!(p.measurement, "disk io");
        assert_eq!(p.tags, vec![("path".into(), r"C:\data".into()), ("label".into(), "a,b c=d".into())]);
        assert_eq!(p.fields[0], ("msg".into(), String(r#"say "hi", then go"#.into())));
        assert_eq!(p.fields[1], ("value".into(), Float(1.0)));
        assert_eq!(p.timestamp, Some(10));
        let p = parse_line(r#"m s="a b c" 5"#).unwrap();
        assert_eq!((p.fields[0].1.clone(), p.timestamp), (String("a b c".into()), Some(5)));
    }

    #[test]
    fn bad_lines_say_why() {
        for (line, want) in [
            ("cpu", "missing fields"),
            ("cpu value", "missing field value"),
            ("cpu value=", "missing value for field \"value\""),
            ("cpu,host value=1", "missing tag value"),
            ("cpu,host= value=1", "missing tag value for \"host\""),
            ("cpu value=abc", "invalid field value for \"value\": abc"),
            ("cpu value=1 12x", "bad timestamp \"12x\""),
            ("cpu value=1.5i", "invalid field value"),
            (",host=a value=1", "missing measurement"),
            ("cpu value=\"open", "invalid field value"),
        ] {
            let err = parse_line(line).unwrap_err().to_string();
            assert!(err.contains(want), "{line:?}: {err}");
        }
    }

    #[test]
    fn fields_are_counted_as_parsing_finds_them() {
        for line in ["cpu,host=a value=1 5", r#"m,t=a\ b s="x, y z",n=2i,b=t 7"#, r#"disk\ io,k=a\,b v=1,w=2"#, "mem free=5u"] {
            assert_eq!(count_fields(line), parse_line(line).unwrap().fields.len(), "{line}");
        }
        assert_eq!(count_fields("cpu"), 0);
    }

    #[test]
    fn precision_converts_to_milliseconds() {
        assert_eq!(to_millis(1_700_000_000_123_456_789, "").unwrap(), 1_700_000_000_123);
        assert_eq!(to_millis(1_700_000_000_123_456, "u").unwrap(), 1_700_000_000_123);
        assert_eq!(to_millis(1_700_000_000_123, "ms").unwrap(), 1_700_000_000_123);
        assert_eq!(to_millis(1_700_000_000, "s").unwrap(), 1_700_000_000_000);
        assert_eq!(to_millis(2, "m").unwrap(), 120_000);
        assert_eq!(to_millis(1, "h").unwrap(), 3_600_000);
        assert_eq!(to_millis(-1, "ns").unwrap(), -1, "floor, not toward zero");
        assert!(to_millis(1, "d").unwrap_err().to_string().contains("invalid precision"));
    }

    #[test]
    fn errors_say_where_in_the_line() {
        let at = |line: &str| parse_line(line).unwrap_err().at;
        assert_eq!(at(",host=a value=1"), 0, "the measurement");
        assert_eq!(at("cpu,host value=1"), 8, "the end of the key");
        assert_eq!(at("cpu,=a value=1"), 4, "the pair");
        assert_eq!(at("cpu,host= value=1"), 9, "the tag value");
        assert_eq!(at("cpu value=abc"), 10, "the field value");
        assert_eq!(at("cpu,host=a value=1 12x"), 19, "the timestamp");
        assert_eq!(at("cpu"), 3, "where the fields would be");
    }
}
