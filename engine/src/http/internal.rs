//! The internal endpoints, which the other nodes of a cluster call (`cluster::transport`):
//! each works on this node's own data only, and answers only requests that carry the cluster
//! secret. `/internal/v1/write` stores a node's share of a write (remote write 1.0 body; the
//! answer is the outcome as JSON), with hints when it stands in for an owner that is down
//! (`stands_for`, see `cluster::handoff`), merged in for a hand-over or an import (`handoff`,
//! `import`); `/read` streams this node's chunks as a
//! STREAMED_XOR_CHUNKS remote read does (frames of at most 1 MiB, read from storage as they go
//! out; SAMPLES when the request accepts only that, as a node of an older version asks);
//! `/series` the label sets of its series matching each query (series without samples);
//! `/labels` its label names or one label's values from its index (JSON, snappy);
//! `/select_tier` the windows of tier `tier` (`5m`, `1h`) of its series matching the one query
//! (`cluster::tier_read`'s format, snappy); `/catalog` merges another node's catalog entries
//! and answers this node's.
//! What each does is `cluster::node`; this file checks the secret and translates the wire
//! formats (`remote::read`, `remote::write`, `cluster::transport`'s catalog entries).

use super::body::{decompress, read_raw};
use super::read::{answer, samples_answer, Source, Target};
use super::{ApiError, AppState};
use crate::cluster::handoff::CopyKind;
use crate::cluster::node::Node;
use crate::cluster::tier_read;
use crate::cluster::transport::{decode_entries, encode_entries};
use crate::data::{FieldPairs, Selection, SeriesStream, Tier};
use crate::remote::read::{decode_request, labels_pb, parse_queries};
use crate::data::schema::Policies;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::future::LocalBoxFuture;
use proto::prometheus as pb;
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
    /// Writes only: `true` for history (`gemini import`), merged in (see `CopyKind`).
    #[serde(default)]
    import: bool,
    /// `/labels` only: the label whose values are asked for (none: the label names).
    label: Option<String>,
    /// `/select_tier` only: the tier, by name (`Tier::name`).
    tier: Option<String>,
}

impl Params {
    /// What a read or listing reads: `node`'s data in `db` (default `prometheus`), `rp` or
    /// every policy.
    fn target(&self, node: Arc<Node>) -> Target<Node> {
        let db = super::database_or_default(&self.db);
        Target { source: node, db, rp: self.rp.clone(), all_policies: self.policies.as_deref() == Some("all") }
    }
}

/// A peer reads this node's own data.
impl Source for Node {
    fn select<'a>(&'a self, db: &'a str, which: Policies<'a>, selection: Selection) -> LocalBoxFuture<'a, Result<SeriesStream, crate::data::Error>> {
        Box::pin(self.read(db, which, selection))
    }
}

/// 403 without the cluster secret, 404 on a node that is not in a cluster; else this node.
fn node(req: &HttpRequest, state: &AppState) -> Result<Arc<Node>, ApiError> {
    let given = req.headers().get(crate::cluster::SECRET_HEADER).map(|v| v.as_bytes());
    match (state.cluster(), &state.node) {
        (Some(c), Some(node)) if c.admits(given) => Ok(node.clone()),
        (Some(_), Some(_)) => Err(ApiError::new(StatusCode::FORBIDDEN, "internal endpoint: the cluster secret is required")),
        _ => Err(ApiError::new(StatusCode::NOT_FOUND, "no such endpoint")),
    }
}

/// The request's body, within the body limit and decompressed.
async fn body(req: &HttpRequest, payload: web::Payload, state: &AppState) -> Result<Vec<u8>, ApiError> {
    let raw = read_raw(payload, state.max_body_bytes).await?;
    decompress(req, &raw, state.max_body_bytes)
}

async fn read_request(req: &HttpRequest, payload: web::Payload, state: &AppState) -> Result<pb::ReadRequest, ApiError> {
    Ok(decode_request(&body(req, payload, state).await?)?)
}

