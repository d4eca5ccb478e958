//! The real `gemini-operator` binary against a stand-in Kubernetes API server on loopback
//! (there is no API server on this machine): it finds the API through a kubeconfig, lists and
//! watches GeminiClusters, reconciles the one it finds into applied objects and a status,
//! serves `/health` and `/metrics`, and exits 0 on SIGTERM.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tests::{agent, bin, free_port};

type Log = Arc<Mutex<Vec<(String, String, Value)>>>;

fn cluster() -> Value {
    json!({
        "apiVersion": "gemini.io/v1alpha1", "kind": "GeminiCluster",
        "metadata": {"name": "metrics", "namespace": "monitoring", "uid": "u-1", "generation": 1, "resourceVersion": "5",
                     "finalizers": ["gemini.io/prometheus-wiring"]},
        "spec": {"image": "gemini:0.1.0", "replicas": 2},
    })
}

fn reply(stream: &mut TcpStream, code: u16, body: &Value) {
    let body = body.to_string();
    let head = format!("HTTP/1.1 {code} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n", body.len());
    let _ = stream.write_all(head.as_bytes()).and_then(|_| stream.write_all(body.as_bytes()));
}

/// The API server's answer to one request; `None` holds a watch open without events.
fn answer(method: &str, path: &str, query: &str, body: &Value) -> Option<(u16, Value)> {
    let not_found = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404});
    if method == "GET" && query.contains("watch=true") {
        return None;
    }
    Some(match method {
        "GET" if path.ends_with("/geminiclusters") => {
            (200, json!({"apiVersion": "gemini.io/v1alpha1", "kind": "GeminiClusterList", "metadata": {"resourceVersion": "5"}, "items": [cluster()]}))
        }
        // Every other list is empty; every single object is absent; so is the Prometheus Operator.
        "GET" if path.split('/').count() % 2 == 1 && !path.starts_with("/apis/monitoring.coreos.com") => {
            (200, json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": "5"}, "items": []}))
        }
        "GET" => (404, not_found),
        "PATCH" if path.starts_with("/apis/gemini.io/") => (200, cluster()),
        _ => (if method == "POST" { 201 } else { 200 }, body.clone()),
    })
}

fn serve(mut stream: TcpStream, log: Log) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let (method, target) = (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or("").to_string());
        let mut length = 0;
        loop {
            let mut h = String::new();
            reader.read_line(&mut h).unwrap();
            if h.trim().is_empty() {
                break;
            }
            if let Some((name, value)) = h.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap();
                }
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        log.lock().unwrap().push((method.clone(), path.to_string(), body.clone()));
        match answer(&method, path, query, &body) {
            Some((code, answer)) => reply(&mut stream, code, &answer),
            None => {
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
                std::thread::sleep(Duration::from_secs(600));
                return;
            }
        }
    }
}

#[test]
fn operator_reconciles_serves_metrics_and_stops_on_sigterm() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let api = format!("http://{}", listener.local_addr().unwrap());
    let log: Log = Arc::default();
    let server_log = log.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let log = server_log.clone();
            std::thread::spawn(move || serve(stream, log));
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters: [{{name: c, cluster: {{server: '{api}'}}}}]\nusers: [{{name: u, user: {{token: t}}}}]\n\
             contexts: [{{name: x, context: {{cluster: c, user: u, namespace: default}}}}]\ncurrent-context: x\n"
        ),
    )
    .unwrap();
    let port = free_port();
    let mut child = Command::new(bin("gemini-operator"))
        .args(["--metrics-addr", &format!("127.0.0.1:{port}")])
        .env("KUBECONFIG", &kubeconfig)
        .env_remove("KUBERNETES_SERVICE_HOST")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    let status_path = "/apis/gemini.io/v1alpha1/namespaces/monitoring/geminiclusters/metrics/status";
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        let found = log.lock().unwrap().iter().find(|(m, p, _)| m == "PATCH" && p == status_path).map(|(_, _, b)| b.clone());
        if let Some(s) = found {
            break s;
        }
        assert!(Instant::now() < deadline, "no status written; requests: {:?}", log.lock().unwrap().iter().map(|(m, p, _)| format!("{m} {p}")).collect::<Vec<_>>());
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(status["status"]["writeURL"], "http://metrics.monitoring.svc:8086/api/v1/prom/write?db=prometheus");
    let requests: Vec<String> = log.lock().unwrap().iter().map(|(m, p, _)| format!("{m} {p}")).collect();
    let sts = log.lock().unwrap().iter().find(|(m, p, _)| m == "PATCH" && p.ends_with("/statefulsets/metrics")).map(|(_, _, b)| b.clone());
    assert_eq!(sts.expect("the StatefulSet was applied")["spec"]["replicas"], 2, "{requests:?}");

    let http = agent();
    let health = http.get(&format!("http://127.0.0.1:{port}/health")).call().unwrap();
    assert_eq!(health.status(), 200);
    // The status is written before the reconcile ends and is counted.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let metrics = http.get(&format!("http://127.0.0.1:{port}/metrics")).call().unwrap().into_body().read_to_string().unwrap();
        if metrics.lines().any(|l| l.starts_with("gemini_operator_reconciles_total ") && !l.ends_with(" 0")) {
            break;
        }
        assert!(Instant::now() < deadline, "no reconcile counted: {metrics}");
        std::thread::sleep(Duration::from_millis(100));
    }

    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let code = loop {
        if let Some(code) = child.try_wait().unwrap() {
            break code;
        }
        assert!(Instant::now() < deadline, "gemini-operator did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert!(code.success(), "exit {code}: {stderr}");
    assert!(stderr.contains("stopped"), "{stderr}");
}
