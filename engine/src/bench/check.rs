//! The bench's read checks: an answer to a remote read must hold exactly what the bench wrote.
//! Every series it holds was written, and asked for, and comes once; every series asked for
//! is there; per series, the samples are the ones written (same timestamps, same value bits,
//! in time order, none missing, none extra). What was written is generated again series by
//! series from the workload, so a check holds one series' expectation at a time. A streamed
//! answer is also checked frame by frame (length, CRC) and chunk by chunk (XOR encoding, its
//! samples decoded, its time range theirs).

use super::workload::{Labels, Samples, Workload};
use prost::Message;
use proto::prometheus as pb;
use std::iter::Peekable;

/// How an answer differs from what the bench wrote; `series` is a series' name as
/// `series_name` writes it, `at` a chunk's place in a streamed answer.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum Error {
    #[error("series {series} was never written")]
    NeverWritten { series: String },
    #[error("series {series} was written but not asked for")]
    NotAsked { series: String },
    #[error("series {series} is in the answer twice")]
    Twice { series: String },
    #[error("a sample at {t} ms outside any series")]
    OutsideSeries { t: i64 },
    #[error("series {series}: a sample at {t} ms ({v:?}) after the last of the {written} written")]
    AfterLast { series: String, t: i64, v: f64, written: usize },
    #[error("series {series} at {t} ms: read {read:?}, wrote {wrote:?}")]
    WrongValue { series: String, t: i64, read: f64, wrote: f64 },
    #[error("series {series}: a sample at {t} ms ({v:?}) that was never written (the next written is at {next} ms)")]
    NeverWrittenSample { series: String, t: i64, v: f64, next: i64 },
    #[error("series {series}: the sample written at {t} ms ({v:?}) is missing (the next read is at {next} ms)")]
    MissingSample { series: String, t: i64, v: f64, next: i64 },
    #[error("series {series}: the sample written at {t} ms ({v:?}) is missing (the answer ends the series after {read} samples)")]
    MissingAtEnd { series: String, t: i64, v: f64, read: usize },
    #[error("{missing} of {written} series written are missing, {first} among them")]
    MissingSeries { missing: usize, written: usize, first: String },
    #[error("not snappy-compressed: {0}")]
    NotSnappy(snap::Error),
    #[error("not a prometheus.ReadResponse: {0}")]
    NotReadResponse(prost::DecodeError),
    #[error("{0} query results for one query")]
    Results(usize),
    #[error("frame {frame}: length: {source}")]
    FrameLength { frame: usize, source: prost::DecodeError },
    #[error("frame {frame} is cut short")]
    CutShort { frame: usize },
    #[error("frame {frame}: the CRC does not match")]
    Crc { frame: usize },
    #[error("frame {frame}: {source}")]
    Frame { frame: usize, source: prost::DecodeError },
    #[error("{at}: encoding {encoding}, not XOR")]
    NotXor { at: String, encoding: i32 },
    #[error("{at}: not a well-formed XOR chunk")]
    BadChunk { at: String },
    #[error("{at}: no samples")]
    EmptyChunk { at: String },
    #[error("{at}: its samples span {first}..{last} ms")]
    Span { at: String, first: i64, last: i64 },
}

/// `{__name__="x", job="y"}`, for messages.
pub fn series_name(labels: &Labels) -> String {
    let pairs: Vec<String> = labels.iter().map(|(n, v)| format!("{n}={v:?}")).collect();
    format!("{{{}}}", pairs.join(", "))
}

/// A series of the answer being checked: which one, what is still to come of it.
struct Current {
    index: usize,
    want: Peekable<Samples>,
    read: usize,
}

/// Checks an answer fed to it series by series, sample by sample, in answer order.
pub struct Check<'w> {
    workload: &'w Workload,
    /// The metric asked for; `None`: every series.
    metric: Option<&'w str>,
    /// A series may come as several pieces one right after the other (a streamed answer
    /// splits a series with many chunks over frames).
    pieces: bool,
    seen: Vec<bool>,
    current: Option<Current>,
    series: usize,
    samples: usize,
}

