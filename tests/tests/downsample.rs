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
use tests::*;

const STEP_MS: i64 = 15_000;
const DAY_MS: i64 = 86_400_000;
const HOUR_S: i64 = 3600;

/// A day inside a partition of the default policy (7 days from the epoch) that ended weeks ago.
fn t0() -> i64 {
    let week = 7 * DAY_MS;
    (now_s() * 1000 - 3 * week).div_euclid(week) * week + DAY_MS
}

fn label(name: &str, value: &str) -> pb::Label {
    pb::Label { name: name.into(), value: value.into() }
}

/// The day of samples, 7 s past each 15 s (no sample on a window's edge, as scrapes are).
fn series(t0: i64) -> Vec<pb::TimeSeries> {
    let stale = f64::from_bits(0x7ff0_0000_0000_0002);
    let (mut counter, mut gauge, mut other) = (Vec::new(), Vec::new(), Vec::new());
    let mut c = 1000.0;
    for i in 0..(DAY_MS / STEP_MS) {
        let timestamp = t0 + 7_000 + i * STEP_MS;
        c += (i % 7) as f64 * 1.5;
        if i == 2000 {
            c = 3.0;
        }
        if !(3000..3160).contains(&i) {
            counter.push(pb::Sample { value: c, timestamp });
        }
        let value = if i == 1200 { stale } else { ((i as f64) / 17.0).sin() * 100.0 + 0.1 * i as f64 };
        if !(1210..1230).contains(&i) {
            gauge.push(pb::Sample { value, timestamp });
        }
        other.push(pb::Sample { value: (i * 3) as f64, timestamp });
    }
    let s = |name: &str, job: &str, samples| pb::TimeSeries { labels: vec![label("__name__", name), label("job", job)], samples, ..Default::default() };
    vec![s("c", "a", counter), s("c", "b", other), s("g", "a", gauge)]
}

/// `query` over the day at step 1 h with `max_source_resolution=resolution`: the result after a
/// success, as (labels, [(t, value)]) per series.
fn range(g: &Gemini, query: &str, t0: i64, step: &str, resolution: &str) -> Vec<(String, Vec<(f64, f64)>)> {
    let (start, end) = (t0 / 1000 + 2 * HOUR_S, t0 / 1000 + 24 * HOUR_S);
    let path = format!("/api/v1/query_range?query={}&start={start}&end={end}&step={step}&max_source_resolution={resolution}&nocache=1", urlencode(query));
    let a = g.get(&path);
    assert_eq!(a.status, 200, "{query}: {}", a.text());
    let body: serde_json::Value = serde_json::from_slice(&a.body).unwrap();
    assert_eq!(body["status"], "success", "{body}");
    let points = |s: &serde_json::Value| s["values"].as_array().unwrap().iter().map(|p| (p[0].as_f64().unwrap(), p[1].as_str().unwrap().parse().unwrap())).collect();
    body["data"]["result"].as_array().unwrap().iter().map(|s| (s["metric"].to_string(), points(s))).collect()
}

fn tier_reads(g: &Gemini, tier: &str) -> f64 {
    metric(g, &format!("gemini_query_tier_reads_total{{tier=\"{tier}\"}}"))
}

/// `q` at `step` with `raw` and `auto`: auto reads `tier` once, and the answers agree (the
/// same series and steps, at least `min_points` each; values within `tolerance`, relative).
fn compare(g: &Gemini, q: &str, t0: i64, step: &str, tier: &str, tolerance: f64, min_points: usize) {
    let before = tier_reads(g, tier);
    let raw = range(g, q, t0, step, "raw");
    assert_eq!(tier_reads(g, tier), before, "{q}: raw read a tier");
    let tiered = range(g, q, t0, step, "auto");
    assert_eq!(tier_reads(g, tier), before + 1.0, "{q}: auto did not read the {tier} tier");
    assert!(!raw.is_empty() && raw.iter().all(|(_, p)| p.len() >= min_points), "{q}: too little to compare: {raw:?}");
    assert_eq!(raw.len(), tiered.len(), "{q}: series");
    for ((rl, rp), (tl, tp)) in raw.iter().zip(&tiered) {
        assert_eq!(rl, tl, "{q}");
        assert_eq!(rp.len(), tp.len(), "{q} {rl}: steps");
        for ((rt, rv), (tt, tv)) in rp.iter().zip(tp) {
            assert_eq!(rt, tt, "{q} {rl}");
            assert!((rv - tv).abs() <= tolerance * rv.abs().max(tv.abs()), "{q} {rl} at {rt}: raw {rv}, tier {tv}");
        }
    }
}

#[test]
fn range_queries_from_the_five_minute_tier_answer_as_raw_data_does() {
    let dir = tempfile::tempdir().unwrap();
    let g = Gemini::start(dir.path(), &["--downsample.delay", "1s"]);
    let t0 = t0();
    let a = g.write("prometheus", &pb::WriteRequest { timeseries: series(t0), metadata: vec![] });
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
