//! Why a PromQL query failed, in the classes Prometheus' HTTP API answers with.

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EvalError {
    /// The query or a parameter is wrong (400 `bad_data`).
    #[error("{0}")]
    BadData(String),
    /// Evaluation failed (422 `execution`): duplicate label sets, many-to-many matching, ...
    #[error("{0}")]
    Execution(String),
    /// Past the query timeout (503 `timeout`).
    #[error("query timed out in {0}")]
    Timeout(&'static str),
    /// More samples than `--query.max-samples` would be held at once (422 `execution`).
    #[error("query processing would load too many samples into memory in {0}")]
    TooManySamples(&'static str),
    /// Stored data could not be read (500 `internal`).
    #[error("reading stored series: {0}")]
    Storage(#[from] super::value::Undecodable),
}
