//! `/query`: InfluxQL statements over GET or POST, with `q` and `db` from the query string or
//! a form body, answered in InfluxDB 1.x JSON so the `influx` CLI works unchanged.

use super::{ApiError, AppState};
use crate::query::ast::{limit_or_all, Name};
use crate::query::condition::{regex, Cond};
use crate::query::influxql::{self, Statement, TagKeys};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};
use super::auth::Principal;
use super::fields::FieldMap;
use crate::query::delete::DeleteStatement;
use crate::query::retention::{go_duration, RetentionStatement};
use crate::index::matcher::{MatchKind, Matcher};
use crate::labels::Labels;
use crate::storage::Policies;
use std::collections::{BTreeMap, BTreeSet, HashMap};

fn params(req: &HttpRequest, body: &[u8]) -> HashMap<String, String> {
    let mut out: HashMap<String, String> = serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let is_form = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    if is_form {
        if let Ok(form) = serde_urlencoded::from_bytes::<HashMap<String, String>>(body) {
            out.extend(form);
        }
    }
    out
}

/// One InfluxDB series (a table with optional name, columns and rows); `None` without rows.
fn table(name: Option<&str>, columns: &[&str], rows: Vec<Value>) -> Option<Value> {
    if rows.is_empty() {
        return None;
    }
    let mut t = json!({ "columns": columns, "values": rows });
    if let Some(name) = name {
        t["name"] = json!(name);
    }
    Some(t)
}

/// A statement's `series`: the tables, or null when there are none (InfluxDB then omits the key).
fn series(tables: impl IntoIterator<Item = Option<Value>>) -> Value {
    let tables: Vec<Value> = tables.into_iter().flatten().collect();
    if tables.is_empty() { json!(null) } else { json!(tables) }
}

fn names_series(name: &str, values: Vec<String>) -> Value {
    series([table(Some(name), &["name"], values.into_iter().map(|v| json!([v])).collect())])
}

/// The series of measurement `from` (all its fields), or of every measurement, in every
/// policy (and, in a cluster, on every node).
async fn series_of(state: &AppState, db: &str, from: Option<&str>) -> Result<(FieldMap, Vec<Labels>), String> {
    let fields = FieldMap::load(state, db)?;
    let found = super::cluster::series_labels(state, db, Policies::All, fields.matcher(from)?).await?;
    Ok((fields, found))
}

/// The series of `from` (every measurement when `None`), grouped by measurement: name →
/// (tag, value) pairs.
async fn tags_by_measurement(state: &AppState, db: &str, from: Option<&str>) -> Result<BTreeMap<String, BTreeSet<(String, String)>>, String> {
    let (fields, found) = series_of(state, db, from).await?;
    let mut out: BTreeMap<String, BTreeSet<(String, String)>> = BTreeMap::new();
    for s in &found {
        let tags = fields.tags(s.iter()).into_iter().map(|(n, v)| (n.to_string(), v.to_string()));
        out.entry(fields.measurement_of(s.get("__name__")).to_string()).or_default().extend(tags);
    }
    Ok(out)
}

/// One InfluxDB series per measurement with `columns` and its rows; null when there are none.
fn per_measurement(columns: &[&str], rows: BTreeMap<String, Vec<Value>>) -> Value {
    series(rows.into_iter().map(|(name, values)| table(Some(&name), columns, values)))
}

/// A series key as InfluxDB prints it: `m,tag=v,…` with line-protocol escaping.
fn series_key(measurement: &str, tags: &[(&str, &str)]) -> String {
    let esc = |s: &str, extra: &[char]| s.chars().fold(String::new(), |mut o, c| {
        if c == ',' || c == ' ' || extra.contains(&c) {
            o.push('\\');
        }
        o.push(c);
        o
    });
    let mut key = esc(measurement, &[]);
    for (n, v) in tags {
        key.push(',');
        key.push_str(&esc(n, &['=']));
        key.push('=');
        key.push_str(&esc(v, &['=']));
    }
    key
}

/// Keeps the series whose tags satisfy `condition` (tags only: series have no fields here).
fn filter_series<T>(found: &mut Vec<T>, fields: &FieldMap, labels: impl Fn(&T) -> &Labels, condition: &Option<crate::query::ast::Expr>) -> Result<(), String> {
    let Some(expr) = condition else { return Ok(()) };
    let cond = Cond::compile(expr, &|_, hint| hint != Some("field"), &mut |_| 0)?;
    found.retain(|s| {
        let tags = fields.tags(labels(s).iter());
        cond.eval(&|k| tags.iter().find(|(n, _)| *n == k).map(|(_, v)| *v), &[])
    });
    Ok(())
}

