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
        "databases": state.data.catalog().databases().len(),
        "shards": state.data.catalog().shard_count(),
    }))
}

/// Open, or with `[auth] protect_metrics` for any authenticated user.
pub async fn metrics(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    if state.auth.protect_metrics {
        super::auth::authenticate(&req, &state)?;
    }
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render(state.data.catalog().disk_bytes()) + &cluster_metrics(&state)))
}

/// Per peer: whether it is marked down, forwarded samples, forward errors, failovers, probes
/// and reads answered without it.
fn cluster_metrics(state: &AppState) -> String {
    use std::fmt::Write;
    let Some(c) = state.cluster() else { return String::new() };
    let stats = c.stats();
    let mut o = String::new();
    let name = "gemini_cluster_peer_down";
    let _ = write!(o, "# HELP {name} 1 while the peer is marked down (requests pass it over until it answers a probe).\n# TYPE {name} gauge\n");
    for peer in c.peers().names.iter().filter(|p| **p != c.self_name) {
        let _ = writeln!(o, "{name}{{peer={peer:?}}} {}", u8::from(c.is_down(peer)));
    }
    let families: [(&str, &str, fn(&crate::cluster::PeerStats) -> u64); 6] = [
        ("gemini_cluster_forwarded_samples_total", "Samples forwarded to a peer that owns them.", |s| s.forwarded_samples),
        ("gemini_cluster_forward_errors_total", "Requests to a peer that failed or timed out (it is then marked down).", |s| s.forward_errors),
        ("gemini_cluster_failovers_total", "Copies that went to the next node in hash order because this peer was down.", |s| s.failovers),
        ("gemini_cluster_probes_total", "Probes (/ping) of the peer while it was marked down.", |s| s.probes),
        ("gemini_cluster_read_skips_total", "Reads answered without the peer (down or too slow); the other copies answered.", |s| s.read_skips),
        ("gemini_cluster_handoff_delivered_samples_total", "Samples this node held for the peer while it was down, delivered once it was back.", |s| s.handed_off_samples),
    ];
    for (name, help, value) in families {
        let _ = write!(o, "# HELP {name} {help}\n# TYPE {name} counter\n");
        for (peer, s) in &stats {
            let _ = writeln!(o, "{name}{{peer={peer:?}}} {}", value(s));
        }
    }
    if let Some(coordinator) = &state.coordinator {
        let pending = coordinator.handoff().pending();
        let now_ms = crate::clock::now_ms();
        let gauges: [(&str, &str, &dyn Fn(&crate::cluster::handoff::Pending) -> f64); 2] = [
            ("gemini_cluster_handoff_pending_series", "Series this node holds samples of for the peer (taken while it was down), not delivered yet.", &|p| p.series as f64),
            ("gemini_cluster_handoff_oldest_seconds", "Age of the oldest hint waiting for the peer; 0 when none waits.", &|p| (now_ms - p.oldest_since_ms).max(0) as f64 / 1000.0),
        ];
        for (name, help, value) in gauges {
            let _ = write!(o, "# HELP {name} {help}\n# TYPE {name} gauge\n");
            for peer in c.peers().names.iter().filter(|p| **p != c.self_name) {
                let v = pending.get(peer).map(value).unwrap_or(0.0);
                let _ = writeln!(o, "{name}{{peer={peer:?}}} {v}");
            }
        }
    }
    o
}
