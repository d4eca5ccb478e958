//! The PromQL differential test of issue 15: the real Prometheus 2.42 (Debian's `prometheus`,
//! a remote-write receiver with an empty scrape configuration) and gemini take the same
//! remote-write requests, in time order, and must then give the same answers to every query of
//! `tests::promql::QUERIES`, asked as `query` at several times and as `query_range` over
//! several windows: the same status and resultType, the same label sets, per series the same
//! timestamps, values equal to 1e-9 relative (NaN equal to NaN). Also the same `series`,
//! `labels` and `label/<name>/values`. Two more tests: error statuses and errorTypes (with
//! `--query.max-samples`, the `timeout` parameter and `--query.timeout`), and
//! `--query.lookback-delta` on both.
//!
//! How answers compare: series are matched by label set, so the order of the series does not
//! matter, except in instant answers of `sort`, `sort_desc`, `topk` and `bottomk`, where the
//! sequence of values in answer order must be the same as well (equal values may come in either
//! order, so it is the values that are compared in order, and the series as a set). Where
//! `topk` and `bottomk` choose, the data has no ties: which of two equal series they keep is
//! Prometheus' heap order (in a range query even their input comes in Go's map order), not a
//! property to copy.
//!
//! `PROMQL_DIFF_SHOW=<query or path>` prints both answers to every call of that query, or to
//! every call of that endpoint (e.g. `/api/v1/series`).
//!
//! Guards against a vacuous pass: Prometheus must hold exactly the samples written, show the
//! data's landmarks (gap, stale marker, late start, NaN, resets) at the instant times meant for
//! them, answer success to every query, and give a non-empty answer at some time to every
//! query but those listed in `tests::promql::EXPECTED_EMPTY` with their reasons (which must be
//! empty at every time), so neither a broken data load nor a query that selects nothing can
//! pass by comparing nothing with nothing. Values compare to 1e-9 relative at every magnitude:
//! no absolute floor, so a zero equals only a zero.

use std::time::{SystemTime, UNIX_EPOCH};
use tests::promql::*;
use tests::*;

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

