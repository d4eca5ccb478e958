//! `SELECT`'s fast path for the common dashboard shape: only aggregates, all over one field,
//! no condition on fields (`SELECT mean(value) FROM m WHERE time > … AND tag = 'x' GROUP BY
//! time(1m), tag`). Each series is decoded straight into per-window accumulators
//! (`WindowAcc`), series in parallel over the cores (`parallel::map`), and the accumulators
//! are merged per `GROUP BY` group in the row path's series order (by tag set); no rows are
//! built, joined or sorted. Everything else takes the row path in `select.rs`.

use super::fields::FieldMap;
use super::select::{group_key, tagset, Column, TagSet, NS_PER_MS};
use super::window_acc::{keeps_points, WindowAcc};
use super::Error;
use crate::data::{SeriesStream, StoreError};
use crate::encoding::is_stale_nan;
use crate::encoding::piece::{self, StoredChunk};
use crate::encoding::rollup::Window;
use crate::labels::Labels;
use crate::query::aggregate::{row_time, Call, Occupied, Windows};
use crate::query::condition::Cond;
use std::collections::BTreeMap;

/// Series folded in parallel at a time: their accumulators are merged before the next ones
/// are folded, so memory stays bounded by one batch.
const BATCH: usize = 1024;

/// The calls of `columns` when the fast path answers them: every column an aggregate over
/// the one field read (`fields` holds every field the statement names, the condition's too),
/// and no condition on fields.
pub(super) fn fast_calls(columns: &[(String, Column)], fields: &[String], cond: Option<&Cond>) -> Option<Vec<Call>> {
    if fields.len() != 1 || cond.is_some_and(Cond::has_fields) {
        return None;
    }
    columns
        .iter()
        .map(|(_, column)| match column {
            Column::Aggregate(call, _) => Some(call.clone()),
            _ => None,
        })
        .collect()
}

/// What one series contributes to the fast path, in time order: raw samples of a time range
/// (ms, both ends in), or the windows of a downsampled tier (`select_tier.rs`). Parts lie on
/// `GROUP BY time` boundaries, so no group takes from two of them.
pub(super) enum Part {
    Raw { chunks: Vec<StoredChunk>, range: (i64, i64) },
    Tier(Vec<Window>),
}

/// The series of `stream`, each one raw part of `range` (ms).
pub(super) async fn raw_series(mut stream: SeriesStream, range: (i64, i64)) -> Result<Vec<(Labels, Vec<Part>)>, Error> {
    let mut out = Vec::new();
    while let Some((labels, chunks)) = stream.next_chunks().await? {
        out.push((labels, vec![Part::Raw { chunks, range }]));
    }
    Ok(out)
}

/// The windows of every group that holds a point of `series`, each with `calls`' values, by
/// group key; and the earliest point's time (ns), if any.
pub(super) async fn windows_by_group(series: Vec<(Labels, Vec<Part>)>, field_map: &FieldMap, group_keys: &[&String], calls: &[Call], windows: &Windows) -> Result<(Vec<(TagSet, Occupied)>, Option<i64>), Error> {
    let mut series: Vec<(TagSet, Labels, Vec<Part>)> = series.into_iter().map(|(labels, parts)| (tagset(field_map, &labels), labels, parts)).collect();
    // The row path's series order, which the merge keeps (it decides how sums round).
    series.sort_by(|a, b| a.0.cmp(&b.0));
    // Folding is CPU work: off the server's event loop, as PromQL's evaluation.
    let (keys, calls, windows) = (group_keys.iter().map(|k| k.to_string()).collect::<Vec<_>>(), calls.to_vec(), *windows);
    actix_web::web::block(move || fold_groups(&series, &keys.iter().collect::<Vec<_>>(), &calls, &windows))
        .await
        .map_err(|e| Error::from(format!("the query's worker thread failed: {e}")))?
}

/// `windows_by_group` for series already read and sorted.
pub(super) fn fold_groups(series: &[(TagSet, Labels, Vec<Part>)], group_keys: &[&String], calls: &[Call], windows: &Windows) -> Result<(Vec<(TagSet, Occupied)>, Option<i64>), Error> {
    let keep = keeps_points(calls);
    let mut groups: BTreeMap<TagSet, Vec<(i64, WindowAcc)>> = BTreeMap::new();
    let mut earliest: Option<i64> = None;
    for (b, batch) in series.chunks(BATCH).enumerate() {
        let folded = crate::parallel::map(batch.len(), |i| fold_parts(&batch[i].2, windows, (b * BATCH + i) as u32, keep));
        for ((tags, labels, _), windows) in batch.iter().zip(folded) {
            let windows = windows.map_err(|e| StoreError::Corrupt(format!("chunk in series {labels} ({e})")))?;
            let Some((_, first)) = windows.first() else { continue };
            earliest = Some(earliest.map_or(first.first_time(), |e| e.min(first.first_time())));
            merge_windows(groups.entry(group_key(group_keys, tags)).or_default(), windows);
        }
    }
    let occupied = |group: Vec<(i64, WindowAcc)>| -> Occupied {
        group
            .into_iter()
            .map(|(start, acc)| {
                let chosen: Vec<Option<(i64, f64)>> = calls.iter().map(|c| acc.value(c)).collect();
                let time = chosen.iter().flatten().last().map_or(start, |p| row_time(calls, windows, start, *p));
                (start, (time, chosen.into_iter().map(|c| c.map(|p| p.1)).collect()))
            })
            .collect()
    };
    Ok((groups.into_iter().map(|(key, group)| (key, occupied(group))).collect(), earliest))
}

