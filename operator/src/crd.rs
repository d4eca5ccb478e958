//! The `GeminiCluster` custom resource (group `gemini.io`, version `v1alpha1`), defined once
//! here: `crdgen` prints its CRD, the reconciler reads its spec and writes its status. Every
//! field carries a description (the `kubectl explain` text), a default where one makes sense,
//! and validation in the schema.

use k8s_openapi::api::core::v1::{Affinity, ResourceRequirements, Toleration};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A Gemini cluster: long-term storage for Prometheus, wired into the Prometheus objects it selects.
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "gemini.io",
    version = "v1alpha1",
    kind = "GeminiCluster",
    namespaced,
    shortname = "gem",
    status = "GeminiClusterStatus",
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Replicas","type":"integer","jsonPath":".spec.replicas"}"#,
    printcolumn = r#"{"name":"Image","type":"string","jsonPath":".spec.image"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct GeminiClusterSpec {
    /// Container image of the Gemini engine, for example `registry.example/gemini:0.1.0`.
    #[schemars(length(min = 1))]
    pub image: String,
    /// Number of Gemini pods. Scaling down keeps the PersistentVolumeClaims of removed pods.
    #[serde(default = "default_replicas")]
    #[schemars(range(min = 1, max = 100))]
    pub replicas: i32,
    /// Copies of each series across the pods (at most the number of pods). The pods find each
    /// other through the headless Service; scaling changes their list without restarting them.
    #[serde(default = "default_replication_factor")]
    #[schemars(range(min = 1, max = 10))]
    pub replication_factor: i32,
    /// Persistent storage of each pod.
    #[serde(default)]
    pub storage: StorageSpec,
    /// CPU and memory requests and limits of the Gemini container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// How long samples are kept, as a number and a unit: `ms`, `s`, `m`, `h`, `d`, `w` or `y` (for example `30d`).
    #[serde(default = "default_retention")]
    #[schemars(regex(pattern = r"^[0-9]+(ms|s|m|h|d|w|y)$"))]
    pub retention: String,
    /// How long the downsampled tiers keep data (at least as long as `retention`); a tier
    /// left out keeps what was set before (by InfluxQL), on a new database as long as the next
    /// finer data (`retention`, then the 5-minute tier).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub downsampled_retention: Option<DownsampledRetentionSpec>,
    /// How much older than its series' newest sample a written sample may be and still be
    /// stored, merged in (Prometheus' `out_of_order_time_window`), as a number and a unit (for
    /// example `30m`); unset, every older sample is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[0-9]+(ms|s|m|h|d|w|y)$"))]
    pub out_of_order_window: Option<String>,
    /// Limits on new series that protect each node (counted per node: in a cluster every node
    /// counts the copies it holds); unset, no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series_limits: Option<SeriesLimitsSpec>,
    /// Databases created at start; Prometheus writes to the first one.
    #[serde(default = "default_databases")]
    #[schemars(length(min = 1))]
    pub databases: Vec<String>,
    /// Authentication of the HTTP API.
    #[serde(default)]
    pub auth: AuthSpec,
    /// Extra engine settings (keys of `gemini serve --config`), merged over the generated ones.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(schema_with = "free_form_object")]
    pub config: BTreeMap<String, serde_json::Value>,
    /// Which Prometheus objects (of the Prometheus Operator) get `remoteWrite`/`remoteRead` entries for this cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prometheus: Option<PrometheusSpec>,
    /// A ServiceMonitor for the engine's own `/metrics`, where the Prometheus Operator runs.
    #[serde(default)]
    pub service_monitor: ServiceMonitorSpec,
    /// The PodDisruptionBudget of the Gemini pods.
    #[serde(default)]
    pub pod_disruption_budget: PodDisruptionBudgetSpec,
    /// Node labels a Gemini pod's node must have.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<String, String>,
    /// Tolerations of the Gemini pods.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tolerations: Vec<Toleration>,
    /// Affinity rules of the Gemini pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,
    /// Annotations added to the Gemini pods.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pod_annotations: BTreeMap<String, String>,
    /// Labels added to the Gemini pods.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pod_labels: BTreeMap<String, String>,
}

fn default_replicas() -> i32 {
    1
}

fn default_replication_factor() -> i32 {
    2
}

fn default_retention() -> String {
    "30d".into()
}

fn default_databases() -> Vec<String> {
    vec!["prometheus".into()]
}

fn default_true() -> bool {
    true
}

/// An object whose keys are not fixed: kept as given.
fn free_form_object(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true,
    })
}

/// A list of objects whose shape belongs to another project (Prometheus relabel configs).
fn free_form_list(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "array",
        "items": { "type": "object", "x-kubernetes-preserve-unknown-fields": true },
    })
}

/// How long each downsampled tier of the databases' default retention policy keeps data: a
/// number and a unit (`ms`, `s`, `m`, `h`, `d`, `w` or `y`, at least `1h`), or `inf` (or `0s`)
/// for forever.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DownsampledRetentionSpec {
    /// The 5-minute tier (for example `365d`); at least as long as `retention`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]+(ms|s|m|h|d|w|y)|inf)$"))]
    pub five_minutes: Option<String>,
    /// The 1-hour tier (for example `inf`); at least as long as the 5-minute tier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]+(ms|s|m|h|d|w|y)|inf)$"))]
    pub one_hour: Option<String>,
}

/// The engine's `--storage.max-*-series` flags; a limit left out (or 0) is none. Samples of a
/// new series beyond a limit are refused (HTTP 400), known series keep ingesting.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SeriesLimitsSpec {
    /// New series a node makes in a sliding hour.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_hourly_series: Option<u64>,
    /// New series a node makes in a sliding day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_daily_series: Option<u64>,
    /// Series one database holds on a node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_series_per_database: Option<u64>,
}

