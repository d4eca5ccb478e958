//! Helpers for the cluster tests (`tests/tests/cluster*.rs`): `gemini` nodes on loopback that
//! know each other through a peer file, what one node holds itself, PromQL through a node, a
//! node's own metrics, and freezing nodes with SIGSTOP (always resumed, also when a test fails).

use crate::*;
use proto::prometheus as pb;
use std::path::Path;

/// The shared secret of the nodes' internal requests.
pub const SECRET: &str = "cluster-test-secret";

/// A cluster's nodes and their data directories (removed with them).
pub struct Nodes {
    pub nodes: Vec<Gemini>,
    _dirs: Vec<tempfile::TempDir>,
}

/// `n` nodes that know each other through a peer file (so it can grow), with `rf` copies.
pub fn cluster(n: usize, rf: usize, peers_file: &Path) -> Nodes {
    cluster_with(n, rf, peers_file, &[])
}

/// `cluster` with `extra` flags for every node.
pub fn cluster_with(n: usize, rf: usize, peers_file: &Path, extra: &[&str]) -> Nodes {
    std::env::set_var("GEMINI_CLUSTER_SECRET", SECRET);
    let ports: Vec<u16> = (0..n).map(|_| free_port()).collect();
    let names: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    std::fs::write(peers_file, names.join("\n")).unwrap();
    let dirs: Vec<tempfile::TempDir> = (0..n).map(|_| tempfile::tempdir().unwrap()).collect();
    let nodes = ports.iter().zip(&dirs).map(|(port, dir)| start_node_with(*port, dir.path(), rf, peers_file, extra)).collect();
    Nodes { nodes, _dirs: dirs }
}

pub fn start_node(port: u16, dir: &Path, rf: usize, peers_file: &Path) -> Gemini {
    start_node_with(port, dir, rf, peers_file, &[])
}

pub fn start_node_with(port: u16, dir: &Path, rf: usize, peers_file: &Path, extra: &[&str]) -> Gemini {
    let (me, rf) = (format!("127.0.0.1:{port}"), rf.to_string());
    let mut args = vec!["--cluster.self", &me, "--cluster.peers-file", peers_file.to_str().unwrap(), "--cluster.replication-factor", &rf];
    args.extend(extra);
    Gemini::start_on(port, dir, &args)
}

/// A node's name as its peers know it (and as answers name it).
pub fn node_name(g: &Gemini) -> String {
    format!("127.0.0.1:{}", g.port)
}

/// How many series named `name` one node holds itself (its internal listing, no fan-out).
pub fn own_series(g: &Gemini, db: &str, name: &str) -> usize {
    let request = pb::ReadRequest { queries: vec![query_all(vec![matcher(0, "__name__", name)])], accepted_response_types: vec![] };
    let body = snap::raw::Encoder::new().compress_vec(&prost::Message::encode_to_vec(&request)).unwrap();
    let headers = [PROTO_HEADERS.as_slice(), &[("X-Gemini-Cluster-Secret", SECRET)]].concat();
    let a = g.post(&format!("/internal/v1/series?db={db}"), &headers, &body);
    assert_eq!(a.status, 200, "{}", a.text());
    decode_samples(&a.body).results[0].timeseries.len()
}

/// Every sample one node holds itself of the series matching `matchers` (its internal read,
/// no fan-out), in whichever form the node answers it.
pub fn own_samples(g: &Gemini, db: &str, matchers: Vec<pb::LabelMatcher>) -> Series {
    let query = query_all(matchers);
    let (min_t, max_t) = (query.start_timestamp_ms, query.end_timestamp_ms);
    let request = pb::ReadRequest { queries: vec![query], accepted_response_types: vec![] };
    let body = snap::raw::Encoder::new().compress_vec(&prost::Message::encode_to_vec(&request)).unwrap();
    let headers = [PROTO_HEADERS.as_slice(), &[("X-Gemini-Cluster-Secret", SECRET)]].concat();
    let a = g.post(&format!("/internal/v1/read?db={db}"), &headers, &body);
    assert_eq!(a.status, 200, "{}", a.text());
    if a.content_type == STREAMED {
        return decode_streamed(&a.body, min_t, max_t);
    }
    let mut results = decode_samples(&a.body).results;
    assert_eq!(results.len(), 1);
    let mut got = to_series(results.remove(0).timeseries);
    got.retain(|_, v| !v.is_empty());
    got
}

