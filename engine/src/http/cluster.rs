//! What writes and reads do in a cluster. A write is split by owner (see
//! `cluster::placement`): this node's part goes to its storage, the rest to the owners over
//! `/internal/v1/write` (remote write 1.0 protobuf, snappy, the cluster secret in a header);
//! an owner that does not answer is marked down and its copy goes to the next node in hash
//! order, and the answer is 204 only when every series has its replication-factor copies.
//! Retries are harmless: a sample stored again is a duplicate, not a second sample. A remote
//! read asks every node for its own samples over `/internal/v1/read` and merges them by
//! series, one sample per timestamp; with as many nodes unreachable as there are copies it
//! answers 503 naming them, never a silent partial answer.

use super::{ApiError, AppState};
use crate::cluster::{placement, Cluster, Contact, SECRET_HEADER};
use crate::index::matcher::Matcher;
use crate::labels::Labels;
use crate::storage::shard::{Rejection, SeriesWrite, WriteOutcome};
use crate::storage::Policies;
use actix_web::http::StatusCode;
use futures_util::future::join_all;
use prost::Message;
use proto::prometheus as pb;
use std::collections::BTreeMap;
use std::time::Duration;

thread_local! {
    /// One client (and connection pool) per worker thread: awc's client is not `Send`. A peer
    /// that does not connect within 2 s or answer within 10 s counts as down, well within
    /// Prometheus' 30 s remote timeout.
    static CLIENT: awc::Client = {
        let mut connector = awc::Connector::new().timeout(Duration::from_secs(2));
        if let Some(tls) = super::tls::cluster_client() {
            connector = connector.rustls_0_23(tls);
        }
        awc::Client::builder().connector(connector).timeout(Duration::from_secs(10)).finish()
    };
}

/// Why a part of a cluster request failed: a peer did not give a good answer (try another;
/// whatever it said, the client's request was valid here), or this node's own storage refused.
pub(super) enum Fault {
    Unreachable(String),
    Refused(ApiError),
}

/// POSTs a snappy body of `content_type` to a peer; answers the response body of a 2xx. The
/// outcome is the peer's last contact (`/health`).
async fn internal_post(cluster: &Cluster, peer: &str, path_and_query: &str, content_type: &str, body: Vec<u8>) -> Result<Vec<u8>, Fault> {
    let result = post_once(cluster, peer, path_and_query, content_type, body).await;
    cluster.record_contact(peer, match &result {
        Err(Fault::Unreachable(e)) => Contact::Failed(e.clone()),
        Ok(_) | Err(Fault::Refused(_)) => Contact::Answered,
    });
    result
}

async fn post_once(cluster: &Cluster, peer: &str, path_and_query: &str, content_type: &str, body: Vec<u8>) -> Result<Vec<u8>, Fault> {
    let scheme = if super::tls::cluster_client().is_some() { "https" } else { "http" };
    let url = format!("{scheme}://{peer}{path_and_query}");
    let request = CLIENT.with(|c| {
        c.post(url)
            .insert_header((SECRET_HEADER, cluster.secret()))
            .insert_header(("Content-Type", content_type))
            .insert_header(("Content-Encoding", "snappy"))
            .send_body(body)
    });
    let mut response = request.await.map_err(|e| Fault::Unreachable(e.to_string()))?;
    let status = response.status();
    let bytes = response.body().limit(1 << 30).await.map_err(|e| Fault::Unreachable(e.to_string()))?;
    if status.is_success() {
        return Ok(bytes.to_vec());
    }
    let message = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_string))
        .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned());
    // A peer that refuses what this node accepted (a database it does not have yet, another
    // secret) is out of step with the cluster: its copy goes elsewhere, never a 4xx to the
    // client, which would drop the samples.
    Err(Fault::Unreachable(format!("{status}: {message}")))
}

const PROTOBUF: &str = "application/x-protobuf";

fn query_string(db: &str, rp: Option<&str>) -> String {
    let mut q = serde_urlencoded::to_string([("db", db)]).unwrap_or_default();
    if let Some(rp) = rp {
        q.push('&');
        q.push_str(&serde_urlencoded::to_string([("rp", rp)]).unwrap_or_default());
    }
    q
}

