//! InfluxQL `SELECT` end to end: the real `influx` CLI prints per-minute means of samples
//! that Prometheus-format remote writes stored; aggregates over the replayed Prometheus
//! fixtures agree with the samples the writes carried; errors name the problem.

use std::collections::BTreeMap;
use tests::*;

/// 2023-11-14T22:13:20Z in milliseconds.
const T0: i64 = 1_700_000_000_000;

fn influx(g: &Gemini, args: &[&str]) -> String {
    let (ok, text) = g.influx(&[&["-precision", "rfc3339"], args].concat());
    assert!(ok, "influx {args:?} failed: {text}");
    text
}

#[test]
fn influx_cli_prints_means_per_minute_of_remote_written_samples() {
    let dir = tempfile::tempdir().unwrap();
    let g = Gemini::start(dir.path(), &[]);
    let w = proto::prometheus::WriteRequest {
        timeseries: vec![
            series(&[("__name__", "temperature"), ("room", "a")], &[(T0, 20.0), (T0 + 30_000, 22.0), (T0 + 60_000, 25.0)]),
            series(&[("__name__", "temperature"), ("room", "b")], &[(T0 + 90_000, 18.0)]),
        ],
        metadata: vec![],
    };
    assert_eq!(g.write("prometheus", &w).status, 204);
    let window = "time >= '2023-11-14T22:13:00Z' AND time < '2023-11-14T22:16:00Z'";
    let out = influx(&g, &["-database", "prometheus", "-execute", &format!("SELECT mean(value), count(value) FROM temperature WHERE {window} GROUP BY time(1m)")]);
    assert_eq!(
        words(&out),
        vec![
            "name: temperature",
            "time mean count",
            "---- ---- -----",
            "2023-11-14T22:13:00Z 21 2",
            "2023-11-14T22:14:00Z 21.5 2",
            "2023-11-14T22:15:00Z 0",
        ],
        "{out}"
    );
    let out = influx(&g, &["-database", "prometheus", "-execute", &format!("SELECT max(value) FROM temperature WHERE {window} GROUP BY room fill(none)")]);
    assert_eq!(
        words(&out),
        vec![
            "name: temperature", "tags: room=a", "time max", "---- ---", "2023-11-14T22:14:20Z 25",
            "name: temperature", "tags: room=b", "time max", "---- ---", "2023-11-14T22:14:50Z 18",
        ],
        "{out}"
    );
    let out = influx(&g, &["-database", "prometheus", "-execute", "SELECT value FROM temperature WHERE room =~ /b/ OR value < 21"]);
    assert_eq!(words(&out), vec!["name: temperature", "time value", "---- -----", "2023-11-14T22:13:20Z 20", "2023-11-14T22:14:50Z 18"], "{out}");
}

fn number(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("{v} is not a number"))
}

