//! The `remoteWrite` / `remoteRead` entries a GeminiCluster adds to a Prometheus object of the
//! Prometheus Operator. These lists are atomic in that CRD, so the reconciler reads the object,
//! computes the new lists here and writes them back guarded by `resourceVersion`. Entries are
//! recognised by name (`gemini-<namespace>-<name>`); every other entry is kept as it was, in
//! place and in order. Pure functions: no I/O.

use crate::crd::GeminiCluster;
use crate::resources::{read_url, write_url};
use kube::ResourceExt;
use serde_json::{json, Value};

/// The name of this cluster's entries in every Prometheus it wires.
pub fn entry_name(gc: &GeminiCluster) -> String {
    format!("gemini-{}-{}", gc.namespace().unwrap_or_else(|| "default".into()), gc.name_any())
}

fn basic_auth(secret: &str) -> Value {
    json!({
        "username": {"name": secret, "key": "username"},
        "password": {"name": secret, "key": "password"},
    })
}

/// This cluster's `remoteWrite` entry; `auth_secret` names the admin Secret when auth is on.
pub fn remote_write_entry(gc: &GeminiCluster, auth_secret: Option<&str>) -> Value {
    let mut e = json!({"name": entry_name(gc), "url": write_url(gc)});
    if let Some(p) = &gc.spec.prometheus {
        if !p.remote_write.queue_config.is_empty() {
            e["queueConfig"] = json!(p.remote_write.queue_config);
        }
        if !p.remote_write.write_relabel_configs.is_empty() {
            e["writeRelabelConfigs"] = json!(p.remote_write.write_relabel_configs);
        }
    }
    if let Some(s) = auth_secret {
        e["basicAuth"] = basic_auth(s);
    }
    e
}

/// This cluster's `remoteRead` entry, or `None` when remote read is turned off.
pub fn remote_read_entry(gc: &GeminiCluster, auth_secret: Option<&str>) -> Option<Value> {
    let read = gc.spec.prometheus.as_ref().map(|p| p.remote_read.clone()).unwrap_or_default();
    if !read.enabled {
        return None;
    }
    let mut e = json!({"name": entry_name(gc), "url": read_url(gc), "readRecent": read.read_recent});
    if let Some(s) = auth_secret {
        e["basicAuth"] = basic_auth(s);
    }
    Some(e)
}

/// The list with our entry set to `ours` (replaced in place, or appended) or removed when
/// `ours` is `None`; foreign entries untouched and in order.
pub fn merge_entry(list: &[Value], name: &str, ours: Option<Value>) -> Vec<Value> {
    let is_ours = |e: &Value| e.get("name").and_then(Value::as_str) == Some(name);
    let mut out = Vec::with_capacity(list.len() + 1);
    let mut ours = ours;
    for e in list {
        if is_ours(e) {
            out.extend(ours.take());
        } else {
            out.push(e.clone());
        }
    }
    out.extend(ours);
    out
}

/// The `spec.remoteWrite` and `spec.remoteRead` a Prometheus object should have: with this
/// cluster's entries when `wired`, without them otherwise. `None` when nothing changes, so a
/// reconcile that has nothing to do writes nothing.
pub fn desired_prometheus_lists(prometheus: &Value, gc: &GeminiCluster, wired: bool, auth_secret: Option<&str>) -> Option<(Vec<Value>, Vec<Value>)> {
    let name = entry_name(gc);
    let current = |field: &str| prometheus["spec"][field].as_array().cloned().unwrap_or_default();
    let (writes, reads) = (current("remoteWrite"), current("remoteRead"));
    let new_writes = merge_entry(&writes, &name, wired.then(|| remote_write_entry(gc, auth_secret)));
    let new_reads = merge_entry(&reads, &name, if wired { remote_read_entry(gc, auth_secret) } else { None });
    (new_writes != writes || new_reads != reads).then_some((new_writes, new_reads))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(extra: &str) -> GeminiCluster {
        serde_norway::from_str(&format!(
            "apiVersion: gemini.io/v1alpha1\nkind: GeminiCluster\nmetadata: {{name: metrics, namespace: monitoring}}\nspec: {{image: g{extra}}}\n"
        ))
        .unwrap()
    }

    fn prometheus(writes: Value) -> Value {
        json!({"apiVersion": "monitoring.coreos.com/v1", "kind": "Prometheus", "spec": {"remoteWrite": writes, "replicas": 2}})
    }

    #[test]
    fn adds_keeps_foreign_entries_and_is_idempotent() {
        let gc = cluster(", prometheus: {remoteWrite: {queueConfig: {maxSamplesPerSend: 2000}}}");
        let foreign = json!([{"url": "http://thanos/api/v1/receive"}, {"name": "vm", "url": "http://vm/api/v1/write"}]);
        let p = prometheus(foreign.clone());
        let (writes, reads) = desired_prometheus_lists(&p, &gc, true, Some("metrics-admin")).unwrap();
        assert_eq!(writes[..2], foreign.as_array().unwrap()[..], "foreign entries first, unchanged, in order");
        assert_eq!(writes[2]["name"], "gemini-monitoring-metrics");
        assert_eq!(writes[2]["url"], "http://metrics.monitoring.svc:8086/api/v1/prom/write?db=prometheus");
        assert_eq!(writes[2]["queueConfig"]["maxSamplesPerSend"], 2000);
        assert_eq!(writes[2]["basicAuth"]["password"]["name"], "metrics-admin");
        assert_eq!(reads[0]["url"], "http://metrics.monitoring.svc:8086/api/v1/prom/read?db=prometheus");
        let wired = json!({"spec": {"remoteWrite": writes, "remoteRead": reads}});
        assert_eq!(desired_prometheus_lists(&wired, &gc, true, Some("metrics-admin")), None, "second pass changes nothing");
    }

    #[test]
    fn a_spec_change_updates_in_place_and_removal_leaves_foreign_entries() {
        let gc = cluster("");
        let ours_old = json!({"name": "gemini-monitoring-metrics", "url": "http://old"});
        let p = prometheus(json!([{"name": "a", "url": "http://a"}, ours_old, {"name": "b", "url": "http://b"}]));
        let (writes, _) = desired_prometheus_lists(&p, &gc, true, None).unwrap();
        let names: Vec<&str> = writes.iter().map(|e| e["name"].as_str().unwrap()).collect();
        assert_eq!(names, vec!["a", "gemini-monitoring-metrics", "b"], "updated where it was");
        assert_eq!(writes[1]["url"], "http://metrics.monitoring.svc:8086/api/v1/prom/write?db=prometheus");
        let (writes, reads) = desired_prometheus_lists(&p, &gc, false, None).unwrap();
        assert_eq!(writes, vec![json!({"name": "a", "url": "http://a"}), json!({"name": "b", "url": "http://b"})]);
        assert!(reads.is_empty());
        let untouched = prometheus(json!([{"name": "a", "url": "http://a"}]));
        assert_eq!(desired_prometheus_lists(&untouched, &gc, false, None), None);
    }

    #[test]
    fn remote_read_can_be_turned_off() {
        let gc = cluster(", prometheus: {remoteRead: {enabled: false}}");
        let (_, reads) = desired_prometheus_lists(&prometheus(json!([])), &gc, true, None).unwrap();
        assert!(reads.is_empty());
    }
}
