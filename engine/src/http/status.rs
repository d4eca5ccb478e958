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

/// `/health`: always 200 while the server runs. In a cluster, `peers` lists every node with
/// `reachable` from the last request this node made to it (see `Contact`): `true` when it
/// answered, `false` with the `error` when it failed, `null` before any request to it ended.
/// This node itself is reachable.
pub async fn health(state: web::Data<AppState>) -> HttpResponse {
    use crate::cluster::Contact;
    let peers = state.cluster().map(|c| {
        let names = c.peers().names.clone();
        names.into_iter().map(|p| {
            if p == c.self_name {
                return serde_json::json!({ "name": p, "reachable": true });
            }
            match c.last_contact(&p) {
                None => serde_json::json!({ "name": p, "reachable": null }),
                Some(Contact::Answered) => serde_json::json!({ "name": p, "reachable": true }),
                Some(Contact::Failed(error)) => serde_json::json!({ "name": p, "reachable": false, "error": error }),
            }
        }).collect::<Vec<_>>()
    });
    HttpResponse::Ok().json(serde_json::json!({
        "peers": peers,
        "name": "gemini",
        "message": "ready for queries and writes",
        "status": "pass",
        "version": env!("CARGO_PKG_VERSION"),
        "databases": state.data.storage().databases().len(),
        "shards": state.data.storage().shard_count(),
    }))
}

/// Open, or with `[auth] protect_metrics` for any authenticated user.
pub async fn metrics(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    if state.auth.protect_metrics {
        super::auth::authenticate(&req, &state)?;
    }
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render(state.data.storage().disk_bytes()) + &cluster_metrics(&state)))
}

/// Per peer: forwarded samples, forward errors and failovers.
fn cluster_metrics(state: &AppState) -> String {
    use std::fmt::Write;
    let Some(c) = state.cluster() else { return String::new() };
    let stats = c.stats();
    let mut o = String::new();
    let families: [(&str, &str, fn(&crate::cluster::PeerStats) -> u64); 3] = [
        ("gemini_cluster_forwarded_samples_total", "Samples forwarded to a peer that owns them.", |s| s.forwarded_samples),
        ("gemini_cluster_forward_errors_total", "Requests to a peer that failed (it is then skipped for a few seconds).", |s| s.forward_errors),
        ("gemini_cluster_failovers_total", "Copies that went to the next node in hash order because this peer was down.", |s| s.failovers),
    ];
    for (name, help, value) in families {
        let _ = write!(o, "# HELP {name} {help}\n# TYPE {name} counter\n");
        for (peer, s) in &stats {
            let _ = writeln!(o, "{name}{{peer={peer:?}}} {}", value(s));
        }
    }
    o
}
