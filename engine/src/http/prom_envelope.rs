//! Prometheus' JSON envelope and the request preparation every Prometheus API handler shares,
//! as web/api/v1/api.go's `wrap` does it: `route` reads the form and checks credentials
//! (`ready`), calls the handler, and `respond` turns what it returns, an `Answer` (data
//! already rendered as JSON, and warnings) or a `PromError`, into the HTTP answer
//! `{"status":"success","data":…,"warnings":[…]}` or `{"status":"error","errorType":…,"error":…}`.
//! Handlers (`prom_api`, `prom_series`) never build the envelope themselves; this module names
//! none of them.

use super::prom_format;
use super::prom_params::{self, Form, Nanos};
use super::{ApiError, AppState};
use crate::model::Privilege;
use crate::promql::error::EvalError;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use std::future::Future;

/// What a handler answers with: `data` as rendered JSON (straight into a `String`, so that a
/// large query result is written once), and the warnings that go beside it.
#[derive(Debug)]
pub struct Answer {
    data: String,
    warnings: Vec<String>,
}

impl Answer {
    pub fn new(data: impl Into<String>) -> Answer {
        Answer { data: data.into(), warnings: Vec::new() }
    }

    pub fn with_warnings(data: impl Into<String>, warnings: Vec<String>) -> Answer {
        Answer { data: data.into(), warnings }
    }

    /// No data: `204 No Content`, as Prometheus answers a handler that returns none (the
    /// admin API's).
    pub fn none() -> Answer {
        Answer::new("")
    }
}

/// An error answer in Prometheus' envelope. `errorType` and status as Prometheus pairs them
/// (`bad_data` 400, `execution` 422, `timeout` 503, `unavailable` 503, `internal` 500,
/// `not_found` 404); Gemini's own refusals keep their status with a type naming it
/// (`unauthorized` 401 with `WWW-Authenticate`, `forbidden` 403, `too_large` 413).
#[derive(Debug)]
pub struct PromError {
    status: StatusCode,
    kind: &'static str,
    message: String,
}

impl PromError {
    pub fn bad_data(message: impl std::fmt::Display) -> PromError {
        PromError { status: StatusCode::BAD_REQUEST, kind: "bad_data", message: message.to_string() }
    }

    /// `invalid parameter "<name>": <why>`, Prometheus' words for a parameter it cannot use.
    pub fn invalid(name: &str, why: impl std::fmt::Display) -> PromError {
        PromError::bad_data(format!("invalid parameter {name:?}: {why}"))
    }

    /// What Prometheus 2.42 answers while its admin API is off: type `unavailable`, but status
    /// 500 (measured against the real one).
    pub fn admin_disabled() -> PromError {
        PromError { status: StatusCode::INTERNAL_SERVER_ERROR, kind: "unavailable", message: "admin APIs disabled".into() }
    }

