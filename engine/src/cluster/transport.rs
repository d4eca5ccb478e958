//! How the coordinator talks to the other nodes: the `Transport` trait (what can be asked of a
//! peer), and `HttpTransport`, which asks over the internal endpoints (`/internal/v1/write`,
//! `/read`, `/series`, `/labels`, `/select_tier`, `/catalog`; snappy bodies, the cluster secret in a
//! header, HTTPS when the node serves TLS). A read's answer is a `PeerRead`: the peer's
//! STREAMED_XOR_CHUNKS frames parsed as they arrive off the connection (`remote::frames`), a
//! series at a time, so a peer's answer costs about a frame and a series of memory whatever
//! its size. The bodies are the remote protocols' (`remote::write`, `remote::read`); a tier's
//! windows go in `tier_read`'s format. A unit test replaces the transport with nodes in the
//! same process.

use super::catalog_sync::{Entries, Entry, Key};
use super::handoff::CopyKind;
use super::tier_read;
use super::SECRET_HEADER;
use crate::data::{encode, FieldPairs, Selection, Tier, TierAnswer};
use crate::index::matcher::Matcher;
use crate::labels::Labels;
use crate::remote::frames::{Frames, FramesError};
use crate::remote::read::{decode_response, encode_request, AnswerError};
use crate::encoding::piece::StoredChunk;
use crate::data::write::{SeriesWrite, WriteOutcome};
use crate::data::schema::Policies;
use actix_web::http::StatusCode;
use futures_util::future::LocalBoxFuture;
use proto::prometheus::read_request::ResponseType;
use proto::remote::{snappy, unsnappy};
use std::collections::VecDeque;
use std::time::Duration;

/// A peer did not give a usable answer: its copy goes elsewhere, its part of a read is missing.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PeerError {
    /// No connection, or it broke (refused, reset, a body cut off): the client's words.
    #[error("{0}")]
    Connect(String),
    /// No answer within the request's budget.
    #[error("no answer within {} s", .0.as_secs_f32())]
    Timeout(Duration),
    /// The peer was marked down (by another request) while this one waited.
    #[error("marked down while this request waited")]
    MarkedDown,
    /// An error status, with the peer's message (its `{"error": …}`, or the body as text).
    #[error("{code}: {body}")]
    Status { code: StatusCode, body: String },
    /// `/ping` answered a status other than 2xx.
    #[error("/ping answered {0}")]
    Ping(StatusCode),
    /// An answer that does not decode, described.
    #[error("{0}")]
    Decode(String),
}

impl PeerError {
    /// An answer that is not what the request asks for.
    fn bad_answer(e: impl std::fmt::Display) -> PeerError {
        PeerError::Decode(format!("bad answer: {e}"))
    }
}

impl From<AnswerError> for PeerError {
    fn from(e: AnswerError) -> PeerError {
        PeerError::bad_answer(e)
    }
}

impl From<FramesError> for PeerError {
    fn from(e: FramesError) -> PeerError {
        match e {
            FramesError::Body(e) => PeerError::Connect(e),
            e => PeerError::Decode(e.to_string()),
        }
    }
}

/// A body could not be compressed (never for a body of a sane size).
impl From<snap::Error> for PeerError {
    fn from(e: snap::Error) -> PeerError {
        PeerError::Decode(e.to_string())
    }
}

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
    /// The label names (`label` `None`) or the values of `label` of `peer`'s own series
    /// matching every matcher, counted for `range` from its index (`storage::shard::labels`).
    #[allow(clippy::too_many_arguments)]
    fn labels<'a>(&'a self, peer: &'a str, db: &'a str, which: Policies<'a>, matchers: &'a [Matcher], range: Option<(i64, i64)>, label: Option<&'a str>) -> LocalBoxFuture<'a, Result<Vec<String>, PeerError>>;
    /// The windows of `tier` of `peer`'s own series matching `selection`.
    fn tier<'a>(&'a self, peer: &'a str, db: &'a str, which: Policies<'a>, selection: &'a Selection, tier: Tier) -> LocalBoxFuture<'a, Result<TierAnswer, PeerError>>;
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

