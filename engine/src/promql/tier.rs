//! Downsampled tiers in PromQL: which reads of a range query a tier answers (`choose`, with
//! Thanos' `max_source_resolution`), and what a tier answers for a step.
//!
//! A tier keeps, per series, windows `[k × res, (k + 1) × res)` (`encoding::rollup`). A range
//! function at reference time `r` over range `d`, with `r` and `d` multiples of `res`, is
//! computed from the windows starting in `[r − d, r)`, which hold exactly the raw samples in
//! `[r − d, r)`; a plain selector takes the last value of the newest window starting in
//! `[r − lookback, r)`. Prometheus 2.42 reads `[r − d, r]`: the answers differ only when a
//! sample lies exactly on `r`. A step whose window ends after the tier's `through` reads raw
//! samples instead (`value::TierPart`).
//!
//! `min/max/count/last/present_over_time` from a tier equal the raw answers; `sum` and `avg`
//! equal them up to rounding (sums of window sums); `rate`, `increase` and `delta` use
//! Prometheus' extrapolation on the window's first and last samples, count and increase
//! across resets, the figures the raw computation uses.

use super::functions::rate::{extrapolate, kahan_sum_inc};
use super::functions::Window as Args;
use super::plan::{Node, Selector};
use super::run::Steps;
use super::value::Point;
use crate::encoding::rollup::{Tier, Window};

/// Which data a range query may read (the `max_source_resolution` parameter).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Resolution {
    /// Raw samples only (`raw`, or Thanos' `0s`).
    Raw,
    /// Tiers up to this one where they answer (`5m`, `1h`).
    Upto(Tier),
    /// The coarsest tier whose resolution is at most a fifth of the step (`auto`, the default),
    /// or a coarser one that answers the same (`allows`).
    #[default]
    Auto,
}

impl Resolution {
    /// The parameter's value: `raw` (or `0s`), `5m`, `1h`, `auto` or nothing.
    pub fn parse(text: &str) -> Result<Resolution, String> {
        Ok(match text {
            "" | "auto" => Resolution::Auto,
            "raw" | "0" | "0s" => Resolution::Raw,
            _ => match Tier::ALL.into_iter().find(|t| t.name() == text) {
                Some(tier) => Resolution::Upto(tier),
                None => return Err(format!("max_source_resolution must be raw, 5m, 1h or auto, not {text:?}")),
            },
        })
    }

    /// Whether `tier` may answer a range query of `step` ms. Under `auto`, a coarser tier than
    /// the one a fifth of the step picks answers too where its grid fits the query: its windows
    /// are merges of the finer windows, so the answer is the same (to rounding), from a
    /// twelfth of the windows (hours for 5-minute windows).
    fn allows(self, tier: Tier, step: i64) -> bool {
        self.admits(tier) && (self != Resolution::Auto || Tier::ALL.into_iter().any(|finer| finer <= tier && finer.resolution() * 5 <= step))
    }

    /// Whether the parameter lets `tier` answer at all, whatever the step: never for `raw`,
    /// up to the named tier, any tier for `auto`.
    pub fn admits(self, tier: Tier) -> bool {
        match self {
            Resolution::Raw => false,
            Resolution::Upto(most) => tier <= most,
            Resolution::Auto => true,
        }
    }
}

/// A read answered from a tier: which one, and the farthest its uses look back from a step's
/// reference time (their widest range, or the lookback).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TierRead {
    pub tier: Tier,
    pub reach: i64,
}

/// The tier that answers each of the `reads` reads of `root` (`None`: raw): the coarsest the
/// resolution allows for which the steps are aligned (start and step multiples of its
/// resolution) and every use of the read is answerable (`walk`). Instant queries read raw.
pub fn choose(root: &Node, reads: usize, steps: Steps, resolution: Resolution) -> Vec<Option<TierRead>> {
    let mut chosen = vec![None; reads];
    if steps.step == 0 {
        return chosen;
    }
    for tier in Tier::ALL.into_iter().rev() {
        let res = tier.resolution();
        if !resolution.allows(tier, steps.step) || steps.start.rem_euclid(res) != 0 || steps.step % res != 0 {
            continue;
        }
        let mut uses = vec![Use::Unused; reads];
        walk(root, res, steps.lookback, false, &mut uses);
        for (slot, used) in chosen.iter_mut().zip(uses) {
            if let (None, Use::Answerable(reach)) = (*slot, used) {
                *slot = Some(TierRead { tier, reach });
            }
        }
    }
    chosen
}

/// How the uses of a read seen so far can be answered.
#[derive(Clone, Copy, Debug)]
enum Use {
    Unused,
    /// From a tier, looking back at most this far.
    Answerable(i64),
    Raw,
}

fn mark(uses: &mut [Use], id: usize, reach: Option<i64>) {
    uses[id] = match (uses[id], reach) {
        (Use::Raw, _) | (_, None) => Use::Raw,
        (Use::Unused, Some(r)) => Use::Answerable(r),
        (Use::Answerable(a), Some(r)) => Use::Answerable(a.max(r)),
    };
}

