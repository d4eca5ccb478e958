//! `/query`: InfluxQL statements over GET or POST, with `q` and `db` from the query string or
//! a form body, answered in InfluxDB 1.x JSON so the `influx` CLI works unchanged.

use super::{ApiError, AppState};
use crate::query::influxql::{self, Statement};
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};
use std::collections::HashMap;

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

fn names_series(name: &str, values: Vec<String>) -> Value {
    if values.is_empty() {
        return json!(null);
    }
    let rows: Vec<Value> = values.into_iter().map(|v| json!([v])).collect();
    json!([{ "name": name, "columns": ["name"], "values": rows }])
}

async fn execute(state: &AppState, stmt: Statement, db: Option<&str>) -> Result<Value, String> {
    match stmt {
        Statement::CreateDatabase(name) => state.storage.create_database(&name).map(|_| json!(null)),
        Statement::DropDatabase(name) => state.storage.drop_database(&name).await.map(|_| json!(null)),
        Statement::ShowDatabases => Ok(names_series("databases", state.storage.databases())),
        Statement::ShowMeasurements { on } => {
            let db = on.as_deref().or(db).filter(|d| !d.is_empty()).ok_or("database name required")?;
            let names = state.storage.label_values(db, "__name__").await.map_err(|e| e.to_string())?;
            Ok(names_series("measurements", names))
        }
    }
}

pub async fn query(req: HttpRequest, body: web::Bytes, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let params = params(&req, &body);
    let q = params.get("q").map(String::as_str).unwrap_or("").trim();
    if q.is_empty() {
        return Err(ApiError::bad_request("missing required parameter \"q\""));
    }
    let statements = influxql::parse(q).map_err(|e| ApiError::bad_request(format!("error parsing query: {e}")))?;
    let db = params.get("db").map(String::as_str);
    let mut results = Vec::new();
    for (i, stmt) in statements.into_iter().enumerate() {
        let mut result = json!({ "statement_id": i });
        match execute(&state, stmt, db).await {
            Ok(Value::Null) => {}
            Ok(series) => result["series"] = series,
            Err(e) => result["error"] = json!(e),
        }
        results.push(result);
    }
    Ok(HttpResponse::Ok().insert_header(("X-Influxdb-Version", super::status::INFLUXDB_VERSION)).json(json!({ "results": results })))
}
