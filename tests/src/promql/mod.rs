//! The PromQL differential test's parts (issue 15): one data set written the same way to the real
//! Prometheus 2.42 and to gemini, the queries asked of both, and a semantic comparison of two
//! answers of the Prometheus HTTP API. The cluster tests can reuse the data set, the queries and
//! the comparison.

mod data;
mod queries;

pub use data::*;
pub use queries::*;

use crate::{post_url, urlencode};
use serde_json::Value;
use std::collections::BTreeMap;

/// An answer of the Prometheus HTTP API: HTTP status and the JSON body (Null if not JSON).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub json: Value,
    pub text: String,
}

impl Reply {
    pub fn ok(&self) -> bool {
        self.status == 200 && self.json["status"] == "success"
    }

    /// A success with something in it: a scalar or string, or a non-empty vector or matrix.
    pub fn non_empty(&self) -> bool {
        self.ok() && self.json["data"]["result"].as_array().map_or(true, |r| !r.is_empty())
    }
}

/// GET (params in the URL) or POST (a form body) to `base` + `path`.
pub fn ask(base: &str, path: &str, params: &[(&str, String)], post: bool) -> Reply {
    let form: Vec<String> = params.iter().map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v))).collect();
    let form = form.join("&");
    let a = if post {
        post_url(&format!("{base}{path}"), &[("Content-Type", "application/x-www-form-urlencoded")], form.as_bytes())
    } else {
        let url = if form.is_empty() { format!("{base}{path}") } else { format!("{base}{path}?{form}") };
        let mut r = crate::agent().get(&url).call().expect("HTTP request");
        let status = r.status().as_u16();
        let body = r.body_mut().read_to_vec().expect("read body");
        crate::Answer { status, content_type: String::new(), headers: vec![], body }
    };
    let text = a.text();
    Reply { status: a.status, json: serde_json::from_slice(&a.body).unwrap_or(Value::Null), text }
}

/// A sample value of the API: a string in Prometheus' float format.
pub fn parse_value(v: &Value) -> Result<f64, String> {
    let s = v.as_str().ok_or_else(|| format!("value {v} is not a string"))?;
    match s {
        "NaN" => Ok(f64::NAN),
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        _ => s.parse::<f64>().ok().filter(|x| x.is_finite()).ok_or_else(|| format!("value {s:?} is not in Prometheus' float format")),
    }
}

/// Equal to 1e-9 relative at every magnitude (so a zero equals only a zero, of either sign:
/// rounding noise of 1e-15 where Prometheus answers 0 is a difference), both NaN, or the same
/// infinity.
pub fn same_value(a: f64, b: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    if a.is_infinite() || b.is_infinite() {
        return a == b;
    }
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

/// A timestamp of the API (float seconds) as milliseconds.
fn parse_ts(v: &Value) -> Result<i64, String> {
    v.as_f64().map(|s| (s * 1000.0).round() as i64).ok_or_else(|| format!("timestamp {v} is not a number"))
}

/// `[ts, "value"]` → (ms, value).
fn point(p: &Value) -> Result<(i64, f64), String> {
    let a = p.as_array().filter(|a| a.len() == 2).ok_or_else(|| format!("point {p} is not [ts, value]"))?;
    Ok((parse_ts(&a[0])?, parse_value(&a[1])?))
}

fn labels_of(m: &Value) -> Result<BTreeMap<String, String>, String> {
    let o = m.as_object().ok_or_else(|| format!("metric {m} is not an object"))?;
    o.iter().map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())).ok_or_else(|| format!("label {k} is not a string"))).collect()
}

fn show(labels: &BTreeMap<String, String>) -> String {
    let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", inner.join(", "))
}

type Points = Vec<(i64, f64)>;

