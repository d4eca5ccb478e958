//! Prometheus' HTTP query API, as Prometheus 2.42 serves it (web/api/v1/api.go), so that
//! Grafana's Prometheus data source and any Prometheus API client query Gemini directly:
//! `/api/v1/query` and `/api/v1/query_range` (through the PromQL evaluator, `crate::promql`),
//! the series and label endpoints (`prom_series`), `/api/v1/status/buildinfo`, and empty but
//! valid `/api/v1/query_exemplars`, `/api/v1/rules` and `/api/v1/alerts` (Grafana asks for
//! them). Each path takes GET with a query string or POST with a form body; `db` picks the
//! database (default `prometheus`), `rp` the retention policy; credentials and grants are
//! those of remote read. Answers are Prometheus' envelope: `{"status":"success","data":…}`
//! (with `warnings` when there are any) or `{"status":"error","errorType":…,"error":…}`.

use super::prom_format;
use super::prom_params::{self, Form, Nanos};
use super::{ApiError, AppState};
use crate::model::Privilege;
use crate::promql::{self, error::EvalError, QueryParams};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use std::time::{Duration, Instant};

/// The Prometheus version `/api/v1/status/buildinfo` reports. Grafana reads it to choose the
/// features it uses (e.g. which API calls, which query editor helpers); 2.42.0 is the version
/// whose semantics Gemini follows and whose API the differential test compares with.
pub const PROMETHEUS_VERSION: &str = "2.42.0";

/// The most points a range query may answer per series, as Prometheus limits it.
const MAX_POINTS: i64 = 11_000;

