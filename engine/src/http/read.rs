//! Remote read: every query of a `ReadRequest`, answered as SAMPLES (one snappy protobuf
//! `ReadResponse`) or STREAMED_XOR_CHUNKS (frames of uvarint length, big-endian CRC32-C and a
//! `ChunkedReadResponse`, none over 1 MiB). A streamed answer is produced batch by batch
//! behind a one-frame channel, so memory is bounded by the frame size, not the result.

use super::body::{decompress, read_raw};
use super::{ApiError, AppState};
use crate::index::matcher::Matcher;
use crate::storage::shard::StoredChunk;
use crate::storage::{chunk, Policies, SelectedSeries};
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;
use prost::Message;
use std::collections::VecDeque;
use proto::prometheus::{self as pb, read_request::ResponseType};

/// Largest streamed frame, header included, as Prometheus' server uses.
pub const MAX_FRAME_BYTES: usize = 1 << 20;
/// Series whose chunks are fetched from the shards at once while streaming.
const STREAM_BATCH: usize = 64;

#[derive(serde::Deserialize)]
pub struct ReadParams {
    db: Option<String>,
    rp: Option<String>,
}

struct Query {
    start: i64,
    end: i64,
    matchers: Vec<Matcher>,
    /// As the client sent it, for the other nodes of a cluster.
    wire: pb::Query,
}

