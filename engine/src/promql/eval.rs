//! The evaluator: Prometheus 2.42's `evaluator.eval` over the plan. Every expression is
//! evaluated for all steps of the query at once into a matrix (one point per step and series);
//! functions, operators and aggregations run step by step over the vectors of their arguments
//! (`range_eval`). Selectors read the series the query layer fetched for them, which are
//! sorted by time and still hold staleness markers. The sample limit and the deadline are
//! checked as it goes.

use super::aggregate_steps;
use super::count_values::count_values;
use super::eval_window::{window, window_call_of};
use super::fused::count_per_step;
use super::binary;
use super::binary_steps;
use super::error::EvalError;
use super::functions::labels::labels_for_absent;
use super::functions::Call;
use super::plan::{AggOp, BinOp, Kind, Node, Selector};
use super::value::{is_stale_nan, Labels, Matrix, Point, Sample, Series, Stored, TierPart, Value, Vector};
use rustc_hash::{FxHashMap, FxHashSet};
use std::time::Instant;

/// How much a query may take.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub deadline: Instant,
    pub max_samples: usize,
}

/// An evaluator over the steps `start, start + interval, ..., end` (ms).
pub struct Evaluator<'a> {
    pub start: i64,
    pub end: i64,
    pub interval: i64,
    pub lookback: i64,
    /// The series of each read of the plan, by selector id.
    pub series: &'a [Vec<Stored>],
    pub limits: Limits,
    /// Samples held by the evaluation so far.
    pub current: usize,
}

/// What evaluating a node gives: a string literal, or one point per step and series.
enum Evaluated {
    String(String),
    Matrix(Matrix),
}

pub(super) const SAME_LABELSET: &str = "vector cannot contain metrics with the same labelset";

impl<'a> Evaluator<'a> {
    /// Evaluates `node`: a matrix with one point per step and series (a string literal for a
    /// string expression).
    pub fn evaluate(&mut self, node: &Node) -> Result<Value, EvalError> {
        Ok(match self.eval(node)? {
            Evaluated::String(s) => Value::String(Point { t: self.start, v: 0.0 }, s),
            Evaluated::Matrix(m) => Value::Matrix(m),
        })
    }

    pub(super) fn steps(&self) -> impl Iterator<Item = i64> {
        let (start, end, interval) = (self.start, self.end, self.interval);
        (0..).map(move |i| start + i * interval).take_while(move |ts| *ts <= end)
    }

    pub(super) fn check_deadline(&self) -> Result<(), EvalError> {
        if Instant::now() > self.limits.deadline {
            return Err(EvalError::Timeout("expression evaluation"));
        }
        Ok(())
    }

    pub(super) fn hold(&mut self, samples: usize) -> Result<(), EvalError> {
        self.current += samples;
        if self.current > self.limits.max_samples {
            return Err(EvalError::TooManySamples("query execution"));
        }
        Ok(())
    }

