//! `gemini bench --queries`: after the load, the PromQL range queries of a Grafana dashboard over
//! what was written, each timed as the median of 3 through the server's Prometheus API
//! (`/api/v1/query_range`; VictoriaMetrics with its cache off, `nocache=1`), so Gemini,
//! Prometheus and VictoriaMetrics can be compared on the same data; and InfluxQL statements
//! over the same range through `/query`, so Gemini and InfluxDB 1.x can. Gemini's PromQL runs
//! with its range-query cache bypassed (`nocache=1`), and then once more through the cache:
//! the first call fills it, the median of three more is what a dashboard's refresh costs. Each answer must be a
//! success with at least one series; its series, points and the sum of its values are
//! printed so that the servers' answers can be seen to agree.

use super::reads::metric;
use super::workload::Workload;
use super::{Error, Server};
use std::time::{Duration, Instant};

/// The queries: a name, the PromQL, the step in seconds. Each covers the whole workload, from
/// a start on the step's grid, as Grafana asks.
pub(super) const QUERIES: [(&str, &str, i64); 4] = [
    ("count by job", r#"count by (job) ({__name__=~"node_.*"})"#, 15),
    ("cpu rate 15s", "sum by (mode) (rate(node_cpu_seconds_total[5m]))", 15),
    ("cpu rate 60s", "sum by (mode) (rate(node_cpu_seconds_total[5m]))", 60),
    ("net rate 60s", "sum(rate(node_network_receive_bytes_total[5m]))", 60),
];

/// The panels of downsampling's bench (`--long-range`), at step 1 h over the whole workload:
/// a name for the raw and the `auto` run, the PromQL. `node_memory_M00_bytes` is the
/// workload's stand-in for `node_memory_MemFree_bytes`.
pub(super) const LONG_RANGE: [(&str, &str, &str); 4] = [
    ("cpu rate 1h raw", "cpu rate 1h auto", "sum by (mode) (rate(node_cpu_seconds_total[1h]))"),
    ("max load1 1h raw", "max load1 1h auto", "max_over_time(node_load1[1h])"),
    ("avg mem 1h raw", "avg mem 1h auto", "avg_over_time(node_memory_M00_bytes[1h])"),
    ("net increase 1h raw", "net increase 1h auto", "sum(increase(node_network_receive_bytes_total[1h]))"),
];

/// The metrics `LONG_RANGE` reads: the only ones the `--long-range` workload writes.
pub(super) const LONG_RANGE_METRICS: [&str; 4] = ["node_cpu_seconds_total", "node_load1", "node_memory_M00_bytes", "node_network_receive_bytes_total"];

/// The InfluxQL statements (Gemini and InfluxDB): a name and the statement, whose `{range}`
/// becomes the workload's time range.
pub(super) const INFLUXQL: [(&str, &str); 3] = [
    ("iql mean 1m", "SELECT mean(value) FROM node_cpu_seconds_total WHERE {range} GROUP BY time(1m), mode"),
    ("iql count", "SELECT count(value) FROM node_cpu_seconds_total WHERE {range}"),
    ("iql sum 10m", "SELECT sum(value) FROM node_cpu_seconds_total WHERE {range} GROUP BY time(10m), instance"),
];

/// One query's measure: median time, series, points, and the sum of every value.
#[derive(Debug, Clone, Default)]
pub(super) struct Timed {
    pub name: &'static str,
    pub median: Duration,
    pub series: usize,
    pub points: usize,
    pub sum: f64,
    /// Gemini's PromQL through its cache: the call that fills it, and the median of three
    /// refreshes after it.
    pub cached: Option<(Duration, Duration)>,
}

/// The range query URL of `promql` on `server` at `base`.
/// The range runs from the last multiple of `step` (s) at or before `first_ms` to `last_ms`.
fn url(server: Server, base: &str, promql: &str, (first_ms, last_ms): (i64, i64), step: i64) -> String {
    let start = first_ms.div_euclid(step * 1000) * step;
    let end = last_ms as f64 / 1e3;
    let q: String = form_urlencoded::Serializer::new(String::new()).append_pair("query", promql).append_pair("start", &start.to_string()).append_pair("end", &format!("{end:.3}")).append_pair("step", &step.to_string()).finish();
    match server {
        Server::Gemini => format!("{base}/api/v1/query_range?db=prometheus&nocache=1&{q}"),
        Server::VictoriaMetrics => format!("{base}/api/v1/query_range?nocache=1&{q}"),
        Server::Prometheus | Server::Influxdb => format!("{base}/api/v1/query_range?{q}"),
    }
}

/// Series, rows and the sum of the values of an InfluxQL answer; an error unless its first
/// result has at least one series.
fn influxql_summary(statement: &str, body: &[u8]) -> Result<Summary, Error> {
    let bad = |why: String| Error::Query { promql: statement.to_string(), why };
    let answer: serde_json::Value = serde_json::from_slice(body).map_err(|e| bad(format!("not JSON: {e}")))?;
    let result = &answer["results"][0];
    if result.get("error").is_some() || answer.get("error").is_some() {
        return Err(bad(String::from_utf8_lossy(&body[..body.len().min(500)]).into_owned()));
    }
    let series = result["series"].as_array().filter(|s| !s.is_empty()).ok_or_else(|| bad("no series in the answer".into()))?;
    let (mut rows, mut sum) = (0, 0.0);
    for s in series {
        for row in s["values"].as_array().into_iter().flatten() {
            rows += 1;
            sum += row.as_array().into_iter().flatten().skip(1).filter_map(|v| v.as_f64()).sum::<f64>();
        }
    }
    Ok((series.len(), rows, sum))
}

type Summary = (usize, usize, f64);

/// Series, points and the sum of the values of a `matrix` answer; an error unless it is a
/// success with at least one series.
fn summary(promql: &str, body: &[u8]) -> Result<Summary, Error> {
    let bad = |why: String| Error::Query { promql: promql.to_string(), why };
    let answer: serde_json::Value = serde_json::from_slice(body).map_err(|e| bad(format!("not JSON: {e}")))?;
    if answer["status"] != "success" {
        return Err(bad(String::from_utf8_lossy(&body[..body.len().min(500)]).into_owned()));
    }
    let result = answer["data"]["result"].as_array().ok_or_else(|| bad("no data.result".into()))?;
    if result.is_empty() {
        return Err(bad("no series in the answer".into()));
    }
    let mut points = 0;
    let mut sum = 0.0;
    for series in result {
        for point in series["values"].as_array().into_iter().flatten() {
            points += 1;
            sum += point[1].as_str().and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        }
    }
    Ok((result.len(), points, sum))
}

/// One call of `url`: its time and the summary of its answer.
async fn once(client: &awc::Client, url: &str, text: &str, summarize: fn(&str, &[u8]) -> Result<Summary, Error>) -> Result<(Duration, Summary), Error> {
    const WHAT: &str = "query failed";
    let t = Instant::now();
    let mut resp = client.get(url).send().await.map_err(|source| Error::Send { what: WHAT, source })?;
    let body = resp.body().limit(1 << 30).await.map_err(|source| Error::Body { what: WHAT, source })?;
    let took = t.elapsed();
    Ok((took, summarize(text, &body)?))
}

/// The median of three calls of `url`, and the summary of the last answer.
async fn timed(client: &awc::Client, url: &str, text: &str, summarize: fn(&str, &[u8]) -> Result<Summary, Error>) -> Result<(Duration, Summary), Error> {
    let mut times = Vec::new();
    let mut seen = (0, 0, 0.0);
    for _ in 0..3 {
        let (took, summary) = once(client, url, text, summarize).await?;
        times.push(took);
        seen = summary;
    }
    times.sort();
    Ok((times[1], seen))
}

/// Runs every query of `QUERIES` (not on InfluxDB) and of `INFLUXQL` (on Gemini and InfluxDB)
/// three times against `base` and takes the median of each.
pub(super) async fn run(client: &awc::Client, server: Server, base: &str, workload: &Workload, long_range: bool) -> Result<Vec<Timed>, Error> {
    if server == Server::VictoriaMetrics {
        // Makes what was just written searchable at once.
        client.get(format!("{base}/internal/force_flush")).send().await.map_err(|source| Error::Send { what: "flush failed", source })?;
    }
    let (first, last) = workload.time_span_ms();
    if long_range {
        return long_range_panels(client, server, base, (first, last)).await;
    }
    let mut out = Vec::new();
    for (name, promql, step) in QUERIES.into_iter().filter(|_| server != Server::Influxdb) {
        let url = url(server, base, promql, (first, last), step);
        let (median, seen) = timed(client, &url, promql, summary).await?;
        let cached = match server {
            Server::Gemini => {
                let through_cache = url.replace("&nocache=1", "");
                let (fill, filled) = once(client, &through_cache, promql, summary).await?;
                let (refresh, again) = timed(client, &through_cache, promql, summary).await?;
                if filled != seen || again != seen {
                    return Err(Error::Query { promql: promql.to_string(), why: format!("through the cache {filled:?} then {again:?}, without it {seen:?}") });
                }
                Some((fill, refresh))
            }
            _ => None,
        };
        out.push(Timed { name, median, series: seen.0, points: seen.1, sum: seen.2, cached });
    }
    for (name, statement) in INFLUXQL.into_iter().filter(|_| matches!(server, Server::Gemini | Server::Influxdb)) {
        let statement = statement.replace("{range}", &format!("time >= {}ms AND time <= {}ms", first, last));
        let q: String = form_urlencoded::Serializer::new(String::new()).append_pair("db", "prometheus").append_pair("q", &statement).finish();
        let (median, seen) = timed(client, &format!("{base}/query?{q}"), &statement, influxql_summary).await?;
        out.push(Timed { name, median, series: seen.0, points: seen.1, sum: seen.2, cached: None });
    }
    Ok(out)
}

/// `LONG_RANGE` timed (median of 3): on Gemini, once downsampling has caught up, with
/// `max_source_resolution=raw` and then `auto`; elsewhere once.
async fn long_range_panels(client: &awc::Client, server: Server, base: &str, span: (i64, i64)) -> Result<Vec<Timed>, Error> {
    if server == Server::Gemini {
        let t = Instant::now();
        downsampled(client, base).await?;
        eprintln!("downsampling caught up {:.1} s after the load", t.elapsed().as_secs_f64());
    }
    let mut out = Vec::new();
    for (raw_name, auto_name, promql) in LONG_RANGE {
        let url = url(server, base, promql, span, 3600);
        let runs: &[(&'static str, &str)] = match server {
            Server::Gemini => &[(raw_name, "&max_source_resolution=raw"), (auto_name, "&max_source_resolution=auto")],
            _ => &[(auto_name, "")],
        };
        for (name, resolution) in runs {
            let (median, seen) = timed(client, &format!("{url}{resolution}"), promql, summary).await?;
            out.push(Timed { name, median, series: seen.0, points: seen.1, sum: seen.2, cached: None });
        }
    }
    Ok(out)
}

/// Waits until Gemini reports no partition left to downsample and its count of windows
/// written stays the same over a shard's look (10 s): every partition's tier is written.
async fn downsampled(client: &awc::Client, base: &str) -> Result<(), Error> {
    let mut last = -1.0;
    for _ in 0..360 {
        let pending = metric(client, base, "gemini_downsample_pending_partitions").await?;
        let written = metric(client, base, "gemini_downsample_samples_total{tier=\"5m\"}").await?;
        if pending == 0.0 && written > 0.0 && written == last {
            return Ok(());
        }
        last = written;
        actix_web::rt::time::sleep(Duration::from_secs(11)).await;
    }
    Err(Error::Query { promql: "downsampling".into(), why: "not caught up within an hour".into() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_is_summed_and_an_empty_or_failed_one_refused() {
        let ok = br#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"1.5"],[2,"2"]]},{"metric":{"a":"b"},"values":[[1,"-1"]]}]}}"#;
        let (series, points, sum) = summary("q", ok).unwrap();
        assert_eq!((series, points, sum), (2, 3, 2.5));
        let empty = br#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#;
        assert_eq!(summary("q", empty).unwrap_err().to_string(), "range query q: no series in the answer");
        let failed = br#"{"status":"error","errorType":"bad_data","error":"parse error"}"#;
        assert!(summary("q", failed).unwrap_err().to_string().contains("parse error"));
    }

    #[test]
    fn an_influxql_answer_is_summed_and_an_empty_or_failed_one_refused() {
        let ok = br#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","mean"],"values":[["2023-11-14T22:13:20Z",1.5],["2023-11-14T22:14:20Z",null]]},{"name":"m","tags":{"mode":"idle"},"columns":["time","mean"],"values":[["2023-11-14T22:13:20Z",2]]}]}]}"#;
        assert_eq!(influxql_summary("s", ok).unwrap(), (2, 3, 3.5));
        let empty = br#"{"results":[{"statement_id":0}]}"#;
        assert!(influxql_summary("s", empty).unwrap_err().to_string().contains("no series"));
        let failed = br#"{"results":[{"statement_id":0,"error":"database not found: prometheus"}]}"#;
        assert!(influxql_summary("s", failed).unwrap_err().to_string().contains("database not found"));
    }
}
