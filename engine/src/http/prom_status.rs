//! Prometheus' status API, in Prometheus 2.42's shapes (web/api/v1/api.go): `/api/v1/status/tsdb`
//! (cardinality, from `data::cardinality`, so through any node of a cluster for the whole
//! cluster), `/api/v1/status/flags` (every `gemini serve` flag and the value it runs with),
//! `/api/v1/status/runtimeinfo` and `/api/v1/format_query` (`promql::pretty`).
//!
//! `status/tsdb` looks, as Prometheus' head does, at the last hour: the series with a sample
//! in [now − 1h, now]. As VictoriaMetrics adds, `match[]` keeps only the matching series, and
//! `start`/`end` (Prometheus times) or `date=YYYY-MM-DD` (that UTC day) look at another range;
//! `limit` (default 10, as later Prometheus versions take it) cuts the lists.

use super::prom_envelope::{time_param, Answer, PromError, Ready};
use super::prom_params::{self, Nanos};
use super::AppState;
use crate::data::cardinality::{self, Stat, Summary};
use crate::data::schema::Policies;
use actix_web::{web, HttpRequest};
use std::collections::BTreeMap;
use std::time::SystemTime;

/// What the status endpoints report of the server itself, fixed at start.
#[derive(Debug)]
pub struct ServerInfo {
    pub started: SystemTime,
    /// Flag name → the value the server runs with (`config::flags`).
    pub flags: BTreeMap<String, String>,
}

impl ServerInfo {
    pub fn at_start(cfg: &crate::config::Config) -> ServerInfo {
        ServerInfo { started: SystemTime::now(), flags: crate::config::flags::values(cfg) }
    }
}

/// The default time range of `status/tsdb`: as much as Prometheus' head holds of recent data.
const HEAD_SPAN_MS: i64 = 3_600_000;
/// The longest lists `limit` may ask for (Prometheus' `maxTSDBLimit`).
const MAX_LIMIT: usize = 10_000;

/// `limit`, as Prometheus since 2.45 takes it: 1 to 10000, default 10.
fn limit(text: &str) -> Result<usize, PromError> {
    if text.is_empty() {
        return Ok(10);
    }
    match text.parse::<i64>() {
        Ok(n) if n > MAX_LIMIT as i64 => Err(PromError::bad_data(format!("limit must not exceed {MAX_LIMIT}"))),
        Ok(n) if n >= 1 => Ok(n as usize),
        _ => Err(PromError::bad_data("limit must be a positive number")),
    }
}

/// The time range [min_t, max_t] (ms) to look at: `date` (a UTC day), or `start`/`end`
/// (default: the hour up to now).
fn time_range(r: &Ready) -> Result<(i64, i64), PromError> {
    let date = r.form.value("date");
    if !date.is_empty() {
        if !r.form.value("start").is_empty() || !r.form.value("end").is_empty() {
            return Err(PromError::bad_data("date cannot be combined with start or end"));
        }
        let day = date.parse::<jiff::civil::Date>().map_err(|_| PromError::invalid("date", format!("cannot parse {date:?} as a day like 2024-01-31")))?;
        let start = prom_params::parse_time(&format!("{day}T00:00:00Z")).map_err(|e| PromError::invalid("date", e))?;
        let start = prom_params::millis(start);
        return Ok((start, start + 86_400_000 - 1));
    }
    let now = crate::clock::now_ns() as Nanos;
    let end = prom_params::millis(time_param(&r.form, "end", now)?);
    let start = match r.form.value("start") {
        "" => end - HEAD_SPAN_MS,
        _ => prom_params::millis(time_param(&r.form, "start", 0)?),
    };
    if end < start {
        return Err(PromError::invalid("end", "end timestamp must not be before start time"));
    }
    Ok((start, end))
}

/// Prometheus' `TSDBStatus`, its fields in its order.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct TsdbStatus<'a> {
    head_stats: HeadStats,
    series_count_by_metric_name: &'a [Stat],
    label_value_count_by_label_name: &'a [Stat],
    memory_in_bytes_by_label_name: &'a [Stat],
    series_count_by_label_value_pair: &'a [Stat],
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct HeadStats {
    num_series: u64,
    num_label_pairs: u64,
    chunk_count: u64,
    min_time: i64,
    max_time: i64,
}

fn render(s: &Summary) -> String {
    let status = TsdbStatus {
        head_stats: HeadStats { num_series: s.num_series, num_label_pairs: s.num_label_pairs, chunk_count: s.chunk_count, min_time: s.min_time, max_time: s.max_time },
        series_count_by_metric_name: &s.series_count_by_metric_name,
        label_value_count_by_label_name: &s.label_value_count_by_label_name,
        memory_in_bytes_by_label_name: &s.memory_in_bytes_by_label_name,
        series_count_by_label_value_pair: &s.series_count_by_label_value_pair,
    };
    serde_json::to_string(&status).expect("plain structs are JSON")
}