/// One request of the API: a name for messages, the path and the parameters.
struct Call {
    name: String,
    path: &'static str,
    params: Vec<(&'static str, String)>,
    post: bool,
    /// An instant query (its vector's order may matter).
    instant: bool,
    /// Prometheus must answer success (otherwise 400 bad_data: a range vector or string as
    /// `query_range`).
    expect_ok: bool,
}

/// Instant times: (short name for reports, what it is, ms).
fn instant_times(d: &DataSet) -> Vec<(&'static str, &'static str, i64)> {
    vec![
        ("@early", "4.5 min in: windows reach before the data", d.start_ms + 270_500),
        ("@gap", "7 min into the gap of gappy_*", d.at(GAP_TO) - 3 * 60_000),
        ("@nan", "on the NaN samples of nan_gauge, gappy_* back", d.at(GAP_TO) + 7_000),
        ("@stale", "1 s after the stale marker of stale_*", d.at(STALE_AT) + 1_000),
        ("@end+3m", "3 min after the last sample", d.end_ms() + 3 * 60_000),
        ("@end+8m", "8 min after the last sample", d.end_ms() + 8 * 60_000),
    ]
}

/// Range windows: (short name, what it is, start, end, step).
fn ranges(d: &DataSet) -> Vec<(&'static str, &'static str, i64, i64, &'static str)> {
    vec![
        ("range/all", "the whole data and 5 min after, step 60", d.start_ms + 5 * 60_000, d.end_ms() + 5 * 60_000, "60"),
        ("range/37s", "the gap and the stale marker, step 37", d.start_ms + 47 * 60_000 + 3_000, d.start_ms + 80 * 60_000, "37"),
        ("range/before", "from 30 min before the data, step 1m, times in RFC 3339", d.start_ms - 30 * 60_000, d.start_ms + 30 * 60_000, "1m"),
    ]
}

/// What the short call names of a report mean.
fn legend(d: &DataSet, extra: &[(&'static str, &'static str, i64)]) -> String {
    let mut out = String::from("calls: query at");
    for (name, what, t) in instant_times(d).into_iter().chain(extra.iter().copied()) {
        out.push_str(&format!(" {name} = {} ({what});", secs(t)));
    }
    out.push_str(" query_range");
    for (name, what, start, end, step) in ranges(d) {
        out.push_str(&format!(" {name} = {}..{} step {step} ({what});", secs(start), secs(end)));
    }
    out
}

fn calls(d: &DataSet, q: &str, instant_only: bool, extra: &[(&'static str, &'static str, i64)]) -> Vec<Call> {
    let q = d.expand(q);
    let mut out = Vec::new();
    for (i, (name, _, t)) in instant_times(d).into_iter().chain(extra.iter().copied()).enumerate() {
        out.push(Call {
            name: name.to_string(),
            path: "/api/v1/query",
            params: vec![("query", q.clone()), ("time", secs(t))],
            post: i % 2 == 1,
            instant: true,
            expect_ok: true,
        });
    }
    for (i, (name, _, start, end, step)) in ranges(d).into_iter().enumerate() {
        let time = if i == 2 { rfc3339 } else { secs };
        out.push(Call {
            name: name.to_string(),
            path: "/api/v1/query_range",
            params: vec![("query", q.clone()), ("start", time(start)), ("end", time(end)), ("step", step.to_string())],
            post: i == 1,
            instant: false,
            expect_ok: !instant_only,
        });
    }
    out
}

fn start_prometheus(flags: &[&str]) -> Prometheus {
    let mut all = vec!["--web.enable-remote-write-receiver"];
    all.extend_from_slice(flags);
    Prometheus::start_with("scrape_configs: []\n", &all)
}

/// Starts the reference and gemini, each with the data set; `extra` flags for gemini.
fn pair(d: &DataSet, prometheus_flags: &[&str], gemini_flags: &[&str]) -> (Prometheus, tempfile::TempDir, Gemini) {
    require_prometheus_2_42();
    let p = start_prometheus(prometheus_flags);
    d.write_to_prometheus(&p.url(""));
    let dir = tempfile::tempdir().unwrap();
    let g = Gemini::start(dir.path(), gemini_flags);
    d.write_to_gemini(&g);
    (p, dir, g)
}

#[test]
fn promql_answers_equal_prometheus_2_42() {
    let d = DataSet::new(now_ms());
    let (p, _dir, g) = pair(&d, &[], &[]);
    let (pb, gb) = (p.url(""), g.url(""));

    // The data is in Prometheus: every series, every sample (a range selection leaves out the
    // stale markers).
    let all = ask(&pb, "/api/v1/query", &[("query", "{__name__=~\".+\"}[3h]".into()), ("time", secs(d.end_ms() + 1_000))], false);
    assert!(all.ok(), "{}", all.text);
    type Samples = std::collections::BTreeMap<Vec<(String, String)>, Vec<(i64, String)>>;
    // Values as the bits of an f64, any NaN as one, so that a NaN compares equal.
    // (-0 as 0: Prometheus 2.42 answers a -0 sample as "0".)
    let key = |v: f64| if v.is_nan() { "NaN".to_string() } else { format!("{:x}", if v == 0.0 { 0 } else { v.to_bits() }) };
    let stored: Samples = all.json["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let mut labels: Vec<(String, String)> = s["metric"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string())).collect();
            labels.sort();
            let values = s["values"].as_array().unwrap().iter().map(|p| ((p[0].as_f64().unwrap() * 1000.0).round() as i64, key(parse_value(&p[1]).unwrap()))).collect();
            (labels, values)
        })
        .collect();
    let written: Samples =
        d.series.iter().map(|(labels, samples)| (labels.clone(), samples.iter().filter(|(_, v)| v.to_bits() != STALE_NAN).map(|&(t, v)| (t, key(v))).collect())).collect();
    assert_eq!(stored.len(), written.len(), "series in Prometheus");
    for (labels, samples) in &written {
        let held = stored.get(labels).map(Vec::as_slice).unwrap_or_default();
        let first = samples.iter().zip(held).position(|(a, b)| a != b).unwrap_or(samples.len().min(held.len()));
        assert!(held == samples.as_slice(), "Prometheus holds other samples of {labels:?} than were written: {} against {} written, first difference at {first}: {:?} against {:?}", held.len(), samples.len(), held.get(first), samples.get(first));
    }

