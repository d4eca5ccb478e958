//! Pure builders of the objects a `GeminiCluster` owns: the engine's ConfigMap, the headless
//! and client Services, the StatefulSet, the PodDisruptionBudget, the admin Secret, the
//! ServiceMonitor, and the Secret with ready-to-paste `remote_write` / `remote_read` YAML for a
//! plain `prometheus.yml`; and the check for StatefulSet fields Kubernetes cannot change. No
//! I/O here: the reconciler applies what these return. The engine is known only by its flags,
//! config keys and port.

use crate::crd::GeminiCluster;
use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetPersistentVolumeClaimRetentionPolicy, StatefulSetSpec};
use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMap, ConfigMapVolumeSource, Container, ContainerPort, EnvVar, EnvVarSource, HTTPGetAction, PersistentVolumeClaim,
    ObjectFieldSelector, PersistentVolumeClaimSpec, PodSecurityContext, PodSpec, PodTemplateSpec, Probe, Secret, SecretKeySelector, SecurityContext, Service,
    ServicePort, ServiceSpec, Volume, VolumeMount, VolumeResourceRequirements,
};
use k8s_openapi::ByteString;
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::{Resource, ResourceExt};
use std::collections::BTreeMap;

/// The engine's HTTP port.
pub const PORT: i32 = 8086;
const DATA_DIR: &str = "/var/lib/gemini";
const CONFIG_DIR: &str = "/etc/gemini";
const CONFIG_FILE: &str = "gemini.toml";
/// The ConfigMap key with the pods' addresses, one per line: outside the hashed engine
/// configuration, so scaling rewrites it without restarting the pods (they re-read it).
const PEERS_FILE: &str = "peers";
/// Pod annotation holding the hash of the engine configuration: a change rolls the pods.
pub const CONFIG_HASH_ANNOTATION: &str = "gemini.io/config-hash";

/// Labels that select this cluster's pods.
pub fn selector_labels(gc: &GeminiCluster) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".to_string(), "gemini".to_string()),
        ("app.kubernetes.io/instance".to_string(), gc.name_any()),
    ])
}

/// Label that tells the client Service from the headless one (the ServiceMonitor selects it).
const SERVICE_ROLE_LABEL: &str = "gemini.io/service";

/// Labels of every object the operator creates.
pub fn labels(gc: &GeminiCluster) -> BTreeMap<String, String> {
    let mut l = selector_labels(gc);
    l.insert("app.kubernetes.io/managed-by".into(), "gemini-operator".into());
    l
}

fn meta(gc: &GeminiCluster, name: String) -> ObjectMeta {
    ObjectMeta {
        name: Some(name),
        namespace: gc.namespace(),
        labels: Some(labels(gc)),
        owner_references: gc.controller_owner_ref(&()).map(|o| vec![o]),
        ..Default::default()
    }
}

pub fn headless_service_name(gc: &GeminiCluster) -> String {
    format!("{}-headless", gc.name_any())
}

/// The engine configuration (TOML): generated keys, then `spec.config` merged over them.
pub fn engine_config(gc: &GeminiCluster) -> Result<String, String> {
    let mut table = toml::Table::new();
    table.insert("http_addr".into(), format!("0.0.0.0:{PORT}").into());
    table.insert("data_dir".into(), DATA_DIR.into());
    table.insert("databases".into(), toml::Value::Array(gc.spec.databases.iter().map(|d| d.clone().into()).collect()));
    // The default retention policy of those databases, set by the engine at every start.
    table.insert("retention".into(), gc.spec.retention.clone().into());
    for (key, value) in downsampled_retention(gc)? {
        table.insert(key.into(), value.into());
    }
    let mut storage = toml::Table::new();
    if let Some(window) = &gc.spec.out_of_order_window {
        storage.insert("out_of_order_window".into(), window.clone().into());
    }
    let limits = gc.spec.series_limits.clone().unwrap_or_default();
    for (key, limit) in [("max_hourly_series", limits.max_hourly_series), ("max_daily_series", limits.max_daily_series), ("max_series_per_database", limits.max_series_per_database)] {
        if let Some(n) = limit.filter(|n| *n > 0) {
            storage.insert(key.into(), i64::try_from(n).unwrap_or(i64::MAX).into());
        }
    }
    if !storage.is_empty() {
        table.insert("storage".into(), storage.into());
    }
    let mut cluster = toml::Table::new();
    cluster.insert("peers_file".into(), format!("{CONFIG_DIR}/{PEERS_FILE}").into());
    cluster.insert("replication_factor".into(), i64::from(gc.spec.replication_factor).into());
    table.insert("cluster".into(), cluster.into());
    if gc.spec.auth.enabled {
        let mut auth = toml::Table::new();
        auth.insert("enabled".into(), true.into());
        table.insert("auth".into(), auth.into());
    }
    for (key, value) in &gc.spec.config {
        let v = toml::Value::try_from(value).map_err(|e| format!("spec.config.{key}: {e}"))?;
        table.insert(key.clone(), v);
    }
    toml::to_string(&table).map_err(|e| format!("spec.config: {e}"))
}

