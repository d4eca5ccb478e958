//! One reconcile of a `GeminiCluster`: server-side apply of everything it owns, the Prometheus
//! wiring, the status, events; and, through a finalizer, the unwiring when it is deleted. A
//! spec that cannot be applied is reported as `Degraded` and waits for a change; an API error
//! fails the reconcile, which is retried with a growing backoff.

use crate::crd::GeminiCluster;
use crate::metrics::Metrics;
use crate::prometheus::{self, Selection};
use crate::resources::{self, Credentials};
use crate::status::{self, Observed, Problem, Wiring};
use crate::{namespaced_name, FINALIZER, MANAGER};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::finalizer::{finalizer, Event as Finalize};
use kube::{Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("finalizer: {0}")]
    Finalizer(#[source] Box<kube::runtime::finalizer::Error<Error>>),
}

/// What every reconcile shares.
pub struct Context {
    pub client: Client,
    pub recorder: Recorder,
    pub metrics: Arc<Metrics>,
    /// Consecutive failures per object, for the backoff.
    failures: Mutex<HashMap<String, u32>>,
}

impl Context {
    pub fn new(client: Client, metrics: Arc<Metrics>, instance: Option<String>) -> Arc<Self> {
        let reporter = Reporter { controller: MANAGER.into(), instance };
        Arc::new(Context { recorder: Recorder::new(client.clone(), reporter), client, metrics, failures: Mutex::default() })
    }
}

/// Healthy clusters are looked at again this often even without a change.
const RESYNC: Duration = Duration::from_secs(300);
/// While pods roll, a little more often, to keep the status current.
const RESYNC_PROGRESSING: Duration = Duration::from_secs(15);

/// The controller's reconcile function.
pub async fn reconcile(gc: Arc<GeminiCluster>, ctx: Arc<Context>) -> Result<Action, Error> {
    let started = Instant::now();
    let api: Api<GeminiCluster> = Api::namespaced(ctx.client.clone(), &gc.namespace().unwrap_or_default());
    let result = finalizer(&api, FINALIZER, gc.clone(), |event| async {
        match event {
            Finalize::Apply(gc) => apply(&gc, &ctx).await,
            Finalize::Cleanup(gc) => cleanup(&gc, &ctx).await,
        }
    })
    .await
    .map_err(|e| Error::Finalizer(Box::new(e)));
    ctx.metrics.observe(started.elapsed(), result.is_ok());
    if result.is_ok() {
        ctx.failures.lock().unwrap().remove(&namespaced_name(gc.as_ref()));
    }
    result
}

/// The controller's error policy: retry after 5 s, doubling per consecutive failure, at most 5 min.
pub fn error_policy(gc: Arc<GeminiCluster>, error: &Error, ctx: Arc<Context>) -> Action {
    let mut failures = ctx.failures.lock().unwrap();
    let n = failures.entry(namespaced_name(gc.as_ref())).or_insert(0);
    *n += 1;
    let delay = backoff(*n);
    tracing::warn!(cluster = %namespaced_name(gc.as_ref()), %error, retry_in = ?delay, "reconcile failed");
    Action::requeue(delay)
}

fn backoff(failures: u32) -> Duration {
    Duration::from_secs(5).saturating_mul(1 << failures.saturating_sub(1).min(6)).min(Duration::from_secs(300))
}

async fn apply_object<K>(client: &Client, ns: &str, obj: &K) -> Result<K, kube::Error>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope> + Clone + DeserializeOwned + Serialize + Debug,
{
    let api: Api<K> = Api::namespaced(client.clone(), ns);
    api.patch(&obj.name_any(), &PatchParams::apply(MANAGER).force(), &Patch::Apply(obj)).await
}

async fn publish(ctx: &Context, gc: &GeminiCluster, type_: EventType, reason: &str, note: String) {
    let event = Event { type_, reason: reason.into(), note: Some(note), action: "Reconcile".into(), secondary: None };
    if let Err(e) = ctx.recorder.publish(&event, &gc.object_ref(&())).await {
        tracing::warn!(error = %e, reason, "could not publish an event");
    }
}

