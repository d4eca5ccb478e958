//! The engine configuration the operator generates is one the real `gemini` accepts: the
//! server starts with it and creates the databases it names.

use tests::*;

#[test]
fn generated_engine_config_starts_gemini() {
    let text = std::fs::read_to_string(project_root().join("examples/geminicluster-full.yaml")).unwrap();
    let mut gc: operator::crd::GeminiCluster = serde_norway::from_str(&text).unwrap();
    gc.spec.databases = vec!["prometheus".into(), "longterm".into()];
    let config = operator::resources::engine_config(&gc).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gemini.toml");
    std::fs::write(&path, &config).unwrap();
    // The test's own --http-addr and --data-dir override the pod's values from the file.
    let g = Gemini::start(&dir.path().join("data"), &["--config", path.to_str().unwrap()]);
    let v = g.query("SHOW DATABASES");
    assert_eq!(v["results"][0]["series"][0]["values"], serde_json::json!([["longterm"], ["prometheus"]]), "{config}");
}