    check_landmarks(&d, &pb);

    let queries: Vec<(&str, bool)> = QUERIES.iter().map(|q| (*q, false)).chain(INSTANT_ONLY.iter().map(|q| (*q, true))).collect();
    let Outcome { mut mismatches, mut prometheus_failed, empty, asked } = ask_both(&d, &pb, &gb, &queries, &[]);

    // series, labels and label values.
    let (start, end) = (secs(d.start_ms - 3_600_000), secs(d.end_ms() + 60_000));
    let window = |from: i64, to: i64| vec![("start", secs(d.at(from))), ("end", secs(d.at(to)))];
    let m = |s: &str| ("match[]", s.to_string());
    let meta: Vec<(String, Vec<(&str, String)>)> = vec![
        ("/api/v1/series".into(), vec![m("up")]),
        ("/api/v1/series".into(), vec![m("{__name__!=\"\"}")]),
        ("/api/v1/series".into(), vec![m("http_requests_total{code=\"500\"}"), m("temperature_celsius"), m("{job=~\"gap|late\"}")]),
        ("/api/v1/series".into(), [vec![m("{job=~\"late|stale\"}")], window(120, 236)].concat()),
        ("/api/v1/series".into(), [vec![m("{job=~\"late|stale\"}")], window(400, STEPS)].concat()),
        ("/api/v1/series".into(), vec![m("{__name__=~\"request_duration.*\",le=~\"0.*|\"}"), ("start", start.clone()), ("end", end.clone())]),
        ("/api/v1/labels".into(), vec![]),
        ("/api/v1/labels".into(), vec![("start", start.clone()), ("end", end.clone())]),
        ("/api/v1/labels".into(), vec![m("up")]),
        ("/api/v1/labels".into(), vec![m("request_duration_seconds_bucket"), m("node_uname_info")]),
        ("/api/v1/label/__name__/values".into(), vec![]),
        ("/api/v1/label/__name__/values".into(), vec![("start", start.clone()), ("end", end.clone())]),
        ("/api/v1/label/job/values".into(), vec![]),
        ("/api/v1/label/le/values".into(), vec![]),
        ("/api/v1/label/le/values".into(), vec![m("request_duration_seconds_bucket{handler=\"/a\"}")]),
        ("/api/v1/label/mode/values".into(), vec![m("node_cpu_seconds_total{cpu=\"1\"}")]),
        ("/api/v1/label/instance/values".into(), vec![m("up"), m("queue_depth")]),
        ("/api/v1/label/nonexistent/values".into(), vec![]),
    ];
    let mut meta_empty = Vec::new();
    let mut meta_asked = 0;
    for (path, params) in &meta {
        // Prometheus 2.42 takes POST for /series and /labels, not for /label/<name>/values.
        let posts: &[bool] = if path.starts_with("/api/v1/label/") { &[false] } else { &[false, true] };
        for &post in posts {
            meta_asked += 1;
            let want = ask(&pb, path, params, post);
            let got = ask(&gb, path, params, post);
            let name = format!("{path} {params:?}{}", if post { " (POST)" } else { "" });
            if std::env::var("PROMQL_DIFF_SHOW").is_ok_and(|s| s == *path) {
                eprintln!("{name}:\n  Prometheus: {}\n  gemini: {}", want.text, got.text);
            }
            if !want.ok() {
                prometheus_failed.push(format!("{name}: {}", clip(&want.text)));
            }
            if want.json["data"].as_array().is_none_or(|a| a.is_empty()) && !path.contains("nonexistent") {
                meta_empty.push(name.clone());
            }
            if let Err(e) = compare_set(&want, &got) {
                mismatches.push((name, vec![("answer".into(), e)]));
            }
        }
    }

