//! A planned query evaluated over the series read for it, answered as Prometheus' query API
//! answers: an instant query as the expression's own type, a range query as a matrix sorted
//! by labels.

use super::build::Plan;
use super::error::EvalError;
use super::eval::{Evaluator, Limits};
use super::plan::Kind;
use super::value::{Point, Sample, Stored, Value};

/// The steps of a query (ms): `step` 0 for an instant query at `start`.
#[derive(Clone, Copy, Debug)]
pub struct Steps {
    pub start: i64,
    pub end: i64,
    pub step: i64,
    pub lookback: i64,
}

/// Whether the query can be asked this way: a range query must be of a scalar or instant
/// vector expression (checked before anything is read, as Prometheus does).
pub fn check_kind(plan: &Plan, steps: Steps) -> Result<(), EvalError> {
    let kind = plan.root.kind();
    if steps.step != 0 && !matches!(kind, Kind::Scalar | Kind::Vector) {
        let name = if kind == Kind::Matrix { "range vector" } else { "string" };
        return Err(EvalError::BadData(format!("invalid expression type {name:?} for range query, must be Scalar or instant Vector")));
    }
    Ok(())
}

/// Evaluates `plan` with `series` holding the answer of each of its reads.
pub fn run(plan: &Plan, series: &[Vec<Stored>], steps: Steps, limits: Limits) -> Result<Value, EvalError> {
    check_kind(plan, steps)?;
    let kind = plan.root.kind();
    let instant = steps.step == 0;
    let interval = if instant { 1 } else { steps.step };
    let mut evaluator = Evaluator { start: steps.start, end: steps.end, interval, lookback: steps.lookback, series, limits, current: 0 };
    let value = evaluator.evaluate(&plan.root)?;
    let Value::Matrix(mut matrix) = value else { return Ok(value) };
    if !instant {
        matrix.sort_by(|a, b| a.labels.cmp(&b.labels));
        return Ok(Value::Matrix(matrix));
    }
    Ok(match kind {
        Kind::Scalar => Value::Scalar(Point { t: steps.start, v: matrix.first().and_then(|s| s.points.first()).map_or(f64::NAN, |p| p.v) }),
        Kind::Vector => Value::Vector(matrix.into_iter().map(|s| Sample { point: Point { t: steps.start, v: s.points[0].v }, labels: s.labels }).collect()),
        _ => Value::Matrix(matrix),
    })
}
