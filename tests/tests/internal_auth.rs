//! The `/internal/*` endpoints the nodes of a cluster use among themselves skip user
//! authentication: only the cluster secret (`X-Gemini-Cluster-Secret`) admits a request. For
//! each of them, a request without the secret, with a wrong one, or with a user's credentials
//! instead answers 403 and stores (or gives away) nothing, checked by authorized reads through
//! the normal endpoints; the same request with the secret does store it, so the check could
//! have seen it.

use proto::prometheus as pb;
use std::path::Path;
use std::time::Duration;
use tests::*;

const SECRET: &str = "internal-auth-secret";
/// Wrong in its last character only.
const SAME_LENGTH: &str = "internal-auth-secreT";
/// `root:pw`, the admin the test makes.
const ROOT: (&str, &str) = ("Authorization", "Basic cm9vdDpwdw==");
const BOUND: Duration = Duration::from_secs(30);

/// Two nodes with the secret, a peer file, two copies of every series and `--auth-enabled`, as
/// `cluster.rs` starts them; an admin `root` exists on both.
fn two_nodes(files: &Path, dirs: &[tempfile::TempDir; 2]) -> [Gemini; 2] {
    std::env::set_var("GEMINI_CLUSTER_SECRET", SECRET);
    let peers = files.join("peers");
    let ports = [free_port(), free_port()];
    std::fs::write(&peers, ports.iter().map(|p| format!("127.0.0.1:{p}\n")).collect::<String>()).unwrap();
    let start = |i: usize| {
        let me = format!("127.0.0.1:{}", ports[i]);
        let args = ["--cluster.self", &me, "--cluster.peers-file", peers.to_str().unwrap(), "--cluster.replication-factor", "2", "--auth-enabled"];
        Gemini::start_on(ports[i], dirs[i].path(), &args)
    };
    let nodes = [start(0), start(1)];
    let create = format!("/query?q={}", urlencode("CREATE USER root WITH PASSWORD 'pw' WITH ALL PRIVILEGES"));
    wait_until("the first admin is accepted", BOUND, || nodes[0].post(&create, &[], b"").status == 200);
    wait_until("the admin reaches the other node", BOUND, || nodes[1].post("/query?q=SHOW%20DATABASES", &[ROOT], b"").status == 200);
    nodes
}

/// A successful InfluxQL answer (200, no error) from an authorized request.
fn query(g: &Gemini, q: &str) -> serde_json::Value {
    let a = g.post(&format!("/query?q={}", urlencode(q)), &[ROOT], b"");
    assert_eq!(a.status, 200, "{q}: {}", a.text());
    let v: serde_json::Value = serde_json::from_slice(&a.body).unwrap();
    assert!(v.get("error").is_none() && v["results"][0].get("error").is_none(), "{q}: {v}");
    assert_eq!(v["results"][0]["statement_id"], 0, "{q}: {v}");
    v
}

/// The first column of every row of a successful `SHOW …` (none when it lists nothing).
fn listed(g: &Gemini, q: &str) -> Vec<String> {
    let v = query(g, q);
    match v["results"][0]["series"][0]["values"].as_array() {
        None => vec![],
        Some(rows) => rows.iter().map(|r| r[0].as_str().unwrap_or_else(|| panic!("{q}: {v}")).to_string()).collect(),
    }
}

fn read_request(name: &str) -> Vec<u8> {
    let request = pb::ReadRequest { queries: vec![query_all(vec![matcher(0, "__name__", name)])], accepted_response_types: vec![] };
    snap::raw::Encoder::new().compress_vec(&prost::Message::encode_to_vec(&request)).unwrap()
}

/// The series named `name` in `db` through the normal, authorized remote read (all nodes
/// merged); the read must succeed.
fn series_named(g: &Gemini, db: &str, name: &str) -> Series {
    let a = g.post(&format!("/api/v1/prom/read?db={db}"), &[PROTO_HEADERS.as_slice(), &[ROOT]].concat(), &read_request(name));
    assert_eq!(a.status, 200, "authorized read of {name}: {}", a.text());
    let resp = decode_samples(&a.body);
    assert_eq!(resp.results.len(), 1);
    to_series(resp.results.into_iter().next().unwrap().timeseries)
}

fn gauge(name: &str, i: usize, t: i64) -> pb::TimeSeries {
    series(&[("__name__", name), ("i", &i.to_string())], &[(t, i as f64)])
}

