//! Reconcile tests against a mocked API server (tower-test's `mock::pair`, the ApiServerVerifier
//! pattern of kube-rs' controller-rs): each test plays the API server's side of one reconcile,
//! request by request, and checks what the operator sends and what it concludes.

use http::{Request, Response};
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::Api;
use kube::client::Body;
use kube::Client;
use operator::crd::GeminiCluster;
use operator::metrics::Metrics;
use operator::reconcile::{error_policy, reconcile, Context};
use operator::{leader, resources};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use tower_test::mock::{self, Handle};

const NS_PATH: &str = "/api/v1/namespaces/monitoring";
const APPS: &str = "/apis/apps/v1/namespaces/monitoring";
const GEM: &str = "/apis/gemini.io/v1alpha1/namespaces/monitoring/geminiclusters/metrics";
const MON: &str = "/apis/monitoring.coreos.com/v1/namespaces/monitoring";

/// A request the operator made.
struct Seen {
    query: String,
    body: Value,
}

/// The API server's side: answers requests in the order a test expects them. Events may come
/// at any point; they are answered and kept in `events`.
struct ApiServer {
    handle: Handle<Request<Body>, Response<Body>>,
    events: Vec<Value>,
}

fn response(code: u16, body: &Value) -> Response<Body> {
    Response::builder().status(code).body(Body::from(serde_json::to_vec(body).unwrap())).unwrap()
}

fn status(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": reason, "message": message, "code": code})
}

fn not_found() -> Value {
    status(404, "NotFound", "not found")
}

impl ApiServer {
    fn start() -> (Client, ApiServer) {
        let (service, handle) = mock::pair::<Request<Body>, Response<Body>>();
        (Client::new(service, "default"), ApiServer { handle, events: Vec::new() })
    }

    /// Answers the next request, which must be `method path`, with `code` and `body`
    /// (`None`: echo the request's body, as an apply or create does).
    async fn expect(&mut self, method: &str, path: &str, code: u16, body: Option<Value>) -> Seen {
        loop {
            let next = tokio::time::timeout(Duration::from_secs(10), self.handle.next_request()).await;
            let (req, send) = next.unwrap_or_else(|_| panic!("no request came; expected {method} {path}")).expect("the client is alive");
            let (m, p) = (req.method().to_string(), req.uri().path().to_string());
            let query = req.uri().query().unwrap_or_default().to_string();
            let bytes = req.into_body().collect_bytes().await.unwrap();
            let seen: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            if p.starts_with("/apis/events.k8s.io/v1/") {
                self.events.push(seen.clone());
                send.send_response(response(if m == "POST" { 201 } else { 200 }, &seen));
                continue;
            }
            assert_eq!((m.as_str(), p.as_str()), (method, path), "the operator sent an unexpected request");
            send.send_response(response(code, body.as_ref().unwrap_or(&seen)));
            return Seen { query, body: seen };
        }
    }

    /// A server-side apply of `path`, echoed back; checks the field manager and owner.
    async fn expect_apply(&mut self, path: &str) -> Value {
        let seen = self.expect("PATCH", path, 200, None).await;
        assert!(seen.query.contains("fieldManager=gemini-operator") && seen.query.contains("force=true"), "{path}: {}", seen.query);
        let owner = &seen.body["metadata"]["ownerReferences"][0];
        assert_eq!((owner["kind"].as_str(), owner["name"].as_str()), (Some("GeminiCluster"), Some("metrics")), "{path} is owned");
        seen.body
    }

    /// The cluster Secret, found, then the five objects applied before the StatefulSet, in
    /// order; returns the remote Secret.
    async fn expect_owned_objects(&mut self) -> Value {
        let existing = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "metrics-cluster"}, "data": {"secret": "czNjcmV0"}});
        self.expect("GET", &format!("{NS_PATH}/secrets/metrics-cluster"), 200, Some(existing)).await;
        self.expect_applied_objects().await
    }

    /// The five objects applied before the StatefulSet, in order; returns the remote Secret.
    async fn expect_applied_objects(&mut self) -> Value {
        let config = self.expect_apply(&format!("{NS_PATH}/configmaps/metrics-config")).await;
        let peers = config["data"]["peers"].as_str().unwrap_or_default();
        assert!(!peers.is_empty() && peers.lines().all(|l| l.ends_with(".metrics-headless.monitoring.svc:8086")), "{config}");
        self.expect_apply(&format!("{NS_PATH}/services/metrics-headless")).await;
        self.expect_apply(&format!("{NS_PATH}/services/metrics")).await;
        self.expect_apply("/apis/policy/v1/namespaces/monitoring/poddisruptionbudgets/metrics").await;
        self.expect_apply(&format!("{NS_PATH}/secrets/metrics-prometheus-remote")).await
    }

    fn event_reasons(&self) -> Vec<String> {
        self.events.iter().map(|e| e["reason"].as_str().unwrap_or_default().to_string()).collect()
    }
}

