//! `DROP MEASUREMENT`, `DROP SERIES` and `DELETE`, and the admin API's `delete_series`
//! (`SeriesDeletion`: PromQL series selectors), in every retention policy of a database, on
//! this node's data through the catalog handle (`data::Catalog::delete`). In a cluster every
//! node runs a deletion on its own data: the node that ran it shares it (`Data::share_deletion`:
//! the InfluxQL statement, or the `SeriesDeletion` as JSON), the others replay it bounded to
//! the points that existed when it ran (`replay_deletion`, given a `data::Deletion`).

use super::fields::FieldMap;
use super::show::tag_filter;
use super::Error;
use crate::data::{Catalog, Deletion};
use crate::query::ast::Name;
use crate::query::condition::{regex, split_time};
use crate::query::delete::DeleteStatement;
use crate::query::error::ParseError;
use crate::query::influxql::{self, Statement};
use crate::index::matcher::Matcher;
use crate::promql::selector::{self, SelectorError};
use futures_util::future::LocalBoxFuture;

/// Runs a deletion in `db`. `before_ns` bounds it to the points at or before that time: a
/// deletion another node ran.
pub async fn run(catalog: &dyn Catalog, stmt: DeleteStatement, db: &str, before_ns: Option<i64>) -> Result<(), Error> {
    let (from, condition, points) = match stmt {
        DeleteStatement::DropMeasurement(m) => (Some(Name::Exact(m)), None, false),
        DeleteStatement::DropSeries { from, condition } => (from, condition, false),
        DeleteStatement::Delete { from, condition } => (from, condition, true),
    };
    let (mut range, tags) = split_time(condition.as_ref(), crate::clock::now_ns())?;
    let bounded = range.min != i64::MIN || range.max != i64::MAX;
    if bounded && !points {
        return Err("DROP SERIES doesn't support time in WHERE clause".into());
    }
    let fields = FieldMap::load(catalog, db)?;
    let exact = match &from {
        Some(Name::Exact(m)) => Some(m.as_str()),
        _ => None,
    };
    let measurement = match &from {
        Some(Name::Regex(re)) => Some(regex(re)?),
        _ => None,
    };
    let tags = tag_filter(&fields, &tags)?;
    let keep = |labels: &crate::labels::Labels| measurement.as_ref().map_or(true, |re| re.is_match(fields.measurement_of(labels.get("__name__")))) && tags(labels);
    if let Some(before) = before_ns {
        range.max = range.max.min(before);
    }
    let points = (bounded || before_ns.is_some()).then(|| range.millis());
    catalog.delete(db, vec![fields.matcher(exact)?], &keep, points).await?;
    Ok(())
}

/// A deletion another node ran (see `cluster::catalog_sync`), here limited to the points that
/// existed when it ran; nothing to do without the database.
pub fn replay_deletion(catalog: &dyn Catalog, d: Deletion) -> LocalBoxFuture<'_, Result<(), Box<dyn std::error::Error>>> {
    Box::pin(async move { replay(catalog, d).await.map_err(Into::into) })
}

async fn replay(catalog: &dyn Catalog, d: Deletion) -> Result<(), ReplayError> {
    if catalog.database(&d.db).is_err() {
        return Ok(());
    }
    if d.statement.starts_with('{') {
        let deletion = SeriesDeletion::from_json(&d.statement).map_err(|e| ReplayError::Json { statement: d.statement.clone(), why: e })?;
        return Ok(deletion.run(catalog, &d.db, Some(d.before_ns)).await?);
    }
    let parsed = influxql::parse_with_text(&d.statement).map_err(|source| ReplayError::Parse { statement: d.statement.clone(), source })?;
    match parsed.into_iter().next() {
        Some((Statement::Delete(stmt), _)) => Ok(run(catalog, stmt, &d.db, Some(d.before_ns)).await?),
        _ => Err(ReplayError::NotADeletion(d.statement)),
    }
}

/// Why a deletion another node ran could not run here.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("{statement}: {source}")]
    Parse { statement: String, source: ParseError },
    #[error(transparent)]
    Run(#[from] Error),
    #[error("not a deletion: {0}")]
    NotADeletion(String),
    #[error("{statement}: {why}")]
    Json { statement: String, why: String },
}

/// Prometheus' `POST /api/v1/admin/tsdb/delete_series`: the series matching any of the
/// selectors, their points in `range` (ms, both ends included), or all of them without one.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SeriesDeletion {
    pub selectors: Vec<String>,
    pub range: Option<(i64, i64)>,
}

impl SeriesDeletion {
    /// The deletion, once every selector parses (the first that does not is the error).
    pub fn new(selectors: Vec<String>, range: Option<(i64, i64)>) -> Result<SeriesDeletion, SelectorError> {
        let deletion = SeriesDeletion { selectors, range };
        deletion.matcher_sets()?;
        Ok(deletion)
    }

    fn matcher_sets(&self) -> Result<Vec<Vec<Matcher>>, SelectorError> {
        self.selectors.iter().map(|s| selector::parse(s)).collect()
    }

    /// How it is shared with the other nodes of a cluster (`Deletion::statement`): JSON, which
    /// no InfluxQL statement starts like.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a deletion serializes")
    }

    fn from_json(text: &str) -> Result<SeriesDeletion, String> {
        let deletion: SeriesDeletion = serde_json::from_str(text).map_err(|e| e.to_string())?;
        deletion.matcher_sets().map_err(|e| e.to_string())?;
        Ok(deletion)
    }

    /// Runs it on this node's data of `db`; `before_ns` bounds it as `run` bounds a statement.
    pub async fn run(&self, catalog: &dyn Catalog, db: &str, before_ns: Option<i64>) -> Result<(), Error> {
        let mut range = self.range;
        if let Some(before) = before_ns {
            let before_ms = before.div_euclid(1_000_000);
            let (min, max) = range.unwrap_or((i64::MIN, i64::MAX));
            range = Some((min, max.min(before_ms)));
        }
        let sets = self.matcher_sets().map_err(|e| Error::Statement(e.to_string()))?;
        for matchers in sets {
            catalog.delete(db, matchers, &|_| true, range).await?;
        }
        Ok(())
    }
}