/// The label names (`label` `None`) or the values of `label` in these label sets, unique.
pub fn listing_of(sets: &[Labels], label: Option<&str>) -> Vec<String> {
    let found: std::collections::BTreeSet<&str> = match label {
        None => sets.iter().flat_map(|l| l.iter().map(|(n, _)| n)).collect(),
        Some(name) => sets.iter().map(|l| l.get(name)).filter(|v| !v.is_empty()).collect(),
    };
    found.into_iter().map(str::to_string).collect()
}

/// The entries as `/internal/v1/catalog` carries them: a JSON list of (key, entry).
pub fn encode_entries(entries: &Entries) -> Vec<u8> {
    let list: Vec<(&Key, &Entry)> = entries.iter().collect();
    serde_json::to_vec(&list).expect("entries serialize")
}

/// Catalog entries that do not decode.
#[derive(Debug, thiserror::Error)]
#[error("catalog entries: {0}")]
pub struct EntriesError(#[from] serde_json::Error);

pub fn decode_entries(json: &[u8]) -> Result<Entries, EntriesError> {
    let list: Vec<(Key, Entry)> = serde_json::from_slice(json)?;
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
        let bytes = response.body().limit(1 << 30).await.map_err(|e| PeerError::Connect(e.to_string()))?;
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
        let mut response = request.await.map_err(|e| PeerError::Connect(e.to_string()))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let bytes = response.body().limit(1 << 20).await.map_err(|e| PeerError::Status { code: status, body: e.to_string() })?;
        let message = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_string))
            .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned());
        // A peer that refuses what this node accepted (a database it does not have yet, another
        // secret) is out of step with the cluster: its copy goes elsewhere, never a 4xx to the
        // client, which would drop the samples.
        Err(PeerError::Status { code: status, body: message })
    }
}

/// A peer's streamed answer to `/internal/v1/read`, read frame by frame.
struct Streamed(Frames<awc::ClientResponse>);

