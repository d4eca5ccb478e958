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
    (&s[..s.len().min(i)], "")
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

fn key_value(pair: &str, what: &str) -> Result<(String, String), String> {
    let (key, rest) = take_until(pair, b"=", false);
    let Some(value) = rest.strip_prefix('=') else { return Err(format!("missing {what} value")) };
    if key.is_empty() {
        return Err(format!("missing {what} key"));
    }
    Ok((unescape(key, &[',', '=', ' ']), value.to_string()))
}

fn field_value(raw: &str, key: &str) -> Result<FieldValue, String> {
    let bad = || format!("invalid field value for {key:?}: {raw}");
    if let Some(inner) = raw.strip_prefix('"') {
        let inner = inner.strip_suffix('"').ok_or_else(bad)?;
        return Ok(FieldValue::String(unescape(inner, &['"'])));
    }
    match raw {
        "t" | "T" | "true" | "True" | "TRUE" => return Ok(FieldValue::Boolean(true)),
        "f" | "F" | "false" | "False" | "FALSE" => return Ok(FieldValue::Boolean(false)),
        "" => return Err(format!("missing value for field {key:?}")),
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
pub fn parse_line(line: &str) -> Result<Point, String> {
    let (series, rest) = take_until(line, b" ", false);
    let (measurement, mut tag_part) = take_until(series, b",", false);
    if measurement.is_empty() {
        return Err("missing measurement".into());
    }
    let mut tags = Vec::new();
    while let Some(after) = tag_part.strip_prefix(',') {
        let (pair, next) = take_until(after, b",", false);
        let (k, v) = key_value(pair, "tag")?;
        if v.is_empty() {
            return Err(format!("missing tag value for {k:?}"));
        }
        tags.push((k, unescape(&v, &[',', '=', ' '])));
        tag_part = next;
    }
    let rest = rest.trim_start_matches(' ');
    let (field_part, ts_part) = take_until(rest, b" ", true);
    if field_part.is_empty() {
        return Err("missing fields".into());
    }
    let mut fields = Vec::new();
    let mut remaining = field_part;
    loop {
        let (pair, next) = take_until(remaining, b",", true);
        let (k, v) = key_value(pair, "field")?;
        let value = field_value(&v, &k)?;
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
        Some(ts_part.parse::<i64>().map_err(|_| format!("bad timestamp {ts_part:?}"))?)
    };
    Ok(Point { measurement: unescape(measurement, &[',', ' ']), tags, fields, timestamp })
}

/// Milliseconds from a timestamp in `precision` (`ns` when empty, `u`/`us`, `ms`, `s`, `m`, `h`).
pub fn to_millis(ts: i64, precision: &str) -> Result<i64, String> {
    let ms = match precision {
        "" | "n" | "ns" => ts.div_euclid(1_000_000),
        "u" | "us" | "µ" => ts.div_euclid(1_000),
        "ms" => ts,
        "s" => ts.checked_mul(1_000).ok_or("timestamp out of range")?,
        "m" => ts.checked_mul(60_000).ok_or("timestamp out of range")?,
        "h" => ts.checked_mul(3_600_000).ok_or("timestamp out of range")?,
        other => return Err(format!("invalid precision {other:?}: use ns, u, ms, s, m or h")),
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
            let err = parse_line(line).unwrap_err();
            assert!(err.contains(want), "{line:?}: {err}");
        }
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
        assert!(to_millis(1, "d").unwrap_err().contains("invalid precision"));
    }
}
