//! How the coordinator talks to the other nodes: the `Transport` trait (what can be asked of a
//! peer), and `HttpTransport`, which asks over the internal endpoints (`/internal/v1/write`,
//! `/read`, `/series`, `/catalog`; snappy bodies, the cluster secret in a header, HTTPS when
//! the node serves TLS). A read's answer is a `PeerRead`: the peer's STREAMED_XOR_CHUNKS frames
//! parsed as they arrive off the connection (`data::frames`), a series at a time, so a peer's
//! answer costs about a frame and a series of memory whatever its size. A unit test replaces
//! the transport with nodes in the same process.

use super::catalog_sync::{Entries, Entry, Key};
use super::handoff::CopyKind;
use super::SECRET_HEADER;
use crate::data::frames::Frames;
use crate::data::{encode, FieldPairs, Selection};
use crate::index::matcher::Matcher;
use crate::labels::Labels;
use crate::storage::shard::{SeriesWrite, StoredChunk, WriteOutcome};
use crate::storage::Policies;
use futures_util::future::LocalBoxFuture;
use prost::Message;
use proto::prometheus::{self as pb, read_request::ResponseType};
use std::collections::VecDeque;
use std::time::Duration;

/// A peer did not give a usable answer (no connection, a timeout, an error status, a body
/// that does not decode): its copy goes elsewhere, its part of a read is missing.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerError(pub String);

/// One whole series as a peer answers a read: its labels and its chunks in time order (they
/// may hold samples just outside the selection's time range).
pub type PeerSeries = (Labels, Vec<StoredChunk>);

/// A peer's answer to a read as it arrives, series by series in label order. Each call waits
/// on the peer (the coordinator gives each its budget); an error ends the answer.
pub trait PeerRead {
    /// The next whole series; `None` after the last.
    fn next_series(&mut self) -> LocalBoxFuture<'_, Result<Option<PeerSeries>, PeerError>>;
}

pub trait Transport: Send + Sync {
    /// Stores `series` on `peer` only (its share of a write, or what it was away for),
    /// registering `fields` there; see `CopyKind`.
    #[allow(clippy::too_many_arguments)]
    fn write<'a>(&'a self, peer: &'a str, db: &'a str, rp: Option<&'a str>, series: &'a [SeriesWrite], fields: &'a FieldPairs, kind: CopyKind<'a>) -> LocalBoxFuture<'a, Result<WriteOutcome, PeerError>>;
    /// `peer`'s own series matching `selection`, as a stream; answers once the peer's answer
    /// has started (its status and headers came).
    fn read<'a>(&'a self, peer: &'a str, db: &'a str, which: Policies<'a>, selection: &'a Selection) -> LocalBoxFuture<'a, Result<Box<dyn PeerRead>, PeerError>>;
    /// The label sets of `peer`'s own series matching every matcher.
    fn series<'a>(&'a self, peer: &'a str, db: &'a str, which: Policies<'a>, matchers: &'a [Matcher]) -> LocalBoxFuture<'a, Result<Vec<Labels>, PeerError>>;
    /// Hands `peer` this node's catalog entries; answers the peer's (after it merged ours).
    fn catalog<'a>(&'a self, peer: &'a str, entries: &'a Entries) -> LocalBoxFuture<'a, Result<Entries, PeerError>>;
    /// Whether `peer` answers at all (its `/ping`): the probe of a peer marked down.
    fn ping<'a>(&'a self, peer: &'a str) -> LocalBoxFuture<'a, Result<(), PeerError>>;
}

thread_local! {
    /// One client (and connection pool) per worker thread: awc's client is not `Send`. A peer
    /// that does not connect within 2 s counts as down; the coordinator gives each request a
    /// shorter budget than the client's 10 s (see `cluster::WRITE_BUDGET`).
    static CLIENT: awc::Client = {
        let mut connector = awc::Connector::new().timeout(Duration::from_secs(2));
        if let Some(tls) = crate::tls::cluster_client() {
            connector = connector.rustls_0_23(tls);
        }
        awc::Client::builder().connector(connector).timeout(Duration::from_secs(10)).finish()
    };
}

const PROTOBUF: &str = "application/x-protobuf";
const JSON: &str = "application/json";

/// The internal endpoints over HTTP(S).
pub struct HttpTransport {
    pub secret: String,
}

/// `db=…[&rp=…]` or `db=…&policies=all`, as the internal endpoints read them.
fn query_string(db: &str, which: Policies<'_>) -> String {
    let mut params = vec![("db", db.to_string())];
    match which {
        Policies::All => params.push(("policies", "all".to_string())),
        Policies::One(Some(rp)) => params.push(("rp", rp.to_string())),
        Policies::One(None) => {}
    }
    serde_urlencoded::to_string(&params).unwrap_or_default()
}