/// The headers of each refused attempt: none, a wrong secret (shorter, and as long as the
/// right one), an empty one, and a user's credentials instead of the secret.
fn refused_attempts() -> Vec<(&'static str, Vec<(&'static str, &'static str)>)> {
    assert_eq!(SAME_LENGTH.len(), SECRET.len());
    vec![
        ("no secret", vec![]),
        ("a wrong secret", vec![("X-Gemini-Cluster-Secret", "wrong")]),
        ("a wrong secret of the right length", vec![("X-Gemini-Cluster-Secret", SAME_LENGTH)]),
        ("an empty secret", vec![("X-Gemini-Cluster-Secret", "")]),
        ("an admin's credentials and no secret", vec![ROOT]),
    ]
}

fn check_refused(a: &Answer, endpoint: &str, attempt: &str) {
    assert_eq!(a.status, 403, "{endpoint} with {attempt}: {}", a.text());
    let v: serde_json::Value = serde_json::from_slice(&a.body).unwrap_or_else(|_| panic!("{endpoint} with {attempt}: {}", a.text()));
    assert_eq!(v["error"], "internal endpoint: the cluster secret is required", "{endpoint} with {attempt}");
}

#[test]
fn the_internal_endpoints_the_engine_serves_are_the_ones_checked_here() {
    // A new internal endpoint needs its own check below.
    let source = std::fs::read_to_string(project_root().join("engine/src/http/mod.rs")).unwrap();
    let mut served: Vec<&str> = source.match_indices("\"/internal").map(|(i, _)| source[i + 1..].split('"').next().unwrap()).collect();
    served.sort();
    assert_eq!(served, ["/internal/v1/catalog", "/internal/v1/labels", "/internal/v1/read", "/internal/v1/select_tier", "/internal/v1/series", "/internal/v1/write"]);
}

#[test]
fn internal_write_without_the_secret_is_refused_and_stores_nothing() {
    let (files, dirs) = (tempfile::tempdir().unwrap(), [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()]);
    let nodes = two_nodes(files.path(), &dirs);
    let t = now_s() * 1000;
    let req = pb::WriteRequest { timeseries: (0..10).map(|i| gauge("intruder", i, t)).collect(), metadata: vec![] };
    let path = "/internal/v1/write?db=prometheus";
    for (attempt, extra) in refused_attempts() {
        let a = nodes[0].post(path, &[PROTO_HEADERS.as_slice(), &extra].concat(), &write_body(&req));
        check_refused(&a, path, attempt);
        for g in &nodes {
            assert!(series_named(g, "prometheus", "intruder").is_empty(), "{path} with {attempt}: stored, read through {}", g.port);
            let measurements = listed(g, "SHOW MEASUREMENTS ON prometheus");
            assert!(!measurements.contains(&"intruder".to_string()), "{path} with {attempt}: {measurements:?}");
        }
    }
    // With the secret the same request is stored: the reads above would have seen it.
    let a = nodes[0].post(path, &[PROTO_HEADERS.as_slice(), &[("X-Gemini-Cluster-Secret", SECRET)]].concat(), &write_body(&req));
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(series_named(&nodes[0], "prometheus", "intruder").len(), 10);
}

/// A read of `private_metric` at `path`: every refused attempt on every node answers 403 and
/// nothing of the metric; then, with the secret, the first node answers 200 (returned).
fn refused_then_answered(nodes: &[Gemini; 2], path: &str) -> Answer {
    for (attempt, extra) in refused_attempts() {
        for g in nodes {
            let a = g.post(path, &[PROTO_HEADERS.as_slice(), &extra].concat(), &read_request("private_metric"));
            check_refused(&a, path, attempt);
            assert!(!a.text().contains("private_metric"), "{path} with {attempt}: {}", a.text());
        }
    }
    let a = nodes[0].post(path, &[PROTO_HEADERS.as_slice(), &[("X-Gemini-Cluster-Secret", SECRET)]].concat(), &read_request("private_metric"));
    assert_eq!(a.status, 200, "{path}: {}", a.text());
    a
}

