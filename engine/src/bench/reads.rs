//! The bench's requests after the load: remote reads timed and checked against what was
//! written (`check`), and the server's own metrics (how far sealing got).

use super::check;
use super::workload::{Workload, READ_METRIC};
use super::Error;
use prost::Message;
use proto::prometheus as pb;
use std::time::{Duration, Instant};

/// Gemini's metric of the samples sealing has sealed.
pub(super) const SEALED: &str = "gemini_storage_sealed_samples_total";

/// Posts a remote read request and takes the whole answer: how long that took, and the answer
/// of a 200.
async fn timed_read(client: &awc::Client, url: &str, body: &[u8]) -> Result<(Duration, bytes::Bytes), Error> {
    const WHAT: &str = "remote read failed";
    let t = Instant::now();
    let mut resp = client
        .post(url)
        .insert_header(("Content-Type", "application/x-protobuf"))
        .insert_header(("Content-Encoding", "snappy"))
        .send_body(body.to_vec())
        .await
        .map_err(|source| Error::Send { what: WHAT, source })?;
    let answer = resp.body().limit(1 << 31).await.map_err(|source| Error::Body { what: WHAT, source })?;
    let took = t.elapsed();
    if resp.status().as_u16() != 200 {
        return Err(Error::ReadStatus { status: resp.status(), body: String::from_utf8_lossy(&answer[..answer.len().min(500)]).into_owned() });
    }
    Ok((took, answer))
}

/// One remote read of all time with one selector, `matcher` (its type as on the wire, label
/// name, value), asking for one response type, best of 3: its time and what `check` made of
/// the answer. Each answer is checked after its timing.
async fn best_of_3<T>(client: &awc::Client, url: &str, (kind, name, value): (i32, &str, &str), response: pb::read_request::ResponseType, check: impl Fn(&[u8]) -> Result<T, Error>) -> Result<(Duration, T), Error> {
    let query = pb::ReadRequest {
        queries: vec![pb::Query { start_timestamp_ms: 0, end_timestamp_ms: i64::MAX, matchers: vec![pb::LabelMatcher { r#type: kind, name: name.into(), value: value.into() }], hints: None }],
        accepted_response_types: vec![response as i32],
    };
    let body = snap::raw::Encoder::new().compress_vec(&query.encode_to_vec())?;
    let mut best = None;
    for _ in 0..3 {
        let (took, answer) = timed_read(client, url, &body).await?;
        let checked = check(&answer[..])?;
        let fastest = best.as_ref().map_or(took, |(b, _): &(Duration, T)| took.min(*b));
        best = Some((fastest, checked));
    }
    Ok(best.expect("three reads"))
}

/// A remote read of READ_METRIC of every target (all scrapes) as SAMPLES, best of 3: its time,
/// the series and samples of the answer, checked against what the bench wrote
/// (`check::samples_answer`).
pub(super) async fn read_metric(client: &awc::Client, url: &str, workload: &Workload) -> Result<(Duration, usize, usize), Error> {
    let matcher = (0, "__name__", READ_METRIC);
    let (took, (series, samples)) = best_of_3(client, url, matcher, pb::read_request::ResponseType::Samples, |answer| check::samples_answer(answer, workload, READ_METRIC).map_err(Error::SamplesCheck)).await?;
    Ok((took, series, samples))
}

/// A streamed remote read of every series over all time, best of 3: its time, the series and
/// frames of the answer, checked against what the bench wrote (`check::streamed_answer`).
pub(super) async fn streamed_read_all(client: &awc::Client, url: &str, workload: &Workload) -> Result<(Duration, usize, usize), Error> {
    let matcher = (2, "__name__", ".+");
    let (took, (series, _, frames)) = best_of_3(client, url, matcher, pb::read_request::ResponseType::StreamedXorChunks, |answer| check::streamed_answer(answer, workload).map_err(Error::StreamedCheck)).await?;
    Ok((took, series, frames))
}

/// One value of a server's `/metrics` (0 when it is not there).
pub(super) async fn metric(client: &awc::Client, base: &str, name: &str) -> Result<f64, Error> {
    const WHAT: &str = "/metrics";
    let mut metrics = client.get(format!("{base}/metrics")).send().await.map_err(|source| Error::Send { what: WHAT, source })?;
    let text = String::from_utf8_lossy(&metrics.body().limit(1 << 24).await.map_err(|source| Error::Body { what: WHAT, source })?).into_owned();
    Ok(text.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse::<f64>().ok()).unwrap_or(0.0))
}

/// Waits until sealing has sealed something and its count has not moved for 3 s (2 min at most).
pub(super) async fn wait_for_sealing(client: &awc::Client, base: &str) -> Result<(), Error> {
    let (started, mut last, mut since) = (Instant::now(), -1.0, Instant::now());
    while started.elapsed() < Duration::from_secs(120) {
        let now = metric(client, base, SEALED).await?;
        if now != last {
            (last, since) = (now, Instant::now());
        } else if now > 0.0 && since.elapsed() >= Duration::from_secs(3) {
            return Ok(());
        }
        actix_web::rt::time::sleep(Duration::from_millis(250)).await;
    }
    Err(Error::SealingUnsettled { sealed: last })
}
