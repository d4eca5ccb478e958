//! The committed CRD is what `crdgen` prints, and the example manifests are valid against it
//! (parsed into the Rust type and checked with a JSON Schema validator), while a bad one is
//! refused with a message that names the field.

use operator::crd::{crd_yaml, GeminiCluster};
use std::path::Path;

/// The workspace root, found at run time: a test binary reused from a build in another
/// checkout must not read that checkout's files.
fn root() -> std::path::PathBuf {
    Path::new(&std::env::var("CARGO_MANIFEST_DIR").expect("run by cargo test")).join("..")
}

fn schema() -> serde_json::Value {
    let crd: serde_json::Value = serde_norway::from_str(&crd_yaml()).unwrap();
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone()
}

fn manifest(text: &str) -> serde_json::Value {
    serde_norway::from_str(text).expect("YAML")
}

#[test]
fn committed_crd_matches_crdgen() {
    let committed = std::fs::read_to_string(root().join("crds/geminicluster.yaml")).unwrap();
    assert!(
        committed == crd_yaml(),
        "crds/geminicluster.yaml is stale: run `cargo run -p operator --bin crdgen > crds/geminicluster.yaml`"
    );
}

#[test]
fn examples_parse_and_validate_against_the_crd_schema() {
    let validator = jsonschema::validator_for(&schema()).expect("the CRD schema compiles");
    let mut seen = 0;
    for entry in std::fs::read_dir(root().join("examples")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if !name.starts_with("geminicluster-") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let value = manifest(&text);
        let errors: Vec<String> = validator.iter_errors(&value).map(|e| format!("{}: {e}", e.instance_path())).collect();
        assert!(errors.is_empty(), "{name}: {errors:?}");
        let gc: GeminiCluster = serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!gc.spec.image.is_empty());
        seen += 1;
    }
    assert_eq!(seen, 2, "a minimal and a full example");
    let full: GeminiCluster = serde_norway::from_str(&std::fs::read_to_string(root().join("examples/geminicluster-full.yaml")).unwrap()).unwrap();
    assert_eq!(full.spec.replicas, 3);
    assert_eq!(full.spec.prometheus.unwrap().remote_write.queue_config["maxSamplesPerSend"], 2000);
}

#[test]
fn invalid_manifests_are_refused_naming_the_field() {
    let validator = jsonschema::validator_for(&schema()).unwrap();
    let cases = [
        ("spec:\n  image: g\n  retention: 30 days\n", "/spec/retention"),
        ("spec:\n  image: g\n  replicas: 0\n", "/spec/replicas"),
        ("spec:\n  image: g\n  storage: {size: lots}\n", "/spec/storage/size"),
        ("spec:\n  replicas: 2\n", "image"),
    ];
    for (text, field) in cases {
        let errors: Vec<String> = validator.iter_errors(&manifest(text)).map(|e| format!("{} {e}", e.instance_path())).collect();
        assert!(errors.iter().any(|e| e.contains(field)), "{text:?}: {errors:?} should name {field}");
    }
}
