//! The out-of-order window end to end (issue 31): with `--storage.out-of-order-window 30m`, a
//! sample older than its series' newest but inside the window is stored, merged, and read back
//! in order; one older than the window is refused with 400 naming the series; an exact
//! duplicate stays idempotent; and kill -9 right after an acknowledged out-of-order write
//! loses nothing.

use proto::prometheus as pb;
use tests::*;

const MIN: i64 = 60_000;

fn wr(ts: Vec<pb::TimeSeries>) -> pb::WriteRequest {
    pb::WriteRequest { timeseries: ts, metadata: vec![] }
}

fn stored(g: &Gemini) -> Vec<(i64, u64)> {
    let all = g.read_samples("prometheus", query_all(vec![matcher(0, "__name__", "late")]));
    all.into_values().next().unwrap_or_default()
}

#[test]
fn samples_inside_the_window_are_merged_and_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let mut g = Gemini::start(dir.path(), &["--storage.out-of-order-window", "30m"]);
    let t = (now_s() - 3600) * 1000 / MIN * MIN;
    let labels = [("__name__", "late"), ("job", "w")];
    let a = g.write("prometheus", &wr(vec![series(&labels, &[(t, 1.0), (t + 10 * MIN, 2.0)])]));
    assert_eq!(a.status, 204, "{}", a.text());

    // Inside the window: stored (acknowledged), then kill -9 at once.
    let a = g.write("prometheus", &wr(vec![series(&labels, &[(t + 5 * MIN, 1.5), (t + 10 * MIN, 2.0)])]));
    assert_eq!(a.status, 204, "{}", a.text());
    g.kill9();
    g.restart();
    let want = |pairs: &[(i64, f64)]| pairs.iter().map(|(t, v)| (*t, v.to_bits())).collect::<Vec<_>>();
    assert_eq!(stored(&g), want(&[(t, 1.0), (t + 5 * MIN, 1.5), (t + 10 * MIN, 2.0)]), "after kill -9");

    // Older than the window (newest minus 30 minutes): refused, naming the series; the rest of
    // the request is stored.
    let a = g.write("prometheus", &wr(vec![series(&labels, &[(t - 21 * MIN, 9.0), (t - 19 * MIN, 0.5)])]));
    assert_eq!(a.status, 400, "{}", a.text());
    let text = a.text();
    assert!(text.contains("out of order sample") && text.contains("late{job=\\\"w\\\"}"), "{text}");
    // Another value at a stored time: refused as before.
    let a = g.write("prometheus", &wr(vec![series(&labels, &[(t + 5 * MIN, 7.0)])]));
    assert_eq!(a.status, 400, "{}", a.text());
    assert!(a.text().contains("duplicate sample for timestamp"), "{}", a.text());
    assert_eq!(stored(&g), want(&[(t - 19 * MIN, 0.5), (t, 1.0), (t + 5 * MIN, 1.5), (t + 10 * MIN, 2.0)]));

    // Without the window, the same older sample is refused.
    g.terminate();
    let plain = Gemini::start(dir.path(), &[]);
    let a = plain.write("prometheus", &wr(vec![series(&labels, &[(t + 7 * MIN, 3.0)])]));
    assert_eq!(a.status, 400, "{}", a.text());
    assert!(a.text().contains("out of order sample"), "{}", a.text());
}