fn parse_queries(req: &pb::ReadRequest) -> Result<Vec<Query>, ApiError> {
    req.queries
        .iter()
        .enumerate()
        .map(|(i, q)| {
            let matchers = q
                .matchers
                .iter()
                .map(|m| Matcher::from_wire(m.r#type, &m.name, &m.value))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| ApiError::bad_request(format!("query {i}: {e}")))?;
            Ok(Query { start: q.start_timestamp_ms, end: q.end_timestamp_ms, matchers, wire: q.clone() })
        })
        .collect()
}

/// The first response type of the client's list that we serve; an empty list means SAMPLES.
fn negotiate(req: &pb::ReadRequest) -> Result<ResponseType, ApiError> {
    if req.accepted_response_types.is_empty() {
        return Ok(ResponseType::Samples);
    }
    req.accepted_response_types
        .iter()
        .find_map(|t| ResponseType::try_from(*t).ok())
        .ok_or_else(|| ApiError::bad_request(format!("none of the accepted response types {:?} is supported: use SAMPLES (0) or STREAMED_XOR_CHUNKS (1)", req.accepted_response_types)))
}

fn labels_pb(s: &SelectedSeries) -> Vec<pb::Label> {
    s.labels.iter().map(|(n, v)| pb::Label { name: n.to_string(), value: v.to_string() }).collect()
}

pub async fn read(
    req: HttpRequest,
    params: web::Query<ReadParams>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let db = super::database_or_default(&params.db);
    super::auth::authorize(&req, &state, crate::model::Privilege::Read, &db)?;
    let rp = params.rp.clone().filter(|r| !r.is_empty());
    super::require_policy(&state, &db, rp.as_deref())?;
    let raw = read_raw(payload, state.max_body_bytes).await?;
    let body = decompress(&req, &raw, state.max_body_bytes)?;
    let request = pb::ReadRequest::decode(body.as_slice())
        .map_err(|e| ApiError::bad_request(format!("protobuf decode of prometheus.ReadRequest: {e}")))?;
    let queries = parse_queries(&request)?;
    if let Some(cluster) = state.cluster.clone() {
        return cluster_read(&state, &cluster, &db, rp.as_deref(), queries, negotiate(&request)?).await;
    }
    match negotiate(&request)? {
        ResponseType::Samples => samples(&state, &db, rp.as_deref(), queries).await,
        ResponseType::StreamedXorChunks => Ok(streamed(state, db, rp, queries)),
    }
}

/// `/internal/v1/read`: this node's own samples, for the node that merges a cluster read.
pub async fn internal_read(req: HttpRequest, params: web::Query<ReadParams>, payload: web::Payload, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    super::internal_only(&req, &state)?;
    let db = super::database_or_default(&params.db);
    let rp = params.rp.clone().filter(|r| !r.is_empty());
    let raw = read_raw(payload, state.max_body_bytes).await?;
    let body = decompress(&req, &raw, state.max_body_bytes)?;
    let request = pb::ReadRequest::decode(body.as_slice()).map_err(|e| ApiError::bad_request(format!("protobuf decode of prometheus.ReadRequest: {e}")))?;
    samples(&state, &db, rp.as_deref(), parse_queries(&request)?).await
}

#[derive(serde::Deserialize)]
pub struct SeriesParams {
    db: Option<String>,
    rp: Option<String>,
    /// `all`: every policy of the database.
    policies: Option<String>,
}

/// `/internal/v1/series`: the label sets of this node's series that match each query of the
/// request (as series without samples), for a cluster-wide `SHOW` or `SELECT`.
pub async fn internal_series(req: HttpRequest, params: web::Query<SeriesParams>, payload: web::Payload, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    super::internal_only(&req, &state)?;
    let db = super::database_or_default(&params.db);
    let which = match params.policies.as_deref() {
        Some("all") => Policies::All,
        _ => Policies::One(params.rp.as_deref().filter(|r| !r.is_empty())),
    };
    let raw = read_raw(payload, state.max_body_bytes).await?;
    let body = decompress(&req, &raw, state.max_body_bytes)?;
    let request = pb::ReadRequest::decode(body.as_slice()).map_err(|e| ApiError::bad_request(format!("protobuf decode of prometheus.ReadRequest: {e}")))?;
    let mut results = Vec::new();
    for q in parse_queries(&request)? {
        let series = state.storage.select(&db, which, q.matchers).await?;
        results.push(pb::QueryResult { timeseries: series.iter().map(|s| pb::TimeSeries { labels: labels_pb(s), ..Default::default() }).collect() });
    }
    samples_answer(pb::ReadResponse { results })
}

/// Every node's samples for one query, merged: labels → time → value.
pub async fn merged_samples(state: &AppState, cluster: &crate::cluster::Cluster, db: &str, rp: Option<&str>, wire: pb::Query) -> Result<super::cluster::Merged, ApiError> {
    let request = pb::ReadRequest { queries: vec![wire.clone()], accepted_response_types: vec![] };
    let q = parse_queries(&request)?.pop().expect("one query");
    let mut merged = super::cluster::Merged::new();
    super::cluster::merge(&mut merged, local_timeseries(state, db, rp, q).await?);
    super::cluster::read_peers(cluster, db, rp, &wire, &mut merged).await?;
    Ok(merged)
}

/// A read through a cluster: every node's samples merged, as SAMPLES or re-encoded chunks.
async fn cluster_read(state: &AppState, cluster: &crate::cluster::Cluster, db: &str, rp: Option<&str>, queries: Vec<Query>, kind: ResponseType) -> Result<HttpResponse, ApiError> {
    let mut merged_queries = Vec::with_capacity(queries.len());
    for q in queries {
        merged_queries.push(merged_samples(state, cluster, db, rp, q.wire).await?);
    }
    let labels = |key: &Vec<(String, String)>| key.iter().map(|(n, v)| pb::Label { name: n.clone(), value: v.clone() }).collect::<Vec<_>>();
    if kind == ResponseType::Samples {
        let results = merged_queries
            .into_iter()
            .map(|m| pb::QueryResult {
                timeseries: m.iter().map(|(k, s)| pb::TimeSeries { labels: labels(k), samples: s.iter().map(|(t, v)| pb::Sample { timestamp: *t, value: *v }).collect(), ..Default::default() }).collect(),
            })
            .collect();
        return samples_answer(pb::ReadResponse { results });
    }
    let mut frames = Vec::new();
    for (index, m) in merged_queries.into_iter().enumerate() {
        let mut framer = Framer::new(index as i64);
        for (key, samples) in &m {
            let mut chunks = Vec::new();
            let points: Vec<(&i64, &f64)> = samples.iter().collect();
            for part in points.chunks(chunk::SAMPLES_PER_CHUNK as usize) {
                let mut c = chunk::XorChunk::new();
                for (t, v) in part {
                    c.append(**t, **v);
                }
                chunks.push(StoredChunk { min_t: c.min_time(), max_t: c.max_time(), data: c.bytes().to_vec() });
            }
            framer.push(labels(key), chunks, &mut frames);
        }
        frames.extend(framer.take());
    }
    Ok(HttpResponse::Ok().content_type("application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse").body(frames.concat()))
}

/// This node's samples of one query, series by series.
async fn local_timeseries(state: &AppState, db: &str, rp: Option<&str>, q: Query) -> Result<Vec<pb::TimeSeries>, ApiError> {
    let series = state.storage.select(db, Policies::One(rp), q.matchers).await?;
    let chunks = state.storage.read_chunks(&series, q.start, q.end).await?;
    let mut timeseries = Vec::new();
    for (s, chunks) in series.iter().zip(chunks) {
        let mut samples = Vec::new();
        for c in &chunks {
            chunk::decode_each(&c.data, |t, v| {
                if t >= q.start && t <= q.end {
                    samples.push(pb::Sample { value: v, timestamp: t });
                }
            })
            .ok_or_else(|| ApiError::new(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR, format!("corrupt chunk in series {}", s.labels)))?;
        }
        if !samples.is_empty() {
            timeseries.push(pb::TimeSeries { labels: labels_pb(s), samples, ..Default::default() });
        }
    }
    Ok(timeseries)
}

async fn samples(state: &AppState, db: &str, rp: Option<&str>, queries: Vec<Query>) -> Result<HttpResponse, ApiError> {
    let mut results = Vec::with_capacity(queries.len());
    for q in queries {
        results.push(pb::QueryResult { timeseries: local_timeseries(state, db, rp, q).await? });
    }
    samples_answer(pb::ReadResponse { results })
}

fn samples_answer(response: pb::ReadResponse) -> Result<HttpResponse, ApiError> {
    let body = response.encode_to_vec();
    let compressed = snap::raw::Encoder::new()
        .compress_vec(&body)
        .map_err(|e| ApiError::new(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR, format!("snappy encode: {e}")))?;
    Ok(HttpResponse::Ok()
        .content_type("application/x-protobuf")
        .insert_header(("Content-Encoding", "snappy"))
        .body(compressed))
}

/// Frames one message: uvarint length, big-endian CRC32-Castagnoli of the message, message.
pub fn frame(msg: &pb::ChunkedReadResponse) -> Bytes {
    let body = msg.encode_to_vec();
    let mut out = Vec::with_capacity(body.len() + 14);
    prost::encoding::encode_varint(body.len() as u64, &mut out);
    out.extend_from_slice(&crc32c::crc32c(&body).to_be_bytes());
    out.extend_from_slice(&body);
    Bytes::from(out)
}

/// Collects chunked series into frames no larger than `MAX_FRAME_BYTES`.
struct Framer {
    query_index: i64,
    current: pb::ChunkedReadResponse,
    size: usize,
}

fn field_len(inner: usize) -> usize {
    1 + prost::encoding::encoded_len_varint(inner as u64) + inner
}

impl Framer {
    /// Room for the message inside a frame: the length varint and CRC take at most 14 bytes.
    const LIMIT: usize = MAX_FRAME_BYTES - 14 - 16;

    fn new(query_index: i64) -> Framer {
        Framer { query_index, current: pb::ChunkedReadResponse { chunked_series: vec![], query_index }, size: 16 }
    }

    fn take(&mut self) -> Option<Bytes> {
        if self.current.chunked_series.is_empty() {
            return None;
        }
        let f = frame(&self.current);
        *self = Framer::new(self.query_index);
        Some(f)
    }

    /// Adds one series; a series too big for one frame is split over several with the same labels.
    fn push(&mut self, labels: Vec<pb::Label>, chunks: Vec<StoredChunk>, out: &mut Vec<Bytes>) {
        let labels_len: usize = labels.iter().map(|l| field_len(l.encoded_len())).sum();
        let mut series = pb::ChunkedSeries { labels: labels.clone(), chunks: vec![] };
        let mut series_len = labels_len;
        for c in chunks {
            let chunk = pb::Chunk { min_time_ms: c.min_t, max_time_ms: c.max_t, r#type: pb::chunk::Encoding::Xor as i32, data: c.data };
            let chunk_len = field_len(chunk.encoded_len());
            if self.size + field_len(series_len + chunk_len) > Self::LIMIT {
                if !series.chunks.is_empty() {
                    self.current.chunked_series.push(std::mem::replace(&mut series, pb::ChunkedSeries { labels: labels.clone(), chunks: vec![] }));
                    series_len = labels_len;
                }
                out.extend(self.take());
            }
            series.chunks.push(chunk);
            series_len += chunk_len;
        }
        if !series.chunks.is_empty() {
            self.size += field_len(series_len);
            self.current.chunked_series.push(series);
        }
    }
}

fn streamed(state: web::Data<AppState>, db: String, rp: Option<String>, queries: Vec<Query>) -> HttpResponse {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(1);
    actix_web::rt::spawn(async move {
        if let Err(e) = stream_queries(&state, &db, rp.as_deref(), queries, &tx).await {
            tracing::warn!(error = %e, "streamed remote read stopped");
            let _ = tx.send(Err(std::io::Error::other(e))).await;
        }
    });
    let body = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
    HttpResponse::Ok()
        .content_type("application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse")
        .streaming(body)
}

async fn stream_queries(
    state: &AppState,
    db: &str,
    rp: Option<&str>,
    queries: Vec<Query>,
    tx: &tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
) -> Result<(), String> {
    let send = |f: Bytes| async move { tx.send(Ok(f)).await.map_err(|_| "client went away".to_string()) };
    for (index, q) in queries.into_iter().enumerate() {
        let series = state.storage.select(db, Policies::One(rp), q.matchers).await.map_err(|e| e.to_string())?;
        let mut framer = Framer::new(index as i64);
        for batch in series.chunks(STREAM_BATCH) {
            // Per shard: ids still to fetch, fetched chunks (and whether the series is
            // complete), and where a series cut short resumes. Each shard holds at most one
            // page (about a frame) here at a time.
            let shards = state.storage.shard_count();
            let mut pending: Vec<VecDeque<u64>> = vec![VecDeque::new(); shards];
            let mut fetched: Vec<VecDeque<(Vec<StoredChunk>, bool)>> = vec![VecDeque::new(); shards];
            let mut resume: Vec<i64> = vec![i64::MIN; shards];
            for s in batch {
                pending[s.shard].push_back(s.id);
            }
            for s in batch {
                loop {
                    if fetched[s.shard].is_empty() {
                        let ids: Vec<u64> = pending[s.shard].iter().copied().collect();
                        let page = state
                            .storage
                            .read_page(s.policy, s.shard, ids, resume[s.shard], q.start, q.end, MAX_FRAME_BYTES)
                            .await
                            .map_err(|e| e.to_string())?;
                        let n = page.series.len();
                        for (j, chunks) in page.series.into_iter().enumerate() {
                            let complete = j + 1 < n || page.resume.is_none();
                            if complete {
                                pending[s.shard].pop_front();
                            }
                            fetched[s.shard].push_back((chunks, complete));
                        }
                        resume[s.shard] = page.resume.unwrap_or(i64::MIN);
                    }
                    let (chunks, complete) = fetched[s.shard].pop_front().ok_or("shard returned an empty page")?;
                    let mut frames = Vec::new();
                    framer.push(labels_pb(s), chunks, &mut frames);
                    for f in frames {
                        send(f).await?;
                    }
                    if complete {
                        break;
                    }
                }
            }
        }
        if let Some(f) = framer.take() {
            send(f).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_stay_under_the_limit_and_split_big_series() {
        let labels = vec![pb::Label { name: "__name__".into(), value: "x".into() }];
        let chunks: Vec<StoredChunk> = (0..3000).map(|i| StoredChunk { min_t: i, max_t: i, data: vec![7u8; 1000] }).collect();
        let mut framer = Framer::new(3);
        let mut out = Vec::new();
        framer.push(labels.clone(), chunks, &mut out);
        out.extend(framer.take());
        assert!(out.len() >= 3, "3 MB of chunks need at least 3 frames, got {}", out.len());
        let mut total = 0;
        for f in &out {
            assert!(f.len() <= MAX_FRAME_BYTES, "frame of {} bytes", f.len());
            let mut buf = &f[..];
            let len = prost::encoding::decode_varint(&mut buf).unwrap() as usize;
            let crc = u32::from_be_bytes(buf[..4].try_into().unwrap());
            assert_eq!(crc, crc32c::crc32c(&buf[4..4 + len]));
            let msg = pb::ChunkedReadResponse::decode(&buf[4..4 + len]).unwrap();
            assert_eq!(msg.query_index, 3);
            for s in msg.chunked_series {
                assert_eq!(s.labels, labels);
                total += s.chunks.len();
            }
        }
        assert_eq!(total, 3000);
    }
}