impl<'w> Check<'w> {
    pub fn new(workload: &'w Workload, metric: Option<&'w str>, pieces: bool) -> Check<'w> {
        Check { workload, metric, pieces, seen: vec![false; workload.series_count()], current: None, series: 0, samples: 0 }
    }

    fn asked(&self, i: usize) -> bool {
        self.metric.is_none_or(|m| self.workload.labels(i).iter().any(|(n, v)| n == "__name__" && v == m))
    }

    fn name(&self, i: usize) -> String {
        series_name(self.workload.labels(i))
    }

    /// The answer's next series (or the next piece of the one before), by its labels in any
    /// order.
    pub fn series(&mut self, mut labels: Vec<(String, String)>) -> Result<(), Error> {
        labels.sort();
        let found = self.workload.find(&labels);
        if let (true, Some(i), Some(current)) = (self.pieces, found, &self.current) {
            if current.index == i {
                return Ok(());
            }
        }
        self.end_series()?;
        let i = found.ok_or_else(|| Error::NeverWritten { series: series_name(&labels) })?;
        if !self.asked(i) {
            return Err(Error::NotAsked { series: self.name(i) });
        }
        if std::mem::replace(&mut self.seen[i], true) {
            return Err(Error::Twice { series: self.name(i) });
        }
        self.current = Some(Current { index: i, want: self.workload.samples(i).peekable(), read: 0 });
        Ok(())
    }

    /// The current series' next sample.
    pub fn sample(&mut self, t: i64, v: f64) -> Result<(), Error> {
        let Some(c) = self.current.as_mut() else { return Err(Error::OutsideSeries { t }) };
        let name = || series_name(self.workload.labels(c.index));
        match c.want.peek().copied() {
            None => Err(Error::AfterLast { series: name(), t, v, written: c.read }),
            Some((wt, wv)) if wt == t && wv.to_bits() == v.to_bits() => {
                c.want.next();
                c.read += 1;
                self.samples += 1;
                Ok(())
            }
            Some((wt, wv)) if wt == t => Err(Error::WrongValue { series: name(), t, read: v, wrote: wv }),
            Some((wt, _)) if t < wt => Err(Error::NeverWrittenSample { series: name(), t, v, next: wt }),
            Some((wt, wv)) => Err(Error::MissingSample { series: name(), t: wt, v: wv, next: t }),
        }
    }

    fn end_series(&mut self) -> Result<(), Error> {
        let Some(mut c) = self.current.take() else { return Ok(()) };
        if let Some(&(t, v)) = c.want.peek() {
            return Err(Error::MissingAtEnd { series: self.name(c.index), t, v, read: c.read });
        }
        self.series += 1;
        Ok(())
    }

    /// The end of the answer: returns how many series and samples it held.
    pub fn finish(mut self) -> Result<(usize, usize), Error> {
        self.end_series()?;
        let missing: Vec<usize> = (0..self.seen.len()).filter(|&i| !self.seen[i] && self.asked(i)).collect();
        if let Some(&first) = missing.first() {
            return Err(Error::MissingSeries { missing: missing.len(), written: missing.len() + self.series, first: self.name(first) });
        }
        Ok((self.series, self.samples))
    }
}

fn labels_of(labels: &[pb::Label]) -> Vec<(String, String)> {
    labels.iter().map(|l| (l.name.clone(), l.value.clone())).collect()
}

/// Checks a SAMPLES answer (snappy-compressed `ReadResponse`) to a one-query remote read of
/// `metric` over all time. Returns the number of series and samples.
pub fn samples_answer(body: &[u8], workload: &Workload, metric: &str) -> Result<(usize, usize), Error> {
    let raw = snap::raw::Decoder::new().decompress_vec(body).map_err(Error::NotSnappy)?;
    let response = pb::ReadResponse::decode(raw.as_slice()).map_err(Error::NotReadResponse)?;
    let [result] = response.results.as_slice() else {
        return Err(Error::Results(response.results.len()));
    };
    let mut check = Check::new(workload, Some(metric), false);
    for ts in &result.timeseries {
        check.series(labels_of(&ts.labels))?;
        for s in &ts.samples {
            check.sample(s.timestamp, s.value)?;
        }
    }
    check.finish()
}

