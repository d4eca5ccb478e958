//! `gemini import remote-read`: each time slice read from the source with one remote read per
//! selector, asking for STREAMED_XOR_CHUNKS and taking a SAMPLES answer when that is what the
//! source sends; samples outside the slice (a streamed chunk may reach past it) are left to
//! the slice they belong to. Each series goes to the `Batcher` as it arrives and each full
//! request to Gemini at once, so memory holds about one frame and one request per slice in
//! flight. A slice counts as done once Gemini acknowledged all of it; then it goes to the
//! state file.

use super::batch::{Batcher, Target};
use super::progress::Progress;
use super::state::State;
use super::{slice_name, slices, Error, RemoteReadArgs};
use crate::index::matcher::Matcher;
use crate::labels::Labels;
use crate::remote::frames::Frames;
use crate::remote::read::{decode_response, encode_request};
use futures_util::StreamExt;
use proto::prometheus::read_request::ResponseType;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::time::Duration;

/// A source's answer to one read, series by series.
enum Answer {
    Streamed(Frames<awc::ClientResponse>),
    Whole(VecDeque<(Labels, Vec<(i64, f64)>)>),
}

impl Answer {
    async fn next(&mut self) -> Result<Option<(Labels, Vec<(i64, f64)>)>, String> {
        match self {
            Answer::Whole(series) => Ok(series.pop_front()),
            Answer::Streamed(frames) => {
                let Some((labels, chunks)) = frames.next_series().await.map_err(|e| format!("streamed answer: {e}"))? else {
                    return Ok(None);
                };
                let mut samples = Vec::new();
                for c in &chunks {
                    crate::encoding::chunk::decode_each(&c.data, |t, v| samples.push((t, v))).ok_or_else(|| format!("series {labels}: a chunk that does not decode"))?;
                }
                Ok(Some((labels, samples)))
            }
        }
    }
}

/// One remote read of `matchers` over `[from, to]`.
async fn read(client: &awc::Client, url: &str, matchers: &[Matcher], (from, to): (i64, i64)) -> Result<Answer, String> {
    let accepted = vec![ResponseType::StreamedXorChunks as i32, ResponseType::Samples as i32];
    let body = encode_request(matchers, from, to, accepted).map_err(|e| e.to_string())?;
    let mut response = client
        .post(url)
        .insert_header(("Content-Type", "application/x-protobuf"))
        .insert_header(("Content-Encoding", "snappy"))
        .insert_header(("X-Prometheus-Remote-Read-Version", "0.1.0"))
        .send_body(body)
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    let status = response.status();
    if !status.is_success() {
        let text = response.body().limit(1 << 16).await.map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
        return Err(format!("{url}: {status} {}", text.trim()));
    }
    if response.headers().get("Content-Type").is_some_and(|t| t.as_bytes().starts_with(b"application/x-streamed-protobuf")) {
        tracing::debug!(from, to, "streamed chunks");
        return Ok(Answer::Streamed(Frames::new(response)));
    }
    tracing::debug!(from, to, "samples");
    let whole = response.body().limit(1 << 31).await.map_err(|e| format!("{url}: {e}"))?;
    Ok(Answer::Whole(decode_response(&whole).map_err(|e| format!("{url}: SAMPLES answer: {e}"))?.into()))
}

/// What one run shares among its slices.
struct Run<'a> {
    args: &'a RemoteReadArgs,
    selectors: &'a [Vec<Matcher>],
    client: awc::Client,
    target: Target,
    progress: RefCell<Progress>,
}

impl Run<'_> {
    /// Copies (or, in a dry run, counts) one slice: its series and samples.
    async fn slice(&self, slice: (i64, i64)) -> Result<(u64, u64), String> {
        let mut batcher = Batcher::new(self.args.target.batch);
        let (mut series, mut samples) = (0u64, 0u64);
        for matchers in self.selectors {
            let mut answer = read(&self.client, &self.args.from, matchers, slice).await?;
            while let Some((labels, mut got)) = answer.next().await? {
                got.retain(|(t, _)| slice.0 <= *t && *t <= slice.1);
                if got.is_empty() {
                    continue;
                }
                series += 1;
                samples += got.len() as u64;
                if self.args.dry_run {
                    continue;
                }
                for request in batcher.push(labels, got) {
                    self.send(&request).await?;
                }
            }
        }
        if let Some(request) = batcher.finish() {
            self.send(&request).await?;
        }
        Ok((series, samples))
    }

    async fn send(&self, request: &[crate::data::write::SeriesWrite]) -> Result<(), String> {
        self.target.send(request).await?;
        self.progress.borrow_mut().add(request.iter().map(|s| s.samples.len() as u64).sum());
        Ok(())
    }
}

