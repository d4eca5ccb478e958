//! Binary operators between two vectors over every step of a range query at once. Within a
//! query each input series keeps its label set at every step, so the matching is worked out
//! once per series (its signature, interned to a number), and each output label set once per
//! pair of matched series; a step then only looks up numbers and does the arithmetic on the
//! series present at that step. The answer is exactly the one `binary::vector_binop`,
//! `vector_and`, `vector_or` and `vector_unless` give step by step inside `range_eval`
//! (Prometheus 2.42's `VectorBinop` etc.): the same values, labels and series order, and the
//! same errors at the same step, raised only when the conflicting samples are present at it.

use super::binary::{self, btos, duplicate_on_one_side, result_metric, signature, vector_elem_binop};
use super::error::EvalError;
use super::eval::{Evaluator, SAME_LABELSET};
use super::plan::{BinOp, Cardinality, Node, VectorMatching};
use super::value::{Labels, Matrix, Point, Series};
use rustc_hash::FxHashMap;

#[cfg(test)]
thread_local! {
    /// Tests set this to have the evaluator take the step-by-step path, to compare.
    pub(super) static STEP_BY_STEP: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether `Join` evaluates `op` between two vectors: set operators, and arithmetic and
/// comparisons whose matching is not many-to-many (which `vector_binop` refuses).
pub(super) fn handles(op: BinOp, matching: &VectorMatching) -> bool {
    #[cfg(test)]
    if STEP_BY_STEP.get() {
        return false;
    }
    is_set_op(op) || matching.card != Cardinality::ManyToMany
}

fn is_set_op(op: BinOp) -> bool {
    matches!(op, BinOp::And | BinOp::Or | BinOp::Unless)
}

impl Evaluator<'_> {
    /// `lhs op rhs` between two vectors over all steps (see `handles`); what it holds is
    /// counted, and the deadline checked, at each step as `range_eval` does.
    pub(super) fn binary_steps(&mut self, op: BinOp, lhs: &Node, rhs: &Node, matching: &VectorMatching, return_bool: bool) -> Result<Matrix, EvalError> {
        let before = self.current;
        let l = self.matrix(lhs)?;
        let r = self.matrix(rhs)?;
        let held_inputs = self.current;
        let mut join = Join::new(op, &l, &r, matching, return_bool);
        let mut produced = 0usize;
        let steps: Vec<i64> = self.steps().collect();
        for ts in steps {
            self.check_deadline()?;
            produced += join.step(ts)?;
            self.current = held_inputs;
            self.hold(produced)?;
        }
        self.current = before;
        self.hold(produced)?;
        Ok(join.out)
    }
}

/// The sides of a join and what is known of their series for the whole query. For
/// arithmetic and comparisons, `many` is the side whose samples each produce at most one
/// output and `one` the side whose signatures must be unique at a step (the rhs, or the lhs
/// for `group_right`); for set operators they are the lhs and the rhs.
pub(super) struct Join<'m> {
    op: BinOp,
    return_bool: bool,
    matching: &'m VectorMatching,
    one_to_many: bool,
    many: Side<'m>,
    one: Side<'m>,
    /// Per signature: the step (numbered from 1) at which the `one` side last had a sample
    /// with it, that sample's series and value; for set operators only the step is used.
    one_at: Vec<(usize, u32, f64)>,
    /// Per signature: the step at which a one-to-one match last used it.
    matched_at: Vec<usize>,
    /// The (signature, output) pairs of a group_left/right match, numbered; per number, the
    /// step at which it was last produced.
    inserted: FxHashMap<(u32, u32), u32>,
    inserted_at: Vec<usize>,
    /// Per `many` series: the `one` series it was last matched with, the output of the pair
    /// and the number of its (signature, output) pair.
    pair: Vec<Option<(u32, u32, u32)>>,
    /// Output label sets, numbered in the order the step-by-step evaluation first produces
    /// them; per output, the step at which it last got a point.
    outputs: FxHashMap<Labels, u32>,
    out_at: Vec<usize>,
    out: Matrix,
    /// Steps done so far.
    step: usize,
}

/// One input of a join: its series, the signature number of each, the index of each series'
/// next point not yet taken, and (reused at every step) the series present at the step with
/// their values.
struct Side<'m> {
    series: &'m Matrix,
    sig: Vec<u32>,
    next: Vec<usize>,
    present: Vec<(u32, f64)>,
    /// For set operators: the output number of each series, once it has produced one.
    output: Vec<Option<u32>>,
}

