//! Prometheus' status API end to end, compared with a real Prometheus 2.42 (remote write
//! receiver and admin API on) that receives the same samples: `/api/v1/status/tsdb` (head
//! figures and the four top-N lists, with limit 10 and 3), `/api/v1/format_query`,
//! `/api/v1/status/runtimeinfo` (its keys) and `/api/v1/status/flags`. Gemini's own additions
//! to `status/tsdb` (`match[]`, a past range, `date=`, the limit's checks) are held to literal
//! answers written out here, and a three-node cluster answers `status/tsdb` through any node
//! with the single node's figures.

use proto::prometheus as pb;
use serde_json::{json, Value};
use tests::cluster::cluster;
use tests::*;

/// A 200 answer in Prometheus' envelope: its `data`.
fn success(url: &str) -> Value {
    let (status, v) = get_json(url);
    assert_eq!(status, 200, "{url}: {v}");
    assert_eq!(v["status"], "success", "{url}: {v}");
    v["data"].clone()
}

fn get_json(url: &str) -> (u16, Value) {
    let mut r = agent().get(url).config().http_status_as_error(false).build().call().unwrap_or_else(|e| panic!("{url}: {e}"));
    let body = r.body_mut().read_to_vec().unwrap();
    let v = serde_json::from_slice(&body).unwrap_or_else(|e| panic!("{url}: {e}: {}", String::from_utf8_lossy(&body)));
    (r.status().as_u16(), v)
}

const MINUTE: i64 = 60_000;
/// Prometheus' head cuts chunks at multiples of its chunk range, two hours.
const CHUNK_RANGE: i64 = 2 * 60 * MINUTE;

/// A stretch of at least 25 minutes of the last hour that lies inside one of Prometheus'
/// two-hour chunk ranges (and so inside one UTC day): [from, to).
fn recent_stretch() -> (i64, i64) {
    let now = now_s() * 1000;
    let boundary = now - now % CHUNK_RANGE;
    match boundary > now - 50 * MINUTE {
        true if now - boundary < 25 * MINUTE => (now - 50 * MINUTE, boundary),
        true => (boundary, now),
        false => (now - 50 * MINUTE, now),
    }
}

/// The samples both servers get, from `from` on: metrics of different sizes, label values of
/// different lengths, 2 to 28 samples a series (one chunk each in both), and one series of 200
/// samples a second apart (two chunks in both: 120 and 80 in Gemini, about 120 and the rest in
/// Prometheus, whose head predicts the end of a chunk from its first 30 samples).
fn recent_data(from: i64, to: i64) -> pb::WriteRequest {
    let step = (to - from - MINUTE) / 30;
    let samples = |n: usize| (0..n).map(|i| (from + i as i64 * step, i as f64)).collect::<Vec<_>>();
    let mut timeseries = Vec::new();
    let mut n = 2;
    for (instance, codes) in [("api-1", &["200", "500", "503"][..]), ("api-2", &["200", "500"]), ("web-1", &["200"])] {
        for code in codes {
            let job = if instance.starts_with("api") { "api" } else { "web" };
            timeseries.push(series(&[("__name__", "http_requests_total"), ("code", code), ("instance", instance), ("job", job)], &samples(n)));
            n = n % 25 + 1;
        }
    }
    for cpu in ["0", "1"] {
        for mode in ["idle", "user", "system", "iowait"] {
            timeseries.push(series(&[("__name__", "node_cpu_seconds_total"), ("cpu", cpu), ("instance", "node-1"), ("job", "node"), ("mode", mode)], &samples(n)));
            n = n % 25 + 2;
        }
    }
    for (job, instance) in [("api", "api-1"), ("api", "api-2"), ("web", "web-1"), ("node", "node-1")] {
        timeseries.push(series(&[("__name__", "up"), ("instance", instance), ("job", job)], &samples(n)));
        n = n % 25 + 3;
    }
    timeseries.push(series(&[("__name__", "build_info"), ("instance", "node-1"), ("job", "node"), ("revision", "0123456789abcdef0123456789abcdef"), ("version", "2.42.0")], &samples(3)));
    let every_second: Vec<(i64, f64)> = (0..200).map(|i| (from + i * 1000, i as f64)).collect();
    timeseries.push(series(&[("__name__", "scrape_duration_seconds"), ("instance", "web-1"), ("job", "web")], &every_second));
    pb::WriteRequest { timeseries, metadata: vec![] }
}