/// A PromQL instant query through one node: the whole JSON answer of a 200 `success`.
pub fn promql_answer(g: &Gemini, query: &str, time_s: i64) -> serde_json::Value {
    let a = g.get(&format!("/api/v1/query?query={}&time={time_s}", urlencode(query)));
    assert_eq!(a.status, 200, "{query}: {}", a.text());
    let body: serde_json::Value = serde_json::from_slice(&a.body).unwrap();
    assert_eq!(body["status"], "success", "{body}");
    body
}

/// A PromQL instant query through one node: the answer's `data.result` after a success.
pub fn promql(g: &Gemini, query: &str, time_s: i64) -> Vec<serde_json::Value> {
    let body = promql_answer(g, query, time_s);
    body["data"]["result"].as_array().unwrap_or_else(|| panic!("{body}")).clone()
}

/// The single value of an instant query answering one sample.
pub fn promql_value(g: &Gemini, query: &str, time_s: i64) -> f64 {
    let result = promql(g, query, time_s);
    assert_eq!(result.len(), 1, "{query}: {result:?}");
    result[0]["value"][1].as_str().unwrap().parse().unwrap()
}

/// The value of one line of a node's `/metrics`, named with its labels exactly as written
/// there (`name{label="value"}`); `None` when there is no such line.
pub fn metric_value(g: &Gemini, series: &str) -> Option<f64> {
    let metrics = g.get("/metrics").text();
    let prefix = format!("{series} ");
    metrics.lines().find_map(|l| l.strip_prefix(&prefix)).map(|v| v.trim().parse().unwrap_or_else(|_| panic!("{series}: {v:?}")))
}

/// `metric_value` of a line that must be there: fails naming it when the node has no such line
/// (a wait on a metric that is missing must fail, not pass).
pub fn metric(g: &Gemini, series: &str) -> f64 {
    metric_value(g, series).unwrap_or_else(|| panic!("no line {series:?} in the /metrics of 127.0.0.1:{}", g.port))
}

/// Nodes stopped with SIGSTOP; they get SIGCONT when this is dropped, also when a test panics
/// with them frozen (a stopped process would otherwise outlive the test's wait for it).
pub struct Frozen {
    pids: Vec<u32>,
}

impl Frozen {
    pub fn new(nodes: &[&Gemini]) -> Frozen {
        let frozen = Frozen { pids: nodes.iter().map(|g| g.pid()).collect() };
        for pid in &frozen.pids {
            assert!(signal("-STOP", *pid), "kill -STOP {pid} failed");
        }
        // SIGSTOP takes effect when each thread is next scheduled: on a busy machine a thread
        // may still answer a request after `kill` returned. Frozen means every thread stopped.
        for pid in &frozen.pids {
            crate::wait_until("the node's threads stop", std::time::Duration::from_secs(10), || all_threads_stopped(*pid));
        }
        frozen
    }

    /// SIGCONT now (dropping does the same).
    pub fn resume(self) {}
}

impl Drop for Frozen {
    /// Never panics: a panic while unwinding would abort before the other nodes are resumed.
    fn drop(&mut self) {
        for pid in &self.pids {
            if !signal("-CONT", *pid) {
                eprintln!("kill -CONT {pid} failed");
            }
        }
    }
}

/// Whether every thread of `pid` is stopped (state `T` in `/proc/<pid>/task/*/stat`).
fn all_threads_stopped(pid: u32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return false };
    tasks.flatten().all(|t| {
        let stat = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
        // The state follows the command name, which is in parentheses.
        stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('T'))
    })
}

/// `kill <which> <pid>`; whether it succeeded.
fn signal(which: &str, pid: u32) -> bool {
    std::process::Command::new("kill").arg(which).arg(pid.to_string()).status().is_ok_and(|s| s.success())
}
