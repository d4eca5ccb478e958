//! The Gemini operator: the `GeminiCluster` resource (`crd`), the pure builders of the objects
//! it owns (`resources`), of its Prometheus entries (`wiring`) and of its status (`status`);
//! the reconcile that applies them (`reconcile`, with `prometheus` for the Prometheus
//! Operator's objects), leader election (`leader`) and the operator's metrics (`metrics`).

pub mod crd;
pub mod leader;
pub mod metrics;
pub mod prometheus;
pub mod reconcile;
pub mod resources;
pub mod status;
pub mod wiring;

/// `namespace/name` of an object: how status, logs and the backoff table name it.
pub fn namespaced_name<K: kube::Resource>(o: &K) -> String {
    use kube::ResourceExt;
    format!("{}/{}", o.namespace().unwrap_or_default(), o.name_any())
}

/// The field manager of every server-side apply, and the reporting controller of events.
pub const MANAGER: &str = "gemini-operator";
/// Held on every GeminiCluster until its entries are out of every Prometheus.
pub const FINALIZER: &str = "gemini.io/prometheus-wiring";
