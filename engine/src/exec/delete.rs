//! `DROP MEASUREMENT`, `DROP SERIES` and `DELETE`, in every retention policy of a database, on
//! this node's storage. In a cluster every node runs a deletion on its own data: the node that
//! ran the statement shares it (`Data::share_deletion`), the others replay it bounded to the
//! points that existed when it ran (`replay_deletion`).

use super::fields::FieldMap;
use super::show::filter_series;
use super::Error;
use crate::cluster::catalog_sync::Deletion;
use crate::query::ast::Name;
use crate::query::condition::{regex, split_time};
use crate::query::delete::DeleteStatement;
use crate::query::influxql::{self, Statement};
use crate::storage::{Policies, Storage};
use futures_util::future::LocalBoxFuture;

/// Runs a deletion in `db`. `before_ns` bounds it to the points at or before that time: a
/// deletion another node ran.
pub async fn run(storage: &Storage, stmt: DeleteStatement, db: &str, before_ns: Option<i64>) -> Result<(), Error> {
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
    let fields = FieldMap::load(storage, db)?;
    let exact = match &from {
        Some(Name::Exact(m)) => Some(m.as_str()),
        _ => None,
    };
    let mut found = storage.select(db, Policies::All, vec![fields.matcher(exact)?]).await?;
    if let Some(Name::Regex(re)) = &from {
        let re = regex(re)?;
        found.retain(|s| re.is_match(fields.measurement_of(s.labels.get("__name__"))));
    }
    filter_series(&mut found, &fields, |s| &s.labels, &tags)?;
    if let Some(before) = before_ns {
        range.max = range.max.min(before);
    }
    if bounded || before_ns.is_some() {
        let (min_ms, max_ms) = range.millis();
        storage.delete_points(&found, min_ms, max_ms).await?;
    } else {
        storage.delete_series(&found).await?;
    }
    Ok(())
}

/// A deletion another node ran (see `cluster::catalog_sync`), here limited to the points that
/// existed when it ran; nothing to do without the database.
pub fn replay_deletion(storage: &Storage, d: Deletion) -> LocalBoxFuture<'_, Result<(), String>> {
    Box::pin(async move {
        if storage.database(&d.db).is_err() {
            return Ok(());
        }
        let parsed = influxql::parse_with_text(&d.statement).map_err(|e| format!("{}: {e}", d.statement))?;
        match parsed.into_iter().next() {
            Some((Statement::Delete(stmt), _)) => run(storage, stmt, &d.db, Some(d.before_ns)).await.map_err(|e| e.to_string()),
            _ => Err(format!("not a deletion: {}", d.statement)),
        }
    })
}
