//! A cluster read as it streams in: a k-way merge of this node's `SeriesStream` and each
//! peer's answer (`PeerRead`), series by series in label order, holding one series read ahead
//! per node (and a frame per peer in the transport), never the result.
//!
//! Order: every source is in `Labels`' order, the encoded label set's bytes, which is what
//! storage's select sorts by on every node (it differs from comparing the (name, value) list
//! when a name is a prefix of another, but no source or caller here does that); the merge
//! compares the same way, and a source that goes backwards fails the read rather than answer
//! a series twice.
//!
//! For each label set, the series is taken from every source that has it (also several times
//! from one source, as a read of every policy gives). Held by one source alone, or by several
//! with the very same chunks (copies written alike are), with its chunks in time order, its
//! chunks pass through as they are (they may hold samples just outside the time range, as on
//! a single node). Otherwise the chunks are decoded, merged with one sample per timestamp (the
//! first source wins: this node, then the peers in name order), cut to the selection's time
//! range and encoded again. A series without a sample in the range is left out.
//!
//! Each wait on a peer has the read budget and is recorded as a request (`Cluster::ask`); a
//! peer that fails or stalls once its answer has started fails the whole read with an error
//! naming it (its remaining series could only come from other copies, which have gone past
//! them), and is marked down so the next reads pass it over.

use super::transport::{PeerRead, PeerSeries};
use super::{Cluster, READ_BUDGET};
use crate::data::{encode, Error, PieceSource, Selection, SeriesPiece, SeriesStream};
use crate::labels::Labels;
use crate::encoding::piece::{self, StoredChunk};
use futures_util::future::{join_all, LocalBoxFuture};
use std::sync::Arc;

/// Where a source's series come from.
enum Origin {
    Local(SeriesStream),
    Peer { name: String, read: Box<dyn PeerRead> },
}

/// One source and the series read ahead from it.
struct Source {
    from: Origin,
    head: Option<PeerSeries>,
    ended: bool,
}

impl Source {
    /// Reads the source's next series into `head`.
    async fn advance(&mut self, cluster: &Cluster) -> Result<(), Error> {
        self.head = match &mut self.from {
            Origin::Local(stream) => stream.next_chunks().await?,
            Origin::Peer { name, read } => match cluster.ask(name, READ_BUDGET, read.next_series()).await {
                Ok(next) => next,
                Err(reason) => {
                    tracing::warn!(peer = %name, error = %reason, "peer failed in the middle of a read");
                    cluster.mark_down(name);
                    return Err(Error::PeerFailed { peer: name.clone(), reason: reason.to_string() });
                }
            },
        };
        self.ended = self.head.is_none();
        Ok(())
    }

    fn name(&self) -> &str {
        match &self.from {
            Origin::Local(_) => "this node",
            Origin::Peer { name, .. } => name,
        }
    }
}

pub struct Merge {
    cluster: Arc<Cluster>,
    min_t: i64,
    max_t: i64,
    sources: Vec<Source>,
    keep: Option<Arc<dyn Fn(&Labels) -> bool>>,
}

impl Merge {
    /// This node's stream first, then the peers' (named) in the order given.
    pub fn new(cluster: Arc<Cluster>, local: SeriesStream, peers: Vec<(String, Box<dyn PeerRead>)>, selection: &Selection) -> Merge {
        let mut sources = vec![Source { from: Origin::Local(local.uncounted()), head: None, ended: false }];
        sources.extend(peers.into_iter().map(|(name, read)| Source { from: Origin::Peer { name, read }, head: None, ended: false }));
        Merge { cluster, min_t: selection.min_t, max_t: selection.max_t, sources, keep: None }
    }

    /// Reads ahead every source whose head was taken, all at once.
    async fn fill(&mut self) -> Result<(), Error> {
        let cluster = &self.cluster;
        let reads = self.sources.iter_mut().filter(|s| s.head.is_none() && !s.ended).map(|s| s.advance(cluster));
        join_all(reads).await.into_iter().collect()
    }