/// The database a statement works on: its own (`ON db`, `FROM db..m`), else the `db` parameter.
pub fn target_db(own: Option<&str>, db: Option<&str>) -> Option<String> {
    own.or(db).filter(|d| !d.is_empty()).map(str::to_string)
}

/// The database a `SELECT` names in its sources, if any.
pub fn select_db(s: &crate::query::ast::Select) -> Option<&str> {
    s.sources.iter().find_map(|s| s.db.as_deref())
}

/// The `/query` parameters a statement may use.
struct Params<'a> {
    db: Option<&'a str>,
    rp: Option<&'a str>,
    epoch: Option<&'a str>,
}

async fn execute(state: &AppState, who: &Principal, stmt: Statement, params: &Params<'_>) -> Result<Value, String> {
    let db = params.db;
    let database = |on: &Option<String>| target_db(on.as_deref(), db).ok_or("database name required");
    match stmt {
        Statement::CreateDatabase { name, policy } => {
            state.storage.create_database(&name, policy.as_ref().map(|(rp, o)| (rp.as_str(), o))).map(|_| json!(null)).map_err(String::from)
        }
        Statement::Retention(r) => retention(state, r, db).await,
        Statement::Delete(d) => delete(state, d, db, None).await,
        Statement::DropDatabase(name) => state.storage.drop_database(&name).await.map(|_| json!(null)).map_err(String::from),
        Statement::ShowDatabases => Ok(names_series("databases", super::users::visible_databases(state, who))),
        Statement::User(stmt) => super::users::execute(state, stmt),
        Statement::ShowMeasurements { on, name, limit, offset } => {
            let db = database(&on)?;
            if state.storage.database(&db).is_err() {
                // InfluxDB 1.6 lists no measurements of a database it does not have, without an error.
                return Ok(json!(null));
            }
            let fields = FieldMap::load(state, &db)?;
            let series_names = match &state.cluster {
                None => state.storage.label_values(&db, Policies::All, "__name__").await.map_err(|e| e.to_string())?,
                Some(_) => {
                    let all = Matcher::new(MatchKind::Regex, "__name__", ".+")?;
                    super::cluster::series_labels(state, &db, Policies::All, all).await?.iter().map(|s| s.get("__name__").to_string()).collect()
                }
            };
            let mut names: BTreeSet<String> = series_names.iter().map(|n| fields.measurement_of(n).to_string()).collect();
            match name {
                Some(Name::Exact(m)) => names.retain(|n| *n == m),
                Some(Name::Regex(re)) => {
                    let re = regex(&re)?;
                    names.retain(|n| re.is_match(n));
                }
                None => {}
            }
            let names = names.into_iter().skip(offset).take(limit_or_all(limit)).collect();
            Ok(names_series("measurements", names))
        }
        Statement::ShowTagKeys { on, from } => {
            let tags = tags_by_measurement(state, &database(&on)?, from.as_deref()).await?;
            let rows = tags
                .into_iter()
                .map(|(m, pairs)| (m, pairs.into_iter().map(|(k, _)| k).collect::<BTreeSet<_>>().into_iter().map(|k| json!([k])).collect()))
                .collect();
            Ok(per_measurement(&["tagKey"], rows))
        }
        Statement::ShowTagValues { on, from, keys } => {
            let wanted: Box<dyn Fn(&str) -> bool> = match keys {
                TagKeys::In(keys) => Box::new(move |k| keys.iter().any(|w| w == k)),
                TagKeys::Regex(re) => {
                    let re = regex(&re)?;
                    Box::new(move |k| re.is_match(k))
                }
            };
            let tags = tags_by_measurement(state, &database(&on)?, from.as_deref()).await?;
            let rows = tags.into_iter().map(|(m, pairs)| (m, pairs.into_iter().filter(|(k, _)| wanted(k)).map(|(k, v)| json!([k, v])).collect())).collect();
            Ok(per_measurement(&["key", "value"], rows))
        }
        Statement::ShowSeries { on, from, condition, cardinality, exact } => {
            let (fields, mut found) = series_of(state, &database(&on)?, from.as_deref()).await?;
            filter_series(&mut found, &fields, |s| s, &condition)?;
            // measurement → its series keys (a key once, whatever number of fields it has)
            let mut keys: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
            for s in &found {
                let m = fields.measurement_of(s.get("__name__"));
                keys.entry(m.to_string()).or_default().insert(series_key(m, &fields.tags(s.iter())));
            }
            if cardinality && (exact || from.is_some()) {
                return Ok(per_measurement(&["count"], keys.into_iter().map(|(m, k)| (m, vec![json!([k.len()])])).collect()));
            }
            let all: BTreeSet<String> = keys.into_values().flatten().collect();
            if cardinality {
                let rows = if all.is_empty() { vec![] } else { vec![json!([all.len()])] };
                return Ok(series([table(None, &["cardinality estimation"], rows)]));
            }
            Ok(series([table(None, &["key"], all.into_iter().map(|k| json!([k])).collect())]))
        }
        Statement::ShowFieldKeys { on, from } => {
            // Every field is a float64 series; see `fields.rs` for how fields map onto series.
            let (fields, found) = series_of(state, &database(&on)?, from.as_deref()).await?;
            let mut has_value: BTreeMap<String, bool> = BTreeMap::new();
            for s in &found {
                let name = s.get("__name__");
                let m = fields.measurement_of(name);
                *has_value.entry(m.to_string()).or_default() |= m == name;
            }
            let rows = has_value.into_iter().map(|(m, v)| {
                let rows = fields.fields_of(&m, v).into_iter().map(|f| json!([f, "float"])).collect();
                (m, rows)
            });
            Ok(per_measurement(&["fieldKey", "fieldType"], rows.collect()))
        }
        Statement::Select(select) => {
            let now = crate::now_ns();
            Ok(series(super::select::run(state, &select, (db, params.rp), params.epoch, now).await?.into_iter().map(Some)))
        }
    }
}

