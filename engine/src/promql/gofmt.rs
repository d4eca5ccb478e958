//! Go-compatible text helpers used by the PromQL lexer, parser and printer so
//! that messages and canonical strings match Prometheus 2.42 byte for byte:
//! `strconv.Quote`/`QuoteRune` (`%q`), `%#U`, `%v`/`%f` for `float64`,
//! `strconv.ParseInt(s, 0, 64)` + `ParseFloat`, Prometheus' `strutil.Unquote`,
//! and `model.ParseDuration` / `model.Duration.String` (prometheus/common v0.39).

/// Approximation of Go's `unicode.IsPrint` (exact for ASCII and for the
/// control, space, format, private-use and noncharacter ranges; unassigned
/// code points are treated as printable).
pub fn is_print(c: char) -> bool {
    let u = c as u32;
    if u < 0x80 {
        return (0x20..=0x7e).contains(&u);
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    const NOT_PRINT: &[(u32, u32)] = &[
        (0xad, 0xad), (0x600, 0x605), (0x61c, 0x61c), (0x6dd, 0x6dd), (0x70f, 0x70f),
        (0x890, 0x891), (0x8e2, 0x8e2), (0x180e, 0x180e), (0x200b, 0x200f),
        (0x202a, 0x202e), (0x2060, 0x206f), (0xd800, 0xf8ff), (0xfdd0, 0xfdef),
        (0xfeff, 0xfeff), (0xfff0, 0xfffb), (0x110bd, 0x110bd), (0x110cd, 0x110cd),
        (0x13430, 0x1343f), (0x1bca0, 0x1bca3), (0x1d173, 0x1d17a), (0xe0000, 0xe0fff),
        (0xf0000, 0x10ffff),
    ];
    if u & 0xfffe == 0xfffe {
        return false;
    }
    !NOT_PRINT.iter().any(|&(lo, hi)| u >= lo && u <= hi)
}

fn push_escaped(out: &mut String, c: char, quote: char) {
    if c == quote || c == '\\' {
        out.push('\\');
        out.push(c);
        return;
    }
    if is_print(c) {
        out.push(c);
        return;
    }
    match c {
        '\x07' => out.push_str("\\a"),
        '\x08' => out.push_str("\\b"),
        '\x0c' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\x0b' => out.push_str("\\v"),
        c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
        c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
        c => out.push_str(&format!("\\U{:08x}", c as u32)),
    }
}

/// Go `strconv.Quote` (what `%q` does with a string).
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        push_escaped(&mut out, c, '"');
    }
    out.push('"');
    out
}

/// Go `%q` on a rune; `None` stands for Go's `eof` (-1), printed as U+FFFD.
pub fn quote_rune(c: Option<char>) -> String {
    let c = c.unwrap_or('\u{fffd}');
    let mut out = String::from("'");
    push_escaped(&mut out, c, '\'');
    out.push('\'');
    out
}

/// Go `%#U` on a rune, e.g. `U+0063 'c'`.
pub fn sharp_u(c: char) -> String {
    if is_print(c) {
        format!("U+{:04X} '{}'", c as u32, c)
    } else {
        format!("U+{:04X}", c as u32)
    }
}

/// Go `%.Nq...` as used by `Item.String()` for long item values.
pub fn quote_trunc(s: &str, n: usize) -> String {
    let t: String = s.chars().take(n).collect();
    quote(&t)
}

/// Go `fmt.Sprint(float64)` (`%v`: shortest `%g`, exponent form when exp < -4 or >= 6).
pub fn format_float(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf".into() } else { "-Inf".into() };
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    // Shortest round-trip digits from Rust, then Go's %g layout.
    let e = format!("{:e}", v.abs());
    let (mant, exp) = e.split_once('e').unwrap();
    let digits: String = mant.chars().filter(|c| *c != '.').collect();
    let exp: i32 = exp.parse().unwrap();
    let neg = if v < 0.0 { "-" } else { "" };
    if exp < -4 || exp >= 6 {
        let mut m = digits[..1].to_string();
        if digits.len() > 1 {
            m.push('.');
            m.push_str(&digits[1..]);
        }
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{}{}e{}{:02}", neg, m, sign, exp.abs());
    }
    let nd = digits.len() as i32;
    let dp = exp + 1;
    let s = if dp <= 0 {
        format!("0.{}{}", "0".repeat((-dp) as usize), digits)
    } else if dp >= nd {
        format!("{}{}", digits, "0".repeat((dp - nd) as usize))
    } else {
        format!("{}.{}", &digits[..dp as usize], &digits[dp as usize..])
    };
    format!("{}{}", neg, s)
}