/// Asserts that two top-N lists (`[{name, value}]`, largest first) agree: the same values in
/// the same order, and the same names for each value, except for the smallest value of a
/// list that may have been cut (where Prometheus keeps any of the entries with that value).
fn same_top(what: &str, got: &Value, want: &Value, limit: usize) {
    let entries = |v: &Value| -> Vec<(String, u64)> {
        v.as_array().unwrap_or_else(|| panic!("{what}: {v}")).iter().map(|e| (e["name"].as_str().unwrap().to_string(), e["value"].as_u64().unwrap())).collect()
    };
    let (got, want) = (entries(got), entries(want));
    let values = |l: &[(String, u64)]| l.iter().map(|e| e.1).collect::<Vec<_>>();
    assert_eq!(values(&got), values(&want), "{what}: values of {got:?} and {want:?}");
    let cut_at = (got.len() == limit).then(|| got.last().unwrap().1);
    for value in values(&got) {
        let names = |l: &[(String, u64)]| {
            let mut n: Vec<String> = l.iter().filter(|e| e.1 == value).map(|e| e.0.clone()).collect();
            n.sort();
            n
        };
        if Some(value) != cut_at {
            assert_eq!(names(&got), names(&want), "{what}: entries worth {value}");
        }
    }
}

const LISTS: [&str; 4] = ["seriesCountByMetricName", "labelValueCountByLabelName", "memoryInBytesByLabelName", "seriesCountByLabelValuePair"];

/// Gemini's `status/tsdb` answer `got` against Prometheus' `want` (which is never cut below
/// 10 entries, 2.42 takes no limit) for `limit`.
fn same_tsdb_status(got: &Value, want: &Value, limit: usize) {
    assert_eq!(got["headStats"], want["headStats"], "headStats");
    for list in LISTS {
        let mut cut = want[list].as_array().unwrap().clone();
        cut.truncate(limit);
        same_top(list, &got[list], &Value::Array(cut), limit);
    }
}

#[test]
fn status_tsdb_equals_prometheus_on_the_same_data() {
    let (from, to) = recent_stretch();
    let data = recent_data(from, to);
    let p = Prometheus::start_with("global: {scrape_interval: 1h}\n", &["--web.enable-remote-write-receiver", "--web.enable-admin-api"]);
    let a = post_url(&p.url("/api/v1/write"), &PROTO_HEADERS, &write_body(&data));
    assert_eq!(a.status, 204, "{}", a.text());
    let dir = tempfile::tempdir().unwrap();
    let g = Gemini::start(dir.path(), &[]);
    assert_eq!(g.write("prometheus", &data).status, 204);

    let want = success(&p.url("/api/v1/status/tsdb"));
    // What the data holds, so that the comparison compares something.
    assert_eq!(want["headStats"]["numSeries"], 20, "{want}");
    assert_eq!(want["headStats"]["chunkCount"], 21, "{want}");
    assert_eq!(want["headStats"]["minTime"], from, "{want}");
    let got = success(&g.url("/api/v1/status/tsdb"));
    same_tsdb_status(&got, &want, 10);
    assert_eq!(got, success(&g.url("/api/v1/status/tsdb?limit=10&db=prometheus")), "the defaults");
    let got = success(&g.url("/api/v1/status/tsdb?limit=3"));
    same_tsdb_status(&got, &want, 3);
    assert_eq!(got["seriesCountByMetricName"], json!([{"name": "node_cpu_seconds_total", "value": 8}, {"name": "http_requests_total", "value": 6}, {"name": "up", "value": 4}]));

    // Prometheus' empty head.
    let empty = json!({"numSeries": 0, "numLabelPairs": 0, "chunkCount": 0, "minTime": i64::MAX, "maxTime": i64::MIN});
    let p_empty = Prometheus::start_with("global: {scrape_interval: 1h}\n", &["--web.enable-remote-write-receiver"]);
    assert_eq!(success(&p_empty.url("/api/v1/status/tsdb"))["headStats"], empty);
    let other = success(&g.url("/api/v1/status/tsdb?start=1000&end=2000"));
    assert_eq!(other, json!({"headStats": empty, "seriesCountByMetricName": [], "labelValueCountByLabelName": [], "memoryInBytesByLabelName": [], "seriesCountByLabelValuePair": []}));
}