impl PeerRead for Streamed {
    fn next_series(&mut self) -> LocalBoxFuture<'_, Result<Option<PeerSeries>, PeerError>> {
        Box::pin(async move { Ok(self.0.next_series().await?) })
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
            let body = crate::remote::write::encode_v1(series)?;
            let mut path = format!("/internal/v1/write?{}", query_string(db, Policies::One(rp)));
            if !fields.is_empty() {
                let pairs = serde_json::to_string(fields).expect("pairs serialize");
                path.push('&');
                path.push_str(&serde_urlencoded::to_string([("fields", pairs)]).unwrap_or_default());
            }
            let stands_for = match kind {
                CopyKind::Owned => None,
                CopyKind::StandingFor(owner) => Some(owner),
                CopyKind::HandedOff => {
                    path.push_str("&handoff=true");
                    None
                }
                CopyKind::Imported(owner) => {
                    path.push_str("&import=true");
                    owner
                }
            };
            if let Some(owner) = stands_for {
                path.push('&');
                path.push_str(&serde_urlencoded::to_string([("stands_for", owner)]).unwrap_or_default());
            }
            let answer = self.post(peer, &path, PROTOBUF, body).await?;
            // `/internal/v1/write` answers the outcome as JSON.
            serde_json::from_slice(&answer).map_err(PeerError::bad_answer)
        })
    }

    fn read<'a>(&'a self, peer: &'a str, db: &'a str, which: Policies<'a>, selection: &'a Selection) -> LocalBoxFuture<'a, Result<Box<dyn PeerRead>, PeerError>> {
        Box::pin(async move {
            let body = encode_request(&selection.matchers, selection.min_t, selection.max_t, vec![ResponseType::StreamedXorChunks as i32])?;
            let mut response = self.send(peer, &format!("/internal/v1/read?{}", query_string(db, which)), PROTOBUF, body).await?;
            if response.headers().get("Content-Type").is_some_and(|t| t.as_bytes().starts_with(b"application/x-streamed-protobuf")) {
                return Ok(Box::new(Streamed(Frames::new(response))) as Box<dyn PeerRead>);
            }
            // A node of an older version answers every sample at once.
            let answer = response.body().limit(1 << 30).await.map_err(|e| PeerError::Connect(e.to_string()))?;
            let series = decode_response(&answer)?.into_iter().map(|(labels, samples)| (labels, encode(&samples))).collect();
            Ok(Box::new(Whole(series)) as Box<dyn PeerRead>)
        })
    }

    fn series<'a>(&'a self, peer: &'a str, db: &'a str, which: Policies<'a>, matchers: &'a [Matcher]) -> LocalBoxFuture<'a, Result<Vec<Labels>, PeerError>> {
        Box::pin(async move {
            let body = encode_request(matchers, 0, 0, vec![])?;
            let answer = self.post(peer, &format!("/internal/v1/series?{}", query_string(db, which)), PROTOBUF, body).await?;
            Ok(decode_response(&answer)?.into_iter().map(|(labels, _)| labels).collect())
        })
    }

    /// A node of an older version answers 404 (it has no such endpoint): its label sets
    /// then, whatever the range (more than asked for, never less).
    fn labels<'a>(&'a self, peer: &'a str, db: &'a str, which: Policies<'a>, matchers: &'a [Matcher], range: Option<(i64, i64)>, label: Option<&'a str>) -> LocalBoxFuture<'a, Result<Vec<String>, PeerError>> {
        Box::pin(async move {
            let (min_t, max_t) = range.unwrap_or((i64::MIN, i64::MAX));
            let body = encode_request(matchers, min_t, max_t, vec![])?;
            let mut path = format!("/internal/v1/labels?{}", query_string(db, which));
            if let Some(label) = label {
                path = format!("{path}&{}", serde_urlencoded::to_string([("label", label)]).unwrap_or_default());
            }
            let answer = match self.post(peer, &path, PROTOBUF, body).await {
                Err(PeerError::Status { code: StatusCode::NOT_FOUND, .. }) => return Ok(listing_of(&self.series(peer, db, which, matchers).await?, label)),
                answer => answer?,
            };
            serde_json::from_slice(&unsnappy(&answer).map_err(PeerError::bad_answer)?).map_err(PeerError::bad_answer)
        })
    }

    /// A peer that answers 404 (a node of an older version, which has no such endpoint, or
    /// one that does not know the database yet) holds no tier to read: the read goes raw.
    fn tier<'a>(&'a self, peer: &'a str, db: &'a str, which: Policies<'a>, selection: &'a Selection, tier: Tier) -> LocalBoxFuture<'a, Result<TierAnswer, PeerError>> {
        Box::pin(async move {
            let body = encode_request(&selection.matchers, selection.min_t, selection.max_t, vec![])?;
            let path = format!("/internal/v1/select_tier?{}&tier={}", query_string(db, which), tier.name());
            let answer = match self.post(peer, &path, PROTOBUF, body).await {
                Err(PeerError::Status { code: StatusCode::NOT_FOUND, .. }) => return Ok(TierAnswer::default()),
                answer => answer?,
            };
            let bytes = unsnappy(&answer).map_err(PeerError::bad_answer)?;
            tier_read::decode(&bytes).map_err(PeerError::bad_answer)
        })
    }

    fn catalog<'a>(&'a self, peer: &'a str, entries: &'a Entries) -> LocalBoxFuture<'a, Result<Entries, PeerError>> {
        Box::pin(async move {
            let answer = self.post(peer, "/internal/v1/catalog", JSON, snappy(&encode_entries(entries))?).await?;
            let json = unsnappy(&answer).map_err(PeerError::bad_answer)?;
            decode_entries(&json).map_err(|e| PeerError::Decode(e.to_string()))
        })
    }

    fn ping<'a>(&'a self, peer: &'a str) -> LocalBoxFuture<'a, Result<(), PeerError>> {
        Box::pin(async move {
            let response = CLIENT.with(|c| c.get(Self::url(peer, "/ping")).send()).await.map_err(|e| PeerError::Connect(e.to_string()))?;
            match response.status().is_success() {
                true => Ok(()),
                false => Err(PeerError::Ping(response.status())),
            }
        })
    }
}
