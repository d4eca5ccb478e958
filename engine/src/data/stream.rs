//! The answer to a read: series in label order (`Labels`' order, the encoded label set's
//! bytes), each as one or more pieces of XOR chunks covering the selection's time range
//! (chunks may hold samples just outside it; the samples helpers cut them off). Where the
//! pieces come from is a `PieceSource`: this node's shards, paged so that a streamed answer
//! needs memory for a frame, not for the result (`storage::pager`), or, for a cluster read,
//! this node's stream and the peers' merged as they go, a series at a time (`cluster::merge`).
//! Inside `tallied`, every stream counts the series and samples it hands out (the query log's
//! figures).

use super::Error;
use crate::labels::Labels;
use crate::encoding::piece;
use crate::encoding::piece::StoredChunk;
use futures_util::future::LocalBoxFuture;
use std::sync::Arc;

/// Part of a series' chunks, in time order; `last` on its final piece.
#[derive(Debug)]
pub struct SeriesPiece {
    pub labels: Labels,
    pub chunks: Vec<StoredChunk>,
    pub last: bool,
}

/// What the reads of one request took from storage: whole series, and the samples of their
/// chunks (which may hold some just outside the time range asked for).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ReadTally {
    pub series: u64,
    pub samples: u64,
}

tokio::task_local! {
    static TALLY: std::rc::Rc<std::cell::Cell<ReadTally>>;
}

/// Runs `work`, counting what every stream read inside it hands out.
pub async fn tallied<F: std::future::Future>(work: F) -> (F::Output, ReadTally) {
    let tally = std::rc::Rc::new(std::cell::Cell::new(ReadTally::default()));
    let out = TALLY.scope(tally.clone(), work).await;
    (out, tally.get())
}

/// One series' samples inside the selection's time range.
pub type SeriesSamples = (Labels, Vec<(i64, f64)>);

pub struct SeriesStream {
    min_t: i64,
    max_t: i64,
    source: Box<dyn PieceSource>,
    /// Cluster nodes the answer was made without (down or too slow); the others hold a copy
    /// of every series.
    skipped: Vec<String>,
    /// Whether `next` counts its pieces in the request's tally (`tallied`).
    counted: bool,
}

/// Where a stream's pieces come from: this node's shards (`storage::pager`), or a cluster
/// read merging the nodes' streams (`cluster::merge`).
pub trait PieceSource {
    /// The next piece; `None` after the last.
    fn next(&mut self) -> LocalBoxFuture<'_, Result<Option<SeriesPiece>, Error>>;
    /// Keeps only the series whose labels satisfy `keep` (see `SeriesStream::retain`).
    fn retain(&mut self, keep: Arc<dyn Fn(&Labels) -> bool>);
    /// Makes every chunk an XOR chunk (see `SeriesStream::xor_chunks`).
    fn xor_chunks(&mut self);
}

impl SeriesStream {
    /// A stream of `source`'s pieces over the time range [min_t, max_t] a selection asked
    /// for, made without the cluster nodes `skipped`.
    pub fn new(source: Box<dyn PieceSource>, (min_t, max_t): (i64, i64), skipped: Vec<String>) -> SeriesStream {
        SeriesStream { min_t, max_t, source, skipped, counted: true }
    }

    /// The stream, read by another one (a cluster's merge), which counts what it hands out.
    pub fn uncounted(mut self) -> SeriesStream {
        self.counted = false;
        self
    }

    /// The cluster nodes this answer was made without.
    pub fn skipped(&self) -> &[String] {
        &self.skipped
    }

    /// Keeps only the series whose labels satisfy `keep`; this node's before any chunk is
    /// read, other nodes' (in a cluster) as they arrive.
    pub fn retain(&mut self, keep: impl Fn(&Labels) -> bool + 'static) {
        self.source.retain(Arc::new(keep))
    }

    /// Makes every chunk of the pieces a Prometheus XOR chunk (a streamed answer ships them
    /// as they are): this node's shards re-encode sealed blocks as they read them. Otherwise
    /// blocks come as they are stored, for readers that want samples. Call before reading.
    pub fn xor_chunks(&mut self) {
        self.source.xor_chunks()
    }

    /// The next piece; `None` after the last.
    pub async fn next(&mut self) -> Result<Option<SeriesPiece>, Error> {
        let piece = self.source.next().await?;
        if let Some(p) = piece.as_ref().filter(|_| self.counted) {
            let _ = TALLY.try_with(|t| {
                let mut now = t.get();
                now.series += u64::from(p.last);
                now.samples += p.chunks.iter().map(|c| c.sample_count() as u64).sum::<u64>();
                t.set(now);
            });
        }
        Ok(piece)
    }

    /// The next whole series with all its chunks (which may hold samples just outside the time
    /// range); `None` after the last.
    pub async fn next_chunks(&mut self) -> Result<Option<(Labels, Vec<StoredChunk>)>, Error> {
        let mut chunks = Vec::new();
        loop {
            let Some(piece) = self.next().await? else { return Ok(None) };
            chunks.extend(piece.chunks);
            if piece.last {
                return Ok(Some((piece.labels, chunks)));
            }
        }
    }

    /// The next whole series with its samples inside the time range (possibly none).
    pub async fn next_series(&mut self) -> Result<Option<SeriesSamples>, Error> {
        let mut samples = Vec::new();
        loop {
            let Some(piece) = self.next().await? else { return Ok(None) };
            piece::each_in(&piece.chunks, self.min_t, self.max_t, |t, v| samples.push((t, v)))
                .map_err(|e| crate::data::StoreError::Corrupt(format!("chunk in series {} ({e})", piece.labels)))?;
            if piece.last {
                return Ok(Some((piece.labels, samples)));
            }
        }
    }
}

/// Samples in Prometheus XOR chunks of at most `SAMPLES_PER_CHUNK` each.
pub use crate::encoding::piece::xor_chunks as encode;

/// The label sets of the series of `stream` with a sample in [min_t, max_t], in the stream's
/// order; a series' pieces after its first sample are not decoded.
pub async fn series_with_samples(mut stream: SeriesStream, min_t: i64, max_t: i64) -> Result<Vec<Labels>, Error> {
    let mut out: Vec<Labels> = Vec::new();
    // Whether the series being read already has a sample: its other pieces are skipped.
    let mut found = false;
    while let Some(piece) = stream.next().await? {
        if !found {
            for c in &piece.chunks {
                if c.has_sample_in(min_t, max_t).map_err(crate::data::StoreError::from)? {
                    out.push(piece.labels.clone());
                    found = true;
                    break;
                }
            }
        }
        if piece.last {
            found = false;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::chunk::XorChunk;
    use crate::encoding::piece::Encoding;

    fn chunk(ts: &[i64]) -> StoredChunk {
        let mut c = XorChunk::new();
        for t in ts {
            c.append(*t, 1.0);
        }
        StoredChunk { min_t: c.min_time(), max_t: c.max_time(), data: c.into_bytes(), kind: Encoding::Xor }
    }

    #[test]
    fn a_chunk_has_a_sample_in_range_only_where_one_is() {
        let c = chunk(&[0, 100, 200]);
        assert!(c.has_sample_in(0, 200).unwrap());
        assert!(c.has_sample_in(100, 100).unwrap());
        assert!(c.has_sample_in(150, 250).unwrap());
        assert!(!c.has_sample_in(10, 90).unwrap(), "overlaps the chunk's span, but no sample inside");
        assert!(!c.has_sample_in(201, 300).unwrap());
        assert!(!c.has_sample_in(-10, -1).unwrap());
    }
}
