//! Remote read: every query of a `ReadRequest`, answered as SAMPLES (one snappy protobuf
//! `ReadResponse`) or STREAMED_XOR_CHUNKS (frames of uvarint length, big-endian CRC32-C and a
//! `ChunkedReadResponse`, none over 1 MiB: `remote::frames`). A streamed answer is produced piece
//! by piece from the data interface's stream behind a one-frame channel, so memory is bounded
//! by the frame size, not the result; `/internal/v1/read` answers a peer with the same code,
//! over this node's own data (`Source` names what a read reads).
//! What the messages say is `remote::read`; this file reads the data and answers over HTTP.

use super::body::{decompress, read_raw};
use super::{ApiError, AppState};
use crate::data::{Data, Selection, SeriesStream};
use crate::remote::frames::Framer;
use crate::remote::read::{decode_request, encode_response, labels_pb, negotiate, parse_queries, timeseries, ReadError};
use crate::data::schema::Policies;
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;
use futures_util::future::LocalBoxFuture;
use proto::prometheus::{self as pb, read_request::ResponseType};
use std::collections::BTreeSet;

#[derive(serde::Deserialize)]
pub struct ReadParams {
    db: Option<String>,
    rp: Option<String>,
}

/// A refused read request is a 400.
impl From<ReadError> for ApiError {
    fn from(e: ReadError) -> ApiError {
        ApiError::bad_request(e.to_string())
    }
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
    let request = decode_request(&body)?;
    let queries = parse_queries(&request)?;
    answer(Target { source: state.data.clone(), db, rp, all_policies: false }, &request, queries).await
}

/// The answer to `request` in the response type it negotiates.
pub(super) async fn answer<S: Source + ?Sized>(target: Target<S>, request: &pb::ReadRequest, queries: Vec<Selection>) -> Result<HttpResponse, ApiError> {
    match negotiate(request)? {
        ResponseType::Samples => samples(&target, queries).await,
        ResponseType::StreamedXorChunks => streamed(target, queries).await,
    }
}

/// Every query's samples in one `ReadResponse`.
async fn samples<S: Source + ?Sized>(target: &Target<S>, queries: Vec<Selection>) -> Result<HttpResponse, ApiError> {
    let mut results = Vec::with_capacity(queries.len());
    let mut skipped = BTreeSet::new();
    for q in queries {
        let mut stream = target.source.select(&target.db, target.which(), q).await?;
        skipped.extend(stream.skipped().iter().cloned());
        let mut series = Vec::new();
        while let Some((labels, samples)) = stream.next_series().await? {
            if !samples.is_empty() {
                series.push(timeseries(&labels, samples));
            }
        }
        results.push(pb::QueryResult { timeseries: series });
    }
    let mut answer = samples_answer(pb::ReadResponse { results })?;
    name_skipped(&mut answer, skipped.iter());
    Ok(answer)
}

/// Names the cluster nodes a read was answered without, in `SKIPPED_HEADER`.
fn name_skipped<'a>(answer: &mut HttpResponse, skipped: impl Iterator<Item = &'a String>) {
    let names: Vec<&str> = skipped.map(String::as_str).collect();
    if names.is_empty() {
        return;
    }
    if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&names.join(", ")) {
        answer.headers_mut().insert(actix_web::http::header::HeaderName::from_static(crate::cluster::SKIPPED_HEADER), value);
    }
}

pub(super) fn samples_answer(response: pb::ReadResponse) -> Result<HttpResponse, ApiError> {
    let compressed = encode_response(&response).map_err(|e| ApiError::new(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR, format!("snappy encode: {e}")))?;
    Ok(HttpResponse::Ok()
        .content_type("application/x-protobuf")
        .insert_header(("Content-Encoding", "snappy"))
        .body(compressed))
}

/// Where a read's series come from: the data interface, or (for a peer) this node's own data.
pub(super) trait Source: 'static {
    fn select<'a>(&'a self, db: &'a str, which: Policies<'a>, selection: Selection) -> LocalBoxFuture<'a, Result<SeriesStream, crate::data::Error>>;
}

impl Source for Data {
    fn select<'a>(&'a self, db: &'a str, which: Policies<'a>, selection: Selection) -> LocalBoxFuture<'a, Result<SeriesStream, crate::data::Error>> {
        Box::pin(Data::select(self, db, which, selection))
    }
}

/// What a read reads, owned by the task that streams it.
pub(super) struct Target<S: ?Sized> {
    pub source: std::sync::Arc<S>,
    pub db: String,
    pub rp: Option<String>,
    /// Every policy of the database (`rp` then does not count).
    pub all_policies: bool,
}

impl<S: Source + ?Sized> Target<S> {
    pub fn which(&self) -> Policies<'_> {
        match self.all_policies {
            true => Policies::All,
            false => Policies::One(self.rp.as_deref().filter(|r| !r.is_empty())),
        }
    }

    /// The series of one query, their chunks as XOR chunks.
    async fn select(&self, q: Selection) -> Result<SeriesStream, crate::data::Error> {
        let mut stream = self.source.select(&self.db, self.which(), q).await?;
        stream.xor_chunks();
        Ok(stream)
    }
}

/// The frames of every query. The first query's read starts before the answer does, so that
/// its failure is an HTTP error and the nodes it was made without are named in a header; a
/// failure after that ends the answer early (the client sees a body cut short, not a last
/// frame).
async fn streamed<S: Source + ?Sized>(target: Target<S>, queries: Vec<Selection>) -> Result<HttpResponse, ApiError> {
    let mut queries = queries.into_iter();
    let first = match queries.next() {
        Some(q) => Some(target.select(q).await?),
        None => None,
    };
    let skipped: Vec<String> = first.as_ref().map(|s| s.skipped().to_vec()).unwrap_or_default();
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(1);
    actix_web::rt::spawn(async move {
        if let Err(e) = stream_queries(&target, first, queries, &tx).await {
            tracing::warn!(error = %e, "streamed remote read stopped");
            let _ = tx.send(Err(std::io::Error::other(e))).await;
        }
    });
    let body = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
    let mut answer = HttpResponse::Ok()
        .content_type("application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse")
        .streaming(body);
    name_skipped(&mut answer, skipped.iter());
    Ok(answer)
}

/// Why a streamed answer stopped early.
#[derive(Debug, thiserror::Error)]
enum StreamError {
    #[error("client went away")]
    ClientGone,
    #[error(transparent)]
    Data(#[from] crate::data::Error),
    #[error(transparent)]
    Storage(#[from] crate::data::StoreError),
}

async fn stream_queries<S: Source + ?Sized>(target: &Target<S>, first: Option<SeriesStream>, rest: impl Iterator<Item = Selection>, tx: &tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>) -> Result<(), StreamError> {
    let send = |f: Bytes| async move { tx.send(Ok(f)).await.map_err(|_| StreamError::ClientGone) };
    let Some(first) = first else { return Ok(()) };
    let mut next = Some(first);
    let mut rest = rest.enumerate();
    let mut index = 0;
    while let Some(mut stream) = next.take() {
        let mut framer = Framer::new(index as i64);
        while let Some(piece) = stream.next().await? {
            let mut frames = Vec::new();
            framer.push(labels_pb(&piece.labels), piece.chunks, &mut frames)?;
            for f in frames {
                send(f).await?;
            }
        }
        if let Some(f) = framer.take() {
            send(f).await?;
        }
        if let Some((i, q)) = rest.next() {
            index = i + 1;
            next = Some(target.select(q).await?);
        }
    }
    Ok(())
}
