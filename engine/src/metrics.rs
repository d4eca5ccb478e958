//! The server's own metrics, rendered in the Prometheus text format at `/metrics`.
//! Counters are atomics updated on the hot path; per-path request counts and latency
//! histograms sit behind a mutex touched once per request.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

const BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        for (i, le) in BUCKETS.iter().enumerate() {
            if seconds <= *le {
                self.counts[i] += 1;
            }
        }
        self.count += 1;
        self.sum += seconds;
    }
}

/// Writes histogram `name`, one per value of label `label`.
fn render_histograms(o: &mut String, name: &str, help: &str, label: &str, histograms: &BTreeMap<String, Histogram>) {
    let _ = write!(o, "# HELP {name} {help}\n# TYPE {name} histogram\n");
    for (value, h) in histograms {
        for (i, le) in BUCKETS.iter().enumerate() {
            let _ = writeln!(o, "{name}_bucket{{{label}={value:?},le=\"{le}\"}} {}", h.counts[i]);
        }
        let _ = writeln!(o, "{name}_bucket{{{label}={value:?},le=\"+Inf\"}} {}", h.count);
        let _ = writeln!(o, "{name}_sum{{{label}={value:?}}} {}", h.sum);
        let _ = writeln!(o, "{name}_count{{{label}={value:?}}} {}", h.count);
    }
}

#[derive(Default)]
pub struct Metrics {
    pub samples_ingested: AtomicU64,
    pub samples_duplicate: AtomicU64,
    pub samples_rejected: AtomicU64,
    pub series_created: AtomicU64,
    pub active_series: AtomicI64,
    pub metadata_ingested: AtomicU64,
    pub retention_partitions_dropped: AtomicU64,
    pub retention_series_dropped: AtomicU64,
    /// Samples re-encoded from full chunks into sealed blocks, and the time it took.
    pub sealed_samples: AtomicU64,
    pub seal_nanos: AtomicU64,
    /// Sealing passes that reached the end of a shard's chunks.
    pub seal_passes: AtomicU64,
    /// Partitions ended long enough ago (`--downsample.delay`) whose 5-minute or 1-hour tier
    /// is not written yet, summed over the shards; the windows written to each tier, and the
    /// time it took.
    pub downsample_pending: AtomicI64,
    pub downsample_windows_5m: AtomicU64,
    pub downsample_windows_1h: AtomicU64,
    pub downsample_nanos: AtomicU64,
    /// Range queries answered with a cached part (`http::query_cache`), and cacheable ones
    /// that found nothing to use.
    pub query_cache_hits: AtomicU64,
    pub query_cache_misses: AtomicU64,
    /// Reads of PromQL range queries and InfluxQL `SELECT`s answered from each downsampled
    /// tier (`Tier::ALL` order).
    pub tier_reads: [AtomicU64; 2],
    /// Samples of new series refused by each series limit (`SeriesLimit::ALL` order).
    pub series_limit_rejected: [AtomicU64; 3],
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    durations: Mutex<BTreeMap<String, Histogram>>,
    /// Query durations by API: `query`, `query_range` (PromQL), `influxql`.
    queries: Mutex<BTreeMap<String, Histogram>>,
}

impl Metrics {
    pub fn observe_request(&self, path: &str, status: u16, seconds: f64) {
        *self.requests.lock().unwrap().entry((path.to_string(), status)).or_default() += 1;
        self.durations.lock().unwrap().entry(path.to_string()).or_default().observe(seconds);
    }

    /// A query of `api` took `seconds`.
    pub fn observe_query(&self, api: &str, seconds: f64) {
        self.queries.lock().unwrap().entry(api.to_string()).or_default().observe(seconds);
    }

