//! The internal endpoints, which the other nodes of a cluster call (`cluster::transport`):
//! each works on this node's own data only, and answers only requests that carry the cluster
//! secret. `/internal/v1/write` stores a node's share of a write (remote write 1.0 body; the
//! answer is the outcome as JSON), with hints when it stands in for an owner that is down
//! (`stands_for`, see `cluster::handoff`); `/read` streams this node's chunks as a
//! STREAMED_XOR_CHUNKS remote read does (frames of at most 1 MiB, read from storage as they go
//! out; SAMPLES when the request accepts only that, as a node of an older version asks);
//! `/series` the label sets of its series matching each query (series without samples);
//! `/catalog` merges another node's catalog entries and answers this node's.

use super::body::{decompress, read_raw};
use super::read::{samples, samples_answer, streamed, Target};
use crate::remote::read::{labels_pb, negotiate, parse_queries};
use super::{ApiError, AppState};
use crate::cluster::handoff::CopyKind;
use crate::cluster::transport::{decode_entries, encode_entries};
use crate::data::{Data, FieldPairs};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use prost::Message;
use proto::prometheus::{self as pb, read_request::ResponseType};
use std::sync::Arc;

#[derive(serde::Deserialize)]
pub struct Params {
    db: Option<String>,
    rp: Option<String>,
    /// `all`: every policy of the database.
    policies: Option<String>,
    /// Writes only: line protocol's (measurement, field) pairs as JSON.
    fields: Option<String>,
    /// Writes only: the owner (down) these copies stand in for.
    stands_for: Option<String>,
    /// Writes only: `true` for samples a stand-in held for this node (see `CopyKind`).
    #[serde(default)]
    handoff: bool,
}

impl Params {
    /// What a read or listing reads: `data` in `db` (default `prometheus`), `rp` or every policy.
    fn target(&self, data: Arc<Data>) -> Target {
        let db = super::database_or_default(&self.db);
        Target { data, db, rp: self.rp.clone(), all_policies: self.policies.as_deref() == Some("all") }
    }
}

/// 403 without the cluster secret, 404 on a node that is not in a cluster; else this node's
/// own data.
fn local_data(req: &HttpRequest, state: &AppState) -> Result<Arc<Data>, ApiError> {
    let given = req.headers().get(crate::cluster::SECRET_HEADER).map(|v| v.as_bytes());
    match state.cluster() {
        Some(c) if c.admits(given) => Ok(state.local.clone()),
        Some(_) => Err(ApiError::new(StatusCode::FORBIDDEN, "internal endpoint: the cluster secret is required")),
        None => Err(ApiError::new(StatusCode::NOT_FOUND, "no such endpoint")),
    }
}

async fn read_request(req: &HttpRequest, payload: web::Payload, state: &AppState) -> Result<pb::ReadRequest, ApiError> {
    let raw = read_raw(payload, state.max_body_bytes).await?;
    let body = decompress(req, &raw, state.max_body_bytes)?;
    pb::ReadRequest::decode(body.as_slice()).map_err(|e| ApiError::bad_request(format!("protobuf decode of prometheus.ReadRequest: {e}")))
}

pub async fn write(req: HttpRequest, params: web::Query<Params>, payload: web::Payload, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let local = local_data(&req, &state)?;
    let db = super::database_or_default(&params.db);
    let rp = params.rp.as_deref().filter(|r| !r.is_empty());
    super::require_policy(&state, &db, rp)?;
    let raw = read_raw(payload, state.max_body_bytes).await?;
    let body = decompress(&req, &raw, state.max_body_bytes)?;
    let decoded = crate::remote::write::decode_v1(&body)?;
    let fields: FieldPairs = match &params.fields {
        Some(f) => serde_json::from_str(f).map_err(|e| ApiError::bad_request(format!("fields: {e}")))?,
        None => FieldPairs::new(),
    };
    let Some(coordinator) = &state.coordinator else { return Err(ApiError::new(StatusCode::NOT_FOUND, "no such endpoint")) };
    local.catalog().register_fields(&db, &fields)?;
    let kind = match (&params.stands_for, params.handoff) {
        (_, true) => CopyKind::HandedOff,
        (Some(owner), false) => CopyKind::StandingFor(owner),
        (None, false) => CopyKind::Owned,
    };
    let outcome = coordinator.handoff().store_copy(&db, rp, decoded.series, kind).await?;
    Ok(HttpResponse::Ok().json(&outcome))
}

/// This node's series as frames, streamed from its storage (or, for a node of an older
/// version that asks for SAMPLES, every sample in one answer).
pub async fn read(req: HttpRequest, params: web::Query<Params>, payload: web::Payload, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let target = params.target(local_data(&req, &state)?);
    let request = read_request(&req, payload, &state).await?;
    let queries = parse_queries(&request)?;
    match negotiate(&request)? {
        ResponseType::Samples => samples(&target.data, &target.db, target.which(), queries).await,
        ResponseType::StreamedXorChunks => streamed(target, queries).await,
    }
}

pub async fn series(req: HttpRequest, params: web::Query<Params>, payload: web::Payload, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let target = params.target(local_data(&req, &state)?);
    let request = read_request(&req, payload, &state).await?;
    let mut results = Vec::new();
    for q in parse_queries(&request)? {
        let series = target.data.series(&target.db, target.which(), q.matchers, None).await?;
        results.push(pb::QueryResult { timeseries: series.iter().map(|l| pb::TimeSeries { labels: labels_pb(l), ..Default::default() }).collect() });
    }
    samples_answer(pb::ReadResponse { results })
}

pub async fn catalog(req: HttpRequest, payload: web::Payload, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    local_data(&req, &state)?;
    let Some(coordinator) = &state.coordinator else { return Err(ApiError::new(StatusCode::NOT_FOUND, "no such endpoint")) };
    let raw = read_raw(payload, state.max_body_bytes).await?;
    let theirs = decode_entries(&decompress(&req, &raw, state.max_body_bytes)?).map_err(|e| ApiError::bad_request(e.to_string()))?;
    coordinator.take(theirs).await?;
    let mine = crate::cluster::catalog_sync::load(coordinator.storage())?;
    let body = snap::raw::Encoder::new().compress_vec(&encode_entries(&mine)).map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(HttpResponse::Ok().content_type("application/json").insert_header(("Content-Encoding", "snappy")).body(body))
}
