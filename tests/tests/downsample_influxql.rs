//! Downsampled tiers under InfluxQL, end to end: a day three weeks old, written by line
//! protocol (a float and an integer field, two hosts) and by remote write (a gauge with a
//! staleness marker and a gap), is downsampled by the real `gemini`; then `SELECT count/sum/
//! mean/min/max/spread/first/last … GROUP BY time(5m | 15m | 1h | 2h)` over a range with
//! partial groups at both edges answers the same JSON with `max_source_resolution=raw` and
//! with the default (`auto`), and `gemini_query_tier_reads_total{tier}` counts the tier reads.
//! Statements no tier answers (`percentile`, `GROUP BY time(7m)`) answer as raw and read no tier.
//! The values are multiples of 1/4, so sums are exact either way.

use proto::prometheus as pb;
use std::time::Duration;
use tests::cluster::metric;
use tests::*;

const DAY_MS: i64 = 86_400_000;
const STEP_MS: i64 = 30_000;

/// A day inside a partition of the default policy (7 days from the epoch) that ended weeks ago.
fn t0() -> i64 {
    let week = 7 * DAY_MS;
    (now_s() * 1000 - 3 * week).div_euclid(week) * week + DAY_MS
}

/// `disk,host=… used=…,free=…i` every 30 s of the day (7 s past), in ns.
fn line_protocol(t0: i64) -> String {
    let mut body = String::new();
    for i in 0..DAY_MS / STEP_MS {
        let t = (t0 + 7_000 + i * STEP_MS) * 1_000_000;
        for (host, scale) in [("a", 1), ("b", 3)] {
            let used = ((i * 7) % 29) as f64 * 0.25 * scale as f64;
            body.push_str(&format!("disk,host={host} used={used},free={}i {t}\n", (i % 13) * scale));
        }
    }
    body
}

/// `load{job}` every 30 s of the day (11 s past): job a with a staleness marker and an hour's gap.
fn remote_write(t0: i64) -> pb::WriteRequest {
    let stale = f64::from_bits(0x7ff0_0000_0000_0002);
    let series = |job: &str, scale: f64| {
        let samples = (0..DAY_MS / STEP_MS)
            .filter(|i| job == "b" || !(1000..1120).contains(i))
            .map(|i| pb::Sample { value: if job == "a" && i == 700 { stale } else { ((i * 5) % 17) as f64 * 0.5 * scale }, timestamp: t0 + 11_000 + i * STEP_MS })
            .collect();
        let labels = [("__name__", "load"), ("job", job)].map(|(name, value)| pb::Label { name: name.into(), value: value.into() }).to_vec();
        pb::TimeSeries { labels, samples, ..Default::default() }
    };
    pb::WriteRequest { timeseries: vec![series("a", 1.0), series("b", 2.0)], metadata: vec![] }
}

/// `q` with `max_source_resolution=resolution` (none: the parameter left out): the answer's
/// JSON after a 200.
fn select(g: &Gemini, q: &str, resolution: Option<&str>) -> serde_json::Value {
    let parameter = resolution.map(|r| format!("&max_source_resolution={r}")).unwrap_or_default();
    let a = g.post(&format!("/query?db=prometheus&q={}{parameter}", urlencode(q)), &[], b"");
    assert_eq!(a.status, 200, "{q}: {}", a.text());
    let body: serde_json::Value = serde_json::from_slice(&a.body).unwrap();
    assert!(body["results"][0]["error"].is_null(), "{q}: {body}");
    body
}

fn tier_reads(g: &Gemini) -> [f64; 2] {
    ["5m", "1h"].map(|tier| metric(g, &format!("gemini_query_tier_reads_total{{tier=\"{tier}\"}}")))
}

/// `q` raw and by default: the same answer, with at least `min_rows` rows in each series, and
/// the default read the tiers `reads` times more (5m, 1h) while raw read none.
fn compare(g: &Gemini, q: &str, reads: [f64; 2], min_rows: usize) -> serde_json::Value {
    let before = tier_reads(g);
    let raw = select(g, q, Some("raw"));
    assert_eq!(tier_reads(g), before, "{q}: raw read a tier");
    let tiered = select(g, q, None);
    assert_eq!(tier_reads(g), [before[0] + reads[0], before[1] + reads[1]], "{q}: tier reads (5m, 1h)");
    let series = raw["results"][0]["series"].as_array().unwrap_or_else(|| panic!("{q}: no series: {raw}"));
    assert!(series.iter().all(|s| s["values"].as_array().is_some_and(|v| v.len() >= min_rows)), "{q}: too little to compare: {raw}");
    assert_eq!(tiered, raw, "{q}");
    tiered
}

