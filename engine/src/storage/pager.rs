//! This node's side of a read as a stream (`data::SeriesStream`): the selected series are
//! read batch by batch, holding about one page of chunks per shard at a time, so a streamed
//! answer needs memory for a frame, not for the result.

use super::shard::{ChunkPage, ReadChunks};
use crate::encoding::piece::StoredChunk;
use super::{Error as StorageError, Policies, PolicyId, SelectedSeries, Storage};
use crate::data::{Error, PieceSource, Selection, SeriesPiece, SeriesStream};
use crate::labels::Labels;
use futures_util::future::LocalBoxFuture;
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// Bytes of chunks a shard answers at once.
pub const PAGE_BYTES: usize = 1 << 20;
/// Series whose chunks are asked from the shards together.
const BATCH: usize = 64;

/// A page asked of a shard and not yet taken.
type PageRequest = Pin<Box<dyn Future<Output = Result<ChunkPage, StorageError>>>>;

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
    /// The selection's time range.
    min_t: i64,
    max_t: i64,
}

/// This node's series matching `selection`, read page by page as the stream is consumed.
pub async fn local_stream(storage: Arc<Storage>, db: &str, which: Policies<'_>, selection: Selection) -> Result<SeriesStream, Error> {
    let (min_t, max_t) = (selection.min_t, selection.max_t);
    let series = storage.select(db, which, selection.matchers).await?;
    let pager = Pager { storage, series, next: 0, batch_end: 0, lanes: HashMap::new(), ahead: HashMap::new(), xor: false, min_t, max_t };
    Ok(SeriesStream::new(Box::new(pager), (min_t, max_t), Vec::new()))
}

impl PieceSource for Pager {
    fn next(&mut self) -> LocalBoxFuture<'_, Result<Option<SeriesPiece>, Error>> {
        Box::pin(self.next_piece())
    }

    fn retain(&mut self, keep: Arc<dyn Fn(&Labels) -> bool>) {
        self.series.retain(|s| keep(&s.labels));
    }

    /// Sealed blocks come as XOR chunks: the shards re-encode them as they read them.
    fn xor_chunks(&mut self) {
        self.xor = true;
    }
}

impl Pager {
    async fn next_piece(&mut self) -> Result<Option<SeriesPiece>, Error> {
        let (min_t, max_t) = (self.min_t, self.max_t);
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
            let asked = lane.asked.take().ok_or_else(|| StorageError::Corrupt(format!("page: shard {} has nothing asked", s.shard)))?;
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
        let (chunks, last) = lane.fetched.pop_front().ok_or_else(|| StorageError::Corrupt(format!("page: shard {} answered none", s.shard)))?;
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
