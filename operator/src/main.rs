//! gemini-operator: watches `GeminiCluster` objects and reconciles each into the StatefulSet,
//! Services, ConfigMap, PodDisruptionBudget and Secrets that run Gemini, and into the
//! `remoteWrite`/`remoteRead` entries of the Prometheus objects it selects. Serves `/metrics`
//! and `/health`, stops cleanly on SIGTERM, and with `--leader-elect` reconciles only while it
//! holds a Lease, so two replicas can run.

use actix_web::{get, web, App, HttpResponse, HttpServer, Responder};
use clap::Parser;
use futures::StreamExt;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{Api, DynamicObject};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{watcher, Controller};
use kube::Client;
use operator::crd::GeminiCluster;
use operator::metrics::Metrics;
use operator::reconcile::{error_policy, reconcile, Context};
use operator::{leader, prometheus};
use tokio::sync::watch;

#[derive(Parser, Debug)]
#[command(name = "gemini-operator", version, about = "Runs Gemini clusters on Kubernetes")]
struct Args {
    /// Address of the `/metrics` and `/health` endpoints.
    #[arg(long, env = "GEMINI_OPERATOR_METRICS_ADDR", default_value = "0.0.0.0:8080")]
    metrics_addr: String,
    /// Reconcile only while holding a Lease, so that several replicas can run.
    #[arg(long, env = "GEMINI_OPERATOR_LEADER_ELECT")]
    leader_elect: bool,
    /// Namespace of the Lease (defaults to the operator's own namespace, from `POD_NAMESPACE`).
    #[arg(long, env = "POD_NAMESPACE", default_value = "default")]
    lease_namespace: String,
    /// Name of the Lease.
    #[arg(long, default_value = "gemini-operator")]
    lease_name: String,
    /// This replica's name in the Lease and in events (defaults to the pod name, from `POD_NAME`).
    #[arg(long, env = "POD_NAME")]
    identity: Option<String>,
}

#[get("/health")]
async fn health_endpoint() -> impl Responder {
    HttpResponse::Ok().body("ok\n")
}

#[get("/metrics")]
async fn metrics_endpoint(m: web::Data<Metrics>) -> impl Responder {
    HttpResponse::Ok().content_type("text/plain; version=0.0.4; charset=utf-8").body(m.render())
}

/// Resolves once SIGTERM or SIGINT has arrived.
async fn stopped(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}

async fn listen_for_signals(tx: watch::Sender<bool>) {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    tracing::info!("signal received; finishing the reconciles in progress");
    let _ = tx.send(true);
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,kube=warn".into()))
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let code = actix_web::rt::System::new().block_on(run(args)).unwrap_or_else(|e| {
        tracing::error!("{e}");
        1
    });
    std::process::exit(code);
}

async fn run(args: Args) -> Result<i32, String> {
    let client = Client::try_default().await.map_err(|e| format!("no Kubernetes API: {e}"))?;
    let identity = args.identity.clone().unwrap_or_else(|| std::env::var("HOSTNAME").unwrap_or_else(|_| "gemini-operator".into()));
    let metrics = web::Data::new(Metrics::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(listen_for_signals(stop_tx.clone()));

    let data = metrics.clone();
    let server = HttpServer::new(move || App::new().app_data(data.clone()).service(health_endpoint).service(metrics_endpoint))
        .bind(&args.metrics_addr)
        .map_err(|e| format!("cannot listen on {}: {e}", args.metrics_addr))?
        .workers(1)
        .disable_signals()
        .shutdown_timeout(5)
        .run();
    let server_handle = server.handle();
    let server_task = tokio::spawn(server);
    tracing::info!(addr = %args.metrics_addr, "serving /metrics and /health");

    let leases: Api<Lease> = Api::namespaced(client.clone(), &args.lease_namespace);
    let mut lost = false;
    let mut lead = true;
    if args.leader_elect {
        tracing::info!(lease = %args.lease_name, identity = %identity, "waiting to lead");
        tokio::select! {
            _ = leader::acquire(&leases, &args.lease_name, &identity) => tracing::info!("leading"),
            _ = stopped(stop_rx.clone()) => lead = false,
        }
    }
    if lead {
        metrics.leader.set(1);
        let ctx = Context::new(client.clone(), metrics.clone().into_inner(), Some(identity.clone()));
        let controller = controller(client.clone()).await;
        let stop = stop_rx.clone();
        let run = controller
            .graceful_shutdown_on(stopped(stop))
            .run(reconcile, error_policy, ctx)
            .for_each(|result| async move {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "reconcile error");
                }
            });
        if args.leader_elect {
            let keep = leader::keep(&leases, &args.lease_name, &identity);
            tokio::select! {
                _ = run => {}
                _ = keep => {
                    tracing::error!("lost the lease; stopping so that only one replica reconciles");
                    lost = true;
                }
            }
            metrics.leader.set(0);
            if !lost {
                if let Err(e) = leader::release(&leases, &args.lease_name, &identity).await {
                    tracing::warn!(error = %e, "could not release the lease");
                }
            }
        } else {
            run.await;
        }
    }
    server_handle.stop(true).await;
    let _ = server_task.await;
    tracing::info!("stopped");
    Ok(if lost { 1 } else { 0 })
}

/// The controller: GeminiClusters, the kinds they own (labelled by the operator), and, where
/// the Prometheus Operator runs, its ServiceMonitors and Prometheus objects (any change of a
/// Prometheus may change who is wired).
async fn controller(client: Client) -> Controller<GeminiCluster> {
    let owned = || watcher::Config::default().labels("app.kubernetes.io/managed-by=gemini-operator");
    let mut c = Controller::new(Api::<GeminiCluster>::all(client.clone()), watcher::Config::default().any_semantic())
        .owns(Api::<StatefulSet>::all(client.clone()), owned())
        .owns(Api::<Service>::all(client.clone()), owned())
        .owns(Api::<ConfigMap>::all(client.clone()), owned())
        .owns(Api::<Secret>::all(client.clone()), owned())
        .owns(Api::<PodDisruptionBudget>::all(client.clone()), owned());
    match prometheus::operator_served(&client).await {
        Ok(true) => {
            let sm = prometheus::service_monitor_resource();
            c = c.owns_with(Api::<DynamicObject>::all_with(client.clone(), &sm), sm, owned());
            let store = c.store();
            let ar = prometheus::prometheus_resource();
            c = c.watches_with(Api::<DynamicObject>::all_with(client, &ar), ar, watcher::Config::default(), move |_| {
                store.state().iter().map(|gc| ObjectRef::from_obj(gc.as_ref())).collect::<Vec<_>>()
            });
        }
        Ok(false) => tracing::info!("the monitoring.coreos.com API is not served: no Prometheus wiring until the operator restarts with it"),
        Err(e) => tracing::warn!(error = %e, "could not tell whether the Prometheus Operator runs"),
    }
    c
}
