//! Sealing (full chunks re-encoded into dense blocks in the background) end to end, counted
//! from the server's `/metrics`: `gemini_storage_sealed_samples_total`, the samples a run of
//! the server sealed, and `gemini_storage_seal_passes_total`, the passes that reached the end
//! of a shard's chunks (each shard makes one at start). A metric that is missing fails.
//!
//! - `a_clean_stop_seals_what_is_ready_and_queries_read_the_sealed_blocks`: once the counts
//!   show the background pass has sealed what was written, remote read, PromQL (instant and
//!   range) and InfluxQL over the blocks answer exactly what was written; a clean stop seals
//!   every full chunk written after that (the next start finds none), and the same queries
//!   over all of it answer alike.
//! - `sealing_killed_at_any_moment_loses_and_duplicates_nothing`: the server is killed again
//!   and again while it seals, at moments spread over a pass, and every start seals on where
//!   the last run stopped; a clean stop in the middle of a pass finishes it (or, past its
//!   10 s, the next start does). No sample is sealed twice, and remote read, SAMPLES and
//!   streamed, answers exactly the samples written, every value bit for bit.

use proto::prometheus as pb;
use std::time::Duration;
use tests::cluster::{metric, promql};
use tests::*;

const SEALED: &str = "gemini_storage_sealed_samples_total";
const PASSES: &str = "gemini_storage_seal_passes_total";
const SHARDS: f64 = 2.0;
/// Samples of a series sealed out of 1000 written after what is sealed (with 40 or fewer
/// left open before them): eight full chunks of 120, sealed four at a time (two blocks) while
/// the series still writes to their partition.
const SEALABLE: u64 = 960;
/// What the seal and query waits allow.
const WITHIN: Duration = Duration::from_secs(60);
/// The server's line when a clean stop leaves sealing for the next start (after 10 s).
const STOP_RAN_OUT: &str = "sealing stopped for the shutdown";

/// A server with two shards, its storage's log kept for the test.
fn start(dir: &std::path::Path) -> Gemini {
    Gemini::start_logged(dir, &["--shards", "2"], "warn,engine::storage=info")
}

fn sealed(g: &Gemini) -> u64 {
    metric(g, SEALED) as u64
}

/// Waits until every shard has finished the pass it makes at start (no writes meanwhile:
/// nothing is ready after it that it left).
fn wait_for_the_passes_at_start(g: &Gemini) {
    wait_until("every shard finishes its sealing pass at start", WITHIN, || metric(g, PASSES) >= SHARDS);
}

/// The start of a partition two weeks back (partitions of the default policy are 7 days from
/// the epoch): every sample of a test lies in it.
fn t0() -> i64 {
    let week = 7 * 86_400_000;
    (now_s() * 1000 - 2 * week).div_euclid(week) * week
}

/// Series of a test: sorted labels, and every sample they will have.
struct Load(Vec<(Vec<(String, String)>, Vec<(i64, f64)>)>);

