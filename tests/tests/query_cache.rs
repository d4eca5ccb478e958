//! The range-query cache end to end (issue 28): the differential test's data set written to the
//! real Prometheus 2.42 and to gemini, then a dashboard's range query (start on the minute,
//! step 60 s, the data older than the cache offset) asked as a panel asks it: once, refreshed
//! with its range moved, and again. Every answer must equal Prometheus' and, byte for byte,
//! gemini's own answer with `nocache=1`; `/metrics` must count the hits, and `nocache=1` none.
//! Then the past changes: `DROP SERIES` of one host (Prometheus' admin delete on the
//! reference), and a late write of samples inside the kept steps (a Prometheus catching up);
//! the next refresh must show each change, as Prometheus does.

use std::time::{SystemTime, UNIX_EPOCH};
use tests::promql::*;
use tests::*;

const MIN: i64 = 60_000;
const QUERY: &str = "sum by (instance, mode) (rate(node_cpu_seconds_total[5m]))";

/// `/api/v1/query_range` of `QUERY` over [start, end] step 60 s, with more parameters.
fn range(base: &str, start: i64, end: i64, more: &[(&'static str, &str)]) -> Reply {
    let mut params = vec![("query", QUERY.to_string()), ("start", secs(start)), ("end", secs(end)), ("step", "60".to_string())];
    params.extend(more.iter().map(|(k, v)| (*k, v.to_string())));
    ask(base, "/api/v1/query_range", &params, false)
}

/// (hits, misses) of gemini's range-query cache, from `/metrics`.
fn cache_counts(g: &Gemini) -> (u64, u64) {
    let a = g.get("/metrics");
    assert_eq!(a.status, 200);
    let text = a.text();
    let count = |name: &str| {
        let line = text.lines().find(|l| l.split(' ').next() == Some(name)).unwrap_or_else(|| panic!("no {name} in /metrics"));
        line.split(' ').nth(1).unwrap().parse::<u64>().unwrap()
    };
    (count("gemini_query_cache_hits_total"), count("gemini_query_cache_misses_total"))
}

fn instances(r: &Reply) -> Vec<String> {
    let mut out: Vec<String> = r.json["data"]["result"].as_array().unwrap().iter().map(|s| s["metric"]["instance"].as_str().unwrap().to_string()).collect();
    out.dedup();
    out
}

/// Asks both and gemini once more with `nocache=1`: gemini's answer equals Prometheus' and is
/// the uncached answer byte for byte.
fn same_as_prometheus(p: &Prometheus, g: &Gemini, start: i64, end: i64, what: &str) -> Reply {
    let want = range(&p.url(""), start, end, &[]);
    assert!(want.non_empty(), "{what}: Prometheus answers {}", want.text);
    let got = range(&g.url(""), start, end, &[]);
    assert_eq!(got.status, 200, "{what}: {}", got.text);
    compare(&want, &got, false).unwrap_or_else(|e| panic!("{what}: {e}"));
    let uncached = range(&g.url(""), start, end, &[("nocache", "1")]);
    assert_eq!(uncached.status, 200, "{what}: {}", uncached.text);
    assert_eq!(got.text, uncached.text, "{what}: the cached answer is not the uncached one");
    got
}

#[test]
fn dashboards_refresh_from_cache_and_see_changes_of_the_past() {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64;
    // Two hours every 15 s, ending 10 to 11 minutes ago: older than the 5 min offset.
    let d = DataSet::new(now);
    let p = Prometheus::start_with("scrape_configs: []\n", &["--web.enable-remote-write-receiver", "--web.enable-admin-api"]);
    d.write_to_prometheus(&p.url(""));
    let dir = tempfile::tempdir().unwrap();
    let g = Gemini::start(dir.path(), &[]);
    d.write_to_gemini(&g);
    assert_eq!(cache_counts(&g), (0, 0));

    // The panel's first look: a miss (the nocache=1 asks count nothing).
    let (start, end) = (d.start_ms + 10 * MIN, d.end_ms() - 30 * MIN);
    assert_eq!(start % MIN, 0, "the data set starts on a minute");
    same_as_prometheus(&p, &g, start, end, "first ask");
    assert_eq!(cache_counts(&g), (0, 1));
    // Refreshed with its range moved on (as Grafana moves it): kept steps and new ones.
    let (start, end) = (start + 2 * MIN, d.end_ms());
    let before = same_as_prometheus(&p, &g, start, end, "refresh");
    assert_eq!(cache_counts(&g), (1, 1));
    same_as_prometheus(&p, &g, start, end, "same refresh");
    assert_eq!(cache_counts(&g), (2, 1));
    assert_eq!(instances(&before), vec!["host-a:9100", "host-b:9100"]);

    // DROP SERIES of host-b, and the same delete on the reference.
    let a = g.query_in("prometheus", "DROP SERIES FROM node_cpu_seconds_total WHERE instance = 'host-b:9100'");
    assert!(a["results"][0].get("error").is_none() && a["results"][0]["statement_id"] == 0, "{a}");
    let matcher = urlencode("node_cpu_seconds_total{instance=\"host-b:9100\"}");
    // Prometheus gzips even its empty 204 unless asked not to.
    let deleted = post_url(&p.url(&format!("/api/v1/admin/tsdb/delete_series?match[]={matcher}")), &[("Accept-Encoding", "identity")], b"");
    assert_eq!(deleted.status, 204, "{}", deleted.text());
    let after = same_as_prometheus(&p, &g, start, end, "refresh after DROP SERIES");
    assert_eq!(instances(&after), vec!["host-a:9100"]);
    assert_eq!(cache_counts(&g), (2, 2), "the kept answer must be dropped");
    same_as_prometheus(&p, &g, start, end, "refresh after that");
    assert_eq!(cache_counts(&g), (3, 2));

    // A late write inside the kept steps (a new host, 40 to 20 minutes before the data's end).
    let late: Vec<(i64, f64)> = (0..=80).map(|i| (d.end_ms() - 40 * MIN + i * 15_000, 100.0 + i as f64 * 3.0)).collect();
    // Sorted by name, as remote write requires.
    let labels = [("__name__", "node_cpu_seconds_total"), ("cpu", "0"), ("instance", "host-c:9100"), ("job", "node"), ("mode", "idle")];
    let req = proto::prometheus::WriteRequest { timeseries: vec![series(&labels, &late)], metadata: vec![] };
    let taken = post_url(&p.url("/api/v1/write"), &PROTO_HEADERS, &write_body(&req));
    assert_eq!(taken.status, 204, "{}", taken.text());
    let taken = g.write("prometheus", &req);
    assert_eq!(taken.status, 204, "{}", taken.text());
    let after = same_as_prometheus(&p, &g, start, end, "refresh after a late write");
    assert_eq!(instances(&after), vec!["host-a:9100", "host-c:9100"]);
    assert_eq!(cache_counts(&g), (3, 3), "the kept answer must be dropped");
}

/// `query_range` of `q` over [start, end] step 60 s, with more parameters.
fn range_of(base: &str, q: &str, start: i64, end: i64, more: &[(&'static str, &str)]) -> Reply {
    let mut params = vec![("query", q.to_string()), ("start", secs(start)), ("end", secs(end)), ("step", "60".to_string())];
    params.extend(more.iter().map(|(k, v)| (*k, v.to_string())));
    ask(base, "/api/v1/query_range", &params, false)
}

/// Every query of the differential test asked as a panel asks it: a first range, then one
/// moved on (kept steps and new ones after them), then one starting earlier (new steps before
/// the kept ones). Each answer is, byte for byte, the uncached answer (`nocache=1`), and the
/// refreshes equal Prometheus'.
#[test]
fn every_differential_query_answers_the_same_from_cache() {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64;
    let d = DataSet::new(now);
    let p = Prometheus::start_with("scrape_configs: []\n", &["--web.enable-remote-write-receiver"]);
    d.write_to_prometheus(&p.url(""));
    let dir = tempfile::tempdir().unwrap();
    let g = Gemini::start(dir.path(), &[]);
    d.write_to_gemini(&g);
    let asks = [
        ("first", d.start_ms + 30 * MIN, d.end_ms() - 40 * MIN),
        ("moved on", d.start_ms + 33 * MIN, d.end_ms()),
        ("earlier start", d.start_ms + 5 * MIN, d.end_ms() - 20 * MIN),
    ];
    let mut failures = Vec::new();
    let mut answered = 0;
    for q in QUERIES.iter().chain(INSTANT_ONLY) {
        let q = d.expand(q);
        for (what, start, end) in asks {
            let got = range_of(&g.url(""), &q, start, end, &[]);
            let uncached = range_of(&g.url(""), &q, start, end, &[("nocache", "1")]);
            if got.text != uncached.text {
                failures.push(format!("{q} ({what}): cached {} ≠ uncached {}", clip(&got.text), clip(&uncached.text)));
                continue;
            }
            if what == "first" {
                continue;
            }
            let want = range_of(&p.url(""), &q, start, end, &[]);
            match compare(&want, &got, false) {
                Ok(()) => answered += usize::from(got.non_empty()),
                Err(e) => failures.push(format!("{q} ({what}): {e}")),
            }
        }
    }
    assert!(failures.is_empty(), "{} differences:\n{}", failures.len(), failures.join("\n"));
    assert!(answered > 2 * QUERIES.len() * 9 / 10, "only {answered} non-empty refreshes");
    let (hits, misses) = cache_counts(&g);
    assert!(hits >= 2 * QUERIES.len() as u64 * 9 / 10 && misses >= QUERIES.len() as u64 * 9 / 10, "hits {hits}, misses {misses}");
}