impl<'m> Side<'m> {
    fn new(series: &'m Matrix, sig: Vec<u32>) -> Side<'m> {
        Side { series, sig, next: vec![0; series.len()], present: Vec::new(), output: vec![None; series.len()] }
    }

    /// Takes the points at `ts` (as `range_eval` builds its input vectors).
    fn take(&mut self, ts: i64) {
        self.present.clear();
        for (i, (s, next)) in self.series.iter().zip(&mut self.next).enumerate() {
            if let Some(p) = s.points.get(*next) {
                if p.t == ts {
                    self.present.push((i as u32, p.v));
                    *next += 1;
                }
            }
        }
    }
}

impl<'m> Join<'m> {
    /// Works out the signature of every series of `lhs` and `rhs` under `matching`.
    pub(super) fn new(op: BinOp, lhs: &'m Matrix, rhs: &'m Matrix, matching: &'m VectorMatching, return_bool: bool) -> Join<'m> {
        let mut sigs: FxHashMap<Vec<(&str, &str)>, u32> = FxHashMap::default();
        let mut number = |m: &'m Matrix| -> Vec<u32> {
            m.iter()
                .map(|s| {
                    let next = sigs.len() as u32;
                    *sigs.entry(signature(&s.labels, matching)).or_insert(next)
                })
                .collect()
        };
        let (l, r) = (number(lhs), number(rhs));
        let n = sigs.len();
        let one_to_many = !is_set_op(op) && matching.card == Cardinality::OneToMany;
        let (many, one) = if one_to_many { (Side::new(rhs, r), Side::new(lhs, l)) } else { (Side::new(lhs, l), Side::new(rhs, r)) };
        Join {
            op,
            return_bool,
            matching,
            one_to_many,
            pair: vec![None; many.series.len()],
            many,
            one,
            one_at: vec![(0, 0, 0.0); n],
            matched_at: vec![0; n],
            inserted: FxHashMap::default(),
            inserted_at: Vec::new(),
            outputs: FxHashMap::default(),
            out_at: Vec::new(),
            out: Vec::new(),
            step: 0,
        }
    }

    /// The answer at step `ts` (the next step), added to the output series: how many samples
    /// it has.
    pub(super) fn step(&mut self, ts: i64) -> Result<usize, EvalError> {
        self.step += 1;
        self.many.take(ts);
        self.one.take(ts);
        let mut emitted = Emitted::default();
        match self.op {
            BinOp::And => self.and_unless(ts, true, &mut emitted),
            BinOp::Unless => self.and_unless(ts, false, &mut emitted),
            BinOp::Or => self.or(ts, &mut emitted),
            _ => self.arithmetic(ts, &mut emitted)?,
        }
        if emitted.same_labelset {
            return Err(EvalError::Execution(SAME_LABELSET.into()));
        }
        Ok(emitted.count)
    }

    /// The output series numbered by labels `labels`, new ones numbered in order.
    fn output(&mut self, labels: Labels) -> u32 {
        let next = self.outputs.len() as u32;
        *self.outputs.entry(labels.clone()).or_insert_with(|| {
            self.out.push(Series { labels, points: Vec::new() });
            self.out_at.push(0);
            next
        })
    }

    /// Adds a point to output `o` at this step, noting a second one (an error once the step
    /// is done, as `range_eval` checks after the operator).
    fn emit(&mut self, o: u32, ts: i64, v: f64, emitted: &mut Emitted) {
        let o = o as usize;
        if self.out_at[o] == self.step {
            emitted.same_labelset = true;
            return;
        }
        self.out_at[o] = self.step;
        self.out[o].points.push(Point { t: ts, v });
        emitted.count += 1;
    }

    /// Marks the signatures present on the `one` side at this step (set operators).
    fn mark_one(&mut self) {
        for &(j, _) in &self.one.present {
            self.one_at[self.one.sig[j as usize] as usize].0 = self.step;
        }
    }

    /// `and` (`keep_matched`) and `unless`: the lhs samples whose signature the rhs has (not).
    fn and_unless(&mut self, ts: i64, keep_matched: bool, emitted: &mut Emitted) {
        if keep_matched && (self.many.present.is_empty() || self.one.present.is_empty()) {
            return;
        }
        self.mark_one();
        for k in 0..self.many.present.len() {
            let (i, v) = self.many.present[k];
            if (self.one_at[self.many.sig[i as usize] as usize].0 == self.step) == keep_matched {
                let o = self.side_output(true, i);
                self.emit(o, ts, v, emitted);
            }
        }
    }