/// The series of a vector or matrix result, in answer order.
fn series_of(result: &Value, kind: &str) -> Result<Vec<(BTreeMap<String, String>, Points)>, String> {
    let list = result.as_array().ok_or_else(|| format!("result {result} is not a list"))?;
    list.iter()
        .map(|s| {
            let labels = labels_of(&s["metric"])?;
            let points = if kind == "vector" {
                vec![point(&s["value"])?]
            } else {
                s["values"].as_array().ok_or_else(|| format!("series {} has no values", show(&labels)))?.iter().map(point).collect::<Result<_, _>>()?
            };
            Ok((labels, points))
        })
        .collect()
}

fn show_value(v: f64) -> String {
    format!("{v:?}")
}

/// Compares two answers of the API semantically; `Err` holds the first difference. `ordered`:
/// the order of an instant vector matters (sort, sort_desc, topk, bottomk): then the sequence
/// of values in answer order must be the same too (ties may come in either order, so it is the
/// values that are compared in order; the series as a set, as everywhere else).
pub fn compare(want: &Reply, got: &Reply, ordered: bool) -> Result<(), String> {
    if want.status != got.status || want.json["status"] != got.json["status"] {
        return Err(format!("status {} {} vs {} {}", want.status, want.json["status"], got.status, clip(&got.text)));
    }
    if !want.ok() {
        return if want.json["errorType"] == got.json["errorType"] {
            Ok(())
        } else {
            Err(format!("errorType {} vs {} ({})", want.json["errorType"], got.json["errorType"], clip(&got.text)))
        };
    }
    let (wd, gd) = (&want.json["data"], &got.json["data"]);
    let kind = wd["resultType"].as_str().unwrap_or("");
    if wd["resultType"] != gd["resultType"] {
        return Err(format!("resultType {} vs {}", wd["resultType"], gd["resultType"]));
    }
    match kind {
        "scalar" => {
            let (w, g) = (point(&wd["result"])?, point(&gd["result"])?);
            if w.0 != g.0 || !same_value(w.1, g.1) {
                return Err(format!("scalar {w:?} vs {g:?}"));
            }
        }
        "string" => {
            let text = |r: &Value| -> Result<(i64, String), String> {
                let s = r[1].as_str().ok_or_else(|| format!("string result {r} is not [ts, \"text\"]"))?;
                Ok((parse_ts(&r[0])?, s.to_string()))
            };
            let (w, g) = (text(&wd["result"])?, text(&gd["result"])?);
            if w != g {
                return Err(format!("string {w:?} vs {g:?}"));
            }
        }
        "vector" | "matrix" => {
            let w = series_of(&wd["result"], kind).map_err(|e| format!("Prometheus: {e}"))?;
            let g = series_of(&gd["result"], kind)?;
            let wm: BTreeMap<_, _> = w.iter().cloned().collect();
            let mut gm = BTreeMap::new();
            for (labels, points) in &g {
                if gm.insert(labels.clone(), points.clone()).is_some() {
                    return Err(format!("series {} twice", show(labels)));
                }
            }
            let missing: Vec<String> = wm.keys().filter(|k| !gm.contains_key(*k)).take(3).map(show).collect();
            let extra: Vec<String> = gm.keys().filter(|k| !wm.contains_key(*k)).take(3).map(show).collect();
            if !missing.is_empty() || !extra.is_empty() {
                return Err(format!("{} vs {} series; missing {missing:?}, extra {extra:?}", wm.len(), gm.len()));
            }
            for (labels, wp) in &wm {
                let gp = &gm[labels];
                for i in 0..wp.len().max(gp.len()) {
                    match (wp.get(i), gp.get(i)) {
                        (Some(a), Some(b)) if a.0 == b.0 && same_value(a.1, b.1) => {}
                        (a, b) => {
                            let f = |p: Option<&(i64, f64)>| p.map_or("nothing".to_string(), |(t, v)| format!("{} @{}", show_value(*v), secs(*t)));
                            return Err(format!("{} point {i}: {} vs {}", show(labels), f(a), f(b)));
                        }
                    }
                }
            }
            if ordered && kind == "vector" {
                let values = |s: &[(BTreeMap<String, String>, Points)]| s.iter().map(|(_, p)| p[0].1).collect::<Vec<_>>();
                let (wv, gv) = (values(&w), values(&g));
                if !wv.iter().zip(&gv).all(|(a, b)| same_value(*a, *b)) {
                    return Err(format!("order of values {wv:?} vs {gv:?}"));
                }
            }
        }
        other => return Err(format!("unknown resultType {other:?}")),
    }
    Ok(())
}