/// Go `%f` / `%.Nf` for a float64, including `+Inf`, `-Inf`, `NaN`.
pub fn format_fixed(v: f64, prec: usize) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf".into() } else { "-Inf".into() }
    } else {
        format!("{:.*}", prec, v)
    }
}

/// Prometheus' parser `number()`: `strconv.ParseInt(s, 0, 64)`, falling back
/// to `strconv.ParseFloat(s, 64)`. The error is the Go `ParseFloat` error text.
pub fn parse_number(s: &str) -> (f64, Option<String>) {
    if let Some(n) = parse_int_base0(s) {
        return (n as f64, None);
    }
    parse_float(s)
}

fn parse_int_base0(s: &str) -> Option<i64> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'+') => (false, &s[1..]),
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    if body.is_empty() {
        return None;
    }
    let b = body.as_bytes();
    let (base, digits) = if b[0] == b'0' && b.len() >= 3 && matches!(b[1], b'x' | b'X') {
        (16, &body[2..])
    } else if b[0] == b'0' && b.len() >= 3 && matches!(b[1], b'o' | b'O') {
        (8, &body[2..])
    } else if b[0] == b'0' && b.len() >= 3 && matches!(b[1], b'b' | b'B') {
        (2, &body[2..])
    } else if b[0] == b'0' {
        (8, &body[1..])
    } else {
        (10, body)
    };
    let mut n: u64 = 0;
    for c in digits.chars() {
        let d = c.to_digit(36)? as u64;
        if d >= base {
            return None;
        }
        n = n.checked_mul(base)?.checked_add(d)?;
    }
    if neg {
        if n > 1u64 << 63 { None } else { Some((n as i64).wrapping_neg()) }
    } else if n > i64::MAX as u64 {
        None
    } else {
        Some(n as i64)
    }
}

/// Go `strconv.ParseFloat(s, 64)` for the inputs the PromQL lexer can produce.
pub fn parse_float(s: &str) -> (f64, Option<String>) {
    let err = |what: &str| Some(format!("strconv.ParseFloat: parsing {}: {}", quote(s), what));
    let body = s.trim_start_matches(['+', '-']);
    let neg = s.starts_with('-');
    let lower = body.to_ascii_lowercase();
    if s.len() - body.len() > 1 {
        return (0.0, err("invalid syntax"));
    }
    match lower.as_str() {
        "inf" | "infinity" => return (if neg { f64::NEG_INFINITY } else { f64::INFINITY }, None),
        "nan" => return (f64::NAN, None),
        _ => {}
    }
    // Hexadecimal floats need a 'p' exponent, which the lexer never yields.
    let ok_chars = body.bytes().all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'));
    if lower.starts_with("0x") || !ok_chars {
        return (0.0, err("invalid syntax"));
    }
    match s.parse::<f64>() {
        Ok(v) if v.is_infinite() => (v, err("value out of range")),
        Ok(v) => (v, None),
        Err(_) => (0.0, err("invalid syntax")),
    }
}