/// `span` when a selector looking back `span` from its reference time reads whole windows of
/// `res`: no `@`, offset and span multiples of `res`.
fn aligned(sel: &Selector, span: i64, res: i64) -> Option<i64> {
    (sel.at.is_none() && sel.offset % res == 0 && span > 0 && span % res == 0).then_some(span)
}

/// Marks the reads of `node`'s selectors: answerable from windows of `res` when a plain
/// selector (lookback aligned) or the only argument of a range function a tier answers
/// (`tier_fn`, range aligned), outside subqueries (whose steps are their own); raw otherwise.
fn walk(node: &Node, res: i64, lookback: i64, in_subquery: bool, uses: &mut [Use]) {
    let each = |n: &Node, uses: &mut [Use]| walk(n, res, lookback, in_subquery, uses);
    match node {
        Node::Number(_) | Node::String(_) => {}
        Node::Vector(sel) => mark(uses, sel.id, aligned(sel, lookback, res).filter(|_| !in_subquery)),
        Node::Matrix { selector, .. } => mark(uses, selector.id, None),
        Node::Subquery { expr, .. } => walk(expr, res, lookback, true, uses),
        Node::Negate(e) => each(e, uses),
        Node::Binary { lhs, rhs, .. } => {
            each(lhs, uses);
            each(rhs, uses);
        }
        Node::Aggregate { expr, param, .. } => {
            each(expr, uses);
            if let Some(p) = param {
                each(p, uses);
            }
        }
        Node::Call { name, args, .. } => match (tier_fn(name), args.as_slice()) {
            (Some(_), [Node::Matrix { selector, range }]) if !in_subquery => mark(uses, selector.id, aligned(selector, *range, res)),
            // `timestamp` of a selector sees each sample's own time, which a tier does not keep.
            _ if name == "timestamp" => args.iter().for_each(|a| match a {
                Node::Vector(sel) => mark(uses, sel.id, None),
                a => each(a, uses),
            }),
            _ => args.iter().for_each(|a| each(a, uses)),
        },
    }
}

/// The windows of a query step merged: what a range function needs of them.
#[derive(Clone, Copy, Debug)]
pub struct Merged {
    pub count: u64,
    /// Kahan–Neumaier sum of the windows' sums.
    pub sum: f64,
    pub min: f64,
    pub max: f64,
    pub first: Point,
    pub last: Point,
    /// `last − first` plus the value before each reset.
    pub increase: f64,
}

/// `windows` (in time order) merged; `None` when there are none.
pub fn merge(windows: &[Window]) -> Option<Merged> {
    let (first, rest) = windows.split_first()?;
    let mut all = *first;
    let (mut sum, mut c) = (first.sum, 0.0);
    for w in rest {
        (sum, c) = kahan_sum_inc(w.sum, sum, c);
        all.merge(w);
    }
    Some(Merged {
        count: all.count,
        sum: if sum.is_infinite() { sum } else { sum + c },
        min: all.min,
        max: all.max,
        first: Point { t: all.first.0, v: all.first.1 },
        last: Point { t: all.last.0, v: all.last.1 },
        increase: all.increase(),
    })
}

/// A range function computed from a step's merged windows.
pub type TierFn = fn(&Merged, Args) -> Option<f64>;

/// The tier form of range function `name`, when a tier answers it.
pub fn tier_fn(name: &str) -> Option<TierFn> {
    let f: TierFn = match name {
        "avg_over_time" => |m, _| Some(m.sum / m.count as f64),
        "count_over_time" => |m, _| Some(m.count as f64),
        "last_over_time" => |m, _| Some(m.last.v),
        "max_over_time" => |m, _| Some(m.max),
        "min_over_time" => |m, _| Some(m.min),
        "present_over_time" => |_, _| Some(1.0),
        "sum_over_time" => |m, _| Some(m.sum),
        "rate" => |m, w| (m.count >= 2).then(|| extrapolate(m.first, m.last, m.count as usize, m.increase, w, true, true)),
        "increase" => |m, w| (m.count >= 2).then(|| extrapolate(m.first, m.last, m.count as usize, m.increase, w, true, false)),
        "delta" => |m, w| (m.count >= 2).then(|| extrapolate(m.first, m.last, m.count as usize, m.last.v - m.first.v, w, false, false)),
        _ => return None,
    };
    Some(f)
}

/// A plain selector's value at reference time `reference` from a tier: the last value of the
/// newest window starting in `[reference − lookback, reference)`.
pub fn newest_value(windows: &[Window], reference: i64, lookback: i64) -> Option<f64> {
    let before = windows.partition_point(|w| w.start < reference);
    let w = windows[..before].last()?;
    (w.start >= reference - lookback).then_some(w.last.1)
}

#[cfg(test)]
#[path = "tier_tests.rs"]
mod tests;