    fn child(&self, start: i64, end: i64, interval: i64) -> Evaluator<'a> {
        Evaluator { start, end, interval, lookback: self.lookback, series: self.series, limits: self.limits, current: self.current }
    }

    pub(super) fn matrix(&mut self, node: &Node) -> Result<Matrix, EvalError> {
        match self.eval(node)? {
            Evaluated::Matrix(m) => Ok(m),
            Evaluated::String(_) => Err(EvalError::Execution("a string where a vector or scalar was expected".into())),
        }
    }

    fn eval(&mut self, node: &Node) -> Result<Evaluated, EvalError> {
        self.check_deadline()?;
        let matrix = match node {
            Node::String(s) => return Ok(Evaluated::String(s.clone())),
            Node::Number(n) => {
                let n = *n;
                self.range_eval(&[], |_, _| Ok(vec![Sample { labels: Labels::default(), point: Point { t: 0, v: n } }]))?
            }
            Node::Vector(sel) => self.vector_selector(sel)?,
            Node::Matrix { selector, range } => self.matrix_selector(selector, *range)?,
            Node::Subquery { .. } => self.subquery(node)?,
            Node::Negate(inner) => {
                let mut m = self.matrix(inner)?;
                for s in &mut m {
                    s.labels.remove("__name__");
                    for p in &mut s.points {
                        p.v = -p.v;
                    }
                }
                if has_same_labelset(m.iter().map(|s| &s.labels)) {
                    return Err(EvalError::Execution(SAME_LABELSET.into()));
                }
                m
            }
            Node::Binary { op, lhs, rhs, return_bool, matching } => {
                let (op, return_bool) = (*op, *return_bool);
                match (lhs.kind(), rhs.kind()) {
                    (Kind::Scalar, Kind::Scalar) => self.range_eval(&[lhs, rhs], |v, _| {
                        Ok(vec![Sample { labels: Labels::default(), point: Point { t: 0, v: binary::scalar_binop(op, scalar(&v[0]), scalar(&v[1])) } }])
                    })?,
                    (Kind::Vector, Kind::Scalar) => self.range_eval(&[lhs, rhs], |v, ts| Ok(binary::vector_scalar_binop(op, vector(&v[0]), scalar(&v[1]), false, return_bool, ts)))?,
                    (Kind::Scalar, Kind::Vector) => self.range_eval(&[lhs, rhs], |v, ts| Ok(binary::vector_scalar_binop(op, vector(&v[1]), scalar(&v[0]), true, return_bool, ts)))?,
                    (Kind::Vector, Kind::Vector) if matching.as_ref().is_some_and(|m| binary_steps::handles(op, m)) => {
                        self.binary_steps(op, lhs, rhs, matching.as_ref().expect("a binary operation between vectors has a matching"), return_bool)?
                    }
                    _ => {
                        let matching = matching.as_ref().expect("a binary operation between vectors has a matching");
                        self.range_eval(&[lhs, rhs], |v, ts| {
                            let (l, r) = (vector(&v[0]), vector(&v[1]));
                            match op {
                                BinOp::And => Ok(binary::vector_and(l, r, matching, ts)),
                                BinOp::Or => Ok(binary::vector_or(l, r, matching, ts)),
                                BinOp::Unless => Ok(binary::vector_unless(l, r, matching, ts)),
                                _ => binary::vector_binop(op, l, r, matching, return_bool, ts),
                            }
                        })?
                    }
                }
            }
            Node::Aggregate { op, expr, param, grouping, without } => self.aggregate_steps(*op, param.as_deref(), expr, grouping, *without)?,
            Node::Call { name, func, args, .. } => self.call(name, *func, args)?,
        };
        Ok(Evaluated::Matrix(matrix))
    }

    /// Evaluates `inputs` over all steps, then calls `f` at each step with their vectors
    /// (a scalar input gives a vector of one sample; a string input an empty vector) and
    /// gathers its answers into series (Prometheus' `rangeEval`).
    fn range_eval(&mut self, inputs: &[&Node], mut f: impl FnMut(&[Value], i64) -> Result<Vector, EvalError>) -> Result<Matrix, EvalError> {
        let before = self.current;
        let mut matrices = Vec::with_capacity(inputs.len());
        for input in inputs {
            matrices.push(match self.eval(input)? {
                Evaluated::Matrix(m) => Some(m),
                Evaluated::String(_) => None,
            });
        }
        let held_inputs = self.current;
        // Per input and series: the index of the next point not yet taken.
        let mut cursors: Vec<Vec<usize>> = matrices.iter().map(|m| vec![0; m.as_ref().map_or(0, |m| m.len())]).collect();
        let instant = self.start == self.end;
        let mut out: Matrix = Vec::new();
        let mut out_index: FxHashMap<Labels, usize> = FxHashMap::default();
        let mut produced = 0usize;
        let steps: Vec<i64> = self.steps().collect();
        for ts in steps {
            self.check_deadline()?;
            let mut args = Vec::with_capacity(inputs.len());
            for (m, cursor) in matrices.iter().zip(cursors.iter_mut()) {
                let mut vec = Vector::new();
                if let Some(m) = m {
                    for (series, next) in m.iter().zip(cursor.iter_mut()) {
                        if let Some(p) = series.points.get(*next) {
                            if p.t == ts {
                                vec.push(Sample { labels: series.labels.clone(), point: *p });
                                *next += 1;
                            }
                        }
                    }
                }
                args.push(Value::Vector(vec));
            }
            let result = f(&args, ts)?;
            if has_same_labelset(result.iter().map(|s| &s.labels)) {
                return Err(EvalError::Execution(SAME_LABELSET.into()));
            }
            produced += result.len();
            self.current = held_inputs;
            self.hold(produced)?;
            if instant {
                out = result.into_iter().map(|s| Series { labels: s.labels, points: vec![Point { t: ts, v: s.point.v }] }).collect();
                break;
            }
            for s in result {
                let point = Point { t: ts, v: s.point.v };
                match out_index.get(&s.labels) {
                    Some(&i) => out[i].points.push(point),
                    None => {
                        out_index.insert(s.labels.clone(), out.len());
                        out.push(Series { labels: s.labels, points: vec![point] });
                    }
                }
            }
        }
        self.current = before;
        self.hold(produced)?;
        Ok(out)
    }

    /// An aggregation over every step at once (`aggregate_steps`, `count_values`; of a selector
    /// or range function fed series by series, `fused`), its
    /// parameter evaluated first; what it holds is counted, and an error raised, as
    /// `range_eval` does.
    fn aggregate_steps(&mut self, op: AggOp, param: Option<&Node>, expr: &Node, grouping: &[String], without: bool) -> Result<Matrix, EvalError> {
        if let Some(out) = self.fused_aggregate(op, param, expr, grouping, without)? {
            return Ok(out);
        }
        let before = self.current;
        let mut inputs = Vec::with_capacity(2);
        for node in param.into_iter().chain([expr]) {
            inputs.push(if let Evaluated::Matrix(m) = self.eval(node)? { m } else { Vec::new() });
        }
        let input = inputs.pop().unwrap_or_default();
        let held_inputs = self.current;
        self.check_deadline()?;
        let steps: Vec<i64> = self.steps().collect();
        let mut inputs_at = vec![0; steps.len()];
        for series in input.iter().chain(inputs.iter().flatten()) {
            count_per_step(&mut inputs_at, series, self.start, self.interval);
        }
        let (out, error) = match param {
            Some(Node::String(label)) => count_values(label, grouping, without, &input, &steps).map_or_else(|e| (Vec::new(), Some(e)), |out| (out, None)),
            _ => {
                let param = inputs.pop().map_or_else(Vec::new, |p| aggregate_steps::per_step(&p, &steps));
                aggregate_steps::aggregate(op, grouping, without, &param, &input, &steps)
            }
        };
        // (With an error at a step, only the answer before it is counted.)
        self.hold_aggregation(held_inputs, if error.is_some() { &[] } else { &inputs_at }, &out)?;
        error.map_or(Ok(()), Err)?;
        let produced = out.iter().map(|s| s.points.len()).sum();
        self.current = before;
        self.hold(produced)?;
        Ok(out)
    }

    /// The time a selector looks back from at step `ts`: `@` pins it.
    pub(super) fn reference_time(selector: &Selector, ts: i64) -> i64 {
        selector.at.unwrap_or(ts) - selector.offset
    }

    /// One point per step and series: the newest sample at most the lookback before the
    /// reference time, unless it is a staleness marker (`fused::select`).
    fn vector_selector(&mut self, sel: &Selector) -> Result<Matrix, EvalError> {
        let mut out = Vec::new();
        self.select(sel, |_, series| out.push(series))?;
        Ok(out)
    }

    /// A range vector at the (single) evaluation time: each series' samples in the window.
    fn matrix_selector(&mut self, sel: &Selector, range: i64) -> Result<Matrix, EvalError> {
        let max_t = Self::reference_time(sel, self.start);
        let mut out = Vec::new();
        let all = self.series;
        for stored in &all[sel.id] {
            let series = stored.decode()?;
            let points = window(&series.points, max_t - range, max_t).to_vec();
            if !points.is_empty() {
                self.hold(points.len())?;
                out.push(Series { labels: series.labels, points });
            }
        }
        Ok(out)
    }

    /// The inner expression evaluated at the subquery's own steps, aligned to multiples of
    /// its step (absolute alignment, as Prometheus does).
    fn subquery(&mut self, node: &Node) -> Result<Matrix, EvalError> {
        let Node::Subquery { expr, range, step, offset, at } = node else { unreachable!("subquery") };
        let (end, from) = match at {
            Some(t) => (t - offset, t - offset - range),
            None => (self.end - offset, self.start - offset - range),
        };
        let mut start = step * (from / step);
        if start < from {
            start += step;
        }
        let mut inner = self.child(start, end, *step);
        let m = inner.matrix(expr)?;
        self.current = inner.current;
        Ok(m)
    }

    /// The series a range-vector argument reads, and its window's range, offset and `@`: a
    /// matrix selector's stored series, or a subquery's answer.
    pub(super) fn range_source(&mut self, node: &Node) -> Result<(RangeSource<'a>, i64, i64, Option<i64>), EvalError> {
        let all = self.series;
        match node {
            Node::Matrix { selector, range } => Ok((RangeSource::Stored(&all[selector.id]), *range, selector.offset, selector.at)),
            Node::Subquery { range, offset, at, .. } => Ok((RangeSource::Evaluated(self.subquery(node)?), *range, *offset, *at)),
            _ => Err(EvalError::Execution("expected a range vector argument".into())),
        }
    }

    fn call(&mut self, name: &str, func: super::functions::FnImpl, args: &[Node]) -> Result<Matrix, EvalError> {
        if name == "timestamp" {
            if let Some(Node::Vector(sel)) = args.first() {
                return self.timestamp_of_selector(func, sel, args);
            }
        }
        if let Some((call, arg)) = window_call_of(name, args) {
            return self.window_call(call, arg);
        }
        let Some(matrix_arg) = args.iter().position(|a| a.kind() == Kind::Matrix) else {
            let inputs: Vec<&Node> = args.iter().collect();
            return self.range_eval(&inputs, |v, ts| {
                let values: Vec<Value> = v.iter().zip(args).map(|(v, a)| step_arg(v, a, ts)).collect();
                func(&Call { ts, args: &values, nodes: args, range: 0, offset: 0 })
            });
        };
        let before = self.current;
        let mut others = Vec::with_capacity(args.len());
        for (i, a) in args.iter().enumerate() {
            others.push(if i == matrix_arg || a.kind() == Kind::String { None } else { Some(self.matrix(a)?) });
        }
        let (source, range, offset, at) = self.range_source(&args[matrix_arg])?;
        let steps: Vec<i64> = self.steps().collect();
        let keep_name = name == "last_over_time";
        let mut out: Matrix = Vec::new();
        // absent_over_time: whether a series has a point in the window of each step.
        let mut step_has_points = vec![false; steps.len()];
        for i in 0..source.len() {
            self.check_deadline()?;
            let series = source.series(i)?;
            let labels = if keep_name { series.labels.clone() } else { series.labels.without_name() };
            let mut points = Vec::new();
            for (step, &ts) in steps.iter().enumerate() {
                let max_t = at.unwrap_or(ts) - offset;
                let in_window = window(&series.points, max_t - range, max_t);
                if in_window.is_empty() {
                    continue;
                }
                if self.current + in_window.len() > self.limits.max_samples {
                    return Err(EvalError::TooManySamples("query execution"));
                }
                step_has_points[step] = true;
                if name == "absent_over_time" {
                    continue;
                }
                let values: Vec<Value> = args
                    .iter()
                    .enumerate()
                    .map(|(i, a)| match &others[i] {
                        _ if i == matrix_arg => Value::Matrix(vec![Series { labels: series.labels.clone(), points: in_window.to_vec() }]),
                        Some(m) => Value::Scalar(Point { t: ts, v: m.first().map_or(f64::NAN, |s| s.points[step].v) }),
                        None => step_arg(&Value::Vector(Vec::new()), a, ts),
                    })
                    .collect();
                let answer = func(&Call { ts, args: &values, nodes: args, range, offset: ts - max_t })?;
                if let Some(s) = answer.first() {
                    points.push(Point { t: ts, v: s.point.v });
                }
            }
            if !points.is_empty() {
                self.hold(points.len())?;
                out.push(Series { labels, points });
            }
        }
        self.current = before;
        if name == "absent_over_time" {
            let missing: Vec<Point> = steps.iter().zip(&step_has_points).filter(|(_, has)| !**has).map(|(&t, _)| Point { t, v: 1.0 }).collect();
            if missing.is_empty() {
                return Ok(Vec::new());
            }
            self.hold(missing.len())?;
            let labels = labels_for_absent(args.get(matrix_arg));
            return Ok(vec![Series { labels, points: missing }]);
        }
        if has_same_labelset(out.iter().map(|s| &s.labels)) {
            return Err(EvalError::Execution(SAME_LABELSET.into()));
        }
        self.hold(out.iter().map(|s| s.points.len()).sum())?;
        Ok(out)
    }

    /// `timestamp(<selector>)`: the function sees each sample with its own time.
    fn timestamp_of_selector(&mut self, func: super::functions::FnImpl, sel: &Selector, args: &[Node]) -> Result<Matrix, EvalError> {
        let series: Vec<Series> = self.series[sel.id].iter().map(Stored::decode).collect::<Result<_, _>>()?;
        let lookback = self.lookback;
        self.range_eval(&[], |_, ts| {
            // Prometheus 2.42 pins a `timestamp(x @ t)` selector at t without its offset.
            let reference = match sel.at {
                Some(t) => t,
                None => ts - sel.offset,
            };
            let vec: Vector = series
                .iter()
                .filter_map(|s| sample_at(s, reference, lookback).map(|point| Sample { labels: s.labels.clone(), point }))
                .collect();
            func(&Call { ts, args: &[Value::Vector(vec)], nodes: args, range: 0, offset: 0 })
        })
    }
}

