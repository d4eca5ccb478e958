//! The engine configuration the operator generates is one the real `gemini` accepts: the
//! server starts with it, creates the databases it names and, with `spec.auth`, turns auth
//! on with the admin from the environment the StatefulSet sets from the admin Secret.

use tests::*;

#[test]
fn generated_engine_config_starts_gemini() {
    let text = std::fs::read_to_string(project_root().join("examples/geminicluster-full.yaml")).unwrap();
    let mut gc: operator::crd::GeminiCluster = serde_norway::from_str(&text).unwrap();
    gc.spec.databases = vec!["prometheus".into(), "longterm".into()];
    let config = operator::resources::engine_config(&gc).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // The pod's peer file lists the pods through the headless Service; here it lists this one
    // node, at the address the pod's GEMINI_CLUSTER_SELF would give.
    let peers = operator::resources::peers(&gc);
    assert_eq!(peers.lines().count(), gc.spec.replicas as usize, "{peers}");
    let port = free_port();
    let peers_file = dir.path().join("peers");
    std::fs::write(&peers_file, format!("127.0.0.1:{port}\n")).unwrap();
    assert!(config.contains("peers_file = \"/etc/gemini/peers\""), "{config}");
    let config = config.replace("/etc/gemini/peers", peers_file.to_str().unwrap());
    std::env::set_var("GEMINI_CLUSTER_SELF", format!("127.0.0.1:{port}"));
    std::env::set_var("GEMINI_CLUSTER_SECRET", "from-the-cluster-secret");
    let path = dir.path().join("gemini.toml");
    std::fs::write(&path, &config).unwrap();
    assert!(gc.spec.auth.enabled, "the full example turns auth on");
    // As the pod: GEMINI_ADMIN_USER / GEMINI_ADMIN_PASSWORD from the admin Secret. The test's
    // own --http-addr and --data-dir override the pod's values from the file.
    std::env::set_var("GEMINI_ADMIN_USER", "admin");
    std::env::set_var("GEMINI_ADMIN_PASSWORD", "from-the-secret");
    let g = Gemini::start_on(port, &dir.path().join("data"), &["--config", path.to_str().unwrap()]);
    let health: serde_json::Value = serde_json::from_slice(&g.get("/health").body).unwrap();
    assert_eq!(health["peers"], serde_json::json!([{ "name": format!("127.0.0.1:{port}"), "reachable": true }]), "a one-pod cluster");
    let a = g.post("/query?q=SHOW%20DATABASES", &[], b"");
    assert_eq!(a.status, 401, "auth is on: {}", a.text());
    let a = g.post("/query?q=SHOW%20DATABASES", &[("Authorization", "Token admin:from-the-secret")], b"");
    let v: serde_json::Value = serde_json::from_slice(&a.body).unwrap();
    assert_eq!(v["results"][0]["series"][0]["values"], serde_json::json!([["prometheus"], ["longterm"]]), "{config}");
    // spec.retention is the default retention policy of every database of the spec.
    let want = operator_duration(&gc.spec.retention);
    for db in ["prometheus", "longterm"] {
        let q = format!("/query?q=SHOW%20RETENTION%20POLICIES%20ON%20{db}");
        let a = g.post(&q, &[("Authorization", "Token admin:from-the-secret")], b"");
        let v: serde_json::Value = serde_json::from_slice(&a.body).unwrap();
        assert_eq!(v["results"][0]["series"][0]["values"][0][1], serde_json::json!(want), "{db}: {v}");
        // spec.downsampledRetention: the tiers' columns, a year and forever.
        let (columns, row) = (&v["results"][0]["series"][0]["columns"], &v["results"][0]["series"][0]["values"][0]);
        assert_eq!((&columns[5], &columns[6]), (&serde_json::json!("downsample5mDuration"), &serde_json::json!("downsample1hDuration")), "{db}: {v}");
        assert_eq!((&row[5], &row[6]), (&serde_json::json!("8760h0m0s"), &serde_json::json!("0s")), "{db}: {v}");
    }
}

/// `30d` as InfluxDB prints a policy duration: `720h0m0s`.
fn operator_duration(spec: &str) -> String {
    let hours = match spec.strip_suffix('d') {
        Some(days) => days.parse::<u64>().unwrap() * 24,
        None => spec.strip_suffix('h').expect("the examples use d or h").parse::<u64>().unwrap(),
    };
    format!("{hours}h0m0s")
}
