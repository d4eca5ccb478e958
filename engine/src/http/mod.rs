//! The HTTP API (actix-web): routes, shared state, JSON errors and request metrics.
//! Handlers check parameters, credentials and body limits, translate between wire formats and
//! the data interface (`crate::data`), the InfluxQL executor (`crate::exec`) or the PromQL
//! evaluator (`crate::promql`, behind Prometheus' query API in `prom_api`), and render
//! the answers; they never touch RocksDB and never ask whether they run in a cluster (only
//! the internal endpoints, which exist for the cluster, do).

mod auth;
mod body;
mod error;
mod influx_write;
mod internal;
pub mod line_protocol;
mod prom_admin;
mod prom_api;
mod prom_envelope;
mod prom_format;
mod prom_params;
mod prom_series;
mod prom_status;
mod query;
pub mod query_cache;
pub mod query_log;
mod read;
mod status;
mod ui;
mod write;

pub use error::ApiError;
pub use prom_status::ServerInfo;

use crate::cluster::coordinator::Coordinator;
use crate::data::Data;
use crate::metrics::Metrics;
use actix_web::dev::Service;
use actix_web::{http::StatusCode, web, App, HttpServer, ResponseError};
use std::sync::Arc;
use std::time::Instant;

#[derive(Clone)]
pub struct AppState {
    pub data: Arc<Data>,
    /// The coordinator of the cluster this node is one of, if any: for `/health` and
    /// `/metrics`, and the cluster secret of the internal endpoints.
    pub coordinator: Option<Arc<Coordinator>>,
    /// In a cluster, this node's side of the internal protocol, which the internal endpoints
    /// serve to the other nodes.
    pub node: Option<Arc<crate::cluster::node::Node>>,
    pub metrics: Arc<Metrics>,
    /// Largest accepted request body after decompression.
    pub max_body_bytes: usize,
    pub auth: crate::config::Auth,
    /// PromQL's timeout, sample limit and lookback.
    pub query: crate::config::QueryLimits,
    /// The range-query cache; none when it is off or this node is one of a cluster.
    pub query_cache: Option<Arc<query_cache::QueryCache>>,
    /// Whether Prometheus' admin API is served (`--web.enable-admin-api`).
    pub admin_api: bool,
    pub query_log: Arc<query_log::QueryLog>,
    /// Start time and flags, for Prometheus' status API.
    pub info: Arc<ServerInfo>,
}

impl AppState {
    /// The cluster this node is one of, if any: for `/health`, `/metrics` and the internal
    /// endpoints.
    fn cluster(&self) -> Option<&crate::cluster::Cluster> {
        self.coordinator.as_deref().map(|c| &*c.cluster)
    }
}

/// The database a remote write or read names with `db=`, `prometheus` when it names none.
fn database_or_default(db: &Option<String>) -> String {
    db.clone().filter(|d| !d.is_empty()).unwrap_or_else(|| "prometheus".to_string())
}

/// The database a request must name with `db=`: 400 `database is required` when it names none.
fn required_database(db: &Option<String>) -> Result<String, ApiError> {
    db.clone().filter(|d| !d.is_empty()).ok_or_else(|| ApiError::bad_request("database is required"))
}

/// 404 `database not found: <db>` or `retention policy not found: <rp>` unless the policy
/// (or the database's default one, without `rp`) exists.
fn require_policy(state: &AppState, db: &str, rp: Option<&str>) -> Result<(), ApiError> {
    Ok(state.data.catalog().require_policy(db, rp)?)
}

/// A path whose other methods answer 405 naming the method.
fn endpoint(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(|req: actix_web::HttpRequest| async move {
        let msg = format!("method {} is not allowed on {}", req.method(), req.path());
        ApiError::new(StatusCode::METHOD_NOT_ALLOWED, msg).error_response()
    }))
}