fn cluster(spec: Value, extra_meta: Value) -> GeminiCluster {
    let mut meta = json!({"name": "metrics", "namespace": "monitoring", "uid": "u-1", "generation": 2, "finalizers": ["gemini.io/prometheus-wiring"]});
    meta.as_object_mut().unwrap().extend(extra_meta.as_object().unwrap().clone());
    serde_json::from_value(json!({"apiVersion": "gemini.io/v1alpha1", "kind": "GeminiCluster", "metadata": meta, "spec": spec})).unwrap()
}

async fn run(gc: GeminiCluster, client: Client) -> tokio::task::JoinHandle<Result<kube::runtime::controller::Action, String>> {
    let ctx = Context::new(client, Arc::new(Metrics::default()), Some("test".into()));
    tokio::spawn(async move { reconcile(Arc::new(gc), ctx).await.map_err(|e| e.to_string()) })
}

/// A GeminiCluster as the API server answers a status patch with.
fn any_cluster() -> Value {
    serde_json::to_value(cluster(json!({"image": "gemini:0.1.0"}), json!({}))).unwrap()
}

fn condition<'a>(status: &'a Value, kind: &str) -> &'a Value {
    status["conditions"].as_array().unwrap().iter().find(|c| c["type"] == kind).unwrap_or_else(|| panic!("no {kind} in {status}"))
}

fn sts_with_status(body: Value, replicas: i32, ready: i32) -> Value {
    let mut sts = body;
    sts["metadata"]["generation"] = json!(1);
    sts["status"] = json!({"replicas": replicas, "readyReplicas": ready, "observedGeneration": 1, "currentRevision": "r1", "updateRevision": "r1"});
    sts
}

#[tokio::test]
async fn first_create_without_the_prometheus_operator() {
    let (client, mut api) = ApiServer::start();
    // Without the finalizer, the first reconcile only adds it.
    let gc = cluster(json!({"image": "gemini:0.1.0", "replicas": 3}), json!({"finalizers": null}));
    let task = run(gc.clone(), client.clone()).await;
    let seen = api.expect("PATCH", GEM, 200, Some(serde_json::to_value(cluster(json!({"image": "gemini:0.1.0"}), json!({}))).unwrap())).await;
    assert_eq!(seen.body[1], json!({"op": "add", "path": "/metadata/finalizers", "value": ["gemini.io/prometheus-wiring"]}));
    task.await.unwrap().unwrap();

    let gc = cluster(json!({"image": "gemini:0.1.0", "replicas": 3}), json!({}));
    let task = run(gc, client).await;
    // The first reconcile makes the cluster secret; the pods' addresses go in the ConfigMap.
    api.expect("GET", &format!("{NS_PATH}/secrets/metrics-cluster"), 404, Some(not_found())).await;
    let created = api.expect("POST", &format!("{NS_PATH}/secrets"), 201, None).await;
    assert_eq!(base64_decode(created.body["data"]["secret"].as_str().unwrap()).len(), 32);
    assert_eq!(created.body["metadata"]["name"], "metrics-cluster");
    let remote = api.expect_applied_objects().await;
    let yaml = String::from_utf8(base64_decode(remote["data"]["prometheus.yml"].as_str().unwrap())).unwrap();
    assert!(yaml.contains("url: \"http://metrics.monitoring.svc:8086/api/v1/prom/write?db=prometheus\""), "{yaml}");
    api.expect("GET", &format!("{APPS}/statefulsets/metrics"), 404, Some(not_found())).await;
    let sts = api.expect_apply(&format!("{APPS}/statefulsets/metrics")).await;
    assert_eq!(sts["spec"]["replicas"], 3);
    assert_eq!(sts["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"], "10Gi");
    api.expect("GET", "/apis/monitoring.coreos.com/v1", 404, Some(not_found())).await;
    let seen = api.expect("PATCH", &format!("{GEM}/status"), 200, Some(any_cluster())).await;
    let st = &seen.body["status"];
    assert_eq!(st["writeURL"], "http://metrics.monitoring.svc:8086/api/v1/prom/write?db=prometheus");
    assert_eq!(st["observedGeneration"], 2);
    assert_eq!(condition(st, "Ready")["status"], "False");
    assert_eq!(condition(st, "Progressing")["status"], "True");
    assert_eq!(condition(st, "Degraded")["status"], "False");
    let wired = condition(st, "PrometheusWired");
    assert_eq!((wired["status"].as_str(), wired["reason"].as_str()), (Some("False"), Some("PrometheusOperatorAbsent")));
    let action = task.await.unwrap().unwrap();
    assert!(format!("{action:?}").contains("15s"), "re-checked soon while pods start: {action:?}");
    assert_eq!(api.event_reasons(), vec!["ClusterSecretCreated", "Created"]);
}