pub async fn write(req: HttpRequest, params: web::Query<Params>, payload: web::Payload, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let node = node(&req, &state)?;
    let db = super::database_or_default(&params.db);
    let rp = params.rp.as_deref().filter(|r| !r.is_empty());
    super::require_policy(&state, &db, rp)?;
    let decoded = crate::remote::write::decode_v1(&body(&req, payload, &state).await?)?;
    let fields: FieldPairs = match &params.fields {
        Some(f) => serde_json::from_str(f).map_err(|e| ApiError::bad_request(format!("fields: {e}")))?,
        None => FieldPairs::new(),
    };
    let kind = match (params.stands_for.as_deref(), params.handoff, params.import) {
        (_, true, _) => CopyKind::HandedOff,
        (stands_for, false, true) => CopyKind::Imported(stands_for),
        (Some(owner), false, false) => CopyKind::StandingFor(owner),
        (None, false, false) => CopyKind::Owned,
    };
    let outcome = node.write(&db, rp, decoded.series, &fields, kind).await?;
    Ok(HttpResponse::Ok().json(&outcome))
}

/// This node's series as frames, streamed from its storage (or, for a node of an older
/// version that asks for SAMPLES, every sample in one answer).
pub async fn read(req: HttpRequest, params: web::Query<Params>, payload: web::Payload, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let target = params.target(node(&req, &state)?);
    let request = read_request(&req, payload, &state).await?;
    let queries = parse_queries(&request)?;
    answer(target, &request, queries).await
}

pub async fn series(req: HttpRequest, params: web::Query<Params>, payload: web::Payload, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let target = params.target(node(&req, &state)?);
    let request = read_request(&req, payload, &state).await?;
    let mut results = Vec::new();
    for q in parse_queries(&request)? {
        let series = target.source.series(&target.db, target.which(), q.matchers).await?;
        results.push(pb::QueryResult { timeseries: series.iter().map(|l| pb::TimeSeries { labels: labels_pb(l), ..Default::default() }).collect() });
    }
    samples_answer(pb::ReadResponse { results })
}

/// This node's label names (or the values of `label`) of the series matching the request's one
/// query, counted for its time range (`i64::MIN` to `i64::MAX`: none) from the index; JSON.
pub async fn labels(req: HttpRequest, params: web::Query<Params>, payload: web::Payload, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let node = node(&req, &state)?;
    let request = read_request(&req, payload, &state).await?;
    let Ok([q]) = <[Selection; 1]>::try_from(parse_queries(&request)?) else {
        return Err(ApiError::bad_request("labels takes exactly one query"));
    };
    let range = Some((q.min_t, q.max_t)).filter(|r| *r != (i64::MIN, i64::MAX));
    let target = params.target(node);
    let found = target.source.labels(&target.db, target.which(), q.matchers, range, params.label.as_deref()).await?;
    snappy_answer("application/json", &serde_json::to_vec(&found).unwrap_or_default())
}

/// This node's windows of a tier for the request's one query.
pub async fn select_tier(req: HttpRequest, params: web::Query<Params>, payload: web::Payload, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let target = params.target(node(&req, &state)?);
    let name = params.tier.as_deref().unwrap_or_default();
    let tier = Tier::ALL.into_iter().find(|t| t.name() == name).ok_or_else(|| ApiError::bad_request(format!("unknown tier: {name:?}")))?;
    let request = read_request(&req, payload, &state).await?;
    let Ok([selection]) = <[Selection; 1]>::try_from(parse_queries(&request)?) else {
        return Err(ApiError::bad_request("select_tier takes exactly one query"));
    };
    let answer = target.source.read_tier(&target.db, target.which(), selection, tier).await?;
    snappy_answer("application/octet-stream", &tier_read::encode(&answer))
}

pub async fn catalog(req: HttpRequest, payload: web::Payload, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let node = node(&req, &state)?;
    let theirs = decode_entries(&body(&req, payload, &state).await?).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let mine = node.catalog(theirs).await?;
    snappy_answer("application/json", &encode_entries(&mine))
}

/// A 200 with `body` compressed with snappy.
fn snappy_answer(content_type: &str, body: &[u8]) -> Result<HttpResponse, ApiError> {
    let body = snap::raw::Encoder::new().compress_vec(body).map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(HttpResponse::Ok().content_type(content_type.to_string()).insert_header(("Content-Encoding", "snappy")).body(body))
}