    /// The next series, whole, in one piece; `None` after the last.
    async fn next_piece(&mut self) -> Result<Option<SeriesPiece>, Error> {
        loop {
            self.fill().await?;
            let Some(labels) = self.sources.iter().filter_map(|s| s.head.as_ref().map(|h| &h.0)).min().cloned() else { return Ok(None) };
            // Every source's copies of `labels`; a source may give the same labels again next.
            let mut parts: Vec<Vec<StoredChunk>> = Vec::new();
            loop {
                let mut took = false;
                for s in &mut self.sources {
                    if s.head.as_ref().is_some_and(|h| h.0 == labels) {
                        parts.push(s.head.take().expect("a head").1);
                        took = true;
                    }
                }
                if !took {
                    break;
                }
                self.fill().await?;
                if let Some(s) = self.sources.iter().find(|s| s.head.as_ref().is_some_and(|h| h.0 < labels)) {
                    let back = &s.head.as_ref().expect("a head").0;
                    return Err(Error::PeerFailed { peer: s.name().to_string(), reason: format!("series out of order: {back} after {labels}") });
                }
            }
            if self.keep.as_ref().is_some_and(|keep| !keep(&labels)) {
                continue;
            }
            if let Some(chunks) = self.combine(&labels, parts)? {
                return Ok(Some(SeriesPiece { labels, chunks, last: true }));
            }
        }
    }

    /// One series' chunks from its copies, as the module doc says; `None` when it has no
    /// sample in the time range.
    fn combine(&self, labels: &Labels, mut parts: Vec<Vec<StoredChunk>>) -> Result<Option<Vec<StoredChunk>>, Error> {
        let corrupt = || Error::Storage(crate::data::StoreError::Corrupt(format!("chunk in series {labels}")));
        let alike = |a: &[StoredChunk], b: &[StoredChunk]| a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.min_t == y.min_t && x.max_t == y.max_t && x.data == y.data);
        if parts.iter().all(|p| alike(p, &parts[0])) && parts[0].windows(2).all(|w| w[0].max_t < w[1].min_t) {
            let chunks = parts.swap_remove(0);
            return Ok(has_sample(&chunks, self.min_t, self.max_t).ok_or_else(corrupt)?.then_some(chunks));
        }
        let mut samples = Vec::new();
        for chunks in &parts {
            piece::each_in(chunks, self.min_t, self.max_t, |t, v| samples.push((t, v))).map_err(|_| corrupt())?;
        }
        // Stable: of the samples at one timestamp, the first source's comes first and stays.
        samples.sort_by_key(|s| s.0);
        samples.dedup_by_key(|s| s.0);
        Ok((!samples.is_empty()).then(|| encode(&samples)))
    }
}

impl PieceSource for Merge {
    fn next(&mut self) -> LocalBoxFuture<'_, Result<Option<SeriesPiece>, Error>> {
        Box::pin(self.next_piece())
    }

    /// Makes this node's chunks XOR chunks (see `SeriesStream::xor_chunks`); peers send
    /// nothing else.
    fn xor_chunks(&mut self) {
        for s in &mut self.sources {
            if let Origin::Local(stream) = &mut s.from {
                stream.xor_chunks();
            }
        }
    }

    /// Keeps only the series whose labels satisfy `keep`: this node's before their chunks are
    /// read, the peers' as they arrive.
    fn retain(&mut self, keep: Arc<dyn Fn(&Labels) -> bool>) {
        for s in &mut self.sources {
            if let Origin::Local(stream) = &mut s.from {
                let keep = keep.clone();
                stream.retain(move |l| keep(l));
            }
        }
        self.keep = Some(keep);
    }
}

/// Whether chunks hold a sample in [min_t, max_t]; only chunks on its edges are decoded.
/// `None` when one of those does not decode.
fn has_sample(chunks: &[StoredChunk], min_t: i64, max_t: i64) -> Option<bool> {
    if chunks.iter().any(|c| c.min_t >= min_t && c.max_t <= max_t) {
        return Some(true);
    }
    for c in chunks {
        if c.has_sample_in(min_t, max_t).ok()? {
            return Some(true);
        }
    }
    Some(false)
}