    let total = QUERIES.len() + INSTANT_ONLY.len();
    eprintln!(
        "promql_diff: {total} queries ({} also as query_range), {asked} calls each of Prometheus and gemini; {} non-empty in Prometheus at some time; {} series, {} samples",
        QUERIES.len(),
        total - empty.len(),
        d.series.len(),
        d.sample_count()
    );
    assert!(prometheus_failed.is_empty(), "Prometheus 2.42 did not answer as expected ({}):\n{}", prometheus_failed.len(), prometheus_failed.join("\n"));
    assert!(meta_empty.is_empty(), "Prometheus found nothing for:\n{}", meta_empty.join("\n"));
    let unexpected: Vec<&str> = empty.iter().map(String::as_str).filter(|q| !EXPECTED_EMPTY.iter().any(|(e, _)| e == q)).collect();
    assert!(
        unexpected.is_empty(),
        "Prometheus 2.42 answers nothing at every time to {} of {total} queries that are not in EXPECTED_EMPTY (two empty answers prove nothing; make the query select something, or list it with the reason it is empty):\n{}",
        unexpected.len(),
        unexpected.join("\n")
    );
    let listed: Vec<&str> = EXPECTED_EMPTY.iter().map(|(q, _)| *q).filter(|q| !empty.iter().any(|e| e == q)).collect();
    assert!(listed.is_empty(), "EXPECTED_EMPTY lists queries that are not asked, or that Prometheus 2.42 answers with something at some time:\n{}", listed.join("\n"));

    assert!(mismatches.is_empty(), "gemini differs from Prometheus 2.42 in {} of {} queries and endpoints ({}):{}", mismatches.len(), total + meta_asked, legend(&d, &[]), report(&mismatches));
}

/// The data has the shapes the queries are about, as Prometheus sees them: the gap, the stale
/// marker, the late start, the NaN samples, the counter resets, the instant times where they
/// show. (Otherwise the comparison could pass without testing them.)
fn check_landmarks(d: &DataSet, pb: &str) {
    let at = |name: &str| instant_times(d).into_iter().find(|(n, ..)| *n == name).unwrap().2;
    let values = |q: &str, t: i64| -> Vec<String> {
        let r = ask(pb, "/api/v1/query", &[("query", q.to_string()), ("time", secs(t))], false);
        assert!(r.ok(), "{q}: {}", r.text);
        r.json["data"]["result"].as_array().unwrap().iter().map(|s| s["value"][1].as_str().unwrap().to_string()).collect()
    };
    let one = |q: &str, t: &str, want: &[&str]| {
        let got = values(q, at(t));
        assert_eq!(got, want, "Prometheus answers {q} at {t} otherwise than the data set means");
    };
    one("gappy_gauge", "@gap", &[]);
    one("count(gappy_gauge)", "@nan", &["1"]);
    one("count_over_time(gappy_total[7m])", "@gap", &[]);
    one("stale_gauge", "@stale", &[]);
    one("count(last_over_time(stale_gauge[5m]))", "@stale", &["1"]);
    one("count(stale_gauge)", "@nan", &["1"]);
    one("late_gauge", "@nan", &[]);
    one("count(late_gauge)", "@end+3m", &["1"]);
    one("nan_gauge", "@nan", &["NaN"]);
    one("count(up)", "@end+8m", &[]);
    one("count(up)", "@end+3m", &["4"]);
    one("sum(resets(node_cpu_seconds_total[2h]))", "@end+3m", &["4"]);
    one("sum(resets(http_requests_total[2h]))", "@end+3m", &["1"]);
    one("sum(resets(request_duration_seconds_count[2h]))", "@end+3m", &["1"]);
    one("count(histogram_quantile(0.5, rate(request_duration_seconds_bucket[5m])))", "@nan", &["2"]);
    one("count(temperature_celsius < 0)", "@nan", &["1"]);
}

