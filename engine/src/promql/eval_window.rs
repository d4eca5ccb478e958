//! The evaluator's fast path for a function of one range vector (`rate`, `increase`,
//! `*_over_time`, ...; `functions::lookup_window`): each series is decoded once, its staleness
//! markers dropped once, and its window slid forward over all steps in one pass, with the
//! window function called on a slice of its points (no argument vectors, label copies or
//! window copies per step). Series are rolled up on all cores a block at a time
//! (`fused::in_blocks`), and handed on in series order; the sample
//! limit is counted in series order exactly as the step-by-step path counts it, so the
//! same queries fail with the same error. Steps a downsampled tier answers (`tier`) merge the
//! tier's windows instead of slicing samples.

use super::error::EvalError;
use super::eval::{Evaluator, RangeSource};
use super::functions::{Window, WindowFn};
use super::fused::in_blocks;
use super::plan::Node;
use super::tier::{merge, tier_fn, TierFn};
use super::value::{is_stale_nan, Matrix, Point, Series};
use rustc_hash::FxHashSet;
use std::borrow::Cow;
use std::time::Instant;

/// One series rolled up: its output points, and the most points (or tier windows) any of its
/// windows held.
struct Rolled {
    series: Series,
    widest_window: usize,
}

/// A call the fast path computes: the window function, its tier form when a downsampled tier
/// answers it (`tier::tier_fn`), and whether it keeps the metric name (last_over_time).
#[derive(Clone, Copy)]
pub(super) struct WindowCall {
    f: WindowFn,
    tier: Option<TierFn>,
    keep_name: bool,
}

/// The call and its range argument when the fast path computes `name(args)` (one range-vector
/// argument).
pub(super) fn window_call_of<'n>(name: &str, args: &'n [Node]) -> Option<(WindowCall, &'n Node)> {
    match (super::functions::lookup_window(name), args) {
        (Some(f), [arg]) => Some((WindowCall { f, tier: tier_fn(name), keep_name: name == "last_over_time" }, arg)),
        _ => None,
    }
}

/// Where the windows of one call lie: the steps, and the range, offset and `@` of its argument.
struct Span<'s> {
    steps: &'s [i64],
    range: i64,
    offset: i64,
    at: Option<i64>,
}

impl Evaluator<'_> {
    /// `call` over `arg` (a matrix selector or subquery) at every step.
    pub(super) fn window_call(&mut self, call: WindowCall, arg: &Node) -> Result<Matrix, EvalError> {
        let mut out = Vec::new();
        self.roll_up(call, arg, |_, series| out.push(series))?;
        Ok(out)
    }

    /// `call` over `arg` at every step, each series with a point handed to `take` (with its
    /// index in the source) in series order, rolled up a block at a time (`fused::in_blocks`);
    /// the sample limit counted, and duplicate label sets refused, as if the whole matrix were
    /// built.
    pub(super) fn roll_up(&mut self, call: WindowCall, arg: &Node, mut take: impl FnMut(usize, Series)) -> Result<(), EvalError> {
        let before = self.current;
        let (source, range, offset, at) = self.range_source(arg)?;
        let steps: Vec<i64> = self.steps().collect();
        let span = Span { steps: &steps, range, offset, at };
        let deadline = self.limits.deadline;
        let mut seen = FxHashSet::default();
        let mut same_labelset = false;
        let mut points = 0;
        in_blocks(
            source.len(),
            |i| roll(&source, i, call, &span, deadline),
            |i, rolled| {
                let Some(r) = rolled? else { return Ok(()) };
                if self.current + r.widest_window > self.limits.max_samples {
                    return Err(EvalError::TooManySamples("query execution"));
                }
                if !r.series.points.is_empty() {
                    self.hold(r.series.points.len())?;
                    points += r.series.points.len();
                    same_labelset |= !seen.insert(r.series.labels.clone());
                    take(i, r.series);
                }
                Ok(())
            },
        )?;
        self.current = before;
        if same_labelset {
            return Err(EvalError::Execution(super::eval::SAME_LABELSET.into()));
        }
        self.hold(points)
    }
}

/// Series `i` of `source` rolled up over the steps: none when no window holds a point. Steps
/// before its tier's `through` (when a tier answers the read) come from the tier's windows.
fn roll(source: &RangeSource, i: usize, call: WindowCall, span: &Span, deadline: Instant) -> Result<Option<Rolled>, EvalError> {
    if Instant::now() > deadline {
        return Err(EvalError::Timeout("expression evaluation"));
    }
    let series = source.series(i)?;
    let all = &series.points;
    let points: Cow<[Point]> = if all.iter().any(|p| is_stale_nan(p.v)) {
        Cow::Owned(all.iter().copied().filter(|p| !is_stale_nan(p.v)).collect())
    } else {
        Cow::Borrowed(all)
    };
    let tier = match (source.tier(i), call.tier) {
        (Some(part), Some(f)) => Some((part, f)),
        (Some(_), None) => return Err(EvalError::Execution("a downsampled tier was read for a function it does not answer".into())),
        (None, _) => None,
    };
    // A series whose values never go down has no counter reset in any window.
    let may_reset = points.windows(2).any(|w| !(w[1].v >= w[0].v));
    let (mut lo, mut hi) = (0, 0);
    let (mut tier_lo, mut tier_hi) = (0, 0);
    let mut out = Vec::new();
    let mut widest_window = 0;
    let range = span.range;
    for &ts in span.steps {
        // The window [max_t - range, max_t] only moves forward (`@` pins it).
        let max_t = span.at.unwrap_or(ts) - span.offset;
        let min_t = max_t - range;
        let args = Window { ts, range, offset: ts - max_t, may_reset };
        if let Some((part, f)) = tier.filter(|(part, _)| max_t <= part.through) {
            // The tier's windows starting in [min_t, max_t).
            let windows = &part.windows;
            while tier_hi < windows.len() && windows[tier_hi].start < max_t {
                tier_hi += 1;
            }
            while tier_lo < tier_hi && windows[tier_lo].start < min_t {
                tier_lo += 1;
            }
            let Some(merged) = merge(&windows[tier_lo..tier_hi]) else { continue };
            widest_window = widest_window.max(tier_hi - tier_lo);
            if let Some(v) = f(&merged, args) {
                out.push(Point { t: ts, v });
            }
            continue;
        }
        while hi < points.len() && points[hi].t <= max_t {
            hi += 1;
        }
        while lo < hi && points[lo].t < min_t {
            lo += 1;
        }
        let in_window = &points[lo..hi];
        if in_window.is_empty() {
            continue;
        }
        widest_window = widest_window.max(in_window.len());
        if let Some(v) = (call.f)(in_window, args) {
            out.push(Point { t: ts, v });
        }
    }
    if widest_window == 0 {
        return Ok(None);
    }
    let labels = if call.keep_name { series.labels.clone() } else { series.labels.without_name() };
    Ok(Some(Rolled { series: Series { labels, points: out }, widest_window }))
}

/// The points of a series sorted by time with `min_t <= t <= max_t`, staleness markers left out.
pub(super) fn window(points: &[Point], min_t: i64, max_t: i64) -> std::borrow::Cow<'_, [Point]> {
    let lo = points.partition_point(|p| p.t < min_t);
    let hi = points.partition_point(|p| p.t <= max_t);
    let slice = &points[lo..hi.max(lo)];
    if slice.iter().any(|p| is_stale_nan(p.v)) {
        std::borrow::Cow::Owned(slice.iter().copied().filter(|p| !is_stale_nan(p.v)).collect())
    } else {
        std::borrow::Cow::Borrowed(slice)
    }
}
