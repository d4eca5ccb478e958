//! The Helm charts: `helm lint --strict` passes, `helm template` with default values and with
//! a values file that sets everything renders objects that `kubernetes-validate --strict`
//! accepts (built-in kinds) or that the GeminiCluster CRD's schema accepts; the chart's CRD is
//! the committed one; NOTES.txt tells the URLs; the Grafana dashboard asks only for metrics
//! the engine serves. The objects the operator builds are validated the same way. Every
//! ServiceMonitor, the chart's and the operator's, is checked against the Prometheus
//! Operator's own CRD schema (`tests/fixtures/servicemonitor-spec-schema.json`), unknown
//! fields included. A rendered document that does not parse fails the test. Helm and
//! kubernetes-validate are installed by `.ci/run`.

use serde_json::Value;
use std::process::Command;
use tests::{project_root, Gemini};

fn tool(name: &str) -> Command {
    Command::new(tests::tool_path(name))
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{cmd:?} failed:\n{stdout}\n{stderr}");
    stdout.into_owned()
}

fn chart(name: &str) -> String {
    project_root().join("charts").join(name).to_string_lossy().into_owned()
}

fn full_values(name: &str) -> String {
    project_root().join(format!("charts/test-values/{name}-full.yaml")).to_string_lossy().into_owned()
}

/// `helm template` of a chart, with the values file when given, as JSON documents.
fn template(name: &str, values: Option<&str>) -> (String, Vec<Value>) {
    let mut cmd = tool("helm");
    cmd.args(["template", "metrics", &chart(name), "--namespace", "monitoring"]);
    if let Some(v) = values {
        cmd.args(["--values", v]);
    }
    let text = run(&mut cmd);
    let docs = yaml_documents(&text);
    (text, docs)
}

