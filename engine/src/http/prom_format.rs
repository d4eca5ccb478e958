//! Prometheus 2.42's JSON, byte for byte: how its HTTP API writes sample values, timestamps,
//! label sets and query results (web/api/v1/api.go's jsoniter encoders, util/jsonutil, and
//! the `MarshalJSON` of promql's Scalar and String). Clients parse these texts (Grafana
//! reads values as strings, so `"1e-07"` and `"0.0000001"` are not the same to everyone), so
//! they follow Go's float formatting exactly rather than Rust's.

use crate::promql::gofmt::{go_format_e, go_format_f};
use crate::promql::value::{Labels, Point, Series, Value};
use std::fmt::Write;

/// A sample value as the API writes it (jsonutil.MarshalValue), quotes included: 'f' format,
/// but 'e' when 0 < |v| < 1e-6 or |v| >= 1e21.
pub fn value(v: f64, out: &mut String) {
    out.push('"');
    let abs = v.abs();
    if abs != 0.0 && abs.is_finite() && !(1e-6..1e21).contains(&abs) {
        out.push_str(&go_format_e(v));
    } else {
        out.push_str(&go_format_f(v));
    }
    out.push('"');
}

/// A point's timestamp (jsonutil.MarshalTimestamp): milliseconds as seconds, with exactly
/// three decimals when there is a fraction (`1.500`, `-0.001`) and none otherwise.
pub fn timestamp(t: i64, out: &mut String) {
    let abs = t.unsigned_abs();
    let sign = if t < 0 { "-" } else { "" };
    let (seconds, fraction) = (abs / 1000, abs % 1000);
    match fraction {
        0 => write!(out, "{sign}{seconds}"),
        f => write!(out, "{sign}{seconds}.{f:03}"),
    }
    .expect("writing to a String");
}

/// A scalar's or string's timestamp: Go's encoding/json of `float64(t) / 1000`, the shortest
/// digits (`1.5`, not `1.500`). Timestamps in ms are never small or large enough for Go's
/// exponent form.
fn float_timestamp(t: i64, out: &mut String) {
    out.push_str(&go_format_f(t as f64 / 1000.0));
}

/// A JSON string as Go's encoding/json writes it: HTML-safe (`<`, `>`, `&` as `\u003c`…),
/// U+2028 and U+2029 escaped, control characters other than `\n`, `\r`, `\t` as `\u00XX`.
pub fn string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A JSON object of string fields in the order given: a label set (sorted by name, as Go
/// sorts a map's keys), or a Go struct of strings in its field order.
pub fn labels<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>, out: &mut String) {
    out.push('{');
    for (i, (name, value)) in pairs.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        string(name, out);
        out.push(':');
        string(value, out);
    }
    out.push('}');
}

/// A JSON array of `items`, each written by `each`.
pub fn array<T>(items: impl IntoIterator<Item = T>, out: &mut String, mut each: impl FnMut(T, &mut String)) {
    out.push('[');
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        each(item, out);
    }
    out.push(']');
}

/// `[<timestamp>,"<value>"]` of a vector's or matrix's point.
fn point(p: &Point, out: &mut String) {
    out.push('[');
    timestamp(p.t, out);
    out.push(',');
    value(p.v, out);
    out.push(']');
}

fn metric(l: &Labels, out: &mut String) {
    out.push_str("{\"metric\":");
    labels(l.iter(), out);
}

/// A query's `data`: `{"resultType":…,"result":…}`.
pub fn query_data(v: &Value) -> String {
    let mut out = String::with_capacity(256);
    match v {
        Value::Scalar(p) => {
            // promql.Scalar's MarshalJSON: 'f' format always, shortest float timestamp.
            out.push_str("{\"resultType\":\"scalar\",\"result\":[");
            float_timestamp(p.t, &mut out);
            out.push_str(",\"");
            out.push_str(&go_format_f(p.v));
            out.push_str("\"]}");
        }
        Value::String(p, s) => {
            out.push_str("{\"resultType\":\"string\",\"result\":[");
            float_timestamp(p.t, &mut out);
            out.push(',');
            string(s, &mut out);
            out.push_str("]}");
        }
        Value::Vector(samples) => {
            out.push_str("{\"resultType\":\"vector\",\"result\":");
            array(samples, &mut out, |s, out| {
                metric(&s.labels, out);
                out.push_str(",\"value\":");
                point(&s.point, out);
                out.push('}');
            });
            out.push('}');
        }
        Value::Matrix(series) => matrix(series, &mut out),
    }
    out
}

/// A range query's `data`: `query_data` of a matrix, from a borrowed one.
pub fn matrix_data(series: &[Series]) -> String {
    let mut out = String::with_capacity(256);
    matrix(series, &mut out);
    out
}

