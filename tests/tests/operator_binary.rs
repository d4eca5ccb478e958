//! The real `gemini-operator` binary against a stand-in Kubernetes API server on loopback
//! (there is no API server on this machine): it finds the API through a kubeconfig, lists and
//! watches GeminiClusters, reconciles them into applied objects and a status, serves `/health`
//! and `/metrics`, and exits 0 on SIGTERM. A second run with everything turned on (the
//! Prometheus Operator, auth, a namespace selector, leader election) records every API call
//! it makes, and the operator chart's RBAC must grant exactly those.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::collections::BTreeSet;
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tests::{agent, bin, free_port};

/// One request: method, path, query, content type, body.
#[derive(Clone, Debug)]
struct Call {
    method: String,
    path: String,
    query: String,
    content_type: String,
    body: Value,
}

/// The stand-in API server's state: what it was asked, and what it holds.
#[derive(Default)]
struct Fake {
    calls: Vec<Call>,
    /// Serve `monitoring.coreos.com/v1` with one Prometheus, and a second, new GeminiCluster.
    everything: bool,
    lease: Option<Value>,
}

type Shared = Arc<Mutex<Fake>>;

fn cluster(name: &str, spec: Value, finalizers: Value) -> Value {
    json!({
        "apiVersion": "gemini.io/v1alpha1", "kind": "GeminiCluster",
        "metadata": {"name": name, "namespace": "monitoring", "uid": format!("u-{name}"), "generation": 1, "resourceVersion": "5",
                     "finalizers": finalizers},
        "spec": spec,
    })
}

fn clusters(everything: bool) -> Vec<Value> {
    if !everything {
        return vec![cluster("metrics", json!({"image": "gemini:0.1.0", "replicas": 2}), json!(["gemini.io/prometheus-wiring"]))];
    }
    let spec = json!({"image": "gemini:0.1.0", "auth": {"enabled": true},
                      "prometheus": {"selector": {"matchLabels": {"app": "prometheus"}}, "namespaceSelector": {}}});
    vec![cluster("metrics", spec, json!(["gemini.io/prometheus-wiring"])), cluster("fresh", json!({"image": "gemini:0.1.0"}), json!(null))]
}

fn prometheus_object() -> Value {
    json!({"apiVersion": "monitoring.coreos.com/v1", "kind": "Prometheus",
           "metadata": {"name": "k8s", "namespace": "monitoring", "resourceVersion": "3", "labels": {"app": "prometheus"}},
           "spec": {"remoteWrite": [{"name": "other", "url": "http://other/write"}]}})
}

fn reply(stream: &mut TcpStream, code: u16, body: &Value) {
    let body = body.to_string();
    let head = format!("HTTP/1.1 {code} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n", body.len());
    let _ = stream.write_all(head.as_bytes()).and_then(|_| stream.write_all(body.as_bytes()));
}

fn list(items: Vec<Value>) -> Value {
    json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": "5"}, "items": items})
}

/// The API server's answer to one request; `None` holds a watch open without events.
fn answer(fake: &mut Fake, call: &Call) -> Option<(u16, Value)> {
    let not_found = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404});
    let (method, path, body) = (call.method.as_str(), call.path.as_str(), &call.body);
    if method == "GET" && call.query.contains("watch=true") {
        return None;
    }
    let everything = fake.everything;
    let is_list = target(path).is_some_and(|(_, _, named)| !named);
    Some(match method {
        "GET" if path == "/apis/monitoring.coreos.com/v1" && everything => (200, json!({
            "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "monitoring.coreos.com/v1",
            "resources": [{"name": "prometheuses", "singularName": "prometheus", "namespaced": true, "kind": "Prometheus", "verbs": ["get"]}],
        })),
        "GET" if path.ends_with("/geminiclusters") => (200, list(clusters(everything))),
        "GET" if path.ends_with("/prometheuses") && everything => (200, list(vec![prometheus_object()])),
        "GET" if path.ends_with("/prometheuses/k8s") && everything => (200, prometheus_object()),
        "GET" if path == "/api/v1/namespaces" => (200, list(vec![json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "monitoring"}})])),
        "GET" if path.contains("/leases/") => match &fake.lease {
            Some(l) => (200, l.clone()),
            None => (404, not_found),
        },
        // Every other list is empty and every other single object absent.
        "GET" if is_list && (everything || !path.starts_with("/apis/monitoring.coreos.com")) => (200, list(vec![])),
        "GET" => (404, not_found),
        "POST" | "PUT" if path.contains("/leases") => {
            let mut lease = body.clone();
            lease["metadata"]["resourceVersion"] = json!("1");
            fake.lease = Some(lease.clone());
            (if method == "POST" { 201 } else { 200 }, lease)
        }
        "PATCH" if path.starts_with("/apis/gemini.io/") => {
            let name = path.split('/').nth(7).unwrap_or_default();
            (200, clusters(everything).into_iter().find(|c| c["metadata"]["name"] == name).unwrap())
        }
        "PATCH" if path.ends_with("/prometheuses/k8s") => (200, prometheus_object()),
        _ => (if method == "POST" { 201 } else { 200 }, body.clone()),
    })
}

