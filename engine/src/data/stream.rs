//! The answer to a read: series in label order (`Labels`' order, the encoded label set's
//! bytes), each as one or more pieces of XOR chunks covering the selection's time range
//! (chunks may hold samples just outside it; the samples helpers cut them off). A local read
//! pages through the shards batch by batch, holding about one page per shard at a time, so a
//! streamed answer needs memory for a frame, not for the result. A cluster read merges this
//! node's stream and the peers' streams as it goes (`cluster::merge`), a series at a time.

use super::{Error, Selection};
use crate::labels::Labels;
use crate::storage::piece;
use crate::storage::shard::{ChunkPage, ReadChunks, StoredChunk};
use crate::storage::{self, Policies, PolicyId, SelectedSeries, Storage};
use crate::cluster::merge::Merge;
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// Bytes of chunks a shard answers at once.
pub const PAGE_BYTES: usize = 1 << 20;
/// Series whose chunks are asked from the shards together.
const BATCH: usize = 64;

/// Part of a series' chunks, in time order; `last` on its final piece.
#[derive(Debug)]
pub struct SeriesPiece {
    pub labels: Labels,
    pub chunks: Vec<StoredChunk>,
    pub last: bool,
}

/// One series' samples inside the selection's time range.
pub type SeriesSamples = (Labels, Vec<(i64, f64)>);

pub struct SeriesStream {
    min_t: i64,
    max_t: i64,
    source: Source,
    /// Cluster nodes the answer was made without (down or too slow); the others hold a copy
    /// of every series.
    skipped: Vec<String>,
}

enum Source {
    Paged(Pager),
    /// A cluster read: this node's stream and the peers', merged series by series.
    Merging(Box<Merge>),
}

/// A page asked of a shard and not yet taken.
type PageRequest = Pin<Box<dyn Future<Output = Result<ChunkPage, storage::Error>>>>;

/// What a shard lane (one policy in one shard) has in hand for a batch.
#[derive(Default)]
struct Lane {
    /// Ids still to fetch, in order.
    pending: VecDeque<u64>,
    /// Fetched chunks of the next series, and whether they complete it.
    fetched: VecDeque<(Vec<StoredChunk>, bool)>,
    /// The lane's next page, asked for already.
    asked: Option<PageRequest>,
}

/// What the read of a page asks: the pending ids' chunks over [min_t, max_t], from `from` on
/// for the first of them.
struct PageAsk {
    policy: PolicyId,
    shard: usize,
    from: i64,
    min_t: i64,
    max_t: i64,
    xor: bool,
}

impl Lane {
    /// Asks `storage` for the lane's next page.
    fn ask(&mut self, storage: &Storage, a: PageAsk) {
        let ids = self.pending.iter().copied().collect();
        let request = ReadChunks { policy: a.policy, ids, first_from: a.from, min_t: a.min_t, max_t: a.max_t, budget: PAGE_BYTES, xor: a.xor };
        self.asked = Some(Box::pin(storage.read_page(a.shard, request)));
    }
}

/// Reads the selected series batch by batch. The shards read ahead: the next batch's first
/// pages, and the rest of a series cut short, are asked for as soon as it is known that they
/// will be needed, so shards decode while this node frames what it has.
struct Pager {
    storage: Arc<Storage>,
    series: Vec<SelectedSeries>,
    /// The series the next piece belongs to.
    next: usize,
    batch_end: usize,
    lanes: HashMap<(u32, usize), Lane>,
    /// The next batch's lanes, their first pages asked for.
    ahead: HashMap<(u32, usize), Lane>,
    /// Sealed blocks come as XOR chunks.
    xor: bool,
}

impl SeriesStream {
    /// This node's series matching `selection`, read page by page as the stream is consumed.
    pub async fn local(storage: Arc<Storage>, db: &str, which: Policies<'_>, selection: Selection) -> Result<SeriesStream, Error> {
        let series = storage.select(db, which, selection.matchers).await?;
        let pager = Pager { storage, series, next: 0, batch_end: 0, lanes: HashMap::new(), ahead: HashMap::new(), xor: false };
        Ok(SeriesStream { min_t: selection.min_t, max_t: selection.max_t, source: Source::Paged(pager), skipped: Vec::new() })
    }

