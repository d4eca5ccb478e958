//! Prometheus' HTTP API end to end, as Grafana and other clients use it: series, label names
//! and values (with and without `match[]`, `start`/`end`, `limit`), metadata from remote
//! write, build info, the empty exemplars/rules/alerts answers, GET and form-encoded POST,
//! `db=`, Prometheus' error envelope and texts for bad parameters, and the credentials and
//! grants of remote read. Expected answers are written out here, from the data the test
//! writes. (The PromQL answers themselves are compared with Prometheus in promql_diff.rs.)

use proto::prometheus::{self as pb, metric_metadata::MetricType};
use serde_json::{json, Value};
use tests::*;

const T0: i64 = 1_700_000_000_000;
const FORM: [(&str, &str); 1] = [("Content-Type", "application/x-www-form-urlencoded")];

fn meta(kind: MetricType, family: &str, help: &str, unit: &str) -> pb::MetricMetadata {
    pb::MetricMetadata { r#type: kind as i32, metric_family_name: family.into(), help: help.into(), unit: unit.into() }
}

/// up{a} at T0 and T0+15s, up{b} at T0+60s, two CPU series at T0, old_metric an hour earlier.
fn write_data(g: &Gemini, db: &str) {
    let req = pb::WriteRequest {
        timeseries: vec![
            series(&[("__name__", "up"), ("instance", "a"), ("job", "node")], &[(T0, 1.0), (T0 + 15_000, 1.0)]),
            series(&[("__name__", "up"), ("instance", "b"), ("job", "node")], &[(T0 + 60_000, 0.0)]),
            series(&[("__name__", "node_cpu_seconds_total"), ("cpu", "0"), ("mode", "idle")], &[(T0, 10.5)]),
            series(&[("__name__", "node_cpu_seconds_total"), ("cpu", "0"), ("mode", "user")], &[(T0, 2.25)]),
            series(&[("__name__", "old_metric"), ("job", "old")], &[(T0 - 3_600_000, 7.0)]),
        ],
        metadata: vec![
            meta(MetricType::Counter, "node_cpu_seconds_total", "Seconds the CPUs spent in each mode.", "seconds"),
            meta(MetricType::Gauge, "up", "1 if the target is up.", ""),
        ],
    };
    let a = g.write(db, &req);
    assert_eq!(a.status, 204, "{}", a.text());
}

/// `key=value&…` with both sides URL-encoded (`match[]` included).
fn q(pairs: &[(&str, &str)]) -> String {
    pairs.iter().map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v))).collect::<Vec<_>>().join("&")
}

/// A 200 answer's envelope: `"status":"success"`, then `data` (and `warnings`, if any).
fn success(a: &Answer, what: &str) -> Value {
    assert_eq!(a.status, 200, "{what}: {}", a.text());
    assert_eq!(a.content_type, "application/json", "{what}");
    let v: Value = serde_json::from_slice(&a.body).unwrap_or_else(|e| panic!("{what}: {e}: {}", a.text()));
    assert_eq!(v["status"], "success", "{what}: {v}");
    v
}

fn get(g: &Gemini, path: &str, params: &[(&str, &str)]) -> Value {
    let what = format!("GET {path}?{}", q(params));
    success(&g.get(&format!("{path}?{}", q(params))), &what)
}

/// Asserts Prometheus' error envelope with this status, errorType and message.
fn refused(a: &Answer, status: u16, kind: &str, error: &str) {
    assert_eq!(a.status, status, "{}", a.text());
    let v: Value = serde_json::from_slice(&a.body).unwrap_or_else(|e| panic!("{e}: {}", a.text()));
    assert_eq!(v, json!({"status": "error", "errorType": kind, "error": error}));
}

fn up(instance: &str) -> Value {
    json!({"__name__": "up", "instance": instance, "job": "node"})
}

