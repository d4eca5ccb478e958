//! The InfluxQL executor: runs parsed statements against the data interface and answers
//! tables (`Table`, `Cell`); `http::query` renders them in InfluxDB 1.x JSON. `show.rs` holds
//! the `SHOW` statements over series, `select.rs` `SELECT` (`select_fast.rs` and
//! `window_acc.rs` its aggregates over one field, without rows; `select_tier.rs` those read
//! from downsampled tiers), `delete.rs` the deletions,
//! `users.rs` users and who may run what, `fields.rs` how InfluxQL names map onto series.

pub mod delete;
pub mod fields;
mod rows;
pub mod select;
mod select_fast;
mod select_tier;
mod show;
pub mod users;
mod window_acc;

use crate::data::{self, Data};
use crate::query::error::StatementError;
use crate::query::influxql::Statement;
use crate::encoding::rollup::Tier;
use crate::query::retention::{go_duration, RetentionStatement};
use std::collections::BTreeMap;
pub use select_tier::TierUse;
pub use users::Principal;

/// Why a statement failed; its text is what the answer's `error` says.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Data(#[from] data::Error),
    /// The statement cannot run as written (InfluxDB's words where it has them).
    #[error("{0}")]
    Statement(String),
    #[error(transparent)]
    Invalid(#[from] StatementError),
    #[error(transparent)]
    Matcher(#[from] crate::index::matcher::Error),
}

impl From<String> for Error {
    fn from(message: String) -> Error {
        Error::Statement(message)
    }
}

impl From<&str> for Error {
    fn from(message: &str) -> Error {
        Error::Statement(message.to_string())
    }
}

impl From<crate::data::StoreError> for Error {
    fn from(e: crate::data::StoreError) -> Error {
        Error::Data(e.into())
    }
}

/// One value of a row.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    /// Nanoseconds since the epoch, rendered as the query's `epoch` asks.
    Time(i64),
    Number(f64),
    Text(String),
    Bool(bool),
    Null,
}

impl From<&str> for Cell {
    fn from(s: &str) -> Cell {
        Cell::Text(s.to_string())
    }
}

impl From<String> for Cell {
    fn from(s: String) -> Cell {
        Cell::Text(s)
    }
}

/// One InfluxDB series of an answer: optional name and tags, columns and rows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Table {
    pub name: Option<String>,
    /// Present for `GROUP BY` answers (possibly empty values).
    pub tags: Option<BTreeMap<String, String>>,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    pub fn new(name: Option<&str>, columns: &[&str], rows: Vec<Vec<Cell>>) -> Table {
        Table { name: name.map(str::to_string), tags: None, columns: columns.iter().map(|c| c.to_string()).collect(), rows }
    }
}

/// A table, or nothing when it has no rows (InfluxDB leaves those out).
fn table(name: Option<&str>, columns: &[&str], rows: Vec<Vec<Cell>>) -> Option<Table> {
    (!rows.is_empty()).then(|| Table::new(name, columns, rows))
}

/// The `/query` parameters a statement may use.
#[derive(Clone, Copy, Debug, Default)]
pub struct Params<'a> {
    pub db: Option<&'a str>,
    pub rp: Option<&'a str>,
    /// The downsampled tiers a `SELECT` may read (`max_source_resolution`).
    pub tiers: TierUse<'a>,
}

/// The database a statement works on: its own (`ON db`, `FROM db..m`), else the `db` parameter.
pub fn target_db(own: Option<&str>, db: Option<&str>) -> Option<String> {
    own.or(db).filter(|d| !d.is_empty()).map(str::to_string)
}

/// The database a `SELECT` names in its sources, if any.
pub fn select_db(s: &crate::query::ast::Select) -> Option<&str> {
    s.sources.iter().find_map(|s| s.db.as_deref())
}

fn database(on: &Option<String>, params: &Params) -> Result<String, Error> {
    target_db(on.as_deref(), params.db).ok_or_else(|| "database name required".into())
}