fn to_pb(series: &[SeriesWrite]) -> pb::WriteRequest {
    let timeseries = series
        .iter()
        .map(|s| pb::TimeSeries {
            labels: s.labels.iter().map(|(n, v)| pb::Label { name: n.to_string(), value: v.to_string() }).collect(),
            samples: s.samples.iter().map(|(t, v)| pb::Sample { timestamp: *t, value: *v }).collect(),
            ..Default::default()
        })
        .collect();
    pb::WriteRequest { timeseries, ..Default::default() }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Outcome {
    accepted: u64,
    duplicates: u64,
    new_series: u64,
    rejected: u64,
    rejections: Vec<Rejection>,
}

pub fn outcome_json(o: &WriteOutcome) -> serde_json::Value {
    serde_json::json!(Outcome { accepted: o.accepted, duplicates: o.duplicates, new_series: o.new_series, rejected: o.rejected, rejections: o.rejections.clone() })
}

/// Line protocol's (measurement, field) pairs, which every owner registers (see `fields.rs`).
pub type FieldPairs = std::collections::BTreeSet<(String, String)>;

async fn forward(cluster: &Cluster, peer: &str, (db, rp): (&str, Option<&str>), part: &[SeriesWrite], fields: &FieldPairs) -> Result<WriteOutcome, Fault> {
    let body = snap::raw::Encoder::new().compress_vec(&to_pb(part).encode_to_vec()).map_err(|e| Fault::Unreachable(e.to_string()))?;
    let mut path = format!("/internal/v1/write?{}", query_string(db, rp));
    if !fields.is_empty() {
        let pairs = serde_json::to_string(fields).expect("pairs serialize");
        path.push('&');
        path.push_str(&serde_urlencoded::to_string([("fields", pairs)]).unwrap_or_default());
    }
    let answer = internal_post(cluster, peer, &path, PROTOBUF, body).await?;
    let o: Outcome = serde_json::from_slice(&answer).map_err(|e| Fault::Unreachable(format!("bad answer: {e}")))?;
    let samples: usize = part.iter().map(|s| s.samples.len()).sum();
    cluster.count(peer, |s| s.forwarded_samples += samples as u64);
    Ok(WriteOutcome { accepted: o.accepted, duplicates: o.duplicates, new_series: o.new_series, rejected: o.rejected, rejections: o.rejections })
}

/// Writes every series to its replication-factor owners; see the module doc.
pub async fn write(state: &AppState, cluster: &Cluster, (db, rp): (&str, Option<&str>), series: Vec<SeriesWrite>, fields: &FieldPairs) -> Result<WriteOutcome, ApiError> {
    let peers = cluster.peers();
    let copies = cluster.replication_factor.min(peers.names.len());
    let me = peers.names.iter().position(|p| *p == cluster.self_name).expect("self is a peer");
    // Per series: peers in its order, each peer's state for it (0: not asked, 1: passed over
    // while marked down, 2: sent a copy), copies missing.
    let mut wants: Vec<(Vec<usize>, Vec<u8>, usize)> =
        series.iter().map(|s| (placement::ranked(s.hash, &peers.hashes), vec![0; peers.names.len()], copies)).collect();
    let mut total = WriteOutcome::default();
    loop {
        let mut batches: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for (i, (ranked, state, missing)) in wants.iter_mut().enumerate() {
            for _ in 0..*missing {
                // The first node in its order not sent a copy yet, passing over those marked
                // down; when only those are left, they are tried anyway (they may be back).
                let mut pick = None;
                for &n in ranked.iter() {
                    if state[n] == 2 {
                        continue;
                    }
                    if n == me || !cluster.is_down(&peers.names[n]) {
                        pick = Some(n);
                        break;
                    }
                    if state[n] == 0 {
                        cluster.count(&peers.names[n], |s| s.failovers += 1);
                        state[n] = 1;
                    }
                }
                let Some(node) = pick.or_else(|| ranked.iter().copied().find(|n| state[*n] < 2)) else {
                    let down: Vec<&str> = peers.names.iter().filter(|p| cluster.is_down(p)).map(String::as_str).collect();
                    return Err(ApiError::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        format!("cannot store {copies} copies of every series: unreachable peers {}", down.join(", ")),
                    ));
                };
                state[node] = 2;
                batches.entry(node).or_default().push(i);
            }
        }
        if batches.is_empty() {
            break;
        }
        let (series, peers) = (&series, &peers);
        let sends = batches.into_iter().map(|(node, idx)| async move {
            let part: Vec<SeriesWrite> = idx.iter().map(|i| series[*i].clone()).collect();
            let result = match node == me {
                true => state.storage.write(db, rp, part).await.map_err(|e| Fault::Refused(e.into())),
                false => forward(cluster, &peers.names[node], (db, rp), &part, fields).await,
            };
            (node, idx, result)
        });
        for (node, idx, result) in join_all(sends).await {
            match result {
                Ok(o) => {
                    for i in idx {
                        wants[i].2 -= 1;
                    }
                    total.merge(o);
                    if node != me {
                        cluster.mark_up(&peers.names[node]);
                    }
                }
                Err(Fault::Unreachable(e)) => {
                    tracing::warn!(peer = %peers.names[node], error = %e, "peer unreachable: its copies go to the next node");
                    cluster.mark_down(&peers.names[node]);
                }
                Err(Fault::Refused(e)) => return Err(e),
            }
        }
    }
    // Every series was stored `copies` times: count it once; a sample refused by any copy is
    // refused.
    let once = |n: u64| n / copies as u64;
    let rejected = if total.rejected > 0 { once(total.rejected).max(1) } else { 0 };
    Ok(WriteOutcome { accepted: once(total.accepted), duplicates: once(total.duplicates), new_series: once(total.new_series), rejected, rejections: total.rejections })
}

/// Merges every node's samples for one remote read query: labels → time → value.
pub type Merged = BTreeMap<Vec<(String, String)>, BTreeMap<i64, f64>>;

