//! Series limits end to end (issue 33): with `--storage.max-hourly-series 3`, a remote write
//! that brings more new series than the limit allows stores the first three, answers 400
//! naming the limit and a refused series (so Prometheus drops those samples instead of
//! retrying), and `/metrics` counts the refused samples; the known series keep ingesting.
//! With `--storage.max-series-per-database 2`, the same by database, also after a restart.

use proto::prometheus as pb;
use tests::*;

fn wr(ts: Vec<pb::TimeSeries>) -> pb::WriteRequest {
    pb::WriteRequest { timeseries: ts, metadata: vec![] }
}

/// `n` series `pods{pod="p<i>"}` with one sample at `t`.
fn pods(range: std::ops::Range<usize>, t: i64) -> Vec<pb::TimeSeries> {
    range.map(|i| series(&[("__name__", "pods"), ("pod", &format!("p{i}"))], &[(t, i as f64)])).collect()
}

/// The numbers of the pods stored.
fn stored_pods(g: &Gemini) -> Vec<usize> {
    let all = g.read_samples("prometheus", query_all(vec![matcher(0, "__name__", "pods")]));
    let mut out: Vec<usize> = all.keys().map(|labels| labels.iter().find(|(n, _)| n == "pod").unwrap().1[1..].parse().unwrap()).collect();
    out.sort();
    out
}

/// The value of the line of `/metrics` that starts with `line`.
fn metric(g: &Gemini, line: &str) -> f64 {
    let a = g.get("/metrics");
    assert_eq!(a.status, 200);
    let text = a.text();
    let found = text.lines().find(|l| l.starts_with(line)).unwrap_or_else(|| panic!("no {line} in /metrics"));
    found.rsplit(' ').next().unwrap().parse().unwrap()
}

#[test]
fn new_series_beyond_the_hourly_limit_are_refused_with_400_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let g = Gemini::start(dir.path(), &["--storage.max-hourly-series", "3"]);
    let t = now_s() * 1000;
    let a = g.write("prometheus", &wr(pods(0..5, t)));
    assert_eq!(a.status, 400, "{}", a.text());
    let text = a.text();
    assert!(text.contains("2 sample(s) rejected, 3 written"), "{text}");
    assert!(text.contains("the limit of 3 new series per hour (--storage.max-hourly-series) is reached"), "{text}");
    // Which three the shards took first is theirs to say.
    let kept = stored_pods(&g);
    assert_eq!(kept.len(), 3, "{kept:?}");
    assert_eq!(metric(&g, "gemini_series_limit_rejected_samples_total{limit=\"hourly\"}"), 2.0);
    // Known series keep ingesting; a new one is still refused.
    let again: Vec<pb::TimeSeries> = kept.iter().flat_map(|i| pods(*i..*i + 1, t + 15_000)).collect();
    let a = g.write("prometheus", &wr(again));
    assert_eq!(a.status, 204, "{}", a.text());
    let a = g.write("prometheus", &wr(pods(7..8, t + 15_000)));
    assert_eq!(a.status, 400, "{}", a.text());
    assert_eq!(stored_pods(&g), kept);
    assert_eq!(metric(&g, "gemini_series_limit_rejected_samples_total{limit=\"hourly\"}"), 3.0);
}

#[test]
fn a_database_holds_at_most_its_limit_of_series_also_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut g = Gemini::start(dir.path(), &["--storage.max-series-per-database", "2"]);
    let t = now_s() * 1000;
    let a = g.write("prometheus", &wr(pods(0..2, t)));
    assert_eq!(a.status, 204, "{}", a.text());
    g.terminate();
    g.restart();
    let a = g.write("prometheus", &wr(pods(2..3, t + 15_000)));
    assert_eq!(a.status, 400, "{}", a.text());
    assert!(a.text().contains("the limit of 2 series per database (--storage.max-series-per-database) is reached"), "{}", a.text());
    let a = g.write("prometheus", &wr(pods(0..2, t + 15_000)));
    assert_eq!(a.status, 204, "{}", a.text());
    assert_eq!(stored_pods(&g), vec![0, 1]);
    assert_eq!(metric(&g, "gemini_series_limit_rejected_samples_total{limit=\"database\"}"), 1.0);
}