/// The engine's keys of `spec.downsampledRetention` (`retention_5m`, `retention_1h`), refused
/// as the engine would refuse them at start: under an hour, or a tier kept shorter than the
/// finer data below it.
fn downsampled_retention(gc: &GeminiCluster) -> Result<Vec<(&'static str, String)>, String> {
    /// Milliseconds; forever as the largest.
    fn millis(field: &str, text: &str) -> Result<u128, String> {
        let digits = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
        let unit: u128 = match &text[digits..] {
            _ if text == "inf" => return Ok(u128::MAX),
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 7 * 86_400_000,
            "y" => 365 * 86_400_000,
            _ => return Err(format!("{field}: {text:?} is not a number and a unit (ms, s, m, h, d, w, y) or inf")),
        };
        match text[..digits].parse::<u128>() {
            Ok(0) => Ok(u128::MAX),
            Ok(n) if n * unit >= 3_600_000 => Ok(n * unit),
            _ => Err(format!("{field}: {text:?} is under an hour (inf or 0s keeps data forever)")),
        }
    }
    let Some(tiers) = &gc.spec.downsampled_retention else { return Ok(vec![]) };
    let mut finer = ("spec.retention", millis("spec.retention", &gc.spec.retention)?);
    let mut keys = Vec::new();
    for (field, key, value) in [("spec.downsampledRetention.fiveMinutes", "retention_5m", &tiers.five_minutes), ("spec.downsampledRetention.oneHour", "retention_1h", &tiers.one_hour)] {
        let Some(value) = value else { continue };
        let kept = millis(field, value)?;
        if kept < finer.1 {
            return Err(format!("{field} ({value}) must not be shorter than {}: a tier answers where the finer data is gone", finer.0));
        }
        finer = (field, kept);
        keys.push((key, value.clone()));
    }
    Ok(keys)
}

/// Stable across operator versions and machines, unlike std's hasher.
pub fn config_hash(config: &str) -> String {
    format!("{:016x}", xxhash_rust::xxh3::xxh3_64(config.as_bytes()))
}

pub fn config_map(gc: &GeminiCluster, config: &str) -> ConfigMap {
    ConfigMap {
        metadata: meta(gc, format!("{}-config", gc.name_any())),
        data: Some(BTreeMap::from([(CONFIG_FILE.to_string(), config.to_string()), (PEERS_FILE.to_string(), peers(gc))])),
        ..Default::default()
    }
}

/// A pod's address as the other pods reach it, through the headless Service.
fn pod_address(gc: &GeminiCluster, pod: &str) -> String {
    format!("{pod}.{}.{}.svc:{PORT}", headless_service_name(gc), gc.namespace().unwrap_or_default())
}

/// Every pod's address, one per line, in ordinal order.
pub fn peers(gc: &GeminiCluster) -> String {
    (0..gc.spec.replicas).map(|i| pod_address(gc, &format!("{}-{i}", gc.name_any())) + "\n").collect()
}

pub fn cluster_secret_name(gc: &GeminiCluster) -> String {
    format!("{}-cluster", gc.name_any())
}

/// The secret of the requests between the pods (created once, never overwritten).
pub fn cluster_secret(gc: &GeminiCluster, secret: &str) -> Secret {
    Secret {
        metadata: meta(gc, cluster_secret_name(gc)),
        data: Some(BTreeMap::from([("secret".to_string(), ByteString(secret.as_bytes().to_vec()))])),
        ..Default::default()
    }
}

fn http_port() -> ServicePort {
    ServicePort { name: Some("http".into()), port: PORT, target_port: Some(IntOrString::String("http".into())), ..Default::default() }
}