/// Merges a later series' windows into a group's (both by start, each start once).
fn merge_windows(group: &mut Vec<(i64, WindowAcc)>, series: Vec<(i64, WindowAcc)>) {
    if group.is_empty() {
        *group = series;
        return;
    }
    let mut at = 0;
    let mut new = Vec::new();
    for (start, acc) in series {
        // Windows mostly line up one to one: a step forward is cheaper than a search.
        while group.get(at).is_some_and(|w| w.0 < start) {
            at += 1;
        }
        match group.get_mut(at) {
            Some((s, window)) if *s == start => window.merge(acc),
            _ => new.push((start, acc)),
        }
    }
    if !new.is_empty() {
        group.extend(new);
        group.sort_unstable_by_key(|w| w.0);
    }
}

/// A series' windows, in time order, as its samples arrive.
struct SeriesWindows<'a> {
    windows: &'a Windows,
    series: u32,
    keep_points: bool,
    /// Where the last window ends (exclusive), with `GROUP BY time`.
    end: i64,
    out: Vec<(i64, WindowAcc)>,
}

impl SeriesWindows<'_> {
    fn push(&mut self, t: i64, v: f64) {
        match self.out.last_mut() {
            Some((_, acc)) if self.windows.every.is_none() || t < self.end => acc.add(t, v, self.series),
            _ => {
                let start = self.windows.floor(t);
                self.end = self.windows.every.map_or(i64::MAX, |every| start.saturating_add(every));
                self.out.push((start, WindowAcc::new(t, v, self.series, self.keep_points)));
            }
        }
    }

    /// Adds a tier window, whose samples all come after those added before and lie in one
    /// window of `windows` (its resolution divides theirs).
    fn push_window(&mut self, w: &Window) {
        let acc = WindowAcc::of_tier(w);
        match self.out.last_mut() {
            Some((_, last)) if acc.first_time() < self.end => last.merge(acc),
            _ => {
                let start = self.windows.floor(acc.first_time());
                self.end = self.windows.every.map_or(i64::MAX, |every| start.saturating_add(every));
                self.out.push((start, acc));
            }
        }
    }
}

/// The windows of one series' parts, in time order.
fn fold_parts(parts: &[Part], windows: &Windows, series: u32, keep_points: bool) -> Result<Vec<(i64, WindowAcc)>, piece::Error> {
    let mut out = Vec::new();
    for part in parts {
        match part {
            Part::Raw { chunks, range } => out.extend(fold_series(chunks, *range, windows, series, keep_points)?),
            Part::Tier(tier) => {
                let mut fold = SeriesWindows { windows, series, keep_points, end: i64::MIN, out: Vec::new() };
                for w in tier {
                    fold.push_window(w);
                }
                out.extend(fold.out);
            }
        }
    }
    Ok(out)
}