/// The sample a selector sees at `reference`: the newest at most `lookback` older, unless it
/// is a staleness marker (Prometheus' `vectorSelectorSingle`).
fn sample_at(series: &Series, reference: i64, lookback: i64) -> Option<Point> {
    let after = series.points.partition_point(|p| p.t <= reference);
    newest_within(&series.points[..after], reference, lookback)
}

/// The last of `points` (those at or before `reference`) when it is at most `lookback` older
/// and not a staleness marker.
pub(super) fn newest_within(points: &[Point], reference: i64, lookback: i64) -> Option<Point> {
    let p = *points.last()?;
    (p.t >= reference - lookback && !is_stale_nan(p.v)).then_some(p)
}

/// What a range-vector argument reads: stored series (decoded one at a time) or a subquery's.
pub(super) enum RangeSource<'a> {
    Stored(&'a [Stored]),
    Evaluated(Matrix),
}

impl RangeSource<'_> {
    pub(super) fn len(&self) -> usize {
        match self {
            RangeSource::Stored(s) => s.len(),
            RangeSource::Evaluated(m) => m.len(),
        }
    }

    /// The downsampled tier's windows of series `i`, when a tier answers its read.
    pub(super) fn tier(&self, i: usize) -> Option<&TierPart> {
        match self {
            RangeSource::Stored(s) => s[i].tier.as_ref(),
            RangeSource::Evaluated(_) => None,
        }
    }

    pub(super) fn series(&self, i: usize) -> Result<std::borrow::Cow<'_, Series>, EvalError> {
        Ok(match self {
            RangeSource::Stored(s) => std::borrow::Cow::Owned(s[i].decode()?),
            RangeSource::Evaluated(m) => std::borrow::Cow::Borrowed(&m[i]),
        })
    }
}

/// A function's argument at one step: scalars as `Value::Scalar`, strings as their literal.
fn step_arg(v: &Value, node: &Node, ts: i64) -> Value {
    match node.kind() {
        Kind::Scalar => Value::Scalar(Point { t: ts, v: scalar(v) }),
        Kind::String => match node {
            Node::String(s) => Value::String(Point { t: ts, v: 0.0 }, s.clone()),
            _ => Value::String(Point { t: ts, v: 0.0 }, String::new()),
        },
        _ => v.clone(),
    }
}

fn vector(v: &Value) -> &[Sample] {
    match v {
        Value::Vector(v) => v,
        _ => &[],
    }
}

/// The value of a scalar input at a step (a vector of one sample).
fn scalar(v: &Value) -> f64 {
    match v {
        Value::Vector(v) => v.first().map_or(f64::NAN, |s| s.point.v),
        Value::Scalar(p) => p.v,
        _ => f64::NAN,
    }
}

fn has_same_labelset<'l>(labels: impl Iterator<Item = &'l Labels>) -> bool {
    let mut seen = FxHashSet::default();
    labels.into_iter().any(|l| !seen.insert(l))
}