fn prometheus(rv: &str, writes: Value) -> Value {
    json!({
        "apiVersion": "monitoring.coreos.com/v1", "kind": "Prometheus",
        "metadata": {"name": "k8s", "namespace": "monitoring", "resourceVersion": rv, "labels": {"app.kubernetes.io/name": "prometheus"}},
        "spec": {"replicas": 2, "remoteWrite": writes},
    })
}

fn prometheus_operator_served() -> Value {
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "monitoring.coreos.com/v1", "resources": [
        {"name": "prometheuses", "singularName": "prometheus", "namespaced": true, "kind": "Prometheus", "verbs": ["get", "list", "patch"]},
        {"name": "servicemonitors", "singularName": "servicemonitor", "namespaced": true, "kind": "ServiceMonitor", "verbs": ["get", "patch"]},
    ]})
}

fn list(items: Vec<Value>) -> Value {
    json!({"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusList", "metadata": {"resourceVersion": "9"}, "items": items})
}

#[tokio::test]
async fn prometheus_wiring_with_auth_survives_a_conflict() {
    let (client, mut api) = ApiServer::start();
    let spec = json!({
        "image": "gemini:0.1.0",
        "auth": {"enabled": true},
        "prometheus": {"selector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}},
    });
    let gc = cluster(spec, json!({}));
    let task = run(gc.clone(), client).await;

    api.expect("GET", &format!("{NS_PATH}/secrets/metrics-admin"), 404, Some(not_found())).await;
    let created = api.expect("POST", &format!("{NS_PATH}/secrets"), 201, None).await;
    let password = String::from_utf8(base64_decode(created.body["data"]["password"].as_str().unwrap())).unwrap();
    assert_eq!(password.len(), 32);
    let remote = api.expect_owned_objects().await;
    let yaml = String::from_utf8(base64_decode(remote["data"]["prometheus.yml"].as_str().unwrap())).unwrap();
    assert!(yaml.contains(&format!("password: \"{password}\"")), "ready to paste, with the admin password");

    let existing = serde_json::to_value(resources::stateful_set(&gc, &resources::config_hash(&resources::engine_config(&gc).unwrap()))).unwrap();
    let sts_path = format!("{APPS}/statefulsets/metrics");
    api.expect("GET", &sts_path, 200, Some(sts_with_status(existing.clone(), 1, 1))).await;
    let seen = api.expect("PATCH", &sts_path, 200, Some(sts_with_status(existing, 1, 1))).await;
    assert!(seen.query.contains("fieldManager=gemini-operator"), "{}", seen.query);

    api.expect("GET", "/apis/monitoring.coreos.com/v1", 200, Some(prometheus_operator_served())).await;
    let sm = api.expect_apply(&format!("{MON}/servicemonitors/metrics")).await;
    assert_eq!(sm["spec"]["endpoints"][0]["path"], "/metrics");
    let foreign = json!({"name": "thanos", "url": "http://thanos/api/v1/receive"});
    let seen = api.expect("GET", &format!("{MON}/prometheuses"), 200, Some(list(vec![prometheus("1", json!([foreign]))]))).await;
    assert!(seen.query.contains("labelSelector=app.kubernetes.io%2Fname%3Dprometheus"), "{}", seen.query);
    let k8s = format!("{MON}/prometheuses/k8s");
    api.expect("GET", &k8s, 200, Some(prometheus("1", json!([foreign])))).await;
    let first = api.expect("PATCH", &k8s, 409, Some(status(409, "Conflict", "the object has been modified"))).await;
    assert_eq!(first.body["metadata"]["resourceVersion"], "1", "the write is guarded by what was read");
    // Someone added an entry in between: the retry reads it again and keeps it.
    let other = json!({"name": "vm", "url": "http://vm/api/v1/write"});
    api.expect("GET", &k8s, 200, Some(prometheus("2", json!([foreign, other])))).await;
    let second = api.expect("PATCH", &k8s, 200, Some(prometheus("3", json!([])))).await;
    assert_eq!(second.body["metadata"]["resourceVersion"], "2");
    let writes = second.body["spec"]["remoteWrite"].as_array().unwrap();
    assert_eq!(writes[..2], [foreign, other], "foreign entries kept, in order");
    assert_eq!(writes[2]["name"], "gemini-monitoring-metrics");
    assert_eq!(writes[2]["basicAuth"]["password"], json!({"name": "metrics-admin", "key": "password"}));
    assert_eq!(second.body["spec"]["remoteRead"][0]["url"], "http://metrics.monitoring.svc:8086/api/v1/prom/read?db=prometheus");

    let seen = api.expect("PATCH", &format!("{GEM}/status"), 200, Some(any_cluster())).await;
    let st = &seen.body["status"];
    assert_eq!(st["prometheuses"], json!(["monitoring/k8s"]));
    assert_eq!(condition(st, "Ready")["status"], "True");
    assert_eq!(condition(st, "PrometheusWired")["status"], "True");
    let action = task.await.unwrap().unwrap();
    assert!(format!("{action:?}").contains("300s"), "{action:?}");
    assert_eq!(api.event_reasons(), vec!["AdminSecretCreated", "PrometheusWired"]);
    assert!(api.events.iter().all(|e| !e.to_string().contains(&password)), "the password is never in an event");
}

#[tokio::test]
async fn delete_takes_the_entries_out_then_lets_go() {
    let (client, mut api) = ApiServer::start();
    let spec = json!({"image": "gemini:0.1.0", "prometheus": {"selector": {}}});
    let mut gc = cluster(spec, json!({"deletionTimestamp": "2026-11-23T12:00:00Z"}));
    gc.status = Some(serde_json::from_value(json!({"prometheuses": ["monitoring/k8s"]})).unwrap());
    let task = run(gc, client).await;
    api.expect("GET", "/apis/monitoring.coreos.com/v1", 200, Some(prometheus_operator_served())).await;
    let foreign = json!({"name": "thanos", "url": "http://thanos/api/v1/receive"});
    let ours = json!({"name": "gemini-monitoring-metrics", "url": "http://metrics.monitoring.svc:8086/api/v1/prom/write?db=prometheus"});
    api.expect("GET", &format!("{MON}/prometheuses"), 200, Some(list(vec![prometheus("5", json!([foreign, ours]))]))).await;
    let k8s = format!("{MON}/prometheuses/k8s");
    api.expect("GET", &k8s, 200, Some(prometheus("5", json!([foreign, ours])))).await;
    let seen = api.expect("PATCH", &k8s, 200, Some(prometheus("6", json!([foreign])))).await;
    assert_eq!(seen.body["spec"]["remoteWrite"], json!([foreign]));
    assert_eq!(seen.body["metadata"]["resourceVersion"], "5");
    let seen = api.expect("PATCH", GEM, 200, Some(serde_json::to_value(cluster(json!({"image": "g"}), json!({"finalizers": []}))).unwrap())).await;
    assert_eq!(seen.body[1], json!({"op": "remove", "path": "/metadata/finalizers/0"}));
    task.await.unwrap().unwrap();
    assert_eq!(api.event_reasons(), vec!["PrometheusUnwired"]);
}

#[tokio::test]
async fn an_immutable_change_is_degraded_not_a_crash_loop() {
    let (client, mut api) = ApiServer::start();
    let old = cluster(json!({"image": "gemini:0.1.0"}), json!({}));
    let existing = serde_json::to_value(resources::stateful_set(&old, "h")).unwrap();
    let gc = cluster(json!({"image": "gemini:0.1.0", "storage": {"size": "50Gi"}}), json!({}));
    let task = run(gc, client).await;
    api.expect_owned_objects().await;
    api.expect("GET", &format!("{APPS}/statefulsets/metrics"), 200, Some(sts_with_status(existing, 1, 1))).await;
    // No apply of the StatefulSet: the API would answer 422.
    api.expect("GET", "/apis/monitoring.coreos.com/v1", 404, Some(not_found())).await;
    let seen = api.expect("PATCH", &format!("{GEM}/status"), 200, Some(any_cluster())).await;
    let degraded = condition(&seen.body["status"], "Degraded");
    assert_eq!((degraded["status"].as_str(), degraded["reason"].as_str()), (Some("True"), Some("ImmutableFieldChanged")));
    let message = degraded["message"].as_str().unwrap();
    assert!(message.contains("10Gi") && message.contains("50Gi") && message.contains("--cascade=orphan"), "{message}");
    assert_eq!(condition(&seen.body["status"], "Ready")["status"], "True", "the old pods still serve");
    task.await.unwrap().expect("a bad spec is not a reconcile error");
    assert_eq!(api.event_reasons(), vec!["ImmutableFieldChanged"]);
}

#[tokio::test]
async fn an_api_error_fails_the_reconcile_and_backs_off() {
    let (client, mut api) = ApiServer::start();
    let gc = cluster(json!({"image": "gemini:0.1.0"}), json!({}));
    let ctx = Context::new(client, Arc::new(Metrics::default()), None);
    let (gc2, ctx2) = (Arc::new(gc), ctx.clone());
    let task = tokio::spawn(async move { reconcile(gc2, ctx2).await });
    api.expect("GET", &format!("{NS_PATH}/secrets/metrics-cluster"), 500, Some(status(500, "InternalError", "etcd is down"))).await;
    let error = task.await.unwrap().unwrap_err();
    assert!(error.to_string().contains("etcd is down"), "{error}");
    let gc = Arc::new(cluster(json!({"image": "gemini:0.1.0"}), json!({})));
    let first = format!("{:?}", error_policy(gc.clone(), &error, ctx.clone()));
    let second = format!("{:?}", error_policy(gc, &error, ctx.clone()));
    assert!(first.contains("5s") && second.contains("10s"), "{first} {second}");
    assert!(ctx.metrics.render().contains("gemini_operator_reconcile_failures_total 1"));
}

#[tokio::test]
async fn an_invalid_selector_is_degraded_before_anything_is_written() {
    let (client, mut api) = ApiServer::start();
    let spec = json!({"image": "gemini:0.1.0", "prometheus": {"selector": {"matchExpressions": [{"key": "a", "operator": "Sometimes", "values": ["x"]}]}}});
    let task = run(cluster(spec, json!({})), client).await;
    let seen = api.expect("PATCH", &format!("{GEM}/status"), 200, Some(any_cluster())).await;
    let degraded = condition(&seen.body["status"], "Degraded");
    assert_eq!(degraded["reason"], "InvalidSpec");
    assert!(degraded["message"].as_str().unwrap().contains("spec.prometheus.selector"), "{degraded}");
    task.await.unwrap().unwrap();
}

fn lease(holder: &str, renewed: &str, rv: &str) -> Value {
    json!({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": "gemini-operator", "namespace": "ops", "resourceVersion": rv},
        "spec": {"holderIdentity": holder, "leaseDurationSeconds": 15, "renewTime": renewed, "leaseTransitions": 3},
    })
}

#[tokio::test]
async fn leader_election_takes_only_an_expired_lease() {
    let (client, mut api) = ApiServer::start();
    let leases: Api<Lease> = Api::namespaced(client, "ops");
    let path = "/apis/coordination.k8s.io/v1/namespaces/ops/leases/gemini-operator";
    let now = k8s_openapi::jiff::Timestamp::now();
    let fresh = format!("{}", now.strftime("%Y-%m-%dT%H:%M:%S%.6fZ"));

    let l = leases.clone();
    let task = tokio::spawn(async move { leader::try_lead(&l, "gemini-operator", "me").await });
    api.expect("GET", path, 200, Some(lease("other", &fresh, "7"))).await;
    assert!(!task.await.unwrap().unwrap(), "held by a live replica");

    let l = leases.clone();
    let task = tokio::spawn(async move { leader::try_lead(&l, "gemini-operator", "me").await });
    api.expect("GET", path, 200, Some(lease("other", "2020-01-01T00:00:00.000000Z", "8"))).await;
    let seen = api.expect("PUT", path, 200, None).await;
    assert_eq!(seen.body["spec"]["holderIdentity"], "me");
    assert_eq!(seen.body["spec"]["leaseTransitions"], 4);
    assert_eq!(seen.body["metadata"]["resourceVersion"], "8");
    assert!(task.await.unwrap().unwrap(), "an expired lease is taken");

    let l = leases.clone();
    let task = tokio::spawn(async move { leader::try_lead(&l, "gemini-operator", "me").await });
    api.expect("GET", path, 200, Some(lease("other", "2020-01-01T00:00:00.000000Z", "9"))).await;
    api.expect("PUT", path, 409, Some(status(409, "Conflict", "the object has been modified"))).await;
    assert!(!task.await.unwrap().unwrap(), "the other replica won the race");
}

/// The bytes of a Secret's `data` value (base64), decoded as the API's own types do.
fn base64_decode(s: &str) -> Vec<u8> {
    serde_json::from_value::<k8s_openapi::ByteString>(json!(s)).expect("base64").0
}