/// The windows of one series' samples in `[min_t, max_t]` ms, decoded from its chunks;
/// Prometheus' staleness markers are not values and are left out, as the tiers leave them out.
fn fold_series(chunks: &[StoredChunk], (min_t, max_t): (i64, i64), windows: &Windows, series: u32, keep_points: bool) -> Result<Vec<(i64, WindowAcc)>, piece::Error> {
    let span = |c: &[StoredChunk]| Some((c.first()?.min_t.max(min_t), c.last()?.max_t.min(max_t)));
    let expected = match (windows.every, span(chunks)) {
        (Some(every), Some((from, to))) if to >= from => ((to - from).saturating_mul(NS_PER_MS) / every + 2).min(4096) as usize,
        _ => 1,
    };
    let new = || SeriesWindows { windows, series, keep_points, end: i64::MIN, out: Vec::with_capacity(expected) };
    let mut fold = new();
    let (mut last, mut sorted) = (i64::MIN, true);
    let each = |f: &mut dyn FnMut(i64, f64)| piece::each_in(chunks, min_t, max_t, |t, v| if !is_stale_nan(v) { f(t, v) });
    each(&mut |t, v| {
        sorted &= t >= last;
        last = t;
        if sorted {
            fold.push(t * NS_PER_MS, v);
        }
    })?;
    if sorted {
        return Ok(fold.out);
    }
    // Samples out of time order: fold them again, sorted as the row path sorts them.
    let mut samples = Vec::new();
    each(&mut |t, v| samples.push((t, v)))?;
    samples.sort_by_key(|s| s.0);
    let mut fold = new();
    for (t, v) in samples {
        fold.push(t * NS_PER_MS, v);
    }
    Ok(fold.out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::chunk::XorChunk;
    use crate::encoding::piece::Encoding;

    const S: i64 = 1_000_000_000;

    fn chunk(samples: &[(i64, f64)]) -> StoredChunk {
        let mut c = XorChunk::new();
        for (t, v) in samples {
            c.append(*t, *v);
        }
        StoredChunk { min_t: c.min_time(), max_t: c.max_time(), data: c.into_bytes(), kind: Encoding::Xor }
    }

    fn call(func: &str) -> Call {
        Call { func: func.into(), arg: 0.0 }
    }

    #[test]
    fn a_series_folds_into_its_windows_within_the_range() {
        // Samples every 15 s (ms), a gap from 60 s to 150 s, and one past the range's end.
        let samples = [(0, 1.0), (15_000, 2.0), (45_000, 4.0), (150_000, 8.0), (165_000, 16.0), (185_000, 32.0)];
        let minute = Windows { start: 0, end: 180 * S - 1, every: Some(60 * S), offset: 0 };
        let got = fold_series(&[chunk(&samples[..3]), chunk(&samples[3..])], (0, 179_999), &minute, 0, false).unwrap();
        let summary: Vec<(i64, Option<(i64, f64)>, Option<(i64, f64)>)> = got.iter().map(|(start, acc)| (*start, acc.value(&call("sum")), acc.value(&call("last")))).collect();
        assert_eq!(summary, vec![(0, Some((0, 7.0)), Some((45 * S, 4.0))), (120 * S, Some((150 * S, 24.0)), Some((165 * S, 16.0)))]);
        let whole = Windows { start: 0, end: i64::MAX, every: None, offset: 0 };
        let got = fold_series(&[chunk(&samples)], (15_000, i64::MAX), &whole, 0, false).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].0, got[0].1.value(&call("count")), got[0].1.value(&call("first"))), (0, Some((15 * S, 5.0)), Some((15 * S, 2.0))));
    }

    #[test]
    fn windows_of_later_series_merge_into_the_group_in_start_order() {
        let minute = Windows { start: 0, end: i64::MAX, every: Some(60 * S), offset: 0 };
        let mut group = fold_series(&[chunk(&[(0, 1.0), (120_000, 2.0)])], (0, i64::MAX), &minute, 0, false).unwrap();
        let later = fold_series(&[chunk(&[(60_000, 4.0), (125_000, 8.0), (190_000, 16.0)])], (0, i64::MAX), &minute, 1, false).unwrap();
        merge_windows(&mut group, later);
        let sums: Vec<(i64, Option<(i64, f64)>)> = group.iter().map(|(start, acc)| (*start, acc.value(&call("sum")))).collect();
        assert_eq!(sums, vec![(0, Some((0, 1.0))), (60 * S, Some((60 * S, 4.0))), (120 * S, Some((120 * S, 10.0))), (180 * S, Some((190 * S, 16.0)))]);
    }

    #[test]
    fn samples_out_of_order_fold_as_sorted() {
        let minute = Windows { start: 0, end: i64::MAX, every: Some(60 * S), offset: 0 };
        let got = fold_series(&[chunk(&[(60_000, 3.0), (61_000, 5.0)]), chunk(&[(0, 1.0), (62_000, 2.0)])], (0, i64::MAX), &minute, 0, false).unwrap();
        let firsts: Vec<(i64, Option<(i64, f64)>)> = got.iter().map(|(start, acc)| (*start, acc.value(&call("first")))).collect();
        assert_eq!(firsts, vec![(0, Some((0, 1.0))), (60 * S, Some((60 * S, 3.0)))]);
    }

    #[test]
    fn only_aggregates_over_one_field_without_field_conditions_take_the_fast_path() {
        let mean = || ("mean".to_string(), Column::Aggregate(call("mean"), 0));
        let value = vec!["value".to_string()];
        assert_eq!(fast_calls(&[mean(), mean()], &value, None), Some(vec![call("mean"), call("mean")]));
        assert_eq!(fast_calls(&[mean(), ("usage".into(), Column::Aggregate(call("max"), 1))], &["value".into(), "usage".into()], None), None);
        assert_eq!(fast_calls(&[("value".into(), Column::Field(0))], &value, None), None);
        assert_eq!(fast_calls(&[("host".into(), Column::Tag("host".into()))], &value, None), None);
        let field_cond = Cond::Field { index: 0, op: ">", value: 1.0 };
        assert_eq!(fast_calls(&[mean()], &value, Some(&field_cond)), None);
        assert_eq!(fast_calls(&[mean()], &value, Some(&Cond::Never)), Some(vec![call("mean")]));
    }
}