/// `/api/v1/status/tsdb`.
pub async fn tsdb(r: Ready, _req: HttpRequest, state: web::Data<AppState>) -> Result<Answer, PromError> {
    let limit = limit(r.form.value("limit"))?;
    let range = time_range(&r)?;
    let sets = super::prom_series::selectors(&r, |e| PromError::invalid("match[]", e))?;
    let found = cardinality::read(&state.data, &r.db, Policies::One(r.rp.as_deref()), sets, range).await?;
    Ok(Answer::new(render(&found.top(limit))))
}

/// `/api/v1/status/flags`.
pub async fn flags(_r: Ready, _req: HttpRequest, state: web::Data<AppState>) -> Result<Answer, PromError> {
    Ok(Answer::new(serde_json::to_string(&state.info.flags).expect("a map of strings is JSON")))
}

/// Go's `time.Time` in JSON: RFC 3339 with the fraction's trailing zeros cut.
fn go_time(t: SystemTime) -> String {
    let nanos = t.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_nanos() as i128).unwrap_or(0);
    jiff::Timestamp::from_nanosecond(nanos).map(|t| t.to_string()).unwrap_or_default()
}

/// Threads of this process (Go's goroutines have no better counterpart), from /proc.
fn threads() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status.lines().find_map(|l| l.strip_prefix("Threads:")).and_then(|n| n.trim().parse().ok()).unwrap_or(0)
}

/// How long the default policy of `db` keeps raw data, as Prometheus prints its retention
/// (`30d`); `infinite` for forever, "" without the database.
fn retention(state: &AppState, db: &str) -> String {
    let Ok(database) = state.data.catalog().database(db) else { return String::new() };
    match database.policies.iter().find(|p| p.name == database.default_policy).map(|p| p.duration) {
        Some(0) => "infinite".to_string(),
        Some(ns) => crate::config::format_prometheus_duration((ns / 1_000_000) as u64),
        None => String::new(),
    }
}

/// Prometheus' `RuntimeInfo`, its fields in its order.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct RuntimeInfo {
    start_time: String,
    #[serde(rename = "CWD")]
    cwd: String,
    reload_config_success: bool,
    last_config_time: String,
    corruption_count: i64,
    goroutine_count: usize,
    #[serde(rename = "GOMAXPROCS")]
    gomaxprocs: usize,
    #[serde(rename = "GOGC")]
    gogc: String,
    #[serde(rename = "GODEBUG")]
    godebug: String,
    storage_retention: String,
}

/// `/api/v1/status/runtimeinfo`, with Prometheus' keys: the process' threads stand for
/// goroutines and the cores for GOMAXPROCS; the configuration is read once, at start; no Go
/// runtime settings; `storageRetention` is that of `db`'s default policy.
pub async fn runtime_info(r: Ready, _req: HttpRequest, state: web::Data<AppState>) -> Result<Answer, PromError> {
    let started = state.info.started;
    let whole_seconds = started.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let info = RuntimeInfo {
        start_time: go_time(started),
        cwd: std::env::current_dir().map(|d| d.display().to_string()).unwrap_or_default(),
        reload_config_success: true,
        last_config_time: go_time(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(whole_seconds)),
        corruption_count: 0,
        goroutine_count: threads(),
        gomaxprocs: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        gogc: String::new(),
        godebug: String::new(),
        storage_retention: retention(&state, &r.db),
    };
    Ok(Answer::new(serde_json::to_string(&info).expect("plain structs are JSON")))
}

/// `/api/v1/format_query`: `query` as Prometheus' `Prettify` prints it; a query that does
/// not parse is refused as `/api/v1/query` refuses it.
pub async fn format_query(r: Ready, _req: HttpRequest, _state: web::Data<AppState>) -> Result<Answer, PromError> {
    let parsed = super::prom_api::parse(&r, true)?;
    Ok(Answer::new(serde_json::Value::String(parsed.pretty()).to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_as_prometheus() {
        assert_eq!(limit("").unwrap(), 10);
        assert_eq!(limit("3").unwrap(), 3);
        assert_eq!(limit("10000").unwrap(), 10_000);
        for bad in ["0", "-1", "x", "1.5"] {
            assert_eq!(limit(bad).unwrap_err().to_string(), "limit must be a positive number", "{bad}");
        }
        assert_eq!(limit("10001").unwrap_err().to_string(), "limit must not exceed 10000");
    }

    #[test]
    fn go_times() {
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::new(1_700_000_000, 25_000_000);
        assert_eq!(go_time(t), "2023-11-14T22:13:20.025Z");
        assert_eq!(go_time(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000)), "2023-11-14T22:13:20Z");
    }
}
