//! Downsampled tiers end to end: a day of 15 s scrapes three weeks old (a counter with a reset
//! and a 40-minute gap, a gauge with a staleness marker), written by remote write to the real
//! `gemini`, is downsampled in the background (`/metrics` shows when); then PromQL range
//! queries with `max_source_resolution=auto` (read from the 5-minute tier at step 30 m, from
//! the hours at steps of 1 h and 5 h, as `gemini_query_tier_reads_total` counts) answer what
//! the same queries answer with `raw`:
//! `min/max/count_over_time` and plain selectors exactly, `sum/avg_over_time`, `rate` and
//! `increase` within 1e-9 (sums of window sums; the README states why). A bad
//! `max_source_resolution` is a 400 that names it.

use proto::prometheus as pb;
use std::time::Duration;
use tests::cluster::metric;
use tests::tiers::*;
use tests::*;

#[test]
fn range_queries_from_the_five_minute_tier_answer_as_raw_data_does() {
    let dir = tempfile::tempdir().unwrap();
    let g = Gemini::start(dir.path(), &["--downsample.delay", "1s"]);
    let t0 = t0();
    let a = g.write("prometheus", &pb::WriteRequest { timeseries: day_of_scrapes(t0), metadata: vec![] });
    assert_eq!(a.status, 204, "{}", a.text());
    wait_until("the day is downsampled", Duration::from_secs(90), || {
        metric(&g, "gemini_downsample_samples_total{tier=\"5m\"}") > 0.0 && metric(&g, "gemini_downsample_pending_partitions") == 0.0
    });
    // Every 5-minute window of the day holds samples but for the counter's gap.
    assert_eq!(metric(&g, "gemini_downsample_samples_total{tier=\"5m\"}"), (3 * 288 - 8) as f64);

    let exact = ["max_over_time(g[1h])", "min_over_time(g[30m])", "count_over_time(c[1h])", "c", "last_over_time(g[2h])", "count(count_over_time(c[1h]))"];
    let close = ["sum by (job) (rate(c[1h]))", "avg_over_time(g[1h])", "sum_over_time(c[1h])", "increase(c[2h])", "sum(increase(c[1h]))", "rate(c[5m])", "delta(g[1h])"];
    for (queries, tolerance) in [(&exact[..], 0.0), (&close[..], 1e-9)] {
        for q in queries {
            compare(&g, q, t0, "30m", "5m", tolerance, 40);
        }
    }

    // The hours, made from the 5-minute windows, answer steps of 5 h.
    wait_until("the hours are made", Duration::from_secs(60), || metric(&g, "gemini_downsample_samples_total{tier=\"1h\"}") >= (3 * 24 - 1) as f64);
    for (q, tolerance) in [("max_over_time(g[5h])", 0.0), ("count_over_time(c[5h])", 0.0), ("sum by (job) (rate(c[5h]))", 1e-9), ("avg_over_time(g[10h])", 1e-9)] {
        compare(&g, q, t0, "5h", "1h", tolerance, 4);
    }
    // At step 1 h a fifth of the step allows the 5-minute tier; where the hours' grid fits the
    // query, they answer the same from a twelfth of the windows.
    for (q, tolerance) in [("max_over_time(g[1h])", 0.0), ("count_over_time(c[2h])", 0.0), ("sum by (job) (rate(c[1h]))", 1e-9), ("sum(increase(c[1h]))", 1e-9)] {
        compare(&g, q, t0, "1h", "1h", tolerance, 20);
    }
    compare(&g, "rate(c[5m])", t0, "1h", "5m", 1e-9, 20);

    // What a tier does not answer is read raw.
    let before = tier_reads(&g, "5m");
    assert!(!range(&g, "irate(c[1h])", t0, "1h", "auto").is_empty());
    assert_eq!(tier_reads(&g, "5m"), before, "irate read a tier");

    let a = g.get(&format!("/api/v1/query_range?query=c&start={}&end={}&step=1h&max_source_resolution=10m", t0 / 1000, t0 / 1000 + 3600));
    assert_eq!(a.status, 400, "{}", a.text());
    let body: serde_json::Value = serde_json::from_slice(&a.body).unwrap();
    assert_eq!(body["errorType"], "bad_data", "{body}");
    assert!(body["error"].as_str().unwrap().contains("max_source_resolution"), "{body}");
}
