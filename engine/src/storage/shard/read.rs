//! The read path: the series matching a selector, and pages of their chunks (full chunks
//! from `chunks`, sealed blocks from `blocks` as they are or as XOR chunks again, then the
//! open one) in time order. A read of many pages sees each sample once whatever the shard
//! does between them (sealing, cutting the open chunk): a page resumes at a sample's time.

use super::{ChunkPage, ReadChunks, Series, Shard};
use crate::encoding::piece::{Piece, StoredChunk};
use crate::index::matcher::Matcher;
use crate::labels::Labels;
use crate::storage::{Error, PolicyId};

impl Shard {
    pub(super) fn select(&self, policy: PolicyId, matchers: &[Matcher]) -> Vec<(Labels, u64)> {
        self.matching(policy, matchers).map(|(id, s)| (s.labels.clone(), id)).collect()
    }

    /// The series of `policy` that match every matcher, with their ids: the postings'
    /// candidates, each checked against the matchers.
    pub(super) fn matching<'a>(&'a self, policy: PolicyId, matchers: &'a [Matcher]) -> impl Iterator<Item = (u64, &'a Series)> + 'a {
        self.postings.candidates(policy, matchers).into_iter().filter_map(move |id| {
            let s = self.series.get(&id)?;
            matchers.iter().all(|m| m.matches(&s.labels)).then_some((id, s))
        })
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
            // A resumed page gives what lies from `first_from` on, nothing before: the pages
            // before it gave that, and the shard may have sealed since (between two messages
            // of the reader), merging the chunks they ended with into a block that reaches
            // past `first_from`. Cut at a sample's time, each sample comes once.
            let resumed = |c: StoredChunk| match i == 0 && req.first_from > req.min_t {
                true => c.from_on(req.first_from),
                false => Ok(Some(c)),
            };
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
                let Some(c) = resumed(c)? else { continue };
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
                if let Some(c) = resumed(Piece::xor(head.bytes()).to_chunk(head.min_time(), head.max_time()))? {
                    bytes += c.data.len();
                    chunks.push(c);
                }
            }
            page.series.push(chunks);
            if bytes >= req.budget && i + 1 < req.ids.len() {
                break;
            }
        }
        Ok(page)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{ReadChunks, Shard};
    use crate::data::write::SeriesWrite;
    use crate::labels::Labels;
    use std::time::Duration;

    const POLICY: u32 = 1;
    /// The start of a day: everything written below lies in one partition.
    const T0: i64 = 1_800_000_000_000 / 86_400_000 * 86_400_000;

    fn scrapes(from: usize, to: usize) -> Vec<(i64, f64)> {
        (from..to).map(|i| (T0 + i as i64 * 15_000, 1000.0 + i as f64 * 0.25)).collect()
    }

    fn write(shard: &mut Shard, samples: Vec<(i64, f64)>) -> u64 {
        let labels = Labels::from_sorted([("__name__", "a")]);
        let n = samples.len();
        let out = shard.write(POLICY, vec![SeriesWrite { hash: labels.stable_hash(), labels: labels.clone(), samples }]).unwrap();
        assert_eq!(out.accepted, n as u64);
        shard.find(POLICY, labels.stable_hash(), &labels).unwrap()
    }

    /// A read of one series in pages of one piece each, as a reader over many series gets
    /// them (`storage::pager`), with the shard sealing between the first page and the second
    /// (as its timer may between two messages of the reader) and cutting the open chunk
    /// between the second and the third. Sealing merges the chunk the first page ended with
    /// and the next three into one block, which reaches past where the second page resumes.
    /// Each sample comes once, in time order, whether blocks come as they are or as XOR chunks.
    #[test]
    fn a_read_in_pages_gives_each_sample_once_whatever_sealing_does_between_them() {
        for xor in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let mut shard = Shard::open_for_test(dir.path(), &[POLICY]);
            // Ten full chunks of 120 samples and an open one of 100.
            let id = write(&mut shard, scrapes(0, 1300));
            let page = |shard: &Shard, from: i64| {
                let page = shard.read_chunks(&ReadChunks { policy: POLICY, ids: vec![id], first_from: from, min_t: i64::MIN, max_t: i64::MAX, budget: 1, xor }).unwrap();
                let mut samples = Vec::new();
                for c in page.series.iter().flatten() {
                    let before = samples.len();
                    c.each(|t, v| samples.push((t, v))).unwrap();
                    assert_eq!((c.min_t, c.max_t), (samples[before].0, samples[samples.len() - 1].0), "a piece's bounds are its first and last samples");
                }
                (samples, page.resume)
            };
            let (mut got, resume) = page(&shard, i64::MIN);
            assert_eq!(got, scrapes(0, 120), "the first page: the first chunk");
            let mut from = resume.expect("the read goes on");

            assert!(shard.seal_all(Duration::MAX).unwrap());
            // Eight of the ten full chunks, four a block; two wait for more.
            assert_eq!(shard.metrics.sealed_samples.load(std::sync::atomic::Ordering::Relaxed), 8 * 120);
            let (samples, resume) = page(&shard, from);
            assert_eq!(samples.first().map(|s| s.0), Some(scrapes(120, 121)[0].0), "the second page starts where the first ended (xor: {xor})");
            got.extend(samples);
            from = resume.expect("the read goes on");

            // The open chunk fills up and is cut: its samples move to `chunks`.
            write(&mut shard, scrapes(1300, 1400));
            loop {
                let (samples, resume) = page(&shard, from);
                got.extend(samples);
                match resume {
                    Some(r) => from = r,
                    None => break,
                }
            }
            assert_eq!(got, scrapes(0, 1400), "xor: {xor}");
        }
    }
}
