//! The Helm charts: `helm lint --strict` passes, `helm template` with default values and with
//! a values file that sets everything renders objects that `kubernetes-validate --strict`
//! accepts (built-in kinds) or that the GeminiCluster CRD's schema accepts; the chart's CRD is
//! the committed one; NOTES.txt tells the URLs; the Grafana dashboard asks only for metrics
//! the engine serves. The objects the operator builds are validated the same way. Helm and
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
    let docs = text.split("\n---").filter_map(|d| serde_norway::from_str::<Value>(d).ok()).filter(|d| d.is_object()).collect();
    (text, docs)
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
    let deployment = docs.iter().find(|d| d["kind"] == "Deployment").unwrap();
    let pod = &deployment["spec"]["template"]["spec"];
    assert!(pod["containers"][0]["args"].to_string().contains("--leader-elect"), "two replicas elect a leader");
    assert_eq!(pod["containers"][0]["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(pod["serviceAccountName"], "gemini-op");
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
            assert!(parsed.spec.auth.enabled);
            assert_eq!(parsed.spec.service_monitor.labels["release"], "kube-prometheus-stack");
            let dashboard = docs.iter().find(|d| d["kind"] == "ConfigMap").expect("the dashboard ConfigMap");
            assert_eq!(dashboard["metadata"]["labels"]["grafana_dashboard"], "1");
            let json: Value = serde_json::from_str(dashboard["data"]["gemini.json"].as_str().unwrap()).expect("dashboard JSON");
            assert_eq!(json["uid"], "gemini-overview");
            validate_builtin("cluster-full", &docs);
        } else {
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