    /// `or`: all lhs samples, then the rhs samples whose signature the lhs does not have.
    fn or(&mut self, ts: i64, emitted: &mut Emitted) {
        for k in 0..self.many.present.len() {
            let (i, v) = self.many.present[k];
            self.one_at[self.many.sig[i as usize] as usize].0 = self.step;
            let o = self.side_output(true, i);
            self.emit(o, ts, v, emitted);
        }
        for k in 0..self.one.present.len() {
            let (j, v) = self.one.present[k];
            if self.one_at[self.one.sig[j as usize] as usize].0 != self.step {
                let o = self.side_output(false, j);
                self.emit(o, ts, v, emitted);
            }
        }
    }

    /// The output of series `i` of the lhs (`many`) or the rhs under a set operator: its own
    /// labels.
    fn side_output(&mut self, lhs: bool, i: u32) -> u32 {
        let side = if lhs { &self.many } else { &self.one };
        if let Some(o) = side.output[i as usize] {
            return o;
        }
        let o = self.output(side.series[i as usize].labels.clone());
        let side = if lhs { &mut self.many } else { &mut self.one };
        side.output[i as usize] = Some(o);
        o
    }

    /// An arithmetic operator or comparison, as `vector_binop` does it at one step.
    fn arithmetic(&mut self, ts: i64, emitted: &mut Emitted) -> Result<(), EvalError> {
        if self.many.present.is_empty() || self.one.present.is_empty() {
            return Ok(());
        }
        let step = self.step;
        for k in 0..self.one.present.len() {
            let (j, v) = self.one.present[k];
            let sig = self.one.sig[j as usize] as usize;
            let (at, earlier, _) = self.one_at[sig];
            if at == step {
                let labels = |x: u32| &self.one.series[x as usize].labels;
                let sig = signature(labels(j), self.matching);
                return Err(duplicate_on_one_side(&sig, self.one_to_many, labels(j), labels(earlier)));
            }
            self.one_at[sig] = (step, j, v);
        }
        let one_to_one = self.matching.card == Cardinality::OneToOne;
        for k in 0..self.many.present.len() {
            let (i, v) = self.many.present[k];
            let sig = self.many.sig[i as usize];
            let (at, j, one_v) = self.one_at[sig as usize];
            if at != step {
                continue;
            }
            let (vl, vr) = if self.one_to_many { (one_v, v) } else { (v, one_v) };
            let (mut value, keep) = vector_elem_binop(self.op, vl, vr);
            if self.return_bool {
                value = btos(keep);
            } else if !keep {
                continue;
            }
            let (o, inserted) = self.pair_output(i, j, sig);
            if one_to_one {
                if self.matched_at[sig as usize] == step {
                    return Err(EvalError::Execution(binary::MANY_TO_ONE_NOT_EXPLICIT.to_string()));
                }
                self.matched_at[sig as usize] = step;
            } else {
                if self.inserted_at[inserted as usize] == step {
                    return Err(EvalError::Execution(binary::GROUPING_NOT_UNIQUE.to_string()));
                }
                self.inserted_at[inserted as usize] = step;
            }
            self.emit(o, ts, value, emitted);
        }
        Ok(())
    }

    /// The output of `many` series `i` (of signature `sig`) matched with `one` series `j`
    /// (`resultMetric`), and the number of the (signature, output) pair, worked out when the
    /// pair is first met.
    fn pair_output(&mut self, i: u32, j: u32, sig: u32) -> (u32, u32) {
        if let Some((last, o, inserted)) = self.pair[i as usize] {
            if last == j {
                return (o, inserted);
            }
        }
        let (ls, rs) = (&self.many.series[i as usize].labels, &self.one.series[j as usize].labels);
        let mut metric = result_metric(ls, rs, self.op, self.matching);
        if self.return_bool {
            metric = metric.without_name();
        }
        let o = self.output(metric);
        let next = self.inserted.len() as u32;
        let inserted = *self.inserted.entry((sig, o)).or_insert(next);
        if inserted == next {
            self.inserted_at.push(0);
        }
        self.pair[i as usize] = Some((j, o, inserted));
        (o, inserted)
    }
}

/// What a step produced: its samples, and whether two had the same labels.
#[derive(Default)]
struct Emitted {
    count: usize,
    same_labelset: bool,
}

#[cfg(test)]
#[path = "binary_steps_tests.rs"]
mod tests;