    pub fn render(&self, storage_bytes: u64) -> String {
        let mut o = String::new();
        let counter = |o: &mut String, name: &str, help: &str, v: u64| {
            let _ = write!(o, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}\n");
        };
        counter(&mut o, "gemini_samples_ingested_total", "Samples accepted and stored.", self.samples_ingested.load(Relaxed));
        counter(&mut o, "gemini_samples_duplicate_total", "Exact duplicate samples accepted without storing twice.", self.samples_duplicate.load(Relaxed));
        counter(&mut o, "gemini_samples_rejected_total", "Samples refused as out of order or conflicting.", self.samples_rejected.load(Relaxed));
        counter(&mut o, "gemini_series_created_total", "Series created.", self.series_created.load(Relaxed));
        counter(&mut o, "gemini_metadata_ingested_total", "Metric metadata entries received.", self.metadata_ingested.load(Relaxed));
        counter(&mut o, "gemini_retention_partitions_dropped_total", "Time partitions dropped by retention, per shard.", self.retention_partitions_dropped.load(Relaxed));
        counter(&mut o, "gemini_retention_series_dropped_total", "Series dropped by retention: nothing of them was newer than their policy's duration.", self.retention_series_dropped.load(Relaxed));
        counter(&mut o, "gemini_storage_sealed_samples_total", "Samples re-encoded from full chunks into dense sealed blocks.", self.sealed_samples.load(Relaxed));
        counter(&mut o, "gemini_storage_seal_passes_total", "Sealing passes that reached the end of a shard's chunks (one per shard after each start).", self.seal_passes.load(Relaxed));
        counter(&mut o, "gemini_query_cache_hits_total", "PromQL range queries answered partly or wholly from the range-query cache.", self.query_cache_hits.load(Relaxed));
        counter(&mut o, "gemini_query_cache_misses_total", "Cacheable PromQL range queries that found nothing in the range-query cache.", self.query_cache_misses.load(Relaxed));
        let _ = writeln!(o, "# HELP gemini_query_tier_reads_total Selector reads of PromQL range queries and InfluxQL SELECTs answered from a downsampled tier.\n# TYPE gemini_query_tier_reads_total counter");
        for tier in crate::encoding::rollup::Tier::ALL {
            let _ = writeln!(o, "gemini_query_tier_reads_total{{tier=\"{}\"}} {}", tier.name(), self.tier_reads[tier as usize].load(Relaxed));
        }
        let _ = writeln!(o, "# HELP gemini_series_limit_rejected_samples_total Samples of new series refused by a series limit (--storage.max-*-series).\n# TYPE gemini_series_limit_rejected_samples_total counter");
        for limit in crate::data::write::SeriesLimit::ALL {
            let _ = writeln!(o, "gemini_series_limit_rejected_samples_total{{limit=\"{}\"}} {}", limit.name(), self.series_limit_rejected[limit as usize].load(Relaxed));
        }
        let _ = write!(o, "# HELP gemini_storage_seal_seconds_total Time the shards spent sealing.\n# TYPE gemini_storage_seal_seconds_total counter\ngemini_storage_seal_seconds_total {}\n", self.seal_nanos.load(Relaxed) as f64 / 1e9);
        let _ = write!(o, "# HELP gemini_downsample_pending_partitions Partitions old enough to downsample whose downsampled tiers are not written yet.\n# TYPE gemini_downsample_pending_partitions gauge\ngemini_downsample_pending_partitions {}\n", self.downsample_pending.load(Relaxed));
        let _ = write!(o, "# HELP gemini_downsample_samples_total Aggregated samples (one per series and window) written to the downsampled tiers.\n# TYPE gemini_downsample_samples_total counter\ngemini_downsample_samples_total{{tier=\"5m\"}} {}\ngemini_downsample_samples_total{{tier=\"1h\"}} {}\n", self.downsample_windows_5m.load(Relaxed), self.downsample_windows_1h.load(Relaxed));
        let _ = write!(o, "# HELP gemini_downsample_seconds_total Time the shards spent downsampling.\n# TYPE gemini_downsample_seconds_total counter\ngemini_downsample_seconds_total {}\n", self.downsample_nanos.load(Relaxed) as f64 / 1e9);
        let _ = write!(o, "# HELP gemini_active_series Series held in storage.\n# TYPE gemini_active_series gauge\ngemini_active_series {}\n", self.active_series.load(Relaxed));
        let _ = write!(o, "# HELP gemini_storage_bytes Bytes of the data directory on disk.\n# TYPE gemini_storage_bytes gauge\ngemini_storage_bytes {storage_bytes}\n");
        o.push_str("# HELP gemini_http_requests_total HTTP requests by path and status code.\n# TYPE gemini_http_requests_total counter\n");
        for ((path, code), n) in self.requests.lock().unwrap().iter() {
            let _ = writeln!(o, "gemini_http_requests_total{{path={path:?},code=\"{code}\"}} {n}");
        }
        render_histograms(&mut o, "gemini_http_request_duration_seconds", "HTTP request latency.", "path", &self.durations.lock().unwrap());
        render_histograms(&mut o, "gemini_query_duration_seconds", "PromQL and InfluxQL query latency by API (query, query_range, influxql).", "api", &self.queries.lock().unwrap());
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counts_and_buckets() {
        let m = Metrics::default();
        m.samples_ingested.fetch_add(7, Relaxed);
        m.observe_request("/api/v1/write", 204, 0.003);
        m.observe_request("/api/v1/write", 400, 2.0);
        let text = m.render(123);
        assert!(text.contains("gemini_samples_ingested_total 7\n"));
        assert!(text.contains("gemini_http_requests_total{path=\"/api/v1/write\",code=\"204\"} 1\n"));
        assert!(text.contains("gemini_http_request_duration_seconds_bucket{path=\"/api/v1/write\",le=\"0.005\"} 1\n"));
        assert!(text.contains("gemini_http_request_duration_seconds_count{path=\"/api/v1/write\"} 2\n"));
        assert!(text.contains("gemini_storage_bytes 123\n"));
        m.observe_query("query_range", 0.02);
        let text = m.render(0);
        assert!(text.contains("# TYPE gemini_query_duration_seconds histogram\n"), "{text}");
        assert!(text.contains("gemini_query_duration_seconds_bucket{api=\"query_range\",le=\"0.01\"} 0\ngemini_query_duration_seconds_bucket{api=\"query_range\",le=\"0.025\"} 1\n"), "{text}");
        assert!(text.contains("gemini_query_duration_seconds_count{api=\"query_range\"} 1\n"), "{text}");
    }

    #[test]
    fn renders_the_downsampling_figures() {
        let m = Metrics::default();
        m.downsample_pending.fetch_add(3, Relaxed);
        m.downsample_windows_5m.fetch_add(288, Relaxed);
        m.downsample_windows_1h.fetch_add(24, Relaxed);
        m.downsample_nanos.fetch_add(1_500_000_000, Relaxed);
        let text = m.render(0);
        assert!(text.contains("# TYPE gemini_downsample_pending_partitions gauge\ngemini_downsample_pending_partitions 3\n"), "{text}");
        assert!(text.contains("gemini_downsample_samples_total{tier=\"5m\"} 288\n"), "{text}");
        assert!(text.contains("gemini_downsample_samples_total{tier=\"1h\"} 24\n"), "{text}");
        assert!(text.contains("gemini_downsample_seconds_total 1.5\n"), "{text}");
    }
}