fn snappy(bytes: &[u8]) -> Result<Vec<u8>, PeerError> {
    snap::raw::Encoder::new().compress_vec(bytes).map_err(|e| PeerError(e.to_string()))
}

fn unsnappy(bytes: &[u8]) -> Result<Vec<u8>, PeerError> {
    snap::raw::Decoder::new().decompress_vec(bytes).map_err(|e| PeerError(format!("bad answer: {e}")))
}

/// A remote read request of one query, as `/internal/v1/read` (answering `accepted`) and
/// `/series` take it.
fn read_request(matchers: &[Matcher], min_t: i64, max_t: i64, accepted: Vec<i32>) -> Result<Vec<u8>, PeerError> {
    let matchers = matchers
        .iter()
        .map(|m| {
            let (r#type, name, value) = m.to_wire();
            pb::LabelMatcher { r#type, name, value }
        })
        .collect();
    let query = pb::Query { start_timestamp_ms: min_t, end_timestamp_ms: max_t, matchers, hints: None };
    snappy(&pb::ReadRequest { queries: vec![query], accepted_response_types: accepted }.encode_to_vec())
}

/// The series of a snappy `ReadResponse` with their samples, labels sorted.
fn read_response(bytes: &[u8]) -> Result<Vec<(Labels, Vec<(i64, f64)>)>, PeerError> {
    let response = pb::ReadResponse::decode(unsnappy(bytes)?.as_slice()).map_err(|e| PeerError(format!("bad answer: {e}")))?;
    Ok(response
        .results
        .into_iter()
        .flat_map(|r| r.timeseries)
        .map(|ts| {
            let mut pairs: Vec<(String, String)> = ts.labels.into_iter().map(|l| (l.name, l.value)).collect();
            pairs.sort();
            let labels = Labels::from_sorted(pairs.iter().map(|(n, v)| (n.as_str(), v.as_str())));
            (labels, ts.samples.into_iter().map(|s| (s.timestamp, s.value)).collect())
        })
        .collect())
}

/// The entries as `/internal/v1/catalog` carries them: a JSON list of (key, entry).
pub fn encode_entries(entries: &Entries) -> Vec<u8> {
    let list: Vec<(&Key, &Entry)> = entries.iter().collect();
    serde_json::to_vec(&list).expect("entries serialize")
}

pub fn decode_entries(json: &[u8]) -> Result<Entries, String> {
    let list: Vec<(Key, Entry)> = serde_json::from_slice(json).map_err(|e| format!("catalog entries: {e}"))?;
    Ok(list.into_iter().collect())
}

impl HttpTransport {
    fn url(peer: &str, path_and_query: &str) -> String {
        let scheme = if crate::tls::cluster_client().is_some() { "https" } else { "http" };
        format!("{scheme}://{peer}{path_and_query}")
    }

    /// POSTs a snappy body to a peer; answers the response body of a 2xx.
    async fn post(&self, peer: &str, path_and_query: &str, content_type: &str, body: Vec<u8>) -> Result<Vec<u8>, PeerError> {
        let mut response = self.send(peer, path_and_query, content_type, body).await?;
        let bytes = response.body().limit(1 << 30).await.map_err(|e| PeerError(e.to_string()))?;
        Ok(bytes.to_vec())
    }

    /// POSTs a snappy body to a peer; answers the response of a 2xx, its body still to come.
    async fn send(&self, peer: &str, path_and_query: &str, content_type: &str, body: Vec<u8>) -> Result<awc::ClientResponse, PeerError> {
        let request = CLIENT.with(|c| {
            c.post(Self::url(peer, path_and_query))
                .insert_header((SECRET_HEADER, self.secret.as_str()))
                .insert_header(("Content-Type", content_type))
                .insert_header(("Content-Encoding", "snappy"))
                .send_body(body)
        });
        let mut response = request.await.map_err(|e| PeerError(e.to_string()))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let bytes = response.body().limit(1 << 20).await.map_err(|e| PeerError(format!("{status}: {e}")))?;
        let message = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_string))
            .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned());
        // A peer that refuses what this node accepted (a database it does not have yet, another
        // secret) is out of step with the cluster: its copy goes elsewhere, never a 4xx to the
        // client, which would drop the samples.
        Err(PeerError(format!("{status}: {message}")))
    }
}

/// A peer's streamed answer to `/internal/v1/read`, read frame by frame.
struct Streamed(Frames<awc::ClientResponse>);

impl PeerRead for Streamed {
    fn next_series(&mut self) -> LocalBoxFuture<'_, Result<Option<PeerSeries>, PeerError>> {
        Box::pin(async move { self.0.next_series().await.map_err(PeerError) })
    }
}

