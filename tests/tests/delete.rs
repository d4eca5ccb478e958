//! `DELETE`, `DROP SERIES` and `DROP MEASUREMENT` end to end: what they remove is gone from
//! remote read and from InfluxQL, stays gone after kill -9 and restart, and nothing else goes.

use tests::*;

const MIN: i64 = 60_000;

fn up(instance: &str, from: i64, n: i64) -> proto::prometheus::TimeSeries {
    let samples: Vec<(i64, f64)> = (0..n).map(|i| (from + i * 15_000, i as f64)).collect();
    series(&[("__name__", "up"), ("instance", instance), ("job", "node")], &samples)
}

fn read_up(g: &Gemini) -> Series {
    g.read_samples("metrics", query_all(vec![matcher(0, "__name__", "up")]))
}

fn times(s: &Series, instance: &str) -> Vec<i64> {
    s.iter().find(|(k, _)| k.iter().any(|(n, v)| n == "instance" && v == instance)).map(|(_, v)| v.iter().map(|(t, _)| *t).collect()).unwrap_or_default()
}

#[test]
fn deleted_points_and_series_stay_gone() {
    let dir = tempfile::tempdir().unwrap();
    let mut g = Gemini::start(dir.path(), &["--databases", "metrics"]);
    let t0 = (now_s() * 1000 - 120 * MIN) / MIN * MIN;
    // 400 samples (several chunks) per series, over 100 minutes.
    let req = proto::prometheus::WriteRequest { timeseries: vec![up("a:9100", t0, 400), up("b:9100", t0, 400), up("c:9100", t0, 400)], metadata: vec![] };
    assert_eq!(g.write("metrics", &req).status, 204);
    let ok = |a: serde_json::Value| assert!(a["results"][0].get("error").is_none(), "{a}");

    // The first 30 minutes of a:9100, a middle stretch of b:9100, and all of c:9100 after its
    // first sample (the open chunk empties: an older chunk takes its place).
    let at = |ms: i64| format!("{}ms", ms);
    ok(g.query_in("metrics", &format!("DELETE FROM up WHERE instance = 'a:9100' AND time < {}", at(t0 + 30 * MIN))));
    ok(g.query_in("metrics", &format!("DELETE FROM up WHERE instance = 'b:9100' AND time >= {} AND time <= {}", at(t0 + 10 * MIN), at(t0 + 80 * MIN))));
    ok(g.query_in("metrics", &format!("DELETE FROM up WHERE instance = 'c:9100' AND time > {}", at(t0 + 30 * MIN))));
    let all: Vec<i64> = (0..400).map(|i| t0 + i * 15_000).collect();
    let want_a: Vec<i64> = all.iter().copied().filter(|t| *t >= t0 + 30 * MIN).collect();
    let want_b: Vec<i64> = all.iter().copied().filter(|t| *t < t0 + 10 * MIN || *t > t0 + 80 * MIN).collect();
    let want_c: Vec<i64> = all.iter().copied().filter(|t| *t <= t0 + 30 * MIN).collect();
    let check = |g: &Gemini, want_c: &[i64]| {
        let s = read_up(g);
        assert_eq!(times(&s, "a:9100"), want_a);
        assert_eq!(times(&s, "b:9100"), want_b);
        assert_eq!(times(&s, "c:9100"), want_c);
    };
    check(&g, &want_c);
    // New samples after the deletion are accepted where the deleted ones were.
    assert_eq!(g.write("metrics", &proto::prometheus::WriteRequest { timeseries: vec![up("c:9100", t0 + 31 * MIN, 1)], metadata: vec![] }).status, 204);
    let want_c: Vec<i64> = want_c.iter().copied().chain([t0 + 31 * MIN]).collect();
    check(&g, &want_c);
    g.kill9();
    g.restart();
    check(&g, &want_c);

    // A series whose every point is deleted goes; DROP SERIES by tag; DROP MEASUREMENT.
    ok(g.query_in("metrics", "DELETE FROM up WHERE instance = 'a:9100'"));
    assert!(times(&read_up(&g), "a:9100").is_empty());
    ok(g.query_in("metrics", "DROP SERIES FROM up WHERE instance = 'b:9100'"));
    let keys = g.query_in("metrics", "SHOW SERIES");
    // As InfluxDB 1.6 prints a Prometheus series: `__name__` is one of its tags.
    assert_eq!(keys["results"][0]["series"][0]["values"], serde_json::json!([["up,__name__=up,instance=c:9100,job=node"]]), "{keys}");
    let a = g.query_in("metrics", "DROP SERIES WHERE time > 0");
    assert_eq!(a["results"][0]["error"], "DROP SERIES doesn't support time in WHERE clause");
    ok(g.query_in("metrics", "DROP MEASUREMENT up"));
    g.kill9();
    g.restart();
    assert!(read_up(&g).is_empty());
    let measurements = g.query_in("metrics", "SHOW MEASUREMENTS");
    assert_eq!(measurements["results"][0]["statement_id"], 0, "an answer: {measurements}");
    assert!(measurements["results"][0].get("error").is_none(), "{measurements}");
    assert!(measurements["results"][0].get("series").is_none(), "{measurements}");
    let a = g.post("/query?q=DELETE%20FROM%20up", &[], b"");
    let v: serde_json::Value = serde_json::from_slice(&a.body).unwrap();
    assert_eq!(v["results"][0]["error"], "database name required");
}