/// The admin credentials when auth is on: read from the named Secret, or from the generated
/// one, which is created here on first use with a random password.
async fn admin_credentials(ctx: &Context, gc: &GeminiCluster) -> Result<Result<Option<Credentials>, Problem>, kube::Error> {
    let Some(name) = resources::admin_secret_name(gc) else { return Ok(Ok(None)) };
    let ns = gc.namespace().unwrap_or_default();
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), &ns);
    let generated = gc.spec.auth.admin_secret_name.as_deref().unwrap_or_default().is_empty();
    let secret = match api.get_opt(&name).await? {
        Some(s) => s,
        None if generated => {
            let credentials = Credentials { username: "admin".into(), password: resources::random_password() };
            let created = api.create(&PostParams { field_manager: Some(MANAGER.into()), ..Default::default() }, &resources::admin_secret(gc, &name, &credentials)).await?;
            publish(ctx, gc, EventType::Normal, "AdminSecretCreated", format!("created Secret {name} with a random admin password")).await;
            created
        }
        None => return Ok(Err(Problem::new("AdminSecretMissing", format!("spec.auth.adminSecretName names Secret {name}, which does not exist in namespace {ns}")))),
    };
    let field = |key: &str| secret.data.as_ref().and_then(|d| d.get(key)).map(|v| String::from_utf8_lossy(&v.0).into_owned());
    match (field("username"), field("password")) {
        (Some(username), Some(password)) if !username.is_empty() && !password.is_empty() => Ok(Ok(Some(Credentials { username, password }))),
        _ => Ok(Err(Problem::new("AdminSecretInvalid", format!("Secret {name} needs non-empty keys `username` and `password`")))),
    }
}

/// The secret of the requests between the pods: created once with a random value.
async fn ensure_cluster_secret(ctx: &Context, gc: &GeminiCluster) -> Result<(), kube::Error> {
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), &gc.namespace().unwrap_or_default());
    let name = resources::cluster_secret_name(gc);
    if api.get_opt(&name).await?.is_none() {
        api.create(&PostParams { field_manager: Some(MANAGER.into()), ..Default::default() }, &resources::cluster_secret(gc, &resources::random_password())).await?;
        publish(ctx, gc, EventType::Normal, "ClusterSecretCreated", format!("created Secret {name} for the requests between the pods")).await;
    }
    Ok(())
}

/// What the spec asks for, checked before anything is written.
struct Plan {
    config: String,
    selection: Option<Selection>,
}

fn plan(gc: &GeminiCluster) -> Result<Plan, Problem> {
    let config = resources::engine_config(gc).map_err(|m| Problem::new("InvalidSpec", m))?;
    let selection = prometheus::selection(gc).map_err(|m| Problem::new("InvalidSpec", m))?;
    Ok(Plan { config, selection })
}

async fn apply(gc: &GeminiCluster, ctx: &Context) -> Result<Action, Error> {
    let client = &ctx.client;
    let ns = gc.namespace().unwrap_or_default();
    let previous = gc.status.clone().unwrap_or_default();
    let plan = match plan(gc) {
        Ok(p) => p,
        Err(problem) => {
            publish(ctx, gc, EventType::Warning, problem.reason, problem.message.clone()).await;
            write_status(ctx, gc, observe(gc, None, Some(problem), Wiring::Wired(previous.prometheuses.clone()))).await?;
            return Ok(Action::await_change());
        }
    };
    let mut problem = None;
    let credentials = match admin_credentials(ctx, gc).await? {
        Ok(c) => c,
        Err(p) => {
            problem = Some(p);
            None
        }
    };
    ensure_cluster_secret(ctx, gc).await?;
    apply_object(client, &ns, &resources::config_map(gc, &plan.config)).await?;
    apply_object(client, &ns, &resources::headless_service(gc)).await?;
    apply_object(client, &ns, &resources::client_service(gc)).await?;
    apply_object(client, &ns, &resources::pod_disruption_budget(gc)).await?;
    apply_object(client, &ns, &resources::remote_secret(gc, credentials.as_ref())).await?;

    let desired = resources::stateful_set(gc, &resources::config_hash(&plan.config));
    let sts_api: Api<StatefulSet> = Api::namespaced(client.clone(), &ns);
    let existing = sts_api.get_opt(&gc.name_any()).await?;
    let sts = match existing.as_ref().and_then(|e| resources::immutable_change(e, &desired)) {
        Some(message) => {
            problem = Some(Problem::new("ImmutableFieldChanged", message));
            existing.clone()
        }
        None => match apply_object(client, &ns, &desired).await {
            Ok(sts) => Some(sts),
            Err(kube::Error::Api(s)) if s.code == 422 => {
                problem = Some(Problem::new("StatefulSetRejected", format!("the API server refused the StatefulSet: {}", s.message)));
                existing.clone()
            }
            Err(e) => return Err(e.into()),
        },
    };
    if existing.is_none() && sts.is_some() {
        publish(ctx, gc, EventType::Normal, "Created", format!("created StatefulSet {} with {} replicas", gc.name_any(), gc.spec.replicas)).await;
    }
    if let Some(p) = &problem {
        publish(ctx, gc, EventType::Warning, p.reason, p.message.clone()).await;
    }

    let wiring = if prometheus::operator_served(client).await? {
        prometheus::apply_service_monitor(client, gc).await?;
        let wired = prometheus::wire(client, gc, plan.selection.as_ref(), &previous.prometheuses).await?;
        if wired != previous.prometheuses {
            publish(ctx, gc, EventType::Normal, "PrometheusWired", format!("remote write/read entries in: {}", describe(&wired))).await;
        }
        Wiring::Wired(wired)
    } else {
        Wiring::OperatorAbsent
    };
    let observed = observe(gc, sts.as_ref(), problem, wiring);
    let settled = observed.rolled_out && observed.ready_replicas >= observed.desired_replicas;
    write_status(ctx, gc, observed).await?;
    Ok(Action::requeue(if settled { RESYNC } else { RESYNC_PROGRESSING }))
}

