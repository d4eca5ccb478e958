//! Go's formatting as Prometheus prints values: floats (`strconv.FormatFloat` with 'f', 'e'
//! and `%v`), quoted strings and label sets. Error texts, `count_values` labels and the HTTP
//! API's numbers all use it, so that they read as Prometheus' do.

use super::value::Labels;

/// Go's `strconv.FormatFloat(v, 'f', -1, 64)`: the shortest decimal that reads back as `v`,
/// never with an exponent; `NaN`, `+Inf`, `-Inf`. Rust's `Display` for f64 is exactly that
/// for finite values.
pub fn go_format_f(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_string()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_string()
    } else {
        format!("{v}")
    }
}

/// Go's `strconv.FormatFloat(v, 'e', -1, 64)` for a finite `v`: the shortest digits, and an
/// exponent with its sign and at least two digits (`1e-07`, `1.5e+21`), where Rust writes
/// `1e-7` and `1.5e21`.
pub fn go_format_e(v: f64) -> String {
    let (mantissa, exp) = exponent_form(v);
    format!("{mantissa}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.unsigned_abs())
}

/// Go's `%v` of a float64 (`strconv.FormatFloat(v, 'g', -1, 64)` plus `+Inf`): the shortest
/// digits, with an exponent (`e+06`, `e-05`) when it is below -4 or at least 6.
pub fn go_format_v(v: f64) -> String {
    if !v.is_finite() {
        return go_format_f(v);
    }
    let (_, exp) = exponent_form(v);
    if exp < -4 || exp >= 6 {
        go_format_e(v)
    } else {
        go_format_f(v)
    }
}

/// The shortest digits of a finite `v` as mantissa and decimal exponent ("1.5", -7).
fn exponent_form(v: f64) -> (String, i32) {
    let e = format!("{v:e}");
    let (mantissa, exp) = e.split_once('e').expect("LowerExp writes an exponent");
    (mantissa.to_string(), exp.parse().expect("LowerExp writes an integer exponent"))
}

/// A label set as Go's `Labels.String` prints it: `{a="1", b="2"}`, values `strconv.Quote`d.
pub fn labels_string(l: &Labels) -> String {
    let parts: Vec<String> = l.iter().map(|(n, v)| format!("{n}={}", go_quote(v))).collect();
    format!("{{{}}}", parts.join(", "))
}

/// Go's `strconv.Quote` (and `%q` of a string). Which non-ASCII characters are printable is
/// decided by Rust's string `Debug` (and no space but ' '), close to Go's `unicode.IsPrint`.
pub fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0b' => out.push_str("\\v"),
            ' '..='~' => out.push(c),
            c if (c as u32) < 0x80 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if !c.is_whitespace() && format!("{:?}", format!("a{c}")) == format!("\"a{c}\"") => {
                out.push(c)
            }
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::promql::testing::l;

    #[test]
    fn go_quoting() {
        // By hand from strconv.Quote.
        assert_eq!(go_quote("a@b.com"), r#""a@b.com""#);
        assert_eq!(go_quote("x\"y\\z"), r#""x\"y\\z""#);
        assert_eq!(go_quote("\n\t\x01\x7f"), r#""\n\t\x01\x7f""#);
        assert_eq!(go_quote("é日"), "\"é日\"");
        assert_eq!(go_quote("\u{a0}\u{200b}"), r#""\u00a0\u200b""#);
        assert_eq!(labels_string(&l(r#"up{a="1", b="x y"}"#)), r#"{__name__="up", a="1", b="x y"}"#);
    }

    #[test]
    fn go_float_formats() {
        // By hand from strconv's 'f' and 'g' with the shortest precision.
        assert_eq!(go_format_f(5e-324), format!("0.{}5", "0".repeat(323)));
        assert_eq!(go_format_f(f64::MAX), format!("17976931348623157{}", "0".repeat(292)));
        assert_eq!(go_format_f(1.0 / 3.0), "0.3333333333333333");
        let cases = [(123456.0, "123456"), (1234567.0, "1.234567e+06"), (0.0001, "0.0001"), (0.00001, "1e-05")];
        for (x, want) in cases.into_iter().chain([(-1.5e300, "-1.5e+300"), (0.0, "0"), (f64::NEG_INFINITY, "-Inf")]) {
            assert_eq!(go_format_v(x), want);
        }
    }
}
