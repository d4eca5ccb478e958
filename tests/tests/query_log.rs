//! The query log end to end (issue 30): with `--query.log-file`, one JSON line per PromQL and
//! InfluxQL query with its database, parameters, duration, what it read (two series of ten
//! samples, as written), its status and the caller; passwords never reach it. With
//! `--query.slow-threshold 0s` every query is slow and goes to the server's log at `warn`.
//! `/metrics` has the duration histogram by API.

use proto::prometheus as pb;
use tests::*;

fn lines(path: &std::path::Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect()
}

#[test]
fn every_query_is_logged_with_what_it_read() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("queries.log");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let g = Gemini::start_logged(&data, &["--query.log-file", log.to_str().unwrap(), "--query.slow-threshold", "0s"], "warn");
    let t0 = (now_s() - 600) * 1000;
    let samples: Vec<(i64, f64)> = (0..10).map(|i| (t0 + i * 15_000, i as f64)).collect();
    let req = pb::WriteRequest {
        timeseries: vec![series(&[("__name__", "up"), ("job", "a")], &samples), series(&[("__name__", "up"), ("job", "b")], &samples)],
        metadata: vec![],
    };
    assert_eq!(g.write("prometheus", &req).status, 204);
    assert!(lines(&log).is_empty(), "writes are not queries");

    let range = format!("/api/v1/query_range?query=up&start={}&end={}&step=15", t0 / 1000, t0 / 1000 + 135);
    let a = g.get(&range);
    assert_eq!(a.status, 200, "{}", a.text());
    let a = g.get(&format!("/api/v1/query?query={}", urlencode("rate(")));
    assert_eq!(a.status, 400, "{}", a.text());
    let a = g.query_in("prometheus", "SELECT * FROM up");
    assert!(a["results"][0].get("error").is_none(), "{a}");
    let a = g.query_in("prometheus", "SHOW RETENTION POLICIES ON nope");
    assert!(a["results"][0].get("error").is_some(), "{a}");
    let a = g.query_in("prometheus", "CREATE USER ann WITH PASSWORD 'very-secret'");
    assert!(a["results"][0].get("error").is_none(), "{a}");

    let got = lines(&log);
    assert_eq!(got.len(), 5, "{got:#?}");
    let range_line = &got[0];
    assert_eq!(range_line["httpRequest"]["path"], "/api/v1/query_range");
    assert_eq!(range_line["httpRequest"]["clientIP"], "127.0.0.1");
    assert_eq!(range_line["params"]["db"], "prometheus");
    assert_eq!(range_line["params"]["query"], "up");
    assert_eq!(range_line["params"]["step"], 15.0);
    assert_eq!(range_line["status"], "success");
    assert_eq!((range_line["stats"]["series"].as_u64(), range_line["stats"]["samples"]["totalQueryableSamples"].as_u64()), (Some(2), Some(20)), "{range_line}");
    assert!(range_line["stats"]["timings"]["execTotalTime"].as_f64().is_some_and(|s| s >= 0.0), "{range_line}");
    assert!(range_line["ts"].as_str().is_some_and(|t| t.ends_with('Z')), "{range_line}");
    assert_eq!((got[1]["status"].as_str(), got[1]["params"]["query"].as_str()), (Some("error"), Some("rate(")));
    assert!(got[1]["error"].as_str().is_some_and(|e| e.contains("unexpected end of input") || e.contains("parse")), "{}", got[1]);
    assert_eq!(got[2]["params"]["query"], "SELECT * FROM up");
    assert_eq!(got[2]["status"], "success");
    assert_eq!((got[2]["stats"]["series"].as_u64(), got[2]["stats"]["samples"]["totalQueryableSamples"].as_u64()), (Some(2), Some(20)), "{}", got[2]);
    assert_eq!(got[3]["status"], "error");
    assert!(got[3]["error"].as_str().is_some_and(|e| e.contains("database not found: nope")), "{}", got[3]);
    assert!(!std::fs::read_to_string(&log).unwrap().contains("very-secret"), "a password reached the log");
    assert_eq!(got[4]["params"]["query"], "CREATE USER ann WITH PASSWORD [REDACTED]");

    let server_log = g.log();
    assert_eq!(server_log.matches("slow query").count(), 5, "{server_log}");
    assert!(!server_log.contains("very-secret"), "a password reached the server's log");

    let metrics = g.get("/metrics").text();
    let count = |api: &str| metrics.lines().find(|l| l.starts_with(&format!("gemini_query_duration_seconds_count{{api=\"{api}\"}}"))).and_then(|l| l.rsplit(' ').next()?.parse::<u64>().ok());
    assert_eq!((count("query_range"), count("query"), count("influxql")), (Some(1), Some(1), Some(3)), "{metrics}");
}