#[test]
fn aggregates_over_replayed_fixtures_match_the_written_samples() {
    let dir = tempfile::tempdir().unwrap();
    let g = Gemini::start(dir.path(), &[]);
    for bin in fixture_files("write-") {
        assert_eq!(send_captured(&g, &bin).status, 204);
    }
    let answer = g.query_in("prometheus", "SELECT count(value), min(value), max(value), first(value), last(value), sum(value) FROM /.*/ GROUP BY *");
    let series = answer["results"][0]["series"].as_array().expect("series");
    let mut got: BTreeMap<Vec<(String, String)>, &serde_json::Value> = BTreeMap::new();
    for s in series {
        // A Prometheus series keeps `__name__` as a tag, as in InfluxDB 1.6.
        assert_eq!(s["tags"]["__name__"], s["name"], "{s}");
        // GROUP BY * lists every tag key of the measurement, '' where a series has none.
        let tags = s["tags"].as_object().unwrap().iter().filter(|(_, v)| *v != "");
        let mut key: Vec<(String, String)> = tags.map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string())).collect();
        key.sort();
        assert_eq!(s["columns"], serde_json::json!(["time", "count", "min", "max", "first", "last", "sum"]));
        got.insert(key, &s["values"][0]);
    }
    let mut compared = 0;
    for (key, mut samples) in fixture_writes() {
        samples.sort();
        samples.dedup();
        let values: Vec<f64> = samples.iter().map(|s| f64::from_bits(s.1)).collect();
        if values.iter().any(|v| !v.is_finite()) {
            continue; // stale markers: NaN has no InfluxQL meaning
        }
        let row = got.get(&key).unwrap_or_else(|| panic!("no series {key:?} in the SELECT answer"));
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let sum: f64 = values.iter().sum();
        assert_eq!(row[0], "1970-01-01T00:00:00Z", "{key:?}");
        assert_eq!(number(&row[1]), values.len() as f64, "count of {key:?}");
        assert_eq!((number(&row[2]), number(&row[3])), (min, max), "min and max of {key:?}");
        assert_eq!((number(&row[4]), number(&row[5])), (values[0], values[values.len() - 1]), "first and last of {key:?}");
        assert!((number(&row[6]) - sum).abs() <= 1e-9 * sum.abs().max(1.0), "sum of {key:?}: {} vs {sum}", row[6]);
        compared += 1;
    }
    assert!(compared > 100, "only {compared} series compared");
}

#[test]
fn select_errors_name_the_problem_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let g = Gemini::start(dir.path(), &[]);
    let w = proto::prometheus::WriteRequest { timeseries: vec![series(&[("__name__", "up"), ("job", "x")], &[(T0, 1.0)])], metadata: vec![] };
    assert_eq!(g.write("prometheus", &w).status, 204);
    let three = ["a", "b", "c"].map(|job| series(&[("__name__", "load"), ("job", job)], &[(T0, 1.0)]));
    assert_eq!(g.write("prometheus", &proto::prometheus::WriteRequest { timeseries: three.to_vec(), metadata: vec![] }).status, 204);
    let a = g.get("/query?db=prometheus&q=SELECT%20FROM%20up");
    assert_eq!(a.status, 400);
    assert!(a.text().contains("error parsing query: found FROM, expected identifier, string, number, bool at line 1, char 8"), "{}", a.text());
    for (q, error) in [
        ("SELECT value, mean(value) FROM up", "mixing aggregate and non-aggregate queries is not supported"),
        ("SELECT median(value, 3) FROM up", "invalid number of arguments for median, expected 1, got 2"),
        ("SELECT bogus(value) FROM up", "undefined function bogus()"),
        ("SELECT value FROM up GROUP BY time(1m)", "GROUP BY requires at least one aggregate function"),
        ("SELECT value FROM up WHERE time > now() - 1h OR job = 'x'", "time bounds can only be joined"),
        ("SELECT value FROM nope..up", "database not found: nope"),
        ("SELECT mean(value) FROM up WHERE time > 0s GROUP BY time(1s) fill(0)", "more than the 1000000 allowed"),
        // 3 series × 400 000 windows: each fits, the answer does not.
        ("SELECT mean(value) FROM load WHERE time >= 1700000000s AND time < 1700400000s GROUP BY time(1s), job fill(0)", "more than 1000000 aggregate rows"),
    ] {
        let answer = g.query_in("prometheus", q);
        let got = answer["results"][0]["error"].as_str().unwrap_or_default();
        assert!(got.contains(error), "{q}: {answer}");
    }
    let answer = g.query_in("prometheus", "SELECT value FROM up");
    assert_eq!(answer["results"][0]["series"][0]["values"], serde_json::json!([["2023-11-14T22:13:20Z", 1]]));
    let a = g.get("/query?db=prometheus&epoch=ms&q=SELECT%20value%20FROM%20up");
    let v: serde_json::Value = serde_json::from_slice(&a.body).unwrap();
    assert_eq!(v["results"][0]["series"][0]["values"], serde_json::json!([[T0, 1]]));
}