/// Persistent storage of each Gemini pod.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StorageSpec {
    /// Size of each pod's PersistentVolumeClaim, a Kubernetes quantity such as `50Gi`.
    #[serde(default = "default_storage_size")]
    #[schemars(regex(pattern = r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$"))]
    pub size: String,
    /// StorageClass of the claims; the cluster's default class when empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class_name: Option<String>,
}

fn default_storage_size() -> String {
    "10Gi".into()
}

impl Default for StorageSpec {
    fn default() -> Self {
        StorageSpec { size: default_storage_size(), storage_class_name: None }
    }
}

/// Authentication of the HTTP API.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthSpec {
    /// Require credentials on every endpoint but `/ping` and `/health`.
    #[serde(default)]
    pub enabled: bool,
    /// Secret with keys `username` and `password` of the admin user; one is generated when empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_secret_name: Option<String>,
}

/// Which Prometheus objects get wired to this cluster, and how.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PrometheusSpec {
    /// Labels of the Prometheus objects to wire; an empty selector matches every one.
    #[serde(default)]
    pub selector: LabelSelector,
    /// Namespaces to look in; an empty selector means this cluster's own namespace only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<LabelSelector>,
    /// Settings of the `remoteWrite` entry.
    #[serde(default)]
    pub remote_write: RemoteWriteSpec,
    /// Settings of the `remoteRead` entry.
    #[serde(default)]
    pub remote_read: RemoteReadSpec,
}

/// Settings of the `remoteWrite` entry added to each selected Prometheus.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RemoteWriteSpec {
    /// The Prometheus Operator's `queueConfig` (for example `maxSamplesPerSend`), passed on as given.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(schema_with = "free_form_object")]
    pub queue_config: BTreeMap<String, serde_json::Value>,
    /// Prometheus `writeRelabelConfigs`, passed on as given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "free_form_list")]
    pub write_relabel_configs: Vec<serde_json::Value>,
}

/// Settings of the `remoteRead` entry added to each selected Prometheus.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RemoteReadSpec {
    /// Add a `remoteRead` entry.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Also read from Gemini the time range Prometheus' own storage holds.
    #[serde(default)]
    pub read_recent: bool,
}

impl Default for RemoteReadSpec {
    fn default() -> Self {
        RemoteReadSpec { enabled: true, read_recent: false }
    }
}

/// The ServiceMonitor for the engine's own metrics.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceMonitorSpec {
    /// Create the ServiceMonitor (only where the Prometheus Operator's CRDs exist).
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Labels of the ServiceMonitor, so that a Prometheus' `serviceMonitorSelector` picks it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Scrape interval, a Prometheus duration such as `30s`.
    #[serde(default = "default_interval")]
    #[schemars(regex(pattern = r"^[0-9]+(ms|s|m|h)$"))]
    pub interval: String,
}

fn default_interval() -> String {
    "30s".into()
}

impl Default for ServiceMonitorSpec {
    fn default() -> Self {
        ServiceMonitorSpec { enabled: true, labels: BTreeMap::new(), interval: default_interval() }
    }
}

/// The PodDisruptionBudget of the Gemini pods.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodDisruptionBudgetSpec {
    /// Pods that may be down at once during voluntary disruptions.
    #[serde(default = "default_max_unavailable")]
    #[schemars(range(min = 0))]
    pub max_unavailable: i32,
}

fn default_max_unavailable() -> i32 {
    1
}

impl Default for PodDisruptionBudgetSpec {
    fn default() -> Self {
        PodDisruptionBudgetSpec { max_unavailable: default_max_unavailable() }
    }
}

/// What the operator last saw and did.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GeminiClusterStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Pods the StatefulSet has.
    #[serde(default)]
    pub replicas: i32,
    /// Pods ready to serve.
    #[serde(default)]
    pub ready_replicas: i32,
    /// The remote write URL for Prometheus.
    #[serde(default, rename = "writeURL", skip_serializing_if = "Option::is_none")]
    pub write_url: Option<String>,
    /// The remote read URL for Prometheus.
    #[serde(default, rename = "readURL", skip_serializing_if = "Option::is_none")]
    pub read_url: Option<String>,
    /// The Prometheus objects wired to this cluster, as `namespace/name`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prometheuses: Vec<String>,
    /// `Ready`, `Progressing` and `Degraded`, with reasons and messages.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

/// The CRD as YAML, exactly what `crdgen` prints.
pub fn crd_yaml() -> String {
    use kube::CustomResourceExt;
    serde_norway::to_string(&GeminiCluster::crd()).expect("the CRD serializes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fill_a_minimal_spec() {
        let spec: GeminiClusterSpec = serde_json::from_value(serde_json::json!({"image": "gemini:0.1.0"})).unwrap();
        assert_eq!(spec.replicas, 1);
        assert_eq!(spec.retention, "30d");
        assert_eq!(spec.databases, vec!["prometheus"]);
        assert_eq!(spec.storage.size, "10Gi");
        assert!(spec.service_monitor.enabled);
        assert_eq!(spec.pod_disruption_budget.max_unavailable, 1);
        assert!(!spec.auth.enabled);
    }

    #[test]
    fn crd_names_and_columns() {
        let yaml = crd_yaml();
        for want in ["name: geminiclusters.gemini.io", "kind: GeminiCluster", "- gem", "scope: Namespaced", "name: Ready", "name: Image", "status: {}"] {
            assert!(yaml.contains(want), "CRD lacks {want:?}");
        }
    }
}