#[test]
fn grouped_selects_from_the_tiers_answer_as_raw_data_does() {
    let dir = tempfile::tempdir().unwrap();
    let g = Gemini::start(dir.path(), &["--downsample.delay", "1s"]);
    let t0 = t0();
    let a = g.post("/write?db=prometheus", &[], line_protocol(t0).as_bytes());
    assert_eq!(a.status, 204, "{}", a.text());
    let a = g.write("prometheus", &remote_write(t0));
    assert_eq!(a.status, 204, "{}", a.text());
    // Six series with a sample in every hour of the day: at least 144 hour windows (more if
    // the first write was downsampled before the second came and made it again).
    wait_until("the day is downsampled to hours", Duration::from_secs(120), || {
        metric(&g, "gemini_downsample_samples_total{tier=\"1h\"}") >= 144.0 && metric(&g, "gemini_downsample_pending_partitions") == 0.0
    });

    // From 2:07:30 to 22:03 (both edges inside a group of every interval below).
    let range = format!("time >= {}ms AND time <= {}ms", t0 + 7_650_000, t0 + 79_380_000);
    let q = format!("SELECT count(used), sum(used), mean(used), min(used), max(used) FROM disk WHERE {range} GROUP BY time(5m), host");
    let answer = compare(&g, &q, [1.0, 0.0], 200);
    // A whole 5-minute group holds 10 samples of each host; the one at the lower edge holds 5.
    let rows = &answer["results"][0]["series"][0]["values"];
    assert_eq!((&rows[0][1], &rows[1][1]), (&serde_json::json!(5), &serde_json::json!(10)), "{answer}");

    let everything = "count(value), sum(value), mean(value), min(value), max(value), spread(value), first(value), last(value)";
    let cases = [
        (format!("SELECT count(free), sum(free), mean(free), min(free), max(free) FROM disk WHERE {range} GROUP BY time(1h), host"), [0.0, 1.0], 20),
        (format!("SELECT spread(used), first(used), last(used) FROM disk WHERE {range} AND host = 'b' GROUP BY time(15m)"), [1.0, 0.0], 70),
        (format!("SELECT {everything} FROM load WHERE {range} GROUP BY time(15m), job"), [1.0, 0.0], 70),
        (format!("SELECT {everything} FROM load WHERE {range} AND job =~ /a/ GROUP BY time(2h) fill(none)"), [0.0, 1.0], 9),
        (format!("SELECT mean(value) FROM load WHERE {range} GROUP BY time(1h, 10m), *"), [1.0, 0.0], 20),
        // What no tier answers reads raw.
        (format!("SELECT percentile(used, 90), count(used) FROM disk WHERE {range} GROUP BY time(1h)"), [0.0, 0.0], 20),
        (format!("SELECT mean(used) FROM disk WHERE {range} GROUP BY time(7m), host"), [0.0, 0.0], 150),
        (format!("SELECT mean(value) FROM load WHERE {range} AND value > 2 GROUP BY time(1h)"), [0.0, 0.0], 20),
    ];
    for (q, reads, min_rows) in cases {
        compare(&g, &q, reads, min_rows);
    }

    // `5m` keeps the hours from answering.
    let q = format!("SELECT max(free) FROM disk WHERE {range} GROUP BY time(1h)");
    let before = tier_reads(&g);
    let five = select(&g, &q, Some("5m"));
    assert_eq!(tier_reads(&g), [before[0] + 1.0, before[1]]);
    assert_eq!(five, select(&g, &q, Some("raw")), "{q}");

    let a = g.post(&format!("/query?db=prometheus&q={}&max_source_resolution=10m", urlencode(&q)), &[], b"");
    assert_eq!(a.status, 400, "{}", a.text());
    assert!(a.text().contains("max_source_resolution"), "{}", a.text());
}