/// What asking both servers found.
struct Outcome {
    /// Per query (or endpoint), the calls whose answers differ and their first difference.
    mismatches: Vec<(String, Vec<(String, String)>)>,
    /// Calls Prometheus did not answer as the query list says it does.
    prometheus_failed: Vec<String>,
    /// Queries Prometheus answers with nothing at every time.
    empty: Vec<String>,
    asked: usize,
}

/// Asks every query (with `true`: instant-only) of both, at the usual times and at `extra`
/// instant times, and compares the answers.
fn ask_both(d: &DataSet, pb: &str, gb: &str, queries: &[(&str, bool)], extra: &[(&'static str, &'static str, i64)]) -> Outcome {
    let mut out = Outcome { mismatches: Vec::new(), prometheus_failed: Vec::new(), empty: Vec::new(), asked: 0 };
    for &(q, instant_only) in queries {
        let mut differences = Vec::new();
        let mut non_empty = false;
        for call in calls(d, q, instant_only, extra) {
            let want = ask(pb, call.path, &call.params, call.post);
            let got = ask(gb, call.path, &call.params, call.post);
            out.asked += 1;
            if std::env::var("PROMQL_DIFF_SHOW").is_ok_and(|s| s == q) {
                eprintln!("{q} — {}:\n  Prometheus: {}\n  gemini: {}", call.name, want.text, got.text);
            }
            if call.expect_ok && !want.ok() {
                out.prometheus_failed.push(format!("{q} — {}: {}", call.name, clip(&want.text)));
            }
            if !call.expect_ok && (want.status, &want.json["errorType"]) != (400, &serde_json::json!("bad_data")) {
                out.prometheus_failed.push(format!("{q} — {}: expected 400 bad_data, got {} {}", call.name, want.status, clip(&want.text)));
            }
            non_empty |= want.non_empty();
            if let Err(e) = compare(&want, &got, call.instant && ordered(q)) {
                differences.push((call.name, e));
            }
        }
        if !non_empty {
            out.empty.push(q.to_string());
        }
        if !differences.is_empty() {
            out.mismatches.push((q.to_string(), differences));
        }
    }
    out
}

/// The mismatches, one block per query; calls that differ the same way are reported once.
fn report(mismatches: &[(String, Vec<(String, String)>)]) -> String {
    let mut report = String::new();
    for (q, differences) in mismatches {
        report.push_str(&format!("\n{q}\n"));
        let mut shown: Vec<(&str, Vec<&str>)> = Vec::new();
        for (call, e) in differences {
            match shown.iter_mut().find(|(text, _)| text == e) {
                Some((_, calls)) => calls.push(call),
                None => shown.push((e, vec![call])),
            }
        }
        for (e, calls) in shown {
            let which = if calls.len() == 1 { calls[0].to_string() } else { format!("{} calls: {}", calls.len(), calls.join("; ")) };
            report.push_str(&format!("    {which}\n        {e}\n"));
        }
    }
    report
}

