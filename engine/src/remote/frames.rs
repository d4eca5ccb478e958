//! Prometheus' streamed remote read format (STREAMED_XOR_CHUNKS) as series of stored chunks:
//! frames of a uvarint length, the big-endian CRC32-C of the message and a
//! `ChunkedReadResponse`, none over 1 MiB (the bytes of one frame: `proto::remote`); a series
//! too big for one frame goes on in the next frames under the same labels. `Framer` cuts
//! series into frames (remote read and `/internal/v1/read` answer with them); `Frames` reads
//! them back from a byte stream as it arrives, whole series at a time (a cluster read takes a
//! peer's answer so), holding about one frame and one series.

use crate::labels::Labels;
use crate::encoding::piece::{Encoding, StoredChunk};
use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use prost::Message;
use proto::prometheus as pb;
use proto::remote::{encode_frame, split_frame, FrameError};
pub use proto::remote::MAX_FRAME_BYTES;
use std::collections::VecDeque;

/// Why a streamed answer cannot be read back.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FramesError {
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error("the answer ends inside a frame")]
    Cut,
    #[error("label {0:?} twice in one series")]
    DuplicateLabel(String),
    #[error("series {labels}: a chunk of encoding {encoding}, not XOR")]
    NotXor { labels: Labels, encoding: i32 },
    /// The body itself failed (its error's text).
    #[error("{0}")]
    Body(String),
}

/// Collects chunked series into frames no larger than `MAX_FRAME_BYTES`.
pub struct Framer {
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

    pub fn new(query_index: i64) -> Framer {
        Framer { query_index, current: pb::ChunkedReadResponse { chunked_series: vec![], query_index }, size: 16 }
    }

    /// The frame collected so far, if it holds anything.
    pub fn take(&mut self) -> Option<Bytes> {
        if self.current.chunked_series.is_empty() {
            return None;
        }
        let f = Bytes::from(encode_frame(&self.current));
        *self = Framer::new(self.query_index);
        Some(f)
    }

    /// Adds one series; a series too big for one frame is split over several with the same
    /// labels. Sealed blocks are made XOR chunks first (readers that frame ask their stream
    /// for XOR chunks, see `SeriesStream::xor_chunks`, so that shards do it as they read).
    pub fn push(&mut self, labels: Vec<pb::Label>, chunks: Vec<StoredChunk>, out: &mut Vec<Bytes>) -> Result<(), crate::data::StoreError> {
        let labels_len: usize = labels.iter().map(|l| field_len(l.encoded_len())).sum();
        let mut series = pb::ChunkedSeries { labels: labels.clone(), chunks: vec![] };
        let mut series_len = labels_len;
        let mut xor = Vec::with_capacity(chunks.len());
        for c in chunks {
            match c.kind {
                Encoding::Xor => xor.push(c),
                Encoding::Block => xor.extend(c.into_xor()?),
            }
        }
        for c in xor {
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
        Ok(())
    }
}

/// The labels of a wire series as a label set (sorted by name; a name twice is refused).
fn labels_of(labels: &[pb::Label]) -> Result<Labels, FramesError> {
    let mut pairs: Vec<(&str, &str)> = labels.iter().map(|l| (l.name.as_str(), l.value.as_str())).collect();
    pairs.sort_unstable();
    if let Some(w) = pairs.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(FramesError::DuplicateLabel(w[0].0.to_string()));
    }
    Ok(Labels::from_sorted(pairs))
}

/// Frames read from a stream of byte pieces (an HTTP body), series by series.
pub struct Frames<S> {
    body: S,
    buffer: BytesMut,
    /// The rest of the last frame's series.
    pending: VecDeque<pb::ChunkedSeries>,
    /// The series being gathered: it may go on in the next frame.
    current: Option<(Labels, Vec<StoredChunk>)>,
    /// Whether the stream has ended (it must not be asked again).
    ended: bool,
}