fn matrix(series: &[Series], out: &mut String) {
    out.push_str("{\"resultType\":\"matrix\",\"result\":");
    array(series, out, |s, out| {
        metric(&s.labels, out);
        // As marshalSeriesJSON: no `values` key for a series without points.
        if !s.points.is_empty() {
            out.push_str(",\"values\":");
            array(&s.points, out, point);
        }
        out.push('}');
    });
    out.push('}');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::promql::value::Sample;

    fn v(x: f64) -> String {
        let mut s = String::new();
        value(x, &mut s);
        s
    }

    fn ts(t: i64) -> String {
        let mut s = String::new();
        timestamp(t, &mut s);
        s
    }

    #[test]
    fn values_as_go_formats_them() {
        // api_test.go TestRespond, and Go's strconv rules for 'f' and 'e' with precision -1.
        let cases: &[(f64, &str)] = &[
            (0.0, "\"0\""),
            (-0.0, "\"-0\""),
            (20.0, "\"20\""),
            (100.0, "\"100\""),
            (0.1, "\"0.1\""),
            (1.5, "\"1.5\""),
            (-2.25, "\"-2.25\""),
            (1.2345678e6, "\"1234567.8\""),
            (1.2345678e-6, "\"0.0000012345678\""),
            (1e-6, "\"0.000001\""),
            (1.2345678e-67, "\"1.2345678e-67\""),
            (1e-7, "\"1e-07\""),
            (-1e-7, "\"-1e-07\""),
            (1.5e-7, "\"1.5e-07\""),
            (5e-324, "\"5e-324\""),
            (1e21, "\"1e+21\""),
            (-1e21, "\"-1e+21\""),
            (1.2345678901234568e21, "\"1.2345678901234568e+21\""),
            (1.7976931348623157e308, "\"1.7976931348623157e+308\""),
            (123456789012345680000.0, "\"123456789012345680000\""),
            (9.999999999999999e20, "\"999999999999999900000\""),
            (0.30000000000000004, "\"0.30000000000000004\""),
            (1.0 / 3.0, "\"0.3333333333333333\""),
            (f64::NAN, "\"NaN\""),
            (f64::INFINITY, "\"+Inf\""),
            (f64::NEG_INFINITY, "\"-Inf\""),
        ];
        for &(x, want) in cases {
            assert_eq!(v(x), want, "{x:e}");
        }
        // The stale marker is a NaN like any other on the wire.
        assert_eq!(v(f64::from_bits(0x7ff0_0000_0000_0002)), "\"NaN\"");
    }

    #[test]
    fn timestamps_as_jsonutil_writes_them() {
        // api_test.go TestRespond's points.
        let cases: &[(i64, &str)] = &[
            (0, "0"),
            (1, "0.001"),
            (10, "0.010"),
            (100, "0.100"),
            (1000, "1"),
            (1001, "1.001"),
            (1010, "1.010"),
            (1100, "1.100"),
            (1500, "1.500"),
            (12345678123456555, "12345678123456.555"),
            (1435781451781, "1435781451.781"),
            (-1, "-0.001"),
            (-1500, "-1.500"),
            (-2000, "-2"),
        ];
        for &(t, want) in cases {
            assert_eq!(ts(t), want, "{t}");
        }
    }

    #[test]
    fn strings_escape_as_go() {
        let mut s = String::new();
        string("a\"b\\c\nd\te<f>&g\u{1}h\u{2028}é", &mut s);
        assert_eq!(s, r#""a\"b\\c\nd\te\u003cf\u003e\u0026g\u0001h\u2028é""#);
    }

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        Labels::new(pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect())
    }

    #[test]
    fn results_of_each_type() {
        let m = Value::Matrix(vec![
            Series { labels: labels(&[("__name__", "foo")]), points: vec![Point { t: 1000, v: 1.0 }, Point { t: 2500, v: 1e-7 }] },
            Series { labels: labels(&[("a", "<b>")]), points: vec![] },
        ]);
        assert_eq!(
            query_data(&m),
            r#"{"resultType":"matrix","result":[{"metric":{"__name__":"foo"},"values":[[1,"1"],[2.500,"1e-07"]]},{"metric":{"a":"\u003cb\u003e"}}]}"#
        );
        let vec = Value::Vector(vec![Sample { labels: labels(&[("job", "x"), ("__name__", "up")]), point: Point { t: 1435781451781, v: f64::NAN } }]);
        assert_eq!(query_data(&vec), r#"{"resultType":"vector","result":[{"metric":{"__name__":"up","job":"x"},"value":[1435781451.781,"NaN"]}]}"#);
        assert_eq!(query_data(&Value::Vector(vec![])), r#"{"resultType":"vector","result":[]}"#);
        assert_eq!(query_data(&Value::Matrix(vec![])), r#"{"resultType":"matrix","result":[]}"#);
        // promql.Scalar.MarshalJSON: 'f' format whatever the size, float timestamp.
        assert_eq!(query_data(&Value::Scalar(Point { t: 4000, v: 2.0 })), r#"{"resultType":"scalar","result":[4,"2"]}"#);
        assert_eq!(query_data(&Value::Scalar(Point { t: 1500, v: 1e-7 })), r#"{"resultType":"scalar","result":[1.5,"0.0000001"]}"#);
        assert_eq!(query_data(&Value::Scalar(Point { t: 1, v: 1e21 })), r#"{"resultType":"scalar","result":[0.001,"1000000000000000000000"]}"#);
        assert_eq!(query_data(&Value::Scalar(Point { t: 0, v: f64::NEG_INFINITY })), r#"{"resultType":"scalar","result":[0,"-Inf"]}"#);
        let s = Value::String(Point { t: 1435781451781, v: 0.0 }, "a \"b\"".into());
        assert_eq!(query_data(&s), r#"{"resultType":"string","result":[1435781451.781,"a \"b\""]}"#);
    }
}