/// Prometheus `util/strutil.Unquote`: Go-style unquoting of `"…"`, `'…'`, `` `…` ``.
/// Bytes that do not form valid UTF-8 (e.g. a lone `\xff`) become U+FFFD.
pub fn unquote(s: &str) -> Result<String, &'static str> {
    const SYNTAX: &str = "invalid syntax";
    let b = s.as_bytes();
    if b.len() < 2 || b[0] != b[b.len() - 1] {
        return Err(SYNTAX);
    }
    let q = b[0];
    let inner = &s[1..s.len() - 1];
    if q == b'`' {
        return if inner.contains('`') { Err(SYNTAX) } else { Ok(inner.to_string()) };
    }
    if q != b'"' && q != b'\'' || inner.contains('\n') {
        return Err(SYNTAX);
    }
    let mut out: Vec<u8> = Vec::with_capacity(inner.len());
    let ib = inner.as_bytes();
    let mut i = 0;
    while i < ib.len() {
        let c = ib[i];
        if c == q {
            return Err(SYNTAX);
        }
        if c != b'\\' {
            out.push(c);
            i += 1;
            continue;
        }
        let e = *ib.get(i + 1).ok_or(SYNTAX)?;
        i += 2;
        let simple = match e {
            b'a' => Some(7), b'b' => Some(8), b'f' => Some(12), b'n' => Some(b'\n'),
            b'r' => Some(b'\r'), b't' => Some(b'\t'), b'v' => Some(11), b'\\' => Some(b'\\'),
            b'\'' | b'"' if e == q => Some(e),
            _ => None,
        };
        if let Some(v) = simple {
            out.push(v);
            continue;
        }
        let (n, radix) = match e {
            b'x' => (2, 16),
            b'u' => (4, 16),
            b'U' => (8, 16),
            b'0'..=b'7' => (2, 8),
            _ => return Err(SYNTAX),
        };
        let start = if radix == 8 { i - 1 } else { i };
        let end = i + n;
        let digits = inner.get(start..end).ok_or(SYNTAX)?;
        let v = u32::from_str_radix(digits, radix).map_err(|_| SYNTAX)?;
        if digits.starts_with(['+', '-']) {
            return Err(SYNTAX);
        }
        i = end;
        match e {
            b'x' => out.push(v as u8),
            b'0'..=b'7' if v > 255 => return Err(SYNTAX),
            b'0'..=b'7' => out.push(v as u8),
            _ => {
                let ch = char::from_u32(v).ok_or(SYNTAX)?;
                let mut buf = [0u8; 4];
                out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// `model.ParseDuration` (prometheus/common v0.39) plus the parser's "> 0" rule;
/// returns milliseconds.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    const UNITS: [(&str, i128); 7] = [
        ("y", 365 * 86_400_000), ("w", 7 * 86_400_000), ("d", 86_400_000),
        ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1),
    ];
    if s.is_empty() {
        return Err("empty duration string".into());
    }
    let invalid = || format!("not a valid duration string: {}", quote(s));
    let mut rest = s;
    let mut next_unit = 0;
    let mut total_ns: i128 = 0;
    let mut overflow = false;
    if s != "0" {
        while !rest.is_empty() {
            let nd = rest.bytes().take_while(|b| b.is_ascii_digit()).count();
            if nd == 0 {
                return Err(invalid());
            }
            let (num, after) = rest.split_at(nd);
            let ui = (next_unit..UNITS.len())
                .find(|&k| after.starts_with(UNITS[k].0) && !(UNITS[k].0 == "m" && after.starts_with("ms")))
                .ok_or_else(invalid)?;
            rest = &after[UNITS[ui].0.len()..];
            next_unit = ui + 1;
            // Go's strconv.Atoi saturates at MaxInt64 on overflow.
            let n: i128 = num.parse::<i64>().unwrap_or(i64::MAX) as i128;
            let mult = UNITS[ui].1;
            if n > (i64::MAX as i128) / (mult * 1_000_000) {
                overflow = true;
            }
            total_ns += n * mult * 1_000_000;
            if total_ns > i64::MAX as i128 {
                overflow = true;
            }
        }
    }
    if overflow {
        return Err("duration out of range".into());
    }
    if total_ns == 0 {
        return Err("duration must be greater than 0".into());
    }
    Ok((total_ns / 1_000_000) as i64)
}