/// Runs the import (see the module doc); fails naming every slice that did not arrive.
pub async fn copy(args: RemoteReadArgs, selectors: Vec<Vec<Matcher>>) -> Result<(), Error> {
    let state_error = |source| Error::State { path: args.state.as_ref().map(|p| p.display().to_string()).unwrap_or_default(), source };
    let mut state = args.state.as_deref().map(State::load).transpose().map_err(state_error)?;
    let all = slices(args.start, args.end, args.slice.as_millis().min(i64::MAX as u128) as i64);
    let todo: Vec<(i64, i64)> = all.iter().copied().filter(|s| !state.as_ref().is_some_and(|st| st.is_done(*s))).collect();
    // awc's timeout bounds a request until its whole answer is read: a slice's streamed answer
    // is read while its batches are written, so the source gets an hour, each write 5 minutes.
    let client = awc::Client::builder().timeout(Duration::from_secs(3600)).finish();
    let target = args.target.target();
    let run = Run { args: &args, selectors: &selectors, client, target, progress: RefCell::new(Progress::new(todo.len())) };
    let run = &run;
    let mut finished = futures_util::stream::iter(todo.iter().map(|&slice| async move { (slice, run.slice(slice).await) })).buffer_unordered(args.parallel);
    let mut failed = Vec::new();
    let mut listed = Vec::new();
    while let Some((slice, result)) = finished.next().await {
        match result {
            Ok((series, samples)) if args.dry_run => listed.push((slice, series, samples)),
            Ok((series, samples)) => {
                if let Some(state) = state.as_mut() {
                    state.record(slice).map_err(state_error)?;
                }
                run.progress.borrow_mut().slice_done(&slice_name(slice), series, samples);
            }
            Err(e) => {
                run.progress.borrow_mut().slice_failed();
                failed.push((slice, e));
            }
        }
    }
    drop(finished);
    if args.dry_run {
        listed.sort();
        for (slice, series, samples) in &listed {
            println!("slice {}: {series} series, {samples} samples", slice_name(*slice));
        }
        let (series, samples) = listed.iter().fold((0, 0), |(a, b), (_, s, n)| (a + s, b + n));
        println!("would import {} slices: {series} series, {samples} samples ({} skipped as done before)", listed.len(), all.len() - todo.len());
    } else {
        eprintln!("{}", run.progress.borrow().summary(all.len() - todo.len()));
    }
    if failed.is_empty() {
        return Ok(());
    }
    failed.sort();
    Err(Error::Slices { total: todo.len(), failed: failed.into_iter().map(|(s, e)| format!("{}: {e}", slice_name(s))).collect() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::read::{encode_response, timeseries};
    use proto::prometheus as pb;

    /// A source that answers SAMPLES whatever is asked (as Prometheus before 2.13 does).
    #[actix_web::test]
    async fn a_samples_answer_is_taken_when_the_source_does_not_stream() {
        let labels = Labels::from_sorted([("__name__", "up"), ("job", "a")]);
        let answer = encode_response(&pb::ReadResponse { results: vec![pb::QueryResult { timeseries: vec![timeseries(&labels, vec![(5, 1.5), (9, f64::NAN)])] }] }).unwrap();
        let server = actix_web::HttpServer::new(move || {
            let answer = answer.clone();
            let handler = move || {
                let answer = answer.clone();
                async move { actix_web::HttpResponse::Ok().content_type("application/x-protobuf").body(answer) }
            };
            actix_web::App::new().route("/read", actix_web::web::post().to(handler))
        })
        .workers(1)
        .disable_signals()
        .bind("127.0.0.1:0")
        .unwrap();
        let port = server.addrs()[0].port();
        let server = server.run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        let matchers = vec![Matcher::from_wire(0, "__name__", "up").unwrap()];
        let mut got = read(&awc::Client::default(), &format!("http://127.0.0.1:{port}/read"), &matchers, (0, 10)).await.unwrap();
        assert!(matches!(got, Answer::Whole(_)), "a SAMPLES answer");
        let (l, s) = got.next().await.unwrap().unwrap();
        assert_eq!(l, labels);
        assert_eq!(s[0], (5, 1.5));
        assert!(s.len() == 2 && s[1].0 == 9 && s[1].1.is_nan(), "{s:?}");
        assert!(got.next().await.unwrap().is_none());
        handle.stop(false).await;
    }
}
