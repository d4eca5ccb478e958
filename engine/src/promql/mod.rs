//! PromQL with Prometheus 2.42's semantics, over the data interface: a query is parsed by the
//! `promql-parser` crate and planned (`build`), each distinct selector is read once through
//! `Data::select` (the same reads remote read does, so one node and a cluster answer alike),
//! and the evaluator (`eval`, with `functions`, `binary` and `aggregate`) runs step by step
//! over those series on a blocking thread.

pub mod aggregate;
mod aggregate_steps;
pub mod binary;
mod binary_steps;
pub mod build;
mod count_values;
pub mod error;
pub mod eval;
mod eval_window;
mod fused;
pub mod functions;
pub mod gofmt;
pub mod plan;
pub mod pretty;
pub mod run;
pub mod selector;
pub mod tier;
pub mod value;

#[cfg(test)]
mod eval_tests;
#[cfg(test)]
mod testing;

use crate::data::{self, Data, Selection};
use crate::index::matcher::{MatchKind, Matcher};
use crate::encoding::piece::{self, StoredChunk};
use crate::data::schema::Policies;
use build::{Parsed, Read, Span};
use error::EvalError;
use eval::Limits;
use plan::MatchOp;
use run::Steps;
use crate::encoding::rollup::{Tier, Window};
use std::collections::BTreeMap;
use std::time::Instant;
use value::{Labels, Point, Stored, TierPart, Undecodable, Value};

/// What a query asks for and may take.
#[derive(Clone, Copy, Debug)]
pub struct QueryParams {
    /// Evaluation times (ms): `start == end` and `step` 0 for an instant query.
    pub start: i64,
    pub end: i64,
    pub step: i64,
    /// How far back an instant selector looks for a sample (ms).
    pub lookback: i64,
    pub deadline: Instant,
    /// Most samples held at once, the series read for the query included.
    pub max_samples: usize,
    /// Which downsampled tiers a range query may read (`max_source_resolution`).
    pub resolution: tier::Resolution,
}

/// Why a query failed: the query itself, or reading its data.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Eval(#[from] EvalError),
    #[error(transparent)]
    Data(#[from] data::Error),
}

/// A query's answer.
#[derive(Debug)]
pub struct Answered {
    pub value: Value,
    pub warnings: Vec<String>,
    /// The downsampled tier each read answered from a tier used.
    pub tiers: Vec<Tier>,
}

/// Evaluates the PromQL query `parsed` (`build::parse`; a range query answered in parts from
/// the cache is parsed once) over database `db` (policy `rp`, or the default one): an instant
/// query (start = end, step 0) answers a scalar, string, vector or matrix, a range query a
/// matrix; with the warnings of the evaluation and the tiers it read.
pub async fn query(data: &Data, db: &str, rp: Option<&str>, parsed: &Parsed, params: &QueryParams) -> Result<Answered, Error> {
    let plan = parsed.plan(Span { start: params.start, end: params.end, lookback: params.lookback })?;
    let steps = Steps { start: params.start, end: params.end, step: params.step, lookback: params.lookback };
    run::check_kind(&plan, steps)?;
    let mut series = Vec::with_capacity(plan.reads.len());
    let mut skipped = std::collections::BTreeSet::new();
    let mut tiers = Vec::new();
    for (read, tier) in plan.reads.iter().zip(tier::choose(&plan.root, plan.reads.len(), steps, params.resolution)) {
        let (stored, from_tier) = fetch(data, db, rp, read, tier, params.deadline, &mut skipped).await?;
        series.push(stored);
        tiers.extend(tier.filter(|_| from_tier).map(|t| t.tier));
    }
    let warnings = skipped.into_iter().map(|node| format!("cluster node {node} was skipped (down or too slow): answered from the other copies")).collect();
    let limits = Limits { deadline: params.deadline, max_samples: params.max_samples };
    let answer = actix_web::web::block(move || run::run(&plan, &series, steps, limits))
        .await
        .map_err(|e| EvalError::Execution(format!("evaluation thread: {e}")))?;
    Ok(Answered { value: answer?, warnings, tiers })
}

/// The series of one read, each holding its chunks as storage gave them (decoded when the
/// evaluator comes to it); adds the cluster nodes the read was made without to `skipped`.
/// When a tier answers the read, the series hold the tier's windows of the read's range and
/// the raw chunks only from where the tier ends (less what its uses look back); answers
/// whether the tier held anything.
async fn fetch(data: &Data, db: &str, rp: Option<&str>, read: &Read, tier: Option<tier::TierRead>, deadline: Instant, skipped: &mut std::collections::BTreeSet<String>) -> Result<(Vec<Stored>, bool), Error> {
    let matchers = read.matchers.iter().map(matcher).collect::<Result<Vec<_>, _>>()?;
    let (mut min_t, max_t) = (read.min_t, read.max_t);
    let mut windows: BTreeMap<crate::labels::Labels, Vec<Window>> = BTreeMap::new();
    let mut through = None;
    if let Some(t) = tier {
        let answer = data.select_tier(db, Policies::One(rp), Selection { matchers: matchers.clone(), min_t, max_t }, t.tier).await?;
        if answer.through != i64::MIN {
            through = Some(answer.through);
            min_t = min_t.max(answer.through - t.reach);
            windows = answer.series.into_iter().collect();
        }
    }
    let part = |windows: Vec<Window>| through.map(|through| TierPart { through, windows });
    let mut out = Vec::new();
    if min_t <= max_t {
        let mut stream = data.select(db, Policies::One(rp), Selection { matchers, min_t, max_t }).await?;
        skipped.extend(stream.skipped().iter().cloned());
        let mut chunks = Vec::new();
        while let Some(piece) = stream.next().await? {
            if Instant::now() > deadline {
                return Err(EvalError::Timeout("query preparation").into());
            }
            chunks.extend(piece.chunks);
            if !piece.last {
                continue;
            }
            let chunks = std::mem::take(&mut chunks);
            let tier = part(windows.remove(&piece.labels).unwrap_or_default());
            let labels = Labels::from(piece.labels);
            let name = labels.clone();
            out.push(Stored { labels, samples: Box::new(move || decode(&chunks, min_t, max_t).ok_or_else(|| Undecodable(name.to_string()))), tier });
        }
    }
    // Series the tier holds with no raw sample left in the range.
    for (labels, windows) in windows {
        out.push(Stored { labels: Labels::from(labels), samples: Box::new(|| Ok(Vec::new())), tier: part(windows) });
    }
    Ok((out, through.is_some()))
}

/// The samples of chunks and sealed blocks inside [min_t, max_t], in time order; `None` when
/// one does not decode.
fn decode(chunks: &[StoredChunk], min_t: i64, max_t: i64) -> Option<Vec<Point>> {
    let mut points = Vec::new();
    piece::each_in(chunks, min_t, max_t, |t, v| points.push(Point { t, v })).ok()?;
    Some(points)
}

fn matcher(m: &plan::LabelMatcher) -> Result<Matcher, EvalError> {
    let kind = match m.op {
        MatchOp::Equal => MatchKind::Equal,
        MatchOp::NotEqual => MatchKind::NotEqual,
        MatchOp::Regex => MatchKind::Regex,
        MatchOp::NotRegex => MatchKind::NotRegex,
    };
    Matcher::new(kind, &m.name, &m.value).map_err(|e| EvalError::BadData(e.to_string()))
}
