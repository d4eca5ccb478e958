//! Series produced a block at a time, and aggregations fed straight from them. A vector
//! selector's series (`select`) and a range function's (`Evaluator::roll_up`) are computed on
//! all cores a block of series at a time (`in_blocks`) and handed on in series order. Building
//! the whole matrix keeps every series; an aggregation of a selector or of a range function
//! (`sum by (mode) (rate(x[5m]))`, `count({__name__=~"node_.*"})`) instead folds each series
//! into its group's per-step accumulators (`aggregate_steps::Groups`) and drops it, so a query
//! holds one block of series, not every series × every step. Series reach the groups in the
//! same order as from the whole matrix, so every step adds them up in the same order and the
//! answers are the same to the bit; the sample limit is counted as if the matrix were built.

use super::aggregate_steps::{self, Groups};
use super::error::EvalError;
use super::eval::{newest_within, Evaluator};
use super::eval_window::window_call_of;
use super::plan::{AggOp, Node, Selector};
use super::tier::newest_value;
use super::value::{Matrix, Point, Series};
use crate::parallel;

/// Series computed (on all cores) before they are handed on: few enough that a block's points
/// stay small, many enough that the threads have work.
const SERIES_PER_BLOCK: usize = 512;

/// `produce(0), ..., produce(n - 1)` computed on all cores a block at a time, each handed to
/// `take` with its index in index order; the next block is computed while `take` goes through
/// one, so at most two blocks are held. The first error of `take` stops it.
pub(super) fn in_blocks<T: Send>(n: usize, produce: impl Fn(usize) -> T + Sync, mut take: impl FnMut(usize, T) -> Result<(), EvalError>) -> Result<(), EvalError> {
    let produce = &produce;
    let block = move |from: usize| parallel::map((n - from).min(SERIES_PER_BLOCK), |k| produce(from + k));
    if n <= SERIES_PER_BLOCK {
        return block(0).into_iter().enumerate().try_for_each(|(i, answer)| take(i, answer));
    }
    std::thread::scope(|scope| {
        let mut next = Some(scope.spawn(move || block(0)));
        for from in (0..n).step_by(SERIES_PER_BLOCK) {
            let answers = next.take().expect("a block under way").join().expect("a query worker thread panicked");
            if from + SERIES_PER_BLOCK < n {
                next = Some(scope.spawn(move || block(from + SERIES_PER_BLOCK)));
            }
            for (k, answer) in answers.into_iter().enumerate() {
                take(from + k, answer)?;
            }
        }
        Ok(())
    })
}

impl Evaluator<'_> {
    /// A vector selector's series that have a point at some step (one point per step: the
    /// newest sample at most the lookback before the reference time, unless it is a staleness
    /// marker), handed to `take` with their index in series order and held as they come.
    pub(super) fn select(&mut self, sel: &Selector, mut take: impl FnMut(usize, Series)) -> Result<(), EvalError> {
        let steps: Vec<i64> = self.steps().collect();
        let stored = &self.series[sel.id];
        let lookback = self.lookback;
        let produce = |i: usize| -> Result<Series, EvalError> {
            let series = stored[i].decode()?;
            let tier = stored[i].tier.as_ref();
            let mut points = Vec::new();
            // The points at or before the reference time, which only moves forward.
            let mut upto = 0;
            for &ts in &steps {
                let reference = Self::reference_time(sel, ts);
                if let Some(part) = tier.filter(|part| reference <= part.through) {
                    if let Some(v) = newest_value(&part.windows, reference, lookback) {
                        points.push(Point { t: ts, v });
                    }
                    continue;
                }
                while upto < series.points.len() && series.points[upto].t <= reference {
                    upto += 1;
                }
                if let Some(p) = newest_within(&series.points[..upto], reference, lookback) {
                    points.push(Point { t: ts, v: p.v });
                }
            }
            Ok(Series { labels: series.labels, points })
        };
        in_blocks(stored.len(), produce, |i, series| {
            let series = series?;
            if !series.points.is_empty() {
                self.hold(series.points.len())?;
                take(i, series);
            }
            Ok(())
        })
    }

    /// `op` of a vector selector or of a range function over one, with no parameter (all but
    /// topk, bottomk, quantile and count_values), computed with each series folded into its
    /// group as it comes; None for any other aggregation, which builds its input first.
    /// What it holds is counted, and errors raised, as `Evaluator::aggregate_steps` does.
    pub(super) fn fused_aggregate(&mut self, op: AggOp, param: Option<&Node>, expr: &Node, grouping: &[String], without: bool) -> Result<Option<Matrix>, EvalError> {
        if param.is_some() || !aggregate_steps::folds_without_param(op) {
            return Ok(None);
        }
        let before = self.current;
        let steps: Vec<i64> = self.steps().collect();
        let mut groups = Groups::new(op, grouping, without, &steps, Vec::new());
        let mut inputs_at = vec![0; steps.len()];
        let (start, interval) = (self.start, self.interval);
        let mut fold = |i: usize, series: Series| {
            count_per_step(&mut inputs_at, &series, start, interval);
            groups.add(i, &series);
        };
        match expr {
            Node::Vector(sel) => {
                self.check_deadline()?;
                self.select(sel, &mut fold)?;
            }
            Node::Call { name, args, .. } => {
                let Some((call, arg)) = window_call_of(name, args) else { return Ok(None) };
                self.check_deadline()?;
                self.roll_up(call, arg, &mut fold)?;
            }
            _ => return Ok(None),
        }
        let held_inputs = self.current;
        self.check_deadline()?;
        let out = groups.by_group(&[]);
        self.hold_aggregation(held_inputs, &inputs_at, &out)?;
        let produced = out.iter().map(|s| s.points.len()).sum();
        self.current = before;
        self.hold(produced)?;
        Ok(Some(out))
    }

    /// Checks what an aggregation holds as Prometheus 2.42's `rangeEval` counts it: at each
    /// step, the inputs held (`held_inputs`), the step's input samples gathered into its vector
    /// (`inputs_at`, by step) and the answer's points up to that step. (Called with
    /// `self.current` at `held_inputs`; it stays so.)
    pub(super) fn hold_aggregation(&mut self, held_inputs: usize, inputs_at: &[usize], out: &Matrix) -> Result<(), EvalError> {
        let mut out_at = vec![0; self.steps().count()];
        for series in out {
            count_per_step(&mut out_at, series, self.start, self.interval);
        }
        let mut answered = 0;
        for (k, out) in out_at.iter().enumerate() {
            answered += out;
            if held_inputs + answered + inputs_at.get(k).copied().unwrap_or(0) > self.limits.max_samples {
                return Err(EvalError::TooManySamples("query execution"));
            }
        }
        Ok(())
    }
}

/// Adds one to `at[k]` for each point of `series`, at step `k` of the steps from `start`
/// `interval` apart.
pub(super) fn count_per_step(at: &mut [usize], series: &Series, start: i64, interval: i64) {
    for p in &series.points {
        at[((p.t - start) / interval.max(1)) as usize] += 1;
    }
}
