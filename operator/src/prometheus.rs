//! The Prometheus Operator side of a reconcile: is `monitoring.coreos.com/v1` served, the
//! ServiceMonitor, and this cluster's `remoteWrite` / `remoteRead` entries in the selected
//! `Prometheus` objects. Those lists are atomic in the Prometheus CRD, so each object is read,
//! its lists recomputed (`wiring`) and written back with a merge patch that carries the
//! `resourceVersion` it was read at: a concurrent change gives 409 and the read is redone.

use crate::crd::GeminiCluster;
use crate::resources::{admin_secret_name, service_monitor};
use crate::wiring::desired_prometheus_lists;
use crate::{namespaced_name, MANAGER};
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::core::{Selector, SelectorExt};
use kube::{Client, ResourceExt};
use k8s_openapi::api::core::v1::Namespace;
use serde_json::json;
use std::collections::BTreeSet;

const GROUP_VERSION: &str = "monitoring.coreos.com/v1";
/// Read-modify-write attempts on one Prometheus object before the reconcile fails (and retries later).
const CONFLICT_RETRIES: usize = 5;

fn resource(kind: &str, plural: &str) -> ApiResource {
    ApiResource {
        group: "monitoring.coreos.com".into(),
        version: "v1".into(),
        api_version: GROUP_VERSION.into(),
        kind: kind.into(),
        plural: plural.into(),
    }
}

pub fn prometheus_resource() -> ApiResource {
    resource("Prometheus", "prometheuses")
}

pub fn service_monitor_resource() -> ApiResource {
    resource("ServiceMonitor", "servicemonitors")
}

/// Whether the Prometheus Operator's API is served (its CRDs are installed).
pub async fn operator_served(client: &Client) -> Result<bool, kube::Error> {
    match client.list_api_group_resources(GROUP_VERSION).await {
        Ok(list) => Ok(list.resources.iter().any(|r| r.name == "prometheuses")),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(false),
        Err(e) => Err(e),
    }
}

/// Creates, updates or removes this cluster's ServiceMonitor as the spec says.
pub async fn apply_service_monitor(client: &Client, gc: &GeminiCluster) -> Result<(), kube::Error> {
    let ns = gc.namespace().unwrap_or_default();
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &ns, &service_monitor_resource());
    if gc.spec.service_monitor.enabled {
        api.patch(&gc.name_any(), &PatchParams::apply(MANAGER).force(), &Patch::Apply(service_monitor(gc))).await?;
    } else {
        match api.delete(&gc.name_any(), &DeleteParams::default()).await {
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            other => {
                other?;
            }
        }
    }
    Ok(())
}

/// The spec's Prometheus and namespace selectors, checked.
pub struct Selection {
    selector: Selector,
    /// `None`: the cluster's own namespace only.
    namespaces: Option<Selector>,
}

/// The selection the spec asks for, or a message naming the bad selector. `None` when the
/// spec wires no Prometheus.
pub fn selection(gc: &GeminiCluster) -> Result<Option<Selection>, String> {
    let Some(p) = &gc.spec.prometheus else { return Ok(None) };
    let selector = Selector::try_from(p.selector.clone()).map_err(|e| format!("spec.prometheus.selector: {e}"))?;
    let namespaces = match &p.namespace_selector {
        Some(s) => Some(Selector::try_from(s.clone()).map_err(|e| format!("spec.prometheus.namespaceSelector: {e}"))?),
        None => None,
    };
    Ok(Some(Selection { selector, namespaces }))
}

/// The Prometheus objects (`namespace/name`) the selection matches now.
async fn matched(client: &Client, gc: &GeminiCluster, sel: &Selection) -> Result<BTreeSet<String>, kube::Error> {
    let ar = prometheus_resource();
    let lp = ListParams::default().labels_from(&sel.selector);
    let found = match &sel.namespaces {
        None => Api::<DynamicObject>::namespaced_with(client.clone(), &gc.namespace().unwrap_or_default(), &ar).list(&lp).await?.items,
        Some(ns_sel) => {
            let all = Api::<DynamicObject>::all_with(client.clone(), &ar).list(&lp).await?.items;
            let namespaces = Api::<Namespace>::all(client.clone()).list(&ListParams::default()).await?.items;
            let chosen: BTreeSet<String> = namespaces.iter().filter(|n| ns_sel.matches(n.labels())).map(|n| n.name_any()).collect();
            all.into_iter().filter(|p| chosen.contains(&p.namespace().unwrap_or_default())).collect()
        }
    };
    Ok(found.iter().filter(|p| p.metadata.deletion_timestamp.is_none()).map(namespaced_name).collect())
}

/// Sets (`wired`) or removes this cluster's entries in one Prometheus object. Returns whether
/// the object exists.
async fn rewire(client: &Client, gc: &GeminiCluster, target: &str, wired: bool) -> Result<bool, kube::Error> {
    let (ns, name) = target.split_once('/').unwrap_or(("default", target));
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &prometheus_resource());
    let secret = admin_secret_name(gc);
    let mut attempt = 0;
    loop {
        let Some(obj) = api.get_opt(name).await? else { return Ok(false) };
        let value = serde_json::to_value(&obj).expect("a fetched object serializes");
        let Some((writes, reads)) = desired_prometheus_lists(&value, gc, wired, secret.as_deref()) else { return Ok(true) };
        let patch = json!({
            "metadata": {"resourceVersion": obj.resource_version()},
            "spec": {"remoteWrite": writes, "remoteRead": reads},
        });
        match api.patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await {
            Ok(_) => return Ok(true),
            Err(kube::Error::Api(s)) if s.code == 409 && attempt + 1 < CONFLICT_RETRIES => {
                attempt += 1;
                tracing::debug!(prometheus = target, attempt, "Prometheus changed while we wired it; reading it again");
            }
            Err(e) => return Err(e),
        }
    }
}

/// Wires every Prometheus the spec selects and unwires those of `previously` that it no longer
/// selects. Returns the wired ones, sorted.
pub async fn wire(client: &Client, gc: &GeminiCluster, sel: Option<&Selection>, previously: &[String]) -> Result<Vec<String>, kube::Error> {
    let want = match sel {
        Some(sel) => matched(client, gc, sel).await?,
        None => BTreeSet::new(),
    };
    for gone in previously.iter().filter(|p| !want.contains(*p)) {
        rewire(client, gc, gone, false).await?;
    }
    let mut wired = Vec::new();
    for target in &want {
        if rewire(client, gc, target, true).await? {
            wired.push(target.clone());
        }
    }
    Ok(wired)
}

/// Takes this cluster's entries out of every Prometheus it wired or that its selectors match.
pub async fn unwire_all(client: &Client, gc: &GeminiCluster, sel: Option<&Selection>, previously: &[String]) -> Result<(), kube::Error> {
    let mut targets: BTreeSet<String> = previously.iter().cloned().collect();
    if let Some(sel) = sel {
        targets.extend(matched(client, gc, sel).await?);
    }
    for target in &targets {
        rewire(client, gc, target, false).await?;
    }
    Ok(())
}