/// `DROP MEASUREMENT`, `DROP SERIES` and `DELETE`, in every retention policy of the database.
/// `before_ns` bounds it to the points at or before that time: a deletion another node ran.
async fn delete(state: &AppState, stmt: DeleteStatement, db: Option<&str>, before_ns: Option<i64>) -> Result<Value, String> {
    let db = target_db(None, db).ok_or("database name required")?;
    let (from, condition, points) = match stmt {
        DeleteStatement::DropMeasurement(m) => (Some(Name::Exact(m)), None, false),
        DeleteStatement::DropSeries { from, condition } => (from, condition, false),
        DeleteStatement::Delete { from, condition } => (from, condition, true),
    };
    let now = crate::now_ns();
    let (mut range, tags) = crate::query::condition::split_time(condition.as_ref(), now)?;
    let bounded = range.min != i64::MIN || range.max != i64::MAX;
    if bounded && !points {
        return Err("DROP SERIES doesn't support time in WHERE clause".into());
    }
    let fields = FieldMap::load(state, &db)?;
    let exact = match &from {
        Some(Name::Exact(m)) => Some(m.as_str()),
        _ => None,
    };
    let mut found = state.storage.select(&db, Policies::All, vec![fields.matcher(exact)?]).await.map_err(|e| e.to_string())?;
    if let Some(Name::Regex(re)) = &from {
        let re = regex(re)?;
        found.retain(|s| re.is_match(fields.measurement_of(s.labels.get("__name__"))));
    }
    filter_series(&mut found, &fields, |s| &s.labels, &tags)?;
    if let Some(before) = before_ns {
        range.max = range.max.min(before);
    }
    let done = match bounded || before_ns.is_some() {
        true => {
            let (min_ms, max_ms) = range.millis();
            state.storage.delete_points(&found, min_ms, max_ms).await
        }
        false => state.storage.delete_series(&found).await,
    };
    done.map(|_| json!(null)).map_err(|e| e.to_string())
}

/// A deletion another node ran (see `cluster::catalog_sync`), here limited to the points that
/// existed when it ran; nothing to do without the database.
pub async fn replay_deletion(state: &AppState, d: crate::cluster::catalog_sync::Deletion) -> Result<(), String> {
    if state.storage.database(&d.db).is_err() {
        return Ok(());
    }
    let parsed = influxql::parse_with_text(&d.statement).map_err(|e| format!("{}: {e}", d.statement))?;
    match parsed.into_iter().next() {
        Some((Statement::Delete(stmt), _)) => delete(state, stmt, Some(&d.db), Some(d.before_ns)).await.map(|_| ()),
        _ => Err(format!("not a deletion: {}", d.statement)),
    }
}

async fn retention(state: &AppState, stmt: RetentionStatement, db: Option<&str>) -> Result<Value, String> {
    match stmt {
        RetentionStatement::Create { name, db, options } => state.storage.create_policy(&db, &name, &options).map(|_| json!(null)).map_err(String::from),
        RetentionStatement::Alter { name, db, options } => state.storage.alter_policy(&db, &name, &options).map(|_| json!(null)).map_err(String::from),
        RetentionStatement::Drop { name, db } => state.storage.drop_policy(&db, &name).await.map(|_| json!(null)).map_err(String::from),
        RetentionStatement::Show { on } => {
            let db = target_db(on.as_deref(), db).ok_or("database name required")?;
            let d = state.storage.database(&db).map_err(|e| e.to_string())?;
            let rows = d
                .policies
                .iter()
                .map(|p| json!([p.name, go_duration(p.duration), go_duration(p.shard_duration), p.replication, p.name == d.default_policy]))
                .collect();
            Ok(series([table(None, &["name", "duration", "shardGroupDuration", "replicaN", "default"], rows)]))
        }
    }
}

