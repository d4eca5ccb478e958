//! `/query`: InfluxQL statements over GET or POST, with `q` and `db` from the query string or
//! a form body, run by the executor (`crate::exec`) and answered in InfluxDB 1.x JSON so the
//! `influx` CLI works unchanged. `max_source_resolution` says which downsampled tiers a
//! `SELECT` may read (`raw`, `5m`, `1h`, `auto`: PromQL's words).

use super::query_log::{Query, QueryLog};
use super::{ApiError, AppState};
use crate::exec::{self, Cell, Principal, Table};
use crate::promql::tier::Resolution;
use crate::query::influxql::{self, Statement};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};
use std::collections::HashMap;

const NS_PER_MS: i64 = 1_000_000;

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

/// A JSON number as InfluxDB prints it: integral values without a fraction.
fn number(v: f64) -> Value {
    if v.fract() == 0.0 && v.abs() < 1e15 { json!(v as i64) } else { serde_json::Number::from_f64(v).map(Value::Number).unwrap_or(Value::Null) }
}

/// A time column: RFC 3339 (trailing zeros trimmed), or an integer in the `epoch` unit.
fn time_value(ns: i64, epoch: Option<&str>) -> Value {
    let unit = match epoch {
        Some("n" | "ns") => 1,
        Some("u" | "µ") => 1_000,
        Some("ms") => NS_PER_MS,
        Some("s") => 1_000_000_000,
        Some("m") => 60_000_000_000,
        Some("h") => 3_600_000_000_000,
        _ => return json!(jiff::Timestamp::from_nanosecond(ns as i128).map(|t| t.to_string()).unwrap_or_default()),
    };
    json!(ns / unit)
}

fn cell(c: &Cell, epoch: Option<&str>) -> Value {
    match c {
        Cell::Time(ns) => time_value(*ns, epoch),
        Cell::Number(v) => number(*v),
        Cell::Text(s) => json!(s),
        Cell::Bool(b) => json!(b),
        Cell::Null => Value::Null,
    }
}

/// One InfluxDB series: `name`, `tags`, `columns` and `values` (left out when there are no rows).
fn render(t: &Table, epoch: Option<&str>) -> Value {
    let mut out = serde_json::Map::new();
    if let Some(name) = &t.name {
        out.insert("name".into(), json!(name));
    }
    if let Some(tags) = &t.tags {
        out.insert("tags".into(), json!(tags));
    }
    out.insert("columns".into(), json!(t.columns));
    if !t.rows.is_empty() {
        out.insert("values".into(), t.rows.iter().map(|r| Value::Array(r.iter().map(|c| cell(c, epoch)).collect())).collect());
    }
    Value::Object(out)
}

/// The caller, when they may run every statement; else 401/403 as InfluxDB answers. While no
/// user exists (auth on), only `CREATE USER … WITH ALL PRIVILEGES` runs, without credentials.
fn authorize(req: &HttpRequest, state: &AppState, statements: &[(Statement, String)], db: Option<&str>) -> Result<Principal, ApiError> {
    if state.auth.enabled && state.data.catalog().users().is_empty() {
        return match exec::users::is_bootstrap(statements) {
            true => Ok(Principal::Anyone),
            false => Err(ApiError::new(StatusCode::FORBIDDEN, format!("error authorizing query: {}", super::auth::NO_ADMIN))),
        };
    }
    let who = super::auth::authenticate(req, state)?;
    for (stmt, text) in statements {
        if let Some(missing) = exec::users::missing_privilege(&who, stmt, db) {
            let msg = format!("error authorizing query: {} not authorized to execute statement '{}', requires {missing}", who.name(), exec::users::quoted(stmt, text));
            return Err(ApiError::new(StatusCode::FORBIDDEN, msg));
        }
    }
    Ok(who)
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
    let bootstrap = state.auth.enabled && state.data.catalog().users().is_empty();
    if bootstrap && !state.data.catalog_complete() {
        return Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "the first user can be created once this node has reached every peer of the cluster"));
    }
    let who = authorize(&req, &state, &statements, db)?;
    let logged = Query { api: "influxql", db: db.unwrap_or(""), text: q, params: json!({ "rp": params.get("rp"), "epoch": params.get("epoch") }) };
    let error_of = |answer: &Result<(HttpResponse, Option<String>), ApiError>| match answer {
        Ok((_, failed)) => failed.clone(),
        Err(e) => Some(e.to_string()),
    };
    let (response, _) = QueryLog::run(&state, &req, logged, run(&req, &state, &who, statements, &params), error_of).await?;
    Ok(response)
}

/// Runs the statements in order; each answers its tables or its error. Answers the response
/// and the first statement's error, if any.
async fn run(req: &HttpRequest, state: &AppState, who: &Principal, statements: Vec<(Statement, String)>, params: &HashMap<String, String>) -> Result<(HttpResponse, Option<String>), ApiError> {
    let resolution = Resolution::parse(params.get("max_source_resolution").map_or("", String::as_str)).map_err(ApiError::bad_request)?;
    let tiers = exec::TierUse { resolution, reads: Some(&state.metrics.tier_reads) };
    let run_params = exec::Params { db: params.get("db").map(String::as_str), rp: params.get("rp").map(String::as_str).filter(|r| !r.is_empty()), tiers };
    let epoch = params.get("epoch").map(String::as_str);
    let mut results = Vec::new();
    let mut failed = None;
    let read_only = req.method() == actix_web::http::Method::GET;
    for (i, (stmt, text)) in statements.into_iter().enumerate() {
        let mut result = json!({ "statement_id": i });
        if read_only && stmt.is_change() {
            // InfluxDB 1.x runs it and warns: changes belong in a POST.
            let text = format!("deprecated use of '{}' in a read only context, please use a POST request instead", exec::users::quoted(&stmt, &text));
            result["messages"] = json!([{ "level": "warning", "text": text }]);
        }
        match exec::run(&state.data, who, stmt, &text, &run_params).await {
            Ok(tables) if tables.is_empty() => {}
            Ok(tables) => result["series"] = tables.iter().map(|t| render(t, epoch)).collect(),
            Err(e) => {
                failed.get_or_insert_with(|| e.to_string());
                result["error"] = json!(e.to_string());
            }
        }
        results.push(result);
    }
    let response = HttpResponse::Ok().insert_header(("X-Influxdb-Version", super::status::INFLUXDB_VERSION)).json(json!({ "results": results }));
    Ok((response, failed))
}