impl<S, E> Frames<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    pub fn new(body: S) -> Frames<S> {
        Frames { body, buffer: BytesMut::new(), pending: VecDeque::new(), current: None, ended: false }
    }

    /// The next whole series with its chunks, in the order sent; `None` after the last.
    /// Consecutive chunked series with the same labels are one series cut across frames.
    pub async fn next_series(&mut self) -> Result<Option<(Labels, Vec<StoredChunk>)>, FramesError> {
        loop {
            let Some(s) = self.pending.pop_front() else {
                match self.next_message().await? {
                    Some(m) => self.pending = m.chunked_series.into(),
                    None => return Ok(self.current.take()),
                }
                continue;
            };
            let labels = labels_of(&s.labels)?;
            let mut chunks = Vec::with_capacity(s.chunks.len());
            for c in s.chunks {
                if c.r#type != pb::chunk::Encoding::Xor as i32 {
                    return Err(FramesError::NotXor { labels, encoding: c.r#type });
                }
                chunks.push(StoredChunk { min_t: c.min_time_ms, max_t: c.max_time_ms, data: c.data, kind: Encoding::Xor });
            }
            match &mut self.current {
                Some((l, so_far)) if *l == labels => so_far.extend(chunks),
                _ => {
                    if let Some(done) = self.current.replace((labels, chunks)) {
                        return Ok(Some(done));
                    }
                }
            }
        }
    }

    /// The next frame's message, its CRC checked; `None` at the end of the stream.
    async fn next_message(&mut self) -> Result<Option<pb::ChunkedReadResponse>, FramesError> {
        loop {
            if let Some(frame) = split_frame(&self.buffer)? {
                let (len, message) = (frame.len(), frame.decode()?);
                bytes::Buf::advance(&mut self.buffer, len);
                return Ok(Some(message));
            }
            if self.ended {
                return Ok(None);
            }
            match self.body.next().await {
                Some(Ok(bytes)) => self.buffer.extend_from_slice(&bytes),
                Some(Err(e)) => return Err(FramesError::Body(e.to_string())),
                None => {
                    self.ended = true;
                    if !self.buffer.is_empty() {
                        return Err(FramesError::Cut);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pb_labels(name: &str) -> Vec<pb::Label> {
        vec![pb::Label { name: "__name__".into(), value: name.into() }]
    }

    /// A body that panics when asked again after its end, as awc's does.
    struct Body(Option<futures_util::stream::Iter<std::vec::IntoIter<Result<Bytes, String>>>>);

    impl Stream for Body {
        type Item = Result<Bytes, String>;

        fn poll_next(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Option<Self::Item>> {
            let next = self.0.as_mut().expect("a body asked again after its end").poll_next_unpin(cx);
            if let std::task::Poll::Ready(None) = next {
                self.0 = None;
            }
            next
        }
    }

    /// Frames' bytes cut into pieces of `piece` bytes, as a body stream.
    fn body(frames: &[Bytes], piece: usize) -> Body {
        let all: Vec<u8> = frames.concat();
        let pieces: Vec<Result<Bytes, String>> = all.chunks(piece).map(|p| Ok(Bytes::copy_from_slice(p))).collect();
        Body(Some(futures_util::stream::iter(pieces)))
    }

    #[test]
    fn frames_stay_under_the_limit_and_split_big_series() {
        let labels = pb_labels("x");
        let chunks: Vec<StoredChunk> = (0..3000).map(|i| StoredChunk { min_t: i, max_t: i, data: vec![7u8; 1000], kind: Encoding::Xor }).collect();
        let mut framer = Framer::new(3);
        let mut out = Vec::new();
        framer.push(labels.clone(), chunks, &mut out).unwrap();
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

    #[actix_web::test]
    async fn series_cut_across_frames_and_pieces_come_back_whole() {
        let mut framer = Framer::new(0);
        let mut out = Vec::new();
        let chunk = |i: i64| StoredChunk { min_t: i, max_t: i, data: vec![i as u8; 900], kind: Encoding::Xor };
        framer.push(pb_labels("a"), (0..5).map(chunk).collect(), &mut out).unwrap();
        framer.push(pb_labels("b"), (0..2500).map(chunk).collect(), &mut out).unwrap();
        framer.push(pb_labels("c"), (0..1).map(chunk).collect(), &mut out).unwrap();
        out.extend(framer.take());
        assert!(out.len() >= 3, "b alone needs more than two frames: {}", out.len());
        for piece in [1, 7, 4096, 1 << 22] {
            let mut frames = Frames::new(body(&out, piece));
            let mut got = Vec::new();
            while let Some((labels, chunks)) = frames.next_series().await.unwrap() {
                assert!(chunks.iter().enumerate().all(|(i, c)| c.min_t == i as i64 && c.data == vec![i as u8; 900]), "{labels}");
                got.push((labels.get("__name__").to_string(), chunks.len()));
            }
            assert!(frames.next_series().await.unwrap().is_none(), "the end stays the end (the body is not asked again)");
            assert_eq!(got, vec![("a".into(), 5), ("b".into(), 2500), ("c".into(), 1)], "pieces of {piece} bytes");
        }
    }

    #[actix_web::test]
    async fn a_bad_crc_a_cut_frame_and_a_failing_body_are_errors() {
        let mut framer = Framer::new(0);
        let mut out = Vec::new();
        framer.push(pb_labels("a"), vec![StoredChunk { min_t: 1, max_t: 2, data: vec![1, 2, 3], kind: Encoding::Xor }], &mut out).unwrap();
        let good = framer.take().unwrap();
        let mut bad = good.to_vec();
        *bad.last_mut().unwrap() ^= 1;
        let e = Frames::new(body(&[Bytes::from(bad)], 3)).next_series().await.unwrap_err().to_string();
        assert!(e.contains("CRC32-C"), "{e}");
        let e = Frames::new(body(&[good.slice(..good.len() - 1)], 5)).next_series().await.unwrap_err().to_string();
        assert_eq!(e, "the answer ends inside a frame");
        let failing = futures_util::stream::iter(vec![Ok(good.clone()), Err("connection reset".to_string())]);
        let e = Frames::new(failing).next_series().await.unwrap_err().to_string();
        assert_eq!(e, "connection reset", "the last series is not whole before the body ends");
        let e = Frames::new(body(&[Bytes::from_static(&[0xff; 12])], 12)).next_series().await.unwrap_err().to_string();
        assert!(e.contains("no uvarint"), "{e}");
    }
}