/// Gives the pods stable DNS names (`<pod>.<name>-headless`).
pub fn headless_service(gc: &GeminiCluster) -> Service {
    Service {
        metadata: meta(gc, headless_service_name(gc)),
        spec: Some(ServiceSpec {
            cluster_ip: Some("None".into()),
            publish_not_ready_addresses: Some(true),
            selector: Some(selector_labels(gc)),
            ports: Some(vec![http_port()]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// What Prometheus and users talk to.
pub fn client_service(gc: &GeminiCluster) -> Service {
    let mut metadata = meta(gc, gc.name_any());
    metadata.labels.get_or_insert_default().insert(SERVICE_ROLE_LABEL.into(), "client".into());
    Service {
        metadata,
        spec: Some(ServiceSpec { selector: Some(selector_labels(gc)), ports: Some(vec![http_port()]), ..Default::default() }),
        ..Default::default()
    }
}

fn probe(path: &str, period: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction { path: Some(path.into()), port: IntOrString::String("http".into()), ..Default::default() }),
        period_seconds: Some(period),
        failure_threshold: Some(3),
        ..Default::default()
    }
}

/// The engine's environment: the log level, the pod's own address in the cluster and the
/// cluster secret and, with auth on, the admin user it creates at first start, read from the
/// admin Secret.
fn engine_env(gc: &GeminiCluster) -> Vec<EnvVar> {
    let pod_name = EnvVarSource { field_ref: Some(ObjectFieldSelector { field_path: "metadata.name".into(), ..Default::default() }), ..Default::default() };
    let secret = SecretKeySelector { name: cluster_secret_name(gc), key: "secret".into(), ..Default::default() };
    let mut env = vec![
        EnvVar { name: "RUST_LOG".into(), value: Some("info".into()), ..Default::default() },
        EnvVar { name: "POD_NAME".into(), value_from: Some(pod_name), ..Default::default() },
        EnvVar { name: "GEMINI_CLUSTER_SELF".into(), value: Some(pod_address(gc, "$(POD_NAME)")), ..Default::default() },
        EnvVar { name: "GEMINI_CLUSTER_SECRET".into(), value_from: Some(EnvVarSource { secret_key_ref: Some(secret), ..Default::default() }), ..Default::default() },
    ];
    if let Some(secret) = admin_secret_name(gc) {
        for (name, key) in [("GEMINI_ADMIN_USER", "username"), ("GEMINI_ADMIN_PASSWORD", "password")] {
            let from = SecretKeySelector { name: secret.clone(), key: key.into(), ..Default::default() };
            env.push(EnvVar { name: name.into(), value_from: Some(EnvVarSource { secret_key_ref: Some(from), ..Default::default() }), ..Default::default() });
        }
    }
    env
}

pub fn stateful_set(gc: &GeminiCluster, config_hash: &str) -> StatefulSet {
    let spec = &gc.spec;
    let mut pod_labels = spec.pod_labels.clone();
    pod_labels.extend(selector_labels(gc));
    let mut annotations = spec.pod_annotations.clone();
    annotations.insert(CONFIG_HASH_ANNOTATION.into(), config_hash.into());
    let container = Container {
        name: "gemini".into(),
        image: Some(spec.image.clone()),
        args: Some(vec!["serve".into(), "--config".into(), format!("{CONFIG_DIR}/{CONFIG_FILE}")]),
        env: Some(engine_env(gc)),
        ports: Some(vec![ContainerPort { name: Some("http".into()), container_port: PORT, ..Default::default() }]),
        readiness_probe: Some(probe("/health", 5)),
        liveness_probe: Some(probe("/ping", 10)),
        resources: spec.resources.clone(),
        volume_mounts: Some(vec![
            VolumeMount { name: "data".into(), mount_path: DATA_DIR.into(), ..Default::default() },
            VolumeMount { name: "config".into(), mount_path: CONFIG_DIR.into(), read_only: Some(true), ..Default::default() },
        ]),
        security_context: Some(SecurityContext {
            run_as_non_root: Some(true),
            read_only_root_filesystem: Some(true),
            allow_privilege_escalation: Some(false),
            capabilities: Some(Capabilities { drop: Some(vec!["ALL".into()]), ..Default::default() }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let claim = PersistentVolumeClaim {
        metadata: ObjectMeta { name: Some("data".into()), labels: Some(selector_labels(gc)), ..Default::default() },
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".into()]),
            storage_class_name: spec.storage.storage_class_name.clone(),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([("storage".to_string(), Quantity(spec.storage.size.clone()))])),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    StatefulSet {
        metadata: meta(gc, gc.name_any()),
        spec: StatefulSetSpec {
            replicas: Some(spec.replicas),
            service_name: Some(headless_service_name(gc)),
            selector: LabelSelector { match_labels: Some(selector_labels(gc)), ..Default::default() },
            pod_management_policy: Some("Parallel".into()),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta { labels: Some(pod_labels), annotations: Some(annotations), ..Default::default() }),
                spec: Some(PodSpec {
                    containers: vec![container],
                    // The engine stores its open chunks on SIGTERM; give it time.
                    termination_grace_period_seconds: Some(60),
                    security_context: Some(PodSecurityContext {
                        run_as_non_root: Some(true),
                        run_as_user: Some(65532),
                        run_as_group: Some(65532),
                        fs_group: Some(65532),
                        ..Default::default()
                    }),
                    node_selector: (!spec.node_selector.is_empty()).then(|| spec.node_selector.clone()),
                    tolerations: (!spec.tolerations.is_empty()).then(|| spec.tolerations.clone()),
                    affinity: spec.affinity.clone(),
                    volumes: Some(vec![Volume {
                        name: "config".into(),
                        config_map: Some(ConfigMapVolumeSource { name: format!("{}-config", gc.name_any()), ..Default::default() }),
                        ..Default::default()
                    }]),
                    ..Default::default()
                }),
            },
            volume_claim_templates: Some(vec![claim]),
            // Scaling down or deleting never deletes a pod's data.
            persistent_volume_claim_retention_policy: Some(StatefulSetPersistentVolumeClaimRetentionPolicy {
                when_scaled: Some("Retain".into()),
                when_deleted: Some("Retain".into()),
            }),
            ..Default::default()
        },
        ..Default::default()
    }
}

pub fn pod_disruption_budget(gc: &GeminiCluster) -> PodDisruptionBudget {
    PodDisruptionBudget {
        metadata: meta(gc, gc.name_any()),
        spec: Some(PodDisruptionBudgetSpec {
            max_unavailable: Some(IntOrString::Int(gc.spec.pod_disruption_budget.max_unavailable)),
            selector: Some(LabelSelector { match_labels: Some(selector_labels(gc)), ..Default::default() }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn base_url(gc: &GeminiCluster) -> String {
    format!("http://{}.{}.svc:{PORT}", gc.name_any(), gc.namespace().unwrap_or_else(|| "default".into()))
}

fn first_database(gc: &GeminiCluster) -> &str {
    gc.spec.databases.first().map(String::as_str).unwrap_or("prometheus")
}

pub fn write_url(gc: &GeminiCluster) -> String {
    format!("{}/api/v1/prom/write?db={}", base_url(gc), first_database(gc))
}

pub fn read_url(gc: &GeminiCluster) -> String {
    format!("{}/api/v1/prom/read?db={}", base_url(gc), first_database(gc))
}

/// The admin user's name and password, from the admin Secret.
#[derive(Clone, PartialEq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

/// The name of the admin Secret when auth is on: the one the spec names, or `<name>-admin`.
pub fn admin_secret_name(gc: &GeminiCluster) -> Option<String> {
    let auth = &gc.spec.auth;
    auth.enabled.then(|| auth.admin_secret_name.clone().filter(|n| !n.is_empty()).unwrap_or_else(|| format!("{}-admin", gc.name_any())))
}

/// The generated admin Secret (created once, never overwritten, so the password stays).
pub fn admin_secret(gc: &GeminiCluster, name: &str, credentials: &Credentials) -> Secret {
    Secret {
        metadata: meta(gc, name.to_string()),
        type_: Some("kubernetes.io/basic-auth".into()),
        data: Some(BTreeMap::from([
            ("username".to_string(), ByteString(credentials.username.clone().into_bytes())),
            ("password".to_string(), ByteString(credentials.password.clone().into_bytes())),
        ])),
        ..Default::default()
    }
}

/// A fresh admin password: 32 characters from 62, drawn from the OS's random source.
pub fn random_password() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = [0u8; 64];
    getrandom::fill(&mut bytes).expect("the OS random source works");
    // Rejection sampling keeps every character equally likely (248 = 4 * 62).
    let chars: String = bytes.iter().filter(|b| **b < 248).map(|b| ALPHABET[(*b % 62) as usize] as char).take(32).collect();
    if chars.len() == 32 { chars } else { random_password() }
}

/// The `remote_write:` / `remote_read:` lines for a plain `prometheus.yml`, with `basic_auth`
/// when auth is on.
pub fn prometheus_remote_yaml(gc: &GeminiCluster, credentials: Option<&Credentials>) -> String {
    let read_recent = gc.spec.prometheus.as_ref().is_some_and(|p| p.remote_read.read_recent);
    let auth = credentials
        .map(|c| format!("    basic_auth:\n      username: {}\n      password: {}\n", json_string(&c.username), json_string(&c.password)))
        .unwrap_or_default();
    format!(
        "remote_write:\n  - url: \"{}\"\n{auth}remote_read:\n  - url: \"{}\"\n    read_recent: {read_recent}\n{auth}",
        write_url(gc),
        read_url(gc)
    )
}

/// A YAML scalar that is always read back as the same string (JSON strings are YAML).
fn json_string(s: &str) -> String {
    serde_json::Value::String(s.into()).to_string()
}

pub fn remote_secret_name(gc: &GeminiCluster) -> String {
    format!("{}-prometheus-remote", gc.name_any())
}

/// The Secret `<name>-prometheus-remote` with key `prometheus.yml`.
pub fn remote_secret(gc: &GeminiCluster, credentials: Option<&Credentials>) -> Secret {
    Secret {
        metadata: meta(gc, remote_secret_name(gc)),
        data: Some(BTreeMap::from([("prometheus.yml".to_string(), ByteString(prometheus_remote_yaml(gc, credentials).into_bytes()))])),
        ..Default::default()
    }
}

/// The ServiceMonitor (Prometheus Operator) that scrapes the engine's `/metrics` through the
/// client Service.
pub fn service_monitor(gc: &GeminiCluster) -> serde_json::Value {
    let mut metadata = meta(gc, gc.name_any());
    metadata.labels.get_or_insert_default().extend(gc.spec.service_monitor.labels.clone());
    let mut selector = selector_labels(gc);
    selector.insert(SERVICE_ROLE_LABEL.into(), "client".into());
    serde_json::json!({
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": metadata,
        "spec": {
            "selector": {"matchLabels": selector},
            "endpoints": [{"port": "http", "path": "/metrics", "interval": gc.spec.service_monitor.interval}],
        },
    })
}

/// What makes `desired` impossible to apply over `existing`: the fields of a StatefulSet that
/// Kubernetes refuses to change (selector, serviceName, volumeClaimTemplates), with what to do.
pub fn immutable_change(existing: &StatefulSet, desired: &StatefulSet) -> Option<String> {
    let (old, new) = (&existing.spec, &desired.spec);
    let name = desired.metadata.name.as_deref().unwrap_or_default();
    let ns = desired.metadata.namespace.as_deref().unwrap_or("default");
    let claims = |s: &StatefulSetSpec| -> Vec<(String, Option<Quantity>, Option<String>)> {
        s.volume_claim_templates
            .iter()
            .flatten()
            .map(|c| {
                let spec = c.spec.as_ref();
                let size = spec.and_then(|s| s.resources.as_ref()).and_then(|r| r.requests.as_ref()).and_then(|r| r.get("storage").cloned());
                (c.metadata.name.clone().unwrap_or_default(), size, spec.and_then(|s| s.storage_class_name.clone()))
            })
            .collect()
    };
    let what = if old.selector.match_labels != new.selector.match_labels {
        "spec.selector".to_string()
    } else if old.service_name != new.service_name {
        "spec.serviceName".to_string()
    } else if claims(old) != claims(new) {
        let show = |c: Vec<(String, Option<Quantity>, Option<String>)>| {
            c.into_iter()
                .map(|(n, size, class)| format!("{n} {} class {}", size.map(|q| q.0).unwrap_or_default(), class.unwrap_or_else(|| "(default)".into())))
                .collect::<Vec<_>>()
                .join(", ")
        };
        format!("spec.volumeClaimTemplates (storage: {} -> {})", show(claims(old)), show(claims(new)))
    } else {
        return None;
    };
    Some(format!(
        "the new spec changes StatefulSet {name}'s {what}, which Kubernetes cannot change in place; the old StatefulSet keeps running. \
         To apply it, run `kubectl -n {ns} delete statefulset {name} --cascade=orphan`: the operator recreates the StatefulSet, the pods restart one by one \
         and keep their PersistentVolumeClaims (existing claims keep their size; resize them with `kubectl edit pvc` where the StorageClass allows expansion)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(yaml: &str) -> GeminiCluster {
        let mut gc: GeminiCluster = serde_norway::from_str(yaml).unwrap();
        gc.metadata.uid = Some("1234".into());
        gc
    }

    const MINIMAL: &str = "apiVersion: gemini.io/v1alpha1\nkind: GeminiCluster\nmetadata: {name: metrics, namespace: monitoring}\nspec: {image: 'gemini:0.1.0'}\n";

    #[test]
    fn defaults_give_a_working_statefulset() {
        let gc = cluster(MINIMAL);
        let config = engine_config(&gc).unwrap();
        assert_eq!(config, "data_dir = \"/var/lib/gemini\"\ndatabases = [\"prometheus\"]\nhttp_addr = \"0.0.0.0:8086\"\nretention = \"30d\"\n\n[cluster]\npeers_file = \"/etc/gemini/peers\"\nreplication_factor = 2\n");
        let sts = stateful_set(&gc, &config_hash(&config));
        let spec = sts.spec;
        assert_eq!(spec.replicas, Some(1));
        assert_eq!(spec.service_name.as_deref(), Some("metrics-headless"));
        let pod = spec.template.spec.unwrap();
        let c = &pod.containers[0];
        assert_eq!(c.args.as_ref().unwrap(), &vec!["serve", "--config", "/etc/gemini/gemini.toml"]);
        let sc = c.security_context.as_ref().unwrap();
        assert_eq!((sc.run_as_non_root, sc.read_only_root_filesystem), (Some(true), Some(true)));
        assert_eq!(sc.capabilities.as_ref().unwrap().drop.as_ref().unwrap(), &vec!["ALL"]);
        assert_eq!(c.readiness_probe.as_ref().unwrap().http_get.as_ref().unwrap().path.as_deref(), Some("/health"));
        let retention = spec.persistent_volume_claim_retention_policy.unwrap();
        assert_eq!((retention.when_scaled.as_deref(), retention.when_deleted.as_deref()), (Some("Retain"), Some("Retain")));
        let claim = &spec.volume_claim_templates.unwrap()[0];
        assert_eq!(claim.spec.as_ref().unwrap().resources.as_ref().unwrap().requests.as_ref().unwrap()["storage"], Quantity("10Gi".into()));
        assert_eq!(write_url(&gc), "http://metrics.monitoring.svc:8086/api/v1/prom/write?db=prometheus");
    }

    #[test]
    fn downsampled_retention_reaches_the_engine_config_and_is_checked() {
        let with = |tiers: &str| cluster(&MINIMAL.replace("spec: {image: 'gemini:0.1.0'}", &format!("spec: {{image: 'gemini:0.1.0', retention: 30d, downsampledRetention: {tiers}}}")));
        let config = engine_config(&with("{fiveMinutes: 365d, oneHour: inf}")).unwrap();
        assert!(config.contains("retention = \"30d\"\nretention_1h = \"inf\"\nretention_5m = \"365d\"\n"), "{config}");
        let config = engine_config(&with("{oneHour: 2y}")).unwrap();
        assert!(config.contains("retention_1h = \"2y\"") && !config.contains("retention_5m"), "a tier left out is not written: {config}");
        assert!(!engine_config(&cluster(MINIMAL)).unwrap().contains("retention_"));
        let refused = |tiers: &str| engine_config(&with(tiers)).unwrap_err();
        assert_eq!(refused("{fiveMinutes: 7d}"), "spec.downsampledRetention.fiveMinutes (7d) must not be shorter than spec.retention: a tier answers where the finer data is gone");
        assert_eq!(
            refused("{fiveMinutes: 1y, oneHour: 60d}"),
            "spec.downsampledRetention.oneHour (60d) must not be shorter than spec.downsampledRetention.fiveMinutes: a tier answers where the finer data is gone"
        );
        assert_eq!(refused("{fiveMinutes: 0s, oneHour: 1y}"), "spec.downsampledRetention.oneHour (1y) must not be shorter than spec.downsampledRetention.fiveMinutes: a tier answers where the finer data is gone", "0s is forever");
        assert_eq!(refused("{oneHour: 30m}"), "spec.downsampledRetention.oneHour: \"30m\" is under an hour (inf or 0s keeps data forever)");
        assert_eq!(refused("{oneHour: forever}"), "spec.downsampledRetention.oneHour: \"forever\" is not a number and a unit (ms, s, m, h, d, w, y) or inf");
    }

    #[test]
    fn the_out_of_order_window_reaches_the_engine_config() {
        let gc = cluster(&MINIMAL.replace("spec: {image: 'gemini:0.1.0'}", "spec: {image: 'gemini:0.1.0', outOfOrderWindow: 30m}"));
        let config = engine_config(&gc).unwrap();
        assert!(config.contains("[storage]\nout_of_order_window = \"30m\"\n"), "{config}");
        assert!(!engine_config(&cluster(MINIMAL)).unwrap().contains("out_of_order_window"), "unset by default");
    }

    #[test]
    fn the_series_limits_reach_the_engine_config() {
        let gc = cluster(&MINIMAL.replace("spec: {image: 'gemini:0.1.0'}", "spec: {image: 'gemini:0.1.0', seriesLimits: {maxHourlySeries: 100000, maxSeriesPerDatabase: 5000000}}"));
        let config = engine_config(&gc).unwrap();
        assert!(config.contains("[storage]\nmax_hourly_series = 100000\nmax_series_per_database = 5000000\n"), "{config}");
        assert!(!engine_config(&cluster(MINIMAL)).unwrap().contains("[storage]"), "no limit by default");
    }

    #[test]
    fn config_changes_change_the_hash_and_user_keys_win() {
        let a = cluster(MINIMAL);
        let b = cluster(&MINIMAL.replace("spec: {image: 'gemini:0.1.0'}", "spec: {image: 'gemini:0.1.0', config: {max_body_bytes: 1000, http_addr: '0.0.0.0:9000'}}"));
        let (ca, cb) = (engine_config(&a).unwrap(), engine_config(&b).unwrap());
        assert!(cb.contains("max_body_bytes = 1000") && cb.contains("http_addr = \"0.0.0.0:9000\""), "{cb}");
        assert_ne!(config_hash(&ca), config_hash(&cb));
        assert_eq!(config_hash(&ca), config_hash(&engine_config(&a).unwrap()), "stable");
        let sts = stateful_set(&b, &config_hash(&cb));
        let ann = sts.spec.template.metadata.unwrap().annotations.unwrap();
        assert_eq!(ann[CONFIG_HASH_ANNOTATION], config_hash(&cb));
    }

    #[test]
    fn every_object_is_labelled_and_owned() {
        let gc = cluster(MINIMAL);
        let metas = [
            config_map(&gc, "").metadata,
            headless_service(&gc).metadata,
            client_service(&gc).metadata,
            stateful_set(&gc, "h").metadata,
            pod_disruption_budget(&gc).metadata,
        ];
        for m in metas {
            let owner = &m.owner_references.as_ref().unwrap()[0];
            assert_eq!((owner.kind.as_str(), owner.name.as_str(), owner.uid.as_str()), ("GeminiCluster", "metrics", "1234"));
            assert_eq!(owner.controller, Some(true));
            assert_eq!(m.labels.as_ref().unwrap()["app.kubernetes.io/managed-by"], "gemini-operator");
            assert_eq!(m.namespace.as_deref(), Some("monitoring"));
        }
        assert_eq!(headless_service(&gc).spec.unwrap().cluster_ip.as_deref(), Some("None"));
    }

    #[test]
    fn full_example_reaches_the_pods() {
        let text = std::fs::read_to_string(std::path::Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("../examples/geminicluster-full.yaml")).unwrap();
        let gc = cluster(&text);
        let sts = stateful_set(&gc, "h").spec;
        assert_eq!(sts.replicas, Some(3));
        let pod = sts.template.spec.unwrap();
        assert_eq!(pod.node_selector.unwrap()["kubernetes.io/os"], "linux");
        assert_eq!(pod.tolerations.unwrap()[0].key.as_deref(), Some("dedicated"));
        let claim = &sts.volume_claim_templates.unwrap()[0];
        assert_eq!(claim.spec.as_ref().unwrap().storage_class_name.as_deref(), Some("fast"));
        assert_eq!(sts.template.metadata.unwrap().labels.unwrap()["team"], "observability");
        assert_eq!(pod_disruption_budget(&gc).spec.unwrap().max_unavailable, Some(IntOrString::Int(1)));
        assert!(engine_config(&gc).unwrap().contains("max_body_bytes = 67108864"));
        assert_eq!(
            prometheus_remote_yaml(&gc, None),
            "remote_write:\n  - url: \"http://metrics.monitoring.svc:8086/api/v1/prom/write?db=prometheus\"\nremote_read:\n  - url: \"http://metrics.monitoring.svc:8086/api/v1/prom/read?db=prometheus\"\n    read_recent: false\n"
        );
    }

    #[test]
    fn storage_change_is_refused_with_what_to_do() {
        let gc = cluster(MINIMAL);
        let bigger = cluster(&MINIMAL.replace("spec: {image: 'gemini:0.1.0'}", "spec: {image: 'gemini:0.1.0', storage: {size: 50Gi}}"));
        let old = stateful_set(&gc, "a");
        assert_eq!(immutable_change(&old, &stateful_set(&gc, "b")), None, "a config change is not immutable");
        let more = cluster(&MINIMAL.replace("spec: {image: 'gemini:0.1.0'}", "spec: {image: 'gemini:0.1.0', replicas: 5}"));
        assert_eq!(immutable_change(&old, &stateful_set(&more, "a")), None, "scaling is not immutable");
        let msg = immutable_change(&old, &stateful_set(&bigger, "a")).unwrap();
        assert!(msg.contains("spec.volumeClaimTemplates (storage: data 10Gi class (default) -> data 50Gi class (default))"), "{msg}");
        assert!(msg.contains("kubectl -n monitoring delete statefulset metrics --cascade=orphan"), "{msg}");
    }

    #[test]
    fn pods_know_each_other_through_the_headless_service() {
        let gc = cluster("apiVersion: gemini.io/v1alpha1\nkind: GeminiCluster\nmetadata: {name: metrics, namespace: monitoring}\nspec: {image: g, replicas: 3}\n");
        assert_eq!(peers(&gc), "metrics-0.metrics-headless.monitoring.svc:8086\nmetrics-1.metrics-headless.monitoring.svc:8086\nmetrics-2.metrics-headless.monitoring.svc:8086\n");
        let data = config_map(&gc, "x").data.unwrap();
        assert_eq!(data["peers"], peers(&gc));
        let env = stateful_set(&gc, "h").spec.template.spec.unwrap().containers[0].env.clone().unwrap();
        let own = env.iter().find(|e| e.name == "GEMINI_CLUSTER_SELF").unwrap();
        assert_eq!(own.value.as_deref(), Some("$(POD_NAME).metrics-headless.monitoring.svc:8086"));
        let pod = env.iter().position(|e| e.name == "POD_NAME").unwrap();
        assert!(pod < env.iter().position(|e| e.name == "GEMINI_CLUSTER_SELF").unwrap(), "POD_NAME is defined before it is used");
        // Scaling changes the peer list, not the configuration hash: no rolling restart.
        let bigger = cluster("apiVersion: gemini.io/v1alpha1\nkind: GeminiCluster\nmetadata: {name: metrics, namespace: monitoring}\nspec: {image: g, replicas: 4}\n");
        assert_eq!(config_hash(&engine_config(&gc).unwrap()), config_hash(&engine_config(&bigger).unwrap()));
        assert_ne!(peers(&gc), peers(&bigger));
    }

    #[test]
    fn auth_gives_an_admin_secret_and_basic_auth_lines() {
        let gc = cluster(MINIMAL);
        assert_eq!(admin_secret_name(&gc), None);
        let on = cluster(&MINIMAL.replace("spec: {image: 'gemini:0.1.0'}", "spec: {image: 'gemini:0.1.0', auth: {enabled: true}}"));
        assert_eq!(admin_secret_name(&on).as_deref(), Some("metrics-admin"));
        let named = cluster(&MINIMAL.replace("spec: {image: 'gemini:0.1.0'}", "spec: {image: 'gemini:0.1.0', auth: {enabled: true, adminSecretName: mine}}"));
        assert_eq!(admin_secret_name(&named).as_deref(), Some("mine"));
        let (a, b) = (random_password(), random_password());
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()) && a != b);
        let creds = Credentials { username: "admin".into(), password: "p:w\"d".into() };
        let yaml = prometheus_remote_yaml(&on, Some(&creds));
        let parsed: serde_json::Value = serde_norway::from_str(&yaml).unwrap();
        assert_eq!(parsed["remote_write"][0]["basic_auth"]["password"], "p:w\"d");
        assert_eq!(parsed["remote_read"][0]["basic_auth"]["username"], "admin");
        let secret = admin_secret(&on, "metrics-admin", &creds);
        assert_eq!(secret.data.unwrap()["password"].0, b"p:w\"d");
        // The engine turns auth on and creates the admin from the Secret at first start.
        assert!(engine_config(&on).unwrap().contains("[auth]\nenabled = true"), "{}", engine_config(&on).unwrap());
        let sts = stateful_set(&on, "h");
        let env = sts.spec.template.spec.unwrap().containers[0].env.clone().unwrap();
        let refs: Vec<(String, String, String)> = env
            .iter()
            .filter_map(|e| e.value_from.as_ref()?.secret_key_ref.as_ref().map(|r| (e.name.clone(), r.name.clone(), r.key.clone())))
            .collect();
        assert_eq!(refs, vec![
            ("GEMINI_CLUSTER_SECRET".into(), "metrics-cluster".into(), "secret".into()),
            ("GEMINI_ADMIN_USER".into(), "metrics-admin".into(), "username".into()),
            ("GEMINI_ADMIN_PASSWORD".into(), "metrics-admin".into(), "password".into()),
        ]);
        assert!(!engine_config(&gc).unwrap().contains("auth"));
    }

    #[test]
    fn service_monitor_scrapes_the_client_service_only() {
        let gc = cluster(&MINIMAL.replace("spec: {image: 'gemini:0.1.0'}", "spec: {image: 'gemini:0.1.0', serviceMonitor: {labels: {release: kps}, interval: 15s}}"));
        let sm = service_monitor(&gc);
        assert_eq!(sm["metadata"]["labels"]["release"], "kps");
        assert_eq!(sm["spec"]["endpoints"][0]["interval"], "15s");
        let want = sm["spec"]["selector"]["matchLabels"].as_object().unwrap();
        let has = |labels: &BTreeMap<String, String>| want.iter().all(|(k, v)| labels.get(k).map(String::as_str) == v.as_str());
        assert!(has(client_service(&gc).metadata.labels.as_ref().unwrap()));
        assert!(!has(headless_service(&gc).metadata.labels.as_ref().unwrap()));
    }
}