pub fn merge(into: &mut Merged, timeseries: Vec<pb::TimeSeries>) {
    for ts in timeseries {
        let key = ts.labels.into_iter().map(|l| (l.name, l.value)).collect();
        let samples = into.entry(key).or_default();
        for s in ts.samples {
            samples.entry(s.timestamp).or_insert(s.value);
        }
    }
}

/// POSTs `body` to `path` on every other node at once; answers each node's result.
pub(super) async fn post_to_others<'a>(cluster: &Cluster, peers: &'a crate::cluster::Peers, path: &str, content_type: &str, body: Vec<u8>) -> Vec<(&'a String, Result<Vec<u8>, Fault>)> {
    let others = peers.names.iter().filter(|p| **p != cluster.self_name);
    join_all(others.map(|p| {
        let body = body.clone();
        async move { (p, internal_post(cluster, p, path, content_type, body).await) }
    }))
    .await
}

/// Sends one remote read query to `path` (`/internal/v1/read` or `/internal/v1/series`) on
/// every other node; answers their responses. A node that does not answer is marked down;
/// when as many nodes as there are copies are missing, the 503 names them.
async fn ask_others(cluster: &Cluster, path: &str, query: pb::Query) -> Result<Vec<pb::ReadResponse>, ApiError> {
    let peers = cluster.peers();
    let request = pb::ReadRequest { queries: vec![query], accepted_response_types: vec![] };
    let body = snap::raw::Encoder::new().compress_vec(&request.encode_to_vec()).map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let mut missing = Vec::new();
    let mut responses = Vec::new();
    for (peer, answer) in post_to_others(cluster, &peers, path, PROTOBUF, body).await {
        let bytes = match answer {
            Ok(b) => b,
            Err(Fault::Refused(e)) => return Err(e),
            Err(Fault::Unreachable(e)) => {
                tracing::warn!(%peer, error = %e, %path, "peer unreachable");
                cluster.mark_down(peer);
                missing.push(peer.as_str());
                continue;
            }
        };
        let raw = snap::raw::Decoder::new().decompress_vec(&bytes).map_err(|e| ApiError::new(StatusCode::BAD_GATEWAY, format!("peer {peer}: {e}")))?;
        responses.push(pb::ReadResponse::decode(raw.as_slice()).map_err(|e| ApiError::new(StatusCode::BAD_GATEWAY, format!("peer {peer}: {e}")))?);
    }
    if missing.len() >= cluster.replication_factor {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("peers unreachable: {} (replication factor {}: the answer would be incomplete)", missing.join(", "), cluster.replication_factor),
        ));
    }
    Ok(responses)
}

/// The other nodes' samples for `query` merged into `into`; 503 when as many nodes as there
/// are copies (or more) did not answer.
pub async fn read_peers(cluster: &Cluster, db: &str, rp: Option<&str>, query: &pb::Query, into: &mut Merged) -> Result<(), ApiError> {
    let path = format!("/internal/v1/read?{}", query_string(db, rp));
    for response in ask_others(cluster, &path, query.clone()).await? {
        for result in response.results {
            merge(into, result.timeseries);
        }
    }
    Ok(())
}

/// How a series listing names its policies on the wire: `rp=x`, `policies=all`, or nothing
/// for the database's default.
fn policies_query(which: Policies<'_>) -> Vec<(&'static str, String)> {
    match which {
        Policies::All => vec![("policies", "all".to_string())],
        Policies::One(Some(rp)) => vec![("rp", rp.to_string())],
        Policies::One(None) => vec![],
    }
}

/// The label sets of the series matching `matcher`, on this node and, in a cluster, on every
/// other one (`/internal/v1/series`): sorted and unique. Fails, naming them, when as many
/// nodes as there are copies do not answer.
pub async fn series_labels(state: &AppState, db: &str, which: Policies<'_>, matcher: Matcher) -> Result<Vec<Labels>, String> {
    let wire = matcher.to_wire();
    let local = state.storage.select(db, which, vec![matcher]).await.map_err(|e| e.to_string())?;
    let mut all: std::collections::BTreeSet<Labels> = local.into_iter().map(|s| s.labels).collect();
    let Some(cluster) = &state.cluster else { return Ok(all.into_iter().collect()) };
    let query = pb::Query { matchers: vec![pb::LabelMatcher { r#type: wire.0, name: wire.1, value: wire.2 }], ..Default::default() };
    let mut params = vec![("db", db.to_string())];
    params.extend(policies_query(which));
    let path = format!("/internal/v1/series?{}", serde_urlencoded::to_string(&params).unwrap_or_default());
    for ts in ask_others(cluster, &path, query).await.map_err(|e| e.message)?.into_iter().flat_map(|r| r.results).flat_map(|q| q.timeseries) {
        let mut pairs: Vec<(String, String)> = ts.labels.into_iter().map(|l| (l.name, l.value)).collect();
        pairs.sort();
        all.insert(Labels::from_sorted(pairs.iter().map(|(n, v)| (n.as_str(), v.as_str()))));
    }
    Ok(all.into_iter().collect())
}