/// `--query.lookback-delta=1m` on both. (Prometheus 2.42 has no per-query `lookback_delta`
/// parameter yet: it came with 2.43 and 2.42 ignores it, so only the flag is compared.)
#[test]
fn promql_lookback_delta_flag_equals_prometheus() {
    let d = DataSet::new(now_ms());
    let (p, _dir, g) = pair(&d, &["--query.lookback-delta=1m"], &["--query.lookback-delta=1m"]);
    let queries: Vec<(&str, bool)> = [
        "gappy_gauge",
        "http_requests_total",
        "up",
        "stale_gauge",
        "late_gauge",
        "sum by (job) (up)",
        "absent(gappy_gauge)",
        "timestamp(http_requests_total)",
        "http_requests_total offset 45s",
        "temperature_celsius @ $MID",
        "rate(gappy_total[5m])",
        "last_over_time(gappy_gauge[5m])",
        "max_over_time(gappy_gauge[5m:20s])",
    ]
    .into_iter()
    .map(|q| (q, false))
    .collect();
    // 1 min 45 s after the last sample before the gap: inside 5 minutes, outside one.
    let extra = [("@gap+105s", "1 min 45 s after the last sample before the gap", d.at(GAP_FROM) + 90_000)];
    let out = ask_both(&d, &p.url(""), &g.url(""), &queries, &extra);
    assert!(out.prometheus_failed.is_empty(), "Prometheus 2.42 did not answer as expected:\n{}", out.prometheus_failed.join("\n"));
    assert!(out.empty.is_empty(), "Prometheus answers nothing at every time to {:?}", out.empty);
    assert!(out.mismatches.is_empty(), "with --query.lookback-delta=1m gemini differs from Prometheus 2.42 in {} queries ({}):{}", out.mismatches.len(), legend(&d, &extra), report(&out.mismatches));
}

/// Asserts an error answer: HTTP status, `"status":"error"`, `errorType`, and text in `error`
/// (case aside). Status 200 asserts a success.
fn expect_error(who: &str, r: &Reply, status: u16, error_type: &str, contains: &str) -> Result<(), String> {
    if status == 200 {
        return if r.ok() { Ok(()) } else { Err(format!("{who}: expected success, got {} {}", r.status, clip(&r.text))) };
    }
    let error = r.json["error"].as_str().unwrap_or("").to_lowercase();
    if r.status == status && r.json["status"] == "error" && r.json["errorType"] == error_type && error.contains(&contains.to_lowercase()) {
        Ok(())
    } else {
        Err(format!("{who}: expected {status} {error_type} containing {contains:?}, got {} {}", r.status, clip(&r.text)))
    }
}