fn describe(list: &[String]) -> String {
    if list.is_empty() { "none".into() } else { list.join(", ") }
}

fn observe(gc: &GeminiCluster, sts: Option<&StatefulSet>, problem: Option<Problem>, wiring: Wiring) -> Observed {
    let st = sts.and_then(|s| s.status.clone()).unwrap_or_default();
    let generation_seen = sts.is_some_and(|s| st.observed_generation.is_some() && st.observed_generation == s.metadata.generation);
    let rolled_out = generation_seen && st.current_revision.is_some() && st.current_revision == st.update_revision;
    Observed {
        generation: gc.metadata.generation,
        desired_replicas: gc.spec.replicas,
        replicas: st.replicas,
        ready_replicas: st.ready_replicas.unwrap_or(0),
        rolled_out,
        problem,
        wiring,
        write_url: resources::write_url(gc),
        read_url: resources::read_url(gc),
        remote_secret: resources::remote_secret_name(gc),
    }
}

async fn write_status(ctx: &Context, gc: &GeminiCluster, observed: Observed) -> Result<(), kube::Error> {
    let new = status::status(gc.status.as_ref(), &observed, Timestamp::now());
    if gc.status.as_ref() == Some(&new) {
        return Ok(());
    }
    let api: Api<GeminiCluster> = Api::namespaced(ctx.client.clone(), &gc.namespace().unwrap_or_default());
    let patch = serde_json::json!({"apiVersion": "gemini.io/v1alpha1", "kind": "GeminiCluster", "status": new});
    api.patch_status(&gc.name_any(), &PatchParams::apply(MANAGER).force(), &Patch::Apply(patch)).await?;
    Ok(())
}

/// Deletion: take this cluster's entries out of every Prometheus; the owned objects go with
/// the owner references (the PersistentVolumeClaims stay, as StatefulSets leave them).
async fn cleanup(gc: &GeminiCluster, ctx: &Context) -> Result<Action, Error> {
    if prometheus::operator_served(&ctx.client).await? {
        let selection = prometheus::selection(gc).ok().flatten();
        let previously = gc.status.as_ref().map(|s| s.prometheuses.clone()).unwrap_or_default();
        prometheus::unwire_all(&ctx.client, gc, selection.as_ref(), &previously).await?;
        publish(ctx, gc, EventType::Normal, "PrometheusUnwired", format!("removed remote write/read entries from: {}", describe(&previously))).await;
    }
    Ok(Action::await_change())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_five_minutes() {
        let secs: Vec<u64> = (1..=9).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(secs, vec![5, 10, 20, 40, 80, 160, 300, 300, 300]);
    }
}