#[test]
fn series_labels_values_and_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let g = Gemini::start(dir.path(), &[]);
    write_data(&g, "prometheus");

    // Series: every one matching, union over match[], sorted by labels.
    let v = get(&g, "/api/v1/series", &[("match[]", "up")]);
    assert_eq!(v, json!({"status": "success", "data": [up("a"), up("b")]}), "no warnings key without warnings");
    let v = get(&g, "/api/v1/series", &[("match[]", "old_metric"), ("match[]", r#"up{instance="a"}"#), ("match[]", "up{instance=~\"a|x\"}")]);
    assert_eq!(v["data"], json!([{"__name__": "old_metric", "job": "old"}, up("a")]));
    let v = get(&g, "/api/v1/series", &[("match[]", r#"{__name__=~"node_.*",mode!="idle"}"#)]);
    assert_eq!(v["data"], json!([{"__name__": "node_cpu_seconds_total", "cpu": "0", "mode": "user"}]));
    // With start/end: only series with a sample in [start, end], both ends included.
    let at = |ms: i64| format!("{}.{:03}", ms / 1000, ms % 1000);
    let v = get(&g, "/api/v1/series", &[("match[]", "up"), ("start", &at(T0 + 30_000)), ("end", &at(T0 + 60_000))]);
    assert_eq!(v["data"], json!([up("b")]));
    let v = get(&g, "/api/v1/series", &[("match[]", "up"), ("start", &at(T0 + 15_000)), ("end", &at(T0 + 59_999))]);
    assert_eq!(v["data"], json!([up("a")]));
    let v = get(&g, "/api/v1/series", &[("match[]", "up"), ("start", "2023-11-14T22:13:36Z"), ("end", "2023-11-14T22:14:19Z")]);
    assert_eq!(v["data"], json!([]), "between the samples (T0+16s to T0+59s)");
    let v = get(&g, "/api/v1/series", &[("match[]", r#"{job=~".+"}"#), ("end", &at(T0 - 1))]);
    assert_eq!(v["data"], json!([{"__name__": "old_metric", "job": "old"}]), "end alone");
    // Grafana's metrics browser call, with a limit.
    let v = get(&g, "/api/v1/series", &[("match[]", r#"{__name__!=""}"#), ("limit", "2")]);
    assert_eq!(v["data"].as_array().unwrap().len(), 2, "{v}");
    assert_eq!(v["data"][0]["__name__"], "node_cpu_seconds_total");
    assert_eq!(v["warnings"], json!(["results truncated due to limit"]));
    let v = get(&g, "/api/v1/series", &[("match[]", r#"{__name__!=""}"#), ("limit", "40000")]);
    assert_eq!(v["data"].as_array().unwrap().len(), 5);
    assert_eq!(v.get("warnings"), None);

    // Label names.
    let v = get(&g, "/api/v1/labels", &[]);
    assert_eq!(v["data"], json!(["__name__", "cpu", "instance", "job", "mode"]));
    let v = get(&g, "/api/v1/labels", &[("match[]", "up"), ("match[]", "old_metric")]);
    assert_eq!(v["data"], json!(["__name__", "instance", "job"]));
    let v = get(&g, "/api/v1/labels", &[("start", &at(T0 - 3_600_000)), ("end", &at(T0 - 1))]);
    assert_eq!(v["data"], json!(["__name__", "job"]));
    let v = get(&g, "/api/v1/labels", &[("limit", "1")]);
    assert_eq!((&v["data"], &v["warnings"]), (&json!(["__name__"]), &json!(["results truncated due to limit"])));

    // Label values; __name__'s are the metric names.
    let v = get(&g, "/api/v1/label/__name__/values", &[]);
    assert_eq!(v["data"], json!(["node_cpu_seconds_total", "old_metric", "up"]));
    let v = get(&g, "/api/v1/label/mode/values", &[]);
    assert_eq!(v["data"], json!(["idle", "user"]));
    let v = get(&g, "/api/v1/label/job/values", &[("match[]", "up")]);
    assert_eq!(v["data"], json!(["node"]));
    let v = get(&g, "/api/v1/label/job/values", &[("start", &at(T0)), ("end", &at(T0 + 60_000))]);
    assert_eq!(v["data"], json!(["node"]), "old_metric's job has no sample in range");
    let v = get(&g, "/api/v1/label/instance/values", &[("match[]", "up"), ("start", &at(T0 + 60_000))]);
    assert_eq!(v["data"], json!(["b"]), "start alone");
    let v = get(&g, "/api/v1/label/nosuch/values", &[]);
    assert_eq!(v["data"], json!([]));
    let v = get(&g, "/api/v1/label/__name__/values", &[("limit", "2")]);
    assert_eq!(v["data"], json!(["node_cpu_seconds_total", "old_metric"]));

    // Metadata as remote write carried it.
    let cpu = json!([{"type": "counter", "help": "Seconds the CPUs spent in each mode.", "unit": "seconds"}]);
    let upm = json!([{"type": "gauge", "help": "1 if the target is up.", "unit": ""}]);
    let v = get(&g, "/api/v1/metadata", &[]);
    assert_eq!(v["data"], json!({"node_cpu_seconds_total": cpu, "up": upm}));
    assert_eq!(get(&g, "/api/v1/metadata", &[("metric", "up")])["data"], json!({"up": upm}));
    assert_eq!(get(&g, "/api/v1/metadata", &[("limit", "1")])["data"].as_object().unwrap().len(), 1);
    assert_eq!(get(&g, "/api/v1/metadata", &[("limit", "0")])["data"], json!({}));
    assert_eq!(get(&g, "/api/v1/metadata", &[("metric", "nosuch")])["data"], json!({}));
    refused(&g.get("/api/v1/metadata?limit=x"), 400, "bad_data", "limit must be a number");

    // What Grafana asks for at start.
    let v = get(&g, "/api/v1/status/buildinfo", &[]);
    assert_eq!(v["data"]["version"], "2.42.0");
    assert_eq!(v["data"]["revision"], env!("CARGO_PKG_VERSION"));
    for key in ["branch", "buildUser", "buildDate", "goVersion"] {
        assert_eq!(v["data"][key], "", "{key}");
    }
    assert_eq!(get(&g, "/api/v1/query_exemplars", &[("query", "up"), ("start", "1"), ("end", "2")]), json!({"status": "success", "data": []}));
    assert_eq!(get(&g, "/api/v1/rules", &[]), json!({"status": "success", "data": {"groups": []}}));
    assert_eq!(get(&g, "/api/v1/rules", &[("type", "alert")])["data"], json!({"groups": []}));
    assert_eq!(get(&g, "/api/v1/alerts", &[]), json!({"status": "success", "data": {"alerts": []}}));
}

#[test]
fn form_bodies_and_databases() {
    let dir = tempfile::tempdir().unwrap();
    let g = Gemini::start(dir.path(), &["--databases", "prometheus,other"]);
    write_data(&g, "other");

    // POST with a form body, match[] repeated, as Grafana sends it with method POST.
    let body = q(&[("match[]", r#"up{instance="b"}"#), ("match[]", "old_metric"), ("db", "other")]);
    let v = success(&g.post("/api/v1/series", &FORM, body.as_bytes()), "POST series");
    assert_eq!(v["data"], json!([{"__name__": "old_metric", "job": "old"}, up("b")]));
    // db in the URL, the rest in the body; the body's value wins over the URL's.
    let v = success(&g.post("/api/v1/labels?db=other", &FORM, q(&[("match[]", "old_metric")]).as_bytes()), "POST labels");
    assert_eq!(v["data"], json!(["__name__", "job"]));
    let v = success(&g.post("/api/v1/label/job/values?db=prometheus", &FORM, b"db=other"), "POST values");
    assert_eq!(v["data"], json!(["node", "old"]));
    // Without a form content type the body is not read (Go's ParseForm).
    let a = g.post("/api/v1/series?db=other", &[("Content-Type", "text/plain")], q(&[("match[]", "up")]).as_bytes());
    refused(&a, 400, "bad_data", "no match[] parameter provided");

    // The default database is `prometheus`, empty here.
    assert_eq!(get(&g, "/api/v1/series", &[("match[]", "up")])["data"], json!([]));
    assert_eq!(get(&g, "/api/v1/label/__name__/values", &[("db", "other")])["data"], json!(["node_cpu_seconds_total", "old_metric", "up"]));
    refused(&g.get("/api/v1/labels?db=nosuch"), 404, "not_found", "database not found: nosuch");
    refused(&g.get("/api/v1/labels?db=other&rp=nosuch"), 404, "not_found", "retention policy not found: nosuch");
    assert_eq!(get(&g, "/api/v1/labels", &[("db", "other"), ("rp", "autogen"), ("match[]", "old_metric")])["data"], json!(["__name__", "job"]));
    let a = g.post("/api/v1/query", &FORM, b"query=1%2B1&time=x");
    refused(&a, 400, "bad_data", "invalid parameter \"time\": Invalid time value for 'time': cannot parse \"x\" to a valid timestamp");
}

#[test]
fn bad_parameters_in_prometheus_words() {
    let dir = tempfile::tempdir().unwrap();
    let g = Gemini::start(dir.path(), &[]);
    write_data(&g, "prometheus");
    let err = |path: &str, params: &[(&str, &str)], kind: &str, error: &str| refused(&g.get(&format!("{path}?{}", q(params))), 400, kind, error);

    err("/api/v1/series", &[], "bad_data", "no match[] parameter provided");
    err("/api/v1/series", &[("match[]", "up"), ("start", "yesterday")], "bad_data", "invalid parameter \"start\": Invalid time value for 'start': cannot parse \"yesterday\" to a valid timestamp");
    err("/api/v1/series", &[("match[]", "up"), ("limit", "-1")], "bad_data", "invalid parameter \"limit\": limit must be non-negative");
    for bad in ["up +", "rate(up[5m])", r#"{job=~".*"}"#] {
        let a = g.get(&format!("/api/v1/series?{}", q(&[("match[]", bad)])));
        assert_eq!(a.status, 400, "{bad}: {}", a.text());
        let v: Value = serde_json::from_slice(&a.body).unwrap();
        assert_eq!((&v["status"], &v["errorType"]), (&json!("error"), &json!("bad_data")), "{bad}");
        assert!(v["error"].as_str().unwrap().starts_with("invalid parameter \"match[]\": "), "{bad}: {v}");
    }
    let a = g.get(&format!("/api/v1/labels?{}", q(&[("match[]", "up{")])));
    assert_eq!((a.status, serde_json::from_slice::<Value>(&a.body).unwrap()["errorType"].clone()), (400, json!("bad_data")), "{}", a.text());
    err("/api/v1/label/a-b/values", &[], "bad_data", "invalid label name: \"a-b\"");
    err("/api/v1/label/job/values", &[("end", "x")], "bad_data", "invalid parameter \"end\": Invalid time value for 'end': cannot parse \"x\" to a valid timestamp");
    err("/api/v1/rules", &[("type", "x")], "bad_data", "invalid parameter \"type\": not supported value \"x\"");
    err("/api/v1/query_exemplars", &[("query", "up"), ("start", "2"), ("end", "1")], "bad_data", "end timestamp must not be before start timestamp");

    // Instant and range queries: the parameters are checked before any evaluation.
    err("/api/v1/query", &[("query", "up"), ("time", "x")], "bad_data", "invalid parameter \"time\": Invalid time value for 'time': cannot parse \"x\" to a valid timestamp");
    err("/api/v1/query", &[("query", "up"), ("timeout", "soon")], "bad_data", "invalid parameter \"timeout\": cannot parse \"soon\" to a valid duration");
    err("/api/v1/query", &[("query", "up"), ("lookback_delta", "x")], "bad_data", "error parsing lookback delta duration: cannot parse \"x\" to a valid duration");
    let range = "/api/v1/query_range";
    err(range, &[("query", "up"), ("end", "2"), ("step", "1")], "bad_data", "invalid parameter \"start\": cannot parse \"\" to a valid timestamp");
    err(range, &[("query", "up"), ("start", "1"), ("end", "2015-13-01T00:00:00Z"), ("step", "1")], "bad_data", "invalid parameter \"end\": cannot parse \"2015-13-01T00:00:00Z\" to a valid timestamp");
    err(range, &[("query", "up"), ("start", "2"), ("end", "1"), ("step", "1")], "bad_data", "invalid parameter \"end\": end timestamp must not be before start time");
    err(range, &[("query", "up"), ("start", "1"), ("end", "2"), ("step", "5 minutes")], "bad_data", "invalid parameter \"step\": cannot parse \"5 minutes\" to a valid duration");
    for step in ["0", "-15", "0s"] {
        err(range, &[("query", "up"), ("start", "1"), ("end", "2"), ("step", step)], "bad_data", "invalid parameter \"step\": zero or negative query resolution step widths are not accepted. Try a positive integer");
    }
    let too_many = "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)";
    err(range, &[("query", "up"), ("start", "0"), ("end", "11001"), ("step", "1")], "bad_data", too_many);
    err(range, &[("query", "up"), ("start", "2023-11-14T00:00:00Z"), ("end", "2023-11-22T00:00:00Z"), ("step", "1m")], "bad_data", too_many);
    let a = g.post(range, &FORM, q(&[("query", "up"), ("start", "0"), ("end", "11001"), ("step", "1")]).as_bytes());
    refused(&a, 400, "bad_data", too_many);
    let a = agent().delete(&g.url("/api/v1/series")).call().unwrap();
    assert_eq!(a.status().as_u16(), 405, "DELETE is not Prometheus' API");
}

fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
}

#[test]
fn credentials_and_grants_as_remote_read() {
    let dir = tempfile::tempdir().unwrap();
    let g = Gemini::start(dir.path(), &["--auth-enabled"]);
    let setup = "CREATE USER admin WITH PASSWORD 'Adm1n-pass' WITH ALL PRIVILEGES";
    assert_eq!(g.post(&format!("/query?q={}", urlencode(setup)), &[], b"").status, 200);
    let admin = basic("admin", "Adm1n-pass");
    let users = "CREATE USER reader WITH PASSWORD 'r-pass'; GRANT READ ON prometheus TO reader; CREATE USER writer WITH PASSWORD 'w-pass'; GRANT WRITE ON prometheus TO writer";
    assert_eq!(g.post(&format!("/query?q={}", urlencode(users)), &[("Authorization", &admin)], b"").status, 200);
    let w = pb::WriteRequest { timeseries: vec![series(&[("__name__", "up"), ("job", "x")], &[(T0, 1.0)])], metadata: vec![] };
    assert_eq!(g.post("/api/v1/prom/write?db=prometheus&u=writer&p=w-pass", &PROTO_HEADERS, &write_body(&w)).status, 204);

    let paths = ["/api/v1/series?match[]=up", "/api/v1/labels", "/api/v1/label/job/values", "/api/v1/metadata", "/api/v1/query?query=up", "/api/v1/query_range?query=up&start=1&end=2&step=1", "/api/v1/query_exemplars?query=up", "/api/v1/status/buildinfo", "/api/v1/rules", "/api/v1/alerts"];
    for path in paths {
        let path = path.replace("[]", "%5B%5D");
        let a = g.get(&path);
        refused(&a, 401, "unauthorized", "unable to parse authentication credentials");
        assert_eq!(a.header("www-authenticate"), Some("Basic realm=\"gemini\""), "{path}");
        let a = g.get(&format!("{path}{}u=reader&p=wrong", if path.contains('?') { "&" } else { "?" }));
        refused(&a, 401, "unauthorized", "authorization failed");
    }
    // A user without READ on the database: 403 on everything that reads it.
    let writer = basic("writer", "w-pass");
    for path in &paths[..7] {
        let a = g.post(&path.replace("[]", "%5B%5D"), &[("Authorization", &writer)], b"");
        refused(&a, 403, "forbidden", "\"writer\" user is not authorized to read from database \"prometheus\"");
    }
    // Grafana with basic auth, and the u/p parameters.
    let reader = basic("reader", "r-pass");
    let v = success(&g.post("/api/v1/series", &[("Authorization", &reader), FORM[0]], b"match%5B%5D=up"), "reader");
    assert_eq!(v["data"], json!([{"__name__": "up", "job": "x"}]));
    let v = success(&g.get("/api/v1/label/job/values?u=reader&p=r-pass"), "reader u/p");
    assert_eq!(v["data"], json!(["x"]));
    success(&g.get("/api/v1/status/buildinfo?u=writer&p=w-pass"), "buildinfo needs credentials, no grant");
    let a = g.get("/api/v1/labels?db=other&u=reader&p=r-pass");
    refused(&a, 403, "forbidden", "\"reader\" user is not authorized to read from database \"other\"");
}