impl Load {
    fn new(count: usize, labels: impl Fn(usize) -> [(&'static str, String); 3], samples: impl Fn(usize) -> Vec<(i64, f64)>) -> Load {
        Load(
            (0..count)
                .map(|i| {
                    let mut l: Vec<(String, String)> = labels(i).into_iter().map(|(n, v)| (n.to_string(), v)).collect();
                    l.sort();
                    (l, samples(i))
                })
                .collect(),
        )
    }

    /// Samples `from..to` of every series, `per_request` of each series a request, in time order.
    fn write(&self, g: &Gemini, from: usize, to: usize, per_request: usize) {
        for part in (from..to).step_by(per_request) {
            let end = (part + per_request).min(to);
            let timeseries = self
                .0
                .iter()
                .map(|(labels, samples)| {
                    let pairs: Vec<(&str, &str)> = labels.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
                    series(&pairs, &samples[part..end])
                })
                .collect();
            let a = g.write("prometheus", &pb::WriteRequest { timeseries, metadata: vec![] });
            assert_eq!(a.status, 204, "{}", a.text());
        }
    }

    /// Samples `..to` of every series, as written.
    fn expected(&self, to: usize) -> Series {
        self.0.iter().map(|(l, s)| (l.clone(), s[..to].iter().map(|(t, v)| (*t, v.to_bits())).collect())).collect()
    }
}

/// The first series that differs, and how.
fn first_difference(expected: &Series, got: &Series) -> String {
    for (labels, want) in expected {
        let Some(have) = got.get(labels) else { return format!("{labels:?} missing") };
        if have != want {
            let at = (0..want.len().max(have.len())).find(|i| want.get(*i) != have.get(*i)).unwrap();
            return format!("{labels:?}: {} samples, {} written; first difference at {at}: {:?} read, {:?} written", have.len(), want.len(), have.get(at), want.get(at));
        }
    }
    format!("{} series read, {} written", got.len(), expected.len())
}

/// Remote read, SAMPLES and streamed, of every series whose name matches `names`: exactly
/// `expected`.
fn assert_read_back(g: &Gemini, names: &str, expected: &Series, when: &str) {
    let all = || query_all(vec![matcher(2, "__name__", names)]);
    let got = g.read_samples("prometheus", all());
    assert!(got == *expected, "{when}: SAMPLES answer differs from what was written: {}", first_difference(expected, &got));
    let streamed = g.read_streamed("prometheus", all());
    assert!(streamed == *expected, "{when}: streamed answer differs from what was written: {}", first_difference(expected, &streamed));
}

/// Series `i` of the query test: 2000 samples 15 s apart from `t0`, each value exact in binary
/// (sums of them too) and telling series and sample apart.
fn value(i: usize, k: usize) -> f64 {
    i as f64 * 10_000.0 + k as f64 * 0.25
}

/// A query answer's number (PromQL gives strings, InfluxQL numbers).
fn number(v: &serde_json::Value) -> f64 {
    v.as_f64().or_else(|| v.as_str().and_then(|s| s.parse().ok())).unwrap_or_else(|| panic!("not a number: {v}"))
}

/// An InfluxQL statement over `/query` with times in ms: the series of its one result.
fn influxql(g: &Gemini, q: &str) -> Vec<serde_json::Value> {
    let a = g.post(&format!("/query?db=prometheus&epoch=ms&q={}", urlencode(q)), &[], b"");
    assert_eq!(a.status, 200, "{q}: {}", a.text());
    let body: serde_json::Value = serde_json::from_slice(&a.body).unwrap();
    body["results"][0]["series"].as_array().unwrap_or_else(|| panic!("{q}: {body}")).clone()
}

/// The query test's series: `N` of them, 2000 samples each 15 s apart from `t0`.
const N: usize = 100;

/// PromQL (instant and range) and InfluxQL over the first `n` samples of the query test's
/// series, of which all but the last 40 are sealed: every answer worked out from what was
/// written.
fn assert_queries_answer_what_was_written(g: &Gemini, t0: i64, n: usize) {
    let t = |k: usize| t0 + k as i64 * 15_000;
    let instance = |i: usize| format!("host-{i:02}");
    // Instant queries in a block at the start, a block at the end and the open chunk.
    for k in [300, n - 500, n - 10] {
        let time_s = t(k) / 1000;
        let mut got: Vec<(String, f64)> = promql(g, "sealed_q", time_s).iter().map(|s| (s["metric"]["instance"].as_str().unwrap().to_string(), number(&s["value"][1]))).collect();
        got.sort_by(|a, b| a.0.cmp(&b.0));
        let want: Vec<(String, f64)> = (0..N).map(|i| (instance(i), value(i, k))).collect();
        assert_eq!(got, want, "sealed_q at sample {k} of {n}");
        let sum = promql(g, "sum(sealed_q)", time_s);
        assert_eq!(number(&sum[0]["value"][1]), (0..N).map(|i| value(i, k)).sum::<f64>(), "sum(sealed_q) at sample {k} of {n}");
    }
    // Over the last two hours, 7 s after the last sample (no sample on the window's edge):
    // blocks and the open chunk.
    let at = t(n - 1) + 7_000;
    let window: Vec<f64> = (0..n).filter(|k| t(*k) > at - 7_200_000 && t(*k) <= at).map(|k| value(7, k)).collect();
    assert_eq!(window.len(), 480);
    let over = promql(g, "sum_over_time(sealed_q{instance=\"host-07\"}[2h])", at / 1000);
    assert_eq!(number(&over[0]["value"][1]), window.iter().sum::<f64>(), "sum_over_time over blocks and the open chunk, {n} samples");
    let counted = promql(g, "count_over_time(sealed_q[2h])", at / 1000);
    assert_eq!(counted.len(), N);
    assert!(counted.iter().all(|s| number(&s["value"][1]) == 480.0), "count_over_time over blocks and the open chunk: {counted:?}");

    // A range query over all of one series, a step of four samples.
    let (start_s, end_s) = (t(0) / 1000, t(n - 1) / 1000);
    let a = g.get(&format!("/api/v1/query_range?query={}&start={start_s}&end={end_s}&step=60", urlencode("sealed_q{instance=\"host-07\"}")));
    assert_eq!(a.status, 200, "{}", a.text());
    let body: serde_json::Value = serde_json::from_slice(&a.body).unwrap();
    let values = body["data"]["result"][0]["values"].as_array().unwrap_or_else(|| panic!("{body}"));
    let got: Vec<(f64, f64)> = values.iter().map(|p| (number(&p[0]), number(&p[1]))).collect();
    let want: Vec<(f64, f64)> = (0..n).step_by(4).map(|k| ((t(k) / 1000) as f64, value(7, k))).collect();
    assert_eq!(got, want, "query_range over blocks and the open chunk, {n} samples");

    // InfluxQL: one series' every sample, and aggregates of each.
    let rows = influxql(g, "SELECT value FROM sealed_q WHERE instance = 'host-07'");
    let got: Vec<(i64, f64)> = rows[0]["values"].as_array().unwrap().iter().map(|r| (r[0].as_i64().unwrap(), number(&r[1]))).collect();
    let want: Vec<(i64, f64)> = (0..n).map(|k| (t(k), value(7, k))).collect();
    assert_eq!(got, want, "InfluxQL SELECT value over blocks and the open chunk, {n} samples");
    let groups = influxql(g, "SELECT count(value), sum(value), first(value), last(value) FROM sealed_q GROUP BY instance");
    assert_eq!(groups.len(), N, "{groups:?}");
    for s in &groups {
        let i: usize = s["tags"]["instance"].as_str().unwrap().strip_prefix("host-").unwrap().parse().unwrap();
        let row: Vec<f64> = s["values"][0].as_array().unwrap()[1..].iter().map(number).collect();
        let want = vec![n as f64, (0..n).map(|k| value(i, k)).sum::<f64>(), value(i, 0), value(i, n - 1)];
        assert_eq!(row, want, "InfluxQL count, sum, first, last of {}, {n} samples", instance(i));
    }
}

#[test]
fn a_clean_stop_seals_what_is_ready_and_queries_read_the_sealed_blocks() {
    const HALF: u64 = N as u64 * SEALABLE;
    let dir = tempfile::tempdir().unwrap();
    let mut g = start(dir.path());
    // The pass at start runs over an empty directory; the next is due 10 s after it began.
    wait_for_the_passes_at_start(&g);
    let t0 = t0();
    let labels = |i: usize| [("__name__", "sealed_q".to_string()), ("instance", format!("host-{i:02}")), ("job", "node".to_string())];
    let load = Load::new(N, labels, |i| (0..2000).map(|k| (t0 + k as i64 * 15_000, value(i, k))).collect());

    // The first half is sealed by the background pass: the queries run once the count shows
    // all of it sealed (960 samples of each series in two blocks, 40 in the open chunk).
    load.write(&g, 0, 1000, 250);
    wait_until("the background pass seals the first half", WITHIN, || sealed(&g) >= HALF);
    assert_eq!(sealed(&g), HALF, "samples sealed by the background pass");
    assert_read_back(&g, "sealed_q", &load.expected(1000), "the first half sealed");
    assert_queries_answer_what_was_written(&g, t0, 1000);

    // The second half, then a clean stop at once (the next pass is due 10 s after the last
    // began): the stop seals what is ready, 1040 samples a series, eight full chunks and 80
    // left open. The next start finds nothing to seal.
    load.write(&g, 1000, 2000, 250);
    let before_stop = sealed(&g);
    eprintln!("sealed before the clean stop: {before_stop}, {HALF} of them by the pass before the second half");
    assert!(before_stop < 2 * HALF, "a background pass sealed the second half before the stop: nothing was left for the stop to seal");
    assert_eq!(g.terminate(), Some(0));
    g.restart();
    wait_for_the_passes_at_start(&g);
    assert_eq!(sealed(&g), 0, "the start found chunks left to seal: the clean stop did not seal all that was ready");
    assert_read_back(&g, "sealed_q", &load.expected(2000), "after the clean stop");
    assert_queries_answer_what_was_written(&g, t0, 2000);
}

/// Series `i` of the kill test: a counter with decimal steps, with a staleness marker, +Inf,
/// a NaN with another payload and 0.1 + 0.2 here and there. (No −0.0: protobuf leaves a
/// double equal to 0 out, so remote write carries it as +0.0; the storage tests keep its sign.)
fn counter(i: usize, t0: i64) -> Vec<(i64, f64)> {
    (0..1000i64)
        .map(|k| {
            let v = match (k + i as i64) % 101 {
                7 => f64::from_bits(0x7ff0_0000_0000_0002),
                8 => f64::from_bits(0x7ff8_0000_dead_beef),
                9 => f64::INFINITY,
                10 => 0.1 + 0.2,
                _ => 1e6 + i as f64 + k as f64 * 0.05,
            };
            (t0 + k * 15_000, v)
        })
        .collect()
}

#[test]
fn sealing_killed_at_any_moment_loses_and_duplicates_nothing() {
    const SERIES: usize = 2000;
    const TOTAL: u64 = SERIES as u64 * SEALABLE;
    let dir = tempfile::tempdir().unwrap();
    let mut g = start(dir.path());
    let t0 = t0();
    let labels = |i: usize| [("__name__", format!("sealed_{}", i % 10)), ("instance", format!("host-{i}:9100")), ("job", "node".to_string())];
    let load = Load::new(SERIES, labels, |i| counter(i, t0));
    // 100 samples of every series a request: 16 000 full chunks, 1 920 000 samples to seal.
    load.write(&g, 0, 1000, 100);
    let expected = load.expected(1000);

    // Each run seals a part of what is left, then is killed: at moments spread over a pass (the
    // first run's pass is due 10 s after start, every later run's pass begins at its start, and
    // nothing is written to set it off). `sealed` counts what each run had sealed when it was
    // read; a run may seal a step more before the kill lands.
    let mut sealed_by_runs: Vec<u64> = Vec::new();
    let mut mid_pass = 0;
    for (run, part) in [16, 10, 8, 6, 5, 4, 3].into_iter().enumerate() {
        let left = TOTAL - sealed_by_runs.iter().sum::<u64>();
        let at_least = left / part;
        let what = format!("run {run} seals {at_least} samples (of at most {left} left)");
        wait_checking_every(Duration::from_millis(10), &what, WITHIN, || sealed(&g) >= at_least);
        let s = sealed(&g);
        g.kill9();
        sealed_by_runs.push(s);
        mid_pass += usize::from(s < left);
        g.restart();
    }
    eprintln!("samples sealed by each run before its kill -9: {sealed_by_runs:?}");
    assert!(mid_pass >= 4, "most kills came while the run still had chunks to seal: {sealed_by_runs:?} of {TOTAL}");

    // The last run is stopped cleanly early in its pass (the pass goes on while the server
    // stops taking requests; early, so that the stop is left most of it): the stop finishes
    // it, unless it runs out of its 10 s; then the next start does.
    let left = TOTAL - sealed_by_runs.iter().sum::<u64>();
    wait_checking_every(Duration::from_millis(10), "the last run seals a tenth of what is left", WITHIN, || sealed(&g) >= left / 10);
    let before_stop = sealed(&g);
    let log_before = g.log().len();
    assert_eq!(g.terminate(), Some(0));
    let ran_out = g.log()[log_before..].contains(STOP_RAN_OUT);
    eprintln!("the last run had sealed {before_stop} of at most {left} left when stopped cleanly; the stop ran out of time: {ran_out}");
    g.restart();
    wait_for_the_passes_at_start(&g);
    let after = sealed(&g);
    match ran_out {
        false => assert_eq!(after, 0, "the start found chunks left to seal after a clean stop that did not run out of time"),
        true => assert!(after > 0, "the stop ran out of time, and the start sealed nothing of the rest"),
    }
    let counted = sealed_by_runs.iter().sum::<u64>() + before_stop + after;
    assert!(counted <= TOTAL, "{counted} samples sealed over the runs (at least), of {TOTAL} there are: some twice");
    assert_read_back(&g, "sealed_.*", &expected, "after the kills and a clean stop");
}