pub async fn query(req: HttpRequest, body: web::Bytes, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let params = params(&req, &body);
    let q = params.get("q").map(String::as_str).unwrap_or("").trim();
    if q.is_empty() {
        return Err(ApiError::bad_request("missing required parameter \"q\""));
    }
    let statements = influxql::parse_with_text(q).map_err(|e| ApiError::bad_request(format!("error parsing query: {e}")))?;
    let db = params.get("db").map(String::as_str);
    // The first admin, made without credentials while no user exists, becomes every node's:
    // so only once this node knows every other node has no user either.
    let bootstrap = state.auth.enabled && state.storage.users().is_empty();
    if let (true, Some(cluster)) = (bootstrap, &state.cluster) {
        if !cluster.catalog_synced() {
            return Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "the first user can be created once this node has reached every peer of the cluster"));
        }
    }
    let who = super::users::authorize(&req, &state, &statements, db)?;
    run(&req, &state, &who, statements, &params).await
}

/// A change a statement made here, once recorded for the other nodes (`recorded` says whether
/// there was one), is sent to those this node can reach now.
async fn share(state: &AppState, cluster: &crate::cluster::Cluster, recorded: Result<bool, String>) -> Result<(), String> {
    match recorded {
        Ok(true) => {
            super::catalog_sync::exchange(state, cluster).await;
            Ok(())
        }
        Ok(false) => Ok(()),
        Err(e) => Err(format!("done on {}, but not recorded for the other nodes: {e}", cluster.self_name)),
    }
}

/// Runs the statements. In a cluster, a change to databases, policies or users, and a
/// deletion, is recorded for the other nodes and sent to every node it can reach at once (the
/// others take it at their next catalog exchange; see `cluster::catalog_sync`).
async fn run(req: &HttpRequest, state: &AppState, who: &Principal, statements: Vec<(Statement, String)>, params: &HashMap<String, String>) -> Result<HttpResponse, ApiError> {
    let db = params.get("db").map(String::as_str);
    let mut results = Vec::new();
    let read_only = req.method() == actix_web::http::Method::GET;
    for (i, (stmt, text)) in statements.into_iter().enumerate() {
        let mut result = json!({ "statement_id": i });
        if read_only && stmt.is_change() {
            // InfluxDB 1.x runs it and warns: changes belong in a POST.
            let text = format!("deprecated use of '{}' in a read only context, please use a POST request instead", super::users::quoted(&stmt, &text));
            result["messages"] = json!([{ "level": "warning", "text": text }]);
        }
        let (catalog, deletion) = (stmt.changes_catalog(), matches!(stmt, Statement::Delete(_)));
        let run_params = Params { db, rp: params.get("rp").map(String::as_str).filter(|r| !r.is_empty()), epoch: params.get("epoch").map(String::as_str) };
        let changing = match (&state.cluster, catalog) {
            (Some(cluster), true) => Some(cluster.catalog_lock.lock().await),
            _ => None,
        };
        let mut outcome = execute(state, who, stmt, &run_params).await;
        let deleted_in = target_db(None, db).filter(|_| deletion && outcome.is_ok());
        if let (Some(db), Some(cluster)) = (deleted_in, &state.cluster) {
            let recorded = crate::cluster::catalog_sync::record_deletion(&state.storage, &cluster.self_name, &db, &text).map(|()| true);
            if let Err(e) = share(state, cluster, recorded).await {
                outcome = Err(e);
            }
        }
        if let (Some(changing), Some(cluster)) = (changing, &state.cluster) {
            let recorded = crate::cluster::catalog_sync::record_local(&state.storage, &cluster.self_name, true).map(|c| !c.is_empty());
            drop(changing);
            if let Err(e) = share(state, cluster, recorded).await {
                outcome = Err(e);
            }
        }
        match outcome {
            Ok(Value::Null) => {}
            Ok(series) => result["series"] = series,
            Err(e) => result["error"] = json!(e),
        }
        results.push(result);
    }
    Ok(HttpResponse::Ok().insert_header(("X-Influxdb-Version", super::status::INFLUXDB_VERSION)).json(json!({ "results": results })))
}
