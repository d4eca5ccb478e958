//! Helpers for the tests of downsampled tiers (`downsample.rs`, `cluster_tiers.rs`): a day of
//! 15 s scrapes three weeks old, PromQL range queries over it with `max_source_resolution`,
//! and the comparison of the `raw` and `auto` answers with the tier read each `auto` makes
//! (`gemini_query_tier_reads_total` of the node asked).

use crate::cluster::metric;
use crate::*;
use proto::prometheus as pb;

const STEP_MS: i64 = 15_000;
const DAY_MS: i64 = 86_400_000;
const HOUR_S: i64 = 3600;

/// A day inside a partition of the default policy (7 days from the epoch) that ended weeks ago.
pub fn t0() -> i64 {
    let week = 7 * DAY_MS;
    (now_s() * 1000 - 3 * week).div_euclid(week) * week + DAY_MS
}

/// The day of samples, 7 s past each 15 s (no sample on a window's edge, as scrapes are).
pub fn day_of_scrapes(t0: i64) -> Vec<pb::TimeSeries> {
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

/// `query` over the day at `step` with `max_source_resolution=resolution`: the result after a
/// success, as (labels, [(t, value)]) per series.
pub fn range(g: &Gemini, query: &str, t0: i64, step: &str, resolution: &str) -> Vec<(String, Vec<(f64, f64)>)> {
    let (start, end) = (t0 / 1000 + 2 * HOUR_S, t0 / 1000 + 24 * HOUR_S);
    let path = format!("/api/v1/query_range?query={}&start={start}&end={end}&step={step}&max_source_resolution={resolution}&nocache=1", urlencode(query));
    let a = g.get(&path);
    assert_eq!(a.status, 200, "{query}: {}", a.text());
    let body: serde_json::Value = serde_json::from_slice(&a.body).unwrap();
    assert_eq!(body["status"], "success", "{body}");
    let points = |s: &serde_json::Value| s["values"].as_array().unwrap().iter().map(|p| (p[0].as_f64().unwrap(), p[1].as_str().unwrap().parse().unwrap())).collect();
    body["data"]["result"].as_array().unwrap().iter().map(|s| (s["metric"].to_string(), points(s))).collect()
}

pub fn tier_reads(g: &Gemini, tier: &str) -> f64 {
    metric(g, &format!("gemini_query_tier_reads_total{{tier=\"{tier}\"}}"))
}

/// `q` at `step` with `raw` and `auto`: auto reads `tier` once, and the answers agree (the
/// same series and steps, at least `min_points` each; values within `tolerance`, relative).
pub fn compare(g: &Gemini, q: &str, t0: i64, step: &str, tier: &str, tolerance: f64, min_points: usize) {
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