fn serve(mut stream: TcpStream, fake: Shared) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let (method, target) = (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or("").to_string());
        let mut length = 0;
        let mut content_type = String::new();
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
                if name.eq_ignore_ascii_case("content-type") {
                    content_type = value.trim().to_string();
                }
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        let call = Call { method, path: path.into(), query: query.into(), content_type: content_type.clone(), body };
        let answered = {
            let mut fake = fake.lock().unwrap();
            fake.calls.push(call.clone());
            answer(&mut fake, &call)
        };
        match answered {
            Some((code, answer)) => reply(&mut stream, code, &answer),
            None => {
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
                std::thread::sleep(Duration::from_secs(600));
                return;
            }
        }
    }
}

/// The real operator, running against a fresh stand-in API server.
struct Run {
    fake: Shared,
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Run {
    fn start(everything: bool, args: &[&str]) -> Run {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let api = format!("http://{}", listener.local_addr().unwrap());
        let fake: Shared = Arc::new(Mutex::new(Fake { everything, ..Default::default() }));
        let server = fake.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let fake = server.clone();
                std::thread::spawn(move || serve(stream, fake));
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
        let child = Command::new(bin("gemini-operator"))
            .args(["--metrics-addr", &format!("127.0.0.1:{port}")])
            .args(args)
            .env("KUBECONFIG", &kubeconfig)
            .env_remove("KUBERNETES_SERVICE_HOST")
            .env_remove("POD_NAMESPACE")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        Run { fake, child, port, _dir: dir }
    }

    fn calls(&self) -> Vec<Call> {
        self.fake.lock().unwrap().calls.clone()
    }

    /// Waits for a request matching `method` and `path`; returns its body.
    fn wait_for(&self, method: &str, path: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(c) = self.calls().into_iter().find(|c| c.method == method && c.path == path) {
                return c.body;
            }
            let seen: Vec<String> = self.calls().iter().map(|c| format!("{} {}", c.method, c.path)).collect();
            assert!(Instant::now() < deadline, "no {method} {path}; requests: {seen:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGTERM, then the exit status and what the operator logged. Prints the operator's peak
    /// memory (see it with `--nocapture`).
    fn terminate(mut self) -> (std::process::ExitStatus, String, Vec<Call>) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        if let Some(hwm) = status.lines().find(|l| l.starts_with("VmHWM")) {
            eprintln!("gemini-operator peak memory: {}", hwm.trim_start_matches("VmHWM:").trim());
        }
        Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        let code = loop {
            if let Some(code) = self.child.try_wait().unwrap() {
                break code;
            }
            assert!(Instant::now() < deadline, "gemini-operator did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(100));
        };
        let mut stderr = String::new();
        self.child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
        (code, stderr, self.calls())
    }
}

#[test]
fn operator_reconciles_serves_metrics_and_stops_on_sigterm() {
    let run = Run::start(false, &[]);
    let status = run.wait_for("PATCH", "/apis/gemini.io/v1alpha1/namespaces/monitoring/geminiclusters/metrics/status");
    assert_eq!(status["status"]["writeURL"], "http://metrics.monitoring.svc:8086/api/v1/prom/write?db=prometheus");
    let sts = run.wait_for("PATCH", "/apis/apps/v1/namespaces/monitoring/statefulsets/metrics");
    assert_eq!(sts["spec"]["replicas"], 2);

    let http = agent();
    let health = http.get(&format!("http://127.0.0.1:{}/health", run.port)).call().unwrap();
    assert_eq!(health.status(), 200);
    // The status is written before the reconcile ends and is counted.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let metrics = http.get(&format!("http://127.0.0.1:{}/metrics", run.port)).call().unwrap().into_body().read_to_string().unwrap();
        if metrics.lines().any(|l| l.starts_with("gemini_operator_reconciles_total ") && !l.ends_with(" 0")) {
            break;
        }
        assert!(Instant::now() < deadline, "no reconcile counted: {metrics}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (code, stderr, _) = run.terminate();
    assert!(code.success(), "exit {code}: {stderr}");
    assert!(stderr.contains("stopped"), "{stderr}");
}

/// The API group, resource (with subresource) and whether one object is named, of an API
/// path; `None` for discovery paths.
fn target(path: &str) -> Option<(String, String, bool)> {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (group, rest) = match parts.as_slice() {
        ["api", "v1", rest @ ..] => ("", rest),
        ["apis", group, _version, rest @ ..] => (*group, rest),
        _ => panic!("unexpected path {path}"),
    };
    // namespaces/<ns>/<resource>/... or <resource>/...
    let rest = match rest {
        ["namespaces", _ns, r @ ..] if !r.is_empty() => r,
        r => r,
    };
    Some(match rest {
        [] => return None,
        [r] => (group.to_string(), r.to_string(), false),
        [r, _name] => (group.to_string(), r.to_string(), true),
        [r, _name, sub] => (group.to_string(), format!("{r}/{sub}"), true),
        _ => panic!("unexpected path {path}"),
    })
}

/// The RBAC (API group, resource, verb) triples one API call needs.
fn permission(c: &Call) -> Vec<(String, String, String)> {
    let Some((group, resource, named)) = target(&c.path) else { return vec![] };
    let verbs: &[&str] = match (c.method.as_str(), named) {
        ("GET", true) => &["get"],
        ("GET", false) if c.query.contains("watch=true") => &["watch"],
        ("GET", false) => &["list"],
        ("POST", _) => &["create"],
        ("PUT", _) => &["update"],
        // A server-side apply creates the object when it is missing (a subresource's never is).
        ("PATCH", _) if c.content_type.starts_with("application/apply-patch") && !resource.contains('/') => &["patch", "create"],
        ("PATCH", _) => &["patch"],
        ("DELETE", _) => &["delete"],
        _ => panic!("unexpected method {}", c.method),
    };
    verbs.iter().map(|v| (group.to_string(), resource.clone(), v.to_string())).collect()
}

#[test]
fn operator_chart_rbac_grants_exactly_the_calls_the_operator_makes() {
    let run = Run::start(true, &["--leader-elect", "--lease-namespace", "ops", "--identity", "op-0"]);
    let status = run.wait_for("PATCH", "/apis/gemini.io/v1alpha1/namespaces/monitoring/geminiclusters/metrics/status");
    assert_eq!(status["status"]["prometheuses"], json!(["monitoring/k8s"]));
    run.wait_for("PATCH", "/apis/gemini.io/v1alpha1/namespaces/monitoring/geminiclusters/fresh");
    // The GeminiClusters and the seven kinds it watches for them.
    let deadline = Instant::now() + Duration::from_secs(30);
    while run.calls().iter().filter(|c| c.query.contains("watch=true")).count() < 8 {
        assert!(Instant::now() < deadline, "watches: {:?}", run.calls().iter().filter(|c| c.query.contains("watch=true")).map(|c| &c.path).collect::<Vec<_>>());
        std::thread::sleep(Duration::from_millis(100));
    }
    let (code, stderr, calls) = run.terminate();
    assert!(code.success(), "exit {code}: {stderr}");
    let released = calls.iter().rev().find(|c| c.method == "PUT" && c.path.contains("/leases/")).expect("the Lease is given up at stop");
    assert!(released.body["spec"]["holderIdentity"].is_null(), "{}", released.body);

    let used: BTreeSet<(String, String, String)> = calls.iter().flat_map(permission).collect();
    let root = tests::project_root();
    let rendered = Command::new(tests::tool_path("helm"))
        .args(["template", "op", root.join("charts/gemini-operator").to_str().unwrap(), "--namespace", "ops", "--set", "replicas=2"])
        .output()
        .unwrap();
    assert!(rendered.status.success(), "{}", String::from_utf8_lossy(&rendered.stderr));
    let mut granted = BTreeSet::new();
    for doc in String::from_utf8(rendered.stdout).unwrap().split("\n---") {
        let Ok(doc) = serde_norway::from_str::<Value>(doc) else { continue };
        let kind = doc["kind"].as_str().unwrap_or_default();
        if kind != "ClusterRole" && kind != "Role" {
            continue;
        }
        for rule in doc["rules"].as_array().unwrap() {
            for g in rule["apiGroups"].as_array().unwrap() {
                for r in rule["resources"].as_array().unwrap() {
                    for v in rule["verbs"].as_array().unwrap() {
                        if r == "leases" {
                            assert_eq!((kind, doc["metadata"]["namespace"].as_str()), ("Role", Some("ops")), "the Lease is granted in its namespace only");
                        }
                        granted.insert((g.as_str().unwrap().to_string(), r.as_str().unwrap().to_string(), v.as_str().unwrap().to_string()));
                    }
                }
            }
        }
    }
    let missing: Vec<_> = used.difference(&granted).collect();
    assert!(missing.is_empty(), "the operator calls these without a grant: {missing:?}");
    // Granted but not called in this run, each for a reason.
    let unexercised: BTreeSet<(String, String, String)> = [
        ("monitoring.coreos.com", "servicemonitors", "delete"), // when spec.serviceMonitor.enabled is turned off
        ("events.k8s.io", "events", "patch"),                   // when the same event repeats within its series
    ]
    .iter()
    .map(|(g, r, v)| (g.to_string(), r.to_string(), v.to_string()))
    .collect();
    let extra: BTreeSet<_> = granted.difference(&used).cloned().collect();
    assert_eq!(extra, unexercised, "granted but never used");
}
