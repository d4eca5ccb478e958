//! PromQL with Prometheus 2.42's semantics, parsed by the `promql-parser` crate and evaluated
//! against the data interface (`crate::data`), the same on a single node and in a cluster.
//! The HTTP query API (`http::prom_api`) calls `query`; this module must not touch storage
//! or HTTP.

pub mod error;
pub mod value;

/// What one evaluation may use: its time range and step, its lookback and its limits.
pub struct QueryParams {
    /// First evaluation time, in ms.
    pub start: i64,
    /// Last evaluation time, in ms (`start` for an instant query).
    pub end: i64,
    /// Between evaluation times, in ms; 0 for an instant query.
    pub step: i64,
    /// How far back an instant selector looks for a sample, in ms.
    pub lookback: i64,
    /// Past this the evaluation stops with `EvalError::Timeout`.
    pub deadline: std::time::Instant,
    /// At most this many samples held at once, else `EvalError::TooManySamples`.
    pub max_samples: usize,
}

/// Evaluates `text` in database `db` (policy `rp`, or the default one): an instant query
/// (start = end, step 0) answers a scalar, string, vector or matrix; a range query a matrix.
/// Also answers the warnings of the evaluation.
pub async fn query(data: &crate::data::Data, db: &str, rp: Option<&str>, text: &str, params: &QueryParams) -> Result<(value::Value, Vec<String>), error::EvalError> {
    // TEMPORARY: the evaluator replaces this body.
    let _ = (data, db, rp, text, params);
    Err(error::EvalError::Execution("not implemented yet".into()))
}
