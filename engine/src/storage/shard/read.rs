//! The read path: the series matching a selector, and pages of their chunks (full chunks
//! from `chunks`, sealed blocks from `blocks` as they are or as XOR chunks again, then the
//! open one) in time order.

use super::{ChunkPage, ReadChunks, Shard};
use crate::encoding::piece::Piece;
use crate::index::matcher::Matcher;
use crate::labels::Labels;
use crate::storage::{Error, PolicyId};

impl Shard {
    pub(super) fn select(&self, policy: PolicyId, matchers: &[Matcher]) -> Vec<(Labels, u64)> {
        self.postings
            .candidates(policy, matchers)
            .into_iter()
            .filter_map(|id| {
                let s = self.series.get(&id)?;
                matchers.iter().all(|m| m.matches(&s.labels)).then(|| (s.labels.clone(), id))
            })
            .collect()
    }

    /// Chunks overlapping [min_t, max_t] of each series in order, the first series from
    /// `first_from` on (to resume a page). Stops after the chunk that reaches `budget` bytes:
    /// the answer then covers a prefix of `ids`, its last series cut short.
    pub(super) fn read_chunks(&self, req: &ReadChunks) -> Result<ChunkPage, Error> {
        let (policy, max_t) = (req.policy, req.max_t);
        let mut its = self.stored_iterators();
        let mut page = ChunkPage::default();
        let mut bytes = 0usize;
        for (i, &id) in req.ids.iter().enumerate() {
            let min_t = if i == 0 { req.first_from.max(req.min_t) } else { req.min_t };
            let overlaps = |a: i64, b: i64| a <= max_t && b >= min_t;
            let mut chunks = Vec::new();
            let Some(series) = self.series.get(&id).filter(|s| s.policy == policy) else {
                page.series.push(chunks);
                continue;
            };
            // Partitions of different lengths (after a shard duration change) do not sort in
            // time order: gather the series' full chunks and blocks (as XOR chunks when asked),
            // then put them in time order.
            let mut stored = Vec::new();
            self.each_stored(&mut its, policy, id, |p| p.overlaps(min_t, max_t), |_, c_min, c_max, contents| {
                if overlaps(c_min, c_max) {
                    if req.xor {
                        stored.extend(contents.xor_chunks(c_min, c_max)?.into_iter().filter(|c| overlaps(c.min_t, c.max_t)));
                    } else {
                        stored.push(contents.to_chunk(c_min, c_max));
                    }
                }
                Ok(c_min <= max_t)
            })?;
            stored.sort_unstable_by_key(|c| c.min_t);
            for c in stored {
                bytes += c.data.len();
                let resume = c.max_t.checked_add(1).filter(|_| bytes >= req.budget && c.max_t < max_t);
                chunks.push(c);
                if let Some(resume) = resume {
                    page.series.push(chunks);
                    page.resume = Some(resume);
                    return Ok(page);
                }
            }
            let head = &series.head;
            if !head.is_empty() && overlaps(head.min_time(), head.max_time()) {
                chunks.push(Piece::xor(head.bytes()).to_chunk(head.min_time(), head.max_time()));
                bytes += head.bytes().len();
            }
            page.series.push(chunks);
            if bytes >= req.budget && i + 1 < req.ids.len() {
                break;
            }
        }
        Ok(page)
    }
}