/// Runs one statement (`text` as it was written) for `who`, who may run it (see
/// `users::authorize`). A change to databases, policies or users goes through the data
/// interface's catalog change; a deletion is shared with the other nodes of a cluster.
pub async fn run(data: &Data, who: &Principal, stmt: Statement, text: &str, params: &Params<'_>) -> Result<Vec<Table>, Error> {
    if stmt.changes_catalog() {
        return data.change_catalog(execute(data, who, stmt, params)).await;
    }
    let deletion = matches!(stmt, Statement::Delete(_));
    let tables = execute(data, who, stmt, params).await?;
    if let (true, Some(db)) = (deletion, target_db(None, params.db)) {
        data.share_deletion(&db, text).await?;
    }
    Ok(tables)
}

async fn execute(data: &Data, who: &Principal, stmt: Statement, params: &Params<'_>) -> Result<Vec<Table>, Error> {
    let catalog = data.catalog();
    let none = |r: Result<(), crate::data::StoreError>| r.map(|()| Vec::new()).map_err(Error::from);
    match stmt {
        Statement::CreateDatabase { name, policy } => none(catalog.create_database(&name, policy.as_ref().map(|(rp, o)| (rp.as_str(), o)))),
        Statement::DropDatabase(name) => none(catalog.drop_database(&name).await),
        Statement::Retention(r) => retention(data, r, params).await,
        Statement::Delete(d) => {
            let db = target_db(None, params.db).ok_or("database name required")?;
            delete::run(catalog, d, &db, None).await.map(|()| Vec::new())
        }
        Statement::ShowDatabases => Ok(table(Some("databases"), &["name"], users::visible_databases(catalog, who).into_iter().map(|d| vec![d.into()]).collect()).into_iter().collect()),
        Statement::User(stmt) => users::execute(catalog, stmt),
        Statement::ShowMeasurements { on, name, limit, offset } => show::measurements(data, &database(&on, params)?, name, limit, offset).await,
        Statement::ShowTagKeys { on, from } => show::tag_keys(data, &database(&on, params)?, from.as_deref()).await,
        Statement::ShowTagValues { on, from, keys } => show::tag_values(data, &database(&on, params)?, from.as_deref(), keys).await,
        Statement::ShowSeries { on, from, condition, cardinality, exact } => {
            show::series(data, &database(&on, params)?, from.as_deref(), &condition, cardinality, exact).await
        }
        Statement::ShowFieldKeys { on, from } => show::field_keys(data, &database(&on, params)?, from.as_deref()).await,
        Statement::Select(select) => select::run(data, &select, (params.db, params.rp), params.tiers, crate::clock::now_ns()).await,
    }
}

/// `SHOW RETENTION POLICIES`' columns: InfluxDB's, then how long each downsampled tier keeps
/// data (`Tier::ALL` order).
const POLICY_COLUMNS: [&str; 7] = ["name", "duration", "shardGroupDuration", "replicaN", "default", "downsample5mDuration", "downsample1hDuration"];

async fn retention(data: &Data, stmt: RetentionStatement, params: &Params<'_>) -> Result<Vec<Table>, Error> {
    let catalog = data.catalog();
    let done = match stmt {
        RetentionStatement::Create { name, db, options } => catalog.create_policy(&db, &name, &options),
        RetentionStatement::Alter { name, db, options } => catalog.alter_policy(&db, &name, &options),
        RetentionStatement::Drop { name, db } => catalog.drop_policy(&db, &name).await,
        RetentionStatement::Show { on } => {
            // InfluxDB's columns; the tiers' durations follow only where a policy of the
            // database has one set, so answers stay InfluxDB's until then.
            let d = catalog.database(&database(&on, params)?)?;
            let tiers = d.policies.iter().any(|p| p.tier_durations != [None; 2]);
            let rows = d
                .policies
                .iter()
                .map(|p| {
                    let default = p.name == d.default_policy;
                    let mut row = vec![p.name.as_str().into(), go_duration(p.duration).into(), go_duration(p.shard_duration).into(), Cell::Number(p.replication as f64), Cell::Bool(default)];
                    if tiers {
                        row.extend(Tier::ALL.map(|t| go_duration(p.tier_duration(t)).into()));
                    }
                    row
                })
                .collect();
            let columns: &[&str] = if tiers { &POLICY_COLUMNS } else { &POLICY_COLUMNS[..5] };
            return Ok(table(None, columns, rows).into_iter().collect());
        }
    };
    done.map(|()| Vec::new()).map_err(Error::from)
}

#[cfg(test)]
mod tests;