    /// A cluster read of `selection`'s time range over the nodes `merge` holds, made without the
    /// nodes `skipped`.
    pub fn merging(merge: Merge, selection: &Selection, skipped: Vec<String>) -> SeriesStream {
        SeriesStream { min_t: selection.min_t, max_t: selection.max_t, source: Source::Merging(Box::new(merge)), skipped }
    }

    /// The cluster nodes this answer was made without.
    pub fn skipped(&self) -> &[String] {
        &self.skipped
    }

    /// Keeps only the series whose labels satisfy `keep`; this node's before any chunk is
    /// read, other nodes' (in a cluster) as they arrive.
    pub fn retain(&mut self, keep: impl Fn(&Labels) -> bool + 'static) {
        match &mut self.source {
            Source::Paged(p) => p.series.retain(|s| keep(&s.labels)),
            Source::Merging(m) => m.retain(Arc::new(keep)),
        }
    }

    /// Makes every chunk of the pieces a Prometheus XOR chunk (a streamed answer ships them
    /// as they are): this node's shards re-encode sealed blocks as they read them. Otherwise
    /// blocks come as they are stored, for readers that want samples. Call before reading.
    pub fn xor_chunks(&mut self) {
        match &mut self.source {
            Source::Paged(p) => p.xor = true,
            Source::Merging(m) => m.xor_chunks(),
        }
    }

    /// The next piece; `None` after the last.
    pub async fn next(&mut self) -> Result<Option<SeriesPiece>, Error> {
        match &mut self.source {
            Source::Paged(p) => p.next(self.min_t, self.max_t).await,
            Source::Merging(m) => m.next().await,
        }
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
                .map_err(|e| storage::Error::Corrupt(format!("chunk in series {} ({e})", piece.labels)))?;
            if piece.last {
                return Ok(Some((piece.labels, samples)));
            }
        }
    }
}

/// Samples in Prometheus XOR chunks of at most `SAMPLES_PER_CHUNK` each.
pub use crate::storage::piece::xor_chunks as encode;

impl Pager {
    async fn next(&mut self, min_t: i64, max_t: i64) -> Result<Option<SeriesPiece>, Error> {
        if self.next >= self.series.len() {
            return Ok(None);
        }
        if self.next == self.batch_end {
            let end = (self.next + BATCH).min(self.series.len());
            self.lanes = match std::mem::take(&mut self.ahead) {
                ahead if !ahead.is_empty() => ahead,
                _ => self.ask(self.next, end, min_t, max_t),
            };
            self.batch_end = end;
            self.ahead = self.ask(end, (end + BATCH).min(self.series.len()), min_t, max_t);
        }
        let s = &self.series[self.next];
        let lane = self.lanes.get_mut(&(s.policy, s.shard)).expect("every series of the batch has its lane");
        if lane.fetched.is_empty() {
            let asked = lane.asked.take().ok_or_else(|| storage::Error::Corrupt(format!("page: shard {} has nothing asked", s.shard)))?;
            let page = asked.await?;
            let n = page.series.len();
            for (j, chunks) in page.series.into_iter().enumerate() {
                let complete = j + 1 < n || page.resume.is_none();
                if complete {
                    lane.pending.pop_front();
                }
                lane.fetched.push_back((chunks, complete));
            }
            if !lane.pending.is_empty() {
                let from = page.resume.unwrap_or(i64::MIN);
                lane.ask(&self.storage, PageAsk { policy: s.policy, shard: s.shard, from, min_t, max_t, xor: self.xor });
            }
        }
        let (chunks, last) = lane.fetched.pop_front().ok_or_else(|| storage::Error::Corrupt(format!("page: shard {} answered none", s.shard)))?;
        let labels = s.labels.clone();
        if last {
            self.next += 1;
        }
        Ok(Some(SeriesPiece { labels, chunks, last }))
    }

    /// Lanes for the series `from..to`, each with its first page asked for.
    fn ask(&self, from: usize, to: usize, min_t: i64, max_t: i64) -> HashMap<(u32, usize), Lane> {
        let mut lanes: HashMap<(u32, usize), Lane> = HashMap::new();
        for s in &self.series[from..to] {
            lanes.entry((s.policy, s.shard)).or_default().pending.push_back(s.id);
        }
        for (&(policy, shard), lane) in &mut lanes {
            lane.ask(&self.storage, PageAsk { policy, shard, from: i64::MIN, min_t, max_t, xor: self.xor });
        }
        lanes
    }
}
