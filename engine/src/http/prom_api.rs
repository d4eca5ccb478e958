//! Prometheus' HTTP query API, as Prometheus 2.42 serves it (web/api/v1/api.go), so that
//! Grafana's Prometheus data source and any Prometheus API client query Gemini directly:
//! `/api/v1/query` and `/api/v1/query_range` (through the PromQL evaluator, `crate::promql`),
//! the series and label endpoints (`prom_series`), `/api/v1/status/buildinfo`, and empty but
//! valid `/api/v1/query_exemplars`, `/api/v1/rules` and `/api/v1/alerts` (Grafana asks for
//! them). Each handler checks its parameters and returns an `Answer` or a `PromError`;
//! `prom_envelope` reads the form, checks credentials and grants (those of remote read) and
//! puts the result in Prometheus' envelope. `db` picks the database (default `prometheus`),
//! `rp` the retention policy. A range query goes through the range-query cache
//! (`query_cache`) when the server has one and the query may use it.

use super::prom_envelope::{time_param, Answer, PromError, Ready};
use super::prom_format;
use super::prom_params::{self, Form, Nanos};
use super::query_cache::{self, Key, QueryCache};
use super::query_log::{self, Query, QueryLog};
use super::AppState;
use crate::promql::value::Value;
use crate::promql::{self, build::Parsed, error::EvalError, tier::Resolution, QueryParams};
use actix_web::{web, HttpRequest};
use std::time::{Duration, Instant};

/// The Prometheus version `/api/v1/status/buildinfo` reports. Grafana reads it to choose the
/// features it uses (e.g. which API calls, which query editor helpers); 2.42.0 is the version
/// whose semantics Gemini follows and whose API the differential test compares with.
pub const PROMETHEUS_VERSION: &str = "2.42.0";

/// The most points a range query may answer per series, as Prometheus limits it.
const MAX_POINTS: i64 = 11_000;

fn now() -> Nanos {
    crate::clock::now_ns() as Nanos
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
    let resolution = Resolution::parse(form.value("max_source_resolution")).map_err(|e| PromError::invalid("max_source_resolution", e))?;
    Ok(QueryParams { start, end, step, lookback, deadline, max_samples: state.query.max_samples, resolution })
}

/// A query's error as Prometheus words it.
fn prom_error(e: promql::Error, instant: bool) -> PromError {
    match e {
        // Prometheus words a query that does not parse as a bad parameter for instant queries.
        promql::Error::Eval(EvalError::BadData(m)) if instant => PromError::invalid("query", m),
        promql::Error::Eval(e) => PromError::eval(e),
        promql::Error::Data(e) => e.into(),
    }
}

/// The `query` parameter parsed (once per request).
pub(super) fn parse(r: &Ready, instant: bool) -> Result<Parsed, PromError> {
    promql::build::parse(r.form.value("query")).map_err(|e| prom_error(e.into(), instant))
}