#[test]
fn status_tsdb_with_match_a_past_day_and_bad_parameters() {
    let dir = tempfile::tempdir().unwrap();
    let g = Gemini::start(dir.path(), &[]);
    // 2023-11-14: two samples of up{a}, one of up{b} and of a CPU series; old_metric the day before.
    const T0: i64 = 1_700_000_000_000;
    let req = pb::WriteRequest {
        timeseries: vec![
            series(&[("__name__", "up"), ("instance", "a"), ("job", "node")], &[(T0, 1.0), (T0 + 15_000, 1.0)]),
            series(&[("__name__", "up"), ("instance", "bb"), ("job", "node")], &[(T0 + 60_000, 0.0)]),
            series(&[("__name__", "node_cpu_seconds_total"), ("cpu", "0"), ("mode", "idle")], &[(T0 - 30_000, 10.5)]),
            series(&[("__name__", "old_metric"), ("job", "old")], &[(T0 - 86_400_000, 7.0)]),
        ],
        metadata: vec![],
    };
    assert_eq!(g.write("prometheus", &req).status, 204);
    let stat = |name: &str, value: u64| json!({"name": name, "value": value});

    // Nothing in the last hour.
    assert_eq!(success(&g.url("/api/v1/status/tsdb"))["headStats"]["numSeries"], 0);

    let day = success(&g.url("/api/v1/status/tsdb?date=2023-11-14"));
    assert_eq!(day["headStats"], json!({"numSeries": 3, "numLabelPairs": 7, "chunkCount": 3, "minTime": T0 - 30_000, "maxTime": T0 + 60_000}), "{day}");
    assert_eq!(day["seriesCountByMetricName"], json!([stat("up", 2), stat("node_cpu_seconds_total", 1)]));
    assert_eq!(day["labelValueCountByLabelName"], json!([stat("__name__", 2), stat("instance", 2), stat("cpu", 1), stat("job", 1), stat("mode", 1)]));
    // The lengths of the distinct values: "up" and "node_cpu_seconds_total", "a" and "bb", …
    assert_eq!(day["memoryInBytesByLabelName"], json!([stat("__name__", 24), stat("job", 4), stat("mode", 4), stat("instance", 3), stat("cpu", 1)]));
    let pairs = ["__name__=node_cpu_seconds_total", "cpu=0", "instance=a", "instance=bb", "mode=idle"];
    let mut want_pairs = vec![stat("__name__=up", 2), stat("job=node", 2)];
    want_pairs.extend(pairs.iter().map(|p| stat(p, 1)));
    assert_eq!(day["seriesCountByLabelValuePair"], Value::Array(want_pairs));

    // match[]: a series counts once however many selectors match it.
    let url = format!("/api/v1/status/tsdb?date=2023-11-14&match[]={}&match[]={}", urlencode("up{instance=\"a\"}"), urlencode("{job=\"node\"}"));
    let matched = success(&g.url(&url));
    assert_eq!(matched["headStats"], json!({"numSeries": 2, "numLabelPairs": 4, "chunkCount": 2, "minTime": T0, "maxTime": T0 + 60_000}));
    assert_eq!(matched["labelValueCountByLabelName"], json!([stat("instance", 2), stat("__name__", 1), stat("job", 1)]));

    // start/end: only the samples inside count (the second sample of up{a}).
    let range = success(&g.url(&format!("/api/v1/status/tsdb?start={}&end={}", (T0 + 10_000) / 1000, (T0 + 20_000) / 1000)));
    assert_eq!(range["headStats"], json!({"numSeries": 1, "numLabelPairs": 3, "chunkCount": 1, "minTime": T0 + 15_000, "maxTime": T0 + 15_000}));
    let earlier = success(&g.url("/api/v1/status/tsdb?date=2023-11-13&limit=1"));
    assert_eq!(earlier["seriesCountByMetricName"], json!([stat("old_metric", 1)]));

    let refused = |query: &str, error: &str| {
        let (status, v) = get_json(&g.url(&format!("/api/v1/status/tsdb?{query}")));
        assert_eq!((status, v), (400, json!({"status": "error", "errorType": "bad_data", "error": error})), "{query}");
    };
    refused("limit=0", "limit must be a positive number");
    refused("limit=x", "limit must be a positive number");
    refused("limit=10001", "limit must not exceed 10000");
    refused("date=2023-13-01", "invalid parameter \"date\": cannot parse \"2023-13-01\" as a day like 2024-01-31");
    refused("date=2023-11-14&start=1", "date cannot be combined with start or end");
    refused("start=2000&end=1000", "invalid parameter \"end\": end timestamp must not be before start time");
    refused(&format!("match[]={}", urlencode("rate(up[5m])")), "invalid parameter \"match[]\": \"rate(up[5m])\" is not a series selector: expected a metric name and/or label matchers, like up{job=\"node\"}");
    let (status, v) = get_json(&g.url("/api/v1/status/tsdb?db=nope"));
    assert_eq!((status, &v["errorType"]), (404, &json!("not_found")), "{v}");
}