/// Prometheus' HTTP API, each path through the one envelope (`prom_envelope::route`), as
/// api.go registers `wrap(api.query)` and friends; `Read` paths need the READ grant on `db`.
fn prometheus_api(cfg: &mut web::ServiceConfig) {
    use prom_envelope::{route, Access::{Admin, Authenticated, Read}};
    cfg.service(route("/api/v1/query", Read, prom_api::query))
        .service(route("/api/v1/query_range", Read, prom_api::query_range))
        .service(route("/api/v1/series", Read, prom_series::series))
        .service(route("/api/v1/labels", Read, prom_series::label_names))
        .service(route("/api/v1/label/{name}/values", Read, prom_series::label_values))
        .service(route("/api/v1/metadata", Read, prom_series::metadata))
        .service(route("/api/v1/status/buildinfo", Authenticated, prom_api::buildinfo))
        .service(route("/api/v1/query_exemplars", Read, prom_api::exemplars))
        .service(route("/api/v1/rules", Authenticated, prom_api::rules))
        .service(route("/api/v1/alerts", Authenticated, prom_api::alerts))
        .service(route("/api/v1/admin/tsdb/delete_series", Admin, prom_admin::delete_series))
        .service(route("/api/v1/admin/tsdb/clean_tombstones", Admin, prom_admin::clean_tombstones))
        .service(route("/api/v1/admin/tsdb/snapshot", Admin, prom_admin::snapshot))
        .service(route("/api/v1/status/tsdb", Read, prom_status::tsdb))
        .service(route("/api/v1/status/flags", Authenticated, prom_status::flags))
        .service(route("/api/v1/status/runtimeinfo", Authenticated, prom_status::runtime_info))
        .service(route("/api/v1/format_query", Authenticated, prom_status::format_query));
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(endpoint("/api/v1/prom/write").route(web::post().to(write::prom_write)))
        .service(endpoint("/api/v1/write").route(web::post().to(write::write)))
        .service(endpoint("/api/v1/import").route(web::post().to(write::import)))
        .service(endpoint("/api/v1/prom/read").route(web::post().to(read::read)))
        .service(endpoint("/api/v1/read").route(web::post().to(read::read)))
        .service(endpoint("/write").route(web::post().to(influx_write::write)))
        .service(endpoint("/api/v1/import/influx").route(web::post().to(influx_write::import)))
        .service(endpoint("/query").route(web::get().to(query::query)).route(web::post().to(query::query)))
        .service(endpoint("/ping").route(web::get().to(status::ping)).route(web::head().to(status::ping)))
        .service(endpoint("/health").route(web::get().to(status::health)))
        .service(endpoint("/metrics").route(web::get().to(status::metrics)))
        .configure(prometheus_api)
        .service(endpoint("/internal/v1/write").route(web::post().to(internal::write)))
        .service(endpoint("/internal/v1/read").route(web::post().to(internal::read)))
        .service(endpoint("/internal/v1/series").route(web::post().to(internal::series)))
        .service(endpoint("/internal/v1/labels").route(web::post().to(internal::labels)))
        .service(endpoint("/internal/v1/select_tier").route(web::post().to(internal::select_tier)))
        .service(endpoint("/internal/v1/catalog").route(web::post().to(internal::catalog)))
        .configure(ui::configure)
        .default_service(web::to(|| async {
            ApiError::new(StatusCode::NOT_FOUND, "no such endpoint").error_response()
        }));
}

/// How long an idle keep-alive connection stays open. A client that pools connections must be
/// the one that closes them: actix-web, finding the keep-alive time past when it next looks at
/// a connection, closes it unread, so a request sent just before (reusing a connection that
/// was still open) goes unanswered, and most clients do not retry a POST (a remote read). Its
/// default of 5 s is shorter than what clients keep idle connections for: Prometheus 5 min
/// (prometheus/common's `IdleConnTimeout`), Grafana 90 s, awc 15 s.
const IDLE_KEEP_ALIVE: std::time::Duration = std::time::Duration::from_secs(6 * 60);

/// Serves until SIGTERM or SIGINT, then finishes in-flight requests and returns.
/// With `tls`, only HTTPS (HTTP/2 or HTTP/1.1 by ALPN) is served on `addr`.
pub async fn serve(state: AppState, addr: &str, workers: usize, tls: Option<rustls::ServerConfig>) -> std::io::Result<()> {
    let state = web::Data::new(state);
    crate::remote::label_cache::share_among(workers);
    let server = HttpServer::new(move || {
        let metrics = state.metrics.clone();
        App::new()
            .app_data(state.clone())
            .wrap_fn(move |req, srv| {
                let start = Instant::now();
                let path = req.match_pattern().unwrap_or_else(|| "other".to_string());
                let metrics = metrics.clone();
                let fut = srv.call(req);
                async move {
                    let res = fut.await?;
                    metrics.observe_request(&path, res.status().as_u16(), start.elapsed().as_secs_f64());
                    Ok(res)
                }
            })
            .configure(configure)
    })
    .workers(workers)
    .keep_alive(IDLE_KEEP_ALIVE)
    .shutdown_timeout(30)
    // actix stops the whole actix system on a signal, shard actors included; we stop only
    // the HTTP server, so that storage can still store its open chunks afterwards.
    .disable_signals();
    let server = match tls {
        Some(config) => server.bind_rustls_0_23(addr, config)?,
        None => server.bind(addr)?,
    }
    .run();
    let handle = server.handle();
    actix_web::rt::spawn(async move {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
            tracing::error!("cannot listen for SIGTERM/SIGINT");
            return;
        };
        futures_util::future::select(Box::pin(term.recv()), Box::pin(int.recv())).await;
        tracing::info!("signal received: finishing in-flight requests");
        handle.stop(true).await;
    });
    tracing::info!(%addr, "gemini listening");
    server.await
}