/// The query's value and warnings, or its error as Prometheus words it.
async fn run(state: &AppState, r: &Ready, parsed: &Parsed, params: QueryParams, instant: bool) -> Result<(Value, Vec<String>), PromError> {
    let answered = promql::query(&state.data, &r.db, r.rp.as_deref(), parsed, &params).await.map_err(|e| prom_error(e, instant))?;
    for tier in answered.tiers {
        state.metrics.tier_reads[tier as usize].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    Ok((answered.value, answered.warnings))
}

async fn evaluate(state: &AppState, r: &Ready, parsed: &Parsed, params: QueryParams, instant: bool) -> Result<Answer, PromError> {
    let (value, warnings) = run(state, r, parsed, params, instant).await?;
    Ok(Answer::with_warnings(prom_format::query_data(&value), warnings))
}

/// A range query through the cache (`query_cache`): its steps [start, end] from what is kept,
/// the others evaluated.
async fn cached_range(cache: &QueryCache, state: &AppState, r: &Ready, parsed: &Parsed, params: QueryParams) -> Result<Answer, PromError> {
    let query = r.form.value("query").to_string();
    let key = Key { db: r.db.clone(), rp: r.rp.clone(), query, step: params.step, lookback: params.lookback, resolution: params.resolution };
    let part = |start, end| async move {
        match run(state, r, parsed, QueryParams { start, end, ..params }, false).await? {
            (Value::Matrix(m), warnings) => Ok((m, warnings)),
            _ => Err(PromError::eval(EvalError::Execution("a range query answered other than a matrix".into()))),
        }
    };
    let (matrix, warnings) = cache.answer(key, params.start, params.end, crate::clock::now_ms(), &state.metrics, part).await?;
    Ok(Answer::with_warnings(prom_format::matrix_data(&matrix), warnings))
}

/// The query log's view of a query of `api` over [start, end] every `step` (ms), with times
/// as Prometheus' query log writes them.
fn logged<'a>(api: &'static str, r: &'a Ready, start: i64, end: i64, step: i64) -> Query<'a> {
    let time = |ms: i64| jiff::Timestamp::from_millisecond(ms).map(query_log::log_time).unwrap_or_default();
    let params = serde_json::json!({ "rp": r.rp, "start": time(start), "end": time(end), "step": step as f64 / 1000.0 });
    Query { api, db: &r.db, text: r.form.value("query"), params }
}

/// `/api/v1/query`: `query` at `time` (default now).
pub async fn query(r: Ready, req: HttpRequest, state: web::Data<AppState>) -> Result<Answer, PromError> {
    let t = prom_params::millis(time_param(&r.form, "time", now())?);
    let params = query_params(&r.form, &state, t, t, 0)?;
    QueryLog::run(&state, &req, logged("query", &r, t, t, 0), async { evaluate(&state, &r, &parse(&r, true)?, params, true).await }, QueryLog::err).await
}

/// `/api/v1/query_range`: `query` from `start` to `end` every `step`.
pub async fn query_range(r: Ready, req: HttpRequest, state: web::Data<AppState>) -> Result<Answer, PromError> {
    let (start, end, step) = range(&r.form)?;
    let params = query_params(&r.form, &state, start, end, step)?;
    let work = async {
        let parsed = parse(&r, false)?;
        match state.query_cache.as_deref() {
            Some(cache) if query_cache::wanted(&r.form, start, step) && parsed.reads_only_the_past() => cached_range(cache, &state, &r, &parsed, params).await,
            _ => evaluate(&state, &r, &parsed, params, false).await,
        }
    };
    QueryLog::run(&state, &req, logged("query_range", &r, start, end, step), work, QueryLog::err).await
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
pub async fn buildinfo(_r: Ready, _req: HttpRequest, _state: web::Data<AppState>) -> Result<Answer, PromError> {
    let version = env!("CARGO_PKG_VERSION");
    let fields = [("version", PROMETHEUS_VERSION), ("revision", version), ("branch", ""), ("buildUser", ""), ("buildDate", ""), ("goVersion", "")];
    let mut data = String::new();
    prom_format::labels(fields, &mut data);
    Ok(Answer::new(data))
}

/// `/api/v1/query_exemplars`: Gemini keeps no exemplars, so `[]` once the parameters are
/// checked as Prometheus checks them.
pub async fn exemplars(r: Ready, _req: HttpRequest, _state: web::Data<AppState>) -> Result<Answer, PromError> {
    let start = time_param(&r.form, "start", prom_params::MIN_TIME)?;
    let end = time_param(&r.form, "end", prom_params::MAX_TIME)?;
    if end < start {
        return Err(PromError::bad_data("end timestamp must not be before start timestamp"));
    }
    promql_parser::parser::parse(r.form.value("query")).map_err(PromError::bad_data)?;
    Ok(Answer::new("[]"))
}

/// `/api/v1/rules`: no recording or alerting rules run here.
pub async fn rules(r: Ready, _req: HttpRequest, _state: web::Data<AppState>) -> Result<Answer, PromError> {
    let kind = r.form.value("type").to_ascii_lowercase();
    if !["", "alert", "record"].contains(&kind.as_str()) {
        return Err(PromError::invalid("type", format!("not supported value {kind:?}")));
    }
    Ok(Answer::new("{\"groups\":[]}"))
}

/// `/api/v1/alerts`: no alerts, since no alerting rules run here.
pub async fn alerts(_r: Ready, _req: HttpRequest, _state: web::Data<AppState>) -> Result<Answer, PromError> {
    Ok(Answer::new("{\"alerts\":[]}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(q: &str) -> Form {
        Form::new(q, b"")
    }

    fn err(r: Result<(i64, i64, i64), PromError>) -> String {
        r.unwrap_err().to_string()
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
}