pub fn configure(cfg: &mut web::ServiceConfig) {
    fn both(path: &str, handler: impl actix_web::Handler<(HttpRequest, web::Payload, web::Data<AppState>), Output = Result<HttpResponse, PromError>> + Clone) -> actix_web::Resource {
        super::endpoint(path).route(web::get().to(handler.clone())).route(web::post().to(handler))
    }
    cfg.service(both("/api/v1/query", query))
        .service(both("/api/v1/query_range", query_range))
        .service(both("/api/v1/series", super::prom_series::series))
        .service(both("/api/v1/labels", super::prom_series::label_names))
        .service(both("/api/v1/label/{name}/values", super::prom_series::label_values))
        .service(both("/api/v1/metadata", super::prom_series::metadata))
        .service(both("/api/v1/status/buildinfo", buildinfo))
        .service(both("/api/v1/query_exemplars", exemplars))
        .service(both("/api/v1/rules", rules))
        .service(both("/api/v1/alerts", alerts));
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
    pub fn bad_data(message: impl Into<String>) -> PromError {
        PromError { status: StatusCode::BAD_REQUEST, kind: "bad_data", message: message.into() }
    }

    /// `invalid parameter "<name>": <why>`, Prometheus' words for a parameter it cannot use.
    pub fn invalid(name: &str, why: impl std::fmt::Display) -> PromError {
        PromError::bad_data(format!("invalid parameter {name:?}: {why}"))
    }

    fn eval(e: EvalError) -> PromError {
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
            StatusCode::SERVICE_UNAVAILABLE => "unavailable",
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

impl From<crate::storage::Error> for PromError {
    fn from(e: crate::storage::Error) -> PromError {
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

/// `{"status":"success","data":<data>}`, with `"warnings":[…]` when there are any.
pub fn success(data: &str, warnings: &[String]) -> HttpResponse {
    let mut body = String::with_capacity(data.len() + 64);
    body.push_str("{\"status\":\"success\",\"data\":");
    body.push_str(data);
    if !warnings.is_empty() {
        body.push_str(",\"warnings\":");
        prom_format::array(warnings, &mut body, |w, out| prom_format::string(w, out));
    }
    body.push('}');
    HttpResponse::Ok().content_type("application/json").body(body)
}

/// A request made ready: its form, and the database and policy it reads, the caller
/// authorised for them.
pub struct Ready {
    pub form: Form,
    pub db: String,
    pub rp: Option<String>,
}

/// Reads the form (the body only for a form-encoded POST, as Go's `ParseForm`), then checks
/// the caller's credentials; with `read`, also the READ grant on `db` and that the database
/// and policy exist.
pub async fn ready(req: &HttpRequest, payload: web::Payload, state: &AppState, read: bool) -> Result<Ready, PromError> {
    let form_body = req.method() == actix_web::http::Method::POST
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
    if read {
        super::auth::authorize(req, state, Privilege::Read, &db)?;
        super::require_policy(state, &db, rp.as_deref())?;
    } else {
        super::auth::authenticate(req, state)?;
    }
    Ok(Ready { form, db, rp })
}

fn now() -> Nanos {
    crate::clock::now_ns() as Nanos
}

/// `parseTimeParam`: the time named `name`, or `default` when the form has none.
pub fn time_param(form: &Form, name: &str, default: Nanos) -> Result<Nanos, PromError> {
    match form.value(name) {
        "" => Ok(default),
        text => prom_params::parse_time(text).map_err(|e| PromError::invalid(name, format!("Invalid time value for '{name}': {e}"))),
    }
}

/// The evaluation's deadline: the server's `--query.timeout`, shortened by `timeout=`.
fn deadline(form: &Form, state: &AppState) -> Result<Instant, PromError> {
    let timeout = match form.value("timeout") {
        "" => state.query.timeout,
        text => {
            let ns = prom_params::parse_duration(text).map_err(|e| PromError::invalid("timeout", e))?;
            state.query.timeout.min(Duration::from_nanos(ns.max(0) as u64))
        }
    };
    Ok(Instant::now() + timeout)
}

/// The query's parameters but for its times: deadline, lookback (`lookback_delta=` when
/// positive, as later Prometheus versions take it, else `--query.lookback-delta`), limits.
fn query_params(form: &Form, state: &AppState, start: i64, end: i64, step: i64) -> Result<QueryParams, PromError> {
    let deadline = deadline(form, state)?;
    let lookback = match form.value("lookback_delta") {
        "" => 0,
        text => prom_params::parse_duration(text).map_err(|e| PromError::bad_data(format!("error parsing lookback delta duration: {e}")))?,
    };
    let lookback = if lookback > 0 { lookback / 1_000_000 } else { state.query.lookback_delta.as_millis() as i64 };
    Ok(QueryParams { start, end, step, lookback, deadline, max_samples: state.query.max_samples })
}

async fn evaluate(state: &AppState, r: &Ready, params: QueryParams, instant: bool) -> Result<HttpResponse, PromError> {
    match promql::query(&state.data, &r.db, r.rp.as_deref(), r.form.value("query"), &params).await {
        Ok((value, warnings)) => Ok(success(&prom_format::query_data(&value), &warnings)),
        // Prometheus words a query that does not parse as a bad parameter for instant queries.
        Err(promql::Error::Eval(EvalError::BadData(m))) if instant => Err(PromError::invalid("query", m)),
        Err(promql::Error::Eval(e)) => Err(PromError::eval(e)),
        Err(promql::Error::Data(e)) => Err(e.into()),
    }
}

/// `/api/v1/query`: `query` at `time` (default now).
pub async fn query(req: HttpRequest, payload: web::Payload, state: web::Data<AppState>) -> Result<HttpResponse, PromError> {
    let r = ready(&req, payload, &state, true).await?;
    let t = prom_params::millis(time_param(&r.form, "time", now())?);
    let params = query_params(&r.form, &state, t, t, 0)?;
    evaluate(&state, &r, params, true).await
}

/// `/api/v1/query_range`: `query` from `start` to `end` every `step`.
pub async fn query_range(req: HttpRequest, payload: web::Payload, state: web::Data<AppState>) -> Result<HttpResponse, PromError> {
    let r = ready(&req, payload, &state, true).await?;
    let (start, end, step) = range(&r.form)?;
    let params = query_params(&r.form, &state, start, end, step)?;
    evaluate(&state, &r, params, false).await
}

/// A range query's `start`, `end` (ms) and `step` (ms), checked as Prometheus checks them.
/// Prometheus truncates a step to whole milliseconds for evaluation; a step under 1 ms, which
/// it would evaluate with a zero step, is refused as zero.
fn range(form: &Form) -> Result<(i64, i64, i64), PromError> {
    let start = prom_params::parse_time(form.value("start")).map_err(|e| PromError::invalid("start", e))?;
    let end = prom_params::parse_time(form.value("end")).map_err(|e| PromError::invalid("end", e))?;
    if end < start {
        return Err(PromError::invalid("end", "end timestamp must not be before start time"));
    }
    let step = prom_params::parse_duration(form.value("step")).map_err(|e| PromError::invalid("step", e))?;
    let zero = || PromError::invalid("step", "zero or negative query resolution step widths are not accepted. Try a positive integer");
    if step <= 0 {
        return Err(zero());
    }
    // Go's end.Sub(start) saturates at the largest duration.
    let span = (end - start).min(i64::MAX as i128) as i64;
    if span / step > MAX_POINTS {
        return Err(PromError::bad_data("exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)"));
    }
    match step / 1_000_000 {
        0 => Err(zero()),
        ms => Ok((prom_params::millis(start), prom_params::millis(end), ms)),
    }
}

/// `/api/v1/status/buildinfo`, Prometheus' fields in its order; `revision` carries Gemini's
/// version.
pub async fn buildinfo(req: HttpRequest, payload: web::Payload, state: web::Data<AppState>) -> Result<HttpResponse, PromError> {
    ready(&req, payload, &state, false).await?;
    let version = env!("CARGO_PKG_VERSION");
    let fields = [("version", PROMETHEUS_VERSION), ("revision", version), ("branch", ""), ("buildUser", ""), ("buildDate", ""), ("goVersion", "")];
    let mut data = String::new();
    prom_format::labels(fields, &mut data);
    Ok(success(&data, &[]))
}

/// `/api/v1/query_exemplars`: Gemini keeps no exemplars, so `[]` once the parameters are
/// checked as Prometheus checks them.
pub async fn exemplars(req: HttpRequest, payload: web::Payload, state: web::Data<AppState>) -> Result<HttpResponse, PromError> {
    let r = ready(&req, payload, &state, true).await?;
    let start = time_param(&r.form, "start", prom_params::MIN_TIME)?;
    let end = time_param(&r.form, "end", prom_params::MAX_TIME)?;
    if end < start {
        return Err(PromError::bad_data("end timestamp must not be before start timestamp"));
    }
    promql_parser::parser::parse(r.form.value("query")).map_err(PromError::bad_data)?;
    Ok(success("[]", &[]))
}

/// `/api/v1/rules`: no recording or alerting rules run here.
pub async fn rules(req: HttpRequest, payload: web::Payload, state: web::Data<AppState>) -> Result<HttpResponse, PromError> {
    let r = ready(&req, payload, &state, false).await?;
    let kind = r.form.value("type").to_ascii_lowercase();
    if !["", "alert", "record"].contains(&kind.as_str()) {
        return Err(PromError::invalid("type", format!("not supported value {kind:?}")));
    }
    Ok(success("{\"groups\":[]}", &[]))
}

/// `/api/v1/alerts`: no alerts, since no alerting rules run here.
pub async fn alerts(req: HttpRequest, payload: web::Payload, state: web::Data<AppState>) -> Result<HttpResponse, PromError> {
    ready(&req, payload, &state, false).await?;
    Ok(success("{\"alerts\":[]}", &[]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(q: &str) -> Form {
        Form::new(q, b"")
    }

    fn err(r: Result<(i64, i64, i64), PromError>) -> String {
        r.unwrap_err().message
    }

    #[test]
    fn range_parameters_as_prometheus_checks_them() {
        assert_eq!(range(&form("start=1&end=2.5&step=0.5")).unwrap(), (1000, 2500, 500));
        assert_eq!(range(&form("start=2015-06-03T13:21:58Z&end=2015-06-03T13:22:58Z&step=1m")).unwrap(), (1_433_337_718_000, 1_433_337_778_000, 60_000));
        assert_eq!(err(range(&form("end=2&step=1"))), "invalid parameter \"start\": cannot parse \"\" to a valid timestamp");
        assert_eq!(err(range(&form("start=x&end=2&step=1"))), "invalid parameter \"start\": cannot parse \"x\" to a valid timestamp");
        assert_eq!(err(range(&form("start=1&end=x&step=1"))), "invalid parameter \"end\": cannot parse \"x\" to a valid timestamp");
        assert_eq!(err(range(&form("start=2&end=1&step=1"))), "invalid parameter \"end\": end timestamp must not be before start time");
        assert_eq!(err(range(&form("start=1&end=2&step=x"))), "invalid parameter \"step\": cannot parse \"x\" to a valid duration");
        let zero = "invalid parameter \"step\": zero or negative query resolution step widths are not accepted. Try a positive integer";
        for step in ["0", "-1", "0s", "0.0001"] {
            assert_eq!(err(range(&form(&format!("start=1&end=1&step={step}")))), zero, "{step}");
        }
        // 11 000 points are fine, one more step is not.
        assert_eq!(range(&form("start=0&end=11000&step=1")).unwrap(), (0, 11_000_000, 1000));
        let e = err(range(&form("start=0&end=11001&step=1")));
        assert_eq!(e, "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)");
        assert_eq!(range(&form("start=0&end=11000.999&step=1")).unwrap().1, 11_000_999);
    }

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
        let answer = PromError::bad_data("no match[] parameter provided").error_response();
        assert_eq!(answer.headers().get("content-type").unwrap(), "application/json");
        let text = actix_web::body::to_bytes(answer.into_body()).await.unwrap();
        assert_eq!(text, r#"{"status":"error","errorType":"bad_data","error":"no match[] parameter provided"}"#);
        let answer = PromError::from(ApiError::new(StatusCode::UNAUTHORIZED, "authorization failed")).error_response();
        assert_eq!(answer.headers().get("www-authenticate").unwrap(), "Basic realm=\"gemini\"");
        let text = actix_web::body::to_bytes(success("[]", &["w \"1\"".into()]).into_body()).await.unwrap();
        assert_eq!(text, r#"{"status":"success","data":[],"warnings":["w \"1\""]}"#);
    }
}