/// Prometheus 2.42's answers to format_query for `query`: data, or (status, error).
fn format_query(base: &str, query: &str) -> (u16, Value) {
    get_json(&format!("{base}/api/v1/format_query?query={}", urlencode(query)))
}

#[test]
fn format_query_runtimeinfo_and_flags_as_prometheus() {
    let p = Prometheus::start_with("global: {scrape_interval: 1h}\n", &["--web.enable-remote-write-receiver", "--web.enable-admin-api"]);
    let dir = tempfile::tempdir().unwrap();
    let g = Gemini::start(dir.path(), &["--retention", "30d"]);
    let queries = [
        "sum by(job)(rate(foo[5m]))",
        "sum(rate(http_requests_total{job=\"api-server\",handler=\"/api/v1/query\"}[5m])) by (job) / sum(rate(http_requests_total{job=\"api-server\"}[5m])) by (job) > 0.5",
        "histogram_quantile(0.99, sum by (le, job, instance, handler) (rate(http_request_duration_seconds_bucket{job=\"apiserver\"}[5m])))",
        "max by (namespace) (sum by (namespace, pod) (rate(container_cpu_usage_seconds_total{container!=\"\",namespace=~\"kube-.*\"}[5m])) / sum by (namespace, pod) (kube_pod_container_resource_requests{resource=\"cpu\"}))",
        "max_over_time((rate(http_requests_total{job=\"api-server\",handler=\"/api/v1/query\",code=\"200\"}[5m]) + rate(http_requests_total{job=\"api-server\"}[5m]))[1h:1m])",
        "sum(foo) by (a) * on(a) group_left(b) max(bar) by (a, b)",
        "foo / ignoring(a) group_right(b, c) bar > bool 1",
        "topk(5, foo) or count_values(\"value\", bar)",
        "foo[5m] offset 1h @ 1609746000",
        "rate(foo[90s] @ end())[30m:1m] offset -10m",
        "-(foo + bar) ^ 2 - -1",
        "1e3 + 0x10 + 100000000000000000000 + 0.000001 + Inf",
        "label_replace(up, 'foo', \"$1\", `bar`, \"(.*)\")",
        "foo{b!~\"z\",a=~\"x|y\",a=\"c\"} # comment",
    ];
    for q in queries {
        let (want_status, want) = format_query(&p.url(""), q);
        assert_eq!((want_status, &want["status"]), (200, &json!("success")), "{q}: {want}");
        assert_eq!(format_query(&g.url(""), q), (want_status, want), "{q}");
    }
    assert!(format_query(&p.url(""), queries[3]).1["data"].as_str().unwrap().contains('\n'), "a long query is broken across lines");
    for bad in ["sum(", "foo{"] {
        let (status, v) = format_query(&g.url(""), bad);
        let (want_status, want) = format_query(&p.url(""), bad);
        assert_eq!((status, &v["status"], &v["errorType"]), (want_status, &want["status"], &want["errorType"]), "{bad}: {v} {want}");
        assert!(v["error"].as_str().unwrap().starts_with("invalid parameter \"query\": "), "{v}");
    }

    // A form-encoded POST, as Prometheus takes it too.
    let form = [("Content-Type", "application/x-www-form-urlencoded")];
    let a = post_url(&g.url("/api/v1/format_query"), &form, format!("query={}", urlencode("sum(foo)by(job)")).as_bytes());
    assert_eq!((a.status, a.text()), (200, r#"{"status":"success","data":"sum by (job) (foo)"}"#.to_string()));

    let keys = |v: &Value| v.as_object().unwrap_or_else(|| panic!("{v}")).keys().cloned().collect::<Vec<_>>();
    let info = success(&g.url("/api/v1/status/runtimeinfo"));
    assert_eq!(keys(&info), keys(&success(&p.url("/api/v1/status/runtimeinfo"))));
    assert_eq!(info["storageRetention"], "30d", "{info}");
    assert_eq!(info["CWD"], std::env::current_dir().unwrap().display().to_string(), "{info}");
    assert!(info["goroutineCount"].as_u64().unwrap() > 1 && info["GOMAXPROCS"].as_u64().unwrap() >= 1, "{info}");

    let flags = success(&g.url("/api/v1/status/flags"));
    let flags = flags.as_object().unwrap_or_else(|| panic!("{flags}"));
    assert!(flags.values().all(Value::is_string), "{flags:?}");
    assert_eq!(flags["retention.raw"], "30d");
    assert_eq!(flags["data-dir"], dir.path().display().to_string());
    assert_eq!(flags["query.timeout"], "2m", "a default");
    assert_eq!(flags["tls-cert"], "", "unset, no default");
    assert!(success(&p.url("/api/v1/status/flags")).as_object().unwrap().values().all(Value::is_string));
}

#[test]
fn status_tsdb_through_any_node_of_a_cluster_is_the_single_nodes() {
    let (from, to) = recent_stretch();
    let data = recent_data(from, to);
    let dir = tempfile::tempdir().unwrap();
    let single = Gemini::start(dir.path(), &[]);
    assert_eq!(single.write("prometheus", &data).status, 204);
    let files = tempfile::tempdir().unwrap();
    let c = cluster(3, 2, &files.path().join("peers"));
    assert_eq!(c.nodes[0].write("prometheus", &data).status, 204);
    for query in ["", "?limit=3", "?match[]=up"] {
        let want = success(&single.url(&format!("/api/v1/status/tsdb{query}")));
        assert!(want["headStats"]["numSeries"].as_u64().unwrap() >= 4, "{want}");
        for g in &c.nodes[1..] {
            assert_eq!(success(&g.url(&format!("/api/v1/status/tsdb{query}"))), want, "through {}{query}", g.port);
        }
    }
}

#[test]
fn with_auth_status_tsdb_needs_read_and_the_others_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let g = Gemini::start(dir.path(), &["--auth-enabled"]);
    let statement = |q: &str, auth: &str| {
        let a = g.post(&format!("/query?db=prometheus&q={}{auth}", urlencode(q)), &[], b"");
        assert_eq!(a.status, 200, "{q}: {}", a.text());
    };
    statement("CREATE USER admin WITH PASSWORD 'Adm1n-pass' WITH ALL PRIVILEGES", "");
    statement("CREATE USER bob WITH PASSWORD 'b0b-pass'", "&u=admin&p=Adm1n-pass");
    let status = |path: &str, auth: &str| get_json(&g.url(&format!("{path}{auth}"))).0;
    for path in ["/api/v1/status/tsdb?db=prometheus", "/api/v1/status/flags?x=", "/api/v1/status/runtimeinfo?x=", "/api/v1/format_query?query=up"] {
        assert_eq!(status(path, ""), 401, "{path} without credentials");
        assert_eq!(status(path, "&u=admin&p=Adm1n-pass"), 200, "{path} as admin");
    }
    assert_eq!(status("/api/v1/status/tsdb?db=prometheus", "&u=bob&p=b0b-pass"), 403, "no READ on prometheus");
    for path in ["/api/v1/status/flags?x=", "/api/v1/status/runtimeinfo?x=", "/api/v1/format_query?query=up"] {
        assert_eq!(status(path, "&u=bob&p=b0b-pass"), 200, "{path}: credentials only");
    }
    statement("GRANT READ ON prometheus TO bob", "&u=admin&p=Adm1n-pass");
    assert_eq!(status("/api/v1/status/tsdb?db=prometheus", "&u=bob&p=b0b-pass"), 200, "READ on prometheus");
}
