//! Liveness and self-observation: `/ping` (204, as InfluxDB), `/health` and `/metrics`.

use super::{ApiError, AppState};
use actix_web::{web, HttpRequest, HttpResponse};

/// The InfluxDB version we answer as; clients such as the `influx` CLI print it.
pub const INFLUXDB_VERSION: &str = concat!("1.8.10-gemini-", env!("CARGO_PKG_VERSION"));

pub async fn ping() -> HttpResponse {
    HttpResponse::NoContent()
        .insert_header(("X-Influxdb-Version", INFLUXDB_VERSION))
        .insert_header(("X-Influxdb-Build", "OSS"))
        .finish()
}

pub async fn health(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({
        "name": "gemini",
        "message": "ready for queries and writes",
        "status": "pass",
        "version": env!("CARGO_PKG_VERSION"),
        "databases": state.storage.databases().len(),
        "shards": state.storage.shard_count(),
    }))
}

/// Open, or with `[auth] protect_metrics` for any authenticated user.
pub async fn metrics(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    if state.auth.protect_metrics {
        super::auth::authenticate(&req, &state)?;
    }
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render(state.storage.disk_bytes())))
}
