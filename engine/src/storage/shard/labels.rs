//! Label names and values of a shard's series, from its inverted index and never from their
//! data: without matchers straight from the postings, with matchers from the series the
//! postings select. A time range counts a series when its newest sample (the end of its open
//! chunk, which always holds the newest) is at or after the range's start and its first time
//! (`Series::first_t`) at or before its end: a series with a gap over the whole range counts
//! too, as every series of a block overlapping the range does in Prometheus. A series whose
//! open chunk retention emptied (kept for its downsampled tiers) counts by its first time.

use super::{LabelIndex, Shard, Wanted};
use crate::storage::family::Family;
use crate::storage::keys;
use std::collections::HashSet;

impl Shard {
    /// Whether series `id` counts for `range` (see the module doc).
    fn counts_in(&self, id: u64, range: Option<(i64, i64)>) -> bool {
        let Some((start, end)) = range else { return true };
        self.series.get(&id).is_some_and(|s| s.first_t <= end && (s.head.is_empty() || s.head.max_time() >= start))
    }

    /// Records series `id`'s first time, in memory and in `batch`.
    pub(super) fn set_first_time(&mut self, id: u64, t: i64, batch: &mut rocksdb::WriteBatch) {
        let s = self.series.get_mut(&id).expect("series exists");
        s.first_t = t;
        let key = keys::first_time_key(s.policy, id);
        batch.put_cf(self.cf(Family::Series), key, t.to_be_bytes());
    }

    /// The names or values asked for, unsorted and unique.
    pub(super) fn label_index(&self, msg: &LabelIndex) -> Vec<String> {
        let keep = |id: u64| self.counts_in(id, msg.range);
        if msg.matchers.is_empty() {
            return match &msg.wanted {
                Wanted::Names => self.postings.label_names(msg.policy, keep),
                Wanted::Values(name) => self.postings.label_values(msg.policy, name, keep),
            };
        }
        let mut out: HashSet<&str> = HashSet::new();
        for (_, s) in self.matching(msg.policy, &msg.matchers).filter(|(id, _)| keep(*id)) {
            match &msg.wanted {
                Wanted::Names => out.extend(s.labels.iter().map(|(n, _)| n)),
                Wanted::Values(name) => out.extend(Some(s.labels.get(name)).filter(|v| !v.is_empty())),
            }
        }
        out.into_iter().map(str::to_string).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::*;
    use crate::index::matcher::{MatchKind, Matcher};

    fn ask(shard: &Shard, matchers: Vec<Matcher>, range: Option<(i64, i64)>, wanted: Wanted) -> Vec<String> {
        let mut out = shard.label_index(&LabelIndex { policy: 1, matchers: Arc::new(matchers), range, wanted });
        out.sort();
        out
    }

    fn series(pairs: &[(&str, &str)], samples: &[i64]) -> SeriesWrite {
        let labels = Labels::from_sorted(pairs.iter().copied());
        SeriesWrite { hash: labels.stable_hash(), labels, samples: samples.iter().map(|t| (*t, 1.0)).collect() }
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    /// Names and values with and without matchers and a range; a series whose samples all lie
    /// outside the range leaves out the names and values only it holds, also after a reload
    /// (first times and open chunks come back from disk).
    #[test]
    fn names_and_values_by_matchers_and_range() {
        let dir = tempfile::tempdir().unwrap();
        let mut shard = Shard::open_for_test(dir.path(), &[1]);
        let writes = vec![
            series(&[("__name__", "up"), ("job", "api"), ("pod", "old")], &[1_000, 2_000]),
            series(&[("__name__", "up"), ("job", "api"), ("pod", "new")], &[8_000, 9_000]),
            series(&[("__name__", "requests"), ("code", "500"), ("job", "web")], &[5_000]),
        ];
        assert_eq!(shard.write(1, writes).unwrap().accepted, 5);
        let up = || vec![Matcher::new(MatchKind::Equal, "__name__", "up").unwrap()];
        for round in ["written", "reloaded"] {
            assert_eq!(ask(&shard, vec![], None, Wanted::Names), strings(&["__name__", "code", "job", "pod"]), "{round}");
            assert_eq!(ask(&shard, vec![], Some((6_000, 10_000)), Wanted::Names), strings(&["__name__", "job", "pod"]), "{round}");
            assert_eq!(ask(&shard, vec![], Some((9_001, 10_000)), Wanted::Names), Vec::<String>::new(), "after every sample");
            assert_eq!(ask(&shard, vec![], Some((0, 999)), Wanted::Names), Vec::<String>::new(), "before every sample");
            assert_eq!(ask(&shard, vec![], Some((2_000, 5_000)), Wanted::Values("job".into())), strings(&["api", "web"]), "both ends count");
            assert_eq!(ask(&shard, vec![], Some((2_001, 4_999)), Wanted::Names), Vec::<String>::new(), "between the samples");
            assert_eq!(ask(&shard, vec![], None, Wanted::Values("pod".into())), strings(&["new", "old"]), "{round}");
            assert_eq!(ask(&shard, vec![], Some((0, 7_999)), Wanted::Values("pod".into())), strings(&["old"]), "{round}");
            assert_eq!(ask(&shard, up(), None, Wanted::Names), strings(&["__name__", "job", "pod"]), "{round}");
            assert_eq!(ask(&shard, up(), Some((2_001, 8_000)), Wanted::Values("pod".into())), strings(&["new"]), "{round}");
            assert_eq!(ask(&shard, up(), None, Wanted::Values("code".into())), Vec::<String>::new(), "{round}");
            let not_up = vec![Matcher::new(MatchKind::NotEqual, "__name__", "up").unwrap()];
            assert_eq!(ask(&shard, not_up, None, Wanted::Values("job".into())), strings(&["web"]), "{round}");
            shard.checkpoint().unwrap();
            shard.reload();
        }
    }

    /// A merged older sample moves the first time back, kept across a reload; a deleted
    /// series leaves no first time behind for a series made anew under its labels.
    #[test]
    fn merges_move_the_first_time_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut shard = Shard::open_for_test(dir.path(), &[1]);
        let labels = [("__name__", "up"), ("job", "api")];
        shard.write(1, vec![series(&labels, &[5_000])]).unwrap();
        assert!(ask(&shard, vec![], Some((0, 4_000)), Wanted::Names).is_empty());
        let out = shard.backfill(1, vec![series(&labels, &[3_000])], None).unwrap();
        assert_eq!(out.accepted, 1);
        shard.reload();
        assert_eq!(ask(&shard, vec![], Some((0, 4_000)), Wanted::Names), strings(&["__name__", "job"]));
        let id = shard.find(1, series(&labels, &[]).hash, &series(&labels, &[]).labels).unwrap();
        assert_eq!(shard.delete_series(&[id]).unwrap(), 1);
        shard.write(1, vec![series(&labels, &[7_000])]).unwrap();
        shard.reload();
        assert!(ask(&shard, vec![], Some((0, 4_000)), Wanted::Names).is_empty(), "the new series begins at 7 s");
    }
}
