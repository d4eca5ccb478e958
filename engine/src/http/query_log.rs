//! The query log. Every PromQL query (`/api/v1/query`, `/api/v1/query_range`) and every
//! InfluxQL request (`/query`) that gets as far as running is timed, with what its reads took
//! from storage (`data::tallied`): the duration goes into `gemini_query_duration_seconds`;
//! with `--query.log-file`, one JSON line goes to that file, in the shape of Prometheus' query
//! log (`httpRequest`, `params`, `stats`, `ts`) with the database, the status and the error
//! added; with `--query.slow-threshold`, a slower query is logged at `warn` level as well.

use super::AppState;
use crate::data::{tallied, ReadTally};
use actix_web::HttpRequest;
use serde_json::{json, Value};
use std::fs::File;
use std::future::Future;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Where queries are logged.
#[derive(Default)]
pub struct QueryLog {
    file: Option<Mutex<File>>,
    slow: Option<Duration>,
}

/// A query as the log names it: its API (`query`, `query_range`, `influxql`), database, text,
/// and the parameters it ran with (Prometheus' `start`, `end`, `step`).
pub struct Query<'a> {
    pub api: &'static str,
    pub db: &'a str,
    pub text: &'a str,
    pub params: Value,
}

impl QueryLog {
    /// Opens (appending) `file` when given; slower queries than `slow` go to the log too.
    pub fn open(file: Option<&Path>, slow: Option<Duration>) -> std::io::Result<QueryLog> {
        let file = file.map(|p| File::options().create(true).append(true).open(p)).transpose()?;
        Ok(QueryLog { file: file.map(Mutex::new), slow })
    }

    /// Runs `work`, the query, and logs it with the error `error_of` finds in its answer;
    /// answers what it answered.
    pub async fn run<T>(state: &AppState, req: &HttpRequest, query: Query<'_>, work: impl Future<Output = T>, error_of: impl Fn(&T) -> Option<String>) -> T {
        let started = (Instant::now(), jiff::Timestamp::now());
        let (answer, read) = tallied(work).await;
        let took = started.0.elapsed();
        state.metrics.observe_query(query.api, took.as_secs_f64());
        state.query_log.record(req, &query, started.1, took, read, error_of(&answer).as_deref());
        answer
    }

    /// The error of a query that answers a `Result`.
    pub fn err<T, E: std::fmt::Display>(answer: &Result<T, E>) -> Option<String> {
        answer.as_ref().err().map(ToString::to_string)
    }

    fn record(&self, req: &HttpRequest, query: &Query<'_>, at: jiff::Timestamp, took: Duration, read: ReadTally, error: Option<&str>) {
        let slow = self.slow.is_some_and(|s| took >= s);
        if self.file.is_none() && !slow {
            return;
        }
        let line = entry(req, query, at, took, read, error);
        if slow {
            tracing::warn!(query = %line, "slow query");
        }
        if let Some(file) = &self.file {
            let mut text = line.to_string();
            text.push('\n');
            // One write per line, so lines of concurrent queries never interleave.
            if let Err(e) = file.lock().unwrap_or_else(|p| p.into_inner()).write_all(text.as_bytes()) {
                tracing::error!(error = %e, "cannot write the query log");
            }
        }
    }
}

/// The log's line for a query.
fn entry(req: &HttpRequest, query: &Query<'_>, at: jiff::Timestamp, took: Duration, read: ReadTally, error: Option<&str>) -> Value {
    let mut params = json!({ "db": query.db, "query": redacted(query.text) });
    if let (Value::Object(all), Value::Object(more)) = (&mut params, &query.params) {
        all.extend(more.clone());
    }
    let client = req.peer_addr().map(|a| a.ip().to_string()).unwrap_or_default();
    let mut line = json!({
        "httpRequest": { "clientIP": client, "method": req.method().as_str(), "path": req.path() },
        "params": params,
        "stats": {
            "timings": { "execTotalTime": took.as_secs_f64() },
            "series": read.series,
            "samples": { "totalQueryableSamples": read.samples },
        },
        "status": if error.is_some() { "error" } else { "success" },
        "ts": log_time(at),
    });
    if let Some(e) = error {
        line["error"] = json!(e);
    }
    line
}