/// A peer's answer taken whole (a SAMPLES answer).
struct Whole(VecDeque<PeerSeries>);

impl PeerRead for Whole {
    fn next_series(&mut self) -> LocalBoxFuture<'_, Result<Option<PeerSeries>, PeerError>> {
        Box::pin(std::future::ready(Ok(self.0.pop_front())))
    }
}

impl Transport for HttpTransport {
    fn write<'a>(&'a self, peer: &'a str, db: &'a str, rp: Option<&'a str>, series: &'a [SeriesWrite], fields: &'a FieldPairs, kind: CopyKind<'a>) -> LocalBoxFuture<'a, Result<WriteOutcome, PeerError>> {
        Box::pin(async move {
            let timeseries = series
                .iter()
                .map(|s| pb::TimeSeries {
                    labels: s.labels.iter().map(|(n, v)| pb::Label { name: n.to_string(), value: v.to_string() }).collect(),
                    samples: s.samples.iter().map(|(t, v)| pb::Sample { timestamp: *t, value: *v }).collect(),
                    ..Default::default()
                })
                .collect();
            let body = snappy(&pb::WriteRequest { timeseries, ..Default::default() }.encode_to_vec())?;
            let mut path = format!("/internal/v1/write?{}", query_string(db, Policies::One(rp)));
            if !fields.is_empty() {
                let pairs = serde_json::to_string(fields).expect("pairs serialize");
                path.push('&');
                path.push_str(&serde_urlencoded::to_string([("fields", pairs)]).unwrap_or_default());
            }
            match kind {
                CopyKind::Owned => {}
                CopyKind::StandingFor(owner) => {
                    path.push('&');
                    path.push_str(&serde_urlencoded::to_string([("stands_for", owner)]).unwrap_or_default());
                }
                CopyKind::HandedOff => path.push_str("&handoff=true"),
            }
            let answer = self.post(peer, &path, PROTOBUF, body).await?;
            // `/internal/v1/write` answers the outcome as JSON.
            serde_json::from_slice(&answer).map_err(|e| PeerError(format!("bad answer: {e}")))
        })
    }

    fn read<'a>(&'a self, peer: &'a str, db: &'a str, which: Policies<'a>, selection: &'a Selection) -> LocalBoxFuture<'a, Result<Box<dyn PeerRead>, PeerError>> {
        Box::pin(async move {
            let body = read_request(&selection.matchers, selection.min_t, selection.max_t, vec![ResponseType::StreamedXorChunks as i32])?;
            let mut response = self.send(peer, &format!("/internal/v1/read?{}", query_string(db, which)), PROTOBUF, body).await?;
            if response.headers().get("Content-Type").is_some_and(|t| t.as_bytes().starts_with(b"application/x-streamed-protobuf")) {
                return Ok(Box::new(Streamed(Frames::new(response))) as Box<dyn PeerRead>);
            }
            // A node of an older version answers every sample at once.
            let answer = response.body().limit(1 << 30).await.map_err(|e| PeerError(e.to_string()))?;
            let series = read_response(&answer)?.into_iter().map(|(labels, samples)| (labels, encode(&samples))).collect();
            Ok(Box::new(Whole(series)) as Box<dyn PeerRead>)
        })
    }

    fn series<'a>(&'a self, peer: &'a str, db: &'a str, which: Policies<'a>, matchers: &'a [Matcher]) -> LocalBoxFuture<'a, Result<Vec<Labels>, PeerError>> {
        Box::pin(async move {
            let body = read_request(matchers, 0, 0, vec![])?;
            let answer = self.post(peer, &format!("/internal/v1/series?{}", query_string(db, which)), PROTOBUF, body).await?;
            Ok(read_response(&answer)?.into_iter().map(|(labels, _)| labels).collect())
        })
    }

    fn catalog<'a>(&'a self, peer: &'a str, entries: &'a Entries) -> LocalBoxFuture<'a, Result<Entries, PeerError>> {
        Box::pin(async move {
            let answer = self.post(peer, "/internal/v1/catalog", JSON, snappy(&encode_entries(entries))?).await?;
            decode_entries(&unsnappy(&answer)?).map_err(PeerError)
        })
    }

    fn ping<'a>(&'a self, peer: &'a str) -> LocalBoxFuture<'a, Result<(), PeerError>> {
        Box::pin(async move {
            let response = CLIENT.with(|c| c.get(Self::url(peer, "/ping")).send()).await.map_err(|e| PeerError(e.to_string()))?;
            match response.status().is_success() {
                true => Ok(()),
                false => Err(PeerError(format!("/ping answered {}", response.status()))),
            }
        })
    }
}