/// Compares two answers of `/api/v1/series`, `/labels` or `/label/<name>/values`: same status,
/// and the same data as a set.
pub fn compare_set(want: &Reply, got: &Reply) -> Result<(), String> {
    if want.status != got.status || want.json["status"] != got.json["status"] {
        return Err(format!("status {} vs {} {}", want.status, got.status, clip(&got.text)));
    }
    let set = |r: &Reply| -> Result<std::collections::BTreeSet<String>, String> {
        let list = r.json["data"].as_array().ok_or_else(|| format!("data is not a list: {}", clip(&r.text)))?;
        Ok(list
            .iter()
            .map(|v| match v {
                Value::Object(_) => labels_of(v).map(|l| show(&l)).unwrap_or_else(|e| e),
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect())
    };
    let (w, g) = (set(want)?, set(got)?);
    if w != g {
        let missing: Vec<_> = w.difference(&g).take(5).collect();
        let extra: Vec<_> = g.difference(&w).take(5).collect();
        return Err(format!("{} vs {} entries; missing {missing:?}, extra {extra:?}", w.len(), g.len()));
    }
    Ok(())
}

/// The start of a long text, for messages.
pub fn clip(s: &str) -> String {
    let s = s.trim();
    if s.len() <= 200 {
        s.to_string()
    } else {
        let mut end = 200;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}…", &s[..end])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn reply(v: Value) -> Reply {
        let status = match v["errorType"].as_str() {
            Some("bad_data") => 400,
            Some(_) => 422,
            None => 200,
        };
        Reply { status, text: v.to_string(), json: v }
    }

    fn vector(series: &[(&str, f64, &str)]) -> Reply {
        let result: Vec<Value> = series.iter().map(|(room, t, v)| json!({"metric": {"room": room}, "value": [t, v]})).collect();
        reply(json!({"status": "success", "data": {"resultType": "vector", "result": result}}))
    }

    #[test]
    fn values_compare_to_1e9_relative_nan_equal_to_nan() {
        assert!(same_value(1.0, 1.0 + 1e-10));
        assert!(!same_value(1.0, 1.0 + 1e-8));
        assert!(same_value(1e12, 1e12 + 100.0));
        assert!(!same_value(0.0, 1e-9));
        // Small values compare relative too: no absolute floor lets rounding noise pass as 0.
        assert!(same_value(0.0, 0.0));
        assert!(same_value(0.0, -0.0));
        assert!(!same_value(0.0, 1e-15));
        assert!(!same_value(-1e-300, 0.0));
        assert!(same_value(3e-7, 3e-7 * (1.0 + 1e-10)));
        assert!(!same_value(3e-7, 3e-7 * (1.0 + 1e-8)));
        assert!(!same_value(1e-13, 2e-13));
        assert!(same_value(f64::MIN_POSITIVE, f64::MIN_POSITIVE));
        assert!(same_value(f64::NAN, f64::NAN));
        assert!(!same_value(f64::NAN, 0.0));
        assert!(same_value(f64::INFINITY, f64::INFINITY));
        assert!(!same_value(f64::INFINITY, f64::NEG_INFINITY));
        assert!(!same_value(f64::INFINITY, f64::MAX));
        assert_eq!(parse_value(&json!("+Inf")).unwrap(), f64::INFINITY);
        assert!(parse_value(&json!("NaN")).unwrap().is_nan());
        assert_eq!(parse_value(&json!("1e-07")).unwrap(), 1e-7);
        assert!(parse_value(&json!("inf")).is_err(), "not Prometheus' spelling");
        assert!(parse_value(&json!(1.5)).is_err(), "values are strings");
    }

    #[test]
    fn answers_compare_by_label_set_timestamp_and_value() {
        let want = vector(&[("a", 10.0, "1"), ("b", 10.0, "NaN")]);
        assert!(compare(&want, &vector(&[("b", 10.0, "NaN"), ("a", 10.0, "1.0000000000001")]), false).is_ok());
        assert!(compare(&want, &vector(&[("a", 10.0, "1")]), false).unwrap_err().contains("missing"));
        assert!(compare(&want, &vector(&[("a", 10.0, "1"), ("b", 10.0, "NaN"), ("c", 10.0, "1")]), false).unwrap_err().contains("extra"));
        assert!(compare(&want, &vector(&[("a", 10.0, "1"), ("a", 10.0, "1"), ("b", 10.0, "NaN")]), false).unwrap_err().contains("twice"));
        assert!(compare(&want, &vector(&[("a", 10.001, "1"), ("b", 10.0, "NaN")]), false).is_err());
        assert!(compare(&want, &vector(&[("a", 10.0, "2"), ("b", 10.0, "NaN")]), false).is_err());
        // Order: only where it matters, and by values (ties may come either way).
        assert!(compare(&want, &vector(&[("b", 10.0, "NaN"), ("a", 10.0, "1")]), true).unwrap_err().contains("order"));
        let tie = vector(&[("a", 10.0, "1"), ("b", 10.0, "1")]);
        assert!(compare(&tie, &vector(&[("b", 10.0, "1"), ("a", 10.0, "1")]), true).is_ok());
        // Matrices: every point.
        let matrix = |values: Value| reply(json!({"status": "success", "data": {"resultType": "matrix", "result": [{"metric": {}, "values": values}]}}));
        let m = matrix(json!([[1, "1"], [2, "+Inf"]]));
        assert!(compare(&m, &matrix(json!([[1, "1"], [2, "+Inf"]])), false).is_ok());
        assert!(compare(&m, &matrix(json!([[1, "1"]])), false).unwrap_err().contains("nothing"));
        assert!(compare(&m, &matrix(json!([[1, "1"], [3, "+Inf"]])), false).is_err());
        // Types, statuses and error types.
        let scalar = |v: &str| reply(json!({"status": "success", "data": {"resultType": "scalar", "result": [4, v]}}));
        assert!(compare(&scalar("2"), &scalar("2"), false).is_ok());
        assert!(compare(&scalar("2"), &scalar("3"), false).is_err());
        assert!(compare(&scalar("2"), &vector(&[]), false).unwrap_err().contains("resultType"));
        let string = |t: Value| reply(json!({"status": "success", "data": {"resultType": "string", "result": [t, "x"]}}));
        assert!(compare(&string(json!(4)), &string(json!(4.0)), false).is_ok());
        let error = |t: &str| reply(json!({"status": "error", "errorType": t, "error": "..."}));
        assert!(compare(&error("bad_data"), &error("bad_data"), false).is_ok());
        assert!(compare(&error("execution"), &error("timeout"), false).is_err());
        assert!(compare(&error("bad_data"), &scalar("2"), false).unwrap_err().contains("status"));
    }

    #[test]
    fn the_data_set_is_in_time_order_and_has_its_landmarks() {
        let d = DataSet::new(1_800_000_000_000);
        assert_eq!(d.start_ms % 60_000, 0);
        let mut last: BTreeMap<Vec<(String, String)>, i64> = BTreeMap::new();
        for req in &d.requests {
            for ts in &req.timeseries {
                for s in &ts.samples {
                    let before = last.insert(crate::labels_key(&ts.labels), s.timestamp).unwrap_or(i64::MIN);
                    assert!(s.timestamp > before, "each series' samples come in time order across requests");
                }
            }
        }
        assert_eq!(last.len(), d.series.len());
        let stale = &d.series[&vec![("__name__".to_string(), "stale_gauge".to_string()), ("job".to_string(), "stale".to_string())]];
        assert_eq!(stale.last().unwrap().1.to_bits(), STALE_NAN);
        assert_eq!(rfc3339(1_800_000_000_123), "2027-01-15T08:00:00.123Z");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }
}