/// A time as the log writes it: RFC 3339 in UTC, to the millisecond (Prometheus' query log).
pub fn log_time(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// The query with the passwords of InfluxQL's `CREATE USER … WITH PASSWORD '…'` and
/// `SET PASSWORD FOR … = '…'` replaced by `[REDACTED]`, as InfluxDB's query log shows them.
fn redacted(text: &str) -> std::borrow::Cow<'_, str> {
    static PASSWORD: std::sync::LazyLock<regex::Regex> =
        std::sync::LazyLock::new(|| regex::Regex::new(r"(?i)(\bPASSWORD\s*(?:FOR\s+(?:\w+|\x22(?:[^\x22\\]|\\.)*\x22)\s*=\s*)?)'(?:[^'\\]|\\.)*'").expect("a valid expression"));
    PASSWORD.replace_all(text, "${1}[REDACTED]")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_in_prometheus_shape_with_what_the_query_read() {
        let req = actix_web::test::TestRequest::get().uri("/api/v1/query_range?query=up").peer_addr("10.1.2.3:4567".parse().unwrap()).to_http_request();
        let query = Query { api: "query_range", db: "prometheus", text: "up", params: json!({ "start": "2026-12-07T00:00:00.000Z", "step": 15.0 }) };
        let at: jiff::Timestamp = "2026-12-07T10:11:12.345678Z".parse().unwrap();
        let read = ReadTally { series: 3, samples: 360 };
        let line = entry(&req, &query, at, Duration::from_millis(1500), read, None);
        let want = json!({
            "httpRequest": { "clientIP": "10.1.2.3", "method": "GET", "path": "/api/v1/query_range" },
            "params": { "db": "prometheus", "query": "up", "start": "2026-12-07T00:00:00.000Z", "step": 15.0 },
            "stats": { "timings": { "execTotalTime": 1.5 }, "series": 3, "samples": { "totalQueryableSamples": 360 } },
            "status": "success",
            "ts": "2026-12-07T10:11:12.345Z",
        });
        assert_eq!(line, want);
        let line = entry(&req, &query, at, Duration::ZERO, ReadTally::default(), Some("parse error"));
        assert_eq!((line["status"].as_str(), line["error"].as_str()), (Some("error"), Some("parse error")));
    }

    #[test]
    fn passwords_never_reach_the_log() {
        assert_eq!(redacted("CREATE USER ann WITH PASSWORD 'p\\'w' WITH ALL PRIVILEGES; SELECT 1"), "CREATE USER ann WITH PASSWORD [REDACTED] WITH ALL PRIVILEGES; SELECT 1");
        assert_eq!(redacted("set password for \"a b\" = 'x'"), "set password for \"a b\" = [REDACTED]");
        assert_eq!(redacted("SET PASSWORD FOR ann='x'"), "SET PASSWORD FOR ann=[REDACTED]");
        assert_eq!(redacted("SELECT password FROM m WHERE x = 'y'"), "SELECT password FROM m WHERE x = 'y'");
    }

    #[test]
    fn lines_go_to_the_file_one_per_query() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("queries.log");
        let log = QueryLog::open(Some(&path), None).unwrap();
        let req = actix_web::test::TestRequest::get().uri("/query").to_http_request();
        let query = Query { api: "influxql", db: "db", text: "SELECT 1", params: json!({}) };
        let at = jiff::Timestamp::now();
        log.record(&req, &query, at, Duration::ZERO, ReadTally::default(), None);
        log.record(&req, &query, at, Duration::ZERO, ReadTally::default(), Some("x"));
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert_eq!((lines[0]["status"].as_str(), lines[1]["status"].as_str()), (Some("success"), Some("error")));
    }
}