    pub fn eval(e: EvalError) -> PromError {
        let (status, kind) = match e {
            EvalError::BadData(_) => (StatusCode::BAD_REQUEST, "bad_data"),
            EvalError::Execution(_) | EvalError::TooManySamples(_) => (StatusCode::UNPROCESSABLE_ENTITY, "execution"),
            EvalError::Timeout(_) => (StatusCode::SERVICE_UNAVAILABLE, "timeout"),
            EvalError::Storage(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        PromError { status, kind, message: e.to_string() }
    }
}

impl std::fmt::Display for PromError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<ApiError> for PromError {
    fn from(e: ApiError) -> PromError {
        let kind = match e.status {
            StatusCode::BAD_REQUEST | StatusCode::UNSUPPORTED_MEDIA_TYPE => "bad_data",
            StatusCode::UNAUTHORIZED => "unauthorized",
            StatusCode::FORBIDDEN => "forbidden",
            StatusCode::NOT_FOUND => "not_found",
            StatusCode::PAYLOAD_TOO_LARGE => "too_large",
            StatusCode::SERVICE_UNAVAILABLE | StatusCode::INSUFFICIENT_STORAGE => "unavailable",
            _ => "internal",
        };
        PromError { status: e.status, kind, message: e.message }
    }
}

impl From<crate::data::Error> for PromError {
    fn from(e: crate::data::Error) -> PromError {
        ApiError::from(e).into()
    }
}

impl From<crate::data::StoreError> for PromError {
    fn from(e: crate::data::StoreError) -> PromError {
        ApiError::from(e).into()
    }
}

impl ResponseError for PromError {
    fn status_code(&self) -> StatusCode {
        self.status
    }
    fn error_response(&self) -> HttpResponse {
        let mut body = String::from("{\"status\":\"error\",\"errorType\":");
        prom_format::string(self.kind, &mut body);
        body.push_str(",\"error\":");
        prom_format::string(&self.message, &mut body);
        body.push('}');
        let mut answer = HttpResponse::build(self.status);
        if self.status == StatusCode::UNAUTHORIZED {
            answer.insert_header(("WWW-Authenticate", "Basic realm=\"gemini\""));
        }
        answer.content_type("application/json").body(body)
    }
}

/// The one place a handler's result becomes an HTTP answer: `{"status":"success","data":<data>}`,
/// with `"warnings":[…]` when there are any, or the error's envelope and status.
pub fn respond(result: Result<Answer, PromError>) -> HttpResponse {
    let answer = match result {
        Ok(answer) => answer,
        Err(e) => return e.error_response(),
    };
    if answer.data.is_empty() {
        return HttpResponse::NoContent().finish();
    }
    let mut body = String::with_capacity(answer.data.len() + 64);
    body.push_str("{\"status\":\"success\",\"data\":");
    body.push_str(&answer.data);
    if !answer.warnings.is_empty() {
        body.push_str(",\"warnings\":");
        prom_format::array(&answer.warnings, &mut body, |w, out| prom_format::string(w, out));
    }
    body.push('}');
    HttpResponse::Ok().content_type("application/json").body(body)
}

/// What a path asks of the caller before its handler runs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Access {
    /// The READ grant on `db`, and that the database and policy exist: every path that reads data.
    Read,
    /// Valid credentials only (when auth is on): build information, rules and alerts.
    Authenticated,
    /// The admin API: `admin APIs disabled` unless `--web.enable-admin-api`, then an admin
    /// user (when auth is on).
    Admin,
}

/// A request made ready: its form, and the database and policy it reads, the caller
/// authorised for them.
pub struct Ready {
    pub form: Form,
    pub db: String,
    pub rp: Option<String>,
}

/// Reads the form (the body only for a form-encoded POST or PUT, as Go's `ParseForm`), then checks
/// the caller's credentials; for `Access::Read`, also the READ grant on `db` and that the
/// database and policy exist.
pub async fn ready(req: &HttpRequest, payload: web::Payload, state: &AppState, access: Access) -> Result<Ready, PromError> {
    let form_body = [actix_web::http::Method::POST, actix_web::http::Method::PUT].contains(req.method())
        && req.headers().get("content-type").and_then(|v| v.to_str().ok()).is_some_and(|ct| {
            ct.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    let body = match form_body {
        true => super::body::read_raw(payload, state.max_body_bytes).await?.to_vec(),
        false => Vec::new(),
    };
    let form = Form::new(req.query_string(), &body);
    let db = match form.value("db") {
        "" => "prometheus".to_string(),
        db => db.to_string(),
    };
    let rp = Some(form.value("rp").to_string()).filter(|r| !r.is_empty());
    match access {
        Access::Read => {
            super::auth::authorize(req, state, Privilege::Read, &db)?;
            super::require_policy(state, &db, rp.as_deref())?;
        }
        Access::Authenticated => {
            super::auth::authenticate(req, state)?;
        }
        Access::Admin => {
            if !state.admin_api {
                return Err(PromError::admin_disabled());
            }
            let who = super::auth::authenticate(req, state)?;
            if !who.is_admin() {
                return Err(ApiError::new(StatusCode::FORBIDDEN, format!("{:?} user is not an admin: the admin API needs admin privileges", who.name())).into());
            }
        }
    }
    Ok(Ready { form, db, rp })
}

/// `parseTimeParam`: the time named `name`, or `default` when the form has none.
pub fn time_param(form: &Form, name: &str, default: Nanos) -> Result<Nanos, PromError> {
    match form.value(name) {
        "" => Ok(default),
        text => prom_params::parse_time(text).map_err(|e| PromError::invalid(name, format!("Invalid time value for '{name}': {e}"))),
    }
}

/// `wrap`: the path's resource, GET with a query string or POST with a form body, whose
/// requests are made `ready` for `access`, handed to `handler`, and answered by `respond`.
/// Admin paths take POST and PUT, as Prometheus registers them.
pub fn route<F, Fut>(path: &str, access: Access, handler: F) -> actix_web::Resource
where
    F: Fn(Ready, HttpRequest, web::Data<AppState>) -> Fut + Clone + 'static,
    Fut: Future<Output = Result<Answer, PromError>> + 'static,
{
    let (first, second) = match access {
        Access::Admin => (web::post(), web::put()),
        _ => (web::get(), web::post()),
    };
    let wrapped = move |req: HttpRequest, payload: web::Payload, state: web::Data<AppState>| {
        let handler = handler.clone();
        async move {
            let result = match ready(&req, payload, &state, access).await {
                Ok(r) => handler(r, req, state).await,
                Err(e) => Err(e),
            };
            respond(result)
        }
    };
    super::endpoint(path).route(first.to(wrapped.clone())).route(second.to(wrapped))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_web::test]
    async fn errors_in_prometheus_envelope() {
        let e = PromError::eval(EvalError::Timeout("query execution"));
        assert_eq!((e.status.as_u16(), e.kind), (503, "timeout"));
        let e = PromError::eval(EvalError::TooManySamples("query execution"));
        assert_eq!((e.status.as_u16(), e.kind, e.message.as_str()), (422, "execution", "query processing would load too many samples into memory in query execution"));
        let e = PromError::eval(EvalError::Execution("vector cannot contain metrics with the same labelset".into()));
        assert_eq!((e.status.as_u16(), e.kind), (422, "execution"));
        let e = PromError::from(ApiError::new(StatusCode::NOT_FOUND, "database not found: x"));
        assert_eq!((e.status.as_u16(), e.kind), (404, "not_found"));
        let answer = respond(Err(PromError::bad_data("no match[] parameter provided")));
        assert_eq!(answer.headers().get("content-type").unwrap(), "application/json");
        let text = actix_web::body::to_bytes(answer.into_body()).await.unwrap();
        assert_eq!(text, r#"{"status":"error","errorType":"bad_data","error":"no match[] parameter provided"}"#);
        let answer = respond(Err(PromError::from(ApiError::new(StatusCode::UNAUTHORIZED, "authorization failed"))));
        assert_eq!(answer.headers().get("www-authenticate").unwrap(), "Basic realm=\"gemini\"");
        let text = actix_web::body::to_bytes(respond(Ok(Answer::with_warnings("[]", vec!["w \"1\"".into()]))).into_body()).await.unwrap();
        assert_eq!(text, r#"{"status":"success","data":[],"warnings":["w \"1\""]}"#);
    }
}