#[test]
fn promql_errors_have_prometheus_statuses() {
    require_prometheus_2_42();
    let d = DataSet::new(now_ms());
    // The sample limit is tested with a limit of 1000 samples on both: every other query here
    // holds fewer.
    let p = start_prometheus(&["--query.max-samples=1000"]);
    d.write_to_prometheus(&p.url(""));
    let t = secs(d.at(GAP_TO) + 7_000);
    let (start, end) = (secs(d.start_ms), secs(d.end_ms()));
    let instant = |q: &str| vec![("query", q.to_string()), ("time", t.clone())];
    let range = |q: &str, start: &str, end: &str, step: &str| vec![("query", q.to_string()), ("start", start.to_string()), ("end", end.to_string()), ("step", step.to_string())];
    let heavy = "sum by (job) (rate({__name__=~\".+\"}[1h]))";
    // (what, path, params, status, errorType, text in the error, Prometheus answers the same)
    let cases: Vec<(&str, &str, Vec<(&str, String)>, u16, &str, &str, bool)> = vec![
        ("a query that does not parse", "/api/v1/query", instant("sum(rate(x[5m])"), 400, "bad_data", "parse error: unclosed left parenthesis", true),
        ("an unknown function", "/api/v1/query", instant("no_such_function(up)"), 400, "bad_data", "unknown function", true),
        ("scalars compared without bool", "/api/v1/query", instant("1 < 2"), 400, "bad_data", "bool", true),
        ("start=abc", "/api/v1/query_range", range("up", "abc", &end, "60"), 400, "bad_data", "start", true),
        ("time=abc", "/api/v1/query", vec![("query", "up".into()), ("time", "abc".into())], 400, "bad_data", "time", true),
        ("step=0", "/api/v1/query_range", range("up", &start, &end, "0"), 400, "bad_data", "step", true),
        ("end before start", "/api/v1/query_range", range("up", &end, &start, "60"), 400, "bad_data", "end", true),
        ("more than 11000 points", "/api/v1/query_range", range("up", &start, &end, "0.5"), 400, "bad_data", "11,000 points", true),
        ("a range vector as query_range", "/api/v1/query_range", range("up[5m]", &start, &end, "60"), 400, "bad_data", "range vector", true),
        ("no query", "/api/v1/query", vec![("time", t.clone())], 400, "bad_data", "", true),
        (
            "a duplicate label set",
            "/api/v1/query",
            instant("rate({__name__=~\"dup_a|dup_b\"}[1m])"),
            422,
            "execution",
            "vector cannot contain metrics with the same labelset",
            true,
        ),
        (
            "a duplicate label set under an aggregation",
            "/api/v1/query",
            instant("sum(rate({__name__=~\"dup_a|dup_b\"}[1m]))"),
            422,
            "execution",
            "vector cannot contain metrics with the same labelset",
            true,
        ),
        ("many-to-many matching", "/api/v1/query", instant("http_requests_total + on(job) http_requests_total"), 422, "execution", "many-to-many matching not allowed", true),
        ("topk of a NaN k", "/api/v1/query", instant("topk(scalar(nonexistent_metric), up)"), 422, "execution", "NaN overflows int64", true),
        ("many on the one side of group_left", "/api/v1/query", instant("up * on(job) group_left http_requests_total"), 422, "execution", "many", true),
        ("a timeout", "/api/v1/query_range", [range(heavy, &start, &end, "15"), vec![("timeout", "0.000001".into())]].concat(), 503, "timeout", "timed out", true),
        // Held at once: 12 series of 240 samples. (`sum(rate(node_cpu_seconds_total[1h]))` holds
        // one series' window at a time, and Prometheus answers it under this limit.)
        ("the sample limit", "/api/v1/query", instant("node_cpu_seconds_total[1h]"), 422, "execution", "too many samples", true),
        ("under the sample limit, one window at a time", "/api/v1/query", instant("sum(rate(node_cpu_seconds_total[1h])) > bool 1e100"), 200, "", "", true),
        ("the sample limit in a range query", "/api/v1/query_range", range("http_requests_total", &start, &end, "15"), 422, "execution", "too many samples", true),
        ("a native-histogram function", "/api/v1/query", instant("histogram_count(request_duration_seconds_bucket)"), 422, "execution", "histogram_count", false),
        ("another native-histogram function", "/api/v1/query", instant("sum(histogram_sum(rate(request_duration_seconds_bucket[5m])))"), 422, "execution", "histogram_sum", false),
        ("a third native-histogram function", "/api/v1/query", instant("histogram_fraction(0, 0.1, request_duration_seconds_bucket)"), 422, "execution", "histogram_fraction", false),
        ("Grafana's Save & test: 1+1 at time=4", "/api/v1/query", vec![("query", "1+1".into()), ("time", "4".into())], 200, "", "", true),
    ];

    // The reference first: the cases say what Prometheus 2.42 answers.
    let pb = p.url("");
    let mut wrong = Vec::new();
    for (what, path, params, status, error_type, contains, same_in_prometheus) in &cases {
        if *same_in_prometheus {
            for post in [false, true] {
                if let Err(e) = expect_error("Prometheus", &ask(&pb, path, params, post), *status, error_type, contains) {
                    wrong.push(format!("{what}: {e}"));
                }
            }
        }
    }
    // Prometheus answers native-histogram functions on float samples with nothing at all.
    for (what, path, params, ..) in cases.iter().filter(|c| c.0.contains("native-histogram")) {
        let want = ask(&pb, path, params, false);
        if !(want.ok() && !want.non_empty()) {
            wrong.push(format!("{what}: Prometheus {}", clip(&want.text)));
        }
    }
    assert!(wrong.is_empty(), "Prometheus 2.42 answers other than the cases say:\n{}", wrong.join("\n"));

    let dir = tempfile::tempdir().unwrap();
    let g = Gemini::start(dir.path(), &["--query.max-samples=1000"]);
    d.write_to_gemini(&g);
    let gb = g.url("");
    let mut failures = Vec::new();
    for (what, path, params, status, error_type, contains, _) in &cases {
        for post in [false, true] {
            if let Err(e) = expect_error("gemini", &ask(&gb, path, params, post), *status, error_type, contains) {
                failures.push(format!("{what}{}: {e}", if post { " (POST)" } else { "" }));
            }
        }
    }

    // --query.timeout: a gemini whose every query times out after 1 ms.
    let dir = tempfile::tempdir().unwrap();
    let slow = Gemini::start(dir.path(), &["--query.timeout=1ms"]);
    d.write_to_gemini(&slow);
    let got = ask(&slow.url(""), "/api/v1/query_range", &range(heavy, &start, &end, "15"), false);
    if let Err(e) = expect_error("gemini --query.timeout=1ms", &got, 503, "timeout", "timed out") {
        failures.push(e);
    }
    assert!(failures.is_empty(), "{} error answers of gemini differ:\n{}", failures.len(), failures.join("\n"));
}