/// Checks a STREAMED_XOR_CHUNKS answer to a one-query remote read of every series over all
/// time: frames of a varint length, the CRC32C (Castagnoli, big-endian) of the message and a
/// `ChunkedReadResponse`. Returns the number of series, samples and frames.
pub fn streamed_answer(body: &[u8], workload: &Workload) -> Result<(usize, usize, usize), Error> {
    let mut check = Check::new(workload, None, true);
    let (mut rest, mut frames) = (body, 0);
    while !rest.is_empty() {
        let len = prost::encoding::decode_varint(&mut rest).map_err(|source| Error::FrameLength { frame: frames, source })? as usize;
        let (Some(crc), Some(msg)) = (rest.get(..4), rest.get(4..4 + len)) else { return Err(Error::CutShort { frame: frames }) };
        if crc32c::crc32c(msg).to_be_bytes() != crc {
            return Err(Error::Crc { frame: frames });
        }
        let frame = pb::ChunkedReadResponse::decode(msg).map_err(|source| Error::Frame { frame: frames, source })?;
        for s in frame.chunked_series {
            check.series(labels_of(&s.labels))?;
            for c in &s.chunks {
                let where_ = || format!("frame {frames}, series {}, chunk {}..{} ms", series_name(&labels_of(&s.labels)), c.min_time_ms, c.max_time_ms);
                if c.r#type != pb::chunk::Encoding::Xor as i32 {
                    return Err(Error::NotXor { at: where_(), encoding: c.r#type });
                }
                let samples = crate::encoding::chunk::decode(&c.data).ok_or_else(|| Error::BadChunk { at: where_() })?;
                let (Some(first), Some(last)) = (samples.first(), samples.last()) else { return Err(Error::EmptyChunk { at: where_() }) };
                if (first.0, last.0) != (c.min_time_ms, c.max_time_ms) {
                    return Err(Error::Span { at: where_(), first: first.0, last: last.0 });
                }
                for (t, v) in samples {
                    check.sample(t, v)?;
                }
            }
        }
        frames += 1;
        rest = &rest[4 + len..];
    }
    let (series, samples) = check.finish()?;
    Ok((series, samples, frames))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::workload::READ_METRIC;
    use crate::encoding::chunk::XorChunk;

    type Answer = Vec<(Vec<(String, String)>, Vec<(i64, f64)>)>;

    fn of_read_metric(labels: &[(String, String)]) -> bool {
        labels.iter().any(|(n, v)| n == "__name__" && v == READ_METRIC)
    }

    /// Every series of the workload with its samples, labels in reverse order (a check must
    /// not rely on their order).
    fn written(w: &Workload) -> Answer {
        (0..w.series_count()).map(|i| (w.labels(i).iter().rev().cloned().collect(), w.samples(i).collect())).collect()
    }

    /// The tests' workload (1000 series, 4 scrapes), all it wrote, and the place there of its
    /// first series of `READ_METRIC`.
    fn setup() -> (Workload, Answer, usize) {
        let w = Workload::new(1000, 4, &[]);
        let all = written(&w);
        let first = all.iter().position(|(l, _)| of_read_metric(l)).unwrap();
        (w, all, first)
    }

    fn name_of(l: &[(String, String)]) -> String {
        let mut l = l.to_vec();
        l.sort();
        series_name(&l)
    }

    fn labels(l: &[(String, String)]) -> Vec<pb::Label> {
        l.iter().map(|(name, value)| pb::Label { name: name.clone(), value: value.clone() }).collect()
    }

    /// A SAMPLES answer as a server would send it: snappy over a protobuf `ReadResponse`.
    fn samples_body(series: &Answer) -> Vec<u8> {
        let timeseries = series
            .iter()
            .map(|(l, samples)| pb::TimeSeries { labels: labels(l), samples: samples.iter().map(|&(timestamp, value)| pb::Sample { timestamp, value }).collect(), ..Default::default() })
            .collect();
        let response = pb::ReadResponse { results: vec![pb::QueryResult { timeseries }] };
        snap::raw::Encoder::new().compress_vec(&response.encode_to_vec()).unwrap()
    }

    /// A streamed answer: chunks of at most 2 samples, `per_frame` series pieces a frame, and
    /// every series cut in two pieces (the second in the next frame, when there is one).
    fn streamed_body(series: &Answer, per_frame: usize) -> Vec<u8> {
        let mut pieces = Vec::new();
        for (l, samples) in series {
            let chunks: Vec<pb::Chunk> = samples
                .chunks(2)
                .map(|part| {
                    let c = XorChunk::of(part);
                    pb::Chunk { min_time_ms: c.min_time(), max_time_ms: c.max_time(), r#type: pb::chunk::Encoding::Xor as i32, data: c.into_bytes() }
                })
                .collect();
            let (a, b) = chunks.split_at(chunks.len() / 2);
            pieces.push(pb::ChunkedSeries { labels: labels(l), chunks: a.to_vec() });
            pieces.push(pb::ChunkedSeries { labels: labels(l), chunks: b.to_vec() });
        }
        let mut out = Vec::new();
        for frame in pieces.chunks(per_frame) {
            let msg = pb::ChunkedReadResponse { chunked_series: frame.to_vec(), query_index: 0 }.encode_to_vec();
            prost::encoding::encode_varint(msg.len() as u64, &mut out);
            out.extend_from_slice(&crc32c::crc32c(&msg).to_be_bytes());
            out.extend_from_slice(&msg);
        }
        out
    }

    /// Both answers of `series`: the SAMPLES one checked as a read of `READ_METRIC` (the series
    /// of other metrics left out), the streamed one as a read of everything.
    fn both(w: &Workload, series: &Answer) -> [Result<(usize, usize), Error>; 2] {
        let of_metric: Answer = series.iter().filter(|(l, _)| of_read_metric(l)).cloned().collect();
        [samples_answer(&samples_body(&of_metric), w, READ_METRIC), streamed_answer(&streamed_body(series, 3), w).map(|(s, n, _)| (s, n))]
    }

    fn assert_fails(results: [Result<(usize, usize), Error>; 2], what: &str) {
        for (r, kind) in results.into_iter().zip(["SAMPLES", "streamed"]) {
            let e = r.expect_err(&format!("the {kind} check lets pass {what}")).to_string();
            assert!(e.contains(what), "the {kind} check says {e:?}, not {what:?}");
        }
    }

    #[test]
    fn accepts_exactly_what_was_written() {
        // 1000 series span two targets of about 580, each with 64 CPU-mode series of
        // `READ_METRIC`.
        let (w, all, _) = setup();
        assert_eq!(both(&w, &all), [Ok((128, 512)), Ok((1000, 4000))]);
        // Series in another order pass too; a series cut into more pieces (one a frame) too.
        let mut reversed = all.clone();
        reversed.reverse();
        assert_eq!(both(&w, &reversed), [Ok((128, 512)), Ok((1000, 4000))]);
        assert_eq!(streamed_answer(&streamed_body(&all, 1), &w).map(|r| r.2), Ok(2000));
    }

    #[test]
    fn rejects_a_wrong_value_naming_series_and_time() {
        let (w, all, first) = setup();
        let i = first + 5;
        let mut wrong = all.clone();
        let (t, v) = wrong[i].1[2];
        wrong[i].1[2].1 = v + 0.01;
        assert_fails(both(&w, &wrong), &format!("series {} at {t} ms: read {:?}, wrote {v:?}", name_of(&wrong[i].0), v + 0.01));
        // A value of other bits that compares equal: -0 for 0.
        let zero = all.iter().position(|(_, s)| s[0].1 == 0.0).expect("a series that starts at 0");
        let mut negative = all.clone();
        negative[zero].1[0].1 = -0.0;
        assert!(streamed_answer(&streamed_body(&negative, 3), &w).unwrap_err().to_string().contains("read -0.0, wrote 0.0"));
    }

    #[test]
    fn rejects_a_missing_or_extra_sample() {
        let (w, all, first) = setup();
        let i = first + 7;
        let mut missing = all.clone();
        let (t, _) = missing[i].1.remove(1);
        assert_fails(both(&w, &missing), &format!("the sample written at {t} ms"));
        let mut last_missing = all.clone();
        let (t, _) = last_missing[i].1.pop().unwrap();
        assert_fails(both(&w, &last_missing), &format!("the sample written at {t} ms"));
        let mut extra = all.clone();
        let (t, v) = *extra[i].1.last().unwrap();
        extra[i].1.push((t + 15_000, v));
        assert_fails(both(&w, &extra), &format!("a sample at {} ms", t + 15_000));
        let mut between = all.clone();
        let t = between[i].1[0].0 + 1;
        between[i].1.insert(1, (t, 0.5));
        assert_fails(both(&w, &between), "that was never written");
    }

    #[test]
    fn rejects_an_extra_missing_or_repeated_series() {
        let (w, all, i) = setup();
        let mut stranger = all.clone();
        stranger[i].0.push(("zone".into(), "a".into()));
        assert_fails(both(&w, &stranger), "zone=\"a\"} was never written");
        let mut extra = all.clone();
        extra.insert(3, (vec![("__name__".into(), READ_METRIC.into()), ("cpu".into(), "99".into())], vec![(1, 1.0)]));
        assert_fails(both(&w, &extra), "cpu=\"99\"} was never written");
        let mut missing = all.clone();
        missing.remove(i);
        assert_fails(both(&w, &missing), "1 of");
        let mut twice = all.clone();
        twice.push(all[i].clone());
        assert_fails(both(&w, &twice), "twice");
        // A series of another metric in the answer to a read of READ_METRIC.
        let other = all.iter().find(|(l, _)| !of_read_metric(l)).unwrap().clone();
        let mut of_metric: Answer = all.iter().filter(|(l, _)| of_read_metric(l)).cloned().collect();
        of_metric.push(other);
        assert!(samples_answer(&samples_body(&of_metric), &w, READ_METRIC).unwrap_err().to_string().contains("written but not asked for"));
    }

    #[test]
    fn rejects_broken_frames_and_chunks() {
        let w = Workload::new(600, 3, &[]);
        let all = written(&w);
        let good = streamed_body(&all, 3);
        let mut flipped = good.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert!(streamed_answer(&flipped, &w).unwrap_err().to_string().contains("CRC"));
        assert!(streamed_answer(&good[..good.len() - 1], &w).unwrap_err().to_string().contains("cut short"));
        assert!(samples_answer(b"Service Unavailable", &w, READ_METRIC).is_err());
        // A chunk whose time range is not its samples'.
        let c = XorChunk::of(&all[0].1);
        let frame = |chunk: pb::Chunk| {
            let msg = pb::ChunkedReadResponse { chunked_series: vec![pb::ChunkedSeries { labels: labels(&all[0].0), chunks: vec![chunk] }], query_index: 0 }.encode_to_vec();
            let mut out = Vec::new();
            prost::encoding::encode_varint(msg.len() as u64, &mut out);
            out.extend_from_slice(&crc32c::crc32c(&msg).to_be_bytes());
            out.extend_from_slice(&msg);
            streamed_answer(&out, &w).unwrap_err().to_string()
        };
        let xor = pb::chunk::Encoding::Xor as i32;
        assert!(frame(pb::Chunk { min_time_ms: c.min_time(), max_time_ms: c.max_time() + 1, r#type: xor, data: c.bytes().to_vec() }).contains("its samples span"));
        assert!(frame(pb::Chunk { min_time_ms: c.min_time(), max_time_ms: c.max_time(), r#type: 2, data: c.bytes().to_vec() }).contains("not XOR"));
        assert!(frame(pb::Chunk { min_time_ms: c.min_time(), max_time_ms: c.max_time(), r#type: xor, data: c.bytes()[..5].to_vec() }).contains("well-formed"));
    }
}
