//! Keeps the catalog (databases, retention policies, users) the same on every node. After a
//! change made here, and every few seconds, this node sends all its catalog entries to every
//! other node over `/internal/v1/catalog` (snappy JSON); the other node merges them and
//! answers its own, which this node merges in turn (see `cluster::catalog_sync`). A node
//! that was down catches up at its first exchange after it starts, deletions included.

use super::body::{decompress, read_raw};
use super::cluster::{post_to_others, Fault};
use super::{ApiError, AppState};
use crate::cluster::catalog_sync::{self, Entries, Entry, Key};
use crate::cluster::Cluster;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use std::time::Duration;

/// How often every node exchanges catalogs with every other.
pub const EXCHANGE_EVERY: Duration = Duration::from_secs(3);
const JSON: &str = "application/json";

fn encode(entries: Entries) -> Result<Vec<u8>, String> {
    let list: Vec<(Key, Entry)> = entries.into_iter().collect();
    snap::raw::Encoder::new().compress_vec(&serde_json::to_vec(&list).expect("entries serialize")).map_err(|e| e.to_string())
}

fn parse(json: &[u8]) -> Result<Entries, String> {
    let list: Vec<(Key, Entry)> = serde_json::from_slice(json).map_err(|e| format!("catalog entries: {e}"))?;
    Ok(list.into_iter().collect())
}

fn decode(snappy: &[u8]) -> Result<Entries, String> {
    parse(&snap::raw::Decoder::new().decompress_vec(snappy).map_err(|e| format!("snappy: {e}"))?)
}

/// Merges another node's entries here, under the catalog lock; deletions run through `/query`'s
/// own code.
async fn take(state: &AppState, cluster: &Cluster, theirs: Entries) -> Result<usize, String> {
    let _changing = cluster.catalog_lock.lock().await;
    catalog_sync::merge(&state.storage, theirs, |d| super::query::replay_deletion(state, d)).await
}

/// Sends this node's entries to every other node and merges their answers; answers whether
/// every node answered.
pub async fn exchange(state: &AppState, cluster: &Cluster) -> bool {
    let storage = &state.storage;
    let body = match catalog_sync::load(storage).and_then(encode) {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "catalog entries");
            return false;
        }
    };
    let peers = cluster.peers();
    let mut everyone = true;
    for (peer, answer) in post_to_others(cluster, &peers, "/internal/v1/catalog", JSON, body).await {
        let theirs = match answer {
            Ok(bytes) => decode(&bytes),
            Err(Fault::Unreachable(e)) => {
                // A node that is down is tried again at the next exchange.
                tracing::debug!(%peer, error = %e, "catalog exchange: peer unreachable");
                everyone = false;
                continue;
            }
            Err(Fault::Refused(e)) => Err(e.message),
        };
        let merged = match theirs {
            Ok(theirs) => take(state, cluster, theirs).await,
            Err(e) => Err(e),
        };
        match merged {
            Ok(0) => {}
            Ok(n) => tracing::info!(%peer, changes = n, "catalog: took changes from a peer"),
            Err(e) => {
                tracing::warn!(%peer, error = %e, "catalog exchange failed");
                everyone = false;
            }
        }
    }
    everyone
}

/// Exchanges catalogs with the other nodes every `EXCHANGE_EVERY`, from the start and for as
/// long as the server runs.
pub async fn keep_in_step(state: AppState, cluster: std::sync::Arc<Cluster>) {
    let mut tick = actix_web::rt::time::interval(EXCHANGE_EVERY);
    loop {
        tick.tick().await;
        if exchange(&state, &cluster).await {
            cluster.set_catalog_synced();
        }
    }
}

/// `/internal/v1/catalog`: merges another node's entries, answers this node's.
pub async fn internal_catalog(req: HttpRequest, payload: web::Payload, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    super::internal_only(&req, &state)?;
    let cluster = state.cluster.as_ref().expect("internal_only admits cluster nodes only");
    let raw = read_raw(payload, state.max_body_bytes).await?;
    let theirs = parse(&decompress(&req, &raw, state.max_body_bytes)?).map_err(ApiError::bad_request)?;
    let internal = |e: String| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e);
    take(&state, cluster, theirs).await.map_err(internal)?;
    let mine = catalog_sync::load(&state.storage).map_err(internal)?;
    Ok(HttpResponse::Ok().content_type(JSON).insert_header(("Content-Encoding", "snappy")).body(encode(mine).map_err(internal)?))
}