/// `--query.max-samples` at its edge: for aggregations of a selector and of a range function
/// (which gemini folds series by series), the number of 5 s steps at which Prometheus 2.42
/// first refuses a range query with "too many samples" under a limit of 1000, and gemini must
/// answer one step fewer and refuse that many, alike.
#[test]
fn sample_limit_edges_equal_prometheus() {
    let d = DataSet::new(now_ms());
    let (p, _dir, g) = pair(&d, &["--query.max-samples=1000"], &["--query.max-samples=1000"]);
    let (pb, gb) = (p.url(""), g.url(""));
    let start = d.at(10);
    // Whether `q` over `steps` steps of 5 s is refused for too many samples (else answered).
    let refused = |base: &str, q: &str, steps: i64| -> bool {
        let params = vec![("query", q.to_string()), ("start", secs(start)), ("end", secs(start + (steps - 1) * 5_000)), ("step", "5".to_string()), ("nocache", "1".to_string())];
        let r = ask(base, "/api/v1/query_range", &params, false);
        if r.ok() {
            return false;
        }
        assert!(r.status == 422 && r.text.contains("too many samples"), "{q} over {steps} steps at {base}: {}", clip(&r.text));
        true
    };
    let queries = ["sum(dup_a)", "count by (job) ({job=\"dup\"})", "avg(rate(dup_a[1m]))", "max by (job) (max_over_time({__name__=~\"late_gauge|gappy_gauge|nan_gauge\"}[2m]))", "sum(last_over_time({job=\"dup\"}[30s]))"];
    let mut wrong = Vec::new();
    for q in queries {
        let (mut ok, mut fails) = (1, 1000);
        assert!(!refused(&pb, q, ok) && refused(&pb, q, fails), "Prometheus: {q} is not refused between {ok} and {fails} steps");
        while fails - ok > 1 {
            let mid = (ok + fails) / 2;
            if refused(&pb, q, mid) {
                fails = mid;
            } else {
                ok = mid;
            }
        }
        if refused(&gb, q, ok) || !refused(&gb, q, fails) {
            wrong.push(format!("{q}: Prometheus answers {ok} steps and refuses {fails}, gemini: {} and {}", refused(&gb, q, ok), refused(&gb, q, fails)));
        }
    }
    assert!(wrong.is_empty(), "gemini's sample limit differs from Prometheus':\n{}", wrong.join("\n"));
}
