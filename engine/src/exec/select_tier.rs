//! `SELECT`'s fast path over the downsampled tiers (`encoding::rollup`). With `GROUP BY
//! time(d)` where `d` and the offset are multiples of a tier's resolution, and only calls a
//! tier's windows answer as the raw samples do (`count`, `sum`, `mean`, `min`, `max`,
//! `spread`, `first`, `last`; see `WindowAcc::of_tier`), the groups wholly inside the time
//! range that end by the tier's `through` are made from the coarsest such tier's windows; a
//! partial group at either edge of the range and the groups after `through` read raw samples.
//! Each group takes from one source only: the raw reads and the tier's windows meet on group
//! boundaries. `max_source_resolution` (`/query`'s parameter, as in PromQL) may forbid tiers.
//! Reads of a tier count in `gemini_query_tier_reads_total{tier}`.

use super::fields::FieldMap;
use super::select::{field_matcher, field_series, tag_filter, NS_PER_MS};
use super::select_fast::{raw_series, Part};
use super::Error;
use crate::data::schema::Policies;
use crate::data::{Data, Selection};
use crate::encoding::rollup::Tier;
use crate::labels::Labels;
use crate::promql::tier::Resolution;
use crate::query::aggregate::{Call, Windows};
use crate::query::condition::Cond;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

/// Which tiers a `SELECT` may read, and where it counts the reads it makes of each
/// (`Tier::ALL` order; `None`: not counted).
#[derive(Clone, Copy, Debug, Default)]
pub struct TierUse<'a> {
    pub resolution: Resolution,
    pub reads: Option<&'a [AtomicU64; 2]>,
}

/// The calls a tier's windows answer as the raw samples do.
const TIER_CALLS: [&str; 8] = ["count", "sum", "mean", "min", "max", "spread", "first", "last"];

/// The coarsest tier `resolution` allows whose resolution divides the windows' length and
/// offset, when there is `GROUP BY time` and a tier answers every call.
pub(super) fn choose(windows: &Windows, calls: &[Call], resolution: Resolution) -> Option<Tier> {
    let every = windows.every?;
    if !calls.iter().all(|c| TIER_CALLS.contains(&c.func.as_str())) {
        return None;
    }
    Tier::ALL.into_iter().rev().find(|&tier| {
        let res = tier.resolution() * NS_PER_MS;
        resolution.admits(tier) && every % res == 0 && windows.offset.rem_euclid(res) == 0
    })
}

/// Group boundaries in ms: groups `[offset + k × every, offset + (k + 1) × every)`.
#[derive(Clone, Copy, Debug)]
struct Grid {
    every: i64,
    offset: i64,
}

impl Grid {
    /// The last boundary at or before `t`.
    fn floor(self, t: i64) -> i64 {
        (t - self.offset).div_euclid(self.every) * self.every + self.offset
    }

    /// The first boundary at or after `t`.
    fn ceil(self, t: i64) -> i64 {
        let floor = self.floor(t);
        if floor == t { t } else { floor + self.every }
    }
}

/// The groups of `range` (ms, both ends in) that lie wholly inside it, `[from, to)` ms.
fn whole_groups(grid: Grid, (min_t, max_t): (i64, i64)) -> (i64, i64) {
    (grid.ceil(min_t), grid.floor(max_t.saturating_add(1)))
}

/// The series of field `field` of measurement `m` for the fast path over `range` (ms, both
/// ends in), each with its parts in time order: raw samples where no tier answers, the
/// tier's windows for whole groups it holds (see the module's doc).
#[allow(clippy::too_many_arguments)]
pub(super) async fn fast_series(data: &Data, target: (&str, Policies<'_>), (field_map, m): (&Arc<FieldMap>, &str), field: &str, cond: Option<&Arc<Cond>>, range: (i64, i64), (windows, calls): (&Windows, &[Call]), tiers: TierUse<'_>) -> Result<Vec<(Labels, Vec<Part>)>, Error> {
    let raw = |part: (i64, i64)| async move { raw_series(field_series(data, target, (field_map, m), field, cond, part).await?, part).await };
    let (Some(tier), Some(every)) = (choose(windows, calls, tiers.resolution), windows.every) else { return raw(range).await };
    let grid = Grid { every: every / NS_PER_MS, offset: windows.offset / NS_PER_MS };
    let (from, upto) = whole_groups(grid, range);
    if from >= upto {
        return raw(range).await;
    }
    let selection = Selection { matchers: vec![field_matcher(m, field)?], min_t: from, max_t: upto - 1 };
    let answer = data.select_tier(target.0, target.1, selection, tier).await?;
    let to = if answer.through == i64::MIN { from } else { grid.floor(upto.min(answer.through)) };
    if to <= from {
        return raw(range).await;
    }
    if let Some(reads) = tiers.reads {
        reads[tier as usize].fetch_add(1, Relaxed);
    }
    let mut series: BTreeMap<Labels, Vec<Part>> = BTreeMap::new();
    let mut add = |parts: Vec<(Labels, Vec<Part>)>| {
        for (labels, part) in parts {
            series.entry(labels).or_default().extend(part);
        }
    };
    if range.0 < from {
        add(raw((range.0, from - 1)).await?);
    }
    let keep = tag_filter(field_map, cond);
    let tier_parts = answer.series.into_iter().filter(|(labels, _)| keep.as_ref().is_none_or(|keep| keep(labels)));
    add(tier_parts.map(|(labels, mut windows)| {
        windows.retain(|w| (from..to).contains(&w.start));
        (labels, vec![Part::Tier(windows)])
    }).collect());
    if to <= range.1 {
        add(raw((to, range.1)).await?);
    }
    Ok(series.into_iter().collect())
}

#[cfg(test)]
#[path = "select_tier_tests.rs"]
mod tests;