#[test]
fn internal_reads_without_the_secret_are_refused_and_give_nothing_away() {
    let (files, dirs) = (tempfile::tempdir().unwrap(), [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()]);
    let nodes = two_nodes(files.path(), &dirs);
    let t = now_s() * 1000;
    let req = pb::WriteRequest { timeseries: (0..10).map(|i| gauge("private_metric", i, t)).collect(), metadata: vec![] };
    let a = nodes[0].post("/api/v1/prom/write?db=prometheus", &[PROTO_HEADERS.as_slice(), &[ROOT]].concat(), &write_body(&req));
    assert_eq!(a.status, 204, "{}", a.text());
    assert_eq!(series_named(&nodes[1], "prometheus", "private_metric").len(), 10, "written");
    for endpoint in ["/internal/v1/read", "/internal/v1/series"] {
        // With the secret each node answers its own copies: the refusals hid something.
        let a = refused_then_answered(&nodes, &format!("{endpoint}?db=prometheus"));
        assert_eq!(decode_samples(&a.body).results[0].timeseries.len(), 10, "{endpoint}");
    }
    // A tier's windows: refused alike; with the secret the node answers (no window yet: the
    // samples are too new to be downsampled).
    refused_then_answered(&nodes, "/internal/v1/select_tier?db=prometheus&tier=5m");
    // Label listings from the index: refused alike; with the secret the node names the metric.
    let a = refused_then_answered(&nodes, "/internal/v1/labels?db=prometheus&label=__name__");
    let names: Vec<String> = serde_json::from_slice(&proto::remote::unsnappy(&a.body).unwrap()).unwrap();
    assert_eq!(names, ["private_metric"]);
}

#[test]
fn internal_catalog_without_the_secret_is_refused_and_changes_nothing() {
    let (files, dirs) = (tempfile::tempdir().unwrap(), [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()]);
    let nodes = two_nodes(files.path(), &dirs);
    query(&nodes[0], "CREATE DATABASE victim");
    let t = now_s() * 1000;
    let req = pb::WriteRequest { timeseries: (0..10).map(|i| gauge("kept", i, t)).collect(), metadata: vec![] };
    let a = nodes[0].post("/api/v1/prom/write?db=victim", &[PROTO_HEADERS.as_slice(), &[ROOT]].concat(), &write_body(&req));
    assert_eq!(a.status, 204, "{}", a.text());

    // Entries newer than any the nodes hold: a database made, an admin made, a database dropped.
    let later = serde_json::json!({ "time_ns": (now_s() + 3600) * 1_000_000_000, "node": "127.0.0.1:1" });
    let entry = |object: serde_json::Value| serde_json::json!({ "version": later, "born": later, "object": object });
    let entries = serde_json::json!([
        [["db", "intruder"], entry(serde_json::json!({ "default_policy": "autogen" }))],
        [["db", "victim"], entry(serde_json::Value::Null)],
        [["user", "mallory"], entry(serde_json::json!({ "name": "mallory", "hash": "x", "admin": true, "privileges": {} }))],
    ]);
    let body = snap::raw::Encoder::new().compress_vec(&serde_json::to_vec(&entries).unwrap()).unwrap();
    let headers = [("Content-Type", "application/json"), ("Content-Encoding", "snappy")];
    let path = "/internal/v1/catalog";
    for (attempt, extra) in refused_attempts() {
        let a = nodes[0].post(path, &[headers.as_slice(), &extra].concat(), &body);
        check_refused(&a, path, attempt);
        for g in &nodes {
            let dbs = listed(g, "SHOW DATABASES");
            assert!(dbs.contains(&"victim".to_string()) && !dbs.contains(&"intruder".to_string()), "{path} with {attempt}: {dbs:?} on {}", g.port);
            let users = listed(g, "SHOW USERS");
            assert_eq!(users, ["root"], "{path} with {attempt}: on {}", g.port);
            assert_eq!(series_named(g, "victim", "kept").len(), 10, "{path} with {attempt}: through {}", g.port);
        }
    }
    // With the secret the same entries are taken: the checks above would have seen them.
    let a = nodes[0].post(path, &[headers.as_slice(), &[("X-Gemini-Cluster-Secret", SECRET)]].concat(), &body);
    assert_eq!(a.status, 200, "{}", a.text());
    let dbs = listed(&nodes[0], "SHOW DATABASES");
    assert!(dbs.contains(&"intruder".to_string()) && !dbs.contains(&"victim".to_string()), "{dbs:?}");
    assert!(listed(&nodes[0], "SHOW USERS").contains(&"mallory".to_string()));
}
