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

fn stats(list: &[Stat]) -> serde_json::Value {
    list.iter().map(|s| serde_json::json!({"name": s.name, "value": s.value})).collect()
}

fn render(s: &Summary) -> String {
    serde_json::json!({
        "headStats": {
            "numSeries": s.num_series,
            "numLabelPairs": s.num_label_pairs,
            "chunkCount": s.chunk_count,
            "minTime": s.min_time,
            "maxTime": s.max_time,
        },
        "seriesCountByMetricName": stats(&s.series_count_by_metric_name),
        "labelValueCountByLabelName": stats(&s.label_value_count_by_label_name),
        "memoryInBytesByLabelName": stats(&s.memory_in_bytes_by_label_name),
        "seriesCountByLabelValuePair": stats(&s.series_count_by_label_value_pair),
    })
    .to_string()
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

/// `/api/v1/status/runtimeinfo`, with Prometheus' keys: the process' threads stand for
/// goroutines and the cores for GOMAXPROCS; the configuration is read once, at start;
/// `storageRetention` is that of `db`'s default policy.
pub async fn runtime_info(r: Ready, _req: HttpRequest, state: web::Data<AppState>) -> Result<Answer, PromError> {
    let started = state.info.started;
    let started_second = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(started.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0));
    let cwd = std::env::current_dir().map(|d| d.display().to_string()).unwrap_or_default();
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let info = serde_json::json!({
        "startTime": go_time(started),
        "CWD": cwd,
        "reloadConfigSuccess": true,
        "lastConfigTime": go_time(started_second),
        "corruptionCount": 0,
        "goroutineCount": threads(),
        "GOMAXPROCS": cores,
        "GOGC": "",
        "GODEBUG": "",
        "storageRetention": retention(&state, &r.db),
    });
    Ok(Answer::new(info.to_string()))
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