/// The documents of a multi-document YAML stream, each an object. A document that does not
/// parse, or is not a mapping, fails the test; only documents with nothing but blank lines
/// and comments (Helm's `# Source:` lines of a template that rendered nothing) are skipped.
fn yaml_documents(text: &str) -> Vec<Value> {
    let mut pieces = vec![String::new()];
    for line in text.lines() {
        // A document marker at the start of a line ends the document before it.
        if line == "---" || line.starts_with("--- ") {
            pieces.push(line.trim_start_matches("---").to_string() + "\n");
        } else {
            let last = pieces.last_mut().unwrap();
            last.push_str(line);
            last.push('\n');
        }
    }
    pieces
        .into_iter()
        .filter(|p| p.lines().any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#')))
        .map(|p| {
            let doc: Value = serde_norway::from_str(&p).unwrap_or_else(|e| panic!("a rendered document does not parse: {e}\n{p}"));
            assert!(doc.is_object(), "a rendered document is not an object: {doc}\n{p}");
            doc
        })
        .collect()
}

/// Runs kubernetes-validate --strict on the built-in objects of `yaml`.
fn validate_builtin(label: &str, docs: &[Value]) {
    let builtin: Vec<&Value> = docs.iter().filter(|d| !is_custom(d)).collect();
    assert!(!builtin.is_empty(), "{label}: no built-in objects");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(format!("{label}.yaml"));
    let text: Vec<String> = builtin.iter().map(|d| serde_norway::to_string(d).unwrap()).collect();
    std::fs::write(&file, text.join("---\n")).unwrap();
    let out = run(tool("kubernetes-validate").args(["--strict", "--kubernetes-version", "1.33.0"]).arg(&file));
    assert_eq!(out.matches(" passed for resource ").count(), builtin.len(), "{label}: {out}");
}

fn is_custom(d: &Value) -> bool {
    let api = d["apiVersion"].as_str().unwrap_or_default();
    api.starts_with("gemini.io/") || api.starts_with("monitoring.coreos.com/")
}

fn kinds(docs: &[Value]) -> Vec<String> {
    docs.iter().map(|d| d["kind"].as_str().unwrap_or_default().to_string()).collect()
}

#[test]
fn charts_lint_strict() {
    for name in ["gemini-operator", "gemini-cluster"] {
        run(tool("helm").args(["lint", "--strict", &chart(name)]));
        run(tool("helm").args(["lint", "--strict", &chart(name), "--values", &full_values(name)]));
    }
}

#[test]
fn operator_chart_renders_valid_objects_and_ships_the_crd() {
    let chart_crd = std::fs::read_to_string(project_root().join("charts/gemini-operator/crds/geminicluster.yaml")).unwrap();
    let crd = std::fs::read_to_string(project_root().join("crds/geminicluster.yaml")).unwrap();
    assert!(chart_crd == crd, "charts/gemini-operator/crds/geminicluster.yaml differs from crds/geminicluster.yaml: copy it over");

    let (_, docs) = template("gemini-operator", None);
    assert_eq!(kinds(&docs), ["ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Service", "Deployment"]);
    validate_builtin("operator-default", &docs);
    let deployment = docs.iter().find(|d| d["kind"] == "Deployment").unwrap();
    let args = &deployment["spec"]["template"]["spec"]["containers"][0]["args"];
    assert!(!args.to_string().contains("--leader-elect"), "one replica runs without a Lease: {args}");

    let (_, docs) = template("gemini-operator", Some(&full_values("gemini-operator")));
    assert_eq!(kinds(&docs), ["ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "Service", "Deployment", "ServiceMonitor"]);
    validate_builtin("operator-full", &docs);
    validate_service_monitors("operator-full", &docs, 1);
    let deployment = docs.iter().find(|d| d["kind"] == "Deployment").unwrap();
    let pod = &deployment["spec"]["template"]["spec"];
    assert!(pod["containers"][0]["args"].to_string().contains("--leader-elect"), "two replicas elect a leader");
    assert_eq!(pod["containers"][0]["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(pod["serviceAccountName"], "gemini-op");
}

/// The Prometheus Operator's ServiceMonitor spec schema (see `tests/fixtures/README.md`).
fn service_monitor_spec_schema() -> Value {
    let path = project_root().join("tests/fixtures/servicemonitor-spec-schema.json");
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Fields of `value` that `schema` does not know: the API server would drop them without a
/// word (CRD schemas are structural: unknown fields are pruned, not refused), so a typo in a
/// field name would pass the schema and then do nothing.
fn unknown_fields(value: &Value, schema: &Value, path: &str, out: &mut Vec<String>) {
    if schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true)) {
        return;
    }
    match value {
        Value::Object(fields) => {
            let known = schema.get("properties").and_then(Value::as_object);
            for (name, v) in fields {
                let at = format!("{path}/{name}");
                match (known.and_then(|k| k.get(name)), schema.get("additionalProperties")) {
                    (Some(s), _) => unknown_fields(v, s, &at, out),
                    (None, Some(s)) if s.is_object() => unknown_fields(v, s, &at, out),
                    (None, Some(Value::Bool(true))) => {}
                    _ => out.push(at),
                }
            }
        }
        Value::Array(items) => {
            if let Some(s) = schema.get("items") {
                for (i, v) in items.iter().enumerate() {
                    unknown_fields(v, s, &format!("{path}/{i}"), out);
                }
            }
        }
        _ => {}
    }
}

/// What is wrong with a ServiceMonitor: its apiVersion, kind and name, its spec against the
/// Prometheus Operator's CRD schema, and fields the schema does not know.
fn service_monitor_problems(validator: &jsonschema::Validator, schema: &Value, sm: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    if sm["apiVersion"] != "monitoring.coreos.com/v1" || sm["kind"] != "ServiceMonitor" {
        problems.push(format!("not a monitoring.coreos.com/v1 ServiceMonitor: {} {}", sm["apiVersion"], sm["kind"]));
    }
    if !sm["metadata"]["name"].as_str().is_some_and(|n| !n.is_empty()) {
        problems.push("no metadata.name".into());
    }
    problems.extend(validator.iter_errors(&sm["spec"]).map(|e| format!("spec{}: {e}", e.instance_path())));
    unknown_fields(&sm["spec"], schema, "spec", &mut problems);
    let top: Vec<&String> = sm.as_object().map(|o| o.keys().filter(|k| !["apiVersion", "kind", "metadata", "spec"].contains(&k.as_str())).collect()).unwrap_or_default();
    problems.extend(top.into_iter().map(|k| format!("unknown top-level field {k}")));
    problems
}

/// Checks that `docs` hold `expected` ServiceMonitors and that each is valid.
fn validate_service_monitors(label: &str, docs: &[Value], expected: usize) {
    let schema = service_monitor_spec_schema();
    let validator = jsonschema::validator_for(&schema).expect("the ServiceMonitor schema compiles");
    let monitors: Vec<&Value> = docs.iter().filter(|d| d["kind"] == "ServiceMonitor").collect();
    assert_eq!(monitors.len(), expected, "{label}: ServiceMonitors");
    for sm in monitors {
        let problems = service_monitor_problems(&validator, &schema, sm);
        assert!(problems.is_empty(), "{label}: ServiceMonitor {}: {problems:?}", sm["metadata"]["name"]);
    }
}

#[test]
fn service_monitor_schema_refuses_what_the_prometheus_operator_would() {
    let schema = service_monitor_spec_schema();
    let validator = jsonschema::validator_for(&schema).expect("the ServiceMonitor schema compiles");
    let good = serde_json::json!({
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": {"name": "m"},
        "spec": {"selector": {"matchLabels": {"app": "x"}}, "endpoints": [{"port": "http", "path": "/metrics", "interval": "15s"}]},
    });
    assert_eq!(service_monitor_problems(&validator, &schema, &good), Vec::<String>::new());
    let bad = |change: fn(&mut Value), want: &str| {
        let mut sm = good.clone();
        change(&mut sm);
        let problems = service_monitor_problems(&validator, &schema, &sm);
        assert!(problems.iter().any(|p| p.contains(want)), "{sm}: wanted a problem naming {want:?}, got {problems:?}");
    };
    bad(|sm| sm["spec"]["endpoints"][0]["interval"] = "15 seconds".into(), "spec/endpoints/0/interval");
    bad(|sm| sm["spec"]["endpoints"][0]["port"] = 8086.into(), "spec/endpoints/0/port");
    bad(|sm| { sm["spec"].as_object_mut().unwrap().remove("selector"); }, "selector");
    bad(|sm| sm["spec"]["endpoints"][0]["scrapeInterval"] = "15s".into(), "spec/endpoints/0/scrapeInterval");
    bad(|sm| sm["spec"]["selector"]["matchLabel"] = serde_json::json!({"app": "x"}), "spec/selector/matchLabel");
    bad(|sm| sm["apiVersion"] = "monitoring.coreos.com/v1alpha1".into(), "not a monitoring.coreos.com/v1 ServiceMonitor");
}

#[test]
fn rendered_documents_that_do_not_parse_fail() {
    let text = "---\n# Source: a.yaml\n---\n# Source: b.yaml\nkind: A\n---\nkind: B\nspec: [unclosed\n";
    let outcome = std::panic::catch_unwind(|| yaml_documents(text));
    let message = outcome.expect_err("a document that does not parse fails").downcast::<String>().map(|s| *s).unwrap_or_default();
    assert!(message.contains("does not parse") && message.contains("kind: B"), "{message}");
    assert_eq!(kinds(&yaml_documents("---\n# Source: empty.yaml\n---\nkind: A\n--- \nkind: B\n")), ["A", "B"]);
    assert!(std::panic::catch_unwind(|| yaml_documents("---\n- a list\n")).is_err(), "a document that is not an object fails");
}

/// The GeminiCluster CRD's schema, compiled.
fn crd_validator() -> jsonschema::Validator {
    let crd: Value = serde_norway::from_str(&std::fs::read_to_string(project_root().join("crds/geminicluster.yaml")).unwrap()).unwrap();
    jsonschema::validator_for(&crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]).expect("the CRD schema compiles")
}

#[test]
fn cluster_chart_renders_a_valid_gemini_cluster() {
    let validator = crd_validator();
    for values in [None, Some(full_values("gemini-cluster"))] {
        let (_, docs) = template("gemini-cluster", values.as_deref());
        let gc = docs.iter().find(|d| d["kind"] == "GeminiCluster").expect("a GeminiCluster");
        let errors: Vec<String> = validator.iter_errors(gc).map(|e| format!("{}: {e}", e.instance_path())).collect();
        assert!(errors.is_empty(), "{values:?}: {errors:?}");
        let parsed: operator::crd::GeminiCluster = serde_json::from_value(gc.clone()).expect("parses into the Rust type");
        assert_eq!(parsed.metadata.name.as_deref(), Some("metrics"));
        if values.is_some() {
            assert_eq!(parsed.spec.replicas, 3);
            assert_eq!(parsed.spec.storage.storage_class_name.as_deref(), Some("fast"));
            assert_eq!(parsed.spec.retention, "90d");
            let tiers = parsed.spec.downsampled_retention.as_ref().expect("downsampledRetention");
            assert_eq!((tiers.five_minutes.as_deref(), tiers.one_hour.as_deref()), (Some("365d"), Some("inf")));
            assert_eq!(parsed.spec.out_of_order_window.as_deref(), Some("30m"));
            let limits = parsed.spec.series_limits.as_ref().expect("seriesLimits");
            assert_eq!((limits.max_hourly_series, limits.max_daily_series, limits.max_series_per_database), (Some(100_000), Some(1_000_000), Some(5_000_000)));
            assert!(parsed.spec.auth.enabled);
            assert_eq!(parsed.spec.service_monitor.labels["release"], "kube-prometheus-stack");
            let dashboard = docs.iter().find(|d| d["kind"] == "ConfigMap").expect("the dashboard ConfigMap");
            assert_eq!(dashboard["metadata"]["labels"]["grafana_dashboard"], "1");
            let json: Value = serde_json::from_str(dashboard["data"]["gemini.json"].as_str().unwrap()).expect("dashboard JSON");
            assert_eq!(json["uid"], "gemini-overview");
            validate_builtin("cluster-full", &docs);
            assert_eq!(kinds(&docs), ["ConfigMap", "GeminiCluster"], "the dashboard and the cluster; the operator makes the rest");
        } else {
            assert_eq!(parsed.spec.downsampled_retention, None, "no tier durations by default");
            assert_eq!(parsed.spec.out_of_order_window, None, "no out-of-order window by default");
            assert_eq!(parsed.spec.series_limits, None, "no series limits by default");
            assert_eq!(kinds(&docs), ["GeminiCluster"], "the dashboard is off by default");
        }
    }
    // The schema refuses a bad value with a message naming it.
    let out = tool("helm").args(["template", "m", &chart("gemini-cluster"), "--set", "retention=forever"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("retention"), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn cluster_chart_notes_give_the_urls() {
    let notes = run(tool("helm").args(["install", "metrics", &chart("gemini-cluster"), "--namespace", "monitoring", "--dry-run=client"]));
    let notes = &notes[notes.find("NOTES:").expect("NOTES in the output")..];
    for want in [
        "Write URL: http://metrics.monitoring.svc:8086/api/v1/prom/write?db=prometheus",
        "Read URL:  http://metrics.monitoring.svc:8086/api/v1/prom/read?db=prometheus",
        "Grafana:   add a data source of type Prometheus with URL http://metrics.monitoring.svc:8086\n",
        "remote_write:\n  - url: \"http://metrics.monitoring.svc:8086/api/v1/prom/write?db=prometheus\"",
    ] {
        assert!(notes.contains(want), "NOTES lack {want:?}:\n{notes}");
    }
}

#[test]
fn objects_the_operator_builds_are_valid_kubernetes() {
    use operator::resources::*;
    let text = std::fs::read_to_string(project_root().join("examples/geminicluster-full.yaml")).unwrap();
    let mut gc: operator::crd::GeminiCluster = serde_norway::from_str(&text).unwrap();
    gc.metadata.uid = Some("0b9d1c9e-3c53-4d6f-9d7a-6f2b1c0e8a11".into());
    let config = engine_config(&gc).unwrap();
    let creds = Credentials { username: "admin".into(), password: random_password() };
    let docs: Vec<Value> = vec![
        serde_json::to_value(config_map(&gc, &config)).unwrap(),
        serde_json::to_value(headless_service(&gc)).unwrap(),
        serde_json::to_value(client_service(&gc)).unwrap(),
        serde_json::to_value(stateful_set(&gc, &config_hash(&config))).unwrap(),
        serde_json::to_value(pod_disruption_budget(&gc)).unwrap(),
        serde_json::to_value(admin_secret(&gc, "metrics-admin", &creds)).unwrap(),
        serde_json::to_value(remote_secret(&gc, Some(&creds))).unwrap(),
    ];
    validate_builtin("operator-objects", &docs);
    // The ServiceMonitor it makes where the Prometheus Operator runs.
    validate_service_monitors("operator-objects", &[service_monitor(&gc)], 1);
}

#[test]
fn dashboard_asks_only_for_metrics_the_engine_serves() {
    let dashboard = std::fs::read_to_string(project_root().join("charts/gemini-cluster/dashboards/gemini.json")).unwrap();
    let json: Value = serde_json::from_str(&dashboard).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let g = Gemini::start(dir.path(), &[]);
    g.get("/ping");
    let served = g.get("/metrics").text();
    let mut asked = 0;
    for panel in json["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            for name in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).filter(|w| w.starts_with("gemini_")) {
                asked += 1;
                assert!(served.contains(&format!("# TYPE {} ", name.trim_end_matches("_bucket"))), "panel {:?} asks for {name}, which /metrics lacks", panel["title"]);
            }
        }
    }
    assert!(asked >= 8, "{asked}");
}