/// `model.Duration.String()` for a duration in milliseconds (must be >= 0).
pub fn format_duration(ms: i64) -> String {
    if ms == 0 {
        return "0s".into();
    }
    let mut ms = ms;
    let mut r = String::new();
    for (unit, mult, exact) in [
        ("y", 365 * 86_400_000i64, true), ("w", 7 * 86_400_000, true), ("d", 86_400_000, false),
        ("h", 3_600_000, false), ("m", 60_000, false), ("s", 1000, false), ("ms", 1, false),
    ] {
        if exact && ms % mult != 0 {
            continue;
        }
        let v = ms / mult;
        if v > 0 {
            r.push_str(&format!("{}{}", v, unit));
            ms -= v * mult;
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_like_go() {
        for (v, s) in [
            (1e6, "1e+06"), (123456.0, "123456"), (1234567.0, "1.234567e+06"), (0.0001, "0.0001"),
            (0.00001, "1e-05"), (-0.0, "-0"), (1.5, "1.5"), (-2.0, "-2"), (1e-7, "1e-07"),
            (1e100, "1e+100"), (f64::INFINITY, "+Inf"), (f64::NAN, "NaN"), (31.0, "31"),
            (0.1 + 0.2, "0.30000000000000004"), (100000.0, "100000"), (9.2e18, "9.2e+18"),
        ] {
            assert_eq!(format_float(v), s, "{v}");
        }
    }

    #[test]
    fn numbers_like_go() {
        assert_eq!(parse_number("017").0, 15.0);
        assert_eq!(parse_number("09").0, 9.0);
        assert_eq!(parse_number("0x1F").0, 31.0);
        assert_eq!(parse_number("0X1f").0, 31.0);
        assert_eq!(parse_number("1e3").0, 1000.0);
        assert_eq!(parse_number(".5").0, 0.5);
        assert_eq!(parse_number("5.").0, 5.0);
        assert_eq!(parse_number("1e-400").0, 0.0);
        assert!(parse_number("NaN").0.is_nan());
        assert_eq!(parse_number("iNf").0, f64::INFINITY);
        assert_eq!(parse_number("9223372036854775808").0, 9223372036854775808.0);
        assert_eq!(
            parse_number("0x8000000000000000").1.unwrap(),
            "strconv.ParseFloat: parsing \"0x8000000000000000\": invalid syntax"
        );
        assert_eq!(parse_number("1e").1.unwrap(), "strconv.ParseFloat: parsing \"1e\": invalid syntax");
        assert_eq!(parse_number("1e999").1.unwrap(), "strconv.ParseFloat: parsing \"1e999\": value out of range");
    }

    #[test]
    fn durations_like_prometheus() {
        assert_eq!(parse_duration("1h30m"), Ok(5_400_000));
        assert_eq!(parse_duration("5m"), Ok(300_000));
        assert_eq!(parse_duration("1y2w3d4h5m6s7ms"), Ok(33019506007));
        assert_eq!(parse_duration("250ms"), Ok(250));
        assert_eq!(parse_duration("5m1h").unwrap_err(), "not a valid duration string: \"5m1h\"");
        assert_eq!(parse_duration("5y1hs").unwrap_err(), "not a valid duration string: \"5y1hs\"");
        assert_eq!(parse_duration("1.5m").unwrap_err(), "not a valid duration string: \"1.5m\"");
        assert_eq!(parse_duration("0m").unwrap_err(), "duration must be greater than 0");
        assert_eq!(parse_duration("10000y").unwrap_err(), "duration out of range");
        assert_eq!(format_duration(33019506007), "382d4h5m6s7ms");
        assert_eq!(format_duration(5_400_000), "1h30m");
        assert_eq!(format_duration(2 * 7 * 86_400_000), "2w");
        assert_eq!(format_duration(365 * 86_400_000), "1y");
        assert_eq!(format_duration(0), "0s");
    }

    #[test]
    fn quoting_like_go() {
        assert_eq!(quote("a\"b\\c\n"), r#""a\"b\\c\n""#);
        assert_eq!(quote("\u{a0}x\x01\u{200b}"), r#""\u00a0x\x01\u200b""#);
        assert_eq!(quote("é😀\u{10ffff}"), "\"é😀\\U0010ffff\"");
        assert_eq!(quote_rune(Some('\'')), r"'\''");
        assert_eq!(quote_rune(None), "'\u{fffd}'");
        assert_eq!(sharp_u('c'), "U+0063 'c'");
        assert_eq!(quote_trunc("\"some string\"", 10), r#""\"some stri""#);
    }

    #[test]
    fn unquote_like_go() {
        assert_eq!(unquote(r#""a\tb\x41\101\u00e9\U0001F600""#).unwrap(), "a\tbAAé😀");
        assert_eq!(unquote(r"'it\'s'").unwrap(), "it's");
        assert_eq!(unquote(r#""\xc3\xa9""#).unwrap(), "é");
        assert_eq!(unquote("`a\\nb`").unwrap(), "a\\nb");
        assert!(unquote(r#""\'""#).is_err());
        assert!(unquote(r#""\400""#).is_err());
    }
}
